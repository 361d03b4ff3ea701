/* The lifecycle steps in order: create (config → state → init), start (exec fifo), kill,
 * delete. Each created thing pushes its undo, so a failure leaves the host as it was. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/undo.h"
#include "common/util.h"
#include "container.h"
#include "cgroups/cgroups.h"
#include "hooks/hook.h"
#include "oci/state.h"
#include "process.h"
#include "rootfs/rootfs.h"

#define KILL_WAIT_MS 10000

struct created {
	struct store store;
	struct ct ct;
	struct cgroup *cg;
	char *cfg_buf;
	size_t cfg_len;
	struct oci_config *cfg;
	struct launch l;
};

#define SAVED_CONFIG "config.json"

static int read_config(const char *dir, char **buf, size_t *len, struct husk_err **err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return husk_err_set(err, errno, "--bundle: open `%s`", dir);
	if (fd_read_at(dfd, SAVED_CONFIG, buf, len, err) < 0)
		return husk_err_wrap(err, "bundle `%s`", dir);
	return 0;
}

/* poststart and poststop run after create has returned: they come from the copy taken at
 * create time, since later edits of config.json must not affect the container. */
static void run_late_hooks(const struct ct *c, enum oci_hook_kind kind, const char *status)
{
	cleanup_free char *buf = NULL, *state = NULL;
	struct oci_config *cfg = NULL;
	struct husk_err *err = NULL;
	size_t len;

	if (fd_read_at(c->dfd, SAVED_CONFIG, &buf, &len, NULL) < 0)
		return;
	/* No such key anywhere in the text: no such hooks, and no parse on the start path. */
	if (!strstr(buf, hook_kind_name(kind)))
		return;
	if (oci_config_parse(buf, len, &cfg, &err) < 0) {
		log_warn("container \"%s\": %s hooks not run: %s", c->id, hook_kind_name(kind),
			 err->msg);
		husk_err_free(err);
		return;
	}
	state = oci_state_json(c->st, status, false, &len);
	/* config.md: a failing poststart or poststop hook is a warning, the lifecycle goes on. */
	hooks_run_warn(cfg, kind, state, len);
	oci_config_free(cfg);
}

static void undo_state_dir(void *arg)
{
	struct created *c = arg;

	store_remove(&c->store, &c->ct, NULL);
}

static void undo_net(void *arg)
{
	struct created *c = arg;

	if (c->l.net_up)
		netns_teardown(c->l.opts->id, NULL);
}

#define HOST_MOUNTS "host-mounts"
#define CGROUP_MARK "cgroup"

/* The cgroup's path in the state directory, as a symlink (one atomic syscall), right after
 * the cgroup is made: a create killed before it wrote state.json leaves a container that only
 * `delete --force` can clean, and state.json is where delete finds the cgroup otherwise. */
static int remember_cgroup(struct created *c, struct husk_err **err)
{
	if (c->cg && c->cg->path && symlinkat(c->cg->path, c->ct.dfd, CGROUP_MARK) < 0)
		return husk_err_set(err, errno, "record the cgroup in the state directory");
	return 0;
}

/* A container without its own mount namespace mounted into its rootfs in ours: the state
 * directory remembers the rootfs (as mountinfo spells it) so delete can unmount it. */
static int remember_host_mounts(struct created *c, struct husk_err **err)
{
	char real[PATH_MAX];

	if (oci_config_ns(c->cfg, OCI_NS_MOUNT))
		return 0;
	if (!realpath(c->l.rootfs, real))
		return husk_err_set(err, errno, "root.path: resolve `%s`", c->l.rootfs);
	return fd_write_atomic(c->ct.dfd, HOST_MOUNTS, real, strlen(real), 0600, err);
}

static void unmount_host_mounts(int state_dfd)
{
	cleanup_free char *rootfs = NULL;
	struct husk_err *err = NULL;

	if (fd_read_at(state_dfd, HOST_MOUNTS, &rootfs, NULL, NULL) < 0 || !*rootfs)
		return;
	if (rootfs_unmount_under(rootfs, &err) < 0) {
		log_warn("%s", err->msg);
		husk_err_free(err);
	}
}

