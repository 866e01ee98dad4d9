/* config.c — YAML config -> one immutable xb_config.
 *
 * Owns: the checks of the pipeline's sections and the exact-key error messages. Strings in the
 * struct point into the jansson tree the struct holds, so freeing is one decref plus the arrays.
 * Never: prints or logs values (kafka.sasl.password and friends live here).
 */
#include "adapter/config.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/yaml_tree.h"

/* Sections a config may have. Others' sections are listed so a typo at top level is refused. */
static const char *const top_keys[] = {"kafka",  "routes",  "destinations", "policy",   "audit",
                                       "dlq",    "metrics", "log",          "pipeline", "state",
                                       "settle", "store",   "valuation",    "receiver", NULL};

/* librdkafka properties xborder owns: overriding them would break the no-loss guarantee. */
static const char *const owned_kafka_keys[] = {"enable.auto.commit", "enable.auto.offset.store",
                                               "enable.partition.eof", NULL};

static int cfg_err(xb_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_err(xb_error *err, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xb_error_set(err, XB_ECONFIG, path, "%s: %s", path, msg);
}

/* A path from the file, made relative to the config file's folder. NULL stays NULL. */
static const char *resolve(xb_config *cfg, const char *path)
{
    if (!path || path[0] == '/' || !cfg->dir)
        return path;
    size_t n = strlen(cfg->dir) + strlen(path) + 2;
    char *r = malloc(n);
    char **no = realloc(cfg->owned, (cfg->n_owned + 1) * sizeof *no);
    if (!r || !no) {
        free(r);
        if (no)
            cfg->owned = no;
        return path; /* out of memory: the unresolved path fails visibly where it is opened */
    }
    snprintf(r, n, "%s/%s", cfg->dir, path);
    cfg->owned = no;
    cfg->owned[cfg->n_owned++] = r;
    return r;
}

static const char *resolve_store_url(xb_config *cfg, const char *url)
{
    if (!url || strncmp(url, "sqlite:", 7) != 0 || url[7] == ':' || url[7] == '/' || !cfg->dir)
        return url;
    const char *file = resolve(cfg, url + 7);
    size_t n = strlen(file) + 8;
    char *r = malloc(n);
    char **no = realloc(cfg->owned, (cfg->n_owned + 1) * sizeof *no);
    if (!r || !no) {
        free(r);
        if (no)
            cfg->owned = no;
        return url;
    }
    snprintf(r, n, "sqlite:%s", file);
    cfg->owned = no;
    cfg->owned[cfg->n_owned++] = r;
    return r;
}

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

/* Checks one librdkafka property by setting it on a scratch conf: the library is the authority on
 * names and values. The value is never echoed (it may be a password). */
static int check_kafka_prop(const char *key, const json_t *val, const char *where, xb_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "%s.%s", where, key);
    if (!json_is_string(val))
        return cfg_err(err, path, "expected a scalar value");
    if (in_list(key, owned_kafka_keys))
        return cfg_err(err, path, "xborder manages offsets itself; remove this key");
    if (!strcmp(key, "bootstrap.servers") || !strcmp(key, "group.id"))
        return 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, key, json_string_value(val), errstr, sizeof errstr);
    rd_kafka_conf_destroy(conf);
    if (res == RD_KAFKA_CONF_UNKNOWN)
        return cfg_err(err, path, "unknown librdkafka property");
    if (res != RD_KAFKA_CONF_OK)
        return cfg_err(err, path, "invalid value (librdkafka: %s)", errstr);
    return 0;
}

static int collect_props(xb_kv **out, size_t *n_out, const json_t *obj, const char *where,
                         int skip_nested, xb_error *err)
{
    size_t n = json_object_size(obj), i = 0;
    xb_kv *kv = calloc(n ? n : 1, sizeof *kv);
    if (!kv)
        return xb_error_set(err, XB_ENOMEM, where, "out of memory");
    const char *k;
    const json_t *v;
    json_t *mobj = (json_t *)(uintptr_t)obj; /* jansson iterates non-const */
    json_object_foreach(mobj, k, v)
    {
        if (skip_nested && (!strcmp(k, "consumer") || !strcmp(k, "producer")))
            continue;
        int rc = check_kafka_prop(k, v, where, err);
        if (rc < 0) {
            free(kv);
            return rc;
        }
        if (!strcmp(k, "bootstrap.servers") || !strcmp(k, "group.id"))
            continue;
        kv[i].key = k;
        kv[i].value = json_string_value(v);
        i++;
    }
    *out = kv;
    *n_out = i;
    return 0;
}

