/* /dev inside the container: the default devices, linux.devices (mknod, or a bind of the host
 * node in a user namespace), /dev/ptmx and the /proc/self/fd links (config-linux.md#devices,
 * #default-devices, #dev-symbolic-links). Every path is resolved inside the root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

/* config-linux.md#default-devices */
static const struct oci_device default_devices[] = {
	{ .path = "/dev/null", .type = 'c', .major = 1, .minor = 3 },
	{ .path = "/dev/zero", .type = 'c', .major = 1, .minor = 5 },
	{ .path = "/dev/full", .type = 'c', .major = 1, .minor = 7 },
	{ .path = "/dev/random", .type = 'c', .major = 1, .minor = 8 },
	{ .path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9 },
	{ .path = "/dev/tty", .type = 'c', .major = 5, .minor = 0 },
};

/* config-linux.md#dev-symbolic-links; /dev/core only when the kernel has /proc/kcore. */
static const struct {
	const char *name, *target;
	bool needs_kcore;
} dev_links[] = {
	{ "fd", "/proc/self/fd", false },	  { "stdin", "/proc/self/fd/0", false },
	{ "stdout", "/proc/self/fd/1", false }, { "stderr", "/proc/self/fd/2", false },
	{ "core", "/proc/kcore", true },
};

static mode_t device_type(char t)
{
	switch (t) {
	case 'b':
		return S_IFBLK;
	case 'p':
		return S_IFIFO;
	default:	/* 'c' and 'u' (unbuffered character device) */
		return S_IFCHR;
	}
}

/* The host's node at the same path, bound onto an empty file: a user namespace may not mknod
 * (runc does the same). The bind carries the host node's owner and mode. */
static int bind_device(int rootfd, const struct oci_device *d, struct husk_err **err)
{
	cleanup_close int fd = rootfs_mkfile_in_root(rootfd, d->path, 0000, err);
	char p[FD_PATH_MAX];

	if (fd < 0)
		return fd;
	if (mount(d->path, fd_path(fd, p), NULL, MS_BIND, NULL) < 0)
		return husk_err_set(err, errno, "bind host device `%s`", d->path);
	return 0;
}

static int mknod_device(int dfd, const char *base, const struct oci_device *d)
{
	mode_t perm = d->file_mode.set ? (mode_t)d->file_mode.v & 07777 : 0666;
	dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
	mode_t old = umask(0);	/* fileMode is exact, not masked (init is single-threaded) */
	int r = mknodat(dfd, base, device_type(d->type) | perm, d->type == 'p' ? 0 : dev);

	/* The configured node wins over whatever the rootfs shipped at that path. */
	if (r < 0 && errno == EEXIST && unlinkat(dfd, base, 0) == 0)
		r = mknodat(dfd, base, device_type(d->type) | perm, d->type == 'p' ? 0 : dev);
	r = r < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && fchownat(dfd, base, d->uid.set ? (uid_t)d->uid.v : 0,
			       d->gid.set ? (gid_t)d->gid.v : 0, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	return r;
}

static int create_device(const struct rootfs_opts *o, int rootfd, const struct oci_device *d,
			 struct husk_err **err)
{
	cleanup_close int dfd = -1;
	const char *base;
	int r;

	if (o->in_userns)
		return bind_device(rootfd, d, err);
	dfd = resolve_parent(rootfd, d->path, &base, err);
	if (dfd < 0)
		return dfd;
	r = mknod_device(dfd, base, d);
	if (r == -EPERM) {
		unlinkat(dfd, base, 0);
		return bind_device(rootfd, d, err);
	}
	if (r < 0)
		return husk_err_set(err, -r, "mknod `%s`", d->path);
	return 0;
}

static bool configured(const struct oci_config *cfg, const char *path)
{
	for (size_t i = 0; i < cfg->linux.n_devices; i++)
		if (streq(cfg->linux.devices[i].path, path))
			return true;
	return false;
}

static int create_devices(const struct rootfs_opts *o, int rootfd, struct husk_err **err)
{
	const struct oci_linux *l = &o->cfg->linux;

	for (size_t i = 0; i < l->n_devices; i++)
		if (create_device(o, rootfd, &l->devices[i], err) < 0)
			return husk_err_wrap(err, "linux.devices[%zu] (%s)", i,
					     l->devices[i].path);
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		const struct oci_device *d = &default_devices[i];

		if (configured(o->cfg, d->path))
			continue;
		if (create_device(o, rootfd, d, err) < 0)
			return husk_err_wrap(err, "default device %s", d->path);
	}
	return 0;
}

/* /dev/ptmx must be the container's own devpts instance's (devpts.rst: ptmx is
 * "pts/ptmx" with newinstance), not a node pointing at the host's. */
static int setup_ptmx(int devfd, struct husk_err **err)
{
	if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
		return husk_err_set(err, errno, "remove `/dev/ptmx`");
	if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
		return husk_err_set(err, errno, "symlink `/dev/ptmx`");
	return 0;
}

static int setup_links(int devfd, struct husk_err **err)
{
	bool kcore = access("/proc/kcore", F_OK) == 0;

	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++) {
		if (dev_links[i].needs_kcore && !kcore)
			continue;
		if (symlinkat(dev_links[i].target, devfd, dev_links[i].name) < 0 &&
		    errno != EEXIST)
			return husk_err_set(err, errno, "symlink `/dev/%s`", dev_links[i].name);
	}
	return 0;
}

int rootfs_setup_dev(const struct rootfs_opts *o, int rootfd, struct husk_err **err)
{
	cleanup_close int devfd = -1;
	int r;

	r = create_devices(o, rootfd, err);
	if (r < 0)
		return r;
	devfd = rootfs_mkdir_in_root(rootfd, "/dev", 0755, err);
	if (devfd < 0)
		return devfd;
	r = setup_ptmx(devfd, err);
	if (r < 0)
		return r;
	return setup_links(devfd, err);
}
