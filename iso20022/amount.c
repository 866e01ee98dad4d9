/* amount.c — exact decimal money: parsing, formatting, arithmetic, rounding, ISO 4217.
 *
 * Owns: the xb_dec arithmetic (a signed 128-bit coefficient with a decimal scale), the seven
 * named rounding modes, the ISO 4217 table and the xb_amount checks.
 * Never: uses binary floating point, wraps silently on overflow, rounds twice, or touches XML,
 * files or policy. Every operation first tries plain __int128 (the common, fast case); only when
 * an intermediate does not fit 128 bits does it switch to GMP, which is exact, never approximate.
 */
#include "iso20022/amount.h"

#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

/* ---- powers of ten ------------------------------------------------------------------------ */

#define E19 ((i128)10000000000000000000ULL)

/* 10^0 .. 10^38; 10^38 < 2^127, so every entry is a positive i128. */
static const i128 POW10[XB_DEC_MAX_SCALE + 1] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
    E19 * 10ULL,
    E19 * 100ULL,
    E19 * 1000ULL,
    E19 * 10000ULL,
    E19 * 100000ULL,
    E19 * 1000000ULL,
    E19 * 10000000ULL,
    E19 * 100000000ULL,
    E19 * 1000000000ULL,
    E19 * 10000000000ULL,
    E19 * 100000000000ULL,
    E19 * 1000000000000ULL,
    E19 * 10000000000000ULL,
    E19 * 100000000000000ULL,
    E19 * 1000000000000000ULL,
    E19 * 10000000000000000ULL,
    E19 * 100000000000000000ULL,
    E19 * 1000000000000000000ULL,
    E19 * 10000000000000000000ULL,
};

#define COEF_LIMIT POW10[XB_DEC_MAX_DIGITS] /* |coef| must stay strictly below this */

static bool scale_ok(int s)
{
    return s >= 0 && s <= XB_DEC_MAX_SCALE;
}

static bool coef_fits(i128 c)
{
    return c > -COEF_LIMIT && c < COEF_LIMIT;
}

/* A well-formed xb_dec; anything else is a caller bug we refuse rather than index past POW10. */
static bool dec_ok(const xb_dec *d)
{
    return d && scale_ok(d->scale) && coef_fits(d->coef);
}

static bool mode_ok(xb_rounding mode)
{
    return mode >= XB_ROUND_HALF_UP && mode <= XB_ROUND_CEILING;
}

/* x * 10^n into *out; false when it does not fit an i128 (the caller then goes to GMP or fails). */
static bool mul_pow10(i128 *out, i128 x, int n)
{
    if (x == 0) {
        *out = 0;
        return true;
    }
    if (n < 0 || n > XB_DEC_MAX_SCALE)
        return false;
    return !__builtin_mul_overflow(x, POW10[n], out);
}

/* ---- rounding decision, shared by the i128 and GMP paths ---------------------------------- */

/* Given a truncated quotient q (towards zero) and how the discarded remainder compares with one
 * half (half_cmp < 0, == 0, > 0), says whether q must move one unit away from zero. `negative`
 * is the sign of the exact result, which q alone cannot tell when q is 0. */
static bool round_away(xb_rounding mode, bool negative, bool inexact, int half_cmp, bool q_odd)
{
    if (!inexact)
        return false;
    switch (mode) {
    case XB_ROUND_HALF_UP:
        return half_cmp >= 0;
    case XB_ROUND_HALF_EVEN:
        return half_cmp > 0 || (half_cmp == 0 && q_odd);
    case XB_ROUND_HALF_DOWN:
        return half_cmp > 0;
    case XB_ROUND_DOWN:
        return false;
    case XB_ROUND_UP:
        return true;
    case XB_ROUND_FLOOR:
        return negative;
    case XB_ROUND_CEILING:
        return !negative;
    }
    return false;
}

static u128 abs_u128(i128 v)
{
    return v < 0 ? -(u128)v : (u128)v;
}

/* n / d rounded once with mode. d != 0; neither is INT128_MIN (a coefficient times a power of
 * ten never is: 2^127 has no factor 5 and |coef| < 10^38 < 2^127). |result| <= |n|. */
