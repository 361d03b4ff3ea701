/* config.json as typed C structs (runtime-spec 1.2: config.md, config-linux.md, config-vm.md).
 * oci_config_load() parses and validates everything; no other code sees JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* An optional number: `set` says whether the field was present. */
struct oci_i64 {
	bool set;
	int64_t v;
};
struct oci_u64 {
	bool set;
	uint64_t v;
};

/* A JSON object of string values, in document order. */
struct oci_kv {
	char *key;
	char *value;
};
struct oci_map {
	struct oci_kv *items;
	size_t n;
};

struct oci_idmap {
	uint32_t container_id, host_id, size;
};

struct oci_mount {
	char *destination;	/* required */
	char *type;		/* NULL when absent */
	char *source;		/* NULL when absent */
	char **options;		/* NULL-terminated, never NULL after parsing */
	struct oci_idmap *uid_mappings;
	size_t n_uid_mappings;
	struct oci_idmap *gid_mappings;
	size_t n_gid_mappings;
};

struct oci_rlimit {
	char *type;		/* "RLIMIT_NOFILE" */
	int resource;		/* RLIMIT_NOFILE, resolved by the validator */
	uint64_t hard, soft;
};

struct oci_caps {
	/* Each NULL-terminated; NULL when the set is absent. Names validated ("CAP_CHOWN"). */
	char **bounding, **effective, **inheritable, **permitted, **ambient;
};

struct oci_user {
	uint32_t uid, gid;
	struct oci_u64 umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username;
};

struct oci_scheduler {
	char *policy;		/* "SCHED_OTHER", ... required */
	int32_t nice, priority;
	char **flags;
	uint64_t runtime, deadline, period;
};

struct oci_io_priority {
	char *klass;		/* "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE" */
	int priority;
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	struct oci_user user;
	char **args;		/* NULL-terminated; NULL when absent */
	char *command_line;
	char **env;		/* NULL-terminated; never NULL after parsing */
	char *cwd;		/* required, absolute */
	struct oci_caps *capabilities;	/* NULL when absent */
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	struct oci_i64 oom_score_adj;
	struct oci_scheduler *scheduler;
	char *selinux_label;
	struct oci_io_priority *io_priority;
	char *exec_cpu_affinity_initial, *exec_cpu_affinity_final;
};

struct oci_root {
	char *path;
	bool readonly;
};

struct oci_hook {
	char *path;		/* required, absolute */
	char **args;
	char **env;
	struct oci_i64 timeout;	/* seconds, > 0 when set */
};
struct oci_hook_list {
	struct oci_hook *items;
	size_t n;
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_KINDS,
};

/* In the order a new container enters them: user first, so the rest are owned by it. */
enum oci_ns_type {
	OCI_NS_USER,
	OCI_NS_MOUNT,
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS_TYPES,
};

struct oci_namespace {
	enum oci_ns_type type;
	char *path;		/* NULL: create a new one */
};

struct oci_device {
	char *path;		/* required, absolute */
	char type;		/* 'c', 'b', 'u' or 'p' */
	int64_t major, minor;
	struct oci_u64 file_mode;
	struct oci_u64 uid, gid;
};

struct oci_device_rule {
	bool allow;
	char type;		/* 'a' when absent, else 'c', 'b' */
	struct oci_i64 major, minor;	/* unset = wildcard */
	char access[4];		/* subset of "rwm"; "rwm" when absent */
};

struct oci_memory {
	struct oci_i64 limit, reservation, swap, kernel, kernel_tcp;
	struct oci_u64 swappiness;
	bool has_disable_oom_killer, disable_oom_killer;
	bool has_use_hierarchy, use_hierarchy;
	bool has_check_before_update, check_before_update;
};

struct oci_cpu {
	struct oci_u64 shares, burst, period, realtime_period;
	struct oci_i64 quota, realtime_runtime, idle;
	char *cpus, *mems;
};

struct oci_weight_device {
	int64_t major, minor;
	struct oci_u64 weight, leaf_weight;
};
struct oci_throttle_device {
	int64_t major, minor;
	uint64_t rate;
};
struct oci_throttle_list {
	struct oci_throttle_device *items;
	size_t n;
};

struct oci_blkio {
	struct oci_u64 weight, leaf_weight;
	struct oci_weight_device *weight_devices;
	size_t n_weight_devices;
	struct oci_throttle_list read_bps, write_bps, read_iops, write_iops;
};

struct oci_hugepage_limit {
	char *page_size;	/* "2MB" */
	uint64_t limit;
};

struct oci_net_priority {
	char *name;
	uint32_t priority;
};

struct oci_rdma {
	char *device;
	struct oci_u64 hca_handles, hca_objects;
};

