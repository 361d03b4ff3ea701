/* The CLI: global options and one function per command (argv only; the work is in
 * container.c). */
#pragma once

#include <stdbool.h>

#include "common/error.h"

#ifndef HUSK_COMMIT
#define HUSK_COMMIT "unknown"
#endif

struct globals {
	const char *root;
	const char *log;
	bool log_json;
	bool debug;
	bool systemd_cgroup;
};

struct command {
	const char *name;
	int (*fn)(struct globals *g, int argc, char **argv);
	const char *summary;
	bool enters;	/* puts a husk process into a container: run from a sealed copy */
};

int cmd_create(struct globals *g, int argc, char **argv);
int cmd_start(struct globals *g, int argc, char **argv);
int cmd_exec(struct globals *g, int argc, char **argv);
int cmd_run(struct globals *g, int argc, char **argv);
int cmd_state(struct globals *g, int argc, char **argv);
int cmd_kill(struct globals *g, int argc, char **argv);
int cmd_delete(struct globals *g, int argc, char **argv);
int cmd_list(struct globals *g, int argc, char **argv);
int cmd_spec(struct globals *g, int argc, char **argv);
int cmd_features(struct globals *g, int argc, char **argv);
int cmd_help(struct globals *g, int argc, char **argv);
/* cmd_cgroup.c */
int cmd_pause(struct globals *g, int argc, char **argv);
int cmd_resume(struct globals *g, int argc, char **argv);
int cmd_ps(struct globals *g, int argc, char **argv);
int cmd_update(struct globals *g, int argc, char **argv);
int cmd_events(struct globals *g, int argc, char **argv);
/* cmd_vm.c */
int cmd_vm(struct globals *g, int argc, char **argv);

/* Print one error (stderr, and the --log sink) and return the exit code 1. */
int cmd_fail(struct globals *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmd_report(struct globals *g, struct husk_err *err);
/* getopt's answer c for a command's option loop: 'h' prints help and exits 0, anything else
 * is reported as a missing value or an unknown option (exit code 1). */
int cmd_help_or_fail(struct globals *g, const char *cmd, const char *help, int c, char **argv);
/* Exactly one ID after the options, or an error naming what is wrong. */
int cmd_take_id(struct globals *g, const char *cmd, int argc, char **argv, const char **id);
/* Signal by number (9), name (KILL) or SIG-name (SIGKILL); -1 if unknown. */
int cmd_parse_signal(const char *s);
const char *cmd_libseccomp_version(void);
