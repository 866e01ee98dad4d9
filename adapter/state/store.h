/* store.h — xborder's durable state behind one backend-neutral interface.
 *
 * Owns: opening a store from a URL, schema creation/migration, and one section of functions per
 * kind of state:
 *   - subject counters (issue #3): distinct natural persons per calendar year (Asia/Shanghai) and
 *     PI class, institution-wide, as keyed digests, plus a per-destination copy for reporting;
 *   - the decision protocol (issue #10): a policy decision that depends on the counters is made
 *     on the COMMITTED count, and its deltas and a durable decision row are written in one
 *     transaction, so several instances sharing one store count exactly;
 *   - receiver dedupe (issue #10): idempotency keys claimed once across every receiver;
 *   - generic SQL (xb_store_sql*) for sections that live in their own file (the settlement
 *     ledger, adapter/state/ledger.c).
 * Backends: SQLite ("sqlite:PATH", "sqlite::memory:"), the embedded default for one instance;
 * PostgreSQL via libpq ("postgresql://user@host:port/db", "postgres://...", or
 * "postgres:KEYWORD=VALUE ..." conninfo) for several instances in one consumer group.
 * A lost PostgreSQL connection (restart, failover) is retried for retry_ms while the caller
 * waits (the pipeline pauses: nothing is released without a committed decision), then the whole
 * transaction runs again; a replayed decision never counts twice.
 * Never: decides anything (policy does), logs digests or keys, releases a message, or holds a
 * transaction open beyond one call.
 */
#ifndef XB_STORE_H
#define XB_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/policy/policy.h"
#include "iso20022/error.h"

typedef struct xb_store xb_store;

typedef enum xb_store_flavour { XB_STORE_SQLITE = 0, XB_STORE_POSTGRES } xb_store_flavour;

/* Opens (creating tables as needed). XB_ECONFIG for an unknown URL scheme, XB_ESTATE when the
 * backend refuses. Errors never echo a password from the URL. */
int xb_store_open(xb_store **out, const char *url, xb_error *err);
void xb_store_close(xb_store *st);

/* Stores given the same lock (connections of one process, used by different threads: the
 * pipeline's deciders, issue #8) take it around every write transaction, so that they queue on
 * a mutex instead of in SQLite's busy handler, which sleeps 1 to 100 ms between tries. NULL
 * undoes it. Other processes still meet on the database's own lock. */
void xb_store_share_write_lock(xb_store *st, pthread_mutex_t *lock);
xb_store_flavour xb_store_flavour_of(const xb_store *st);
/* Write transactions this connection has committed (any thread may read it). NULL: 0. */
uint64_t xb_store_write_commits(const xb_store *st);
/* How long (ms) a lost connection is retried before an operation fails (default 120000). */
void xb_store_set_retry(xb_store *st, unsigned retry_ms);

/* ---- subject counters (issue #3) --------------------------------------------------------- */

/* Totals for a year: distinct subjects in the PI and SPI sets. */
int xb_store_subjects_counts(int64_t *pi, int64_t *spi, xb_store *st, int year, xb_error *err);

/* Whether a digest is already in the (year, cls) set. */
int xb_store_subject_seen(bool *seen, xb_store *st, int year, xb_pi cls,
                          const uint8_t digest[XB_POLICY_DIGEST_LEN], xb_error *err);

/* A policy snapshot for `year` whose seen() callback reads this store (not locked: for a
 * decision that must hold across instances use xb_store_decide). */
int xb_store_subjects_snapshot(xb_policy_counters *out, xb_store *st, int year, xb_error *err);

/* Adds subjects in ONE transaction (INSERT ... ON CONFLICT DO NOTHING on (year, cls, digest)),
 * keeping the totals exact. dest (may be NULL) also records them in the per-destination set.
 * *added (may be NULL) receives how many were new. Durable when it returns 0. */
int xb_store_subjects_apply(size_t *added, xb_store *st, int year, const xb_policy_subject *subs,
                            size_t n, const char *dest, xb_error *err);

/* ---- the decision protocol (issue #10) --------------------------------------------------- */

/* Makes one policy decision into *out from the snapshot it is handed. Called once or twice by
 * xb_store_decide (the second time under the year's counter lock, when the committed counts
 * moved since the first snapshot), and once more for every rerun of the locked transaction
 * after a lost connection: each call must decide from the ORIGINAL message bytes
 * (xb_policy_decide transforms in place, so parse again). out is zeroed before each call and
 * the previous decision freed. A call that fails leaves nothing that a later call reuses. */
typedef int (*xb_store_decide_fn)(void *ctx, const xb_policy_counters *snap,
                                  xb_policy_decision *out, xb_error *err);

typedef struct xb_store_decide_info {
    bool locked;    /* the decision depended on the counters: it went through the lock */
    bool redecided; /* the committed counts had moved: decided again under the lock */
    bool replayed;  /* a decision for (id, dest) was already durable: reproduced, not recounted */
    size_t added;   /* subjects this decision added to the counters */
    bool commit_unknown; /* a COMMIT of this call went unanswered (connection lost): resolved by
                          * reading the (id, dest) row back in the rerun (replayed when it had
                          * committed), never by guessing */
} xb_store_decide_info;

