/* The container's init, from clone3 to execve: one line per step, in the order the spec and
 * the kernel require (DESIGN.md "Data flow"). Errors go back to `create` over the sync socket. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "container.h"
#include "hooks/hook.h"
#include "process.h"
#include "rootfs/rootfs.h"
#include "sync.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

static int join_namespaces(struct launch *l, struct husk_err **err)
{
	/* In enum order: user first, so the joins after it are checked against its owner. */
	for (int t = 0; t < OCI_NS_TYPES; t++) {
		if (l->ns_fd[t] < 0 || t == OCI_NS_PID || t == OCI_NS_TIME)
			continue;
		if (setns(l->ns_fd[t], oci_ns_clone_flag((enum oci_ns_type)t)) < 0)
			return husk_err_set(err, errno, "join %s namespace",
					    oci_ns_name((enum oci_ns_type)t));
		close(TAKE_FD(l->ns_fd[t]));
	}
	return 0;
}

static bool has_userns(const struct launch *l)
{
	return oci_config_ns(l->cfg, OCI_NS_USER) != NULL;
}

static int become_root_in_userns(struct launch *l, struct husk_err **err)
{
	if (!has_userns(l))
		return 0;
	/* uid/gid 0 inside must be mapped for the set-up steps; the process's own user is set
	 * later by user_apply(). */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return husk_err_set(err, errno, "linux.uidMappings: become root in the user namespace "
				    "(is container uid/gid 0 mapped?)");
	return 0;
}

static int join_keyring(struct launch *l, struct husk_err **err)
{
	if (l->opts->no_new_keyring)
		return 0;
	/* A fresh session keyring per container, so containers never share the host's keys. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, l->opts->id) < 0 && errno != ENOSYS)
		return husk_err_set(err, errno, "join session keyring");
	return 0;
}

static int set_oom_score_adj(struct launch *l, struct husk_err **err)
{
	const struct oci_process *p = l->cfg->process;
	char val[24];

	if (!p->oom_score_adj.set)
		return 0;
	snprintf(val, sizeof(val), "%lld", (long long)p->oom_score_adj.v);
	if (proc_write("self/oom_score_adj", val, err) < 0)
		return husk_err_wrap(err, "process.oomScoreAdj");
	return 0;
}

static int set_names(struct launch *l, struct husk_err **err)
{
	const struct oci_config *c = l->cfg;

	if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
		return husk_err_set(err, errno, "hostname: sethostname");
	if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
		return husk_err_set(err, errno, "domainname: setdomainname");
	return 0;
}

static int set_sysctls(struct launch *l, struct husk_err **err)
{
	const struct oci_map *m = &l->cfg->linux.sysctl;

	for (size_t i = 0; i < m->n; i++) {
		cleanup_free char *path = xasprintf("sys/%s", m->items[i].key);

		/* As runc: dots become slashes; a key written with slashes is already a path. */
		for (char *p = path + 4; *p; p++)
			*p = *p == '.' ? '/' : *p;
		if (proc_write(path, m->items[i].value, err) < 0)
			return husk_err_wrap(err, "linux.sysctl[\"%s\"]", m->items[i].key);
	}
	return 0;
}

static void keep_only_needed_fds(struct launch *l)
{
	int keep[3 + 1024];
	size_t n = 0;

	keep[n++] = l->sync_fd[1];
	keep[n++] = l->fifo_dirfd;
	keep[n++] = log_fd();
	/* LISTEN_FDS L and --preserve-fds N: fds 3 .. 3+L+N-1 pass into the container. */
	for (int i = 0; i < l->listen_fds + l->opts->preserve_fds && n < ARRAY_SIZE(keep); i++) {
		keep[n++] = 3 + i;
		fd_set_cloexec(3 + i, 0);
	}
	fd_close_from(3, keep, n);
}

/* After the mounts, before pivot_root: the parent runs prestart + createRuntime hooks, then we
 * run createContainer hooks in the container's namespaces (config.md#createcontainer-hooks). */
static int create_hooks(struct launch *l, char **state, struct husk_err **err)
{
	struct sync_msg m;
	size_t len;
	int r;

	if (!launch_has_create_hooks(l->cfg))
		return 0;
	r = sync_send(l->sync_fd[1], SYNC_HOOKS_REQ, 0, NULL);
	if (r == 0)
		r = sync_recv(l->sync_fd[1], &m);
	if (r < 0 || m.type != SYNC_HOOKS_DONE)
		return husk_err_msg(err, EPROTO, "init: no answer to the hooks request");
	/* runtime.md#state: hooks in the container's namespaces get the pid as the container
	 * sees it (this copy of l is the init's own). */
	l->pid = getpid();
	*state = launch_state_json(l, "created", &len);
	return hooks_run(l->cfg, OCI_HOOK_CREATE_CONTAINER, *state, len, err);
}

