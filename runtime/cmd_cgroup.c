/* pause, resume, ps, update, events: the commands that act on a container's cgroup. argv to
 * options, the container from the store, then one cgroups/ call. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cmd.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "store.h"

/* The container `id` with its cgroup path; `lock` for commands that change it. */
struct cg_ct {
	struct store s;
	struct ct c;
	const char *path;
	enum ct_status st;
};

static void cg_ct_release(struct cg_ct *x)
{
	ct_release(&x->c);
	store_close(&x->s);
}

static int cg_ct_load(struct globals *g, const char *id, bool lock, struct cg_ct *x,
		      struct husk_err **err)
{
	int r;

	*x = (struct cg_ct){ .s.dfd = -1, .c.dfd = -1 };
	if ((r = store_open_ct(g->root, id, lock, &x->s, &x->c, err)) < 0)
		return r;
	if (!x->c.st)
		return husk_err_msg(err, EBUSY, "container \"%s\" is still being created", id);
	x->st = ct_status(&x->c);
	if (x->st == CT_STOPPED)
		return husk_err_msg(err, ESRCH, "container \"%s\" is not running", id);
	x->path = x->c.st->cgroup_path;
	if (!x->path || !*x->path)
		return husk_err_msg(err, EOPNOTSUPP, "container \"%s\" has no cgroup of its own (no "
				    "cgroup v2 hierarchy was available when it was created)", id);
	return 0;
}

/* ---- pause, resume ---- */

static int freeze_cmd(struct globals *g, int argc, char **argv, bool frozen)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	const char *cmd = frozen ? "pause" : "resume";
	struct husk_err *err = NULL;
	struct cg_ct x;
	const char *id;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":h", opts, NULL)) != -1)
		return cmd_help_or_fail(g, cmd, frozen ?
				    "usage: husk pause ID\n\nFreeze every process of the container "
				    "(cgroup.freeze); 'husk state' then says \"paused\".\n" :
				    "usage: husk resume ID\n\nThaw a container frozen by 'husk "
				    "pause'.\n", ch, argv);
	if (cmd_take_id(g, cmd, argc, argv, &id) != 0)
		return 1;
	r = cg_ct_load(g, id, true, &x, &err);
	if (r == 0 && frozen && cgroup_is_frozen(x.path))
		r = husk_err_msg(&err, EINVAL, "container \"%s\" is already paused", id);
	else if (r == 0 && !frozen && !cgroup_is_frozen(x.path))
		r = husk_err_msg(&err, EINVAL, "container \"%s\" is not paused", id);
	if (r == 0)
		r = cgroup_freeze(x.path, frozen, &err);
	cg_ct_release(&x);
	return r < 0 ? cmd_report(g, err) : 0;
}

int cmd_pause(struct globals *g, int argc, char **argv)
{
	return freeze_cmd(g, argc, argv, true);
}

int cmd_resume(struct globals *g, int argc, char **argv)
{
	return freeze_cmd(g, argc, argv, false);
}

/* ---- ps ---- */

