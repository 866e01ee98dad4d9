/* test_source_kafka.c — the Kafka source and DLQ producer against librdkafka's mock cluster:
 * commits stop at the first unfinished record, a restart resumes there, backpressure hands every
 * record out once and in order (also across a pause in librdkafka), a byte budget bounds the
 * bytes of unfinished records, the DLQ carries the original bytes and every header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/config.h"
#include "adapter/transport/kafka_env.h"
#include "adapter/transport/sink_kafka.h"
#include "adapter/transport/source_kafka.h"

static const char *yaml = "kafka:\n"
                          "  bootstrap.servers: embedded\n"
                          "  group.id: g1\n"
                          "  session.timeout.ms: '6000'\n"
                          "  consumer: {fetch.wait.max.ms: '10'}\n"
                          "routes: [{name: r, topics: [in.t], messages: ['*'], destination: d}]\n"
                          "destinations: {d: {url: 'https://127.0.0.1:1/'}}\n"
                          "audit: {file: /tmp/x.log}\n"
                          "dlq: {topic: dlq.t}\n"
                          "policy: {catalogs: [c.yaml], keys: k}\n";

static int pre_commits;
static int pre_commit(void *ctx)
{
    pre_commits++;
    return 0;
}

/* n records of at least size bytes each ("msg-<i>", padded with '.'). With a size, one record per
 * batch: the mock cluster answers a fetch with one batch, so a fetch then brings one record. */
static void produce_n(const xb_kafka_env *env, const char *topic, int n, size_t size)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(env), NULL, 0);
    if (size)
        rd_kafka_conf_set(conf, "batch.num.messages", "1", NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    char *v = malloc(size + 32);
    assert_non_null(v);
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)snprintf(v, 32, "msg-%d", i);
        if (len < size) {
            memset(v + len, '.', size - len);
            len = size;
        }
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                           RD_KAFKA_V_VALUE(v, len),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    }
    free(v);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

/* Polls until n records arrived (bounded), returning their offsets and generation. */
static int consume(xb_source *src, int n, int64_t *offsets, uint64_t *gen)
{
    int got = 0, idle = 0;
    time_t end = time(NULL) + 30;
    while (got < n && time(NULL) < end && !(got > 0 && idle > 10)) {
        rd_kafka_message_t *m = xb_source_poll(src, 100, gen);
        if (!m) {
            idle++;
            continue;
        }
        idle = 0;
        offsets[got++] = m->offset;
        rd_kafka_message_destroy(m);
    }
    return got;
}

static int64_t committed(xb_source *src, const char *topic)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0);
    rd_kafka_committed(xb_source_handle(src), l, 5000);
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

/* The test config, reading `topic` instead of in.t, and a mock cluster where that topic has
 * `parts` partitions and its partition 0 holds n records of at least size bytes. */
static void open_topic(xb_config **cfg, xb_kafka_env **env, const char *topic, int parts, int n,
                       size_t size)
{
    char doc[2048], route[64];
    const char *at = strstr(yaml, "topics: [in.t]");
    assert_non_null(at);
    snprintf(route, sizeof route, "topics: [%s]", topic);
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - yaml), yaml, route,
             at + strlen("topics: [in.t]"));
    xb_error err;
    assert_int_equal(xb_config_load_buffer(cfg, doc, strlen(doc), "t.yaml", &err), 0);
    assert_int_equal(xb_kafka_env_new(env, *cfg, &err), 0);
    assert_int_equal(xb_kafka_env_create_topic(*env, topic, parts, &err), 0);
    produce_n(*env, topic, n, size);
}

/* The test config and a mock cluster whose topic in.t (1 partition) holds n records. */
static void open_filled(xb_config **cfg, xb_kafka_env **env, int n)
{
    open_topic(cfg, env, "in.t", 1, n, 0);
}