static void undo_host_mounts(void *arg)
{
	struct created *c = arg;

	unmount_host_mounts(c->ct.dfd);
}

static void undo_init(void *arg)
{
	struct created *c = arg;

	if (c->l.pid > 0) {
		kill(c->l.pid, SIGKILL);
		waitpid(c->l.pid, NULL, 0);
		c->l.pid = 0;
	}
}

static char *abs_path(const char *base, const char *p)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return xstrdup(p);
	if (base)
		return xasprintf("%s/%s", base, p);
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(p);
	return streq(p, ".") ? xstrdup(cwd) : xasprintf("%s/%s", cwd, p);
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* runc's rule (config-linux.md#sysctl): only namespaced sysctls, and only when the container
 * has its own namespace of that kind. */
static int check_sysctls(const struct oci_config *cfg, struct husk_err **err)
{
	static const struct {
		const char *prefix;
		enum oci_ns_type ns;
	} allowed[] = {
		{ "kernel.msgmax", OCI_NS_IPC }, { "kernel.msgmnb", OCI_NS_IPC },
		{ "kernel.msgmni", OCI_NS_IPC }, { "kernel.sem", OCI_NS_IPC },
		{ "kernel.shmall", OCI_NS_IPC }, { "kernel.shmmax", OCI_NS_IPC },
		{ "kernel.shmmni", OCI_NS_IPC }, { "kernel.shm_rmid_forced", OCI_NS_IPC },
		{ "fs.mqueue.", OCI_NS_IPC },	 { "net.", OCI_NS_NETWORK },
		{ "kernel.hostname", OCI_NS_UTS }, { "kernel.domainname", OCI_NS_UTS },
	};

	for (size_t i = 0; i < cfg->linux.sysctl.n; i++) {
		cleanup_free char *key = xstrdup(cfg->linux.sysctl.items[i].key);
		size_t k;

		for (char *p = key; *p; p++)
			*p = *p == '/' ? '.' : *p;
		for (k = 0; k < ARRAY_SIZE(allowed); k++)
			if (startswith(key, allowed[k].prefix))
				break;
		if (k == ARRAY_SIZE(allowed))
			return husk_err_msg(err, EINVAL, "linux.sysctl[\"%s\"]: not a namespaced "
					    "sysctl: a container may not set it",
					    cfg->linux.sysctl.items[i].key);
		if (!oci_config_ns(cfg, allowed[k].ns))
			return husk_err_msg(err, EINVAL, "linux.sysctl[\"%s\"]: needs the container's "
					    "own %s namespace", cfg->linux.sysctl.items[i].key,
					    oci_ns_name(allowed[k].ns));
	}
	return 0;
}

/* What the runtime itself needs beyond what the schema validator checks. */
static int check_runnable(const struct oci_config *cfg, const char *rootfs, struct husk_err **err)
{
	struct stat st;

	if (!cfg->root || !cfg->root->path)
		return husk_err_msg(err, EINVAL, "root.path: required");
	if (stat(rootfs, &st) < 0)
		return husk_err_set(err, errno, "root.path: stat `%s`", rootfs);
	if (!S_ISDIR(st.st_mode))
		return husk_err_msg(err, ENOTDIR, "root.path: `%s` is not a directory", rootfs);
	if (!cfg->process)
		return husk_err_msg(err, EINVAL, "process: required to create a container");
	if (!cfg->process->args || !cfg->process->args[0])
		return husk_err_msg(err, EINVAL, "process.args: must not be empty");
	/* Without a mount namespace "/" is the host's own: neither may be applied to it. */
	if (!oci_config_ns(cfg, OCI_NS_MOUNT) && cfg->root->readonly)
		return husk_err_msg(err, EINVAL, "root.readonly: needs a mount namespace of the "
				    "container's own (linux.namespaces)");
	if (!oci_config_ns(cfg, OCI_NS_MOUNT) && cfg->linux.rootfs_propagation)
		return husk_err_msg(err, EINVAL, "linux.rootfsPropagation: needs a mount namespace of "
				    "the container's own (linux.namespaces)");
	return check_sysctls(cfg, err);
}

