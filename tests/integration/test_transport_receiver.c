/* test_transport_receiver.c — the receiver against hostile or wrong requests (raw libcurl, with a
 * valid client certificate so only the request itself is at fault), and the sink against a
 * receiver slower than its timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Unix ms, the clock the receiver stamps its first and latest acceptance with. */
static long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

typedef struct answer {
    long status;
    char body[4096];
} answer;

static size_t keep(char *p, size_t sz, size_t n, void *ud)
{
    answer *a = ud;
    size_t have = strlen(a->body), total = sz * n, room = sizeof a->body - 1 - have;
    memcpy(a->body + have, p, total < room ? total : room);
    a->body[have + (total < room ? total : room)] = '\0';
    return total;
}

/* One request with the good client certificate. headers: NULL-terminated list. The body goes
 * without waiting for "100 Continue" unless the headers ask for it (an Expect header of their
 * own). */
static answer request(unsigned port, const char *method, const char *path,
                      const char *const *headers, const void *body, size_t len)
{
    answer a = {0, ""};
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", port, path);
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    bool own_expect = false;
    for (int i = 0; headers && headers[i]; i++) {
        h = curl_slist_append(h, headers[i]);
        own_expect |= !strncmp(headers[i], "Expect:", 7);
    }
    if (!own_expect)
        h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CAINFO, th_pki(&D, "ca.crt"));
    curl_easy_setopt(e, CURLOPT_SSLCERT, th_pki(&D, "client.crt"));
    curl_easy_setopt(e, CURLOPT_SSLKEY, th_pki(&D, "client.key"));
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return a;
}

static void test_hostile_requests(void **state)
{
    (void)state;
    const char *extra[] = {"--max-body", "65536", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-hostile", extra), 0);
    size_t len;
    char uetr[40];
    char *m = th_message(9000, &len, uetr);
    char keyhdr[200];
    snprintf(keyhdr, sizeof keyhdr, "Idempotency-Key: %s", uetr);
    const char *xml_key[] = {"Content-Type: application/xml", keyhdr, NULL};
    const char *xml_nokey[] = {"Content-Type: application/xml", NULL};
    const char *json_key[] = {"Content-Type: application/json", keyhdr, NULL};

    assert_int_equal(request(rx.port, "POST", "/iso20022", xml_nokey, m, len).status, 400);
    assert_int_equal(request(rx.port, "POST", "/iso20022", json_key, m, len).status, 415);
    assert_int_equal(request(rx.port, "POST", "/other", xml_key, m, len).status, 404);
    assert_int_equal(request(rx.port, "PUT", "/iso20022", xml_key, m, len).status, 405);
    assert_int_equal(request(rx.port, "GET", "/nope", NULL, NULL, 0).status, 404);

    /* Hostile bodies: DOCTYPE with entities, truncated XML, empty, oversized. */
    size_t blen;
    char *b = th_fixture("transport/hostile-doctype.xml", &blen);
    answer a = request(rx.port, "POST", "/iso20022", xml_key, b, blen);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "DOCTYPE"));
    free(b);
    b = th_fixture("transport/truncated.xml", &blen);
    assert_int_equal(request(rx.port, "POST", "/iso20022", xml_key, b, blen).status, 400);
    free(b);
    assert_int_equal(request(rx.port, "POST", "/iso20022", xml_key, "", 0).status, 400);
    char *big = malloc(70000);
    memset(big, ' ', 70000);
    memcpy(big, "<a>", 3);
    memcpy(big + 69996, "</a>", 4);
    /* Oversized, announced by Content-Length: refused before the body is read. A client that
     * sends the body without waiting may see the connection close under it (the answer is lost
     * to a reset), which is why this request waits for "100 Continue" as HTTP/1.1 lets it. */
    const char *xml_key_expect[] = {"Content-Type: application/xml", keyhdr, "Expect: 100-continue",
                                    NULL};
    assert_int_equal(request(rx.port, "POST", "/iso20022", xml_key_expect, big, 70000).status, 413);
    /* Oversized and chunked (no Content-Length): refused once the body passes the limit. */
    const char *xml_key_chunked[] = {"Content-Type: application/xml", keyhdr,
                                     "Transfer-Encoding: chunked", NULL};
    assert_int_equal(request(rx.port, "POST", "/iso20022", xml_key_chunked, big, 70000).status,
                     413);
    free(big);

    /* Keys that would escape the store directory are stored under their SHA-256 instead. */
    const char *evil_key[] = {"Content-Type: application/xml",
                              "Idempotency-Key: ../../../../tmp/evil", NULL};
    assert_int_equal(request(rx.port, "POST", "/iso20022", evil_key, m, len).status, 200);
    assert_int_equal(request(rx.port, "POST", "/iso20022", evil_key, m, len).status, 409);
    char path[400];
    snprintf(path, sizeof path, "%s/evil", D.root);
    FILE *f = fopen(path, "r");
    assert_null(f);
    assert_int_equal(th_count_files(&D, "store-hostile"), 1);

    /* Batch framing errors: nothing stored. */
    const char *mp[] = {"Content-Type: multipart/mixed; boundary=XBB", keyhdr, NULL};
    const char *bad_batches[] = {
        "garbage", "--XBB\r\nIdempotency-Key: k1\r\n\r\n<a/>",  /* no close */
        "--XBB--\r\n",                                          /* no parts */
        "--XBB\r\nIdempotency-Key: k1\r\n<a/>\r\n--XBB--\r\n"}; /* no blank */
    for (size_t i = 0; i < sizeof bad_batches / sizeof bad_batches[0]; i++)
        assert_int_equal(
            request(rx.port, "POST", "/iso20022", mp, bad_batches[i], strlen(bad_batches[i]))
                .status,
            400);
    const char *nob[] = {"Content-Type: multipart/mixed", keyhdr, NULL};
    const char *one =
        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: k1\r\n\r\n<a/>\r\n--XBB--\r\n";
    assert_int_equal(request(rx.port, "POST", "/iso20022", nob, one, strlen(one)).status, 400);
    assert_int_equal(th_count_files(&D, "store-hostile"), 1);

    /* A good batch with one bad part: per-part statuses. */
    const char *mixed =
        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: part-ok-1\r\n\r\n"
        "<Document>第一</Document>\r\n"
        "--XBB\r\nContent-Type: application/xml\r\n\r\n<a/>\r\n"
        "--XBB\r\nContent-Type: text/plain\r\nIdempotency-Key: part-txt\r\n\r\nhello\r\n"
        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: part-bad-tags\r\n\r\n"
        "<Document><Nm>张三</Document></Nm>\r\n"
        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: part-no-root\r\n\r\n"
        "<!-- nothing but a comment -->\r\n"
        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: part-ok-1\r\n\r\n"
        "<Document>第一</Document>\r\n--XBB--\r\n";
    a = request(rx.port, "POST", "/iso20022", mp, mixed, strlen(mixed));
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"part-ok-1\",\"status\":200"));
    assert_non_null(strstr(a.body, "\"status\":400"));
    assert_non_null(strstr(a.body, "\"status\":415"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"part-ok-1\",\"status\":409"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"part-bad-tags\",\"status\":400"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"part-no-root\",\"status\":400"));
    assert_int_equal(th_count_files(&D, "store-hostile"), 2);

    th_rx_stats st;
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 2);
    assert_true(st.rejected >= 14);
    free(m);
    th_rx_stop(&rx);
}

