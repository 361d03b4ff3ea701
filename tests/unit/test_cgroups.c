/* cgroups/: the v1 -> v2 conversions, what resources need, the appliers on a fake cgroupfs,
 * path validation, the device rules and the BPF program they become (run by a tiny
 * interpreter of the instructions the generator emits), freezer, pids and stats. */
#include <linux/bpf.h>
#include <sys/stat.h>

#include "cgroups/internal.h"
#include "common/cleanup.h"
#include "common/util.h"
#include "oci/json.h"
#include "tap.h"

/* ---- helpers ---- */

static void put(struct tmpdir *t, const char *name, const char *val)
{
	int fd = openat(t->dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		abort();
	close(fd);
}

/* A fake cgroup directory holding the files of every controller. */
static const char *const fake_files[] = {
	"cgroup.controllers", "cgroup.procs", "cgroup.freeze", "cgroup.events", "cpu.weight",
	"cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "memory.max",
	"memory.low", "memory.swap.max", "memory.high", "io.weight", "io.max", "pids.max",
	"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max", "rdma.max",
};

static struct cgroup fake_cgroup(struct tmpdir *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(fake_files); i++)
		put(t, fake_files[i], "");
	put(t, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	return (struct cgroup){ .dfd = t->dfd, .path = t->path,
				.ctrls = cg_parse_ctrls("cpuset cpu io memory hugetlb pids rdma") };
}

static struct oci_resources *res_json(const char *json)
{
	struct oci_resources *r = NULL;
	cleanup_err struct husk_err *err = NULL;

	if (oci_resources_parse(json, strlen(json), &r, &err) < 0) {
		printf("# parse %s: %s\n", json, err->msg);
		abort();
	}
	return r;
}

static void res_freep(struct oci_resources **r)
{
	oci_resources_free(*r);
}
#define cleanup_res __attribute__((cleanup(res_freep)))

/* ---- conversions ---- */

static int test_shares(void)
{
	static const struct { uint64_t in, out; } t[] = {
		{ 0, 0 }, { 1, 1 }, { 2, 1 }, { 1024, 39 }, { 100000, 3815 }, { 262144, 10000 },
		{ 1000000, 10000 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK(cgroup_conv_shares(t[i].in) == t[i].out);
	return 0;
}

static int test_blkio_weight(void)
{
	static const struct { uint64_t in, out; } t[] = {
		{ 0, 0 }, { 10, 1 }, { 100, 910 }, { 500, 4950 }, { 1000, 10000 }, { 5, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK(cgroup_conv_blkio_weight(t[i].in) == t[i].out);
	return 0;
}

static int test_cpu_max(void)
{
	static const struct { struct oci_i64 quota; struct oci_u64 period; const char *out; } t[] = {
		{ { true, 50000 }, { true, 100000 }, "50000 100000" },
		{ { true, -1 }, { true, 100000 }, "max 100000" },
		{ { false, 0 }, { true, 100000 }, "max 100000" },
		{ { true, 20000 }, { false, 0 }, "20000" },
		{ { true, -1 }, { false, 0 }, "max" },
		{ { false, 0 }, { false, 0 }, NULL },
		{ { true, 0 }, { true, 0 }, NULL },	/* docker's "unset" */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct oci_cpu c = { .quota = t[i].quota, .period = t[i].period };
		char buf[48] = "";

		CHECK(cgroup_conv_cpu_max(&c, buf, sizeof(buf)) == (t[i].out != NULL));
		if (t[i].out)
			CHECK_STREQ(buf, t[i].out);
	}
	return 0;
}

static int test_swap(void)
{
	static const struct { int64_t limit, swap; int r; int64_t out; } t[] = {
		{ 1 << 30, 2LL << 30, 1, 1 << 30 },	/* swap is memory+swap */
		{ 1 << 30, 1 << 30, 1, 0 },		/* equal: no swap */
		{ -1, 0, 1, -1 },			/* unlimited memory: unlimited swap */
		{ 1 << 30, -1, 1, -1 },
		{ 0, 0, 0, 0 },
		{ 1 << 30, 0, 0, 0 },
		{ 0, 1 << 30, -EINVAL, 0 },		/* swap without a memory limit */
		{ 2LL << 30, 1 << 30, -EINVAL, 0 },	/* below the memory limit */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		cleanup_err struct husk_err *err = NULL;
		int64_t out = 12345;

		CHECK(cgroup_conv_swap(t[i].limit, t[i].swap, &out, &err) == t[i].r);
		if (t[i].r == 1)
			CHECK(out == t[i].out);
		if (t[i].r < 0)
			CHECK_CONTAINS(err->msg, "linux.resources.memory.swap: ");
	}
	return 0;
}

static int test_io_max_lines(void)
{
	cleanup_res struct oci_resources *r = res_json(
		"{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": "
		"1048576}], \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 100}],"
		" \"throttleWriteBpsDevice\": [{\"major\": 8, \"minor\": 16, \"rate\": 0}]}}");
	cleanup_strv char **lines = cgroup_io_max_lines(r->blkio);

	CHECK(lines && strv_len(lines) == 2);
	CHECK_STREQ(lines[0], "8:0 rbps=1048576 wiops=100");
	CHECK_STREQ(lines[1], "8:16 wbps=max");
	return 0;
}

static int test_hugetlb_file(void)
{
	char buf[64];

	CHECK(cgroup_hugetlb_file("2MB", "max", buf, sizeof(buf)));
	CHECK_STREQ(buf, "hugetlb.2MB.max");
	CHECK(cgroup_hugetlb_file("1GB", "rsvd.max", buf, sizeof(buf)));
	CHECK_STREQ(buf, "hugetlb.1GB.rsvd.max");
	CHECK(cgroup_hugetlb_file("64KB", "max", buf, sizeof(buf)));
	CHECK(!cgroup_hugetlb_file("2mb", "max", buf, sizeof(buf)));
	CHECK(!cgroup_hugetlb_file("MB", "max", buf, sizeof(buf)));
	CHECK(!cgroup_hugetlb_file("02MB", "max", buf, sizeof(buf)));
	CHECK(!cgroup_hugetlb_file("2MB/../x", "max", buf, sizeof(buf)));
	return 0;
}

static int test_rdma_line(void)
{
	struct oci_rdma a = { .device = "mlx5_1", .hca_handles = { true, 3 },
			      .hca_objects = { true, 10000 } };
	struct oci_rdma b = { .device = "mlx4_0", .hca_objects = { true, 7 } };
	struct oci_rdma c = { .device = "x" };
	char buf[128];

	CHECK(cgroup_rdma_line(&a, buf, sizeof(buf)));
	CHECK_STREQ(buf, "mlx5_1 hca_handle=3 hca_object=10000");
	CHECK(cgroup_rdma_line(&b, buf, sizeof(buf)));
	CHECK_STREQ(buf, "mlx4_0 hca_object=7");
	CHECK(!cgroup_rdma_line(&c, buf, sizeof(buf)));
	return 0;
}

static int test_unified_keys(void)
{
	static const char *const bad[] = { "", ".", "..", "../memory.max", "a/b", ".hidden",
					   "memory.max/", "/etc/passwd" };

	CHECK(cgroup_unified_key_ok("memory.high"));
	CHECK(cgroup_unified_key_ok("cgroup.freeze"));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(!cgroup_unified_key_ok(bad[i]));
	CHECK(cgroup_unified_ctrl("memory.high") == CGROUP_CTRL_MEMORY);
	CHECK(cgroup_unified_ctrl("cpuset.cpus") == CGROUP_CTRL_CPUSET);
	CHECK(cgroup_unified_ctrl("cpu.weight") == CGROUP_CTRL_CPU);
	CHECK(cgroup_unified_ctrl("io.bfq.weight") == CGROUP_CTRL_IO);
	CHECK(cgroup_unified_ctrl("cgroup.freeze") == -1);
	CHECK(cgroup_unified_ctrl("nokey") == -1);
	return 0;
}

/* ---- what resources need ---- */

static int test_needs_docker_zero_values(void)
{
	cleanup_res struct oci_resources *r = res_json(
		"{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}], \"memory\": {\"limit\": 0, "
		"\"reservation\": 0, \"swap\": 0, \"kernel\": 0, \"kernelTCP\": 0, \"swappiness\": null,"
		" \"disableOOMKiller\": false}, \"cpu\": {\"shares\": 0, \"quota\": 0, \"period\": 0, "
		"\"realtimeRuntime\": 0, \"realtimePeriod\": 0, \"cpus\": \"\", \"mems\": \"\"}, "
		"\"pids\": {\"limit\": 0}, \"blockIO\": {\"weight\": 0}}");
	const char *field[CGROUP_CTRLS] = { 0 };
	cleanup_err struct husk_err *err = NULL;
	unsigned needs = 1;

	CHECK(cgroup_resources_needs(r, &needs, field, &err) == 0);
	CHECK(needs == 0);
	CHECK(cgroup_resources_needs(NULL, &needs, field, &err) == 0 && needs == 0);
	return 0;
}

static int test_needs_limits(void)
{
	cleanup_res struct oci_resources *r = res_json(
		"{\"memory\": {\"limit\": 1048576}, \"cpu\": {\"shares\": 512, \"cpus\": \"0\"}, "
		"\"pids\": {\"limit\": 10}, \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 0}],"
		" \"unified\": {\"io.weight\": \"50\", \"cgroup.freeze\": \"0\"}}");
	const char *field[CGROUP_CTRLS] = { 0 };
	cleanup_err struct husk_err *err = NULL;
	unsigned needs = 0;

	CHECK(cgroup_resources_needs(r, &needs, field, &err) == 0);
	CHECK(needs == (CGROUP_BIT(CGROUP_CTRL_MEMORY) | CGROUP_BIT(CGROUP_CTRL_CPU) |
			CGROUP_BIT(CGROUP_CTRL_CPUSET) | CGROUP_BIT(CGROUP_CTRL_PIDS) |
			CGROUP_BIT(CGROUP_CTRL_HUGETLB) | CGROUP_BIT(CGROUP_CTRL_IO)));
	CHECK_STREQ(field[CGROUP_CTRL_MEMORY], "linux.resources.memory.limit");
	CHECK_STREQ(field[CGROUP_CTRL_CPU], "linux.resources.cpu.shares");
	CHECK_STREQ(field[CGROUP_CTRL_PIDS], "linux.resources.pids.limit");
	CHECK_STREQ(field[CGROUP_CTRL_IO], "linux.resources.unified");
	return 0;
}

static int test_needs_refused(void)
{
	static const struct { const char *json, *msg; } t[] = {
		{ "{\"memory\": {\"disableOOMKiller\": true}}",
		  "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer" },
		{ "{\"cpu\": {\"realtimeRuntime\": 950000}}",
		  "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime CPU limits" },
		{ "{\"cpu\": {\"realtimePeriod\": 1000000}}", "linux.resources.cpu.realtimePeriod: " },
		{ "{\"network\": {\"classID\": 1048577}}", "linux.resources.network: net_cls and net_prio" },
		{ "{\"unified\": {\".hidden\": \"1\"}}", "linux.resources.unified[\".hidden\"]: not a file" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		cleanup_res struct oci_resources *r = res_json(t[i].json);
		const char *field[CGROUP_CTRLS] = { 0 };
		cleanup_err struct husk_err *err = NULL;
		unsigned needs;

		CHECK(cgroup_resources_needs(r, &needs, field, &err) < 0);
		CHECK_CONTAINS(err->msg, t[i].msg);
	}
	return 0;
}

/* ---- appliers on a fake cgroup ---- */

static int test_apply_all(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup cg = fake_cgroup(t);
	cleanup_err struct husk_err *err = NULL;
	cleanup_res struct oci_resources *r = res_json(
		"{\"memory\": {\"limit\": 536870912, \"reservation\": 268435456, \"swap\": 1073741824},"
		" \"cpu\": {\"shares\": 1024, \"quota\": 50000, \"period\": 100000, \"burst\": 1000, "
		"\"idle\": 0, \"cpus\": \"0-1\", \"mems\": \"0\"}, \"pids\": {\"limit\": 42}, "
		"\"blockIO\": {\"weight\": 500, \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": "
		"0, \"rate\": 1048576}]}, \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": "
		"4194304}], \"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}, "
		"\"unified\": {\"memory.high\": \"400000000\"}}");

	CHECK(cgroup_apply(&cg, r, &err) == 0);
	CHECK_STREQ(tmpdir_read(t, "memory.max"), "536870912");
	CHECK_STREQ(tmpdir_read(t, "memory.low"), "268435456");
	CHECK_STREQ(tmpdir_read(t, "memory.swap.max"), "536870912");
	CHECK_STREQ(tmpdir_read(t, "cpu.weight"), "39");
	CHECK_STREQ(tmpdir_read(t, "cpu.max"), "50000 100000");
	CHECK_STREQ(tmpdir_read(t, "cpu.max.burst"), "1000");
	CHECK_STREQ(tmpdir_read(t, "cpu.idle"), "0");
	CHECK_STREQ(tmpdir_read(t, "cpuset.cpus"), "0-1");
	CHECK_STREQ(tmpdir_read(t, "cpuset.mems"), "0");
	CHECK_STREQ(tmpdir_read(t, "pids.max"), "42");
	CHECK_STREQ(tmpdir_read(t, "io.weight"), "default 4950");
	CHECK_STREQ(tmpdir_read(t, "io.max"), "8:0 rbps=1048576");
	CHECK_STREQ(tmpdir_read(t, "hugetlb.2MB.max"), "4194304");
	CHECK_STREQ(tmpdir_read(t, "hugetlb.2MB.rsvd.max"), "4194304");
	CHECK_STREQ(tmpdir_read(t, "rdma.max"), "mlx5_1 hca_handle=3");
	CHECK_STREQ(tmpdir_read(t, "memory.high"), "400000000");
	return 0;
}

static int test_apply_unlimited(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup cg = fake_cgroup(t);
	cleanup_err struct husk_err *err = NULL;
	cleanup_res struct oci_resources *r = res_json(
		"{\"memory\": {\"limit\": -1}, \"cpu\": {\"quota\": -1, \"period\": 100000}, "
		"\"pids\": {\"limit\": 0}}");

	CHECK(cgroup_apply(&cg, r, &err) == 0);
	CHECK_STREQ(tmpdir_read(t, "memory.max"), "max");
	CHECK_STREQ(tmpdir_read(t, "memory.swap.max"), "max");
	CHECK_STREQ(tmpdir_read(t, "cpu.max"), "max 100000");
	CHECK_STREQ(tmpdir_read(t, "pids.max"), "max");
	CHECK_STREQ(tmpdir_read(t, "cpu.weight"), "");	/* untouched */
	return 0;
}

static int test_apply_bfq_weight(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup cg = fake_cgroup(t);
	cleanup_err struct husk_err *err = NULL;
	cleanup_res struct oci_resources *r = res_json(
		"{\"blockIO\": {\"weight\": 300, \"weightDevice\": [{\"major\": 8, \"minor\": 0, "
		"\"weight\": 700}]}}");

	put(t, "io.bfq.weight", "");
	CHECK(cgroup_apply(&cg, r, &err) == 0);
	CHECK_STREQ(tmpdir_read(t, "io.bfq.weight"), "8:0 700");	/* BFQ: v1 range as is */
	return 0;
}

static int test_apply_unified_missing_file(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup cg = fake_cgroup(t);
	cleanup_err struct husk_err *err = NULL;
	cleanup_res struct oci_resources *r = res_json("{\"unified\": {\"memory.nope\": \"1\"}}");

	CHECK(cgroup_apply(&cg, r, &err) == -ENOENT);
	CHECK_CONTAINS(err->msg, "linux.resources.unified[\"memory.nope\"]: no such file");
	return 0;
}

static int test_apply_hugetlb_unknown_size(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup cg = fake_cgroup(t);
	cleanup_err struct husk_err *err = NULL;
	cleanup_res struct oci_resources *r = res_json(
		"{\"hugepageLimits\": [{\"pageSize\": \"16GB\", \"limit\": 1}]}");

	CHECK(cgroup_apply(&cg, r, &err) < 0);
	CHECK_CONTAINS(err->msg, "linux.resources.hugepageLimits[0].pageSize: this kernel has no "
		       "16GB huge pages");
	return 0;
}

/* ---- paths and creation on a fake root ---- */

static int test_path_resolve(void)
{
	static const struct { const char *in, *out; } ok[] = {
		{ NULL, "husk/ct1" }, { "", "husk/ct1" }, { "/a/b", "a/b" }, { "a//b/", "husk/a/b" },
		{ "/machine.slice/x:y", "machine.slice/x:y" }, { "//x", "x" },
	};
	static const char *const bad[] = { "/", "///", "/a/../b", "..", "a/./b", "/../../etc",
					   "/cgroup.procs", "/a/cgroup.kill" };

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		cleanup_err struct husk_err *err = NULL;
		cleanup_free char *out = NULL;

		CHECK(cgroup_path_resolve(ok[i].in, "ct1", &out, &err) == 0);
		CHECK_STREQ(out, ok[i].out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_err struct husk_err *err = NULL;
		cleanup_free char *out = NULL;

		CHECK(cgroup_path_resolve(bad[i], "ct1", &out, &err) == -EINVAL);
		CHECK_CONTAINS(err->msg, "linux.cgroupsPath: ");
		CHECK(!out);
	}
	return 0;
}

static int test_create_refused_on_hybrid(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup_root root = { .path = t->path, .dfd = t->dfd, .hybrid = true };
	cleanup_res struct oci_resources *r = res_json("{\"memory\": {\"limit\": 1048576}}");
	struct cgroup_config cc = { .id = "ct1", .res = r };
	cleanup_err struct husk_err *err = NULL;
	struct cgroup *cg = NULL;

	put(t, "cgroup.controllers", "hugetlb\n");
	CHECK(cgroup_create_in(&root, &cc, &cg, &err) == -EOPNOTSUPP);
	CHECK_STREQ(err->msg, "linux.resources.memory.limit: the memory controller is not "
		    "available in the cgroup v2 hierarchy (this host has hybrid cgroups)");
	CHECK(!cg);
	CHECK(faccessat(t->dfd, "husk", F_OK, 0) < 0);	/* nothing was created */
	return 0;
}

static int test_create_no_limits_then_remove(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup_root root = { .path = t->path, .dfd = t->dfd, .hybrid = true };
	cleanup_res struct oci_resources *r = res_json(
		"{\"memory\": {\"limit\": 0}, \"pids\": {\"limit\": 0}}");
	struct cgroup_config cc = { .id = "ct1", .res = r };
	cleanup_err struct husk_err *err = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;
	cleanup_free char *want = xasprintf("%s/husk/ct1", t->path);
	struct stat st;

	put(t, "cgroup.controllers", "hugetlb\n");
	CHECK(cgroup_create_in(&root, &cc, &cg, &err) == 0);
	CHECK_STREQ(cg->path, want);
	CHECK(cg->created && cg->dfd >= 0);
	CHECK(fstat(cg->dfd, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(cgroup_remove(cg->path, &err) == 0);
	CHECK(faccessat(t->dfd, "husk/ct1", F_OK, 0) < 0);
	CHECK(faccessat(t->dfd, "husk", F_OK, 0) == 0);	/* the shared parent stays */
	CHECK(cgroup_remove(cg->path, &err) == 0);	/* already gone: fine */
	return 0;
}

static int test_create_leaf_lacks_controller(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct cgroup_root root = { .path = t->path, .dfd = t->dfd };
	cleanup_res struct oci_resources *r = res_json("{\"pids\": {\"limit\": 5}}");
	struct cgroup_config cc = { .cgroups_path = "/a/b", .id = "ct1", .res = r };
	cleanup_err struct husk_err *err = NULL;
	struct cgroup *cg = NULL;

	/* The root has pids, but the kernel did not give it to the new cgroup. */
	put(t, "cgroup.controllers", "memory pids\n");
	CHECK(cgroup_create_in(&root, &cc, &cg, &err) == -EOPNOTSUPP);
	CHECK_STREQ(err->msg, "linux.resources.pids.limit: the pids controller is not available "
		    "in the cgroup v2 hierarchy");
	CHECK(faccessat(t->dfd, "a/b", F_OK, 0) < 0);	/* the leaf we made is gone */
	return 0;
}

static int test_create_v1_only_host(void)
{
	struct cgroup_root root = { .dfd = -1 };
	cleanup_res struct oci_resources *r = res_json("{\"pids\": {\"limit\": 5}}");
	struct cgroup_config cc = { .id = "ct1", .res = r }, none = { .id = "ct1" };
	cleanup_err struct husk_err *err = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;

	CHECK(cgroup_create_in(&root, &cc, &cg, &err) == -EOPNOTSUPP);
	CHECK_CONTAINS(err->msg, "linux.resources.pids.limit: this host has no cgroup v2");
	CHECK(cgroup_create_in(&root, &none, &cg, &err) == 0);
	CHECK(cg->dfd == -1 && !cg->path);
	return 0;
}

/* ---- devices ---- */

/* Runs exactly the instructions cgroup_dev_program emits. */
static int bpf_run(const struct bpf_insn *p, size_t n, uint32_t access_type, uint32_t major,
		   uint32_t minor)
{
	uint64_t r[11] = { 0 };
	uint32_t ctx[3] = { access_type, major, minor };

	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		bool jump = false;

		switch (i->code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			if (i->src_reg != 1 || i->off % 4 || i->off < 0 || i->off > 8)
				return -1;
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_MOV | BPF_X: r[i->dst_reg] = (uint32_t)r[i->src_reg]; break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K: r[i->dst_reg] = (uint64_t)(int64_t)i->imm; break;
		case BPF_JMP | BPF_JNE | BPF_K: jump = r[i->dst_reg] != (uint64_t)(int64_t)i->imm; break;
		case BPF_JMP | BPF_JEQ | BPF_K: jump = r[i->dst_reg] == (uint64_t)(int64_t)i->imm; break;
		case BPF_JMP | BPF_EXIT: return (int)r[0];
		default: return -1;
		}
		if (jump)
			pc += (size_t)i->off;
	}
	return -2;	/* fell off the end: the verifier would refuse it */
}

static const char *const rule_sets[] = {
	/* the `spec` default: deny everything, runc's defaults allowed */
	"{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]}",
	/* privileged */
	"{\"devices\": [{\"allow\": true, \"access\": \"rwm\"}]}",
	"{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"b\", "
	"\"major\": 8, \"access\": \"r\"}, {\"allow\": true, \"type\": \"c\", \"major\": 10, "
	"\"minor\": 229, \"access\": \"rw\"}]}",
	/* deny a default device partly: denying w must refuse rw but allow r */
	"{\"devices\": [{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"c\", "
	"\"major\": 5, \"minor\": 1, \"access\": \"w\"}, {\"allow\": false, \"type\": \"b\", "
	"\"access\": \"rwm\"}]}",
	"{\"devices\": [{\"allow\": false, \"type\": \"a\", \"major\": 1, \"access\": \"r\"}]}",
};

static int check_rule_set(const char *json)
{
	cleanup_res struct oci_resources *r = res_json(json);
	struct oci_device extra = { .path = "/dev/fuse", .type = 'c', .major = 10, .minor = 229 };
	struct cgroup_config cc = { .id = "x", .res = r, .devices = &extra, .n_devices = 1 };
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct cgroup_dev_rule *rules = NULL;
	cleanup_free struct bpf_insn *p = NULL;
	static const uint32_t majors[] = { 1, 5, 8, 10, 136, 254 }, minors[] = { 0, 1, 2, 3, 5, 229 };
	size_t n, np;

	CHECK((rules = cgroup_dev_rules(&cc, &n, &err)) != NULL);
	CHECK(cgroup_dev_program(rules, n, &p, &np, &err) == 0);
	CHECK(p[np - 1].code == (BPF_JMP | BPF_EXIT));
	for (int type = 1; type <= 2; type++)
		for (size_t a = 0; a < ARRAY_SIZE(majors); a++)
			for (size_t b = 0; b < ARRAY_SIZE(minors); b++)
				for (unsigned acc = 1; acc <= 7; acc++) {
					bool want = cgroup_dev_allowed(rules, n, type == 1 ? 'b' : 'c',
								       majors[a], minors[b], acc);
					int got = bpf_run(p, np, acc << 16 | (uint32_t)type,
							  majors[a], minors[b]);

					if (got != (int)want)
						printf("# %s: type %d %u:%u acc %u: program %d, "
						       "rules %d\n", json, type, majors[a], minors[b],
						       acc, got, want);
					CHECK(got == (int)want);
				}
	return 0;
}

static int test_dev_program_matches_rules(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(rule_sets); i++)
		if (check_rule_set(rule_sets[i]) != 0)
			return 1;
	return 0;
}

static int test_dev_semantics(void)
{
	cleanup_res struct oci_resources *r = res_json(rule_sets[0]);
	struct oci_device extra = { .path = "/dev/fuse", .type = 'c', .major = 10, .minor = 229 };
	struct cgroup_config cc = { .id = "x", .res = r, .devices = &extra, .n_devices = 1 };
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct cgroup_dev_rule *v = NULL;
	cleanup_free struct cgroup_dev_rule *priv = NULL;
	cleanup_res struct oci_resources *rp = res_json(rule_sets[3]);
	struct cgroup_config cp = { .id = "x", .res = rp };
	size_t n, np;

	CHECK((v = cgroup_dev_rules(&cc, &n, &err)) != NULL);
	CHECK(cgroup_dev_allowed(v, n, 'c', 1, 3, CGROUP_DEV_R | CGROUP_DEV_W));	/* null */
	CHECK(cgroup_dev_allowed(v, n, 'c', 136, 4, CGROUP_DEV_R | CGROUP_DEV_W));	/* pts */
	CHECK(cgroup_dev_allowed(v, n, 'c', 10, 229, CGROUP_DEV_R));	/* linux.devices */
	CHECK(cgroup_dev_allowed(v, n, 'b', 8, 0, CGROUP_DEV_M));	/* mknod is fine */
	CHECK(!cgroup_dev_allowed(v, n, 'b', 8, 0, CGROUP_DEV_R));	/* opening is not */
	CHECK(!cgroup_dev_allowed(v, n, 'c', 1, 11, CGROUP_DEV_R));	/* kmsg */
	CHECK((priv = cgroup_dev_rules(&cp, &np, &err)) != NULL);
	CHECK(cgroup_dev_allowed(priv, np, 'c', 5, 1, CGROUP_DEV_R));
	CHECK(!cgroup_dev_allowed(priv, np, 'c', 5, 1, CGROUP_DEV_R | CGROUP_DEV_W));
	CHECK(!cgroup_dev_allowed(priv, np, 'b', 8, 0, CGROUP_DEV_R));
	CHECK(cgroup_dev_allowed(priv, np, 'b', 8, 0, CGROUP_DEV_M));	/* runc's default */
	return 0;
}

static int test_dev_program_shape(void)
{
	struct cgroup_dev_rule allow_all = { true, 'a', -1, -1, 7 };
	struct cgroup_dev_rule two[] = { { false, 'a', -1, -1, 7 }, { true, 'c', 1, 3, 6 } };
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct bpf_insn *p = NULL, *q = NULL;
	size_t n, m;

	/* allow-all: the context loads, then r0 = 1; exit. No unreachable default. */
	CHECK(cgroup_dev_program(&allow_all, 1, &p, &n, &err) == 0);
	CHECK(n == 8);
	CHECK(p[0].code == (BPF_LDX | BPF_W | BPF_MEM) && p[0].dst_reg == 2 && p[0].off == 0);
	CHECK(p[6].code == (BPF_ALU64 | BPF_MOV | BPF_K) && p[6].imm == 1);
	CHECK(p[7].code == (BPF_JMP | BPF_EXIT));
	/* c 1:3 rw after a deny-all: type, major, minor, access checks, then the deny-all ends it */
	CHECK(cgroup_dev_program(two, 2, &q, &m, &err) == 0);
	CHECK(m == 6 + 8 + 2);
	CHECK(q[6].code == (BPF_JMP | BPF_JNE | BPF_K) && q[6].dst_reg == 3 &&
	      q[6].imm == BPF_DEVCG_DEV_CHAR && q[6].off == 7);
	CHECK(q[7].imm == 1 && q[7].off == 6 && q[8].imm == 3 && q[8].off == 5);
	CHECK(q[10].imm == CGROUP_DEV_M && q[11].code == (BPF_JMP | BPF_JNE | BPF_K));
	CHECK(q[14].imm == 0 && q[15].code == (BPF_JMP | BPF_EXIT));
	return 0;
}

/* The verifier of this kernel takes what we generate (needs root; attach to a non-cgroup
 * fails after the load). */
static int test_dev_program_loads(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();

	if (geteuid() != 0)
		return 77;
	for (size_t i = 0; i < ARRAY_SIZE(rule_sets); i++) {
		cleanup_res struct oci_resources *r = res_json(rule_sets[i]);
		struct cgroup_config cc = { .id = "x", .res = r };
		cleanup_err struct husk_err *err = NULL;
		cleanup_free struct cgroup_dev_rule *rules = NULL;
		cleanup_free struct bpf_insn *p = NULL;
		size_t n, np;

		CHECK((rules = cgroup_dev_rules(&cc, &n, &err)) != NULL);
		CHECK(cgroup_dev_program(rules, n, &p, &np, &err) == 0);
		if (cgroup_dev_attach(t->dfd, p, np, &err) == 0)
			return 1;
		if (strstr(err->msg, "load the device filter") && err->code == EPERM)
			return 77;	/* bpf() not allowed here */
		CHECK_CONTAINS(err->msg, "attach the device filter");
	}
	return 0;
}

/* ---- freezer, pids, stats ---- */

static int test_freeze_fake(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;

	put(t, "cgroup.freeze", "0\n");
	put(t, "cgroup.events", "populated 1\nfrozen 1\n");
	CHECK(!cgroup_is_frozen(t->path));
	CHECK(cgroup_freeze(t->path, true, &err) == 0);
	CHECK_STREQ(tmpdir_read(t, "cgroup.freeze"), "1");
	CHECK(cgroup_is_frozen(t->path));
	put(t, "cgroup.events", "populated 1\nfrozen 0\n");
	CHECK(cgroup_freeze(t->path, false, &err) == 0);
	CHECK(!cgroup_is_frozen(t->path));
	CHECK(unlinkat(t->dfd, "cgroup.freeze", 0) == 0);
	CHECK(cgroup_freeze(t->path, true, &err) == -EOPNOTSUPP);
	CHECK_CONTAINS(err->msg, "no cgroup.freeze");
	return 0;
}

static int test_pids_recursive(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free pid_t *pids = NULL;
	size_t n;

	put(t, "cgroup.procs", "12\n5\n");
	CHECK(mkdirat(t->dfd, "sub", 0755) == 0);
	put(t, "sub/cgroup.procs", "7\n");
	CHECK(cgroup_pids(t->path, &pids, &n, &err) == 0);
	CHECK(n == 3 && pids[0] == 5 && pids[1] == 7 && pids[2] == 12);
	return 0;
}

static int test_stats_json(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *out = NULL;
	cleanup_json_doc struct json_doc *doc = NULL;
	const struct json_node *d, *n;
	uint64_t v = 0;

	put(t, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\n"
	    "nr_throttled 3\nthrottled_usec 70\n");
	put(t, "memory.current", "4096\n");
	put(t, "memory.max", "max\n");
	put(t, "memory.stat", "anon 1024\nfile 2048\n");
	put(t, "memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
	put(t, "memory.swap.current", "0\n");
	put(t, "memory.swap.max", "max\n");
	put(t, "pids.current", "3\n");
	put(t, "pids.max", "10\n");
	put(t, "io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
	put(t, "hugetlb.2MB.current", "0\n");
	put(t, "hugetlb.2MB.max", "4194304\n");
	put(t, "hugetlb.2MB.events", "max 0\n");
	CHECK(cgroup_stats_json(t->path, "ct1", &out, &err) == 0);
	CHECK(json_parse(out, strlen(out), &doc, &err) == 0);
	n = json_doc_root(doc);
	CHECK(json_read_u64(n, NULL, "id", 0, &v, &err) < 0);	/* a string */
	d = json_get(n, "data");
	CHECK(d && json_get(d, "cpu") && json_get(d, "memory") && json_get(d, "pids") &&
	      json_get(d, "blkio") && json_get(d, "hugetlb"));
	CHECK(json_read_u64(json_get(json_get(d, "cpu"), "usage"), NULL, "total", UINT64_MAX, &v,
			    &err) == 1 && v == 1500000);
	CHECK(json_read_u64(json_get(json_get(d, "cpu"), "throttling"), NULL, "throttledPeriods",
			    UINT64_MAX, &v, &err) == 1 && v == 3);
	CHECK(json_read_u64(json_get(json_get(d, "memory"), "usage"), NULL, "usage", UINT64_MAX,
			    &v, &err) == 1 && v == 4096);
	CHECK(json_read_u64(json_get(json_get(d, "memory"), "usage"), NULL, "failcnt", UINT64_MAX,
			    &v, &err) == 1 && v == 2);
	CHECK(json_read_u64(json_get(json_get(d, "memory"), "raw"), NULL, "file", UINT64_MAX, &v,
			    &err) == 1 && v == 2048);
	CHECK(json_read_u64(json_get(d, "pids"), NULL, "limit", UINT64_MAX, &v, &err) == 1 &&
	      v == 10);
	CHECK(json_len(json_get(json_get(d, "blkio"), "ioServiceBytesRecursive")) == 2);
	CHECK(json_read_u64(json_get(json_get(d, "hugetlb"), "2MB"), NULL, "max", UINT64_MAX, &v,
			    &err) == 1 && v == 4194304);
	CHECK_CONTAINS(out, "{\"type\":\"stats\",\"id\":\"ct1\",\"data\":{\"cpu\":");
	return 0;
}

static int test_oom_count(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	uint64_t oom, kill;

	put(t, "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
	CHECK(cgroup_oom_count(t->path, &oom, &kill) == 0);
	CHECK(oom == 2 && kill == 1);
	return 0;
}

static const struct test tests[] = {
	{ "shares -> cpu.weight as runc and crun convert", test_shares },
	{ "blkio weight -> io.weight", test_blkio_weight },
	{ "quota/period -> cpu.max", test_cpu_max },
	{ "swap: memory+swap -> memory.swap.max", test_swap },
	{ "throttle lists -> io.max lines", test_io_max_lines },
	{ "hugetlb page size -> file name", test_hugetlb_file },
	{ "rdma -> rdma.max line", test_rdma_line },
	{ "unified keys: file names only", test_unified_keys },
	{ "needs: docker's zero values are not limits", test_needs_docker_zero_values },
	{ "needs: each limit names its controller and field", test_needs_limits },
	{ "needs: what v2 cannot express is refused", test_needs_refused },
	{ "apply: every resource lands in its file", test_apply_all },
	{ "apply: -1 and 0 mean max", test_apply_unlimited },
	{ "apply: BFQ takes the v1 weight", test_apply_bfq_weight },
	{ "apply: unified key without a file", test_apply_unified_missing_file },
	{ "apply: unknown huge page size", test_apply_hugetlb_unknown_size },
	{ "path: cgroupsPath cannot escape", test_path_resolve },
	{ "create: hybrid host refuses a memory limit, creates nothing", test_create_refused_on_hybrid },
	{ "create: no limits on hybrid, then remove", test_create_no_limits_then_remove },
	{ "create: leaf without the controller is removed", test_create_leaf_lacks_controller },
	{ "create: v1-only host", test_create_v1_only_host },
	{ "devices: rule semantics", test_dev_semantics },
	{ "devices: BPF program decides like the rules", test_dev_program_matches_rules },
	{ "devices: BPF program shape", test_dev_program_shape },
	{ "devices: BPF program passes the verifier", test_dev_program_loads },
	{ "freeze: waits for cgroup.events", test_freeze_fake },
	{ "pids: recursive and sorted", test_pids_recursive },
	{ "stats: runc's events JSON", test_stats_json },
	{ "oom: memory.events counters", test_oom_count },
};
TAP_MAIN(tests)
