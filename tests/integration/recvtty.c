/* recvtty: the receiving end of --console-socket for the integration tests.
 * Listens on SOCKET, takes one pty master fd over SCM_RIGHTS, checks it is a
 * tty, then copies everything read from it to stdout until the slave closes.
 * Usage: recvtty SOCKET [INPUT]   (INPUT, if given, is written to the pty) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int recv_fd(int conn)
{
	char data[256];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		die("recvmsg");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "recvtty: no SCM_RIGHTS message received\n");
		exit(1);
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[sizeof(addr.sun_path)];
	char buf[4096];
	int lfd, conn, master;
	ssize_t n;

	if (argc < 2 || strlen(argv[1]) + 5 >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: recvtty SOCKET [INPUT]\n");
		return 2;
	}
	/* bind and listen under a temporary name, then rename: once SOCKET
	 * exists, connecting to it cannot race with listen(). */
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	strcpy(addr.sun_path, tmp);
	unlink(tmp);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(lfd, 1) < 0)
		die("listen");
	if (rename(tmp, argv[1]) < 0)
		die("rename");
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		die("accept");
	master = recv_fd(conn);
	close(conn);
	close(lfd);
	if (!isatty(master)) {
		fprintf(stderr, "recvtty: received fd is not a tty\n");
		return 1;
	}
	if (argc > 2 && write(master, argv[2], strlen(argv[2])) < 0)
		die("write");
	for (;;) {
		n = read(master, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == EIO))
			break; /* every slave fd is closed: the container is gone */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		if (write(STDOUT_FILENO, buf, n) != n)
			die("write stdout");
	}
	return 0;
}
