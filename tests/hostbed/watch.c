/* The host bed's console watchdog, the pure part: classify console lines, keep the fault lines
 * and the backtraces that follow them, and say when the watch has read enough. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/hostbed/watch.h"

/* Each fault as the kernel words it (6.1 and later; older kernels share the fragments). A
 * line must hold every fragment of an entry, in any place: the timestamp and the CPU number
 * vary. */
static const struct {
	enum bed_fault fault;
	const char *all[2];
} patterns[] = {
	{ BED_FAULT_SOFT_LOCKUP, { "BUG: soft lockup", NULL } },
	{ BED_FAULT_HARD_LOCKUP, { "hard LOCKUP", NULL } },
	{ BED_FAULT_RCU_STALL, { "INFO: rcu_", "detected stall" } },
	{ BED_FAULT_HUNG_TASK, { "INFO: task ", " blocked for more than " } },
	{ BED_FAULT_WQ_LOCKUP, { "BUG: workqueue lockup", NULL } },
	{ BED_FAULT_PANIC, { "Kernel panic - not syncing", NULL } },
};

static const char *const fault_names[] = {
	[BED_FAULT_NONE] = "none",
	[BED_FAULT_SOFT_LOCKUP] = "soft lockup",
	[BED_FAULT_HARD_LOCKUP] = "hard lockup",
	[BED_FAULT_RCU_STALL] = "RCU stall",
	[BED_FAULT_HUNG_TASK] = "hung task",
	[BED_FAULT_WQ_LOCKUP] = "workqueue lockup",
	[BED_FAULT_PANIC] = "kernel panic",
};

enum bed_fault bedwatch_classify(const char *line)
{
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		bool all = true;

		for (size_t j = 0; j < ARRAY_SIZE(patterns[i].all) && patterns[i].all[j]; j++)
			all = all && strstr(line, patterns[i].all[j]);
		if (all)
			return patterns[i].fault;
	}
	return BED_FAULT_NONE;
}

const char *bedwatch_fault_name(enum bed_fault f)
{
	if ((unsigned)f >= ARRAY_SIZE(fault_names))
		return "?";
	return fault_names[f];
}

/* Append line to the report: printable ASCII only (the console carries the firmware's
 * escape sequences; other bytes become '?', carriage returns go), at most BEDWATCH_LINE_MAX
 * bytes of it. */
static void keep(struct bedwatch *w, const char *line)
{
	size_t n = strnlen(line, BEDWATCH_LINE_MAX);

	if (w->nlines >= BEDWATCH_MAX_LINES)
		return;
	if (w->len + n + 2 > w->cap) {
		w->cap = (w->len + n + 2) * 2;
		w->report = xrealloc(w->report, w->cap);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c != '\r')
			w->report[w->len++] = c == '\t' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	w->report[w->len++] = '\n';
	w->report[w->len] = '\0';
	w->nlines++;
}

void bedwatch_feed(struct bedwatch *w, const char *line, uint64_t now_ms)
{
	enum bed_fault f = bedwatch_classify(line);

	if (f != BED_FAULT_NONE) {
		if (w->first == BED_FAULT_NONE) {
			w->first = f;
			w->first_ms = now_ms;
		}
		w->nfaults++;
		w->context_left = BEDWATCH_CONTEXT;
		keep(w, line);
		return;
	}
	if (w->context_left > 0) {
		w->context_left--;
		keep(w, line);
	}
}

bool bedwatch_done(const struct bedwatch *w, uint64_t now_ms)
{
	uint64_t grace = w->grace_ms ? w->grace_ms : BEDWATCH_GRACE_MS;

	return w->first != BED_FAULT_NONE && now_ms - w->first_ms >= grace;
}

void bedwatch_free(struct bedwatch *w)
{
	free(w->report);
	*w = (struct bedwatch){ .grace_ms = w->grace_ms };
}
