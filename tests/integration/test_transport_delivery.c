/* test_transport_delivery.c — the HTTPS sink against the real receiver over mutual TLS:
 * delivery + durable dedupe, signatures (tampering refused), permanent vs. retried answers,
 * injected 503s, a receiver that is down for a while, Retry-After, connection resets, batches,
 * a wait for an answer ended by the wake fd.
 * Every test starts its own receiver processes on a free loopback port and stops them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "adapter/transport/httpsig.h"
#include "adapter/transport/sink_http.h"
#include "tests/integration/transport_harness.h"

static th_dir D;

static int setup_all(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    th_dir_init(&D);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    th_dir_free(&D);
    return 0;
}

/* Submits messages [from, to) with their UETR as key; user = index + 1. */
static void submit_range(xb_sink_http *s, unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++) {
        size_t len;
        char uetr[40];
        char *m = th_message(i, &len, uetr);
        xb_error err;
        assert_int_equal(xb_sink_http_submit(s, m, len, uetr, (void *)(uintptr_t)(i + 1), &err), 0);
        free(m);
    }
}

static void test_deliver_dedupe_and_restart(void **state)
{
    (void)state;
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-dedupe", NULL), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, "localhost");
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 0, 40);
    assert_int_equal(th_run(s, &r, 40, 60000), 40);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(r.seen[i], 1); /* exactly one callback each */
    assert_int_equal(th_count_files(&D, "store-dedupe"), 40);

    /* The stored bytes are exactly what was sent (UTF-8 names intact). */
    size_t sent_len, got_len;
    char uetr[40], name[64];
    char *sent = th_message(7, &sent_len, uetr);
    snprintf(name, sizeof name, "%s.xml", uetr);
    char *got = th_read_stored(&D, "store-dedupe", name, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, sent_len);
    assert_memory_equal(got, sent, sent_len);
    assert_non_null(strstr(got, "香港維多利亞貿易有限公司"));
    free(sent);
    free(got);

    /* Redelivery of the same keys: 409 = DUPLICATE, nothing new stored. */
    submit_range(s, 0, 5);
    assert_int_equal(th_run(s, &r, 45, 10000), 45);
    assert_int_equal(r.n[XB_SINK_HTTP_DUPLICATE], 5);
    assert_int_equal(r.last_status, 409);

    /* Restart the receiver on the same store: it still remembers (durable dedupe). */
    unsigned port = rx.port;
    th_rx_stop(&rx);
    assert_int_equal(th_rx_start(&rx, &D, port, "server", "store-dedupe", NULL), 0);
    submit_range(s, 30, 45); /* 30..39 seen before, 40..44 new */
    assert_int_equal(th_run(s, &r, 60, 20000), 60);
    assert_int_equal(r.n[XB_SINK_HTTP_DUPLICATE], 15);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 45);
    assert_int_equal(th_count_files(&D, "store-dedupe"), 45);
    th_rx_stats st;
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 5);
    assert_int_equal(st.duplicates, 10);

    xb_sink_http_stats ss;
    xb_sink_http_stats_get(s, &ss);
    assert_int_equal(ss.pending, 0);
    assert_int_equal(ss.submitted, 60);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

