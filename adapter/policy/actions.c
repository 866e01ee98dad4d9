/* actions.c — what an action does to one value: mask, pseudonymise, generalise; and the keyed
 * subject digests the counters are made of.
 *
 * Owns: the action syntax of catalog profiles ("PSEUDO:acct", "GENERALIZE:amount_bucket:0,1000"),
 * HMAC-SHA-256 pseudonyms shaped to keep the XSD pattern of the field (text, IBAN, UUID v4),
 * masking by characters (UTF-8 aware), and the generalisations (country only, town + country,
 * month only, amount buckets with exact decimals).
 * Never: stores or logs a key, uses floating point for an amount, or produces a value longer
 * than the one it replaces would be allowed to be (pseudonyms are 16 base32 characters).
 */
/* Before any OpenSSL header: the SHA256_* calls of the HMAC below (see mac_state). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/internal.h"

/* ---- parsing ------------------------------------------------------------------------------ */

static int bad(xb_error *err, const char *where, const char *text, const char *why)
{
    return xb_error_set(err, XB_ECONFIG, where, "%s: bad action '%s': %s", where, text, why);
}

static int parse_edges(pol_action *a, const char *list, const char *where, const char *text,
                       xb_error *err)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (a->nedges == POL_MAX_EDGES)
            return bad(err, where, text, "at most 16 bucket edges");
        if (xb_dec_parse(&a->edges[a->nedges], p, len, NULL))
            return bad(err, where, text, "bucket edges are decimal numbers");
        if (a->nedges && xb_dec_cmp(&a->edges[a->nedges - 1], &a->edges[a->nedges]) >= 0)
            return bad(err, where, text, "bucket edges must ascend");
        a->nedges++;
        p = comma ? comma + 1 : p + len;
    }
    return a->nedges ? 0 : bad(err, where, text, "amount_bucket needs edges");
}

int pol_action_parse(pol_action *a, const char *text, const char *where, xb_error *err)
{
    static const char *const kinds[] = {"PASS", "MASK",       "PSEUDO", "GENERALIZE",
                                        "DROP", "QUARANTINE", "BLOCK"};
    memset(a, 0, sizeof *a);
    snprintf(a->text, sizeof a->text, "%s", text);
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    const char *arg = colon ? colon + 1 : "";
    int k = -1;
    for (int i = 0; i < 7; i++)
        if (strlen(kinds[i]) == klen && !strncmp(text, kinds[i], klen))
            k = i;
    if (k < 0)
        return bad(err, where, text,
                   "expected PASS, MASK, PSEUDO, GENERALIZE, DROP, QUARANTINE "
                   "or BLOCK");
    a->kind = (xb_action_kind)k;
    a->bare = !strcmp(a->text, xb_policy_action_name(a->kind));
    switch (a->kind) {
    case XB_ACT_MASK:
        a->keep_last = *arg ? atoi(arg) : 4;
        if (a->keep_last < 0 || a->keep_last > 8)
            return bad(err, where, text, "MASK keeps 0..8 trailing characters");
        return 0;
    case XB_ACT_PSEUDO:
        if (!*arg || strlen(arg) >= sizeof a->domain)
            return bad(err, where, text, "PSEUDO needs a short domain (PSEUDO:acct)");
        snprintf(a->domain, sizeof a->domain, "%s", arg);
        return 0;
    case XB_ACT_GENERALIZE:
        if (!strcmp(arg, "ctry_only"))
            a->gen = GEN_CTRY_ONLY;
        else if (!strcmp(arg, "town_ctry"))
            a->gen = GEN_TOWN_CTRY;
        else if (!strcmp(arg, "date_month"))
            a->gen = GEN_DATE_MONTH;
        else if (!strncmp(arg, "amount_bucket:", 14)) {
            a->gen = GEN_AMOUNT;
            return parse_edges(a, arg + 14, where, text, err);
        } else
            return bad(err, where, text,
                       "GENERALIZE takes ctry_only, town_ctry, date_month or amount_bucket:EDGES");
        return 0;
    default:
        return *arg ? bad(err, where, text, "this action takes no argument") : 0;
    }
}

/* ---- pseudonyms --------------------------------------------------------------------------- */

