/* pipeline.h — xborder's delivery pipeline: Kafka in, policy, HTTPS out, nothing lost.
 *
 * Owns: wiring the stages (source -> parse -> route -> policy decide -> [settle, issue #5] ->
 * deliver via sink_http -> acknowledge -> watermark), the DLQ path, the audit write before any
 * offset may advance, the worker loop, backpressure, drain on stop and atomic reload.
 * Rules it keeps:
 *   - a record is finished (its offset may be committed) only when every destination answered
 *     2xx/409 or its copy is parked in the DLQ (delivery report received), AND its decision record
 *     is in the audit file (made durable before each commit) and on the audit topic;
 *   - invalid XML, unsupported definitions, records no route takes, QUARANTINE and BLOCK verdicts,
 *     policy errors and permanent HTTP failures go to the DLQ with a reason: nothing is dropped;
 *   - a transport misconfiguration (TLS verification, pin, client certificate) stops the pipeline
 *     with a clear error and no acknowledgement: nothing is sent, nothing is committed past it;
 *   - reload builds a complete new runtime (config, catalogs, destinations, sinks) first; a file
 *     that fails is refused and the running one stays. Records in flight finish on the runtime
 *     they started with.
 * Threads: xb_pipeline_run runs the worker loop on the calling thread (Kafka polling, decisions,
 * and the curl multi I/O of every sink); the metrics endpoint has its own thread.
 * Never: commits an offset itself (source_kafka does, at the watermark), sends a message whose
 * decision is not DELIVER, or logs a message body or key.
 */
#ifndef XB_PIPELINE_H
#define XB_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter/transport/kafka_env.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

typedef struct xb_pipeline xb_pipeline;

#define XB_PIPELINE_MAX_DEST_STATS 16

typedef struct xb_pipeline_stats {
    uint64_t consumed;   /* records taken from Kafka */
    uint64_t finished;   /* records whose every outcome is settled (watermark may pass them) */
    uint64_t delivered;  /* messages acknowledged 2xx */
    uint64_t duplicates; /* messages answered 409 */
    uint64_t dlq;        /* DLQ entries confirmed by the broker */
    uint64_t invalid, unsupported, no_route, quarantined, blocked, policy_errors, http_permanent;
    uint64_t masked, pseudonymised, generalised, dropped; /* field actions over all decisions */
    uint64_t audit_records;
    uint64_t decided_on_worker; /* records decided on the worker thread (pipeline.decide_thread) */
    uint64_t state_commits;     /* write transactions the state store committed (issue #8: a
                                 * decider commits its share of a burst's decisions together) */
    uint64_t outstanding;       /* records consumed, not finished */
    size_t n_dest;
    struct {
        char name[64];
        uint64_t delivered, duplicates, dlq;
    } dest[XB_PIPELINE_MAX_DEST_STATS];
} xb_pipeline_stats;

/* The settlement stage (issue #5). When a route carries `settle:` and the message may leave,
 * the pipeline calls this before delivery, after the policy transform. The policy decided with
 * caller_validates: msg is its transformed tree, not yet validated against its XSD and not
 * written (policy_output is empty), and this stage validates what leaves (issue #8: one XSD pass
 * per settled copy). It may rewrite msg and
 * must return 0 with *out_xml set to the bytes to deliver (caller frees) and *detail to the
 * details for the decision record (new reference, may be NULL): a JSON object, or a JSON string
 * holding an object's canonical text, which the record writer puts in as that object
 * (xb_policy_record_write; the hook writes text, issue #8), or an error: the record is then
 * parked in the DLQ with reason SETTLE (fail closed). Without a hook, a route with `settle:`
 * parks its messages with reason SETTLE_UNAVAILABLE rather than sending them unsettled. */
typedef int (*xb_pipeline_settle_fn)(void *ctx, const json_t *route_settle, xb_msg *msg,
                                     const char *policy_output, size_t output_len, char **out_xml,
                                     size_t *out_len, json_t **detail, void **pending,
                                     xb_error *err);
/* The settle fn runs on the decider threads, several at once (issue #8); what must be durable
 * before a settled copy may leave (the ledger's SENT rows) it leaves in *pending (may be NULL),
 * and the pipeline's thread hands those to the commit fn, a burst's worth at a time, before
 * sending any of them: ok[k] false parks copy k with reason SETTLE. The commit fn frees every
 * pending; the discard fn frees one whose copy is parked for another reason. */
typedef int (*xb_pipeline_settle_commit_fn)(void *ctx, void *const *pending, size_t n, bool *ok,
                                            xb_error *err);
typedef void (*xb_pipeline_settle_discard_fn)(void *pending);

/* A settled copy reached its end at `destination` (issue #5): accepted = 2xx/409, otherwise a
 * permanent rejection with reason. `sent` is the settled body that was delivered; `response` is the
 * receiver's body when the sink has one (may be NULL). Called on the pipeline thread. */
typedef void (*xb_pipeline_settled_fn)(void *ctx, const char *destination, const char *sent,
                                       size_t sent_len, bool accepted, const char *reason,
                                       const char *response, size_t response_len);

/* Runs before offsets are committed (and before the audit file is synced for that commit): the
 * settlement stage writes its queued delivery outcomes there. Errors are its own to log. */
typedef void (*xb_pipeline_flush_fn)(void *ctx);

/* Stop condition checked by the loop (demo, tests): true -> drain and return. */
typedef bool (*xb_pipeline_until_fn)(void *ctx, const xb_pipeline_stats *stats);

typedef struct xb_pipeline_opts {
    xb_kafka_env *env; /* share this Kafka env (demo: its mock cluster); NULL: own one */
    xb_pipeline_settle_fn settle;
    xb_pipeline_settle_commit_fn settle_commit;
    xb_pipeline_settle_discard_fn settle_discard;
    void *settle_ctx;
    xb_pipeline_settled_fn settled; /* ledger + outbound pacs.002 on delivery; ctx = settle_ctx */
    xb_pipeline_flush_fn settled_flush; /* before every commit; ctx = settle_ctx */
    xb_pipeline_until_fn until;
    void *until_ctx;
    bool no_metrics; /* do not open the metrics port even when configured */
} xb_pipeline_opts;

/* Loads the config and builds everything (audit file, store, catalogs, Kafka clients, sinks,
 * metrics endpoint). Errors name the config key or file at fault. */
int xb_pipeline_new(xb_pipeline **out, const char *config_path, const xb_pipeline_opts *opts,
                    xb_error *err);

/* Runs until stopped (xb_pipeline_stop, the until callback) or a fatal error. Returns 0 after a
 * clean drain and commit, < 0 with err set on a fatal error (e.g. TLS misconfiguration). */
int xb_pipeline_run(xb_pipeline *p, xb_error *err);

/* Async-signal-safe requests (set a flag; the loop acts within ~100 ms). */
void xb_pipeline_stop(xb_pipeline *p);
void xb_pipeline_reload(xb_pipeline *p);

void xb_pipeline_stats_get(const xb_pipeline *p, xb_pipeline_stats *out);
/* Port of the metrics endpoint (0 when none). */
int xb_pipeline_metrics_port(const xb_pipeline *p);

void xb_pipeline_free(xb_pipeline *p);

/* Builds and checks everything a run would use, without connecting to Kafka or destinations:
 * config, catalogs (and signatures), destinations, keys, sink options. check-config's engine. */
int xb_pipeline_check(const char *config_path, xb_error *err);

#endif
