/* Runs inside a test container (built -static): sig-mkdir DIR
 * installs a SIGUSR1 handler with SA_RESTART, then calls mkdir(DIR) once and prints
 * "mkdir=RC errno=E signals=N". With a seccomp listener that delays its answer, it shows
 * whether a signal interrupted the notified syscall (which then restarts and notifies again)
 * or waited for the answer (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t signals;

static void on_usr1(int sig)
{
	(void)sig;
	signals++;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int r, e;

	if (argc != 2) {
		fprintf(stderr, "usage: sig-mkdir DIR\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	r = mkdir(argv[1], 0755);
	e = r < 0 ? errno : 0;
	printf("mkdir=%d errno=%d signals=%d\n", r, e, (int)signals);
	return 0;
}
