/* versions.c — what a catalog version says: profiles, secret words, thresholds, scenarios.
 *
 * Owns: reading profiles (class or rule id -> action) and resolving them against every compiled
 * rule once, the secret-word list, and each effective-dated version (window, CAC thresholds,
 * scenarios with their exemption, important / core / FTZ negative-list names).
 * Never: accepts a setting the engine does not implement (another window, time zone or counting
 * rule would be silently wrong), or a scenario whose profile does not exist.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/detect.h"
#include "adapter/policy/internal.h"
#include "adapter/yaml_tree.h"

/* ---- profiles ---------------------------------------------------------------------------- */

static int load_profile(pol_profile *p, const char *name, const json_t *o, const char *where,
                        xb_error *err)
{
    static const char *const keys[] = {"default", "actions", "note", NULL};
    const char *dflt = "QUARANTINE";
    const json_t *acts = NULL;
    int rc;
    if (!(p->name = strdup(name)))
        return pol_oom(err);
    if ((rc = xb_yaml_only_keys(o, keys, where, err)) ||
        (rc = xb_yaml_str_opt(&dflt, o, "default", where, err)) ||
        (rc = xb_yaml_object_opt(&acts, o, "actions", where, err)) ||
        (rc = pol_action_parse(&p->dflt, dflt, where, err)))
        return rc;
    if (!acts)
        return 0;
    p->by = calloc(json_object_size(acts) + 1, sizeof *p->by);
    if (!p->by)
        return pol_oom(err);
    const char *key;
    json_t *v;
    json_object_foreach(UNCONST(acts), key, v)
    {
        char w[240];
        snprintf(w, sizeof w, "%s.actions.%s", where, key);
        if (!json_is_string(v))
            return pol_cfg(err, w, "%s: expected an action like PASS or PSEUDO:party", w);
        pol_profile_entry *e = &p->by[p->nby++];
        if (!(e->key = strdup(key)))
            return pol_oom(err);
        if ((rc = pol_action_parse(&e->act, json_string_value(v), w, err)))
            return rc;
    }
    return 0;
}

int pol_load_profiles(pol_file *f, xb_error *err)
{
    const json_t *ps = NULL;
    int rc = xb_yaml_object_opt(&ps, f->tree, "profiles", "", err);
    if (rc)
        return rc;
    if (!ps || !json_object_size(ps))
        return pol_cfg(err, "profiles", "catalog has no profiles");
    f->profiles = calloc(json_object_size(ps), sizeof *f->profiles);
    if (!f->profiles)
        return pol_oom(err);
    const char *name;
    json_t *o;
    json_object_foreach(UNCONST(ps), name, o)
    {
        char where[160];
        snprintf(where, sizeof where, "profiles.%s", name);
        if (!json_is_object(o))
            return pol_cfg(err, where, "%s: expected a mapping", where);
        if ((rc = load_profile(&f->profiles[f->nprofiles++], name, o, where, err)))
            return rc;
    }
    return 0;
}

static const pol_action *resolve_action(const pol_profile *p, const pol_rule *r)
{
    /* A rule id entry is more specific than its class. */
    for (size_t i = 0; i < p->nby; i++)
        if (!strcmp(p->by[i].key, r->id))
            return &p->by[i].act;
    for (size_t i = 0; i < p->nby; i++)
        if (!strcmp(p->by[i].key, r->cls->name))
            return &p->by[i].act;
    return &p->dflt;
}

const pol_action *pol_profile_action(const pol_profile *p, const pol_rule *r)
{
    return p->by_rule ? p->by_rule[r->ix] : resolve_action(p, r);
}

/* Profiles are resolved against every rule once, so a message costs one index per field. */
int pol_resolve_profiles(pol_file *f, xb_error *err)
{
    for (size_t i = 0; i < f->nprofiles; i++) {
        pol_profile *p = &f->profiles[i];
        p->by_rule = calloc(f->nrules + 1, sizeof *p->by_rule);
        if (!p->by_rule)
            return pol_oom(err);
        for (size_t k = 0; k < f->nrules; k++)
            p->by_rule[k] = resolve_action(p, f->rules[k]);
    }
    return 0;
}

/* ---- secret words ----------------------------------------------------------------------- */

