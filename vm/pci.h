/* The PCI side: a type-1 host bridge at 0xCF8/0xCFC on bus 0, devices with
 * a 256-byte config space (capabilities list), 64-bit memory BARs placed in
 * the MMIO hole, and MSI-X tables. Implemented by pci.c; virtio/pci.c builds
 * the virtio-pci modern transport on it. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/bus.h"
#include "vm/event.h"

struct vm_kvm;

#define PCI_MAX_DEVICES 16
#define PCI_MMIO_BASE 0xE0000000ULL	/* BARs are placed from here (in the hole) */
#define PCI_MMIO_SIZE 0x10000000ULL

/* Config space offsets and bits (PCI Local Bus 3.0, section 6.1) */
#define PCI_CFG_VENDOR 0x00
#define PCI_CFG_DEVICE 0x02
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_STATUS 0x06
#define PCI_CFG_REVISION 0x08
#define PCI_CFG_CLASS 0x09	/* prog-if, subclass, class: 3 bytes */
#define PCI_CFG_HEADER_TYPE 0x0E
#define PCI_CFG_BAR0 0x10
#define PCI_CFG_SUBSYS_VENDOR 0x2C
#define PCI_CFG_SUBSYS 0x2E
#define PCI_CFG_CAP_PTR 0x34
#define PCI_CFG_INT_LINE 0x3C
#define PCI_CFG_INT_PIN 0x3D

#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEM 0x0002
#define PCI_CMD_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_STATUS_INTX 0x0008
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_MSIX 0x11

/* pci_bar.flags: the low bits of a memory BAR as the guest reads them. */
#define PCI_BAR_MEM64 0x4
#define PCI_BAR_PREFETCH 0x8

/* Interrupt and notification plumbing. pci_bus_init() points pci_bus.irq at
 * pci_irq_kvm (vm/irq.h and vm/event.h); unit tests swap in fakes so the
 * device model runs without /dev/kvm. */
struct pci_irq_ops {
	int (*line)(struct vm_kvm *k, uint32_t line, int level);
	int (*msi_alloc)(struct vm_kvm *k, uint64_t addr, uint32_t data, uint32_t *gsi, int *efd,
			 struct husk_err **err);
	int (*msi_update)(struct vm_kvm *k, uint32_t gsi, uint64_t addr, uint32_t data,
			  struct husk_err **err);
	void (*msi_free)(struct vm_kvm *k, uint32_t gsi, int efd);
	int (*ioeventfd)(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
			 uint64_t datamatch, int efd, struct husk_err **err);
	int (*ioeventfd_del)(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
			     uint64_t datamatch, int efd);
	int (*watch)(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *arg,
		     struct husk_err **err);
	void (*unwatch)(struct event_loop *l, int fd);
};
extern const struct pci_irq_ops pci_irq_kvm;

struct pci_dev;

struct pci_bar {
	uint64_t size;		/* power of two, >= 4 KiB; 0 = unused */
	uint64_t addr;		/* where it is registered on the MMIO bus */
	uint8_t flags;		/* PCI_BAR_MEM64 (uses slot i+1 too), PCI_BAR_PREFETCH */
	bus_fn fn;		/* MMIO accesses to the BAR */
	void *dev;
};

struct pci_msix;

struct pci_dev {
	uint8_t cfg[256];	/* config space; writable bits masked by wmask */
	uint8_t wmask[256];
	struct pci_bar bars[6];	/* 64-bit BARs use i and i+1 */
	uint8_t slot;
	uint8_t intx_line;	/* IOAPIC pin of INTx (set by pci_add when INT_PIN != 0) */
	uint16_t cap_end;	/* first free config byte after the capabilities (0: none) */
	uint8_t cap_last;	/* offset of the last capability (0: none) */
	const char *name;	/* for logs and bus ranges; "pci" when NULL */
	void *owner;
	struct pci_msix *msix;	/* set by pci_msix_init */
	/* Called before the guest reads config space [off, off + len), to refresh
	 * registers whose value comes from elsewhere (virtio's PCI_CFG window). */
	void (*cfg_read)(struct pci_dev *p, uint32_t off, uint32_t len);
	/* Called after the guest wrote config space (e.g. the MSI-X enable bit). */
	void (*cfg_written)(struct pci_dev *p, uint32_t off, uint32_t len);
	/* Called after BAR i moved from old_addr to bars[i].addr. */
	void (*bar_moved)(struct pci_dev *p, unsigned i, uint64_t old_addr);
};

