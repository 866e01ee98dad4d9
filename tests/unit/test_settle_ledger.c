/* test_settle_ledger.c — pacs.002 builder/reader (iso20022/pacs002.c), the settlement ledger
 * (adapter/state/ledger.c) and its report.
 *
 * Scenario (all on interbank settlement date 2026-11-27, rates from cfets-2026-11.csv):
 *   pacs008-multi.xml  U03 USD 25.00 -> 177.59, U04 EUR 1234.56 -> 9521.35, U05 JPY 2500000 ->
 *                      117807.50 (counterparty BKCHHKHHXXX)
 *   pacs008-usd.xml    U01 USD 1000.00 -> 7103.40, its InstdAgt changed to HSBCHKHHHKH here
 *   pacs009-usd.xml    U20 USD 2000000.00 -> 14206800.00 (BKCHHKHHXXX)
 * Statuses back: U03 ACSC, U04 RJCT AC04, U01 ACSP then ACCC, U20 ACSP (group-level fixture),
 * one status for a UETR we never sent (unmatched). U05 stays SENT.
 * Hand totals: BKCHHKHHXXX 177.59 + 9521.35 + 117807.50 + 14206800.00 = 14334306.44 (4 transfers);
 * HSBCHKHHHKH 7103.40 (1); grand total 14341409.84 (5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/config.h"
#include "adapter/settle.h"
#include "adapter/settle_hook.h"
#include "adapter/state/ledger.h"
#include "adapter/state/store.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/pacs002.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"

#define MSG_DIR XB_FIXTURES "/messages/settle/"

static const char *U01 = "8a562c67-ca16-48ba-b074-65581be6f001";
static const char *U03 = "8a562c67-ca16-48ba-b074-65581be6f003";
static const char *U04 = "8a562c67-ca16-48ba-b074-65581be6f004";
static const char *U05 = "8a562c67-ca16-48ba-b074-65581be6f005";
static const char *U20 = "8a562c67-ca16-48ba-b074-65581be6f020";
static const char *UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100";

static xb_msg *parse_buf(const char *data, size_t len)
{
    xb_msg *m = NULL;
    xb_error err = {0};
    if (xb_msg_parse(&m, data, len, NULL, &err))
        fail_msg("parse: %s", err.message);
    return m;
}

static xb_msg *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", MSG_DIR, name);
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    xb_msg *m = parse_buf(b.data, b.len);
    xb_buf_free(&b);
    return m;
}

static void assert_valid(xb_msg *m)
{
    xb_error err = {0};
    if (xb_schema_validate_msg(m, &err) || xb_rules_check(m, &err))
        fail_msg("invalid: %s at %s", err.message, err.path);
}

/* ---- pacs.002 ------------------------------------------------------------------------------ */

static xb_msg *build(const xb_pacs002_tx_status *tx, size_t n, const char *orgnl_msg,
                     const char *orgnl_def)
{
    xb_pacs002_report r = {.msg_id = "XB-STS-1",
                           .cre_dt_tm = "2026-11-27T11:00:00+08:00",
                           .instg_agt_bic = "BKCHHKHHXXX",
                           .instd_agt_bic = "ICBKCNBJXXX",
                           .orgnl_msg_id = orgnl_msg,
                           .orgnl_msg_nm_id = orgnl_def,
                           .n_tx = n,
                           .tx = tx};
    xb_buf out = XB_BUF_INIT;
    xb_error err = {0};
    if (xb_pacs002_build(&out, &r, &err))
        fail_msg("build: %s", err.message);
    xb_msg *m = parse_buf(out.data, out.len);
    xb_buf_free(&out);
    return m;
}

