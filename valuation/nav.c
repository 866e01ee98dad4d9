/* nav.c — NAV per share class, exact to 18 decimals, with an audit trace.
 * Owns the computation and its result; never rounds an intermediate below 18 decimals, never
 * guesses a price or rate, never touches XML, files or the network. */
#include "valuation/nav.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valuation/decmath.h"

#define S XB_VAL_SCALE
#define R XB_VAL_INTER_ROUND

/* Currencies whose rate the trace has already printed (each is printed once). */
typedef struct seen_rates {
    char ccy[32][4];
    int n;
} seen_rates;

typedef struct nav_ctx {
    seen_rates *seen;
    const xb_fund *fund;
    const xb_price_table *prices;
    const xb_fx_table *fx;
    const char *date;
    const xb_nav_opts *opts;
    xb_error *err;
} nav_ctx;

static void trace(const nav_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(const nav_ctx *c, const char *fmt, ...)
{
    if (!c->opts || !c->opts->explain)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    xb_buf_puts(c->opts->explain, line);
    xb_buf_puts(c->opts->explain, "\n");
}

/* Shorthand for formatting several decimals in one trace line. */
#define F(d) xb_val_fmt((char[64]){0}, 64, (d))

static int overflow(const nav_ctx *c, const char *what)
{
    return xb_error_set(c->err, XB_EOVERFLOW, NULL, "exact arithmetic overflowed computing %s",
                        what);
}

/* Prints "fx USD = 7.1879 CNY per unit" the first time a currency is used. */
static void trace_rate(const nav_ctx *c, const char *ccy)
{
    if (!c->opts || !c->opts->explain || !strcmp(ccy, "CNY"))
        return;
    for (int i = 0; i < c->seen->n; i++)
        if (!strcmp(c->seen->ccy[i], ccy))
            return;
    xb_dec r;
    xb_error quiet;
    if (xb_fx_lookup(&r, c->fx, c->date, ccy, &quiet))
        return;
    if (c->seen->n < 32)
        memcpy(c->seen->ccy[c->seen->n++], ccy, 4);
    trace(c, "fx %s = %s CNY per unit (central parity %s)", ccy, F(&r), c->date);
}

/* amount (signed) in ccy -> base currency at 18 dp. */
static int to_base(const nav_ctx *c, xb_dec *out, const xb_dec *amount, const char *ccy)
{
    trace_rate(c, ccy);
    trace_rate(c, c->fund->base_ccy);
    return xb_fx_convert(out, c->fx, c->date, amount, ccy, c->fund->base_ccy, S, R, c->err);
}

/* Finds the price of one holding: price table, statement amount, statement rate, market value.
 * On success *value is the holding's value in *ccy (18 dp) and *source names where it came from. */
static int holding_value(const nav_ctx *c, const xb_holding *h, xb_dec *value, char ccy[4],
                         const char **source)
{
    xb_amount p;
    xb_error quiet;
    bool per_face = h->qty_kind != XB_QTY_UNIT;
    xb_dec hundred = {100, 0};
    const xb_dec *pct_div = per_face ? &hundred : NULL;
    int rc;
    if (xb_price_table_lookup(&p, c->prices, c->date, h->instrument, &quiet) == 0) {
        *source = "price table";
    } else if (h->price_kind == XB_STMT_PRICE_AMOUNT) {
        p.value = h->price;
        memcpy(p.ccy, h->price_ccy, 4);
        *source = "statement price";
    } else if (h->price_kind == XB_STMT_PRICE_RATE && h->price_ccy[0]) {
        p.value = h->price;
        memcpy(p.ccy, h->price_ccy, 4);
        pct_div = &hundred; /* a Rate is always a percentage */
        *source = "statement rate";
    } else if (h->has_market_value) {
        *value = h->market_value.value;
        memcpy(ccy, h->market_value.ccy, 4);
        *source = "statement market value";
        return 0;
    } else {
        return xb_error_set(c->err, XB_ENOTFOUND, h->path,
                            "no price for %s on %s: the statement gives none and the price "
                            "table has none",
                            h->instrument, c->date);
    }
    if (!xb_currency_find(p.ccy))
        return xb_error_set(c->err, XB_EINVAL, h->path, "%s: price currency '%s' is not ISO 4217",
                            h->path, p.ccy);
    rc = xb_val_muldiv(value, &h->quantity, &p.value, pct_div, S, R);
    if (rc)
        return overflow(c, h->instrument);
    memcpy(ccy, p.ccy, 4);
    trace(c, "holding %s price = %s %s (%s%s)", h->instrument, F(&p.value), p.ccy, *source,
          per_face ? ", % of face" : "");
    return 0;
}

static int value_holdings(const nav_ctx *c, const xb_holdings *h, xb_nav_result *r)
{
    xb_dec zero = {0, S};
    r->holdings_base = zero;
    r->accrued_base = zero;
    for (size_t i = 0; h && i < h->n; i++) {
        const xb_holding *x = &h->items[i];
        xb_dec v, vb;
        char ccy[4] = "";
        const char *src = "";
        int rc = holding_value(c, x, &v, ccy, &src);
        if (rc)
            return rc;
        if ((rc = to_base(c, &vb, &v, ccy)))
            return rc;
        if (xb_dec_add(&r->holdings_base, &r->holdings_base, &vb))
            return overflow(c, "total holdings");
        trace(c, "holding %s quantity = %s; value = %s %s; value_base = %s %s", x->instrument,
              F(&x->quantity), F(&v), ccy, F(&vb), c->fund->base_ccy);
        if (x->has_accrued) {
            if ((rc = to_base(c, &vb, &x->accrued.value, x->accrued.ccy)))
                return rc;
            if (xb_dec_add(&r->accrued_base, &r->accrued_base, &vb))
                return overflow(c, "accrued income");
            trace(c, "holding %s accrued = %s %s; accrued_base = %s %s", x->instrument,
                  F(&x->accrued.value), x->accrued.ccy, F(&vb), c->fund->base_ccy);
        }
        if (c->opts && c->opts->progress && (i + 1) % 1000 == 0)
            c->opts->progress(c->opts->progress_ctx, i + 1, h->n);
    }
    if (c->opts && c->opts->progress && h)
        c->opts->progress(c->opts->progress_ctx, h->n, h->n);
    r->n_holdings = h ? h->n : 0;
    return 0;
}

static int sum_money(const nav_ctx *c, xb_dec *total, const xb_amount *list, size_t n,
                     const char *what)
{
    xb_dec zero = {0, S};
    *total = zero;
    for (size_t i = 0; i < n; i++) {
        xb_dec vb;
        int rc = to_base(c, &vb, &list[i].value, list[i].ccy);
        if (rc)
            return rc;
        if (xb_dec_add(total, total, &vb))
            return overflow(c, what);
        trace(c, "%s[%zu] = %s %s; base = %s %s", what, i, F(&list[i].value), list[i].ccy, F(&vb),
              c->fund->base_ccy);
    }
    return 0;
}

static int fund_totals(const nav_ctx *c, xb_nav_result *r)
{
    const xb_fund *f = c->fund;
    xb_dec acc_def;
    int rc;
    if ((rc = sum_money(c, &r->cash_base, f->cash, f->n_cash, "cash")) ||
        (rc = sum_money(c, &acc_def, f->accrued, f->n_accrued, "accrued_income")) ||
        (rc = sum_money(c, &r->liabilities_base, f->liabilities, f->n_liabilities, "liabilities")))
        return rc;
    if (xb_dec_add(&r->accrued_base, &r->accrued_base, &acc_def) ||
        xb_dec_add(&r->total_base, &r->holdings_base, &r->cash_base) ||
        xb_dec_add(&r->total_base, &r->total_base, &r->accrued_base) ||
        xb_dec_sub(&r->total_base, &r->total_base, &r->liabilities_base))
        return overflow(c, "total net assets");
    const char *b = f->base_ccy;
    trace(c, "total.holdings = %s %s", F(&r->holdings_base), b);
    trace(c, "total.cash = %s %s", F(&r->cash_base), b);
    trace(c, "total.accrued_income = %s %s", F(&r->accrued_base), b);
    trace(c, "total.liabilities = %s %s", F(&r->liabilities_base), b);
    trace(c, "total.net_assets = %s %s", F(&r->total_base), b);
    return 0;
}

/* Weight of class i: prev_net_assets over their sum, or units over total units (new fund). */
static int class_weights(const nav_ctx *c, xb_nav_result *r)
{
    const xb_fund *f = c->fund;
    xb_dec den = {0, 0};
    for (size_t i = 0; i < f->n_classes; i++) {
        const xb_fund_class *k = &f->classes[i];
        r->classes[i].weight_num = k->has_prev ? k->prev_net_assets : k->units;
        if (xb_dec_add(&den, &den, &r->classes[i].weight_num))
            return overflow(c, "class weights");
    }
    for (size_t i = 0; i < f->n_classes; i++)
        r->classes[i].weight_den = den;
    return 0;
}

static int class_fees(const nav_ctx *c, const xb_fund_class *k, xb_nav_class *out)
{
    xb_dec rate, days = {k->days, 0}, dc = {k->day_count, 0}, ratedays;
    if (xb_dec_add(&rate, &k->mgmt_fee_pa, &k->custody_fee_pa) ||
        xb_dec_mul(&ratedays, &rate, &days) ||
        xb_val_muldiv(&out->fees_base, &out->share_base, &ratedays, &dc, S, R))
        return overflow(c, "fees");
    trace(c, "class %s fee_rate_pa = %s + %s = %s; days = %d / %d", k->id, F(&k->mgmt_fee_pa),
          F(&k->custody_fee_pa), F(&rate), k->days, k->day_count);
    trace(c, "class %s fees = %s %s", k->id, F(&out->fees_base), c->fund->base_ccy);
    return 0;
}

static int class_movement(const nav_ctx *c, const xb_fund_class *k, xb_nav_class *out)
{
    if (!k->has_prev)
        return 0;
    xb_dec diff, hundred = {100, 0}, mag;
    if (xb_dec_sub(&diff, &out->nav, &k->prev_nav) ||
        xb_val_muldiv(&out->movement_pct, &diff, &hundred, &k->prev_nav, S, R))
        return overflow(c, "NAV movement");
    out->has_movement = true;
    mag = out->movement_pct;
    if (mag.coef < 0)
        mag.coef = -mag.coef;
    out->breach = xb_dec_cmp(&mag, &c->fund->tolerance_pct) > 0;
    trace(c, "class %s movement_pct = (%s - %s) / %s x 100 = %s; tolerance_pct = %s -> %s", k->id,
          F(&out->nav), F(&k->prev_nav), F(&k->prev_nav), F(&out->movement_pct),
          F(&c->fund->tolerance_pct), out->breach ? "BREACH" : "ok");
    return 0;
}

static int class_nav(const nav_ctx *c, const xb_nav_result *r, size_t i, xb_nav_class *out)
{
    const xb_fund *f = c->fund;
    const xb_fund_class *k = &f->classes[i];
    int rc;
    out->units = k->units;
    if (xb_val_muldiv(&out->share_base, &r->total_base, &out->weight_num, &out->weight_den, S, R))
        return overflow(c, "class share");
    trace(c, "class %s weight = %s / %s (%s)", k->id, F(&out->weight_num), F(&out->weight_den),
          k->has_prev ? "prev_net_assets" : "units: new fund");
    trace(c, "class %s share = %s %s", k->id, F(&out->share_base), f->base_ccy);
    if ((rc = class_fees(c, k, out)))
        return rc;
    if (xb_dec_sub(&out->net_base, &out->share_base, &out->fees_base))
        return overflow(c, "class net assets");
    if (xb_dec_sign(&out->net_base) < 0)
        return xb_error_set(c->err, XB_ERULE, NULL, "class %s: net assets would be negative (%s)",
                            k->id, F(&out->net_base));
    trace_rate(c, k->ccy);
    if ((rc = xb_fx_convert(&out->net_class, c->fx, c->date, &out->net_base, f->base_ccy, k->ccy, S,
                            R, c->err)) ||
        (rc = xb_fx_convert(&out->net_cny, c->fx, c->date, &out->net_base, f->base_ccy, "CNY", S, R,
                            c->err)))
        return rc;
    const xb_currency *cc = xb_currency_find(k->ccy);
    /* Published figures are rounded once, from the 18-decimal intermediates, in the fund's mode. */
    if (xb_val_div(&out->nav_exact, &out->net_class, &k->units, S, R) ||
        xb_val_div(&out->nav, &out->net_class, &k->units, f->nav_decimals, f->rounding) ||
        xb_val_div(&out->nav_cny, &out->net_cny, &k->units, f->nav_decimals, f->rounding) ||
        xb_dec_round(&out->ttl_nav, &out->net_class, cc->minor_units, f->rounding) ||
        xb_dec_round(&out->ttl_nav_cny, &out->net_cny, 2, f->rounding))
        return overflow(c, "NAV per unit");
    trace(c, "class %s net_assets = %s %s = %s %s = %s CNY", k->id, F(&out->net_base), f->base_ccy,
          F(&out->net_class), k->ccy, F(&out->net_cny));
    trace(c, "class %s units = %s", k->id, F(&k->units));
    trace(c, "class %s nav_exact = %s %s", k->id, F(&out->nav_exact), k->ccy);
    trace(c, "class %s nav = %s %s (%s, %d dp)", k->id, F(&out->nav), k->ccy,
          xb_rounding_name(f->rounding), f->nav_decimals);
    trace(c, "class %s nav_cny = %s CNY", k->id, F(&out->nav_cny));
    trace(c, "class %s ttl_nav = %s %s; ttl_nav_cny = %s CNY", k->id, F(&out->ttl_nav), k->ccy,
          F(&out->ttl_nav_cny));
    return class_movement(c, k, out);
}

static void note_breaches(const nav_ctx *c, xb_nav_result *r)
{
    size_t len = 0;
    for (size_t i = 0; i < r->n_classes; i++) {
        const xb_nav_class *k = &r->classes[i];
        if (!k->breach)
            continue;
        if (!r->breach)
            len +=
                (size_t)snprintf(r->flag, sizeof r->flag,
                                 "NAV movement beyond tolerance %s%%:", F(&c->fund->tolerance_pct));
        r->breach = true;
        xb_dec pct;
        xb_dec_round(&pct, &k->movement_pct, 4, XB_ROUND_HALF_UP);
        if (len < sizeof r->flag)
            len +=
                (size_t)snprintf(r->flag + len, sizeof r->flag - len, " %s %s%%", k->id, F(&pct));
    }
    bool force = c->opts && c->opts->force;
    r->official = !r->suspended && (!r->breach || force);
    r->estimated = r->breach && !force;
    if (r->breach && len + 1 < sizeof r->flag)
        snprintf(r->flag + len, sizeof r->flag - len, "; %s",
                 force ? "published as official (forced)" : "published as estimated");
    if (r->breach)
        trace(c, "flag = %s", r->flag);
}

static int init_result(xb_nav_result *r, const xb_fund *f, const char *date, xb_error *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->fund_id, sizeof r->fund_id, "%s", f->id);
    snprintf(r->date, sizeof r->date, "%s", date);
    snprintf(r->base_ccy, sizeof r->base_ccy, "%s", f->base_ccy);
    r->suspended = f->suspended;
    r->classes = calloc(f->n_classes ? f->n_classes : 1, sizeof *r->classes);
    if (!r->classes)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory for NAV result");
    r->n_classes = f->n_classes;
    for (size_t i = 0; i < f->n_classes; i++) {
        snprintf(r->classes[i].id, sizeof r->classes[i].id, "%s", f->classes[i].id);
        snprintf(r->classes[i].isin, sizeof r->classes[i].isin, "%s", f->classes[i].isin);
        snprintf(r->classes[i].ccy, sizeof r->classes[i].ccy, "%s", f->classes[i].ccy);
        r->classes[i].units = f->classes[i].units;
    }
    return 0;
}

