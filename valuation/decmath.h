/* decmath.h — the one exact "a × b ÷ c, rounded once" the valuation engine needs.
 *
 * Owns: xb_val_muldiv, computed on GMP integers so that no product is ever truncated (a fund
 * total at 18 decimals times a share ratio overflows 128 bits long before it is wrong).
 * Never: approximates, uses float/double, or rounds more than once per call.
 */
#ifndef XB_VAL_DECMATH_H
#define XB_VAL_DECMATH_H

#include "iso20022/amount.h"

/* Scale every unpublished intermediate carries (the issue asks for at least 18). */
#define XB_VAL_SCALE 18
/* Rounding of unpublished intermediates: ties-to-even, so that the 10^-18 residues do not drift
 * in one direction across thousands of holdings. Published figures use the fund's own mode. */
#define XB_VAL_INTER_ROUND XB_ROUND_HALF_EVEN

/* *out = a × b ÷ c rounded once to `scale` fraction digits with `mode`. c may be NULL (÷ 1).
 * XB_EINVAL when c is zero, XB_EOVERFLOW when the result does not fit an xb_dec. */
int xb_val_muldiv(xb_dec *out, const xb_dec *a, const xb_dec *b, const xb_dec *c, int scale,
                  xb_rounding mode);

/* *out = a ÷ c rounded once (a convenience over xb_val_muldiv with b = 1). */
int xb_val_div(xb_dec *out, const xb_dec *a, const xb_dec *c, int scale, xb_rounding mode);

/* *out = a × b rounded once. */
int xb_val_mul(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode);

/* Formats into a static-free caller buffer; returns buf (writes "?" if it cannot). */
const char *xb_val_fmt(char *buf, size_t cap, const xb_dec *d);

#endif
