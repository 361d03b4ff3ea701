/* The create ↔ init message pair: fixed-size, versioned records on a SOCK_SEQPACKET socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/util.h"
#include "sync.h"

int sync_send(int fd, enum sync_type type, int errnum, const char *msg)
{
	struct sync_msg m = { .version = SYNC_VERSION, .type = type, .err = errnum };

	if (msg)
		snprintf(m.msg, sizeof(m.msg), "%s", msg);
	while (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int sync_send_fd(int fd, enum sync_type type, int passfd)
{
	struct sync_msg m = { .version = SYNC_VERSION, .type = type };
	ssize_t n = fd_send(fd, &m, sizeof(m), passfd);

	return n < 0 ? (int)n : 0;	/* SOCK_SEQPACKET: all or nothing */
}

int sync_recv_fd(int fd, struct sync_msg *m, int *passfd)
{
	int got;
	ssize_t n = fd_recv(fd, m, sizeof(*m), &got);

	if (passfd)
		*passfd = got;
	else if (got >= 0)
		close(got);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n != sizeof(*m) || m->version != SYNC_VERSION)
		return -EPROTO;
	m->msg[sizeof(m->msg) - 1] = '\0';
	return 0;
}

int sync_recv(int fd, struct sync_msg *m)
{
	return sync_recv_fd(fd, m, NULL);
}

void sync_send_err(int fd, const struct husk_err *err)
{
	sync_send(fd, SYNC_ERROR, err ? err->code : EINVAL, err ? err->msg : "unknown error");
}

int sync_seccomp_handoff(void *arg, int notify_fd, struct husk_err **err)
{
	int fd = *(int *)arg;
	struct sync_msg m;
	int r;

	r = sync_send_fd(fd, SYNC_SECCOMP_FD, notify_fd);
	if (r < 0)
		return husk_err_set(err, -r, "linux.seccomp: hand the notify fd to the runtime");
	r = sync_recv(fd, &m);
	if (r < 0)
		return husk_err_set(err, -r, "linux.seccomp: wait for the listener");
	if (m.type == SYNC_ERROR)
		return husk_err_msg(err, m.err > 0 ? m.err : EINVAL, "%s", m.msg);
	if (m.type != SYNC_SECCOMP_DONE)
		return husk_err_msg(err, EPROTO, "linux.seccomp: unexpected message %u", m.type);
	return 0;
}
