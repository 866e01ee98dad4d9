/* httpsig.c — RFC 9530 Content-Digest and RFC 9421 Ed25519 signatures for xborder's profile.
 *
 * Owns: signature-base construction, parsing of Signature-Input/Signature for one label, Ed25519
 * via OpenSSL EVP. Never: logs or returns key bytes, or widens the accepted component set (a
 * signature that covers less than the profile requires is a forgery opportunity, not a variant).
 */
#include "adapter/transport/httpsig.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso20022/buf.h"

struct xb_httpsig_key {
    EVP_PKEY *pkey;
    int is_private;
    /* Signing context initialised once and copied per signature (issue #8): EVP_DigestSignInit
     * looks the algorithm up in the provider store and sets the key up again on every call.
     * The lock makes the cache safe to share; a signer that finds it busy uses a fresh context. */
    pthread_mutex_t lock;
    EVP_MD_CTX *sign_tmpl, *sign_ctx;
};

#define SIG_LABEL "sig1"
#define MAX_COMPONENTS 8

/* ---- keys ----------------------------------------------------------------------------------- */

int xb_httpsig_key_from_pem(xb_httpsig_key **out, const void *pem, size_t len, xb_error *err)
{
    *out = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return xb_error_set(err, XB_ENOMEM, NULL, "httpsig: out of memory");
    int is_private = 1;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (!pkey) {
        /* Not a private key: try a public one (the receiver's --verify-key). */
        is_private = 0;
        BIO_reset(bio);
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    if (!pkey)
        return xb_error_set(err, XB_ECRYPTO, NULL,
                            "httpsig: key is not a PEM private or public key");
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: key is not Ed25519");
    }
    xb_httpsig_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return xb_error_set(err, XB_ENOMEM, NULL, "httpsig: out of memory");
    }
    k->pkey = pkey;
    k->is_private = is_private;
    pthread_mutex_init(&k->lock, NULL);
    *out = k;
    return 0;
}

int xb_httpsig_key_load(xb_httpsig_key **out, const char *pem_path, xb_error *err)
{
    *out = NULL;
    xb_buf b = XB_BUF_INIT;
    if (xb_buf_read_file(&b, pem_path, 64 * 1024) != 0) {
        xb_buf_free(&b);
        return xb_error_set(err, XB_EIO, pem_path, "httpsig: cannot read key file %s", pem_path);
    }
    int rc = xb_httpsig_key_from_pem(out, b.data, b.len, err);
    OPENSSL_cleanse(b.data, b.len); /* the private key must not linger in freed heap */
    xb_buf_free(&b);
    if (rc != 0 && err)
        snprintf(err->path, sizeof err->path, "%s", pem_path);
    return rc;
}

int xb_httpsig_key_is_private(const xb_httpsig_key *key)
{
    return key && key->is_private;
}

void xb_httpsig_key_free(xb_httpsig_key *key)
{
    if (!key)
        return;
    EVP_MD_CTX_free(key->sign_tmpl);
    EVP_MD_CTX_free(key->sign_ctx);
    pthread_mutex_destroy(&key->lock);
    EVP_PKEY_free(key->pkey);
    free(key);
}

/* ---- digest --------------------------------------------------------------------------------- */

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* never freed: one per process, like the provider it comes from */

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int xb_httpsig_content_digest(char *out, size_t outsz, const void *body, size_t len, xb_error *err)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned char b64[48]; /* 44 base64 chars for 32 bytes, + NUL */
    if (outsz < 64)
        return xb_error_set(err, XB_EINVAL, NULL, "httpsig: digest buffer too small");
    /* the digest fetched once: SHA256() looks the implementation up again on every call */
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md ||
        EVP_Digest(body ? body : (const void *)"", len, md, NULL, sha256_md, NULL) != 1)
        SHA256(body ? body : (const void *)"", len, md);
    EVP_EncodeBlock(b64, md, sizeof md);
    snprintf(out, outsz, "sha-256=:%s:", (const char *)b64);
    return 0;
}

/* ---- signature base ------------------------------------------------------------------------- */

static int valid_token(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return 0;
    return 1;
}

/* The value of one covered component, or NULL when the message lacks it. */
static const char *component_value(const xb_httpsig_message *msg, const char *name,
                                   const char *digest)
{
    if (!strcmp(name, "@method"))
        return msg->method;
    if (!strcmp(name, "@path"))
        return msg->path;
    if (!strcmp(name, "@target-uri"))
        return msg->target_uri;
    if (!strcmp(name, "content-digest"))
        return digest;
    if (!strcmp(name, "idempotency-key"))
        return msg->idempotency_key;
    if (!strcmp(name, "content-type"))
        return msg->content_type;
    return NULL;
}

