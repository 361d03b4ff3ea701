/* The linux object (config-linux.md): namespaces, id mappings, time offsets, devices,
 * seccomp, personality and the rest; resources are in resources.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "oci/names.h"
#include "oci/parse.h"

static int parse_namespace(const struct json_node *n, const struct json_path *p, void *item,
			   struct husk_err **err)
{
	struct oci_namespace *ns = item;
	char *type = NULL;
	int r, t;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_need_str(n, p, "type", &type, err)) < 0)
		return r;
	t = oci_ns_from_name(type);
	if (t < 0)
		r = json_err(err, JSON_KEY(p, "type"), "unknown namespace type \"%s\"", type);
	free(type);
	if (r < 0)
		return r;
	ns->type = t;
	r = json_read_str(n, p, "path", &ns->path, err);
	return r < 0 ? r : 0;
}

/* timeOffsets: {"monotonic": {secs, nanosecs}, "boottime": {...}} */
static int parse_time_offsets(const struct json_node *n, const struct json_path *p,
			      struct oci_linux *l, struct husk_err **err)
{
	for (size_t i = 0; i < json_len(n); i++) {
		const struct json_node *v;
		const char *clock = json_member(n, i, &v);
		const struct json_path *cp = JSON_KEY(p, clock);
		struct oci_time_offset *o;
		uint32_t ns = 0;
		int r;

		if (streq(clock, "monotonic"))
			o = &l->time_monotonic;
		else if (streq(clock, "boottime"))
			o = &l->time_boottime;
		else
			return json_err(err, cp, "unknown clock (expected monotonic or boottime)");
		if ((r = json_as_obj(v, cp, err)) < 0 ||
		    (r = json_read_i64(v, cp, "secs", INT64_MIN, INT64_MAX, &o->secs, err)) < 0 ||
		    (r = oci_read_u32(v, cp, "nanosecs", &ns, err)) < 0)
			return r;
		/* time_namespaces(7): the kernel takes nanoseconds below one second only */
		if (ns >= 1000000000u)
			return json_err(err, JSON_KEY(cp, "nanosecs"), "must be below 1000000000");
		o->nanosecs = ns;
		o->set = true;
	}
	return 0;
}

static int parse_device(const struct json_node *n, const struct json_path *p, void *item,
			struct husk_err **err)
{
	struct oci_device *d = item;
	struct oci_i64 major = {0}, minor = {0};
	char *type = NULL;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_read_str(n, p, "path", &d->path, err)) == 0)
		return json_missing(err, p, "path");
	if (r < 0 || (r = json_read_str(n, p, "type", &type, err)) <= 0)
		return r < 0 ? r : json_missing(err, p, "type");
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		r = json_err(err, JSON_KEY(p, "type"),
			     "unknown device type \"%s\" (expected c, b, u or p)", type);
	d->type = type[0];
	free(type);
	if (r < 0 || (r = oci_read_oi64(n, p, "major", &major, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "minor", &minor, err)) < 0)
		return r;
	/* config-linux.md#devices: major and minor are required unless the type is p */
	if (d->type != 'p' && !major.set)
		return json_missing(err, p, "major");
	if (d->type != 'p' && !minor.set)
		return json_missing(err, p, "minor");
	d->major = major.v;
	d->minor = minor.v;
	if ((r = oci_read_ou64(n, p, "fileMode", UINT32_MAX, &d->file_mode, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "uid", UINT32_MAX, &d->uid, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "gid", UINT32_MAX, &d->gid, err)) < 0)
		return r;
	return 0;
}

static int parse_seccomp_arg(const struct json_node *n, const struct json_path *p, void *item,
			     struct husk_err **err)
{
	struct oci_seccomp_arg *a = item;
	uint64_t index;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	/* seccomp(2) filters see six syscall arguments */
	if ((r = json_read_u64(n, p, "index", 5, &index, err)) == 0)
		return json_missing(err, p, "index");
	if (r < 0)
		return r;
	a->index = (unsigned)index;
	if ((r = json_read_u64(n, p, "value", UINT64_MAX, &a->value, err)) == 0)
		return json_missing(err, p, "value");
	if (r < 0 || (r = json_read_u64(n, p, "valueTwo", UINT64_MAX, &a->value_two, err)) < 0)
		return r;
	return json_need_str(n, p, "op", &a->op, err);
}

static int parse_syscall(const struct json_node *n, const struct json_path *p, void *item,
			 struct husk_err **err)
{
	struct oci_syscall *s = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_need_strv(n, p, "names", &s->names, err)) < 0)
		return r;
	if ((r = json_read_str(n, p, "action", &s->action, err)) == 0)
		return json_missing(err, p, "action");
	if (r < 0 || (r = oci_read_ou64(n, p, "errnoRet", UINT32_MAX, &s->errno_ret, err)) < 0)
		return r;
	r = oci_read_array(n, p, "args", sizeof(*s->args), (void **)&s->args, &s->n_args,
			   parse_seccomp_arg, err);
	return r < 0 ? r : 0;
}

static int parse_seccomp(const struct json_node *n, const struct json_path *p,
			 struct oci_seccomp *s, struct husk_err **err)
{
	int r;

	if ((r = json_read_str(n, p, "defaultAction", &s->default_action, err)) == 0)
		return json_missing(err, p, "defaultAction");
	if (r < 0 ||
	    (r = oci_read_ou64(n, p, "defaultErrnoRet", UINT32_MAX, &s->default_errno_ret, err)) <
		0 ||
	    (r = json_read_strv(n, p, "architectures", &s->architectures, err)) < 0 ||
	    (r = json_read_strv(n, p, "flags", &s->flags, err)) < 0 ||
	    (r = json_read_str(n, p, "listenerPath", &s->listener_path, err)) < 0 ||
	    (r = json_read_str(n, p, "listenerMetadata", &s->listener_metadata, err)) < 0)
		return r;
	r = oci_read_array(n, p, "syscalls", sizeof(*s->syscalls), (void **)&s->syscalls,
			   &s->n_syscalls, parse_syscall, err);
	return r < 0 ? r : 0;
}

