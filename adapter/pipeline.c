/* pipeline.c — the worker loop and the life of a record (see pipeline.h).
 *
 * Owns: runtimes (config + policy + sinks, swapped whole on reload), records in flight and their
 * pending-completion counts, DLQ/audit jobs, stats, and two decider threads. The loop's thread
 * runs all of it: the librdkafka rebalance callback, sink callbacks and delivery reports all run
 * inside calls made from the loop. A decider (pipeline.decide_thread, issue #8) runs only
 * decide_record, on records the loop handed it and does not touch until it is done, through a
 * state-store connection of its own; what else it shares is locked: the stores' write
 * transactions (store_write_lock) and, inside the settlement stage, its own tables (the settle
 * fn may run on both deciders at once; its commit and outcome fns run on this thread).
 * When the loop has nothing to do it waits in one place, on an HTTP sink's answer, the audit
 * producer's reports or the consumer, and an eventfd (wake_fd) that the consumer queue and the
 * producer's report queue write to makes any of them end that wait (issue #8: a record that
 * arrived while the loop waited 5 ms for an HTTP answer used to wait those 5 ms).
 * Never: marks a record finished while any completion for it is pending or after a completion
 * said "not delivered" (cancelled, transport misconfigured): those are redelivered instead.
 */
#include "adapter/pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "adapter/catalog_store.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/metrics.h"
#include "adapter/ops_metrics.h"
#include "adapter/policy/policy.h"
#include "adapter/state/audit.h"
#include "adapter/state/audit_checkpoint.h"
#include "adapter/state/store.h"
#include "adapter/transport/sink_http.h"
#include "adapter/transport/sink_sftp.h"
#include "adapter/transport/sink_kafka.h"
#include "adapter/transport/source_kafka.h"
#include "adapter/valuation_route.h"
#include "adapter/worker.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/write.h"

#define XB_KEY_FILE_MAX 4096
#define XB_DLQ_MAX_TRIES 10
#define XB_SINK_POLL_EVERY 8 /* records decided between two sink polls within one burst */
/* A burst stops taking records at this many bytes of them: a decider holds its whole share of a
 * burst (decisions, outputs) until the store commits it together. Measured (issue #8, 2 cores,
 * 2 partitions of 4.6 KB pacs.008): 512 KB peaked at 59-62 MB of RSS, 128 KB (~28 records, 14
 * a decider) at 51-52 MB with the same or better throughput, 64 KB lost 10% of it; 50 KB
 * records peaked at 75-79 MB with 64 a burst, 49.5 MB with this. */
#define XB_BURST_BYTES (128u * 1024u)

struct xb_pipeline;

typedef struct dest_rt {
    const xb_dest_http *http;
    const xb_policy_destination *pd;
    xb_sink_http *sink;
    xb_sink_sftp *sftp; /* type: sftp destinations (issue #12) have this instead of sink */
    xb_buf pseudo_key;
    struct xb_pipeline *p;
    int stats_slot;
} dest_rt;

typedef struct runtime {
    int refs;
    xb_config *cfg;
    xb_policy_catalog_set *catalogs;
    xb_policy_destinations *pdests;
    dest_rt *dests;
    size_t n_dests;
    xb_buf counter_key;
    struct runtime *next_retired;
} runtime;

typedef struct rec {
    struct xb_pipeline *p;
    runtime *rt;
    rd_kafka_message_t *km;
    uint64_t gen;
    int pending;
    bool poisoned; /* a completion said "not delivered": never finish, let Kafka redeliver */
    char id[300];
    char sha256[65]; /* hex SHA-256 of the record's bytes, made once for every decision on it */
    /* The message decided on: the record's bytes, or (issue #6) the reda.001 the valuation route
     * made from a holdings record, owned here. The DLQ always gets the record's own bytes. */
    const char *body;
    size_t body_len;
    char *own_body;
    /* issue #9: while its decision waits for room in the audit log (audit_wait below), what
     * process_body needs to decide it again */
    struct rec *wait_next;
    char *wait_reason, *wait_text;
    json_t *wait_valuation;
} rec;

typedef enum job_kind { JOB_HTTP, JOB_DLQ, JOB_AUDIT } job_kind;

typedef struct job {
    job_kind kind;
    rec *r;
    size_t dest; /* JOB_HTTP: index in r->rt->dests; JOB_DLQ: index or SIZE_MAX */
    char reason[32];
    char *reason_text;
    char *line; /* JOB_AUDIT: the line, kept for a re-produce */
    size_t line_len;
    char *settled; /* JOB_HTTP of a settled message: the bytes sent, for the ledger */
    size_t settled_len;
    int tries;
} job;

#define XB_DECIDERS 2 /* worker threads that decide (pipeline.decide_thread) */

#define XB_LAT_BUCKETS 10001 /* end-to-end latency in whole ms, the last bucket is ">= 10 s" */

struct xb_pipeline {
    uint32_t *lat_ms; /* Kafka record timestamp -> last acknowledgement, per finished record */
    /* issue #8: an eventfd the consumer queue, the producer's report queue and the HTTP sinks'
     * waits share, so that an idle wait on one ends when another has work (-1: none) */
    int wake_fd;
    runtime *rt;
    runtime *retired;
    char *config_path;
    xb_kafka_env *env;
    bool own_env;
    xb_source *src;
    xb_sink_kafka *sk;
    xb_audit *audit;
    xb_audit_ckpt *ckpt; /* issue #7: signed checkpoints (audit.checkpoint_key), or NULL */
    xb_store *store;
    xb_valroute *vr; /* issue #6: `valuation:` entries, or NULL */
    xb_metrics *metrics;
    xb_buf record_text; /* the audit record being written; reused, so one allocation in all */
    /* issue #8: the worker thread decides the records of a burst (pipeline.decide_thread) with
     * its own connection to the state store, while this one audits and sends */
    xb_worker *worker[XB_DECIDERS];
    xb_store *wstore[XB_DECIDERS];
    struct burst *bursts; /* two, taking turns (process_burst) */
    struct burst *held;   /* the one the deciders have, not yet written out */
    size_t n_workers;
    pthread_mutex_t store_write_lock; /* shared by store and wstore[] (xb_store_share_write_lock) */
    xb_pipeline_opts opts;
    volatile sig_atomic_t stop_flag, reload_flag;
    bool fatal;
    xb_error fatal_err;
    xb_pipeline_stats stats;
    /* issue #9: records whose decision the audit log could not take (disk full), oldest first */
    struct audit_wait {
        rec *head, *tail;
        uint64_t n;
        uint64_t since_ms, next_try_ms, backoff_ms, last_log_ms;
        bool retrying, failed;
    } await;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_fatal(xb_pipeline *p, const xb_error *e)
{
    if (p->fatal)
        return;
    p->fatal = true;
    p->fatal_err = *e;
    xb_log_event(XB_LOG_ERROR, "pipeline.fatal",
                 json_pack("{ss,ss,ss}", "code", xb_error_name(e->code), "setting", e->path, "msg",
                           e->message));
    xb_metrics_set_health(p->metrics, false, e->message);
}

/* ---- runtime: everything a reload replaces ---------------------------------------------- */

static int read_key_file(xb_buf *out, const char *dir, const char *name, const char *cfg_key,
                         xb_error *err)
{
    char path[1024];
    if (dir)
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else
        snprintf(path, sizeof path, "%s", name);
    xb_buf_reset(out);
    int rc = xb_buf_read_file(out, path, XB_KEY_FILE_MAX);
    if (rc < 0 || out->len < 16)
        return xb_error_set(err, XB_ECONFIG, cfg_key,
                            "%s: cannot read key file %s (at least 16 bytes expected)", cfg_key,
                            path);
    return 0;
}

static void runtime_free(runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n_dests; i++) {
        xb_sink_http_free(rt->dests[i].sink);
        xb_sink_sftp_free(rt->dests[i].sftp);
        xb_buf_free(&rt->dests[i].pseudo_key);
    }
    free(rt->dests);
    xb_buf_free(&rt->counter_key);
    xb_policy_destinations_free(rt->pdests);
    xb_policy_catalog_set_free(rt->catalogs);
    xb_config_free(rt->cfg);
    free(rt);
}

static void on_http_done(void *cb_ctx, void *user, const xb_sink_http_result *res);

static void sink_options(xb_sink_http_options *o, const xb_dest_http *d)
{
    xb_sink_http_options_init(o);
    o->name = d->name;
    o->url = d->url;
    o->ca_file = d->ca;
    o->cert_file = d->cert;
    o->key_file = d->key;
    o->pinned_pubkey = d->pinned_pubkey;
    o->sign_key_file = d->sign_key;
    o->sign_key_id = d->sign_key_id;
    o->allow_plain_http = d->allow_plain_http;
    o->http2 = d->http2;
    if (d->max_in_flight)
        o->max_in_flight = d->max_in_flight;
    if (d->timeout_ms)
        o->request_timeout_ms = d->timeout_ms;
    if (d->backoff_initial_ms)
        o->backoff_initial_ms = d->backoff_initial_ms;
    if (d->backoff_max_ms)
        o->backoff_max_ms = d->backoff_max_ms;
    if (d->breaker_threshold)
        o->breaker_threshold = d->breaker_threshold;
    if (d->breaker_open_ms)
        o->breaker_open_ms = d->breaker_open_ms;
    if (d->batch_max_messages)
        o->batch_max_messages = d->batch_max_messages;
    if (d->batch_linger_ms)
        o->batch_linger_ms = d->batch_linger_ms;
}

/* A sink names its own option ("signing.key", "tls.pin"); the operator needs the config key. */
static void sink_error_path(xb_error *err, const char *dest)
{
    static const char *const map[][2] = {
        {"signing.key", "sign.key"},
        {"signing.keyid", "sign.key_id"},
        {"tls.pin", "tls.pinned_pubkey"},
        {"max_in_flight", "sink.max_in_flight"},
        {"batch.max_messages", "batch.max_messages"},
        {"url", "url"},
    };
    if (!strncmp(err->path, "destinations.", 13))
        return;
    const char *key = err->path;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(err->path, map[i][0]))
            key = map[i][1];
    char path[sizeof err->path];
    if (*key)
        snprintf(path, sizeof path, "destinations.%.100s.%.200s", dest, key);
    else
        snprintf(path, sizeof path, "destinations.%.100s", dest);
    memcpy(err->path, path, sizeof path);
}

