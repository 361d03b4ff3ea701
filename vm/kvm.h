/* The KVM machine: the VM and vCPU file descriptors, guest memory slots, the in-kernel
 * irqchip and PIT, CPUID and boot MSRs, one KVM_RUN thread per vCPU dispatching exits to the
 * port-I/O and MMIO buses, and how the machine ended. */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "common/error.h"
#include "vm/bus.h"
#include "vm/guestmem.h"

/* Every KVM ioctl goes through VM_IOCTL: for a request with a struct argument the assert
 * fails the build when argp points at the wrong type. `fd` is the KVM, VM or vCPU fd. Returns
 * the ioctl's result (>= 0) or -errno with *err naming the request. */
#define VM_IOCTL(fd, req, argp, err)                                                               \
	({                                                                                         \
		_Static_assert(sizeof(*(argp)) == _IOC_SIZE(req), #req);                           \
		kvm_ioctl((fd), (req), (unsigned long)(argp), #req, (err));                        \
	})
/* For the few requests whose argument is a plain value (KVM_CREATE_VCPU, KVM_RUN...). */
#define VM_IOCTL_VAL(fd, req, val, err) kvm_ioctl((fd), (req), (unsigned long)(val), #req, (err))

int kvm_ioctl(int fd, unsigned long req, unsigned long arg, const char *name,
	      struct husk_err **err);

#define VM_MAX_VCPUS 32
#define VM_MAX_GSI 256

/* How the machine ended. */
enum vm_exit {
	VM_EXIT_NONE,		/* still running */
	VM_EXIT_POWEROFF,	/* ACPI S5 or KVM_SYSTEM_EVENT_SHUTDOWN */
	VM_EXIT_RESET,		/* i8042 reset, KVM_SYSTEM_EVENT_RESET */
	VM_EXIT_SHUTDOWN,	/* triple fault (KVM_EXIT_SHUTDOWN) */
	VM_EXIT_HLT,		/* HLT without an in-kernel irqchip (tiny test guests) */
	VM_EXIT_PANIC,		/* KVM_SYSTEM_EVENT_CRASH */
	VM_EXIT_INTERNAL,	/* KVM_EXIT_INTERNAL_ERROR, FAIL_ENTRY, unknown exits */
	VM_EXIT_HOST,		/* the host asked (kvm_stop from outside) or a host error */
};

const char *vm_exit_name(enum vm_exit e);

struct vm_kvm;

struct vm_vcpu {
	struct vm_kvm *k;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm_kvm {
	int kvm_fd, vm_fd;
	size_t run_size;	/* KVM_GET_VCPU_MMAP_SIZE */
	const struct guestmem *gm;
	bool irqchip;		/* in-kernel IOAPIC/PIC/LAPIC and PIT */
	struct bus pio, mmio;
	unsigned ncpus;
	struct vm_vcpu vcpu[VM_MAX_VCPUS];

	/* GSI routing: the irqchip pins, then MSI routes; guarded by lock. */
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry routes[VM_MAX_GSI + 24 * 3];
	unsigned nroutes;
	uint32_t msi_used[VM_MAX_GSI / 32];	/* bitmap of allocated MSI GSIs */

	_Atomic int exit;	/* enum vm_exit; the first stop wins */
	char exit_detail[160];	/* set with exit under lock */
	_Atomic uint64_t first_entry_ns;	/* CLOCK_MONOTONIC of the first KVM_RUN */
	const char *paging;	/* "ept", "npt", "shadow" or "unknown" */
};

/* Open /dev/kvm, create the VM and, when `irqchip`, the in-kernel irqchip and PIT. */
int kvm_open(struct vm_kvm *k, bool irqchip, struct husk_err **err);
void kvm_close(struct vm_kvm *k);
/* One memory slot per guestmem region; gm must outlive k. */
int kvm_set_memory(struct vm_kvm *k, const struct guestmem *gm, struct husk_err **err);
/* Create vCPUs 0..n-1 with their kvm_run mapping, CPUID and boot MSRs. */
int kvm_create_vcpus(struct vm_kvm *k, unsigned n, struct husk_err **err);
/* Start one KVM_RUN thread per vCPU. */
int kvm_start(struct vm_kvm *k, struct husk_err **err);
/* Stop every vCPU (callable from any thread, a vCPU's included); the first reason wins.
 * detail may be NULL. */
void kvm_stop(struct vm_kvm *k, enum vm_exit why, const char *detail);
/* Join the vCPU threads; returns the reason the machine stopped. */
enum vm_exit kvm_wait(struct vm_kvm *k);

/* How guest memory is translated: "ept"/"npt" (two-dimensional paging), "shadow", or
 * "unknown" when neither kvm_intel nor kvm_amd is loaded. sysfs is the module parameter root
 * (normally "/sys/module"), a parameter for tests. */
const char *kvm_paging_mode(const char *sysfs);

/* CPUID entries for vCPU `id` of `ncpus`, filtered from KVM_GET_SUPPORTED_CPUID (exposed for
 * unit tests): APIC id in leaf 1 and 0xB, the hypervisor bit, the KVM signature leaf. */
void kvm_cpuid_fixup(struct kvm_cpuid_entry2 *e, unsigned n, unsigned id, unsigned ncpus);
