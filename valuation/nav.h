/* nav.h — the NAV engine: holdings + prices + FX + fund definition -> NAV per share class.
 *
 * Owns: the valuation of every holding (price table first, then the statement's price, then its
 * market value), conversion of everything to the fund's base currency through CNY, the split
 * between classes (by prev_net_assets, or units for a new fund), fees, NAV per unit in the class
 * currency and in CNY, the tolerance check, and an --explain trace of every intermediate.
 * Never: uses float/double, rounds an intermediate to fewer than XB_VAL_SCALE (18) decimals,
 * guesses a missing price or rate (XB_ENOTFOUND), or knows about XML output, Kafka or HTTP.
 *
 * Price conventions: a price-table or statement amount is per unit for Unit quantities and a
 * percentage of face for FaceAmt/AmtsdVal quantities (bond prices, "98.75"); a statement Rate
 * price is always a percentage of face.
 */
#ifndef XB_VAL_NAV_H
#define XB_VAL_NAV_H

#include <stdbool.h>
#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "valuation/fund.h"
#include "valuation/fx.h"
#include "valuation/holdings.h"
#include "valuation/prices.h"

typedef void (*xb_nav_progress_fn)(void *ctx, size_t done, size_t total);

typedef struct xb_nav_opts {
    bool force;                  /* publish as official even beyond tolerance (still flagged) */
    xb_buf *explain;             /* when non-NULL: one "key = value" line per intermediate */
    xb_nav_progress_fn progress; /* called every 1000 holdings and at the end; may be NULL */
    void *progress_ctx;
} xb_nav_opts;

typedef struct xb_nav_class {
    char id[36];
    char isin[13];
    char ccy[4];
    xb_dec weight_num, weight_den; /* prev_net_assets (or units) over their total */
    xb_dec share_base;             /* class share of total net assets, base currency, 18 dp */
    xb_dec fees_base;              /* fees for the period, base currency, 18 dp */
    xb_dec net_base;               /* share - fees */
    xb_dec net_class;              /* in the class currency, 18 dp */
    xb_dec net_cny;                /* in CNY, 18 dp */
    xb_dec nav_exact;              /* net_class / units, 18 dp (for the trace) */
    xb_dec nav;                    /* published: nav_decimals, fund rounding */
    xb_dec nav_cny;                /* published NAV per unit in CNY at the central parity */
    xb_dec ttl_nav;                /* net_class at the class currency's minor unit */
    xb_dec ttl_nav_cny;            /* net_cny at 2 dp */
    xb_dec units;
    bool has_movement;   /* false for a new fund */
    xb_dec movement_pct; /* (nav - prev_nav) / prev_nav × 100, 18 dp */
    bool breach;         /* |movement_pct| > tolerance_pct */
} xb_nav_class;

typedef struct xb_nav_result {
    char fund_id[36];
    char date[11];
    char base_ccy[4];
    bool suspended;
    bool breach;    /* some class moved beyond tolerance */
    bool official;  /* OffclValtnInd: !suspended && (!breach || force) */
    bool estimated; /* EstmtdPricInd: breach && !force */
    xb_dec holdings_base, accrued_base, cash_base, liabilities_base, total_base;
    size_t n_holdings;
    size_t n_classes;
    xb_nav_class *classes;
    char flag[350]; /* human-readable tolerance note, "" when none */
} xb_nav_result;

/* Computes the NAV of every class on date (YYYY-MM-DD). prices may be NULL. A suspended fund
 * values nothing (no prices or rates needed) and yields classes with only ids filled.
 * Errors: XB_ENOTFOUND (a price or rate is missing: the message names which), XB_EINVAL (bad
 * fund or holding), XB_ERULE (a class's net assets would be negative), XB_EOVERFLOW. */
int xb_nav_compute(xb_nav_result *out, const xb_fund *fund, const xb_holdings *h,
                   const xb_price_table *prices, const xb_fx_table *fx, const char *date,
                   const xb_nav_opts *opts, xb_error *err);

void xb_nav_result_free(xb_nav_result *r);

#endif
