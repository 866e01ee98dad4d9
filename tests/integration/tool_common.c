/* tool_common.c — the counting helpers shared by the test tools (see tool_common.h).
 * Owns nothing outside the test run. Not shipped.
 */
#include "tests/integration/tool_common.h"

#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *xbt_arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

bool xbt_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

/* ---- sorted string sets ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void xbt_set_add(xbt_strset *s, const char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    if ((s->v[s->n++] = strdup(v)) == NULL)
        abort();
}

size_t xbt_set_uniq(xbt_strset *s)
{
    if (!s->n)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp_str);
    size_t w = 1, repeats = 0;
    for (size_t r = 1; r < s->n; r++) {
        if (!strcmp(s->v[r], s->v[w - 1])) {
            free(s->v[r]);
            repeats++;
        } else {
            s->v[w++] = s->v[r];
        }
    }
    s->n = w;
    return repeats;
}

bool xbt_set_has(const xbt_strset *s, const char *v)
{
    /* s->v is NULL while the set is empty: bsearch must not see it */
    return s->n && bsearch(&v, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

void xbt_set_free(xbt_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- what the receiver holds --------------------------------------------------------------- */

void xbt_read_received(xbt_strset *out, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/messages", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        /* a dot file is the receiver's temporary name for a message not yet renamed in place */
        if (n > 4 && e->d_name[0] != '.' && !strcmp(e->d_name + n - 4, ".xml")) {
            e->d_name[n - 4] = '\0';
            xbt_set_add(out, e->d_name);
        }
    }
    if (d)
        closedir(d);
    xbt_set_uniq(out);
}

/* ---- Kafka: the DLQ and the group's progress ---------------------------------------------- */

static rd_kafka_t *consumer(const char *bootstrap, const char *group, bool reader)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
    if (reader) {
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
    }
    return rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
}

/* Counts one DLQ entry; returns 1 when it has no reason header. */
static size_t note_dlq_entry(xbt_strset *parked, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *reason = NULL, *id = NULL, *dest = NULL;
    size_t rl = 0, il = 0, dl = 0;
    rd_kafka_message_headers(m, &h);
    size_t no_reason = !h || rd_kafka_header_get_last(h, "xb-reason", &reason, &rl) || rl == 0;
    if (h && !rd_kafka_header_get_last(h, "xb-decision-id", &id, &il)) {
        char pk[1200];
        if (rd_kafka_header_get_last(h, "xb-destination", &dest, &dl))
            dl = 0;
        snprintf(pk, sizeof pk, "%.*s|%.*s", (int)il, (const char *)id, (int)dl,
                 dest ? (const char *)dest : "");
        xbt_set_add(parked, pk);
    }
    return no_reason;
}

size_t xbt_read_dlq(xbt_strset *parked, size_t *total, const char *bootstrap, const char *topic,
                    const char *group, int timeout_s)
{
    *total = 0;
    rd_kafka_t *c = consumer(bootstrap, group, true);
    if (!c)
        return 1;
    rd_kafka_poll_set_consumer(c);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    size_t no_reason = 0;
    if (rd_kafka_metadata(c, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 && !md->topics[0].err) {
        int np = md->topics[0].partition_cnt;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
        for (int i = 0; i < np; i++)
            rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        int eofs = 0;
        time_t end = time(NULL) + timeout_s;
        while (eofs < np && time(NULL) < end) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                eofs++;
            } else if (!m->err) {
                (*total)++;
                no_reason += note_dlq_entry(parked, m);
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    xbt_set_uniq(parked);
    return no_reason;
}

int64_t xbt_committed_lag(const char *bootstrap, const char *group, const char *topic,
                          int64_t *done_out)
{
    rd_kafka_t *c = consumer(bootstrap, group, false);
    if (!c)
        return -1;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    int64_t lag = -1, done = 0;
    if (rd_kafka_metadata(c, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1) {
        int np = md->topics[0].partition_cnt;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
        for (int i = 0; i < np; i++)
            rd_kafka_topic_partition_list_add(l, topic, i);
        if (np > 0 && rd_kafka_committed(c, l, 10000) == 0) {
            lag = 0;
            for (int i = 0; i < np; i++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_query_watermark_offsets(c, topic, i, &lo, &hi, 5000);
                int64_t at = l->elems[i].offset < 0 ? lo : l->elems[i].offset;
                lag += hi - at;
                done += at - lo;
            }
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(c);
    if (done_out)
        *done_out += done;
    return lag;
}
