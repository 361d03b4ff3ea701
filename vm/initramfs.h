/* The guest's initramfs: a newc cpio writer, the module list of a kernel version (resolved
 * from modules.dep, or from each module's .modinfo when a distro package ships no
 * modules.dep), and initramfs_build() putting the agent, the modules and their order together. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* ---- newc cpio writer (in memory) ---- */

/* Names are written as given, without a leading '/' by convention ("lib/modules"); a parent
 * directory must be added before what it holds (the kernel's unpacker does not create it).
 * Every header+name and every data block is padded to 4 bytes; uid/gid are 0, mtime is the
 * one given at init (a fixed value makes the archive reproducible), inodes count up from 1. */
struct cpio {
	uint8_t *buf;
	size_t len, cap;
	uint32_t ino;
	uint32_t mtime;
};

void cpio_init(struct cpio *c, uint32_t mtime);
void cpio_add_dir(struct cpio *c, const char *name, mode_t perm);
void cpio_add_file(struct cpio *c, const char *name, mode_t perm, const void *data, size_t len);
/* A regular file with the contents of the host file src. */
int cpio_add_file_path(struct cpio *c, const char *name, mode_t perm, const char *src,
		       struct husk_err **err);
void cpio_add_symlink(struct cpio *c, const char *name, const char *target);
/* A device node: type is S_IFCHR or S_IFBLK. */
void cpio_add_node(struct cpio *c, const char *name, mode_t type, mode_t perm, unsigned maj,
		   unsigned min);
/* Append the TRAILER!!! entry; the archive is then c->buf[0..c->len). */
void cpio_finish(struct cpio *c);
void cpio_free(struct cpio *c);

/* ---- kernel modules ---- */

struct initramfs_module {
	char *name; /* the kernel's name: '-' turned into '_' */
	char *path; /* the file in the module tree (maybe .ko.xz/.ko.zst/.ko.gz) */
	char *file; /* its name in the initramfs: the base name without the compression suffix */
};

struct initramfs_modules {
	struct initramfs_module *v; /* load order: every module after its dependencies */
	size_t n;
};

/* The modules a husk guest needs; ext4 and others are skipped where built in. */
extern const char *const initramfs_default_modules[];

/* Resolve wanted (NULL-terminated names, '-' and '_' alike) in moddir (a
 * /lib/modules/<version> tree) into a load order, dependencies first, no duplicates, built-in
 * modules (modules.builtin) skipped. Dependencies come from modules.dep when it exists, else
 * from the "depends=" entry of each module's .modinfo section. A name found nowhere is an
 * error naming it (and the module that needed it). */
int initramfs_modules_resolve(const char *moddir, const char *const *wanted,
			      struct initramfs_modules *out, struct husk_err **err);
void initramfs_modules_free(struct initramfs_modules *m);

/* The module's contents, decompressed with the host's xz/zstd/gzip when the file is
 * compressed (*data malloc'd, NUL-terminated past *len). */
int initramfs_module_read(const char *path, char **data, size_t *len, struct husk_err **err);

/* ---- the whole initramfs ---- */

struct initramfs_spec {
	const char *agent_path;	     /* NULL: initramfs_agent_path() */
	const char *moddir;	     /* NULL: no modules (a kernel with its drivers built in) */
	const char *const *modules; /* NULL: initramfs_default_modules */
};

/* Build the cpio: /init (the agent), /dev/console, /proc /sys /dev /newroot, the modules in
 * /lib/modules and their order in /lib/modules/husk.order. *out is malloc'd. */
int initramfs_build(const struct initramfs_spec *s, uint8_t **out, size_t *len,
		    struct husk_err **err);

/* Where the agent binary is: $HUSK_AGENT, else ../vm/agent/husk-agent beside the running husk
 * (path_beside_self(): the build tree), else the installed <libexecdir>/husk/husk-agent. */
int initramfs_agent_path(char **out, struct husk_err **err);
