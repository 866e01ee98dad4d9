/* fx.c — CNY central-parity rate table and exact conversions through CNY.
 * Owns the sorted (date, currency) table; never guesses a missing rate. */
#include "valuation/fx.h"

#include <stdlib.h>
#include <string.h>

#include "iso20022/buf.h"
#include "valuation/csv.h"
#include "valuation/decmath.h"

typedef struct fx_entry {
    char date[11];
    char ccy[4];
    xb_dec cny_per_unit; /* normalised to ONE unit, exact */
} fx_entry;

struct xb_fx_table {
    fx_entry *e;
    size_t n, cap;
};

#define FX_MAX_FILE (64u * 1024u * 1024u)

int xb_val_is_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int xb_fx_new(xb_fx_table **out, xb_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory for FX table");
}

void xb_fx_free(xb_fx_table *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

size_t xb_fx_count(const xb_fx_table *t)
{
    return t ? t->n : 0;
}

static int key_cmp(const fx_entry *e, const char *date, const char *ccy)
{
    int c = strcmp(e->date, date);
    return c ? c : strcmp(e->ccy, ccy);
}

/* Index of the first entry >= key. */
static size_t lower_bound(const xb_fx_table *t, const char *date, const char *ccy)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(&t->e[mid], date, ccy) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int per_scale(int per)
{
    int s = 0;
    for (int p = 1; p <= 10000; p *= 10, s++)
        if (p == per)
            return s;
    return -1;
}

int xb_fx_add(xb_fx_table *t, const char *date, const char *ccy, const xb_dec *cny_per, int per,
              xb_error *err)
{
    if (!xb_val_is_date(date))
        return xb_error_set(err, XB_EINVAL, NULL, "FX date '%s' is not YYYY-MM-DD", date);
    if (!xb_currency_find(ccy))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "FX currency '%s' is not an active ISO 4217 code%s", ccy,
                            strcmp(ccy, "CNH") ? "" : " (offshore RMB is still CNY)");
    int ps = per_scale(per);
    if (ps < 0)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "FX %s %s: per=%d must be 1, 10, 100, 1000 or 10000", date, ccy, per);
    if (xb_dec_sign(cny_per) <= 0)
        return xb_error_set(err, XB_EINVAL, NULL, "FX %s %s: rate must be positive", date, ccy);
    /* CNY per one unit = quote / per; per is a power of ten, so this only moves the point. */
    xb_dec rate = *cny_per;
    if (rate.scale + ps > XB_DEC_MAX_SCALE)
        return xb_error_set(err, XB_EOVERFLOW, NULL, "FX %s %s: rate too precise", date, ccy);
    rate.scale += ps;
    if (!strcmp(ccy, "CNY")) {
        xb_dec one = {1, 0};
        if (xb_dec_cmp(&rate, &one) != 0)
            return xb_error_set(err, XB_EINVAL, NULL, "FX %s CNY: CNY per CNY must be 1", date);
    }
    size_t i = lower_bound(t, date, ccy);
    if (i < t->n && !key_cmp(&t->e[i], date, ccy)) {
        if (xb_dec_cmp(&t->e[i].cny_per_unit, &rate) == 0)
            return 0;
        return xb_error_set(err, XB_EINVAL, NULL,
                            "FX %s %s given twice with different rates: refusing to choose", date,
                            ccy);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        fx_entry *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return xb_error_set(err, XB_ENOMEM, NULL, "out of memory for FX table");
        t->e = e;
        t->cap = cap;
    }
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof *t->e);
    memset(&t->e[i], 0, sizeof t->e[i]);
    memcpy(t->e[i].date, date, 10);
    memcpy(t->e[i].ccy, ccy, 3);
    t->e[i].cny_per_unit = rate;
    t->n++;
    return 0;
}

