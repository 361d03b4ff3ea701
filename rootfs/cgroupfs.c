/* "cgroup" and "cgroup2" mounts: what the container sees at /sys/fs/cgroup on pure cgroup v2,
 * hybrid and v1 hosts. The host's hierarchies are only ever read and bound, never changed.
 *
 * The choice, following runc: on a cgroup2 host (or for type "cgroup2") a fresh cgroup2 mount
 * when the container has its own cgroup namespace (it then shows the container's cgroup as the
 * root); without one, a bind of the container's own cgroup directory, so it never sees its
 * siblings. On a v1 or hybrid host a "cgroup" mount becomes a tmpfs holding one entry per host
 * hierarchy (cpu, memory, ..., systemd, unified): a fresh mount of that hierarchy in a cgroup
 * namespace, else a bind of the container's own directory in it; comounted hierarchies
 * ("cpu,cpuacct") also get a symlink per controller. The mount's options (ro, nosuid, ...)
 * apply to every entry, and the tmpfs itself turns read-only last. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

#define HOST_CGROUP "/sys/fs/cgroup"

/* Whether every comma-separated token of `need` is one of `have`'s. */
static bool tokens_within(const char *need, const char *have)
{
	cleanup_free char *n = xstrdup(need);
	char *save = NULL;

	for (char *t = strtok_r(n, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(t);
		const char *h = have;
		bool found = false;

		while (h && *h && !found) {
			found = strncmp(h, t, len) == 0 && (h[len] == ',' || h[len] == '\0');
			h = strchr(h, ',');
			h = h ? h + 1 : NULL;
		}
		if (!found)
			return false;
	}
	return true;
}

/* The calling process's cgroup in the hierarchy `mi` (from /proc/self/cgroup), or NULL. */
static char *own_cgroup(const struct mountinfo *mi)
{
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	bool v2 = streq(mi->fstype, "cgroup2");
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		char *ctrl = strchr(line, ':'), *path;

		if (!ctrl || !(path = strchr(++ctrl, ':')))
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (v2 ? ctrl[0] == '\0' : (ctrl[0] && tokens_within(ctrl, mi->super_opts)))
			return xstrdup(path);
	}
	return NULL;
}

/* The host directory to bind for `mi`: its mount point plus the container's own cgroup
 * relative to the mount's root. */
static char *own_cgroup_dir(const struct mountinfo *mi)
{
	cleanup_free char *own = own_cgroup(mi);
	size_t rl = strlen(mi->root);

	if (!own || streq(mi->root, "/"))
		return xasprintf("%s%s", mi->mount_point, own && !streq(own, "/") ? own : "");
	if (strncmp(own, mi->root, rl) == 0 && (own[rl] == '/' || own[rl] == '\0'))
		return xasprintf("%s%s", mi->mount_point, own + rl);
	return xstrdup(mi->mount_point);
}

/* The cgroup options of a v1 hierarchy: its super options without "rw"/"ro". */
static char *v1_opts(const char *super)
{
	cleanup_free char *copy = xstrdup(super);
	char *out = NULL, *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *n;

		if (streq(t, "rw") || streq(t, "ro"))
			continue;
		n = out ? xasprintf("%s,%s", out, t) : xstrdup(t);
		free(out);
		out = n;
	}
	return out;
}

/* One hierarchy at `dest`: fresh in a cgroup namespace, else (or when that is refused: a user
 * namespace cannot mount v1, nor cgroup2 without its own cgroupns) a bind of our own dir. */
static int mount_hierarchy(const struct rootfs_opts *o, int rootfd, const struct mountinfo *mi,
			   const char *dest, const struct rootfs_mount_flags *mf,
			   struct husk_err **err)
{
	struct rootfs_mount_flags bind = *mf;
	cleanup_free char *src = NULL;

