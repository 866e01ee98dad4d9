/* test_report.c — report.json totals and report.html from a synthetic audit log
 * (fixtures/audit/decisions-synthetic.jsonl written through the real audit writer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/report.h"
#include "adapter/state/audit.h"
#include "adapter/state/audit_verify.h"

static int add_entry(void *ctx, const xb_audit_entry *e, const char *line, size_t len)
{
    if (!strcmp(e->type, "decision"))
        assert_int_equal(xb_report_add_record(ctx, e->record, NULL), 0);
    return 0;
}

static json_t *build(xb_report **rep_out, char *html_out_path)
{
    char path[] = "/tmp/xb-report-XXXXXX";
    assert_non_null(mkdtemp(path));
    char log[128];
    snprintf(log, sizeof log, "%s/audit.log", path);
    xb_audit_opts o = {.path = log};
    xb_audit *a;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    FILE *f = fopen(XB_FIXTURES "/audit/decisions-synthetic.jsonl", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        assert_non_null(r);
        assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), 0);
        json_decref(r);
    }
    free(line);
    fclose(f);
    xb_audit_close(a);

    xb_report *rep;
    assert_int_equal(xb_report_new(&rep, &err), 0);
    xb_report_set_country(rep, "hk-correspondent", "HK");
    xb_report_set_country(rep, "sg-office", "SG");
    xb_audit_verify_opts vo = {.on_entry = add_entry, .ctx = rep};
    xb_audit_verify_result vr;
    const char *files[] = {log};
    assert_int_equal(xb_audit_verify_files(&vr, files, 1, &vo, &err), 0);
    assert_int_equal(vr.fault, XB_AUDIT_INTACT);
    xb_report_set_chain(rep, &vr);
    xb_report_add_mismatch(rep, "payments.outbound:0:3", "sg-office", "verdict", "DELIVER",
                           "QUARANTINE <b>");
    assert_int_equal(xb_report_write(rep, path, &err), 0);
    snprintf(html_out_path, 128, "%s", path);
    *rep_out = rep;
    return xb_report_json(rep);
}

static json_int_t at(const json_t *j, const char *a, const char *b)
{
    const json_t *x = json_object_get(j, a);
    if (b)
        x = json_object_get(x, b);
    assert_non_null(x);
    return json_integer_value(x);
}

static void test_totals(void **state)
{
    xb_report *rep;
    char dir[128];
    json_t *j = build(&rep, dir);
    assert_int_equal(at(j, "totals", "records"), 7);
    assert_int_equal(at(j, "totals", "outcomes"), 7);
    assert_int_equal(at(j, "totals", "not_decided"), 1);
    const json_t *bd = json_object_get(j, "by_destination");
    assert_int_equal(at(bd, "hk-correspondent", "outcomes"), 4);
    assert_int_equal(at(bd, "sg-office", "outcomes"), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(bd, "sg-office"), "country")), "SG");
    assert_int_equal(at(j, "by_country", "HK"), 4);
    assert_int_equal(at(j, "by_country", "SG"), 3);
    assert_int_equal(at(j, "by_verdict", "DELIVER"), 5);
    assert_int_equal(at(j, "by_verdict", "QUARANTINE"), 1);
    assert_int_equal(at(j, "by_verdict", "BLOCK"), 1);
    assert_int_equal(at(j, "by_basis", "EXEMPT_ART5_1_CONTRACT"), 2);
    assert_int_equal(at(j, "by_basis", "SCC_FILED"), 1);
    assert_int_equal(at(j, "by_basis", "NOT_PI"), 2);
    assert_int_equal(at(j, "by_basis", "NONE"), 2);
    /* Days are Asia/Shanghai: 23:59:59+08:00 stays on 03-01, 00:00+08:00 is 03-02. */
    const json_t *days = json_object_get(j, "by_day");
    assert_int_equal(json_object_size(days), 3);
    assert_int_equal(at(days, "2026-03-01", "total"), 2);
    assert_int_equal(at(days, "2026-03-02", "total"), 2);
    assert_int_equal(at(days, "2026-03-03", "total"), 3);
    assert_int_equal(at(j, "dlq", "INVALID_XML"), 1);
    assert_int_equal(at(j, "dlq", "QUARANTINE"), 1);
    assert_int_equal(at(j, "dlq", "BLOCK"), 1);
    const json_t *y = json_object_get(json_object_get(j, "subjects"), "2026");
    assert_int_equal(at(y, "pi", NULL), 4);
    assert_int_equal(at(y, "spi", NULL), 1);
    assert_int_equal(at(y, "new_pi_in_window", NULL), 4);
    assert_int_equal(at(y, "new_spi_in_window", NULL), 1);
    assert_int_equal(at(y, "thresholds", "pi_scc"), 100000);
    assert_int_equal(at(y, "thresholds", "spi_assessment"), 10000);
    assert_int_equal(at(j, "mismatches", "count"), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "audit_chain"), "status")), "intact");
    assert_int_equal(at(j, "audit_chain", "decisions"), 7);
    json_decref(j);
    xb_report_free(rep);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_html_self_contained(void **state)
{
    xb_report *rep;
    char dir[128];
    json_t *j = build(&rep, dir);
    char path[200];
    snprintf(path, sizeof path, "%s/report.html", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char html[1 << 20];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = '\0';
    fclose(f);
    assert_non_null(strstr(html, "<svg id=\"chart-destination\""));
    assert_non_null(strstr(html, "<svg id=\"chart-verdict\""));
    assert_non_null(strstr(html, "id=\"thresholds-2026\""));
    assert_non_null(strstr(html, "data-series=\"hk-correspondent\""));
    assert_non_null(strstr(html, "data-threshold=\"spi_scc\" data-value=\"1\""));
    assert_non_null(strstr(html, "QUARANTINE &lt;b&gt;")); /* escaped, not markup */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    /* The only URL is the SVG namespace name, which is never fetched. */
    for (char *p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
        assert_int_equal(strncmp(p, "http://www.w3.org/2000/svg", 26), 0);
    /* Three days, two destinations: one rect per (day, destination) with a count. */
    size_t bars = 0;
    char *chart = strstr(html, "<svg id=\"chart-destination\"");
    char *end = strstr(chart, "</svg>");
    for (char *p = strstr(chart, "class=\"bar\""); p && p < end; p = strstr(p + 1, "class=\"bar\""))
        bars++;
    assert_int_equal(bars, 4); /* 03-01: hk; 03-02: sg; 03-03: hk and sg */
    json_decref(j);
    xb_report_free(rep);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_html_self_contained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
