/* The "tmpcopyup" mount option (runc, crun): a tmpfs that starts with a copy of what the image
 * had at its destination. Built as a detached mount (fsopen/fsmount), filled, then attached,
 * so the destination is never seen empty and nothing on the host is touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "rootfs/internal.h"

static int copy_tree(int src, int dst, int depth);

static int copy_file(int src, int dst, const char *name, const struct stat *st)
{
	cleanup_close int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return -errno;
	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     st->st_mode & 07777);
	if (out < 0)
		return -errno;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			return -errno;
	return n < 0 ? -errno : 0;
}

/* One directory entry; symlinks are copied as links, never followed. */
static int copy_entry(int src, int dst, const char *name, int depth)
{
	struct stat st;
	int r;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int s = -1, d = -1;

		if (mkdirat(dst, name, st.st_mode & 07777) < 0)
			return -errno;
		s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = (s < 0 || d < 0) ? -errno : copy_tree(s, d, depth + 1);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		r = symlinkat(target, dst, name) < 0 ? -errno : 0;
	} else if (S_ISREG(st.st_mode)) {
		r = copy_file(src, dst, name, &st);
	} else {
		r = mknodat(dst, name, st.st_mode, st.st_rdev) < 0 ? -errno : 0;
	}
	if (r == 0 && fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == 0 && !S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0)
		r = -errno;
	return r;
}

static int copy_tree(int src, int dst, int depth)
{
	int dup_fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 64)
		return -ELOOP;
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			r = copy_entry(src, dst, de->d_name, depth);
	closedir(d);
	return r;
}

/* tmpfs options from the data string: "size=64m" as key/value, "noswap" as a flag. */
static int configure(int fsfd, const char *data)
{
	cleanup_free char *copy = data ? xstrdup(data) : NULL;
	char *save = NULL, *t;

	for (t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		long r;

		if (eq) {
			*eq = '\0';
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, t, eq + 1, 0);
		} else {
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, t, NULL, 0);
		}
		if (r < 0)
			return -errno;
	}
	return syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ? -errno : 0;
}

static const struct {
	unsigned long ms;
	uint64_t attr;
} ms_to_attr[] = {
	{ MS_RDONLY, MOUNT_ATTR_RDONLY },   { MS_NOSUID, MOUNT_ATTR_NOSUID },
	{ MS_NODEV, MOUNT_ATTR_NODEV },	    { MS_NOEXEC, MOUNT_ATTR_NOEXEC },
	{ MS_NOATIME, MOUNT_ATTR_NOATIME }, { MS_STRICTATIME, MOUNT_ATTR_STRICTATIME },
	{ MS_NODIRATIME, MOUNT_ATTR_NODIRATIME },
};

static int set_attrs(int mfd, const struct rootfs_mount_flags *mf)
{
	struct mount_attr attr = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(ms_to_attr); i++)
		if (mf->flags & ms_to_attr[i].ms)
			attr.attr_set |= ms_to_attr[i].attr;
	if (attr.attr_set & MOUNT_ATTR__ATIME)
		attr.attr_clr |= MOUNT_ATTR__ATIME;
	if (!attr.attr_set)
		return 0;
	return syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ? -errno
											: 0;
}

int rootfs_mount_tmpcopyup(int rootfd, const struct oci_mount *m,
			   const struct rootfs_mount_flags *mf, struct husk_err **err)
{
	cleanup_close int dfd = rootfs_mkdir_in_root(rootfd, m->destination, 0755, err);
	cleanup_close int src = -1, fsfd = -1, mfd = -1;
	int r;

	if (dfd < 0)
		return dfd;
	fsfd = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return husk_err_set(err, errno, "fsopen tmpfs");
	r = configure(fsfd, mf->data);
	if (r < 0)
		return husk_err_set(err, -r, "configure tmpfs `%s`", mf->data ? mf->data : "");
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return husk_err_set(err, errno, "fsmount tmpfs");
	src = resolve_open(rootfd, m->destination, O_RDONLY | O_DIRECTORY, 0);
	if (src < 0)
		return husk_err_set(err, -src, "open `%s`", m->destination);
	r = copy_tree(src, mfd, 0);
	if (r < 0)
		return husk_err_set(err, -r, "tmpcopyup: copy `%s`", m->destination);
	/* Flags go on last: a read-only tmpfs could not have been filled. */
	r = set_attrs(mfd, mf);
	if (r < 0)
		return husk_err_set(err, -r, "set tmpfs mount flags");
	if (syscall(SYS_move_mount, mfd, "", dfd, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return husk_err_set(err, errno, "attach tmpfs");
	return 0;
}
