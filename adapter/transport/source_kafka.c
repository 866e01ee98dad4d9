/* source_kafka.c — consumer group, per-partition watermarks, commits, rebalances, backpressure.
 *
 * Owns: the rd_kafka_t consumer, a small table of assigned partitions (a consumer holds tens
 * of partitions, so a linear table with a last-hit cache beats a hash map here) and, per
 * partition, a short queue of records taken from librdkafka but not yet handed out.
 *
 * Backpressure without librdkafka's pause in the steady state: a partition with max_outstanding
 * unfinished records simply gets no more; the source stops taking records from librdkafka while
 * no partition can use one (a liveness poll every XB_SOURCE_LIVENESS_MS still serves rebalances
 * and max.poll.interval.ms), so librdkafka's bounded prefetch queue waits, full, for the pipeline.
 * rd_kafka_pause_partitions() drops that prefetch (a version barrier) and librdkafka 2.0 starts
 * fetching again only at its next 1 s fetch-backoff tick: pausing at every max_outstanding held a
 * 1-partition pipeline to max_outstanding records per second (tests/bench/RESULTS.md). A record
 * that does arrive for a full partition (another partition had room, or a liveness poll) waits in
 * that partition's queue, in order; only when that queue reaches max_outstanding is the partition
 * paused in librdkafka (a destination that does not answer), and it resumes at half of it.
 * A partition whose prefetch librdkafka 2.0 let run dry while the log holds more records gets its
 * fetcher woken (fetch_waker.h) instead of waiting up to a second for it.
 * Never: commits an offset that is not a watermark commit point; never commits before the
 * pre_commit hook (audit durability) succeeded; never hands out a partition's records out of
 * order (the queue is drained before anything newer from librdkafka).
 */
#include "adapter/transport/source_kafka.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/log.h"
#include "adapter/transport/fetch_waker.h"
#include "adapter/transport/watermark.h"

/* queued.max.messages.kbytes unless configured (librdkafka's own default: 65536) */
#define XB_SOURCE_QUEUED_KBYTES "8192"

/* While nothing can take a record, librdkafka is still polled this often (rebalances, commit
 * callbacks, max.poll.interval.ms); what such a poll returns waits in its partition's queue. */
#define XB_SOURCE_LIVENESS_MS 100
/* Records taken from librdkafka per xb_source_poll call at most (the caller's loop regains
 * control to serve its sinks). */
#define XB_SOURCE_POLL_BURST 64
/* An empty poll looks for starving partitions at most this often (each look reads librdkafka's
 * cached high watermarks; a wake-up costs the broker two ListOffsets). */
#define XB_SOURCE_WAKE_CHECK_MS 5
/* A partition woken without a record coming back is woken again after twice the wait, up to
 * this: the high watermark can stay above the last record for good (a transaction's commit
 * marker is the log's last offset; read_committed stops at an open transaction). */
#define XB_SOURCE_WAKE_MAX_BACKOFF_MS 1000

typedef struct part {
    char *topic;
    int32_t partition;
    uint64_t gen;
    xb_wm wm;
    bool fetch_paused;          /* paused in librdkafka: its queue of taken records is full */
    rd_kafka_message_t **queue; /* taken from librdkafka, not handed out yet; oldest first */
    size_t q_head, q_len, q_cap;
    uint64_t q_bytes;         /* values of the queued records */
    int64_t next_offset;      /* after the last record taken from librdkafka; -1 before the first */
    unsigned wake_backoff_ms; /* 0 after a record; grows while wake-ups bring none */
    uint64_t out_bytes;       /* values of its records handed out and not finished */
    uint64_t next_wake_ms;
} part;

struct xb_source {
    rd_kafka_t *rk;
    part *parts;
    size_t n_parts, cap_parts;
    size_t last_hit;
    size_t next_release; /* round robin over partitions with queued records */
    uint64_t gen_counter;
    uint64_t last_poll_ms;
    uint64_t fetch_pauses;
    uint64_t fetch_wakes; /* asked of the waker (counted here: a broker's answer may lag) */
    uint64_t last_wake_check_ms;
    xb_fetch_waker *waker; /* NULL when opts->no_fetch_wake */
    unsigned max_outstanding;
    uint64_t max_bytes; /* byte budget of unfinished records, all partitions; 0: none */
    uint64_t out_bytes; /* the sum of the parts' out_bytes */
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
    p->next_offset = -1;
    xb_wm_init(&p->wm);
}

