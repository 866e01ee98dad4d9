/* test_store.c — the state store's backends and its decision protocol (issue #10).
 *
 *   test_store sqlite   the embedded default (a fresh SQLite file per test)
 *   test_store pg       a real PostgreSQL server: $XB_PG_URL, else the URL that tests/env/pg-up
 *                       wrote to $XB_PG_URL_FILE (the ctest fixture). Without either it FAILS.
 *
 * The decide callback here is a small threshold model (a message is held back when the count
 * after it would reach T), so the assertions are about the store: exact counts under several
 * processes, the decision made on the committed count, replayed decisions not recounted, whole
 * transactions rerun (and decided again) after the server ends the connection, a COMMIT or its
 * answer lost (test_store_proxy.c) and resolved by reading the decision back, and receiver dedupe.
 * Owns: its temp files and, on PostgreSQL, the tables it truncates (a database for tests only).
 * Never: skips; fakes a count the store did not hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "adapter/state/store.h"
#include "test_store_proxy.h"

static bool use_pg;
static char url[512];
static char dir[64];

#define YEAR 2026

/* ---- fixtures ------------------------------------------------------------------------------ */

static void pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* The server ends every xborder session that is inside a transaction (ours, under the counter
 * lock), as a restart or failover would, and we wait until it is gone: the next statement on it
 * then fails for certain. */
static void kill_session_in_txn(void)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "application_name = 'xborder' AND state LIKE 'idle in transaction%'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    char pid[16];
    snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *vals[] = {pid};
    bool gone = false;
    for (int i = 0; i < 500 && !gone; i++) {
        r = PQexecParams(c, "SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", 1, NULL, vals,
                         NULL, NULL, 0);
        gone = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0;
        PQclear(r);
        if (!gone)
            usleep(10000);
    }
    PQfinish(c);
    assert_true(gone);
}

static int fresh(void **s)
{
    (void)s;
    if (use_pg) {
        xb_store *st = NULL;
        xb_error err;
        if (xb_store_open(&st, url, &err) < 0) { /* creates the tables */
            fprintf(stderr, "cannot open %s: %s\n", url, err.message);
            return -1;
        }
        xb_store_close(st);
        pg_admin("TRUNCATE subjects, subject_counts, subjects_by_dest, decisions, received");
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/xb-store-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, sizeof url, "sqlite:%s/state.db", dir);
    return 0;
}

static int cleanup(void **s)
{
    (void)s;
    if (!use_pg) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

static xb_store *open_store(void)
{
    xb_store *st = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_store_open(&st, url, &err) < 0)
        fail_msg("open %s: %s", url, err.message);
    return st;
}

static void person(uint8_t dg[XB_POLICY_DIGEST_LEN], unsigned n)
{
    memset(dg, 0, XB_POLICY_DIGEST_LEN);
    memcpy(dg, "person", 6);
    dg[12] = (uint8_t)(n >> 24);
    dg[13] = (uint8_t)(n >> 16);
    dg[14] = (uint8_t)(n >> 8);
    dg[15] = (uint8_t)n;
}

/* ---- the threshold model the decide callback applies ---------------------------------------- */

typedef struct msg {
    unsigned persons[4];
    size_t n;
    int64_t threshold;
    int calls;
    xb_store *other; /* when set: commits `poke` through it during the first call */
    unsigned poke;
    int kill_on_call;   /* PostgreSQL: the server ends our session during this call */
    int fail_from_call; /* this call and every later one fails (a policy error) */
} msg;

static int model_decide(void *ctx, const xb_policy_counters *snap, xb_policy_decision *out,
                        xb_error *err)
{
    msg *m = ctx;
    m->calls++;
    if (m->other && m->calls == 1) {
        xb_policy_subject s = {.cls = XB_PI_PI};
        person(s.digest, m->poke);
        int rc = xb_store_subjects_apply(NULL, m->other, YEAR, &s, 1, NULL, err);
        if (rc)
            return rc;
    }
    if (m->kill_on_call == m->calls)
        kill_session_in_txn();
    if (m->fail_from_call && m->calls >= m->fail_from_call)
        return xb_error_set(err, XB_EINVAL, NULL, "model: refused on call %d", m->calls);
    out->pi = XB_PI_PI;
    out->year = snap->year;
    out->pi_before = snap->pi;
    out->spi_before = snap->spi;
    out->subjects = calloc(m->n ? m->n : 1, sizeof *out->subjects);
    for (size_t i = 0; i < m->n; i++) {
        uint8_t dg[XB_POLICY_DIGEST_LEN];
        bool seen = false;
        person(dg, m->persons[i]);
        int rc = snap->seen(snap->ctx, snap->year, XB_PI_PI, dg, &seen, err);
        if (rc)
            return rc;
        if (!seen) {
            out->subjects[out->n_subjects].cls = XB_PI_PI;
            memcpy(out->subjects[out->n_subjects++].digest, dg, XB_POLICY_DIGEST_LEN);
        }
    }
    out->pi_after = snap->pi + (int64_t)out->n_subjects;
    out->spi_after = snap->spi;
    if (out->pi_after >= m->threshold) {
        out->verdict = XB_VERDICT_QUARANTINE;
        out->counted = false;
        out->n_subjects = 0;
        out->pi_after = out->pi_before;
    } else {
        out->verdict = XB_VERDICT_DELIVER;
        out->counted = true;
    }
    return 0;
}

