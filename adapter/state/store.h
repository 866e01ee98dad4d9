/* store.h — xborder's durable state behind one backend-neutral interface.
 *
 * Owns: opening a store from a URL ("sqlite:PATH", "sqlite::memory:"; "postgres:..." comes with
 * issue #10), schema creation/migration, and one section of functions per kind of state:
 *   - subject counters (issue #3): distinct natural persons per calendar year (Asia/Shanghai) and
 *     PI class, institution-wide, as keyed digests, plus a per-destination copy for reporting;
 *   - (later) receiver dedupe, settlement ledger, catalog store: add a section below and a table
 *     to the DDL list in store.c.
 * Never: decides anything (policy does), logs digests or keys, or releases a message: callers
 * apply counter deltas BEFORE the message leaves, so a crash can over-count but never
 * under-count.
 */
#ifndef XB_STORE_H
#define XB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/policy/policy.h"
#include "iso20022/error.h"

typedef struct xb_store xb_store;

/* Opens (creating tables as needed). XB_ECONFIG for an unknown URL scheme, XB_ESTATE when the
 * backend refuses. */
int xb_store_open(xb_store **out, const char *url, xb_error *err);
void xb_store_close(xb_store *st);

/* ---- subject counters (issue #3) --------------------------------------------------------- */

/* Totals for a year: distinct subjects in the PI and SPI sets. */
int xb_store_subjects_counts(int64_t *pi, int64_t *spi, xb_store *st, int year, xb_error *err);

/* Whether a digest is already in the (year, cls) set. */
int xb_store_subject_seen(bool *seen, xb_store *st, int year, xb_pi cls,
                          const uint8_t digest[XB_POLICY_DIGEST_LEN], xb_error *err);

/* A policy snapshot for `year` whose seen() callback reads this store. */
int xb_store_subjects_snapshot(xb_policy_counters *out, xb_store *st, int year, xb_error *err);

/* Adds subjects in ONE transaction (INSERT ... ON CONFLICT DO NOTHING on (year, cls, digest)),
 * keeping the totals exact. dest (may be NULL) also records them in the per-destination set.
 * *added (may be NULL) receives how many were new. Durable when it returns 0. */
int xb_store_subjects_apply(size_t *added, xb_store *st, int year, const xb_policy_subject *subs,
                            size_t n, const char *dest, xb_error *err);

/* ---- settlement ledger (issue #5) -------------------------------------------------------- */
/* Implemented in adapter/state/ledger.c (its tables are created there, idempotently), declared
 * in adapter/state/ledger.h. This accessor lets a section live in its own file. */
struct sqlite3;
struct sqlite3 *xb_store_sqlite(xb_store *st);

#endif
