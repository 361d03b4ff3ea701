/* virtio-rng (virtio 1.x, section 5.4): every writable buffer the guest
 * posts is filled from the host's getrandom(). */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/virtio/devices.h"

#define RNG_QUEUE_SIZE 64

struct rng {
	struct vq_chain chain;
};

static uint64_t rng_features(struct virtio_dev *d)
{
	return 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
}

/* No config space (config_len 0): the transport never calls these with data. */
static void rng_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
}

static void rng_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
}

static int rng_activate(struct virtio_dev *d, struct husk_err **err)
{
	return 0;
}

/* Fill one segment; getrandom() returns at most 32 MiB per call and may be
 * interrupted, hence the loop. Returns the bytes written. */
static size_t rng_fill(const struct iovec *iov)
{
	size_t done = 0;

	while (done < iov->iov_len) {
		ssize_t r = getrandom((uint8_t *)iov->iov_base + done, iov->iov_len - done, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_warn("virtio-rng: getrandom: %s", strerror(errno));
			break;
		}
		done += (size_t)r;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct rng *g = d->priv;
	struct vq_chain *c = &g->chain;

	while (virtio_dev_pop(d, q, c) > 0) {
		size_t written = 0;

		/* Readable segments carry nothing for us (section 5.4.6); the
		 * writable ones are filled in order, up to the first short one. */
		for (unsigned i = 0; i < c->nin; i++) {
			size_t n = rng_fill(&c->in[i]);

			written += n;
			if (n < c->in[i].iov_len)
				break;
		}
		virtio_complete(d, q, c->head, (uint32_t)written);
	}
}

static void rng_reset(struct virtio_dev *d)
{
}

static void rng_destroy(struct virtio_dev *d)
{
	free(d->priv);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .nqueues = 1,
    .queue_size = RNG_QUEUE_SIZE,
    .config_len = 0,
    .features = rng_features,
    .config_read = rng_config_read,
    .config_write = rng_config_write,
    .activate = rng_activate,
    .queue_notify = rng_queue_notify,
    .reset = rng_reset,
    .destroy = rng_destroy,
};

struct virtio_dev *virtio_rng_new(const struct guestmem *gm, struct event_loop *l,
				  struct husk_err **err)
{
	return virtio_dev_alloc(&rng_ops, gm, xcalloc(1, sizeof(struct rng)));
}
