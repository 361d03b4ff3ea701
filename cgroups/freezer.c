/* pause/resume: cgroup.freeze, then wait until cgroup.events reports the new state (a task
 * in an uninterruptible sleep can hold it back for a while). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "internal.h"

#define FREEZE_TIMEOUT_MS 30000	/* the host bed runs ~30x slower than a host */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is "frozen" in cgroup.events equal to want? -errno when unreadable. */
static int events_frozen(int fd, bool want)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t v = 0;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	cg_keyed(buf, "frozen", &v);
	return (v != 0) == want;
}

static int wait_frozen(int dfd, bool want)
{
	cleanup_close int fd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	long deadline = now_ms() + FREEZE_TIMEOUT_MS;
	int r;

	if (fd < 0)
		return -errno;
	/* cgroup.events signals a change with POLLPRI; the timeout is a safety net. */
	while ((r = events_frozen(fd, want)) == 0 && now_ms() < deadline)
		poll(&(struct pollfd){ .fd = fd, .events = POLLPRI }, 1, 100);
	return r < 0 ? r : r ? 0 : -ETIMEDOUT;
}

int cgroup_freeze(const char *path, bool frozen, struct husk_err **err)
{
	cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return husk_err_set(err, errno, "open cgroup `%s`", path);
	if (faccessat(dfd, "cgroup.freeze", F_OK, 0) < 0)
		return husk_err_msg(err, EOPNOTSUPP, "cgroup `%s`: no cgroup.freeze (the cgroup v2 "
				    "freezer needs Linux 5.2 or later)", path);
	if (fd_write_at(dfd, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return husk_err_wrap(err, "cgroup `%s`", path);
	r = wait_frozen(dfd, frozen);
	if (r == 0)
		return 0;
	if (frozen)	/* do not leave it half frozen */
		fd_write_at(dfd, "cgroup.freeze", "0", NULL);
	if (r == -ETIMEDOUT)
		return husk_err_msg(err, ETIMEDOUT, "cgroup `%s`: still not %s after %d s", path,
				    frozen ? "frozen" : "thawed", FREEZE_TIMEOUT_MS / 1000);
	return husk_err_set(err, -r, "cgroup `%s`: read cgroup.events", path);
}

bool cgroup_is_frozen(const char *path)
{
	cleanup_close int dfd = path ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	cleanup_free char *v = NULL;

	if (dfd < 0)
		return false;
	v = cg_read(dfd, "cgroup.freeze");
	return v && v[0] == '1';
}
