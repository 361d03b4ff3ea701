/* husk vm boot: option parsing (sizes, disks, users, env), the kernel version from a fake
 * bzImage header, the kernel command line, and the main thread's talk with a fake agent on the
 * control socket (HELLO/RUN/ERROR/EXIT, the HELLO timeout, a guest reset, signal forwarding)
 * with a fake VM thread standing in for vm_run. */
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/vmboot.h"
#include "runtime/vmctl.h"
#include "tap.h"

#define MiB (1ULL << 20)

/* ---- options ---- */

static int test_sizes(void)
{
	static const struct {
		const char *s;
		uint64_t want; /* 0: refused */
	} cases[] = {
		{ "256M", 256 * MiB }, { "1G", 1024 * MiB }, { "1g", 1024 * MiB },
		{ "524288K", 512 * MiB }, { "1T", 1ULL << 40 }, { "16777216", 16 * MiB },
		{ "512K", 0 }, /* under the 16M floor */
		{ "2T", 0 }, { "12Q", 0 }, { "", 0 }, { "-1G", 0 }, { "1.5G", 0 }, { "M", 0 },
		{ "256MB", 0 }, { "16777217", 0 }, /* not 4K-aligned */
		{ "99999999999999999999G", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct husk_err *err = NULL;
		uint64_t v = 0;
		int r = vmboot_parse_size(cases[i].s, &v, &err);

		if (cases[i].want) {
			CHECK(r == 0 && v == cases[i].want);
		} else {
			CHECK(r == -EINVAL);
			CHECK_CONTAINS(err->msg, "--memory");
		}
	}
	return 0;
}

static int test_disks(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct vmboot_disk d;

	CHECK(vmboot_parse_disk("root.img", &d, &err) == 0);
	CHECK_STREQ(d.path, "root.img");
	CHECK(!d.ro && !d.owned);
	CHECK(vmboot_parse_disk("/x/root.img,ro", &d, &err) == 0);
	CHECK_STREQ(d.path, "/x/root.img");
	CHECK(d.ro);
	free(d.owned);
	CHECK(vmboot_parse_disk(",ro", &d, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "--disk");
	husk_err_free(err);
	err = NULL;
	CHECK(vmboot_parse_disk("a.img,rw", &d, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "IMG,ro");
	return 0;
}

static int test_users(void)
{
	static const struct {
		const char *s;
		int ok;
		uint32_t uid, gid;
	} cases[] = {
		{ "0", 1, 0, 0 },	  { "1000", 1, 1000, 0 },   { "1000:100", 1, 1000, 100 },
		{ "4294967295:1", 1, UINT32_MAX, 1 }, { "4294967296", 0, 0, 0 },
		{ "1000:", 0, 0, 0 },	  { ":1", 0, 0, 0 },	    { "root", 0, 0, 0 },
		{ "1:2:3", 0, 0, 0 },	  { "-1", 0, 0, 0 },	    { "", 0, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct husk_err *err = NULL;
		uint32_t uid = 7, gid = 7;
		int r = vmboot_parse_user(cases[i].s, &uid, &gid, &err);

		if (cases[i].ok) {
			CHECK(r == 0 && uid == cases[i].uid && gid == cases[i].gid);
		} else {
			CHECK(r == -EINVAL);
			CHECK_CONTAINS(err->msg, "--user");
		}
	}
	return 0;
}

static int test_env(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_strv char **env = NULL;

	CHECK(vmboot_env_set(&env, "PATH=/bin", &err) == 0);
	CHECK(vmboot_env_set(&env, "A=1", &err) == 0);
	CHECK(vmboot_env_set(&env, "PATHX=2", &err) == 0);
	CHECK(vmboot_env_set(&env, "PATH=/usr/bin", &err) == 0);
	CHECK(strv_len(env) == 3);
	CHECK_STREQ(env[0], "PATH=/usr/bin");
	CHECK_STREQ(env[2], "PATHX=2");
	CHECK(vmboot_env_set(&env, "NOVALUE", &err) == -EINVAL);
	return 0;
}

static int test_parse_argv(void)
{
	char *argv[] = { "boot", "--kernel", "k", "--disk", "a.img", "--disk=b.img,ro",
			 "-memory", "1G", "--cpus", "2", "--env", "PATH=/x", "--env", "A=b",
			 "--user", "5:6", "--root", "/dev/vdb", "--cmdline", "x=1",
			 "--cmdline", "y", "--", "sh", "-c", "--kernel", NULL };
	cleanup_err struct husk_err *err = NULL;
	struct vmboot_opts o;

	CHECK(vmboot_parse(ARRAY_SIZE(argv) - 1, argv, &o, &err) == 0);
	CHECK_STREQ(o.kernel, "k");
	CHECK(o.ndisks == 2 && !o.disks[0].ro && o.disks[1].ro);
	CHECK_STREQ(o.disks[1].path, "b.img");
	CHECK(o.mem_bytes == 1024 * MiB && o.cpus == 2 && o.uid == 5 && o.gid == 6);
	CHECK(strv_len(o.env) == 2);
	CHECK_STREQ(o.env[0], "PATH=/x");
	CHECK_STREQ(o.cmdline_extra, "x=1 y");
	CHECK(vmboot_root_ro(&o)); /* /dev/vdb is the second disk, given ,ro */
	/* The command's own flags stay its own. */
	CHECK_STREQ(o.args[0], "sh");
	CHECK_STREQ(o.args[2], "--kernel");
	CHECK(!o.args[3]);
	CHECK_STREQ(o.cwd, "/");
	CHECK_STREQ(o.rootfstype, "ext4");
	CHECK(o.timeout_s == VMBOOT_DEFAULT_TIMEOUT);
	vmboot_opts_free(&o);
	return 0;
}

static int parse_fails(char **argv, int argc, const char *want)
{
	cleanup_err struct husk_err *err = NULL;
	struct vmboot_opts o;
	int r = vmboot_parse(argc, argv, &o, &err);

	vmboot_opts_free(&o);
	if (r != -EINVAL || !strstr(err->msg, want)) {
		printf("# %s: got %d `%s`\n", want, r, err ? err->msg : "");
		return 1;
	}
	return 0;
}

static int test_parse_errors(void)
{
	char *no_kernel[] = { "boot", "--disk", "a", "--", "true" };
	char *no_disk[] = { "boot", "--kernel", "k", "true" };
	char *no_cmd[] = { "boot", "--kernel", "k", "--disk", "a", "--" };
	char *bad_cwd[] = { "boot", "--kernel", "k", "--disk", "a", "--cwd", "rel", "true" };
	char *bad_opt[] = { "boot", "--kernel", "k", "--frob", "true" };
	char *no_val[] = { "boot", "--kernel" };
	char *cpus[] = { "boot", "--cpus", "0" };
	char *timeout[] = { "boot", "--timeout", "x" };
	char *mods[] = { "boot", "--kernel", "k", "--disk", "a", "--initrd", "i", "--modules",
			 "m", "true" };
	char *help[] = { "boot", "--help", "--frob" };
	struct vmboot_opts o;
	cleanup_err struct husk_err *err = NULL;

	CHECK(parse_fails(no_kernel, ARRAY_SIZE(no_kernel), "--kernel is required") == 0);
	CHECK(parse_fails(no_disk, ARRAY_SIZE(no_disk), "--disk is required") == 0);
	CHECK(parse_fails(no_cmd, ARRAY_SIZE(no_cmd), "no command") == 0);
	CHECK(parse_fails(bad_cwd, ARRAY_SIZE(bad_cwd), "--cwd") == 0);
	CHECK(parse_fails(bad_opt, ARRAY_SIZE(bad_opt), "unknown option --frob") == 0);
	CHECK(parse_fails(no_val, ARRAY_SIZE(no_val), "--kernel needs a value") == 0);
	CHECK(parse_fails(cpus, ARRAY_SIZE(cpus), "--cpus") == 0);
	CHECK(parse_fails(timeout, ARRAY_SIZE(timeout), "--timeout") == 0);
	CHECK(parse_fails(mods, ARRAY_SIZE(mods), "--modules") == 0);
	CHECK(vmboot_parse(ARRAY_SIZE(help), help, &o, &err) == 0 && o.help);
	vmboot_opts_free(&o);
	return 0;
}

/* ---- kernel image and command line ---- */

static void fake_bzimage(uint8_t *img, size_t len, uint16_t ver_off, const char *ver)
{
	memset(img, 0, len);
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f, img[0x207] = 0x02;
	img[0x20e] = (uint8_t)ver_off, img[0x20f] = (uint8_t)(ver_off >> 8);
	if (ver)
		memcpy(img + 0x200 + ver_off, ver, strlen(ver) + 1);
}

static int test_kernel_version(void)
{
	static uint8_t img[0x4000];
	cleanup_err struct husk_err *err = NULL;
	char v[64];

	fake_bzimage(img, sizeof(img), 0x1000, "6.1.0-18-cloud-amd64 (debian-kernel@lists) #1 SMP");
	CHECK(vmboot_kernel_version(img, sizeof(img), v, sizeof(v), &err) == 0);
	CHECK_STREQ(v, "6.1.0-18-cloud-amd64");
	/* No room for the name: refused, not cut. */
	CHECK(vmboot_kernel_version(img, sizeof(img), v, 8, &err) == -ENOEXEC);
	husk_err_free(err);
	err = NULL;
	fake_bzimage(img, sizeof(img), 0, NULL);
	CHECK(vmboot_kernel_version(img, sizeof(img), v, sizeof(v), &err) == -ENOEXEC);
	husk_err_free(err);
	err = NULL;
	fake_bzimage(img, sizeof(img), 0x3f00, NULL); /* points past the buffer */
	CHECK(vmboot_kernel_version(img, sizeof(img), v, sizeof(v), &err) == -ENOEXEC);
	husk_err_free(err);
	err = NULL;
	fake_bzimage(img, sizeof(img), 0x1000, "6.1");
	memcpy(img + 0x202, "HdrX", 4);
	CHECK(vmboot_kernel_version(img, sizeof(img), v, sizeof(v), &err) == -ENOEXEC);
	CHECK_CONTAINS(err->msg, "not a bzImage");
	husk_err_free(err);
	err = NULL;
	CHECK(vmboot_kernel_version(img, 0x100, v, sizeof(v), &err) == -ENOEXEC);
	return 0;
}

static int test_cmdline(void)
{
	cleanup_free char *quiet = vmboot_cmdline(false, NULL);
	cleanup_free char *debug = vmboot_cmdline(true, "init=/x  foo");
	size_t n = strlen(debug);

	CHECK_CONTAINS(quiet, "console=ttyS0");
	CHECK_CONTAINS(quiet, "panic=-1");
	CHECK_CONTAINS(quiet, "reboot=k");
	CHECK_CONTAINS(quiet, " quiet");
	CHECK(quiet[strlen(quiet) - 1] != ' ');
	CHECK(!strstr(debug, "quiet"));
	CHECK_CONTAINS(debug, "husk_debug=1");
	/* --cmdline comes last: the kernel takes the last of a repeated parameter. */
	CHECK(n > 13 && streq(debug + n - 13, " init=/x  foo"));
	return 0;
}

/* ---- the control loop against a fake agent ---- */

struct fake {
	struct vmboot b;
	struct vmboot_opts o;
	int agent;	  /* the agent's end of the ctl socketpair */
	int mode;	  /* what the fake guest does */
	int run_ok;	  /* the RUN message was as expected */
	int got_signal;	  /* the signal a SIGNAL message carried */
	int stopped;	  /* the host asked the VM to stop */
};

enum { FAKE_EXIT7, FAKE_SILENT, FAKE_RESET, FAKE_SIGNAL };

static int fake_recv(struct fake *f, struct agent_reader *rd, struct agent_msg *m)
{
	int r;

	while ((r = agent_reader_next(rd, m)) == 0)
		if (agent_reader_fill(rd, f->agent) <= 0)
			return -1;
	return r > 0 ? 0 : -1;
}

static void fake_end(struct fake *f, enum vm_exit how)
{
	char x = 1;

	f->b.res.exit = how;
	f->b.res.paging = "test";
	if (write(f->b.done[1], &x, 1) != 1)
		abort();
}

/* The guest: HELLO, take RUN, then behave as f->mode says; then the VM "ends". */
static void *fake_guest(void *arg)
{
	struct fake *f = arg;
	struct agent_reader rd = AGENT_READER_INIT;
	struct agent_msg hello = { .type = AGENT_MSG_HELLO, .hello = { 1, "test" } };
	struct agent_msg m, err = { .type = AGENT_MSG_ERROR, .error = "agent: it broke" };
	struct agent_msg ex = { .type = AGENT_MSG_EXIT, .exit = { AGENT_EXIT_CODE, 7 } };
	char x;

	if (f->mode == FAKE_SILENT) {
		/* Wait for the stop request, as vm_run's stop_fd does. */
		f->stopped = read(f->b.stop[0], &x, 1) == 1;
		fake_end(f, VM_EXIT_HOST);
		return NULL;
	}
	agent_msg_send(f->agent, &hello);
	if (fake_recv(f, &rd, &m) == 0) {
		f->run_ok = m.type == AGENT_MSG_RUN && streq(m.run.args[0], "sh") &&
			    streq(m.run.env[0], "PATH=/p") && streq(m.run.root_dev, "/dev/vda") &&
			    m.run.flags == AGENT_RUN_ROOT_RO && m.run.uid == 5;
		agent_msg_free(&m);
	}
	if (f->mode == FAKE_SIGNAL) {
		kill(getpid(), SIGTERM);
		if (fake_recv(f, &rd, &m) == 0 && m.type == AGENT_MSG_SIGNAL)
			f->got_signal = (int)m.signo;
		ex.exit = (struct agent_exit){ AGENT_EXIT_SIGNAL, (uint32_t)f->got_signal };
	}
	if (f->mode == FAKE_RESET) {
		fake_end(f, VM_EXIT_RESET);
	} else {
		agent_msg_send(f->agent, &err);
		agent_msg_send(f->agent, &ex);
		fake_end(f, VM_EXIT_POWEROFF);
	}
	agent_reader_free(&rd);
	return NULL;
}

static int fake_drive(struct fake *f, int mode)
{
	char *argv[] = { "boot", "--kernel", "k", "--disk", "a,ro", "--env", "PATH=/p",
			 "--user", "5", "--timeout", "1", "sh", NULL };
	cleanup_err struct husk_err *err = NULL;
	int sp[2], status;
	pthread_t t;

	memset(f, 0, sizeof(*f));
	if (vmboot_parse(ARRAY_SIZE(argv) - 1, argv, &f->o, &err) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(f->b.stop, O_CLOEXEC) < 0 || pipe2(f->b.done, O_CLOEXEC) < 0)
		abort();
	f->b.o = &f->o;
	f->b.ctl[0] = sp[0];
	f->agent = sp[1];
	f->b.serial[0] = f->b.serial[1] = -1;
	f->mode = mode;
	if (vmctl_signals(&f->b, &err) < 0)
		abort();
	f->b.t0 = vmctl_now_ns();
	pthread_create(&t, NULL, fake_guest, f);
	status = vmctl_drive(&f->b);
	pthread_join(t, NULL);
	for (int i = 0; i < 2; i++) {
		close(f->b.stop[i]);
		close(f->b.done[i]);
	}
	close(sp[0]);
	close(sp[1]);
	close(f->b.sfd);
	agent_reader_free(&f->b.rd);
	vmboot_opts_free(&f->o);
	return status;
}

static int test_ctl_exit(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	char path[128];
	struct fake f;

	snprintf(path, sizeof(path), "%s/log", t->path);
	CHECK(log_init(path, LOG_FORMAT_TEXT, LOG_WARN) == 0);
	CHECK(fake_drive(&f, FAKE_EXIT7) == 7);
	log_init(NULL, LOG_FORMAT_TEXT, LOG_WARN);
	CHECK(f.run_ok);
	CHECK(!f.b.stop_sent); /* the guest powered off by itself */
	CHECK_CONTAINS(tmpdir_read(t, "log"), "msg=\"vm: agent: it broke\"");
	return 0;
}

static int test_ctl_timeout(void)
{
	struct fake f;
	uint64_t t0 = vmctl_now_ns();

	CHECK(fake_drive(&f, FAKE_SILENT) == 1);
	CHECK(f.stopped && f.b.timed_out);
	CHECK(vmctl_now_ns() - t0 >= 1000000000ULL); /* --timeout 1 */
	return 0;
}

static int test_ctl_reset(void)
{
	struct fake f;

	CHECK(fake_drive(&f, FAKE_RESET) == 1);
	CHECK(f.run_ok && !f.b.exited);
	return 0;
}

static int test_ctl_signal(void)
{
	struct fake f;

	CHECK(fake_drive(&f, FAKE_SIGNAL) == 128 + SIGTERM);
	CHECK(f.got_signal == SIGTERM);
	return 0;
}

static const struct test tests[] = {
	{ "--memory sizes", test_sizes },
	{ "--disk IMG[,ro]", test_disks },
	{ "--user UID[:GID]", test_users },
	{ "--env replaces a key", test_env },
	{ "argv: options, --, the command's own flags", test_parse_argv },
	{ "argv: errors name the option", test_parse_errors },
	{ "kernel version from the setup header", test_kernel_version },
	{ "kernel command line", test_cmdline },
	{ "ctl: HELLO, RUN, ERROR printed, EXIT status", test_ctl_exit },
	{ "ctl: no HELLO within --timeout stops the VM", test_ctl_timeout },
	{ "ctl: a reset before EXIT is an error", test_ctl_reset },
	{ "ctl: SIGTERM is forwarded as SIGNAL", test_ctl_signal },
};
TAP_MAIN(tests)
