/* Resolving process.args[0] before the container is reported ready, so a missing or
 * non-executable program fails `create` with the words docker and podman map to 127/126. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "process.h"

static int check_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111))
		return -EACCES;
	return 0;
}

static const char *env_path(char *const *env)
{
	for (size_t i = 0; env && env[i]; i++)
		if (startswith(env[i], "PATH="))
			return env[i] + 5;
	return "";
}

int exe_lookup(const char *arg0, char *const *env, char **out, struct husk_err **err)
{
	const char *path;
	int r;

	if (strchr(arg0, '/')) {
		r = check_exec(arg0);
		if (r == -EACCES)
			return husk_err_msg(err, EACCES, "exec: \"%s\": permission denied", arg0);
		if (r < 0) {
			/* Go's lower-case errno words: docker and podman match them exactly. */
			char words[128];

			snprintf(words, sizeof(words), "%s", strerror(-r));
			words[0] = (char)tolower((unsigned char)words[0]);
			return husk_err_msg(err, -r, "exec: \"%s\": stat %s: %s", arg0, arg0, words);
		}
		*out = xstrdup(arg0);
		return 0;
	}
	/* An empty PATH has no entries; an empty entry inside one means ".", as in Go. */
	for (path = env_path(env); *path;) {
		size_t n = strcspn(path, ":");
		char *cand = n ? xasprintf("%.*s/%s", (int)n, path, arg0) : xasprintf("./%s", arg0);

		r = check_exec(cand);
		if (r == 0) {
			*out = cand;
			return 0;
		}
		free(cand);
		path += n;
		if (*path == ':')
			path++;
	}
	return husk_err_msg(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}
