/* ops_metrics.c — subjects counted vs. CAC thresholds, as Prometheus gauges (see ops_metrics.h).
 *
 * Owns: the label text of the two families, so the dashboard and alerts can join them on
 * `class`. The ratio is left to PromQL: metrics carry integers, never a float.
 * Never: writes to the store or logs (a failure here must not be louder than the pipeline's).
 */
#include "adapter/ops_metrics.h"

#include <stddef.h>

void xb_ops_metrics_set_subjects(xb_metrics *m, int64_t pi, int64_t spi)
{
    xb_metrics_set(m, "subjects_counted", "class=\"PI\"", pi);
    xb_metrics_set(m, "subjects_counted", "class=\"SPI\"", spi);
}

void xb_ops_metrics_set_thresholds(xb_metrics *m, const xb_policy_thresholds *t)
{
    xb_metrics_set(m, "subjects_threshold", "class=\"PI\",kind=\"scc\"", t->scc_pi);
    xb_metrics_set(m, "subjects_threshold", "class=\"PI\",kind=\"sa\"", t->sa_pi);
    xb_metrics_set(m, "subjects_threshold", "class=\"SPI\",kind=\"scc\"", t->scc_spi);
    xb_metrics_set(m, "subjects_threshold", "class=\"SPI\",kind=\"sa\"", t->sa_spi);
}

void xb_ops_metrics_update(xb_metrics *m, xb_store *store, const xb_policy_catalog_set *set,
                           int64_t now)
{
    if (!m)
        return;
    xb_error err;
    xb_policy_counters c;
    if (store && xb_store_subjects_snapshot(&c, store, xb_policy_year_cn(now), &err) == 0)
        xb_ops_metrics_set_subjects(m, c.pi, c.spi);
    const xb_policy_catalog *cat = NULL;
    if (set && xb_policy_catalog_select(&cat, set, NULL, now, &err) == 0) {
        xb_policy_thresholds t;
        xb_policy_catalog_thresholds(&t, cat);
        xb_ops_metrics_set_thresholds(m, &t);
    }
}
