/* linux.resources (config-linux.md#control-groups): devices, memory, cpu, pids, blockIO,
 * hugepageLimits, network, rdma, unified; and oci_resources_parse() for `update`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "oci/parse.h"

static int parse_device_rule(const struct json_node *n, const struct json_path *p, void *item,
			     struct husk_err **err)
{
	struct oci_device_rule *d = item;
	char *s = NULL;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_read_bool(n, p, "allow", &d->allow, err)) == 0)
		return json_missing(err, p, "allow");
	if (r < 0 || (r = oci_read_oi64(n, p, "major", &d->major, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "minor", &d->minor, err)) < 0)
		return r;
	d->type = 'a';
	if ((r = json_read_str(n, p, "type", &s, err)) > 0) {
		if (strlen(s) != 1 || !strchr("acb", s[0]))
			r = json_err(err, JSON_KEY(p, "type"),
				     "unknown device type \"%s\" (expected a, c or b)", s);
		d->type = s[0];
		free(s);
		s = NULL;
	}
	if (r < 0)
		return r;
	strcpy(d->access, "rwm");
	if ((r = json_read_str(n, p, "access", &s, err)) > 0) {
		/* at most "rwm" in any order, each letter once */
		if (strlen(s) > 3 || strspn(s, "rwm") != strlen(s) ||
		    (strchr(s, 'r') != strrchr(s, 'r')) || (strchr(s, 'w') != strrchr(s, 'w')) ||
		    (strchr(s, 'm') != strrchr(s, 'm')))
			r = json_err(err, JSON_KEY(p, "access"),
				     "invalid access \"%s\" (expected a combination of r, w and m)",
				     s);
		else
			strcpy(d->access, s);
		free(s);
	}
	return r < 0 ? r : 0;
}

static int parse_memory(const struct json_node *n, const struct json_path *p, struct oci_memory *m,
			struct husk_err **err)
{
	int r;

	if ((r = oci_read_oi64(n, p, "limit", &m->limit, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "reservation", &m->reservation, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "swap", &m->swap, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "kernel", &m->kernel, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "kernelTCP", &m->kernel_tcp, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "swappiness", UINT64_MAX, &m->swappiness, err)) < 0)
		return r;
	if ((r = json_read_bool(n, p, "disableOOMKiller", &m->disable_oom_killer, err)) < 0)
		return r;
	m->has_disable_oom_killer = r > 0;
	if ((r = json_read_bool(n, p, "useHierarchy", &m->use_hierarchy, err)) < 0)
		return r;
	m->has_use_hierarchy = r > 0;
	if ((r = json_read_bool(n, p, "checkBeforeUpdate", &m->check_before_update, err)) < 0)
		return r;
	m->has_check_before_update = r > 0;
	return 0;
}

static int parse_cpu(const struct json_node *n, const struct json_path *p, struct oci_cpu *c,
		     struct husk_err **err)
{
	int r;

	if ((r = oci_read_ou64(n, p, "shares", UINT64_MAX, &c->shares, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "quota", &c->quota, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "burst", UINT64_MAX, &c->burst, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "period", UINT64_MAX, &c->period, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "realtimeRuntime", &c->realtime_runtime, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "realtimePeriod", UINT64_MAX, &c->realtime_period, err)) < 0 ||
	    (r = json_read_str(n, p, "cpus", &c->cpus, err)) < 0 ||
	    (r = json_read_str(n, p, "mems", &c->mems, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "idle", &c->idle, err)) < 0)
		return r;
	return 0;
}

/* major and minor, both required (LinuxBlockIODevice) */
static int parse_major_minor(const struct json_node *n, const struct json_path *p, int64_t *major,
			     int64_t *minor, struct husk_err **err)
{
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_read_i64(n, p, "major", INT64_MIN, INT64_MAX, major, err)) == 0)
		return json_missing(err, p, "major");
	if (r < 0)
		return r;
	if ((r = json_read_i64(n, p, "minor", INT64_MIN, INT64_MAX, minor, err)) == 0)
		return json_missing(err, p, "minor");
	return r < 0 ? r : 0;
}

static int parse_weight_device(const struct json_node *n, const struct json_path *p, void *item,
			       struct husk_err **err)
{
	struct oci_weight_device *w = item;
	int r;

