/* store.c — the state store's dispatcher and the portable SQL of every section (see store.h).
 *
 * Owns: choosing the backend from the URL, the retry of whole transactions after a lost
 * connection (bounded by retry_ms, logged), the subject-counter section, the decision protocol
 * (optimistic decide, then lock -> check committed counts -> decide again if they moved ->
 * insert -> record -> commit), receiver dedupe, and the generic xb_store_sql* entry points.
 * Every writer of the subject sets takes the year's counter rows first (SELECT ... FOR UPDATE
 * on PostgreSQL, BEGIN IMMEDIATE on SQLite), so a count equal to the snapshot's proves the set
 * is unchanged (sets only grow) and a decision made on it still holds.
 * Never: holds a transaction across calls, stores anything but digests for subjects, logs a
 * digest, or counts a replayed decision twice.
 */
#include "adapter/state/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/log.h"
#include "adapter/state/store_backend.h"

#define XB_STORE_RETRY_DEFAULT_MS 120000u
#define SEEN_SLOTS 4096u /* the "seen" cache (below): ~90 KB a connection */

typedef struct seen_slot {
    int32_t year;
    uint8_t cls; /* 0: empty */
    uint8_t digest[XB_POLICY_DIGEST_LEN];
} seen_slot;

/* ---- plumbing ---------------------------------------------------------------------------- */

