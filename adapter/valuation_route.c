/* valuation_route.c — holdings records -> reda.001 for the pipeline (see valuation_route.h).
 *
 * Owns: the reference tables (rates, prices) as read from their topics, per-partition queues of
 * held holdings records, the tables consumer, and the valuation_reports table (NEWP/REPL).
 * Never: commits offsets (the tables consumer has nothing to commit; holdings offsets are the
 * pipeline's), guesses a missing rate or price, or lets a later record of a partition overtake a
 * held one (a REPL must never reach a destination before its NEWP).
 */
#include "adapter/valuation_route.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/fund_file.h"
#include "adapter/log.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/write.h"
#include "valuation/valuation.h"

#define VR_POLL_BATCH 500
#define VR_LOOKUP_EVERY_MS 2000
#define VR_MSG_FUND_MAX 15

/* A reference topic read as a table: key "date,currency" or "date,instrument" -> CSV line. */
typedef struct vr_table {
    char *topic;
    bool prices;
    json_t *rows;
    uint64_t version; /* bumped on every change: held records retry only when it moves */
    int n_parts;      /* partitions assigned (0: topic not found yet) */
    int n_eof;        /* partitions read to their end at least once */
    bool *eof;
} vr_table;

typedef struct vr_entry {
    xb_fund fund;
    char *holdings_topic;
    vr_table *rates, *prices;
    bool swift;
    unsigned max_wait_ms;
    xb_fx_table *fx;
    uint64_t fx_version;
    xb_price_table *pt;
    uint64_t pt_version;
} vr_entry;

typedef struct vr_held {
    struct vr_held *next;
    vr_entry *e;
    void *token;
    const char *bytes;
    size_t len;
    char id[300];
    int64_t ts_ms;
    uint64_t deadline;
    bool parsed, tried;
    xb_holdings h;
    uint64_t tried_rates, tried_prices;
    char missing[512];
    char logged[512]; /* the wait reason last logged: one log line per reason, not per retry */
} vr_held;

typedef struct vr_queue {
    char *topic;
    int32_t partition;
    vr_held *head, *tail;
} vr_queue;

struct xb_valroute {
    vr_entry *entries;
    size_t n_entries;
    vr_table *tables; /* allocated once (2 per entry at most): entries point into it */
    size_t n_tables;
    vr_queue *queues;
    size_t n_queues;
    rd_kafka_t *rk; /* tables consumer; NULL when fed by hand */
    uint64_t next_lookup;
    xb_store *store;
    xb_valroute_done_fn done;
    void *ctx;
    size_t held;
};

static const char *const ddl =
    "CREATE TABLE IF NOT EXISTS valuation_reports (fund TEXT NOT NULL, nav_date TEXT NOT NULL,"
    " record_id TEXT NOT NULL, reported_at TEXT NOT NULL, PRIMARY KEY (fund, nav_date))";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- tables ------------------------------------------------------------------------------- */

static vr_table *table_for(xb_valroute *v, const char *topic, bool prices)
{
    for (size_t i = 0; i < v->n_tables; i++)
        if (!strcmp(v->tables[i].topic, topic))
            return &v->tables[i];
    vr_table *t = &v->tables[v->n_tables++];
    t->topic = strdup(topic);
    t->prices = prices;
    t->rows = json_object();
    return t;
}

/* Checks one line alone, so that a bad line is skipped without losing the rest of its record. */
static int line_ok(const vr_table *t, const char *line, size_t len, xb_error *err)
{
    int rc;
    if (t->prices) {
        xb_price_table *pt = NULL;
        rc = xb_price_table_new(&pt, err);
        if (!rc)
            rc = xb_price_table_load_buffer(pt, line, len, t->topic, err);
        xb_price_table_free(pt);
    } else {
        xb_fx_table *fx = NULL;
        rc = xb_fx_new(&fx, err);
        if (!rc)
            rc = xb_fx_load_buffer(fx, line, len, t->topic, err);
        xb_fx_free(fx);
    }
    return rc;
}

