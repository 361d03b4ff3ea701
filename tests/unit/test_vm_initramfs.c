/* vm/initramfs.c: the newc writer byte by byte (and read back by cpio(1) when installed),
 * module resolution on fake module trees (modules.dep, modules.builtin, .modinfo), and the
 * whole initramfs read back with a small newc parser. */
#include <elf.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/util.h"
#include "tap.h"
#include "vm/initramfs.h"

static int write_file(int dfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* mkdir -p for a relative path under dfd */
static void mkdirs(int dfd, const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdirat(dfd, buf, 0755);
		*p = '/';
	}
	mkdirat(dfd, buf, 0755);
}

/* ---- the newc writer ---- */

static int test_cpio_bytes(void)
{
	/* Each entry written out by hand: header fields, name, NULs to a multiple of 4. */
	static const char expect[] =
		"070701" "00000001" "000041ED" "00000000" "00000000" "00000002" "5F5E1000"
		"00000000" "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
		"d\0" /* 110 + 2 = 112: aligned */
		"070701" "00000002" "000081A4" "00000000" "00000000" "00000001" "5F5E1000"
		"00000005" "00000000" "00000000" "00000000" "00000000" "00000004" "00000000"
		"d/f\0" "\0\0" /* 110 + 4 = 114 -> 116 */
		"hello" "\0\0\0" /* 5 -> 8 */
		"070701" "00000003" "0000A1FF" "00000000" "00000000" "00000001" "5F5E1000"
		"00000003" "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
		"l\0" "d/f" "\0" /* target 3 -> 4 */
		"070701" "00000004" "00002180" "00000000" "00000000" "00000001" "5F5E1000"
		"00000000" "00000000" "00000000" "00000005" "00000001" "00000002" "00000000"
		"c\0"
		"070701" "00000000" "00000000" "00000000" "00000000" "00000001" "5F5E1000"
		"00000000" "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000"
		"TRAILER!!!\0" "\0\0\0"; /* 110 + 11 = 121 -> 124 */
	struct cpio c;

	cpio_init(&c, 1600000000);
	cpio_add_dir(&c, "d", 0755);
	cpio_add_file(&c, "d/f", 0644, "hello", 5);
	cpio_add_symlink(&c, "l", "d/f");
	cpio_add_node(&c, "c", S_IFCHR, 0600, 5, 1);
	cpio_finish(&c);
	CHECK(c.len == sizeof(expect) - 1);
	CHECK(c.len % 4 == 0);
	for (size_t i = 0; i < c.len; i++)
		if (c.buf[i] != (uint8_t)expect[i]) {
			printf("# byte %zu: 0x%02x, expected 0x%02x\n", i, c.buf[i], expect[i]);
			cpio_free(&c);
			return 1;
		}
	cpio_free(&c);
	return 0;
}

/* Every name length modulo 4, and data lengths 0..5: each entry starts 4-aligned. */
static int test_cpio_alignment(void)
{
	static const char *const names[] = { "a", "ab", "abc", "abcd", "abcde" };
	struct cpio c;
	size_t off = 0;

	cpio_init(&c, 0);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		for (size_t len = 0; len < 6; len++)
			cpio_add_file(&c, names[i], 0644, "xxxxx", len);
	cpio_finish(&c);
	for (size_t n = 0; n < ARRAY_SIZE(names) * 6 + 1; n++) {
		unsigned namesize, filesize;

		CHECK(off % 4 == 0 && off + 110 <= c.len);
		CHECK(memcmp(c.buf + off, "070701", 6) == 0);
		CHECK(sscanf((char *)c.buf + off + 54, "%8x", &filesize) == 1);
		CHECK(sscanf((char *)c.buf + off + 94, "%8x", &namesize) == 1);
		off += (110 + namesize + 3) & ~3u;
		off += (filesize + 3) & ~3u;
	}
	CHECK(off == c.len);
	cpio_free(&c);
	return 0;
}

