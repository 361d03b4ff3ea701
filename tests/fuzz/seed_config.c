/* `seed_config DIR` writes fuzz_config's seed corpus: the documents of the config unit tests
 * (the file is included, so the seeds follow the tests), `husk spec` and `husk spec
 * --rootless`, a state.json, and a config with every run.husk.net.* annotation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec.h"
#include "oci/state.h"
#include "tests/unit/tap.h"

/* test_oci_config.c ends in TAP_MAIN(tests): make that our main instead */
static int write_seeds(const char *dir);
#undef TAP_MAIN
#define TAP_MAIN(tests)                                                                            \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		(void)tests;                                                                       \
		if (argc != 2) {                                                                   \
			fprintf(stderr, "usage: %s DIR\n", argv[0]);                               \
			return 2;                                                                  \
		}                                                                                  \
		return write_seeds(argv[1]);                                                       \
	}
#include "tests/unit/test_oci_config.c"

static const char net_doc[] =
    "{'ociVersion':'1.2.1','root':{'path':'rootfs'},"
    "'linux':{'namespaces':[{'type':'network'},{'type':'mount'}]},"
    "'annotations':{'run.husk.net.bridge':'hkbr0',"
    "  'run.husk.net.address':' 10.231.1.2/24 , fd00:231::2/64',"
    "  'run.husk.net.gateway':'fd00:231::1,10.231.1.1',"
    "  'run.husk.net.routes':'10.8.0.0/16 via 10.231.1.254',"
    "  'run.husk.net.mtu':'1400','run.husk.net.mac':'02:42:0A:e7:01:02'}}";

static const char state_doc[] =
    "{'version':1,'id':'c1','bundle':'/b','rootfs':'/b/rootfs',"
    "'created':'2024-05-01T10:11:12.3456Z','owner':'','pid':4242,'pidStart':123456789012,"
    "'createdDone':true,'annotations':{'io.a':'1','run.husk.isolation':'process'},"
    "'cgroupPath':'/sys/fs/cgroup/husk/c1','isolation':'process','ownPidns':true,"
    "'configPath':'/b/config.json'}";

static int write_seed(const char *dir, const char *name, const char *doc, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(doc, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "seed_config: write %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int write_quoted(const char *dir, const char *name, const char *doc)
{
	doc = q(doc);
	return write_seed(dir, name, doc, strlen(doc));
}

static int write_spec(const char *dir, const char *name, bool rootless)
{
	size_t len;
	char *doc = oci_spec_template(rootless, &len);
	int r = write_seed(dir, name, doc, len);

	free(doc);
	return r;
}

static int write_seeds(const char *dir)
{
	char name[64];
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(bad_docs); i++) {
		snprintf(name, sizeof(name), "unit-bad-%03zu", i);
		r |= write_quoted(dir, name, bad_docs[i].doc);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_processes); i++) {
		snprintf(name, sizeof(name), "unit-bad-process-%02zu", i);
		r |= write_quoted(dir, name, bad_processes[i].doc);
	}
	r |= write_quoted(dir, "unit-full", full_doc);
	r |= write_quoted(dir, "net-annotations", net_doc);
	r |= write_quoted(dir, "state", state_doc);
	r |= write_spec(dir, "spec", false);
	r |= write_spec(dir, "spec-rootless", true);
	return r;
}
