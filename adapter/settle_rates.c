/* settle_rates.c — reads a whole Kafka topic for the settle stage: CFETS fixings into an FX
 * table, or pacs.002 status reports into the ledger (through a record callback).
 *
 * Owns: one short-lived librdkafka consumer that reads every partition of a topic from the
 * beginning to the end it had when we started (its high watermark); for rates, each record value
 * is a CSV buffer in valuation/fx.h notation. No consumer group offsets are committed: the topic is
 * read whole on every load, so a restart sees exactly the same rates.
 * Never: keeps the consumer past the load, guesses rates, or reads past the watermarks it took.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/settle.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rd_kafka_t *new_consumer(const char *bootstrap, xb_error *err)
{
    char errstr[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof group, "xborder-rates-%ld", (long)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        xb_error_set(err, XB_ECONFIG, NULL, "rates consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        xb_error_set(err, XB_EIO, NULL, "rates consumer: %s", errstr);
        return NULL;
    }
    return rk;
}

/* Builds the assignment (every partition with something in it, from the beginning) and the
 * per-partition end offsets to read to. */
static int plan(rd_kafka_topic_partition_list_t **out, int64_t **ends, int32_t **ids, int *n,
                rd_kafka_t *rk, const char *topic, int timeout_ms, xb_error *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err) {
        int code = md && md->topic_cnt == 1 ? md->topics[0].err : e;
        if (md)
            rd_kafka_metadata_destroy(md);
        return xb_error_set(err, XB_ENOTFOUND, NULL, "rates topic %s: %s", topic,
                            rd_kafka_err2str((rd_kafka_resp_err_t)code));
    }
    int np = md->topics[0].partition_cnt;
    *out = rd_kafka_topic_partition_list_new(np > 0 ? np : 1);
    *ends = calloc((size_t)(np > 0 ? np : 1), sizeof **ends);
    *ids = calloc((size_t)(np > 0 ? np : 1), sizeof **ids);
    *n = np;
    for (int i = 0; i < np; i++) {
        int32_t part = md->topics[0].partitions[i].id;
        (*ids)[i] = part;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, timeout_ms);
        if (e) {
            rd_kafka_metadata_destroy(md);
            return xb_error_set(err, XB_EIO, NULL, "rates topic %s[%d]: %s", topic, part,
                                rd_kafka_err2str(e));
        }
        (*ends)[i] = hi;
        if (hi > lo)
            rd_kafka_topic_partition_list_add(*out, topic, part)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        else
            (*ends)[i] = -1; /* nothing to read */
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* True when every partition with records has been read up to its end offset. */
static int done_all(const int64_t *next, const int64_t *ends, int n)
{
    for (int i = 0; i < n; i++)
        if (ends[i] >= 0 && next[i] < ends[i])
            return 0;
    return 1;
}

static int consume(xb_settle_record_fn cb, void *ctx, rd_kafka_t *rk, const char *topic,
                   const int64_t *ends, const int32_t *ids, int n, long long deadline,
                   xb_error *err)
{
    int64_t *next = calloc((size_t)(n > 0 ? n : 1), sizeof *next);
    int rc = 0;
    while (rc == 0 && !done_all(next, ends, n)) {
        if (now_ms() > deadline) {
            rc = xb_error_set(err, XB_EIO, NULL, "rates topic %s: not read to its end in time",
                              topic);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rc = xb_error_set(err, XB_EIO, NULL, "rates topic %s: %s", topic,
                                  rd_kafka_message_errstr(m));
        } else {
            for (int i = 0; i < n; i++)
                if (ids[i] == m->partition && m->offset + 1 > next[i])
                    next[i] = m->offset + 1;
            char name[300];
            snprintf(name, sizeof name, "%s[%d]@%lld", topic, (int)m->partition,
                     (long long)m->offset);
            if (m->len)
                rc = cb(ctx, m->payload, m->len, name, err);
        }
        rd_kafka_message_destroy(m);
    }
    free(next);
    return rc;
}

static int load_rates_record(void *ctx, const char *data, size_t len, const char *name,
                             xb_error *err)
{
    return xb_fx_load_buffer(ctx, data, len, name, err);
}

int xb_settle_rates_from_topic(xb_fx_table *t, const char *bootstrap, const char *topic,
                               int timeout_ms, xb_error *err)
{
    return xb_settle_topic_read(bootstrap, topic, timeout_ms, load_rates_record, t, err);
}

int xb_settle_topic_read(const char *bootstrap, const char *topic, int timeout_ms,
                         xb_settle_record_fn cb, void *ctx, xb_error *err)
{
    long long deadline = now_ms() + timeout_ms;
    rd_kafka_t *rk = new_consumer(bootstrap, err);
    if (!rk)
        return err ? err->code : XB_EIO;
    rd_kafka_topic_partition_list_t *assign = NULL;
    int64_t *ends = NULL;
    int n = 0;
    int32_t *ids = NULL;
    int rc = plan(&assign, &ends, &ids, &n, rk, topic, timeout_ms, err);
    if (rc == 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, assign);
        if (e)
            rc = xb_error_set(err, XB_EIO, NULL, "rates topic %s: %s", topic, rd_kafka_err2str(e));
    }
    if (rc == 0)
        rc = consume(cb, ctx, rk, topic, ends, ids, n, deadline, err);
    if (assign)
        rd_kafka_topic_partition_list_destroy(assign);
    free(ends);
    free(ids);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
