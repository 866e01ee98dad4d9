/* test_amount.c — unit tests for iso20022/amount.c: exact decimals, rounding, ISO 4217, amounts.
 *
 * Owns: hand-computed cases (CNY, JPY per-100 quotes, KWD, 18-digit amounts, NAV divisions,
 * results that need more than 128 bits) and seeded property checks of div/round against exact
 * multiplication. Never: uses float/double to compute an expected value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/amount.h"

/* ---- helpers: every comparison goes through the decimal's formatted text ------------------- */

static xb_dec D(const char *s)
{
    xb_dec d;
    xb_error err;
    if (xb_dec_parse_cstr(&d, s, &err) != 0)
        fail_msg("test literal '%s' does not parse: %s", s, err.message);
    return d;
}

static void assert_dec_text(const xb_dec *d, const char *want, const char *what)
{
    char buf[64];
    int n = xb_dec_format(buf, sizeof buf, d);
    if (n < 0)
        fail_msg("%s: format failed %d", what, n);
    if ((size_t)n != strlen(buf) || strcmp(buf, want) != 0)
        fail_msg("%s: got '%s', want '%s'", what, buf, want);
}

static void check_roundtrip(const char *in, const char *want)
{
    xb_dec d = D(in);
    assert_dec_text(&d, want, in);
}

static void check_round(const char *in, int scale, xb_rounding mode, const char *want)
{
    xb_dec a = D(in), r;
    char what[128];
    snprintf(what, sizeof what, "round(%s, %d, %s)", in, scale, xb_rounding_name(mode));
    int rc = xb_dec_round(&r, &a, scale, mode);
    if (rc != 0)
        fail_msg("%s: rc %d", what, rc);
    assert_dec_text(&r, want, what);
}

static void check_mul_round(const char *a, const char *b, int scale, xb_rounding mode,
                            const char *want)
{
    xb_dec x = D(a), y = D(b), r;
    char what[192];
    snprintf(what, sizeof what, "%s * %s @%d %s", a, b, scale, xb_rounding_name(mode));
    int rc = xb_dec_mul_round(&r, &x, &y, scale, mode);
    if (rc != 0)
        fail_msg("%s: rc %d", what, rc);
    assert_dec_text(&r, want, what);
}

static void check_div(const char *a, const char *b, int scale, xb_rounding mode, const char *want)
{
    xb_dec x = D(a), y = D(b), r;
    char what[192];
    snprintf(what, sizeof what, "%s / %s @%d %s", a, b, scale, xb_rounding_name(mode));
    int rc = xb_dec_div(&r, &x, &y, scale, mode);
    if (rc != 0)
        fail_msg("%s: rc %d", what, rc);
    assert_dec_text(&r, want, what);
}

typedef int (*binop)(xb_dec *, const xb_dec *, const xb_dec *);

static void check_binop(binop op, const char *a, const char *b, const char *want)
{
    xb_dec x = D(a), y = D(b), r;
    char what[192];
    snprintf(what, sizeof what, "op(%s, %s)", a, b);
    int rc = op(&r, &x, &y);
    if (rc != 0)
        fail_msg("%s: rc %d", what, rc);
    assert_dec_text(&r, want, what);
}

static void check_binop_fails(binop op, const char *a, const char *b, int code)
{
    xb_dec x = D(a), y = D(b), r = {.coef = 42, .scale = 0};
    int rc = op(&r, &x, &y);
    if (rc != code)
        fail_msg("op(%s, %s): rc %d, want %d", a, b, rc, code);
    assert_true(r.coef == 42); /* nothing written on failure */
}

#define N38 "99999999999999999999999999999999999999" /* 38 nines: the largest coefficient */

/* ---- parsing and formatting ---------------------------------------------------------------- */

static void parse_format_roundtrips(void **state)
{
    (void)state;
    check_roundtrip("0", "0");
    check_roundtrip("-0", "0");
    check_roundtrip("0.00", "0.00");
    check_roundtrip("-0.00", "0.00");
    check_roundtrip("12.50", "12.50");
    check_roundtrip("007.50", "7.50");
    check_roundtrip("1.", "1");
    check_roundtrip(".5", "0.5");
    check_roundtrip("-.5", "-0.5");
    check_roundtrip("-0.001", "-0.001");
    check_roundtrip("100", "100");
    check_roundtrip("999999999999999999.99999", "999999999999999999.99999");
    check_roundtrip("-999999999999999999.99999", "-999999999999999999.99999");
    check_roundtrip(N38, N38);
    check_roundtrip("-" N38, "-" N38);
    check_roundtrip("9999999999999999999.9999999999999999999",
                    "9999999999999999999.9999999999999999999");
    check_roundtrip("0.00000000000000000000000000000000000001",
                    "0.00000000000000000000000000000000000001");
    check_roundtrip("0." N38, "0." N38);
    /* Leading zeros are not significant, however many. */
    check_roundtrip("0000000000000000000000000000000000000000000001.25", "1.25");

    xb_dec d = D("1234.5600");
    assert_true(d.coef == 12345600);
    assert_int_equal(d.scale, 4);
    xb_dec_from_int(&d, -9223372036854775807LL - 1);
    assert_dec_text(&d, "-9223372036854775808", "from_int(INT64_MIN)");

    /* Explicit length: stops at len, so a prefix of a longer buffer parses. */
    assert_int_equal(xb_dec_parse(&d, "12.345xyz", 5, NULL), 0);
    assert_dec_text(&d, "12.34", "parse len 5");
}

static void parse_trailing_zeros_beyond_38_keep_value(void **state)
{
    (void)state;
    /* 1 followed by 40 fraction zeros: one significant digit, so it parses; the zeros that do
     * not fit 38 digits are dropped and the value stays exactly 1. */
    xb_dec d = D("1.0000000000000000000000000000000000000000"), one = D("1");
    assert_int_equal(xb_dec_cmp(&d, &one), 0);
    assert_int_equal(d.scale, 37);
    assert_int_equal(xb_dec_fraction_digits(&d), 0);
    d = D("0.0000000000000000000000000000000000000000000000000");
    assert_int_equal(xb_dec_sign(&d), 0);
    assert_int_equal(d.scale, 38);
}

static void check_parse_error(const char *s, size_t len, int code, const char *needle)
{
    xb_dec d = {.coef = 7, .scale = 0};
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_dec_parse(&d, s, len, &err);
    if (rc != code)
        fail_msg("parse '%.*s': rc %d, want %d", (int)len, s, rc, code);
    assert_int_equal(err.code, code);
    if (needle && !strstr(err.message, needle))
        fail_msg("parse '%.*s': message '%s' lacks '%s'", (int)len, s, err.message, needle);
    assert_true(d.coef == 7); /* out untouched */
}

#define PARSE_ERR(s, code, needle) check_parse_error(s, strlen(s), code, needle)