static bool has_pid(const pid_t *v, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* Run ps(1) with args and keep the header plus the lines of our pids, as runc does. */
static int ps_table(struct globals *g, char **args, const pid_t *pids, size_t n)
{
	cleanup_free char *out = NULL;
	int p[2], status, col = -1;
	pid_t child;
	char *line, *save = NULL;

	if (pipe2(p, O_CLOEXEC) < 0)
		return cmd_fail(g, "ps: pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		return cmd_fail(g, "ps: fork: %s", strerror(errno));
	if (child == 0) {
		dup2(p[1], STDOUT_FILENO);
		execvp("ps", args);
		fprintf(stderr, "husk: ps: exec ps: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	read_all(p[0], &out, NULL);
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out)
		return cmd_fail(g, "ps: `ps` failed (status %d)", WEXITSTATUS(status));
	line = strtok_r(out, "\n", &save);
	if (!line)
		return cmd_fail(g, "ps: no output from ps");
	{
		cleanup_free char *head = xstrdup(line);
		char *hs = NULL;
		int k = 0;

		for (char *w = strtok_r(head, " \t", &hs); w; w = strtok_r(NULL, " \t", &hs), k++)
			if (streq(w, "PID"))
				col = k;
	}
	if (col < 0)
		return cmd_fail(g, "ps: no PID column in the output of ps");
	puts(line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		cleanup_free char *copy = xstrdup(line);
		char *ls = NULL, *w = strtok_r(copy, " \t", &ls);

		for (int k = 0; w && k < col; k++)
			w = strtok_r(NULL, " \t", &ls);
		if (w && has_pid(pids, n, strtol(w, NULL, 10)))
			puts(line);
	}
	return 0;
}

int cmd_ps(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	static char *default_args[] = { (char *)"-ef", NULL };
	cleanup_free pid_t *pids = NULL;
	cleanup_free char **args = NULL;
	struct husk_err *err = NULL;
	bool json = false;
	struct cg_ct x;
	size_t n = 0, nargs;
	char **extra;
	int ch, r;

	opterr = 0;
	/* '+': stop at the ID; what follows it belongs to ps */
	while ((ch = getopt_long_only(argc, argv, "+:f:h", opts, NULL)) != -1) {
		if (ch == 'f' && (streq(optarg, "json") || streq(optarg, "table"))) {
			json = streq(optarg, "json");
			continue;
		}
		if (ch == 'f')
			return cmd_fail(g, "ps: --format: expected table or json, got \"%s\"", optarg);
		return cmd_help_or_fail(g, "ps", "usage: husk ps [--format table|json] ID [PS_ARGS...]\n\n"
				    "List the processes of a container: json prints their host pids, "
				    "table runs\nps(1) with PS_ARGS (default -ef) and keeps the lines "
				    "of the container.\n\nOptions:\n  -f, --format FORMAT  table "
				    "(default) or json\n  -h, --help           show this help\n", ch,
				    argv);
	}
	if (optind >= argc)
		return cmd_fail(g, "ps: missing container ID (see husk ps --help)");
	extra = argv + optind + 1;
	if (*extra && streq(*extra, "--"))
		extra++;
	if (json && *extra)
		return cmd_fail(g, "ps: PS_ARGS only go with --format table");
	r = cg_ct_load(g, argv[optind], false, &x, &err);
	if (r == 0)
		r = cgroup_pids(x.path, &pids, &n, &err);
	cg_ct_release(&x);
	if (r < 0)
		return cmd_report(g, err);
	if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		puts("]");
		return 0;
	}
	nargs = strv_len(*extra ? extra : default_args);
	args = xcalloc(nargs + 2, sizeof(*args));
	args[0] = (char *)"ps";
	memcpy(args + 1, *extra ? extra : default_args, nargs * sizeof(*args));
	return ps_table(g, args, pids, n);
}

/* ---- update ---- */

/* "512m", "1G", "1048576", "1.5g"; "-1" is unlimited. Binary multipliers, like runc. */
static int parse_size(const char *s, int64_t *out)
{
	static const char units[] = "kmgtp";
	char *end;
	double v;
	const char *u;

	if (streq(s, "-1")) {
		*out = -1;
		return 0;
	}
	v = strtod(s, &end);
	if (end == s || v < 0)
		return -EINVAL;
	if (*end == ' ')
		end++;
	if (*end && (u = strchr(units, tolower((unsigned char)*end)))) {
		for (long i = 0; i <= u - units; i++)
			v *= 1024;
		end++;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > (double)INT64_MAX)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (!*s || *end || errno) ? -EINVAL : 0;
}

enum {
	U_RESOURCES = 'r', U_BLKIO_WEIGHT = 256, U_CPU_PERIOD, U_CPU_QUOTA, U_CPU_SHARE,
	U_CPU_RT_PERIOD, U_CPU_RT_RUNTIME, U_CPUSET_CPUS, U_CPUSET_MEMS, U_CPU_IDLE, U_MEMORY,
	U_MEMORY_RES, U_MEMORY_SWAP, U_KMEM, U_KMEM_TCP, U_PIDS, U_L3, U_MEMBW,
};

static const char update_help[] =
	"usage: husk update [options] ID\n\n"
	"Change the resource limits of a running container, live.\n\n"
	"Options:\n"
	"  -r, --resources FILE       a LinuxResources JSON object (config-linux.md), - for stdin;\n"
	"                             the flags below override what it sets\n"
	"  --memory SIZE              memory limit (memory.max), e.g. 512m; -1 for none\n"
	"  --memory-reservation SIZE  soft limit (memory.low)\n"
	"  --memory-swap SIZE         memory plus swap, as on cgroup v1; -1 for unlimited swap\n"
	"  --cpu-share N              CPU shares, converted to cpu.weight\n"
	"  --cpu-quota N              CPU time in us per period (cpu.max); -1 for none\n"
	"  --cpu-period N             CPU period in us\n"
	"  --cpu-idle 0|1             SCHED_IDLE for the whole cgroup\n"
	"  --cpuset-cpus LIST         CPUs allowed (cpuset.cpus), e.g. 0-2,4\n"
	"  --cpuset-mems LIST         memory nodes allowed (cpuset.mems)\n"
	"  --pids-limit N             maximum number of tasks; 0 or -1 for none\n"
	"  --blkio-weight N           block IO weight, 10-1000\n"
	"  --cpu-rt-period, --cpu-rt-runtime, --kernel-memory, --kernel-memory-tcp,\n"
	"  --l3-cache-schema, --mem-bw-schema   accepted for runc compatibility; refused\n"
	"                             when they would set something cgroup v2 cannot express\n"
	"  -h, --help                 show this help\n";

static int read_resources(const char *file, struct oci_resources **res, struct husk_err **err)
{
	cleanup_close int fd = streq(file, "-") ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t len;
	int r;

	if (fd < 0)
		return husk_err_set(err, errno, "--resources: open `%s`", file);
	if ((r = read_all(fd, &buf, &len)) < 0)
		return husk_err_set(err, -r, "--resources: read `%s`", file);
	if ((r = oci_resources_parse(buf, len, res, err)) < 0)
		return husk_err_wrap(err, "--resources");
	return 0;
}

/* One flag into res; returns 0 or -EINVAL (the caller names the flag). */
static int update_flag(struct oci_resources *res, int opt, const char *v)
{
	struct oci_memory *m = res->memory ? res->memory : (res->memory = xcalloc(1, sizeof(*m)));
	struct oci_cpu *c = res->cpu ? res->cpu : (res->cpu = xcalloc(1, sizeof(*c)));
	int64_t n;

	switch (opt) {
	case U_MEMORY: return parse_size(v, &n) ? -EINVAL : (m->limit = (struct oci_i64){ true, n }, 0);
	case U_MEMORY_RES:
		return parse_size(v, &n) ? -EINVAL : (m->reservation = (struct oci_i64){ true, n }, 0);
	case U_MEMORY_SWAP: return parse_size(v, &n) ? -EINVAL : (m->swap = (struct oci_i64){ true, n }, 0);
	case U_KMEM: return parse_size(v, &n) ? -EINVAL : (m->kernel = (struct oci_i64){ true, n }, 0);
	case U_KMEM_TCP:
		return parse_size(v, &n) ? -EINVAL : (m->kernel_tcp = (struct oci_i64){ true, n }, 0);
	case U_CPU_QUOTA: return parse_int(v, &n) ? -EINVAL : (c->quota = (struct oci_i64){ true, n }, 0);
	case U_CPU_IDLE: return parse_int(v, &n) ? -EINVAL : (c->idle = (struct oci_i64){ true, n }, 0);
	case U_CPU_RT_RUNTIME:
		return parse_int(v, &n) ? -EINVAL : (c->realtime_runtime = (struct oci_i64){ true, n }, 0);
	case U_CPUSET_CPUS: free(c->cpus); c->cpus = xstrdup(v); return 0;
	case U_CPUSET_MEMS: free(c->mems); c->mems = xstrdup(v); return 0;
	case U_PIDS:
		if (parse_int(v, &n))
			return -EINVAL;
		res->has_pids = true;
		res->pids_limit = n;
		return 0;
	}
	if (parse_int(v, &n) || n < 0)
		return -EINVAL;
	switch (opt) {
	case U_CPU_PERIOD: c->period = (struct oci_u64){ true, (uint64_t)n }; return 0;
	case U_CPU_SHARE: c->shares = (struct oci_u64){ true, (uint64_t)n }; return 0;
	case U_CPU_RT_PERIOD: c->realtime_period = (struct oci_u64){ true, (uint64_t)n }; return 0;
	case U_BLKIO_WEIGHT:
		if (!res->blkio)
			res->blkio = xcalloc(1, sizeof(*res->blkio));
		res->blkio->weight = (struct oci_u64){ true, (uint64_t)n };
		return 0;
	}
	return -EINVAL;
}

int cmd_update(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resources", required_argument, NULL, U_RESOURCES },
		{ "blkio-weight", required_argument, NULL, U_BLKIO_WEIGHT },
		{ "cpu-period", required_argument, NULL, U_CPU_PERIOD },
		{ "cpu-quota", required_argument, NULL, U_CPU_QUOTA },
		{ "cpu-share", required_argument, NULL, U_CPU_SHARE },
		{ "cpu-rt-period", required_argument, NULL, U_CPU_RT_PERIOD },
		{ "cpu-rt-runtime", required_argument, NULL, U_CPU_RT_RUNTIME },
		{ "cpuset-cpus", required_argument, NULL, U_CPUSET_CPUS },
		{ "cpuset-mems", required_argument, NULL, U_CPUSET_MEMS },
		{ "cpu-idle", required_argument, NULL, U_CPU_IDLE },
		{ "memory", required_argument, NULL, U_MEMORY },
		{ "memory-reservation", required_argument, NULL, U_MEMORY_RES },
		{ "memory-swap", required_argument, NULL, U_MEMORY_SWAP },
		{ "kernel-memory", required_argument, NULL, U_KMEM },
		{ "kernel-memory-tcp", required_argument, NULL, U_KMEM_TCP },
		{ "pids-limit", required_argument, NULL, U_PIDS },
		{ "l3-cache-schema", required_argument, NULL, U_L3 },
		{ "mem-bw-schema", required_argument, NULL, U_MEMBW },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct { int opt; const char *val; } flags[32];
	size_t nflags = 0;
	const char *file = NULL, *id;
	struct oci_resources *res = NULL;
	struct husk_err *err = NULL;
	struct cg_ct x;
	int ch, r, idx;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":r:h", opts, &idx)) != -1) {
		if (ch == U_RESOURCES)
			file = optarg;
		else if (ch == U_L3 || ch == U_MEMBW)
			return cmd_fail(g, "update: --%s: Intel RDT is not supported by husk",
					opts[idx].name);
		else if (ch >= U_BLKIO_WEIGHT && ch <= U_MEMBW && nflags < ARRAY_SIZE(flags))
			flags[nflags].opt = ch, flags[nflags++].val = optarg;
		else
			return cmd_help_or_fail(g, "update", update_help, ch, argv);
	}
	if (cmd_take_id(g, "update", argc, argv, &id) != 0)
		return 1;
	if (file && read_resources(file, &res, &err) < 0)
		return cmd_report(g, err);
	if (!file && !nflags)
		return cmd_fail(g, "update: nothing to change (see husk update --help)");
	if (!res)
		res = xcalloc(1, sizeof(*res));
	for (size_t i = 0; i < nflags; i++) {
		if (update_flag(res, flags[i].opt, flags[i].val) == 0)
			continue;
		for (size_t k = 0; opts[k].name; k++)
			if (opts[k].val == flags[i].opt)
				cmd_fail(g, "update: --%s: invalid value \"%s\"", opts[k].name,
					 flags[i].val);
		oci_resources_free(res);
		return 1;
	}
	r = cg_ct_load(g, id, true, &x, &err);
	if (r == 0)
		r = cgroup_update(x.path, res, &err);
	cg_ct_release(&x);
	oci_resources_free(res);
	return r < 0 ? cmd_report(g, err) : 0;
}

