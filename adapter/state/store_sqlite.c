/* store_sqlite.c — the SQLite backend of the state store (the embedded default, one instance).
 *
 * Owns: the SQLite connection (WAL, synchronous=FULL so a committed transaction survives power
 * loss), its DDL, and a cache of prepared statements keyed by SQL text.
 * Never: holds a transaction open beyond one store call, or is used by two threads at once.
 */
#include <sqlite3.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/state/store_backend.h"

#define STMT_CACHE 48

typedef struct lite {
    sqlite3 *db;
    struct {
        char *sql;
        sqlite3_stmt *s;
    } cache[STMT_CACHE];
    size_t n_cache;
} lite;

/* Every table of every section. Add new tables at the end; statements must be idempotent. */
static const char *const ddl[] = {
    /* subject counters (issue #3) */
    "CREATE TABLE IF NOT EXISTS subjects ("
    " year INTEGER NOT NULL, cls INTEGER NOT NULL, digest BLOB NOT NULL,"
    " PRIMARY KEY (year, cls, digest)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS subject_counts ("
    " year INTEGER NOT NULL, cls INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (year, cls))",
    "CREATE TABLE IF NOT EXISTS subjects_by_dest ("
    " year INTEGER NOT NULL, cls INTEGER NOT NULL, dest TEXT NOT NULL, digest BLOB NOT NULL,"
    " PRIMARY KEY (year, cls, dest, digest)) WITHOUT ROWID",
    /* decisions that depended on the counters (issue #10) */
    "CREATE TABLE IF NOT EXISTS decisions ("
    " id TEXT NOT NULL, dest TEXT NOT NULL, year INTEGER NOT NULL,"
    " pi_before INTEGER NOT NULL, spi_before INTEGER NOT NULL,"
    " pi_after INTEGER NOT NULL, spi_after INTEGER NOT NULL, verdict TEXT NOT NULL,"
    " subjects TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (id, dest))",
    /* receiver dedupe (issue #10) */
    ("CREATE TABLE IF NOT EXISTS received ("
     " key TEXT PRIMARY KEY, received_at INTEGER NOT NULL, file TEXT NOT NULL)"),
};

static int lite_error(xb_error *err, sqlite3 *db, const char *what)
{
    return xb_error_set(err, XB_ESTATE, NULL, "state store (sqlite): %s: %s", what,
                        db ? sqlite3_errmsg(db) : "no connection");
}

static int lite_exec(lite *l, const char *sql, xb_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = xb_error_set(err, XB_ESTATE, NULL, "state store (sqlite): %s", msg ? msg : sql);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int lite_open(xb_store *st, const char *path, xb_error *err)
{
    lite *l = calloc(1, sizeof *l);
    if (!l)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    st->impl = l;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK)
        return lite_error(err, l->db, path);
    sqlite3_busy_timeout(l->db, 30000);
    /* Several processes may open one file at once (tests, a restart beside a running check):
     * switching to WAL or creating tables can answer SQLITE_BUSY without consulting the busy
     * handler (e.g. while another connection recovers the WAL), so the setup is retried, bounded.
     */
    int rc = 0;
    for (int attempt = 0; attempt < 300; attempt++) {
        rc = lite_exec(l, "PRAGMA journal_mode=WAL", err);
        if (!rc)
            rc = lite_exec(l, "PRAGMA synchronous=FULL", err);
        for (size_t i = 0; !rc && i < sizeof ddl / sizeof ddl[0]; i++)
            rc = lite_exec(l, ddl[i], err);
        int code = sqlite3_errcode(l->db) & 0xff;
        if (!rc || (code != SQLITE_BUSY && code != SQLITE_LOCKED))
            break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return rc;
}

static void lite_close(xb_store *st)
{
    lite *l = st->impl;
    if (!l)
        return;
    for (size_t i = 0; i < l->n_cache; i++) {
        sqlite3_finalize(l->cache[i].s);
        free(l->cache[i].sql);
    }
    sqlite3_close(l->db);
    free(l);
    st->impl = NULL;
}

/* The cached statement for sql, prepared on first use. A full cache prepares a one-off
 * statement (*own set: the caller finalizes it). */
static int lite_stmt(sqlite3_stmt **out, bool *own, lite *l, const char *sql, xb_error *err)
{
    *own = false;
    for (size_t i = 0; i < l->n_cache; i++)
        if (!strcmp(l->cache[i].sql, sql)) {
            *out = l->cache[i].s;
            return 0;
        }
    if (sqlite3_prepare_v2(l->db, sql, -1, out, NULL) != SQLITE_OK)
        return lite_error(err, l->db, "prepare");
    char *copy = l->n_cache < STMT_CACHE ? strdup(sql) : NULL;
    if (!copy) {
        *own = true;
        return 0;
    }
    l->cache[l->n_cache].sql = copy;
    l->cache[l->n_cache++].s = *out;
    return 0;
}

static void lite_bind(sqlite3_stmt *s, const xb_sqlv *args, size_t nargs)
{
    for (size_t i = 0; i < nargs; i++) {
        int k = (int)i + 1;
        switch (args[i].type) {
        case XB_SQLV_TEXT:
            sqlite3_bind_text(s, k, args[i].text, -1, SQLITE_TRANSIENT);
            break;
        case XB_SQLV_INT:
            sqlite3_bind_int64(s, k, (sqlite3_int64)args[i].i);
            break;
        case XB_SQLV_BLOB:
            sqlite3_bind_blob(s, k, args[i].blob, (int)args[i].len, SQLITE_TRANSIENT);
            break;
        default:
            sqlite3_bind_null(s, k);
            break;
        }
    }
}

static int lite_rows(sqlite3_stmt *s, lite *l, xb_store_row_fn row, void *ctx, xb_error *err)
{
    int r, n = sqlite3_column_count(s);
    const char *cols[32];
    if (n > 32)
        return xb_error_set(err, XB_ELIMIT, NULL, "state store: more than 32 columns");
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            cols[i] = (const char *)sqlite3_column_text(s, i);
        if (row) {
            int rc = row(ctx, cols, (size_t)n, err);
            if (rc)
                return rc;
        }
    }
    return r == SQLITE_DONE ? 0 : lite_error(err, l->db, "step");
}

