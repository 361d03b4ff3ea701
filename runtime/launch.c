/* The parent side of launching a container's init: namespace fds, the console socket,
 * clone3 with the new namespaces, uid/gid maps, and the handshake until the init is ready. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "container.h"
#include "cgroups/cgroups.h"
#include "hooks/hook.h"
#include "oci/state.h"
#include "process.h"
#include "rootfs/rootfs.h"
#include "sync.h"

extern char **environ;

static int open_ns_paths(struct launch *l, struct husk_err **err)
{
	const struct oci_linux *lx = &l->cfg->linux;

	for (size_t i = 0; i < ARRAY_SIZE(l->ns_fd); i++)
		l->ns_fd[i] = -1;
	l->clone_flags = 0;
	for (size_t i = 0; i < lx->n_namespaces; i++) {
		const struct oci_namespace *ns = &lx->namespaces[i];

		if (!ns->path) {
			l->clone_flags |= oci_ns_clone_flag(ns->type);
			continue;
		}
		l->ns_fd[ns->type] = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (l->ns_fd[ns->type] < 0)
			return husk_err_set(err, errno, "linux.namespaces[%zu].path: open `%s`", i,
					    ns->path);
	}
	/* A time namespace only takes offsets before its first process: it is unshared by
	 * the parent (time_for_children), never created by clone3. */
	l->clone_flags &= ~CLONE_NEWTIME;
	/* A cgroup namespace is rooted where its first process is when it is made: the init
	 * unshares it after the parent has put it in every cgroup (v1 joins come after clone). */
	l->new_cgroupns = l->clone_flags & CLONE_NEWCGROUP;
	l->clone_flags &= ~CLONE_NEWCGROUP;
	return 0;
}

int launch_connect_console(const char *path, struct husk_err **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return husk_err_msg(err, ENAMETOOLONG, "--console-socket: path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return husk_err_set(err, errno, "--console-socket: socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = husk_err_set(err, errno, "--console-socket: connect `%s`", path);
		close(fd);
		return r;
	}
	return fd;
}

static int connect_console(struct launch *l, struct husk_err **err)
{
	const char *path = l->opts->console_socket;

	l->console_fd = -1;
	l->tty_peer = -1;
	if (!path && l->cfg->process->terminal && !l->opts->detach && l->opts->foreground) {
		int sv[2];

		/* husk run in the foreground proxies the terminal itself: the init sends the pty
		 * master to this socket pair instead of a --console-socket. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return husk_err_set(err, errno, "process.terminal: socketpair");
		l->tty_peer = sv[0];
		l->console_fd = sv[1];
		return 0;
	}
	if (!path && l->cfg->process->terminal)
		return husk_err_msg(err, EINVAL, "process.terminal: a terminal needs --console-socket "
				    "(or 'husk run' in the foreground, or set terminal to false)");
	if (!path)
		return 0;
	l->console_fd = launch_connect_console(path, err);
	return l->console_fd < 0 ? l->console_fd : 0;
}

int launch_prepare(struct launch *l, struct husk_err **err)
{
	int r;

	l->sync_fd[0] = l->sync_fd[1] = -1;
	l->pid = 0;
	r = open_ns_paths(l, err);
	if (r < 0)
		return r;
	r = connect_console(l, err);
	if (r < 0)
		return r;
	/* Before any namespace is entered: idmapping needs privilege in the host's. */
	r = rootfs_idmap_open(l->cfg, l->bundle, l->ns_fd[OCI_NS_USER], &l->idmap_fds, err);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->sync_fd) < 0)
		return husk_err_set(err, errno, "create sync socket");
	return 0;
}

void launch_cleanup(struct launch *l)
{
	for (size_t i = 0; i < ARRAY_SIZE(l->ns_fd); i++)
		if (l->ns_fd[i] >= 0)
			close(TAKE_FD(l->ns_fd[i]));
	for (int i = 0; i < 2; i++)
		if (l->sync_fd[i] >= 0)
			close(TAKE_FD(l->sync_fd[i]));
	if (l->console_fd >= 0)
		close(TAKE_FD(l->console_fd));
	if (l->tty_peer >= 0)
		close(TAKE_FD(l->tty_peer));
	if (l->idmap_fds)
		rootfs_idmap_close(l->idmap_fds, l->cfg->n_mounts);
	l->idmap_fds = NULL;
}

