/* What every command shares: error printing, the ID argument, signal names. */
#include <getopt.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "common/log.h"
#include "common/util.h"

int cmd_fail(struct globals *g, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	/* Like runc: with --log the error also reaches stderr, where a person sees it. */
	if (g && g->log && *g->log)
		fprintf(stderr, "husk: %s\n", msg);
	return 1;
}

int cmd_report(struct globals *g, struct husk_err *err)
{
	int r = cmd_fail(g, "%s", err ? err->msg : "unknown error");

	husk_err_free(err);
	return r;
}

int cmd_help_or_fail(struct globals *g, const char *cmd, const char *help, int c, char **argv)
{
	if (c == 'h') {
		fputs(help, stdout);
		exit(0);
	}
	if (c == ':')
		return cmd_fail(g, "%s: option %s needs a value", cmd, argv[optind - 1]);
	return cmd_fail(g, "%s: unknown option %s (see husk %s --help)", cmd, argv[optind - 1], cmd);
}

int cmd_take_id(struct globals *g, const char *cmd, int argc, char **argv, const char **id)
{
	if (optind >= argc)
		return cmd_fail(g, "%s: missing container ID (see husk %s --help)", cmd, cmd);
	if (argc - optind > 1)
		return cmd_fail(g, "%s: unexpected argument \"%s\" after the container ID", cmd,
				argv[optind + 1]);
	*id = argv[optind];
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },	  { "QUIT", SIGQUIT },	 { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT },	 { "BUS", SIGBUS },
	{ "FPE", SIGFPE },   { "KILL", SIGKILL }, { "USR1", SIGUSR1 },	 { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },	 { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },	 { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO },	  { "POLL", SIGPOLL },	 { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int cmd_parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end)
		return (n > 0 && n < NSIG) ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(signals[i].name, s) == 0)
			return signals[i].sig;
	/* RTMIN+N / RTMAX-N */
	if (strncasecmp(s, "RTMIN+", 6) == 0 && (n = strtol(s + 6, &end, 10), !*end) &&
	    SIGRTMIN + n <= SIGRTMAX)
		return SIGRTMIN + (int)n;
	if (strncasecmp(s, "RTMAX-", 6) == 0 && (n = strtol(s + 6, &end, 10), !*end) &&
	    SIGRTMAX - n >= SIGRTMIN)
		return SIGRTMAX - (int)n;
	return -1;
}

const char *cmd_libseccomp_version(void)
{
	static char buf[32];
	const struct scmp_version *v = seccomp_version();

	snprintf(buf, sizeof(buf), "%u.%u.%u", v->major, v->minor, v->micro);
	return buf;
}
