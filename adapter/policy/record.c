/* record.c — the decision record (JSON) and the human-readable table of a decision.
 *
 * Owns: the record's shape (classification.md §3.5): message hash, definition, ids, destination,
 * transfer time, catalog id@version + SHA-256, scenario, basis + filing reference, every rule
 * fired with its paths and action, counter changes, warnings, verdict; and its canonical bytes
 * (sorted keys, compact: what jansson's JSON_SORT_KEYS|JSON_COMPACT prints), written directly.
 * Never: puts field VALUES, keys or subject digests in the record: a regulator's log must not
 * become a second copy of the personal information it governs.
 *
 * Record format 2 (issue #8): fields are grouped by their labels. Format 1 had one object of
 * nine keys per field ("fields": [{path, rule, class, tier, pi, jrt0171, jrt0197, action}...]):
 * a 16 KB record of ~720 jansson nodes per message, and building, sorting, dumping and freeing
 * that tree cost more CPU than deciding the message (bench_pipeline: ~525 µs of record per
 * ~335 µs of decision). Format 2 wrote one group per distinct (labels, action, detail):
 *   "field_groups": [{"action","class","detail"?,"fields":[[path, rule], ...],"jrt0171",
 *                     "jrt0197","organisation"?,"pi","tier"}, ...]
 * which still spent ~12 of a record's ~14 KB on repeating rule ids and the paths' root steps per
 * field (the audit file, the audit topic and the hash chain all carry every byte). Format 3
 * (2026-11-28) writes the same facts as
 *   "n_fields": N,
 *   "field_groups": [{"action","class","detail"?,"jrt0171","jrt0197","organisation"?,"pi",
 *                     "rules":[[rule, base, rest, rest, ...], ...],"tier"}, ...]
 * groups in order of first appearance; in a group one entry per rule, in order of first
 * appearance, naming its fields in message order; a field's path is base followed by its rest
 * (base: what the entry's paths share, up to and including a '/'). Format 4 (2026-11-28) names
 * a path through its rule where the rule spells it out: an entry [rule] is one field whose path
 * is its message's root followed by the rule's pattern ("pacs.008:GrpHdr/MsgId" ->
 * /Document/FIToFICstmrCdtTrf/GrpHdr/MsgId), an entry [rule, null, rest, ...] names fields under
 * a subtree rule (pattern "P/" then two stars), each path being root + "P/" + rest, and the
 * roots are written once:
 *   "path_roots": {"head.001": "/AppHdr/", "pacs.008": "/Document/FIToFICstmrCdtTrf/"}
 * An entry the short forms do not fit exactly (a repeated element's [2], a pattern with a '*'
 * inside) stays [rule, base, rest, ...]; a short form is only written after checking that it
 * gives back every path byte for byte. On the fixture payment (pacs.008-remit-individual.xml,
 * sg-group-ops) the record went from 9,567 to 6,362 bytes (the audit file, the audit topic and
 * the chain hash carry every byte).
 * xb_policy_record_fields reads all four formats (replay, tests). The bytes are produced without
 * a tree; xb_policy_decision_to_json parses them, so the two can never disagree.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/policy.h"
#include "iso20022/error.h"

/* ---- canonical JSON text ------------------------------------------------------------------- */

typedef struct jw {
    xb_buf *b;
    int rc;
} jw;

/* Most appends are a few bytes: copy in place when there is room, grow through xb_buf if not. */
static inline void raw(jw *w, const char *s, size_t n)
{
    xb_buf *b = w->b;
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else if (w->rc == 0) {
        w->rc = xb_buf_append(b, s, n);
    }
}

#define RAW(w, lit) raw((w), (lit), sizeof(lit) - 1)

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes are not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))
            return 0; /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

/* True when none of the 8 bytes at p needs a look of its own: all are 0x20-0x7F and none is '"'
 * or '\\'. Paths and rule ids are almost all such bytes, and a record holds ~10 KB of them
 * (issue #8 profile: the byte-at-a-time scan was most of writing the field groups). The tests are
 * exact (no false "plain"): a set high bit, a byte below 0x20 (a borrow into a clear high bit),
 * or a zero byte after XOR with the quote or the backslash. */
static inline bool plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t control = (v - ones * 0x20) & ~v & high;
    uint64_t quote = (q - ones) & ~q & high, backslash = (b - ones) & ~b & high;
    return ((v & high) | control | quote | backslash) == 0;
}

/* A JSON string with jansson's escapes (\" \\ \b \f \n \r \t, \u00XX for other controls, UTF-8
 * as is). Invalid UTF-8 is written as U+FFFD: jansson refuses such a string outright, and a
 * record must not lose a key because a catalog or a message carried a bad byte. */
