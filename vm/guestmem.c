/* Guest RAM: one anonymous mapping split into the regions below and above the 32-bit MMIO
 * hole, and the single checked translation from guest-physical address to host pointer. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vm/guestmem.h"

int guestmem_init(struct guestmem *gm, uint64_t size, struct husk_err **err)
{
	uint64_t low = size < GUESTMEM_HOLE_START ? size : GUESTMEM_HOLE_START;
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (size == 0 || size % 4096)
		return husk_err_msg(err, EINVAL, "guestmem: size %llu is not a multiple of 4 KiB",
				    (unsigned long long)size);
	/* MAP_NORESERVE: the guest touches what it uses; pages are never locked (RLIMIT_MEMLOCK
	 * cannot be raised on every host). */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return husk_err_set(err, errno, "guestmem: map %llu bytes of guest RAM",
				    (unsigned long long)size);
	gm->base = p;
	gm->size = size;
	gm->r[0] = (struct guestmem_region){ .gpa = 0, .size = low, .host = gm->base };
	gm->nregions = 1;
	if (size > low) {
		gm->r[1] = (struct guestmem_region){ .gpa = GUESTMEM_HIGH_START,
						     .size = size - low,
						     .host = gm->base + low };
		gm->nregions = 2;
	}
	return 0;
}

void guestmem_free(struct guestmem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *guestmem_ptr(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct guestmem_region *r = &gm->r[i];

		/* Written so that no sum can overflow, whatever the guest passed. */
		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guestmem_read(const struct guestmem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *p = guestmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guestmem_write(const struct guestmem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = guestmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
