/* Semantic checks over a parsed config: values the spec constrains (absolute paths, known
 * names, soft <= hard) and fields that depend on each other (mappings need a user namespace).
 * Everything is checked before husk creates anything (runtime.md#errors). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "oci/names.h"
#include "oci/parse.h"

static bool is_abs(const char *s)
{
	return s && s[0] == '/';
}

static int need_abs(const char *s, const struct json_path *p, struct husk_err **err)
{
	if (s && !is_abs(s))
		return json_err(err, p, "must be an absolute path, got \"%s\"", s);
	return 0;
}

/* Every entry of a NULL-terminated vector must be in `known`. */
static int need_known(char *const *v, const char *const *known, const struct json_path *p,
		      const char *what, struct husk_err **err)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!oci_name_known(known, v[i]))
			return json_err(err, JSON_IDX(p, i), "unknown %s \"%s\"", what, v[i]);
	return 0;
}

static int need_env(char *const *env, const struct json_path *p, struct husk_err **err)
{
	for (size_t i = 0; env && env[i]; i++)
		if (!strchr(env[i], '=') || env[i][0] == '=')
			return json_err(err, JSON_IDX(p, i), "expected KEY=VALUE, got \"%s\"",
					env[i]);
	return 0;
}

/* config.md#specification-version: SemVer 2.0.0; husk reads every 1.x (minor versions only
 * add fields, and unknown fields are ignored). */
static int check_version(const char *v, struct husk_err **err)
{
	const struct json_path *p = JSON_KEY(NULL, "ociVersion");
	const char *s = v;
	unsigned long major = 0;

	for (int part = 0; part < 3; part++) {
		char *end;

		if (*s < '0' || *s > '9')
			goto bad;
		if (part == 0)
			major = strtoul(s, &end, 10);
		else
			strtoul(s, &end, 10);
		s = end;
		if (part < 2 && *s++ != '.')
			goto bad;
	}
	if (*s && *s != '-' && *s != '+')
		goto bad;
	if (major != 1)
		return json_err(err, p, "unsupported version \"%s\" (husk supports 1.0.0 to %s)", v,
				OCI_VERSION);
	return 0;
bad:
	return json_err(err, p, "invalid version \"%s\" (expected SemVer such as \"%s\")", v,
			OCI_VERSION);
}

static int check_rlimits(const struct oci_process *proc, const struct json_path *p,
			 struct husk_err **err)
{
	const struct json_path *rp = JSON_KEY(p, "rlimits");

	for (size_t i = 0; i < proc->n_rlimits; i++) {
		struct oci_rlimit *rl = &proc->rlimits[i];

		rl->resource = oci_rlimit_from_name(rl->type);
		if (rl->resource < 0)
			return json_err(err, JSON_KEY(JSON_IDX(rp, i), "type"),
					"unknown rlimit \"%s\"", rl->type);
		/* config.md#posix-process: duplicated types MUST be an error */
		for (size_t j = 0; j < i; j++)
			if (streq(proc->rlimits[j].type, rl->type))
				return json_err(err, JSON_KEY(JSON_IDX(rp, i), "type"),
						"duplicate rlimit \"%s\"", rl->type);
		if (rl->soft > rl->hard)
			return json_err(err, JSON_IDX(rp, i),
					"soft limit %" PRIu64 " exceeds hard limit %" PRIu64,
					rl->soft, rl->hard);
	}
	return 0;
}

static int check_caps(const struct oci_caps *c, const struct json_path *p, struct husk_err **err)
{
	static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
					   "ambient"};
	char **const v[] = {c->bounding, c->effective, c->inheritable, c->permitted, c->ambient};

	for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
		for (size_t i = 0; v[s] && v[s][i]; i++)
			if (oci_cap_from_name(v[s][i]) < 0)
				return json_err(err, JSON_IDX(JSON_KEY(p, sets[s]), i),
						"unknown capability \"%s\"", v[s][i]);
	return 0;
}

static int check_sched(const struct oci_process *proc, const struct json_path *p,
		       struct husk_err **err)
{
	const struct oci_scheduler *s = proc->scheduler;
	const struct oci_io_priority *io = proc->io_priority;
	const struct json_path *sp = JSON_KEY(p, "scheduler"), *ip = JSON_KEY(p, "ioPriority");
	int r;