static void str_n(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    RAW(w, "\"");
    while (p < end) {
        if (end - p >= 8 && plain8(p)) {
            p += 8;
            continue;
        }
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            p++;
            continue;
        }
        size_t ulen = *p >= 0x80 ? utf8_len(p) : 1;
        if (*p >= 0x80 && ulen > 0 && p + ulen <= end) {
            p += ulen;
            continue;
        }
        raw(w, (const char *)run, (size_t)(p - run));
        char esc[8] = {'\\', 0};
        switch (*p) {
        case '"':
        case '\\':
            esc[1] = (char)*p;
            raw(w, esc, 2);
            break;
        case '\b':
            RAW(w, "\\b");
            break;
        case '\f':
            RAW(w, "\\f");
            break;
        case '\n':
            RAW(w, "\\n");
            break;
        case '\r':
            RAW(w, "\\r");
            break;
        case '\t':
            RAW(w, "\\t");
            break;
        default:
            if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                raw(w, esc, 6);
            } else {
                RAW(w, "\xEF\xBF\xBD"); /* U+FFFD for a byte that starts no valid sequence */
            }
        }
        p++;
        run = p;
    }
    raw(w, (const char *)run, (size_t)(p - run));
    RAW(w, "\"");
}

static void str(jw *w, const char *s)
{
    str_n(w, s, strlen(s));
}

static void str_or_null(jw *w, const char *s, bool present)
{
    if (present && s)
        str(w, s);
    else
        RAW(w, "null");
}

static void num(jw *w, long long v)
{
    char t[24], *p = t + sizeof t;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    raw(w, p, (size_t)(t + sizeof t - p));
}

/* ---- grouping fields by labels ------------------------------------------------------------ */

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Two fields go in one group when their labels, action and detail are the same: a message has
 * tens of fields but a handful of such combinations (the rule is kept per field). */
static bool same_group(const xb_policy_field *a, const xb_policy_field *b)
{
    return a->tier == b->tier && a->pi == b->pi && a->pfi == b->pfi && a->level == b->level &&
           a->organisation == b->organisation && a->action == b->action &&
           same_text(a->cls, b->cls) && !strcmp(a->detail, b->detail);
}

/* Length of the prefix two paths share, at most n. */
static size_t shared_prefix(const char *a, const char *b, size_t n)
{
    size_t k = 0;
    while (k < n && a[k] && a[k] == b[k])
        k++;
    return k;
}

/* Scratch for writing the groups: per field its group; per group its first field; for the group
 * being written its fields (in message order), each one's rule entry, and each entry's first. */
typedef struct path_roots path_roots;
typedef struct groups_scratch {
    size_t *grp, *first, *idx, *ent, *efirst;
    path_roots *roots;
} groups_scratch;

/* ---- format 4: paths named through their rule ---------------------------------------------- */

/* Messages in one record: the AppHdr and the Document, in practice. */
#define XB_RECORD_MAX_ROOTS 8

/* Per message prefix of the rule ids ("pacs.008"), the path its patterns are relative to. The
 * strings point into the decision's rule ids and paths. */
typedef struct root_entry {
    const char *msg, *root;
    size_t msg_len, root_len;
} root_entry;

struct path_roots {
    root_entry v[XB_RECORD_MAX_ROOTS];
    size_t n;
    bool used; /* an entry was written in a short form: the record needs "path_roots" */
};

/* Longest MSG of a rule whose paths are written short (readers copy MSG to look its root up). */
#define XB_RECORD_MSG_MAX 63

/* rule = "MSG:PATTERN": *pattern and the length of MSG, or false for a rule of another shape. */
static bool rule_split(const char *rule, const char **pattern, size_t *msg_len)
{
    const char *colon = rule ? strchr(rule, ':') : NULL;
    if (!colon || colon == rule || !colon[1] || colon - rule > XB_RECORD_MSG_MAX)
        return false;
    *pattern = colon + 1;
    *msg_len = (size_t)(colon - rule);
    return true;
}

/* The slot of the message named by rule's first msg_len bytes, or pr->n when it has none. */
static size_t root_slot(const path_roots *pr, const char *rule, size_t msg_len)
{
    size_t k = 0;
    while (k < pr->n && (pr->v[k].msg_len != msg_len || memcmp(pr->v[k].msg, rule, msg_len)))
        k++;
    return k;
}

/* A rule whose pattern has no wildcard and names its field's path exactly tells what that path
 * is relative to: the path less the pattern. Per message the shortest such root is kept (a
 * shorter root is a longer pattern matched: the message's own root, not a scope inside it). */
