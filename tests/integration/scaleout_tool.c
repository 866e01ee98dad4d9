/* scaleout_tool.c — helper for the scale-out tests and benchmark (issue #10).
 *
 *   scaleout_tool produce --bootstrap B --topic T --count N --persons P --template FILE
 *                         --run-id R
 *       N pacs.008 records made from FILE (an individual-to-individual transfer whose only PI is
 *       the two parties' names): record i's debtor is person i, its creditor person
 *       N + (i mod (P - N)), so the run holds exactly P distinct persons (N debtors seen once,
 *       P - N creditors seen about N / (P - N) times each). Names are Chinese (UTF-8) with the
 *       person's number; UETR, MsgId and BizMsgIdr are unique per record. Keyed by i.
 *   scaleout_tool topic --bootstrap B --topic T --partitions P
 *       Creates the topic (replication 1); an existing one is fine.
 *   scaleout_tool sql DB.sqlite "SQL;..."
 *       Runs SQL on a SQLite file and prints each row's columns joined by '|' (the test's checks
 *       on the SQLite default, without needing the sqlite3 CLI).
 *   scaleout_tool lag --bootstrap B --group G --topic T
 *       Prints the group's committed lag over every partition (-1 when unknown).
 * Owns nothing outside the test run. Not shipped.
 */
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/integration/tool_common.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

/* The template split around the five values a record changes, in document order:
 * piece[0] value0 piece[1] value1 ... value4 piece[5]. */
typedef struct tmpl {
    const char *piece[6];
    size_t len[6];
} tmpl;

/* The text span of the first <tag>...</tag> at or after from. */
static int span(const char **vs, const char **ve, const char *from, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *o = from ? strstr(from, open) : NULL;
    if (!o)
        return -1;
    *vs = o + strlen(open);
    *ve = strstr(*vs, close);
    return *ve ? 0 : -1;
}

static int split(tmpl *t, const char *doc)
{
    const char *vs[5], *ve[5];
    if (span(&vs[0], &ve[0], doc, "BizMsgIdr") || span(&vs[1], &ve[1], ve[0], "MsgId") ||
        span(&vs[2], &ve[2], ve[1], "UETR") ||
        span(&vs[3], &ve[3], strstr(ve[2], "<Dbtr>"), "Nm") ||
        span(&vs[4], &ve[4], strstr(ve[3], "<Cdtr>"), "Nm"))
        return -1;
    const char *at = doc;
    for (int k = 0; k < 5; k++) {
        t->piece[k] = at;
        t->len[k] = (size_t)(vs[k] - at);
        at = ve[k];
    }
    t->piece[5] = at;
    t->len[5] = strlen(at);
    return 0;
}

static int cmd_produce(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    const char *path = xbt_arg(argc, argv, "--template", NULL);
    const char *run = xbt_arg(argc, argv, "--run-id", "run");
    long n = atol(xbt_arg(argc, argv, "--count", "0"));
    long persons = atol(xbt_arg(argc, argv, "--persons", "0"));
    if (!bootstrap || !topic || !path || n <= 0 || persons <= n) {
        fprintf(stderr, "produce: --bootstrap --topic --template --count N --persons P (P > N)\n");
        return 2;
    }
    size_t len = 0;
    char *doc = slurp(path, &len);
    tmpl t;
    if (!doc || split(&t, doc) < 0) {
        fprintf(stderr, "produce: %s is not a pacs.008 template with Dbtr/Cdtr names\n", path);
        return 1;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "20", NULL, 0);
    rd_kafka_conf_set(conf, "compression.codec", "lz4", NULL, 0);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "200000", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "produce: %s\n", errstr);
        return 1;
    }
    unsigned h = 2166136261u; /* FNV-1a of the run id: makes UETRs unique per run */
    for (const char *c = run; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    char *buf = malloc(len + 512);
    long extra = persons - n;
    for (long i = 0; i < n; i++) {
        char id[48], uetr[48], dn[48], cn[48];
        snprintf(id, sizeof id, "SO%08X%09ld", h, i);
        snprintf(uetr, sizeof uetr, "%08x-%04lx-4%03lx-8%03lx-%012lx", h, (i >> 24) & 0xffff,
                 (i >> 12) & 0xfff, i & 0xfff, i);
        snprintf(dn, sizeof dn, "张伟%07ld", i);
        snprintf(cn, sizeof cn, "李娜%07ld", n + i % extra);
        const char *vals[5] = {id, id, uetr, dn, cn};
        size_t o = 0;
        for (int k = 0; k < 5; k++) {
            memcpy(buf + o, t.piece[k], t.len[k]);
            o += t.len[k];
            size_t vl = strlen(vals[k]);
            memcpy(buf + o, vals[k], vl);
            o += vl;
        }
        memcpy(buf + o, t.piece[5], t.len[5]);
        o += t.len[5];
        char key[24];
        snprintf(key, sizeof key, "%ld", i);
        for (;;) {
            rd_kafka_resp_err_t e =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, o),
                                  RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 50);
                continue;
            }
            if (e) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    int left = rd_kafka_flush(rk, 120000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
    rd_kafka_destroy(rk);
    free(buf);
    free(doc);
    printf("produced %ld records, %ld distinct persons\n", n, persons);
    return left;
}

static int cmd_topic(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    int parts = atoi(xbt_arg(argc, argv, "--partitions", "1"));
    if (!bootstrap || !topic || parts < 1)
        return 2;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        return 1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, errstr, sizeof errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
        rc = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? 0 : 1;
        if (rc)
            fprintf(stderr, "topic %s: %s\n", topic, rd_kafka_err2str(e));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static int cmd_lag(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *group = xbt_arg(argc, argv, "--group", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    if (!bootstrap || !group || !topic)
        return 2;
    long long lag = (long long)xbt_committed_lag(bootstrap, group, topic, NULL);
    printf("%lld\n", lag);
    return lag < 0 ? 1 : 0;
}

static int print_row(void *ctx, int n, char **vals, char **names)
{
    (void)ctx;
    (void)names;
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", vals[i] ? vals[i] : "");
    printf("\n");
    return 0;
}

static int cmd_sql(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "sql: cannot open %s\n", argv[1]);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 10000);
    int rc = sqlite3_exec(db, argv[2], print_row, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql: %s\n", msg ? msg : "error");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: scaleout_tool produce|lag ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "produce"))
        return cmd_produce(argc - 1, argv + 1);
    if (!strcmp(argv[1], "topic"))
        return cmd_topic(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sql"))
        return cmd_sql(argc - 1, argv + 1);
    if (!strcmp(argv[1], "lag"))
        return cmd_lag(argc - 1, argv + 1);
    fprintf(stderr, "scaleout_tool: unknown command %s\n", argv[1]);
    return 2;
}
