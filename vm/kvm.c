/* The KVM VM: /dev/kvm and the VM fd, memory slots, the in-kernel irqchip and PIT, GSI
 * routing (irqchip pins plus MSI routes), irqfd and ioeventfd (vm/irq.h), and the paging
 * report. vCPUs and their run loop live in vcpu.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "vm/irq.h"
#include "vm/kvm.h"

/* Intel needs three pages for the real-mode TSS and one for the EPT identity map; both sit
 * in the MMIO hole below the BIOS area, clear of the IOAPIC and LAPIC pages. */
#define KVM_TSS_ADDR 0xFFFBD000UL
#define KVM_IDMAP_ADDR 0xFFFBC000ULL

/* The IOAPIC has 24 pins, the two 8259s 16; GSIs from here on are MSI routes. */
#define IOAPIC_PINS 24
#define MSI_GSI_FIRST IOAPIC_PINS

int kvm_ioctl(int fd, unsigned long req, unsigned long arg, const char *name,
	      struct husk_err **err)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return husk_err_set(err, errno, "kvm: ioctl `%s`", name);
	return r;
}

static int check_cap(struct vm_kvm *k, int cap, const char *name, struct husk_err **err)
{
	int r = VM_IOCTL_VAL(k->kvm_fd, KVM_CHECK_EXTENSION, cap, err);

	if (r < 0)
		return r;
	if (r == 0)
		return husk_err_msg(err, ENOTSUP, "kvm: capability `%s` missing", name);
	return 0;
}

/* The pin routes, which KVM_SET_GSI_ROUTING replaces wholesale with the MSI routes: line n
 * goes to IOAPIC pin n, and lines 0-15 also to the 8259 pair (master pins 0-7, slave 8-15),
 * except that the PIT's line 0 reaches IOAPIC pin 2, as the MADT's interrupt source override
 * tells the guest (KVM's own default is pin 0), and line 2 (the 8259 cascade) goes nowhere. */
static void routes_init_pins(struct vm_kvm *k)
{
	k->nroutes = 0;
	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		k->routes[k->nroutes++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi },
		};
		if (gsi >= 16)
			continue;
		k->routes[k->nroutes++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							  : KVM_IRQCHIP_PIC_SLAVE,
				       .pin = gsi % 8 },
		};
	}
}

static int routes_commit(struct vm_kvm *k, struct husk_err **err);

static int create_irqchip(struct vm_kvm *k, struct husk_err **err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDMAP_ADDR;
	int r;

	if (check_cap(k, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", err) < 0 ||
	    check_cap(k, KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", err) < 0 ||
	    check_cap(k, KVM_CAP_IRQFD, "KVM_CAP_IRQFD", err) < 0 ||
	    check_cap(k, KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", err) < 0)
		return -(*err)->code;
	if (VM_IOCTL_VAL(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR, err) < 0 ||
	    VM_IOCTL(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap, err) < 0 ||
	    VM_IOCTL_VAL(k->vm_fd, KVM_CREATE_IRQCHIP, 0, err) < 0 ||
	    VM_IOCTL(k->vm_fd, KVM_CREATE_PIT2, &pit, err) < 0)
		return -(*err)->code;
	routes_init_pins(k);
	/* Now, not at the first MSI route: the PIT's override applies from the first tick. */
	pthread_mutex_lock(&k->lock);
	r = routes_commit(k, err);
	pthread_mutex_unlock(&k->lock);
	return r;
}

int kvm_open(struct vm_kvm *k, bool irqchip, struct husk_err **err)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->kvm_fd = k->vm_fd = -1;
	pthread_mutex_init(&k->lock, NULL);
	bus_init(&k->pio);
	bus_init(&k->mmio);
	k->paging = kvm_paging_mode("/sys/module");
	log_debug("kvm: guest memory translated by %s paging", k->paging);

	k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0)
		return husk_err_set(err, errno, "kvm: open `/dev/kvm`");
	r = VM_IOCTL_VAL(k->kvm_fd, KVM_GET_API_VERSION, 0, err);
	if (r < 0)
		return r;
	if (r != KVM_API_VERSION)
		return husk_err_msg(err, ENOTSUP, "kvm: API version %d, want %d", r,
				    KVM_API_VERSION);
	r = VM_IOCTL_VAL(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0, err);
	if (r < 0)
		return r;
	k->run_size = (size_t)r;
	r = VM_IOCTL_VAL(k->kvm_fd, KVM_CREATE_VM, 0, err);
	if (r < 0)
		return r;
	k->vm_fd = r;
	if (fcntl(k->vm_fd, F_SETFD, FD_CLOEXEC) < 0)
		return husk_err_set(err, errno, "kvm: set close-on-exec");
	k->irqchip = irqchip;
	if (irqchip)
		return create_irqchip(k, err);
	return 0;
}

void kvm_close(struct vm_kvm *k)
{
	for (unsigned i = 0; i < k->ncpus; i++) {
		if (k->vcpu[i].run)
			munmap(k->vcpu[i].run, k->run_size);
		if (k->vcpu[i].fd >= 0)
			close(k->vcpu[i].fd);
	}
	k->ncpus = 0;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	k->vm_fd = k->kvm_fd = -1;
	pthread_mutex_destroy(&k->lock);
}

int kvm_set_memory(struct vm_kvm *k, const struct guestmem *gm, struct husk_err **err)
{
	k->gm = gm;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct guestmem_region *g = &gm->r[i];
		struct kvm_userspace_memory_region m = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uintptr_t)g->host,
		};

		/* guestmem keeps every region clear of the hole below 4 GiB. */
		if (VM_IOCTL(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &m, err) < 0)
			return husk_err_wrap(err, "kvm: map guest RAM at %#llx",
					     (unsigned long long)g->gpa);
	}
	return 0;
}

