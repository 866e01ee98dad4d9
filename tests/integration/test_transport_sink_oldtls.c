/* test_transport_sink_oldtls.c — issue #9: the HTTPS sink refuses a server that only speaks
 * TLS 1.0 or TLS 1.1. test_transport_tls.c shows the *receiver* refuses old clients; this is the
 * other direction: an `openssl s_server` limited to one old version (security level 0, so the
 * refusal is ours, not OpenSSL's default policy) with a certificate our CA signed for 127.0.0.1.
 * The sink must send nothing, not retry forever, and say that no TLS version >= 1.2 was common.
 * Control: the same s_server allowed TLS 1.2 completes a handshake with the sink's settings.
 * Owns its s_server processes (stopped by pid). Never binds anything but 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
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

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* openssl s_server on 127.0.0.1:port speaking only `version` (-tls1, -tls1_1, -tls1_2). */
static pid_t start_s_server(unsigned port, const char *version)
{
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert",
               th_pki(&D, "server.crt"), "-key", th_pki(&D, "server.key"), version, "-cipher",
               "DEFAULT:@SECLEVEL=0", "-www", "-quiet", (char *)NULL);
        _exit(127);
    }
    /* wait (bounded) until it accepts connections */
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return pid;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("openssl s_server %s did not start", version);
    return -1;
}

static void stop_s_server(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void expect_refused(const char *version)
{
    unsigned port = free_port();
    pid_t srv = start_s_server(port, version);
    xb_sink_http_options o;
    th_sink_options(&o, &D, port, "127.0.0.1");
    th_results r;
    th_results_init(&r, 8);
    xb_sink_http *s;
    xb_error err;
    assert_int_equal(xb_sink_http_new(&s, &o, th_done, &r, &err), 0);
    for (unsigned i = 0; i < 3; i++) {
        size_t len;
        char uetr[40];
        char *m = th_message(9100 + i, &len, uetr);
        assert_int_equal(xb_sink_http_submit(s, m, len, uetr, (void *)(uintptr_t)(i + 1), &err), 0);
        free(m);
    }
    /* bounded: a server we must never talk to is a configuration error, not a retry loop */
    assert_int_equal(th_run(s, &r, 3, 20000), 3);
    assert_int_equal(r.n[XB_SINK_HTTP_DELIVERED], 0);
    assert_int_equal(r.n[XB_SINK_HTTP_CONFIG_ERROR], 3);
    const char *e = xb_sink_http_config_error(s);
    assert_non_null(e);
    fprintf(stderr, "    [%s] %s\n", version, e);
    if (!strstr(e, ">= 1.2"))
        fail_msg("error '%s' does not name the TLS version problem", e);
    xb_sink_http_free(s);
    th_results_free(&r);
    stop_s_server(srv);
}

static void test_sink_refuses_tls10_server(void **state)
{
    (void)state;
    expect_refused("-tls1");
}

static void test_sink_refuses_tls11_server(void **state)
{
    (void)state;
    expect_refused("-tls1_1");
}

/* Control: the same server at TLS 1.2 completes a handshake with the sink's TLS settings (CA,
 * client certificate, minimum version) — so the two refusals above are about the version. */
static void test_control_tls12_handshake(void **state)
{
    (void)state;
    unsigned port = free_port();
    pid_t srv = start_s_server(port, "-tls1_2");
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/", port);
    CURL *e = curl_easy_init();
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CAINFO, th_pki(&D, "ca.crt"));
    curl_easy_setopt(e, CURLOPT_SSLCERT, th_pki(&D, "client.crt"));
    curl_easy_setopt(e, CURLOPT_SSLKEY, th_pki(&D, "client.key"));
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    fclose(devnull);
    stop_s_server(srv);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(status, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_refuses_tls10_server),
        cmocka_unit_test(test_sink_refuses_tls11_server),
        cmocka_unit_test(test_control_tls12_handshake),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
