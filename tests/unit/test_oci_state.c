/* oci/state, spec, features and the JSON layer: state.json round trip, the OCI state and
 * list shapes, the `husk spec` template and `husk features` document. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "oci/config.h"
#include "oci/json.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "tap.h"

static struct oci_kv kvs[] = {{"io.a", "1"}, {"run.husk.isolation", "process"}};

static struct husk_state sample = {
    .version = HUSK_STATE_VERSION,
    .id = "c1",
    .bundle = "/b",
    .rootfs = "/b/rootfs",
    .created = "2024-05-01T10:11:12.3456Z",
    .owner = "",
    .pid = 4242,
    .pid_start = 123456789012ULL,
    .created_done = true,
    .annotations = {kvs, 2},
    .cgroup_path = "/sys/fs/cgroup/husk/c1",
    .isolation = "process",
    .own_pidns = true,
    .config_path = "/b/config.json",
};

static int test_state_round_trip(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free char *buf = NULL;
	struct husk_state *s = NULL;
	size_t len;

	CHECK(husk_state_to_json(&sample, &buf, &len, &err) == 0);
	CHECK(len == strlen(buf));
	CHECK(husk_state_from_json(buf, len, &s, &err) == 0);
	CHECK(s->version == HUSK_STATE_VERSION);
	CHECK_STREQ(s->id, "c1");
	CHECK_STREQ(s->bundle, "/b");
	CHECK_STREQ(s->rootfs, "/b/rootfs");
	CHECK_STREQ(s->created, sample.created);
	CHECK_STREQ(s->owner, "");
	CHECK(s->pid == 4242 && s->pid_start == 123456789012ULL);
	CHECK(s->created_done && s->own_pidns);
	CHECK(s->annotations.n == 2);
	CHECK_STREQ(s->annotations.items[1].key, "run.husk.isolation");
	CHECK_STREQ(s->annotations.items[1].value, "process");
	CHECK_STREQ(s->cgroup_path, sample.cgroup_path);
	CHECK_STREQ(s->isolation, "process");
	CHECK_STREQ(s->config_path, "/b/config.json");
	husk_state_free(s);
	return 0;
}

static int test_state_minimal_and_unknown(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct husk_state *s = NULL;
	const char *doc = "{\"version\":1,\"id\":\"x\",\"future\":{\"a\":[1]}}";

	CHECK(husk_state_from_json(doc, strlen(doc), &s, &err) == 0);
	CHECK_STREQ(s->id, "x");
	CHECK(s->pid == 0 && !s->bundle && !s->created_done && s->annotations.n == 0);
	husk_state_free(s);
	return 0;
}

static const struct {
	const char *doc, *msg;
} bad_states[] = {
    {"{\"version\":2,\"id\":\"x\"}", "version: state version 2 is newer than this husk's (1)"},
    {"{\"id\":\"x\"}", "version: required field missing"},
    {"{\"version\":1}", "id: required field missing"},
    {"{\"version\":1,\"id\":\"x\",\"pid\":\"1\"}", "pid: expected integer, got string"},
    {"{\"version\":1,\"id\":\"x\",\"pid\":-4}", "pid: -4 out of range"},
    {"{\"version\":1,\"id\":\"x\",\"annotations\":{\"a\":1}}", "annotations.a: expected string"},
    {"{\"version\":1,", "invalid JSON"},
    {"", "invalid JSON"},
};

static int test_state_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_states); i++) {
		cleanup_err struct husk_err *err = NULL;
		struct husk_state *s = NULL;

		CHECK(husk_state_from_json(bad_states[i].doc, strlen(bad_states[i].doc), &s,
					   &err) == -EINVAL);
		CHECK(!s);
		CHECK_CONTAINS(err->msg, bad_states[i].msg);
	}
	return 0;
}

static int test_oci_state_pretty(void)
{
	cleanup_free char *out = oci_state_json(&sample, "running", true, NULL);

	CHECK_STREQ(out, "{\n"
			 "  \"ociVersion\": \"1.2.1\",\n"
			 "  \"id\": \"c1\",\n"
			 "  \"pid\": 4242,\n"
			 "  \"status\": \"running\",\n"
			 "  \"bundle\": \"/b\",\n"
			 "  \"rootfs\": \"/b/rootfs\",\n"
			 "  \"created\": \"2024-05-01T10:11:12.3456Z\",\n"
			 "  \"owner\": \"\",\n"
			 "  \"annotations\": {\n"
			 "    \"io.a\": \"1\",\n"
			 "    \"run.husk.isolation\": \"process\"\n"
			 "  }\n"
			 "}");
	return 0;
}

static int test_oci_state_compact_stopped(void)
{
	struct husk_state s = sample;
	cleanup_free char *stopped = NULL, *created = NULL;
	size_t len;

	s.annotations.n = 0;
	stopped = oci_state_json(&s, "stopped", false, &len);
	CHECK_STREQ(stopped, "{\"ociVersion\":\"1.2.1\",\"id\":\"c1\",\"status\":\"stopped\","
			     "\"bundle\":\"/b\",\"rootfs\":\"/b/rootfs\","
			     "\"created\":\"2024-05-01T10:11:12.3456Z\",\"owner\":\"\"}");
	CHECK(len == strlen(stopped));
	created = oci_state_json(&s, "created", false, NULL);
	CHECK_CONTAINS(created, "\"id\":\"c1\",\"pid\":4242,\"status\":\"created\"");
	return 0;
}

static int test_process_state_json(void)
{
	static const char *const fds[] = { "seccompFd", NULL };
	struct husk_state s = sample;
	cleanup_free char *out = NULL, *nometa = NULL;

	s.annotations.n = 0;
	out = oci_process_state_json(&s, "creating", 77, "m1", fds, NULL);
	CHECK_STREQ(out, "{\"ociVersion\":\"1.2.1\",\"fds\":[\"seccompFd\"],\"pid\":77,"
			 "\"metadata\":\"m1\",\"state\":{\"ociVersion\":\"1.2.1\",\"id\":\"c1\","
			 "\"pid\":4242,\"status\":\"creating\",\"bundle\":\"/b\","
			 "\"rootfs\":\"/b/rootfs\",\"created\":\"2024-05-01T10:11:12.3456Z\","
			 "\"owner\":\"\"}}");
	/* metadata is optional: absent, not empty */
	nometa = oci_process_state_json(&s, "running", 5, NULL, fds, NULL);
	CHECK(!strstr(nometa, "metadata"));
	CHECK_CONTAINS(nometa, "\"pid\":5,");
	return 0;
}

