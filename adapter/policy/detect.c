/* detect.c — free-text detectors for the policy engine (resident ID, mobile, card, IBAN,
 * secrets).
 *
 * Owns: one left-to-right pass over UTF-8 text that finds whole tokens and checks them with the
 * format's own check digits. A token is whole when the characters around it are not ASCII
 * letters or digits (full-width digits count as digits, so "手机１３８…" is read correctly and
 * CJK text around a number is a boundary).
 * Never: splits a longer digit run to find a number inside it, reports a number whose check digit
 * fails, allocates per character, or reads past len.
 */
#include "adapter/policy/detect.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iso20022/error.h"

const char *const xb_detect_default_secret_words[] = {
    "PIN",    "CVV",      "CVV2", "CVC",  "CVC2",     "CVN",      "CVN2",   "PASSWORD",
    "PASSWD", "PASSCODE", "密码", "口令", "支付密码", "交易密码", "验证码", NULL};

const char *xb_detect_name(xb_detector d)
{
    switch (d) {
    case XB_DET_CN_RIC:
        return "CN_RIC";
    case XB_DET_CN_MOB:
        return "CN_MOB";
    case XB_DET_PAN:
        return "PAN";
    case XB_DET_IBAN:
        return "IBAN";
    case XB_DET_SECRET:
        return "SECRET";
    }
    return "?";
}

/* ---- check digits ------------------------------------------------------------------------ */

static bool valid_date8(const char *d)
{
    int y = 0, m = 0, day = 0;
    for (int i = 0; i < 4; i++)
        y = y * 10 + (d[i] - '0');
    m = (d[4] - '0') * 10 + (d[5] - '0');
    day = (d[6] - '0') * 10 + (d[7] - '0');
    if (y < 1900 || y > 2099 || m < 1 || m > 12 || day < 1)
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && day == 29 && !leap);
}

bool xb_detect_gb11643_ok(const char *id)
{
    /* GB 11643-1999: weights 2^(i) mod 11 from the left, check = "10X98765432"[sum mod 11]. */
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    int sum = 0;
    if (id[0] < '1' || id[0] > '9')
        return false; /* region codes start 1..9 */
    for (int i = 0; i < 17; i++) {
        if (id[i] < '0' || id[i] > '9')
            return false;
        sum += (id[i] - '0') * w[i];
    }
    char c = id[17] == 'x' ? 'X' : id[17];
    if (c != check[sum % 11])
        return false;
    return valid_date8(id + 6); /* the birth date is part of the number */
}

bool xb_detect_luhn_ok(const char *d, size_t n)
{
    int sum = 0;
    bool dbl = false;
    if (n == 0)
        return false;
    for (size_t i = n; i-- > 0;) {
        if (d[i] < '0' || d[i] > '9')
            return false;
        int v = d[i] - '0';
        if (dbl) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

static int alnum_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return -1;
}

bool xb_detect_iban_ok(const char *s, size_t n)
{
    /* ISO 13616 / ISO 7064 mod 97-10: move the first four characters to the end, letters become
     * 10..35, the number mod 97 must be 1. Computed digit by digit, no big integers. */
    if (n < 15 || n > 34)
        return false;
    if (alnum_value(s[0]) < 10 || alnum_value(s[1]) < 10 || alnum_value(s[2]) < 0 ||
        alnum_value(s[2]) > 9 || alnum_value(s[3]) < 0 || alnum_value(s[3]) > 9)
        return false;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[(k + 4) % n];
        int v = alnum_value(c);
        if (v < 0)
            return false;
        rem = v >= 10 ? (rem * 100 + (unsigned)v) % 97 : (rem * 10 + (unsigned)v) % 97;
    }
    return rem == 1;
}

/* ---- UTF-8 character classes -------------------------------------------------------------- */

typedef struct scan {
    const unsigned char *s;
    size_t len;
} scan;

/* Byte length of the (possibly invalid) character at i: an invalid byte counts as one. */
static size_t char_len(const scan *sc, size_t i)
{
    unsigned char c = sc->s[i];
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4;
    else
        return 1;
    if (i + need > sc->len)
        return 1;
    for (size_t k = 1; k < need; k++)
        if ((sc->s[i + k] & 0xc0) != 0x80)
            return 1;
    return need;
}