	if (s && !oci_name_known(oci_sched_policies, s->policy))
		return json_err(err, JSON_KEY(sp, "policy"), "unknown scheduler policy \"%s\"",
				s->policy);
	if (s && (s->nice < -20 || s->nice > 19))
		return json_err(err, JSON_KEY(sp, "nice"), "%d out of range [-20, 19]", s->nice);
	if (s && (r = need_known(s->flags, oci_sched_flags, JSON_KEY(sp, "flags"), "scheduler flag",
				 err)) < 0)
		return r;
	if (io && !oci_name_known(oci_ioprio_classes, io->klass))
		return json_err(err, JSON_KEY(ip, "class"), "unknown I/O priority class \"%s\"",
				io->klass);
	if (io && (io->priority < 0 || io->priority > 7))
		return json_err(err, JSON_KEY(ip, "priority"), "%d out of range [0, 7]",
				io->priority);
	return 0;
}

int oci_validate_process(struct oci_process *proc, const struct json_path *p, struct husk_err **err)
{
	int r;

	if (!proc->cwd)
		return json_missing(err, p, "cwd");
	if ((r = need_abs(proc->cwd, JSON_KEY(p, "cwd"), err)) < 0)
		return r;
	if (!proc->args)
		return json_missing(err, p, "args");
	if (!proc->args[0])
		return json_err(err, JSON_KEY(p, "args"), "must not be empty");
	if ((r = need_env(proc->env, JSON_KEY(p, "env"), err)) < 0 ||
	    (r = check_rlimits(proc, p, err)) < 0)
		return r;
	if (proc->capabilities &&
	    (r = check_caps(proc->capabilities, JSON_KEY(p, "capabilities"), err)) < 0)
		return r;
	if (proc->oom_score_adj.set &&
	    (proc->oom_score_adj.v < -1000 || proc->oom_score_adj.v > 1000))
		return json_err(err, JSON_KEY(p, "oomScoreAdj"),
				"%" PRId64 " out of range [-1000, 1000]", proc->oom_score_adj.v);
	return check_sched(proc, p, err);
}

int oci_validate_resources(const struct oci_resources *res, const struct json_path *p,
			   struct husk_err **err)
{
	const struct oci_memory *m = res->memory;

	/* vm.swappiness takes 0-100 (docker's "unset" never reaches us as a number) */
	if (m && m->swappiness.set && m->swappiness.v > 100)
		return json_err(err, JSON_KEY(JSON_KEY(p, "memory"), "swappiness"),
				"%" PRIu64 " out of range [0, 100]", m->swappiness.v);
	for (size_t i = 0; i < res->unified.n; i++)
		if (!res->unified.items[i].key[0] || strchr(res->unified.items[i].key, '/'))
			return json_err(err, JSON_KEY(p, "unified"),
					"invalid cgroup file name \"%s\"",
					res->unified.items[i].key);
	return 0;
}

/* errnoRet makes sense only for actions that return an errno (config-linux.md#seccomp) */
static int check_errno_action(const char *action, const struct oci_u64 *ret,
			      const struct json_path *p, struct husk_err **err)
{
	if (ret->set && !streq(action, "SCMP_ACT_ERRNO") && !streq(action, "SCMP_ACT_TRACE"))
		return json_err(err, p, "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s",
				action);
	return 0;
}

static int check_syscall(const struct oci_syscall *sc, const struct json_path *p,
			 struct husk_err **err)
{
	int r;

	if (!sc->names[0])
		return json_err(err, JSON_KEY(p, "names"), "must not be empty");
	if (!oci_name_known(oci_seccomp_actions, sc->action))
		return json_err(err, JSON_KEY(p, "action"), "unknown seccomp action \"%s\"",
				sc->action);
	if ((r = check_errno_action(sc->action, &sc->errno_ret, JSON_KEY(p, "errnoRet"), err)) < 0)
		return r;
	for (size_t j = 0; j < sc->n_args; j++)
		if (!oci_name_known(oci_seccomp_operators, sc->args[j].op))
			return json_err(err, JSON_KEY(JSON_IDX(JSON_KEY(p, "args"), j), "op"),
					"unknown seccomp operator \"%s\"", sc->args[j].op);
	return 0;
}

static int check_seccomp(const struct oci_seccomp *s, const struct json_path *p,
			 struct husk_err **err)
{
	int r;