/* Appends the base lines for the components, then the @signature-params line (RFC 9421 §2.5). */
static int build_base(xb_buf *base, const xb_httpsig_message *msg, const char *digest,
                      char names[][32], size_t n, const char *params, xb_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = component_value(msg, names[i], digest);
        if (!v)
            return xb_error_set(err, XB_ECRYPTO, NULL,
                                "httpsig: covered component \"%s\" is absent", names[i]);
        if (strchr(v, '\n') || strchr(v, '\r'))
            return xb_error_set(err, XB_EINVAL, NULL, "httpsig: component \"%s\" has a line break",
                                names[i]);
        if (xb_buf_printf(base, "\"%s\": %s\n", names[i], v) != 0)
            return xb_error_set(err, XB_ENOMEM, NULL, "httpsig: out of memory");
    }
    if (xb_buf_printf(base, "\"@signature-params\": %s", params) != 0)
        return xb_error_set(err, XB_ENOMEM, NULL, "httpsig: out of memory");
    return 0;
}

/* One Ed25519 signature over base: from a copy of the key's initialised context when it is free,
 * else from a fresh one. 0 or -1. */
static int ed25519_sign(xb_httpsig_key *key, unsigned char *sig, size_t *siglen, const xb_buf *b)
{
    const unsigned char *data = (const unsigned char *)b->data;
    int ok = 0;
    if (pthread_mutex_trylock(&key->lock) == 0) {
        if (!key->sign_tmpl && (key->sign_tmpl = EVP_MD_CTX_new()) &&
            EVP_DigestSignInit(key->sign_tmpl, NULL, NULL, NULL, key->pkey) != 1) {
            EVP_MD_CTX_free(key->sign_tmpl);
            key->sign_tmpl = NULL;
        }
        if (key->sign_tmpl && !key->sign_ctx)
            key->sign_ctx = EVP_MD_CTX_new();
        ok = key->sign_tmpl && key->sign_ctx &&
             EVP_MD_CTX_copy_ex(key->sign_ctx, key->sign_tmpl) == 1 &&
             EVP_DigestSign(key->sign_ctx, sig, siglen, data, b->len) == 1;
        pthread_mutex_unlock(&key->lock);
        if (ok)
            return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
         EVP_DigestSign(ctx, sig, siglen, data, b->len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int xb_httpsig_sign(xb_httpsig_headers *out, const xb_httpsig_message *msg,
                    const xb_httpsig_key *key, const char *keyid, int64_t created, unsigned flags,
                    xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!key || !key->is_private)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: signing needs a private Ed25519 key");
    if (!valid_token(keyid, 200))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "httpsig: keyid must be printable ASCII without quotes");
    int use_uri = (flags & XB_HTTPSIG_TARGET_URI) != 0;
    if (!msg->method || !(use_uri ? msg->target_uri : msg->path) || !msg->idempotency_key ||
        !msg->content_type)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "httpsig: method, %s, idempotency key and content type "
                            "are required",
                            use_uri ? "target URI" : "path");
    int rc = xb_httpsig_content_digest(out->content_digest, sizeof out->content_digest, msg->body,
                                       msg->body_len, err);
    if (rc)
        return rc;

    char names[5][32] = {"@method", "@path", "content-digest", "idempotency-key", "content-type"};
    if (use_uri)
        strcpy(names[1], "@target-uri");
    int n =
        snprintf(out->signature_input, sizeof out->signature_input,
                 "(\"%s\" \"%s\" \"%s\" \"%s\" \"%s\");created=%lld;keyid=\"%s\";alg=\"ed25519\"",
                 names[0], names[1], names[2], names[3], names[4], (long long)created, keyid);
    if (n < 0 || (size_t)n >= sizeof out->signature_input - sizeof SIG_LABEL)
        return xb_error_set(err, XB_EINVAL, NULL, "httpsig: signature parameters too long");

    xb_buf base = XB_BUF_INIT;
    rc = build_base(&base, msg, out->content_digest, names, 5, out->signature_input, err);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    /* the cached context is not part of the key's value: a const key may fill it */
    if (rc == 0 && ed25519_sign((xb_httpsig_key *)(uintptr_t)key, sig, &siglen, &base) < 0)
        rc = xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: Ed25519 signing failed");
    xb_buf_free(&base);
    if (rc)
        return rc;

    unsigned char b64[96];
    EVP_EncodeBlock(b64, sig, (int)siglen);
    snprintf(out->signature, sizeof out->signature, SIG_LABEL "=:%s:", (const char *)b64);
    /* Signature-Input carries the label in front of the same serialised parameters. */
    memmove(out->signature_input + sizeof SIG_LABEL, out->signature_input, (size_t)n + 1);
    memcpy(out->signature_input, SIG_LABEL "=", sizeof SIG_LABEL);
    return 0;
}

