/* Helpers shared between the rootfs/ files; not part of the public interface (rootfs.h).
 * Every path here is either a trusted host path or resolved inside the root first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "rootfs/rootfs.h"

/* "/proc/self/fd/N": how mount(2) is pointed at a target that was resolved inside the root. */
#define FD_PATH_MAX 32
const char *fd_path(int fd, char buf[FD_PATH_MAX]);

/* openat2(rootfd, path, RESOLVE_IN_ROOT): the fd, or -errno (no error object: callers decide
 * whether ENOENT is an error). */
int resolve_open(int rootfd, const char *path, int flags, mode_t mode);
/* Make sure `path` exists inside the root as a file (an empty one is created, parents too);
 * returns an O_PATH fd of it. The bind-mount target for sources that are not directories. */
int rootfs_mkfile_in_root(int rootfd, const char *path, mode_t mode, struct husk_err **err);
/* Split "/a/b/c" into a parent fd (created, resolved inside the root) and the last component
 * (a pointer into path). */
int resolve_parent(int rootfd, const char *path, const char **base, struct husk_err **err);

/* MS_* flags of the mount an fd is on, from fstatfs (ST_* equal MS_*). */
int mount_flags_of(int fd, unsigned long *flags);
/* The flags for MS_REMOUNT|MS_BIND of a mount now carrying `cur`, asked to set `flags` and
 * clear `clear`: the current ro/nosuid/nodev/noexec/nosymfollow stay unless cleared (a user
 * namespace locks them: dropping one would fail with EPERM), atime options are spelled out. */
unsigned long rootfs_remount_flags(unsigned long cur, unsigned long flags, unsigned long clear);
/* MS_REMOUNT|MS_BIND the mount on top of `path` (re-resolved in root) with those flags. */
int mount_bind_remount(int rootfd, const char *path, unsigned long flags, unsigned long clear,
		       struct husk_err **err);
/* Bind host `src` onto `dest` in the root (a directory or an empty file is created to match
 * the source), then remount with the options' flags, propagation, recursive attributes. */
int rootfs_bind_mount(int rootfd, const char *src, const char *dest,
		      const struct rootfs_mount_flags *mf, struct husk_err **err);
/* A tmpfs at m->destination holding a copy of what was there (option "tmpcopyup"). */
int rootfs_mount_tmpcopyup(int rootfd, const struct oci_mount *m,
			   const struct rootfs_mount_flags *mf, struct husk_err **err);
/* A bind target at dest inside the root: a directory (dir) or an empty file, made if missing;
 * returns an O_PATH fd of it. */
int rootfs_mkdest_in_root(int rootfd, const char *dest, bool dir, struct husk_err **err);
/* Attach a detached tree from rootfs_idmap_open() at dest inside the root. */
int rootfs_idmap_attach(int rootfd, int tree_fd, const char *dest, struct husk_err **err);
/* The "shared"/"rslave"/... name of rootfsPropagation or a mount option to MS_* flags. */
int rootfs_propagation_flags(const char *name, unsigned long *out);
/* Whether cfg asks for a namespace of type t (new or joined). */
bool rootfs_cfg_has_ns(const struct oci_config *cfg, int type);

/* /proc/self/mountinfo, parsed. Strings are unescaped (\040 etc.). */
struct mountinfo {
	int id, parent;
	char *root, *mount_point, *fstype, *source, *super_opts;
	bool shared;
};
struct mountinfo_table {
	struct mountinfo *e;
	size_t n;
};
int mountinfo_load(struct mountinfo_table *t, struct husk_err **err);
void mountinfo_free(struct mountinfo_table *t);
const struct mountinfo *mountinfo_find_id(const struct mountinfo_table *t, int id);

/* A "cgroup" or "cgroup2" config mount (cgroupfs.c). */
int rootfs_mount_cgroup(const struct rootfs_opts *o, int rootfd, const struct oci_mount *m,
			const struct rootfs_mount_flags *mf, struct husk_err **err);

/* /dev: default devices, linux.devices, ptmx and the fd links (dev.c). */
int rootfs_setup_dev(const struct rootfs_opts *o, int rootfd, struct husk_err **err);
