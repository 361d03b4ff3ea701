/* husk's per-container state file (ROOT/ID/state.json, versioned), and the OCI state
 * (runtime.md#state) that `husk state`, `husk list` and hooks see. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"
#include "oci/config.h"

/* Bumped when a field changes meaning; an older husk refuses a newer file. */
#define HUSK_STATE_VERSION 1

struct husk_state {
	int version; /* HUSK_STATE_VERSION when written by this husk */
	char *id, *bundle, *rootfs;
	char *created;	    /* RFC 3339 in UTC with nanoseconds, as runc writes it */
	char *owner;	    /* "" for root, like runc */
	int pid;	    /* the container process, as seen from husk; 0 when none */
	uint64_t pid_start; /* field 22 of /proc/PID/stat: tells a reused pid apart */
	bool created_done;  /* init reached the exec fifo */
	struct oci_map annotations;
	char *cgroup_path;
	char *isolation;   /* "process" or "vm" */
	bool own_pidns;	   /* the container has its own pid namespace */
	char *config_path; /* the config.json it was created from */
};

/* The state file's JSON (compact). *out is malloc'd and NUL-terminated. */
int husk_state_to_json(const struct husk_state *s, char **out, size_t *len, struct husk_err **err);
/* Parse a state file; unknown fields are ignored, a version newer than ours is refused.
 * Errors name the field ("pid: expected integer, got string"). */
int husk_state_from_json(const char *buf, size_t len, struct husk_state **out,
			 struct husk_err **err);
void husk_state_free(struct husk_state *s);

/* The OCI state for `husk state` (pretty: 2-space indent, like runc) and hooks' stdin
 * (compact): ociVersion, id, pid, status, bundle, rootfs, created, owner, annotations
 * (when any). pid is left out when 0 or when status is "stopped", as runtime.md allows.
 * Returns a malloc'd NUL-terminated string without a trailing newline. */
char *oci_state_json(const struct husk_state *s, const char *status, bool pretty, size_t *len);

/* The container process state sent to a seccomp listener (config-linux.md#seccomp,
 * listenerPath): ociVersion, fds (the names of the fds sent alongside, in order), pid of
 * the process the filter belongs to, metadata (listenerMetadata, when set) and state, the
 * container's OCI state with `status`. Compact, malloc'd, NUL-terminated. */
char *oci_process_state_json(const struct husk_state *s, const char *status, int pid,
			     const char *metadata, const char *const *fds, size_t *len);

/* `husk list --format json`: a compact array of the same objects, s[i] with status[i];
 * pid is always present (0 when stopped), as in runc's list. An empty list is [] (runc
 * prints null there; [] decodes the same for Go callers and is valid for everyone else). */
char *oci_state_list_json(const struct husk_state *const *s, const char *const *status, size_t n,
			  size_t *len);

/* ts (NULL: now) as RFC 3339 in UTC with nanoseconds, trailing zeros trimmed like Go's
 * time.RFC3339Nano: "2024-05-01T10:11:12.3456Z". malloc'd. */
char *oci_time_rfc3339(const struct timespec *ts);
