/* `husk vm boot`, the machine half: the initramfs (agent + the kernel's modules), the host
 * ends of the devices (console ports, tap, disks), and vm_run on a thread of its own.
 * vmctl.c drives the agent once the machine runs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "vm/initramfs.h"
#include "vmctl.h"

/* The setup sectors, where the version string lives, are at most 64 sectors of 512 bytes
 * past the boot sector. */
#define SETUP_MAX (65 * 512)


static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The module tree of kernel version kver: --modules, /lib/modules/<kver>, or a tree unpacked
 * next to the kernel (`dpkg-deb -x linux-image-*.deb DIR` puts the kernel in DIR/boot and its
 * modules in DIR/lib/modules/<kver>). NULL when there is none: the drivers may be built in. */
static char *find_moddir(const char *kernel, const char *kver)
{
	cleanup_free char *real = realpath(kernel, NULL);
	char *dir, *slash;

	dir = xasprintf("/lib/modules/%s", kver);
	if (is_dir(dir))
		return dir;
	free(dir);
	slash = real ? strrchr(real, '/') : NULL;
	if (!slash)
		return NULL;
	*slash = '\0';
	dir = xasprintf("%s/../lib/modules/%s", real, kver);
	if (is_dir(dir)) {
		char *clean = realpath(dir, NULL);

		if (clean) {
			free(dir);
			dir = clean;
		}
		return dir;
	}
	free(dir);
	return NULL;
}

static int read_kernel_version(const char *path, char *kver, size_t cap, struct husk_err **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free uint8_t *buf = xmalloc(SETUP_MAX);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return husk_err_set(err, errno, "--kernel: open `%s`", path);
	while (len < SETUP_MAX && (n = read(fd, buf + len, SETUP_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return husk_err_set(err, errno, "--kernel: read `%s`", path);
		len += (size_t)n;
	}
	if (vmboot_kernel_version(buf, len, kver, cap, err) < 0)
		return husk_err_wrap(err, "--kernel `%s`", path);
	return 0;
}

/* The initramfs in memory: the agent as /init plus the modules the kernel needs. */
static int build_initrd(struct vmboot *b, struct husk_err **err)
{
	cleanup_free char *agent = NULL;
	char kver[128];
	struct initramfs_spec spec = { 0 };

	if (read_kernel_version(b->o->kernel, kver, sizeof(kver), err) < 0)
		return -(*err)->code;
	if (b->o->modules && !is_dir(b->o->modules))
		return husk_err_msg(err, ENOENT, "--modules: `%s` is not a directory",
				    b->o->modules);
	b->moddir = b->o->modules ? xstrdup(b->o->modules) : find_moddir(b->o->kernel, kver);
	snprintf(b->kver, sizeof(b->kver), "%s", kver);
	if (b->moddir)
		log_debug("vm: kernel %s, modules from `%s`", kver, b->moddir);
	else
		log_debug("vm: kernel %s, no module tree found: its drivers must be built in",
			  kver);
	if (initramfs_agent_path(&agent, err) < 0)
		return -(*err)->code;
	spec.agent_path = agent;
	spec.moddir = b->moddir;
	return initramfs_build(&spec, &b->initrd, &b->initrd_len, err);
}

/* path written atomically: fd_write_atomic in its directory. */
static int write_file_atomic(const char *path, const void *buf, size_t len, struct husk_err **err)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup(".");
	cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !*name)
		return husk_err_set(err, dfd < 0 ? errno : EISDIR, "open its directory");
	return fd_write_atomic(dfd, name, buf, len, 0644, err);
}

int vmboot_write_initramfs(const char *kernel, const char *modules, const char *out,
			   struct husk_err **err)
{
	struct vmboot_opts o = { .kernel = kernel, .modules = modules };
	struct vmboot b = { .o = &o };
	int r = build_initrd(&b, err);

	if (r == 0 && (r = write_file_atomic(out, b.initrd, b.initrd_len, err)) < 0)
		husk_err_wrap(err, "--output `%s`", out);
	free(b.moddir);
	free(b.initrd);
	return r;
}

