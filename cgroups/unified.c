/* linux.resources.unified: raw cgroup v2 files by name, written last so they can refine
 * what the typed fields set. A key never names a path: no '/', no "." or "..". */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "internal.h"

bool cgroup_unified_key_ok(const char *key)
{
	return key && *key && key[0] != '.' && !strchr(key, '/');
}

int cgroup_unified_ctrl(const char *key)
{
	const char *dot = strchr(key, '.');

	if (!dot)
		return -1;
	for (int c = 0; c < CGROUP_CTRLS; c++)
		if ((size_t)(dot - key) == strlen(cgroup_ctrl_name(c)) &&
		    strncmp(key, cgroup_ctrl_name(c), (size_t)(dot - key)) == 0)
			return c;
	return -1;
}

int cgroup_apply_unified(struct cgroup *cg, const struct oci_map *u, struct husk_err **err)
{
	for (size_t i = 0; i < u->n; i++) {
		const char *key = u->items[i].key;
		int r;

		if (!cgroup_unified_key_ok(key))
			return husk_err_msg(err, EINVAL, "linux.resources.unified[\"%s\"]: not a file "
					    "name in the container's cgroup", key);
		if (!cg_has(cg, key))
			return husk_err_msg(err, ENOENT, "linux.resources.unified[\"%s\"]: no such "
					    "file in cgroup `%s`", key, cg->path);
		if ((r = cg_write(cg, key, u->items[i].value, err)) < 0)
			return husk_err_wrap(err, "linux.resources.unified[\"%s\"]", key);
	}
	return 0;
}
