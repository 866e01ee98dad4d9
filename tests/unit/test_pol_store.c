/* test_pol_store.c — CAC 2024 thresholds over durable subject counters: the edges
 * (99,999 / 100,000 / 999,999 / 1,000,000 PI; 0 / 1 / 9,999 / 10,000 SPI), restarts (close and
 * reopen the SQLite store), the Asia/Shanghai year boundary, and the 80% early warning.
 *
 * Owns: assertions on adapter/state/store.c and on the threshold half of adapter/policy/decide.c.
 * Never: fakes a count the store did not hold, except in the pure snapshot tests, which say so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/state/store.h"
#include "test_pol_common.h"

typedef struct state {
    xb_policy_catalog_set *set;
    xb_policy_destinations *thr;
    char dir[64];
    char url[128];
    xb_store *st;
} state;

static int setup(void **s)
{
    state *st = calloc(1, sizeof *st);
    st->set = pol_default_catalogs();
    st->thr = pol_destinations(POL_THRESH);
    *s = st;
    return 0;
}

static int teardown(void **s)
{
    state *st = *s;
    xb_policy_catalog_set_free(st->set);
    xb_policy_destinations_free(st->thr);
    free(st);
    return 0;
}

/* Each test gets a fresh store in a fresh directory. */
static int open_fresh(void **s)
{
    state *st = *s;
    snprintf(st->dir, sizeof st->dir, "/tmp/xb-pol-store-XXXXXX");
    if (!mkdtemp(st->dir))
        return -1;
    snprintf(st->url, sizeof st->url, "sqlite:%s/state.db", st->dir);
    xb_error err;
    return xb_store_open(&st->st, st->url, &err);
}

static int close_fresh(void **s)
{
    state *st = *s;
    xb_store_close(st->st);
    st->st = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", st->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A restart: the process goes away, the file stays. */
static void restart(state *st)
{
    xb_error err;
    xb_store_close(st->st);
    st->st = NULL;
    assert_int_equal(xb_store_open(&st->st, st->url, &err), 0);
}

/* n synthetic subjects (distinct from any HMAC digest a message produces). */
static void preload(state *st, int year, xb_pi cls, size_t n)
{
    xb_policy_subject *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].cls = cls;
        memcpy(v[i].digest, "preload:", 8);
        for (int b = 0; b < 8; b++)
            v[i].digest[8 + b] = (uint8_t)(i >> (8 * b));
    }
    size_t added = 0;
    xb_error err;
    assert_int_equal(xb_store_subjects_apply(&added, st->st, year, v, n, NULL, &err), 0);
    assert_int_equal(added, n);
    free(v);
}

/* Decides a fixture against the store's snapshot and applies the deltas when delivered, as the
 * pipeline does. variant > 0 makes the debtor another person: another name and account. */
static xb_verdict decide(state *st, const char *fixture, int variant, const char *dest,
                         const char *when, int64_t *pi_after, int64_t *spi_after)
{
    static const char *const names[] = {"王芳", "李娜", "赵敏", "陈静"};
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, fixture, 0), 0);
    if (variant) {
        char *at = strstr(b.data, "王芳");
        assert_non_null(at);
        memcpy(at, names[variant], strlen("王芳")); /* same byte length: two CJK characters */
        char *acct = strstr(b.data, "6217001210023456781");
        if (acct)
            acct[18] = "0567"[variant]; /* the fixture's own last digit is 1 */
    }
    xb_msg *m = NULL;
    xb_error err;
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), 0);
    xb_buf_free(&b);
    int64_t t = pol_time(when);
    xb_policy_counters snap;
    assert_int_equal(xb_store_subjects_snapshot(&snap, st->st, xb_policy_year_cn(t), &err), 0);
    xb_policy_keys keys = pol_keys();
    xb_policy_decision d;
    if (xb_policy_decide(&d, m, st->set, xb_policy_destination_find(st->thr, dest), t, &snap, &keys,
                         NULL, &err))
        fail_msg("decide: %s", err.message);
    if (d.verdict == XB_VERDICT_DELIVER && d.n_subjects)
        assert_int_equal(xb_store_subjects_apply(NULL, st->st, d.year, d.subjects, d.n_subjects,
                                                 d.destination, &err),
                         0);
    if (pi_after)
        *pi_after = d.pi_after;
    if (spi_after)
        *spi_after = d.spi_after;
    xb_verdict v = d.verdict;
    xb_policy_decision_free(&d);
    xb_msg_free(m);
    return v;
}

#define PI_ONLY POL_MSG("pacs.008-pi-only.xml")
#define ONE_SPI POL_MSG("pacs.008-one-spi.xml")
#define IN_2026 "2026-06-15T10:00:00+08:00"

