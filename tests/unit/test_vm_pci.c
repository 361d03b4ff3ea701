/* PCI host bridge and virtio-pci transport, driven through bus_access() the way a guest's
 * port and MMIO accesses reach them; interrupts and ioeventfds go to fakes (no /dev/kvm). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tap.h"
#include "vm/pci.h"
#include "vm/virtio/virtio.h"

#define NOTIFY_CAP 2

/* --- fake interrupt plumbing ------------------------------------------------------------ */

static struct {
	int line_no, line_level, line_calls;
	int allocs, updates, frees;
	uint64_t msi_addr;
	uint32_t msi_data;
	int msi_efd;
	int ioeventfds, ioeventfd_dels;
	uint64_t ioeventfd_addr[VIRTIO_MAX_QUEUES];
	int nwatch, unwatches;
	int watch_fd[VIRTIO_MAX_QUEUES];
	event_fn watch_fn[VIRTIO_MAX_QUEUES];
	void *watch_arg[VIRTIO_MAX_QUEUES];
} fk;

static int fk_line(struct vm_kvm *k, uint32_t line, int level)
{
	fk.line_no = line;
	fk.line_level = level;
	fk.line_calls++;
	return 0;
}

static int fk_msi_alloc(struct vm_kvm *k, uint64_t addr, uint32_t data, uint32_t *gsi, int *efd,
			struct husk_err **err)
{
	fk.allocs++;
	fk.msi_addr = addr;
	fk.msi_data = data;
	*gsi = 40 + fk.allocs;
	*efd = fk.msi_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return 0;
}

static int fk_msi_update(struct vm_kvm *k, uint32_t gsi, uint64_t addr, uint32_t data,
			 struct husk_err **err)
{
	fk.updates++;
	fk.msi_addr = addr;
	fk.msi_data = data;
	return 0;
}

static void fk_msi_free(struct vm_kvm *k, uint32_t gsi, int efd)
{
	fk.frees++;
	close(efd);
}

static int fk_ioeventfd(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
			uint64_t datamatch, int efd, struct husk_err **err)
{
	fk.ioeventfd_addr[fk.ioeventfds++ % VIRTIO_MAX_QUEUES] = addr;
	return 0;
}

static int fk_ioeventfd_del(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
			    uint64_t datamatch, int efd)
{
	fk.ioeventfd_dels++;
	return 0;
}

static int fk_watch(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *arg,
		    struct husk_err **err)
{
	fk.watch_fd[fk.nwatch] = fd;
	fk.watch_fn[fk.nwatch] = fn;
	fk.watch_arg[fk.nwatch++] = arg;
	return 0;
}

static void fk_unwatch(struct event_loop *l, int fd)
{
	fk.unwatches++;
}

static const struct pci_irq_ops fake_irq = {
	.line = fk_line,
	.msi_alloc = fk_msi_alloc,
	.msi_update = fk_msi_update,
	.msi_free = fk_msi_free,
	.ioeventfd = fk_ioeventfd,
	.ioeventfd_del = fk_ioeventfd_del,
	.watch = fk_watch,
	.unwatch = fk_unwatch,
};

/* What the event loop would do: run the watcher of every readable fd. */
static void run_loop_once(void)
{
	for (int i = 0; i < fk.nwatch; i++)
		fk.watch_fn[i](fk.watch_arg[i], 1);
}

static bool efd_fired(int efd)
{
	uint64_t v;

	return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

/* --- fake virtio device ----------------------------------------------------------------- */

static struct {
	int notified[VIRTIO_MAX_QUEUES];
	int resets, activates;
} fd_state;

static uint64_t fd_features(struct virtio_dev *d)
{
	return 1ULL << 0 | 1ULL << 5;
}

static void fd_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = 0x10 + off + i;
}

static int fd_activate(struct virtio_dev *d, struct husk_err **err)
{
	fd_state.activates++;
	return 0;
}

static void fd_queue_notify(struct virtio_dev *d, uint16_t q)
{
	fd_state.notified[q]++;
}

static void fd_reset(struct virtio_dev *d)
{
	fd_state.resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "virtio-fake",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 2,
	.queue_size = 256,
	.config_len = 8,
	.features = fd_features,
	.config_read = fd_config_read,
	.activate = fd_activate,
	.queue_notify = fd_queue_notify,
	.reset = fd_reset,
};

/* --- the machine ------------------------------------------------------------------------ */

struct fx {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct virtio_dev d;
};