static int decide(xb_policy_decision *d, xb_store_decide_info *info, xb_store *st, msg *m,
                  const char *id, const char *dest)
{
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_store_decide(d, info, st, YEAR, id, dest, model_decide, m, &err);
    if (rc)
        fprintf(stderr, "decide %s: %s\n", id, err.message);
    return rc;
}

static int64_t count_pi(xb_store *st)
{
    int64_t pi = -1, spi = -1;
    xb_error err;
    assert_int_equal(xb_store_subjects_counts(&pi, &spi, st, YEAR, &err), 0);
    return pi;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_url_errors(void **s)
{
    (void)s;
    xb_store *st = NULL;
    xb_error err;
    assert_int_equal(xb_store_open(&st, "mysql://x", &err), XB_ECONFIG);
    assert_string_equal(err.path, "state.store");
    assert_null(st);
    /* nothing listens on port 1: refused, and the password is not in the message */
    xb_error_clear(&err);
    assert_int_equal(xb_store_open(&st, "postgresql://xb:s3cr3t-pw@127.0.0.1:1/xborder", &err),
                     XB_ESTATE);
    assert_null(strstr(err.message, "s3cr3t-pw"));
    assert_non_null(strstr(err.message, "***"));
}

static void test_apply_exact(void **s)
{
    (void)s;
    xb_store *st = open_store();
    xb_policy_subject subs[3] = {{.cls = XB_PI_PI}, {.cls = XB_PI_PI}, {.cls = XB_PI_SPI}};
    person(subs[0].digest, 1);
    person(subs[1].digest, 2);
    person(subs[2].digest, 1); /* same digest, other class: a different set */
    size_t added = 0;
    xb_error err;
    assert_int_equal(xb_store_subjects_apply(&added, st, YEAR, subs, 3, "sg", &err), 0);
    assert_int_equal(added, 3);
    assert_int_equal(xb_store_subjects_apply(&added, st, YEAR, subs, 3, "sg", &err), 0);
    assert_int_equal(added, 0);
    int64_t pi, spi;
    assert_int_equal(xb_store_subjects_counts(&pi, &spi, st, YEAR, &err), 0);
    assert_int_equal(pi, 2);
    assert_int_equal(spi, 1);
    bool seen = false;
    assert_int_equal(xb_store_subject_seen(&seen, st, YEAR, XB_PI_PI, subs[1].digest, &err), 0);
    assert_true(seen);
    assert_int_equal(xb_store_subject_seen(&seen, st, YEAR + 1, XB_PI_PI, subs[1].digest, &err), 0);
    assert_false(seen);
    xb_store_close(st);
    /* durable: a new connection reads the same totals */
    st = open_store();
    assert_int_equal(count_pi(st), 2);
    xb_store_close(st);
}

static void test_threshold_sequence(void **s)
{
    (void)s;
    xb_store *st = open_store();
    /* T = 5: persons 0..3 pass (count 4), person 4 would make 5: held back; an old person still
     * passes; the held message is not counted. */
    char id[32];
    int verdicts[6];
    for (unsigned i = 0; i < 6; i++) {
        msg m = {.persons = {i < 5 ? i : 2}, .n = 1, .threshold = 5};
        xb_policy_decision d;
        xb_store_decide_info info;
        snprintf(id, sizeof id, "t:0:%u", i);
        assert_int_equal(decide(&d, &info, st, &m, id, "sg"), 0);
        verdicts[i] = d.verdict;
        assert_true(info.locked);
        assert_false(info.redecided);
        xb_policy_decision_free(&d);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(verdicts[i], XB_VERDICT_DELIVER);
    assert_int_equal(verdicts[4], XB_VERDICT_QUARANTINE);
    assert_int_equal(verdicts[5], XB_VERDICT_DELIVER);
    assert_int_equal(count_pi(st), 4);
    int64_t before = -1, after = -1;
    char verdict[16];
    xb_error err;
    assert_int_equal(xb_store_decision_get(&before, &after, verdict, st, "t:0:3", "sg", &err), 0);
    assert_int_equal(before, 3);
    assert_int_equal(after, 4);
    assert_string_equal(verdict, "DELIVER");
    assert_int_equal(xb_store_decision_get(NULL, NULL, verdict, st, "t:0:4", "sg", &err), 0);
    assert_string_equal(verdict, "QUARANTINE");
    assert_int_equal(xb_store_decision_get(NULL, NULL, NULL, st, "t:0:9", "sg", &err),
                     XB_ENOTFOUND);
    xb_store_close(st);
}

/* Another instance commits between our snapshot and our lock: the decision is made again on
 * the committed count, and here that flips it to QUARANTINE. */
static void test_moved_count_redecides(void **s)
{
    (void)s;
    xb_store *a = open_store(), *b = open_store();
    xb_policy_subject subs[3] = {{.cls = XB_PI_PI}, {.cls = XB_PI_PI}, {.cls = XB_PI_PI}};
    for (unsigned i = 0; i < 3; i++)
        person(subs[i].digest, 100 + i);
    xb_error err;
    assert_int_equal(xb_store_subjects_apply(NULL, a, YEAR, subs, 3, NULL, &err), 0);
    /* count 3, T 5: on the snapshot person 7 passes (4 < 5); but b adds person 8 meanwhile */
    msg m = {.persons = {7}, .n = 1, .threshold = 5, .other = b, .poke = 8};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, a, &m, "r:0:1", "sg"), 0);
    assert_true(info.redecided);
    assert_int_equal(m.calls, 2);
    assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
    assert_int_equal(d.pi_before, 4);
    xb_policy_decision_free(&d);
    assert_int_equal(count_pi(a), 4);
    xb_store_close(a);
    xb_store_close(b);
}