char *xb_store_sql_dollar(const char *sql)
{
    char *out = strdup(sql);
    if (out)
        for (char *c = out; *c; c++)
            if (*c == '?' && c[1] >= '0' && c[1] <= '9')
                *c = '$';
    return out;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* After a retryable failure: reconnect with backoff until it works or the deadline (set from
 * retry_ms at the first failure of the operation) passes. The caller is blocked meanwhile, which
 * is the point: the pipeline releases nothing while its decisions cannot be made durable. */
static int recover(xb_store *st, const xb_error *first, uint64_t deadline, xb_error *err)
{
    unsigned wait = 50;
    xb_log(XB_LOG_WARN, "state.reconnecting", "%s store: %s", st->be->name,
           first ? first->message : "connection lost");
    for (;;) {
        xb_error e;
        xb_error_clear(&e);
        if (st->be->reconnect(st, &e) == 0) {
            xb_log(XB_LOG_INFO, "state.reconnected", "%s store is back", st->be->name);
            return 0;
        }
        if (mono_ms() + wait > deadline) {
            if (err)
                *err = e;
            return e.code < 0 ? e.code : XB_ESTATE;
        }
        sleep_ms(wait);
        wait = wait < 2000 ? wait * 2 : 2000;
    }
}

typedef int (*txn_body)(xb_store *st, void *ctx, xb_error *err);

/* Runs body inside BEGIN/COMMIT; after a lost connection (or a serialization conflict) the
 * WHOLE transaction runs again, so a half-applied attempt never counts. body must therefore
 * make every choice again from what it reads in its own transaction: nothing it computed in a
 * failed attempt may be written by the next one. A COMMIT whose answer was lost with the
 * connection may or may not have committed: st->commit_unknown tells the rerun, which resolves
 * it by reading its own idempotent key back (the decision row of (id, dest)), never by
 * guessing. Retries stop retry_ms after the first failure. */
static int run_txn_attempts(xb_store *st, bool write, txn_body body, void *ctx, xb_error *err)
{
    uint64_t deadline = 0;
    st->commit_unknown = false;
    for (;;) {
        xb_error e;
        xb_error_clear(&e);
        bool committing = false;
        st->in_txn = true;
        int rc = st->be->begin(st, write, &e);
        if (!rc)
            rc = body(st, ctx, &e);
        if (!rc) {
            committing = true;
            rc = st->be->commit(st, &e);
        }
        st->in_txn = false;
        if (!rc) {
            if (write)
                st->write_commits++;
            return 0;
        }
        bool retry = st->be->retryable(st);
        st->be->rollback(st);
        if (!retry) {
            if (err)
                *err = e;
            return rc;
        }
        if (committing) {
            st->commit_unknown = true;
            xb_log(XB_LOG_WARN, "state.commit_unknown",
                   "%s store: COMMIT unanswered (%s); reading back before deciding again",
                   st->be->name, e.message);
        }
        if (!deadline)
            deadline = mono_ms() + st->retry_ms;
        if (recover(st, &e, deadline, err) < 0)
            return rc;
        if (mono_ms() > deadline) {
            if (err)
                *err = e;
            return rc;
        }
    }
}

/* run_txn_attempts, and for a write transaction under the lock the store shares with the other
 * connections of this process (xb_store_share_write_lock), retries included. */
static int run_txn(xb_store *st, bool write, txn_body body, void *ctx, xb_error *err)
{
    pthread_mutex_t *lock = write ? st->write_lock : NULL;
    if (lock)
        pthread_mutex_lock(lock);
    int rc = run_txn_attempts(st, write, body, ctx, err);
    if (lock)
        pthread_mutex_unlock(lock);
    return rc;
}

void xb_store_share_write_lock(xb_store *st, pthread_mutex_t *lock)
{
    st->write_lock = lock;
}

uint64_t xb_store_write_commits(const xb_store *st)
{
    return st ? st->write_commits : 0;
}

/* One statement outside a transaction, rerun after a reconnect (until retry_ms after the first
 * failure). Inside a transaction a failure is the transaction's: run_txn reruns all of it. */
static int run_stmt(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs,
                    int64_t *changes, xb_store_row_fn row, void *ctx, xb_error *err)
{
    uint64_t deadline = 0;
    for (;;) {
        xb_error e;
        xb_error_clear(&e);
        int rc = st->be->sql(st, sql, args, nargs, changes, row, ctx, &e);
        if (!rc)
            return 0;
        if (st->in_txn || !st->be->retryable(st) || (deadline && mono_ms() > deadline)) {
            if (err)
                *err = e;
            return rc;
        }
        if (!deadline)
            deadline = mono_ms() + st->retry_ms;
        if (recover(st, &e, deadline, err) < 0)
            return rc;
    }
}

int xb_store_open(xb_store **out, const char *url, xb_error *err)
{
    *out = NULL;
    const xb_store_backend *be = NULL;
    const char *target = NULL;
    if (url && !strncmp(url, "sqlite:", 7)) {
        be = &xb_store_sqlite_backend;
        target = url + 7;
    } else if (url && (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))) {
        be = &xb_store_pg_backend;
        target = url;
    } else if (url && !strncmp(url, "postgres:", 9)) {
        be = &xb_store_pg_backend;
        target = url + 9; /* keyword=value conninfo */
    }
    if (!be)
        return xb_error_set(err, XB_ECONFIG, "state.store",
                            "state.store: expected sqlite:PATH, postgresql://USER@HOST:PORT/DB or "
                            "postgres:CONNINFO");
    xb_store *st = calloc(1, sizeof *st);
    if (!st)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    st->be = be;
    st->retry_ms = XB_STORE_RETRY_DEFAULT_MS;
    st->seen = calloc(SEEN_SLOTS, sizeof *st->seen); /* NULL: every question goes to the store */
    int rc = be->open(st, target, err);
    if (rc) {
        xb_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void xb_store_close(xb_store *st)
{
    if (!st)
        return;
    st->be->close(st);
    free(st->seen);
    free(st);
}

xb_store_flavour xb_store_flavour_of(const xb_store *st)
{
    return st->be->flavour;
}

void xb_store_set_retry(xb_store *st, unsigned retry_ms)
{
    st->retry_ms = retry_ms;
}

/* ---- generic SQL --------------------------------------------------------------------------- */

int xb_store_sql(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs, int64_t *changes,
                 xb_store_row_fn row, void *ctx, xb_error *err)
{
    return run_stmt(st, sql, args, nargs, changes, row, ctx, err);
}

int xb_store_sql_begin(xb_store *st, bool write, xb_error *err)
{
    xb_error e;
    xb_error_clear(&e);
    if (st->be->retryable(st) && recover(st, NULL, mono_ms() + st->retry_ms, err) < 0)
        return XB_ESTATE;
    int rc = st->be->begin(st, write, &e);
    if (rc && st->be->retryable(st) && recover(st, &e, mono_ms() + st->retry_ms, err) == 0)
        rc = st->be->begin(st, write, &e);
    if (rc && err)
        *err = e;
    st->in_txn = rc == 0;
    return rc;
}

int xb_store_sql_commit(xb_store *st, xb_error *err)
{
    int rc = st->be->commit(st, err);
    if (rc)
        st->be->rollback(st);
    st->in_txn = false;
    return rc;
}

void xb_store_sql_rollback(xb_store *st)
{
    st->be->rollback(st);
    st->in_txn = false;
}

bool xb_store_section_ready(const xb_store *st, unsigned bit)
{
    return (st->sections_ready & bit) != 0;
}

void xb_store_section_set_ready(xb_store *st, unsigned bit)
{
    st->sections_ready |= bit;
}

/* ---- subject counters -------------------------------------------------------------------- */

typedef struct counts {
    int64_t pi, spi;
} counts;

static int count_row(void *ctx, const char *const *cols, size_t n, xb_error *err)
{
    counts *c = ctx;
    (void)err;
    if (n < 2 || !cols[0] || !cols[1])
        return 0;
    int cls = atoi(cols[0]);
    int64_t v = strtoll(cols[1], NULL, 10);
    if (cls == XB_PI_PI)
        c->pi = v;
    else if (cls == XB_PI_SPI)
        c->spi = v;
    return 0;
}

static const char SQL_COUNTS[] = "SELECT cls, n FROM subject_counts WHERE year = ?1";

int xb_store_subjects_counts(int64_t *pi, int64_t *spi, xb_store *st, int year, xb_error *err)
{
    counts c = {0, 0};
    xb_sqlv a[] = {XB_SQLV_I(year)};
    int rc = run_stmt(st, SQL_COUNTS, a, 1, NULL, count_row, &c, err);
    *pi = rc ? 0 : c.pi;
    *spi = rc ? 0 : c.spi;
    return rc;
}

static int flag_row(void *ctx, const char *const *cols, size_t n, xb_error *err)
{
    (void)cols;
    (void)n;
    (void)err;
    *(bool *)ctx = true;
    return 0;
}

static const char SQL_SEEN[] =
    "SELECT 1 FROM subjects WHERE year = ?1 AND cls = ?2 AND digest = ?3";

/* Subjects this connection knows to be committed. The sets only grow, so a subject once seen
 * committed stays seen: the snapshot's "seen?" answers from here without a query (issue #8: one
 * SELECT per person per message). Filled only from committed data: a read outside any write
 * transaction, or a write transaction that committed; never from what a transaction may still
 * roll back. Direct-mapped: a newer subject takes its slot. */

static seen_slot *seen_slot_of(const xb_store *st, int year, xb_pi cls,
                               const uint8_t digest[XB_POLICY_DIGEST_LEN])
{
    if (!st->seen)
        return NULL;
    uint32_t h; /* the digest is an HMAC: its bytes are already uniform */
    memcpy(&h, digest, sizeof h);
    /* a person's PI and SPI entries share the digest: the class must move the low bits, or the
     * two take turns in one slot (a miss every time) */
    h ^= (uint32_t)cls * 0x9E3779B1u ^ (uint32_t)year * 0x85EBCA6Bu;
    return &st->seen[h % SEEN_SLOTS];
}

static bool seen_known(const xb_store *st, int year, xb_pi cls,
                       const uint8_t digest[XB_POLICY_DIGEST_LEN])
{
    const seen_slot *s = seen_slot_of(st, year, cls, digest);
    return s && s->cls == (uint8_t)cls && s->year == year &&
           !memcmp(s->digest, digest, XB_POLICY_DIGEST_LEN);
}

static void seen_remember(xb_store *st, int year, xb_pi cls,
                          const uint8_t digest[XB_POLICY_DIGEST_LEN])
{
    seen_slot *s = seen_slot_of(st, year, cls, digest);
    if (!s)
        return;
    s->year = year;
    s->cls = (uint8_t)cls;
    memcpy(s->digest, digest, XB_POLICY_DIGEST_LEN);
}

static void seen_remember_all(xb_store *st, int year, const xb_policy_subject *subs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        seen_remember(st, year, subs[i].cls, subs[i].digest);
}

static int seen_raw(bool *seen, xb_store *st, bool retry, int year, xb_pi cls,
                    const uint8_t digest[XB_POLICY_DIGEST_LEN], xb_error *err)
{
    *seen = false;
    xb_sqlv a[] = {XB_SQLV_I(year), XB_SQLV_I((int)cls), XB_SQLV_B(digest, XB_POLICY_DIGEST_LEN)};
    return retry ? run_stmt(st, SQL_SEEN, a, 3, NULL, flag_row, seen, err)
                 : st->be->sql(st, SQL_SEEN, a, 3, NULL, flag_row, seen, err);
}

int xb_store_subject_seen(bool *seen, xb_store *st, int year, xb_pi cls,
                          const uint8_t digest[XB_POLICY_DIGEST_LEN], xb_error *err)
{
    return seen_raw(seen, st, !st->in_txn, year, cls, digest, err);
}

static int seen_cb(void *ctx, int year, xb_pi cls, const uint8_t digest[XB_POLICY_DIGEST_LEN],
                   bool *seen, xb_error *err)
{
    return xb_store_subject_seen(seen, ctx, year, cls, digest, err);
}

int xb_store_subjects_snapshot(xb_policy_counters *out, xb_store *st, int year, xb_error *err)
{
    memset(out, 0, sizeof *out);
    out->year = year;
    out->seen = seen_cb;
    out->ctx = st;
    return xb_store_subjects_counts(&out->pi, &out->spi, st, year, err);
}

/* Inside a write transaction: locks the year's two counter rows (in cls order, so two
 * instances never deadlock) and reads the committed counts. Rows missing (a new year) are
 * inserted first; that insert belongs to this transaction, so nothing is cached across a
 * rollback. */
typedef struct lock_rows {
    counts c;
    int rows;
} lock_rows;

static int lock_row(void *ctx, const char *const *cols, size_t n, xb_error *err)
{
    lock_rows *l = ctx;
    l->rows++;
    return count_row(&l->c, cols, n, err);
}

static int lock_year(counts *c, xb_store *st, int year, xb_error *err)
{
    static const char ensure[] = "INSERT INTO subject_counts(year, cls, n) VALUES (?1, 1, 0), "
                                 "(?1, 2, 0) ON CONFLICT DO NOTHING";
    static const char lock_pg[] =
        "SELECT cls, n FROM subject_counts WHERE year = ?1 ORDER BY cls FOR UPDATE";
    static const char lock_lite[] =
        "SELECT cls, n FROM subject_counts WHERE year = ?1 ORDER BY cls";
    const char *lock = st->be->flavour == XB_STORE_POSTGRES ? lock_pg : lock_lite;
    xb_sqlv a[] = {XB_SQLV_I(year)};
    lock_rows l = {{0, 0}, 0};
    int rc = st->be->sql(st, lock, a, 1, NULL, lock_row, &l, err);
    if (!rc && l.rows < 2) {
        memset(&l, 0, sizeof l);
        rc = st->be->sql(st, ensure, a, 1, NULL, NULL, NULL, err);
        if (!rc)
            rc = st->be->sql(st, lock, a, 1, NULL, lock_row, &l, err);
        if (!rc && l.rows < 2)
            rc = xb_error_set(err, XB_ESTATE, NULL, "state store: counter rows for %d missing",
                              year);
    }
    *c = l.c;
    return rc;
}

/* Inside a write transaction holding the year lock: inserts subjects and bumps the counts by
 * exactly what was new. */
static int insert_subjects(size_t *added, xb_store *st, int year, const xb_policy_subject *subs,
                           size_t n, const char *dest, xb_error *err)
{
    static const char ins[] =
        "INSERT INTO subjects(year, cls, digest) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
    static const char ins_dest[] = "INSERT INTO subjects_by_dest(year, cls, dest, digest) "
                                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";
    static const char bump[] = "UPDATE subject_counts SET n = n + ?3 WHERE year = ?1 AND cls = ?2";
    int64_t add[3] = {0, 0, 0};
    *added = 0;
    for (size_t i = 0; i < n; i++) {
        if (subs[i].cls != XB_PI_PI && subs[i].cls != XB_PI_SPI)
            return xb_error_set(err, XB_EINVAL, NULL, "subject %zu: class must be PI or SPI", i);
        xb_sqlv a[] = {XB_SQLV_I(year), XB_SQLV_I((int)subs[i].cls),
                       XB_SQLV_B(subs[i].digest, XB_POLICY_DIGEST_LEN)};
        int64_t ch = 0;
        int rc = st->be->sql(st, ins, a, 3, &ch, NULL, NULL, err);
        if (rc)
            return rc;
        add[subs[i].cls] += ch == 1;
        if (dest) {
            xb_sqlv b[] = {a[0], a[1], XB_SQLV_T(dest), a[2]};
            if ((rc = st->be->sql(st, ins_dest, b, 4, NULL, NULL, NULL, err)))
                return rc;
        }
    }
    for (int cls = XB_PI_PI; cls <= XB_PI_SPI; cls++) {
        if (!add[cls])
            continue;
        xb_sqlv a[] = {XB_SQLV_I(year), XB_SQLV_I(cls), XB_SQLV_I(add[cls])};
        int64_t ch = 0;
        int rc = st->be->sql(st, bump, a, 3, &ch, NULL, NULL, err);
        if (!rc && ch != 1)
            rc = xb_error_set(err, XB_ESTATE, NULL, "state store: no counter row for %d/%d", year,
                              cls);
        if (rc)
            return rc;
    }
    *added = (size_t)(add[XB_PI_PI] + add[XB_PI_SPI]);
    return 0;
}

typedef struct apply_ctx {
    int year;
    const xb_policy_subject *subs;
    size_t n;
    const char *dest;
    size_t added;
} apply_ctx;

static int apply_body(xb_store *st, void *ctx, xb_error *err)
{
    apply_ctx *a = ctx;
    counts c;
    int rc = lock_year(&c, st, a->year, err);
    return rc ? rc : insert_subjects(&a->added, st, a->year, a->subs, a->n, a->dest, err);
}

int xb_store_subjects_apply(size_t *added, xb_store *st, int year, const xb_policy_subject *subs,
                            size_t n, const char *dest, xb_error *err)
{
    if (added)
        *added = 0;
    if (n == 0)
        return 0;
    apply_ctx a = {.year = year, .subs = subs, .n = n, .dest = dest};
    int rc = run_txn(st, true, apply_body, &a, err);
    if (!rc)
        seen_remember_all(st, year, subs, n);
    if (!rc && added)
        *added = a.added;
    return rc;
}

/* ---- the decision protocol ----------------------------------------------------------------- */

/* Subjects of a decision as text: "1:<32 hex>,2:<32 hex>" (cls:digest). */
static char *subjects_text(const xb_policy_subject *subs, size_t n)
{
    char *s = malloc(n * 36 + 1), *p = s;
    if (!s)
        return NULL;
    *p = 0;
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "%s%d:", i ? "," : "", (int)subs[i].cls);
        for (int k = 0; k < XB_POLICY_DIGEST_LEN; k++)
            p += sprintf(p, "%02x", subs[i].digest[k]);
    }
    return s;
}

