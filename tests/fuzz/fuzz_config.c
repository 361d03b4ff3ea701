/* libFuzzer target for everything husk parses from outside: config.json, exec's process
 * file, update's resources, and state.json. Build and run (not part of `meson test`):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -Ulinux -D_GNU_SOURCE \
 *     -DHUSK_VERSION='"fuzz"' -I. -I/usr/include/yajl tests/fuzz/fuzz_config.c oci/[a-z]*.c \
 *     common/[a-z]*.c -lyajl -o fuzz_config && ./fuzz_config -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "oci/config.h"
#include "oci/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct husk_err *err = NULL;
	struct oci_config *cfg = NULL;
	struct oci_process *proc = NULL;
	struct oci_resources *res = NULL;
	struct husk_state *st = NULL;

	if (oci_config_parse(buf, size, &cfg, &err) == 0)
		oci_config_free(cfg);
	husk_err_freep(&err);
	if (oci_process_parse(buf, size, &proc, &err) == 0)
		oci_process_free(proc);
	husk_err_freep(&err);
	if (oci_resources_parse(buf, size, &res, &err) == 0)
		oci_resources_free(res);
	husk_err_freep(&err);
	if (husk_state_from_json(buf, size, &st, &err) == 0)
		husk_state_free(st);
	husk_err_freep(&err);
	return 0;
}
