/* vm/agent/proto.c: every message round-trips; truncated, oversized, wrong magic/version and
 * absurd counts are refused; the streaming reader works byte by byte. Plus the agent's pure
 * helpers (vm/agent/util.c): PATH lookup, exec status, husk.order, port names. */
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "tap.h"
#include "vm/agent/proto.h"
#include "vm/agent/util.h"

static char *run_args[] = { "/bin/sh", "-c", "echo hi", NULL };
static char *run_env[] = { "PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY=", NULL };
static uint32_t run_gids[] = { 10, 20, 4294967294u };

static struct agent_msg sample_run(void)
{
	return (struct agent_msg){
		.type = AGENT_MSG_RUN,
		.run = { .flags = AGENT_RUN_ROOT_RO,
			 .uid = 1000,
			 .gid = 1001,
			 .ngids = 3,
			 .gids = run_gids,
			 .args = run_args,
			 .env = run_env,
			 .cwd = "/work",
			 .hostname = "box1",
			 .root_dev = "/dev/vda",
			 .root_fstype = "ext4" },
	};
}

static int encode(const struct agent_msg *m, uint8_t **buf, size_t *len)
{
	return agent_msg_encode(m, buf, len);
}

static int test_hello_roundtrip(void)
{
	struct agent_msg m = { .type = AGENT_MSG_HELLO, .hello = { AGENT_PROTO_VERSION, "0.1.0" } };
	cleanup_free uint8_t *buf = NULL;
	struct agent_msg d;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	CHECK(len == AGENT_HDR_SIZE + 4 + 4 + 5);
	/* the header, byte by byte: "HUSK", version 1, type 1, payload 13, all little-endian */
	CHECK(memcmp(buf, "HUSK\x01\x00\x01\x00\x0d\x00\x00\x00", 12) == 0);
	CHECK(agent_msg_decode(buf, len, &d) == 0);
	CHECK(d.type == AGENT_MSG_HELLO && d.hello.proto_version == AGENT_PROTO_VERSION);
	CHECK_STREQ(d.hello.agent_version, "0.1.0");
	agent_msg_free(&d);
	return 0;
}

static int test_run_roundtrip(void)
{
	struct agent_msg m = sample_run();
	cleanup_free uint8_t *buf = NULL;
	struct agent_msg d;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	CHECK(agent_msg_decode(buf, len, &d) == 0);
	CHECK(d.type == AGENT_MSG_RUN && d.run.flags == AGENT_RUN_ROOT_RO);
	CHECK(d.run.uid == 1000 && d.run.gid == 1001 && d.run.ngids == 3);
	CHECK(d.run.gids[0] == 10 && d.run.gids[1] == 20 && d.run.gids[2] == 4294967294u);
	CHECK(strv_len(d.run.args) == 3 && !d.run.args[3]);
	CHECK_STREQ(d.run.args[2], "echo hi");
	CHECK(strv_len(d.run.env) == 3);
	CHECK_STREQ(d.run.env[2], "EMPTY=");
	CHECK_STREQ(d.run.cwd, "/work");
	CHECK_STREQ(d.run.hostname, "box1");
	CHECK_STREQ(d.run.root_dev, "/dev/vda");
	CHECK_STREQ(d.run.root_fstype, "ext4");
	agent_msg_free(&d);
	return 0;
}

static int test_run_empty_lists(void)
{
	struct agent_msg m = sample_run();
	cleanup_free uint8_t *buf = NULL;
	struct agent_msg d;
	size_t len;

	m.run.env = NULL;
	m.run.ngids = 0;
	m.run.hostname = NULL; /* encoded as "" */
	CHECK(encode(&m, &buf, &len) == 0);
	CHECK(agent_msg_decode(buf, len, &d) == 0);
	CHECK(d.run.env && !d.run.env[0] && d.run.ngids == 0);
	CHECK_STREQ(d.run.hostname, "");
	agent_msg_free(&d);
	return 0;
}