static i128 round_div_i128(i128 n, i128 d, xb_rounding mode)
{
    i128 q = n / d;
    i128 r = n - q * d; /* cheaper than a second 128-bit division; cannot overflow */
    u128 ar = abs_u128(r), ad = abs_u128(d);
    u128 rest = ad - ar; /* compare r with d/2 without computing 2r, which could overflow */
    int half_cmp = ar < rest ? -1 : (ar > rest ? 1 : 0);
    bool negative = r != 0 && ((n < 0) != (d < 0));
    if (round_away(mode, negative, r != 0, half_cmp, (q & 1) != 0))
        q += negative ? -1 : 1;
    return q;
}

/* ---- GMP helpers: only reached when an intermediate needs more than 128 bits --------------- */

static void mpz_set_i128(mpz_t z, i128 v)
{
    u128 m = abs_u128(v);
    uint64_t words[2] = {(uint64_t)m, (uint64_t)(m >> 64)};
    mpz_import(z, 2, -1, sizeof words[0], 0, 0, words);
    if (v < 0)
        mpz_neg(z, z);
}

/* Writes z as an xb_dec coefficient if |z| < 10^38; false otherwise. */
static bool mpz_get_coef(i128 *out, const mpz_t z)
{
    mpz_t limit;
    mpz_init(limit);
    mpz_ui_pow_ui(limit, 10, XB_DEC_MAX_DIGITS);
    bool fits = mpz_cmpabs(z, limit) < 0;
    mpz_clear(limit);
    if (!fits)
        return false;
    uint64_t words[2] = {0, 0};
    size_t count = 0;
    mpz_export(words, &count, -1, sizeof words[0], 0, 0, z); /* magnitude; < 2^127 fits 2 words */
    u128 m = ((u128)words[1] << 64) | words[0];
    *out = mpz_sgn(z) < 0 ? -(i128)m : (i128)m;
    return true;
}

/* q = n / d rounded once with mode (GMP version of round_div_i128). */
static void round_div_mpz(mpz_t q, const mpz_t n, const mpz_t d, xb_rounding mode)
{
    /* Signs first: q may alias n (callers round in place), and d is compared after. */
    bool opposite = (mpz_sgn(n) < 0) != (mpz_sgn(d) < 0);
    mpz_t r, dd;
    mpz_inits(r, dd, NULL);
    mpz_set(dd, d);
    mpz_tdiv_qr(q, r, n, dd);
    bool inexact = mpz_sgn(r) != 0;
    mpz_mul_2exp(r, r, 1);
    int c = mpz_cmpabs(r, dd);
    int half_cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
    bool negative = inexact && opposite;
    if (round_away(mode, negative, inexact, half_cmp, mpz_odd_p(q) != 0)) {
        if (negative)
            mpz_sub_ui(q, q, 1);
        else
            mpz_add_ui(q, q, 1);
    }
    mpz_clears(r, dd, NULL);
}

/* n (at scale `from`) rounded to scale `to`, in place. */
static void round_mpz_to_scale(mpz_t n, int from, int to, xb_rounding mode)
{
    mpz_t p;
    mpz_init(p);
    if (to >= from) {
        mpz_ui_pow_ui(p, 10, (unsigned long)(to - from));
        mpz_mul(n, n, p);
    } else {
        mpz_ui_pow_ui(p, 10, (unsigned long)(from - to));
        round_div_mpz(n, n, p, mode);
    }
    mpz_clear(p);
}

/* An exact result n at scale s: drops trailing zeros only as far as needed to fit 38 digits and
 * scale 38, so the value is kept exactly or the call fails with XB_EOVERFLOW. */
static int settle_exact_mpz(xb_dec *out, mpz_t n, int s)
{
    i128 c;
    while (s > 0 && (s > XB_DEC_MAX_SCALE || !mpz_get_coef(&c, n)) && mpz_divisible_ui_p(n, 10)) {
        mpz_divexact_ui(n, n, 10);
        s--;
    }
    if (s > XB_DEC_MAX_SCALE || !mpz_get_coef(&c, n))
        return XB_EOVERFLOW;
    out->coef = c;
    out->scale = s;
    return 0;
}

static int settle_exact_i128(xb_dec *out, i128 c, int s)
{
    while (s > 0 && (s > XB_DEC_MAX_SCALE || !coef_fits(c)) && c % 10 == 0) {
        c /= 10;
        s--;
    }
    if (s > XB_DEC_MAX_SCALE || !coef_fits(c))
        return XB_EOVERFLOW;
    out->coef = c;
    out->scale = s;
    return 0;
}

