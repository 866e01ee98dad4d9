/* test_val_route.c — the valuation route of `xborder run` without Kafka (issue #6): reference
 * tables fed by hand, holdings records submitted as the pipeline would, outcomes checked against
 * the valuation library run directly on the same inputs (never against typed-in figures).
 * `test_val_route pg` runs the same against a real PostgreSQL ($XB_PG_URL, else the URL that
 * tests/env/pg-up wrote to $XB_PG_URL_FILE: the ctest fixture `pg`); without either it FAILS.
 * Owns: an in-memory SQLite store per test (PostgreSQL: the valuation_reports rows, emptied per
 * test). Never: opens a socket but PostgreSQL's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/config.h"
#include "adapter/fund_file.h"
#include "adapter/state/store.h"
#include "adapter/valuation_route.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "valuation/valuation.h"

#define FUND XB_FIXTURES "/funds/lg-gbf-01.yaml"
#define STMT XB_FIXTURES "/messages/valid/semt.003-lg-gbf-01-v12.xml"
#define RATES XB_FIXTURES "/funds/rates-2025-01-02.csv"
#define RATES_NO_HKD XB_FIXTURES "/funds/rates-no-hkd.csv"
#define PRICES XB_FIXTURES "/funds/prices-2025-01-02.csv"

static char store_url[512] = "sqlite::memory:";
static bool use_pg;

/* One config per test: a valuation entry to one destination, max_wait_ms as given. */
static xb_config *load_cfg(const char *extra_entry_keys)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "kafka: {bootstrap.servers: 127.0.0.1:9092, group.id: vr-test}\n"
             "destinations:\n"
             "  lu-fund-admin: {url: https://127.0.0.1:8443/iso20022, country: LU}\n"
             "valuation:\n"
             "  - fund: %s\n"
             "    holdings_topic: fund.holdings\n"
             "    rates_topic: fund.rates\n"
             "    prices_topic: fund.prices\n"
             "    destinations: [lu-fund-admin]\n"
             "%s"
             "policy: {catalogs: [x.yaml], keys: keys}\n"
             "audit: {file: audit.log}\n"
             "dlq: {topic: fund.dlq}\n",
             FUND, extra_entry_keys);
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_config_load_buffer(&cfg, buf, strlen(buf), "vr-test.yaml", &err))
        fail_msg("config: %s (%s)", err.message, err.path);
    return cfg;
}

typedef struct outcome {
    int token;
    xb_buf body;
    char reason[40];
    char text[600];
    char function[8];
    bool cancelled;
    json_t *detail;
} outcome;

typedef struct sink {
    outcome o[16];
    size_t n;
} sink;

static void on_done(void *ctx, void *token, const xb_valroute_outcome *o)
{
    sink *s = ctx;
    assert_true(s->n < 16);
    outcome *r = &s->o[s->n++];
    memset(r, 0, sizeof *r);
    r->token = (int)(intptr_t)token;
    r->cancelled = o->cancelled;
    if (o->body)
        xb_buf_append(&r->body, o->body, o->len);
    snprintf(r->reason, sizeof r->reason, "%s", o->reason ? o->reason : "");
    snprintf(r->text, sizeof r->text, "%s", o->text ? o->text : "");
    if (o->detail) {
        r->detail = json_deep_copy(o->detail);
        const char *f = json_string_value(json_object_get(o->detail, "function"));
        snprintf(r->function, sizeof r->function, "%s", f ? f : "");
    }
}

static void sink_free(sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        xb_buf_free(&s->o[i].body);
        json_decref(s->o[i].detail);
    }
}

typedef struct fixture {
    xb_config *cfg;
    xb_store *store;
    xb_valroute *vr;
    sink s;
    xb_buf stmt;
} fixture;

static void setup(fixture *f, const char *extra)
{
    memset(f, 0, sizeof *f);
    xb_error err;
    f->cfg = load_cfg(extra);
    if (xb_store_open(&f->store, store_url, &err))
        fail_msg("store: %s", err.message);
    if (xb_valroute_new(&f->vr, f->cfg, NULL, f->store, on_done, &f->s, &err))
        fail_msg("valroute: %s (%s)", err.message, err.path);
    /* a PostgreSQL database outlives the test: start each test with no date reported */
    if (use_pg &&
        xb_store_sql(f->store, "DELETE FROM valuation_reports", NULL, 0, NULL, NULL, NULL, &err))
        fail_msg("store: %s", err.message);
    assert_int_equal(xb_buf_read_file(&f->stmt, STMT, 0), 0);
    xb_buf prices = XB_BUF_INIT; /* the statement leaves one instrument's price to this table */
    assert_int_equal(xb_buf_read_file(&prices, PRICES, 0), 0);
    xb_valroute_feed(f->vr, "fund.prices", prices.data, prices.len);
    xb_buf_free(&prices);
}

