/* transport_harness.c — see transport_harness.h. Owns the scratch dir and the receiver processes
 * it starts; never kills anything but those pids. */
#include "tests/integration/transport_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void th_dir_init(th_dir *d)
{
    snprintf(d->root, sizeof d->root, "/tmp/xb-transport-XXXXXX");
    assert_non_null(mkdtemp(d->root));
    snprintf(d->pki, sizeof d->pki, "%s/pki", d->root);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tests/env/pki' '%s' >/dev/null", XB_SOURCE_DIR, d->pki);
    assert_int_equal(system(cmd), 0);
}

void th_dir_free(th_dir *d)
{
    char cmd[512];
    if (strncmp(d->root, "/tmp/xb-transport-", 18) == 0) { /* never anything else */
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->root);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: could not remove %s\n", d->root);
    }
}

const char *th_pki(const th_dir *d, const char *file)
{
    static char bufs[8][400];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 400, "%s/%s", d->pki, file);
    return b;
}

/* ---- receiver process ----------------------------------------------------------------------- */

/* Every receiver pid we started, so a failed assertion (longjmp past th_rx_stop) cannot leak one.
 */
static pid_t started[64];

static void track(pid_t pid)
{
    for (size_t i = 0; i < 64; i++)
        if (started[i] == 0) {
            started[i] = pid;
            return;
        }
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < 64; i++)
        if (started[i] == pid)
            started[i] = 0;
}

int th_rx_stop_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < 64; i++)
        if (started[i] > 0) {
            th_rx rx = {.pid = started[i], .log = ""};
            th_rx_stop(&rx);
        }
    return 0;
}

int th_rx_start(th_rx *rx, const th_dir *d, unsigned port, const char *cert_base, const char *store,
                const char *const *extra)
{
    char listen[64], cert[400], key[400], ca[400], storedir[400];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    snprintf(cert, sizeof cert, "%s/%s.crt", d->pki, cert_base);
    snprintf(key, sizeof key, "%s/%s.key", d->pki, cert_base);
    snprintf(ca, sizeof ca, "%s/ca.crt", d->pki);
    snprintf(storedir, sizeof storedir, "%s/%s", d->root, store);
    snprintf(rx->log, sizeof rx->log, "%s/rx-%s-%lld.log", d->root, store, (long long)th_now_ms());
    const char *argv[40] = {XB_RECEIVER_BIN, "--listen", listen, "--cert", cert,
                            "--key",         key,        "--ca", ca,       "--store",
                            storedir,        "--quiet"};
    int n = 12;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(rx->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1); /* never hold the test runner's stdout pipe open */
            close(fd);
        }
        char *av[40];
        for (int i = 0; i <= n; i++)
            av[i] = argv[i] ? strdup(argv[i]) : NULL; /* execv wants non-const strings */
        execv(av[0], av);
        _exit(127);
    }
    rx->pid = pid;
    rx->port = 0;
    track(pid);
    uint64_t deadline = th_now_ms() + 10000;
    while (th_now_ms() < deadline) {
        FILE *f = fopen(rx->log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "listening on https://127.0.0.1:");
            if (p) {
                rx->port =
                    (unsigned)strtoul(p + strlen("listening on https://127.0.0.1:"), NULL, 10);
                fclose(f);
                return 0;
            }
        }
        if (f)
            fclose(f);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rx->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    th_rx_stop(rx);
    return -1;
}

/* A sanitizer report in the receiver's log (ASan build) fails the test that stopped it. */
static void check_log(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            bad = 1;
        if (bad)
            fputs(line, stderr);
    }
    if (f)
        fclose(f);
    if (bad)
        fail_msg("receiver log %s has a sanitizer report", log);
}

void th_rx_stop(th_rx *rx)
{
    if (rx->pid <= 0)
        return;
    untrack(rx->pid);
    kill(rx->pid, SIGTERM);
    uint64_t deadline = th_now_ms() + 5000;
    int st = 0, exited = 0;
    while (th_now_ms() < deadline) {
        if (waitpid(rx->pid, &st, WNOHANG) == rx->pid) {
            exited = 1;
            break;
        }
        usleep(10000);
    }
    if (!exited) {
        kill(rx->pid, SIGKILL);
        waitpid(rx->pid, &st, 0);
    }
    rx->pid = 0;
    if (rx->log[0])
        check_log(rx->log);
    if (!exited)
        fail_msg("receiver ignored SIGTERM for 5 s (log %s)", rx->log);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    size_t total = sz * n;
    char *buf = ud;
    size_t have = strlen(buf);
    size_t room = 1023 - have;
    memcpy(buf + have, p, total < room ? total : room);
    buf[have + (total < room ? total : room)] = '\0';
    return total;
}