static void env_append(struct oci_process *p, const char *kv)
{
	size_t n = strv_len(p->env);

	p->env = xrealloc(p->env, (n + 2) * sizeof(*p->env));
	p->env[n] = xstrdup(kv);
	p->env[n + 1] = NULL;
}

/* What the caller's environment asks of the container, as runc honours it:
 * LISTEN_FDS (socket activation: those fds come first, then --preserve-fds) and
 * NOTIFY_SOCKET (the caller's socket is bound into the container at the same path). */
static int caller_env(struct created *c, struct husk_err **err)
{
	const char *listen = getenv("LISTEN_FDS"), *notify = getenv("NOTIFY_SOCKET");
	struct oci_process *p = c->cfg->process;
	char kv[64];
	long n;

	if (listen && (n = strtol(listen, NULL, 10)) > 0 && n < 1000) {
		c->l.listen_fds = (int)n;
		snprintf(kv, sizeof(kv), "LISTEN_FDS=%ld", n);
		env_append(p, kv);
		env_append(p, "LISTEN_PID=1");
	}
	if (notify && notify[0] == '/') {
		struct oci_mount *m;
		struct stat st;

		if (stat(notify, &st) < 0 || !S_ISSOCK(st.st_mode))
			return husk_err_msg(err, EINVAL, "NOTIFY_SOCKET: `%s` is not a socket", notify);
		c->cfg->mounts = xrealloc(c->cfg->mounts, (c->cfg->n_mounts + 1) * sizeof(*m));
		m = &c->cfg->mounts[c->cfg->n_mounts++];
		*m = (struct oci_mount){ .destination = xstrdup(notify), .type = xstrdup("bind"),
					 .source = xstrdup(notify), .options = xcalloc(3, sizeof(char *)) };
		m->options[0] = xstrdup("bind");
		m->options[1] = xstrdup("nosuid");
		cleanup_free char *var = xasprintf("NOTIFY_SOCKET=%s", notify);

		env_append(p, var);
	}
	return 0;
}

static int load_config(struct created *c, const struct create_opts *o, struct husk_err **err)
{
	int r;

	c->l.bundle = abs_path(NULL, o->bundle ? o->bundle : ".");
	r = read_config(c->l.bundle, &c->cfg_buf, &c->cfg_len, err);
	if (r < 0)
		return r;
	r = oci_config_parse(c->cfg_buf, c->cfg_len, &c->cfg, err);
	if (r < 0)
		return husk_err_wrap(err, "config.json");
	log_debug("create %s: config %s/config.json loaded", o->id, c->l.bundle);
	if ((r = netns_config_parse(c->cfg, &c->l.net, err)) < 0)
		return r;
	if (netns_config_wanted(&c->l.net) && !oci_config_ns(c->cfg, OCI_NS_NETWORK))
		return husk_err_msg(err, EINVAL, "annotation run.husk.net.*: needs a network namespace "
				    "in linux.namespaces");
	if (c->cfg->process && (r = caller_env(c, err)) < 0)
		return r;
	c->l.rootfs = abs_path(c->l.bundle, c->cfg->root && c->cfg->root->path ? c->cfg->root->path
									      : "rootfs");
	return check_runnable(c->cfg, c->l.rootfs, err);
}

/* The caller's name from /etc/passwd, read directly as runc does: no NSS, which a static husk
 * could not load. runc records "" for root; `list` prints it as root. */
static char *owner_name(void)
{
	uid_t uid = geteuid();
	cleanup_fclose FILE *f = NULL;
	struct passwd *pw;

	if (uid == 0 || !(f = fopen("/etc/passwd", "re")))
		return xstrdup("");
	while ((pw = fgetpwent(f)))
		if (pw->pw_uid == uid)
			return xstrdup(pw->pw_name);
	return xstrdup("");
}

