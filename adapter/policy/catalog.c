/* catalog.c — rule catalogs: load, verify, compile, select by transfer time.
 *
 * Owns: reading one catalog file (YAML via adapter/yaml_tree.h), the optional detached Ed25519
 * signature over the file bytes, the SHA-256 of the canonical JSON form, compiling field
 * selectors (namespace URI + local-name paths, groups expanded) into the matcher trie, and the
 * set of loaded versions (sorted, overlapping windows per catalog id refused).
 * Never: matches by namespace prefix (catalog aliases are resolved to URIs at compile time),
 * reads any file but the catalog, its .sig and the public key, or changes a set on failure.
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/detect.h"
#include "adapter/policy/internal.h"
#include "adapter/yaml_tree.h"
#include "iso20022/registry.h"
#include "iso20022/write.h"

#define MAX_CATALOG_BYTES (4u * 1024u * 1024u)
#define MAX_GROUP_DEPTH 8
/* jansson's iteration macros take non-const objects; we only read. */
#define UNCONST(p) ((json_t *)(uintptr_t)(p))

/* ---- small helpers ------------------------------------------------------------------------ */

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int oom(xb_error *err)
{
    return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
}

static int cfg(xb_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A catalog error that names the key (err->path) and says what was expected. */
static int cfg(xb_error *err, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xb_error_set(err, XB_ECONFIG, path, "%s", msg);
}

static int parse_enum(int *out, const char *text, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (text && !strcasecmp(text, names[i])) {
            *out = i;
            return 0;
        }
    return -1;
}

/* ---- file lifetime ---------------------------------------------------------------------- */

static void free_node(pol_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        free_node(n->kids[i]);
    free(n->kids);
    free(n->anchor_role);
    free(n->local);
    free(n);
}

static void free_file(pol_file *f)
{
    if (!f || --f->refs > 0)
        return;
    free(f->id);
    json_decref(f->tree);
    for (size_t i = 0; i < f->nns; i++)
        free(f->ns_intern[i]);
    free(f->ns_intern);
    for (size_t i = 0; i < f->nclasses; i++)
        free(f->classes[i].name);
    free(f->classes);
    for (size_t i = 0; i < f->nmaps; i++)
        free_node(f->maps[i].root);
    free(f->maps);
    for (size_t i = 0; i < f->nrules; i++) {
        free(f->rules[i]->id);
        free(f->rules[i]->role);
        free(f->rules[i]->placeholder);
        free(f->rules[i]);
    }
    free(f->rules);
    for (size_t i = 0; i < f->nprofiles; i++) {
        free(f->profiles[i].name);
        for (size_t k = 0; k < f->profiles[i].nby; k++)
            free(f->profiles[i].by[k].key);
        free(f->profiles[i].by);
    }
    free(f->profiles);
    for (size_t i = 0; f->secret_words && f->secret_words[i]; i++)
        free(f->secret_words[i]);
    free(f->secret_words);
    free(f);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_catalog(xb_policy_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nscenarios; i++) {
        free(c->scenarios[i].id);
        free(c->scenarios[i].guideline);
        free_strv(c->scenarios[i].messages, c->scenarios[i].nmessages);
    }
    free(c->scenarios);
    free_strv(c->important, c->nimportant);
    free_strv(c->core, c->ncore);
    free_strv(c->negative, c->nnegative);
    free(c->version);
    free_file(c->file);
    free(c);
}

/* ---- namespaces --------------------------------------------------------------------------- */

static const char *intern_ns(pol_file *f, const char *uri)
{
    for (size_t i = 0; i < f->nns; i++)
        if (!strcmp(f->ns_intern[i], uri))
            return f->ns_intern[i];
    char **v = realloc(f->ns_intern, (f->nns + 1) * sizeof *v);
    if (!v)
        return NULL;
    f->ns_intern = v;
    if (!(v[f->nns] = strdup(uri)))
        return NULL;
    return v[f->nns++];
}

/* An alias from `namespaces:` or a literal URI ("urn:..."). */
static const char *resolve_ns(pol_file *f, const char *name)
{
    const json_t *aliases = json_object_get(f->tree, "namespaces");
    const json_t *v = aliases ? json_object_get(aliases, name) : NULL;
    if (v && json_is_string(v))
        return intern_ns(f, json_string_value(v));
    if (strchr(name, ':'))
        return intern_ns(f, name);
    return NULL;
}

/* ---- classes ---------------------------------------------------------------------------- */

static const char *const tier_names[] = {"general", "important", "core"};
static const char *const pi_names[] = {"none", "pi", "spi"};
static const char *const pfi_names[] = {"none", "C1", "C2", "C3"};

static int parse_labels(xb_tier *tier, xb_pi *pi, int *pfi, int *level, const json_t *o,
                        const char *where, xb_error *err)
{
    const char *s = NULL;
    int v;
    int64_t lv;
    int rc = xb_yaml_str_opt(&s, o, "tier", where, err);
    if (!rc && s && parse_enum(&v, s, tier_names, 3) == 0)
        *tier = (xb_tier)v;
    else if (!rc && s)
        return cfg(err, where, "%s.tier: '%s' is not general, important or core", where, s);
    s = NULL;
    if (!rc)
        rc = xb_yaml_str_opt(&s, o, "pi", where, err);
    if (!rc && s && parse_enum(&v, s, pi_names, 3) == 0)
        *pi = (xb_pi)v;
    else if (!rc && s)
        return cfg(err, where, "%s.pi: '%s' is not none, pi or spi", where, s);
    s = NULL;
    if (!rc)
        rc = xb_yaml_str_opt(&s, o, "pfi", where, err);
    if (!rc && s && parse_enum(&v, s, pfi_names, 4) == 0)
        *pfi = v;
    else if (!rc && s)
        return cfg(err, where, "%s.pfi: '%s' is not none, C1, C2 or C3", where, s);
    lv = *level;
    if (!rc)
        rc = xb_yaml_int_opt(&lv, o, "level", where, err);
    if (!rc && (lv < 1 || lv > 5))
        return cfg(err, where, "%s.level: JR/T 0197 levels are 1..5", where);
    *level = (int)lv;
    return rc;
}

static int load_classes(pol_file *f, xb_error *err)
{
    const json_t *cl = NULL;
    int rc = xb_yaml_object_opt(&cl, f->tree, "classes", "", err);
    if (rc)
        return rc;
    if (!cl || !json_object_size(cl))
        return cfg(err, "classes", "catalog has no classes");
    f->classes = calloc(json_object_size(cl), sizeof *f->classes);
    if (!f->classes)
        return oom(err);
    const char *name;
    json_t *o;
    static const char *const keys[] = {"tier", "pi", "pfi", "level", "note", NULL};
    json_object_foreach(UNCONST(cl), name, o)
    {
        char where[160];
        snprintf(where, sizeof where, "classes.%s", name);
        pol_class *c = &f->classes[f->nclasses++];
        c->level = 2;
        if (!(c->name = strdup(name)))
            return oom(err);
        if (!json_is_object(o))
            return cfg(err, where, "%s: expected a mapping", where);
        if ((rc = xb_yaml_only_keys(o, keys, where, err)) ||
            (rc = parse_labels(&c->tier, &c->pi, &c->pfi, &c->level, o, where, err)))
            return rc;
    }
    return 0;
}

static const pol_class *find_class(const pol_file *f, const char *name)
{
    for (size_t i = 0; i < f->nclasses; i++)
        if (!strcmp(f->classes[i].name, name))
            return &f->classes[i];
    return NULL;
}

/* ---- the trie -------------------------------------------------------------------------- */

static pol_node *new_node(const char *ns, const char *local)
{
    pol_node *n = calloc(1, sizeof *n);
    if (n && !(n->local = strdup(local))) {
        free(n);
        return NULL;
    }
    if (n)
        n->ns = ns;
    return n;
}

static pol_node *child(pol_node *p, const char *ns, const char *local, bool create)
{
    for (size_t i = 0; i < p->nkids; i++)
        if (p->kids[i]->ns == ns && !strcmp(p->kids[i]->local, local))
            return p->kids[i];
    if (!create)
        return NULL;
    if (p->nkids == p->capkids) {
        size_t cap = p->capkids ? p->capkids * 2 : 4;
        pol_node **k = realloc(p->kids, cap * sizeof *k);
        if (!k)
            return NULL;
        p->kids = k;
        p->capkids = cap;
    }
    pol_node *n = new_node(ns, local);
    if (n)
        p->kids[p->nkids++] = n;
    return n;
}

/* ---- compiling field rules -------------------------------------------------------------- */

typedef struct compile_ctx {
    pol_file *f;
    pol_msgmap *map;
    const char *msg_ns;
    xb_error *err;
} compile_ctx;

typedef struct inherited {
    char path[512];    /* catalog path so far (for ids), relative to the message base */
    pol_node *node;    /* trie node the path has reached */
    const char *role;  /* party role in force */
    int below_anchor;  /* steps since the party anchor */
    int scope_up;
    int depth;         /* group nesting */
} inherited;

static int walk_steps(pol_node **out, bool *subtree, compile_ctx *cx, pol_node *from,
                      const char *path, const char *where)
{
    char buf[512];
    *subtree = false;
    if (strlen(path) >= sizeof buf)
        return cfg(cx->err, where, "%s: path too long", where);
    strcpy(buf, path);
    pol_node *n = from;
    char *save = NULL;
    for (char *step = strtok_r(buf, "/", &save); step; step = strtok_r(NULL, "/", &save)) {
        if (!strcmp(step, "."))
            continue; /* "here": lets a group be spliced in at the current element */
        if (!strcmp(step, "**")) {
            if (strtok_r(NULL, "/", &save))
                return cfg(cx->err, where, "%s: '**' must be the last step of '%s'", where, path);
            *subtree = true;
            break;
        }
        const char *ns = cx->msg_ns, *local = step;
        char *colon = strchr(step, ':');
        if (colon) {
            *colon = '\0';
            ns = resolve_ns(cx->f, step);
            local = colon + 1;
            if (!ns)
                return cfg(cx->err, where, "%s: unknown namespace alias '%s'", where, step);
        }
        if (!*local)
            return cfg(cx->err, where, "%s: empty step in '%s'", where, path);
        if (!(n = child(n, ns, local, true)))
            return oom(cx->err);
    }
    *out = n;
    return 0;
}

static int count_steps(const char *path)
{
    int n = 0;
    for (const char *p = path; *p;) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        if (len && !(len == 2 && !strncmp(p, "**", 2)) && !(len == 1 && *p == '.'))
            n++;
        p = s ? s + 1 : p + len;
    }
    return n;
}