static void find_roots(path_roots *pr, const xb_policy_decision *d)
{
    memset(pr, 0, sizeof *pr);
    for (size_t i = 0; i < d->n_fields; i++) {
        const char *pat, *path = d->fields[i].path, *rule = d->fields[i].rule_id;
        size_t msg_len;
        if (!rule_split(rule, &pat, &msg_len) || strpbrk(pat, "*["))
            continue;
        size_t plen = strlen(pat), len = strlen(path);
        if (len <= plen || path[len - plen - 1] != '/' || memcmp(path + len - plen, pat, plen))
            continue;
        size_t k = root_slot(pr, rule, msg_len), root_len = len - plen;
        if (k == pr->n && pr->n == XB_RECORD_MAX_ROOTS)
            continue;
        if (k < pr->n && pr->v[k].root_len <= root_len)
            continue;
        pr->n += k == pr->n;
        pr->v[k] =
            (root_entry){.msg = rule, .msg_len = msg_len, .root = path, .root_len = root_len};
    }
}

/* The root for rule's message, or NULL; *pattern is the rule's pattern. */
static const char *root_of(const path_roots *pr, const char *rule, const char **pattern,
                           size_t *root_len)
{
    size_t msg_len, k;
    if (!rule_split(rule, pattern, &msg_len) || (k = root_slot(pr, rule, msg_len)) == pr->n)
        return NULL;
    *root_len = pr->v[k].root_len;
    return pr->v[k].root;
}

/* Length of what a subtree pattern ("P/" or nothing, then two stars) fixes, or -1 for a pattern
 * of another shape. */
static long glob_prefix_len(const char *pat)
{
    size_t n = strlen(pat);
    if (n < 2 || strcmp(pat + n - 2, "**") || (n > 2 && pat[n - 3] != '/'))
        return -1;
    return memchr(pat, '*', n - 2) ? -1 : (long)(n - 2);
}

/* path is root followed by the first n bytes of pat, and then by nothing (rest NULL) or by a
 * non-empty *rest. */
static bool path_through(const char *path, const char *root, size_t root_len, const char *pat,
                         size_t n, const char **rest)
{
    if (strncmp(path, root, root_len) || strncmp(path + root_len, pat, n))
        return false;
    if (!rest)
        return path[root_len + n] == '\0';
    *rest = path + root_len + n;
    return **rest != '\0';
}

/* Entry e in a format 4 short form, when one gives back every one of its paths exactly. */
static bool short_entry_json(jw *w, const xb_policy_decision *d, const groups_scratch *gs, size_t m,
                             size_t e)
{
    const xb_policy_field *f0 = &d->fields[gs->idx[gs->efirst[e]]];
    const char *pat, *rest;
    size_t root_len = 0, n_fields = 0;
    const char *root = root_of(gs->roots, f0->rule_id, &pat, &root_len);
    if (!root)
        return false;
    for (size_t j = gs->efirst[e]; j < m; j++)
        n_fields += gs->ent[j] == e;
    if (n_fields == 1 && path_through(f0->path, root, root_len, pat, strlen(pat), NULL)) {
        RAW(w, "[");
        str(w, f0->rule_id);
        RAW(w, "]");
        gs->roots->used = true;
        return true;
    }
    long fixed = glob_prefix_len(pat);
    if (fixed < 0)
        return false;
    for (size_t j = gs->efirst[e]; j < m; j++)
        if (gs->ent[j] == e &&
            !path_through(d->fields[gs->idx[j]].path, root, root_len, pat, (size_t)fixed, &rest))
            return false;
    RAW(w, "[");
    str(w, f0->rule_id);
    RAW(w, ",null");
    for (size_t j = gs->efirst[e]; j < m; j++)
        if (gs->ent[j] == e) {
            RAW(w, ",");
            str(w, d->fields[gs->idx[j]].path + root_len + (size_t)fixed);
        }
    RAW(w, "]");
    gs->roots->used = true;
    return true;
}

/* "path_roots" with its keys in strcmp order, as jansson's JSON_SORT_KEYS writes an object. */
static void roots_json(jw *w, path_roots *pr)
{
    for (size_t i = 1; i < pr->n; i++) /* a handful: insertion sort */
        for (size_t k = i; k > 0; k--) {
            size_t a = pr->v[k - 1].msg_len, b = pr->v[k].msg_len;
            int c = memcmp(pr->v[k - 1].msg, pr->v[k].msg, a < b ? a : b);
            if (c < 0 || (c == 0 && a <= b))
                break;
            root_entry t = pr->v[k];
            pr->v[k] = pr->v[k - 1];
            pr->v[k - 1] = t;
        }
    RAW(w, "{");
    for (size_t k = 0; k < pr->n; k++) {
        if (k)
            RAW(w, ",");
        str_n(w, pr->v[k].msg, pr->v[k].msg_len);
        RAW(w, ":");
        str_n(w, pr->v[k].root, pr->v[k].root_len);
    }
    RAW(w, "}");
}

