/* exec: argv to struct exec_opts, then container_exec(). Option parsing stops at the ID so
 * the command's own flags (sh -c ...) are never taken for ours. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/util.h"
#include "container.h"

static const char exec_help[] =
	"usage: husk exec [options] ID [COMMAND [ARG...]]\n\n"
	"Run a new process inside a running container: it joins the container's namespaces\n"
	"and gets its seccomp filter; the process is the container's own process settings\n"
	"with COMMAND and the flags below, or exactly what --process gives.\n\n"
	"Options:\n"
	"  -p, --process FILE        the process as OCI JSON (config.md#process)\n"
	"  -t, --tty                 allocate a pseudo-terminal\n"
	"  -d, --detach              return once the process runs\n"
	"  --pid-file FILE           write the process's host PID to FILE\n"
	"  --console-socket SOCK     send the pty master to this unix socket\n"
	"  -e, --env KEY=VALUE       set an environment variable (repeatable)\n"
	"  --cwd DIR                 working directory inside the container\n"
	"  -u, --user UID[:GID]      run as this user\n"
	"  -g, --additional-gids GID supplementary group (repeatable)\n"
	"  -c, --cap CAP             add a capability, e.g. CAP_NET_ADMIN (repeatable)\n"
	"  --no-new-privs            set no_new_privs\n"
	"  --preserve-fds N          pass N extra fds (3 .. 3+N-1)\n"
	"  --process-label L, --apparmor P   accepted; this host enables no LSM for husk\n"
	"  -h, --help                show this help\n";

enum { OPT_PID_FILE = 256, OPT_CONSOLE, OPT_CWD, OPT_NNP, OPT_PRESERVE, OPT_IGNORED };

static void strv_push(char ***v, const char *s)
{
	size_t n = strv_len(*v);

	*v = xrealloc(*v, (n + 2) * sizeof(**v));
	(*v)[n] = (char *)s;
	(*v)[n + 1] = NULL;
}

static int parse_num(struct globals *g, const char *what, const char *s, long max, long *out)
{
	char *end;

	*out = strtol(s, &end, 10);
	if (!*s || *end || *out < 0 || *out > max)
		return cmd_fail(g, "exec: %s: expected a number 0..%ld, got \"%s\"", what, max, s);
	return 0;
}

static int parse_exec(struct globals *g, int argc, char **argv, struct exec_opts *o)
{
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "tty", no_argument, NULL, 't' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, OPT_PID_FILE },
		{ "console-socket", required_argument, NULL, OPT_CONSOLE },
		{ "env", required_argument, NULL, 'e' },
		{ "cwd", required_argument, NULL, OPT_CWD },
		{ "user", required_argument, NULL, 'u' },
		{ "additional-gids", required_argument, NULL, 'g' },
		{ "cap", required_argument, NULL, 'c' },
		{ "no-new-privs", no_argument, NULL, OPT_NNP },
		{ "preserve-fds", required_argument, NULL, OPT_PRESERVE },
		{ "process-label", required_argument, NULL, OPT_IGNORED },
		{ "apparmor", required_argument, NULL, OPT_IGNORED },
		{ "ignore-paused", no_argument, NULL, OPT_IGNORED },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long n;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+:p:tde:u:g:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o->process_file = optarg; break;
		case 't': o->tty = true; break;
		case 'd': o->detach = true; break;
		case OPT_PID_FILE: o->pid_file = optarg; break;
		case OPT_CONSOLE: o->console_socket = optarg; break;
		case 'e': strv_push(&o->env, optarg); break;
		case OPT_CWD: o->cwd = optarg; break;
		case 'u': o->user = optarg; break;
		case 'c': strv_push(&o->caps, optarg); break;
		case OPT_NNP: o->no_new_privs = true; break;
		case OPT_IGNORED: break;
		case 'g':
			if (parse_num(g, "--additional-gids", optarg, 0xffffffffL, &n) != 0)
				return 1;
			o->additional_gids = xrealloc(o->additional_gids,
						      (o->n_additional_gids + 1) * sizeof(uint32_t));
			o->additional_gids[o->n_additional_gids++] = (uint32_t)n;
			break;
		case OPT_PRESERVE:
			if (parse_num(g, "--preserve-fds", optarg, 1000, &n) != 0)
				return 1;
			o->preserve_fds = (int)n;
			break;
		case 'h': fputs(exec_help, stdout); exit(0);
		case ':': return cmd_fail(g, "exec: option %s needs a value", argv[optind - 1]);
		default:
			return cmd_fail(g, "exec: unknown option %s (see husk exec --help)",
					argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_fail(g, "exec: missing container ID (see husk exec --help)");
	o->id = argv[optind];
	o->args = argv + optind + 1;
	if (o->process_file && o->args[0])
		return cmd_fail(g, "exec: give either --process or a command, not both");
	o->root = g->root;
	return 0;
}

int cmd_exec(struct globals *g, int argc, char **argv)
{
	struct exec_opts o = { 0 };
	struct husk_err *err = NULL;
	int r;

	r = parse_exec(g, argc, argv, &o);
	if (r == 0) {
		r = container_exec(&o, &err);
		r = r < 0 ? cmd_report(g, err) : r;
	}
	free(o.env);
	free(o.caps);
	free(o.additional_gids);
	return r;
}