static int lite_sql(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs,
                    int64_t *changes, xb_store_row_fn row, void *ctx, xb_error *err)
{
    lite *l = st->impl;
    sqlite3_stmt *s = NULL;
    bool own = false;
    int rc = lite_stmt(&s, &own, l, sql, err);
    if (rc)
        return rc;
    lite_bind(s, args, nargs);
    rc = lite_rows(s, l, row, ctx, err);
    if (!rc && changes)
        *changes = sqlite3_changes(l->db);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (own)
        sqlite3_finalize(s);
    return rc;
}

/* BEGIN and COMMIT run once or twice per message: from the statement cache, instead of
 * sqlite3_exec compiling the text again each time. */
static int lite_txn_stmt(lite *l, const char *sql, xb_error *err)
{
    sqlite3_stmt *s = NULL;
    bool own = false;
    int rc = lite_stmt(&s, &own, l, sql, err);
    if (rc)
        return rc;
    int r = sqlite3_step(s);
    rc = r == SQLITE_DONE ? 0 : lite_error(err, l->db, sql);
    sqlite3_reset(s);
    if (own)
        sqlite3_finalize(s);
    return rc;
}

static int lite_begin(xb_store *st, bool write, xb_error *err)
{
    return lite_txn_stmt(st->impl, write ? "BEGIN IMMEDIATE" : "BEGIN", err);
}

static int lite_commit(xb_store *st, xb_error *err)
{
    return lite_txn_stmt(st->impl, "COMMIT", err);
}

static void lite_rollback(xb_store *st)
{
    lite_exec(st->impl, "ROLLBACK", NULL);
}

static bool lite_retryable(xb_store *st)
{
    (void)st;
    return false; /* a local file: busy is already waited for (busy_timeout) */
}

static int lite_reconnect(xb_store *st, xb_error *err)
{
    (void)st;
    return xb_error_set(err, XB_ESTATE, NULL, "state store (sqlite): nothing to reconnect");
}

struct sqlite3 *xb_store_sqlite(xb_store *st)
{
    return st && st->be == &xb_store_sqlite_backend ? ((lite *)st->impl)->db : NULL;
}

const xb_store_backend xb_store_sqlite_backend = {
    .name = "sqlite",
    .flavour = XB_STORE_SQLITE,
    .open = lite_open,
    .close = lite_close,
    .sql = lite_sql,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .retryable = lite_retryable,
    .reconnect = lite_reconnect,
    .lock_suffix = "", /* BEGIN IMMEDIATE already holds the write lock */
};