static bool in_subjects_text(const char *list, xb_pi cls, const uint8_t dg[XB_POLICY_DIGEST_LEN])
{
    char one[40], *p = one;
    p += sprintf(p, "%d:", (int)cls);
    for (int k = 0; k < XB_POLICY_DIGEST_LEN; k++)
        p += sprintf(p, "%02x", dg[k]);
    size_t len = strlen(one);
    for (const char *q = list; q && (q = strstr(q, one)) != NULL; q += len)
        if ((q == list || q[-1] == ',') && (q[len] == ',' || q[len] == 0))
            return true;
    return false;
}

/* A batch's optimistic snapshot (xb_store_decide_batch): the committed counts of each year it
 * met, read once, and the subjects its earlier decisions counted and will insert when the batch
 * commits. A later decision is made as if they were in (seen, and in the counts), so that, when
 * nobody else commits meanwhile, the locked phase finds exactly the counts it was decided on. */
typedef struct pending_subject {
    int year;
    xb_pi cls;
    uint8_t digest[XB_POLICY_DIGEST_LEN];
} pending_subject;

typedef struct year_base {
    int year;
    counts committed, pending;
} year_base;

typedef struct overlay {
    year_base *years;
    size_t n_years;
    pending_subject *subs;
    size_t n_subs, cap_subs;
} overlay;

