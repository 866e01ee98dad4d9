/* test_sftp_delivery.c — the SFTP sink against a real OpenSSH sshd (internal-sftp) on loopback:
 * 5,000 messages in batches, a server that disappears mid-upload, a wrong host key, a restart
 * mid-batch and a crash after the rename. Every delivered batch is checked as the counterparty
 * would: Ed25519 signature of the manifest, SHA-256 and size of the file, count, and every
 * idempotency key exactly once over all batches.
 *
 * Owns: integration tests only; each test starts its own sshd (tests/env/sshd-up) in its own
 * temporary folder and stops it by pid (tests/env/sshd-down).
 * Never: binds or connects beyond 127.0.0.1, leaves a server running, waits without a bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapter/log.h"
#include "adapter/transport/batch_file.h"
#include "adapter/transport/sink_sftp.h"
#include "unit/test_sftp_util.h"

#define ENV_DIR XB_SOURCE_DIR "/tests/env"

/* ---- one test's world: a folder, an sshd, a manifest key, messages ----------------------- */

typedef struct world {
    char dir[256];  /* temporary folder of this test */
    char work[300]; /* sshd work dir (inbox is work/inbox) */
    char inbox[320];
    char spool[320];
    char mkey[320];
    char url[600];
    int port;
    xb_buf tmpl;
    unsigned n;   /* messages made */
    xb_buf *msgs; /* message bytes */
    char (*keys)[40];
} world;

