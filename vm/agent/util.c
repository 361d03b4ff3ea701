/* The guest agent's pure helpers (util.h): linked into the static agent and the unit tests,
 * so libc only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vm/agent/util.h"

const char *agent_env_path(char *const *env)
{
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			return env[i] + 5;
	return AGENT_DEFAULT_PATH;
}

static int copy_name(char *out, size_t outlen, const char *dir, size_t dlen, const char *file)
{
	int n;

	if (dlen == 0)
		n = snprintf(out, outlen, "./%s", file);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)dlen, dir, file);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int agent_path_lookup(const char *path, const char *file, char *out, size_t outlen)
{
	int found_noexec = 0, too_long = 0;

	if (!*file)
		return -ENOENT;
	if (strchr(file, '/')) {
		if (strlen(file) >= outlen)
			return -ENAMETOOLONG;
		strcpy(out, file);
		return 0;
	}
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		struct stat st;

		int r = copy_name(out, outlen, p, (size_t)(end - p), file);

		too_long |= r < 0;
		if (r == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (st.st_mode & 0111)
				return 0;
			found_noexec = 1;
		}
		if (!*end)
			break;
		p = end;
	}
	if (found_noexec)
		return -EACCES;
	return too_long ? -ENAMETOOLONG : -ENOENT;
}

int agent_exec_status(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
		return 127;
	case EACCES:
	case EPERM:
	case ENOEXEC:
	case EISDIR:
	case ETXTBSY:
		return 126;
	}
	return 1;
}

char *agent_order_next(char **cursor)
{
	while (**cursor) {
		char *line = *cursor, *nl = strchrnul(line, '\n'), *end = nl;

		*cursor = *nl ? nl + 1 : nl;
		*nl = '\0';
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#' || *line == '.' || strchr(line, '/'))
			continue;
		return line;
	}
	return NULL;
}

bool agent_port_name_is(const char *content, size_t len, const char *want)
{
	size_t wl = strlen(want);

	if (len > 0 && content[len - 1] == '\n')
		len--;
	return len == wl && memcmp(content, want, wl) == 0;
}
