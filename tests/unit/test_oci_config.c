/* oci/config: every invalid document fails with its JSON path and reason; valid documents
 * parse field by field; lone process and resources objects. Documents are written with '
 * for " to stay readable (no JSON here needs a literal '). */
#include <stdbool.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "oci/config.h"
#include "tap.h"

/* ' -> " ; the result is static and valid until the next call */
static const char *q(const char *s)
{
	static char *buf;

	free(buf);
	buf = strdup(s);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	return buf;
}

/* the smallest valid document, to build invalid ones on */
#define BASE "'ociVersion':'1.2.1','root':{'path':'rootfs'}"
#define PROC(x) "{" BASE ",'process':{'cwd':'/','args':['sh']," x "}}"
#define LINUX(x) "{" BASE ",'linux':{" x "}}"
#define RES(x) LINUX("'resources':{" x "}")
#define SECCOMP(x) LINUX("'seccomp':{" x "}")

struct bad {
	const char *doc;
	const char *msg; /* substring the error must contain: "path: reason" */
};

static const struct bad bad_docs[] = {
    /* syntax and top level */
    {"", "invalid JSON"},
    {"{", "invalid JSON"},
    {"{} x", "invalid JSON"},
    {"{'ociVersion':'1.2.1', /* c */ 'root':{'path':'r'}}", "invalid JSON: comment at offset 23"},
    {"// c\n{'ociVersion':'1.2.1','root':{'path':'r'}}", "invalid JSON: comment at offset 0"},
    {"[]", "expected object, got array"},
    {"{'root':{'path':'r'}}", "ociVersion: required field missing"},
    {"{'ociVersion':'','root':{'path':'r'}}", "ociVersion: invalid version \"\""},
    {"{'ociVersion':'2.0.0','root':{'path':'r'}}", "ociVersion: unsupported version \"2.0.0\""},
    {"{'ociVersion':'0.9.0','root':{'path':'r'}}", "ociVersion: unsupported version \"0.9.0\""},
    {"{'ociVersion':'1.0','root':{'path':'r'}}", "ociVersion: invalid version \"1.0\""},
    {"{'ociVersion':'1.0.0x','root':{'path':'r'}}", "ociVersion: invalid version"},
    {"{'ociVersion':1,'root':{'path':'r'}}", "ociVersion: expected string, got number"},
    {"{'ociVersion':'1.2.1'}", "root: required field missing"},
    {"{'ociVersion':'1.2.1','root':{}}", "root.path: required field missing"},
    {"{'ociVersion':'1.2.1','root':{'path':''}}", "root.path: must not be empty"},
    {"{'ociVersion':'1.2.1','root':{'path':5}}", "root.path: expected string, got number"},
    {"{'ociVersion':'1.2.1','root':{'path':'r','readonly':'yes'}}",
     "root.readonly: expected boolean, got string"},
    {"{'ociVersion':'1.2.1','root':'rootfs'}", "root: expected object, got string"},
    /* mounts */
    {"{" BASE ",'mounts':{}}", "mounts: expected array, got object"},
    {"{" BASE ",'mounts':[{'destination':'/a'},{'type':'tmpfs'}]}",
     "mounts[1].destination: required field missing"},
    {"{" BASE ",'mounts':[{'destination':''}]}", "mounts[0].destination: must not be empty"},
    {"{" BASE ",'mounts':[{'destination':'/a','options':'ro'}]}",
     "mounts[0].options: expected array of strings"},
    {"{" BASE ",'mounts':[{'destination':'/a','options':['ro',1]}]}",
     "mounts[0].options[1]: expected string, got number"},
    {"{" BASE
     ",'mounts':[{'destination':'/a','uidMappings':[{'containerID':0,'hostID':1,'size':1}]}]}",
     "mounts[0].gidMappings: required with uidMappings"},
    {"{" BASE
     ",'mounts':[{'destination':'/a','uidMappings':[{'containerID':0,'hostID':1,'size':-1}]}]}",
     "mounts[0].uidMappings[0].size: must not be negative, got -1"},
    {"{" BASE ",'mounts':[{'destination':'/a','gidMappings':[{'containerID':0,'size':1}]}]}",
     "mounts[0].gidMappings[0].hostID: required field missing"},
    /* process */
    {"{" BASE ",'process':{'cwd':'/','args':'sh'}}", "process.args: expected array of strings"},
    {"{" BASE ",'process':{'cwd':'/','args':[]}}", "process.args: must not be empty"},
    {"{" BASE ",'process':{'cwd':'/'}}", "process.args: required field missing"},
    {"{" BASE ",'process':{'args':['sh']}}", "process.cwd: required field missing"},
    {"{" BASE ",'process':{'cwd':'tmp','args':['sh']}}",
     "process.cwd: must be an absolute path, got \"tmp\""},
    {"{" BASE ",'process':[]}", "process: expected object, got array"},
    {PROC("'env':['A=1','FOO']"), "process.env[1]: expected KEY=VALUE, got \"FOO\""},
    {PROC("'rlimits':[{'type':'RLIMIT_FOO','hard':1,'soft':1}]"),
     "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\""},
    {PROC("'rlimits':[{'type':'RLIMIT_NOFILE','hard':5,'soft':10}]"),
     "process.rlimits[0]: soft limit 10 exceeds hard limit 5"},
    {PROC("'rlimits':[{'type':'RLIMIT_NOFILE','hard':5,'soft':1},"
	  "{'type':'RLIMIT_NOFILE','hard':5,'soft':1}]"),
     "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""},
    {PROC("'rlimits':[{'type':'RLIMIT_NOFILE','soft':1}]"),
     "process.rlimits[0].hard: required field missing"},
    {PROC("'capabilities':{'bounding':['CAP_KILL','CAP_FOO']}"),
     "process.capabilities.bounding[1]: unknown capability \"CAP_FOO\""},
    {PROC("'capabilities':{'ambient':['chown']}"),
     "process.capabilities.ambient[0]: unknown capability \"chown\""},
    {PROC("'capabilities':{'effective':['CAP_41']}"),
     "process.capabilities.effective[0]: unknown capability"},
    {PROC("'user':{'uid':1.5,'gid':0}"), "process.user.uid: expected integer, got 1.5"},
    {PROC("'user':{'uid':1e3,'gid':0}"), "process.user.uid: expected integer, got 1e3"},
    {PROC("'user':{'uid':4294967296,'gid':0}"),
     "process.user.uid: 4294967296 out of range [0, 4294967295]"},
    {PROC("'user':{'uid':0,'gid':-1}"), "process.user.gid: must not be negative, got -1"},
    {PROC("'user':{'uid':0,'gid':0,'additionalGids':[1,'x']}"),
     "process.user.additionalGids[1]: expected integer, got string"},
    {PROC("'terminal':'true'"), "process.terminal: expected boolean, got string"},
    {PROC("'consoleSize':{'height':10}"), "process.consoleSize.width: required field missing"},
    {PROC("'oomScoreAdj':2000"), "process.oomScoreAdj: 2000 out of range [-1000, 1000]"},
    {PROC("'scheduler':{'policy':'SCHED_FOO'}"),
     "process.scheduler.policy: unknown scheduler policy \"SCHED_FOO\""},
    {PROC("'scheduler':{'nice':1}"), "process.scheduler.policy: required field missing"},
    {PROC("'scheduler':{'policy':'SCHED_OTHER','flags':['SCHED_FLAG_X']}"),
     "process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\""},
    {PROC("'scheduler':{'policy':'SCHED_OTHER','nice':40}"),
     "process.scheduler.nice: 40 out of range [-20, 19]"},
    {PROC("'ioPriority':{'class':'IOPRIO_CLASS_X','priority':1}"),
     "process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_X\""},
    {PROC("'ioPriority':{'class':'IOPRIO_CLASS_BE','priority':9}"),
     "process.ioPriority.priority: 9 out of range [0, 7]"},
    /* hooks, hostname */
    {"{" BASE ",'hooks':{'prestart':[{'path':'hook'}]}}",
     "hooks.prestart[0].path: must be an absolute path, got \"hook\""},
    {"{" BASE ",'hooks':{'poststop':[{'path':'/h','timeout':0}]}}",
     "hooks.poststop[0].timeout: must be greater than zero, got 0"},
    {"{" BASE ",'hooks':{'createRuntime':{}}}", "hooks.createRuntime: expected array, got object"},
    {"{" BASE ",'hooks':{'startContainer':[{'args':[]}]}}",
     "hooks.startContainer[0].path: required field missing"},
    {"{" BASE ",'hooks':{'poststart':[{'path':'/h','env':['X']}]}}",
     "hooks.poststart[0].env[0]: expected KEY=VALUE"},
    {"{" BASE ",'hostname':'box'}", "hostname: cannot be set without a uts namespace"},
    {"{" BASE ",'linux':{'namespaces':[{'type':'pid'}]},'domainname':'x'}",
     "domainname: cannot be set without a uts namespace"},
    /* linux */
    {LINUX("'namespaces':'pid'"), "linux.namespaces: expected array, got string"},
    {LINUX("'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'foo'}]"),
     "linux.namespaces[2].type: unknown namespace type \"foo\""},
    {LINUX("'namespaces':[{'type':'pid'},{'type':'pid'}]"),
     "linux.namespaces[1].type: duplicate namespace type \"pid\""},
    {LINUX("'namespaces':[{'type':'net','path':'/x'}]"),
     "linux.namespaces[0].type: unknown namespace type \"net\""},
    {LINUX("'namespaces':[{'type':'network','path':'proc/1/ns/net'}]"),
     "linux.namespaces[0].path: must be an absolute path"},
    {LINUX("'namespaces':[{'path':'/x'}]"), "linux.namespaces[0].type: required field missing"},
    {LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
     "linux.uidMappings: requires a user namespace"},
    {LINUX("'namespaces':[{'type':'user'}]"),
     "linux.namespaces[0]: a new user namespace needs linux.uidMappings and linux.gidMappings"},
    {LINUX("'timeOffsets':{'monotonic':{'secs':1}}"),
     "linux.timeOffsets: requires a time namespace"},
    {LINUX("'namespaces':[{'type':'time'}],'timeOffsets':{'realtime':{'secs':1}}"),
     "linux.timeOffsets.realtime: unknown clock"},
    {LINUX("'namespaces':[{'type':'time'}],'timeOffsets':{'boottime':{'nanosecs':1000000000}}"),
     "linux.timeOffsets.boottime.nanosecs: must be below 1000000000"},
    {LINUX("'devices':[{'path':'/dev/x','type':'x','major':1,'minor':1}]"),
     "linux.devices[0].type: unknown device type \"x\""},
    {LINUX("'devices':[{'path':'dev/null','type':'c','major':1,'minor':3}]"),
     "linux.devices[0].path: must be an absolute path"},
    {LINUX("'devices':[{'path':'/dev/null','type':'c','minor':3}]"),
     "linux.devices[0].major: required field missing"},
    {LINUX("'devices':[{'path':'/dev/null','major':1,'minor':3}]"),
     "linux.devices[0].type: required field missing"},
    {LINUX("'rootfsPropagation':'foo'"), "linux.rootfsPropagation: unknown propagation \"foo\""},
    {LINUX("'maskedPaths':[1]"), "linux.maskedPaths[0]: expected string, got number"},
    {LINUX("'sysctl':{'net.ipv4.ip_forward':1}"),
     "linux.sysctl[\"net.ipv4.ip_forward\"]: expected string, got number"},
    {LINUX("'personality':{'domain':'LINUX64'}"),
     "linux.personality.domain: unknown domain \"LINUX64\""},
    {LINUX("'personality':{'domain':'LINUX','flags':['X']}"),
     "linux.personality.flags[0]: unsupported flag \"X\""},
    {LINUX("'intelRdt':{'enableCMT':1}"), "linux.intelRdt.enableCMT: expected boolean, got number"},
    {"{" BASE ",'linux':[]}", "linux: expected object, got array"},
    /* resources */
    {RES("'devices':[{'allow':true,'access':'rwx'}]"),
     "linux.resources.devices[0].access: invalid access \"rwx\""},
    {RES("'devices':[{'allow':true,'access':'rr'}]"),
     "linux.resources.devices[0].access: invalid access \"rr\""},
    {RES("'devices':[{'allow':true,'type':'p'}]"),
     "linux.resources.devices[0].type: unknown device type \"p\""},
    {RES("'devices':[{'access':'r'}]"), "linux.resources.devices[0].allow: required field missing"},
    {RES("'memory':{'limit':'1G'}"), "linux.resources.memory.limit: expected integer, got string"},
    {RES("'memory':{'swappiness':200}"),
     "linux.resources.memory.swappiness: 200 out of range [0, 100]"},
    {RES("'memory':{'limit':9223372036854775808}"),
     "linux.resources.memory.limit: 9223372036854775808 out of range"},
    {RES("'cpu':{'shares':-5}"), "linux.resources.cpu.shares: must not be negative, got -5"},
    {RES("'cpu':{'cpus':0}"), "linux.resources.cpu.cpus: expected string, got number"},
    {RES("'blockIO':{'weight':70000}"),
     "linux.resources.blockIO.weight: 70000 out of range [0, 65535]"},
    {RES("'blockIO':{'throttleReadBpsDevice':[{'major':8,'minor':0}]}"),
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required field missing"},
    {RES("'pids':{'limit':1.5}"), "linux.resources.pids.limit: expected integer, got 1.5"},
    {RES("'hugepageLimits':[{'limit':1}]"),
     "linux.resources.hugepageLimits[0].pageSize: required field missing"},
    {RES("'network':{'classID':-1}"), "linux.resources.network.classID: must not be negative"},
    {RES("'rdma':{'mlx5':{'hcaHandles':'x'}}"),
     "linux.resources.rdma.mlx5.hcaHandles: expected integer, got string"},
    {RES("'unified':{'memory.max':10}"),
     "linux.resources.unified[\"memory.max\"]: expected string, got number"},
    {RES("'unified':{'../x':'1'}"), "linux.resources.unified: invalid cgroup file name \"../x\""},
    /* seccomp */
    {SECCOMP("'syscalls':[]"), "linux.seccomp.defaultAction: required field missing"},
    {SECCOMP("'defaultAction':'SCMP_ACT_DENY'"),
     "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_DENY\""},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':1"),
     "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86_65']"),
     "linux.seccomp.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_X86_65\""},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_FOO']"),
     "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_FOO\""},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','listenerMetadata':'x'"),
     "linux.seccomp.listenerMetadata: requires listenerPath"},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':'SCMP_ACT_"
	     "FOO'}]"),
     "linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_FOO\""},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],'action':'SCMP_ACT_LOG'}]"),
     "linux.seccomp.syscalls[0].names: must not be empty"},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'action':'SCMP_ACT_LOG'}]"),
     "linux.seccomp.syscalls[0].names: required field missing"},
    {SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['x'],'action':'SCMP_ACT_LOG','"
	     "errnoRet':1}]"),
     "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
    {SECCOMP(
	 "'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['x'],'action':'SCMP_ACT_ERRNO',"
	 "'args':[{'index':0,'value':1,'op':'SCMP_CMP_FOO'}]}]"),
     "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_FOO\""},
    {SECCOMP(
	 "'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['x'],'action':'SCMP_ACT_ERRNO',"
	 "'args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]"),
     "linux.seccomp.syscalls[0].args[0].index: 6 out of range [0, 5]"},
    /* annotations, vm */
    {"{" BASE ",'annotations':{'io.x':true}}",
     "annotations[\"io.x\"]: expected string, got boolean"},
    {"{" BASE ",'annotations':[]}", "annotations: expected object, got array"},
    {"{" BASE ",'vm':{}}", "vm.kernel: required field missing"},
    {"{" BASE ",'vm':{'kernel':{}}}", "vm.kernel.path: required field missing"},
    {"{" BASE ",'vm':{'kernel':{'path':'vmlinuz'}}}", "vm.kernel.path: must be an absolute path"},
    {"{" BASE ",'vm':{'kernel':{'path':'/k','initrd':'i'}}}",
     "vm.kernel.initrd: must be an absolute path"},
    {"{" BASE ",'vm':{'kernel':{'path':'/k'},'image':{'path':'/i','format':'iso'}}}",
     "vm.image.format: unknown image format \"iso\""},
    {"{" BASE ",'vm':{'kernel':{'path':'/k'},'image':{'path':'/i'}}}",
     "vm.image.format: required field missing"},
    {"{" BASE ",'vm':{'kernel':{'path':'/k'},'hwConfig':{'vcpus':-2}}}",
     "vm.hwConfig.vcpus: must not be negative"},
};