static bool overlay_has(const overlay *ov, int year, xb_pi cls,
                        const uint8_t digest[XB_POLICY_DIGEST_LEN])
{
    for (size_t i = 0; ov && i < ov->n_subs; i++)
        if (ov->subs[i].year == year && ov->subs[i].cls == cls &&
            !memcmp(ov->subs[i].digest, digest, XB_POLICY_DIGEST_LEN))
            return true;
    return false;
}

/* The snapshot a decision is made on. */
typedef struct snap_ctx {
    xb_store *st;
    bool in_txn;        /* read through the open transaction, no retry of its own */
    const char *unseen; /* replay: subjects the recorded decision counted (seen = false) */
    const overlay *ov;  /* optimistic phase of a batch: what its earlier decisions will add */
} snap_ctx;

static int snap_seen(void *ctx, int year, xb_pi cls, const uint8_t digest[XB_POLICY_DIGEST_LEN],
                     bool *seen, xb_error *err)
{
    snap_ctx *c = ctx;
    if (c->unseen && in_subjects_text(c->unseen, cls, digest)) {
        *seen = false;
        return 0;
    }
    if (overlay_has(c->ov, year, cls, digest) || seen_known(c->st, year, cls, digest)) {
        *seen = true;
        return 0;
    }
    int rc = seen_raw(seen, c->st, !c->in_txn, year, cls, digest, err);
    if (!rc && *seen && !c->in_txn) /* outside a write transaction: committed */
        seen_remember(c->st, year, cls, digest);
    return rc;
}