/* Trimmed, whitespace collapsed, ASCII upper-cased: "  zhang  san" and "ZHANG SAN" are one
 * person. Accounts also lose their spaces (IBANs are printed in groups of four). */
static size_t normalise(char *out, size_t cap, const char *v, bool drop_spaces)
{
    size_t n = 0;
    bool space = false;
    for (const char *s = v; *s && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = n > 0;
            continue;
        }
        if (space && !drop_spaces && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    out[n] = '\0';
    return n;
}

/* HMAC-SHA-256 (RFC 2104) with the keyed inner and outer states computed once per key and
 * thread, then copied per value: a message pseudonymises a dozen fields with the same key, and
 * OpenSSL's one-shot HMAC() fetches the algorithm and allocates on every call.
 * The states are OpenSSL's plain SHA256_CTX, not EVP_MD_CTX: copying an EVP context in OpenSSL 3
 * duplicates the provider's context (a malloc and a free per copy, two copies per value), which
 * cost as much as the two SHA-256 blocks an HMAC of a short value needs. SHA256_CTX is a plain
 * struct, so a copy is an assignment. The SHA256_* calls are deprecated in OpenSSL 3 (they skip
 * the provider layer: no FIPS provider); the digest itself is the same code. */
typedef struct mac_state {
    uint8_t k0[64]; /* the key as HMAC uses it (hashed when longer than a block) */
    size_t k0len;
    bool ready;
    SHA256_CTX inner, outer;
} mac_state;

static __thread mac_state mac_cache[2];
static __thread unsigned mac_next;
static pthread_key_t mac_key;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

/* Wipes a thread's HMAC states when the thread ends (worker threads come and go): the key
 * block and the keyed states must not linger in freed memory. */
static void mac_release(void *p)
{
    OPENSSL_cleanse(p, sizeof mac_cache);
}

static void mac_make_key(void)
{
    pthread_key_create(&mac_key, mac_release);
}

static int key_block(uint8_t k0[64], size_t *k0len, const uint8_t *key, size_t klen)
{
    if (klen <= 64) {
        memcpy(k0, key, klen);
        *k0len = klen;
        return 0;
    }
    *k0len = 32;
    return SHA256(key, klen, k0) ? 0 : XB_ECRYPTO;
}

static mac_state *mac_for(const uint8_t *key, size_t klen)
{
    uint8_t k0[64];
    size_t k0len;
    if (key_block(k0, &k0len, key, klen))
        return NULL;
    for (unsigned i = 0; i < 2; i++)
        if (mac_cache[i].ready && mac_cache[i].k0len == k0len &&
            !memcmp(mac_cache[i].k0, k0, k0len))
            return &mac_cache[i];
    mac_state *m = &mac_cache[mac_next++ % 2];
    if (!m->ready) {
        pthread_once(&mac_once, mac_make_key);
        pthread_setspecific(mac_key, mac_cache);
    }
    m->ready = false;
    uint8_t ipad[64], opad[64];
    for (size_t i = 0; i < 64; i++) {
        uint8_t b = i < k0len ? k0[i] : 0;
        ipad[i] = b ^ 0x36;
        opad[i] = b ^ 0x5c;
    }
    int ok = SHA256_Init(&m->inner) == 1 && SHA256_Update(&m->inner, ipad, 64) == 1 &&
             SHA256_Init(&m->outer) == 1 && SHA256_Update(&m->outer, opad, 64) == 1;
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    if (!ok)
        return NULL;
    memcpy(m->k0, k0, k0len);
    m->k0len = k0len;
    m->ready = true;
    return m;
}

static int hmac(uint8_t out[32], const uint8_t *key, size_t klen, const char *domain,
                const char *value, size_t vlen)
{
    /* domain || 0x00 || value: the separator keeps ("ab","c") and ("a","bc") apart. */
    mac_state *m = mac_for(key, klen);
    if (!m)
        return XB_ECRYPTO;
    uint8_t inner[32];
    SHA256_CTX c = m->inner;
    int ok = SHA256_Update(&c, domain, strlen(domain) + 1) == 1 &&
             SHA256_Update(&c, value, vlen) == 1 && SHA256_Final(inner, &c) == 1;
    c = m->outer;
    ok = ok && SHA256_Update(&c, inner, 32) == 1 && SHA256_Final(out, &c) == 1;
    OPENSSL_cleanse(&c, sizeof c);
    return ok ? 0 : XB_ECRYPTO;
}

/* The same value often appears more than once in a message (the debtor is also the ultimate
 * debtor, the creditor's name is on its account): one HMAC per distinct (domain, value) of a
 * decision. The memo lives on the caller's stack for one decision and is wiped after it. */
static const uint8_t *memo_find(const pol_mac_memo *mm, const char *domain, const char *v, size_t n)
{
    for (unsigned i = 0; mm && i < mm->n; i++)
        if (mm->e[i].len == n && !memcmp(mm->e[i].value, v, n) && !strcmp(mm->e[i].domain, domain))
            return mm->e[i].mac;
    return NULL;
}

static void memo_add(pol_mac_memo *mm, const char *domain, const char *v, size_t n,
                     const uint8_t mac[32])
{
    if (!mm || mm->n == POL_MEMO_ENTRIES || n > sizeof mm->e[0].value)
        return;
    mm->e[mm->n].domain = domain;
    mm->e[mm->n].len = n;
    memcpy(mm->e[mm->n].value, v, n);
    memcpy(mm->e[mm->n].mac, mac, 32);
    mm->n++;
}

void pol_mac_memo_wipe(pol_mac_memo *mm)
{
    OPENSSL_cleanse(mm->e, mm->n * sizeof mm->e[0]);
    mm->n = 0;
}

static void base32(char *out, const uint8_t *b, size_t nchars)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    for (size_t i = 0; i < nchars; i++) {
        size_t bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = ((unsigned)b[byte] << 8 | b[byte + 1]) >> (11 - off);
        out[i] = alpha[v & 31];
    }
    out[nchars] = '\0';
}