static int test_bad_documents(void)
{
	int failed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(bad_docs); i++) {
		const char *doc = q(bad_docs[i].doc);
		struct oci_config *cfg = NULL;
		struct husk_err *err = NULL;
		int r = oci_config_parse(doc, strlen(doc), &cfg, &err);

		if (r != -EINVAL || !err || !strstr(err->msg, bad_docs[i].msg) || cfg) {
			printf("# bad_docs[%zu] %s\n#   want \"%s\"\n#   got r=%d \"%s\"\n", i, doc,
			       bad_docs[i].msg, r, err ? err->msg : "(no error)");
			failed = 1;
		}
		oci_config_free(cfg);
		husk_err_free(err);
	}
	printf("# %zu invalid documents\n", ARRAY_SIZE(bad_docs));
	return failed;
}

static int test_deep_nesting(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct oci_config *cfg = NULL;
	char doc[4096];

	memset(doc, '[', sizeof(doc));
	CHECK(oci_config_parse(doc, sizeof(doc), &cfg, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "invalid JSON: nested deeper than");
	husk_err_freep(&err);
	CHECK(oci_config_parse("{\"a\":\0}", 7, &cfg, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "NUL byte at offset 5");
	return 0;
}

/* Reproduced with tests/fuzz/fuzz_config: a `"` inside a comment hid the nesting after it
 * from the depth bound, and freeing a tree nested a million deep overflowed the stack. */
static int test_deep_nesting_after_comment(void)
{
	const size_t depth = 1000000;
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *doc = xmalloc(5 + 2 * depth);
	struct oci_config *cfg = NULL;

	memcpy(doc, "/*\"*/", 5);
	memset(doc + 5, '[', depth);
	memset(doc + 5 + depth, ']', depth);
	CHECK(oci_config_parse(doc, 5 + 2 * depth, &cfg, &err) == -EINVAL);
	CHECK_STREQ(err->msg, "invalid JSON: comment at offset 0");
	return 0;
}

static int parse_ok(const char *doc, struct oci_config **cfg)
{
	cleanup_err struct husk_err *err = NULL;
	int r;

	doc = q(doc);
	r = oci_config_parse(doc, strlen(doc), cfg, &err);
	if (r < 0)
		printf("# unexpected error: %s\n", err->msg);
	return r;
}

static int test_versions(void)
{
	static const char *const ok[] = {"1.0.0", "1.0.2-dev",	   "1.1.0-rc.1",
					 "1.2.1", "1.2.0+build.5", "1.3.0"};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char *doc = xasprintf("{'ociVersion':'%s','root':{'path':'r'}}", ok[i]);
		struct oci_config *cfg = NULL;
		int r = parse_ok(doc, &cfg);

		free(doc);
		CHECK(r == 0);
		CHECK_STREQ(cfg->oci_version, ok[i]);
		oci_config_free(cfg);
	}
	return 0;
}

static int test_minimal_defaults(void)
{
	struct oci_config *cfg = NULL;

	CHECK(parse_ok("{" BASE "}", &cfg) == 0);
	CHECK_STREQ(cfg->root->path, "rootfs");
	CHECK(!cfg->root->readonly && !cfg->process && !cfg->has_linux && !cfg->vm);
	CHECK(cfg->n_mounts == 0 && cfg->annotations.n == 0);
	CHECK(cfg->linux.masked_paths && !cfg->linux.masked_paths[0]);
	CHECK(cfg->linux.readonly_paths && !cfg->linux.readonly_paths[0]);
	for (int k = 0; k < OCI_HOOK_KINDS; k++)
		CHECK(cfg->hooks[k].n == 0);
	oci_config_free(cfg);
	return 0;
}

/* config.md#extensibility: unknown properties MUST be ignored; null reads as absent */
static int test_unknown_fields_ignored(void)
{
	struct oci_config *cfg = NULL;

	CHECK(
	    parse_ok(
		"{" BASE ",'windows':{'layerFolders':[1]},'x-future':[{}],"
		"'process':{'cwd':'/','args':['a'],'newThing':{'a':1},'user':{'uid':1,'sid':'s'}},"
		"'linux':{'netDevices':{'eth0':{}},'memoryPolicy':{'mode':'MPOL_BIND'},"
		"'resources':{'memory':{'futureKnob':1},'futureController':{}}},"
		"'hostname':null,'mounts':[{'destination':'/a','type':null,'options':null}]}",
		&cfg) == 0);
	CHECK(cfg->process->user.uid == 1);
	CHECK(cfg->has_linux && cfg->linux.resources && cfg->linux.resources->memory);
	CHECK(!cfg->linux.resources->memory->limit.set);
	CHECK(!cfg->hostname);
	CHECK(!cfg->mounts[0].type && cfg->mounts[0].options && !cfg->mounts[0].options[0]);
	oci_config_free(cfg);
	return 0;
}

/* what docker sends for a container without limits */
static int test_docker_zero_resources(void)
{
	struct oci_config *cfg = NULL;
	struct oci_resources *r;

	CHECK(parse_ok(
		  "{" BASE ",'linux':{'resources':{'devices':[{'allow':false,'access':'rwm'}],"
		  "'memory':{'disableOOMKiller':false},'cpu':{'shares':0},'blockIO':{'weight':0},"
		  "'pids':{'limit':0}}}}",
		  &cfg) == 0);
	r = cfg->linux.resources;
	CHECK(r->n_devices == 1 && !r->devices[0].allow && r->devices[0].type == 'a');
	CHECK_STREQ(r->devices[0].access, "rwm");
	CHECK(!r->devices[0].major.set && !r->devices[0].minor.set);
	CHECK(r->memory->has_disable_oom_killer && !r->memory->disable_oom_killer);
	CHECK(r->cpu->shares.set && r->cpu->shares.v == 0);
	CHECK(r->blkio->weight.set && r->blkio->weight.v == 0);
	CHECK(r->has_pids && r->pids_limit == 0);
	oci_config_free(cfg);
	return 0;
}

static int test_relative_mount_destination(void)
{
	struct oci_config *cfg = NULL;

	/* config.md#mounts: deprecated, but MUST be read as relative to "/" */
	CHECK(parse_ok("{" BASE ",'mounts':[{'destination':'data','type':'bind','source':'./d',"
		       "'options':['rbind','ro']}]}",
		       &cfg) == 0);
	CHECK_STREQ(cfg->mounts[0].destination, "/data");
	CHECK_STREQ(cfg->mounts[0].source, "./d");
	CHECK_STREQ(cfg->mounts[0].options[1], "ro");
	CHECK(!cfg->mounts[0].options[2]);
	oci_config_free(cfg);
	return 0;
}

static int test_load_file(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	struct oci_config *cfg = NULL;
	cleanup_free char *path = xasprintf("%s/config.json", t->path);
	const char *doc = q("{" BASE ",'hostname':'h'}");
	FILE *f = fopen(path, "w");

	CHECK(f);
	fputs(doc, f);
	fclose(f);
	CHECK(oci_config_load(path, &cfg, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "config.json`: hostname: cannot be set without a uts namespace");
	husk_err_freep(&err);
	CHECK(oci_config_load("/nonexistent/config.json", &cfg, &err) == -ENOENT);
	CHECK_CONTAINS(err->msg, "open `/nonexistent/config.json`");
	return 0;
}

static int test_lookups(void)
{
	CHECK(oci_cap_from_name("CAP_CHOWN") == 0);
	CHECK(oci_cap_from_name("CAP_SYS_ADMIN") == 21);
	CHECK(oci_cap_from_name("CAP_CHECKPOINT_RESTORE") == 40);
	CHECK(oci_cap_from_name("CAP_NOPE") == -1);
	CHECK(oci_rlimit_from_name("RLIMIT_NOFILE") == RLIMIT_NOFILE);
	CHECK(oci_rlimit_from_name("RLIMIT_RTTIME") == RLIMIT_RTTIME);
	CHECK(oci_rlimit_from_name("NOFILE") == -1);
	CHECK_STREQ(oci_ns_name(OCI_NS_NETWORK), "network");
	CHECK_STREQ(oci_ns_proc_name(OCI_NS_NETWORK), "net");
	CHECK_STREQ(oci_ns_proc_name(OCI_NS_MOUNT), "mnt");
	CHECK(oci_ns_clone_flag(OCI_NS_PID) == CLONE_NEWPID);
	CHECK(oci_ns_clone_flag(OCI_NS_USER) == CLONE_NEWUSER);
	CHECK(oci_ns_clone_flag(OCI_NS_MOUNT) == CLONE_NEWNS);
	CHECK(oci_ns_name(OCI_NS_TYPES) == NULL);
	return 0;
}

/* one document exercising every field husk parses */
static const char full_doc[] =
    "{'ociVersion':'1.2.1',"
    "'root':{'path':'/b/rootfs','readonly':true},"
    "'hostname':'box','domainname':'example.org',"
    "'annotations':{'run.husk.isolation':'vm','a':''},"
    "'mounts':[{'destination':'/proc','type':'proc','source':'proc'},"
    "  {'destination':'/data','type':'none','source':'/srv','options':['rbind','idmap'],"
    "   'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
    "   'gidMappings':[{'containerID':0,'hostID':200000,'size':1000}]}],"
    "'hooks':{'prestart':[{'path':'/bin/pre'}],"
    "  'createRuntime':[{'path':'/bin/cr','args':['cr','x'],'env':['A=1'],'timeout':5}],"
    "  'createContainer':[{'path':'/bin/cc'}],'startContainer':[{'path':'/bin/sc'}],"
    "  'poststart':[{'path':'/bin/ps1'},{'path':'/bin/ps2'}],'poststop':[{'path':'/bin/stop'}]},"
    "'process':{'terminal':true,'consoleSize':{'height':25,'width':80},"
    "  'user':{'uid':1000,'gid':1001,'umask':18,'additionalGids':[5,4294967295],'username':'u'},"
    "  'args':['sh','-c','echo hi'],'commandLine':'cmd','env':['PATH=/bin','EMPTY='],'cwd':'/home',"
    "  'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL'],'effective':['CAP_KILL'],"
    "    'inheritable':[],'permitted':['CAP_KILL','CAP_CHECKPOINT_RESTORE'],'ambient':['CAP_BPF']},"
    "  'rlimits':[{'type':'RLIMIT_NOFILE','hard':4096,'soft':1024},"
    "    {'type':'RLIMIT_CORE','hard':18446744073709551615,'soft':0}],"
    "  'noNewPrivileges':true,'apparmorProfile':'aa','oomScoreAdj':-999,"
    "  'scheduler':{'policy':'SCHED_DEADLINE','nice':-5,'priority':3,"
    "    'flags':['SCHED_FLAG_RESET_ON_FORK'],'runtime':1000,'deadline':2000,'period':3000},"
    "  'selinuxLabel':'sl','ioPriority':{'class':'IOPRIO_CLASS_RT','priority':7},"
    "  'execCPUAffinity':{'initial':'0','final':'1-3'}},"
    "'linux':{"
    "  'namespaces':[{'type':'pid'},{'type':'network','path':'/run/netns/n'},{'type':'mount'},"
    "    {'type':'ipc'},{'type':'uts'},{'type':'user'},{'type':'cgroup'},{'type':'time'}],"
    "  "
    "'uidMappings':[{'containerID':0,'hostID':1000,'size':1},{'containerID':1,'hostID':100000,'"
    "size':65536}],"
    "  'gidMappings':[{'containerID':0,'hostID':1000,'size':1}],"
    "  'timeOffsets':{'monotonic':{'secs':-10,'nanosecs':5},'boottime':{'secs':86400}},"
    "  "
    "'devices':[{'path':'/dev/"
    "fuse','type':'c','major':10,'minor':229,'fileMode':438,'uid':0,'gid':0},"
    "    {'path':'/dev/pipe','type':'p'}],"
    "  'cgroupsPath':'/husk/c1',"
    "  'resources':{"
    "    "
    "'devices':[{'allow':false,'access':'rwm'},{'allow':true,'type':'c','major':10,'minor':229,'"
    "access':'rw'},"
    "      {'allow':true,'type':'b','major':8,'access':'m'}],"
    "    'memory':{'limit':536870912,'reservation':268435456,'swap':-1,'kernel':1,'kernelTCP':2,"
    "      'swappiness':60,'disableOOMKiller':true,'useHierarchy':true,'checkBeforeUpdate':true},"
    "    'cpu':{'shares':1024,'quota':50000,'burst':1000,'period':100000,'realtimeRuntime':950000,"
    "      'realtimePeriod':1000000,'cpus':'0-3','mems':'0','idle':1},"
    "    'pids':{'limit':-1},"
    "    'blockIO':{'weight':500,'leafWeight':300,"
    "      "
    "'weightDevice':[{'major':8,'minor':0,'weight':600},{'major':8,'minor':16,'leafWeight':10}],"
    "      'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1048576}],"
    "      'throttleWriteBpsDevice':[{'major':8,'minor':0,'rate':2}],"
    "      'throttleReadIOPSDevice':[{'major':8,'minor':0,'rate':3}],"
    "      "
    "'throttleWriteIOPSDevice':[{'major':8,'minor':0,'rate':4},{'major':8,'minor':1,'rate':5}]},"
    "    'hugepageLimits':[{'pageSize':'2MB','limit':209715200}],"
    "    'network':{'classID':1048577,'priorities':[{'name':'eth0','priority':500}]},"
    "    'rdma':{'mlx5_1':{'hcaHandles':3,'hcaObjects':10000}},"
    "    'unified':{'memory.high':'max','io.weight':'default 100'}},"
    "  "
    "'intelRdt':{'closID':'g1','l3CacheSchema':'L3:0=ff','memBwSchema':'MB:0=50','enableCMT':true,'"
    "enableMBM':true},"
    "  'sysctl':{'net.ipv4.ip_forward':'1','kernel.msgmax':'8192'},"
    "  'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
    "    'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86'],'flags':['SECCOMP_FILTER_FLAG_LOG'],"
    "    'listenerPath':'/run/agent.sock','listenerMetadata':'meta',"
    "    'syscalls':[{'names':['read','write'],'action':'SCMP_ACT_ALLOW'},"
    "      {'names':['personality'],'action':'SCMP_ACT_ERRNO','errnoRet':1,"
    "       'args':[{'index':0,'value':8,'valueTwo':0,'op':'SCMP_CMP_EQ'},"
    "         {'index':5,'value':18446744073709551615,'op':'SCMP_CMP_MASKED_EQ','valueTwo':4}]},"
    "      {'names':['mount'],'action':'SCMP_ACT_NOTIFY'}]},"
    "  "
    "'rootfsPropagation':'rslave','maskedPaths':['/proc/kcore'],'readonlyPaths':['/proc/sys','/"
    "proc/bus'],"
    "  'mountLabel':'ml','personality':{'domain':'LINUX32','flags':[]}},"
    "'vm':{'hypervisor':{'path':'/usr/bin/vmm','parameters':['-x']},"
    "  "
    "'kernel':{'path':'/boot/vmlinuz','parameters':['console=ttyS0','quiet'],'initrd':'/boot/"
    "initrd'},"
    "  'image':{'path':'/img/root.img','format':'raw'},"
    "  'hwConfig':{'vcpus':2,'memory':1073741824,'deviceTree':'/x.dtb'}}"
    "}";

static struct oci_config *full(void)
{
	struct oci_config *cfg = NULL;

	if (parse_ok(full_doc, &cfg) < 0)
		return NULL;
	return cfg;
}

static int test_full_top(void)
{
	struct oci_config *cfg = full();
	const struct oci_mount *m;

	CHECK(cfg);
	CHECK_STREQ(cfg->oci_version, "1.2.1");
	CHECK_STREQ(cfg->root->path, "/b/rootfs");
	CHECK(cfg->root->readonly);
	CHECK_STREQ(cfg->hostname, "box");
	CHECK_STREQ(cfg->domainname, "example.org");
	CHECK(cfg->annotations.n == 2);
	CHECK_STREQ(cfg->annotations.items[0].key, "run.husk.isolation");
	CHECK_STREQ(oci_annotation(cfg, "run.husk.isolation"), "vm");
	CHECK_STREQ(oci_annotation(cfg, "a"), "");
	CHECK(oci_annotation(cfg, "b") == NULL);
	CHECK(cfg->n_mounts == 2);
	CHECK(cfg->mounts[0].options && !cfg->mounts[0].options[0]);
	m = &cfg->mounts[1];
	CHECK_STREQ(m->destination, "/data");
	CHECK_STREQ(m->type, "none");
	CHECK_STREQ(m->source, "/srv");
	CHECK_STREQ(m->options[1], "idmap");
	CHECK(m->n_uid_mappings == 1 && m->uid_mappings[0].host_id == 100000);
	CHECK(m->uid_mappings[0].size == 65536 && m->uid_mappings[0].container_id == 0);
	CHECK(m->n_gid_mappings == 1 && m->gid_mappings[0].host_id == 200000);
	CHECK(cfg->hooks[OCI_HOOK_PRESTART].n == 1);
	CHECK_STREQ(cfg->hooks[OCI_HOOK_PRESTART].items[0].path, "/bin/pre");
	CHECK(!cfg->hooks[OCI_HOOK_PRESTART].items[0].timeout.set);
	CHECK_STREQ(cfg->hooks[OCI_HOOK_CREATE_RUNTIME].items[0].args[1], "x");
	CHECK_STREQ(cfg->hooks[OCI_HOOK_CREATE_RUNTIME].items[0].env[0], "A=1");
	CHECK(cfg->hooks[OCI_HOOK_CREATE_RUNTIME].items[0].timeout.v == 5);
	CHECK_STREQ(cfg->hooks[OCI_HOOK_CREATE_CONTAINER].items[0].path, "/bin/cc");
	CHECK_STREQ(cfg->hooks[OCI_HOOK_START_CONTAINER].items[0].path, "/bin/sc");
	CHECK(cfg->hooks[OCI_HOOK_POSTSTART].n == 2);
	CHECK_STREQ(cfg->hooks[OCI_HOOK_POSTSTART].items[1].path, "/bin/ps2");
	CHECK_STREQ(cfg->hooks[OCI_HOOK_POSTSTOP].items[0].path, "/bin/stop");
	CHECK_STREQ(cfg->vm->hypervisor_path, "/usr/bin/vmm");
	CHECK_STREQ(cfg->vm->hypervisor_parameters[0], "-x");
	CHECK_STREQ(cfg->vm->kernel_path, "/boot/vmlinuz");
	CHECK_STREQ(cfg->vm->kernel_parameters[1], "quiet");
	CHECK_STREQ(cfg->vm->kernel_initrd, "/boot/initrd");
	CHECK_STREQ(cfg->vm->image_path, "/img/root.img");
	CHECK_STREQ(cfg->vm->image_format, "raw");
	CHECK(cfg->vm->hw_vcpus.set && cfg->vm->hw_vcpus.v == 2);
	CHECK(cfg->vm->hw_memory.set && cfg->vm->hw_memory.v == 1073741824);
	oci_config_free(cfg);
	return 0;
}

static int check_process(const struct oci_process *p)
{
	CHECK(p->terminal && p->has_console_size);
	CHECK(p->console_height == 25 && p->console_width == 80);
	CHECK(p->user.uid == 1000 && p->user.gid == 1001);
	CHECK(p->user.umask.set && p->user.umask.v == 18);
	CHECK(p->user.n_additional_gids == 2 && p->user.additional_gids[1] == 4294967295u);
	CHECK_STREQ(p->user.username, "u");
	CHECK_STREQ(p->args[2], "echo hi");
	CHECK(!p->args[3]);
	CHECK_STREQ(p->command_line, "cmd");
	CHECK_STREQ(p->env[1], "EMPTY=");
	CHECK_STREQ(p->cwd, "/home");
	CHECK_STREQ(p->capabilities->bounding[1], "CAP_KILL");
	CHECK_STREQ(p->capabilities->effective[0], "CAP_KILL");
	CHECK(p->capabilities->inheritable && !p->capabilities->inheritable[0]);
	CHECK_STREQ(p->capabilities->permitted[1], "CAP_CHECKPOINT_RESTORE");
	CHECK_STREQ(p->capabilities->ambient[0], "CAP_BPF");
	CHECK(p->n_rlimits == 2);
	CHECK_STREQ(p->rlimits[0].type, "RLIMIT_NOFILE");
	CHECK(p->rlimits[0].resource == RLIMIT_NOFILE);
	CHECK(p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 4096);
	CHECK(p->rlimits[1].resource == RLIMIT_CORE && p->rlimits[1].hard == UINT64_MAX);
	CHECK(p->no_new_privileges);
	CHECK_STREQ(p->apparmor_profile, "aa");
	CHECK(p->oom_score_adj.set && p->oom_score_adj.v == -999);
	CHECK_STREQ(p->scheduler->policy, "SCHED_DEADLINE");
	CHECK(p->scheduler->nice == -5 && p->scheduler->priority == 3);
	CHECK_STREQ(p->scheduler->flags[0], "SCHED_FLAG_RESET_ON_FORK");
	CHECK(p->scheduler->runtime == 1000 && p->scheduler->deadline == 2000);
	CHECK(p->scheduler->period == 3000);
	CHECK_STREQ(p->selinux_label, "sl");
	CHECK_STREQ(p->io_priority->klass, "IOPRIO_CLASS_RT");
	CHECK(p->io_priority->priority == 7);
	CHECK_STREQ(p->exec_cpu_affinity_initial, "0");
	CHECK_STREQ(p->exec_cpu_affinity_final, "1-3");
	return 0;
}

static int test_full_process(void)
{
	struct oci_config *cfg = full();
	int r;

	CHECK(cfg);
	r = check_process(cfg->process);
	oci_config_free(cfg);
	return r;
}

static int test_full_linux(void)
{
	struct oci_config *cfg = full();
	const struct oci_linux *l;

	CHECK(cfg);
	l = &cfg->linux;
	CHECK(cfg->has_linux && l->n_namespaces == 8);
	CHECK(l->namespaces[0].type == OCI_NS_PID && !l->namespaces[0].path);
	CHECK(l->namespaces[1].type == OCI_NS_NETWORK);
	CHECK_STREQ(oci_config_ns(cfg, OCI_NS_NETWORK)->path, "/run/netns/n");
	CHECK(oci_config_ns(cfg, OCI_NS_TIME) == &l->namespaces[7]);
	CHECK(oci_config_ns(cfg, OCI_NS_USER)->type == OCI_NS_USER);
	CHECK(l->n_uid_mappings == 2 && l->uid_mappings[1].host_id == 100000);
	CHECK(l->n_gid_mappings == 1 && l->gid_mappings[0].size == 1);
	CHECK(l->time_monotonic.set && l->time_monotonic.secs == -10);
	CHECK(l->time_monotonic.nanosecs == 5);
	CHECK(l->time_boottime.set && l->time_boottime.secs == 86400);
	CHECK(l->n_devices == 2);
	CHECK_STREQ(l->devices[0].path, "/dev/fuse");
	CHECK(l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229);
	CHECK(l->devices[0].file_mode.set && l->devices[0].file_mode.v == 438);
	CHECK(l->devices[0].uid.set && l->devices[0].gid.set);
	CHECK(l->devices[1].type == 'p' && !l->devices[1].file_mode.set);
	CHECK_STREQ(l->cgroups_path, "/husk/c1");
	CHECK_STREQ(l->intel_rdt->clos_id, "g1");
	CHECK_STREQ(l->intel_rdt->l3_cache_schema, "L3:0=ff");
	CHECK_STREQ(l->intel_rdt->mem_bw_schema, "MB:0=50");
	CHECK(l->intel_rdt->enable_cmt && l->intel_rdt->enable_mbm);
	CHECK(l->sysctl.n == 2);
	CHECK_STREQ(l->sysctl.items[1].key, "kernel.msgmax");
	CHECK_STREQ(l->sysctl.items[1].value, "8192");
	CHECK_STREQ(l->rootfs_propagation, "rslave");
	CHECK_STREQ(l->masked_paths[0], "/proc/kcore");
	CHECK_STREQ(l->readonly_paths[1], "/proc/bus");
	CHECK_STREQ(l->mount_label, "ml");
	CHECK_STREQ(l->personality->domain, "LINUX32");
	oci_config_free(cfg);
	return 0;
}

static int check_resources(const struct oci_resources *r)
{
	CHECK(r->n_devices == 3);
	CHECK(r->devices[1].allow && r->devices[1].type == 'c');
	CHECK(r->devices[1].major.v == 10 && r->devices[1].minor.v == 229);
	CHECK_STREQ(r->devices[1].access, "rw");
	CHECK(r->devices[2].type == 'b' && r->devices[2].major.set && !r->devices[2].minor.set);
	CHECK_STREQ(r->devices[2].access, "m");
	CHECK(r->memory->limit.v == 536870912 && r->memory->reservation.v == 268435456);
	CHECK(r->memory->swap.set && r->memory->swap.v == -1);
	CHECK(r->memory->kernel.v == 1 && r->memory->kernel_tcp.v == 2);
	CHECK(r->memory->swappiness.v == 60);
	CHECK(r->memory->disable_oom_killer && r->memory->use_hierarchy);
	CHECK(r->memory->check_before_update && r->memory->has_check_before_update);
	CHECK(r->cpu->shares.v == 1024 && r->cpu->quota.v == 50000 && r->cpu->burst.v == 1000);
	CHECK(r->cpu->period.v == 100000 && r->cpu->realtime_runtime.v == 950000);
	CHECK(r->cpu->realtime_period.v == 1000000 && r->cpu->idle.v == 1);
	CHECK_STREQ(r->cpu->cpus, "0-3");
	CHECK_STREQ(r->cpu->mems, "0");
	CHECK(r->has_pids && r->pids_limit == -1);
	CHECK(r->blkio->weight.v == 500 && r->blkio->leaf_weight.v == 300);
	CHECK(r->blkio->n_weight_devices == 2);
	CHECK(r->blkio->weight_devices[0].weight.v == 600 &&
	      !r->blkio->weight_devices[0].leaf_weight.set);
	CHECK(r->blkio->weight_devices[1].minor == 16 &&
	      r->blkio->weight_devices[1].leaf_weight.v == 10);
	CHECK(r->blkio->read_bps.n == 1 && r->blkio->read_bps.items[0].rate == 1048576);
	CHECK(r->blkio->write_bps.items[0].rate == 2 && r->blkio->read_iops.items[0].rate == 3);
	CHECK(r->blkio->write_iops.n == 2 && r->blkio->write_iops.items[1].minor == 1);
	CHECK(r->n_hugepages == 1 && r->hugepages[0].limit == 209715200);
	CHECK_STREQ(r->hugepages[0].page_size, "2MB");
	CHECK(r->has_network && r->net_class_id.v == 1048577);
	CHECK(r->n_net_priorities == 1 && r->net_priorities[0].priority == 500);
	CHECK_STREQ(r->net_priorities[0].name, "eth0");
	CHECK(r->n_rdma == 1 && r->rdma[0].hca_handles.v == 3 && r->rdma[0].hca_objects.v == 10000);
	CHECK_STREQ(r->rdma[0].device, "mlx5_1");
	CHECK(r->unified.n == 2);
	CHECK_STREQ(r->unified.items[1].value, "default 100");
	return 0;
}

static int test_full_resources(void)
{
	struct oci_config *cfg = full();
	int r;

	CHECK(cfg);
	r = check_resources(cfg->linux.resources);
	oci_config_free(cfg);
	return r;
}

static int test_full_seccomp(void)
{
	struct oci_config *cfg = full();
	const struct oci_seccomp *s;

	CHECK(cfg);
	s = cfg->linux.seccomp;
	CHECK_STREQ(s->default_action, "SCMP_ACT_ERRNO");
	CHECK(s->default_errno_ret.set && s->default_errno_ret.v == 38);
	CHECK_STREQ(s->architectures[1], "SCMP_ARCH_X86");
	CHECK_STREQ(s->flags[0], "SECCOMP_FILTER_FLAG_LOG");
	CHECK_STREQ(s->listener_path, "/run/agent.sock");
	CHECK_STREQ(s->listener_metadata, "meta");
	CHECK(s->n_syscalls == 3);
	CHECK_STREQ(s->syscalls[0].names[1], "write");
	CHECK(!s->syscalls[0].errno_ret.set && s->syscalls[0].n_args == 0);
	CHECK(s->syscalls[1].errno_ret.v == 1 && s->syscalls[1].n_args == 2);
	CHECK(s->syscalls[1].args[0].index == 0 && s->syscalls[1].args[0].value == 8);
	CHECK_STREQ(s->syscalls[1].args[0].op, "SCMP_CMP_EQ");
	CHECK(s->syscalls[1].args[1].index == 5 && s->syscalls[1].args[1].value == UINT64_MAX);
	CHECK(s->syscalls[1].args[1].value_two == 4);
	CHECK_STREQ(s->syscalls[2].action, "SCMP_ACT_NOTIFY");
	oci_config_free(cfg);
	return 0;
}

static int test_process_parse(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct oci_process *p = NULL;
	const char *doc =
	    q("{'args':['ls','-l'],'cwd':'/tmp','env':['A=b'],'user':{'uid':5,'gid':6},"
	      "'terminal':false,'capabilities':{'bounding':['CAP_NET_RAW']},"
	      "'rlimits':[{'type':'RLIMIT_NPROC','soft':10,'hard':20}],'unknown':1}");

	CHECK(oci_process_parse(doc, strlen(doc), &p, &err) == 0);
	CHECK_STREQ(p->args[1], "-l");
	CHECK_STREQ(p->cwd, "/tmp");
	CHECK_STREQ(p->env[0], "A=b");
	CHECK(p->user.uid == 5 && p->user.gid == 6 && !p->terminal);
	CHECK_STREQ(p->capabilities->bounding[0], "CAP_NET_RAW");
	CHECK(p->rlimits[0].resource == RLIMIT_NPROC);
	oci_process_free(p);
	p = NULL;
	doc = q("{'args':['true'],'cwd':'/'}");
	CHECK(oci_process_parse(doc, strlen(doc), &p, &err) == 0);
	CHECK(p->env && !p->env[0]);
	oci_process_free(p);
	return 0;
}

static const struct bad bad_processes[] = {
    {"{'args':'ls','cwd':'/'}", "args: expected array of strings"},
    {"{'args':['ls']}", "cwd: required field missing"},
    {"{'args':['ls'],'cwd':'x'}", "cwd: must be an absolute path"},
    {"{'args':['ls'],'cwd':'/','user':{'uid':-1}}", "user.uid: must not be negative"},
    {"{'args':['ls'],'cwd':'/','capabilities':{'permitted':['CAP_X']}}",
     "capabilities.permitted[0]: unknown capability \"CAP_X\""},
    {"[1]", "expected object, got array"},
    {"{'args':['ls'],'cwd':'/'", "invalid JSON"},
};

static int test_process_parse_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_processes); i++) {
		cleanup_err struct husk_err *err = NULL;
		struct oci_process *p = NULL;
		const char *doc = q(bad_processes[i].doc);

		CHECK(oci_process_parse(doc, strlen(doc), &p, &err) == -EINVAL);
		CHECK(p == NULL);
		/* the path starts at the object: "args: ...", never "process.args: ..." */
		CHECK(strncmp(err->msg, bad_processes[i].msg, strlen(bad_processes[i].msg)) == 0);
	}
	return 0;
}

