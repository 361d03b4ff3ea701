/* OCI hooks (config.md#posix-platform-hooks): run one hook with the container state on stdin,
 * its own args and env, and a timeout after which it is killed and the step fails. */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "oci/config.h"

/* The config field name of each hook kind ("prestart", "createRuntime", ...). */
const char *hook_kind_name(enum oci_hook_kind kind);
int hook_run(const struct oci_hook *h, const char *state, size_t len, struct husk_err **err);
/* Every hook of one kind, in order; the first failure stops the rest and names the hook:
 * "hooks.prestart[1] (/usr/bin/x): exited with status 3". */
int hooks_run(const struct oci_config *cfg, enum oci_hook_kind kind, const char *state,
	      size_t len, struct husk_err **err);
/* poststart and poststop: every hook runs; each failure is logged as a warning
 * (runtime.md#lifecycle steps 9 and 13). */
void hooks_run_warn(const struct oci_config *cfg, enum oci_hook_kind kind, const char *state,
		    size_t len);
