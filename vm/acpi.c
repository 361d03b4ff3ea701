/* ACPI tables (ACPI 6.x layouts) built byte by byte into one blob in the BIOS area, the DSDT's
 * AML from a tiny emitter, and the PM1a registers that turn an S5 request into a poweroff. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/acpi.h"
#include "vm/kvm.h"
#include "vm/pci.h"

#define HDR_LEN 36
#define FADT_LEN 276
#define FACS_LEN 64
#define RSDP_LEN 36

#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4)	/* no fixed power button */
#define FADT_F_SLP_BUTTON (1u << 5)	/* no fixed sleep button */
#define BOOT_ARCH_8042 (1u << 1)
#define BOOT_ARCH_NO_VGA (1u << 2)

#define PM1_SCI_EN (1u << 0)
#define PM1_SLP_EN (1u << 13)
#define PM1_SLP_TYP(v) (((v) >> 10) & 7)

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)(0 - sum);
}

/* The common 36-byte header; the checksum is set by seal() once the body is in. */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "HUSK  ", 6);
	memcpy(t + 16, "HUSKVM  ", 8);
	le32(t + 24, 1);
	memcpy(t + 28, "HUSK", 4);
	le32(t + 32, 1);
}

static void seal(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* A Generic Address Structure for an I/O port block. */
static void gas_io(uint8_t *p, uint16_t port, uint8_t bits)
{
	p[0] = 1;		/* SystemIO */
	p[1] = bits;
	p[2] = 0;
	p[3] = bits == 32 ? 3 : 2;	/* dword or word access */
	le64(p + 4, port);
}

/* ---- AML ---- */

void aml_free(struct aml *a)
{
	free(a->b);
	*a = (struct aml){ 0 };
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->n + n > a->cap) {
		a->cap = (a->n + n) * 2 + 64;
		a->b = xrealloc(a->b, a->cap);
	}
	memcpy(a->b + a->n, p, n);
	a->n += n;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[9];

	if (v <= 1) {
		aml_byte(a, (uint8_t)v);	/* ZeroOp, OneOp */
		return;
	}
	if (v <= 0xff) {
		b[0] = 0x0a;
		b[1] = (uint8_t)v;
		aml_bytes(a, b, 2);
	} else if (v <= 0xffff) {
		b[0] = 0x0b;
		le16(b + 1, (uint16_t)v);
		aml_bytes(a, b, 3);
	} else if (v <= 0xffffffff) {
		b[0] = 0x0c;
		le32(b + 1, (uint32_t)v);
		aml_bytes(a, b, 5);
	} else {
		b[0] = 0x0e;
		le64(b + 1, v);
		aml_bytes(a, b, 9);
	}
}

size_t aml_pkglen(uint8_t out[4], size_t body)
{
	/* One byte holds up to 63; longer lengths take 1-3 more bytes, the first keeping only
	 * the low nibble, and the count includes the encoding itself. */
	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		size_t total = body + n;

		if (total >= (1ULL << (4 + 8 * (n - 1))))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	abort();		/* 256 MiB of AML: a programming error */
}

void aml_wrap(struct aml *a, const uint8_t *prefix, size_t plen, const struct aml *body)
{
	uint8_t pl[4];

	aml_bytes(a, prefix, plen);
	aml_bytes(a, pl, aml_pkglen(pl, body->n));
	aml_bytes(a, body->b, body->n);
}

static void aml_namestring(struct aml *a, const char *name)
{
	if (*name == '\\')
		aml_byte(a, *name++);
	aml_bytes(a, name, 4);
}

void aml_name(struct aml *a, const char *name, const struct aml *value)
{
	aml_byte(a, 0x08);
	aml_namestring(a, name);
	aml_bytes(a, value->b, value->n);
}

void aml_package_ints(struct aml *a, const uint64_t *v, unsigned n)
{
	static const uint8_t op = 0x12;
	struct aml body = { 0 };
	uint8_t count = (uint8_t)n;

	aml_bytes(&body, &count, 1);
	for (unsigned i = 0; i < n; i++)
		aml_int(&body, v[i]);
	aml_wrap(a, &op, 1, &body);
	aml_free(&body);
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t v = ((uint32_t)(id[0] - 0x40) << 26) | ((uint32_t)(id[1] - 0x40) << 21) |
		     ((uint32_t)(id[2] - 0x40) << 16) | (uint32_t)strtoul(id + 3, NULL, 16);

	return __builtin_bswap32(v);
}

static void name_int(struct aml *a, const char *name, uint64_t v)
{
	struct aml val = { 0 };

	aml_int(&val, v);
	aml_name(a, name, &val);
	aml_free(&val);
}