static void table_put_line(vr_table *t, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (!len || *line == '#' || (len >= 5 && !strncmp(line, "date,", 5)))
        return;
    xb_error err;
    xb_error_clear(&err);
    const char *c1 = memchr(line, ',', len);
    const char *c2 = c1 ? memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - line)) : NULL;
    json_t *val = json_stringn(line, len); /* NULL for a NUL byte or bad UTF-8 */
    if (!c2 || !val || memchr(line, '\0', len) || line_ok(t, line, len, &err) < 0) {
        xb_log(XB_LOG_WARN, "valuation.bad_reference_line", "%s: %s", t->topic,
               err.message[0] ? err.message : "not a CSV line of at least three fields");
        json_decref(val);
        return;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(c2 - line), line);
    const json_t *old = json_object_get(t->rows, key);
    if (old && json_equal(old, val)) {
        json_decref(val);
        return;
    }
    json_object_set_new(t->rows, key, val);
    t->version++;
}

static void table_put(vr_table *t, const char *value, size_t len)
{
    while (len) {
        const char *nl = memchr(value, '\n', len);
        size_t n = nl ? (size_t)(nl - value) : len;
        table_put_line(t, value, n);
        value += n + (nl ? 1 : 0);
        len -= n + (nl ? 1 : 0);
    }
}

void xb_valroute_feed(xb_valroute *v, const char *topic, const char *value, size_t len)
{
    for (size_t i = 0; i < v->n_tables; i++)
        if (!strcmp(v->tables[i].topic, topic))
            table_put(&v->tables[i], value, len);
}

static bool table_ready(const vr_table *t, bool fed_by_hand)
{
    return !t || fed_by_hand || (t->n_parts > 0 && t->n_eof == t->n_parts);
}

/* The entry's FX and price tables, rebuilt from the rows when they changed since last time. */
static void entry_refresh(vr_entry *e)
{
    xb_error err;
    if (!e->fx || e->fx_version != e->rates->version) {
        xb_fx_free(e->fx);
        e->fx = NULL;
        if (xb_fx_new(&e->fx, &err) < 0)
            return;
        const char *k;
        json_t *val;
        json_object_foreach(e->rates->rows, k, val)
        {
            if (xb_fx_load_buffer(e->fx, json_string_value(val), json_string_length(val),
                                  e->rates->topic, &err) < 0)
                xb_log(XB_LOG_WARN, "valuation.bad_reference_line", "%s", err.message);
        }
        e->fx_version = e->rates->version;
    }
    if (e->prices && (!e->pt || e->pt_version != e->prices->version)) {
        xb_price_table_free(e->pt);
        e->pt = NULL;
        if (xb_price_table_new(&e->pt, &err) < 0)
            return;
        const char *k;
        json_t *val;
        json_object_foreach(e->prices->rows, k, val)
        {
            if (xb_price_table_load_buffer(e->pt, json_string_value(val), json_string_length(val),
                                           e->prices->topic, &err) < 0)
                xb_log(XB_LOG_WARN, "valuation.bad_reference_line", "%s", err.message);
        }
        e->pt_version = e->prices->version;
    }
}

/* ---- the tables consumer ----------------------------------------------------------------- */

/* Finds the partitions of every table not found yet and (re)assigns all found ones from the
 * beginning. Re-reading a table is harmless: rows are keyed, equal lines change nothing. */
