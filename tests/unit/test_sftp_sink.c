/* test_sftp_sink.c — the SFTP sink without a server: the `sftp:` config subtree, option checks,
 * batching limits, the spool (sealed before sending, recovered after a restart, tampered entries
 * discarded) and the completion contract (exactly one callback per accepted message).
 * The server that refuses connections is 127.0.0.1 port 1 (nothing listens there; loopback only).
 *
 * Owns: unit tests only. Never: reaches a network beyond loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/time.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/log.h"
#include "adapter/transport/batch_file.h"
#include "adapter/transport/sink_sftp.h"
#include "adapter/yaml_tree.h"
#include "unit/test_sftp_util.h"

static char g_dir[256], g_mkey[320], g_kh[320], g_ckey[320], g_spool[320];
static xb_buf g_tmpl;

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/xb-sftp-sink-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_mkey, sizeof g_mkey, "%s/manifest.pem", g_dir);
    snprintf(g_kh, sizeof g_kh, "%s/known_hosts", g_dir);
    snprintf(g_ckey, sizeof g_ckey, "%s/client_key", g_dir);
    snprintf(g_spool, sizeof g_spool, "%s/spool", g_dir);
    static FILE *devnull;
    devnull = fopen("/dev/null", "w");
    xb_log_set_stream(devnull); /* retries log warnings; keep the test output readable */
    return sftp_test_make_ed25519(g_mkey) ||
           write_text(g_kh,
                      "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1xborder0test0\n") ||
           write_text(g_ckey, "not used: nothing listens on port 1\n") ||
           sftp_test_fixture(&g_tmpl, "pacs008-cny-template.xml");
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    xb_buf_free(&g_tmpl);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- config subtree ---------------------------------------------------------------------- */

static const char CFG[] = "sftp:\n"
                          "  url: sftp://127.0.0.1:2222/srv/inbox\n"
                          "  known_hosts: keys/known_hosts\n"
                          "  user: xborder\n"
                          "  key: keys/client_ed25519\n"
                          "  pub: keys/client_ed25519.pub\n"
                          "  manifest_key: keys/manifest.pem\n"
                          "  spool: state/sftp-spool\n"
                          "  batch: {max_messages: 250, max_bytes: 1048576, linger_ms: 40}\n"
                          "  retry: {initial_ms: 50, max_ms: 2000}\n";

static int parse_cfg(xb_sink_sftp_options *o, const char *yaml, xb_error *err, json_t **tree)
{
    assert_int_equal(xb_yaml_load_buffer(tree, yaml, strlen(yaml), "test.yaml", NULL), 0);
    xb_sink_sftp_options_init(o);
    return xb_sink_sftp_opts_from_tree(o, json_object_get(*tree, "sftp"), "destinations.sg.sftp",
                                       err);
}

static void test_opts_from_tree(void **state)
{
    (void)state;
    xb_sink_sftp_options o;
    json_t *t = NULL;
    assert_int_equal(parse_cfg(&o, CFG, NULL, &t), 0);
    assert_string_equal(o.url, "sftp://127.0.0.1:2222/srv/inbox");
    assert_string_equal(o.user, "xborder");
    assert_string_equal(o.key_file, "keys/client_ed25519");
    assert_string_equal(o.pub_file, "keys/client_ed25519.pub");
    assert_string_equal(o.manifest_key_file, "keys/manifest.pem");
    assert_string_equal(o.spool_dir, "state/sftp-spool");
    assert_int_equal(o.batch_max_messages, 250);
    assert_int_equal(o.batch_max_bytes, 1048576);
    assert_int_equal(o.batch_linger_ms, 40);
    assert_int_equal(o.backoff_initial_ms, 50);
    assert_int_equal(o.backoff_max_ms, 2000);
    assert_int_equal(o.timeout_ms, 120000); /* default kept */
    json_decref(t);
}

static void expect_cfg_error(const char *yaml, const char *path)
{
    xb_sink_sftp_options o;
    json_t *t = NULL;
    xb_error err;
    xb_error_clear(&err);
    assert_int_equal(parse_cfg(&o, yaml, &err, &t), XB_ECONFIG);
    assert_string_equal(err.path, path);
    json_decref(t);
}

static void test_opts_errors_name_the_key(void **state)
{
    (void)state;
    char y[2048];
    snprintf(y, sizeof y, "%s", CFG);
    memcpy(strstr(y, "max_messages: 250"), "max_messages:   0", 17);
    expect_cfg_error(y, "destinations.sg.sftp.batch.max_messages");

    snprintf(y, sizeof y, "%s  pasword: x\n", CFG);
    expect_cfg_error(y, "destinations.sg.sftp.pasword");

    snprintf(y, sizeof y, "%s", CFG);
    memcpy(strstr(y, "sftp://"), "ftps://", 7);
    expect_cfg_error(y, "destinations.sg.sftp.url");

    snprintf(y, sizeof y, "%s", CFG);
    char *k = strstr(y, "  known_hosts:");
    memmove(k, strchr(k, '\n') + 1, strlen(strchr(k, '\n') + 1) + 1);
    expect_cfg_error(y, "destinations.sg.sftp.known_hosts");

    snprintf(y, sizeof y, "%s", CFG);
    memcpy(strstr(y, "linger_ms: 40"), "lingerms:  40", 13);
    expect_cfg_error(y, "destinations.sg.sftp.batch.lingerms");

    snprintf(y, sizeof y, "%s", CFG);
    memcpy(strstr(y, "linger_ms: 40"), "linger_ms: xx", 13);
    expect_cfg_error(y, "destinations.sg.sftp.batch.linger_ms");
}

