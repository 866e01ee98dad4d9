/* source_kafka.c — consumer group, per-partition watermarks, commits, rebalances, pause/resume.
 *
 * Owns: the rd_kafka_t consumer and a small table of assigned partitions (a consumer holds tens
 * of partitions, so a linear table with a last-hit cache beats a hash map here).
 * Never: commits an offset that is not a watermark commit point; never commits before the
 * pre_commit hook (audit durability) succeeded.
 */
#include "adapter/transport/source_kafka.h"

#include <stdlib.h>
#include <string.h>

#include "adapter/log.h"
#include "adapter/transport/watermark.h"

/* queued.max.messages.kbytes unless configured (librdkafka's own default: 65536) */
#define XB_SOURCE_QUEUED_KBYTES "8192"

typedef struct part {
    char *topic;
    int32_t partition;
    uint64_t gen;
    xb_wm wm;
    bool paused; /* backpressure pause (hold is separate) */
} part;

struct xb_source {
    rd_kafka_t *rk;
    part *parts;
    size_t n_parts, cap_parts;
    size_t last_hit;
    uint64_t gen_counter;
    unsigned max_outstanding;
    bool hold;
    xb_source_pre_commit_fn pre_commit;
    void *ctx;
};

static part *find_part(xb_source *src, const char *topic, int32_t partition)
{
    if (src->last_hit < src->n_parts) {
        part *p = &src->parts[src->last_hit];
        if (p->partition == partition && !strcmp(p->topic, topic))
            return p;
    }
    for (size_t i = 0; i < src->n_parts; i++)
        if (src->parts[i].partition == partition && !strcmp(src->parts[i].topic, topic)) {
            src->last_hit = i;
            return &src->parts[i];
        }
    return NULL;
}

static void add_part(xb_source *src, const char *topic, int32_t partition)
{
    if (find_part(src, topic, partition))
        return;
    if (src->n_parts == src->cap_parts) {
        size_t ncap = src->cap_parts ? src->cap_parts * 2 : 16;
        part *np = realloc(src->parts, ncap * sizeof *np);
        if (!np)
            abort(); /* cannot track a partition: continuing would risk committing past work */
        src->parts = np;
        src->cap_parts = ncap;
    }
    part *p = &src->parts[src->n_parts++];
    memset(p, 0, sizeof *p);
    p->topic = strdup(topic);
    p->partition = partition;
    p->gen = ++src->gen_counter;
    xb_wm_init(&p->wm);
}

static void remove_part(xb_source *src, const char *topic, int32_t partition)
{
    part *p = find_part(src, topic, partition);
    if (!p)
        return;
    free(p->topic);
    xb_wm_free(&p->wm);
    *p = src->parts[--src->n_parts];
    src->last_hit = 0;
}