/* Attach to the existing tap device `name` with virtio-net's header; never create one. */
static int open_tap(const char *name, int *out, struct husk_err **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	cleanup_close int fd = -1;

	if (strlen(name) >= IFNAMSIZ)
		return husk_err_msg(err, EINVAL, "--net: `%s` is longer than %d bytes", name,
				    IFNAMSIZ - 1);
	/* TUNSETIFF on a name that does not exist would create a new tap. */
	if (if_nametoindex(name) == 0)
		return husk_err_set(err, errno, "--net: no network device `%s`", name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return husk_err_set(err, errno, "--net: open `/dev/net/tun`");
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return husk_err_set(err, errno, "--net: attach to tap `%s`", name);
	*out = TAKE_FD(fd);
	return 0;
}

/* A locally administered unicast MAC (02:...) derived from the tap's name: stable from one
 * boot to the next, so the guest's neighbours need not relearn it. */
static void tap_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02, mac[1] = 'h', mac[2] = 'k';
	mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

static void *stdin_pump(void *arg)
{
	int out = (int)(intptr_t)arg;
	char buf[16384];
	sigset_t pipe_sig;
	ssize_t n;

	/* The pipe's reader goes away when husk ends: a write then fails with EPIPE here
	 * rather than killing husk with SIGPIPE (which goes to the writing thread). */
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(out, buf, (size_t)n) < 0)
			break;
	}
	close(out); /* the console sees end of file and closes the guest's stdin */
	return NULL;
}

/* What backs "husk.stdin": husk's stdin itself when the event loop can watch it (pipe, tty,
 * socket) or the console can read it as a file; otherwise (/dev/null and other character
 * devices epoll refuses, or no fd 0 at all) a pipe filled by a thread, closed at end of
 * file. */
static int stdin_source(struct vmboot *b, struct husk_err **err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	cleanup_close int ep = epoll_create1(EPOLL_CLOEXEC);
	int p[2];
	pthread_t t;
	struct stat st;
	bool have_stdin = fcntl(STDIN_FILENO, F_GETFD) >= 0;

	if (have_stdin && fstat(STDIN_FILENO, &st) == 0 &&
	    (S_ISREG(st.st_mode) || (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0))) {
		b->stdin_fd = STDIN_FILENO;
		return 0;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_err_set(err, errno, "vm: stdin pipe");
	b->stdin_fd = b->stdin_pipe = p[0];
	if (!have_stdin) {
		close(p[1]);
		return 0;
	}
	if (pthread_create(&t, NULL, stdin_pump, (void *)(intptr_t)p[1]) != 0) {
		close(p[1]);
		return husk_err_msg(err, EAGAIN, "vm: cannot start the stdin thread");
	}
	pthread_detach(t);
	return 0;
}

static int make_pipes(struct vmboot *b, struct husk_err **err)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b->ctl) < 0)
		return husk_err_set(err, errno, "vm: control socketpair");
	if (pipe2(b->stop, O_CLOEXEC) < 0 || pipe2(b->done, O_CLOEXEC) < 0)
		return husk_err_set(err, errno, "vm: pipe");
	/* The serial device writes one byte per guest port write from a vCPU thread: never
	 * block it on a full pipe; a lost byte of a quiet console costs nothing. */
	if (!b->o->debug_console && pipe2(b->serial, O_CLOEXEC | O_NONBLOCK) < 0)
		return husk_err_set(err, errno, "vm: pipe");
	return 0;
}

/* The console ports: 0 is hvc0 (unused), then the agent's named ports. */
static void setup_ports(struct vmboot *b)
{
	b->ports[VMPORT_CONSOLE] = (struct virtio_console_port){ NULL, -1, -1 };
	b->ports[VMPORT_CTL] = (struct virtio_console_port){ "husk.ctl", b->ctl[1], b->ctl[1] };
	b->ports[VMPORT_STDIN] = (struct virtio_console_port){ "husk.stdin", b->stdin_fd, -1 };
	b->ports[VMPORT_STDOUT] =
		(struct virtio_console_port){ "husk.stdout", -1, STDOUT_FILENO };
	b->ports[VMPORT_STDERR] =
		(struct virtio_console_port){ "husk.stderr", -1, STDERR_FILENO };
}

