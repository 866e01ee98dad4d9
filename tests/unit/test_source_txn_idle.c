/* test_source_txn_idle.c — the fetch waker backs off on a partition whose log ends in a
 * transaction marker (real broker in XB_KAFKA_BOOTSTRAP: librdkafka's mock cluster writes no
 * control records, so it cannot show this).
 *
 * Owns: the regression test for wake-ups that bring nothing. A transactional producer's commit
 * leaves the high watermark one above the last record (the marker), so "the log holds records
 * after the last one taken" stays true while the partition is idle; without a back-off the
 * source would send the leader two ListOffsets every 5 ms for as long as nothing arrives.
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

#define N_RECORDS 5

/* N_RECORDS records in one committed transaction (the broker creates the topic on first use). */
static void produce_committed(const char *bootstrap, const char *topic, const char *txn_id)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    assert_int_equal(rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    assert_null(rd_kafka_init_transactions(p, 60000));
    assert_null(rd_kafka_begin_transaction(p));
    for (int i = 0; i < N_RECORDS; i++) {
        char v[64];
        int len = snprintf(v, sizeof v, "跨境汇款 CNY %d.00 事务", 5000 + i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                           RD_KAFKA_V_VALUE(v, (size_t)len),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    }
    assert_null(rd_kafka_commit_transaction(p, 60000));
    rd_kafka_destroy(p);
}

static void test_idle_after_a_commit_marker_backs_off(void **state)
{
    (void)state;
    const char *bootstrap = getenv("XB_KAFKA_BOOTSTRAP");
    assert_non_null(bootstrap); /* tests/env/kafka-up; ctest's wrapper says so when unset */
    char topic[64], group[80], txn_id[80], yaml[1024];
    snprintf(topic, sizeof topic, "xb.txn-idle.%ld.%ld", (long)getpid(), (long)time(NULL));
    snprintf(group, sizeof group, "g-%s", topic);
    snprintf(txn_id, sizeof txn_id, "txn-%s", topic);
    snprintf(yaml, sizeof yaml,
             "kafka:\n"
             "  bootstrap.servers: '%s'\n"
             "  group.id: '%s'\n"
             "  session.timeout.ms: '6000'\n"
             "  consumer: {fetch.wait.max.ms: '10'}\n"
             "routes: [{name: r, topics: ['%s'], messages: ['*'], destination: d}]\n"
             "destinations: {d: {url: 'https://127.0.0.1:1/'}}\n"
             "audit: {file: /tmp/x.log}\n"
             "dlq: {topic: dlq.t}\n"
             "policy: {catalogs: [c.yaml], keys: k}\n",
             bootstrap, group, topic);
    produce_committed(bootstrap, topic, txn_id);

    xb_config *cfg;
    xb_kafka_env *env;
    xb_source *src;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err), 0);
    assert_int_equal(xb_kafka_env_new(&env, cfg, &err), 0);
    assert_int_equal(xb_source_new(&src, cfg, env, NULL, &err), 0);
    int got = 0;
    uint64_t gen;
    for (time_t end = time(NULL) + 60; got < N_RECORDS && time(NULL) < end;) {
        rd_kafka_message_t *m = xb_source_poll(src, 100, &gen);
        if (m) {
            got++;
            rd_kafka_message_destroy(m);
        }
    }
    assert_int_equal(got, N_RECORDS);
    /* the case under test: the high watermark sits above the last record, on the marker */
    int64_t lo = -1, hi = -1;
    for (time_t end = time(NULL) + 10; hi <= N_RECORDS && time(NULL) < end;) {
        assert_null(xb_source_poll(src, 50, &gen));
        rd_kafka_get_watermark_offsets(xb_source_handle(src), topic, 0, &lo, &hi);
    }
    assert_true(hi > N_RECORDS);

    /* two idle seconds: a wake-up every 5 ms would be ~400; backing off 5, 10, 20 ... 1000 ms
     * gives ~10, and at least one shows the waker looked at all */
    uint64_t before = xb_source_fetch_wakes(src);
    for (time_t end = time(NULL) + 2; time(NULL) < end;)
        assert_null(xb_source_poll(src, 1, &gen));
    uint64_t woken = xb_source_fetch_wakes(src) - before;
    assert_true(woken >= 1);
    assert_true(woken <= 20);
    xb_source_close(src);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_after_a_commit_marker_backs_off),
    };
    return cmocka_run_group_tests_name("source_txn_idle", tests, NULL, NULL);
}
