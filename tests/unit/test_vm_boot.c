/* vm: the pure logic of the machine, without /dev/kvm: guest RAM layout and bounds, bus
 * dispatch, e820 and boot_params from a fake bzImage header, ACPI tables and AML encoding,
 * CPUID fixups, the paging report, and the legacy devices' registers driven through the bus. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "tap.h"
#include "vm/acpi.h"
#include "vm/boot.h"
#include "vm/event.h"
#include "vm/kvm.h"
#include "vm/legacy.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* ---- guest RAM and the bus ---- */

static int test_guestmem_split(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct guestmem gm;

	CHECK(guestmem_init(&gm, 4 * GiB, &err) == 0);
	CHECK(gm.nregions == 2 && gm.r[0].gpa == 0 && gm.r[0].size == 3 * GiB);
	CHECK(gm.r[1].gpa == 4 * GiB && gm.r[1].size == GiB);
	CHECK(guestmem_ptr(&gm, 3 * GiB - 8, 8) == gm.base + 3 * GiB - 8);
	CHECK(guestmem_ptr(&gm, 3 * GiB - 8, 9) == NULL);	/* runs into the hole */
	CHECK(guestmem_ptr(&gm, 3 * GiB, 1) == NULL);
	CHECK(guestmem_ptr(&gm, 4 * GiB, 16) == gm.base + 3 * GiB);
	CHECK(guestmem_ptr(&gm, 5 * GiB - 1, 2) == NULL);
	CHECK(guestmem_ptr(&gm, UINT64_MAX, 2) == NULL);	/* would wrap */
	CHECK(guestmem_ptr(&gm, 16, UINT64_MAX) == NULL);
	guestmem_free(&gm);
	CHECK(guestmem_init(&gm, 4097, &err) == -EINVAL);
	return 0;
}

static void fake_dev(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint64_t *last = dev;

	*last = off;
	if (!is_write)
		memset(data, 0x5a, len);
}

static int test_bus(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct bus b;
	uint64_t a = 0, c = 0;
	uint8_t d[4];

	bus_init(&b);
	CHECK(bus_add(&b, 0x100, 0x10, fake_dev, &a, "a", &err) == 0);
	CHECK(bus_add(&b, 0x50, 0x10, fake_dev, &c, "c", &err) == 0);
	CHECK(bus_add(&b, 0x10f, 1, fake_dev, &c, "overlap", &err) == -EEXIST);
	CHECK(bus_access(&b, 0x10c, d, 4, false) && a == 0xc && d[0] == 0x5a);
	CHECK(bus_access(&b, 0x55, d, 1, true) && c == 5);
	CHECK(!bus_access(&b, 0x110, d, 4, false) && d[0] == 0xff && d[3] == 0xff);
	CHECK(bus_move(&b, &a, 0x100, 0x55) == -EEXIST);	/* onto c */
	CHECK(bus_move(&b, &a, 0x100, 0x200) == 0);
	CHECK(!bus_access(&b, 0x100, d, 1, false));
	CHECK(bus_access(&b, 0x201, d, 1, false) && a == 1);
	bus_del(&b, &a, 0x200);
	CHECK(!bus_access(&b, 0x201, d, 1, false));
	bus_destroy(&b);
	return 0;
}

/* ---- the boot protocol ---- */

#define FAKE_LEN (64 * 1024)

/* A bzImage-shaped buffer: 4 setup sectors, then "kernel" bytes. */
static uint8_t *fake_bzimage(uint16_t version, uint16_t xlf)
{
	uint8_t *img = xcalloc(1, FAKE_LEN);
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);

	h->setup_sects = 4;
	h->boot_flag = 0xaa55;
	h->header = 0x53726448;
	h->version = version;
	h->xloadflags = xlf;
	h->relocatable_kernel = 1;
	h->pref_address = 16 * MiB;
	h->init_size = 8 * MiB;
	h->initrd_addr_max = 0x7fffffff;
	h->cmdline_size = 2047;
	img[0x201] = 0x6a;	/* header runs to 0x26c */
	img[5 * 512] = 0xc3;	/* first byte of the protected-mode kernel */
	return img;
}

