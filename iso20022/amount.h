/* amount.h — exact decimal money: amounts, rates, NAVs. No float or double, ever.
 *
 * Owns: the xb_dec value type (a signed 128-bit coefficient and a decimal scale), named
 * rounding modes, the ISO 4217 table (codes, minor units, commodity flag), and xb_amount
 * (a decimal with its currency).
 * Never: touches XML, files or policy. Intermediates that need more than 128 bits are computed
 * with GMP, never approximated.
 */
#ifndef XB_AMOUNT_H
#define XB_AMOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iso20022/error.h"

#define XB_DEC_MAX_SCALE 38
#define XB_DEC_MAX_DIGITS 38

/* value = coef * 10^-scale, 0 <= scale <= XB_DEC_MAX_SCALE, |coef| < 10^38. */
typedef struct xb_dec {
    __int128 coef;
    int scale;
} xb_dec;

typedef enum xb_rounding {
    XB_ROUND_HALF_UP,   /* ties away from zero: NAV per unit as Chinese public funds publish it */
    XB_ROUND_HALF_EVEN, /* banker's rounding */
    XB_ROUND_HALF_DOWN, /* ties towards zero */
    XB_ROUND_DOWN,      /* truncate towards zero */
    XB_ROUND_UP,        /* away from zero */
    XB_ROUND_FLOOR,     /* towards -infinity */
    XB_ROUND_CEILING,   /* towards +infinity */
} xb_rounding;

/* "half-up", "half-even", "half-down", "down", "up", "floor", "ceiling". */
int xb_rounding_parse(xb_rounding *out, const char *name, xb_error *err);
const char *xb_rounding_name(xb_rounding mode);

/* Parses an ISO decimal string: optional '-', digits, optional '.' and digits. No exponent,
 * no '+', no spaces, at least one digit; more than 38 significant digits is XB_EOVERFLOW. */
int xb_dec_parse(xb_dec *out, const char *s, size_t len, xb_error *err);
int xb_dec_parse_cstr(xb_dec *out, const char *s, xb_error *err);
void xb_dec_from_int(xb_dec *out, int64_t v);

/* Formats with exactly d->scale fraction digits ("12.50", "-0.001", "7"). Returns the length,
 * or XB_ELIMIT when cap is too small. */
int xb_dec_format(char *buf, size_t cap, const xb_dec *d);

int xb_dec_add(xb_dec *out, const xb_dec *a, const xb_dec *b); /* exact; XB_EOVERFLOW */
int xb_dec_sub(xb_dec *out, const xb_dec *a, const xb_dec *b); /* exact; XB_EOVERFLOW */
int xb_dec_mul(xb_dec *out, const xb_dec *a, const xb_dec *b); /* exact; XB_EOVERFLOW */
/* Exact product rounded once to `scale` with `mode`. */
int xb_dec_mul_round(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode);
/* a / b rounded once to `scale` with `mode`; XB_EINVAL when b is zero. */
int xb_dec_div(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode);
/* Rounds to `scale` fraction digits (a larger scale just pads with zeros). */
int xb_dec_round(xb_dec *out, const xb_dec *a, int scale, xb_rounding mode);
/* Changes scale without losing anything; XB_EINVAL if non-zero digits would be cut. */
int xb_dec_rescale(xb_dec *out, const xb_dec *a, int scale);
void xb_dec_normalize(xb_dec *out, const xb_dec *a); /* strips trailing fraction zeros */

int xb_dec_cmp(const xb_dec *a, const xb_dec *b); /* -1, 0, 1 by value (scale-blind) */
int xb_dec_sign(const xb_dec *a);                 /* -1, 0, 1 */
int xb_dec_fraction_digits(const xb_dec *a);      /* significant fraction digits */
int xb_dec_total_digits(const xb_dec *a);         /* significant digits, as XSD totalDigits */

/* ISO 4217. */
typedef struct xb_currency {
    char code[4];
    int minor_units; /* -1 where ISO says N.A. (XAU, XAG, XDR ...) */
    bool commodity;  /* XAU XAG XPD XPT: refused in payments */
} xb_currency;

/* NULL when the code is not an active ISO 4217 code (e.g. "CNH"). */
const xb_currency *xb_currency_find(const char *code);
/* The whole table, sorted by code (for listings and self-checks). NULL when i is out of range. */
size_t xb_currency_count(void);
const xb_currency *xb_currency_at(size_t i);

typedef struct xb_amount {
    xb_dec value;
    char ccy[4];
} xb_amount;

/* Parses text as an amount in ccy and checks it: ISO 4217 code (CNH refused with a hint to use
 * CNY), not a commodity unless allow_commodity, non-negative, at most the currency's minor units
 * of significant fraction digits. Errors are XB_ERULE / XB_EINVAL with a readable message. */
int xb_amount_parse(xb_amount *out, const char *ccy, const char *text, bool allow_commodity,
                    xb_error *err);
/* Formats with exactly the currency's minor units ("1234.50" for CNY, "1000" for JPY). */
int xb_amount_format(char *buf, size_t cap, const xb_amount *a);

#endif
