/* settle_hook.c — the settlement stage inside the pipeline, and the pacs.002 status flow.
 *
 * Owns: the table of settling routes (options, rates, destinations) built from the config, the
 * pipeline hook, delivery outcomes -> ledger + status topic, and status ingest. See settle_hook.h.
 * Never: returns 0 for a message it could not settle and record, or produces a status report for
 * a message it did not settle.
 */
#include "adapter/settle_hook.h"

#include <libgen.h>
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/settle_sent.h"
#include "adapter/state/ledger.h"
#include "iso20022/buf.h"
#include "iso20022/pacs002.h"
#include "iso20022/write.h"

#define RATES_TOPIC_TIMEOUT_MS 15000
#define RELOAD_MIN_INTERVAL_S 60
#define PRODUCE_FLUSH_MS 10000
/* Delivery outcomes queued for the ledger before a flush is forced (group commit). */
#define PENDING_FLUSH_AT 256

typedef struct settle_route {
    char name[128];
    char destination[128];
    json_t *settle; /* the route's settle: subtree, to recognise it in the pipeline's calls */
    xb_settle_opts opts;
    xb_fx_table *fx;
    time_t loaded_at;
    char rates_error[512]; /* why the rates could not be loaded ("" when they were) */
} settle_route;

struct xb_settle_hook {
    /* Decider threads settle at once (issue #8): they share the route table for reading;
     * adopting a route or re-reading rates (rare) takes it alone. Routes are never removed, but
     * adopting one may move the table: a route pointer is good only while the lock is held. */
    pthread_rwlock_t routes_lock;
    /* The sent cache: deciders put, the pipeline's thread takes. Held for a lookup only: the
     * ledger connection, the queued outcomes and the status producer belong to the pipeline's
     * thread alone (commit, outcomes, flush), and a decider waiting for a ledger commit to put
     * an entry was a tenth of its switches (issue #8). */
    pthread_mutex_t sent_lock;
    char config_dir[1024];
    char bootstrap[512]; /* "" when kafka is embedded or absent */
    settle_route *routes;
    size_t n_routes;
    xb_store *store;
    rd_kafka_t *producer; /* created on the first status report */
    unsigned seq;
    xb_settle_sent_cache *sent; /* ids of settled messages until their outcome (settle_sent.h) */
    /* Delivery outcomes (ACSP/RJCT) not yet in the ledger: written in one transaction by
     * xb_settle_hook_flush, which the pipeline calls before offsets are committed. */
    struct pending_status {
        char key[XB_LEDGER_KEY_SIZE];
        char status[8];
        char *reason; /* NULL or owned */
        char source[200];
    } * pending;
    size_t n_pending, cap_pending;
};

/* ---- building ----------------------------------------------------------------------------------
 */

static int read_route_rates(xb_settle_hook *h, settle_route *r, xb_error *err)
{
    if (r->opts.rates_file[0])
        return xb_settle_rates_load(&r->fx, &r->opts, h->config_dir, err);
    if (!r->opts.rates_topic[0])
        return 0; /* no rates: only CNY transfers can settle on this route */
    if (!h->bootstrap[0])
        return xb_error_set(err, XB_ECONFIG, "kafka.bootstrap.servers",
                            "route %s reads rates from a topic: it needs a real Kafka broker",
                            r->name);
    int rc = xb_fx_new(&r->fx, err);
    return rc < 0 ? rc
                  : xb_settle_rates_from_topic(r->fx, h->bootstrap, r->opts.rates_topic,
                                               RATES_TOPIC_TIMEOUT_MS, err);
}

/* Rates that cannot be loaded do not stop the pipeline: like a catalog that fails, they make
 * every transfer that needs them quarantine (fail closed, with the reason), and a file source is
 * tried again at most once a minute. The failure is logged once per attempt. */
