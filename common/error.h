/* husk's error type: a message built up with context on the way out, plus the errno. */
#pragma once

#include <stdarg.h>

struct husk_err {
	int code;	/* positive errno value */
	char *msg;
};

/* Set *err to "fmt: strerror(errnum)"; returns -errnum. */
int husk_err_set(struct husk_err **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set *err to "fmt" alone (config errors, messages that already say why); returns -errnum. */
int husk_err_msg(struct husk_err **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix "fmt: " to an existing error; returns -(*err)->code. */
int husk_err_wrap(struct husk_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void husk_err_free(struct husk_err *err);
void husk_err_freep(struct husk_err **err);

#define cleanup_err __attribute__((cleanup(husk_err_freep)))