/* The same record decided again (a redelivery after a crash): the recorded decision comes back,
 * nothing is counted twice, even though the counts moved since. */
static void test_replay_not_recounted(void **s)
{
    (void)s;
    xb_store *st = open_store();
    msg m = {.persons = {1, 2}, .n = 2, .threshold = 100};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, st, &m, "p:1:7", "sg"), 0);
    assert_int_equal(info.added, 2);
    assert_int_equal(d.pi_after, 2);
    xb_policy_decision_free(&d);
    msg other = {.persons = {3}, .n = 1, .threshold = 100};
    assert_int_equal(decide(&d, &info, st, &other, "p:1:8", "sg"), 0);
    xb_policy_decision_free(&d);
    m.calls = 0;
    assert_int_equal(decide(&d, &info, st, &m, "p:1:7", "sg"), 0);
    assert_true(info.replayed);
    assert_int_equal(info.added, 0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_int_equal(d.pi_before, 0);
    assert_int_equal(d.pi_after, 2);
    assert_int_equal(d.n_subjects, 2);
    xb_policy_decision_free(&d);
    /* the same record for another destination is another decision */
    assert_int_equal(decide(&d, &info, st, &m, "p:1:7", "hk"), 0);
    assert_false(info.replayed);
    assert_int_equal(d.n_subjects, 0);
    xb_policy_decision_free(&d);
    assert_int_equal(count_pi(st), 3);
    xb_store_close(st);
}

static void test_dedupe(void **s)
{
    (void)s;
    xb_store *a = open_store(), *b = open_store();
    bool fresh = false;
    xb_error err;
    assert_int_equal(xb_store_dedupe_claim(&fresh, a, "uetr-0001", "m/1.xml", &err), 0);
    assert_true(fresh);
    assert_int_equal(xb_store_dedupe_claim(&fresh, b, "uetr-0001", "m/2.xml", &err), 0);
    assert_false(fresh);
    assert_int_equal(xb_store_dedupe_claim(&fresh, b, "uetr-0002", "", &err), 0);
    assert_true(fresh);
    xb_store_close(a);
    xb_store_close(b);
}

/* The server ends our session while the decision is being made again under the lock (the
 * committed count had moved). The rerun after the reconnect must decide again in its own
 * transaction: the failed call left *out half made (verdict DELIVER, not counted), and the
 * count it read is unchanged, so reusing it released a message with no durable row (issue #10:
 * 448 decision rows for 450 decisions under ASan). */
