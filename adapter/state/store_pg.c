/* store_pg.c — the PostgreSQL backend of the state store (several instances, one consumer group).
 *
 * Owns: the libpq connection (its conninfo, kept for reconnects), the PostgreSQL DDL (run under
 * an advisory lock so instances starting together do not race on CREATE TABLE), a cache of
 * server-side prepared statements keyed by SQL text, and the classification of failures into
 * "connection lost / retryable" (the dispatcher then reconnects and reruns the transaction)
 * and everything else.
 * Never: echoes a password (errors show the URL masked), holds a transaction open beyond one
 * store call, or retries by itself: store.c decides, so a whole transaction is rerun or none.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/state/ledger_schema.h"
#include "adapter/state/store_backend.h"

#define STMT_CACHE 48
#define DDL_LOCK_KEY "7243010" /* pg_advisory_lock key for schema creation: "xb" in decimal-ish */

typedef struct pg {
    PGconn *conn;
    char *target; /* URL or conninfo, for reconnects */
    char masked[256];
    bool retryable;
    struct {
        char *sql;
        char name[16];
    } cache[STMT_CACHE];
    size_t n_cache;
    unsigned next_name;
} pg;

static const char *const ddl[] = {
    /* subject counters (issue #3) */
    "CREATE TABLE IF NOT EXISTS subjects ("
    " year INTEGER NOT NULL, cls SMALLINT NOT NULL, digest BYTEA NOT NULL,"
    " PRIMARY KEY (year, cls, digest))",
    "CREATE TABLE IF NOT EXISTS subject_counts ("
    " year INTEGER NOT NULL, cls SMALLINT NOT NULL, n BIGINT NOT NULL,"
    " PRIMARY KEY (year, cls))",
    "CREATE TABLE IF NOT EXISTS subjects_by_dest ("
    " year INTEGER NOT NULL, cls SMALLINT NOT NULL, dest TEXT NOT NULL, digest BYTEA NOT NULL,"
    " PRIMARY KEY (year, cls, dest, digest))",
    /* decisions that depended on the counters (issue #10) */
    "CREATE TABLE IF NOT EXISTS decisions ("
    " id TEXT NOT NULL, dest TEXT NOT NULL, year INTEGER NOT NULL,"
    " pi_before BIGINT NOT NULL, spi_before BIGINT NOT NULL,"
    " pi_after BIGINT NOT NULL, spi_after BIGINT NOT NULL, verdict TEXT NOT NULL,"
    " subjects TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (id, dest))",
    /* receiver dedupe (issue #10) */
    ("CREATE TABLE IF NOT EXISTS received ("
     " key TEXT PRIMARY KEY, received_at BIGINT NOT NULL, file TEXT NOT NULL)"),
};

/* "postgresql://user:secret@h/db" -> "postgresql://user:***@h/db"; "password=x" -> "password=***".
 */
static void mask_target(char *out, size_t cap, const char *t)
{
    snprintf(out, cap, "%s", t);
    char *at = strchr(out, '@'), *scheme = strstr(out, "://");
    if (scheme && at && at > scheme) {
        char *colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
        if (colon) {
            char tail[256];
            snprintf(tail, sizeof tail, "%s", at);
            snprintf(colon, cap - (size_t)(colon - out), ":***%s", tail);
        }
    }
    char *pw = strstr(out, "password=");
    if (pw) {
        char *end = pw + 9;
        while (*end && *end != ' ' && *end != '&')
            end++;
        char tail[256];
        snprintf(tail, sizeof tail, "%s", end);
        snprintf(pw + 9, cap - (size_t)(pw + 9 - out), "***%s", tail);
    }
}

static bool sqlstate_retryable(const char *state)
{
    if (!state)
        return false;
    /* serialization failure, deadlock, admin shutdown / crash shutdown / cannot connect now,
     * and connection exceptions */
    return !strcmp(state, "40001") || !strcmp(state, "40P01") || !strncmp(state, "57P0", 4) ||
           !strncmp(state, "08", 2);
}

