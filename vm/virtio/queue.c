/* The split virtqueue, device side (virtio 1.x, section 2.7): taking chains
 * from the available ring, walking direct and indirect descriptors with every
 * address checked, returning them through the used ring, and interrupt
 * suppression (VRING_AVAIL_F_NO_INTERRUPT and event idx). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vm/virtio/queue.h"

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1
#define DESC_SIZE 16

/* The rings as the driver lays them out; every field is little-endian. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct desc) == DESC_SIZE, "virtq_desc is 16 bytes");

struct avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct used_elem {
	uint32_t id;
	uint32_t len;
};

struct used {
	uint16_t flags;
	uint16_t idx;
	struct used_elem ring[]; /* size entries, then avail_event */
};

struct rings {
	const uint8_t *desc;
	struct avail *avail;
	struct used *used;
};

/* Map the three rings, each checked whole, and aligned as section 2.7 asks
 * (which also keeps the atomic accesses below naturally aligned). */
static int map_rings(const struct guestmem *gm, const struct vq *q, struct rings *r)
{
	uint64_t n = q->size;

	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EFAULT;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EFAULT;
	r->desc = guestmem_ptr(gm, q->desc_gpa, n * DESC_SIZE);
	r->avail = guestmem_ptr(gm, q->avail_gpa, 6 + 2 * n);
	r->used = guestmem_ptr(gm, q->used_gpa, 6 + 8 * n);
	if (!r->desc || !r->avail || !r->used)
		return -EFAULT;
	return 0;
}

/* Copy one descriptor out of guest memory once: the driver may change it
 * under us, so everything is checked on this copy only (no double fetch). */
static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
	memcpy(d, table + (size_t)i * DESC_SIZE, sizeof(*d));
	__asm__ volatile("" : : "r"(d) : "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

static uint16_t load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static int add_segment(const struct guestmem *gm, struct vq_chain *c, const struct desc *d)
{
	void *p;

	if (c->nout + c->nin >= VQ_MAX_SEGS)
		return -EINVAL;
	p = guestmem_ptr(gm, d->addr, d->len);
	if (!p)
		return -EINVAL;
	if (d->flags & DESC_F_WRITE) {
		c->in[c->nin++] = (struct iovec){p, d->len};
		c->in_len += d->len;
	} else {
		/* Section 2.7.4.2: readable descriptors come before writable ones. */
		if (c->nin > 0)
			return -EINVAL;
		c->out[c->nout++] = (struct iovec){p, d->len};
		c->out_len += d->len;
	}
	return 0;
}

/* Follow the chain from head. Loops end because each table is walked at most
 * its own length of steps, and there are at most two tables (the ring's and
 * one indirect table: nesting is refused). */
static int walk_chain(const struct guestmem *gm, const struct vq *q, const uint8_t *table,
		      uint16_t head, struct vq_chain *c)
{
	uint32_t tsize = q->size, idx = head, steps = 0;
	bool indirect = false;
	struct desc d;
	int r;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (idx >= tsize || ++steps > tsize)
			return -EINVAL;
		read_desc(table, idx, &d);
		if (d.flags & DESC_F_INDIRECT) {
			/* Section 2.7.5.3.1: not inside an indirect table, not with
			 * NEXT, and a whole number of descriptors. */
			if (indirect || (d.flags & DESC_F_NEXT) || d.len == 0 || d.len % DESC_SIZE)
				return -EINVAL;
			table = guestmem_ptr(gm, d.addr, d.len);
			if (!table)
				return -EINVAL;
			tsize = d.len / DESC_SIZE;
			indirect = true;
			idx = 0;
			steps = 0;
			continue;
		}
		r = add_segment(gm, c, &d);
		if (r < 0)
			return r;
		if (!(d.flags & DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

/* With event idx, tell the driver which avail index should wake us (section
 * 2.7.10), then look again: the driver may have added a buffer between our
 * check and the store, without notifying. */
static uint16_t arm_avail_event(const struct vq *q, const struct rings *r)
{
	uint16_t *avail_event = (uint16_t *)&r->used->ring[q->size];

	__atomic_store_n(avail_event, htole16(q->last_avail), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&r->avail->idx, __ATOMIC_ACQUIRE);
}

int vq_pop(const struct guestmem *gm, struct vq *q, struct vq_chain *c)
{
	struct rings r;
	uint16_t avail_idx, head;

	if (!q->ready)
		return 0;
	if (map_rings(gm, q, &r) < 0)
		return -EFAULT;
	/* Acquire: the ring entry and descriptors the driver wrote before
	 * publishing idx are visible once we see idx. */
	avail_idx = load16(&r.avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail && q->event_idx)
		avail_idx = arm_avail_event(q, &r);
	if (avail_idx == q->last_avail)
		return 0;
	/* More entries than the ring holds: the driver's idx is garbage. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return -EINVAL;
	head = load16(&r.avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);
	q->last_avail++;
	return walk_chain(gm, q, r.desc, head, c) < 0 ? -EINVAL : 1;
}

int vq_push(const struct guestmem *gm, struct vq *q, uint16_t head, uint32_t written)
{
	struct used_elem *e;
	struct rings r;

	if (map_rings(gm, q, &r) < 0)
		return -EFAULT;
	if (head >= q->size)
		return -EINVAL;
	e = &r.used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&r.used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	return 0;
}

bool vq_need_interrupt(const struct guestmem *gm, struct vq *q)
{
	uint16_t old, used_event;
	struct rings r;
	bool valid;

	if (map_rings(gm, q, &r) < 0)
		return true; /* a spurious interrupt is harmless, a lost one is not */
	/* Our used idx store must be ordered before reading the driver's
	 * suppression fields (a store-load pair: only a full fence does it). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(&r.avail->flags, __ATOMIC_RELAXED) & AVAIL_F_NO_INTERRUPT);
	used_event = load16(&r.avail->ring[q->size], __ATOMIC_RELAXED);
	old = q->signalled_used;
	valid = q->signalled_valid;
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	if (!valid)
		return true;
	/* Section 2.7.10: interrupt when used_event lies in (old, new], on u16 wrap. */
	return (uint16_t)(q->used_idx - used_event - 1) < (uint16_t)(q->used_idx - old);
}

void vq_reset(struct vq *q)
{
	uint16_t vector = q->msix_vector; /* the transport's to reset */

	memset(q, 0, sizeof(*q));
	q->msix_vector = vector;
}

/* Copy between a flat buffer and the bytes [off, off + len) of a chain's segments. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf, size_t len,
		       bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint8_t *seg = iov[i].iov_base;
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov)
			memcpy(seg + off, buf + done, chunk);
		else
			memcpy(buf + done, seg + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t vq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	return iov_copy(iov, n, off, dst, len, false);
}

size_t vq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len)
{
	return iov_copy(iov, n, off, (uint8_t *)src, len, true);
}

void vq_iov_advance(struct iovec **iov, unsigned *n, size_t done)
{
	while (*n > 0 && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}
