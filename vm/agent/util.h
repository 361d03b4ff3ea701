/* The guest agent's pure helpers (no mounts, no ports): PATH lookup, exec failure codes, the
 * module order file, virtio port names. Kept apart from agent.c so unit tests link them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The PATH used when the process's environment has none (runc's default). */
#define AGENT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The value of PATH in env (NULL-terminated "K=V" list), or AGENT_DEFAULT_PATH. */
const char *agent_env_path(char *const *env);

/* Resolve file the way execvp does: a name holding '/' is used as is; otherwise each entry
 * of path (':'-separated, an empty entry meaning ".") is tried and the first regular file
 * with an execute bit wins. Writes the result to out. Returns 0, -ENOENT (nowhere),
 * -EACCES (found only files without an execute bit), -ENAMETOOLONG. */
int agent_path_lookup(const char *path, const char *file, char *out, size_t outlen);

/* The exit status runc-like runtimes report when exec fails with errnum: 127 not found,
 * 126 found but not executable, 1 otherwise. */
int agent_exec_status(int errnum);

/* Iterate over the module file names of husk.order, one per line, in place: *cursor starts at
 * the NUL-terminated text; each call returns the next name (blank lines and '#' comments
 * skipped, trailing spaces cut) or NULL at the end. Names holding '/' or starting with '.' are
 * skipped (they would escape /lib/modules). */
char *agent_order_next(char **cursor);

/* Whether the contents of a /sys/class/virtio-ports/<port>/name file (len bytes, maybe
 * newline-terminated, not NUL-terminated) is exactly want. */
bool agent_port_name_is(const char *content, size_t len, const char *want);
