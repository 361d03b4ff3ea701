/* rootfs_prepare/pivot/finalize for real, as root, on a busybox rootfs in a tmpdir: each case
 * runs in a child with its own mount (and pid, maybe user) namespace, made a slave of the host
 * before anything else; the parent then checks that the host's mount table did not change.
 * Skipped (77) when not root. Never mounts, unmounts or remounts in the host namespace. */
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "rootfs/rootfs.h"
#include "tests/unit/tap.h"

#define BUSYBOX "/bin/busybox"

struct bundle {
	struct tmpdir *t;
	char *rootfs, *hostdata, *hostfile, *escape;
};

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write_all(fd, s, strlen(s)) < 0)
		abort();
	close(fd);
}

static char *read_text(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *s = NULL;

	if (fd < 0 || read_all(fd, &s, NULL) < 0)
		return NULL;
	return s;
}

/* tmpdir/{rootfs/{bin/busybox,etc/secret,evil -> /},hostdata/file,hostfile} */
static int bundle_new(struct bundle *b)
{
	cleanup_free char *bb = NULL, *cmd = NULL;

	if (access(BUSYBOX, X_OK) < 0)
		return 77;
	b->t = tmpdir_new();
	b->rootfs = xasprintf("%s/rootfs", b->t->path);
	b->hostdata = xasprintf("%s/hostdata", b->t->path);
	b->hostfile = xasprintf("%s/hostfile", b->t->path);
	b->escape = xasprintf("/husk-live-escape-%d", (int)getpid());
	cmd = xasprintf("mkdir -p %s/bin %s/etc %s && cp %s %s/bin/busybox", b->rootfs, b->rootfs,
			b->hostdata, BUSYBOX, b->rootfs);
	if (system(cmd) != 0)
		return 1;
	bb = xasprintf("%s/etc/secret", b->rootfs);
	write_file(bb, "secret\n");
	free(bb);
	bb = xasprintf("mkdir -p %s/copy/sub && echo image >%s/copy/sub/f && ln -s sub/f %s/copy/l",
		       b->rootfs, b->rootfs, b->rootfs);
	if (system(bb) != 0)
		return 1;
	free(bb);
	bb = xasprintf("%s/file", b->hostdata);
	write_file(bb, "hostdata\n");
	write_file(b->hostfile, "hostfile\n");
	free(bb);
	bb = xasprintf("%s/evil", b->rootfs);
	return symlink("/", bb) < 0 ? 1 : 0;
}

static void bundle_free(struct bundle *b)
{
	tmpdir_freep(&b->t);
	free(b->rootfs);
	free(b->hostdata);
	free(b->hostfile);
	free(b->escape);
}

/* A NULL-terminated option list that outlives the caller (the tests never free configs). */
static char **strv_make(const char *first, ...)
{
	char **v = xcalloc(16, sizeof(*v));
	size_t n = 0;
	va_list ap;

	va_start(ap, first);
	for (const char *s = first; s && n < 15; s = va_arg(ap, const char *))
		v[n++] = (char *)s;
	va_end(ap);
	return v;
}
#define OPTS(...) strv_make(__VA_ARGS__, NULL)

static struct oci_mount mnt(const char *dest, const char *type, const char *src, char **opts)
{
	return (struct oci_mount){ .destination = (char *)dest, .type = (char *)type,
				   .source = (char *)src, .options = opts };
}

static void fill_config(struct oci_config *c, struct oci_mount *m, const struct bundle *b)
{
	static struct oci_device devs[] = {
		{ .path = "/dev/net/tun", .type = 'c', .major = 10, .minor = 200,
		  .file_mode = { true, 0600 } },
	};
	static char *masked[] = { "/proc/kcore", "/proc/cmdline", "/proc/acpi", "/etc/secret",
				  "/no/such/path", NULL };
	static char *ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/nothing-here", NULL };
	size_t n = 0;

	m[n++] = mnt("/proc", "proc", "proc", OPTS("nosuid", "noexec", "nodev"));
	m[n++] = mnt("/dev", "tmpfs", "tmpfs",
				     OPTS("nosuid", "strictatime", "mode=755", "size=65536k"));
	m[n++] = mnt("/dev/pts", "devpts", "devpts", OPTS("nosuid", "noexec"));
	m[n++] = mnt("/dev/shm", "tmpfs", "shm",
				     OPTS("nosuid", "noexec", "nodev", "mode=1777"));
	m[n++] = mnt("/sys", "sysfs", "sysfs", OPTS("nosuid", "noexec", "ro"));
	m[n++] = mnt("/sys/fs/cgroup", "cgroup", "cgroup",
				     OPTS("nosuid", "noexec", "nodev", "relatime", "ro"));
	m[n++] = mnt("/data", NULL, b->hostdata, OPTS("rbind", "ro", "nosuid"));
	m[n++] = mnt("/etc/hostfile", "bind", b->hostfile, OPTS("bind"));
	/* Through the rootfs's "evil -> /" symlink: must land in the rootfs, not on the host. */
	m[n++] = mnt(xasprintf("/evil%s", b->escape), "tmpfs", "tmpfs",
				     OPTS("size=1m"));
	m[n++] = mnt("/tmpro", "tmpfs", "tmpfs", OPTS("rro", "rnoexec"));
	m[n++] = mnt("/copy", "tmpfs", "tmpfs", OPTS("tmpcopyup", "ro", "mode=0750", "size=1m"));
	memset(c, 0, sizeof(*c));
	c->root = xcalloc(1, sizeof(*c->root));
	c->root->path = b->rootfs;
	c->mounts = m;
	c->n_mounts = n;
	c->linux.devices = devs;
	c->linux.n_devices = ARRAY_SIZE(devs);
	c->linux.masked_paths = masked;
	c->linux.readonly_paths = ro;
}