static const char *read_param(const char *sysfs, const char *mod, const char *param, char *buf,
			      size_t cap)
{
	cleanup_free char *path = xasprintf("%s/%s/parameters/%s", sysfs, mod, param);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, cap - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

const char *kvm_paging_mode(const char *sysfs)
{
	static const struct {
		const char *mod, *param, *name;
	} modes[] = { { "kvm_intel", "ept", "ept" }, { "kvm_amd", "npt", "npt" } };
	char buf[16];

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		const char *v = read_param(sysfs, modes[i].mod, modes[i].param, buf, sizeof(buf));

		if (!v)
			continue;
		return (v[0] == 'Y' || v[0] == 'y' || v[0] == '1') ? modes[i].name : "shadow";
	}
	return "unknown";
}

/* ---- vm/irq.h ---- */

int irq_line(struct vm_kvm *k, uint32_t line, int level)
{
	struct kvm_irq_level l = { .irq = line, .level = level ? 1 : 0 };
	cleanup_err struct husk_err *err = NULL;

	if (!k->irqchip)
		return -ENXIO;
	return VM_IOCTL(k->vm_fd, KVM_IRQ_LINE, &l, &err);
}

/* Hand the whole table to KVM; called with k->lock held. */
static int routes_commit(struct vm_kvm *k, struct husk_err **err)
{
	size_t sz = sizeof(struct kvm_irq_routing) + k->nroutes * sizeof(k->routes[0]);
	cleanup_free struct kvm_irq_routing *t = xcalloc(1, sz);

	t->nr = k->nroutes;
	memcpy(t->entries, k->routes, k->nroutes * sizeof(k->routes[0]));
	return VM_IOCTL(k->vm_fd, KVM_SET_GSI_ROUTING, t, err);
}

static struct kvm_irq_routing_entry *route_find(struct vm_kvm *k, uint32_t gsi)
{
	for (unsigned i = 0; i < k->nroutes; i++)
		if (k->routes[i].gsi == gsi && k->routes[i].type == KVM_IRQ_ROUTING_MSI)
			return &k->routes[i];
	return NULL;
}

static void msi_set(struct kvm_irq_routing_entry *e, uint64_t addr, uint32_t data)
{
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
}

static int gsi_alloc(struct vm_kvm *k)
{
	for (uint32_t gsi = MSI_GSI_FIRST; gsi < VM_MAX_GSI; gsi++) {
		if (k->msi_used[gsi / 32] & (1u << (gsi % 32)))
			continue;
		k->msi_used[gsi / 32] |= 1u << (gsi % 32);
		return (int)gsi;
	}
	return -ENOSPC;
}