/* One rule entry: [rule, base, rest, rest, ...], each field's path being base followed by its
 * rest. base is the part all the entry's paths share, cut back to just after a '/' (a path's
 * parent steps when the rule covers one field), so the record names every field without writing
 * "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/" again per field (record format 3, issue #8). */
static void rule_entry_json(jw *w, const xb_policy_decision *d, const groups_scratch *gs, size_t m,
                            size_t e)
{
    if (short_entry_json(w, d, gs, m, e))
        return;
    const xb_policy_field *f0 = &d->fields[gs->idx[gs->efirst[e]]];
    size_t common = strlen(f0->path);
    for (size_t j = gs->efirst[e] + 1; j < m; j++)
        if (gs->ent[j] == e)
            common = shared_prefix(f0->path, d->fields[gs->idx[j]].path, common);
    size_t base = common;
    while (base > 0 && f0->path[base - 1] != '/')
        base--;
    RAW(w, "[");
    str_or_null(w, f0->rule_id, true);
    RAW(w, ",");
    str_n(w, f0->path, base);
    for (size_t j = gs->efirst[e]; j < m; j++)
        if (gs->ent[j] == e) {
            RAW(w, ",");
            str(w, d->fields[gs->idx[j]].path + base);
        }
    RAW(w, "]");
}

/* Group g's fields in message order (idx), each one's entry (ent: the same rule text, in order of
 * first appearance; a group has a handful) and each entry's first field (efirst). Returns the
 * number of entries; *m_out the number of fields. */
static size_t group_entries(groups_scratch *gs, const xb_policy_decision *d, size_t g,
                            size_t *m_out)
{
    size_t m = 0, n_ent = 0;
    for (size_t i = gs->first[g]; i < d->n_fields; i++)
        if (gs->grp[i] == g)
            gs->idx[m++] = i;
    for (size_t j = 0; j < m; j++) {
        const char *rule = d->fields[gs->idx[j]].rule_id;
        size_t e = 0;
        while (e < n_ent && !same_text(d->fields[gs->idx[gs->efirst[e]]].rule_id, rule))
            e++;
        if (e == n_ent)
            gs->efirst[n_ent++] = j;
        gs->ent[j] = e;
    }
    *m_out = m;
    return n_ent;
}

static void group_json(jw *w, const xb_policy_decision *d, groups_scratch *gs, size_t g)
{
    const xb_policy_field *f = &d->fields[gs->first[g]];
    char pfi[8] = "-";
    if (f->pfi >= 1 && f->pfi <= 9) {
        pfi[0] = 'C';
        pfi[1] = (char)('0' + f->pfi);
        pfi[2] = '\0';
    }
    RAW(w, "{\"action\":");
    str(w, xb_policy_action_name(f->action));
    RAW(w, ",\"class\":");
    str_or_null(w, f->cls, true);
    if (f->detail[0]) {
        RAW(w, ",\"detail\":");
        str(w, f->detail);
    }
    RAW(w, ",\"jrt0171\":");
    str(w, pfi);
    RAW(w, ",\"jrt0197\":");
    num(w, f->level);
    if (f->organisation)
        RAW(w, ",\"organisation\":true");
    RAW(w, ",\"pi\":");
    str(w, xb_policy_pi_name(f->pi));
    RAW(w, ",\"rules\":[");
    size_t m, n_ent = group_entries(gs, d, g, &m);
    for (size_t e = 0; e < n_ent; e++) {
        if (e)
            RAW(w, ",");
        rule_entry_json(w, d, gs, m, e);
    }
    RAW(w, "],\"tier\":");
    str(w, xb_policy_tier_name(f->tier));
    RAW(w, "}");
}

/* "field_groups" in order of first appearance. A handful of groups, so a linear search is cheaper
 * than hashing. */
static void groups_json(jw *w, const xb_policy_decision *d, path_roots *roots)
{
    enum { STACK_FIELDS = 256 };
    size_t stack[5 * STACK_FIELDS], *all = stack, n = d->n_fields, n_groups = 0;
    if (n > STACK_FIELDS && !(all = malloc(5 * n * sizeof *all))) {
        w->rc = XB_ENOMEM;
        return;
    }
    size_t cap = n > STACK_FIELDS ? n : STACK_FIELDS;
    groups_scratch gs = {.grp = all,
                         .first = all + cap,
                         .idx = all + 2 * cap,
                         .ent = all + 3 * cap,
                         .efirst = all + 4 * cap,
                         .roots = roots};
    for (size_t i = 0; i < n; i++) {
        size_t g = 0;
        while (g < n_groups && !same_group(&d->fields[gs.first[g]], &d->fields[i]))
            g++;
        if (g == n_groups)
            gs.first[n_groups++] = i;
        gs.grp[i] = g;
    }
    RAW(w, "[");
    for (size_t g = 0; g < n_groups; g++) {
        if (g)
            RAW(w, ",");
        group_json(w, d, &gs, g);
    }
    RAW(w, "]");
    if (all != stack)
        free(all);
}

