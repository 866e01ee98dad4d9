/* internal.h — shapes shared by the policy engine's files (never included outside policy/).
 *
 * Owns: the compiled catalog (classes, rules, the matcher trie, profiles, scenarios,
 * thresholds) and the destination struct.
 * Never: holds per-message state; a compiled catalog is immutable once loaded and may be shared
 * by threads.
 */
#ifndef XB_POLICY_INTERNAL_H
#define XB_POLICY_INTERNAL_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "adapter/policy/policy.h"
#include "iso20022/amount.h"

/* ---- labels and rules -------------------------------------------------------------------- */

typedef struct pol_class {
    char *name;
    xb_tier tier;
    xb_pi pi;
    int pfi, level;
} pol_class;

typedef enum pol_subject { SUBJ_NONE = 0, SUBJ_ACCOUNT, SUBJ_NAME, SUBJ_BIRTH } pol_subject;
typedef enum pol_format { FMT_TEXT = 0, FMT_IBAN, FMT_UUID } pol_format;

typedef struct pol_rule {
    size_t ix;            /* position in pol_file.rules: index of per-profile action tables */
    char *id;             /* "pacs.008:CdtTrfTxInf/Dbtr/Nm" */
    const pol_class *cls; /* labels; the rule's own overrides below */
    xb_tier tier;
    xb_pi pi;
    int pfi, level;
    bool subtree;    /* path ends in "**": this element and everything under it */
    bool scan;       /* free text: detectors run and redact */
    char *role;      /* party role ("DBTR") or NULL */
    int up_to_scope; /* levels from the matched element up to the party's scope element */
    pol_subject subject;
    char *placeholder; /* DROP of an XSD-mandatory element writes this text instead */
    pol_format format; /* pseudonym shape that keeps the XSD pattern */
} pol_rule;

/* Trie of (namespace URI, local name) steps. A state's children (a few dozen at most: an ISO
 * complex type's elements) are found through a small open-addressed table of their name
 * hashes; a scan of them all was the walk's largest cost (CdtTrfTxInf has ~40). */
typedef struct pol_node {
    const char *ns; /* interned URI */
    char *local;    /* "*" matches any local name in ns */
    uint32_t hash;  /* pol_name_hash(local): the walk compares it before the name */
    pol_rule *rule;
    pol_rule *subtree;
    char *anchor_role; /* a party element: probe Id/OrgId, register (role, scope) */
    int anchor_scope_up;
    struct pol_node **kids;
    uint32_t *kid_hash; /* kids[i]->hash, side by side: probes compare these, not the kids */
    size_t nkids, capkids;
    uint16_t *slot;     /* kid index + 1 by hash (0: empty), linear probing; never full */
    uint32_t slot_mask; /* table size - 1 (a power of two, at least twice nkids) */
    size_t nany;        /* kids that are "*" */
} pol_node;

/* FNV-1a of a local name: steps through the trie compare this before strcmp, since a state
 * can have dozens of children, many sharing a prefix (Dbtr, DbtrAcct, DbtrAgt ...). */
static inline uint32_t pol_name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

typedef struct pol_msgmap {
    const char *ns; /* interned Document (or AppHdr) namespace */
    char short_name[16];
    pol_node *root; /* stands for the Document / AppHdr element itself */
} pol_msgmap;

/* ---- actions, profiles, scenarios ---------------------------------------------------------- */

typedef enum pol_gen {
    GEN_NONE = 0,
    GEN_CTRY_ONLY,
    GEN_TOWN_CTRY,
    GEN_DATE_MONTH,
    GEN_AMOUNT
} pol_gen;

#define POL_MAX_EDGES 16

typedef struct pol_action {
    xb_action_kind kind;
    int keep_last;   /* MASK */
    char domain[24]; /* PSEUDO domain separation ("party", "acct", "txid") */
    pol_gen gen;
    xb_dec edges[POL_MAX_EDGES]; /* GENERALIZE amount_bucket, ascending */
    int nedges;
    char text[96]; /* as written in the catalog, for records */
    bool bare;     /* text is just the kind's name ("PASS"): nothing to add to a field's detail */
} pol_action;

typedef struct pol_profile_entry {
    char *key; /* class name or rule id */
    pol_action act;
} pol_profile_entry;

typedef struct pol_profile {
    char *name;
    pol_action dflt;
    pol_profile_entry *by;
    size_t nby;
    const pol_action **by_rule; /* resolved at load: one entry per rule, never NULL */
} pol_profile;

typedef struct pol_scenario {
    char *id;
    const pol_profile *profile;
    xb_basis exempt_basis; /* XB_BASIS_NONE: not exempt, counted, thresholds apply */
    char **messages;       /* short names ("pacs.008"); NULL = any */
    size_t nmessages;
    char *guideline; /* reference to the 2025 financial guideline scenario, for records */
} pol_scenario;

typedef struct pol_thresholds {
    int64_t scc_pi, sa_pi, scc_spi, sa_spi;
} pol_thresholds;

