/* test_val_nav.c — the NAV engine on hand-computed funds (fixtures/funds, semt.003 statements).
 *
 * Every expected figure below was worked out by hand from the fixture files (the working is in
 * the comments), not taken from the code's output. Intermediates carry 18 decimals, ties-to-even;
 * published NAVs are rounded once at 4 dp half-up, amounts at the currency's minor unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_val_common.h"

#define DAY "2025-01-02"
#define RATES FUNDS "rates-2025-01-02.csv"
#define PRICES FUNDS "prices-2025-01-02.csv"

static int compute(xb_nav_result *r, val_inputs *in, bool force, xb_buf *explain, xb_error *err)
{
    xb_nav_opts o = {force, explain, NULL, NULL};
    return xb_nav_compute(r, &in->fund, &in->holdings, in->prices, in->fx, DAY, &o, err);
}

static void statements_of_all_three_versions_are_read(void **state)
{
    val_inputs a, b, c;
    val_load(&a, FUNDS "cross-usd.yaml", STMTS "semt.003-cross-v04.xml", RATES, NULL);
    val_load(&b, FUNDS "one-class.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    val_load(&c, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml", RATES, NULL);
    assert_string_equal(a.holdings.definition, "semt.003.001.04");
    assert_string_equal(b.holdings.definition, "semt.003.001.11");
    assert_string_equal(c.holdings.definition, "semt.003.001.12");
    assert_int_equal(a.holdings.n, 3);
    assert_int_equal(b.holdings.n, 3);
    assert_int_equal(c.holdings.n, 4);
    /* v04: an instrument without ISIN is keyed by its OthrId. */
    assert_string_equal(a.holdings.items[2].instrument, "CN-PB-2031-07");
    assert_string_equal(a.holdings.items[0].price_ccy, "JPY");
    /* v11 bond: face amount, Rate price 99.5 (% of face), accrued income from InstrmCcyAmts. */
    const xb_holding *bond = &b.holdings.items[2];
    assert_int_equal(bond->qty_kind, XB_QTY_FACE);
    assert_int_equal(bond->price_kind, XB_STMT_PRICE_RATE);
    assert_true(bond->has_accrued);
    assert_dec(&bond->accrued.value, "12000.00");
    /* v12: UknwnInd price; Chinese description kept in UTF-8. */
    assert_int_equal(c.holdings.items[3].price_kind, XB_STMT_PRICE_NONE);
    assert_non_null(strstr(c.holdings.items[0].desc, "长江水电"));
    assert_string_equal(c.holdings.stmt_date, DAY);
    val_free(&a);
    val_free(&b);
    val_free(&c);
}

/* one-class.yaml + semt.003-one-class-v11.xml:
 *   holdings: 100,000 x 12.34 = 1,234,000.00; 50,000 x 20.00 = 1,000,000.00;
 *             bond 1,000,000 face x 99.5 % = 995,000.00            -> 3,229,000.00
 *   accrued:  bond 12,000.00 + fund 1,000.00                        ->    13,000.00
 *   cash 500,000.00, liabilities 41,000.00
 *   total net assets = 3,229,000 + 500,000 + 13,000 - 41,000        =  3,701,000.00 CNY
 *   one class takes it all; fees = 3,701,000 x (0.0120 + 0.0025) x 1 / 365
 *        = 53,664.5 / 365 = 147.0260273972602739726... -> 147.026027397260273973 (18 dp)
 *   class net = 3,700,852.973972602739726027
 *   NAV = 3,700,852.973972602739726027 / 3,650,000 = 1.0139323216363... -> 1.0139
 *   movement vs 1.0110 = +0.2868 % (within 5 %) */
