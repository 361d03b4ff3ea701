/* The host bed's console watchdog (tests/hostbed/watch.c, bedwatch.c) on console lines recorded
 * in real bed runs (tests/hostbed/consoles/): which lines are faults, what a report keeps, when
 * the watch ends, and the follower program ending a live process.
 * usage: test_hostbed_watch BEDWATCH CONSOLES_DIR */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "tap.h"
#include "tests/hostbed/watch.h"

static const char *bedwatch_exe, *consoles_dir;

static const struct {
	const char *line;
	enum bed_fault fault;
} lines[] = {
	/* recorded in the bed (6.1.0-57-amd64) */
	{ "[  453.215654] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [husk:741]",
	  BED_FAULT_SOFT_LOCKUP },
	{ "[   72.752149] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
	  BED_FAULT_RCU_STALL },
	{ "[  453.219383] Kernel panic - not syncing: softlockup: hung tasks", BED_FAULT_PANIC },
	/* the kernel's wording of the other faults */
	{ "[ 1234.5] rcu: INFO: rcu_sched self-detected stall on CPU", BED_FAULT_RCU_STALL },
	{ "[  300.1] INFO: rcu_tasks detected stalls on tasks:", BED_FAULT_RCU_STALL },
	{ "[  242.0] INFO: task kworker/0:1:23 blocked for more than 120 seconds.",
	  BED_FAULT_HUNG_TASK },
	{ "[   99.9] watchdog: Watchdog detected hard LOCKUP on cpu 1", BED_FAULT_HARD_LOCKUP },
	{ "[   61.0] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!",
	  BED_FAULT_WQ_LOCKUP },
	/* lines of healthy beds that share words with faults */
	{ "[    0.000000] rcu: Preemptible hierarchical RCU implementation.", BED_FAULT_NONE },
	{ "[    0.391114] cblist_init_generic: Setting shift to 1 and lim to 1 rcu_task_cpu_ids=2.",
	  BED_FAULT_NONE },
	{ "[  453.219383]  ? lockup_detector_update_enable+0x50/0x50", BED_FAULT_NONE },
	{ "[    7.281840] kvm: SMP vm created on host with unstable TSC; guest TSC will not be "
	  "reliable", BED_FAULT_NONE },
	{ "[    0.1] NMI watchdog: Perf NMI watchdog permanently disabled", BED_FAULT_NONE },
	{ "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
	  BED_FAULT_NONE },
	{ "", BED_FAULT_NONE },
};

static int test_classify(void)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (bedwatch_classify(lines[i].line) != lines[i].fault) {
			printf("# line %zu: got %s, want %s: %s\n", i,
			       bedwatch_fault_name(bedwatch_classify(lines[i].line)),
			       bedwatch_fault_name(lines[i].fault), lines[i].line);
			return 1;
		}
	}
	return 0;
}

/* Feed a recorded console to w, one line a millisecond from t = 0. */
static int feed_file(struct bedwatch *w, const char *name)
{
	char path[512], line[4096];
	uint64_t t = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", consoles_dir, name);
	f = fopen(path, "re");
	if (!f) {
		printf("# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		bedwatch_feed(w, line, t++);
	}
	fclose(f);
	return 0;
}

static int test_clean_console(void)
{
	struct bedwatch w = { 0 };

	CHECK(feed_file(&w, "clean.txt") == 0);
	CHECK(w.first == BED_FAULT_NONE && w.nfaults == 0 && w.nlines == 0);
	CHECK(!bedwatch_done(&w, UINT64_MAX / 2));
	bedwatch_free(&w);
	return 0;
}

/* The lockup this watchdog was written for: both CPUs spinning on a stale int3 in kvm.ko. */
static int test_soft_lockup_console(void)
{
	struct bedwatch w = { 0 };

	CHECK(feed_file(&w, "soft-lockup-apic-int3.txt") == 0);
	CHECK(w.first == BED_FAULT_SOFT_LOCKUP);
	CHECK(w.nfaults == 2); /* the lockup and the panic it causes */
	CHECK_CONTAINS(w.report, "BUG: soft lockup - CPU#0 stuck for 26s! [husk:741]");
	/* the backtraces after it: the RIP of both CPUs */
	CHECK_CONTAINS(w.report, "RIP: 0010:__apic_accept_irq+0x72/0x290 [kvm]");
	CHECK_CONTAINS(w.report, "RIP: 0010:asm_exc_int3+0x0/0x40");
	CHECK_CONTAINS(w.report, "Kernel panic - not syncing");
	/* the firmware's escape sequences before the fault are not kept */
	CHECK(!strstr(w.report, "SeaBIOS"));
	bedwatch_free(&w);
	return 0;
}

static int test_first_fault_wins(void)
{
	struct bedwatch w = { 0 };

	CHECK(feed_file(&w, "rcu-stall-then-soft-lockup.txt") == 0);
	CHECK(w.first == BED_FAULT_RCU_STALL);
	CHECK(w.first_ms == 4); /* its fifth line */
	CHECK(w.nfaults == 3);
	CHECK_CONTAINS(w.report, "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:");
	CHECK_CONTAINS(w.report, "BUG: soft lockup - CPU#0 stuck for 45s!");
	bedwatch_free(&w);
	return 0;
}

static int test_grace(void)
{
	struct bedwatch w = { 0 };

	bedwatch_feed(&w, "booting", 1000);
	CHECK(!bedwatch_done(&w, 1000 + 60000));
	bedwatch_feed(&w, "[ 1.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [x:1]", 2000);
	CHECK(!bedwatch_done(&w, 2000 + BEDWATCH_GRACE_MS - 1));
	CHECK(bedwatch_done(&w, 2000 + BEDWATCH_GRACE_MS));
	/* a later fault does not move the end */
	bedwatch_feed(&w, "[ 1.1] Kernel panic - not syncing: softlockup: hung tasks", 9000);
	CHECK(bedwatch_done(&w, 2000 + BEDWATCH_GRACE_MS));
	w.grace_ms = 500;
	CHECK(bedwatch_done(&w, 2500));
	bedwatch_free(&w);
	return 0;
}

static int test_report_bounds(void)
{
	struct bedwatch w = { 0 };
	char longline[BEDWATCH_LINE_MAX * 2 + 1];
	unsigned i;

	bedwatch_feed(&w, "[ 1.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [x:1]", 0);
	bedwatch_feed(&w, "\x1b[2Jescaped\r", 1);
	CHECK_CONTAINS(w.report, "?[2Jescaped\n");
	/* context ends BEDWATCH_CONTEXT lines after the fault line */
	for (i = 0; i < BEDWATCH_CONTEXT + 5; i++)
		bedwatch_feed(&w, "ctx", 2);
	CHECK(w.nlines == 1 + BEDWATCH_CONTEXT);
	/* a long line is cut */
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "INFO: task a:1 blocked for more than 120 seconds.", 50);
	bedwatch_feed(&w, longline, 3);
	CHECK(strlen(strrchr(w.report, 'I')) <= BEDWATCH_LINE_MAX + 1);
	/* and the report stops growing at BEDWATCH_MAX_LINES */
	for (i = 0; i < 2 * BEDWATCH_MAX_LINES; i++)
		bedwatch_feed(&w, "[ 1.0] BUG: soft lockup - CPU#1 stuck", 4);
	CHECK(w.nlines == BEDWATCH_MAX_LINES);
	bedwatch_free(&w);
	return 0;
}

