/* The create ↔ init message pair: fixed-size, versioned records on a SOCK_SEQPACKET socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

int sync_recv(int fd, struct sync_msg *m)
{
	ssize_t n;

	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n != sizeof(*m) || m->version != SYNC_VERSION)
		return -EPROTO;
	m->msg[sizeof(m->msg) - 1] = '\0';
	return 0;
}

void sync_send_err(int fd, const struct husk_err *err)
{
	sync_send(fd, SYNC_ERROR, err ? err->code : EINVAL, err ? err->msg : "unknown error");
}

int sync_send_blob(int fd, const char *buf, size_t len)
{
	while (send(fd, buf, len, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int sync_recv_blob(int fd, char **buf, size_t *len)
{
	ssize_t n;

	/* MSG_PEEK|MSG_TRUNC tells the size of the next record without consuming it. */
	do
		n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*buf = xmalloc((size_t)n + 1);
	do
		n = recv(fd, *buf, (size_t)n, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		free(*buf);
		*buf = NULL;
		return -errno;
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}