/* A decision depends on the counters when it was counted, or when a PI message was held back
 * (the threshold quarantines; a quarantine for another reason merely takes the lock too). */
static bool depends_on_counts(const xb_policy_decision *d)
{
    return d->counted || (d->verdict == XB_VERDICT_QUARANTINE && d->pi != XB_PI_NONE);
}

typedef struct decide_ctx {
    xb_policy_decision *out;
    xb_store_decide_info *info;
    int year;
    const char *id, *dest;
    xb_store_decide_fn fn;
    void *fn_ctx;
    counts c0;         /* the counts *out was decided on */
    unsigned attempts; /* runs of decide_locked (run_txn reruns it after a lost connection) */
    /* batches (xb_store_decide_batch) */
    bool overlaid;  /* decided on counts that include earlier decisions of the batch */
    bool predicted; /* its subjects are in the overlay later decisions were made on */
    bool force;     /* decide again under the lock whatever the counts say */
} decide_ctx;

static int call_fn(decide_ctx *d, const xb_policy_counters *snap, xb_error *err)
{
    xb_policy_decision_free(d->out);
    memset(d->out, 0, sizeof *d->out);
    d->c0.pi = snap->pi;
    d->c0.spi = snap->spi;
    return d->fn(d->fn_ctx, snap, d->out, err);
}

typedef struct prior {
    bool found;
    int64_t pi_before, spi_before, pi_after;
    char verdict[16];
    char *subjects;
} prior;

static int prior_row(void *ctx, const char *const *cols, size_t n, xb_error *err)
{
    prior *p = ctx;
    if (n < 5 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4])
        return xb_error_set(err, XB_ESTATE, NULL, "state store: decision row is corrupt");
    p->found = true;
    p->pi_before = strtoll(cols[0], NULL, 10);
    p->spi_before = strtoll(cols[1], NULL, 10);
    p->pi_after = strtoll(cols[2], NULL, 10);
    snprintf(p->verdict, sizeof p->verdict, "%s", cols[3]);
    free(p->subjects);
    p->subjects = strdup(cols[4]);
    return p->subjects ? 0 : XB_ENOMEM;
}