/* Decides record `id` for destination `dest` in `year`:
 *   1. fn with an unlocked snapshot (work in parallel across instances);
 *   2. when the decision depends on the counters (counted, or a PI quarantine): one transaction
 *      that locks the year's counter rows, reads the committed counts, decides again if they
 *      moved, inserts the new subjects (ON CONFLICT DO NOTHING), bumps the counts and records
 *      the decision row (id, dest, counts before/after, verdict, subjects), then commits.
 * A threshold crossed by one instance is therefore seen by every other before its next release,
 * and two instances seeing the same new person count it once. When a row for (id, dest) is
 * already durable (a redelivery after a crash or a rebalance, or our own COMMIT whose answer was
 * lost with the connection), the decision is reproduced from the recorded snapshot and nothing
 * is counted again. Returns 0 only with a decision that is durable (or does not depend on the
 * counters) and that is the one *out holds. info may be NULL. */
int xb_store_decide(xb_policy_decision *out, xb_store_decide_info *info, xb_store *st, int year,
                    const char *id, const char *dest, xb_store_decide_fn fn, void *ctx,
                    xb_error *err);

/* One decision of a batch: xb_store_decide's arguments, and what it returned for this one. */
typedef struct xb_store_decide_req {
    xb_policy_decision *out;
    xb_store_decide_info *info; /* may be NULL */
    int year;
    const char *id, *dest;
    xb_store_decide_fn fn;
    void *ctx;
    int rc;       /* 0, or this decision's own error */
    xb_error err; /* when rc < 0 */
} xb_store_decide_req;

/* Decides several records as xb_store_decide decides each, with ONE write transaction (one
 * commit, one wait for the disk) for all whose decision depends on the counters (issue #8: a
 * transaction per decision was ~30% of the pipeline's CPU, and on a disk each commit waits for
 * an fsync). Phase 1 decides them in order on one snapshot in which the subjects an earlier
 * decision counted are already seen and counted, so that phase 2 finds the counts each was made
 * on unless another writer committed meanwhile (then, as alone, it decides again under the lock).
 * A decision that fails in phase 2 does not fail the others: they go again, one transaction each.
 * Every fn is called with the protocol of xb_store_decide (fresh parse on every call after the
 * first). Returns 0 when all succeeded, else the first req's error; each req says its own. */
int xb_store_decide_batch(xb_store *st, xb_store_decide_req *reqs, size_t n);

/* Reads the durable decision row of (id, dest): XB_ENOTFOUND when none. Any out may be NULL. */
int xb_store_decision_get(int64_t *pi_before, int64_t *pi_after, char verdict[16], xb_store *st,
                          const char *id, const char *dest, xb_error *err);

/* ---- receiver dedupe (issue #10) --------------------------------------------------------- */

/* Claims an idempotency key: *fresh is true for the first claim of key across every receiver
 * sharing this store, false afterwards. file (may be "") says where the message was stored. */
int xb_store_dedupe_claim(bool *fresh, xb_store *st, const char *key, const char *file,
                          xb_error *err);

/* ---- generic SQL, for sections in their own file ----------------------------------------- */

typedef enum xb_sqlv_type {
    XB_SQLV_NULL = 0,
    XB_SQLV_TEXT,
    XB_SQLV_INT,
    XB_SQLV_BLOB
} xb_sqlv_type;

typedef struct xb_sqlv {
    xb_sqlv_type type;
    const char *text;
    int64_t i;
    const void *blob;
    size_t len;
} xb_sqlv;

#define XB_SQLV_T(s) ((xb_sqlv){.type = XB_SQLV_TEXT, .text = (s)})
#define XB_SQLV_I(v) ((xb_sqlv){.type = XB_SQLV_INT, .i = (v)})
#define XB_SQLV_B(p, n) ((xb_sqlv){.type = XB_SQLV_BLOB, .blob = (p), .len = (n)})

/* One row: columns as text (NULL for SQL NULL). Return non-zero to stop with that code. */
typedef int (*xb_store_row_fn)(void *ctx, const char *const *cols, size_t ncols, xb_error *err);

/* Runs one statement written in the portable subset (?1, ?2 ... placeholders; ON CONFLICT DO
 * NOTHING; no backend-only functions). *changes (may be NULL) gets the rows changed; row (may
 * be NULL) is called per result row. Prepared once per store and reused. */
int xb_store_sql(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs, int64_t *changes,
                 xb_store_row_fn row, void *ctx, xb_error *err);
/* Transactions for xb_store_sql callers (write: take the write lock up front). */
int xb_store_sql_begin(xb_store *st, bool write, xb_error *err);
int xb_store_sql_commit(xb_store *st, xb_error *err);
void xb_store_sql_rollback(xb_store *st);

/* Sections that create their tables lazily (the settlement ledger) do it once per open store
 * instead of once per transaction: a flag per section (bit = 1u << n), cleared by open. */
#define XB_STORE_SECTION_LEDGER (1u << 0)
bool xb_store_section_ready(const xb_store *st, unsigned bit);
void xb_store_section_set_ready(xb_store *st, unsigned bit);

/* ---- settlement ledger (issue #5) -------------------------------------------------------- */
/* Implemented in adapter/state/ledger.c (its tables are created there, idempotently), declared
 * in adapter/state/ledger.h. The SQLite handle, for sections not yet on xb_store_sql; NULL for
 * a PostgreSQL store. */
struct sqlite3;
struct sqlite3 *xb_store_sqlite(xb_store *st);

#endif