/* ---- events ---- */

/* "5s", "100ms", "1m", "2" (seconds) -> milliseconds; -1 when invalid. */
static long parse_interval(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return -1;
	if (!*end || streq(end, "s"))
		return (long)(v * 1000);
	if (streq(end, "ms"))
		return (long)v;
	if (streq(end, "m"))
		return (long)(v * 60000);
	return -1;
}

static int print_stats(const char *path, const char *id, struct husk_err **err)
{
	cleanup_free char *json = NULL;
	int r = cgroup_stats_json(path, id, &json, err);

	if (r == 0) {
		puts(json);
		fflush(stdout);
	}
	return r;
}

/* Print {"type":"oom"} when memory.events counts a new OOM since the last look. */
static void check_oom(const char *path, const char *id, uint64_t *oom0, uint64_t *kill0)
{
	uint64_t oom, kill;

	if (cgroup_oom_count(path, &oom, &kill) == 0 && (kill > *kill0 || oom > *oom0)) {
		printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
		fflush(stdout);
		*oom0 = oom;
		*kill0 = kill;
	}
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Stream: stats every interval, an "oom" event whenever memory.events counts a new one;
 * until the container stops. */
static int events_stream(struct cg_ct *x, const char *id, long interval_ms, struct husk_err **err)
{
	cleanup_close int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	cleanup_close int pidfd = ct_pidfd(&x->c);	/* readable once the init has exited */
	cleanup_free char *events = xasprintf("%s/memory.events", x->path);
	uint64_t oom0, kill0;
	struct timespec next;
	char buf[4096];
	int r;

	cgroup_oom_count(x->path, &oom0, &kill0);
	if (in >= 0)
		inotify_add_watch(in, events, IN_MODIFY);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		long wait_ms = ms_until(&next);

		/* Without inotify, memory.events is looked at at least once a second. */
		if (wait_ms > 0 && poll(p, 2, in >= 0 ? (int)wait_ms : (int)(wait_ms < 1000 ? wait_ms
										      : 1000)) > 0)
			while (read(in, buf, sizeof(buf)) > 0)
				;
		check_oom(x->path, id, &oom0, &kill0);
		if (pidfd < 0 || (p[1].revents & POLLIN) || access(x->path, F_OK) < 0)
			return 0;
		if (ms_until(&next) > 0)
			continue;
		if ((r = print_stats(x->path, id, err)) < 0)
			return r;
		next.tv_sec += interval_ms / 1000;
		next.tv_nsec += (interval_ms % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000)
			next.tv_sec++, next.tv_nsec -= 1000000000;
	}
}