static int test_parse_kernel(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free uint8_t *img = fake_bzimage(0x020f, XLF_KERNEL_64);
	cleanup_free uint8_t *old = fake_bzimage(0x020a, XLF_KERNEL_64);
	cleanup_free uint8_t *k32 = fake_bzimage(0x020f, 0);
	struct boot_kernel bk;

	CHECK(boot_parse_kernel(img, FAKE_LEN, 64 * MiB, &bk, &err) == 0);
	CHECK(bk.load_addr == 16 * MiB && bk.setup_size == 5 * 512 && bk.hdr_end == 0x26c);
	CHECK(bk.init_size == 8 * MiB && bk.cmdline_max == 2047);
	/* pref_address + init_size beyond RAM: back to 1 MiB */
	CHECK(boot_parse_kernel(img, FAKE_LEN, 20 * MiB, &bk, &err) == 0);
	CHECK(bk.load_addr == MiB);
	CHECK(boot_parse_kernel(img, FAKE_LEN, 8 * MiB, &bk, &err) == -ENOMEM);
	husk_err_free(TAKE_PTR(err));
	CHECK(boot_parse_kernel(old, FAKE_LEN, 64 * MiB, &bk, &err) == -ENOEXEC);
	CHECK_CONTAINS(err->msg, "need 2.12");
	husk_err_free(TAKE_PTR(err));
	CHECK(boot_parse_kernel(k32, FAKE_LEN, 64 * MiB, &bk, &err) == -ENOEXEC);
	husk_err_free(TAKE_PTR(err));
	img[0x202] = 'X';
	CHECK(boot_parse_kernel(img, FAKE_LEN, 64 * MiB, &bk, &err) == -ENOEXEC);
	CHECK_CONTAINS(err->msg, "HdrS");
	return 0;
}

static int test_e820(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct boot_e820_entry e[8];
	struct guestmem gm;

	CHECK(guestmem_init(&gm, 64 * MiB, &err) == 0);
	CHECK(boot_e820(&gm, e, 8) == 3);
	CHECK(e[0].addr == 0 && e[0].size == 0x9fc00 && e[0].type == 1);
	CHECK(e[1].addr == 0x9fc00 && e[1].size == 0x60400 && e[1].type == 2);
	CHECK(e[2].addr == MiB && e[2].size == 63 * MiB && e[2].type == 1);
	guestmem_free(&gm);
	CHECK(guestmem_init(&gm, 4 * GiB, &err) == 0);
	CHECK(boot_e820(&gm, e, 8) == 4);
	CHECK(e[2].addr + e[2].size == 3 * GiB);
	CHECK(e[3].addr == 4 * GiB && e[3].size == GiB && e[3].type == 1);
	CHECK(boot_e820(&gm, e, 2) == 2);
	guestmem_free(&gm);
	return 0;
}

static int test_boot_params(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free uint8_t *img = fake_bzimage(0x020f, XLF_KERNEL_64);
	cleanup_free struct boot_params *bp = xcalloc(1, sizeof(*bp));
	struct boot_kernel bk;
	struct guestmem gm;
	uint64_t initrd;

	CHECK(guestmem_init(&gm, 64 * MiB, &err) == 0);
	CHECK(boot_parse_kernel(img, FAKE_LEN, 64 * MiB, &bk, &err) == 0);
	initrd = boot_initrd_addr(&bk, &gm, 3 * MiB + 5);
	CHECK(initrd == (61 * MiB - 4096) && initrd % 4096 == 0);
	CHECK(boot_initrd_addr(&bk, &gm, 41 * MiB) == 0);	/* would overlap the kernel */
	boot_fill_params(bp, img, &bk, &gm, initrd, 3 * MiB + 5, 0xe0000);
	CHECK(bp->hdr.header == 0x53726448 && bp->hdr.version == 0x020f);
	CHECK(bp->hdr.pref_address == 16 * MiB && bp->hdr.init_size == 8 * MiB);
	CHECK(bp->hdr.type_of_loader == 0xff && (bp->hdr.loadflags & LOADED_HIGH));
	CHECK((bp->hdr.loadflags & CAN_USE_HEAP) && bp->hdr.heap_end_ptr == 0xfe00);
	CHECK(bp->hdr.cmd_line_ptr == BOOT_CMDLINE_ADDR && bp->hdr.code32_start == 16 * MiB);
	CHECK(bp->hdr.ramdisk_image == initrd && bp->hdr.ramdisk_size == 3 * MiB + 5);
	CHECK(bp->e820_entries == 3 && bp->acpi_rsdp_addr == 0xe0000);
	guestmem_free(&gm);
	return 0;
}