static int test_list_json(void)
{
	struct husk_state a = sample, b = sample;
	const struct husk_state *const states[] = {&a, &b};
	const char *const status[] = {"running", "stopped"};
	cleanup_free char *out = NULL, *empty = NULL;
	size_t len;

	b.id = "c2";
	b.annotations.n = 0;
	a.annotations.n = 1;
	out = oci_state_list_json(states, status, 2, &len);
	CHECK_STREQ(
	    out,
	    "[{\"ociVersion\":\"1.2.1\",\"id\":\"c1\",\"pid\":4242,\"status\":\"running\","
	    "\"bundle\":\"/b\",\"rootfs\":\"/b/rootfs\",\"created\":\"2024-05-01T10:11:12.3456Z\","
	    "\"owner\":\"\",\"annotations\":{\"io.a\":\"1\"}},"
	    "{\"ociVersion\":\"1.2.1\",\"id\":\"c2\",\"pid\":0,\"status\":\"stopped\","
	    "\"bundle\":\"/b\",\"rootfs\":\"/b/rootfs\",\"created\":\"2024-05-01T10:11:12.3456Z\","
	    "\"owner\":\"\"}]");
	CHECK(len == strlen(out));
	empty = oci_state_list_json(NULL, NULL, 0, &len);
	CHECK_STREQ(empty, "[]");
	CHECK(len == 2);
	return 0;
}