	if (!oci_name_known(oci_seccomp_actions, s->default_action))
		return json_err(err, JSON_KEY(p, "defaultAction"), "unknown seccomp action \"%s\"",
				s->default_action);
	if ((r = check_errno_action(s->default_action, &s->default_errno_ret,
				    JSON_KEY(p, "defaultErrnoRet"), err)) < 0 ||
	    (r = need_known(s->architectures, oci_seccomp_archs, JSON_KEY(p, "architectures"),
			    "seccomp architecture", err)) < 0 ||
	    (r = need_known(s->flags, oci_seccomp_flags, JSON_KEY(p, "flags"), "seccomp flag",
			    err)) < 0)
		return r;
	if (s->listener_metadata && !s->listener_path)
		return json_err(err, JSON_KEY(p, "listenerMetadata"), "requires listenerPath");
	/* The filter would stop the init's own next syscall with nobody listening yet. */
	if (streq(s->default_action, "SCMP_ACT_NOTIFY"))
		return json_err(err, JSON_KEY(p, "defaultAction"),
				"SCMP_ACT_NOTIFY cannot be the default action");
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (streq(s->syscalls[i].action, "SCMP_ACT_NOTIFY") &&
		    (!s->listener_path || !s->listener_path[0]))
			return json_err(err, JSON_KEY(JSON_IDX(JSON_KEY(p, "syscalls"), i), "action"),
					"SCMP_ACT_NOTIFY requires linux.seccomp.listenerPath");
	for (size_t i = 0; i < s->n_syscalls; i++)
		if ((r = check_syscall(&s->syscalls[i], JSON_IDX(JSON_KEY(p, "syscalls"), i),
				       err)) < 0)
			return r;
	return 0;
}

static int check_namespaces(const struct oci_linux *l, const struct json_path *p,
			    struct husk_err **err)
{
	const struct json_path *np = JSON_KEY(p, "namespaces");
	bool seen[OCI_NS_TYPES] = {false};
	int r;

	for (size_t i = 0; i < l->n_namespaces; i++) {
		const struct oci_namespace *ns = &l->namespaces[i];

		/* config-linux.md#namespaces: duplicated types MUST be an error */
		if (seen[ns->type])
			return json_err(err, JSON_KEY(JSON_IDX(np, i), "type"),
					"duplicate namespace type \"%s\"", oci_ns_name(ns->type));
		seen[ns->type] = true;
		if ((r = need_abs(ns->path, JSON_KEY(JSON_IDX(np, i), "path"), err)) < 0)
			return r;
		/* a new user namespace without mappings leaves every id unmapped (runc refuses) */
		if (ns->type == OCI_NS_USER && !ns->path &&
		    (!l->n_uid_mappings || !l->n_gid_mappings))
			return json_err(err, JSON_IDX(np, i),
					"a new user namespace needs linux.uidMappings and "
					"linux.gidMappings");
	}
	if ((l->n_uid_mappings || l->n_gid_mappings) && !seen[OCI_NS_USER])
		return json_err(err, JSON_KEY(p, l->n_uid_mappings ? "uidMappings" : "gidMappings"),
				"requires a user namespace in linux.namespaces");
	if ((l->time_monotonic.set || l->time_boottime.set) && !seen[OCI_NS_TIME])
		return json_err(err, JSON_KEY(p, "timeOffsets"),
				"requires a time namespace in linux.namespaces");
	return 0;
}

static int check_linux(const struct oci_linux *l, const struct json_path *p, struct husk_err **err)
{
	int r;

	if ((r = check_namespaces(l, p, err)) < 0)
		return r;
	for (size_t i = 0; i < l->n_devices; i++)
		if ((r = need_abs(l->devices[i].path,
				  JSON_KEY(JSON_IDX(JSON_KEY(p, "devices"), i), "path"), err)) < 0)
			return r;
	if (l->rootfs_propagation && !oci_name_known(oci_propagations, l->rootfs_propagation))
		return json_err(err, JSON_KEY(p, "rootfsPropagation"),
				"unknown propagation \"%s\" (expected shared, slave, private or "
				"unbindable, optionally with an r prefix)",
				l->rootfs_propagation);
	if (l->resources &&
	    (r = oci_validate_resources(l->resources, JSON_KEY(p, "resources"), err)) < 0)
		return r;
	if (l->seccomp && (r = check_seccomp(l->seccomp, JSON_KEY(p, "seccomp"), err)) < 0)
		return r;
	if (l->personality) {
		const struct json_path *pp = JSON_KEY(p, "personality");

		if (!oci_name_known(oci_personality_domains, l->personality->domain))
			return json_err(err, JSON_KEY(pp, "domain"),
					"unknown domain \"%s\" (expected LINUX or LINUX32)",
					l->personality->domain);
		/* config-linux.md#personality: "Currently no flag values are supported." */
		if (l->personality->flags && l->personality->flags[0])
			return json_err(err, JSON_IDX(JSON_KEY(pp, "flags"), 0),
					"unsupported flag \"%s\"", l->personality->flags[0]);
	}
	return 0;
}