/* Builds a complete runtime from a config file. p may be NULL (check-config: no sinks' owner). */
static int runtime_build(runtime **out, const char *path, xb_pipeline *p, bool make_sinks,
                         xb_error *err)
{
    *out = NULL;
    runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    rt->refs = 1;
    int rc = xb_config_load(&rt->cfg, path, err);
    if (rc < 0)
        goto fail;
    const xb_config *cfg = rt->cfg;
    if ((rc = xb_policy_catalog_set_new(&rt->catalogs, err)) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->policy.n_catalogs; i++)
        if ((rc = xb_catalog_store_load(rt->catalogs, cfg->policy.catalogs[i],
                                        cfg->policy.catalog_pubkey, err)) < 0) {
            if (!err || !err->path[0]) {
                /* copy first: formatting err->message into itself is undefined (and garbled) */
                char why[sizeof err->message];
                snprintf(why, sizeof why, "%s", err ? err->message : "");
                xb_error_set(err, rc, "policy.catalogs", "policy.catalogs[%zu] (%s): %s", i,
                             cfg->policy.catalogs[i], why);
            }
            goto fail;
        }
    /* issue #7: each catalog loaded is kept by hash (policy.catalog_store) so that a replay finds
     * the exact catalog a decision was made with, whatever the file says later. Not for
     * check-config (p == NULL): checking writes nothing. */
    for (size_t i = 0; p && cfg->policy.catalog_store && i < cfg->policy.n_catalogs; i++) {
        char sha[65];
        if ((rc = xb_catalog_store_put(sha, cfg->policy.catalog_store, cfg->policy.catalogs[i],
                                       err)) < 0)
            goto fail;
    }
    if ((rc = xb_policy_destinations_from_tree(
             &rt->pdests, json_object_get(cfg->tree, "destinations"), "destinations", err)) < 0)
        goto fail;
    if (cfg->policy.counter_key)
        rc = read_key_file(&rt->counter_key, NULL, cfg->policy.counter_key, "policy.counter_key",
                           err);
    else
        rc = read_key_file(&rt->counter_key, cfg->policy.keys, "counter.key", "policy.keys", err);
    if (rc < 0)
        goto fail;
    rt->n_dests = cfg->n_dests;
    rt->dests = calloc(rt->n_dests ? rt->n_dests : 1, sizeof *rt->dests);
    if (!rt->dests) {
        rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < rt->n_dests; i++) {
        dest_rt *d = &rt->dests[i];
        d->http = &cfg->dests[i];
        d->p = p;
        d->stats_slot = -1;
        d->pd = xb_policy_destination_find(rt->pdests, d->http->name);
        if (!d->pd) {
            rc = xb_error_set(err, XB_ECONFIG, "destinations", "destinations.%s: not found",
                              d->http->name);
            goto fail;
        }
        const char *kf = xb_policy_destination_key_file(d->pd);
        char where[160];
        snprintf(where, sizeof where, "destinations.%s.pseudo", d->http->name);
        if (kf && (rc = read_key_file(&d->pseudo_key, cfg->policy.keys, kf, where, err)) < 0)
            goto fail;
        xb_sink_http_options o;
        sink_options(&o, d->http);
        if (make_sinks) {
            if ((rc = d->http->sftp
                          ? xb_sink_sftp_new(&d->sftp, &d->http->sftp_opts, on_http_done, d, err)
                          : xb_sink_http_new(&d->sink, &o, on_http_done, d, err)) < 0) {
                if (err)
                    sink_error_path(err, d->http->name);
                goto fail;
            }
            if (d->sink && p) /* check-config builds sinks without a pipeline */
                xb_sink_http_set_wake_fd(d->sink, p->wake_fd);
        }
    }
    *out = rt;
    return 0;
fail:
    runtime_free(rt);
    return rc < 0 ? rc : XB_ECONFIG;
}

static void runtime_release(xb_pipeline *p, runtime *rt)
{
    /* Never freed here: the last release usually happens inside one of the runtime's own sink
     * callbacks, where freeing the sink is forbidden. reap_retired() frees it from the loop. */
    (void)p;
    rt->refs--;
}

/* Frees retired runtimes that no record uses any more. Called from the loop, outside callbacks. */
static void reap_retired(xb_pipeline *p)
{
    for (runtime **pp = &p->retired; *pp;) {
        runtime *rt = *pp;
        if (rt->refs > 0) {
            pp = &rt->next_retired;
            continue;
        }
        *pp = rt->next_retired;
        runtime_free(rt);
    }
}

static int dest_stats_slot(xb_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->stats.n_dest; i++)
        if (!strcmp(p->stats.dest[i].name, name))
            return (int)i;
    if (p->stats.n_dest == XB_PIPELINE_MAX_DEST_STATS)
        return -1;
    snprintf(p->stats.dest[p->stats.n_dest].name, sizeof p->stats.dest[0].name, "%s", name);
    return (int)p->stats.n_dest++;
}

/* ---- records ------------------------------------------------------------------------------ */

static void record_latency(xb_pipeline *p, const rd_kafka_message_t *km)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(km, &tt);
    if (ts <= 0 || !p->lat_ms)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ts;
    if (ms < 0)
        ms = 0;
    p->lat_ms[ms < XB_LAT_BUCKETS - 1 ? ms : XB_LAT_BUCKETS - 1]++;
}

static int64_t latency_percentile(const xb_pipeline *p, uint64_t total, unsigned permille)
{
    uint64_t want = (total * permille + 999) / 1000, seen = 0;
    for (int64_t i = 0; i < XB_LAT_BUCKETS; i++) {
        seen += p->lat_ms[i];
        if (seen >= want && want > 0)
            return i;
    }
    return -1;
}

static void rec_done_one(rec *r)
{
    if (--r->pending > 0)
        return;
    xb_pipeline *p = r->p;
    if (!r->poisoned) {
        record_latency(p, r->km);
        xb_source_finish(p->src, rd_kafka_topic_name(r->km->rkt), r->km->partition, r->km->offset,
                         r->gen, r->km->len);
        p->stats.finished++;
    }
    p->stats.outstanding--;
    runtime_release(p, r->rt);
    rd_kafka_message_destroy(r->km);
    free(r->own_body);
    free(r);
}

static void job_free(job *j)
{
    free(j->reason_text);
    free(j->line);
    free(j->settled);
    free(j);
}

static int produce_dlq(xb_pipeline *p, job *j)
{
    rec *r = j->r;
    xb_dlq_entry e = {
        .value = r->km->payload,
        .value_len = r->km->len,
        .key = r->km->key,
        .key_len = r->km->key_len,
        .reason = j->reason,
        .reason_text = j->reason_text,
        .topic = rd_kafka_topic_name(r->km->rkt),
        .partition = r->km->partition,
        .offset = r->km->offset,
        .decision_id = r->id,
        .destination = j->dest != SIZE_MAX ? r->rt->dests[j->dest].http->name : NULL,
    };
    xb_error err;
    int rc = xb_sink_kafka_dlq(p->sk, p->rt->cfg->dlq.topic, &e, j, &err);
    if (rc < 0)
        set_fatal(p, &err);
    return rc;
}

/* Parks record r (for one destination, or all when dest == SIZE_MAX) in the DLQ. */
static void park(xb_pipeline *p, rec *r, size_t dest, const char *reason, const char *text)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        abort(); /* cannot even remember the job: stopping beats losing a record */
    j->kind = JOB_DLQ;
    j->r = r;
    j->dest = dest;
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    j->reason_text = strdup(text ? text : "");
    r->pending++;
    if (produce_dlq(p, j) < 0) {
        r->poisoned = true;
        r->pending--;
        job_free(j);
    }
}

static void on_kafka_done(void *ctx, void *opaque, rd_kafka_resp_err_t e)
{
    xb_pipeline *p = ctx;
    job *j = opaque;
    rec *r = j->r;
    if (!r) { /* the shutdown checkpoint (issue #7): no record waits for it */
        if (e)
            xb_log(XB_LOG_WARN, "audit.checkpoint_not_on_topic", "%s", rd_kafka_err2str(e));
        job_free(j);
        return;
    }
    if (e) {
        char buf[256];
        xb_error err;
        if (xb_sink_kafka_fatal(p->sk, buf, sizeof buf) || ++j->tries >= XB_DLQ_MAX_TRIES) {
            xb_error_set(&err, XB_EIO, NULL, "%s producer failed for %s: %s",
                         j->kind == JOB_DLQ ? "DLQ" : "audit", r->id, rd_kafka_err2str(e));
            if (j->kind != JOB_DLQ)
                xb_metrics_add(p->metrics, "audit_write_failures_total", NULL, 1);
            set_fatal(p, &err);
            r->poisoned = true;
        } else {
            int rc = j->kind == JOB_DLQ ? produce_dlq(p, j)
                                        : xb_sink_kafka_audit(p->sk, p->rt->cfg->audit.topic,
                                                              j->line, j->line_len, r->id, j, &err);
            if (rc == 0)
                return; /* the job lives on */
            r->poisoned = true;
        }
    } else if (j->kind == JOB_DLQ) {
        p->stats.dlq++;
        xb_metrics_add(p->metrics, "dlq_total", j->reason, 1);
        if (j->dest != SIZE_MAX && r->rt->dests[j->dest].stats_slot >= 0)
            p->stats.dest[r->rt->dests[j->dest].stats_slot].dlq++;
    }
    job_free(j);
    rec_done_one(r);
}

/* A settled transfer's end at a destination moves its ledger entry (SENT -> ACSP or RJCT) and
 * produces the outbound pacs.002; only final outcomes count, never a cancellation. */
static void report_settled(xb_pipeline *p, const job *j, const char *dest,
                           const xb_sink_http_result *res)
{
    if (!j->settled || !p->opts.settled)
        return;
    bool accepted =
        res->outcome == XB_SINK_HTTP_DELIVERED || res->outcome == XB_SINK_HTTP_DUPLICATE;
    if (!accepted && res->outcome != XB_SINK_HTTP_PERMANENT)
        return;
    p->opts.settled(p->opts.settle_ctx, dest, j->settled, j->settled_len, accepted,
                    accepted ? NULL : res->reason, NULL, 0);
}

static void on_http_done(void *cb_ctx, void *user, const xb_sink_http_result *res)
{
    dest_rt *d = cb_ctx;
    xb_pipeline *p = d->p;
    job *j = user;
    rec *r = j->r;
    const char *name = d->http->name;
    xb_metrics_add(p->metrics, "retries_total", name, res->attempts > 1 ? res->attempts - 1 : 0);
    switch (res->outcome) {
    case XB_SINK_HTTP_DELIVERED:
    case XB_SINK_HTTP_DUPLICATE: {
        bool dup = res->outcome == XB_SINK_HTTP_DUPLICATE;
        p->stats.delivered += !dup;
        p->stats.duplicates += dup;
        if (d->stats_slot >= 0) {
            p->stats.dest[d->stats_slot].delivered += !dup;
            p->stats.dest[d->stats_slot].duplicates += dup;
        }
        xb_metrics_add(p->metrics, dup ? "duplicates_total" : "delivered_total", name, 1);
        xb_metrics_observe_us(p->metrics, name, res->latency_us);
        break;
    }
    case XB_SINK_HTTP_PERMANENT: {
        char text[400];
        snprintf(text, sizeof text, "HTTP %ld from %s: %s", res->http_status, name,
                 res->reason ? res->reason : "");
        p->stats.http_permanent++;
        park(p, r, j->dest, "HTTP_PERMANENT", text);
        break;
    }
    case XB_SINK_HTTP_CONFIG_ERROR: {
        xb_error err;
        const char *why =
            d->sftp ? xb_sink_sftp_config_error(d->sftp) : xb_sink_http_config_error(d->sink);
        char key[160];
        snprintf(key, sizeof key, "destinations.%s.%s", name, d->sftp ? "sftp" : "tls");
        xb_error_set(&err, XB_ECONFIG, key, "%s", why ? why : (res->reason ? res->reason : name));
        set_fatal(p, &err);
        r->poisoned = true;
        break;
    }
    case XB_SINK_HTTP_CANCELLED:
        r->poisoned = true;
        break;
    }
    report_settled(p, j, name, res);
    job_free(j);
    rec_done_one(r);
}

