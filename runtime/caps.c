/* Capabilities through libcap: the bounding set is dropped while still root; the other four
 * sets are set after the uid switch (keepcaps), ambient last since it needs P and I. */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "common/util.h"
#include "process.h"

static int last_cap(void)
{
	int last = (int)cap_max_bits() - 1;

	return last > 0 ? last : CAP_LAST_CAP;
}

static bool in_set(char *const *set, int cap)
{
	for (size_t i = 0; set && set[i]; i++)
		if (oci_cap_from_name(set[i]) == cap)
			return true;
	return false;
}

int caps_drop_bounding(const struct oci_caps *caps, struct husk_err **err)
{
	if (!caps)
		return 0;
	for (int c = 0; c <= last_cap(); c++) {
		if (in_set(caps->bounding, c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return husk_err_set(err, errno, "process.capabilities.bounding: drop %d", c);
	}
	return 0;
}

static int fill(cap_t c, cap_flag_t flag, char *const *set)
{
	for (size_t i = 0; set && set[i]; i++) {
		cap_value_t v = oci_cap_from_name(set[i]);

		/* Names the running kernel does not know are skipped, as runc does. */
		if (v < 0 || v > last_cap())
			continue;
		if (cap_set_flag(c, flag, 1, &v, CAP_SET) < 0)
			return -errno;
	}
	return 0;
}

int caps_apply(const struct oci_caps *caps, struct husk_err **err)
{
	cap_t c;
	int r = 0;

	if (!caps)
		return 0;
	c = cap_init();
	if (!c)
		return husk_err_set(err, errno, "process.capabilities");
	if (fill(c, CAP_EFFECTIVE, caps->effective) < 0 || fill(c, CAP_PERMITTED, caps->permitted) < 0 ||
	    fill(c, CAP_INHERITABLE, caps->inheritable) < 0)
		r = husk_err_set(err, errno, "process.capabilities");
	else if (cap_set_proc(c) < 0)
		r = husk_err_set(err, errno, "process.capabilities: set effective/permitted/inheritable");
	cap_free(c);
	if (r < 0)
		return r;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return husk_err_set(err, errno, "process.capabilities.ambient: clear");
	for (size_t i = 0; caps->ambient && caps->ambient[i]; i++) {
		int v = oci_cap_from_name(caps->ambient[i]);

		if (v < 0 || v > last_cap())
			continue;
		/* Like runc, an ambient cap missing from P or I is not an error: it is ignored. */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) < 0 && errno != EPERM)
			return husk_err_set(err, errno, "process.capabilities.ambient: raise %s",
					    caps->ambient[i]);
	}
	return 0;
}
