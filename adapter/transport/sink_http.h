/* sink_http.h — delivery of ISO 20022 messages to one overseas HTTPS destination.
 *
 * Owns: one libcurl multi handle per destination (keep-alive, HTTP/2 where the server offers it,
 * TLS 1.2+ with verification, mutual TLS, optional public-key pin), the retry schedule, the
 * circuit breaker, the in-flight bound, and the request headers (Idempotency-Key, Content-Digest,
 * Signature-Input/Signature per RFC 9530/9421, see httpsig.h).
 * Never: gives up on a message silently, retries a permanent answer, commits offsets, decides
 * what may leave the country, or logs a key or a body.
 *
 * Contract with the pipeline (at-least-once, nothing lost):
 *   - every message accepted by xb_sink_http_submit() is completed by EXACTLY ONE call of the
 *     done callback, with one of the outcomes below;
 *   - 5xx, 408, 429, timeouts and connection errors are retried WITHOUT LIMIT (exponential backoff
 *     with jitter, capped at backoff_max_ms). A Retry-After (seconds or HTTP date, up to 600 s)
 *     on a 503/429 holds the WHOLE destination until then, not just the one message. While
 *     messages wait, xb_sink_http_backlogged() is true: pause the Kafka partitions, don't let the
 *     consumer be evicted;
 *   - DELIVERED (2xx) and DUPLICATE (409 = the receiver already has this Idempotency-Key) mean the
 *     destination holds the message: the record may be acknowledged;
 *   - PERMANENT (4xx other than 401/403/408/409/429, and unexpected 3xx) means this message will
 *     never be accepted as is: park it in the DLQ with result->http_status and result->reason;
 *   - CONFIG_ERROR means the transport itself is misconfigured and nothing was (or will be)
 *     delivered: TLS peer verification failed (unknown CA, expired or not-yet-valid certificate,
 *     hostname mismatch), the pinned public key did not match, our client certificate/key could
 *     not be loaded, the server refused our client certificate during the handshake, no
 *     protocol version >= TLS 1.2 could be agreed, or the server answered 401/403 (our client
 *     certificate or signature key is not accepted: a credentials problem, the same for every
 *     message, so parking each message would only fill the DLQ). These are not retried: on the
 *     first one the sink turns FAILED, stops sending, and completes every queued and every
 *     later-submitted message with CONFIG_ERROR; xb_sink_http_config_error() returns the text,
 *     e.g. "hk-correspondent: server certificate has expired (SSL certificate problem:
 *     certificate has expired) for https://127.0.0.1:8443/iso20022". The pipeline must NOT
 *     acknowledge such records (they are undelivered): stop, log the error and exit non-zero,
 *     or rebuild the sink after a config reload. (Parking them in the DLQ is also safe, but an
 *     operator usually wants the fix + redelivery, not thousands of DLQ entries.)
 *   - CANCELLED: xb_sink_http_free() was called while the message was pending. Not delivered
 *     (it may or may not have reached the receiver); do not acknowledge — it will be redelivered
 *     and deduplicated by Idempotency-Key.
 *
 * Threading: a sink is NOT thread-safe. One thread (the pipeline thread) calls submit, poll,
 * backlogged, stats and free; callbacks run inside xb_sink_http_poll()/xb_sink_http_free() on
 * that same thread, and may call xb_sink_http_submit() (not free). The single exception is
 * xb_sink_http_wakeup(), which any thread may call to make a blocking poll return early.
 * Several sinks can share the pipeline thread: call xb_sink_http_poll(s, 0) on each and block
 * elsewhere (e.g. in rd_kafka_consumer_poll with a few ms), or block in one sink's poll.
 *
 * Batch mode (batch_max_messages > 1): up to batch_max_messages queued messages (bounded also by
 * batch_max_bytes, waiting at most batch_linger_ms for a batch to fill) go in one POST as
 * multipart/mixed; every part carries Content-Type and Idempotency-Key headers, and the whole
 * body is digested and signed once. The receiver answers 200 with a JSON array of per-part
 * results ({"results":[{"idempotency_key":"...","status":200},...]}); each message still gets
 * its own callback with its own status. A 5xx/timeout on the batch retries the whole batch
 * (already-stored parts then come back as 409 = DUPLICATE). Format: docs in receiver.h.
 */