/* Records taken but not handed out are simply let go: nothing tracked them, so no commit can
 * have passed them, and Kafka delivers them again to whoever owns the partition next. */
static void drop_queue(part *p)
{
    for (size_t i = 0; i < p->q_len; i++)
        rd_kafka_message_destroy(p->queue[(p->q_head + i) % p->q_cap]);
    free(p->queue);
    p->queue = NULL;
    p->q_head = p->q_len = p->q_cap = 0;
    p->q_bytes = 0;
}

static void remove_part(xb_source *src, const char *topic, int32_t partition)
{
    part *p = find_part(src, topic, partition);
    if (!p)
        return;
    free(p->topic);
    xb_wm_free(&p->wm);
    drop_queue(p);
    src->out_bytes -= p->out_bytes; /* its records' finish() will be stale */
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
        return;
    }
    log_parts("kafka.revoked", parts);
    /* Finished work is committed; unfinished work is redelivered to the new owner. When the
     * assignment was lost (session timeout), a commit would be refused: skip it. */
    if (!rd_kafka_assignment_lost(rk))
        commit_parts(src, parts, true);
    /* librdkafka keeps a partition's pause flag on its toppar across revoke and re-assignment
     * (issue #9's rebalance stall: a partition paused for backpressure when it was revoked came
     * back paused, while its fresh bookkeeping here said "not paused", so nothing ever resumed
     * it). Resume while it is still assigned. */
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
    src->max_bytes = opts ? opts->max_outstanding_bytes : 0;
    src->pre_commit = opts ? opts->pre_commit : NULL;
    src->ctx = opts ? opts->ctx : NULL;
    char errstr[512];
    if (!user_set(cfg, "auto.offset.reset"))
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
    /* Bounded read-ahead: librdkafka's default prefetch queue is up to 64 MB, most of xborder's
     * RSS over a long run (tests/bench/RESULTS.md: 88-140 MB with it, 44-52 MB at 8 MB). Once a
     * full queue no longer sleeps a second (the fetch waker), 8 MB holds a quarter of a second
     * of 5 KB records at the full rate and ran as fast as 16 MB at ~8 MB less RSS (RESULTS.md,
     * 2026-11-28 10:30). A configured value wins. */
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
    if (!(opts && opts->no_fetch_wake) && (rc = xb_fetch_waker_new(&src->waker, src->rk, err))) {
        xb_source_close(src);
        return rc;
    }
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
    xb_fetch_waker_free(src->waker); /* it uses the consumer: stopped before it closes */
    commit_parts(src, NULL, true);
    /* Records still queued are never handed out now; they go back to librdkafka before it is
     * closed (it waits for its messages at destroy), even where a lost assignment skips the
     * revoke callback that would drop them. */
    for (size_t i = 0; i < src->n_parts; i++)
        drop_queue(&src->parts[i]);
    rd_kafka_consumer_close(src->rk); /* runs the revoke callback: commits again, drops state */
    rd_kafka_destroy(src->rk);
    for (size_t i = 0; i < src->n_parts; i++) {
        free(src->parts[i].topic);
        xb_wm_free(&src->parts[i].wm);
    }
    free(src->parts);
    free(src);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool has_room(const xb_source *src, const part *p)
{
    uint64_t n = xb_wm_outstanding(&p->wm);
    if (n > src->max_outstanding)
        return false;
    return n == 0 || !src->max_bytes || src->out_bytes < src->max_bytes;
}

/* True when some partition would take a record straight from librdkafka now. */
static bool wants_records(const xb_source *src)
{
    if (src->hold)
        return false;
    if (src->n_parts == 0)
        return true; /* nothing assigned yet: polling is how the assignment arrives */
    for (size_t i = 0; i < src->n_parts; i++)
        if (src->parts[i].q_len == 0 && has_room(src, &src->parts[i]))
            return true;
    return false;
}

static void set_fetch_paused(xb_source *src, part *p, bool pause)
{
    if (p->fetch_paused == pause)
        return;
    p->fetch_paused = pause;
    set_paused(src, p->topic, p->partition, pause);
    if (pause) {
        src->fetch_pauses++;
        xb_log_event(XB_LOG_DEBUG, "kafka.paused",
                     json_pack("{ss,si,sI,sI}", "topic", p->topic, "partition", (int)p->partition,
                               "outstanding", (json_int_t)xb_wm_outstanding(&p->wm), "queued",
                               (json_int_t)p->q_len));
    }
}