static int test_load_linux(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free uint8_t *img = fake_bzimage(0x020f, XLF_KERNEL_64);
	struct boot_linux bl = { .kernel = img, .kernel_len = FAKE_LEN, .cmdline = "console=ttyS0" };
	struct boot_params *bp;
	struct boot_cpu cpu;
	struct guestmem gm;
	uint64_t *pd;

	CHECK(guestmem_init(&gm, 64 * MiB, &err) == 0);
	CHECK(boot_load_linux(&gm, &bl, &cpu, &err) == 0);
	CHECK(cpu.mode == BOOT_MODE_LONG64 && cpu.rip == 16 * MiB + 0x200);
	CHECK(cpu.rsi == BOOT_ZEROPAGE_ADDR && cpu.rsp == BOOT_STACK_ADDR);
	CHECK(*(uint8_t *)guestmem_ptr(&gm, 16 * MiB, 1) == 0xc3);
	CHECK_STREQ((char *)guestmem_ptr(&gm, BOOT_CMDLINE_ADDR, 14), "console=ttyS0");
	bp = guestmem_ptr(&gm, BOOT_ZEROPAGE_ADDR, sizeof(*bp));
	CHECK(bp->hdr.ramdisk_image == 0 && bp->e820_entries == 3);
	pd = guestmem_ptr(&gm, BOOT_PD_ADDR + 4096, 4096);	/* the second GiB */
	CHECK(pd[1] == (GiB + 2 * MiB) + 0x83);
	bl.cmdline = (const char *)img + 0x300;	/* 2047-byte limit vs. a longer string */
	memset(img + 0x300, 'a', 3000);
	img[0x300 + 3000] = 0;
	CHECK(boot_load_linux(&gm, &bl, &cpu, &err) == -E2BIG);
	guestmem_free(&gm);
	return 0;
}

/* ---- ACPI ---- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool sums_to_zero(const uint8_t *p, size_t len)
{
	return acpi_checksum(p, len) == 0;
}

static bool has(const uint8_t *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s)) != NULL;
}

static int test_acpi_tables(void)
{
	const uint64_t base = ACPI_BASE;
	struct acpi_config c = { .ncpus = 3, .com1 = true };
	cleanup_free uint8_t *buf = xcalloc(1, ACPI_SIZE);
	const uint8_t *xsdt, *fadt, *madt, *dsdt;
	long n = acpi_build(buf, ACPI_SIZE, base, &c);

	CHECK(n > 0);
	CHECK(memcmp(buf, "RSD PTR ", 8) == 0 && buf[15] == 2);
	CHECK(sums_to_zero(buf, 20) && sums_to_zero(buf, 36));
	xsdt = buf + (rd64(buf + 24) - base);
	CHECK(memcmp(xsdt, "XSDT", 4) == 0 && rd32(xsdt + 4) == 36 + 16);
	CHECK(sums_to_zero(xsdt, rd32(xsdt + 4)));
	fadt = buf + (rd64(xsdt + 36) - base);
	madt = buf + (rd64(xsdt + 44) - base);
	CHECK(memcmp(fadt, "FACP", 4) == 0 && rd32(fadt + 4) == 276 && fadt[8] == 6);
	CHECK(sums_to_zero(fadt, 276));
	CHECK(rd32(fadt + 64) == ACPI_PM1A_CNT_PORT && fadt[89] == 2);
	CHECK(memcmp(buf + (rd64(fadt + 132) - base), "FACS", 4) == 0);
	/* header + LAPIC address + flags, 3 local APICs, the IOAPIC, 2 overrides */
	CHECK(memcmp(madt, "APIC", 4) == 0 && rd32(madt + 4) == 44 + 3 * 8 + 12 + 2 * 10);
	CHECK(sums_to_zero(madt, rd32(madt + 4)));
	CHECK(madt[44 + 16] == 0 && madt[44 + 16 + 3] == 2);	/* third LAPIC: APIC id 2 */
	CHECK(rd32(madt + 44 + 24 + 4) == ACPI_IOAPIC_ADDR && rd32(madt + 44 + 24 + 8) == 0);
	CHECK(madt[44 + 4] == 1 && madt[44 + 8 + 4] == 1);	/* the LAPICs are enabled */
	/* IRQ 0 -> GSI 2 (kvm.c routes the PIT there); the SCI level, active high */
	CHECK(madt[80] == 2 && madt[83] == 0 && rd32(madt + 84) == 2 && madt[88] == 0);
	CHECK(madt[93] == ACPI_SCI_IRQ && rd32(madt + 94) == ACPI_SCI_IRQ && madt[98] == 0x0d);
	CHECK(fadt[46] == ACPI_SCI_IRQ && rd32(fadt + 56) == ACPI_PM1A_EVT_PORT && fadt[88] == 4);
	CHECK(fadt[148 + 1] == 32 && fadt[172 + 1] == 16);	/* X_ blocks agree on widths */
	CHECK(!(rd32(fadt + 112) & (1u << 20)));		/* not hardware-reduced */
	dsdt = buf + (rd64(fadt + 140) - base);
	CHECK(rd32(fadt + 40) == rd64(fadt + 140));
	CHECK(memcmp(dsdt, "DSDT", 4) == 0 && sums_to_zero(dsdt, rd32(dsdt + 4)));
	CHECK(dsdt + rd32(dsdt + 4) == buf + n);
	CHECK(has(dsdt, rd32(dsdt + 4), "PCI0") && has(dsdt, rd32(dsdt + 4), "COM1"));
	CHECK(has(dsdt, rd32(dsdt + 4), "\\_S5_"));
	CHECK(acpi_build(buf, 256, base, &c) == -ENOSPC);
	return 0;
}