	if ((r = parse_major_minor(n, p, &w->major, &w->minor, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "weight", UINT16_MAX, &w->weight, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "leafWeight", UINT16_MAX, &w->leaf_weight, err)) < 0)
		return r;
	return 0;
}

static int parse_throttle_device(const struct json_node *n, const struct json_path *p, void *item,
				 struct husk_err **err)
{
	struct oci_throttle_device *t = item;
	int r;

	if ((r = parse_major_minor(n, p, &t->major, &t->minor, err)) < 0)
		return r;
	if ((r = json_read_u64(n, p, "rate", UINT64_MAX, &t->rate, err)) == 0)
		return json_missing(err, p, "rate");
	return r < 0 ? r : 0;
}

static int parse_blkio(const struct json_node *n, const struct json_path *p, struct oci_blkio *b,
		       struct husk_err **err)
{
	static const char *const keys[] = {"throttleReadBpsDevice", "throttleWriteBpsDevice",
					   "throttleReadIOPSDevice", "throttleWriteIOPSDevice"};
	struct oci_throttle_list *lists[] = {&b->read_bps, &b->write_bps, &b->read_iops,
					     &b->write_iops};
	int r;

	if ((r = oci_read_ou64(n, p, "weight", UINT16_MAX, &b->weight, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "leafWeight", UINT16_MAX, &b->leaf_weight, err)) < 0)
		return r;
	r = oci_read_array(n, p, "weightDevice", sizeof(*b->weight_devices),
			   (void **)&b->weight_devices, &b->n_weight_devices, parse_weight_device,
			   err);
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(keys); i++)
		r = oci_read_array(n, p, keys[i], sizeof(struct oci_throttle_device),
				   (void **)&lists[i]->items, &lists[i]->n, parse_throttle_device,
				   err);
	return r < 0 ? r : 0;
}

static int parse_hugepage(const struct json_node *n, const struct json_path *p, void *item,
			  struct husk_err **err)
{
	struct oci_hugepage_limit *h = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_need_str(n, p, "pageSize", &h->page_size, err)) < 0)
		return r;
	if ((r = json_read_u64(n, p, "limit", UINT64_MAX, &h->limit, err)) == 0)
		return json_missing(err, p, "limit");
	return r < 0 ? r : 0;
}

static int parse_net_priority(const struct json_node *n, const struct json_path *p, void *item,
			      struct husk_err **err)
{
	struct oci_net_priority *np = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	if ((r = json_need_str(n, p, "name", &np->name, err)) < 0)
		return r;
	if ((r = oci_read_u32(n, p, "priority", &np->priority, err)) == 0)
		return json_missing(err, p, "priority");
	return r < 0 ? r : 0;
}

/* rdma: {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}} */
static int parse_rdma(const struct json_node *n, const struct json_path *p,
		      struct oci_resources *res, struct husk_err **err)
{
	res->n_rdma = json_len(n);
	res->rdma = xcalloc(res->n_rdma, sizeof(*res->rdma));
	for (size_t i = 0; i < res->n_rdma; i++) {
		const struct json_node *v;
		const char *dev = json_member(n, i, &v);
		const struct json_path *dp = JSON_KEY(p, dev);
		struct oci_rdma *rd = &res->rdma[i];
		int r;

		rd->device = xstrdup(dev);
		if ((r = json_as_obj(v, dp, err)) < 0 ||
		    (r = oci_read_ou64(v, dp, "hcaHandles", UINT32_MAX, &rd->hca_handles, err)) <
			0 ||
		    (r = oci_read_ou64(v, dp, "hcaObjects", UINT32_MAX, &rd->hca_objects, err)) < 0)
			return r;
	}
	return 0;
}

static int parse_network(const struct json_node *n, const struct json_path *p,
			 struct oci_resources *res, struct husk_err **err)
{
	int r;

	res->has_network = true;
	if ((r = oci_read_ou64(n, p, "classID", UINT32_MAX, &res->net_class_id, err)) < 0)
		return r;
	r = oci_read_array(n, p, "priorities", sizeof(*res->net_priorities),
			   (void **)&res->net_priorities, &res->n_net_priorities,
			   parse_net_priority, err);
	return r < 0 ? r : 0;
}