static void parse_rejects_malformed(void **state)
{
    (void)state;
    PARSE_ERR("", XB_EINVAL, "empty");
    PARSE_ERR(".", XB_EINVAL, "no digits");
    PARSE_ERR("-", XB_EINVAL, "no digits");
    PARSE_ERR("-.", XB_EINVAL, "no digits");
    PARSE_ERR("+1", XB_EINVAL, "'+'");
    PARSE_ERR("1e5", XB_EINVAL, "exponent");
    PARSE_ERR("1.5E-3", XB_EINVAL, "exponent");
    PARSE_ERR(" 1", XB_EINVAL, "0x20 at offset 0");
    PARSE_ERR("1 ", XB_EINVAL, "0x20 at offset 1");
    PARSE_ERR("1\t", XB_EINVAL, "0x09");
    PARSE_ERR("1..2", XB_EINVAL, "more than one '.'");
    PARSE_ERR("1.2.3", XB_EINVAL, "more than one '.'");
    PARSE_ERR("--1", XB_EINVAL, "offset 1");
    PARSE_ERR("1-", XB_EINVAL, "offset 1");
    PARSE_ERR("1,000.00", XB_EINVAL, "0x2c");
    PARSE_ERR("abc", XB_EINVAL, "invalid character");
    PARSE_ERR("NaN", XB_EINVAL, "invalid character");
    PARSE_ERR("0x10", XB_EINVAL, "invalid character");
    PARSE_ERR("\xef\xbc\x91", XB_EINVAL, "0xef"); /* fullwidth digit one */
    PARSE_ERR("一百", XB_EINVAL, "invalid character");
    PARSE_ERR("１２.５０", XB_EINVAL, "invalid character");
    check_parse_error("1\0"
                      "2",
                      3, XB_EINVAL, "0x00 at offset 1"); /* embedded NUL */

    xb_dec d;
    xb_error err;
    assert_int_equal(xb_dec_parse_cstr(&d, NULL, &err), XB_EINVAL);
    assert_int_equal(xb_dec_parse_cstr(&d, "1", NULL), 0); /* err may be NULL */
    assert_int_equal(xb_dec_parse_cstr(&d, "x", NULL), XB_EINVAL);
}

static void parse_overflow_is_reported(void **state)
{
    (void)state;
    PARSE_ERR("9" N38, XB_EOVERFLOW, "more than 38");                         /* 39 nines */
    PARSE_ERR("100000000000000000000000000000000000000", XB_EOVERFLOW, NULL); /* 10^38 */
    PARSE_ERR("-100000000000000000000000000000000000000", XB_EOVERFLOW, NULL);
    PARSE_ERR("1234567890123456789012345678901234567.89", XB_EOVERFLOW, NULL); /* 39 digits */
    /* One significant digit, but at the 39th decimal place: not representable. */
    PARSE_ERR("0.000000000000000000000000000000000000001", XB_EOVERFLOW, NULL);
    PARSE_ERR("0.000000000000000000000000000000000000000000000000000000000001", XB_EOVERFLOW, NULL);

    /* Hostile: a 100 000-digit number fails cleanly with a bounded message. */
    static char huge[100001];
    memset(huge, '7', sizeof huge - 1);
    xb_dec d;
    xb_error err;
    assert_int_equal(xb_dec_parse(&d, huge, sizeof huge - 1, &err), XB_EOVERFLOW);
    assert_true(strlen(err.message) < 200);
    /* ... and 100 000 fraction zeros before a digit too. */
    memset(huge, '0', sizeof huge - 1);
    huge[1] = '.';
    huge[sizeof huge - 2] = '1';
    assert_int_equal(xb_dec_parse(&d, huge, sizeof huge - 1, &err), XB_EOVERFLOW);
}

static void format_limits(void **state)
{
    (void)state;
    xb_dec d = D("-12.50");
    char buf[8];
    assert_int_equal(xb_dec_format(buf, 7, &d), 6); /* "-12.50" + NUL */
    assert_string_equal(buf, "-12.50");
    assert_int_equal(xb_dec_format(buf, 6, &d), XB_ELIMIT);
    assert_int_equal(xb_dec_format(buf, 0, &d), XB_ELIMIT);

    /* The widest value: sign, "0.", 38 digits. */
    char wide[42];
    d = D("-0." N38);
    assert_int_equal(xb_dec_format(wide, sizeof wide, &d), 41);
    assert_int_equal(xb_dec_format(wide, 41, &d), XB_ELIMIT);

    xb_dec bad = {.coef = 1, .scale = 39};
    assert_int_equal(xb_dec_format(wide, sizeof wide, &bad), XB_EINVAL);
}

/* ---- add, sub, mul ------------------------------------------------------------------------- */

static void add_sub_exact(void **state)
{
    (void)state;
    check_binop(xb_dec_add, "0.1", "0.2", "0.3");
    check_binop(xb_dec_add, "1.5", "2.25", "3.75");
    check_binop(xb_dec_add, "-1.5", "2.25", "0.75");
    check_binop(xb_dec_add, "999999999999999999.99999", "0.00001", "1000000000000000000.00000");
    check_binop(xb_dec_add, "-999999999999999999.99", "-0.01", "-1000000000000000000.00");
    check_binop(xb_dec_sub, "1", "0.00000000000000000000000000000000000001", "0." N38);
    check_binop(xb_dec_sub, "1", "1.00", "0.00");
    check_binop(xb_dec_sub, "-1.00", "0.01", "-1.01");
    check_binop(xb_dec_sub, "0.30", "0.1", "0.20");
    check_binop(xb_dec_sub, "-" N38, "-" N38, "0");
    check_binop(xb_dec_sub, "1", N38, "-99999999999999999999999999999999999998");

    /* Aligning 10^37 to scale 2 needs 10^39, past 128 bits; the exact sum is still 10^37,
     * which fits at scale 0, so it is returned rather than refused. */
    check_binop(xb_dec_add, "10000000000000000000000000000000000000", "0.00",
                "10000000000000000000000000000000000000");
    /* Sum 10^38 at scale 37 does not fit, at scale 36 it does: 10.000... exactly. */
    check_binop(xb_dec_add, "5.0000000000000000000000000000000000000",
                "5.0000000000000000000000000000000000000",
                "10.000000000000000000000000000000000000");
}

static void add_sub_overflow(void **state)
{
    (void)state;
    check_binop_fails(xb_dec_add, N38, "1", XB_EOVERFLOW);
    check_binop_fails(xb_dec_add, "-" N38, "-1", XB_EOVERFLOW);
    check_binop_fails(xb_dec_sub, "-" N38, "1", XB_EOVERFLOW);
    check_binop_fails(xb_dec_sub, N38, "-" N38, XB_EOVERFLOW);
    check_binop_fails(xb_dec_add, N38, N38, XB_EOVERFLOW); /* > 2^127 in the middle: no wrap */
    /* Alignment overflow: 10^20 + 10^-20 needs 41 digits. */
    check_binop_fails(xb_dec_add, "100000000000000000000", "0.00000000000000000001", XB_EOVERFLOW);
    check_binop_fails(xb_dec_add, "1", "0.00000000000000000000000000000000000001",
                      XB_EOVERFLOW); /* 39 significant digits */
    check_binop_fails(xb_dec_sub, "10", "0.00000000000000000000000000000000000001", XB_EOVERFLOW);

    xb_dec a = D("1"), bad = {.coef = 1, .scale = -1}, r;
    assert_int_equal(xb_dec_add(&r, &a, &bad), XB_EINVAL);
    bad.scale = 39;
    assert_int_equal(xb_dec_sub(&r, &bad, &a), XB_EINVAL);
}

static void mul_exact(void **state)
{
    (void)state;
    check_binop(xb_dec_mul, "1.50", "2.0", "3.000");
    check_binop(xb_dec_mul, "-1.5", "2", "-3.0");
    check_binop(xb_dec_mul, "-1.5", "-0.5", "0.75");
    check_binop(xb_dec_mul, "0", "-123.45", "0.00");
    check_binop(xb_dec_mul, "999999999999999999.99", "7.1234", "7123399999999999999.928766");
    check_binop(xb_dec_mul, "1234567890123456789", "1000000000000000000",
                "1234567890123456789000000000000000000");
    /* 10^20 * 10^20 at scale 40 is 10^40: past 128 bits, but it is exactly 1, so GMP finds the
     * widest scale that fits (37) instead of refusing. */
    xb_dec a = D("1.00000000000000000000"), r, one = D("1");
    assert_int_equal(xb_dec_mul(&r, &a, &a), 0);
    assert_int_equal(xb_dec_cmp(&r, &one), 0);
    assert_int_equal(r.scale, 37);
    /* Scale 0.1^20 * 0.1^20 = 10^-40: exact, but no 38-decimal form exists. */
    check_binop_fails(xb_dec_mul, "0.00000000000000000001", "0.00000000000000000001", XB_EOVERFLOW);
    check_binop_fails(xb_dec_mul, "10000000000000000000", "10000000000000000000", XB_EOVERFLOW);
    check_binop_fails(xb_dec_mul, "-99999999999999999999", "99999999999999999999", XB_EOVERFLOW);
    check_binop_fails(xb_dec_mul, N38, N38, XB_EOVERFLOW);
}

