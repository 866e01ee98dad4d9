/* test_replay_kafka.c — issue #7 replay over a REAL broker (XB_KAFKA_BOOTSTRAP; fails when
 * unset). 10,000 messages (a tenth under the sanitizers) are produced to a 2-partition topic with
 * known timestamps (one a minute), decided and audited by the harness recorder (the pipeline's
 * decision half, same record shape), then:
 *   - a full replay reproduces every verdict (0 mismatches, chain intact with signatures);
 *   - a stricter catalog with --catalog-now yields exactly the expected verdict mismatches;
 *   - a time window and an offset window pick exactly the right records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/policy.h"
#include "adapter/replay.h"
#include "replay_harness.h"

/* 10,000 messages; the sanitizer build divides by XB_ITEST_SCALE (10), as the pipeline tests do. */
static size_t n_msgs = 10000;
#define PARTS 2
/* 2026-03-01T00:00:00+08:00 */
#define T0_MS 1772294400000LL

static rh_world W;
static const char *bootstrap;
static uint64_t live_decisions;
static int64_t *ts_of; /* [partition * N + offset] -> message index, for window checks */

static rd_kafka_t *producer(void)
{
    char e[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, e, sizeof e), 0);
    rd_kafka_conf_set(c, "linger.ms", "20", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    assert_non_null(rk);
    return rk;
}