struct pci_bus {
	struct bus *mmio;
	const struct pci_irq_ops *irq;	/* &pci_irq_kvm unless a test swaps it */
	uint32_t cf8;		/* last CONFIG_ADDRESS */
	unsigned ndev;
	struct pci_dev *dev[PCI_MAX_DEVICES];	/* slot 0 is the host bridge */
	uint64_t next_mmio;
	struct pci_dev host;
};

/* Register CONFIG_ADDRESS/CONFIG_DATA on pio and the host bridge as slot 0. */
int pci_bus_init(struct pci_bus *pb, struct bus *pio, struct bus *mmio, struct husk_err **err);
/* Give p the next slot, place its BARs (size-aligned, from PCI_MMIO_BASE),
 * register them on the MMIO bus and set the standard write masks (command,
 * BARs, cache line, interrupt line). The caller fills ids, class and
 * capabilities; p must outlive the bus. */
int pci_add(struct pci_bus *pb, struct pci_dev *p, struct husk_err **err);
/* Undo pci_add at teardown: unregister p's BARs, release its MSI-X routes and empty its
 * slot. No vCPU may be running (a config or BAR access could still hold p). */
void pci_remove(struct pci_bus *pb, struct pci_dev *p);
/* Append a capability of `len` bytes to p's list and set STATUS_CAP_LIST.
 * body holds the whole capability; its first two bytes (id, next) are
 * filled in here. Returns its offset in config space, 0 when full. */
uint8_t pci_add_cap(struct pci_dev *p, uint8_t id, const void *body, uint8_t len);

/* One config-space access as CONFIG_DATA would do it (masks, side effects):
 * used by the type-1 ports and by tests. */
void pci_cfg_access(struct pci_bus *pb, struct pci_dev *p, uint32_t off, uint8_t *data,
		    uint32_t len, bool is_write);

static inline void pci_cfg_put16(struct pci_dev *p, uint32_t off, uint16_t v)
{
	p->cfg[off] = v & 0xff;
	p->cfg[off + 1] = v >> 8;
}

static inline uint16_t pci_cfg_get16(const struct pci_dev *p, uint32_t off)
{
	return p->cfg[off] | (uint16_t)(p->cfg[off + 1] << 8);
}

/* MSI-X (PCI Local Bus 3.0, section 6.8.2): the table and the PBA live in
 * one of the device's BARs, whose handler forwards them to pci_msix_access.
 * An entry's message is routed (msi_alloc, then msi_update when the guest
 * rewrites it) when the vector is unmasked or first signalled. */
#define PCI_MSIX_MAX 64
#define PCI_MSIX_ENTRY 16

struct pci_msix_vec {
	uint32_t gsi;
	int efd;		/* irqfd bound to gsi; -1 until routed */
	bool dirty;		/* address/data changed since it was routed */
};

struct pci_msix {
	struct pci_dev *p;
	struct vm_kvm *k;
	const struct pci_irq_ops *irq;
	pthread_mutex_t lock;	/* table writes (vCPU) vs signals (event thread) */
	uint8_t cap;		/* config-space offset of the capability */
	uint16_t n;
	uint32_t table_off, pba_off;	/* inside the BAR */
	uint8_t table[PCI_MSIX_MAX * PCI_MSIX_ENTRY];
	uint64_t pba;
	struct pci_msix_vec vec[PCI_MSIX_MAX];
};

/* Add the capability for n vectors (table and PBA at those BAR offsets,
 * 8-byte aligned); every vector starts masked, MSI-X starts disabled. */
int pci_msix_init(struct pci_msix *m, struct pci_dev *p, struct vm_kvm *k,
		  const struct pci_irq_ops *irq, uint16_t n, uint8_t bar, uint32_t table_off,
		  uint32_t pba_off, struct husk_err **err);
/* Table or PBA access at BAR offset off: false when off is outside both. */
bool pci_msix_access(struct pci_msix *m, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write);
bool pci_msix_enabled(const struct pci_msix *m);
/* Send vector v, or set its PBA bit when it or the function is masked (it
 * is sent on unmask). */
void pci_msix_signal(struct pci_msix *m, uint16_t v);
/* Drop every route and pending bit (device reset); the table is kept and
 * routed again on the next unmask or signal. */
void pci_msix_release(struct pci_msix *m);
