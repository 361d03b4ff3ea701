/* The cgroup's life: find the unified hierarchy, turn linux.cgroupsPath into a safe path,
 * create the directory with its controllers and limits before the init joins, open, signal,
 * list and remove it. The per-controller files live in cpu.c, memory.c, ... */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "internal.h"

#define HOST_CGROUP "/sys/fs/cgroup"
#define REMOVE_TRIES 60	/* with the backoff below: ~10 s before giving up on a busy cgroup */

static const char *const ctrl_names[CGROUP_CTRLS] = {
	[CGROUP_CTRL_CPUSET] = "cpuset", [CGROUP_CTRL_CPU] = "cpu",
	[CGROUP_CTRL_IO] = "io",	 [CGROUP_CTRL_MEMORY] = "memory",
	[CGROUP_CTRL_HUGETLB] = "hugetlb", [CGROUP_CTRL_PIDS] = "pids",
	[CGROUP_CTRL_RDMA] = "rdma",	 [CGROUP_CTRL_MISC] = "misc",
};

const char *cgroup_ctrl_name(enum cgroup_ctrl c)
{
	return c < CGROUP_CTRLS ? ctrl_names[c] : "?";
}

/* ---- file helpers ---- */

int cg_write(struct cgroup *cg, const char *name, const char *val, struct husk_err **err)
{
	int r = fd_write_at(cg->dfd, name, val, err);

	if (r < 0 && err)
		husk_err_wrap(err, "cgroup `%s`", cg->path);
	return r;
}

bool cg_has(const struct cgroup *cg, const char *name)
{
	return faccessat(cg->dfd, name, F_OK, 0) == 0;
}

char *cg_read(int dfd, const char *name)
{
	char *buf = NULL;

	if (fd_read_at(dfd, name, &buf, NULL, NULL) < 0)
		return errno == ENOENT ? xstrdup("") : NULL;
	return buf;
}

bool cg_keyed(const char *buf, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			*out = strtoull(p + kl + 1, NULL, 10);
			return true;
		}
	}
	return false;
}