static int add_rule(pol_file *f, pol_rule *r)
{
    if (f->nrules == f->caprules) {
        size_t cap = f->caprules ? f->caprules * 2 : 64;
        pol_rule **v = realloc(f->rules, cap * sizeof *v);
        if (!v)
            return XB_ENOMEM;
        f->rules = v;
        f->caprules = cap;
    }
    f->rules[f->nrules++] = r;
    return 0;
}

static int compile_items(compile_ctx *cx, const json_t *items, const inherited *in,
                         const char *where);

static int compile_leaf(compile_ctx *cx, const json_t *it, const inherited *in, pol_node *node,
                        bool subtree, const char *full, const char *where)
{
    const char *cname = NULL, *subj = NULL, *fmt = NULL, *ph = NULL;
    bool scan = false;
    int rc;
    if ((rc = xb_yaml_str(&cname, it, "class", where, cx->err)) ||
        (rc = xb_yaml_str_opt(&subj, it, "subject", where, cx->err)) ||
        (rc = xb_yaml_str_opt(&fmt, it, "format", where, cx->err)) ||
        (rc = xb_yaml_str_opt(&ph, it, "placeholder", where, cx->err)) ||
        (rc = xb_yaml_bool_opt(&scan, it, "scan", where, cx->err)))
        return rc;
    const pol_class *c = find_class(cx->f, cname);
    if (!c)
        return cfg(cx->err, where, "%s: unknown class '%s'", where, cname);
    if ((subtree ? node->subtree : node->rule))
        return cfg(cx->err, where, "%s: a rule for '%s' already exists", where, full);
    pol_rule *r = calloc(1, sizeof *r);
    if (!r || add_rule(cx->f, r)) {
        free(r);
        return oom(cx->err);
    }
    char id[600];
    snprintf(id, sizeof id, "%s:%s%s", cx->map->short_name, full, subtree ? "/**" : "");
    r->id = strdup(id);
    r->cls = c;
    r->tier = c->tier;
    r->pi = c->pi;
    r->pfi = c->pfi;
    r->level = c->level;
    if ((rc = parse_labels(&r->tier, &r->pi, &r->pfi, &r->level, it, where, cx->err)))
        return rc;
    r->subtree = subtree;
    r->scan = scan;
    if (in->role) {
        r->role = strdup(in->role);
        r->up_to_scope = in->below_anchor + count_steps(json_string_value(
                                                json_object_get(it, "path"))) +
                         in->scope_up;
    }
    static const char *const subjects[] = {"none", "account", "name", "birth"};
    static const char *const formats[] = {"text", "iban", "uuid"};
    int v;
    if (subj && parse_enum(&v, subj, subjects, 4))
        return cfg(cx->err, where, "%s.subject: '%s' is not account, name or birth", where, subj);
    r->subject = subj ? (pol_subject)v : SUBJ_NONE;
    if (fmt && parse_enum(&v, fmt, formats, 3))
        return cfg(cx->err, where, "%s.format: '%s' is not text, iban or uuid", where, fmt);
    r->format = fmt ? (pol_format)v : FMT_TEXT;
    r->placeholder = dupstr(ph);
    if (!r->id || (in->role && !r->role) || (ph && !r->placeholder))
        return oom(cx->err);
    if (subtree)
        node->subtree = r;
    else
        node->rule = r;
    return 0;
}

