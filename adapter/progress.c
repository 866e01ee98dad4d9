/* progress.c — the throttled progress line (see progress.h).
 *
 * Owns: the time source (CLOCK_MONOTONIC) and integer rate/ETA arithmetic.
 * Never: prints when `on` is false, so a command piped into a file stays byte-for-byte quiet.
 */
#include "adapter/progress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_US 200000u

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool xb_progress_wanted(int fd)
{
    const char *env = getenv("XB_PROGRESS");
    if (env && !strcmp(env, "0"))
        return false;
    if (env && !strcmp(env, "1"))
        return true;
    return isatty(fd) == 1;
}

void xb_progress_start_on(xb_progress *p, FILE *out, bool on, const char *label, const char *unit,
                          uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->on = on;
    p->label = label;
    p->unit = unit ? unit : "items";
    p->total = total;
    p->t0_us = now_us();
}

void xb_progress_start(xb_progress *p, const char *label, const char *unit, uint64_t total)
{
    xb_progress_start_on(p, stderr, xb_progress_wanted(STDERR_FILENO), label, unit, total);
}

static void draw(xb_progress *p, uint64_t done, uint64_t t)
{
    uint64_t el = t - p->t0_us;
    uint64_t rate = el ? done * 1000000u / el : 0;
    fprintf(p->out, "\r%s: %" PRIu64, p->label, done);
    if (p->total)
        fprintf(p->out, "/%" PRIu64 " %s (%" PRIu64 "%%)", p->total, p->unit,
                done * 100u / p->total);
    else
        fprintf(p->out, " %s", p->unit);
    if (rate) /* slow items (benchmark rounds) would read "0/s": leave the rate out */
        fprintf(p->out, ", %" PRIu64 "/s", rate);
    if (p->total && done && done < p->total) /* from elapsed time, so slow items get one too */
        fprintf(p->out, ", ETA %" PRIu64 "s", el / done * (p->total - done) / 1000000u);
    fputs("   ", p->out);
    fflush(p->out);
    p->drawn = true;
    p->last_us = t;
}

void xb_progress_update(xb_progress *p, uint64_t done)
{
    if (!p->on)
        return;
    uint64_t t = now_us();
    if (p->drawn ? t - p->last_us < REDRAW_US : t - p->t0_us < REDRAW_US)
        return; /* quick commands never draw at all */
    draw(p, done, t);
}

void xb_progress_finish(xb_progress *p, uint64_t done)
{
    if (!p->on || !p->drawn)
        return;
    draw(p, done, now_us());
    fputc('\n', p->out);
    fflush(p->out);
}