/* A rounded result already at its final scale: it either fits or overflows. */
static int finish_mpz(xb_dec *out, const mpz_t n, int scale)
{
    i128 c;
    if (!mpz_get_coef(&c, n))
        return XB_EOVERFLOW;
    out->coef = c;
    out->scale = scale;
    return 0;
}

static int finish_i128(xb_dec *out, i128 c, int scale)
{
    if (!coef_fits(c))
        return XB_EOVERFLOW;
    out->coef = c;
    out->scale = scale;
    return 0;
}

/* ---- rounding mode names ------------------------------------------------------------------- */

static const char *const ROUNDING_NAMES[] = {
    [XB_ROUND_HALF_UP] = "half-up",
    [XB_ROUND_HALF_EVEN] = "half-even",
    [XB_ROUND_HALF_DOWN] = "half-down",
    [XB_ROUND_DOWN] = "down",
    [XB_ROUND_UP] = "up",
    [XB_ROUND_FLOOR] = "floor",
    [XB_ROUND_CEILING] = "ceiling",
};

#define ROUNDING_ALLOWED "half-up, half-even, half-down, down, up, floor, ceiling"

int xb_rounding_parse(xb_rounding *out, const char *name, xb_error *err)
{
    if (!name)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "missing rounding mode: use one of " ROUNDING_ALLOWED);
    for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++) {
        if (strcmp(name, ROUNDING_NAMES[m]) == 0) {
            *out = (xb_rounding)m;
            return 0;
        }
    }
    return xb_error_set(err, XB_EINVAL, NULL,
                        "unknown rounding mode '%.64s': use one of " ROUNDING_ALLOWED, name);
}

const char *xb_rounding_name(xb_rounding mode)
{
    return mode_ok(mode) ? ROUNDING_NAMES[mode] : "unknown";
}

/* ---- parsing and formatting ---------------------------------------------------------------- */

/* Copies untrusted text into a message-safe form: at most 48 bytes, non-printables as '?'. */
static const char *quote_input(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        if (n >= 48) {
            memcpy(dst + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[n] = '\0';
    return dst;
}

/* Quotes untrusted text into a local `shown` buffer; used only on error paths so the common,
 * successful parse pays nothing for it. */
#define SHOWN(s, len) quote_input(shown, sizeof shown, (s), (len))

/* Checks the lexical form: optional '-', digits with at most one '.', at least one digit. */
static int check_decimal_syntax(const char *s, size_t len, xb_error *err)
{
    char shown[64];
    if (len == 0)
        return xb_error_set(err, XB_EINVAL, NULL, "empty decimal: expected digits like 12.50");
    size_t i = s[0] == '-' ? 1 : 0;
    bool dot = false, digit = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digit = true;
        } else if (c == '.' && !dot) {
            dot = true;
        } else if (c == '.') {
            return xb_error_set(err, XB_EINVAL, NULL, "decimal '%s' has more than one '.'",
                                SHOWN(s, len));
        } else if (c == '+') {
            return xb_error_set(err, XB_EINVAL, NULL, "decimal '%s': '+' sign is not allowed",
                                SHOWN(s, len));
        } else if (c == 'e' || c == 'E') {
            return xb_error_set(err, XB_EINVAL, NULL,
                                "decimal '%s': exponent notation is not allowed", SHOWN(s, len));
        } else {
            return xb_error_set(err, XB_EINVAL, NULL,
                                "decimal '%s': invalid character 0x%02x at offset %zu",
                                SHOWN(s, len), (unsigned)(unsigned char)c, i);
        }
    }
    if (!digit)
        return xb_error_set(err, XB_EINVAL, NULL, "decimal '%s' has no digits", SHOWN(s, len));
    return 0;
}

static int too_many_digits(xb_error *err, const char *s, size_t len)
{
    char shown[64];
    return xb_error_set(err, XB_EOVERFLOW, NULL,
                        "decimal '%s' has more than %d significant digits or fraction digits",
                        SHOWN(s, len), XB_DEC_MAX_DIGITS);
}