#ifndef XB_SINK_HTTP_H
#define XB_SINK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef struct xb_sink_http xb_sink_http;

/* Longest idempotency key the sink accepts (UETRs are 36, the SHA-256 rule gives 64). */
#define XB_SINK_HTTP_KEY_MAX 128

typedef enum xb_sink_http_outcome {
    XB_SINK_HTTP_DELIVERED = 1,    /* 2xx */
    XB_SINK_HTTP_DUPLICATE = 2,    /* 409: receiver already had this Idempotency-Key */
    XB_SINK_HTTP_PERMANENT = 3,    /* 4xx other than 408/409/429: DLQ */
    XB_SINK_HTTP_CONFIG_ERROR = 4, /* TLS/pin/client-cert misconfiguration: not delivered */
    XB_SINK_HTTP_CANCELLED = 5,    /* sink freed while pending: not delivered */
} xb_sink_http_outcome;

typedef struct xb_sink_http_result {
    xb_sink_http_outcome outcome;
    long http_status;    /* final HTTP status, 0 when no response was received */
    unsigned attempts;   /* requests made for this message (1 = first try succeeded) */
    uint64_t latency_us; /* from submit to completion */
    const char *reason;  /* short text: response body/reason or transport error; valid only
                            during the callback; never contains secrets */
} xb_sink_http_result;

/* Called once per submitted message. `user` is the pointer given to submit. */
typedef void (*xb_sink_http_done_fn)(void *cb_ctx, void *user, const xb_sink_http_result *result);

typedef struct xb_sink_http_options {
    const char *name;      /* destination name, used in errors and for the key rule */
    const char *url;       /* https://host:port/path (http:// refused unless allow_plain_http) */
    const char *ca_file;   /* PEM CA bundle to verify the server; NULL = system store */
    const char *cert_file; /* PEM client certificate for mutual TLS; NULL = none */
    const char *key_file;  /* PEM client private key (with cert_file) */
    const char *pinned_pubkey; /* "sha256//BASE64[;sha256//...]" or NULL */
    const char *sign_key_file; /* Ed25519 PEM private key (RFC 9421); NULL = unsigned */
    const char *sign_key_id;   /* keyid parameter of the signature (required with sign_key_file) */
    const char *content_type;  /* default "application/xml" */
    unsigned max_in_flight;    /* concurrent requests to this destination, default 16 */
    unsigned connect_timeout_ms; /* default 5000 */
    unsigned request_timeout_ms; /* whole request, default 30000 */
    unsigned backoff_initial_ms; /* first retry delay (before jitter), default 100 */
    unsigned backoff_max_ms;     /* cap on a computed retry delay, default 30000 */
    unsigned breaker_threshold;  /* consecutive failed requests that open the breaker, default 5 */
    unsigned breaker_open_ms;    /* open time before one half-open probe, default 2000 */
    unsigned backlog_high;       /* pending messages at which backlogged() turns true;
                                    default 2 * max_in_flight * max(2, batch_max_messages)
                                    (and always true while retrying) */
    unsigned batch_max_messages; /* 0 or 1: one message per request (default) */
    unsigned batch_linger_ms;    /* wait for a batch to fill, default 5 */
    size_t batch_max_bytes;      /* default 4 MiB */
    size_t max_body_bytes;       /* largest single message accepted by submit, default 16 MiB */
    int allow_plain_http;        /* tests only: permit http:// URLs (TLS options then unused) */
    int http2;                   /* 1 (default): offer HTTP/2 over TLS (ALPN); 0: HTTP/1.1 only */
} xb_sink_http_options;

typedef enum xb_sink_http_breaker {
    XB_SINK_HTTP_BREAKER_CLOSED = 0,
    XB_SINK_HTTP_BREAKER_OPEN = 1,
    XB_SINK_HTTP_BREAKER_HALF_OPEN = 2,
} xb_sink_http_breaker;