/* ---- the groups of a message shape, remembered -------------------------------------------- */

/* A flow carries a few message shapes: payments from one system name the same fields under the
 * same rules with the same labels, message after message, and their "field_groups" (and
 * "path_roots") come out byte for byte the same. They are a function of the fields alone
 * (path, rule, class, labels, action, detail, in order), so each thread remembers the text of
 * the last few shapes it wrote, keyed by those fields written out in full (the identity: no
 * hash, compared whole), and writes a shape it has seen by copying. Measured (issue #8):
 * grouping and writing the groups was ~8% of xborder's CPU per message. */
#define XB_MEMO_SHAPES 4
#define XB_MEMO_MAX_FIELDS 1024 /* larger decisions are written directly, not kept */

typedef struct memo_shape {
    xb_buf identity, groups, roots;
} memo_shape;

typedef struct groups_memo {
    memo_shape v[XB_MEMO_SHAPES];
    unsigned next;
    xb_buf id; /* the identity of the decision being written */
    unsigned long hits;
} groups_memo;

static __thread groups_memo *tl_memo;
static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_free(void *p)
{
    groups_memo *m = p;
    if (!m)
        return;
    for (unsigned k = 0; k < XB_MEMO_SHAPES; k++) {
        xb_buf_free(&m->v[k].identity);
        xb_buf_free(&m->v[k].groups);
        xb_buf_free(&m->v[k].roots);
    }
    xb_buf_free(&m->id);
    free(m);
}

static void memo_make_key(void)
{
    (void)pthread_key_create(&memo_key, memo_free);
}

static groups_memo *thread_memo(void)
{
    if (!tl_memo && (tl_memo = calloc(1, sizeof *tl_memo)) != NULL) {
        pthread_once(&memo_once, memo_make_key);
        (void)pthread_setspecific(memo_key, tl_memo); /* freed when the thread ends */
    }
    return tl_memo;
}

unsigned long xb_policy_record_memo_hits(void)
{
    return tl_memo ? tl_memo->hits : 0;
}

void xb_policy_record_cleanup(void)
{
    memo_free(tl_memo);
    tl_memo = NULL;
    pthread_once(&memo_once, memo_make_key);
    (void)pthread_setspecific(memo_key, NULL);
}

static void id_str(jw *w, const char *s)
{
    if (s)
        raw(w, s, strlen(s) + 1);
}

/* Everything of d that "field_groups" and "path_roots" are written from, in order, in a form
 * that reads back one way only: per field its labels, which strings it has and the path's length
 * (fixed size), the path, then each string it has up to its NUL. */
static int shape_identity(xb_buf *id, const xb_policy_decision *d)
{
    jw w = {.b = id, .rc = 0};
    xb_buf_reset(id);
    for (size_t i = 0; i < d->n_fields; i++) {
        const xb_policy_field *f = &d->fields[i];
        int fixed[9] = {(int)f->tier,       (int)f->pi,      f->pfi,
                        f->level,           f->organisation, (int)f->action,
                        f->rule_id != NULL, f->cls != NULL,  (int)strnlen(f->path, sizeof f->path)};
        raw(&w, (const char *)fixed, sizeof fixed);
        raw(&w, f->path, (size_t)fixed[8]);
        id_str(&w, f->rule_id);
        id_str(&w, f->cls);
        id_str(&w, f->detail);
    }
    return w.rc;
}

/* The groups and roots text of d's shape: remembered, or written now and remembered. NULL when
 * they cannot be (out of memory, a very large decision): the caller writes them directly. */
static const memo_shape *shape_text(const xb_policy_decision *d)
{
    groups_memo *m = d->n_fields <= XB_MEMO_MAX_FIELDS ? thread_memo() : NULL;
    if (!m || shape_identity(&m->id, d) < 0)
        return NULL;
    for (unsigned k = 0; k < XB_MEMO_SHAPES; k++) {
        const xb_buf *known = &m->v[k].identity;
        if (known->len == m->id.len && known->len && !memcmp(known->data, m->id.data, known->len)) {
            m->hits++;
            return &m->v[k];
        }
    }
    memo_shape *sh = &m->v[m->next++ % XB_MEMO_SHAPES];
    xb_buf swap = sh->identity; /* the identity moves in; the old buffer becomes scratch */
    sh->identity = m->id;
    m->id = swap;
    xb_buf_reset(&sh->groups);
    xb_buf_reset(&sh->roots);
    path_roots roots;
    find_roots(&roots, d);
    jw gw = {.b = &sh->groups, .rc = 0}, rw = {.b = &sh->roots, .rc = 0};
    groups_json(&gw, d, &roots);
    if (roots.used)
        roots_json(&rw, &roots);
    if (gw.rc < 0 || rw.rc < 0) {
        xb_buf_reset(&sh->identity); /* half written: never a hit */
        return NULL;
    }
    return sh;
}

