/* vm_run: put a microVM together from a config (guest RAM, KVM irqchip and PIT, serial, i8042,
 * RTC, ACPI, the PCI host bridge with virtio-pci devices, the event thread), boot it, run its
 * vCPUs and say how it ended. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/boot.h"
#include "vm/kvm.h"
#include "vm/virtio/devices.h"

struct vm_disk {
	const char *path;
	bool ro;
};

struct vm_config {
	const char *kernel_path;	/* a bzImage; NULL with `flat` set */
	const char *initrd_path;	/* NULL for none */
	const void *initrd;		/* an in-memory initrd; wins over initrd_path */
	size_t initrd_len;
	const char *cmdline;
	uint64_t mem_bytes;		/* a multiple of 4 KiB */
	unsigned cpus;
	int serial_out_fd;		/* the guest's COM1 output; -1 discards it */
	int serial_in_fd;		/* input to COM1; -1 for none */
	int stop_fd;			/* readable: stop the VM (VM_EXIT_HOST); -1 for none */

	const struct vm_disk *disks;
	unsigned ndisks;
	const struct virtio_console_port *ports;	/* one virtio-console with these ports */
	unsigned nports;
	int tap_fd;			/* -1: no virtio-net */
	uint8_t mac[6];
	bool rng;

	/* Machines without a kernel, for tests: a flat image loaded at flat_addr, started in
	 * flat_mode. no_irqchip leaves out the in-kernel irqchip and PIT so that HLT exits to
	 * the VMM and ends the VM. */
	const void *flat;
	size_t flat_len;
	uint64_t flat_addr;
	enum boot_mode flat_mode;
	bool no_irqchip;
};

/* A config with every fd set to -1 and one vCPU. */
void vm_config_init(struct vm_config *c);

struct vm_result {
	enum vm_exit exit;
	char detail[160];	/* e.g. the KVM internal error */
	uint64_t boot_ns;	/* vm_run's start to the first vCPU entry */
	const char *paging;	/* "ept", "npt", "shadow" or "unknown" */
};

/* Build, boot and run the machine until it stops. Returns 0 with *res filled whatever way the
 * guest ended; -errno when the machine could not be built. */
int vm_run(const struct vm_config *c, struct vm_result *res, struct husk_err **err);
