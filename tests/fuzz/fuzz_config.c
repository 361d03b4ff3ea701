/* libFuzzer target for everything husk parses from outside: config.json along the path
 * `create` takes (parse, validate, the run.husk.net.* annotations), exec's process file,
 * update's resources, and state.json (read, written back, read again). Built and run by
 * tests/fuzz/run.sh. Besides crashes and sanitizer reports it checks the error contract:
 * a failure returns -errno with *err set and *out untouched, a success leaves *err alone. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "netns/netns.h"
#include "oci/config.h"
#include "oci/state.h"

static void check_result(const char *what, int r, const void *out, const struct husk_err *err)
{
	bool ok = r == 0 ? out && !err : r < 0 && !out && err && err->msg && err->msg[0];

	if (!ok) {
		fprintf(stderr, "%s: broke the error contract: r=%d out=%p err=%s\n", what, r, out,
			err ? err->msg : "(none)");
		abort();
	}
}

/* What load_config() in runtime/container.c does with a parsed config, short of the disk. */
static void use_config(const struct oci_config *cfg)
{
	struct husk_err *err = NULL;
	struct netns_config nc;
	int r = netns_config_parse(cfg, &nc, &err);

	if ((r < 0) != (err != NULL))
		abort();
	if (r == 0 && netns_config_wanted(&nc))
		(void)oci_config_ns(cfg, OCI_NS_NETWORK);
	netns_config_free(&nc);
	husk_err_free(err);
}

/* A state husk read must survive being written and read again, unchanged. */
static void round_trip_state(const struct husk_state *st)
{
	struct husk_err *err = NULL;
	struct husk_state *again = NULL;
	char *json = NULL, *json2 = NULL, *oci;
	size_t len, len2;

	if (husk_state_to_json(st, &json, &len, &err) < 0 ||
	    husk_state_from_json(json, len, &again, &err) < 0 ||
	    husk_state_to_json(again, &json2, &len2, &err) < 0) {
		fprintf(stderr, "state round trip: %s\n", err ? err->msg : "(no error)");
		abort();
	}
	if (len != len2 || memcmp(json, json2, len) != 0)
		abort();
	oci = oci_state_json(st, "running", true, &len);
	free(oci);
	husk_state_free(again);
	free(json);
	free(json2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct husk_err *err = NULL;
	struct oci_config *cfg = NULL;
	struct oci_process *proc = NULL;
	struct oci_resources *res = NULL;
	struct husk_state *st = NULL;
	int r;

	r = oci_config_parse(buf, size, &cfg, &err);
	check_result("oci_config_parse", r, cfg, err);
	if (r == 0)
		use_config(cfg);
	oci_config_free(cfg);
	husk_err_freep(&err);

	r = oci_process_parse(buf, size, &proc, &err);
	check_result("oci_process_parse", r, proc, err);
	oci_process_free(proc);
	husk_err_freep(&err);

	r = oci_resources_parse(buf, size, &res, &err);
	check_result("oci_resources_parse", r, res, err);
	oci_resources_free(res);
	husk_err_freep(&err);

	r = husk_state_from_json(buf, size, &st, &err);
	check_result("husk_state_from_json", r, st, err);
	if (r == 0)
		round_trip_state(st);
	husk_state_free(st);
	husk_err_freep(&err);
	return 0;
}