static void teardown(fixture *f)
{
    xb_valroute_free(f->vr);
    xb_store_close(f->store);
    xb_config_free(f->cfg);
    xb_buf_free(&f->stmt);
    sink_free(&f->s);
}

static void feed_file(xb_valroute *vr, const char *topic, const char *path)
{
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    xb_valroute_feed(vr, topic, b.data, b.len);
    xb_buf_free(&b);
}

/* The published NAV per unit of every class, as `xborder valuate` computes it from the files. */
static void expected_navs(char navs[][64], size_t *n)
{
    xb_fund fund;
    xb_holdings h;
    xb_fx_table *fx = NULL;
    xb_price_table *pt = NULL;
    xb_error err;
    assert_int_equal(xb_fund_file_load(&fund, FUND, &err), 0);
    assert_int_equal(xb_holdings_load_file(&h, STMT, &err), 0);
    assert_int_equal(xb_fx_new(&fx, &err), 0);
    assert_int_equal(xb_fx_load_file(fx, RATES, &err), 0);
    assert_int_equal(xb_price_table_new(&pt, &err), 0);
    assert_int_equal(xb_price_table_load_file(pt, PRICES, &err), 0);
    xb_buf out = XB_BUF_INIT;
    xb_nav_result nav;
    assert_int_equal(xb_valuation_run_ex(&out, &nav, &fund, &h, pt, fx, h.stmt_date, NULL, &err),
                     0);
    *n = nav.n_classes;
    for (size_t i = 0; i < nav.n_classes; i++)
        xb_dec_format(navs[i], 64, &nav.classes[i].nav);
    xb_nav_result_free(&nav);
    xb_buf_free(&out);
    xb_fx_free(fx);
    xb_price_table_free(pt);
    xb_holdings_free(&h);
    xb_fund_free(&fund);
}

static void assert_report(const outcome *o, const char *function)
{
    assert_string_equal(o->reason, "");
    assert_true(o->body.len > 0);
    xb_msg *msg = NULL;
    xb_error err;
    if (xb_msg_parse(&msg, o->body.data, o->body.len, NULL, &err))
        fail_msg("report does not parse: %s", err.message);
    assert_string_equal(xb_msg_definition(msg)->id, "reda.001.001.04");
    const char *fctn = xb_xml_text(xb_xml_child(xb_msg_body(msg), "Fctn"));
    assert_non_null(fctn);
    assert_string_equal(fctn, function);
    xb_msg_free(msg);
    assert_string_equal(o->function, function);
}

static void test_values_and_repl(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 0\n");
    feed_file(f.vr, "fund.rates", RATES);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:0",
                       1735790400000, (void *)1);
    assert_int_equal(f.s.n, 1);
    assert_report(&f.s.o[0], "NEWP");
    char navs[8][64];
    size_t n = 0;
    expected_navs(navs, &n);
    json_t *classes = json_object_get(f.s.o[0].detail, "classes");
    assert_int_equal(json_array_size(classes), n);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        const char *got = json_string_value(json_object_get(json_array_get(classes, i), "nav"));
        assert_string_equal(got, navs[i]);
        char tag[96];
        snprintf(tag, sizeof tag, "%s</", navs[i]);
        assert_non_null(strstr(f.s.o[0].body.data, tag)); /* the figure is in the report */
    }
    /* the same record again (a redelivery): NEWP and the very same bytes */
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:0",
                       1735790400000, (void *)2);
    assert_int_equal(f.s.n, 2);
    assert_report(&f.s.o[1], "NEWP");
    assert_int_equal(f.s.o[1].body.len, f.s.o[0].body.len);
    assert_memory_equal(f.s.o[1].body.data, f.s.o[0].body.data, f.s.o[0].body.len);
    /* another statement for the same fund and date: REPL */
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:1",
                       1735790460000, (void *)3);
    assert_int_equal(f.s.n, 3);
    assert_report(&f.s.o[2], "REPL");
    assert_int_equal(xb_valroute_held(f.vr), 0);
    teardown(&f);
}

