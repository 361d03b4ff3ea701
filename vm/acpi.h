/* ACPI tables for a firmware-less guest (RSDP, XSDT, FADT, FACS, MADT, DSDT written with a tiny
 * AML emitter) and the PM1a registers through which the guest powers off (S5). The MADT is
 * what gives a Linux guest its secondary CPUs: distro kernels carry no MP-table support. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/guestmem.h"

struct vm_kvm;

/* Tables live in the reserved BIOS area, where Linux would also scan for the RSDP. */
#define ACPI_BASE 0xE0000ULL
#define ACPI_SIZE 0x10000ULL
#define ACPI_RSDP_ADDR ACPI_BASE

#define ACPI_PM1A_EVT_PORT 0x600	/* 4 bytes: status, enable */
#define ACPI_PM1A_CNT_PORT 0x604	/* 2 bytes: control */
#define ACPI_SCI_IRQ 9
#define ACPI_S5_TYP 5			/* SLP_TYPa of \_S5 */
#define ACPI_IOAPIC_ADDR 0xFEC00000U
#define ACPI_LAPIC_ADDR 0xFEE00000U

struct acpi_config {
	unsigned ncpus;
	bool com1;		/* describe the 8250 at 0x3F8, IRQ 4 */
	bool i8042;		/* set the FADT 8042 flag so Linux probes the controller */
};

/* Build every table into buf (cap bytes, to be placed at guest address `base`); the RSDP is at
 * offset 0. Returns the bytes used or -ENOSPC. */
long acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_config *c);
/* Build at ACPI_BASE in guest memory; *rsdp gets the RSDP's guest address. */
int acpi_write(const struct guestmem *gm, const struct acpi_config *c, uint64_t *rsdp,
	       struct husk_err **err);
/* The byte that makes a table's bytes sum to zero. */
uint8_t acpi_checksum(const void *p, size_t len);

/* ---- AML: a growable buffer of encoded terms ---- */
struct aml {
	uint8_t *b;
	size_t n, cap;
};

void aml_free(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* An integer with the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_int(struct aml *a, uint64_t v);
/* PkgLength for a body of `body` bytes (the encoding counts itself); returns its size. */
size_t aml_pkglen(uint8_t out[4], size_t body);
/* prefix (1-2 opcode bytes) PkgLength body: ScopeOp, DeviceOp, PackageOp, BufferOp. */
void aml_wrap(struct aml *a, const uint8_t *prefix, size_t plen, const struct aml *body);
/* NameOp: Name(name, value); name is "_HID" or "\\_S5_" (a root prefix is kept). */
void aml_name(struct aml *a, const char *name, const struct aml *value);
/* Package(n) { ints... } */
void aml_package_ints(struct aml *a, const uint64_t *v, unsigned n);
/* EisaId("PNP0A03") as the integer the ASL compiler would emit. */
uint32_t aml_eisaid(const char *id);

/* The PM1a event and control registers on the port bus: a write of SLP_EN with SLP_TYP S5
 * stops the machine with a poweroff. */
struct acpi_pm {
	struct vm_kvm *k;
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
};

int acpi_pm_init(struct acpi_pm *pm, struct vm_kvm *k, struct husk_err **err);
