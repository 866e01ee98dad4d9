/* progress.h — one progress line for long commands (replay, valuate over large statements,
 * benchmarks): shown on a terminal, silent in pipes and files.
 *
 * Owns: the decision whether to show progress (standard error is a terminal and XB_PROGRESS is
 * not "0"; XB_PROGRESS=1 forces it, for tests and for `script` logs), throttling (at most five
 * redraws a second) and the line format:
 *   "\rLABEL: DONE/TOTAL (PCT%), RATE/s, ETA Ns" (or "DONE items, RATE/s" when TOTAL is 0).
 * Never: writes to standard output (that is the command's data), or uses floating point.
 */
#ifndef XB_PROGRESS_H
#define XB_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct xb_progress {
    FILE *out;
    const char *label;
    const char *unit; /* "records", "holdings", ... */
    bool on;
    bool drawn;     /* something was printed: finish ends the line */
    uint64_t total; /* 0: unknown */
    uint64_t t0_us, last_us;
} xb_progress;

/* True when progress should be shown on fd (a terminal), honouring XB_PROGRESS. */
bool xb_progress_wanted(int fd);

/* Starts a progress line on standard error, shown only when xb_progress_wanted(2). */
void xb_progress_start(xb_progress *p, const char *label, const char *unit, uint64_t total);
/* Same on any stream, with the decision made by the caller (tests). */
void xb_progress_start_on(xb_progress *p, FILE *out, bool on, const char *label, const char *unit,
                          uint64_t total);
/* Redraws when at least 200 ms passed since the last redraw. Cheap to call per item. */
void xb_progress_update(xb_progress *p, uint64_t done);
/* Draws the final figures and ends the line (nothing when the line was never shown). */
void xb_progress_finish(xb_progress *p, uint64_t done);

#endif
