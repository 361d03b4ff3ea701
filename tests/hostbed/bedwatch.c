/* hostbed-bedwatch: follows the console of a running host bed and ends the bed when the bed's
 * own kernel locks up, instead of letting it spin until the bed's timeout.
 *
 * usage: hostbed-bedwatch CONSOLE PID [GRACE_S]
 *   Reads CONSOLE as it grows while process PID (the bed's qemu, or the `timeout` running it)
 *   lives. On the first soft-lockup, hard-lockup, RCU-stall, hung-task, workqueue-lockup or
 *   panic line it reads on for GRACE_S seconds (default 15: every CPU's backtrace and the
 *   panic follow within a second or two), prints the fault lines
 *   with their context on stdout, sends PID SIGTERM (SIGKILL 5 s later) and exits 3.
 *   Exits 0 when PID ends and its console holds no fault line; 2 on a usage or I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/hostbed/watch.h"

#define POLL_MS 250
#define KILL_GRACE_MS 5000
#define EXIT_BED_FAULT 3

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A zombie counts as gone: its parent (the bed's run script) may reap it only later. */
static bool alive(pid_t pid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* The console's unread bytes, split into lines and fed to the watch. A line longer than the
 * buffer is fed in pieces; with flush, a last line without its newline is fed too. */
struct follower {
	int fd;
	char buf[BEDWATCH_LINE_MAX * 4];
	size_t len;
};

static int follow(struct follower *f, struct bedwatch *w, bool flush)
{
	for (;;) {
		ssize_t n = read(f->fd, f->buf + f->len, sizeof(f->buf) - 1 - f->len);
		char *start = f->buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		f->len += (size_t)n;
		f->buf[f->len] = '\0';
		while ((nl = memchr(start, '\n', f->len - (size_t)(start - f->buf)))) {
			*nl = '\0';
			bedwatch_feed(w, start, now_ms());
			start = nl + 1;
		}
		f->len -= (size_t)(start - f->buf);
		memmove(f->buf, start, f->len);
		if (f->len == sizeof(f->buf) - 1 || (flush && n == 0 && f->len > 0)) {
			f->buf[f->len] = '\0';
			bedwatch_feed(w, f->buf, now_ms());
			f->len = 0;
		}
		if (n == 0)
			return 0;
	}
}

static void end_bed(pid_t pid)
{
	uint64_t t0 = now_ms();

	kill(pid, SIGTERM);
	while (alive(pid) && now_ms() - t0 < KILL_GRACE_MS)
		sleep_ms(100);
	if (alive(pid))
		kill(pid, SIGKILL);
}

static int report(struct bedwatch *w)
{
	printf("hostbed: bed kernel fault: %s (%u fault line%s); from the bed's console:\n%s",
	       bedwatch_fault_name(w->first), w->nfaults, w->nfaults == 1 ? "" : "s",
	       w->report ? w->report : "");
	fflush(stdout);
	return EXIT_BED_FAULT;
}

/* Follow the console until the bed ends or a fault's grace period is over: 0 when the bed
 * ended without a fault, EXIT_BED_FAULT with the report printed, -errno on a read error. */
static int watch(struct follower *f, struct bedwatch *w, pid_t pid)
{
	int r;

	while (alive(pid)) {
		r = follow(f, w, false);
		if (r < 0)
			return r;
		if (bedwatch_done(w, now_ms())) {
			end_bed(pid);
			return report(w);
		}
		sleep_ms(POLL_MS);
	}
	/* The bed is gone: what it printed last (a panic, say) is in the file now. */
	r = follow(f, w, true);
	if (r < 0)
		return r;
	return w->first != BED_FAULT_NONE ? report(w) : 0;
}

int main(int argc, char **argv)
{
	struct follower f = { .fd = -1 };
	struct bedwatch w = { 0 };
	char *end;
	long pid, grace = BEDWATCH_GRACE_MS / 1000;
	int r;

	if (argc < 3 || argc > 4 || (pid = strtol(argv[2], &end, 10)) <= 0 || *end ||
	    (argc == 4 && ((grace = strtol(argv[3], &end, 10)) <= 0 || grace > 60 || *end))) {
		fprintf(stderr, "usage: hostbed-bedwatch CONSOLE PID [GRACE_S (1-60)]\n");
		return 2;
	}
	w.grace_ms = (uint64_t)grace * 1000;
	f.fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (f.fd < 0) {
		fprintf(stderr, "hostbed-bedwatch: open `%s`: %s\n", argv[1], strerror(errno));
		return 2;
	}
	r = watch(&f, &w, (pid_t)pid);
	if (r < 0)
		fprintf(stderr, "hostbed-bedwatch: read `%s`: %s\n", argv[1], strerror(-r));
	bedwatch_free(&w);
	close(f.fd);
	return r < 0 ? 2 : r;
}