int pol_load_secret_words(pol_file *f, xb_error *err)
{
    const json_t *w = NULL;
    int rc = xb_yaml_array_opt(&w, f->tree, "secret_words", "", err);
    if (rc)
        return rc;
    size_t n = w ? json_array_size(w) : 0;
    size_t ndef = 0;
    while (xb_detect_default_secret_words[ndef])
        ndef++;
    f->secret_words = calloc((n ? n : ndef) + 1, sizeof *f->secret_words);
    if (!f->secret_words)
        return pol_oom(err);
    for (size_t i = 0; i < (n ? n : ndef); i++) {
        const char *s =
            n ? json_string_value(json_array_get(w, i)) : xb_detect_default_secret_words[i];
        if (!s || !*s)
            return pol_cfg(err, "secret_words", "secret_words: entries must be non-empty text");
        if (!(f->secret_words[i] = strdup(s)))
            return pol_oom(err);
    }
    f->secret_ix = xb_detect_words_new((const char *const *)f->secret_words);
    return f->secret_ix ? 0 : pol_oom(err);
}

/* ---- versions ---------------------------------------------------------------------------- */

static int load_strv(char ***out, size_t *n, const json_t *o, const char *key, const char *where,
                     xb_error *err)
{
    const json_t *a = NULL;
    int rc = xb_yaml_array_opt(&a, o, key, where, err);
    if (rc || !a)
        return rc;
    *out = calloc(json_array_size(a) + 1, sizeof **out);
    if (!*out)
        return pol_oom(err);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return pol_cfg(err, where, "%s.%s: expected a list of names", where, key);
        if (!((*out)[(*n)++] = strdup(json_string_value(v))))
            return pol_oom(err);
    }
    return 0;
}

static int load_thresholds(pol_thresholds *t, const json_t *v, const char *where, xb_error *err)
{
    static const char *const keys[] = {"scc_pi_ge",
                                       "sa_pi_ge",
                                       "scc_spi_ge",
                                       "sa_spi_ge",
                                       "window",
                                       "year_start_tz",
                                       "count_exempt_transfers",
                                       "note",
                                       NULL};
    const json_t *o = NULL;
    char w[160];
    snprintf(w, sizeof w, "%s.thresholds", where);
    int rc = xb_yaml_object_opt(&o, v, "thresholds", where, err);
    if (rc)
        return rc;
    if (!o)
        return pol_cfg(err, w, "%s: required (CAC 2024 Provisions Arts. 7-8)", w);
    const char *window = NULL, *tz = NULL;
    bool count_exempt = false;
    if ((rc = xb_yaml_only_keys(o, keys, w, err)) ||
        (rc = xb_yaml_int(&t->scc_pi, o, "scc_pi_ge", w, err)) ||
        (rc = xb_yaml_int(&t->sa_pi, o, "sa_pi_ge", w, err)) ||
        (rc = xb_yaml_int(&t->scc_spi, o, "scc_spi_ge", w, err)) ||
        (rc = xb_yaml_int(&t->sa_spi, o, "sa_spi_ge", w, err)) ||
        (rc = xb_yaml_str_opt(&window, o, "window", w, err)) ||
        (rc = xb_yaml_str_opt(&tz, o, "year_start_tz", w, err)) ||
        (rc = xb_yaml_bool_opt(&count_exempt, o, "count_exempt_transfers", w, err)))
        return rc;
    /* Only what the engine implements may be declared: anything else would be silently wrong. */
    if (window && strcmp(window, "CALENDAR_YEAR_CURRENT"))
        return pol_cfg(err, w, "%s.window: only CALENDAR_YEAR_CURRENT is implemented, not '%s'", w,
                       window);
    if (tz && strcmp(tz, "+08:00"))
        return pol_cfg(err, w, "%s.year_start_tz: only +08:00 is implemented, not '%s'", w, tz);
    if (count_exempt)
        return pol_cfg(err, w, "%s.count_exempt_transfers: only false is implemented", w);
    if (t->scc_pi < 1 || t->sa_pi < t->scc_pi || t->scc_spi < 1 || t->sa_spi < t->scc_spi)
        return pol_cfg(err, w, "%s: thresholds must be positive and SA >= SCC", w);
    return 0;
}

static const pol_profile *find_profile(const pol_file *f, const char *name)
{
    for (size_t i = 0; i < f->nprofiles; i++)
        if (!strcmp(f->profiles[i].name, name))
            return &f->profiles[i];
    return NULL;
}

