/* The cpuset controller: linux.resources.cpu.cpus and .mems. */
#include "internal.h"

int cgroup_apply_cpuset(struct cgroup *cg, const struct oci_cpu *c, struct husk_err **err)
{
	int r;

	if (c->cpus && *c->cpus && (r = cg_write(cg, "cpuset.cpus", c->cpus, err)) < 0)
		return r;
	if (c->mems && *c->mems && (r = cg_write(cg, "cpuset.mems", c->mems, err)) < 0)
		return r;
	return 0;
}
