/* compile.c — field rules compiled into the matcher: one trie per message namespace.
 *
 * Owns: namespace aliases (resolved to interned URIs), classes (labels), groups, and the trie of
 * (namespace URI, local name) steps that decide.c walks once per message. Paths are local names;
 * "alias:Local" switches namespace, "*" matches any name, "**" covers a subtree, "." is "here".
 * Never: matches by prefix (aliases are the catalog's, resolved here; documents' prefixes are
 * never looked at), or accepts two rules for one path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/internal.h"
#include "adapter/yaml_tree.h"

#define MAX_GROUP_DEPTH 8

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
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
    if (!rc && s && pol_parse_enum(&v, s, tier_names, 3) == 0)
        *tier = (xb_tier)v;
    else if (!rc && s)
        return pol_cfg(err, where, "%s.tier: '%s' is not general, important or core", where, s);
    s = NULL;
    if (!rc)
        rc = xb_yaml_str_opt(&s, o, "pi", where, err);
    if (!rc && s && pol_parse_enum(&v, s, pi_names, 3) == 0)
        *pi = (xb_pi)v;
    else if (!rc && s)
        return pol_cfg(err, where, "%s.pi: '%s' is not none, pi or spi", where, s);
    s = NULL;
    if (!rc)
        rc = xb_yaml_str_opt(&s, o, "pfi", where, err);
    if (!rc && s && pol_parse_enum(&v, s, pfi_names, 4) == 0)
        *pfi = v;
    else if (!rc && s)
        return pol_cfg(err, where, "%s.pfi: '%s' is not none, C1, C2 or C3", where, s);
    lv = *level;
    if (!rc)
        rc = xb_yaml_int_opt(&lv, o, "level", where, err);
    if (!rc && (lv < 1 || lv > 5))
        return pol_cfg(err, where, "%s.level: JR/T 0197 levels are 1..5", where);
    *level = (int)lv;
    return rc;
}

int pol_load_classes(pol_file *f, xb_error *err)
{
    const json_t *cl = NULL;
    int rc = xb_yaml_object_opt(&cl, f->tree, "classes", "", err);
    if (rc)
        return rc;
    if (!cl || !json_object_size(cl))
        return pol_cfg(err, "classes", "catalog has no classes");
    f->classes = calloc(json_object_size(cl), sizeof *f->classes);
    if (!f->classes)
        return pol_oom(err);
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
            return pol_oom(err);
        if (!json_is_object(o))
            return pol_cfg(err, where, "%s: expected a mapping", where);
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
    if (n) {
        n->ns = ns;
        n->hash = pol_name_hash(local);
    }
    return n;
}

/* Rebuilds p's table of kids by name hash (on every new kid: tries are built once, at load). */
static int index_kids(pol_node *p)
{
    uint32_t size = 8;
    while (size < 2 * p->nkids)
        size *= 2;
    if (p->nkids >= UINT16_MAX)
        return XB_ELIMIT;
    uint16_t *slot = calloc(size, sizeof *slot);
    if (!slot)
        return XB_ENOMEM;
    for (size_t i = 0; i < p->nkids; i++) {
        uint32_t j = p->kid_hash[i] & (size - 1);
        while (slot[j])
            j = (j + 1) & (size - 1);
        slot[j] = (uint16_t)(i + 1);
    }
    free(p->slot);
    p->slot = slot;
    p->slot_mask = size - 1;
    return 0;
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
        uint32_t *h = realloc(p->kid_hash, cap * sizeof *h);
        if (!h)
            return NULL;
        p->kid_hash = h;
        p->capkids = cap;
    }
    pol_node *n = new_node(ns, local);
    if (n) {
        p->kid_hash[p->nkids] = n->hash;
        p->kids[p->nkids++] = n;
        p->nany += !strcmp(local, "*");
        if (index_kids(p))
            return NULL; /* n is freed with p */
    }
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
    char path[512];   /* catalog path so far (for ids), relative to the message base */
    pol_node *node;   /* trie node the path has reached */
    const char *role; /* party role in force */
    int below_anchor; /* steps since the party anchor */
    int scope_up;
    int depth; /* group nesting */
} inherited;

