/* test_settle_kafka.c — settlement through a real Kafka broker (issue #5).
 *
 * Broker: XB_KAFKA_BOOTSTRAP (tests/env/kafka-up prints it). Without it the test FAILS.
 * Flow, with topics unique to this run:
 *   1. the CFETS fixings (fixtures/rates/cfets-2026-11.csv) are produced to a rates topic, in two
 *      records; the settle hook reads its rates from that topic (settle.rates.topic);
 *   2. three fixtures go through the pipeline's settlement hook exactly as xborder run calls it
 *      (pacs008-multi: U03 USD 25.00 -> 177.59, U04 EUR 1234.56 -> 9521.35, U05 JPY 2500000 ->
 *      117807.50; pacs008-usd: U01 USD 1000.00 -> 7103.40; pacs009-usd: U20 USD 2000000.00 ->
 *      14206800.00); every transfer is SENT in the ledger;
 *   3. delivery outcomes: U01's message acknowledged (ACSP), U20's permanently rejected (RJCT);
 *      each produces a pacs.002 to the status-out topic, which we read back and XSD-validate;
 *   4. the correspondent's pacs.002 come back on a status-in topic: U03 ACSC, U04 RJCT AC04,
 *      U05 ACCC, U01 ACSC, one unknown UETR; then U01 ACCC arrives as a receiver response body;
 *   5. the report for 2026-11-27 (through `xborder settlement-report --json`) balances:
 *      hand totals: 177.59 + 9521.35 + 117807.50 + 7103.40 + 14206800.00 = 14341409.84 over 5
 *      transfers; ACSC 177.59 (1); ACCC 117807.50 + 7103.40 = 124910.90 (2);
 *      RJCT 9521.35 + 14206800.00 = 14216321.35 (2); nothing pending; one unmatched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "adapter/config.h"
#include "adapter/settle_hook.h"
#include "adapter/state/ledger.h"
#include "iso20022/buf.h"
#include "iso20022/pacs002.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"

static const char *U01 = "8a562c67-ca16-48ba-b074-65581be6f001";
static const char *U03 = "8a562c67-ca16-48ba-b074-65581be6f003";
static const char *U04 = "8a562c67-ca16-48ba-b074-65581be6f004";
static const char *U05 = "8a562c67-ca16-48ba-b074-65581be6f005";
static const char *U20 = "8a562c67-ca16-48ba-b074-65581be6f020";
static const char *UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100";

static char g_dir[64], g_cfg[128], g_rates[96], g_in[96], g_out[96];
static const char *g_bootstrap;

static void produce(const char *topic, const char *data, size_t len)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(conf, "bootstrap.servers", g_bootstrap, errstr, sizeof errstr), 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    char *copy = malloc(len ? len : 1); /* librdkafka frees it (F_FREE) */
    memcpy(copy, data, len);
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                       RD_KAFKA_V_VALUE(copy, len), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(p, 20000), 0);
    rd_kafka_destroy(p);
}

static void read_file(xb_buf *b, const char *path)
{
    xb_buf_reset(b);
    if (xb_buf_read_file(b, path, 0))
        fail_msg("cannot read %s", path);
}

static void write_config(void)
{
    FILE *f = fopen(g_cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "kafka: {bootstrap.servers: \"%s\", group.id: xb-settle-it}\n"
            "routes:\n"
            "  - name: payments-to-hk\n"
            "    topics: [payments.outbound]\n"
            "    messages: [pacs.008, pacs.009]\n"
            "    destination: hk-correspondent\n"
            "    settle:\n"
            "      currency: CNY\n"
            "      clearing: CIP\n"
            "      method: CLRG\n"
            "      rates: {topic: %s, source: CFETS central parity (topic)}\n"
            "      agents:\n"
            "        - {bic: ICBKCNBJXXX, cips: C1021000001, cnaps: \"102100099996\"}\n"
            "        - {bic: BKCHHKHHXXX, cips: C1040000128}\n"
            "      purpose: {required: true}\n"
            "      status_topic: %s\n"
            "policy: {catalogs: [cn-finance.yaml], keys: keys}\n"
            "destinations:\n"
            "  hk-correspondent: {url: \"https://127.0.0.1:8443/iso20022\", country: HK}\n"
            "audit: {file: audit.log}\n"
            "dlq: {topic: xborder.dlq}\n"
            "state: {store: \"sqlite:xborder.db\"}\n",
            g_bootstrap, g_rates, g_out);
    fclose(f);
}

