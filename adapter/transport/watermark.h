/* watermark.h — the per-partition commit watermark: which offset may be committed.
 *
 * Owns: the ordered list of offsets handed out for one partition and which of them are finished
 * (acknowledged by every destination or parked in the DLQ, audit record written). The commit
 * point is the offset after the longest finished prefix, so parallel or out-of-order completion
 * never commits past an unfinished record. Gaps in Kafka offsets (compaction, transaction markers)
 * are fine: only offsets actually handed out are tracked.
 * Never: talks to Kafka. Pure data structure, one owner thread.
 */
#ifndef XB_WATERMARK_H
#define XB_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xb_wm {
    int64_t *offsets; /* ring of tracked offsets, ascending */
    uint8_t *done;    /* parallel ring: finished flags */
    size_t cap, head, len;
    int64_t committable; /* next offset to commit (last finished prefix + 1), -1 = none yet */
    int64_t committed;   /* last value handed to Kafka as committed, -1 = none */
} xb_wm;

void xb_wm_init(xb_wm *wm);
void xb_wm_free(xb_wm *wm);

/* Records that offset was handed out. Offsets must increase; a smaller or equal one is refused
 * with -1 (librdkafka never re-delivers inside one assignment). 0 or -1 (also on ENOMEM). */
int xb_wm_track(xb_wm *wm, int64_t offset);

/* Marks offset finished; advances the commit point over the finished prefix. Returns 1 when the
 * commit point moved, 0 when not, -1 when the offset is not tracked (e.g. a stale completion). */
int xb_wm_finish(xb_wm *wm, int64_t offset);

/* Number of tracked offsets not yet behind the commit point (the partition's outstanding work). */
size_t xb_wm_outstanding(const xb_wm *wm);

/* The offset to commit (Kafka semantics: next offset to read), or -1 when nothing is finished. */
int64_t xb_wm_commit_point(const xb_wm *wm);

/* True when commit point moved since the last xb_wm_mark_committed. */
bool xb_wm_dirty(const xb_wm *wm);
void xb_wm_mark_committed(xb_wm *wm, int64_t offset);

#endif