static int load_route_rates(xb_settle_hook *h, settle_route *r, xb_error *err)
{
    xb_fx_free(r->fx);
    r->fx = NULL;
    r->loaded_at = time(NULL);
    r->rates_error[0] = '\0';
    xb_error e = {0};
    if (read_route_rates(h, r, &e) == 0)
        return 0;
    xb_fx_free(r->fx);
    r->fx = NULL;
    snprintf(r->rates_error, sizeof r->rates_error, "%s", e.message);
    xb_log_event(XB_LOG_ERROR, "settle.rates_unavailable",
                 json_pack("{ss,ss,ss}", "route", r->name, "error", xb_error_name(e.code), "msg",
                           e.message));
    (void)err;
    return 0;
}

static int add_route(xb_settle_hook *h, const xb_route *route, size_t i, xb_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "routes[%zu].settle", i);
    settle_route *r = &h->routes[h->n_routes];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", route->name ? route->name : "");
    snprintf(r->destination, sizeof r->destination, "%s",
             route->n_destinations ? route->destinations[0] : "");
    /* A copy: the pipeline reloads its own config; routes are recognised by equal content. */
    r->settle = json_deep_copy(route->settle);
    h->n_routes++;
    int rc = xb_settle_opts_from_tree(&r->opts, r->settle, where, err);
    return rc < 0 ? rc : load_route_rates(h, r, err);
}

/* Reads the config the way the pipeline does (adapter/config.h), so that relative paths and the
 * state store URL are exactly the ones the pipeline uses. */
