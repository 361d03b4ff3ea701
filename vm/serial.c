/* An 8250/16550A UART at COM1 with the register semantics Linux's 8250 driver probes:
 * divisor latch, FIFO detection through IIR, loopback for the MSR test, scratch register and
 * THR-empty interrupts. Transmission is instant, so THR and the shifter are always empty; the
 * output is buffered a line at a time, as the guest sends it one byte per port write. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "vm/bus.h"
#include "vm/event.h"
#include "vm/irq.h"
#include "vm/kvm.h"
#include "vm/legacy.h"

/* Register offsets */
#define UART_RX 0	/* THR on write; DLL with DLAB */
#define UART_IER 1	/* DLM with DLAB */
#define UART_IIR 2	/* FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* The highest-priority pending interrupt, as IIR reports it (without the FIFO bits). */
static uint8_t iir(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_err)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return IIR_THRI;
	return IIR_NO_INT;
}

/* ISA interrupts are edge-triggered: drive the pin to the pending state, and when `edge`
 * re-trigger a still-pending interrupt so a newly enabled source is not lost. */
static void update_irq(struct serial *s, bool edge)
{
	bool want = iir(s) != IIR_NO_INT;

	if (want && s->line && edge) {
		irq_line(s->k, SERIAL_COM1_IRQ, 0);
		s->line = false;
	}
	if (want != s->line) {
		irq_line(s->k, SERIAL_COM1_IRQ, want);
		s->line = want;
	}
}

static uint8_t msr(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD, which the 8250 probe checks. */
	return (uint8_t)(((m & MCR_RTS) ? MSR_CTS : 0) | ((m & MCR_DTR) ? MSR_DSR : 0) |
			 ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0));
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_len == SERIAL_RX_FIFO)
		return;
	s->rx[(s->rx_head + s->rx_len++) % SERIAL_RX_FIFO] = c;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_len)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_len--;
	return c;
}

static void tx_flush(struct serial *s)
{
	if (s->tx_len && write_all(s->out_fd, s->tx, s->tx_len) < 0)
		log_debug("serial: output: %m");
	s->tx_len = 0;
}

/* A partial line (a shell prompt, a kernel message in pieces) goes out once the guest has
 * been quiet for SERIAL_TX_IDLE_MS. One timer runs at a time: it is re-armed only after it
 * fired, so a steady stream of lines costs no timer syscalls beyond one per period. */
static void tx_arm(struct serial *s)
{
	struct itimerspec its = { .it_value = { 0, SERIAL_TX_IDLE_MS * 1000000L } };

	if (s->timer_fd < 0 || s->timer_armed)
		return;
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) < 0) {
		tx_flush(s);	/* no timer: do not hold the bytes */
		return;
	}
	s->timer_armed = true;
}

static void tx_idle(void *arg, uint32_t events)
{
	struct serial *s = arg;
	uint64_t n;

	if (read(s->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("serial: timer: %m");
	pthread_mutex_lock(&s->lock);
	s->timer_armed = false;
	tx_flush(s);
	pthread_mutex_unlock(&s->lock);
}

static void transmit(struct serial *s, uint8_t c)
{
	s->thre_pending = true;
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
		return;
	}
	if (s->out_fd < 0)
		return;
	s->tx[s->tx_len++] = c;
	if (c == '\n' || s->tx_len == SERIAL_TX_BUF)
		tx_flush(s);
	else
		tx_arm(s);
}

/* Resume watching the input once the guest made room again. */
static void rx_resume(struct serial *s)
{
	if (s->rx_paused && s->rx_len < SERIAL_RX_FIFO) {
		s->rx_paused = false;
		event_mod(s->l, s->in_fd, EPOLLIN);
	}
}

static uint8_t reg_read(struct serial *s, uint64_t off)
{
	uint8_t v;

	switch (off) {
	case UART_RX:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		v = rx_pop(s);
		rx_resume(s);
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = iir(s);
		if (v == IIR_THRI)
			s->thre_pending = false;	/* reading IIR acknowledges THRE */
		return v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0) | s->lsr_err;
		s->lsr_err = 0;
		return v;
	case UART_MSR:
		return msr(s);
	default:
		return s->scr;
	}
}

static bool reg_write(struct serial *s, uint64_t off, uint8_t v)
{
	bool edge = false;

	switch (off) {
	case UART_RX:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with the transmitter empty raises THRE at once. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thre_pending = true;
		s->ier = v & 0x0f;
		edge = true;
		break;
	case UART_IIR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX)
			s->rx_len = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
	return edge;
}

static void serial_access(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;
	bool edge = false;

	pthread_mutex_lock(&s->lock);
	/* Wider accesses are byte accesses to consecutive registers. */
	for (uint32_t i = 0; i < len && off + i < 8; i++) {
		if (is_write)
			edge |= reg_write(s, off + i, data[i]);
		else
			data[i] = reg_read(s, off + i);
	}
	update_irq(s, edge);
	pthread_mutex_unlock(&s->lock);
}

static void serial_input(void *arg, uint32_t events)
{
	struct serial *s = arg;
	uint8_t buf[SERIAL_RX_FIFO];
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	n = read(s->in_fd, buf, SERIAL_RX_FIFO - s->rx_len);
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			rx_push(s, buf[i]);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		event_del(s->l, s->in_fd);	/* EOF or a broken input: stop reading */
		s->in_fd = -1;
	}
	if (s->in_fd >= 0 && s->rx_len == SERIAL_RX_FIFO) {
		s->rx_paused = true;
		event_mod(s->l, s->in_fd, 0);
	}
	update_irq(s, false);
	pthread_mutex_unlock(&s->lock);
}

int serial_init(struct serial *s, struct vm_kvm *k, struct event_loop *l, int in_fd, int out_fd,
		struct husk_err **err)
{
	*s = (struct serial){ .k = k, .l = l, .in_fd = -1, .out_fd = out_fd, .timer_fd = -1 };
	pthread_mutex_init(&s->lock, NULL);
	if (bus_add(&k->pio, SERIAL_COM1_PORT, 8, serial_access, s, "serial", err) < 0)
		return -(*err)->code;
	if (out_fd >= 0 && l) {
		s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (s->timer_fd < 0)
			return husk_err_set(err, errno, "serial: timerfd");
		if (event_add(l, s->timer_fd, EPOLLIN, tx_idle, s, err) < 0) {
			close(s->timer_fd);
			s->timer_fd = -1;
			return husk_err_wrap(err, "serial: watch the output timer");
		}
	}
	if (in_fd >= 0 && l) {
		if (event_add(l, in_fd, EPOLLIN, serial_input, s, err) < 0)
			return husk_err_wrap(err, "serial: watch input");
		s->in_fd = in_fd;
	}
	return 0;
}

void serial_stop(struct serial *s)
{
	if (!s->l && !s->tx_len)
		return;	/* never initialised (zeroed: its fds would read as 0), or nothing to do */
	if (s->in_fd >= 0 && s->l)
		event_del(s->l, s->in_fd);
	s->in_fd = -1;
	if (s->timer_fd >= 0) {
		event_del(s->l, s->timer_fd);
		close(s->timer_fd);
		s->timer_fd = -1;
	}
	pthread_mutex_lock(&s->lock);
	tx_flush(s);
	pthread_mutex_unlock(&s->lock);
}