static void test_signatures(void **state)
{
    (void)state;
    const char *extra[] = {"--verify-key", th_pki(&D, "sign.pub"), "--keyid", "cn-bank-1", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-sig", extra), 0);

    /* Signed by the right key: delivered. */
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.sign_key_file = th_pki(&D, "sign.key");
    o.sign_key_id = "cn-bank-1";
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 100, 103);
    assert_int_equal(th_run(s, &r, 3, 20000), 3);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 3);
    xb_sink_http_free(s);

    /* Unsigned: 401 -> the sink calls it a configuration error, nothing stored. */
    th_results r2;
    th_results_init(&r2, 8192);
    th_sink_options(&o, &D, rx.port, NULL);
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r2, &err), 0);
    submit_range(s, 110, 112);
    assert_int_equal(th_run(s, &r2, 2, 20000), 2);
    assert_int_equal(r2.n[XB_SINK_HTTP_CONFIG_ERROR], 2);
    assert_non_null(xb_sink_http_config_error(s));
    assert_non_null(strstr(xb_sink_http_config_error(s), "401"));
    xb_sink_http_free(s);

    /* Tampered body: sign one body, send another (what a man-in-the-middle would do). */
    xb_httpsig_key *key;
    assert_int_equal(xb_httpsig_key_load(&key, th_pki(&D, "sign.key"), &err), 0);
    size_t len;
    char uetr[40];
    char *m = th_message(120, &len, uetr);
    xb_httpsig_message hm = {.method = "POST",
                             .path = "/iso20022",
                             .content_type = "application/xml",
                             .idempotency_key = uetr,
                             .body = m,
                             .body_len = len};
    xb_httpsig_headers h;
    assert_int_equal(xb_httpsig_sign(&h, &hm, key, "cn-bank-1", (int64_t)time(NULL), 0, &err), 0);
    char *amount = strstr(m, "88888.88");
    assert_non_null(amount);
    amount[0] = '9';
    char url[128], line[1200];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/iso20022", rx.port);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/xml");
    snprintf(line, sizeof line, "Idempotency-Key: %s", uetr);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "Content-Digest: %s", h.content_digest);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "Signature-Input: %s", h.signature_input);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "Signature: %s", h.signature);
    hdrs = curl_slist_append(hdrs, line);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CAINFO, th_pki(&D, "ca.crt"));
    curl_easy_setopt(e, CURLOPT_SSLCERT, th_pki(&D, "client.crt"));
    curl_easy_setopt(e, CURLOPT_SSLKEY, th_pki(&D, "client.key"));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, m);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 401);
    /* The untampered body with the same headers is accepted (the refusal was the tampering). */
    amount[0] = '8';
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    fclose(devnull);
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    xb_httpsig_key_free(key);
    free(m);
    assert_int_equal(th_count_files(&D, "store-sig"), 4);
    th_results_free(&r);
    th_results_free(&r2);
    th_rx_stop(&rx);
}

/* A hostile or broken message is a PERMANENT failure (DLQ), and does not stop the others. */
static void test_poison_is_permanent(void **state)
{
    (void)state;
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-poison", NULL), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 200, 202);
    size_t len;
    char *bad = th_fixture("transport/hostile-doctype.xml", &len);
    assert_int_equal(
        xb_sink_http_submit(s, bad, len, "poison-doctype-1", (void *)(uintptr_t)10, &err), 0);
    free(bad);
    bad = th_fixture("transport/truncated.xml", &len);
    assert_int_equal(
        xb_sink_http_submit(s, bad, len, "poison-truncated-1", (void *)(uintptr_t)11, &err), 0);
    free(bad);
    submit_range(s, 202, 204);
    assert_int_equal(th_run(s, &r, 6, 20000), 6);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 4);
    assert_int_equal(r.n[XB_SINK_HTTP_PERMANENT], 2);
    assert_int_equal(r.seen[9], 1);
    assert_int_equal(r.seen[10], 1);
    assert_null(xb_sink_http_config_error(s));
    assert_int_equal(th_count_files(&D, "store-poison"), 4);
    /* Keys the sink refuses up front never get a callback. */
    assert_int_equal(xb_sink_http_submit(s, "<a/>", 4, "has space", NULL, &err), XB_EINVAL);
    assert_int_equal(xb_sink_http_submit(s, "<a/>", 4, "", NULL, &err), XB_EINVAL);
    assert_int_equal(xb_sink_http_submit(s, "", 0, "k", NULL, &err), XB_EINVAL);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* 30% of requests answered 503: everything arrives exactly once, nothing is PERMANENT. */
static void test_fail_rate_nothing_lost(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-rate", "0.3", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-flaky", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.breaker_threshold = 50; /* keep the breaker out of this test's way */
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 1000, 1200);
    assert_int_equal(th_run(s, &r, 200, 120000), 200);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED] + r.n[XB_SINK_HTTP_DUPLICATE], 200);
    assert_int_equal(r.n[XB_SINK_HTTP_PERMANENT] + r.n[XB_SINK_HTTP_CONFIG_ERROR], 0);
    for (int i = 1000; i < 1200; i++)
        assert_int_equal(r.seen[i], 1);
    xb_sink_http_stats ss;
    xb_sink_http_stats_get(s, &ss);
    assert_true(ss.retries > 20); /* ~30% of ~285 requests */
    th_rx_stats st;
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 200);
    assert_true(st.injected_failures >= 20);
    assert_int_equal(th_count_files(&D, "store-flaky"), 200);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* Connections dropped after the message was stored: the sink retries, the receiver says 409,
 * and each message is stored exactly once. */
