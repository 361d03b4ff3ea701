/* husk's error type: formatting, wrapping and freeing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

static int err_store(struct husk_err **err, int errnum, char *msg)
{
	if (errnum <= 0)
		errnum = EINVAL;
	if (!err) {
		free(msg);
		return -errnum;
	}
	husk_err_free(*err);
	*err = xmalloc(sizeof(**err));
	(*err)->code = errnum;
	(*err)->msg = msg;
	return -errnum;
}

int husk_err_set(struct husk_err **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *m, *full;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("%s: %s", m, strerror(errnum > 0 ? errnum : EINVAL));
	free(m);
	return err_store(err, errnum, full);
}

int husk_err_msg(struct husk_err **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	return err_store(err, errnum, m);
}

int husk_err_wrap(struct husk_err **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *full;

	if (!err || !*err)
		return -EINVAL;
	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = full;
	return -(*err)->code;
}

void husk_err_free(struct husk_err *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err);
}

void husk_err_freep(struct husk_err **err)
{
	husk_err_free(*err);
	*err = NULL;
}
