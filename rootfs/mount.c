/* config.json `mounts`: option parsing (one static table of every option runc accepts), and
 * mounting each entry inside the root (rootfs_prepare), bind remounts keeping locked flags,
 * propagation and recursive attributes (mount_setattr). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

enum opt_kind { OPT_FLAG, OPT_BIND, OPT_RBIND, OPT_IDMAP, OPT_RIDMAP, OPT_TMPCOPYUP };

struct mount_opt {
	const char *name;
	enum opt_kind kind;
	unsigned long set, clear, prop;
	uint64_t attr_set, attr_clr;
};

#define RO MOUNT_ATTR_RDONLY
#define AT MOUNT_ATTR__ATIME
/* name, kind, MS_* set, MS_* cleared, propagation, MOUNT_ATTR_* set, MOUNT_ATTR_* cleared.
 * The atime MOUNT_ATTR_* values are an enum inside MOUNT_ATTR__ATIME, so every recursive atime
 * option clears the whole field (mount_setattr(2) refuses a partial clear). "rnorelatime" asks
 * for full atime updates (strictatime); "ratime" and "rnostrictatime" for the default
 * (relatime), as their non-recursive forms leave the kernel default in place. */
#define MOUNT_OPTIONS(X)                                                                           \
	X("defaults", OPT_FLAG, 0, 0, 0, 0, 0)                                                     \
	X("ro", OPT_FLAG, MS_RDONLY, 0, 0, 0, 0)                                                   \
	X("rw", OPT_FLAG, 0, MS_RDONLY, 0, 0, 0)                                                   \
	X("suid", OPT_FLAG, 0, MS_NOSUID, 0, 0, 0)                                                 \
	X("nosuid", OPT_FLAG, MS_NOSUID, 0, 0, 0, 0)                                               \
	X("dev", OPT_FLAG, 0, MS_NODEV, 0, 0, 0)                                                   \
	X("nodev", OPT_FLAG, MS_NODEV, 0, 0, 0, 0)                                                 \
	X("exec", OPT_FLAG, 0, MS_NOEXEC, 0, 0, 0)                                                 \
	X("noexec", OPT_FLAG, MS_NOEXEC, 0, 0, 0, 0)                                               \
	X("sync", OPT_FLAG, MS_SYNCHRONOUS, 0, 0, 0, 0)                                            \
	X("async", OPT_FLAG, 0, MS_SYNCHRONOUS, 0, 0, 0)                                           \
	X("dirsync", OPT_FLAG, MS_DIRSYNC, 0, 0, 0, 0)                                             \
	X("remount", OPT_FLAG, MS_REMOUNT, 0, 0, 0, 0)                                             \
	X("mand", OPT_FLAG, MS_MANDLOCK, 0, 0, 0, 0)                                               \
	X("nomand", OPT_FLAG, 0, MS_MANDLOCK, 0, 0, 0)                                             \
	X("atime", OPT_FLAG, 0, MS_NOATIME, 0, 0, 0)                                               \
	X("noatime", OPT_FLAG, MS_NOATIME, 0, 0, 0, 0)                                             \
	X("diratime", OPT_FLAG, 0, MS_NODIRATIME, 0, 0, 0)                                         \
	X("nodiratime", OPT_FLAG, MS_NODIRATIME, 0, 0, 0, 0)                                       \
	X("relatime", OPT_FLAG, MS_RELATIME, 0, 0, 0, 0)                                           \
	X("norelatime", OPT_FLAG, 0, MS_RELATIME, 0, 0, 0)                                         \
	X("strictatime", OPT_FLAG, MS_STRICTATIME, 0, 0, 0, 0)                                     \
	X("nostrictatime", OPT_FLAG, 0, MS_STRICTATIME, 0, 0, 0)                                   \
	X("silent", OPT_FLAG, MS_SILENT, 0, 0, 0, 0)                                               \
	X("loud", OPT_FLAG, 0, MS_SILENT, 0, 0, 0)                                                 \
	X("iversion", OPT_FLAG, MS_I_VERSION, 0, 0, 0, 0)                                          \
	X("noiversion", OPT_FLAG, 0, MS_I_VERSION, 0, 0, 0)                                        \
	X("lazytime", OPT_FLAG, MS_LAZYTIME, 0, 0, 0, 0)                                           \
	X("nolazytime", OPT_FLAG, 0, MS_LAZYTIME, 0, 0, 0)                                         \
	X("symfollow", OPT_FLAG, 0, MS_NOSYMFOLLOW, 0, 0, 0)                                       \
	X("nosymfollow", OPT_FLAG, MS_NOSYMFOLLOW, 0, 0, 0, 0)                                     \
	X("bind", OPT_BIND, MS_BIND, 0, 0, 0, 0)                                                   \
	X("rbind", OPT_RBIND, MS_BIND | MS_REC, 0, 0, 0, 0)                                        \
	X("shared", OPT_FLAG, 0, 0, MS_SHARED, 0, 0)                                               \
	X("rshared", OPT_FLAG, 0, 0, MS_SHARED | MS_REC, 0, 0)                                     \
	X("slave", OPT_FLAG, 0, 0, MS_SLAVE, 0, 0)                                                 \
	X("rslave", OPT_FLAG, 0, 0, MS_SLAVE | MS_REC, 0, 0)                                       \
	X("private", OPT_FLAG, 0, 0, MS_PRIVATE, 0, 0)                                             \
	X("rprivate", OPT_FLAG, 0, 0, MS_PRIVATE | MS_REC, 0, 0)                                   \
	X("unbindable", OPT_FLAG, 0, 0, MS_UNBINDABLE, 0, 0)                                       \
	X("runbindable", OPT_FLAG, 0, 0, MS_UNBINDABLE | MS_REC, 0, 0)                             \
	X("rro", OPT_FLAG, 0, 0, 0, RO, 0)                                                         \
	X("rrw", OPT_FLAG, 0, 0, 0, 0, RO)                                                         \
	X("rnosuid", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NOSUID, 0)                                      \
	X("rsuid", OPT_FLAG, 0, 0, 0, 0, MOUNT_ATTR_NOSUID)                                        \
	X("rnodev", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NODEV, 0)                                        \
	X("rdev", OPT_FLAG, 0, 0, 0, 0, MOUNT_ATTR_NODEV)                                          \
	X("rnoexec", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NOEXEC, 0)                                      \
	X("rexec", OPT_FLAG, 0, 0, 0, 0, MOUNT_ATTR_NOEXEC)                                        \
	X("rnodiratime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NODIRATIME, 0)                              \
	X("rdiratime", OPT_FLAG, 0, 0, 0, 0, MOUNT_ATTR_NODIRATIME)                                \
	X("rnoatime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NOATIME, AT)                                   \
	X("ratime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_RELATIME, AT)                                    \
	X("rrelatime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_RELATIME, AT)                                 \
	X("rnorelatime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_STRICTATIME, AT)                            \
	X("rstrictatime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_STRICTATIME, AT)                           \
	X("rnostrictatime", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_RELATIME, AT)                            \
	X("rnosymfollow", OPT_FLAG, 0, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, 0)                            \
	X("rsymfollow", OPT_FLAG, 0, 0, 0, 0, MOUNT_ATTR_NOSYMFOLLOW)                              \
	X("idmap", OPT_IDMAP, 0, 0, 0, 0, 0)                                                       \
	X("ridmap", OPT_RIDMAP, 0, 0, 0, 0, 0)                                                     \
	X("tmpcopyup", OPT_TMPCOPYUP, 0, 0, 0, 0, 0)

