/* Allocation that aborts on out-of-memory, small string helpers, files beside husk. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void oom(void)
{
	static const char msg[] = "husk: out of memory\n";

	(void)!fwrite(msg, 1, sizeof(msg) - 1, stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

void strv_freep(char ***v)
{
	strv_free(*v);
	*v = NULL;
}

/* DIR/rel if dir_of names a file in an absolute directory and DIR/rel passes access(mode). */
static char *beside(const char *dir_of, const char *rel, int mode)
{
	const char *slash = dir_of ? strrchr(dir_of, '/') : NULL;
	char *p;

	if (!slash || dir_of[0] != '/')
		return NULL;
	p = xasprintf("%.*s/%s", (int)(slash - dir_of), dir_of, rel);
	if (access(p, mode) == 0)
		return p;
	free(p);
	return NULL;
}

char *path_beside_self(const char *rel, int mode)
{
	char exe[PATH_MAX], *real, *p = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		/* A sealed copy reads "/memfd:husk (deleted)": no directory to look in. */
		if (strncmp(exe, "/memfd:", 7) != 0)
			p = beside(exe, rel, mode);
	}
	if (!p && (real = realpath(program_invocation_name, NULL))) {
		p = beside(real, rel, mode);
		free(real);
	}
	return p;
}