static void test_missing_rate_parks(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 0\n");
    feed_file(f.vr, "fund.rates", RATES_NO_HKD);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:0", 0,
                       (void *)1);
    assert_int_equal(f.s.n, 1);
    assert_string_equal(f.s.o[0].reason, "VALUATION_MISSING_INPUT");
    assert_int_equal(f.s.o[0].body.len, 0);
    assert_non_null(strstr(f.s.o[0].text, "HKD"));
    assert_non_null(strstr(f.s.o[0].text, "2025-01-02"));
    /* a parked record did not report the date: the next statement is still NEWP */
    feed_file(f.vr, "fund.rates", RATES);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:1", 0,
                       (void *)2);
    assert_int_equal(f.s.n, 2);
    assert_report(&f.s.o[1], "NEWP");
    teardown(&f);
}

static void test_held_until_rate_arrives_in_order(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 600000\n");
    feed_file(f.vr, "fund.rates", RATES_NO_HKD);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:5", 0,
                       (void *)1);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:6", 0,
                       (void *)2);
    xb_valroute_tick(f.vr);
    assert_int_equal(f.s.n, 0);
    assert_int_equal(xb_valroute_held(f.vr), 2);
    const char line[] = "2025-01-02,HKD,0.92604\n";
    xb_valroute_feed(f.vr, "fund.rates", line, sizeof line - 1);
    xb_valroute_tick(f.vr);
    assert_int_equal(f.s.n, 2);
    assert_int_equal(f.s.o[0].token, 1); /* in order: NEWP first, its REPL after */
    assert_report(&f.s.o[0], "NEWP");
    assert_int_equal(f.s.o[1].token, 2);
    assert_report(&f.s.o[1], "REPL");
    assert_int_equal(xb_valroute_held(f.vr), 0);
    teardown(&f);
}

static void test_invalid_statements(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 0\n");
    feed_file(f.vr, "fund.rates", RATES);
    const char *cases[][2] = {
        {XB_FIXTURES "/messages/hostile/truncated.xml", "INVALID_XML"},
        {XB_FIXTURES "/funds/hostile/semt.003-xsd-invalid-quantity.xml", "INVALID_HOLDINGS"},
        {XB_FIXTURES "/messages/valid/pacs.008-cny-cips-corporate.xml", "INVALID_HOLDINGS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xb_buf b = XB_BUF_INIT;
        assert_int_equal(xb_buf_read_file(&b, cases[i][0], 0), 0);
        char id[64];
        snprintf(id, sizeof id, "fund.holdings:0:%zu", i);
        xb_valroute_submit(f.vr, "fund.holdings", 0, b.data, b.len, id, 0, (void *)(i + 1));
        xb_buf_free(&b);
        assert_int_equal(f.s.n, i + 1);
        assert_string_equal(f.s.o[i].reason, cases[i][1]);
        assert_true(strlen(f.s.o[i].text) > 0);
    }
    teardown(&f);
}

static void test_bad_reference_lines_skipped(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 0\n");
    /* a NUL byte, a non-decimal and a short line are skipped; the good lines are kept */
    const char rates[] = "date,currency,cny_per_unit\n2025-01-02,USD,7.1879\n2025-01-02,EUR,7,5\n"
                         "2025-01-02,HKD\n2025-01-02,JPY,4.6\0"
                         "233,100\n2025-01-02,HKD,0.92604\n";
    xb_valroute_feed(f.vr, "fund.rates", rates, sizeof rates - 1);
    xb_valroute_submit(f.vr, "fund.holdings", 0, f.stmt.data, f.stmt.len, "fund.holdings:0:0", 0,
                       (void *)1);
    assert_int_equal(f.s.n, 1);
    assert_report(&f.s.o[0], "NEWP");
    teardown(&f);
}

static void test_free_cancels_held(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "    max_wait_ms: 600000\n");
    xb_valroute_submit(f.vr, "fund.holdings", 3, f.stmt.data, f.stmt.len, "fund.holdings:3:0", 0,
                       (void *)7);
    assert_int_equal(xb_valroute_held(f.vr), 1);
    xb_valroute_free(f.vr);
    f.vr = NULL;
    assert_int_equal(f.s.n, 1);
    assert_true(f.s.o[0].cancelled);
    assert_int_equal(f.s.o[0].token, 7);
    teardown(&f);
}

static void expect_config_error(const char *entry, const char *path)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "kafka: {bootstrap.servers: 127.0.0.1:9092}\n"
             "destinations:\n  lu: {url: https://127.0.0.1:8443/x, country: LU}\n"
             "routes: [{name: r, topics: [payments], messages: [pacs.008], destination: lu}]\n"
             "valuation:\n%s"
             "policy: {catalogs: [x.yaml], keys: keys}\naudit: {file: a.log}\ndlq: {topic: d}\n",
             entry);
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    assert_int_not_equal(xb_config_load_buffer(&cfg, buf, strlen(buf), "t.yaml", &err), 0);
    assert_null(cfg);
    assert_string_equal(err.path, path);
}

