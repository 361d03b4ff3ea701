/* exec: a new process inside a running container. It joins the init's namespaces, takes the
 * container's seccomp filter and the process settings (from --process or the container's own
 * process plus the flags), and runs in the foreground or detached. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "container.h"
#include "process.h"
#include "sync.h"

struct exec_ctx {
	const struct exec_opts *o;
	struct oci_config *cfg;		/* the container's saved config */
	struct oci_process *p;		/* what runs */
	int ns_fd[OCI_NS_TYPES];
	int sync[2], console_fd, tty_peer;
	int cgroup_fd;			/* the container's cgroup, or -1 */
	char *cgroup_path;
	struct husk_state *st;		/* the container's state, for a seccomp listener */
	bool userns_joined;		/* rootless: the parent joined the user namespace */
	pid_t pid;
};

static int load_saved_config(struct ct *c, struct oci_config **cfg, struct husk_err **err)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (fd_read_at(c->dfd, "config.json", &buf, &len, err) < 0)
		return husk_err_wrap(err, "container \"%s\"", c->id);
	return oci_config_parse(buf, len, cfg, err);
}

static char **strv_dup(char *const *v)
{
	size_t n = strv_len(v);
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void env_set(char ***envp, const char *kv)
{
	size_t klen = strcspn(kv, "="), n = strv_len(*envp);

	for (size_t i = 0; i < n; i++) {
		if (strncmp((*envp)[i], kv, klen) == 0 && (*envp)[i][klen] == '=') {
			free((*envp)[i]);
			(*envp)[i] = xstrdup(kv);
			return;
		}
	}
	*envp = xrealloc(*envp, (n + 2) * sizeof(**envp));
	(*envp)[n] = xstrdup(kv);
	(*envp)[n + 1] = NULL;
}

static void caps_add(char ***set, const char *cap)
{
	size_t n = strv_len(*set);

	*set = xrealloc(*set, (n + 2) * sizeof(**set));
	(*set)[n] = xstrdup(cap);
	(*set)[n + 1] = NULL;
}

static int apply_user_flag(struct oci_process *p, const char *spec, struct husk_err **err)
{
	char *end;
	unsigned long uid = strtoul(spec, &end, 10), gid = p->user.gid;

	if (end == spec || (*end && *end != ':'))
		return husk_err_msg(err, EINVAL, "exec: --user: expected UID[:GID], got \"%s\"", spec);
	if (*end == ':') {
		const char *g = end + 1;

		gid = strtoul(g, &end, 10);
		if (end == g || *end)
			return husk_err_msg(err, EINVAL, "exec: --user: expected UID[:GID], got \"%s\"",
					    spec);
	}
	p->user.uid = (uint32_t)uid;
	p->user.gid = (uint32_t)gid;
	return 0;
}

/* Without --process: the container's own process, with the command line's changes. */
static int overlay_flags(struct exec_ctx *x, struct husk_err **err)
{
	const struct exec_opts *o = x->o;
	struct oci_process *p = x->p;

	if (!o->args || !o->args[0])
		return husk_err_msg(err, EINVAL, "exec: missing the command to run (ARGS or --process)");
	strv_free(p->args);
	p->args = strv_dup(o->args);
	for (size_t i = 0; o->env && o->env[i]; i++) {
		if (!strchr(o->env[i], '='))
			return husk_err_msg(err, EINVAL, "exec: --env: expected KEY=VALUE, got \"%s\"",
					    o->env[i]);
		env_set(&p->env, o->env[i]);
	}
	if (o->cwd) {
		free(p->cwd);
		p->cwd = xstrdup(o->cwd);
	}
	if (o->user && apply_user_flag(p, o->user, err) < 0)
		return -EINVAL;
	if (o->n_additional_gids) {
		free(p->user.additional_gids);
		p->user.additional_gids = xcalloc(o->n_additional_gids, sizeof(uint32_t));
		memcpy(p->user.additional_gids, o->additional_gids,
		       o->n_additional_gids * sizeof(uint32_t));
		p->user.n_additional_gids = o->n_additional_gids;
	}
	for (size_t i = 0; o->caps && o->caps[i]; i++) {
		if (oci_cap_from_name(o->caps[i]) < 0)
			return husk_err_msg(err, EINVAL, "exec: --cap: unknown capability \"%s\"",
					    o->caps[i]);
		if (!p->capabilities)
			p->capabilities = xcalloc(1, sizeof(*p->capabilities));
		caps_add(&p->capabilities->bounding, o->caps[i]);
		caps_add(&p->capabilities->effective, o->caps[i]);
		caps_add(&p->capabilities->permitted, o->caps[i]);
		caps_add(&p->capabilities->inheritable, o->caps[i]);
		caps_add(&p->capabilities->ambient, o->caps[i]);
	}
	p->no_new_privileges |= o->no_new_privs;
	p->terminal = o->tty;
	return 0;
}

static int build_process(struct exec_ctx *x, struct husk_err **err)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (!x->o->process_file) {
		if (!x->cfg->process)
			return husk_err_msg(err, EINVAL, "exec: the container has no process to start from");
		x->p = TAKE_PTR(x->cfg->process);
		return overlay_flags(x, err);
	}
	if (fd_read_at(AT_FDCWD, x->o->process_file, &buf, &len, err) < 0)
		return husk_err_wrap(err, "exec: --process");
	if (oci_process_parse(buf, len, &x->p, err) < 0)
		return husk_err_wrap(err, "exec: --process `%s`", x->o->process_file);
	if (!x->p->args || !x->p->args[0])
		return husk_err_msg(err, EINVAL, "exec: --process `%s`: args: must not be empty",
				    x->o->process_file);
	x->p->terminal |= x->o->tty;
	return 0;
}

