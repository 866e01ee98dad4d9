/* classify.c — the single walk of a message against the compiled matcher, and the labels.
 *
 * Owns: walking AppHdr and Document once (each element stepped through the trie by namespace
 * URI and local name), fail-closed coverage (an element with content and no rule is recorded
 * as uncovered), party typing (a party element with Id/OrgId is an organisation; anything else,
 * unknown included, a natural person), labels after party typing, the profile's action per
 * field, detectors on free text (secrets anywhere block), and the field paths of the record.
 * Never: evaluates XPath, changes the tree (decide.c transforms), or decides the legal basis.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/detect.h"
#include "adapter/policy/internal.h"
#include "adapter/policy/walk.h"

/* ---- the walk ------------------------------------------------------------------------------ */

static const char *interned(walk_ctx *w, const xmlNode *n)
{
    if (!n->ns || !n->ns->href)
        return NULL;
    if (n->ns->href == w->last_href)
        return w->last_ns;
    const pol_file *f = w->cat->file;
    const char *found = NULL;
    for (size_t i = 0; i < f->nns; i++)
        if (!strcmp(f->ns_intern[i], (const char *)n->ns->href))
            found = f->ns_intern[i];
    w->last_href = n->ns->href;
    w->last_ns = found;
    return found;
}

static const pol_node *step(walk_ctx *w, const pol_node *state, const xmlNode *c)
{
    if (!state || !state->nkids)
        return NULL;
    const char *ns = interned(w, c);
    if (!ns)
        return NULL;
    /* An exact (namespace, name) child wins (kids are unique by both); else the last "*" child
     * in the namespace. */
    uint32_t h = pol_name_hash((const char *)c->name);
    for (uint32_t j = h & state->slot_mask; state->slot[j]; j = (j + 1) & state->slot_mask) {
        size_t i = state->slot[j] - 1u;
        if (state->kid_hash[i] != h)
            continue;
        const pol_node *k = state->kids[i];
        if (k->ns == ns && !strcmp(k->local, (const char *)c->name))
            return k;
    }
    const pol_node *any = NULL;
    for (size_t i = 0; state->nany && i < state->nkids; i++) {
        const pol_node *k = state->kids[i];
        if (k->ns == ns && k->local[0] == '*' && !k->local[1])
            any = k;
    }
    return any;
}

static bool has_content(const xmlNode *n)
{
    if (n->properties)
        return true;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            continue;
        for (const xmlChar *s = c->content; s && *s; s++)
            if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
                return true;
    }
    return false;
}

static const xmlNode *ancestor(const xmlNode *n, int up)
{
    while (n && up-- > 0)
        n = n->parent;
    return n;
}

static int party_index(walk_ctx *w, const char *role, const xmlNode *scope)
{
    for (size_t i = 0; i < w->nparties; i++)
        if (w->parties[i].scope == scope &&
            (w->parties[i].role == role || !strcmp(w->parties[i].role, role)))
            return (int)i;
    if (w->nparties == w->capparties) {
        size_t cap = w->capparties ? w->capparties * 2 : 8;
        party *p = realloc(w->parties, cap * sizeof *p);
        if (!p) {
            w->rc = XB_ENOMEM;
            return -1;
        }
        w->parties = p;
        w->capparties = cap;
    }
    w->parties[w->nparties] = (party){role, scope, false};
    return (int)w->nparties++;
}

static void add_hit(walk_ctx *w, xmlNodePtr node, xmlNodePtr root, const pol_rule *rule)
{
    if (w->nhits == w->caphits) {
        size_t cap = w->caphits ? w->caphits * 2 : 128; /* a pacs.008 has 60-100 fields */
        hit *h = realloc(w->hits, cap * sizeof *h);
        if (!h) {
            w->rc = XB_ENOMEM;
            return;
        }
        w->hits = h;
        w->caphits = cap;
    }
    hit *h = &w->hits[w->nhits++];
    memset(h, 0, sizeof *h);
    h->node = node;
    h->root = root;
    h->anchor = w->anchor;
    h->rule = rule;
    h->party =
        rule && rule->role ? party_index(w, rule->role, ancestor(root, rule->up_to_scope)) : -1;
}