typedef struct tally {
    unsigned calls[8];
    unsigned *per_user; /* index = message number */
    unsigned n;
    const world *w;
    unsigned
        delivered_before_manifest; /* DELIVERED while its key was in no manifest in the inbox */
} tally;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_script(char *last_line, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run_script(char *last_line, size_t n, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512];
    if (last_line)
        last_line[0] = 0;
    while (fgets(line, sizeof line, p))
        if (last_line)
            snprintf(last_line, n, "%s", line);
    if (last_line) {
        size_t l = strlen(last_line);
        while (l && (last_line[l - 1] == '\n' || last_line[l - 1] == '\r'))
            last_line[--l] = 0;
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Starts sshd; port 0 = a free one; keep = reuse the host/client keys (same server again). */
static void sshd_up(world *w, int port, int keep)
{
    char port_s[16] = "auto";
    if (port)
        snprintf(port_s, sizeof port_s, "%d", port);
    int rc = run_script(w->url, sizeof w->url,
                        "SSHD_WORK='%s' SSHD_PORT=%s SSHD_KEEP_KEYS=%d '%s/sshd-up'", w->work,
                        port_s, keep, ENV_DIR);
    assert_int_equal(rc, 0);
    assert_true(strncmp(w->url, "sftp://127.0.0.1:", 17) == 0);
    w->port = atoi(w->url + 17);
    assert_true(w->port > 0);
}

static void sshd_down(world *w, const char *sig)
{
    assert_int_equal(run_script(NULL, 0, "SSHD_WORK='%s' SSHD_SIGNAL=%s '%s/sshd-down' 2>/dev/null",
                                w->work, sig, ENV_DIR),
                     0);
}

/* The world of the running test: a failed assertion jumps out of the test, and teardown() must
 * still stop its sshd (by pid) and remove its folder. */
static world *g_current;

static void world_init(world *w, unsigned n_msgs)
{
    memset(w, 0, sizeof *w);
    g_current = w;
    snprintf(w->dir, sizeof w->dir, "/tmp/xb-sftp-it-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->work, sizeof w->work, "%s/sshd", w->dir);
    snprintf(w->inbox, sizeof w->inbox, "%s/inbox", w->work);
    snprintf(w->spool, sizeof w->spool, "%s/spool", w->dir);
    snprintf(w->mkey, sizeof w->mkey, "%s/manifest.pem", w->dir);
    assert_int_equal(sftp_test_make_ed25519(w->mkey), 0);
    assert_int_equal(sftp_test_fixture(&w->tmpl, "pacs008-cny-template.xml"), 0);
    w->n = n_msgs;
    w->msgs = calloc(n_msgs + 1, sizeof *w->msgs);
    w->keys = calloc(n_msgs + 1, sizeof *w->keys);
    assert_non_null(w->msgs);
    for (unsigned i = 1; i <= n_msgs; i++)
        assert_int_equal(sftp_test_message(&w->msgs[i], w->tmpl.data, i, w->keys[i]), 0);
}

static void world_free(world *w)
{
    g_current = NULL;
    sshd_down(w, "KILL");
    for (unsigned i = 0; i <= w->n; i++)
        xb_buf_free(&w->msgs[i]);
    free(w->msgs);
    free(w->keys);
    xb_buf_free(&w->tmpl);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
}

static void opts_for(xb_sink_sftp_options *o, const world *w, char *buf, size_t bufsz)
{
    /* buf holds the derived paths: known_hosts \0 key \0 pub */
    snprintf(buf, bufsz, "%s/known_hosts", w->work);
    size_t a = strlen(buf) + 1;
    snprintf(buf + a, bufsz - a, "%s/client_key", w->work);
    size_t b = a + strlen(buf + a) + 1;
    snprintf(buf + b, bufsz - b, "%s/client_key.pub", w->work);
    xb_sink_sftp_options_init(o);
    o->name = "sg-fund-admin";
    o->url = w->url;
    o->known_hosts = buf;
    o->key_file = buf + a;
    o->pub_file = buf + b;
    o->user = getpwuid(getuid())->pw_name;
    o->manifest_key_file = w->mkey;
    o->manifest_key_id = "sg-fund-admin-2026";
    o->spool_dir = w->spool;
    o->batch_linger_ms = 50;
    o->backoff_initial_ms = 50;
    o->backoff_max_ms = 400;
    o->connect_timeout_ms = 3000;
    o->timeout_ms = 60000;
}

/* ---- the counterparty's view of the inbox ------------------------------------------------ */

typedef struct inbox_view {
    unsigned xml, sig, manifest, part, other;
    unsigned verified; /* complete batches that verified */
    char **keys;       /* every key of every verified manifest */
    size_t n_keys;
    char names[64][XB_BATCH_NAME_MAX + 1];
    unsigned n_names;
    size_t max_file_bytes;
    size_t max_count;
} inbox_view;

static int has_suffix(const char *s, const char *x)
{
    size_t a = strlen(s), b = strlen(x);
    return a > b && !strcmp(s + a - b, x);
}

static void read_in(xb_buf *b, const char *dir, const char *name, const char *ext)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s%s", dir, name, ext);
    assert_int_equal(xb_buf_read_file(b, p, 0), 0);
}

/* Lists the inbox; every final .xml must be whole (its SHA-256 starts with the hex in its name);
 * every manifest must verify against its file and signature. */
static void view_inbox(inbox_view *v, const world *w)
{
    memset(v, 0, sizeof *v);
    xb_httpsig_key *key = NULL;
    assert_int_equal(xb_httpsig_key_load(&key, w->mkey, NULL), 0);
    DIR *d = opendir(w->inbox);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.' && (!strcmp(n, ".") || !strcmp(n, "..")))
            continue;
        if (has_suffix(n, ".part")) {
            v->part++;
            continue;
        }
        if (has_suffix(n, ".manifest.sig")) {
            v->sig++;
            continue;
        }
        if (has_suffix(n, ".xml")) {
            v->xml++;
            char name[XB_BATCH_NAME_MAX + 1];
            snprintf(name, sizeof name, "%.*s", (int)(strlen(n) - 4), n);
            xb_buf c = XB_BUF_INIT;
            read_in(&c, w->inbox, name, ".xml");
            unsigned char md[32];
            unsigned int l = 0;
            char hex[65];
            EVP_Digest(c.data, c.len, md, &l, EVP_sha256(), NULL);
            for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
            /* a partial file under a final name would fail this */
            assert_memory_equal(hex, name + strlen(name) - 32, 32);
            if (c.len > v->max_file_bytes)
                v->max_file_bytes = c.len;
            xb_buf_free(&c);
            continue;
        }
        if (!has_suffix(n, ".manifest.json")) {
            v->other++;
            continue;
        }
        v->manifest++;
        char name[XB_BATCH_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(n) - strlen(".manifest.json")), n);
        xb_buf c = XB_BUF_INIT, m = XB_BUF_INIT, s = XB_BUF_INIT;
        read_in(&c, w->inbox, name, ".xml"); /* the manifest goes last: the file must be there */
        read_in(&m, w->inbox, name, ".manifest.json");
        read_in(&s, w->inbox, name, ".manifest.sig");
        xb_batch_manifest_info mi;
        xb_error err;
        int rc = xb_batch_verify(&mi, name, c.data, c.len, m.data, m.len, s.data, s.len, key,
                                 "sg-fund-admin-2026", &err);
        if (rc)
            fail_msg("batch %s does not verify: %s", name, err.message);
        v->verified++;
        if (v->n_names < 64)
            snprintf(v->names[v->n_names++], sizeof v->names[0], "%s", name);
        if (mi.count > v->max_count)
            v->max_count = mi.count;
        v->keys = realloc(v->keys, (v->n_keys + mi.count) * sizeof *v->keys);
        for (size_t i = 0; i < mi.count; i++) {
            v->keys[v->n_keys++] = mi.keys[i];
            mi.keys[i] = NULL;
        }
        free(mi.keys);
        xb_buf_free(&c);
        xb_buf_free(&m);
        xb_buf_free(&s);
    }
    closedir(d);
    xb_httpsig_key_free(key);
}