static const char *const item_keys[] = {"path", "class", "group", "party", "scope_up", "scan",
                                        "subject", "format", "placeholder", "tier", "pi",
                                        "pfi", "level", "note", NULL};

static int compile_item(compile_ctx *cx, const json_t *it, const inherited *in,
                        const char *where)
{
    const char *path = NULL, *group = NULL, *party = NULL;
    int64_t scope_up = 1;
    int rc;
    if (!json_is_object(it))
        return cfg(cx->err, where, "%s: expected a mapping", where);
    if ((rc = xb_yaml_only_keys(it, item_keys, where, cx->err)) ||
        (rc = xb_yaml_str(&path, it, "path", where, cx->err)) ||
        (rc = xb_yaml_str_opt(&group, it, "group", where, cx->err)) ||
        (rc = xb_yaml_str_opt(&party, it, "party", where, cx->err)) ||
        (rc = xb_yaml_int_opt(&scope_up, it, "scope_up", where, cx->err)))
        return rc;
    pol_node *node;
    bool subtree;
    if ((rc = walk_steps(&node, &subtree, cx, in->node, path, where)))
        return rc;
    inherited next = *in;
    if (strlen(in->path) + strlen(path) + 2 > sizeof next.path)
        return cfg(cx->err, where, "%s: path too long", where);
    const char *shown = strcmp(path, ".") ? path : "";
    if (snprintf(next.path, sizeof next.path, "%s%s%s", in->path,
                 *in->path && *shown ? "/" : "", shown) >= (int)sizeof next.path)
        return cfg(cx->err, where, "%s: path too long", where);
    size_t plen = strlen(next.path); /* compile_leaf puts the "**" suffix back into ids */
    if (subtree && plen >= 3 && !strcmp(next.path + plen - 3, "/**"))
        next.path[plen - 3] = '\0';
    else if (subtree && !strcmp(next.path, "**"))
        next.path[0] = '\0';
    next.node = node;
    if (party) {
        if (subtree)
            return cfg(cx->err, where, "%s: a party anchor cannot end in '**'", where);
        free(node->anchor_role);
        if (!(node->anchor_role = strdup(party)))
            return oom(cx->err);
        node->anchor_scope_up = (int)scope_up;
        next.role = node->anchor_role;
        next.below_anchor = 0;
        next.scope_up = (int)scope_up;
    } else if (in->role) {
        next.below_anchor = in->below_anchor + count_steps(path);
    }
    if (group) {
        if (subtree || json_object_get(it, "class"))
            return cfg(cx->err, where, "%s: 'group' takes no class and no '**'", where);
        if (in->depth >= MAX_GROUP_DEPTH)
            return cfg(cx->err, where, "%s: groups nest deeper than 8 (a cycle?) at '%s'",
                       where, group);
        const json_t *groups = json_object_get(cx->f->tree, "groups");
        const json_t *g = groups ? json_object_get(groups, group) : NULL;
        if (!g || !json_is_array(g))
            return cfg(cx->err, where, "%s: unknown group '%s'", where, group);
        next.depth = in->depth + 1;
        char gw[200];
        snprintf(gw, sizeof gw, "groups.%s", group);
        return compile_items(cx, g, &next, gw);
    }
    /* A leaf rule: role/scope counted from the anchor, so pass the parent's view. */
    inherited leaf = *in;
    if (party) {
        leaf.role = node->anchor_role;
        leaf.below_anchor = -count_steps(path);
        leaf.scope_up = (int)scope_up;
    }
    return compile_leaf(cx, it, &leaf, node, subtree, next.path, where);
}

