/* The container lifecycle: create, start, run, kill, delete, as the CLI commands call them.
 * This is the only place that knows the order of the steps (DESIGN.md). */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "netns/netns.h"
#include "oci/config.h"
#include "store.h"

struct create_opts {
	const char *root;		/* --root */
	const char *id;
	const char *bundle;		/* --bundle (default ".") */
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;
	bool detach;			/* run -d */
	bool foreground;		/* run without -d: husk stays and waits */
};

/* What the launcher needs; filled by container_create, read by launch.c and init.c. */
struct launch {
	const struct create_opts *opts;
	const struct oci_config *cfg;
	char *bundle;			/* absolute */
	char *rootfs;			/* absolute */
	int sync_fd[2];			/* [0] parent end, [1] init end */
	int fifo_dirfd;			/* O_PATH of the state dir: init opens exec.fifo there */
	int console_fd;			/* connected --console-socket, or -1 */
	int tty_peer;			/* run in the foreground: our end of the pty hand-over */
	int ns_fd[8];			/* fds of namespaces joined by path, -1 otherwise */
	int state_dfd;			/* closed in init: its lock must not outlive create */
	int clone_flags;		/* CLONE_NEW* to create */
	bool new_cgroupns;		/* the init unshares a cgroup namespace after SYNC_GO */
	int listen_fds;			/* LISTEN_FDS from the caller: passed before --preserve-fds */
	struct netns_config net;	/* run.husk.net.* annotations */
	bool net_up;			/* netns_setup() succeeded: delete must tear it down */
	pid_t pid;			/* the init, host pid */
	int cgroup_fd;			/* CLONE_INTO_CGROUP target, or -1 (no cgroup v2 here) */
	const char *cgroup_path;	/* its path, or NULL */
	int *idmap_fds;			/* detached idmapped trees per mount, or NULL */
};

int container_create(const struct create_opts *o, struct husk_err **err);
int container_start(const char *root, const char *id, struct husk_err **err);
/* Foreground run: returns the exit status to exit with (0..255), or -errno with *err set. */
int container_run(const struct create_opts *o, struct husk_err **err);
int container_kill(const char *root, const char *id, int sig, bool all, struct husk_err **err);
int container_delete(const char *root, const char *id, bool force, struct husk_err **err);

/* Foreground: block the signals we forward (before cloning), then forward them (and proxy
 * the pty master, if >= 0) until pid exits; returns its shell-style status. */
void container_block_signals(sigset_t *set, sigset_t *old);
int container_wait_foreground(pid_t pid, const sigset_t *set, int master);

struct exec_opts {
	const char *root, *id;
	const char *process_file;	/* --process; else args + the flags below */
	char **args;
	bool tty, detach;
	const char *pid_file, *console_socket, *cwd, *user;
	char **env, **caps;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	bool no_new_privs;
	int preserve_fds;
};
/* Returns the exit status to exit with (0 with --detach), or -errno with *err set. */
int container_exec(const struct exec_opts *o, struct husk_err **err);

/* Write pid to path atomically (--pid-file). */
int container_write_pid_file(const char *path, pid_t pid, struct husk_err **err);

/* launch.c */
int launch_prepare(struct launch *l, struct husk_err **err);
int launch_spawn(struct launch *l, struct husk_err **err);
void launch_cleanup(struct launch *l);
/* Connect to a --console-socket; returns the fd or -errno. */
int launch_connect_console(const char *path, struct husk_err **err);
bool launch_has_create_hooks(const struct oci_config *cfg);
/* clone3 like fork, with CLONE_NEW* flags, into cgroup_fd when >= 0. */
pid_t launch_clone3(int flags, int cgroup_fd);
/* The OCI state as hooks get it on stdin (compact). */
char *launch_state_json(const struct launch *l, const char *status, size_t *len);
/* init.c: runs in the cloned child; never returns. */
__attribute__((noreturn)) void init_main(struct launch *l);
