/* The virtio-pci modern transport (virtio 1.2, section 4.1): one 64-bit memory BAR holding
 * the common config, ISR, device config, notify and MSI-X regions; notifications through
 * ioeventfds watched on the event loop, interrupts through MSI-X irqfds or INTx. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/pci.h"
#include "vm/virtio/virtio.h"

/* BAR 0 layout: one page per region, so the guest can map each on its own. */
#define VPCI_BAR_SIZE 0x8000
#define REGION_SIZE 0x1000
#define COMMON_OFF 0x0000
#define COMMON_LEN 0x38		/* struct virtio_pci_common_cfg, section 4.1.4.3 */
#define ISR_OFF 0x1000
#define DEVCFG_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4		/* queue q is notified at NOTIFY_OFF + 4 * q */
#define MSIX_TABLE_OFF 0x4000
#define MSIX_PBA_OFF 0x5000

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040	/* + virtio device id: non-transitional */
#define VIRTIO_PCI_SUBSYS_BASE 0x40	/* section 4.1.2.1: >= 0x40 for modern devices */

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

#define ST_DRIVER_OK 0x04
#define ST_FEATURES_OK 0x08
#define ST_NEEDS_RESET 0x40

#define ISR_QUEUE 0x1
#define ISR_CONFIG 0x2
#define NO_VECTOR 0xffff

struct vpci;

struct vpci_queue {
	struct vpci *t;
	uint16_t q;
	int efd;		/* ioeventfd of the queue's notify address */
};

struct vpci {
	struct pci_dev pci;
	struct pci_msix msix;
	struct virtio_dev *d;
	struct vm_kvm *k;
	struct event_loop *l;
	const struct pci_irq_ops *irq;
	/* Common config writes (vCPU threads) against notify dispatch (event thread), so a
	 * reset never runs inside ops->queue_notify. */
	pthread_mutex_t lock;
	pthread_mutex_t isr_lock;	/* ISR + INTx level, raised from any thread */
	uint32_t dfselect, gfselect;
	uint16_t msix_config;
	uint16_t queue_select;
	uint8_t status;
	uint8_t generation;
	uint8_t isr;
	bool intx_level;	/* what the INTx pin was last set to */
	uint8_t cfg_cap;	/* config-space offset of the PCI_CFG capability */
	struct vpci_queue nq[VIRTIO_MAX_QUEUES];
};

/* PCI class per device type (the driver matches on ids; the class is for lspci). */
static const struct {
	uint16_t id;
	uint8_t class, subclass;
} classes[] = {
	{ VIRTIO_ID_NET, 0x02, 0x00 },		/* network: ethernet */
	{ VIRTIO_ID_BLOCK, 0x01, 0x80 },	/* mass storage: other */
	{ VIRTIO_ID_CONSOLE, 0x07, 0x80 },	/* communication: other */
};

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v;
	b[1] = v >> 8;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v);
	put16(b + 2, v >> 16);
}

static void put64(uint8_t *b, uint64_t v)
{
	put32(b, v);
	put32(b + 4, v >> 32);
}

