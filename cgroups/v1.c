/* Hybrid hosts: limits whose controller the unified hierarchy lacks are applied through the
 * cgroup v1 hierarchy of that controller (/sys/fs/cgroup/<name>/<path>), as runc does there.
 * The unified cgroup still tracks every process (placement, freeze, kill, ps). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "internal.h"

#define V1_ROOT "/sys/fs/cgroup"

/* The v1 directory that holds each controller this file can serve. */
static const char *const v1_dirs[CGROUP_CTRLS] = {
	[CGROUP_CTRL_CPUSET] = "cpuset", [CGROUP_CTRL_CPU] = "cpu", [CGROUP_CTRL_IO] = "blkio",
	[CGROUP_CTRL_MEMORY] = "memory", [CGROUP_CTRL_PIDS] = "pids",
};

/* Every v1 directory a container may have (joined and removed as a set). */
static const char *const v1_all[] = { "cpuset", "cpu", "blkio", "memory", "pids", "devices" };

static bool v1_mounted(const char *dir)
{
	char path[128];
	struct statfs sf;

	snprintf(path, sizeof(path), V1_ROOT "/%s", dir);
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP_SUPER_MAGIC;
}

unsigned cgroup_v1_available(unsigned wanted)
{
	unsigned have = 0;

	for (int c = 0; c < CGROUP_CTRLS; c++)
		if ((wanted & CGROUP_BIT(c)) && v1_dirs[c] && v1_mounted(v1_dirs[c]))
			have |= CGROUP_BIT(c);
	return have;
}

static int v1_write(const char *dir, const char *rel, const char *file, const char *val,
		    struct husk_err **err)
{
	cleanup_free char *path = xasprintf(V1_ROOT "/%s/%s", dir, rel);
	cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return husk_err_set(err, errno, "cgroup v1 `%s`", path);
	if (fd_write_at(dfd, file, val, err) < 0)
		return husk_err_wrap(err, "cgroup v1 `%s`", path);
	return 0;
}

static int v1_write_u(const char *dir, const char *rel, const char *file, int64_t v,
		      struct husk_err **err)
{
	char val[32];

	snprintf(val, sizeof(val), "%" PRId64, v);
	return v1_write(dir, rel, file, val, err);
}

/* mkdir -p under the controller; a new cpuset level starts with no cpus or mems and would
 * refuse tasks, so each one inherits its parent's first. */
static int v1_mkdirs(const char *dir, const char *rel, struct husk_err **err)
{
	cleanup_free char *path = xasprintf(V1_ROOT "/%s/%s", dir, rel);
	size_t base = strlen(V1_ROOT) + 1 + strlen(dir);

	for (char *p = path + base + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return husk_err_set(err, errno, "cgroup v1: create `%s`", path);
		if (streq(dir, "cpuset")) {
			cleanup_free char *cpus = NULL, *mems = NULL, *parent = xstrdup(path);
			cleanup_close int pfd = -1, dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			*strrchr(parent, '/') = '\0';
			pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			cpus = dfd >= 0 ? cg_read(dfd, "cpuset.cpus") : NULL;
			/* Empty reads as "\n": only whitespace means unset. */
			if (dfd >= 0 && pfd >= 0 && (!cpus || !cpus[strspn(cpus, " \n")])) {
				free(cpus);
				cpus = cg_read(pfd, "cpuset.cpus");
				mems = cg_read(pfd, "cpuset.mems");
				if (cpus && mems && (fd_write_at(dfd, "cpuset.cpus", cpus, err) < 0 ||
						     fd_write_at(dfd, "cpuset.mems", mems, err) < 0))
					return husk_err_wrap(err, "cgroup v1 `%s`", path);
			}
		}
		if (end)
			break;
		*p = '/';
	}
	return 0;
}