void pol_walk(walk_ctx *w, xmlNodePtr parent, const pol_node *state, const pol_rule *sub,
              xmlNodePtr subroot)
{
    for (xmlNodePtr c = parent->children; c && !w->rc; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const pol_node *st = step(w, state, c);
        const pol_rule *nsub = sub;
        xmlNodePtr nroot = subroot;
        if (st && st->subtree) {
            nsub = st->subtree;
            nroot = c;
        }
        if (st && st->anchor_role) {
            int p = party_index(w, st->anchor_role, ancestor(c, st->anchor_scope_up));
            /* A party with Id/OrgId is an organisation; anything else (incl. unknown) a person. */
            if (p >= 0 && xb_xml_find(c, "Id/OrgId"))
                w->parties[p].org = true;
        }
        if (has_content(c)) {
            if (st && st->rule)
                add_hit(w, c, c, st->rule);
            else
                add_hit(w, c, nroot, nsub); /* nsub NULL: uncovered, fail closed */
            if (!w->uetr[0] && c->name[0] == 'U' && !strcmp((const char *)c->name, "UETR")) {
                const char *t = xb_xml_text(c);
                snprintf(w->uetr, sizeof w->uetr, "%s", t ? t : "");
            }
        }
        pol_walk(w, c, st, nsub, nroot);
    }
}

/* ---- labels and actions -------------------------------------------------------------------- */

const char *pol_text_of(const xmlNode *n)
{
    const char *t = xb_xml_text(n);
    return t ? t : "";
}

