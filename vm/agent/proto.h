/* The VMM <-> guest agent protocol on the "husk.ctl" port: a fixed little-endian header
 * (magic, version, type, payload length) then a typed payload. Compiled into both the static
 * agent and libhusk-vm, so it depends on libc only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_PROTO_MAGIC 0x4b535548u /* "HUSK" as little-endian bytes */
#define AGENT_PROTO_VERSION 1
#define AGENT_HDR_SIZE 12
/* A RUN carries argv and env; 1 MiB is far above ARG_MAX's usual 128 KiB per string limit
 * but bounds what one peer can make the other allocate. */
#define AGENT_MSG_MAX (1u << 20)
/* Upper bounds on list lengths, checked before anything is allocated. */
#define AGENT_STRV_MAX 65536
#define AGENT_GIDS_MAX 65536

/* Wire layout (all integers little-endian):
 *   header:  u32 magic, u16 version, u16 type, u32 payload length
 *   str:     u32 length, then that many bytes (no NUL on the wire; an embedded NUL is refused)
 *   strv:    u32 count, then count strs
 *   HELLO:   u32 protocol version, str agent version
 *   RUN:     u32 flags, u32 uid, u32 gid, u32 ngids, ngids * u32, strv args, strv env,
 *            str cwd, str hostname, str root device, str root fstype
 *   EXIT:    u32 kind (AGENT_EXIT_*), u32 value (exit code or signal number)
 *   ERROR:   str message
 *   SIGNAL:  u32 signal number */
enum agent_msg_type {
	AGENT_MSG_HELLO = 1,  /* agent -> VMM, first message */
	AGENT_MSG_RUN = 2,    /* VMM -> agent, the process to run */
	AGENT_MSG_EXIT = 3,   /* agent -> VMM, the process ended (last message) */
	AGENT_MSG_ERROR = 4,  /* agent -> VMM, a failure; an EXIT follows */
	AGENT_MSG_SIGNAL = 5, /* VMM -> agent, deliver a signal to the process */
};

enum agent_exit_kind {
	AGENT_EXIT_CODE = 0,   /* exited with value as its status */
	AGENT_EXIT_SIGNAL = 1, /* killed by signal value */
};

#define AGENT_RUN_ROOT_RO (1u << 0)  /* mount the root read-only */
#define AGENT_RUN_TERMINAL (1u << 1) /* process.terminal (the agent refuses it for now) */
#define AGENT_RUN_FLAGS_KNOWN (AGENT_RUN_ROOT_RO | AGENT_RUN_TERMINAL)

struct agent_hello {
	uint32_t proto_version;
	char *agent_version;
};

struct agent_run {
	uint32_t flags;
	uint32_t uid, gid;
	uint32_t ngids;
	uint32_t *gids;
	char **args; /* NULL-terminated, at least one entry */
	char **env;  /* NULL-terminated, may be empty */
	char *cwd;
	char *hostname; /* "" leaves the hostname alone */
	char *root_dev; /* e.g. /dev/vda */
	char *root_fstype;
};

struct agent_exit {
	uint32_t kind;
	uint32_t value;
};

struct agent_msg {
	uint16_t type;
	union {
		struct agent_hello hello;
		struct agent_run run;
		struct agent_exit exit;
		char *error;
		uint32_t signo;
	};
};

/* Encode m (header included) into a new malloc'd buffer *out of *len bytes.
 * Returns 0, -EINVAL (unknown type, NULL args), -EMSGSIZE (payload > AGENT_MSG_MAX, or a list
 * longer than its limit) or -ENOMEM. */
int agent_msg_encode(const struct agent_msg *m, uint8_t **out, size_t *len);

/* Check a header: returns the payload length (>= 0), -EBADMSG (wrong magic or short),
 * -EPROTONOSUPPORT (unknown version) or -EMSGSIZE (payload length over AGENT_MSG_MAX). */
long agent_hdr_check(const uint8_t *buf, size_t len, uint16_t *type);

/* Decode exactly one message filling buf[0..len). Never reads outside it. On success m owns
 * allocated members (agent_msg_free). Errors: those of agent_hdr_check, -EBADMSG (truncated,
 * trailing bytes, embedded NUL, count larger than the bytes left), -EPROTO (unknown type or
 * RUN flag), -E2BIG (a list over its limit), -ENOMEM. On error m holds nothing. */
int agent_msg_decode(const uint8_t *buf, size_t len, struct agent_msg *m);
void agent_msg_free(struct agent_msg *m);

/* Encode and write the whole message to fd (blocking, EINTR retried). 0 or -errno. */
int agent_msg_send(int fd, const struct agent_msg *m);

/* A short human name for a type ("HELLO"), "unknown" otherwise. */
const char *agent_msg_type_name(unsigned type);

/* Streaming reader: accumulates bytes until one full message is there. The header is checked
 * as soon as it is complete, so a bad stream fails before its payload is buffered. */
struct agent_reader {
	uint8_t *buf;
	size_t len, cap;
};

#define AGENT_READER_INIT { NULL, 0, 0 }

/* Append n bytes. 0 or -ENOMEM. */
int agent_reader_feed(struct agent_reader *r, const void *data, size_t n);
/* One read(2) from fd into the buffer: bytes read (> 0), 0 on end of file, or -errno
 * (-EAGAIN on a non-blocking fd with nothing to read). */
ssize_t agent_reader_fill(struct agent_reader *r, int fd);
/* Take the next complete message: 1 and *m filled, 0 when more bytes are needed, or the
 * negative error of agent_msg_decode (the stream is then unusable). */
int agent_reader_next(struct agent_reader *r, struct agent_msg *m);
void agent_reader_free(struct agent_reader *r);
