/* settle_opts.c — a route's `settle:` YAML subtree -> xb_settle_opts, and the route's rates file.
 *
 * Owns: the settle option names, their checks and their defaults. Every error names the exact
 * dotted key ("routes[0].settle.agents[1].cnaps").
 * Never: reads any file but the rates file it is told about, or interprets other route keys.
 *
 *   settle:
 *     currency: CNY              # required; CNY only
 *     clearing: CIP              # SttlmInf/ClrSys/Cd; agents get CNCIP ids
 *     method: CLRG               # SttlmInf/SttlmMtd (CLRG, INDA, INGA, COVE); absent = keep
 *     rounding: half-up          # any amount.h rounding name
 *     map_cnh: false             # relabel upstream CNH as CNY before validation
 *     rates: { file: rates.csv, topic: cfets.fixings, source: CFETS central parity }
 *     agents: [ { bic: ICBKCNBJXXX, cips: "...", cnaps: "102100099996" } ]
 *     purpose: { required: true, codes: [GDDS, LEAS] }
 *     bop: { required: true, codes: ["121010"] }
 *     leasing: { purpose: LEAS, requires: [RgltryRptg/Dtls/Cd, RmtInf/Strd/RfrdDocInf/Nb] }
 *     status_topic: payments.status  # pacs.002 for acknowledged / rejected deliveries
 */
#include <stdio.h>
#include <string.h>

#include "adapter/settle.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"

void xb_settle_opts_init(xb_settle_opts *o)
{
    memset(o, 0, sizeof *o);
    memcpy(o->currency, "CNY", 4);
    o->rounding = XB_ROUND_HALF_UP;
    snprintf(o->rate_source, sizeof o->rate_source, "CFETS central parity");
}

static int bad(xb_error *err, const char *where, const char *key, const char *what)
{
    char path[1100]; /* where (<= 512) + key; xb_error_set keeps what fits */
    snprintf(path, sizeof path, "%s.%s", where, key);
    return xb_error_set(err, XB_ECONFIG, path, "%s: %s", path, what);
}

/* Copies an optional string key into dst (size cap), refusing values that do not fit. */
static int copy_str(char *dst, size_t cap, const json_t *obj, const char *key, const char *where,
                    xb_error *err)
{
    const char *v = NULL;
    int rc = xb_yaml_str_opt(&v, obj, key, where, err);
    if (rc < 0 || !v)
        return rc;
    if (strlen(v) >= cap)
        return bad(err, where, key, "value is too long");
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int all_of(const char *s, const char *set, size_t len)
{
    return strlen(s) == len && strspn(s, set) == len;
}

#define UPPER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static int parse_agent(xb_settle_agent *a, const json_t *obj, const char *where, xb_error *err)
{
    static const char *const keys[] = {"bic", "cips", "cnaps", NULL};
    int rc = xb_yaml_only_keys(obj, keys, where, err);
    if (rc == 0)
        rc = xb_yaml_str(&(const char *){NULL}, obj, "bic", where, err);
    if (rc == 0)
        rc = copy_str(a->bic, sizeof a->bic, obj, "bic", where, err);
    if (rc == 0)
        rc = copy_str(a->cips, sizeof a->cips, obj, "cips", where, err);
    if (rc == 0)
        rc = copy_str(a->cnaps, sizeof a->cnaps, obj, "cnaps", where, err);
    if (rc < 0)
        return rc;
    if (!all_of(a->bic, UPPER_ALNUM, 8) && !all_of(a->bic, UPPER_ALNUM, 11))
        return bad(err, where, "bic", "expected an 8- or 11-character BIC");
    if (a->cnaps[0] && !all_of(a->cnaps, "0123456789", 12))
        return bad(err, where, "cnaps", "expected a 12-digit CNAPS bank code");
    if (!a->cips[0] && !a->cnaps[0])
        return bad(err, where, "cips", "an agent needs a CIPS participant id or a CNAPS code");
    return 0;
}

static int parse_agents(xb_settle_opts *o, const json_t *tree, const char *where, xb_error *err)
{
    const json_t *arr = NULL;
    int rc = xb_yaml_array_opt(&arr, tree, "agents", where, err);
    if (rc < 0 || !arr)
        return rc;
    if (json_array_size(arr) > XB_SETTLE_MAX_AGENTS)
        return bad(err, where, "agents", "too many agents (at most 64)");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char w[512];
        snprintf(w, sizeof w, "%s.agents[%zu]", where, i);
        const json_t *a = json_array_get(arr, i);
        if (!json_is_object(a))
            return xb_error_set(err, XB_ECONFIG, w, "%s: expected a mapping with bic, cips, cnaps",
                                w);
        if ((rc = parse_agent(&o->agents[o->n_agents++], a, w, err)) < 0)
            return rc;
    }
    return 0;
}