static void test_killed_in_locked_decide(void **s)
{
    (void)s;
    xb_store *a = open_store(), *b = open_store();
    xb_policy_subject subs[3] = {{.cls = XB_PI_PI}, {.cls = XB_PI_PI}, {.cls = XB_PI_PI}};
    for (unsigned i = 0; i < 3; i++)
        person(subs[i].digest, 100 + i);
    xb_error err;
    assert_int_equal(xb_store_subjects_apply(NULL, a, YEAR, subs, 3, NULL, &err), 0);
    msg m = {.persons = {7}, .n = 1, .threshold = 100, .other = b, .poke = 8, .kill_on_call = 2};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, a, &m, "k:0:1", "sg"), 0);
    assert_int_equal(m.calls, 3); /* optimistic, killed under the lock, decided again */
    assert_true(info.redecided);
    assert_false(info.replayed);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_true(d.counted);
    assert_int_equal(d.n_subjects, 1);
    assert_int_equal(d.pi_before, 4);
    assert_int_equal(d.pi_after, 5);
    assert_int_equal(info.added, 1);
    xb_policy_decision_free(&d);
    int64_t before = -1, after = -1;
    char verdict[16] = "";
    assert_int_equal(xb_store_decision_get(&before, &after, verdict, a, "k:0:1", "sg", &err), 0);
    assert_int_equal(before, 4);
    assert_int_equal(after, 5);
    assert_string_equal(verdict, "DELIVER");
    assert_int_equal(count_pi(a), 5);
    xb_store_close(a);
    xb_store_close(b);
}

/* A COMMIT whose answer is lost with the connection (the proxy relays it, the server commits,
 * the answer never arrives): the rerun must find its own durable row by the decision key and
 * return THAT decision (0 -> 2), not decide again on the moved count (2 -> 2, nothing new) and
 * not count twice. */
static void test_commit_answer_lost(void **s)
{
    (void)s;
    char via[512];
    store_proxy *px = store_proxy_start(url, via);
    assert_non_null(px);
    xb_store *st = NULL;
    xb_error err;
    assert_int_equal(xb_store_open(&st, via, &err), 0);
    xb_store_set_retry(st, 10000);
    store_proxy_arm(px, PROXY_DROP_COMMIT_ANSWER);
    msg m = {.persons = {1, 2}, .n = 2, .threshold = 100};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, st, &m, "u:0:1", "sg"), 0);
    assert_int_equal(store_proxy_fired(px), 1);
    assert_true(info.commit_unknown);
    assert_true(info.replayed); /* read back: it had committed */
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_int_equal(d.pi_before, 0);
    assert_int_equal(d.pi_after, 2);
    assert_int_equal(d.n_subjects, 2);
    xb_policy_decision_free(&d);
    int64_t before = -1, after = -1;
    assert_int_equal(xb_store_decision_get(&before, &after, NULL, st, "u:0:1", "sg", &err), 0);
    assert_int_equal(before, 0);
    assert_int_equal(after, 2);
    assert_int_equal(count_pi(st), 2);
    xb_store_close(st);
    store_proxy_stop(px);
}

/* A COMMIT lost before it reached the server: the server rolls the transaction back when the
 * connection goes, so the rerun finds no row and must do the whole unit again. */
static void test_commit_lost(void **s)
{
    (void)s;
    char via[512];
    store_proxy *px = store_proxy_start(url, via);
    assert_non_null(px);
    xb_store *st = NULL;
    xb_error err;
    assert_int_equal(xb_store_open(&st, via, &err), 0);
    xb_store_set_retry(st, 10000);
    store_proxy_arm(px, PROXY_DROP_COMMIT);
    msg m = {.persons = {1, 2}, .n = 2, .threshold = 100};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, st, &m, "u:0:2", "sg"), 0);
    assert_int_equal(store_proxy_fired(px), 1);
    assert_true(info.commit_unknown);
    assert_false(info.replayed); /* read back: nothing had committed */
    assert_int_equal(info.added, 2);
    assert_int_equal(d.pi_before, 0);
    assert_int_equal(d.pi_after, 2);
    xb_policy_decision_free(&d);
    int64_t before = -1, after = -1;
    assert_int_equal(xb_store_decision_get(&before, &after, NULL, st, "u:0:2", "sg", &err), 0);
    assert_int_equal(before, 0);
    assert_int_equal(after, 2);
    assert_int_equal(count_pi(st), 2);
    xb_store_close(st);
    store_proxy_stop(px);
}

/* ---- batches (xb_store_decide_batch, issue #8) --------------------------------------------- */

#define BATCH_MAX 8

typedef struct batch {
    msg m[BATCH_MAX];
    char id[BATCH_MAX][32];
    xb_policy_decision d[BATCH_MAX];
    xb_store_decide_info info[BATCH_MAX];
    xb_store_decide_req req[BATCH_MAX];
    size_t n;
} batch;

static void batch_add(batch *b, const char *prefix, msg m)
{
    size_t k = b->n++;
    b->m[k] = m;
    snprintf(b->id[k], sizeof b->id[k], "%s:%zu", prefix, k);
    b->req[k] = (xb_store_decide_req){.out = &b->d[k],
                                      .info = &b->info[k],
                                      .year = YEAR,
                                      .id = b->id[k],
                                      .dest = "sg",
                                      .fn = model_decide,
                                      .ctx = &b->m[k]};
}

static void batch_free(batch *b)
{
    for (size_t k = 0; k < b->n; k++)
        xb_policy_decision_free(&b->d[k]);
}

