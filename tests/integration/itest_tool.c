/* itest_tool.c — helper for the pipeline's integration tests (real Kafka, real receiver).
 *
 *   itest_tool produce --bootstrap B --topic T --count N --run-id R [--partitions P] FILE...
 *       Cycles through FILEs, makes each copy unique (its <UETR> and <MsgId> values are replaced
 *       by ones derived from R and the copy's index, so the receiver can tell them apart) and
 *       produces N records, keyed by index.
 *   itest_tool check --audit FILE --received DIR --bootstrap B --dlq TOPIC --expect N
 *                    [--timeout S] [--no-dlq] [--group G --topic T]
 *   itest_tool audit-verify FILE   (prints the number of chained entries; exit 1 if broken)
 *   itest_tool create-topic --bootstrap B --topic T --partitions P
 *   itest_tool latency --bootstrap B --topic T --count N [--partitions P] [--warm W] [--timeout S]
 *       A bare librdkafka consumer (its defaults; assigned, no group join) reads T from the
 *       start, prints "ready" after W records (default P, one warm-up record per partition),
 *       then takes N more and prints "n N p50 X p99 Y max Z": Kafka timestamp -> consumed here,
 *       in ms. The floor under xborder's latency on the same broker and producer
 *       (tests/bench/run). Exit 1 if fewer than N came within S seconds (default 120).
 *   itest_tool mkconfig --example YAML --out FILE --bootstrap B --url URL --pki DIR --work DIR
 *                       --topic T --group G --root DIR-OF-EXAMPLE
 *       The project's example config with Kafka, every destination's URL/TLS/signing key, keys,
 *       audit, DLQ and state pointed at this test run (written as JSON, which is YAML).
 *       Waits (bounded) until the audit log holds N distinct decision records, every message the
 *       audit says was sent (idempotency_key) is stored by the receiver exactly once, nothing
 *       else is stored, and every record or copy the audit parked is in the DLQ topic with a
 *       reason header. With --group/--topic, also that the group's committed offsets reached the
 *       end of the topic. Prints a summary; exit 0 when all hold, 1 otherwise.
 * Owns nothing outside the test run. Not shipped.
 */
#include <dirent.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/state/audit.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "tests/integration/tool_common.h"

/* Replaces the text of every <Tag>...</Tag> or <p:Tag>...</p:Tag> with repl. */
static void replace_elem(xb_buf *out, const char *in, size_t len, const char *tag, const char *repl)
{
    xb_buf_reset(out);
    size_t tl = strlen(tag), i = 0;
    while (i < len) {
        const char *lt = memchr(in + i, '<', len - i);
        if (!lt) {
            xb_buf_append(out, in + i, len - i);
            break;
        }
        size_t at = (size_t)(lt - in);
        const char *gt = memchr(lt, '>', len - at);
        if (!gt) {
            xb_buf_append(out, in + i, len - i);
            break;
        }
        size_t after = (size_t)(gt - in) + 1;
        xb_buf_append(out, in + i, after - i);
        i = after;
        if (lt[1] == '/' || lt[1] == '?' || lt[1] == '!' || gt[-1] == '/')
            continue;
        /* local name of the element */
        const char *name = lt + 1, *name_end = name;
        while (name_end < gt && *name_end != ' ' && *name_end != '\t' && *name_end != '\n')
            name_end++;
        const char *colon = memchr(name, ':', (size_t)(name_end - name));
        const char *local = colon ? colon + 1 : name;
        if ((size_t)(name_end - local) != tl || memcmp(local, tag, tl) != 0)
            continue;
        const char *next = memchr(in + i, '<', len - i);
        if (!next)
            continue;
        xb_buf_puts(out, repl);
        i = (size_t)(next - in);
    }
}

