/* fuzz_receiver.c — libFuzzer harness for the reference receiver's request handling
 * (adapter/transport/receiver.c): header checks, Idempotency-Key rules and file naming,
 * multipart/mixed batch framing, XML well-formedness (DOCTYPE refused) and the RFC 9421
 * signature verification (adapter/transport/httpsig.c) — everything a peer controls after the
 * TLS handshake, without libmicrohttpd's sockets in the way.
 *
 * The receiver's helpers are file-static, so this harness compiles receiver.c into itself
 * (it therefore does not link xb_adapter, whose copy would clash). Input layout:
 *   content-type \n idempotency-key \n content-digest \n signature-input \n signature \n body
 * (missing lines are absent headers). Half the inputs get a valid signature made here, so the
 * fuzzer also reaches what happens after a signature passes.
 * Owns nothing on disk. Any crash, sanitizer report, leak or broken promise is a bug. */
#include "adapter/transport/receiver.c"

#include <openssl/pem.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xb_httpsig_key *g_priv, *g_pub;

static void make_keys(void)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pk) <= 0)
        abort();
    EVP_PKEY_CTX_free(ctx);
    BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(a, pk, NULL, NULL, 0, NULL, NULL);
    PEM_write_bio_PUBKEY(b, pk);
    char *pa, *pb;
    long la = BIO_get_mem_data(a, &pa), lb = BIO_get_mem_data(b, &pb);
    xb_error err;
    if (xb_httpsig_key_from_pem(&g_priv, pa, (size_t)la, &err) ||
        xb_httpsig_key_from_pem(&g_pub, pb, (size_t)lb, &err))
        abort();
    BIO_free(a);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

/* Cuts the next line (up to '\n') into dst; NULL-ish (empty dst, returns 0) when input ends. */
static int take_line(char *dst, size_t cap, const uint8_t **p, size_t *n)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    if (!nl) {
        dst[0] = '\0';
        return 0;
    }
    size_t len = (size_t)(nl - *p);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, *p, len);
    dst[len] = '\0';
    /* headers are C strings in libmicrohttpd: they end at the first NUL */
    *n -= (size_t)(nl - *p) + 1;
    *p = nl + 1;
    return 1;
}

/* What handle_batch decides for each part, without the store. */
static void batch_checks(const char *ctype, const char *body, size_t len)
{
    char delim[80];
    part *parts;
    size_t n;
    if (boundary_of(delim, sizeof delim, ctype) != 0 ||
        split_parts(&parts, &n, body, len, delim) != 0)
        return;
    if (n == 0 || n > MAX_PARTS)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        if (parts[i].body < body || parts[i].body + parts[i].len > body + len)
            __builtin_trap(); /* a part must lie inside the request body */
        if (valid_key(parts[i].key)) {
            char name[300];
            key_filename(name, sizeof name, parts[i].key);
            if (strchr(name, '/') || name[0] == '.')
                __builtin_trap(); /* never a path outside the store */
        }
        if (xml_type(parts[i].ctype))
            (void)well_formed(parts[i].body, parts[i].len);
    }
    free(parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_pub) {
        xmlInitParser();
        make_keys();
    }
    static char ctype[256], key[512], digest[256], siginput[1200], sig[256];
    int sign_here = size > 0 && (data[0] & 1);
    const uint8_t *p = data + (size > 0);
    size_t n = size - (size > 0);
    int has_ct = take_line(ctype, sizeof ctype, &p, &n);
    int has_key = take_line(key, sizeof key, &p, &n);
    int has_dg = take_line(digest, sizeof digest, &p, &n);
    int has_si = take_line(siginput, sizeof siginput, &p, &n);
    int has_sg = take_line(sig, sizeof sig, &p, &n);
    /* body: a private copy so ASan sees reads past its end */
    char *body = malloc(n ? n : 1);
    if (!body)
        return 0;
    memcpy(body, p, n);

    xb_httpsig_message m = {.method = "POST",
                            .path = "/iso20022",
                            .target_uri = "https://127.0.0.1:8443/iso20022",
                            .content_type = has_ct ? ctype : NULL,
                            .idempotency_key = has_key ? key : NULL,
                            .body = body,
                            .body_len = n};
    xb_error err;
    xb_httpsig_headers h;
    if (sign_here && has_ct && has_key &&
        xb_httpsig_sign(&h, &m, g_priv, "fuzz", 1767225600, 0, &err) == 0) {
        if (xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, g_pub, "fuzz",
                              1767225600, 300, &err) != 0)
            __builtin_trap(); /* what we sign must verify */
    } else {
        (void)xb_httpsig_verify(&m, has_dg ? digest : NULL, has_si ? siginput : NULL,
                                has_sg ? sig : NULL, g_pub, NULL, 1767225600, 300, &err);
    }
    if (has_ct && !strncasecmp(ctype, "multipart/mixed", 15)) {
        batch_checks(ctype, body, n);
    } else if (has_key && valid_key(key)) {
        char name[300];
        key_filename(name, sizeof name, key);
        if (strchr(name, '/') || name[0] == '.')
            __builtin_trap();
        if (xml_type(m.content_type))
            (void)well_formed(body, n);
    }
    free(body);
    return 0;
}