/* The init's namespaces that differ from ours; joining our own again would be an error for
 * the user namespace. */
static int open_init_namespaces(struct exec_ctx *x, pid_t init, struct husk_err **err)
{
	for (int t = 0; t < OCI_NS_TYPES; t++) {
		const char *name = oci_ns_proc_name((enum oci_ns_type)t);
		char path[64], self[64];
		struct stat a, b;

		x->ns_fd[t] = -1;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init, name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
		if (stat(path, &a) < 0) {
			if (errno == ENOENT)
				continue;	/* a kernel without that namespace type */
			return husk_err_set(err, errno, "exec: open `%s`", path);
		}
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue;
		x->ns_fd[t] = open(path, O_RDONLY | O_CLOEXEC);
		if (x->ns_fd[t] < 0)
			return husk_err_set(err, errno, "exec: open `%s`", path);
	}
	return 0;
}

static int setup_console(struct exec_ctx *x, struct husk_err **err)
{
	int sv[2];

	x->console_fd = x->tty_peer = -1;
	if (!x->p->terminal)
		return 0;
	if (x->o->console_socket) {
		x->console_fd = launch_connect_console(x->o->console_socket, err);
		return x->console_fd < 0 ? x->console_fd : 0;
	}
	if (x->o->detach)
		return husk_err_msg(err, EINVAL, "exec: --tty with --detach needs --console-socket");
	/* Foreground: the pty master comes back to us and we proxy it. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return husk_err_set(err, errno, "exec: socketpair");
	x->tty_peer = sv[0];
	x->console_fd = sv[1];
	return 0;
}

static int child_setup(struct exec_ctx *x, char **exe, struct husk_err **err)
{
	struct oci_process *p = x->p;
	int r;

	/* Hybrid hosts: into the v1 cgroups too (pid 0 = ourselves), while the host's
	 * /sys/fs/cgroup is still the one we see. */
	if ((r = cgroup_v1_join(x->cgroup_path, 0, err)) < 0)
		return r;
	for (int t = 0; t < OCI_NS_TYPES; t++) {
		if (x->ns_fd[t] < 0 || t == OCI_NS_PID || t == OCI_NS_TIME)
			continue;
		if (setns(x->ns_fd[t], oci_ns_clone_flag((enum oci_ns_type)t)) < 0)
			return husk_err_set(err, errno, "exec: join %s namespace",
					    oci_ns_name((enum oci_ns_type)t));
	}
	if ((x->ns_fd[OCI_NS_USER] >= 0 || x->userns_joined) &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return husk_err_set(err, errno, "exec: become root in the user namespace");
	if (setsid() < 0)
		return husk_err_set(err, errno, "exec: setsid");
	if (p->terminal && (r = tty_setup_console(x->console_fd, p, err)) < 0)
		return r;
	if ((r = rlimits_apply(p, err)) < 0 || (r = process_enter_cwd(p->cwd, err)) < 0)
		return r;
	if ((r = exe_lookup(p->args[0], p->env, exe, err)) < 0)
		return r;
	return 0;
}

static __attribute__((noreturn)) void exec_child(struct exec_ctx *x)
{
	cleanup_free char *exe = NULL;
	struct husk_err *err = NULL;
	int keep[1 + 1024];
	size_t n = 0;
	char **env;

	close(x->sync[0]);
	if (x->tty_peer >= 0)
		close(x->tty_peer);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	process_reset_signals();
	if (child_setup(x, &exe, &err) < 0)
		goto fail;
	env = process_build_env(x->p);
	keep[n++] = x->sync[1];
	for (int i = 0; i < x->o->preserve_fds && n < ARRAY_SIZE(keep); i++) {
		keep[n++] = 3 + i;
		fd_set_cloexec(3 + i, 0);
	}
	fd_close_from(3, keep, n);
	if (process_set_identity(x->p, x->cfg->linux.seccomp,
				 &(struct seccomp_handoff){ sync_seccomp_handoff, &x->sync[1] }, &err) < 0)
		goto fail;
	prctl(PR_SET_PDEATHSIG, 0);
	/* Success is the sync socket closing on exec: the parent then reads EOF. */
	execve(exe, x->p->args, env);
	husk_err_msg(&err, errno, "exec: \"%s\": %s", x->p->args[0], strerror(errno));
fail:
	sync_send_err(x->sync[1], err);
	_exit(1);
}

/* One message from the new process: 1 when it was a seccomp fd, forwarded to the listener
 * (wait for the next), 0 for any other message, -EPIPE when the process executed. */
static int recv_child(struct exec_ctx *x, struct sync_msg *m, struct husk_err **err)
{
	const struct oci_seccomp *sc = x->cfg->linux.seccomp;
	cleanup_close int nfd = -1;
	int r;

	r = sync_recv_fd(x->sync[0], m, &nfd);
	if (r < 0 || m->type != SYNC_SECCOMP_FD)
		return r;
	if (nfd < 0 || !x->st || !sc || !sc->listener_path)
		return 0;	/* reported as an unexpected answer */
	r = seccomp_send_listener(sc, x->st, "running", x->pid, nfd, err);
	if (r < 0) {
		sync_send_err(x->sync[0], *err);
		husk_err_free(*err);
		*err = NULL;
	} else {
		sync_send(x->sync[0], SYNC_SECCOMP_DONE, 0, NULL);
	}
	return 1;
}

static int spawn(struct exec_ctx *x, struct husk_err **err)
{
	struct sync_msg m;
	int r;

	/* Rootless: an unprivileged caller has no power over the container's namespaces until
	 * it is in their user namespace, so it joins that one first, before pid and time. */
	if (geteuid() != 0 && x->ns_fd[OCI_NS_USER] >= 0) {
		if (setns(x->ns_fd[OCI_NS_USER], CLONE_NEWUSER) < 0)
			return husk_err_set(err, errno, "exec: join user namespace");
		close(TAKE_FD(x->ns_fd[OCI_NS_USER]));
		x->userns_joined = true;
	}
	if (x->ns_fd[OCI_NS_PID] >= 0 && setns(x->ns_fd[OCI_NS_PID], CLONE_NEWPID) < 0)
		return husk_err_set(err, errno, "exec: join pid namespace");
	if (x->ns_fd[OCI_NS_TIME] >= 0 && setns(x->ns_fd[OCI_NS_TIME], CLONE_NEWTIME) < 0)
		return husk_err_set(err, errno, "exec: join time namespace");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, x->sync) < 0)
		return husk_err_set(err, errno, "exec: socketpair");
	x->pid = launch_clone3(0, x->cgroup_fd);
	if (x->pid < 0)
		return husk_err_set(err, errno, "exec: clone3");
	if (x->pid == 0)
		exec_child(x);
	close(TAKE_FD(x->sync[1]));
	if (x->console_fd >= 0)
		close(TAKE_FD(x->console_fd));
	while ((r = recv_child(x, &m, err)) == 1)
		;
	if (r == -EPIPE)
		return 0;
	waitpid(x->pid, NULL, 0);
	x->pid = 0;
	if (r == 0 && m.type == SYNC_ERROR)
		return husk_err_msg(err, m.err > 0 ? m.err : EINVAL, "%s", m.msg);
	return husk_err_msg(err, EPROTO, "exec: unexpected answer from the new process");
}

