/* sink_sftp.h — batch file delivery of ISO 20022 messages to one overseas SFTP destination
 * ("EDI beside the API", issue #12).
 *
 * Owns: gathering a destination's messages into batch files (count, byte and time limits), the
 * local spool of sealed batches, the upload over SFTP (libcurl + libssh2: host key checked
 * against a configured known_hosts entry, public-key client authentication only) under a
 * temporary name followed by a server-side rename, the signed manifest beside each batch
 * (format: batch_file.h), the retry schedule, and the `sftp:` config subtree.
 * Never: lets a counterparty see a partial file under a final name, sends anything to a host
 * whose key does not match, completes a message before the rename of its whole batch (file,
 * signature, manifest) succeeded, commits offsets, decides what may leave the country, or logs
 * a key or a body.
 *
 * Contract with the pipeline: the SAME as sink_http.h, so a destination of `type: sftp` is
 * handled like an HTTPS one (the callback and result types are sink_http's):
 *   - every message accepted by xb_sink_sftp_submit() is completed by EXACTLY ONE call of the
 *     done callback;
 *   - DELIVERED: the batch holding the message is renamed into place on the server together with
 *     its signature and manifest. Only then may the record be acknowledged (watermark rule);
 *   - connection failures, timeouts, a server that vanishes mid-upload, failed writes or renames
 *     are retried WITHOUT LIMIT (exponential backoff with jitter); xb_sink_sftp_backlogged() is
 *     true meanwhile: pause the partitions;
 *   - CONFIG_ERROR: the host key does not match known_hosts (nothing is sent: the check happens
 *     before authentication), the server refused our key, permission denied on the inbox, or a
 *     key/known_hosts file is unreadable. Not retried: the sink turns FAILED and completes every
 *     pending and later message with CONFIG_ERROR; xb_sink_sftp_config_error() says why. Do not
 *     acknowledge these records;
 *   - CANCELLED: xb_sink_sftp_free() while pending. Not acknowledged; redelivered later.
 *   - PERMANENT: a message that can never go into a batch (not well-formed XML, DOCTYPE, wrong
 *     encoding): park it in the DLQ. (Completed from poll, like every outcome.)
 *   - DUPLICATE: never produced (a file drop has no per-message answer).
 *
 * Crash safety ("the counterparty never gets two different files for one batch"): a batch is
 * sealed into the spool directory (container, signature, manifest; fsync'd) BEFORE its first
 * byte goes out, and its name is derived from its content (batch_file.h). After a crash the new
 * sink finds the sealed batches in the spool and uploads exactly those bytes again under the
 * same names, first; the pipeline's redelivered messages whose keys are in a recovered batch
 * are attached to it (their new bytes are not sent again) and complete when it is in place.
 * A rename onto a file that is already there (the previous run got that far) is accepted when
 * the file has the expected size: same name = same SHA-256 prefix = same bytes; a file of another
 * size under our name is never overwritten (the batch waits, last_error says why). Delivered
 * batches leave their manifest in the spool as NAME.delivered.json (the last 64): after a crash
 * between the rename and the offset commit, the redelivered messages complete at once.
 *
 * Threading: like sink_http — one thread calls everything; callbacks run inside poll/free;
 * xb_sink_sftp_wakeup() is the one call safe from another thread.
 */
#ifndef XB_SINK_SFTP_H
#define XB_SINK_SFTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/transport/sink_http.h"
#include "iso20022/error.h"

typedef struct xb_sink_sftp xb_sink_sftp;

typedef struct xb_sink_sftp_options {
    const char *name;        /* destination name (batch names, errors); [A-Za-z0-9._-], <= 64 */
    const char *url;         /* sftp://host:port/absolute/inbox (or /~/dir for the home folder) */
    const char *known_hosts; /* OpenSSH known_hosts file holding the server's key (required) */
    const char *user;        /* login name (required) */
    const char *key_file;    /* client private key, OpenSSH or PEM format (required) */
    const char *pub_file;    /* its public key; NULL = derived from the private key */
    const char *manifest_key_file; /* Ed25519 PEM private key signing manifests (required) */
    const char *manifest_key_id;   /* keyid in the signature; default: name */
    const char
        *spool_dir; /* local folder for sealed batches (required; created if absent). The
                       config loader defaults it to <audit.file's folder>/sftp-spool/<name> */
    unsigned batch_max_messages;   /* default 1000 */
    size_t batch_max_bytes;        /* container size bound, default 8 MiB (a single larger message
                                      still goes, alone) */
    unsigned batch_linger_ms;      /* a started batch is sealed after this long, default 1000 */
    unsigned connect_timeout_ms;   /* default 10000 */
    unsigned timeout_ms;           /* one file transfer, default 120000 */
    unsigned backoff_initial_ms;   /* default 200 */
    unsigned backoff_max_ms;       /* default 30000 */
    unsigned backlog_high;         /* pending messages that make backlogged() true; default
                                      4 * batch_max_messages */
    size_t max_message_bytes;      /* largest message submit accepts, default 16 MiB */
    uint64_t max_send_bytes_per_s; /* tests only: throttle uploads (0 = no limit) */
} xb_sink_sftp_options;

