/* The rdma controller: rdma.max lines "mlx5_1 hca_handle=3 hca_object=10000". */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

bool cgroup_rdma_line(const struct oci_rdma *r, char *buf, size_t len)
{
	int n;

	if (!r->hca_handles.set && !r->hca_objects.set)
		return false;
	n = snprintf(buf, len, "%s", r->device);
	if (r->hca_handles.set && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " hca_handle=%" PRIu64, r->hca_handles.v);
	if (r->hca_objects.set && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " hca_object=%" PRIu64, r->hca_objects.v);
	return n > 0 && (size_t)n < len;
}

int cgroup_apply_rdma(struct cgroup *cg, const struct oci_rdma *rd, size_t n,
		      struct husk_err **err)
{
	for (size_t i = 0; i < n; i++) {
		char line[512];
		int r;

		if (!cgroup_rdma_line(&rd[i], line, sizeof(line)))
			continue;
		if ((r = cg_write(cg, "rdma.max", line, err)) < 0)
			return husk_err_wrap(err, "linux.resources.rdma[\"%s\"]", rd[i].device);
	}
	return 0;
}
