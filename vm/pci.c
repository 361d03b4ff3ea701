/* PCI bus 0 behind a type-1 host bridge: CONFIG_ADDRESS/CONFIG_DATA ports, config space with
 * write masks, BAR placement and relocation on the MMIO bus, capability lists and MSI-X
 * tables routed through KVM (vm/irq.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vm/irq.h"
#include "vm/pci.h"

#define CF8_ENABLE 0x80000000u
#define CFG_ADDR_PORT 0xCF8
#define CFG_DATA_PORT 0xCFC

/* The host bridge's identity: Intel's id for a generic host bridge, which Linux has no
 * quirk for; what matters to the guest is the class (06/00), which makes pci_sanity_check
 * accept configuration mechanism #1. */
#define HOST_VENDOR 0x8086
#define HOST_DEVICE 0x0d57

/* IOAPIC pins for INTx, below 16 so that a guest without _PRT can still use the interrupt
 * line register as an ISA IRQ; they avoid the i8042 (1, 12), serial (3, 4), RTC (8) and
 * ACPI SCI (9). Devices past the sixth share pins. */
static const uint8_t intx_lines[] = { 5, 10, 11, 7, 14, 15 };

const struct pci_irq_ops pci_irq_kvm = {
	.line = irq_line,
	.msi_alloc = irq_msi_alloc,
	.msi_update = irq_msi_update,
	.msi_free = irq_msi_free,
	.ioeventfd = irq_ioeventfd,
	.ioeventfd_del = irq_ioeventfd_del,
	.watch = event_add,
	.unwatch = event_del,
};

static const char *dev_name(const struct pci_dev *p)
{
	return p->name ? p->name : "pci";
}

static uint32_t get32(const uint8_t *b)
{
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = v >> (8 * i);
}

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t end)
{
	return off < end && off + len > start;
}

/* --- BARs ------------------------------------------------------------------------------- */

static uint64_t bar_cfg_addr(const struct pci_dev *p, unsigned i)
{
	uint64_t a = get32(&p->cfg[PCI_CFG_BAR0 + 4 * i]) & ~0xfULL;

	if (p->bars[i].flags & PCI_BAR_MEM64)
		a |= (uint64_t)get32(&p->cfg[PCI_CFG_BAR0 + 4 * (i + 1)]) << 32;
	return a;
}

/* The address bits above the size are writable, so writing all ones and reading back
 * yields the size mask: the sizing protocol needs no special case. */
static void bar_set_cfg(struct pci_dev *p, unsigned i)
{
	const struct pci_bar *b = &p->bars[i];
	uint64_t mask = ~(b->size - 1);
	uint8_t *c = &p->cfg[PCI_CFG_BAR0 + 4 * i], *w = &p->wmask[PCI_CFG_BAR0 + 4 * i];

	put32(c, (uint32_t)b->addr | (b->flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCH)));
	put32(w, (uint32_t)mask & ~0xfu);
	if (b->flags & PCI_BAR_MEM64) {
		put32(c + 4, b->addr >> 32);
		put32(w + 4, mask >> 32);
	}
}

/* With memory decoding on, make the bus match what the guest programmed. Linux turns
 * decoding off while it sizes or rewrites a BAR, so the bogus all-ones values of the sizing
 * protocol are never moved to. */
static void bars_sync(struct pci_bus *pb, struct pci_dev *p)
{
	if (!(pci_cfg_get16(p, PCI_CFG_COMMAND) & PCI_CMD_MEM))
		return;
	for (unsigned i = 0; i < 6; i++) {
		struct pci_bar *b = &p->bars[i];
		uint64_t want, old;

		if (!b->size)
			continue;
		want = bar_cfg_addr(p, i);
		old = b->addr;
		if (want != old) {
			if (want + b->size < want || bus_move(pb->mmio, b->dev, old, want) < 0) {
				log_warn("pci: %s: cannot move BAR %u from %#llx to %#llx", dev_name(p),
					 i, (unsigned long long)old, (unsigned long long)want);
			} else {
				b->addr = want;
				log_debug("pci: %s: BAR %u moved to %#llx", dev_name(p), i,
					  (unsigned long long)want);
				if (p->bar_moved)
					p->bar_moved(p, i, old);
			}
		}
		if (b->flags & PCI_BAR_MEM64)
			i++;
	}
}

