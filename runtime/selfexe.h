/* Re-executing husk from a sealed memfd before entering a container (CVE-2019-5736). */
#pragma once

#include "common/error.h"

/* Return 0 when this process already runs from a sealed copy; otherwise copy
 * /proc/self/exe into a memfd, seal it and execveat it with argv (does not
 * return on success). */
int selfexe_ensure_sealed(char **argv, struct husk_err **err);