typedef struct xb_sink_sftp_stats {
    uint64_t submitted, delivered, permanent, config_errors, cancelled;
    uint64_t batches_sealed;     /* batches written to the spool by this sink */
    uint64_t batches_delivered;  /* batches whose three files are in place */
    uint64_t batches_recovered;  /* sealed batches found in the spool at start */
    uint64_t transfers, retries; /* SFTP transfers started; failed attempts */
    unsigned pending;            /* submitted, not yet completed */
    unsigned queued_batches;     /* sealed, not yet delivered */
    int failed;                  /* 1 after a CONFIG_ERROR */
} xb_sink_sftp_stats;

void xb_sink_sftp_options_init(xb_sink_sftp_options *opts);

/* Reads the `sftp:` mapping of a destination into opts (after options_init; name is not set):
 *   sftp: {url, known_hosts, user, key, pub, manifest_key, manifest_key_id, [spool],
 *          batch: {max_messages, max_bytes, linger_ms},
 *          retry: {initial_ms, max_ms}, timeout_ms, connect_timeout_ms}
 * Strings point into tree (keep it alive). `where` is the dotted path of the mapping
 * ("destinations.hk-ta.sftp"); errors are XB_ECONFIG with err->path the exact key
 * ("destinations.hk-ta.sftp.batch.max_messages"). Relative file paths are returned as written:
 * the config loader resolves them. */
int xb_sink_sftp_opts_from_tree(xb_sink_sftp_options *opts, const json_t *tree, const char *where,
                                xb_error *err);

/* Creates the sink: checks options, loads the manifest key, checks the key and known_hosts files
 * are readable, creates the spool folder and recovers the batches sealed in it (queued for
 * upload first). Does not connect. Errors: XB_ECONFIG (names the option), XB_ECRYPTO (manifest
 * key), XB_EIO (spool), XB_ENOMEM. Strings in opts are copied. */
int xb_sink_sftp_new(xb_sink_sftp **out, const xb_sink_sftp_options *opts,
                     xb_sink_http_done_fn done, void *cb_ctx, xb_error *err);

/* Queues one message (copied) with its idempotency key (xb_sink_http_idempotency_key). Never
 * blocks for the network. Errors: XB_EINVAL (bad key, empty body), XB_ELIMIT (too big),
 * XB_ENOMEM; on error no callback will come. */
int xb_sink_sftp_submit(xb_sink_sftp *sink, const void *body, size_t len,
                        const char *idempotency_key, void *user, xb_error *err);

/* Seals due batches, drives uploads and timers, runs callbacks. Waits at most timeout_ms.
 * Returns the number of callbacks run, or a negative xb_error_code when curl or the spool
 * failed (err says why; pending messages stay pending). */
int xb_sink_sftp_poll(xb_sink_sftp *sink, int timeout_ms, xb_error *err);

/* Seals the batch being gathered now instead of waiting for its linger time (drain, stop). */
void xb_sink_sftp_flush(xb_sink_sftp *sink);

void xb_sink_sftp_wakeup(xb_sink_sftp *sink);

/* Flushes, then polls until nothing is pending or timeout_ms passed; returns pending count. */
unsigned xb_sink_sftp_drain(xb_sink_sftp *sink, int timeout_ms, xb_error *err);

int xb_sink_sftp_backlogged(const xb_sink_sftp *sink);
const char *xb_sink_sftp_config_error(const xb_sink_sftp *sink);
/* Last transient failure (e.g. "connection refused"), NULL when the last transfer succeeded. */
const char *xb_sink_sftp_last_error(const xb_sink_sftp *sink);
void xb_sink_sftp_stats_get(const xb_sink_sftp *sink, xb_sink_sftp_stats *out);

/* Completes every pending message with CANCELLED (sealed batches stay in the spool for the
 * next start), closes the connection, frees the sink. NULL is fine. */
void xb_sink_sftp_free(xb_sink_sftp *sink);

#endif