static int bars_place(struct pci_bus *pb, struct pci_dev *p, struct husk_err **err)
{
	unsigned i;
	int r = 0;

	for (i = 0; i < 6; i++) {
		struct pci_bar *b = &p->bars[i];
		uint64_t addr;

		if (!b->size)
			continue;
		if ((b->size & (b->size - 1)) || b->size < 4096 ||
		    ((b->flags & PCI_BAR_MEM64) && i == 5)) {
			r = husk_err_msg(err, EINVAL, "pci: %s: BAR %u: bad size %#llx",
					 dev_name(p), i, (unsigned long long)b->size);
			break;
		}
		addr = (pb->next_mmio + b->size - 1) & ~(b->size - 1);
		if (addr + b->size > PCI_MMIO_BASE + PCI_MMIO_SIZE) {
			r = husk_err_msg(err, ENOSPC, "pci: %s: BAR %u: MMIO window full",
					 dev_name(p), i);
			break;
		}
		r = bus_add(pb->mmio, addr, b->size, b->fn, b->dev, dev_name(p), err);
		if (r < 0)
			break;
		b->addr = addr;
		pb->next_mmio = addr + b->size;
		bar_set_cfg(p, i);
		if (b->flags & PCI_BAR_MEM64)
			i++;
	}
	if (r == 0)
		return 0;
	while (i-- > 0) {
		if (p->bars[i].size && p->bars[i].addr)
			bus_del(pb->mmio, p->bars[i].dev, p->bars[i].addr);
	}
	return r;
}

/* --- config space ----------------------------------------------------------------------- */

static void msix_cfg_written(struct pci_msix *m);

void pci_cfg_access(struct pci_bus *pb, struct pci_dev *p, uint32_t off, uint8_t *data,
		    uint32_t len, bool is_write)
{
	if (off >= sizeof(p->cfg) || len > sizeof(p->cfg) - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		if (p->cfg_read)
			p->cfg_read(p, off, len);
		memcpy(data, &p->cfg[off], len);
		return;
	}
	/* Read-only bytes are not even rewritten: the device may update some of them
	 * (status) from another thread. */
	for (uint32_t i = 0; i < len; i++) {
		uint8_t w = p->wmask[off + i];

		if (w)
			p->cfg[off + i] = (p->cfg[off + i] & ~w) | (data[i] & w);
	}
	if (overlaps(off, len, PCI_CFG_COMMAND, PCI_CFG_COMMAND + 2) ||
	    overlaps(off, len, PCI_CFG_BAR0, PCI_CFG_BAR0 + 24))
		bars_sync(pb, p);
	if (p->msix && overlaps(off, len, p->msix->cap + 2, p->msix->cap + 4))
		msix_cfg_written(p->msix);
	if (p->cfg_written)
		p->cfg_written(p, off, len);
}

/* CONFIG_ADDRESS: only bus 0, function 0 exist; anything else reads as absent. */
static struct pci_dev *cf8_dev(const struct pci_bus *pb)
{
	uint32_t a = pb->cf8, slot = (a >> 11) & 0x1f;

	if (!(a & CF8_ENABLE) || ((a >> 16) & 0xff) || ((a >> 8) & 7))
		return NULL;
	return slot < PCI_MAX_DEVICES ? pb->dev[slot] : NULL;
}

/* CONFIG_ADDRESS is a 32-bit register: narrower accesses to 0xCF8-0xCFB are not config
 * cycles (on real chipsets they reach other registers), so they are ignored here. */
static void cf8_access(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *pb = dev;

	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		pb->cf8 = get32(data) & (CF8_ENABLE | 0x00fffffc);
	else
		put32(data, pb->cf8);
}

