/* receive.c — `xborder receive`: runs the reference overseas receiver until SIGTERM/SIGINT.
 *
 * Owns: argument parsing and the signal wait. Never: does the receiver's work (receiver.c) or
 * prints key material.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/transport/receiver.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xborder receive --listen HOST:PORT --cert FILE --key FILE --ca FILE --store DIR\n"
        "                       [--verify-key PUB] [--keyid ID] [--fail-rate R] [--latency-ms N]\n"
        "                       [--reset-rate R] [--retry-after S] [--max-body BYTES]\n"
        "                       [--no-fsync] [--store-in-db] [--quiet] [--dedupe-store URL]\n\n"
        "The reference overseas receiver: HTTPS (TLS 1.2+) with required client certificates from "
        "--ca,\n"
        "POST /iso20022 (one application/xml message, or a multipart/mixed batch), durable dedupe "
        "on\n"
        "Idempotency-Key (DIR/receiver.sqlite), messages stored as DIR/messages/<key>.xml.\n"
        "Answers 200 stored, 409 duplicate, 400 bad request, 401 bad signature, 403 no/unknown "
        "client\n"
        "certificate, 413 too large, 415 wrong type, 503 injected failure. GET /stats (counts,\n"
        "and the times of the first and the latest acceptance), GET /healthz.\n\n"
        "  --listen HOST:PORT   address to bind (PORT 0 = any free port; printed when ready)\n"
        "  --verify-key PUB     Ed25519 public key (PEM): require valid RFC 9421 signatures\n"
        "  --keyid ID           accept only signatures with this keyid\n"
        "  --fail-rate R        answer 503 to a fraction R (0..1) of POSTs, storing nothing\n"
        "  --retry-after S      send Retry-After: S with injected 503s\n"
        "  --latency-ms N       wait N ms before answering each POST\n"
        "  --reset-rate R       store, then drop the connection unanswered for a fraction R of "
        "POSTs\n"
        "  --max-body BYTES     largest request body (default 16 MiB)\n"
        "  --dedupe-store URL   claim keys in a state store shared by every receiver behind one\n"
        "                       endpoint (postgresql://USER@HOST:PORT/DB; issue #10)\n"
        "  --store-in-db        keep message bytes in DIR/receiver.sqlite (table bodies) instead "
        "of\n"
        "                       one file each (benchmarks)\n"
        "  --no-fsync           don't fsync stored files and dedupe rows: survives kill -9, not a\n"
        "                       power cut (benchmarks)\n"
        "  --quiet              no per-request log lines\n\n"
        "Prints `listening on https://HOST:PORT` on stderr when ready; SIGTERM stops cleanly.\n"
        "exit: 0 stopped by SIGTERM/SIGINT, 1 could not start (cause named), 2 usage.\n"
        "example: xborder receive --listen 127.0.0.1:8443 --cert server.crt \\\n"
        "           --key server.key --ca ca.crt --store /tmp/received\n");
}

static int parse_rate(double *out, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(unsigned long long *out, const char *s)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* HOST:PORT, [v6]:PORT. Writes host into buf. */
static int parse_listen(char *host, size_t hostsz, unsigned *port, const char *s)
{
    const char *colon = strrchr(s, ':');
    unsigned long long p;
    if (!colon || parse_uint(&p, colon + 1) != 0 || p > 65535)
        return -1;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostsz)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (unsigned)p;
    return 0;
}

int xb_cli_receive(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    xb_receiver_options o;
    xb_receiver_options_init(&o);
    char host[256] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        }
        if (!strcmp(a, "--store-in-db")) {
            o.bodies_in_db = 1;
            continue;
        }
        if (!strcmp(a, "--no-fsync")) {
            o.no_fsync = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "xborder receive: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        unsigned long long u;
        int bad = 0;
        if (!strcmp(a, "--listen"))
            bad = parse_listen(host, sizeof host, &o.port, v);
        else if (!strcmp(a, "--cert"))
            o.cert_file = v;
        else if (!strcmp(a, "--key"))
            o.key_file = v;
        else if (!strcmp(a, "--ca"))
            o.ca_file = v;
        else if (!strcmp(a, "--store"))
            o.store_dir = v;
        else if (!strcmp(a, "--dedupe-store"))
            o.dedupe_store = v;
        else if (!strcmp(a, "--verify-key"))
            o.verify_key_file = v;
        else if (!strcmp(a, "--keyid"))
            o.verify_keyid = v;
        else if (!strcmp(a, "--fail-rate"))
            bad = parse_rate(&o.fail_rate, v);
        else if (!strcmp(a, "--reset-rate"))
            bad = parse_rate(&o.reset_rate, v);
        else if (!strcmp(a, "--latency-ms"))
            bad = parse_uint(&u, v) || u > 600000 || ((o.latency_ms = (unsigned)u), 0);
        else if (!strcmp(a, "--retry-after"))
            bad = parse_uint(&u, v) || u > 86400 || ((o.retry_after_s = (unsigned)u), 0);
        else if (!strcmp(a, "--max-body"))
            bad = parse_uint(&u, v) || u == 0 || ((o.max_body_bytes = (size_t)u), 0);
        else {
            fprintf(stderr, "xborder receive: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "xborder receive: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (!host[0] || !o.cert_file || !o.key_file || !o.ca_file || !o.store_dir) {
        fprintf(stderr,
                "xborder receive: --listen, --cert, --key, --ca and --store are required\n");
        usage(stderr);
        return 2;
    }
    o.host = host;

    /* Block the stop signals before the server threads start, so only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    xb_receiver *rx;
    xb_error err;
    if (xb_receiver_start(&rx, &o, &err) != 0) {
        fprintf(stderr, "xborder receive: %s\n", err.message);
        return 1;
    }
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "listening on https://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
            xb_receiver_port(rx));
    fflush(stderr);
    int sig = 0;
    sigwait(&stop, &sig);
    xb_receiver_stats s;
    xb_receiver_stats_get(rx, &s);
    xb_receiver_stop(rx);
    fprintf(stderr, "receive: stopped (%s): accepted %llu, duplicates %llu, rejected %llu\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)s.accepted,
            (unsigned long long)s.duplicates, (unsigned long long)s.rejected);
    return 0;
}
