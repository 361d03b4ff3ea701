/* vm_run: build the machine from a config, boot it, run it to the end and tear it down. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "vm/acpi.h"
#include "vm/event.h"
#include "vm/legacy.h"
#include "vm/pci.h"
#include "vm/vm.h"

#define VM_MAX_DEVICES 16

struct machine {
	struct guestmem gm;
	struct vm_kvm k;
	struct event_loop *l;
	struct serial serial;
	struct i8042 kbd;
	struct rtc rtc;
	struct acpi_pm pm;
	struct pci_bus pci;
	struct virtio_dev *devs[VM_MAX_DEVICES];
	unsigned ndevs;
	int stop_fd;
	bool kvm_open;
};

void vm_config_init(struct vm_config *c)
{
	*c = (struct vm_config){ .cpus = 1, .serial_out_fd = -1, .serial_in_fd = -1,
				 .stop_fd = -1, .tap_fd = -1 };
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void machine_free(struct machine *m)
{
	if (m->l)
		event_loop_stop(m->l);
	serial_stop(&m->serial);
	/* Transports first (ioeventfds, irqfds and watches go while the VM fd and the loop still
	 * exist), then the devices. */
	for (unsigned i = 0; i < m->ndevs; i++) {
		virtio_pci_remove(&m->pci, m->devs[i]);
		virtio_dev_free(m->devs[i]);
	}
	event_loop_free(m->l);
	if (m->kvm_open) {
		kvm_close(&m->k);
		bus_destroy(&m->k.pio);
		bus_destroy(&m->k.mmio);
	}
	guestmem_free(&m->gm);
	free(m);
}

static int add_dev(struct machine *m, struct virtio_dev *d, struct husk_err **err)
{
	if (!d)
		return -(*err)->code;
	if (m->ndevs == VM_MAX_DEVICES) {
		virtio_dev_free(d);
		return husk_err_msg(err, ENOSPC, "vm: more than %d virtio devices", VM_MAX_DEVICES);
	}
	m->devs[m->ndevs++] = d;
	if (virtio_pci_add(&m->pci, &m->k, m->l, d, err) < 0)
		return husk_err_wrap(err, "vm: attach %s", d->ops->name);
	return 0;
}

static int add_virtio(struct machine *m, const struct vm_config *c, struct husk_err **err)
{
	for (unsigned i = 0; i < c->ndisks; i++)
		if (add_dev(m, virtio_blk_new(&m->gm, m->l, c->disks[i].path, c->disks[i].ro, err),
			    err) < 0)
			return -(*err)->code;
	if (c->nports &&
	    add_dev(m, virtio_console_new(&m->gm, m->l, c->ports, c->nports, err), err) < 0)
		return -(*err)->code;
	if (c->rng && add_dev(m, virtio_rng_new(&m->gm, m->l, err), err) < 0)
		return -(*err)->code;
	if (c->tap_fd >= 0 && add_dev(m, virtio_net_new(&m->gm, m->l, c->tap_fd, c->mac, err),
				      err) < 0)
		return -(*err)->code;
	return 0;
}

/* The KVM VM, its memory and vCPUs, and the devices every machine has. */
static int build(struct machine *m, const struct vm_config *c, struct husk_err **err)
{
	if (guestmem_init(&m->gm, c->mem_bytes, err) < 0)
		return -(*err)->code;
	m->kvm_open = true;
	if (kvm_open(&m->k, !c->no_irqchip, err) < 0 || kvm_set_memory(&m->k, &m->gm, err) < 0 ||
	    kvm_create_vcpus(&m->k, c->cpus, err) < 0 || event_loop_new(&m->l, err) < 0)
		return -(*err)->code;
	if (serial_init(&m->serial, &m->k, m->l, c->serial_in_fd, c->serial_out_fd, err) < 0 ||
	    i8042_init(&m->kbd, &m->k, err) < 0 || rtc_init(&m->rtc, &m->k, err) < 0 ||
	    acpi_pm_init(&m->pm, &m->k, err) < 0 ||
	    pci_bus_init(&m->pci, &m->k.pio, &m->k.mmio, err) < 0)
		return husk_err_wrap(err, "vm: devices");
	return add_virtio(m, c, err);
}

