/* Logging: text to stderr for people, or runc's line formats in the --log file so the
 * containerd shim can read the last error ({"level":"error","msg":"...","time":"..."}). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "log.h"

static int sink_fd = STDERR_FILENO;
static int sink_is_file;
static enum log_format sink_fmt = LOG_FORMAT_TEXT;
static enum log_level sink_max = LOG_WARN;

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warning", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int log_init(const char *path, enum log_format fmt, enum log_level max)
{
	sink_fmt = fmt;
	sink_max = max;
	if (path && *path) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return -errno;
		sink_fd = fd;
		sink_is_file = 1;
	}
	return 0;
}

int log_fd(void)
{
	return sink_fd;
}

enum log_level log_max_level(void)
{
	return sink_max;
}

void log_json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
	size_t p = *pos;

	for (; *s && p + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[p++] = '\\';
			buf[p++] = (char)c;
		} else if (c == '\n') {
			buf[p++] = '\\';
			buf[p++] = 'n';
		} else if (c == '\t') {
			buf[p++] = '\\';
			buf[p++] = 't';
		} else if (c < 0x20) {
			p += (size_t)snprintf(buf + p, cap - p, "\\u%04x", c);
		} else {
			buf[p++] = (char)c;
		}
	}
	buf[p] = '\0';
	*pos = p;
}

static void fmt_time(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[4096], line[8192], now[40];
	size_t pos = 0;
	int saved = errno;
	va_list ap;

	if (lvl > sink_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fmt_time(now, sizeof(now));

	if (!sink_is_file) {
		snprintf(line, sizeof(line), "husk: %s%s%s\n", lvl == LOG_ERROR ? "" : level_names[lvl],
			 lvl == LOG_ERROR ? "" : ": ", msg);
	} else if (sink_fmt == LOG_FORMAT_JSON) {
		pos = (size_t)snprintf(line, sizeof(line), "{\"level\":\"%s\",\"msg\":\"", level_names[lvl]);
		log_json_escape(line, sizeof(line) - 40, &pos, msg);
		snprintf(line + pos, sizeof(line) - pos, "\",\"time\":\"%s\"}\n", now);
	} else {
		pos = (size_t)snprintf(line, sizeof(line), "time=\"%s\" level=%s msg=\"", now,
				       level_names[lvl]);
		log_json_escape(line, sizeof(line) - 8, &pos, msg);
		snprintf(line + pos, sizeof(line) - pos, "\"\n");
	}
	(void)write_all(sink_fd, line, strlen(line));
	errno = saved;
}