unsigned cg_parse_ctrls(const char *list)
{
	cleanup_free char *copy = xstrdup(list ? list : "");
	unsigned bits = 0;
	char *save = NULL;

	for (char *w = strtok_r(copy, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		for (int c = 0; c < CGROUP_CTRLS; c++)
			if (streq(w, ctrl_names[c]))
				bits |= CGROUP_BIT(c);
	return bits;
}

/* ---- the hierarchy and the path ---- */

static bool is_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_root_open(struct cgroup_root *r, struct husk_err **err)
{
	*r = (struct cgroup_root){ .dfd = -1 };
	if (is_cgroup2(HOST_CGROUP))
		r->path = xstrdup(HOST_CGROUP);
	else if (is_cgroup2(HOST_CGROUP "/unified"))
		r->path = xstrdup(HOST_CGROUP "/unified"), r->hybrid = true, r->use_v1 = true;
	else
		return 0;	/* cgroup v1 only */
	r->dfd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dfd < 0) {
		int e = errno;

		free(TAKE_PTR(r->path));
		return husk_err_set(err, e, "open `%s`", HOST_CGROUP);
	}
	return 0;
}

void cgroup_root_close(struct cgroup_root *r)
{
	if (r->dfd >= 0)
		close(r->dfd);
	free(r->path);
	*r = (struct cgroup_root){ .dfd = -1 };
}

int cgroup_path_resolve(const char *cgroups_path, const char *id, char **out,
			struct husk_err **err)
{
	cleanup_free char *in = NULL, *res = NULL;
	char *save = NULL;
	size_t n = 0;

	if (!cgroups_path || !*cgroups_path) {
		if (!id || !*id || strchr(id, '/') || streq(id, ".") || streq(id, ".."))
			return husk_err_msg(err, EINVAL, "invalid container id for a cgroup name");
		in = xasprintf("%s/%s", CGROUP_DEFAULT_PARENT, id);
	} else if (cgroups_path[0] == '/') {
		in = xstrdup(cgroups_path);
	} else {
		in = xasprintf("%s/%s", CGROUP_DEFAULT_PARENT, cgroups_path);
	}
	res = xcalloc(1, strlen(in) + 1);
	for (char *c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		/* No way up or sideways out of the hierarchy, and nothing the kernel reserves. */
		if (streq(c, ".") || streq(c, ".."))
			return husk_err_msg(err, EINVAL, "linux.cgroupsPath: \"%s\": `%s` is not "
					    "allowed in a cgroup path", cgroups_path, c);
		if (startswith(c, "cgroup."))
			return husk_err_msg(err, EINVAL, "linux.cgroupsPath: \"%s\": `%s` is a "
					    "name the kernel reserves", cgroups_path, c);
		if (n)
			res[n++] = '/';
		memcpy(res + n, c, strlen(c));
		n += strlen(c);
	}
	if (n == 0)
		return husk_err_msg(err, EINVAL, "linux.cgroupsPath: \"%s\" is the root of the "
				    "cgroup hierarchy, not a container's own cgroup", cgroups_path);
	if (n + sizeof(HOST_CGROUP "/unified/") >= PATH_MAX)
		return husk_err_msg(err, ENAMETOOLONG, "linux.cgroupsPath: too long");
	*out = TAKE_PTR(res);
	return 0;
}

/* ---- what the resources need ---- */

static int refuse_missing(unsigned missing, const char *const *field, bool hybrid,
			  struct husk_err **err)
{
	for (int c = 0; c < CGROUP_CTRLS; c++)
		if (missing & CGROUP_BIT(c))
			return husk_err_msg(err, EOPNOTSUPP, "%s: the %s controller is not available "
					    "in the cgroup v2 hierarchy%s", field[c], ctrl_names[c],
					    hybrid ? " (this host has hybrid cgroups)" : "");
	return 0;
}

/* ---- creating ---- */

/* Make every controller `dfd` has available to its children (best effort: a controller the
 * kernel refuses here shows up later as missing, with the field that needs it). */
static void enable_subtree(int dfd)
{
	cleanup_free char *avail = cg_read(dfd, "cgroup.controllers");
	cleanup_free char *on = cg_read(dfd, "cgroup.subtree_control");
	unsigned want = cg_parse_ctrls(avail) & ~cg_parse_ctrls(on);

	for (int c = 0; c < CGROUP_CTRLS; c++) {
		char buf[16];

		if (!(want & CGROUP_BIT(c)))
			continue;
		snprintf(buf, sizeof(buf), "+%s", ctrl_names[c]);
		if (fd_write_at(dfd, "cgroup.subtree_control", buf, NULL) < 0)
			log_debug("cgroups: cannot enable %s: %s", ctrl_names[c], strerror(errno));
	}
}

static bool has_procs(int dfd)
{
	cleanup_free char *procs = cg_read(dfd, "cgroup.procs");

	return procs && *procs;
}

/* mkdir each component of rel under the root; the root's own subtree_control is the host's
 * and left alone, ours (and those of existing parents) get every controller enabled. */
static int make_dirs(const struct cgroup_root *root, const char *rel, bool own_leaf,
		     struct husk_err **err, struct cgroup *cg)
{
	cleanup_free char *copy = xstrdup(rel);
	cleanup_close int dfd = fcntl(root->dfd, F_DUPFD_CLOEXEC, 3);
	char *save = NULL, *next;

	if (dfd < 0)
		return husk_err_set(err, errno, "dup cgroup root fd");
	for (char *c = strtok_r(copy, "/", &save); c; c = next) {
		bool made;
		int nfd;

		next = strtok_r(NULL, "/", &save);
		if (dfd != root->dfd && cg->path)	/* not the hierarchy root */
			enable_subtree(dfd);
		cg->path = cg->path ? cg->path : xstrdup("");	/* marks: past the root */
		made = mkdirat(dfd, c, 0755) == 0;
		/* A default leaf must be ours alone: an empty one left over is replaced (rmdir
		 * fails while anyone uses it), so two containers never share one and one's
		 * delete can never kill the other. */
		if (!made && errno == EEXIST && !next && own_leaf) {
			if (unlinkat(dfd, c, AT_REMOVEDIR) < 0 ||
			    !(made = mkdirat(dfd, c, 0755) == 0))
				return husk_err_msg(err, EBUSY, "cgroup `%s/%s` is in use by another "
						    "container with this id (another --root?)",
						    root->path, rel);
		}
		if (made)
			cg->created = !next;
		else if (errno != EEXIST)
			return husk_err_set(err, errno, "create cgroup `%s/%s`", root->path, rel);
		nfd = openat(dfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			return husk_err_set(err, errno, "open cgroup `%s/%s`", root->path, rel);
		close(dfd);
		dfd = nfd;
	}
	free(cg->path);
	cg->path = xasprintf("%s/%s", root->path, rel);
	if (!cg->created && has_procs(dfd))
		return husk_err_msg(err, EBUSY, "cgroup `%s` already has processes: another "
				    "container's cgroup? (linux.cgroupsPath)", cg->path);
	cg->dfd = TAKE_FD(dfd);
	return 0;
}

int cgroup_create_in(const struct cgroup_root *root, const struct cgroup_config *cc,
		     struct cgroup **out, struct husk_err **err)
{
	const char *field[CGROUP_CTRLS] = { 0 };
	cleanup_cgroup struct cgroup *cg = xcalloc(1, sizeof(*cg));
	cleanup_free char *rel = NULL, *avail = NULL;
	unsigned needs = 0, v1 = 0;
	int r;

	cg->dfd = -1;
	cg->hybrid = root->hybrid;
	if ((r = cgroup_resources_needs(cc->res, &needs, field, err)) < 0)
		return r;
	if (root->dfd < 0) {
		if (needs)
			return husk_err_msg(err, EOPNOTSUPP, "%s: this host has no cgroup v2 "
					    "hierarchy to apply it in (cgroup v1 only)",
					    field[__builtin_ctz(needs)]);
		*out = TAKE_PTR(cg);
		return 0;
	}
	if ((r = cgroup_path_resolve(cc->cgroups_path, cc->id, &rel, err)) < 0)
		return r;
	/* Refused before anything is created when even the root lacks the controller. */
	avail = cg_read(root->dfd, "cgroup.controllers");
	/* On a hybrid host a controller missing from the unified hierarchy may still be mounted
	 * as v1: its limits go there (as runc applies them); only the rest is refused. */
	if (root->use_v1)
		v1 = cgroup_v1_available(needs & ~cg_parse_ctrls(avail));
	if ((r = refuse_missing(needs & ~cg_parse_ctrls(avail) & ~v1, field, root->hybrid, err)) < 0)
		return r;
	/* A delete may remove the shared, empty default parent between our mkdir and our
	 * leaf's (see drop_default_parent): then the leaf's mkdir says ENOENT; try again. */
	for (int tries = 0; tries < 5; tries++) {
		r = make_dirs(root, rel, !cc->cgroups_path || !*cc->cgroups_path, err, cg);
		if (r != -ENOENT)
			break;
		husk_err_freep(err);
		free(cg->path);
		cg->path = NULL;
	}
	if (r == 0) {
		free(avail);
		avail = cg_read(cg->dfd, "cgroup.controllers");
		cg->ctrls = cg_parse_ctrls(avail);
		r = refuse_missing(needs & ~cg->ctrls & ~v1, field, root->hybrid, err);
	}
	if (r == 0)
		r = cgroup_apply(cg, cc->res, err);
	if (r == 0 && v1)
		r = cgroup_v1_create(rel, cc->res, v1, err);
	if (r == 0 && root->use_v1 && cc->res && cc->res->n_devices)
		r = cgroup_v1_devices(rel, cc, err);
	if (r == 0)
		r = cgroup_apply_devices(cg, cc, err);
	if (r < 0) {
		if (root->use_v1)
			cgroup_v1_remove(rel);
		if (cg->created && cg->path && unlinkat(AT_FDCWD, cg->path, AT_REMOVEDIR) < 0)
			log_warn("cgroups: cannot remove `%s`: %s", cg->path, strerror(errno));
		cgroup_drop_empty_parents(root->path, rel);
		return r;
	}
	*out = TAKE_PTR(cg);
	return 0;
}

int cgroup_create(const struct cgroup_config *cc, struct cgroup **out, struct husk_err **err)
{
	struct cgroup_root root;
	int r;

	if ((r = cgroup_root_open(&root, err)) < 0)
		return r;
	r = cgroup_create_in(&root, cc, out, err);
	cgroup_root_close(&root);
	return r;
}

int cgroup_open(const char *path, struct cgroup **out, struct husk_err **err)
{
	cleanup_cgroup struct cgroup *cg = NULL;
	cleanup_free char *avail = NULL;
	int fd;

	if (!path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
		return husk_err_msg(err, EINVAL, "invalid cgroup path \"%s\"", path ? path : "");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return husk_err_set(err, errno, "open cgroup `%s`", path);
	cg = xcalloc(1, sizeof(*cg));
	cg->dfd = fd;
	cg->path = xstrdup(path);
	if (!is_cgroup2(path))
		return husk_err_msg(err, EINVAL, "`%s` is not a cgroup v2 directory", path);
	cg->hybrid = startswith(path, HOST_CGROUP "/unified/");
	avail = cg_read(fd, "cgroup.controllers");
	cg->ctrls = cg_parse_ctrls(avail);
	*out = TAKE_PTR(cg);
	return 0;
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dfd >= 0)
		close(cg->dfd);
	free(cg->path);
	free(cg);
}

void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}

/* ---- processes ---- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Append the pids of `path` and every child cgroup below it. */
static int collect_pids(const char *path, pid_t **v, size_t *n, size_t *cap, int depth)
{
	cleanup_free char *procs_path = xasprintf("%s/cgroup.procs", path), *buf = NULL;
	cleanup_close int fd = open(procs_path, O_RDONLY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r;

	if (fd < 0)
		return -errno;
	if ((r = read_all(fd, &buf, NULL)) < 0)
		return r;
	for (char *p = buf, *end; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (*n == *cap)
			*v = xrealloc(*v, (*cap = *cap ? *cap * 2 : 16) * sizeof(**v));
		(*v)[(*n)++] = (pid_t)pid;
	}
	if (depth > 32 || !(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		cleanup_free char *sub = NULL;

		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		collect_pids(sub, v, n, cap, depth + 1);
	}
	closedir(d);
	return 0;
}

int cgroup_pids(const char *path, pid_t **out, size_t *n, struct husk_err **err)
{
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	r = collect_pids(path, out, n, &cap, 0);
	if (r < 0) {
		free(TAKE_PTR(*out));
		*n = 0;
		return husk_err_set(err, -r, "read `%s/cgroup.procs`", path);
	}
	qsort(*out, *n, sizeof(**out), cmp_pid);
	return 0;
}

int cgroup_signal(const char *path, int sig, struct husk_err **err)
{
	cleanup_free pid_t *pids = NULL;
	cleanup_free char *kill_path = NULL;
	size_t n;
	int r;

	if (sig == SIGKILL) {
		/* cgroup.kill (5.14+) also catches what forks while we look. */
		kill_path = xasprintf("%s/cgroup.kill", path);
		if (fd_write_at(AT_FDCWD, kill_path, "1", NULL) == 0)
			return 0;
	}
	if ((r = cgroup_pids(path, &pids, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return husk_err_set(err, errno, "send signal %d to pid %d", sig, (int)pids[i]);
	return 0;
}

/* ---- removing ---- */

static int rmdir_tree(const char *path, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return -errno;
	while (depth < 32 && (de = readdir(d))) {
		cleanup_free char *sub = NULL;

		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		rmdir_tree(sub, depth + 1);
	}
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

/* Everything under husk/ (default and relative cgroupsPaths) is husk's own: the last
 * container to go removes the empty directories above its leaf, husk/ included, so nothing of
 * husk's stays in the host's hierarchy. rmdir stops harmlessly at the first one in use.
 * Absolute paths are never walked up: their parents may be someone else's. */
void cgroup_drop_empty_parents(const char *root, const char *rel)
{
	cleanup_free char *path = NULL;
	char *slash;

	if (!startswith(rel, CGROUP_DEFAULT_PARENT "/"))
		return;
	path = xasprintf("%s/%s", root, rel);
	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > strlen(root)) {
		*slash = '\0';
		if (rmdir(path) < 0)
			return;
	}
}

static void drop_default_parent(const char *path)
{
	static const char *const roots[] = { HOST_CGROUP "/unified", HOST_CGROUP };

	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		size_t n = strlen(roots[i]);

		if (strncmp(path, roots[i], n) == 0 && path[n] == '/') {
			cgroup_drop_empty_parents(roots[i], path + n + 1);
			return;
		}
	}
}

int cgroup_remove(const char *path, struct husk_err **err)
{
	struct timespec ts = { 0, 1000000 };
	int r = 0;

	if (!path || !*path)
		return 0;
	for (int i = 0; i < REMOVE_TRIES; i++) {
		r = rmdir_tree(path, 0);
		if (r == 0 || r == -ENOENT) {
			/* The unified cgroup is empty, so its v1 twins (hybrid hosts) are too. */
			if (startswith(path, HOST_CGROUP "/unified/"))
				cgroup_v1_remove(path + strlen(HOST_CGROUP "/unified/"));
			drop_default_parent(path);
			return 0;
		}
		if (r != -EBUSY)
			break;
		/* Processes still in it, or still exiting: kill them (again) and back off. */
		cgroup_signal(path, SIGKILL, NULL);
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 200000000)
			ts.tv_nsec *= 2;
	}
	return husk_err_set(err, -r, "remove cgroup `%s`", path);
}

void cgroup_remove_undo(void *arg)
{
	struct cgroup *cg = arg;
	struct husk_err *err = NULL;

	if (!cg || !cg->created || !cg->path)
		return;
	if (cgroup_remove(cg->path, &err) < 0) {
		log_warn("cgroups: %s", err->msg);
		husk_err_free(err);
	}
}

/* ---- update ---- */

int cgroup_update(const char *path, const struct oci_resources *res, struct husk_err **err)
{
	const char *field[CGROUP_CTRLS] = { 0 };
	cleanup_cgroup struct cgroup *cg = NULL;
	unsigned needs = 0;
	int r;

	if ((r = cgroup_resources_needs(res, &needs, field, err)) < 0)
		return r;
	if ((r = cgroup_open(path, &cg, err)) < 0)
		return r;
	if ((r = refuse_missing(needs & ~cg->ctrls, field, cg->hybrid, err)) < 0)
		return r;
	return cgroup_apply(cg, res, err);
}
