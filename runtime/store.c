/* The state store: ids, per-container directories and locks, atomic state.json, and the
 * status derived from the live process rather than from what was last written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/util.h"
#include "cgroups/cgroups.h"
#include "store.h"

#define STATE_FILE "state.json"
#define FIFO_FILE "exec.fifo"

int store_open(const char *root, bool create, struct store *s, struct husk_err **err)
{
	s->root = xstrdup(root);
	s->dfd = -1;
	if (create && mkdir(root, 0700) < 0 && errno != EEXIST)
		return husk_err_set(err, errno, "--root: create `%s`", root);
	s->dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0 && (create || errno != ENOENT))
		return husk_err_set(err, errno, "--root: open `%s`", root);
	return 0;
}

void store_close(struct store *s)
{
	if (s->dfd >= 0)
		close(s->dfd);
	free(s->root);
	s->root = NULL;
	s->dfd = -1;
}

int store_validate_id(const char *id, struct husk_err **err)
{
	size_t n = id ? strlen(id) : 0;

	/* The id names a directory under --root: it must not climb out of it. runc allows
	 * [\w+-.] only; we do the same so ids move freely between the two runtimes. */
	if (n == 0)
		return husk_err_msg(err, EINVAL, "invalid container id \"\": must not be empty");
	if (n > 1024 || streq(id, ".") || streq(id, ".."))
		return husk_err_msg(err, EINVAL, "invalid container id \"%s\"", id);
	for (const char *p = id; *p; p++) {
		char ch = *p;

		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '_' && ch != '-' && ch != '.' && ch != '+')
			return husk_err_msg(err, EINVAL,
					    "invalid container id \"%s\": only letters, digits, "
					    "'_', '-', '.' and '+' are allowed",
					    id);
	}
	return 0;
}

static int ct_lock(struct ct *c, struct husk_err **err)
{
	while (flock(c->dfd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return husk_err_set(err, errno, "lock container \"%s\"", c->id);
	}
	c->locked = true;
	return 0;
}

int store_reserve(struct store *s, const char *id, struct ct *c, struct husk_err **err)
{
	int r;

	*c = (struct ct){ .id = xstrdup(id), .dfd = -1 };
	r = store_validate_id(id, err);
	if (r < 0)
		return r;
	if (mkdirat(s->dfd, id, 0711) < 0) {
		if (errno == EEXIST)
			return husk_err_msg(err, EEXIST, "container with id exists: %s", id);
		return husk_err_set(err, errno, "create state directory `%s/%s`", s->root, id);
	}
	c->dfd = openat(s->dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dfd < 0) {
		r = husk_err_set(err, errno, "open state directory `%s/%s`", s->root, id);
		unlinkat(s->dfd, id, AT_REMOVEDIR);
		return r;
	}
	return ct_lock(c, err);
}

static int ct_read_state(struct ct *c, struct husk_err **err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int r;

	r = fd_read_at(c->dfd, STATE_FILE, &buf, &len, err);
	if (r < 0)
		return r;
	husk_state_free(c->st);
	c->st = NULL;
	r = husk_state_from_json(buf, len, &c->st, err);
	if (r < 0)
		return husk_err_wrap(err, "container \"%s\": read state", c->id);
	return 0;
}

int store_load(struct store *s, const char *id, bool lock, struct ct *c, struct husk_err **err)
{
	int r;

	*c = (struct ct){ .id = xstrdup(id), .dfd = -1 };
	r = store_validate_id(id, err);
	if (r < 0)
		return r;
	if (s->dfd >= 0)
		c->dfd = openat(s->dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (c->dfd < 0) {
		if (s->dfd < 0 || errno == ENOENT)
			return husk_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return husk_err_set(err, errno, "open state of container \"%s\"", id);
	}
	if (lock) {
		r = ct_lock(c, err);
		if (r < 0)
			return r;
	}
	r = ct_read_state(c, err);
	/* A directory without state.json is a container still being created (or a create that
	 * was killed midway): it exists, with status "creating". */
	if (r == -ENOENT) {
		husk_err_freep(err);
		return 0;
	}
	return r;
}

int store_save(struct ct *c, struct husk_err **err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int r;

	r = husk_state_to_json(c->st, &buf, &len, err);
	if (r < 0)
		return r;
	return fd_write_atomic(c->dfd, STATE_FILE, buf, len, 0600, err);
}

int store_remove(struct store *s, struct ct *c, struct husk_err **err)
{
	DIR *d;
	struct dirent *de;
	int dup_fd = dup(c->dfd);

	if (dup_fd < 0)
		return husk_err_set(err, errno, "remove state of \"%s\"", c->id);
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return husk_err_set(err, errno, "remove state of \"%s\"", c->id);
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		unlinkat(c->dfd, de->d_name, 0);
	}
	closedir(d);
	if (unlinkat(s->dfd, c->id, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return husk_err_set(err, errno, "remove state directory `%s/%s`", s->root, c->id);
	return 0;
}

int store_open_ct(const char *root, const char *id, bool lock, struct store *s, struct ct *c,
		  struct husk_err **err)
{
	int r;

	*s = (struct store){ .dfd = -1 };
	*c = (struct ct){ .dfd = -1 };
	r = store_open(root, false, s, err);
	return r < 0 ? r : store_load(s, id, lock, c, err);
}

void store_close_ct(struct store *s, struct ct *c)
{
	ct_release(c);
	store_close(s);
}

void ct_release(struct ct *c)
{
	if (c->dfd >= 0)
		close(c->dfd);	/* drops the flock with the last reference */
	husk_state_free(c->st);
	free(c->id);
	*c = (struct ct){ .dfd = -1 };
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **store_list(struct store *s)
{
	size_t n = 0, cap = 8;
	char **ids = xcalloc(cap, sizeof(*ids));
	struct dirent *de;
	DIR *d;
	int fd;

	if (s->dfd < 0 || (fd = dup(s->dfd)) < 0)
		return ids;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ids;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		if (n + 2 > cap) {
			cap *= 2;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[n++] = xstrdup(de->d_name);
	}
	ids[n] = NULL;
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_str);
	return ids;
}

unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	int fd, field;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

int ct_pidfd(const struct ct *c)
{
	int fd;

	if (!c->st || c->st->pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, c->st->pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after opening the pidfd: if the start time still matches now, the pidfd
	 * refers to our init and not to a process that reused its number. */
	if (proc_start_time(c->st->pid) != c->st->pid_start) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

enum ct_status ct_status(const struct ct *c)
{
	if (!c->st || c->st->pid <= 0)
		return CT_CREATING;
	if (proc_start_time(c->st->pid) != c->st->pid_start)
		return CT_STOPPED;
	if (!c->st->created_done)
		return CT_CREATING;
	/* Paused before the fifo: a created container can be paused too (runc says paused). */
	if (c->st->cgroup_path && cgroup_is_frozen(c->st->cgroup_path))
		return CT_PAUSED;
	if (faccessat(c->dfd, FIFO_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return CT_CREATED;
	return CT_RUNNING;
}

const char *ct_status_name(enum ct_status st)
{
	static const char *const names[] = {
		[CT_CREATING] = "creating", [CT_CREATED] = "created", [CT_RUNNING] = "running",
		[CT_PAUSED] = "paused",	    [CT_STOPPED] = "stopped",
	};
	return names[st];
}