/* Run the follower; its stdout in out. Returns its exit status, or -1. */
static int run_bedwatch(const char *console, pid_t pid, const char *grace, char *out, size_t cap)
{
	char path[512], pidbuf[24];
	int pfd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t c;

	snprintf(path, sizeof(path), "%s/%s", consoles_dir, console);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	c = fork();
	if (c == 0) {
		dup2(pfd[1], 1);
		execl(bedwatch_exe, bedwatch_exe, path, pidbuf, grace, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (len + 1 < cap && (n = read(pfd[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	if (c < 0 || waitpid(c, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A pid that belonged to a process which has exited and been reaped. */
static pid_t gone_pid(void)
{
	pid_t c = fork();

	if (c == 0)
		_exit(0);
	waitpid(c, NULL, 0);
	return c;
}

static int test_follower_after_exit(void)
{
	char out[65536];

	CHECK(run_bedwatch("clean.txt", gone_pid(), NULL, out, sizeof(out)) == 0);
	CHECK_STREQ(out, "");
	CHECK(run_bedwatch("soft-lockup-apic-int3.txt", gone_pid(), NULL, out, sizeof(out)) == 3);
	CHECK_CONTAINS(out, "hostbed: bed kernel fault: soft lockup (2 fault lines)");
	CHECK_CONTAINS(out, "RIP: 0010:__apic_accept_irq+0x72/0x290 [kvm]");
	CHECK(run_bedwatch("clean.txt", 0, NULL, out, sizeof(out)) == 2);
	return 0;
}

/* A live bed whose console shows a lockup is ended: SIGTERM to the pid it was given. */
static int test_follower_ends_live_bed(void)
{
	char out[65536];
	int status;
	pid_t bed = fork();

	if (bed == 0) {
		alarm(30); /* bounded, should the follower fail to end it */
		pause();
		_exit(0);
	}
	CHECK(bed > 0);
	CHECK(run_bedwatch("rcu-stall-then-soft-lockup.txt", bed, "1", out, sizeof(out)) == 3);
	CHECK(waitpid(bed, &status, 0) == bed);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	CHECK_CONTAINS(out, "bed kernel fault: RCU stall (3 fault lines)");
	return 0;
}

static const struct test tests[] = {
	{ "classify: recorded fault lines and healthy look-alikes", test_classify },
	{ "watch: a clean console is no fault", test_clean_console },
	{ "watch: the kvm int3 soft lockup, with both CPUs' backtraces", test_soft_lockup_console },
	{ "watch: the first fault names the report", test_first_fault_wins },
	{ "watch: done a grace period after the first fault", test_grace },
	{ "watch: reports are sanitised and bounded", test_report_bounds },
	{ "bedwatch: scans the console of a bed that has ended", test_follower_after_exit },
	{ "bedwatch: ends a live bed whose console shows a lockup", test_follower_ends_live_bed },
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_hostbed_watch BEDWATCH CONSOLES_DIR\n");
		return 2;
	}
	bedwatch_exe = argv[1];
	consoles_dir = argv[2];
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