static void create_topic(rd_kafka_t *rk, const char *topic, int parts)
{
    char e[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, e, sizeof e);
    assert_non_null(nt);
    /* The messages carry March 2026 timestamps: keep them whatever the broker retention. */
    assert_int_equal(rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1"), 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    assert_non_null(ev);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rd_kafka_topic_result_error(tr[0]), 0);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

typedef struct live {
    rh_recorder *rec;
} live;

static int record_live(void *ctx, const xb_replay_msg *m)
{
    live *l = ctx;
    /* The recorded transfer time is the message time, as the live run's clock would be. */
    rh_recorder_add(l->rec, W.topic, m->partition, m->offset, m->payload, m->len,
                    m->timestamp_ms / 1000);
    char id[32];
    const char *p = memmem(m->payload, m->len, "XBRPL", 5);
    size_t idx = 0;
    if (p) {
        memcpy(id, p + 5, 12);
        id[12] = '\0';
        idx = (size_t)strtoull(id, NULL, 10);
    } else {
        p = memmem(m->payload, m->len, "<MsgId>BAD", 10);
        idx = p ? (size_t)strtoull(p + 10, NULL, 10) : (size_t)-1;
    }
    ts_of[(size_t)m->partition * n_msgs + (size_t)m->offset] = (int64_t)idx;
    return 0;
}

static int setup_world(void **state)
{
    bootstrap = getenv("XB_KAFKA_BOOTSTRAP");
    if (!bootstrap || !*bootstrap)
        fail_msg("XB_KAFKA_BOOTSTRAP is not set: start tests/env/kafka-up (scripts/test does)");
    const char *scale = getenv("XB_ITEST_SCALE");
    if (scale && atoi(scale) > 1)
        n_msgs /= (size_t)atoi(scale);
    rh_world_make(&W, bootstrap, "it");
    ts_of = calloc((size_t)PARTS * n_msgs, sizeof *ts_of);
    rd_kafka_t *rk = producer();
    create_topic(rk, W.topic, PARTS);
    xb_buf msg = XB_BUF_INIT;
    for (size_t i = 0; i < n_msgs; i++) {
        rh_message(&msg, i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(W.topic), RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                    RD_KAFKA_V_VALUE(msg.data, msg.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(T0_MS + (int64_t)i * 60000), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        assert_int_equal(e, 0);
        rd_kafka_poll(rk, 0);
    }
    xb_buf_free(&msg);
    assert_int_equal(rd_kafka_flush(rk, 60000), 0);
    rd_kafka_destroy(rk);

    fprintf(stderr, "produced %zu messages\n", n_msgs);
    live l = {.rec = rh_recorder_new(&W, 1000)};
    xb_error err;
    uint64_t total = 0;
    xb_replay_bound none = {0};
    int rc = xb_replay_read_topic(W.config, W.topic, &none, &none, record_live, &l, &total, &err);
    if (rc < 0)
        fail_msg("live read: %s", err.message);
    assert_int_equal(total, n_msgs);
    live_decisions = rh_recorder_close(l.rec);
    fprintf(stderr, "live run: %llu decisions recorded\n", (unsigned long long)live_decisions);
    assert_true(live_decisions > n_msgs); /* pacs.008 goes to two destinations */
    return 0;
}

static int teardown_world(void **state)
{
    rh_world_remove(&W);
    free(ts_of);
    return 0;
}

static xb_replay_stats run(const char *config, const char *from, const char *to, bool now,
                           const char *out)
{
    xb_replay_opts o;
    memset(&o, 0, sizeof o);
    const char *files[] = {W.audit};
    o.config_path = config;
    o.topic = W.topic;
    o.audit_files = files;
    o.n_audit_files = 1;
    o.pubkey_path = W.ckpt_pub;
    o.catalog_store = W.store;
    o.catalog_now = now;
    o.out_dir = out;
    o.progress = getenv("XB_REPLAY_PROGRESS") != NULL;
    xb_error err;
    if (from)
        assert_int_equal(xb_replay_bound_parse(&o.from, from, &err), 0);
    if (to)
        assert_int_equal(xb_replay_bound_parse(&o.to, to, &err), 0);
    xb_replay_stats st;
    if (xb_replay_run(&st, &o, &err) < 0)
        fail_msg("replay: %s", err.message);
    return st;
}

static void test_full_replay_reproduces_every_verdict(void **state)
{
    xb_replay_stats st = run(W.config, NULL, NULL, false, W.out);
    assert_int_equal(st.chain.fault, XB_AUDIT_INTACT);
    assert_true(st.chain.signatures_checked);
    assert_true(st.chain.checkpoints >= 1 && st.chain.checkpoints >= n_msgs / 1000);
    assert_int_equal(st.messages, n_msgs);
    assert_int_equal(st.not_audited, 0);
    assert_int_equal(st.decisions, live_decisions);
    assert_int_equal(st.mismatches, 0);
    assert_int_equal(st.matched, live_decisions);
    char path[256];
    snprintf(path, sizeof path, "%s/report.json", W.out);
    json_t *rep = json_load_file(path, 0, NULL);
    assert_non_null(rep);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "totals"), "records")),
                     n_msgs);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rep, "dlq"), "INVALID_XML")),
        n_msgs / 500);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rep, "audit_chain"), "status")),
        "intact");
    json_decref(rep);
}

/* Counts outcomes in offsets [0, n) of each partition whose message contains 王 and whose
 * recorded verdict was not already BLOCK: the stricter catalog must block exactly those. */
typedef struct expect_ctx {
    int64_t end;
    uint64_t want;
} expect_ctx;

static int count_expected(void *ctx, const xb_replay_msg *m)
{
    expect_ctx *x = ctx;
    if (m->offset >= x->end || !memmem(m->payload, m->len, "王", strlen("王")))
        return 0;
    bool pacs008 = memmem(m->payload, m->len, "pacs.008", 8) != NULL;
    x->want += pacs008 ? 2 : 1; /* routes: pacs.008 -> hk + sg, others -> sg */
    return 0;
}

