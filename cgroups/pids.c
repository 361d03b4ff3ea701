/* The pids controller: pids.max; 0 and negative limits mean unlimited, as docker sends them. */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

int cgroup_apply_pids(struct cgroup *cg, bool has, int64_t limit, struct husk_err **err)
{
	char val[24] = "max";

	if (!has)
		return 0;
	if (limit > 0)
		snprintf(val, sizeof(val), "%" PRId64, limit);
	return cg_write(cg, "pids.max", val, err);
}
