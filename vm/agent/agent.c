/* husk-agent: PID 1 of the light VM's guest, /init of its initramfs. Loads the modules, finds
 * the virtio console ports, talks the proto.h protocol with the VMM on "husk.ctl", mounts the
 * root disk, runs the container process with "husk.stdin"/"husk.stdout"/"husk.stderr" as its
 * fds 0-2, reports its exit and powers the guest off. Silent on the console unless something fails (or husk_debug=1 is on
 * the kernel command line, which the kernel hands to init as an environment variable). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vm/agent/proto.h"
#include "vm/agent/util.h"

#define WAIT_MS 10000 /* bound on waiting for ports and the root disk */
#define POLL_MS 10
#define NEWROOT "/newroot"
#define MODDIR "/lib/modules"
#define PORTS_DIR "/sys/class/virtio-ports"

enum { PORT_CTL, PORT_STDIN, PORT_STDOUT, PORT_STDERR, PORT_COUNT };

/* One port per direction of the process's stdio: the VMM disconnects husk.stdin at the
 * host's EOF (the guest then reads EOF), and Linux blocks writes to a disconnected port, so
 * output must not share a port with stdin. */
static const struct port_want {
	const char *name;
	int flags;
} port_wants[PORT_COUNT] = {
	[PORT_CTL] = { "husk.ctl", O_RDWR },
	[PORT_STDIN] = { "husk.stdin", O_RDONLY },
	[PORT_STDOUT] = { "husk.stdout", O_WRONLY },
	[PORT_STDERR] = { "husk.stderr", O_WRONLY },
};

struct agent {
	int port[PORT_COUNT];
	struct agent_reader rd;
};

static int debug;

/* Write one line to the kernel console (fd 2 of init). vsnprintf only: no stdio streams. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

#define dbg(...)                                                                                   \
	do {                                                                                       \
		if (debug)                                                                         \
			say(__VA_ARGS__);                                                          \
	} while (0)

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static __attribute__((noreturn)) void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* PID 1 must not exit (the kernel would panic); wait for the VMM to end us. */
	for (;;)
		pause();
}

/* ---- early boot: base mounts, console, modules ---- */

static void mount_base(void)
{
	static const struct {
		const char *type, *dir;
	} base[] = { { "proc", "/proc" }, { "sysfs", "/sys" }, { "devtmpfs", "/dev" } };

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		mkdir(base[i].dir, 0755);
		if (mount(base[i].type, base[i].dir, base[i].type, MS_NOSUID | MS_NOEXEC, NULL) < 0)
			say("husk-agent: mount %s: %s", base[i].dir, strerror(errno));
	}
}

/* The kernel gives init /dev/console as fds 0-2 when the initramfs has that node. If it did
 * not, take them now, before any other open lands on 0-2. */
static void setup_console(void)
{
	int fd;

	if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd < STDERR_FILENO)
		fd = dup(fd);
}

static ssize_t read_small_file(int dfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Load MODDIR/husk.order's modules in order, deleting each file afterwards: the initramfs
 * stays in RAM for the guest's whole life. A failure is reported and the rest still tried;
 * the port wait then names what is missing. */
static void load_modules(void)
{
	static char order[65536];
	char *cursor = order, *name;
	int dfd = open(MODDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || read_small_file(dfd, "husk.order", order, sizeof(order)) < 0) {
		dbg("husk-agent: no %s/husk.order, no modules to load", MODDIR);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((name = agent_order_next(&cursor))) {
		int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
			say("husk-agent: load module %s: %s", name, strerror(errno));
		else
			dbg("husk-agent: loaded %s", name);
		if (fd >= 0)
			close(fd);
		unlinkat(dfd, name, 0);
	}
	close(dfd);
}

/* ---- the virtio console ports ---- */

/* One pass over PORTS_DIR opening every wanted port whose name is known and whose device
 * node exists; returns how many are still missing. */
static int scan_ports(struct agent *a)
{
	DIR *d = opendir(PORTS_DIR);
	struct dirent *e;
	int missing = 0;

	while (d && (e = readdir(d))) {
		char path[300], name[64];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), PORTS_DIR "/%s/name", e->d_name);
		n = read_small_file(AT_FDCWD, path, name, sizeof(name));
		for (int i = 0; n > 0 && i < PORT_COUNT; i++) {
			if (a->port[i] >= 0 ||
			    !agent_port_name_is(name, (size_t)n, port_wants[i].name))
				continue;
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			a->port[i] = open(path, port_wants[i].flags | O_CLOEXEC | O_NOCTTY);
			dbg("husk-agent: port %s is %s (fd %d)", port_wants[i].name, path,
			    a->port[i]);
		}
	}
	if (d)
		closedir(d);
	for (int i = 0; i < PORT_COUNT; i++)
		missing += a->port[i] < 0;
	return missing;
}