static void test_watermark_commit_and_resume(void **state)
{
    xb_config *cfg;
    xb_error err;
    xb_kafka_env *env;
    open_filled(&cfg, &env, 20);

    xb_source_opts so = {.max_outstanding = 8, .pre_commit = pre_commit};
    xb_source *src;
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);
    int64_t off[20];
    uint64_t gen = 0;
    /* max_outstanding 8: the partition pauses, but polling continues without eviction */
    int got = consume(src, 20, off, &gen);
    assert_true(got >= 9);
    assert_true(xb_source_paused_count(src) >= 1);
    /* finish everything but offset 5 */
    for (int i = 0; i < got; i++)
        if (off[i] != 5)
            assert_int_equal(xb_source_finish(src, "in.t", 0, off[i], gen, 0), 0); /* no budget */
    assert_int_equal(xb_source_commit(src, true), 0);
    assert_true(pre_commits >= 1);
    assert_int_equal(committed(src, "in.t"), 5);
    /* a stale generation is ignored */
    assert_int_equal(xb_source_finish(src, "in.t", 0, 5, gen + 100, 0), 1);
    assert_int_equal(committed(src, "in.t"), 5);
    xb_source_close(src);

    /* restart: the group resumes at the unfinished record */
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);
    int64_t again[1];
    assert_int_equal(consume(src, 1, again, &gen), 1);
    assert_int_equal(again[0], 5);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

/* Backpressure: a full partition gets nothing more; records taken from librdkafka meanwhile wait
 * in order, and a full queue pauses the partition in librdkafka (which drops its prefetch and
 * fetches again from after the last record taken). Every offset must come out exactly once, in
 * order, with at most max_outstanding + 1 unfinished at any time. */
static void test_backpressure_order_across_pauses(void **state)
{
    enum { N = 300, MAX_OUT = 8 };
    xb_config *cfg;
    xb_error err;
    xb_kafka_env *env;
    open_filled(&cfg, &env, N);
    xb_source_opts so = {.max_outstanding = MAX_OUT, .pre_commit = pre_commit};
    xb_source *src;
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);

    int64_t unfinished[MAX_OUT + 2];
    size_t n_unfinished = 0;
    int64_t next = 0;
    int saw_full = 0;
    time_t end = time(NULL) + 60;
    for (unsigned round = 0; next < N && time(NULL) < end; round++) {
        uint64_t gen;
        /* blocking polls while full take records into the queue: that is what fills it */
        rd_kafka_message_t *m = xb_source_poll(src, round % 2 ? 20 : 0, &gen);
        if (m) {
            assert_int_equal(m->offset, next); /* no gap, no repeat, no reordering */
            next++;
            assert_true(n_unfinished < MAX_OUT + 1);
            unfinished[n_unfinished++] = m->offset;
            rd_kafka_message_destroy(m);
        }
        if (n_unfinished == MAX_OUT + 1) {
            assert_true(xb_source_paused_count(src) >= 1);
            saw_full++;
        }
        /* finish slowly: one record every few rounds once full, so the queue fills */
        if (n_unfinished > 0 && (n_unfinished <= MAX_OUT || round % 12 == 0)) {
            if (n_unfinished == MAX_OUT + 1 || round % 3 == 0) {
                assert_int_equal(xb_source_finish(src, "in.t", 0, unfinished[0], gen, 0), 0);
                memmove(unfinished, unfinished + 1, --n_unfinished * sizeof *unfinished);
            }
        }
    }
    assert_int_equal(next, N);
    assert_true(saw_full > 0);
    assert_true(xb_source_fetch_pauses(src) >= 1); /* the librdkafka pause path was taken */
    assert_int_equal(xb_source_fetch_paused_count(src), 0);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

typedef struct dr_state {
    int done, failed;
    void *last_opaque;
} dr_state;

static void on_done(void *ctx, void *opaque, rd_kafka_resp_err_t e)
{
    dr_state *s = ctx;
    s->done++;
    s->failed += e != 0;
    s->last_opaque = opaque;
}

static const char *header(rd_kafka_headers_t *h, const char *name, char *buf, size_t cap)
{
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, name, &v, &n))
        return NULL;
    snprintf(buf, cap, "%.*s", (int)n, (const char *)v);
    return buf;
}