static int compile_items(compile_ctx *cx, const json_t *items, const inherited *in,
                         const char *where)
{
    if (!json_is_array(items))
        return cfg(cx->err, where, "%s: expected a list of fields", where);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        char w[240];
        snprintf(w, sizeof w, "%s[%zu]", where, i);
        int rc = compile_item(cx, it, in, w);
        if (rc)
            return rc;
    }
    return 0;
}

static int compile_message(pol_file *f, const json_t *m, const char *where, xb_error *err)
{
    static const char *const keys[] = {"name", "ns", "base", "fields", "note", NULL};
    const char *name = NULL, *base = NULL;
    const json_t *nsv = json_object_get(m, "ns"), *fields = json_object_get(m, "fields");
    int rc;
    if (!json_is_object(m))
        return cfg(err, where, "%s: expected a mapping", where);
    if ((rc = xb_yaml_only_keys(m, keys, where, err)) ||
        (rc = xb_yaml_str(&name, m, "name", where, err)) ||
        (rc = xb_yaml_str_opt(&base, m, "base", where, err)))
        return rc;
    if (!nsv || !fields)
        return cfg(err, where, "%s: 'ns' and 'fields' are required", where);
    /* One entry may serve several namespaces (reda.001.001.04 exists under urn:iso and
     * urn:swift): each gets its own trie, compiled from the same fields. */
    size_t nns = json_is_array(nsv) ? json_array_size(nsv) : 1;
    for (size_t k = 0; k < nns; k++) {
        const json_t *one = json_is_array(nsv) ? json_array_get(nsv, k) : nsv;
        if (!json_is_string(one))
            return cfg(err, where, "%s.ns: expected an alias or URI", where);
        const char *uri = resolve_ns(f, json_string_value(one));
        if (!uri)
            return cfg(err, where, "%s.ns: unknown namespace '%s'", where, json_string_value(one));
        for (size_t i = 0; i < f->nmaps; i++)
            if (f->maps[i].ns == uri)
                return cfg(err, where, "%s: namespace '%s' is described twice", where, uri);
        pol_msgmap *maps = realloc(f->maps, (f->nmaps + 1) * sizeof *maps);
        if (!maps)
            return oom(err);
        f->maps = maps;
        pol_msgmap *map = &maps[f->nmaps++];
        memset(map, 0, sizeof *map);
        map->ns = uri;
        snprintf(map->short_name, sizeof map->short_name, "%s", name);
        if (!(map->root = new_node(uri, "Document")))
            return oom(err);
        compile_ctx cx = {f, map, uri, err};
        inherited in = {.node = map->root};
        if (base && *base) {
            bool sub;
            if ((rc = walk_steps(&in.node, &sub, &cx, map->root, base, where)))
                return rc;
        }
        char fw[200];
        snprintf(fw, sizeof fw, "%s.fields", where);
        if ((rc = compile_items(&cx, fields, &in, fw)))
            return rc;
    }
    return 0;
}

