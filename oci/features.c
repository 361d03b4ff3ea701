/* `husk features` (features.md, features-linux.md): what this husk recognises, built from
 * the same tables the validator uses, so the two cannot disagree. */
#include <stdlib.h>

#include "common/util.h"
#include "oci/json.h"
#include "oci/names.h"
#include "oci/spec.h"

/* husk writes seccomp filters through libseccomp; TSYNC is known but pointless for a
 * single-threaded init, so it is not offered (runc does the same). */
static const char *const supported_seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    NULL,
};

/* cgroup support compiled in: v2 only (see DESIGN.md), no systemd driver yet. */
static const struct {
	const char *key;
	bool on;
} cgroup_features[] = {
    {"v1", false}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true},
};

static const char *const disabled_lsms[] = {"apparmor", "selinux", "intelRdt"};

static void gen_enabled(struct json_gen *g, const char *key, bool on)
{
	json_gen_key(g, key);
	json_gen_map_open(g);
	json_gen_kbool(g, "enabled", on);
	json_gen_map_close(g);
}

static void gen_seccomp(struct json_gen *g)
{
	json_gen_key(g, "seccomp");
	json_gen_map_open(g);
	json_gen_kbool(g, "enabled", true);
	json_gen_key(g, "actions");
	json_gen_strv(g, oci_seccomp_actions);
	json_gen_key(g, "operators");
	json_gen_strv(g, oci_seccomp_operators);
	json_gen_key(g, "archs");
	json_gen_strv(g, oci_seccomp_archs);
	json_gen_key(g, "knownFlags");
	json_gen_strv(g, oci_seccomp_flags);
	json_gen_key(g, "supportedFlags");
	json_gen_strv(g, supported_seccomp_flags);
	json_gen_map_close(g);
}

static void gen_linux(struct json_gen *g)
{
	json_gen_key(g, "linux");
	json_gen_map_open(g);
	json_gen_key(g, "namespaces");
	json_gen_array_open(g);
	for (int t = 0; t < OCI_NS_TYPES; t++)
		json_gen_str(g, oci_ns_name(t));
	json_gen_array_close(g);
	json_gen_key(g, "capabilities");
	json_gen_array_open(g);
	for (int c = 0; c <= OCI_CAP_LAST; c++)
		json_gen_str(g, oci_cap_name(c));
	json_gen_array_close(g);
	json_gen_key(g, "cgroup");
	json_gen_map_open(g);
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_features); i++)
		json_gen_kbool(g, cgroup_features[i].key, cgroup_features[i].on);
	json_gen_map_close(g);
	gen_seccomp(g);
	for (size_t i = 0; i < ARRAY_SIZE(disabled_lsms); i++)
		gen_enabled(g, disabled_lsms[i], false);
	json_gen_key(g, "mountExtensions");
	json_gen_map_open(g);
	gen_enabled(g, "idmap", true);
	json_gen_map_close(g);
	json_gen_map_close(g);
}

char *oci_features_json(const char *const *mount_options, size_t *len)
{
	cleanup_json_gen struct json_gen *g = json_gen_new("    ");

	json_gen_map_open(g);
	json_gen_kstr(g, "ociVersionMin", "1.0.0");
	json_gen_kstr(g, "ociVersionMax", OCI_VERSION);
	json_gen_key(g, "hooks");
	json_gen_strv(g, oci_hook_names);
	if (mount_options) {
		json_gen_key(g, "mountOptions");
		json_gen_strv(g, mount_options);
	}
	gen_linux(g);
	json_gen_key(g, "annotations");
	json_gen_map_open(g);
	json_gen_kstr(g, "run.husk.version", HUSK_VERSION);
	json_gen_map_close(g);
	json_gen_map_close(g);
	return json_gen_dup(g, len);
}
