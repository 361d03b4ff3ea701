/* Guest RAM: where guest-physical addresses live in the VMM's address space.
 * A guest address becomes a host pointer only through guestmem_ptr(), which
 * checks the whole range; every device goes through it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The x86 layout: RAM from 0 up to the 32-bit MMIO hole, the rest above 4 GiB. */
#define GUESTMEM_HOLE_START 0xC0000000ULL	/* 3 GiB: PCI BARs, IOAPIC, LAPIC */
#define GUESTMEM_HIGH_START 0x100000000ULL	/* 4 GiB */
#define GUESTMEM_MAX_REGIONS 2

struct guestmem_region {
	uint64_t gpa;		/* first guest-physical address */
	uint64_t size;		/* bytes */
	uint8_t *host;		/* where it is mapped in the VMM */
};

struct guestmem {
	uint8_t *base;		/* one anonymous mapping holding every region */
	uint64_t size;		/* total RAM in bytes */
	unsigned nregions;
	struct guestmem_region r[GUESTMEM_MAX_REGIONS];
};

/* Map `size` bytes of guest RAM (a multiple of 4 KiB) split around the hole. */
int guestmem_init(struct guestmem *gm, uint64_t size, struct husk_err **err);
void guestmem_free(struct guestmem *gm);

/* A host pointer to [gpa, gpa + len) if the whole range lies in one RAM
 * region, NULL otherwise (out of range, in the hole, or wrapping). len 0 is
 * allowed and checks only gpa. Never trusts gpa or len. */
void *guestmem_ptr(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers over guestmem_ptr(): 0 on success, -EFAULT when out of range. */
int guestmem_read(const struct guestmem *gm, uint64_t gpa, void *dst, size_t len);
int guestmem_write(const struct guestmem *gm, uint64_t gpa, const void *src, size_t len);