#define NMOUNTS 11

/* ---- checks run inside the container, after rootfs_finalize ---- */

static int check_node(const char *path, mode_t type, unsigned maj, unsigned min, mode_t perm)
{
	struct stat st;

	CHECK(lstat(path, &st) == 0);
	if ((st.st_mode & S_IFMT) != type || major(st.st_rdev) != maj ||
	    minor(st.st_rdev) != min || (perm && (st.st_mode & 07777) != perm)) {
		printf("# %s: mode %o rdev %u:%u\n", path, st.st_mode, major(st.st_rdev),
		       minor(st.st_rdev));
		return 1;
	}
	return 0;
}

static int check_link(const char *path, const char *target)
{
	char buf[256];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_STREQ(buf, target);
	return 0;
}

static bool has_flag(const char *path, unsigned long flag)
{
	struct statvfs sv;

	return statvfs(path, &sv) == 0 && (sv.f_flag & flag);
}

static bool fs_is(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}

static int check_dev(bool userns)
{
	/* In a user namespace the nodes are bind mounts of the host's: same numbers. */
	CHECK(check_node("/dev/null", S_IFCHR, 1, 3, 0666) == 0);
	CHECK(check_node("/dev/zero", S_IFCHR, 1, 5, 0) == 0);
	CHECK(check_node("/dev/urandom", S_IFCHR, 1, 9, 0) == 0);
	CHECK(check_node("/dev/tty", S_IFCHR, 5, 0, 0) == 0);
	CHECK(check_node("/dev/net/tun", S_IFCHR, 10, 200, userns ? 0 : 0600) == 0);
	CHECK(check_link("/dev/ptmx", "pts/ptmx") == 0);
	CHECK(check_link("/dev/fd", "/proc/self/fd") == 0);
	CHECK(check_link("/dev/stderr", "/proc/self/fd/2") == 0);
	CHECK(access("/dev/pts/ptmx", F_OK) == 0);
	CHECK(fs_is("/dev/pts", DEVPTS_SUPER_MAGIC));
	CHECK(fs_is("/dev/shm", TMPFS_MAGIC) && has_flag("/dev/shm", ST_NOEXEC));
	return 0;
}

