/* The hugetlb controller: hugepageLimits[].pageSize "2MB" -> hugetlb.2MB.max (and the
 * reservation limit hugetlb.2MB.rsvd.max where the kernel has it, as runc does). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

bool cgroup_hugetlb_file(const char *page_size, const char *suffix, char *buf, size_t len)
{
	size_t digits = strspn(page_size, "0123456789");
	const char *unit = page_size + digits;

	if (digits == 0 || page_size[0] == '0' ||
	    (strcmp(unit, "KB") && strcmp(unit, "MB") && strcmp(unit, "GB")))
		return false;
	return (size_t)snprintf(buf, len, "hugetlb.%s.%s", page_size, suffix) < len;
}

int cgroup_apply_hugetlb(struct cgroup *cg, const struct oci_hugepage_limit *h, size_t n,
			 struct husk_err **err)
{
	for (size_t i = 0; i < n; i++) {
		char file[64], rsvd[64], val[24];
		int r;

		if (!cgroup_hugetlb_file(h[i].page_size, "max", file, sizeof(file)))
			return husk_err_msg(err, EINVAL, "linux.resources.hugepageLimits[%zu].pageSize: "
					    "\"%s\" is not a page size like 2MB or 1GB", i,
					    h[i].page_size);
		if (!cg_has(cg, file))
			return husk_err_msg(err, EINVAL, "linux.resources.hugepageLimits[%zu].pageSize: "
					    "this kernel has no %s huge pages (no %s)", i,
					    h[i].page_size, file);
		snprintf(val, sizeof(val), "%" PRIu64, h[i].limit);
		if ((r = cg_write(cg, file, val, err)) < 0)
			return r;
		cgroup_hugetlb_file(h[i].page_size, "rsvd.max", rsvd, sizeof(rsvd));
		if (cg_has(cg, rsvd) && (r = cg_write(cg, rsvd, val, err)) < 0)
			return r;
	}
	return 0;
}