static void test_resets_no_duplicates(void **state)
{
    (void)state;
    const char *extra[] = {"--reset-rate", "0.3", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-reset", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.breaker_threshold = 50;
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 2000, 2100);
    assert_int_equal(th_run(s, &r, 100, 120000), 100);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED] + r.n[XB_SINK_HTTP_DUPLICATE], 100);
    assert_true(r.n[XB_SINK_HTTP_DUPLICATE] > 0); /* some answers were lost after storing */
    th_rx_stats st;
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 100);
    assert_true(st.resets > 0);
    assert_int_equal(th_count_files(&D, "store-reset"), 100);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* The receiver is down for 3 s: the sink reports backlog, opens its breaker, and delivers
 * everything once the receiver is back. */
static void test_receiver_down_then_up(void **state)
{
    (void)state;
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-down", NULL), 0);
    unsigned port = rx.port;
    th_rx_stop(&rx);
    xb_sink_http_options o;
    th_sink_options(&o, &D, port, NULL);
    o.breaker_threshold = 3;
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 3000, 3050);
    uint64_t until = th_now_ms() + 3000;
    int saw_backlog = 0, saw_open = 0;
    while (th_now_ms() < until) {
        xb_sink_http_poll(s, 50, NULL);
        saw_backlog |= xb_sink_http_backlogged(s);
        xb_sink_http_stats ss;
        xb_sink_http_stats_get(s, &ss);
        saw_open |= ss.breaker == XB_SINK_HTTP_BREAKER_OPEN;
    }
    assert_int_equal(r.completions, 0); /* nothing given up while the receiver is down */
    assert_true(saw_backlog);
    assert_true(saw_open);
    assert_null(xb_sink_http_config_error(s));
    assert_int_equal(th_rx_start(&rx, &D, port, "server", "store-down", NULL), 0);
    assert_int_equal(th_run(s, &r, 50, 60000), 50);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 50);
    assert_false(xb_sink_http_backlogged(s));
    assert_int_equal(th_count_files(&D, "store-down"), 50);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* 503 + Retry-After: 2 holds the destination ~2 s, with no request in between. */
static void test_retry_after_honoured(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-rate", "1", "--retry-after", "2", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-ra", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 4000, 4001);
    uint64_t t0 = th_now_ms();
    xb_sink_http_stats ss = {0};
    while (ss.requests < 1 || ss.in_flight > 0) {
        xb_sink_http_poll(s, 20, NULL);
        xb_sink_http_stats_get(s, &ss);
        assert_true(th_now_ms() - t0 < 10000);
    }
    /* First answer was 503 Retry-After: 2. Swap in a healthy receiver at once. */
    unsigned port = rx.port;
    th_rx_stop(&rx);
    assert_int_equal(th_rx_start(&rx, &D, port, "server", "store-ra", NULL), 0);
    assert_true(xb_sink_http_backlogged(s));
    assert_int_equal(th_run(s, &r, 1, 15000), 1);
    uint64_t elapsed = th_now_ms() - t0;
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 1);
    assert_int_equal(r.max_attempts, 2); /* no request during the hold */
    assert_true(elapsed >= 1900);
    assert_true(elapsed < 8000);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* Batch mode: multipart/mixed, one callback per message, per-part statuses. */