static int load_scenarios(xb_policy_catalog *c, const json_t *v, const char *where, xb_error *err)
{
    static const char *const keys[] = {"profile",   "exempt_basis", "messages",
                                       "guideline", "note",         NULL};
    const json_t *sc = NULL;
    int rc = xb_yaml_object_opt(&sc, v, "scenarios", where, err);
    if (rc)
        return rc;
    if (!sc || !json_object_size(sc))
        return pol_cfg(err, where, "%s.scenarios: at least one scenario is required", where);
    c->scenarios = calloc(json_object_size(sc), sizeof *c->scenarios);
    if (!c->scenarios)
        return pol_oom(err);
    const char *id;
    json_t *o;
    json_object_foreach(UNCONST(sc), id, o)
    {
        char w[200];
        snprintf(w, sizeof w, "%s.scenarios.%s", where, id);
        pol_scenario *s = &c->scenarios[c->nscenarios++];
        const char *prof = NULL, *basis = NULL, *guide = NULL;
        if (!(s->id = strdup(id)))
            return pol_oom(err);
        if (!json_is_object(o))
            return pol_cfg(err, w, "%s: expected a mapping", w);
        if ((rc = xb_yaml_only_keys(o, keys, w, err)) ||
            (rc = xb_yaml_str(&prof, o, "profile", w, err)) ||
            (rc = xb_yaml_str_opt(&basis, o, "exempt_basis", w, err)) ||
            (rc = xb_yaml_str_opt(&guide, o, "guideline", w, err)) ||
            (rc = load_strv(&s->messages, &s->nmessages, o, "messages", w, err)))
            return rc;
        if (!(s->profile = find_profile(c->file, prof)))
            return pol_cfg(err, w, "%s.profile: unknown profile '%s'", w, prof);
        if (basis && (xb_policy_basis_parse(&s->exempt_basis, basis) ||
                      s->exempt_basis > XB_BASIS_FTZ_NOT_ON_NEGATIVE_LIST))
            return pol_cfg(err, w, "%s.exempt_basis: '%s' is not an exemption (EXEMPT_ART5_*)", w,
                           basis);
        if (guide && !(s->guideline = strdup(guide)))
            return pol_oom(err);
    }
    return 0;
}

int pol_load_version(xb_policy_catalog **out, pol_file *f, const json_t *v, const char *where,
                     xb_error *err)
{
    static const char *const keys[] = {"version",           "effective_from", "effective_to",
                                       "sources",           "supersedes",     "thresholds",
                                       "scenarios",         "important",      "core",
                                       "ftz_negative_list", "note",           NULL};
    const char *ver = NULL, *from = NULL, *to = NULL;
    int rc;
    if (!json_is_object(v))
        return pol_cfg(err, where, "%s: expected a mapping", where);
    xb_policy_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return pol_oom(err);
    c->file = f;
    f->refs++;
    c->to = INT64_MAX;
    if ((rc = xb_yaml_only_keys(v, keys, where, err)) ||
        (rc = xb_yaml_str(&ver, v, "version", where, err)) ||
        (rc = xb_yaml_str(&from, v, "effective_from", where, err)) ||
        (rc = xb_yaml_str_opt(&to, v, "effective_to", where, err)))
        goto fail;
    if (!(c->version = strdup(ver))) {
        rc = pol_oom(err);
        goto fail;
    }
    if (xb_policy_parse_time(&c->from, from, NULL) ||
        (to && xb_policy_parse_time(&c->to, to, NULL))) {
        rc = pol_cfg(err, where, "%s.effective_from/effective_to: expected ISO 8601 with offset",
                     where);
        goto fail;
    }
    if (c->to <= c->from) {
        rc = pol_cfg(err, where, "%s: effective_to must be after effective_from (%s)", where, ver);
        goto fail;
    }
    if ((rc = load_thresholds(&c->thr, v, where, err)) || (rc = load_scenarios(c, v, where, err)) ||
        (rc = load_strv(&c->important, &c->nimportant, v, "important", where, err)) ||
        (rc = load_strv(&c->core, &c->ncore, v, "core", where, err)) ||
        (rc = load_strv(&c->negative, &c->nnegative, v, "ftz_negative_list", where, err)))
        goto fail;
    *out = c;
    return 0;
fail:
    pol_free_catalog(c);
    return rc;
}