static void one_class_fund(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "one-class.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.holdings_base, "3229000.000000000000000000");
    assert_dec(&r.total_base, "3701000.000000000000000000");
    assert_int_equal(r.n_classes, 1);
    const xb_nav_class *a = &r.classes[0];
    assert_dec(&a->fees_base, "147.026027397260273973");
    assert_dec(&a->net_base, "3700852.973972602739726027");
    assert_dec(&a->nav, "1.0139");
    assert_dec(&a->nav_cny, "1.0139");
    assert_dec(&a->ttl_nav, "3700852.97");
    assert_false(a->breach);
    assert_false(r.breach);
    assert_true(r.official);
    assert_false(r.estimated);
    xb_nav_result_free(&r);
    val_free(&in);
}

/* lg-gbf-01.yaml (the fund) + semt.003-lg-gbf-01-v12.xml + prices + rates:
 *   holdings: 2,000,000 x 28.50 CNY                        = 57,000,000.00
 *             100,000 x 38.20 HKD = 3,820,000 HKD x 0.92604  =  3,537,472.80
 *             bond 1,500,000 face x 100.25 %                 =  1,503,750.00
 *             10,000 x 5.678 (price file; statement: unknown) =     56,780.00
 *                                                            = 62,098,002.80
 *   accrued 21,369.86 (bond) + 8,200.50 (fund)               =     29,570.36
 *   cash 1,250,000.00 + 300,000 USD x 7.1879                 =  3,406,370.00
 *   liabilities                                              =     45,000.00
 *   total net assets                                         = 65,488,943.16 CNY
 *   weights by prev_net_assets: 51.2 m and 14.3 m of 65.5 m
 *   A-CNY share = 65,488,943.16 x 51.2/65.5 = 51,191,357.096061068702290076
 *         fees  = share x 0.0140 / 365      =      1,963.504107794123183102
 *         net   = 51,189,393.591953274579106974 -> / 50,000,000 = 1.02378787... -> 1.0238
 *   I-USD share = 65,488,943.16 x 14.3/65.5 = 14,297,586.063938931297709924
 *         fees  = share x 0.0080 / 365      =        313.371749346606713374
 *         net   = 14,297,272.692189584690996550 CNY = / 7.1879 = 1,989,075.069518160337650294 USD
 *         NAV   = 1,989,075.0695... / 2,000,000 = 0.99453753... -> 0.9945 USD
 *         in CNY: 14,297,272.6921... / 2,000,000 = 7.14863634... -> 7.1486 CNY
 *         TtlNAV 1,989,075.07 USD and 14,297,272.69 CNY */
static void two_classes_in_two_currencies(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml", RATES, PRICES);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.holdings_base, "62098002.800000000000000000");
    assert_dec(&r.cash_base, "3406370.000000000000000000");
    assert_dec(&r.accrued_base, "29570.360000000000000000");
    assert_dec(&r.total_base, "65488943.160000000000000000");
    const xb_nav_class *a = &r.classes[0], *i = &r.classes[1];
    assert_dec(&a->share_base, "51191357.096061068702290076");
    assert_dec(&a->fees_base, "1963.504107794123183102");
    assert_dec(&a->nav, "1.0238");
    assert_dec(&a->ttl_nav, "51189393.59");
    assert_dec(&i->share_base, "14297586.063938931297709924");
    assert_dec(&i->fees_base, "313.371749346606713374");
    assert_dec(&i->net_class, "1989075.069518160337650294");
    assert_dec(&i->nav, "0.9945");
    assert_dec(&i->nav_cny, "7.1486");
    assert_dec(&i->ttl_nav, "1989075.07");
    assert_dec(&i->ttl_nav_cny, "14297272.69");
    /* The class shares add back to the total (to 18 dp). */
    xb_dec sum;
    assert_int_equal(xb_dec_add(&sum, &a->share_base, &i->share_base), 0);
    assert_int_equal(xb_dec_cmp(&sum, &r.total_base), 0);
    assert_false(r.breach);
    xb_nav_result_free(&r);
    val_free(&in);
}