static int add_line(xb_fx_table *t, const xb_csv_line *l, const char *name, int lineno,
                    xb_error *err)
{
    if (l->nfields < 3 || l->nfields > 4)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "%s:%d: expected date,currency,cny_per_unit[,per], got %d fields", name,
                            lineno, l->nfields);
    xb_dec rate;
    xb_error e2;
    xb_error_clear(&e2);
    if (xb_dec_parse_cstr(&rate, l->field[2], &e2))
        return xb_error_set(err, XB_EINVAL, NULL, "%s:%d: rate '%s' is not a decimal: %s", name,
                            lineno, l->field[2], e2.message);
    int per = 1;
    if (l->nfields == 4) {
        char *end = NULL;
        long p = strtol(l->field[3], &end, 10);
        if (!*l->field[3] || *end || p <= 0 || p > 10000)
            return xb_error_set(err, XB_EINVAL, NULL, "%s:%d: per '%s' is not 1..10000", name,
                                lineno, l->field[3]);
        per = (int)p;
    }
    if (strlen(l->field[1]) != 3)
        return xb_error_set(err, XB_EINVAL, NULL, "%s:%d: currency '%s' is not 3 letters", name,
                            lineno, l->field[1]);
    int rc = xb_fx_add(t, l->field[0], l->field[1], &rate, per, &e2);
    if (rc)
        return xb_error_set(err, rc, NULL, "%s:%d: %s", name, lineno, e2.message);
    return 0;
}

int xb_fx_load_buffer(xb_fx_table *t, const char *buf, size_t len, const char *name, xb_error *err)
{
    size_t pos = 0;
    int lineno = 0, rc;
    xb_csv_line line;
    while ((rc = xb_csv_next(&line, buf, len, &pos, &lineno)) == 1) {
        if (!strcmp(line.field[0], "date"))
            continue; /* header */
        if ((rc = add_line(t, &line, name, lineno, err)))
            return rc;
    }
    if (rc < 0)
        return xb_error_set(err, rc, NULL, "%s:%d: malformed CSV line (quotes, NUL or too long)",
                            name, lineno);
    return 0;
}

int xb_fx_load_file(xb_fx_table *t, const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    int rc = xb_buf_read_file(&b, path, FX_MAX_FILE);
    if (rc) {
        xb_buf_free(&b);
        return xb_error_set(err, rc, NULL, "cannot read FX rates file %s", path);
    }
    rc = xb_fx_load_buffer(t, b.data ? b.data : "", b.len, path, err);
    xb_buf_free(&b);
    return rc;
}

int xb_fx_lookup(xb_dec *out, const xb_fx_table *t, const char *date, const char *ccy,
                 xb_error *err)
{
    if (ccy && !strcmp(ccy, "CNY")) {
        xb_dec_from_int(out, 1);
        return 0;
    }
    size_t i = t ? lower_bound(t, date, ccy) : 0;
    if (!t || i >= t->n || key_cmp(&t->e[i], date, ccy))
        return xb_error_set(err, XB_ENOTFOUND, NULL,
                            "no CNY central parity for %s on %s (rates are never guessed: add a "
                            "row \"%s,%s,CNY_PER_UNIT\" to the rates file)",
                            ccy, date, date, ccy);
    *out = t->e[i].cny_per_unit;
    return 0;
}

int xb_fx_cross(xb_dec *out, const xb_fx_table *t, const char *date, const char *from,
                const char *to, int scale, xb_rounding mode, xb_error *err)
{
    xb_dec one;
    xb_dec_from_int(&one, 1);
    return xb_fx_convert(out, t, date, &one, from, to, scale, mode, err);
}

int xb_fx_convert(xb_dec *out, const xb_fx_table *t, const char *date, const xb_dec *amount,
                  const char *from, const char *to, int scale, xb_rounding mode, xb_error *err)
{
    xb_dec rf, rt;
    int rc;
    if ((rc = xb_fx_lookup(&rf, t, date, from, err)) || (rc = xb_fx_lookup(&rt, t, date, to, err)))
        return rc;
    rc = xb_val_muldiv(out, amount, &rf, &rt, scale, mode);
    if (rc)
        return xb_error_set(err, rc, NULL, "converting %s to %s on %s overflowed", from, to, date);
    return 0;
}

int xb_fx_convert_amount(xb_amount *out, const xb_fx_table *t, const char *date,
                         const xb_amount *in, const char *to, xb_rounding mode, xb_error *err)
{
    const xb_currency *c = xb_currency_find(to);
    if (!c || c->minor_units < 0)
        return xb_error_set(err, XB_EINVAL, NULL, "'%s' has no ISO 4217 minor unit", to);
    xb_dec v;
    int rc = xb_fx_convert(&v, t, date, &in->value, in->ccy, to, c->minor_units, mode, err);
    if (rc)
        return rc;
    out->value = v;
    memset(out->ccy, 0, sizeof out->ccy);
    memcpy(out->ccy, to, 3);
    return 0;
}