static int load_messages(pol_file *f, xb_error *err)
{
    const json_t *msgs = json_object_get(f->tree, "messages");
    if (!msgs || !json_is_array(msgs) || !json_array_size(msgs))
        return cfg(err, "messages", "catalog has no messages");
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m)
    {
        char where[64];
        snprintf(where, sizeof where, "messages[%zu]", i);
        int rc = compile_message(f, m, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- profiles ---------------------------------------------------------------------------- */

static int load_profile(pol_profile *p, const char *name, const json_t *o, const char *where,
                        xb_error *err)
{
    static const char *const keys[] = {"default", "actions", "note", NULL};
    const char *dflt = "QUARANTINE";
    const json_t *acts = NULL;
    int rc;
    if (!(p->name = strdup(name)))
        return oom(err);
    if ((rc = xb_yaml_only_keys(o, keys, where, err)) ||
        (rc = xb_yaml_str_opt(&dflt, o, "default", where, err)) ||
        (rc = xb_yaml_object_opt(&acts, o, "actions", where, err)) ||
        (rc = pol_action_parse(&p->dflt, dflt, where, err)))
        return rc;
    if (!acts)
        return 0;
    p->by = calloc(json_object_size(acts) + 1, sizeof *p->by);
    if (!p->by)
        return oom(err);
    const char *key;
    json_t *v;
    json_object_foreach(UNCONST(acts), key, v)
    {
        char w[240];
        snprintf(w, sizeof w, "%s.actions.%s", where, key);
        if (!json_is_string(v))
            return cfg(err, w, "%s: expected an action like PASS or PSEUDO:party", w);
        pol_profile_entry *e = &p->by[p->nby++];
        if (!(e->key = strdup(key)))
            return oom(err);
        if ((rc = pol_action_parse(&e->act, json_string_value(v), w, err)))
            return rc;
    }
    return 0;
}

static int load_profiles(pol_file *f, xb_error *err)
{
    const json_t *ps = NULL;
    int rc = xb_yaml_object_opt(&ps, f->tree, "profiles", "", err);
    if (rc)
        return rc;
    if (!ps || !json_object_size(ps))
        return cfg(err, "profiles", "catalog has no profiles");
    f->profiles = calloc(json_object_size(ps), sizeof *f->profiles);
    if (!f->profiles)
        return oom(err);
    const char *name;
    json_t *o;
    json_object_foreach(UNCONST(ps), name, o)
    {
        char where[160];
        snprintf(where, sizeof where, "profiles.%s", name);
        if (!json_is_object(o))
            return cfg(err, where, "%s: expected a mapping", where);
        if ((rc = load_profile(&f->profiles[f->nprofiles++], name, o, where, err)))
            return rc;
    }
    return 0;
}

const pol_action *pol_profile_action(const pol_profile *p, const pol_rule *r)
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

/* ---- secret words ----------------------------------------------------------------------- */

static int load_secret_words(pol_file *f, xb_error *err)
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
        return oom(err);
    for (size_t i = 0; i < (n ? n : ndef); i++) {
        const char *s = n ? json_string_value(json_array_get(w, i))
                          : xb_detect_default_secret_words[i];
        if (!s || !*s)
            return cfg(err, "secret_words", "secret_words: entries must be non-empty text");
        if (!(f->secret_words[i] = strdup(s)))
            return oom(err);
    }
    return 0;
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
        return oom(err);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return cfg(err, where, "%s.%s: expected a list of names", where, key);
        if (!((*out)[(*n)++] = strdup(json_string_value(v))))
            return oom(err);
    }
    return 0;
}

