/* The PC legacy devices on the port bus: the 8250 UART (COM1), the i8042 keyboard
 * controller (the guest's reset line) and the CMOS RTC. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

struct vm_kvm;
struct event_loop;

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_RX_FIFO 64
#define SERIAL_TX_BUF 1024
#define SERIAL_TX_IDLE_MS 20	/* output not ended by a newline waits at most this long */

struct serial {
	struct vm_kvm *k;
	struct event_loop *l;	/* NULL: no input, and no idle flush of the output */
	int in_fd, out_fd;	/* borrowed; -1 for none */
	int timer_fd;		/* owned: the idle flush, on l; -1 without l */
	bool timer_armed;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr_err, scr, dll, dlm, fcr;
	bool thre_pending;	/* THR-empty interrupt not yet acknowledged */
	bool line;		/* level last driven on the IRQ pin */
	bool rx_paused;		/* in_fd unwatched while the FIFO is full */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_len;
	uint8_t tx[SERIAL_TX_BUF];	/* output not yet written to out_fd */
	unsigned tx_len;
};

/* COM1 at 0x3F8, IRQ 4: bytes the guest writes go to out_fd, a line at a time (a full buffer,
 * SERIAL_TX_IDLE_MS without output when l is given, and serial_stop also flush); bytes
 * readable on in_fd (with an event loop l) reach the guest. */
int serial_init(struct serial *s, struct vm_kvm *k, struct event_loop *l, int in_fd, int out_fd,
		struct husk_err **err);
/* Stop watching the input, write what is buffered and release the timer. The event loop must
 * be stopped (or not running) and the vCPUs gone; safe on a zeroed, never-initialised s. */
void serial_stop(struct serial *s);

struct i8042 {
	struct vm_kvm *k;
	pthread_mutex_t lock;
	uint8_t cmd_byte;	/* the controller configuration byte */
	uint8_t pending_cmd;	/* a command waiting for its data byte, 0 if none */
	uint8_t out[4];		/* output buffer, read through port 0x60 */
	unsigned out_len;
};

/* Ports 0x60 and 0x64; command 0xFE (pulse the reset line) or a write of the output port
 * with bit 0 clear stops the machine with a reset. */
int i8042_init(struct i8042 *c, struct vm_kvm *k, struct husk_err **err);

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	time_t (*now)(void);	/* the host clock; tests replace it */
};

/* CMOS RTC at 0x70/0x71: the time in BCD from the host clock, status registers A-D. */
int rtc_init(struct rtc *r, struct vm_kvm *k, struct husk_err **err);
/* The register `reg` as the guest reads it (exposed for tests). */
uint8_t rtc_read_reg(struct rtc *r, uint8_t reg);
