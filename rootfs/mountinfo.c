/* /proc/self/mountinfo as a table: used to find the parent mount of the rootfs (pivot_root
 * needs it non-shared), the host's cgroup hierarchies, and the mounts to drop with --no-pivot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "rootfs/internal.h"
#include "rootfs/rootfs.h"

/* The kernel escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c). */
static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
static int parse_line(char *line, struct mountinfo *m)
{
	char *f[6], *save = NULL, *tok;
	int i = 0;

	memset(m, 0, sizeof(*m));
	for (; i < 6; i++) {
		f[i] = strtok_r(i ? NULL : line, " \n", &save);
		if (!f[i])
			return -EINVAL;
	}
	m->id = atoi(f[0]);
	m->parent = atoi(f[1]);
	m->root = unescape(f[3]);
	m->mount_point = unescape(f[4]);
	/* Optional fields until the "-" separator. */
	while ((tok = strtok_r(NULL, " \n", &save)) && !streq(tok, "-"))
		if (startswith(tok, "shared:"))
			m->shared = true;
	tok = strtok_r(NULL, " \n", &save);
	m->fstype = xstrdup(tok ? tok : "");
	tok = strtok_r(NULL, " \n", &save);
	m->source = unescape(tok ? tok : "");
	tok = strtok_r(NULL, " \n", &save);
	m->super_opts = xstrdup(tok ? tok : "");
	return 0;
}

static void entry_free(struct mountinfo *m)
{
	free(m->root);
	free(m->mount_point);
	free(m->fstype);
	free(m->source);
	free(m->super_opts);
}

int mountinfo_load(struct mountinfo_table *t, struct husk_err **err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, alloc = 0;

	t->e = NULL;
	t->n = 0;
	if (!f)
		return husk_err_set(err, errno, "open `/proc/self/mountinfo`");
	while (getline(&line, &cap, f) > 0) {
		if (t->n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			t->e = xrealloc(t->e, alloc * sizeof(*t->e));
		}
		if (parse_line(line, &t->e[t->n]) == 0)
			t->n++;
	}
	return 0;
}

void mountinfo_free(struct mountinfo_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		entry_free(&t->e[i]);
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

const struct mountinfo *mountinfo_find_id(const struct mountinfo_table *t, int id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].id == id)
			return &t->e[i];
	return NULL;
}

static int cmp_depth(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : (la > lb ? -1 : 0);
}

int rootfs_unmount_under(const char *rootfs, struct husk_err **err)
{
	struct mountinfo_table t = { 0 };
	size_t len = strlen(rootfs), n = 0;
	char **points;
	int r;

	r = mountinfo_load(&t, err);
	if (r < 0)
		return r;
	points = calloc(t.n + 1, sizeof(*points));
	if (!points)
		abort();
	for (size_t i = 0; i < t.n; i++) {
		const char *mp = t.e[i].mount_point;

		if (strncmp(mp, rootfs, len) == 0 && (mp[len] == '/' || mp[len] == '\0'))
			points[n++] = t.e[i].mount_point;
	}
	/* Deepest first, so each unmount finds its own mount on top. */
	qsort(points, n, sizeof(*points), cmp_depth);
	for (size_t i = 0; i < n; i++)
		if (umount2(points[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
		    errno != ENOENT && r == 0)
			r = husk_err_set(err, errno, "unmount `%s`", points[i]);
	free(points);
	mountinfo_free(&t);
	return r;
}
