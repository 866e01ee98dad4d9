/* valuation.c — inputs -> NAV -> reda.001, the entry point for the pipeline and the CLI.
 * Owns only the sequence of steps; never reads files or talks to Kafka. */
#include "valuation/valuation.h"

#include <string.h>

int xb_valuation_run_ex(xb_buf *out_report_xml, xb_nav_result *nav_out, const xb_fund *fund,
                        const xb_holdings *h, const xb_price_table *prices, const xb_fx_table *fx,
                        const char *date, const xb_report_opts *opts, xb_error *err)
{
    xb_report_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opts)
        opts = &defaults;
    xb_nav_opts nopts = {opts->force, opts->explain, opts->progress, opts->progress_ctx};
    xb_nav_result nav;
    int rc = xb_nav_compute(&nav, fund, h, prices, fx, date, &nopts, err);
    if (rc)
        return rc;
    xb_buf_reset(out_report_xml);
    rc = xb_price_report_write(out_report_xml, &nav, fund, opts, err);
    if (rc || !nav_out)
        xb_nav_result_free(&nav);
    else
        *nav_out = nav;
    return rc;
}

int xb_valuation_run(xb_buf *out_report_xml, const xb_fund *fund, const xb_holdings *h,
                     const xb_price_table *prices, const xb_fx_table *fx, const char *date,
                     const xb_report_opts *opts, xb_error *err)
{
    return xb_valuation_run_ex(out_report_xml, NULL, fund, h, prices, fx, date, opts, err);
}
