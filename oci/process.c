/* The process object (config.md#process): parsing, freeing, and oci_process_parse() for
 * `exec --process FILE`, whose error paths start at the object itself ("args: ..."). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "common/util.h"
#include "oci/parse.h"

static int parse_gid(const struct json_node *n, const struct json_path *p, void *item,
		     struct husk_err **err)
{
	uint64_t v;
	int r = json_as_u64(n, p, UINT32_MAX, &v, err);

	*(uint32_t *)item = (uint32_t)v;
	return r;
}

static int parse_user(const struct json_node *n, const struct json_path *p, struct oci_user *u,
		      struct husk_err **err)
{
	int r;

	if ((r = oci_read_u32(n, p, "uid", &u->uid, err)) < 0 ||
	    (r = oci_read_u32(n, p, "gid", &u->gid, err)) < 0 ||
	    (r = oci_read_ou64(n, p, "umask", UINT32_MAX, &u->umask, err)) < 0 ||
	    (r = json_read_str(n, p, "username", &u->username, err)) < 0)
		return r;
	r = oci_read_array(n, p, "additionalGids", sizeof(uint32_t), (void **)&u->additional_gids,
			   &u->n_additional_gids, parse_gid, err);
	return r < 0 ? r : 0;
}

static int parse_console(const struct json_node *n, const struct json_path *p,
			 struct oci_process *proc, struct husk_err **err)
{
	uint64_t h, w;
	int r;

	r = json_read_u64(n, p, "height", UINT_MAX, &h, err);
	if (r == 0)
		return json_missing(err, p, "height");
	if (r < 0)
		return r;
	r = json_read_u64(n, p, "width", UINT_MAX, &w, err);
	if (r == 0)
		return json_missing(err, p, "width");
	if (r < 0)
		return r;
	proc->has_console_size = true;
	proc->console_height = (unsigned)h;
	proc->console_width = (unsigned)w;
	return 0;
}

static int parse_caps(const struct json_node *n, const struct json_path *p, struct oci_caps *c,
		      struct husk_err **err)
{
	int r;

	if ((r = json_read_strv(n, p, "bounding", &c->bounding, err)) < 0 ||
	    (r = json_read_strv(n, p, "effective", &c->effective, err)) < 0 ||
	    (r = json_read_strv(n, p, "inheritable", &c->inheritable, err)) < 0 ||
	    (r = json_read_strv(n, p, "permitted", &c->permitted, err)) < 0 ||
	    (r = json_read_strv(n, p, "ambient", &c->ambient, err)) < 0)
		return r;
	return 0;
}

static int parse_rlimit(const struct json_node *n, const struct json_path *p, void *item,
			struct husk_err **err)
{
	struct oci_rlimit *rl = item;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0)
		return r;
	rl->resource = -1;
	if ((r = json_need_str(n, p, "type", &rl->type, err)) < 0)
		return r;
	if ((r = json_read_u64(n, p, "soft", UINT64_MAX, &rl->soft, err)) == 0)
		return json_missing(err, p, "soft");
	if (r < 0)
		return r;
	if ((r = json_read_u64(n, p, "hard", UINT64_MAX, &rl->hard, err)) == 0)
		return json_missing(err, p, "hard");
	return r < 0 ? r : 0;
}

static int parse_scheduler(const struct json_node *n, const struct json_path *p,
			   struct oci_scheduler *s, struct husk_err **err)
{
	int64_t nice = 0, prio = 0;
	int r;

	if ((r = json_read_str(n, p, "policy", &s->policy, err)) == 0)
		return json_missing(err, p, "policy");
	if (r < 0 || (r = json_read_i64(n, p, "nice", INT32_MIN, INT32_MAX, &nice, err)) < 0 ||
	    (r = json_read_i64(n, p, "priority", INT32_MIN, INT32_MAX, &prio, err)) < 0 ||
	    (r = json_read_strv(n, p, "flags", &s->flags, err)) < 0 ||
	    (r = json_read_u64(n, p, "runtime", UINT64_MAX, &s->runtime, err)) < 0 ||
	    (r = json_read_u64(n, p, "deadline", UINT64_MAX, &s->deadline, err)) < 0 ||
	    (r = json_read_u64(n, p, "period", UINT64_MAX, &s->period, err)) < 0)
		return r;
	s->nice = (int32_t)nice;
	s->priority = (int32_t)prio;
	return 0;
}

static int parse_ioprio(const struct json_node *n, const struct json_path *p,
			struct oci_io_priority *io, struct husk_err **err)
{
	int64_t prio;
	int r;

	if ((r = json_need_str(n, p, "class", &io->klass, err)) < 0)
		return r;
	if ((r = json_read_i64(n, p, "priority", INT_MIN, INT_MAX, &prio, err)) == 0)
		return json_missing(err, p, "priority");
	if (r < 0)
		return r;
	io->priority = (int)prio;
	return 0;
}

/* An optional object member parsed into a freshly allocated struct. */
#define SUBOBJ(key, field, fn)                                                                     \
	do {                                                                                       \
		const struct json_node *s;                                                         \
		if ((r = json_read_obj(n, p, key, &s, err)) < 0)                                   \
			return r;                                                                  \
		if (r > 0) {                                                                       \
			proc->field = xcalloc(1, sizeof(*proc->field));                            \
			if ((r = fn(s, JSON_KEY(p, key), proc->field, err)) < 0)                   \
				return r;                                                          \
		}                                                                                  \
	} while (0)

