/* source_kafka.h — the Kafka consumer group xborder reads from, and the only place offsets are
 * committed.
 *
 * Owns: the librdkafka consumer (enable.auto.commit=false, enable.auto.offset.store=false), one
 * watermark per assigned partition (adapter/transport/watermark.h), commits at the watermark,
 * rebalances, and pause/resume of partitions for backpressure.
 *  - A record handed out by xb_source_poll is tracked until xb_source_finish says it is finished
 *    (acknowledged or parked, audit written). Commits never pass an unfinished record.
 *  - Before every commit the pre_commit hook runs (the pipeline makes the audit file durable
 *    there); if it fails, nothing is committed.
 *  - On revoke: finished work of the revoked partitions is committed (synchronously), they are
 *    resumed in librdkafka (which would otherwise keep them paused into their next assignment:
 *    issue #9's stall), then their state is dropped; a later finish() of a record from before the
 *    revoke is ignored (the record will be redelivered to whoever owns the partition now; the
 *    receiver deduplicates).
 *  - A partition with more than max_outstanding unfinished records gets no more until some finish;
 *    while no partition can take one, librdkafka's prefetch is left alone (a liveness poll every
 *    100 ms keeps rebalances served and max.poll.interval.ms from evicting the consumer). Records
 *    that arrive for a full partition wait in order in a per-partition queue; a queue that reaches
 *    max_outstanding pauses its partition in librdkafka, resumed at half of it.
 *  - With a byte budget (max_outstanding_bytes), no partition gets another record while the
 *    unfinished records of all partitions hold that many bytes, except a partition with none
 *    unfinished (so a record larger than the budget still goes, one at a time): the count alone
 *    let 50 KB records hold 25 MB per partition. A partition's queue of waiting records that
 *    reaches the budget pauses it in librdkafka too, resumed at half.
 *  - A partition that could take records while librdkafka holds none for it, though its log has
 *    more, has librdkafka's fetcher woken (adapter/transport/fetch_waker.h).
 * Never: decides whether a record is finished; never commits from any thread but the one that
 * polls. Single-threaded: every call from the pipeline's worker thread.
 */
#ifndef XB_SOURCE_KAFKA_H
#define XB_SOURCE_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapter/config.h"
#include "adapter/transport/kafka_env.h"
#include "iso20022/error.h"

typedef struct xb_source xb_source;

/* Runs before offsets are committed; a non-zero return skips the commit. */
typedef int (*xb_source_pre_commit_fn)(void *ctx);

typedef struct xb_source_opts {
    unsigned max_outstanding;       /* per partition; 0 means 500 */
    uint64_t max_outstanding_bytes; /* across partitions (record values); 0 means no budget */
    bool no_fetch_wake; /* tests only: leave a starving fetcher asleep (fetch_waker.h) */
    xb_source_pre_commit_fn pre_commit;
    void *ctx;
} xb_source_opts;

/* Creates the consumer and subscribes to cfg->topics. */
int xb_source_new(xb_source **out, const xb_config *cfg, const xb_kafka_env *env,
                  const xb_source_opts *opts, xb_error *err);
/* Commits finished work (synchronously), leaves the group, destroys the consumer. */
void xb_source_close(xb_source *src);

/* librdkafka writes 8 bytes (an eventfd increment of 1) to fd whenever a record or an event
 * arrives on an empty consumer queue: a thread blocked elsewhere (an HTTP sink's poll) wakes for
 * it (issue #8). fd must be non-blocking; -1 turns it off. */
void xb_source_set_wake_fd(xb_source *src, int fd);

/* Next record, or NULL after timeout_ms. Kafka errors (other than EOF) are logged and counted,
 * never returned as records. On success *gen receives the partition's assignment generation,
 * which must be passed back to xb_source_finish. The caller owns the message
 * (rd_kafka_message_destroy) and may destroy it before or after finishing. */
rd_kafka_message_t *xb_source_poll(xb_source *src, int timeout_ms, uint64_t *gen);

/* The record (topic, partition, offset) handed out under gen is finished; bytes is its value's
 * length as handed out (it leaves the byte budget). Returns 0, or 1 when it was stale (its
 * partition was revoked since) and is ignored. */
int xb_source_finish(xb_source *src, const char *topic, int32_t partition, int64_t offset,
                     uint64_t gen, size_t bytes);

/* Commits every partition whose watermark moved. sync=false for the periodic commit. */
int xb_source_commit(xb_source *src, bool sync);

/* Stops (true) or restarts (false) handing out records, e.g. while draining on SIGTERM. */
void xb_source_hold(xb_source *src, bool hold);

/* Unfinished records over all partitions; partitions taking no records now (backpressure or
 * hold); partitions paused in librdkafka itself, and how many times one was paused so far. */
uint64_t xb_source_outstanding(const xb_source *src);
/* Bytes (record values) of the unfinished records of every partition. */
uint64_t xb_source_outstanding_bytes(const xb_source *src);
/* Bytes (record values) taken from librdkafka and waiting for their partition to have room. */
uint64_t xb_source_queued_bytes(const xb_source *src);
int xb_source_paused_count(const xb_source *src);
int xb_source_fetch_paused_count(const xb_source *src);
uint64_t xb_source_fetch_pauses(const xb_source *src);
/* Times a wake-up of librdkafka's fetcher was asked for a partition starving behind its prefetch
 * limit (fetch_waker.h). */
uint64_t xb_source_fetch_wakes(const xb_source *src);

/* Calls fn for each assigned partition with its consumer lag (high watermark - position, from
 * librdkafka's cached values; -1 when unknown). */
void xb_source_foreach_lag(xb_source *src,
                           void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                           void *ctx);

rd_kafka_t *xb_source_handle(xb_source *src);

#endif
