/* Re-executing husk from a file nobody can write before entering a container (CVE-2019-5736). */
#pragma once

#include "common/error.h"

/* Return 0 when this process already runs from a read-only mount or a sealed memfd; otherwise
 * re-execute with argv from a read-only bind of /proc/self/exe, or else from a sealed memfd copy
 * (does not return on success). */
int selfexe_ensure_sealed(char **argv, struct husk_err **err);