static int setup(void **state)
{
    g_bootstrap = getenv("XB_KAFKA_BOOTSTRAP");
    if (!g_bootstrap || !g_bootstrap[0]) {
        fprintf(stderr, "XB_KAFKA_BOOTSTRAP is not set: start a broker with tests/env/kafka-up "
                        "and export its address (scripts/test does both)\n");
        return -1; /* a failed setup fails the group: never a skip */
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/xb-settle-it-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_cfg, sizeof g_cfg, "%s/xborder.yaml", g_dir);
    long tag = (long)getpid() ^ (long)time(NULL);
    snprintf(g_rates, sizeof g_rates, "xb-settle-rates-%lx", tag);
    snprintf(g_in, sizeof g_in, "xb-settle-status-in-%lx", tag);
    snprintf(g_out, sizeof g_out, "xb-settle-status-out-%lx", tag);
    write_config();
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (g_dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    xb_schema_cleanup();
    return 0;
}

/* Settles one fixture through the hook as the pipeline would; returns the bytes to deliver. */
static char *settle_fixture(xb_settle_hook *h, const json_t *route_settle, const char *name,
                            size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/messages/settle/%s", XB_FIXTURES, name);
    xb_buf b = XB_BUF_INIT;
    read_file(&b, path);
    xb_msg *m = NULL;
    xb_error err = {0};
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), 0);
    char *xml = NULL;
    json_t *detail = NULL;
    if (xb_settle_pipeline_hook(h, route_settle, m, b.data, b.len, &xml, len, &detail, &err))
        fail_msg("%s: %s", name, err.message);
    /* the details come as the decision record's text: a JSON string holding an object */
    json_t *details = json_loads(json_string_value(detail), 0, NULL);
    assert_non_null(details);
    assert_string_equal(json_string_value(json_object_get(details, "rate_source")),
                        "CFETS central parity (topic)");
    json_decref(details);
    json_decref(detail);
    xb_msg_free(m);
    xb_buf_free(&b);
    return xml;
}

static void produce_status(const xb_pacs002_tx_status *tx, size_t n, const char *orgnl,
                           const char *def)
{
    xb_pacs002_report r = {.msg_id = "BOCHK-STS-IT",
                           .orgnl_msg_id = orgnl,
                           .orgnl_msg_nm_id = def,
                           .n_tx = n,
                           .tx = tx};
    xb_buf b = XB_BUF_INIT;
    xb_error err = {0};
    assert_int_equal(xb_pacs002_build(&b, &r, &err), 0);
    produce(g_in, b.data, b.len);
    xb_buf_free(&b);
}

typedef struct out_reports {
    int n, acsp, rjct;
} out_reports;

static int check_out_record(void *ctx, const char *data, size_t len, const char *name,
                            xb_error *err)
{
    out_reports *o = ctx;
    xb_msg *m = NULL;
    if (xb_msg_parse(&m, data, len, NULL, err) || xb_schema_validate_msg(m, err) ||
        xb_rules_check(m, err))
        fail_msg("status-out record %s invalid: %s", name, err->message);
    xb_pacs002_status *rows = NULL;
    size_t n = 0;
    assert_int_equal(xb_pacs002_read(&rows, &n, m, err), 0);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(rows[i].status, "ACSP") && !strcmp(rows[i].orgnl_uetr, U01))
            o->acsp++;
        if (!strcmp(rows[i].status, "RJCT") && !strcmp(rows[i].orgnl_uetr, U20) &&
            !strcmp(rows[i].reason_code, "NARR"))
            o->rjct++;
    }
    o->n++;
    free(rows);
    xb_msg_free(m);
    return 0;
}

static void assert_status(xb_store *st, const char *uetr, const char *want)
{
    char s[8];
    xb_error err = {0};
    assert_int_equal(xb_settle_ledger_status(s, st, uetr, &err), 0);
    if (strcmp(s, want))
        fail_msg("%s: %s, wanted %s", uetr, s, want);
}

static void report_cli_balances(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' settlement-report --store 'sqlite:%s/xborder.db' --date 2026-11-27 --json > "
             "'%s/report.json'",
             XB_XBORDER_BIN, g_dir, g_dir);
    assert_int_equal(system(cmd), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/report.json", g_dir);
    json_error_t je;
    json_t *rep = json_load_file(path, 0, &je);
    assert_non_null(rep);
    assert_true(json_is_true(json_object_get(rep, "balanced")));
    const json_t *tot = json_object_get(rep, "totals");
    assert_int_equal(json_integer_value(json_object_get(tot, "transfers")), 5);
    assert_string_equal(json_string_value(json_object_get(tot, "cny_total")), "14341409.84");
    const json_t *by = json_object_get(tot, "by_status");
    assert_string_equal(json_string_value(json_object_get(json_object_get(by, "ACSC"), "cny")),
                        "177.59");
    assert_string_equal(json_string_value(json_object_get(json_object_get(by, "ACCC"), "cny")),
                        "124910.90");
    assert_string_equal(json_string_value(json_object_get(json_object_get(by, "RJCT"), "cny")),
                        "14216321.35");
    assert_null(json_object_get(by, "SENT"));
    assert_int_equal(json_array_size(json_object_get(rep, "pending")), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "rejected")), 2);
    const json_t *un = json_object_get(rep, "unmatched");
    assert_int_equal(json_array_size(un), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(un, 0), "uetr")), UNKNOWN);
    json_decref(rep);
}