#define AS_ENTRY(n, k, s, c, p, as, ac) { n, k, s, c, p, as, ac },
#define AS_NAME(n, ...) n,
static const struct mount_opt mount_opts[] = { MOUNT_OPTIONS(AS_ENTRY) };
const char *const rootfs_mount_option_names[] = { MOUNT_OPTIONS(AS_NAME) NULL };

static const struct mount_opt *find_opt(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(mount_opts); i++)
		if (streq(mount_opts[i].name, name))
			return &mount_opts[i];
	return NULL;
}

/* Later options win over earlier ones ("ro,rw" is rw), as with mount(8). */
static void apply_opt(const struct mount_opt *o, struct rootfs_mount_flags *out)
{
	out->flags = (out->flags & ~o->clear) | o->set;
	out->clear = (out->clear & ~o->set) | o->clear;
	if (o->prop)
		out->propagation = o->prop;
	out->rec_attr_set = (out->rec_attr_set & ~o->attr_clr) | o->attr_set;
	out->rec_attr_clr = (out->rec_attr_clr & ~o->attr_set) | o->attr_clr;
	out->bind |= o->kind == OPT_BIND;
	out->rbind |= o->kind == OPT_RBIND;
	out->idmap |= o->kind == OPT_IDMAP;
	out->ridmap |= o->kind == OPT_RIDMAP;
	out->tmpcopyup |= o->kind == OPT_TMPCOPYUP;
}