static struct fx *fx_new(bool with_virtio)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct husk_err *err = NULL;

	memset(&fk, 0, sizeof(fk));
	memset(&fd_state, 0, sizeof(fd_state));
	if (!f)
		abort();
	bus_init(&f->pio);
	bus_init(&f->mmio);
	if (pci_bus_init(&f->pb, &f->pio, &f->mmio, &err) < 0)
		abort();
	f->pb.irq = &fake_irq;
	f->d.ops = &fake_ops;
	if (with_virtio && virtio_pci_add(&f->pb, NULL, NULL, &f->d, &err) < 0) {
		printf("# %s\n", err->msg);
		abort();
	}
	return f;
}

/* The teardown vm.c does: the transport (whose BAR and slot go), then the buses. */
static void fx_free(struct fx **fp)
{
	struct fx *f = *fp;

	virtio_pci_remove(&f->pb, &f->d);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
}

#define cleanup_fx __attribute__((cleanup(fx_free)))

static uint64_t io(struct bus *b, uint64_t addr, uint32_t len, bool is_write, uint64_t val)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	for (uint32_t i = 0; i < len; i++)
		data[i] = val >> (8 * i);
	if (!bus_access(b, addr, data, len, is_write))
		return ~0ULL;
	for (uint32_t i = len; i-- > 0;)
		v = v << 8 | data[i];
	return v;
}

