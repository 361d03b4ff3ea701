/* fd helpers: whole reads and writes, files relative to a dirfd, atomic replace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "fd.h"
#include "util.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);

	for (;;) {
		ssize_t r;

		if (cap - n < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int fd_write_at(int dfd, const char *name, const char *val, struct husk_err **err)
{
	cleanup_close int fd = openat(dfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
	int r;

	if (fd < 0)
		return husk_err_set(err, errno, "open `%s`", name);
	r = write_all(fd, val, strlen(val));
	if (r < 0)
		return husk_err_set(err, -r, "write `%s`", name);
	return 0;
}

ssize_t fd_send(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t fd_recv(int sock, void *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

/* Writes into /proc change the kernel (sysctl, oom_score_adj): the file must be procfs's own,
 * not a file or a bind mount that a container rootfs put at that path (the 2025 runc mount-race
 * class). The lookup starts from a procfs root, may not cross a mount or follow a magic link,
 * and the opened file is checked to be on procfs before anything is written. */
int proc_write(const char *rel, const char *val, struct husk_err **err)
{
	struct open_how how = { .flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS };
	cleanup_close int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct statfs sf;
	int r;

	if (proc < 0)
		return husk_err_set(err, errno, "open `/proc`");
	if (fstatfs(proc, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return husk_err_msg(err, EXDEV, "`/proc` is not a procfs mount");
	fd = (int)syscall(SYS_openat2, proc, rel, &how, sizeof(how));
	if (fd < 0)
		return husk_err_set(err, errno, "open `/proc/%s`", rel);
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return husk_err_msg(err, EXDEV, "`/proc/%s` is not a procfs file", rel);
	r = write_all(fd, val, strlen(val));
	if (r < 0)
		return husk_err_set(err, -r, "write `/proc/%s`", rel);
	return 0;
}

int fd_read_at(int dfd, const char *name, char **out, size_t *len, struct husk_err **err)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return husk_err_set(err, errno, "open `%s`", name);
	r = read_all(fd, out, len);
	if (r < 0)
		return husk_err_set(err, -r, "read `%s`", name);
	return 0;
}

int fd_write_atomic(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
		    struct husk_err **err)
{
	cleanup_free char *tmp = xasprintf(".%s.%d.tmp", name, (int)getpid());
	int fd, r;

	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return husk_err_set(err, errno, "create `%s`", tmp);
	/* No fsync: runtime state lives on tmpfs and means nothing after a reboot; the rename
	 * alone guarantees a reader never sees a half-written file. */
	r = write_all(fd, buf, len);
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return husk_err_set(err, -r, "write `%s`", name);
	}
	return 0;
}

static int is_kept(int fd, const int *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return 1;
	return 0;
}

void fd_close_from(int from, const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d) {
		/* No /proc: close_range over the gaps between kept fds. */
		for (int fd = from; fd < 65536; fd++)
			if (!is_kept(fd, keep, nkeep))
				close(fd);
		return;
	}
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd < from || fd == dirfd(d))
			continue;
		if (!is_kept(fd, keep, nkeep))
			close(fd);
	}
	closedir(d);
}

int fd_set_cloexec(int fd, int set)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = set ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}
