/* rootfs mount options: every option runc accepts, data passthrough, later-wins overrides,
 * recursive (mount_setattr) attributes, propagation, and the bind remount flag rules. */
#include <string.h>
#include <sys/mount.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "oci/config.h"
#include "rootfs/internal.h"
#include "rootfs/rootfs.h"
#include "tests/unit/tap.h"

#define AT MOUNT_ATTR__ATIME

struct opt_case {
	const char *name;
	unsigned long flags, clear, prop;
	uint64_t aset, aclr;
	int kind;	/* 1 bind, 2 rbind, 3 idmap, 4 ridmap, 5 tmpcopyup */
};

/* What each option alone must produce, written from mount(8) and runc's documentation. */
static const struct opt_case one_option[] = {
	{ .name = "defaults" },
	{ "ro", .flags = MS_RDONLY },
	{ "rw", .clear = MS_RDONLY },
	{ "suid", .clear = MS_NOSUID },
	{ "nosuid", .flags = MS_NOSUID },
	{ "dev", .clear = MS_NODEV },
	{ "nodev", .flags = MS_NODEV },
	{ "exec", .clear = MS_NOEXEC },
	{ "noexec", .flags = MS_NOEXEC },
	{ "sync", .flags = MS_SYNCHRONOUS },
	{ "async", .clear = MS_SYNCHRONOUS },
	{ "dirsync", .flags = MS_DIRSYNC },
	{ "remount", .flags = MS_REMOUNT },
	{ "mand", .flags = MS_MANDLOCK },
	{ "nomand", .clear = MS_MANDLOCK },
	{ "atime", .clear = MS_NOATIME },
	{ "noatime", .flags = MS_NOATIME },
	{ "diratime", .clear = MS_NODIRATIME },
	{ "nodiratime", .flags = MS_NODIRATIME },
	{ "relatime", .flags = MS_RELATIME },
	{ "norelatime", .clear = MS_RELATIME },
	{ "strictatime", .flags = MS_STRICTATIME },
	{ "nostrictatime", .clear = MS_STRICTATIME },
	{ "silent", .flags = MS_SILENT },
	{ "loud", .clear = MS_SILENT },
	{ "iversion", .flags = MS_I_VERSION },
	{ "noiversion", .clear = MS_I_VERSION },
	{ "lazytime", .flags = MS_LAZYTIME },
	{ "nolazytime", .clear = MS_LAZYTIME },
	{ "symfollow", .clear = MS_NOSYMFOLLOW },
	{ "nosymfollow", .flags = MS_NOSYMFOLLOW },
	{ "bind", .flags = MS_BIND, .kind = 1 },
	{ "rbind", .flags = MS_BIND | MS_REC, .kind = 2 },
	{ "shared", .prop = MS_SHARED },
	{ "rshared", .prop = MS_SHARED | MS_REC },
	{ "slave", .prop = MS_SLAVE },
	{ "rslave", .prop = MS_SLAVE | MS_REC },
	{ "private", .prop = MS_PRIVATE },
	{ "rprivate", .prop = MS_PRIVATE | MS_REC },
	{ "unbindable", .prop = MS_UNBINDABLE },
	{ "runbindable", .prop = MS_UNBINDABLE | MS_REC },
	{ "rro", .aset = MOUNT_ATTR_RDONLY },
	{ "rrw", .aclr = MOUNT_ATTR_RDONLY },
	{ "rnosuid", .aset = MOUNT_ATTR_NOSUID },
	{ "rsuid", .aclr = MOUNT_ATTR_NOSUID },
	{ "rnodev", .aset = MOUNT_ATTR_NODEV },
	{ "rdev", .aclr = MOUNT_ATTR_NODEV },
	{ "rnoexec", .aset = MOUNT_ATTR_NOEXEC },
	{ "rexec", .aclr = MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", .aset = MOUNT_ATTR_NODIRATIME },
	{ "rdiratime", .aclr = MOUNT_ATTR_NODIRATIME },
	{ "rnoatime", .aset = MOUNT_ATTR_NOATIME, .aclr = AT },
	{ "ratime", .aset = MOUNT_ATTR_RELATIME, .aclr = AT },
	{ "rrelatime", .aset = MOUNT_ATTR_RELATIME, .aclr = AT },
	{ "rnorelatime", .aset = MOUNT_ATTR_STRICTATIME, .aclr = AT },
	{ "rstrictatime", .aset = MOUNT_ATTR_STRICTATIME, .aclr = AT },
	{ "rnostrictatime", .aset = MOUNT_ATTR_RELATIME, .aclr = AT },
	{ "rnosymfollow", .aset = MOUNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", .aclr = MOUNT_ATTR_NOSYMFOLLOW },
	{ "idmap", .kind = 3 },
	{ "ridmap", .kind = 4 },
	{ "tmpcopyup", .kind = 5 },
};

static int check_one(const struct opt_case *c)
{
	char *opts[] = { (char *)c->name, NULL };
	cleanup_err struct husk_err *err = NULL;
	struct rootfs_mount_flags f;

	CHECK(rootfs_parse_mount_options(opts, "mounts[0].options", &f, &err) == 0);
	if (f.flags != c->flags || f.clear != c->clear || f.propagation != c->prop ||
	    f.rec_attr_set != c->aset || f.rec_attr_clr != c->aclr || f.data) {
		printf("# %s: flags %#lx clear %#lx prop %#lx aset %#llx aclr %#llx data %s\n",
		       c->name, f.flags, f.clear, f.propagation,
		       (unsigned long long)f.rec_attr_set, (unsigned long long)f.rec_attr_clr,
		       f.data ? f.data : "(none)");
		return 1;
	}
	CHECK(f.bind == (c->kind == 1) && f.rbind == (c->kind == 2));
	CHECK(f.idmap == (c->kind == 3) && f.ridmap == (c->kind == 4));
	CHECK(f.tmpcopyup == (c->kind == 5));
	rootfs_mount_flags_free(&f);
	return 0;
}

static int test_every_option(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(one_option); i++)
		if (check_one(&one_option[i]))
			return 1;
	return 0;
}

/* The exported list is exactly the parser's vocabulary: same size, no duplicates. */
static int test_names_list(void)
{
	size_t n = 0;

	for (; rootfs_mount_option_names[n]; n++) {
		bool in_table = false;

		for (size_t j = 0; j < n; j++)
			CHECK(!streq(rootfs_mount_option_names[j], rootfs_mount_option_names[n]));
		for (size_t j = 0; j < ARRAY_SIZE(one_option); j++)
			in_table |= streq(one_option[j].name, rootfs_mount_option_names[n]);
		CHECK(in_table);
	}
	CHECK(n == ARRAY_SIZE(one_option));
	return 0;
}

struct combo_case {
	const char *desc;
	char *opts[8];
	unsigned long flags, clear, prop;
	uint64_t aset, aclr;
	const char *data;
};

static const struct combo_case combos[] = {
	{ .desc = "no options", .opts = { NULL } },
	{ "data passthrough keeps order",
	  { "nosuid", "size=65536k", "strictatime", "mode=755", NULL },
	  .flags = MS_NOSUID | MS_STRICTATIME, .data = "size=65536k,mode=755" },
	{ "devpts options", { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "gid=5", NULL },
	  .flags = MS_NOSUID | MS_NOEXEC, .data = "newinstance,ptmxmode=0666,gid=5" },
	{ "empty option ignored", { "", "ro", NULL }, .flags = MS_RDONLY },
	{ "later rw wins over ro", { "ro", "rw", NULL }, .clear = MS_RDONLY },
	{ "later ro wins over rw", { "rw", "ro", NULL }, .flags = MS_RDONLY },
	{ "docker bind", { "rbind", "rprivate", "ro", NULL },
	  .flags = MS_BIND | MS_REC | MS_RDONLY, .prop = MS_PRIVATE | MS_REC },
	{ "last propagation wins", { "rshared", "private", "rslave", NULL },
	  .prop = MS_SLAVE | MS_REC },
	{ "recursive set", { "rro", "rnosuid", "rnodev", "rnoexec", NULL },
	  .aset = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC },
	{ "recursive later rrw wins", { "rro", "rrw", NULL }, .aclr = MOUNT_ATTR_RDONLY },
	{ "recursive atime plus ro", { "rnoatime", "rro", "rnodiratime", NULL },
	  .aset = MOUNT_ATTR_NOATIME | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODIRATIME, .aclr = AT },
	{ "recursive atime: last wins", { "rnoatime", "rstrictatime", NULL },
	  .aset = MOUNT_ATTR_STRICTATIME, .aclr = AT },
	{ "cgroup mount", { "nosuid", "noexec", "nodev", "relatime", "ro", NULL },
	  .flags = MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY },
	{ "unknown fs option", { "ro", "xino=off", "bind", NULL }, .flags = MS_RDONLY | MS_BIND,
	  .data = "xino=off" },
};

static int test_combinations(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(combos); i++) {
		const struct combo_case *c = &combos[i];
		cleanup_err struct husk_err *err = NULL;
		struct rootfs_mount_flags f;
		bool ok;

		CHECK(rootfs_parse_mount_options(c->opts, "mounts[1].options", &f, &err) == 0);
		ok = f.flags == c->flags && f.clear == c->clear && f.propagation == c->prop &&
		     f.rec_attr_set == c->aset && f.rec_attr_clr == c->aclr &&
		     (c->data ? f.data && streq(f.data, c->data) : !f.data);
		if (!ok)
			printf("# %s: flags %#lx clear %#lx prop %#lx aset %#llx aclr %#llx "
			       "data %s\n", c->desc, f.flags, f.clear, f.propagation,
			       (unsigned long long)f.rec_attr_set,
			       (unsigned long long)f.rec_attr_clr, f.data ? f.data : "(none)");
		rootfs_mount_flags_free(&f);
		CHECK(ok);
	}
	return 0;
}