static int v1_cpu(const char *rel, const struct oci_cpu *c, struct husk_err **err)
{
	int r = 0;

	if (c->shares.set && c->shares.v > 0)
		r = v1_write_u("cpu", rel, "cpu.shares", (int64_t)c->shares.v, err);
	/* The period first: a quota is checked against the period in force. */
	if (r == 0 && c->period.set && c->period.v > 0)
		r = v1_write_u("cpu", rel, "cpu.cfs_period_us", (int64_t)c->period.v, err);
	if (r == 0 && c->quota.set && c->quota.v != 0)
		r = v1_write_u("cpu", rel, "cpu.cfs_quota_us", c->quota.v, err);
	if (r == 0 && c->burst.set && c->burst.v > 0)
		r = v1_write_u("cpu", rel, "cpu.cfs_burst_us", (int64_t)c->burst.v, err);
	if (r == 0 && c->idle.set && c->idle.v != 0)
		r = v1_write_u("cpu", rel, "cpu.idle", c->idle.v, err);
	return r < 0 ? husk_err_wrap(err, "linux.resources.cpu") : 0;
}

static int v1_cpuset(const char *rel, const struct oci_cpu *c, struct husk_err **err)
{
	int r = 0;

	if (c->cpus && *c->cpus)
		r = v1_write("cpuset", rel, "cpuset.cpus", c->cpus, err);
	if (r == 0 && c->mems && *c->mems)
		r = v1_write("cpuset", rel, "cpuset.mems", c->mems, err);
	return r < 0 ? husk_err_wrap(err, "linux.resources.cpu (cpuset)") : 0;
}

static int v1_memory(const char *rel, const struct oci_memory *m, struct husk_err **err)
{
	int r = 0;

	if (m->limit.set && m->limit.v > 0)
		r = v1_write_u("memory", rel, "memory.limit_in_bytes", m->limit.v, err);
	/* v1's memsw is memory plus swap, which is what the OCI swap value means. */
	if (r == 0 && m->swap.set && m->swap.v != 0)
		r = v1_write_u("memory", rel, "memory.memsw.limit_in_bytes", m->swap.v, err);
	if (r == 0 && m->reservation.set && m->reservation.v > 0)
		r = v1_write_u("memory", rel, "memory.soft_limit_in_bytes", m->reservation.v, err);
	return r < 0 ? husk_err_wrap(err, "linux.resources.memory") : 0;
}

static int v1_blkio(const char *rel, const struct oci_blkio *b, struct husk_err **err)
{
	static const char *const files[4] = { "blkio.throttle.read_bps_device",
					      "blkio.throttle.write_bps_device",
					      "blkio.throttle.read_iops_device",
					      "blkio.throttle.write_iops_device" };
	const struct oci_throttle_list *lists[4] = { &b->read_bps, &b->write_bps, &b->read_iops,
						     &b->write_iops };
	char val[64];
	int r = 0;

	if (b->weight.set && b->weight.v > 0)
		r = v1_write_u("blkio", rel, "blkio.weight", (int64_t)b->weight.v, err);
	for (size_t i = 0; r == 0 && i < b->n_weight_devices; i++) {
		const struct oci_weight_device *w = &b->weight_devices[i];

		if (!w->weight.set)
			continue;
		snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
			 w->weight.v);
		r = v1_write("blkio", rel, "blkio.weight_device", val, err);
	}
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; r == 0 && i < lists[k]->n; i++) {
			const struct oci_throttle_device *t = &lists[k]->items[i];

			snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
				 t->minor, t->rate);
			r = v1_write("blkio", rel, files[k], val, err);
		}
	}
	return r < 0 ? husk_err_wrap(err, "linux.resources.blockIO") : 0;
}

int cgroup_v1_create(const char *rel, const struct oci_resources *res, unsigned ctrls,
		     struct husk_err **err)
{
	int r = 0;