static void pacs002_builder_is_xsd_valid(void **state)
{
    xb_amount amt = {.ccy = "CNY"};
    xb_error err = {0};
    assert_int_equal(xb_dec_parse_cstr(&amt.value, "9521.35", &err), 0);
    xb_pacs002_tx_status tx[] = {
        {.orgnl_end_to_end_id = "E2E-3", .orgnl_uetr = U03, .status = "ACSC"},
        {.orgnl_end_to_end_id = "E2E-4",
         .orgnl_tx_id = "TX-4",
         .orgnl_uetr = U04,
         .status = "RJCT",
         .reason_code = "AC04",
         .reason_info = "账户已销户 / account closed & <not> reopened",
         .orgnl_amount = &amt,
         .orgnl_sttlm_date = "2026-11-27"},
        {.orgnl_uetr = U05, .status = "ACSP"},
        {.orgnl_uetr = U01, .status = "ACCC"},
    };
    xb_msg *m = build(tx, 4, "XB-SETTLE-MULTI-1", "pacs.008.001.08");
    assert_int_equal(xb_msg_definition(m)->kind, XB_KIND_PACS002);
    assert_valid(m);

    xb_pacs002_status *rows = NULL;
    size_t n = 0;
    assert_int_equal(xb_pacs002_read(&rows, &n, m, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(rows[1].status, "RJCT");
    assert_string_equal(rows[1].reason_code, "AC04");
    assert_string_equal(rows[1].reason_info, "账户已销户 / account closed & <not> reopened");
    assert_string_equal(rows[1].orgnl_uetr, U04);
    assert_string_equal(rows[1].orgnl_sttlm_date, "2026-11-27");
    assert_string_equal(rows[1].orgnl_msg_id, "XB-SETTLE-MULTI-1");
    assert_false(rows[1].group_level);
    free(rows);
    xb_msg_free(m);
}

static void pacs002_builder_refuses_bad_input(void **state)
{
    xb_pacs002_tx_status bad[] = {
        {.orgnl_uetr = U01, .status = "RJCT"}, /* a rejection without a reason */
        {.orgnl_uetr = U01, .status = "DONE"}, /* not a status */
        {.orgnl_uetr = U01, .status = "ACSC", .reason_code = "TOOLONG"},
    };
    for (size_t i = 0; i < 3; i++) {
        xb_pacs002_report r = {.msg_id = "M",
                               .orgnl_msg_id = "O",
                               .orgnl_msg_nm_id = "pacs.008.001.08",
                               .n_tx = 1,
                               .tx = &bad[i]};
        xb_buf out = XB_BUF_INIT;
        xb_error err = {0};
        assert_int_equal(xb_pacs002_build(&out, &r, &err), XB_EINVAL);
        xb_buf_free(&out);
    }
    xb_pacs002_report none = {.msg_id = "M", .orgnl_msg_id = "O", .orgnl_msg_nm_id = "x"};
    xb_buf out = XB_BUF_INIT;
    assert_int_equal(xb_pacs002_build(&out, &none, NULL), XB_EINVAL);
    xb_buf_free(&out);
}

static void pacs002_group_fixture_is_read(void **state)
{
    xb_msg *m = load("pacs002-group-acsp.xml");
    assert_valid(m);
    xb_pacs002_status *rows = NULL;
    size_t n = 0;
    xb_error err = {0};
    assert_int_equal(xb_pacs002_read(&rows, &n, m, &err), 0);
    assert_int_equal(n, 1);
    assert_true(rows[0].group_level);
    assert_string_equal(rows[0].status, "ACSP");
    assert_string_equal(rows[0].orgnl_msg_id, "XB-SETTLE-009-1");
    free(rows);
    xb_msg_free(m);
}

/* ---- ledger ---------------------------------------------------------------------------------- */

static char g_dir[64];
static char g_url[128];
static xb_fx_table *g_fx;

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/xb-settle-ledger-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_url, sizeof g_url, "sqlite:%s/xborder.db", g_dir);
    /* XB_SETTLE_LEDGER_URL runs the ledger tests on another store (e.g. a scratch PostgreSQL
     * database whose settlement_* tables were dropped first); the default is a fresh SQLite. */
    const char *url = getenv("XB_SETTLE_LEDGER_URL");
    if (url && url[0])
        snprintf(g_url, sizeof g_url, "%s", url);
    xb_error err = {0};
    assert_int_equal(xb_fx_new(&g_fx, &err), 0);
    assert_int_equal(xb_fx_load_file(g_fx, XB_FIXTURES "/rates/cfets-2026-11.csv", &err), 0);
    return 0;
}

