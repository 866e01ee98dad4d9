/* bench_replay.c — issue #7 benchmark: replay of N recorded messages (default 100,000) against
 * the live classification rate measured in the same run.
 *
 * Baseline ("live"): the harness recorder doing what `xborder run` does per message before
 * delivery: parse -> classify -> decide for each routed destination, and the audit append with a
 * signed checkpoint every 1,000 entries. Then `replay` over the same messages: verify the whole
 * audit chain (signatures included), index it, and re-decide every message with the recorded
 * inputs and compare. Messages come from a local deterministic message store (tests/integration/
 * replay_harness.c, message i regenerated on demand), not from a broker: the bench measures the
 * replay engine, not Kafka.
 * Prints BENCH lines (msgs/s) and RATIO replay/live. Not a test. Usage: bench_replay [N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/replay.h"
#include "replay_harness.h"

typedef struct store {
    size_t i, n;
    xb_buf msg;
} store;

static int next(void *ctx, xb_replay_msg *m, xb_error *err)
{
    store *s = ctx;
    if (s->i == s->n)
        return 0;
    rh_message(&s->msg, s->i);
    m->partition = (int32_t)(s->i % 2);
    m->offset = (int64_t)(s->i / 2);
    m->timestamp_ms = 1772294400000LL + (int64_t)s->i * 1000;
    m->payload = s->msg.data;
    m->len = s->msg.len;
    s->i++;
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9; /* timing only: no money here */
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    rh_world w;
    rh_world_make(&w, "embedded", "bench");
    /* live baseline */
    xb_buf msg = XB_BUF_INIT;
    rh_recorder *rec = rh_recorder_new(&w, 1000);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        rh_message(&msg, i);
        rh_recorder_add(rec, w.topic, (int32_t)(i % 2), (int64_t)(i / 2), msg.data, msg.len,
                        1772294400LL + (int64_t)i);
    }
    uint64_t decisions = rh_recorder_close(rec);
    double live = now_s() - t0;
    xb_buf_free(&msg);

    store s = {.n = n};
    const char *files[] = {w.audit};
    xb_replay_opts o;
    memset(&o, 0, sizeof o);
    o.config_path = w.config;
    o.topic = w.topic;
    o.audit_files = files;
    o.n_audit_files = 1;
    o.pubkey_path = w.ckpt_pub;
    o.catalog_store = w.store;
    o.out_dir = w.out;
    o.source = next;
    o.source_ctx = &s;
    o.expected_total = n;
    xb_replay_stats st;
    xb_error err;
    t0 = now_s();
    if (xb_replay_run(&st, &o, &err) < 0) {
        fprintf(stderr, "bench_replay: %s\n", err.message);
        return 1;
    }
    double replay = now_s() - t0;
    xb_buf_free(&s.msg);
    if (st.mismatches || st.messages != n || st.chain.fault != XB_AUDIT_INTACT) {
        fprintf(stderr,
                "bench_replay: replay did not reproduce the run (%" PRIu64
                " mismatches, chain %s)\n",
                st.mismatches, xb_audit_fault_name(st.chain.fault));
        return 1;
    }
    printf("BENCH replay_messages %zu msgs\n", n);
    printf("BENCH replay_decisions %" PRIu64 " decisions\n", decisions);
    printf("BENCH live_classify_rate %.1f msgs/s\n", (double)n / live);
    printf("BENCH replay_rate %.1f msgs/s\n", (double)n / replay);
    printf("BENCH replay_chain_verify_and_index %" PRIu64 " entries\n", st.chain.entries);
    printf("RATIO replay_vs_live %.3f\n", live / replay);
    rh_world_remove(&w);
    return 0;
}
