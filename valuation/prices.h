/* prices.h — instrument prices that override or complete a holdings statement.
 *
 * Owns: a table (date, instrument) -> price and its currency, loaded from CSV
 * `date,instrument,price,currency` (file or buffer; '#' comments, blank lines and a header
 * line starting with "date," are skipped). The instrument is the ISIN, or the statement's
 * OthrId/Id for instruments without one.
 * Never: picks between two different prices for the same key (XB_EINVAL), or looks at other
 * dates when the valuation date is missing (XB_ENOTFOUND from lookup; the caller decides).
 */
#ifndef XB_VAL_PRICES_H
#define XB_VAL_PRICES_H

#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/error.h"

typedef struct xb_price_table xb_price_table;

int xb_price_table_new(xb_price_table **out, xb_error *err);
void xb_price_table_free(xb_price_table *t);

int xb_price_table_load_buffer(xb_price_table *t, const char *buf, size_t len, const char *name,
                               xb_error *err);
int xb_price_table_load_file(xb_price_table *t, const char *path, xb_error *err);
int xb_price_table_add(xb_price_table *t, const char *date, const char *instrument,
                       const xb_dec *price, const char *ccy, xb_error *err);

/* Price per unit (an amount in out->ccy) on date; XB_ENOTFOUND when absent. t may be NULL. */
int xb_price_table_lookup(xb_amount *out, const xb_price_table *t, const char *date,
                          const char *instrument, xb_error *err);

size_t xb_price_table_count(const xb_price_table *t);

#endif
