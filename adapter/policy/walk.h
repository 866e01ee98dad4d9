/* walk.h — per-message state shared by classify.c (the walk, labels) and decide.c (basis,
 * counters, transformation). Never included outside adapter/policy.
 *
 * Owns: the hit list (one entry per element with content), the party instances found on the
 * way, and the helpers both halves use.
 * Never: outlives one xb_policy_decide call.
 */
#ifndef XB_POLICY_WALK_H
#define XB_POLICY_WALK_H

#include "adapter/policy/internal.h"

typedef struct party {
    const char *role;
    const xmlNode *scope;
    bool org;
} party;

typedef struct hit {
    xmlNodePtr node;       /* element with content */
    xmlNodePtr root;       /* where the covering rule matched (a "**" rule's subtree root) */
    const xmlNode *anchor; /* the Document or AppHdr the walk started from (paths start there) */
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
    const xmlNode *anchor;    /* Document or AppHdr being walked */
    const xmlChar *last_href; /* namespace lookups are cached: a document has one or two */
    const char *last_ns;
    char uetr[37];
    int rc;
} walk_ctx;

void pol_walk(walk_ctx *w, xmlNodePtr parent, const pol_node *state, const pol_rule *sub,
              xmlNodePtr subroot);
void pol_free_walk(walk_ctx *w);
/* Labels, actions and detectors for every hit; sets the verdict and reasons so far. */
int pol_classify(xb_policy_decision *d, walk_ctx *w, const xb_policy_catalog *cat,
                 const pol_scenario *sc);
/* Copies hits into d->fields (paths computed now: the transformation frees dropped nodes). */
int pol_record_fields(xb_policy_decision *d, const walk_ctx *w);
const char *pol_text_of(const xmlNode *n);
/* Keeps the first reason of the most severe verdict: that is the one a reviewer acts on. */
void pol_set_reason(xb_policy_decision *d, xb_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A field leaves (in some form) unless dropped, quarantined or blocked. */
static inline bool pol_exported(const hit *h)
{
    return h->kind < XB_ACT_DROP;
}

#endif
