/* transport_harness.h — helpers for the HTTPS transport integration tests: a scratch directory
 * with a fresh test PKI (tests/env/pki), receiver processes (xb_test_receiver = `xborder receive`)
 * started and stopped by pid, fixture messages, and a sink completion recorder.
 * Never: binds anything but 127.0.0.1, leaves a process running, or waits without a bound.
 */
#ifndef XB_TRANSPORT_HARNESS_H
#define XB_TRANSPORT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "adapter/transport/sink_http.h"

typedef struct th_dir {
    char root[256]; /* /tmp/xb-transport-XXXXXX */
    char pki[300];  /* root/pki */
} th_dir;

/* Makes the scratch dir and the PKI; asserts on failure. th_dir_free removes everything. */
void th_dir_init(th_dir *d);
void th_dir_free(th_dir *d);

/* Path inside the PKI dir (static buffer rotation: up to 8 live results). */
const char *th_pki(const th_dir *d, const char *file);

typedef struct th_rx {
    pid_t pid;
    unsigned port;
    char log[320];
} th_rx;

/* Starts the receiver on 127.0.0.1:port (0 = free port) with server cert/key named by
 * cert_base ("server", "expired", ...), the CA ca.crt and store root/<store>, plus extra args
 * (NULL-terminated). Waits up to 10 s for "listening on". Returns 0 or -1. */
int th_rx_start(th_rx *rx, const th_dir *d, unsigned port, const char *cert_base, const char *store,
                const char *const *extra);
/* SIGTERM, up to 5 s, then SIGKILL. */
void th_rx_stop(th_rx *rx);
/* Stops every receiver this process started and has not stopped (a cmocka teardown). */
int th_rx_stop_all(void **state);

/* GET /stats from the receiver with the good client certificate; -1 on failure. */
typedef struct th_rx_stats {
    long accepted, duplicates, rejected, injected_failures, resets;
    long long first_accepted_ms, last_accepted_ms;
} th_rx_stats;
int th_rx_stats_get(th_rx_stats *out, const th_dir *d, unsigned port);

/* Number of stored messages in root/<store>/messages. */
int th_count_files(const th_dir *d, const char *store);
/* Reads root/<store>/messages/<name> into a malloc'd buffer (NULL if absent). */
char *th_read_stored(const th_dir *d, const char *store, const char *name, size_t *len);

/* The fixture pacs.008 with @SEQ@ and a UETR derived from seq; uetr_out gets the UETR (37 bytes).
 */
char *th_message(unsigned seq, size_t *len, char *uetr_out);
/* A whole fixture file. */
char *th_fixture(const char *rel, size_t *len);

/* Completion recorder for the sink callback (cb_ctx = th_results *). */
typedef struct th_results {
    unsigned n[6]; /* indexed by xb_sink_http_outcome */
    unsigned completions;
    unsigned max_attempts;
    uint64_t max_latency_us;
    long last_status;
    char last_reason[512];
    unsigned char *seen; /* per-user-index completion count (user = (void *)(uintptr_t)(i + 1)) */
    size_t seen_cap;
} th_results;
void th_results_init(th_results *r, size_t cap);
void th_results_free(th_results *r);
void th_done(void *cb_ctx, void *user, const xb_sink_http_result *res);

/* Polls until `completions` callbacks happened or timeout_ms passed. Returns completions. */
unsigned th_run(xb_sink_http *s, th_results *r, unsigned completions, int timeout_ms);

/* Sink options for the good receiver on port (mutual TLS with client.crt, CA ca.crt). */
void th_sink_options(xb_sink_http_options *o, const th_dir *d, unsigned port, const char *host);

uint64_t th_now_ms(void);

#endif
