/* store.c — the state store: SQLite by default, one section per kind of state.
 *
 * Owns: the SQLite connection (WAL, synchronous=FULL so a committed transaction survives power
 * loss), the DDL list, and the SQL of every section. A PostgreSQL backend (issue #10) implements
 * the same functions; keep SQL here portable (ON CONFLICT DO NOTHING works in both).
 * Never: holds a transaction open across calls, or stores anything but digests for subjects.
 */
#include "adapter/state/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct xb_store {
    sqlite3 *db;
    sqlite3_stmt *seen_stmt; /* prepared once: the hot path asks per subject */
};

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
};

static int db_error(xb_error *err, sqlite3 *db, const char *what)
{
    return xb_error_set(err, XB_ESTATE, NULL, "state store: %s: %s", what,
                        db ? sqlite3_errmsg(db) : "no connection");
}

static int exec(xb_store *st, const char *sql, xb_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = xb_error_set(err, XB_ESTATE, NULL, "state store: %s", msg ? msg : sql);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int open_sqlite(xb_store *st, const char *path, xb_error *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK)
        return db_error(err, st->db, path);
    sqlite3_busy_timeout(st->db, 5000);
    int rc = exec(st, "PRAGMA journal_mode=WAL", err);
    if (!rc)
        rc = exec(st, "PRAGMA synchronous=FULL", err);
    for (size_t i = 0; !rc && i < sizeof ddl / sizeof ddl[0]; i++)
        rc = exec(st, ddl[i], err);
    if (!rc && sqlite3_prepare_v2(st->db,
                                  "SELECT 1 FROM subjects WHERE year=?1 AND cls=?2 AND digest=?3",
                                  -1, &st->seen_stmt, NULL) != SQLITE_OK)
        rc = db_error(err, st->db, "prepare");
    return rc;
}

int xb_store_open(xb_store **out, const char *url, xb_error *err)
{
    *out = NULL;
    if (!url || strncmp(url, "sqlite:", 7) != 0)
        return xb_error_set(err, XB_ECONFIG, NULL,
                            "state store '%s': expected sqlite:PATH (postgres comes later)",
                            url ? url : "(null)");
    xb_store *st = calloc(1, sizeof *st);
    if (!st)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    int rc = open_sqlite(st, url + 7, err);
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
    sqlite3_finalize(st->seen_stmt);
    sqlite3_close(st->db);
    free(st);
}

/* ---- subject counters -------------------------------------------------------------------- */

int xb_store_subjects_counts(int64_t *pi, int64_t *spi, xb_store *st, int year, xb_error *err)
{
    sqlite3_stmt *s = NULL;
    *pi = *spi = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT cls, n FROM subject_counts WHERE year=?1", -1, &s,
                           NULL) != SQLITE_OK)
        return db_error(err, st->db, "prepare counts");
    sqlite3_bind_int(s, 1, year);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int cls = sqlite3_column_int(s, 0);
        int64_t n = sqlite3_column_int64(s, 1);
        if (cls == XB_PI_PI)
            *pi = n;
        else if (cls == XB_PI_SPI)
            *spi = n;
    }
    sqlite3_finalize(s);
    return r == SQLITE_DONE ? 0 : db_error(err, st->db, "read counts");
}

int xb_store_subject_seen(bool *seen, xb_store *st, int year, xb_pi cls,
                          const uint8_t digest[XB_POLICY_DIGEST_LEN], xb_error *err)
{
    sqlite3_stmt *s = st->seen_stmt;
    sqlite3_reset(s);
    sqlite3_bind_int(s, 1, year);
    sqlite3_bind_int(s, 2, (int)cls);
    sqlite3_bind_blob(s, 3, digest, XB_POLICY_DIGEST_LEN, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return db_error(err, st->db, "read subject");
    *seen = r == SQLITE_ROW;
    return 0;
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

static int insert_all(size_t *added_pi, size_t *added_spi, xb_store *st, int year,
                      const xb_policy_subject *subs, size_t n, const char *dest, xb_error *err)
{
    sqlite3_stmt *ins = NULL, *by_dest = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO subjects(year, cls, digest) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT DO NOTHING",
                           -1, &ins, NULL) != SQLITE_OK ||
        (dest && sqlite3_prepare_v2(st->db,
                                    "INSERT INTO subjects_by_dest(year, cls, dest, digest) "
                                    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                                    -1, &by_dest, NULL) != SQLITE_OK)) {
        rc = db_error(err, st->db, "prepare insert");
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (subs[i].cls != XB_PI_PI && subs[i].cls != XB_PI_SPI) {
            rc = xb_error_set(err, XB_EINVAL, NULL, "subject %zu: class must be PI or SPI", i);
            break;
        }
        sqlite3_reset(ins);
        sqlite3_bind_int(ins, 1, year);
        sqlite3_bind_int(ins, 2, (int)subs[i].cls);
        sqlite3_bind_blob(ins, 3, subs[i].digest, XB_POLICY_DIGEST_LEN, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = db_error(err, st->db, "insert subject");
            break;
        }
        if (sqlite3_changes(st->db) == 1)
            (*(subs[i].cls == XB_PI_PI ? added_pi : added_spi))++;
        if (by_dest) {
            sqlite3_reset(by_dest);
            sqlite3_bind_int(by_dest, 1, year);
            sqlite3_bind_int(by_dest, 2, (int)subs[i].cls);
            sqlite3_bind_text(by_dest, 3, dest, -1, SQLITE_STATIC);
            sqlite3_bind_blob(by_dest, 4, subs[i].digest, XB_POLICY_DIGEST_LEN, SQLITE_STATIC);
            if (sqlite3_step(by_dest) != SQLITE_DONE)
                rc = db_error(err, st->db, "insert subject by destination");
        }
    }
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(by_dest);
    return rc;
}

static int bump_count(xb_store *st, int year, int cls, size_t added, xb_error *err)
{
    if (!added)
        return 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO subject_counts(year, cls, n) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT(year, cls) DO UPDATE SET n = n + excluded.n",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(err, st->db, "prepare count");
    sqlite3_bind_int(s, 1, year);
    sqlite3_bind_int(s, 2, cls);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)added);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    return r == SQLITE_DONE ? 0 : db_error(err, st->db, "update count");
}

int xb_store_subjects_apply(size_t *added, xb_store *st, int year, const xb_policy_subject *subs,
                            size_t n, const char *dest, xb_error *err)
{
    size_t add_pi = 0, add_spi = 0;
    if (added)
        *added = 0;
    if (n == 0)
        return 0;
    int rc = exec(st, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = insert_all(&add_pi, &add_spi, st, year, subs, n, dest, err);
    if (!rc)
        rc = bump_count(st, year, XB_PI_PI, add_pi, err);
    if (!rc)
        rc = bump_count(st, year, XB_PI_SPI, add_spi, err);
    if (!rc)
        rc = exec(st, "COMMIT", err);
    if (rc) {
        exec(st, "ROLLBACK", NULL);
        return rc;
    }
    if (added)
        *added = add_pi + add_spi;
    return 0;
}

/* ---- settlement ledger (issue #5): its SQL lives in adapter/state/ledger.c ---------------- */

struct sqlite3 *xb_store_sqlite(xb_store *st)
{
    return st->db;
}
