/* Port-I/O and MMIO dispatch: a device registers a range and gets called on
 * the vCPU thread that exited on an access in it. Ranges never overlap. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

enum bus_kind { BUS_PIO, BUS_MMIO };

/* One access: addr is absolute; off = addr - range base. len is 1, 2, 4 or 8.
 * On a read the handler fills data[0..len); on a write data holds the value
 * (little-endian). */
typedef void (*bus_fn)(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_fn fn;
	void *dev;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	pthread_rwlock_t lock;	/* the table; handlers run without it */
	unsigned n;
	struct bus_range r[BUS_MAX_RANGES];	/* sorted by base */
};

/* Ready an empty bus (kvm_open does it for the VM's two buses). */
void bus_init(struct bus *b);
void bus_destroy(struct bus *b);
/* Register [base, base + len); fails with EEXIST on overlap. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev, const char *name,
	    struct husk_err **err);
/* Move a range (a BAR the guest reprogrammed); fails on overlap. */
int bus_move(struct bus *b, void *dev, uint64_t old_base, uint64_t new_base);
void bus_del(struct bus *b, void *dev, uint64_t base);
/* Dispatch an access: false when nothing claims addr (reads then return all
 * ones, writes are dropped, and the caller may log it at debug level). */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
