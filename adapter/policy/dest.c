/* dest.c — destinations and their legal bases, read from the config's `destinations:` mapping.
 *
 * Owns: the policy view of a destination (scenario, legal bases with validity and filing
 * reference, pseudonymisation key id and epoch) and the key check that catches typos.
 * Never: opens key files or connects anywhere; transport settings (url, tls, batch ...) are
 * accepted as keys but belong to the pipeline, which reads them itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/internal.h"
#include "adapter/yaml_tree.h"

static const char *const dest_keys[] = {
    /* policy */
    "country", "recipient", "role", "scenario", "catalog", "bases", "pseudo", "note",
    /* transport (pipeline, issue #4) */
    "url", "tls", "batch", "retry", "timeout_ms", "headers", "auth", "sign", "sink", "sftp", "type",
    NULL};

static void free_dest(xb_policy_destination *d)
{
    free(d->name);
    free(d->country);
    free(d->scenario);
    free(d->catalog);
    for (size_t i = 0; i < d->nbases; i++)
        free(d->bases[i].ref);
    free(d->bases);
    free(d->key_file);
}

void xb_policy_destinations_free(xb_policy_destinations *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        free_dest(&ds->v[i]);
    free(ds->v);
    free(ds);
}

static char *dup_opt(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int parse_date(int64_t *out, const json_t *o, const char *key, const char *where,
                      xb_error *err)
{
    const char *s = NULL;
    int rc = xb_yaml_str_opt(&s, o, key, where, err);
    if (rc || !s)
        return rc;
    if (xb_policy_parse_time(out, s, NULL))
        return xb_error_set(err, XB_ECONFIG, where, "%s.%s: '%s' is not a date (YYYY-MM-DD)", where,
                            key, s);
    return 0;
}

static int parse_basis(pol_basis *b, const json_t *v, const char *where, xb_error *err)
{
    static const char *const keys[] = {"type",     "ref",  "valid_from", "valid_to",
                                       "pi_types", "note", NULL};
    const char *type = NULL, *ref = NULL;
    int rc;
    b->from = INT64_MIN;
    b->to = INT64_MAX;
    if (json_is_string(v)) {
        type = json_string_value(v);
    } else if (json_is_object(v)) {
        if ((rc = xb_yaml_only_keys(v, keys, where, err)) ||
            (rc = xb_yaml_str(&type, v, "type", where, err)) ||
            (rc = xb_yaml_str_opt(&ref, v, "ref", where, err)) ||
            (rc = parse_date(&b->from, v, "valid_from", where, err)) ||
            (rc = parse_date(&b->to, v, "valid_to", where, err)))
            return rc;
    } else {
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a basis name or mapping", where);
    }
    if (xb_policy_basis_parse(&b->type, type))
        return xb_error_set(err, XB_ECONFIG, where,
                            "%s: '%s' is not a legal basis (EXEMPT_ART5_1_CONTRACT, SCC_FILED, "
                            "SEC_ASSESSMENT_APPROVED, ...)",
                            where, type);
    /* A filed contract or an approval without its reference cannot be shown to a regulator. */
    if ((b->type == XB_BASIS_SCC_FILED || b->type == XB_BASIS_PIP_CERTIFIED ||
         b->type == XB_BASIS_SEC_ASSESSMENT_APPROVED) &&
        !ref)
        return xb_error_set(err, XB_ECONFIG, where, "%s: %s needs its filing reference (ref)",
                            where, type);
    if (b->to <= b->from)
        return xb_error_set(err, XB_ECONFIG, where, "%s: valid_to must be after valid_from", where);
    if (ref && !(b->ref = strdup(ref)))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    return 0;
}

static int parse_pseudo(xb_policy_destination *d, const json_t *o, const char *where, xb_error *err)
{
    static const char *const keys[] = {"key_id", "epoch", NULL};
    const json_t *p = NULL;
    const char *id = NULL, *epoch = NULL;
    char w[240];
    if (snprintf(w, sizeof w, "%s.pseudo", where) >= (int)sizeof w)
        return xb_error_set(err, XB_ECONFIG, where, "%s: name too long", where);
    int rc = xb_yaml_object_opt(&p, o, "pseudo", where, err);
    if (rc || !p)
        return rc;
    if ((rc = xb_yaml_only_keys(p, keys, w, err)) || (rc = xb_yaml_str(&id, p, "key_id", w, err)) ||
        (rc = xb_yaml_str(&epoch, p, "epoch", w, err)))
        return rc;
    /* The name becomes a file name under the keys directory: no separators, no dots. */
    for (const char *s = id; *s; s++)
        if (!(*s == '-' || *s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return xb_error_set(err, XB_ECONFIG, w, "%s.key_id: use letters, digits, - and _", w);
    for (const char *s = epoch; *s; s++)
        if (!(*s == '-' || *s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return xb_error_set(err, XB_ECONFIG, w, "%s.epoch: use letters, digits, - and _", w);
    size_t n = strlen(id) + strlen(epoch) + 6;
    if (!(d->key_file = malloc(n)))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    snprintf(d->key_file, n, "%s.%s.key", id, epoch);
    return 0;
}

static int parse_dest(xb_policy_destination *d, const char *name, const json_t *o,
                      const char *where, xb_error *err)
{
    const char *country = NULL, *scenario = NULL, *catalog = NULL;
    const json_t *bases = NULL;
    int rc;
    if (!(d->name = strdup(name)))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    if (!json_is_object(o))
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a mapping", where);
    if ((rc = xb_yaml_only_keys(o, dest_keys, where, err)) ||
        (rc = xb_yaml_str_opt(&country, o, "country", where, err)) ||
        (rc = xb_yaml_str(&scenario, o, "scenario", where, err)) ||
        (rc = xb_yaml_str_opt(&catalog, o, "catalog", where, err)) ||
        (rc = xb_yaml_array_opt(&bases, o, "bases", where, err)) ||
        (rc = parse_pseudo(d, o, where, err)))
        return rc;
    d->country = dup_opt(country);
    d->scenario = dup_opt(scenario);
    d->catalog = dup_opt(catalog);
    if ((country && !d->country) || !d->scenario || (catalog && !d->catalog))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    /* No bases is allowed: such a destination can receive only data that is not PI. */
    size_t n = bases ? json_array_size(bases) : 0;
    d->bases = calloc(n ? n : 1, sizeof *d->bases);
    if (!d->bases)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char w[240];
        snprintf(w, sizeof w, "%s.bases[%zu]", where, i);
        if ((rc = parse_basis(&d->bases[d->nbases], json_array_get(bases, i), w, err)))
            return rc;
        d->nbases++;
    }
    return 0;
}

int xb_policy_destinations_from_tree(xb_policy_destinations **out, const json_t *tree,
                                     const char *where, xb_error *err)
{
    *out = NULL;
    if (!tree || !json_is_object(tree))
        return xb_error_set(err, XB_ECONFIG, where, "%s: expected a mapping of destinations",
                            where);
    xb_policy_destinations *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->v = calloc(json_object_size(tree) + 1, sizeof *ds->v))) {
        free(ds);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    const char *name;
    json_t *o;
    json_object_foreach((json_t *)(uintptr_t)tree, name, o)
    {
        char w[200];
        snprintf(w, sizeof w, "%s.%s", where, name);
        int rc = parse_dest(&ds->v[ds->n++], name, o, w, err);
        if (rc) {
            xb_policy_destinations_free(ds);
            return rc;
        }
    }
    *out = ds;
    return 0;
}

const xb_policy_destination *xb_policy_destination_find(const xb_policy_destinations *ds,
                                                        const char *name)
{
    for (size_t i = 0; ds && name && i < ds->n; i++)
        if (!strcmp(ds->v[i].name, name))
            return &ds->v[i];
    return NULL;
}

const char *xb_policy_destination_name(const xb_policy_destination *d)
{
    return d->name;
}

const char *xb_policy_destination_scenario(const xb_policy_destination *d)
{
    return d->scenario;
}

const char *xb_policy_destination_key_file(const xb_policy_destination *d)
{
    return d->key_file;
}

const char *pol_destination_catalog(const xb_policy_destination *d)
{
    return d->catalog;
}

const pol_basis *pol_destination_basis(const xb_policy_destination *d, xb_basis type, int64_t t)
{
    for (size_t i = 0; i < d->nbases; i++)
        if (d->bases[i].type == type && d->bases[i].from <= t && t < d->bases[i].to)
            return &d->bases[i];
    return NULL;
}
