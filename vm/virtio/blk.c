/* virtio-blk (virtio 1.x, section 5.2) over a raw image file: one request
 * queue, served on the event thread with preadv/pwritev straight into the
 * guest's buffers. I/O is synchronous: a slow disk stalls the event thread
 * (acceptable for a first version; an I/O thread or io_uring comes later). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "vm/virtio/devices.h"

#define SECTOR 512
#define BLK_QUEUE_SIZE 256
#define HDR_LEN 16 /* struct virtio_blk_outhdr */

struct blk {
	int fd;
	bool ro;
	uint64_t capacity; /* 512-byte sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct vq_chain chain;
	struct iovec data[VQ_MAX_SEGS];
};

/* One request as the driver laid it out (section 5.2.6): the header in the
 * readable part, then data, then one status byte ending the writable part. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	size_t out_data; /* readable bytes after the header */
	size_t in_data;	 /* writable bytes before the status */
};

static uint64_t blk_features(struct virtio_dev *d)
{
	struct blk *b = d->priv;
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		     1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;

	if (b->ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

static void blk_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct blk *b = d->priv;
	struct virtio_blk_config cfg = {
	    .capacity = htole64(b->capacity),
	    /* header + status take two segments of a chain */
	    .seg_max = htole32(VQ_MAX_SEGS - 2),
	    .blk_size = htole32(SECTOR),
	    .num_queues = htole16(1),
	};

	if (off > sizeof(cfg) || len > sizeof(cfg) - off)
		return;
	memcpy(data, (uint8_t *)&cfg + off, len);
}

/* The config space is read-only for us (no WCE toggling offered). */
static void blk_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
}

static int blk_activate(struct virtio_dev *d, struct husk_err **err)
{
	return 0;
}

/* Move the whole data part between the image and the guest; a short
 * transfer is retried, EOF inside the capacity is an I/O error. */
static int blk_rw(struct blk *b, bool write, struct iovec *iov, unsigned n, uint64_t sector)
{
	off_t pos = (off_t)(sector * SECTOR);

	while (n > 0) {
		ssize_t r =
		    write ? pwritev(b->fd, iov, (int)n, pos) : preadv(b->fd, iov, (int)n, pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		pos += r;
		vq_iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

/* Sector range check without overflow: the image is never touched past capacity. */
static bool blk_range_ok(const struct blk *b, uint64_t sector, size_t bytes)
{
	uint64_t nsec = bytes / SECTOR;

	return bytes % SECTOR == 0 && sector <= b->capacity && nsec <= b->capacity - sector;
}

static uint8_t blk_do_io(struct blk *b, const struct blk_req *rq, const struct vq_chain *c)
{
	bool write = rq->type == VIRTIO_BLK_T_OUT;
	size_t len = write ? rq->out_data : rq->in_data;
	unsigned n;

	/* Data must travel in the direction of the request: none readable for
	 * a read, none writable (besides the status) for a write. */
	if ((write ? rq->in_data : rq->out_data) != 0 || !blk_range_ok(b, rq->sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (write && b->ro)
		return VIRTIO_BLK_S_IOERR;
	if (write)
		n = virtio_iov_slice(c->out, c->nout, HDR_LEN, len, b->data, VQ_MAX_SEGS);
	else
		n = virtio_iov_slice(c->in, c->nin, 0, len, b->data, VQ_MAX_SEGS);
	if (blk_rw(b, write, b->data, n, rq->sector) < 0)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_serve(struct blk *b, const struct blk_req *rq, const struct vq_chain *c)
{
	size_t idlen;

	switch (rq->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_do_io(b, rq, c);
	case VIRTIO_BLK_T_FLUSH:
		if (rq->out_data || rq->in_data)
			return VIRTIO_BLK_S_IOERR;
		return fdatasync(b->fd) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (rq->out_data)
			return VIRTIO_BLK_S_IOERR;
		/* Up to 20 bytes, NUL-padded; a shorter buffer gets a prefix. */
		idlen = rq->in_data < sizeof(b->id) ? rq->in_data : sizeof(b->id);
		vq_iov_write(c->in, c->nin, 0, b->id, idlen);
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Serve one chain; returns the bytes written into the writable part. A
 * chain without room for the status byte cannot be answered: it is given
 * back with nothing written. */
static uint32_t blk_request(struct blk *b, const struct vq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	struct blk_req rq;
	uint8_t status;

	if (c->in_len == 0)
		return 0;
	if (c->out_len < HDR_LEN) {
		status = VIRTIO_BLK_S_IOERR;
	} else {
		vq_iov_read(c->out, c->nout, 0, &hdr, HDR_LEN);
		rq = (struct blk_req){
		    .type = le32toh(hdr.type),
		    .sector = le64toh(hdr.sector),
		    .out_data = c->out_len - HDR_LEN,
		    .in_data = c->in_len - 1,
		};
		status = blk_serve(b, &rq, c);
	}
	vq_iov_write(c->in, c->nin, c->in_len - 1, &status, 1);
	/* The status is the last writable byte: len must cover all of it. */
	return (uint32_t)c->in_len;
}

static void blk_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct blk *b = d->priv;

	while (virtio_dev_pop(d, q, &b->chain) > 0)
		virtio_complete(d, q, b->chain.head, blk_request(b, &b->chain));
}

static void blk_reset(struct virtio_dev *d)
{
}

static void blk_destroy(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	closep(&b->fd);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .nqueues = 1,
    .queue_size = BLK_QUEUE_SIZE,
    .config_len = sizeof(struct virtio_blk_config),
    .features = blk_features,
    .config_read = blk_config_read,
    .config_write = blk_config_write,
    .activate = blk_activate,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .destroy = blk_destroy,
};

/* The serial the guest reads with GET_ID: the image's file name, cut to 20
 * bytes (enough to tell disks apart in /sys/block/vdX/serial). */
static void blk_set_id(struct blk *b, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	/* b->id is zeroed: a short name stays NUL-padded. */
	memcpy(b->id, base, strnlen(base, sizeof(b->id)));
}

struct virtio_dev *virtio_blk_new(const struct guestmem *gm, struct event_loop *l, const char *path,
				  bool ro, struct husk_err **err)
{
	cleanup_close int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st;
	struct blk *b;

	if (fd < 0) {
		husk_err_set(err, errno, "virtio-blk: open `%s`", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		husk_err_set(err, errno, "virtio-blk: stat `%s`", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		husk_err_msg(err, EINVAL, "virtio-blk: `%s` is not a file or block device", path);
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	b->ro = ro;
	if (S_ISBLK(st.st_mode))
		st.st_size = lseek(fd, 0, SEEK_END);
	/* A trailing partial sector is not exposed (the guest could not use it). */
	b->capacity = st.st_size > 0 ? (uint64_t)st.st_size / SECTOR : 0;
	blk_set_id(b, path);
	b->fd = TAKE_FD(fd);
	return virtio_dev_alloc(&blk_ops, gm, b);
}