/* Name(_CRS, ResourceTemplate() { ... }) from raw resource descriptors. */
static void name_crs(struct aml *a, const uint8_t *res, size_t len)
{
	static const uint8_t op = 0x11;
	static const uint8_t end[] = { 0x79, 0x00 };
	struct aml body = { 0 }, buf = { 0 };

	aml_int(&body, len + sizeof(end));
	aml_bytes(&body, res, len);
	aml_bytes(&body, end, sizeof(end));
	aml_wrap(&buf, &op, 1, &body);
	aml_name(a, "_CRS", &buf);
	aml_free(&body);
	aml_free(&buf);
}

static void device(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = { 0x5b, 0x82 };
	struct aml full = { 0 };

	aml_namestring(&full, name);
	aml_bytes(&full, body->b, body->n);
	aml_wrap(a, op, sizeof(op), &full);
	aml_free(&full);
}

/* The PCI root bridge: bus 0, the type-1 config ports and the BAR window. */
static void dsdt_pci0(struct aml *sb)
{
	uint8_t crs[16 + 8 + 26] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
	};
	struct aml d = { 0 };

	/* DWord memory: granularity 0, min, max, translation 0, length. */
	le32(crs + 34, (uint32_t)PCI_MMIO_BASE);
	le32(crs + 38, (uint32_t)(PCI_MMIO_BASE + PCI_MMIO_SIZE - 1));
	le32(crs + 46, (uint32_t)PCI_MMIO_SIZE);
	name_int(&d, "_HID", aml_eisaid("PNP0A03"));
	name_int(&d, "_UID", 0);
	name_int(&d, "_SEG", 0);
	name_int(&d, "_BBN", 0);
	name_int(&d, "_ADR", 0);
	name_crs(&d, crs, sizeof(crs));
	device(sb, "PCI0", &d);
	aml_free(&d);
}

static void dsdt_com1(struct aml *sb)
{
	static const uint8_t crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
				       0x22, 0x10, 0x00 /* IRQNoFlags(4) */ };
	struct aml d = { 0 };

	name_int(&d, "_HID", aml_eisaid("PNP0501"));
	name_int(&d, "_UID", 1);
	name_crs(&d, crs, sizeof(crs));
	device(sb, "COM1", &d);
	aml_free(&d);
}

static void dsdt_body(struct aml *a, const struct acpi_config *c)
{
	static const uint8_t scope_op = 0x10;
	static const uint64_t s5[] = { ACPI_S5_TYP, ACPI_S5_TYP, 0, 0 };
	struct aml sb = { 0 }, pkg = { 0 };

	aml_namestring(&sb, "\\_SB_");
	dsdt_pci0(&sb);
	if (c->com1)
		dsdt_com1(&sb);
	aml_wrap(a, &scope_op, 1, &sb);
	aml_package_ints(&pkg, s5, ARRAY_SIZE(s5));
	aml_name(a, "\\_S5_", &pkg);
	aml_free(&sb);
	aml_free(&pkg);
}

/* ---- the tables ---- */

static void fadt(uint8_t *t, const struct acpi_config *c, uint64_t facs, uint64_t dsdt)
{
	header(t, "FACP", FADT_LEN, 6);
	le32(t + 36, (uint32_t)facs);
	le32(t + 40, (uint32_t)dsdt);
	le16(t + 46, ACPI_SCI_IRQ);
	/* SMI_CMD 0: the machine is always in ACPI mode, SCI_EN reads as set. */
	le32(t + 56, ACPI_PM1A_EVT_PORT);
	le32(t + 64, ACPI_PM1A_CNT_PORT);
	t[88] = 4;		/* PM1_EVT_LEN */
	t[89] = 2;		/* PM1_CNT_LEN */
	le16(t + 109, BOOT_ARCH_NO_VGA | (c->i8042 ? BOOT_ARCH_8042 : 0));
	le32(t + 112, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON);
	t[131] = 0;		/* minor version */
	le64(t + 132, facs);
	le64(t + 140, dsdt);
	gas_io(t + 148, ACPI_PM1A_EVT_PORT, 32);
	gas_io(t + 172, ACPI_PM1A_CNT_PORT, 16);
	memcpy(t + 268, "HUSKVMM ", 8);
	seal(t, FADT_LEN);
}

static size_t madt(uint8_t *t, const struct acpi_config *c)
{
	size_t n = HDR_LEN + 8;

	le32(t + 36, ACPI_LAPIC_ADDR);
	le32(t + 40, 1);	/* PCAT_COMPAT: the 8259s exist (KVM's in-kernel PIC) */
	for (unsigned i = 0; i < c->ncpus; i++, n += 8) {
		uint8_t lapic[8] = { 0, 8, (uint8_t)i, (uint8_t)i, 1 /* enabled */ };

		memcpy(t + n, lapic, sizeof(lapic));
	}
	t[n] = 1;		/* IOAPIC id 0, GSI base 0 */
	t[n + 1] = 12;
	t[n + 2] = 0;
	le32(t + n + 4, ACPI_IOAPIC_ADDR);
	le32(t + n + 8, 0);
	n += 12;
	/* ISA overrides: the PIT's IRQ 0 is IOAPIC pin 2; the SCI is level, active high. */
	{
		uint8_t iso[2][10] = { { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 },
				       { 2, 10, 0, ACPI_SCI_IRQ, ACPI_SCI_IRQ, 0, 0, 0, 0x0d, 0 } };

		memcpy(t + n, iso, sizeof(iso));
		n += sizeof(iso);
	}
	header(t, "APIC", (uint32_t)n, 5);
	seal(t, (uint32_t)n);
	return n;
}

