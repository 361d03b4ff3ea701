/* CVE-2019-5736: a process in the container must not reach the host's husk binary through
 * /proc/<pid>/exe of a husk process that entered the container (the init before its execve,
 * the child of `exec`). Re-opening that link for writing once the husk process is gone would
 * overwrite the binary the host runs next. Commands that enter a container therefore first
 * re-execute husk from a sealed memfd copy: /proc/<pid>/exe then names the copy, which nobody
 * can write, grow or shrink, and the host binary is never opened by anything in there. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "selfexe.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U	/* Linux 6.3: executable even when vm.memfd_noexec asks otherwise */
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/* Whether fd (our own executable) is already a memfd carrying every seal. */
static bool is_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & SEALS) == SEALS;
}

static int memfd_exec(void)
{
	int fd = memfd_create("husk", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	if (fd < 0 && errno == EINVAL)	/* before 6.3: no MFD_EXEC, memfds are executable */
		fd = memfd_create("husk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd;
}

static int copy_all(int from, int to, off_t size)
{
	off_t off = 0;

	while (off < size) {
		ssize_t n = sendfile(to, from, &off, (size_t)(size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* the file shrank under us */
	}
	return 0;
}

int selfexe_ensure_sealed(char **argv, struct husk_err **err)
{
	cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int mfd = -1;
	struct stat st;
	int r;

	if (exe < 0)
		return husk_err_set(err, errno, "open /proc/self/exe");
	if (is_sealed(exe))
		return 0;
	if (fstat(exe, &st) < 0)
		return husk_err_set(err, errno, "stat /proc/self/exe");
	mfd = memfd_exec();
	if (mfd < 0)
		return husk_err_set(err, errno, "memfd_create for the sealed husk copy");
	r = copy_all(exe, mfd, st.st_size);
	if (r < 0)
		return husk_err_set(err, -r, "copy husk into a memfd");
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		return husk_err_set(err, errno, "seal the husk memfd");
	log_debug("selfexe: re-executing from a sealed copy (%lld bytes)", (long long)st.st_size);
	execveat(mfd, "", argv, environ, AT_EMPTY_PATH);
	return husk_err_set(err, errno, "execute the sealed husk copy");
}
