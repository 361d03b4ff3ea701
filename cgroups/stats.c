/* `events --stats`: the cgroup's counters in runc's events JSON (the shape go-runc decodes for
 * containerd), and the OOM counters of memory.events. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "internal.h"
#include "oci/json.h"

/* A file holding one number, or "max" (returned as UINT64_MAX). false when absent. */
static bool read_num(int dfd, const char *name, uint64_t *out)
{
	cleanup_free char *b = cg_read(dfd, name);

	if (!b || !*b)
		return false;
	*out = strncmp(b, "max", 3) == 0 ? UINT64_MAX : strtoull(b, NULL, 10);
	return true;
}

static uint64_t keyed(const char *buf, const char *key)
{
	uint64_t v = 0;

	cg_keyed(buf, key, &v);
	return v;
}

static void gen_cpu(struct json_gen *g, int dfd)
{
	cleanup_free char *st = cg_read(dfd, "cpu.stat");

	json_gen_key(g, "cpu");
	json_gen_map_open(g);
	json_gen_key(g, "usage");
	json_gen_map_open(g);
	json_gen_kuint64(g, "total", keyed(st, "usage_usec") * 1000);
	json_gen_kuint64(g, "kernel", keyed(st, "system_usec") * 1000);
	json_gen_kuint64(g, "user", keyed(st, "user_usec") * 1000);
	json_gen_map_close(g);
	json_gen_key(g, "throttling");
	json_gen_map_open(g);
	json_gen_kuint64(g, "periods", keyed(st, "nr_periods"));
	json_gen_kuint64(g, "throttledPeriods", keyed(st, "nr_throttled"));
	json_gen_kuint64(g, "throttledTime", keyed(st, "throttled_usec") * 1000);
	json_gen_map_close(g);
	json_gen_map_close(g);
}

static void gen_mem_entry(struct json_gen *g, const char *key, uint64_t limit, uint64_t usage,
			  uint64_t max, uint64_t failcnt)
{
	json_gen_key(g, key);
	json_gen_map_open(g);
	json_gen_kuint64(g, "limit", limit);
	json_gen_kuint64(g, "usage", usage);
	if (max)
		json_gen_kuint64(g, "max", max);
	json_gen_kuint64(g, "failcnt", failcnt);
	json_gen_map_close(g);
}

/* memory.stat's keys as "raw", like runc. */
static void gen_raw(struct json_gen *g, const char *st)
{
	json_gen_key(g, "raw");
	json_gen_map_open(g);
	for (const char *p = st; p && *p;) {
		const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');
		char key[128];

		if (!sp || (nl && nl < sp) || (size_t)(sp - p) >= sizeof(key))
			break;
		memcpy(key, p, (size_t)(sp - p));
		key[sp - p] = '\0';
		json_gen_kuint64(g, key, strtoull(sp + 1, NULL, 10));
		if (!nl)
			break;
		p = nl + 1;
	}
	json_gen_map_close(g);
}

static void gen_memory(struct json_gen *g, int dfd)
{
	cleanup_free char *st = cg_read(dfd, "memory.stat"), *ev = cg_read(dfd, "memory.events");
	uint64_t usage = 0, limit = UINT64_MAX, peak = 0, swap = 0, swap_limit = UINT64_MAX;

	json_gen_key(g, "memory");
	json_gen_map_open(g);
	if (!read_num(dfd, "memory.current", &usage)) {
		json_gen_map_close(g);	/* no memory controller here */
		return;
	}
	read_num(dfd, "memory.max", &limit);
	read_num(dfd, "memory.peak", &peak);
	json_gen_kuint64(g, "cache", keyed(st, "file"));
	gen_mem_entry(g, "usage", limit, usage, peak, keyed(ev, "max"));
	/* v1 reported memory+swap; runc adds them up the same way on v2. */
	if (read_num(dfd, "memory.swap.current", &swap)) {
		read_num(dfd, "memory.swap.max", &swap_limit);
		if (swap_limit != UINT64_MAX && limit != UINT64_MAX)
			swap_limit += limit;
		gen_mem_entry(g, "swap", swap_limit, swap + usage, 0, 0);
	}
	gen_raw(g, st);
	json_gen_map_close(g);
}

static void gen_pids(struct json_gen *g, int dfd)
{
	uint64_t cur = 0, max = 0;

	json_gen_key(g, "pids");
	json_gen_map_open(g);
	if (read_num(dfd, "pids.current", &cur)) {
		json_gen_kuint64(g, "current", cur);
		/* "max" is no limit: runc leaves it out (0) */
		if (read_num(dfd, "pids.max", &max) && max != UINT64_MAX)
			json_gen_kuint64(g, "limit", max);
	}
	json_gen_map_close(g);
}