static int teardown(void **state)
{
    char path[160];
    const char *files[] = {"xborder.db",  "xborder.db-wal", "xborder.db-shm", "hook.db",
                           "hook.db-wal", "hook.db-shm",    "hook.yaml",      "hook-norates.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, files[i]);
        unlink(path);
    }
    rmdir(g_dir);
    xb_fx_free(g_fx);
    xb_schema_cleanup();
    return 0;
}

/* The settlement options of settle-test.yaml's first route. */
static void first_route_opts(xb_settle_opts *o)
{
    json_t *cfg = NULL;
    xb_error err = {0};
    assert_int_equal(xb_yaml_load_file(&cfg, XB_FIXTURES "/config/settle-test.yaml", &err), 0);
    assert_int_equal(
        xb_settle_opts_from_tree(
            o, json_object_get(json_array_get(json_object_get(cfg, "routes"), 0), "settle"),
            "settle", &err),
        0);
    json_decref(cfg);
}

static void settle_and_record(xb_store *st, const char *name, const char *instd_bic)
{
    xb_error err = {0};
    xb_settle_opts o;
    first_route_opts(&o);
    xb_msg *m = load(name);
    if (instd_bic) {
        xmlNodePtr bic =
            xb_xml_find(xb_xml_child(xb_msg_body(m), "CdtTrfTxInf"), "InstdAgt/FinInstnId/BICFI");
        xmlNodeSetContent(bic, (const xmlChar *)instd_bic);
    }
    xb_settle_details d;
    if (xb_settle_message(&d, m, &o, g_fx, &err))
        fail_msg("settle %s: %s", name, err.message);
    assert_int_equal(xb_settle_ledger_record_sent(st, &d, "hk-correspondent", &err), 0);
    /* A redelivery records nothing new and keeps the status. */
    assert_int_equal(xb_settle_ledger_record_sent(st, &d, "hk-correspondent", &err), 0);
    xb_settle_details_free(&d);
    xb_msg_free(m);
}

static void assert_status(xb_store *st, const char *uetr, const char *want)
{
    char s[8];
    xb_error err = {0};
    assert_int_equal(xb_settle_ledger_status(s, st, uetr, &err), 0);
    assert_string_equal(s, want);
}

static void apply(xb_store *st, xb_msg *m, size_t applied, size_t unmatched, size_t refused)
{
    size_t a = 99, u = 99, r = 99;
    xb_error err = {0};
    if (xb_settle_ledger_apply_status(&a, &u, &r, st, m, &err))
        fail_msg("apply: %s", err.message);
    assert_int_equal(a, applied);
    assert_int_equal(u, unmatched);
    assert_int_equal(r, refused);
}

/* Max35Text counts characters: a 35-character Chinese MsgId (105 bytes) and a 28-character
 * EndToEndId (84 bytes) are valid, and every stage keeps them whole: the settlement details (and
 * their record text), the ledger row's key (no UETR: "msg_id/end_to_end_id"), the pacs.002
 * builder (35 characters accepted, 36 refused) and reader, so the status finds its row. Until
 * 2026-11-28 these ids lived in 36-byte buffers and were cut mid-character. */