int xb_nav_compute(xb_nav_result *out, const xb_fund *fund, const xb_holdings *h,
                   const xb_price_table *prices, const xb_fx_table *fx, const char *date,
                   const xb_nav_opts *opts, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!xb_val_is_date(date))
        return xb_error_set(err, XB_EINVAL, NULL, "valuation date '%s' is not YYYY-MM-DD",
                            date ? date : "");
    int rc = xb_fund_validate(fund, err);
    if (rc)
        return rc;
    if ((rc = init_result(out, fund, date, err)))
        return rc;
    seen_rates seen = {{{0}}, 0};
    nav_ctx c = {&seen, fund, prices, fx, date, opts, err};
    trace(&c,
          "valuation fund = %s; date = %s; base = %s; intermediates = %d dp %s; published = "
          "%d dp %s",
          fund->id, date, fund->base_ccy, S, xb_rounding_name(R), fund->nav_decimals,
          xb_rounding_name(fund->rounding));
    if (h && h->stmt_date[0] && strcmp(h->stmt_date, date))
        trace(&c, "note: statement date %s differs from valuation date %s", h->stmt_date, date);
    if (fund->suspended) {
        trace(&c, "fund suspended: no valuation, SspdInd = true");
        return 0;
    }
    if ((rc = value_holdings(&c, h, out)) || (rc = fund_totals(&c, out)) ||
        (rc = class_weights(&c, out)))
        goto fail;
    for (size_t i = 0; i < fund->n_classes; i++)
        if ((rc = class_nav(&c, out, i, &out->classes[i])))
            goto fail;
    note_breaches(&c, out);
    return 0;
fail:
    xb_nav_result_free(out);
    return rc;
}

void xb_nav_result_free(xb_nav_result *r)
{
    if (!r)
        return;
    free(r->classes);
    memset(r, 0, sizeof *r);
}
