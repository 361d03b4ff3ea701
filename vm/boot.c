/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) for a bzImage entered at its
 * 64-bit entry point, with no firmware: we play the boot loader, and flat binaries for tiny
 * test guests in real, 32-bit or 64-bit mode. */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/boot.h"
#include "vm/kvm.h"

#define SETUP_HDR_OFF 0x1f1
#define BOOT_FLAG 0xaa55
#define HDRS_MAGIC 0x53726448	/* "HdrS" */
#define PROTO_MIN 0x020c	/* 2.12: xloadflags, the 64-bit entry is announced */
#define ENTRY64_OFF 0x200	/* the 64-bit entry is 512 bytes into the kernel */
#define LOADER_UNDEFINED 0xff

#define E820_RAM 1
#define E820_RESERVED 2

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define PTE_PRESENT_RW 0x3ULL
#define PTE_PS (1ULL << 7)

static const struct setup_header *header_of(const uint8_t *img)
{
	return (const struct setup_header *)(img + SETUP_HDR_OFF);
}

static int pick_load_addr(const struct setup_header *h, uint64_t need, uint64_t ram_end,
			  struct boot_kernel *bk, struct husk_err **err)
{
	uint64_t pref = h->pref_address;

	if (h->relocatable_kernel && pref >= BOOT_HIGH_START && pref + need <= ram_end)
		bk->load_addr = pref;
	else
		bk->load_addr = BOOT_HIGH_START;
	if (bk->load_addr + need > ram_end)
		return husk_err_msg(err, ENOMEM,
				    "boot: the kernel needs %llu MiB from 1 MiB; give the VM more "
				    "memory",
				    (unsigned long long)(need >> 20) + 1);
	return 0;
}

int boot_parse_kernel(const uint8_t *img, size_t len, uint64_t ram_end, struct boot_kernel *bk,
		      struct husk_err **err)
{
	const struct setup_header *h;
	unsigned sects;

	memset(bk, 0, sizeof(*bk));
	if (len < SETUP_HDR_OFF + sizeof(*h))
		return husk_err_msg(err, ENOEXEC, "boot: kernel image too short for a bzImage");
	h = header_of(img);
	if (h->boot_flag != BOOT_FLAG || h->header != HDRS_MAGIC)
		return husk_err_msg(err, ENOEXEC, "boot: not a bzImage (no `HdrS` setup header)");
	if (h->version < PROTO_MIN)
		return husk_err_msg(err, ENOEXEC, "boot: boot protocol %u.%02u, need 2.12",
				    h->version >> 8, h->version & 0xff);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return husk_err_msg(err, ENOEXEC, "boot: the kernel has no 64-bit entry point");
	sects = h->setup_sects ? h->setup_sects : 4;
	bk->version = h->version;
	bk->setup_size = (size_t)(sects + 1) * 512;
	/* The header ends at 0x202 plus the byte at 0x201 (the jump's offset). */
	bk->hdr_end = 0x202 + img[0x201];
	if (bk->setup_size >= len || bk->hdr_end > sizeof(struct boot_params))
		return husk_err_msg(err, ENOEXEC, "boot: setup header out of range");
	bk->init_size = h->init_size;
	if (bk->init_size < len - bk->setup_size)
		bk->init_size = len - bk->setup_size;
	bk->initrd_max = h->initrd_addr_max ? h->initrd_addr_max : 0x37ffffff;
	bk->cmdline_max = h->cmdline_size ? h->cmdline_size : 255;
	return pick_load_addr(h, bk->init_size, ram_end, bk, err);
}

static unsigned e820_add(struct boot_e820_entry *e, unsigned n, unsigned max, uint64_t addr,
			 uint64_t end, uint32_t type)
{
	if (end <= addr || n >= max)
		return n;
	e[n] = (struct boot_e820_entry){ .addr = addr, .size = end - addr, .type = type };
	return n + 1;
}

unsigned boot_e820(const struct guestmem *gm, struct boot_e820_entry *e, unsigned max)
{
	uint64_t low_end = gm->nregions ? gm->r[0].size : 0;
	unsigned n = 0;

	n = e820_add(e, n, max, 0, low_end < BOOT_EBDA_START ? low_end : BOOT_EBDA_START, E820_RAM);
	/* The EBDA and BIOS area stay reserved whatever RAM backs them: the ACPI tables live
	 * there and Linux looks for the RSDP in it. */
	n = e820_add(e, n, max, BOOT_EBDA_START, BOOT_HIGH_START, E820_RESERVED);
	n = e820_add(e, n, max, BOOT_HIGH_START, low_end, E820_RAM);
	for (unsigned i = 1; i < gm->nregions; i++)
		n = e820_add(e, n, max, gm->r[i].gpa, gm->r[i].gpa + gm->r[i].size, E820_RAM);
	return n;
}

