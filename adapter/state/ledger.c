/* ledger.c — the settlement ledger section of the state store, see ledger.h.
 *
 * Owns: the ledger tables and their SQL (the portable subset run through xb_store_sql, so the
 * same code serves SQLite and PostgreSQL), the status machine, pacs.002 ingest and the report.
 * Never: sums money in SQL (amounts are decimal text, added with xb_dec), deletes history, or
 * holds a transaction open across calls.
 */
#include "adapter/state/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/state/ledger_schema.h"
#include "iso20022/pacs002.h"

/* Statuses the ledger tracks, in report order. */
static const char *const STATUSES[] = {"SENT", "ACSP", "ACSC", "ACCC", "RJCT"};
#define N_STATUSES 5
/* pacs.002 codes that say "received / pending" without moving the transfer on. */
static const char *const NOTED[] = {"ACTC", "ACCP", "PDNG", "ACWC", "ACWP", "RCVD", "PART"};

const char *xb_ledger_outcome_name(xb_ledger_outcome o)
{
    static const char *const names[] = {"applied", "same", "refused", "unmatched"};
    return (unsigned)o < 4 ? names[o] : "?";
}

static int status_index(const char *s)
{
    for (int i = 0; i < N_STATUSES; i++)
        if (!strcmp(s, STATUSES[i]))
            return i;
    return -1;
}

static int is_noted(const char *s)
{
    for (size_t i = 0; i < sizeof NOTED / sizeof NOTED[0]; i++)
        if (!strcmp(s, NOTED[i]))
            return 1;
    return 0;
}

/* The status machine: SENT(0) < ACSP(1) < ACSC(2) < ACCC(3); RJCT only from SENT/ACSP. */
static xb_ledger_outcome transition(const char *from, const char *to)
{
    if (!strcmp(from, to))
        return XB_LEDGER_SAME;
    int f = status_index(from), t = status_index(to);
    if (f < 0 || t < 0 || !strcmp(from, "ACCC") || !strcmp(from, "RJCT"))
        return XB_LEDGER_REFUSED;
    if (!strcmp(to, "RJCT"))
        return f <= 1 ? XB_LEDGER_APPLIED : XB_LEDGER_REFUSED;
    return t > f ? XB_LEDGER_APPLIED : XB_LEDGER_REFUSED;
}