/* A batch decided through `a` while `other`, a second connection, commits meanwhile (msg.other). */
typedef struct batch_env {
    xb_store *a, *other;
    batch *b;
} batch_env;

static batch_env batch_env_open(void)
{
    batch_env e = {.a = open_store(), .other = open_store(), .b = calloc(1, sizeof(batch))};
    assert_non_null(e.b);
    return e;
}

static void batch_env_close(batch_env *e)
{
    batch_free(e->b);
    free(e->b);
    xb_store_close(e->a);
    xb_store_close(e->other);
}

/* What the batch decided is what is durable: each row says the same. */
static void assert_durable(xb_store *st, const batch *b, size_t k)
{
    int64_t before = -1, after = -1;
    char verdict[16] = "";
    xb_error err;
    assert_int_equal(xb_store_decision_get(&before, &after, verdict, st, b->id[k], "sg", &err), 0);
    assert_string_equal(verdict, xb_policy_verdict_name(b->d[k].verdict));
    assert_int_equal(before, b->d[k].pi_before);
    assert_int_equal(after, b->d[k].pi_after);
}

/* Persons shared between the messages of one batch, and a threshold crossed inside it: one
 * transaction gives exactly the decisions one transaction each gives (same verdicts, same
 * counts before and after), and none is made twice (the overlay of the earlier ones' subjects
 * makes the committed counts match what each was decided on). */
static void test_batch_equals_one_by_one(void **s)
{
    (void)s;
    static const unsigned persons[][2] = {{1, 2}, {2, 3}, {4, 8}, {1, 5}, {6, 7}, {3, 2}};
    size_t n = sizeof persons / sizeof persons[0];
    xb_store *st = open_store();
    batch *b = calloc(1, sizeof *b);
    for (size_t k = 0; k < n; k++)
        batch_add(b, "b:0",
                  (msg){.persons = {persons[k][0], persons[k][1]}, .n = 2, .threshold = 7});
    assert_int_equal(xb_store_decide_batch(st, b->req, b->n), 0);
    int64_t after_batch = count_pi(st);
    /* the same messages one by one, on a fresh year of the same store */
    xb_store *one = open_store();
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(b->req[k].rc, 0);
        assert_int_equal(b->m[k].calls, 1);
        assert_true(b->info[k].locked);
        assert_false(b->info[k].redecided);
        assert_durable(st, b, k);
        msg m = {.persons = {persons[k][0], persons[k][1]}, .n = 2, .threshold = 7};
        xb_policy_decision d;
        xb_error err;
        char id[32];
        snprintf(id, sizeof id, "o:0:%zu", k);
        assert_int_equal(xb_store_decide(&d, NULL, one, YEAR + 1, id, "sg", model_decide, &m, &err),
                         0);
        assert_int_equal(b->d[k].verdict, d.verdict);
        assert_int_equal(b->d[k].pi_before, d.pi_before);
        assert_int_equal(b->d[k].pi_after, d.pi_after);
        xb_policy_decision_free(&d);
    }
    /* {1,2} {2,3} {4,8} {1,5}: 6 persons; {6,7} would make 8 >= 7: held; {3,2} adds nothing */
    assert_int_equal(after_batch, 6);
    assert_int_equal(b->d[4].verdict, XB_VERDICT_QUARANTINE);
    assert_int_equal(b->d[5].verdict, XB_VERDICT_DELIVER);
    batch_free(b);
    free(b);
    xb_store_close(one);
    xb_store_close(st);
}

/* Another instance commits while the batch is decided optimistically: every counted decision is
 * made again under the lock on the committed count, and the chain of counts stays exact. */
static void test_batch_moved_count(void **s)
{
    (void)s;
    batch_env e = batch_env_open();
    xb_store *a = e.a;
    batch *b = e.b;
    batch_add(b, "m:0",
              (msg){.persons = {1}, .n = 1, .threshold = 100, .other = e.other, .poke = 9});
    batch_add(b, "m:0", (msg){.persons = {2}, .n = 1, .threshold = 100});
    batch_add(b, "m:0", (msg){.persons = {9}, .n = 1, .threshold = 100});
    assert_int_equal(xb_store_decide_batch(a, b->req, b->n), 0);
    for (size_t k = 0; k < b->n; k++) {
        assert_true(b->info[k].redecided);
        assert_int_equal(b->m[k].calls, 2);
        assert_durable(a, b, k);
    }
    /* 9 came from the other instance first: 1 and 2 counted after it, 9 not again */
    assert_int_equal(b->d[0].pi_before, 1);
    assert_int_equal(b->d[1].pi_before, 2);
    assert_int_equal(b->d[1].pi_after, 3);
    assert_int_equal(b->d[2].pi_before, 3);
    assert_int_equal(b->d[2].pi_after, 3);
    assert_int_equal(count_pi(a), 3);
    batch_env_close(&e);
}