static int make_cgroup(struct created *c, const struct create_opts *o, struct husk_err **err)
{
	const struct oci_linux *lx = &c->cfg->linux;
	struct cgroup_config cc = { .cgroups_path = lx->cgroups_path, .id = o->id,
				    .res = lx->resources, .devices = lx->devices,
				    .n_devices = lx->n_devices };
	int r;

	r = cgroup_create(&cc, &c->cg, err);
	/* Rootless, as runc: a user without a delegated cgroup cannot make one; with nothing to
	 * limit, the container stays in the caller's cgroup instead of failing. */
	if (r < 0 && geteuid() != 0 && !lx->resources && !lx->n_devices &&
	    ((*err)->code == EACCES || (*err)->code == EPERM || (*err)->code == EROFS)) {
		log_debug("cgroups: %s: rootless, no cgroup of its own", (*err)->msg);
		husk_err_free(*err);
		*err = NULL;
		c->cg = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	c->l.cgroup_fd = c->cg->dfd;
	c->l.cgroup_path = c->cg->path;
	return 0;
}

static int record_state(struct created *c, const struct create_opts *o, struct husk_err **err)
{
	struct husk_state *st = xcalloc(1, sizeof(*st));

	st->version = 1;
	st->id = xstrdup(o->id);
	st->bundle = xstrdup(c->l.bundle);
	st->rootfs = xstrdup(c->l.rootfs);
	st->created = now_rfc3339();
	st->owner = owner_name();
	st->pid = c->l.pid;
	st->pid_start = proc_start_time(c->l.pid);
	st->created_done = true;
	st->isolation = xstrdup("process");
	st->cgroup_path = c->cg && c->cg->path ? xstrdup(c->cg->path) : NULL;
	st->own_pidns = oci_config_ns(c->cfg, OCI_NS_PID) && !oci_config_ns(c->cfg, OCI_NS_PID)->path;
	for (size_t i = 0; i < c->cfg->annotations.n; i++) {
		struct oci_map *m = &st->annotations;

		m->items = xrealloc(m->items, (m->n + 1) * sizeof(*m->items));
		m->items[m->n].key = xstrdup(c->cfg->annotations.items[i].key);
		m->items[m->n++].value = xstrdup(c->cfg->annotations.items[i].value);
	}
	c->ct.st = st;
	return store_save(&c->ct, err);
}

int container_write_pid_file(const char *path, pid_t pid, struct husk_err **err)
{
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : path;
	cleanup_close int dfd = -1;
	char buf[24];

	if (slash == dir)
		dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash && (*slash = '\0', 1))
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_err_set(err, errno, "--pid-file: open directory of `%s`", path);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (fd_write_atomic(dfd, base, buf, strlen(buf), 0644, err) < 0)
		return husk_err_wrap(err, "--pid-file");
	return 0;
}

static void created_free(struct created *c)
{
	launch_cleanup(&c->l);
	if (c->l.fifo_dirfd >= 0)
		close(c->l.fifo_dirfd);
	ct_release(&c->ct);
	store_close(&c->store);
	cgroup_free(c->cg);
	netns_config_free(&c->l.net);
	oci_config_free(c->cfg);
	free(c->cfg_buf);
	free(c->l.bundle);
	free(c->l.rootfs);
}

static void created_init(struct created *c)
{
	*c = (struct created){ .ct.dfd = -1, .store.dfd = -1, .l.fifo_dirfd = -1,
			       .l.console_fd = -1, .l.tty_peer = -1, .l.sync_fd = { -1, -1 },
			       .l.cgroup_fd = -1 };
	for (size_t i = 0; i < ARRAY_SIZE(c->l.ns_fd); i++)
		c->l.ns_fd[i] = -1;
}