static int load_kafka(xb_config *cfg, xb_error *err)
{
    const json_t *k = NULL;
    int rc = xb_yaml_object_opt(&k, cfg->tree, "kafka", "", err);
    if (rc < 0)
        return rc;
    if (!k)
        return cfg_err(err, "kafka", "missing section (bootstrap.servers at least)");
    const char *bs;
    if ((rc = xb_yaml_str(&bs, k, "bootstrap.servers", "kafka", err)) < 0)
        return rc;
    if (!*bs)
        return cfg_err(err, "kafka.bootstrap.servers", "empty");
    cfg->kafka.embedded = !strcmp(bs, "embedded");
    cfg->kafka.bootstrap = cfg->kafka.embedded ? NULL : bs;
    cfg->kafka.group_id = "xborder";
    if ((rc = xb_yaml_str_opt(&cfg->kafka.group_id, k, "group.id", "kafka", err)) < 0)
        return rc;
    if ((rc = collect_props(&cfg->kafka.common, &cfg->kafka.n_common, k, "kafka", 1, err)) < 0)
        return rc;
    const json_t *c = NULL, *p = NULL;
    if ((rc = xb_yaml_object_opt(&c, k, "consumer", "kafka", err)) < 0 ||
        (rc = xb_yaml_object_opt(&p, k, "producer", "kafka", err)) < 0)
        return rc;
    if (c && (rc = collect_props(&cfg->kafka.consumer, &cfg->kafka.n_consumer, c, "kafka.consumer",
                                 0, err)) < 0)
        return rc;
    if (p && (rc = collect_props(&cfg->kafka.producer, &cfg->kafka.n_producer, p, "kafka.producer",
                                 0, err)) < 0)
        return rc;
    return 0;
}

/* A list of non-empty strings at obj.key; a lone scalar is accepted as a one-item list when
 * `scalar_ok` names the singular key (`destination: x`). */