static void cfc_access(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *pb = dev;
	struct pci_dev *p = cf8_dev(pb);

	if (!p || off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(pb, p, (pb->cf8 & 0xfc) + (uint32_t)off, data, len, is_write);
}

/* --- devices ---------------------------------------------------------------------------- */

uint8_t pci_add_cap(struct pci_dev *p, uint8_t id, const void *body, uint8_t len)
{
	uint32_t off = p->cap_end ? p->cap_end : 0x40;

	if (len < 2 || off + len > sizeof(p->cfg))
		return 0;
	memcpy(&p->cfg[off], body, len);
	p->cfg[off] = id;
	p->cfg[off + 1] = 0;
	if (p->cap_last)
		p->cfg[p->cap_last + 1] = off;
	else
		p->cfg[PCI_CFG_CAP_PTR] = off;
	p->cap_last = off;
	p->cap_end = (off + len + 3) & ~3u;	/* capabilities are dword aligned */
	pci_cfg_put16(p, PCI_CFG_STATUS, pci_cfg_get16(p, PCI_CFG_STATUS) | PCI_STATUS_CAP_LIST);
	return off;
}

int pci_add(struct pci_bus *pb, struct pci_dev *p, struct husk_err **err)
{
	int r;

	if (pb->ndev >= PCI_MAX_DEVICES)
		return husk_err_msg(err, ENOSPC, "pci: %s: no free slot", dev_name(p));
	/* Standard write masks: command (I/O, memory, bus master, INTx disable), cache line
	 * size (Linux writes it), interrupt line (firmware's scratch register). */
	p->wmask[PCI_CFG_COMMAND] = PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER;
	p->wmask[PCI_CFG_COMMAND + 1] = PCI_CMD_INTX_DISABLE >> 8;
	p->wmask[0x0C] = 0xff;
	p->wmask[PCI_CFG_INT_LINE] = 0xff;
	r = bars_place(pb, p, err);
	if (r < 0)
		return r;
	p->slot = pb->ndev;
	if (p->cfg[PCI_CFG_INT_PIN]) {
		p->intx_line = intx_lines[(p->slot - 1u) % sizeof(intx_lines)];
		p->cfg[PCI_CFG_INT_LINE] = p->intx_line;
	}
	pb->dev[pb->ndev++] = p;
	log_debug("pci: %s at 00:%02x.0", dev_name(p), p->slot);
	return 0;
}

void pci_remove(struct pci_bus *pb, struct pci_dev *p)
{
	for (unsigned i = 0; i < 6; i++)
		if (p->bars[i].size)
			bus_del(pb->mmio, p->bars[i].dev, p->bars[i].addr);
	if (p->msix) {
		pci_msix_release(p->msix);
		pthread_mutex_destroy(&p->msix->lock);
		p->msix = NULL;
	}
	if (p->slot < PCI_MAX_DEVICES && pb->dev[p->slot] == p)
		pb->dev[p->slot] = NULL;	/* the slot reads as absent; it is not reused */
}

int pci_bus_init(struct pci_bus *pb, struct bus *pio, struct bus *mmio, struct husk_err **err)
{
	struct pci_dev *h = &pb->host;
	int r;

	memset(pb, 0, sizeof(*pb));
	pb->mmio = mmio;
	pb->irq = &pci_irq_kvm;
	pb->next_mmio = PCI_MMIO_BASE;
	r = bus_add(pio, CFG_ADDR_PORT, 4, cf8_access, pb, "pci-cf8", err);
	if (r < 0)
		return r;
	r = bus_add(pio, CFG_DATA_PORT, 4, cfc_access, pb, "pci-cfc", err);
	if (r < 0) {
		bus_del(pio, pb, CFG_ADDR_PORT);
		return r;
	}
	h->name = "host-bridge";
	pci_cfg_put16(h, PCI_CFG_VENDOR, HOST_VENDOR);
	pci_cfg_put16(h, PCI_CFG_DEVICE, HOST_DEVICE);
	h->cfg[PCI_CFG_CLASS + 2] = 0x06;	/* bridge */
	h->cfg[PCI_CFG_CLASS + 1] = 0x00;	/* host */
	return pci_add(pb, h, err);
}

/* --- MSI-X ------------------------------------------------------------------------------ */

#define MSIX_CTRL_ENABLE 0x80	/* in the high byte of message control */
#define MSIX_CTRL_FMASK 0x40
#define MSIX_VEC_MASKED 0x1

bool pci_msix_enabled(const struct pci_msix *m)
{
	return m->p->cfg[m->cap + 3] & MSIX_CTRL_ENABLE;
}

static bool msix_fmasked(const struct pci_msix *m)
{
	return m->p->cfg[m->cap + 3] & MSIX_CTRL_FMASK;
}

static bool vec_masked(const struct pci_msix *m, uint16_t v)
{
	return get32(&m->table[v * PCI_MSIX_ENTRY + 12]) & MSIX_VEC_MASKED;
}

/* Route vector v to its current message: allocate a GSI + irqfd the first time, re-route
 * when the guest rewrote the entry since. Called with m->lock held. */
static int vec_route(struct pci_msix *m, uint16_t v)
{
	struct pci_msix_vec *e = &m->vec[v];
	const uint8_t *t = &m->table[v * PCI_MSIX_ENTRY];
	uint64_t addr = get32(t) | (uint64_t)get32(t + 4) << 32;
	uint32_t data = get32(t + 8);
	cleanup_err struct husk_err *err = NULL;
	int r = 0;

	if (e->efd >= 0 && !e->dirty)
		return 0;
	if (!addr)
		return -EINVAL;	/* never programmed: nowhere to send it */
	if (e->efd < 0)
		r = m->irq->msi_alloc(m->k, addr, data, &e->gsi, &e->efd, &err);
	else
		r = m->irq->msi_update(m->k, e->gsi, addr, data, &err);
	if (r < 0) {
		log_warn("pci: %s: MSI-X vector %u: %s", dev_name(m->p), v, err->msg);
		return r;
	}
	e->dirty = false;
	return 0;
}

static void vec_fire(struct pci_msix *m, uint16_t v)
{
	uint64_t one = 1;

	if (vec_route(m, v) < 0)
		return;
	if (write(m->vec[v].efd, &one, sizeof(one)) != sizeof(one))
		log_debug("pci: %s: MSI-X vector %u: irqfd write failed", dev_name(m->p), v);
}

/* Deliver what became deliverable: pending vectors no longer masked. */
static void msix_flush_pending(struct pci_msix *m)
{
	if (!pci_msix_enabled(m) || msix_fmasked(m))
		return;
	for (uint16_t v = 0; v < m->n; v++) {
		if ((m->pba & (1ULL << v)) && !vec_masked(m, v)) {
			m->pba &= ~(1ULL << v);
			vec_fire(m, v);
		}
	}
}

static void msix_cfg_written(struct pci_msix *m)
{
	pthread_mutex_lock(&m->lock);
	msix_flush_pending(m);
	pthread_mutex_unlock(&m->lock);
}

/* After the guest wrote part of entry v: a changed message is re-routed at once when the
 * vector is live (Linux programs entries masked, so usually at the unmask instead). */
static void entry_written(struct pci_msix *m, uint16_t v, uint32_t rel, uint32_t len)
{
	if (overlaps(rel, len, v * PCI_MSIX_ENTRY, v * PCI_MSIX_ENTRY + 12))
		m->vec[v].dirty = true;
	if (vec_masked(m, v))
		return;
	vec_route(m, v);
	msix_flush_pending(m);
}

bool pci_msix_access(struct pci_msix *m, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	uint32_t tlen = m->n * PCI_MSIX_ENTRY;

	if (off >= m->table_off && off - m->table_off + len <= tlen) {
		uint32_t rel = off - m->table_off;

		pthread_mutex_lock(&m->lock);
		if (!is_write) {
			memcpy(data, &m->table[rel], len);
		} else {
			memcpy(&m->table[rel], data, len);
			for (uint32_t v = rel / PCI_MSIX_ENTRY; v <= (rel + len - 1) / PCI_MSIX_ENTRY;
			     v++)
				entry_written(m, v, rel, len);
		}
		pthread_mutex_unlock(&m->lock);
		return true;
	}
	if (off >= m->pba_off && off - m->pba_off + len <= sizeof(m->pba)) {
		/* The PBA is read-only; writes are dropped. */
		if (!is_write) {
			pthread_mutex_lock(&m->lock);
			for (uint32_t i = 0; i < len; i++)
				data[i] = m->pba >> (8 * (off - m->pba_off + i));
			pthread_mutex_unlock(&m->lock);
		}
		return true;
	}
	return false;
}

void pci_msix_signal(struct pci_msix *m, uint16_t v)
{
	if (v >= m->n)
		return;
	pthread_mutex_lock(&m->lock);
	if (pci_msix_enabled(m)) {
		if (msix_fmasked(m) || vec_masked(m, v))
			m->pba |= 1ULL << v;
		else
			vec_fire(m, v);
	}
	pthread_mutex_unlock(&m->lock);
}

void pci_msix_release(struct pci_msix *m)
{
	pthread_mutex_lock(&m->lock);
	for (uint16_t v = 0; v < m->n; v++) {
		struct pci_msix_vec *e = &m->vec[v];

		if (e->efd >= 0)
			m->irq->msi_free(m->k, e->gsi, e->efd);
		e->efd = -1;
		e->dirty = false;
	}
	m->pba = 0;
	pthread_mutex_unlock(&m->lock);
}

int pci_msix_init(struct pci_msix *m, struct pci_dev *p, struct vm_kvm *k,
		  const struct pci_irq_ops *irq, uint16_t n, uint8_t bar, uint32_t table_off,
		  uint32_t pba_off, struct husk_err **err)
{
	uint8_t cap[12] = { 0 };

	if (n == 0 || n > PCI_MSIX_MAX || bar > 5 || (table_off | pba_off) & 7)
		return husk_err_msg(err, EINVAL, "pci: %s: bad MSI-X layout", dev_name(p));
	memset(m, 0, sizeof(*m));
	m->p = p;
	m->k = k;
	m->irq = irq;
	m->n = n;
	m->table_off = table_off;
	m->pba_off = pba_off;
	pthread_mutex_init(&m->lock, NULL);
	for (uint16_t v = 0; v < n; v++) {
		put32(&m->table[v * PCI_MSIX_ENTRY + 12], MSIX_VEC_MASKED);
		m->vec[v].efd = -1;
	}
	cap[2] = (n - 1) & 0xff;
	cap[3] = (n - 1) >> 8;
	put32(&cap[4], table_off | bar);
	put32(&cap[8], pba_off | bar);
	m->cap = pci_add_cap(p, PCI_CAP_ID_MSIX, cap, sizeof(cap));
	if (!m->cap)
		return husk_err_msg(err, ENOSPC, "pci: %s: no room for MSI-X", dev_name(p));
	p->wmask[m->cap + 3] = MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK;
	p->msix = m;
	return 0;
}