static void chinese_ids_are_kept_whole(void **state)
{
    static const char msg_id[] =
        "上海自贸区跨境人民币结算报文编号二零二六年十一月二十八日第零零一号批次";
    static const char e2e[] = "王建华上海自贸区跨境人民币付款编号二零二六年十一月第一笔";
    static const char too_long[] =
        "上海自贸区跨境人民币结算报文编号二零二六年十一月二十八日第零零一号批次号";
    xb_store *st = NULL;
    xb_error err = {0};
    assert_int_equal(xb_store_open(&st, g_url, &err), 0);
    xb_settle_opts o;
    first_route_opts(&o);
    xb_msg *m = load("pacs008-usd.xml");
    xmlNodePtr tx = xb_xml_child(xb_msg_body(m), "CdtTrfTxInf");
    xmlNodeSetContent(xb_xml_find(xb_xml_child(xb_msg_body(m), "GrpHdr"), "MsgId"),
                      (const xmlChar *)msg_id);
    xmlNodeSetContent(xb_xml_find(tx, "PmtId/EndToEndId"), (const xmlChar *)e2e);
    xmlNodePtr uetr = xb_xml_find(tx, "PmtId/UETR");
    xmlUnlinkNode(uetr);
    xmlFreeNode(uetr);
    assert_valid(m);
    xb_settle_details d;
    if (xb_settle_message(&d, m, &o, g_fx, &err))
        fail_msg("settle: %s", err.message);
    assert_string_equal(d.msg_id, msg_id);
    assert_string_equal(d.tx[0].end_to_end_id, e2e);
    xb_buf text = XB_BUF_INIT;
    assert_int_equal(xb_settle_details_write_json(&text, &d, NULL), 0);
    assert_non_null(strstr(text.data, e2e));
    assert_non_null(strstr(text.data, msg_id));
    xb_buf_free(&text);
    assert_int_equal(xb_settle_ledger_record_sent(st, &d, "hk-correspondent", &err), 0);
    xb_settle_details_free(&d);
    xb_msg_free(m);

    xb_pacs002_tx_status ok = {.orgnl_end_to_end_id = e2e, .status = "ACSC"};
    xb_msg *sts = build(&ok, 1, msg_id, "pacs.008.001.08");
    xb_pacs002_status *rows = NULL;
    size_t n = 0;
    assert_int_equal(xb_pacs002_read(&rows, &n, sts, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].orgnl_msg_id, msg_id);
    assert_string_equal(rows[0].orgnl_end_to_end_id, e2e);
    free(rows);
    apply(st, sts, 1, 0, 0); /* matched: the row's key and the status's key are the whole ids */
    xb_msg_free(sts);

    xb_pacs002_tx_status long_id = {.orgnl_end_to_end_id = too_long, .status = "ACSC"};
    xb_pacs002_report r = {.msg_id = "XB-STS-2",
                           .cre_dt_tm = "2026-11-27T11:00:00+08:00",
                           .instg_agt_bic = "BKCHHKHHXXX",
                           .instd_agt_bic = "ICBKCNBJXXX",
                           .orgnl_msg_id = msg_id,
                           .orgnl_msg_nm_id = "pacs.008.001.08",
                           .n_tx = 1,
                           .tx = &long_id};
    xb_buf out = XB_BUF_INIT;
    assert_int_equal(xb_pacs002_build(&out, &r, &err), XB_EINVAL);
    assert_string_equal(err.path, "OrgnlEndToEndId");
    xb_buf_free(&out);
    xb_store_close(st);
}

