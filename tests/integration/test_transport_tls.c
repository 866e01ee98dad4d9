/* test_transport_tls.c — TLS misconfigurations must send nothing and say why: wrong CA, expired,
 * not-yet-valid, wrong host name, pinned-key mismatch, missing or foreign client certificate,
 * TLS 1.0/1.1. Each case has a control that succeeds with only the one thing changed back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct tls_case {
    const char *server_cert; /* server.crt, wrong-server, expired, ... */
    const char *host;        /* host in the URL */
    const char *pin;         /* pin file name or NULL */
    const char *client;      /* client cert base name or NULL for none */
} tls_case;

/* Sends 3 messages with the case's settings; returns the results and the sink's error text. */
static void run_case(const tls_case *c, const char *store, th_results *r, char *error, size_t errsz)
{
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, c->server_cert, store, NULL), 0);
    xb_sink_http_options o;
    th_sink_options(&o, &D, rx.port, c->host);
    char pin[200] = "";
    if (c->pin) {
        FILE *f = fopen(th_pki(&D, c->pin), "r");
        assert_non_null(f);
        assert_non_null(fgets(pin, sizeof pin, f));
        fclose(f);
        pin[strcspn(pin, "\n")] = '\0';
        o.pinned_pubkey = pin;
    }
    char cert[400], key[400];
    if (c->client) {
        snprintf(cert, sizeof cert, "%s/%s.crt", D.pki, c->client);
        snprintf(key, sizeof key, "%s/%s.key", D.pki, c->client);
        o.cert_file = cert;
        o.key_file = key;
    } else {
        o.cert_file = o.key_file = NULL;
    }
    th_results_init(r, 16);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, r, &err), 0);
    for (unsigned i = 0; i < 3; i++) {
        size_t len;
        char uetr[40];
        char *m = th_message(7000 + i, &len, uetr);
        assert_int_equal(xb_sink_http_submit(s, m, len, uetr, (void *)(uintptr_t)(i + 1), &err), 0);
        free(m);
    }
    assert_int_equal(th_run(s, r, 3, 20000),
                     3); /* bounded: a config error is never retried forever */
    const char *e = xb_sink_http_config_error(s);
    snprintf(error, errsz, "%s", e ? e : "");
    if (e) {
        /* Later messages are refused at once too, not queued behind a broken transport. */
        assert_int_equal(xb_sink_http_submit(s, "<a/>", 4, "late-1", NULL, &err), 0);
        assert_int_equal(th_run(s, r, 4, 5000), 4);
        assert_int_equal(r->n[XB_SINK_HTTP_CONFIG_ERROR], 4);
        xb_sink_http_stats st;
        xb_sink_http_stats_get(s, &st);
        assert_int_equal(st.pending, 0);
        assert_int_equal(st.failed, 1);
    }
    xb_sink_http_free(s);
    th_rx_stop(&rx);
    if (e)
        fprintf(stderr, "    [%s] %s\n", store, error);
}

static void expect_config_error(const tls_case *c, const char *store, const char *needle)
{
    th_results r;
    char error[600];
    run_case(c, store, &r, error, sizeof error);
    assert_int_equal(r.n[XB_SINK_HTTP_CONFIG_ERROR], 4);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED] + r.n[XB_SINK_HTTP_PERMANENT], 0);
    assert_int_equal(r.max_attempts, 1); /* not retried */
    assert_non_null(strstr(error, "hk-correspondent"));
    if (!strstr(error, needle))
        fail_msg("error '%s' does not say '%s'", error, needle);
    assert_int_equal(th_count_files(&D, store), 0); /* nothing was sent */
    th_results_free(&r);
}

static void test_control_delivers(void **state)
{
    (void)state;
    const tls_case cases[] = {{"server", "127.0.0.1", NULL, "client"},
                              {"server", "localhost", "server.pin", "client"}};
    for (size_t i = 0; i < 2; i++) {
        th_results r;
        char error[600], store[32];
        snprintf(store, sizeof store, "store-ok-%zu", i);
        run_case(&cases[i], store, &r, error, sizeof error);
        assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 3);
        assert_string_equal(error, "");
        assert_int_equal(th_count_files(&D, store), 3);
        th_results_free(&r);
    }
}

static void test_wrong_ca(void **state)
{
    (void)state;
    tls_case c = {"wrong-server", "127.0.0.1", NULL, "client"};
    expect_config_error(&c, "store-wrongca", "unknown CA");
}

static void test_expired(void **state)
{
    (void)state;
    tls_case c = {"expired", "127.0.0.1", NULL, "client"};
    expect_config_error(&c, "store-expired", "expired");
}

