/* husk's state.json (write and read, versioned) and the OCI state objects that `state`,
 * `list --format json` and hooks print. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "oci/json.h"
#include "oci/parse.h"
#include "oci/state.h"

static void gen_map(struct json_gen *g, const char *key, const struct oci_map *m)
{
	json_gen_key(g, key);
	json_gen_map_open(g);
	for (size_t i = 0; i < m->n; i++)
		json_gen_kstr(g, m->items[i].key, m->items[i].value);
	json_gen_map_close(g);
}

/* Optional strings are left out rather than written as null. */
static void gen_opt_str(struct json_gen *g, const char *key, const char *s)
{
	if (s)
		json_gen_kstr(g, key, s);
}

int husk_state_to_json(const struct husk_state *s, char **out, size_t *len, struct husk_err **err)
{
	cleanup_json_gen struct json_gen *g = json_gen_new(NULL);

	json_gen_map_open(g);
	json_gen_kint64(g, "version", HUSK_STATE_VERSION);
	json_gen_kstr(g, "id", s->id ? s->id : "");
	gen_opt_str(g, "bundle", s->bundle);
	gen_opt_str(g, "rootfs", s->rootfs);
	gen_opt_str(g, "created", s->created);
	gen_opt_str(g, "owner", s->owner);
	json_gen_kint64(g, "pid", s->pid);
	json_gen_kuint64(g, "pidStart", s->pid_start);
	json_gen_kbool(g, "createdDone", s->created_done);
	gen_map(g, "annotations", &s->annotations);
	gen_opt_str(g, "cgroupPath", s->cgroup_path);
	gen_opt_str(g, "isolation", s->isolation);
	json_gen_kbool(g, "ownPidns", s->own_pidns);
	gen_opt_str(g, "configPath", s->config_path);
	json_gen_map_close(g);
	*out = json_gen_dup(g, len);
	if (!*out)
		return husk_err_msg(err, EINVAL, "encode state of `%s`", s->id ? s->id : "");
	return 0;
}

static int state_read(const struct json_node *n, struct husk_state *s, struct husk_err **err)
{
	int64_t v = 0, pid = 0;
	int r;

	if ((r = json_as_obj(n, NULL, err)) < 0)
		return r;
	if ((r = json_read_i64(n, NULL, "version", 1, INT_MAX, &v, err)) == 0)
		return json_missing(err, NULL, "version");
	if (r < 0)
		return r;
	if (v > HUSK_STATE_VERSION)
		return json_err(err, JSON_KEY(NULL, "version"),
				"state version %" PRId64 " is newer than this husk's (%d)", v,
				HUSK_STATE_VERSION);
	s->version = (int)v;
	if ((r = json_read_str(n, NULL, "id", &s->id, err)) == 0)
		return json_missing(err, NULL, "id");
	if (r < 0 || (r = json_read_str(n, NULL, "bundle", &s->bundle, err)) < 0 ||
	    (r = json_read_str(n, NULL, "rootfs", &s->rootfs, err)) < 0 ||
	    (r = json_read_str(n, NULL, "created", &s->created, err)) < 0 ||
	    (r = json_read_str(n, NULL, "owner", &s->owner, err)) < 0 ||
	    (r = json_read_i64(n, NULL, "pid", 0, INT_MAX, &pid, err)) < 0 ||
	    (r = json_read_u64(n, NULL, "pidStart", UINT64_MAX, &s->pid_start, err)) < 0 ||
	    (r = json_read_bool(n, NULL, "createdDone", &s->created_done, err)) < 0 ||
	    (r = oci_read_map(n, NULL, "annotations", &s->annotations, err)) < 0 ||
	    (r = json_read_str(n, NULL, "cgroupPath", &s->cgroup_path, err)) < 0 ||
	    (r = json_read_str(n, NULL, "isolation", &s->isolation, err)) < 0 ||
	    (r = json_read_bool(n, NULL, "ownPidns", &s->own_pidns, err)) < 0 ||
	    (r = json_read_str(n, NULL, "configPath", &s->config_path, err)) < 0)
		return r;
	s->pid = (int)pid;
	return 0;
}

int husk_state_from_json(const char *buf, size_t len, struct husk_state **out,
			 struct husk_err **err)
{
	cleanup_json_doc struct json_doc *doc = NULL;
	struct husk_state *s;
	int r;

	r = json_parse(buf, len, &doc, err);
	if (r < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	r = state_read(json_doc_root(doc), s, err);
	if (r < 0) {
		husk_state_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void husk_state_free(struct husk_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->owner);
	oci_map_clear(&s->annotations);
	free(s->cgroup_path);
	free(s->isolation);
	free(s->config_path);
	free(s);
}

/* One OCI state object, in runc's field order. */
static void gen_oci_state(struct json_gen *g, const struct husk_state *s, const char *status,
			  bool always_pid)
{
	json_gen_map_open(g);
	json_gen_kstr(g, "ociVersion", OCI_VERSION);
	json_gen_kstr(g, "id", s->id ? s->id : "");
	/* runtime.md#state: pid is REQUIRED only while created or running */
	if (always_pid || (s->pid > 0 && !streq(status, "stopped")))
		json_gen_kint64(g, "pid", streq(status, "stopped") ? 0 : s->pid);
	json_gen_kstr(g, "status", status);
	json_gen_kstr(g, "bundle", s->bundle ? s->bundle : "");
	json_gen_kstr(g, "rootfs", s->rootfs ? s->rootfs : "");
	json_gen_kstr(g, "created", s->created ? s->created : "");
	json_gen_kstr(g, "owner", s->owner ? s->owner : "");
	if (s->annotations.n)
		gen_map(g, "annotations", &s->annotations);
	json_gen_map_close(g);
}

char *oci_state_json(const struct husk_state *s, const char *status, bool pretty, size_t *len)
{
	cleanup_json_gen struct json_gen *g = json_gen_new(pretty ? "  " : NULL);

	gen_oci_state(g, s, status, false);
	return json_gen_dup(g, len);
}

char *oci_process_state_json(const struct husk_state *s, const char *status, int pid,
			     const char *metadata, const char *const *fds, size_t *len)
{
	cleanup_json_gen struct json_gen *g = json_gen_new(NULL);

	json_gen_map_open(g);
	json_gen_kstr(g, "ociVersion", OCI_VERSION);
	json_gen_key(g, "fds");
	json_gen_strv(g, fds);
	json_gen_kint64(g, "pid", pid);
	if (metadata)
		json_gen_kstr(g, "metadata", metadata);
	json_gen_key(g, "state");
	gen_oci_state(g, s, status, false);
	json_gen_map_close(g);
	return json_gen_dup(g, len);
}

char *oci_state_list_json(const struct husk_state *const *s, const char *const *status, size_t n,
			  size_t *len)
{
	cleanup_json_gen struct json_gen *g = json_gen_new(NULL);

	json_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		gen_oci_state(g, s[i], status[i], true);
	json_gen_array_close(g);
	return json_gen_dup(g, len);
}

char *oci_time_rfc3339(const struct timespec *ts)
{
	struct timespec now;
	struct tm tm;
	char date[32], frac[24] = "";

	if (!ts) {
		clock_gettime(CLOCK_REALTIME, &now);
		ts = &now;
	}
	gmtime_r(&ts->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts->tv_nsec > 0) {
		size_t n;

		snprintf(frac, sizeof(frac), ".%09ld", (long)(ts->tv_nsec % 1000000000));
		n = strlen(frac);
		while (frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	return xasprintf("%s%sZ", date, frac);
}