/* ---- the record ----------------------------------------------------------------------------- */

static void catalog_json(jw *w, const xb_policy_decision *d)
{
    char idv[128];
    snprintf(idv, sizeof idv, "%s@%s", d->catalog_id, d->catalog_version);
    RAW(w, "{\"id\":");
    str(w, d->catalog_id);
    RAW(w, ",\"ref\":");
    str(w, idv);
    RAW(w, ",\"sha256\":");
    str(w, d->catalog_sha256);
    RAW(w, ",\"version\":");
    str(w, d->catalog_version);
    RAW(w, "}");
}

static void counters_json(jw *w, const xb_policy_decision *d)
{
    long long npi = 0, nspi = 0;
    for (size_t i = 0; i < d->n_subjects; i++)
        (*(d->subjects[i].cls == XB_PI_PI ? &npi : &nspi))++;
    RAW(w, "{\"counted\":");
    if (d->counted)
        RAW(w, "true");
    else
        RAW(w, "false");
    RAW(w, ",\"new_pi_subjects\":");
    num(w, npi);
    RAW(w, ",\"new_spi_subjects\":");
    num(w, nspi);
    RAW(w, ",\"pi_after\":");
    num(w, (long long)d->pi_after);
    RAW(w, ",\"pi_before\":");
    num(w, (long long)d->pi_before);
    RAW(w, ",\"spi_after\":");
    num(w, (long long)d->spi_after);
    RAW(w, ",\"spi_before\":");
    num(w, (long long)d->spi_before);
    RAW(w, ",\"year\":");
    num(w, d->year);
    RAW(w, "}");
}

int xb_policy_decision_write_json(xb_buf *out, const xb_policy_decision *d)
{
    char when[40];
    const memo_shape *sh = shape_text(d);
    path_roots roots;
    if (!sh)
        find_roots(&roots, d);
    jw w = {.b = out, .rc = xb_buf_reserve(out, 1024 + (sh ? sh->groups.len : d->n_fields * 128))};
    /* keys in strcmp order, as jansson's JSON_SORT_KEYS writes them */
    RAW(&w, "{\"basis\":");
    str(&w, xb_policy_basis_name(d->basis));
    RAW(&w, ",\"catalog\":");
    catalog_json(&w, d);
    RAW(&w, ",\"counters\":");
    counters_json(&w, d);
    RAW(&w, ",\"definition\":");
    str(&w, d->definition);
    RAW(&w, ",\"destination\":");
    str(&w, d->destination);
    RAW(&w, ",\"field_groups\":");
    if (sh)
        raw(&w, sh->groups.data, sh->groups.len);
    else
        groups_json(&w, d, &roots);
    RAW(&w, ",\"filing_ref\":");
    str_or_null(&w, d->basis_ref, d->basis_ref[0] != '\0');
    RAW(&w, ",\"jrt0197\":");
    num(&w, d->level);
    RAW(&w, ",\"message_hash_of\":");
    str(&w, d->msg_hash_of_bytes ? "bytes" : "c14n");
    RAW(&w, ",\"message_sha256\":");
    str(&w, d->msg_sha256);
    RAW(&w, ",\"msg_id\":");
    str(&w, d->msg_id);
    RAW(&w, ",\"n_fields\":");
    num(&w, (long long)d->n_fields);
    if (sh ? sh->roots.len > 0 : roots.used) {
        RAW(&w, ",\"path_roots\":");
        if (sh)
            raw(&w, sh->roots.data, sh->roots.len);
        else
            roots_json(&w, &roots);
    }
    RAW(&w, ",\"pi\":");
    str(&w, xb_policy_pi_name(d->pi));
    RAW(&w, ",\"reason\":");
    str(&w, d->reason);
    RAW(&w, ",\"scenario\":");
    str(&w, d->scenario);
    RAW(&w, ",\"tier\":");
    str(&w, xb_policy_tier_name(d->tier));
    RAW(&w, ",\"transfer_time\":");
    str(&w, xb_policy_format_time(when, sizeof when, d->transfer_time));
    RAW(&w, ",\"uetr\":");
    str_or_null(&w, d->uetr, d->uetr[0] != '\0');
    RAW(&w, ",\"verdict\":");
    str(&w, xb_policy_verdict_name(d->verdict));
    RAW(&w, ",\"warnings\":[");
    for (int i = 0; i < d->n_warnings; i++) {
        if (i)
            RAW(&w, ",");
        str(&w, d->warnings[i]);
    }
    RAW(&w, "]}");
    return w.rc < 0 ? w.rc : 0;
}