/* ---- deciding one record ------------------------------------------------------------------- */

typedef struct plan {
    size_t dest;
    char reason[32]; /* "" = deliver */
    char *text;
    xb_buf body;
    bool settled;    /* body is the settlement stage's output */
    void *pending;   /* what the settlement stage must make durable before body leaves */
    json_t *outcome; /* this copy's entry in the decision record (borrowed) */
    char key[XB_SINK_HTTP_KEY_MAX + 1];
} plan;

/* What deciding a record adds to the pipeline's counters. Deciding may run on the worker
 * thread (issue #8), so it counts here and the pipeline's thread adds it in (add_decide_stats). */
typedef struct decide_stats {
    uint64_t invalid, unsupported, no_route, quarantined, blocked, policy_errors;
    uint64_t masked, pseudonymised, generalised, dropped;
} decide_stats;

/* A record decided, not yet audited or sent: everything finish_record needs, nothing shared. */
typedef struct decided {
    json_t *record; /* the decision record (audit entry) */
    plan plans[XB_PIPELINE_MAX_DEST_STATS];
    size_t n_plans;
    const char *whole_reason; /* the whole record goes to the DLQ: why (static or pre_reason) */
    char whole_text[600];
    decide_stats st;
} decided;

static void count_actions(decide_stats *st, const xb_policy_decision *d)
{
    for (size_t i = 0; i < d->n_fields; i++)
        switch (d->fields[i].action) {
        case XB_ACT_MASK:
            st->masked++;
            break;
        case XB_ACT_PSEUDO:
            st->pseudonymised++;
            break;
        case XB_ACT_GENERALIZE:
            st->generalised++;
            break;
        case XB_ACT_DROP:
            st->dropped++;
            break;
        default:
            break;
        }
}

static void add_decide_stats(xb_pipeline_stats *to, const decide_stats *st)
{
    to->invalid += st->invalid;
    to->unsupported += st->unsupported;
    to->no_route += st->no_route;
    to->quarantined += st->quarantined;
    to->blocked += st->blocked;
    to->policy_errors += st->policy_errors;
    to->masked += st->masked;
    to->pseudonymised += st->pseudonymised;
    to->generalised += st->generalised;
    to->dropped += st->dropped;
}

static const json_t *route_settle_for(const xb_config *cfg, const char *topic, const char *def_id,
                                      const char *dest)
{
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const xb_route *r = &cfg->routes[i];
        if (!xb_config_route_matches(r, topic, def_id))
            continue;
        for (size_t k = 0; k < r->n_destinations; k++)
            if (!strcmp(r->destinations[k], dest))
                return r->settle;
    }
    return NULL;
}

static void plan_reason(plan *pl, const char *reason, const char *text)
{
    snprintf(pl->reason, sizeof pl->reason, "%s", reason);
    free(pl->text);
    pl->text = strdup(text ? text : "");
}

/* The store calls this once, then again for every rerun (a counter moved under it, or a
 * PostgreSQL reconnect: issue #10); every call after the first decides from a fresh parse of the
 * record's bytes, since xb_policy_decide transforms its message in place. */
typedef struct decide_args {
    const rec *r;
    runtime *rt;
    dest_rt *d;
    int64_t now;
    const xb_policy_keys *keys;
    const xb_policy_opts *popts;
    xb_msg *msg;   /* owned: the parse the next call decides on, then the one it transformed */
    bool keep_msg; /* the settlement stage reads the transformed tree after the decision */
    int calls;
} decide_args;

static int decide_cb(void *ctx, const xb_policy_counters *snap, xb_policy_decision *out,
                     xb_error *err)
{
    decide_args *a = ctx;
    if (a->calls++ > 0 || !a->msg) {
        xb_msg_free(a->msg);
        a->msg = NULL;
        int rc = xb_msg_parse(&a->msg, a->r->body, a->r->body_len, NULL, err);
        if (rc < 0)
            return rc;
    }
    int rc = xb_policy_decide(out, a->msg, a->rt->catalogs, a->d->pd, a->now, snap, a->keys,
                              a->popts, err);
    /* A decider's whole batch waits for one store transaction: a tree nothing reads again is
     * freed now, not then */
    if (!a->keep_msg) {
        xb_msg_free(a->msg);
        a->msg = NULL;
    }
    return rc;
}

/* The canonical form of the record as received, made only when a key needs it (a message with
 * no UETR): most payments carry one, and writing the canonical form of every record cost as much
 * as serialising the delivered copy (issue #8 profile). A fresh parse stands in for the message
 * the policy has since transformed in place, so the bytes are the same as before. */
static int canonical_of(xb_buf *canon, const rec *r, xb_error *err)
{
    xb_msg *orig = NULL;
    int rc = xb_msg_parse(&orig, r->body, r->body_len, NULL, err);
    if (rc == 0)
        rc = xb_write_canonical(canon, orig, err);
    xb_msg_free(orig);
    return rc;
}

/* Hex SHA-256 of the record's bytes. The digest is fetched once: OpenSSL 3 looks up the
 * implementation again on every EVP_sha256() init, which cost more than hashing 5 KB. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void bytes_sha256(char out[65], const void *data, size_t len)
{
    uint8_t h[32];
    unsigned n = 0;
    pthread_once(&sha256_once, fetch_sha256); /* both threads decide (issue #8) */
    EVP_MD *md = sha256_md;
    if (md && EVP_Digest(data, len, h, &n, md, NULL) == 1 && n == 32)
        xb_hex(out, h, 32);
    else
        out[0] = '\0'; /* the policy falls back to the canonical form */
}

/* One destination's copy of a record between its optimistic decision and its durable one: the
 * store decides a batch of copies with one transaction (issue #8, xb_store_decide_batch), so
 * what a decision needs lives here until the batch is done. Never moved once begun (da points
 * into it). */
typedef struct copy {
    rec *r;
    decided *out;
    plan *pl;
    xb_buf *canon; /* the record's canonical form, shared by its copies */
    json_t *outcomes;
    const json_t *settle;
    xb_policy_keys keys;
    xb_policy_opts popts;
    decide_args da;
    xb_policy_decision dec;
} copy;

/* Sets up one destination's copy for the store (req) before anything is decided. Runs on a
 * decider or on the pipeline's thread: of p it uses only the settlement stage's presence. */
static void copy_begin(xb_pipeline *p, copy *c, xb_store_decide_req *req, int64_t now)
{
    rec *r = c->r;
    runtime *rt = r->rt;
    dest_rt *d = &rt->dests[c->pl->dest];
    const char *topic = rd_kafka_topic_name(r->km->rkt);
    c->keys = (xb_policy_keys){.counter_key = (const uint8_t *)rt->counter_key.data,
                               .counter_key_len = rt->counter_key.len,
                               .pseudo_key =
                                   d->pseudo_key.len ? (const uint8_t *)d->pseudo_key.data : NULL,
                               .pseudo_key_len = d->pseudo_key.len};
    /* The policy records the hash of the bytes as received when given one; otherwise it writes
     * and hashes the canonical form again for every destination (issue #8 profile). */
    c->popts = (xb_policy_opts){.warn_permille = rt->cfg->policy.warn_permille,
                                .msg_sha256 = r->sha256[0] ? r->sha256 : NULL};
    /* A copy the settlement stage rewrites is validated there, once, after the rewrite (the
     * record's outcome says so, and replay decides it the same way). */
    c->settle = route_settle_for(rt->cfg, topic, xb_msg_definition(c->da.msg)->id, d->http->name);
    c->popts.caller_validates = c->settle && p->opts.settle;
    c->da.keep_msg = c->popts.caller_validates;
    c->da.r = r;
    c->da.rt = rt;
    c->da.d = d;
    c->da.now = now;
    c->da.keys = &c->keys;
    c->da.popts = &c->popts;
    /* Counters: decided on the committed count and applied with a durable decision row in one
     * store transaction (issue #10), before anything can leave. */
    *req = (xb_store_decide_req){.out = &c->dec,
                                 .year = xb_policy_year_cn(now),
                                 .id = r->id,
                                 .dest = d->http->name,
                                 .fn = decide_cb,
                                 .ctx = &c->da};
}

/* The copy's durable decision (or its error) into its plan and the record's outcomes: the
 * settlement leg (its settle fn may run on both deciders at once), the body to send, the
 * idempotency key. Counts into st. */
static void copy_finish(xb_pipeline *p, decide_stats *st, copy *c, const xb_store_decide_req *req)
{
    plan *pl = c->pl;
    xb_policy_decision *dec = &c->dec;
    xb_msg *msg = c->da.msg;
    xb_error err;
    xb_error_clear(&err);
    json_t *o = json_pack("{ss}", "destination", c->da.d->http->name);
    pl->outcome = o;
    json_array_append_new(c->outcomes, o);
    if (req->rc < 0) {
        plan_reason(pl, req->err.code == XB_ESTATE ? "STATE_ERROR" : "POLICY_ERROR",
                    req->err.message);
        st->policy_errors++;
        json_object_set_new(o, "error", json_string(req->err.message));
        return;
    }
    /* as text: the audit line is written from it without a jansson tree (issue #8) */
    json_object_set_new(o, "decision", xb_policy_decision_json_text(dec));
    if (c->popts.caller_validates)
        json_object_set_new(o, "xsd_check", json_string("after_settlement"));
    json_object_set_new(o, "verdict", json_string(xb_policy_verdict_name(dec->verdict)));
    count_actions(st, dec);
    if (dec->verdict == XB_VERDICT_QUARANTINE) {
        plan_reason(pl, "QUARANTINE", dec->reason);
        st->quarantined++;
    } else if (dec->verdict == XB_VERDICT_BLOCK) {
        plan_reason(pl, "BLOCK", dec->reason);
        st->blocked++;
    } else {
        if (c->settle && !p->opts.settle) {
            plan_reason(pl, "SETTLE_UNAVAILABLE", "route has settle: but no settlement stage");
        } else if (c->settle) {
            char *xml = NULL;
            size_t xml_len = 0;
            json_t *detail = NULL;
            int src = p->opts.settle(p->opts.settle_ctx, c->settle, msg, dec->output.data,
                                     dec->output.len, &xml, &xml_len, &detail, &pl->pending, &err);
            if (src < 0) {
                plan_reason(pl, "SETTLE", err.message);
            } else {
                xb_buf_append(&pl->body, xml, xml_len);
                pl->settled = true;
            }
            free(xml);
            if (detail)
                json_object_set_new(o, "settlement", detail);
        } else {
            xb_buf_append(&pl->body, dec->output.data, dec->output.len);
        }
        if (!pl->reason[0] && !dec->uetr[0] && c->canon->len == 0 &&
            canonical_of(c->canon, c->r, &err) < 0)
            plan_reason(pl, "INVALID_XML", err.message);
        if (!pl->reason[0] &&
            xb_sink_http_idempotency_key(pl->key, dec->uetr[0] ? dec->uetr : NULL, c->canon->data,
                                         c->canon->len, c->da.d->http->name, &err) < 0)
            plan_reason(pl, "INVALID", err.message);
        if (!pl->reason[0])
            json_object_set_new(o, "idempotency_key", json_string(pl->key));
    }
    if (pl->reason[0])
        json_object_set_new(o, "dlq", json_string(pl->reason));
}

