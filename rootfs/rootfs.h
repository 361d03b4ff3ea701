/* The filesystem a container sees: mounts, /dev, pivot_root, masked and read-only paths.
 * Called from the container's init (runtime/init.c), inside its new mount namespace. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "oci/config.h"

struct rootfs_opts {
	const struct oci_config *cfg;
	const char *rootfs;	/* absolute host path of root.path */
	bool no_pivot;		/* --no-pivot: MS_MOVE + chroot instead of pivot_root */
	bool in_userns;		/* a new user namespace: devices are bind-mounted, not mknod'ed */
	bool host_mntns;	/* no mount namespace of its own: mounts land in the caller's
				 * namespace under rootfs, "/" is never touched, chroot not pivot */
	const int *idmap_fds;	/* per mount: a detached idmapped tree, or -1; NULL if none */
};

/* Step 0, in the runtime before the init is cloned, still privileged in the host's user
 * namespace: for every mount with option idmap/ridmap, a detached clone of its source
 * (relative sources from `bundle`) carrying the mapping (mount_setattr MOUNT_ATTR_IDMAP): the
 * mount's uidMappings/gidMappings, else the user namespace the container joins (userns_fd),
 * else the maps of the one it gets. *fds is NULL when no mount asks, else one fd or -1 per
 * mount, to free with rootfs_idmap_close(). Errors name the mount's field. */
int rootfs_idmap_open(const struct oci_config *cfg, const char *bundle, int userns_fd,
		      int **fds, struct husk_err **err);
void rootfs_idmap_close(int *fds, size_t n);
/* Write the id map `file` ("uid_map" or "gid_map") of process pid, in one write. */
int rootfs_write_idmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
		       struct husk_err **err);
/* Whether mount i asks for an idmap (*wanted), and whether it can have one (pure). */
int rootfs_idmap_check(const struct oci_config *cfg, size_t i, bool *wanted,
		       struct husk_err **err);

/* Step 1, before createContainer hooks: make / a slave (or rootfsPropagation) so nothing
 * propagates back to the host, bind rootfs onto itself, mount every config mount in order
 * (destinations resolved inside the root), set up /dev (default devices, linux.devices,
 * /dev/pts + ptmx, /dev/shm, fd/stdin/stdout/stderr links) when /dev is not a bind mount. */
int rootfs_prepare(const struct rootfs_opts *o, struct husk_err **err);
/* Step 2, after createContainer hooks: pivot_root into the rootfs (or move + chroot), drop the
 * old root, chdir("/"). */
int rootfs_pivot(const struct rootfs_opts *o, struct husk_err **err);
/* Step 3, after hostname and sysctl: maskedPaths, readonlyPaths, root.readonly, then the
 * final rootfsPropagation of /. */
int rootfs_finalize(const struct rootfs_opts *o, struct husk_err **err);

/* Unmount everything mounted at or below `rootfs` in this mount namespace, deepest first, each
 * by its exact path (a container without its own mount namespace leaves its mounts here). */
int rootfs_unmount_under(const char *rootfs, struct husk_err **err);

/* Mount option parsing (pure; unit-tested). */
struct rootfs_mount_flags {
	unsigned long flags;		/* MS_* set by options */
	unsigned long clear;		/* MS_* cleared by options ("rw", "suid", ...) */
	unsigned long propagation;	/* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) */
	uint64_t rec_attr_set, rec_attr_clr;	/* MOUNT_ATTR_* for "r*" options (mount_setattr) */
	bool bind, rbind, idmap, ridmap;
	bool tmpcopyup;			/* runc's: the tmpfs starts with what was there */
	char *data;			/* the rest, comma-joined, for the fs; NULL if none */
};
/* field names the options in error messages: "mounts[3].options". */
int rootfs_parse_mount_options(char *const *options, const char *field,
			       struct rootfs_mount_flags *out, struct husk_err **err);
void rootfs_mount_flags_free(struct rootfs_mount_flags *f);
/* Every option name rootfs_parse_mount_options() understands, NULL-terminated (`husk features`
 * lists them). Anything else is passed to the filesystem as data. */
extern const char *const rootfs_mount_option_names[];

/* Open `path` inside the tree at rootfd, never leaving it (openat2 RESOLVE_IN_ROOT). */
int rootfs_open_in_root(int rootfd, const char *path, int flags, struct husk_err **err);
/* mkdir -p `path` inside rootfd (each component resolved inside the root); returns an O_PATH
 * fd of the final directory. */
int rootfs_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct husk_err **err);