json_t *xb_policy_decision_to_json(const xb_policy_decision *d)
{
    xb_buf b = XB_BUF_INIT;
    json_t *o = NULL;
    if (xb_policy_decision_write_json(&b, d) == 0)
        o = json_loadb(b.data, b.len, 0, NULL);
    xb_buf_free(&b);
    return o;
}

json_t *xb_policy_decision_json_text(const xb_policy_decision *d)
{
    xb_buf b = XB_BUF_INIT;
    json_t *s = NULL;
    if (xb_policy_decision_write_json(&b, d) == 0)
        s = json_stringn_nocheck(b.data, b.len);
    xb_buf_free(&b);
    return s;
}

/* ---- reading a record's fields ------------------------------------------------------------- */

/* The base of a format 4 short entry: the root of rule's message followed by its whole pattern
 * (whole) or by what its subtree pattern fixes. False when the record cannot give it. */
static bool short_base(xb_buf *out, const json_t *roots, const char *rule, bool whole)
{
    const char *pat;
    size_t msg_len;
    char msg[XB_RECORD_MSG_MAX + 1];
    if (!rule_split(rule, &pat, &msg_len))
        return false;
    memcpy(msg, rule, msg_len);
    msg[msg_len] = '\0';
    const char *root = json_string_value(json_object_get(roots, msg));
    long fixed = whole ? (long)strlen(pat) : glob_prefix_len(pat);
    if (!root || fixed < 0)
        return false;
    xb_buf_reset(out);
    return xb_buf_puts(out, root) == 0 && xb_buf_append(out, pat, (size_t)fixed) == 0;
}

/* The fields of one format 3/4 entry: [rule], [rule, null, rest...] or [rule, base, rest...]. */
static size_t entry_fields(const json_t *roots, const json_t *entry, const json_t *group,
                           xb_policy_record_field_fn fn, void *ctx, xb_buf *base, xb_buf *path)
{
    const char *rule = json_string_value(json_array_get(entry, 0));
    const json_t *b = json_array_get(entry, 1);
    size_t size = json_array_size(entry);
    if (size == 1) {
        fn(ctx, short_base(path, roots, rule, true) ? path->data : NULL, rule, group);
        return 1;
    }
    bool ok = json_is_string(b) ? (xb_buf_reset(base), xb_buf_puts(base, json_string_value(b)) == 0)
                                : json_is_null(b) && short_base(base, roots, rule, false);
    for (size_t k = 2; k < size; k++) {
        const char *rest = json_string_value(json_array_get(entry, k));
        xb_buf_reset(path);
        bool named = ok && rest && xb_buf_append(path, base->data, base->len) == 0 &&
                     xb_buf_puts(path, rest) == 0;
        fn(ctx, named ? path->data : NULL, rule, group);
    }
    return size - 2;
}

size_t xb_policy_record_fields(const json_t *decision, xb_policy_record_field_fn fn, void *ctx)
{
    size_t n = 0, i, k;
    json_t *g, *f;
    const json_t *groups = json_object_get(decision, "field_groups");
    if (!groups) { /* format 1: one object per field */
        json_array_foreach(json_object_get(decision, "fields"), i, f)
        {
            fn(ctx, json_string_value(json_object_get(f, "path")),
               json_string_value(json_object_get(f, "rule")), f);
            n++;
        }
        return n;
    }
    const json_t *roots = json_object_get(decision, "path_roots");
    xb_buf base = XB_BUF_INIT, path = XB_BUF_INIT;
    json_array_foreach(groups, i, g)
    {
        const json_t *rules = json_object_get(g, "rules");
        if (rules) {
            json_array_foreach(rules, k, f) n += entry_fields(roots, f, g, fn, ctx, &base, &path);
            continue;
        }
        json_array_foreach(json_object_get(g, "fields"), k, f) /* format 2: [path, rule] */
        {
            fn(ctx, json_string_value(json_array_get(f, 0)),
               json_string_value(json_array_get(f, 1)), g);
            n++;
        }
    }
    xb_buf_free(&base);
    xb_buf_free(&path);
    return n;
}

/* ---- a record envelope ---------------------------------------------------------------------- */

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void value_json(jw *w, const json_t *v, bool in_outcome);

