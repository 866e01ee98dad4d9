/* price_report.h — the reda.001.001.04 PriceReport for a computed NAV.
 *
 * Owns: building the report (libxml2 tree API) in the urn:iso or the urn:swift namespace, one
 * PricValtnDtls per class (NAVL price in the class currency and in CNY, TtlNAV, TtlUnitsNb,
 * official/estimated/suspended flags), and validating it against the matching XSD before any
 * byte is returned.
 * Never: computes a figure (nav.c did), sends anything, or returns a report that failed the XSD.
 */
#ifndef XB_VAL_PRICE_REPORT_H
#define XB_VAL_PRICE_REPORT_H

#include <stdbool.h>

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "valuation/fund.h"
#include "valuation/nav.h"

typedef enum xb_reda_ns {
    XB_REDA_NS_ISO,   /* urn:iso:std:iso:20022:tech:xsd:reda.001.001.04 (default) */
    XB_REDA_NS_SWIFT, /* urn:swift:xsd:reda.001.001.04 (SWIFT funds destinations) */
} xb_reda_ns;

typedef struct xb_report_opts {
    xb_reda_ns ns;
    const char *function;  /* "NEWP" (NULL) or "REPL" for a re-run of the same date */
    const char *msg_id;    /* NULL: <fund>-<yyyymmdd>-<Fctn>-<hhmmss> (at most 35 chars) */
    const char *cre_dt_tm; /* NULL: now, ISO 8601 with the local offset */
    bool force;            /* official despite a tolerance breach (passed to the engine) */
    xb_buf *explain;       /* passed to the engine */
    xb_nav_progress_fn progress;
    void *progress_ctx;
} xb_report_opts;

/* PricRptId of a fund's report for a date: "<fund id>-<yyyymmdd>" (same for NEWP and REPL, so
 * that a REPL replaces the report it names). buf >= 36. */
const char *xb_price_report_id(char *buf, size_t cap, const char *fund_id, const char *date);

/* Writes the report as UTF-8 XML into out (appended). XB_ESCHEMA if the built report fails
 * the XSD (a bug: the message and path say where). */
int xb_price_report_write(xb_buf *out, const xb_nav_result *nav, const xb_fund *fund,
                          const xb_report_opts *opts, xb_error *err);

#endif