int xb_dec_parse(xb_dec *out, const char *s, size_t len, xb_error *err)
{
    if (!out || (!s && len > 0))
        return xb_error_set(err, XB_EINVAL, NULL, "xb_dec_parse: NULL argument");
    int rc = check_decimal_syntax(s, len, err);
    if (rc < 0)
        return rc;

    bool neg = s[0] == '-';
    i128 mag = 0;
    int scale = 0;
    int pending = 0; /* fraction zeros seen but not yet applied: they may turn out trailing */
    bool frac = false;
    for (size_t i = neg ? 1 : 0; i < len; i++) {
        if (s[i] == '.') {
            frac = true;
            continue;
        }
        int digit = s[i] - '0';
        if (frac && digit == 0) {
            if (pending <= XB_DEC_MAX_SCALE) /* saturates: more can never be applied anyway */
                pending++;
            continue;
        }
        if (frac) {
            if (!mul_pow10(&mag, mag, pending))
                return too_many_digits(err, s, len);
            scale += pending + 1;
            pending = 0;
        }
        /* mag >= 10^37 means mag * 10 + digit would reach 10^38. */
        if (mag >= POW10[XB_DEC_MAX_DIGITS - 1] || scale > XB_DEC_MAX_SCALE)
            return too_many_digits(err, s, len);
        mag = mag * 10 + digit;
    }
    /* Trailing fraction zeros keep the written scale when they fit; beyond 38 digits they are
     * dropped, which leaves the value exact (they are not significant, as in XSD). */
    while (pending > 0 && scale < XB_DEC_MAX_SCALE && mag < POW10[XB_DEC_MAX_DIGITS - 1]) {
        mag *= 10;
        scale++;
        pending--;
    }
    out->coef = neg ? -mag : mag;
    out->scale = scale;
    return 0;
}

int xb_dec_parse_cstr(xb_dec *out, const char *s, xb_error *err)
{
    if (!s)
        return xb_error_set(err, XB_EINVAL, NULL, "xb_dec_parse_cstr: NULL string");
    return xb_dec_parse(out, s, strlen(s), err);
}

void xb_dec_from_int(xb_dec *out, int64_t v)
{
    out->coef = v;
    out->scale = 0;
}

int xb_dec_format(char *buf, size_t cap, const xb_dec *d)
{
    if (!buf || !dec_ok(d))
        return XB_EINVAL;
    /* Digits of |coef|, least significant first, at least scale+1 of them so "0.05" gets its
     * leading "0." */
    char digits[XB_DEC_MAX_DIGITS + 2];
    int n = 0;
    u128 m = abs_u128(d->coef);
    do {
        digits[n++] = (char)('0' + (int)(m % 10));
        m /= 10;
    } while (m != 0);
    while (n < d->scale + 1)
        digits[n++] = '0';

    size_t need = (size_t)n + (d->coef < 0) + (d->scale > 0);
    if (need + 1 > cap)
        return XB_ELIMIT;
    size_t pos = 0;
    if (d->coef < 0)
        buf[pos++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[pos++] = digits[i];
        if (i == d->scale && i > 0)
            buf[pos++] = '.';
    }
    buf[pos] = '\0';
    return (int)pos;
}

/* ---- exact arithmetic ---------------------------------------------------------------------- */

static int add_mpz(xb_dec *out, const xb_dec *a, const xb_dec *b, bool subtract)
{
    int s = a->scale > b->scale ? a->scale : b->scale;
    mpz_t x, y, p;
    mpz_inits(x, y, p, NULL);
    mpz_set_i128(x, a->coef);
    mpz_ui_pow_ui(p, 10, (unsigned long)(s - a->scale));
    mpz_mul(x, x, p);
    mpz_set_i128(y, b->coef);
    mpz_ui_pow_ui(p, 10, (unsigned long)(s - b->scale));
    mpz_mul(y, y, p);
    if (subtract)
        mpz_sub(x, x, y);
    else
        mpz_add(x, x, y);
    int rc = settle_exact_mpz(out, x, s);
    mpz_clears(x, y, p, NULL);
    return rc;
}

static int add_or_sub(xb_dec *out, const xb_dec *a, const xb_dec *b, bool subtract)
{
    if (!out || !dec_ok(a) || !dec_ok(b))
        return XB_EINVAL;
    int s = a->scale > b->scale ? a->scale : b->scale;
    i128 x, y, r;
    if (mul_pow10(&x, a->coef, s - a->scale) && mul_pow10(&y, b->coef, s - b->scale)) {
        bool ovf = subtract ? __builtin_sub_overflow(x, y, &r) : __builtin_add_overflow(x, y, &r);
        if (!ovf)
            return settle_exact_i128(out, r, s);
    }
    return add_mpz(out, a, b, subtract); /* aligning or summing left 128 bits */
}

