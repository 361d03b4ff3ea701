/* Constructors of the virtio device models. Each returns a device ready to be
 * given to a transport (virtio_pci_add); the device's I/O runs on the event
 * loop thread once the driver activates it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/event.h"
#include "vm/guestmem.h"
#include "vm/virtio/virtio.h"

/* A raw image file; ro makes it VIRTIO_BLK_F_RO and refuses writes. */
struct virtio_dev *virtio_blk_new(const struct guestmem *gm, struct event_loop *l, const char *path,
				  bool ro, struct husk_err **err);
struct virtio_dev *virtio_rng_new(const struct guestmem *gm, struct event_loop *l,
				  struct husk_err **err);
/* tap_fd: an open tap device with IFF_VNET_HDR (netns/ creates it). */
struct virtio_dev *virtio_net_new(const struct guestmem *gm, struct event_loop *l, int tap_fd,
				  const uint8_t mac[6], struct husk_err **err);

/* A console port: bytes readable on in_fd go to the guest, bytes the guest
 * writes go to out_fd; either may be -1. Port 0 is the console (hvc0); with
 * more than one port the device offers VIRTIO_CONSOLE_F_MULTIPORT and names
 * them. */
struct virtio_console_port {
	const char *name;
	int in_fd;
	int out_fd;
};
struct virtio_dev *virtio_console_new(const struct guestmem *gm, struct event_loop *l,
				      const struct virtio_console_port *ports, unsigned nports,
				      struct husk_err **err);

void virtio_dev_free(struct virtio_dev *d);

/* ---- For the device models (devices.c), not for their users ---- */

/* A device shell around ops and priv; aborts on out-of-memory. */
struct virtio_dev *virtio_dev_alloc(const struct virtio_dev_ops *ops, const struct guestmem *gm,
				    void *priv);
/* vq_pop() on queue q that marks the device broken (and logs why) on a
 * malformed chain or rings outside RAM: > 0 when c holds a chain, 0 when the
 * queue is empty or the device is broken. */
int virtio_dev_pop(struct virtio_dev *d, uint16_t q, struct vq_chain *c);
/* Copy into dst (at most max entries) the iovecs covering bytes
 * [off, off + len) of iov; returns the entries used. The caller checked that
 * off + len lies inside iov. */
unsigned virtio_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			  struct iovec *dst, unsigned max);