/* ---- sink without a server --------------------------------------------------------------- */

typedef struct tally {
    unsigned calls[8];
    unsigned per_user[64];
} tally;

static void on_done(void *ctx, void *user, const xb_sink_http_result *r)
{
    tally *t = ctx;
    t->calls[r->outcome]++;
    t->per_user[(uintptr_t)user]++;
    assert_non_null(r->reason);
}

static void base_opts(xb_sink_sftp_options *o)
{
    xb_sink_sftp_options_init(o);
    o->name = "sg-fund-admin";
    o->url = "sftp://127.0.0.1:1/srv/inbox";
    o->known_hosts = g_kh;
    o->user = "xborder";
    o->key_file = g_ckey;
    o->manifest_key_file = g_mkey;
    o->spool_dir = g_spool;
    o->batch_max_messages = 2;
    o->batch_linger_ms = 0;
    o->backoff_initial_ms = 20;
    o->backoff_max_ms = 40;
    o->connect_timeout_ms = 1000;
}

static void test_new_refuses_bad_options(void **state)
{
    (void)state;
    xb_sink_sftp_options o;
    xb_sink_sftp *s = NULL;
    xb_error err;
    base_opts(&o);
    o.known_hosts = "/nonexistent/known_hosts";
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, NULL, &err), XB_ECONFIG);
    assert_string_equal(err.path, "known_hosts");
    assert_null(s);
    base_opts(&o);
    o.url = "sftp://user@127.0.0.1:1/srv";
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, NULL, &err), XB_ECONFIG);
    assert_string_equal(err.path, "url");
    base_opts(&o);
    o.url = "sftp://127.0.0.1:1/srv/in box";
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, NULL, &err), XB_ECONFIG);
    base_opts(&o);
    o.name = "sg/../../etc";
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, NULL, &err), XB_ECONFIG);
    assert_string_equal(err.path, "name");
    base_opts(&o);
    o.manifest_key_file = g_kh; /* not a PEM key */
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, NULL, &err), XB_ECRYPTO);
}

static size_t count_spool(const char *suffix)
{
    DIR *d = opendir(g_spool);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t a = strlen(e->d_name), b = strlen(suffix);
        if (a > b && !strcmp(e->d_name + a - b, suffix))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void submit_n(xb_sink_sftp *s, unsigned n, unsigned first)
{
    xb_buf msg = XB_BUF_INIT;
    char key[40];
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(sftp_test_message(&msg, g_tmpl.data, first + i, key), 0);
        assert_int_equal(
            xb_sink_sftp_submit(s, msg.data, msg.len, key, (void *)(uintptr_t)(first + i), NULL),
            0);
    }
    xb_buf_free(&msg);
}

static void test_spool_survives_restart(void **state)
{
    (void)state;
    xb_sink_sftp_options o;
    base_opts(&o);
    tally t1 = {0}, t2 = {0};
    xb_sink_sftp *s = NULL;
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t1, NULL), 0);
    submit_n(s, 5, 1);
    /* a message that can never be embedded completes PERMANENT, from poll, exactly once */
    xb_buf bad = XB_BUF_INIT;
    assert_int_equal(sftp_test_fixture(&bad, "hostile-doctype.xml"), 0);
    assert_int_equal(
        xb_sink_sftp_submit(s, bad.data, bad.len, "doctype-1", (void *)(uintptr_t)9, NULL), 0);
    xb_buf_free(&bad);
    assert_int_equal(t1.calls[XB_SINK_HTTP_PERMANENT], 0); /* not from inside submit */
    xb_error err;
    for (int i = 0; i < 20; i++)
        xb_sink_sftp_poll(s, 20, &err);
    assert_int_equal(t1.calls[XB_SINK_HTTP_PERMANENT], 1);
    assert_int_equal(t1.per_user[9], 1);

    /* three batches (2+2+1) sealed to the spool before any byte went out; nothing delivered */
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_sealed, 3);
    assert_int_equal(count_spool(".manifest.json"), 3);
    assert_int_equal(count_spool(".xml"), 3);
    assert_int_equal(count_spool(".manifest.sig"), 3);
    assert_int_equal(t1.calls[XB_SINK_HTTP_DELIVERED], 0);
    assert_int_equal(st.pending, 5);
    assert_true(st.retries >= 1);
    assert_true(xb_sink_sftp_backlogged(s)); /* retrying: pause the partitions */
    assert_non_null(xb_sink_sftp_last_error(s));
    assert_null(xb_sink_sftp_config_error(s));

    xb_sink_sftp_free(s);
    assert_int_equal(t1.calls[XB_SINK_HTTP_CANCELLED], 5);
    for (unsigned u = 1; u <= 5; u++)
        assert_int_equal(t1.per_user[u], 1);
    assert_int_equal(count_spool(".manifest.json"), 3); /* kept for the next start */

    /* restart: the sealed batches come back; the redelivered messages attach, nothing new sealed */
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t2, NULL), 0);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_recovered, 3);
    submit_n(s, 5, 1);
    xb_sink_sftp_flush(s);
    xb_sink_sftp_poll(s, 50, &err);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_sealed, 0);
    assert_int_equal(st.queued_batches, 3);
    assert_int_equal(count_spool(".manifest.json"), 3);
    /* a message not in the spool still makes a new batch */
    submit_n(s, 1, 6);
    xb_sink_sftp_flush(s);
    xb_sink_sftp_poll(s, 50, &err);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_sealed, 1);
    assert_int_equal(count_spool(".manifest.json"), 4);
    xb_sink_sftp_free(s);
    assert_int_equal(t2.calls[XB_SINK_HTTP_CANCELLED], 6);
    for (unsigned u = 1; u <= 6; u++)
        assert_int_equal(t2.per_user[u], 1);
}

