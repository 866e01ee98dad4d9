/* replay.c — regulator replay (see replay.h).
 *
 * Owns: the audit index (partition/offset -> what was decided), the catalog cache by hash, the
 * re-decision of each message and the comparison, the Kafka window reader and the progress line.
 * Never: opens a producer, an HTTP sink or a state store; commits an offset; trusts an audit
 * entry that did not verify (the walk stops at the first fault and the report says where).
 */
#include "adapter/replay.h"

#include <ctype.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/catalog_store.h"
#include "adapter/config.h"
#include "adapter/policy/policy.h"
#include "adapter/report.h"
#include "adapter/transport/kafka_env.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"

#define KEY_FILE_MAX 4096

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int xb_replay_bound_parse(xb_replay_bound *out, const char *text, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return xb_error_set(err, XB_EINVAL, NULL, "empty window bound");
    size_t digits = strspn(text, "0123456789");
    if (digits == strlen(text) && digits < 19) {
        out->set = true;
        out->value = strtoll(text, NULL, 10);
        return 0;
    }
    int64_t t;
    if (xb_policy_parse_time(&t, text, err) < 0)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "'%s' is neither an offset nor a time with a zone "
                            "(2026-03-01T10:00:00+08:00, ...Z or 2026-03-01)",
                            text);
    out->set = true;
    out->is_time = true;
    out->value = t * 1000;
    return 0;
}

/* ---- the audit index ---------------------------------------------------------------------- */

typedef struct outcome {
    char dest[64];
    char verdict[16]; /* "" when the policy errored (no decision) */
    char basis[48];
    char transfer_time[40];
    char catalog_sha[65];
    char catalog_ref[100];
    int year;
    int64_t pi_before, spi_before, pi_after, spi_after, new_pi, new_spi;
    uint8_t actions_sha[32]; /* over every field's "path=ACTION", sorted */
    char *actions;           /* "path=ACTION" of non-PASS fields, '\n'-separated */
    char dlq[32];
    bool xsd_after_settlement; /* the policy left the XSD check to the settlement stage */
} outcome;

typedef struct expected {
    int32_t partition;
    int64_t offset;
    uint64_t seq;
    char whole_dlq[32]; /* INVALID_XML, UNSUPPORTED, NO_ROUTE */
    char *report; /* issue #6: the reda.001 a holdings record was valued into (what was decided) */
    size_t report_len;
    outcome *o;
    size_t n;
    bool seen;
} expected;

typedef struct index {
    const char *topic;
    expected *v;
    size_t n, cap;
    uint64_t duplicates;
} index_t;

/* "path=ACTION" of every field of a decision. Sorted before hashing, so that records of format 1
 * ("fields" in message order), 2, 3 and 4 ("field_groups", issue #8) give the same digest for the
 * same actions: what replay compares is which field got which action. */
typedef struct pa_list {
    char **v;
    size_t n, cap;
} pa_list;

static void pa_add(pa_list *l, const char *path, const char *act)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return; /* the digest then differs: a mismatch is reported, nothing is hidden */
        l->v = v;
        l->cap = cap;
    }
    xb_buf b = XB_BUF_INIT;
    if (xb_buf_printf(&b, "%s=%s", path ? path : "", act ? act : "") == 0)
        l->v[l->n++] = xb_buf_steal(&b);
    xb_buf_free(&b);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void actions_digest(uint8_t out[32], char **list, pa_list *pl)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    xb_buf l = XB_BUF_INIT;
    if (pl->n)
        qsort(pl->v, pl->n, sizeof *pl->v, cmp_line);
    for (size_t i = 0; i < pl->n; i++) {
        const char *line = pl->v[i];
        size_t n = strlen(line);
        EVP_DigestUpdate(ctx, line, n + 1);
        if (n < 5 || strcmp(line + n - 5, "=PASS"))
            xb_buf_printf(&l, "%s%s", l.len ? "\n" : "", line);
        free(pl->v[i]);
    }
    free(pl->v);
    memset(pl, 0, sizeof *pl);
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    *list = l.len ? xb_buf_steal(&l) : strdup("");
    xb_buf_free(&l);
}

static void add_recorded(void *ctx, const char *path, const char *rule, const json_t *labels)
{
    (void)rule;
    pa_add(ctx, path, json_string_value(json_object_get(labels, "action")));
}

/* The fields of a recorded decision, any format (xb_policy_record_fields). */
static void recorded_actions(pa_list *pl, const json_t *d)
{
    xb_policy_record_fields(d, add_recorded, pl);
}

