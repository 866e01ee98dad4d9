/* test_ops_observability.c — the operator's view of xborder (issue #11): the Grafana dashboard and
 * the Prometheus alerting rules in docs/ops/ only use metrics xborder exports, cover what the
 * issue asks (throughput, lag, DLQ by reason, retries, latency, threshold progress; alerts on lag,
 * DLQ rate, threshold at 80%, circuit open, audit write failures), and the threshold gauges carry
 * the store's counts and the catalog's thresholds.
 * Owns: nothing but temp files under /tmp. Never: touches the network.
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
#include <jansson.h>

#include "adapter/metrics.h"
#include "adapter/ops_metrics.h"
#include "adapter/policy/policy.h"
#include "adapter/state/store.h"
#include "adapter/yaml_tree.h"

#define DASHBOARD XB_SOURCE_DIR "/docs/ops/grafana-dashboard.json"
#define ALERTS XB_SOURCE_DIR "/docs/ops/alerts.yaml"
#define CATALOG XB_FIXTURES "/catalogs/cn-finance.yaml"

/* Every PromQL expression of the dashboard, joined with newlines. */
static char *dashboard_exprs(void)
{
    json_error_t je;
    json_t *d = json_load_file(DASHBOARD, 0, &je);
    assert_non_null(d);
    size_t cap = 1 << 16, len = 0, i, j;
    char *all = calloc(1, cap);
    json_t *p, *t;
    json_array_foreach(json_object_get(d, "panels"), i, p)
    {
        json_array_foreach(json_object_get(p, "targets"), j, t)
        {
            const char *e = json_string_value(json_object_get(t, "expr"));
            assert_non_null(e);
            size_t n = strlen(e);
            assert_true(len + n + 2 < cap);
            memcpy(all + len, e, n);
            len += n;
            all[len++] = '\n';
        }
    }
    json_decref(d);
    return all;
}

/* Every alert's expression, after checking each rule has what an on-call person needs. */
static char *alert_exprs(char names[][64], size_t *n_names)
{
    json_t *tree = NULL;
    xb_error err;
    assert_int_equal(xb_yaml_load_file(&tree, ALERTS, &err), 0);
    size_t cap = 1 << 16, len = 0, i, j, n = 0;
    char *all = calloc(1, cap);
    json_t *g, *r;
    json_array_foreach(json_object_get(tree, "groups"), i,
                       g){json_array_foreach(json_object_get(g, "rules"), j, r){
        const char *alert = json_string_value(json_object_get(r, "alert"));
    const char *expr = json_string_value(json_object_get(r, "expr"));
    json_t *labels = json_object_get(r, "labels"), *ann = json_object_get(r, "annotations");
    const char *sev = json_string_value(json_object_get(labels, "severity"));
    assert_non_null(alert);
    assert_non_null(expr);
    assert_non_null(sev);
    assert_true(!strcmp(sev, "warning") || !strcmp(sev, "critical"));
    assert_non_null(json_string_value(json_object_get(ann, "summary")));
    /* the description says what to do, so it is more than a restated summary */
    const char *desc = json_string_value(json_object_get(ann, "description"));
    assert_non_null(desc);
    assert_true(strlen(desc) > 40);
    snprintf(names[n++], 64, "%s", alert);
    size_t k = strlen(expr);
    assert_true(len + k + 2 < cap);
    memcpy(all + len, expr, k);
    len += k;
    all[len++] = '\n';
}
}
*n_names = n;
json_decref(tree);
return all;
}

/* A registry with one series in every labelled family, rendered. */
static char *rendered_metrics(void)
{
    xb_metrics *m;
    assert_int_equal(xb_metrics_new(&m, NULL), 0);
    xb_metrics_add(m, "delivered_total", "hk", 1);
    xb_metrics_observe_us(m, "hk", 1500);
    char *text = xb_metrics_render(m);
    xb_metrics_free(m);
    return text;
}

/* Checks each xborder_* name in exprs is a family of the rendered output ("# TYPE name kind"),
 * with _bucket/_sum/_count only on histograms. Returns how many names were checked. */