int xb_settle_hook_new(xb_settle_hook **out, const char *config_path, xb_error *err)
{
    *out = NULL;
    xb_config *cfg = NULL;
    int rc = xb_config_load(&cfg, config_path, err);
    if (rc < 0)
        return rc;
    xb_settle_hook *h = calloc(1, sizeof *h);
    pthread_rwlock_init(&h->routes_lock, NULL);
    pthread_mutex_init(&h->sent_lock, NULL);
    h->routes = calloc(cfg->n_routes + 1, sizeof *h->routes);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", config_path);
    snprintf(h->config_dir, sizeof h->config_dir, "%s", dirname(dir));
    if (!cfg->kafka.embedded && cfg->kafka.bootstrap)
        snprintf(h->bootstrap, sizeof h->bootstrap, "%s", cfg->kafka.bootstrap);
    for (size_t i = 0; rc == 0 && i < cfg->n_routes; i++)
        if (cfg->routes[i].settle)
            rc = add_route(h, &cfg->routes[i], i, err);
    if (rc == 0 && h->n_routes && cfg->state.store)
        rc = xb_store_open(&h->store, cfg->state.store, err);
    /* sized past pipeline.max_outstanding: a replaced entry only costs a parse */
    if (rc == 0 && h->n_routes && !(h->sent = xb_settle_sent_cache_new(4096)))
        rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    xb_config_free(cfg);
    if (rc < 0) {
        xb_settle_hook_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void xb_settle_hook_free(xb_settle_hook *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_routes; i++) {
        json_decref(h->routes[i].settle);
        xb_fx_free(h->routes[i].fx);
    }
    free(h->routes);
    xb_error err = {0};
    if (xb_settle_hook_flush(h, &err) < 0)
        xb_log(XB_LOG_ERROR, "settle.status_failed", "ledger: %s", err.message);
    free(h->pending);
    xb_store_close(h->store);
    xb_settle_sent_cache_free(h->sent);
    if (h->producer) {
        rd_kafka_flush(h->producer, PRODUCE_FLUSH_MS);
        rd_kafka_destroy(h->producer);
    }
    pthread_rwlock_destroy(&h->routes_lock);
    pthread_mutex_destroy(&h->sent_lock);
    free(h);
}

bool xb_settle_hook_needed(const xb_settle_hook *h)
{
    return h && h->n_routes > 0;
}

xb_store *xb_settle_hook_store(xb_settle_hook *h)
{
    return h->store;
}

/* ---- the pipeline hook --------------------------------------------------------------------------
 */

static settle_route *route_for(xb_settle_hook *h, const json_t *settle)
{
    for (size_t i = 0; i < h->n_routes; i++)
        if (json_equal(h->routes[i].settle, settle))
            return &h->routes[i];
    return NULL;
}

/* A settle: subtree the hook has not seen (the pipeline reloaded a changed config): its options
 * and rates are loaded now and kept. Under routes_lock, held alone. */
static settle_route *adopt_route(xb_settle_hook *h, const json_t *settle, xb_error *err)
{
    settle_route *grown = realloc(h->routes, (h->n_routes + 1) * sizeof *h->routes);
    if (!grown) {
        xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    h->routes = grown;
    settle_route *r = &h->routes[h->n_routes];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "(reloaded)");
    r->settle = json_deep_copy(settle);
    h->n_routes++;
    if (xb_settle_opts_from_tree(&r->opts, r->settle, "settle", err) < 0 ||
        load_route_rates(h, r, err) < 0) {
        json_decref(r->settle);
        xb_fx_free(r->fx);
        h->n_routes--;
        return NULL;
    }
    return r;
}

/* Copies src into dst, cutting what does not fit (messages only). */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Settles m on the route of route_settle, under routes_lock read (taken here): adopting an unseen
 * route, or re-reading a file source when a rate is missing (at most once a minute: new fixings
 * arrive daily), takes the lock alone and then settles again. route_name and destination get
 * the route's, for the caller to use after the lock is gone. */
static int settle_on_route(xb_settle_details *d, char route_name[128], char destination[128],
                           xb_settle_hook *h, const json_t *route_settle, xb_msg *m, unsigned flags,
                           xb_error *err)
{
    route_name[0] = destination[0] = '\0';
    pthread_rwlock_rdlock(&h->routes_lock);
    settle_route *r = route_for(h, route_settle);
    if (!r) {
        pthread_rwlock_unlock(&h->routes_lock);
        pthread_rwlock_wrlock(&h->routes_lock);
        bool known = route_for(h, route_settle) || adopt_route(h, route_settle, err);
        pthread_rwlock_unlock(&h->routes_lock);
        if (!known) /* route_name stays "": nothing was settled */
            return err && err->code ? err->code : XB_ECONFIG;
        pthread_rwlock_rdlock(&h->routes_lock);
        r = route_for(h, route_settle);
    }
    int rc = xb_settle_message_ex(d, m, &r->opts, r->fx, flags, err);
    bool retry = rc == XB_ENOTFOUND && (r->opts.rates_file[0] || r->rates_error[0]) &&
                 time(NULL) - r->loaded_at >= RELOAD_MIN_INTERVAL_S;
    if (retry) {
        pthread_rwlock_unlock(&h->routes_lock);
        pthread_rwlock_wrlock(&h->routes_lock);
        r = route_for(h, route_settle);
        if (time(NULL) - r->loaded_at >= RELOAD_MIN_INTERVAL_S) { /* not done meanwhile */
            xb_error e = {0};
            load_route_rates(h, r, &e);
        }
        pthread_rwlock_unlock(&h->routes_lock);
        pthread_rwlock_rdlock(&h->routes_lock);
        r = route_for(h, route_settle);
        xb_settle_details_free(d);
        rc = xb_settle_message_ex(d, m, &r->opts, r->fx, flags, err);
    }
    if (rc == XB_ENOTFOUND && r->rates_error[0] && err) {
        char why[1100];
        snprintf(why, sizeof why, "%s (rates unavailable: %s)", err->message, r->rates_error);
        copy_cut(err->message, sizeof err->message, why);
        copy_cut(d->reason, sizeof d->reason, why);
    }
    snprintf(route_name, 128, "%s", r->name);
    snprintf(destination, 128, "%s", r->destination);
    pthread_rwlock_unlock(&h->routes_lock);
    return rc;
}

/* A settled message whose SENT rows are not in the ledger yet. */
typedef struct xb_settle_pending {
    xb_settle_details d;
    char destination[128];
} xb_settle_pending;

void xb_settle_pending_free(void *pending)
{
    xb_settle_pending *p = pending;
    if (!p)
        return;
    xb_settle_details_free(&p->d);
    free(p);
}

int xb_settle_pipeline_settle(void *ctx, const json_t *route_settle, xb_msg *msg,
                              const char *policy_output, size_t output_len, char **out_xml,
                              size_t *out_len, json_t **detail, void **pending, xb_error *err)
{
    xb_settle_hook *h = ctx;
    *out_xml = NULL;
    *out_len = 0;
    *detail = NULL;
    *pending = NULL;
    /* What leaves is the policy's output (masked, pseudonymised): settle exactly that. msg is
     * the tree the policy transformed, neither validated nor written by it (pipeline.h: the
     * policy's caller_validates): it is settled in place and its Document validated once, after
     * the rewrite (issue #8 profile: XSD validation was 23.4% of xborder's CPU on a settling
     * route when the policy validated the Document before settlement and this stage again after
     * it; 16.6% with one pass). test_settle_hook checks the bytes are the same as from a fresh
     * parse of the policy's bytes. Without a tree (msg NULL) policy_output is parsed and checked in
     * full. */
    xb_msg *own = NULL, *out = msg;
    unsigned flags = XB_SETTLE_DOCUMENT_UNCHECKED;
    if (!out) {
        int prc = xb_msg_parse(&own, policy_output, output_len, NULL, err);
        if (prc < 0)
            return prc;
        out = own;
        flags = 0;
    }
    xb_settle_pending *p = calloc(1, sizeof *p);
    if (!p) {
        xb_msg_free(own);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    char route_name[128];
    int rc = settle_on_route(&p->d, route_name, p->destination, h, route_settle, out, flags, err);
    xb_buf b = XB_BUF_INIT;
    if (route_name[0] && xb_settle_details_write_json(&b, &p->d, route_name) == 0)
        *detail = json_stringn_nocheck(b.data, b.len); /* text: pipeline.h, xb_pipeline_settle_fn */
    xb_buf_reset(&b);
    if (rc == 0)
        rc = xb_write_message(&b, out, err);
    if (rc == 0) {
        xb_settle_sent ids; /* for the outcome: the ids without parsing the bytes again */
        if (h->sent && xb_settle_sent_read(&ids, out) == 0) {
            pthread_mutex_lock(&h->sent_lock);
            xb_settle_sent_put(h->sent, b.data, b.len, &ids);
            pthread_mutex_unlock(&h->sent_lock);
        }
        *out_len = b.len;
        *out_xml = xb_buf_steal(&b);
        *pending = p;
        p = NULL;
    }
    xb_buf_free(&b);
    xb_settle_pending_free(p);
    xb_msg_free(own);
    return rc;
}

/* Records pending[0..n) as SENT, 64 messages to a transaction; when one fails, its messages one
 * by one, so that a row that cannot be written costs no other message its delivery. ok[k] says
 * which were recorded. */
static int record_pending(xb_settle_hook *h, void *const *pending, size_t n, bool *ok,
                          xb_error *err)
{
    enum { CHUNK = 64 };
    int rc = 0;
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        const xb_settle_details *ds[CHUNK];
        const char *dests[CHUNK];
        for (size_t k = 0; k < m; k++) {
            const xb_settle_pending *p = pending[at + k];
            ds[k] = &p->d;
            dests[k] = p->destination;
        }
        xb_error e = {0};
        bool whole = xb_settle_ledger_record_sent_many(h->store, ds, dests, m, &e) == 0;
        for (size_t k = 0; k < m; k++) {
            ok[at + k] = whole || xb_settle_ledger_record_sent(h->store, ds[k], dests[k], &e) == 0;
            if (!ok[at + k] && rc == 0)
                rc = xb_error_set(err, e.code ? e.code : XB_ESTATE, NULL, "settlement ledger: %s",
                                  e.message);
        }
    }
    return rc;
}

int xb_settle_pipeline_commit(void *ctx, void *const *pending, size_t n, bool *ok, xb_error *err)
{
    xb_settle_hook *h = ctx;
    int rc = 0;
    if (!h->store) { /* no state.store: no ledger to write */
        for (size_t k = 0; k < n; k++)
            ok[k] = true;
    } else if (n) {
        rc = record_pending(h, pending, n, ok, err);
    }
    for (size_t k = 0; k < n; k++)
        xb_settle_pending_free(pending[k]);
    return rc;
}

int xb_settle_pipeline_hook(void *ctx, const json_t *route_settle, xb_msg *msg,
                            const char *policy_output, size_t output_len, char **out_xml,
                            size_t *out_len, json_t **detail, xb_error *err)
{
    void *pending = NULL;
    int rc = xb_settle_pipeline_settle(ctx, route_settle, msg, policy_output, output_len, out_xml,
                                       out_len, detail, &pending, err);
    bool ok = false;
    if (rc == 0 && xb_settle_pipeline_commit(ctx, &pending, 1, &ok, err) < 0) {
        rc = err && err->code ? err->code : XB_ESTATE;
        free(*out_xml);
        *out_xml = NULL;
        *out_len = 0;
    }
    return rc;
}

/* ---- delivery outcomes and pacs.002 out
 * ---------------------------------------------------------- */

static settle_route *route_for_destination(xb_settle_hook *h, const char *dest)
{
    for (size_t i = 0; i < h->n_routes; i++)
        if (!strcmp(h->routes[i].destination, dest))
            return &h->routes[i];
    return NULL;
}

static int produce(xb_settle_hook *h, const char *topic, const char *key, const xb_buf *b,
                   xb_error *err)
{
    char errstr[512];
    if (!h->bootstrap[0])
        return xb_error_set(err, XB_ECONFIG, "kafka.bootstrap.servers",
                            "status_topic needs a real Kafka broker");
    char keybuf[XB_MAX35_SIZE]; /* librdkafka's key macro takes a non-const pointer; it copies */
    snprintf(keybuf, sizeof keybuf, "%s", key);
    if (!h->producer) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", h->bootstrap, errstr, sizeof errstr) ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
            !(h->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)))
            return xb_error_set(err, XB_EIO, NULL, "status producer: %s", errstr);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        h->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(keybuf, strlen(keybuf)), RD_KAFKA_V_VALUE(b->data, b->len), RD_KAFKA_V_END);
    if (!e)
        e = rd_kafka_flush(h->producer, PRODUCE_FLUSH_MS);
    return e ? xb_error_set(err, XB_EIO, NULL, "status topic %s: %s", topic, rd_kafka_err2str(e))
             : 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