/* Create up to a waiting init; on success *c holds the container (its init is l.pid). */
static int create_steps(struct created *c, const struct create_opts *o, struct husk_err **err)
{
	cleanup_undo struct undo u = UNDO_INIT;
	int r;

	if ((r = load_config(c, o, err)) < 0)
		return r;
	if ((r = store_open(o->root, true, &c->store, err)) < 0)
		return r;
	if ((r = store_reserve(&c->store, o->id, &c->ct, err)) < 0)
		return r;
	undo_push(&u, undo_state_dir, c);
	/* 0622 despite the umask: an init that is root only in its user namespace must still
	 * be able to open it for writing. */
	if (mkfifoat(c->ct.dfd, "exec.fifo", 0622) < 0 || fchmodat(c->ct.dfd, "exec.fifo", 0622, 0) < 0)
		return husk_err_set(err, errno, "create exec.fifo");
	c->l.fifo_dirfd = openat(c->ct.dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->l.fifo_dirfd < 0)
		return husk_err_set(err, errno, "open state directory");
	c->l.opts = o;
	c->l.cfg = c->cfg;
	c->l.state_dfd = c->ct.dfd;
	if ((r = make_cgroup(c, o, err)) < 0)
		return r;
	undo_push(&u, cgroup_remove_undo, c->cg);
	if ((r = remember_cgroup(c, err)) < 0)
		return r;
	undo_push(&u, undo_net, c);
	if ((r = remember_host_mounts(c, err)) < 0)
		return r;
	undo_push(&u, undo_host_mounts, c);
	if ((r = launch_prepare(&c->l, err)) < 0 || (r = launch_spawn(&c->l, err)) < 0)
		return r;
	log_debug("create %s: init %d is ready", o->id, (int)c->l.pid);
	undo_push(&u, undo_init, c);
	if ((r = record_state(c, o, err)) < 0)
		return r;
	/* exec, poststart and poststop use this copy: later edits of the bundle's config.json
	 * must not affect the container (runtime.md#lifecycle step 2). */
	if ((r = fd_write_atomic(c->ct.dfd, SAVED_CONFIG, c->cfg_buf, c->cfg_len, 0600, err)) < 0)
		return r;
	if (o->pid_file && (r = container_write_pid_file(o->pid_file, c->l.pid, err)) < 0)
		return r;
	undo_commit(&u);
	return 0;
}

int container_create(const struct create_opts *o, struct husk_err **err)
{
	struct created c;
	int r;

	created_init(&c);
	r = create_steps(&c, o, err);
	created_free(&c);
	return r;
}