int cmd_events(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "stats", no_argument, NULL, 's' },
					      { "interval", required_argument, NULL, 'i' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	struct husk_err *err = NULL;
	long interval = 5000;
	bool stats = false;
	const char *id;
	struct cg_ct x;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":si:h", opts, NULL)) != -1) {
		if (ch == 's')
			stats = true;
		else if (ch == 'i' && (interval = parse_interval(optarg)) < 0)
			return cmd_fail(g, "events: --interval: expected a duration like 5s or 500ms, "
					"got \"%s\"", optarg);
		else if (ch != 'i')
			return cmd_help_or_fail(g, "events", "usage: husk events [--stats] [--interval "
					    "DURATION] ID\n\nPrint the container's resource usage "
					    "as JSON lines in runc's events format:\n"
					    "{\"type\":\"stats\",\"id\":ID,\"data\":{...}} every "
					    "interval, and {\"type\":\"oom\",\"id\":ID}\nwhen the OOM "
					    "killer acts in it; until the container stops.\n\nOptions:\n"
					    "  --stats             print the stats once and exit\n"
					    "  --interval DURATION time between stats (default 5s)\n"
					    "  -h, --help          show this help\n", ch, argv);
	}
	if (cmd_take_id(g, "events", argc, argv, &id) != 0)
		return 1;
	r = cg_ct_load(g, id, false, &x, &err);
	if (r == 0)
		r = stats ? print_stats(x.path, id, &err) : events_stream(&x, id, interval, &err);
	cg_ct_release(&x);
	return r < 0 ? cmd_report(g, err) : 0;
}
