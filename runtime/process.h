/* In-container process set-up pieces used by init.c (and later by exec): capabilities,
 * user and groups, rlimits, seccomp, the executable lookup, the console. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <termios.h>

#include "common/error.h"
#include "oci/config.h"

/* process.c */
/* chdir to cwd, creating it first (as runc does); we are still root when this runs. */
int process_enter_cwd(const char *cwd, struct husk_err **err);
/* process.env plus HOME from /etc/passwd when it lacks one; strings borrowed from p. */
char **process_build_env(const struct oci_process *p);
/* Hands a seccomp notify fd to the parent, which forwards it to listenerPath; returns once
 * the listener has it (0) or with err set. */
struct seccomp_handoff {
	int (*fn)(void *arg, int notify_fd, struct husk_err **err);
	void *arg;
};
/* seccomp (early without NNP), bounding set, user, caps, NNP, seccomp (late with NNP). A
 * filter with SCMP_ACT_NOTIFY rules hands its fd over through h right after loading. */
int process_set_identity(const struct oci_process *p, const struct oci_seccomp *sc,
			 const struct seccomp_handoff *h, struct husk_err **err);

/* Default dispositions and an empty mask: what husk blocked must not reach the program. */
void process_reset_signals(void);

/* caps.c */
int caps_drop_bounding(const struct oci_caps *caps, struct husk_err **err);
int caps_apply(const struct oci_caps *caps, struct husk_err **err);

/* user.c */
int user_apply(const struct oci_user *u, bool setgroups_allowed, struct husk_err **err);
/* HOME for uid from the container's /etc/passwd, or "/" (as runc does when env lacks it). */
char *user_home(uint32_t uid);
int rlimits_apply(const struct oci_process *p, struct husk_err **err);

/* seccomp.c */
/* Build and load the filter; *notify_fd is its notify fd when a rule uses SCMP_ACT_NOTIFY,
 * -1 otherwise (the caller closes it). */
int seccomp_apply(const struct oci_seccomp *sc, int *notify_fd, struct husk_err **err);
/* Whether any rule of sc uses SCMP_ACT_NOTIFY. */
bool seccomp_uses_notify(const struct oci_seccomp *sc);
/* Parent side: connect to sc->listenerPath and send the container process state (st with
 * status, the filtered process's pid, listenerMetadata) with the notify fd
 * (config-linux.md#seccomp), one state per connection. */
struct husk_state;
int seccomp_send_listener(const struct oci_seccomp *sc, const struct husk_state *st,
			  const char *status, int pid, int notify_fd, struct husk_err **err);

/* exe.c: resolve args[0] the way runc (Go's exec.LookPath) does, with runc's error words. */
int exe_lookup(const char *arg0, char *const *env, char **out, struct husk_err **err);

/* tty.c */
/* In the init: make a pty in the container's devpts, the slave its stdio and controlling
 * terminal, and send the master over console_fd. */
int tty_setup_console(int console_fd, const struct oci_process *p, struct husk_err **err);
/* Receive an fd sent with SCM_RIGHTS on sock. */
int tty_recv_fd(int sock, struct husk_err **err);
/* Foreground proxy between our stdio and a container's pty master. */
int tty_make_raw(int fd, struct termios *saved);
void tty_copy_winsize(int from, int to);
/* Move what is readable on `from` to `to`; returns bytes moved, 0 at EOF, -errno on error. */
ssize_t tty_pump(int from, int to);