static void view_free(inbox_view *v)
{
    for (size_t i = 0; i < v->n_keys; i++)
        free(v->keys[i]);
    free(v->keys);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every key of messages 1..n appears exactly once in the verified manifests, and nothing else. */
static void assert_keys_exactly_once(inbox_view *v, const world *w, unsigned n)
{
    assert_int_equal(v->n_keys, n);
    qsort(v->keys, v->n_keys, sizeof *v->keys, cmp_str);
    char **want = calloc(n, sizeof *want);
    for (unsigned i = 0; i < n; i++)
        want[i] = w->keys[i + 1];
    qsort(want, n, sizeof *want, cmp_str);
    for (unsigned i = 0; i < n; i++)
        assert_string_equal(v->keys[i], want[i]);
    free(want);
}

static int name_in_view(const inbox_view *v, const char *name)
{
    for (unsigned i = 0; i < v->n_names; i++)
        if (!strcmp(v->names[i], name))
            return 1;
    return 0;
}

/* ---- callbacks --------------------------------------------------------------------------- */

static int key_in_inbox_manifests(const world *w, const char *key)
{
    DIR *d = opendir(w->inbox);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        if (!has_suffix(e->d_name, ".manifest.json"))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", w->inbox, e->d_name);
        xb_buf m = XB_BUF_INIT;
        if (xb_buf_read_file(&m, p, 0) == 0 && strstr(m.data, key))
            found = 1;
        xb_buf_free(&m);
    }
    if (d)
        closedir(d);
    return found;
}

static void on_done(void *ctx, void *user, const xb_sink_http_result *r)
{
    tally *t = ctx;
    unsigned i = (unsigned)(uintptr_t)user;
    t->calls[r->outcome]++;
    if (i <= t->n)
        t->per_user[i]++;
    /* The watermark rule: DELIVERED only once the batch's manifest is in place. Sampled. */
    if (r->outcome == XB_SINK_HTTP_DELIVERED && t->w && i % 97 == 1 &&
        !key_in_inbox_manifests(t->w, t->w->keys[i]))
        t->delivered_before_manifest++;
}