static void uuid_for(char out[37], const char *run, long i)
{
    unsigned long h = 1469598103934665603ul;
    for (const char *s = run; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ul;
    snprintf(out, 37, "%08lx-%04lx-4%03lx-8%03lx-%012lx", (h >> 32) & 0xfffffffful,
             (h >> 16) & 0xfffful, (unsigned long)(i >> 24) & 0xfff, h & 0xfff,
             (unsigned long)i & 0xffffffffffffUL);
}

static int cmd_produce(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    const char *run = xbt_arg(argc, argv, "--run-id", "run");
    long count = atol(xbt_arg(argc, argv, "--count", "0"));
    int parts = atoi(xbt_arg(argc, argv, "--partitions", "0"));
    long rate = atol(xbt_arg(argc, argv, "--rate", "0")); /* msgs/s, 0 = as fast as possible */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    xb_buf files[64];
    int nf = 0;
    for (int i = 2; i < argc && nf < 64; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            if (strcmp(argv[i], "--no-dlq") != 0)
                i++;
            continue;
        }
        memset(&files[nf], 0, sizeof files[nf]);
        if (xb_buf_read_file(&files[nf], argv[i], 0) < 0) {
            fprintf(stderr, "itest_tool: cannot read %s\n", argv[i]);
            return 1;
        }
        nf++;
    }
    if (!bootstrap || !topic || count <= 0 || nf == 0) {
        fprintf(stderr, "itest_tool produce: --bootstrap, --topic, --count and files needed\n");
        return 2;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    /* Paced: librdkafka's default linger (5 ms), as an upstream producer would have. 1 ms made
     * one produce request per record, and at 1,000 msgs/s that cost the broker 50-87% of a
     * core on the bench machine, CPU that xborder then lacked (issue #8). */
    rd_kafka_conf_set(conf, "linger.ms", rate > 0 ? "5" : "20", NULL, 0);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p) {
        fprintf(stderr, "itest_tool: %s\n", errstr);
        return 1;
    }
    xb_buf a = XB_BUF_INIT, b = XB_BUF_INIT;
    for (long i = 0; i < count; i++) {
        const xb_buf *src = &files[i % nf];
        char uuid[37], msgid[36], key[32];
        uuid_for(uuid, run, i);
        if (snprintf(msgid, sizeof msgid, "%.20s-%ld", run, i) >= (int)sizeof msgid)
            msgid[sizeof msgid - 1] = '\0';
        replace_elem(&a, src->data, src->len, "UETR", uuid);
        replace_elem(&b, a.data, a.len, "MsgId", msgid);
        snprintf(key, sizeof key, "%ld", i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(b.data, b.len),
                RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_PARTITION(parts > 0 ? (int32_t)(i % parts) : RD_KAFKA_PARTITION_UA),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(p, 50);
                continue;
            }
            if (e) {
                fprintf(stderr, "itest_tool: produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            break;
        }
        rd_kafka_poll(p, 0);
        if (rate > 0) { /* pace: record i is due at start + i/rate */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t due_us = (int64_t)(i + 1) * 1000000 / rate;
            int64_t el_us = (int64_t)(now.tv_sec - start.tv_sec) * 1000000 +
                            (now.tv_nsec - start.tv_nsec) / 1000;
            if (due_us > el_us)
                usleep((useconds_t)(due_us - el_us));
        }
    }
    int left = rd_kafka_flush(p, 60000) ? rd_kafka_outq_len(p) : 0;
    rd_kafka_destroy(p);
    xb_buf_free(&a);
    xb_buf_free(&b);
    for (int i = 0; i < nf; i++)
        xb_buf_free(&files[i]);
    if (left) {
        fprintf(stderr, "itest_tool: %d messages not delivered to Kafka\n", left);
        return 1;
    }
    printf("produced %ld records to %s\n", count, topic);
    return 0;
}

/* ---- check ------------------------------------------------------------------------------ */

typedef struct audit_view {
    xbt_strset ids, sent_keys, parked; /* parked: "id|destination" ("id|" for whole records) */
    size_t lines;
} audit_view;

static void read_audit(audit_view *v, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* being written */
        json_t *e = json_loadb(line, (size_t)n, 0, NULL);
        json_t *rec = json_object_get(e, "record");
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (!id) {
            json_decref(e);
            continue;
        }
        v->lines++;
        xbt_set_add(&v->ids, id);
        char pk[600];
        if (json_object_get(rec, "dlq")) {
            snprintf(pk, sizeof pk, "%s|", id);
            xbt_set_add(&v->parked, pk);
        }
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(rec, "outcomes"), i, o)
        {
            const char *dest = json_string_value(json_object_get(o, "destination"));
            if (json_object_get(o, "dlq")) {
                snprintf(pk, sizeof pk, "%s|%s", id, dest ? dest : "");
                xbt_set_add(&v->parked, pk);
            } else if (json_is_string(json_object_get(o, "idempotency_key"))) {
                xbt_set_add(&v->sent_keys,
                            json_string_value(json_object_get(o, "idempotency_key")));
            }
        }
        json_decref(e);
    }
    free(line);
    fclose(f);
    xbt_set_uniq(&v->ids);
    xbt_set_uniq(&v->sent_keys);
    xbt_set_uniq(&v->parked);
}