static void append_data(char **data, const char *opt)
{
	char *d = *data ? xasprintf("%s,%s", *data, opt) : xstrdup(opt);

	free(*data);
	*data = d;
}

int rootfs_parse_mount_options(char *const *options, const char *field,
			       struct rootfs_mount_flags *out, struct husk_err **err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; options && options[i]; i++) {
		const struct mount_opt *o = find_opt(options[i]);

		/* Unknown names are filesystem options (tmpfs "size=", "mode=", ...), kept in
		 * order for the data argument, as runc does. */
		if (o)
			apply_opt(o, out);
		else if (options[i][0])
			append_data(&out->data, options[i]);
	}
	/* The atime fields of mount_attr must be cleared whenever one is set. */
	if (out->rec_attr_set & MOUNT_ATTR__ATIME)
		out->rec_attr_clr |= MOUNT_ATTR__ATIME;
	return 0;
}

void rootfs_mount_flags_free(struct rootfs_mount_flags *f)
{
	free(f->data);
	f->data = NULL;
}

int rootfs_propagation_flags(const char *name, unsigned long *out)
{
	const struct mount_opt *o = name ? find_opt(name) : NULL;

	if (!o || !o->prop)
		return -EINVAL;
	*out = o->prop;
	return 0;
}

bool rootfs_cfg_has_ns(const struct oci_config *cfg, int type)
{
	for (size_t i = 0; i < cfg->linux.n_namespaces; i++)
		if ((int)cfg->linux.namespaces[i].type == type)
			return true;
	return false;
}

static const struct {
	unsigned long st, ms;
} st_to_ms[] = {
	{ ST_RDONLY, MS_RDONLY },	  { ST_NOSUID, MS_NOSUID },
	{ ST_NODEV, MS_NODEV },		  { ST_NOEXEC, MS_NOEXEC },
	{ ST_NOATIME, MS_NOATIME },	  { ST_NODIRATIME, MS_NODIRATIME },
	{ ST_RELATIME, MS_RELATIME },	  { ST_NOSYMFOLLOW, MS_NOSYMFOLLOW },
};

int mount_flags_of(int fd, unsigned long *flags)
{
	struct statfs st;

	if (fstatfs(fd, &st) < 0)
		return -errno;
	*flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(st_to_ms); i++)
		if ((unsigned long)st.f_flags & st_to_ms[i].st)
			*flags |= st_to_ms[i].ms;
	return 0;
}

#define KEPT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW)
#define ATIME_FLAGS (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

unsigned long rootfs_remount_flags(unsigned long cur, unsigned long flags, unsigned long clear)
{
	/* A bind mount starts with its source's flags; options change only what they name. A
	 * user namespace locks ro/nosuid/nodev/noexec on the source (mount_namespaces(7)), so
	 * dropping one the config did not ask to drop would fail with EPERM. */
	unsigned long out = (flags & (KEPT_FLAGS | ATIME_FLAGS)) | (cur & KEPT_FLAGS & ~clear);

	/* A remount without any atime flag keeps the old ones: only "atime", "norelatime", ...
	 * need spelling out, as the remaining current flags or the kernel default. */
	if (!(flags & ATIME_FLAGS) && (clear & ATIME_FLAGS)) {
		out |= cur & (ATIME_FLAGS & ~MS_STRICTATIME) & ~clear;
		if (!(out & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)))
			out |= (clear & MS_RELATIME) ? MS_STRICTATIME : MS_RELATIME;
	}
	return out;
}

int mount_bind_remount(int rootfd, const char *path, unsigned long flags, unsigned long clear,
		       struct husk_err **err)
{
	cleanup_close int fd = resolve_open(rootfd, path, O_PATH, 0);
	char p[FD_PATH_MAX];
	unsigned long cur = 0;