static void tally_init(tally *t, const world *w)
{
    memset(t, 0, sizeof *t);
    t->n = w->n;
    t->w = w;
    t->per_user = calloc(w->n + 1, sizeof *t->per_user);
}

static void submit_range(xb_sink_sftp *s, const world *w, unsigned from, unsigned to)
{
    for (unsigned i = from; i <= to; i++) {
        xb_error err;
        int rc = xb_sink_sftp_submit(s, w->msgs[i].data, w->msgs[i].len, w->keys[i],
                                     (void *)(uintptr_t)i, &err);
        if (rc)
            fail_msg("submit %u: %s", i, err.message);
    }
}

static unsigned count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned n = 0;
    while (d && (e = readdir(d)))
        if (has_suffix(e->d_name, suffix))
            n++;
    if (d)
        closedir(d);
    return n;
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned n = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Bytes of all files in the inbox: an upload is under way once this grows. */
static off_t inbox_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    off_t m = 0;
    while (d && (e = readdir(d))) {
        char p[1024];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            m += sb.st_size;
    }
    if (d)
        closedir(d);
    return m;
}

/* Size of the largest ".part" file in the inbox (0 when none). */
static off_t largest_part(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    off_t m = 0;
    while (d && (e = readdir(d))) {
        if (!has_suffix(e->d_name, ".part"))
            continue;
        char p[1024];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) == 0 && sb.st_size > m)
            m = sb.st_size;
    }
    if (d)
        closedir(d);
    return m;
}

/* ---- 1. 5,000 messages in batches ------------------------------------------------------- */

static void test_delivers_5000_in_batches(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5000);
    sshd_up(&w, 0, 0);
    char paths[1024];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    o.batch_max_messages = 400;
    o.batch_max_bytes = 512 * 1024; /* ~360 messages: the size limit cuts batches too */
    tally t;
    tally_init(&t, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    if (xb_sink_sftp_new(&s, &o, on_done, &t, &err))
        fail_msg("new: %s", err.message);
    double t0 = now_s();
    /* Feed like a pipeline: submit in slices, poll without blocking in between. */
    for (unsigned i = 1; i <= w.n; i += 250) {
        submit_range(s, &w, i, i + 249 > w.n ? w.n : i + 249);
        xb_sink_sftp_poll(s, 0, &err);
    }
    unsigned left = xb_sink_sftp_drain(s, 120000, &err);
    double secs = now_s() - t0;
    assert_int_equal(left, 0);
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    xb_sink_sftp_free(s);
    printf("# 5000 messages in %llu batches, %.2f s, %llu transfers, %llu retries\n",
           (unsigned long long)st.batches_delivered, secs, (unsigned long long)st.transfers,
           (unsigned long long)st.retries);

    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 5000);
    for (unsigned i = 1; i <= w.n; i++)
        assert_int_equal(t.per_user[i], 1);
    assert_int_equal(t.delivered_before_manifest, 0);

    inbox_view v;
    view_inbox(&v, &w);
    assert_true(v.verified >= 14); /* 5000 / 360 */
    assert_int_equal(v.verified, st.batches_delivered);
    assert_int_equal(v.xml, v.verified);
    assert_int_equal(v.sig, v.verified);
    assert_int_equal(v.part, 0);
    assert_int_equal(v.other, 0);
    assert_true(v.max_file_bytes <= 512 * 1024);
    assert_true(v.max_count <= 400);
    assert_keys_exactly_once(&v, &w, 5000);
    /* spool: nothing sealed is left; each delivered batch is a journal entry (its manifest) */
    assert_int_equal(count_suffix(w.spool, ".manifest.json"), 0);
    assert_int_equal(count_suffix(w.spool, ".xml"), 0);
    assert_int_equal(count_suffix(w.spool, ".delivered.json"), v.verified);
    view_free(&v);
    free(t.per_user);
    world_free(&w);
}

/* ---- 2. the server disappears mid-upload ------------------------------------------------- */

