/* Idmapped bind mounts (config.md#mounts: options "idmap"/"ridmap", uidMappings/gidMappings).
 *
 * The runtime, still in the host's namespaces and privileged there, clones each source tree
 * detached (open_tree OPEN_TREE_CLONE) and gives it the mapping with
 * mount_setattr(MOUNT_ATTR_IDMAP); the mapping travels as a user namespace fd, made for it by a
 * short-lived child. The init inherits the detached trees and attaches them at their
 * destinations inside the root (move_mount), so the mapping never depends on what the
 * container's own user namespace may do. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "rootfs/internal.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* One mapping pair and the user namespace made for it, so mounts sharing a mapping share it. */
struct ns_cache {
	const struct oci_idmap *uid, *gid;
	size_t n_uid, n_gid;
	int fd;
};

static bool same_map(const struct oci_idmap *a, size_t na, const struct oci_idmap *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

int rootfs_write_idmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
		       struct husk_err **err)
{
	char path[64], buf[4096] = "";
	size_t pos = 0;

	for (size_t i = 0; i < n && pos < sizeof(buf) - 40; i++)
		pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%u %u %u\n",
					m[i].container_id, m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	/* The kernel takes a whole map in one write, or nothing: fd_write_at makes one. */
	return fd_write_at(AT_FDCWD, path, buf, err);
}

/* A user namespace holding the mapping: a child enters a new one and waits on a pipe while we
 * write its maps and open it; closing the pipe lets it go. */
static int make_userns(const struct oci_idmap *uid, size_t n_uid, const struct oci_idmap *gid,
		       size_t n_gid, struct husk_err **err)
{
	int p[2], r, fd = -1;
	pid_t pid;
	char path[64];

	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_err_set(err, errno, "pipe");
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		r = husk_err_set(err, errno, "clone a user namespace for the mapping");
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		char c;

		close(p[1]);
		/* Only async-signal-safe calls here: this is a raw clone of the runtime. */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	r = rootfs_write_idmap(pid, "uid_map", uid, n_uid, err);
	if (r == 0)
		r = rootfs_write_idmap(pid, "gid_map", gid, n_gid, err);
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = husk_err_set(err, errno, "open `%s`", path);
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? r : fd;
}

static int userns_for(struct ns_cache *cache, size_t *n_cache, const struct oci_idmap *uid,
		      size_t n_uid, const struct oci_idmap *gid, size_t n_gid,
		      struct husk_err **err)
{
	int fd;

	for (size_t i = 0; i < *n_cache; i++)
		if (same_map(cache[i].uid, cache[i].n_uid, uid, n_uid) &&
		    same_map(cache[i].gid, cache[i].n_gid, gid, n_gid))
			return cache[i].fd;
	fd = make_userns(uid, n_uid, gid, n_gid, err);
	if (fd < 0)
		return fd;
	cache[(*n_cache)++] = (struct ns_cache){ uid, gid, n_uid, n_gid, fd };
	return fd;
}

/* Mount i's options in *mf (to free), whether it asks for an idmap, and whether it can have
 * one. */
static int check_mount(const struct oci_config *cfg, size_t i, struct rootfs_mount_flags *mf,
		       bool *wanted, struct husk_err **err)
{
	const struct oci_mount *m = &cfg->mounts[i];
	bool bind;

	rootfs_parse_mount_options(m->options, NULL, mf, err);
	bind = mf->bind || mf->rbind || (m->type && streq(m->type, "bind"));
	*wanted = mf->idmap || mf->ridmap;
	/* config.md: mappings without the option would be silently ignored by older runtimes,
	 * which is why the spec asks for both. */
	if (!*wanted && (m->n_uid_mappings || m->n_gid_mappings))
		return husk_err_msg(err, EINVAL, "mounts[%zu].%s: needs the idmap or ridmap option",
				    i, m->n_uid_mappings ? "uidMappings" : "gidMappings");
	if (!*wanted)
		return 0;
	if (!bind)
		return husk_err_msg(err, EINVAL, "mounts[%zu].options: idmap and ridmap need a "
				    "bind mount (type \"bind\" or option bind/rbind)", i);
	if (!m->source)
		return husk_err_msg(err, EINVAL, "mounts[%zu].source: needed by a bind mount", i);
	if (!m->n_uid_mappings && !rootfs_cfg_has_ns(cfg, OCI_NS_USER))
		return husk_err_msg(err, EINVAL, "mounts[%zu].options: idmap without "
				    "uidMappings/gidMappings needs a user namespace in "
				    "linux.namespaces", i);
	return 0;
}