struct oci_resources {
	struct oci_device_rule *devices;
	size_t n_devices;
	struct oci_memory *memory;	/* NULL when absent, likewise below */
	struct oci_cpu *cpu;
	bool has_pids;
	int64_t pids_limit;
	struct oci_blkio *blkio;
	struct oci_hugepage_limit *hugepages;
	size_t n_hugepages;
	bool has_network;
	struct oci_u64 net_class_id;
	struct oci_net_priority *net_priorities;
	size_t n_net_priorities;
	struct oci_rdma *rdma;
	size_t n_rdma;
	struct oci_map unified;
};

struct oci_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	char *op;		/* "SCMP_CMP_EQ", ... validated */
};

struct oci_syscall {
	char **names;
	char *action;		/* "SCMP_ACT_ALLOW", ... validated */
	struct oci_u64 errno_ret;
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	char *default_action;
	struct oci_u64 default_errno_ret;
	char **architectures;	/* "SCMP_ARCH_X86_64", ... */
	char **flags;		/* "SECCOMP_FILTER_FLAG_LOG", ... */
	char *listener_path, *listener_metadata;
	struct oci_syscall *syscalls;
	size_t n_syscalls;
};

struct oci_intel_rdt {
	char *clos_id, *l3_cache_schema, *mem_bw_schema;
	bool enable_cmt, enable_mbm;
};

struct oci_personality {
	char *domain;		/* "LINUX" | "LINUX32" */
	char **flags;
};

struct oci_time_offset {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	struct oci_idmap *uid_mappings;
	size_t n_uid_mappings;
	struct oci_idmap *gid_mappings;
	size_t n_gid_mappings;
	struct oci_time_offset time_monotonic, time_boottime;
	struct oci_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct oci_resources *resources;	/* NULL when absent */
	struct oci_intel_rdt *intel_rdt;
	struct oci_map sysctl;
	struct oci_seccomp *seccomp;		/* NULL when absent */
	char *rootfs_propagation;	/* NULL or "shared", "slave", "private", "unbindable", "rshared", ... */
	char **masked_paths;		/* never NULL after parsing */
	char **readonly_paths;		/* never NULL after parsing */
	char *mount_label;
	struct oci_personality *personality;
};

struct oci_vm {
	char *hypervisor_path;
	char **hypervisor_parameters;
	char *kernel_path;	/* required when vm is present */
	char **kernel_parameters;
	char *kernel_initrd;
	char *image_path, *image_format;
	struct oci_u64 hw_vcpus, hw_memory;
};

struct oci_config {
	char *oci_version;
	struct oci_root *root;	/* NULL when absent */
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_process *process;	/* NULL when absent */
	char *hostname, *domainname;
	struct oci_hook_list hooks[OCI_HOOK_KINDS];
	struct oci_map annotations;
	bool has_linux;
	struct oci_linux linux;
	struct oci_vm *vm;	/* NULL when absent */
};

/* Read, parse and validate `path` (bundle config.json). Errors carry the JSON path:
 * "process.args: expected array of strings". Returns 0 or -errno. */
int oci_config_load(const char *path, struct oci_config **out, struct husk_err **err);
/* The same from a buffer. */
int oci_config_parse(const char *buf, size_t len, struct oci_config **out, struct husk_err **err);
void oci_config_free(struct oci_config *cfg);

/* A lone process object (exec --process FILE); paths in errors start at the root ("args: ..."). */
int oci_process_parse(const char *buf, size_t len, struct oci_process **out, struct husk_err **err);
void oci_process_free(struct oci_process *p);

/* A lone LinuxResources object (update --resources). */
int oci_resources_parse(const char *buf, size_t len, struct oci_resources **out,
			struct husk_err **err);
void oci_resources_free(struct oci_resources *r);

/* Lookups shared by the validator and the runtime. */
const char *oci_ns_name(enum oci_ns_type t);	/* "pid", "network", ... */
int oci_ns_clone_flag(enum oci_ns_type t);	/* CLONE_NEWPID, ... */
const char *oci_ns_proc_name(enum oci_ns_type t);	/* "pid", "net", "mnt", ... for /proc/PID/ns */
const struct oci_namespace *oci_config_ns(const struct oci_config *cfg, enum oci_ns_type t);
const char *oci_annotation(const struct oci_config *cfg, const char *key);
/* capability name ("CAP_CHOWN") to number, -1 if unknown. */
int oci_cap_from_name(const char *name);
/* rlimit name ("RLIMIT_NOFILE") to resource number, -1 if unknown. */
int oci_rlimit_from_name(const char *name);

#define OCI_VERSION "1.2.1"