/* An unprivileged caller runs newuidmap/newgidmap (setuid helpers that check
 * /etc/subuid and /etc/subgid) for anything beyond its own id. */
static int run_newidmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
			struct husk_err **err)
{
	const char *tool = file[0] == 'u' ? "newuidmap" : "newgidmap";
	char **argv = xcalloc(3 * n + 3, sizeof(*argv));
	pid_t child;
	int status = 0, r = 0;
	size_t a = 0;

	argv[a++] = xstrdup(tool);
	argv[a++] = xasprintf("%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		argv[a++] = xasprintf("%u", m[i].container_id);
		argv[a++] = xasprintf("%u", m[i].host_id);
		argv[a++] = xasprintf("%u", m[i].size);
	}
	r = posix_spawnp(&child, tool, NULL, NULL, argv, environ);
	if (r == 0 && waitpid(child, &status, 0) < 0)
		r = errno;
	strv_free(argv);
	if (r != 0)
		return husk_err_set(err, r, "linux.%s: run %s (the uidmap package)",
				    file[0] == 'u' ? "uidMappings" : "gidMappings", tool);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return husk_err_msg(err, EPERM, "linux.%s: %s refused the mapping (see /etc/sub%cid)",
				    file[0] == 'u' ? "uidMappings" : "gidMappings", tool, file[0]);
	return 0;
}

static int write_idmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
		       struct husk_err **err)
{
	char path[64];
	unsigned self = file[0] == 'u' ? geteuid() : getegid();

	/* user_namespaces(7): without CAP_SETUID/SETGID in the parent namespace only a single
	 * line mapping one's own id is allowed, and gid_map only after setgroups is denied. */
	if (geteuid() != 0) {
		if (n != 1 || m[0].size != 1 || m[0].host_id != self)
			return run_newidmap(pid, file, m, n, err);
		if (file[0] == 'g') {
			snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
			if (fd_write_at(AT_FDCWD, path, "deny", err) < 0)
				return husk_err_wrap(err, "linux.gidMappings");
		}
	}
	if (rootfs_write_idmap(pid, file, m, n, err) < 0)
		return husk_err_wrap(err, "linux.%s", file[0] == 'u' ? "uidMappings" : "gidMappings");
	return 0;
}

/* Namespaces whose membership only applies to children (pid, time) are entered here, by the
 * short-lived create process, so clone3 puts the init straight into them. */
static int enter_for_children(struct launch *l, struct husk_err **err)
{
	const struct oci_linux *lx = &l->cfg->linux;
	const struct oci_namespace *tns = oci_config_ns(l->cfg, OCI_NS_TIME);
	char buf[128];

	if (l->ns_fd[OCI_NS_PID] >= 0 && setns(l->ns_fd[OCI_NS_PID], CLONE_NEWPID) < 0)
		return husk_err_set(err, errno, "join pid namespace");
	if (l->ns_fd[OCI_NS_TIME] >= 0 && setns(l->ns_fd[OCI_NS_TIME], CLONE_NEWTIME) < 0)
		return husk_err_set(err, errno, "join time namespace");
	if (!tns || tns->path)
		return 0;
	if (unshare(CLONE_NEWTIME) < 0)
		return husk_err_set(err, errno, "create time namespace");
	snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
		 (long long)lx->time_monotonic.secs, lx->time_monotonic.nanosecs,
		 (long long)lx->time_boottime.secs, lx->time_boottime.nanosecs);
	if (fd_write_at(AT_FDCWD, "/proc/self/timens_offsets", buf, err) < 0)
		return husk_err_wrap(err, "linux.timeOffsets");
	return 0;
}