int th_rx_stats_get(th_rx_stats *out, const th_dir *d, unsigned port)
{
    char url[128], body[1024] = "";
    snprintf(url, sizeof url, "https://127.0.0.1:%u/stats", port);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CAINFO, th_pki(d, "ca.crt"));
    curl_easy_setopt(e, CURLOPT_SSLCERT, th_pki(d, "client.crt"));
    curl_easy_setopt(e, CURLOPT_SSLKEY, th_pki(d, "client.key"));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK)
        return -1;
    json_t *j = json_loads(body, 0, NULL);
    if (!j)
        return -1;
    out->accepted = (long)json_integer_value(json_object_get(j, "accepted"));
    out->duplicates = (long)json_integer_value(json_object_get(j, "duplicates"));
    out->rejected = (long)json_integer_value(json_object_get(j, "rejected"));
    out->injected_failures = (long)json_integer_value(json_object_get(j, "injected_failures"));
    out->resets = (long)json_integer_value(json_object_get(j, "resets"));
    out->first_accepted_ms = json_integer_value(json_object_get(j, "first_accepted_ms"));
    out->last_accepted_ms = json_integer_value(json_object_get(j, "last_accepted_ms"));
    json_decref(j);
    return 0;
}

int th_count_files(const th_dir *d, const char *store)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s/messages", d->root, store);
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        n += e->d_name[0] != '.'; /* temp files start with '.' */
    closedir(dir);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

char *th_read_stored(const th_dir *d, const char *store, const char *name, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/messages/%s", d->root, store, name);
    return slurp(path, len);
}

char *th_fixture(const char *rel, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", XB_FIXTURES, rel);
    char *b = slurp(path, len);
    assert_non_null(b);
    return b;
}

/* Replaces every occurrence of `from` in s (malloc'd) with `to`; frees s. */
static char *replace_all(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    const char *p = s, *q;
    while ((q = strstr(p, from))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    strcpy(o, p);
    free(s);
    return out;
}

char *th_message(unsigned seq, size_t *len, char *uetr_out)
{
    size_t l;
    char *t = th_fixture("transport/pacs008-template.xml", &l);
    char seqs[16], uetr[40];
    snprintf(seqs, sizeof seqs, "%08u", seq);
    snprintf(uetr, sizeof uetr, "7f3c%04x-1d2e-4a5b-9c6d-%012x", seq & 0xffff, seq);
    t = replace_all(t, "@SEQ@", seqs);
    t = replace_all(t, "@UETR@", uetr);
    if (uetr_out)
        strcpy(uetr_out, uetr);
    *len = strlen(t);
    return t;
}

/* ---- sink helpers --------------------------------------------------------------------------- */

void th_results_init(th_results *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->seen = calloc(cap ? cap : 1, 1);
    r->seen_cap = cap;
}

void th_results_free(th_results *r)
{
    free(r->seen);
}

void th_done(void *cb_ctx, void *user, const xb_sink_http_result *res)
{
    th_results *r = cb_ctx;
    if (res->outcome >= 1 && res->outcome <= 5)
        r->n[res->outcome]++;
    r->completions++;
    if (res->attempts > r->max_attempts)
        r->max_attempts = res->attempts;
    if (res->latency_us > r->max_latency_us)
        r->max_latency_us = res->latency_us;
    r->last_status = res->http_status;
    snprintf(r->last_reason, sizeof r->last_reason, "%s", res->reason ? res->reason : "");
    size_t idx = (size_t)(uintptr_t)user;
    if (idx >= 1 && idx <= r->seen_cap && r->seen[idx - 1] < 255)
        r->seen[idx - 1]++;
}

unsigned th_run(xb_sink_http *s, th_results *r, unsigned completions, int timeout_ms)
{
    uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
    while (r->completions < completions && th_now_ms() < deadline)
        xb_sink_http_poll(s, 50, NULL);
    return r->completions;
}

void th_sink_options(xb_sink_http_options *o, const th_dir *d, unsigned port, const char *host)
{
    static char url[128];
    xb_sink_http_options_init(o);
    snprintf(url, sizeof url, "https://%s:%u/iso20022", host ? host : "127.0.0.1", port);
    o->name = "hk-correspondent";
    o->url = url;
    o->ca_file = th_pki(d, "ca.crt");
    o->cert_file = th_pki(d, "client.crt");
    o->key_file = th_pki(d, "client.key");
    o->connect_timeout_ms = 2000;
    o->request_timeout_ms = 10000;
    o->backoff_initial_ms = 20;
    o->backoff_max_ms = 500;
    o->breaker_open_ms = 300;
}
