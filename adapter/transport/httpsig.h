/* httpsig.h — HTTP message signatures for deliveries: RFC 9530 Content-Digest (sha-256) and
 * RFC 9421 Signature-Input/Signature with Ed25519 (OpenSSL).
 *
 * Owns: the signature base for xborder's profile, Ed25519 sign/verify, Content-Digest.
 * Never: does I/O except reading a key file, logs key material, or accepts a signature whose
 * covered components are outside the profile below.
 *
 * Profile (what a signature covers, in this order):
 *   "@method", "@path" (or "@target-uri" with XB_HTTPSIG_TARGET_URI), "content-digest",
 *   "idempotency-key", "content-type"
 * with parameters created=<unix seconds>;keyid="<id>";alg="ed25519". Label "sig1".
 * Example headers:
 *   Content-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
 *   Signature-Input: sig1=("@method" "@path" "content-digest" "idempotency-key"
 * "content-type");created=1767225600;keyid="cn-bank-1";alg="ed25519" Signature: sig1=:<base64 of
 * the 64-byte Ed25519 signature>: The verifier rebuilds the base from the components the signer
 * listed (any order, a subset of the five above that must include @method, @path or @target-uri,
 * content-digest and idempotency-key), checks the body against Content-Digest, the key id, the
 * algorithm and the age of `created`. Header values are used as received (leading/trailing spaces
 * trimmed).
 */
#ifndef XB_HTTPSIG_H
#define XB_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef struct xb_httpsig_key xb_httpsig_key;

enum { XB_HTTPSIG_TARGET_URI = 1 }; /* cover "@target-uri" instead of "@path" */

typedef struct xb_httpsig_message {
    const char *method;          /* "POST" */
    const char *target_uri;      /* "https://host:port/path?query" (with XB_HTTPSIG_TARGET_URI) */
    const char *path;            /* "/iso20022" */
    const char *content_type;    /* "application/xml" */
    const char *idempotency_key; /* the Idempotency-Key header value */
    const void *body;
    size_t body_len;
} xb_httpsig_message;

typedef struct xb_httpsig_headers {
    char content_digest[64];    /* value of Content-Digest */
    char signature_input[1024]; /* value of Signature-Input */
    char signature[128];        /* value of Signature */
} xb_httpsig_headers;

/* Loads an Ed25519 key from a PEM file: a private key (PKCS#8) for signing, or a public key
 * (SubjectPublicKeyInfo) — or a private key, whose public half is used — for verifying.
 * Errors: XB_EIO (unreadable), XB_ECRYPTO (not PEM, not Ed25519). */
int xb_httpsig_key_load(xb_httpsig_key **out, const char *pem_path, xb_error *err);

/* Same from PEM bytes in memory. */
int xb_httpsig_key_from_pem(xb_httpsig_key **out, const void *pem, size_t len, xb_error *err);

/* 1 when the key can sign (holds the private half). */
int xb_httpsig_key_is_private(const xb_httpsig_key *key);

void xb_httpsig_key_free(xb_httpsig_key *key);

/* Writes "sha-256=:BASE64:" for body into out (at least 64 bytes). */
int xb_httpsig_content_digest(char *out, size_t outsz, const void *body, size_t len, xb_error *err);

/* Computes all three header values for msg. created = unix seconds (the caller passes time(NULL),
 * tests a fixed value). flags: 0 or XB_HTTPSIG_TARGET_URI. keyid: printable ASCII without '"'
 * or '\\'. Errors: XB_EINVAL (missing field, bad keyid), XB_ECRYPTO (public-only key). */
int xb_httpsig_sign(xb_httpsig_headers *out, const xb_httpsig_message *msg,
                    const xb_httpsig_key *key, const char *keyid, int64_t created, unsigned flags,
                    xb_error *err);

/* Verifies a received request. content_digest/signature_input/signature are the header values
 * (NULL when absent => XB_ECRYPTO "missing ..."). expected_keyid: NULL accepts any keyid.
 * max_age_s: reject when created is older than now - max_age_s or newer than now + 60
 * (0 = don't check time). Returns 0 when valid; XB_ECRYPTO with a reason otherwise (digest
 * mismatch, bad signature, unknown component, wrong keyid/alg, too old), XB_EINVAL for
 * malformed header syntax. */
int xb_httpsig_verify(const xb_httpsig_message *msg, const char *content_digest,
                      const char *signature_input, const char *signature, const xb_httpsig_key *key,
                      const char *expected_keyid, int64_t now, int64_t max_age_s, xb_error *err);

#endif