static void copy_free(copy *c)
{
    xb_policy_decision_free(&c->dec);
    xb_msg_free(c->da.msg);
}

/* issue #7: a signed checkpoint every audit.checkpoint_every entries, in the file and on the
 * audit topic (held by record r like its own line). */
static int write_checkpoint(xb_pipeline *p, rec *r)
{
    char *line = NULL;
    xb_error err;
    if (!p->ckpt)
        return 0;
    if (xb_audit_ckpt_tick(&line, p->ckpt, &err) < 0) {
        set_fatal(p, &err);
        return -1;
    }
    const char *topic = p->rt->cfg->audit.topic;
    if (!line || !topic) {
        free(line);
        return 0;
    }
    job *j = calloc(1, sizeof *j);
    j->kind = JOB_AUDIT;
    j->r = r;
    j->line = line;
    j->line_len = strlen(line);
    r->pending++;
    if (xb_sink_kafka_audit(p->sk, topic, j->line, j->line_len, r->id, j, &err) < 0) {
        set_fatal(p, &err);
        r->pending--;
        job_free(j);
        return -1;
    }
    return 0;
}

/* ---- audit log full (issue #9): hold the record, pause consumption, retry ------------------- */

#define XB_AUDIT_RETRY_MIN_MS 100
#define XB_AUDIT_RETRY_MAX_MS 5000
#define XB_AUDIT_LOG_EVERY_MS 10000

/* Queues a record whose decision is not in the audit log yet. Nothing of it has left (the
 * decision record is written before anything is released), and it is not finished, so no offset
 * passes it; it is decided again when the log takes writes again. front: it was the oldest. */
static void audit_wait_push(xb_pipeline *p, rec *r, bool front, const char *pre_reason,
                            const char *pre_text, json_t *valuation)
{
    struct audit_wait *w = &p->await;
    r->wait_reason = pre_reason ? strdup(pre_reason) : NULL;
    r->wait_text = pre_text ? strdup(pre_text) : NULL;
    r->wait_valuation = valuation ? json_incref(valuation) : NULL;
    if (front) {
        r->wait_next = w->head;
        w->head = r;
        if (!w->tail)
            w->tail = r;
    } else {
        r->wait_next = NULL;
        if (w->tail)
            w->tail->wait_next = r;
        else
            w->head = r;
        w->tail = r;
    }
    w->n++;
}

static rec *audit_wait_pop(xb_pipeline *p)
{
    struct audit_wait *w = &p->await;
    rec *r = w->head;
    if (r) {
        w->head = r->wait_next;
        if (!w->head)
            w->tail = NULL;
        r->wait_next = NULL;
        w->n--;
    }
    return r;
}

/* The audit log refused a write: stop taking records (the loop holds the source while anything
 * waits), say why on /healthz, the metrics and (once per interval) the log. */
static void audit_blocked(xb_pipeline *p, const xb_error *why)
{
    struct audit_wait *w = &p->await;
    uint64_t t = now_ms();
    w->failed = true;
    if (!w->since_ms) {
        w->since_ms = t;
        w->backoff_ms = XB_AUDIT_RETRY_MIN_MS;
        w->next_try_ms = t + w->backoff_ms;
        w->last_log_ms = 0;
    }
    xb_metrics_set(p->metrics, "audit_blocked", NULL, 1);
    xb_metrics_set_health(p->metrics, false, why->message);
    if (w->last_log_ms && t - w->last_log_ms < XB_AUDIT_LOG_EVERY_MS)
        return;
    w->last_log_ms = t;
    xb_log_event(XB_LOG_ERROR, "audit.write_blocked",
                 json_pack("{ss,ss,sI,sI,ss}", "file", p->rt->cfg->audit.file, "msg", why->message,
                           "records_waiting", (json_int_t)w->n + 1, "blocked_ms",
                           (json_int_t)(t - w->since_ms), "action",
                           "consumption paused, offsets held, nothing released; retrying"));
}

static void process_body(xb_pipeline *p, rec *r, const char *pre_reason, const char *pre_text,
                         json_t *valuation);

/* Retries the oldest waiting record (with a backoff up to XB_AUDIT_RETRY_MAX_MS); once it is
 * written the others follow in order, and consumption resumes. */
static void audit_wait_retry(xb_pipeline *p)
{
    struct audit_wait *w = &p->await;
    if (!w->head || p->fatal || now_ms() < w->next_try_ms)
        return;
    w->retrying = true;
    w->failed = false;
    rec *r;
    while (!w->failed && !p->fatal && (r = audit_wait_pop(p)) != NULL) {
        char *reason = r->wait_reason, *text = r->wait_text;
        json_t *valuation = r->wait_valuation;
        r->wait_reason = r->wait_text = NULL;
        r->wait_valuation = NULL;
        process_body(p, r, reason, text, valuation); /* a refusal puts it back in front */
        free(reason);
        free(text);
        json_decref(valuation);
    }
    w->retrying = false;
    if (w->failed) {
        w->backoff_ms =
            w->backoff_ms * 2 < XB_AUDIT_RETRY_MAX_MS ? w->backoff_ms * 2 : XB_AUDIT_RETRY_MAX_MS;
        w->next_try_ms = now_ms() + w->backoff_ms;
        return;
    }
    if (!w->head && w->since_ms) {
        xb_log_event(XB_LOG_WARN, "audit.write_resumed",
                     json_pack("{ss,sI}", "file", p->rt->cfg->audit.file, "blocked_ms",
                               (json_int_t)(now_ms() - w->since_ms)));
        w->since_ms = 0;
        xb_metrics_set(p->metrics, "audit_blocked", NULL, 0);
        if (!p->fatal)
            xb_metrics_set_health(p->metrics, true, NULL);
    }
}

/* Shutting down while records wait: they are not finished, so Kafka redelivers them. */
static void audit_wait_release(xb_pipeline *p)
{
    rec *r;
    while ((r = audit_wait_pop(p)) != NULL) {
        free(r->wait_reason);
        free(r->wait_text);
        json_decref(r->wait_valuation);
        r->poisoned = true;
        rec_done_one(r);
    }
}

/* Appends the decision record to the audit file and sends it to the audit topic. Returns 0, -1
 * (fatal), or 1 when the audit log refused the write and the record must wait (issue #9). */
static int write_audit(xb_pipeline *p, rec *r, json_t *record)
{
    char *line = NULL;
    xb_error err;
    uint64_t seq;
    uint64_t seq_before = xb_audit_seq(p->audit);
    /* Canonical bytes written directly (decisions are already text): building, sorting and
     * dumping a tree per record cost more than deciding the message (issue #8 profile). */
    xb_buf_reset(&p->record_text);
    if ((xb_policy_record_write(&p->record_text, record) < 0 &&
         xb_error_set(&err, XB_ENOMEM, NULL, "audit: cannot write the record") < 0) ||
        xb_audit_append_raw(&line, &seq, p->audit, "decision", p->record_text.data,
                            p->record_text.len, &err) < 0) {
        xb_metrics_add(p->metrics, "audit_write_failures_total", NULL, 1);
        /* issue #9: a write the file system refused (disk full) left nothing behind (audit.h):
         * the record waits and is written again when there is room. Anything else stops. */
        if (err.code == XB_EIO && xb_audit_seq(p->audit) == seq_before) {
            audit_blocked(p, &err);
            return 1;
        }
        set_fatal(p, &err);
        return -1;
    }
    p->stats.audit_records++;
    xb_metrics_add(p->metrics, "audit_records_total", NULL, 1);
    const char *topic = p->rt->cfg->audit.topic;
    if (!topic) {
        free(line);
        return write_checkpoint(p, r);
    }
    job *j = calloc(1, sizeof *j);
    j->kind = JOB_AUDIT;
    j->r = r;
    j->line = line;
    j->line_len = strlen(line);
    r->pending++;
    if (xb_sink_kafka_audit(p->sk, topic, j->line, j->line_len, r->id, j, &err) < 0) {
        set_fatal(p, &err);
        r->pending--;
        job_free(j);
        return -1;
    }
    return write_checkpoint(p, r);
}

static size_t find_dests(runtime *rt, const char *topic, const char *def_id, size_t *idx,
                         size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->cfg->n_routes; i++) {
        const xb_route *route = &rt->cfg->routes[i];
        if (!xb_config_route_matches(route, topic, def_id))
            continue;
        for (size_t k = 0; k < route->n_destinations; k++)
            for (size_t d = 0; d < rt->n_dests; d++)
                if (!strcmp(rt->dests[d].http->name, route->destinations[k])) {
                    bool seen = false;
                    for (size_t s = 0; s < n; s++)
                        seen |= idx[s] == d;
                    if (!seen && n < cap)
                        idx[n++] = d;
                }
    }
    return n;
}

static void process_body(xb_pipeline *p, rec *r, const char *pre_reason, const char *pre_text,
                         json_t *valuation);

/* A record taken from the source: counted as consumed, held until finished. */
static rec *take_record(xb_pipeline *p, rd_kafka_message_t *km, uint64_t gen)
{
    rec *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->p = p;
    r->rt = p->rt;
    r->rt->refs++;
    r->km = km;
    r->gen = gen;
    r->pending = 1; /* held by this function until every job is issued */
    const char *topic = rd_kafka_topic_name(km->rkt);
    snprintf(r->id, sizeof r->id, "%s:%" PRId32 ":%" PRId64, topic, km->partition, km->offset);
    p->stats.consumed++;
    p->stats.outstanding++;
    xb_metrics_add(p->metrics, "consumed_total", NULL, 1);
    r->body = km->payload;
    r->body_len = km->len;
    return r;
}