/* Keeps the first reason of the most severe verdict: that is the one a reviewer acts on. */
void pol_set_reason(xb_policy_decision *d, xb_verdict v, const char *fmt, ...)
{
    if (v < d->verdict || (v == d->verdict && d->reason[0]))
        return;
    d->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static bool any_person(const walk_ctx *w)
{
    for (size_t i = 0; i < w->nparties; i++)
        if (!w->parties[i].org)
            return true;
    return false;
}

static void label(walk_ctx *w, hit *h, const xb_policy_catalog *cat, bool persons)
{
    const pol_rule *r = h->rule;
    h->tier = r->tier;
    if (pol_catalog_listed(cat->important, cat->nimportant, r) && h->tier < XB_TIER_IMPORTANT)
        h->tier = XB_TIER_IMPORTANT;
    if (pol_catalog_listed(cat->core, cat->ncore, r))
        h->tier = XB_TIER_CORE;
    h->pi = r->pi;
    if (h->party >= 0 && w->parties[h->party].org) {
        h->org = true;
        h->pi = XB_PI_NONE;
    }
    /* Transaction data is PI only together with a person it belongs to (classification.md
     * §3.7 "PI (with party)"); free text stays "PI, assumed". */
    if (h->party < 0 && !r->scan && h->pi == XB_PI_PI && !persons)
        h->pi = XB_PI_NONE;
}

static int scan_text(hit *h, const pol_file *f, bool redact)
{
    const char *t = pol_text_of(h->node);
    xb_detect_hits hits = {0};
    unsigned mask = redact ? XB_DET_ALL : XB_DET_SECRET;
    int rc = xb_detect_scan_prepared(&hits, t, strlen(t), mask, f->secret_ix);
    if (rc)
        return rc;
    bool secret = false;
    size_t used = 0;
    for (size_t i = 0; i < hits.n; i++) {
        if (hits.v[i].kind == XB_DET_SECRET)
            secret = true;
        else if (used < sizeof h->detail && h->kind < XB_ACT_GENERALIZE)
            used += (size_t)snprintf(h->detail + used, sizeof h->detail - used, "%s%s",
                                     used ? "," : "redacted ", xb_detect_name(hits.v[i].kind));
    }
    if (secret) {
        h->kind = XB_ACT_BLOCK;
        snprintf(h->detail, sizeof h->detail, "secret (authentication data, C3)");
    } else if (hits.n && redact && h->kind < XB_ACT_GENERALIZE) {
        xb_buf b = XB_BUF_INIT;
        rc = xb_detect_redact(&b, t, strlen(t), &hits);
        if (!rc) {
            h->redacted = xb_buf_steal(&b);
            if (!h->redacted)
                rc = XB_ENOMEM;
            if (h->kind < XB_ACT_MASK)
                h->kind = XB_ACT_MASK;
        }
        xb_buf_free(&b);
    }
    xb_detect_hits_free(&hits);
    return rc;
}

/* ---- the decision --------------------------------------------------------------------------- */

/* Same shape as xb_msg_node_path ("/Document/.../Ustrd[2]"), built with memcpy from the walk's
 * anchor: this runs for every field of every message. Names come from the parser's dictionary,
 * so equal names are equal pointers. */
static bool same_name(const xmlNode *a, const xmlNode *b)
{
    if (a->name != b->name &&
        (a->doc && a->doc->dict ? true : strcmp((const char *)a->name, (const char *)b->name)))
        return false;
    const xmlChar *x = a->ns ? a->ns->href : NULL, *y = b->ns ? b->ns->href : NULL;
    return x == y || (x && y && !strcmp((const char *)x, (const char *)y));
}

static const xmlNode *element_sibling(const xmlNode *n, bool forward)
{
    for (n = forward ? n->next : n->prev; n && n->type != XML_ELEMENT_NODE;
         n = forward ? n->next : n->prev)
        ;
    return n;
}

/* 1-based position among same-named siblings, 0 when the name does not repeat. ISO 20022
 * schemas are sequences, so repetitions of an element are adjacent: looking at the neighbours
 * is enough, and keeps this O(repetitions) instead of O(siblings) per step. */
static int sibling_index(const xmlNode *n)
{
    int before = 0;
    for (const xmlNode *p = element_sibling(n, false); p && same_name(p, n);
         p = element_sibling(p, false))
        before++;
    if (before)
        return before + 1;
    const xmlNode *next = element_sibling(n, true);
    return next && same_name(next, n) ? 1 : 0;
}

/* The previous field's path, step by step: fields come in document order, so consecutive
 * paths share most of their steps, and those (with their sibling indexes) are copied instead of
 * worked out again. */
typedef struct path_cache {
    const xmlNode *steps[96]; /* from the anchor down */
    size_t end[96];           /* bytes of the path up to and including each step */
    int n;                    /* 0: nothing to reuse (none yet, or that path was cut short) */
    const char *buf;
} path_cache;

static void node_path(char *buf, size_t cap, const xmlNode *node, const xmlNode *anchor,
                      path_cache *pc)
{
    const xmlNode *up[96];
    int n = 0;
    for (const xmlNode *p = node; p && n < 96; p = p->parent) {
        up[n++] = p;
        if (p == anchor)
            break;
    }
    int m = 0;
    size_t used = 0;
    while (m < n && m < pc->n && pc->steps[m] == up[n - 1 - m])
        m++;
    if (m) {
        used = pc->end[m - 1];
        memcpy(buf, pc->buf, used);
    }
    bool whole = true;
    for (int k = m; k < n; k++) {
        const xmlNode *st = up[n - 1 - k];
        size_t l = strlen((const char *)st->name);
        if (used + 1 >= cap || used + l + 2 >= cap) {
            whole = false;
            break;
        }
        buf[used++] = '/';
        memcpy(buf + used, st->name, l);
        used += l;
        int idx = k == 0 ? 0 : sibling_index(st);
        if (idx && used + 8 < cap)
            used += (size_t)snprintf(buf + used, cap - used, "[%d]", idx);
        else if (idx)
            whole = false;
        pc->steps[k] = st;
        pc->end[k] = used;
    }
    buf[used] = '\0';
    pc->n = whole ? n : 0;
    pc->buf = buf;
}

int pol_record_fields(xb_policy_decision *d, const walk_ctx *w)
{
    /* malloc, not calloc: every member below is written, and zeroing ~400 bytes per field
     * (30 KB for a pacs.008) was the largest single cost of recording them. */
    d->fields = malloc((w->nhits + 1) * sizeof *d->fields);
    if (!d->fields)
        return XB_ENOMEM;
    memset(&d->fields[w->nhits], 0, sizeof *d->fields);
    path_cache pc = {.n = 0};
    for (size_t i = 0; i < w->nhits; i++) {
        const hit *h = &w->hits[i];
        xb_policy_field *f = &d->fields[d->n_fields++];
        node_path(f->path, sizeof f->path, h->node, h->anchor, &pc);
        f->rule_id = h->rule ? h->rule->id : NULL;
        f->cls = h->rule ? h->rule->cls->name : NULL;
        f->tier = h->tier;
        f->pi = h->pi;
        f->pfi = h->rule ? (h->org ? 0 : h->rule->pfi) : 0;
        f->level = h->rule ? h->rule->level : 0;
        f->organisation = h->org;
        f->action = h->kind;
        memcpy(f->detail, h->detail, sizeof f->detail); /* same size, NUL-terminated */
    }
    return 0;
}

void pol_free_walk(walk_ctx *w)
{
    for (size_t i = 0; i < w->nhits; i++)
        free(w->hits[i].redacted);
    free(w->hits);
    free(w->parties);
}

/* snprintf(dst, cap, "%s", src) without the format machinery: this runs for most fields (and
 * for a dozen fixed fields of every decision). A NULL src gives glibc's "(null)", as before. */
void pol_copy_text(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "(null)";
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Classifies every hit: labels, profile action, detectors; returns the verdict so far. */
int pol_classify(xb_policy_decision *d, walk_ctx *w, const xb_policy_catalog *cat,
                 const pol_scenario *sc)
{
    bool persons = any_person(w);
    for (size_t i = 0; i < w->nhits; i++) {
        hit *h = &w->hits[i];
        if (!h->rule) {
            h->kind = XB_ACT_QUARANTINE;
            snprintf(h->detail, sizeof h->detail, "no rule covers this element");
            char path[256];
            pol_set_reason(d, XB_VERDICT_QUARANTINE, "no rule covers %s",
                           xb_msg_node_path(h->node, path, sizeof path));
        } else {
            label(w, h, cat, persons);
            h->act = pol_profile_action(sc->profile, h->rule);
            h->kind = h->act->kind;
            if (!h->act->bare)
                pol_copy_text(h->detail, sizeof h->detail, h->act->text);
        }
        /* A secret anywhere blocks; detectors redact only where the catalog says "scan". */
        int rc = scan_text(h, cat->file, h->rule && h->rule->scan);
        if (rc)
            return rc;
        if (h->tier > d->tier)
            d->tier = h->tier;
        if (h->rule && h->rule->level > d->level)
            d->level = h->rule->level;
        if (pol_exported(h) && h->pi > d->pi)
            d->pi = h->pi;
        if (h->kind == XB_ACT_BLOCK)
            pol_set_reason(d, XB_VERDICT_BLOCK, "%s at %s", h->detail[0] ? h->detail : "BLOCK",
                           h->rule ? h->rule->id : "(uncovered)");
        else if (h->kind == XB_ACT_QUARANTINE && h->rule)
            pol_set_reason(d, XB_VERDICT_QUARANTINE, "profile %s quarantines %s", sc->profile->name,
                           h->rule->id);
        if (h->tier == XB_TIER_CORE)
            pol_set_reason(d, XB_VERDICT_BLOCK, "core data (%s) never leaves", h->rule->id);
    }
    return 0;
}
