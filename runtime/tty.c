/* Terminals: the init allocates a pty in the container's devpts and hands the master to
 * whoever listens on --console-socket, with SCM_RIGHTS, as runc does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "process.h"

int tty_recv_fd(int sock, struct husk_err **err)
{
	char name[256];
	int fd;
	ssize_t n = fd_recv(sock, name, sizeof(name), &fd);

	if (n < 0)
		return husk_err_set(err, (int)-n, "receive terminal");
	if (fd < 0)
		return husk_err_msg(err, EPROTO, "receive terminal: no fd in message");
	return fd;
}

int tty_setup_console(int console_fd, const struct oci_process *p, struct husk_err **err)
{
	cleanup_close int master = -1;
	char name[128];
	int slave, unlock = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return husk_err_set(err, errno, "process.terminal: open /dev/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return husk_err_set(err, errno, "process.terminal: unlock pty");
	if (ioctl(master, TIOCGPTN, &unlock) < 0)
		return husk_err_set(err, errno, "process.terminal: pty number");
	snprintf(name, sizeof(name), "/dev/pts/%d", unlock);
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return husk_err_set(err, errno, "process.terminal: open %s", name);
	if (p->has_console_size) {
		struct winsize ws = { .ws_row = (unsigned short)p->console_height,
				      .ws_col = (unsigned short)p->console_width };

		ioctl(slave, TIOCSWINSZ, &ws);
	} else {
		struct winsize ws;

		/* Our stdin is still the caller's: when it is a terminal (husk run or exec -t in
		 * the foreground), the program starts with its size, not 0x0. */
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
			ioctl(slave, TIOCSWINSZ, &ws);
	}
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(slave, fd) < 0) {
			close(slave);
			return husk_err_set(err, errno, "process.terminal: dup2");
		}
	}
	if (slave > 2)
		close(slave);
	/* setsid() was called earlier: this becomes the session's controlling terminal. */
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return husk_err_set(err, errno, "process.terminal: set controlling terminal");
	if (fd_send(console_fd, name, strlen(name), master) < 0)
		return husk_err_set(err, errno, "--console-socket: send terminal");
	return 0;
}

int tty_make_raw(int fd, struct termios *saved)
{
	struct termios t;

	if (!isatty(fd) || tcgetattr(fd, saved) < 0)
		return -ENOTTY;
	t = *saved;
	/* Fully raw, output included: the container's own pty already turns \n into \r\n. */
	cfmakeraw(&t);
	return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}

void tty_copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

ssize_t tty_pump(int from, int to)
{
	char buf[8192];
	ssize_t n;

	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EIO ? 0 : -errno;	/* EIO: the pty's other side is gone */
	if (n > 0 && write_all(to, buf, (size_t)n) < 0)
		return -EPIPE;
	return n;
}