/* ---- parsing (structured-field subset we need) ------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The end of the dictionary member that starts at p: its top-level comma, or the end of the
 * string. Commas inside quoted strings, byte sequences (:...:) and inner lists do not count. */
static const char *member_end(const char *p)
{
    int depth = 0, inq = 0, inb = 0;
    for (; *p; p++) {
        if (inq) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inq = 0;
        } else if (inb) {
            if (*p == ':')
                inb = 0;
        } else if (*p == '"')
            inq = 1;
        else if (*p == ':')
            inb = 1;
        else if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == ',' && depth == 0)
            break;
    }
    return p;
}

/* Finds "label=" as a dictionary member of hdr and returns a pointer to its value. */
static const char *find_member(const char *hdr, const char *label)
{
    size_t ll = strlen(label);
    const char *p = skip_ws(hdr);
    while (*p) {
        if (!strncmp(p, label, ll) && p[ll] == '=')
            return p + ll + 1;
        p = member_end(p);
        if (*p == ',')
            p = skip_ws(p + 1);
    }
    return NULL;
}

/* Value of the member up to the next top-level comma (no trailing spaces), copied into out. */
static int member_value(char *out, size_t outsz, const char *v)
{
    size_t n = (size_t)(member_end(v) - v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= outsz)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int known_component(const char *name)
{
    static const char *const allowed[] = {"@method",        "@path",           "@target-uri",
                                          "content-digest", "idempotency-key", "content-type"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (!strcmp(name, allowed[i]))
            return 1;
    return 0;
}

/* Parses '("a" "b" ...);params' into names; returns a pointer to the parameters after ')'. */
static const char *parse_inner_list(const char *p, char names[][32], size_t *n, xb_error *err)
{
    *n = 0;
    if (*p != '(') {
        xb_error_set(err, XB_EINVAL, NULL, "httpsig: Signature-Input is not an inner list");
        return NULL;
    }
    p++;
    for (;;) {
        p = skip_ws(p);
        if (*p == ')')
            return p + 1;
        if (*p != '"' || *n >= MAX_COMPONENTS) {
            xb_error_set(err, XB_EINVAL, NULL, "httpsig: malformed component list");
            return NULL;
        }
        const char *end = strchr(p + 1, '"');
        if (!end || (size_t)(end - p - 1) >= 32 || end == p + 1) {
            xb_error_set(err, XB_EINVAL, NULL, "httpsig: malformed component name");
            return NULL;
        }
        memcpy(names[*n], p + 1, (size_t)(end - p - 1));
        names[*n][end - p - 1] = '\0';
        if (end[1] == ';') { /* component parameters (;sf, ;key=...) are outside the profile */
            xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: component parameters are not accepted");
            return NULL;
        }
        if (!known_component(names[*n])) {
            xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: component \"%s\" is outside the profile",
                         names[*n]);
            return NULL;
        }
        for (size_t i = 0; i < *n; i++)
            if (!strcmp(names[i], names[*n])) {
                xb_error_set(err, XB_EINVAL, NULL, "httpsig: component \"%s\" listed twice",
                             names[*n]);
                return NULL;
            }
        (*n)++;
        p = end + 1;
    }
}

/* Reads ;created=N;keyid="...";alg="..." (any order; unknown parameters are ignored, as the RFC
 * allows, since they are still covered by the signature). */
static int parse_params(const char *p, int64_t *created, char *keyid, size_t keyidsz, char *alg,
                        size_t algsz, xb_error *err)
{
    *created = -1;
    keyid[0] = alg[0] = '\0';
    while (*p == ';') {
        p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return xb_error_set(err, XB_EINVAL, NULL, "httpsig: malformed signature parameter");
        size_t kl = (size_t)(eq - p);
        const char *v = eq + 1;
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');
            if (!end)
                return xb_error_set(err, XB_EINVAL, NULL, "httpsig: unterminated string parameter");
            size_t vl = (size_t)(end - v - 1);
            if (kl == 5 && !strncmp(p, "keyid", 5) && vl < keyidsz) {
                memcpy(keyid, v + 1, vl);
                keyid[vl] = '\0';
            } else if (kl == 3 && !strncmp(p, "alg", 3) && vl < algsz) {
                memcpy(alg, v + 1, vl);
                alg[vl] = '\0';
            }
            p = end + 1;
        } else {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (end == v)
                return xb_error_set(err, XB_EINVAL, NULL, "httpsig: malformed parameter value");
            if (kl == 7 && !strncmp(p, "created", 7))
                *created = n;
            p = end;
        }
    }
    if (*skip_ws(p) != '\0')
        return xb_error_set(err, XB_EINVAL, NULL,
                            "httpsig: trailing bytes after signature parameters");
    return 0;
}

