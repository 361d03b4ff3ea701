/* Inside cgroups/: the per-controller appliers, the pure conversions they use (unit-tested)
 * and small file helpers on a cgroup dirfd. */
#pragma once

#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroups.h"

#define CGROUP_DEFAULT_PARENT "husk"

/* ---- conversions (pure) ---- */

/* cpu.shares (v1, 2..262144) to cpu.weight (1..10000), as runc and crun convert; 0 = unset. */
uint64_t cgroup_conv_shares(uint64_t shares);
/* blkio.weight (10..1000) to io.weight (1..10000); 0 = unset. */
uint64_t cgroup_conv_blkio_weight(uint64_t weight);
/* cpu.max from quota and period: "max 100000", "50000 100000", "50000" (period kept). Returns
 * false when neither is set (nothing to write). */
bool cgroup_conv_cpu_max(const struct oci_cpu *c, char *buf, size_t len);
/* memory.swap.max from linux.resources.memory (swap is memory+swap on v1, as runc converts).
 * Returns 1 with *out (-1 = "max") to write, 0 for nothing to write, -EINVAL with *err. */
int cgroup_conv_swap(int64_t limit, int64_t swap, int64_t *out, struct husk_err **err);
/* A limit as a cgroup file value: -1 (or any negative) "max", else the number. */
void cgroup_fmt_limit(int64_t v, char *buf, size_t len);
/* io.max lines, one per device with every key it sets: "8:0 rbps=1048576 wiops=100".
 * NULL-terminated, malloc'd (strv_free); NULL when there are none. */
char **cgroup_io_max_lines(const struct oci_blkio *b);
/* "2MB" -> "hugetlb.2MB.max"; false when the page size is not <digits><KB|MB|GB>. */
bool cgroup_hugetlb_file(const char *page_size, const char *suffix, char *buf, size_t len);
/* rdma.max line "mlx5_1 hca_handle=3 hca_object=10000"; false when nothing is set. */
bool cgroup_rdma_line(const struct oci_rdma *r, char *buf, size_t len);
/* A unified key is a plain file name in the cgroup: no '/', not "." or "..", no leading '.'. */
bool cgroup_unified_key_ok(const char *key);
/* The controller a unified key belongs to ("memory.high" -> memory), -1 for core files
 * ("cgroup.*") and unknown prefixes. */
int cgroup_unified_ctrl(const char *key);

/* Which controllers res needs (docker's zero values do not count), and the config field
 * that first asks for each (for the refusal message). Fields cgroup v2 cannot express at all
 * are refused here with *err. */
int cgroup_resources_needs(const struct oci_resources *res, unsigned *needs,
			   const char *field[CGROUP_CTRLS], struct husk_err **err);

/* ---- devices (devices.c) ---- */

struct cgroup_dev_rule {
	bool allow;
	char type;		/* 'a', 'c' or 'b' */
	int64_t major, minor;	/* -1: any */
	unsigned access;	/* CGROUP_DEV_R | W | M */
};
#define CGROUP_DEV_M 1u	/* BPF_DEVCG_ACC_MKNOD */
#define CGROUP_DEV_R 2u	/* BPF_DEVCG_ACC_READ */
#define CGROUP_DEV_W 4u	/* BPF_DEVCG_ACC_WRITE */

/* The effective list: config rules, then linux.devices (allowed rwm), then runc's default
 * devices (null, zero, full, random, urandom, tty, ptmx, pts, tun, mknod of anything). The
 * last matching rule decides; nothing matching is denied. */
struct cgroup_dev_rule *cgroup_dev_rules(const struct cgroup_config *cc, size_t *n,
					 struct husk_err **err);
/* What the rules decide for one access (the semantics the BPF program implements): type 'c'
 * or 'b', access a CGROUP_DEV_* mask. An allow rule matches when it grants every bit asked
 * for, a deny rule when it denies any of them. */
bool cgroup_dev_allowed(const struct cgroup_dev_rule *rules, size_t n, char type, uint32_t major,
			uint32_t minor, unsigned access);
/* The BPF_PROG_TYPE_CGROUP_DEVICE program for the rules; *insns malloc'd. */
int cgroup_dev_program(const struct cgroup_dev_rule *rules, size_t n, struct bpf_insn **insns,
		       size_t *n_insns, struct husk_err **err);
/* Load the program and attach it to the cgroup (replacing the ones we attached before). */
int cgroup_dev_attach(int dfd, const struct bpf_insn *insns, size_t n, struct husk_err **err);
int cgroup_apply_devices(struct cgroup *cg, const struct cgroup_config *cc,
			 struct husk_err **err);

/* ---- appliers: each writes only what is set; update=true on a live cgroup ---- */

int cgroup_apply_cpu(struct cgroup *cg, const struct oci_cpu *c, struct husk_err **err);
int cgroup_apply_cpuset(struct cgroup *cg, const struct oci_cpu *c, struct husk_err **err);
int cgroup_apply_memory(struct cgroup *cg, const struct oci_memory *m, struct husk_err **err);
int cgroup_apply_io(struct cgroup *cg, const struct oci_blkio *b, struct husk_err **err);
int cgroup_apply_pids(struct cgroup *cg, bool has, int64_t limit, struct husk_err **err);
int cgroup_apply_hugetlb(struct cgroup *cg, const struct oci_hugepage_limit *h, size_t n,
			 struct husk_err **err);
int cgroup_apply_rdma(struct cgroup *cg, const struct oci_rdma *r, size_t n,
		      struct husk_err **err);
int cgroup_apply_unified(struct cgroup *cg, const struct oci_map *u, struct husk_err **err);
/* Every applier above, in order, after checking the controllers are there. */
int cgroup_apply(struct cgroup *cg, const struct oci_resources *res, struct husk_err **err);

/* ---- helpers ---- */

/* Write val to the cgroup file `name`; errors read "cgroup `PATH`: write `name`: ...". */
int cg_write(struct cgroup *cg, const char *name, const char *val, struct husk_err **err);
/* Does the cgroup have the file `name`? */
bool cg_has(const struct cgroup *cg, const char *name);
/* Read a file ("" when missing), malloc'd; NULL on other errors. */
char *cg_read(int dfd, const char *name);
/* v1.c: on hybrid hosts, the v1 hierarchies serve what the unified one lacks. */
unsigned cgroup_v1_available(unsigned wanted);
int cgroup_v1_create(const char *rel, const struct oci_resources *res, unsigned ctrls,
		     struct husk_err **err);
void cgroup_v1_remove(const char *rel);
/* rmdir the empty directories above root/rel, when rel is under husk/ (husk's own). */
void cgroup_drop_empty_parents(const char *root, const char *rel);
int cgroup_v1_devices(const char *rel, const struct cgroup_config *cc, struct husk_err **err);
/* The value of `key` in a flat-keyed file ("key value\n..."); false when absent. */
bool cg_keyed(const char *buf, const char *key, uint64_t *out);
/* Controller names of a space-separated list (cgroup.controllers) as CGROUP_BIT()s. */
unsigned cg_parse_ctrls(const char *list);