/* issue #6: a holdings record goes to the valuation route, which answers in on_valuation. */
static bool to_valuation(xb_pipeline *p, rec *r)
{
    const char *topic = rd_kafka_topic_name(r->km->rkt);
    if (!p->vr || !xb_valroute_takes(p->vr, topic))
        return false;
    rd_kafka_timestamp_type_t tt;
    xb_valroute_submit(p->vr, topic, r->km->partition, r->body, r->body_len, r->id,
                       rd_kafka_message_timestamp(r->km, &tt), r);
    return true;
}

static void process(xb_pipeline *p, rd_kafka_message_t *km, uint64_t gen)
{
    rec *r = take_record(p, km, gen);
    if (!to_valuation(p, r))
        process_body(p, r, NULL, NULL, NULL);
}

/* Parse, route and decide one record for every destination: the part of a record's life that
 * needs no pipeline state, so that it can run on a decider thread (issue #8). pre_reason parks
 * the whole record without parsing (the valuation route's verdict); valuation goes into the
 * decision record. The message tree is made and freed here, on one thread: handing a tree to
 * the other core cost more than parsing it (a trial of 2026-11-27, RESULTS.md). */
/* A record on its way through decide_records: its parse, canonical form and outcomes. */
typedef struct deciding {
    rec *r;
    const char *pre_reason, *pre_text; /* the record is refused whole before any parse */
    json_t *valuation;
    decided *out;
    xb_msg *msg;
    xb_buf canon;
    json_t *outcomes;
} deciding;

/* The decision record's head, the parse, the destinations: one plan per destination. Returns
 * how many copies the store must decide. */
static size_t record_begin(deciding *g)
{
    rec *r = g->r;
    decided *out = g->out;
    rd_kafka_message_t *km = r->km;
    const char *topic = rd_kafka_topic_name(km->rkt);
    memset(out, 0, sizeof *out);
    g->msg = NULL;
    g->canon = (xb_buf)XB_BUF_INIT;
    g->outcomes = NULL;
    out->record = json_pack("{ss,s{ss,si,sI}}", "id", r->id, "source", "topic", topic, "partition",
                            (int)km->partition, "offset", (json_int_t)km->offset);
    xb_error err;
    xb_error_clear(&err);
    if (g->valuation)
        json_object_set(out->record, "valuation", g->valuation);
    int rc = g->pre_reason ? XB_EINVAL : xb_msg_parse(&g->msg, r->body, r->body_len, NULL, &err);
    if (g->pre_reason) {
        out->whole_reason = g->pre_reason;
        out->st.invalid += strcmp(g->pre_reason, "VALUATION_MISSING_INPUT") != 0;
        snprintf(out->whole_text, sizeof out->whole_text, "%s", g->pre_text ? g->pre_text : "");
        return 0;
    }
    if (rc < 0) {
        out->whole_reason = rc == XB_EUNSUPPORTED ? "UNSUPPORTED" : "INVALID_XML";
        if (rc == XB_EUNSUPPORTED)
            out->st.unsupported++;
        else
            out->st.invalid++;
        snprintf(out->whole_text, sizeof out->whole_text, "%s", err.message);
        return 0;
    }
    const char *def_id = xb_msg_definition(g->msg)->id;
    json_object_set_new(out->record, "definition", json_string(def_id));
    size_t idx[XB_PIPELINE_MAX_DEST_STATS];
    size_t n = find_dests(r->rt, topic, def_id, idx, XB_PIPELINE_MAX_DEST_STATS);
    bytes_sha256(r->sha256, r->body, r->body_len);
    if (n == 0) {
        out->whole_reason = "NO_ROUTE";
        out->st.no_route++;
        snprintf(out->whole_text, sizeof out->whole_text, "no route takes %s from topic %s", def_id,
                 topic);
        return 0;
    }
    g->outcomes = json_array();
    for (size_t k = 0; k < n; k++) {
        plan *pl = &out->plans[out->n_plans++];
        memset(pl, 0, sizeof *pl);
        pl->dest = idx[k];
    }
    return n;
}

/* Copy k of a record: its message (the record's parse for the first, a fresh one for each
 * after it: decide transforms in place). False when that parse failed (the plan says so). */
static bool record_copy(deciding *g, size_t k, copy *c)
{
    memset(c, 0, sizeof *c);
    c->r = g->r;
    c->out = g->out;
    c->pl = &g->out->plans[k];
    c->canon = &g->canon;
    c->outcomes = g->outcomes;
    if (k == 0) { /* the record's parse is the first copy's */
        c->da.msg = g->msg;
        g->msg = NULL;
        return true;
    }
    xb_error err;
    xb_error_clear(&err);
    if (xb_msg_parse(&c->da.msg, g->r->body, g->r->body_len, NULL, &err) < 0) {
        plan_reason(c->pl, "INVALID_XML", err.message);
        return false;
    }
    return true;
}

static void record_end(deciding *g)
{
    decided *out = g->out;
    if (g->outcomes)
        json_object_set_new(out->record, "outcomes", g->outcomes);
    if (out->whole_reason)
        json_object_set_new(
            out->record, "dlq",
            json_pack("{ss,ss}", "reason", out->whole_reason, "text", out->whole_text));
    xb_buf_free(&g->canon);
    xb_msg_free(g->msg);
}

/* Decides n records into their g[i].out: every destination's copy of every record is decided
 * by the store in one batch (one write transaction for all that count), then finished in
 * record and destination order. Runs on a decider or on the pipeline's thread. */
static void decide_records(xb_pipeline *p, xb_store *store, deciding *g, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += record_begin(&g[i]);
    copy *cs = total ? calloc(total, sizeof *cs) : NULL;
    xb_store_decide_req *reqs = total ? calloc(total, sizeof *reqs) : NULL;
    size_t nc = 0;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n && cs && reqs; i++)
        for (size_t k = 0; k < g[i].out->n_plans; k++)
            if (record_copy(&g[i], k, &cs[nc])) {
                copy_begin(p, &cs[nc], &reqs[nc], now);
                nc++;
            }
    if (total && (!cs || !reqs)) /* nothing decided: every copy is a policy error */
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < g[i].out->n_plans; k++)
                plan_reason(&g[i].out->plans[k], "POLICY_ERROR", "out of memory");
    xb_store_decide_batch(store, reqs, nc);
    for (size_t c = 0; c < nc; c++) {
        copy_finish(p, &cs[c].out->st, &cs[c], &reqs[c]);
        copy_free(&cs[c]);
    }
    free(cs);
    free(reqs);
    for (size_t i = 0; i < n; i++)
        record_end(&g[i]);
}

static void decide_record(xb_pipeline *p, xb_store *store, rec *r, const char *pre_reason,
                          const char *pre_text, json_t *valuation, decided *out)
{
    deciding g = {
        .r = r, .pre_reason = pre_reason, .pre_text = pre_text, .valuation = valuation, .out = out};
    decide_records(p, store, &g, 1);
}

static void decided_free(xb_pipeline *p, decided *d)
{
    for (size_t k = 0; k < d->n_plans; k++) {
        free(d->plans[k].text);
        xb_buf_free(&d->plans[k].body);
        if (d->plans[k].pending && p->opts.settle_discard)
            p->opts.settle_discard(d->plans[k].pending);
    }
    json_decref(d->record);
    memset(d, 0, sizeof *d);
}

/* Records decided before their settled copies are made durable together: a burst's worth, so
 * that a record waits for a few decisions, not for the burst. */
#define SETTLE_COMMIT_EVERY 16

/* Settled copies leave only once the settlement stage has made them durable (the ledger's SENT
 * rows, issue #5), here in one commit for the copies of n decided records (issue #8: a commit
 * per message was a tenth of a settled message's CPU). A copy it could not record is parked
 * with reason SETTLE, and its entry in the decision record says so. On the pipeline's thread. */
static void commit_settled(xb_pipeline *p, decided *const *ds, size_t n)
{
    enum { MAX = SETTLE_COMMIT_EVERY * XB_PIPELINE_MAX_DEST_STATS };
    plan *pls[MAX];
    void *pending[MAX];
    bool ok[MAX];
    size_t m = 0;
    for (size_t i = 0; i < n && i < SETTLE_COMMIT_EVERY; i++)
        for (size_t k = 0; k < ds[i]->n_plans; k++) {
            plan *pl = &ds[i]->plans[k];
            void *pend = pl->pending;
            pl->pending = NULL;
            if (!pend)
                continue;
            if (pl->reason[0] || !p->opts.settle_commit) { /* parked anyway, or cannot commit */
                if (!pl->reason[0])
                    plan_reason(pl, "SETTLE", "the settlement stage has no commit");
                if (p->opts.settle_discard)
                    p->opts.settle_discard(pend);
                continue;
            }
            pls[m] = pl;
            pending[m++] = pend;
        }
    xb_error err;
    xb_error_clear(&err);
    if (m == 0 || p->opts.settle_commit(p->opts.settle_ctx, pending, m, ok, &err) == 0)
        return;
    for (size_t i = 0; i < m; i++) {
        if (ok[i])
            continue;
        plan_reason(pls[i], "SETTLE", err.message);
        json_object_del(pls[i]->outcome, "idempotency_key");
        json_object_set_new(pls[i]->outcome, "dlq", json_string("SETTLE"));
    }
}

/* The rest of a decided record's life, on the pipeline's thread: the decision record is written
 * (before anything leaves), then every copy is sent or parked. */
static void finish_record(xb_pipeline *p, rec *r, decided *d, const char *pre_reason,
                          const char *pre_text, json_t *valuation)
{
    xb_error err;
    xb_error_clear(&err);
    add_decide_stats(&p->stats, &d->st);
    for (size_t k = 0; k < d->n_plans; k++)
        if (r->rt->dests[d->plans[k].dest].stats_slot < 0)
            r->rt->dests[d->plans[k].dest].stats_slot =
                dest_stats_slot(p, r->rt->dests[d->plans[k].dest].http->name);
    int audited = write_audit(p, r, d->record);
    if (audited == 0) {
        if (d->whole_reason)
            park(p, r, SIZE_MAX, d->whole_reason, d->whole_text);
        for (size_t k = 0; k < d->n_plans; k++) {
            plan *pl = &d->plans[k];
            if (pl->reason[0]) {
                park(p, r, pl->dest, pl->reason, pl->text);
                continue;
            }
            job *j = calloc(1, sizeof *j);
            j->kind = JOB_HTTP;
            j->r = r;
            j->dest = pl->dest;
            if (pl->settled && p->opts.settled) {
                j->settled = malloc(pl->body.len ? pl->body.len : 1);
                if (j->settled) {
                    memcpy(j->settled, pl->body.data, pl->body.len);
                    j->settled_len = pl->body.len;
                }
            }
            r->pending++;
            dest_rt *dd = &r->rt->dests[pl->dest];
            if ((dd->sftp
                     ? xb_sink_sftp_submit(dd->sftp, pl->body.data, pl->body.len, pl->key, j, &err)
                     : xb_sink_http_submit(dd->sink, pl->body.data, pl->body.len, pl->key, j,
                                           &err)) < 0) {
                r->pending--;
                job_free(j);
                park(p, r, pl->dest, "INVALID", err.message);
            }
        }
    } else if (audited < 0) {
        r->poisoned = true;
    }
    decided_free(p, d);
    if (audited > 0) { /* issue #9: no room in the audit log; decided again when there is */
        audit_wait_push(p, r, p->await.retrying, pre_reason, pre_text, valuation);
        return;
    }
    rec_done_one(r);
}

