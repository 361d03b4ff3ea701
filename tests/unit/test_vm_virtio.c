/* vm/virtio: the split virtqueue and the device models, driven by a
 * driver-side helper over a fake guest RAM (one malloc'd region behind the
 * real guestmem_ptr), without KVM. The transport (virtio_complete) and the
 * event loop are stand-ins defined here, so the tests run the device code
 * synchronously and pci.c/event.c are not linked in. */
#include <arpa/inet.h>
#include <endian.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_console.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "vm/event.h"
#include "vm/virtio/devices.h"
#include "tap.h"

#define MEM_SIZE 0x40000u /* fake guest RAM at gpa 0 */
#define QSIZE 16
#define QAREA(i) (0x1000u + (i)*0x1000u) /* desc +0, avail +0x200, used +0x400 */
#define DATA_START 0x20000u
#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

/* ---- stand-ins for the transport and the event loop ---- */

static unsigned interrupts;

void virtio_complete(struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t written)
{
	if (vq_push(d->gm, &d->vqs[q], head, written) == 0 && vq_need_interrupt(d->gm, &d->vqs[q]))
		interrupts++;
}

static struct watch {
	int fd;
	event_fn fn;
	void *arg;
} watches[8];

int event_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *arg,
	      struct husk_err **err)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), r, e;

	/* Refuse what epoll refuses (EPERM for /dev/null and files), as the real loop does. */
	r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLIN});
	e = errno;
	close(ep);
	if (r < 0)
		return husk_err_set(err, e, "fake event loop: watch fd %d", fd);
	for (unsigned i = 0; i < ARRAY_SIZE(watches); i++) {
		if (!watches[i].fn) {
			watches[i] = (struct watch){fd, fn, arg};
			return 0;
		}
	}
	return husk_err_msg(err, ENOSPC, "fake event loop full");
}

int event_mod(struct event_loop *l, int fd, uint32_t events)
{
	return 0;
}

void event_del(struct event_loop *l, int fd)
{
	for (unsigned i = 0; i < ARRAY_SIZE(watches); i++)
		if (watches[i].fn && watches[i].fd == fd)
			watches[i] = (struct watch){0};
}

static bool watched(int fd)
{
	for (unsigned i = 0; i < ARRAY_SIZE(watches); i++)
		if (watches[i].fn && watches[i].fd == fd)
			return true;
	return false;
}

/* What the event thread would do when fd turns readable. */
static bool fire(int fd)
{
	for (unsigned i = 0; i < ARRAY_SIZE(watches); i++) {
		if (watches[i].fn && watches[i].fd == fd) {
			watches[i].fn(watches[i].arg, 1);
			return true;
		}
	}
	return false;
}

/* ---- the driver side ---- */

static struct guestmem gm;
static uint8_t *mem;
static uint64_t data_next;

struct drvq {
	struct vq *q;
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc, used_seen;
};

static void mem_reset(void)
{
	static uint8_t *buf;

	if (!buf && posix_memalign((void **)&buf, 4096, MEM_SIZE) != 0)
		abort();
	memset(buf, 0xAA, MEM_SIZE);
	mem = buf;
	gm = (struct guestmem){.base = buf,
			       .size = MEM_SIZE,
			       .nregions = 1,
			       .r = {{.gpa = 0, .size = MEM_SIZE, .host = buf}}};
	data_next = DATA_START;
	interrupts = 0;
	memset(watches, 0, sizeof(watches));
}

/* A buffer in guest RAM: its gpa; contents set to `fill`. */
static uint64_t galloc(size_t len, int fill)
{
	uint64_t gpa = data_next;

	data_next += (len + 15) & ~(size_t)15;
	if (data_next > MEM_SIZE)
		abort();
	memset(mem + gpa, fill, len);
	return gpa;
}

static void drvq_init(struct drvq *dq, struct vq *q, unsigned area)
{
	*dq = (struct drvq){
	    .q = q, .desc = QAREA(area), .avail = QAREA(area) + 0x200, .used = QAREA(area) + 0x400};
	memset(mem + dq->desc, 0, 0x1000);
	vq_reset(q);
	q->size = QSIZE;
	q->ready = true;
	q->desc_gpa = dq->desc;
	q->avail_gpa = dq->avail;
	q->used_gpa = dq->used;
}

static void put16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(mem + gpa, &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, mem + gpa, 2);
	return le16toh(v);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, mem + gpa, 4);
	return le32toh(v);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = mem + table + 16 * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	put16(table + 16 * i + 12, flags);
	put16(table + 16 * i + 14, next);
}

static void avail_put(struct drvq *dq, uint16_t head)
{
	put16(dq->avail + 4 + 2 * (dq->avail_idx % dq->q->size), head);
	put16(dq->avail + 2, ++dq->avail_idx);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Post a chain of direct descriptors; returns its head. */
static uint16_t drvq_add(struct drvq *dq, const struct seg *s, unsigned n)
{
	uint16_t head = dq->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % dq->q->size);
		uint16_t flags = (s[i].write ? F_WRITE : 0) | (i + 1 < n ? F_NEXT : 0);

		set_desc(dq->desc, idx, s[i].gpa, s[i].len, flags, (idx + 1) % dq->q->size);
	}
	dq->next_desc = (uint16_t)((head + n) % dq->q->size);
	avail_put(dq, head);
	return head;
}

static uint16_t used_idx(const struct drvq *dq)
{
	return get16(dq->used + 2);
}

/* The next used element the driver has not seen: false when there is none. */
static bool used_next(struct drvq *dq, uint32_t *id, uint32_t *len)
{
	uint64_t e = dq->used + 4 + 8 * (dq->used_seen % dq->q->size);

	if (used_idx(dq) == dq->used_seen)
		return false;
	*id = get32(e);
	*len = get32(e + 4);
	dq->used_seen++;
	return true;
}

/* ---- the virtqueue ---- */

static struct vq tq;
static struct drvq tdq;
static struct vq_chain chain;

static void queue_setup(void)
{
	mem_reset();
	drvq_init(&tdq, &tq, 0);
}