static void test_stricter_catalog_shows_expected_mismatches(void **state)
{
    char out[256];
    snprintf(out, sizeof out, "%s/report-now", W.dir);
    xb_replay_stats st = run(W.config_now, "0", "150", true, out);
    assert_int_equal(st.messages, 300);
    expect_ctx x = {.end = 150};
    xb_error err;
    xb_replay_bound f = {0}, t = {0};
    xb_replay_bound_parse(&f, "0", &err);
    xb_replay_bound_parse(&t, "150", &err);
    assert_int_equal(
        xb_replay_read_topic(W.config, W.topic, &f, &t, count_expected, &x, NULL, &err), 0);
    assert_true(x.want > 10);
    char path[300];
    snprintf(path, sizeof path, "%s/report.json", out);
    json_t *rep = json_load_file(path, 0, NULL);
    assert_non_null(rep);
    json_t *rows = json_object_get(json_object_get(rep, "mismatches"), "rows");
    uint64_t verdict_rows = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *what = json_string_value(json_object_get(r, "what"));
        if (!strcmp(what, "verdict")) {
            verdict_rows++;
            assert_string_equal(json_string_value(json_object_get(r, "replayed")), "BLOCK");
            assert_string_not_equal(json_string_value(json_object_get(r, "recorded")), "BLOCK");
        }
    }
    assert_int_equal(verdict_rows, x.want);
    json_decref(rep);
    /* The same window with the recorded catalogs reproduces everything. */
    snprintf(out, sizeof out, "%s/report-recorded", W.dir);
    st = run(W.config_now, "0", "150", false, out);
    assert_int_equal(st.mismatches, 0);
}

typedef struct window_ctx {
    uint64_t n, bad;
    int64_t lo, hi;
} window_ctx;

static int check_window(void *ctx, const xb_replay_msg *m)
{
    window_ctx *w = ctx;
    int64_t idx = ts_of[(size_t)m->partition * n_msgs + (size_t)m->offset];
    w->n++;
    if (idx < w->lo || idx >= w->hi || m->timestamp_ms != T0_MS + idx * 60000)
        w->bad++;
    return 0;
}

static void test_time_window_picks_exact_records(void **state)
{
    /* Messages 100..249 (one a minute from T0): [01:40, 04:10) on 2026-03-01 Shanghai. */
    const char *from = "2026-03-01T01:40:00+08:00", *to = "2026-02-28T20:10:00Z";
    window_ctx w = {.lo = 100, .hi = 250};
    xb_replay_bound f, t;
    xb_error err;
    assert_int_equal(xb_replay_bound_parse(&f, from, &err), 0);
    assert_int_equal(xb_replay_bound_parse(&t, to, &err), 0);
    assert_true(f.is_time && t.is_time);
    assert_int_equal(xb_replay_read_topic(W.config, W.topic, &f, &t, check_window, &w, NULL, &err),
                     0);
    assert_int_equal(w.n, 150);
    assert_int_equal(w.bad, 0);
    char out[256];
    snprintf(out, sizeof out, "%s/report-window", W.dir);
    xb_replay_stats st = run(W.config, from, to, false, out);
    assert_int_equal(st.messages, 150);
    assert_int_equal(st.mismatches, 0);
    assert_int_equal(st.not_audited, 0);
    /* An offset window: [10, 20) on each of the two partitions = messages 20..39. */
    window_ctx o = {.lo = 20, .hi = 40};
    assert_int_equal(xb_replay_bound_parse(&f, "10", &err), 0);
    assert_int_equal(xb_replay_bound_parse(&t, "20", &err), 0);
    assert_int_equal(xb_replay_read_topic(W.config, W.topic, &f, &t, check_window, &o, NULL, &err),
                     0);
    assert_int_equal(o.n, 20);
    assert_int_equal(o.bad, 0);
    /* A window after the last message is empty, not an error. */
    assert_int_equal(xb_replay_bound_parse(&f, "2027-01-01", &err), 0);
    window_ctx e = {.lo = 0, .hi = 0};
    assert_int_equal(
        xb_replay_read_topic(W.config, W.topic, &f, NULL, check_window, &e, NULL, &err), 0);
    assert_int_equal(e.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_replay_reproduces_every_verdict),
        cmocka_unit_test(test_stricter_catalog_shows_expected_mismatches),
        cmocka_unit_test(test_time_window_picks_exact_records),
    };
    return cmocka_run_group_tests(tests, setup_world, teardown_world);
}
