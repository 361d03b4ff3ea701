/* The guest's initramfs (initramfs.h): a newc cpio writer, kernel module resolution, and the
 * archive holding the agent as /init plus the modules it loads. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "vm/agent/paths.h"
#include "vm/initramfs.h"

/* ---- newc cpio ---- */

#define CPIO_HDR_LEN 110 /* "070701" + 13 fields of 8 hex digits */

static void cpio_put(struct cpio *c, const void *data, size_t n)
{
	if (n > c->cap - c->len) {
		size_t cap = c->cap ? c->cap : 65536;

		while (cap - c->len < n)
			cap *= 2;
		c->buf = xrealloc(c->buf, cap);
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
}

static void cpio_pad4(struct cpio *c)
{
	static const uint8_t zero[4];

	cpio_put(c, zero, (4 - c->len % 4) % 4);
}

/* One entry: header, name + NUL, padding, data, padding. The archive starts 4-aligned, so
 * padding to the buffer's length aligns the way newc counts from the entry start. */
static void cpio_entry(struct cpio *c, const char *name, uint32_t ino, mode_t mode, uint32_t nlink,
		       const void *data, size_t size, unsigned rmaj, unsigned rmin)
{
	char hdr[CPIO_HDR_LEN + 1];
	size_t namesize = strlen(name) + 1;

	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino,
		 (unsigned)mode, 0u, 0u, nlink, c->mtime, (unsigned)size, 0u, 0u, rmaj, rmin,
		 (unsigned)namesize, 0u);
	cpio_put(c, hdr, CPIO_HDR_LEN);
	cpio_put(c, name, namesize);
	cpio_pad4(c);
	if (size) {
		cpio_put(c, data, size);
		cpio_pad4(c);
	}
}

void cpio_init(struct cpio *c, uint32_t mtime)
{
	*c = (struct cpio){ .mtime = mtime };
}

void cpio_add_dir(struct cpio *c, const char *name, mode_t perm)
{
	cpio_entry(c, name, ++c->ino, S_IFDIR | (perm & 07777), 2, NULL, 0, 0, 0);
}

void cpio_add_file(struct cpio *c, const char *name, mode_t perm, const void *data, size_t len)
{
	cpio_entry(c, name, ++c->ino, S_IFREG | (perm & 07777), 1, data, len, 0, 0);
}

int cpio_add_file_path(struct cpio *c, const char *name, mode_t perm, const char *src,
		       struct husk_err **err)
{
	cleanup_free char *data = NULL;
	size_t len;

	if (fd_read_at(AT_FDCWD, src, &data, &len, err) < 0)
		return -(*err)->code;
	if (len > UINT32_MAX)
		return husk_err_msg(err, EFBIG, "`%s`: too large for a cpio archive", src);
	cpio_add_file(c, name, perm, data, len);
	return 0;
}

void cpio_add_symlink(struct cpio *c, const char *name, const char *target)
{
	cpio_entry(c, name, ++c->ino, S_IFLNK | 0777, 1, target, strlen(target), 0, 0);
}

void cpio_add_node(struct cpio *c, const char *name, mode_t type, mode_t perm, unsigned maj,
		   unsigned min)
{
	cpio_entry(c, name, ++c->ino, (type & S_IFMT) | (perm & 07777), 1, NULL, 0, maj, min);
}

void cpio_finish(struct cpio *c)
{
	cpio_entry(c, "TRAILER!!!", 0, 0, 1, NULL, 0, 0, 0);
}

void cpio_free(struct cpio *c)
{
	free(c->buf);
	*c = (struct cpio){ 0 };
}

/* ---- reading a module file ---- */

static const struct {
	const char *suffix, *tool;
} compressors[] = {
	{ ".ko.xz", "xz" },
	{ ".ko.zst", "zstd" },
	{ ".ko.gz", "gzip" },
	{ ".ko", NULL },
};

/* The compressors[] index matching name's suffix, or -1 when it is no module file. */
static int module_suffix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(compressors); i++) {
		size_t s = strlen(compressors[i].suffix);

		if (n > s && strcmp(name + n - s, compressors[i].suffix) == 0)
			return (int)i;
	}
	return -1;
}

/* "tool -dc path" into memory. Build-time only, on the host: the guest kernel could take
 * compressed modules itself (MODULE_INIT_COMPRESSED_FILE), but only when built with
 * CONFIG_MODULE_DECOMPRESS, and .modinfo must be read here anyway. */
