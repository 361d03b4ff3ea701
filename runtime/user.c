/* The container process's identity: groups, gid, uid (keeping capabilities across the switch),
 * umask, rlimits, and HOME from the container's /etc/passwd. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "process.h"

int user_apply(const struct oci_user *u, bool setgroups_allowed, struct husk_err **err)
{
	if (setgroups_allowed && setgroups(u->n_additional_gids, u->additional_gids) < 0)
		return husk_err_set(err, errno, "process.user.additionalGids: setgroups");
	if (!setgroups_allowed && u->n_additional_gids > 0)
		return husk_err_msg(err, EPERM,
				    "process.user.additionalGids: setgroups is denied in this user "
				    "namespace");
	/* Keep the permitted set across setuid; caps_apply() then sets exactly what the
	 * config asks for. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return husk_err_set(err, errno, "prctl PR_SET_KEEPCAPS");
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return husk_err_set(err, errno, "process.user.gid: setresgid %u", u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return husk_err_set(err, errno, "process.user.uid: setresuid %u", u->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return husk_err_set(err, errno, "prctl PR_SET_KEEPCAPS");
	if (u->umask.set)
		umask((mode_t)u->umask.v);
	return 0;
}

char *user_home(uint32_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	char line[1024];

	while (f && fgets(line, sizeof(line), f)) {
		char *fields[7] = { 0 }, *p = line;
		int n = 0;

		while (n < 7 && (fields[n] = strsep(&p, ":")))
			n++;
		if (n >= 6 && fields[2] && (uint32_t)strtoul(fields[2], NULL, 10) == uid &&
		    fields[5][0]) {
			char *home = xstrdup(fields[5]);

			fclose(f);
			return home;
		}
	}
	if (f)
		fclose(f);
	return xstrdup("/");
}

int rlimits_apply(const struct oci_process *p, struct husk_err **err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct oci_rlimit *rl = &p->rlimits[i];
		struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };

		if (setrlimit(rl->resource, &lim) < 0)
			return husk_err_set(err, errno, "process.rlimits[%zu] (%s): setrlimit", i,
					    rl->type);
	}
	return 0;
}