/* A batch stored with --store-in-db (one transaction per request): good parts answer 200 and
 * their bytes are in the bodies table, a key repeated inside the batch answers 409, refused
 * parts store nothing; the same batch again answers 409 for every stored part. /stats times
 * the first and the latest acceptance (what tests/bench/run reads its rates from). Killed with
 * SIGKILL, the --no-fsync receiver keeps every row it answered 200 for. */
static void test_batch_store_in_db(void **state)
{
    (void)state;
    const char *extra[] = {"--store-in-db", "--no-fsync", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-db-batch", extra), 0);
    const char *mp[] = {"Content-Type: multipart/mixed; boundary=XBB", NULL};
    const char *batch = "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-1\r\n\r\n"
                        "<Document><Nm>李四</Nm></Document>\r\n"
                        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-2\r\n\r\n"
                        "<Document><Nm>王五</Nm></Document>\r\n"
                        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-bad\r\n\r\n"
                        "<Document><Nm>王五</Document>\r\n"
                        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-1\r\n\r\n"
                        "<Document><Nm>李四</Nm></Document>\r\n"
                        "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-3\r\n\r\n"
                        "<Document><Nm>赵六</Nm></Document>\r\n--XBB--\r\n";
    th_rx_stats st;
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.first_accepted_ms, 0); /* nothing accepted yet */
    long long t0 = wall_ms();
    answer a = request(rx.port, "POST", "/iso20022", mp, batch, strlen(batch));
    long long t1 = wall_ms();
    th_rx_stats first;
    assert_int_equal(th_rx_stats_get(&first, &D, rx.port), 0);
    assert_in_range(first.first_accepted_ms, t0, t1);
    assert_in_range(first.last_accepted_ms, first.first_accepted_ms, t1);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-1\",\"status\":200"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-2\",\"status\":200"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-bad\",\"status\":400"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-1\",\"status\":409"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-3\",\"status\":200"));
    a = request(rx.port, "POST", "/iso20022", mp, batch, strlen(batch));
    assert_int_equal(a.status, 200);
    assert_null(strstr(a.body, "\"status\":200"));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-3\",\"status\":409"));
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.duplicates, 5);
    /* duplicates are not acceptances: the times a benchmark reads its rate from stay put */
    assert_int_equal(st.first_accepted_ms, first.first_accepted_ms);
    assert_int_equal(st.last_accepted_ms, first.last_accepted_ms);
    usleep(20 * 1000);
    const char *more = "--XBB\r\nContent-Type: application/xml\r\nIdempotency-Key: db-4\r\n\r\n"
                       "<Document><Nm>钱七</Nm></Document>\r\n--XBB--\r\n";
    t0 = wall_ms();
    a = request(rx.port, "POST", "/iso20022", mp, more, strlen(more));
    assert_non_null(strstr(a.body, "{\"idempotency_key\":\"db-4\",\"status\":200"));
    assert_int_equal(th_rx_stats_get(&st, &D, rx.port), 0);
    assert_int_equal(st.accepted, 4);
    assert_int_equal(st.first_accepted_ms, first.first_accepted_ms);
    assert_in_range(st.last_accepted_ms, t0, wall_ms());
    /* --no-fsync promises to survive a kill -9: what was answered 200 is in the table below */
    kill(rx.pid, SIGKILL);
    th_rx_stop(&rx);

    char path[400];
    snprintf(path, sizeof path, "%s/store-db-batch/receiver.sqlite", D.root);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM bodies), (SELECT count(*) "
                                        "FROM received), (SELECT body FROM bodies WHERE key = "
                                        "'db-2')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 4);
    assert_int_equal(sqlite3_column_int(q, 1), 4);
    assert_string_equal((const char *)sqlite3_column_text(q, 2),
                        "<Document><Nm>王五</Nm></Document>");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A receiver slower than the sink's request timeout: the sink retries without limit and never
 * completes the message as failed; once the receiver is fast again the message arrives once. */
static void test_timeouts_retry(void **state)
{
    (void)state;
    const char *extra[] = {"--latency-ms", "1500", NULL};
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-slow", extra), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.request_timeout_ms = 500;
    th_results r;
    th_results_init(&r, 16);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    size_t len;
    char uetr[40];
    char *m = th_message(9100, &len, uetr);
    assert_int_equal(xb_sink_http_submit(s, m, len, uetr, (void *)(uintptr_t)1, &err), 0);
    free(m);
    uint64_t until = th_now_ms() + 2500;
    while (th_now_ms() < until)
        xb_sink_http_poll(s, 50, NULL);
    xb_sink_http_stats ss;
    xb_sink_http_stats_get(s, &ss);
    assert_int_equal(r.completions, 0);
    assert_true(ss.requests >= 2); /* timed out and retried */
    assert_int_equal(ss.pending, 1);
    assert_true(xb_sink_http_backlogged(s));
    unsigned port = rx.port;
    th_rx_stop(&rx);
    assert_int_equal(th_rx_start(&rx, &D, port, "server", "store-slow", NULL), 0);
    assert_int_equal(th_run(s, &r, 1, 30000), 1);
    /* The slow receiver may have stored it after the client gave up: then the answer is 409. */
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED] + r.n[XB_SINK_HTTP_DUPLICATE], 1);
    assert_int_equal(th_count_files(&D, "store-slow"), 1);
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

