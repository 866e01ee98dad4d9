/* config.h — the xborder YAML configuration as one immutable struct.
 *
 * Owns: reading the config file (through adapter/yaml_tree.h) and checking the sections the
 * delivery pipeline uses: kafka, routes, valuation (issue #6), audit, dlq, metrics, log, pipeline.
 * Each error names the exact dotted key ("kafka.fetch.max.bytes", "routes[1].destinations[0]",
 * "audit.fsync").
 * The `destinations:` and `policy:` subtrees are the policy engine's: config keeps the tree and
 * only checks that every route names a destination that exists there.
 * Reload = build a new xb_config and swap; a struct is never changed after xb_config_load returns.
 * Never: opens sockets, files other than the config, or logs values (they may hold secrets).
 */
#ifndef XB_CONFIG_H
#define XB_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "adapter/log.h"
#include "adapter/state/audit.h"
#include "adapter/transport/sink_sftp.h"
#include "iso20022/error.h"

/* pipeline.max_outstanding_kbytes when the config does not say (docs/configuration.md) */
#define XB_DEFAULT_OUTSTANDING_KBYTES 2048

/* One librdkafka property (name and value as written). */
typedef struct xb_kv {
    const char *key;
    const char *value;
} xb_kv;

typedef struct xb_route {
    const char *name;
    const char **topics;
    size_t n_topics;
    const char **messages; /* "pacs.008" (any version), "pacs.008.001.08" (exact) or "*" */
    size_t n_messages;
    const char **destinations; /* `destination: x` or `destinations: [x, y]` */
    size_t n_destinations;
    const json_t *settle; /* issue #5's settlement leg; NULL when absent. Not interpreted here. */
} xb_route;

/* Transport settings of one destination (the delivery half of `destinations.<name>`; the policy
 * half is read by adapter/policy). File paths are resolved: a relative path in the file is
 * relative to the config file's folder (from a buffer: to the working directory). */
typedef struct xb_dest_http {
    const char *name;
    const char *url;           /* url: required, https:// */
    const char *ca;            /* tls.ca */
    const char *cert;          /* tls.cert (mutual TLS) */
    const char *key;           /* tls.key */
    const char *pinned_pubkey; /* tls.pinned_pubkey: "sha256//BASE64" */
    const char *sign_key;      /* sign.key: Ed25519 PEM private key (RFC 9421 signatures) */
    const char *sign_key_id;   /* sign.key_id */
    unsigned batch_max_messages, batch_linger_ms; /* batch.max_messages, batch.linger_ms */
    unsigned backoff_initial_ms, backoff_max_ms;  /* retry.initial_ms, retry.max_ms */
    unsigned breaker_threshold,
        breaker_open_ms;    /* retry.breaker_threshold, retry.breaker_open_ms */
    unsigned timeout_ms;    /* whole request */
    unsigned max_in_flight; /* sink.max_in_flight */
    bool http2;             /* sink.http2 (default true) */
    bool allow_plain_http;  /* sink.allow_plain_http (tests only) */
    /* type: sftp (issue #12): batch files over SFTP instead of HTTPS; sftp_opts is the parsed
     * `sftp:` subtree (adapter/transport/sink_sftp.h) with its file paths resolved. */
    bool sftp;
    xb_sink_sftp_options sftp_opts;
} xb_dest_http;

/* issue #6: one entry of `valuation:` (adapter/valuation_route.h). Each entry also adds a route
 * named "valuation:<holdings_topic>" that takes reda.001 from holdings_topic to destinations, so
 * a valued report meets policy, audit and the sinks like any routed message. Not interpreted here
 * beyond the checks; the fund file is read by the valuation route. */