static void test_batch(void **state)
{
    (void)state;
    const char *extra[] = {"--verify-key", th_pki(&D, "sign.pub"), NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-batch", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.batch_max_messages = 20;
    o.batch_linger_ms = 20;
    o.sign_key_file = th_pki(&D, "sign.key");
    o.sign_key_id = "cn-bank-1";
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 5000, 5100);
    size_t len;
    char *bad = th_fixture("transport/truncated.xml", &len);
    assert_int_equal(
        xb_sink_http_submit(s, bad, len, "poison-in-batch", (void *)(uintptr_t)150, &err), 0);
    free(bad);
    assert_int_equal(th_run(s, &r, 101, 30000), 101);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 100);
    assert_int_equal(r.n[XB_SINK_HTTP_PERMANENT], 1);
    assert_int_equal(r.seen[149], 1);
    xb_sink_http_stats ss;
    xb_sink_http_stats_get(s, &ss);
    assert_true(ss.requests <= 10); /* batched, not 101 requests */
    submit_range(s, 5090, 5110);    /* 10 old, 10 new */
    assert_int_equal(th_run(s, &r, 121, 30000), 121);
    assert_int_equal(r.n[XB_SINK_HTTP_DUPLICATE], 10);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 110);
    assert_int_equal(th_count_files(&D, "store-batch"), 110);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* free() with work pending: each pending message gets CANCELLED, exactly once. */