static void queue_push(xb_source *src, part *p, rd_kafka_message_t *m)
{
    if (p->q_len == p->q_cap) {
        size_t ncap = p->q_cap ? p->q_cap * 2 : 64;
        rd_kafka_message_t **nq = malloc(ncap * sizeof *nq);
        if (!nq)
            abort(); /* cannot keep a taken record in order: continuing could skip it */
        for (size_t i = 0; i < p->q_len; i++)
            nq[i] = p->queue[(p->q_head + i) % p->q_cap];
        free(p->queue);
        p->queue = nq;
        p->q_cap = ncap;
        p->q_head = 0;
    }
    p->queue[(p->q_head + p->q_len) % p->q_cap] = m;
    p->q_len++;
    p->q_bytes += m->len;
    /* The byte budget bounds the queue too: while another partition has room, polling goes on
     * and this queue would otherwise grow to max_outstanding records of any size. */
    if (p->q_len >= src->max_outstanding || (src->max_bytes && p->q_bytes >= src->max_bytes))
        set_fetch_paused(src, p, true);
}

static rd_kafka_message_t *queue_pop(xb_source *src, part *p)
{
    rd_kafka_message_t *m = p->queue[p->q_head];
    p->q_head = (p->q_head + 1) % p->q_cap;
    p->q_len--;
    p->q_bytes -= m->len;
    if (p->q_len <= src->max_outstanding / 2 &&
        (!src->max_bytes || p->q_bytes <= src->max_bytes / 2))
        set_fetch_paused(src, p, false);
    return m;
}

/* Starts tracking m (its partition p) and returns it, or NULL when the watermark refuses it
 * (an offset at or below one already tracked: not committed, so redelivered where it belongs). */
static rd_kafka_message_t *hand_out(xb_source *src, part *p, rd_kafka_message_t *m, uint64_t *gen)
{
    if (xb_wm_track(&p->wm, m->offset) < 0) {
        rd_kafka_message_destroy(m);
        return NULL;
    }
    p->out_bytes += m->len;
    src->out_bytes += m->len;
    *gen = p->gen;
    return m;
}

/* The oldest queued record of a partition that has room again (round robin). */
static rd_kafka_message_t *release_queued(xb_source *src, uint64_t *gen)
{
    if (src->hold)
        return NULL;
    for (size_t k = 0; k < src->n_parts; k++) {
        size_t i = (src->next_release + k) % src->n_parts;
        part *p = &src->parts[i];
        if (p->q_len == 0 || !has_room(src, p))
            continue;
        src->next_release = i + 1;
        rd_kafka_message_t *m = hand_out(src, p, queue_pop(src, p), gen);
        if (m)
            return m;
    }
    return NULL;
}

/* One record from librdkafka: NULL on timeout, on errors (logged) and for records of partitions
 * no longer assigned; otherwise the record and its partition. */
static rd_kafka_message_t *take(xb_source *src, int timeout_ms, part **out_part)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(src->rk, timeout_ms);
    src->last_poll_ms = now_ms();
    if (!m)
        return NULL;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            xb_log(XB_LOG_WARN, "kafka.consume_error", "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return NULL;
    }
    *out_part = find_part(src, rd_kafka_topic_name(m->rkt), m->partition);
    if (!*out_part) { /* not assigned any more: not committed, redelivered where it belongs */
        rd_kafka_message_destroy(m);
        return NULL;
    }
    (*out_part)->next_offset = m->offset + 1;
    (*out_part)->wake_backoff_ms = 0;
    return m;
}

/* librdkafka holds nothing for p although its log (by the high watermark of the last fetch)
 * holds records after the last one taken. */
static bool starving(const xb_source *src, const part *p)
{
    int64_t lo = -1, hi = -1;
    return p->next_offset >= 0 && p->q_len == 0 && has_room(src, p) &&
           rd_kafka_get_watermark_offsets(src->rk, p->topic, p->partition, &lo, &hi) == 0 &&
           hi > p->next_offset;
}

