/* A split virtqueue (virtio 1.x, section 2.7) seen from the device side.
 * Every ring and buffer address the driver gives is checked through
 * guestmem_ptr(); a malformed chain (an index out of the table, a loop, a
 * readable descriptor after a writable one, an indirect table inside an
 * indirect table, more than VQ_MAX_SEGS segments, a buffer outside RAM) is
 * reported as an error, never followed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vm/guestmem.h"

#define VQ_MAX_SIZE 1024	/* queue size limit we offer */
#define VQ_MAX_SEGS 256		/* segments in one chain, direct + indirect */

struct vq {
	uint16_t size;		/* power of two, <= VQ_MAX_SIZE; set by the driver */
	bool ready;
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;	/* next avail entry the device will take */
	uint16_t used_idx;	/* next used entry the device will fill */
	uint16_t signalled_used;	/* used_idx at the last interrupt (event idx) */
	bool signalled_valid;
	uint16_t msix_vector;	/* transport-owned */
};

/* One request: the driver-readable segments first (out), then the
 * driver-writable ones (in), as host iovecs inside guest RAM. */
struct vq_chain {
	uint16_t head;		/* descriptor index to return in the used ring */
	unsigned nout, nin;
	struct iovec out[VQ_MAX_SEGS];
	struct iovec in[VQ_MAX_SEGS];
	uint64_t out_len, in_len;	/* byte totals */
};

/* Take the next available chain: 1 when one was taken, 0 when the ring is
 * empty, -EINVAL when the chain is malformed (the entry is consumed; the
 * device should fail the request or mark itself broken), -EFAULT when the
 * rings themselves are outside RAM. */
int vq_pop(const struct guestmem *gm, struct vq *q, struct vq_chain *c);

/* Put head back in the used ring with `written` bytes written by the device. */
int vq_push(const struct guestmem *gm, struct vq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed since the last
 * call (VRING_AVAIL_F_NO_INTERRUPT or used_event with event idx). */
bool vq_need_interrupt(const struct guestmem *gm, struct vq *q);

/* Forget the rings (device reset). */
void vq_reset(struct vq *q);

/* Helpers to read/write across the segments of a chain: bytes copied. */
size_t vq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
size_t vq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len);
/* After a partial readv/writev of `done` bytes: drop the segments it finished and trim the
 * one it stopped in, so the call can be repeated on (*iov, *n). */
void vq_iov_advance(struct iovec **iov, unsigned *n, size_t done);