static int publish_status(xb_settle_hook *h, const char *status_topic, const xb_settle_sent *m,
                          const char *status, const char *reason, xb_error *err)
{
    size_t n = m->n_tx;
    xb_pacs002_tx_status *st = calloc(n ? n : 1, sizeof *st);
    char info[106];
    snprintf(info, sizeof info, "%s", reason ? reason : "");
    utf8_cut(info, 105);
    for (size_t i = 0; i < n; i++) {
        const xb_settle_sent_tx *t = &m->tx[i];
        st[i] = (xb_pacs002_tx_status){.orgnl_instr_id = t->instr[0] ? t->instr : NULL,
                                       .orgnl_end_to_end_id = t->e2e,
                                       .orgnl_tx_id = t->tx_id[0] ? t->tx_id : NULL,
                                       .orgnl_uetr = t->uetr[0] ? t->uetr : NULL,
                                       .status = status,
                                       .reason_code = !strcmp(status, "RJCT") ? "NARR" : NULL,
                                       .reason_info = info[0] ? info : NULL};
    }
    char msg_id[XB_MAX35_SIZE];
    snprintf(msg_id, sizeof msg_id, "XBS-%lx-%u", (unsigned long)time(NULL), ++h->seq);
    xb_pacs002_report rep = {.msg_id = msg_id,
                             .orgnl_msg_id = m->msg_id,
                             .orgnl_msg_nm_id = m->def_id,
                             .orgnl_cre_dt_tm = m->cre_dt_tm[0] ? m->cre_dt_tm : NULL,
                             .n_tx = n,
                             .tx = st};
    xb_buf b = XB_BUF_INIT;
    int rc = xb_pacs002_build(&b, &rep, err);
    if (rc == 0)
        rc = produce(h, status_topic, m->msg_id[0] ? m->msg_id : msg_id, &b, err);
    xb_buf_free(&b);
    free(st);
    return rc;
}

