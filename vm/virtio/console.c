/* virtio-console (virtio 1.x, section 5.3) with VIRTIO_CONSOLE_F_MULTIPORT:
 * each port is a pair of host fds; bytes readable on in_fd go into the
 * port's receiveq, the port's transmitq goes to out_fd, and the control
 * queues carry the port handshake (section 5.3.6.2). Writes to out_fd are
 * blocking (a first version: a stuck reader stalls the event thread).
 * in_fd callbacks come from the event loop, notify/activate/reset from the
 * transport (under its lock, possibly on a vCPU thread): con->lock
 * serialises them, taken after the transport's lock. */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/virtio/devices.h"

#define CON_QUEUE_SIZE 128
/* Queues 0-1 for port 0, 2-3 control, then two per port. */
#define CON_MAX_PORTS ((VIRTIO_MAX_QUEUES - 2) / 2)
#define CON_NAME_MAX 64
#define CTRL_HDR 8 /* struct virtio_console_control */
#define CTRL_PENDING 64
#define CTRL_RX_Q 2
#define CTRL_TX_Q 3

struct console;

struct con_port {
	struct console *con;
	uint32_t id;
	char *name;
	int in_fd, out_fd; /* borrowed from the caller */
	bool in_file;	   /* in_fd is a regular file: epoll cannot watch it */
	bool watching;	   /* in_fd is on the event loop */
	bool in_eof;
	bool ready; /* the guest sent PORT_READY */
	bool guest_open;
	bool have_rx; /* rx holds a chain taken but not yet filled */
	struct vq_chain rx;
};

struct ctrl_msg {
	uint32_t len;
	uint8_t buf[CTRL_HDR + CON_NAME_MAX];
};

struct console {
	struct virtio_dev_ops ops; /* per device: nqueues depends on nports */
	struct virtio_dev *d;
	struct event_loop *l;
	pthread_mutex_t lock;
	unsigned nports;
	bool multiport;	       /* offered and accepted */
	struct vq_chain chain; /* for transmit and control-transmit chains */
	/* Control-receive chains have their own: ctrl_flush() runs while a control-transmit
	 * chain is still being handled (a message from the driver answered at once), and a
	 * shared one would give the transmit chain's head back as the receive one's. */
	struct vq_chain ctrl_chain;
	unsigned npending;     /* control messages waiting for guest buffers */
	struct ctrl_msg pending[CTRL_PENDING];
	struct con_port ports[];
};

static uint16_t port_rxq(uint32_t id)
{
	return id == 0 ? 0 : (uint16_t)(2 + 2 * id);
}

static uint64_t con_features(struct virtio_dev *d)
{
	struct console *con = d->priv;
	uint64_t f = 1ULL << VIRTIO_RING_F_INDIRECT_DESC;

	if (con->nports > 1)
		f |= 1ULL << VIRTIO_CONSOLE_F_MULTIPORT;
	return f;
}

static void con_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct console *con = d->priv;
	struct virtio_console_config cfg = {.max_nr_ports = htole32(con->nports)};

	if (off > sizeof(cfg) || len > sizeof(cfg) - off)
		return;
	memcpy(data, (uint8_t *)&cfg + off, len);
}

/* Only emerg_wr is writable, and VIRTIO_CONSOLE_F_EMERG_WRITE is not offered. */
static void con_config_write(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
}

/* ---- control queues ---- */

static void port_rx_kick(struct con_port *p);
static void port_watch(struct con_port *p, bool on);

/* Give pending control messages to the guest while it has buffers posted. */
static void ctrl_flush(struct console *con)
{
	struct virtio_dev *d = con->d;
	struct vq_chain *c = &con->ctrl_chain;

	while (con->npending > 0 && virtio_dev_pop(d, CTRL_RX_Q, c) > 0) {
		struct ctrl_msg *m = &con->pending[0];
		size_t n = vq_iov_write(c->in, c->nin, 0, m->buf, m->len);

		/* The driver takes the name's length from the used length. */
		virtio_complete(d, CTRL_RX_Q, c->head, (uint32_t)n);
		con->npending--;
		memmove(&con->pending[0], &con->pending[1], con->npending * sizeof(*m));
	}
}