static int test_aml(void)
{
	static const uint64_t s5[] = { 5, 5, 0, 0 };
	static const uint8_t want[] = { 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	static const uint8_t ints[] = { 0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01,
					0x0c, 0x00, 0x00, 0x00, 0xe0 };
	struct aml a = { 0 };
	uint8_t pl[4];

	aml_package_ints(&a, s5, 4);
	CHECK(a.n == sizeof(want) && memcmp(a.b, want, a.n) == 0);
	aml_free(&a);
	aml_int(&a, 0);
	aml_int(&a, 1);
	aml_int(&a, 0xff);
	aml_int(&a, 0x100);
	aml_int(&a, 0xe0000000);
	CHECK(a.n == sizeof(ints) && memcmp(a.b, ints, a.n) == 0);
	aml_free(&a);
	CHECK(aml_pkglen(pl, 61) == 1 && pl[0] == 62);
	/* 63 bytes of body: 2-byte encoding of 65 (low nibble, then the rest) */
	CHECK(aml_pkglen(pl, 63) == 2 && pl[0] == 0x41 && pl[1] == 0x04);
	CHECK(aml_pkglen(pl, 3000) == 2 && ((pl[1] << 4) | (pl[0] & 0xf)) == 3002);
	CHECK(aml_pkglen(pl, 70000) == 3 && (pl[0] >> 6) == 2);
	CHECK(aml_eisaid("PNP0A03") == 0x030ad041);
	CHECK(aml_eisaid("PNP0501") == 0x0105d041);
	return 0;
}

/* ---- CPUID and the paging report ---- */

static int test_cpuid_fixup(void)
{
	struct kvm_cpuid_entry2 e[] = {
		{ .function = 1, .ebx = 0xaabb1234 },
		{ .function = 0xb, .index = 0 },
		{ .function = 0xb, .index = 1 },
		{ .function = 0xb, .index = 2, .ecx = 0x999 },
		{ .function = 0x40000000 },
	};

	kvm_cpuid_fixup(e, ARRAY_SIZE(e), 2, 3);
	CHECK(e[0].ebx == 0x02031234 && (e[0].ecx & (1u << 31)) && (e[0].edx & (1u << 28)));
	CHECK(e[1].edx == 2 && e[1].ebx == 1 && e[1].ecx == 0x100);
	CHECK(e[2].eax == 2 && e[2].ebx == 3 && e[2].ecx == 0x201);
	CHECK(e[3].ecx == 2 && e[3].ebx == 0);
	CHECK(memcmp(&e[4].ebx, "KVMK", 4) == 0 && memcmp(&e[4].edx, "M\0\0\0", 4) == 0);
	return 0;
}

static int put_param(struct tmpdir *t, const char *mod, const char *param, const char *v)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->path, mod);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/parameters", t->path, mod);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/parameters/%s", t->path, mod, param);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, v, strlen(v)) < 0)
		return -1;
	close(fd);
	return 0;
}

