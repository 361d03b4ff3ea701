/* config.json: the top level (ociVersion, root, mounts, hooks, annotations, vm), the shared
 * parse helpers, loading, freeing, and lookups. Sections live in process.c, linux.c and
 * resources.c; semantic checks in validate.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "oci/names.h"
#include "oci/parse.h"

/* ---- shared helpers ---- */

int oci_read_array(const struct json_node *obj, const struct json_path *p, const char *key,
		   size_t size, void **items, size_t *n, oci_elem_fn fn, struct husk_err **err)
{
	const struct json_path *ap = JSON_KEY(p, key);
	const struct json_node *arr;
	int r;

	r = json_read_arr(obj, p, key, &arr, err);
	if (r <= 0)
		return r;
	*n = json_len(arr);
	*items = xcalloc(*n, size);
	for (size_t i = 0; i < *n; i++) {
		const struct json_node *e = json_elem(arr, i);

		r = fn(e, JSON_IDX(ap, i), (char *)*items + i * size, err);
		if (r < 0)
			return r;
	}
	return 1;
}

int oci_read_ou64(const struct json_node *obj, const struct json_path *p, const char *key,
		  uint64_t max, struct oci_u64 *out, struct husk_err **err)
{
	int r = json_read_u64(obj, p, key, max, &out->v, err);

	if (r > 0)
		out->set = true;
	return r;
}

int oci_read_oi64(const struct json_node *obj, const struct json_path *p, const char *key,
		  struct oci_i64 *out, struct husk_err **err)
{
	int r = json_read_i64(obj, p, key, INT64_MIN, INT64_MAX, &out->v, err);

	if (r > 0)
		out->set = true;
	return r;
}

int oci_read_u32(const struct json_node *obj, const struct json_path *p, const char *key,
		 uint32_t *out, struct husk_err **err)
{
	uint64_t v;
	int r = json_read_u64(obj, p, key, UINT32_MAX, &v, err);

	if (r > 0)
		*out = (uint32_t)v;
	return r;
}

int oci_read_map(const struct json_node *obj, const struct json_path *p, const char *key,
		 struct oci_map *out, struct husk_err **err)
{
	const struct json_path *mp = JSON_KEY(p, key);
	const struct json_node *m;
	int r;

	r = json_read_obj(obj, p, key, &m, err);
	if (r <= 0)
		return r;
	out->n = json_len(m);
	out->items = xcalloc(out->n, sizeof(*out->items));
	for (size_t i = 0; i < out->n; i++) {
		const struct json_node *v;
		const char *k = json_member(m, i, &v);

		out->items[i].key = xstrdup(k);
		r = json_as_str(v, JSON_KEY(mp, k), &out->items[i].value, err);
		if (r < 0)
			return r;
	}
	return 1;
}

void oci_map_clear(struct oci_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

static int parse_idmap(const struct json_node *n, const struct json_path *p, void *item,
		       struct husk_err **err)
{
	static const char *const keys[] = {"containerID", "hostID", "size"};
	struct oci_idmap *m = item;
	uint32_t *fields[] = {&m->container_id, &m->host_id, &m->size};
	int r;

	r = json_as_obj(n, p, err);
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(keys); i++) {
		r = oci_read_u32(n, p, keys[i], fields[i], err);
		if (r == 0)
			r = json_missing(err, p, keys[i]);
	}
	return r < 0 ? r : 0;
}

int oci_read_idmaps(const struct json_node *obj, const struct json_path *p, const char *key,
		    struct oci_idmap **out, size_t *n, struct husk_err **err)
{
	return oci_read_array(obj, p, key, sizeof(**out), (void **)out, n, parse_idmap, err);
}

/* ---- root, mounts, hooks ---- */

static int parse_root(const struct json_node *n, const struct json_path *p, struct oci_root *root,
		      struct husk_err **err)
{
	int r;

	r = json_read_str(n, p, "path", &root->path, err);
	if (r == 0)
		return json_missing(err, p, "path");
	if (r < 0)
		return r;
	r = json_read_bool(n, p, "readonly", &root->readonly, err);
	return r < 0 ? r : 0;
}

static int parse_mount(const struct json_node *n, const struct json_path *p, void *item,
		       struct husk_err **err)
{
	struct oci_mount *m = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	r = json_read_str(n, p, "destination", &m->destination, err);
	if (r == 0)
		return json_missing(err, p, "destination");
	if (r < 0 || (r = json_read_str(n, p, "type", &m->type, err)) < 0 ||
	    (r = json_read_str(n, p, "source", &m->source, err)) < 0 ||
	    (r = json_read_strv(n, p, "options", &m->options, err)) < 0 ||
	    (r = oci_read_idmaps(n, p, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err)) <
		0 ||
	    (r = oci_read_idmaps(n, p, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err)) <
		0)
		return r;
	if (!m->options)
		m->options = xcalloc(1, sizeof(char *));
	return 0;
}