void xb_replay_recorded_actions_sha(uint8_t out[32], const json_t *decision)
{
    pa_list pl = {0};
    char *list = NULL;
    recorded_actions(&pl, decision);
    actions_digest(out, &list, &pl);
    free(list);
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    snprintf(dst, cap, "%s", json_string_value(v) ? json_string_value(v) : "");
}

static void fill_outcome(outcome *o, const json_t *j)
{
    memset(o, 0, sizeof *o);
    const json_t *d = json_object_get(j, "decision");
    copy_str(o->dest, sizeof o->dest, json_object_get(j, "destination"));
    copy_str(o->verdict, sizeof o->verdict, json_object_get(j, "verdict"));
    copy_str(o->dlq, sizeof o->dlq, json_object_get(j, "dlq"));
    const char *xsd = json_string_value(json_object_get(j, "xsd_check"));
    o->xsd_after_settlement = xsd && !strcmp(xsd, "after_settlement");
    copy_str(o->basis, sizeof o->basis, json_object_get(d, "basis"));
    copy_str(o->transfer_time, sizeof o->transfer_time, json_object_get(d, "transfer_time"));
    const json_t *cat = json_object_get(d, "catalog");
    copy_str(o->catalog_sha, sizeof o->catalog_sha, json_object_get(cat, "sha256"));
    copy_str(o->catalog_ref, sizeof o->catalog_ref, json_object_get(cat, "ref"));
    const json_t *c = json_object_get(d, "counters");
    o->year = (int)json_integer_value(json_object_get(c, "year"));
    o->pi_before = json_integer_value(json_object_get(c, "pi_before"));
    o->spi_before = json_integer_value(json_object_get(c, "spi_before"));
    o->pi_after = json_integer_value(json_object_get(c, "pi_after"));
    o->spi_after = json_integer_value(json_object_get(c, "spi_after"));
    o->new_pi = json_integer_value(json_object_get(c, "new_pi_subjects"));
    o->new_spi = json_integer_value(json_object_get(c, "new_spi_subjects"));
    pa_list pl = {0};
    recorded_actions(&pl, d);
    actions_digest(o->actions_sha, &o->actions, &pl);
}

static int index_entry(void *ctx, const xb_audit_entry *e, const char *line, size_t len)
{
    index_t *ix = ctx;
    if (strcmp(e->type, "decision"))
        return 0;
    const json_t *src = json_object_get(e->record, "source");
    const char *topic = json_string_value(json_object_get(src, "topic"));
    if (!topic || strcmp(topic, ix->topic))
        return 0;
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 4096;
        expected *v = realloc(ix->v, cap * sizeof *v);
        if (!v)
            return -1;
        ix->v = v;
        ix->cap = cap;
    }
    expected *x = &ix->v[ix->n++];
    memset(x, 0, sizeof *x);
    x->partition = (int32_t)json_integer_value(json_object_get(src, "partition"));
    x->offset = json_integer_value(json_object_get(src, "offset"));
    x->seq = e->seq;
    copy_str(x->whole_dlq, sizeof x->whole_dlq,
             json_object_get(json_object_get(e->record, "dlq"), "reason"));
    const json_t *report = json_object_get(json_object_get(e->record, "valuation"), "report");
    if (json_is_string(report) && (x->report = strdup(json_string_value(report))) != NULL)
        x->report_len = json_string_length(report);
    const json_t *outs = json_object_get(e->record, "outcomes");
    x->n = json_array_size(outs);
    x->o = x->n ? calloc(x->n, sizeof *x->o) : NULL;
    for (size_t i = 0; i < x->n; i++)
        fill_outcome(&x->o[i], json_array_get(outs, i));
    return 0;
}

static int by_position(const void *a, const void *b)
{
    const expected *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts and keeps the first record of each position (a redelivered record is decided again
 * after a crash; the first decision is the one that counted). */
static void index_finish(index_t *ix)
{
    qsort(ix->v, ix->n, sizeof *ix->v, by_position);
    size_t w = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (w && ix->v[w - 1].partition == ix->v[i].partition &&
            ix->v[w - 1].offset == ix->v[i].offset) {
            for (size_t k = 0; k < ix->v[i].n; k++)
                free(ix->v[i].o[k].actions);
            free(ix->v[i].o);
            free(ix->v[i].report);
            ix->duplicates++;
            continue;
        }
        ix->v[w++] = ix->v[i];
    }
    ix->n = w;
}