/* cross-usd.yaml (base USD) + semt.003-cross-v04.xml; every foreign leg crosses through CNY:
 *   JPY: 10,000 x 2,345 = 23,450,000 JPY x 0.046233 / 7.1879 = 150,831.793708871854088120 USD
 *   EUR: 500 x 87.40 = 43,700 EUR x 7.5257 / 7.1879          =  45,753.709706590241934362 USD
 *   CNY: 200,000 x 1.0050 = 201,000 CNY / 7.1879              =  27,963.661152770628417201 USD
 *   cash 10,000.00 USD; total                                 = 234,549.164568232724439683 USD
 *   fees = total x 0.0100 / 360 = 6.515254571339797901; net = 234,542.649313661384641782
 *   NAV = net / 230,000 = 1.019750649... -> 1.0198 USD; in CNY net x 7.1879 / 230,000 -> 7.3299 */
static void foreign_holdings_need_cross_rates(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "cross-usd.yaml", STMTS "semt.003-cross-v04.xml", RATES, NULL);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.total_base, "234549.164568232724439683");
    assert_dec(&r.classes[0].fees_base, "6.515254571339797901");
    assert_dec(&r.classes[0].nav, "1.0198");
    assert_dec(&r.classes[0].nav_cny, "7.3299");
    assert_dec(&r.classes[0].ttl_nav, "234542.65");
    assert_dec(&r.classes[0].ttl_nav_cny, "1685869.11");
    xb_nav_result_free(&r);
    val_free(&in);
}

/* half.yaml: 100,000 x 12.3465 = 1,234,650.00 CNY, no fees, 1,000,000 units: NAV 1.23465, a tie.
 * half-up (the fund's, as Chinese public funds publish) -> 1.2347; half-even -> 1.2346 (6 is
 * even); half-down -> 1.2346; down -> 1.2346; up -> 1.2347. */
static void rounding_exactly_at_the_half(void **state)
{
    static const struct {
        xb_rounding mode;
        const char *nav;
    } cases[] = {{XB_ROUND_HALF_UP, "1.2347"},
                 {XB_ROUND_HALF_EVEN, "1.2346"},
                 {XB_ROUND_HALF_DOWN, "1.2346"},
                 {XB_ROUND_DOWN, "1.2346"},
                 {XB_ROUND_UP, "1.2347"}};
    val_inputs in;
    val_load(&in, FUNDS "half.yaml", STMTS "semt.003-half-v12.xml", RATES, NULL);
    assert_int_equal(in.fund.rounding, XB_ROUND_HALF_UP);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        in.fund.rounding = cases[k].mode;
        xb_nav_result r;
        xb_error err;
        assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
        assert_dec(&r.classes[0].nav_exact, "1.234650000000000000");
        assert_dec(&r.classes[0].nav, cases[k].nav);
        xb_nav_result_free(&r);
    }
    /* 6 decimals publish the tie itself. */
    in.fund.nav_decimals = 6;
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.classes[0].nav, "1.234650");
    xb_nav_result_free(&r);
    val_free(&in);
}

/* new-fund.yaml: no previous NAV, so the split is by units (3 m : 1 m) of
 *   1,234,650.00 (statement) + 2,765,350.00 cash = 4,000,000.00 CNY
 *   A: share 3,000,000; fees 3,000,000 x 0.0150 x 30/365 = 3,698.630136986301369863
 *      NAV (3,000,000 - 3,698.63...) / 3,000,000 = 0.998767123... -> 0.9988
 *   C: share 1,000,000; fees 1,000,000 x 0.0050 x 30/365 = 410.958904109589041096
 *      NAV 0.999589041... -> 0.9996. No previous NAV: no movement, no breach. */
static void new_fund_splits_by_units(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "new-fund.yaml", STMTS "semt.003-half-v12.xml", RATES, NULL);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.classes[0].share_base, "3000000.000000000000000000");
    assert_dec(&r.classes[0].fees_base, "3698.630136986301369863");
    assert_dec(&r.classes[0].nav, "0.9988");
    assert_dec(&r.classes[1].share_base, "1000000.000000000000000000");
    assert_dec(&r.classes[1].fees_base, "410.958904109589041096");
    assert_dec(&r.classes[1].nav, "0.9996");
    assert_false(r.classes[0].has_movement);
    assert_true(r.official);
    xb_nav_result_free(&r);
    val_free(&in);
}