static int parse_hook(const struct json_node *n, const struct json_path *p, void *item,
		      struct husk_err **err)
{
	struct oci_hook *h = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	r = json_read_str(n, p, "path", &h->path, err);
	if (r == 0)
		return json_missing(err, p, "path");
	if (r < 0 || (r = json_read_strv(n, p, "args", &h->args, err)) < 0 ||
	    (r = json_read_strv(n, p, "env", &h->env, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "timeout", &h->timeout, err)) < 0)
		return r;
	return 0;
}

static int parse_hooks(const struct json_node *n, const struct json_path *p,
		       struct oci_hook_list *hooks, struct husk_err **err)
{
	for (int k = 0; k < OCI_HOOK_KINDS; k++) {
		int r = oci_read_array(n, p, oci_hook_names[k], sizeof(struct oci_hook),
				       (void **)&hooks[k].items, &hooks[k].n, parse_hook, err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- vm (config-vm.md; hwConfig from runtime-spec 1.3) ---- */

static int parse_vm_part(const struct json_node *vm, const struct json_path *p, const char *key,
			 char **path, char **(*params), struct husk_err **err)
{
	const struct json_path *kp = JSON_KEY(p, key);
	const struct json_node *n;
	int r;

	r = json_read_obj(vm, p, key, &n, err);
	if (r <= 0)
		return r;
	r = json_read_str(n, kp, "path", path, err);
	if (r == 0)
		return json_missing(err, kp, "path");
	if (r > 0 && params)
		r = json_read_strv(n, kp, "parameters", params, err);
	return r < 0 ? r : 1;
}

static int parse_vm(const struct json_node *n, const struct json_path *p, struct oci_vm *vm,
		    struct husk_err **err)
{
	const struct json_path *kp = JSON_KEY(p, "kernel"), *hp = JSON_KEY(p, "hwConfig");
	const struct json_node *k, *img, *hw;
	int r;

	r = parse_vm_part(n, p, "hypervisor", &vm->hypervisor_path, &vm->hypervisor_parameters,
			  err);
	if (r < 0)
		return r;
	r = parse_vm_part(n, p, "kernel", &vm->kernel_path, &vm->kernel_parameters, err);
	if (r == 0)
		return json_missing(err, p, "kernel");
	if (r < 0 || (r = json_read_obj(n, p, "kernel", &k, err)) < 0 ||
	    (r = json_read_str(k, kp, "initrd", &vm->kernel_initrd, err)) < 0)
		return r;
	r = parse_vm_part(n, p, "image", &vm->image_path, NULL, err);
	if (r > 0 && (r = json_read_obj(n, p, "image", &img, err)) > 0) {
		r = json_read_str(img, JSON_KEY(p, "image"), "format", &vm->image_format, err);
		if (r == 0)
			return json_missing(err, JSON_KEY(p, "image"), "format");
	}
	if (r < 0 || (r = json_read_obj(n, p, "hwConfig", &hw, err)) <= 0)
		return r;
	if ((r = oci_read_ou64(hw, hp, "vcpus", UINT32_MAX, &vm->hw_vcpus, err)) < 0 ||
	    (r = oci_read_ou64(hw, hp, "memory", UINT64_MAX, &vm->hw_memory, err)) < 0)
		return r;
	return 0;
}

static void vm_free(struct oci_vm *vm)
{
	if (!vm)
		return;
	free(vm->hypervisor_path);
	strv_free(vm->hypervisor_parameters);
	free(vm->kernel_path);
	strv_free(vm->kernel_parameters);
	free(vm->kernel_initrd);
	free(vm->image_path);
	free(vm->image_format);
	free(vm);
}

/* ---- top level ---- */

/* Each optional object section: allocate, parse, keep. */
#define SECTION(key, field, fn)                                                                    \
	do {                                                                                       \
		const struct json_node *s;                                                         \
		r = json_read_obj(root, NULL, key, &s, err);                                       \
		if (r < 0)                                                                         \
			return r;                                                                  \
		if (r > 0) {                                                                       \
			cfg->field = xcalloc(1, sizeof(*cfg->field));                              \
			r = fn(s, JSON_KEY(NULL, key), cfg->field, err);                           \
			if (r < 0)                                                                 \
				return r;                                                          \
		}                                                                                  \
	} while (0)

static int parse_top(const struct json_node *root, struct oci_config *cfg, struct husk_err **err)
{
	const struct json_node *n;
	int r;

	if ((r = json_as_obj(root, NULL, err)) < 0)
		return r;
	r = json_read_str(root, NULL, "ociVersion", &cfg->oci_version, err);
	if (r == 0)
		return json_missing(err, NULL, "ociVersion");
	if (r < 0)
		return r;
	SECTION("root", root, parse_root);
	r = oci_read_array(root, NULL, "mounts", sizeof(struct oci_mount), (void **)&cfg->mounts,
			   &cfg->n_mounts, parse_mount, err);
	if (r < 0)
		return r;
	SECTION("process", process, oci_parse_process);
	if ((r = json_read_str(root, NULL, "hostname", &cfg->hostname, err)) < 0 ||
	    (r = json_read_str(root, NULL, "domainname", &cfg->domainname, err)) < 0 ||
	    (r = oci_read_map(root, NULL, "annotations", &cfg->annotations, err)) < 0)
		return r;
	r = json_read_obj(root, NULL, "hooks", &n, err);
	if (r > 0)
		r = parse_hooks(n, JSON_KEY(NULL, "hooks"), cfg->hooks, err);
	if (r < 0)
		return r;
	r = json_read_obj(root, NULL, "linux", &n, err);
	if (r > 0) {
		cfg->has_linux = true;
		r = oci_parse_linux(n, JSON_KEY(NULL, "linux"), &cfg->linux, err);
	}
	if (r < 0)
		return r;
	SECTION("vm", vm, parse_vm);
	return 0;
}

int oci_config_parse(const char *buf, size_t len, struct oci_config **out, struct husk_err **err)
{
	cleanup_json_doc struct json_doc *doc = NULL;
	struct oci_config *cfg;
	int r;

	r = json_parse(buf, len, &doc, err);
	if (r < 0)
		return r;
	cfg = xcalloc(1, sizeof(*cfg));
	r = parse_top(json_doc_root(doc), cfg, err);
	if (r >= 0)
		r = oci_validate_config(cfg, err);
	if (r < 0) {
		oci_config_free(cfg);
		return r;
	}
	/* fields the rest of husk may rely on being non-NULL */
	if (!cfg->linux.masked_paths)
		cfg->linux.masked_paths = xcalloc(1, sizeof(char *));
	if (!cfg->linux.readonly_paths)
		cfg->linux.readonly_paths = xcalloc(1, sizeof(char *));
	*out = cfg;
	return 0;
}

int oci_config_load(const char *path, struct oci_config **out, struct husk_err **err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int r;

	if (fd_read_at(AT_FDCWD, path, &buf, &len, err) < 0)
		return -(*err)->code;
	r = oci_config_parse(buf, len, out, err);
	if (r < 0)
		return husk_err_wrap(err, "`%s`", path);
	return 0;
}

static void mounts_free(struct oci_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].destination);
		free(m[i].type);
		free(m[i].source);
		strv_free(m[i].options);
		free(m[i].uid_mappings);
		free(m[i].gid_mappings);
	}
	free(m);
}