static int str_list(const char ***out, size_t *n_out, const json_t *obj, const char *key,
                    const char *where, xb_error *err)
{
    const json_t *arr = NULL;
    int rc = xb_yaml_array_opt(&arr, obj, key, where, err);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    const char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return xb_error_set(err, XB_ENOMEM, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_string(e) || !*json_string_value(e)) {
            char path[256];
            snprintf(path, sizeof path, "%s.%s[%zu]", where, key, i);
            free(v);
            return cfg_err(err, path, "expected a non-empty string");
        }
        v[i] = json_string_value(e);
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int valid_message_pattern(const char *m)
{
    /* "*", "pacs.008" or "pacs.008.001.08": four letters, dot, digits/dots */
    if (!strcmp(m, "*"))
        return 1;
    size_t n = strlen(m);
    if (n != 8 && n != 15)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        int want_dot = (i == 4 || i == 8 || i == 12);
        if (want_dot ? c != '.' : !(i < 4 ? (c >= 'a' && c <= 'z') : (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int add_topic(xb_config *cfg, const char *t)
{
    for (size_t i = 0; i < cfg->n_topics; i++)
        if (!strcmp(cfg->topics[i], t))
            return 0;
    const char **nt = realloc(cfg->topics, (cfg->n_topics + 1) * sizeof *nt);
    if (!nt)
        return -1;
    cfg->topics = nt;
    cfg->topics[cfg->n_topics++] = t;
    return 0;
}

static int load_route(xb_config *cfg, xb_route *r, const json_t *obj, const char *where,
                      const json_t *dests, xb_error *err)
{
    static const char *const keys[] = {"name",         "topics", "messages", "destination",
                                       "destinations", "settle", NULL};
    if (!json_is_object(obj))
        return cfg_err(err, where, "expected a mapping");
    int rc = xb_yaml_only_keys(obj, keys, where, err);
    if (rc < 0)
        return rc;
    if ((rc = xb_yaml_str(&r->name, obj, "name", where, err)) < 0)
        return rc;
    char path[256];
    if ((rc = str_list(&r->topics, &r->n_topics, obj, "topics", where, err)) < 0)
        return rc;
    if (!r->n_topics) {
        snprintf(path, sizeof path, "%s.topics", where);
        return cfg_err(err, path, "a route needs at least one topic");
    }
    if ((rc = str_list(&r->messages, &r->n_messages, obj, "messages", where, err)) < 0)
        return rc;
    if (!r->n_messages) {
        snprintf(path, sizeof path, "%s.messages", where);
        return cfg_err(err, path, "list the message definitions (e.g. [pacs.008]) or [\"*\"]");
    }
    for (size_t i = 0; i < r->n_messages; i++)
        if (!valid_message_pattern(r->messages[i])) {
            snprintf(path, sizeof path, "%s.messages[%zu]", where, i);
            return cfg_err(err, path, "expected pacs.008, pacs.008.001.08 or *");
        }
    const char *one = NULL;
    if ((rc = xb_yaml_str_opt(&one, obj, "destination", where, err)) < 0)
        return rc;
    if ((rc = str_list(&r->destinations, &r->n_destinations, obj, "destinations", where, err)) < 0)
        return rc;
    if (one && r->n_destinations) {
        snprintf(path, sizeof path, "%s.destination", where);
        return cfg_err(err, path, "give destination or destinations, not both");
    }
    if (one) {
        r->destinations = calloc(1, sizeof *r->destinations);
        if (!r->destinations)
            return xb_error_set(err, XB_ENOMEM, where, "out of memory");
        r->destinations[0] = one;
        r->n_destinations = 1;
    }
    if (!r->n_destinations) {
        snprintf(path, sizeof path, "%s.destination", where);
        return cfg_err(err, path, "a route needs a destination");
    }
    for (size_t i = 0; i < r->n_destinations; i++)
        if (!json_object_get(dests, r->destinations[i])) {
            if (one)
                snprintf(path, sizeof path, "%s.destination", where);
            else
                snprintf(path, sizeof path, "%s.destinations[%zu]", where, i);
            return cfg_err(err, path,
                           "unknown destination '%s' (not under destinations:; add it there or "
                           "correct the name)",
                           r->destinations[i]);
        }
    r->settle = json_object_get(obj, "settle");
    for (size_t i = 0; i < r->n_topics; i++)
        if (add_topic(cfg, r->topics[i]) < 0)
            return xb_error_set(err, XB_ENOMEM, where, "out of memory");
    return 0;
}

static int load_routes(xb_config *cfg, xb_error *err)
{
    const json_t *arr = NULL, *dests = NULL;
    int rc = xb_yaml_array_opt(&arr, cfg->tree, "routes", "", err);
    if (rc < 0)
        return rc;
    if ((rc = xb_yaml_object_opt(&dests, cfg->tree, "destinations", "", err)) < 0)
        return rc;
    if ((!arr || !json_array_size(arr)) &&
        !json_array_size(json_object_get(cfg->tree, "valuation")))
        return cfg_err(err, "routes", "at least one route is needed");
    cfg->n_routes = json_array_size(arr);
    cfg->routes = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof *cfg->routes);
    if (!cfg->routes)
        return xb_error_set(err, XB_ENOMEM, "routes", "out of memory");
    for (size_t i = 0; i < cfg->n_routes; i++) {
        char where[64];
        snprintf(where, sizeof where, "routes[%zu]", i);
        if ((rc = load_route(cfg, &cfg->routes[i], json_array_get(arr, i), where, dests, err)) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->routes[j].name, cfg->routes[i].name)) {
                snprintf(where, sizeof where, "routes[%zu].name", i);
                return cfg_err(err, where, "duplicate route name '%s'", cfg->routes[i].name);
            }
    }
    return 0;
}

static int get_uint(unsigned *out, const json_t *obj, const char *key, const char *where,
                    int64_t min, int64_t max, xb_error *err);

static bool is_route_topic(const xb_config *cfg, size_t n_routes, const char *t)
{
    for (size_t i = 0; i < n_routes; i++)
        for (size_t k = 0; k < cfg->routes[i].n_topics; k++)
            if (!strcmp(cfg->routes[i].topics[k], t))
                return true;
    return false;
}

/* issue #6: one `valuation:` entry, and the route that carries its reda.001 to destinations. */
static int load_valuation_entry(xb_config *cfg, xb_valuation_route *v, xb_route *r, json_t *obj,
                                const char *where, size_t n_user_routes, xb_error *err)
{
    static const char *const keys[] = {"fund",         "holdings_topic", "rates_topic",
                                       "prices_topic", "destination",    "destinations",
                                       "namespace",    "max_wait_ms",    NULL};
    if (!json_is_object(obj))
        return cfg_err(err, where, "expected a mapping");
    int rc = xb_yaml_only_keys(obj, keys, where, err);
    const char *ns = NULL;
    if (rc < 0 || (rc = xb_yaml_str(&v->fund, obj, "fund", where, err)) < 0 ||
        (rc = xb_yaml_str(&v->holdings_topic, obj, "holdings_topic", where, err)) < 0 ||
        (rc = xb_yaml_str(&v->rates_topic, obj, "rates_topic", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&v->prices_topic, obj, "prices_topic", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&ns, obj, "namespace", where, err)) < 0)
        return rc;
    char path[256];
    if (ns && strcmp(ns, "iso") && strcmp(ns, "swift")) {
        snprintf(path, sizeof path, "%s.namespace", where);
        return cfg_err(err, path, "expected iso or swift");
    }
    v->swift_ns = ns && !strcmp(ns, "swift");
    v->max_wait_ms = 60000;
    if ((rc = get_uint(&v->max_wait_ms, obj, "max_wait_ms", where, 0, 86400000, err)) < 0)
        return rc;
    v->fund = resolve(cfg, v->fund);
    /* Reference topics are read whole by the valuation route, never by the consumer group: a
     * route on them would park every rate as NO_ROUTE. A holdings topic belongs to one entry. */
    const char *ref[] = {v->rates_topic, v->prices_topic};
    const char *ref_key[] = {"rates_topic", "prices_topic"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s.%s", where, ref_key[k]);
        if (ref[k] &&
            (is_route_topic(cfg, cfg->n_routes, ref[k]) || !strcmp(ref[k], v->holdings_topic)))
            return cfg_err(err, path, "'%s' is also a route's or a holdings topic", ref[k]);
    }
    snprintf(path, sizeof path, "%s.prices_topic", where);
    if (v->prices_topic && !strcmp(v->prices_topic, v->rates_topic))
        return cfg_err(err, path, "must differ from rates_topic (two tables, two topics)");
    snprintf(path, sizeof path, "%s.holdings_topic", where);
    if (is_route_topic(cfg, cfg->n_routes, v->holdings_topic))
        return cfg_err(err, path, "'%s' is already %s", v->holdings_topic,
                       is_route_topic(cfg, n_user_routes, v->holdings_topic)
                           ? "a route's topic"
                           : "another valuation entry's holdings topic");
    /* The route: reda.001 from holdings_topic to the destinations (checked as a route is). */
    char name[300];
    snprintf(name, sizeof name, "valuation:%s", v->holdings_topic);
    json_t *ro = json_pack("{s:s,s:[s],s:[s]}", "name", name, "topics", v->holdings_topic,
                           "messages", "reda.001");
    json_t *d = json_object_get(obj, "destinations");
    json_object_set(ro, d ? "destinations" : "destination",
                    d ? d : json_object_get(obj, "destination"));
    rc = load_route(cfg, r, ro, where, json_object_get(cfg->tree, "destinations"), err);
    /* the route's strings point into the tree: keep them there, under the entry itself */
    json_object_set_new(obj, "_route", ro);
    if (rc < 0)
        return rc;
    r->name = json_string_value(json_object_get(ro, "name"));
    return 0;
}

static int load_valuation(xb_config *cfg, xb_error *err)
{
    const json_t *arr = NULL;
    int rc = xb_yaml_array_opt(&arr, cfg->tree, "valuation", "", err);
    if (rc < 0 || !arr || !json_array_size(arr))
        return rc;
    size_t n = json_array_size(arr), n_user = cfg->n_routes;
    xb_route *nr = realloc(cfg->routes, (n_user + n) * sizeof *nr);
    cfg->valuations = calloc(n, sizeof *cfg->valuations);
    if (nr)
        cfg->routes = nr;
    if (!nr || !cfg->valuations)
        return xb_error_set(err, XB_ENOMEM, "valuation", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "valuation[%zu]", i);
        xb_route *r = &cfg->routes[cfg->n_routes];
        memset(r, 0, sizeof *r);
        cfg->n_routes++; /* counted first, so that config_free frees a half-loaded route */
        cfg->valuations[i].route = cfg->n_routes - 1;
        cfg->n_valuations++;
        rc = load_valuation_entry(cfg, &cfg->valuations[i], r, json_array_get(arr, i), where,
                                  n_user, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int get_uint(unsigned *out, const json_t *obj, const char *key, const char *where,
                    int64_t min, int64_t max, xb_error *err)
{
    int64_t v = -1;
    int rc = xb_yaml_int_opt(&v, obj, key, where, err);
    if (rc < 0 || v == -1)
        return rc;
    if (v < min || v > max) {
        char path[128];
        snprintf(path, sizeof path, "%s.%s", where, key);
        return cfg_err(err, path, "must be between %lld and %lld", (long long)min, (long long)max);
    }
    *out = (unsigned)v;
    return 0;
}

static int get_bool(bool *out, const json_t *obj, const char *key, const char *where, xb_error *err)
{
    return xb_yaml_bool_opt(out, obj, key, where, err);
}

static int load_dest_http(xb_config *cfg, xb_dest_http *d, const json_t *o, const char *where,
                          xb_error *err)
{
    char w[256];
    const json_t *tls = NULL, *sign = NULL, *batch = NULL, *retry = NULL, *sink = NULL;
    int rc;
    d->http2 = true;
    if ((rc = xb_yaml_str(&d->url, o, "url", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&tls, o, "tls", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&sign, o, "sign", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&batch, o, "batch", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&retry, o, "retry", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&sink, o, "sink", where, err)) < 0 ||
        (rc = get_uint(&d->timeout_ms, o, "timeout_ms", where, 100, 600000, err)) < 0)
        return rc;
    if (tls) {
        static const char *const k[] = {"ca", "cert", "key", "pinned_pubkey", NULL};
        snprintf(w, sizeof w, "%s.tls", where);
        if ((rc = xb_yaml_only_keys(tls, k, w, err)) < 0 ||
            (rc = xb_yaml_str_opt(&d->ca, tls, "ca", w, err)) < 0 ||
            (rc = xb_yaml_str_opt(&d->cert, tls, "cert", w, err)) < 0 ||
            (rc = xb_yaml_str_opt(&d->key, tls, "key", w, err)) < 0 ||
            (rc = xb_yaml_str_opt(&d->pinned_pubkey, tls, "pinned_pubkey", w, err)) < 0)
            return rc;
        if (!d->cert != !d->key)
            return cfg_err(err, w, "give both cert and key for mutual TLS, or neither");
    }
    if (sign) {
        static const char *const k[] = {"key", "key_id", NULL};
        snprintf(w, sizeof w, "%s.sign", where);
        if ((rc = xb_yaml_only_keys(sign, k, w, err)) < 0 ||
            (rc = xb_yaml_str(&d->sign_key, sign, "key", w, err)) < 0 ||
            (rc = xb_yaml_str(&d->sign_key_id, sign, "key_id", w, err)) < 0)
            return rc;
    }
    if (batch) {
        static const char *const k[] = {"max_messages", "linger_ms", NULL};
        snprintf(w, sizeof w, "%s.batch", where);
        if ((rc = xb_yaml_only_keys(batch, k, w, err)) < 0 ||
            (rc = get_uint(&d->batch_max_messages, batch, "max_messages", w, 1, 10000, err)) < 0 ||
            (rc = get_uint(&d->batch_linger_ms, batch, "linger_ms", w, 0, 10000, err)) < 0)
            return rc;
    }
    if (retry) {
        static const char *const k[] = {"initial_ms", "max_ms", "breaker_threshold",
                                        "breaker_open_ms", NULL};
        snprintf(w, sizeof w, "%s.retry", where);
        if ((rc = xb_yaml_only_keys(retry, k, w, err)) < 0 ||
            (rc = get_uint(&d->backoff_initial_ms, retry, "initial_ms", w, 1, 600000, err)) < 0 ||
            (rc = get_uint(&d->backoff_max_ms, retry, "max_ms", w, 1, 3600000, err)) < 0 ||
            (rc = get_uint(&d->breaker_threshold, retry, "breaker_threshold", w, 1, 100000, err)) <
                0 ||
            (rc = get_uint(&d->breaker_open_ms, retry, "breaker_open_ms", w, 1, 600000, err)) < 0)
            return rc;
    }
    if (sink) {
        static const char *const k[] = {"max_in_flight", "http2", "allow_plain_http", NULL};
        snprintf(w, sizeof w, "%s.sink", where);
        if ((rc = xb_yaml_only_keys(sink, k, w, err)) < 0 ||
            (rc = get_uint(&d->max_in_flight, sink, "max_in_flight", w, 1, 1024, err)) < 0 ||
            (rc = get_bool(&d->http2, sink, "http2", w, err)) < 0 ||
            (rc = get_bool(&d->allow_plain_http, sink, "allow_plain_http", w, err)) < 0)
            return rc;
    }
    d->ca = resolve(cfg, d->ca);
    d->cert = resolve(cfg, d->cert);
    d->key = resolve(cfg, d->key);
    d->sign_key = resolve(cfg, d->sign_key);
    snprintf(w, sizeof w, "%s.url", where);
    if (strncmp(d->url, "https://", 8) != 0 &&
        !(d->allow_plain_http && !strncmp(d->url, "http://", 7)))
        return cfg_err(err, w, "must be an https:// URL");
    return 0;
}

/* Without `sftp.spool`, sealed batches wait in <folder of audit.file>/sftp-spool/<destination>:
 * the state folder, which is writable and kept across restarts (the spool must be). */
static const char *default_spool(xb_config *cfg, const char *name)
{
    const char *slash = cfg->audit.file ? strrchr(cfg->audit.file, '/') : NULL;
    int dl = slash ? (int)(slash - cfg->audit.file) : 0;
    size_t n = (size_t)dl + strlen(name) + sizeof "/sftp-spool/";
    char *p = malloc(n);
    char **no = p ? realloc(cfg->owned, (cfg->n_owned + 1) * sizeof *no) : NULL;
    if (!no) {
        free(p);
        return NULL;
    }
    cfg->owned = no;
    snprintf(p, n, "%.*s%ssftp-spool/%s", dl, slash ? cfg->audit.file : "", slash ? "/" : "", name);
    cfg->owned[cfg->n_owned++] = p;
    return p;
}

/* `type: sftp` (issue #12): the destination takes batch files; its `sftp:` subtree belongs to the
 * SFTP sink (adapter/transport/sink_sftp.h). No type (or https): the HTTPS sink above. */
static int load_dest_any(xb_config *cfg, xb_dest_http *d, const json_t *o, const char *where,
                         xb_error *err)
{
    const char *type = NULL;
    char w[256];
    int rc = xb_yaml_str_opt(&type, o, "type", where, err);
    if (rc < 0)
        return rc;
    if (!type || !strcmp(type, "https"))
        return load_dest_http(cfg, d, o, where, err);
    snprintf(w, sizeof w, "%s.type", where);
    if (strcmp(type, "sftp") != 0)
        return cfg_err(err, w, "must be https or sftp");
    snprintf(w, sizeof w, "%s.sftp", where);
    if (!json_object_get(o, "sftp"))
        return cfg_err(err, w, "a type: sftp destination needs an sftp: mapping");
    d->sftp = true;
    xb_sink_sftp_options_init(&d->sftp_opts);
    if ((rc = xb_sink_sftp_opts_from_tree(&d->sftp_opts, json_object_get(o, "sftp"), w, err)) < 0)
        return rc;
    d->sftp_opts.name = d->name;
    d->url = d->sftp_opts.url;
    d->sftp_opts.known_hosts = resolve(cfg, d->sftp_opts.known_hosts);
    d->sftp_opts.key_file = resolve(cfg, d->sftp_opts.key_file);
    d->sftp_opts.pub_file = resolve(cfg, d->sftp_opts.pub_file);
    d->sftp_opts.manifest_key_file = resolve(cfg, d->sftp_opts.manifest_key_file);
    d->sftp_opts.spool_dir =
        d->sftp_opts.spool_dir ? resolve(cfg, d->sftp_opts.spool_dir) : default_spool(cfg, d->name);
    return d->sftp_opts.spool_dir ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
}

static int load_dests(xb_config *cfg, xb_error *err)
{
    const json_t *dests = json_object_get(cfg->tree, "destinations");
    for (size_t i = 0; i < cfg->n_routes; i++)
        for (size_t j = 0; j < cfg->routes[i].n_destinations; j++) {
            const char *name = cfg->routes[i].destinations[j];
            if (xb_config_dest(cfg, name))
                continue;
            xb_dest_http *nd = realloc(cfg->dests, (cfg->n_dests + 1) * sizeof *nd);
            if (!nd)
                return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
            cfg->dests = nd;
            xb_dest_http *d = &cfg->dests[cfg->n_dests++];
            memset(d, 0, sizeof *d);
            d->name = name;
            char where[160];
            snprintf(where, sizeof where, "destinations.%s", name);
            const json_t *o = json_object_get(dests, name);
            if (!json_is_object(o))
                return cfg_err(err, where, "expected a mapping");
            int rc = load_dest_any(cfg, d, o, where, err);
            if (rc < 0)
                return rc;
        }
    return 0;
}

const xb_dest_http *xb_config_dest(const xb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_dests; i++)
        if (!strcmp(cfg->dests[i].name, name))
            return &cfg->dests[i];
    return NULL;
}

/* "0.8" -> 800, "1" -> 1000, "0.125" -> 125: decimal text to per-mille without floating point. */
static int parse_permille(int *out, const char *s)
{
    int whole = 0, frac = 0, digits = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9')
        whole = whole * 10 + (*p++ - '0');
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
    }
    while (digits < 3) {
        frac *= 10;
        digits++;
    }
    if (*p || whole > 1 || (whole == 1 && frac))
        return -1;
    *out = whole * 1000 + frac;
    return 0;
}

static int load_policy_state(xb_config *cfg, xb_error *err)
{
    const json_t *p = NULL, *s = NULL;
    int rc;
    cfg->state.store = "sqlite:xborder-state.db";
    if ((rc = xb_yaml_object_opt(&s, cfg->tree, "state", "", err)) < 0 ||
        (s && (rc = xb_yaml_str_opt(&cfg->state.store, s, "store", "state", err)) < 0))
        return rc;
    /* policy: is the policy engine's section; only the file names the pipeline opens are read
     * here (unknown keys are left to the policy engine). */
    if ((rc = xb_yaml_object_opt(&p, cfg->tree, "policy", "", err)) < 0)
        return rc;
    if (!p)
        return cfg_err(err, "policy", "missing section (policy.catalogs and policy.keys)");
    if ((rc = str_list(&cfg->policy.catalogs, &cfg->policy.n_catalogs, p, "catalogs", "policy",
                       err)) < 0 ||
        (rc = xb_yaml_str_opt(&cfg->policy.catalog_pubkey, p, "catalog_pubkey", "policy", err)) <
            0 ||
        (rc = xb_yaml_str(&cfg->policy.keys, p, "keys", "policy", err)) < 0 ||
        (rc = xb_yaml_str_opt(&cfg->policy.counter_key, p, "counter_key", "policy", err)) < 0 ||
        (rc = xb_yaml_str_opt(&cfg->policy.catalog_store, p, "catalog_store", "policy", err)) < 0)
        return rc;
    if (!cfg->policy.n_catalogs)
        return cfg_err(err, "policy.catalogs", "at least one rule catalog is needed");
    const char *warn = NULL;
    if ((rc = xb_yaml_str_opt(&warn, p, "warn_fraction", "policy", err)) < 0)
        return rc;
    if (warn && parse_permille(&cfg->policy.warn_permille, warn) < 0)
        return cfg_err(err, "policy.warn_fraction", "expected a fraction between 0 and 1 (0.8)");
    for (size_t i = 0; i < cfg->policy.n_catalogs; i++)
        cfg->policy.catalogs[i] = resolve(cfg, cfg->policy.catalogs[i]);
    cfg->policy.catalog_pubkey = resolve(cfg, cfg->policy.catalog_pubkey);
    cfg->policy.keys = resolve(cfg, cfg->policy.keys);
    cfg->policy.counter_key = resolve(cfg, cfg->policy.counter_key);
    cfg->policy.catalog_store = resolve(cfg, cfg->policy.catalog_store); /* issue #7 */
    cfg->state.store = resolve_store_url(cfg, cfg->state.store);
    return 0;
}

static int load_audit(xb_config *cfg, xb_error *err)
{
    static const char *const keys[] = {"file",
                                       "topic",
                                       "fsync",
                                       "fsync_every",
                                       "fsync_interval_ms",
                                       "checkpoint_key",
                                       "checkpoint_every",
                                       NULL};
    const json_t *a = NULL;
    int rc = xb_yaml_object_opt(&a, cfg->tree, "audit", "", err);
    if (rc < 0)
        return rc;
    if (!a)
        return cfg_err(err, "audit", "missing section (audit.file at least)");
    if ((rc = xb_yaml_only_keys(a, keys, "audit", err)) < 0 ||
        (rc = xb_yaml_str(&cfg->audit.file, a, "file", "audit", err)) < 0 ||
        (rc = xb_yaml_str_opt(&cfg->audit.topic, a, "topic", "audit", err)) < 0)
        return rc;
    cfg->audit.file = resolve(cfg, cfg->audit.file);
    const char *mode = "always";
    if ((rc = xb_yaml_str_opt(&mode, a, "fsync", "audit", err)) < 0)
        return rc;
    cfg->audit.every_n = 100;
    cfg->audit.interval_ms = 200;
    if (!strcmp(mode, "always"))
        cfg->audit.fsync = XB_AUDIT_FSYNC_ALWAYS;
    else if (!strcmp(mode, "every"))
        cfg->audit.fsync = XB_AUDIT_FSYNC_EVERY_N;
    else if (!strcmp(mode, "interval"))
        cfg->audit.fsync = XB_AUDIT_FSYNC_INTERVAL;
    else
        return cfg_err(err, "audit.fsync", "expected always, every or interval");
    if ((rc = get_uint(&cfg->audit.every_n, a, "fsync_every", "audit", 1, 1000000, err)) < 0 ||
        (rc = get_uint(&cfg->audit.interval_ms, a, "fsync_interval_ms", "audit", 1, 60000, err)) <
            0)
        return rc;
    /* issue #7: signed checkpoints (adapter/state/audit_checkpoint.h) */
    cfg->audit.checkpoint_every = 1000;
    if ((rc = xb_yaml_str_opt(&cfg->audit.checkpoint_key, a, "checkpoint_key", "audit", err)) < 0 ||
        (rc = get_uint(&cfg->audit.checkpoint_every, a, "checkpoint_every", "audit", 1, 10000000,
                       err)) < 0)
        return rc;
    if (cfg->audit.checkpoint_key)
        cfg->audit.checkpoint_key = resolve(cfg, cfg->audit.checkpoint_key);
    return 0;
}

static int load_dlq(xb_config *cfg, xb_error *err)
{
    static const char *const keys[] = {"topic", NULL};
    const json_t *d = NULL;
    int rc = xb_yaml_object_opt(&d, cfg->tree, "dlq", "", err);
    if (rc < 0)
        return rc;
    if (!d)
        return cfg_err(err, "dlq", "missing section: a DLQ topic is required (nothing is dropped)");
    if ((rc = xb_yaml_only_keys(d, keys, "dlq", err)) < 0 ||
        (rc = xb_yaml_str(&cfg->dlq.topic, d, "topic", "dlq", err)) < 0)
        return rc;
    for (size_t i = 0; i < cfg->n_topics; i++)
        if (!strcmp(cfg->topics[i], cfg->dlq.topic))
            return cfg_err(err, "dlq.topic", "must differ from every route's topic");
    return 0;
}

static int is_loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

static int load_metrics(xb_config *cfg, xb_error *err)
{
    static const char *const keys[] = {"listen", NULL};
    const json_t *m = NULL;
    int rc = xb_yaml_object_opt(&m, cfg->tree, "metrics", "", err);
    if (rc < 0 || !m)
        return rc;
    const char *listen;
    if ((rc = xb_yaml_only_keys(m, keys, "metrics", err)) < 0 ||
        (rc = xb_yaml_str(&listen, m, "listen", "metrics", err)) < 0)
        return rc;
    const char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (!colon || !*(colon + 1) || *end || port < 0 || port > 65535 || hlen == 0 ||
        hlen >= sizeof cfg->metrics.host)
        return cfg_err(err, "metrics.listen", "expected HOST:PORT (e.g. 127.0.0.1:9464)");
    memcpy(cfg->metrics.host, listen, hlen);
    cfg->metrics.host[hlen] = '\0';
    if (hlen > 2 && cfg->metrics.host[0] == '[' && cfg->metrics.host[hlen - 1] == ']') {
        memmove(cfg->metrics.host, cfg->metrics.host + 1, hlen - 2);
        cfg->metrics.host[hlen - 2] = '\0';
    }
    if (!is_loopback(cfg->metrics.host))
        return cfg_err(err, "metrics.listen",
                       "must be a loopback address (127.0.0.1, ::1, localhost)");
    cfg->metrics.port = (int)port;
    cfg->metrics.enabled = true;
    return 0;
}

static int load_small_sections(xb_config *cfg, xb_error *err)
{
    static const char *const log_keys[] = {"level", NULL};
    static const char *const pipe_keys[] = {"max_outstanding",    "max_outstanding_kbytes",
                                            "commit_interval_ms", "drain_timeout_ms",
                                            "decide_thread",      NULL};
    const json_t *l = NULL, *p = NULL;
    int rc;
    cfg->log_level = XB_LOG_INFO;
    if ((rc = xb_yaml_object_opt(&l, cfg->tree, "log", "", err)) < 0)
        return rc;
    if (l) {
        const char *level = NULL;
        if ((rc = xb_yaml_only_keys(l, log_keys, "log", err)) < 0 ||
            (rc = xb_yaml_str_opt(&level, l, "level", "log", err)) < 0)
            return rc;
        if (level && xb_log_level_parse(&cfg->log_level, level) < 0)
            return cfg_err(err, "log.level", "expected debug, info, warn or error");
    }
    cfg->pipeline.max_outstanding = 500; /* bounded RSS, same throughput (RESULTS.md) */
    /* the count alone let 50 KB records take 25 MB per partition (RESULTS.md, 2026-11-28) */
    cfg->pipeline.max_outstanding_kbytes = XB_DEFAULT_OUTSTANDING_KBYTES;
    cfg->pipeline.commit_interval_ms = 1000;
    cfg->pipeline.drain_timeout_ms = 30000;
    cfg->pipeline.decide_thread = true;
    if ((rc = xb_yaml_object_opt(&p, cfg->tree, "pipeline", "", err)) < 0 || !p)
        return rc;
    if ((rc = xb_yaml_only_keys(p, pipe_keys, "pipeline", err)) < 0 ||
        (rc = get_uint(&cfg->pipeline.max_outstanding, p, "max_outstanding", "pipeline", 1, 1000000,
                       err)) < 0 ||
        (rc = get_uint(&cfg->pipeline.max_outstanding_kbytes, p, "max_outstanding_kbytes",
                       "pipeline", 0, 4194304, err)) < 0 ||
        (rc = get_uint(&cfg->pipeline.commit_interval_ms, p, "commit_interval_ms", "pipeline", 10,
                       60000, err)) < 0 ||
        (rc = get_uint(&cfg->pipeline.drain_timeout_ms, p, "drain_timeout_ms", "pipeline", 0,
                       3600000, err)) < 0 ||
        (rc = get_bool(&cfg->pipeline.decide_thread, p, "decide_thread", "pipeline", err)) < 0)
        return rc;
    return 0;
}

static int build(xb_config *cfg, xb_error *err)
{
    int rc;
    if (!json_is_object(cfg->tree))
        return cfg_err(err, "(top)", "the config must be a mapping");
    if ((rc = xb_yaml_only_keys(cfg->tree, top_keys, "", err)) < 0)
        return rc;
    if ((rc = load_kafka(cfg, err)) < 0 || (rc = load_routes(cfg, err)) < 0 ||
        (rc = load_valuation(cfg, err)) < 0 || (rc = load_audit(cfg, err)) < 0 ||
        (rc = load_dlq(cfg, err)) < 0 || (rc = load_metrics(cfg, err)) < 0 ||
        (rc = load_small_sections(cfg, err)) < 0 || (rc = load_dests(cfg, err)) < 0 ||
        (rc = load_policy_state(cfg, err)) < 0)
        return rc;
    if (cfg->audit.topic && !strcmp(cfg->audit.topic, cfg->dlq.topic))
        return cfg_err(err, "audit.topic", "must differ from dlq.topic");
    return 0;
}

static int finish_load(xb_config **out, xb_config *cfg, int rc)
{
    if (rc < 0) {
        xb_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int xb_config_load(xb_config **out, const char *path, xb_error *err)
{
    *out = NULL;
    xb_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    cfg->path = strdup(path);
    char *slash = strrchr(cfg->path, '/');
    cfg->dir = slash ? strndup(cfg->path, (size_t)(slash - cfg->path)) : strdup(".");
    if (slash && slash == cfg->path) {
        free(cfg->dir);
        cfg->dir = strdup("/");
    }
    int rc = xb_yaml_load_file(&cfg->tree, path, err);
    if (rc == 0)
        rc = build(cfg, err);
    return finish_load(out, cfg, rc);
}

int xb_config_load_buffer(xb_config **out, const char *buf, size_t len, const char *name,
                          xb_error *err)
{
    *out = NULL;
    xb_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    cfg->path = strdup(name ? name : "(buffer)");
    int rc = xb_yaml_load_buffer(&cfg->tree, buf, len, cfg->path, err);
    if (rc == 0)
        rc = build(cfg, err);
    return finish_load(out, cfg, rc);
}

void xb_config_free(xb_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        free(cfg->routes[i].topics);
        free(cfg->routes[i].messages);
        free(cfg->routes[i].destinations);
    }
    free(cfg->routes);
    free(cfg->valuations);
    free(cfg->topics);
    free(cfg->dests);
    free(cfg->policy.catalogs);
    free(cfg->kafka.common);
    free(cfg->kafka.consumer);
    free(cfg->kafka.producer);
    for (size_t i = 0; i < cfg->n_owned; i++)
        free(cfg->owned[i]);
    free(cfg->owned);
    json_decref(cfg->tree);
    free(cfg->dir);
    free(cfg->path);
    free(cfg);
}

static bool message_matches(const char *pattern, const char *def_id)
{
    if (!strcmp(pattern, "*"))
        return true;
    if (!def_id)
        return false;
    if (strlen(pattern) == 8) /* "pacs.008": any version of the definition */
        return !strncmp(pattern, def_id, 8) && def_id[8] == '.';
    return !strcmp(pattern, def_id);
}

bool xb_config_route_matches(const xb_route *route, const char *topic, const char *def_id)
{
    bool topic_ok = false;
    for (size_t i = 0; i < route->n_topics && !topic_ok; i++)
        topic_ok = !strcmp(route->topics[i], topic);
    if (!topic_ok)
        return false;
    for (size_t i = 0; i < route->n_messages; i++)
        if (message_matches(route->messages[i], def_id))
            return true;
    return false;
}