void boot_fill_params(struct boot_params *bp, const uint8_t *img, const struct boot_kernel *bk,
		      const struct guestmem *gm, uint64_t initrd_addr, uint64_t initrd_len,
		      uint64_t rsdp)
{
	struct setup_header *h = &bp->hdr;

	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + SETUP_HDR_OFF, img + SETUP_HDR_OFF, bk->hdr_end - SETUP_HDR_OFF);
	h->type_of_loader = LOADER_UNDEFINED;
	h->loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	h->heap_end_ptr = 0xfe00;
	h->vid_mode = 0xffff;	/* "normal" */
	h->code32_start = (uint32_t)bk->load_addr;
	h->cmd_line_ptr = (uint32_t)BOOT_CMDLINE_ADDR;
	h->ramdisk_image = (uint32_t)initrd_addr;
	h->ramdisk_size = (uint32_t)initrd_len;
	bp->acpi_rsdp_addr = rsdp;
	bp->e820_entries = (uint8_t)boot_e820(gm, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
}

uint64_t boot_initrd_addr(const struct boot_kernel *bk, const struct guestmem *gm, uint64_t len)
{
	uint64_t top = gm->r[0].size, floor = bk->load_addr + bk->init_size, addr;

	if ((uint64_t)bk->initrd_max + 1 < top)
		top = (uint64_t)bk->initrd_max + 1;
	if (len > top)
		return 0;
	addr = (top - len) & ~0xfffULL;
	return addr >= floor ? addr : 0;
}

static int put(const struct guestmem *gm, uint64_t gpa, const void *src, size_t len,
	       const char *what, struct husk_err **err)
{
	if (guestmem_write(gm, gpa, src, len) < 0)
		return husk_err_msg(err, ENOMEM, "boot: %s (%zu bytes at %#llx) is outside RAM",
				    what, len, (unsigned long long)gpa);
	return 0;
}

/* Identity-map the first 4 GiB with 2 MiB pages (every x86-64 CPU has them). */
static int write_page_tables(const struct guestmem *gm, struct husk_err **err)
{
	uint64_t pml4[512] = { BOOT_PDPT_ADDR | PTE_PRESENT_RW }, pdpt[512] = { 0 }, pd[512];

	for (uint64_t i = 0; i < 4; i++) {
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | PTE_PRESENT_RW;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i << 30) | (j << 21)) | PTE_PRESENT_RW | PTE_PS;
		if (put(gm, BOOT_PD_ADDR + i * 4096, pd, sizeof(pd), "page directory", err) < 0)
			return -ENOMEM;
	}
	if (put(gm, BOOT_PML4_ADDR, pml4, sizeof(pml4), "PML4", err) < 0 ||
	    put(gm, BOOT_PDPT_ADDR, pdpt, sizeof(pdpt), "PDPT", err) < 0)
		return -ENOMEM;
	return 0;
}

static int write_gdt(const struct guestmem *gm, struct husk_err **err)
{
	/* Flat 4 GiB segments: null, code32, code64 (L), data. */
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL,
		0x00af9b000000ffffULL,
		0x00cf93000000ffffULL,
	};

	return put(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt), "GDT", err);
}

int boot_load_linux(const struct guestmem *gm, const struct boot_linux *bl, struct boot_cpu *cpu,
		    struct husk_err **err)
{
	struct boot_kernel bk;
	struct boot_params bp;
	uint64_t initrd = 0;
	size_t clen = strlen(bl->cmdline ? bl->cmdline : "");