static void ctrl_send(struct console *con, uint32_t id, uint16_t event, uint16_t value,
		      const char *name)
{
	struct virtio_console_control h = {htole32(id), htole16(event), htole16(value)};
	struct ctrl_msg *m;
	size_t nlen = name ? strlen(name) : 0;

	if (!con->multiport)
		return;
	if (con->npending == CTRL_PENDING) {
		/* Only a driver repeating DEVICE_READY gets here: the queue
		 * holds several messages per port. */
		log_warn("virtio-console: control queue full, dropping event %u", event);
		return;
	}
	m = &con->pending[con->npending++];
	memcpy(m->buf, &h, CTRL_HDR);
	memcpy(m->buf + CTRL_HDR, name ? name : "", nlen); /* no NUL: section 5.3.6.2 */
	m->len = (uint32_t)(CTRL_HDR + nlen);
	ctrl_flush(con);
}

/* Only input ends: a port with no in_fd (guest -> host only, like the process's stdout) is
 * connected for its whole life, since Linux blocks writes to a disconnected port. */
static bool port_host_connected(const struct con_port *p)
{
	return !(p->in_fd >= 0 && p->in_eof);
}

/* PORT_READY: say which port is the console, name it, and open it. */
static void ctrl_port_ready(struct console *con, struct con_port *p)
{
	p->ready = true;
	if (p->id == 0)
		ctrl_send(con, p->id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	if (p->name && p->name[0])
		ctrl_send(con, p->id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name);
	/* Linux blocks writes to a port whose host side is not connected. */
	ctrl_send(con, p->id, VIRTIO_CONSOLE_PORT_OPEN, port_host_connected(p), NULL);
}

static void ctrl_handle(struct console *con, const struct virtio_console_control *h)
{
	uint32_t id = le32toh(h->id);
	uint16_t event = le16toh(h->event), value = le16toh(h->value);
	struct con_port *p = id < con->nports ? &con->ports[id] : NULL;

	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (value != 1) {
			log_warn("virtio-console: the driver failed to set up");
			return;
		}
		for (uint32_t i = 0; i < con->nports; i++)
			ctrl_send(con, i, VIRTIO_CONSOLE_PORT_ADD, 1, NULL);
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (!p || value != 1) {
			log_warn("virtio-console: port %u failed to set up", id);
			return;
		}
		ctrl_port_ready(con, p);
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (!p)
			return;
		p->guest_open = value != 0;
		/* Input waits for a reader: see port_may_receive(). */
		if (p->guest_open)
			port_rx_kick(p);
		else
			port_watch(p, false);
		return;
	default:
		log_debug("virtio-console: control event %u for port %u ignored", event, id);
	}
}

static void ctrl_receive(struct console *con)
{
	struct vq_chain *c = &con->chain;
	struct virtio_console_control h;

	while (virtio_dev_pop(con->d, CTRL_TX_Q, c) > 0) {
		if (vq_iov_read(c->out, c->nout, 0, &h, CTRL_HDR) == CTRL_HDR)
			ctrl_handle(con, &h);
		virtio_complete(con->d, CTRL_TX_Q, c->head, 0);
	}
}

/* ---- receive: host fd -> guest ---- */

static void port_readable(void *arg, uint32_t events);