/* A list of short codes (`codes: [A, B]`) into a fixed table. */
static int parse_codes(char *table, size_t width, size_t *n, const json_t *obj, const char *where,
                       size_t maxlen, xb_error *err)
{
    const json_t *arr = NULL;
    int rc = xb_yaml_array_opt(&arr, obj, "codes", where, err);
    if (rc < 0 || !arr)
        return rc;
    if (json_array_size(arr) > XB_SETTLE_MAX_CODES)
        return bad(err, where, "codes", "too many codes (at most 32)");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        if (!v || !v[0] || strlen(v) > maxlen) {
            char k[32];
            snprintf(k, sizeof k, "codes[%zu]", i);
            return bad(err, where, k, "expected a code of at most the ISO length");
        }
        snprintf(table + (*n)++ * width, width, "%s", v);
    }
    return 0;
}

static int parse_requirement(bool *required, char *table, size_t width, size_t *n,
                             const json_t *tree, const char *key, const char *where, size_t maxlen,
                             xb_error *err)
{
    static const char *const keys[] = {"required", "codes", NULL};
    const json_t *obj = NULL;
    char w[512];
    snprintf(w, sizeof w, "%s.%s", where, key);
    int rc = xb_yaml_object_opt(&obj, tree, key, where, err);
    if (rc < 0 || !obj)
        return rc;
    if ((rc = xb_yaml_only_keys(obj, keys, w, err)) < 0 ||
        (rc = xb_yaml_bool_opt(required, obj, "required", w, err)) < 0)
        return rc;
    return parse_codes(table, width, n, obj, w, maxlen, err);
}

static int parse_leasing(xb_settle_opts *o, const json_t *tree, const char *where, xb_error *err)
{
    static const char *const keys[] = {"purpose", "requires", NULL};
    const json_t *obj = NULL, *arr = NULL;
    char w[512];
    snprintf(w, sizeof w, "%s.leasing", where);
    int rc = xb_yaml_object_opt(&obj, tree, "leasing", where, err);
    if (rc < 0 || !obj)
        return rc;
    if ((rc = xb_yaml_only_keys(obj, keys, w, err)) < 0 ||
        (rc = xb_yaml_str(&(const char *){NULL}, obj, "purpose", w, err)) < 0 ||
        (rc = copy_str(o->leasing_purpose, sizeof o->leasing_purpose, obj, "purpose", w, err)) <
            0 ||
        (rc = xb_yaml_array_opt(&arr, obj, "requires", w, err)) < 0)
        return rc;
    size_t n = arr ? json_array_size(arr) : 0;
    if (n > XB_SETTLE_MAX_FIELDS)
        return bad(err, w, "requires", "too many fields (at most 16)");
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        char k[32];
        snprintf(k, sizeof k, "requires[%zu]", i);
        if (!v || !v[0] || v[0] == '/' || strlen(v) >= sizeof o->leasing_fields[0])
            return bad(err, w, k,
                       "expected an element path relative to the transaction "
                       "(e.g. RgltryRptg/Dtls/Cd)");
        snprintf(o->leasing_fields[o->n_leasing_fields++], sizeof o->leasing_fields[0], "%s", v);
    }
    return 0;
}

static int parse_rates(xb_settle_opts *o, const json_t *tree, const char *where, xb_error *err)
{
    static const char *const keys[] = {"file", "topic", "source", NULL};
    const json_t *obj = NULL;
    char w[512];
    snprintf(w, sizeof w, "%s.rates", where);
    int rc = xb_yaml_object_opt(&obj, tree, "rates", where, err);
    if (rc < 0 || !obj)
        return rc;
    if ((rc = xb_yaml_only_keys(obj, keys, w, err)) < 0 ||
        (rc = copy_str(o->rates_file, sizeof o->rates_file, obj, "file", w, err)) < 0 ||
        (rc = copy_str(o->rates_topic, sizeof o->rates_topic, obj, "topic", w, err)) < 0 ||
        (rc = copy_str(o->rate_source, sizeof o->rate_source, obj, "source", w, err)) < 0)
        return rc;
    if (o->rates_file[0] && o->rates_topic[0])
        return bad(err, w, "topic", "give either rates.file or rates.topic, not both");
    return 0;
}

