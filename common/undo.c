/* The undo list: reverse-order rollback of everything a failed command created. */
#include <stdlib.h>

#include "undo.h"
#include "util.h"

void undo_push(struct undo *u, undo_fn fn, void *arg)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 8;
		u->steps = xrealloc(u->steps, u->cap * sizeof(*u->steps));
	}
	u->steps[u->n++] = (struct undo_step){ fn, arg };
}

void undo_commit(struct undo *u)
{
	free(u->steps);
	*u = (struct undo)UNDO_INIT;
}

void undo_run(struct undo *u)
{
	while (u->n > 0) {
		struct undo_step *s = &u->steps[--u->n];

		s->fn(s->arg);
	}
	undo_commit(u);
}