int xb_dec_add(xb_dec *out, const xb_dec *a, const xb_dec *b)
{
    return add_or_sub(out, a, b, false);
}

int xb_dec_sub(xb_dec *out, const xb_dec *a, const xb_dec *b)
{
    return add_or_sub(out, a, b, true);
}

/* Exact product as an mpz (for paths whose 128-bit product overflowed). */
static void product_mpz(mpz_t p, const xb_dec *a, const xb_dec *b)
{
    mpz_t y;
    mpz_init(y);
    mpz_set_i128(p, a->coef);
    mpz_set_i128(y, b->coef);
    mpz_mul(p, p, y);
    mpz_clear(y);
}

int xb_dec_mul(xb_dec *out, const xb_dec *a, const xb_dec *b)
{
    if (!out || !dec_ok(a) || !dec_ok(b))
        return XB_EINVAL;
    int s = a->scale + b->scale;
    i128 p;
    if (!__builtin_mul_overflow(a->coef, b->coef, &p))
        return settle_exact_i128(out, p, s);
    mpz_t z;
    mpz_init(z);
    product_mpz(z, a, b);
    int rc = settle_exact_mpz(out, z, s);
    mpz_clear(z);
    return rc;
}

/* Rounds the exact value c * 10^-from to scale `to` in 128 bits; false when that needs more. */
static bool round_i128(i128 *q, i128 c, int from, int to, xb_rounding mode)
{
    if (to >= from)
        return mul_pow10(q, c, to - from);
    if (from - to > XB_DEC_MAX_SCALE)
        return false; /* divisor beyond 10^38: rare, left to GMP */
    *q = round_div_i128(c, POW10[from - to], mode);
    return true;
}

int xb_dec_mul_round(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode)
{
    if (!out || !dec_ok(a) || !dec_ok(b) || !scale_ok(scale) || !mode_ok(mode))
        return XB_EINVAL;
    int s = a->scale + b->scale;
    i128 p, q;
    if (!__builtin_mul_overflow(a->coef, b->coef, &p) && round_i128(&q, p, s, scale, mode))
        return finish_i128(out, q, scale);
    mpz_t z;
    mpz_init(z);
    product_mpz(z, a, b);
    round_mpz_to_scale(z, s, scale, mode);
    int rc = finish_mpz(out, z, scale);
    mpz_clear(z);
    return rc;
}

/* a / b at `scale`: the quotient a.coef * 10^e / b.coef with e = scale + b.scale - a.scale;
 * a negative e moves the power of ten to the divisor instead. */
static int div_mpz(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode)
{
    int e = scale + b->scale - a->scale;
    mpz_t n, d, p;
    mpz_inits(n, d, p, NULL);
    mpz_set_i128(n, a->coef);
    mpz_set_i128(d, b->coef);
    mpz_ui_pow_ui(p, 10, (unsigned long)(e >= 0 ? e : -e));
    mpz_mul(e >= 0 ? n : d, e >= 0 ? n : d, p);
    round_div_mpz(n, n, d, mode);
    int rc = finish_mpz(out, n, scale);
    mpz_clears(n, d, p, NULL);
    return rc;
}

int xb_dec_div(xb_dec *out, const xb_dec *a, const xb_dec *b, int scale, xb_rounding mode)
{
    if (!out || !dec_ok(a) || !dec_ok(b) || !scale_ok(scale) || !mode_ok(mode))
        return XB_EINVAL;
    if (b->coef == 0)
        return XB_EINVAL;
    int e = scale + b->scale - a->scale;
    i128 n = a->coef, d = b->coef;
    if (e >= 0 ? mul_pow10(&n, a->coef, e) : mul_pow10(&d, b->coef, -e))
        return finish_i128(out, round_div_i128(n, d, mode), scale);
    return div_mpz(out, a, b, scale, mode);
}

