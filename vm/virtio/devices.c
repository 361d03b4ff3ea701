/* What every virtio device model shares: allocation and release, taking
 * chains with malformed ones turned into a broken device, and slicing a
 * chain's segments into the iovecs of one request part. */
#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/virtio/devices.h"

struct virtio_dev *virtio_dev_alloc(const struct virtio_dev_ops *ops, const struct guestmem *gm,
				    void *priv)
{
	struct virtio_dev *d = xcalloc(1, sizeof(*d));

	d->ops = ops;
	d->gm = gm;
	d->priv = priv;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vq_reset(&d->vqs[i]);
	return d;
}

void virtio_dev_free(struct virtio_dev *d)
{
	if (!d)
		return;
	if (d->ops->destroy)
		d->ops->destroy(d);
	free(d);
}

int virtio_dev_pop(struct virtio_dev *d, uint16_t q, struct vq_chain *c)
{
	int r;

	if (d->broken || q >= d->ops->nqueues)
		return 0;
	r = vq_pop(d->gm, &d->vqs[q], c);
	if (r >= 0)
		return r;
	/* Section 2.1.2: a device in an unrecoverable state says so and stops
	 * until the driver resets it; the transport reports DEVICE_NEEDS_RESET. */
	log_warn("%s: queue %u: %s, device needs reset", d->ops->name, q,
		 r == -EFAULT ? "rings outside guest RAM" : "malformed descriptor chain");
	d->broken = true;
	return 0;
}

unsigned virtio_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			  struct iovec *dst, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len > 0 && k < max; i++) {
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len)
			chunk = len;
		dst[k++] = (struct iovec){(uint8_t *)iov[i].iov_base + off, chunk};
		len -= chunk;
		off = 0;
	}
	return k;
}