static uint64_t get_le(const uint8_t *b, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static uint64_t offered(const struct vpci *t)
{
	uint64_t f = t->d->ops->features ? t->d->ops->features(t->d) : 0;

	return f | 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_RING_EVENT_IDX;
}

static struct vq *selected(struct vpci *t)
{
	return t->queue_select < t->d->ops->nqueues ? &t->d->vqs[t->queue_select] : NULL;
}

/* --- interrupts ------------------------------------------------------------------------- */

/* Without MSI-X: ISR bits plus a level on the INTx pin, lowered when the driver reads ISR
 * (section 4.1.4.5). The pin follows ISR unless INTx is disabled in the command register or
 * MSI-X is on; the PCI status interrupt bit follows ISR while MSI-X is off. Called with
 * isr_lock held. */
static void intx_update(struct vpci *t)
{
	struct pci_dev *p = &t->pci;
	uint16_t status = pci_cfg_get16(p, PCI_CFG_STATUS) & ~PCI_STATUS_INTX;
	bool pending = t->isr && !pci_msix_enabled(&t->msix);
	bool level = pending && !(pci_cfg_get16(p, PCI_CFG_COMMAND) & PCI_CMD_INTX_DISABLE);

	pci_cfg_put16(p, PCI_CFG_STATUS, status | (pending ? PCI_STATUS_INTX : 0));
	if (level != t->intx_level) {
		t->irq->line(t->k, p->intx_line, level);
		t->intx_level = level;
	}
}

static void isr_set(struct vpci *t, uint8_t bits)
{
	pthread_mutex_lock(&t->isr_lock);
	t->isr |= bits;
	intx_update(t);
	pthread_mutex_unlock(&t->isr_lock);
}

static uint8_t isr_take(struct vpci *t)
{
	uint8_t v;

	pthread_mutex_lock(&t->isr_lock);
	v = t->isr;
	t->isr = 0;
	intx_update(t);
	pthread_mutex_unlock(&t->isr_lock);
	return v;
}

static void vpci_interrupt(struct virtio_dev *d, uint16_t q)
{
	struct vpci *t = d->transport;
	uint16_t v;

	if (q >= d->ops->nqueues)
		return;
	if (!pci_msix_enabled(&t->msix)) {
		isr_set(t, ISR_QUEUE);
		return;
	}
	v = __atomic_load_n(&d->vqs[q].msix_vector, __ATOMIC_RELAXED);
	if (v != NO_VECTOR)
		pci_msix_signal(&t->msix, v);
}

static void vpci_config_changed(struct virtio_dev *d)
{
	struct vpci *t = d->transport;
	uint16_t v;

	__atomic_add_fetch(&t->generation, 1, __ATOMIC_SEQ_CST);
	/* The config bit is set in ISR even with MSI-X (section 4.1.4.5.1). */
	isr_set(t, ISR_CONFIG);
	if (!pci_msix_enabled(&t->msix))
		return;
	v = __atomic_load_n(&t->msix_config, __ATOMIC_RELAXED);
	if (v != NO_VECTOR)
		pci_msix_signal(&t->msix, v);
}

void virtio_complete(struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t written)
{
	struct vq *vq = &d->vqs[q];

	if (vq_push(d->gm, vq, head, written) < 0) {
		log_warn("virtio: %s: queue %u: used ring outside guest RAM", d->ops->name, q);
		d->broken = true;
		return;
	}
	if (vq_need_interrupt(d->gm, vq) && d->interrupt)
		d->interrupt(d, q);
}

/* --- notifications ---------------------------------------------------------------------- */

static void vpci_notify(struct vpci *t, uint16_t q)
{
	struct virtio_dev *d = t->d;

	pthread_mutex_lock(&t->lock);
	if ((t->status & ST_DRIVER_OK) && d->vqs[q].ready && !d->broken && d->ops->queue_notify)
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&t->lock);
}

/* The queue's eventfd became readable: KVM signalled it on a guest write (ioeventfd) or the
 * MMIO fall-back below did. Either way the device runs on the event thread. */