int xb_dec_round(xb_dec *out, const xb_dec *a, int scale, xb_rounding mode)
{
    if (!out || !dec_ok(a) || !scale_ok(scale) || !mode_ok(mode))
        return XB_EINVAL;
    i128 q;
    if (!round_i128(&q, a->coef, a->scale, scale, mode))
        return XB_EOVERFLOW; /* padding zeros pushed it past 128 bits */
    return finish_i128(out, q, scale);
}

int xb_dec_rescale(xb_dec *out, const xb_dec *a, int scale)
{
    if (!out || !dec_ok(a) || !scale_ok(scale))
        return XB_EINVAL;
    if (scale >= a->scale) {
        i128 c;
        if (!mul_pow10(&c, a->coef, scale - a->scale))
            return XB_EOVERFLOW;
        return finish_i128(out, c, scale);
    }
    i128 div = POW10[a->scale - scale];
    if (a->coef % div != 0)
        return XB_EINVAL;
    out->coef = a->coef / div;
    out->scale = scale;
    return 0;
}

void xb_dec_normalize(xb_dec *out, const xb_dec *a)
{
    i128 c = a->coef;
    int s = a->scale;
    if (c == 0)
        s = 0;
    while (s > 0 && c % 10 == 0) {
        c /= 10;
        s--;
    }
    out->coef = c;
    out->scale = s;
}

int xb_dec_sign(const xb_dec *a)
{
    return a->coef < 0 ? -1 : (a->coef > 0 ? 1 : 0);
}

int xb_dec_cmp(const xb_dec *a, const xb_dec *b)
{
    int sa = xb_dec_sign(a), sb = xb_dec_sign(b);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    i128 x = a->coef, y = b->coef;
    /* Align to the larger scale. If that overflows 128 bits the aligned value's magnitude
     * exceeds any valid coefficient, so the signs alone decide. */
    if (a->scale < b->scale && !mul_pow10(&x, a->coef, b->scale - a->scale))
        return sa;
    if (b->scale < a->scale && !mul_pow10(&y, b->coef, a->scale - b->scale))
        return -sb;
    return x < y ? -1 : (x > y ? 1 : 0);
}

int xb_dec_fraction_digits(const xb_dec *a)
{
    xb_dec n;
    xb_dec_normalize(&n, a);
    return n.scale;
}

/* As XSD 1.0 totalDigits: the value must be i * 10^-n with |i| < 10^t and n <= t, so leading
 * fraction zeros count ("0.05" needs 2) and trailing ones do not. Zero counts as one digit. */
int xb_dec_total_digits(const xb_dec *a)
{
    xb_dec n;
    xb_dec_normalize(&n, a);
    int digits = 0;
    for (u128 m = abs_u128(n.coef); m != 0; m /= 10)
        digits++;
    if (digits == 0)
        digits = 1;
    return digits > n.scale ? digits : n.scale;
}

/* ---- ISO 4217 ------------------------------------------------------------------------------ */

/* Active codes from ISO 4217 list one, sorted by code for bsearch. Minor units -1 is ISO's
 * "N.A.". Deliberately absent: CNH (an offshore market label, not an ISO code), withdrawn codes
 * (HRK, MRO, STD, VEF, ZMK ...), and XTS/XXX (testing / "no currency": never a payment). */
