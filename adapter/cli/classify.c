/* classify.c — `xborder classify`: one message, one destination, one decision.
 *
 * Owns: the subcommand's arguments, reading the config's `policy:` and `destinations:` sections,
 * reading key files (policy gets bytes), the optional state store for durable counters, and the
 * exit codes: 0 DELIVER, 10 QUARANTINE, 11 BLOCK, 1 invalid message, 2 usage or configuration.
 * Never: writes the transformed message anywhere but stdout, or releases it before the counter
 * deltas are durable in the state store (when --state is given).
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/catalog_store.h"
#include "adapter/cli/cli.h"
#include "adapter/policy/policy.h"
#include "adapter/state/store.h"
#include "adapter/yaml_tree.h"
#include "iso20022/amount.h"
#include "iso20022/message.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

enum { EXIT_DELIVER = 0, EXIT_INVALID = 1, EXIT_USAGE = 2, EXIT_QUARANTINE = 10, EXIT_BLOCK = 11 };

typedef struct classify_args {
    const char *config, *dest, *at, *decision, *state, *message;
} classify_args;

typedef struct classify_env {
    json_t *config;
    char dir[1024]; /* directory of the config file: relative paths start there */
    xb_policy_catalog_set *catalogs;
    xb_policy_destinations *dests;
    xb_buf counter_key, pseudo_key;
    int warn_permille;
    xb_store *store;
} classify_env;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xborder classify --config FILE --dest NAME [--at ISO8601] [--decision OUT.json]\n"
        "                        [--state DIR] MESSAGE.xml\n\n"
        "Classifies MESSAGE.xml for destination NAME under the rule catalog in force at the\n"
        "transfer time (--at, default now). Writes the transformed message to stdout when the\n"
        "verdict is DELIVER, a table of fields -> labels -> action to stderr, and the decision\n"
        "record to --decision. With --state DIR the subject counters are read from and written\n"
        "to DIR/state.db (SQLite) before the message is released; without it they start at 0.\n\n"
        "exit status: 0 DELIVER, 10 QUARANTINE, 11 BLOCK, 1 invalid message, 2 usage/config\n"
        "example: xborder classify --config /etc/xborder/xborder.yaml \\\n"
        "           --dest hk-correspondent --decision decision.json payment.xml\n");
}

static int parse_args(classify_args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"dest", required_argument, NULL, 'd'},
                                         {"at", required_argument, NULL, 'a'},
                                         {"decision", required_argument, NULL, 'o'},
                                         {"state", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:d:a:o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'd':
            a->dest = optarg;
            break;
        case 'a':
            a->at = optarg;
            break;
        case 'o':
            a->decision = optarg;
            break;
        case 's':
            a->state = optarg;
            break;
        default:
            return -1;
        }
    }
    if (optind != argc - 1 || !a->config || !a->dest)
        return -1;
    a->message = argv[optind];
    return 0;
}

static void resolve(char *out, size_t cap, const char *dir, const char *path)
{
    int n =
        path[0] == '/' ? snprintf(out, cap, "%s", path) : snprintf(out, cap, "%s/%s", dir, path);
    if (n < 0 || (size_t)n >= cap)
        out[0] = '\0'; /* too long: the open fails and names the key */
}

static int config_error(const xb_error *err)
{
    fprintf(stderr, "xborder classify: configuration: %s\n", err->message);
    return EXIT_USAGE;
}

/* warn_fraction "0.8" -> 800 per mille, exactly (no float near a legal threshold). */
static int parse_fraction(int *permille, const char *text, xb_error *err)
{
    xb_dec d, k, r;
    xb_dec_from_int(&k, 1000);
    if (xb_dec_parse_cstr(&d, text, NULL) || xb_dec_mul_round(&r, &d, &k, 0, XB_ROUND_HALF_UP) ||
        r.coef <= 0 || r.coef > 1000)
        return xb_error_set(err, XB_ECONFIG, "policy.warn_fraction",
                            "policy.warn_fraction: '%s' is not a fraction in (0, 1]", text);
    *permille = (int)r.coef;
    return 0;
}

static int read_key(xb_buf *out, const char *path, const char *what, xb_error *err)
{
    if (xb_buf_read_file(out, path, 4096) || out->len < 16)
        return xb_error_set(err, XB_ECONFIG, path,
                            "%s %s: missing, unreadable or shorter than 16 bytes", what, path);
    return 0;
}

