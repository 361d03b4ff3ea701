/* Interrupt delivery for devices, implemented by kvm.c: legacy IOAPIC lines
 * (serial) and MSI messages routed through KVM GSI routing to an irqfd, so a
 * device raises an interrupt by writing an eventfd without a vCPU exit. */
#pragma once

#include <stdint.h>

#include "common/error.h"

struct vm_kvm;

/* Raise (level 1) / lower (0) IOAPIC pin `line` (KVM_IRQ_LINE). */
int irq_line(struct vm_kvm *k, uint32_t line, int level);

/* Allocate a GSI routed to the MSI message (addr, data) and an eventfd
 * bound to it with KVM_IRQFD; *efd is written to inject. */
int irq_msi_alloc(struct vm_kvm *k, uint64_t addr, uint32_t data, uint32_t *gsi, int *efd,
		  struct husk_err **err);
/* Re-route an allocated GSI (the guest reprogrammed the MSI-X entry). */
int irq_msi_update(struct vm_kvm *k, uint32_t gsi, uint64_t addr, uint32_t data,
		   struct husk_err **err);
void irq_msi_free(struct vm_kvm *k, uint32_t gsi, int efd);

/* Register an ioeventfd: a guest write to MMIO [addr, addr+len) (optionally
 * only of value `datamatch` when match is non-zero) signals efd without a
 * vCPU exit. */
int irq_ioeventfd(struct vm_kvm *k, uint64_t addr, uint32_t len, int match, uint64_t datamatch,
		  int efd, struct husk_err **err);
int irq_ioeventfd_del(struct vm_kvm *k, uint64_t addr, uint32_t len, int match,
		      uint64_t datamatch, int efd);