/* Digit at i (ASCII or full-width U+FF10..FF19): returns its value and sets *clen, else -1. */
static int digit_at(const scan *sc, size_t i, size_t *clen)
{
    if (i >= sc->len)
        return -1;
    unsigned char c = sc->s[i];
    if (c >= '0' && c <= '9') {
        *clen = 1;
        return c - '0';
    }
    if (c == 0xef && i + 2 < sc->len && sc->s[i + 1] == 0xbc && sc->s[i + 2] >= 0x90 &&
        sc->s[i + 2] <= 0x99) {
        *clen = 3;
        return sc->s[i + 2] - 0x90;
    }
    return -1;
}

static bool ascii_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool ascii_alnum(unsigned char c)
{
    return ascii_alpha(c) || (c >= '0' && c <= '9');
}

/* True when the character ending just before i is a letter or digit (so i is inside a word). */
static bool word_before(const scan *sc, size_t i)
{
    if (i == 0)
        return false;
    if (ascii_alnum(sc->s[i - 1]))
        return true;
    return i >= 3 && sc->s[i - 3] == 0xef && sc->s[i - 2] == 0xbc && sc->s[i - 1] >= 0x90 &&
           sc->s[i - 1] <= 0x99;
}

static bool word_at(const scan *sc, size_t i)
{
    size_t l;
    return i < sc->len && (ascii_alnum(sc->s[i]) || digit_at(sc, i, &l) >= 0);
}

/* ---- hits ------------------------------------------------------------------------------- */

static int push(xb_detect_hits *h, xb_detector kind, size_t start, size_t end)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        xb_detect_hit *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return XB_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = (xb_detect_hit){kind, start, end};
    return 0;
}

