/* metrics.h — Prometheus /metrics and /healthz on a loopback port (plain HTTP, libmicrohttpd).
 *
 * Owns: the metric registry (counters, gauges, one latency histogram family) and the HTTP
 * endpoint. Families (all prefixed xborder_):
 *   consumed_total, delivered_total{destination}, duplicates_total{destination},
 *   dlq_total{reason}, retries_total{destination}, in_flight{destination},
 *   delivery_latency_seconds{destination} (histogram), consumer_lag{topic,partition},
 *   paused_partitions, audit_records_total, config_reloads_total{result},
 *   circuit_open{destination}, audit_write_failures_total, audit_blocked, subjects_counted{class},
 *   subjects_threshold{class,kind} (these two from adapter/ops_metrics.c),
 *   valuation_reports_total{function}, valuation_held (the valuation route)
 * Updates are cheap and thread-safe (one mutex; the worker thread writes, the HTTP thread reads).
 * Never: listens on a non-loopback address (config refuses it), exposes message content or keys.
 */
#ifndef XB_METRICS_H
#define XB_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef struct xb_metrics xb_metrics;

int xb_metrics_new(xb_metrics **out, xb_error *err);
/* Starts the HTTP endpoint (port 0 picks a free one, see xb_metrics_port). */
int xb_metrics_serve(xb_metrics *m, const char *host, int port, xb_error *err);
int xb_metrics_port(const xb_metrics *m);
void xb_metrics_free(xb_metrics *m);

/* Counter += by. label may be NULL for a family without labels. Unknown names are ignored. */
void xb_metrics_add(xb_metrics *m, const char *family, const char *label, uint64_t by);
/* Gauge = value. label is the rendered label text without braces for two-label families
 * (e.g. topic="a",partition="0" is built by xb_metrics_set_lag). */
void xb_metrics_set(xb_metrics *m, const char *family, const char *label, int64_t value);
void xb_metrics_set_lag(xb_metrics *m, const char *topic, int32_t partition, int64_t lag);
/* Histogram observation, in microseconds. */
void xb_metrics_observe_us(xb_metrics *m, const char *destination, uint64_t us);

/* /healthz answers 200 "ok" when healthy, else 503 with the reason. */
void xb_metrics_set_health(xb_metrics *m, bool healthy, const char *reason);

/* Text exposition format (version 0.0.4). Caller frees. */
char *xb_metrics_render(xb_metrics *m);

/* Value of a counter/gauge series (tests and the demo summary); 0 when absent. */
int64_t xb_metrics_get(xb_metrics *m, const char *family, const char *label);

#endif
