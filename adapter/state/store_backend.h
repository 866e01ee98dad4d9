/* store_backend.h — what a state-store backend (SQLite, PostgreSQL) provides to store.c.
 *
 * Owns: the backend operations table and the xb_store struct shared by store.c (the dispatcher
 * and every section's portable SQL), store_sqlite.c and store_pg.c.
 * Never: included outside adapter/state/store*.c; sections in other files use the public
 * xb_store_sql* functions of store.h instead.
 */
#ifndef XB_STORE_BACKEND_H
#define XB_STORE_BACKEND_H

#include "adapter/state/store.h"

typedef struct xb_store_backend {
    const char *name; /* "sqlite", "postgres" */
    xb_store_flavour flavour;
    /* Connects (creating tables as needed); st->impl is the backend's. */
    int (*open)(xb_store *st, const char *target, xb_error *err);
    void (*close)(xb_store *st);
    /* One statement with ?N placeholders; see xb_store_sql. */
    int (*sql)(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs, int64_t *changes,
               xb_store_row_fn row, void *ctx, xb_error *err);
    /* write: take the write lock now (SQLite BEGIN IMMEDIATE); PostgreSQL locks rows instead. */
    int (*begin)(xb_store *st, bool write, xb_error *err);
    int (*commit)(xb_store *st, xb_error *err);
    void (*rollback)(xb_store *st);
    /* True when the last failure was the connection (or a retryable conflict): the whole
     * transaction may be run again after reconnect() succeeds. */
    bool (*retryable)(xb_store *st);
    int (*reconnect)(xb_store *st, xb_error *err);
    /* Appended to the SELECT that locks a year's counter rows (" FOR UPDATE" or ""). */
    const char *lock_suffix;
} xb_store_backend;

struct xb_store {
    const xb_store_backend *be;
    void *impl;
    unsigned retry_ms; /* how long a lost connection is retried before giving up */
    bool in_txn;
    bool commit_unknown;     /* run_txn: the last attempt's COMMIT went unanswered (see run_txn) */
    unsigned sections_ready; /* XB_STORE_SECTION_* whose tables exist (xb_store_section_ready) */
    pthread_mutex_t *write_lock;    /* xb_store_share_write_lock, or NULL */
    _Atomic uint64_t write_commits; /* write transactions committed (xb_store_write_commits) */
    struct seen_slot *seen; /* subjects known to be committed (store.c, "seen" cache), or NULL */
};

extern const xb_store_backend xb_store_sqlite_backend;
extern const xb_store_backend xb_store_pg_backend;

/* ?N -> $N for PostgreSQL (caller frees). NULL when out of memory. */
char *xb_store_sql_dollar(const char *sql);

#endif