static int walk_steps(pol_node **out, bool *subtree, compile_ctx *cx, pol_node *from,
                      const char *path, const char *where)
{
    char buf[512];
    *subtree = false;
    if (strlen(path) >= sizeof buf)
        return pol_cfg(cx->err, where, "%s: path too long", where);
    strcpy(buf, path);
    pol_node *n = from;
    char *save = NULL;
    for (char *step = strtok_r(buf, "/", &save); step; step = strtok_r(NULL, "/", &save)) {
        if (!strcmp(step, "."))
            continue; /* "here": lets a group be spliced in at the current element */
        if (!strcmp(step, "**")) {
            if (strtok_r(NULL, "/", &save))
                return pol_cfg(cx->err, where, "%s: '**' must be the last step of '%s'", where,
                               path);
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
                return pol_cfg(cx->err, where, "%s: unknown namespace alias '%s'", where, step);
        }
        if (!*local)
            return pol_cfg(cx->err, where, "%s: empty step in '%s'", where, path);
        if (!(n = child(n, ns, local, true)))
            return pol_oom(cx->err);
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
    r->ix = f->nrules;
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
        return pol_cfg(cx->err, where, "%s: unknown class '%s'", where, cname);
    if ((subtree ? node->subtree : node->rule))
        return pol_cfg(cx->err, where, "%s: a rule for '%s' already exists", where, full);
    pol_rule *r = calloc(1, sizeof *r);
    if (!r || add_rule(cx->f, r)) {
        free(r);
        return pol_oom(cx->err);
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
        r->up_to_scope = in->below_anchor +
                         count_steps(json_string_value(json_object_get(it, "path"))) + in->scope_up;
    }
    static const char *const subjects[] = {"none", "account", "name", "birth"};
    static const char *const formats[] = {"text", "iban", "uuid"};
    int v;
    if (subj && pol_parse_enum(&v, subj, subjects, 4))
        return pol_cfg(cx->err, where, "%s.subject: '%s' is not account, name or birth", where,
                       subj);
    r->subject = subj ? (pol_subject)v : SUBJ_NONE;
    if (fmt && pol_parse_enum(&v, fmt, formats, 3))
        return pol_cfg(cx->err, where, "%s.format: '%s' is not text, iban or uuid", where, fmt);
    r->format = fmt ? (pol_format)v : FMT_TEXT;
    r->placeholder = dupstr(ph);
    if (!r->id || (in->role && !r->role) || (ph && !r->placeholder))
        return pol_oom(cx->err);
    if (subtree)
        node->subtree = r;
    else
        node->rule = r;
    return 0;
}

static const char *const item_keys[] = {"path", "class",   "group",  "party",       "scope_up",
                                        "scan", "subject", "format", "placeholder", "tier",
                                        "pi",   "pfi",     "level",  "note",        NULL};

static int compile_item(compile_ctx *cx, const json_t *it, const inherited *in, const char *where)
{
    const char *path = NULL, *group = NULL, *party = NULL;
    int64_t scope_up = 1;
    int rc;
    if (!json_is_object(it))
        return pol_cfg(cx->err, where, "%s: expected a mapping", where);
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
        return pol_cfg(cx->err, where, "%s: path too long", where);
    const char *shown = strcmp(path, ".") ? path : "";
    if (snprintf(next.path, sizeof next.path, "%s%s%s", in->path, *in->path && *shown ? "/" : "",
                 shown) >= (int)sizeof next.path)
        return pol_cfg(cx->err, where, "%s: path too long", where);
    size_t plen = strlen(next.path); /* compile_leaf puts the "**" suffix back into ids */
    if (subtree && plen >= 3 && !strcmp(next.path + plen - 3, "/**"))
        next.path[plen - 3] = '\0';
    else if (subtree && !strcmp(next.path, "**"))
        next.path[0] = '\0';
    next.node = node;
    if (party) {
        if (subtree)
            return pol_cfg(cx->err, where, "%s: a party anchor cannot end in '**'", where);
        free(node->anchor_role);
        if (!(node->anchor_role = strdup(party)))
            return pol_oom(cx->err);
        node->anchor_scope_up = (int)scope_up;
        next.role = node->anchor_role;
        next.below_anchor = 0;
        next.scope_up = (int)scope_up;
    } else if (in->role) {
        next.below_anchor = in->below_anchor + count_steps(path);
    }
    if (group) {
        if (subtree || json_object_get(it, "class"))
            return pol_cfg(cx->err, where, "%s: 'group' takes no class and no '**'", where);
        if (in->depth >= MAX_GROUP_DEPTH)
            return pol_cfg(cx->err, where, "%s: groups nest deeper than 8 (a cycle?) at '%s'",
                           where, group);
        const json_t *groups = json_object_get(cx->f->tree, "groups");
        const json_t *g = groups ? json_object_get(groups, group) : NULL;
        if (!g || !json_is_array(g))
            return pol_cfg(cx->err, where, "%s: unknown group '%s'", where, group);
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
        return pol_cfg(cx->err, where, "%s: expected a list of fields", where);
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
        return pol_cfg(err, where, "%s: expected a mapping", where);
    if ((rc = xb_yaml_only_keys(m, keys, where, err)) ||
        (rc = xb_yaml_str(&name, m, "name", where, err)) ||
        (rc = xb_yaml_str_opt(&base, m, "base", where, err)))
        return rc;
    if (!nsv || !fields)
        return pol_cfg(err, where, "%s: 'ns' and 'fields' are required", where);
    /* One entry may serve several namespaces (reda.001.001.04 exists under urn:iso and
     * urn:swift): each gets its own trie, compiled from the same fields. */
    size_t nns = json_is_array(nsv) ? json_array_size(nsv) : 1;
    for (size_t k = 0; k < nns; k++) {
        const json_t *one = json_is_array(nsv) ? json_array_get(nsv, k) : nsv;
        if (!json_is_string(one))
            return pol_cfg(err, where, "%s.ns: expected an alias or URI", where);
        const char *uri = resolve_ns(f, json_string_value(one));
        if (!uri)
            return pol_cfg(err, where, "%s.ns: unknown namespace '%s'", where,
                           json_string_value(one));
        for (size_t i = 0; i < f->nmaps; i++)
            if (f->maps[i].ns == uri)
                return pol_cfg(err, where, "%s: namespace '%s' is described twice", where, uri);
        pol_msgmap *maps = realloc(f->maps, (f->nmaps + 1) * sizeof *maps);
        if (!maps)
            return pol_oom(err);
        f->maps = maps;
        pol_msgmap *map = &maps[f->nmaps++];
        memset(map, 0, sizeof *map);
        map->ns = uri;
        snprintf(map->short_name, sizeof map->short_name, "%s", name);
        if (!(map->root = new_node(uri, "Document")))
            return pol_oom(err);
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

int pol_load_messages(pol_file *f, xb_error *err)
{
    const json_t *msgs = json_object_get(f->tree, "messages");
    if (!msgs || !json_is_array(msgs) || !json_array_size(msgs))
        return pol_cfg(err, "messages", "catalog has no messages");
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
