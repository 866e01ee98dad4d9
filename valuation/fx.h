/* fx.h — CNY central-parity FX rates by date: `date,currency,cny_per_unit[,per]`.
 *
 * Owns: a table of (date, currency) -> exact CNY per ONE unit of the currency, loaded from a CSV
 * file or buffer (a Kafka topic feeds the buffer form), lookups, and conversions between any two
 * currencies derived through CNY exactly (amount × cny_per_unit(from) ÷ cny_per_unit(to), rounded
 * once with a named mode).
 * Never: guesses a missing rate (no nearest date, no inversion of a quote we were not given),
 * uses float/double, or reads anything but the CSV it is handed.
 *
 * CSV notation (one rate a line; '#' comments and blank lines ignored; an optional header line
 * starting with "date,"):
 *     2025-01-02,USD,7.1879
 *     2025-01-02,JPY,4.6233,100      <- 4th column `per`: the quote is CNY per 100 JPY
 * CFETS quotes JPY (and a few others) per 100 units; the 4th column states that explicitly.
 * `per` must be a power of ten (1, 10, 100, 1000, 10000) so that normalising is exact.
 * CNY itself is always 1 and need not be listed (a CNY line must say 1).
 */
#ifndef XB_VAL_FX_H
#define XB_VAL_FX_H

#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/error.h"

typedef struct xb_fx_table xb_fx_table;

int xb_fx_new(xb_fx_table **out, xb_error *err);
void xb_fx_free(xb_fx_table *t);

/* Adds the lines of a CSV buffer. `name` (file or topic) prefixes error messages with the line
 * number. A repeated (date, currency) with a different rate is XB_EINVAL: never pick one. */
int xb_fx_load_buffer(xb_fx_table *t, const char *buf, size_t len, const char *name, xb_error *err);
int xb_fx_load_file(xb_fx_table *t, const char *path, xb_error *err);

/* Adds one rate: CNY per `per` units of ccy (per = 1 for ordinary quotes). */
int xb_fx_add(xb_fx_table *t, const char *date, const char *ccy, const xb_dec *cny_per, int per,
              xb_error *err);

/* Exact CNY per ONE unit of ccy on date (1 for CNY). XB_ENOTFOUND naming date and currency. */
int xb_fx_lookup(xb_dec *out, const xb_fx_table *t, const char *date, const char *ccy,
                 xb_error *err);

/* Units of `to` per one unit of `from`, derived through CNY, rounded once to scale. */
int xb_fx_cross(xb_dec *out, const xb_fx_table *t, const char *date, const char *from,
                const char *to, int scale, xb_rounding mode, xb_error *err);

/* amount in `from` -> `to`: amount × cny(from) ÷ cny(to), rounded once to scale with mode. */
int xb_fx_convert(xb_dec *out, const xb_fx_table *t, const char *date, const xb_dec *amount,
                  const char *from, const char *to, int scale, xb_rounding mode, xb_error *err);

/* As xb_fx_convert, rounded to the ISO 4217 minor unit of `to`; out->ccy = to. */
int xb_fx_convert_amount(xb_amount *out, const xb_fx_table *t, const char *date,
                         const xb_amount *in, const char *to, xb_rounding mode, xb_error *err);

size_t xb_fx_count(const xb_fx_table *t);

/* Checks "YYYY-MM-DD" is a real calendar date. Shared by the valuation inputs. */
int xb_val_is_date(const char *s);

#endif
