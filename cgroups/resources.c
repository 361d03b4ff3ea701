/* linux.resources as a whole: which controllers it needs (docker's zero values are "unset",
 * not limits), what cgroup v2 cannot express at all, and the order the appliers run in. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define NEED(ctrl, name)                                                                           \
	do {                                                                                       \
		if (!(*needs & CGROUP_BIT(ctrl)))                                                  \
			field[ctrl] = "linux.resources." name;                                     \
		*needs |= CGROUP_BIT(ctrl);                                                        \
	} while (0)

static int refuse(struct husk_err **err, const char *field, const char *why)
{
	return husk_err_msg(err, EOPNOTSUPP, "linux.resources.%s: %s", field, why);
}

static int memory_needs(const struct oci_memory *m, unsigned *needs, const char **field,
			struct husk_err **err)
{
	if (m->has_disable_oom_killer && m->disable_oom_killer)
		return refuse(err, "memory.disableOOMKiller", "cgroup v2 cannot disable the OOM "
			      "killer (set it to false or leave it out)");
	if (m->limit.set && m->limit.v > 0)
		NEED(CGROUP_CTRL_MEMORY, "memory.limit");
	if (m->reservation.set && m->reservation.v > 0)
		NEED(CGROUP_CTRL_MEMORY, "memory.reservation");
	if (m->swap.set && m->swap.v > 0)
		NEED(CGROUP_CTRL_MEMORY, "memory.swap");
	return 0;
}

static int cpu_needs(const struct oci_cpu *c, unsigned *needs, const char **field,
		     struct husk_err **err)
{
	if (c->realtime_runtime.set && c->realtime_runtime.v != 0)
		return refuse(err, "cpu.realtimeRuntime", "cgroup v2 has no realtime CPU limits "
			      "(set it to 0 or leave it out)");
	if (c->realtime_period.set && c->realtime_period.v != 0)
		return refuse(err, "cpu.realtimePeriod", "cgroup v2 has no realtime CPU limits "
			      "(set it to 0 or leave it out)");
	if (c->shares.set && c->shares.v > 0)
		NEED(CGROUP_CTRL_CPU, "cpu.shares");
	if (c->quota.set && c->quota.v > 0)
		NEED(CGROUP_CTRL_CPU, "cpu.quota");
	if (c->period.set && c->period.v > 0)
		NEED(CGROUP_CTRL_CPU, "cpu.period");
	if (c->burst.set && c->burst.v > 0)
		NEED(CGROUP_CTRL_CPU, "cpu.burst");
	if (c->idle.set && c->idle.v != 0)
		NEED(CGROUP_CTRL_CPU, "cpu.idle");
	if (c->cpus && *c->cpus)
		NEED(CGROUP_CTRL_CPUSET, "cpu.cpus");
	if (c->mems && *c->mems)
		NEED(CGROUP_CTRL_CPUSET, "cpu.mems");
	return 0;
}

static void blkio_needs(const struct oci_blkio *b, unsigned *needs, const char **field)
{
	if (b->weight.set && b->weight.v > 0)
		NEED(CGROUP_CTRL_IO, "blockIO.weight");
	for (size_t i = 0; i < b->n_weight_devices; i++)
		if (b->weight_devices[i].weight.set && b->weight_devices[i].weight.v > 0)
			NEED(CGROUP_CTRL_IO, "blockIO.weightDevice");
	if (b->read_bps.n || b->write_bps.n || b->read_iops.n || b->write_iops.n)
		NEED(CGROUP_CTRL_IO, "blockIO.throttle*Device");
}

int cgroup_resources_needs(const struct oci_resources *res, unsigned *needs,
			   const char *field[CGROUP_CTRLS], struct husk_err **err)
{
	int r;

	*needs = 0;
	if (!res)
		return 0;
	if (res->memory && (r = memory_needs(res->memory, needs, field, err)) < 0)
		return r;
	if (res->cpu && (r = cpu_needs(res->cpu, needs, field, err)) < 0)
		return r;
	if (res->blkio)
		blkio_needs(res->blkio, needs, field);
	if (res->has_pids && res->pids_limit > 0)
		NEED(CGROUP_CTRL_PIDS, "pids.limit");
	if (res->n_hugepages)
		NEED(CGROUP_CTRL_HUGETLB, "hugepageLimits");
	for (size_t i = 0; i < res->n_rdma; i++)
		if (res->rdma[i].hca_handles.set || res->rdma[i].hca_objects.set)
			NEED(CGROUP_CTRL_RDMA, "rdma");
	if ((res->net_class_id.set && res->net_class_id.v != 0) || res->n_net_priorities)
		return refuse(err, "network", "net_cls and net_prio are cgroup v1 controllers; "
			      "cgroup v2 has neither (leave linux.resources.network out)");
	for (size_t i = 0; i < res->unified.n; i++) {
		const char *key = res->unified.items[i].key;
		int c;

		if (!cgroup_unified_key_ok(key))
			return husk_err_msg(err, EINVAL, "linux.resources.unified[\"%s\"]: not a file "
					    "name in the container's cgroup", key);
		if ((c = cgroup_unified_ctrl(key)) >= 0)
			NEED(c, "unified");
	}
	return 0;
}

static bool on(const struct cgroup *cg, enum cgroup_ctrl c)
{
	return cg->ctrls & CGROUP_BIT(c);
}

int cgroup_apply(struct cgroup *cg, const struct oci_resources *res, struct husk_err **err)
{
	int r = 0;

	if (!res)
		return 0;
	/* A controller that is not there was checked to be asked for nothing but "unlimited". */
	if (res->cpu && on(cg, CGROUP_CTRL_CPUSET) && (r = cgroup_apply_cpuset(cg, res->cpu, err)) < 0)
		return r;
	if (res->cpu && on(cg, CGROUP_CTRL_CPU) && (r = cgroup_apply_cpu(cg, res->cpu, err)) < 0)
		return r;
	if (res->memory && on(cg, CGROUP_CTRL_MEMORY) &&
	    (r = cgroup_apply_memory(cg, res->memory, err)) < 0)
		return r;
	if (res->memory && !on(cg, CGROUP_CTRL_MEMORY)) {
		int64_t sw;

		/* Still report a swap value that makes no sense. */
		if ((r = cgroup_conv_swap(res->memory->limit.set ? res->memory->limit.v : 0,
					  res->memory->swap.set ? res->memory->swap.v : 0, &sw,
					  err)) < 0)
			return r;
	}
	if (res->blkio && on(cg, CGROUP_CTRL_IO) && (r = cgroup_apply_io(cg, res->blkio, err)) < 0)
		return r;
	if (on(cg, CGROUP_CTRL_PIDS) &&
	    (r = cgroup_apply_pids(cg, res->has_pids, res->pids_limit, err)) < 0)
		return r;
	if (on(cg, CGROUP_CTRL_HUGETLB) &&
	    (r = cgroup_apply_hugetlb(cg, res->hugepages, res->n_hugepages, err)) < 0)
		return r;
	if (on(cg, CGROUP_CTRL_RDMA) && (r = cgroup_apply_rdma(cg, res->rdma, res->n_rdma, err)) < 0)
		return r;
	return cgroup_apply_unified(cg, &res->unified, err);
}
