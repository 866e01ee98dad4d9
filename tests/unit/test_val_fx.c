/* test_val_fx.c — FX table (CFETS CSV, per-100 quotes, crosses through CNY), price table and the
 * exact multiply-divide. Expected figures are worked by hand in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_val_common.h"
#include "valuation/decmath.h"

static xb_dec D(const char *s)
{
    xb_dec d;
    xb_error err;
    assert_int_equal(xb_dec_parse_cstr(&d, s, &err), 0);
    return d;
}

static xb_fx_table *rates(void)
{
    xb_fx_table *t = NULL;
    xb_error err;
    assert_int_equal(xb_fx_new(&t, &err), 0);
    assert_int_equal(xb_fx_load_file(t, FUNDS "rates-2025-01-02.csv", &err), 0);
    return t;
}

static void loads_cfets_file_and_normalises_per_100(void **state)
{
    xb_fx_table *t = rates();
    xb_error err;
    xb_dec r;
    assert_int_equal(xb_fx_count(t), 6);
    assert_int_equal(xb_fx_lookup(&r, t, "2025-01-02", "USD", &err), 0);
    assert_dec(&r, "7.1879");
    /* JPY is quoted 4.6233 CNY per 100 JPY: one yen is 0.046233 CNY, exactly. */
    assert_int_equal(xb_fx_lookup(&r, t, "2025-01-02", "JPY", &err), 0);
    assert_dec(&r, "0.046233");
    assert_int_equal(xb_fx_lookup(&r, t, "2025-01-03", "HKD", &err), 0);
    assert_dec(&r, "0.92611");
    assert_int_equal(xb_fx_lookup(&r, t, "2025-01-02", "CNY", &err), 0); /* implicit 1 */
    assert_dec(&r, "1");
    xb_fx_free(t);
}

static void missing_rate_is_not_guessed(void **state)
{
    xb_fx_table *t = rates();
    xb_error err;
    xb_dec r;
    /* EUR exists on 01-02 but not 01-03: no nearest-date fallback. */
    assert_int_equal(xb_fx_lookup(&r, t, "2025-01-03", "EUR", &err), XB_ENOTFOUND);
    assert_non_null(strstr(err.message, "EUR"));
    assert_non_null(strstr(err.message, "2025-01-03"));
    /* A cross needs both legs. */
    assert_int_equal(xb_fx_cross(&r, t, "2025-01-03", "USD", "EUR", 10, XB_ROUND_HALF_UP, &err),
                     XB_ENOTFOUND);
    xb_fx_free(t);
}

static void cross_rates_go_through_cny_exactly(void **state)
{
    xb_fx_table *t = rates();
    xb_error err;
    xb_dec r;
    /* EUR per USD = 7.1879 / 7.5257 = 0.95511381001102887...; to 10 dp half-up 0.9551138100. */
    assert_int_equal(xb_fx_cross(&r, t, "2025-01-02", "USD", "EUR", 10, XB_ROUND_HALF_UP, &err), 0);
    assert_dec(&r, "0.9551138100");
    /* 23,450,000 JPY -> USD: 23,450,000 x 0.046233 = 1,084,163.85 CNY; / 7.1879 =
     * 150,831.7937088718...; one rounding to cents gives 150,831.79 (rounding the CNY leg first
     * would give the same here, but the code must not round twice: see the 18 dp figure). */
    xb_amount in = {{23450000, 0}, "JPY"}, out;
    assert_int_equal(
        xb_fx_convert_amount(&out, t, "2025-01-02", &in, "USD", XB_ROUND_HALF_UP, &err), 0);
    assert_dec(&out.value, "150831.79");
    assert_string_equal(out.ccy, "USD");
    xb_dec v, amt = D("23450000");
    assert_int_equal(
        xb_fx_convert(&v, t, "2025-01-02", &amt, "JPY", "USD", 18, XB_ROUND_HALF_EVEN, &err), 0);
    assert_dec(&v, "150831.793708871854088120");
    xb_fx_free(t);
}