static void ledger_transitions(void **state)
{
    xb_store *st = NULL;
    xb_error err = {0};
    assert_int_equal(xb_store_open(&st, g_url, &err), 0);
    settle_and_record(st, "pacs008-multi.xml", NULL);
    settle_and_record(st, "pacs008-usd.xml", "HSBCHKHHHKH");
    settle_and_record(st, "pacs009-usd.xml", NULL);
    assert_status(st, U03, "SENT");
    assert_status(st, U20, "SENT");

    /* Statuses coming back from the correspondent for the multi message. */
    xb_pacs002_tx_status multi[] = {
        {.orgnl_uetr = U03, .status = "ACSC"},
        {.orgnl_uetr = U04,
         .status = "RJCT",
         .reason_code = "AC04",
         .reason_info = "account closed"},
        {.orgnl_uetr = UNKNOWN, .status = "ACSC", .orgnl_sttlm_date = "2026-11-27"},
    };
    xb_msg *m = build(multi, 3, "XB-SETTLE-MULTI-1", "pacs.008.001.08");
    apply(st, m, 2, 1, 0);
    /* The same report again: nothing applies; the unknown one is still unmatched (one row). */
    apply(st, m, 0, 1, 0);
    xb_msg_free(m);
    assert_status(st, U03, "ACSC");
    assert_status(st, U04, "RJCT");

    /* U01: ACSP, then ACCC (final); a late RJCT and a stale ACSP are refused, never applied. */
    xb_ledger_outcome o;
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U01, "ACSP", NULL,
                                                 "destination hk-correspondent", &err),
                     0);
    assert_int_equal(o, XB_LEDGER_APPLIED);
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U01, "ACCC", NULL, "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_APPLIED);
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U01, "RJCT", "AM04", "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_REFUSED);
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U01, "ACSP", NULL, "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_REFUSED);
    assert_status(st, U01, "ACCC");
    /* ACSC cannot go back to RJCT either; a rejected transfer stays rejected. */
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U03, "RJCT", "AM04", "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_REFUSED);
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U04, "ACSC", NULL, "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_REFUSED);
    /* Informational codes are kept in the history but move nothing. */
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U05, "PDNG", NULL, "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_SAME);
    assert_status(st, U05, "SENT");
    assert_int_equal(xb_settle_ledger_set_status(&o, st, U05, "BOGUS", NULL, "test", &err),
                     XB_EINVAL);
    assert_int_equal(xb_settle_ledger_set_status(&o, st, UNKNOWN, "ACSC", NULL, "test", &err), 0);
    assert_int_equal(o, XB_LEDGER_UNMATCHED);

    /* Group-level ACSP for the pacs.009 message, from a fixture file. */
    m = load("pacs002-group-acsp.xml");
    apply(st, m, 1, 0, 0);
    xb_msg_free(m);
    assert_status(st, U20, "ACSP");
    xb_store_close(st);

    /* Durable: a new connection sees every status. */
    assert_int_equal(xb_store_open(&st, g_url, &err), 0);
    assert_status(st, U01, "ACCC");
    assert_status(st, U04, "RJCT");
    assert_status(st, U20, "ACSP");
    xb_store_close(st);
}

static const json_t *by_status(const json_t *c, const char *s, const char *key)
{
    return json_object_get(json_object_get(json_object_get(c, "by_status"), s), key);
}