/* A newc reader for the tests: finds name, returns its data (NULL if absent). */
static const uint8_t *cpio_lookup(const uint8_t *buf, size_t len, const char *want,
				  unsigned *mode, size_t *size)
{
	for (size_t off = 0; off + 110 <= len;) {
		char field[9] = { 0 };
		unsigned m, fs, ns;
		const char *name = (const char *)buf + off + 110;

		memcpy(field, buf + off + 14, 8);
		m = (unsigned)strtoul(field, NULL, 16);
		memcpy(field, buf + off + 54, 8);
		fs = (unsigned)strtoul(field, NULL, 16);
		memcpy(field, buf + off + 94, 8);
		ns = (unsigned)strtoul(field, NULL, 16);
		if (strcmp(name, "TRAILER!!!") == 0)
			return NULL;
		off += (110 + ns + 3) & ~3u;
		if (strcmp(name, want) == 0) {
			*mode = m;
			*size = fs;
			return buf + off;
		}
		off += (fs + 3) & ~3u;
	}
	return NULL;
}

static int test_cpio_tool_reads_it(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	char cmd[512], out[256] = "";
	struct cpio c;
	FILE *p;
	size_t n;

	if (system("cpio --version >/dev/null 2>&1") != 0)
		return 77;
	cpio_init(&c, 0);
	cpio_add_dir(&c, "d", 0755);
	cpio_add_file(&c, "d/f", 0644, "hello", 5);
	cpio_add_symlink(&c, "l", "d/f");
	cpio_add_file(&c, "d/empty", 0600, NULL, 0);
	cpio_finish(&c);
	CHECK(write_file(t->dfd, "a.cpio", c.buf, c.len) == 0);
	cpio_free(&c);
	snprintf(cmd, sizeof(cmd), "cd %s && cpio -it --quiet < a.cpio", t->path);
	p = popen(cmd, "r");
	CHECK(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0);
	CHECK_STREQ(out, "d\nd/f\nl\nd/empty\n");
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir x && cd x && cpio -id --quiet < ../a.cpio",
		 t->path);
	CHECK(system(cmd) == 0);
	CHECK_STREQ(tmpdir_read(t, "x/d/f"), "hello");
	CHECK_STREQ(tmpdir_read(t, "x/l"), "hello");
	return 0;
}

/* ---- module resolution ---- */

#define KVER "6.1.0-test"

/* A fake module tree: modules.dep lists direct dependencies only (depmod writes the whole
 * closure; both must resolve the same). */
static void fake_tree(struct tmpdir *t, bool with_dep)
{
	static const char *const files[] = {
		"kernel/drivers/virtio/virtio_ring.ko",
		"kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_pci.ko",
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko",
		"kernel/drivers/block/virtio_blk.ko",
		"kernel/drivers/char/hw_random/virtio-rng.ko",
		"kernel/drivers/net/net-failover.ko",
		"kernel/drivers/net/virtio_net.ko",
		"kernel/drivers/net/needs_ghost.ko",
	};
	static const char dep[] =
		"kernel/drivers/virtio/virtio_ring.ko:\n"
		"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
		"kernel/drivers/virtio/virtio_pci.ko: "
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko\n"
		"kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
		"kernel/drivers/virtio/virtio_ring.ko\n"
		"kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko\n"
		"kernel/drivers/net/net-failover.ko:\n"
		"kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net-failover.ko "
		"kernel/drivers/virtio/virtio.ko\n"
		"kernel/drivers/net/needs_ghost.ko: kernel/drivers/net/ghost.ko\n";
	static const char builtin[] = "kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n";

	mkdirs(t->dfd, KVER "/kernel/drivers/virtio");
	mkdirs(t->dfd, KVER "/kernel/drivers/block");
	mkdirs(t->dfd, KVER "/kernel/drivers/char/hw_random");
	mkdirs(t->dfd, KVER "/kernel/drivers/net");
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[256];

		snprintf(path, sizeof(path), KVER "/%s", files[i]);
		if (write_file(t->dfd, path, files[i], strlen(files[i])) < 0)
			abort();
	}
	if (with_dep && write_file(t->dfd, KVER "/modules.dep", dep, strlen(dep)) < 0)
		abort();
	if (write_file(t->dfd, KVER "/modules.builtin", builtin, strlen(builtin)) < 0)
		abort();
}