static void test_dlq_headers(void **state)
{
    xb_config *cfg;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    xb_kafka_env *env;
    assert_int_equal(xb_kafka_env_new(&env, cfg, &err), 0);
    xb_kafka_env_create_topic(env, "dlq.t", 1, &err);
    dr_state st = {0};
    xb_sink_kafka *sk;
    assert_int_equal(xb_sink_kafka_new(&sk, cfg, env, on_done, &st, &err), 0);
    const char body[] = "<Document>不是有效的XML"; /* original bytes, not valid XML */
    xb_dlq_entry e = {.value = body,
                      .value_len = sizeof body - 1,
                      .key = "k1",
                      .key_len = 2,
                      .reason = "INVALID_XML",
                      .reason_text = "premature end of data",
                      .topic = "in.t",
                      .partition = 3,
                      .offset = 12345,
                      .decision_id = "dec-1"};
    int token = 7;
    assert_int_equal(xb_sink_kafka_dlq(sk, "dlq.t", &e, &token, &err), 0);
    for (int i = 0; i < 100 && st.done == 0; i++)
        xb_sink_kafka_poll(sk, 100);
    assert_int_equal(st.done, 1);
    assert_int_equal(st.failed, 0);
    assert_ptr_equal(st.last_opaque, &token);
    xb_sink_kafka_close(sk, 5000);

    /* read it back */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(env), NULL, 0);
    rd_kafka_conf_set(conf, "group.id", "reader", NULL, 0);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "dlq.t", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_t *m = NULL;
    for (int i = 0; i < 100 && !m; i++) {
        m = rd_kafka_consumer_poll(c, 100);
        if (m && m->err) {
            rd_kafka_message_destroy(m);
            m = NULL;
        }
    }
    assert_non_null(m);
    assert_int_equal(m->len, sizeof body - 1);
    assert_memory_equal(m->payload, body, m->len);
    rd_kafka_headers_t *h;
    assert_int_equal(rd_kafka_message_headers(m, &h), 0);
    char buf[128];
    assert_string_equal(header(h, "xb-reason", buf, sizeof buf), "INVALID_XML");
    assert_string_equal(header(h, "xb-reason-text", buf, sizeof buf), "premature end of data");
    assert_string_equal(header(h, "xb-topic", buf, sizeof buf), "in.t");
    assert_string_equal(header(h, "xb-partition", buf, sizeof buf), "3");
    assert_string_equal(header(h, "xb-offset", buf, sizeof buf), "12345");
    assert_string_equal(header(h, "xb-decision-id", buf, sizeof buf), "dec-1");
    assert_null(header(h, "xb-destination", buf, sizeof buf));
    rd_kafka_message_destroy(m);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

/* Bounded read-ahead by default (issue #8, RSS): queued.max.messages.kbytes 8192 unless the
 * config sets it, pipeline.max_outstanding 500 and pipeline.max_outstanding_kbytes 2048 unless set.
 */
static void read_ahead_value(const char *doc, char *out, size_t cap)
{
    xb_config *cfg;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, doc, strlen(doc), "t.yaml", &err), 0);
    xb_kafka_env *env;
    assert_int_equal(xb_kafka_env_new(&env, cfg, &err), 0);
    xb_source *src;
    assert_int_equal(xb_source_new(&src, cfg, env, NULL, &err), 0);
    size_t n = cap;
    assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(xb_source_handle(src)),
                                       "queued.max.messages.kbytes", out, &n),
                     RD_KAFKA_CONF_OK);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

/* True when the cluster lists topic (asked by a consumer, which never auto-creates). */
static bool topic_listed(const xb_kafka_env *env, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(env), NULL, 0);
    rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(c);
    const struct rd_kafka_metadata *md = NULL;
    bool found = false;
    if (rd_kafka_metadata(c, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; i++)
            found |= !strcmp(md->topics[i].topic, topic) && md->topics[i].err == 0 &&
                     md->topics[i].partition_cnt > 0;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(c);
    return found;
}

/* xb_sink_kafka_warm looks the audit topic up before its first record: on a cluster that
 * auto-creates topics (as the mock does) the topic exists without anything produced to it. */
