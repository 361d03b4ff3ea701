/* The io controller: blkio weight -> io.weight (or io.bfq.weight where BFQ runs), weightDevice,
 * and the throttle lists -> io.max, one line per device. leafWeight has no v2 file. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "internal.h"

uint64_t cgroup_conv_blkio_weight(uint64_t weight)
{
	if (weight == 0)
		return 0;
	if (weight < 10)
		weight = 10;
	if (weight > 1000)
		weight = 1000;
	return 1 + (weight - 10) * 9999 / 990;
}

struct io_dev {
	int64_t major, minor;
	char line[256];
};

static struct io_dev *dev_line(struct io_dev **v, size_t *n, int64_t major, int64_t minor)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].major == major && (*v)[i].minor == minor)
			return &(*v)[i];
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct io_dev){ .major = major, .minor = minor };
	snprintf((*v)[*n].line, sizeof((*v)[*n].line), "%" PRId64 ":%" PRId64, major, minor);
	return &(*v)[(*n)++];
}

char **cgroup_io_max_lines(const struct oci_blkio *b)
{
	static const char *const keys[] = { "rbps", "wbps", "riops", "wiops" };
	const struct oci_throttle_list *lists[] = { &b->read_bps, &b->write_bps, &b->read_iops,
						    &b->write_iops };
	struct io_dev *devs = NULL;
	size_t n = 0;
	char **out;

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		for (size_t i = 0; i < lists[k]->n; i++) {
			const struct oci_throttle_device *t = &lists[k]->items[i];
			struct io_dev *d = dev_line(&devs, &n, t->major, t->minor);
			size_t len = strlen(d->line);

			/* rate 0 lifts the limit, as runc writes it */
			if (t->rate)
				snprintf(d->line + len, sizeof(d->line) - len, " %s=%" PRIu64, keys[k],
					 t->rate);
			else
				snprintf(d->line + len, sizeof(d->line) - len, " %s=max", keys[k]);
		}
	if (!n)
		return NULL;
	out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(devs[i].line);
	free(devs);
	return out;
}

static int write_weight(struct cgroup *cg, const char *dev, uint64_t w, struct husk_err **err)
{
	char buf[64];

	/* BFQ takes the v1 range 1..1000 as is; io.weight wants 1..10000. */
	if (cg_has(cg, "io.bfq.weight")) {
		snprintf(buf, sizeof(buf), "%s%s%" PRIu64, dev ? dev : "", dev ? " " : "", w);
		return cg_write(cg, "io.bfq.weight", buf, err);
	}
	snprintf(buf, sizeof(buf), "%s %" PRIu64, dev ? dev : "default", cgroup_conv_blkio_weight(w));
	return cg_write(cg, "io.weight", buf, err);
}

int cgroup_apply_io(struct cgroup *cg, const struct oci_blkio *b, struct husk_err **err)
{
	cleanup_strv char **lines = NULL;
	int r;

	if (b->weight.set && b->weight.v > 0 && (r = write_weight(cg, NULL, b->weight.v, err)) < 0)
		return r;
	for (size_t i = 0; i < b->n_weight_devices; i++) {
		const struct oci_weight_device *w = &b->weight_devices[i];
		char dev[48];

		if (!w->weight.set || w->weight.v == 0)
			continue;
		snprintf(dev, sizeof(dev), "%" PRId64 ":%" PRId64, w->major, w->minor);
		if ((r = write_weight(cg, dev, w->weight.v, err)) < 0)
			return husk_err_wrap(err, "linux.resources.blockIO.weightDevice[%zu]", i);
	}
	lines = cgroup_io_max_lines(b);
	/* One device per write: the kernel parses a single line each time. */
	for (size_t i = 0; lines && lines[i]; i++)
		if ((r = cg_write(cg, "io.max", lines[i], err)) < 0)
			return husk_err_wrap(err, "linux.resources.blockIO throttle");
	return 0;
}
