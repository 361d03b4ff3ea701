/* The interface between a virtio device model (blk.c, console.c, rng.c,
 * net.c) and its transport (pci.c). A device knows its queues and its
 * config space; the transport owns feature negotiation, status, queue
 * set-up by the driver, notification (ioeventfd) and interrupts (MSI-X
 * through irqfd). Device work runs on the event thread (event.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/guestmem.h"
#include "vm/virtio/queue.h"

/* virtio-console with husk's 5 ports needs 2 + 2 (control) + 2 * 4 = 12 queues. */
#define VIRTIO_MAX_QUEUES 16

/* Device ids (virtio 1.x, section 5) */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Transport feature bits every device gets */
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;		/* "virtio-blk", used in log lines */
	uint16_t device_id;
	uint16_t nqueues;
	uint16_t queue_size;		/* max size offered for each queue */
	uint32_t config_len;		/* bytes of device config space */
	/* Device-specific feature bits offered (VERSION_1 and EVENT_IDX are added
	 * by the transport). */
	uint64_t (*features)(struct virtio_dev *d);
	/* Device config space access; off + len <= config_len is checked by the
	 * transport. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len);
	/* The driver set DRIVER_OK: start serving (e.g. add fds to the event loop). */
	int (*activate)(struct virtio_dev *d, struct husk_err **err);
	/* The driver notified queue q (from the event thread). */
	void (*queue_notify)(struct virtio_dev *d, uint16_t q);
	/* The driver reset the device: stop serving, forget queues' contents. */
	void (*reset)(struct virtio_dev *d);
	/* Release the device's own state (priv, fds it owns); virtio_dev_free()
	 * calls it and then frees d. */
	void (*destroy)(struct virtio_dev *d);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;			/* the device's own state */
	const struct guestmem *gm;
	struct vq vqs[VIRTIO_MAX_QUEUES];
	uint64_t driver_features;	/* accepted by the driver */
	bool broken;			/* set by a device on a malformed request */
	/* Set by the transport: raise the interrupt of queue q (if the driver
	 * asked for one; call after vq_push). */
	void (*interrupt)(struct virtio_dev *d, uint16_t q);
	/* Set by the transport: the device config changed (console resize). */
	void (*config_changed)(struct virtio_dev *d);
	void *transport;		/* transport-owned */
};

/* Push chain c with `written` bytes and raise the queue's interrupt if the
 * driver wants it. */
void virtio_complete(struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t written);

struct pci_bus;
struct vm_kvm;
struct event_loop;

/* The virtio-pci modern transport (virtio/pci.c): give d a PCI function on
 * pb with the common/notify/ISR/device config capabilities and an MSI-X
 * table (one vector per queue plus config). */
int virtio_pci_add(struct pci_bus *pb, struct vm_kvm *k, struct event_loop *l,
		   struct virtio_dev *d, struct husk_err **err);
/* Undo virtio_pci_add: deassign the ioeventfds, stop watching and close them, release the
 * MSI-X routes and take the function off pb. The vCPUs and the event loop must be stopped;
 * d itself stays for virtio_dev_free(). A no-op for a device that has no transport. */
void virtio_pci_remove(struct pci_bus *pb, struct virtio_dev *d);