static void report_balances(void **state)
{
    xb_store *st = NULL;
    xb_error err = {0};
    assert_int_equal(xb_store_open(&st, g_url, &err), 0);
    json_t *rep = NULL;
    assert_int_equal(xb_settle_ledger_report(&rep, st, "2026-11-27", &err), 0);
    assert_true(json_is_true(json_object_get(rep, "balanced")));
    const json_t *cps = json_object_get(rep, "counterparties");
    assert_int_equal(json_array_size(cps), 2);
    const json_t *boc = json_array_get(cps, 0), *hsbc = json_array_get(cps, 1);
    assert_string_equal(json_string_value(json_object_get(boc, "counterparty")), "BKCHHKHHXXX");
    assert_int_equal(json_integer_value(json_object_get(boc, "transfers")), 4);
    assert_string_equal(json_string_value(json_object_get(boc, "cny_total")), "14334306.44");
    assert_string_equal(json_string_value(by_status(boc, "RJCT", "cny")), "9521.35");
    assert_string_equal(json_string_value(by_status(boc, "ACSC", "cny")), "177.59");
    assert_string_equal(json_string_value(by_status(boc, "SENT", "cny")), "117807.50");
    assert_string_equal(json_string_value(by_status(boc, "ACSP", "cny")), "14206800.00");
    assert_string_equal(json_string_value(json_object_get(hsbc, "cny_total")), "7103.40");
    assert_string_equal(json_string_value(by_status(hsbc, "ACCC", "cny")), "7103.40");
    const json_t *tot = json_object_get(rep, "totals");
    assert_int_equal(json_integer_value(json_object_get(tot, "transfers")), 5);
    assert_string_equal(json_string_value(json_object_get(tot, "cny_total")), "14341409.84");
    /* Pending: U05 (SENT) and U20 (ACSP). Rejected: U04 with its reason. */
    const json_t *pending = json_object_get(rep, "pending");
    assert_int_equal(json_array_size(pending), 2);
    const json_t *rej = json_object_get(rep, "rejected");
    assert_int_equal(json_array_size(rej), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rej, 0), "reason")),
                        "AC04 account closed");
    /* Unmatched: the unknown UETR from pacs.002 XB-STS-1 (dated 2026-11-27), once although the
     * report was applied twice; the set_status call had no pacs.002 behind it (history only). */
    const json_t *un = json_object_get(rep, "unmatched");
    assert_int_equal(json_array_size(un), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(un, 0), "uetr")), UNKNOWN);
    json_decref(rep);

    /* Another date has nothing, and still balances. */
    assert_int_equal(xb_settle_ledger_report(&rep, st, "2026-11-26", &err), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "counterparties")), 0);
    assert_true(json_is_true(json_object_get(rep, "balanced")));
    json_decref(rep);
    xb_store_close(st);
}

/* ---- the pipeline hook without Kafka (rates from a file) ----------------------------------- */

static void write_hook_config(const char *path, const char *rates_file)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "kafka: {bootstrap.servers: embedded}\n"
            "routes:\n"
            "  - name: payments-to-hk\n"
            "    topics: [payments.outbound]\n"
            "    messages: [pacs.008]\n"
            "    destination: hk-correspondent\n"
            "    settle: {currency: CNY, clearing: CIP, rates: {file: %s}}\n"
            "policy: {catalogs: [c.yaml], keys: keys}\n"
            "destinations: {hk-correspondent: {url: \"https://127.0.0.1:1/x\", country: HK}}\n"
            "audit: {file: audit.log}\n"
            "dlq: {topic: dlq}\n"
            "state: {store: \"sqlite:hook.db\"}\n",
            rates_file);
    fclose(f);
}

/* The hook's details are the decision record's text: a JSON string holding an object. */
static json_t *details_of(const json_t *detail)
{
    json_t *j = json_loads(json_string_value(detail) ? json_string_value(detail) : "", 0, NULL);
    assert_true(json_is_object(j));
    return j;
}