/* The ids of a message the hook settled: remembered at settlement (no parse), else read from a
 * parse of the bytes (an entry replaced in the table, or bytes settled by another process). */
static int sent_ids(xb_settle_sent *out, xb_settle_hook *h, const char *sent_xml, size_t sent_len,
                    xb_error *err)
{
    pthread_mutex_lock(&h->sent_lock); /* deciders put while this thread takes */
    bool known = xb_settle_sent_take(h->sent, sent_xml, sent_len, out);
    pthread_mutex_unlock(&h->sent_lock);
    if (known)
        return 0;
    xb_msg *m = NULL;
    int rc = xb_msg_parse(&m, sent_xml, sent_len, NULL, err);
    if (rc == 0 && xb_settle_sent_read(out, m) < 0)
        rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    xb_msg_free(m);
    return rc;
}

static int queue_status(xb_settle_hook *h, const char *key, const char *status, const char *reason,
                        const char *source, xb_error *err)
{
    if (h->n_pending == h->cap_pending) {
        size_t ncap = h->cap_pending ? h->cap_pending * 2 : 64;
        struct pending_status *np = realloc(h->pending, ncap * sizeof *np);
        if (!np)
            return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
        h->pending = np;
        h->cap_pending = ncap;
    }
    struct pending_status *q = &h->pending[h->n_pending];
    snprintf(q->key, sizeof q->key, "%s", key);
    snprintf(q->status, sizeof q->status, "%s", status);
    snprintf(q->source, sizeof q->source, "%s", source);
    q->reason = reason ? strdup(reason) : NULL;
    if (reason && !q->reason)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    h->n_pending++;
    return 0;
}

