/* The host bed's console watchdog, the pure part: which console lines say that the bed's own
 * kernel locked up, and what to keep of the console once one did. bedwatch.c follows the
 * console of a running bed with it; tests/unit/test_hostbed_watch.c feeds it recorded lines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bed_fault {
	BED_FAULT_NONE,
	BED_FAULT_SOFT_LOCKUP,
	BED_FAULT_HARD_LOCKUP,
	BED_FAULT_RCU_STALL,
	BED_FAULT_HUNG_TASK,
	BED_FAULT_WQ_LOCKUP,
	BED_FAULT_PANIC,
};

/* After the first fault line: how long the watch goes on reading (the backtraces of every
 * CPU and the panic follow within a second or two), how many lines after each fault line it
 * keeps, and how many lines a report holds at most. */
#define BEDWATCH_GRACE_MS 15000
#define BEDWATCH_CONTEXT 120
#define BEDWATCH_MAX_LINES 400
#define BEDWATCH_LINE_MAX 512

struct bedwatch {
	uint64_t grace_ms;     /* 0: BEDWATCH_GRACE_MS */
	enum bed_fault first;  /* the first fault seen, or NONE */
	uint64_t first_ms;     /* when it was seen */
	unsigned nfaults;      /* fault lines seen */
	unsigned context_left; /* lines still kept after the last fault line */
	unsigned nlines;       /* lines in report */
	char *report;	       /* the kept lines, each ending in '\n' */
	size_t len, cap;
};

/* The fault a console line reports, or BED_FAULT_NONE. */
enum bed_fault bedwatch_classify(const char *line);

const char *bedwatch_fault_name(enum bed_fault f);

/* Feed one console line (without its newline) seen at now_ms. */
void bedwatch_feed(struct bedwatch *w, const char *line, uint64_t now_ms);

/* Whether the watch has seen a fault and read on for its grace period since. */
bool bedwatch_done(const struct bedwatch *w, uint64_t now_ms);

void bedwatch_free(struct bedwatch *w);