static void set_paused(xb_source *src, const char *topic, int32_t partition, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    if (pause)
        rd_kafka_pause_partitions(src->rk, l);
    else
        rd_kafka_resume_partitions(src->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commits the dirty watermarks of the given partitions (all when which == NULL). */
static int commit_parts(xb_source *src, const rd_kafka_topic_partition_list_t *which, bool sync)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)src->n_parts + 1);
    for (size_t i = 0; i < src->n_parts; i++) {
        part *p = &src->parts[i];
        if (!xb_wm_dirty(&p->wm))
            continue;
        if (which && !rd_kafka_topic_partition_list_find(which, p->topic, p->partition))
            continue;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            xb_wm_commit_point(&p->wm);
    }
    int rc = 0;
    if (l->cnt > 0) {
        if (src->pre_commit && src->pre_commit(src->ctx) != 0) {
            xb_log(XB_LOG_ERROR, "kafka.commit_skipped",
                   "pre-commit hook failed (audit not durable); offsets not committed");
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        rd_kafka_resp_err_t e = rd_kafka_commit(src->rk, l, sync ? 0 : 1);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            xb_log(XB_LOG_WARN, "kafka.commit_failed", "commit: %s", rd_kafka_err2str(e));
            rc = -1;
        } else {
            for (int i = 0; i < l->cnt; i++) {
                part *p = find_part(src, l->elems[i].topic, l->elems[i].partition);
                if (p)
                    xb_wm_mark_committed(&p->wm, l->elems[i].offset);
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void log_parts(const char *event, const rd_kafka_topic_partition_list_t *parts)
{
    json_t *arr = json_array();
    for (int i = 0; i < parts->cnt; i++)
        json_array_append_new(
            arr, json_sprintf("%s[%d]", parts->elems[i].topic, (int)parts->elems[i].partition));
    xb_log_event(XB_LOG_INFO, event, json_pack("{so}", "partitions", arr));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    xb_source *src = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_parts("kafka.assigned", parts);
        for (int i = 0; i < parts->cnt; i++)
            add_part(src, parts->elems[i].topic, parts->elems[i].partition);
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (src->hold)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    log_parts("kafka.revoked", parts);
    /* Finished work is committed; unfinished work is redelivered to the new owner. When the
     * assignment was lost (session timeout), a commit would be refused: skip it. */
    if (!rd_kafka_assignment_lost(rk))
        commit_parts(src, parts, true);
    /* librdkafka keeps a partition's pause flag on its toppar across revoke and re-assignment
     * (issue #9's rebalance stall: a partition paused for backpressure or hold when it was
     * revoked came back paused, while its fresh bookkeeping here said "not paused", so nothing
     * ever resumed it). Resume while it is still assigned; the assign path pauses again if the
     * source is on hold. */
    rd_kafka_resume_partitions(rk, parts);
    for (int i = 0; i < parts->cnt; i++)
        remove_part(src, parts->elems[i].topic, parts->elems[i].partition);
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    xb_source *src = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    xb_log(XB_LOG_WARN, "kafka.commit_failed", "commit: %s (will retry)", rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        part *p = find_part(src, offsets->elems[i].topic, offsets->elems[i].partition);
        if (p)
            xb_wm_mark_committed(&p->wm, -1); /* dirty again: the next commit retries */
    }
}

static int user_set(const xb_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka.n_common; i++)
        if (!strcmp(cfg->kafka.common[i].key, key))
            return 1;
    for (size_t i = 0; i < cfg->kafka.n_consumer; i++)
        if (!strcmp(cfg->kafka.consumer[i].key, key))
            return 1;
    return 0;
}

int xb_source_new(xb_source **out, const xb_config *cfg, const xb_kafka_env *env,
                  const xb_source_opts *opts, xb_error *err)
{
    *out = NULL;
    rd_kafka_conf_t *conf;
    int rc = xb_kafka_conf_build(&conf, cfg, env, XB_KAFKA_CONSUMER, err);
    if (rc < 0)
        return rc;
    xb_source *src = calloc(1, sizeof *src);
    if (!src) {
        rd_kafka_conf_destroy(conf);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    src->max_outstanding = opts && opts->max_outstanding ? opts->max_outstanding : 500;
    src->pre_commit = opts ? opts->pre_commit : NULL;
    src->ctx = opts ? opts->ctx : NULL;
    char errstr[512];
    if (!user_set(cfg, "auto.offset.reset"))
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
    /* Bounded read-ahead: librdkafka's default prefetch queue is up to 64 MB, most of xborder's
     * RSS over a long run (tests/bench/RESULTS.md, "RSS over a long run": 88-140 MB with it,
     * 44-52 MB at 8 MB, the same throughput). A configured value wins. */
    if (!user_set(cfg, "queued.max.messages.kbytes"))
        rd_kafka_conf_set(conf, "queued.max.messages.kbytes", XB_SOURCE_QUEUED_KBYTES, NULL, 0);
    if (rd_kafka_conf_set(conf, "group.id", cfg->kafka.group_id, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        free(src);
        return xb_error_set(err, XB_ECONFIG, "kafka", "kafka consumer: %s", errstr);
    }
    rd_kafka_conf_set_opaque(conf, src);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!src->rk) {
        rd_kafka_conf_destroy(conf);
        free(src);
        return xb_error_set(err, XB_ECONFIG, "kafka", "kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(src->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
    for (size_t i = 0; i < cfg->n_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(src->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        xb_source_close(src);
        return xb_error_set(err, XB_EIO, "routes", "kafka subscribe: %s", rd_kafka_err2str(e));
    }
    *out = src;
    return 0;
}

void xb_source_close(xb_source *src)
{
    if (!src)
        return;
    commit_parts(src, NULL, true);
    rd_kafka_consumer_close(src->rk); /* runs the revoke callback: commits again, drops state */
    rd_kafka_destroy(src->rk);
    for (size_t i = 0; i < src->n_parts; i++) {
        free(src->parts[i].topic);
        xb_wm_free(&src->parts[i].wm);
    }
    free(src->parts);
    free(src);
}

rd_kafka_message_t *xb_source_poll(xb_source *src, int timeout_ms, uint64_t *gen)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(src->rk, timeout_ms);
    if (!m)
        return NULL;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            xb_log(XB_LOG_WARN, "kafka.consume_error", "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return NULL;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    part *p = find_part(src, topic, m->partition);
    /* No state (not assigned any more) or an offset already tracked: not ours to process now;
     * it is not committed, so it is delivered again where it belongs. */
    if (!p || xb_wm_track(&p->wm, m->offset) < 0) {
        rd_kafka_message_destroy(m);
        return NULL;
    }
    *gen = p->gen;
    if (!p->paused && xb_wm_outstanding(&p->wm) > src->max_outstanding) {
        p->paused = true;
        if (!src->hold)
            set_paused(src, p->topic, p->partition, true);
        xb_log_event(XB_LOG_DEBUG, "kafka.paused",
                     json_pack("{ss,si,sI}", "topic", p->topic, "partition", (int)p->partition,
                               "outstanding", (json_int_t)xb_wm_outstanding(&p->wm)));
    }
    return m;
}

int xb_source_finish(xb_source *src, const char *topic, int32_t partition, int64_t offset,
                     uint64_t gen)
{
    part *p = find_part(src, topic, partition);
    if (!p || p->gen != gen || xb_wm_finish(&p->wm, offset) < 0)
        return 1;
    if (p->paused && xb_wm_outstanding(&p->wm) <= src->max_outstanding / 2) {
        p->paused = false;
        if (!src->hold)
            set_paused(src, p->topic, p->partition, false);
    }
    return 0;
}

int xb_source_commit(xb_source *src, bool sync)
{
    return commit_parts(src, NULL, sync);
}

void xb_source_hold(xb_source *src, bool hold)
{
    if (src->hold == hold)
        return;
    src->hold = hold;
    for (size_t i = 0; i < src->n_parts; i++)
        if (!src->parts[i].paused) /* backpressured ones stay paused either way */
            set_paused(src, src->parts[i].topic, src->parts[i].partition, hold);
}

uint64_t xb_source_outstanding(const xb_source *src)
{
    uint64_t n = 0;
    for (size_t i = 0; i < src->n_parts; i++)
        n += xb_wm_outstanding(&src->parts[i].wm);
    return n;
}

int xb_source_paused_count(const xb_source *src)
{
    int n = 0;
    for (size_t i = 0; i < src->n_parts; i++)
        n += src->parts[i].paused || src->hold;
    return n;
}

void xb_source_foreach_lag(xb_source *src,
                           void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                           void *ctx)
{
    for (size_t i = 0; i < src->n_parts; i++) {
        part *p = &src->parts[i];
        int64_t lo = -1, hi = -1;
        int64_t lag = -1;
        int64_t at = xb_wm_commit_point(&p->wm);
        if (rd_kafka_get_watermark_offsets(src->rk, p->topic, p->partition, &lo, &hi) == 0 &&
            hi >= 0) {
            if (at < 0)
                at = lo;
            lag = hi > at ? hi - at : 0;
        }
        fn(ctx, p->topic, p->partition, lag);
    }
}

rd_kafka_t *xb_source_handle(xb_source *src)
{
    return src->rk;
}