	if (fd < 0)
		return husk_err_set(err, -fd, "open `%s` in the container root", path);
	if (mount_flags_of(fd, &cur) < 0)
		return husk_err_set(err, errno, "statfs `%s`", path);
	flags = rootfs_remount_flags(cur, flags, clear);
	if (mount(NULL, fd_path(fd, p), NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return husk_err_set(err, errno, "remount `%s`", path);
	return 0;
}

/* Propagation and recursive attributes go on the mount now on top of `dest`, each with its own
 * call: mount(2) takes one propagation type at a time and no other flag with it. */
static int mount_finish(int rootfd, const char *dest, const struct rootfs_mount_flags *mf,
			struct husk_err **err)
{
	struct mount_attr attr = { .attr_set = mf->rec_attr_set, .attr_clr = mf->rec_attr_clr };
	cleanup_close int fd = -1;
	char p[FD_PATH_MAX];

	if (!mf->propagation && !attr.attr_set && !attr.attr_clr)
		return 0;
	fd = resolve_open(rootfd, dest, O_PATH, 0);
	if (fd < 0)
		return husk_err_set(err, -fd, "open `%s` in the container root", dest);
	if (mf->propagation && mount(NULL, fd_path(fd, p), NULL, mf->propagation, NULL) < 0)
		return husk_err_set(err, errno, "set propagation");
	if ((attr.attr_set || attr.attr_clr) &&
	    syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
		    sizeof(attr)) < 0)
		return husk_err_set(err, errno, "mount_setattr (recursive options)");
	return 0;
}

/* MS_BIND ignores every other flag: they need a remount of the new mount. */
static int bind_finish(int rootfd, const char *dest, const struct rootfs_mount_flags *mf,
		       struct husk_err **err)
{
	if (((mf->flags | mf->clear) & (KEPT_FLAGS | ATIME_FLAGS)) &&
	    mount_bind_remount(rootfd, dest, mf->flags, mf->clear, err) < 0)
		return -(*err)->code;
	return mount_finish(rootfd, dest, mf, err);
}

int rootfs_mkdest_in_root(int rootfd, const char *dest, bool dir, struct husk_err **err)
{
	return dir ? rootfs_mkdir_in_root(rootfd, dest, 0755, err)
		   : rootfs_mkfile_in_root(rootfd, dest, 0644, err);
}

int rootfs_bind_mount(int rootfd, const char *src, const char *dest,
		      const struct rootfs_mount_flags *mf, struct husk_err **err)
{
	cleanup_close int dfd = -1;
	char p[FD_PATH_MAX];
	struct stat st;

	/* The source is a host path: config-linux.md leaves it to the runtime's own view. */
	if (stat(src, &st) < 0)
		return husk_err_set(err, errno, "stat source `%s`", src);
	dfd = rootfs_mkdest_in_root(rootfd, dest, S_ISDIR(st.st_mode), err);
	if (dfd < 0)
		return dfd;
	if (mount(src, fd_path(dfd, p), NULL, MS_BIND | (mf->rbind ? MS_REC : 0), NULL) < 0)
		return husk_err_set(err, errno, "bind `%s`", src);
	return bind_finish(rootfd, dest, mf, err);
}

/* A detached idmapped tree made by rootfs_idmap_open() goes where a plain bind would. */
static int idmapped_bind(int rootfd, int tree_fd, const char *dest,
			 const struct rootfs_mount_flags *mf, struct husk_err **err)
{
	int r = rootfs_idmap_attach(rootfd, tree_fd, dest, err);

	return r < 0 ? r : bind_finish(rootfd, dest, mf, err);
}

/* devpts needs its own instance (not the host's ptys) with a usable ptmx: runc's defaults,
 * unless the config already says (config-linux.md#default-devices). */
static void devpts_defaults(char **data)
{
	static const char *const keys[] = { "newinstance", "ptmxmode=", "mode=" };
	static const char *const defs[] = { "newinstance", "ptmxmode=0666", "mode=0620" };

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		bool found = false;
		cleanup_free char *copy = *data ? xstrdup(*data) : NULL;
		char *save = NULL;

		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !found;
		     t = strtok_r(NULL, ",", &save))
			found = streq(keys[k], "newinstance") ? streq(t, keys[k])
							       : startswith(t, keys[k]);
		if (!found)
			append_data(data, defs[k]);
	}
}

