/* replay.h — the regulator's replay: re-run every recorded decision and compare (issue #7).
 *
 * Owns: reading a topic over a window (partitions assigned directly: no consumer group, no
 * offset commits; times resolved with rd_kafka_offsets_for_times), reading and verifying the
 * audit log (files or audit topic), re-running parse -> classify -> decide for every message
 * with the inputs its audit record names (catalog by hash from the catalog store, destination,
 * transfer time, counter snapshot), comparing verdict, legal basis and field actions, and
 * handing everything to report.c.
 * Never: produces, delivers or commits anything; writes anywhere but the --out directory and
 * the catalog store (to add the config's catalogs); changes the recorded log.
 *
 * Counters: the decision sees the recorded PI/SPI totals before the message, and "already
 * counted?" is answered so that exactly the recorded number of subjects of each class is new
 * (the audit record keeps counts, never subject digests). The totals after the message are
 * compared with the recorded ones, so a change in who counts as a subject still shows.
 */
#ifndef XB_REPLAY_H
#define XB_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "adapter/state/audit_verify.h"
#include "iso20022/error.h"

/* One end of a window: a Kafka offset (same for every partition) or a time. */
typedef struct xb_replay_bound {
    bool set;
    bool is_time;
    int64_t value; /* offset, or milliseconds since the epoch */
} xb_replay_bound;

/* "1234" -> offset; "2026-03-01T10:00:00+08:00", "...Z" or "2026-03-01" -> time. */
int xb_replay_bound_parse(xb_replay_bound *out, const char *text, xb_error *err);

/* A message as replay sees it (from Kafka, or from a local store in benchmarks). */
typedef struct xb_replay_msg {
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    const char *payload;
    size_t len;
} xb_replay_msg;

/* Local message source: returns 1 with *m filled, 0 at the end, < 0 on error. */
typedef int (*xb_replay_next_fn)(void *ctx, xb_replay_msg *m, xb_error *err);

typedef struct xb_replay_opts {
    const char *config_path; /* destinations, keys, catalogs (for --catalog-now), kafka */
    const char *topic;
    xb_replay_bound from, to;       /* [from, to): from inclusive, to exclusive */
    const char *const *audit_files; /* in order, rotated files first */
    size_t n_audit_files;
    const char *audit_topic;
    const char *pubkey_path;   /* checkpoint key for the chain status; NULL: unsigned check */
    const char *catalog_store; /* directory; NULL: the config's catalogs only */
    bool catalog_now;          /* decide with today's catalogs instead of the recorded ones */
    const char *out_dir;       /* report.json + report.html */
    bool progress;             /* a progress line on stderr (callers pass isatty(2)) */
    xb_replay_next_fn source;  /* NULL: Kafka */
    void *source_ctx;
    uint64_t expected_total; /* local source: for the ETA */
} xb_replay_opts;

typedef struct xb_replay_stats {
    uint64_t messages;    /* read in the window */
    uint64_t decisions;   /* outcomes re-decided */
    uint64_t matched;     /* outcomes whose verdict, basis and actions agree */
    uint64_t mismatches;  /* differences reported */
    uint64_t not_audited; /* messages in the window without an audit record */
    uint64_t elapsed_us;
    xb_audit_verify_result chain;
} xb_replay_stats;

int xb_replay_run(xb_replay_stats *out, const xb_replay_opts *opts, xb_error *err);

/* SHA-256 over the sorted "path=ACTION" lines of a recorded decision (a record's
 * outcomes[].decision), read from any record format: 1 ("fields"), 2, 3 or 4 ("field_groups",
 * policy/record.c). What replay compares with the actions of the decision it makes again. */
void xb_replay_recorded_actions_sha(uint8_t out[32], const json_t *decision);

/* Reads [from, to) of every partition of topic (assign only, no group, no commits) and calls
 * fn for each message in partition order. Used by replay and by verify-audit --topic. */
typedef int (*xb_replay_msg_fn)(void *ctx, const xb_replay_msg *m);
int xb_replay_read_topic(const char *config_path, const char *topic, const xb_replay_bound *from,
                         const xb_replay_bound *to, xb_replay_msg_fn fn, void *ctx,
                         uint64_t *total_out, xb_error *err);

/* Walks an audit topic from its first to its last message through the verifier (exact duplicate
 * lines, from producer retries, are skipped). verify-audit --topic and replay --audit-topic. */
int xb_replay_verify_audit_topic(xb_audit_verify_result *out, const char *config_path,
                                 const char *topic, const xb_audit_verify_opts *vo, xb_error *err);

#endif
