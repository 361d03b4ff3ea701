/* The undo list: each step that creates something pushes how to remove it; on failure the
 * steps run in reverse, on success undo_commit() forgets them. */
#pragma once

#include <stddef.h>

typedef void (*undo_fn)(void *arg);

struct undo_step {
	undo_fn fn;
	void *arg;
};

struct undo {
	struct undo_step *steps;
	size_t n, cap;
};

#define UNDO_INIT { NULL, 0, 0 }

void undo_push(struct undo *u, undo_fn fn, void *arg);
void undo_commit(struct undo *u);
void undo_run(struct undo *u);

#define cleanup_undo __attribute__((cleanup(undo_run)))