static void gsi_release(struct vm_kvm *k, uint32_t gsi)
{
	struct kvm_irq_routing_entry *e = route_find(k, gsi);

	if (e)
		*e = k->routes[--k->nroutes];
	k->msi_used[gsi / 32] &= ~(1u << (gsi % 32));
}

int irq_msi_alloc(struct vm_kvm *k, uint64_t addr, uint32_t data, uint32_t *gsi, int *efd,
		  struct husk_err **err)
{
	cleanup_close int fd = -1;
	struct kvm_irqfd irqfd = { 0 };
	int g, r;

	if (!k->irqchip)
		return husk_err_msg(err, ENXIO, "kvm: MSI needs the in-kernel irqchip");
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return husk_err_set(err, errno, "kvm: eventfd");
	pthread_mutex_lock(&k->lock);
	g = gsi_alloc(k);
	if (g < 0) {
		pthread_mutex_unlock(&k->lock);
		return husk_err_msg(err, ENOSPC, "kvm: out of MSI routes");
	}
	k->routes[k->nroutes] = (struct kvm_irq_routing_entry){ .gsi = (uint32_t)g };
	msi_set(&k->routes[k->nroutes++], addr, data);
	r = routes_commit(k, err);
	if (r < 0) {
		gsi_release(k, (uint32_t)g);
		pthread_mutex_unlock(&k->lock);
		return r;
	}
	pthread_mutex_unlock(&k->lock);
	irqfd.fd = (uint32_t)fd;
	irqfd.gsi = (uint32_t)g;
	r = VM_IOCTL(k->vm_fd, KVM_IRQFD, &irqfd, err);
	if (r < 0) {
		irq_msi_free(k, (uint32_t)g, -1);
		return r;
	}
	*gsi = (uint32_t)g;
	*efd = TAKE_FD(fd);
	return 0;
}

int irq_msi_update(struct vm_kvm *k, uint32_t gsi, uint64_t addr, uint32_t data,
		   struct husk_err **err)
{
	struct kvm_irq_routing_entry *e;
	int r;

	pthread_mutex_lock(&k->lock);
	e = route_find(k, gsi);
	if (!e) {
		pthread_mutex_unlock(&k->lock);
		return husk_err_msg(err, ENOENT, "kvm: GSI %u is not an MSI route", gsi);
	}
	msi_set(e, addr, data);
	r = routes_commit(k, err);
	pthread_mutex_unlock(&k->lock);
	return r;
}

void irq_msi_free(struct vm_kvm *k, uint32_t gsi, int efd)
{
	cleanup_err struct husk_err *err = NULL;

	if (efd >= 0) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)efd,
					   .gsi = gsi,
					   .flags = KVM_IRQFD_FLAG_DEASSIGN };

		VM_IOCTL(k->vm_fd, KVM_IRQFD, &irqfd, &err);
		close(efd);
	}
	pthread_mutex_lock(&k->lock);
	gsi_release(k, gsi);
	if (routes_commit(k, &err) < 0)
		log_debug("kvm: %s", err->msg);
	pthread_mutex_unlock(&k->lock);
}

static int ioeventfd(struct vm_kvm *k, uint64_t addr, uint32_t len, int match, uint64_t dm,
		     int efd, uint32_t flags, struct husk_err **err)
{
	struct kvm_ioeventfd io = {
		.datamatch = dm,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = flags | (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	return VM_IOCTL(k->vm_fd, KVM_IOEVENTFD, &io, err);
}

int irq_ioeventfd(struct vm_kvm *k, uint64_t addr, uint32_t len, int match, uint64_t datamatch,
		  int efd, struct husk_err **err)
{
	return ioeventfd(k, addr, len, match, datamatch, efd, 0, err);
}

int irq_ioeventfd_del(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
		      uint64_t datamatch, int efd)
{
	cleanup_err struct husk_err *err = NULL;

	return ioeventfd(k, addr, len, match, datamatch, efd, KVM_IOEVENTFD_FLAG_DEASSIGN, &err);
}