static expected *index_find(index_t *ix, int32_t partition, int64_t offset)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const expected *m = &ix->v[mid];
        int c = m->partition != partition ? (m->partition < partition ? -1 : 1)
                : m->offset != offset     ? (m->offset < offset ? -1 : 1)
                                          : 0;
        if (c == 0)
            return &ix->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void index_free(index_t *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        for (size_t k = 0; k < ix->v[i].n; k++)
            free(ix->v[i].o[k].actions);
        free(ix->v[i].o);
        free(ix->v[i].report);
    }
    free(ix->v);
}

/* ---- Kafka window reader ------------------------------------------------------------------ */

typedef struct part_window {
    int32_t partition;
    int64_t start, end; /* [start, end) */
    bool done, started;
} part_window;

static int resolve_bound(int64_t *out, rd_kafka_t *rk, const char *topic, int32_t p,
                         const xb_replay_bound *b, int64_t lo, int64_t hi, int64_t dflt,
                         xb_error *err)
{
    if (!b || !b->set) {
        *out = dflt;
        return 0;
    }
    if (!b->is_time) {
        *out = b->value < lo ? lo : b->value > hi ? hi : b->value;
        return 0;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = b->value;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, 10000);
    int64_t off = l->elems[0].offset;
    rd_kafka_resp_err_t pe = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (e || pe)
        return xb_error_set(err, XB_EIO, topic, "offsets_for_times on %s[%d]: %s", topic, (int)p,
                            rd_kafka_err2str(e ? e : pe));
    *out = off < 0 ? hi : off; /* -1: no message at or after the time */
    return 0;
}

int xb_replay_read_topic(const char *config_path, const char *topic, const xb_replay_bound *from,
                         const xb_replay_bound *to, xb_replay_msg_fn fn, void *ctx,
                         uint64_t *total_out, xb_error *err)
{
    xb_config *cfg = NULL;
    xb_kafka_env *env = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    part_window *w = NULL;
    size_t nw = 0;
    int rc = xb_config_load(&cfg, config_path, err);
    if (rc == 0)
        rc = xb_kafka_env_new(&env, cfg, err);
    if (rc == 0)
        rc = xb_kafka_conf_build(&conf, cfg, env, XB_KAFKA_CONSUMER, err);
    if (rc < 0)
        goto out;
    char errstr[256];
    /* No group.id: partitions are assigned directly and nothing can be committed. */
    if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr)) {
        rc = xb_error_set(err, XB_ECONFIG, "kafka", "replay consumer: %s", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rc = xb_error_set(err, XB_EIO, "kafka", "replay consumer: %s", errstr);
        goto out;
    }
    conf = NULL;
    rd_kafka_topic_t *mdt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, mdt, &md, 10000);
    rd_kafka_topic_destroy(mdt);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        rc = xb_error_set(err, XB_ENOTFOUND, topic, "topic %s: %s", topic,
                          rd_kafka_err2str(e               ? e
                                           : md->topic_cnt ? md->topics[0].err
                                                           : RD_KAFKA_RESP_ERR_UNKNOWN));
        if (md)
            rd_kafka_metadata_destroy(md);
        goto out;
    }
    nw = (size_t)md->topics[0].partition_cnt;
    w = calloc(nw ? nw : 1, sizeof *w);
    for (size_t i = 0; i < nw; i++)
        w[i].partition = md->topics[0].partitions[i].id;
    rd_kafka_metadata_destroy(md);
    uint64_t total = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        int64_t lo = 0, hi = 0;
        if ((e = rd_kafka_query_watermark_offsets(rk, topic, w[i].partition, &lo, &hi, 10000))) {
            rc = xb_error_set(err, XB_EIO, topic, "watermarks of %s[%d]: %s", topic,
                              (int)w[i].partition, rd_kafka_err2str(e));
            break;
        }
        if ((rc = resolve_bound(&w[i].start, rk, topic, w[i].partition, from, lo, hi, lo, err)) ||
            (rc = resolve_bound(&w[i].end, rk, topic, w[i].partition, to, lo, hi, hi, err)))
            break;
        if (w[i].end <= w[i].start)
            w[i].done = true;
        else
            total += (uint64_t)(w[i].end - w[i].start);
    }
    if (total_out)
        *total_out = total;
    /* The simple (legacy) consumer: partitions started at explicit offsets, no group at all, and
     * the legacy auto-commit switched off, so nothing can be committed anywhere. */
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    rd_kafka_topic_conf_set(tconf, "auto.commit.enable", "false", errstr, sizeof errstr);
    rkt = rd_kafka_topic_new(rk, topic, tconf);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    size_t open_parts = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        if (w[i].done)
            continue;
        if (rd_kafka_consume_start_queue(rkt, w[i].partition, w[i].start, q) < 0) {
            rc = xb_error_set(err, XB_EIO, topic, "start %s[%d]: %s", topic, (int)w[i].partition,
                              rd_kafka_err2str(rd_kafka_last_error()));
            break;
        }
        w[i].started = true;
        open_parts++;
    }
    int idle = 0;
    while (rc == 0 && open_parts > 0) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 500);
        if (!m) {
            if (++idle > 60) { /* 30 s without anything: the window cannot be completed */
                rc = xb_error_set(err, XB_EIO, topic, "topic %s: no data for 30 s", topic);
                break;
            }
            continue;
        }
        idle = 0;
        part_window *pw = NULL;
        for (size_t i = 0; i < nw; i++)
            if (w[i].partition == m->partition)
                pw = &w[i];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (pw && !pw->done && m->offset >= pw->end) {
                pw->done = true;
                open_parts--;
            }
        } else if (m->err) {
            rc = xb_error_set(err, XB_EIO, topic, "consume %s: %s", topic,
                              rd_kafka_message_errstr(m));
        } else if (pw && !pw->done && m->offset < pw->end) {
            rd_kafka_timestamp_type_t tt;
            xb_replay_msg rm = {.partition = m->partition,
                                .offset = m->offset,
                                .timestamp_ms = rd_kafka_message_timestamp(m, &tt),
                                .payload = m->payload,
                                .len = m->len};
            if (fn(ctx, &rm) < 0)
                rc = xb_error_set(err, XB_EINVAL, topic, "stopped by the reader at %s[%d]@%" PRId64,
                                  topic, (int)m->partition, m->offset);
            if (m->offset + 1 >= pw->end) {
                pw->done = true;
                open_parts--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < nw; i++)
        if (w[i].started)
            rd_kafka_consume_stop(rkt, w[i].partition);
    rd_kafka_queue_destroy(q);
out:
    free(w);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
    return rc;
}

