/* state, list, spec, features: commands that print and change nothing in a container. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "rootfs/rootfs.h"
#include "store.h"

int cmd_state(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct husk_err *err = NULL;
	struct store s = { .dfd = -1 };
	struct ct c = { .dfd = -1 };
	const char *id;
	char *json;
	size_t len;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":h", opts, NULL)) != -1)
		return cmd_help_or_fail(g, "state", "usage: husk state ID\n\nPrint the OCI state "
					  "of a container (status: creating, created, running, "
					  "stopped).\n", ch, argv);
	if (cmd_take_id(g, "state", argc, argv, &id) != 0)
		return 1;
	r = store_open_ct(g->root, id, false, &s, &c, &err);
	if (r == 0 && !c.st)
		r = husk_err_msg(&err, EBUSY, "container \"%s\" is still being created", id);
	if (r == 0) {
		json = oci_state_json(c.st, ct_status_name(ct_status(&c)), true, &len);
		fwrite(json, 1, len, stdout);
		putchar('\n');
		free(json);
	}
	ct_release(&c);
	store_close(&s);
	return r < 0 ? cmd_report(g, err) : 0;
}

struct list_row {
	struct ct ct;
	const char *status;
	char pid[16];
};

static void print_table(struct list_row *rows, size_t n)
{
	const char *head[6] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
	size_t w[6];

	/* runc's tabwriter: columns at least 12 wide, 3 spaces of padding. */
	for (int k = 0; k < 6; k++)
		w[k] = strlen(head[k]);
	for (size_t i = 0; i < n; i++) {
		const char *cell[6] = { rows[i].ct.id, rows[i].pid, rows[i].status,
					rows[i].ct.st->bundle, rows[i].ct.st->created,
					rows[i].ct.st->owner };

		for (int k = 0; k < 6; k++)
			if (strlen(cell[k] ? cell[k] : "") > w[k])
				w[k] = strlen(cell[k] ? cell[k] : "");
	}
	for (int k = 0; k < 6; k++)
		w[k] = w[k] + 3 < 12 ? 12 : w[k] + 3;
	for (size_t i = 0; i <= n; i++) {
		const char *cell[6] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };

		if (i > 0) {
			struct list_row *r = &rows[i - 1];

			cell[0] = r->ct.id, cell[1] = r->pid, cell[2] = r->status;
			cell[3] = r->ct.st->bundle, cell[4] = r->ct.st->created, cell[5] = r->ct.st->owner;
		}
		for (int k = 0; k < 5; k++)
			printf("%-*s", (int)w[k], cell[k] ? cell[k] : "");
		printf("%s\n", cell[5] && *cell[5] ? cell[5] : (i ? "root" : ""));
	}
}

static void print_list(struct list_row *rows, size_t n, bool quiet, bool json)
{
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", rows[i].ct.id);
	} else if (json) {
		const struct husk_state **st = xcalloc(n + 1, sizeof(*st));
		const char **status = xcalloc(n + 1, sizeof(*status));
		size_t len;
		char *out;

		for (size_t i = 0; i < n; i++) {
			st[i] = rows[i].ct.st;
			status[i] = rows[i].status;
		}
		out = oci_state_list_json((const struct husk_state *const *)st, status, n, &len);
		fwrite(out, 1, len, stdout);
		putchar('\n');
		free(out);
		free(st);
		free(status);
	} else {
		print_table(rows, n);
	}
}