/* The first decision counted person 1, and the second was made on a snapshot that already held
 * 1 (so it counted nothing new). Then another instance adds person 9, the first is decided
 * again and held back (the threshold), and 1 is never counted: the committed count (1) equals
 * the second one's snapshot count (1) while its set ({9}) is not the one it assumed ({1}). It
 * must be decided again: delivered as it was, person 1 would leave uncounted. */
static void test_batch_overlay_not_trusted_after_change(void **s)
{
    (void)s;
    batch_env e = batch_env_open();
    xb_store *a = e.a;
    batch *b = e.b;
    batch_add(b, "v:0", (msg){.persons = {1}, .n = 1, .threshold = 2, .other = e.other, .poke = 9});
    batch_add(b, "v:0", (msg){.persons = {1}, .n = 1, .threshold = 2});
    assert_int_equal(xb_store_decide_batch(a, b->req, b->n), 0);
    assert_int_equal(b->d[0].verdict, XB_VERDICT_QUARANTINE);
    assert_true(b->info[1].redecided);
    assert_int_equal(b->d[1].verdict, XB_VERDICT_QUARANTINE);
    assert_durable(a, b, 0);
    assert_durable(a, b, 1);
    assert_int_equal(count_pi(a), 1); /* person 9 only */
    batch_env_close(&e);
}

/* One decision fails under the lock (its policy refuses when made again): the batch's
 * transaction goes, but the other decisions do not; they are made again and committed. */
static void test_batch_failure_isolated(void **s)
{
    (void)s;
    batch_env e = batch_env_open();
    xb_store *a = e.a;
    batch *b = e.b;
    batch_add(b, "f:0",
              (msg){.persons = {1}, .n = 1, .threshold = 100, .other = e.other, .poke = 9});
    batch_add(b, "f:0", (msg){.persons = {2}, .n = 1, .threshold = 100, .fail_from_call = 2});
    batch_add(b, "f:0", (msg){.persons = {3}, .n = 1, .threshold = 100});
    assert_int_not_equal(xb_store_decide_batch(a, b->req, b->n), 0);
    assert_int_equal(b->req[0].rc, 0);
    assert_int_equal(b->req[1].rc, XB_EINVAL);
    assert_non_null(strstr(b->req[1].err.message, "refused"));
    assert_int_equal(b->req[2].rc, 0);
    assert_durable(a, b, 0);
    assert_durable(a, b, 2);
    xb_error err;
    assert_int_equal(xb_store_decision_get(NULL, NULL, NULL, a, b->id[1], "sg", &err),
                     XB_ENOTFOUND);
    assert_int_equal(count_pi(a), 3); /* 9, 1, 3 */
    /* the refused decision's person was never committed: not "seen" from memory either */
    msg again = {.persons = {2}, .n = 1, .threshold = 100};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, a, &again, "f:1:0", "sg"), 0);
    assert_int_equal(info.added, 1);
    xb_policy_decision_free(&d);
    assert_int_equal(count_pi(a), 4);
    batch_env_close(&e);
}

/* A person this connection has committed (or read as committed) is "seen" without asking the
 * database again (the sets only grow). Shown by taking the row away behind its back, which no
 * writer does: the connection still answers seen, a fresh one asks and does not find it. */
static void test_seen_remembered(void **s)
{
    (void)s;
    xb_store *a = open_store(), *fresh_conn = NULL;
    msg m = {.persons = {5}, .n = 1, .threshold = 100};
    xb_policy_decision d;
    xb_store_decide_info info;
    assert_int_equal(decide(&d, &info, a, &m, "s:0:0", "sg"), 0);
    assert_int_equal(info.added, 1);
    xb_policy_decision_free(&d);
    xb_error err;
    assert_int_equal(xb_store_sql(a, "DELETE FROM subjects", NULL, 0, NULL, NULL, NULL, &err), 0);
    msg again = {.persons = {5}, .n = 1, .threshold = 100};
    assert_int_equal(decide(&d, &info, a, &again, "s:0:1", "sg"), 0);
    assert_int_equal(d.n_subjects, 0); /* remembered */
    xb_policy_decision_free(&d);
    fresh_conn = open_store();
    msg third = {.persons = {5}, .n = 1, .threshold = 100};
    assert_int_equal(decide(&d, &info, fresh_conn, &third, "s:0:2", "sg"), 0);
    assert_int_equal(d.n_subjects, 1); /* asked the database */
    xb_policy_decision_free(&d);
    xb_store_close(fresh_conn);
    xb_store_close(a);
}

/* ---- several processes ------------------------------------------------------------------------
 */

