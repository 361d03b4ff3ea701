/* The state store under --root: one directory per container holding state.json and, while the
 * container is created but not started, exec.fifo. Mutating commands hold a flock on it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "oci/state.h"

enum ct_status {
	CT_CREATING,
	CT_CREATED,
	CT_RUNNING,
	CT_PAUSED,
	CT_STOPPED,
};

struct store {
	char *root;
	int dfd;		/* -1 when the root does not exist yet */
};

struct ct {
	char *id;
	int dfd;		/* the container's state directory */
	bool locked;
	struct husk_state *st;	/* NULL until written/loaded */
};

int store_open(const char *root, bool create, struct store *s, struct husk_err **err);
void store_close(struct store *s);
int store_validate_id(const char *id, struct husk_err **err);
/* Take `id`: create its directory (refusing a duplicate) and lock it. */
int store_reserve(struct store *s, const char *id, struct ct *c, struct husk_err **err);
/* Open and read an existing container; `lock` takes the exclusive lock first. */
int store_load(struct store *s, const char *id, bool lock, struct ct *c, struct husk_err **err);
int store_save(struct ct *c, struct husk_err **err);
/* Remove the container's directory and everything in it. */
int store_remove(struct store *s, struct ct *c, struct husk_err **err);
void ct_release(struct ct *c);
/* store_open (without creating the root) then store_load: what every command on one
 * container starts with. Release both with store_close_ct. */
int store_open_ct(const char *root, const char *id, bool lock, struct store *s, struct ct *c,
		  struct husk_err **err);
void store_close_ct(struct store *s, struct ct *c);
/* Ids of every container under the root, sorted; NULL-terminated. */
char **store_list(struct store *s);

/* The status as it is now: the process is looked at, never trusted from the file. */
enum ct_status ct_status(const struct ct *c);
const char *ct_status_name(enum ct_status st);
/* Start time (field 22 of /proc/PID/stat) or 0 if the pid is gone or a zombie. */
unsigned long long proc_start_time(pid_t pid);
/* A pidfd for the container's init, checked against its recorded start time; -ESRCH if gone. */
int ct_pidfd(const struct ct *c);

#define cleanup_ct __attribute__((cleanup(ct_release)))