static const char SQL_PRIOR[] = "SELECT pi_before, spi_before, pi_after, verdict, subjects "
                                "FROM decisions WHERE id = ?1 AND dest = ?2";

static int record_decision(xb_store *st, const decide_ctx *d, xb_error *err)
{
    static const char ins[] =
        "INSERT INTO decisions(id, dest, year, pi_before, spi_before, pi_after, spi_after, "
        "verdict, subjects, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT DO NOTHING";
    const xb_policy_decision *o = d->out;
    char *subs = subjects_text(o->subjects, o->n_subjects);
    if (!subs)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    xb_sqlv a[] = {XB_SQLV_T(d->id),         XB_SQLV_T(d->dest),
                   XB_SQLV_I(d->year),       XB_SQLV_I(o->pi_before),
                   XB_SQLV_I(o->spi_before), XB_SQLV_I(o->pi_after),
                   XB_SQLV_I(o->spi_after),  XB_SQLV_T(xb_policy_verdict_name(o->verdict)),
                   XB_SQLV_T(subs),          XB_SQLV_I((int64_t)time(NULL))};
    int rc = st->be->sql(st, ins, a, 10, NULL, NULL, NULL, err);
    free(subs);
    return rc;
}

/* Reproduces a durable decision: the recorded counts, and its own subjects as not yet seen. */
static int replay_prior(xb_store *st, decide_ctx *d, const prior *p, xb_error *err)
{
    snap_ctx sc = {.st = st, .in_txn = true, .unseen = p->subjects};
    xb_policy_counters snap = {
        .year = d->year, .pi = p->pi_before, .spi = p->spi_before, .seen = snap_seen, .ctx = &sc};
    int rc = call_fn(d, &snap, err);
    if (!rc && d->info) {
        d->info->replayed = true;
        d->info->added = 0;
    }
    return rc;
}

static int decide_locked(xb_store *st, void *ctx, xb_error *err)
{
    decide_ctx *d = ctx;
    d->attempts++;
    if (d->info) {
        /* what a failed attempt reported does not hold for this one */
        d->info->replayed = false;
        d->info->added = 0;
        d->info->commit_unknown = st->commit_unknown;
    }
    counts c1;
    int rc = lock_year(&c1, st, d->year, err);
    if (rc)
        return rc;
    prior p = {0};
    xb_sqlv a[] = {XB_SQLV_T(d->id), XB_SQLV_T(d->dest)};
    rc = st->be->sql(st, SQL_PRIOR, a, 2, NULL, prior_row, &p, err);
    if (!rc && p.found)
        rc = replay_prior(st, d, &p, err);
    free(p.subjects);
    if (rc || p.found)
        return rc;
    /* Decide again when someone committed since our snapshot, and on every rerun: a failed
     * attempt may have stopped inside fn (its *out half made: verdict DELIVER, not counted,
     * which would have been released with no durable row) and its c0 came from a transaction
     * that no longer exists. Only the optimistic decision on unchanged counts, or one made in
     * THIS transaction, may be written. */
    if (d->attempts > 1 || d->force || c1.pi != d->c0.pi || c1.spi != d->c0.spi) {
        snap_ctx sc = {.st = st, .in_txn = true};
        xb_policy_counters snap = {
            .year = d->year, .pi = c1.pi, .spi = c1.spi, .seen = snap_seen, .ctx = &sc};
        if ((rc = call_fn(d, &snap, err)))
            return rc;
        if (d->info)
            d->info->redecided = true;
    }
    if (!depends_on_counts(d->out))
        return 0;
    size_t added = 0;
    if (d->out->counted && (rc = insert_subjects(&added, st, d->year, d->out->subjects,
                                                 d->out->n_subjects, d->dest, err)))
        return rc;
    if (added != (d->out->counted ? d->out->n_subjects : 0))
        /* Cannot happen while every writer takes the year lock first; refuse rather than
         * release a decision made on a set that changed under it. */
        return xb_error_set(err, XB_ESTATE, NULL,
                            "state store: %zu of %zu new subjects were already counted",
                            d->out->n_subjects - added, d->out->n_subjects);
    if (d->info)
        d->info->added = added;
    return record_decision(st, d, err);
}

/* SQLite: the snapshot's reads (the counts, then one "seen?" per subject) in one read
 * transaction instead of one implicit transaction each, every one taking and dropping the file
 * and WAL-index locks (fcntl: the kernel share of the issue #8 profile). It is also one
 * consistent snapshot, which the protocol does not need (phase 2 re-reads under the lock) but
 * does not mind. A WAL reader blocks no writer. PostgreSQL keeps its per-statement reads with
 * their reconnect retries. Returns false when no transaction was opened (then nothing changes). */
static bool snapshot_begin(xb_store *st)
{
    if (st->be->flavour != XB_STORE_SQLITE || st->in_txn)
        return false;
    xb_error e;
    xb_error_clear(&e);
    if (st->be->begin(st, false, &e))
        return false;
    st->in_txn = true;
    return true;
}