/* The load order as "a b c". */
static char *resolve(struct tmpdir *t, const char *const *wanted, struct husk_err **err)
{
	cleanup_free char *moddir = xasprintf("%s/" KVER, t->path);
	struct initramfs_modules m;
	char *s = xstrdup("");

	if (initramfs_modules_resolve(moddir, wanted, &m, err) < 0) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < m.n; i++) {
		char *n = xasprintf("%s%s%s", s, i ? " " : "", m.v[i].name);

		free(s);
		s = n;
	}
	initramfs_modules_free(&m);
	return s;
}

static int test_modules_dep(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *order = NULL, *again = NULL;
	const char *const wanted[] = { "virtio_pci", "virtio_blk", "ext4", "virtio-rng",
				       "virtio_rng", "virtio_net", "virtio_pci", NULL };

	fake_tree(t, true);
	order = resolve(t, wanted, &err);
	CHECK(order);
	/* deps first, transitively; ext4 built in; '-' and '_' the same module; no repeats */
	CHECK_STREQ(order, "virtio_pci_modern_dev virtio_ring virtio virtio_pci virtio_blk "
			   "virtio_rng net_failover virtio_net");
	again = resolve(t, (const char *const[]){ "virtio", "virtio_ring", NULL }, &err);
	CHECK_STREQ(again, "virtio_ring virtio");
	return 0;
}

static int test_modules_files(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *moddir = xasprintf("%s/" KVER, t->path);
	struct initramfs_modules m;

	fake_tree(t, true);
	CHECK(initramfs_modules_resolve(moddir, (const char *const[]){ "virtio_rng", NULL }, &m,
					&err) == 0);
	CHECK(m.n == 3);
	CHECK_STREQ(m.v[2].name, "virtio_rng");
	CHECK_CONTAINS(m.v[2].path, "/" KVER "/kernel/drivers/char/hw_random/virtio-rng.ko");
	CHECK_STREQ(m.v[2].file, "virtio_rng.ko");
	initramfs_modules_free(&m);
	return 0;
}

static int test_modules_missing(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;

	fake_tree(t, true);
	CHECK(!resolve(t, (const char *const[]){ "virtio_blk", "virtio_gpu", NULL }, &err));
	CHECK(err && err->code == ENOENT);
	CHECK_CONTAINS(err->msg, "module `virtio_gpu`: not found in");
	CHECK_CONTAINS(err->msg, KVER);
	husk_err_free(err);
	err = NULL;
	CHECK(!resolve(t, (const char *const[]){ "needs_ghost", NULL }, &err));
	CHECK_CONTAINS(err->msg, "module `ghost` (needed by `needs_ghost`)");
	return 0;
}

/* A minimal ELF64 relocatable: null section, .modinfo, .shstrtab. */
static size_t fake_elf(uint8_t *buf, size_t cap, const char *modinfo, size_t mlen)
{
	static const char strtab[] = "\0.modinfo\0.shstrtab";
	Elf64_Ehdr eh = { .e_type = ET_REL, .e_machine = EM_X86_64, .e_version = EV_CURRENT };
	Elf64_Shdr sh[3] = { { 0 } };
	size_t off = sizeof(eh);

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = 3;
	eh.e_shstrndx = 2;
	if (off + mlen + sizeof(strtab) + sizeof(sh) + 8 > cap)
		abort();
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_PROGBITS, .sh_offset = off,
			      .sh_size = mlen };
	memcpy(buf + off, modinfo, mlen);
	off += mlen;
	sh[2] = (Elf64_Shdr){ .sh_name = 10, .sh_type = SHT_STRTAB, .sh_offset = off,
			      .sh_size = sizeof(strtab) };
	memcpy(buf + off, strtab, sizeof(strtab));
	off = (off + sizeof(strtab) + 7) & ~(size_t)7;
	eh.e_shoff = off;
	memcpy(buf + off, sh, sizeof(sh));
	memcpy(buf, &eh, sizeof(eh));
	return off + sizeof(sh);
}