static int check_names(const char *exprs, const char *metrics)
{
    int checked = 0;
    for (const char *p = strstr(exprs, "xborder_"); p; p = strstr(p + 1, "xborder_")) {
        if (p > exprs && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
            continue; /* part of a longer identifier */
        char name[128];
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
        assert_true(n < sizeof name);
        memcpy(name, p, n);
        name[n] = '\0';
        static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
        char type_line[200];
        snprintf(type_line, sizeof type_line, "# TYPE %s ", name);
        const char *hit = strstr(metrics, type_line);
        for (int s = 0; !hit && s < 3; s++) {
            size_t sl = strlen(suffixes[s]);
            if (n > sl && !strcmp(name + n - sl, suffixes[s])) {
                snprintf(type_line, sizeof type_line, "# TYPE %.*s histogram", (int)(n - sl), name);
                hit = strstr(metrics, type_line);
            }
        }
        if (!hit)
            fail_msg("%s is used in docs/ops but xborder does not export it", name);
        checked++;
    }
    return checked;
}

static void test_dashboard_uses_exported_metrics(void **state)
{
    char *exprs = dashboard_exprs(), *metrics = rendered_metrics();
    assert_true(check_names(exprs, metrics) >= 15);
    /* what the issue names: throughput, lag, DLQ by reason, retries, latency, threshold progress */
    assert_non_null(strstr(exprs, "rate(xborder_consumed_total"));
    assert_non_null(strstr(exprs, "xborder_consumer_lag"));
    assert_non_null(strstr(exprs, "by (reason) (rate(xborder_dlq_total"));
    assert_non_null(strstr(exprs, "xborder_retries_total"));
    assert_non_null(strstr(exprs, "histogram_quantile(0.99"));
    assert_non_null(strstr(exprs, "xborder_subjects_counted{instance=~\"$instance\"} / on"));
    free(exprs);
    free(metrics);
}

static void test_alerts_use_exported_metrics(void **state)
{
    char names[64][64];
    size_t n = 0;
    char *exprs = alert_exprs(names, &n), *metrics = rendered_metrics();
    assert_true(check_names(exprs, metrics) >= 8);
    assert_non_null(strstr(exprs, "xborder_consumer_lag"));
    assert_non_null(strstr(exprs, "rate(xborder_dlq_total"));
    assert_non_null(strstr(exprs, "xborder_subjects_threshold >= 0.8"));
    assert_non_null(strstr(exprs, "xborder_circuit_open"));
    assert_non_null(strstr(exprs, "xborder_audit_write_failures_total"));
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(names[i], names[j]);
    free(exprs);
    free(metrics);
}

static int64_t catalog_int(const char *key)
{
    /* The threshold as the catalog file writes it, so the test follows the catalog. */
    json_t *tree = NULL;
    xb_error err;
    assert_int_equal(xb_yaml_load_file(&tree, CATALOG, &err), 0);
    json_t *versions = json_object_get(tree, "versions");
    json_t *last = json_array_get(versions, json_array_size(versions) - 1);
    const char *v = json_string_value(json_object_get(json_object_get(last, "thresholds"), key));
    assert_non_null(v);
    int64_t r = strtoll(v, NULL, 10);
    json_decref(tree);
    return r;
}

static void test_threshold_gauges_from_store_and_catalog(void **state)
{
    char dir[] = "/tmp/xb-ops-metrics.XXXXXX", url[128];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/state.db", dir);
    xb_store *st;
    xb_error err;
    assert_int_equal(xb_store_open(&st, url, &err), 0);
    int64_t now = 0;
    assert_int_equal(xb_policy_parse_time(&now, "2026-06-01T12:00:00+08:00", &err), 0);
    xb_policy_subject subs[3];
    memset(subs, 0, sizeof subs);
    for (int i = 0; i < 3; i++) {
        subs[i].cls = i == 2 ? XB_PI_SPI : XB_PI_PI;
        subs[i].digest[0] = (uint8_t)(i + 1);
    }
    assert_int_equal(xb_store_subjects_apply(NULL, st, 2026, subs, 3, "hk", &err), 0);

    xb_policy_catalog_set *set;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    assert_int_equal(xb_policy_catalog_set_load(set, CATALOG, NULL, &err), 0);
    xb_metrics *m;
    assert_int_equal(xb_metrics_new(&m, NULL), 0);
    xb_ops_metrics_update(m, st, set, now);

    assert_int_equal(xb_metrics_get(m, "subjects_counted", "class=\"PI\""), 2);
    assert_int_equal(xb_metrics_get(m, "subjects_counted", "class=\"SPI\""), 1);
    assert_int_equal(xb_metrics_get(m, "subjects_threshold", "class=\"PI\",kind=\"scc\""),
                     catalog_int("scc_pi_ge"));
    assert_int_equal(xb_metrics_get(m, "subjects_threshold", "class=\"SPI\",kind=\"sa\""),
                     catalog_int("sa_spi_ge"));
    char *text = xb_metrics_render(m);
    assert_non_null(strstr(text, "xborder_subjects_counted{class=\"PI\"} 2\n"));
    free(text);

    /* a year with nothing counted reads 0, not last year's total */
    int64_t next_year;
    assert_int_equal(xb_policy_parse_time(&next_year, "2027-01-01T00:00:00+08:00", &err), 0);
    xb_ops_metrics_update(m, st, set, next_year);
    assert_int_equal(xb_metrics_get(m, "subjects_counted", "class=\"PI\""), 0);

    xb_metrics_free(m);
    xb_policy_catalog_set_free(set);
    xb_store_close(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_uses_exported_metrics),
        cmocka_unit_test(test_alerts_use_exported_metrics),
        cmocka_unit_test(test_threshold_gauges_from_store_and_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