	if (rootfs_cfg_has_ns(o->cfg, OCI_NS_CGROUP)) {
		cleanup_close int dfd = rootfs_mkdir_in_root(rootfd, dest, 0755, err);
		cleanup_free char *data = streq(mi->fstype, "cgroup") ? v1_opts(mi->super_opts)
								       : NULL;
		/* Read-only goes on afterwards, per mount: asked at mount time it could reach the
		 * host's superblock, which this mount shares. */
		unsigned long fl = mf->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
		char p[FD_PATH_MAX];

		if (dfd < 0)
			return dfd;
		if (mount(mi->fstype, fd_path(dfd, p), mi->fstype, fl, data) == 0)
			return (mf->flags & MS_RDONLY)
				       ? mount_bind_remount(rootfd, dest, mf->flags, mf->clear, err)
				       : 0;
		if (errno != EPERM && errno != EBUSY)
			return husk_err_set(err, errno, "mount %s `%s`", mi->fstype, dest);
	}
	src = own_cgroup_dir(mi);
	bind.bind = true;
	bind.rbind = false;
	bind.data = NULL;
	return rootfs_bind_mount(rootfd, src, dest, &bind, err);
}

static int link_comounts(int rootfd, const char *dest, const char *name, struct husk_err **err)
{
	cleanup_close int dfd = rootfs_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, err);
	cleanup_free char *copy = xstrdup(name);
	char *save = NULL;

	if (dfd < 0)
		return dfd;
	if (!strchr(name, ','))
		return 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (symlinkat(name, dfd, t) < 0 && errno != EEXIST)
			return husk_err_set(err, errno, "symlink `%s/%s`", dest, t);
	return 0;
}

/* Is `mp` a direct child of /sys/fs/cgroup ("/sys/fs/cgroup/cpu")? Returns its name. */
static const char *hierarchy_name(const char *mp)
{
	const char *n = mp + strlen(HOST_CGROUP "/");

	if (!startswith(mp, HOST_CGROUP "/") || !*n || strchr(n, '/'))
		return NULL;
	return n;
}

static int mount_v1_tree(const struct rootfs_opts *o, int rootfd, const struct oci_mount *m,
			 const struct rootfs_mount_flags *mf, struct husk_err **err)
{
	cleanup_close int dfd = rootfs_mkdir_in_root(rootfd, m->destination, 0755, err);
	struct mountinfo_table t = { 0 };
	char p[FD_PATH_MAX];
	int r;

	if (dfd < 0)
		return dfd;
	/* Writable until every hierarchy has its directory. */
	if (mount("tmpfs", fd_path(dfd, p), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=755") < 0)
		return husk_err_set(err, errno, "mount tmpfs");
	r = mountinfo_load(&t, err);
	for (size_t i = 0; r >= 0 && i < t.n; i++) {
		const struct mountinfo *mi = &t.e[i];
		const char *name = hierarchy_name(mi->mount_point);
		cleanup_free char *dest = NULL;

		if (!name || (!streq(mi->fstype, "cgroup") && !streq(mi->fstype, "cgroup2")))
			continue;
		dest = xasprintf("%s/%s", m->destination, name);
		r = mount_hierarchy(o, rootfd, mi, dest, mf, err);
		if (r >= 0)
			r = link_comounts(rootfd, m->destination, name, err);
	}
	mountinfo_free(&t);
	if (r < 0)
		return r;
	if (mf->flags & MS_RDONLY)
		return mount_bind_remount(rootfd, m->destination, MS_RDONLY | mf->flags, 0, err);
	return 0;
}

int rootfs_mount_cgroup(const struct rootfs_opts *o, int rootfd, const struct oci_mount *m,
			const struct rootfs_mount_flags *mf, struct husk_err **err)
{
	struct statfs st;

	if (statfs(HOST_CGROUP, &st) < 0)
		return husk_err_set(err, errno, "statfs `%s`", HOST_CGROUP);
	if (st.f_type == CGROUP2_SUPER_MAGIC || streq(m->type, "cgroup2")) {
		/* The unified hierarchy: at /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid. */
		struct mountinfo mi = {
			.root = "/",
			.fstype = "cgroup2",
			.super_opts = "",
			.mount_point = st.f_type == CGROUP2_SUPER_MAGIC ? HOST_CGROUP
									: HOST_CGROUP "/unified",
		};
		return mount_hierarchy(o, rootfd, &mi, m->destination, mf, err);
	}
	return mount_v1_tree(o, rootfd, m, mf, err);
}
