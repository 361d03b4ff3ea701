/* CVE-2019-5736: a process in the container must not reach the host's husk binary through
 * /proc/<pid>/exe of a husk process that entered the container (the init before its execve,
 * the child of `exec`). Re-opening that link for writing once the husk process is gone would
 * overwrite the binary the host runs next. Commands that enter a container therefore first
 * re-execute husk from a file nobody can write through:
 *   - a read-only bind of the binary itself: a detached mount (open_tree OPEN_TREE_CLONE, never
 *     attached anywhere, so no mount event reaches the host) made read-only with mount_setattr,
 *     executed by fd. /proc/<pid>/exe then lives on a read-only mount: opening it for writing
 *     fails with EROFS. Nothing is copied, so it costs a few microseconds;
 *   - where that is not allowed (no CAP_SYS_ADMIN, as in a rootless husk, or a kernel before
 *     5.12): a sealed memfd copy, which nobody can write, grow or shrink.
 * A husk whose binary already sits on a read-only mount (or in a sealed memfd) runs as is. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "selfexe.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U	/* Linux 6.3: executable even when vm.memfd_noexec asks otherwise */
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/* Whether fd (our own executable) cannot be written through: a read-only mount, or a memfd
 * carrying every seal. */
static bool is_protected(int fd)
{
	struct statvfs sv;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals >= 0 && (seals & SEALS) == SEALS)
		return true;
	return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* A detached read-only bind of our executable, or -errno. */
static int ro_bind_exe(void)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
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

/* The sealed memfd copy of exe, or -1 with *err set. */
static int sealed_copy(int exe, struct husk_err **err)
{
	cleanup_close int mfd = -1;
	struct stat st;
	int r;

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
	return TAKE_FD(mfd);
}

int selfexe_ensure_sealed(char **argv, struct husk_err **err)
{
	cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int fd = -1;

	if (exe < 0)
		return husk_err_set(err, errno, "open /proc/self/exe");
	if (is_protected(exe))
		return 0;
	fd = ro_bind_exe();
	if (fd >= 0) {
		log_debug("selfexe: re-executing from a read-only bind of itself");
	} else {
		log_debug("selfexe: no read-only bind (%s): a sealed copy instead", strerror(-fd));
		fd = sealed_copy(exe, err);
		if (fd < 0)
			return fd;
	}
	execveat(fd, "", argv, environ, AT_EMPTY_PATH);
	return husk_err_set(err, errno, "execute husk from its protected file");
}
