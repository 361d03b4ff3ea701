/* A seccomp notify listener for the tests (config-linux.md#seccomp, listenerPath):
 *   seccomp-listener SOCKET OUTDIR
 * accepts one connection on the unix socket SOCKET, stores the container process state it
 * receives in OUTDIR/state.json and the fds' count in OUTDIR/nfds, then answers every
 * notified syscall with success (return value 0) without performing it, logging its name
 * to OUTDIR/log, until the filter has no users left or 30 s pass. With LISTENER_DELAY_MS
 * set, it waits that long between logging a syscall and answering it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *buf, size_t len, int append)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, append ? "a" : "w");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The first chunk carries the fd; the rest of the JSON follows until EOF. */
static int receive_state(int conn, const char *dir)
{
	static char buf[1 << 16];
	union {
		char c[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c,
			     .msg_controllen = sizeof(u.c) };
	int fd = -1, nfds = 0;
	size_t len;
	ssize_t n;
	char count[16];

	n = recvmsg(conn, &mh, 0);
	if (n <= 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		}
	len = (size_t)n;
	while (len < sizeof(buf) && (n = read(conn, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	put(dir, "state.json", buf, len, 0);
	snprintf(count, sizeof(count), "%d\n", nfds);
	put(dir, "nfds", count, strlen(count), 0);
	return fd;
}

static void serve(int nfd, const char *dir)
{
	const char *delay = getenv("LISTENER_DELAY_MS");
	long ms = delay ? atol(delay) : 0;
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000L };
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;

	if (seccomp_notify_alloc(&req, &resp) != 0)
		exit(1);
	for (;;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		char *name, line[128];

		if (poll(&p, 1, 30000) <= 0 || (p.revents & (POLLHUP | POLLERR)))
			break;
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(nfd, req) != 0)
			continue;	/* the process went away meanwhile */
		name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
		snprintf(line, sizeof(line), "%s\n", name ? name : "?");
		free(name);
		put(dir, "log", line, strlen(line), 1);
		if (ms > 0)
			nanosleep(&pause, NULL);
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->val = 0;
		resp->error = 0;
		seccomp_notify_respond(nfd, resp);
	}
	seccomp_notify_free(req, resp);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, conn, nfd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: seccomp-listener SOCKET OUTDIR\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0) {
		perror("listen");
		return 1;
	}
	put(argv[2], "ready", "1\n", 2, 0);
	conn = accept(s, NULL, NULL);
	if (conn < 0) {
		perror("accept");
		return 1;
	}
	nfd = receive_state(conn, argv[2]);
	close(conn);
	if (nfd < 0) {
		fprintf(stderr, "no seccomp fd received\n");
		return 1;
	}
	serve(nfd, argv[2]);
	return 0;
}
