/* Allocation that aborts on out-of-memory, and small string helpers. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

static inline bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Free a NULL-terminated array of strings and the array itself. */
void strv_free(char **v);
size_t strv_len(char *const *v);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A file husk ships beside itself: DIR/rel for DIR the directory of /proc/self/exe (unless
 * that is a memfd copy, see runtime/selfexe.c), then of the real path of argv[0]; the first
 * one that access(mode) allows, malloc'd, or NULL. */
char *path_beside_self(const char *rel, int mode);
