/* cgroup v2 for containers: create a cgroup with its limits before the init joins it
 * (CLONE_INTO_CGROUP), update, freeze, signal, list, stats and remove it.
 *
 * Hybrid and v1 hosts: the container is tracked in the unified hierarchy
 * (/sys/fs/cgroup/unified) and a limit that no controller there can apply is refused with an
 * error naming the controller and the config field, never silently ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "oci/config.h"

enum cgroup_ctrl {
	CGROUP_CTRL_CPUSET,
	CGROUP_CTRL_CPU,
	CGROUP_CTRL_IO,
	CGROUP_CTRL_MEMORY,
	CGROUP_CTRL_HUGETLB,
	CGROUP_CTRL_PIDS,
	CGROUP_CTRL_RDMA,
	CGROUP_CTRL_MISC,
	CGROUP_CTRLS,
};
#define CGROUP_BIT(c) (1u << (c))

/* Where the unified (v2) hierarchy is mounted. */
struct cgroup_root {
	char *path;	/* "/sys/fs/cgroup", or "/sys/fs/cgroup/unified" on a hybrid host */
	int dfd;	/* O_DIRECTORY; -1 when the host has no cgroup v2 at all */
	bool hybrid;	/* v1 controllers are mounted beside it */
	bool use_v1;	/* hybrid host: limits the unified hierarchy lacks go to v1 */
};

struct cgroup {
	char *path;	/* absolute, e.g. "/sys/fs/cgroup/husk/ct1"; NULL without cgroup v2 */
	int dfd;	/* O_DIRECTORY of the cgroup: clone_args.cgroup; -1 without cgroup v2 */
	unsigned ctrls;	/* CGROUP_BIT()s of the controllers enabled for it */
	bool hybrid;
	bool created;	/* we made the directory (cgroup_destroy removes it) */
};

/* What cgroup_create needs from config.json. */
struct cgroup_config {
	const char *cgroups_path;	/* linux.cgroupsPath; NULL or "" for the default */
	const char *id;			/* the container id (default path "husk/<id>") */
	const struct oci_resources *res;	/* linux.resources; NULL when absent */
	const struct oci_device *devices;	/* linux.devices: each allowed "rwm" */
	size_t n_devices;
};

const char *cgroup_ctrl_name(enum cgroup_ctrl c);	/* "memory" */

/* Find the unified hierarchy of this host. A host without one gets dfd -1 and no error. */
int cgroup_root_open(struct cgroup_root *r, struct husk_err **err);
void cgroup_root_close(struct cgroup_root *r);

/* Validate linux.cgroupsPath and turn it into a path relative to the hierarchy root:
 * absolute ("/a/b") stays under the root ("a/b"), relative ("a/b") goes under the default
 * parent ("husk/a/b"), NULL or "" is "husk/<id>". Refuses ".." and "." components, the root
 * itself and names the kernel reserves. *out is malloc'd. */
int cgroup_path_resolve(const char *cgroups_path, const char *id, char **out,
			struct husk_err **err);

/* Create the container's cgroup: refuse what cgroup v2 cannot express here (before anything
 * is made), create the directory, enable every available controller in the parents'
 * cgroup.subtree_control, apply linux.resources and attach the device filter, all before any
 * process joins. On a host without cgroup v2, *out has dfd -1 (no placement) unless a limit
 * was asked for, which is refused. Caller frees with cgroup_free (after cgroup_destroy on
 * failure paths). */
int cgroup_create(const struct cgroup_config *cc, struct cgroup **out, struct husk_err **err);
/* The same under a given root (tests use a fake one). */
int cgroup_create_in(const struct cgroup_root *root, const struct cgroup_config *cc,
		     struct cgroup **out, struct husk_err **err);
/* Open an existing cgroup by its absolute path (state.json's cgroup_path); it must be a
 * directory on a cgroup2 filesystem. */
int cgroup_open(const char *path, struct cgroup **out, struct husk_err **err);
void cgroup_free(struct cgroup *cg);
void cgroup_freep(struct cgroup **cg);
#define cleanup_cgroup __attribute__((cleanup(cgroup_freep)))

/* Kill what is left (cgroup.kill) and remove the cgroup and any child cgroups, retrying
 * while the kernel still calls them busy. A missing cgroup is not an error. */
int cgroup_remove(const char *path, struct husk_err **err);
/* Whether path (the unified cgroup) has v1 twins cgroup_v1_join() would write to: a hybrid
 * host's unified hierarchy. */
bool cgroup_v1_join_needed(const char *path);
/* Hybrid hosts: put pid (0: the caller) into the v1 cgroups that serve this (unified) cgroup's
 * limits, if any; a no-op elsewhere. The unified cgroup itself is joined by CLONE_INTO_CGROUP. */
int cgroup_v1_join(const char *path, pid_t pid, struct husk_err **err);
/* For undo lists: cgroup_remove(cg->path) when cg->created, errors dropped. */
void cgroup_remove_undo(void *cg);

/* Send sig to every process of the cgroup and its children; SIGKILL uses cgroup.kill. */
int cgroup_signal(const char *path, int sig, struct husk_err **err);
/* Freeze (true) or thaw (false) and wait until cgroup.events says it is done. */
int cgroup_freeze(const char *path, bool frozen, struct husk_err **err);
/* Has the cgroup been asked to freeze (cgroup.freeze is 1)? For `state`'s "paused". */
bool cgroup_is_frozen(const char *path);
/* The pids of the cgroup and its children, sorted. *out is malloc'd (NULL when none). */
int cgroup_pids(const char *path, pid_t **out, size_t *n, struct husk_err **err);

/* Apply a LinuxResources object to a live cgroup (`husk update`). Only what res sets is
 * written; -1 removes a limit ("max"). */
int cgroup_update(const char *path, const struct oci_resources *res, struct husk_err **err);

/* One `events --stats` document, as runc prints it: {"type":"stats","id":ID,"data":{"cpu":
 * ...,"memory":...,"pids":...,"blkio":...,"hugetlb":...}}. Compact, malloc'd. */
int cgroup_stats_json(const char *path, const char *id, char **out, struct husk_err **err);
/* memory.events counters of the cgroup: oom and oom_kill (0 when unavailable). */
int cgroup_oom_count(const char *path, uint64_t *oom, uint64_t *oom_kill);