/* Decodes ":BASE64:" into out; returns decoded length or -1. */
static int decode_byte_seq(unsigned char *out, size_t outsz, const char *v)
{
    size_t len = strlen(v);
    if (len < 2 || v[0] != ':' || v[len - 1] != ':')
        return -1;
    size_t b64len = len - 2;
    if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > outsz)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)v + 1, (int)b64len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes; take them off. */
    if (v[len - 2] == '=')
        n--;
    if (v[len - 3] == '=')
        n--;
    return n;
}

static int check_digest(const xb_httpsig_message *msg, const char *header, xb_error *err)
{
    char want[64];
    int rc = xb_httpsig_content_digest(want, sizeof want, msg->body, msg->body_len, err);
    if (rc)
        return rc;
    const char *v = find_member(header, "sha-256");
    char got[128];
    if (!v || member_value(got, sizeof got, v) != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: Content-Digest has no sha-256 member");
    if (strcmp(got, want + strlen("sha-256=")) != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: body does not match Content-Digest");
    return 0;
}

static int covers_profile(char names[][32], size_t n)
{
    int method = 0, path = 0, digest = 0, key = 0;
    for (size_t i = 0; i < n; i++) {
        method |= !strcmp(names[i], "@method");
        path |= !strcmp(names[i], "@path") || !strcmp(names[i], "@target-uri");
        digest |= !strcmp(names[i], "content-digest");
        key |= !strcmp(names[i], "idempotency-key");
    }
    return method && path && digest && key;
}

static void trim_copy(char *out, size_t outsz, const char *in)
{
    in = skip_ws(in);
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

int xb_httpsig_verify(const xb_httpsig_message *msg, const char *content_digest,
                      const char *signature_input, const char *signature, const xb_httpsig_key *key,
                      const char *expected_keyid, int64_t now, int64_t max_age_s, xb_error *err)
{
    if (!content_digest)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: missing Content-Digest");
    if (!signature_input || !signature)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: missing Signature-Input or Signature");
    if (!key)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: no verification key");
    int rc = check_digest(msg, content_digest, err);
    if (rc)
        return rc;

    const char *in = find_member(signature_input, SIG_LABEL);
    const char *sv = find_member(signature, SIG_LABEL);
    if (!in || !sv)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: no \"" SIG_LABEL "\" signature");
    char params[1024], sigval[256];
    if (member_value(params, sizeof params, in) != 0 ||
        member_value(sigval, sizeof sigval, sv) != 0)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "httpsig: malformed Signature-Input or Signature");

    char names[MAX_COMPONENTS][32];
    size_t n;
    xb_error perr;
    const char *pp = parse_inner_list(params, names, &n, &perr);
    if (!pp) {
        if (err)
            *err = perr;
        return perr.code;
    }
    if (!covers_profile(names, n))
        return xb_error_set(err, XB_ECRYPTO, NULL,
                            "httpsig: signature must cover @method, @path or "
                            "@target-uri, content-digest and idempotency-key");
    int64_t created;
    char keyid[256], alg[32];
    if ((rc = parse_params(pp, &created, keyid, sizeof keyid, alg, sizeof alg, err)) != 0)
        return rc;
    if (alg[0] && strcmp(alg, "ed25519") != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: algorithm \"%s\" is not ed25519", alg);
    if (expected_keyid && strcmp(keyid, expected_keyid) != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: unknown keyid \"%s\"", keyid);
    if (max_age_s > 0) {
        if (created < 0)
            return xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: signature has no created time");
        if (created < now - max_age_s || created > now + 60)
            return xb_error_set(err, XB_ECRYPTO, NULL,
                                "httpsig: signature created=%lld is outside the "
                                "accepted window",
                                (long long)created);
    }

    unsigned char sig[96];
    int siglen = decode_byte_seq(sig, sizeof sig, sigval);
    if (siglen != 64)
        return xb_error_set(err, XB_ECRYPTO, NULL,
                            "httpsig: Signature is not a 64-byte Ed25519 value");

    char digest_trimmed[512];
    trim_copy(digest_trimmed, sizeof digest_trimmed, content_digest);
    xb_buf base = XB_BUF_INIT;
    rc = build_base(&base, msg, digest_trimmed, names, n, params, err);
    if (rc == 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) != 1 ||
            EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)base.data, base.len) != 1)
            rc = xb_error_set(err, XB_ECRYPTO, NULL, "httpsig: signature does not verify");
        EVP_MD_CTX_free(ctx);
    }
    xb_buf_free(&base);
    return rc;
}