static int parse_intel_rdt(const struct json_node *n, const struct json_path *p,
			   struct oci_intel_rdt *rdt, struct husk_err **err)
{
	int r;

	if ((r = json_read_str(n, p, "closID", &rdt->clos_id, err)) < 0 ||
	    (r = json_read_str(n, p, "l3CacheSchema", &rdt->l3_cache_schema, err)) < 0 ||
	    (r = json_read_str(n, p, "memBwSchema", &rdt->mem_bw_schema, err)) < 0 ||
	    (r = json_read_bool(n, p, "enableCMT", &rdt->enable_cmt, err)) < 0 ||
	    (r = json_read_bool(n, p, "enableMBM", &rdt->enable_mbm, err)) < 0)
		return r;
	return 0;
}

static int parse_personality(const struct json_node *n, const struct json_path *p,
			     struct oci_personality *pers, struct husk_err **err)
{
	int r;

	if ((r = json_read_str(n, p, "domain", &pers->domain, err)) == 0)
		return json_missing(err, p, "domain");
	if (r < 0 || (r = json_read_strv(n, p, "flags", &pers->flags, err)) < 0)
		return r;
	return 0;
}

/* An optional object member parsed into a freshly allocated struct. */
#define SUBOBJ(key, field, fn)                                                                     \
	do {                                                                                       \
		const struct json_node *s;                                                         \
		if ((r = json_read_obj(n, p, key, &s, err)) < 0)                                   \
			return r;                                                                  \
		if (r > 0) {                                                                       \
			l->field = xcalloc(1, sizeof(*l->field));                                  \
			if ((r = fn(s, JSON_KEY(p, key), l->field, err)) < 0)                      \
				return r;                                                          \
		}                                                                                  \
	} while (0)

static int parse_strings(const struct json_node *n, const struct json_path *p, struct oci_linux *l,
			 struct husk_err **err)
{
	int r;

	if ((r = json_read_str(n, p, "cgroupsPath", &l->cgroups_path, err)) < 0 ||
	    (r = json_read_str(n, p, "rootfsPropagation", &l->rootfs_propagation, err)) < 0 ||
	    (r = json_read_strv(n, p, "maskedPaths", &l->masked_paths, err)) < 0 ||
	    (r = json_read_strv(n, p, "readonlyPaths", &l->readonly_paths, err)) < 0 ||
	    (r = json_read_str(n, p, "mountLabel", &l->mount_label, err)) < 0 ||
	    (r = oci_read_map(n, p, "sysctl", &l->sysctl, err)) < 0)
		return r;
	return 0;
}

int oci_parse_linux(const struct json_node *n, const struct json_path *p, struct oci_linux *l,
		    struct husk_err **err)
{
	const struct json_node *s;
	int r;

	r = oci_read_array(n, p, "namespaces", sizeof(*l->namespaces), (void **)&l->namespaces,
			   &l->n_namespaces, parse_namespace, err);
	if (r < 0 ||
	    (r = oci_read_idmaps(n, p, "uidMappings", &l->uid_mappings, &l->n_uid_mappings, err)) <
		0 ||
	    (r = oci_read_idmaps(n, p, "gidMappings", &l->gid_mappings, &l->n_gid_mappings, err)) <
		0)
		return r;
	if ((r = json_read_obj(n, p, "timeOffsets", &s, err)) > 0)
		r = parse_time_offsets(s, JSON_KEY(p, "timeOffsets"), l, err);
	if (r < 0)
		return r;
	r = oci_read_array(n, p, "devices", sizeof(*l->devices), (void **)&l->devices,
			   &l->n_devices, parse_device, err);
	if (r < 0 || (r = parse_strings(n, p, l, err)) < 0)
		return r;
	SUBOBJ("resources", resources, oci_parse_resources);
	SUBOBJ("intelRdt", intel_rdt, parse_intel_rdt);
	SUBOBJ("seccomp", seccomp, parse_seccomp);
	SUBOBJ("personality", personality, parse_personality);
	return 0;
}

static void seccomp_free(struct oci_seccomp *s)
{
	if (!s)
		return;
	free(s->default_action);
	strv_free(s->architectures);
	strv_free(s->flags);
	free(s->listener_path);
	free(s->listener_metadata);
	for (size_t i = 0; i < s->n_syscalls; i++) {
		strv_free(s->syscalls[i].names);
		free(s->syscalls[i].action);
		for (size_t j = 0; j < s->syscalls[i].n_args; j++)
			free(s->syscalls[i].args[j].op);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
	free(s);
}

void oci_linux_clear(struct oci_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	oci_resources_free(l->resources);
	if (l->intel_rdt) {
		free(l->intel_rdt->clos_id);
		free(l->intel_rdt->l3_cache_schema);
		free(l->intel_rdt->mem_bw_schema);
		free(l->intel_rdt);
	}
	oci_map_clear(&l->sysctl);
	seccomp_free(l->seccomp);
	free(l->rootfs_propagation);
	strv_free(l->masked_paths);
	strv_free(l->readonly_paths);
	free(l->mount_label);
	if (l->personality) {
		free(l->personality->domain);
		strv_free(l->personality->flags);
		free(l->personality);
	}
	memset(l, 0, sizeof(*l));
}
