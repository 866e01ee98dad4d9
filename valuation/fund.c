/* fund.c — building and validating an xb_fund. Owns the fund's lists; never reads files. */
#include "valuation/fund.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xb_fund_init(xb_fund *f)
{
    memset(f, 0, sizeof *f);
    f->nav_decimals = 4;
    f->rounding = XB_ROUND_HALF_UP;
    xb_dec_from_int(&f->tolerance_pct, 5);
}

void xb_fund_free(xb_fund *f)
{
    if (!f)
        return;
    free(f->cash);
    free(f->accrued);
    free(f->liabilities);
    free(f->classes);
    memset(f, 0, sizeof *f);
}

static int push(void **list, size_t *n, size_t size, const void *item, xb_error *err)
{
    void *p = realloc(*list, (*n + 1) * size);
    if (!p)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory for fund definition");
    memcpy((char *)p + *n * size, item, size);
    *list = p;
    (*n)++;
    return 0;
}

int xb_fund_add_money(xb_fund *f, xb_fund_money_kind kind, const xb_amount *a, xb_error *err)
{
    switch (kind) {
    case XB_FUND_CASH:
        return push((void **)&f->cash, &f->n_cash, sizeof *a, a, err);
    case XB_FUND_ACCRUED:
        return push((void **)&f->accrued, &f->n_accrued, sizeof *a, a, err);
    case XB_FUND_LIABILITY:
        return push((void **)&f->liabilities, &f->n_liabilities, sizeof *a, a, err);
    }
    return xb_error_set(err, XB_EINVAL, NULL, "unknown fund money kind");
}

int xb_fund_add_class(xb_fund *f, const xb_fund_class *c, xb_error *err)
{
    return push((void **)&f->classes, &f->n_classes, sizeof *c, c, err);
}

static int is_isin(const char *s)
{
    if (strlen(s) != 12)
        return 0;
    for (int i = 0; i < 12; i++) {
        char ch = s[i];
        int alpha = ch >= 'A' && ch <= 'Z', digit = ch >= '0' && ch <= '9';
        if ((i < 2 && !alpha) || (i == 11 && !digit) || (!alpha && !digit))
            return 0;
    }
    return 1;
}

static int check_ccy(const char *ccy, const char *path, xb_error *err)
{
    const xb_currency *c = xb_currency_find(ccy);
    if (!c || c->commodity || c->minor_units < 0)
        return xb_error_set(err, XB_EINVAL, path, "%s: '%s' is not a usable ISO 4217 currency%s",
                            path, ccy, strcmp(ccy, "CNH") ? "" : " (offshore RMB is still CNY)");
    return 0;
}

static int check_money(const xb_amount *list, size_t n, const char *key, xb_error *err)
{
    char path[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s[%zu].currency", key, i);
        int rc = check_ccy(list[i].ccy, path, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_class(const xb_fund *f, size_t i, xb_error *err)
{
    const xb_fund_class *c = &f->classes[i];
    char path[64];
    int rc;
#define CPATH(k) (snprintf(path, sizeof path, "classes[%zu].%s", i, k), path)
    if (!c->id[0])
        return xb_error_set(err, XB_EINVAL, CPATH("id"), "%s is required", path);
    if (!is_isin(c->isin))
        return xb_error_set(err, XB_EINVAL, CPATH("isin"), "%s: '%s' is not an ISIN", path,
                            c->isin);
    if ((rc = check_ccy(c->ccy, CPATH("currency"), err)))
        return rc;
    if (xb_dec_sign(&c->units) <= 0)
        return xb_error_set(err, XB_EINVAL, CPATH("units"), "%s must be positive", path);
    if (xb_dec_sign(&c->mgmt_fee_pa) < 0)
        return xb_error_set(err, XB_EINVAL, CPATH("mgmt_fee_pa"), "%s is negative", path);
    if (xb_dec_sign(&c->custody_fee_pa) < 0)
        return xb_error_set(err, XB_EINVAL, CPATH("custody_fee_pa"), "%s is negative", path);
    if (c->day_count != 360 && c->day_count != 365 && c->day_count != 366)
        return xb_error_set(err, XB_EINVAL, CPATH("day_count"), "%s must be 360, 365 or 366", path);
    if (c->days < 0 || c->days > 366)
        return xb_error_set(err, XB_EINVAL, CPATH("days"), "%s must be 0..366", path);
    if (c->has_prev != f->classes[0].has_prev)
        return xb_error_set(err, XB_EINVAL, CPATH("prev_net_assets"),
                            "%s: give prev_net_assets and prev_nav on every class or on none "
                            "(a new fund)",
                            path);
    if (c->has_prev && (xb_dec_sign(&c->prev_net_assets) < 0 || xb_dec_sign(&c->prev_nav) <= 0))
        return xb_error_set(err, XB_EINVAL, CPATH("prev_nav"),
                            "%s must be positive and prev_net_assets non-negative", path);
    for (size_t j = 0; j < i; j++) {
        if (!strcmp(f->classes[j].id, c->id))
            return xb_error_set(err, XB_EINVAL, CPATH("id"), "%s '%s' repeats classes[%zu]", path,
                                c->id, j);
        if (!strcmp(f->classes[j].isin, c->isin))
            return xb_error_set(err, XB_EINVAL, CPATH("isin"), "%s '%s' repeats classes[%zu]", path,
                                c->isin, j);
    }
#undef CPATH
    return 0;
}

int xb_fund_validate(const xb_fund *f, xb_error *err)
{
    int rc;
    if (!f->id[0])
        return xb_error_set(err, XB_EINVAL, "fund.id", "fund.id is required");
    if ((rc = check_ccy(f->base_ccy, "fund.base_currency", err)))
        return rc;
    if (f->nav_decimals < 0 || f->nav_decimals > 13)
        return xb_error_set(err, XB_EINVAL, "fund.nav_decimals",
                            "fund.nav_decimals must be 0..13 (reda.001 prices carry 13 at most)");
    if (xb_dec_sign(&f->tolerance_pct) < 0)
        return xb_error_set(err, XB_EINVAL, "fund.tolerance_pct", "fund.tolerance_pct is negative");
    if ((rc = check_money(f->cash, f->n_cash, "cash", err)) ||
        (rc = check_money(f->accrued, f->n_accrued, "accrued_income", err)) ||
        (rc = check_money(f->liabilities, f->n_liabilities, "liabilities", err)))
        return rc;
    if (f->n_classes == 0)
        return xb_error_set(err, XB_EINVAL, "classes", "a fund needs at least one class");
    for (size_t i = 0; i < f->n_classes; i++)
        if ((rc = check_class(f, i, err)))
            return rc;
    if (f->classes[0].has_prev) {
        int any = 0;
        for (size_t i = 0; i < f->n_classes; i++)
            any |= xb_dec_sign(&f->classes[i].prev_net_assets) > 0;
        if (!any)
            return xb_error_set(err, XB_EINVAL, "classes[0].prev_net_assets",
                                "prev_net_assets are all zero: omit them for a new fund");
    }
    return 0;
}