void xb_detect_hits_free(xb_detect_hits *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* ---- numeric tokens ----------------------------------------------------------------------- */

#define MAX_GROUPS 8
#define MAX_GROUP_DIGITS 24 /* no detected number has a group longer than 19 digits */

typedef struct numtok {
    char d[MAX_GROUPS * MAX_GROUP_DIGITS + 2]; /* ASCII digits (+ X of an ID number) */
    size_t nd;
    bool overflow; /* some group is longer than any number */
    int ngroups;
    size_t gstart[MAX_GROUPS], gend[MAX_GROUPS]; /* byte spans of the groups */
    size_t gdig[MAX_GROUPS];                     /* index in d where the group starts */
    bool has_x;                                  /* last group ends with X */
    bool more;                                   /* stopped at MAX_GROUPS before a separator */
    size_t end;                                  /* byte after the token */
} numtok;

static bool is_mobile(const char *d, size_t n)
{
    return n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

/* Classifies one compact digit string; 0 when nothing matches. */
static xb_detector classify_digits(const char *d, size_t n, bool has_x, unsigned mask)
{
    if (has_x)
        return (n == 18 && (mask & XB_DET_CN_RIC) && xb_detect_gb11643_ok(d)) ? XB_DET_CN_RIC : 0;
    if (n == 18 && (mask & XB_DET_CN_RIC) && xb_detect_gb11643_ok(d))
        return XB_DET_CN_RIC;
    if ((mask & XB_DET_CN_MOB) && is_mobile(d, n))
        return XB_DET_CN_MOB;
    if ((mask & XB_DET_PAN) && n >= 13 && n <= 19 && xb_detect_luhn_ok(d, n))
        return XB_DET_PAN;
    return 0;
}

/* Reads digit groups joined by single spaces or hyphens, starting at a digit at i. */
static void read_numtok(numtok *t, const scan *sc, size_t i)
{
    memset(t, 0, sizeof *t);
    size_t pos = i, l = 0;
    for (;;) {
        int g = t->ngroups++;
        t->gstart[g] = pos;
        t->gdig[g] = t->nd;
        int v;
        while ((v = digit_at(sc, pos, &l)) >= 0) {
            if (t->nd - t->gdig[g] < MAX_GROUP_DIGITS)
                t->d[t->nd++] = (char)('0' + v);
            else
                t->overflow = true;
            pos += l;
        }
        /* GB 11643 allows X as the check character of an 18-character number. */
        if (pos < sc->len && (sc->s[pos] == 'X' || sc->s[pos] == 'x') && t->nd - t->gdig[g] == 17 &&
            !word_at(sc, pos + 1)) {
            t->d[t->nd++] = 'X';
            t->has_x = true;
            pos++;
            t->gend[g] = pos;
            break;
        }
        t->gend[g] = pos;
        if (pos + 1 < sc->len && (sc->s[pos] == ' ' || sc->s[pos] == '-') &&
            digit_at(sc, pos + 1, &l) >= 0) {
            if (t->ngroups == MAX_GROUPS) {
                /* More groups follow: no number has this many, so the groups are read one by
                 * one and the rest starts a new token after the separator. */
                t->more = true;
                break;
            }
            pos++;
            continue;
        }
        break;
    }
    t->d[t->nd] = '\0';
    t->end = pos;
}

static bool groups_are(const numtok *t, int from, const int *lens, int n)
{
    if (t->ngroups - from != n)
        return false;
    for (int k = 0; k < n; k++) {
        size_t gl = (k + from + 1 < t->ngroups ? t->gdig[k + from + 1] : t->nd) - t->gdig[k + from];
        if ((int)gl != lens[k])
            return false;
    }
    return true;
}

/* The whole multi-group token as one number (grouped phone, card, ID), or 0. */
static xb_detector classify_grouped(const numtok *t, const scan *sc, size_t *start, unsigned mask)
{
    static const int mob[] = {3, 4, 4}, ric[] = {6, 8, 4};
    int from = 0;
    const char *d = t->d;
    size_t n = t->nd;
    /* +86 / 0086 country prefix in front of a mobile number. */
    bool plus = *start > 0 && sc->s[*start - 1] == '+';
    size_t g0 = t->ngroups > 1 ? t->gdig[1] : t->nd;
    if (t->ngroups > 1 &&
        ((plus && g0 == 2 && !memcmp(d, "86", 2)) || (g0 == 4 && !memcmp(d, "0086", 4)))) {
        from = 1;
        d += g0;
        n -= g0;
    }
    if ((mask & XB_DET_CN_MOB) && is_mobile(d, n) &&
        (groups_are(t, from, mob, 3) || t->ngroups - from == 1)) {
        if (from && plus)
            (*start)--;
        return XB_DET_CN_MOB;
    }
    if (from)
        return 0;
    if ((mask & XB_DET_CN_RIC) && n == 18 && groups_are(t, 0, ric, 3) && xb_detect_gb11643_ok(d))
        return XB_DET_CN_RIC;
    if ((mask & XB_DET_PAN) && n >= 13 && n <= 19 && !t->has_x) {
        for (int g = 0; g + 1 < t->ngroups; g++) {
            size_t gl = t->gdig[g + 1] - t->gdig[g];
            if (gl < 4 || gl > 6)
                return 0;
        }
        if (xb_detect_luhn_ok(d, n))
            return XB_DET_PAN;
    }
    return 0;
}

/* A compact token: a single group, or +8613812345678. */
static xb_detector classify_single(const char *d, size_t n, bool has_x, const scan *sc,
                                   size_t *start, unsigned mask)
{
    bool plus = *start > 0 && sc->s[*start - 1] == '+';
    if (plus && n == 13 && !memcmp(d, "86", 2) && (mask & XB_DET_CN_MOB) && is_mobile(d + 2, 11)) {
        (*start)--;
        return XB_DET_CN_MOB;
    }
    return classify_digits(d, n, has_x, mask);
}

static int scan_number(xb_detect_hits *out, const scan *sc, size_t i, unsigned mask, size_t *next)
{
    numtok t;
    read_numtok(&t, sc, i);
    *next = t.end;
    /* Only the token's end matters when no number detector is asked for (the secret-only scan
     * every field gets): every classifier below would return nothing. */
    if (!(mask & (XB_DET_CN_RIC | XB_DET_CN_MOB | XB_DET_PAN)))
        return 0;
    bool right_ok = t.more || !word_at(sc, t.end);
    if (t.ngroups > 1 && right_ok && !t.more && !t.overflow) {
        size_t start = i;
        xb_detector k = classify_grouped(&t, sc, &start, mask);
        if (k)
            return push(out, k, start, t.end);
    }
    /* Otherwise each group is a token of its own (separated by a space or hyphen). */
    for (int g = 0; g < t.ngroups; g++) {
        bool last = g + 1 == t.ngroups;
        if (last && !right_ok)
            break;
        size_t n = (last ? t.nd : t.gdig[g + 1]) - t.gdig[g];
        if (n >= MAX_GROUP_DIGITS)
            continue; /* a run longer than any number we detect is not one of them */
        bool has_x = last && t.has_x;
        char d[MAX_GROUP_DIGITS + 2];
        memcpy(d, t.d + t.gdig[g], n);
        d[n] = '\0';
        size_t start = t.gstart[g];
        xb_detector k = classify_single(d, has_x ? n : n, has_x, sc, &start, mask);
        if (k) {
            int rc = push(out, k, start, t.gend[g]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- IBAN -------------------------------------------------------------------------------- */

static bool upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* At an uppercase letter with a word boundary before it: compact or 4-grouped IBAN. */
static size_t match_iban(const scan *sc, size_t i)
{
    const unsigned char *s = sc->s;
    if (i + 4 > sc->len || !upper(s[i]) || !upper(s[i + 1]) || !digit(s[i + 2]) || !digit(s[i + 3]))
        return 0;
    char buf[40];
    size_t n = 0, pos = i;
    /* Compact: one alphanumeric run. */
    while (pos < sc->len && ascii_alnum(s[pos]) && n < 35)
        buf[n++] = (char)s[pos++];
    if (!word_at(sc, pos) && xb_detect_iban_ok(buf, n))
        return pos;
    /* Printed form: groups of four separated by single spaces, the last one shorter. */
    n = 0;
    pos = i;
    size_t best = 0;
    for (;;) {
        size_t g = 0;
        while (pos < sc->len && ascii_alnum(s[pos]) && g < 5 && n < 35) {
            buf[n++] = (char)s[pos++];
            g++;
        }
        if (g > 4 || word_at(sc, pos))
            break;
        if (xb_detect_iban_ok(buf, n))
            best = pos;
        if (g < 4 || pos + 1 >= sc->len || s[pos] != ' ' || !ascii_alnum(s[pos + 1]))
            break;
        pos++;
    }
    return best;
}

/* ---- secrets ----------------------------------------------------------------------------- */

static bool is_ascii_word(const char *w)
{
    for (; *w; w++)
        if ((unsigned char)*w >= 0x80)
            return false;
    return true;
}

#define MAX_WORDS 64

/* Secret words prepared once per scan: lengths, which bytes can start one, and which pairs of
 * bytes can (both cases of an ASCII word's first two letters), so that the common position (no
 * word starts here) costs a table lookup or two: Chinese text starts a multi-byte character at
 * every third byte with the same few lead bytes as 密码 and 口令, so the first byte alone let
 * most positions of Chinese text through to the word-by-word comparison. */
struct xb_detect_words {
    const char *w[MAX_WORDS];
    size_t len[MAX_WORDS];
    bool ascii[MAX_WORDS];
    size_t n;
    bool first[256];
    bool single[256];       /* a one-byte word starts with this byte: no pair to check */
    uint64_t pair[1 << 10]; /* bit (b0 << 8 | b1): some word starts with bytes b0 b1 */
};
typedef struct xb_detect_words words_ix;

static void index_words(words_ix *ix, const char *const *words)
{
    memset(ix, 0, sizeof *ix);
    for (const char *const *w = words; *w && ix->n < MAX_WORDS; w++) {
        size_t l = strlen(*w);
        if (!l)
            continue;
        unsigned char c = (unsigned char)(*w)[0];
        ix->w[ix->n] = *w;
        ix->len[ix->n] = l;
        ix->ascii[ix->n] = is_ascii_word(*w);
        ix->first[c] = true;
        if (ix->ascii[ix->n] && ascii_alpha(c))
            ix->first[c ^ 0x20] = true; /* the other case */
        if (l == 1) {
            ix->single[c] = true;
            if (ix->ascii[ix->n] && ascii_alpha(c))
                ix->single[c ^ 0x20] = true;
        } else {
            unsigned char d = (unsigned char)(*w)[1];
            bool fold = ix->ascii[ix->n];
            for (int a = 0; a < (fold && ascii_alpha(c) ? 2 : 1); a++)
                for (int b = 0; b < (fold && ascii_alpha(d) ? 2 : 1); b++) {
                    unsigned v =
                        (unsigned)(c ^ (a ? 0x20 : 0)) << 8 | (unsigned)(d ^ (b ? 0x20 : 0));
                    ix->pair[v >> 6] |= (uint64_t)1 << (v & 63);
                }
        }
        ix->n++;
    }
}

/* True when some word may start at i: its first byte, and its second unless it has one. */
static bool may_start(const scan *sc, size_t i, const words_ix *ix)
{
    unsigned char c = sc->s[i];
    if (!ix->first[c])
        return false;
    if (ix->single[c])
        return true;
    if (i + 1 >= sc->len)
        return false;
    unsigned v = (unsigned)c << 8 | sc->s[i + 1];
    return (ix->pair[v >> 6] >> (v & 63)) & 1;
}

static size_t match_secret(const scan *sc, size_t i, const words_ix *ix)
{
    const unsigned char *s = sc->s;
    if (!may_start(sc, i, ix))
        return 0;
    for (size_t k = 0; k < ix->n; k++) {
        const char *const *w = &ix->w[k];
        size_t wl = ix->len[k];
        if (i + wl > sc->len)
            continue;
        if (ix->ascii[k]) {
            if (!ascii_alpha(s[i]) || (i > 0 && ascii_alpha(s[i - 1])))
                continue;
            if (strncasecmp((const char *)s + i, *w, wl) != 0)
                continue;
            if (i + wl < sc->len && ascii_alpha(s[i + wl]))
                continue;
            return i + wl;
        }
        if (!memcmp(s + i, *w, wl))
            return i + wl;
    }
    return 0;
}

/* ---- the pass ---------------------------------------------------------------------------- */

static int scan_with(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                     const words_ix *ix);

int xb_detect_scan(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                   const char *const *secret_words)
{
    words_ix ix;
    index_words(&ix, secret_words ? secret_words : xb_detect_default_secret_words);
    return scan_with(out, text, len, mask, &ix);
}

xb_detect_words *xb_detect_words_new(const char *const *words)
{
    xb_detect_words *w = malloc(sizeof *w);
    if (w)
        index_words(w, words ? words : xb_detect_default_secret_words);
    return w;
}

void xb_detect_words_free(xb_detect_words *w)
{
    free(w);
}

int xb_detect_scan_prepared(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                            const xb_detect_words *words)
{
    return scan_with(out, text, len, mask, words);
}

static int scan_with(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                     const words_ix *ixp)
{
    scan sc = {(const unsigned char *)text, len};
    const words_ix *ix = ixp;
    size_t i = 0, l;
    if (mask == XB_DET_SECRET) {
        /* Every field gets this scan. The walk below tries a secret word only at some of the
         * positions (not inside number tokens); when the word matches at none of them at all,
         * nothing can be found, and most values (codes, amounts, names) are such text. */
        size_t k = 0;
        while (k < len && !(ix->first[sc.s[k]] && match_secret(&sc, k, ix)))
            k++;
        if (k == len)
            return 0;
    }
    while (i < len) {
        size_t end;
        if ((mask & XB_DET_SECRET) && (end = match_secret(&sc, i, ix)) != 0) {
            int rc = push(out, XB_DET_SECRET, i, end);
            if (rc)
                return rc;
            i = end;
            continue;
        }
        if ((mask & XB_DET_IBAN) && !word_before(&sc, i) && (end = match_iban(&sc, i)) != 0) {
            int rc = push(out, XB_DET_IBAN, i, end);
            if (rc)
                return rc;
            i = end;
            continue;
        }
        if (digit_at(&sc, i, &l) >= 0) {
            if (word_before(&sc, i)) {
                /* Digits glued to a word: skip the whole run, it is not a token. */
                while (i < len && digit_at(&sc, i, &l) >= 0)
                    i += l;
                continue;
            }
            size_t next;
            int rc = scan_number(out, &sc, i, mask, &next);
            if (rc)
                return rc;
            i = next > i ? next : i + 1;
            continue;
        }
        i += char_len(&sc, i);
    }
    return 0;
}

int xb_detect_redact(xb_buf *out, const char *text, size_t len, const xb_detect_hits *hits)
{
    size_t at = 0;
    for (size_t k = 0; k < hits->n; k++) {
        const xb_detect_hit *h = &hits->v[k];
        if (h->kind == XB_DET_SECRET || h->start < at || h->end > len)
            continue;
        if (xb_buf_append(out, text + at, h->start - at) ||
            xb_buf_printf(out, "[%s]", xb_detect_name(h->kind)) < 0)
            return XB_ENOMEM;
        at = h->end;
    }
    return xb_buf_append(out, text + at, len - at);
}
