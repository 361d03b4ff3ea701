/* husk's side of container networking. The rtnetlink work (veth, bridge, addresses, routes)
 * runs in the husk-netns helper, the one program that links libmnl: husk itself stays free of
 * it, which is what lets it be linked statically (meson option `static`). The helper takes
 * the container's run.husk.net.* annotations as arguments and parses them with the same
 * netns_config_parse() husk already checked them with; its one-line error becomes ours, and
 * its exit status (an errno value) our error code. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "netns.h"
#include "netns/paths.h"

extern char **environ;

int netns_helper_path(char **out, struct husk_err **err)
{
	const char *env = getenv("HUSK_NETNS_HELPER");

	if (env && *env) {
		if (access(env, X_OK) < 0)
			return husk_err_set(err, errno, "$HUSK_NETNS_HELPER `%s`", env);
		*out = xstrdup(env);
		return 0;
	}
	/* A build tree (BUILD/runtime/husk), then an install tree (PREFIX/sbin/husk). */
	*out = path_beside_self("../netns/husk-netns", X_OK);
	if (!*out)
		*out = path_beside_self("../libexec/husk/husk-netns", X_OK);
	if (*out)
		return 0;
	if (access(HUSK_NETNS_INSTALL_PATH, X_OK) == 0) {
		*out = xstrdup(HUSK_NETNS_INSTALL_PATH);
		return 0;
	}
	return husk_err_msg(err, ENOENT, "netns: find the husk-netns helper that sets up "
			    "run.husk.net.* networking: set $HUSK_NETNS_HELPER, or install it "
			    "as `%s`", HUSK_NETNS_INSTALL_PATH);
}

/* Read what the helper wrote (its error line) until it closes the pipe. */
static void read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
}

static int spawn(const char *path, char *const argv[], pid_t *pid, int out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int r;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, out, 2);
	/* Whatever husk blocks while it waits for its init, the helper starts clean. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawn(pid, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Run the helper with args (argv[0] is filled in here) and wait for it. */
static int run_helper(char **argv, struct husk_err **err)
{
	cleanup_free char *path = NULL;
	char msg[1024];
	int p[2], status, r;
	pid_t pid;

	if ((r = netns_helper_path(&path, err)) < 0)
		return r;
	argv[0] = path;
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_err_set(err, errno, "netns: pipe for `%s`", path);
	r = spawn(path, argv, &pid, p[1]);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return husk_err_set(err, -r, "netns: run `%s`", path);
	}
	read_all(p[0], msg, sizeof(msg));
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return husk_err_set(err, errno, "netns: wait for `%s`", path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return husk_err_msg(err, EIO, "netns: `%s` was killed by signal %d%s%s", path,
				    WTERMSIG(status), *msg ? ": " : "", msg);
	if (!*msg)
		return husk_err_msg(err, EIO, "netns: `%s` exited with status %d", path,
				    WEXITSTATUS(status));
	return husk_err_msg(err, WEXITSTATUS(status), "%s", msg);
}

int netns_setup(const char *id, pid_t init_pid, const struct oci_config *cfg,
		struct husk_err **err)
{
	size_t n = 0, na = cfg->annotations.n;
	char pid[24];
	char **argv = xcalloc(na + 5, sizeof(*argv));
	int r;

	snprintf(pid, sizeof(pid), "%d", (int)init_pid);
	argv[n++] = NULL;	/* the helper's path, set by run_helper() */
	argv[n++] = (char *)"setup";
	argv[n++] = (char *)id;
	argv[n++] = pid;
	for (size_t i = 0; i < na; i++) {
		const struct oci_kv *kv = &cfg->annotations.items[i];

		if (startswith(kv->key, NETNS_ANN_PREFIX))
			argv[n++] = xasprintf("%s=%s", kv->key, kv->value ? kv->value : "");
	}
	argv[n] = NULL;
	r = run_helper(argv, err);
	for (size_t i = 4; i < n; i++)
		free(argv[i]);
	free(argv);
	return r;
}

int netns_teardown(const char *id, struct husk_err **err)
{
	char name[NETNS_IFNAMSIZ];
	char *argv[] = { NULL, (char *)"teardown", (char *)id, NULL };

	/* Most containers have no veth: a lookup by ioctl spares them the helper. */
	netns_host_ifname(id, name);
	if (if_nametoindex(name) == 0 && errno == ENODEV)
		return 0;
	return run_helper(argv, err);
}