/* ---- rounding ------------------------------------------------------------------------------ */

/* Each row: an input and its rounding to 0 decimals under the seven modes, in enum order
 * half-up, half-even, half-down, down, up, floor, ceiling. Worked by hand. */
static const struct {
    const char *in;
    const char *want[7];
} ROUND0[] = {
    {"2.5", {"3", "2", "2", "2", "3", "2", "3"}},
    {"2.49", {"2", "2", "2", "2", "3", "2", "3"}},
    {"2.51", {"3", "3", "3", "2", "3", "2", "3"}},
    {"3.5", {"4", "4", "3", "3", "4", "3", "4"}},
    {"-2.5", {"-3", "-2", "-2", "-2", "-3", "-3", "-2"}},
    {"-2.49", {"-2", "-2", "-2", "-2", "-3", "-3", "-2"}},
    {"-2.51", {"-3", "-3", "-3", "-2", "-3", "-3", "-2"}},
    {"-3.5", {"-4", "-4", "-3", "-3", "-4", "-4", "-3"}},
    {"0.5", {"1", "0", "0", "0", "1", "0", "1"}},
    {"-0.5", {"-1", "0", "0", "0", "-1", "-1", "0"}},
    {"0.4999999999999999999999999999999999999", {"0", "0", "0", "0", "1", "0", "1"}},
    {"-0.5000000000000000000000000000000000001", {"-1", "-1", "-1", "0", "-1", "-1", "0"}},
    {"2.0", {"2", "2", "2", "2", "2", "2", "2"}},
    {"-2.000", {"-2", "-2", "-2", "-2", "-2", "-2", "-2"}},
    {"0", {"0", "0", "0", "0", "0", "0", "0"}},
    {"99999999999999999999999999999999999.5",
     {"100000000000000000000000000000000000", "100000000000000000000000000000000000",
      "99999999999999999999999999999999999", "99999999999999999999999999999999999",
      "100000000000000000000000000000000000", "99999999999999999999999999999999999",
      "100000000000000000000000000000000000"}},
};

static void round_every_mode_at_halves(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ROUND0 / sizeof ROUND0[0]; i++)
        for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++)
            check_round(ROUND0[i].in, 0, (xb_rounding)m, ROUND0[i].want[m]);
}

/* Two decimals, the money case: ties at the third decimal and just either side. */
static const struct {
    const char *in;
    const char *want[7];
} ROUND2[] = {
    {"1.005", {"1.01", "1.00", "1.00", "1.00", "1.01", "1.00", "1.01"}},
    {"1.015", {"1.02", "1.02", "1.01", "1.01", "1.02", "1.01", "1.02"}},
    {"1.0049999", {"1.00", "1.00", "1.00", "1.00", "1.01", "1.00", "1.01"}},
    {"1.0050001", {"1.01", "1.01", "1.01", "1.00", "1.01", "1.00", "1.01"}},
    {"-1.005", {"-1.01", "-1.00", "-1.00", "-1.00", "-1.01", "-1.01", "-1.00"}},
    {"-1.015", {"-1.02", "-1.02", "-1.01", "-1.01", "-1.02", "-1.02", "-1.01"}},
    {"-1.0049999", {"-1.00", "-1.00", "-1.00", "-1.00", "-1.01", "-1.01", "-1.00"}},
    {"-1.0050001", {"-1.01", "-1.01", "-1.01", "-1.00", "-1.01", "-1.01", "-1.00"}},
    {"-0.001", {"0.00", "0.00", "0.00", "0.00", "-0.01", "-0.01", "0.00"}},
    {"0.001", {"0.00", "0.00", "0.00", "0.00", "0.01", "0.00", "0.01"}},
    {"999999999999999999.995",
     {"1000000000000000000.00", "1000000000000000000.00", "999999999999999999.99",
      "999999999999999999.99", "1000000000000000000.00", "999999999999999999.99",
      "1000000000000000000.00"}},
};

static void round_two_decimals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ROUND2 / sizeof ROUND2[0]; i++)
        for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++)
            check_round(ROUND2[i].in, 2, (xb_rounding)m, ROUND2[i].want[m]);
}

