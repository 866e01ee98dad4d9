/* test_val_common.h — fixture loading shared by the valuation tests (tests/unit/test_val_*.c).
 * Owns nothing beyond the test process; never computes an expected figure (tests state them). */
#ifndef XB_TEST_VAL_COMMON_H
#define XB_TEST_VAL_COMMON_H

#include <stdio.h>
#include <string.h>

#include "adapter/fund_file.h"
#include "valuation/valuation.h"

#define FUNDS XB_FIXTURES "/funds/"
#define STMTS XB_FIXTURES "/messages/valid/"

typedef struct val_inputs {
    xb_fund fund;
    xb_holdings holdings;
    xb_price_table *prices;
    xb_fx_table *fx;
} val_inputs;

/* Loads a fund, a statement, rates and (when prices != NULL) prices; fails the test on error. */
static inline void val_load(val_inputs *in, const char *fund, const char *stmt, const char *rates,
                            const char *prices)
{
    xb_error err;
    memset(in, 0, sizeof *in);
    if (xb_fund_file_load(&in->fund, fund, &err) ||
        xb_holdings_load_file(&in->holdings, stmt, &err) || xb_fx_new(&in->fx, &err) ||
        xb_fx_load_file(in->fx, rates, &err) ||
        (prices && (xb_price_table_new(&in->prices, &err) ||
                    xb_price_table_load_file(in->prices, prices, &err)))) {
        fprintf(stderr, "fixture load failed: %s (%s)\n", err.message, err.path);
        fail();
    }
}

static inline void val_free(val_inputs *in)
{
    xb_fund_free(&in->fund);
    xb_holdings_free(&in->holdings);
    xb_price_table_free(in->prices);
    xb_fx_free(in->fx);
}

/* Asserts that d formats to exactly `want` (scale included: "1.0139" is not "1.01390"). */
#define assert_dec(d, want)                                                                        \
    do {                                                                                           \
        char _b[80];                                                                               \
        assert_true(xb_dec_format(_b, sizeof _b, (d)) > 0);                                        \
        assert_string_equal(_b, (want));                                                           \
    } while (0)

#endif
