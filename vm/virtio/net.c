/* virtio-net (virtio 1.x, section 5.1) over a tap device with IFF_VNET_HDR:
 * one receive and one transmit queue, frames moved with readv/writev
 * straight between the tap and the guest's buffers, the 12-byte
 * virtio_net_hdr included. No offloads in this version: checksums and
 * segmentation are done by the guest (no CSUM, GUEST_CSUM, TSO, MRG_RXBUF).
 * n->lock serialises the tap callback (event loop) with notify, activate and
 * reset (transport, under its own lock, taken first). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/virtio/devices.h"

#define NET_QUEUE_SIZE 256
#define NET_RXQ 0
#define NET_TXQ 1
#define NET_HDR_LEN 12 /* struct virtio_net_hdr_v1: VERSION_1 always has num_buffers */
#define NET_BUDGET 64  /* frames per wakeup, so one queue cannot starve the loop */

struct net {
	struct virtio_dev *d;
	struct event_loop *l;
	pthread_mutex_t lock;
	int tap_fd; /* borrowed */
	uint8_t mac[6];
	bool watching;
	bool have_rx; /* rx holds a chain taken but not yet filled */
	struct vq_chain rx;
	struct vq_chain tx;
};

static uint64_t net_features(struct virtio_dev *d)
{
	return 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
	       1ULL << VIRTIO_RING_F_INDIRECT_DESC;
}

static void net_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct net *n = d->priv;
	struct virtio_net_config cfg = {
	    .status = htole16(VIRTIO_NET_S_LINK_UP),
	    .max_virtqueue_pairs = htole16(1),
	};

	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	if (off > sizeof(cfg) || len > sizeof(cfg) - off)
		return;
	memcpy(data, (uint8_t *)&cfg + off, len);
}

/* The MAC is only writable by legacy drivers; a modern one uses the control queue. */
static void net_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
}

static void net_readable(void *arg, uint32_t events);

static void net_watch(struct net *n, bool on)
{
	struct husk_err *err = NULL;

	if (n->watching == on)
		return;
	if (!on) {
		event_del(n->l, n->tap_fd);
	} else if (event_add(n->l, n->tap_fd, EPOLLIN, net_readable, n, &err) < 0) {
		log_warn("virtio-net: %s", err->msg);
		husk_err_free(err);
		return;
	}
	n->watching = on;
}

/* One frame from the tap into one receive chain. Returns true when there may
 * be more to read. Without a posted chain the tap is not watched: frames wait
 * in the tap's queue (which drops when full, as a NIC would). */
static bool net_rx_one(struct net *n)
{
	struct virtio_dev *d = n->d;
	const uint16_t one = htole16(1);
	ssize_t r;

	if (!n->have_rx) {
		if (virtio_dev_pop(d, NET_RXQ, &n->rx) <= 0) {
			net_watch(n, false);
			return false;
		}
		n->have_rx = true;
	}
	if (n->rx.in_len < NET_HDR_LEN) { /* no room for a header: unusable */
		n->have_rx = false;
		virtio_complete(d, NET_RXQ, n->rx.head, 0);
		return true;
	}
	r = readv(n->tap_fd, n->rx.in, (int)n->rx.nin);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("virtio-net: read tap: %s", strerror(errno));
		return false;
	}
	if (r < NET_HDR_LEN)
		return true; /* the tap always prepends a header; skip a runt */
	/* The tap leaves num_buffers alone; without MRG_RXBUF it must be 1. */
	vq_iov_write(n->rx.in, n->rx.nin, offsetof(struct virtio_net_hdr_v1, num_buffers), &one,
		     sizeof(one));
	n->have_rx = false;
	virtio_complete(d, NET_RXQ, n->rx.head, (uint32_t)r);
	return true;
}

static void net_readable(void *arg, uint32_t events)
{
	struct net *n = arg;

	pthread_mutex_lock(&n->lock);
	/* A reset may have stopped rx after epoll reported the tap. */
	for (int i = 0; i < NET_BUDGET && n->watching && net_rx_one(n); i++)
		;
	pthread_mutex_unlock(&n->lock);
}

static void net_tx(struct net *n)
{
	struct virtio_dev *d = n->d;
	struct vq_chain *c = &n->tx;

	while (virtio_dev_pop(d, NET_TXQ, c) > 0) {
		/* A frame is header + ethernet frame in the readable part; the
		 * tap takes it whole or drops it, like a wire. */
		if (c->out_len > NET_HDR_LEN && writev(n->tap_fd, c->out, (int)c->nout) < 0)
			log_debug("virtio-net: write tap: %s", strerror(errno));
		virtio_complete(d, NET_TXQ, c->head, 0);
	}
}

static int net_activate(struct virtio_dev *d, struct husk_err **err)
{
	struct net *n = d->priv;

	pthread_mutex_lock(&n->lock);
	net_watch(n, true);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static void net_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct net *n = d->priv;

	pthread_mutex_lock(&n->lock);
	if (q == NET_RXQ)
		net_watch(n, true);
	else if (q == NET_TXQ)
		net_tx(n);
	pthread_mutex_unlock(&n->lock);
}

static void net_reset(struct virtio_dev *d)
{
	struct net *n = d->priv;

	pthread_mutex_lock(&n->lock);
	net_watch(n, false);
	n->have_rx = false;
	pthread_mutex_unlock(&n->lock);
}

static void net_destroy(struct virtio_dev *d)
{
	struct net *n = d->priv;

	net_reset(d);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .nqueues = 2,
    .queue_size = NET_QUEUE_SIZE,
    /* mac, status, max_virtqueue_pairs */
    .config_len = offsetof(struct virtio_net_config, mtu),
    .features = net_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy,
};

/* The tap must hand us the 12-byte header of VERSION_1, no offloads (none are
 * offered to the guest), and never block the event thread. */
static int net_setup_tap(int fd, struct husk_err **err)
{
	int hdr = NET_HDR_LEN, fl;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return husk_err_set(err, errno, "virtio-net: TUNSETVNETHDRSZ");
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		return husk_err_set(err, errno, "virtio-net: TUNSETOFFLOAD");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return husk_err_set(err, errno, "virtio-net: set tap non-blocking");
	return 0;
}

struct virtio_dev *virtio_net_new(const struct guestmem *gm, struct event_loop *l, int tap_fd,
				  const uint8_t mac[6], struct husk_err **err)
{
	struct net *n;

	if (net_setup_tap(tap_fd, err) < 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->l = l;
	pthread_mutex_init(&n->lock, NULL);
	n->tap_fd = tap_fd;
	memcpy(n->mac, mac, sizeof(n->mac));
	n->d = virtio_dev_alloc(&net_ops, gm, n);
	return n->d;
}