static void round_pads_and_limits(void **state)
{
    (void)state;
    check_round("1.5", 3, XB_ROUND_DOWN, "1.500");
    check_round("-7", 2, XB_ROUND_UP, "-7.00");
    check_round("0." N38, 0, XB_ROUND_HALF_UP, "1");
    check_round("0." N38, 37, XB_ROUND_DOWN, "0.9999999999999999999999999999999999999");
    check_round("0." N38, 37, XB_ROUND_HALF_EVEN, "1.0000000000000000000000000000000000000");

    xb_dec a = D("12345678901234567890"), r;
    assert_int_equal(xb_dec_round(&r, &a, 18, XB_ROUND_HALF_UP), 0); /* 38 digits: fits */
    assert_int_equal(xb_dec_round(&r, &a, 19, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    assert_int_equal(xb_dec_round(&r, &a, 30, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    assert_int_equal(xb_dec_round(&r, &a, 39, XB_ROUND_HALF_UP), XB_EINVAL);
    assert_int_equal(xb_dec_round(&r, &a, -1, XB_ROUND_HALF_UP), XB_EINVAL);
    assert_int_equal(xb_dec_round(&r, &a, 2, (xb_rounding)99), XB_EINVAL);

    /* In-place use is allowed. */
    a = D("2.345");
    assert_int_equal(xb_dec_round(&a, &a, 2, XB_ROUND_HALF_EVEN), 0);
    assert_dec_text(&a, "2.34", "round in place");
}

static void rounding_names(void **state)
{
    (void)state;
    const char *names[] = {"half-up", "half-even", "half-down", "down", "up", "floor", "ceiling"};
    for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++) {
        xb_rounding got = XB_ROUND_CEILING;
        assert_int_equal(xb_rounding_parse(&got, names[m], NULL), 0);
        assert_int_equal(got, m);
        assert_string_equal(xb_rounding_name((xb_rounding)m), names[m]);
    }
    xb_rounding got;
    xb_error err;
    assert_int_equal(xb_rounding_parse(&got, "HALF_UP", &err), XB_EINVAL);
    assert_non_null(strstr(err.message, "'HALF_UP'"));
    assert_non_null(strstr(err.message, "half-up, half-even, half-down, down, up, floor, ceiling"));
    assert_int_equal(xb_rounding_parse(&got, "", &err), XB_EINVAL);
    assert_int_equal(xb_rounding_parse(&got, "half-up ", &err), XB_EINVAL);
    assert_int_equal(xb_rounding_parse(&got, NULL, &err), XB_EINVAL);
    assert_string_equal(xb_rounding_name((xb_rounding)42), "unknown");
}

/* ---- multiplication by rates --------------------------------------------------------------- */

static void mul_round_fx_rates(void **state)
{
    (void)state;
    /* JPY is quoted per 100: 100 JPY = 4.7312 CNY, so the per-unit rate is 0.047312 exactly.
     * 123456 * 0.047312 = 1234.56 * 4.7312 = 4938.24 + 902.710272 = 5840.950272. */
    check_mul_round("123456", "0.047312", 2, XB_ROUND_HALF_UP, "5840.95");
    check_mul_round("123456", "0.047312", 2, XB_ROUND_UP, "5840.96");
    check_mul_round("123456", "0.047312", 2, XB_ROUND_FLOOR, "5840.95");
    check_mul_round("-123456", "0.047312", 2, XB_ROUND_HALF_UP, "-5840.95");
    check_mul_round("-123456", "0.047312", 2, XB_ROUND_FLOOR, "-5840.96");
    check_mul_round("-123456", "0.047312", 2, XB_ROUND_CEILING, "-5840.95");
    /* The per-100 rate derived in decimal, not typed in: 4.7312 / 100 at 6 decimals is exact. */
    xb_dec quote = D("4.7312"), hundred = D("100"), rate, jpy = D("123456"), cny;
    assert_int_equal(xb_dec_div(&rate, &quote, &hundred, 6, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&rate, "0.047312", "per-100 quote");
    assert_int_equal(xb_dec_mul_round(&cny, &jpy, &rate, 2, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&cny, "5840.95", "JPY->CNY");

    /* USD 12345.67 at 7.12345: 86419.69 + 1524.0729615 = 87943.7629615. */
    check_mul_round("12345.67", "7.12345", 2, XB_ROUND_HALF_UP, "87943.76");
    check_mul_round("12345.67", "7.12345", 2, XB_ROUND_UP, "87943.77");
    check_mul_round("12345.67", "7.12345", 4, XB_ROUND_HALF_EVEN, "87943.7630");
    /* 1,000,000.00 USD at 7.1234 is exact. */
    check_mul_round("1000000.00", "7.1234", 2, XB_ROUND_HALF_EVEN, "7123400.00");
    /* One cent at 7.654321 = 0.07654321. */
    check_mul_round("0.01", "7.654321", 2, XB_ROUND_HALF_UP, "0.08");
    check_mul_round("0.01", "7.654321", 2, XB_ROUND_DOWN, "0.07");
    /* KWD (3 decimals) 1234.567 at 23.456789 = 28958.977625363. */
    check_mul_round("1234.567", "23.456789", 2, XB_ROUND_HALF_UP, "28958.98");
    check_mul_round("1234.567", "23.456789", 3, XB_ROUND_HALF_UP, "28958.978");
    /* Exact ties produced by the product: 1.25 * 0.5 = 0.625. */
    check_mul_round("1.25", "0.5", 2, XB_ROUND_HALF_UP, "0.63");
    check_mul_round("1.25", "0.5", 2, XB_ROUND_HALF_EVEN, "0.62");
    check_mul_round("1.25", "0.5", 2, XB_ROUND_HALF_DOWN, "0.62");
    check_mul_round("-1.25", "0.5", 2, XB_ROUND_HALF_UP, "-0.63");
    check_mul_round("-1.25", "0.5", 2, XB_ROUND_HALF_EVEN, "-0.62");
    check_mul_round("-1.25", "0.5", 2, XB_ROUND_FLOOR, "-0.63");
    check_mul_round("-1.25", "0.5", 2, XB_ROUND_CEILING, "-0.62");
    /* Target finer than the product: pads. */
    check_mul_round("1.5", "2", 4, XB_ROUND_DOWN, "3.0000");
}

static void mul_round_needs_gmp(void **state)
{
    (void)state;
    /* 36-digit amount times a 10-decimal rate: the product coefficient has 47 digits.
     * a * 1.0000000001 = a + a/10^10
     *   = 123456789012345678.123456789012345678 + 12345678.9012345678123456789012345678
     *   = 123456789024691357.0246913568246913569012345678 */
    const char *a = "123456789012345678.123456789012345678";
    check_mul_round(a, "1.0000000001", 2, XB_ROUND_HALF_UP, "123456789024691357.02");
    check_mul_round(a, "1.0000000001", 2, XB_ROUND_UP, "123456789024691357.03");
    check_mul_round(a, "1.0000000001", 10, XB_ROUND_HALF_EVEN, "123456789024691357.0246913568");
    check_mul_round(a, "1.0000000001", 20, XB_ROUND_DOWN,
                    "123456789024691357.02469135682469135690");
    check_mul_round("-123456789012345678.123456789012345678", "1.0000000001", 2, XB_ROUND_FLOOR,
                    "-123456789024691357.03");
    check_mul_round("-123456789012345678.123456789012345678", "1.0000000001", 2, XB_ROUND_CEILING,
                    "-123456789024691357.02");
    /* 5e-38 * 0.2 = 1e-38: the product fits 128 bits but the rounding divisor is 10^76. */
    check_mul_round("0.00000000000000000000000000000000000005",
                    "0.20000000000000000000000000000000000000", 0, XB_ROUND_UP, "1");
    check_mul_round("0.00000000000000000000000000000000000005",
                    "0.20000000000000000000000000000000000000", 0, XB_ROUND_HALF_UP, "0");
    check_mul_round("-0.00000000000000000000000000000000000005",
                    "0.20000000000000000000000000000000000000", 0, XB_ROUND_FLOOR, "-1");
    check_mul_round("-0.00000000000000000000000000000000000005",
                    "0.20000000000000000000000000000000000000", 0, XB_ROUND_CEILING, "0");
    /* Products past 128 bits: 500000000000000000005 * 2*10^19 (exact integer result), and ties
     * scaled by a 1 written with 37 decimals (2.5 * 10^37 > 2^127). */
    check_mul_round("50000000000000000000.5", "2.0000000000000000000", 0, XB_ROUND_HALF_EVEN,
                    "100000000000000000001");
    check_mul_round("0.5", "1.0000000000000000000000000000000000000", 0, XB_ROUND_HALF_EVEN, "0");
    check_mul_round("1.5", "1.0000000000000000000000000000000000000", 0, XB_ROUND_HALF_EVEN, "2");
    check_mul_round("-2.5", "1.0000000000000000000000000000000000000", 0, XB_ROUND_HALF_UP, "-3");
    check_mul_round("-2.5", "1.0000000000000000000000000000000000000", 0, XB_ROUND_HALF_DOWN, "-2");

    xb_dec x = D(N38), y = D("10"), r;
    assert_int_equal(xb_dec_mul_round(&r, &x, &y, 0, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    x = D("99999999999999999999");
    assert_int_equal(xb_dec_mul_round(&r, &x, &x, 0, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    assert_int_equal(xb_dec_mul_round(&r, &x, &y, 39, XB_ROUND_HALF_UP), XB_EINVAL);
}

/* ---- division and NAV ---------------------------------------------------------------------- */

static void div_rounding(void **state)
{
    (void)state;
    check_div("2", "3", 2, XB_ROUND_HALF_UP, "0.67");
    check_div("2", "3", 2, XB_ROUND_DOWN, "0.66");
    check_div("-2", "3", 2, XB_ROUND_HALF_EVEN, "-0.67");
    check_div("-1", "3", 2, XB_ROUND_FLOOR, "-0.34");
    check_div("-1", "3", 2, XB_ROUND_CEILING, "-0.33");
    check_div("1", "-3", 2, XB_ROUND_HALF_UP, "-0.33");
    check_div("-1", "-3", 2, XB_ROUND_UP, "0.34");
    /* 1/8 = 0.125, an exact tie at two decimals. */
    const char *eighth[7] = {"0.13", "0.12", "0.12", "0.12", "0.13", "0.12", "0.13"};
    const char *neg_eighth[7] = {"-0.13", "-0.12", "-0.12", "-0.12", "-0.13", "-0.13", "-0.12"};
    for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++) {
        check_div("1", "8", 2, (xb_rounding)m, eighth[m]);
        check_div("-1", "8", 2, (xb_rounding)m, neg_eighth[m]);
        check_div("1", "-8", 2, (xb_rounding)m, neg_eighth[m]);
    }
    /* Dividend finer than the result: the power of ten moves to the divisor (7.5/2 = 3.75). */
    check_div("7.5000000000", "2", 0, XB_ROUND_HALF_UP, "4");
    check_div("7.5000000000", "2", 0, XB_ROUND_DOWN, "3");
    check_div("0.00", "7", 4, XB_ROUND_UP, "0.0000");
    check_div("999999999999999999.99", "7", 19, XB_ROUND_HALF_UP,
              "142857142857142857.1414285714285714286");

    xb_dec a = D("1"), z = D("0.000"), r;
    assert_int_equal(xb_dec_div(&r, &a, &z, 2, XB_ROUND_HALF_UP), XB_EINVAL);
    xb_dec big = D(N38), tiny = D("0.1");
    assert_int_equal(xb_dec_div(&r, &big, &tiny, 0, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    assert_int_equal(xb_dec_div(&r, &a, &tiny, 38, XB_ROUND_HALF_UP), XB_EOVERFLOW);
}

static void div_nav(void **state)
{
    (void)state;
    /* NAV per unit: class net assets / units at 18 decimals, then half-up to 4 as published. */
    xb_dec assets = D("10000.50"), units = D("10000"), raw, nav;
    assert_int_equal(xb_dec_div(&raw, &assets, &units, 18, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&raw, "1.000050000000000000", "nav raw");
    assert_int_equal(xb_dec_round(&nav, &raw, 4, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&nav, "1.0001", "nav half-up"); /* exact tie goes away from zero */
    assert_int_equal(xb_dec_round(&nav, &raw, 4, XB_ROUND_HALF_EVEN), 0);
    assert_dec_text(&nav, "1.0000", "nav half-even");

    /* 1234567890.12 / 987654321.00 = 1.24999998873087500xx...: bracketed by multiplying back,
     * raw * units <= assets < (raw + 10^-18) * units with raw taken with floor. */
    assets = D("1234567890.12");
    units = D("987654321.00");
    assert_int_equal(xb_dec_div(&raw, &assets, &units, 18, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&raw, "1.249999988730875000", "nav 2 raw");
    xb_dec fl, back, fl1, back1, ulp18 = {.coef = 1, .scale = 18};
    assert_int_equal(xb_dec_div(&fl, &assets, &units, 18, XB_ROUND_FLOOR), 0);
    assert_int_equal(xb_dec_mul(&back, &fl, &units), 0);
    assert_int_equal(xb_dec_add(&fl1, &fl, &ulp18), 0);
    assert_int_equal(xb_dec_mul(&back1, &fl1, &units), 0);
    assert_true(xb_dec_cmp(&back, &assets) <= 0 && xb_dec_cmp(&assets, &back1) < 0);
    assert_int_equal(xb_dec_round(&nav, &raw, 4, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&nav, "1.2500", "nav 2");

    /* 100 / 3 units: 33.333...; at 18 decimals the last digit stays 3. */
    check_div("100.00", "3", 18, XB_ROUND_HALF_UP, "33.333333333333333333");
    check_div("200.00", "3", 18, XB_ROUND_HALF_UP, "66.666666666666666667");
    check_div("200.00", "3", 18, XB_ROUND_DOWN, "66.666666666666666666");
}

static void div_needs_gmp(void **state)
{
    (void)state;
    /* 98765432109876.54 / 1234567.891234 at 20 decimals: the scaled dividend is 9.9e39, past
     * 128 bits. The quotient is verified below by multiplying back, not only by its digits. */
    check_div("98765432109876.54", "1234567.891234", 20, XB_ROUND_HALF_UP,
              "80000000.65703680272230033898");
    /* Cross-check against the 128-bit path: floor at 20 decimals, floored again to 10, equals
     * floor at 10 decimals (whose scaled dividend, 9.9e29, fits 128 bits). */
    xb_dec a = D("98765432109876.54"), b = D("1234567.891234"), q20, q20to10, q10;
    assert_int_equal(xb_dec_div(&q20, &a, &b, 20, XB_ROUND_FLOOR), 0);
    assert_int_equal(xb_dec_round(&q20to10, &q20, 10, XB_ROUND_FLOOR), 0);
    assert_int_equal(xb_dec_div(&q10, &a, &b, 10, XB_ROUND_FLOOR), 0);
    assert_int_equal(xb_dec_cmp(&q20to10, &q10), 0);
    assert_dec_text(&q10, "80000000.6570368027", "floor at 10");

    /* 18-digit amount at 20 decimals: 999999999999999999 / 999999999999999999.5
     * = 1 - 0.5/999999999999999999.5 = 0.99999999999999999949999999999999999997...;
     * at 20 decimals half-up gives 0.99999999999999999950. */
    check_div("999999999999999999", "999999999999999999.5", 20, XB_ROUND_HALF_UP,
              "0.99999999999999999950");
    /* Divisor that overflows when scaled: 0.5 (written at 38 decimals) / 10^20-ish at scale 0. */
    const char *half38 = "0.50000000000000000000000000000000000000";
    check_div(half38, "99999999999999999999", 0, XB_ROUND_HALF_UP, "0");
    check_div(half38, "99999999999999999999", 0, XB_ROUND_UP, "1");
    check_div(half38, "-99999999999999999999", 0, XB_ROUND_FLOOR, "-1");
    check_div(half38, "-99999999999999999999", 0, XB_ROUND_CEILING, "0");
    /* Exact ties on the GMP path: 0.625 / 1 (the 1 written with 37 decimals) at 2 decimals
     * scales the dividend to 6.25 * 10^38, past 2^127. */
    const char *one37 = "1.0000000000000000000000000000000000000";
    check_div("0.625", one37, 2, XB_ROUND_HALF_EVEN, "0.62");
    check_div("0.625", one37, 2, XB_ROUND_HALF_UP, "0.63");
    check_div("0.635", one37, 2, XB_ROUND_HALF_EVEN, "0.64");
    check_div("-0.625", one37, 2, XB_ROUND_HALF_DOWN, "-0.62");
    check_div("-0.625", one37, 2, XB_ROUND_HALF_UP, "-0.63");
    check_div("-0.625", one37, 2, XB_ROUND_FLOOR, "-0.63");
}

/* ---- comparisons, digits, rescale ---------------------------------------------------------- */

static void cmp_sign_digits(void **state)
{
    (void)state;
    xb_dec a = D("1.0"), b = D("1.00"), c = D("-1"), h = D("0.5");
    assert_int_equal(xb_dec_cmp(&a, &b), 0);
    assert_int_equal(xb_dec_cmp(&c, &h), -1);
    assert_int_equal(xb_dec_cmp(&h, &c), 1);
    assert_int_equal(xb_dec_sign(&c), -1);
    assert_int_equal(xb_dec_sign(&h), 1);
    xb_dec z = D("-0.000");
    assert_int_equal(xb_dec_sign(&z), 0);
    /* Alignment that cannot fit 128 bits: the magnitude decides. */
    xb_dec big = D("10000000000000000000000000000000000000"),
           nbig = D("-10000000000000000000000000000000000000");
    xb_dec small = D("0.50000000000000000000000000000000000000");
    xb_dec nsmall = D("-0.50000000000000000000000000000000000000");
    assert_int_equal(xb_dec_cmp(&big, &small), 1);
    assert_int_equal(xb_dec_cmp(&small, &big), -1);
    assert_int_equal(xb_dec_cmp(&nbig, &nsmall), -1);
    assert_int_equal(xb_dec_cmp(&nsmall, &nbig), 1);
    xb_dec x = D("2.05"), y = D("2.5");
    assert_int_equal(xb_dec_cmp(&x, &y), -1);

    static const struct {
        const char *in;
        int frac, total;
    } DIGITS[] = {
        {"123.4500", 2, 5}, {"0.05", 2, 2},
        {"100", 0, 3},      {"0", 0, 1},
        {"0.000", 0, 1},    {"-0.0010", 3, 3},
        {"1000.000", 0, 4}, {"999999999999999999.99999", 5, 23},
        {N38, 0, 38},       {"0.00000000000000000000000000000000000001", 38, 38},
    };
    for (size_t i = 0; i < sizeof DIGITS / sizeof DIGITS[0]; i++) {
        xb_dec d = D(DIGITS[i].in);
        if (xb_dec_fraction_digits(&d) != DIGITS[i].frac ||
            xb_dec_total_digits(&d) != DIGITS[i].total)
            fail_msg("%s: digits %d/%d, want %d/%d", DIGITS[i].in, xb_dec_fraction_digits(&d),
                     xb_dec_total_digits(&d), DIGITS[i].frac, DIGITS[i].total);
    }
}

static void rescale_normalize(void **state)
{
    (void)state;
    xb_dec a = D("1.50"), r;
    assert_int_equal(xb_dec_rescale(&r, &a, 1), 0);
    assert_dec_text(&r, "1.5", "rescale down");
    assert_int_equal(xb_dec_rescale(&r, &a, 5), 0);
    assert_dec_text(&r, "1.50000", "rescale up");
    assert_int_equal(xb_dec_rescale(&r, &a, 0), XB_EINVAL); /* would cut the 5 */
    xb_dec big = D("1234567890123456789012345678901234567");
    assert_int_equal(xb_dec_rescale(&r, &big, 2), XB_EOVERFLOW);
    assert_int_equal(xb_dec_rescale(&r, &big, 1), 0);
    xb_dec_normalize(&r, &a);
    assert_dec_text(&r, "1.5", "normalize");
    a = D("-100.000");
    xb_dec_normalize(&r, &a);
    assert_dec_text(&r, "-100", "normalize keeps integer zeros");
    a = D("0.000");
    xb_dec_normalize(&r, &a);
    assert_int_equal(r.scale, 0);
}

/* ---- aliasing and argument checks --------------------------------------------------------- */

static void in_place_and_bad_arguments(void **state)
{
    (void)state;
    /* out may alias either operand: every operation reads its inputs before writing. */
    xb_dec a = D("1.5"), b = D("0.25");
    assert_int_equal(xb_dec_add(&a, &a, &a), 0);
    assert_dec_text(&a, "3.0", "a += a");
    assert_int_equal(xb_dec_sub(&b, &a, &b), 0);
    assert_dec_text(&b, "2.75", "b = a - b");
    assert_int_equal(xb_dec_mul(&a, &a, &b), 0);
    assert_dec_text(&a, "8.250", "a *= b");
    assert_int_equal(xb_dec_mul_round(&a, &a, &a, 1, XB_ROUND_HALF_UP), 0);
    assert_dec_text(&a, "68.1", "a = a*a, 68.0625 -> 68.1"); /* 8.25^2 = 68.0625 */
    assert_int_equal(xb_dec_div(&a, &a, &b, 3, XB_ROUND_DOWN), 0);
    assert_dec_text(&a, "24.763", "a /= b, 68.1 / 2.75 = 24.7636..."); /* 2.75*24.763 = 68.09825 */
    assert_int_equal(xb_dec_rescale(&a, &a, 5), 0);
    assert_dec_text(&a, "24.76300", "rescale in place");
    xb_dec_normalize(&a, &a);
    assert_dec_text(&a, "24.763", "normalize in place");

    /* Malformed values and modes are refused, never indexed past a table. */
    xb_dec wide = {.coef = 1, .scale = 0}, r;
    wide.coef = (__int128)10000000000000000000ULL * (__int128)10000000000000000000ULL; /* 10^38 */
    assert_int_equal(xb_dec_add(&r, &wide, &b), XB_EINVAL);
    assert_int_equal(xb_dec_mul(&r, &b, &wide), XB_EINVAL);
    assert_int_equal(xb_dec_round(&r, &wide, 0, XB_ROUND_DOWN), XB_EINVAL);
    char buf[64];
    assert_int_equal(xb_dec_format(buf, sizeof buf, &wide), XB_EINVAL);
    xb_dec negscale = {.coef = 5, .scale = -2};
    assert_int_equal(xb_dec_div(&r, &b, &negscale, 2, XB_ROUND_DOWN), XB_EINVAL);
    assert_int_equal(xb_dec_mul_round(&r, &b, &b, 2, (xb_rounding)7), XB_EINVAL);
    assert_int_equal(xb_dec_div(&r, &b, &b, 2, (xb_rounding)-1), XB_EINVAL);
    assert_int_equal(xb_dec_div(&r, &b, &b, 39, XB_ROUND_DOWN), XB_EINVAL);
    assert_int_equal(xb_dec_rescale(&r, &b, 39), XB_EINVAL);
    assert_int_equal(xb_dec_add(NULL, &b, &b), XB_EINVAL);
}

/* ---- properties, seeded: div and round agree with exact multiplication --------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random decimal of 1..max_digits (<= 36) digits and scale 0..18, either sign. */
static xb_dec random_dec(int max_digits)
{
    static const uint64_t P18 = 1000000000000000000ULL;
    int k = 1 + (int)(rng() % (uint64_t)max_digits);
    __int128 c = (__int128)(rng() % P18);
    if (k > 18)
        c = c * (__int128)P18 + (__int128)(rng() % P18);
    __int128 limit = 1;
    for (int i = 0; i < k; i++)
        limit *= 10;
    xb_dec d = {.coef = c % limit, .scale = (int)(rng() % 19)};
    if (rng() & 1)
        d.coef = -d.coef;
    return d;
}

/* floor(a/b) <= a/b < floor + ulp, and ceiling/half-* are floor or floor+ulp as the exact
 * remainder dictates. Checked with exact mul/sub/cmp, independent of the division code. */
static void property_div_brackets_quotient(void **state)
{
    (void)state;
    int checked = 0;
    for (int i = 0; i < 4000; i++) {
        xb_dec a = random_dec(36), b = random_dec(18);
        if (b.coef == 0)
            continue;
        int scale = (int)(rng() % 25);
        xb_dec fl, ce, hu, he, hd, ulp = {.coef = 1, .scale = scale};
        if (xb_dec_div(&fl, &a, &b, scale, XB_ROUND_FLOOR) != 0)
            continue; /* quotient too wide for 38 digits: a legal refusal */
        assert_int_equal(xb_dec_div(&ce, &a, &b, scale, XB_ROUND_CEILING), 0);
        assert_int_equal(xb_dec_div(&hu, &a, &b, scale, XB_ROUND_HALF_UP), 0);
        assert_int_equal(xb_dec_div(&he, &a, &b, scale, XB_ROUND_HALF_EVEN), 0);
        assert_int_equal(xb_dec_div(&hd, &a, &b, scale, XB_ROUND_HALF_DOWN), 0);
        /* |b| * floor <= a' where the comparison is done on a*sign(b) to keep direction. */
        xb_dec bf, bf1, fl1;
        assert_int_equal(xb_dec_add(&fl1, &fl, &ulp), 0);
        if (xb_dec_mul(&bf, &fl, &b) != 0 || xb_dec_mul(&bf1, &fl1, &b) != 0)
            continue;
        int sb = xb_dec_sign(&b);
        assert_true(xb_dec_cmp(&bf, &a) * sb <= 0);
        assert_true(xb_dec_cmp(&a, &bf1) * sb < 0);
        bool exact = xb_dec_cmp(&bf, &a) == 0;
        assert_int_equal(xb_dec_cmp(&ce, exact ? &fl : &fl1), 0);
        /* Distance from floor compared with half a ulp: 2*(a - b*fl) vs (b*fl1 - b*fl). */
        xb_dec below, span, twice;
        assert_int_equal(xb_dec_sub(&below, &a, &bf), 0);
        assert_int_equal(xb_dec_sub(&span, &bf1, &bf), 0);
        assert_int_equal(xb_dec_add(&twice, &below, &below), 0);
        int half = xb_dec_cmp(&twice, &span) * sb; /* <0 nearer floor, >0 nearer floor+ulp */
        bool neg = xb_dec_sign(&fl1) <= 0;         /* the exact value lies in (fl, fl1] */
        const xb_dec *up_hu = half > 0 || (half == 0 && !neg) ? &fl1 : &fl;
        const xb_dec *up_hd = half > 0 || (half == 0 && neg) ? &fl1 : &fl;
        if (!exact) {
            assert_int_equal(xb_dec_cmp(&hu, up_hu), 0);
            assert_int_equal(xb_dec_cmp(&hd, up_hd), 0);
            if (half != 0)
                assert_int_equal(xb_dec_cmp(&he, up_hu), 0);
            else
                assert_true((he.coef & 1) == 0);
        } else {
            assert_int_equal(xb_dec_cmp(&hu, &fl), 0);
            assert_int_equal(xb_dec_cmp(&he, &fl), 0);
        }
        checked++;
    }
    print_message("div property checked %d of 4000\n", checked);
    assert_true(checked > 2000); /* the property really ran on most samples */
}

/* mul_round against the exact product: floor <= a*b < floor + ulp, and every other mode picks
 * floor or floor + ulp as the exact distance (computed with sub/add/cmp) says. */
static void property_mul_round_brackets_product(void **state)
{
    (void)state;
    int checked = 0;
    for (int i = 0; i < 4000; i++) {
        xb_dec a = random_dec(18), b = random_dec(18), p;
        if (xb_dec_mul(&p, &a, &b) != 0)
            continue;
        int scale = (int)(rng() % 22);
        xb_dec r[7], ulp = {.coef = 1, .scale = scale}, fl1, below, twice;
        int rc = 0;
        for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++)
            rc |= xb_dec_mul_round(&r[m], &a, &b, scale, (xb_rounding)m);
        if (rc != 0)
            continue;
        const xb_dec *fl = &r[XB_ROUND_FLOOR];
        assert_int_equal(xb_dec_add(&fl1, fl, &ulp), 0);
        assert_true(xb_dec_cmp(fl, &p) <= 0 && xb_dec_cmp(&p, &fl1) < 0);
        assert_int_equal(xb_dec_sub(&below, &p, fl), 0);
        assert_int_equal(xb_dec_add(&twice, &below, &below), 0);
        bool exact = xb_dec_sign(&below) == 0;
        int half = xb_dec_cmp(&twice, &ulp);
        bool neg = xb_dec_sign(&p) < 0;
        const xb_dec *toward0 = neg ? &fl1 : fl, *away = neg ? fl : &fl1;
        if (exact) {
            for (int m = XB_ROUND_HALF_UP; m <= XB_ROUND_CEILING; m++)
                assert_int_equal(xb_dec_cmp(&r[m], &p), 0);
        } else {
            assert_int_equal(xb_dec_cmp(&r[XB_ROUND_CEILING], &fl1), 0);
            assert_int_equal(xb_dec_cmp(&r[XB_ROUND_DOWN], toward0), 0);
            assert_int_equal(xb_dec_cmp(&r[XB_ROUND_UP], away), 0);
            const xb_dec *nearest = half < 0 ? fl : &fl1;
            assert_int_equal(xb_dec_cmp(&r[XB_ROUND_HALF_UP], half == 0 ? away : nearest), 0);
            assert_int_equal(xb_dec_cmp(&r[XB_ROUND_HALF_DOWN], half == 0 ? toward0 : nearest), 0);
            if (half == 0)
                assert_true((r[XB_ROUND_HALF_EVEN].coef & 1) == 0);
            else
                assert_int_equal(xb_dec_cmp(&r[XB_ROUND_HALF_EVEN], nearest), 0);
        }
        checked++;
    }
    print_message("mul_round property checked %d of 4000\n", checked);
    assert_true(checked > 2000);
}

/* add and sub are exact inverses whenever both succeed. */
static void property_add_sub_inverse(void **state)
{
    (void)state;
    for (int i = 0; i < 4000; i++) {
        xb_dec a = random_dec(36), b = random_dec(36), s, back;
        if (xb_dec_add(&s, &a, &b) != 0)
            continue;
        assert_int_equal(xb_dec_sub(&back, &s, &b), 0);
        assert_int_equal(xb_dec_cmp(&back, &a), 0);
        assert_int_equal(xb_dec_cmp(&s, &a), xb_dec_sign(&b));
    }
}

/* round(x) for each mode equals mul_round(x, 1) and div(x, 1): three code paths, one answer. */
static void property_round_paths_agree(void **state)
{
    (void)state;
    xb_dec one = D("1"), one38 = D("1.0000000000000000000000000000000000000");
    for (int i = 0; i < 3000; i++) {
        xb_dec x = random_dec(36);
        int scale = (int)(rng() % 20);
        xb_rounding m = (xb_rounding)(rng() % 7);
        xb_dec r1, r2, r3, r4;
        int rc1 = xb_dec_round(&r1, &x, scale, m);
        int rc2 = xb_dec_mul_round(&r2, &x, &one, scale, m);
        int rc3 = xb_dec_div(&r3, &x, &one, scale, m);
        int rc4 = xb_dec_mul_round(&r4, &x, &one38, scale, m); /* forces GMP for wide x */
        assert_int_equal(rc1, rc2);
        assert_int_equal(rc1, rc3);
        assert_int_equal(rc1, rc4);
        if (rc1 == 0) {
            assert_true(r1.coef == r2.coef && r1.coef == r3.coef && r1.coef == r4.coef);
            assert_int_equal(r1.scale, scale);
        }
    }
}

/* ---- ISO 4217 ------------------------------------------------------------------------------ */

static void currency_table(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        int minor;
    } EXPECT[] = {
        {"CNY", 2},  {"USD", 2},  {"EUR", 2},  {"HKD", 2},  {"SGD", 2},  {"GBP", 2}, {"JPY", 0},
        {"KRW", 0},  {"KWD", 3},  {"BHD", 3},  {"JOD", 3},  {"OMR", 3},  {"TND", 3}, {"LYD", 3},
        {"IQD", 3},  {"CLF", 4},  {"UYW", 4},  {"CHF", 2},  {"AUD", 2},  {"CAD", 2}, {"NZD", 2},
        {"MOP", 2},  {"TWD", 2},  {"RUB", 2},  {"INR", 2},  {"THB", 2},  {"MYR", 2}, {"IDR", 2},
        {"PHP", 2},  {"VND", 0},  {"AED", 2},  {"SAR", 2},  {"ZAR", 2},  {"SEK", 2}, {"NOK", 2},
        {"DKK", 2},  {"PLN", 2},  {"CZK", 2},  {"HUF", 2},  {"TRY", 2},  {"BRL", 2}, {"MXN", 2},
        {"ISK", 0},  {"XOF", 0},  {"XAF", 0},  {"XPF", 0},  {"CLP", 0},  {"PYG", 0}, {"UGX", 0},
        {"RWF", 0},  {"KMF", 0},  {"GNF", 0},  {"DJF", 0},  {"VUV", 0},  {"BIF", 0}, {"UYI", 0},
        {"XAU", -1}, {"XAG", -1}, {"XPD", -1}, {"XPT", -1}, {"XDR", -1},
    };
    for (size_t i = 0; i < sizeof EXPECT / sizeof EXPECT[0]; i++) {
        const xb_currency *c = xb_currency_find(EXPECT[i].code);
        if (!c)
            fail_msg("%s missing", EXPECT[i].code);
        assert_string_equal(c->code, EXPECT[i].code);
        if (c->minor_units != EXPECT[i].minor)
            fail_msg("%s minor units %d, want %d", c->code, c->minor_units, EXPECT[i].minor);
    }
    assert_true(xb_currency_find("XAU")->commodity);
    assert_true(xb_currency_find("XPT")->commodity);
    assert_false(xb_currency_find("XDR")->commodity);
    assert_false(xb_currency_find("CNY")->commodity);

    const char *absent[] = {"CNH", "HRK", "VEF",  "MRO", "XXX",    "XTS", "cny",
                            "Cny", "CN",  "CNYX", "",    "C\xe4Y", "ABC"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (xb_currency_find(absent[i]))
            fail_msg("'%s' must not be found", absent[i]);
    assert_null(xb_currency_find(NULL));

    /* The table is strictly sorted (bsearch depends on it), all codes well-formed, and
     * commodities are exactly the four precious metals. */
    size_t n = xb_currency_count(), metals = 0;
    assert_true(n >= 170);
    for (size_t i = 0; i < n; i++) {
        const xb_currency *c = xb_currency_at(i);
        assert_int_equal(strlen(c->code), 3);
        assert_ptr_equal(xb_currency_find(c->code), c);
        if (i > 0)
            assert_true(strcmp(xb_currency_at(i - 1)->code, c->code) < 0);
        assert_true(c->minor_units >= -1 && c->minor_units <= 4);
        metals += c->commodity;
    }
    assert_int_equal(metals, 4);
    assert_null(xb_currency_at(n));
}

/* ---- amounts ------------------------------------------------------------------------------- */

static void check_amount(const char *ccy, const char *text, const char *want)
{
    xb_amount a;
    xb_error err;
    xb_error_clear(&err);
    if (xb_amount_parse(&a, ccy, text, false, &err) != 0)
        fail_msg("%s %s: %s", ccy, text, err.message);
    assert_string_equal(a.ccy, ccy);
    char buf[64];
    int n = xb_amount_format(buf, sizeof buf, &a);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void check_amount_error(const char *ccy, const char *text, bool allow_commodity, int code,
                               const char *message)
{
    xb_amount a;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_amount_parse(&a, ccy, text, allow_commodity, &err);
    if (rc != code || err.code != code)
        fail_msg("%s %s: rc %d, want %d (%s)", ccy ? ccy : "(null)", text, rc, code, err.message);
    if (!strstr(err.message, message))
        fail_msg("%s %s: message '%s' lacks '%s'", ccy ? ccy : "(null)", text, err.message,
                 message);
}

static void amount_parse_and_format(void **state)
{
    (void)state;
    check_amount("CNY", "1234.5", "1234.50");
    check_amount("CNY", "1234.50", "1234.50");
    check_amount("CNY", "100.120", "100.12"); /* trailing zero is not significant */
    check_amount("CNY", "0", "0.00");
    check_amount("CNY", "999999999999999999.99", "999999999999999999.99");
    check_amount("JPY", "1000", "1000");
    check_amount("JPY", "1000.00", "1000");
    check_amount("KWD", "1.5", "1.500");
    check_amount("KWD", "1.234", "1.234");
    check_amount("CLF", "0.0001", "0.0001");
    check_amount("USD", "007.10", "7.10");

    /* Stored at the currency exponent: coef is minor units. */
    xb_amount a;
    assert_int_equal(xb_amount_parse(&a, "CNY", "1234.5", false, NULL), 0);
    assert_true(a.value.coef == 123450);
    assert_int_equal(a.value.scale, 2);

    /* Commodities only on request, and then printed at their own scale. */
    assert_int_equal(xb_amount_parse(&a, "XAU", "10.125", true, NULL), 0);
    char buf[32];
    assert_int_equal(xb_amount_format(buf, sizeof buf, &a), 6);
    assert_string_equal(buf, "10.125");
    /* XDR has no minor units in ISO: any precision is kept. */
    assert_int_equal(xb_amount_parse(&a, "XDR", "1.23456", false, NULL), 0);
    assert_int_equal(xb_amount_format(buf, sizeof buf, &a), 7);
}

static void amount_errors(void **state)
{
    (void)state;
    check_amount_error("CNY", "100.123", false, XB_ERULE,
                       "CNY allows 2 decimals, got 3 in 100.123");
    check_amount_error("JPY", "1000.5", false, XB_ERULE, "JPY allows 0 decimals, got 1 in 1000.5");
    check_amount_error("KWD", "1.2345", false, XB_ERULE, "KWD allows 3 decimals, got 4");
    check_amount_error("CNH", "100.00", false, XB_ERULE, "CNH is not ISO 4217: use CNY");
    check_amount_error("ABC", "100.00", false, XB_ERULE, "unknown currency code 'ABC'");
    check_amount_error("cny", "100.00", false, XB_ERULE, "unknown currency code 'cny'");
    check_amount_error("人民币", "100.00", false, XB_ERULE, "unknown currency code");
    check_amount_error(NULL, "100.00", false, XB_ERULE, "unknown currency code");
    check_amount_error("XAU", "10.5", false, XB_ERULE, "XAU is a commodity");
    check_amount_error("XAG", "1", false, XB_ERULE, "commodity");
    check_amount_error("CNY", "-1.00", false, XB_ERULE, "must not be negative, got -1.00");
    check_amount_error("CNY", "-0.01", false, XB_ERULE, "negative");
    check_amount_error("CNY", "1e3", false, XB_EINVAL, "exponent");
    check_amount_error("CNY", "一百元", false, XB_EINVAL, "CNY amount");
    check_amount_error("CNY", "", false, XB_EINVAL, "empty");
    check_amount_error("CNY", " 100", false, XB_EINVAL, "invalid character");
    check_amount_error("CNY", "9" N38, false, XB_EINVAL, "more than 38");
    /* 38 digits parse as a decimal but have no room for CNY's two decimals. */
    check_amount_error("CNY", N38, false, XB_EINVAL, "too large");

    char buf[16];
    xb_amount a;
    assert_int_equal(xb_amount_parse(&a, "CNY", "1234567.89", false, NULL), 0);
    assert_int_equal(xb_amount_format(buf, 10, &a), XB_ELIMIT);
    assert_int_equal(xb_amount_format(buf, 11, &a), 10);
    /* An amount built by arithmetic with more decimals than CNY allows is refused, not rounded. */
    a.value = D("1.005");
    assert_int_equal(xb_amount_format(buf, sizeof buf, &a), XB_EINVAL);
    memcpy(a.ccy, "CNH", 4);
    a.value = D("1.00");
    assert_int_equal(xb_amount_format(buf, sizeof buf, &a), XB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_format_roundtrips),
        cmocka_unit_test(parse_trailing_zeros_beyond_38_keep_value),
        cmocka_unit_test(parse_rejects_malformed),
        cmocka_unit_test(parse_overflow_is_reported),
        cmocka_unit_test(format_limits),
        cmocka_unit_test(add_sub_exact),
        cmocka_unit_test(add_sub_overflow),
        cmocka_unit_test(mul_exact),
        cmocka_unit_test(round_every_mode_at_halves),
        cmocka_unit_test(round_two_decimals),
        cmocka_unit_test(round_pads_and_limits),
        cmocka_unit_test(rounding_names),
        cmocka_unit_test(mul_round_fx_rates),
        cmocka_unit_test(mul_round_needs_gmp),
        cmocka_unit_test(div_rounding),
        cmocka_unit_test(div_nav),
        cmocka_unit_test(div_needs_gmp),
        cmocka_unit_test(cmp_sign_digits),
        cmocka_unit_test(rescale_normalize),
        cmocka_unit_test(in_place_and_bad_arguments),
        cmocka_unit_test(property_div_brackets_quotient),
        cmocka_unit_test(property_round_paths_agree),
        cmocka_unit_test(property_mul_round_brackets_product),
        cmocka_unit_test(property_add_sub_inverse),
        cmocka_unit_test(currency_table),
        cmocka_unit_test(amount_parse_and_format),
        cmocka_unit_test(amount_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