/* Wait until the process behind pidfd has exited (it may be someone else's child). */
static int wait_pidfd(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* Release the init waiting in exec.fifo (runtime.md#start). */
static int release_init(struct ct *c, struct husk_err **err)
{
	/* The pidfd first: once the fifo is open the program may run and exit at once. */
	cleanup_close int pidfd = ct_pidfd(c);
	cleanup_close int fifo = -1;
	bool dead = false;
	char b, msg[2048];
	size_t got = 0;

	if (pidfd < 0)
		return husk_err_msg(err, ESRCH, "cannot start a container that has stopped");
	fifo = openat(c->dfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0)
		return husk_err_set(err, errno, "container \"%s\": open exec.fifo", c->id);
	for (;;) {
		struct pollfd p[2] = { { .fd = fifo, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		ssize_t n = read(fifo, &b, 1);

		if (n == 1)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return husk_err_set(err, errno, "container \"%s\": read exec.fifo", c->id);
		/* The init may write its byte and exit before we look: only a read that finds
		 * nothing after its exit means it died without being released. */
		if (dead)
			return husk_err_msg(err, ESRCH, "container \"%s\": init exited before start",
					    c->id);
		if (poll(p, 2, 100) < 0 && errno != EINTR)
			return husk_err_set(err, errno, "container \"%s\": wait for init", c->id);
		dead = p[1].revents & POLLIN;
	}
	/* Then EOF: the init's end closes on execve. Text before it is the message of a failed
	 * startContainer hook (the init wrote it and exited). */
	for (;;) {
		struct pollfd p[2] = { { .fd = fifo, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		ssize_t n = read(fifo, msg + got, sizeof(msg) - 1 - got);

		if (n > 0) {
			got += (size_t)n;
			if (got < sizeof(msg) - 1)
				continue;
		}
		if (n == 0 || got == sizeof(msg) - 1 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if ((p[1].revents & POLLIN) && !(p[0].revents & (POLLIN | POLLHUP)))
			break;
	}
	unlinkat(c->dfd, "exec.fifo", 0);
	if (got > 0) {
		msg[got] = '\0';
		return husk_err_msg(err, ECANCELED, "%s", msg);
	}
	log_debug("start %s: init %d released", c->id, c->st->pid);
	return 0;
}

static int start_loaded(struct ct *c, struct husk_err **err)
{
	int r;

	switch (ct_status(c)) {
	case CT_CREATED:
		r = release_init(c, err);
		if (r == 0)
			run_late_hooks(c, OCI_HOOK_POSTSTART, "running");
		return r;
	case CT_STOPPED:
		return husk_err_msg(err, EINVAL, "cannot start a container that has stopped");
	case CT_CREATING:
		return husk_err_msg(err, EBUSY, "cannot start a container that is still being created");
	default:
		return husk_err_msg(err, EINVAL, "cannot start an already running container");
	}
}

int container_start(const char *root, const char *id, struct husk_err **err)
{
	struct store s = { .dfd = -1 };
	struct ct c = { .dfd = -1 };
	int r;

	r = store_open_ct(root, id, true, &s, &c, err);
	if (r == 0)
		r = start_loaded(&c, err);
	store_close_ct(&s, &c);
	return r;
}

/* Processes in the same pid namespace as the init, for kill --all without a cgroup. */
static int signal_pidns(const struct ct *c, int sig)
{
	char path[64], target[64], link[64];
	struct dirent *de;
	DIR *d;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", c->st->pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name);

		if (pid <= 0 || pid == c->st->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = '\0', streq(link, target)))
			kill(pid, sig);
	}
	closedir(d);
	return 0;
}

static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? (pid_t)atoi(p + 4) : -1;
}

/* Without its own pid namespace (and until a cgroup tracks it), a container's processes are
 * the init's descendants: signal every process whose parent chain reaches the init. */
static void signal_descendants(pid_t init, int sig)
{
	pid_t *pids = NULL, *ppids = NULL, *marked = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	bool grew = true;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == init)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			pids = xrealloc(pids, cap * sizeof(*pids));
			ppids = xrealloc(ppids, cap * sizeof(*ppids));
		}
		pids[n] = pid;
		ppids[n++] = proc_ppid(pid);
	}
	closedir(d);
	marked = xcalloc(n + 1, sizeof(*marked));
	/* Fixed point over the parent links: a process is in if its parent is the init or in. */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (marked[i])
				continue;
			for (size_t j = 0; j < n && !marked[i]; j++)
				marked[i] = ppids[i] == init || (marked[j] && ppids[i] == pids[j]);
			grew |= marked[i] != 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (marked[i])
			kill(pids[i], sig);
	free(pids);
	free(ppids);
	free(marked);
}

static void signal_others(const struct ct *c, int sig)
{
	/* The cgroup knows every process, whatever namespaces the container has. */
	if (c->st->cgroup_path && cgroup_signal(c->st->cgroup_path, sig, NULL) == 0)
		return;
	if (c->st->own_pidns)
		signal_pidns(c, sig);
	else
		signal_descendants(c->st->pid, sig);
}

static int signal_ct(const struct ct *c, int sig, bool all, struct husk_err **err)
{
	cleanup_close int pidfd = ct_pidfd(c);

	if (pidfd < 0)
		return husk_err_msg(err, ESRCH, "container \"%s\" is not running", c->id);
	if (all)
		signal_others(c, sig);
	/* With --all the init may already be gone, killed with its cgroup (cgroup.kill) or
	 * with its pid namespace: the signal did reach it, as runc also reports. */
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 && !(all && errno == ESRCH))
		return husk_err_set(err, errno, "container \"%s\": send signal %d", c->id, sig);
	return 0;
}