static int fs_mount(int rootfd, const struct oci_mount *m, struct rootfs_mount_flags *mf,
		    struct husk_err **err)
{
	cleanup_close int dfd = rootfs_mkdir_in_root(rootfd, m->destination, 0755, err);
	unsigned long flags = mf->flags & ~(MS_BIND | MS_REC);
	char p[FD_PATH_MAX];

	if (dfd < 0)
		return dfd;
	if (streq(m->type, "devpts"))
		devpts_defaults(&mf->data);
	if (mount(m->source ? m->source : m->type, fd_path(dfd, p), m->type, flags, mf->data) < 0)
		return husk_err_set(err, errno, "mount %s", m->type);
	return mount_finish(rootfd, m->destination, mf, err);
}

/* Filesystems a user namespace may not be allowed to mount fresh: sysfs needs the network
 * namespace's owner, mqueue the IPC one's. runc binds the host's instead, as we do. */
static const struct {
	const char *type, *host;
	bool rec;
} userns_fallback[] = {
	{ "sysfs", "/sys", true },
	{ "mqueue", "/dev/mqueue", false },
};

static int userns_bind_fallback(int rootfd, const struct oci_mount *m,
				struct rootfs_mount_flags *mf, struct husk_err **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(userns_fallback); i++) {
		if (!streq(m->type, userns_fallback[i].type))
			continue;
		mf->rbind = userns_fallback[i].rec;
		return rootfs_bind_mount(rootfd, userns_fallback[i].host, m->destination, mf, err);
	}
	return -ENOENT;
}

static bool is_bind(const struct oci_mount *m, const struct rootfs_mount_flags *mf)
{
	return mf->bind || mf->rbind || streq(m->type, "bind");
}

static int mount_kind(const struct rootfs_opts *o, int rootfd, const struct oci_mount *m,
		      struct rootfs_mount_flags *mf, struct husk_err **err)
{
	int r;

	if (is_bind(m, mf)) {
		if (!m->source)
			return husk_err_msg(err, EINVAL, "bind mount without a source");
		return rootfs_bind_mount(rootfd, m->source, m->destination, mf, err);
	}
	if (!m->type || streq(m->type, "none"))
		return husk_err_msg(err, EINVAL, "no type, and not a bind mount");
	if (streq(m->type, "cgroup") || streq(m->type, "cgroup2"))
		return rootfs_mount_cgroup(o, rootfd, m, mf, err);
	if (mf->tmpcopyup && streq(m->type, "tmpfs")) {
		r = rootfs_mount_tmpcopyup(rootfd, m, mf, err);
		return r < 0 ? r : mount_finish(rootfd, m->destination, mf, err);
	}
	/* In a user namespace without its own network namespace, the kernel refuses a fresh
	 * sysfs (it belongs to the host's netns): bind the host's, as runc does. */
	if (o->in_userns && streq(m->type, "sysfs") && !rootfs_cfg_has_ns(o->cfg, OCI_NS_NETWORK))
		return userns_bind_fallback(rootfd, m, mf, err);
	r = fs_mount(rootfd, m, mf, err);
	if (r == -EPERM && o->in_userns) {
		cleanup_err struct husk_err *e2 = NULL;

		if (userns_bind_fallback(rootfd, m, mf, &e2) == 0) {
			husk_err_freep(err);
			return 0;
		}
	}
	return r;
}

static int mount_one(const struct rootfs_opts *o, int rootfd, size_t i, struct husk_err **err)
{
	const struct oci_mount *m = &o->cfg->mounts[i];
	cleanup_free char *field = xasprintf("mounts[%zu].options", i);
	struct rootfs_mount_flags mf;
	int r;

	r = rootfs_parse_mount_options(m->options, field, &mf, err);
	if (r < 0)
		return r;
	/* The runtime made idmapped trees before the init was cloned (rootfs_idmap_open());
	 * a mount asking for one without it would expose the wrong owners: refuse. */
	if (o->idmap_fds && o->idmap_fds[i] >= 0)
		r = idmapped_bind(rootfd, o->idmap_fds[i], m->destination, &mf, err);
	else if (mf.idmap || mf.ridmap || m->n_uid_mappings || m->n_gid_mappings)
		r = husk_err_msg(err, EINVAL, "options: idmapped mount not prepared by the runtime");
	else
		r = mount_kind(o, rootfd, m, &mf, err);
	rootfs_mount_flags_free(&mf);
	if (r < 0)
		return husk_err_wrap(err, "mounts[%zu] (%s)", i, m->destination);
	return 0;
}