pid_t launch_clone3(int flags, int cgroup_fd)
{
	struct clone_args args = { .flags = (uint64_t)flags, .exit_signal = SIGCHLD };

	/* Born in its cgroup: no window in which the process runs outside its limits. */
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* The init has its mounts (runtime.md#lifecycle steps 3-4): prestart and createRuntime hooks
 * run here, in the runtime namespace; the init gets the state for its own hooks back. */
static int runtime_hooks(struct launch *l, struct husk_err **err)
{
	cleanup_free char *state = NULL;
	size_t len;
	int r;

	/* The create environment exists by lifecycle step 3: hooks see "created", as with crun
	 * and the runtime-tools conformance suite. */
	state = launch_state_json(l, "created", &len);
	r = hooks_run(l->cfg, OCI_HOOK_PRESTART, state, len, err);
	if (r == 0)
		r = hooks_run(l->cfg, OCI_HOOK_CREATE_RUNTIME, state, len, err);
	if (r < 0)
		return r;
	r = sync_send(l->sync_fd[0], SYNC_HOOKS_DONE, 0, NULL);
	if (r < 0)
		return husk_err_set(err, -r, "write to container init");
	return 0;
}

/* config-linux.md#seccomp: the listener gets the container process state and the notify
 * fd; the init waits for SYNC_SECCOMP_DONE before it goes on. */
static int forward_seccomp(struct launch *l, int nfd, struct husk_err **err)
{
	const struct oci_seccomp *sc = l->cfg->linux.seccomp;
	cleanup_free char *now = oci_time_rfc3339(NULL);
	struct husk_state st = {
		.version = 1, .id = (char *)l->opts->id, .bundle = l->bundle, .rootfs = l->rootfs,
		.pid = l->pid, .annotations = l->cfg->annotations, .created = now,
	};
	int r;

	if (nfd < 0 || !sc || !sc->listener_path)
		return husk_err_msg(err, EPROTO, "container init sent a seccomp fd unasked");
	r = seccomp_send_listener(sc, &st, "creating", l->pid, nfd, err);
	if (r < 0)
		return r;
	r = sync_send(l->sync_fd[0], SYNC_SECCOMP_DONE, 0, NULL);
	if (r < 0)
		return husk_err_set(err, -r, "write to container init");
	return 0;
}

/* Hybrid hosts: the init joins the v1 cgroups that serve its limits. Each first write to a
 * cgroup.procs waits for an RCU grace period (5-6 ms on the development VM, more than half of
 * a `run`), so it runs in a thread while the init sets itself up. Nothing depends on it
 * meanwhile: devices are enforced from clone on by the eBPF program on the unified cgroup the
 * init was cloned into (the v1 devices rules mirror it), and the v1 limits only need to hold
 * once user code runs. It is joined before any hook runs and before the init is reported
 * ready. A new cgroup namespace takes its root from the cgroups the init is in when it
 * unshares it (right after SYNC_GO), so with one the join happens first, as before. */
struct v1_join {
	pthread_t th;
	const char *cgroup_path;
	pid_t pid;
	struct husk_err *err;
	int r;
	bool running;
};

static void *v1_join_thread(void *arg)
{
	struct v1_join *j = arg;

	j->r = cgroup_v1_join(j->cgroup_path, j->pid, &j->err);
	return NULL;
}

static int v1_join_start(struct v1_join *j, bool now, struct husk_err **err)
{
	int r;

	if (!cgroup_v1_join_needed(j->cgroup_path))
		return 0;
	/* Once husk has joined another pid namespace for its children (a pid namespace given by
	 * path), the kernel refuses new threads (EINVAL): join here and now then. */
	if (now || (r = pthread_create(&j->th, NULL, v1_join_thread, j)) != 0)
		return cgroup_v1_join(j->cgroup_path, j->pid, err);
	j->running = true;
	return 0;
}

/* Wait for the join; its error, if any, becomes *err (unless *err is set already). */
static int v1_join_wait(struct v1_join *j, struct husk_err **err)
{
	if (!j->running)
		return 0;
	pthread_join(j->th, NULL);
	j->running = false;
	if (j->r < 0 && err && !*err)
		*err = TAKE_PTR(j->err);
	husk_err_freep(&j->err);
	return j->r;
}

static int handshake_steps(struct launch *l, struct v1_join *j, struct husk_err **err)
{
	const struct oci_linux *lx = &l->cfg->linux;
	struct sync_msg m;
	int r;

	if (l->clone_flags & CLONE_NEWUSER) {
		r = write_idmap(l->pid, "uid_map", lx->uid_mappings, lx->n_uid_mappings, err);
		if (r == 0)
			r = write_idmap(l->pid, "gid_map", lx->gid_mappings, lx->n_gid_mappings, err);
		if (r < 0)
			return r;
	}
	if ((r = v1_join_start(j, l->new_cgroupns, err)) < 0)
		return r;
	/* The init's network namespace exists and it waits: links are made here, in the
	 * runtime namespace, so the network is up before `start`. */
	if (netns_config_wanted(&l->net)) {
		r = netns_setup(l->opts->id, l->pid, l->cfg, err);
		if (r < 0)
			return r;
		l->net_up = true;
	}
	r = sync_send(l->sync_fd[0], SYNC_GO, 0, NULL);
	if (r < 0)
		return husk_err_set(err, -r, "start container init");
	for (;;) {
		cleanup_close int nfd = -1;

		r = sync_recv_fd(l->sync_fd[0], &m, &nfd);
		if (r == -EPIPE)
			return husk_err_msg(err, EPIPE, "container init exited before it was ready");
		if (r < 0)
			return husk_err_set(err, -r, "read from container init");
		if (m.type == SYNC_READY)
			return v1_join_wait(j, err);
		if (m.type == SYNC_ERROR)
			return husk_err_msg(err, m.err > 0 ? m.err : EINVAL, "%s", m.msg);
		if (m.type == SYNC_SECCOMP_FD) {
			r = forward_seccomp(l, nfd, err);
		} else if (m.type == SYNC_HOOKS_REQ) {
			/* Hooks see the init in all its cgroups. */
			r = v1_join_wait(j, err);
			if (r == 0)
				r = runtime_hooks(l, err);
		} else {
			r = husk_err_msg(err, EPROTO, "container init sent unexpected message %u",
					 m.type);
		}
		if (r < 0)
			return r;
	}
}

static int parent_handshake(struct launch *l, struct husk_err **err)
{
	struct v1_join j = { .cgroup_path = l->cgroup_path, .pid = l->pid };
	int r = handshake_steps(l, &j, err);

	/* On failure the thread may still be writing: wait for it before the init is killed. */
	v1_join_wait(&j, NULL);
	return r;
}

bool launch_has_create_hooks(const struct oci_config *cfg)
{
	return cfg->hooks[OCI_HOOK_PRESTART].n || cfg->hooks[OCI_HOOK_CREATE_RUNTIME].n ||
	       cfg->hooks[OCI_HOOK_CREATE_CONTAINER].n || cfg->hooks[OCI_HOOK_START_CONTAINER].n;
}

char *launch_state_json(const struct launch *l, const char *status, size_t *len)
{
	cleanup_free char *now = oci_time_rfc3339(NULL);
	struct husk_state st = {
		.version = 1, .id = (char *)l->opts->id, .bundle = l->bundle, .rootfs = l->rootfs,
		.pid = l->pid, .annotations = l->cfg->annotations, .created = now,
	};

	return oci_state_json(&st, status, false, len);
}

int launch_spawn(struct launch *l, struct husk_err **err)
{
	int r;

	r = enter_for_children(l, err);
	if (r < 0)
		return r;
	l->pid = launch_clone3(l->clone_flags, l->cgroup_fd);
	if (l->pid < 0) {
		l->pid = 0;
		return husk_err_set(err, errno, "clone3 container init");
	}
	if (l->pid == 0)
		init_main(l);
	close(TAKE_FD(l->sync_fd[1]));
	/* The init has its own copies of the idmapped trees. */
	rootfs_idmap_close(l->idmap_fds, l->cfg->n_mounts);
	l->idmap_fds = NULL;
	if (l->console_fd >= 0)
		close(TAKE_FD(l->console_fd));
	r = parent_handshake(l, err);
	if (r < 0) {
		/* The init never ran user code: kill it and reap it so nothing is left. */
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
		l->pid = 0;
		return r;
	}
	return 0;
}