int container_kill(const char *root, const char *id, int sig, bool all, struct husk_err **err)
{
	struct store s = { .dfd = -1 };
	struct ct c = { .dfd = -1 };
	enum ct_status st;
	int r;

	r = store_open_ct(root, id, false, &s, &c, err);
	if (r == 0) {
		st = ct_status(&c);
		if (st != CT_CREATED && st != CT_RUNNING && st != CT_PAUSED)
			r = husk_err_msg(err, ESRCH, "container \"%s\" is not running", id);
		else
			r = signal_ct(&c, sig, all, err);
	}
	store_close_ct(&s, &c);
	return r;
}

/* SIGKILL everything the container still runs and wait for the init to go. */
static int kill_and_wait(struct ct *c, struct husk_err **err)
{
	cleanup_close int pidfd = ct_pidfd(c);

	if (pidfd < 0)
		return 0;
	signal_others(c, SIGKILL);
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (wait_pidfd(pidfd, KILL_WAIT_MS) < 0)
		return husk_err_msg(err, ETIMEDOUT, "container \"%s\": init did not exit after SIGKILL",
				    c->id);
	return 0;
}

/* poststop hooks run after the container is gone, before delete returns (config.md#poststop):
 * the saved config is read first, then the state directory removed. */
static int remove_with_poststop(struct store *s, struct ct *c, struct husk_err **err)
{
	cleanup_free char *buf = NULL, *state = NULL;
	const char *cgroup = c->st ? c->st->cgroup_path : NULL;
	char marked[PATH_MAX];
	ssize_t n;
	struct oci_config *cfg = NULL;
	struct husk_err *herr = NULL;
	size_t len;
	int r;

	unmount_host_mounts(c->dfd);
	/* No state.json: a create that died on the way may have left its cgroup. */
	if (!c->st && (n = readlinkat(c->dfd, CGROUP_MARK, marked, sizeof(marked) - 1)) > 0) {
		marked[n] = '\0';
		cgroup = marked;
	}
	/* A cgroup that cannot be removed is an error: delete must leave nothing behind. */
	if (cgroup && (r = cgroup_remove(cgroup, err)) < 0)
		return r;
	/* Links named after the id; ENODEV (none made) is success. */
	if (netns_teardown(c->id, &herr) < 0) {
		log_warn("%s", herr->msg);
		husk_err_freep(&herr);
	}
	if (c->st && fd_read_at(c->dfd, SAVED_CONFIG, &buf, &len, NULL) == 0 &&
	    strstr(buf, "poststop"))
		oci_config_parse(buf, len, &cfg, NULL);
	r = store_remove(s, c, err);
	if (r == 0 && cfg) {
		state = oci_state_json(c->st, "stopped", false, &len);
		hooks_run_warn(cfg, OCI_HOOK_POSTSTOP, state, len);
	}
	oci_config_free(cfg);
	return r;
}

static int delete_loaded(struct store *s, struct ct *c, bool force, struct husk_err **err)
{
	enum ct_status st = ct_status(c);
	int r;

	if ((st == CT_RUNNING || st == CT_PAUSED) && !force)
		return husk_err_msg(err, EBUSY, "cannot delete container %s that is not stopped: %s",
				    c->id, ct_status_name(st));
	if (st == CT_CREATING && !c->st && !force)
		return husk_err_msg(err, EBUSY, "container %s is still being created", c->id);
	r = kill_and_wait(c, err);
	if (r < 0)
		return r;
	return remove_with_poststop(s, c, err);
}

int container_delete(const char *root, const char *id, bool force, struct husk_err **err)
{
	struct store s = { .dfd = -1 };
	struct ct c = { .dfd = -1 };
	int r;

	r = store_open_ct(root, id, true, &s, &c, err);
	/* runtime.md leaves this open; containerd and conmon rely on runc's exit 0. */
	if (r == -ENOENT && force && store_validate_id(id, NULL) == 0) {
		husk_err_freep(err);
		r = 0;
	} else if (r == 0) {
		r = delete_loaded(&s, &c, force, err);
	}
	store_close_ct(&s, &c);
	return r;
}