static void missing_price_or_rate_is_enotfound(void **state)
{
    xb_nav_result r;
    xb_error err;
    /* Without the price file, CNE0000HD013 (statement: UknwnInd) has no price. */
    val_inputs in;
    val_load(&in, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml", RATES, NULL);
    assert_int_equal(compute(&r, &in, false, NULL, &err), XB_ENOTFOUND);
    assert_non_null(strstr(err.message, "CNE0000HD013"));
    val_free(&in);
    /* With prices but no HKD central parity, the HK holding cannot be converted. */
    val_load(&in, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml",
             FUNDS "rates-no-hkd.csv", PRICES);
    assert_int_equal(compute(&r, &in, false, NULL, &err), XB_ENOTFOUND);
    assert_non_null(strstr(err.message, "HKD"));
    val_free(&in);
    /* Same statement, next day: no 2025-01-03 price or EUR rate is borrowed from the day before. */
    val_load(&in, FUNDS "cross-usd.yaml", STMTS "semt.003-cross-v04.xml", RATES, NULL);
    xb_nav_opts o = {false, NULL, NULL, NULL};
    assert_int_equal(
        xb_nav_compute(&r, &in.fund, &in.holdings, NULL, in.fx, "2025-01-03", &o, &err),
        XB_ENOTFOUND);
    val_free(&in);
}

static void suspended_fund_values_nothing(void **state)
{
    val_inputs in;
    /* Rates without HKD and no price file: a suspended fund needs neither. */
    val_load(&in, FUNDS "suspended.yaml", STMTS "semt.003-lg-gbf-01-v12.xml",
             FUNDS "rates-no-hkd.csv", NULL);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_true(r.suspended);
    assert_false(r.official);
    assert_false(r.estimated);
    assert_int_equal(r.n_classes, 1);
    assert_string_equal(r.classes[0].isin, "CNE1000XB035");
    xb_nav_result_free(&r);
    val_free(&in);
}

/* breach.yaml = one-class.yaml with prev_nav 1.0800: NAV 1.0139 moves
 * (1.0139 - 1.0800) / 1.0800 x 100 = -6.1203703703... % ; |6.12| > 5 -> flagged, estimated,
 * not official; --force keeps the flag but publishes as official. */
static void tolerance_breach_flags_and_force(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "breach.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.classes[0].nav, "1.0139");
    assert_dec(&r.classes[0].movement_pct, "-6.120370370370370370");
    assert_true(r.classes[0].breach);
    assert_true(r.breach);
    assert_false(r.official);
    assert_true(r.estimated);
    assert_non_null(strstr(r.flag, "A-CNY -6.1204%"));
    assert_non_null(strstr(r.flag, "estimated"));
    xb_nav_result_free(&r);
    assert_int_equal(compute(&r, &in, true, NULL, &err), 0);
    assert_true(r.breach);
    assert_true(r.official);
    assert_false(r.estimated);
    assert_non_null(strstr(r.flag, "forced"));
    xb_nav_result_free(&r);
    /* A tolerance of 6.2 % lets the same move pass. */
    assert_int_equal(xb_dec_parse_cstr(&in.fund.tolerance_pct, "6.2", &err), 0);
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_false(r.breach);
    assert_true(r.official);
    xb_nav_result_free(&r);
    val_free(&in);
}

static void explain_prints_every_intermediate(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml", RATES, PRICES);
    xb_nav_result r;
    xb_error err;
    xb_buf ex = XB_BUF_INIT;
    assert_int_equal(compute(&r, &in, false, &ex, &err), 0);
    static const char *want[] = {
        "holding HK0000XB0012 price = 38.20 HKD (statement price)",
        "holding CNE0000HD013 price = 5.678 CNY (price table)",
        "holding CNE0000HC015 price = 100.25 CNY (statement rate, % of face)",
        "fx HKD = 0.92604 CNY per unit (central parity 2025-01-02)",
        "fx USD = 7.1879 CNY per unit",
        "value_base = 3537472.800000000000000000 CNY",
        "holding CNE0000HC015 accrued = 21369.86 CNY",
        "cash[1] = 300000.00 USD; base = 2156370.000000000000000000 CNY",
        "accrued_income[0] = 8200.50 CNY",
        "liabilities[0] = 45000.00 CNY",
        "total.holdings = 62098002.800000000000000000 CNY",
        "total.cash = 3406370.000000000000000000 CNY",
        "total.accrued_income = 29570.360000000000000000 CNY",
        "total.liabilities = 45000.000000000000000000 CNY",
        "total.net_assets = 65488943.160000000000000000 CNY",
        "class A-CNY weight = 51200000.00 / 65500000.00 (prev_net_assets)",
        "class A-CNY share = 51191357.096061068702290076 CNY",
        "class I-USD fee_rate_pa = 0.0060 + 0.0020 = 0.0080; days = 1 / 365",
        "class I-USD fees = 313.371749346606713374 CNY",
        "class I-USD net_assets = 14297272.692189584690996550 CNY = "
        "1989075.069518160337650294 USD",
        "class I-USD nav = 0.9945 USD (half-up, 4 dp)",
        "class I-USD nav_cny = 7.1486 CNY",
        "class I-USD ttl_nav = 1989075.07 USD; ttl_nav_cny = 14297272.69 CNY",
        "class A-CNY movement_pct = (1.0238 - 1.0240) / 1.0240 x 100 = -0.019531250000000000",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(ex.data, want[i]))
            fprintf(stderr, "missing from trace: %s\n--- trace ---\n%s", want[i], ex.data);
        assert_non_null(strstr(ex.data, want[i]));
    }
    xb_buf_free(&ex);
    xb_nav_result_free(&r);
    val_free(&in);
}