static void test_server_disappears_mid_upload(void **state)
{
    (void)state;
    world w;
    world_init(&w, 1500);
    sshd_up(&w, 0, 0);
    char paths[1024];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    o.batch_max_messages = 500; /* ~700 KB per file */
    o.max_send_bytes_per_s = 400 * 1024;
    tally t;
    tally_init(&t, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, &err), 0);
    submit_range(s, &w, 1, w.n);
    xb_sink_sftp_flush(s);

    /* Wait until an upload is under way (a temporary file with bytes in it), then kill the server
     * and its sessions. */
    double deadline = now_s() + 30;
    while (inbox_bytes(w.inbox) < 64 * 1024 && now_s() < deadline)
        xb_sink_sftp_poll(s, 20, &err);
    assert_true(inbox_bytes(w.inbox) >= 64 * 1024);
    sshd_down(&w, "KILL");
    unsigned delivered_at_kill = t.calls[XB_SINK_HTTP_DELIVERED];
    for (int i = 0; i < 40; i++)
        xb_sink_sftp_poll(s, 25, &err);

    /* Server gone: the sink retries (backlogged), nothing partial under a final name. */
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    assert_true(st.retries >= 1);
    assert_true(xb_sink_sftp_backlogged(s));
    assert_non_null(xb_sink_sftp_last_error(s));
    assert_null(xb_sink_sftp_config_error(s));
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], delivered_at_kill);
    assert_true(delivered_at_kill < 1500);
    inbox_view v;
    view_inbox(&v, &w); /* asserts every final .xml is whole */
    assert_int_equal(v.n_keys, delivered_at_kill);
    assert_int_equal(v.part, 1); /* the interrupted upload, under its temporary name */
    view_free(&v);

    /* The same server comes back (same port, same host key): everything arrives, once. */
    sshd_up(&w, w.port, 1);
    unsigned left = xb_sink_sftp_drain(s, 90000, &err);
    assert_int_equal(left, 0);
    xb_sink_sftp_free(s);
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 1500);
    for (unsigned i = 1; i <= w.n; i++)
        assert_int_equal(t.per_user[i], 1);
    view_inbox(&v, &w);
    assert_int_equal(v.verified, 3);
    assert_int_equal(v.part, 0);
    assert_keys_exactly_once(&v, &w, 1500);
    view_free(&v);
    free(t.per_user);
    world_free(&w);
}

/* ---- 3. wrong host key ------------------------------------------------------------------- */

static void wrong_host_key_case(const char *host, const char *expect)
{
    world w;
    world_init(&w, 20);
    sshd_up(&w, 0, 0);
    char paths[1024], kh[400], line[600];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    /* A known_hosts entry that does not fit this server. */
    snprintf(kh, sizeof kh, "%s/wrong_known_hosts", w.dir);
    xb_buf pub = XB_BUF_INIT;
    char pp[400];
    snprintf(pp, sizeof pp, "%s/client_key.pub", w.work);
    assert_int_equal(xb_buf_read_file(&pub, pp, 0), 0);
    *strchr(strchr(pub.data, ' ') + 1, ' ') = 0; /* "ssh-ed25519 BASE64" of another key */
    snprintf(line, sizeof line, "[%s]:%d %s\n", host, w.port, pub.data);
    FILE *f = fopen(kh, "w");
    fputs(line, f);
    fclose(f);
    xb_buf_free(&pub);
    o.known_hosts = kh;
    tally t;
    tally_init(&t, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, &err), 0);
    submit_range(s, &w, 1, 20);
    unsigned left = xb_sink_sftp_drain(s, 20000, &err);
    assert_int_equal(left, 0);
    assert_int_equal(t.calls[XB_SINK_HTTP_CONFIG_ERROR], 20);
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 0);
    for (unsigned i = 1; i <= 20; i++)
        assert_int_equal(t.per_user[i], 1);
    const char *why = xb_sink_sftp_config_error(s);
    assert_non_null(why);
    assert_non_null(strstr(why, expect));
    assert_non_null(strstr(why, "nothing was sent"));
    /* later messages fail the same way, without a connection attempt */
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    uint64_t transfers = st.transfers;
    xb_sink_sftp_submit(s, w.msgs[1].data, w.msgs[1].len, w.keys[1], (void *)(uintptr_t)1, &err);
    xb_sink_sftp_poll(s, 10, &err);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.transfers, transfers);
    assert_int_equal(t.calls[XB_SINK_HTTP_CONFIG_ERROR], 21);
    xb_sink_sftp_free(s);

    /* Nothing sent: no file of any kind in the inbox, and the server never authenticated us. */
    assert_int_equal(count_entries(w.inbox), 0);
    char logp[400];
    snprintf(logp, sizeof logp, "%s/sshd.log", w.work);
    xb_buf log = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&log, logp, 0), 0);
    assert_null(strstr(log.data ? log.data : "", "Accepted publickey"));
    xb_buf_free(&log);
    free(t.per_user);
    world_free(&w);
}

