/* The CMOS RTC (MC146818) at ports 0x70/0x71: the host's UTC time in BCD, 24-hour mode, and
 * status registers A-D saying the clock runs and never updates under the reader, so Linux's
 * rtc_cmos and its boot-time clock read finish without polling. No RTC interrupts. */
#include <string.h>

#include "vm/bus.h"
#include "vm/kvm.h"
#include "vm/legacy.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71

#define REG_SEC 0x00
#define REG_MIN 0x02
#define REG_HOUR 0x04
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define A_DV_32K 0x20		/* 32.768 kHz time base, running */
#define A_RATE_1K 0x06
#define B_24H 0x02
#define B_BINARY 0x04
#define D_VRT 0x80		/* battery good */

static uint8_t bcd(unsigned v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

uint8_t rtc_read_reg(struct rtc *r, uint8_t reg)
{
	time_t t = r->now();
	struct tm tm;
	bool bin = r->cmos[REG_B] & B_BINARY;

	gmtime_r(&t, &tm);
	switch (reg) {
	case REG_SEC: return bin ? (uint8_t)tm.tm_sec : bcd((unsigned)tm.tm_sec);
	case REG_MIN: return bin ? (uint8_t)tm.tm_min : bcd((unsigned)tm.tm_min);
	case REG_HOUR: return bin ? (uint8_t)tm.tm_hour : bcd((unsigned)tm.tm_hour);
	case REG_WDAY: return bcd((unsigned)tm.tm_wday + 1);
	case REG_MDAY: return bin ? (uint8_t)tm.tm_mday : bcd((unsigned)tm.tm_mday);
	case REG_MON: return bin ? (uint8_t)(tm.tm_mon + 1) : bcd((unsigned)tm.tm_mon + 1);
	case REG_YEAR: return bin ? (uint8_t)(tm.tm_year % 100) : bcd((unsigned)tm.tm_year % 100);
	case REG_CENTURY: return bcd((unsigned)(tm.tm_year + 1900) / 100);
	case REG_A: return r->cmos[REG_A] & 0x7f;	/* UIP never set */
	case REG_C: {
		uint8_t v = r->cmos[REG_C];

		r->cmos[REG_C] = 0;	/* reading C acknowledges */
		return v;
	}
	case REG_D: return D_VRT;
	default: return r->cmos[reg & 0x7f];
	}
}

static void rtc_write_reg(struct rtc *r, uint8_t reg, uint8_t v)
{
	/* The time is the host's: writes to it are dropped, the rest is CMOS storage. */
	if (reg <= REG_YEAR || reg == REG_C || reg == REG_D || reg == REG_CENTURY)
		return;
	r->cmos[reg & 0x7f] = v;
}

static void rtc_access(void *dev, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	struct rtc *r = dev;

	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		if (is_write)
			r->index = d[0] & 0x7f;	/* bit 7 masks NMIs; nothing to mask here */
		else
			d[0] = r->index;
	} else if (is_write) {
		rtc_write_reg(r, r->index, d[0]);
	} else {
		d[0] = rtc_read_reg(r, r->index);
	}
	if (!is_write && len > 1)
		memset(d + 1, 0xff, len - 1);
	pthread_mutex_unlock(&r->lock);
}

static time_t host_now(void)
{
	return time(NULL);
}

int rtc_init(struct rtc *r, struct vm_kvm *k, struct husk_err **err)
{
	*r = (struct rtc){ .now = host_now };
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[REG_A] = A_DV_32K | A_RATE_1K;
	r->cmos[REG_B] = B_24H;
	return bus_add(&k->pio, RTC_INDEX, 2, rtc_access, r, "rtc", err);
}