static int test_simple_chain(void)
{
	uint64_t a, b, w;

	queue_setup();
	a = galloc(100, 1), b = galloc(28, 2), w = galloc(512, 0);
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	drvq_add(&tdq, (struct seg[]){{a, 100, false}, {b, 28, false}, {w, 512, true}}, 3);
	CHECK(vq_pop(&gm, &tq, &chain) == 1);
	CHECK(chain.head == 0 && chain.nout == 2 && chain.nin == 1);
	CHECK(chain.out_len == 128 && chain.in_len == 512);
	CHECK(chain.out[0].iov_base == mem + a && chain.out[1].iov_base == mem + b);
	CHECK(chain.in[0].iov_base == mem + w && chain.in[0].iov_len == 512);
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	CHECK(vq_push(&gm, &tq, chain.head, 77) == 0);
	CHECK(used_idx(&tdq) == 1 && get32(tdq.used + 4) == 0 && get32(tdq.used + 8) == 77);
	return 0;
}

static int test_indirect_chain(void)
{
	uint64_t table, a, w1, w2;

	queue_setup();
	table = galloc(48, 0), a = galloc(16, 1), w1 = galloc(8, 0), w2 = galloc(8, 0);
	set_desc(table, 0, a, 16, F_NEXT, 2);
	set_desc(table, 2, w1, 8, F_NEXT | F_WRITE, 1);
	set_desc(table, 1, w2, 8, F_WRITE, 0);
	/* a direct descriptor first, then the indirect one ending the chain */
	set_desc(tdq.desc, 3, a, 4, F_NEXT, 5);
	set_desc(tdq.desc, 5, table, 48, F_INDIRECT, 0);
	avail_put(&tdq, 3);
	CHECK(vq_pop(&gm, &tq, &chain) == 1);
	CHECK(chain.head == 3 && chain.nout == 2 && chain.nin == 2);
	CHECK(chain.out_len == 20 && chain.in_len == 16);
	CHECK(chain.in[0].iov_base == mem + w1 && chain.in[1].iov_base == mem + w2);
	return 0;
}

static int test_avail_wrap(void)
{
	uint64_t b = 0;
	uint32_t id, len;

	queue_setup();
	b = galloc(8, 0);
	/* The driver's and device's indexes both start just before the wrap. */
	tq.last_avail = tdq.avail_idx = 65534;
	tq.used_idx = tdq.used_seen = 65534;
	for (unsigned i = 0; i < 4; i++)
		drvq_add(&tdq, &(struct seg){b, 8, true}, 1);
	CHECK(get16(tdq.avail + 2) == 2);
	for (unsigned i = 0; i < 4; i++) {
		CHECK(vq_pop(&gm, &tq, &chain) == 1);
		CHECK(chain.head == i);
		CHECK(vq_push(&gm, &tq, chain.head, i) == 0);
	}
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	CHECK(tq.last_avail == 2 && used_idx(&tdq) == 2);
	for (unsigned i = 0; i < 4; i++)
		CHECK(used_next(&tdq, &id, &len) && id == i && len == i);
	return 0;
}

static int test_no_interrupt_flag(void)
{
	queue_setup();
	put16(tdq.avail, 1); /* VRING_AVAIL_F_NO_INTERRUPT */
	CHECK(!vq_need_interrupt(&gm, &tq));
	put16(tdq.avail, 0);
	CHECK(vq_need_interrupt(&gm, &tq));
	return 0;
}

/* used_event (driver -> device): interrupt only when the used index moves
 * past it, across the u16 wrap too. */
static int test_event_idx_interrupt(void)
{
	const uint64_t used_event = QAREA(0) + 0x200 + 4 + 2 * QSIZE;
	static const struct {
		uint16_t from, to, event;
		bool want;
	} cases[] = {
	    {0, 1, 0, true},	      {1, 2, 5, false},	   {2, 5, 5, false},
	    {5, 6, 5, true},	      {6, 9, 7, true},	   {9, 10, 20, false},
	    {65534, 0, 65535, true},  {65530, 2, 1, true}, {65530, 1, 1, false},
	    {65535, 1, 65534, false},
	};

	queue_setup();
	tq.event_idx = true;
	CHECK(vq_need_interrupt(&gm, &tq)); /* the first one always goes */
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		tq.signalled_used = cases[i].from;
		tq.used_idx = cases[i].to;
		put16(used_event, cases[i].event);
		if (vq_need_interrupt(&gm, &tq) != cases[i].want) {
			printf("# case %u: %u -> %u, used_event %u\n", i, cases[i].from,
			       cases[i].to, cases[i].event);
			return 1;
		}
		CHECK(tq.signalled_used == cases[i].to);
	}
	return 0;
}

/* avail_event (device -> driver): an empty ring publishes the index whose
 * arrival should notify, and a buffer added meanwhile is still seen. */
static int test_event_idx_notify(void)
{
	const uint64_t avail_event = QAREA(0) + 0x400 + 4 + 8 * QSIZE;
	uint64_t b;

	queue_setup();
	b = galloc(8, 0);
	tq.event_idx = true;
	put16(avail_event, 999);
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	CHECK(get16(avail_event) == 0);
	drvq_add(&tdq, &(struct seg){b, 8, true}, 1);
	drvq_add(&tdq, &(struct seg){b, 8, true}, 1);
	CHECK(vq_pop(&gm, &tq, &chain) == 1);
	CHECK(get16(avail_event) == 0); /* not rewritten while there is work */
	CHECK(vq_pop(&gm, &tq, &chain) == 1);
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	CHECK(get16(avail_event) == 2);
	tq.event_idx = false;
	put16(avail_event, 999);
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	CHECK(get16(avail_event) == 999); /* untouched without event idx */
	return 0;
}

/* Each builds a bad chain (or bad rings) from head 0 on a fresh queue. */
static void bad_head_range(void)
{
	avail_put(&tdq, QSIZE);
}

static void bad_next_range(void)
{
	set_desc(tdq.desc, 0, DATA_START, 8, F_NEXT, QSIZE + 3);
	avail_put(&tdq, 0);
}

static void bad_loop(void)
{
	set_desc(tdq.desc, 0, DATA_START, 8, F_NEXT, 1);
	set_desc(tdq.desc, 1, DATA_START, 8, F_NEXT, 2);
	set_desc(tdq.desc, 2, DATA_START, 8, F_NEXT, 0);
	avail_put(&tdq, 0);
}