static void settle_status_and_report_through_kafka(void **state)
{
    /* 1. rates on a topic, in two records. */
    xb_buf rates = XB_BUF_INIT;
    read_file(&rates, XB_FIXTURES "/rates/cfets-2026-11.csv");
    const char *half = strstr(rates.data, "2026-11-27,USD");
    assert_non_null(half);
    produce(g_rates, rates.data, (size_t)(half - rates.data));
    produce(g_rates, half, rates.len - (size_t)(half - rates.data));
    xb_buf_free(&rates);

    xb_settle_hook *h = NULL;
    xb_config *cfg = NULL;
    xb_error err = {0};
    if (xb_settle_hook_new(&h, g_cfg, &err))
        fail_msg("hook: %s (%s)", err.message, err.path);
    assert_true(xb_settle_hook_needed(h));
    assert_int_equal(xb_config_load(&cfg, g_cfg, &err), 0);
    const json_t *route_settle = cfg->routes[0].settle;

    /* 2. settle three messages. */
    size_t l_multi, l_usd, l_009;
    char *multi = settle_fixture(h, route_settle, "pacs008-multi.xml", &l_multi);
    char *usd = settle_fixture(h, route_settle, "pacs008-usd.xml", &l_usd);
    char *fi = settle_fixture(h, route_settle, "pacs009-usd.xml", &l_009);
    assert_non_null(strstr(usd, "<IntrBkSttlmAmt Ccy=\"CNY\">7103.40</IntrBkSttlmAmt>"));
    xb_store *st = xb_settle_hook_store(h);
    assert_status(st, U01, "SENT");
    assert_status(st, U05, "SENT");

    /* 3. delivery outcomes -> ledger + pacs.002 on the status-out topic. */
    assert_int_equal(xb_settle_hook_outcome(h, usd, l_usd, "hk-correspondent", true, NULL, &err),
                     0);
    assert_int_equal(xb_settle_hook_outcome(h, fi, l_009, "hk-correspondent", false,
                                            "HTTP 422: receiver refused the document", &err),
                     0);
    assert_status(st, U01, "ACSP");
    assert_status(st, U20, "RJCT");
    out_reports o = {0};
    assert_int_equal(xb_settle_topic_read(g_bootstrap, g_out, 20000, check_out_record, &o, &err),
                     0);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.acsp, 1);
    assert_int_equal(o.rjct, 1);

    /* 4. the correspondent's statuses come back on the status-in topic. */
    xb_pacs002_tx_status back_multi[] = {
        {.orgnl_uetr = U03, .status = "ACSC"},
        {.orgnl_uetr = U04, .status = "RJCT", .reason_code = "AC04", .reason_info = "账户已销户"},
        {.orgnl_uetr = U05, .status = "ACCC"},
        {.orgnl_uetr = UNKNOWN, .status = "ACSC", .orgnl_sttlm_date = "2026-11-27"},
    };
    produce_status(back_multi, 4, "XB-SETTLE-MULTI-1", "pacs.008.001.08");
    xb_pacs002_tx_status back_usd[] = {{.orgnl_uetr = U01, .status = "ACSC"}};
    produce_status(back_usd, 1, "XB-SETTLE-USD-1", "pacs.008.001.08");
    size_t applied = 0;
    assert_int_equal(xb_settle_hook_ingest_topic(&applied, h, g_in, 20000, &err), 0);
    assert_int_equal(applied, 4); /* U03, U04, U05, U01 */
    assert_int_equal(xb_settle_hook_ingest_topic(&applied, h, g_in, 20000, &err), 0);
    assert_int_equal(applied, 0); /* read again: nothing changes */
    /* ... and the receiver's own response body carries the final ACCC for U01. */
    xb_pacs002_tx_status accc[] = {{.orgnl_uetr = U01, .status = "ACCC"}};
    xb_pacs002_report r = {.msg_id = "RX-RESP-1",
                           .orgnl_msg_id = "XB-SETTLE-USD-1",
                           .orgnl_msg_nm_id = "pacs.008.001.08",
                           .n_tx = 1,
                           .tx = accc};
    xb_buf body = XB_BUF_INIT;
    assert_int_equal(xb_pacs002_build(&body, &r, &err), 0);
    assert_int_equal(xb_settle_hook_status_bytes(&applied, h, body.data, body.len, &err), 0);
    assert_int_equal(applied, 1);
    xb_buf_free(&body);
    assert_status(st, U01, "ACCC");
    assert_status(st, U03, "ACSC");
    assert_status(st, U04, "RJCT");
    assert_status(st, U05, "ACCC");

    free(multi);
    free(usd);
    free(fi);
    xb_config_free(cfg);
    xb_settle_hook_free(h);

    /* 5. the report, through the CLI, from the durable store. */
    report_cli_balances();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settle_status_and_report_through_kafka),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
