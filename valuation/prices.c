/* prices.c — the (date, instrument) price table. Owns its sorted array; never guesses. */
#include "valuation/prices.h"

#include <stdlib.h>
#include <string.h>

#include "iso20022/buf.h"
#include "valuation/csv.h"
#include "valuation/fx.h"

typedef struct price_entry {
    char date[11];
    char instrument[36];
    xb_amount price;
} price_entry;

struct xb_price_table {
    price_entry *e;
    size_t n, cap;
};

#define PRICES_MAX_FILE (256u * 1024u * 1024u)

int xb_price_table_new(xb_price_table **out, xb_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory for price table");
}

void xb_price_table_free(xb_price_table *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

size_t xb_price_table_count(const xb_price_table *t)
{
    return t ? t->n : 0;
}

static int key_cmp(const price_entry *e, const char *date, const char *inst)
{
    int c = strcmp(e->date, date);
    return c ? c : strcmp(e->instrument, inst);
}

static size_t lower_bound(const xb_price_table *t, const char *date, const char *inst)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(&t->e[mid], date, inst) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int entry_cmp(const void *a, const void *b)
{
    const price_entry *x = a, *y = b;
    return key_cmp(x, y->date, y->instrument);
}

static int check_entry(const char *date, const char *instrument, const xb_dec *price,
                       const char *ccy, xb_error *err)
{
    if (!xb_val_is_date(date))
        return xb_error_set(err, XB_EINVAL, NULL, "price date '%s' is not YYYY-MM-DD", date);
    size_t il = strlen(instrument);
    if (il == 0 || il > 35)
        return xb_error_set(err, XB_EINVAL, NULL, "instrument id '%s' must be 1..35 characters",
                            instrument);
    if (!xb_currency_find(ccy))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "price currency '%s' is not an active ISO 4217 code%s", ccy,
                            strcmp(ccy, "CNH") ? "" : " (offshore RMB is still CNY)");
    if (xb_dec_sign(price) < 0)
        return xb_error_set(err, XB_EINVAL, NULL, "price of %s on %s is negative", instrument,
                            date);
    return 0;
}

/* Appends without ordering; sort_and_check() restores the invariant. Loading a feed of n lines
 * is then O(n log n) instead of n memmoves. */
static int append(xb_price_table *t, const char *date, const char *instrument, const xb_dec *price,
                  const char *ccy, xb_error *err)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        price_entry *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return xb_error_set(err, XB_ENOMEM, NULL, "out of memory for price table");
        t->e = e;
        t->cap = cap;
    }
    price_entry *e = &t->e[t->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->date, date, 10);
    memcpy(e->instrument, instrument, strlen(instrument));
    e->price.value = *price;
    memcpy(e->price.ccy, ccy, 3);
    return 0;
}

/* Sorts and removes exact repeats; two different prices for one key are refused. */
static int sort_and_check(xb_price_table *t, xb_error *err)
{
    if (t->n > 1)
        qsort(t->e, t->n, sizeof *t->e, entry_cmp);
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (w > 0 && !entry_cmp(&t->e[w - 1], &t->e[i])) {
            if (xb_dec_cmp(&t->e[w - 1].price.value, &t->e[i].price.value) ||
                strcmp(t->e[w - 1].price.ccy, t->e[i].price.ccy))
                return xb_error_set(err, XB_EINVAL, NULL,
                                    "price of %s on %s given twice with different values",
                                    t->e[i].instrument, t->e[i].date);
            continue;
        }
        t->e[w++] = t->e[i];
    }
    t->n = w;
    return 0;
}

int xb_price_table_add(xb_price_table *t, const char *date, const char *instrument,
                       const xb_dec *price, const char *ccy, xb_error *err)
{
    int rc = check_entry(date, instrument, price, ccy, err);
    if (!rc)
        rc = append(t, date, instrument, price, ccy, err);
    return rc ? rc : sort_and_check(t, err);
}

int xb_price_table_load_buffer(xb_price_table *t, const char *buf, size_t len, const char *name,
                               xb_error *err)
{
    size_t pos = 0;
    int lineno = 0, rc;
    xb_csv_line l;
    xb_error e2;
    while ((rc = xb_csv_next(&l, buf, len, &pos, &lineno)) == 1) {
        if (!strcmp(l.field[0], "date"))
            continue;
        if (l.nfields != 4)
            return xb_error_set(err, XB_EINVAL, NULL,
                                "%s:%d: expected date,instrument,price,currency, got %d fields",
                                name, lineno, l.nfields);
        xb_dec p;
        xb_error_clear(&e2);
        if (xb_dec_parse_cstr(&p, l.field[2], &e2))
            return xb_error_set(err, XB_EINVAL, NULL, "%s:%d: price '%s' is not a decimal: %s",
                                name, lineno, l.field[2], e2.message);
        if (strlen(l.field[3]) != 3)
            return xb_error_set(err, XB_EINVAL, NULL, "%s:%d: currency '%s' is not 3 letters", name,
                                lineno, l.field[3]);
        if ((rc = check_entry(l.field[0], l.field[1], &p, l.field[3], &e2)) ||
            (rc = append(t, l.field[0], l.field[1], &p, l.field[3], &e2)))
            return xb_error_set(err, rc, NULL, "%s:%d: %s", name, lineno, e2.message);
    }
    if (rc < 0)
        return xb_error_set(err, rc, NULL, "%s:%d: malformed CSV line (quotes, NUL or too long)",
                            name, lineno);
    if ((rc = sort_and_check(t, &e2)))
        return xb_error_set(err, rc, NULL, "%s: %s", name, e2.message);
    return 0;
}

int xb_price_table_load_file(xb_price_table *t, const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    int rc = xb_buf_read_file(&b, path, PRICES_MAX_FILE);
    if (rc) {
        xb_buf_free(&b);
        return xb_error_set(err, rc, NULL, "cannot read prices file %s", path);
    }
    rc = xb_price_table_load_buffer(t, b.data ? b.data : "", b.len, path, err);
    xb_buf_free(&b);
    return rc;
}

int xb_price_table_lookup(xb_amount *out, const xb_price_table *t, const char *date,
                          const char *instrument, xb_error *err)
{
    size_t i = t ? lower_bound(t, date, instrument) : 0;
    if (!t || i >= t->n || key_cmp(&t->e[i], date, instrument))
        return xb_error_set(err, XB_ENOTFOUND, NULL, "no price for %s on %s", instrument, date);
    *out = t->e[i].price;
    return 0;
}
