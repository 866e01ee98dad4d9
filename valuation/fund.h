/* fund.h — a fund's definition as the NAV engine needs it.
 *
 * Owns: the xb_fund struct (identity, base currency, NAV rounding and tolerance, cash, accrued
 * income, liabilities, share classes with units, fees and previous NAV) and its validation.
 * Never: reads files (adapter/fund_file.c turns FUND.yaml into this struct) or computes a NAV.
 * Every decimal is an exact xb_dec parsed from text.
 */
#ifndef XB_VAL_FUND_H
#define XB_VAL_FUND_H

#include <stdbool.h>
#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/error.h"

typedef struct xb_fund_class {
    char id[36];        /* "A-CNY" */
    char isin[13];      /* reda.001 FinInstrmDtls/Id/ISIN */
    char name[141];     /* optional, UTF-8 */
    char ccy[4];        /* class currency: NAV per unit is published in it */
    xb_dec units;       /* units outstanding (> 0) */
    xb_dec mgmt_fee_pa; /* 0.0120 = 1.20 % a year */
    xb_dec custody_fee_pa;
    int day_count;          /* 365 or 360 */
    int days;               /* days of fees in this period (1 a normal day, 3 over a weekend) */
    bool has_prev;          /* false for a new fund: split by units */
    xb_dec prev_net_assets; /* in the fund's base currency */
    xb_dec prev_nav;        /* in the class currency; the tolerance check compares against it */
    bool cum_dividend;      /* reda.001 CumDvddInd (default true) */
    char distribution[5];   /* "", "DIST" or "ACCU" */
} xb_fund_class;

typedef struct xb_fund {
    char id[36]; /* "LG-GBF-01"; also the start of PricRptId */
    char name[141];
    char base_ccy[4];     /* currency of total net assets and of prev_net_assets */
    int nav_decimals;     /* 0..13: NAV per unit is published with this many decimals */
    xb_rounding rounding; /* of published NAV per unit (amounts use it too, at minor units) */
    xb_dec tolerance_pct; /* day-on-day NAV movement (percent) above which the report is flagged */
    bool suspended;       /* valuation suspended: SspdInd true, no prices */
    xb_amount *cash;
    size_t n_cash;
    xb_amount *accrued; /* accrued income not on the statement */
    size_t n_accrued;
    xb_amount *liabilities;
    size_t n_liabilities;
    xb_fund_class *classes;
    size_t n_classes;
} xb_fund;

void xb_fund_init(xb_fund *f);
void xb_fund_free(xb_fund *f);

typedef enum xb_fund_money_kind {
    XB_FUND_CASH,
    XB_FUND_ACCRUED,
    XB_FUND_LIABILITY,
} xb_fund_money_kind;

/* Appends a copy (the lists grow as needed). */
int xb_fund_add_money(xb_fund *f, xb_fund_money_kind kind, const xb_amount *a, xb_error *err);
int xb_fund_add_class(xb_fund *f, const xb_fund_class *c, xb_error *err);

/* Checks the definition is complete and consistent: currencies, decimals, positive units,
 * non-negative fees, day counts, unique class ids and ISINs, previous NAVs either on every class
 * or on none. XB_EINVAL with err->path = the offending key ("classes[1].units"). */
int xb_fund_validate(const xb_fund *f, xb_error *err);

#endif