static void refuses_conflicts_and_bad_lines(void **state)
{
    xb_fx_table *t = NULL;
    xb_error err;
    assert_int_equal(xb_fx_new(&t, &err), 0);
    const char *same = "2025-01-02,USD,7.1879\n2025-01-02,USD,7.18790\n";
    assert_int_equal(xb_fx_load_buffer(t, same, strlen(same), "topic:fx", &err), 0);
    assert_int_equal(xb_fx_count(t), 1);
    const char *conflict = "2025-01-02,USD,7.1880\n";
    assert_int_equal(xb_fx_load_buffer(t, conflict, strlen(conflict), "topic:fx", &err), XB_EINVAL);
    assert_non_null(strstr(err.message, "topic:fx:1"));
    static const char *bad[] = {
        "2025-01-02,CNH,1\n",       /* not ISO 4217 */
        "2025-02-30,USD,7.1\n",     /* no such date */
        "2025-01-02,USD,-7.1\n",    /* negative */
        "2025-01-02,USD,7.1e0\n",   /* exponent: not an ISO decimal */
        "2025-01-02,JPY,4.62,3\n",  /* per must be a power of ten */
        "2025-01-02,USD\n",         /* too few fields */
        "2025-01-02,\"USD\",7.1\n", /* quoting is refused */
        "2025-01-02,CNY,7.1\n",     /* CNY per CNY is 1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xb_error_clear(&err);
        assert_int_not_equal(xb_fx_load_buffer(t, bad[i], strlen(bad[i]), "bad", &err), 0);
        assert_true(err.message[0] != '\0');
    }
    assert_int_equal(xb_fx_count(t), 1);
    assert_int_equal(xb_fx_load_file(t, FUNDS "no-such-rates.csv", &err), XB_EIO);
    xb_fx_free(t);
}

static void price_table_lookup_and_conflicts(void **state)
{
    xb_price_table *p = NULL;
    xb_error err;
    xb_amount a;
    assert_int_equal(xb_price_table_new(&p, &err), 0);
    assert_int_equal(xb_price_table_load_file(p, FUNDS "prices-2025-01-02.csv", &err), 0);
    assert_int_equal(xb_price_table_count(p), 2);
    assert_int_equal(xb_price_table_lookup(&a, p, "2025-01-02", "CNE0000HD013", &err), 0);
    assert_dec(&a.value, "5.678");
    assert_string_equal(a.ccy, "CNY");
    /* The 01-01 price of CNE0000HA011 must not serve 01-02. */
    assert_int_equal(xb_price_table_lookup(&a, p, "2025-01-02", "CNE0000HA011", &err),
                     XB_ENOTFOUND);
    const char *dup = "2025-01-02,X1,1.00,CNY\n2025-01-02,X1,1.01,CNY\n";
    assert_int_equal(xb_price_table_load_buffer(p, dup, strlen(dup), "dup", &err), XB_EINVAL);
    const char *fields = "2025-01-02,X1,1.00\n";
    assert_int_equal(xb_price_table_load_buffer(p, fields, strlen(fields), "f", &err), XB_EINVAL);
    assert_int_equal(xb_price_table_lookup(&a, NULL, "2025-01-02", "X1", &err), XB_ENOTFOUND);
    xb_price_table_free(p);
}

static void muldiv_rounds_once_in_every_mode(void **state)
{
    /* 1,234,650 / 1,000,000 = 1.23465 exactly: a tie at 4 dp. */
    xb_dec a = D("1234650.00"), u = D("1000000"), r;
    struct {
        xb_rounding mode;
        const char *pos, *neg;
    } cases[] = {
        {XB_ROUND_HALF_UP, "1.2347", "-1.2347"},   {XB_ROUND_HALF_EVEN, "1.2346", "-1.2346"},
        {XB_ROUND_HALF_DOWN, "1.2346", "-1.2346"}, {XB_ROUND_DOWN, "1.2346", "-1.2346"},
        {XB_ROUND_UP, "1.2347", "-1.2347"},        {XB_ROUND_FLOOR, "1.2346", "-1.2347"},
        {XB_ROUND_CEILING, "1.2347", "-1.2346"},
    };
    xb_dec na = a;
    na.coef = -na.coef;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(xb_val_div(&r, &a, &u, 4, cases[i].mode), 0);
        assert_dec(&r, cases[i].pos);
        assert_int_equal(xb_val_div(&r, &na, &u, 4, cases[i].mode), 0);
        assert_dec(&r, cases[i].neg);
    }
    /* Just above the tie (…650001 / 10^6) half-down must go up. */
    xb_dec b = D("1234650.001");
    assert_int_equal(xb_val_div(&r, &b, &u, 4, XB_ROUND_HALF_DOWN), 0);
    assert_dec(&r, "1.2347");
    /* 10^20 x 10^20 at 18 dp does not fit 38 digits: an error, never a wrapped value. */
    xb_dec big = D("100000000000000000000");
    assert_int_equal(xb_val_mul(&r, &big, &big, 18, XB_ROUND_HALF_UP), XB_EOVERFLOW);
    /* but a product far beyond 128 bits that divides back down is exact:
     * 65,488,943.16 (18 dp) x 51,200,000 / 65,500,000 = 51,191,357.096061068702290076 (18 dp,
     * half-even; the digits after the 18th are 3358778625...). */
    xb_dec tot = D("65488943.160000000000000000"), w = D("51200000.00"), sum = D("65500000.00");
    assert_int_equal(xb_val_muldiv(&r, &tot, &w, &sum, 18, XB_ROUND_HALF_EVEN), 0);
    assert_dec(&r, "51191357.096061068702290076");
    xb_dec zero = D("0");
    assert_int_equal(xb_val_div(&r, &a, &zero, 4, XB_ROUND_HALF_UP), XB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_cfets_file_and_normalises_per_100),
        cmocka_unit_test(missing_rate_is_not_guessed),
        cmocka_unit_test(cross_rates_go_through_cny_exactly),
        cmocka_unit_test(refuses_conflicts_and_bad_lines),
        cmocka_unit_test(price_table_lookup_and_conflicts),
        cmocka_unit_test(muldiv_rounds_once_in_every_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