static void exec_ctx_free(struct exec_ctx *x)
{
	for (int t = 0; t < OCI_NS_TYPES; t++)
		if (x->ns_fd[t] >= 0)
			close(x->ns_fd[t]);
	for (int i = 0; i < 2; i++)
		if (x->sync[i] >= 0)
			close(x->sync[i]);
	if (x->console_fd >= 0)
		close(x->console_fd);
	if (x->tty_peer >= 0)
		close(x->tty_peer);
	husk_state_free(x->st);
	if (x->cgroup_fd >= 0)
		close(x->cgroup_fd);
	free(x->cgroup_path);
	oci_process_free(x->p);
	oci_config_free(x->cfg);
}

static int prepare(struct exec_ctx *x, struct husk_err **err)
{
	struct store s = { .dfd = -1 };
	struct ct c = { .dfd = -1 };
	enum ct_status st;
	int r;

	r = store_open_ct(x->o->root, x->o->id, false, &s, &c, err);
	if (r == 0) {
		st = ct_status(&c);
		if (st != CT_RUNNING && st != CT_CREATED)
			r = husk_err_msg(err, EINVAL, "cannot exec in a %s container",
					 ct_status_name(st));
	}
	if (r == 0)
		r = load_saved_config(&c, &x->cfg, err);
	if (r == 0)
		r = build_process(x, err);
	if (r == 0)
		r = open_init_namespaces(x, c.st->pid, err);
	/* The new process joins the container's cgroup, so its limits bind it too. */
	if (r == 0 && c.st->cgroup_path &&
	    (x->cgroup_fd = open(c.st->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = husk_err_set(err, errno, "exec: open cgroup `%s`", c.st->cgroup_path);
	if (r == 0 && c.st->cgroup_path)
		x->cgroup_path = xstrdup(c.st->cgroup_path);
	if (r == 0)
		r = setup_console(x, err);
	if (r == 0 && seccomp_uses_notify(x->cfg->linux.seccomp))
		x->st = TAKE_PTR(c.st);
	store_close_ct(&s, &c);
	return r;
}

int container_exec(const struct exec_opts *o, struct husk_err **err)
{
	struct exec_ctx x = { .o = o, .sync = { -1, -1 }, .console_fd = -1, .tty_peer = -1,
			      .cgroup_fd = -1 };
	cleanup_close int master = -1;
	sigset_t set, old;
	int r;

	for (int t = 0; t < OCI_NS_TYPES; t++)
		x.ns_fd[t] = -1;
	container_block_signals(&set, &old);
	r = prepare(&x, err);
	if (r == 0)
		r = spawn(&x, err);
	if (r == 0 && o->pid_file)
		r = container_write_pid_file(o->pid_file, x.pid, err);
	if (r == 0 && x.tty_peer >= 0 && (master = tty_recv_fd(x.tty_peer, err)) < 0)
		r = master;
	if (r == 0 && !o->detach)
		r = container_wait_foreground(x.pid, &set, master);
	else if (r < 0 && x.pid > 0)
		kill(x.pid, SIGKILL), waitpid(x.pid, NULL, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	exec_ctx_free(&x);
	return r;
}