/* Everything up to SYNC_READY; on success the init is ready to wait on exec.fifo. */
static int init_setup(struct launch *l, struct rootfs_opts *ro, char **exe, char **state,
		      struct husk_err **err)
{
	const struct oci_process *p = l->cfg->process;
	struct sync_msg m;
	int r;

	if ((r = sync_recv(l->sync_fd[1], &m)) < 0 || m.type != SYNC_GO)
		return husk_err_msg(err, EPROTO, "init: no go from husk create");
	if ((r = join_namespaces(l, err)) < 0 || (r = become_root_in_userns(l, err)) < 0)
		return r;
	if (l->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		return husk_err_set(err, errno, "create cgroup namespace");
	/* Every new network namespace gets lo up, as with runc. */
	if (oci_config_ns(l->cfg, OCI_NS_NETWORK) && !oci_config_ns(l->cfg, OCI_NS_NETWORK)->path &&
	    (r = netns_lo_up(err)) < 0)
		return r;
	if (setsid() < 0)
		return husk_err_set(err, errno, "setsid");
	if ((r = join_keyring(l, err)) < 0 || (r = set_oom_score_adj(l, err)) < 0)
		return r;
	/* Relative bind sources are relative to the bundle, as with runc. */
	if (chdir(l->bundle) < 0)
		return husk_err_set(err, errno, "chdir to bundle `%s`", l->bundle);
	r = rootfs_prepare(ro, err);
	rootfs_idmap_close(l->idmap_fds, l->cfg->n_mounts);
	l->idmap_fds = NULL;
	ro->idmap_fds = NULL;
	if (r < 0)
		return r;
	if ((r = create_hooks(l, state, err)) < 0)
		return r;
	if ((r = rootfs_pivot(ro, err)) < 0)
		return r;
	/* sysctl before rootfs_finalize(): readonlyPaths usually cover /proc/sys. */
	if ((r = set_names(l, err)) < 0 || (r = set_sysctls(l, err)) < 0)
		return r;
	if ((r = rootfs_finalize(ro, err)) < 0)
		return r;
	if ((r = process_enter_cwd(p->cwd, err)) < 0)
		return r;
	if (p->terminal && (r = tty_setup_console(l->console_fd, p, err)) < 0)
		return r;
	if ((r = rlimits_apply(p, err)) < 0)
		return r;
	if ((r = exe_lookup(p->args[0], p->env, exe, err)) < 0)
		return husk_err_wrap(err, "unable to start container process");
	return process_set_identity(p, l->cfg->linux.seccomp,
				    &(struct seccomp_handoff){ sync_seccomp_handoff, &l->sync_fd[1] },
				    err);
}

void init_main(struct launch *l)
{
	struct rootfs_opts ro = { .cfg = l->cfg, .rootfs = l->rootfs, .no_pivot = l->opts->no_pivot,
				  .in_userns = has_userns(l),
				  .host_mntns = !oci_config_ns(l->cfg, OCI_NS_MOUNT),
				  .idmap_fds = l->idmap_fds };
	cleanup_free char *exe = NULL, *state = NULL;
	struct husk_err *err = NULL;
	char **env;
	int fifo;

	/* The state directory's lock belongs to `create`; holding it here would block `start`. */
	close(TAKE_FD(l->state_dfd));
	close(TAKE_FD(l->sync_fd[0]));
	if (l->tty_peer >= 0)
		close(TAKE_FD(l->tty_peer));
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	process_reset_signals();
	if (init_setup(l, &ro, &exe, &state, &err) < 0) {
		sync_send_err(l->sync_fd[1], err);
		_exit(1);
	}
	env = process_build_env(l->cfg->process);
	keep_only_needed_fds(l);
	prctl(PR_SET_PDEATHSIG, 0);
	sync_send(l->sync_fd[1], SYNC_READY, 0, NULL);
	close(TAKE_FD(l->sync_fd[1]));

	/* Blocks until `start` opens the read end (runtime.md#start). */
	fifo = openat(l->fifo_dirfd, "exec.fifo", O_WRONLY | O_CLOEXEC);
	if (fifo < 0 || write(fifo, "0", 1) != 1)
		_exit(1);
	/* The fifo stays open until execve closes it (O_CLOEXEC): `start` sees EOF only once the
	 * program has replaced us, so poststart hooks really run after it (runtime.md). */
	close(TAKE_FD(l->fifo_dirfd));
	/* In the container, after start, before the program (config.md#startcontainer-hooks). */
	if (state && hooks_run(l->cfg, OCI_HOOK_START_CONTAINER, state, strlen(state), &err) < 0) {
		/* `start` reads past the first byte until EOF: text there is our failure. */
		dprintf(fifo, "%s", err->msg);
		_exit(1);
	}
	execve(exe, l->cfg->process->args, env);
	dprintf(STDERR_FILENO, "husk: exec: \"%s\": %s\n", l->cfg->process->args[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}