/* The rest of a record's life once the bytes to decide on are known, on this thread: decide,
 * audit, then deliver or park. */
static void process_body(xb_pipeline *p, rec *r, const char *pre_reason, const char *pre_text,
                         json_t *valuation)
{
    if (p->await.head && !p->await.retrying) { /* issue #9: behind the records that wait */
        audit_wait_push(p, r, false, pre_reason, pre_text, valuation);
        return;
    }
    decided d, *one = &d;
    decide_record(p, p->store, r, pre_reason, pre_text, valuation, &d);
    commit_settled(p, &one, 1);
    finish_record(p, r, &d, pre_reason, pre_text, valuation);
}

/* issue #6: the valuation route's answer for a holdings record, now or after a wait. */
static void on_valuation(void *ctx, void *token, const xb_valroute_outcome *o)
{
    xb_pipeline *p = ctx;
    rec *r = token;
    if (o->cancelled) { /* shutting down while it waited: not finished, redelivered next start */
        r->poisoned = true;
        rec_done_one(r);
        return;
    }
    if (o->body) {
        const char *function = json_string_value(json_object_get(o->detail, "function"));
        xb_metrics_add(p->metrics, "valuation_reports_total", function ? function : "unknown", 1);
        r->own_body = malloc(o->len ? o->len : 1);
        if (!r->own_body)
            abort(); /* cannot keep the report: stopping beats losing the record */
        memcpy(r->own_body, o->body, o->len);
        r->body = r->own_body;
        r->body_len = o->len;
    }
    process_body(p, r, o->body ? NULL : o->reason, o->text, o->detail);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int pre_commit(void *ctx)
{
    xb_pipeline *p = ctx;
    xb_error err;
    if (p->opts.settled_flush) /* delivery outcomes of finished records reach the ledger first */
        p->opts.settled_flush(p->opts.settle_ctx);
    /* A failed fdatasync stays fatal, unlike a refused write (audit_blocked): entries written
     * since the last sync have been acted on, and after a failed sync Linux may drop their pages
     * and let the next fsync succeed, so a retry could commit past audit lines that are gone.
     * A restart re-reads the file and Kafka redelivers from the last commit. */
    if (xb_audit_sync(p->audit, &err) < 0) {
        xb_metrics_add(p->metrics, "audit_write_failures_total", NULL, 1);
        set_fatal(p, &err);
        return -1;
    }
    return 0;
}

/* Global brake: stop taking records while the sinks hold more than this many messages. A single
 * message waiting for a retry must not stop the others (a 30% failing receiver would throttle the
 * whole pipeline to its retry cadence); per-partition pauses (source_kafka: max_outstanding) are
 * what keeps a partition behind an unfinished record bounded. */
static bool sinks_overloaded(const runtime *rt)
{
    uint64_t pending = 0;
    for (size_t i = 0; i < rt->n_dests; i++) {
        if (rt->dests[i].sftp) {
            xb_sink_sftp_stats ss;
            xb_sink_sftp_stats_get(rt->dests[i].sftp, &ss);
            pending += ss.pending;
            continue;
        }
        xb_sink_http_stats st;
        xb_sink_http_stats_get(rt->dests[i].sink, &st);
        pending += st.pending;
    }
    return pending > (uint64_t)rt->cfg->pipeline.max_outstanding * 2;
}

/* An SFTP destination (issue #12): same contract, its own stats type. */
static unsigned poll_sftp(xb_pipeline *p, xb_sink_sftp *s, int wait_ms)
{
    xb_error err;
    xb_sink_sftp_stats st;
    xb_sink_sftp_stats_get(s, &st);
    if (st.pending > 0 && xb_sink_sftp_poll(s, wait_ms, &err) < 0)
        set_fatal(p, &err);
    xb_sink_sftp_stats_get(s, &st);
    return st.pending;
}

static unsigned poll_sinks(xb_pipeline *p, runtime *rt, int wait_ms)
{
    unsigned pending = 0;
    for (size_t i = 0; i < rt->n_dests; i++) {
        if (rt->dests[i].sftp) {
            pending += poll_sftp(p, rt->dests[i].sftp, pending == 0 ? wait_ms : 0);
            continue;
        }
        xb_error err;
        xb_sink_http_stats st;
        xb_sink_http_stats_get(rt->dests[i].sink, &st);
        int w = (pending == 0 && st.pending > 0) ? wait_ms : 0;
        if (st.pending > 0 && xb_sink_http_poll(rt->dests[i].sink, w, &err) < 0)
            set_fatal(p, &err);
        xb_sink_http_stats_get(rt->dests[i].sink, &st);
        pending += st.pending;
    }
    return pending;
}

static void lag_cb(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    xb_metrics_set_lag(ctx, topic, partition, lag);
}

static void update_gauges(xb_pipeline *p)
{
    xb_source_foreach_lag(p->src, lag_cb, p->metrics);
    xb_metrics_set(p->metrics, "paused_partitions", NULL, xb_source_paused_count(p->src));
    xb_metrics_set(p->metrics, "outstanding_bytes", NULL,
                   (int64_t)xb_source_outstanding_bytes(p->src));
    xb_metrics_set(p->metrics, "kafka_fetch_wakes_total", NULL,
                   (int64_t)xb_source_fetch_wakes(p->src));
    if (p->vr)
        xb_metrics_set(p->metrics, "valuation_held", NULL, (int64_t)xb_valroute_held(p->vr));
    for (size_t i = 0; i < p->rt->n_dests; i++) {
        if (p->rt->dests[i].sftp) {
            xb_sink_sftp_stats ss;
            xb_sink_sftp_stats_get(p->rt->dests[i].sftp, &ss);
            xb_metrics_set(p->metrics, "in_flight", p->rt->dests[i].http->name, ss.pending);
            continue;
        }
        xb_sink_http_stats st;
        xb_sink_http_stats_get(p->rt->dests[i].sink, &st);
        xb_metrics_set(p->metrics, "in_flight", p->rt->dests[i].http->name, st.pending);
        xb_metrics_set(p->metrics, "circuit_open", p->rt->dests[i].http->name,
                       st.breaker == XB_SINK_HTTP_BREAKER_OPEN);
    }
    xb_ops_metrics_update(p->metrics, p->store, p->rt->catalogs, (int64_t)time(NULL));
}

static bool same_subtree(const xb_config *a, const xb_config *b, const char *key)
{
    char *x = xb_yaml_canonical(json_object_get(a->tree, key));
    char *y = xb_yaml_canonical(json_object_get(b->tree, key));
    bool same = x && y ? !strcmp(x, y) : x == y; /* absent in both is the same */
    free(x);
    free(y);
    return same;
}

static void do_reload(xb_pipeline *p)
{
    runtime *nrt = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (runtime_build(&nrt, p->config_path, p, true, &err) < 0) {
        xb_log_event(XB_LOG_ERROR, "config.reload_refused",
                     json_pack("{ss,ss,ss}", "file", p->config_path, "setting", err.path, "msg",
                               err.message));
        xb_metrics_add(p->metrics, "config_reloads_total", "refused", 1);
        return;
    }
    /* issue #6: the valuation route's funds and tables live as long as the process; a changed
     * entry (say, a new holdings topic) would meet a route that cannot value it, so refuse. */
    if (!same_subtree(p->rt->cfg, nrt->cfg, "valuation")) {
        xb_log(XB_LOG_ERROR, "config.reload_refused",
               "valuation: changes need a restart (the running entries stay)");
        xb_metrics_add(p->metrics, "config_reloads_total", "refused", 1);
        runtime_free(nrt);
        return;
    }
    static const char *const restart_keys[] = {"kafka", "audit", "state", "metrics"};
    for (size_t i = 0; i < sizeof restart_keys / sizeof restart_keys[0]; i++)
        if (!same_subtree(p->rt->cfg, nrt->cfg, restart_keys[i]))
            xb_log(XB_LOG_WARN, "config.reload_partial",
                   "changes under %s: take effect at the next restart", restart_keys[i]);
    bool topics_changed = p->rt->cfg->n_topics != nrt->cfg->n_topics;
    for (size_t i = 0; !topics_changed && i < nrt->cfg->n_topics; i++)
        topics_changed = strcmp(p->rt->cfg->topics[i], nrt->cfg->topics[i]) != 0;
    if (topics_changed) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new((int)nrt->cfg->n_topics);
        for (size_t i = 0; i < nrt->cfg->n_topics; i++)
            rd_kafka_topic_partition_list_add(l, nrt->cfg->topics[i], RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(xb_source_handle(p->src), l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            xb_log(XB_LOG_ERROR, "config.reload_refused", "resubscribe failed: %s",
                   rd_kafka_err2str(e));
            runtime_free(nrt);
            return;
        }
    }
    runtime *old = p->rt;
    p->rt = nrt;
    old->next_retired = p->retired;
    p->retired = old;
    xb_log_set_level(nrt->cfg->log_level);
    xb_metrics_add(p->metrics, "config_reloads_total", "ok", 1);
    xb_log(XB_LOG_INFO, "config.reloaded", "%s", p->config_path);
    runtime_release(p, old); /* freed once its last record finishes */
}

/* One record decided on a decider thread. */
typedef struct worker_item {
    xb_pipeline *p;
    rec *r;
    size_t worker, index; /* which worker decides it, and its place in that worker's batch */
    decided d;
} worker_item;

/* A decider's batch: decided together, so that the store commits their decisions with one
 * transaction (issue #8). */
static void decide_on_worker(void *ctx, void *const *items, size_t n)
{
    deciding g[XB_WORKER_MAX];
    for (size_t i = 0; i < n; i++) {
        worker_item *w = items[i];
        g[i] = (deciding){.r = w->r, .out = &w->d};
    }
    if (n)
        decide_records(((worker_item *)items[0])->p, ctx, g, n);
}

/* A decided record whose turn has come, on this thread. After a fatal error nothing more is
 * written or sent (its offset stays uncommitted); behind records waiting for room in the audit
 * log it waits too (issue #9) and is decided again then (the store answers with the decision it
 * already holds). */
static void finish_decided(xb_pipeline *p, worker_item *it)
{
    if (p->fatal) {
        decided_free(p, &it->d);
        it->r->poisoned = true;
        rec_done_one(it->r);
    } else if (p->await.head && !p->await.retrying) {
        decided_free(p, &it->d);
        audit_wait_push(p, it->r, false, NULL, NULL, NULL);
    } else {
        p->stats.decided_on_worker++;
        finish_record(p, it->r, &it->d, NULL, NULL, NULL);
    }
}

/* A fetch brings a few hundred records: serving the sinks every few decisions sends requests
 * (and takes answers) while the burst is still being decided, instead of after all of it, so a
 * record waits for a few decisions, not for the burst. */
static void served_one(xb_pipeline *p, int *got)
{
    if (++*got % XB_SINK_POLL_EVERY == 0) {
        poll_sinks(p, p->rt, 0);
        xb_sink_kafka_poll(p->sk, 0);
    }
}

/* A burst of records handed to the deciders. Two take turns: the deciders decide one while this
 * thread writes out and sends the one before (issue #8: with one burst at a time the deciders
 * sat idle while this thread finished the end of each burst, 45% of their time, and this
 * thread waited for them at the start of the next). */
typedef struct burst {
    worker_item items[XB_WORKER_MAX];
    rec *rs[XB_WORKER_MAX];
    int slot[XB_WORKER_MAX]; /* worker item, or -1: valuation route, -2: this thread */
    bool on_worker[XB_DECIDERS];
    bool waited; /* every item on a decider is done and waited for */
    size_t n;
} burst;

/* Takes the records and hands their decisions to the deciders, alternately. The previous
 * burst must be waited for whole (a decider takes one batch at a time). */
static void start_burst(xb_pipeline *p, burst *b, rd_kafka_message_t *const *ms,
                        const uint64_t *gens, size_t n)
{
    void *items[XB_DECIDERS][XB_WORKER_MAX];
    size_t nw = 0, per[XB_DECIDERS] = {0};
    b->n = n;
    b->waited = false;
    for (size_t i = 0; i < n; i++) {
        b->rs[i] = take_record(p, ms[i], gens[i]);
        b->slot[i] = to_valuation(p, b->rs[i]) ? -1 : p->await.head ? -2 : (int)nw;
        if (b->slot[i] >= 0) {
            size_t k = nw % p->n_workers;
            b->items[nw] = (worker_item){.p = p, .r = b->rs[i], .worker = k, .index = per[k]};
            items[k][per[k]++] = &b->items[nw];
            nw++;
        }
    }
    for (size_t k = 0; k < p->n_workers; k++)
        b->on_worker[k] = per[k] > 0 && xb_worker_start(p->worker[k], items[k], per[k], NULL) == 0;
}

/* Waits until the deciders are done with b (they may then take the next burst). */
static void wait_burst(xb_pipeline *p, burst *b)
{
    for (size_t i = 0; i < b->n && !b->waited; i++) {
        worker_item *it = b->slot[i] >= 0 ? &b->items[b->slot[i]] : NULL;
        if (it && b->on_worker[it->worker])
            xb_worker_wait(p->worker[it->worker], it->index);
    }
    b->waited = true;
}

/* Gets item i of b decided: waits for its decider, or decides it here when none took it. */
static void decided_item(xb_pipeline *p, burst *b, worker_item *it)
{
    if (!b->on_worker[it->worker])
        decide_record(p, p->store, it->r, NULL, NULL, NULL, &it->d);
    else if (!b->waited)
        xb_worker_wait(p->worker[it->worker], it->index);
}

/* Writes out and sends b's records in offset order, a run of them at a time when settled
 * copies need a commit first (commit_settled), one at a time otherwise. */
static void finish_burst(xb_pipeline *p, burst *b, int *got)
{
    size_t every = p->opts.settle_commit ? SETTLE_COMMIT_EVERY : 1;
    for (size_t i = 0; i < b->n;) {
        if (b->slot[i] < 0) {
            if (b->slot[i] == -2)
                process_body(p, b->rs[i], NULL, NULL, NULL);
            served_one(p, got);
            i++;
            continue;
        }
        decided *run[SETTLE_COMMIT_EVERY];
        size_t m = 0;
        for (; i + m < b->n && b->slot[i + m] >= 0 && m < every; m++) {
            worker_item *it = &b->items[b->slot[i + m]];
            decided_item(p, b, it);
            run[m] = &it->d;
        }
        commit_settled(p, run, m);
        for (size_t k = 0; k < m; k++) {
            finish_decided(p, &b->items[b->slot[i + k]]);
            served_one(p, got);
        }
        i += m;
    }
    b->n = 0;
}

/* Finishes the burst the deciders hold, if any. Returns how many records it had. */
static size_t flush_burst(xb_pipeline *p, int *got)
{
    burst *b = p->held;
    if (!b)
        return 0;
    p->held = NULL;
    size_t n = b->n;
    finish_burst(p, b, got);
    return n;
}

/* The records ready now (up to XB_WORKER_MAX, and up to 256 a turn with *got). With
 * pipeline.decide_thread the deciders parse and decide them while this thread writes the
 * decision records and sends, in offset order, the burst decided before: this thread alone was
 * the limit of the whole machine (issue #8). A lone record is decided here, after the held
 * burst: handing it over would only add a wake-up. Returns how many records were taken or
 * finished (0: nothing to do). */
static size_t process_burst(xb_pipeline *p, int *got)
{
    rd_kafka_message_t *ms[XB_WORKER_MAX];
    uint64_t gens[XB_WORKER_MAX];
    size_t n = 0, want = p->n_workers && p->rt->cfg->pipeline.decide_thread ? XB_WORKER_MAX : 1;
    size_t bytes = 0;
    while (n < want && *got + (int)n < 256 && bytes < XB_BURST_BYTES &&
           (ms[n] = xb_source_poll(p->src, 0, &gens[n])))
        bytes += ms[n++]->len;
    if (n < 2) {
        size_t held = flush_burst(p, got);
        for (size_t i = 0; i < n; i++) {
            process(p, ms[i], gens[i]);
            served_one(p, got);
        }
        return n + held;
    }
    burst *prev = p->held, *b = prev == &p->bursts[0] ? &p->bursts[1] : &p->bursts[0];
    if (prev)
        wait_burst(p, prev);
    start_burst(p, b, ms, gens, n);
    p->held = b;
    if (prev)
        finish_burst(p, prev, got);
    return n;
}

static uint64_t state_commits(const xb_pipeline *p)
{
    uint64_t n = xb_store_write_commits(p->store);
    for (size_t k = 0; k < XB_DECIDERS; k++)
        n += xb_store_write_commits(p->wstore[k]);
    return n;
}

/* Clears wake_fd: from here on, a record or report queued on an empty queue sets it again. */
static void wake_drain(xb_pipeline *p)
{
    uint64_t n;
    if (p->wake_fd >= 0)
        (void)!read(p->wake_fd, &n, sizeof n); /* EAGAIN when nothing was signalled */
}

/* Waits up to ms for the producer's delivery reports, or for a record: waiting in rd_kafka_poll
 * alone left a record that arrived meanwhile in the consumer queue for the whole wait. */
static void wait_reports(xb_pipeline *p, int ms)
{
    if (p->wake_fd < 0) {
        xb_sink_kafka_poll(p->sk, ms);
        return;
    }
    struct pollfd pf = {.fd = p->wake_fd, .events = POLLIN};
    (void)poll(&pf, 1, ms);
    xb_sink_kafka_poll(p->sk, 0);
}

int xb_pipeline_run(xb_pipeline *p, xb_error *err)
{
    uint64_t last_commit = now_ms(), last_gauges = 0, drain_deadline = 0;
    bool draining = false;
    xb_metrics_set_health(p->metrics, true, NULL);
    xb_log_event(XB_LOG_INFO, "pipeline.started",
                 json_pack("{ss,si}", "config", p->config_path, "metrics_port",
                           p->metrics ? xb_metrics_port(p->metrics) : 0));
    for (;;) {
        uint64_t t = now_ms();
        if (p->fatal)
            break;
        if (p->stop_flag && !draining) {
            draining = true;
            drain_deadline = t + p->rt->cfg->pipeline.drain_timeout_ms;
            xb_source_hold(p->src, true);
            xb_log_event(XB_LOG_INFO, "pipeline.draining",
                         json_pack("{sI}", "outstanding", (json_int_t)p->stats.outstanding));
        }
        if (p->reload_flag) {
            p->reload_flag = 0;
            do_reload(p);
        }
        if (!draining)
            xb_source_hold(p->src, p->await.head || sinks_overloaded(p->rt));
        wake_drain(p); /* before looking at the queues, so nothing queued after is missed */
        int got = 0;
        uint64_t gen;
        rd_kafka_message_t *m;
        while (got < 256 && !p->fatal && process_burst(p, &got) > 0)
            ;
        xb_valroute_tick(p->vr); /* issue #6: reference tables in, held holdings retried */
        audit_wait_retry(p);     /* issue #9: records waiting for room in the audit log */
        unsigned pending = poll_sinks(p, p->rt, 0);
        for (runtime *rt = p->retired; rt; rt = rt->next_retired)
            poll_sinks(p, rt, 0);
        reap_retired(p);
        xb_sink_kafka_poll(p->sk, 0);
        if (!got) {
            if (pending)
                poll_sinks(p, p->rt, 5); /* ends early on a record or report (wake_fd) */
            else if (xb_sink_kafka_outq(p->sk) > 0)
                wait_reports(p, 5);
            else if ((m = xb_source_poll(p->src, draining ? 5 : 50, &gen)) != NULL)
                process(p, m, gen);
        }
        t = now_ms();
        if (t - last_commit >= p->rt->cfg->pipeline.commit_interval_ms) {
            xb_source_commit(p->src, false);
            last_commit = t;
        }
        if (t - last_gauges >= 1000) {
            update_gauges(p);
            last_gauges = t;
            /* Give freed heap pages back once a second: every record allocates and frees a
             * parse tree, an audit line and request bodies, and at full speed the freed pages
             * stayed resident (VmRSS 74-76 MB on 2 partitions; 40-46 MB with this). It costs
             * ~7% CPU per message in page faults (tests/bench/RESULTS.md). */
            malloc_trim(0);
        }
        if (!draining && p->opts.until && p->opts.until(p->opts.until_ctx, &p->stats))
            p->stop_flag = 1;
        if (draining && (p->stats.outstanding == 0 || t >= drain_deadline))
            break;
    }
    int got = 0; /* the burst the deciders hold is written out (or poisoned, after a fatal) */
    flush_burst(p, &got);
    /* Whatever finished is committed (after the audit file is durable); the rest is
     * redelivered at the next start. */
    for (int i = 0; i < 100 && xb_sink_kafka_outq(p->sk) > 0 && !p->fatal; i++)
        xb_sink_kafka_poll(p->sk, 10);
    xb_source_commit(p->src, true);
    if (p->stats.finished > 0)
        xb_log_event(XB_LOG_WARN, "pipeline.latency",
                     json_pack("{sI,sI,sI,ss}", "count", (json_int_t)p->stats.finished, "p50_ms",
                               (json_int_t)latency_percentile(p, p->stats.finished, 500), "p99_ms",
                               (json_int_t)latency_percentile(p, p->stats.finished, 990), "msg",
                               "Kafka record timestamp to acknowledgement, ms"));
    xb_log_event(XB_LOG_INFO, "pipeline.stopped",
                 json_pack("{sI,sI,sI,sI,sI,sI}", "consumed", (json_int_t)p->stats.consumed,
                           "finished", (json_int_t)p->stats.finished, "delivered",
                           (json_int_t)p->stats.delivered, "dlq", (json_int_t)p->stats.dlq,
                           "decided_on_worker", (json_int_t)p->stats.decided_on_worker,
                           "state_commits", (json_int_t)state_commits(p)));
    if (p->fatal) {
        if (err)
            *err = p->fatal_err;
        return p->fatal_err.code < 0 ? p->fatal_err.code : XB_EIO;
    }
    return 0;
}

/* ---- construction -------------------------------------------------------------------------- */

int xb_pipeline_new(xb_pipeline **out, const char *config_path, const xb_pipeline_opts *opts,
                    xb_error *err)
{
    *out = NULL;
    xb_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    if (opts)
        p->opts = *opts;
    p->config_path = strdup(config_path);
    p->lat_ms = calloc(XB_LAT_BUCKETS, sizeof *p->lat_ms);
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* -1: waits time out, as before */
    pthread_mutex_init(&p->store_write_lock, NULL);
    int rc = xb_metrics_new(&p->metrics, err);
    if (rc < 0 || (rc = runtime_build(&p->rt, config_path, p, true, err)) < 0)
        goto fail;
    if (!(p->bursts = calloc(2, sizeof *p->bursts))) {
        rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    const xb_config *cfg = p->rt->cfg;
    xb_log_set_level(cfg->log_level);
    xb_audit_opts ao = {.path = cfg->audit.file,
                        .fsync = cfg->audit.fsync,
                        .every_n = cfg->audit.every_n,
                        .interval_ms = cfg->audit.interval_ms};
    if ((rc = xb_audit_open(&p->audit, &ao, err)) < 0)
        goto fail;
    if (cfg->audit.checkpoint_key) {
        xb_audit_ckpt_opts co = {.audit_path = cfg->audit.file,
                                 .key_path = cfg->audit.checkpoint_key,
                                 .every_n = cfg->audit.checkpoint_every};
        if ((rc = xb_audit_ckpt_new(&p->ckpt, p->audit, &co, err)) < 0)
            goto fail;
    }
    /* Each decider has a connection of its own, which must see the same counters: with an
     * in-memory SQLite database it would be another, empty one, so then this thread decides. */
    bool one_db = strstr(cfg->state.store, ":memory:") || strstr(cfg->state.store, "mode=memory");
    if ((rc = xb_store_open(&p->store, cfg->state.store, err)) < 0) {
        if (err && !err->path[0])
            snprintf(err->path, sizeof err->path, "state.store");
        goto fail;
    }
    xb_store_share_write_lock(p->store, &p->store_write_lock);
    for (size_t k = 0; !one_db && k < XB_DECIDERS; k++, p->n_workers++) {
        if ((rc = xb_store_open(&p->wstore[k], cfg->state.store, err)) < 0 ||
            (rc = xb_worker_new(&p->worker[k], decide_on_worker, p->wstore[k], err)) < 0)
            goto fail;
        xb_store_share_write_lock(p->wstore[k], &p->store_write_lock);
    }
    if (p->opts.env) {
        p->env = p->opts.env;
    } else {
        if ((rc = xb_kafka_env_new(&p->env, cfg, err)) < 0)
            goto fail;
        p->own_env = true;
    }
    if (xb_kafka_env_is_embedded(p->env)) {
        for (size_t i = 0; i < cfg->n_topics; i++)
            xb_kafka_env_create_topic(p->env, cfg->topics[i], 1, NULL);
        xb_kafka_env_create_topic(p->env, cfg->dlq.topic, 1, NULL);
        if (cfg->audit.topic)
            xb_kafka_env_create_topic(p->env, cfg->audit.topic, 1, NULL);
    }
    if ((rc = xb_sink_kafka_new(&p->sk, cfg, p->env, on_kafka_done, p, err)) < 0)
        goto fail;
    xb_sink_kafka_warm(p->sk, cfg->audit.topic);
    xb_sink_kafka_warm(p->sk, cfg->dlq.topic);
    xb_source_opts so = {.max_outstanding = cfg->pipeline.max_outstanding,
                         .max_outstanding_bytes =
                             (uint64_t)cfg->pipeline.max_outstanding_kbytes * 1024,
                         .pre_commit = pre_commit,
                         .ctx = p};
    if ((rc = xb_source_new(&p->src, cfg, p->env, &so, err)) < 0)
        goto fail;
    if (p->wake_fd >= 0) {
        xb_source_set_wake_fd(p->src, p->wake_fd);
        xb_sink_kafka_set_wake_fd(p->sk, p->wake_fd);
    }
    if (cfg->n_valuations &&
        (rc = xb_valroute_new(&p->vr, cfg, p->env, p->store, on_valuation, p, err)) < 0)
        goto fail;
    if (cfg->metrics.enabled && !p->opts.no_metrics &&
        (rc = xb_metrics_serve(p->metrics, cfg->metrics.host, cfg->metrics.port, err)) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    xb_pipeline_free(p);
    return rc;
}

void xb_pipeline_free(xb_pipeline *p)
{
    if (!p)
        return;
    audit_wait_release(p); /* issue #9: records that waited for room in the audit log */
    /* issue #6: held holdings records are released (not finished) while the source lives. */
    xb_valroute_free(p->vr);
    p->vr = NULL;
    /* Sinks first: their CANCELLED callbacks release records while source and producer live. */
    if (p->rt)
        for (size_t i = 0; i < p->rt->n_dests; i++) {
            xb_sink_http_free(p->rt->dests[i].sink);
            p->rt->dests[i].sink = NULL;
            xb_sink_sftp_free(p->rt->dests[i].sftp);
            p->rt->dests[i].sftp = NULL;
        }
    /* A retired runtime is freed when its last record is released; CANCELLED callbacks release
     * records, so hold every retired runtime while its sinks go (they are freed below). */
    for (runtime *rt = p->retired; rt; rt = rt->next_retired)
        rt->refs++;
    for (runtime *rt = p->retired; rt; rt = rt->next_retired)
        for (size_t i = 0; i < rt->n_dests; i++) {
            xb_sink_http_free(rt->dests[i].sink);
            rt->dests[i].sink = NULL;
            xb_sink_sftp_free(rt->dests[i].sftp);
            rt->dests[i].sftp = NULL;
        }
    if (p->ckpt) { /* issue #7: a signed checkpoint at shutdown, in the file and on the topic */
        char *line = NULL;
        xb_error cerr;
        const char *topic = p->rt ? p->rt->cfg->audit.topic : NULL;
        if (xb_audit_ckpt_write(&line, p->ckpt, &cerr) < 0)
            xb_log(XB_LOG_ERROR, "audit.checkpoint_failed", "%s", cerr.message);
        job *j = line && topic && p->sk ? calloc(1, sizeof *j) : NULL;
        if (j) {
            j->kind = JOB_AUDIT;
            j->line = line;
            j->line_len = strlen(line);
            if (xb_sink_kafka_audit(p->sk, topic, j->line, j->line_len, "checkpoint", j, &cerr) < 0)
                job_free(j);
        } else {
            free(line);
        }
        xb_audit_ckpt_free(p->ckpt);
        p->ckpt = NULL;
    }
    if (p->sk) {
        xb_sink_kafka_close(p->sk, 5000); /* remaining reports run on_kafka_done */
        p->sk = NULL;
    }
    xb_source_close(p->src);
    while (p->retired) {
        runtime *rt = p->retired;
        p->retired = rt->next_retired;
        runtime_free(rt);
    }
    runtime_free(p->rt);
    xb_metrics_free(p->metrics);
    xb_buf_free(&p->record_text);
    xb_audit_close(p->audit);
    for (size_t k = 0; k < XB_DECIDERS; k++) { /* idle: every burst finishes before the next */
        xb_worker_free(p->worker[k]);
        xb_store_close(p->wstore[k]);
    }
    free(p->bursts);
    xb_store_close(p->store);
    pthread_mutex_destroy(&p->store_write_lock);
    if (p->own_env)
        xb_kafka_env_free(p->env);
    free(p->config_path);
    free(p->lat_ms);
    if (p->wake_fd >= 0) /* after the consumer and the producer that wrote to it are gone */
        close(p->wake_fd);
    free(p);
}

void xb_pipeline_stop(xb_pipeline *p)
{
    p->stop_flag = 1;
}

void xb_pipeline_reload(xb_pipeline *p)
{
    p->reload_flag = 1;
}

void xb_pipeline_stats_get(const xb_pipeline *p, xb_pipeline_stats *out)
{
    *out = p->stats;
    out->state_commits = state_commits(p);
}

int xb_pipeline_metrics_port(const xb_pipeline *p)
{
    return p->metrics ? xb_metrics_port(p->metrics) : 0;
}

int xb_pipeline_check(const char *config_path, xb_error *err)
{
    runtime *rt = NULL;
    int rc = runtime_build(&rt, config_path, NULL, true, err);
    if (rc < 0)
        return rc;
    if ((rc = xb_valroute_check(rt->cfg, err)) < 0) { /* issue #6: the fund files */
        runtime_free(rt);
        return rc;
    }
    for (size_t i = 0; i < rt->cfg->n_dests; i++) {
        const xb_dest_http *d = &rt->cfg->dests[i];
        const char *files[] = {d->ca, d->cert, d->key, d->sign_key};
        const char *names[] = {"tls.ca", "tls.cert", "tls.key", "sign.key"};
        for (int k = 0; k < 4; k++)
            if (files[k] && access(files[k], R_OK) != 0) {
                rc = xb_error_set(err, XB_ECONFIG, NULL, "destinations.%s.%s: cannot read %s",
                                  d->name, names[k], files[k]);
                snprintf(err->path, sizeof err->path, "destinations.%s.%s", d->name, names[k]);
                runtime_free(rt);
                return rc;
            }
    }
    runtime_free(rt);
    return 0;
}