static int load_thresholds(pol_thresholds *t, const json_t *v, const char *where, xb_error *err)
{
    static const char *const keys[] = {"scc_pi_ge", "sa_pi_ge", "scc_spi_ge", "sa_spi_ge",
                                       "window", "year_start_tz", "count_exempt_transfers",
                                       "note", NULL};
    const json_t *o = NULL;
    char w[160];
    snprintf(w, sizeof w, "%s.thresholds", where);
    int rc = xb_yaml_object_opt(&o, v, "thresholds", where, err);
    if (rc)
        return rc;
    if (!o)
        return cfg(err, w, "%s: required (CAC 2024 Provisions Arts. 7-8)", w);
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
        return cfg(err, w, "%s.window: only CALENDAR_YEAR_CURRENT is implemented, not '%s'", w,
                   window);
    if (tz && strcmp(tz, "+08:00"))
        return cfg(err, w, "%s.year_start_tz: only +08:00 is implemented, not '%s'", w, tz);
    if (count_exempt)
        return cfg(err, w, "%s.count_exempt_transfers: only false is implemented", w);
    if (t->scc_pi < 1 || t->sa_pi < t->scc_pi || t->scc_spi < 1 || t->sa_spi < t->scc_spi)
        return cfg(err, w, "%s: thresholds must be positive and SA >= SCC", w);
    return 0;
}

static const pol_profile *find_profile(const pol_file *f, const char *name)
{
    for (size_t i = 0; i < f->nprofiles; i++)
        if (!strcmp(f->profiles[i].name, name))
            return &f->profiles[i];
    return NULL;
}

static int load_scenarios(xb_policy_catalog *c, const json_t *v, const char *where,
                          xb_error *err)
{
    static const char *const keys[] = {"profile", "exempt_basis", "messages", "guideline",
                                       "note", NULL};
    const json_t *sc = NULL;
    int rc = xb_yaml_object_opt(&sc, v, "scenarios", where, err);
    if (rc)
        return rc;
    if (!sc || !json_object_size(sc))
        return cfg(err, where, "%s.scenarios: at least one scenario is required", where);
    c->scenarios = calloc(json_object_size(sc), sizeof *c->scenarios);
    if (!c->scenarios)
        return oom(err);
    const char *id;
    json_t *o;
    json_object_foreach(UNCONST(sc), id, o)
    {
        char w[200];
        snprintf(w, sizeof w, "%s.scenarios.%s", where, id);
        pol_scenario *s = &c->scenarios[c->nscenarios++];
        const char *prof = NULL, *basis = NULL, *guide = NULL;
        if (!(s->id = strdup(id)))
            return oom(err);
        if (!json_is_object(o))
            return cfg(err, w, "%s: expected a mapping", w);
        if ((rc = xb_yaml_only_keys(o, keys, w, err)) ||
            (rc = xb_yaml_str(&prof, o, "profile", w, err)) ||
            (rc = xb_yaml_str_opt(&basis, o, "exempt_basis", w, err)) ||
            (rc = xb_yaml_str_opt(&guide, o, "guideline", w, err)) ||
            (rc = load_strv(&s->messages, &s->nmessages, o, "messages", w, err)))
            return rc;
        if (!(s->profile = find_profile(c->file, prof)))
            return cfg(err, w, "%s.profile: unknown profile '%s'", w, prof);
        if (basis && (xb_policy_basis_parse(&s->exempt_basis, basis) ||
                      s->exempt_basis > XB_BASIS_FTZ_NOT_ON_NEGATIVE_LIST))
            return cfg(err, w, "%s.exempt_basis: '%s' is not an exemption (EXEMPT_ART5_*)", w,
                       basis);
        if (guide && !(s->guideline = strdup(guide)))
            return oom(err);
    }
    return 0;
}

static int load_version(xb_policy_catalog **out, pol_file *f, const json_t *v, const char *where,
                        xb_error *err)
{
    static const char *const keys[] = {"version", "effective_from", "effective_to", "sources",
                                       "supersedes", "thresholds", "scenarios", "important",
                                       "core", "ftz_negative_list", "note", NULL};
    const char *ver = NULL, *from = NULL, *to = NULL;
    int rc;
    if (!json_is_object(v))
        return cfg(err, where, "%s: expected a mapping", where);
    xb_policy_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return oom(err);
    c->file = f;
    f->refs++;
    c->to = INT64_MAX;
    if ((rc = xb_yaml_only_keys(v, keys, where, err)) ||
        (rc = xb_yaml_str(&ver, v, "version", where, err)) ||
        (rc = xb_yaml_str(&from, v, "effective_from", where, err)) ||
        (rc = xb_yaml_str_opt(&to, v, "effective_to", where, err)))
        goto fail;
    if (!(c->version = strdup(ver))) {
        rc = oom(err);
        goto fail;
    }
    if (xb_policy_parse_time(&c->from, from, NULL) ||
        (to && xb_policy_parse_time(&c->to, to, NULL))) {
        rc = cfg(err, where, "%s.effective_from/effective_to: expected ISO 8601 with offset",
                 where);
        goto fail;
    }
    if (c->to <= c->from) {
        rc = cfg(err, where, "%s: effective_to must be after effective_from (%s)", where, ver);
        goto fail;
    }
    if ((rc = load_thresholds(&c->thr, v, where, err)) ||
        (rc = load_scenarios(c, v, where, err)) ||
        (rc = load_strv(&c->important, &c->nimportant, v, "important", where, err)) ||
        (rc = load_strv(&c->core, &c->ncore, v, "core", where, err)) ||
        (rc = load_strv(&c->negative, &c->nnegative, v, "ftz_negative_list", where, err)))
        goto fail;
    *out = c;
    return 0;
fail:
    free_catalog(c);
    return rc;
}

