/* create, start, run, kill, delete: argv to options, then one container_*() call. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/util.h"
#include "container.h"

static const char create_help[] =
	"usage: husk %s [options] ID\n\n"
	"%s\n\n"
	"Options:\n"
	"  -b, --bundle DIR        bundle directory holding config.json (default: .)\n"
	"  --pid-file FILE         write the container init's host PID to FILE\n"
	"  --console-socket SOCK   send the pty master of process.terminal to this unix socket\n"
	"  --no-pivot              move the root with MS_MOVE + chroot instead of pivot_root\n"
	"  --no-new-keyring        keep the caller's session keyring\n"
	"  --preserve-fds N        pass N extra fds (3 .. 3+N-1) into the container\n"
	"%s"
	"  -h, --help              show this help\n";

enum { OPT_PID_FILE = 256, OPT_CONSOLE, OPT_NO_PIVOT, OPT_NO_KEYRING, OPT_PRESERVE, OPT_KEEP };

static int parse_create(struct globals *g, const char *cmd, int argc, char **argv,
			struct create_opts *o)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, OPT_PID_FILE },
		{ "console-socket", required_argument, NULL, OPT_CONSOLE },
		{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
		{ "no-new-keyring", no_argument, NULL, OPT_NO_KEYRING },
		{ "preserve-fds", required_argument, NULL, OPT_PRESERVE },
		{ "detach", no_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool is_run = streq(cmd, "run");
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, is_run ? ":b:dh" : ":b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bundle = optarg; break;
		case OPT_PID_FILE: o->pid_file = optarg; break;
		case OPT_CONSOLE: o->console_socket = optarg; break;
		case OPT_NO_PIVOT: o->no_pivot = true; break;
		case OPT_NO_KEYRING: o->no_new_keyring = true; break;
		case OPT_PRESERVE:
			o->preserve_fds = (int)strtol(optarg, &end, 10);
			if (!*optarg || *end || o->preserve_fds < 0 || o->preserve_fds > 1000)
				return cmd_fail(g, "%s: --preserve-fds: expected a number 0..1000, got "
						"\"%s\"", cmd, optarg);
			break;
		case 'd':
			if (!is_run)
				goto unknown;
			o->detach = true;
			break;
		case OPT_KEEP:
			if (!is_run)
				goto unknown;
			break;
		case 'h':
			printf(create_help, cmd,
			       is_run ? "Create and start a container; without --detach, wait for it, "
					"forward signals,\nexit with its status (128+N if killed by "
					"signal N) and delete it."
				      : "Create a container: its init is set up and waits until "
					"'husk start ID'.",
			       is_run ? "  -d, --detach            return once the program runs\n" : "");
			exit(0);
		case ':': return cmd_fail(g, "%s: option %s needs a value", cmd, argv[optind - 1]);
		default:
		unknown:
			return cmd_fail(g, "%s: unknown option %s (see husk %s --help)", cmd,
					argv[optind - 1], cmd);
		}
	}
	o->root = g->root;
	if (g->systemd_cgroup)
		return cmd_fail(g, "--systemd-cgroup: the systemd cgroup driver is not supported yet");
	return cmd_take_id(g, cmd, argc, argv, &o->id);
}

int cmd_create(struct globals *g, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct husk_err *err = NULL;

	if (parse_create(g, "create", argc, argv, &o) != 0)
		return 1;
	if (container_create(&o, &err) < 0)
		return cmd_report(g, err);
	return 0;
}

int cmd_run(struct globals *g, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct husk_err *err = NULL;
	int r;

	if (parse_create(g, "run", argc, argv, &o) != 0)
		return 1;
	o.foreground = !o.detach;
	r = container_run(&o, &err);
	if (r < 0)
		return cmd_report(g, err);
	return r;
}

/* Commands whose only options are --help and the ones in `extra`. */
static int parse_simple(struct globals *g, const char *cmd, const char *help, int argc,
			char **argv, const char *shortopts, const struct option *opts, bool *flag)
{
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			exit(0);
		}
		if (c == 'a' || c == 'f') {
			*flag = true;
			continue;
		}
		return cmd_fail(g, "%s: unknown option %s (see husk %s --help)", cmd,
				argv[optind - 1], cmd);
	}
	return 0;
}

int cmd_start(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct husk_err *err = NULL;
	const char *id;
	bool unused;

	if (parse_simple(g, "start", "usage: husk start ID\n\nRun the user program of a created "
			 "container (it is waiting on its exec fifo).\n", argc, argv, ":h", opts,
			 &unused) != 0 ||
	    cmd_take_id(g, "start", argc, argv, &id) != 0)
		return 1;
	if (container_start(g->root, id, &err) < 0)
		return cmd_report(g, err);
	return 0;
}

int cmd_kill(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	struct husk_err *err = NULL;
	bool all = false;
	const char *id;
	int sig = SIGTERM;

	if (parse_simple(g, "kill", "usage: husk kill [--all] ID [SIGNAL]\n\n"
			 "Send SIGNAL (a number, KILL or SIGKILL; default SIGTERM) to the "
			 "container's init.\n\nOptions:\n  -a, --all    signal every process of the "
			 "container\n  -h, --help   show this help\n", argc, argv, ":ah", opts, &all) != 0)
		return 1;
	if (optind >= argc)
		return cmd_fail(g, "kill: missing container ID (see husk kill --help)");
	id = argv[optind];
	if (argc - optind > 2)
		return cmd_fail(g, "kill: unexpected argument \"%s\"", argv[optind + 2]);
	if (argc - optind == 2 && (sig = cmd_parse_signal(argv[optind + 1])) < 0)
		return cmd_fail(g, "kill: unknown signal \"%s\"", argv[optind + 1]);
	if (container_kill(g->root, id, sig, all, &err) < 0)
		return cmd_report(g, err);
	return 0;
}

int cmd_delete(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	struct husk_err *err = NULL;
	bool force = false;
	const char *id;

	if (parse_simple(g, "delete", "usage: husk delete [--force] ID\n\n"
			 "Delete a stopped or created container. With --force, kill a running one "
			 "first;\na missing ID is then not an error.\n\nOptions:\n  -f, --force  kill "
			 "the container if it runs\n  -h, --help   show this help\n", argc, argv, ":fh",
			 opts, &force) != 0 ||
	    cmd_take_id(g, "delete", argc, argv, &id) != 0)
		return 1;
	if (container_delete(g->root, id, force, &err) < 0)
		return cmd_report(g, err);
	return 0;
}