/* An optional object member handed to fn(member, path, arg). */
#define SUBOBJ_FN(key, fn, arg)                                                                    \
	do {                                                                                       \
		const struct json_node *s;                                                         \
		if ((r = json_read_obj(n, p, key, &s, err)) < 0)                                   \
			return r;                                                                  \
		if (r > 0 && (r = fn(s, JSON_KEY(p, key), (arg), err)) < 0)                        \
			return r;                                                                  \
	} while (0)
#define SUBOBJ(key, field, fn)                                                                     \
	do {                                                                                       \
		const struct json_node *s;                                                         \
		if ((r = json_read_obj(n, p, key, &s, err)) < 0)                                   \
			return r;                                                                  \
		if (r > 0) {                                                                       \
			res->field = xcalloc(1, sizeof(*res->field));                              \
			if ((r = fn(s, JSON_KEY(p, key), res->field, err)) < 0)                    \
				return r;                                                          \
		}                                                                                  \
	} while (0)

static int parse_pids(const struct json_node *n, const struct json_path *p,
		      struct oci_resources *res, struct husk_err **err)
{
	/* required in 1.2, optional from 1.3 on: an absent limit leaves pids alone */
	int r = json_read_i64(n, p, "limit", INT64_MIN, INT64_MAX, &res->pids_limit, err);

	res->has_pids = r > 0;
	return r < 0 ? r : 0;
}

int oci_parse_resources(const struct json_node *n, const struct json_path *p,
			struct oci_resources *res, struct husk_err **err)
{
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	r = oci_read_array(n, p, "devices", sizeof(*res->devices), (void **)&res->devices,
			   &res->n_devices, parse_device_rule, err);
	if (r < 0)
		return r;
	SUBOBJ("memory", memory, parse_memory);
	SUBOBJ("cpu", cpu, parse_cpu);
	SUBOBJ_FN("pids", parse_pids, res);
	SUBOBJ("blockIO", blkio, parse_blkio);
	r = oci_read_array(n, p, "hugepageLimits", sizeof(*res->hugepages),
			   (void **)&res->hugepages, &res->n_hugepages, parse_hugepage, err);
	if (r < 0)
		return r;
	SUBOBJ_FN("network", parse_network, res);
	SUBOBJ_FN("rdma", parse_rdma, res);
	r = oci_read_map(n, p, "unified", &res->unified, err);
	return r < 0 ? r : 0;
}

void oci_resources_clear(struct oci_resources *r)
{
	free(r->devices);
	free(r->memory);
	if (r->cpu) {
		free(r->cpu->cpus);
		free(r->cpu->mems);
		free(r->cpu);
	}
	if (r->blkio) {
		free(r->blkio->weight_devices);
		free(r->blkio->read_bps.items);
		free(r->blkio->write_bps.items);
		free(r->blkio->read_iops.items);
		free(r->blkio->write_iops.items);
		free(r->blkio);
	}
	for (size_t i = 0; i < r->n_hugepages; i++)
		free(r->hugepages[i].page_size);
	free(r->hugepages);
	for (size_t i = 0; i < r->n_net_priorities; i++)
		free(r->net_priorities[i].name);
	free(r->net_priorities);
	for (size_t i = 0; i < r->n_rdma; i++)
		free(r->rdma[i].device);
	free(r->rdma);
	oci_map_clear(&r->unified);
	memset(r, 0, sizeof(*r));
}

void oci_resources_free(struct oci_resources *r)
{
	if (!r)
		return;
	oci_resources_clear(r);
	free(r);
}

int oci_resources_parse(const char *buf, size_t len, struct oci_resources **out,
			struct husk_err **err)
{
	cleanup_json_doc struct json_doc *doc = NULL;
	struct oci_resources *res;
	int r;

	r = json_parse(buf, len, &doc, err);
	if (r < 0)
		return r;
	res = xcalloc(1, sizeof(*res));
	r = oci_parse_resources(json_doc_root(doc), NULL, res, err);
	if (r >= 0)
		r = oci_validate_resources(res, NULL, err);
	if (r < 0) {
		oci_resources_free(res);
		return r;
	}
	*out = res;
	return 0;
}