static int decompress(const char *tool, const char *path, char **data, size_t *len,
		      struct husk_err **err)
{
	int pfd[2], st, r;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return husk_err_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return husk_err_set(err, errno, "fork");
	}
	if (pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(126);
		execlp(tool, tool, "-dc", "--", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	r = read_all(pfd[0], data, len);
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return husk_err_set(err, -r, "decompress `%s` with %s", path, tool);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(*data);
		*data = NULL;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			return husk_err_msg(err, ENOENT, "decompress `%s`: `%s` is not installed",
					    path, tool);
		return husk_err_msg(err, EIO, "decompress `%s`: %s failed", path, tool);
	}
	return 0;
}

int initramfs_module_read(const char *path, char **data, size_t *len, struct husk_err **err)
{
	int i = module_suffix(path);

	if (i >= 0 && compressors[i].tool)
		return decompress(compressors[i].tool, path, data, len, err);
	return fd_read_at(AT_FDCWD, path, data, len, err);
}

/* The value of "depends=" in the ELF64 module's .modinfo section ("" when it has none).
 * Every offset is checked against len: the file comes from a kernel package, not from us. */
static int modinfo_depends(const char *d, size_t len, const char **val, size_t *vlen)
{
	Elf64_Ehdr eh;
	Elf64_Shdr strs, sh;

	if (len < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, d, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum ||
	    eh.e_shoff > len || eh.e_shnum > (len - eh.e_shoff) / sizeof(Elf64_Shdr))
		return -ENOEXEC;
	memcpy(&strs, d + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(sh));
	if (strs.sh_offset > len || strs.sh_size > len - strs.sh_offset)
		return -ENOEXEC;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		memcpy(&sh, d + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_name >= strs.sh_size ||
		    strncmp(d + strs.sh_offset + sh.sh_name, ".modinfo",
			    strs.sh_size - sh.sh_name) != 0)
			continue;
		if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
			return -ENOEXEC;
		/* NUL-separated "key=value" strings */
		for (size_t off = 0; off < sh.sh_size;) {
			const char *s = d + sh.sh_offset + off;
			size_t n = strnlen(s, sh.sh_size - off);

			if (n >= 8 && memcmp(s, "depends=", 8) == 0) {
				*val = s + 8;
				*vlen = n - 8;
				return 0;
			}
			off += n + 1;
		}
		break;
	}
	*val = "";
	*vlen = 0;
	return 0;
}

/* ---- the module index of one kernel version ---- */

struct modent {
	char *name; /* normalised */
	char *path; /* absolute */
	char **deps;
	size_t ndeps;
	bool deps_known;
	enum { MOD_NEW, MOD_VISITING, MOD_DONE } state;
};

struct modindex {
	const char *moddir;
	struct modent *v;
	size_t n, cap;
	char **builtin;
	size_t nbuiltin;
};

/* "kernel/drivers/char/hw_random/virtio-rng.ko.xz" (or a bare name) -> "virtio_rng" */
static char *module_name(const char *s, size_t len)
{
	const char *base = memrchr(s, '/', len);
	char *name;
	int i;

	base = base ? base + 1 : s;
	name = xstrndup(base, len - (size_t)(base - s));
	i = module_suffix(name);
	if (i >= 0)
		name[strlen(name) - strlen(compressors[i].suffix)] = '\0';
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

static struct modent *index_find(struct modindex *ix, const char *name)
{
	for (size_t i = 0; i < ix->n; i++)
		if (strcmp(ix->v[i].name, name) == 0)
			return &ix->v[i];
	return NULL;
}

static bool index_is_builtin(const struct modindex *ix, const char *name)
{
	for (size_t i = 0; i < ix->nbuiltin; i++)
		if (strcmp(ix->builtin[i], name) == 0)
			return true;
	return false;
}

static struct modent *index_add(struct modindex *ix, char *name, char *path)
{
	struct modent *e = index_find(ix, name);

	if (e) { /* the first wins, as in depmod's search order */
		free(name);
		free(path);
		return e;
	}
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? 2 * ix->cap : 256;
		ix->v = xrealloc(ix->v, ix->cap * sizeof(*ix->v));
	}
	e = &ix->v[ix->n++];
	*e = (struct modent){ .name = name, .path = path };
	return e;
}

static void index_free(struct modindex *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->v[i].name);
		free(ix->v[i].path);
		for (size_t j = 0; j < ix->v[i].ndeps; j++)
			free(ix->v[i].deps[j]);
		free(ix->v[i].deps);
	}
	free(ix->v);
	for (size_t i = 0; i < ix->nbuiltin; i++)
		free(ix->builtin[i]);
	free(ix->builtin);
}

/* Read name under the module directory; -ENOENT (no error set) when it does not exist, so
 * callers can fall back. */
