/* test_settle_convert.c — the settlement stage (adapter/settle.c) against hand-computed cases.
 *
 * Every expected CNY figure below is computed by hand in the comment next to it: the exact
 * product amount x rate, then one rounding to 2 decimals with the named mode. Rates come from
 * fixtures/rates/cfets-2026-11.csv (invented fixings), options from
 * fixtures/config/settle-test.yaml, messages from fixtures/messages/settle/. Every settled message
 * is serialised, parsed again and re-validated (XSD + ISO rules) by check_valid().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/settle.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

#define MSG_DIR XB_FIXTURES "/messages/settle/"
#define RATES XB_FIXTURES "/rates/cfets-2026-11.csv"
#define CONFIG XB_FIXTURES "/config/settle-test.yaml"

static xb_fx_table *g_fx;

/* ---- helpers ------------------------------------------------------------------------------ */

static void route_opts(xb_settle_opts *o, const char *route)
{
    json_t *cfg = NULL;
    xb_error err = {0};
    assert_int_equal(xb_yaml_load_file(&cfg, CONFIG, &err), 0);
    size_t i;
    json_t *r;
    int found = 0;
    json_array_foreach(json_object_get(cfg, "routes"), i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "name")), route)) {
            assert_int_equal(
                xb_settle_opts_from_tree(o, json_object_get(r, "settle"), "settle", &err), 0);
            found = 1;
        }
    }
    json_decref(cfg);
    assert_true(found);
}

static xb_msg *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", MSG_DIR, name);
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    xb_msg *m = NULL;
    xb_error err = {0};
    int rc = xb_msg_parse(&m, b.data, b.len, NULL, &err);
    if (rc)
        fail_msg("%s: %s", name, err.message);
    xb_buf_free(&b);
    return m;
}

/* The n-th (0-based) CdtTrfTxInf. */
static xmlNodePtr tx_at(xb_msg *m, int n)
{
    for (xmlNodePtr c = xb_msg_body(m)->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "CdtTrfTxInf") &&
            n-- == 0)
            return c;
    fail_msg("no transaction %d", n);
    return NULL;
}

/* Rewrites the first transaction's amount (and the BAH-free total-free fixture stays valid). */
static void set_amount(xb_msg *m, const char *ccy, const char *amount)
{
    xmlNodePtr a = xb_xml_child(tx_at(m, 0), "IntrBkSttlmAmt");
    xmlNodeSetContent(a, (const xmlChar *)amount);
    xmlSetProp(a, (const xmlChar *)"Ccy", (const xmlChar *)ccy);
}

static const char *text_at(xb_msg *m, int n, const char *path)
{
    xmlNodePtr x = xb_xml_find(tx_at(m, n), path);
    return x ? xb_xml_text(x) : NULL;
}

static void assert_amount(xb_msg *m, int n, const char *path, const char *ccy, const char *text)
{
    xmlNodePtr x = xb_xml_find(tx_at(m, n), path);
    assert_non_null(x);
    assert_string_equal(xb_xml_text(x), text);
    xmlChar *c = xmlGetProp(x, (const xmlChar *)"Ccy");
    assert_string_equal((const char *)c, ccy);
    xmlFree(c);
}

/* Serialise, parse again, and check XSD + rules: what would leave must be valid. */
static void check_valid(xb_msg *m)
{
    xb_buf out = XB_BUF_INIT;
    xb_error err = {0};
    assert_int_equal(xb_write_message(&out, m, &err), 0);
    xb_msg *again = NULL;
    assert_int_equal(xb_msg_parse(&again, out.data, out.len, NULL, &err), 0);
    if (xb_schema_validate_msg(again, &err) || xb_rules_check(again, &err))
        fail_msg("settled message invalid: %s at %s", err.message, err.path);
    xb_msg_free(again);
    xb_buf_free(&out);
}