static void snapshot_end(xb_store *st)
{
    xb_error e;
    xb_error_clear(&e);
    if (st->be->commit(st, &e)) /* a read transaction: nothing to lose */
        st->be->rollback(st);
    st->in_txn = false;
}

/* The committed counts of `year` as this batch's snapshot sees them (read at first need). */
static int overlay_year(year_base **out, overlay *ov, xb_store *st, int year, xb_error *err)
{
    for (size_t i = 0; i < ov->n_years; i++)
        if (ov->years[i].year == year) {
            *out = &ov->years[i];
            return 0;
        }
    year_base *grown = realloc(ov->years, (ov->n_years + 1) * sizeof *grown);
    if (!grown)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    ov->years = grown;
    year_base *y = &ov->years[ov->n_years];
    memset(y, 0, sizeof *y);
    y->year = year;
    int rc = xb_store_subjects_counts(&y->committed.pi, &y->committed.spi, st, year, err);
    if (rc)
        return rc;
    ov->n_years++;
    *out = y;
    return 0;
}

static int overlay_add(overlay *ov, year_base *y, const xb_policy_subject *subs, size_t n)
{
    if (ov->n_subs + n > ov->cap_subs) {
        size_t cap = (ov->n_subs + n) * 2;
        pending_subject *grown = realloc(ov->subs, cap * sizeof *grown);
        if (!grown)
            return XB_ENOMEM;
        ov->subs = grown;
        ov->cap_subs = cap;
    }
    for (size_t i = 0; i < n; i++) {
        pending_subject *p = &ov->subs[ov->n_subs++];
        p->year = y->year;
        p->cls = subs[i].cls;
        memcpy(p->digest, subs[i].digest, XB_POLICY_DIGEST_LEN);
        if (subs[i].cls == XB_PI_PI)
            y->pending.pi++;
        else
            y->pending.spi++;
    }
    return 0;
}

static void overlay_free(overlay *ov)
{
    free(ov->years);
    free(ov->subs);
}

/* Phase 1 of one decision: on the batch's snapshot, in parallel with every other instance. */
static int decide_optimistic(xb_store *st, decide_ctx *d, overlay *ov, xb_error *err)
{
    year_base *y = NULL;
    int rc = overlay_year(&y, ov, st, d->year, err);
    if (rc)
        return rc;
    snap_ctx sc = {.st = st, .ov = ov};
    xb_policy_counters snap = {.year = d->year,
                               .pi = y->committed.pi + y->pending.pi,
                               .spi = y->committed.spi + y->pending.spi,
                               .seen = snap_seen,
                               .ctx = &sc};
    d->overlaid = y->pending.pi || y->pending.spi;
    if ((rc = call_fn(d, &snap, err)))
        return rc;
    if (!d->out->counted || !d->out->n_subjects)
        return 0;
    d->predicted = true;
    return overlay_add(ov, y, d->out->subjects, d->out->n_subjects) ? XB_ENOMEM : 0;
}

/* Phase 2 of a batch: every decision that depends on the counters, in ONE write transaction. A
 * decision made on the overlay holds while every earlier one it assumed went in exactly as
 * predicted; after one that did not (decided again, or replayed), a count equal to the
 * snapshot's no longer proves the set unchanged, so the rest that relied on it decide again. */
typedef struct group {
    decide_ctx *ds;
    const bool *locks; /* which of ds take part */
    size_t n;
    /* a decision failed on its own (not the connection): run_txn gave up at once, and the
     * others may go again without it */
    bool failed_alone;
} group;

static int group_body(xb_store *st, void *ctx, xb_error *err)
{
    group *g = ctx;
    bool overlay_holds = true;
    g->failed_alone = false;
    for (size_t k = 0; k < g->n; k++) {
        decide_ctx *d = &g->ds[k];
        if (!g->locks[k]) { /* failed in phase 1: what it predicted will not go in */
            overlay_holds = overlay_holds && !d->predicted;
            continue;
        }
        d->force = d->overlaid && !overlay_holds;
        int rc = decide_locked(st, d, err);
        if (rc) {
            g->failed_alone = !st->be->retryable(st);
            return rc;
        }
        if (d->predicted && (d->info->redecided || d->info->replayed))
            overlay_holds = false;
    }
    return 0;
}

static void req_failed(xb_store_decide_req *r, int rc, const xb_error *e)
{
    r->rc = rc;
    r->err = *e;
}

/* After a commit: what a counted decision inserted is now committed. */
static void remember_counted(xb_store *st, const decide_ctx *d)
{
    if (d->out->counted && !d->info->replayed)
        seen_remember_all(st, d->year, d->out->subjects, d->out->n_subjects);
}