#define PROCS 3
#define PER_PROC 150
#define POOL 400
#define THRESHOLD 300

/* Message k of process p: two persons from a pool shared by every process (so the same new
 * person is often seen by two processes at once). */
static void proc_msg(msg *m, unsigned p, unsigned k)
{
    unsigned x = (p * 7919u + k * 104729u) % POOL;
    m->persons[0] = x;
    m->persons[1] = (x * 31u + 17u) % POOL;
    m->n = 2;
    m->threshold = THRESHOLD;
}

/* Every child opens its store, says so on `ready` (also when it failed, so the parent never
 * waits for nothing) and starts when `go` closes: the killer's first kill must find every
 * session open, since opening (the DDL) is not retried. */
/* Messages first..first+n-1 of process p as one batch; each returned decision must be the
 * durable one. Returns 0, or the child's exit code. */
static int child_batch(xb_store *st, unsigned p, unsigned first, unsigned n)
{
    batch *b = calloc(1, sizeof *b);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "c:%u:%u", p, first);
    for (unsigned k = 0; k < n; k++) {
        msg m = {0};
        proc_msg(&m, p, first + k);
        batch_add(b, prefix, m);
    }
    int rc = 0;
    if (xb_store_decide_batch(st, b->req, b->n) < 0) {
        fprintf(stderr, "child %u: batch at %u: %s\n", p, first, b->req[0].err.message);
        rc = 11;
    }
    for (size_t k = 0; k < b->n && !rc; k++) {
        int64_t before = -1, after = -1;
        char verdict[16] = "";
        xb_error err;
        if (xb_store_decision_get(&before, &after, verdict, st, b->id[k], "sg", &err) ||
            strcmp(verdict, xb_policy_verdict_name(b->d[k].verdict)) ||
            before != b->d[k].pi_before || after != b->d[k].pi_after) {
            fprintf(stderr, "child %u: %s returned %lld->%lld, durable %s %lld->%lld\n", p,
                    b->id[k], (long long)b->d[k].pi_before, (long long)b->d[k].pi_after, verdict,
                    (long long)before, (long long)after);
            rc = 12;
        }
    }
    batch_free(b);
    free(b);
    return rc;
}

/* 0: one xb_store_decide per message; N: xb_store_decide_batch of N messages (issue #8). */
static unsigned proc_batch;

static void kill_xborder_sessions(void)
{
    /* the server ends every xborder session (as a restart or failover would) */
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'xborder' AND pid <> "
                            "pg_backend_pid()");
    PQclear(r);
    PQfinish(c);
}

static int child(unsigned p, bool kill_conns, int ready, int go)
{
    xb_store *st = NULL;
    xb_error err;
    int opened = xb_store_open(&st, url, &err);
    char byte = 1;
    if (write(ready, &byte, 1) != 1 || opened < 0) {
        fprintf(stderr, "child %u: open %s: %s\n", p, url, opened < 0 ? err.message : "pipe");
        xb_store_close(st);
        return 10;
    }
    while (read(go, &byte, 1) > 0)
        ;
    for (unsigned k = 0; proc_batch && k < PER_PROC; k += proc_batch) {
        if (kill_conns && k % 20 == 10)
            kill_xborder_sessions();
        unsigned n = PER_PROC - k < proc_batch ? PER_PROC - k : proc_batch;
        int rc = child_batch(st, p, k, n);
        if (rc) {
            xb_store_close(st);
            return rc;
        }
    }
    for (unsigned k = 0; !proc_batch && k < PER_PROC; k++) {
        if (kill_conns && k % 10 == 5)
            kill_xborder_sessions();
        msg m = {0};
        proc_msg(&m, p, k);
        char id[32];
        snprintf(id, sizeof id, "c:%u:%u", p, k);
        xb_policy_decision d;
        if (xb_store_decide(&d, NULL, st, YEAR, id, "sg", model_decide, &m, &err) < 0) {
            fprintf(stderr, "child %u: %s\n", p, err.message);
            xb_store_close(st);
            return 11;
        }
        /* what decide returned is what is durable: the row exists and says the same */
        int64_t before = -1, after = -1;
        char verdict[16] = "";
        int rc = xb_store_decision_get(&before, &after, verdict, st, id, "sg", &err);
        const char *want = d.verdict == XB_VERDICT_DELIVER ? "DELIVER" : "QUARANTINE";
        if (rc || strcmp(verdict, want) || before != d.pi_before || after != d.pi_after) {
            fprintf(stderr, "child %u: %s returned %s %lld->%lld, durable: %s %s %lld->%lld\n", p,
                    id, want, (long long)d.pi_before, (long long)d.pi_after, rc ? "none" : "row",
                    verdict, (long long)before, (long long)after);
            xb_policy_decision_free(&d);
            xb_store_close(st);
            return 12;
        }
        xb_policy_decision_free(&d);
    }
    xb_store_close(st);
    return 0;
}

