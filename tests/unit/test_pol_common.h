/* test_pol_common.h — shared helpers for the policy tests (tests/unit/test_pol_*.c).
 *
 * Owns: loading the default catalog and the example destinations from fixtures, reading a
 * fixture message, an in-memory counter snapshot, and test keys made at run time.
 * Never: hard-codes a decision: every helper only prepares inputs.
 */
#ifndef XB_TEST_POL_COMMON_H
#define XB_TEST_POL_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/policy.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"

#define POL_CATALOG XB_FIXTURES "/catalogs/cn-finance.yaml"
#define POL_EXAMPLE XB_FIXTURES "/config/example.yaml"
#define POL_THRESH XB_FIXTURES "/config/policy-thresholds.yaml"
#define POL_MSG(name) XB_FIXTURES "/messages/policy/" name

static inline xb_policy_catalog_set *pol_default_catalogs(void)
{
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    if (xb_policy_catalog_set_new(&set, &err) ||
        xb_policy_catalog_set_load(set, POL_CATALOG, NULL, &err)) {
        fprintf(stderr, "catalog: %s (%s)\n", err.message, err.path);
        abort();
    }
    return set;
}

static inline xb_policy_destinations *pol_destinations(const char *config)
{
    json_t *tree = NULL;
    xb_policy_destinations *d = NULL;
    xb_error err;
    if (xb_yaml_load_file(&tree, config, &err) ||
        xb_policy_destinations_from_tree(&d, json_object_get(tree, "destinations"), "destinations",
                                         &err)) {
        fprintf(stderr, "destinations: %s\n", err.message);
        abort();
    }
    json_decref(tree);
    return d;
}

static inline xb_msg *pol_message(const char *path)
{
    xb_buf b = XB_BUF_INIT;
    xb_msg *m = NULL;
    xb_error err;
    if (xb_buf_read_file(&b, path, 0) || xb_msg_parse(&m, b.data, b.len, NULL, &err)) {
        fprintf(stderr, "message %s: %s\n", path, err.message);
        abort();
    }
    xb_buf_free(&b);
    return m;
}

static inline int64_t pol_time(const char *text)
{
    int64_t t = 0;
    if (xb_policy_parse_time(&t, text, NULL))
        abort();
    return t;
}

/* Keys are fixed bytes made here, not secrets: tests need repeatable pseudonyms. */
static const uint8_t pol_counter_key[32] = "xborder-test-counter-key-0001..";
static const uint8_t pol_pseudo_key[32] = "xborder-test-pseudo-key-e1-0001";
static const uint8_t pol_pseudo_key2[32] = "xborder-test-pseudo-key-e2-0002";

static inline xb_policy_keys pol_keys(void)
{
    xb_policy_keys k = {pol_counter_key, sizeof pol_counter_key, pol_pseudo_key,
                        sizeof pol_pseudo_key};
    return k;
}

/* Decides one fixture message; the caller frees the decision. */
static inline int pol_decide(xb_policy_decision *d, const char *msg_path,
                             const xb_policy_catalog_set *set, const xb_policy_destinations *ds,
                             const char *dest, const char *when, const xb_policy_counters *ctr_in)
{
    xb_msg *m = pol_message(msg_path);
    int64_t t = pol_time(when);
    xb_policy_counters zero = {.year = xb_policy_year_cn(t)};
    xb_policy_keys keys = pol_keys();
    xb_error err;
    const xb_policy_destination *de = xb_policy_destination_find(ds, dest);
    if (!de)
        abort();
    int rc = xb_policy_decide(d, m, set, de, t, ctr_in ? ctr_in : &zero, &keys, NULL, &err);
    if (rc)
        fprintf(stderr, "decide: %s\n", err.message);
    xb_msg_free(m);
    return rc;
}

static inline const xb_policy_field *pol_field(const xb_policy_decision *d, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < d->n_fields; i++) {
        size_t pl = strlen(d->fields[i].path);
        if (pl >= sl && !strcmp(d->fields[i].path + pl - sl, suffix))
            return &d->fields[i];
    }
    return NULL;
}

#endif