static void test_free_cancels_pending(void **state)
{
    (void)state;
    const char *extra[] = {"--latency-ms", "2000", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-cancel", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.max_in_flight = 2;
    th_results r;
    th_results_init(&r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    submit_range(s, 6000, 6010);
    for (int i = 0; i < 10; i++)
        xb_sink_http_poll(s, 20, NULL);
    xb_sink_http_stats ss;
    xb_sink_http_stats_get(s, &ss);
    assert_int_equal(ss.in_flight, 2);
    assert_true(xb_sink_http_backlogged(s) || ss.pending == 10);
    xb_sink_http_free(s);
    assert_int_equal(r.completions, 10);
    assert_int_equal(r.n[XB_SINK_HTTP_CANCELLED], 10);
    for (int i = 6000; i < 6010; i++)
        assert_int_equal(r.seen[i], 1);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* A receiver started with extra (store folder store) and a sink to it reporting into r. */
static xb_sink_http *rx_and_sink(th_rx *rx, const char *store, const char **extra, th_results *r)
{
    assert_int_equal(th_rx_start(rx, &D, 0, "server", store, extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx->port, NULL);
    th_results_init(r, 8192);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, r, &err), 0);
    return s;
}

static void *signal_later(void *arg)
{
    int fd = *(int *)arg;
    uint64_t one = 1;
    usleep(100 * 1000);
    assert_int_equal(write(fd, &one, sizeof one), (ssize_t)sizeof one);
    return NULL;
}

/* A poll that waits for an answer ends when the wake fd becomes readable (the pipeline's Kafka
 * queues write it when a record arrives, issue #8), and only then: with the answer 3 s away, a
 * 2.5 s poll returns ~100 ms after another thread writes the fd, without a completion (without
 * the fd it returns at curl's own timer, ~1.5 s), and an unsignalled fd lets a 300 ms poll run
 * its time. */
static void test_wake_fd_ends_wait(void **state)
{
    (void)state;
    const char *extra[] = {"--latency-ms", "3000", NULL};
    th_rx rx;
    th_results r;
    xb_sink_http *s = rx_and_sink(&rx, "store-wake", extra, &r);
    int fd = eventfd(0, EFD_NONBLOCK);
    assert_true(fd >= 0);
    xb_sink_http_set_wake_fd(s, fd);
    submit_range(s, 7000, 7001);
    /* the request goes out (connection, TLS, body); then its answer is ~3 s away and a poll
     * with nothing signalled runs its time */
    bool quiet = false;
    for (int i = 0; i < 20 && !quiet; i++) {
        uint64_t t = th_now_ms();
        assert_int_equal(xb_sink_http_poll(s, 300, NULL), 0);
        quiet = th_now_ms() - t >= 250;
    }
    assert_true(quiet);
    uint64_t t0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_later, &fd), 0);
    t0 = th_now_ms();
    assert_int_equal(xb_sink_http_poll(s, 2500, NULL), 0);
    uint64_t waited = th_now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(waited >= 50 && waited < 1000); /* unsignalled: curl's own timer, ~1.5 s */
    assert_int_equal(r.completions, 0);
    xb_sink_http_free(s);
    close(fd);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* --store-in-db (benchmarks): bytes kept in receiver.sqlite, no files, dedupe unchanged. */
static void test_store_in_db(void **state)
{
    (void)state;
    const char *extra[] = {"--store-in-db", "--no-fsync", NULL};
    th_rx rx;
    th_results r;
    xb_sink_http *s = rx_and_sink(&rx, "store-db", extra, &r);
    submit_range(s, 8000, 8005);
    submit_range(s, 8000, 8002);
    assert_int_equal(th_run(s, &r, 7, 60000), 7);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 5);
    assert_int_equal(r.n[XB_SINK_HTTP_DUPLICATE], 2);
    assert_int_equal(th_count_files(&D, "store-db"), 0);
    xb_sink_http_free(s);
    th_rx_stop(&rx);
    char path[400];
    snprintf(path, sizeof path, "%s/store-db/receiver.sqlite", D.root);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT body FROM bodies WHERE key = ?1", -1, &st, NULL), SQLITE_OK);
    size_t len;
    char uetr[40];
    char *m = th_message(8003, &len, uetr);
    sqlite3_bind_text(st, 1, uetr, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal((size_t)sqlite3_column_bytes(st, 0), len);
    assert_memory_equal(sqlite3_column_blob(st, 0), m, len);
    free(m);
    sqlite3_finalize(st);
    sqlite3_close(db);
    th_results_free(&r);
}

static void test_idempotency_key_rule(void **state)
{
    (void)state;
    char k1[XB_SINK_HTTP_KEY_MAX + 1], k2[XB_SINK_HTTP_KEY_MAX + 1], k3[XB_SINK_HTTP_KEY_MAX + 1];
    xb_error err;
    assert_int_equal(xb_sink_http_idempotency_key(k1, "EB6305C9-1F7F-49DE-AED0-16487C27B42D", "x",
                                                  1, "hk", &err),
                     0);
    assert_string_equal(k1, "eb6305c9-1f7f-49de-aed0-16487c27b42d");
    assert_int_equal(xb_sink_http_idempotency_key(k1, "not-a-uetr", "x", 1, "hk", &err), XB_EINVAL);
    assert_int_equal(xb_sink_http_idempotency_key(k1, NULL, "<Doc/>", 6, "hk-correspondent", &err),
                     0);
    assert_int_equal(xb_sink_http_idempotency_key(k2, "", "<Doc/>", 6, "hk-correspondent", &err),
                     0);
    assert_int_equal(xb_sink_http_idempotency_key(k3, NULL, "<Doc/>", 6, "sg-processor", &err), 0);
    assert_int_equal(strlen(k1), 64);
    assert_string_equal(k1, k2);     /* redelivery: same key */
    assert_string_not_equal(k1, k3); /* other destination: other key */
    /* SHA-256("hk-correspondent\0<Doc/>") computed independently with the openssl CLI. */
    FILE *p =
        popen("printf 'hk-correspondent\\000<Doc/>' | openssl dgst -sha256 -r | cut -c1-64", "r");
    char want[80] = "";
    assert_non_null(fgets(want, sizeof want, p));
    pclose(p);
    want[64] = '\0';
    assert_string_equal(k1, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_idempotency_key_rule, th_rx_stop_all),
        cmocka_unit_test_teardown(test_deliver_dedupe_and_restart, th_rx_stop_all),
        cmocka_unit_test_teardown(test_signatures, th_rx_stop_all),
        cmocka_unit_test_teardown(test_poison_is_permanent, th_rx_stop_all),
        cmocka_unit_test_teardown(test_fail_rate_nothing_lost, th_rx_stop_all),
        cmocka_unit_test_teardown(test_resets_no_duplicates, th_rx_stop_all),
        cmocka_unit_test_teardown(test_receiver_down_then_up, th_rx_stop_all),
        cmocka_unit_test_teardown(test_retry_after_honoured, th_rx_stop_all),
        cmocka_unit_test_teardown(test_batch, th_rx_stop_all),
        cmocka_unit_test_teardown(test_free_cancels_pending, th_rx_stop_all),
        cmocka_unit_test_teardown(test_wake_fd_ends_wait, th_rx_stop_all),
        cmocka_unit_test_teardown(test_store_in_db, th_rx_stop_all),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
