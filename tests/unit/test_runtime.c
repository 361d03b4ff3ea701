/* Unit tests for runtime/'s pure pieces: ids, signal names, the executable lookup, status. */
#include <signal.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "runtime/cmd.h"
#include "runtime/process.h"
#include "runtime/store.h"
#include "tap.h"

static int test_ids(void)
{
	static const char *const good[] = { "a", "ct1", "A-b_c.d+e", "0123456789abcdef" };
	static const char *const bad[] = { "", ".", "..", "a/b", "../x", "a b", "a\nb", "é" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(store_validate_id(good[i], NULL) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct husk_err *err = NULL;

		CHECK(store_validate_id(bad[i], &err) < 0);
		CHECK_CONTAINS(err->msg, "invalid container id");
		husk_err_free(err);
	}
	return 0;
}

static int test_signals(void)
{
	static const struct {
		const char *in;
		int sig;
	} cases[] = {
		{ "9", SIGKILL },     { "KILL", SIGKILL }, { "SIGKILL", SIGKILL }, { "sigterm", SIGTERM },
		{ "TERM", SIGTERM },  { "15", SIGTERM },   { "WINCH", SIGWINCH }, { "SIGUSR1", SIGUSR1 },
		{ "0", -1 },	      { "65", -1 },	   { "NOPE", -1 },	  { "", -1 },
		{ "9x", -1 },	      { "-9", -1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cmd_parse_signal(cases[i].in) != cases[i].sig) {
			printf("# signal \"%s\": got %d want %d\n", cases[i].in,
			       cmd_parse_signal(cases[i].in), cases[i].sig);
			return 1;
		}
	}
	CHECK(cmd_parse_signal("RTMIN+1") == SIGRTMIN + 1);
	CHECK(cmd_parse_signal("SIGRTMAX-2") == SIGRTMAX - 2);
	return 0;
}

static int test_exe_lookup(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_free char *bin = xasprintf("%s/bin", t->path);
	cleanup_free char *prog = xasprintf("%s/bin/prog", t->path);
	cleanup_free char *noexec = xasprintf("%s/bin/noexec", t->path);
	cleanup_free char *pathvar = xasprintf("PATH=/nonexistent:%s", bin);
	char *env[] = { pathvar, NULL }, *empty_env[] = { (char *)"PATH=", NULL };
	struct husk_err *err = NULL;
	char *out = NULL;

	CHECK(mkdir(bin, 0755) == 0);
	CHECK(close(open(prog, O_CREAT | O_WRONLY, 0755)) == 0);
	CHECK(close(open(noexec, O_CREAT | O_WRONLY, 0644)) == 0);
	CHECK(exe_lookup("prog", env, &out, &err) == 0);
	CHECK_STREQ(out, prog);
	free(out);
	CHECK(exe_lookup(prog, NULL, &out, &err) == 0);
	free(out);
	CHECK(exe_lookup("missing", env, &out, &err) < 0);
	CHECK_STREQ(err->msg, "exec: \"missing\": executable file not found in $PATH");
	husk_err_freep(&err);
	CHECK(exe_lookup("prog", empty_env, &out, &err) < 0);
	CHECK_CONTAINS(err->msg, "executable file not found in $PATH");
	husk_err_freep(&err);
	CHECK(exe_lookup("/x/y", env, &out, &err) < 0);
	CHECK_STREQ(err->msg, "exec: \"/x/y\": stat /x/y: no such file or directory");
	husk_err_freep(&err);
	CHECK(exe_lookup(noexec, env, &out, &err) < 0);
	CHECK_CONTAINS(err->msg, "permission denied");
	husk_err_freep(&err);
	CHECK(exe_lookup(bin, env, &out, &err) < 0);	/* a directory is not a program */
	CHECK_CONTAINS(err->msg, "permission denied");
	husk_err_freep(&err);
	return 0;
}

static int test_start_time(void)
{
	CHECK(proc_start_time(getpid()) > 0);
	CHECK(proc_start_time(0x3fffffff) == 0);
	return 0;
}

static const struct test tests[] = {
	{ "store: container ids", test_ids },
	{ "cmd: signal names and numbers", test_signals },
	{ "exe: lookup with runc's error words", test_exe_lookup },
	{ "store: process start time", test_start_time },
};
TAP_MAIN(tests)