/* ---- reading, verifying, hashing ---------------------------------------------------------- */

static int verify_signature(const xb_buf *data, const char *path, const char *pubkey_path,
                            xb_error *err)
{
    char sig_path[1024];
    xb_buf sig = XB_BUF_INIT;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = 0;
    snprintf(sig_path, sizeof sig_path, "%s.sig", path);
    if (xb_buf_read_file(&sig, sig_path, 4096)) {
        rc = xb_error_set(err, XB_ECRYPTO, sig_path,
                          "catalog %s: signature %s missing or unreadable (signing is required)",
                          path, sig_path);
        goto out;
    }
    FILE *kf = fopen(pubkey_path, "r");
    if (kf) {
        key = PEM_read_PUBKEY(kf, NULL, NULL, NULL);
        fclose(kf);
    }
    if (!key || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
        rc = xb_error_set(err, XB_ECRYPTO, pubkey_path,
                          "catalog public key %s: not a readable PEM Ed25519 public key",
                          pubkey_path);
        goto out;
    }
    if (sig.len != 64 || !(md = EVP_MD_CTX_new()) ||
        EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
                         (const unsigned char *)data->data, data->len) != 1)
        rc = xb_error_set(err, XB_ECRYPTO, sig_path,
                          "catalog %s: Ed25519 signature does not verify; catalog refused",
                          path);
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    xb_buf_free(&sig);
    return rc;
}

static int hash_canonical(pol_file *f, xb_error *err)
{
    char *canon = xb_yaml_canonical(f->tree);
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!canon)
        return oom(err);
    int ok = EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL);
    free(canon);
    if (ok != 1)
        return xb_error_set(err, XB_ECRYPTO, NULL, "SHA-256 failed");
    xb_hex(f->sha256, md, 32);
    return 0;
}

static const char *const top_keys[] = {"catalog_id", "title", "sources", "namespaces",
                                       "classes", "groups", "messages", "profiles",
                                       "secret_words", "versions", "note", NULL};

