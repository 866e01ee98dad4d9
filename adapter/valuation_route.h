/* valuation_route.h — the valuation route of `xborder run` (issue #6): holdings records in, one
 * reda.001 PriceReport per record out, handed back to the pipeline to go through policy, audit and
 * the sinks like any other message.
 *
 * Owns: the `valuation:` entries at run time (fund definitions, loaded once at start); the rates
 * and prices topics read as tables (a consumer of their own that reads every partition from the
 * beginning, keyed by date+currency / date+instrument, latest record wins, nothing committed, so
 * a restart rebuilds them); holding a holdings record while a rate or price it needs may still
 * arrive (in order per partition: later records of that partition wait behind it) and parking it
 * after max_wait_ms; NEWP/REPL, remembered in the state store (table valuation_reports: the first
 * record that reported a fund+date; a redelivery of that same record stays NEWP).
 * Never: commits an offset, talks to a destination, writes the audit log or the DLQ (the pipeline
 * does all of that with the outcome it is handed), or values with a binary float.
 */
#ifndef XB_VALUATION_ROUTE_H
#define XB_VALUATION_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/config.h"
#include "adapter/state/store.h"
#include "adapter/transport/kafka_env.h"
#include "iso20022/error.h"

typedef struct xb_valroute xb_valroute;

/* What became of one submitted holdings record. Exactly one of: body (the report), reason (park
 * the record in the DLQ with it), cancelled (shutting down: neither valued nor finished, so Kafka
 * redelivers it at the next start). Everything is borrowed for the duration of the callback. */
typedef struct xb_valroute_outcome {
    const char *body; /* reda.001.001.04, XSD-valid */
    size_t len;
    const char *reason; /* INVALID_XML, INVALID_HOLDINGS, VALUATION_MISSING_INPUT, STATE_ERROR */
    const char *text;   /* the reason in words (for a missing input: the exact rate or price) */
    json_t *detail;     /* for the decision record: fund, nav_date, function, NAV per class... */
    bool cancelled;
} xb_valroute_outcome;

/* Called once per submitted record, from submit, tick or free (the pipeline's thread). */
typedef void (*xb_valroute_done_fn)(void *ctx, void *token, const xb_valroute_outcome *o);

/* Loads every entry's fund file and creates the tables consumer. env NULL: no consumer; the
 * tables are fed with xb_valroute_feed (tests). Errors name the config key ("valuation[0].fund").
 */
int xb_valroute_new(xb_valroute **out, const xb_config *cfg, xb_kafka_env *env, xb_store *store,
                    xb_valroute_done_fn done, void *ctx, xb_error *err);

/* check-config: loads and validates every entry's fund file (nothing else), naming the key. */
int xb_valroute_check(const xb_config *cfg, xb_error *err);

/* True when topic is some entry's holdings topic. */
bool xb_valroute_takes(const xb_valroute *v, const char *topic);

/* Values a holdings record now or holds it. bytes must stay valid until done is called for
 * token; id names the record ("topic:partition:offset") and ts_ms is its Kafka timestamp (0 when
 * none): the report's MsgId and CreDtTm derive from them, so a redelivered record yields the same
 * bytes (and the same idempotency key at the receiver). */
void xb_valroute_submit(xb_valroute *v, const char *topic, int32_t partition, const char *bytes,
                        size_t len, const char *id, int64_t ts_ms, void *token);

/* Reads what the tables consumer has, retries held records whose inputs changed and parks those
 * whose wait is over. Cheap when nothing changed: call it on every turn of the loop. */
void xb_valroute_tick(xb_valroute *v);

/* Adds a record of a rates or prices topic to its table (what the consumer does per record). */
void xb_valroute_feed(xb_valroute *v, const char *topic, const char *value, size_t len);

/* Holdings records waiting for a rate or price. */
size_t xb_valroute_held(const xb_valroute *v);

/* Cancels every held record (their callbacks run with cancelled set) and frees everything. */
void xb_valroute_free(xb_valroute *v);

#endif