static void put_module(struct tmpdir *t, const char *rel, const char *depends)
{
	char info[256], path[256];
	uint8_t elf[1024] = { 0 };
	int n = snprintf(info, sizeof(info), "license=GPL%cdepends=%s%cvermagic=6.1.0 SMP", 0,
			 depends, 0);

	snprintf(path, sizeof(path), KVER "/%s", rel);
	if (write_file(t->dfd, path, elf, fake_elf(elf, sizeof(elf), info, (size_t)n + 1)) < 0)
		abort();
}

/* Debian's packages ship no modules.dep: dependencies come from each .modinfo. */
static int test_modules_modinfo(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *order = NULL;

	fake_tree(t, false);
	put_module(t, "kernel/drivers/virtio/virtio_ring.ko", "");
	put_module(t, "kernel/drivers/virtio/virtio.ko", "virtio_ring");
	put_module(t, "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "");
	put_module(t, "kernel/drivers/virtio/virtio_pci.ko",
		   "virtio_ring,virtio_pci_modern_dev,virtio");
	put_module(t, "kernel/drivers/net/net-failover.ko", "");
	put_module(t, "kernel/drivers/net/virtio_net.ko", "virtio_ring,virtio,net_failover");
	order = resolve(t, (const char *const[]){ "virtio_net", "ext4", "virtio_pci", NULL },
			&err);
	CHECK(order);
	CHECK_STREQ(order, "virtio_ring virtio net_failover virtio_net virtio_pci_modern_dev "
			   "virtio_pci");
	/* a file that is no ELF module is an error naming it */
	CHECK(!resolve(t, (const char *const[]){ "virtio_blk", NULL }, &err));
	CHECK_CONTAINS(err->msg, "virtio_blk.ko`: not an ELF64 kernel module");
	return 0;
}

/* ---- the whole initramfs ---- */

static int test_build(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *moddir = xasprintf("%s/" KVER, t->path);
	cleanup_free char *agent = xasprintf("%s/agent", t->path);
	cleanup_free uint8_t *out = NULL;
	const char *const wanted[] = { "virtio_blk", NULL };
	struct initramfs_spec s = { .agent_path = agent, .moddir = moddir, .modules = wanted };
	const uint8_t *d;
	unsigned mode;
	size_t len, size;

	fake_tree(t, true);
	CHECK(write_file(t->dfd, "agent", "\177ELF-agent", 10) == 0);
	CHECK(initramfs_build(&s, &out, &len, &err) == 0);
	CHECK(len % 4 == 0);
	d = cpio_lookup(out, len, "init", &mode, &size);
	CHECK(d && mode == (S_IFREG | 0755) && size == 10 && memcmp(d, "\177ELF-agent", 10) == 0);
	CHECK(cpio_lookup(out, len, "dev/console", &mode, &size) && mode == (S_IFCHR | 0600));
	for (const char *const *p = (const char *const[]){ "dev", "proc", "sys", "newroot",
							   "lib/modules", NULL };
	     *p; p++)
		CHECK(cpio_lookup(out, len, *p, &mode, &size) && S_ISDIR(mode));
	d = cpio_lookup(out, len, "lib/modules/husk.order", &mode, &size);
	CHECK(d && size == strlen("virtio_ring.ko\nvirtio.ko\nvirtio_blk.ko\n"));
	CHECK(memcmp(d, "virtio_ring.ko\nvirtio.ko\nvirtio_blk.ko\n", size) == 0);
	d = cpio_lookup(out, len, "lib/modules/virtio_blk.ko", &mode, &size);
	CHECK(d && size == strlen("kernel/drivers/block/virtio_blk.ko"));
	CHECK(!cpio_lookup(out, len, "lib/modules/virtio_pci.ko", &mode, &size));
	return 0;
}

static int test_build_errors(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *moddir = xasprintf("%s/" KVER, t->path);
	cleanup_free char *agent = xasprintf("%s/no-agent", t->path);
	uint8_t *out = NULL;
	struct initramfs_spec s = { .agent_path = agent };
	size_t len;

	CHECK(initramfs_build(&s, &out, &len, &err) == -ENOENT && !out);
	CHECK_CONTAINS(err->msg, "build the initramfs: open `");
	husk_err_free(err);
	err = NULL;
	CHECK(write_file(t->dfd, "no-agent", "x", 1) == 0);
	s.moddir = moddir; /* does not exist */
	CHECK(initramfs_build(&s, &out, &len, &err) < 0 && !out);
	CHECK_CONTAINS(err->msg, "open module directory");
	return 0;
}

/* A compressed module is stored decompressed, under its plain .ko name. */
static int test_build_xz(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *moddir = xasprintf("%s/" KVER, t->path);
	cleanup_free char *agent = xasprintf("%s/agent", t->path);
	cleanup_free char *cmd = NULL;
	cleanup_free uint8_t *out = NULL;
	const char *const wanted[] = { "virtio-ring", NULL };
	struct initramfs_spec s = { .agent_path = agent, .moddir = moddir, .modules = wanted };
	unsigned mode;
	size_t len, size;
	const uint8_t *d;

	if (system("xz --version >/dev/null 2>&1") != 0)
		return 77;
	fake_tree(t, false);
	put_module(t, "kernel/drivers/virtio/virtio_ring.ko", "");
	cmd = xasprintf("xz %s/kernel/drivers/virtio/virtio_ring.ko", moddir);
	CHECK(system(cmd) == 0);
	CHECK(write_file(t->dfd, "agent", "A", 1) == 0);
	CHECK(initramfs_build(&s, &out, &len, &err) == 0);
	d = cpio_lookup(out, len, "lib/modules/virtio_ring.ko", &mode, &size);
	CHECK(d && size > 64 && memcmp(d, ELFMAG, SELFMAG) == 0);
	d = cpio_lookup(out, len, "lib/modules/husk.order", &mode, &size);
	CHECK(d && size == 15 && memcmp(d, "virtio_ring.ko\n", 15) == 0);
	return 0;
}

static int test_agent_path_env(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *agent = xasprintf("%s/husk-agent", t->path);
	cleanup_free char *found = NULL;

	CHECK(write_file(t->dfd, "husk-agent", "x", 1) == 0);
	setenv("HUSK_AGENT", agent, 1);
	CHECK(initramfs_agent_path(&found, &err) == 0);
	CHECK_STREQ(found, agent);
	setenv("HUSK_AGENT", "/nonexistent/husk-agent", 1);
	CHECK(initramfs_agent_path(&found, &err) == -ENOENT);
	CHECK_CONTAINS(err->msg, "$HUSK_AGENT `/nonexistent/husk-agent`");
	unsetenv("HUSK_AGENT");
	return 0;
}

static const struct test tests[] = {
	{ "cpio: entries byte by byte", test_cpio_bytes },
	{ "cpio: every entry 4-aligned", test_cpio_alignment },
	{ "cpio: cpio(1) lists and extracts it", test_cpio_tool_reads_it },
	{ "modules: modules.dep order, builtin, '-' vs '_', no repeats", test_modules_dep },
	{ "modules: paths and initramfs file names", test_modules_files },
	{ "modules: missing module and dependency named", test_modules_missing },
	{ "modules: no modules.dep, depends from .modinfo", test_modules_modinfo },
	{ "build: init, dirs, console, modules, husk.order", test_build },
	{ "build: missing agent or module dir", test_build_errors },
	{ "build: xz module stored decompressed", test_build_xz },
	{ "agent path: $HUSK_AGENT", test_agent_path_env },
};
TAP_MAIN(tests)