static int load_file(pol_file **out, const char *path, const xb_policy_catalog_opts *opts,
                     xb_error *err)
{
    xb_buf data = XB_BUF_INIT;
    pol_file *f = NULL;
    const char *id = NULL;
    int rc = xb_buf_read_file(&data, path, MAX_CATALOG_BYTES);
    if (rc) {
        rc = xb_error_set(err, rc == XB_ELIMIT ? XB_ELIMIT : XB_ECONFIG, path,
                          "catalog %s: cannot read (missing, unreadable or over 4 MiB)", path);
        goto out;
    }
    /* Verify the exact bytes we then parse: no window between check and use. */
    if (opts && opts->pubkey_path && (rc = verify_signature(&data, path, opts->pubkey_path, err)))
        goto out;
    if (!(f = calloc(1, sizeof *f))) {
        rc = oom(err);
        goto out;
    }
    f->refs = 1;
    if ((rc = xb_yaml_load_buffer(&f->tree, data.data, data.len, path, err)))
        goto out;
    if (!json_is_object(f->tree)) {
        rc = cfg(err, path, "catalog %s: expected a mapping at the top", path);
        goto out;
    }
    if ((rc = xb_yaml_only_keys(f->tree, top_keys, "", err)) ||
        (rc = xb_yaml_str(&id, f->tree, "catalog_id", "", err)))
        goto out;
    if (!(f->id = strdup(id))) {
        rc = oom(err);
        goto out;
    }
    if ((rc = hash_canonical(f, err)) || (rc = load_classes(f, err)) ||
        (rc = load_messages(f, err)) || (rc = load_profiles(f, err)) ||
        (rc = load_secret_words(f, err)))
        goto out;
out:
    xb_buf_free(&data);
    if (rc) {
        free_file(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* ---- the set ------------------------------------------------------------------------------ */

int xb_policy_catalog_set_new(xb_policy_catalog_set **out, xb_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : oom(err);
}

void xb_policy_catalog_set_free(xb_policy_catalog_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        free_catalog(set->v[i]);
    free(set->v);
    free(set);
}

static bool overlaps(const xb_policy_catalog *a, const xb_policy_catalog *b)
{
    return !strcmp(a->file->id, b->file->id) && a->from < b->to && b->from < a->to;
}

static int by_id_from(const void *x, const void *y)
{
    const xb_policy_catalog *a = *(xb_policy_catalog *const *)x;
    const xb_policy_catalog *b = *(xb_policy_catalog *const *)y;
    int c = strcmp(a->file->id, b->file->id);
    return c ? c : (a->from > b->from) - (a->from < b->from);
}

static int check_overlaps(xb_policy_catalog **fresh, size_t n, const xb_policy_catalog_set *set,
                          const char *path, xb_error *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++)
            if (overlaps(fresh[i], fresh[k]))
                return xb_error_set(err, XB_ECONFIG, path,
                                    "catalog %s: versions %s and %s of %s overlap in time", path,
                                    fresh[i]->version, fresh[k]->version, fresh[i]->file->id);
        for (size_t k = 0; k < set->n; k++)
            if (overlaps(fresh[i], set->v[k]))
                return xb_error_set(err, XB_ECONFIG, path,
                                    "catalog %s: version %s of %s overlaps loaded version %s",
                                    path, fresh[i]->version, fresh[i]->file->id,
                                    set->v[k]->version);
    }
    return 0;
}

int xb_policy_catalog_set_load(xb_policy_catalog_set *set, const char *path,
                               const xb_policy_catalog_opts *opts, xb_error *err)
{
    pol_file *f = NULL;
    int rc = load_file(&f, path, opts, err);
    if (rc)
        return rc;
    const json_t *versions = NULL;
    xb_policy_catalog **fresh = NULL;
    size_t n = 0;
    if ((rc = xb_yaml_array_opt(&versions, f->tree, "versions", "", err)))
        goto fail;
    if (!versions || !json_array_size(versions)) {
        rc = cfg(err, "versions", "catalog %s: no versions", path);
        goto fail;
    }
    if (!(fresh = calloc(json_array_size(versions), sizeof *fresh))) {
        rc = oom(err);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(versions); i++) {
        char where[64];
        snprintf(where, sizeof where, "versions[%zu]", i);
        if ((rc = load_version(&fresh[n], f, json_array_get(versions, i), where, err)))
            goto fail;
        n++;
    }
    if ((rc = check_overlaps(fresh, n, set, path, err)))
        goto fail;
    xb_policy_catalog **v = realloc(set->v, (set->n + n) * sizeof *v);
    if (!v) {
        rc = oom(err);
        goto fail;
    }
    memcpy(v + set->n, fresh, n * sizeof *fresh);
    set->v = v;
    set->n += n;
    qsort(set->v, set->n, sizeof *set->v, by_id_from);
    free(fresh);
    free_file(f); /* the versions hold their own references */
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        free_catalog(fresh[i]);
    free(fresh);
    free_file(f);
    return rc;
}

int xb_policy_catalog_select(const xb_policy_catalog **out, const xb_policy_catalog_set *set,
                             const char *catalog_id, int64_t t, xb_error *err)
{
    *out = NULL;
    const char *only = NULL;
    for (size_t i = 0; i < set->n && !catalog_id; i++) {
        if (only && strcmp(only, set->v[i]->file->id))
            return xb_error_set(err, XB_ECONFIG, NULL,
                                "several catalogs loaded (%s, %s): the destination must name one",
                                only, set->v[i]->file->id);
        only = set->v[i]->file->id;
    }
    const char *id = catalog_id ? catalog_id : only;
    /* Versions of one id are sorted by effective_from and never overlap. */
    for (size_t i = 0; id && i < set->n; i++) {
        const xb_policy_catalog *c = set->v[i];
        if (!strcmp(c->file->id, id) && c->from <= t && t < c->to) {
            *out = c;
            return 0;
        }
    }
    char when[40];
    return xb_error_set(err, XB_ENOTFOUND, NULL, "no version of catalog %s in force at %s",
                        id ? id : "(none loaded)", xb_policy_format_time(when, sizeof when, t));
}

const char *xb_policy_catalog_id(const xb_policy_catalog *c)
{
    return c->file->id;
}

const char *xb_policy_catalog_version(const xb_policy_catalog *c)
{
    return c->version;
}

const char *xb_policy_catalog_sha256(const xb_policy_catalog *c)
{
    return c->file->sha256;
}

int64_t xb_policy_catalog_effective_from(const xb_policy_catalog *c)
{
    return c->from;
}

int64_t xb_policy_catalog_effective_to(const xb_policy_catalog *c)
{
    return c->to;
}

size_t xb_policy_catalog_set_count(const xb_policy_catalog_set *set)
{
    return set->n;
}

const pol_msgmap *pol_catalog_map(const xb_policy_catalog *cat, const char *ns)
{
    for (size_t i = 0; ns && i < cat->file->nmaps; i++)
        if (!strcmp(cat->file->maps[i].ns, ns))
            return &cat->file->maps[i];
    return NULL;
}

const pol_scenario *pol_catalog_scenario(const xb_policy_catalog *cat, const char *id)
{
    for (size_t i = 0; id && i < cat->nscenarios; i++)
        if (!strcmp(cat->scenarios[i].id, id))
            return &cat->scenarios[i];
    return NULL;
}

bool pol_catalog_listed(char *const *list, size_t n, const pol_rule *r)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], r->id) || !strcmp(list[i], r->cls->name))
            return true;
    return false;
}
