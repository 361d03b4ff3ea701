/* husk-netns: the rtnetlink half of container networking, run by husk (helper.c) so that only
 * this small program links libmnl. Not meant to be run by hand:
 *   husk-netns setup ID PID [run.husk.net.KEY=VALUE...]   veth, bridge, addresses, routes
 *   husk-netns teardown ID                                remove ID's host-side veth
 * On failure it prints one line (the error husk reports as its own) and exits with the errno
 * value (1 when that does not fit an exit status). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "nl.h"

static int usage(void)
{
	fputs("usage: husk-netns setup ID PID [run.husk.net.KEY=VALUE...]\n"
	      "       husk-netns teardown ID\n"
	      "husk-netns is run by husk to set up run.husk.net.* networking.\n", stderr);
	return 2;
}

static int setup(const char *id, const char *pidstr, int n, char **kvs, struct husk_err **err)
{
	cleanup_free struct oci_kv *items = xcalloc((size_t)n, sizeof(*items));
	struct oci_config cfg = { .annotations = { items, (size_t)n } };
	struct netns_config nc;
	char *end;
	long pid;
	int r;

	errno = 0;
	pid = strtol(pidstr, &end, 10);
	if (errno || *end || end == pidstr || pid <= 0 || pid > 0x7fffffff)
		return husk_err_msg(err, EINVAL, "husk-netns: PID `%s` is not a process id", pidstr);
	for (int i = 0; i < n; i++) {
		char *eq = strchr(kvs[i], '=');

		if (!eq || !startswith(kvs[i], NETNS_ANN_PREFIX))
			return husk_err_msg(err, EINVAL, "husk-netns: `%s` is not "
					    NETNS_ANN_PREFIX "KEY=VALUE", kvs[i]);
		*eq = '\0';
		items[i] = (struct oci_kv){ kvs[i], eq + 1 };
	}
	r = netns_config_parse(&cfg, &nc, err);
	if (r == 0) {
		r = netns_nl_setup(id, (pid_t)pid, &nc, err);
		netns_config_free(&nc);
	}
	return r;
}

int main(int argc, char **argv)
{
	struct husk_err *err = NULL;
	int r;

	if (argc >= 4 && streq(argv[1], "setup"))
		r = setup(argv[2], argv[3], argc - 4, argv + 4, &err);
	else if (argc == 3 && streq(argv[1], "teardown"))
		r = netns_nl_teardown(argv[2], &err);
	else
		return usage();
	if (r == 0)
		return 0;
	fprintf(stderr, "%s\n", err ? err->msg : strerror(-r));
	husk_err_free(err);
	return -r > 0 && -r < 126 ? -r : 1;
}
