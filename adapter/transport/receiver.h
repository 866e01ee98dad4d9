/* receiver.h — the reference overseas receiver: an HTTPS server (libmicrohttpd + GnuTLS) that
 * accepts ISO 20022 deliveries from xborder's HTTPS sink.
 *
 * Owns: the listening socket, client-certificate checks, body-signature checks (httpsig.h),
 * durable deduplication on Idempotency-Key (SQLite file DIR/receiver.sqlite) and the stored
 * messages (DIR/messages/<key>.xml, written to a temp name, fsynced, then renamed).
 * Never: stores a message before its checks pass, answers 200 before the file and the dedupe row
 * are durable, or listens without TLS and a client CA.
 *
 * Protocol (what the sink speaks):
 *   POST /iso20022 with Content-Type application/xml (or text/xml) and one message.
 *     Headers: Idempotency-Key (required, printable, <= 128 bytes), Content-Digest +
 *     Signature-Input + Signature (RFC 9530/9421, required when a verify key is configured).
 *     200 stored; 409 duplicate (this key was stored before, also across restarts);
 *     400 missing/invalid key or not well-formed XML (or DTD present); 401 bad/missing signature;
 *     403 no client certificate / not issued by our CA; 404 other path; 405 other method;
 *     413 body too large; 415 other content type; 503 injected failure (+ Retry-After).
 *   POST /iso20022 with Content-Type multipart/mixed; boundary=B — the batch mode:
 *       --B CRLF
 *       Content-Type: application/xml CRLF
 *       Idempotency-Key: KEY CRLF
 *       CRLF
 *       <message bytes> CRLF
 *       --B CRLF ... --B-- CRLF
 *     The signature (request Idempotency-Key = any batch id) covers the whole body. Answer 200
 *     application/json {"results":[{"idempotency_key":"KEY","status":200|409|400,"reason":"..."}]}
 *     in part order, or 400 for bad framing (then nothing was stored). At most 10000 parts.
 *   GET /stats  -> {"accepted":N,"duplicates":N,"rejected":N,"injected_failures":N,"resets":N,
 *                   "first_accepted_ms":T,"last_accepted_ms":T}  (T: Unix ms of the first and the
 *                   latest acceptance, 0 before any; a benchmark times a run from them instead of
 *                   asking every 100 ms, which cost the measured processes ~9% of a core)
 *   GET /healthz -> 200 "ok"
 * Client certificates are requested in the TLS handshake and verified against the CA
 * (GnuTLS, libmicrohttpd's MHD_OPTION_HTTPS_MEM_TRUST); a connection without a valid one gets 403
 * on every request (libmicrohttpd can only *request* a certificate, so the refusal happens right
 * after the handshake, before any body is read). TLS 1.2 and 1.3 only.
 */
#ifndef XB_RECEIVER_H
#define XB_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef struct xb_receiver xb_receiver;

typedef struct xb_receiver_options {
    const char *host;      /* "127.0.0.1", "localhost", "::1" */
    unsigned port;         /* 0 = any free port (see xb_receiver_port) */
    const char *cert_file; /* PEM server certificate */
    const char *key_file;  /* PEM server key */
    const char *ca_file;   /* PEM CA that issues client certificates (required) */
    const char *store_dir; /* created if missing */
    const char
        *verify_key_file;     /* Ed25519 public key: require valid signatures; NULL = don't check */
    const char *verify_keyid; /* NULL = any keyid */
    int64_t max_signature_age_s; /* default 300; 0 = don't check created */
    size_t max_body_bytes;       /* default 16 MiB (a batch counts as one body) */
    /* Fault injection for tests (probabilities 0..1; not money, so double is fine). */
    double fail_rate;       /* answer 503 without storing */
    double reset_rate;      /* store, then drop the connection without answering */
    unsigned latency_ms;    /* sleep before answering each POST */
    unsigned retry_after_s; /* Retry-After on injected 503s; 0 = no header */
    int quiet;              /* 0: one log line per request on stderr */
    int bodies_in_db;       /* 1: keep message bytes in DIR/receiver.sqlite (table bodies) instead
                               of one file each (benchmarks; file creation is the bottleneck) */
    int no_fsync;           /* 1: no fsync of files/dir, SQLite synchronous=OFF: survives a receiver
                               crash (kill -9), not a power cut. For benchmarks. */
    const char *dedupe_store; /* issue #10: a state-store URL (postgresql://...) shared by every
                                 receiver behind one endpoint; NULL = DIR/receiver.sqlite */
} xb_receiver_options;

typedef struct xb_receiver_stats {
    uint64_t accepted, duplicates, rejected, injected_failures, resets;
    uint64_t first_accepted_ms, last_accepted_ms; /* Unix ms (CLOCK_REALTIME), 0 = none yet */
} xb_receiver_stats;

void xb_receiver_options_init(xb_receiver_options *opts);

/* Opens the store, loads the TLS files and starts serving on background threads.
 * Errors: XB_ECONFIG (missing option, unreadable TLS file), XB_ESTATE (store), XB_EIO (bind). */
int xb_receiver_start(xb_receiver **out, const xb_receiver_options *opts, xb_error *err);

/* The bound port (useful with port 0). */
unsigned xb_receiver_port(const xb_receiver *rx);

void xb_receiver_stats_get(xb_receiver *rx, xb_receiver_stats *out);

/* Stops accepting, waits for running requests, closes the store. NULL is fine. */
void xb_receiver_stop(xb_receiver *rx);

#endif