static void test_wrong_host_key_sends_nothing(void **state)
{
    (void)state;
    wrong_host_key_case("127.0.0.1", "does not match");
    wrong_host_key_case("127.0.0.2", "is not in");
}

/* ---- 4. restart mid-batch ---------------------------------------------------------------- */

static void test_restart_mid_batch_rewrites_same_names(void **state)
{
    (void)state;
    world w;
    world_init(&w, 900);
    sshd_up(&w, 0, 0);
    char paths[1024];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    o.batch_max_messages = 300;

    /* First run in a child process, slowed down, killed -9 mid-upload. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        xb_sink_sftp_options oc = o;
        oc.max_send_bytes_per_s = 200 * 1024;
        xb_sink_sftp *s = NULL;
        if (xb_sink_sftp_new(&s, &oc, NULL, NULL, NULL))
            _exit(3);
        submit_range(s, &w, 1, w.n);
        xb_sink_sftp_flush(s);
        for (int i = 0; i < 6000; i++)
            xb_sink_sftp_poll(s, 10, NULL);
        _exit(4); /* should have been killed long before */
    }
    double deadline = now_s() + 30;
    while (inbox_bytes(w.inbox) < 32 * 1024 && now_s() < deadline)
        usleep(10000);
    kill(pid, SIGKILL);
    int st_child = 0;
    waitpid(pid, &st_child, 0);
    assert_true(WIFSIGNALED(st_child));
    assert_true(largest_part(w.inbox) >= 32 * 1024); /* killed mid-upload, under the temp name */

    /* What the crashed run had sealed: these names, and only these, must end up delivered. */
    char sealed[8][XB_BATCH_NAME_MAX + 1];
    unsigned n_sealed = 0;
    DIR *d = opendir(w.spool);
    struct dirent *e;
    while ((e = readdir(d)))
        if (has_suffix(e->d_name, ".manifest.json") && n_sealed < 8)
            snprintf(sealed[n_sealed++], sizeof sealed[0], "%.*s",
                     (int)(strlen(e->d_name) - strlen(".manifest.json")), e->d_name);
    closedir(d);
    assert_int_equal(n_sealed, 3);
    assert_int_equal(count_suffix(w.inbox, ".manifest.json"), 0); /* killed mid first batch */

    /* Restart: Kafka would redeliver everything from the last commit (nothing was acknowledged). */
    tally t;
    tally_init(&t, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, &err), 0);
    submit_range(s, &w, 1, w.n);
    unsigned left = xb_sink_sftp_drain(s, 60000, &err);
    assert_int_equal(left, 0);
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    xb_sink_sftp_free(s);
    assert_int_equal(st.batches_recovered, 3);
    assert_int_equal(st.batches_sealed, 0); /* no new, different batch for the same messages */
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 900);
    for (unsigned i = 1; i <= w.n; i++)
        assert_int_equal(t.per_user[i], 1);

    inbox_view v;
    view_inbox(&v, &w);
    assert_int_equal(v.verified, 3);
    assert_int_equal(v.xml, 3);
    assert_int_equal(v.part, 0);
    for (unsigned i = 0; i < n_sealed; i++)
        assert_true(name_in_view(&v, sealed[i]));
    assert_keys_exactly_once(&v, &w, 900);
    view_free(&v);
    free(t.per_user);
    world_free(&w);
}