/* clang-format off */
static const xb_currency CURRENCIES[] = {
    {"AED", 2, false}, {"AFN", 2, false}, {"ALL", 2, false}, {"AMD", 2, false}, {"ANG", 2, false},
    {"AOA", 2, false}, {"ARS", 2, false}, {"AUD", 2, false}, {"AWG", 2, false}, {"AZN", 2, false},
    {"BAM", 2, false}, {"BBD", 2, false}, {"BDT", 2, false}, {"BGN", 2, false}, {"BHD", 3, false},
    {"BIF", 0, false}, {"BMD", 2, false}, {"BND", 2, false}, {"BOB", 2, false}, {"BOV", 2, false},
    {"BRL", 2, false}, {"BSD", 2, false}, {"BTN", 2, false}, {"BWP", 2, false}, {"BYN", 2, false},
    {"BZD", 2, false}, {"CAD", 2, false}, {"CDF", 2, false}, {"CHE", 2, false}, {"CHF", 2, false},
    {"CHW", 2, false}, {"CLF", 4, false}, {"CLP", 0, false}, {"CNY", 2, false}, {"COP", 2, false},
    {"COU", 2, false}, {"CRC", 2, false}, {"CUC", 2, false}, {"CUP", 2, false}, {"CVE", 2, false},
    {"CZK", 2, false}, {"DJF", 0, false}, {"DKK", 2, false}, {"DOP", 2, false}, {"DZD", 2, false},
    {"EGP", 2, false}, {"ERN", 2, false}, {"ETB", 2, false}, {"EUR", 2, false}, {"FJD", 2, false},
    {"FKP", 2, false}, {"GBP", 2, false}, {"GEL", 2, false}, {"GHS", 2, false}, {"GIP", 2, false},
    {"GMD", 2, false}, {"GNF", 0, false}, {"GTQ", 2, false}, {"GYD", 2, false}, {"HKD", 2, false},
    {"HNL", 2, false}, {"HTG", 2, false}, {"HUF", 2, false}, {"IDR", 2, false}, {"ILS", 2, false},
    {"INR", 2, false}, {"IQD", 3, false}, {"IRR", 2, false}, {"ISK", 0, false}, {"JMD", 2, false},
    {"JOD", 3, false}, {"JPY", 0, false}, {"KES", 2, false}, {"KGS", 2, false}, {"KHR", 2, false},
    {"KMF", 0, false}, {"KPW", 2, false}, {"KRW", 0, false}, {"KWD", 3, false}, {"KYD", 2, false},
    {"KZT", 2, false}, {"LAK", 2, false}, {"LBP", 2, false}, {"LKR", 2, false}, {"LRD", 2, false},
    {"LSL", 2, false}, {"LYD", 3, false}, {"MAD", 2, false}, {"MDL", 2, false}, {"MGA", 2, false},
    {"MKD", 2, false}, {"MMK", 2, false}, {"MNT", 2, false}, {"MOP", 2, false}, {"MRU", 2, false},
    {"MUR", 2, false}, {"MVR", 2, false}, {"MWK", 2, false}, {"MXN", 2, false}, {"MXV", 2, false},
    {"MYR", 2, false}, {"MZN", 2, false}, {"NAD", 2, false}, {"NGN", 2, false}, {"NIO", 2, false},
    {"NOK", 2, false}, {"NPR", 2, false}, {"NZD", 2, false}, {"OMR", 3, false}, {"PAB", 2, false},
    {"PEN", 2, false}, {"PGK", 2, false}, {"PHP", 2, false}, {"PKR", 2, false}, {"PLN", 2, false},
    {"PYG", 0, false}, {"QAR", 2, false}, {"RON", 2, false}, {"RSD", 2, false}, {"RUB", 2, false},
    {"RWF", 0, false}, {"SAR", 2, false}, {"SBD", 2, false}, {"SCR", 2, false}, {"SDG", 2, false},
    {"SEK", 2, false}, {"SGD", 2, false}, {"SHP", 2, false}, {"SLE", 2, false}, {"SLL", 2, false},
    {"SOS", 2, false}, {"SRD", 2, false}, {"SSP", 2, false}, {"STN", 2, false}, {"SVC", 2, false},
    {"SYP", 2, false}, {"SZL", 2, false}, {"THB", 2, false}, {"TJS", 2, false}, {"TMT", 2, false},
    {"TND", 3, false}, {"TOP", 2, false}, {"TRY", 2, false}, {"TTD", 2, false}, {"TWD", 2, false},
    {"TZS", 2, false}, {"UAH", 2, false}, {"UGX", 0, false}, {"USD", 2, false}, {"USN", 2, false},
    {"UYI", 0, false}, {"UYU", 2, false}, {"UYW", 4, false}, {"UZS", 2, false}, {"VED", 2, false},
    {"VES", 2, false}, {"VND", 0, false}, {"VUV", 0, false}, {"WST", 2, false}, {"XAF", 0, false},
    {"XAG", -1, true}, {"XAU", -1, true}, {"XBA", -1, false}, {"XBB", -1, false},
    {"XBC", -1, false}, {"XBD", -1, false}, {"XCD", 2, false}, {"XCG", 2, false},
    {"XDR", -1, false}, {"XOF", 0, false}, {"XPD", -1, true}, {"XPF", 0, false}, {"XPT", -1, true},
    {"XSU", -1, false}, {"XUA", -1, false}, {"YER", 2, false}, {"ZAR", 2, false}, {"ZMW", 2, false},
    {"ZWG", 2, false}, {"ZWL", 2, false},
};
/* clang-format on */