static uint32_t cfg_rd(struct fx *f, unsigned slot, unsigned off, unsigned len)
{
	io(&f->pio, 0xCF8, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	return io(&f->pio, 0xCFC + (off & 3), len, false, 0);
}

static void cfg_wr(struct fx *f, unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	io(&f->pio, 0xCF8, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	io(&f->pio, 0xCFC + (off & 3), len, true, v);
}

static uint64_t bar0(struct fx *f)
{
	return (cfg_rd(f, 1, 0x10, 4) & ~0xfu) | (uint64_t)cfg_rd(f, 1, 0x14, 4) << 32;
}

/* Offset in the BAR of the virtio capability of cfg_type type (-1 when absent). */
static int64_t vcap_off(struct fx *f, uint8_t type, uint32_t *len, uint32_t *mult)
{
	for (unsigned c = cfg_rd(f, 1, 0x34, 1); c; c = cfg_rd(f, 1, c + 1, 1)) {
		if (cfg_rd(f, 1, c, 1) != 0x09 || cfg_rd(f, 1, c + 3, 1) != type)
			continue;
		if (len)
			*len = cfg_rd(f, 1, c + 12, 4);
		if (mult && type == NOTIFY_CAP)
			*mult = cfg_rd(f, 1, c + 16, 4);
		return cfg_rd(f, 1, c + 8, 4);
	}
	return -1;
}

static uint64_t common_rd(struct fx *f, unsigned off, unsigned len)
{
	return io(&f->mmio, bar0(f) + vcap_off(f, 1, NULL, NULL) + off, len, false, 0);
}

static void common_wr(struct fx *f, unsigned off, unsigned len, uint64_t v)
{
	io(&f->mmio, bar0(f) + vcap_off(f, 1, NULL, NULL) + off, len, true, v);
}

/* Status bits and common config offsets (virtio 1.2, section 4.1.4.3). */
#define ST_ACK_DRIVER 0x03
#define ST_FEATURES_OK 0x08
#define ST_DRIVER_OK 0x04
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0C
#define C_MSIX_CONFIG 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QVEC 0x1A
#define C_QENABLE 0x1C
#define C_QNOTIFY_OFF 0x1E
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30

/* Negotiate VERSION_1 plus device bit 0 and set FEATURES_OK. */
static uint8_t negotiate(struct fx *f, uint32_t lo, uint32_t hi)
{
	common_wr(f, C_STATUS, 1, ST_ACK_DRIVER);
	common_wr(f, C_GFSEL, 4, 0);
	common_wr(f, C_GF, 4, lo);
	common_wr(f, C_GFSEL, 4, 1);
	common_wr(f, C_GF, 4, hi);
	common_wr(f, C_STATUS, 1, ST_ACK_DRIVER | ST_FEATURES_OK);
	return common_rd(f, C_STATUS, 1);
}

static void setup_queue(struct fx *f, uint16_t q, uint64_t base)
{
	common_wr(f, C_QSEL, 2, q);
	common_wr(f, C_QSIZE, 2, 16);
	common_wr(f, C_QDESC, 8, base);
	common_wr(f, C_QDRIVER, 8, base + 0x1000);
	common_wr(f, C_QDEVICE, 8, base + 0x2000);
	common_wr(f, C_QENABLE, 2, 1);
}

static void driver_ok(struct fx *f)
{
	negotiate(f, 1, 1);
	setup_queue(f, 0, 0x100000);
	common_wr(f, C_STATUS, 1, ST_ACK_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	run_loop_once();	/* the kick every queue gets at DRIVER_OK */
	memset(fd_state.notified, 0, sizeof(fd_state.notified));
}

static int test_host_bridge(void)
{
	cleanup_fx struct fx *f = fx_new(false);

	CHECK(cfg_rd(f, 0, 0x00, 4) == 0x0d578086);
	CHECK(cfg_rd(f, 0, 0x00, 2) == 0x8086);
	CHECK(cfg_rd(f, 0, 0x02, 2) == 0x0d57);
	CHECK(cfg_rd(f, 0, 0x08, 4) >> 8 == 0x060000);	/* class: host bridge */
	CHECK(cfg_rd(f, 0, 0x0B, 1) == 0x06);
	CHECK(io(&f->pio, 0xCF8, 4, false, 0) == 0x80000008);
	/* Narrow accesses to 0xCF8 are not CONFIG_ADDRESS. */
	io(&f->pio, 0xCFB, 1, true, 0x01);
	CHECK(io(&f->pio, 0xCF8, 4, false, 0) == 0x80000008);
	/* The vendor id is read-only, the interrupt line is firmware scratch. */
	cfg_wr(f, 0, 0x00, 2, 0x1234);
	CHECK(cfg_rd(f, 0, 0x00, 2) == 0x8086);
	cfg_wr(f, 0, 0x3C, 1, 0x0b);
	CHECK(cfg_rd(f, 0, 0x3C, 1) == 0x0b);
	return 0;
}

static int test_absent(void)
{
	cleanup_fx struct fx *f = fx_new(true);

	CHECK(cfg_rd(f, 2, 0x00, 4) == 0xffffffff);
	CHECK(cfg_rd(f, 31, 0x00, 2) == 0xffff);
	/* Function 1 of a present slot, bus 1, and the enable bit clear: all absent. */
	io(&f->pio, 0xCF8, 4, true, 0x80000000u | 1 << 11 | 1 << 8);
	CHECK(io(&f->pio, 0xCFC, 4, false, 0) == 0xffffffff);
	io(&f->pio, 0xCF8, 4, true, 0x80000000u | 1 << 16);
	CHECK(io(&f->pio, 0xCFC, 4, false, 0) == 0xffffffff);
	io(&f->pio, 0xCF8, 4, true, 1 << 11);
	CHECK(io(&f->pio, 0xCFC, 4, false, 0) == 0xffffffff);
	return 0;
}

static int test_virtio_ids(void)
{
	cleanup_fx struct fx *f = fx_new(true);

	CHECK(cfg_rd(f, 1, 0x00, 4) == (0x1044u << 16 | 0x1af4));	/* 0x1040 + rng */
	CHECK(cfg_rd(f, 1, 0x08, 1) == 1);				/* revision */
	CHECK(cfg_rd(f, 1, 0x2C, 2) == 0x1af4);
	CHECK(cfg_rd(f, 1, 0x2E, 2) >= 0x40);
	CHECK(cfg_rd(f, 1, 0x06, 2) & 0x10);				/* CAP_LIST */
	CHECK(cfg_rd(f, 1, 0x3D, 1) == 1);				/* INTA# */
	CHECK(cfg_rd(f, 1, 0x3C, 1) == f->pb.dev[1]->intx_line);
	return 0;
}

static int test_bar_sizing(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint32_t lo = cfg_rd(f, 1, 0x10, 4), hi = cfg_rd(f, 1, 0x14, 4), size;

	CHECK((lo & 0xf) == 0x4);			/* 64-bit memory, not prefetchable */
	CHECK(bar0(f) >= PCI_MMIO_BASE && bar0(f) < PCI_MMIO_BASE + PCI_MMIO_SIZE);
	cfg_wr(f, 1, 0x04, 2, 0);			/* decoding off, as Linux does */
	cfg_wr(f, 1, 0x10, 4, 0xffffffff);
	cfg_wr(f, 1, 0x14, 4, 0xffffffff);
	size = ~(cfg_rd(f, 1, 0x10, 4) & ~0xfu) + 1;
	CHECK(size >= 0x4000 && (size & (size - 1)) == 0);
	CHECK((cfg_rd(f, 1, 0x10, 4) & 0xf) == 0x4);
	CHECK(cfg_rd(f, 1, 0x14, 4) == 0xffffffff);
	CHECK(((lo & ~0xfu) & (size - 1)) == 0);	/* aligned to its size */
	/* Sizing with decoding off moved nothing. */
	CHECK(f->pb.dev[1]->bars[0].addr == ((uint64_t)hi << 32 | (lo & ~0xfu)));
	return 0;
}

static int bar_hits;

static void raw_bar(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	bar_hits++;
	if (!is_write)
		memset(data, 0x5a, len);
}

/* A plain device with a 32-bit BAR and a 64-bit prefetchable one after it. */
static int test_bar_kinds(void)
{
	cleanup_fx struct fx *f = fx_new(false);
	static struct pci_dev p;
	struct husk_err *err = NULL;
	uint32_t lo;

	memset(&p, 0, sizeof(p));
	pci_cfg_put16(&p, PCI_CFG_VENDOR, 0x1af4);
	p.bars[0] = (struct pci_bar){ .size = 0x1000, .fn = raw_bar, .dev = &p };
	p.bars[1] = (struct pci_bar){ .size = 0x100000, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
				      .fn = raw_bar, .dev = &p };
	CHECK(pci_add(&f->pb, &p, &err) == 0);
	CHECK(cfg_rd(f, 1, 0x10, 4) == PCI_MMIO_BASE);		/* 32-bit, type bits 0 */
	lo = cfg_rd(f, 1, 0x14, 4);
	CHECK((lo & 0xf) == 0xc);				/* 64-bit, prefetchable */
	CHECK((lo & ~0xfu) % 0x100000 == 0 && (lo & ~0xfu) > PCI_MMIO_BASE);
	cfg_wr(f, 1, 0x10, 4, 0xffffffff);
	CHECK(cfg_rd(f, 1, 0x10, 4) == 0xfffff000);
	cfg_wr(f, 1, 0x14, 4, 0xffffffff);
	CHECK(cfg_rd(f, 1, 0x14, 4) == 0xfff0000c);
	CHECK(cfg_rd(f, 1, 0x18, 4) == 0);			/* upper half, still 0 */
	cfg_wr(f, 1, 0x18, 4, 0xffffffff);
	CHECK(cfg_rd(f, 1, 0x18, 4) == 0xffffffff);
	CHECK(io(&f->mmio, (lo & ~0xfu) + 8, 4, false, 0) == 0x5a5a5a5a && bar_hits == 1);
	/* A size that is not a power of two is refused. */
	memset(&p, 0, sizeof(p));
	p.bars[0] = (struct pci_bar){ .size = 0x3000, .fn = raw_bar, .dev = &p };
	CHECK(pci_add(&f->pb, &p, &err) == -EINVAL);
	husk_err_free(err);
	return 0;
}

static int test_bar_move(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint64_t old = bar0(f), new = PCI_MMIO_BASE + 0x1000000;

	CHECK(io(&f->mmio, old + C_NUMQ, 2, false, 0) == 2);
	cfg_wr(f, 1, 0x04, 2, 0);
	cfg_wr(f, 1, 0x10, 4, (uint32_t)new);
	cfg_wr(f, 1, 0x14, 4, new >> 32);
	CHECK(f->pb.dev[1]->bars[0].addr == old);	/* not while decoding is off */
	fk.ioeventfds = 0;
	cfg_wr(f, 1, 0x04, 2, 0x0006);			/* memory + bus master */
	CHECK(bar0(f) == new);
	CHECK(io(&f->mmio, new + C_NUMQ, 2, false, 0) == 2);
	CHECK(io(&f->mmio, old + C_NUMQ, 2, false, 0) == ~0ULL);	/* unclaimed now */
	/* The notify ioeventfds followed the BAR. */
	CHECK(fk.ioeventfd_dels == 2 && fk.ioeventfds == 2);
	CHECK(fk.ioeventfd_addr[0] == new + vcap_off(f, NOTIFY_CAP, NULL, NULL));
	return 0;
}

static int test_caps(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint32_t bar_size = 0x8000, len = 0, mult = 0;
	bool msix = false;
	int n = 0;

	for (unsigned c = cfg_rd(f, 1, 0x34, 1); c && n < 16; c = cfg_rd(f, 1, c + 1, 1), n++) {
		CHECK(c >= 0x40 && (c & 3) == 0);
		if (cfg_rd(f, 1, c, 1) == 0x11) {
			msix = true;
			CHECK((cfg_rd(f, 1, c + 2, 2) & 0x7ff) == 2);	/* 3 vectors */
		}
	}
	CHECK(msix);
	CHECK(n == 6);	/* MSI-X + common, notify, ISR, device, PCI_CFG */
	for (uint8_t type = 1; type <= 4; type++) {
		int64_t off = vcap_off(f, type, &len, &mult);

		CHECK(off >= 0);
		CHECK(len > 0 && off + len <= bar_size);
	}
	CHECK(vcap_off(f, 1, &len, NULL) == 0 && len >= 0x38);
	vcap_off(f, NOTIFY_CAP, &len, &mult);
	CHECK(mult == 4 && len >= 2 * mult);
	CHECK(vcap_off(f, 4, &len, NULL) > 0 && len == 8);
	/* The device config region reaches ops->config_read. */
	CHECK(io(&f->mmio, bar0(f) + vcap_off(f, 4, NULL, NULL) + 2, 2, false, 0) == 0x1312);
	return 0;
}

/* VIRTIO_PCI_CAP_PCI_CFG: BAR accesses through a config-space window. */
static int test_cfg_window(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	unsigned c;

	for (c = cfg_rd(f, 1, 0x34, 1); c; c = cfg_rd(f, 1, c + 1, 1)) {
		if (cfg_rd(f, 1, c, 1) == 0x09 && cfg_rd(f, 1, c + 3, 1) == 5)
			break;
	}
	CHECK(c && cfg_rd(f, 1, c + 2, 1) == 20);
	cfg_wr(f, 1, c + 4, 1, 0);			/* BAR 0 */
	cfg_wr(f, 1, c + 8, 4, C_NUMQ);
	cfg_wr(f, 1, c + 12, 4, 2);
	CHECK(cfg_rd(f, 1, c + 16, 2) == 2);
	cfg_wr(f, 1, c + 8, 4, C_DFSEL);
	cfg_wr(f, 1, c + 12, 4, 4);
	cfg_wr(f, 1, c + 16, 4, 1);
	CHECK(common_rd(f, C_DFSEL, 4) == 1);
	/* A misaligned window is ignored. */
	cfg_wr(f, 1, c + 8, 4, C_DFSEL + 1);
	cfg_wr(f, 1, c + 16, 4, 0);
	CHECK(common_rd(f, C_DFSEL, 4) == 1);
	return 0;
}

static int test_features(void)
{
	cleanup_fx struct fx *f = fx_new(true);

	common_wr(f, C_DFSEL, 4, 0);
	CHECK(common_rd(f, C_DF, 4) == (1u << 0 | 1u << 5 | 1u << 29));
	common_wr(f, C_DFSEL, 4, 1);
	CHECK(common_rd(f, C_DF, 4) == 1);			/* VERSION_1 */
	CHECK(!(negotiate(f, 1 | 1 << 1, 1) & ST_FEATURES_OK));	/* bit 1 never offered */
	common_wr(f, C_STATUS, 1, 0);
	CHECK(!(negotiate(f, 1, 0) & ST_FEATURES_OK));		/* no VERSION_1 */
	common_wr(f, C_STATUS, 1, 0);
	CHECK(negotiate(f, 1 | 1 << 5, 1) & ST_FEATURES_OK);
	CHECK(f->d.driver_features == (1ULL << 32 | 1 << 5 | 1));
	/* Features are frozen once FEATURES_OK is set. */
	common_wr(f, C_GFSEL, 4, 0);
	common_wr(f, C_GF, 4, 0);
	CHECK(f->d.driver_features == (1ULL << 32 | 1 << 5 | 1));
	return 0;
}

static int test_queue_setup(void)
{
	cleanup_fx struct fx *f = fx_new(true);

	CHECK(common_rd(f, C_NUMQ, 2) == 2);
	negotiate(f, 1, 1);
	common_wr(f, C_QSEL, 2, 1);
	CHECK(common_rd(f, C_QSIZE, 2) == 256);
	CHECK(common_rd(f, C_QNOTIFY_OFF, 2) == 1);
	common_wr(f, C_QSIZE, 2, 512);		/* above the maximum */
	common_wr(f, C_QSIZE, 2, 100);		/* not a power of two */
	CHECK(common_rd(f, C_QSIZE, 2) == 256);
	common_wr(f, C_QSIZE, 2, 64);
	CHECK(common_rd(f, C_QSIZE, 2) == 64);
	common_wr(f, C_QDESC, 4, 0x12345000);	/* 32-bit halves */
	common_wr(f, C_QDESC + 4, 4, 0x1);
	common_wr(f, C_QDRIVER, 8, 0x200000);
	common_wr(f, C_QDEVICE, 8, 0x300000);
	common_wr(f, C_QVEC, 2, 1);
	common_wr(f, C_QENABLE, 2, 1);
	CHECK(common_rd(f, C_QENABLE, 2) == 1);
	CHECK(common_rd(f, C_QDESC, 8) == 0x112345000ULL);
	CHECK(common_rd(f, C_QVEC, 2) == 1);
	CHECK(f->d.vqs[1].ready && f->d.vqs[1].size == 64 && f->d.vqs[1].avail_gpa == 0x200000);
	CHECK(f->d.vqs[1].used_gpa == 0x300000 && f->d.vqs[1].desc_gpa == 0x112345000ULL);
	/* An enabled queue keeps its set-up; a vector beyond the table reads NO_VECTOR. */
	common_wr(f, C_QSIZE, 2, 32);
	CHECK(common_rd(f, C_QSIZE, 2) == 64);
	common_wr(f, C_QVEC, 2, 7);
	CHECK(common_rd(f, C_QVEC, 2) == 0xffff);
	common_wr(f, C_QSEL, 2, 5);
	CHECK(common_rd(f, C_QSIZE, 2) == 0);	/* no such queue */
	return 0;
}

static int test_reset(void)
{
	cleanup_fx struct fx *f = fx_new(true);

	driver_ok(f);
	CHECK(fd_state.activates == 1);
	CHECK(common_rd(f, C_STATUS, 1) == (ST_ACK_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK));
	common_wr(f, C_STATUS, 1, 0);
	CHECK(fd_state.resets == 1);
	CHECK(common_rd(f, C_STATUS, 1) == 0);
	CHECK(f->d.driver_features == 0);
	common_wr(f, C_QSEL, 2, 0);
	CHECK(common_rd(f, C_QENABLE, 2) == 0);
	CHECK(common_rd(f, C_QSIZE, 2) == 256);
	CHECK(common_rd(f, C_QDESC, 8) == 0);
	CHECK(!f->d.vqs[0].ready);
	return 0;
}

static int test_notify(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint32_t mult = 0;
	uint64_t notify = bar0(f) + vcap_off(f, NOTIFY_CAP, NULL, &mult);

	/* ioeventfds sit on each queue's notify address. */
	CHECK(fk.ioeventfds == 2 && fk.nwatch == 2);
	CHECK(fk.ioeventfd_addr[0] == notify && fk.ioeventfd_addr[1] == notify + mult);
	/* Before DRIVER_OK nothing reaches the device. */
	io(&f->mmio, notify, 2, true, 0);
	run_loop_once();
	CHECK(fd_state.notified[0] == 0);
	driver_ok(f);
	/* The MMIO fall-back (no ioeventfd took the write) takes the eventfd path. */
	io(&f->mmio, notify, 2, true, 0);
	run_loop_once();
	CHECK(fd_state.notified[0] == 1 && fd_state.notified[1] == 0);
	/* Queue 1 is not enabled: its notification is dropped. */
	io(&f->mmio, notify + mult, 2, true, 1);
	run_loop_once();
	CHECK(fd_state.notified[1] == 0);
	/* What KVM does on an ioeventfd hit: signal the eventfd. */
	CHECK(eventfd_write(fk.watch_fd[0], 1) == 0);
	run_loop_once();
	CHECK(fd_state.notified[0] == 2);
	return 0;
}

static unsigned msix_cap(struct fx *f)
{
	for (unsigned c = cfg_rd(f, 1, 0x34, 1); c; c = cfg_rd(f, 1, c + 1, 1)) {
		if (cfg_rd(f, 1, c, 1) == 0x11)
			return c;
	}
	return 0;
}

/* MSI-X on, entry 0 programmed and unmasked, queue 0 and config on vector 0. */
static void msix_setup(struct fx *f)
{
	unsigned cap = msix_cap(f);
	uint64_t table = bar0(f) + (cfg_rd(f, 1, cap + 4, 4) & ~7u);

	cfg_wr(f, 1, cap + 2, 2, 0x8000);
	io(&f->mmio, table + 0, 4, true, 0xfee00000);
	io(&f->mmio, table + 4, 4, true, 0);
	io(&f->mmio, table + 8, 4, true, 0x4041);
	io(&f->mmio, table + 12, 4, true, 0);
	common_wr(f, C_QSEL, 2, 0);
	common_wr(f, C_QVEC, 2, 0);
	common_wr(f, C_MSIX_CONFIG, 2, 0);
}

static int test_msix_route(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	unsigned cap = msix_cap(f);
	uint64_t table;

	CHECK(cap);
	table = bar0(f) + (cfg_rd(f, 1, cap + 4, 4) & ~7u);
	driver_ok(f);
	cfg_wr(f, 1, cap + 2, 2, 0x8000);
	CHECK(cfg_rd(f, 1, cap + 2, 2) == 0x8002);	/* enabled, table size stays RO */
	CHECK(io(&f->mmio, table + 12, 4, false, 0) == 1);	/* starts masked */
	io(&f->mmio, table + 0, 4, true, 0xfee00000);
	io(&f->mmio, table + 8, 4, true, 0x4041);
	CHECK(fk.allocs == 0);				/* masked: routed at unmask */
	io(&f->mmio, table + 12, 4, true, 0);
	CHECK(fk.allocs == 1 && fk.msi_addr == 0xfee00000 && fk.msi_data == 0x4041);
	io(&f->mmio, table + 8, 4, true, 0x4042);	/* rewritten while live */
	CHECK(fk.updates == 1 && fk.msi_data == 0x4042);
	CHECK(io(&f->mmio, table + 8, 4, false, 0) == 0x4042);
	common_wr(f, C_QSEL, 2, 0);
	common_wr(f, C_QVEC, 2, 0);
	f->d.interrupt(&f->d, 0);
	CHECK(efd_fired(fk.msi_efd));
	CHECK(fk.line_calls == 0);			/* no INTx with MSI-X on */
	/* A reset drops the route; the next signal routes the kept entry again. */
	common_wr(f, C_STATUS, 1, 0);
	CHECK(fk.frees == 1);
	common_wr(f, C_MSIX_CONFIG, 2, 0);
	f->d.config_changed(&f->d);
	CHECK(fk.allocs == 2 && efd_fired(fk.msi_efd));
	return 0;
}

static int test_msix_pba(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	unsigned cap = msix_cap(f);
	uint64_t table = bar0(f) + (cfg_rd(f, 1, cap + 4, 4) & ~7u);
	uint64_t pba = bar0(f) + (cfg_rd(f, 1, cap + 8, 4) & ~7u);

	driver_ok(f);
	msix_setup(f);
	io(&f->mmio, table + 12, 4, true, 1);		/* mask vector 0 */
	f->d.interrupt(&f->d, 0);
	CHECK(!efd_fired(fk.msi_efd));
	CHECK(io(&f->mmio, pba, 8, false, 0) == 1);
	io(&f->mmio, table + 12, 4, true, 0);		/* unmask: the pending one goes out */
	CHECK(efd_fired(fk.msi_efd));
	CHECK(io(&f->mmio, pba, 8, false, 0) == 0);
	/* The function mask holds every vector the same way. */
	cfg_wr(f, 1, cap + 2, 2, 0xC000);
	f->d.interrupt(&f->d, 0);
	CHECK(!efd_fired(fk.msi_efd));
	CHECK(io(&f->mmio, pba, 4, false, 0) == 1);
	cfg_wr(f, 1, cap + 2, 2, 0x8000);
	CHECK(efd_fired(fk.msi_efd));
	CHECK(io(&f->mmio, pba, 4, false, 0) == 0);
	/* The PBA is read-only. */
	io(&f->mmio, pba, 8, true, 1);
	CHECK(io(&f->mmio, pba, 8, false, 0) == 0);
	return 0;
}

static int test_intx(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint64_t isr = bar0(f) + vcap_off(f, 3, NULL, NULL);
	uint8_t gen;

	driver_ok(f);
	f->d.interrupt(&f->d, 0);
	CHECK(fk.line_no == f->pb.dev[1]->intx_line && fk.line_level == 1);
	CHECK(cfg_rd(f, 1, 0x06, 2) & 0x08);		/* status: interrupt pending */
	CHECK(io(&f->mmio, isr, 1, false, 0) == 1);
	CHECK(fk.line_level == 0);
	CHECK(io(&f->mmio, isr, 1, false, 0) == 0);	/* read clears */
	CHECK(!(cfg_rd(f, 1, 0x06, 2) & 0x08));
	gen = common_rd(f, 0x15, 1);
	f->d.config_changed(&f->d);
	CHECK(io(&f->mmio, isr, 1, false, 0) == 2);
	CHECK((uint8_t)common_rd(f, 0x15, 1) == (uint8_t)(gen + 1));
	/* INTx disable in the command register lowers the pin and keeps it low. */
	f->d.interrupt(&f->d, 0);
	CHECK(fk.line_level == 1);
	cfg_wr(f, 1, 0x04, 2, 0x0406);
	CHECK(fk.line_level == 0);
	fk.line_calls = 0;
	f->d.interrupt(&f->d, 0);
	CHECK(fk.line_calls == 0);
	CHECK(io(&f->mmio, isr, 1, false, 0) == 1);
	return 0;
}

/* virtio_complete: the used ring gets the chain, the interrupt follows unless the driver
 * suppressed it. The rings live in a fake one-region guest RAM. */
static int test_complete(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint8_t *ram = calloc(1, 0x200000);
	struct guestmem gm = { .base = ram, .size = 0x200000, .nregions = 1,
			       .r = { { .gpa = 0, .size = 0x200000, .host = ram } } };
	uint16_t *avail_flags = (uint16_t *)(ram + 0x101000);
	uint16_t *used_idx = (uint16_t *)(ram + 0x102002);

	CHECK(ram);
	f->d.gm = &gm;
	driver_ok(f);				/* queue 0: rings at 0x100000, size 16 */
	msix_setup(f);
	virtio_complete(&f->d, 0, 3, 42);
	CHECK(*used_idx == 1);
	CHECK(*(uint32_t *)(ram + 0x102004) == 3 && *(uint32_t *)(ram + 0x102008) == 42);
	CHECK(efd_fired(fk.msi_efd));
	*avail_flags = 1;			/* VRING_AVAIL_F_NO_INTERRUPT */
	virtio_complete(&f->d, 0, 4, 0);
	CHECK(*used_idx == 2);
	CHECK(!efd_fired(fk.msi_efd));
	free(ram);
	return 0;
}

/* Teardown: the ioeventfds are deassigned and unwatched, the routed vector freed, and the
 * function disappears from config space and the MMIO bus. */
static int test_remove(void)
{
	cleanup_fx struct fx *f = fx_new(true);
	uint64_t bar;

	driver_ok(f);
	msix_setup(f);
	f->d.interrupt(&f->d, 0);
	CHECK(fk.allocs == 1 && fk.frees == 0);
	bar = bar0(f);
	CHECK(io(&f->mmio, bar, 4, false, 0) != ~0ULL);
	virtio_pci_remove(&f->pb, &f->d);
	CHECK(!f->d.transport && !f->d.interrupt);
	CHECK(fk.frees == 1 && fk.ioeventfd_dels == 2 && fk.unwatches == 2);
	CHECK(cfg_rd(f, 1, 0, 4) == 0xffffffff);
	CHECK(io(&f->mmio, bar, 4, false, 0) == ~0ULL);
	CHECK(cfg_rd(f, 0, 0, 4) != 0xffffffff);	/* the host bridge stays */
	return 0;
}

static const struct test tests[] = {
	{ "host bridge: ids and class through 0xCF8/0xCFC", test_host_bridge },
	{ "config: absent slot, function and bus read all ones", test_absent },
	{ "virtio-pci: vendor, device, revision, subsystem, INTA", test_virtio_ids },
	{ "bar: sizing protocol reads the size mask", test_bar_sizing },
	{ "bar: 32-bit and 64-bit prefetchable BARs, placement", test_bar_kinds },
	{ "bar: reprogramming moves the MMIO range and ioeventfds", test_bar_move },
	{ "caps: list holds MSI-X and the four virtio caps in the BAR", test_caps },
	{ "caps: PCI_CFG window reaches the BAR", test_cfg_window },
	{ "common: FEATURES_OK refused for unoffered bits or no VERSION_1", test_features },
	{ "common: queue set-up, size checks, 64-bit addresses", test_queue_setup },
	{ "common: status 0 resets device and queues", test_reset },
	{ "notify: ioeventfd and MMIO fall-back reach queue_notify", test_notify },
	{ "msix: table write routes, rewrite re-routes, reset frees", test_msix_route },
	{ "msix: masked vector sets the PBA bit, unmask delivers", test_msix_pba },
	{ "intx: ISR and line without MSI-X, read clears", test_intx },
	{ "virtio_complete: used ring and interrupt suppression", test_complete },
	{ "remove: ioeventfds, MSI-X routes, BAR and slot released", test_remove },
};
TAP_MAIN(tests)
