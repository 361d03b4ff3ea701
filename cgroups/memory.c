/* The memory controller: memory.max (limit), memory.low (reservation) and memory.swap.max,
 * converted from v1's memory+swap the way runc does. kernel/kernelTCP/swappiness have no v2
 * file and are ignored like runc and crun do; disableOOMKiller is refused in resources.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cleanup.h"
#include "internal.h"

void cgroup_fmt_limit(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRId64, v);
}

int cgroup_conv_swap(int64_t limit, int64_t swap, int64_t *out, struct husk_err **err)
{
	/* Unlimited memory with swap unset means both unlimited, as on v1. */
	if (limit == -1 && swap == 0) {
		*out = -1;
		return 1;
	}
	if (swap == 0)
		return 0;
	if (swap < 0) {
		*out = -1;
		return 1;
	}
	if (limit <= 0)
		return husk_err_msg(err, EINVAL, "linux.resources.memory.swap: a swap limit needs a "
				    "memory limit (swap is memory+swap, as on cgroup v1)");
	if (swap < limit)
		return husk_err_msg(err, EINVAL, "linux.resources.memory.swap: %" PRId64 " is below "
				    "the memory limit %" PRId64 " (swap is memory+swap, as on cgroup v1)",
				    swap, limit);
	*out = swap - limit;	/* equal values: no swap at all */
	return 1;
}

static int check_usage(struct cgroup *cg, int64_t limit, struct husk_err **err)
{
	cleanup_free char *cur = cg_read(cg->dfd, "memory.current");
	uint64_t usage;

	if (!cur || !*cur)
		return 0;
	usage = strtoull(cur, NULL, 10);
	if (limit > 0 && (uint64_t)limit < usage)
		return husk_err_msg(err, EBUSY, "linux.resources.memory.limit: %" PRId64 " is below "
				    "the current usage %" PRIu64 " (checkBeforeUpdate)", limit, usage);
	return 0;
}

int cgroup_apply_memory(struct cgroup *cg, const struct oci_memory *m, struct husk_err **err)
{
	int64_t limit = m->limit.set ? m->limit.v : 0, swap = m->swap.set ? m->swap.v : 0, sw;
	char buf[24];
	int r;

	if ((r = cgroup_conv_swap(limit, swap, &sw, err)) < 0)
		return r;
	if (m->has_check_before_update && m->check_before_update &&
	    (r = check_usage(cg, limit, err)) < 0)
		return r;
	/* Swap first: a lower memory.max must not briefly push the usage into swap. */
	if (r == 1) {
		cgroup_fmt_limit(sw, buf, sizeof(buf));
		if (!cg_has(cg, "memory.swap.max")) {
			if (sw != -1)
				return husk_err_msg(err, EOPNOTSUPP, "linux.resources.memory.swap: this "
						    "kernel has no swap accounting (memory.swap.max)");
		} else if ((r = cg_write(cg, "memory.swap.max", buf, err)) < 0) {
			return r;
		}
	}
	if (limit != 0) {
		cgroup_fmt_limit(limit, buf, sizeof(buf));
		if ((r = cg_write(cg, "memory.max", buf, err)) < 0)
			return r;
	}
	if (m->reservation.set && m->reservation.v != 0) {
		cgroup_fmt_limit(m->reservation.v, buf, sizeof(buf));
		if ((r = cg_write(cg, "memory.low", buf, err)) < 0)
			return r;
	}
	return 0;
}