	for (int c = 0; c < CGROUP_CTRLS && r == 0; c++) {
		if (!(ctrls & CGROUP_BIT(c)))
			continue;
		/* ENOENT: another delete removed the empty shared parent meanwhile; again. */
		for (int tries = 0; tries < 5; tries++) {
			r = v1_mkdirs(v1_dirs[c], rel, err);
			if (r != -ENOENT)
				break;
			husk_err_freep(err);
		}
	}
	if (r == 0 && (ctrls & CGROUP_BIT(CGROUP_CTRL_CPUSET)))
		r = v1_cpuset(rel, res->cpu, err);
	if (r == 0 && (ctrls & CGROUP_BIT(CGROUP_CTRL_CPU)))
		r = v1_cpu(rel, res->cpu, err);
	if (r == 0 && (ctrls & CGROUP_BIT(CGROUP_CTRL_MEMORY)))
		r = v1_memory(rel, res->memory, err);
	if (r == 0 && (ctrls & CGROUP_BIT(CGROUP_CTRL_IO)))
		r = v1_blkio(rel, res->blkio, err);
	if (r == 0 && (ctrls & CGROUP_BIT(CGROUP_CTRL_PIDS)) &&
	    (res->pids_limit > 0 ? v1_write_u("pids", rel, "pids.max", res->pids_limit, err)
				 : v1_write("pids", rel, "pids.max", "max", err)) < 0)
		r = husk_err_wrap(err, "linux.resources.pids");
	if (r < 0)
		cgroup_v1_remove(rel);
	return r;
}

/* The device rules in the v1 devices controller too, when it is mounted: what the eBPF
 * filter enforces on the unified cgroup, in the form v1 tools (and runc) read back. */
int cgroup_v1_devices(const char *rel, const struct cgroup_config *cc, struct husk_err **err)
{
	cleanup_free struct cgroup_dev_rule *rules = NULL;
	char val[64], maj[24], min[24];
	size_t n;
	int r;

	if (!v1_mounted("devices"))
		return 0;
	rules = cgroup_dev_rules(cc, &n, err);
	if (!rules)
		return -EINVAL;
	for (int tries = 0; tries < 5; tries++) {
		r = v1_mkdirs("devices", rel, err);
		if (r != -ENOENT)
			break;
		husk_err_freep(err);
	}
	if (r < 0 || (r = v1_write("devices", rel, "devices.deny", "a", err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct cgroup_dev_rule *d = &rules[i];

		snprintf(maj, sizeof(maj), d->major < 0 ? "*" : "%" PRId64, d->major);
		snprintf(min, sizeof(min), d->minor < 0 ? "*" : "%" PRId64, d->minor);
		snprintf(val, sizeof(val), "%c %s:%s %s%s%s", d->type, maj, min,
			 d->access & CGROUP_DEV_R ? "r" : "", d->access & CGROUP_DEV_W ? "w" : "",
			 d->access & CGROUP_DEV_M ? "m" : "");
		r = v1_write("devices", rel, d->allow ? "devices.allow" : "devices.deny", val, err);
		if (r < 0)
			return husk_err_wrap(err, "linux.resources.devices");
	}
	return 0;
}

bool cgroup_v1_join_needed(const char *v2_path)
{
	return v2_path && startswith(v2_path, V1_ROOT "/unified/");
}

int cgroup_v1_join(const char *v2_path, pid_t pid, struct husk_err **err)
{
	const char *rel;
	char val[24];

	if (!cgroup_v1_join_needed(v2_path))
		return 0;
	rel = v2_path + strlen(V1_ROOT "/unified/");

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (size_t c = 0; c < ARRAY_SIZE(v1_all); c++) {
		cleanup_free char *path = xasprintf(V1_ROOT "/%s/%s", v1_all[c], rel);

		if (access(path, F_OK) < 0)
			continue;
		if (v1_write(v1_all[c], rel, "cgroup.procs", val, err) < 0)
			return husk_err_wrap(err, "attach to the v1 %s cgroup", v1_all[c]);
	}
	return 0;
}

void cgroup_v1_remove(const char *rel)
{
	for (size_t c = 0; c < ARRAY_SIZE(v1_all); c++) {
		cleanup_free char *path = xasprintf(V1_ROOT "/%s/%s", v1_all[c], rel);

		/* Its processes are gone by now (the unified cgroup was killed): a few tries while
		 * the kernel finishes tearing them down. */
		for (int i = 0; i < 50 && rmdir(path) < 0 && errno == EBUSY; i++)
			usleep(2000);
		/* husk's own empty parents go with their last child (see manager.c). */
		{
			cleanup_free char *root = xasprintf(V1_ROOT "/%s", v1_all[c]);

			cgroup_drop_empty_parents(root, rel);
		}
	}
}