/* ---- the replay --------------------------------------------------------------------------- */

typedef struct cat_entry {
    char sha[65];
    xb_policy_catalog_set *set; /* NULL: could not be loaded (error kept in msg) */
    char msg[800];
} cat_entry;

/* "Already counted?" answers for one re-decision. The audit record keeps how many subjects were
 * new (never their digests: the log must not become a register of persons), so the replay
 * answers "new" for exactly that many distinct subjects of each class, in the order the engine
 * asks, and "seen" after. The totals before the message come from the record too. The replayed
 * totals after the message are then compared with the recorded ones. */
typedef struct seen_plan {
    int64_t new_left[3]; /* indexed by xb_pi */
} seen_plan;

typedef struct replay {
    const xb_replay_opts *opts;
    const char *store; /* catalog store directory, or NULL */
    xb_config *cfg;
    xb_policy_destinations *pdests;
    xb_policy_catalog_set *now_set;
    xb_buf counter_key;
    cat_entry *cats;
    size_t n_cats;
    index_t ix;
    xb_report *rep;
    xb_replay_stats st;
    uint64_t total, t0, last_progress;
    xb_error err;
    bool failed;
} replay;

static int seen_cb(void *ctx, int year, xb_pi cls, const uint8_t digest[XB_POLICY_DIGEST_LEN],
                   bool *seen, xb_error *err)
{
    seen_plan *sp = ctx;
    int k = cls == XB_PI_SPI ? XB_PI_SPI : XB_PI_PI;
    *seen = sp->new_left[k] <= 0;
    if (!*seen)
        sp->new_left[k]--;
    return 0;
}

static int read_key(xb_buf *out, const char *dir, const char *name, xb_error *err)
{
    char path[1024];
    if (dir)
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else
        snprintf(path, sizeof path, "%s", name);
    xb_buf_reset(out);
    if (xb_buf_read_file(out, path, KEY_FILE_MAX) < 0 || out->len < 16)
        return xb_error_set(err, XB_ECONFIG, "policy.keys", "cannot read key file %s", path);
    return 0;
}

