/* ops_metrics.h — the operator-facing gauges that need the store and the catalog: distinct
 * subjects counted this year and the CAC thresholds of the catalog in force (threshold progress).
 *
 * Owns: turning a counter snapshot and a catalog's thresholds into xborder_subjects_counted and
 * xborder_subjects_threshold series. Called by the pipeline once a second with its gauges.
 * Never: changes counters or the store, or reports anything about a person (counts only).
 */
#ifndef XB_OPS_METRICS_H
#define XB_OPS_METRICS_H

#include <stdint.h>

#include "adapter/metrics.h"
#include "adapter/policy/policy.h"
#include "adapter/state/store.h"

/* Sets subjects_counted{class="PI"|"SPI"} from the store's totals for the calendar year of now,
 * and subjects_threshold{class,kind="scc"|"sa"} from the catalog in force at now. A store error
 * or a set with several catalog ids leaves the affected series as they were (best effort: a
 * gauge must never stop the pipeline). */
void xb_ops_metrics_update(xb_metrics *m, xb_store *store, const xb_policy_catalog_set *set,
                           int64_t now);

/* The same from values (for tests and for callers that already hold them). */
void xb_ops_metrics_set_subjects(xb_metrics *m, int64_t pi, int64_t spi);
void xb_ops_metrics_set_thresholds(xb_metrics *m, const xb_policy_thresholds *t);

#endif