static int cmd_check(int argc, char **argv)
{
    const char *audit = xbt_arg(argc, argv, "--audit", NULL);
    const char *received = xbt_arg(argc, argv, "--received", NULL);
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *dlq = xbt_arg(argc, argv, "--dlq", NULL);
    const char *group = xbt_arg(argc, argv, "--group", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    size_t expect = (size_t)atol(xbt_arg(argc, argv, "--expect", "0"));
    int timeout = atoi(xbt_arg(argc, argv, "--timeout", "120"));
    bool no_dlq = xbt_flag(argc, argv, "--no-dlq");
    if (!audit || !received || !bootstrap || !dlq || !expect) {
        fprintf(stderr, "itest_tool check: --audit --received --bootstrap --dlq --expect needed\n");
        return 2;
    }
    time_t end = time(NULL) + timeout;
    for (;;) {
        audit_view v;
        memset(&v, 0, sizeof v);
        xbt_strset got = {0}, dlq_pairs = {0};
        read_audit(&v, audit);
        xbt_read_received(&got, received);
        size_t dlq_total = 0;
        size_t no_reason =
            xbt_read_dlq(&dlq_pairs, &dlq_total, bootstrap, dlq, "itest-dlq-reader", 20);
        size_t missing = 0, extra = 0, unparked = 0;
        for (size_t i = 0; i < v.sent_keys.n; i++)
            missing += !xbt_set_has(&got, v.sent_keys.v[i]);
        for (size_t i = 0; i < got.n; i++)
            extra += !xbt_set_has(&v.sent_keys, got.v[i]);
        for (size_t i = 0; i < v.parked.n; i++)
            unparked += !xbt_set_has(&dlq_pairs, v.parked.v[i]);
        int64_t lag = group && topic ? xbt_committed_lag(bootstrap, group, topic, NULL) : 0;
        bool ok = v.ids.n == expect && missing == 0 && extra == 0 && unparked == 0 &&
                  no_reason == 0 && dlq_pairs.n == v.parked.n && (!no_dlq || dlq_total == 0) &&
                  lag == 0;
        if (ok || time(NULL) >= end) {
            printf("records %zu/%zu (audit lines %zu), sent %zu, received %zu (missing %zu, "
                   "unexpected %zu), parked %zu, in DLQ %zu entries / %zu distinct (not found "
                   "%zu, without reason %zu), committed lag %lld\n",
                   v.ids.n, expect, v.lines, v.sent_keys.n, got.n, missing, extra, v.parked.n,
                   dlq_total, dlq_pairs.n, unparked, no_reason, (long long)lag);
            uint64_t chained = 0;
            xb_error err;
            int chain = xb_audit_verify_file(&chained, audit, &err);
            if (chain < 0) {
                printf("audit chain: %s\n", err.message);
                ok = false;
            } else {
                printf("audit chain: %llu entries verified\n", (unsigned long long)chained);
            }
            xbt_set_free(&v.ids);
            xbt_set_free(&v.sent_keys);
            xbt_set_free(&v.parked);
            xbt_set_free(&got);
            xbt_set_free(&dlq_pairs);
            printf("%s\n", ok ? "CHECK OK" : "CHECK FAILED");
            return ok ? 0 : 1;
        }
        xbt_set_free(&v.ids);
        xbt_set_free(&v.sent_keys);
        xbt_set_free(&v.parked);
        xbt_set_free(&got);
        xbt_set_free(&dlq_pairs);
        sleep(2);
    }
}

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The n-th permille of sorted values, picked the way the pipeline's histogram picks it. */
static int64_t permille_of(const int64_t *sorted, long n, long permille)
{
    long want = (n * permille + 999) / 1000;
    return sorted[want > 0 ? want - 1 : 0];
}

static int cmd_latency(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    long count = atol(xbt_arg(argc, argv, "--count", "0"));
    int parts = atoi(xbt_arg(argc, argv, "--partitions", "1"));
    long warm = atol(xbt_arg(argc, argv, "--warm", xbt_arg(argc, argv, "--partitions", "1")));
    int timeout_s = atoi(xbt_arg(argc, argv, "--timeout", "120"));
    if (!bootstrap || !topic || count <= 0 || parts <= 0) {
        fprintf(stderr, "itest_tool latency: --bootstrap, --topic and --count needed\n");
        return 2;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    /* a group id only because librdkafka's consumer poll needs one: assigned, never joined */
    rd_kafka_conf_set(conf, "group.id", "xb-bench-floor", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    int64_t *lat = calloc((size_t)count, sizeof *lat);
    if (!rk || !lat) {
        fprintf(stderr, "itest_tool: %s\n", rk ? "out of memory" : errstr);
        if (rk)
            rd_kafka_destroy(rk);
        free(lat);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long seen = 0, n = 0;
    time_t deadline = time(NULL) + timeout_s;
    while (n < count && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && seen++ >= warm) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            lat[n++] = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
                       rd_kafka_message_timestamp(m, NULL);
        } else if (!m->err && seen == warm) {
            printf("ready\n");
            fflush(stdout);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (n > 0) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_ms);
        printf("n %ld p50 %lld p99 %lld max %lld\n", n, (long long)permille_of(lat, n, 500),
               (long long)permille_of(lat, n, 990), (long long)lat[n - 1]);
    }
    free(lat);
    return n == count ? 0 : 1;
}

static int cmd_create_topic(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    int parts = atoi(xbt_arg(argc, argv, "--partitions", "1"));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, errstr, sizeof errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = (n == 1 &&
              (rd_kafka_topic_result_error(res[0]) == 0 ||
               rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
                 ? 0
                 : 1;
        if (rc)
            fprintf(stderr, "itest_tool: create %s: %s\n", topic,
                    n ? rd_kafka_topic_result_error_string(res[0]) : "no result");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static void write_key(const char *path)
{
    FILE *r = fopen("/dev/urandom", "rb"), *w = fopen(path, "wb");
    unsigned char k[32];
    if (r && w && fread(k, 1, sizeof k, r) == sizeof k)
        fwrite(k, 1, sizeof k, w);
    if (r)
        fclose(r);
    if (w)
        fclose(w);
}

static int cmd_mkconfig(int argc, char **argv)
{
    const char *example = xbt_arg(argc, argv, "--example", NULL),
               *out = xbt_arg(argc, argv, "--out", NULL);
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL),
               *url = xbt_arg(argc, argv, "--url", NULL);
    const char *pki = xbt_arg(argc, argv, "--pki", NULL),
               *work = xbt_arg(argc, argv, "--work", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL),
               *group = xbt_arg(argc, argv, "--group", NULL);
    const char *root = xbt_arg(argc, argv, "--root", ".");
    const char *fsync_mode = xbt_arg(argc, argv, "--fsync", "every");
    if (!example || !out || !bootstrap || !url || !pki || !work || !topic || !group) {
        fprintf(stderr, "itest_tool mkconfig: missing arguments\n");
        return 2;
    }
    json_t *tree;
    xb_error err;
    if (xb_yaml_load_file(&tree, example, &err) < 0) {
        fprintf(stderr, "itest_tool: %s\n", err.message);
        return 1;
    }
    char a[1024], b[1024], c[1024];
    json_object_set_new(tree, "kafka",
                        json_pack("{ss,ss,ss,ss}", "bootstrap.servers", bootstrap, "group.id",
                                  group, "session.timeout.ms", "6000",
                                  "topic.metadata.refresh.interval.ms", "2000"));
    const char *name;
    json_t *d;
    json_object_foreach(json_object_get(tree, "destinations"), name, d)
    {
        json_object_set_new(d, "url", json_string(url));
        snprintf(a, sizeof a, "%s/ca.crt", pki);
        snprintf(b, sizeof b, "%s/client.crt", pki);
        snprintf(c, sizeof c, "%s/client.key", pki);
        json_object_set_new(d, "tls", json_pack("{ss,ss,ss}", "ca", a, "cert", b, "key", c));
        snprintf(a, sizeof a, "%s/sign.key", pki);
        json_object_set_new(d, "sign", json_pack("{ss,ss}", "key", a, "key_id", "itest"));
        json_object_set_new(d, "retry", json_pack("{ss,ss}", "initial_ms", "50", "max_ms", "2000"));
        json_t *ps = json_object_get(d, "pseudo");
        const char *kid = json_string_value(json_object_get(ps, "key_id"));
        const char *ep = json_string_value(json_object_get(ps, "epoch"));
        if (kid && ep) {
            snprintf(a, sizeof a, "%s/keys/%s.%s.key", work, kid, ep);
            write_key(a);
        }
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(tree, "routes"), i, r)
    {
        json_object_set_new(r, "topics", json_pack("[s]", topic));
        json_t *rates = json_object_get(json_object_get(r, "settle"), "rates");
        const char *rf = json_string_value(json_object_get(rates, "file"));
        if (rf && rf[0] != '/') {
            snprintf(a, sizeof a, "%s/%s", root, rf);
            json_object_set_new(rates, "file", json_string(a));
        }
    }
    /* issue #5: a route's settle.rates.file is relative to the example, like the catalogs. */
    json_array_foreach(json_object_get(tree, "routes"), i, r)
    {
        json_t *rates = json_object_get(json_object_get(r, "settle"), "rates");
        const char *rf = json_string_value(json_object_get(rates, "file"));
        if (rf && rf[0] != '/') {
            snprintf(a, sizeof a, "%s/%s", root, rf);
            json_object_set_new(rates, "file", json_string(a));
        }
    }
    json_t *pol = json_object_get(tree, "policy");
    json_t *cats = json_object_get(pol, "catalogs");
    json_t *cat;
    json_array_foreach(cats, i, cat)
    {
        const char *cp = json_string_value(cat);
        if (cp && cp[0] != '/') {
            snprintf(a, sizeof a, "%s/%s", root, cp);
            json_array_set_new(cats, i, json_string(a));
        }
    }
    json_t *pub = json_object_get(pol, "catalog_pubkey");
    if (json_is_string(pub) && json_string_value(pub)[0] != '/') {
        snprintf(a, sizeof a, "%s/%s", root, json_string_value(pub));
        json_object_set_new(pol, "catalog_pubkey", json_string(a));
    }
    snprintf(a, sizeof a, "%s/keys", work);
    json_object_set_new(pol, "keys", json_string(a));
    snprintf(a, sizeof a, "%s/keys/counter.key", work);
    json_object_set_new(pol, "counter_key", json_string(a));
    snprintf(a, sizeof a, "%s/keys/counter.key", work);
    write_key(a);
    snprintf(a, sizeof a, "%s/audit.log", work);
    snprintf(b, sizeof b, "%s.audit", topic);
    json_object_set_new(tree, "audit",
                        json_pack("{ss,ss,ss}", "file", a, "topic", b, "fsync", fsync_mode));
    snprintf(b, sizeof b, "%s.dlq", topic);
    json_object_set_new(tree, "dlq", json_pack("{ss}", "topic", b));
    snprintf(a, sizeof a, "sqlite:%s/state.db", work);
    json_object_set_new(tree, "state", json_pack("{ss}", "store", a));
    json_object_set_new(tree, "metrics", json_pack("{ss}", "listen", "127.0.0.1:0"));
    json_object_set_new(tree, "log", json_pack("{ss}", "level", "info"));
    json_object_set_new(tree, "pipeline",
                        json_pack("{ss,ss,ss}", "commit_interval_ms", "500", "drain_timeout_ms",
                                  "20000", "max_outstanding", "500"));
    int rc = json_dump_file(tree, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(tree);
    return rc ? 1 : 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
    uint64_t n = 0;
    xb_error err;
    if (argc < 3 || xb_audit_verify_file(&n, argv[2], &err) < 0) {
        fprintf(stderr, "audit-verify: %s\n", argc < 3 ? "FILE needed" : err.message);
        return 1;
    }
    printf("%llu\n", (unsigned long long)n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "audit-verify"))
        return cmd_audit_verify(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "latency"))
        return cmd_latency(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "create-topic"))
        return cmd_create_topic(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "mkconfig"))
        return cmd_mkconfig(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "produce"))
        return cmd_produce(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "check"))
        return cmd_check(argc, argv);
    fprintf(stderr, "usage: itest_tool produce|check ... (see the file's header)\n");
    return 2;
}