static void test_warm_looks_topic_up_before_first_record(void **state)
{
    (void)state;
    xb_config *cfg;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    xb_kafka_env *env;
    assert_int_equal(xb_kafka_env_new(&env, cfg, &err), 0);
    assert_false(topic_listed(env, "audit.warm.t"));
    dr_state st = {0};
    xb_sink_kafka *sk;
    assert_int_equal(xb_sink_kafka_new(&sk, cfg, env, on_done, &st, &err), 0);
    xb_sink_kafka_warm(sk, "audit.warm.t");
    bool listed = false;
    for (int i = 0; i < 50 && !(listed = topic_listed(env, "audit.warm.t")); i++)
        xb_sink_kafka_poll(sk, 100);
    assert_true(listed);
    assert_int_equal(st.done, 0); /* nothing was produced */
    xb_sink_kafka_close(sk, 1000);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

static void test_read_ahead_bounded_by_default(void **state)
{
    (void)state;
    char v[32];
    read_ahead_value(yaml, v, sizeof v);
    assert_string_equal(v, "8192");
    xb_config *cfg;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    assert_int_equal(cfg->pipeline.max_outstanding, 500);
    assert_int_equal(cfg->pipeline.max_outstanding_kbytes, 2048);
    xb_config_free(cfg);
    /* a configured value wins, in kafka.consumer or in kafka */
    char doc[2048];
    snprintf(doc, sizeof doc, "%s", yaml);
    char *at = strstr(doc, "fetch.wait.max.ms: '10'");
    assert_non_null(at);
    const char *set = "fetch.wait.max.ms: '10', queued.max.messages.kbytes: '1024'}\n";
    memcpy(at, set, strlen(set));
    snprintf(at + strlen(set), sizeof doc - (size_t)(at - doc) - strlen(set), "%s",
             strstr(yaml, "routes:"));
    read_ahead_value(doc, v, sizeof v);
    assert_string_equal(v, "1024");
}

/* Records taken within seconds of the first one (joining the group takes seconds of its own),
 * like a busy pipeline: take all there is, then work 50 ms without polling (librdkafka's queue
 * fills meanwhile). 0 when none came in 30 s. */
static int consume_in_bursts(xb_source *src, int n, int seconds)
{
    int got = 0;
    uint64_t gen;
    time_t end = time(NULL) + 30;
    while (got < n && time(NULL) < end) {
        rd_kafka_message_t *m;
        while (got < n && (m = xb_source_poll(src, got ? 0 : 100, &gen))) {
            if (got++ == 0)
                end = time(NULL) + seconds;
            rd_kafka_message_destroy(m);
        }
        if (got)
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000}, NULL);
    }
    return got;
}

/* librdkafka 2.0 stops fetching a partition whose prefetch queue went over
 * queued.max.messages.kbytes and looks again only when its broker thread wakes (I/O, an op, or
 * after 1 s). An 8 KB queue and records of 1 KB make that visible: asleep, the consumer gets ~8
 * records a second (~25 s for 200); with the fetch waker ~8 every 50 ms (~1.3 s). */
static void test_starving_fetcher_is_woken(void **state)
{
    (void)state;
    static const char *small_queue =
        "kafka:\n"
        "  bootstrap.servers: embedded\n"
        "  group.id: g-wake\n"
        "  session.timeout.ms: '6000'\n"
        "  consumer: {fetch.wait.max.ms: '10', queued.max.messages.kbytes: '8',\n"
        "             max.partition.fetch.bytes: '4096'}\n"
        "routes: [{name: r, topics: [wake.t], messages: ['*'], destination: d}]\n"
        "destinations: {d: {url: 'https://127.0.0.1:1/'}}\n"
        "audit: {file: /tmp/x.log}\n"
        "dlq: {topic: dlq.t}\n"
        "policy: {catalogs: [c.yaml], keys: k}\n";
    xb_config *cfg;
    xb_error err;
    xb_kafka_env *env;
    assert_int_equal(xb_config_load_buffer(&cfg, small_queue, strlen(small_queue), "t.yaml", &err),
                     0);
    assert_int_equal(xb_kafka_env_new(&env, cfg, &err), 0);
    assert_int_equal(xb_kafka_env_create_topic(env, "wake.t", 1, &err), 0);
    produce_n(env, "wake.t", 200, 1024);

    xb_source *src;
    xb_source_opts asleep = {.no_fetch_wake = true};
    assert_int_equal(xb_source_new(&src, cfg, env, &asleep, &err), 0);
    int slow = consume_in_bursts(src, 200, 3);
    assert_int_equal(xb_source_fetch_wakes(src), 0);
    xb_source_close(src); /* nothing finished, nothing committed: the next one starts over */
    assert_true(slow < 100);

    assert_int_equal(xb_source_new(&src, cfg, env, NULL, &err), 0);
    assert_int_equal(consume_in_bursts(src, 200, 8), 200);
    assert_true(xb_source_fetch_wakes(src) > 0);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

/* The next record within ms of polling, or NULL. */
static rd_kafka_message_t *poll_for(xb_source *src, int ms, uint64_t *gen)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        rd_kafka_message_t *m = xb_source_poll(src, 20, gen);
        if (m)
            return m;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    return NULL;
}

/* The byte budget: with 1,000-byte records and 3,500 bytes, the fourth record fills it and no
 * fifth comes (the count limit, 500, is far away) until one finishes; then the records resume
 * in order. A budget smaller than one record still lets one through at a time. */