static int check_mounts(struct oci_config *cfg, struct husk_err **err)
{
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		struct oci_mount *m = &cfg->mounts[i];
		const struct json_path *mp = JSON_IDX(JSON_KEY(NULL, "mounts"), i);

		if (!m->destination[0])
			return json_err(err, JSON_KEY(mp, "destination"), "must not be empty");
		/* config.md#mounts: a relative destination is deprecated but valid on Linux,
		 * and MUST be read as relative to "/" */
		if (!is_abs(m->destination)) {
			char *abs = xasprintf("/%s", m->destination);

			free(m->destination);
			m->destination = abs;
		}
		if (!m->n_uid_mappings != !m->n_gid_mappings)
			return json_err(
			    err, JSON_KEY(mp, m->n_uid_mappings ? "gidMappings" : "uidMappings"),
			    "required with %s", m->n_uid_mappings ? "uidMappings" : "gidMappings");
	}
	return 0;
}

static int check_hooks(const struct oci_config *cfg, struct husk_err **err)
{
	const struct json_path *hp = JSON_KEY(NULL, "hooks");
	int r;

	for (int k = 0; k < OCI_HOOK_KINDS; k++) {
		for (size_t i = 0; i < cfg->hooks[k].n; i++) {
			const struct oci_hook *h = &cfg->hooks[k].items[i];
			const struct json_path *p = JSON_IDX(JSON_KEY(hp, oci_hook_names[k]), i);

			if ((r = need_abs(h->path, JSON_KEY(p, "path"), err)) < 0 ||
			    (r = need_env(h->env, JSON_KEY(p, "env"), err)) < 0)
				return r;
			if (h->timeout.set && h->timeout.v <= 0)
				return json_err(err, JSON_KEY(p, "timeout"),
						"must be greater than zero, got %" PRId64,
						h->timeout.v);
		}
	}
	return 0;
}

static int check_vm(const struct oci_vm *vm, struct husk_err **err)
{
	static const char *const formats[] = {"raw", "qcow2", "vdi", "vmdk", "vhd", NULL};
	const struct json_path *p = JSON_KEY(NULL, "vm");
	const struct json_path *kp = JSON_KEY(p, "kernel"), *ip = JSON_KEY(p, "image");
	int r;

	if ((r = need_abs(vm->hypervisor_path, JSON_KEY(JSON_KEY(p, "hypervisor"), "path"), err)) <
		0 ||
	    (r = need_abs(vm->kernel_path, JSON_KEY(kp, "path"), err)) < 0 ||
	    (r = need_abs(vm->kernel_initrd, JSON_KEY(kp, "initrd"), err)) < 0 ||
	    (r = need_abs(vm->image_path, JSON_KEY(ip, "path"), err)) < 0)
		return r;
	if (vm->image_format && !oci_name_known(formats, vm->image_format))
		return json_err(
		    err, JSON_KEY(ip, "format"),
		    "unknown image format \"%s\" (expected raw, qcow2, vdi, vmdk or vhd)",
		    vm->image_format);
	if (vm->hw_vcpus.set && vm->hw_vcpus.v == 0)
		return json_err(err, JSON_KEY(JSON_KEY(p, "hwConfig"), "vcpus"),
				"must not be zero");
	return 0;
}

/* runc refuses to set a hostname in the host's UTS namespace, and so does husk. */
static int check_uts(const struct oci_config *cfg, struct husk_err **err)
{
	const char *const keys[] = {"hostname", "domainname"};
	const char *const vals[] = {cfg->hostname, cfg->domainname};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (vals[i] && vals[i][0] && !oci_config_ns(cfg, OCI_NS_UTS))
			return json_err(
			    err, JSON_KEY(NULL, keys[i]),
			    "cannot be set without a uts namespace in linux.namespaces");
	return 0;
}

int oci_validate_config(struct oci_config *cfg, struct husk_err **err)
{
	int r;

	if ((r = check_version(cfg->oci_version, err)) < 0)
		return r;
	if (!cfg->root && !cfg->vm)
		return json_missing(err, NULL, "root");
	if (cfg->root && !cfg->root->path[0])
		return json_err(err, JSON_KEY(JSON_KEY(NULL, "root"), "path"), "must not be empty");
	if ((r = check_mounts(cfg, err)) < 0)
		return r;
	if (cfg->process &&
	    (r = oci_validate_process(cfg->process, JSON_KEY(NULL, "process"), err)) < 0)
		return r;
	if ((r = check_hooks(cfg, err)) < 0 || (r = check_uts(cfg, err)) < 0)
		return r;
	if ((r = check_linux(&cfg->linux, JSON_KEY(NULL, "linux"), err)) < 0)
		return r;
	if (cfg->vm && (r = check_vm(cfg->vm, err)) < 0)
		return r;
	return 0;
}
