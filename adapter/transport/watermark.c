/* watermark.c — per-partition commit watermark (see watermark.h).
 *
 * Owns: a ring of (offset, finished) in hand-out order. Finishing is a binary search (offsets are
 * ascending), advancing pops the finished prefix, so each offset costs O(log n) amortised.
 * Never: commits anything itself.
 */
#include "adapter/transport/watermark.h"

#include <stdlib.h>
#include <string.h>

void xb_wm_init(xb_wm *wm)
{
    memset(wm, 0, sizeof *wm);
    wm->committable = -1;
    wm->committed = -1;
}

void xb_wm_free(xb_wm *wm)
{
    free(wm->offsets);
    free(wm->done);
    xb_wm_init(wm);
}

static size_t slot(const xb_wm *wm, size_t i)
{
    return (wm->head + i) % wm->cap;
}

static int grow(xb_wm *wm)
{
    size_t ncap = wm->cap ? wm->cap * 2 : 64;
    int64_t *no = malloc(ncap * sizeof *no);
    uint8_t *nd = malloc(ncap);
    if (!no || !nd) {
        free(no);
        free(nd);
        return -1;
    }
    for (size_t i = 0; i < wm->len; i++) {
        no[i] = wm->offsets[slot(wm, i)];
        nd[i] = wm->done[slot(wm, i)];
    }
    free(wm->offsets);
    free(wm->done);
    wm->offsets = no;
    wm->done = nd;
    wm->cap = ncap;
    wm->head = 0;
    return 0;
}

int xb_wm_track(xb_wm *wm, int64_t offset)
{
    if (offset < 0)
        return -1;
    if (wm->len > 0 && offset <= wm->offsets[slot(wm, wm->len - 1)])
        return -1;
    if (wm->len == 0 && wm->committable >= 0 && offset < wm->committable)
        return -1;
    if (wm->len == wm->cap && grow(wm) < 0)
        return -1;
    size_t s = slot(wm, wm->len);
    wm->offsets[s] = offset;
    wm->done[s] = 0;
    wm->len++;
    return 0;
}

static int find(const xb_wm *wm, int64_t offset, size_t *idx)
{
    size_t lo = 0, hi = wm->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = wm->offsets[slot(wm, mid)];
        if (v == offset) {
            *idx = mid;
            return 0;
        }
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int xb_wm_finish(xb_wm *wm, int64_t offset)
{
    size_t idx;
    if (find(wm, offset, &idx) < 0)
        return -1;
    wm->done[slot(wm, idx)] = 1;
    int moved = 0;
    while (wm->len > 0 && wm->done[wm->head]) {
        wm->committable = wm->offsets[wm->head] + 1;
        wm->head = (wm->head + 1) % wm->cap;
        wm->len--;
        moved = 1;
    }
    return moved;
}

size_t xb_wm_outstanding(const xb_wm *wm)
{
    return wm->len;
}

int64_t xb_wm_commit_point(const xb_wm *wm)
{
    return wm->committable;
}

bool xb_wm_dirty(const xb_wm *wm)
{
    return wm->committable >= 0 && wm->committable != wm->committed;
}

void xb_wm_mark_committed(xb_wm *wm, int64_t offset)
{
    wm->committed = offset;
}