static int read_moddir_file(int dfd, const char *name, char **text, struct husk_err **err)
{
	size_t len;

	if (faccessat(dfd, name, F_OK, 0) < 0 && errno == ENOENT)
		return -ENOENT;
	return fd_read_at(dfd, name, text, &len, err);
}

/* Split "a b,c" at any of seps into names appended to e->deps. */
static void add_deps(struct modent *e, const char *s, size_t len, const char *seps)
{
	size_t i = 0;

	while (i < len) {
		size_t n = 0;

		while (i + n < len && !strchr(seps, s[i + n]))
			n++;
		if (n) {
			e->deps = xrealloc(e->deps, (e->ndeps + 1) * sizeof(*e->deps));
			e->deps[e->ndeps++] = module_name(s + i, n);
		}
		i += n + 1;
	}
	e->deps_known = true;
}

/* modules.dep lines: "kernel/x/a.ko: kernel/y/b.ko kernel/z/c.ko" (paths relative to moddir). */
static void index_parse_dep(struct modindex *ix, char *text)
{
	for (char *line = text, *next; *line; line = next) {
		char *nl = strchrnul(line, '\n'), *colon;
		struct modent *e;

		next = *nl ? nl + 1 : nl;
		*nl = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line)
			continue;
		e = index_add(ix, module_name(line, (size_t)(colon - line)),
			      xasprintf("%s/%.*s", ix->moddir, (int)(colon - line), line));
		if (!e->deps_known)
			add_deps(e, colon + 1, strlen(colon + 1), " \t");
	}
}

static void index_parse_builtin(struct modindex *ix, char *text)
{
	for (char *line = text, *next; *line; line = next) {
		char *nl = strchrnul(line, '\n');

		next = *nl ? nl + 1 : nl;
		if (nl == line)
			continue;
		ix->builtin = xrealloc(ix->builtin, (ix->nbuiltin + 1) * sizeof(*ix->builtin));
		ix->builtin[ix->nbuiltin++] = module_name(line, (size_t)(nl - line));
	}
}

/* No modules.dep (Debian's kernel packages leave it to depmod at install time): index every
 * module file under dir, not following symlinks ("build" and "source" point at headers). */
static int index_scan(struct modindex *ix, const char *dir, int depth, struct husk_err **err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return husk_err_set(err, errno, "open `%s`", dir);
	while (r == 0 && (e = readdir(d))) {
		cleanup_free char *path = NULL;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 16)
			r = index_scan(ix, path, depth + 1, err);
		else if (S_ISREG(st.st_mode) && module_suffix(e->d_name) >= 0)
			index_add(ix, module_name(e->d_name, strlen(e->d_name)), TAKE_PTR(path));
	}
	closedir(d);
	return r;
}

static int index_load(struct modindex *ix, struct husk_err **err)
{
	cleanup_free char *dep = NULL, *builtin = NULL;
	cleanup_close int dfd = open(ix->moddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return husk_err_set(err, errno, "open module directory `%s`", ix->moddir);
	r = read_moddir_file(dfd, "modules.builtin", &builtin, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (builtin)
		index_parse_builtin(ix, builtin);
	r = read_moddir_file(dfd, "modules.dep", &dep, err);
	if (r == -ENOENT)
		return index_scan(ix, ix->moddir, 0, err);
	if (r < 0)
		return r;
	index_parse_dep(ix, dep);
	return 0;
}

static int load_modinfo_deps(struct modent *e, struct husk_err **err)
{
	cleanup_free char *data = NULL;
	const char *val;
	size_t len, vlen;
	int r;

	r = initramfs_module_read(e->path, &data, &len, err);
	if (r < 0)
		return r;
	if (modinfo_depends(data, len, &val, &vlen) < 0)
		return husk_err_msg(err, ENOEXEC, "`%s`: not an ELF64 kernel module", e->path);
	add_deps(e, val, vlen, ",");
	return 0;
}

/* Depth-first: dependencies are appended before the module needing them. */
static int visit(struct modindex *ix, const char *name, const char *needed_by,
		 struct initramfs_modules *out, struct husk_err **err)
{
	struct modent *e;
	int r;

	if (index_is_builtin(ix, name))
		return 0;
	e = index_find(ix, name);
	if (!e && needed_by)
		return husk_err_msg(err, ENOENT, "module `%s` (needed by `%s`): not found in `%s`",
				    name, needed_by, ix->moddir);
	if (!e)
		return husk_err_msg(err, ENOENT, "module `%s`: not found in `%s`", name,
				    ix->moddir);
	if (e->state == MOD_DONE)
		return 0;
	if (e->state == MOD_VISITING)
		return husk_err_msg(err, ELOOP, "module `%s`: circular dependency", name);
	e->state = MOD_VISITING;
	if (!e->deps_known && (r = load_modinfo_deps(e, err)) < 0)
		return r;
	for (size_t i = 0; i < e->ndeps; i++) {
		r = visit(ix, e->deps[i], e->name, out, err);
		if (r < 0)
			return r;
	}
	e->state = MOD_DONE;
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = (struct initramfs_module){
		.name = xstrdup(e->name),
		.path = xstrdup(e->path),
		.file = xasprintf("%s.ko", e->name),
	};
	return 0;
}

const char *const initramfs_default_modules[] = {
	"virtio_pci", "virtio_blk", "virtio_console", "virtio_net", "virtio_rng", "ext4", NULL,
};

int initramfs_modules_resolve(const char *moddir, const char *const *wanted,
			      struct initramfs_modules *out, struct husk_err **err)
{
	struct modindex ix = { .moddir = moddir };
	int r;

	*out = (struct initramfs_modules){ 0 };
	r = index_load(&ix, err);
	for (size_t i = 0; r == 0 && wanted[i]; i++) {
		cleanup_free char *name = module_name(wanted[i], strlen(wanted[i]));

		r = visit(&ix, name, NULL, out, err);
	}
	index_free(&ix);
	if (r < 0)
		initramfs_modules_free(out);
	return r;
}

void initramfs_modules_free(struct initramfs_modules *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].path);
		free(m->v[i].file);
	}
	free(m->v);
	*m = (struct initramfs_modules){ 0 };
}