static int test_resources_parse(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct oci_resources *r = NULL;
	const char *doc =
	    q("{'memory':{'limit':1048576,'swap':2097152},'cpu':{'quota':-1,'period':100000},"
	      "'pids':{'limit':100},'unified':{'pids.max':'50'}}");

	CHECK(oci_resources_parse(doc, strlen(doc), &r, &err) == 0);
	CHECK(r->memory->limit.v == 1048576 && r->memory->swap.v == 2097152);
	CHECK(r->cpu->quota.v == -1 && r->cpu->period.v == 100000);
	CHECK(r->has_pids && r->pids_limit == 100);
	CHECK_STREQ(r->unified.items[0].value, "50");
	CHECK(!r->blkio && !r->has_network && r->n_devices == 0);
	oci_resources_free(r);
	r = NULL;
	doc = q("{'memory':{'limit':'1G'}}");
	CHECK(oci_resources_parse(doc, strlen(doc), &r, &err) == -EINVAL && !r);
	CHECK_STREQ(err->msg, "memory.limit: expected integer, got string");
	husk_err_freep(&err);
	doc = q("{'memory':{'swappiness':101}}");
	CHECK(oci_resources_parse(doc, strlen(doc), &r, &err) == -EINVAL);
	CHECK_STREQ(err->msg, "memory.swappiness: 101 out of range [0, 100]");
	husk_err_freep(&err);
	doc = q("{'pids':{}}");
	CHECK(oci_resources_parse(doc, strlen(doc), &r, &err) == 0);
	CHECK(!r->has_pids);
	oci_resources_free(r);
	return 0;
}

static const struct test tests[] = {
    {"invalid documents fail with path and reason", test_bad_documents},
    {"deep nesting and NUL bytes are refused", test_deep_nesting},
    {"comments are refused: they hid nesting from the bound", test_deep_nesting_after_comment},
    {"ociVersion 1.x accepted, with pre-release and build", test_versions},
    {"minimal document: defaults", test_minimal_defaults},
    {"unknown fields and nulls ignored", test_unknown_fields_ignored},
    {"docker's zero resources parse", test_docker_zero_resources},
    {"relative mount destination read from /", test_relative_mount_destination},
    {"load: errors carry the file name", test_load_file},
    {"lookups: caps, rlimits, namespaces", test_lookups},
    {"full document: top level, mounts, hooks, vm", test_full_top},
    {"full document: process", test_full_process},
    {"full document: linux", test_full_linux},
    {"full document: resources", test_full_resources},
    {"full document: seccomp", test_full_seccomp},
    {"oci_process_parse: valid", test_process_parse},
    {"oci_process_parse: errors start at the root", test_process_parse_errors},
    {"oci_resources_parse: valid and invalid", test_resources_parse},
};
TAP_MAIN(tests)