static void test_store_exact_and_durable(void **s)
{
    state *st = *s;
    int64_t pi, spi;
    xb_error err;
    assert_int_equal(decide(st, ONE_SPI, 0, "scc-only", IN_2026, &pi, &spi), XB_VERDICT_DELIVER);
    assert_int_equal(pi, 1);
    assert_int_equal(spi, 1);
    /* The same person again is not a new subject. */
    assert_int_equal(decide(st, ONE_SPI, 0, "scc-only", IN_2026, &pi, &spi), XB_VERDICT_DELIVER);
    assert_int_equal(spi, 1);
    restart(st);
    int64_t npi, nspi;
    assert_int_equal(xb_store_subjects_counts(&npi, &nspi, st->st, 2026, &err), 0);
    assert_int_equal(npi, 1);
    assert_int_equal(nspi, 1);
    assert_int_equal(decide(st, ONE_SPI, 0, "scc-only", IN_2026, &pi, &spi), XB_VERDICT_DELIVER);
    assert_int_equal(spi, 1);
    /* Quarantined messages count nobody. */
    assert_int_equal(decide(st, ONE_SPI, 1, "no-basis", IN_2026, &pi, &spi), XB_VERDICT_QUARANTINE);
    assert_int_equal(xb_store_subjects_counts(&npi, &nspi, st->st, 2026, &err), 0);
    assert_int_equal(nspi, 1);
}

static void test_pi_edges_100k_across_restart(void **s)
{
    state *st = *s;
    int64_t pi;
    preload(st, 2026, XB_PI_PI, 99998);
    restart(st);
    /* 99,999: below the de-minimis line, no SPI: the de-minimis exemption covers it. */
    assert_int_equal(decide(st, PI_ONLY, 0, "deminimis-only", IN_2026, &pi, NULL),
                     XB_VERDICT_DELIVER);
    assert_int_equal(pi, 99999);
    restart(st);
    /* 100,000 (以上, inclusive): a standard contract is needed. */
    assert_int_equal(decide(st, PI_ONLY, 1, "deminimis-only", IN_2026, &pi, NULL),
                     XB_VERDICT_QUARANTINE);
    assert_int_equal(pi, 100000);
    assert_int_equal(decide(st, PI_ONLY, 1, "scc-only", IN_2026, &pi, NULL), XB_VERDICT_DELIVER);
    assert_int_equal(pi, 100000);
    restart(st);
    /* The person counted stays counted: the same message is not a 100,001st. */
    assert_int_equal(decide(st, PI_ONLY, 1, "scc-only", IN_2026, &pi, NULL), XB_VERDICT_DELIVER);
    assert_int_equal(pi, 100000);
}

static void test_pi_edges_1m_across_restart(void **s)
{
    state *st = *s;
    int64_t pi;
    preload(st, 2026, XB_PI_PI, 999998);
    restart(st);
    assert_int_equal(decide(st, PI_ONLY, 0, "scc-only", IN_2026, &pi, NULL), XB_VERDICT_DELIVER);
    assert_int_equal(pi, 999999);
    restart(st);
    assert_int_equal(decide(st, PI_ONLY, 1, "scc-only", IN_2026, &pi, NULL), XB_VERDICT_QUARANTINE);
    assert_int_equal(pi, 1000000);
    assert_int_equal(decide(st, PI_ONLY, 1, "sa-approved", IN_2026, &pi, NULL), XB_VERDICT_DELIVER);
    assert_int_equal(pi, 1000000);
}

static void test_spi_edges_across_restart(void **s)
{
    state *st = *s;
    int64_t spi;
    /* 0 SPI: a PI-only message stays under de-minimis. */
    assert_int_equal(decide(st, PI_ONLY, 0, "deminimis-only", IN_2026, NULL, &spi),
                     XB_VERDICT_DELIVER);
    assert_int_equal(spi, 0);
    /* 1 SPI: de-minimis never covers sensitive PI. */
    assert_int_equal(decide(st, ONE_SPI, 0, "deminimis-only", IN_2026, NULL, &spi),
                     XB_VERDICT_QUARANTINE);
    assert_int_equal(spi, 1);
    assert_int_equal(decide(st, ONE_SPI, 0, "scc-only", IN_2026, NULL, &spi), XB_VERDICT_DELIVER);
    assert_int_equal(spi, 1);
    preload(st, 2026, XB_PI_SPI, 9997); /* 1 + 9,997 = 9,998 */
    restart(st);
    assert_int_equal(decide(st, ONE_SPI, 1, "scc-only", IN_2026, NULL, &spi), XB_VERDICT_DELIVER);
    assert_int_equal(spi, 9999);
    restart(st);
    assert_int_equal(decide(st, ONE_SPI, 2, "scc-only", IN_2026, NULL, &spi),
                     XB_VERDICT_QUARANTINE);
    assert_int_equal(spi, 10000);
    assert_int_equal(decide(st, ONE_SPI, 2, "sa-approved", IN_2026, NULL, &spi),
                     XB_VERDICT_DELIVER);
    assert_int_equal(spi, 10000);
}

