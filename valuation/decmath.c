/* decmath.c — exact multiply-divide on GMP integers, rounded once with a named mode.
 * Owns nothing but temporaries; never uses float/double or rounds twice. */
#include "valuation/decmath.h"

#include <gmp.h>
#include <stdint.h>
#include <stdio.h>

static void mpz_from_i128(mpz_t z, __int128 v)
{
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    mpz_set_ui(z, (unsigned long)(uint64_t)(u >> 64));
    mpz_mul_2exp(z, z, 64);
    mpz_add_ui(z, z, (unsigned long)(uint64_t)u);
    if (v < 0)
        mpz_neg(z, z);
}

/* Largest |coef| an xb_dec may hold is 10^38 - 1. */
static int mpz_to_i128(__int128 *out, const mpz_t z)
{
    mpz_t lim, a;
    mpz_init(lim);
    mpz_init(a);
    mpz_ui_pow_ui(lim, 10, XB_DEC_MAX_DIGITS);
    mpz_abs(a, z);
    int too_big = mpz_cmp(a, lim) >= 0;
    unsigned __int128 u = 0;
    if (!too_big) {
        mpz_t hi;
        mpz_init(hi);
        mpz_tdiv_q_2exp(hi, a, 64);
        u = (unsigned __int128)mpz_get_ui(hi) << 64;
        mpz_tdiv_r_2exp(hi, a, 64);
        u |= (unsigned __int128)mpz_get_ui(hi);
        mpz_clear(hi);
    }
    int neg = mpz_sgn(z) < 0;
    mpz_clear(lim);
    mpz_clear(a);
    if (too_big)
        return XB_EOVERFLOW;
    *out = neg ? -(__int128)u : (__int128)u;
    return 0;
}

/* Decides whether the truncated magnitude q moves one away from zero, given remainder r of
 * divisor d (all non-negative) and the sign of the exact result. */
static int round_away(const mpz_t q, const mpz_t r, const mpz_t d, int negative, xb_rounding mode)
{
    if (mpz_sgn(r) == 0)
        return 0;
    mpz_t twice;
    mpz_init(twice);
    mpz_mul_2exp(twice, r, 1);
    int half = mpz_cmp(twice, d); /* <0 below half, 0 exactly half, >0 above */
    mpz_clear(twice);
    switch (mode) {
    case XB_ROUND_HALF_UP:
        return half >= 0;
    case XB_ROUND_HALF_DOWN:
        return half > 0;
    case XB_ROUND_HALF_EVEN:
        return half > 0 || (half == 0 && mpz_odd_p(q));
    case XB_ROUND_DOWN:
        return 0;
    case XB_ROUND_UP:
        return 1;
    case XB_ROUND_FLOOR:
        return negative;
    case XB_ROUND_CEILING:
        return !negative;
    }
    return 0;
}

int xb_val_muldiv(xb_dec *out, const xb_dec *a, const xb_dec *b, const xb_dec *c, int scale,
                  xb_rounding mode)
{
    if (scale < 0 || scale > XB_DEC_MAX_SCALE)
        return XB_EINVAL;
    if (c && c->coef == 0)
        return XB_EINVAL;
    mpz_t num, den, q, r, t;
    mpz_inits(num, den, q, r, t, NULL);
    mpz_from_i128(num, a->coef);
    mpz_from_i128(t, b->coef);
    mpz_mul(num, num, t);
    if (c)
        mpz_from_i128(den, c->coef);
    else
        mpz_set_ui(den, 1);
    /* value = num/den × 10^-(sa+sb-sc); result coef = value × 10^scale. */
    int e = scale - a->scale - b->scale + (c ? c->scale : 0);
    mpz_ui_pow_ui(t, 10, (unsigned long)(e < 0 ? -e : e));
    if (e >= 0)
        mpz_mul(num, num, t);
    else
        mpz_mul(den, den, t);
    int negative = (mpz_sgn(num) < 0) != (mpz_sgn(den) < 0) && mpz_sgn(num) != 0;
    mpz_abs(num, num);
    mpz_abs(den, den);
    mpz_tdiv_qr(q, r, num, den);
    if (round_away(q, r, den, negative, mode))
        mpz_add_ui(q, q, 1);
    if (negative)
        mpz_neg(q, q);
    __int128 coef = 0;
    int rc = mpz_to_i128(&coef, q);
    mpz_clears(num, den, q, r, t, NULL);
    if (rc)
        return rc;
    out->coef = coef;
    out->scale = scale;
    return 0;
}

int xb_val_div(xb_dec *out, const xb_dec *a, const xb_dec *c, int scale, xb_rounding mode)
{
    xb_dec one = {1, 0};
    return xb_val_muldiv(out, a, &one, c, scale, mode);
}

int xb_val_mul(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode)
{
    return xb_val_muldiv(out, a, b, NULL, scale, mode);
}

const char *xb_val_fmt(char *buf, size_t cap, const xb_dec *d)
{
    if (xb_dec_format(buf, cap, d) < 0)
        snprintf(buf, cap, "?");
    return buf;
}
