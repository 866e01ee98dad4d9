/* decide.c — one message, one destination, one transfer time: labels, actions, verdict.
 *
 * Owns: the single walk of the tree against the compiled matcher (every element with content is
 * either covered by a rule or quarantines the message), party typing (Id/OrgId = organisation,
 * anything else a natural person), detectors on free text, most-restrictive-wins, the legal basis
 * and the CAC 2024 thresholds over the counter snapshot, then the in-place transformation,
 * re-validation against the XSD and serialisation.
 * Never: evaluates XPath, writes counters (it returns deltas), reads files, or lets a message
 * out when anything is not understood (fail closed).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/detect.h"
#include "adapter/policy/internal.h"
#include "iso20022/registry.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

typedef struct party {
    const char *role;
    const xmlNode *scope;
    bool org;
} party;

typedef struct hit {
    xmlNodePtr node; /* element with content */
    xmlNodePtr root; /* where the covering rule matched (a "**" rule's subtree root) */
    const pol_rule *rule;
    int party; /* index into parties, or -1 */
    xb_tier tier;
    xb_pi pi;
    bool org;
    const pol_action *act;
    xb_action_kind kind;
    char *redacted; /* free text with detector hits replaced */
    char detail[96];
} hit;

typedef struct walk_ctx {
    const xb_policy_catalog *cat;
    hit *hits;
    size_t nhits, caphits;
    party *parties;
    size_t nparties, capparties;
    const xmlChar *last_href; /* namespace lookups are cached: a document has one or two */
    const char *last_ns;
    char uetr[37];
    int rc;
} walk_ctx;

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
    const pol_node *any = NULL;
    for (size_t i = 0; i < state->nkids; i++) {
        const pol_node *k = state->kids[i];
        if (k->ns != ns)
            continue;
        if (!strcmp(k->local, (const char *)c->name))
            return k;
        if (k->local[0] == '*' && !k->local[1])
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
        if (w->parties[i].scope == scope && !strcmp(w->parties[i].role, role))
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
        size_t cap = w->caphits ? w->caphits * 2 : 64;
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
    h->rule = rule;
    h->party = rule && rule->role ? party_index(w, rule->role, ancestor(root, rule->up_to_scope))
                                  : -1;
}

static void walk(walk_ctx *w, xmlNodePtr parent, const pol_node *state, const pol_rule *sub,
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
            if (!w->uetr[0] && !strcmp((const char *)c->name, "UETR")) {
                const char *t = xb_xml_text(c);
                snprintf(w->uetr, sizeof w->uetr, "%s", t ? t : "");
            }
        }
        walk(w, c, st, nsub, nroot);
    }
}

/* ---- labels and actions -------------------------------------------------------------------- */

static const char *text_of(const xmlNode *n)
{
    const char *t = xb_xml_text(n);
    return t ? t : "";
}

