/* What `husk spec` and `husk features` print: the default config.json and the
 * features.md document. Both return malloc'd NUL-terminated JSON without a trailing newline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The default config.json, tab-indented, same content as `runc spec [--rootless]` (hostname
 * "husk", ociVersion OCI_VERSION). Rootless maps the caller's euid/egid to 0. */
char *oci_spec_template(bool rootless, size_t *len);

/* features.md JSON, indented by four spaces like `runc features`. mount_options is the
 * NULL-terminated list of mount options the runtime recognises (NULL: left out, which
 * features.md reads as "unknown"). */
char *oci_features_json(const char *const *mount_options, size_t *len);
