/* The default config.json that `husk spec [--rootless]` writes: the same content as
 * `runc spec`, tab-indented like runc's, with ociVersion OCI_VERSION. */
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "oci/config.h"
#include "oci/json.h"
#include "oci/spec.h"

struct spec_mount {
	const char *destination, *type, *source;
	const char *options[8]; /* NULL-terminated; empty: no "options" key */
};

/* config-linux.md#default-filesystems plus runc's usual /dev entries. */
static const struct spec_mount mounts[] = {
    {"/proc", "proc", "proc", {NULL}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev", NULL}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro", NULL}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
};

/* Rootless: no gid=5 on devpts (group 5 is unmapped) and sysfs cannot be mounted without
 * owning the network namespace, so /sys is a read-only rbind of the host's. */
static const struct spec_mount rootless_devpts = {
    "/dev/pts",
    "devpts",
    "devpts",
    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL},
};
static const struct spec_mount rootless_sys = {
    "/sys",
    "none",
    "/sys",
    {"rbind", "nosuid", "noexec", "nodev", "ro", NULL},
};

static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
static const char *const cap_sets[] = {"bounding", "effective", "permitted", "ambient"};

static const char *const env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
    NULL,
};

static const char *const namespaces[] = {"pid", "network", "ipc", "uts", "mount", NULL};
static const char *const rootless_namespaces[] = {"pid", "ipc", "uts", "mount", "user", NULL};

/* runc's list, plus powercap (energy counters are a side channel; runc 1.2 masks it too). */
static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/powercap",
    NULL,
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static void gen_process(struct json_gen *g)
{
	json_gen_key(g, "process");
	json_gen_map_open(g);
	json_gen_kbool(g, "terminal", true);
	json_gen_key(g, "user");
	json_gen_map_open(g);
	json_gen_kint64(g, "uid", 0);
	json_gen_kint64(g, "gid", 0);
	json_gen_map_close(g);
	json_gen_key(g, "args");
	json_gen_strv(g, (const char *const[]){"sh", NULL});
	json_gen_key(g, "env");
	json_gen_strv(g, env);
	json_gen_kstr(g, "cwd", "/");
	json_gen_key(g, "capabilities");
	json_gen_map_open(g);
	for (size_t i = 0; i < ARRAY_SIZE(cap_sets); i++) {
		json_gen_key(g, cap_sets[i]);
		json_gen_strv(g, caps);
	}
	json_gen_map_close(g);
	json_gen_key(g, "rlimits");
	json_gen_array_open(g);
	json_gen_map_open(g);
	json_gen_kstr(g, "type", "RLIMIT_NOFILE");
	json_gen_kuint64(g, "hard", 1024);
	json_gen_kuint64(g, "soft", 1024);
	json_gen_map_close(g);
	json_gen_array_close(g);
	json_gen_kbool(g, "noNewPrivileges", true);
	json_gen_map_close(g);
}

static void gen_mounts(struct json_gen *g, bool rootless)
{
	json_gen_key(g, "mounts");
	json_gen_array_open(g);
	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++) {
		const struct spec_mount *m = &mounts[i];

		if (rootless && streq(m->destination, "/dev/pts"))
			m = &rootless_devpts;
		else if (rootless && streq(m->destination, "/sys"))
			m = &rootless_sys;
		json_gen_map_open(g);
		json_gen_kstr(g, "destination", m->destination);
		json_gen_kstr(g, "type", m->type);
		json_gen_kstr(g, "source", m->source);
		if (m->options[0]) {
			json_gen_key(g, "options");
			json_gen_strv(g, m->options);
		}
		json_gen_map_close(g);
	}
	json_gen_array_close(g);
}

static void gen_idmap(struct json_gen *g, const char *key, unsigned host_id)
{
	json_gen_key(g, key);
	json_gen_array_open(g);
	json_gen_map_open(g);
	json_gen_kuint64(g, "containerID", 0);
	json_gen_kuint64(g, "hostID", host_id);
	json_gen_kuint64(g, "size", 1);
	json_gen_map_close(g);
	json_gen_array_close(g);
}

static void gen_linux(struct json_gen *g, bool rootless)
{
	const char *const *ns = rootless ? rootless_namespaces : namespaces;

	json_gen_key(g, "linux");
	json_gen_map_open(g);
	if (rootless) {
		/* the caller's own ids, as runc does */
		gen_idmap(g, "uidMappings", geteuid());
		gen_idmap(g, "gidMappings", getegid());
	} else {
		json_gen_key(g, "resources");
		json_gen_map_open(g);
		json_gen_key(g, "devices");
		json_gen_array_open(g);
		json_gen_map_open(g);
		json_gen_kbool(g, "allow", false);
		json_gen_kstr(g, "access", "rwm");
		json_gen_map_close(g);
		json_gen_array_close(g);
		json_gen_map_close(g);
	}
	json_gen_key(g, "namespaces");
	json_gen_array_open(g);
	for (; *ns; ns++) {
		json_gen_map_open(g);
		json_gen_kstr(g, "type", *ns);
		json_gen_map_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "maskedPaths");
	json_gen_strv(g, masked_paths);
	json_gen_key(g, "readonlyPaths");
	json_gen_strv(g, readonly_paths);
	json_gen_map_close(g);
}

char *oci_spec_template(bool rootless, size_t *len)
{
	cleanup_json_gen struct json_gen *g = json_gen_new("\t");

	json_gen_map_open(g);
	json_gen_kstr(g, "ociVersion", OCI_VERSION);
	gen_process(g);
	json_gen_key(g, "root");
	json_gen_map_open(g);
	json_gen_kstr(g, "path", "rootfs");
	json_gen_kbool(g, "readonly", true);
	json_gen_map_close(g);
	json_gen_kstr(g, "hostname", "husk");
	gen_mounts(g, rootless);
	gen_linux(g, rootless);
	json_gen_map_close(g);
	return json_gen_dup(g, len);
}