static int test_paging_mode(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();

	CHECK_STREQ(kvm_paging_mode(t->path), "unknown");
	CHECK(put_param(t, "kvm_amd", "npt", "1\n") == 0);
	CHECK_STREQ(kvm_paging_mode(t->path), "npt");
	CHECK(put_param(t, "kvm_intel", "ept", "N\n") == 0);
	CHECK_STREQ(kvm_paging_mode(t->path), "shadow");
	CHECK(put_param(t, "kvm_intel", "ept", "Y\n") == 0);
	CHECK_STREQ(kvm_paging_mode(t->path), "ept");
	printf("# this host: %s\n", kvm_paging_mode("/sys/module"));
	return 0;
}

/* ---- the legacy devices through the port bus, on a VM without KVM ---- */

static struct vm_kvm *fake_vm(void)
{
	struct vm_kvm *k = xcalloc(1, sizeof(*k));

	pthread_mutex_init(&k->lock, NULL);
	bus_init(&k->pio);
	bus_init(&k->mmio);
	return k;
}

static uint8_t in8(struct vm_kvm *k, uint16_t port)
{
	uint8_t v = 0;

	bus_access(&k->pio, port, &v, 1, false);
	return v;
}

static void out8(struct vm_kvm *k, uint16_t port, uint8_t v)
{
	bus_access(&k->pio, port, &v, 1, true);
}

static int test_serial_regs(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct vm_kvm *k = fake_vm();
	struct serial s;
	char got[4] = { 0 };
	static char big[2 * SERIAL_TX_BUF];
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK(serial_init(&s, k, NULL, -1, p[1], &err) == 0);
	out8(k, 0x3f8, 'Z');
	CHECK(read(p[0], got, 1) < 0 && errno == EAGAIN);	/* held until the line ends */
	out8(k, 0x3f8, '\n');
	CHECK(read(p[0], got, 3) == 2 && memcmp(got, "Z\n", 2) == 0);
	CHECK((in8(k, 0x3fd) & 0x60) == 0x60);	/* THRE, TEMT */
	out8(k, 0x3fb, 0x80);			/* DLAB */
	out8(k, 0x3f8, 0x0c);
	out8(k, 0x3f9, 0x00);
	CHECK(in8(k, 0x3f8) == 0x0c);
	out8(k, 0x3fb, 0x03);			/* 8n1, DLAB off: no byte was sent */
	CHECK(in8(k, 0x3f9) == 0);
	out8(k, 0x3fa, 0x01);			/* FIFO on: a 16550A */
	CHECK((in8(k, 0x3fa) & 0xc0) == 0xc0);
	out8(k, 0x3fc, 0x10 | 0x0a);		/* loopback, RTS, OUT2 */
	CHECK((in8(k, 0x3fe) & 0xf0) == 0x90);
	out8(k, 0x3f8, 'L');			/* loops back to RX */
	CHECK((in8(k, 0x3fd) & 1) && in8(k, 0x3f8) == 'L');
	out8(k, 0x3fc, 0);
	out8(k, 0x3ff, 0xa5);
	CHECK(in8(k, 0x3ff) == 0xa5);
	out8(k, 0x3f9, 0x02);			/* THRI: THRE pending at once */
	CHECK((in8(k, 0x3fa) & 0x0f) == 0x02);
	CHECK((in8(k, 0x3fa) & 0x0f) == 0x01);	/* acknowledged by the read */
	for (unsigned i = 0; i < SERIAL_TX_BUF + 1; i++)
		out8(k, 0x3f8, 'x');
	CHECK(read(p[0], big, sizeof(big)) == SERIAL_TX_BUF);	/* a full buffer goes out */
	serial_stop(&s);			/* the end of the VM writes the rest */
	CHECK(read(p[0], got, 3) == 1 && got[0] == 'x');
	close(p[0]);
	close(p[1]);
	return 0;
}

/* With an event loop, a partial line goes out once the guest has been quiet for a while. */
static int test_serial_buffering(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct vm_kvm *k = fake_vm();
	struct event_loop *l = NULL;
	char got[8];
	struct serial s;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK(event_loop_new(&l, &err) == 0);
	CHECK(serial_init(&s, k, l, -1, p[1], &err) == 0);
	CHECK(event_loop_start(l, &err) == 0);
	for (int round = 0; round < 2; round++) {	/* the timer re-arms after it fired */
		out8(k, 0x3f8, 'a');
		out8(k, 0x3f8, '$');
		CHECK(poll(&(struct pollfd){ .fd = p[0], .events = POLLIN }, 1, 2000) == 1);
		CHECK(read(p[0], got, sizeof(got)) == 2 && memcmp(got, "a$", 2) == 0);
	}
	event_loop_stop(l);
	serial_stop(&s);
	event_loop_free(l);
	CHECK(read(p[0], got, sizeof(got)) < 0 && errno == EAGAIN);
	close(p[0]);
	close(p[1]);
	return 0;
}

