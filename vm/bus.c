/* Port-I/O and MMIO dispatch: a sorted table of non-overlapping ranges, looked up by binary
 * search on every exit. The table is read-locked only for the lookup, so a handler may move
 * ranges (a BAR write) without deadlocking. */
#include <errno.h>
#include <string.h>

#include "vm/bus.h"

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_rwlock_init(&b->lock, NULL);
}

void bus_destroy(struct bus *b)
{
	pthread_rwlock_destroy(&b->lock);
}

/* Index of the first range whose base is > addr. */
static unsigned upper(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (b->r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps(const struct bus *b, uint64_t base, uint64_t len, unsigned skip)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct bus_range *r = &b->r[i];

		if (i != skip && base < r->base + r->len && r->base < base + len)
			return true;
	}
	return false;
}

static int insert(struct bus *b, const struct bus_range *nr)
{
	unsigned at;

	if (nr->len == 0 || nr->base + nr->len < nr->base)
		return -EINVAL;
	if (overlaps(b, nr->base, nr->len, b->n))
		return -EEXIST;
	if (b->n == BUS_MAX_RANGES)
		return -ENOSPC;
	at = upper(b, nr->base);
	memmove(&b->r[at + 1], &b->r[at], (b->n - at) * sizeof(b->r[0]));
	b->r[at] = *nr;
	b->n++;
	return 0;
}

static int find(const struct bus *b, void *dev, uint64_t base)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->r[i].dev == dev && b->r[i].base == base)
			return (int)i;
	return -1;
}

static void remove_at(struct bus *b, unsigned i)
{
	memmove(&b->r[i], &b->r[i + 1], (b->n - i - 1) * sizeof(b->r[0]));
	b->n--;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev, const char *name,
	    struct husk_err **err)
{
	struct bus_range nr = { .base = base, .len = len, .fn = fn, .dev = dev, .name = name };
	int r;

	pthread_rwlock_wrlock(&b->lock);
	r = insert(b, &nr);
	pthread_rwlock_unlock(&b->lock);
	if (r < 0)
		return husk_err_set(err, -r, "bus: add `%s` at %#llx+%#llx", name,
				    (unsigned long long)base, (unsigned long long)len);
	return 0;
}

int bus_move(struct bus *b, void *dev, uint64_t old_base, uint64_t new_base)
{
	struct bus_range nr;
	int i, r;

	pthread_rwlock_wrlock(&b->lock);
	i = find(b, dev, old_base);
	if (i < 0) {
		pthread_rwlock_unlock(&b->lock);
		return -ENOENT;
	}
	nr = b->r[i];
	nr.base = new_base;
	remove_at(b, (unsigned)i);
	r = insert(b, &nr);
	if (r < 0) {
		nr.base = old_base;
		insert(b, &nr);		/* its old slot is free: cannot fail */
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void bus_del(struct bus *b, void *dev, uint64_t base)
{
	int i;

	pthread_rwlock_wrlock(&b->lock);
	i = find(b, dev, base);
	if (i >= 0)
		remove_at(b, (unsigned)i);
	pthread_rwlock_unlock(&b->lock);
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bus_range r = { 0 };
	unsigned i;

	pthread_rwlock_rdlock(&b->lock);
	i = upper(b, addr);
	if (i > 0 && addr - b->r[i - 1].base < b->r[i - 1].len)
		r = b->r[i - 1];
	pthread_rwlock_unlock(&b->lock);
	if (!r.fn) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	r.fn(r.dev, addr - r.base, data, len, is_write);
	return true;
}
