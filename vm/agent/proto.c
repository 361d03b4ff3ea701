/* The agent protocol's encoder, bounds-checked decoder and streaming reader (proto.h). Only
 * libc: the same file is linked into the static guest agent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/agent/proto.h"

/* ---- writing ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put_bytes(struct wbuf *w, const void *data, size_t n)
{
	/* n == 0 comes with data == NULL (an absent string), which memcpy must not be given. */
	if (w->err || n == 0)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *p;

		while (cap - w->len < n) {
			if (cap > AGENT_HDR_SIZE + (size_t)AGENT_MSG_MAX) {
				w->err = -EMSGSIZE;
				return;
			}
			cap *= 2;
		}
		p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	put_bytes(w, b, 4);
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { v & 0xff, v >> 8 };

	put_bytes(w, b, 2);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > AGENT_MSG_MAX) {
		w->err = w->err ? w->err : -EMSGSIZE;
		return;
	}
	put_u32(w, (uint32_t)n);
	put_bytes(w, s, n);
}

static void put_strv(struct wbuf *w, char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	if (n > AGENT_STRV_MAX) {
		w->err = w->err ? w->err : -EMSGSIZE;
		return;
	}
	put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(w, v[i]);
}

static int put_run(struct wbuf *w, const struct agent_run *r)
{
	if (!r->args || !r->args[0] || (r->ngids && !r->gids))
		return -EINVAL;
	if (r->ngids > AGENT_GIDS_MAX)
		return -EMSGSIZE;
	put_u32(w, r->flags);
	put_u32(w, r->uid);
	put_u32(w, r->gid);
	put_u32(w, r->ngids);
	for (uint32_t i = 0; i < r->ngids; i++)
		put_u32(w, r->gids[i]);
	put_strv(w, r->args);
	put_strv(w, r->env);
	put_str(w, r->cwd);
	put_str(w, r->hostname);
	put_str(w, r->root_dev);
	put_str(w, r->root_fstype);
	return 0;
}

static int put_payload(struct wbuf *w, const struct agent_msg *m)
{
	switch (m->type) {
	case AGENT_MSG_HELLO:
		put_u32(w, m->hello.proto_version);
		put_str(w, m->hello.agent_version);
		return 0;
	case AGENT_MSG_RUN:
		return put_run(w, &m->run);
	case AGENT_MSG_EXIT:
		put_u32(w, m->exit.kind);
		put_u32(w, m->exit.value);
		return 0;
	case AGENT_MSG_ERROR:
		put_str(w, m->error);
		return 0;
	case AGENT_MSG_SIGNAL:
		put_u32(w, m->signo);
		return 0;
	}
	return -EINVAL;
}

int agent_msg_encode(const struct agent_msg *m, uint8_t **out, size_t *len)
{
	struct wbuf w = { 0 };
	size_t plen;
	int r;

	put_u32(&w, AGENT_PROTO_MAGIC);
	put_u16(&w, AGENT_PROTO_VERSION);
	put_u16(&w, m->type);
	put_u32(&w, 0); /* payload length, patched below */
	r = put_payload(&w, m);
	if (r == 0)
		r = w.err;
	plen = w.len - AGENT_HDR_SIZE;
	if (r == 0 && plen > AGENT_MSG_MAX)
		r = -EMSGSIZE;
	if (r < 0) {
		free(w.p);
		return r;
	}
	for (int i = 0; i < 4; i++)
		w.p[8 + i] = (plen >> (8 * i)) & 0xff;
	*out = w.p;
	*len = w.len;
	return 0;
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *p;
	size_t left;
	int err;
};

static uint32_t get_u32(struct rbuf *b)
{
	uint32_t v;

	if (b->err)
		return 0; /* keep the first error */
	if (b->left < 4) {
		b->err = -EBADMSG;
		return 0;
	}
	v = b->p[0] | (uint32_t)b->p[1] << 8 | (uint32_t)b->p[2] << 16 | (uint32_t)b->p[3] << 24;
	b->p += 4;
	b->left -= 4;
	return v;
}

static char *get_str(struct rbuf *b)
{
	uint32_t n = get_u32(b);
	char *s;

	if (b->err)
		return NULL;
	if (n > b->left || memchr(b->p, '\0', n)) {
		b->err = -EBADMSG;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		b->err = -ENOMEM;
		return NULL;
	}
	memcpy(s, b->p, n);
	s[n] = '\0';
	b->p += n;
	b->left -= n;
	return s;
}

