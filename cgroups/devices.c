/* linux.resources.devices as an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program: the rule list
 * (config rules, then linux.devices, then runc's default devices), its meaning as a plain C
 * matcher, the program generated from the same list, and loading it with bpf(2). */
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "internal.h"

/* What every container may use whatever its rules say, as runc allows it: mknod of anything
 * (opening is what the rules decide), the standard /dev nodes, ptys and /dev/net/tun. */
static const struct cgroup_dev_rule default_rules[] = {
	{ true, 'c', -1, -1, CGROUP_DEV_M },
	{ true, 'b', -1, -1, CGROUP_DEV_M },
	{ true, 'c', 1, 3, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* null */
	{ true, 'c', 1, 8, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* random */
	{ true, 'c', 1, 7, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* full */
	{ true, 'c', 5, 0, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* tty */
	{ true, 'c', 1, 5, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* zero */
	{ true, 'c', 1, 9, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* urandom */
	{ true, 'c', 136, -1, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* /dev/pts/N */
	{ true, 'c', 5, 2, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* ptmx */
	{ true, 'c', 10, 200, CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M },	/* net/tun */
};

#define ACC_ALL (CGROUP_DEV_R | CGROUP_DEV_W | CGROUP_DEV_M)

static unsigned parse_access(const char *s)
{
	unsigned a = 0;

	for (; s && *s; s++)
		a |= *s == 'r' ? CGROUP_DEV_R : *s == 'w' ? CGROUP_DEV_W : *s == 'm' ? CGROUP_DEV_M : 0;
	return a;
}

/* A device number the program can compare with a 32-bit immediate; -1 for "any". */
static int dev_num(const struct oci_i64 *v, int64_t *out)
{
	if (!v->set || v->v < 0) {
		*out = -1;
		return 0;
	}
	if (v->v > INT32_MAX)
		return -ERANGE;
	*out = v->v;
	return 0;
}

struct cgroup_dev_rule *cgroup_dev_rules(const struct cgroup_config *cc, size_t *n,
					 struct husk_err **err)
{
	const struct oci_resources *res = cc->res;
	size_t nres = res ? res->n_devices : 0, k = 0;
	struct cgroup_dev_rule *v = xcalloc(nres + cc->n_devices + ARRAY_SIZE(default_rules) + 1,
					    sizeof(*v));

	for (size_t i = 0; i < nres; i++) {
		const struct oci_device_rule *d = &res->devices[i];

		v[k] = (struct cgroup_dev_rule){ .allow = d->allow, .type = d->type,
						 .access = parse_access(d->access) };
		if (dev_num(&d->major, &v[k].major) < 0 || dev_num(&d->minor, &v[k].minor) < 0) {
			free(v);
			return husk_err_msg(err, ERANGE, "linux.resources.devices[%zu]: device "
					    "number out of range", i), NULL;
		}
		k++;
	}
	for (size_t i = 0; i < cc->n_devices; i++) {
		const struct oci_device *d = &cc->devices[i];

		/* fifos ('p') are not devices to the cgroup; 'u' is a char device unbuffered */
		if (d->type != 'c' && d->type != 'u' && d->type != 'b')
			continue;
		if (d->major < 0 || d->major > INT32_MAX || d->minor < 0 || d->minor > INT32_MAX) {
			free(v);
			return husk_err_msg(err, ERANGE, "linux.devices[%zu]: device number out of "
					    "range", i), NULL;
		}
		v[k++] = (struct cgroup_dev_rule){ true, d->type == 'b' ? 'b' : 'c', d->major,
						   d->minor, ACC_ALL };
	}
	memcpy(v + k, default_rules, sizeof(default_rules));
	*n = k + ARRAY_SIZE(default_rules);
	return v;
}

static bool rule_matches(const struct cgroup_dev_rule *r, char type, uint32_t major,
			 uint32_t minor, unsigned access)
{
	if (r->type != 'a' && r->type != type)
		return false;
	if (r->major >= 0 && (uint32_t)r->major != major)
		return false;
	if (r->minor >= 0 && (uint32_t)r->minor != minor)
		return false;
	/* allow: grants everything asked for; deny: refuses any part of it */
	return r->allow ? (access & ~r->access) == 0 : (access & r->access) != 0;
}

bool cgroup_dev_allowed(const struct cgroup_dev_rule *rules, size_t n, char type, uint32_t major,
			uint32_t minor, unsigned access)
{
	for (size_t i = n; i-- > 0;)
		if (rule_matches(&rules[i], type, major, minor, access))
			return rules[i].allow;
	return false;
}

/* ---- the program ---- */

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define MOV32_REG(dst, src) INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define ALU32_IMM(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JMP_IMM(op, dst, imm, off) INSN(BPF_JMP | (op) | BPF_K, dst, 0, off, imm)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers once the context is loaded: r2 access, r3 type, r4 major, r5 minor; r1 scratch. */
enum { R0, R1, R2, R3, R4, R5 };

/* The checks of one rule: each failing check jumps to the end of the block (the next rule). */
static size_t rule_block(const struct cgroup_dev_rule *r, struct bpf_insn *out)
{
	struct bpf_insn b[12];
	size_t n = 0, jumps[8], nj = 0;

	if (r->type != 'a')
		jumps[nj++] = n, b[n++] = JMP_IMM(BPF_JNE, R3, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK
									: BPF_DEVCG_DEV_CHAR, 0);
	if (r->major >= 0)
		jumps[nj++] = n, b[n++] = JMP_IMM(BPF_JNE, R4, (int32_t)r->major, 0);
	if (r->minor >= 0)
		jumps[nj++] = n, b[n++] = JMP_IMM(BPF_JNE, R5, (int32_t)r->minor, 0);
	if (r->allow && (r->access & ACC_ALL) != ACC_ALL) {
		b[n++] = MOV32_REG(R1, R2);
		b[n++] = ALU32_IMM(BPF_AND, R1, (int32_t)(~r->access & ACC_ALL));
		jumps[nj++] = n, b[n++] = JMP_IMM(BPF_JNE, R1, 0, 0);
	} else if (!r->allow && (r->access & ACC_ALL) != ACC_ALL) {
		b[n++] = MOV32_REG(R1, R2);
		b[n++] = ALU32_IMM(BPF_AND, R1, (int32_t)r->access);
		jumps[nj++] = n, b[n++] = JMP_IMM(BPF_JEQ, R1, 0, 0);
	}
	b[n++] = MOV64_IMM(R0, r->allow ? 1 : 0);
	b[n++] = EXIT();
	for (size_t j = 0; j < nj; j++)
		b[jumps[j]].off = (int16_t)(n - jumps[j] - 1);
	memcpy(out, b, n * sizeof(*b));
	return n;
}

/* A rule that matches every request ends the program: what follows would be unreachable,
 * which the verifier refuses. */
static bool matches_all(const struct cgroup_dev_rule *r)
{
	if (r->type != 'a' || r->major >= 0 || r->minor >= 0)
		return false;
	return r->allow ? (r->access & ACC_ALL) == ACC_ALL : (r->access & ACC_ALL) != 0 &&
		(r->access & ACC_ALL) == ACC_ALL;
}

int cgroup_dev_program(const struct cgroup_dev_rule *rules, size_t n, struct bpf_insn **insns,
		       size_t *n_insns, struct husk_err **err)
{
	struct bpf_insn *p = xcalloc(6 + n * 12 + 2, sizeof(*p));
	size_t k = 0;
	bool ended = false;

	/* bpf_cgroup_dev_ctx: access_type = access << 16 | type, major, minor */
	p[k++] = LDX_W(R2, R1, 0);
	p[k++] = MOV32_REG(R3, R2);
	p[k++] = ALU32_IMM(BPF_AND, R3, 0xffff);
	p[k++] = ALU32_IMM(BPF_RSH, R2, 16);
	p[k++] = LDX_W(R4, R1, 4);
	p[k++] = LDX_W(R5, R1, 8);
	/* The last matching rule decides: test them from the end. */
	for (size_t i = n; i-- > 0 && !ended;) {
		if ((rules[i].access & ACC_ALL) == 0)
			continue;	/* a rule about no access never matches */
		k += rule_block(&rules[i], p + k);
		ended = matches_all(&rules[i]);
	}
	if (!ended) {
		p[k++] = MOV64_IMM(R0, 0);
		p[k++] = EXIT();
	}
	if (k > BPF_MAXINSNS) {
		free(p);
		return husk_err_msg(err, E2BIG, "linux.resources.devices: too many rules (%zu)", n);
	}
	*insns = p;
	*n_insns = k;
	return 0;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_len)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t)"Apache-2.0";
	if (log) {
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)log_len;
		a.log_level = 1;
	}
	return (int)sys_bpf(BPF_PROG_LOAD, &a);
}

int cgroup_dev_attach(int dfd, const struct bpf_insn *insns, size_t n, struct husk_err **err)
{
	cleanup_close int prog = prog_load(insns, n, NULL, 0);
	union bpf_attr a;

	if (prog < 0) {
		int e = errno;
		cleanup_free char *log = xcalloc(1, 65536);

		/* Again with the verifier's log, for the error message. */
		prog = prog_load(insns, n, log, 65536);
		if (prog < 0) {
			char *nl = strrchr(log, '\n');

			while (nl && nl > log && nl[1] == '\0' && (*nl = '\0', 1))
				nl = strrchr(log, '\n');
			return husk_err_set(err, e, "load the device filter (BPF_PROG_TYPE_CGROUP_DEVICE)"
					    "%s%s", *log ? ": " : "", nl ? nl + 1 : log);
		}
	}
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dfd;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	/* Multi: programs of the parents (systemd's, say) still apply on top of ours. */
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
		return husk_err_set(err, errno, "attach the device filter");
	return 0;	/* the attachment keeps the program; our fd goes */
}

int cgroup_apply_devices(struct cgroup *cg, const struct cgroup_config *cc, struct husk_err **err)
{
	cleanup_free struct cgroup_dev_rule *rules = NULL;
	cleanup_free struct bpf_insn *insns = NULL;
	size_t n, ni;
	int r;

	/* No rules in the config: the container gets the host's device access (no filter). */
	if (!cc->res || !cc->res->n_devices)
		return 0;
	if (!(rules = cgroup_dev_rules(cc, &n, err)))
		return -(*err)->code;
	if ((r = cgroup_dev_program(rules, n, &insns, &ni, err)) < 0)
		return r;
	if ((r = cgroup_dev_attach(cg->dfd, insns, ni, err)) < 0)
		return husk_err_wrap(err, "linux.resources.devices: cgroup `%s`", cg->path);
	log_debug("cgroups: device filter of %zu rules, %zu instructions on %s", n, ni, cg->path);
	return 0;
}