static void test_config(void **state)
{
    (void)state;
    xb_config *cfg = load_cfg("    namespace: swift\n");
    assert_int_equal(cfg->n_valuations, 1);
    assert_true(cfg->valuations[0].swift_ns);
    assert_int_equal(cfg->valuations[0].max_wait_ms, 60000);
    const xb_route *r = &cfg->routes[cfg->valuations[0].route];
    assert_true(xb_config_route_matches(r, "fund.holdings", "reda.001.001.04"));
    assert_false(xb_config_route_matches(r, "fund.holdings", "semt.003.001.12"));
    assert_int_equal(cfg->n_topics, 1); /* the holdings topic; reference topics are not routed */
    assert_string_equal(cfg->topics[0], "fund.holdings");
    assert_non_null(xb_config_dest(cfg, "lu-fund-admin"));
    xb_error err;
    assert_int_equal(xb_valroute_check(cfg, &err), 0);
    xb_config_free(cfg);
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, rates_topic: payments, "
                        "destination: lu}\n",
                        "valuation[0].rates_topic");
    expect_config_error("  - {fund: f.yaml, holdings_topic: payments, rates_topic: r, "
                        "destination: lu}\n",
                        "valuation[0].holdings_topic");
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, rates_topic: r, "
                        "destinations: [nowhere]}\n",
                        "valuation[0].destinations[0]");
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, rates_topic: r, destination: lu, "
                        "namespace: xml}\n",
                        "valuation[0].namespace");
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, destination: lu}\n",
                        "valuation[0].rates_topic");
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, rates_topic: r, prices_topic: r, "
                        "destination: lu}\n",
                        "valuation[0].prices_topic");
    expect_config_error("  - {fund: f.yaml, holdings_topic: h, rates_topic: r, destination: lu}\n"
                        "  - {fund: g.yaml, holdings_topic: h, rates_topic: r, destination: lu}\n",
                        "valuation[1].holdings_topic");
}

static void test_fund_file_error_names_key(void **state)
{
    (void)state;
    char buf[1024];
    snprintf(buf, sizeof buf,
             "kafka: {bootstrap.servers: 127.0.0.1:9092}\n"
             "destinations:\n  lu: {url: https://127.0.0.1:8443/x, country: LU}\n"
             "valuation:\n  - {fund: %s/funds/no-such-fund.yaml, holdings_topic: h, "
             "rates_topic: r, destination: lu}\n"
             "policy: {catalogs: [x.yaml], keys: keys}\naudit: {file: a.log}\ndlq: {topic: d}\n",
             XB_FIXTURES);
    xb_config *cfg = NULL;
    xb_store *st = NULL;
    xb_valroute *vr = NULL;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, buf, strlen(buf), "t.yaml", &err), 0);
    assert_int_equal(xb_store_open(&st, "sqlite::memory:", &err), 0);
    assert_int_not_equal(xb_valroute_new(&vr, cfg, NULL, st, on_done, NULL, &err), 0);
    assert_null(vr);
    assert_string_equal(err.path, "valuation[0].fund");
    xb_error_clear(&err);
    assert_int_not_equal(xb_valroute_check(cfg, &err), 0); /* check-config's view: the same */
    assert_string_equal(err.path, "valuation[0].fund");
    xb_store_close(st);
    xb_config_free(cfg);
}

int main(int argc, char **argv)
{
    use_pg = argc > 1 && !strcmp(argv[1], "pg");
    if (use_pg) {
        const char *u = getenv("XB_PG_URL");
        const char *file = getenv("XB_PG_URL_FILE");
        static char buf[512];
        FILE *fp = (!u || !*u) && file ? fopen(file, "r") : NULL;
        if (fp && fgets(buf, sizeof buf, fp)) {
            buf[strcspn(buf, "\n")] = 0;
            u = buf;
        }
        if (fp)
            fclose(fp);
        if (!u || !*u) {
            fprintf(stderr, "test_val_route pg: no PostgreSQL. Set XB_PG_URL (tests/env/pg-up "
                            "prints one) or run through ctest, whose pg fixture starts one.\n");
            return 1;
        }
        snprintf(store_url, sizeof store_url, "%s", u);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_repl),
        cmocka_unit_test(test_missing_rate_parks),
        cmocka_unit_test(test_held_until_rate_arrives_in_order),
        cmocka_unit_test(test_invalid_statements),
        cmocka_unit_test(test_bad_reference_lines_skipped),
        cmocka_unit_test(test_free_cancels_held),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_fund_file_error_names_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