static void rsdp(uint8_t *t, uint64_t xsdt)
{
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, "HUSK  ", 6);
	t[15] = 2;		/* ACPI 2.0+: use the XSDT */
	le32(t + 20, RSDP_LEN);
	le64(t + 24, xsdt);
	t[8] = acpi_checksum(t, 20);
	t[32] = acpi_checksum(t, RSDP_LEN);
}

static size_t align64(size_t v)
{
	return (v + 63) & ~(size_t)63;
}

long acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_config *c)
{
	struct aml body = { 0 };
	size_t xsdt = 64, facs = xsdt + 64, fadt_off = facs + FACS_LEN;
	size_t madt_off = align64(fadt_off + FADT_LEN), dsdt, end;

	if (madt_off + HDR_LEN + 8 + 8 * (size_t)c->ncpus + 32 > cap)
		return -ENOSPC;
	memset(buf, 0, cap);
	dsdt = align64(madt_off + madt(buf + madt_off, c));
	dsdt_body(&body, c);
	end = dsdt + HDR_LEN + body.n;
	if (end > cap) {
		aml_free(&body);
		return -ENOSPC;
	}
	header(buf + dsdt, "DSDT", (uint32_t)(HDR_LEN + body.n), 2);
	memcpy(buf + dsdt + HDR_LEN, body.b, body.n);
	seal(buf + dsdt, (uint32_t)(HDR_LEN + body.n));
	aml_free(&body);

	memcpy(buf + facs, "FACS", 4);
	le32(buf + facs + 4, FACS_LEN);
	buf[facs + 32] = 2;	/* version */
	fadt(buf + fadt_off, c, base + facs, base + dsdt);
	header(buf + xsdt, "XSDT", HDR_LEN + 16, 1);
	le64(buf + xsdt + HDR_LEN, base + fadt_off);
	le64(buf + xsdt + HDR_LEN + 8, base + madt_off);
	seal(buf + xsdt, HDR_LEN + 16);
	rsdp(buf, base + xsdt);
	return (long)end;
}

int acpi_write(const struct guestmem *gm, const struct acpi_config *c, uint64_t *rsdp_addr,
	       struct husk_err **err)
{
	uint8_t *p = guestmem_ptr(gm, ACPI_BASE, ACPI_SIZE);
	long n;

	if (!p)
		return husk_err_msg(err, ENOMEM, "acpi: no guest RAM at %#llx for the tables",
				    ACPI_BASE);
	n = acpi_build(p, ACPI_SIZE, ACPI_BASE, c);
	if (n < 0)
		return husk_err_msg(err, ENOSPC, "acpi: tables for %u vCPUs do not fit", c->ncpus);
	log_debug("acpi: %ld bytes of tables at %#llx, %u CPUs", n, ACPI_BASE, c->ncpus);
	*rsdp_addr = ACPI_RSDP_ADDR;
	return 0;
}

/* ---- PM1a: status (write 1 to clear), enable, control ---- */

static uint16_t *pm_reg(struct acpi_pm *pm, uint64_t off)
{
	return off < 2 ? &pm->sts : off < 4 ? &pm->en : &pm->cnt;
}

static void pm_access(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = dev;
	bool s5 = false;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len && off + i < 6; i++) {
		uint16_t *r = pm_reg(pm, off + i);
		unsigned shift = ((off + i) % 2) * 8;

		if (!is_write) {
			data[i] = (uint8_t)((*r | (r == &pm->cnt ? PM1_SCI_EN : 0)) >> shift);
		} else if (r == &pm->sts) {
			*r &= (uint16_t)~((unsigned)data[i] << shift);
		} else {
			*r = (uint16_t)((*r & ~(0xffu << shift)) | ((unsigned)data[i] << shift));
		}
	}
	if (is_write && (pm->cnt & PM1_SLP_EN)) {
		s5 = PM1_SLP_TYP(pm->cnt) == ACPI_S5_TYP;
		pm->cnt &= (uint16_t)~PM1_SLP_EN;	/* write-only */
	}
	pthread_mutex_unlock(&pm->lock);
	if (s5)
		kvm_stop(pm->k, VM_EXIT_POWEROFF, "ACPI S5");
}

int acpi_pm_init(struct acpi_pm *pm, struct vm_kvm *k, struct husk_err **err)
{
	*pm = (struct acpi_pm){ .k = k };
	pthread_mutex_init(&pm->lock, NULL);
	return bus_add(&k->pio, ACPI_PM1A_EVT_PORT, 6, pm_access, pm, "acpi-pm1a", err);
}