static int test_i8042(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct vm_kvm *k = fake_vm();
	struct i8042 c;

	CHECK(i8042_init(&c, k, &err) == 0);
	CHECK((in8(k, 0x64) & 1) == 0);
	out8(k, 0x64, 0xaa);
	CHECK((in8(k, 0x64) & 1) == 1 && in8(k, 0x60) == 0x55);
	out8(k, 0x64, 0x60);
	out8(k, 0x60, 0x47);
	out8(k, 0x64, 0x20);
	CHECK(in8(k, 0x60) == 0x47);
	CHECK(k->exit == VM_EXIT_NONE);
	out8(k, 0x64, 0xfe);
	CHECK(k->exit == VM_EXIT_RESET);
	return 0;
}

static time_t fixed_now(void)
{
	return 1709644029;	/* 2024-03-05 13:07:09 UTC, a Tuesday */
}

static int test_rtc(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct vm_kvm *k = fake_vm();
	static const uint8_t want[][2] = { { 0, 0x09 }, { 2, 0x07 }, { 4, 0x13 }, { 6, 0x03 },
					   { 7, 0x05 }, { 8, 0x03 }, { 9, 0x24 }, { 0x32, 0x20 },
					   { 0x0d, 0x80 } };
	struct rtc r;

	CHECK(rtc_init(&r, k, &err) == 0);
	r.now = fixed_now;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		out8(k, 0x70, want[i][0]);
		CHECK(in8(k, 0x71) == want[i][1]);
	}
	out8(k, 0x70, 0x8a);			/* register A, NMI masked */
	CHECK((in8(k, 0x71) & 0x80) == 0);	/* never updating */
	out8(k, 0x70, 0x40);
	out8(k, 0x71, 0x77);
	CHECK(in8(k, 0x71) == 0x77);		/* plain CMOS storage */
	return 0;
}

static int test_acpi_pm(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_free struct vm_kvm *k = fake_vm();
	struct acpi_pm pm;
	uint8_t v[2];

	CHECK(acpi_pm_init(&pm, k, &err) == 0);
	bus_access(&k->pio, ACPI_PM1A_CNT_PORT, v, 2, false);
	CHECK(v[0] & 1);			/* SCI_EN: always in ACPI mode */
	v[0] = 0;
	v[1] = (1 << 2) | (1 << 5);		/* SLP_TYP 1 (S1), SLP_EN */
	bus_access(&k->pio, ACPI_PM1A_CNT_PORT, v, 2, true);
	CHECK(k->exit == VM_EXIT_NONE);
	v[1] = (ACPI_S5_TYP << 2) | (1 << 5);
	bus_access(&k->pio, ACPI_PM1A_CNT_PORT, v, 2, true);
	CHECK(k->exit == VM_EXIT_POWEROFF);
	return 0;
}

static const struct test tests[] = {
	{ "guestmem: RAM splits around the hole, guestmem_ptr checks ranges", test_guestmem_split },
	{ "bus: ranges dispatch, never overlap, move and go", test_bus },
	{ "boot: the setup header is checked and the load address picked", test_parse_kernel },
	{ "boot: the e820 map follows guest RAM and reserves the BIOS area", test_e820 },
	{ "boot: boot_params carry the header, loader fields and initrd", test_boot_params },
	{ "boot: a fake bzImage is loaded with page tables and command line", test_load_linux },
	{ "acpi: tables have right checksums, lengths and pointers", test_acpi_tables },
	{ "acpi: AML integers, packages, PkgLength and EisaId encode right", test_aml },
	{ "kvm: CPUID carries APIC ids, topology and the KVM signature", test_cpuid_fixup },
	{ "kvm: the paging report reads the kvm_intel/kvm_amd parameters", test_paging_mode },
	{ "serial: the 8250 probe's registers; output by line, full buffer, stop",
	  test_serial_regs },
	{ "serial: a partial line goes out when the guest is idle", test_serial_buffering },
	{ "i8042: self-test, command byte, and 0xFE resets", test_i8042 },
	{ "rtc: the host time in BCD and status registers", test_rtc },
	{ "acpi: SLP_EN with S5 in PM1a control powers off", test_acpi_pm },
};
TAP_MAIN(tests)
