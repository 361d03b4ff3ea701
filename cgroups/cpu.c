/* The cpu controller: cpu.weight (from v1 shares), cpu.max (quota/period), cpu.max.burst,
 * cpu.idle. Realtime limits have no v2 file and are refused in resources.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

uint64_t cgroup_conv_shares(uint64_t shares)
{
	if (shares == 0)
		return 0;
	/* v1 accepts 2..262144; clamp so the formula runc and crun use cannot wrap. */
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

bool cgroup_conv_cpu_max(const struct oci_cpu *c, char *buf, size_t len)
{
	bool quota = c->quota.set && c->quota.v != 0, period = c->period.set && c->period.v != 0;
	int n;

	if (!quota && !period)
		return false;
	if (quota && c->quota.v > 0)
		n = snprintf(buf, len, "%" PRId64, c->quota.v);
	else
		n = snprintf(buf, len, "max");
	/* Without a period the kernel keeps the one it has (100000 by default). */
	if (period && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " %" PRIu64, c->period.v);
	return true;
}

static int write_u64(struct cgroup *cg, const char *name, uint64_t v, struct husk_err **err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cg_write(cg, name, buf, err);
}

int cgroup_apply_cpu(struct cgroup *cg, const struct oci_cpu *c, struct husk_err **err)
{
	bool burst_done = false;
	char max[48];
	bool has_max;
	int r;

	if (c->shares.set && c->shares.v > 0 &&
	    (r = write_u64(cg, "cpu.weight", cgroup_conv_shares(c->shares.v), err)) < 0)
		return r;
	has_max = cgroup_conv_cpu_max(c, max, sizeof(max));
	/* The kernel wants burst <= quota at every step: a higher burst fits only after a new
	 * cpu.max, a lower quota only after the lower burst. Try before, else after. */
	if (c->burst.set)
		burst_done = write_u64(cg, "cpu.max.burst", c->burst.v, NULL) == 0;
	if (has_max && (r = cg_write(cg, "cpu.max", max, err)) < 0)
		return r;
	if (c->burst.set && !burst_done &&
	    (r = write_u64(cg, "cpu.max.burst", c->burst.v, err)) < 0)
		return r;
	if (c->idle.set && (r = write_u64(cg, "cpu.idle", (uint64_t)c->idle.v, err)) < 0)
		return r;
	return 0;
}