static int test_small_roundtrips(void)
{
	const struct agent_msg msgs[] = {
		{ .type = AGENT_MSG_EXIT, .exit = { AGENT_EXIT_CODE, 42 } },
		{ .type = AGENT_MSG_EXIT, .exit = { AGENT_EXIT_SIGNAL, 9 } },
		{ .type = AGENT_MSG_ERROR,
		  .error = "agent: exec \"foo\": No such file or directory" },
		{ .type = AGENT_MSG_SIGNAL, .signo = 15 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		cleanup_free uint8_t *buf = NULL;
		struct agent_msg d;
		size_t len;

		CHECK(encode(&msgs[i], &buf, &len) == 0);
		CHECK(agent_msg_decode(buf, len, &d) == 0);
		CHECK(d.type == msgs[i].type);
		if (d.type == AGENT_MSG_EXIT)
			CHECK(d.exit.kind == msgs[i].exit.kind &&
			      d.exit.value == msgs[i].exit.value);
		if (d.type == AGENT_MSG_ERROR)
			CHECK_STREQ(d.error, msgs[i].error);
		if (d.type == AGENT_MSG_SIGNAL)
			CHECK(d.signo == 15);
		agent_msg_free(&d);
	}
	return 0;
}

/* Every proper prefix of a valid RUN, and the whole with one byte more, is refused. */
static int test_truncated(void)
{
	struct agent_msg m = sample_run(), d;
	cleanup_free uint8_t *buf = NULL;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	for (size_t n = 0; n < len; n++)
		CHECK(agent_msg_decode(buf, n, &d) < 0);
	/* a payload length that claims less than the fields need */
	for (size_t cut = 1; cut < len - AGENT_HDR_SIZE; cut++) {
		cleanup_free uint8_t *t = xmalloc(len);

		memcpy(t, buf, len - cut);
		t[8] = (uint8_t)(len - AGENT_HDR_SIZE - cut);
		t[9] = (uint8_t)((len - AGENT_HDR_SIZE - cut) >> 8);
		CHECK(agent_msg_decode(t, len - cut, &d) == -EBADMSG);
	}
	return 0;
}

static int test_trailing_bytes(void)
{
	struct agent_msg m = { .type = AGENT_MSG_SIGNAL, .signo = 2 }, d;
	cleanup_free uint8_t *buf = NULL;
	uint8_t big[64];
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	memcpy(big, buf, len);
	big[len] = 0;
	big[8] = 5; /* payload length 5 for a 4-byte SIGNAL */
	CHECK(agent_msg_decode(big, len + 1, &d) == -EBADMSG);
	return 0;
}

static int test_bad_header(void)
{
	struct agent_msg m = { .type = AGENT_MSG_SIGNAL, .signo = 2 }, d;
	cleanup_free uint8_t *buf = NULL;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	buf[0] = 'X';
	CHECK(agent_msg_decode(buf, len, &d) == -EBADMSG);
	buf[0] = 'H';
	buf[4] = 2; /* version 2 */
	CHECK(agent_msg_decode(buf, len, &d) == -EPROTONOSUPPORT);
	buf[4] = 0; /* version 0 */
	CHECK(agent_msg_decode(buf, len, &d) == -EPROTONOSUPPORT);
	buf[4] = 1;
	buf[6] = 99; /* unknown type */
	CHECK(agent_msg_decode(buf, len, &d) == -EPROTO);
	buf[6] = AGENT_MSG_SIGNAL;
	CHECK(agent_msg_decode(buf, len, &d) == 0);
	return 0;
}

static int test_oversized(void)
{
	uint8_t hdr[AGENT_HDR_SIZE] = { 'H', 'U', 'S', 'K', 1, 0, AGENT_MSG_ERROR, 0 };
	struct agent_msg m = { .type = AGENT_MSG_ERROR }, d;
	cleanup_free char *huge = xmalloc(AGENT_MSG_MAX + 1);
	uint8_t *buf = NULL;
	size_t len;
	uint32_t plen = AGENT_MSG_MAX + 1;

	for (int i = 0; i < 4; i++)
		hdr[8 + i] = (uint8_t)(plen >> (8 * i));
	CHECK(agent_hdr_check(hdr, sizeof(hdr), NULL) == -EMSGSIZE);
	CHECK(agent_msg_decode(hdr, sizeof(hdr), &d) == -EMSGSIZE);
	memset(huge, 'a', AGENT_MSG_MAX);
	huge[AGENT_MSG_MAX] = '\0';
	m.error = huge;
	CHECK(encode(&m, &buf, &len) == -EMSGSIZE && !buf);
	huge[AGENT_MSG_MAX - 8] = '\0'; /* 4 bytes of length + 1 MiB - 8: fits */
	CHECK(encode(&m, &buf, &len) == 0);
	free(buf);
	return 0;
}

/* Patch the first list count of a RUN (the gid count at payload offset 12). */
static int test_absurd_counts(void)
{
	struct agent_msg m = sample_run(), d;
	cleanup_free uint8_t *buf = NULL;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	memcpy(buf + AGENT_HDR_SIZE + 12, "\xff\xff\xff\xff", 4);
	CHECK(agent_msg_decode(buf, len, &d) == -E2BIG);
	memcpy(buf + AGENT_HDR_SIZE + 12, "\x00\x01\x00\x00", 4); /* 256 gids: not in the bytes */
	CHECK(agent_msg_decode(buf, len, &d) == -EBADMSG);
	memcpy(buf + AGENT_HDR_SIZE + 12, "\x03\x00\x00\x00", 4);
	/* args count, after 3 gids: 0xfffffff0 strings */
	memcpy(buf + AGENT_HDR_SIZE + 28, "\xf0\xff\xff\xff", 4);
	CHECK(agent_msg_decode(buf, len, &d) == -E2BIG);
	memcpy(buf + AGENT_HDR_SIZE + 28, "\x00\x04\x00\x00", 4); /* 1024: more than fit */
	CHECK(agent_msg_decode(buf, len, &d) == -EBADMSG);
	memcpy(buf + AGENT_HDR_SIZE + 28, "\x00\x00\x00\x00", 4); /* no args at all */
	CHECK(agent_msg_decode(buf, len, &d) < 0);
	/* first arg's string length larger than the payload */
	memcpy(buf + AGENT_HDR_SIZE + 28, "\x03\x00\x00\x00\xff\xff\xff\x7f", 8);
	CHECK(agent_msg_decode(buf, len, &d) == -EBADMSG);
	return 0;
}

static int test_bad_values(void)
{
	struct agent_msg m = sample_run(), d;
	cleanup_free uint8_t *buf = NULL;
	size_t len;

	CHECK(encode(&m, &buf, &len) == 0);
	buf[AGENT_HDR_SIZE] = 0x80; /* an unknown RUN flag */
	CHECK(agent_msg_decode(buf, len, &d) == -EPROTO);
	buf[AGENT_HDR_SIZE] = AGENT_RUN_ROOT_RO;
	/* an embedded NUL in the first arg ("/bin/sh" starts at payload offset 36) */
	buf[AGENT_HDR_SIZE + 36 + 1] = '\0';
	CHECK(agent_msg_decode(buf, len, &d) == -EBADMSG);
	/* encoding refuses a RUN without args */
	m.run.args = (char *[]){ NULL };
	CHECK(encode(&m, &buf, &len) == -EINVAL);
	return 0;
}

static int test_reader_bytewise(void)
{
	struct agent_msg msgs[3] = {
		{ .type = AGENT_MSG_HELLO, .hello = { 1, "x" } },
		sample_run(),
		{ .type = AGENT_MSG_SIGNAL, .signo = 9 },
	};
	struct agent_reader r = AGENT_READER_INIT;
	cleanup_free uint8_t *all = NULL;
	size_t total = 0, got = 0;

	for (size_t i = 0; i < 3; i++) {
		cleanup_free uint8_t *b = NULL;
		size_t n;

		CHECK(encode(&msgs[i], &b, &n) == 0);
		all = xrealloc(all, total + n);
		memcpy(all + total, b, n);
		total += n;
	}
	for (size_t i = 0; i < total; i++) {
		struct agent_msg d;
		int ret;

		CHECK(agent_reader_feed(&r, all + i, 1) == 0);
		while ((ret = agent_reader_next(&r, &d)) == 1) {
			CHECK(got < 3 && d.type == msgs[got].type);
			got++;
			agent_msg_free(&d);
		}
		CHECK(ret == 0);
	}
	CHECK(got == 3 && r.len == 0);
	agent_reader_free(&r);
	return 0;
}

/* A bad header fails as soon as its 12 bytes are in, before any payload is buffered. */
static int test_reader_bad_stream(void)
{
	uint8_t hdr[AGENT_HDR_SIZE] = { 'H', 'U', 'S', 'K', 1, 0, 1, 0, 0xff, 0xff, 0xff, 0x7f };
	struct agent_reader r = AGENT_READER_INIT;
	struct agent_msg d;

	CHECK(agent_reader_feed(&r, hdr, 11) == 0);
	CHECK(agent_reader_next(&r, &d) == 0);
	CHECK(agent_reader_feed(&r, hdr + 11, 1) == 0);
	CHECK(agent_reader_next(&r, &d) == -EMSGSIZE);
	agent_reader_free(&r);
	return 0;
}

static int test_reader_fd(void)
{
	struct agent_msg m = sample_run(), d;
	struct agent_reader r = AGENT_READER_INIT;
	int sv[2], got = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(agent_msg_send(sv[0], &m) == 0);
	m = (struct agent_msg){ .type = AGENT_MSG_EXIT, .exit = { AGENT_EXIT_CODE, 3 } };
	CHECK(agent_msg_send(sv[0], &m) == 0);
	close(sv[0]);
	for (;;) {
		ssize_t n = agent_reader_fill(&r, sv[1]);

		CHECK(n >= 0);
		while (agent_reader_next(&r, &d) == 1) {
			got++;
			agent_msg_free(&d);
		}
		if (n == 0)
			break;
	}
	close(sv[1]);
	agent_reader_free(&r);
	CHECK(got == 2);
	return 0;
}

/* ---- the agent's pure helpers ---- */

static int touch(struct tmpdir *t, const char *name, mode_t mode)
{
	int fd = openat(t->dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	close(fd);
	return fchmodat(t->dfd, name, mode, 0);
}

static int test_path_lookup(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	char path[512], out[256];

	CHECK(mkdirat(t->dfd, "a", 0755) == 0 && mkdirat(t->dfd, "b", 0755) == 0);
	CHECK(mkdirat(t->dfd, "b/dir", 0755) == 0);
	CHECK(touch(t, "a/noexec", 0644) == 0 && touch(t, "b/tool", 0755) == 0);
	CHECK(touch(t, "b/noexec", 0755) == 0 && touch(t, "a/tool", 0755) == 0);
	snprintf(path, sizeof(path), "%s/missing:%s/a:%s/b", t->path, t->path, t->path);
	CHECK(agent_path_lookup(path, "tool", out, sizeof(out)) == 0);
	CHECK_CONTAINS(out, "/a/tool"); /* the first PATH entry wins */
	CHECK(agent_path_lookup(path, "noexec", out, sizeof(out)) == 0);
	CHECK_CONTAINS(out, "/b/noexec"); /* a non-executable match is passed over */
	snprintf(path, sizeof(path), "%s/a", t->path);
	CHECK(agent_path_lookup(path, "noexec", out, sizeof(out)) == -EACCES);
	snprintf(path, sizeof(path), "%s/b", t->path);
	CHECK(agent_path_lookup(path, "dir", out, sizeof(out)) == -ENOENT);
	CHECK(agent_path_lookup(path, "nothere", out, sizeof(out)) == -ENOENT);
	CHECK(agent_path_lookup(path, "", out, sizeof(out)) == -ENOENT);
	CHECK(agent_path_lookup(path, "./rel/x", out, sizeof(out)) == 0);
	CHECK_STREQ(out, "./rel/x");
	CHECK(agent_path_lookup(path, "tool", out, 8) == -ENAMETOOLONG);
	return 0;
}

static int test_env_path_and_status(void)
{
	char *env[] = { "HOME=/", "PATHX=/no", "PATH=/x:/y", NULL };
	char *none[] = { "HOME=/", NULL };

	CHECK_STREQ(agent_env_path(env), "/x:/y");
	CHECK_STREQ(agent_env_path(none), AGENT_DEFAULT_PATH);
	CHECK_STREQ(agent_env_path(NULL), AGENT_DEFAULT_PATH);
	CHECK(agent_exec_status(ENOENT) == 127 && agent_exec_status(ENOTDIR) == 127);
	CHECK(agent_exec_status(EACCES) == 126 && agent_exec_status(ENOEXEC) == 126);
	CHECK(agent_exec_status(ENOMEM) == 1 && agent_exec_status(E2BIG) == 1);
	return 0;
}

static int test_order_file(void)
{
	char text[] = "virtio_ring.ko\n\n  virtio.ko  \r\n# comment\n../evil.ko\n"
		      "sub/x.ko\n.hidden\nvirtio_pci.ko";
	char *cursor = text;

	CHECK_STREQ(agent_order_next(&cursor), "virtio_ring.ko");
	CHECK_STREQ(agent_order_next(&cursor), "virtio.ko");
	CHECK_STREQ(agent_order_next(&cursor), "virtio_pci.ko");
	CHECK(agent_order_next(&cursor) == NULL);
	CHECK(agent_order_next(&cursor) == NULL);
	return 0;
}

static int test_port_names(void)
{
	CHECK(agent_port_name_is("husk.ctl\n", 9, "husk.ctl"));
	CHECK(agent_port_name_is("husk.ctl", 8, "husk.ctl"));
	CHECK(!agent_port_name_is("husk.ctl2\n", 10, "husk.ctl"));
	CHECK(!agent_port_name_is("husk.ct\n", 8, "husk.ctl"));
	CHECK(!agent_port_name_is("\n", 1, "husk.ctl"));
	CHECK(!agent_port_name_is("husk.stdout\n", 12, "husk.stderr"));
	CHECK(!agent_port_name_is("husk.stdin\n", 11, "husk.stdout"));
	CHECK(agent_port_name_is("husk.stdin\n", 11, "husk.stdin"));
	return 0;
}

static const struct test tests[] = {
	{ "proto: HELLO round trip, header bytes", test_hello_roundtrip },
	{ "proto: RUN round trip", test_run_roundtrip },
	{ "proto: RUN with empty env, gids, hostname", test_run_empty_lists },
	{ "proto: EXIT, ERROR, SIGNAL round trips", test_small_roundtrips },
	{ "proto: every truncation refused", test_truncated },
	{ "proto: trailing bytes refused", test_trailing_bytes },
	{ "proto: wrong magic, version, type refused", test_bad_header },
	{ "proto: oversized payload refused both ways", test_oversized },
	{ "proto: absurd counts refused before allocating", test_absurd_counts },
	{ "proto: unknown flags, embedded NUL, no args refused", test_bad_values },
	{ "reader: three messages fed byte by byte", test_reader_bytewise },
	{ "reader: bad header fails at 12 bytes", test_reader_bad_stream },
	{ "reader: fill from a socket until EOF", test_reader_fd },
	{ "agent: PATH lookup like execvp", test_path_lookup },
	{ "agent: PATH from env, exec failure status", test_env_path_and_status },
	{ "agent: husk.order parsing", test_order_file },
	{ "agent: virtio port name match", test_port_names },
};
TAP_MAIN(tests)