static void invalid_inputs_are_refused(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "one-class.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_nav_result r;
    xb_error err;
    xb_nav_opts o = {false, NULL, NULL, NULL};
    assert_int_equal(
        xb_nav_compute(&r, &in.fund, &in.holdings, NULL, in.fx, "2025-13-01", &o, &err), XB_EINVAL);
    /* Liabilities larger than the assets: a negative class NAV is a rule failure, not a price. */
    assert_int_equal(xb_dec_parse_cstr(&in.fund.liabilities[0].value, "99000000.00", &err), 0);
    assert_int_equal(compute(&r, &in, false, NULL, &err), XB_ERULE);
    val_free(&in);

    xb_fund f;
    static const struct {
        const char *yaml, *path;
    } bad[] = {
        {"fund: {id: F, base_currency: CNH}\nclasses: []\n", "fund.base_currency"},
        {"fund: {id: F, base_currency: CNY, rouding: half-up}\n", "fund.rouding"},
        {"fund: {id: F, base_currency: CNY}\nclasses:\n  - {id: A, isin: CNE1000XB001, currency: "
         "CNY, units: \"1,000\", mgmt_fee_pa: \"0\", custody_fee_pa: \"0\"}\n",
         "classes[0].units"},
        {"fund: {id: F, base_currency: CNY}\nclasses:\n  - {id: A, isin: BAD, currency: CNY, "
         "units: \"1\", mgmt_fee_pa: \"0\", custody_fee_pa: \"0\"}\n",
         "classes[0].isin"},
        {"fund: {id: F, base_currency: CNY}\nclasses:\n  - {id: A, isin: CNE1000XB001, currency: "
         "CNY, units: \"1\", mgmt_fee_pa: \"0\", custody_fee_pa: \"0\", prev_nav: \"1\"}\n",
         "classes[0]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xb_error_clear(&err);
        assert_int_not_equal(
            xb_fund_file_load_buffer(&f, bad[i].yaml, strlen(bad[i].yaml), "bad.yaml", &err), 0);
        if (strcmp(err.path, bad[i].path))
            fprintf(stderr, "case %zu: path '%s' message '%s'\n", i, err.path, err.message);
        assert_string_equal(err.path, bad[i].path);
    }
}

#define HOSTILE FUNDS "hostile/"

/* Hostile and malformed inputs fail with a reason; nothing is half-read. */
static void hostile_inputs_are_refused(void **state)
{
    xb_holdings h;
    xb_error err;
    /* A DOCTYPE with nested entities (billion laughs): refused before any expansion. */
    assert_int_equal(xb_holdings_load_file(&h, HOSTILE "semt.003-entity-expansion.xml", &err),
                     XB_EINVAL);
    /* "1e5" units: not an ISO decimal, the XSD refuses it. */
    assert_int_equal(xb_holdings_load_file(&h, HOSTILE "semt.003-xsd-invalid-quantity.xml", &err),
                     XB_ESCHEMA);
    assert_non_null(strstr(err.path, "Unit"));
    xb_fx_table *fx = NULL;
    assert_int_equal(xb_fx_new(&fx, &err), 0);
    assert_int_equal(xb_fx_load_file(fx, HOSTILE "rates-nul-byte.csv", &err), XB_EINVAL);
    assert_int_equal(xb_fx_count(fx), 0);
    xb_fx_free(fx);
    xb_price_table *p = NULL;
    assert_int_equal(xb_price_table_new(&p, &err), 0);
    assert_int_equal(xb_price_table_load_file(p, HOSTILE "prices-overlong-field.csv", &err),
                     XB_ELIMIT);
    assert_int_equal(xb_price_table_load_file(p, HOSTILE "prices-conflicting.csv", &err),
                     XB_EINVAL);
    assert_non_null(strstr(err.message, "CNE0000HA011"));
    xb_price_table_free(p);
}

/* A short position (ShrtLngInd SHOR) counts negatively: half.yaml with the holding short,
 * -100,000 x 12.3465 = -1,234,650.00 CNY and no other assets -> negative class NAV: ERULE.
 * With 2,500,000.00 CNY cash added: 2,500,000 - 1,234,650 = 1,265,350.00 / 1,000,000 units
 * = 1.26535 -> 1.2654 (half-up). */
static void short_positions_count_negatively(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "half.yaml", HOSTILE "semt.003-short-position.xml", RATES, NULL);
    assert_dec(&in.holdings.items[0].quantity, "-100000");
    xb_nav_result r;
    xb_error err;
    assert_int_equal(compute(&r, &in, false, NULL, &err), XB_ERULE);
    xb_amount cash = {{250000000, 2}, "CNY"};
    assert_int_equal(xb_fund_add_money(&in.fund, XB_FUND_CASH, &cash, &err), 0);
    assert_int_equal(compute(&r, &in, false, NULL, &err), 0);
    assert_dec(&r.holdings_base, "-1234650.000000000000000000");
    assert_dec(&r.classes[0].nav, "1.2654");
    xb_nav_result_free(&r);
    val_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statements_of_all_three_versions_are_read),
        cmocka_unit_test(one_class_fund),
        cmocka_unit_test(two_classes_in_two_currencies),
        cmocka_unit_test(foreign_holdings_need_cross_rates),
        cmocka_unit_test(rounding_exactly_at_the_half),
        cmocka_unit_test(new_fund_splits_by_units),
        cmocka_unit_test(missing_price_or_rate_is_enotfound),
        cmocka_unit_test(suspended_fund_values_nothing),
        cmocka_unit_test(tolerance_breach_flags_and_force),
        cmocka_unit_test(explain_prints_every_intermediate),
        cmocka_unit_test(invalid_inputs_are_refused),
        cmocka_unit_test(hostile_inputs_are_refused),
        cmocka_unit_test(short_positions_count_negatively),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