static const xb_policy_catalog_set *catalogs_for(replay *r, const outcome *o, const char **why)
{
    if (r->opts->catalog_now)
        return r->now_set;
    for (size_t i = 0; i < r->n_cats; i++)
        if (!strcmp(r->cats[i].sha, o->catalog_sha)) {
            *why = r->cats[i].msg;
            return r->cats[i].set;
        }
    cat_entry *v = realloc(r->cats, (r->n_cats + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->cats = v;
    cat_entry *c = &r->cats[r->n_cats++];
    memset(c, 0, sizeof *c);
    snprintf(c->sha, sizeof c->sha, "%s", o->catalog_sha);
    char path[4096];
    xb_error err;
    xb_error_clear(&err);
    if (!r->store) {
        snprintf(c->msg, sizeof c->msg, "no catalog store given for catalog %s", o->catalog_ref);
    } else if (xb_catalog_store_get(path, sizeof path, r->store, o->catalog_sha, &err) < 0 ||
               xb_policy_catalog_set_new(&c->set, &err) < 0 ||
               xb_catalog_store_load(c->set, path, r->cfg->policy.catalog_pubkey, &err) < 0) {
        xb_policy_catalog_set_free(c->set);
        c->set = NULL;
        snprintf(c->msg, sizeof c->msg, "catalog %s: %s", o->catalog_ref, err.message);
    }
    *why = c->msg;
    return c->set;
}

static const char *verdict_of(const xb_policy_decision *d)
{
    return xb_policy_verdict_name(d->verdict);
}

static void decision_actions(uint8_t sha[32], char **list, const xb_policy_decision *d)
{
    pa_list pl = {0};
    for (size_t i = 0; i < d->n_fields; i++)
        pa_add(&pl, d->fields[i].path, xb_policy_action_name(d->fields[i].action));
    actions_digest(sha, list, &pl);
}

/* "path=ACTION" lines in a but not in b, joined with "; " (at most a few). */
static void list_diff(xb_buf *out, const char *a, const char *b)
{
    const char *p = a;
    int shown = 0;
    while (p && *p && shown < 6) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        bool found = false;
        for (const char *q = b; q && *q;) {
            const char *qn = strchr(q, '\n');
            size_t ql = qn ? (size_t)(qn - q) : strlen(q);
            if (ql == len && !memcmp(p, q, len)) {
                found = true;
                break;
            }
            q = qn ? qn + 1 : NULL;
        }
        if (!found) {
            xb_buf_printf(out, "%s%.*s", out->len ? "; " : "", (int)len, p);
            shown++;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (!out->len)
        xb_buf_puts(out, "(same non-PASS actions; PASS fields differ)");
}

static void mismatch(replay *r, const char *id, const char *dest, const char *what, const char *rec,
                     const char *rep)
{
    r->st.mismatches++;
    xb_report_add_mismatch(r->rep, id, dest, what, rec, rep);
}

static void replay_outcome(replay *r, const xb_replay_msg *m, const char *id, const outcome *o)
{
    if (!o->verdict[0])
        return; /* a policy/state error was recorded: nothing was decided to compare with */
    r->st.decisions++;
    const xb_policy_destination *pd = xb_policy_destination_find(r->pdests, o->dest);
    if (!pd) {
        mismatch(r, id, o->dest, "destination", o->verdict, "destination not in config");
        return;
    }
    const char *why = "";
    const xb_policy_catalog_set *set = catalogs_for(r, o, &why);
    if (!set) {
        mismatch(r, id, o->dest, "catalog", o->catalog_ref, why);
        return;
    }
    int64_t tt = 0;
    xb_error err;
    xb_error_clear(&err);
    if (xb_policy_parse_time(&tt, o->transfer_time, &err) < 0) {
        mismatch(r, id, o->dest, "transfer_time", o->transfer_time, err.message);
        return;
    }
    xb_buf pseudo = XB_BUF_INIT;
    const char *kf = xb_policy_destination_key_file(pd);
    if (kf && read_key(&pseudo, r->cfg->policy.keys, kf, &err) < 0) {
        mismatch(r, id, o->dest, "keys", o->verdict, err.message);
        xb_buf_free(&pseudo);
        return;
    }
    /* after - before, not the "new subjects" count: an undelivered decision keeps the totals it
     * was judged on in *_after but lists no new subjects. */
    seen_plan plan = {.new_left = {0, o->pi_after - o->pi_before, o->spi_after - o->spi_before}};
    xb_policy_counters ctr = {.year = o->year ? o->year : xb_policy_year_cn(tt),
                              .pi = o->pi_before,
                              .spi = o->spi_before,
                              .seen = seen_cb,
                              .ctx = &plan};
    xb_policy_keys keys = {.counter_key = (const uint8_t *)r->counter_key.data,
                           .counter_key_len = r->counter_key.len,
                           .pseudo_key = pseudo.len ? (const uint8_t *)pseudo.data : NULL,
                           .pseudo_key_len = pseudo.len};
    /* Decided as it was: a copy the settlement stage validated was not validated by the policy
     * (its verdict is DELIVER even when the settled message then failed its XSD and was parked:
     * the record's dlq says so). */
    xb_policy_opts popts = {.warn_permille = r->cfg->policy.warn_permille,
                            .caller_validates = o->xsd_after_settlement};
    xb_msg *msg = NULL;
    xb_policy_decision d;
    memset(&d, 0, sizeof d);
    if (xb_msg_parse(&msg, m->payload, m->len, NULL, &err) < 0) {
        mismatch(r, id, o->dest, "parse", o->verdict, err.message);
    } else if (xb_policy_decide(&d, msg, set, pd, tt, &ctr, &keys, &popts, &err) < 0) {
        mismatch(r, id, o->dest, "decide", o->verdict, err.message);
    } else {
        uint8_t sha[32];
        char *list = NULL;
        decision_actions(sha, &list, &d);
        bool same = true;
        if (strcmp(verdict_of(&d), o->verdict)) {
            mismatch(r, id, o->dest, "verdict", o->verdict, verdict_of(&d));
            same = false;
        }
        if (strcmp(xb_policy_basis_name(d.basis), o->basis)) {
            mismatch(r, id, o->dest, "basis", o->basis, xb_policy_basis_name(d.basis));
            same = false;
        }
        if (memcmp(sha, o->actions_sha, 32)) {
            xb_buf a = XB_BUF_INIT, b = XB_BUF_INIT;
            list_diff(&a, o->actions, list);
            list_diff(&b, list, o->actions);
            mismatch(r, id, o->dest, "actions", a.data, b.data);
            xb_buf_free(&a);
            xb_buf_free(&b);
            same = false;
        }
        if (!r->opts->catalog_now && strcmp(d.catalog_sha256, o->catalog_sha)) {
            mismatch(r, id, o->dest, "catalog", o->catalog_sha, d.catalog_sha256);
            same = false;
        }
        if (d.pi_after != o->pi_after || d.spi_after != o->spi_after) {
            char a[64], b[64];
            snprintf(a, sizeof a, "PI %lld, SPI %lld", (long long)o->pi_after,
                     (long long)o->spi_after);
            snprintf(b, sizeof b, "PI %lld, SPI %lld", (long long)d.pi_after,
                     (long long)d.spi_after);
            mismatch(r, id, o->dest, "counters", a, b);
            same = false;
        }
        if (same)
            r->st.matched++;
        free(list);
    }
    xb_policy_decision_free(&d);
    xb_msg_free(msg);
    xb_buf_free(&pseudo);
}

/* The slim record the report aggregates (no field list, no reasons). */
static json_t *report_record(const expected *x)
{
    json_t *outs = json_array();
    for (size_t i = 0; i < x->n; i++) {
        const outcome *o = &x->o[i];
        json_t *oj = json_pack("{ss}", "destination", o->dest);
        if (o->verdict[0])
            json_object_set_new(oj, "verdict", json_string(o->verdict));
        if (o->dlq[0])
            json_object_set_new(oj, "dlq", json_string(o->dlq));
        if (o->transfer_time[0])
            json_object_set_new(oj, "decision",
                                json_pack("{ss,ss,s{si,sI,sI,sI,sI}}", "basis", o->basis,
                                          "transfer_time", o->transfer_time, "counters", "year",
                                          o->year, "pi_after", (json_int_t)o->pi_after, "spi_after",
                                          (json_int_t)o->spi_after, "new_pi_subjects",
                                          (json_int_t)o->new_pi, "new_spi_subjects",
                                          (json_int_t)o->new_spi));
        json_array_append_new(outs, oj);
    }
    json_t *rec = json_pack("{so}", "outcomes", outs);
    if (x->whole_dlq[0])
        json_object_set_new(rec, "dlq", json_pack("{ss}", "reason", x->whole_dlq));
    return rec;
}

static void progress(replay *r, bool final)
{
    if (!r->opts->progress)
        return;
    uint64_t t = now_us();
    if (!final && t - r->last_progress < 500000)
        return;
    r->last_progress = t;
    uint64_t el = t - r->t0;
    uint64_t rate = el ? r->st.messages * 1000000u / el : 0;
    uint64_t left = r->total > r->st.messages ? r->total - r->st.messages : 0;
    fprintf(stderr,
            "\rreplay: %" PRIu64 "/%" PRIu64 " records, %" PRIu64 " msg/s, ETA %" PRIu64
            " s, %" PRIu64 " mismatches   %s",
            r->st.messages, r->total, rate, rate ? left / rate : 0, r->st.mismatches,
            final ? "\n" : "");
    fflush(stderr);
}

static int on_message(void *ctx, const xb_replay_msg *m)
{
    replay *r = ctx;
    r->st.messages++;
    char id[400];
    snprintf(id, sizeof id, "%.300s:%" PRId32 ":%" PRId64, r->opts->topic, m->partition, m->offset);
    expected *x = index_find(&r->ix, m->partition, m->offset);
    if (!x) {
        r->st.not_audited++;
        mismatch(r, id, "", "audit", "no audit record", "message is on the topic");
        progress(r, false);
        return 0;
    }
    x->seen = true;
    json_t *rec = report_record(x);
    xb_report_add_record(r->rep, rec, NULL);
    json_decref(rec);
    if (x->whole_dlq[0]) {
        /* Not decided live (invalid, unsupported, no route): parsing must still fail/agree. */
        xb_msg *msg = NULL;
        xb_error err;
        int rc = xb_msg_parse(&msg, m->payload, m->len, NULL, &err);
        xb_msg_free(msg);
        bool parse_failure =
            !strcmp(x->whole_dlq, "INVALID_XML") || !strcmp(x->whole_dlq, "UNSUPPORTED");
        if (parse_failure && rc == 0)
            mismatch(r, id, "", "parse", x->whole_dlq, "parses now");
        else if (!parse_failure && rc < 0)
            mismatch(r, id, "", "parse", x->whole_dlq, "does not parse now");
    }
    /* issue #6: a valued holdings record was decided as the reda.001 its audit record keeps */
    xb_replay_msg vm = *m;
    if (x->report) {
        vm.payload = x->report;
        vm.len = x->report_len;
    }
    for (size_t i = 0; i < x->n; i++)
        replay_outcome(r, &vm, id, &x->o[i]);
    progress(r, false);
    return 0;
}

typedef struct topic_feed {
    xb_audit_verifier *v;
    const char *topic;
} topic_feed;

static int feed_audit_line(void *ctx, const xb_replay_msg *m)
{
    topic_feed *f = ctx;
    char where[300];
    snprintf(where, sizeof where, "%s:%" PRId32 ":%" PRId64, f->topic, m->partition, m->offset);
    size_t len = m->len;
    while (len && (m->payload[len - 1] == '\n' || m->payload[len - 1] == '\r'))
        len--;
    xb_audit_verifier_feed(f->v, m->payload, len, where); /* a fault stops checking, not reading */
    return 0;
}

int xb_replay_verify_audit_topic(xb_audit_verify_result *out, const char *config_path,
                                 const char *topic, const xb_audit_verify_opts *vo, xb_error *err)
{
    xb_audit_verify_opts o = *vo;
    o.skip_duplicates = true; /* the producer may have retried a send */
    topic_feed f = {.topic = topic};
    int rc = xb_audit_verifier_new(&f.v, &o, err);
    if (rc < 0)
        return rc;
    rc = xb_replay_read_topic(config_path, topic, NULL, NULL, feed_audit_line, &f, NULL, err);
    if (rc == 0)
        xb_audit_verifier_finish(f.v, out);
    xb_audit_verifier_free(f.v);
    return rc;
}

static int load_audit(replay *r, xb_error *err)
{
    xb_audit_verify_opts vo = {
        .pubkey_path = r->opts->pubkey_path, .on_entry = index_entry, .ctx = &r->ix};
    r->ix.topic = r->opts->topic;
    int rc;
    if (r->opts->n_audit_files)
        rc = xb_audit_verify_files(&r->st.chain, r->opts->audit_files, r->opts->n_audit_files, &vo,
                                   err);
    else if (r->opts->audit_topic)
        rc = xb_replay_verify_audit_topic(&r->st.chain, r->opts->config_path, r->opts->audit_topic,
                                          &vo, err);
    else
        return xb_error_set(err, XB_EINVAL, NULL, "replay needs --audit FILE or --audit-topic T");
    if (rc == 0)
        index_finish(&r->ix);
    return rc;
}

static int setup(replay *r, xb_error *err)
{
    int rc = xb_config_load(&r->cfg, r->opts->config_path, err);
    if (rc < 0)
        return rc;
    if (!r->store) /* --catalog-store, else the store the pipeline fills (policy.catalog_store) */
        r->store = r->cfg->policy.catalog_store;
    const json_t *dests = json_object_get(r->cfg->tree, "destinations");
    if ((rc = xb_policy_destinations_from_tree(&r->pdests, dests, "destinations", err)) < 0 ||
        (rc = r->cfg->policy.counter_key /* as the pipeline reads it */
                  ? read_key(&r->counter_key, NULL, r->cfg->policy.counter_key, err)
                  : read_key(&r->counter_key, r->cfg->policy.keys, "counter.key", err)) < 0 ||
        (rc = xb_policy_catalog_set_new(&r->now_set, err)) < 0)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)dests, k, v)
        xb_report_set_country(r->rep, k, json_string_value(json_object_get(v, "country")));
    for (size_t i = 0; i < r->cfg->policy.n_catalogs; i++) {
        const char *path = r->cfg->policy.catalogs[i];
        if ((rc = xb_catalog_store_load(r->now_set, path, r->cfg->policy.catalog_pubkey, err)) < 0)
            return rc;
        char sha[65];
        /* Today's catalogs join the store, so later replays find them by hash. */
        if (r->store && (rc = xb_catalog_store_put(sha, r->store, path, err)) < 0)
            return rc;
    }
    return 0;
}

static void report_run(replay *r)
{
    const xb_replay_opts *o = r->opts;
    xb_report_set_run(r->rep, "topic", json_string(o->topic));
    for (int i = 0; i < 2; i++) {
        const xb_replay_bound *b = i ? &o->to : &o->from;
        json_t *v = json_null();
        if (b->set && b->is_time) {
            char when[40];
            v = json_string(xb_policy_format_time(when, sizeof when, b->value / 1000));
        } else if (b->set) {
            v = json_integer(b->value);
        }
        xb_report_set_run(r->rep, i ? "to" : "from", v);
    }
    xb_report_set_run(r->rep, "catalogs",
                      json_string(o->catalog_now ? "today's (--catalog-now)" : "as recorded"));
    xb_report_set_run(r->rep, "messages", json_integer((json_int_t)r->st.messages));
    xb_report_set_run(r->rep, "decisions_replayed", json_integer((json_int_t)r->st.decisions));
    xb_report_set_run(r->rep, "matched", json_integer((json_int_t)r->st.matched));
    xb_report_set_run(r->rep, "not_audited", json_integer((json_int_t)r->st.not_audited));
    xb_report_set_run(r->rep, "elapsed_ms", json_integer((json_int_t)(r->st.elapsed_us / 1000)));
}

int xb_replay_run(xb_replay_stats *out, const xb_replay_opts *opts, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!opts || !opts->config_path || !opts->topic || !opts->out_dir)
        return xb_error_set(err, XB_EINVAL, NULL, "replay needs --config, --topic and --out");
    replay r;
    memset(&r, 0, sizeof r);
    r.opts = opts;
    r.store = opts->catalog_store;
    int rc = xb_report_new(&r.rep, err);
    if (rc == 0)
        rc = setup(&r, err);
    if (rc == 0)
        rc = load_audit(&r, err);
    if (rc == 0) {
        r.t0 = now_us();
        if (opts->source) {
            r.total = opts->expected_total;
            xb_replay_msg m;
            while ((rc = opts->source(opts->source_ctx, &m, err)) > 0)
                on_message(&r, &m);
        } else {
            rc = xb_replay_read_topic(opts->config_path, opts->topic, &opts->from, &opts->to,
                                      on_message, &r, &r.total, err);
        }
        r.st.elapsed_us = now_us() - r.t0;
        progress(&r, true);
    }
    if (rc == 0) {
        r.st.chain.where[sizeof r.st.chain.where - 1] = '\0';
        xb_report_set_chain(r.rep, &r.st.chain);
        xb_report_count_replayed(r.rep, r.st.messages);
        report_run(&r);
        rc = xb_report_write(r.rep, opts->out_dir, err);
    }
    *out = r.st;
    index_free(&r.ix);
    for (size_t i = 0; i < r.n_cats; i++)
        xb_policy_catalog_set_free(r.cats[i].set);
    free(r.cats);
    xb_buf_free(&r.counter_key);
    xb_policy_catalog_set_free(r.now_set);
    xb_policy_destinations_free(r.pdests);
    xb_config_free(r.cfg);
    xb_report_free(r.rep);
    return rc;
}