/* The parts every version of one catalog file shares. */
typedef struct pol_file {
    int refs;
    char *id;
    char sha256[65];
    json_t *tree;
    char **ns_intern; /* interned namespace URIs */
    size_t nns;
    pol_class *classes;
    size_t nclasses;
    pol_msgmap *maps;
    size_t nmaps;
    pol_rule **rules; /* every compiled rule, for freeing */
    size_t nrules, caprules;
    pol_profile *profiles;
    size_t nprofiles;
    char **secret_words;               /* NULL-terminated */
    struct xb_detect_words *secret_ix; /* secret_words indexed for scanning */
} pol_file;

struct xb_policy_catalog {
    pol_file *file;
    char *version;
    int64_t from, to;
    pol_thresholds thr;
    pol_scenario *scenarios;
    size_t nscenarios;
    char **important, **core, **negative; /* class names or rule ids */
    size_t nimportant, ncore, nnegative;  /* negative: FTZ negative list (Art. 6) */
};

struct xb_policy_catalog_set {
    xb_policy_catalog **v; /* sorted by (id, from) */
    size_t n;
};

const pol_msgmap *pol_catalog_map(const xb_policy_catalog *cat, const char *ns);
const pol_scenario *pol_catalog_scenario(const xb_policy_catalog *cat, const char *id);
const pol_action *pol_profile_action(const pol_profile *p, const pol_rule *r);
bool pol_catalog_listed(char *const *list, size_t n, const pol_rule *r);

/* ---- destinations ----------------------------------------------------------------------- */

typedef struct pol_basis {
    xb_basis type;
    char *ref;
    int64_t from, to; /* validity, [from, to); to = INT64_MAX when open */
} pol_basis;

struct xb_policy_destination {
    char *name;
    char *country;
    char *scenario;
    char *catalog; /* catalog id, or NULL for the only one loaded */
    pol_basis *bases;
    size_t nbases;
    char *key_file; /* "<key_id>.<epoch>.key" */
};

struct xb_policy_destinations {
    xb_policy_destination *v;
    size_t n;
};

const char *pol_destination_catalog(const xb_policy_destination *d);
const pol_basis *pol_destination_basis(const xb_policy_destination *d, xb_basis type, int64_t t);

/* ---- actions ------------------------------------------------------------------------------ */

/* Parses "PASS", "MASK:4", "PSEUDO:acct", "GENERALIZE:amount_bucket:0,1000", ... */
int pol_action_parse(pol_action *out, const char *text, const char *where, xb_error *err);

/* New text for a value under an action (MASK, PSEUDO, GENERALIZE). *remove set when the
 * element must go (GENERALIZE ctry_only on a town). Returns 0, XB_ENOTFOUND (no pseudonym key),
 * XB_EINVAL (value does not fit, e.g. an amount that is not a number). */
/* snprintf(dst, cap, "%s", src), without the format machinery. */
void pol_copy_text(char *dst, size_t cap, const char *src);

/* Pseudonyms already computed in one decision, by (domain, normalised value): a value that
 * appears twice is hashed once. Lives on the stack of one decision; pol_mac_memo_wipe after. */
#define POL_MEMO_ENTRIES 16
typedef struct pol_mac_memo {
    unsigned n;
    struct {
        const char *domain; /* the action's domain (catalog memory, outlives the decision) */
        size_t len;
        char value[64]; /* longer values are not memoised */
        uint8_t mac[32];
    } e[POL_MEMO_ENTRIES];
} pol_mac_memo;

void pol_mac_memo_wipe(pol_mac_memo *mm);

int pol_action_apply(xb_buf *out, bool *remove, const pol_action *a, const pol_rule *r,
                     const xmlNode *node, const char *value, const xb_policy_keys *keys,
                     pol_mac_memo *memo);

/* Keyed digest for counting: HMAC-SHA-256(counter key, kind || 0 || value), first 16 bytes. */
int pol_subject_digest(uint8_t out[XB_POLICY_DIGEST_LEN], const xb_policy_keys *keys,
                       const char *kind, const char *value, size_t len);

/* ---- catalog plumbing (catalog.c, compile.c, versions.c) ------------------------------------ */

/* jansson's iteration macros take non-const objects; the catalog only reads. */
#define UNCONST(p) ((json_t *)(uintptr_t)(p))

int pol_oom(xb_error *err);
int pol_cfg(xb_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int pol_parse_enum(int *out, const char *text, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (text && !strcasecmp(text, names[i])) {
            *out = i;
            return 0;
        }
    return -1;
}

int pol_load_classes(pol_file *f, xb_error *err);      /* compile.c */
int pol_load_messages(pol_file *f, xb_error *err);     /* compile.c */
int pol_load_profiles(pol_file *f, xb_error *err);     /* versions.c */
int pol_resolve_profiles(pol_file *f, xb_error *err);  /* versions.c */
int pol_load_secret_words(pol_file *f, xb_error *err); /* versions.c */
int pol_load_version(xb_policy_catalog **out, pol_file *f, const json_t *v, const char *where,
                     xb_error *err); /* versions.c */
void pol_free_node(pol_node *n);
void pol_free_file(pol_file *f);
void pol_free_catalog(xb_policy_catalog *c);

#endif