	if (gm->nregions == 0)
		return husk_err_msg(err, ENOMEM, "boot: no guest RAM");
	if (boot_parse_kernel(bl->kernel, bl->kernel_len, gm->r[0].size, &bk, err) < 0)
		return -(*err)->code;
	if (clen > bk.cmdline_max || clen >= BOOT_CMDLINE_MAX)
		return husk_err_msg(err, E2BIG, "boot: command line longer than %u bytes",
				    bk.cmdline_max);
	if (bl->initrd_len) {
		initrd = boot_initrd_addr(&bk, gm, bl->initrd_len);
		if (!initrd)
			return husk_err_msg(err, ENOMEM, "boot: no room for a %zu-byte initrd",
					    bl->initrd_len);
		if (put(gm, initrd, bl->initrd, bl->initrd_len, "initrd", err) < 0)
			return -ENOMEM;
	}
	if (put(gm, bk.load_addr, bl->kernel + bk.setup_size, bl->kernel_len - bk.setup_size,
		"kernel", err) < 0 ||
	    put(gm, BOOT_CMDLINE_ADDR, bl->cmdline ? bl->cmdline : "", clen + 1, "cmdline", err) <
		    0)
		return -ENOMEM;
	boot_fill_params(&bp, bl->kernel, &bk, gm, initrd, bl->initrd_len, bl->rsdp);
	if (put(gm, BOOT_ZEROPAGE_ADDR, &bp, sizeof(bp), "boot_params", err) < 0 ||
	    write_page_tables(gm, err) < 0 || write_gdt(gm, err) < 0)
		return -ENOMEM;
	log_debug("boot: protocol %u.%02u, kernel at %#llx, initrd at %#llx (%zu bytes)",
		  bk.version >> 8, bk.version & 0xff, (unsigned long long)bk.load_addr,
		  (unsigned long long)initrd, bl->initrd_len);
	/* The protocol asks for no stack, but a valid one costs nothing: an early push on rsp 0
	 * would triple-fault with nothing on the console. */
	*cpu = (struct boot_cpu){ .mode = BOOT_MODE_LONG64,
				  .rip = bk.load_addr + ENTRY64_OFF,
				  .rsi = BOOT_ZEROPAGE_ADDR,
				  .rsp = BOOT_STACK_ADDR };
	return 0;
}

int boot_load_flat(const struct guestmem *gm, const void *img, size_t len, uint64_t addr,
		   enum boot_mode mode, struct boot_cpu *cpu, struct husk_err **err)
{
	*cpu = (struct boot_cpu){ .mode = mode, .rip = addr, .rsp = BOOT_STACK_ADDR };
	if (mode == BOOT_MODE_REAL) {
		if (addr % 16 || addr + len > BOOT_HIGH_START)
			return husk_err_msg(err, EINVAL,
					    "boot: real-mode image at %#llx must be 16-byte "
					    "aligned below 1 MiB",
					    (unsigned long long)addr);
		cpu->real_cs = (uint16_t)(addr >> 4);
		cpu->rip = 0;
	} else if (write_gdt(gm, err) < 0 || write_page_tables(gm, err) < 0) {
		return -ENOMEM;
	}
	return put(gm, addr, img, len, "flat image", err);
}

/* ---- the boot vCPU's registers ---- */

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .s = 1, .db = code64 ? 0 : 1, .l = code64, .g = 1,
	};
}

static void set_sregs(struct kvm_sregs *s, const struct boot_cpu *cpu)
{
	struct kvm_segment data = flat_seg(BOOT_SEL_DATA, 0x3, false);

	if (cpu->mode == BOOT_MODE_REAL) {
		s->cs.selector = cpu->real_cs;
		s->cs.base = (uint64_t)cpu->real_cs << 4;
		return;
	}
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = 4 * 8 - 1;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->cr0 = (s->cr0 & ~(CR0_CD | CR0_NW)) | CR0_PE | CR0_ET;
	if (cpu->mode == BOOT_MODE_PROT32) {
		s->cs = flat_seg(BOOT_SEL_CODE32, 0xb, false);
		return;
	}
	s->cs = flat_seg(BOOT_SEL_CODE64, 0xb, true);
	s->cr3 = BOOT_PML4_ADDR;
	s->cr4 |= CR4_PAE;
	s->cr0 |= CR0_PG;
	s->efer |= EFER_LME | EFER_LMA;
}

int boot_set_vcpu(int vcpu_fd, const struct boot_cpu *cpu, struct husk_err **err)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = cpu->rip, .rsi = cpu->rsi, .rsp = cpu->rsp, .rflags = 2 };

	if (VM_IOCTL(vcpu_fd, KVM_GET_SREGS, &s, err) < 0)
		return -(*err)->code;
	set_sregs(&s, cpu);
	if (VM_IOCTL(vcpu_fd, KVM_SET_SREGS, &s, err) < 0 ||
	    VM_IOCTL(vcpu_fd, KVM_SET_REGS, &r, err) < 0)
		return husk_err_wrap(err, "boot: set the boot vCPU's registers");
	return 0;
}