static int pseudonym(xb_buf *out, const pol_action *a, const pol_rule *r, const char *value,
                     const xb_policy_keys *keys, pol_mac_memo *memo)
{
    char norm[1024];
    uint8_t mac[32];
    if (!keys || !keys->pseudo_key || !keys->pseudo_key_len)
        return XB_ENOTFOUND;
    size_t n = normalise(norm, sizeof norm, value, r->format == FMT_IBAN);
    const uint8_t *known = memo_find(memo, a->domain, norm, n);
    if (known) {
        memcpy(mac, known, 32);
    } else {
        int rc = hmac(mac, keys->pseudo_key, keys->pseudo_key_len, a->domain, norm, n);
        if (rc)
            return rc;
        memo_add(memo, a->domain, norm, n, mac);
    }
    char b32[17];
    base32(b32, mac, 16);
    switch (r->format) {
    case FMT_IBAN: {
        /* [A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}: keep the country (coarse, and what a correspondent
         * needs to route), derive the rest. */
        /* Built by hand, not printf: this runs for every account of every message. */
        char iban[4 + sizeof b32] = "XX";
        if (n >= 2 && norm[0] >= 'A' && norm[0] <= 'Z' && norm[1] >= 'A' && norm[1] <= 'Z')
            iban[0] = norm[0], iban[1] = norm[1];
        unsigned check = (unsigned)mac[20] % 100u;
        iban[2] = (char)('0' + check / 10);
        iban[3] = (char)('0' + check % 10);
        memcpy(iban + 4, b32, sizeof b32);
        return xb_buf_puts(out, iban);
    }
    case FMT_UUID: {
        mac[6] = (uint8_t)((mac[6] & 0x0f) | 0x40); /* version 4 */
        mac[8] = (uint8_t)((mac[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        static const char hex[] = "0123456789abcdef";
        char uuid[37], *p = uuid;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                *p++ = '-';
            *p++ = hex[mac[i] >> 4];
            *p++ = hex[mac[i] & 15];
        }
        *p = '\0';
        return xb_buf_puts(out, uuid);
    }
    default:
        return xb_buf_puts(out, b32);
    }
}

int pol_subject_digest(uint8_t out[XB_POLICY_DIGEST_LEN], const xb_policy_keys *keys,
                       const char *kind, const char *value, size_t len)
{
    uint8_t mac[32];
    char norm[1024];
    if (!keys || !keys->counter_key || !keys->counter_key_len)
        return XB_ENOTFOUND;
    char tmp[1024];
    size_t l = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, value, l);
    tmp[l] = '\0';
    size_t n = normalise(norm, sizeof norm, tmp, !strcmp(kind, "acct"));
    int rc = hmac(mac, keys->counter_key, keys->counter_key_len, kind, norm, n);
    if (!rc)
        memcpy(out, mac, XB_POLICY_DIGEST_LEN);
    return rc;
}

/* ---- mask ------------------------------------------------------------------------------- */

static int mask(xb_buf *out, const char *v, int keep_last)
{
    /* Count characters, not bytes: a Chinese name keeps its last characters whole. */
    size_t nchars = 0;
    for (const unsigned char *s = (const unsigned char *)v; *s; s++)
        if ((*s & 0xc0) != 0x80)
            nchars++;
    size_t idx = 0;
    for (const char *s = v; *s;) {
        size_t l = 1;
        while ((s[l] & 0xc0) == 0x80)
            l++;
        int rc = idx + (size_t)keep_last >= nchars ? xb_buf_append(out, s, l)
                                                   : xb_buf_append(out, "*", 1);
        if (rc)
            return rc;
        s += l;
        idx++;
    }
    return 0;
}

/* ---- generalise ------------------------------------------------------------------------- */

static bool name_in(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp((const char *)n->name, *names))
            return true;
    return false;
}

