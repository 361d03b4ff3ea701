/* Logging: one sink picked by main (stderr text, or a --log file as text or JSON lines). */
#pragma once

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* path NULL or "" means stderr. Returns 0 or -errno. */
int log_init(const char *path, enum log_format fmt, enum log_level max);
/* The sink's fd (children inherit it to report their own records). */
int log_fd(void);
enum log_level log_max_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `s` JSON-escaped (without quotes) to buf of size cap at *pos; truncates safely. */
void log_json_escape(char *buf, size_t cap, size_t *pos, const char *s);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_max_level() >= LOG_DEBUG)                                                  \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)