static void strv_free_all(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **get_strv(struct rbuf *b)
{
	uint32_t n = get_u32(b);
	char **v;

	if (b->err)
		return NULL;
	/* Every string takes at least its 4-byte length: a count the bytes left cannot hold is
	 * refused before allocating for it. */
	if (n > AGENT_STRV_MAX) {
		b->err = -E2BIG;
		return NULL;
	}
	if (n > b->left / 4) {
		b->err = -EBADMSG;
		return NULL;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		b->err = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < n && !b->err; i++)
		v[i] = get_str(b);
	if (b->err) {
		strv_free_all(v);
		return NULL;
	}
	return v;
}

static void get_gids(struct rbuf *b, struct agent_run *r)
{
	r->ngids = get_u32(b);
	if (b->err)
		return;
	if (r->ngids > AGENT_GIDS_MAX) {
		b->err = -E2BIG;
		return;
	}
	if (r->ngids > b->left / 4) {
		b->err = -EBADMSG;
		return;
	}
	r->gids = calloc(r->ngids ? r->ngids : 1, sizeof(*r->gids));
	if (!r->gids) {
		b->err = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < r->ngids; i++)
		r->gids[i] = get_u32(b);
}

static void get_run(struct rbuf *b, struct agent_run *r)
{
	r->flags = get_u32(b);
	if (!b->err && (r->flags & ~AGENT_RUN_FLAGS_KNOWN))
		b->err = -EPROTO;
	r->uid = get_u32(b);
	r->gid = get_u32(b);
	get_gids(b, r);
	if (!b->err)
		r->args = get_strv(b);
	if (!b->err && !r->args[0])
		b->err = -EBADMSG; /* nothing to run */
	if (!b->err)
		r->env = get_strv(b);
	r->cwd = get_str(b);
	r->hostname = get_str(b);
	r->root_dev = get_str(b);
	r->root_fstype = get_str(b);
}

static int get_payload(struct rbuf *b, struct agent_msg *m)
{
	switch (m->type) {
	case AGENT_MSG_HELLO:
		m->hello.proto_version = get_u32(b);
		m->hello.agent_version = get_str(b);
		break;
	case AGENT_MSG_RUN:
		get_run(b, &m->run);
		break;
	case AGENT_MSG_EXIT:
		m->exit.kind = get_u32(b);
		m->exit.value = get_u32(b);
		if (!b->err && m->exit.kind > AGENT_EXIT_SIGNAL)
			b->err = -EPROTO;
		break;
	case AGENT_MSG_ERROR:
		m->error = get_str(b);
		break;
	case AGENT_MSG_SIGNAL:
		m->signo = get_u32(b);
		break;
	default:
		return -EPROTO;
	}
	if (!b->err && b->left)
		b->err = -EBADMSG; /* trailing bytes: the peer and we disagree on the layout */
	return b->err;
}

long agent_hdr_check(const uint8_t *buf, size_t len, uint16_t *type)
{
	struct rbuf b = { buf, len, 0 };
	uint32_t magic, vt, plen;

	magic = get_u32(&b);
	vt = get_u32(&b);
	plen = get_u32(&b);
	if (b.err || magic != AGENT_PROTO_MAGIC)
		return -EBADMSG;
	if ((vt & 0xffff) != AGENT_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (plen > AGENT_MSG_MAX)
		return -EMSGSIZE;
	if (type)
		*type = vt >> 16;
	return plen;
}

int agent_msg_decode(const uint8_t *buf, size_t len, struct agent_msg *m)
{
	long plen = agent_hdr_check(buf, len, NULL);
	struct rbuf b;
	int r;

	memset(m, 0, sizeof(*m));
	if (plen < 0)
		return (int)plen;
	if (len - AGENT_HDR_SIZE != (size_t)plen)
		return -EBADMSG;
	m->type = buf[6] | buf[7] << 8;
	b = (struct rbuf){ buf + AGENT_HDR_SIZE, (size_t)plen, 0 };
	r = get_payload(&b, m);
	if (r < 0)
		agent_msg_free(m);
	return r;
}

void agent_msg_free(struct agent_msg *m)
{
	switch (m->type) {
	case AGENT_MSG_HELLO:
		free(m->hello.agent_version);
		break;
	case AGENT_MSG_RUN:
		free(m->run.gids);
		strv_free_all(m->run.args);
		strv_free_all(m->run.env);
		free(m->run.cwd);
		free(m->run.hostname);
		free(m->run.root_dev);
		free(m->run.root_fstype);
		break;
	case AGENT_MSG_ERROR:
		free(m->error);
		break;
	}
	memset(m, 0, sizeof(*m));
}

int agent_msg_send(int fd, const struct agent_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	int r = agent_msg_encode(m, &buf, &len);

	while (r == 0 && off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	free(buf);
	return r;
}

const char *agent_msg_type_name(unsigned type)
{
	static const char *const names[] = {
		[AGENT_MSG_HELLO] = "HELLO", [AGENT_MSG_RUN] = "RUN",	 [AGENT_MSG_EXIT] = "EXIT",
		[AGENT_MSG_ERROR] = "ERROR", [AGENT_MSG_SIGNAL] = "SIGNAL",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

/* ---- streaming ---- */

static int reader_reserve(struct agent_reader *r, size_t n)
{
	size_t cap = r->cap ? r->cap : 4096;
	uint8_t *p;

	if (n <= r->cap - r->len)
		return 0;
	if (n > AGENT_HDR_SIZE + (size_t)AGENT_MSG_MAX + 65536 - r->len)
		return -EMSGSIZE;
	while (cap - r->len < n)
		cap *= 2;
	p = realloc(r->buf, cap);
	if (!p)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

int agent_reader_feed(struct agent_reader *r, const void *data, size_t n)
{
	int ret = reader_reserve(r, n);

	if (ret < 0)
		return ret;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

ssize_t agent_reader_fill(struct agent_reader *r, int fd)
{
	ssize_t n;
	int ret = reader_reserve(r, 4096);

	if (ret < 0)
		return ret;
	do
		n = read(fd, r->buf + r->len, r->cap - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->len += (size_t)n;
	return n;
}

int agent_reader_next(struct agent_reader *r, struct agent_msg *m)
{
	long plen;
	size_t total;
	int ret;

	if (r->len < AGENT_HDR_SIZE)
		return 0;
	plen = agent_hdr_check(r->buf, r->len, NULL);
	if (plen < 0)
		return (int)plen;
	total = AGENT_HDR_SIZE + (size_t)plen;
	if (r->len < total)
		return 0;
	ret = agent_msg_decode(r->buf, total, m);
	if (ret < 0)
		return ret;
	memmove(r->buf, r->buf + total, r->len - total);
	r->len -= total;
	return 1;
}

void agent_reader_free(struct agent_reader *r)
{
	free(r->buf);
	*r = (struct agent_reader)AGENT_READER_INIT;
}