/* config-linux.md#rootfs-mount-propagation: "/" of the new mount namespace becomes a slave
 * (or what the config asks, recursively) before anything is mounted, so none of the
 * container's mounts propagate back to the host. */
static int set_root_propagation(const struct rootfs_opts *o, struct husk_err **err)
{
	const char *name = o->cfg->linux.rootfs_propagation;
	unsigned long prop = MS_SLAVE | MS_REC;

	if (name && rootfs_propagation_flags(name, &prop) < 0)
		return husk_err_msg(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`",
				    name);
	/* An unbindable tree could not be bind-mounted onto itself below: it starts as a slave
	 * and becomes unbindable in rootfs_finalize(), like the other values. */
	if (prop & MS_UNBINDABLE)
		prop = MS_SLAVE;
	if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
		return husk_err_set(err, errno, "set the propagation of `/`");
	return 0;
}

/* pivot_root(2) refuses a new root whose parent mount is shared, and a bind of the rootfs
 * under a shared parent would also appear in the parent's peers: make that one mount private
 * (in this namespace only). */
static int make_parent_private(const char *rootfs, struct husk_err **err)
{
	struct mountinfo_table t = { 0 };
	const struct mountinfo *mi;
	struct statx stx;
	int r = 0;

	if (statx(AT_FDCWD, rootfs, 0, STATX_MNT_ID, &stx) < 0)
		return husk_err_set(err, errno, "stat rootfs `%s`", rootfs);
	if (!(stx.stx_mask & STATX_MNT_ID))
		return 0;
	r = mountinfo_load(&t, err);
	if (r < 0)
		return r;
	mi = mountinfo_find_id(&t, (int)stx.stx_mnt_id);
	if (mi && mi->shared && mount(NULL, mi->mount_point, NULL, MS_PRIVATE, NULL) < 0)
		r = husk_err_set(err, errno, "make `%s` private", mi->mount_point);
	mountinfo_free(&t);
	return r;
}

static bool strv_has_bind(char *const *options)
{
	for (size_t i = 0; options && options[i]; i++)
		if (streq(options[i], "bind") || streq(options[i], "rbind"))
			return true;
	return false;
}

/* "/dev", "/dev/", "//dev" all name /dev. */
static bool dest_is(const char *dest, const char *want)
{
	while (*dest || *want) {
		while (dest[0] == '/' && (dest[1] == '/' || dest[1] == '\0'))
			dest++;
		if (*dest != *want)
			return false;
		if (*dest) {
			dest++;
			want++;
		}
	}
	return true;
}

int rootfs_prepare(const struct rootfs_opts *o, struct husk_err **err)
{
	const struct oci_config *cfg = o->cfg;
	cleanup_close int rootfd = -1;
	bool dev_bind = false;
	int r;

	/* In the caller's mount namespace nothing outside the rootfs may change: no propagation
	 * change of "/", no private parent, no self-bind (chroot needs none). */
	if (!o->host_mntns) {
		r = set_root_propagation(o, err);
		if (r < 0)
			return r;
		r = make_parent_private(o->rootfs, err);
		if (r < 0)
			return r;
		/* pivot_root needs the new root to be a mount point. */
		if (mount(o->rootfs, o->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return husk_err_set(err, errno, "bind rootfs `%s` onto itself", o->rootfs);
	}
	rootfd = open(o->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return husk_err_set(err, errno, "open rootfs `%s`", o->rootfs);
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const struct oci_mount *m = &cfg->mounts[i];

		r = mount_one(o, rootfd, i, err);
		if (r < 0)
			return r;
		if (dest_is(m->destination, "/dev"))
			dev_bind = streq(m->type, "bind") || strv_has_bind(m->options);
	}
	/* A bind-mounted /dev is the caller's own: leave it alone, as runc does. */
	if (dev_bind)
		return 0;
	return rootfs_setup_dev(o, rootfd, err);
}