int xb_store_decide_batch(xb_store *st, xb_store_decide_req *reqs, size_t n)
{
    if (n == 0)
        return 0;
    decide_ctx *ds = calloc(n, sizeof *ds);
    xb_store_decide_info *scratch = calloc(n, sizeof *scratch);
    bool *locks = calloc(n, sizeof *locks);
    if (!ds || !scratch || !locks) {
        free(ds);
        free(scratch);
        free(locks);
        for (size_t k = 0; k < n; k++) {
            memset(reqs[k].out, 0, sizeof *reqs[k].out);
            reqs[k].rc = xb_error_set(&reqs[k].err, XB_ENOMEM, NULL, "out of memory");
        }
        return XB_ENOMEM;
    }
    /* 1. optimistic, in one read transaction (SQLite), each on the overlay of those before */
    overlay ov = {0};
    size_t n_locks = 0;
    bool read_txn = snapshot_begin(st);
    for (size_t k = 0; k < n; k++) {
        xb_store_decide_req *r = &reqs[k];
        xb_error_clear(&r->err);
        ds[k] = (decide_ctx){.out = r->out,
                             .info = r->info ? r->info : &scratch[k],
                             .year = r->year,
                             .id = r->id,
                             .dest = r->dest,
                             .fn = r->fn,
                             .fn_ctx = r->ctx};
        memset(ds[k].info, 0, sizeof *ds[k].info);
        memset(r->out, 0, sizeof *r->out);
        r->rc = decide_optimistic(st, &ds[k], &ov, &r->err);
        locks[k] = !r->rc && depends_on_counts(r->out);
        n_locks += locks[k];
        ds[k].info->locked = locks[k];
    }
    if (read_txn)
        snapshot_end(st);
    overlay_free(&ov);
    /* 2. make them hold on the committed counts, durably, in one transaction */
    group g = {.ds = ds, .locks = locks, .n = n};
    xb_error e;
    xb_error_clear(&e);
    int rc = n_locks ? run_txn(st, true, group_body, &g, &e) : 0;
    if (rc && n_locks > 1 && g.failed_alone) {
        /* One decision failed and took the transaction with it: the others must not. Each goes
         * again in a transaction of its own, decided afresh (the overlay was rolled back). */
        for (size_t k = 0; k < n; k++) {
            if (!locks[k])
                continue;
            ds[k].force = true;
            int one = run_txn(st, true, decide_locked, &ds[k], &reqs[k].err);
            if (one)
                req_failed(&reqs[k], one, &reqs[k].err);
            else
                remember_counted(st, &ds[k]);
        }
        rc = 0;
    } else if (rc) {
        for (size_t k = 0; k < n; k++)
            if (locks[k])
                req_failed(&reqs[k], rc, &e);
    } else {
        for (size_t k = 0; k < n; k++)
            if (locks[k])
                remember_counted(st, &ds[k]);
    }
    int first = 0;
    for (size_t k = 0; k < n && !first; k++)
        first = reqs[k].rc;
    free(ds);
    free(scratch);
    free(locks);
    return first;
}

int xb_store_decide(xb_policy_decision *out, xb_store_decide_info *info, xb_store *st, int year,
                    const char *id, const char *dest, xb_store_decide_fn fn, void *ctx,
                    xb_error *err)
{
    xb_store_decide_req r = {
        .out = out, .info = info, .year = year, .id = id, .dest = dest, .fn = fn, .ctx = ctx};
    int rc = xb_store_decide_batch(st, &r, 1);
    if (rc && err)
        *err = r.err;
    return rc;
}

int xb_store_decision_get(int64_t *pi_before, int64_t *pi_after, char verdict[16], xb_store *st,
                          const char *id, const char *dest, xb_error *err)
{
    prior p = {0};
    xb_sqlv a[] = {XB_SQLV_T(id), XB_SQLV_T(dest)};
    int rc = run_stmt(st, SQL_PRIOR, a, 2, NULL, prior_row, &p, err);
    free(p.subjects);
    if (rc)
        return rc;
    if (!p.found)
        return xb_error_set(err, XB_ENOTFOUND, NULL, "no durable decision for %s -> %s", id, dest);
    if (pi_before)
        *pi_before = p.pi_before;
    if (pi_after)
        *pi_after = p.pi_after;
    if (verdict)
        snprintf(verdict, 16, "%s", p.verdict);
    return 0;
}

/* ---- receiver dedupe ------------------------------------------------------------------------ */

int xb_store_dedupe_claim(bool *fresh, xb_store *st, const char *key, const char *file,
                          xb_error *err)
{
    static const char ins[] = "INSERT INTO received(key, received_at, file) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT DO NOTHING";
    xb_sqlv a[] = {XB_SQLV_T(key), XB_SQLV_I((int64_t)time(NULL)), XB_SQLV_T(file ? file : "")};
    int64_t ch = 0;
    *fresh = false;
    int rc = run_stmt(st, ins, a, 3, &ch, NULL, NULL, err);
    if (!rc)
        *fresh = ch == 1;
    return rc;
}