static int hook_settle(xb_settle_hook *h, const char *cfg_path, const char *fixture, char **xml,
                       size_t *len, json_t **detail, xb_error *err)
{
    xb_config *cfg = NULL;
    assert_int_equal(xb_config_load(&cfg, cfg_path, err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s%s", MSG_DIR, fixture);
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    xb_msg *m = parse_buf(b.data, b.len);
    int rc =
        xb_settle_pipeline_hook(h, cfg->routes[0].settle, m, b.data, b.len, xml, len, detail, err);
    xb_msg_free(m);
    xb_buf_free(&b);
    xb_config_free(cfg);
    return rc;
}

static void pipeline_hook_with_file_rates(void **state)
{
    char cfg_path[160];
    snprintf(cfg_path, sizeof cfg_path, "%s/hook.yaml", g_dir);
    write_hook_config(cfg_path, XB_FIXTURES "/rates/cfets-2026-11.csv");
    xb_settle_hook *h = NULL;
    xb_error err = {0};
    assert_int_equal(xb_settle_hook_new(&h, cfg_path, &err), 0);
    assert_true(xb_settle_hook_needed(h));
    char *xml = NULL;
    size_t len = 0;
    json_t *detail = NULL;
    assert_int_equal(hook_settle(h, cfg_path, "pacs008-usd.xml", &xml, &len, &detail, &err), 0);
    /* 1000.00 x 7.1034 = 7103.40; the decision record names the route. */
    assert_non_null(strstr(xml, "<IntrBkSttlmAmt Ccy=\"CNY\">7103.40</IntrBkSttlmAmt>"));
    json_t *details = details_of(detail);
    assert_string_equal(json_string_value(json_object_get(details, "route")), "payments-to-hk");
    json_decref(details);
    json_decref(detail);
    xb_store *st = xb_settle_hook_store(h);
    assert_status(st, U01, "SENT");
    /* The destination acknowledged: ACSP (no status_topic on this route: nothing produced). */
    assert_int_equal(xb_settle_hook_outcome(h, xml, len, "hk-correspondent", true, NULL, &err), 0);
    assert_status(st, U01, "ACSP");
    /* The receiver's response body is a pacs.002 ACCC. */
    xb_pacs002_tx_status accc = {.orgnl_uetr = U01, .status = "ACCC"};
    xb_pacs002_report r = {.msg_id = "RX-1",
                           .orgnl_msg_id = "XB-SETTLE-USD-1",
                           .orgnl_msg_nm_id = "pacs.008.001.08",
                           .n_tx = 1,
                           .tx = &accc};
    xb_buf body = XB_BUF_INIT;
    assert_int_equal(xb_pacs002_build(&body, &r, &err), 0);
    size_t applied = 0;
    assert_int_equal(xb_settle_hook_status_bytes(&applied, h, body.data, body.len, &err), 0);
    assert_int_equal(applied, 1);
    assert_status(st, U01, "ACCC");
    /* Bytes that are not a pacs.002 (the receiver's plain "ok") change nothing. */
    assert_int_equal(xb_settle_hook_status_bytes(&applied, h, "ok", 2, &err), 0);
    assert_int_equal(applied, 0);
    xb_buf_free(&body);
    free(xml);
    xb_settle_hook_free(h);
}

static void pipeline_hook_rates_unavailable_quarantines(void **state)
{
    char cfg_path[160];
    snprintf(cfg_path, sizeof cfg_path, "%s/hook-norates.yaml", g_dir);
    write_hook_config(cfg_path, "/nonexistent/cfets.csv");
    xb_settle_hook *h = NULL;
    xb_error err = {0};
    /* The pipeline still starts; every foreign-currency transfer is quarantined with the reason. */
    assert_int_equal(xb_settle_hook_new(&h, cfg_path, &err), 0);
    char *xml = NULL;
    size_t len = 0;
    json_t *detail = NULL;
    assert_int_equal(hook_settle(h, cfg_path, "pacs008-usd.xml", &xml, &len, &detail, &err),
                     XB_ENOTFOUND);
    assert_null(xml);
    assert_non_null(strstr(err.message, "rates unavailable"));
    json_t *details = details_of(detail);
    assert_string_equal(json_string_value(json_object_get(details, "verdict")), "quarantine");
    json_decref(details);
    json_decref(detail);
    /* A message already in CNY needs no rate and still settles. */
    assert_int_equal(hook_settle(h, cfg_path, "pacs008-cny.xml", &xml, &len, &detail, &err), 0);
    json_decref(detail);
    free(xml);
    xb_settle_hook_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pacs002_builder_is_xsd_valid),
        cmocka_unit_test(pacs002_builder_refuses_bad_input),
        cmocka_unit_test(pacs002_group_fixture_is_read),
        cmocka_unit_test(ledger_transitions),
        cmocka_unit_test(report_balances),
        cmocka_unit_test(pipeline_hook_with_file_rates),
        cmocka_unit_test(pipeline_hook_rates_unavailable_quarantines),
        cmocka_unit_test(chinese_ids_are_kept_whole), /* last: report_balances counts the rows */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
