/* Switching the container's init into its root: pivot_root(2) and dropping the old root, or
 * with --no-pivot (a ramfs root cannot be pivoted away from) MS_MOVE plus chroot. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

static int do_pivot(const struct rootfs_opts *o, struct husk_err **err)
{
	cleanup_close int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int newroot = open(o->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (oldroot < 0)
		return husk_err_set(err, errno, "open `/`");
	if (newroot < 0)
		return husk_err_set(err, errno, "open rootfs `%s`", o->rootfs);
	if (fchdir(newroot) < 0)
		return husk_err_set(err, errno, "chdir to rootfs `%s`", o->rootfs);
	/* pivot_root(".", "."): the old root ends up stacked on the new one, no put_old
	 * directory needed in the rootfs (pivot_root(2), NOTES). */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return husk_err_set(err, errno, "pivot_root to `%s`", o->rootfs);
	/* The kernel does not promise where "." is after pivot_root; go to the old root
	 * explicitly before detaching it. */
	if (fchdir(oldroot) < 0)
		return husk_err_set(err, errno, "chdir to the old root");
	/* The old root may still be shared with the host (rootfsPropagation "shared"): make it a
	 * slave first so the unmount below stays in this namespace. */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return husk_err_set(err, errno, "make the old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return husk_err_set(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return husk_err_set(err, errno, "chdir to `/`");
	return 0;
}

/* Is `mp` the rootfs itself or below it? */
static bool under(const char *mp, const char *rootfs)
{
	size_t n = strlen(rootfs);

	while (n > 1 && rootfs[n - 1] == '/')
		n--;
	return strncmp(mp, rootfs, n) == 0 && (mp[n] == '/' || mp[n] == '\0');
}

/* Without pivot_root the host's other mounts stay in this namespace, reachable through any fd
 * that leaks; drop those outside the rootfs, as runc does. Each becomes a slave first so the
 * unmount never propagates to the host; the ones that cannot go (EINVAL: already gone with a
 * parent; EBUSY/EPERM: locked) are left, they are outside the chroot anyway. */
static void drop_host_mounts(const char *rootfs)
{
	struct mountinfo_table t = { 0 };

	if (mountinfo_load(&t, NULL) < 0)
		return;
	for (size_t i = t.n; i-- > 0;) {
		const char *mp = t.e[i].mount_point;

		if (streq(mp, "/") || under(mp, rootfs) || under(rootfs, mp))
			continue;
		if (mount(NULL, mp, NULL, MS_SLAVE | MS_REC, NULL) == 0)
			umount2(mp, MNT_DETACH);
	}
	mountinfo_free(&t);
}

static int do_move_chroot(const struct rootfs_opts *o, struct husk_err **err)
{
	if (chdir(o->rootfs) < 0)
		return husk_err_set(err, errno, "chdir to rootfs `%s`", o->rootfs);
	drop_host_mounts(o->rootfs);
	if (mount(o->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return husk_err_set(err, errno, "move rootfs `%s` onto `/`", o->rootfs);
	if (chroot(".") < 0)
		return husk_err_set(err, errno, "chroot to rootfs `%s`", o->rootfs);
	if (chdir("/") < 0)
		return husk_err_set(err, errno, "chdir to `/`");
	return 0;
}

int rootfs_pivot(const struct rootfs_opts *o, struct husk_err **err)
{
	if (o->host_mntns) {
		if (chroot(o->rootfs) < 0)
			return husk_err_set(err, errno, "chroot `%s`", o->rootfs);
		if (chdir("/") < 0)
			return husk_err_set(err, errno, "chdir `/`");
		return 0;
	}
	if (o->no_pivot)
		return do_move_chroot(o, err);
	return do_pivot(o, err);
}