/* The same key arriving on several connections at once: one 200, the others 409, one intact file.
 */
static void test_concurrent_same_key(void **state)
{
    (void)state;
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-race", NULL), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, NULL);
    o.max_in_flight = 8;
    o.http2 = 0;
    th_results r;
    th_results_init(&r, 64);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    for (unsigned i = 0; i < 10; i++) {
        size_t len;
        char uetr[40];
        char *m = th_message(9200 + i, &len, uetr);
        for (int copy = 0; copy < 4; copy++) /* 4 copies in flight together */
            assert_int_equal(xb_sink_http_submit(s, m, len, uetr, (void *)(uintptr_t)(i + 1), &err),
                             0);
        free(m);
    }
    assert_int_equal(th_run(s, &r, 40, 60000), 40);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 10);
    assert_int_equal(r.n[XB_SINK_HTTP_DUPLICATE], 30);
    assert_int_equal(th_count_files(&D, "store-race"), 10);
    for (unsigned i = 0; i < 10; i++) {
        size_t len, got_len;
        char uetr[40], name[64];
        char *m = th_message(9200 + i, &len, uetr);
        snprintf(name, sizeof name, "%s.xml", uetr);
        char *got = th_read_stored(&D, "store-race", name, &got_len);
        assert_non_null(got);
        assert_int_equal(got_len, len);
        assert_memory_equal(got, m, len);
        free(got);
        free(m);
    }
    xb_sink_http_free(s);
    th_results_free(&r);
    th_rx_stop(&rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hostile_requests, th_rx_stop_all),
        cmocka_unit_test_teardown(test_batch_store_in_db, th_rx_stop_all),
        cmocka_unit_test_teardown(test_timeouts_retry, th_rx_stop_all),
        cmocka_unit_test_teardown(test_concurrent_same_key, th_rx_stop_all),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