static void test_byte_budget_bounds_outstanding(void **state)
{
    (void)state;
    enum { N = 12, SIZE = 1000 };
    xb_config *cfg;
    xb_error err;
    xb_kafka_env *env;
    open_topic(&cfg, &env, "in.t", 1, N, SIZE);
    xb_source_opts so = {.max_outstanding_bytes = 3500, .pre_commit = pre_commit};
    xb_source *src;
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);
    uint64_t gen = 0;
    int64_t next = 0;
    rd_kafka_message_t *m;
    for (int i = 0; i < 4; i++) {
        assert_non_null(m = poll_for(src, 10000, &gen));
        assert_int_equal(m->offset, next++);
        assert_int_equal(m->len, SIZE);
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(xb_source_outstanding_bytes(src), 4 * SIZE);
    assert_null(poll_for(src, 500, &gen)); /* full: 4,000 >= 3,500 */
    assert_int_equal(xb_source_finish(src, "in.t", 0, 0, gen, SIZE), 0);
    assert_int_equal(xb_source_outstanding_bytes(src), 3 * SIZE);
    assert_non_null(m = poll_for(src, 10000, &gen));
    assert_int_equal(m->offset, next++);
    rd_kafka_message_destroy(m);
    assert_null(poll_for(src, 300, &gen));
    for (int64_t o = 1; o < next; o++)
        assert_int_equal(xb_source_finish(src, "in.t", 0, o, gen, SIZE), 0);
    assert_int_equal(xb_source_outstanding_bytes(src), 0);
    xb_source_close(src); /* offsets 0-4 finished and committed */

    /* a budget below one record: one at a time, never none */
    so.max_outstanding_bytes = SIZE / 2;
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);
    for (; next < N; next++) {
        assert_non_null(m = poll_for(src, 10000, &gen));
        assert_int_equal(m->offset, next);
        rd_kafka_message_destroy(m);
        assert_null(poll_for(src, next == 5 ? 300 : 0, &gen));
        assert_int_equal(xb_source_finish(src, "in.t", 0, next, gen, SIZE), 0);
    }
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

/* A partition's queue of waiting records is bounded by the budget too. Partition 1 of the topic
 * stays empty, so it always has room and polling goes on; every record of partition 0 beyond
 * the budget is taken from librdkafka and waits. Without the bound those 56 KB would all wait
 * (max_outstanding, 500 records, is far away); with it the partition pauses in librdkafka once
 * its queue holds the budget, and every record still comes out once, in order. */
static void test_byte_budget_bounds_waiting_queue(void **state)
{
    (void)state;
    enum { N = 60, SIZE = 1000, BUDGET = 3500 };
    xb_config *cfg;
    xb_error err;
    xb_kafka_env *env;
    open_topic(&cfg, &env, "bq.t", 2, N, SIZE); /* all to partition 0 */
    xb_source_opts so = {.max_outstanding_bytes = BUDGET, .pre_commit = pre_commit};
    xb_source *src;
    assert_int_equal(xb_source_new(&src, cfg, env, &so, &err), 0);
    uint64_t gen = 0;
    int64_t out[N];
    int n_out = 0;
    rd_kafka_message_t *m;
    while (n_out < 4 && (m = poll_for(src, 10000, &gen)) != NULL) {
        out[n_out++] = m->offset;
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(n_out, 4);
    assert_null(poll_for(src, 2000, &gen)); /* the budget is full; partition 0's records wait */
    assert_int_equal(xb_source_fetch_paused_count(src), 1);
    assert_true(xb_source_queued_bytes(src) >= BUDGET);
    assert_true(xb_source_queued_bytes(src) <= 2 * BUDGET);
    /* finishing lets them all through, once and in order */
    for (int64_t next = 0; next < N; next++) {
        if (next >= n_out) {
            assert_non_null(m = poll_for(src, 10000, &gen));
            out[n_out++] = m->offset;
            rd_kafka_message_destroy(m);
        }
        assert_int_equal(out[next], next);
        assert_int_equal(xb_source_finish(src, "bq.t", 0, next, gen, SIZE), 0);
    }
    assert_int_equal(xb_source_queued_bytes(src), 0);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark_commit_and_resume),
        cmocka_unit_test(test_backpressure_order_across_pauses),
        cmocka_unit_test(test_dlq_headers),
        cmocka_unit_test(test_warm_looks_topic_up_before_first_record),
        cmocka_unit_test(test_read_ahead_bounded_by_default),
        cmocka_unit_test(test_starving_fetcher_is_woken),
        cmocka_unit_test(test_byte_budget_bounds_outstanding),
        cmocka_unit_test(test_byte_budget_bounds_waiting_queue),
    };
    return cmocka_run_group_tests_name("source_kafka", tests, NULL, NULL);
}
