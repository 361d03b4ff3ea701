/* Running OCI hooks: fork, state JSON on a pipe to stdin, execve with the hook's args and env,
 * wait with the hook's timeout through a pidfd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "hook.h"

static const char *const kind_names[OCI_HOOK_KINDS] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

const char *hook_kind_name(enum oci_hook_kind kind)
{
	return kind_names[kind];
}

static __attribute__((noreturn)) void hook_exec(const struct oci_hook *h, int in)
{
	char *const fallback[] = { h->path, NULL };
	char *const noenv[] = { NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, STDIN_FILENO) < 0)
		_exit(127);
	execve(h->path, h->args ? h->args : fallback, h->env ? h->env : noenv);
	dprintf(STDERR_FILENO, "husk: hook %s: %s\n", h->path, strerror(errno));
	_exit(127);
}

static int wait_hook(pid_t pid, const struct oci_hook *h, int *status, struct husk_err **err)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int timeout = h->timeout.set ? (int)(h->timeout.v * 1000) : -1;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	if (pidfd >= 0) {
		do
			r = poll(&p, 1, timeout);
		while (r < 0 && errno == EINTR);
		close(pidfd);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return husk_err_msg(err, ETIMEDOUT, "timed out after %llds",
					    (long long)h->timeout.v);
		}
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return husk_err_set(err, errno, "wait");
	}
	return 0;
}

int hook_run(const struct oci_hook *h, const char *state, size_t len, struct husk_err **err)
{
	int pipefd[2], status = 0, r;
	pid_t pid;

	/* A socket, not a pipe, so MSG_NOSIGNAL spares us SIGPIPE without touching signal
	 * dispositions (the init execs the user program after its hooks). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipefd) < 0)
		return husk_err_set(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		r = husk_err_set(err, errno, "fork");
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0)
		hook_exec(h, pipefd[0]);
	close(pipefd[0]);
	/* A hook need not read its stdin: never block on it. */
	(void)!send(pipefd[1], state, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(pipefd[1]);
	r = wait_hook(pid, h, &status, err);
	if (r < 0)
		return r;
	if (WIFSIGNALED(status))
		return husk_err_msg(err, ECANCELED, "killed by signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return husk_err_msg(err, ECANCELED, "exited with status %d", WEXITSTATUS(status));
	return 0;
}

int hooks_run(const struct oci_config *cfg, enum oci_hook_kind kind, const char *state,
	      size_t len, struct husk_err **err)
{
	const struct oci_hook_list *l = &cfg->hooks[kind];

	for (size_t i = 0; i < l->n; i++) {
		if (hook_run(&l->items[i], state, len, err) < 0)
			return husk_err_wrap(err, "hooks.%s[%zu] (%s)", kind_names[kind], i,
					     l->items[i].path);
	}
	return 0;
}

void hooks_run_warn(const struct oci_config *cfg, enum oci_hook_kind kind, const char *state,
		    size_t len)
{
	const struct oci_hook_list *l = &cfg->hooks[kind];

	for (size_t i = 0; i < l->n; i++) {
		struct husk_err *err = NULL;

		if (hook_run(&l->items[i], state, len, &err) < 0) {
			log_warn("hooks.%s[%zu] (%s): %s", kind_names[kind], i, l->items[i].path,
				 err->msg);
			husk_err_free(err);
		}
	}
}