static int date_month(xb_buf *out, const char *v)
{
    /* ISODate must stay a full date: the first of the month. DateTimes keep their zone. */
    size_t n = strlen(v);
    if (n < 10 || v[4] != '-' || v[7] != '-')
        return XB_EINVAL;
    if (n == 10)
        return xb_buf_printf(out, "%.7s-01", v);
    if (v[10] != 'T' || n < 19)
        return XB_EINVAL;
    const char *zone = v + 19;
    if (*zone == '.')
        for (zone++; *zone >= '0' && *zone <= '9'; zone++)
            ;
    return xb_buf_printf(out, "%.7s-01T00:00:00%s", v, zone);
}

static int amount_bucket(xb_buf *out, const pol_action *a, const char *v)
{
    xb_dec d;
    if (xb_dec_parse_cstr(&d, v, NULL))
        return XB_EINVAL;
    int k = 0; /* the largest edge not above the value (the lowest edge for smaller values) */
    for (int i = 0; i < a->nedges; i++)
        if (xb_dec_cmp(&a->edges[i], &d) <= 0)
            k = i;
    char buf[64];
    if (xb_dec_format(buf, sizeof buf, &a->edges[k]) < 0)
        return XB_EINVAL;
    return xb_buf_puts(out, buf);
}

static int generalise(xb_buf *out, bool *remove, const pol_action *a, const xmlNode *node,
                      const char *v)
{
    static const char *const country[] = {"Ctry", "CtryOfRes", "CtryOfBirth", NULL};
    static const char *const town[] = {"Ctry",  "CtryOfRes",   "CtryOfBirth",
                                       "TwnNm", "CtrySubDvsn", NULL};
    switch (a->gen) {
    case GEN_CTRY_ONLY:
        if (!name_in(node, country))
            *remove = true;
        return *remove ? 0 : xb_buf_puts(out, v);
    case GEN_TOWN_CTRY:
        if (!name_in(node, town))
            *remove = true;
        return *remove ? 0 : xb_buf_puts(out, v);
    case GEN_DATE_MONTH:
        return date_month(out, v);
    case GEN_AMOUNT:
        return amount_bucket(out, a, v);
    default:
        return XB_EINVAL;
    }
}

int pol_action_apply(xb_buf *out, bool *remove, const pol_action *a, const pol_rule *r,
                     const xmlNode *node, const char *value, const xb_policy_keys *keys,
                     pol_mac_memo *memo)
{
    *remove = false;
    switch (a->kind) {
    case XB_ACT_MASK:
        return mask(out, value, a->keep_last);
    case XB_ACT_PSEUDO:
        return pseudonym(out, a, r, value, keys, memo);
    case XB_ACT_GENERALIZE:
        return generalise(out, remove, a, node, value);
    default:
        return xb_buf_puts(out, value);
    }
}
