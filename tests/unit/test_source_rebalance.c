/* test_source_rebalance.c — issue #9's rebalance stall, reproduced cheaply: a partition paused
 * for backpressure when the group rebalances must flow again once it is assigned back.
 *
 * Owns: the regression test for the stall seen at 10,000 messages (first instance assigned all
 * partitions, two of them never fetched again). librdkafka keeps a partition's pause flag across
 * revoke and re-assignment (the pause lives on the toppar, not in the assignment), while the
 * source's own bookkeeping started fresh, so nobody resumed it.
 * Runs against librdkafka's mock cluster (in-process, memory only), or a real broker when
 * XB_REBALANCE_BOOTSTRAP names one (the integration variant in tests/integration/source.cmake).
 * Never: sleeps for fixed times to "let things settle"; every wait is a bounded poll loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/config.h"
#include "adapter/transport/kafka_env.h"
#include "adapter/transport/source_kafka.h"

#define N_PARTS 2
#define PER_PART 40

typedef struct fixture {
    xb_config *cfg;
    xb_kafka_env *env;
    const char *strategy;
    char topic[96];
    char group[128];
} fixture;

static const char *bootstrap_or_embedded(void)
{
    const char *b = getenv("XB_REBALANCE_BOOTSTRAP");
    return b && *b ? b : "embedded";
}

static void load_config(fixture *f)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "kafka:\n"
             "  bootstrap.servers: '%s'\n"
             "  group.id: %s\n"
             "  session.timeout.ms: '6000'\n"
             "  heartbeat.interval.ms: '300'\n"
             "  consumer: {fetch.wait.max.ms: '10', partition.assignment.strategy: '%s'}\n"
             "routes: [{name: r, topics: ['%s'], messages: ['*'], destination: d}]\n"
             "destinations: {d: {url: 'https://127.0.0.1:1/'}}\n"
             "audit: {file: /tmp/x.log}\n"
             "dlq: {topic: dlq.t}\n"
             "policy: {catalogs: [c.yaml], keys: k}\n",
             bootstrap_or_embedded(), f->group, f->strategy, f->topic);
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&f->cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    assert_int_equal(xb_kafka_env_new(&f->env, f->cfg, &err), 0);
}

/* A real broker auto-creates topics with its default partition count; make ours explicitly. */
static void create_topic(fixture *f)
{
    xb_error err;
    if (xb_kafka_env_is_embedded(f->env)) {
        assert_int_equal(xb_kafka_env_create_topic(f->env, f->topic, N_PARTS, &err), 0);
        return;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(f->env), NULL, 0);
    rd_kafka_t *a = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(a);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(f->topic, N_PARTS, 1, errstr, sizeof errstr);
    assert_non_null(nt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(a);
    rd_kafka_CreateTopics(a, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    assert_non_null(ev);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    assert_int_equal(n, 1);
    assert_int_equal(rd_kafka_topic_result_error(res[0]), 0);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(a);
}

static void produce(fixture *f)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(f->env), NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    for (int part = 0; part < N_PARTS; part++)
        for (int i = 0; i < PER_PART; i++) {
            char v[96];
            int len = snprintf(v, sizeof v, "跨境汇款 CNY %d.%02d 分区%d", 1000 + i, i, part);
            assert_int_equal(
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_PARTITION(part),
                                  RD_KAFKA_V_VALUE(v, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                0);
        }
    assert_int_equal(rd_kafka_flush(p, 20000), 0);
    rd_kafka_destroy(p);
}

static int pre_commit_ok(void *ctx)
{
    (void)ctx;
    return 0;
}

/* A second group member with librdkafka's own (automatic) assignment handling. */
static rd_kafka_t *second_member(fixture *f)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", xb_kafka_env_bootstrap(f->env)},
                           {"group.id", f->group},
                           {"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "300"},
                           {"partition.assignment.strategy", f->strategy},
                           {"enable.auto.commit", "false"},
                           {"auto.offset.reset", "earliest"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr), 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(c);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, f->topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    return c;
}

static int assigned_count(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(rk, &l) != 0)
        return -1;
    int n = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return n;
}

typedef struct held {
    int32_t partition;
    int64_t offset;
    uint64_t gen;
    size_t len;
} held;

/* Polls the source without finishing anything until every partition is paused inside librdkafka
 * (full, and its queue of records waiting behind them full too: the state issue #9's stall
 * started from); what it handed out is kept in `h` so it can be finished later. */
static size_t fill_until_paused(fixture *f, xb_source *src, held *h, size_t cap)
{
    size_t n = 0;
    time_t end = time(NULL) + 60;
    while (xb_source_fetch_paused_count(src) < N_PARTS && time(NULL) < end) {
        uint64_t gen;
        rd_kafka_message_t *m = xb_source_poll(src, 100, &gen);
        if (!m)
            continue;
        assert_string_equal(rd_kafka_topic_name(m->rkt), f->topic);
        assert_true(n < cap);
        h[n++] = (held){m->partition, m->offset, gen, m->len};
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(xb_source_fetch_paused_count(src), N_PARTS);
    assert_int_equal(xb_source_paused_count(src), N_PARTS);
    return n;
}

/* Polls once, finishing whatever arrives (finished work keeps no partition paused). */
static void poll_and_finish(fixture *f, xb_source *src, int timeout_ms)
{
    uint64_t gen;
    rd_kafka_message_t *m = xb_source_poll(src, timeout_ms, &gen);
    if (!m)
        return;
    xb_source_finish(src, f->topic, m->partition, m->offset, gen, m->len);
    rd_kafka_message_destroy(m);
}

/* Drives both members until the source holds src_parts partitions and the other other_parts. */
static void poll_both_until(fixture *f, xb_source *src, rd_kafka_t *other, int src_parts,
                            int other_parts)
{
    time_t end = time(NULL) + 60;
    while (time(NULL) < end) {
        poll_and_finish(f, src, 50);
        if (other) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(other, 50);
            if (m)
                rd_kafka_message_destroy(m); /* never commits: the records stay for the source */
        }
        if (assigned_count(xb_source_handle(src)) == src_parts &&
            (!other || assigned_count(other) == other_parts))
            return;
    }
    fail_msg("group did not reach %d/%d partitions within 60 s", src_parts, other_parts);
}

static int64_t committed(fixture *f, xb_source *src, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, f->topic, partition);
    int64_t off = -1;
    if (rd_kafka_committed(xb_source_handle(src), l, 5000) == 0)
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

/* After the rebalances every partition must be consumed to its end: everything finished and
 * committed. A partition left paused inside librdkafka never gets there. */
static void assert_all_partitions_flow(fixture *f, xb_source *src)
{
    time_t end = time(NULL) + 30;
    int64_t at[N_PARTS];
    for (;;) {
        for (int i = 0; i < 50; i++)
            poll_and_finish(f, src, 20);
        xb_source_commit(src, true);
        int complete = 0;
        for (int p = 0; p < N_PARTS; p++) {
            at[p] = committed(f, src, p);
            complete += at[p] == PER_PART;
        }
        if (complete == N_PARTS)
            return;
        if (time(NULL) >= end)
            break;
    }
    for (int p = 0; p < N_PARTS; p++)
        if (at[p] != PER_PART)
            fail_msg("partition %d stalled: committed %lld of %d after the rebalance", p,
                     (long long)at[p], PER_PART);
}

static void run_case(const char *strategy)
{
    fixture f = {.strategy = strategy};
    snprintf(f.topic, sizeof f.topic, "xb.rebalance.%s.%d.%ld", strategy, (int)getpid(),
             (long)time(NULL));
    for (char *c = f.topic; *c; c++)
        if (*c == '-')
            *c = '_';
    snprintf(f.group, sizeof f.group, "g-%s", f.topic);
    load_config(&f);
    create_topic(&f);
    produce(&f);

    xb_source_opts so = {.max_outstanding = 4, .pre_commit = pre_commit_ok};
    xb_source *src;
    xb_error err;
    assert_int_equal(xb_source_new(&src, f.cfg, f.env, &so, &err), 0);
    held h[N_PARTS * PER_PART];
    size_t n_held = fill_until_paused(&f, src, h, sizeof h / sizeof h[0]);

    /* join: paused partitions are revoked (all of them when eager, one when cooperative) and
     * one stays or comes back; leave: all come back to the source */
    rd_kafka_t *other = second_member(&f);
    poll_both_until(&f, src, other, 1, 1);
    for (size_t i = 0; i < n_held; i++) /* a kept partition's records are still ours */
        xb_source_finish(src, f.topic, h[i].partition, h[i].offset, h[i].gen, h[i].len);
    rd_kafka_consumer_close(other);
    rd_kafka_destroy(other);
    poll_both_until(&f, src, NULL, N_PARTS, 0);

    assert_all_partitions_flow(&f, src);
    xb_source_close(src);
    xb_kafka_env_free(f.env);
    xb_config_free(f.cfg);
}

static void test_eager_paused_partitions_flow_after_rebalance(void **state)
{
    (void)state;
    run_case("range");
}

static void test_cooperative_paused_partitions_flow_after_rebalance(void **state)
{
    (void)state;
    run_case("cooperative-sticky");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eager_paused_partitions_flow_after_rebalance),
        cmocka_unit_test(test_cooperative_paused_partitions_flow_after_rebalance),
    };
    return cmocka_run_group_tests_name("source_rebalance", tests, NULL, NULL);
}
