/* settle_hook.h — the settlement stage as the pipeline runs it, and the status flow around it.
 *
 * Owns: per-route settle options and rates loaded once from the config (rates.file relative to
 * the config, or rates.topic read whole from Kafka; a settle: subtree first seen after a pipeline
 * reload is adopted when first met), the xb_pipeline_settle_fn implementation
 * (settle the policy output, return the bytes to deliver and the details for the decision
 * record) and its commit (every transfer recorded as SENT in the ledger before it may leave),
 * delivery outcomes (acknowledged -> ACSP, permanently rejected -> RJCT, group-committed to the
 * ledger before offsets advance, each also produced as a pacs.002 to the route's status_topic), and
 * ingest of pacs.002 coming back (a receiver's response body or a status-topic record). Never: lets
 * an unsettled message through (any failure is returned, and the pipeline parks the record in the
 * DLQ), or guesses a rate: a missing rate reloads a file source at most once a minute and otherwise
 * quarantines.
 */
#ifndef XB_SETTLE_HOOK_H
#define XB_SETTLE_HOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "adapter/settle.h"
#include "adapter/state/store.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

typedef struct xb_settle_hook xb_settle_hook;

/* Reads config_path (the file the pipeline runs): every route with `settle:`, its rates, the
 * state store (state.store, for the ledger; optional) and kafka.bootstrap.servers (for rates and
 * status topics). Errors name the config key. */
int xb_settle_hook_new(xb_settle_hook **out, const char *config_path, xb_error *err);
void xb_settle_hook_free(xb_settle_hook *h);

/* True when the config has at least one route with `settle:`. */
bool xb_settle_hook_needed(const xb_settle_hook *h);

/* xb_pipeline_settle_fn (adapter/pipeline.h): ctx is the hook. msg is the tree the policy
 * transformed with caller_validates (so neither validated nor written: policy_output is empty):
 * it is settled in place, the AppHdr and the rules checked as received and the Document
 * validated once, after the rewrite (XB_SETTLE_DOCUMENT_UNCHECKED). With msg NULL,
 * policy_output is parsed and checked in full. On success *pending holds the
 * transfers' SENT rows, which xb_settle_pipeline_commit writes (or xb_settle_pending_free
 * drops when the copy does not leave). Safe to call from several threads at once. */
int xb_settle_pipeline_settle(void *ctx, const json_t *route_settle, xb_msg *msg,
                              const char *policy_output, size_t output_len, char **out_xml,
                              size_t *out_len, json_t **detail, void **pending, xb_error *err);

/* xb_pipeline_settle_commit_fn: records every pending[k] as SENT in the ledger, all in one
 * transaction (one by one when that fails), and frees them. ok[k] says whether k was recorded,
 * and so may leave. Returns <0 (err says why) when any was not. Without state.store there is no
 * ledger and every ok[k] is true. It writes through the ledger connection, like the outcome and
 * flush calls: call them all from one thread (the pipeline's). */
int xb_settle_pipeline_commit(void *ctx, void *const *pending, size_t n, bool *ok, xb_error *err);

/* Frees a pending left by xb_settle_pipeline_settle without recording it. NULL is fine. */
void xb_settle_pending_free(void *pending);

/* xb_settle_pipeline_settle and xb_settle_pipeline_commit of that one message: the settled bytes
 * are returned only once the ledger has them. */
int xb_settle_pipeline_hook(void *ctx, const json_t *route_settle, xb_msg *msg,
                            const char *policy_output, size_t output_len, char **out_xml,
                            size_t *out_len, json_t **detail, xb_error *err);

/* A destination answered for a settled message it was sent (the bytes the hook returned):
 * accepted -> every transfer ACSP; !accepted (permanent rejection) -> RJCT with reason. The
 * ledger is updated (durable on return, with anything queued before) and, when the route has
 * status_topic, a pacs.002 is produced there. */
int xb_settle_hook_outcome(xb_settle_hook *h, const char *sent_xml, size_t sent_len,
                           const char *destination, bool accepted, const char *reason,
                           xb_error *err);

/* Bytes that may be a pacs.002 (a receiver's response body, a status-topic record): applied to
 * the ledger. Returns 0 and *applied = 0 when the bytes are not a pacs.002 (nothing to do). */
int xb_settle_hook_status_bytes(size_t *applied, xb_settle_hook *h, const char *data, size_t len,
                                xb_error *err);

/* Reads a whole status topic (from the beginning to its current end) into the ledger. Applying
 * the same report twice changes nothing. */
int xb_settle_hook_ingest_topic(size_t *applied, xb_settle_hook *h, const char *topic,
                                int timeout_ms, xb_error *err);

/* The pipeline's delivery callback (xb_pipeline_settled_fn): one copy of a settled message
 * reached its end at `destination`. accepted = 2xx/409; otherwise a permanent rejection with
 * reason. The ledger rows are queued (group commit: written by xb_settle_hook_flush, at the
 * latest every 256 outcomes); the status report is produced now. response (may be NULL) is the
 * receiver's body: when it is a pacs.002 it is applied to the ledger too, after what is queued.
 * Errors are logged (a delivery is never undone). */
void xb_settle_pipeline_outcome(void *ctx, const char *destination, const char *sent,
                                size_t sent_len, bool accepted, const char *reason,
                                const char *response, size_t response_len);

/* Writes the queued delivery outcomes to the ledger in one transaction (one by one if that
 * fails, so one bad row costs no other its status). The pipeline calls it before offsets are
 * committed (xb_settle_pipeline_flush, errors logged), so no committed record's outcome is only
 * in memory; xb_settle_hook_free and every pacs.002 ingest call it too. */
int xb_settle_hook_flush(xb_settle_hook *h, xb_error *err);
void xb_settle_pipeline_flush(void *ctx);

/* The ledger the hook writes (NULL without state.store). */
xb_store *xb_settle_hook_store(xb_settle_hook *h);

#endif
