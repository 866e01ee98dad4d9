/* detect.h — free-text detectors: Chinese resident IDs, Chinese mobiles, card numbers, IBANs,
 * secrets.
 *
 * Owns: UTF-8 aware whole-token scanning with the format's own check digits (GB 11643, Luhn,
 * ISO 7064 mod 97-10), and the redaction of hits.
 * Never: allocates per character, reads past len, or trusts the input to be valid UTF-8 (an
 * invalid byte is a token boundary, nothing more).
 */
#ifndef XB_POLICY_DETECT_H
#define XB_POLICY_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#include "iso20022/buf.h"

typedef enum xb_detector {
    XB_DET_CN_RIC = 1u << 0, /* 18-char resident identity card number, GB 11643 check digit */
    XB_DET_CN_MOB = 1u << 1, /* 11-digit mainland mobile, 1[3-9]..., optional +86 */
    XB_DET_PAN = 1u << 2,    /* 13-19 digit card number, Luhn */
    XB_DET_IBAN = 1u << 3,   /* ISO 13616 IBAN, mod 97 */
    XB_DET_SECRET = 1u << 4, /* PIN, CVV/CVN, password, 密码 ... */
} xb_detector;

#define XB_DET_ALL 0x1fu

typedef struct xb_detect_hit {
    xb_detector kind;
    size_t start, end; /* byte offsets into the scanned text, [start, end) */
} xb_detect_hit;

typedef struct xb_detect_hits {
    xb_detect_hit *v;
    size_t n, cap;
} xb_detect_hits;

/* Secret keywords used when the caller passes none. */
extern const char *const xb_detect_default_secret_words[];

/* Scans text for the detectors in mask (XB_DET_*). Hits are appended to out in text order and
 * never overlap. secret_words is a NULL-terminated list (NULL for the defaults): ASCII words
 * match case-insensitively as whole words; words with non-ASCII characters (密码) match on
 * character boundaries. Returns 0 or XB_ENOMEM. */
int xb_detect_scan(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                   const char *const *secret_words);
void xb_detect_hits_free(xb_detect_hits *h);

/* A secret-word list indexed once (a catalog does this at load), for the hot path. The words
 * must outlive it. */
typedef struct xb_detect_words xb_detect_words;
xb_detect_words *xb_detect_words_new(const char *const *secret_words);
void xb_detect_words_free(xb_detect_words *w);
int xb_detect_scan_prepared(xb_detect_hits *out, const char *text, size_t len, unsigned mask,
                            const xb_detect_words *words);

/* Writes text with every non-secret hit replaced by "[KIND]" into out (appends). */
int xb_detect_redact(xb_buf *out, const char *text, size_t len, const xb_detect_hits *hits);

const char *xb_detect_name(xb_detector d); /* "CN_RIC", "CN_MOB", "PAN", "IBAN", "SECRET" */

/* Check digits, exposed for tests and for the catalog's own use. */
bool xb_detect_gb11643_ok(const char *id18);          /* 17 digits + digit or X/x */
bool xb_detect_luhn_ok(const char *digits, size_t n); /* ASCII digits only */
bool xb_detect_iban_ok(const char *iban, size_t n);   /* compact, upper or lower case */

#endif
