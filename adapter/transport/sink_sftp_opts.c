/* sink_sftp_opts.c — the `sftp:` subtree of a destination -> xb_sink_sftp_options (sink_sftp.h).
 *
 * Owns: option defaults and the config parsing for the SFTP sink, kept apart from the sink so the
 * config loader (adapter/config.c) links it without libcurl. Errors name the exact dotted key.
 * Never: opens files, resolves paths (the config loader does) or logs values.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapter/transport/sink_sftp.h"
#include "adapter/yaml_tree.h"

void xb_sink_sftp_options_init(xb_sink_sftp_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch_max_messages = 1000;
    o->batch_max_bytes = 8u * 1024u * 1024u;
    o->batch_linger_ms = 1000;
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 120000;
    o->backoff_initial_ms = 200;
    o->backoff_max_ms = 30000;
    o->max_message_bytes = 16u * 1024u * 1024u;
}

static int cfg_err(xb_error *err, const char *where, const char *key, const char *msg)
{
    char path[512];
    snprintf(path, sizeof path, "%s.%s", where, key);
    return xb_error_set(err, XB_ECONFIG, path, "%s: %s", path, msg);
}

static int get_num(uint64_t *out, const json_t *o, const char *key, const char *where, int64_t min,
                   int64_t max, xb_error *err)
{
    int64_t v = INT64_MIN;
    int rc = xb_yaml_int_opt(&v, o, key, where, err);
    if (rc < 0 || v == INT64_MIN)
        return rc;
    if (v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
        return cfg_err(err, where, key, msg);
    }
    *out = (uint64_t)v;
    return 0;
}

static int batch_opts(xb_sink_sftp_options *o, const json_t *b, const char *where, xb_error *err)
{
    static const char *const k[] = {"max_messages", "max_bytes", "linger_ms", NULL};
    uint64_t mm = o->batch_max_messages, mb = o->batch_max_bytes, lg = o->batch_linger_ms;
    int rc;
    if ((rc = xb_yaml_only_keys(b, k, where, err)) < 0 ||
        (rc = get_num(&mm, b, "max_messages", where, 1, 100000, err)) < 0 ||
        (rc = get_num(&mb, b, "max_bytes", where, 4096, 1024ll * 1024 * 1024, err)) < 0 ||
        (rc = get_num(&lg, b, "linger_ms", where, 0, 3600000, err)) < 0)
        return rc;
    o->batch_max_messages = (unsigned)mm;
    o->batch_max_bytes = (size_t)mb;
    o->batch_linger_ms = (unsigned)lg;
    return 0;
}

static int retry_opts(xb_sink_sftp_options *o, const json_t *r, const char *where, xb_error *err)
{
    static const char *const k[] = {"initial_ms", "max_ms", NULL};
    uint64_t in = o->backoff_initial_ms, mx = o->backoff_max_ms;
    int rc;
    if ((rc = xb_yaml_only_keys(r, k, where, err)) < 0 ||
        (rc = get_num(&in, r, "initial_ms", where, 1, 600000, err)) < 0 ||
        (rc = get_num(&mx, r, "max_ms", where, 1, 3600000, err)) < 0)
        return rc;
    o->backoff_initial_ms = (unsigned)in;
    o->backoff_max_ms = (unsigned)mx;
    return 0;
}

int xb_sink_sftp_opts_from_tree(xb_sink_sftp_options *o, const json_t *t, const char *where,
                                xb_error *err)
{
    static const char *const keys[] = {
        "url",          "known_hosts",        "user",  "key",   "pub",
        "manifest_key", "manifest_key_id",    "spool", "batch", "retry",
        "timeout_ms",   "connect_timeout_ms", NULL};
    char w[400];
    const json_t *bt = NULL, *retry = NULL;
    uint64_t to = o->timeout_ms, cto = o->connect_timeout_ms;
    int rc;
    if (!json_is_object(t))
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a mapping", where);
    if ((rc = xb_yaml_only_keys(t, keys, where, err)) < 0 ||
        (rc = xb_yaml_str(&o->url, t, "url", where, err)) < 0 ||
        (rc = xb_yaml_str(&o->known_hosts, t, "known_hosts", where, err)) < 0 ||
        (rc = xb_yaml_str(&o->user, t, "user", where, err)) < 0 ||
        (rc = xb_yaml_str(&o->key_file, t, "key", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&o->pub_file, t, "pub", where, err)) < 0 ||
        (rc = xb_yaml_str(&o->manifest_key_file, t, "manifest_key", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&o->manifest_key_id, t, "manifest_key_id", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&o->spool_dir, t, "spool", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&bt, t, "batch", where, err)) < 0 ||
        (rc = xb_yaml_object_opt(&retry, t, "retry", where, err)) < 0 ||
        (rc = get_num(&to, t, "timeout_ms", where, 1000, 3600000, err)) < 0 ||
        (rc = get_num(&cto, t, "connect_timeout_ms", where, 100, 600000, err)) < 0)
        return rc;
    o->timeout_ms = (unsigned)to;
    o->connect_timeout_ms = (unsigned)cto;
    if (strncmp(o->url, "sftp://", 7) != 0)
        return cfg_err(err, where, "url", "must be an sftp:// URL");
    snprintf(w, sizeof w, "%s.batch", where);
    if (bt && (rc = batch_opts(o, bt, w, err)) < 0)
        return rc;
    snprintf(w, sizeof w, "%s.retry", where);
    if (retry && (rc = retry_opts(o, retry, w, err)) < 0)
        return rc;
    return 0;
}