static void now_iso(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Runs one portable statement with text arguments (a NULL-terminated list). */
static int run_q(xb_store *st, const char *sql, const char *const *args, int64_t *changes,
                 xb_store_row_fn row, void *ctx, xb_error *err)
{
    xb_sqlv v[16];
    size_t n = 0;
    for (; args && args[n] && n < 16; n++)
        v[n] = XB_SQLV_T(args[n]);
    return xb_store_sql(st, sql, v, n, changes, row, ctx, err);
}

static int run(xb_store *st, const char *sql, const char *const *args, xb_error *err)
{
    return run_q(st, sql, args, NULL, NULL, NULL, err);
}

/* Once per open store: the DDL ran before every ledger transaction, and each no-op CREATE TABLE
 * IF NOT EXISTS outside a transaction is its own read transaction with its own file locks (the
 * issue #8 profile: the ledger's share was mostly locking). Tables are never dropped by xborder. */
static int ensure_tables(xb_store *st, xb_error *err)
{
    if (xb_store_section_ready(st, XB_STORE_SECTION_LEDGER))
        return 0;
    for (size_t i = 0; i < XB_LEDGER_DDL_COUNT; i++) {
        int rc = run(st, xb_ledger_ddl[i], NULL, err);
        if (rc < 0)
            return rc;
    }
    xb_store_section_set_ready(st, XB_STORE_SECTION_LEDGER);
    return 0;
}

static int begin(xb_store *st, xb_error *err)
{
    int rc = ensure_tables(st, err);
    return rc < 0 ? rc : xb_store_sql_begin(st, true, err);
}

static int finish(xb_store *st, int rc, xb_error *err)
{
    if (rc == 0)
        return xb_store_sql_commit(st, err);
    xb_store_sql_rollback(st);
    return rc;
}

/* Row callback: copies the first column into a char[8] status. */
static int first_col_status(void *ctx, const char *const *cols, size_t ncols, xb_error *err)
{
    snprintf(ctx, 8, "%s", ncols && cols[0] ? cols[0] : "");
    return 0;
}

/* ---- recording what was sent --------------------------------------------------------------- */

static void tx_key(char *out, size_t cap, const xb_settle_details *d, const xb_settle_tx *t)
{
    if (t->uetr[0])
        snprintf(out, cap, "%s", t->uetr);
    else
        snprintf(out, cap, "%s/%s", d->msg_id, t->end_to_end_id);
}

static int record_tx(xb_store *st, const xb_settle_details *d, const xb_settle_tx *t,
                     const char *dest, const char *now, xb_error *err)
{
    char key[XB_LEDGER_KEY_SIZE], orig[64], cny[64], rate[64];
    tx_key(key, sizeof key, d, t);
    xb_amount_format(orig, sizeof orig, &t->original);
    xb_amount_format(cny, sizeof cny, &t->settled);
    xb_dec_format(rate, sizeof rate, &t->rate);
    const char *args[] = {key,
                          d->msg_id,
                          d->definition,
                          t->end_to_end_id,
                          t->tx_id,
                          t->counterparty[0] ? t->counterparty : dest,
                          dest,
                          t->sttlm_date,
                          t->original.ccy,
                          orig,
                          cny,
                          rate,
                          t->converted ? d->rate_source : "",
                          now,
                          NULL};
    int64_t changed = 0;
    int rc =
        run_q(st,
              "INSERT INTO settlement_ledger(uetr, msg_id, msg_def, end_to_end_id, tx_id,"
              " counterparty, destination, sttlm_date, orig_ccy, orig_amount, cny_amount, rate,"
              " rate_source, status, sent_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
              " ?8, ?9, ?10, ?11, ?12, ?13, 'SENT', ?14, ?14) ON CONFLICT(uetr) DO NOTHING",
              args, &changed, NULL, NULL, err);
    if (rc == 0 && changed == 1) {
        const char *ev[] = {key, dest, now, NULL};
        rc = run(st,
                 "INSERT INTO settlement_events(uetr, status, reason, source, outcome, at)"
                 " VALUES (?1, 'SENT', '', 'sent to ' || ?2, 'applied', ?3)",
                 ev, err);
    }
    return rc;
}

int xb_settle_ledger_record_sent(xb_store *st, const xb_settle_details *d, const char *destination,
                                 xb_error *err)
{
    return xb_settle_ledger_record_sent_many(st, &d, &destination, 1, err);
}

int xb_settle_ledger_record_sent_many(xb_store *st, const xb_settle_details *const *ds,
                                      const char *const *destinations, size_t n, xb_error *err)
{
    char now[32];
    now_iso(now);
    int rc = begin(st, err);
    if (rc < 0)
        return rc;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const char *dest = destinations[k] ? destinations[k] : "";
        for (size_t i = 0; rc == 0 && i < ds[k]->n_tx; i++)
            rc = record_tx(st, ds[k], &ds[k]->tx[i], dest, now, err);
    }
    return finish(st, rc, err);
}

/* ---- status updates -------------------------------------------------------------------------- */

static int read_status(char status[8], xb_store *st, const char *uetr, xb_error *err)
{
    const char *args[] = {uetr, NULL};
    status[0] = '\0';
    int rc = run_q(st, "SELECT status FROM settlement_ledger WHERE uetr = ?1", args, NULL,
                   first_col_status, status, err);
    if (rc == 0 && !status[0])
        rc = xb_error_set(err, XB_ENOTFOUND, NULL, "no transfer %s in the settlement ledger", uetr);
    return rc;
}

