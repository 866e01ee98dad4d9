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

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static bool flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

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
    const char *bootstrap = arg(argc, argv, "--bootstrap", NULL);
    const char *topic = arg(argc, argv, "--topic", NULL);
    const char *run = arg(argc, argv, "--run-id", "run");
    long count = atol(arg(argc, argv, "--count", "0"));
    int parts = atoi(arg(argc, argv, "--partitions", "0"));
    long rate = atol(arg(argc, argv, "--rate", "0")); /* msgs/s, 0 = as fast as possible */
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
    rd_kafka_conf_set(conf, "linger.ms", rate > 0 ? "1" : "20", NULL, 0);
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

typedef struct strset {
    char **v;
    size_t n, cap;
} strset;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_add(strset *s, const char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strdup(v);
}

/* Sorts and removes duplicates; returns how many duplicates there were. */
static size_t set_uniq(strset *s)
{
    if (!s->n)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp_str);
    size_t w = 1, dups = 0;
    for (size_t r = 1; r < s->n; r++) {
        if (!strcmp(s->v[r], s->v[w - 1])) {
            free(s->v[r]);
            dups++;
        } else
            s->v[w++] = s->v[r];
    }
    s->n = w;
    return dups;
}

static bool set_has(const strset *s, const char *v)
{
    /* s->v is NULL while the set is empty: bsearch must not see it */
    return s->n && bsearch(&v, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static void set_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct audit_view {
    strset ids, sent_keys, parked; /* parked: "id|destination" ("id|" for whole records) */
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
        set_add(&v->ids, id);
        char pk[600];
        if (json_object_get(rec, "dlq")) {
            snprintf(pk, sizeof pk, "%s|", id);
            set_add(&v->parked, pk);
        }
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(rec, "outcomes"), i, o)
        {
            const char *dest = json_string_value(json_object_get(o, "destination"));
            if (json_object_get(o, "dlq")) {
                snprintf(pk, sizeof pk, "%s|%s", id, dest ? dest : "");
                set_add(&v->parked, pk);
            } else if (json_is_string(json_object_get(o, "idempotency_key"))) {
                set_add(&v->sent_keys, json_string_value(json_object_get(o, "idempotency_key")));
            }
        }
        json_decref(e);
    }
    free(line);
    fclose(f);
    set_uniq(&v->ids);
    set_uniq(&v->sent_keys);
    set_uniq(&v->parked);
}

static void read_received(strset *s, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/messages", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".xml")) {
            e->d_name[n - 4] = '\0';
            set_add(s, e->d_name);
        }
    }
    if (d)
        closedir(d);
    set_uniq(s);
}