int rootfs_idmap_check(const struct oci_config *cfg, size_t i, bool *wanted,
		       struct husk_err **err)
{
	struct rootfs_mount_flags mf;
	int r = check_mount(cfg, i, &mf, wanted, err);

	rootfs_mount_flags_free(&mf);
	return r;
}

/* One detached, idmapped copy of mount i's source. */
static int open_idmapped(const struct oci_mount *m, size_t i, const struct rootfs_mount_flags *mf,
			 int bundle_dfd, int userns_fd, struct husk_err **err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
	int fd, r;

	fd = (int)syscall(SYS_open_tree, bundle_dfd, m->source,
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (mf->rbind ? AT_RECURSIVE : 0));
	if (fd < 0)
		return husk_err_set(err, errno, "mounts[%zu]: open_tree `%s`", i, m->source);
	/* "ridmap" maps every mount of the tree, "idmap" the top one only (config.md). */
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (mf->ridmap ? AT_RECURSIVE : 0),
		    &attr, sizeof(attr)) < 0) {
		r = errno;
		close(fd);
		return husk_err_set(err, r, "mounts[%zu]: idmap `%s` (mount_setattr "
				    "MOUNT_ATTR_IDMAP; the filesystem must support idmapped mounts)",
				    i, m->source);
	}
	return fd;
}

int rootfs_idmap_open(const struct oci_config *cfg, const char *bundle, int userns_fd,
		      int **fds_out, struct husk_err **err)
{
	const struct oci_linux *lx = &cfg->linux;
	cleanup_free struct ns_cache *cache = NULL;
	cleanup_close int bundle_dfd = -1;
	size_t n_cache = 0, want = 0;
	int *fds = NULL, r = 0;

	*fds_out = NULL;
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		bool w;

		r = rootfs_idmap_check(cfg, i, &w, err);
		if (r < 0)
			return r;
		want += w;
	}
	if (!want)
		return 0;
	if (geteuid() != 0)
		return husk_err_msg(err, EPERM, "mounts: idmapped mounts need husk to run as root");
	bundle_dfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bundle_dfd < 0)
		return husk_err_set(err, errno, "open bundle `%s`", bundle);
	cache = xcalloc(cfg->n_mounts, sizeof(*cache));
	fds = xcalloc(cfg->n_mounts, sizeof(*fds));
	for (size_t i = 0; i < cfg->n_mounts; i++)
		fds[i] = -1;
	for (size_t i = 0; i < cfg->n_mounts && r == 0; i++) {
		const struct oci_mount *m = &cfg->mounts[i];
		struct rootfs_mount_flags mf;
		bool w;
		int ns;

		/* Checked above, so this cannot fail; only mf.rbind/ridmap are used below. */
		check_mount(cfg, i, &mf, &w, err);
		rootfs_mount_flags_free(&mf);
		if (!w)
			continue;
		/* Without mappings of its own, the mount takes the container's: the user
		 * namespace it joins, or the maps of the one it will get. */
		if (m->n_uid_mappings)
			ns = userns_for(cache, &n_cache, m->uid_mappings, m->n_uid_mappings,
					m->gid_mappings, m->n_gid_mappings, err);
		else if (userns_fd >= 0)
			ns = userns_fd;
		else
			ns = userns_for(cache, &n_cache, lx->uid_mappings, lx->n_uid_mappings,
					lx->gid_mappings, lx->n_gid_mappings, err);
		if (ns < 0) {
			r = husk_err_wrap(err, "mounts[%zu]: user namespace for the idmap", i);
			break;
		}
		fds[i] = open_idmapped(m, i, &mf, bundle_dfd, ns, err);
		if (fds[i] < 0)
			r = fds[i];
	}
	for (size_t i = 0; i < n_cache; i++)
		close(cache[i].fd);
	if (r < 0) {
		rootfs_idmap_close(fds, cfg->n_mounts);
		return r;
	}
	*fds_out = fds;
	return 0;
}

void rootfs_idmap_close(int *fds, size_t n)
{
	for (size_t i = 0; fds && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

int rootfs_idmap_attach(int rootfd, int tree_fd, const char *dest, struct husk_err **err)
{
	cleanup_close int dfd = -1;
	struct stat st;

	if (fstat(tree_fd, &st) < 0)
		return husk_err_set(err, errno, "stat the idmapped source");
	dfd = rootfs_mkdest_in_root(rootfd, dest, S_ISDIR(st.st_mode), err);
	if (dfd < 0)
		return dfd;
	if (syscall(SYS_move_mount, tree_fd, "", dfd, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return husk_err_set(err, errno, "attach the idmapped mount (move_mount)");
	return 0;
}