static int add_event(xb_store *st, const char *uetr, const char *status, const char *reason,
                     const char *source, xb_ledger_outcome o, const char *now, xb_error *err)
{
    const char *args[] = {uetr, status, reason, source, xb_ledger_outcome_name(o), now, NULL};
    return run(st,
               "INSERT INTO settlement_events(uetr, status, reason, source, outcome, at)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
               args, err);
}

/* One status inside an open transaction. */
static int set_status_tx(xb_ledger_outcome *out, xb_store *st, const char *uetr, const char *status,
                         const char *reason, const char *source, const char *now, xb_error *err)
{
    char cur[8];
    xb_error e = {0};
    int rc = read_status(cur, st, uetr, &e);
    if (rc == XB_ENOTFOUND) {
        *out = XB_LEDGER_UNMATCHED;
        return 0;
    }
    if (rc < 0)
        return xb_error_set(err, e.code, NULL, "%s", e.message);
    if (status_index(status) < 0 && is_noted(status))
        *out = XB_LEDGER_SAME; /* informational: history only */
    else
        *out = transition(cur, status);
    if (*out == XB_LEDGER_APPLIED) {
        const char *args[] = {status, reason, now, uetr, NULL};
        rc = run(st,
                 "UPDATE settlement_ledger SET status = ?1, reason = ?2, updated_at = ?3"
                 " WHERE uetr = ?4",
                 args, err);
    }
    return rc < 0 ? rc : add_event(st, uetr, status, reason, source, *out, now, err);
}

static int check_status_code(const char *status, xb_error *err)
{
    if (status_index(status) >= 0 || is_noted(status))
        return 0;
    return xb_error_set(err, XB_EINVAL, NULL, "'%s' is not a payment status code the ledger knows",
                        status);
}

int xb_settle_ledger_set_status(xb_ledger_outcome *out, xb_store *st, const char *uetr,
                                const char *status, const char *reason, const char *source,
                                xb_error *err)
{
    char now[32];
    now_iso(now);
    int rc = check_status_code(status, err);
    if (rc < 0 || (rc = begin(st, err)) < 0)
        return rc;
    rc = set_status_tx(out, st, uetr, status, reason ? reason : "", source ? source : "", now, err);
    return finish(st, rc, err);
}

