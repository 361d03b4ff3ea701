/* A tiny TAP producer for husk's unit tests: table of cases, CHECK macros, tmpdir fakes.
 * A case returns 0 (pass), 77 (skip) or anything else (fail). */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test {
	const char *name;
	int (*fn)(void);
};

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			printf("# %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
			       #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");                    \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n)) {                                                      \
			printf("# %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,    \
			       _h ? _h : "(null)", _n);                                            \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static inline int tap_run(const struct test *tests, size_t n)
{
	int failed = 0;

	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		int r = tests[i].fn();

		if (r == 0)
			printf("ok %zu - %s\n", i + 1, tests[i].name);
		else if (r == 77)
			printf("ok %zu - %s # SKIP\n", i + 1, tests[i].name);
		else {
			printf("not ok %zu - %s\n", i + 1, tests[i].name);
			failed = 1;
		}
		fflush(stdout);
	}
	return failed;
}

#define TAP_MAIN(tests)                                                                            \
	int main(void)                                                                             \
	{                                                                                          \
		return tap_run(tests, sizeof(tests) / sizeof(tests[0]));                           \
	}

/* A temporary directory standing in for a cgroupfs or a rootfs. */
struct tmpdir {
	char path[64];
	int dfd;
	char *last_read;
};

static inline struct tmpdir *tmpdir_new(void)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	strcpy(t->path, "/tmp/husk-unit.XXXXXX");
	if (!mkdtemp(t->path))
		abort();
	t->dfd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dfd < 0)
		abort();
	return t;
}

/* Contents of `name` under the tmpdir, trailing newline stripped; valid until the next call. */
static inline const char *tmpdir_read(struct tmpdir *t, const char *name)
{
	char buf[4096];
	int fd = openat(t->dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	free(t->last_read);
	t->last_read = strdup(buf);
	return t->last_read;
}

static inline void tmpdir_freep(struct tmpdir **tp)
{
	struct tmpdir *t = *tp;
	char cmd[128];

	if (!t)
		return;
	close(t->dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", t->path);
	free(t->last_read);
	free(t);
}

#define cleanup_tmpdir __attribute__((cleanup(tmpdir_freep)))