/* ---- 5. crash after the rename, before the offsets were committed ----------------------- */

static void copy_dir(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -p '%s'/*.xml '%s'/*.manifest.* '%s'/", to, from,
             from, to);
    assert_int_equal(system(cmd), 0);
}

static void test_crash_after_rename_is_idempotent(void **state)
{
    (void)state;
    world w;
    world_init(&w, 100);
    sshd_up(&w, 0, 0);
    char paths[1024], saved[400];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    o.batch_max_messages = 100;
    snprintf(saved, sizeof saved, "%s/saved-spool", w.dir);

    /* Run 1 seals and delivers one batch; we keep a copy of its spool entry as a crash right
     * after the last rename (before the spool cleanup and the offset commit) would leave it. */
    tally t1;
    tally_init(&t1, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t1, &err), 0);
    submit_range(s, &w, 1, 100);
    xb_sink_sftp_poll(s, 0, &err); /* seals (100 = max_messages) before any upload finishes */
    copy_dir(w.spool, saved);
    assert_int_equal(xb_sink_sftp_drain(s, 30000, &err), 0);
    xb_sink_sftp_free(s);
    assert_int_equal(t1.calls[XB_SINK_HTTP_DELIVERED], 100);
    inbox_view v1;
    view_inbox(&v1, &w);
    assert_int_equal(v1.verified, 1);

    /* Run 2 finds the batch in its spool: the renames hit existing files of the same name and
     * size, which is accepted; redelivered messages complete without a new batch. */
    copy_dir(saved, w.spool);
    tally t2;
    tally_init(&t2, &w);
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t2, &err), 0);
    submit_range(s, &w, 1, 100);
    assert_int_equal(xb_sink_sftp_drain(s, 30000, &err), 0);
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_recovered, 1);
    assert_int_equal(st.batches_delivered, 1);
    assert_int_equal(st.batches_sealed, 0);
    assert_int_equal(st.config_errors, 0);
    /* and a redelivery after that batch is in place completes at once */
    submit_range(s, &w, 1, 3);
    xb_sink_sftp_poll(s, 10, &err);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.transfers, 6); /* 3 uploads whose renames failed + 3 size checks */
    xb_sink_sftp_free(s);
    assert_int_equal(t2.calls[XB_SINK_HTTP_DELIVERED], 103);

    /* Run 3: the batch is delivered and journalled; a crash before the offset commit makes Kafka
     * resend its messages, which complete at once: no transfer, no second file. */
    tally t3;
    tally_init(&t3, &w);
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t3, &err), 0);
    submit_range(s, &w, 1, 100);
    assert_int_equal(xb_sink_sftp_drain(s, 5000, &err), 0);
    xb_sink_sftp_stats_get(s, &st);
    xb_sink_sftp_free(s);
    assert_int_equal(t3.calls[XB_SINK_HTTP_DELIVERED], 100);
    assert_int_equal(st.transfers, 0);
    assert_int_equal(st.batches_sealed, 0);
    assert_int_equal(st.batches_recovered, 0);
    assert_int_equal(count_suffix(w.spool, ".delivered.json"), 1);
    free(t3.per_user);

    inbox_view v2;
    view_inbox(&v2, &w);
    assert_int_equal(v2.verified, 1);
    assert_int_equal(v2.part, 0);
    assert_string_equal(v1.names[0], v2.names[0]);
    assert_keys_exactly_once(&v2, &w, 100);
    view_free(&v1);
    view_free(&v2);
    free(t1.per_user);
    free(t2.per_user);
    world_free(&w);
}