static void notify_ev(void *arg, uint32_t events)
{
	struct vpci_queue *nq = arg;
	uint64_t cnt;

	if (read(nq->efd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;		/* EAGAIN: already drained */
	vpci_notify(nq->t, nq->q);
}

static void kick(struct vpci *t, uint16_t q)
{
	uint64_t one = 1;

	if (write(t->nq[q].efd, &one, sizeof(one)) != sizeof(one))
		log_debug("virtio: %s: queue %u: eventfd write failed", t->d->ops->name, q);
}

/* Register (or remove) the queues' ioeventfds at the notify addresses of a BAR placed at
 * bar. Failing to register is not fatal: the MMIO fall-back then takes the write. */
static void ioeventfds_set(struct vpci *t, uint64_t bar, bool add)
{
	for (uint16_t q = 0; q < t->d->ops->nqueues; q++) {
		uint64_t addr = bar + NOTIFY_OFF + (uint64_t)q * NOTIFY_MULT;
		cleanup_err struct husk_err *err = NULL;

		if (!add) {
			t->irq->ioeventfd_del(t->k, addr, 2, 0, 0, t->nq[q].efd);
		} else if (t->irq->ioeventfd(t->k, addr, 2, 0, 0, t->nq[q].efd, &err) < 0) {
			log_warn("virtio: %s: queue %u: %s; notifications will exit to the VMM",
				 t->d->ops->name, q, err->msg);
		}
	}
}

static void vpci_bar_moved(struct pci_dev *p, unsigned i, uint64_t old_addr)
{
	struct vpci *t = p->owner;

	ioeventfds_set(t, old_addr, false);
	ioeventfds_set(t, p->bars[0].addr, true);
}

/* --- common config ---------------------------------------------------------------------- */

/* The transport's registers back to their reset values (section 4.1.4.3). */
static void regs_reset(struct vpci *t)
{
	struct virtio_dev *d = t->d;

	for (uint16_t q = 0; q < d->ops->nqueues; q++) {
		struct vq *vq = &d->vqs[q];

		vq_reset(vq);
		vq->ready = false;
		vq->size = d->ops->queue_size;	/* reads back as the maximum after reset */
		vq->msix_vector = NO_VECTOR;
	}
	d->driver_features = 0;
	d->broken = false;
	t->dfselect = t->gfselect = 0;
	t->msix_config = NO_VECTOR;
	t->queue_select = 0;
	t->status = 0;
}

static void vpci_reset(struct vpci *t)
{
	if (t->d->ops->reset)
		t->d->ops->reset(t->d);
	regs_reset(t);
	isr_take(t);
	/* MSI-X routes are rebuilt from the table on the next unmask or signal. */
	pci_msix_release(&t->msix);
}

/* FEATURES_OK sticks only if the driver took nothing we did not offer, and VERSION_1:
 * this transport has no legacy interface (section 2.2.2). */
static bool features_ok(const struct vpci *t)
{
	uint64_t f = t->d->driver_features;

	return !(f & ~offered(t)) && (f & 1ULL << VIRTIO_F_VERSION_1);
}

static void set_status(struct vpci *t, uint64_t v)
{
	struct virtio_dev *d = t->d;
	cleanup_err struct husk_err *err = NULL;
	uint8_t old = t->status;

	if (v == 0) {
		vpci_reset(t);
		return;
	}
	if ((v & ST_FEATURES_OK) && !(old & ST_FEATURES_OK) && !features_ok(t)) {
		log_debug("virtio: %s: driver features %#llx refused", d->ops->name,
			  (unsigned long long)d->driver_features);
		v &= ~ST_FEATURES_OK;
	}
	t->status = v;
	if (!(v & ST_DRIVER_OK) || (old & ST_DRIVER_OK))
		return;
	if (!(v & ST_FEATURES_OK)) {
		t->status |= ST_NEEDS_RESET;
		return;
	}
	if (d->ops->activate && d->ops->activate(d, &err) < 0) {
		log_error("virtio: %s: activate: %s", d->ops->name, err->msg);
		t->status |= ST_NEEDS_RESET;
		return;
	}
	/* Drivers may notify before DRIVER_OK (virtio-net fills its receive queue first):
	 * look at every enabled queue once, on the event thread. */
	for (uint16_t q = 0; q < d->ops->nqueues; q++) {
		if (d->vqs[q].ready)
			kick(t, q);
	}
}

static void set_dfselect(struct vpci *t, uint64_t v)
{
	t->dfselect = v;
}

static void set_gfselect(struct vpci *t, uint64_t v)
{
	t->gfselect = v;
}

static void set_gfeature(struct vpci *t, uint64_t v)
{
	unsigned shift = 32 * t->gfselect;

	if (t->gfselect > 1 || (t->status & ST_FEATURES_OK))
		return;
	t->d->driver_features &= ~(0xffffffffULL << shift);
	t->d->driver_features |= v << shift;
}

/* A vector the MSI-X table does not have reads back as NO_VECTOR (section 4.1.5.1.2). */
static uint16_t vector_check(const struct vpci *t, uint64_t v)
{
	return v < t->msix.n ? v : NO_VECTOR;
}

static void set_msix_config(struct vpci *t, uint64_t v)
{
	__atomic_store_n(&t->msix_config, vector_check(t, v), __ATOMIC_RELAXED);
}

static void set_qselect(struct vpci *t, uint64_t v)
{
	t->queue_select = v;
}

static void set_qsize(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	/* Split rings need a power of two; the driver may only lower the size. */
	if (!vq || vq->ready || !v || (v & (v - 1)) || v > t->d->ops->queue_size) {
		log_debug("virtio: %s: queue size %llu ignored", t->d->ops->name,
			  (unsigned long long)v);
		return;
	}
	vq->size = v;
}

static void set_qvector(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	if (vq)
		__atomic_store_n(&vq->msix_vector, vector_check(t, v), __ATOMIC_RELAXED);
}

static void set_qenable(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	/* Writing 0 is not allowed (a queue is disabled only by a reset). */
	if (!vq || v != 1 || vq->ready)
		return;
	vq->event_idx = t->d->driver_features & 1ULL << VIRTIO_F_RING_EVENT_IDX;
	vq->ready = true;
}

static void set_qdesc(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	if (vq && !vq->ready)
		vq->desc_gpa = v;
}

static void set_qdriver(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	if (vq && !vq->ready)
		vq->avail_gpa = v;
}

static void set_qdevice(struct vpci *t, uint64_t v)
{
	struct vq *vq = selected(t);

	if (vq && !vq->ready)
		vq->used_gpa = v;
}

/* The writable fields of struct virtio_pci_common_cfg; the rest are read-only. */
static const struct {
	uint8_t off, size;
	void (*set)(struct vpci *t, uint64_t v);
} common_fields[] = {
	{ 0x00, 4, set_dfselect },	{ 0x08, 4, set_gfselect }, { 0x0C, 4, set_gfeature },
	{ 0x10, 2, set_msix_config }, { 0x14, 1, set_status },   { 0x16, 2, set_qselect },
	{ 0x18, 2, set_qsize },	{ 0x1A, 2, set_qvector },  { 0x1C, 2, set_qenable },
	{ 0x20, 8, set_qdesc },	{ 0x28, 8, set_qdriver },  { 0x30, 8, set_qdevice },
};

/* The register file as the driver sees it now, for the selected queue. */
static void common_image(struct vpci *t, uint8_t img[COMMON_LEN])
{
	const struct virtio_dev *d = t->d;
	const struct vq *vq = selected(t);

	memset(img, 0, COMMON_LEN);
	put32(img + 0x00, t->dfselect);
	put32(img + 0x04, t->dfselect < 2 ? offered(t) >> (32 * t->dfselect) : 0);
	put32(img + 0x08, t->gfselect);
	put32(img + 0x0C, t->gfselect < 2 ? d->driver_features >> (32 * t->gfselect) : 0);
	put16(img + 0x10, t->msix_config);
	put16(img + 0x12, d->ops->nqueues);
	img[0x14] = t->status;
	img[0x15] = __atomic_load_n(&t->generation, __ATOMIC_SEQ_CST);
	put16(img + 0x16, t->queue_select);
	if (!vq)
		return;		/* queue_size 0: no such queue */
	put16(img + 0x18, vq->size);
	put16(img + 0x1A, vq->msix_vector);
	put16(img + 0x1C, vq->ready);
	put16(img + 0x1E, t->queue_select);	/* queue_notify_off */
	put64(img + 0x20, vq->desc_gpa);
	put64(img + 0x28, vq->avail_gpa);
	put64(img + 0x30, vq->used_gpa);
}

/* Any access width works: a write lands in a copy of the register file, then every
 * writable field it touched gets its new value (so 32-bit halves of the 64-bit queue
 * addresses need no special case). */
static void common_access(struct vpci *t, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	uint8_t img[COMMON_LEN];

	if (off >= COMMON_LEN || len > COMMON_LEN - off)
		return;		/* reads were zeroed by the caller */
	pthread_mutex_lock(&t->lock);
	common_image(t, img);
	if (!is_write) {
		memcpy(data, img + off, len);
	} else {
		memcpy(img + off, data, len);
		for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
			uint32_t fo = common_fields[i].off, fs = common_fields[i].size;

			if (off < fo + fs && off + len > fo)
				common_fields[i].set(t, get_le(img + fo, fs));
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/* --- the BAR ---------------------------------------------------------------------------- */

static void devcfg_access(struct vpci *t, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	const struct virtio_dev_ops *ops = t->d->ops;

	if (off >= ops->config_len || len > ops->config_len - off)
		return;
	if (is_write && ops->config_write)
		ops->config_write(t->d, off, data, len);
	else if (!is_write && ops->config_read)
		ops->config_read(t->d, off, data, len);
}

static void bar_access(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vpci *t = dev;
	uint32_t rel = off % REGION_SIZE;

	if (pci_msix_access(&t->msix, off, data, len, is_write))
		return;
	if (!is_write)
		memset(data, 0, len);
	if (off >= MSIX_TABLE_OFF || rel + len > REGION_SIZE)
		return;
	switch (off - rel) {
	case COMMON_OFF:
		common_access(t, rel, data, len, is_write);
		break;
	case ISR_OFF:
		if (!is_write && rel == 0)
			data[0] = isr_take(t);	/* reading clears it (section 4.1.4.5) */
		break;
	case DEVCFG_OFF:
		devcfg_access(t, rel, data, len, is_write);
		break;
	case NOTIFY_OFF:
		/* Reached only when the ioeventfd did not take the write (none registered,
		 * or an unusual width): take the same path through the eventfd. */
		if (is_write && rel % NOTIFY_MULT == 0 && rel / NOTIFY_MULT < t->d->ops->nqueues)
			kick(t, rel / NOTIFY_MULT);
		break;
	}
}

/* struct virtio_pci_cap (section 4.1.4), plus notify_off_multiplier for the notify one. */
static int add_vcap(struct vpci *t, uint8_t type, uint32_t off, uint32_t len,
		    struct husk_err **err)
{
	uint8_t cap[20] = { 0 };
	uint8_t clen = type == CAP_NOTIFY || type == CAP_PCI_CFG ? 20 : 16, at;

	cap[2] = clen;
	cap[3] = type;
	cap[4] = 0;	/* BAR 0 */
	put32(cap + 8, off);
	put32(cap + 12, len);
	if (type == CAP_NOTIFY)
		put32(cap + 16, NOTIFY_MULT);
	at = pci_add_cap(&t->pci, PCI_CAP_ID_VENDOR, cap, clen);
	if (!at)
		return husk_err_msg(err, ENOSPC, "virtio: %s: config space full", t->d->ops->name);
	if (type == CAP_PCI_CFG) {
		/* The driver picks bar, offset and length, then goes through pci_cfg_data. */
		t->pci.wmask[at + 4] = 0xff;
		memset(&t->pci.wmask[at + 8], 0xff, 12);
		t->cfg_cap = at;
	}
	return 0;
}

/* The VIRTIO_PCI_CAP_PCI_CFG window (section 4.1.4.9): an access to pci_cfg_data becomes an
 * access of `length` bytes at `offset` in the BAR, for drivers that cannot map it. Invalid
 * windows are ignored, as the spec allows. */
static void cfg_window(struct vpci *t, uint32_t off, uint32_t len, bool is_write)
{
	uint8_t *c = &t->pci.cfg[t->cfg_cap];
	uint32_t boff = get_le(c + 8, 4), blen = get_le(c + 12, 4);

	if (!t->cfg_cap || off >= t->cfg_cap + 20u || off + len <= t->cfg_cap + 16u)
		return;
	if (c[4] != 0 || (blen != 1 && blen != 2 && blen != 4) || boff % blen ||
	    boff > VPCI_BAR_SIZE - blen)
		return;
	bar_access(t, boff, c + 16, blen, is_write);
}

static void vpci_cfg_read(struct pci_dev *p, uint32_t off, uint32_t len)
{
	cfg_window(p->owner, off, len, false);
}

static void vpci_cfg_written(struct pci_dev *p, uint32_t off, uint32_t len)
{
	struct vpci *t = p->owner;

	cfg_window(t, off, len, true);
	/* INTx disable, or MSI-X turned on or off, may change the pin. */
	pthread_mutex_lock(&t->isr_lock);
	intx_update(t);
	pthread_mutex_unlock(&t->isr_lock);
}

static int setup_config_space(struct vpci *t, struct husk_err **err)
{
	const struct virtio_dev_ops *ops = t->d->ops;
	struct pci_dev *p = &t->pci;
	uint8_t class = 0xff, subclass = 0;	/* "other" unless the table knows better */
	int r;

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (classes[i].id == ops->device_id) {
			class = classes[i].class;
			subclass = classes[i].subclass;
		}
	}
	p->name = ops->name;
	p->owner = t;
	p->bar_moved = vpci_bar_moved;
	p->cfg_read = vpci_cfg_read;
	p->cfg_written = vpci_cfg_written;
	pci_cfg_put16(p, PCI_CFG_VENDOR, VIRTIO_PCI_VENDOR);
	pci_cfg_put16(p, PCI_CFG_DEVICE, VIRTIO_PCI_DEVICE_BASE + ops->device_id);
	p->cfg[PCI_CFG_REVISION] = 1;	/* non-transitional (section 4.1.2.1) */
	p->cfg[PCI_CFG_CLASS + 1] = subclass;
	p->cfg[PCI_CFG_CLASS + 2] = class;
	pci_cfg_put16(p, PCI_CFG_SUBSYS_VENDOR, VIRTIO_PCI_VENDOR);
	pci_cfg_put16(p, PCI_CFG_SUBSYS, VIRTIO_PCI_SUBSYS_BASE + ops->device_id);
	p->cfg[PCI_CFG_INT_PIN] = 1;	/* INTA#, for drivers without MSI-X */
	p->bars[0] = (struct pci_bar){ .size = VPCI_BAR_SIZE, .flags = PCI_BAR_MEM64,
				       .fn = bar_access, .dev = t };
	/* One vector per queue plus one for config changes. */
	r = pci_msix_init(&t->msix, p, t->k, t->irq, ops->nqueues + 1, 0, MSIX_TABLE_OFF,
			  MSIX_PBA_OFF, err);
	if (r == 0)
		r = add_vcap(t, CAP_COMMON, COMMON_OFF, COMMON_LEN, err);
	if (r == 0)
		r = add_vcap(t, CAP_NOTIFY, NOTIFY_OFF, ops->nqueues * NOTIFY_MULT, err);
	if (r == 0)
		r = add_vcap(t, CAP_ISR, ISR_OFF, 1, err);
	if (r == 0 && ops->config_len)
		r = add_vcap(t, CAP_DEVICE, DEVCFG_OFF, ops->config_len, err);
	if (r == 0)
		r = add_vcap(t, CAP_PCI_CFG, 0, 0, err);
	return r;
}

static void vpci_free(struct vpci *t)
{
	for (uint16_t q = 0; q < t->d->ops->nqueues; q++) {
		if (t->nq[q].efd < 0)
			continue;
		if (t->nq[q].t)
			t->irq->unwatch(t->l, t->nq[q].efd);
		close(t->nq[q].efd);
	}
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->isr_lock);
	t->d->transport = NULL;
	free(t);
}

static int queues_init(struct vpci *t, struct husk_err **err)
{
	for (uint16_t q = 0; q < t->d->ops->nqueues; q++) {
		struct vpci_queue *nq = &t->nq[q];
		int r;

		nq->q = q;
		nq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (nq->efd < 0)
			return husk_err_set(err, errno, "virtio: %s: eventfd", t->d->ops->name);
		r = t->irq->watch(t->l, nq->efd, EPOLLIN, notify_ev, nq, err);
		if (r < 0)
			return r;
		nq->t = t;	/* marks it watched for vpci_free */
	}
	return 0;
}

int virtio_pci_add(struct pci_bus *pb, struct vm_kvm *k, struct event_loop *l,
		   struct virtio_dev *d, struct husk_err **err)
{
	const struct virtio_dev_ops *ops = d->ops;
	struct vpci *t;
	int r;

	if (!ops->nqueues || ops->nqueues > VIRTIO_MAX_QUEUES || !ops->queue_size ||
	    ops->queue_size > VQ_MAX_SIZE || (ops->queue_size & (ops->queue_size - 1)) ||
	    ops->config_len > REGION_SIZE)
		return husk_err_msg(err, EINVAL, "virtio: %s: bad queue or config layout",
				    ops->name);
	t = xcalloc(1, sizeof(*t));
	t->d = d;
	t->k = k;
	t->l = l;
	t->irq = pb->irq;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->isr_lock, NULL);
	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->nq[q].efd = -1;
	d->transport = t;
	r = queues_init(t, err);
	if (r == 0)
		r = setup_config_space(t, err);
	if (r == 0)
		r = pci_add(pb, &t->pci, err);
	if (r < 0) {
		vpci_free(t);
		return husk_err_wrap(err, "virtio-pci: add %s", ops->name);
	}
	d->interrupt = vpci_interrupt;
	d->config_changed = vpci_config_changed;
	regs_reset(t);
	ioeventfds_set(t, t->pci.bars[0].addr, true);
	return 0;
}

void virtio_pci_remove(struct pci_bus *pb, struct virtio_dev *d)
{
	struct vpci *t = d->transport;

	if (!t)
		return;
	ioeventfds_set(t, t->pci.bars[0].addr, false);
	pci_remove(pb, &t->pci);
	d->interrupt = NULL;
	d->config_changed = NULL;
	vpci_free(t);
}