static int parse_linux_process(const struct json_node *n, const struct json_path *p,
			       struct oci_process *proc, struct husk_err **err)
{
	const struct json_node *s;
	int r;

	SUBOBJ("capabilities", capabilities, parse_caps);
	SUBOBJ("scheduler", scheduler, parse_scheduler);
	SUBOBJ("ioPriority", io_priority, parse_ioprio);
	if ((r = json_read_obj(n, p, "execCPUAffinity", &s, err)) > 0) {
		const struct json_path *ap = JSON_KEY(p, "execCPUAffinity");

		if ((r = json_read_str(s, ap, "initial", &proc->exec_cpu_affinity_initial, err)) >=
		    0)
			r = json_read_str(s, ap, "final", &proc->exec_cpu_affinity_final, err);
	}
	if (r < 0 ||
	    (r = json_read_bool(n, p, "noNewPrivileges", &proc->no_new_privileges, err)) < 0 ||
	    (r = json_read_str(n, p, "apparmorProfile", &proc->apparmor_profile, err)) < 0 ||
	    (r = json_read_str(n, p, "selinuxLabel", &proc->selinux_label, err)) < 0 ||
	    (r = oci_read_oi64(n, p, "oomScoreAdj", &proc->oom_score_adj, err)) < 0)
		return r;
	return 0;
}

int oci_parse_process(const struct json_node *n, const struct json_path *p,
		      struct oci_process *proc, struct husk_err **err)
{
	const struct json_node *s;
	int r;

	if ((r = json_as_obj(n, p, err)) < 0 ||
	    (r = json_read_bool(n, p, "terminal", &proc->terminal, err)) < 0 ||
	    (r = json_read_obj(n, p, "consoleSize", &s, err)) < 0 ||
	    (r > 0 && (r = parse_console(s, JSON_KEY(p, "consoleSize"), proc, err)) < 0) ||
	    (r = json_read_obj(n, p, "user", &s, err)) < 0 ||
	    (r > 0 && (r = parse_user(s, JSON_KEY(p, "user"), &proc->user, err)) < 0) ||
	    (r = json_read_strv(n, p, "args", &proc->args, err)) < 0 ||
	    (r = json_read_str(n, p, "commandLine", &proc->command_line, err)) < 0 ||
	    (r = json_read_strv(n, p, "env", &proc->env, err)) < 0 ||
	    (r = json_read_str(n, p, "cwd", &proc->cwd, err)) < 0)
		return r;
	r = oci_read_array(n, p, "rlimits", sizeof(struct oci_rlimit), (void **)&proc->rlimits,
			   &proc->n_rlimits, parse_rlimit, err);
	if (r < 0 || (r = parse_linux_process(n, p, proc, err)) < 0)
		return r;
	if (!proc->env)
		proc->env = xcalloc(1, sizeof(char *));
	return 0;
}

void oci_process_clear(struct oci_process *p)
{
	free(p->user.additional_gids);
	free(p->user.username);
	strv_free(p->args);
	free(p->command_line);
	strv_free(p->env);
	free(p->cwd);
	if (p->capabilities) {
		strv_free(p->capabilities->bounding);
		strv_free(p->capabilities->effective);
		strv_free(p->capabilities->inheritable);
		strv_free(p->capabilities->permitted);
		strv_free(p->capabilities->ambient);
		free(p->capabilities);
	}
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	if (p->scheduler) {
		free(p->scheduler->policy);
		strv_free(p->scheduler->flags);
		free(p->scheduler);
	}
	free(p->selinux_label);
	if (p->io_priority)
		free(p->io_priority->klass);
	free(p->io_priority);
	free(p->exec_cpu_affinity_initial);
	free(p->exec_cpu_affinity_final);
}

void oci_process_free(struct oci_process *p)
{
	if (!p)
		return;
	oci_process_clear(p);
	free(p);
}

int oci_process_parse(const char *buf, size_t len, struct oci_process **out, struct husk_err **err)
{
	cleanup_json_doc struct json_doc *doc = NULL;
	struct oci_process *proc;
	int r;

	r = json_parse(buf, len, &doc, err);
	if (r < 0)
		return r;
	proc = xcalloc(1, sizeof(*proc));
	r = oci_parse_process(json_doc_root(doc), NULL, proc, err);
	if (r >= 0)
		r = oci_validate_process(proc, NULL, err);
	if (r < 0) {
		oci_process_free(proc);
		return r;
	}
	*out = proc;
	return 0;
}