static int check_mounts(const char *escape)
{
	cleanup_free char *data = read_text("/data/file");
	cleanup_free char *hostfile = read_text("/etc/hostfile");

	CHECK(getpid() == 1);
	CHECK(access("/bin/busybox", X_OK) == 0);
	CHECK_STREQ(data, "hostdata\n");
	CHECK(has_flag("/data", ST_RDONLY) && has_flag("/data", ST_NOSUID));
	CHECK(open("/data/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	CHECK_STREQ(hostfile, "hostfile\n");
	CHECK(fs_is(escape, TMPFS_MAGIC));
	CHECK(fs_is("/tmpro", TMPFS_MAGIC) && has_flag("/tmpro", ST_RDONLY) &&
	      has_flag("/tmpro", ST_NOEXEC));
	CHECK(fs_is("/sys", SYSFS_MAGIC) && has_flag("/sys", ST_RDONLY));
	CHECK(fs_is("/copy", TMPFS_MAGIC) && has_flag("/copy", ST_RDONLY));
	CHECK(check_link("/copy/l", "sub/f") == 0);
	free(data);
	data = read_text("/copy/l");
	CHECK_STREQ(data, "image\n");
	/* Hybrid or v1 host: a read-only tmpfs with the hierarchies; v2: cgroup2. */
	if (fs_is("/sys/fs/cgroup", TMPFS_MAGIC))
		CHECK(access("/sys/fs/cgroup/memory", F_OK) == 0 ||
		      access("/sys/fs/cgroup/unified", F_OK) == 0);
	else
		CHECK(fs_is("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC));
	CHECK(has_flag("/sys/fs/cgroup", ST_RDONLY));
	return 0;
}

static int check_paths(void)
{
	cleanup_free char *secret = read_text("/etc/secret");
	struct stat st;

	CHECK(secret && secret[0] == '\0');			/* masked by /dev/null */
	CHECK(check_node("/proc/cmdline", S_IFCHR, 1, 3, 0) == 0);
	if (stat("/proc/kcore", &st) == 0)
		CHECK(check_node("/proc/kcore", S_IFCHR, 1, 3, 0) == 0);
	if (stat("/proc/acpi", &st) == 0)
		CHECK(fs_is("/proc/acpi", TMPFS_MAGIC) && has_flag("/proc/acpi", ST_RDONLY));
	CHECK(has_flag("/proc/sys", ST_RDONLY) && has_flag("/proc/sys", ST_NOSUID));
	CHECK(!has_flag("/proc", ST_RDONLY));
	if (stat("/proc/sysrq-trigger", &st) == 0)
		CHECK(has_flag("/proc/sysrq-trigger", ST_RDONLY));
	return 0;
}

/* The rootfs must be usable: a static busybox runs from it. */
static int check_exec(void)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/bin/busybox", "busybox", "test", "-c", "/dev/null", NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}

/* ---- running a case in its own namespaces ---- */

struct live_case {
	bool userns, no_pivot, readonly;
	const char *propagation;
};

static int in_container(const struct bundle *b, const struct live_case *lc)
{
	struct oci_mount m[NMOUNTS];
	struct oci_config cfg;
	struct rootfs_opts o = { .cfg = &cfg, .rootfs = b->rootfs, .no_pivot = lc->no_pivot,
				 .in_userns = lc->userns };
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *escape = NULL;

	fill_config(&cfg, m, b);
	escape = xstrdup(b->escape);
	cfg.root->readonly = lc->readonly;
	cfg.linux.rootfs_propagation = (char *)lc->propagation;
	if (rootfs_prepare(&o, &err) < 0 || rootfs_pivot(&o, &err) < 0 ||
	    rootfs_finalize(&o, &err) < 0) {
		printf("# %s\n", err->msg);
		return 1;
	}
	CHECK(check_mounts(escape) == 0);
	CHECK(check_dev(lc->userns) == 0);
	CHECK(check_paths() == 0);
	CHECK(check_exec() == 0);
	CHECK(has_flag("/", ST_RDONLY) == lc->readonly);
	return 0;
}

static int write_proc(const char *file, const char *s)
{
	cleanup_close int fd = open(file, O_WRONLY | O_CLOEXEC);

	return fd < 0 || write_all(fd, s, strlen(s)) < 0 ? -1 : 0;
}

/* New user namespace mapping only root to root: enough to own the new namespaces, and the
 * host's flags on /proc, /sys, ... become locked, as for a rootless container. */
static int enter_userns(void)
{
	if (unshare(CLONE_NEWUSER) < 0 || write_proc("/proc/self/setgroups", "deny") < 0 ||
	    write_proc("/proc/self/uid_map", "0 0 1") < 0 ||
	    write_proc("/proc/self/gid_map", "0 0 1") < 0)
		return -1;
	return 0;
}

/* Child: own namespaces, / a slave before anything else, then pid 1 of a new pid namespace. */
static void child(int (*fn)(const struct bundle *, const void *), const struct bundle *b,
		  const void *arg, bool userns)
{
	pid_t pid;
	int st;

	if (userns && enter_userns() < 0)
		_exit(2);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		_exit(3);
	if (unshare(CLONE_NEWPID) < 0)
		_exit(4);
	pid = fork();
	if (pid == 0) {
		int r = fn(b, arg);

		fflush(stdout);
		_exit(r);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		_exit(5);
	fflush(stdout);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 6);
}

static int run_case(int (*fn)(const struct bundle *, const void *), const void *arg, bool userns)
{
	struct bundle b = { 0 };
	cleanup_free char *before = NULL, *after = NULL;
	int r, st;
	pid_t pid;

	if (geteuid() != 0)
		return 77;
	r = bundle_new(&b);
	if (r != 0)
		return r;
	before = read_text("/proc/self/mountinfo");
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child(fn, &b, arg, userns);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		abort();
	after = read_text("/proc/self/mountinfo");
	r = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	if (r != 0 && r != 77)
		printf("# case exited with %d\n", r);
	if (!before || !after || strcmp(before, after) != 0) {
		/* Something leaked into the host: leave the tmpdir for inspection rather than
		 * rm -rf through a mount. */
		printf("# the host mount table changed!\n");
		b.t = NULL;
		return 1;
	}
	if (access(b.escape, F_OK) == 0) {
		printf("# %s was created on the host\n", b.escape);
		r = 1;
	}
	bundle_free(&b);
	return r;
}

static int case_container(const struct bundle *b, const void *arg)
{
	return in_container(b, arg);
}

static int test_pivot(void)
{
	static const struct live_case c = { 0 };

	return run_case(case_container, &c, false);
}

static int test_no_pivot_readonly(void)
{
	static const struct live_case c = { .no_pivot = true, .readonly = true,
					    .propagation = "rprivate" };

	return run_case(case_container, &c, false);
}

static int test_userns(void)
{
	static const struct live_case c = { .userns = true, .readonly = true };

	return run_case(case_container, &c, true);
}

/* Errors name the mount and the reason; nothing is left mounted on the host. */
static int case_bad_type(const struct bundle *b, const void *arg)
{
	struct oci_mount m[2] = { mnt("/proc", "proc", "proc", OPTS("nosuid")),
				  mnt("/x", "nosuchfs", "none", OPTS("ro")) };
	struct oci_config cfg = { .mounts = m, .n_mounts = 2 };
	struct rootfs_opts o = { .cfg = &cfg, .rootfs = b->rootfs };
	cleanup_err struct husk_err *err = NULL;

	CHECK(rootfs_prepare(&o, &err) == -ENODEV);
	CHECK_STREQ(err->msg, "mounts[1] (/x): mount nosuchfs: No such device");
	return 0;
}

/* An idmap the runtime did not prepare is refused, never mounted without its mapping. */
static int case_idmap_unprepared(const struct bundle *b, const void *arg)
{
	struct oci_mount m[1] = { mnt("/data", "bind", b->hostdata, OPTS("rbind", "idmap")) };
	struct oci_config cfg = { .mounts = m, .n_mounts = 1 };
	struct rootfs_opts o = { .cfg = &cfg, .rootfs = b->rootfs };
	cleanup_err struct husk_err *err = NULL;

	CHECK(rootfs_prepare(&o, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "mounts[0] (/data): options: idmapped mount not prepared");
	return 0;
}

/* The runtime's half (rootfs_idmap_open) then the init's (rootfs_prepare): root's file in
 * hostdata shows as uid/gid 1000 at /data, and stays root's on the host. */
static int case_idmap(const struct bundle *b, const void *arg)
{
	struct oci_idmap map[1] = { { .container_id = 0, .host_id = 1000, .size = 1 } };
	struct oci_mount m[1] = { mnt("/data", "bind", b->hostdata, OPTS("bind", "idmap")) };
	struct oci_config cfg = { .mounts = m, .n_mounts = 1 };
	struct rootfs_opts o = { .cfg = &cfg, .rootfs = b->rootfs, .host_mntns = true };
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *seen = xasprintf("%s/data/file", b->rootfs);
	cleanup_free char *host = xasprintf("%s/file", b->hostdata);
	int *fds = NULL;
	struct stat st;
	int r;

	/* This case is pid 1 of a new pid namespace: its /proc must say so, as the runtime's
	 * does, since the mapping is written to /proc/PID of a child. */
	CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
	m[0].uid_mappings = m[0].gid_mappings = map;
	m[0].n_uid_mappings = m[0].n_gid_mappings = 1;
	r = rootfs_idmap_open(&cfg, "/", -1, &fds, &err);
	if (r < 0)
		printf("# rootfs_idmap_open: %s\n", err->msg);
	CHECK(r == 0);
	CHECK(fds && fds[0] >= 0);
	o.idmap_fds = fds;
	r = rootfs_prepare(&o, &err);
	rootfs_idmap_close(fds, 1);
	CHECK(r == 0);
	CHECK(stat(seen, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
	CHECK(stat(host, &st) == 0 && st.st_uid == 0);
	return 0;
}

static int test_errors(void)
{
	int r = run_case(case_bad_type, NULL, false);

	if (!r)
		r = run_case(case_idmap_unprepared, NULL, false);
	return r ? r : run_case(case_idmap, NULL, false);
}

static int test_rshared(void)
{
	static const struct live_case c = { .propagation = "rshared" };

	return run_case(case_container, &c, false);
}

static const struct test tests[] = {
	{ "live: pivot_root, mounts, /dev, masked and readonly paths", test_pivot },
	{ "live: no-pivot, readonly root, rprivate", test_no_pivot_readonly },
	{ "live: user namespace (devices bound, locked flags kept)", test_userns },
	{ "live: rootfsPropagation rshared still pivots", test_rshared },
	{ "live: errors name the mount", test_errors },
};
TAP_MAIN(tests)