static int test_null_options(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct rootfs_mount_flags f;

	CHECK(rootfs_parse_mount_options(NULL, "mounts[0].options", &f, &err) == 0);
	CHECK(!f.flags && !f.clear && !f.propagation && !f.data && !f.bind && !f.rbind);
	return 0;
}

static int test_propagation_names(void)
{
	static const struct {
		const char *name;
		int r;
		unsigned long prop;
	} cases[] = {
		{ "shared", 0, MS_SHARED },	  { "rshared", 0, MS_SHARED | MS_REC },
		{ "slave", 0, MS_SLAVE },	  { "rslave", 0, MS_SLAVE | MS_REC },
		{ "private", 0, MS_PRIVATE },	  { "rprivate", 0, MS_PRIVATE | MS_REC },
		{ "unbindable", 0, MS_UNBINDABLE }, { "runbindable", 0, MS_UNBINDABLE | MS_REC },
		{ "ro", -EINVAL, 0 },		  { "sharedx", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long p = 0;

		CHECK(rootfs_propagation_flags(cases[i].name, &p) == cases[i].r);
		CHECK(p == cases[i].prop);
	}
	CHECK(rootfs_propagation_flags(NULL, &(unsigned long){ 0 }) == -EINVAL);
	return 0;
}

/* Bind remounts keep what the source has (locked in a user namespace) unless cleared. */
static int test_remount_flags(void)
{
	static const struct {
		const char *desc;
		unsigned long cur, flags, clear, want;
	} cases[] = {
		{ "ro on a plain source", 0, MS_RDONLY, 0, MS_RDONLY },
		{ "ro keeps nodev,nosuid", MS_NODEV | MS_NOSUID | MS_RELATIME, MS_RDONLY, 0,
		  MS_RDONLY | MS_NODEV | MS_NOSUID },
		{ "suid clears nosuid", MS_NOSUID | MS_NODEV, MS_RDONLY, MS_NOSUID,
		  MS_RDONLY | MS_NODEV },
		{ "rw clears ro", MS_RDONLY | MS_NOEXEC, 0, MS_RDONLY, MS_NOEXEC },
		{ "nosymfollow kept", MS_NOSYMFOLLOW, MS_NOEXEC, 0, MS_NOEXEC | MS_NOSYMFOLLOW },
		{ "atime flag given is used", MS_NOATIME, MS_STRICTATIME, 0, MS_STRICTATIME },
		{ "atime alone on noatime", MS_NOATIME, 0, MS_NOATIME, MS_RELATIME },
		{ "diratime keeps noatime", MS_NOATIME | MS_NODIRATIME, 0, MS_NODIRATIME,
		  MS_NOATIME },
		{ "norelatime means strict", MS_RELATIME, 0, MS_RELATIME, MS_STRICTATIME },
		{ "sync is not per-mount", 0, MS_SYNCHRONOUS | MS_NODEV, 0, MS_NODEV },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long got =
			rootfs_remount_flags(cases[i].cur, cases[i].flags, cases[i].clear);

		if (got != cases[i].want) {
			printf("# %s: got %#lx want %#lx\n", cases[i].desc, got, cases[i].want);
			return 1;
		}
	}
	return 0;
}

/* Which mounts may have an idmap, decided before anything is created (config.md#mounts). */
static int test_idmap_check(void)
{
#define MAP "[{\"containerID\":0,\"hostID\":1000,\"size\":1}]"
#define MAPS ",\"uidMappings\":" MAP ",\"gidMappings\":" MAP
#define USERNS ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":" MAP \
	       ",\"gidMappings\":" MAP "}"
	static const struct {
		const char *mount, *extra;
		int r;
		bool wanted;
		const char *msg;
	} cases[] = {
		{ "\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"bind\"]", "", 0, false, NULL },
		{ "\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"bind\",\"idmap\"]" MAPS, "", 0,
		  true, NULL },
		{ "\"type\":\"none\",\"source\":\"/s\",\"options\":[\"rbind\",\"ridmap\"]" MAPS, "", 0,
		  true, NULL },
		{ "\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"bind\",\"idmap\"]", USERNS, 0, true,
		  NULL },
		{ "\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"bind\"]" MAPS, "", -EINVAL, false,
		  "mounts[0].uidMappings: needs the idmap or ridmap option" },
		{ "\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"bind\",\"idmap\"]", "", -EINVAL,
		  true, "mounts[0].options: idmap without uidMappings/gidMappings needs a user "
			"namespace" },
		{ "\"type\":\"tmpfs\",\"source\":\"t\",\"options\":[\"idmap\"]" MAPS, "", -EINVAL, true,
		  "mounts[0].options: idmap and ridmap need a bind mount" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc = xasprintf(
		    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},"
		    "\"mounts\":[{\"destination\":\"/d\",%s}]%s}", cases[i].mount, cases[i].extra);
		cleanup_err struct husk_err *err = NULL;
		struct oci_config *cfg = NULL;
		bool wanted = !cases[i].wanted;
		int r;

		if (oci_config_parse(doc, strlen(doc), &cfg, &err) < 0) {
			printf("# case %zu: parse: %s\n", i, err ? err->msg : "?");
			return 1;
		}
		r = rootfs_idmap_check(cfg, 0, &wanted, &err);
		oci_config_free(cfg);
		if (r != cases[i].r || wanted != cases[i].wanted ||
		    (cases[i].msg && (!err || !strstr(err->msg, cases[i].msg)))) {
			printf("# case %zu: r %d wanted %d msg %s\n", i, r, wanted,
			       err ? err->msg : "(none)");
			return 1;
		}
	}
	return 0;
#undef MAP
#undef MAPS
#undef USERNS
}

static const struct test tests[] = {
	{ "options: each one alone", test_every_option },
	{ "options: names list matches the parser", test_names_list },
	{ "options: combinations, data, overrides", test_combinations },
	{ "options: NULL list", test_null_options },
	{ "propagation: names to flags", test_propagation_names },
	{ "remount: locked and cleared flags", test_remount_flags },
	{ "idmap: which mounts may be idmapped", test_idmap_check },
};
TAP_MAIN(tests)