int xb_settle_ledger_set_statuses(xb_store *st, const xb_ledger_update *u, size_t n, xb_error *err)
{
    char now[32];
    now_iso(now);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_status_code(u[i].status, err);
    if (rc < 0 || n == 0 || (rc = begin(st, err)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        xb_ledger_outcome o;
        rc = set_status_tx(&o, st, u[i].key, u[i].status, u[i].reason ? u[i].reason : "",
                           u[i].source ? u[i].source : "", now, err);
    }
    return finish(st, rc, err);
}

static int add_unmatched(xb_store *st, const xb_pacs002_status *r, const char *reason,
                         const char *source, const char *now, xb_error *err)
{
    const char *args[] = {r->orgnl_uetr,
                          r->orgnl_msg_id,
                          r->orgnl_end_to_end_id,
                          r->status,
                          reason,
                          r->orgnl_sttlm_date,
                          source,
                          now,
                          NULL};
    return run(st,
               "INSERT INTO settlement_unmatched(uetr, orgnl_msg_id, end_to_end_id, status, reason,"
               " sttlm_date, source, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
               " ON CONFLICT DO NOTHING", /* the same report read twice is one row */
               args, err);
}

typedef struct key_list {
    char **keys;
    size_t n;
} key_list;

static int add_key(void *ctx, const char *const *cols, size_t ncols, xb_error *err)
{
    key_list *l = ctx;
    char **grown = realloc(l->keys, (l->n + 1) * sizeof *l->keys);
    if (!grown)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    l->keys = grown;
    l->keys[l->n++] = strdup(ncols && cols[0] ? cols[0] : "");
    return 0;
}

/* Keys of every transfer of an original message (for group-level statuses). */
static int keys_of_msg(key_list *out, xb_store *st, const char *msg_id, xb_error *err)
{
    const char *args[] = {msg_id, NULL};
    memset(out, 0, sizeof *out);
    return run_q(st, "SELECT uetr FROM settlement_ledger WHERE msg_id = ?1 ORDER BY uetr", args,
                 NULL, add_key, out, err);
}

typedef struct apply_counts {
    size_t applied, unmatched, refused;
} apply_counts;

static void count(apply_counts *c, xb_ledger_outcome o)
{
    if (o == XB_LEDGER_APPLIED)
        c->applied++;
    else if (o == XB_LEDGER_UNMATCHED)
        c->unmatched++;
    else if (o == XB_LEDGER_REFUSED)
        c->refused++;
}

static int apply_row(apply_counts *c, xb_store *st, const xb_pacs002_status *r, const char *source,
                     const char *now, xb_error *err)
{
    char reason[XB_MAX35_SIZE + XB_MAX105_SIZE]; /* "code info" */
    snprintf(reason, sizeof reason, "%s%s%s", r->reason_code, r->reason_info[0] ? " " : "",
             r->reason_info);
    xb_ledger_outcome o = XB_LEDGER_UNMATCHED;
    int rc = check_status_code(r->status, err);
    if (rc < 0)
        return rc;
    if (r->group_level) {
        key_list l;
        rc = keys_of_msg(&l, st, r->orgnl_msg_id, err);
        for (size_t i = 0; i < l.n; i++) {
            if (rc == 0 &&
                (rc = set_status_tx(&o, st, l.keys[i], r->status, reason, source, now, err)) == 0)
                count(c, o);
            free(l.keys[i]);
        }
        free(l.keys);
        if (rc == 0 && l.n == 0) {
            c->unmatched++;
            rc = add_unmatched(st, r, reason, source, now, err);
        }
        return rc;
    }
    char key[XB_LEDGER_KEY_SIZE];
    if (r->orgnl_uetr[0])
        snprintf(key, sizeof key, "%s", r->orgnl_uetr);
    else
        snprintf(key, sizeof key, "%s/%s", r->orgnl_msg_id, r->orgnl_end_to_end_id);
    rc = set_status_tx(&o, st, key, r->status, reason, source, now, err);
    if (rc == 0)
        count(c, o);
    if (rc == 0 && o == XB_LEDGER_UNMATCHED)
        rc = add_unmatched(st, r, reason, source, now, err);
    return rc;
}

int xb_settle_ledger_apply_status(size_t *applied, size_t *unmatched, size_t *refused, xb_store *st,
                                  const xb_msg *pacs002, xb_error *err)
{
    xb_pacs002_status *rows = NULL;
    size_t n = 0;
    int rc = xb_pacs002_read(&rows, &n, pacs002, err);
    if (rc < 0)
        return rc;
    char now[32], source[64];
    now_iso(now);
    const char *mid = xb_xml_text(xb_xml_find(xb_msg_body(pacs002), "GrpHdr/MsgId"));
    snprintf(source, sizeof source, "pacs.002 %s", mid ? mid : "?");
    apply_counts c = {0};
    rc = begin(st, err);
    if (rc == 0) {
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = apply_row(&c, st, &rows[i], source, now, err);
        rc = finish(st, rc, err);
    }
    free(rows);
    if (applied)
        *applied = rc ? 0 : c.applied;
    if (unmatched)
        *unmatched = rc ? 0 : c.unmatched;
    if (refused)
        *refused = rc ? 0 : c.refused;
    return rc;
}

int xb_settle_ledger_status(char status[8], xb_store *st, const char *uetr, xb_error *err)
{
    int rc = ensure_tables(st, err);
    return rc < 0 ? rc : read_status(status, st, uetr, err);
}

/* ---- the report --------------------------------------------------------------------------------
 */

typedef struct cp_sum {
    char name[64];
    size_t transfers;
    xb_dec total;
    size_t count[N_STATUSES];
    xb_dec cny[N_STATUSES];
} cp_sum;

static void dec_zero(xb_dec *d)
{
    d->coef = 0;
    d->scale = 2;
}

static json_t *dec_json(const xb_dec *d)
{
    char buf[64];
    xb_dec r;
    if (xb_dec_round(&r, d, 2, XB_ROUND_HALF_UP) < 0 || xb_dec_format(buf, sizeof buf, &r) < 0)
        snprintf(buf, sizeof buf, "?");
    return json_string(buf);
}

static json_t *sum_json(const cp_sum *c)
{
    json_t *by = json_object();
    for (int i = 0; i < N_STATUSES; i++)
        if (c->count[i])
            json_object_set_new(by, STATUSES[i],
                                json_pack("{s:I, s:o}", "count", (json_int_t)c->count[i], "cny",
                                          dec_json(&c->cny[i])));
    return json_pack("{s:s, s:I, s:o, s:o}", "counterparty", c->name, "transfers",
                     (json_int_t)c->transfers, "cny_total", dec_json(&c->total), "by_status", by);
}

/* True when the per-status columns of c add up to its totals. */
static int sum_balances(const cp_sum *c)
{
    xb_dec s;
    size_t n = 0;
    dec_zero(&s);
    for (int i = 0; i < N_STATUSES; i++) {
        if (xb_dec_add(&s, &s, &c->cny[i]) < 0)
            return 0;
        n += c->count[i];
    }
    return n == c->transfers && xb_dec_cmp(&s, &c->total) == 0;
}

static cp_sum *find_cp(cp_sum **cps, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*cps)[i].name, name))
            return &(*cps)[i];
    cp_sum *grown = realloc(*cps, (*n + 1) * sizeof **cps);
    if (!grown)
        return NULL;
    *cps = grown;
    cp_sum *c = &grown[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    dec_zero(&c->total);
    for (int i = 0; i < N_STATUSES; i++)
        dec_zero(&c->cny[i]);
    return c;
}

