/* Safe path resolution inside a container root: openat2(RESOLVE_IN_ROOT) for lookups, and
 * directory/file creation where every component is resolved inside the root. A symlink in the
 * rootfs ("/", "../../..") can never lead a lookup or a creation out to the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

const char *fd_path(int fd, char buf[FD_PATH_MAX])
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return buf;
}

int resolve_open(int rootfd, const char *path, int flags, mode_t mode)
{
	/* RESOLVE_NO_MAGICLINKS: a /proc/self/root-style link inside the root (a bind-mounted
	 * or mounted procfs) would otherwise jump anywhere. */
	struct open_how how = {
		.flags = (unsigned)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	/* openat2 returns EAGAIN under RESOLVE_IN_ROOT when a rename raced with the lookup;
	 * retrying is the documented answer. */
	for (int tries = 0; tries < 32; tries++) {
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	return -errno;
}

int rootfs_open_in_root(int rootfd, const char *path, int flags, struct husk_err **err)
{
	int fd = resolve_open(rootfd, path, flags, 0);

	if (fd < 0)
		return husk_err_set(err, -fd, "open `%s` in the container root", path);
	return fd;
}

/* Length of the next component of p (after skipping slashes; *p is advanced to it). */
static size_t next_component(const char **p)
{
	while (**p == '/')
		(*p)++;
	return strcspn(*p, "/");
}

int rootfs_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct husk_err **err)
{
	cleanup_free char *prefix = xmalloc(strlen(path) + 2);
	cleanup_close int cur = resolve_open(rootfd, "/", O_PATH | O_DIRECTORY, 0);
	const char *p = path;
	size_t plen = 0, len;

	if (cur < 0)
		return husk_err_set(err, -cur, "open the container root");
	prefix[0] = '\0';
	/* Resolve one more component at a time, always from the root, so a symlink met on the
	 * way is followed the way the container will follow it (relative to its root). The
	 * directory is created in the already-resolved parent, never through a symlink. */
	while ((len = next_component(&p)) > 0) {
		cleanup_free char *name = xstrndup(p, len);
		int fd;

		memcpy(prefix + plen, "/", 1);
		memcpy(prefix + plen + 1, p, len);
		plen += len + 1;
		prefix[plen] = '\0';
		p += len;

		fd = resolve_open(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			if (mkdirat(cur, name, mode) < 0 && errno != EEXIST)
				return husk_err_set(err, errno, "mkdir `%s` in the container root",
						    prefix);
			fd = resolve_open(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return husk_err_set(err, -fd, "open directory `%s` in the container root",
					    prefix);
		close(cur);
		cur = fd;
	}
	return TAKE_FD(cur);
}

int resolve_parent(int rootfd, const char *path, const char **base, struct husk_err **err)
{
	cleanup_free char *dir = xstrdup(path);
	char *slash;
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	slash = strrchr(dir, '/');
	*base = path + (slash ? (size_t)(slash - dir) + 1 : 0);
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	if (!**base || streq(*base, ".") || streq(*base, "..") || streq(*base, "/") ||
	    strchr(*base, '/'))
		return husk_err_msg(err, EINVAL, "`%s`: not a path to a file", path);
	/* no slash: the parent is the root (dir may be too short to hold "/") */
	return rootfs_mkdir_in_root(rootfd, slash ? dir : "/", 0755, err);
}

int rootfs_mkfile_in_root(int rootfd, const char *path, mode_t mode, struct husk_err **err)
{
	cleanup_close int dfd = -1;
	const char *base;
	int fd;

	fd = resolve_open(rootfd, path, O_PATH, 0);
	if (fd >= 0)
		return fd;
	if (fd != -ENOENT)
		return husk_err_set(err, -fd, "open `%s` in the container root", path);
	dfd = resolve_parent(rootfd, path, &base, err);
	if (dfd < 0)
		return dfd;
	/* O_EXCL|O_NOFOLLOW: if `base` is a dangling symlink, fail instead of creating its
	 * target, which might be a host path. */
	fd = openat(dfd, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, mode);
	if (fd < 0 && errno != EEXIST)
		return husk_err_set(err, errno, "create `%s` in the container root", path);
	if (fd >= 0)
		close(fd);
	fd = resolve_open(rootfd, path, O_PATH, 0);
	if (fd < 0)
		return husk_err_set(err, -fd, "open `%s` in the container root", path);
	return fd;
}