static void object_json(jw *w, const json_t *o, bool is_outcome)
{
    size_t n = json_object_size(o), k = 0;
    const char *stack_keys[32], **keys = stack_keys;
    if (n > 32 && !(keys = malloc(n * sizeof *keys))) {
        w->rc = XB_ENOMEM;
        return;
    }
    const char *key;
    json_t *v;
    json_t *obj = (json_t *)(uintptr_t)o; /* jansson iterates through a non-const pointer */
    json_object_foreach(obj, key, v) keys[k++] = key;
    qsort(keys, n, sizeof *keys, cmp_key);
    RAW(w, "{");
    for (k = 0; k < n; k++) {
        if (k)
            RAW(w, ",");
        str(w, keys[k]);
        RAW(w, ":");
        v = json_object_get(o, keys[k]);
        const char *text = json_string_value(v);
        /* a decision or settlement the pipeline put in as text is JSON already */
        if (is_outcome && text && text[0] == '{' &&
            (!strcmp(keys[k], "decision") || !strcmp(keys[k], "settlement")))
            raw(w, text, json_string_length(v));
        else
            value_json(w, v, !strcmp(keys[k], "outcomes"));
    }
    RAW(w, "}");
    if (keys != stack_keys)
        free(keys);
}

static void value_json(jw *w, const json_t *v, bool outcomes)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        object_json(w, v, false);
        break;
    case JSON_ARRAY:
        RAW(w, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                RAW(w, ",");
            const json_t *e = json_array_get(v, i);
            if (outcomes && json_is_object(e))
                object_json(w, e, true);
            else
                value_json(w, e, false);
        }
        RAW(w, "]");
        break;
    case JSON_STRING:
        str_n(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        num(w, (long long)json_integer_value(v));
        break;
    case JSON_TRUE:
        RAW(w, "true");
        break;
    case JSON_FALSE:
        RAW(w, "false");
        break;
    case JSON_NULL:
        RAW(w, "null");
        break;
    case JSON_REAL: { /* no record carries one; jansson's own formatting keeps the bytes equal */
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (t)
            raw(w, t, strlen(t));
        else
            w->rc = XB_ENOMEM;
        free(t);
        break;
    }
    }
}

int xb_policy_json_string(xb_buf *out, const char *s, size_t n)
{
    jw w = {.b = out, .rc = 0};
    str_n(&w, s, n);
    return w.rc;
}

int xb_policy_record_write(xb_buf *out, const json_t *record)
{
    jw w = {.b = out, .rc = 0};
    if (!json_is_object(record))
        return XB_EINVAL;
    object_json(&w, record, false);
    return w.rc < 0 ? w.rc : 0;
}

/* ---- the table ------------------------------------------------------------------------------ */

void xb_policy_decision_print_table(const xb_policy_decision *d, FILE *out)
{
    char when[40];
    fprintf(out, "%-72s %-10s %-4s %-3s %-2s %-10s %s\n", "field", "tier", "pi", "171", "197",
            "action", "detail");
    for (size_t i = 0; i < d->n_fields; i++) {
        const xb_policy_field *f = &d->fields[i];
        char pfi[4] = "-";
        if (f->pfi)
            snprintf(pfi, sizeof pfi, "C%d", f->pfi);
        fprintf(out, "%-72s %-10s %-4s %-3s L%-1d %-10s %s%s\n", f->path,
                xb_policy_tier_name(f->tier), xb_policy_pi_name(f->pi), pfi, f->level,
                xb_policy_action_name(f->action), f->organisation ? "(organisation) " : "",
                f->detail);
    }
    fprintf(out, "\ncatalog %s@%s sha256 %s\n", d->catalog_id, d->catalog_version,
            d->catalog_sha256);
    fprintf(out, "destination %s scenario %s at %s\n", d->destination, d->scenario,
            xb_policy_format_time(when, sizeof when, d->transfer_time));
    fprintf(out, "message %s tier %s pi %s level L%d basis %s%s%s\n", d->definition,
            xb_policy_tier_name(d->tier), xb_policy_pi_name(d->pi), d->level,
            xb_policy_basis_name(d->basis), d->basis_ref[0] ? " ref " : "", d->basis_ref);
    if (d->counted)
        fprintf(out, "counters %d: PI %lld -> %lld, SPI %lld -> %lld\n", d->year,
                (long long)d->pi_before, (long long)d->pi_after, (long long)d->spi_before,
                (long long)d->spi_after);
    for (int i = 0; i < d->n_warnings; i++)
        fprintf(out, "warning: %s\n", d->warnings[i]);
    fprintf(out, "verdict %s%s%s\n", xb_policy_verdict_name(d->verdict), d->reason[0] ? ": " : "",
            d->reason);
}
