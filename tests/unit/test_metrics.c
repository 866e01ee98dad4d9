/* test_metrics.c — Prometheus text and the /metrics, /healthz endpoint on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/metrics.h"
#include "iso20022/buf.h"

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
    xb_buf_append(ud, ptr, size * n);
    return size * n;
}

static long get(int port, const char *path, xb_buf *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_render(void **state)
{
    xb_metrics *m;
    assert_int_equal(xb_metrics_new(&m, NULL), 0);
    xb_metrics_add(m, "consumed_total", NULL, 3);
    xb_metrics_add(m, "delivered_total", "hk-correspondent", 2);
    xb_metrics_add(m, "delivered_total", "hk-correspondent", 1);
    xb_metrics_add(m, "dlq_total", "QUARANTINE", 1);
    xb_metrics_add(m, "dlq_total", "bad\"label", 1);
    xb_metrics_add(m, "no_such_family", NULL, 1);           /* ignored, no crash */
    xb_metrics_observe_us(m, "hk-correspondent", 800);      /* <= 1 ms */
    xb_metrics_observe_us(m, "hk-correspondent", 30000);    /* <= 50 ms */
    xb_metrics_observe_us(m, "hk-correspondent", 20000000); /* +Inf only */
    xb_metrics_set_lag(m, "payments.outbound", 2, 17);
    xb_metrics_set(m, "kafka_fetch_wakes_total", NULL, 7); /* the source's own running total */
    xb_metrics_set(m, "outstanding_bytes", NULL, 123456);
    char *text = xb_metrics_render(m);
    assert_non_null(
        strstr(text, "# TYPE xborder_consumed_total counter\nxborder_consumed_total 3\n"));
    assert_non_null(strstr(text, "xborder_delivered_total{destination=\"hk-correspondent\"} 3\n"));
    assert_non_null(strstr(text, "xborder_dlq_total{reason=\"QUARANTINE\"} 1\n"));
    assert_non_null(strstr(text, "xborder_dlq_total{reason=\"bad\\\"label\"} 1\n"));
    assert_non_null(strstr(text, "xborder_delivery_latency_seconds_bucket{destination=\"hk-"
                                 "correspondent\",le=\"0.001000\"} 1\n"));
    assert_non_null(strstr(text, "xborder_delivery_latency_seconds_bucket{destination=\"hk-"
                                 "correspondent\",le=\"0.050000\"} 2\n"));
    assert_non_null(strstr(text, "xborder_delivery_latency_seconds_bucket{destination=\"hk-"
                                 "correspondent\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "xborder_delivery_latency_seconds_sum{destination=\"hk-"
                                 "correspondent\"} 20.030800\n"));
    assert_non_null(
        strstr(text, "xborder_consumer_lag{topic=\"payments.outbound\",partition=\"2\"} 17\n"));
    assert_non_null(strstr(text, "xborder_paused_partitions 0\n"));
    assert_non_null(strstr(text, "# TYPE xborder_outstanding_bytes gauge\n"
                                 "xborder_outstanding_bytes 123456\n"));
    assert_non_null(strstr(text, "# TYPE xborder_kafka_fetch_wakes_total counter\n"
                                 "xborder_kafka_fetch_wakes_total 7\n"));
    assert_int_equal(xb_metrics_get(m, "delivered_total", "hk-correspondent"), 3);
    assert_int_equal(xb_metrics_get(m, "delivery_latency_seconds", "hk-correspondent"), 3);
    free(text);
    xb_metrics_free(m);
}

static void test_http(void **state)
{
    xb_metrics *m;
    xb_error err;
    assert_int_equal(xb_metrics_new(&m, NULL), 0);
    assert_int_equal(xb_metrics_serve(m, "127.0.0.1", 0, &err), 0);
    int port = xb_metrics_port(m);
    assert_true(port > 0);
    xb_metrics_add(m, "consumed_total", NULL, 42);
    xb_buf body = XB_BUF_INIT;
    assert_int_equal(get(port, "/metrics", &body), 200);
    assert_non_null(strstr(body.data, "xborder_consumed_total 42\n"));
    xb_buf_reset(&body);
    assert_int_equal(get(port, "/healthz", &body), 200);
    assert_string_equal(body.data, "ok\n");
    xb_metrics_set_health(m, false, "destination hk: TLS verification failed");
    xb_buf_reset(&body);
    assert_int_equal(get(port, "/healthz", &body), 503);
    assert_non_null(strstr(body.data, "TLS verification failed"));
    xb_buf_reset(&body);
    assert_int_equal(get(port, "/nope", &body), 404);
    xb_buf_free(&body);
    xb_metrics_free(m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_http),
    };
    int rc = cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
