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