typedef struct xb_valuation_route {
    const char *fund;           /* fund: FUND.yaml (resolved like every path) */
    const char *holdings_topic; /* semt.003 statements: consumed by the pipeline's group */
    const char *rates_topic;    /* CSV date,currency,cny_per_unit[,per]: read as a table */
    const char *prices_topic;   /* CSV date,instrument,price,currency (NULL: none) */
    bool swift_ns;              /* namespace: swift (default iso) */
    unsigned max_wait_ms;       /* how long a record waits for a missing rate or price */
    size_t route;               /* index of its route in routes[] */
} xb_valuation_route;

typedef struct xb_config {
    char *path;
    char *dir;    /* folder of path (NULL when loaded from a buffer) */
    json_t *tree; /* the whole file; strings below point into it */

    struct {
        bool embedded;         /* bootstrap.servers: embedded -> librdkafka mock cluster */
        const char *bootstrap; /* NULL when embedded */
        const char *group_id;  /* default "xborder" */
        xb_kv *common;         /* every other scalar key of kafka: (all clients) */
        size_t n_common;
        xb_kv *consumer; /* kafka.consumer: (consumer only) */
        size_t n_consumer;
        xb_kv *producer; /* kafka.producer: (DLQ/audit producer only) */
        size_t n_producer;
    } kafka;

    xb_route *routes;
    size_t n_routes;
    xb_valuation_route *valuations; /* issue #6: `valuation:` entries (their routes are above) */
    size_t n_valuations;
    xb_dest_http *dests; /* every destination named by a route, in first-seen order */
    size_t n_dests;
    const char **topics; /* distinct topics over all routes, in first-seen order */
    size_t n_topics;

    struct {
        const char *file;  /* required */
        const char *topic; /* NULL: file only */
        xb_audit_fsync fsync;
        unsigned every_n;
        unsigned interval_ms;
        const char *checkpoint_key; /* issue #7: PEM Ed25519 private key; NULL: no checkpoints */
        unsigned checkpoint_every;  /* entries between signed checkpoints (default 1000) */
    } audit;

    struct {
        const char *topic; /* required: nothing is dropped silently */
    } dlq;

    struct {
        bool enabled; /* metrics: absent -> disabled */
        char host[64];
        int port;
    } metrics;

    xb_log_level log_level;

    struct {
        const char *store; /* state.store: "sqlite:PATH" (default sqlite:xborder-state.db) */
    } state;

    struct {
        const char **catalogs; /* policy.catalogs */
        size_t n_catalogs;
        const char *catalog_pubkey; /* policy.catalog_pubkey: PEM Ed25519 (optional) */
        const char *keys;           /* policy.keys: directory of <key_id>.<epoch>.key files */
        const char *counter_key;    /* policy.counter_key (default <keys>/counter.key) */
        const char *catalog_store;  /* policy.catalog_store: catalogs kept by hash (issue #7) */
        int warn_permille;          /* policy.warn_fraction "0.8" -> 800 (0 = engine default) */
    } policy;

    char **owned; /* resolved paths (relative ones are relative to the config file's folder) */
    size_t n_owned;

    struct {
        unsigned max_outstanding;        /* per partition before it is paused (default 500) */
        unsigned max_outstanding_kbytes; /* unfinished record bytes, all partitions (0: none) */
        unsigned commit_interval_ms;     /* default 1000 */
        unsigned drain_timeout_ms;       /* SIGTERM drain bound (default 30000) */
        bool decide_thread;              /* decide a burst's records on a second thread (true) */
    } pipeline;
} xb_config;

/* Reads, parses and checks path. On success *out is a new config (xb_config_free). */
int xb_config_load(xb_config **out, const char *path, xb_error *err);
/* Same from a buffer; name is used in error messages and as cfg->path. */
int xb_config_load_buffer(xb_config **out, const char *buf, size_t len, const char *name,
                          xb_error *err);
void xb_config_free(xb_config *cfg);

const xb_dest_http *xb_config_dest(const xb_config *cfg, const char *name);

/* True when route applies to a record of `topic` whose definition is def_id ("pacs.008.001.08"). */
bool xb_config_route_matches(const xb_route *route, const char *topic, const char *def_id);

#endif