static void test_tampered_spool_entry_is_discarded(void **state)
{
    (void)state;
    /* Continues from the previous test's spool (4 batches). Corrupt one container. */
    DIR *d = opendir(g_spool);
    struct dirent *e;
    char path[600] = "";
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".xml") && !path[0])
            snprintf(path, sizeof path, "%s/%s", g_spool, e->d_name);
    closedir(d);
    assert_true(path[0]);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, -20, SEEK_END);
    fputc('#', f);
    fclose(f);
    /* and leftovers of a crash while sealing: a container without manifest, a temporary file */
    char orphan[600], tmp[600];
    snprintf(orphan, sizeof orphan, "%s/sg-fund-admin-0123456789abcdef0123456789abcdef.xml",
             g_spool);
    snprintf(tmp, sizeof tmp, "%s/.tmp-sg-fund-admin-0123.manifest.json", g_spool);
    char young[600];
    snprintf(young, sizeof young, "%s/.tmp-sg-fund-admin-4567", g_spool);
    assert_int_equal(write_text(orphan, "<partial"), 0);
    assert_int_equal(write_text(tmp, "{"), 0);
    assert_int_equal(write_text(young, "<being written by a live process"), 0);
    struct timeval old_tv[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    assert_int_equal(utimes(orphan, old_tv), 0);
    assert_int_equal(utimes(tmp, old_tv), 0);
    xb_sink_sftp_options o;
    base_opts(&o);
    xb_sink_sftp *s = NULL;
    tally t = {0};
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, NULL), 0);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(young, F_OK), 0); /* may be another process's sealing in progress */
    assert_int_equal(count_spool(".xml"), 3);
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_recovered, 3);
    assert_int_equal(count_spool(".manifest.json"), 3);
    assert_int_equal(access(path, F_OK), -1);
    xb_sink_sftp_free(s);
}

static void test_batch_limits(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_spool);
    assert_int_equal(system(cmd), 0);
    xb_sink_sftp_options o;
    base_opts(&o);
    o.batch_max_messages = 1000;
    o.batch_linger_ms = 60000;
    o.batch_max_bytes = 5000; /* ~3 messages of ~1.4 KB each */
    xb_sink_sftp *s = NULL;
    tally t = {0};
    assert_int_equal(xb_sink_sftp_new(&s, &o, on_done, &t, NULL), 0);
    submit_n(s, 10, 1);
    xb_error err;
    xb_sink_sftp_poll(s, 0, &err);
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    /* 10 messages, 3 per file by size, the last 1 still gathering (linger is a minute) */
    assert_int_equal(st.batches_sealed, 3);
    DIR *d = opendir(g_spool);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".xml")) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", g_spool, e->d_name);
            xb_buf b = XB_BUF_INIT;
            assert_int_equal(xb_buf_read_file(&b, p, 0), 0);
            assert_true(b.len <= 5000);
            assert_non_null(strstr(b.data, "count=\"3\""));
            xb_buf_free(&b);
        }
    }
    closedir(d);
    xb_sink_sftp_flush(s);
    xb_sink_sftp_poll(s, 0, &err);
    xb_sink_sftp_stats_get(s, &st);
    assert_int_equal(st.batches_sealed, 4);
    /* oversize message refused at submit, no callback */
    assert_int_equal(xb_sink_sftp_submit(s, "<a/>", 0, "k", NULL, &err), XB_EINVAL);
    assert_int_equal(xb_sink_sftp_submit(s, "<a/>", 4, "bad key", NULL, &err), XB_EINVAL);
    xb_sink_sftp_free(s);
    assert_int_equal(t.calls[XB_SINK_HTTP_CANCELLED], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_from_tree),
        cmocka_unit_test(test_opts_errors_name_the_key),
        cmocka_unit_test(test_new_refuses_bad_options),
        cmocka_unit_test(test_spool_survives_restart),
        cmocka_unit_test(test_tampered_spool_entry_is_discarded),
        cmocka_unit_test(test_batch_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