static void gen_blkio_list(struct json_gen *g, const char *key, const char *st, const char *rk,
			   const char *wk)
{
	json_gen_key(g, key);
	json_gen_array_open(g);
	for (const char *line = st; line && *line;) {
		cleanup_free char *l = NULL;
		const char *nl = strchr(line, '\n');
		unsigned maj, min;
		uint64_t v;

		l = xstrndup(line, nl ? (size_t)(nl - line) : strlen(line));
		if (sscanf(l, "%u:%u", &maj, &min) == 2) {
			const char *ops[2][2] = { { rk, "Read" }, { wk, "Write" } };

			for (int i = 0; i < 2; i++) {
				char k[32];
				const char *at;

				snprintf(k, sizeof(k), " %s=", ops[i][0]);
				if (!(at = strstr(l, k)))
					continue;
				v = strtoull(at + strlen(k), NULL, 10);
				json_gen_map_open(g);
				json_gen_kuint64(g, "major", maj);
				json_gen_kuint64(g, "minor", min);
				json_gen_kstr(g, "op", ops[i][1]);
				json_gen_kuint64(g, "value", v);
				json_gen_map_close(g);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	json_gen_array_close(g);
}

static void gen_blkio(struct json_gen *g, int dfd)
{
	cleanup_free char *st = cg_read(dfd, "io.stat");

	json_gen_key(g, "blkio");
	json_gen_map_open(g);
	gen_blkio_list(g, "ioServiceBytesRecursive", st, "rbytes", "wbytes");
	gen_blkio_list(g, "ioServicedRecursive", st, "rios", "wios");
	json_gen_map_close(g);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* hugetlb.<size>.current for every page size the kernel has. */
static void gen_hugetlb(struct json_gen *g, int dfd)
{
	cleanup_strv char **sizes = xcalloc(1, sizeof(char *));
	size_t n = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (startswith(de->d_name, "hugetlb.") && l > 16 &&
		    streq(de->d_name + l - 8, ".current") && !strstr(de->d_name, ".rsvd.")) {
			sizes = xrealloc(sizes, (n + 2) * sizeof(char *));
			sizes[n++] = xstrndup(de->d_name + 8, l - 16);
			sizes[n] = NULL;
		}
	}
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	qsort(sizes, n, sizeof(char *), cmp_str);
	json_gen_key(g, "hugetlb");
	json_gen_map_open(g);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *cur = xasprintf("hugetlb.%s.current", sizes[i]),
				  *max = xasprintf("hugetlb.%s.max", sizes[i]),
				  *evn = xasprintf("hugetlb.%s.events", sizes[i]), *ev = NULL;
		uint64_t u = 0, m = 0;

		ev = cg_read(dfd, evn);
		read_num(dfd, cur, &u);
		read_num(dfd, max, &m);
		json_gen_key(g, sizes[i]);
		json_gen_map_open(g);
		json_gen_kuint64(g, "usage", u);
		json_gen_kuint64(g, "max", m);
		json_gen_kuint64(g, "failcnt", keyed(ev, "max"));
		json_gen_map_close(g);
	}
	json_gen_map_close(g);
}

int cgroup_stats_json(const char *path, const char *id, char **out, struct husk_err **err)
{
	cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_json_gen struct json_gen *g = json_gen_new(NULL);

	if (dfd < 0)
		return husk_err_set(err, errno, "open cgroup `%s`", path);
	json_gen_map_open(g);
	json_gen_kstr(g, "type", "stats");
	json_gen_kstr(g, "id", id);
	json_gen_key(g, "data");
	json_gen_map_open(g);
	gen_cpu(g, dfd);
	gen_memory(g, dfd);
	gen_pids(g, dfd);
	gen_blkio(g, dfd);
	gen_hugetlb(g, dfd);
	json_gen_map_close(g);
	json_gen_map_close(g);
	*out = json_gen_dup(g, NULL);
	if (!*out)
		return husk_err_msg(err, EINVAL, "cgroup `%s`: cannot build the stats JSON", path);
	return 0;
}

int cgroup_oom_count(const char *path, uint64_t *oom, uint64_t *oom_kill)
{
	cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *ev = NULL;

	*oom = *oom_kill = 0;
	if (dfd < 0)
		return -errno;
	ev = cg_read(dfd, "memory.events");
	if (!ev)
		return -errno;
	cg_keyed(ev, "oom", oom);
	cg_keyed(ev, "oom_kill", oom_kill);
	return 0;
}