static void hooks_free(struct oci_hook_list *hooks)
{
	for (int k = 0; k < OCI_HOOK_KINDS; k++) {
		for (size_t i = 0; i < hooks[k].n; i++) {
			free(hooks[k].items[i].path);
			strv_free(hooks[k].items[i].args);
			strv_free(hooks[k].items[i].env);
		}
		free(hooks[k].items);
	}
}

void oci_config_free(struct oci_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->oci_version);
	if (cfg->root)
		free(cfg->root->path);
	free(cfg->root);
	mounts_free(cfg->mounts, cfg->n_mounts);
	oci_process_free(cfg->process);
	free(cfg->hostname);
	free(cfg->domainname);
	hooks_free(cfg->hooks);
	oci_map_clear(&cfg->annotations);
	oci_linux_clear(&cfg->linux);
	vm_free(cfg->vm);
	free(cfg);
}

/* ---- lookups ---- */

const struct oci_namespace *oci_config_ns(const struct oci_config *cfg, enum oci_ns_type t)
{
	for (size_t i = 0; i < cfg->linux.n_namespaces; i++)
		if (cfg->linux.namespaces[i].type == t)
			return &cfg->linux.namespaces[i];
	return NULL;
}

const char *oci_annotation(const struct oci_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->annotations.n; i++)
		if (streq(cfg->annotations.items[i].key, key))
			return cfg->annotations.items[i].value;
	return NULL;
}