/* ---- 6. a different file already holds the batch's name ---------------------------------- */

static void test_foreign_file_under_batch_name_is_never_overwritten(void **state)
{
    (void)state;
    world w;
    world_init(&w, 50);
    sshd_up(&w, 0, 0);
    char paths[1024];
    xb_sink_sftp_options o;
    opts_for(&o, &w, paths, sizeof paths);
    o.batch_max_messages = 50;
    /* The name the batch of messages 1..50 will get (deterministic), taken by someone else. */
    xb_buf frag[51];
    xb_batch_item items[50];
    for (unsigned i = 1; i <= 50; i++) {
        memset(&frag[i], 0, sizeof frag[i]);
        assert_int_equal(xb_batch_item_prepare(&frag[i], w.msgs[i].data, w.msgs[i].len, 0, NULL),
                         0);
        items[i - 1] = (xb_batch_item){frag[i].data, frag[i].len, w.keys[i]};
    }
    xb_batch_file f;
    assert_int_equal(xb_batch_file_build(&f, "sg-fund-admin", items, 50, NULL), 0);
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/%s.xml", w.inbox, f.name);
    FILE *fp = fopen(foreign, "w");
    fputs("<not-ours/>\n", fp);
    fclose(fp);

    tally t;
    tally_init(&t, &w);
    xb_sink_sftp *s = NULL;
    xb_error err;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, &err), 0);
    submit_range(s, &w, 1, 50);
    double deadline = now_s() + 3;
    while (now_s() < deadline)
        xb_sink_sftp_poll(s, 50, &err);
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 0);
    assert_true(xb_sink_sftp_backlogged(s));
    assert_non_null(xb_sink_sftp_last_error(s));
    assert_non_null(strstr(xb_sink_sftp_last_error(s), "did not write"));
    xb_buf kept = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&kept, foreign, 0), 0);
    assert_string_equal(kept.data, "<not-ours/>\n"); /* never overwritten */
    xb_buf_free(&kept);

    /* the operator moves the foreign file away: the batch goes in */
    assert_int_equal(unlink(foreign), 0);
    assert_int_equal(xb_sink_sftp_drain(s, 30000, &err), 0);
    xb_sink_sftp_free(s);
    assert_int_equal(t.calls[XB_SINK_HTTP_DELIVERED], 50);
    inbox_view v;
    view_inbox(&v, &w);
    assert_int_equal(v.verified, 1);
    assert_int_equal(v.part, 0);
    assert_string_equal(v.names[0], f.name);
    assert_keys_exactly_once(&v, &w, 50);
    view_free(&v);
    for (unsigned i = 1; i <= 50; i++)
        xb_buf_free(&frag[i]);
    xb_batch_file_free(&f);
    free(t.per_user);
    world_free(&w);
}

static int teardown(void **state)
{
    (void)state;
    if (g_current) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "SSHD_WORK='%s' '%s/sshd-down' 2>/dev/null; rm -rf '%s'",
                 g_current->work, ENV_DIR, g_current->dir);
        g_current = NULL;
        return system(cmd) == 0 ? 0 : -1;
    }
    return 0;
}

int main(void)
{
    static FILE *quiet;
    if (!getenv("XB_SFTP_TEST_LOG")) {
        quiet = fopen("/dev/null", "w");
        xb_log_set_stream(quiet); /* retry warnings are expected here */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_delivers_5000_in_batches, teardown),
        cmocka_unit_test_teardown(test_server_disappears_mid_upload, teardown),
        cmocka_unit_test_teardown(test_wrong_host_key_sends_nothing, teardown),
        cmocka_unit_test_teardown(test_restart_mid_batch_rewrites_same_names, teardown),
        cmocka_unit_test_teardown(test_crash_after_rename_is_idempotent, teardown),
        cmocka_unit_test_teardown(test_foreign_file_under_batch_name_is_never_overwritten,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