static void port_watch(struct con_port *p, bool on)
{
	struct husk_err *err = NULL;

	if (p->watching == on || p->in_file || p->in_fd < 0)
		return;
	if (!on) {
		event_del(p->con->l, p->in_fd);
	} else if (event_add(p->con->l, p->in_fd, EPOLLIN, port_readable, p, &err) < 0) {
		/* EPERM: epoll cannot watch it (/dev/null, a common stdin), but like a file it
		 * never blocks: read it directly. */
		if (err->code == EPERM)
			p->in_file = true;
		else
			log_warn("virtio-console: port %u: %s", p->id, err->msg);
		husk_err_free(err);
		return;
	}
	p->watching = on;
}

static void port_eof(struct con_port *p)
{
	port_watch(p, false);
	p->in_eof = true;
	/* The guest reads EOF once the host side is disconnected. */
	if (p->ready)
		ctrl_send(p->con, p->id, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
}

/* One read into one guest chain. Returns true when the caller may read
 * again at once (there was data, and in_fd will not block: a file). No chain
 * posted means stop watching: the bytes stay in in_fd until the guest adds
 * buffers, nothing is dropped. */
/* Linux drops what arrives on a port nobody in the guest has open (in_intr() discards it),
 * so with multiport the host's bytes wait in in_fd until the guest says PORT_OPEN. */
static bool port_may_receive(const struct con_port *p)
{
	return p->in_fd >= 0 && !p->in_eof && (!p->con->multiport || p->guest_open);
}

static bool port_rx_one(struct con_port *p)
{
	struct virtio_dev *d = p->con->d;
	ssize_t n;

	if (!port_may_receive(p))
		return false;
	if (!p->have_rx) {
		if (virtio_dev_pop(d, port_rxq(p->id), &p->rx) <= 0) {
			port_watch(p, false);
			return false;
		}
		p->have_rx = true;
	}
	if (p->rx.in_len == 0) { /* nothing writable: hand it back empty */
		p->have_rx = false;
		virtio_complete(d, port_rxq(p->id), p->rx.head, 0);
		return true;
	}
	n = readv(p->in_fd, p->rx.in, (int)p->rx.nin);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n <= 0) {
		if (n < 0)
			log_warn("virtio-console: port %u: read: %s", p->id, strerror(errno));
		port_eof(p);
		return false;
	}
	p->have_rx = false;
	virtio_complete(d, port_rxq(p->id), p->rx.head, (uint32_t)n);
	return p->in_file;
}

/* in_fd is readable. One read per wakeup: in_fd may be a blocking pipe or
 * tty, and the loop is level-triggered, so what is left wakes us again. */
static void port_readable(void *arg, uint32_t events)
{
	struct con_port *p = arg;

	pthread_mutex_lock(&p->con->lock);
	/* A reset may have stopped the port after epoll reported it. */
	if (p->watching)
		port_rx_one(p);
	pthread_mutex_unlock(&p->con->lock);
}

/* The guest posted receive buffers (or the device started). */
static void port_rx_kick(struct con_port *p)
{
	if (!port_may_receive(p))
		return;
	if (!p->in_file)
		port_watch(p, true);
	if (!p->in_file)
		return;
	while (port_rx_one(p))
		;
}

/* ---- transmit: guest -> host fd ---- */

static void write_all(int fd, struct iovec *iov, unsigned n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, (int)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, -1);
			continue;
		}
		if (r < 0) {
			log_debug("virtio-console: write: %s, output dropped", strerror(errno));
			return;
		}
		vq_iov_advance(&iov, &n, (size_t)r);
	}
}

/* A chain is used only once its bytes are in out_fd: what the guest wrote on one port before
 * it wrote on another (the process's output, then the agent's EXIT) reaches the host fds in
 * that order, as both queues are served on the event thread. */
static void port_tx(struct con_port *p, uint16_t q)
{
	struct console *con = p->con;
	struct vq_chain *c = &con->chain;

	while (virtio_dev_pop(con->d, q, c) > 0) {
		if (p->out_fd >= 0)
			write_all(p->out_fd, c->out, c->nout);
		virtio_complete(con->d, q, c->head, 0);
	}
}

/* ---- device ops ---- */