static int load_policy(classify_env *env, const char *dest_name, xb_error *err)
{
    static const char *const keys[] = {"catalogs",      "keys",           "counter_key",
                                       "warn_fraction", "catalog_pubkey", NULL};
    const json_t *pol = NULL, *cats = NULL;
    const char *keydir = NULL, *counter = NULL, *frac = NULL, *pub = NULL;
    char path[2048], pubpath[2048];
    int rc;
    if ((rc = xb_yaml_object_opt(&pol, env->config, "policy", "", err)))
        return rc;
    if (!pol)
        return xb_error_set(err, XB_ECONFIG, "policy", "policy: section missing");
    if ((rc = xb_yaml_only_keys(pol, keys, "policy", err)) ||
        (rc = xb_yaml_array_opt(&cats, pol, "catalogs", "policy", err)) ||
        (rc = xb_yaml_str_opt(&keydir, pol, "keys", "policy", err)) ||
        (rc = xb_yaml_str(&counter, pol, "counter_key", "policy", err)) ||
        (rc = xb_yaml_str_opt(&frac, pol, "warn_fraction", "policy", err)) ||
        (rc = xb_yaml_str_opt(&pub, pol, "catalog_pubkey", "policy", err)))
        return rc;
    env->warn_permille = 800;
    if (frac && (rc = parse_fraction(&env->warn_permille, frac, err)))
        return rc;
    if (!cats || !json_array_size(cats))
        return xb_error_set(err, XB_ECONFIG, "policy.catalogs", "policy.catalogs: list required");
    if ((rc = xb_policy_catalog_set_new(&env->catalogs, err)))
        return rc;
    xb_policy_catalog_opts copts = {NULL};
    if (pub) {
        resolve(pubpath, sizeof pubpath, env->dir, pub);
        copts.pubkey_path = pubpath;
    }
    for (size_t i = 0; i < json_array_size(cats); i++) {
        const char *c = json_string_value(json_array_get(cats, i));
        if (!c)
            return xb_error_set(err, XB_ECONFIG, "policy.catalogs", "policy.catalogs: paths");
        resolve(path, sizeof path, env->dir, c);
        if ((rc = xb_catalog_store_load(env->catalogs, path, copts.pubkey_path, err)))
            return rc;
    }
    const json_t *dests = NULL;
    if ((rc = xb_yaml_object_opt(&dests, env->config, "destinations", "", err)) ||
        (rc = xb_policy_destinations_from_tree(&env->dests, dests, "destinations", err)))
        return rc;
    resolve(path, sizeof path, env->dir, counter);
    if ((rc = read_key(&env->counter_key, path, "policy.counter_key", err)))
        return rc;
    const xb_policy_destination *d = xb_policy_destination_find(env->dests, dest_name);
    if (!d)
        return xb_error_set(err, XB_ECONFIG, "destinations",
                            "destination '%s' is not in the config (--dest takes a name under "
                            "destinations:)",
                            dest_name);
    /* A missing pseudonym key is not a config error here: a destination whose profile never
     * pseudonymises needs none, and one that does is quarantined by the policy (fail closed). */
    if (keydir && xb_policy_destination_key_file(d)) {
        char dirpath[1024];
        resolve(dirpath, sizeof dirpath, env->dir, keydir);
        if (snprintf(path, sizeof path, "%s/%s", dirpath, xb_policy_destination_key_file(d)) >=
            (int)sizeof path)
            return xb_error_set(err, XB_ECONFIG, "policy.keys", "policy.keys: path too long");
        if (xb_buf_read_file(&env->pseudo_key, path, 4096) == 0 && env->pseudo_key.len < 16)
            return xb_error_set(err, XB_ECONFIG, path, "pseudonym key %s: shorter than 16 bytes",
                                path);
    }
    return 0;
}

static int exit_for(xb_verdict v)
{
    return v == XB_VERDICT_DELIVER ? EXIT_DELIVER
           : v == XB_VERDICT_BLOCK ? EXIT_BLOCK
                                   : EXIT_QUARANTINE;
}