static void test_year_boundary_asia_shanghai(void **s)
{
    state *st = *s;
    int64_t pi;
    preload(st, 2026, XB_PI_PI, 99999);
    restart(st);
    /* Last second of 2026 in Shanghai: the 100,000th person needs a contract. */
    assert_int_equal(
        decide(st, PI_ONLY, 0, "deminimis-only", "2026-12-31T23:59:59+08:00", &pi, NULL),
        XB_VERDICT_QUARANTINE);
    assert_int_equal(pi, 100000);
    /* 15:59:59 UTC on the 31st is still 2026 in Shanghai. */
    assert_int_equal(decide(st, PI_ONLY, 0, "deminimis-only", "2026-12-31T15:59:59Z", &pi, NULL),
                     XB_VERDICT_QUARANTINE);
    /* First second of 2027: a new calendar year, counted from zero. */
    assert_int_equal(
        decide(st, PI_ONLY, 0, "deminimis-only", "2027-01-01T00:00:00+08:00", &pi, NULL),
        XB_VERDICT_DELIVER);
    assert_int_equal(pi, 1);
    /* 16:00 UTC on 31 Dec 2026 is already 2027 in Shanghai (and that person is counted). */
    assert_int_equal(decide(st, PI_ONLY, 1, "deminimis-only", "2026-12-31T16:00:00Z", &pi, NULL),
                     XB_VERDICT_DELIVER);
    assert_int_equal(pi, 2);
    restart(st);
    int64_t p26, s26, p27, s27;
    xb_error err;
    assert_int_equal(xb_store_subjects_counts(&p26, &s26, st->st, 2026, &err), 0);
    assert_int_equal(xb_store_subjects_counts(&p27, &s27, st->st, 2027, &err), 0);
    assert_int_equal(p26, 99999);
    assert_int_equal(p27, 2);
}

/* Pure snapshot tests (no store): the warning fraction and a snapshot for the wrong year. */
static void test_warning_at_80_percent(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    xb_policy_counters snap = {.year = 2026, .pi = 79999};
    assert_int_equal(pol_decide(&d, PI_ONLY, st->set, st->thr, "deminimis-only", IN_2026, &snap),
                     0);
    assert_int_equal(d.pi_after, 80000);
    assert_int_equal(d.n_warnings, 1);
    assert_non_null(strstr(d.warnings[0], "80%"));
    xb_policy_decision_free(&d);
    snap.pi = 79998;
    assert_int_equal(pol_decide(&d, PI_ONLY, st->set, st->thr, "deminimis-only", IN_2026, &snap),
                     0);
    assert_int_equal(d.n_warnings, 0);
    xb_policy_decision_free(&d);
    snap.year = 2025;
    xb_msg *m = pol_message(PI_ONLY);
    xb_policy_keys k = pol_keys();
    xb_error err;
    assert_int_equal(xb_policy_decide(&d, m, st->set,
                                      xb_policy_destination_find(st->thr, "deminimis-only"),
                                      pol_time(IN_2026), &snap, &k, NULL, &err),
                     XB_EINVAL);
    xb_policy_decision_free(&d);
    xb_msg_free(m);
}

static void test_store_url_checked(void **s)
{
    (void)s;
    xb_store *x = NULL;
    xb_error err;
    assert_int_equal(xb_store_open(&x, "mysql://nope", &err), XB_ECONFIG);
    assert_int_equal(xb_store_open(&x, "sqlite:/nonexistent-dir/x/state.db", &err), XB_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_exact_and_durable, open_fresh, close_fresh),
        cmocka_unit_test_setup_teardown(test_pi_edges_100k_across_restart, open_fresh, close_fresh),
        cmocka_unit_test_setup_teardown(test_pi_edges_1m_across_restart, open_fresh, close_fresh),
        cmocka_unit_test_setup_teardown(test_spi_edges_across_restart, open_fresh, close_fresh),
        cmocka_unit_test_setup_teardown(test_year_boundary_asia_shanghai, open_fresh, close_fresh),
        cmocka_unit_test(test_warning_at_80_percent),
        cmocka_unit_test(test_store_url_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