static int con_activate(struct virtio_dev *d, struct husk_err **err)
{
	struct console *con = d->priv;

	pthread_mutex_lock(&con->lock);
	con->multiport =
	    con->nports > 1 && (d->driver_features & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT));
	for (unsigned i = 0; i < (con->multiport ? con->nports : 1); i++)
		port_rx_kick(&con->ports[i]);
	pthread_mutex_unlock(&con->lock);
	return 0;
}

static void con_notify_locked(struct console *con, uint16_t q)
{
	uint32_t id = q < 2 ? 0 : (uint32_t)(q - 2) / 2;

	if (q == CTRL_RX_Q || q == CTRL_TX_Q) {
		if (con->multiport && q == CTRL_RX_Q)
			ctrl_flush(con);
		else if (con->multiport)
			ctrl_receive(con);
		return;
	}
	if (id >= con->nports || (id > 0 && !con->multiport))
		return;
	if (q % 2 == 0)
		port_rx_kick(&con->ports[id]);
	else
		port_tx(&con->ports[id], q);
}

static void con_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct console *con = d->priv;

	pthread_mutex_lock(&con->lock);
	con_notify_locked(con, q);
	pthread_mutex_unlock(&con->lock);
}

static void con_reset(struct virtio_dev *d)
{
	struct console *con = d->priv;

	pthread_mutex_lock(&con->lock);
	for (unsigned i = 0; i < con->nports; i++) {
		struct con_port *p = &con->ports[i];

		port_watch(p, false);
		p->have_rx = p->ready = p->guest_open = false;
	}
	con->npending = 0;
	con->multiport = false;
	pthread_mutex_unlock(&con->lock);
}

static void con_destroy(struct virtio_dev *d)
{
	struct console *con = d->priv;

	con_reset(d);
	for (unsigned i = 0; i < con->nports; i++)
		free(con->ports[i].name);
	pthread_mutex_destroy(&con->lock);
	free(con);
}

static const struct virtio_dev_ops con_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .queue_size = CON_QUEUE_SIZE,
    .config_len = sizeof(struct virtio_console_config),
    .features = con_features,
    .config_read = con_config_read,
    .config_write = con_config_write,
    .activate = con_activate,
    .queue_notify = con_queue_notify,
    .reset = con_reset,
    .destroy = con_destroy,
};

static bool fd_is_file(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

struct virtio_dev *virtio_console_new(const struct guestmem *gm, struct event_loop *l,
				      const struct virtio_console_port *ports, unsigned nports,
				      struct husk_err **err)
{
	struct console *con;

	if (nports == 0 || nports > CON_MAX_PORTS) {
		husk_err_msg(err, EINVAL, "virtio-console: %u ports (1 to %u)", nports,
			     CON_MAX_PORTS);
		return NULL;
	}
	for (unsigned i = 0; i < nports; i++) {
		if (ports[i].name && strlen(ports[i].name) > CON_NAME_MAX) {
			husk_err_msg(err, EINVAL, "virtio-console: port name `%s` is too long",
				     ports[i].name);
			return NULL;
		}
	}
	con = xcalloc(1, sizeof(*con) + nports * sizeof(con->ports[0]));
	con->ops = con_ops;
	con->ops.nqueues = (uint16_t)(nports > 1 ? 2 + 2 * nports : 2);
	con->l = l;
	pthread_mutex_init(&con->lock, NULL);
	con->nports = nports;
	for (unsigned i = 0; i < nports; i++) {
		struct con_port *p = &con->ports[i];

		*p = (struct con_port){.con = con,
				       .id = i,
				       .in_fd = ports[i].in_fd,
				       .out_fd = ports[i].out_fd,
				       .in_file = fd_is_file(ports[i].in_fd)};
		p->name = ports[i].name ? xstrdup(ports[i].name) : NULL;
	}
	con->d = virtio_dev_alloc(&con->ops, gm, con);
	return con->d;
}