typedef struct xb_sink_http_stats {
    uint64_t submitted, delivered, duplicates, permanent, config_errors, cancelled;
    uint64_t requests, retries; /* retries = requests that were not a message's first try */
    unsigned pending;           /* submitted, not yet completed (queued + in flight + waiting) */
    unsigned in_flight;         /* requests currently on the wire */
    xb_sink_http_breaker breaker;
    int failed; /* 1 after a CONFIG_ERROR */
} xb_sink_http_stats;

/* Fills opts with the defaults above (all strings NULL). Call before setting fields. */
void xb_sink_http_options_init(xb_sink_http_options *opts);

/* Creates a sink: validates options, loads the signing key, prepares the curl multi handle.
 * Does not connect. Errors: XB_ECONFIG (bad url/options, names the option in err->path),
 * XB_ECRYPTO (signing key unreadable or not Ed25519), XB_ENOMEM. The strings in opts are
 * copied. done is called once per message, see above. */
int xb_sink_http_new(xb_sink_http **out, const xb_sink_http_options *opts,
                     xb_sink_http_done_fn done, void *cb_ctx, xb_error *err);

/* Queues one message (body is copied). idempotency_key: printable ASCII, no spaces, at most
 * XB_SINK_HTTP_KEY_MAX bytes (see xb_sink_http_idempotency_key). Never blocks and never fails
 * for backpressure: check xb_sink_http_backlogged() instead. Errors: XB_EINVAL (bad key, empty
 * body), XB_ELIMIT (body > max_body_bytes), XB_ENOMEM; on error no callback will come. */
int xb_sink_http_submit(xb_sink_http *sink, const void *body, size_t len,
                        const char *idempotency_key, void *user, xb_error *err);

/* Drives transfers and timers; runs completion callbacks. Waits at most timeout_ms (0 = don't
 * wait) for network activity or a due retry. Returns the number of callbacks run, or a negative
 * xb_error_code if curl itself failed (err says why). */
int xb_sink_http_poll(xb_sink_http *sink, int timeout_ms, xb_error *err);

/* Makes a blocked xb_sink_http_poll return early. The only function safe from another thread. */
void xb_sink_http_wakeup(xb_sink_http *sink);

/* A blocking xb_sink_http_poll also returns when fd becomes readable (-1: no such fd). The
 * pipeline passes the file descriptor its Kafka queues signal (issue #8): a record that arrives
 * while the thread waits for an HTTP answer is taken then, not when the wait times out. The
 * caller owns fd and drains it. */
void xb_sink_http_set_wake_fd(xb_sink_http *sink, int fd);

/* Polls until nothing is pending or timeout_ms passed. Returns the number still pending. */
unsigned xb_sink_http_drain(xb_sink_http *sink, int timeout_ms, xb_error *err);

/* 1 when the pipeline should pause the partitions feeding this sink: pending >= backlog_high,
 * or a pending message has failed at least once (waiting for or in its retry), or a Retry-After
 * hold is active, or the breaker is not closed. */
int xb_sink_http_backlogged(const xb_sink_http *sink);

/* NULL while healthy; after a CONFIG_ERROR, the reason (stable until free). */
const char *xb_sink_http_config_error(const xb_sink_http *sink);

void xb_sink_http_stats_get(const xb_sink_http *sink, xb_sink_http_stats *out);

/* Completes every pending message with CANCELLED (callbacks run here), closes connections and
 * frees the sink. NULL is fine. */
void xb_sink_http_free(xb_sink_http *sink);

/* The project's idempotency-key rule (DESIGN.md §2): the UETR when the message has one
 * (lower-cased, as ISO 20022 writes it), else the lower-case hex SHA-256 of
 * destination || 0x00 || canonical message bytes, so the same message sent to two destinations
 * gets two keys and a redelivery gets the same one. out must hold XB_SINK_HTTP_KEY_MAX + 1 bytes.
 * uetr may be NULL or "" (= absent); a UETR that is not 36 chars of hex and dashes is refused
 * with XB_EINVAL rather than silently hashed. */
int xb_sink_http_idempotency_key(char *out, const char *uetr, const void *canonical, size_t len,
                                 const char *destination, xb_error *err);

#endif
