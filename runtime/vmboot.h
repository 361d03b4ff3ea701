/* `husk vm boot`: boot a kernel in a microVM and run one process in it through the guest
 * agent. vmopts.c parses the command line (pure, unit-tested); vmboot.c builds the machine and
 * drives the agent on the "husk.ctl" port. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define VMBOOT_MAX_DISKS 8
#define VMBOOT_DEFAULT_MEMORY (256ULL << 20)
#define VMBOOT_DEFAULT_TIMEOUT 60
/* How long the guest may take to power off after it reported the process's exit. */
#define VMBOOT_POWEROFF_GRACE_MS 5000

struct vmboot_disk {
	const char *path;	/* points into argv */
	bool ro;
	char *owned;		/* the copy path points into, when ",ro" was cut off */
};

struct vmboot_opts {
	const char *kernel, *initrd, *modules;
	struct vmboot_disk disks[VMBOOT_MAX_DISKS];
	unsigned ndisks;
	const char *net;	/* an existing tap device */
	char *cmdline_extra;	/* every --cmdline, space-separated; NULL for none */
	uint64_t mem_bytes;
	unsigned cpus;
	const char *root, *rootfstype, *cwd, *hostname;
	char **env;		/* "K=V", the default PATH first, later --env win */
	uint32_t uid, gid;
	bool debug_console;
	unsigned timeout_s;
	char **args;		/* the process: points into argv */
	bool help;
};

/* Fill o from argv (argv[0] is "boot"). Returns 0, or -EINVAL with *err naming the option.
 * With --help, returns 0 and sets o->help (nothing else is checked). */
int vmboot_parse(int argc, char **argv, struct vmboot_opts *o, struct husk_err **err);
void vmboot_opts_free(struct vmboot_opts *o);

/* "256M", "1G", "512K", "1T" or a plain number of bytes; a multiple of 4 KiB. */
int vmboot_parse_size(const char *s, uint64_t *out, struct husk_err **err);
/* "IMG" or "IMG,ro". */
int vmboot_parse_disk(const char *s, struct vmboot_disk *d, struct husk_err **err);
/* "UID" (gid 0) or "UID:GID", numbers only: there is no passwd file to look names up in. */
int vmboot_parse_user(const char *s, uint32_t *uid, uint32_t *gid, struct husk_err **err);
/* Add "K=V" to *env, replacing an entry with the same K. */
int vmboot_env_set(char ***env, const char *kv, struct husk_err **err);

/* The version string of a bzImage ("6.1.0-18-cloud-amd64"), from the setup header's
 * kernel_version pointer; img holds at least the setup sectors. */
int vmboot_kernel_version(const uint8_t *img, size_t len, char *out, size_t cap,
			  struct husk_err **err);
/* The kernel command line: husk's defaults (quiet, or the verbose set with debug_console),
 * then extra. Malloc'd. */
char *vmboot_cmdline(bool debug_console, const char *extra);
/* Whether the root device names one of the disks (/dev/vda is disks[0]) given read-only. */
bool vmboot_root_ro(const struct vmboot_opts *o);

/* Boot and run; returns the process's status (its exit code, or 128+N for signal N), or 1
 * after printing what went wrong. Leaves nothing running. */
int vmboot_run(const struct vmboot_opts *o);

/* Write the initramfs `vm boot` would build for kernel (the agent as /init plus the modules
 * it needs, from modules or the default tree) to the file out, atomically. */
int vmboot_write_initramfs(const char *kernel, const char *modules, const char *out,
			   struct husk_err **err);