static int check_choice(const char *v, const char *const *allowed, const char *where,
                        const char *key, const char *what, xb_error *err)
{
    for (const char *const *a = allowed; *a; a++)
        if (!strcmp(v, *a))
            return 0;
    return bad(err, where, key, what);
}

static int parse_scalars(xb_settle_opts *o, const json_t *tree, const char *where, xb_error *err)
{
    static const char *const currencies[] = {"CNY", NULL};
    static const char *const methods[] = {"CLRG", "INDA", "INGA", "COVE", NULL};
    const char *rounding = NULL;
    int rc;
    if ((rc = xb_yaml_str(&(const char *){NULL}, tree, "currency", where, err)) < 0 ||
        (rc = copy_str(o->currency, sizeof o->currency, tree, "currency", where, err)) < 0 ||
        (rc = check_choice(o->currency, currencies, where, "currency",
                           "only CNY settlement is supported", err)) < 0 ||
        (rc = copy_str(o->clearing, sizeof o->clearing, tree, "clearing", where, err)) < 0 ||
        (rc = copy_str(o->method, sizeof o->method, tree, "method", where, err)) < 0 ||
        (rc = xb_yaml_bool_opt(&o->map_cnh, tree, "map_cnh", where, err)) < 0 ||
        (rc = xb_yaml_str_opt(&rounding, tree, "rounding", where, err)) < 0 ||
        (rc = copy_str(o->status_topic, sizeof o->status_topic, tree, "status_topic", where, err)) <
            0)
        return rc;
    if (o->clearing[0] && !all_of(o->clearing, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3))
        return bad(err, where, "clearing", "expected a 3-letter clearing system code (CIP)");
    if (o->method[0] && (rc = check_choice(o->method, methods, where, "method",
                                           "expected CLRG, INDA, INGA or COVE", err)) < 0)
        return rc;
    if (rounding && xb_rounding_parse(&o->rounding, rounding, NULL) < 0)
        return bad(err, where, "rounding",
                   "expected half-up, half-even, half-down, down, up, floor or ceiling");
    return 0;
}

int xb_settle_opts_from_tree(xb_settle_opts *out, const json_t *tree, const char *where,
                             xb_error *err)
{
    static const char *const keys[] = {"currency", "clearing", "method",       "rounding",
                                       "map_cnh",  "rates",    "agents",       "purpose",
                                       "bop",      "leasing",  "status_topic", NULL};
    xb_settle_opts_init(out);
    if (!json_is_object(tree))
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a mapping (currency: CNY, ...)",
                            where);
    int rc;
    if ((rc = xb_yaml_only_keys(tree, keys, where, err)) < 0 ||
        (rc = parse_scalars(out, tree, where, err)) < 0 ||
        (rc = parse_rates(out, tree, where, err)) < 0 ||
        (rc = parse_agents(out, tree, where, err)) < 0 ||
        (rc = parse_requirement(&out->require_purpose, &out->purpose_codes[0][0],
                                sizeof out->purpose_codes[0], &out->n_purpose_codes, tree,
                                "purpose", where, 4, err)) < 0 ||
        (rc = parse_requirement(&out->require_bop, &out->bop_codes[0][0], sizeof out->bop_codes[0],
                                &out->n_bop_codes, tree, "bop", where, 10, err)) < 0 ||
        (rc = parse_leasing(out, tree, where, err)) < 0)
        return rc;
    return 0;
}

int xb_settle_rates_load(xb_fx_table **out, const xb_settle_opts *opts, const char *base_dir,
                         xb_error *err)
{
    *out = NULL;
    if (!opts->rates_file[0])
        return xb_error_set(err, XB_ECONFIG, "settle.rates.file",
                            "the route names no rates file (settle.rates.file)");
    char path[1024];
    if (opts->rates_file[0] == '/' || !base_dir || !base_dir[0])
        snprintf(path, sizeof path, "%s", opts->rates_file);
    else
        snprintf(path, sizeof path, "%s/%s", base_dir, opts->rates_file);
    xb_fx_table *t = NULL;
    int rc = xb_fx_new(&t, err);
    if (rc == 0)
        rc = xb_fx_load_file(t, path, err);
    if (rc < 0) {
        xb_fx_free(t);
        return rc;
    }
    *out = t;
    return 0;
}