static int pg_fail(pg *p, PGresult *res, xb_error *err, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    p->retryable = PQstatus(p->conn) != CONNECTION_OK || sqlstate_retryable(state);
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn);
    char clean[300];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : "unknown error");
    clean[strcspn(clean, "\n")] = 0;
    int rc = xb_error_set(err, XB_ESTATE, NULL, "state store (postgres %s): %s: %s%s", p->masked,
                          what, clean, p->retryable ? " (connection lost; retryable)" : "");
    if (res)
        PQclear(res);
    return rc;
}

static int pg_exec(pg *p, const char *sql, xb_error *err)
{
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return pg_fail(p, res, err, sql);
    PQclear(res);
    return 0;
}

static void forget_statements(pg *p)
{
    for (size_t i = 0; i < p->n_cache; i++)
        free(p->cache[i].sql);
    p->n_cache = 0;
}

static void silent_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Connects with conservative defaults that the URL may override (keyword order matters: with
 * expand_dbname the URL's own settings are processed last and win). */
static int pg_connect(pg *p, xb_error *err)
{
    const char *keys[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *vals[] = {"5", "xborder", "1", "5", "2", "3", p->target, NULL};
    if (p->conn)
        PQfinish(p->conn);
    forget_statements(p);
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    if (PQstatus(p->conn) != CONNECTION_OK) {
        p->retryable = true;
        return pg_fail(p, NULL, err, "connect");
    }
    /* Notices (e.g. "relation already exists, skipping") are not errors: keep stderr clean. */
    PQsetNoticeProcessor(p->conn, silent_notice, NULL);
    return pg_exec(p, "SET synchronous_commit = on", err);
}

static int pg_schema(pg *p, xb_error *err)
{
    int rc = pg_exec(p, "SELECT pg_advisory_lock(" DDL_LOCK_KEY ")", err);
    for (size_t i = 0; !rc && i < sizeof ddl / sizeof ddl[0]; i++)
        rc = pg_exec(p, ddl[i], err);
    /* the ledger's tables too, under the same lock, so instances starting together do not race */
    for (size_t i = 0; !rc && i < XB_LEDGER_DDL_COUNT; i++)
        rc = pg_exec(p, xb_ledger_ddl[i], err);
    xb_error ignore;
    pg_exec(p, "SELECT pg_advisory_unlock(" DDL_LOCK_KEY ")", rc ? &ignore : err);
    return rc;
}

static int pg_open(xb_store *st, const char *target, xb_error *err)
{
    pg *p = calloc(1, sizeof *p);
    if (!p)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    st->impl = p;
    p->target = strdup(target);
    if (!p->target)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    mask_target(p->masked, sizeof p->masked, target);
    int rc = pg_connect(p, err);
    return rc ? rc : pg_schema(p, err);
}

static void pg_close(xb_store *st)
{
    pg *p = st->impl;
    if (!p)
        return;
    forget_statements(p);
    if (p->conn)
        PQfinish(p->conn);
    free(p->target);
    free(p);
    st->impl = NULL;
}

/* The prepared statement name for sql (prepared on first use). */
static int pg_prepared(const char **name, pg *p, const char *sql, int nargs, xb_error *err)
{
    for (size_t i = 0; i < p->n_cache; i++)
        if (!strcmp(p->cache[i].sql, sql)) {
            *name = p->cache[i].name;
            return 0;
        }
    if (p->n_cache == STMT_CACHE) {
        *name = NULL; /* full: run unnamed */
        return 0;
    }
    char *dollar = xb_store_sql_dollar(sql), *copy = strdup(sql);
    if (!dollar || !copy) {
        free(dollar);
        free(copy);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    char *slot_name = p->cache[p->n_cache].name;
    snprintf(slot_name, sizeof p->cache[0].name, "xb%u", p->next_name++);
    PGresult *res = PQprepare(p->conn, slot_name, dollar, nargs, NULL);
    free(dollar);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        free(copy);
        return pg_fail(p, res, err, "prepare");
    }
    PQclear(res);
    p->cache[p->n_cache++].sql = copy;
    *name = slot_name;
    return 0;
}

static int pg_rows(PGresult *res, xb_store_row_fn row, void *ctx, xb_error *err)
{
    int nr = PQntuples(res), nc = PQnfields(res);
    const char *cols[32];
    if (nc > 32)
        return xb_error_set(err, XB_ELIMIT, NULL, "state store: more than 32 columns");
    for (int r = 0; row && r < nr; r++) {
        for (int c = 0; c < nc; c++)
            cols[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
        int rc = row(ctx, cols, (size_t)nc, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int pg_sql(xb_store *st, const char *sql, const xb_sqlv *args, size_t nargs,
                  int64_t *changes, xb_store_row_fn row, void *ctx, xb_error *err)
{
    pg *p = st->impl;
    p->retryable = false;
    if (nargs > 32)
        return xb_error_set(err, XB_ELIMIT, NULL, "state store: more than 32 parameters");
    const char *vals[32];
    int lens[32], fmts[32];
    char ints[32][24];
    for (size_t i = 0; i < nargs; i++) {
        lens[i] = 0;
        fmts[i] = 0;
        switch (args[i].type) {
        case XB_SQLV_TEXT:
            vals[i] = args[i].text;
            break;
        case XB_SQLV_INT:
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)args[i].i);
            vals[i] = ints[i];
            break;
        case XB_SQLV_BLOB:
            vals[i] = args[i].blob;
            lens[i] = (int)args[i].len;
            fmts[i] = 1;
            break;
        default:
            vals[i] = NULL;
            break;
        }
    }
    const char *name = NULL;
    int rc = pg_prepared(&name, p, sql, (int)nargs, err);
    if (rc)
        return rc;
    PGresult *res;
    if (name) {
        res = PQexecPrepared(p->conn, name, (int)nargs, vals, lens, fmts, 0);
    } else {
        char *dollar = xb_store_sql_dollar(sql);
        if (!dollar)
            return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
        res = PQexecParams(p->conn, dollar, (int)nargs, NULL, vals, lens, fmts, 0);
        free(dollar);
    }
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return pg_fail(p, res, err, "statement");
    rc = pg_rows(res, row, ctx, err);
    if (!rc && changes) {
        const char *t = PQcmdTuples(res);
        *changes = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return rc;
}

static int pg_begin(xb_store *st, bool write, xb_error *err)
{
    (void)write; /* rows are locked explicitly (SELECT ... FOR UPDATE) */
    pg *p = st->impl;
    p->retryable = false;
    return pg_exec(p, "BEGIN", err);
}

static int pg_commit(xb_store *st, xb_error *err)
{
    pg *p = st->impl;
    p->retryable = false;
    PGresult *res = PQexec(p->conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return pg_fail(p, res, err, "COMMIT");
    /* COMMIT of a transaction that had already failed answers "ROLLBACK" without an error: a
     * statement failed unseen. Never report such a transaction as durable. */
    bool committed = !strcmp(PQcmdStatus(res), "COMMIT");
    PQclear(res);
    if (!committed)
        return xb_error_set(err, XB_ESTATE, NULL,
                            "state store (postgres %s): COMMIT answered ROLLBACK (the transaction "
                            "had failed)",
                            p->masked);
    return 0;
}

static void pg_rollback(xb_store *st)
{
    pg *p = st->impl;
    bool keep = p->retryable;
    if (PQstatus(p->conn) == CONNECTION_OK)
        pg_exec(p, "ROLLBACK", NULL);
    p->retryable = keep;
}

static bool pg_retryable(xb_store *st)
{
    pg *p = st->impl;
    return p && (p->retryable || PQstatus(p->conn) != CONNECTION_OK);
}

static int pg_reconnect(xb_store *st, xb_error *err)
{
    pg *p = st->impl;
    if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return 0; /* a conflict, not a lost connection: just run again */
    return pg_connect(p, err);
}

const xb_store_backend xb_store_pg_backend = {
    .name = "postgres",
    .flavour = XB_STORE_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .sql = pg_sql,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .retryable = pg_retryable,
    .reconnect = pg_reconnect,
    .lock_suffix = " FOR UPDATE",
};