static int parse_list(struct globals *g, int argc, char **argv, bool *quiet, bool *json)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "quiet", no_argument, NULL, 'q' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	int ch;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":f:qh", opts, NULL)) != -1) {
		if (ch == 'q') {
			*quiet = true;
		} else if (ch == 'f') {
			if (!streq(optarg, "table") && !streq(optarg, "json"))
				return cmd_fail(g, "list: --format: expected table or json, got \"%s\"",
						optarg);
			*json = streq(optarg, "json");
		} else {
			return cmd_help_or_fail(g, "list", "usage: husk list [--format table|json] "
						  "[--quiet]\n\nList the containers under --root.\n\n"
						  "Options:\n  -f, --format FORMAT  table (default) or "
						  "json\n  -q, --quiet          print only the IDs\n",
						  ch, argv);
		}
	}
	if (optind < argc)
		return cmd_fail(g, "list: unexpected argument \"%s\"", argv[optind]);
	return 0;
}

int cmd_list(struct globals *g, int argc, char **argv)
{
	struct husk_err *err = NULL;
	struct store s = { .dfd = -1 };
	bool quiet = false, json = false;
	struct list_row *rows;
	size_t n = 0;
	char **ids;

	if (parse_list(g, argc, argv, &quiet, &json) != 0)
		return 1;
	if (store_open(g->root, false, &s, &err) < 0)
		return cmd_report(g, err);
	ids = store_list(&s);
	rows = xcalloc(strv_len(ids) + 1, sizeof(*rows));
	for (size_t i = 0; ids[i]; i++) {
		struct list_row *r = &rows[n];

		/* A container half-created or half-deleted by another husk is skipped. */
		if (store_load(&s, ids[i], false, &r->ct, &err) < 0 || !r->ct.st) {
			husk_err_freep(&err);
			ct_release(&r->ct);
			continue;
		}
		r->status = ct_status_name(ct_status(&r->ct));
		snprintf(r->pid, sizeof(r->pid), "%d",
			 streq(r->status, "stopped") ? 0 : r->ct.st->pid);
		n++;
	}
	print_list(rows, n, quiet, json);
	for (size_t i = 0; i < n; i++)
		ct_release(&rows[i].ct);
	free(rows);
	strv_free(ids);
	store_close(&s);
	return 0;
}

int cmd_spec(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "bundle", required_argument, NULL, 'b' },
					      { "rootless", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	cleanup_free char *buf = NULL;
	const char *bundle = ".";
	struct husk_err *err = NULL;
	bool rootless = false;
	cleanup_close int dfd = -1;
	size_t len;
	int ch;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":b:h", opts, NULL)) != -1) {
		if (ch == 'b')
			bundle = optarg;
		else if (ch == 'r')
			rootless = true;
		else
			return cmd_help_or_fail(g, "spec", "usage: husk spec [--bundle DIR] "
						  "[--rootless]\n\nWrite a default config.json (runs "
						  "`sh` from ./rootfs, with a terminal).\n\nOptions:\n"
						  "  -b, --bundle DIR   where to write it (default: .)\n"
						  "  --rootless         a config for a non-root user "
						  "(user namespace)\n", ch, argv);
	}
	if (optind < argc)
		return cmd_fail(g, "spec: unexpected argument \"%s\"", argv[optind]);
	dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cmd_fail(g, "spec: --bundle: open `%s`: %s", bundle, strerror(errno));
	if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return cmd_fail(g, "spec: `%s/config.json` already exists; remove it first", bundle);
	buf = oci_spec_template(rootless, &len);
	if (fd_write_atomic(dfd, "config.json", buf, len, 0644, &err) < 0)
		return cmd_report(g, err);
	return 0;
}

int cmd_features(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	size_t len;
	char *json;
	int ch;

	opterr = 0;
	while ((ch = getopt_long_only(argc, argv, ":h", opts, NULL)) != -1)
		return cmd_help_or_fail(g, "features", "usage: husk features\n\nPrint what this "
					  "runtime supports, as runtime-spec features.md JSON.\n",
					  ch, argv);
	if (optind < argc)
		return cmd_fail(g, "features: unexpected argument \"%s\"", argv[optind]);
	json = oci_features_json(rootfs_mount_option_names, &len);
	fwrite(json, 1, len, stdout);
	putchar('\n');
	free(json);
	return 0;
}
