/* libFuzzer target for the virtio-blk request path: the input is the whole
 * RAM of a small guest (descriptor table, avail ring, headers, data) plus a
 * 4-byte prefix for the queue state, and the device serves the queue. Guest
 * RAM is one malloc'd block behind the real guestmem_ptr (not guestmem_init's
 * mmap), so AddressSanitizer catches any access outside it; the disk is a
 * 16-sector temporary image. Built and run by tests/fuzz/run.sh (linked
 * against the project's libraries), or alone:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -Ulinux -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_virtio_blk.c vm/guestmem.c vm/virtio/{queue,blk,devices}.c common/[a-z]*.c \
 *     -o fuzz_virtio_blk && ./fuzz_virtio_blk -max_total_time=60
 * Input: [0] log2 of the queue size (mod 9), [1] bit 0 event idx, bit 1 the
 * read-only disk, [2..3] the queue's starting index (LE), then guest RAM from
 * gpa 0: descriptor table at 0x0, avail ring at 0x1000, used ring at 0x2000. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vm/virtio/devices.h"

#define RAM_SIZE 0x10000u
#define IMG_SECTORS 16
#define PREFIX 4

/* The transport's part (vm/virtio/pci.c): push and count interrupts. */
void virtio_complete(struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t written)
{
	if (vq_push(d->gm, &d->vqs[q], head, written) == 0)
		(void)vq_need_interrupt(d->gm, &d->vqs[q]);
}

static struct guestmem gm;
static struct virtio_dev *disks[2]; /* read-write, read-only */

static struct virtio_dev *open_disk(const char *path, bool ro)
{
	struct husk_err *err = NULL;
	struct virtio_dev *d = virtio_blk_new(&gm, NULL, path, ro, &err);

	if (!d)
		abort();
	return d;
}

static void setup(void)
{
	char path[] = "/tmp/husk-fuzz-blk.XXXXXX";
	static uint8_t img[IMG_SECTORS * 512];
	int fd = mkstemp(path);

	log_init(NULL, LOG_FORMAT_TEXT, LOG_ERROR); /* "device needs reset" is expected */
	gm.base = malloc(RAM_SIZE);
	if (!gm.base || fd < 0 || write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
		abort();
	close(fd);
	gm.size = RAM_SIZE;
	gm.nregions = 1;
	gm.r[0] = (struct guestmem_region){.gpa = 0, .size = RAM_SIZE, .host = gm.base};
	disks[0] = open_disk(path, false);
	disks[1] = open_disk(path, true);
	unlink(path); /* the devices hold it open */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *d;
	struct vq *q;
	size_t n;

	if (!gm.base)
		setup();
	if (size < PREFIX)
		return 0;
	d = disks[(data[1] >> 1) & 1];
	n = size - PREFIX < RAM_SIZE ? size - PREFIX : RAM_SIZE;
	memset(gm.base, 0, RAM_SIZE);
	memcpy(gm.base, data + PREFIX, n);
	d->broken = false;
	q = &d->vqs[0];
	vq_reset(q);
	q->size = (uint16_t)(1u << (data[0] % 9));
	q->ready = true;
	q->event_idx = data[1] & 1;
	q->desc_gpa = 0;
	q->avail_gpa = 0x1000;
	q->used_gpa = 0x2000;
	q->last_avail = q->used_idx = (uint16_t)(data[2] | data[3] << 8);
	d->ops->queue_notify(d, 0);
	return 0;
}