static int read_file(const char *path, char **buf, size_t *len, struct husk_err **err)
{
	return fd_read_at(AT_FDCWD, path, buf, len, err) < 0 ? husk_err_wrap(err, "vm") : 0;
}

static int load_kernel(struct machine *m, const struct vm_config *c, struct boot_cpu *cpu,
		       struct husk_err **err)
{
	cleanup_free char *kernel = NULL, *initrd = NULL;
	struct acpi_config ac = { .ncpus = c->cpus, .com1 = true };
	struct boot_linux bl = { .cmdline = c->cmdline, .initrd = c->initrd,
				 .initrd_len = c->initrd_len };

	if (read_file(c->kernel_path, &kernel, &bl.kernel_len, err) < 0)
		return -(*err)->code;
	bl.kernel = (const uint8_t *)kernel;
	if (!bl.initrd && c->initrd_path) {
		if (read_file(c->initrd_path, &initrd, &bl.initrd_len, err) < 0)
			return -(*err)->code;
		bl.initrd = (const uint8_t *)initrd;
	}
	if (acpi_write(&m->gm, &ac, &bl.rsdp, err) < 0)
		return -(*err)->code;
	if (boot_load_linux(&m->gm, &bl, cpu, err) < 0)
		return husk_err_wrap(err, "vm: load `%s`", c->kernel_path);
	return 0;
}

static void on_stop_fd(void *arg, uint32_t events)
{
	struct machine *m = arg;

	/* Once is enough: a level-triggered fd left unread would fire on every loop turn. */
	event_del(m->l, m->stop_fd);
	kvm_stop(&m->k, VM_EXIT_HOST, "host request");
}

static int boot(struct machine *m, const struct vm_config *c, struct husk_err **err)
{
	struct boot_cpu cpu;
	int r;

	if (c->kernel_path)
		r = load_kernel(m, c, &cpu, err);
	else if (c->flat)
		r = boot_load_flat(&m->gm, c->flat, c->flat_len, c->flat_addr, c->flat_mode, &cpu,
				   err);
	else
		r = husk_err_msg(err, EINVAL, "vm: neither a kernel nor a flat image to boot");
	if (r < 0)
		return r;
	/* vCPU 0 is the bootstrap processor; the others wait for INIT/SIPI in the LAPIC. */
	return boot_set_vcpu(m->k.vcpu[0].fd, &cpu, err);
}

int vm_run(const struct vm_config *c, struct vm_result *res, struct husk_err **err)
{
	uint64_t t0 = now_ns(), first;
	struct machine *m = xcalloc(1, sizeof(*m));
	int r;

	memset(res, 0, sizeof(*res));
	m->stop_fd = c->stop_fd;
	r = build(m, c, err);
	if (r == 0)
		r = boot(m, c, err);
	if (r == 0 && c->stop_fd >= 0)
		r = event_add(m->l, c->stop_fd, EPOLLIN, on_stop_fd, m, err);
	if (r == 0)
		r = event_loop_start(m->l, err);
	if (r == 0)
		r = kvm_start(&m->k, err);
	if (r < 0) {
		machine_free(m);
		return r;
	}
	res->exit = kvm_wait(&m->k);
	first = atomic_load(&m->k.first_entry_ns);
	res->boot_ns = first > t0 ? first - t0 : 0;
	res->paging = m->k.paging;
	snprintf(res->detail, sizeof(res->detail), "%s", m->k.exit_detail);
	log_debug("vm: ended with %s after %llu us to first entry, %s paging",
		  vm_exit_name(res->exit), (unsigned long long)res->boot_ns / 1000, res->paging);
	machine_free(m);
	return 0;
}