/* Settles fixture `name` on `route`, optionally with the first amount replaced; expects rc. */
static xb_msg *settle(xb_settle_details *d, const char *name, const char *route, const char *ccy,
                      const char *amount, int want_rc)
{
    xb_settle_opts o;
    route_opts(&o, route);
    xb_msg *m = load(name);
    if (ccy)
        set_amount(m, ccy, amount);
    xb_error err = {0};
    int rc = xb_settle_message(d, m, &o, g_fx, &err);
    if (rc != want_rc)
        fail_msg("%s: rc %d (%s at %s), wanted %d", name, rc, err.message, err.path, want_rc);
    if (rc == 0)
        check_valid(m);
    return m;
}

/* One-amount conversion: fixture pacs008-usd.xml (settles 2026-11-27) with the amount replaced. */
static void expect_cny(const char *route, const char *ccy, const char *amount, const char *cny,
                       const char *rate)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-usd.xml", route, ccy, amount, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", cny);
    assert_amount(m, 0, "InstdAmt", ccy, amount);
    assert_string_equal(text_at(m, 0, "XchgRate"), rate);
    assert_int_equal(d.verdict, XB_SETTLE_SETTLED);
    assert_true(d.tx[0].converted);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static int setup(void **state)
{
    xb_error err = {0};
    assert_int_equal(xb_fx_new(&g_fx, &err), 0);
    if (xb_fx_load_file(g_fx, RATES, &err))
        fail_msg("%s", err.message);
    return 0;
}

static int teardown(void **state)
{
    xb_fx_free(g_fx);
    xb_schema_cleanup();
    return 0;
}

/* ---- conversion exactness ------------------------------------------------------------------ */

static void usd_four_decimal_rate(void **state)
{
    /* 1000.00 x 7.1034 = 7103.400000 -> 7103.40 */
    expect_cny("payments-to-hk", "USD", "1000.00", "7103.40", "7.1034");
    /* 0.01 x 7.1034 = 0.071034 -> 0.07 */
    expect_cny("payments-to-hk", "USD", "0.01", "0.07", "7.1034");
    /* 333.33 x 7.1034 = 2367.776322 -> 2367.78 */
    expect_cny("payments-to-hk", "USD", "333.33", "2367.78", "7.1034");
}

static void eur_six_decimal_rate(void **state)
{
    /* 1234.56 x 7.712345 = 9521.35264320 -> 9521.35 */
    expect_cny("payments-to-hk", "EUR", "1234.56", "9521.35", "7.712345");
    /* 99.99 x 7.712345 = 771.15737655 -> 771.16 */
    expect_cny("payments-to-hk", "EUR", "99.99", "771.16", "7.712345");
}

static void hkd_five_decimal_rate(void **state)
{
    /* 88888.88 x 0.91265 = 81124.4363320 -> 81124.44 */
    expect_cny("payments-to-hk", "HKD", "88888.88", "81124.44", "0.91265");
}

static void jpy_per_100_quote(void **state)
{
    /* 4.7123 CNY per 100 JPY = 0.047123 per yen. 2500000 x 0.047123 = 117807.500000 -> 117807.50 */
    expect_cny("payments-to-hk", "JPY", "2500000", "117807.50", "0.047123");
    /* 1 x 0.047123 = 0.047123 -> 0.05 */
    expect_cny("payments-to-hk", "JPY", "1", "0.05", "0.047123");
}

static void half_up_boundaries(void **state)
{
    /* Ties: 25.00 x 7.1034 = 177.585000 -> half-up 177.59, half-even 177.58. */
    expect_cny("payments-to-hk", "USD", "25.00", "177.59", "7.1034");
    expect_cny("payments-half-even", "USD", "25.00", "177.58", "7.1034");
    /* 100.00 x 0.91265 = 91.2650000 -> half-up 91.27, half-even 91.26. */
    expect_cny("payments-to-hk", "HKD", "100.00", "91.27", "0.91265");
    expect_cny("payments-half-even", "HKD", "100.00", "91.26", "0.91265");
    /* 5000 x 0.047123 = 235.615000 -> half-up 235.62 (half-even also 235.62: 1 is odd). */
    expect_cny("payments-to-hk", "JPY", "5000", "235.62", "0.047123");
    /* Just below a tie: 24.99 x 7.1034 = 177.513966 -> 177.51 in both modes. */
    expect_cny("payments-to-hk", "USD", "24.99", "177.51", "7.1034");
    expect_cny("payments-half-even", "USD", "24.99", "177.51", "7.1034");
}