static int add_to(cp_sum *c, int st, const xb_dec *amt)
{
    c->transfers++;
    c->count[st]++;
    if (xb_dec_add(&c->total, &c->total, amt) < 0 || xb_dec_add(&c->cny[st], &c->cny[st], amt) < 0)
        return XB_EOVERFLOW;
    return 0;
}

typedef struct report_state {
    cp_sum *cps;
    size_t n_cps;
    cp_sum all;
    xb_dec grand; /* summed row by row, independently of the counterparty sums */
    json_t *pending, *rejected;
} report_state;

static int report_row(void *ctx, const char *const *cols, size_t ncols, xb_error *err)
{
    report_state *rs = ctx;
    if (ncols < 6)
        return xb_error_set(err, XB_ESTATE, NULL, "settlement ledger: short row");
    const char *uetr = cols[0], *cp = cols[1], *status = cols[2], *cny = cols[3];
    const char *reason = cols[4], *sent_at = cols[5];
    xb_dec amt;
    int st = status_index(status);
    if (st < 0 || xb_dec_parse_cstr(&amt, cny, NULL) < 0)
        return xb_error_set(err, XB_ESTATE, NULL, "settlement ledger row %s is corrupt", uetr);
    cp_sum *c = find_cp(&rs->cps, &rs->n_cps, cp);
    if (!c)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    if (add_to(c, st, &amt) < 0 || add_to(&rs->all, st, &amt) < 0 ||
        xb_dec_add(&rs->grand, &rs->grand, &amt) < 0)
        return xb_error_set(err, XB_EOVERFLOW, NULL, "report totals overflow");
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "uetr", uetr, "counterparty", cp, "status",
                            status, "cny", cny, "sent_at", sent_at);
    if (!strcmp(status, "SENT") || !strcmp(status, "ACSP"))
        json_array_append(rs->pending, row);
    if (!strcmp(status, "RJCT")) {
        json_object_set_new(row, "reason", json_string(reason));
        json_array_append(rs->rejected, row);
    }
    json_decref(row);
    return 0;
}