static void bad_self_loop(void)
{
	set_desc(tdq.desc, 0, DATA_START, 0, F_NEXT, 0);
	avail_put(&tdq, 0);
}

static void bad_readable_after_writable(void)
{
	set_desc(tdq.desc, 0, DATA_START, 8, F_NEXT | F_WRITE, 1);
	set_desc(tdq.desc, 1, DATA_START, 8, 0, 0);
	avail_put(&tdq, 0);
}

static void bad_nested_indirect(void)
{
	uint64_t t1 = galloc(32, 0), t2 = galloc(16, 0);

	set_desc(t2, 0, DATA_START, 8, 0, 0);
	set_desc(t1, 0, DATA_START, 8, F_NEXT, 1);
	set_desc(t1, 1, t2, 16, F_INDIRECT, 0);
	set_desc(tdq.desc, 0, t1, 32, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_len(void)
{
	uint64_t t = galloc(32, 0);

	set_desc(t, 0, DATA_START, 8, 0, 0);
	set_desc(tdq.desc, 0, t, 24, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_empty(void)
{
	set_desc(tdq.desc, 0, DATA_START, 0, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_next(void)
{
	uint64_t t = galloc(16, 0);

	set_desc(t, 0, DATA_START, 8, 0, 0);
	set_desc(tdq.desc, 0, t, 16, F_INDIRECT | F_NEXT, 1);
	set_desc(tdq.desc, 1, DATA_START, 8, 0, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_loop(void)
{
	uint64_t t = galloc(32, 0);

	set_desc(t, 0, DATA_START, 8, F_NEXT, 1);
	set_desc(t, 1, DATA_START, 8, F_NEXT, 0);
	set_desc(tdq.desc, 0, t, 32, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_next_range(void)
{
	uint64_t t = galloc(32, 0);

	set_desc(t, 0, DATA_START, 8, F_NEXT, 2);
	set_desc(tdq.desc, 0, t, 32, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_indirect_outside(void)
{
	set_desc(tdq.desc, 0, MEM_SIZE - 16, 32, F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_buffer_outside(void)
{
	set_desc(tdq.desc, 0, MEM_SIZE + 0x1000, 8, 0, 0);
	avail_put(&tdq, 0);
}

static void bad_buffer_straddles(void)
{
	set_desc(tdq.desc, 0, MEM_SIZE - 8, 16, F_WRITE, 0);
	avail_put(&tdq, 0);
}

static void bad_buffer_wraps(void)
{
	set_desc(tdq.desc, 0, UINT64_MAX - 3, 8, 0, 0);
	avail_put(&tdq, 0);
}

static void bad_too_many_segs(void)
{
	uint64_t t = galloc(16 * (VQ_MAX_SEGS + 1), 0);

	for (unsigned i = 0; i <= VQ_MAX_SEGS; i++)
		set_desc(t, i, DATA_START, 1, i < VQ_MAX_SEGS ? F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(tdq.desc, 0, t, 16 * (VQ_MAX_SEGS + 1), F_INDIRECT, 0);
	avail_put(&tdq, 0);
}

static void bad_avail_idx(void)
{
	put16(tdq.avail + 2, QSIZE + 1); /* more entries than the ring has */
}

static void bad_desc_ring_outside(void)
{
	tq.desc_gpa = MEM_SIZE - 0x80; /* 256 bytes of table, half outside */
	avail_put(&tdq, 0);
}

static void bad_used_ring_outside(void)
{
	tq.used_gpa = (uint64_t)1 << 40;
	avail_put(&tdq, 0);
}

static void bad_avail_ring_misaligned(void)
{
	tq.avail_gpa += 1;
	avail_put(&tdq, 0);
}

static void bad_queue_size(void)
{
	tq.size = 12; /* not a power of two */
	avail_put(&tdq, 0);
}

static const struct bad_chain {
	const char *name;
	void (*build)(void);
	int want;
	uint16_t consumed; /* last_avail afterwards */
} bad_chains[] = {
    {"head index out of range", bad_head_range, -EINVAL, 1},
    {"next index out of range", bad_next_range, -EINVAL, 1},
    {"loop", bad_loop, -EINVAL, 1},
    {"self loop", bad_self_loop, -EINVAL, 1},
    {"readable after writable", bad_readable_after_writable, -EINVAL, 1},
    {"nested indirect", bad_nested_indirect, -EINVAL, 1},
    {"indirect length not a multiple of 16", bad_indirect_len, -EINVAL, 1},
    {"indirect length 0", bad_indirect_empty, -EINVAL, 1},
    {"indirect with NEXT", bad_indirect_next, -EINVAL, 1},
    {"loop inside an indirect table", bad_indirect_loop, -EINVAL, 1},
    {"indirect next out of its table", bad_indirect_next_range, -EINVAL, 1},
    {"indirect table outside RAM", bad_indirect_outside, -EINVAL, 1},
    {"buffer outside RAM", bad_buffer_outside, -EINVAL, 1},
    {"buffer straddling the end of RAM", bad_buffer_straddles, -EINVAL, 1},
    {"buffer wrapping the address space", bad_buffer_wraps, -EINVAL, 1},
    {"too many segments", bad_too_many_segs, -EINVAL, 1},
    {"avail idx beyond the ring", bad_avail_idx, -EINVAL, 0},
    {"descriptor table outside RAM", bad_desc_ring_outside, -EFAULT, 0},
    {"used ring outside RAM", bad_used_ring_outside, -EFAULT, 0},
    {"avail ring misaligned", bad_avail_ring_misaligned, -EFAULT, 0},
    {"queue size not a power of two", bad_queue_size, -EFAULT, 0},
};

static int test_malformed_chains(void)
{
	int failed = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(bad_chains); i++) {
		const struct bad_chain *b = &bad_chains[i];
		int r;

		queue_setup();
		b->build();
		r = vq_pop(&gm, &tq, &chain);
		if (r != b->want || tq.last_avail != b->consumed) {
			printf("# %s: got %d (last_avail %u), want %d (%u)\n", b->name, r,
			       tq.last_avail, b->want, b->consumed);
			failed = 1;
		}
	}
	return failed;
}

static int test_chain_at_max_segs(void)
{
	uint64_t t;

	queue_setup();
	t = galloc(16 * VQ_MAX_SEGS, 0);
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		set_desc(t, i, DATA_START + i, 1,
			 (i + 1 < VQ_MAX_SEGS ? F_NEXT : 0) | (i >= 10 ? F_WRITE : 0),
			 (uint16_t)(i + 1));
	set_desc(tdq.desc, 0, t, 16 * VQ_MAX_SEGS, F_INDIRECT, 0);
	avail_put(&tdq, 0);
	CHECK(vq_pop(&gm, &tq, &chain) == 1);
	CHECK(chain.nout == 10 && chain.nin == VQ_MAX_SEGS - 10);
	return 0;
}

static int test_push_bad(void)
{
	queue_setup();
	CHECK(vq_push(&gm, &tq, QSIZE, 0) == -EINVAL);
	tq.used_gpa = MEM_SIZE;
	CHECK(vq_push(&gm, &tq, 0, 0) == -EFAULT);
	CHECK(vq_need_interrupt(&gm, &tq));
	tq.ready = false;
	CHECK(vq_pop(&gm, &tq, &chain) == 0);
	return 0;
}

static int test_iov_copy(void)
{
	char a[3] = "abc", b[1] = "d", c[4] = "efgh", out[8] = {0};
	const struct iovec iov[] = {{a, 3}, {b, 1}, {NULL, 0}, {c, 4}};

	CHECK(vq_iov_read(iov, 4, 2, out, 8) == 6);
	CHECK(memcmp(out, "cdefgh", 6) == 0);
	CHECK(vq_iov_read(iov, 4, 8, out, 8) == 0);
	CHECK(vq_iov_write(iov, 4, 3, "XYZ", 3) == 3);
	CHECK(memcmp(b, "X", 1) == 0 && memcmp(c, "YZgh", 4) == 0);
	return 0;
}

/* ---- virtio-blk ---- */

#define IMG_SECTORS 8

struct blk_env {
	char path[64];
	struct virtio_dev *d;
	struct drvq dq;
};

static uint8_t img_byte(size_t off)
{
	return (uint8_t)(off * 7 + off / 512);
}

static int blk_env_new(struct blk_env *e, bool ro)
{
	cleanup_err struct husk_err *err = NULL;
	uint8_t img[IMG_SECTORS * 512 + 100]; /* a partial sector at the end */
	int fd;

	mem_reset();
	strcpy(e->path, "/tmp/husk-blk.XXXXXX");
	fd = mkstemp(e->path);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = img_byte(i);
	if (write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
		abort();
	close(fd);
	e->d = virtio_blk_new(&gm, NULL, e->path, ro, &err);
	if (!e->d) {
		printf("# %s\n", err->msg);
		return -1;
	}
	drvq_init(&e->dq, &e->d->vqs[0], 0);
	return 0;
}

static void blk_env_free(struct blk_env *e)
{
	virtio_dev_free(e->d);
	unlink(e->path);
}

static uint64_t blk_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {htole32(type), 0, htole64(sector)};
	uint64_t gpa = galloc(sizeof(h), 0);

	memcpy(mem + gpa, &h, sizeof(h));
	return gpa;
}

/* Post one request and serve it: the status byte (or -1 if the chain came
 * back with nothing written) and the used length. */
static int blk_run(struct blk_env *e, const struct seg *s, unsigned n, uint32_t *used_len)
{
	uint32_t id, len;

	drvq_add(&e->dq, s, n);
	e->d->ops->queue_notify(e->d, 0);
	if (!used_next(&e->dq, &id, &len))
		return -2;
	*used_len = len;
	if (len == 0)
		return -1;
	return mem[s[n - 1].gpa + s[n - 1].len - 1];
}

static bool file_matches(const char *path, size_t off, const uint8_t *want, size_t len)
{
	uint8_t got[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && pread(fd, got, len, (off_t)off) == (ssize_t)len &&
		  memcmp(got, want, len) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static int test_blk_config(void)
{
	struct blk_env e;
	uint64_t cap = 0;

	CHECK(blk_env_new(&e, true) == 0);
	e.d->ops->config_read(e.d, 0, &cap, sizeof(cap));
	CHECK(le64toh(cap) == IMG_SECTORS);
	CHECK(e.d->ops->features(e.d) & (1ULL << VIRTIO_BLK_F_RO));
	CHECK(e.d->ops->features(e.d) & (1ULL << VIRTIO_BLK_F_FLUSH));
	CHECK(e.d->ops->device_id == VIRTIO_ID_BLOCK && e.d->ops->nqueues == 1);
	blk_env_free(&e);
	CHECK(blk_env_new(&e, false) == 0);
	CHECK(!(e.d->ops->features(e.d) & (1ULL << VIRTIO_BLK_F_RO)));
	blk_env_free(&e);
	return 0;
}

static int test_blk_read_write(void)
{
	struct blk_env e;
	uint64_t d1, d2, st, wd;
	uint32_t len;
	uint8_t want[1024];

	CHECK(blk_env_new(&e, false) == 0);
	/* read sectors 1-2 into two buffers, with a guard byte after each */
	d1 = galloc(600, 0x55), d2 = galloc(424 + 1, 0x55), st = galloc(1, 0xff);
	CHECK(blk_run(&e,
		      (struct seg[]){{blk_hdr(VIRTIO_BLK_T_IN, 1), 16, false},
				     {d1, 600, true},
				     {d2, 424, true},
				     {st, 1, true}},
		      4, &len) == VIRTIO_BLK_S_OK);
	CHECK(len == 1025);
	for (size_t i = 0; i < 1024; i++)
		want[i] = img_byte(512 + i);
	CHECK(memcmp(mem + d1, want, 600) == 0 && memcmp(mem + d2, want + 600, 424) == 0);
	CHECK(mem[d2 + 424] == 0x55);
	/* write sector 7, the last whole one */
	wd = galloc(512, 0x3c), st = galloc(1, 0xff);
	CHECK(blk_run(&e,
		      (struct seg[]){{blk_hdr(VIRTIO_BLK_T_OUT, 7), 16, false},
				     {wd, 512, false},
				     {st, 1, true}},
		      3, &len) == VIRTIO_BLK_S_OK);
	CHECK(len == 1);
	memset(want, 0x3c, 512);
	CHECK(file_matches(e.path, 7 * 512, want, 512));
	CHECK(interrupts == 2 && !e.d->broken);
	blk_env_free(&e);
	return 0;
}

static int test_blk_flush_get_id(void)
{
	struct blk_env e;
	uint64_t id, st;
	uint32_t len;

	CHECK(blk_env_new(&e, false) == 0);
	st = galloc(1, 0xff);
	CHECK(blk_run(&e,
		      (struct seg[]){{blk_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false}, {st, 1, true}}, 2,
		      &len) == VIRTIO_BLK_S_OK);
	id = galloc(VIRTIO_BLK_ID_BYTES, 0x55), st = galloc(1, 0xff);
	CHECK(blk_run(&e,
		      (struct seg[]){{blk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, false},
				     {id, VIRTIO_BLK_ID_BYTES, true},
				     {st, 1, true}},
		      3, &len) == VIRTIO_BLK_S_OK);
	CHECK(strncmp((char *)mem + id, strrchr(e.path, '/') + 1, VIRTIO_BLK_ID_BYTES) == 0);
	CHECK(mem[id + strlen(strrchr(e.path, '/') + 1)] == 0);
	blk_env_free(&e);
	return 0;
}

/* Requests the device must refuse, each leaving the image and the memory
 * outside its own buffers alone. */
static const struct blk_bad {
	const char *name;
	uint32_t type;
	uint64_t sector;
	uint32_t out_data, in_data; /* data bytes in each direction */
	uint32_t hdr_len;
	bool status;
	bool ro;
	int want;
} blk_bad[] = {
    {"read past capacity", VIRTIO_BLK_T_IN, 7, 0, 1024, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"read of the partial sector", VIRTIO_BLK_T_IN, 8, 0, 512, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"sector overflow", VIRTIO_BLK_T_IN, UINT64_MAX, 0, 512, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"write past capacity", VIRTIO_BLK_T_OUT, 6, 1536, 0, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"write to a read-only disk", VIRTIO_BLK_T_OUT, 0, 512, 0, 16, true, true, VIRTIO_BLK_S_IOERR},
    {"read with readable data", VIRTIO_BLK_T_IN, 0, 512, 512, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"write with writable data", VIRTIO_BLK_T_OUT, 0, 512, 512, 16, true, false,
     VIRTIO_BLK_S_IOERR},
    {"partial sector", VIRTIO_BLK_T_IN, 0, 0, 100, 16, true, false, VIRTIO_BLK_S_IOERR},
    {"unknown type", 99, 0, 0, 0, 16, true, false, VIRTIO_BLK_S_UNSUPP},
    {"short header", VIRTIO_BLK_T_IN, 0, 0, 512, 8, true, false, VIRTIO_BLK_S_IOERR},
    {"no status byte", VIRTIO_BLK_T_IN, 0, 0, 0, 16, false, false, -1},
    {"no status byte on a write", VIRTIO_BLK_T_OUT, 0, 512, 0, 16, false, false, -1},
};

static int blk_bad_one(const struct blk_bad *b)
{
	uint8_t img[IMG_SECTORS * 512];
	struct seg s[4];
	struct blk_env e;
	unsigned n = 0;
	uint32_t len;
	uint64_t end;

	CHECK(blk_env_new(&e, b->ro) == 0);
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = img_byte(i);
	s[n++] = (struct seg){blk_hdr(b->type, b->sector), b->hdr_len, false};
	if (b->out_data)
		s[n++] = (struct seg){galloc(b->out_data, 0x11), b->out_data, false};
	if (b->in_data)
		s[n++] = (struct seg){galloc(b->in_data, 0x22), b->in_data, true};
	if (b->status)
		s[n++] = (struct seg){galloc(1, 0xff), 1, true};
	end = data_next;
	memset(mem + end, 0x77, 64);
	CHECK(blk_run(&e, s, n, &len) == b->want);
	CHECK(b->want != -1 || len == 0);
	for (unsigned i = 0; i < 64; i++)
		CHECK(mem[end + i] == 0x77);
	CHECK(file_matches(e.path, 0, img, sizeof(img)));
	CHECK(!e.d->broken);
	blk_env_free(&e);
	return 0;
}

static int test_blk_bad_requests(void)
{
	int failed = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(blk_bad); i++) {
		if (blk_bad_one(&blk_bad[i]) != 0) {
			printf("# case: %s\n", blk_bad[i].name);
			failed = 1;
		}
	}
	return failed;
}

static void bad_chain_env(struct drvq *dq)
{
	set_desc(dq->desc, 0, DATA_START, 16, F_NEXT, 1);
	set_desc(dq->desc, 1, DATA_START, 1, F_NEXT | F_WRITE, 0);
	avail_put(dq, 0);
	dq->next_desc = 2;
}

/* A malformed chain breaks the device: later requests are not served. */
static int test_blk_broken(void)
{
	struct blk_env e;
	uint32_t id, len;

	CHECK(blk_env_new(&e, false) == 0);
	bad_chain_env(&e.dq);
	e.d->ops->queue_notify(e.d, 0);
	CHECK(e.d->broken);
	drvq_add(
	    &e.dq,
	    (struct seg[]){{blk_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false}, {galloc(1, 0xff), 1, true}},
	    2);
	e.d->ops->queue_notify(e.d, 0);
	CHECK(!used_next(&e.dq, &id, &len));
	blk_env_free(&e);
	return 0;
}

/* ---- virtio-rng ---- */

static int test_rng_fills(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct virtio_dev *d;
	struct drvq dq;
	uint64_t a, b;
	uint32_t id, len;
	unsigned zeros_a = 0, zeros_b = 0;

	mem_reset();
	d = virtio_rng_new(&gm, NULL, &err);
	CHECK(d && d->ops->device_id == VIRTIO_ID_RNG);
	drvq_init(&dq, &d->vqs[0], 0);
	a = galloc(64, 0), b = galloc(64 + 1, 0);
	drvq_add(&dq, (struct seg[]){{a, 64, true}, {b, 64, true}}, 2);
	d->ops->queue_notify(d, 0);
	CHECK(used_next(&dq, &id, &len) && id == 0 && len == 128);
	for (unsigned i = 0; i < 64; i++) {
		zeros_a += mem[a + i] == 0;
		zeros_b += mem[b + i] == 0;
	}
	CHECK(zeros_a < 8 && zeros_b < 8); /* 64 random bytes: ~0.25 zeros expected */
	CHECK(mem[b + 64] == 0);
	virtio_dev_free(d);
	return 0;
}

/* ---- virtio-console ---- */

struct con_env {
	struct virtio_dev *d;
	struct drvq q[VIRTIO_MAX_QUEUES];
	int in[5][2], out[5][2]; /* pipes: [0] read end, [1] write end */
};

/* The ports husk uses: the console, the agent's channel both ways, then one port per
 * direction of the process's stdio (stdin has no host output, stdout and stderr no input). */
static const struct {
	const char *name;
	bool in, out;
} con_layout[5] = {
    {NULL, true, true},		  {"husk.ctl", true, true},	{"husk.stdin", true, false},
    {"husk.stdout", false, true}, {"husk.stderr", false, true},
};

static int con_env_new(struct con_env *e, unsigned nports, bool multiport)
{
	cleanup_err struct husk_err *err = NULL;
	struct virtio_console_port ports[5];

	mem_reset();
	for (unsigned i = 0; i < nports; i++) {
		if (pipe2(e->in[i], O_CLOEXEC) < 0 || pipe2(e->out[i], O_CLOEXEC) < 0)
			return -1;
		ports[i] = (struct virtio_console_port){con_layout[i].name,
							con_layout[i].in ? e->in[i][0] : -1,
							con_layout[i].out ? e->out[i][1] : -1};
	}
	e->d = virtio_console_new(&gm, NULL, ports, nports, &err);
	if (!e->d)
		return -1;
	for (unsigned i = 0; i < e->d->ops->nqueues; i++)
		drvq_init(&e->q[i], &e->d->vqs[i], i);
	if (multiport)
		e->d->driver_features = e->d->ops->features(e->d);
	return e->d->ops->activate(e->d, &err);
}

static void con_env_free(struct con_env *e, unsigned nports)
{
	virtio_dev_free(e->d);
	for (unsigned i = 0; i < nports; i++) {
		close(e->in[i][0]);
		close(e->in[i][1]);
		close(e->out[i][0]);
		close(e->out[i][1]);
	}
}

static uint64_t con_post_rx(struct con_env *e, unsigned q, uint32_t len)
{
	uint64_t b = galloc(len, 0);

	drvq_add(&e->q[q], &(struct seg){b, len, true}, 1);
	e->d->ops->queue_notify(e->d, (uint16_t)q);
	return b;
}

static int test_console_single_port(void)
{
	struct con_env e;
	uint32_t id, len;
	uint64_t b, t1, t2;
	char out[16] = {0};

	CHECK(con_env_new(&e, 1, false) == 0);
	CHECK(e.d->ops->nqueues == 2 && !(e.d->ops->features(e.d) & 2));
	CHECK(watched(e.in[0][0]));
	/* data waiting, a buffer posted: delivered on the next wakeup */
	CHECK(write(e.in[0][1], "hello", 5) == 5);
	b = con_post_rx(&e, 0, 64);
	CHECK(fire(e.in[0][0]));
	CHECK(used_next(&e.q[0], &id, &len) && len == 5 && memcmp(mem + b, "hello", 5) == 0);
	/* no buffer: the fd is no longer watched and the bytes stay in the pipe */
	CHECK(write(e.in[0][1], "more", 4) == 4);
	CHECK(fire(e.in[0][0]));
	CHECK(!watched(e.in[0][0]));
	b = con_post_rx(&e, 0, 64);
	CHECK(watched(e.in[0][0]));
	CHECK(fire(e.in[0][0]));
	CHECK(used_next(&e.q[0], &id, &len) && len == 4 && memcmp(mem + b, "more", 4) == 0);
	/* transmit */
	t1 = galloc(3, 'a'), t2 = galloc(2, 'b');
	drvq_add(&e.q[1], (struct seg[]){{t1, 3, false}, {t2, 2, false}}, 2);
	e.d->ops->queue_notify(e.d, 1);
	CHECK(used_next(&e.q[1], &id, &len) && len == 0);
	CHECK(read(e.out[0][0], out, sizeof(out)) == 5 && strcmp(out, "aaabb") == 0);
	/* host EOF: no more watching */
	close(e.in[0][1]);
	e.in[0][1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	con_post_rx(&e, 0, 64);
	CHECK(fire(e.in[0][0]));
	CHECK(!watched(e.in[0][0]));
	CHECK(!used_next(&e.q[0], &id, &len));
	con_env_free(&e, 1);
	return 0;
}

/* Control messages the guest got on queue 2, as "event:id:value[:name]". */
static int ctrl_next(struct con_env *e, char *buf, size_t size)
{
	struct virtio_console_control h;
	uint32_t id, len;
	uint64_t gpa;

	if (!used_next(&e->q[2], &id, &len))
		return -1;
	gpa = get32(QAREA(2) + 16 * id) | (uint64_t)get32(QAREA(2) + 16 * id + 4) << 32;
	memcpy(&h, mem + gpa, sizeof(h));
	snprintf(buf, size, "%u:%u:%u%s%.*s", le16toh(h.event), le32toh(h.id), le16toh(h.value),
		 len > 8 ? ":" : "", (int)(len > 8 ? len - 8 : 0), (char *)mem + gpa + 8);
	return 0;
}

/* The driver sends a control message; returns the head of its chain. */
static uint16_t ctrl_post(struct con_env *e, uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control h = {htole32(id), htole16(event), htole16(value)};
	uint64_t gpa = galloc(sizeof(h), 0);
	uint16_t head;

	memcpy(mem + gpa, &h, sizeof(h));
	head = drvq_add(&e->q[3], &(struct seg){gpa, sizeof(h), false}, 1);
	e->d->ops->queue_notify(e->d, 3);
	return head;
}

static int check_ctrl(struct con_env *e, const char *const *want, unsigned n)
{
	char got[96];

	for (unsigned i = 0; i < n; i++) {
		if (ctrl_next(e, got, sizeof(got)) < 0 || strcmp(got, want[i]) != 0) {
			printf("# control message %u: got \"%s\", want \"%s\"\n", i, got, want[i]);
			return 1;
		}
		got[0] = 0;
	}
	CHECK(ctrl_next(e, got, sizeof(got)) < 0);
	return 0;
}

static int test_console_multiport(void)
{
	static const char *const adds[] = {"1:0:1", "1:1:1", "1:2:1", "1:3:1", "1:4:1"};
	static const char *const ready0[] = {"4:0:1", "6:0:1"};
	static const char *const ready1[] = {"7:1:1:husk.ctl", "6:1:1"};
	static const char *const ready2[] = {"7:2:1:husk.stdin", "6:2:1", "6:2:0"};
	/* Output-only ports are host-connected from the start: Linux blocks writes otherwise. */
	static const char *const ready34[] = {"7:3:1:husk.stdout", "6:3:1", "7:4:1:husk.stderr",
					      "6:4:1"};
	struct con_env e;
	uint32_t id, len;
	uint64_t b;
	uint16_t head;
	char out[16] = {0};

	CHECK(con_env_new(&e, 5, true) == 0);
	CHECK(e.d->ops->nqueues == 12 && (e.d->ops->features(e.d) & 2));
	for (unsigned i = 0; i < 3; i++)
		con_post_rx(&e, 2, 128);
	head = ctrl_post(&e, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	/* the control-transmit chain comes back under its own head, even though the answers
	 * (PORT_ADDs) were given to receive chains while it was being handled */
	CHECK(used_next(&e.q[3], &id, &len) && id == head);
	/* three buffers for five PORT_ADDs: the last two wait for buffers */
	CHECK(check_ctrl(&e, adds, 3) == 0);
	for (unsigned i = 0; i < 16; i++)
		con_post_rx(&e, 2, 168);
	CHECK(check_ctrl(&e, adds + 3, 2) == 0);
	ctrl_post(&e, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(check_ctrl(&e, ready0, 2) == 0);
	ctrl_post(&e, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(check_ctrl(&e, ready1, 2) == 0);
	ctrl_post(&e, 9, VIRTIO_CONSOLE_PORT_READY, 1); /* no such port: ignored */
	ctrl_post(&e, 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	/* port 2 (queues 6 and 7): stdin data, then host EOF disconnects it */
	CHECK(write(e.in[2][1], "stdin", 5) == 5);
	b = con_post_rx(&e, 6, 64);
	CHECK(fire(e.in[2][0]));
	CHECK(used_next(&e.q[6], &id, &len) && len == 5 && memcmp(mem + b, "stdin", 5) == 0);
	ctrl_post(&e, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	close(e.in[2][1]);
	e.in[2][1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	con_post_rx(&e, 6, 64);
	CHECK(fire(e.in[2][0]));
	CHECK(check_ctrl(&e, ready2, 3) == 0);
	/* ports 3 and 4: connected; receive buffers stay posted (nothing to read) */
	ctrl_post(&e, 3, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_post(&e, 4, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(check_ctrl(&e, ready34, 4) == 0);
	con_post_rx(&e, 8, 64);
	CHECK(!used_next(&e.q[8], &id, &len));
	/* stdout (queue 9) still flows after stdin's EOF; the bytes are in the host pipe by
	 * the time the buffer is used */
	b = galloc(3, 'o');
	drvq_add(&e.q[9], &(struct seg){b, 3, false}, 1);
	e.d->ops->queue_notify(e.d, 9);
	CHECK(used_next(&e.q[9], &id, &len) && len == 0);
	CHECK(read(e.out[3][0], out, sizeof(out)) == 3 && strcmp(out, "ooo") == 0);
	CHECK(check_ctrl(&e, NULL, 0) == 0); /* no PORT_OPEN 0 for the output ports */
	CHECK(!e.d->broken);
	con_env_free(&e, 5);
	return 0;
}

/* A stdin epoll cannot watch (/dev/null, as under CI) is read directly: the guest sees the
 * port disconnected, i.e. EOF, instead of waiting forever. */
static int test_console_unpollable_stdin(void)
{
	static const char *const want[] = {"1:0:1", "1:1:1", "7:1:1:husk.stdin", "6:1:1"};
	static const char *const eof[] = {"6:1:0"};
	cleanup_err struct husk_err *err = NULL;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct virtio_console_port ports[2] = {{NULL, -1, -1}, {"husk.stdin", null, -1}};
	struct con_env e;
	uint32_t id, len;

	mem_reset();
	CHECK(null >= 0);
	e.d = virtio_console_new(&gm, NULL, ports, 2, &err);
	CHECK(e.d);
	for (unsigned i = 0; i < e.d->ops->nqueues; i++)
		drvq_init(&e.q[i], &e.d->vqs[i], i);
	e.d->driver_features = e.d->ops->features(e.d);
	CHECK(e.d->ops->activate(e.d, &err) == 0 && !watched(null));
	for (unsigned i = 0; i < 4; i++)
		con_post_rx(&e, 2, 128);
	ctrl_post(&e, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	con_post_rx(&e, 4, 64); /* port 1's receive buffer */
	CHECK(!used_next(&e.q[4], &id, &len));
	ctrl_post(&e, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(check_ctrl(&e, want, 4) == 0);
	/* nothing is read until a guest process opens the port (Linux drops input for a port
	 * nobody has open); then the read finds EOF and the host side disconnects */
	con_post_rx(&e, 2, 128);
	ctrl_post(&e, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	CHECK(check_ctrl(&e, eof, 1) == 0);
	CHECK(!used_next(&e.q[4], &id, &len));
	virtio_dev_free(e.d);
	close(null);
	return 0;
}

/* Without MULTIPORT accepted by the driver, only port 0 exists. */
static int test_console_multiport_refused(void)
{
	struct con_env e;
	uint32_t id, len;

	CHECK(con_env_new(&e, 5, false) == 0);
	CHECK(watched(e.in[0][0]) && !watched(e.in[1][0]));
	con_post_rx(&e, 2, 128);
	ctrl_post(&e, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	CHECK(!used_next(&e.q[2], &id, &len) && !used_next(&e.q[3], &id, &len));
	con_env_free(&e, 5);
	return 0;
}

static int test_console_bad_args(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct virtio_console_port p[9] = {{NULL, -1, -1}};

	CHECK(!virtio_console_new(&gm, NULL, p, 0, &err));
	husk_err_freep(&err);
	CHECK(!virtio_console_new(&gm, NULL, p, 8, &err));
	CHECK_CONTAINS(err->msg, "1 to 7");
	return 0;
}

/* ---- virtio-net over a real tap, in a throwaway network namespace ---- */

#define ETH_TEST 0x88b5 /* IEEE local experimental ethertype: nothing else sends it */

static int tap_open(int *ifindex)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s;

	strcpy(ifr.ifr_name, "hkvtap0");
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -1;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		return -1;
	close(s);
	*ifindex = ifr.ifr_ifindex;
	return fd;
}

/* An ethernet frame of ours: broadcast, from mac, ETH_TEST, then text. */
static void frame(uint8_t *f, const uint8_t *mac, const char *text)
{
	uint16_t type = htons(ETH_TEST);

	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	memcpy(f + 12, &type, 2);
	memcpy(f + 14, text, strlen(text));
}

/* The host side sees what the guest sent through the tap. */
static bool host_got(int ps, const char *text)
{
	uint8_t buf[2048];

	while (poll(&(struct pollfd){.fd = ps, .events = POLLIN}, 1, 1000) == 1) {
		ssize_t n = recv(ps, buf, sizeof(buf), 0);

		if (n >= 60 && buf[12] == 0x88 && buf[13] == 0xb5 &&
		    memcmp(buf + 14, text, strlen(text)) == 0)
			return true;
	}
	return false;
}

/* The guest gets what the host sent: look through what the device put in
 * the receive buffers (the stack may send its own frames too). */
static bool guest_got(struct virtio_dev *d, struct drvq *dq, int tap, const char *text)
{
	uint32_t id, len;

	for (int tries = 0; tries < 8; tries++) {
		uint64_t b = galloc(12 + 1518, 0);

		drvq_add(dq, &(struct seg){b, 12 + 1518, true}, 1);
		d->ops->queue_notify(d, 0);
		if (!fire(tap))
			return false;
		while (used_next(dq, &id, &len)) {
			uint64_t gpa = get32(dq->desc + 16 * id);

			if (len >= 12 + 60 && get16(gpa + 10) == 1 && mem[gpa + 24] == 0x88 &&
			    memcmp(mem + gpa + 26, text, strlen(text)) == 0)
				return true;
		}
	}
	return false;
}

static int net_in_netns(void)
{
	static const uint8_t mac[6] = {0x02, 0x68, 0x75, 0x73, 0x6b, 0x01};
	cleanup_err struct husk_err *err = NULL;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	uint8_t f[60], cfg[8];
	struct drvq rxq, txq;
	struct virtio_dev *d;
	uint64_t h, b;
	int tap, ps;

	mem_reset();
	tap = tap_open(&sll.sll_ifindex);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(tap >= 0 && ps >= 0 && bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	d = virtio_net_new(&gm, NULL, tap, mac, &err);
	CHECK(d && d->ops->device_id == VIRTIO_ID_NET);
	d->ops->config_read(d, 0, cfg, sizeof(cfg));
	CHECK(memcmp(cfg, mac, 6) == 0 && cfg[6] == 1); /* VIRTIO_NET_S_LINK_UP */
	drvq_init(&rxq, &d->vqs[0], 0);
	drvq_init(&txq, &d->vqs[1], 1);
	CHECK(d->ops->activate(d, &err) == 0 && watched(tap));
	/* guest -> host: header (all zero: no offloads), then the frame */
	h = galloc(12, 0), b = galloc(60, 0);
	frame(mem + b, mac, "husk-tx");
	drvq_add(&txq, (struct seg[]){{h, 12, false}, {b, 60, false}}, 2);
	d->ops->queue_notify(d, 1);
	CHECK(host_got(ps, "husk-tx"));
	/* host -> guest */
	frame(f, (const uint8_t[6]){0x02, 0, 0, 0, 0, 9}, "husk-rx");
	CHECK(send(ps, f, sizeof(f), 0) == (ssize_t)sizeof(f));
	CHECK(guest_got(d, &rxq, tap, "husk-rx"));
	d->ops->reset(d);
	CHECK(!watched(tap));
	virtio_dev_free(d);
	return 0;
}

static int test_net_tap(void)
{
	int status;
	pid_t pid;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) < 0)
		return 77;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) < 0 ? 77 : net_in_netns());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}

static const struct test tests[] = {
    {"queue: simple chain", test_simple_chain},
    {"queue: indirect chain after a direct descriptor", test_indirect_chain},
    {"queue: avail and used idx wrap at 65535", test_avail_wrap},
    {"queue: VRING_AVAIL_F_NO_INTERRUPT", test_no_interrupt_flag},
    {"queue: event idx suppresses interrupts (used_event)", test_event_idx_interrupt},
    {"queue: event idx suppresses notifications (avail_event)", test_event_idx_notify},
    {"queue: malformed chains and rings are rejected", test_malformed_chains},
    {"queue: VQ_MAX_SEGS segments are accepted", test_chain_at_max_segs},
    {"queue: bad push and not-ready queue", test_push_bad},
    {"queue: iov copy helpers", test_iov_copy},
    {"blk: config and features", test_blk_config},
    {"blk: read and write", test_blk_read_write},
    {"blk: flush and get id", test_blk_flush_get_id},
    {"blk: bad requests fail alone", test_blk_bad_requests},
    {"blk: malformed chain breaks the device", test_blk_broken},
    {"rng: fills the writable buffers", test_rng_fills},
    {"console: one port both ways, no data dropped", test_console_single_port},
    {"console: multiport handshake and host EOF", test_console_multiport},
    {"console: an unpollable stdin (/dev/null) reads as EOF", test_console_unpollable_stdin},
    {"console: multiport not accepted", test_console_multiport_refused},
    {"console: port count checked", test_console_bad_args},
    {"net: frames both ways through a tap", test_net_tap},
};
TAP_MAIN(tests)
