/* valuation.h — the one call the pipeline and the CLI make: inputs in, reda.001 out.
 *
 * Owns: the order of the steps (validate fund -> NAV -> reda.001 -> XSD check).
 * Never: reads files, Kafka or YAML; the caller hands over parsed inputs.
 */
#ifndef XB_VALUATION_H
#define XB_VALUATION_H

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "valuation/fund.h"
#include "valuation/fx.h"
#include "valuation/holdings.h"
#include "valuation/nav.h"
#include "valuation/price_report.h"
#include "valuation/prices.h"

/* Values the fund on date and writes an XSD-valid reda.001.001.04 into out_report_xml
 * (replacing its content). prices may be NULL. opts may be NULL (NEWP, urn:iso, not forced).
 * When nav_out is non-NULL it receives the computed figures (free with xb_nav_result_free).
 * XB_ENOTFOUND when a price or rate is missing; XB_EINVAL/XB_ERULE for bad input. */
int xb_valuation_run(xb_buf *out_report_xml, const xb_fund *fund, const xb_holdings *h,
                     const xb_price_table *prices, const xb_fx_table *fx, const char *date,
                     const xb_report_opts *opts, xb_error *err);

int xb_valuation_run_ex(xb_buf *out_report_xml, xb_nav_result *nav_out, const xb_fund *fund,
                        const xb_holdings *h, const xb_price_table *prices, const xb_fx_table *fx,
                        const char *date, const xb_report_opts *opts, xb_error *err);

#endif
