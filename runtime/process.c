/* The steps that turn a process into the container's process, shared by the container's init
 * and by exec: working directory, environment, and identity (seccomp, caps, user, NNP). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "process.h"
#include "rootfs/rootfs.h"

int process_enter_cwd(const char *cwd, struct husk_err **err)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int dir = -1;

	if (root < 0)
		return husk_err_set(err, errno, "process.cwd: open `/`");
	/* Like runc, a missing cwd is created (we are still root here). Every component is
	 * resolved inside the container's root without magic links: a cwd of /proc/self/fd/N
	 * naming a directory fd the runtime still holds would otherwise leave the process in a
	 * host directory (CVE-2024-21626). */
	dir = rootfs_mkdir_in_root(root, cwd, 0755, err);
	if (dir < 0)
		return husk_err_wrap(err, "process.cwd `%s`", cwd);
	if (fchdir(dir) < 0)
		return husk_err_set(err, errno, "process.cwd: chdir `%s`", cwd);
	return 0;
}

static bool setgroups_allowed(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return strncmp(buf, "deny", 4) != 0;
}

char **process_build_env(const struct oci_process *p)
{
	size_t n = strv_len(p->env);
	char **env = xcalloc(n + 2, sizeof(*env));
	bool has_home = false;

	for (size_t i = 0; i < n; i++) {
		env[i] = p->env[i];
		has_home |= startswith(p->env[i], "HOME=");
	}
	if (!has_home) {
		cleanup_free char *home = user_home(p->user.uid);

		env[n] = xasprintf("HOME=%s", home);
	}
	return env;
}

static int load_seccomp(const struct oci_seccomp *sc, const struct seccomp_handoff *h,
			struct husk_err **err)
{
	int nfd = -1, r;

	r = seccomp_apply(sc, &nfd, err);
	if (r == 0 && nfd >= 0)
		r = h && h->fn ? h->fn(h->arg, nfd, err)
			       : husk_err_msg(err, EINVAL, "linux.seccomp: SCMP_ACT_NOTIFY is not "
						   "supported here");
	if (nfd >= 0)
		close(nfd);
	return r;
}

int process_set_identity(const struct oci_process *p, const struct oci_seccomp *sc,
			 const struct seccomp_handoff *h, struct husk_err **err)
{
	int r;

	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still
	 * have it. With it, load it last so it filters as little of our own set-up as possible. */
	if (!p->no_new_privileges && (r = load_seccomp(sc, h, err)) < 0)
		return r;
	if ((r = caps_drop_bounding(p->capabilities, err)) < 0)
		return r;
	if ((r = user_apply(&p->user, setgroups_allowed(), err)) < 0)
		return r;
	if ((r = caps_apply(p->capabilities, err)) < 0)
		return r;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return husk_err_set(err, errno, "process.noNewPrivileges");
	if (p->no_new_privileges && (r = load_seccomp(sc, h, err)) < 0)
		return r;
	return 0;
}

void process_reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