static int write_decision(const char *path, const json_t *rec)
{
    if (!path)
        return 0;
    if (json_dump_file(rec, path, JSON_INDENT(2) | JSON_SORT_KEYS)) {
        fprintf(stderr, "xborder classify: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* Parses and checks the input; returns an exit status when it is not a message we can decide. */
static int read_message(xb_msg **msg, char sha_hex[65], const char *path, const char *out_decision)
{
    xb_buf bytes = XB_BUF_INIT;
    xb_error err;
    xb_error_clear(&err);
    if (xb_buf_read_file(&bytes, path, 0)) {
        fprintf(stderr, "xborder classify: cannot read %s\n", path);
        return EXIT_USAGE;
    }
    uint8_t md[32];
    unsigned mdlen = 0;
    if (EVP_Digest(bytes.data, bytes.len, md, &mdlen, EVP_sha256(), NULL) == 1)
        xb_hex(sha_hex, md, 32);
    int rc = xb_msg_parse(msg, bytes.data, bytes.len, NULL, &err);
    xb_buf_free(&bytes);
    if (rc == XB_EUNSUPPORTED) {
        /* An unknown definition is not understood: quarantined, never passed (fail closed). */
        fprintf(stderr, "verdict QUARANTINE: %s\n", err.message);
        json_t *rec = json_pack("{s:s, s:s}", "verdict", "QUARANTINE", "reason", err.message);
        write_decision(out_decision, rec);
        json_decref(rec);
        return EXIT_QUARANTINE;
    }
    if (!rc && (rc = xb_schema_validate_msg(*msg, &err)) == 0)
        rc = xb_rules_check(*msg, &err);
    if (rc) {
        fprintf(stderr, "xborder classify: invalid message %s: %s%s%s\n", path, err.message,
                err.path[0] ? " at " : "", err.path);
        return EXIT_INVALID;
    }
    return -1;
}

static int run(classify_env *env, const classify_args *a)
{
    xb_error err;
    xb_error_clear(&err);
    int64_t t = (int64_t)time(NULL);
    if (a->at && xb_policy_parse_time(&t, a->at, &err))
        return fprintf(stderr, "xborder classify: --at: %s\n", err.message), EXIT_USAGE;
    if (xb_yaml_load_file(&env->config, a->config, &err))
        return config_error(&err);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", a->config);
    snprintf(env->dir, sizeof env->dir, "%s", dirname(tmp));
    if (load_policy(env, a->dest, &err))
        return config_error(&err);
    xb_msg *msg = NULL;
    char sha[65] = "";
    int status = read_message(&msg, sha, a->message, a->decision);
    if (status >= 0)
        return status;
    xb_policy_counters snap = {.year = xb_policy_year_cn(t)};
    if (a->state) {
        char url[1100];
        snprintf(url, sizeof url, "sqlite:%s/state.db", a->state);
        if (xb_store_open(&env->store, url, &err) ||
            xb_store_subjects_snapshot(&snap, env->store, snap.year, &err)) {
            xb_msg_free(msg);
            return config_error(&err);
        }
    }
    xb_policy_keys keys = {(const uint8_t *)env->counter_key.data, env->counter_key.len,
                           (const uint8_t *)env->pseudo_key.data, env->pseudo_key.len};
    xb_policy_opts popts = {.warn_permille = env->warn_permille, .msg_sha256 = sha};
    xb_policy_decision d;
    const xb_policy_destination *dest = xb_policy_destination_find(env->dests, a->dest);
    if (xb_policy_decide(&d, msg, env->catalogs, dest, t, &snap, &keys, &popts, &err)) {
        fprintf(stderr, "xborder classify: %s\n", err.message);
        xb_policy_decision_free(&d);
        xb_msg_free(msg);
        return EXIT_USAGE;
    }
    xb_policy_decision_print_table(&d, stderr);
    json_t *rec = xb_policy_decision_to_json(&d);
    status = exit_for(d.verdict);
    if (write_decision(a->decision, rec))
        status = EXIT_USAGE;
    /* Counters before release: a crash after this over-counts, never under-counts. */
    if (status == EXIT_DELIVER && env->store && d.n_subjects &&
        xb_store_subjects_apply(NULL, env->store, d.year, d.subjects, d.n_subjects, d.destination,
                                &err)) {
        fprintf(stderr, "xborder classify: %s; message not released\n", err.message);
        status = EXIT_USAGE;
    }
    if (status == EXIT_DELIVER)
        fwrite(d.output.data, 1, d.output.len, stdout);
    json_decref(rec);
    xb_policy_decision_free(&d);
    xb_msg_free(msg);
    return status;
}

int xb_cli_classify(int argc, char **argv)
{
    classify_args a = {0};
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(&a, argc, argv)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    classify_env env = {0};
    int status = run(&env, &a);
    xb_store_close(env.store);
    xb_policy_catalog_set_free(env.catalogs);
    xb_policy_destinations_free(env.dests);
    xb_buf_free(&env.counter_key);
    xb_buf_free(&env.pseudo_key);
    json_decref(env.config);
    return status;
}