static int test_time_rfc3339(void)
{
	static const struct {
		struct timespec ts;
		const char *want;
	} cases[] = {
	    {{1714558272, 345600000}, "2024-05-01T10:11:12.3456Z"},
	    {{1714558272, 0}, "2024-05-01T10:11:12Z"},
	    {{0, 1}, "1970-01-01T00:00:00.000000001Z"},
	    {{951782400, 999999999}, "2000-02-29T00:00:00.999999999Z"},
	};
	cleanup_free char *now = oci_time_rfc3339(NULL);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *s = oci_time_rfc3339(&cases[i].ts);
		int ok = streq(s, cases[i].want);

		if (!ok)
			printf("# got %s want %s\n", s, cases[i].want);
		free(s);
		CHECK(ok);
	}
	CHECK(strlen(now) >= 20 && now[4] == '-' && now[10] == 'T' && now[strlen(now) - 1] == 'Z');
	return 0;
}

static int check_template(bool rootless)
{
	cleanup_err struct husk_err *err = NULL;
	struct oci_config *cfg = NULL;
	size_t len;
	cleanup_free char *buf = oci_spec_template(rootless, &len);
	int r;

	CHECK(buf && len == strlen(buf));
	CHECK(strncmp(buf,
		      "{\n\t\"ociVersion\": \"1.2.1\",\n\t\"process\": {\n\t\t\"terminal\": true,",
		      54) == 0);
	CHECK(buf[len - 1] == '}');
	r = oci_config_parse(buf, len, &cfg, &err);
	if (r < 0)
		printf("# %s\n", err->msg);
	CHECK(r == 0);
	CHECK_STREQ(cfg->hostname, "husk");
	CHECK_STREQ(cfg->root->path, "rootfs");
	CHECK(cfg->root->readonly && cfg->process->terminal && cfg->process->no_new_privileges);
	CHECK_STREQ(cfg->process->args[0], "sh");
	CHECK_STREQ(cfg->process->capabilities->ambient[2], "CAP_NET_BIND_SERVICE");
	CHECK(!cfg->process->capabilities->inheritable);
	CHECK(cfg->process->rlimits[0].soft == 1024);
	CHECK(cfg->n_mounts == 7);
	CHECK_STREQ(cfg->mounts[6].destination, "/sys/fs/cgroup");
	CHECK(cfg->mounts[0].options && !cfg->mounts[0].options[0]);
	CHECK(cfg->n_mounts == 7 && cfg->linux.n_namespaces == 5);
	CHECK(!!oci_config_ns(cfg, OCI_NS_USER) == rootless);
	CHECK(!!oci_config_ns(cfg, OCI_NS_NETWORK) == !rootless);
	CHECK(!!cfg->linux.resources == !rootless);
	CHECK(cfg->linux.n_uid_mappings == (rootless ? 1 : 0));
	CHECK_STREQ(cfg->mounts[5].type, rootless ? "none" : "sysfs");
	CHECK_STREQ(cfg->linux.masked_paths[0], "/proc/acpi");
	CHECK_STREQ(cfg->linux.readonly_paths[4], "/proc/sysrq-trigger");
	oci_config_free(cfg);
	return 0;
}

static int test_spec_template(void)
{
	return check_template(false) ?: check_template(true);
}

