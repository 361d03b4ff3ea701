/* After pivot_root: maskedPaths, readonlyPaths, root.readonly and the final propagation of "/"
 * (config-linux.md#masked-paths, #readonly-paths, config.md#root). "/" is now the container's
 * root, and every path is still resolved inside it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

/* A directory gets an empty read-only tmpfs, anything else /dev/null bound over it: reads see
 * nothing, writes go nowhere. */
static int mask_path(int rootfd, const char *path, struct husk_err **err)
{
	cleanup_close int fd = resolve_open(rootfd, path, O_PATH, 0);
	cleanup_close int null = -1;
	char p[FD_PATH_MAX], np[FD_PATH_MAX];
	struct stat st;

	if (fd == -ENOENT)
		return 0;	/* the spec's paths are a superset of what any kernel has */
	if (fd < 0)
		return husk_err_set(err, -fd, "open");
	if (fstat(fd, &st) < 0)
		return husk_err_set(err, errno, "stat");
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", fd_path(fd, p), "tmpfs", MS_RDONLY, "size=0,mode=0555") < 0)
			return husk_err_set(err, errno, "mount read-only tmpfs");
		return 0;
	}
	null = resolve_open(rootfd, "/dev/null", O_PATH, 0);
	if (null < 0)
		return husk_err_set(err, -null, "open the container's `/dev/null`");
	/* The rootfs owns /dev/null when /dev is not a fresh tmpfs: a symlink to a procfs file or
	 * a plain file there would turn the mask into a bind of something writable. */
	if (fstat(null, &st) < 0)
		return husk_err_set(err, errno, "stat the container's `/dev/null`");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return husk_err_msg(err, EPERM, "the container's `/dev/null` is not the null device "
				    "(char 1:3), refusing to mask with it");
	if (mount(fd_path(null, np), fd_path(fd, p), NULL, MS_BIND, NULL) < 0)
		return husk_err_set(err, errno, "bind `/dev/null`");
	return 0;
}

static int readonly_path(int rootfd, const char *path, struct husk_err **err)
{
	cleanup_close int fd = resolve_open(rootfd, path, O_PATH, 0);
	char p[FD_PATH_MAX];

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return husk_err_set(err, -fd, "open");
	/* A bind onto itself makes it a mount of its own, so the read-only flag can go on it
	 * alone; the remount keeps the flags it had (nosuid, ..., locked or not). */
	if (mount(fd_path(fd, p), fd_path(fd, p), NULL, MS_BIND | MS_REC, NULL) < 0)
		return husk_err_set(err, errno, "bind onto itself");
	return mount_bind_remount(rootfd, path, MS_RDONLY, 0, err);
}

int rootfs_finalize(const struct rootfs_opts *o, struct husk_err **err)
{
	const struct oci_linux *l = &o->cfg->linux;
	cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	unsigned long prop;

	if (rootfd < 0)
		return husk_err_set(err, errno, "open `/`");
	for (size_t i = 0; l->masked_paths && l->masked_paths[i]; i++)
		if (mask_path(rootfd, l->masked_paths[i], err) < 0)
			return husk_err_wrap(err, "maskedPaths[%zu] (%s)", i, l->masked_paths[i]);
	for (size_t i = 0; l->readonly_paths && l->readonly_paths[i]; i++)
		if (readonly_path(rootfd, l->readonly_paths[i], err) < 0)
			return husk_err_wrap(err, "readonlyPaths[%zu] (%s)", i,
					     l->readonly_paths[i]);
	/* Without a mount namespace "/" is the host's: the runtime refuses both settings before
	 * it starts (they would remount or re-propagate the host's root). */
	if (o->host_mntns)
		return 0;
	if (o->cfg->root && o->cfg->root->readonly &&
	    mount_bind_remount(rootfd, "/", MS_RDONLY, 0, err) < 0)
		return husk_err_wrap(err, "root.readonly");
	/* config-linux.md#rootfs-mount-propagation: the container's own "/" gets the asked
	 * propagation last, once nothing else will be mounted by the runtime. */
	if (l->rootfs_propagation) {
		if (rootfs_propagation_flags(l->rootfs_propagation, &prop) < 0)
			return husk_err_msg(err, EINVAL,
					    "linux.rootfsPropagation: unknown value `%s`",
					    l->rootfs_propagation);
		if (mount(NULL, "/", NULL, prop, NULL) < 0)
			return husk_err_set(err, errno, "linux.rootfsPropagation: set `%s` on `/`",
					    l->rootfs_propagation);
	}
	return 0;
}
