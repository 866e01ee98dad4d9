/* fund_file.c — reads FUND.yaml into an xb_fund. Owns only the mapping of keys to fields;
 * never computes or rounds anything, never lets a decimal pass through a float. */
#include "adapter/fund_file.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "adapter/yaml_tree.h"

static int dec_key(xb_dec *out, const json_t *obj, const char *key, const char *where, bool req,
                   xb_error *err)
{
    const char *s = NULL;
    int rc =
        req ? xb_yaml_str(&s, obj, key, where, err) : xb_yaml_str_opt(&s, obj, key, where, err);
    if (rc || !s)
        return rc;
    xb_error e2;
    xb_error_clear(&e2);
    if (xb_dec_parse_cstr(out, s, &e2)) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", where, key);
        return xb_error_set(err, XB_ECONFIG, path, "%s: '%s' is not a decimal (%s)", path, s,
                            e2.message);
    }
    return 0;
}

static int text_key(char *dst, size_t cap, const json_t *obj, const char *key, const char *where,
                    bool req, xb_error *err)
{
    const char *s = NULL;
    int rc =
        req ? xb_yaml_str(&s, obj, key, where, err) : xb_yaml_str_opt(&s, obj, key, where, err);
    if (rc || !s)
        return rc;
    if (strlen(s) >= cap) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", where, key);
        return xb_error_set(err, XB_ECONFIG, path, "%s: longer than %zu bytes", path, cap - 1);
    }
    snprintf(dst, cap, "%s", s);
    return 0;
}

static int int_key(int *out, const json_t *obj, const char *key, const char *where, bool req,
                   xb_error *err)
{
    int64_t v = *out;
    int rc =
        req ? xb_yaml_int(&v, obj, key, where, err) : xb_yaml_int_opt(&v, obj, key, where, err);
    if (rc)
        return rc;
    if (v < -100000 || v > 100000) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", where, key);
        return xb_error_set(err, XB_ECONFIG, path, "%s: out of range", path);
    }
    *out = (int)v;
    return 0;
}

static int load_header(xb_fund *f, const json_t *root, xb_error *err)
{
    static const char *const keys[] = {"id",       "name",          "base_currency", "nav_decimals",
                                       "rounding", "tolerance_pct", "suspended",     NULL};
    const json_t *fund = NULL;
    int rc = xb_yaml_object_opt(&fund, root, "fund", "", err);
    if (rc)
        return rc;
    if (!fund)
        return xb_error_set(err, XB_ECONFIG, "fund", "fund: required mapping is missing");
    const char *rounding = NULL;
    if ((rc = xb_yaml_only_keys(fund, keys, "fund", err)) ||
        (rc = text_key(f->id, sizeof f->id, fund, "id", "fund", true, err)) ||
        (rc = text_key(f->name, sizeof f->name, fund, "name", "fund", false, err)) ||
        (rc =
             text_key(f->base_ccy, sizeof f->base_ccy, fund, "base_currency", "fund", true, err)) ||
        (rc = int_key(&f->nav_decimals, fund, "nav_decimals", "fund", false, err)) ||
        (rc = dec_key(&f->tolerance_pct, fund, "tolerance_pct", "fund", false, err)) ||
        (rc = xb_yaml_bool_opt(&f->suspended, fund, "suspended", "fund", err)) ||
        (rc = xb_yaml_str_opt(&rounding, fund, "rounding", "fund", err)))
        return rc;
    if (rounding && xb_rounding_parse(&f->rounding, rounding, NULL))
        return xb_error_set(err, XB_ECONFIG, "fund.rounding",
                            "fund.rounding: '%s' is not half-up, half-even, half-down, down, up, "
                            "floor or ceiling",
                            rounding);
    return 0;
}

static int load_money(xb_fund *f, const json_t *root, const char *key, xb_fund_money_kind kind,
                      xb_error *err)
{
    static const char *const keys[] = {"currency", "amount", NULL};
    const json_t *list = NULL;
    int rc = xb_yaml_array_opt(&list, root, key, "", err);
    if (rc || !list)
        return rc;
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", key, i);
        if (!json_is_object(item))
            return xb_error_set(err, XB_ECONFIG, where, "%s: expected {currency, amount}", where);
        xb_amount a;
        memset(&a, 0, sizeof a);
        if ((rc = xb_yaml_only_keys(item, keys, where, err)) ||
            (rc = text_key(a.ccy, sizeof a.ccy, item, "currency", where, true, err)) ||
            (rc = dec_key(&a.value, item, "amount", where, true, err)) ||
            (rc = xb_fund_add_money(f, kind, &a, err)))
            return rc;
    }
    return 0;
}