static void lookup_tables(xb_valroute *v, int timeout_ms)
{
    bool found = false;
    for (size_t i = 0; i < v->n_tables; i++) {
        vr_table *t = &v->tables[i];
        if (t->n_parts > 0)
            continue;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(v->rk, t->topic, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(v->rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (!e && md && md->topic_cnt == 1 && !md->topics[0].err &&
            md->topics[0].partition_cnt > 0) {
            t->n_parts = md->topics[0].partition_cnt;
            free(t->eof);
            t->eof = calloc((size_t)t->n_parts, sizeof *t->eof);
            found = true;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
    }
    if (!found)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < v->n_tables; i++) {
        vr_table *t = &v->tables[i];
        t->n_eof = 0;
        for (int p = 0; p < t->n_parts; p++) {
            t->eof[p] = false;
            rd_kafka_topic_partition_list_add(l, t->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(v->rk, l);
    if (e)
        xb_log(XB_LOG_ERROR, "valuation.tables_assign_failed", "%s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

static vr_table *table_named(xb_valroute *v, const char *topic)
{
    for (size_t i = 0; i < v->n_tables; i++)
        if (!strcmp(v->tables[i].topic, topic))
            return &v->tables[i];
    return NULL;
}

static void poll_tables(xb_valroute *v)
{
    if (!v->rk)
        return;
    uint64_t t = now_ms();
    if (t >= v->next_lookup) {
        v->next_lookup = t + VR_LOOKUP_EVERY_MS;
        lookup_tables(v, 200);
    }
    rd_kafka_message_t *m;
    for (int i = 0; i < VR_POLL_BATCH && (m = rd_kafka_consumer_poll(v->rk, 0)) != NULL; i++) {
        vr_table *tb = m->rkt ? table_named(v, rd_kafka_topic_name(m->rkt)) : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (tb && m->partition >= 0 && m->partition < tb->n_parts && !tb->eof[m->partition]) {
                tb->eof[m->partition] = true;
                tb->n_eof++;
            }
        } else if (m->err) {
            xb_log(XB_LOG_WARN, "valuation.tables_error", "%s", rd_kafka_message_errstr(m));
        } else if (tb && m->payload) {
            table_put(tb, m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
}

static int tables_consumer_new(xb_valroute *v, const xb_config *cfg, xb_kafka_env *env,
                               xb_error *err)
{
    rd_kafka_conf_t *conf;
    int rc = xb_kafka_conf_build(&conf, cfg, env, XB_KAFKA_CONSUMER, err);
    if (rc < 0)
        return rc;
    char group[300], errstr[512];
    /* Never joins the group (assign, not subscribe) and never commits: a table is read whole. */
    snprintf(group, sizeof group, "%s.valuation-tables", cfg->kafka.group_id);
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return xb_error_set(err, XB_ECONFIG, "kafka", "valuation tables consumer: %s", errstr);
    }
    v->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!v->rk) {
        rd_kafka_conf_destroy(conf);
        return xb_error_set(err, XB_ECONFIG, "kafka", "valuation tables consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(v->rk);
    for (size_t i = 0; i < v->n_tables; i++)
        xb_kafka_env_create_topic(env, v->tables[i].topic, 1, NULL); /* embedded only */
    lookup_tables(v, 2000);
    v->next_lookup = now_ms() + VR_LOOKUP_EVERY_MS;
    return 0;
}

/* ---- NEWP / REPL -------------------------------------------------------------------------- */

static int first_row(void *ctx, const char *const *cols, size_t ncols, xb_error *err)
{
    (void)err;
    snprintf(ctx, 300, "%s", ncols && cols[0] ? cols[0] : "");
    return 0;
}

/* The record that first reported fund+date ("" when none). */
static int reported_by(char owner[300], xb_store *st, const char *fund, const char *date,
                       xb_error *err)
{
    owner[0] = '\0';
    xb_sqlv a[] = {XB_SQLV_T(fund), XB_SQLV_T(date)};
    return xb_store_sql(st,
                        "SELECT record_id FROM valuation_reports WHERE fund = ?1 AND nav_date = ?2",
                        a, 2, NULL, first_row, owner, err);
}

static int claim(bool *won, xb_store *st, const char *fund, const char *date, const char *id,
                 xb_error *err)
{
    char at[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    xb_sqlv a[] = {XB_SQLV_T(fund), XB_SQLV_T(date), XB_SQLV_T(id), XB_SQLV_T(at)};
    int64_t changes = 0;
    int rc = xb_store_sql(st,
                          "INSERT INTO valuation_reports (fund, nav_date, record_id, reported_at)"
                          " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                          a, 4, &changes, NULL, NULL, err);
    *won = rc == 0 && changes > 0;
    return rc;
}

/* ---- valuing one record ------------------------------------------------------------------- */

static void finish(xb_valroute *v, vr_held *h, const xb_valroute_outcome *o)
{
    v->done(v->ctx, h->token, o);
    h->bytes = NULL; /* the pipeline may have released the record: never touch it again */
}

static void park(xb_valroute *v, vr_held *h, const char *reason, const char *text)
{
    json_t *detail =
        json_pack("{ss,ss}", "fund", h->e->fund.id, "nav_date", h->parsed ? h->h.stmt_date : "");
    xb_valroute_outcome o = {.reason = reason, .text = text, .detail = detail};
    xb_log_event(XB_LOG_WARN, "valuation.parked",
                 json_pack("{ss,ss,ss,ss}", "record", h->id, "fund", h->e->fund.id, "reason",
                           reason, "msg", text));
    finish(v, h, &o);
    json_decref(detail);
}

/* MsgId and CreDtTm from the record itself, so that a redelivered record gives the same bytes. */
static void report_ids(char msg_id[40], char cre[40], const vr_held *h, const char *function)
{
    uint8_t d[32];
    unsigned n = 0;
    char hex[65] = "";
    if (EVP_Digest(h->id, strlen(h->id), d, &n, EVP_sha256(), NULL) == 1 && n == 32)
        xb_hex(hex, d, 32);
    const char *date = h->h.stmt_date;
    snprintf(msg_id, 40, "%.*s-%.4s%.2s%.2s-%c-%.8s", VR_MSG_FUND_MAX, h->e->fund.id, date,
             date + 5, date + 8, function[0], hex);
    time_t secs = h->ts_ms > 0 ? (time_t)(h->ts_ms / 1000) : time(NULL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(cre, 40, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static json_t *nav_detail(const xb_nav_result *nav, const char *function, const char *msg_id,
                          const vr_held *h)
{
    char rpt[40];
    xb_price_report_id(rpt, sizeof rpt, nav->fund_id, nav->date);
    json_t *classes = json_array();
    for (size_t i = 0; i < nav->n_classes; i++) {
        char a[64], b[64];
        xb_dec_format(a, sizeof a, &nav->classes[i].nav);
        xb_dec_format(b, sizeof b, &nav->classes[i].nav_cny);
        json_array_append_new(classes, json_pack("{ss,ss,ss,ss,ss}", "id", nav->classes[i].id,
                                                 "ccy", nav->classes[i].ccy, "nav", a, "nav_cny", b,
                                                 "isin", nav->classes[i].isin));
    }
    return json_pack("{ss,ss,ss,ss,ss,ss,sI,sb,sb,so}", "fund", nav->fund_id, "nav_date", nav->date,
                     "function", function, "report_id", rpt, "msg_id", msg_id, "statement",
                     h->h.definition, "holdings", (json_int_t)h->h.n, "official", nav->official,
                     "estimated", nav->estimated, "classes", classes);
}

/* One valuation with the tables as they are; XB_ENOTFOUND (h->missing set) when an input is
 * missing. On success *out holds the report and *detail the record's summary. */
static int value_once(xb_buf *out, json_t **detail, vr_held *h, const char *function, xb_error *err)
{
    vr_entry *e = h->e;
    char msg_id[40], cre[40];
    report_ids(msg_id, cre, h, function);
    xb_report_opts o = {.ns = e->swift ? XB_REDA_NS_SWIFT : XB_REDA_NS_ISO,
                        .function = function,
                        .msg_id = msg_id,
                        .cre_dt_tm = cre};
    xb_nav_result nav;
    memset(&nav, 0, sizeof nav);
    xb_buf_reset(out);
    int rc = xb_valuation_run_ex(out, &nav, &e->fund, &h->h, e->prices ? e->pt : NULL, e->fx,
                                 h->h.stmt_date, &o, err);
    if (rc == 0) {
        *detail = nav_detail(&nav, function, msg_id, h);
        /* the exact bytes decided on: the regulator replay re-decides them (issue #7) */
        json_object_set_new(*detail, "report", json_stringn(out->data, out->len));
    }
    xb_nav_result_free(&nav);
    return rc;
}

/* Parses the statement once; false (and the record parked) when it is not a valid semt.003. */
static bool parse_once(xb_valroute *v, vr_held *h)
{
    if (h->parsed)
        return true;
    xb_error err;
    xb_error_clear(&err);
    xb_msg *msg = NULL;
    xb_parse_limits lim = XB_HOLDINGS_LIMITS_DEFAULT;
    int rc = xb_msg_parse(&msg, h->bytes, h->len, &lim, &err);
    if (rc < 0) {
        park(v, h, rc == XB_EUNSUPPORTED ? "INVALID_HOLDINGS" : "INVALID_XML", err.message);
        return false;
    }
    xb_msg_free(msg);
    /* the same parse again, validated and extracted: holdings.c owns what a statement may be */
    if ((rc = xb_holdings_parse(&h->h, h->bytes, h->len, &lim, true, &err)) < 0) {
        park(v, h, "INVALID_HOLDINGS", err.message);
        return false;
    }
    h->parsed = true;
    if (!xb_val_is_date(h->h.stmt_date)) {
        park(v, h, "INVALID_HOLDINGS", "the statement has no StmtDtTm date to value on");
        return false;
    }
    return true;
}

/* Values h as NEWP or REPL: NEWP when no record reported its fund and date yet (or h itself did:
 * a redelivery), REPL otherwise. A first report claims the date in the store. */
static int value_with_function(xb_buf *report, json_t **detail, xb_valroute *v, vr_held *h,
                               xb_error *err)
{
    const char *fund = h->e->fund.id, *date = h->h.stmt_date;
    char owner[300];
    int rc = reported_by(owner, v->store, fund, date, err);
    if (rc < 0)
        return rc;
    rc = value_once(report, detail, h, owner[0] && strcmp(owner, h->id) ? "REPL" : "NEWP", err);
    bool won = true;
    if (rc < 0 || owner[0] || (rc = claim(&won, v->store, fund, date, h->id, err)) < 0 || won)
        return rc;
    /* another instance reported this date in the meantime: ours replaces its report */
    json_decref(*detail);
    *detail = NULL;
    return value_once(report, detail, h, "REPL", err);
}

/* One attempt with the tables as they are: 1 when the record got its outcome (valued or parked),
 * 0 when an input is missing (h->missing says which). */
static int attempt(xb_valroute *v, vr_held *h)
{
    vr_entry *e = h->e;
    entry_refresh(e);
    h->tried = true;
    h->tried_rates = e->rates->version;
    h->tried_prices = e->prices ? e->prices->version : 0;
    xb_error err;
    xb_error_clear(&err);
    xb_buf report = XB_BUF_INIT;
    json_t *detail = NULL;
    int rc = value_with_function(&report, &detail, v, h, &err);
    if (rc == XB_ENOTFOUND)
        snprintf(h->missing, sizeof h->missing, "fund %.35s %.10s: %.400s", e->fund.id,
                 h->h.stmt_date, err.message);
    else if (rc < 0)
        park(v, h, err.code == XB_ESTATE ? "STATE_ERROR" : "INVALID_HOLDINGS", err.message);
    else {
        xb_valroute_outcome o = {.body = report.data, .len = report.len, .detail = detail};
        xb_log_event(XB_LOG_INFO, "valuation.valued",
                     json_pack("{ss,ss,ss,ss}", "record", h->id, "fund", e->fund.id, "nav_date",
                               h->h.stmt_date, "function",
                               json_string_value(json_object_get(detail, "function"))));
        finish(v, h, &o);
    }
    json_decref(detail);
    xb_buf_free(&report);
    return rc != XB_ENOTFOUND;
}

/* True when the record reached an outcome (valued or parked); false while it waits. Attempts
 * only when a table changed since the last one: a held record costs nothing per turn. */
static bool try_value(xb_valroute *v, vr_held *h)
{
    if (!parse_once(v, h))
        return true;
    vr_entry *e = h->e;
    uint64_t pv = e->prices ? e->prices->version : 0;
    if (!table_ready(e->rates, !v->rk) || !table_ready(e->prices, !v->rk))
        snprintf(h->missing, sizeof h->missing,
                 "fund %s %s: reference topics not yet read to their end (%s%s%s)", e->fund.id,
                 h->h.stmt_date, e->rates->topic, e->prices ? ", " : "",
                 e->prices ? e->prices->topic : "");
    else if ((!h->tried || h->tried_rates != e->rates->version || h->tried_prices != pv) &&
             attempt(v, h))
        return true;
    if (now_ms() >= h->deadline) {
        park(v, h, "VALUATION_MISSING_INPUT", h->missing);
        return true;
    }
    if (strcmp(h->logged, h->missing)) {
        memcpy(h->logged, h->missing, sizeof h->logged);
        xb_log_event(XB_LOG_INFO, "valuation.held",
                     json_pack("{ss,ss,sI}", "record", h->id, "msg", h->missing, "max_wait_ms",
                               (json_int_t)h->e->max_wait_ms));
    }
    return false;
}

/* ---- queues ------------------------------------------------------------------------------- */

static vr_queue *queue_for(xb_valroute *v, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < v->n_queues; i++)
        if (v->queues[i].partition == partition && !strcmp(v->queues[i].topic, topic))
            return &v->queues[i];
    vr_queue *nq = realloc(v->queues, (v->n_queues + 1) * sizeof *nq);
    if (!nq)
        abort(); /* cannot keep the record in order: stopping beats reordering NEWP and REPL */
    v->queues = nq;
    vr_queue *q = &v->queues[v->n_queues++];
    memset(q, 0, sizeof *q);
    q->topic = strdup(topic);
    q->partition = partition;
    return q;
}

static void held_free(vr_held *h)
{
    if (h->parsed)
        xb_holdings_free(&h->h);
    free(h);
}

static void drain_queue(xb_valroute *v, vr_queue *q)
{
    while (q->head) {
        vr_held *h = q->head;
        if (!try_value(v, h))
            return;
        q->head = h->next;
        if (!q->head)
            q->tail = NULL;
        v->held--;
        held_free(h);
    }
}

bool xb_valroute_takes(const xb_valroute *v, const char *topic)
{
    for (size_t i = 0; v && i < v->n_entries; i++)
        if (!strcmp(v->entries[i].holdings_topic, topic))
            return true;
    return false;
}

void xb_valroute_submit(xb_valroute *v, const char *topic, int32_t partition, const char *bytes,
                        size_t len, const char *id, int64_t ts_ms, void *token)
{
    vr_held *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    for (size_t i = 0; i < v->n_entries; i++)
        if (!strcmp(v->entries[i].holdings_topic, topic))
            h->e = &v->entries[i];
    h->token = token;
    h->bytes = bytes;
    h->len = len;
    h->ts_ms = ts_ms;
    snprintf(h->id, sizeof h->id, "%s", id);
    if (!h->e) { /* the pipeline asks xb_valroute_takes first; a stray record is not ours */
        xb_valroute_outcome o = {.reason = "NO_ROUTE", .text = "not a holdings topic"};
        v->done(v->ctx, token, &o);
        free(h);
        return;
    }
    h->deadline = now_ms() + h->e->max_wait_ms;
    vr_queue *q = queue_for(v, topic, partition);
    if (q->tail)
        q->tail->next = h;
    else
        q->head = h;
    q->tail = h;
    v->held++;
    if (q->head != h)
        snprintf(h->missing, sizeof h->missing, "behind an earlier held record of %s[%d]", topic,
                 (int)partition);
    poll_tables(v);
    drain_queue(v, q);
}

void xb_valroute_tick(xb_valroute *v)
{
    if (!v)
        return;
    poll_tables(v);
    for (size_t i = 0; i < v->n_queues; i++)
        if (v->queues[i].head)
            drain_queue(v, &v->queues[i]);
}

size_t xb_valroute_held(const xb_valroute *v)
{
    return v ? v->held : 0;
}

/* ---- life ---------------------------------------------------------------------------------- */

static int entry_init(xb_valroute *v, vr_entry *e, const xb_valuation_route *c, size_t i,
                      xb_error *err)
{
    int rc = xb_fund_file_load(&e->fund, c->fund, err);
    if (rc < 0) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        char path[64];
        snprintf(path, sizeof path, "valuation[%zu].fund", i);
        return xb_error_set(err, rc, path, "%s: %s", path, why);
    }
    e->holdings_topic = strdup(c->holdings_topic);
    e->rates = table_for(v, c->rates_topic, false);
    e->prices = c->prices_topic ? table_for(v, c->prices_topic, true) : NULL;
    e->swift = c->swift_ns;
    e->max_wait_ms = c->max_wait_ms;
    return 0;
}

int xb_valroute_check(const xb_config *cfg, xb_error *err)
{
    xb_valroute v;
    memset(&v, 0, sizeof v);
    vr_table tables[2];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_valuations; i++) {
        vr_entry e;
        memset(&e, 0, sizeof e);
        memset(tables, 0, sizeof tables);
        v.tables = tables; /* entry_init names its tables; they are dropped right after */
        v.n_tables = 0;
        xb_fund_init(&e.fund);
        rc = entry_init(&v, &e, &cfg->valuations[i], i, err);
        xb_fund_free(&e.fund);
        free(e.holdings_topic);
        for (size_t t = 0; t < v.n_tables; t++) {
            free(tables[t].topic);
            json_decref(tables[t].rows);
        }
    }
    return rc;
}

int xb_valroute_new(xb_valroute **out, const xb_config *cfg, xb_kafka_env *env, xb_store *store,
                    xb_valroute_done_fn done, void *ctx, xb_error *err)
{
    *out = NULL;
    xb_valroute *v = calloc(1, sizeof *v);
    if (!v)
        return xb_error_set(err, XB_ENOMEM, "valuation", "out of memory");
    v->store = store;
    v->done = done;
    v->ctx = ctx;
    v->entries = calloc(cfg->n_valuations ? cfg->n_valuations : 1, sizeof *v->entries);
    v->tables = calloc(cfg->n_valuations * 2 + 1, sizeof *v->tables);
    int rc =
        v->entries && v->tables ? 0 : xb_error_set(err, XB_ENOMEM, "valuation", "out of memory");
    for (size_t i = 0; rc == 0 && i < cfg->n_valuations; i++) {
        xb_fund_init(&v->entries[i].fund);
        v->n_entries++;
        rc = entry_init(v, &v->entries[i], &cfg->valuations[i], i, err);
    }
    /* Two instances creating the table at once can make PostgreSQL's CREATE TABLE IF NOT EXISTS
     * fail in the loser: by the second try the table is there. */
    if (rc == 0 && xb_store_sql(store, ddl, NULL, 0, NULL, NULL, NULL, err) < 0 &&
        (rc = xb_store_sql(store, ddl, NULL, 0, NULL, NULL, NULL, err)) < 0 && err && !err->path[0])
        snprintf(err->path, sizeof err->path, "state.store");
    if (rc == 0 && env)
        rc = tables_consumer_new(v, cfg, env, err);
    if (rc < 0) {
        xb_valroute_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void xb_valroute_free(xb_valroute *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_queues; i++) {
        for (vr_held *h = v->queues[i].head, *next; h; h = next) {
            next = h->next;
            xb_valroute_outcome o = {.cancelled = true};
            v->done(v->ctx, h->token, &o);
            held_free(h);
        }
        free(v->queues[i].topic);
    }
    free(v->queues);
    if (v->rk) {
        rd_kafka_consumer_close(v->rk);
        rd_kafka_destroy(v->rk);
    }
    for (size_t i = 0; i < v->n_entries; i++) {
        xb_fund_free(&v->entries[i].fund);
        free(v->entries[i].holdings_topic);
        xb_fx_free(v->entries[i].fx);
        xb_price_table_free(v->entries[i].pt);
    }
    free(v->entries);
    for (size_t i = 0; i < v->n_tables; i++) {
        free(v->tables[i].topic);
        json_decref(v->tables[i].rows);
        free(v->tables[i].eof);
    }
    free(v->tables);
    free(v);
}