/* Reads the whole DLQ topic; every entry must carry xb-reason. Returns entries without a reason. */
static size_t read_dlq(strset *parked, size_t *total, const char *bootstrap, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", "itest-dlq-reader", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_poll_set_consumer(c);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    size_t no_reason = 0;
    *total = 0;
    if (rd_kafka_metadata(c, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 && !md->topics[0].err) {
        int np = md->topics[0].partition_cnt;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
        for (int i = 0; i < np; i++)
            rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        int eofs = 0;
        time_t end = time(NULL) + 20;
        while (eofs < np && time(NULL) < end) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                eofs++;
            else if (!m->err) {
                (*total)++;
                rd_kafka_headers_t *h = NULL;
                const void *reason = NULL, *id = NULL, *dest = NULL;
                size_t rl = 0, il = 0, dl = 0;
                rd_kafka_message_headers(m, &h);
                if (!h || rd_kafka_header_get_last(h, "xb-reason", &reason, &rl) || rl == 0)
                    no_reason++;
                if (h && !rd_kafka_header_get_last(h, "xb-decision-id", &id, &il)) {
                    char pk[600];
                    if (h && rd_kafka_header_get_last(h, "xb-destination", &dest, &dl))
                        dl = 0;
                    snprintf(pk, sizeof pk, "%.*s|%.*s", (int)il, (const char *)id, (int)dl,
                             dest ? (const char *)dest : "");
                    set_add(parked, pk);
                }
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    set_uniq(parked);
    return no_reason;
}

static int64_t committed_lag(const char *bootstrap, const char *group, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    int64_t lag = -1;
    if (rd_kafka_metadata(c, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1) {
        int np = md->topics[0].partition_cnt;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
        for (int i = 0; i < np; i++)
            rd_kafka_topic_partition_list_add(l, topic, i);
        if (rd_kafka_committed(c, l, 10000) == 0) {
            lag = 0;
            for (int i = 0; i < np; i++) {
                int64_t lo, hi;
                rd_kafka_query_watermark_offsets(c, topic, i, &lo, &hi, 5000);
                int64_t at = l->elems[i].offset < 0 ? lo : l->elems[i].offset;
                lag += hi - at;
            }
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(c);
    return lag;
}

static int cmd_check(int argc, char **argv)
{
    const char *audit = arg(argc, argv, "--audit", NULL);
    const char *received = arg(argc, argv, "--received", NULL);
    const char *bootstrap = arg(argc, argv, "--bootstrap", NULL);
    const char *dlq = arg(argc, argv, "--dlq", NULL);
    const char *group = arg(argc, argv, "--group", NULL);
    const char *topic = arg(argc, argv, "--topic", NULL);
    size_t expect = (size_t)atol(arg(argc, argv, "--expect", "0"));
    int timeout = atoi(arg(argc, argv, "--timeout", "120"));
    bool no_dlq = flag(argc, argv, "--no-dlq");
    if (!audit || !received || !bootstrap || !dlq || !expect) {
        fprintf(stderr, "itest_tool check: --audit --received --bootstrap --dlq --expect needed\n");
        return 2;
    }
    time_t end = time(NULL) + timeout;
    for (;;) {
        audit_view v;
        memset(&v, 0, sizeof v);
        strset got = {0}, dlq_pairs = {0};
        read_audit(&v, audit);
        read_received(&got, received);
        size_t dlq_total = 0;
        size_t no_reason = read_dlq(&dlq_pairs, &dlq_total, bootstrap, dlq);
        size_t missing = 0, extra = 0, unparked = 0;
        for (size_t i = 0; i < v.sent_keys.n; i++)
            missing += !set_has(&got, v.sent_keys.v[i]);
        for (size_t i = 0; i < got.n; i++)
            extra += !set_has(&v.sent_keys, got.v[i]);
        for (size_t i = 0; i < v.parked.n; i++)
            unparked += !set_has(&dlq_pairs, v.parked.v[i]);
        int64_t lag = group && topic ? committed_lag(bootstrap, group, topic) : 0;
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
            set_free(&v.ids);
            set_free(&v.sent_keys);
            set_free(&v.parked);
            set_free(&got);
            set_free(&dlq_pairs);
            printf("%s\n", ok ? "CHECK OK" : "CHECK FAILED");
            return ok ? 0 : 1;
        }
        set_free(&v.ids);
        set_free(&v.sent_keys);
        set_free(&v.parked);
        set_free(&got);
        set_free(&dlq_pairs);
        sleep(2);
    }
}

static int cmd_create_topic(int argc, char **argv)
{
    const char *bootstrap = arg(argc, argv, "--bootstrap", NULL);
    const char *topic = arg(argc, argv, "--topic", NULL);
    int parts = atoi(arg(argc, argv, "--partitions", "1"));
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
    const char *example = arg(argc, argv, "--example", NULL), *out = arg(argc, argv, "--out", NULL);
    const char *bootstrap = arg(argc, argv, "--bootstrap", NULL),
               *url = arg(argc, argv, "--url", NULL);
    const char *pki = arg(argc, argv, "--pki", NULL), *work = arg(argc, argv, "--work", NULL);
    const char *topic = arg(argc, argv, "--topic", NULL), *group = arg(argc, argv, "--group", NULL);
    const char *root = arg(argc, argv, "--root", ".");
    const char *fsync_mode = arg(argc, argv, "--fsync", "every");
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