typedef struct chain {
    int64_t before[PROCS * PER_PROC], after[PROCS * PER_PROC];
    size_t n, quarantined, n_all;
} chain;

static int chain_row(void *ctx, const char *const *cols, size_t n, xb_error *err)
{
    (void)n;
    (void)err;
    chain *c = ctx;
    c->n_all++;
    if (!strcmp(cols[2], "QUARANTINE")) {
        c->quarantined++;
        return 0;
    }
    int64_t b = strtoll(cols[0], NULL, 10), a = strtoll(cols[1], NULL, 10);
    if (a > b) {
        c->before[c->n] = b;
        c->after[c->n++] = a;
    }
    return 0;
}

static void run_procs(bool kill_conns)
{
    pid_t pids[PROCS];
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    for (unsigned p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(ready[0]);
            close(go[1]);
            _exit(child(p, kill_conns && p == 0, ready[1], go[0]));
        }
    }
    close(ready[1]);
    close(go[0]);
    char byte;
    for (unsigned p = 0; p < PROCS; p++)
        assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(go[1]); /* go */
    for (unsigned p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* expected: the distinct persons of the delivered messages, replayed in any serial order,
     * stop below the threshold; the store must agree with its own decision rows exactly */
    xb_store *st = open_store();
    int64_t pi = count_pi(st);
    chain *c = calloc(1, sizeof *c);
    xb_error err;
    assert_int_equal(xb_store_sql(st,
                                  "SELECT pi_before, pi_after, verdict FROM decisions "
                                  "ORDER BY pi_before",
                                  NULL, 0, NULL, chain_row, c, &err),
                     0);
    assert_int_equal(c->n_all, PROCS * PER_PROC); /* one durable decision per message */
    assert_true(c->quarantined > 0);              /* the threshold was crossed mid-run */
    assert_true(pi < THRESHOLD);
    assert_true(pi >= THRESHOLD - 2); /* two persons a message: stopped at most 2 short */
    /* every counting decision starts where the previous one ended: no two instances decided on
     * the same committed count, and no count was lost or doubled */
    int64_t at = 0;
    for (size_t i = 0; i < c->n; i++) {
        assert_int_equal(c->before[i], at);
        at = c->after[i];
    }
    assert_int_equal(at, pi);
    free(c);
    xb_store_close(st);
}

static void test_processes_exact(void **s)
{
    (void)s;
    run_procs(false);
}

static void test_processes_connection_killed(void **s)
{
    (void)s;
    run_procs(true);
}

/* The same three instances, each deciding batches of 5 (one transaction a batch). */
static void test_processes_batched_exact(void **s)
{
    (void)s;
    proc_batch = 5;
    run_procs(false);
    proc_batch = 0;
}

static void test_processes_batched_connection_killed(void **s)
{
    (void)s;
    proc_batch = 5;
    run_procs(true);
    proc_batch = 0;
}

int main(int argc, char **argv)
{
    use_pg = argc > 1 && !strcmp(argv[1], "pg");
    if (use_pg) {
        const char *u = getenv("XB_PG_URL");
        const char *file = getenv("XB_PG_URL_FILE");
        if ((!u || !*u) && file) {
            FILE *f = fopen(file, "r");
            static char buf[512];
            if (f && fgets(buf, sizeof buf, f)) {
                buf[strcspn(buf, "\n")] = 0;
                u = buf;
            }
            if (f)
                fclose(f);
        }
        if (!u || !*u) {
            fprintf(stderr, "test_store pg: no PostgreSQL. Set XB_PG_URL (tests/env/pg-up prints "
                            "one) or run through ctest, whose pg fixture starts one.\n");
            return 1;
        }
        snprintf(url, sizeof url, "%s", u);
    }
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test_setup_teardown(test_apply_exact, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_threshold_sequence, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_moved_count_redecides, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_replay_not_recounted, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_dedupe, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_batch_equals_one_by_one, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_batch_moved_count, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_batch_overlay_not_trusted_after_change, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(test_batch_failure_isolated, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_seen_remembered, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_processes_exact, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_processes_batched_exact, fresh, cleanup),
        /* SQLite is one instance's file: the connection-killing tests are PostgreSQL's only */
        cmocka_unit_test_setup_teardown(test_killed_in_locked_decide, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_commit_answer_lost, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_commit_lost, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_processes_connection_killed, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_processes_batched_connection_killed, fresh, cleanup),
    };
    size_t n = sizeof tests / sizeof tests[0] - (use_pg ? 0 : 5);
    return _cmocka_run_group_tests(use_pg ? "store_pg" : "store_sqlite", tests, n, NULL, NULL) == 0
               ? 0
               : 1;
}