static int open_ports(struct agent *a)
{
	long deadline = now_ms() + WAIT_MS;

	while (scan_ports(a) > 0 && now_ms() < deadline)
		sleep_ms(POLL_MS);
	for (int i = 0; i < PORT_COUNT; i++)
		if (a->port[i] < 0)
			return i;
	return -1;
}

/* ---- reporting to the VMM ---- */

static void send_msg(struct agent *a, const struct agent_msg *m)
{
	int r = agent_msg_send(a->port[PORT_CTL], m);

	if (r < 0)
		say("husk-agent: send %s: %s", agent_msg_type_name(m->type), strerror(-r));
}

static void send_exit(struct agent *a, uint32_t kind, uint32_t value)
{
	struct agent_msg m = { .type = AGENT_MSG_EXIT, .exit = { kind, value } };

	send_msg(a, &m);
}

/* Report a failure as ERROR then EXIT(status), and end the guest. */
static __attribute__((noreturn, format(printf, 3, 4))) void fail(struct agent *a, int status,
								  const char *fmt, ...)
{
	char buf[1024];
	struct agent_msg m = { .type = AGENT_MSG_ERROR, .error = buf };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dbg("husk-agent: %s", buf);
	send_msg(a, &m);
	send_exit(a, AGENT_EXIT_CODE, (uint32_t)status);
	power_off();
}

/* Block until a RUN arrives. A port the host has not opened reads as end of file, so an EOF
 * is retried for a bounded time rather than treated as the end. */
static void read_run(struct agent *a, struct agent_msg *m)
{
	long deadline = now_ms() + WAIT_MS;

	for (;;) {
		int r = agent_reader_next(&a->rd, m);
		ssize_t n;

		if (r < 0)
			fail(a, 1, "agent: bad message from the VMM: %s", strerror(-r));
		if (r > 0 && m->type == AGENT_MSG_RUN)
			return;
		if (r > 0) {
			dbg("husk-agent: ignoring %s before RUN", agent_msg_type_name(m->type));
			agent_msg_free(m);
			continue;
		}
		n = agent_reader_fill(&a->rd, a->port[PORT_CTL]);
		if (n < 0)
			fail(a, 1, "agent: read husk.ctl: %s", strerror((int)-n));
		if (n == 0 && now_ms() > deadline)
			fail(a, 1, "agent: no RUN message from the VMM");
		if (n == 0)
			sleep_ms(POLL_MS);
	}
}

/* ---- the container's root ---- */