static void eighteen_digit_limit(void **state)
{
    /* 1234567890123456.78 (18 digits) x 7.1034 = 8769629550702962.891052 -> 8769629550702962.89
     * (18 digits: still an ISO amount). */
    expect_cny("payments-to-hk", "USD", "1234567890123456.78", "8769629550702962.89", "7.1034");
    /* 9999999999999999.99 x 7.1034 = 71033999999999999.928966 -> 71033999999999999.93: 19 digits,
     * no ISO amount can carry it, so the message cannot settle. */
    xb_settle_details d;
    xb_msg *m =
        settle(&d, "pacs008-usd.xml", "payments-to-hk", "USD", "9999999999999999.99", XB_EOVERFLOW);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    assert_amount(m, 0, "IntrBkSttlmAmt", "USD", "9999999999999999.99"); /* untouched */
    xb_settle_details_free(&d);
    xb_msg_free(m);
    /* JPY 999999999999999999 x 0.047123 = 47122999999999999.952877: 19 digits in CNY. */
    m = settle(&d, "pacs008-jpy-max.xml", "payments-to-hk", NULL, NULL, XB_EOVERFLOW);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void rate_of_the_settlement_date(void **state)
{
    /* 2026-11-26: 1000.00 x 7.0988 = 7098.80 (not the 27th's 7.1034). */
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-usd-prevday.xml", "payments-to-hk", NULL, NULL, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "7098.80");
    assert_string_equal(text_at(m, 0, "XchgRate"), "7.0988");
    assert_string_equal(d.tx[0].sttlm_date, "2026-11-26");
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

/* ---- totals ---------------------------------------------------------------------------------- */

static void multi_currency_totals(void **state)
{
    /* USD 25.00 -> 177.59 (tie, half-up); EUR 1234.56 -> 9521.35; JPY 2500000 -> 117807.50.
     * Total 177.59 + 9521.35 + 117807.50 = 127506.44, added as TtlIntrBkSttlmAmt (absent before,
     * mixed currencies), CtrlSum restated from 2501259.56 to 127506.44. */
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-multi.xml", "payments-to-hk", NULL, NULL, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "177.59");
    assert_amount(m, 1, "IntrBkSttlmAmt", "CNY", "9521.35");
    assert_amount(m, 2, "IntrBkSttlmAmt", "CNY", "117807.50");
    assert_amount(m, 2, "InstdAmt", "JPY", "2500000");
    xmlNodePtr grp = xb_xml_child(xb_msg_body(m), "GrpHdr");
    xmlNodePtr ttl = xb_xml_child(grp, "TtlIntrBkSttlmAmt");
    assert_non_null(ttl);
    assert_string_equal(xb_xml_text(ttl), "127506.44");
    assert_string_equal(xb_xml_text(xb_xml_child(grp, "CtrlSum")), "127506.44");
    assert_string_equal(xb_xml_text(xb_xml_child(grp, "NbOfTxs")), "3");
    assert_int_equal(d.n_tx, 3);
    char buf[64];
    xb_amount_format(buf, sizeof buf, &d.total);
    assert_string_equal(buf, "127506.44");
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void same_currency_total_is_sum_of_rounded_legs(void **state)
{
    /* 0.25 x 7.1034 = 1.775850 -> 1.78; 1000.25 x 7.1034 = 7105.175850 -> 7105.18.
     * Total 1.78 + 7105.18 = 7106.96 — not 1000.50 x 7.1034 = 7106.9517 -> 7106.95: the total
     * must equal the sum of the amounts that actually settle. */
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-multi-usd.xml", "payments-to-hk", NULL, NULL, 0);
    xmlNodePtr ttl = xb_xml_find(xb_msg_body(m), "GrpHdr/TtlIntrBkSttlmAmt");
    assert_string_equal(xb_xml_text(ttl), "7106.96");
    xmlChar *c = xmlGetProp(ttl, (const xmlChar *)"Ccy");
    assert_string_equal((const char *)c, "CNY");
    xmlFree(c);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

/* ---- CNH, CNY, missing rate ---------------------------------------------------------------- */

static void cnh_refused_without_mapping(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-cnh.xml", "payments-to-hk", NULL, NULL, XB_ERULE);
    assert_int_equal(d.verdict, XB_SETTLE_INVALID);
    assert_non_null(strstr(d.reason, "map_cnh"));
    assert_int_equal(d.cnh_relabelled, 0);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void cnh_mapped_and_recorded(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-cnh.xml", "payments-cnh", NULL, NULL, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "5000.00");
    assert_null(text_at(m, 0, "XchgRate")); /* same currency: nothing to convert */
    assert_int_equal(d.cnh_relabelled, 1);
    assert_false(d.tx[0].converted);
    json_t *j = xb_settle_details_json(&d);
    assert_int_equal(json_integer_value(json_object_get(j, "cnh_relabelled")), 1);
    json_decref(j);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void cny_with_three_decimals_refused(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-cny-3dp.xml", "payments-to-hk", NULL, NULL, XB_ERULE);
    assert_int_equal(d.verdict, XB_SETTLE_INVALID);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void missing_rate_quarantines(void **state)
{
    const char *cases[] = {"pacs008-norate.xml", "pacs008-chf.xml"};
    for (size_t i = 0; i < 2; i++) {
        xb_settle_details d;
        xb_msg *m = settle(&d, cases[i], "payments-to-hk", NULL, NULL, XB_ENOTFOUND);
        assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
        assert_non_null(strstr(d.reason, "no "));
        /* Nothing was half-settled: the amount is still the foreign one. */
        assert_null(text_at(m, 0, "XchgRate"));
        xb_settle_details_free(&d);
        xb_msg_free(m);
    }
    /* A route with no rates source at all (no table) quarantines foreign currency too. */
    xb_settle_opts o;
    route_opts(&o, "payments-no-rates");
    xb_msg *m = load("pacs008-usd.xml");
    xb_settle_details d;
    xb_error err = {0};
    assert_int_equal(xb_settle_message(&d, m, &o, NULL, &err), XB_ENOTFOUND);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void canonical(xb_buf *out, xb_msg *m)
{
    xb_error err = {0};
    assert_int_equal(xb_write_canonical(out, m, &err), 0);
}

static void already_cny_untouched(void **state)
{
    xb_msg *orig = load("pacs008-cny.xml");
    xb_buf before = XB_BUF_INIT, after = XB_BUF_INIT;
    canonical(&before, orig);
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-cny.xml", "payments-to-hk", NULL, NULL, 0);
    canonical(&after, m);
    assert_int_equal(d.verdict, XB_SETTLE_UNCHANGED);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);
    assert_int_equal(d.agents_identified, 3); /* InstgAgt, InstdAgt, DbtrAgt already right */
    xb_settle_details_free(&d);
    xb_msg_free(m);
    xb_msg_free(orig);
    xb_buf_free(&before);
    xb_buf_free(&after);
}

static void settling_twice_changes_nothing(void **state)
{
    xb_settle_opts o;
    route_opts(&o, "payments-to-hk");
    xb_msg *m = load("pacs008-multi.xml");
    xb_settle_details d;
    xb_error err = {0};
    assert_int_equal(xb_settle_message(&d, m, &o, g_fx, &err), 0);
    xb_settle_details_free(&d);
    xb_buf once = XB_BUF_INIT, twice = XB_BUF_INIT;
    canonical(&once, m);
    assert_int_equal(xb_settle_message(&d, m, &o, g_fx, &err), 0);
    assert_int_equal(d.verdict, XB_SETTLE_UNCHANGED);
    canonical(&twice, m);
    assert_int_equal(once.len, twice.len);
    assert_memory_equal(once.data, twice.data, once.len);
    xb_settle_details_free(&d);
    xb_buf_free(&once);
    xb_buf_free(&twice);
    xb_msg_free(m);
}

/* ---- settlement information, agents, regulatory fields ------------------------------------ */

static void cips_settlement_info_and_agents(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-usd.xml", "payments-to-hk", NULL, NULL, 0);
    xmlNodePtr si = xb_xml_find(xb_msg_body(m), "GrpHdr/SttlmInf");
    assert_string_equal(xb_xml_text(xb_xml_child(si, "SttlmMtd")), "CLRG");
    assert_string_equal(xb_xml_text(xb_xml_find(si, "ClrSys/Cd")), "CIP");
    /* ICBKCNBJXXX has a CIPS id and a CNAPS code: on a CIP route the CIPS id wins. */
    assert_string_equal(text_at(m, 0, "DbtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd"), "CNCIP");
    assert_string_equal(text_at(m, 0, "DbtrAgt/FinInstnId/ClrSysMmbId/MmbId"), "C1021000001");
    /* BKCHHKHH is configured with 8 characters and matches BKCHHKHHXXX. */
    assert_string_equal(text_at(m, 0, "InstdAgt/FinInstnId/ClrSysMmbId/MmbId"), "C1040000128");
    /* HSBCHKHHHKH is not configured: no member id invented. */
    assert_null(xb_xml_find(tx_at(m, 0), "CdtrAgt/FinInstnId/ClrSysMmbId"));
    assert_true(d.clearing_set);
    assert_int_equal(d.agents_identified, 3);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void cnaps_when_not_clearing_through_cips(void **state)
{
    xb_settle_opts o;
    route_opts(&o, "payments-to-hk");
    o.clearing[0] = '\0'; /* a route that does not clear through CIPS */
    xb_msg *m = load("pacs008-usd.xml");
    xb_settle_details d;
    xb_error err = {0};
    assert_int_equal(xb_settle_message(&d, m, &o, g_fx, &err), 0);
    assert_string_equal(text_at(m, 0, "DbtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd"), "CNAPS");
    assert_string_equal(text_at(m, 0, "DbtrAgt/FinInstnId/ClrSysMmbId/MmbId"), "102100099996");
    /* BKCHHKHH has only a CIPS id: that is what it gets. */
    assert_string_equal(text_at(m, 0, "InstdAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd"), "CNCIP");
    assert_null(xb_xml_find(xb_msg_body(m), "GrpHdr/SttlmInf/ClrSys"));
    check_valid(m);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void leasing_and_bop(void **state)
{
    xb_settle_details d;
    /* 250000.00 x 7.1034 = 1775850.000000 -> 1775850.00 */
    xb_msg *m = settle(&d, "pacs008-leasing.xml", "payments-to-hk", NULL, NULL, 0);
    assert_true(d.tx[0].leasing);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "1775850.00");
    xb_settle_details_free(&d);
    xb_msg_free(m);

    m = settle(&d, "pacs008-leasing-missing.xml", "payments-to-hk", NULL, NULL, XB_ERULE);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    assert_non_null(strstr(d.reason, "RmtInf/Strd/RfrdDocInf/Nb"));
    xb_settle_details_free(&d);
    xb_msg_free(m);

    m = settle(&d, "pacs008-no-bop.xml", "payments-to-hk", NULL, NULL, XB_ERULE);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    assert_non_null(strstr(d.reason, "BoP"));
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void cross_currency_instruction_quarantined(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-xccy.xml", "payments-to-hk", NULL, NULL, XB_EUNSUPPORTED);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

/* ---- pacs.009 -------------------------------------------------------------------------------- */

static void pacs009_plain_and_cover(void **state)
{
    xb_settle_details d;
    /* 2000000.00 x 7.1034 = 14206800.00. pacs.009 has no InstdAmt/XchgRate: the original amount
     * and rate live in the details (the decision record). */
    xb_msg *m = settle(&d, "pacs009-usd.xml", "payments-to-hk", NULL, NULL, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "14206800.00");
    assert_null(text_at(m, 0, "XchgRate"));
    char buf[64];
    xb_amount_format(buf, sizeof buf, &d.tx[0].original);
    assert_string_equal(buf, "2000000.00");
    assert_string_equal(d.tx[0].original.ccy, "USD");
    xb_dec_format(buf, sizeof buf, &d.tx[0].rate);
    assert_string_equal(buf, "7.1034");
    /* Its Dbtr/Cdtr are agents too: ICBKCNBJXXX gets its CIPS id there. */
    assert_string_equal(text_at(m, 0, "Dbtr/FinInstnId/ClrSysMmbId/MmbId"), "C1021000001");
    xb_settle_details_free(&d);
    xb_msg_free(m);

    /* Cover: 1234.56 x 7.712345 = 9521.35264320 -> 9521.35; the EUR instruction is kept as the
     * underlying customer transfer's InstdAmt. */
    m = settle(&d, "pacs009-cov-eur.xml", "payments-to-hk", NULL, NULL, 0);
    assert_amount(m, 0, "IntrBkSttlmAmt", "CNY", "9521.35");
    assert_amount(m, 0, "UndrlygCstmrCdtTrf/InstdAmt", "EUR", "1234.56");
    assert_true(d.tx[0].instd_amt_added);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void details_json_records_everything(void **state)
{
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-usd.xml", "payments-to-hk", NULL, NULL, 0);
    json_t *j = xb_settle_details_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "settled");
    assert_string_equal(json_string_value(json_object_get(j, "rounding")), "half-up");
    json_t *tx = json_array_get(json_object_get(j, "tx"), 0);
    assert_string_equal(json_string_value(json_object_get(tx, "rate")), "7.1034");
    assert_string_equal(json_string_value(json_object_get(tx, "rate_date")), "2026-11-27");
    assert_string_equal(json_string_value(json_object_get(tx, "rate_source")),
                        "CFETS central parity");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(tx, "original"), "amount")), "1000.00");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(tx, "settled"), "amount")), "7103.40");
    assert_string_equal(json_string_value(json_object_get(tx, "uetr")),
                        "8a562c67-ca16-48ba-b074-65581be6f001");
    json_decref(j);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

/* The details as the decision record holds them (canonical text written without a tree) are
 * byte for byte jansson's dump of xb_settle_details_json, with and without a route. */
static void assert_text_is_jansson(const xb_settle_details *d)
{
    for (int with_route = 0; with_route < 2; with_route++) {
        const char *route = with_route ? "payments \"to\" hk" : NULL;
        json_t *j = xb_settle_details_json(d);
        assert_non_null(j);
        if (route)
            json_object_set_new(j, "route", json_string(route));
        char *want = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        xb_buf got = XB_BUF_INIT;
        assert_int_equal(xb_settle_details_write_json(&got, d, route), 0);
        assert_string_equal(got.data, want);
        free(want);
        json_decref(j);
        xb_buf_free(&got);
    }
}

static void details_text_is_the_canonical_json(void **state)
{
    (void)state;
    /* every branch: settled with a rate, already CNY, CNH relabelled, purpose or none, several
     * transactions, refused as invalid (reason and path) or quarantined (no rate) */
    static const struct {
        const char *name, *route;
        int rc;
    } all[] = {
        {"pacs008-usd.xml", "payments-to-hk", 0},
        {"pacs008-multi-usd.xml", "payments-to-hk", 0},
        {"pacs008-cny.xml", "payments-to-hk", 0},
        {"pacs008-leasing.xml", "payments-to-hk", 0},
        {"pacs009-cov-eur.xml", "payments-to-hk", 0},
        {"pacs008-cnh.xml", "payments-cnh", 0},
        {"pacs008-cnh.xml", "payments-to-hk", XB_ERULE},
        {"pacs008-norate.xml", "payments-to-hk", XB_ENOTFOUND},
        {"pacs008-xccy.xml", "payments-to-hk", XB_EUNSUPPORTED},
    };
    bool saw_path = false, saw_rate = false, saw_purpose = false;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        xb_settle_details d;
        xb_msg *m = settle(&d, all[i].name, all[i].route, NULL, NULL, all[i].rc);
        assert_text_is_jansson(&d);
        saw_path |= d.reason_path[0] != '\0';
        for (size_t k = 0; k < d.n_tx; k++) {
            saw_rate |= d.tx[k].converted;
            saw_purpose |= d.tx[k].purpose[0] != '\0';
        }
        xb_settle_details_free(&d);
        xb_msg_free(m);
    }
    assert_true(saw_path && saw_rate && saw_purpose);

    /* strings that need escaping, Chinese text, and a value cut short inside a UTF-8 sequence
     * (which jansson refuses, losing the transaction from the tree: the text keeps it, with
     * U+FFFD) */
    xb_settle_details d;
    xb_msg *m = settle(&d, "pacs008-usd.xml", "payments-to-hk", NULL, NULL, 0);
    snprintf(d.msg_id, sizeof d.msg_id, "id \"q\" \\ \t\x01 人民币");
    snprintf(d.reason, sizeof d.reason, "line\nbreak");
    snprintf(d.reason_path, sizeof d.reason_path, "/Document/Ä");
    assert_text_is_jansson(&d);
    snprintf(d.tx[0].end_to_end_id, sizeof d.tx[0].end_to_end_id, "王建华\xe5\x8d");
    json_t *tree = xb_settle_details_json(&d); /* json_pack refuses the string: the tx is lost */
    assert_int_equal(json_array_size(json_object_get(tree, "tx")), 0);
    json_decref(tree);
    xb_buf got = XB_BUF_INIT;
    assert_int_equal(xb_settle_details_write_json(&got, &d, NULL), 0);
    json_t *back = json_loads(got.data, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(back, "tx"), 0), "end_to_end_id")),
                        "王建华\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(back);
    xb_buf_free(&got);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void every_fixture_settles_valid_or_is_refused(void **state)
{
    /* The message that leaves is always XSD- and rule-valid: settle() re-validates every rc==0
     * result through check_valid(). This walks all fixtures on the main route. */
    static const struct {
        const char *name;
        int rc;
    } all[] = {
        {"pacs008-usd.xml", 0},
        {"pacs008-usd-prevday.xml", 0},
        {"pacs008-multi.xml", 0},
        {"pacs008-multi-usd.xml", 0},
        {"pacs008-cny.xml", 0},
        {"pacs008-leasing.xml", 0},
        {"pacs008-nobah.xml", 0},
        {"pacs009-usd.xml", 0},
        {"pacs009-cov-eur.xml", 0},
        {"pacs008-cnh.xml", XB_ERULE},
        {"pacs008-cny-3dp.xml", XB_ERULE},
        {"pacs008-norate.xml", XB_ENOTFOUND},
        {"pacs008-chf.xml", XB_ENOTFOUND},
        {"pacs008-no-bop.xml", XB_ERULE},
        {"pacs008-leasing-missing.xml", XB_ERULE},
        {"pacs008-xccy.xml", XB_EUNSUPPORTED},
        {"pacs008-jpy-max.xml", XB_EOVERFLOW},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        xb_settle_details d;
        xb_msg *m = settle(&d, all[i].name, "payments-to-hk", NULL, NULL, all[i].rc);
        xb_settle_details_free(&d);
        xb_msg_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usd_four_decimal_rate),
        cmocka_unit_test(eur_six_decimal_rate),
        cmocka_unit_test(hkd_five_decimal_rate),
        cmocka_unit_test(jpy_per_100_quote),
        cmocka_unit_test(half_up_boundaries),
        cmocka_unit_test(eighteen_digit_limit),
        cmocka_unit_test(rate_of_the_settlement_date),
        cmocka_unit_test(multi_currency_totals),
        cmocka_unit_test(same_currency_total_is_sum_of_rounded_legs),
        cmocka_unit_test(cnh_refused_without_mapping),
        cmocka_unit_test(cnh_mapped_and_recorded),
        cmocka_unit_test(cny_with_three_decimals_refused),
        cmocka_unit_test(missing_rate_quarantines),
        cmocka_unit_test(already_cny_untouched),
        cmocka_unit_test(settling_twice_changes_nothing),
        cmocka_unit_test(cips_settlement_info_and_agents),
        cmocka_unit_test(cnaps_when_not_clearing_through_cips),
        cmocka_unit_test(leasing_and_bop),
        cmocka_unit_test(cross_currency_instruction_quarantined),
        cmocka_unit_test(pacs009_plain_and_cover),
        cmocka_unit_test(details_json_records_everything),
        cmocka_unit_test(details_text_is_the_canonical_json),
        cmocka_unit_test(every_fixture_settles_valid_or_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
