/* Messages between `husk create` and the container's init over a SOCK_SEQPACKET pair.
 * Fixed size and versioned: both ends are the same binary, but a mismatch must not be silent. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SYNC_VERSION 2

enum sync_type {
	SYNC_GO = 1,	/* parent → init: id maps written, namespaces joined; carry on */
	SYNC_READY,	/* init → parent: everything done, waiting on exec.fifo */
	SYNC_ERROR,	/* init → parent: a step failed; err + msg say which */
	SYNC_HOOKS_REQ,	/* init → parent: mounts done; run prestart + createRuntime hooks */
	SYNC_HOOKS_DONE,	/* parent → init: done; the init runs createContainer hooks */
	SYNC_SECCOMP_FD,	/* child → parent: the seccomp notify fd rides along (SCM_RIGHTS) */
	SYNC_SECCOMP_DONE,	/* parent → child: the listener has it (or err says why not) */
};

struct sync_msg {
	uint32_t version;
	uint32_t type;
	int32_t err;	/* positive errno */
	char msg[2048];
};

int sync_send(int fd, enum sync_type type, int errnum, const char *msg);
/* Send a message with one fd attached. */
int sync_send_fd(int fd, enum sync_type type, int passfd);
/* Receive one message; -EPIPE when the other end closed without a message. */
int sync_recv(int fd, struct sync_msg *m);
/* Same, and *passfd is the fd that came with it (-1 when none; the caller owns it). */
int sync_recv_fd(int fd, struct sync_msg *m, int *passfd);
/* Send SYNC_ERROR carrying err's message (the init's way to report a failed step). */
void sync_send_err(int fd, const struct husk_err *err);

/* Child side of SCMP_ACT_NOTIFY (a struct seccomp_handoff function; arg points to the
 * child's sync fd): send the notify fd, wait until the parent gave it to the listener. */
int sync_seccomp_handoff(void *arg, int notify_fd, struct husk_err **err);