static void set_reason(xb_policy_decision *d, xb_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first reason of the most severe verdict: that is the one a reviewer acts on. */
static void set_reason(xb_policy_decision *d, xb_verdict v, const char *fmt, ...)
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
    const char *t = text_of(h->node);
    xb_detect_hits hits = {0};
    unsigned mask = redact ? XB_DET_ALL : XB_DET_SECRET;
    int rc = xb_detect_scan(&hits, t, strlen(t), mask, (const char *const *)f->secret_words);
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

/* ---- counters and legal basis ------------------------------------------------------------ */

static bool exported(const hit *h)
{
    return h->kind < XB_ACT_DROP;
}

typedef struct subject_parts {
    const char *acct, *name, *birth;
    bool pi, spi;
} subject_parts;

static int add_subject(xb_policy_decision *d, xb_pi cls, const uint8_t *dg,
                       const xb_policy_counters *ctr, xb_error *err)
{
    for (size_t i = 0; i < d->n_subjects; i++)
        if (d->subjects[i].cls == cls && !memcmp(d->subjects[i].digest, dg, XB_POLICY_DIGEST_LEN))
            return 0; /* the same person twice in one message */
    bool seen = false;
    if (ctr && ctr->seen) {
        int rc = ctr->seen(ctr->ctx, ctr->year, cls, dg, &seen, err);
        if (rc)
            return rc;
    }
    if (seen)
        return 0;
    xb_policy_subject *v = realloc(d->subjects, (d->n_subjects + 1) * sizeof *v);
    if (!v)
        return XB_ENOMEM;
    d->subjects = v;
    v[d->n_subjects].cls = cls;
    memcpy(v[d->n_subjects].digest, dg, XB_POLICY_DIGEST_LEN);
    d->n_subjects++;
    return 0;
}

/* New subjects of this message: one per natural person whose PI / SPI leaves. */
static int collect_subjects(xb_policy_decision *d, const walk_ctx *w,
                            const xb_policy_counters *ctr, const xb_policy_keys *keys,
                            xb_error *err)
{
    for (size_t p = 0; p < w->nparties; p++) {
        if (w->parties[p].org)
            continue;
        subject_parts s = {0};
        xb_buf all = XB_BUF_INIT;
        for (size_t i = 0; i < w->nhits; i++) {
            const hit *h = &w->hits[i];
            if (h->party != (int)p || !exported(h) || h->pi == XB_PI_NONE)
                continue;
            s.pi |= h->pi == XB_PI_PI;
            s.spi |= h->pi == XB_PI_SPI;
            const char *t = text_of(h->node);
            if (h->rule->subject == SUBJ_ACCOUNT && !s.acct)
                s.acct = t;
            else if (h->rule->subject == SUBJ_NAME && !s.name)
                s.name = t;
            else if (h->rule->subject == SUBJ_BIRTH && !s.birth)
                s.birth = t;
            if (xb_buf_puts(&all, t) || xb_buf_puts(&all, "|")) {
                xb_buf_free(&all);
                return XB_ENOMEM;
            }
        }
        if (!s.pi && !s.spi) {
            xb_buf_free(&all);
            continue;
        }
        /* Identity: the account, else name + birth date, else everything that leaves. */
        uint8_t dg[XB_POLICY_DIGEST_LEN];
        xb_buf id = XB_BUF_INIT;
        const char *kind = s.acct ? "acct" : s.name ? "name" : "party";
        int rc = s.acct   ? xb_buf_puts(&id, s.acct)
                 : s.name ? xb_buf_printf(&id, "%s|%s", s.name, s.birth ? s.birth : "")
                          : xb_buf_append(&id, all.data, all.len);
        if (!rc)
            rc = pol_subject_digest(dg, keys, kind, id.data ? id.data : "", id.len);
        xb_buf_free(&id);
        xb_buf_free(&all);
        if (rc == XB_ENOTFOUND)
            return xb_error_set(err, XB_ENOTFOUND, NULL, "no counter key: cannot count subjects");
        if (!rc && s.pi)
            rc = add_subject(d, XB_PI_PI, dg, ctr, err);
        if (!rc && s.spi)
            rc = add_subject(d, XB_PI_SPI, dg, ctr, err);
        if (rc)
            return rc;
    }
    return 0;
}

static void warn(xb_policy_decision *d, const char *what, int64_t n, int64_t thr, int permille)
{
    /* n * 1000 >= thr * permille, in integers: no float near a legal threshold. */
    if (n < thr && n * 1000 >= thr * (int64_t)permille && d->n_warnings < 4)
        snprintf(d->warnings[d->n_warnings++], sizeof d->warnings[0],
                 "%s count %lld is at %lld%% of the %lld threshold", what, (long long)n,
                 (long long)(n * 100 / thr), (long long)thr);
}

/* Art. 6: FTZ processors may export what is not on the zone's negative list. */
static bool negative_list_hit(const walk_ctx *w, const xb_policy_catalog *cat)
{
    for (size_t i = 0; i < w->nhits; i++)
        if (w->hits[i].rule && exported(&w->hits[i]) &&
            pol_catalog_listed(cat->negative, cat->nnegative, w->hits[i].rule))
            return true;
    return false;
}

static bool use_basis(xb_policy_decision *d, const xb_policy_destination *dest, xb_basis b,
                      int64_t t)
{
    const pol_basis *pb = pol_destination_basis(dest, b, t);
    if (!pb)
        return false;
    d->basis = b;
    snprintf(d->basis_ref, sizeof d->basis_ref, "%s", pb->ref ? pb->ref : "");
    return true;
}

static int resolve_basis(xb_policy_decision *d, const walk_ctx *w, const xb_policy_catalog *cat,
                         const pol_scenario *sc, const xb_policy_destination *dest,
                         const xb_policy_counters *ctr, const xb_policy_keys *keys,
                         const xb_policy_opts *opts, xb_error *err)
{
    int64_t t = d->transfer_time;
    if (d->pi == XB_PI_NONE) {
        d->basis = XB_BASIS_NOT_PI;
        return 0;
    }
    /* Arts. 3-6 exemptions are not counted towards the Art. 7/8 volumes. */
    if (sc->exempt_basis && use_basis(d, dest, sc->exempt_basis, t))
        return 0;
    if (!negative_list_hit(w, cat) && use_basis(d, dest, XB_BASIS_FTZ_NOT_ON_NEGATIVE_LIST, t))
        return 0;
    int rc = collect_subjects(d, w, ctr, keys, err);
    if (rc)
        return rc;
    d->pi_before = ctr ? ctr->pi : 0;
    d->spi_before = ctr ? ctr->spi : 0;
    d->pi_after = d->pi_before;
    d->spi_after = d->spi_before;
    for (size_t i = 0; i < d->n_subjects; i++)
        (*(d->subjects[i].cls == XB_PI_PI ? &d->pi_after : &d->spi_after))++;
    d->counted = true;
    const pol_thresholds *th = &cat->thr;
    int pm = opts && opts->warn_permille > 0 ? opts->warn_permille : 800;
    warn(d, "PI", d->pi_after, th->scc_pi, pm);
    warn(d, "PI", d->pi_after, th->sa_pi, pm);
    warn(d, "SPI", d->spi_after, th->scc_spi, pm);
    warn(d, "SPI", d->spi_after, th->sa_spi, pm);
    /* CAC 2024 Provisions Arts. 7-8: 以上 means ">=". */
    if (d->spi_after >= th->sa_spi || d->pi_after >= th->sa_pi) {
        if (use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
            return 0;
        set_reason(d, XB_VERDICT_QUARANTINE,
                   "security assessment required (PI %lld >= %lld or SPI %lld >= %lld) and "
                   "destination has no approved assessment in force",
                   (long long)d->pi_after, (long long)th->sa_pi, (long long)d->spi_after,
                   (long long)th->sa_spi);
        return 0;
    }
    if (d->spi_after >= th->scc_spi || d->pi_after >= th->scc_pi) {
        if (use_basis(d, dest, XB_BASIS_SCC_FILED, t) ||
            use_basis(d, dest, XB_BASIS_PIP_CERTIFIED, t) ||
            use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
            return 0;
        set_reason(d, XB_VERDICT_QUARANTINE,
                   "standard contract or certification required (PI %lld >= %lld or SPI %lld >= "
                   "%lld) and destination has none in force",
                   (long long)d->pi_after, (long long)th->scc_pi, (long long)d->spi_after,
                   (long long)th->scc_spi);
        return 0;
    }
    if (use_basis(d, dest, XB_BASIS_EXEMPT_ART5_4_DEMINIMIS, t) ||
        use_basis(d, dest, XB_BASIS_SCC_FILED, t) ||
        use_basis(d, dest, XB_BASIS_PIP_CERTIFIED, t) ||
        use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
        return 0;
    set_reason(d, XB_VERDICT_QUARANTINE, "destination %s has no legal basis in force for PI",
               d->destination);
    return 0;
}

/* ---- transformation -------------------------------------------------------------------- */

static void set_text(xmlNodePtr n, const char *v)
{
    /* xmlNodeAddContent takes raw text (no entity parsing), so "&" in a value stays "&". */
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, (const xmlChar *)v);
}

static bool marked_above(xmlNodePtr n, xmlNodePtr *gone, size_t ngone)
{
    for (xmlNodePtr p = n->parent; p; p = p->parent)
        for (size_t i = 0; i < ngone; i++)
            if (gone[i] == p)
                return true;
    return false;
}

static int transform(xb_policy_decision *d, walk_ctx *w, const xb_policy_keys *keys)
{
    xmlNodePtr *gone = calloc(w->nhits + 1, sizeof *gone);
    size_t ngone = 0;
    int rc = 0;
    if (!gone)
        return XB_ENOMEM;
    for (size_t i = 0; i < w->nhits && !rc; i++) {
        hit *h = &w->hits[i];
        xb_buf out = XB_BUF_INIT;
        bool remove = false;
        const char *value = h->redacted ? h->redacted : text_of(h->node);
        switch (h->kind) {
        case XB_ACT_PASS:
            break;
        case XB_ACT_DROP:
            if (h->rule->placeholder && !h->rule->subtree) {
                set_text(h->node, h->rule->placeholder);
                snprintf(h->detail, sizeof h->detail, "placeholder %s", h->rule->placeholder);
            } else {
                gone[ngone++] = h->root;
            }
            break;
        case XB_ACT_MASK:
            if (h->act->kind != XB_ACT_MASK) { /* detector redaction under a PASS profile */
                set_text(h->node, value);
                break;
            }
            /* fall through */
        default:
            rc = pol_action_apply(&out, &remove, h->act, h->rule, h->node, value, keys);
            if (rc == XB_EINVAL) {
                set_reason(d, XB_VERDICT_QUARANTINE, "%s cannot be applied to %s",
                           h->act->text, h->rule->id);
                rc = 0;
            } else if (!rc && remove) {
                gone[ngone++] = h->node;
            } else if (!rc) {
                set_text(h->node, out.data ? out.data : "");
            }

            break;
        }
        xb_buf_free(&out);
    }
    for (size_t i = 0; i < ngone && !rc; i++) {
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup |= gone[k] == gone[i];
        if (dup || marked_above(gone[i], gone, ngone))
            continue;
        xmlUnlinkNode(gone[i]);
        xmlFreeNode(gone[i]);
    }
    free(gone);
    return rc;
}

/* ---- the decision --------------------------------------------------------------------------- */

static int record_fields(xb_policy_decision *d, const walk_ctx *w)
{
    d->fields = calloc(w->nhits + 1, sizeof *d->fields);
    if (!d->fields)
        return XB_ENOMEM;
    for (size_t i = 0; i < w->nhits; i++) {
        const hit *h = &w->hits[i];
        xb_policy_field *f = &d->fields[d->n_fields++];
        xb_msg_node_path(h->node, f->path, sizeof f->path);
        f->rule_id = h->rule ? h->rule->id : NULL;
        f->cls = h->rule ? h->rule->cls->name : NULL;
        f->tier = h->tier;
        f->pi = h->pi;
        f->pfi = h->rule ? (h->org ? 0 : h->rule->pfi) : 0;
        f->level = h->rule ? h->rule->level : 0;
        f->organisation = h->org;
        f->action = h->kind;
        snprintf(f->detail, sizeof f->detail, "%s", h->detail);
    }
    return 0;
}

static void ids(xb_policy_decision *d, const xb_msg *msg, const walk_ctx *w)
{
    const xmlNode *body = xb_msg_body(msg);
    const xmlNode *n = xb_xml_find(body, "GrpHdr/MsgId");
    if (!n)
        n = xb_xml_find(body, "MsgId/Id");
    if (!n && xb_msg_apphdr(msg))
        n = xb_xml_find(xb_msg_apphdr(msg), "BizMsgIdr");
    snprintf(d->msg_id, sizeof d->msg_id, "%s", n ? text_of(n) : "");
    snprintf(d->uetr, sizeof d->uetr, "%s", w->uetr);
}

static void free_walk(walk_ctx *w)
{
    for (size_t i = 0; i < w->nhits; i++)
        free(w->hits[i].redacted);
    free(w->hits);
    free(w->parties);
}

/* Classifies every hit: labels, profile action, detectors; returns the verdict so far. */
static int classify(xb_policy_decision *d, walk_ctx *w, const xb_policy_catalog *cat,
                    const pol_scenario *sc)
{
    bool persons = any_person(w);
    for (size_t i = 0; i < w->nhits; i++) {
        hit *h = &w->hits[i];
        if (!h->rule) {
            h->kind = XB_ACT_QUARANTINE;
            snprintf(h->detail, sizeof h->detail, "no rule covers this element");
            char path[256];
            set_reason(d, XB_VERDICT_QUARANTINE, "no rule covers %s",
                       xb_msg_node_path(h->node, path, sizeof path));
        } else {
            label(w, h, cat, persons);
            h->act = pol_profile_action(sc->profile, h->rule);
            h->kind = h->act->kind;
            if (strcmp(h->act->text, xb_policy_action_name(h->kind)))
                snprintf(h->detail, sizeof h->detail, "%s", h->act->text);
        }
        /* A secret anywhere blocks; detectors redact only where the catalog says "scan". */
        int rc = scan_text(h, cat->file, h->rule && h->rule->scan);
        if (rc)
            return rc;
        if (h->tier > d->tier)
            d->tier = h->tier;
        if (h->rule && h->rule->level > d->level)
            d->level = h->rule->level;
        if (exported(h) && h->pi > d->pi)
            d->pi = h->pi;
        if (h->kind == XB_ACT_BLOCK)
            set_reason(d, XB_VERDICT_BLOCK, "%s at %s", h->detail[0] ? h->detail : "BLOCK",
                       h->rule ? h->rule->id : "(uncovered)");
        else if (h->kind == XB_ACT_QUARANTINE && h->rule)
            set_reason(d, XB_VERDICT_QUARANTINE, "profile %s quarantines %s",
                       sc->profile->name, h->rule->id);
        if (h->tier == XB_TIER_CORE)
            set_reason(d, XB_VERDICT_BLOCK, "core data (%s) never leaves", h->rule->id);
    }
    return 0;
}

static int setup(xb_policy_decision *d, xb_msg *msg, const xb_policy_destination *dest,
                 int64_t t, xb_error *err)
{
    memset(d, 0, sizeof *d);
    d->transfer_time = t;
    d->year = xb_policy_year_cn(t);
    d->level = 1;
    snprintf(d->destination, sizeof d->destination, "%s", xb_policy_destination_name(dest));
    snprintf(d->scenario, sizeof d->scenario, "%s", xb_policy_destination_scenario(dest));
    const xb_definition *def = xb_msg_definition(msg);
    snprintf(d->definition, sizeof d->definition, "%s", def ? def->id : "");
    uint8_t h[32];
    int rc = xb_write_canonical_sha256(h, msg, err);
    if (!rc)
        xb_hex(d->msg_sha256, h, 32);
    return rc;
}

static bool scenario_allows(const pol_scenario *sc, const xb_msg *msg)
{
    char shortname[16];
    if (!sc->messages)
        return true;
    xb_registry_short_name(xb_msg_definition(msg), shortname, sizeof shortname);
    for (size_t i = 0; i < sc->nmessages; i++)
        if (!strcmp(sc->messages[i], shortname))
            return true;
    return false;
}

static int finish(xb_policy_decision *d, walk_ctx *w, xb_msg *msg, const xb_policy_keys *keys,
                  const xb_policy_opts *opts)
{
    int rc = transform(d, w, keys);
    if (rc == XB_ENOTFOUND) {
        set_reason(d, XB_VERDICT_QUARANTINE,
                   "no pseudonymisation key for destination %s (see its pseudo: key_id/epoch)",
                   d->destination);
        return 0;
    }
    if (rc || d->verdict != XB_VERDICT_DELIVER)
        return rc;
    xb_error verr;
    xb_error_clear(&verr);
    if (!(opts && opts->skip_revalidate) && xb_schema_validate_msg(msg, &verr)) {
        set_reason(d, XB_VERDICT_QUARANTINE, "transformed message fails its XSD at %s: %s",
                   verr.path, verr.message);
        return 0;
    }
    return xb_write_message(&d->output, msg, NULL);
}

int xb_policy_decide(xb_policy_decision *d, xb_msg *msg, const xb_policy_catalog_set *set,
                     const xb_policy_destination *dest, int64_t t,
                     const xb_policy_counters *ctr, const xb_policy_keys *keys,
                     const xb_policy_opts *opts, xb_error *err)
{
    int rc = setup(d, msg, dest, t, err);
    if (rc)
        return rc;
    if (ctr && ctr->year != d->year)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "counter snapshot is for %d but the transfer falls in %d (Asia/Shanghai)",
                            ctr->year, d->year);
    const xb_policy_catalog *cat = NULL;
    xb_error cerr;
    if (xb_policy_catalog_select(&cat, set, pol_destination_catalog(dest), t, &cerr)) {
        set_reason(d, XB_VERDICT_QUARANTINE, "%s", cerr.message);
        return 0;
    }
    snprintf(d->catalog_id, sizeof d->catalog_id, "%s", xb_policy_catalog_id(cat));
    snprintf(d->catalog_version, sizeof d->catalog_version, "%s", cat->version);
    snprintf(d->catalog_sha256, sizeof d->catalog_sha256, "%s", cat->file->sha256);
    const pol_scenario *sc = pol_catalog_scenario(cat, d->scenario);
    const pol_msgmap *map = pol_catalog_map(cat, xb_msg_definition(msg)->ns);
    const pol_msgmap *hmap = NULL;
    if (xb_msg_apphdr(msg))
        hmap = pol_catalog_map(cat, xb_msg_hdr_definition(msg)->ns);
    if (!sc || !map || (xb_msg_apphdr(msg) && !hmap) || !scenario_allows(sc, msg)) {
        set_reason(d, XB_VERDICT_QUARANTINE, "%s",
                   !sc    ? "scenario of the destination is not in the catalog version in force"
                   : !map ? "message definition is not in the catalog"
                   : (xb_msg_apphdr(msg) && !hmap) ? "AppHdr definition is not in the catalog"
                                                   : "scenario does not cover this message");
        return 0;
    }
    walk_ctx w = {.cat = cat};
    if (hmap)
        walk(&w, xb_msg_apphdr(msg), hmap->root, NULL, NULL);
    walk(&w, xb_msg_document(msg), map->root, NULL, NULL);
    ids(d, msg, &w);
    rc = w.rc;
    if (!rc)
        rc = classify(d, &w, cat, sc);
    if (!rc && d->tier == XB_TIER_IMPORTANT &&
        !use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
        set_reason(d, XB_VERDICT_BLOCK,
                   "important data needs an approved security assessment for %s",
                   d->destination);
    if (!rc && d->verdict == XB_VERDICT_DELIVER && d->basis == XB_BASIS_NONE)
        rc = resolve_basis(d, &w, cat, sc, dest, ctr, keys, opts, err);
    /* Paths first: the transformation frees dropped elements. */
    if (!rc)
        rc = record_fields(d, &w);
    if (!rc && d->verdict == XB_VERDICT_DELIVER)
        rc = finish(d, &w, msg, keys, opts);
    for (size_t i = 0; !rc && i < d->n_fields; i++)
        snprintf(d->fields[i].detail, sizeof d->fields[i].detail, "%s", w.hits[i].detail);
    if (!rc && d->verdict != XB_VERDICT_DELIVER) {
        /* Nothing leaves, so nothing is counted. */
        free(d->subjects);
        d->subjects = NULL;
        d->n_subjects = 0;
        d->counted = false;
        d->pi_after = d->pi_before;
        d->spi_after = d->spi_before;
        xb_buf_free(&d->output);
    }
    free_walk(&w);
    if (rc && !err)
        return rc;
    if (rc && err && err->code == XB_OK)
        xb_error_set(err, rc, NULL, "policy decision failed (%s)", xb_error_name(rc));
    return rc;
}

void xb_policy_decision_free(xb_policy_decision *d)
{
    if (!d)
        return;
    free(d->fields);
    free(d->subjects);
    xb_buf_free(&d->output);
    memset(d, 0, sizeof *d);
}