static int load_class(xb_fund *f, const json_t *item, const char *where, xb_error *err)
{
    static const char *const keys[] = {
        "id",          "isin",           "name",         "currency", "units",
        "mgmt_fee_pa", "custody_fee_pa", "day_count",    "days",     "prev_net_assets",
        "prev_nav",    "cum_dividend",   "distribution", NULL};
    if (!json_is_object(item))
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a class mapping", where);
    xb_fund_class c;
    memset(&c, 0, sizeof c);
    c.day_count = 365;
    c.days = 1;
    c.cum_dividend = true;
    bool has_pna = json_object_get(item, "prev_net_assets") != NULL;
    bool has_pnav = json_object_get(item, "prev_nav") != NULL;
    int rc;
    if ((rc = xb_yaml_only_keys(item, keys, where, err)) ||
        (rc = text_key(c.id, sizeof c.id, item, "id", where, true, err)) ||
        (rc = text_key(c.isin, sizeof c.isin, item, "isin", where, true, err)) ||
        (rc = text_key(c.name, sizeof c.name, item, "name", where, false, err)) ||
        (rc = text_key(c.ccy, sizeof c.ccy, item, "currency", where, true, err)) ||
        (rc = dec_key(&c.units, item, "units", where, true, err)) ||
        (rc = dec_key(&c.mgmt_fee_pa, item, "mgmt_fee_pa", where, true, err)) ||
        (rc = dec_key(&c.custody_fee_pa, item, "custody_fee_pa", where, true, err)) ||
        (rc = int_key(&c.day_count, item, "day_count", where, false, err)) ||
        (rc = int_key(&c.days, item, "days", where, false, err)) ||
        (rc = dec_key(&c.prev_net_assets, item, "prev_net_assets", where, false, err)) ||
        (rc = dec_key(&c.prev_nav, item, "prev_nav", where, false, err)) ||
        (rc = xb_yaml_bool_opt(&c.cum_dividend, item, "cum_dividend", where, err)) ||
        (rc = text_key(c.distribution, sizeof c.distribution, item, "distribution", where, false,
                       err)))
        return rc;
    if (has_pna != has_pnav)
        return xb_error_set(err, XB_ECONFIG, where,
                            "%s: give prev_net_assets and prev_nav together (or neither, for a "
                            "new fund)",
                            where);
    if (c.distribution[0] && strcmp(c.distribution, "DIST") && strcmp(c.distribution, "ACCU"))
        return xb_error_set(err, XB_ECONFIG, where, "%s.distribution: DIST or ACCU", where);
    c.has_prev = has_pna;
    return xb_fund_add_class(f, &c, err);
}

static int load_tree(xb_fund *f, const json_t *root, xb_error *err)
{
    static const char *const keys[] = {"fund",        "cash",    "accrued_income",
                                       "liabilities", "classes", NULL};
    if (!json_is_object(root))
        return xb_error_set(err, XB_ECONFIG, "", "a fund file is a mapping");
    const json_t *classes = NULL;
    int rc;
    if ((rc = xb_yaml_only_keys(root, keys, "", err)) || (rc = load_header(f, root, err)) ||
        (rc = load_money(f, root, "cash", XB_FUND_CASH, err)) ||
        (rc = load_money(f, root, "accrued_income", XB_FUND_ACCRUED, err)) ||
        (rc = load_money(f, root, "liabilities", XB_FUND_LIABILITY, err)) ||
        (rc = xb_yaml_array_opt(&classes, root, "classes", "", err)))
        return rc;
    size_t i;
    const json_t *item;
    json_array_foreach(classes, i, item)
    {
        char where[32];
        snprintf(where, sizeof where, "classes[%zu]", i);
        if ((rc = load_class(f, item, where, err)))
            return rc;
    }
    return xb_fund_validate(f, err);
}

static int finish(xb_fund *out, json_t *root, xb_error *err)
{
    xb_fund_init(out);
    int rc = load_tree(out, root, err);
    json_decref(root);
    if (rc)
        xb_fund_free(out);
    return rc;
}

int xb_fund_file_load(xb_fund *out, const char *path, xb_error *err)
{
    json_t *root = NULL;
    xb_fund_init(out);
    int rc = xb_yaml_load_file(&root, path, err);
    return rc ? rc : finish(out, root, err);
}

int xb_fund_file_load_buffer(xb_fund *out, const char *buf, size_t len, const char *name,
                             xb_error *err)
{
    json_t *root = NULL;
    xb_fund_init(out);
    int rc = xb_yaml_load_buffer(&root, buf, len, name, err);
    return rc ? rc : finish(out, root, err);
}
