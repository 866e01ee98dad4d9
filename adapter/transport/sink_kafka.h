/* sink_kafka.h — the producers of the DLQ and audit topics.
 *
 * Owns: one idempotent librdkafka producer (enable.idempotence=true, acks=all,
 * message.timeout.ms=0 = retry until delivered) for the DLQ and the audit topic, the DLQ header
 * names, and turning delivery reports into completions.
 * A record counts as parked only when its DLQ message's delivery report says it is on the broker:
 * completion callbacks run from xb_sink_kafka_poll on the caller's thread.
 * DLQ headers (all values UTF-8 text):
 *   xb-reason          reason code (INVALID_XML, UNSUPPORTED, NO_ROUTE, QUARANTINE, BLOCK,
 *                      HTTP_PERMANENT, POLICY_ERROR, ...)
 *   xb-reason-text     human-readable reason (never a secret, never the message body)
 *   xb-topic, xb-partition, xb-offset   where the original record came from
 *   xb-decision-id     the decision record's id in the audit log
 *   xb-destination     the destination concerned, when there is one
 * The DLQ message's value is the original record's bytes, its key the original key.
 * Never: alters the original bytes; never drops a failed delivery silently (it is reported).
 */
#ifndef XB_SINK_KAFKA_H
#define XB_SINK_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/config.h"
#include "adapter/transport/kafka_env.h"
#include "iso20022/error.h"

typedef struct xb_sink_kafka xb_sink_kafka;

/* Called once per produced message: err 0 = on the broker. opaque is what produce was given. */
typedef void (*xb_sink_kafka_done_fn)(void *ctx, void *opaque, rd_kafka_resp_err_t err);

int xb_sink_kafka_new(xb_sink_kafka **out, const xb_config *cfg, const xb_kafka_env *env,
                      xb_sink_kafka_done_fn done, void *ctx, xb_error *err);
/* Looks the topic up now, in the background, instead of at its first record: librdkafka learns
 * its partitions and leaders (and a broker that auto-creates topics creates it) while the
 * consumer joins its group. Without this the first records' audit lines waited ~0.8 s for that
 * lookup, and the backlog it left took 2 s more to drain (issue #8: fresh topics, an offered
 * 1,000 msgs/s, p99 944 -> 103 ms). Never blocks; a topic that cannot be found fails at produce
 * time exactly as before. */
void xb_sink_kafka_warm(xb_sink_kafka *sk, const char *topic);
/* Flushes (bounded by timeout_ms) and destroys. */
void xb_sink_kafka_close(xb_sink_kafka *sk, int timeout_ms);

typedef struct xb_dlq_entry {
    const void *value;
    size_t value_len;
    const void *key; /* may be NULL */
    size_t key_len;
    const char *reason;      /* code */
    const char *reason_text; /* may be NULL */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *decision_id; /* may be NULL */
    const char *destination; /* may be NULL */
} xb_dlq_entry;

int xb_sink_kafka_dlq(xb_sink_kafka *sk, const char *dlq_topic, const xb_dlq_entry *e, void *opaque,
                      xb_error *err);
/* One audit line (as written to the audit file) to the audit topic, keyed by decision id. */
int xb_sink_kafka_audit(xb_sink_kafka *sk, const char *audit_topic, const char *line, size_t len,
                        const char *key, void *opaque, xb_error *err);

/* Serves delivery reports (calls done). */
void xb_sink_kafka_poll(xb_sink_kafka *sk, int timeout_ms);
/* librdkafka writes 8 bytes (an eventfd increment of 1) to fd whenever a delivery report is
 * queued for xb_sink_kafka_poll on an empty queue, so that one wait can cover this producer,
 * the consumer and the HTTP sinks (issue #8). fd must be non-blocking; -1 turns it off. */
void xb_sink_kafka_set_wake_fd(xb_sink_kafka *sk, int fd);
/* Messages not yet reported. */
int xb_sink_kafka_outq(xb_sink_kafka *sk);
/* Non-zero once the producer hit a fatal error (idempotence broken): stop, do not commit. */
int xb_sink_kafka_fatal(xb_sink_kafka *sk, char *buf, size_t cap);

#endif
