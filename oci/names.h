/* The names the runtime-spec knows (capabilities, seccomp constants, scheduler policies...),
 * shared by the validator, `husk features` and the runtime. Lists are NULL-terminated. */
#pragma once

#include <stdbool.h>

#include "oci/config.h"

/* Highest capability number husk knows: CAP_CHECKPOINT_RESTORE (Linux 5.9). */
#define OCI_CAP_LAST 40

extern const char *const oci_hook_names[OCI_HOOK_KINDS + 1]; /* "prestart", ... */
extern const char *const oci_seccomp_actions[];		     /* "SCMP_ACT_KILL", ... */
extern const char *const oci_seccomp_operators[];	     /* "SCMP_CMP_NE", ... */
extern const char *const oci_seccomp_archs[];		     /* "SCMP_ARCH_X86", ... */
extern const char *const oci_seccomp_flags[];		     /* "SECCOMP_FILTER_FLAG_TSYNC", ... */
extern const char *const oci_sched_policies[];		     /* "SCHED_OTHER", ... */
extern const char *const oci_sched_flags[];		     /* "SCHED_FLAG_RESET_ON_FORK", ... */
extern const char *const oci_ioprio_classes[];		     /* "IOPRIO_CLASS_RT", ... */
extern const char *const oci_propagations[];		     /* "shared", "rslave", ... */
extern const char *const oci_personality_domains[];	     /* "LINUX", "LINUX32" */

/* Index of s in a NULL-terminated list, or -1. */
int oci_name_index(const char *const *list, const char *s);
static inline bool oci_name_known(const char *const *list, const char *s)
{
	return oci_name_index(list, s) >= 0;
}

/* "CAP_CHOWN" for 0 ... "CAP_CHECKPOINT_RESTORE" for 40; NULL outside. */
const char *oci_cap_name(int cap);
/* "pid" -> OCI_NS_PID; -1 when unknown. */
int oci_ns_from_name(const char *name);
