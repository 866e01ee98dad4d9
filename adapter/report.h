/* report.h — the regulator's report: what left the country, to whom, on which legal basis.
 *
 * Owns: aggregating audit decision records (the pipeline's record shape: id, source, outcomes[]
 * with destination, verdict and the policy decision; or a whole-record dlq) into report.json
 * (totals by destination, country, verdict, legal basis and Asia/Shanghai day; PI and SPI
 * subject counts against the CAC 2024 thresholds; replay mismatches; audit-chain status) and
 * report.html: one self-contained page (inline CSS, inline SVG charts drawn here, no scripts,
 * no external assets) built from the same JSON.
 * Never: puts field values, keys or message bodies in a report; fetches anything.
 */
#ifndef XB_REPORT_H
#define XB_REPORT_H

#include <jansson.h>

#include "adapter/state/audit_verify.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"

/* CAC 2024 thresholds (classification.md): PI of 100,000 / 1,000,000 natural persons, SPI of
 * 1 / 10,000 in a calendar year, institution-wide. */
#define XB_REPORT_PI_SCC 100000
#define XB_REPORT_PI_ASSESS 1000000
#define XB_REPORT_SPI_SCC 1
#define XB_REPORT_SPI_ASSESS 10000
#define XB_REPORT_MAX_MISMATCH_ROWS 100000 /* in report.json */
#define XB_REPORT_HTML_MISMATCH_ROWS 1000  /* shown in report.html */

typedef struct xb_report xb_report;

int xb_report_new(xb_report **out, xb_error *err);
void xb_report_free(xb_report *r);

/* Country of a destination (from the config's destinations.<name>.country). */
void xb_report_set_country(xb_report *r, const char *destination, const char *country);
/* Free-form facts about the run (topic, window, catalog mode): copied into "run". Steals value. */
void xb_report_set_run(xb_report *r, const char *key, json_t *value);

/* One audit entry of type "decision" (its record). */
int xb_report_add_record(xb_report *r, const json_t *record, xb_error *err);
/* One difference between the recorded and the replayed decision. */
void xb_report_add_mismatch(xb_report *r, const char *record_id, const char *destination,
                            const char *what, const char *recorded, const char *replayed);
void xb_report_count_replayed(xb_report *r, unsigned long long n);
void xb_report_set_chain(xb_report *r, const xb_audit_verify_result *res);

/* The report as JSON (new reference). */
json_t *xb_report_json(const xb_report *r);
/* report.html from a report JSON. */
int xb_report_html(xb_buf *out, const json_t *report, xb_error *err);
/* Writes DIR/report.json and DIR/report.html (creates DIR). */
int xb_report_write(const xb_report *r, const char *dir, xb_error *err);

#endif