static const struct cmount {
	const char *dst, *type;
	unsigned long flags;
	const char *data;
} cmounts[] = {
	{ "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL },
	{ "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL },
	{ "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k" },
	{ "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620" },
	{ "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k" },
	{ "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
};

static const struct cdev {
	const char *name;
	unsigned maj, min;
} cdevs[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct clink {
	const char *name, *target;
} clinks[] = {
	{ "fd", "/proc/self/fd" },	 { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },		 { "core", "/proc/kcore" },
};

static void wait_for_path(struct agent *a, const char *path)
{
	long deadline = now_ms() + WAIT_MS;

	while (access(path, F_OK) < 0) {
		if (now_ms() > deadline)
			fail(a, 1, "agent: root device %s did not appear: %s", path,
			     strerror(errno));
		sleep_ms(POLL_MS);
	}
}

/* Mount point dst under NEWROOT: created if missing (a read-only image must already have it)
 * and refused if it is a symlink, which would take the mount out of the new root. */
static void mount_in_root(struct agent *a, int rootfd, const struct cmount *c)
{
	char path[256];
	struct stat st;

	if (mkdirat(rootfd, c->dst, 0755) < 0 && errno != EEXIST)
		fail(a, 1, "agent: mkdir /%s: %s", c->dst, strerror(errno));
	if (fstatat(rootfd, c->dst, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		fail(a, 1, "agent: /%s in the root is not a directory", c->dst);
	snprintf(path, sizeof(path), NEWROOT "/%s", c->dst);
	if (mount(c->type, path, c->type, c->flags, c->data) < 0)
		fail(a, 1, "agent: mount %s on /%s: %s", c->type, c->dst, strerror(errno));
}

static void populate_dev(struct agent *a, int rootfd)
{
	int dfd = openat(rootfd, "dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	if (dfd < 0)
		fail(a, 1, "agent: open /dev: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cdevs) / sizeof(cdevs[0]); i++) {
		dev_t dev = makedev(cdevs[i].maj, cdevs[i].min);

		if (mknodat(dfd, cdevs[i].name, S_IFCHR | 0666, dev) < 0 ||
		    fchmodat(dfd, cdevs[i].name, 0666, 0) < 0) /* past the umask */
			fail(a, 1, "agent: mknod /dev/%s: %s", cdevs[i].name, strerror(errno));
	}
	/* The VM's own virtio-rng, when the guest has one: hardware of this VM, not the host's,
	 * so the process may read it (root only, as on a Debian host). */
	struct stat st;
	if (stat("/dev/hwrng", &st) == 0 && S_ISCHR(st.st_mode) &&
	    mknodat(dfd, "hwrng", S_IFCHR | 0600, st.st_rdev) < 0)
		fail(a, 1, "agent: mknod /dev/hwrng: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(clinks) / sizeof(clinks[0]); i++)
		if (symlinkat(clinks[i].target, dfd, clinks[i].name) < 0)
			fail(a, 1, "agent: symlink /dev/%s: %s", clinks[i].name, strerror(errno));
	close(dfd);
}

/* Mount the root disk with the container's basic file systems in it, then make it / the way
 * switch_root does: the initramfs root cannot be pivot_root'ed away, so move the new root's
 * mount over / and chroot into it. */
static void enter_root(struct agent *a, const struct agent_run *run)
{
	unsigned long flags = (run->flags & AGENT_RUN_ROOT_RO) ? MS_RDONLY : 0;
	int rootfd;

	wait_for_path(a, run->root_dev);
	mkdir(NEWROOT, 0755);
	if (mount(run->root_dev, NEWROOT, run->root_fstype, flags, NULL) < 0)
		fail(a, 1, "agent: mount %s (%s) on the root: %s", run->root_dev, run->root_fstype,
		     strerror(errno));
	rootfd = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(a, 1, "agent: open the root: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cmounts) / sizeof(cmounts[0]); i++) {
		mount_in_root(a, rootfd, &cmounts[i]);
		if (strcmp(cmounts[i].dst, "dev") == 0)
			populate_dev(a, rootfd);
	}
	close(rootfd);
	if (*run->hostname && sethostname(run->hostname, strlen(run->hostname)) < 0)
		fail(a, 1, "agent: sethostname `%s`: %s", run->hostname, strerror(errno));
	/* The initramfs's own /proc /sys /dev are not needed any more (the ports are open) and
	 * would otherwise linger, hidden, in the process's mount table. */
	umount2("/proc", MNT_DETACH);
	umount2("/sys", MNT_DETACH);
	umount2("/dev", MNT_DETACH);
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		fail(a, 1, "agent: switch to the new root: %s", strerror(errno));
}

/* ---- the process ---- */

struct child_err {
	int status;
	char msg[512];
};

static __attribute__((noreturn, format(printf, 3, 4))) void child_fail(int errfd, int status,
								       const char *fmt, ...)
{
	struct child_err ce = { .status = status };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ce.msg, sizeof(ce.msg), fmt, ap);
	va_end(ap);
	if (write(errfd, &ce, sizeof(ce)) < 0)
		_exit(status);
	_exit(status);
}

/* In the forked child: stdio on the ports, credentials, cwd, exec. Failures go to errfd (a
 * close-on-exec pipe: end of file there means the exec happened). */
static __attribute__((noreturn)) void exec_child(struct agent *a, const struct agent_run *run,
						 int errfd)
{
	const char *file = run->args[0];
	sigset_t none;
	char path[4096];
	int r;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (dup2(a->port[PORT_STDIN], 0) < 0 || dup2(a->port[PORT_STDOUT], 1) < 0 ||
	    dup2(a->port[PORT_STDERR], 2) < 0)
		child_fail(errfd, 1, "agent: set up stdio: %s", strerror(errno));
	if (setgroups(run->ngids, run->gids) < 0)
		child_fail(errfd, 1, "agent: setgroups: %s", strerror(errno));
	if (setgid(run->gid) < 0 || setuid(run->uid) < 0)
		child_fail(errfd, 1, "agent: set uid %u gid %u: %s", run->uid, run->gid,
			   strerror(errno));
	if (chdir(*run->cwd ? run->cwd : "/") < 0)
		child_fail(errfd, 1, "agent: chdir `%s`: %s", run->cwd, strerror(errno));
	r = agent_path_lookup(agent_env_path(run->env), file, path, sizeof(path));
	if (r == -ENOENT && !strchr(file, '/'))
		child_fail(errfd, 127, "agent: exec \"%s\": executable file not found in $PATH",
			   file);
	if (r < 0)
		child_fail(errfd, agent_exec_status(-r), "agent: exec \"%s\": %s", file,
			   strerror(-r));
	execve(path, run->args, run->env);
	child_fail(errfd, agent_exec_status(errno), "agent: exec \"%s\": %s", file,
		   strerror(errno));
}

/* Fork the process; returns its pid once it has exec'ed, or reports its failure and ends. */
static pid_t spawn(struct agent *a, const struct agent_run *run)
{
	struct child_err ce;
	int pfd[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		fail(a, 1, "agent: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail(a, 1, "agent: fork: %s", strerror(errno));
	if (pid == 0)
		exec_child(a, run, pfd[1]);
	close(pfd[1]);
	do
		n = read(pfd[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n <= 0)
		return pid;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ce.msg[sizeof(ce.msg) - 1] = '\0';
	fail(a, ce.status, "%s", ce.msg);
}

/* Reap every exited child (PID 1 adopts orphans); 1 once `pid` itself has ended. */
static int reap(pid_t pid, struct agent_exit *ex)
{
	int st, done = 0;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != pid)
			continue;
		done = 1;
		if (WIFSIGNALED(st))
			*ex = (struct agent_exit){ AGENT_EXIT_SIGNAL, (uint32_t)WTERMSIG(st) };
		else
			*ex = (struct agent_exit){ AGENT_EXIT_CODE, (uint32_t)WEXITSTATUS(st) };
	}
	return done;
}

/* Handle the messages buffered from husk.ctl while the process runs. */
static void handle_ctl(struct agent *a, pid_t pid)
{
	struct agent_msg m;
	int r;

	while ((r = agent_reader_next(&a->rd, &m)) > 0) {
		if (m.type == AGENT_MSG_SIGNAL && m.signo > 0 && m.signo < (uint32_t)NSIG) {
			if (kill(pid, (int)m.signo) < 0)
				dbg("husk-agent: kill %d: %s", (int)m.signo, strerror(errno));
		} else {
			dbg("husk-agent: ignoring %s", agent_msg_type_name(m.type));
		}
		agent_msg_free(&m);
	}
	if (r < 0)
		say("husk-agent: bad message from the VMM: %s", strerror(-r));
}

static struct agent_exit wait_process(struct agent *a, pid_t pid, int sfd)
{
	struct pollfd p[2] = { { sfd, POLLIN, 0 }, { a->port[PORT_CTL], POLLIN, 0 } };
	struct agent_exit ex = { AGENT_EXIT_CODE, 1 };

	while (!reap(pid, &ex)) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			fail(a, 1, "agent: poll: %s", strerror(errno));
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
				say("husk-agent: read signalfd: %s", strerror(errno));
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = agent_reader_fill(&a->rd, p[1].fd);

			if (n > 0)
				handle_ctl(a, pid);
			else if (n != -EAGAIN && n != -EINTR)
				p[1].fd = -1; /* the VMM closed its end: stop listening */
		} else if (p[1].revents & (POLLHUP | POLLERR)) {
			p[1].fd = -1;
		}
	}
	return ex;
}

int main(int argc, char **argv)
{
	struct agent a = { { -1, -1, -1, -1 }, AGENT_READER_INIT };
	struct agent_msg hello = { .type = AGENT_MSG_HELLO,
				   .hello = { AGENT_PROTO_VERSION, (char *)HUSK_VERSION } };
	struct agent_msg run;
	struct agent_exit ex;
	sigset_t chld;
	int missing, sfd;
	pid_t pid;

	debug = getenv("husk_debug") != NULL;
	if (getpid() != 1) {
		say("husk-agent: this is the guest's init; it must run as PID 1");
		return 1;
	}
	mount_base();
	setup_console();
	load_modules();
	missing = open_ports(&a);
	if (missing == PORT_CTL) {
		say("husk-agent: virtio port `%s` did not appear within %d s (no virtio-console "
		    "device, or its module failed to load); powering off",
		    port_wants[PORT_CTL].name, WAIT_MS / 1000);
		power_off();
	}
	send_msg(&a, &hello);
	if (missing >= 0)
		fail(&a, 1, "agent: virtio port `%s` did not appear", port_wants[missing].name);
	read_run(&a, &run);
	if (run.run.flags & AGENT_RUN_TERMINAL)
		fail(&a, 1, "agent: process.terminal is not supported in VM mode yet");
	enter_root(&a, &run.run);
	/* SIGCHLD through a signalfd, blocked before the fork so no exit is missed. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		fail(&a, 1, "agent: signalfd: %s", strerror(errno));
	pid = spawn(&a, &run.run);
	close(a.port[PORT_STDIN]);
	close(a.port[PORT_STDOUT]);
	close(a.port[PORT_STDERR]);
	ex = wait_process(&a, pid, sfd);
	send_exit(&a, ex.kind, ex.value);
	power_off();
}