static void test_not_yet_valid(void **state)
{
    (void)state;
    tls_case c = {"notyet", "127.0.0.1", NULL, "client"};
    expect_config_error(&c, "store-notyet", "not yet valid");
}

static void test_hostname_mismatch(void **state)
{
    (void)state;
    tls_case c = {"badhost", "127.0.0.1", NULL, "client"};
    expect_config_error(&c, "store-badhost", "host name");
}

static void test_pin_mismatch(void **state)
{
    (void)state;
    tls_case c = {"server", "127.0.0.1", "wrong-server.pin", "client"};
    expect_config_error(&c, "store-pin", "pinned");
}

static void test_no_client_cert(void **state)
{
    (void)state;
    tls_case c = {"server", "127.0.0.1", NULL, NULL};
    expect_config_error(&c, "store-nocert", "403");
}

static void test_foreign_client_cert(void **state)
{
    (void)state;
    tls_case c = {"server", "127.0.0.1", NULL, "wrong-client"};
    expect_config_error(&c, "store-foreign", "403");
}

/* The receiver speaks TLS 1.2/1.3 only. The client below is allowed TLS 1.0-1.1 only (and a
 * security level that permits them, so the refusal is the server's), then 1.2 as a control. */
static void test_old_tls_refused(void **state)
{
    (void)state;
    th_rx rx;
    assert_int_equal(th_rx_start(&rx, &D, 0, "server", "store-oldtls", NULL), 0);
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/healthz", rx.port);
    long versions[][2] = {{CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_0},
                          {CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_MAX_TLSv1_1},
                          {CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_2}};
    FILE *devnull = fopen("/dev/null", "w");
    for (int i = 0; i < 3; i++) {
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CAINFO, th_pki(&D, "ca.crt"));
        curl_easy_setopt(e, CURLOPT_SSLCERT, th_pki(&D, "client.crt"));
        curl_easy_setopt(e, CURLOPT_SSLKEY, th_pki(&D, "client.key"));
        curl_easy_setopt(e, CURLOPT_SSLVERSION, versions[i][0] | versions[i][1]);
        curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
        curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
        CURLcode rc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (i < 2) {
            assert_int_equal(rc, CURLE_SSL_CONNECT_ERROR);
            assert_int_equal(status, 0);
        } else {
            assert_int_equal(rc, CURLE_OK);
            assert_int_equal(status, 200);
        }
        curl_easy_cleanup(e);
    }
    fclose(devnull);
    th_rx_stop(&rx);
}

/* Plain HTTP and bad option combinations are refused when the sink is created. */
static void test_bad_options(void **state)
{
    (void)state;
    xb_sink_http_options o;
    th_sink_options(&o, &D, 8443, NULL);
    xb_sink_http *s = NULL;
    xb_error err;
    th_results r;
    th_results_init(&r, 1);
    o.url = "http://127.0.0.1:8443/iso20022";
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECONFIG);
    assert_string_equal(err.path, "url");
    th_sink_options(&o, &D, 8443, NULL);
    o.key_file = NULL;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECONFIG);
    assert_string_equal(err.path, "tls.key");
    th_sink_options(&o, &D, 8443, NULL);
    o.pinned_pubkey = "md5//abc";
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECONFIG);
    th_sink_options(&o, &D, 8443, NULL);
    o.sign_key_file = th_pki(&D, "sign.key");
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECONFIG); /* no keyid */
    o.sign_key_id = "k";
    o.sign_key_file = th_pki(&D, "client.key"); /* EC, not Ed25519 */
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECRYPTO);
    o.sign_key_file = th_pki(&D, "sign.pub"); /* public only */
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), XB_ECRYPTO);
    assert_null(s);
    th_results_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_control_delivers, th_rx_stop_all),
        cmocka_unit_test_teardown(test_wrong_ca, th_rx_stop_all),
        cmocka_unit_test_teardown(test_expired, th_rx_stop_all),
        cmocka_unit_test_teardown(test_not_yet_valid, th_rx_stop_all),
        cmocka_unit_test_teardown(test_hostname_mismatch, th_rx_stop_all),
        cmocka_unit_test_teardown(test_pin_mismatch, th_rx_stop_all),
        cmocka_unit_test_teardown(test_no_client_cert, th_rx_stop_all),
        cmocka_unit_test_teardown(test_foreign_client_cert, th_rx_stop_all),
        cmocka_unit_test_teardown(test_old_tls_refused, th_rx_stop_all),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