int xb_settle_hook_flush(xb_settle_hook *h, xb_error *err)
{
    if (!h || h->n_pending == 0)
        return 0;
    size_t n = h->n_pending;
    xb_ledger_update *u = malloc(n * sizeof *u);
    int rc = u ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; u && i < n; i++)
        u[i] = (xb_ledger_update){h->pending[i].key, h->pending[i].status, h->pending[i].reason,
                                  h->pending[i].source};
    if (u)
        rc = xb_settle_ledger_set_statuses(h->store, u, n, err);
    if (rc < 0) { /* one row that cannot be written must not cost the others theirs */
        rc = 0;
        for (size_t i = 0; i < n; i++) {
            xb_ledger_outcome o;
            xb_error e = {0};
            struct pending_status *q = &h->pending[i];
            if (xb_settle_ledger_set_status(&o, h->store, q->key, q->status, q->reason, q->source,
                                            &e) < 0 &&
                rc == 0)
                rc = xb_error_set(err, e.code, NULL, "%s: %s", q->key, e.message);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(h->pending[i].reason);
    h->n_pending = 0;
    free(u);
    return rc;
}

/* The ledger rows and status report of one delivery outcome; the rows are queued (see flush). */
static int queue_outcome(xb_settle_hook *h, const char *sent_xml, size_t sent_len,
                         const char *destination, bool accepted, const char *reason, xb_error *err)
{
    char status_topic[sizeof h->routes->opts.status_topic];
    pthread_rwlock_rdlock(&h->routes_lock);
    settle_route *r = route_for_destination(h, destination);
    if (r)
        snprintf(status_topic, sizeof status_topic, "%s", r->opts.status_topic);
    pthread_rwlock_unlock(&h->routes_lock);
    if (!r)
        return 0; /* not a settling destination: no ledger row, no status report */
    xb_settle_sent m;
    int rc = sent_ids(&m, h, sent_xml, sent_len, err);
    if (rc < 0)
        return rc;
    const char *status = accepted ? "ACSP" : "RJCT";
    char source[200];
    snprintf(source, sizeof source, "destination %s", destination);
    for (size_t i = 0; rc == 0 && h->store && i < m.n_tx; i++) {
        char key[XB_LEDGER_KEY_SIZE];
        if (m.tx[i].uetr[0])
            snprintf(key, sizeof key, "%s", m.tx[i].uetr);
        else
            snprintf(key, sizeof key, "%s/%s", m.msg_id, m.tx[i].e2e);
        rc = queue_status(h, key, status, reason, source, err);
    }
    if (rc == 0 && status_topic[0])
        rc = publish_status(h, status_topic, &m, status, reason, err);
    xb_settle_sent_clear(&m);
    return rc;
}

int xb_settle_hook_outcome(xb_settle_hook *h, const char *sent_xml, size_t sent_len,
                           const char *destination, bool accepted, const char *reason,
                           xb_error *err)
{
    int rc = queue_outcome(h, sent_xml, sent_len, destination, accepted, reason, err);
    xb_error flush_err = {0};
    int frc = xb_settle_hook_flush(h, rc < 0 ? &flush_err : err);
    return rc < 0 ? rc : frc;
}

/* ---- pacs.002 in --------------------------------------------------------------------------------
 */

int xb_settle_hook_status_bytes(size_t *applied, xb_settle_hook *h, const char *data, size_t len,
                                xb_error *err)
{
    *applied = 0;
    xb_msg *m = NULL;
    xb_error e = {0};
    if (xb_msg_parse(&m, data, len, NULL, &e) < 0)
        return 0; /* not an ISO message at all: nothing for the ledger */
    int rc = 0;
    /* queued delivery outcomes first: a pacs.002 after them must find ACSP, as it would have */
    if (xb_msg_definition(m)->kind == XB_KIND_PACS002 && h->store &&
        (rc = xb_settle_hook_flush(h, err)) == 0)
        rc = xb_settle_ledger_apply_status(applied, NULL, NULL, h->store, m, err);
    xb_msg_free(m);
    return rc;
}

typedef struct ingest_ctx {
    xb_settle_hook *h;
    size_t applied;
} ingest_ctx;

static int ingest_record(void *ctx, const char *data, size_t len, const char *name, xb_error *err)
{
    ingest_ctx *c = ctx;
    size_t n = 0;
    int rc = xb_settle_hook_status_bytes(&n, c->h, data, len, err);
    c->applied += n;
    return rc;
}

int xb_settle_hook_ingest_topic(size_t *applied, xb_settle_hook *h, const char *topic,
                                int timeout_ms, xb_error *err)
{
    ingest_ctx c = {.h = h};
    if (!h->bootstrap[0])
        return xb_error_set(err, XB_ECONFIG, "kafka.bootstrap.servers",
                            "status topic %s needs a real Kafka broker", topic);
    int rc = xb_settle_topic_read(h->bootstrap, topic, timeout_ms, ingest_record, &c, err);
    if (applied)
        *applied = c.applied;
    return rc;
}

void xb_settle_pipeline_outcome(void *ctx, const char *destination, const char *sent,
                                size_t sent_len, bool accepted, const char *reason,
                                const char *response, size_t response_len)
{
    xb_settle_hook *h = ctx;
    xb_error err = {0};
    size_t applied = 0;
    if (queue_outcome(h, sent, sent_len, destination, accepted, reason, &err) < 0 ||
        (h->n_pending >= PENDING_FLUSH_AT && xb_settle_hook_flush(h, &err) < 0) ||
        (response && response_len &&
         xb_settle_hook_status_bytes(&applied, h, response, response_len, &err) < 0))
        xb_log_event(XB_LOG_ERROR, "settle.status_failed",
                     json_pack("{ss,ss,ss}", "destination", destination, "error",
                               xb_error_name(err.code), "msg", err.message));
}

void xb_settle_pipeline_flush(void *ctx)
{
    xb_error err = {0};
    if (xb_settle_hook_flush(ctx, &err) < 0)
        xb_log_event(XB_LOG_ERROR, "settle.status_failed",
                     json_pack("{ss,ss}", "error", xb_error_name(err.code), "msg", err.message));
}
