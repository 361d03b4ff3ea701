/* husk's entry point: global options, the command table, and the one place that prints an
 * error and picks the exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "oci/config.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "selfexe.h"

static const struct command commands[] = {
	{ "create", cmd_create, "create a container (its process waits for start)", true },
	{ "start", cmd_start, "run the user program of a created container", false },
	{ "run", cmd_run, "create and start a container, wait for it unless --detach", true },
	{ "exec", cmd_exec, "run a new process inside a running container", true },
	{ "state", cmd_state, "print the state of a container as OCI JSON", false },
	{ "kill", cmd_kill, "send a signal to a container's init (or all its processes)", false },
	{ "delete", cmd_delete, "delete a container and everything husk made for it", false },
	{ "list", cmd_list, "list the containers under --root", false },
	{ "spec", cmd_spec, "write a default config.json", false },
	{ "features", cmd_features, "print what this runtime supports (runtime-spec features)", false },
	{ "pause", cmd_pause, "freeze every process of a container", false },
	{ "resume", cmd_resume, "thaw a paused container", false },
	{ "ps", cmd_ps, "list the processes of a container", false },
	{ "update", cmd_update, "change a running container's resource limits", false },
	{ "events", cmd_events, "print resource usage and OOM events (runc's format)", false },
	{ "vm", cmd_vm, "light-VM tools: `vm boot` runs a command in a microVM", false },
	{ "help", cmd_help, "show help for husk or one command", false },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: husk [global options] COMMAND [options] [ID]\n\n"
		   "husk is an OCI container runtime (runtime-spec %s), a drop-in for runc.\n\n"
		   "Commands:\n",
		OCI_VERSION);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options:\n"
		   "  --root DIR            state directory (default /run/husk)\n"
		   "  --log FILE            write errors and warnings to FILE instead of stderr\n"
		   "  --log-format FORMAT   text (default) or json: one JSON object per line\n"
		   "  --debug               log debug messages too\n"
		   "  --systemd-cgroup      use the systemd cgroup driver (not supported yet)\n"
		   "  --rootless VALUE      accepted for runc compatibility (true|false|auto)\n"
		   "  -v, --version         print version information\n"
		   "  -h, --help            show this help\n\n"
		   "Run 'husk COMMAND --help' for a command's options. See husk(8).\n");
}

static void version(void)
{
	printf("husk version %s\ncommit: %s\nspec: %s\n", HUSK_VERSION, HUSK_COMMIT, OCI_VERSION);
	printf("libseccomp: %s\n", cmd_libseccomp_version());
}

int cmd_help(struct globals *g, int argc, char **argv)
{
	if (argc > 1) {
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			if (streq(commands[i].name, argv[1])) {
				char *args[] = { argv[1], (char *)"--help", NULL };

				optind = 0;
				return commands[i].fn(g, 2, args);
			}
		return cmd_fail(g, "help: unknown command \"%s\"", argv[1]);
	}
	usage(stdout);
	return 0;
}

enum { OPT_ROOT = 256, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD, OPT_ROOTLESS, OPT_CRIU };

static int parse_globals(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD },
		{ "rootless", required_argument, NULL, OPT_ROOTLESS },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	/* '+': stop at the command name; the rest belongs to the command. */
	while ((c = getopt_long_only(argc, argv, "+:vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: g->root = optarg; break;
		case OPT_LOG: g->log = optarg; break;
		case OPT_LOG_FORMAT:
			if (!streq(optarg, "text") && !streq(optarg, "json"))
				return cmd_fail(g, "--log-format: expected text or json, got \"%s\"",
						optarg);
			g->log_json = streq(optarg, "json");
			break;
		case OPT_DEBUG: g->debug = true; break;
		case OPT_SYSTEMD: g->systemd_cgroup = true; break;
		case OPT_ROOTLESS:
		case OPT_CRIU: break;
		case 'v': version(); exit(0);
		case 'h': usage(stdout); exit(0);
		case ':': return cmd_fail(g, "option %s needs a value", argv[optind - 1]);
		default: return cmd_fail(g, "unknown global option %s", argv[optind - 1]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct globals g = { .root = "/run/husk" };
	struct husk_err *err = NULL;
	cleanup_free char *rootless_root = NULL;
	const char *name;

	/* Rootless, as runc: an unprivileged user's state lives under $XDG_RUNTIME_DIR. */
	if (geteuid() != 0 && getenv("XDG_RUNTIME_DIR") && *getenv("XDG_RUNTIME_DIR"))
		g.root = rootless_root = xasprintf("%s/husk", getenv("XDG_RUNTIME_DIR"));
	if (parse_globals(&g, argc, argv) != 0)
		return 1;
	if (log_init(g.log, g.log_json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT,
		     g.debug ? LOG_DEBUG : LOG_WARN) < 0) {
		fprintf(stderr, "husk: --log: cannot open `%s`: %s\n", g.log, strerror(errno));
		return 1;
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!streq(commands[i].name, name))
			continue;
		/* Before anything is created: the re-executed copy parses argv again. */
		if (commands[i].enters && selfexe_ensure_sealed(argv, &err) < 0)
			return cmd_report(&g, err);
		argv += optind;
		argc -= optind;
		optind = 0;	/* glibc: 0 re-initialises getopt for the command's own options */
		return commands[i].fn(&g, argc, argv);
	}
	return cmd_fail(&g, "unknown command \"%s\" (see husk --help)", name);
}