static const int forwarded_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGPIPE,
};

void container_block_signals(sigset_t *set, sigset_t *old)
{
	/* Blocked before the clone so no signal meant for the container is lost; the child
	 * unblocks them before it execs. */
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(set, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, set, old);
}

struct fg {
	pid_t pid;
	int sigfd, master;
	bool stdin_open;
	int status;
};

/* One signal for the foreground run: SIGCHLD may mean our init exited; SIGWINCH resizes the
 * pty we proxy; everything else is forwarded to the init. Returns 1 once the init exited. */
static int fg_signal(struct fg *f)
{
	struct signalfd_siginfo si;

	if (read(f->sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGCHLD)
		return waitpid(f->pid, &f->status, WNOHANG) == f->pid;
	if (si.ssi_signo == SIGWINCH && f->master >= 0)
		tty_copy_winsize(STDIN_FILENO, f->master);
	else
		kill(f->pid, (int)si.ssi_signo);
	return 0;
}

/* Forward signals (and the terminal, when we proxy one) until the init exits; returns the
 * shell-style exit status: the code, or 128+N when killed by signal N. */
int container_wait_foreground(pid_t pid, const sigset_t *set, int master)
{
	struct fg f = { .pid = pid, .master = master, .stdin_open = master >= 0 };
	struct termios saved;
	bool raw;

	f.sigfd = signalfd(-1, set, SFD_CLOEXEC);
	raw = master >= 0 && tty_make_raw(STDIN_FILENO, &saved) == 0;
	if (master >= 0)
		tty_copy_winsize(STDIN_FILENO, master);
	for (;;) {
		struct pollfd p[3] = { { .fd = f.sigfd, .events = POLLIN },
				       { .fd = f.stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
				       { .fd = master, .events = POLLIN } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if ((p[0].revents & POLLIN) && fg_signal(&f))
			break;
		if (p[1].revents && tty_pump(STDIN_FILENO, master) <= 0)
			f.stdin_open = false;
		if (p[2].revents && tty_pump(master, STDOUT_FILENO) <= 0)
			master = -1;
	}
	/* What the program wrote just before it exited is still in the pty. */
	while (master >= 0 && poll(&(struct pollfd){ .fd = master, .events = POLLIN }, 1, 50) > 0 &&
	       tty_pump(master, STDOUT_FILENO) > 0)
		;
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(f.sigfd);
	if (WIFSIGNALED(f.status))
		return 128 + WTERMSIG(f.status);
	return WEXITSTATUS(f.status);
}

int container_run(const struct create_opts *o, struct husk_err **err)
{
	struct created c;
	sigset_t set, old;
	int r;

	created_init(&c);
	container_block_signals(&set, &old);
	r = create_steps(&c, o, err);
	if (r == 0)
		r = release_init(&c.ct, err);
	if (r == 0)
		run_late_hooks(&c.ct, OCI_HOOK_POSTSTART, "running");
	if (r == 0 && o->detach) {
		created_free(&c);
		return 0;
	}
	if (r == 0) {
		cleanup_close int master = -1;

		if (c.l.tty_peer >= 0 && (master = tty_recv_fd(c.l.tty_peer, err)) < 0)
			r = master;
		flock(c.ct.dfd, LOCK_UN);	/* let `husk kill/state` in while it runs */
		if (r == 0)
			r = container_wait_foreground(c.l.pid, &set, master);
		c.l.pid = 0;
		kill_and_wait(&c.ct, NULL);
		remove_with_poststop(&c.store, &c.ct, NULL);
	} else if (c.l.pid > 0) {
		kill_and_wait(&c.ct, NULL);
		waitpid(c.l.pid, NULL, 0);
		remove_with_poststop(&c.store, &c.ct, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	created_free(&c);
	return r;
}
