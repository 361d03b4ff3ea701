/* Booting without firmware: the Linux x86 64-bit boot protocol for a bzImage (setup header,
 * boot_params, command line, e820 map, initrd, identity page tables, GDT, long-mode entry),
 * and flat binaries at a given address for tiny test guests. */
#pragma once

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vm/guestmem.h"

/* Low memory the loader uses (all below the 640 KiB mark, RAM in the e820 map: Linux copies
 * boot_params and replaces the page tables early). 0x9FC00-0xFFFFF is reserved (EBDA, the
 * BIOS area holding the ACPI tables). */
#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_ZEROPAGE_ADDR 0x7000ULL
#define BOOT_PML4_ADDR 0x9000ULL
#define BOOT_PDPT_ADDR 0xA000ULL
#define BOOT_PD_ADDR 0xB000ULL		/* four pages: 4 GiB of 2 MiB pages */
#define BOOT_STACK_ADDR 0x8FF0ULL	/* below the PML4, above the zero page */
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_CMDLINE_MAX 4096
#define BOOT_EBDA_START 0x9FC00ULL
#define BOOT_HIGH_START 0x100000ULL	/* 1 MiB: the protected-mode kernel */

/* GDT selectors: Linux's boot protocol wants __BOOT_CS 0x10 and __BOOT_DS 0x18. */
#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10
#define BOOT_SEL_DATA 0x18

enum boot_mode { BOOT_MODE_REAL, BOOT_MODE_PROT32, BOOT_MODE_LONG64 };

/* The boot vCPU's initial state. */
struct boot_cpu {
	enum boot_mode mode;
	uint64_t rip, rsi, rsp;
	uint16_t real_cs;	/* real mode: CS selector (base = selector << 4) */
};

/* What the setup header of a bzImage says. */
struct boot_kernel {
	uint16_t version;	/* protocol, 0x020c = 2.12 */
	size_t setup_size;	/* bytes before the protected-mode kernel */
	size_t hdr_end;		/* end offset of the setup header in the image */
	uint64_t load_addr;	/* where the protected-mode kernel goes */
	uint64_t init_size;	/* memory it needs from load_addr while decompressing */
	uint32_t initrd_max;	/* highest address an initrd byte may have */
	uint32_t cmdline_max;	/* longest command line, without the NUL */
};

/* Check the setup header ("HdrS", protocol >= 2.12, XLF_KERNEL_64) and pick the load
 * address: pref_address when relocatable and it fits below ram_end, else 1 MiB. */
int boot_parse_kernel(const uint8_t *img, size_t len, uint64_t ram_end, struct boot_kernel *bk,
		      struct husk_err **err);

/* The e820 map of gm plus the reserved low area; returns the number of entries. */
unsigned boot_e820(const struct guestmem *gm, struct boot_e820_entry *e, unsigned max);

/* Fill the zero page: the image's setup header, loader fields, command line pointer,
 * initrd, e820 map and the RSDP address (0: none). */
void boot_fill_params(struct boot_params *bp, const uint8_t *img, const struct boot_kernel *bk,
		      const struct guestmem *gm, uint64_t initrd_addr, uint64_t initrd_len,
		      uint64_t rsdp);

/* Where an initrd of len bytes goes: as high as it may be, page aligned, above the kernel.
 * Returns 0 when it does not fit. */
uint64_t boot_initrd_addr(const struct boot_kernel *bk, const struct guestmem *gm, uint64_t len);

struct boot_linux {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;	/* may be NULL */
	size_t initrd_len;
	const char *cmdline;
	uint64_t rsdp;		/* guest address of the ACPI RSDP, 0 for none */
};

/* Load everything into guest memory and say how vCPU 0 starts. */
int boot_load_linux(const struct guestmem *gm, const struct boot_linux *bl, struct boot_cpu *cpu,
		    struct husk_err **err);

/* Copy a flat binary to `addr` and set cpu up to run it in `mode` (page tables and GDT are
 * written for the 32- and 64-bit modes). Real mode needs addr 16-byte aligned below 1 MiB. */
int boot_load_flat(const struct guestmem *gm, const void *img, size_t len, uint64_t addr,
		   enum boot_mode mode, struct boot_cpu *cpu, struct husk_err **err);

/* Set vCPU fd's registers and segment state from cpu. */
int boot_set_vcpu(int vcpu_fd, const struct boot_cpu *cpu, struct husk_err **err);
