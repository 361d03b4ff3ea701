/* Path resolution inside a fake root (a tmpdir): symlinks to "/", "../../.." and dangling
 * ones never lead a lookup or a creation out of the root. */
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"
#include "rootfs/rootfs.h"
#include "tests/unit/tap.h"

/* A fake root: etc/hosts, and symlinks that would escape if followed from the host. */
static struct tmpdir *fake_root(void)
{
	struct tmpdir *t = tmpdir_new();
	int fd;

	if (mkdirat(t->dfd, "etc", 0755) < 0 || mkdirat(t->dfd, "sub", 0755) < 0 ||
	    symlinkat("/", t->dfd, "abs") < 0 || symlinkat("../../..", t->dfd, "sub/up") < 0 ||
	    symlinkat("/../../etc", t->dfd, "esc") < 0 || symlinkat("/etc", t->dfd, "etclink") < 0)
		abort();
	fd = openat(t->dfd, "etc/hosts", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	close(fd);
	return t;
}

static bool same_file(int fd, int dfd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dfd, path, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int test_symlinks_stay_inside(void)
{
	static const struct {
		const char *path, *inside;
	} cases[] = {
		{ "/abs/etc", "etc" },		{ "abs/etc/hosts", "etc/hosts" },
		{ "/sub/up/etc", "etc" },	{ "/esc", "etc" },
		{ "/../../../etc/hosts", "etc/hosts" }, { "etclink/hosts", "etc/hosts" },
		{ "/", "." },			{ "/sub/up", "." },
	};
	cleanup_tmpdir struct tmpdir *t = fake_root();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct husk_err *err = NULL;
		cleanup_close int fd = rootfs_open_in_root(t->dfd, cases[i].path, O_PATH, &err);

		if (fd < 0)
			printf("# %s: %s\n", cases[i].path, err->msg);
		CHECK(fd >= 0);
		if (!same_file(fd, t->dfd, cases[i].inside)) {
			printf("# %s did not resolve to %s inside the root\n", cases[i].path,
			       cases[i].inside);
			return 1;
		}
	}
	return 0;
}

static int test_missing_is_enoent(void)
{
	cleanup_tmpdir struct tmpdir *t = fake_root();
	cleanup_err struct husk_err *err = NULL;

	/* /abs/tmp exists on the host, not in the root. */
	CHECK(rootfs_open_in_root(t->dfd, "/abs/tmp", O_PATH, &err) == -ENOENT);
	CHECK_CONTAINS(err->msg, "/abs/tmp");
	CHECK_CONTAINS(err->msg, "No such file or directory");
	return 0;
}

static int test_mkdir_through_symlinks(void)
{
	cleanup_tmpdir struct tmpdir *t = fake_root();
	cleanup_free char *name = xasprintf("husk-unit-mkdir-%d", (int)getpid());
	static const char *const via[] = { "/abs/%s/x/y", "/sub/up/%s/x/y", "%s/./x/../x/y" };

	for (size_t i = 0; i < ARRAY_SIZE(via); i++) {
		cleanup_err struct husk_err *err = NULL;
		cleanup_free char *path = xasprintf(via[i], name);
		cleanup_free char *inside = xasprintf("%s/x/y", name);
		cleanup_free char *host = xasprintf("/%s", name);
		cleanup_close int fd = rootfs_mkdir_in_root(t->dfd, path, 0755, &err);

		if (fd < 0)
			printf("# %s: %s\n", path, err->msg);
		CHECK(fd >= 0);
		CHECK(same_file(fd, t->dfd, inside));
		CHECK(access(host, F_OK) < 0 && errno == ENOENT);
	}
	return 0;
}

static int test_mkdir_existing_and_file(void)
{
	cleanup_tmpdir struct tmpdir *t = fake_root();
	cleanup_err struct husk_err *err = NULL;
	cleanup_close int fd = rootfs_mkdir_in_root(t->dfd, "/etc", 0755, &err);

	CHECK(fd >= 0 && same_file(fd, t->dfd, "etc"));
	CHECK(rootfs_mkdir_in_root(t->dfd, "/etc/hosts/x", 0755, &err) == -ENOTDIR);
	CHECK_CONTAINS(err->msg, "/etc/hosts");
	return 0;
}

/* A dangling symlink must not become a directory or file at its (host) target. */
static int test_dangling_symlink(void)
{
	cleanup_tmpdir struct tmpdir *t = fake_root();
	cleanup_free char *target = xasprintf("/tmp/husk-unit-dangling-%d", (int)getpid());
	cleanup_err struct husk_err *err = NULL;

	CHECK(symlinkat(target, t->dfd, "dang") == 0);
	CHECK(rootfs_mkdir_in_root(t->dfd, "/dang/x", 0755, &err) < 0);
	CHECK(access(target, F_OK) < 0 && errno == ENOENT);
	husk_err_freep(&err);
	CHECK(rootfs_mkfile_in_root(t->dfd, "/dang", 0644, &err) < 0);
	CHECK(access(target, F_OK) < 0 && errno == ENOENT);
	return 0;
}

static int test_mkfile(void)
{
	cleanup_tmpdir struct tmpdir *t = fake_root();
	cleanup_free char *name = xasprintf("husk-unit-file-%d", (int)getpid());
	cleanup_free char *path = xasprintf("/abs/%s/resolv.conf", name);
	cleanup_free char *inside = xasprintf("%s/resolv.conf", name);
	cleanup_free char *host = xasprintf("/%s", name);
	cleanup_err struct husk_err *err = NULL;
	cleanup_close int fd = rootfs_mkfile_in_root(t->dfd, path, 0644, &err);
	cleanup_close int again = -1;
	struct stat st;

	CHECK(fd >= 0 && same_file(fd, t->dfd, inside));
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(access(host, F_OK) < 0 && errno == ENOENT);
	/* An existing file is reused, through a symlinked directory too. */
	again = rootfs_mkfile_in_root(t->dfd, "/etclink/hosts", 0644, &err);
	CHECK(again >= 0 && same_file(again, t->dfd, "etc/hosts"));
	return 0;
}

static int test_resolve_parent(void)
{
	static const struct {
		const char *path, *base, *dir;
	} ok[] = {
		{ "/dev/null", "null", "dev" },
		{ "/a/b/c", "c", "a/b" },
		{ "top", "top", "." },
		{ "/abs/etc/x", "x", "etc" },
	};
	static const char *const bad[] = { "/", "/dev/..", "/dev/.", "" };
	cleanup_tmpdir struct tmpdir *t = fake_root();

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		cleanup_err struct husk_err *err = NULL;
		const char *base = NULL;
		cleanup_close int fd = resolve_parent(t->dfd, ok[i].path, &base, &err);

		CHECK(fd >= 0);
		CHECK_STREQ(base, ok[i].base);
		CHECK(same_file(fd, t->dfd, ok[i].dir));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_err struct husk_err *err = NULL;
		const char *base = NULL;

		CHECK(resolve_parent(t->dfd, bad[i], &base, &err) == -EINVAL);
	}
	return 0;
}

static const struct test tests[] = {
	{ "open: symlinks to / and ../.. stay inside the root", test_symlinks_stay_inside },
	{ "open: a host-only path is ENOENT, named in the error", test_missing_is_enoent },
	{ "mkdir: through symlinks, inside the root", test_mkdir_through_symlinks },
	{ "mkdir: existing dir reused, file in the way is ENOTDIR", test_mkdir_existing_and_file },
	{ "mkdir/mkfile: dangling symlink is refused", test_dangling_symlink },
	{ "mkfile: created inside, existing reused", test_mkfile },
	{ "parent: split and create", test_resolve_parent },
};
TAP_MAIN(tests)