/* ---- the archive ---- */

static int add_modules(struct cpio *c, const struct initramfs_spec *s, struct husk_err **err)
{
	const char *const *wanted = s->modules ? s->modules : initramfs_default_modules;
	struct initramfs_modules mods;
	char *order = xstrdup("");
	int r;

	r = initramfs_modules_resolve(s->moddir, wanted, &mods, err);
	for (size_t i = 0; r == 0 && i < mods.n; i++) {
		cleanup_free char *data = NULL, *name = NULL;
		char *o;
		size_t len;

		r = initramfs_module_read(mods.v[i].path, &data, &len, err);
		if (r < 0)
			break;
		name = xasprintf("lib/modules/%s", mods.v[i].file);
		cpio_add_file(c, name, 0644, data, len);
		o = xasprintf("%s%s\n", order, mods.v[i].file);
		free(order);
		order = o;
	}
	if (r == 0)
		cpio_add_file(c, "lib/modules/husk.order", 0644, order, strlen(order));
	free(order);
	initramfs_modules_free(&mods);
	return r;
}

int initramfs_build(const struct initramfs_spec *s, uint8_t **out, size_t *len,
		    struct husk_err **err)
{
	static const char *const dirs[] = { "dev", "proc", "sys", "newroot", "lib", "lib/modules" };
	cleanup_free char *agent = NULL;
	struct cpio c;
	int r;

	if (!s->agent_path && (r = initramfs_agent_path(&agent, err)) < 0)
		return r;
	cpio_init(&c, 0);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		cpio_add_dir(&c, dirs[i], 0755);
	/* The kernel opens /dev/console from the initramfs as init's fds 0-2. */
	cpio_add_node(&c, "dev/console", S_IFCHR, 0600, 5, 1);
	r = cpio_add_file_path(&c, "init", 0755, s->agent_path ? s->agent_path : agent, err);
	if (r == 0 && s->moddir)
		r = add_modules(&c, s, err);
	if (r < 0) {
		cpio_free(&c);
		return husk_err_wrap(err, "build the initramfs");
	}
	cpio_finish(&c);
	*out = TAKE_PTR(c.buf);
	*len = c.len;
	return 0;
}

int initramfs_agent_path(char **out, struct husk_err **err)
{
	const char *env = getenv("HUSK_AGENT");

	if (env && *env) {
		if (access(env, R_OK) < 0)
			return husk_err_set(err, errno, "$HUSK_AGENT `%s`", env);
		*out = xstrdup(env);
		return 0;
	}
	/* In a build tree: BUILD/runtime/husk and BUILD/vm/agent/husk-agent. */
	*out = path_beside_self("../vm/agent/husk-agent", R_OK);
	if (*out)
		return 0;
	if (access(HUSK_AGENT_INSTALL_PATH, R_OK) == 0) {
		*out = xstrdup(HUSK_AGENT_INSTALL_PATH);
		return 0;
	}
	return husk_err_msg(err, ENOENT,
			    "find the guest agent: set $HUSK_AGENT, or install it as `%s`",
			    HUSK_AGENT_INSTALL_PATH);
}