/* After an empty poll: wakes the fetcher of every partition that starves (fetch_waker.h). */
static void wake_starving(xb_source *src)
{
    uint64_t now = now_ms();
    if (!src->waker || now - src->last_wake_check_ms < XB_SOURCE_WAKE_CHECK_MS)
        return;
    src->last_wake_check_ms = now;
    for (size_t i = 0; i < src->n_parts; i++) {
        part *p = &src->parts[i];
        if ((p->wake_backoff_ms && now < p->next_wake_ms) || !starving(src, p))
            continue;
        xb_fetch_waker_wake(src->waker, p->topic, p->partition);
        src->fetch_wakes++;
        p->wake_backoff_ms = p->wake_backoff_ms ? p->wake_backoff_ms * 2 : XB_SOURCE_WAKE_CHECK_MS;
        if (p->wake_backoff_ms > XB_SOURCE_WAKE_MAX_BACKOFF_MS)
            p->wake_backoff_ms = XB_SOURCE_WAKE_MAX_BACKOFF_MS;
        p->next_wake_ms = now + p->wake_backoff_ms;
    }
}

void xb_source_set_wake_fd(xb_source *src, int fd)
{
    /* the consumer queue is where everything ends up (rd_kafka_poll_set_consumer forwards the
     * main queue and the partitions' to it), and librdkafka signals only the final queue */
    xb_kafka_queue_wake_fd(rd_kafka_queue_get_consumer(src->rk), fd);
}

rd_kafka_message_t *xb_source_poll(xb_source *src, int timeout_ms, uint64_t *gen)
{
    rd_kafka_message_t *m = release_queued(src, gen);
    if (m)
        return m;
    bool wanted = wants_records(src);
    /* Nothing can take a record: leave librdkafka's prefetch where it is, bar a liveness poll.
     * A blocking call still waits in librdkafka (the caller has nothing else to do). */
    if (!wanted && timeout_ms == 0 && now_ms() - src->last_poll_ms < XB_SOURCE_LIVENESS_MS)
        return NULL;
    for (int i = 0; i < XB_SOURCE_POLL_BURST; i++) {
        part *p = NULL;
        rd_kafka_message_t *got = take(src, i == 0 ? timeout_ms : 0, &p);
        if (!got) {
            if (i == 0 && wanted) /* wanted is false while held */
                wake_starving(src);
            return NULL;
        }
        if (!src->hold && p->q_len == 0 && has_room(src, p))
            return hand_out(src, p, got, gen);
        queue_push(src, p, got); /* behind what waits already, or until p has room */
        if (!wanted || !wants_records(src))
            return release_queued(src, gen);
    }
    return release_queued(src, gen);
}

int xb_source_finish(xb_source *src, const char *topic, int32_t partition, int64_t offset,
                     uint64_t gen, size_t bytes)
{
    part *p = find_part(src, topic, partition);
    if (!p || p->gen != gen || xb_wm_finish(&p->wm, offset) < 0)
        return 1;
    /* clamped: a caller's wrong length must not wrap the budget */
    uint64_t b = bytes < p->out_bytes ? bytes : p->out_bytes;
    p->out_bytes -= b;
    src->out_bytes -= b;
    return 0;
}

int xb_source_commit(xb_source *src, bool sync)
{
    return commit_parts(src, NULL, sync);
}

void xb_source_hold(xb_source *src, bool hold)
{
    src->hold = hold; /* no record is handed out while held; see wants_records */
}

uint64_t xb_source_outstanding_bytes(const xb_source *src)
{
    return src->out_bytes;
}

uint64_t xb_source_queued_bytes(const xb_source *src)
{
    uint64_t n = 0;
    for (size_t i = 0; i < src->n_parts; i++)
        n += src->parts[i].q_bytes;
    return n;
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
    for (size_t i = 0; i < src->n_parts; i++) {
        const part *p = &src->parts[i];
        n += src->hold || p->fetch_paused || p->q_len > 0 || !has_room(src, p);
    }
    return n;
}

int xb_source_fetch_paused_count(const xb_source *src)
{
    int n = 0;
    for (size_t i = 0; i < src->n_parts; i++)
        n += src->parts[i].fetch_paused;
    return n;
}

uint64_t xb_source_fetch_pauses(const xb_source *src)
{
    return src->fetch_pauses;
}

uint64_t xb_source_fetch_wakes(const xb_source *src)
{
    return src->fetch_wakes;
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