#define CURRENCY_COUNT (sizeof CURRENCIES / sizeof CURRENCIES[0])

static int currency_cmp(const void *key, const void *elem)
{
    return memcmp(key, ((const xb_currency *)elem)->code, 3);
}

const xb_currency *xb_currency_find(const char *code)
{
    /* Exactly three upper-case letters; anything else ("cny", "CN", "CNYX") is not a code. */
    if (!code)
        return NULL;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return NULL;
    if (code[3] != '\0')
        return NULL;
    return bsearch(code, CURRENCIES, CURRENCY_COUNT, sizeof CURRENCIES[0], currency_cmp);
}

size_t xb_currency_count(void)
{
    return CURRENCY_COUNT;
}

const xb_currency *xb_currency_at(size_t i)
{
    return i < CURRENCY_COUNT ? &CURRENCIES[i] : NULL;
}

/* ---- amounts ------------------------------------------------------------------------------- */

static int find_payment_currency(const xb_currency **out, const char *ccy, bool allow_commodity,
                                 xb_error *err)
{
    char shown[64];
    if (ccy && strcmp(ccy, "CNH") == 0)
        return xb_error_set(err, XB_ERULE, NULL,
                            "CNH is not ISO 4217: use CNY (offshore renminbi is still CNY)");
    const xb_currency *c = xb_currency_find(ccy);
    if (!c)
        return xb_error_set(err, XB_ERULE, NULL, "unknown currency code '%s'",
                            SHOWN(ccy ? ccy : "", ccy ? strlen(ccy) : 0));
    if (c->commodity && !allow_commodity)
        return xb_error_set(err, XB_ERULE, NULL,
                            "%s is a commodity (precious metal), not a payment currency", c->code);
    *out = c;
    return 0;
}

int xb_amount_parse(xb_amount *out, const char *ccy, const char *text, bool allow_commodity,
                    xb_error *err)
{
    if (!out || !text)
        return xb_error_set(err, XB_EINVAL, NULL, "xb_amount_parse: NULL argument");
    const xb_currency *c = NULL;
    int rc = find_payment_currency(&c, ccy, allow_commodity, err);
    if (rc < 0)
        return rc;
    xb_dec v;
    rc = xb_dec_parse_cstr(&v, text, err);
    if (rc < 0) { /* the header promises EINVAL/ERULE: a 39-digit amount is malformed input */
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "not a decimal");
        return xb_error_set(err, XB_EINVAL, NULL, "%s amount: %s", c->code, why);
    }
    char shown[64];
    if (v.coef < 0)
        return xb_error_set(err, XB_ERULE, NULL, "%s amount must not be negative, got %s", c->code,
                            SHOWN(text, strlen(text)));
    int frac = xb_dec_fraction_digits(&v);
    if (c->minor_units >= 0 && frac > c->minor_units)
        return xb_error_set(err, XB_ERULE, NULL, "%s allows %d decimals, got %d in %s", c->code,
                            c->minor_units, frac, SHOWN(text, strlen(text)));
    /* Store at the currency's exponent so coef is the amount in minor units. */
    if (c->minor_units >= 0 && xb_dec_rescale(&v, &v, c->minor_units) < 0)
        return xb_error_set(err, XB_EINVAL, NULL, "%s amount %s is too large", c->code,
                            SHOWN(text, strlen(text)));
    out->value = v;
    memcpy(out->ccy, c->code, sizeof out->ccy);
    return 0;
}

int xb_amount_format(char *buf, size_t cap, const xb_amount *a)
{
    if (!buf || !a)
        return XB_EINVAL;
    char code[4];
    memcpy(code, a->ccy, 3);
    code[3] = '\0';
    const xb_currency *c = xb_currency_find(code);
    if (!c)
        return XB_EINVAL;
    if (c->minor_units < 0)
        return xb_dec_format(buf, cap, &a->value);
    /* Never round silently: a value with more significant decimals than the currency allows is
     * a caller bug (round it first with a named mode). */
    xb_dec v;
    int rc = xb_dec_rescale(&v, &a->value, c->minor_units);
    if (rc < 0)
        return rc;
    return xb_dec_format(buf, cap, &v);
}