/* Everything vm_run needs, in b->cfg. */
static int setup(struct vmboot *b, struct husk_err **err)
{
	const struct vmboot_opts *o = b->o;
	struct vm_config *c = &b->cfg;

	vm_config_init(c);
	if (access(o->kernel, R_OK) < 0)
		return husk_err_set(err, errno, "--kernel `%s`", o->kernel);
	for (unsigned i = 0; i < o->ndisks; i++) {
		if (access(o->disks[i].path, o->disks[i].ro ? R_OK : R_OK | W_OK) < 0)
			return husk_err_set(err, errno, "--disk `%s`", o->disks[i].path);
		b->disks[i] = (struct vm_disk){ o->disks[i].path, o->disks[i].ro };
	}
	if (!o->initrd && build_initrd(b, err) < 0)
		return -(*err)->code;
	if (o->initrd && access(o->initrd, R_OK) < 0)
		return husk_err_set(err, errno, "--initrd `%s`", o->initrd);
	if (o->net && open_tap(o->net, &b->tap_fd, err) < 0)
		return -(*err)->code;
	if (make_pipes(b, err) < 0 || stdin_source(b, err) < 0)
		return -(*err)->code;
	setup_ports(b);
	b->cmdline = vmboot_cmdline(o->debug_console, o->cmdline_extra);
	*c = (struct vm_config){
		.kernel_path = o->kernel, .initrd_path = o->initrd, .initrd = b->initrd,
		.initrd_len = b->initrd_len, .cmdline = b->cmdline, .mem_bytes = o->mem_bytes,
		.cpus = o->cpus, .serial_in_fd = -1, .stop_fd = b->stop[0],
		.serial_out_fd = o->debug_console ? STDERR_FILENO : b->serial[1],
		.disks = b->disks, .ndisks = o->ndisks, .ports = b->ports, .nports = VMPORT_COUNT,
		.tap_fd = b->tap_fd, .rng = true,
	};
	if (o->net)
		tap_mac(o->net, c->mac);
	log_debug("vm: command line: %s", b->cmdline);
	return 0;
}

static void *vm_thread(void *arg)
{
	struct vmboot *b = arg;
	char x = 1;

	b->vm_r = vm_run(&b->cfg, &b->res, &b->vm_err);
	if (write(b->done[1], &x, 1) < 0)
		log_warn("vm: signal the end of the VM: %m");
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void teardown(struct vmboot *b)
{
	int *fds[] = { &b->ctl[0], &b->ctl[1], &b->stop[0], &b->stop[1], &b->serial[0],
		       &b->serial[1], &b->done[0], &b->done[1], &b->stdin_pipe, &b->tap_fd,
		       &b->sfd };

	if (b->thread_started) {
		vmctl_stop(b);
		pthread_join(b->thread, NULL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		close_fd(fds[i]);
	husk_err_free(b->vm_err);
	agent_reader_free(&b->rd);
	free(b->moddir);
	free(b->initrd);
	free(b->cmdline);
}

int vmboot_run(const struct vmboot_opts *o)
{
	struct vmboot b = { .o = o, .ctl = { -1, -1 }, .stop = { -1, -1 },
			    .serial = { -1, -1 }, .done = { -1, -1 }, .stdin_fd = -1,
			    .stdin_pipe = -1, .tap_fd = -1, .sfd = -1, .rd = AGENT_READER_INIT };
	struct husk_err *err = NULL;
	uint64_t t_setup = vmctl_now_ns();
	int r, status = 1;

	/* Signals first: every thread started later (stdin, VM, vCPUs) inherits the mask, so
	 * they all reach the signalfd instead of killing husk. */
	r = vmctl_signals(&b, &err);
	if (r == 0)
		r = setup(&b, &err);
	if (r == 0) {
		/* The HELLO timeout and the boot report count from here. */
		b.t0 = vmctl_now_ns();
		log_debug("vm: initramfs and host devices ready after %.1f ms",
			  (double)(b.t0 - t_setup) / 1e6);
		r = -pthread_create(&b.thread, NULL, vm_thread, &b);
	}
	if (r < 0 && !err)
		husk_err_set(&err, -r, "vm: start the VM thread");
	if (r < 0) {
		husk_err_wrap(&err, "vm boot");
		log_error("%s", err->msg);
		husk_err_free(err);
	} else {
		b.thread_started = true;
		status = vmctl_drive(&b);
	}
	teardown(&b);
	return status;
}