static int test_features(void)
{
	static const char *const opts[] = {"ro", "rbind", NULL};
	cleanup_err struct husk_err *err = NULL;
	cleanup_json_doc struct json_doc *doc = NULL, *doc2 = NULL;
	cleanup_free char *buf = NULL, *buf2 = NULL;
	const struct json_node *root, *lx, *n;
	size_t len;

	buf = oci_features_json(opts, &len);
	CHECK(buf && strncmp(buf, "{\n    \"ociVersionMin\": \"1.0.0\",", 31) == 0);
	CHECK(json_parse(buf, len, &doc, &err) == 0);
	root = json_doc_root(doc);
	CHECK(json_type(root) == JSON_OBJECT);
	CHECK(json_type(json_get(root, "ociVersionMax")) == JSON_STRING);
	CHECK(json_len(json_get(root, "hooks")) == 6);
	CHECK(json_len(json_get(root, "mountOptions")) == 2);
	lx = json_get(root, "linux");
	CHECK(json_len(json_get(lx, "namespaces")) == 8);
	CHECK(json_len(json_get(lx, "capabilities")) == 41);
	n = json_get(json_get(lx, "cgroup"), "v2");
	CHECK(n && json_type(n) == JSON_BOOL);
	n = json_get(lx, "seccomp");
	CHECK(json_len(json_get(n, "actions")) == 9 && json_len(json_get(n, "operators")) == 7);
	CHECK(json_len(json_get(n, "knownFlags")) == 4 && json_len(json_get(n, "archs")) == 23);
	CHECK(json_get(json_get(json_get(lx, "mountExtensions"), "idmap"), "enabled"));
	CHECK(json_get(json_get(root, "annotations"), "run.husk.version"));
	CHECK_CONTAINS(buf, "\"ociVersionMax\": \"1.2.1\"");
	CHECK_CONTAINS(buf, "\"apparmor\": {\n            \"enabled\": false\n        }");
	buf2 = oci_features_json(NULL, &len);
	CHECK(json_parse(buf2, len, &doc2, &err) == 0);
	CHECK(!json_get(json_doc_root(doc2), "mountOptions"));
	return 0;
}

static int test_json_gen(void)
{
	cleanup_json_gen struct json_gen *g = json_gen_new("  ");
	cleanup_json_gen struct json_gen *bad = json_gen_new(NULL);
	cleanup_free char *out = NULL;

	json_gen_map_open(g);
	json_gen_key(g, "e");
	json_gen_array_open(g);
	json_gen_array_close(g);
	json_gen_key(g, "o");
	json_gen_map_open(g);
	json_gen_map_close(g);
	json_gen_kuint64(g, "u", UINT64_MAX);
	json_gen_kint64(g, "i", INT64_MIN);
	json_gen_kstr(g, "s", "q\"\\\n\x01");
	json_gen_key(g, "n");
	json_gen_null(g);
	json_gen_map_close(g);
	out = json_gen_dup(g, NULL);
	CHECK_STREQ(out, "{\n  \"e\": [],\n  \"o\": {},\n  \"u\": 18446744073709551615,\n"
			 "  \"i\": -9223372036854775808,\n  \"s\": \"q\\\"\\\\\\n\\u0001\",\n"
			 "  \"n\": null\n}");
	json_gen_map_open(bad);
	json_gen_int64(bad, 1); /* a value where a key is due */
	json_gen_map_close(bad);
	CHECK(json_gen_buf(bad, NULL) == NULL);
	return 0;
}

static int test_json_paths(void)
{
	const struct json_path *p =
	    JSON_KEY(JSON_IDX(JSON_KEY(JSON_KEY(NULL, "linux"), "ns"), 2), "type");
	const struct json_path *s = JSON_KEY(JSON_KEY(JSON_KEY(NULL, "linux"), "sysctl"), "net.x");
	cleanup_free char *a = json_path_str(p), *b = json_path_str(s), *c = json_path_str(NULL);
	cleanup_free char *d = json_path_str(JSON_IDX(NULL, 0));

	CHECK_STREQ(a, "linux.ns[2].type");
	CHECK_STREQ(b, "linux.sysctl[\"net.x\"]");
	CHECK_STREQ(c, "");
	CHECK_STREQ(d, "[0]");
	return 0;
}

static const struct test tests[] = {
    {"state: round trip keeps every field", test_state_round_trip},
    {"state: minimal file, unknown fields ignored", test_state_minimal_and_unknown},
    {"state: bad files fail with the field", test_state_errors},
    {"oci state: pretty, runc's order, annotations", test_oci_state_pretty},
    {"oci state: compact, pid left out when stopped", test_oci_state_compact_stopped},
    {"process state json for a seccomp listener", test_process_state_json},
    {"list json: compact array, [] when empty", test_list_json},
    {"time: RFC 3339 with trimmed nanoseconds", test_time_rfc3339},
    {"spec template parses back, rootless too", test_spec_template},
    {"features: valid JSON with the expected shape", test_features},
    {"json_gen: empty containers, numbers, escapes, misuse", test_json_gen},
    {"json paths: indexes and quoted keys", test_json_paths},
};
TAP_MAIN(tests)