static int report_transfers(report_state *rs, xb_store *st, const char *date, xb_error *err)
{
    const char *args[] = {date, NULL};
    return run_q(st,
                 "SELECT uetr, counterparty, status, cny_amount, reason, sent_at"
                 " FROM settlement_ledger WHERE sttlm_date = ?1 ORDER BY counterparty, uetr",
                 args, NULL, report_row, rs, err);
}

static int unmatched_row(void *ctx, const char *const *cols, size_t ncols, xb_error *err)
{
    if (ncols < 7)
        return xb_error_set(err, XB_ESTATE, NULL, "settlement ledger: short row");
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "uetr", cols[0],
                                         "orgnl_msg_id", cols[1], "end_to_end_id", cols[2],
                                         "status", cols[3], "reason", cols[4], "source", cols[5],
                                         "received_at", cols[6]));
    return 0;
}

static int report_unmatched(json_t *arr, xb_store *st, const char *date, xb_error *err)
{
    const char *args[] = {date, NULL};
    return run_q(st,
                 "SELECT uetr, orgnl_msg_id, end_to_end_id, status, reason, source, at"
                 " FROM settlement_unmatched WHERE (CASE WHEN sttlm_date <> '' THEN sttlm_date"
                 " ELSE substr(at, 1, 10) END) = ?1 ORDER BY at, uetr, status",
                 args, NULL, unmatched_row, arr, err);
}

static json_t *assemble(report_state *rs, const char *date, json_t *unmatched)
{
    json_t *cps = json_array();
    int balanced = sum_balances(&rs->all);
    xb_dec across;
    dec_zero(&across);
    size_t n_across = 0;
    for (size_t i = 0; i < rs->n_cps; i++) {
        balanced &= sum_balances(&rs->cps[i]);
        balanced &= xb_dec_add(&across, &across, &rs->cps[i].total) == 0;
        n_across += rs->cps[i].transfers;
        json_array_append_new(cps, sum_json(&rs->cps[i]));
    }
    balanced &= xb_dec_cmp(&across, &rs->grand) == 0 &&
                xb_dec_cmp(&rs->all.total, &rs->grand) == 0 && n_across == rs->all.transfers;
    json_t *totals = sum_json(&rs->all);
    json_object_del(totals, "counterparty");
    return json_pack("{s:s, s:s, s:o, s:o, s:O, s:O, s:o, s:b}", "date", date, "currency", "CNY",
                     "counterparties", cps, "totals", totals, "pending", rs->pending, "rejected",
                     rs->rejected, "unmatched", unmatched, "balanced", balanced);
}

int xb_settle_ledger_report(json_t **out, xb_store *st, const char *date, xb_error *err)
{
    *out = NULL;
    report_state rs;
    memset(&rs, 0, sizeof rs);
    snprintf(rs.all.name, sizeof rs.all.name, "*");
    dec_zero(&rs.all.total);
    dec_zero(&rs.grand);
    for (int i = 0; i < N_STATUSES; i++)
        dec_zero(&rs.all.cny[i]);
    rs.pending = json_array();
    rs.rejected = json_array();
    json_t *unmatched = json_array();
    int rc = ensure_tables(st, err);
    if (rc == 0)
        rc = xb_store_sql_begin(st, false, err); /* one consistent snapshot for both reads */
    if (rc == 0) {
        rc = report_transfers(&rs, st, date, err);
        if (rc == 0)
            rc = report_unmatched(unmatched, st, date, err);
        if (rc == 0)
            rc = xb_store_sql_commit(st, err);
        else
            xb_store_sql_rollback(st);
    }
    if (rc == 0)
        *out = assemble(&rs, date, unmatched);
    else
        json_decref(unmatched);
    json_decref(rs.pending);
    json_decref(rs.rejected);
    free(rs.cps);
    return rc;
}
