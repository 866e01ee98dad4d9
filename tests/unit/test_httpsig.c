/* test_httpsig.c — RFC 9530 Content-Digest and RFC 9421 Ed25519 signatures
 * (adapter/transport/httpsig). Keys are made here from fixed seeds (Ed25519 is deterministic, so
 * signatures are reproducible); the signature base is checked against a literal string verified
 * with raw OpenSSL calls, so a base-format bug cannot hide behind sign+verify agreeing with each
 * other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/transport/httpsig.h"

static const char BODY[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"><FIToFICstmrCdtTrf>"
    "<CdtTrfTxInf><IntrBkSttlmAmt Ccy=\"CNY\">1250000.00</IntrBkSttlmAmt>"
    "<Dbtr><Nm>张三</Nm></Dbtr><Cdtr><Nm>香港贸易有限公司</Nm></Cdtr></CdtTrfTxInf>"
    "</FIToFICstmrCdtTrf></Document>\n";
static const char UETR[] = "eb6305c9-1f7f-49de-aed0-16487c27b42d";
static const int64_t CREATED = 1767225600; /* 2026-01-01T00:00:00Z */

/* Makes an Ed25519 key from a fixed seed byte and returns it as PEM (private or public). */
static char *pem_from_seed(unsigned char seed_byte, int private_pem, size_t *len)
{
    unsigned char seed[32];
    memset(seed, seed_byte, sizeof seed);
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    assert_non_null(pk);
    BIO *bio = BIO_new(BIO_s_mem());
    if (private_pem)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *copy = malloc((size_t)n + 1);
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    EVP_PKEY_free(pk);
    return copy;
}

static xb_httpsig_key *key_from_seed(unsigned char seed_byte, int private_key)
{
    size_t len;
    char *pem = pem_from_seed(seed_byte, private_key, &len);
    xb_httpsig_key *k = NULL;
    xb_error err;
    assert_int_equal(xb_httpsig_key_from_pem(&k, pem, len, &err), 0);
    free(pem);
    return k;
}

static xb_httpsig_message sample_msg(void)
{
    xb_httpsig_message m = {.method = "POST",
                            .target_uri = "https://127.0.0.1:8443/iso20022",
                            .path = "/iso20022",
                            .content_type = "application/xml",
                            .idempotency_key = UETR,
                            .body = BODY,
                            .body_len = sizeof BODY - 1};
    return m;
}

static void test_content_digest_rfc9530_example(void **state)
{
    (void)state;
    char d[64];
    const char *json = "{\"hello\": \"world\"}";
    assert_int_equal(xb_httpsig_content_digest(d, sizeof d, json, strlen(json), NULL), 0);
    assert_string_equal(d, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
    assert_int_equal(xb_httpsig_content_digest(d, sizeof d, "", 0, NULL), 0);
    assert_string_equal(d, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    assert_int_equal(xb_httpsig_content_digest(d, 10, "", 0, NULL), XB_EINVAL);
}

static void test_sign_then_verify(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x11, 1), *pub = key_from_seed(0x11, 0);
    assert_true(xb_httpsig_key_is_private(priv));
    assert_false(xb_httpsig_key_is_private(pub));
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    xb_error err;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "cn-bank-1", CREATED, 0, &err), 0);
    assert_string_equal(h.signature_input,
                        "sig1=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\" "
                        "\"content-type\");created=1767225600;keyid=\"cn-bank-1\";alg=\"ed25519\"");
    assert_true(strncmp(h.signature, "sig1=:", 6) == 0);
    assert_int_equal(strlen(h.signature), 6 + 88 + 1);
    /* Verifies with the public key and with the private key's public half. */
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, pub,
                                       "cn-bank-1", CREATED + 10, 300, &err),
                     0);
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, priv,
                                       NULL, CREATED, 0, &err),
                     0);
    /* Ed25519 is deterministic: the same inputs give the same signature. */
    xb_httpsig_headers h2;
    assert_int_equal(xb_httpsig_sign(&h2, &m, priv, "cn-bank-1", CREATED, 0, &err), 0);
    assert_string_equal(h.signature, h2.signature);
    xb_httpsig_key_free(priv);
    xb_httpsig_key_free(pub);
}

/* The base must be exactly RFC 9421 §2.5's format; verify it with raw EVP, not with our verifier.
 */
static void test_signature_base_is_rfc9421(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x22, 1);
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "k2", CREATED, XB_HTTPSIG_TARGET_URI, NULL), 0);
    char base[2048];
    snprintf(base, sizeof base,
             "\"@method\": POST\n"
             "\"@target-uri\": https://127.0.0.1:8443/iso20022\n"
             "\"content-digest\": %s\n"
             "\"idempotency-key\": %s\n"
             "\"content-type\": application/xml\n"
             "\"@signature-params\": (\"@method\" \"@target-uri\" \"content-digest\" "
             "\"idempotency-key\" "
             "\"content-type\");created=1767225600;keyid=\"k2\";alg=\"ed25519\"",
             h.content_digest, UETR);
    unsigned char sig[70];
    const char *b64 = h.signature + 6;
    assert_int_equal(EVP_DecodeBlock(sig, (const unsigned char *)b64, 88), 66);
    size_t plen;
    char *pubpem = pem_from_seed(0x22, 0, &plen);
    BIO *bio = BIO_new_mem_buf(pubpem, (int)plen);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    assert_non_null(pk);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)base, strlen(base)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    BIO_free(bio);
    free(pubpem);
    xb_httpsig_key_free(priv);
}

/* Each tampering must be detected, with a reason that says what. */
static void test_tampering_detected(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x33, 1), *pub = key_from_seed(0x33, 0),
                   *other = key_from_seed(0x44, 0);
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    xb_error err;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "cn-bank-1", CREATED, 0, &err), 0);

    /* 1. body changed (one digit of the amount), digest header kept: digest mismatch. */
    char evil[sizeof BODY];
    memcpy(evil, BODY, sizeof BODY);
    char *amt = strstr(evil, "1250000.00");
    assert_non_null(amt);
    amt[0] = '9';
    xb_httpsig_message t = m;
    t.body = evil;
    assert_int_equal(xb_httpsig_verify(&t, h.content_digest, h.signature_input, h.signature, pub,
                                       NULL, CREATED, 300, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "Content-Digest"));

    /* 2. body changed and digest recomputed by the attacker: the signature fails. */
    char evil_digest[64];
    xb_httpsig_content_digest(evil_digest, sizeof evil_digest, evil, sizeof BODY - 1, NULL);
    assert_int_equal(xb_httpsig_verify(&t, evil_digest, h.signature_input, h.signature, pub, NULL,
                                       CREATED, 300, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "does not verify"));

    /* 3. other covered fields changed. */
    t = m;
    t.idempotency_key = "eb6305c9-1f7f-49de-aed0-16487c27b42e";
    assert_int_equal(xb_httpsig_verify(&t, h.content_digest, h.signature_input, h.signature, pub,
                                       NULL, CREATED, 300, NULL),
                     XB_ECRYPTO);
    t = m;
    t.path = "/iso20022/other";
    assert_int_equal(xb_httpsig_verify(&t, h.content_digest, h.signature_input, h.signature, pub,
                                       NULL, CREATED, 300, NULL),
                     XB_ECRYPTO);
    t = m;
    t.method = "PUT";
    assert_int_equal(xb_httpsig_verify(&t, h.content_digest, h.signature_input, h.signature, pub,
                                       NULL, CREATED, 300, NULL),
                     XB_ECRYPTO);
    t = m;
    t.content_type = "text/plain";
    assert_int_equal(xb_httpsig_verify(&t, h.content_digest, h.signature_input, h.signature, pub,
                                       NULL, CREATED, 300, NULL),
                     XB_ECRYPTO);

    /* 4. a different key, a different expected keyid, a changed created. */
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, other,
                                       NULL, CREATED, 300, NULL),
                     XB_ECRYPTO);
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, pub,
                                       "hk-bank", CREATED, 300, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "keyid"));
    char forged_input[1024];
    snprintf(forged_input, sizeof forged_input, "%s", h.signature_input);
    char *c = strstr(forged_input, "created=1767225600");
    c[strlen("created=176722560")] = '9';
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, forged_input, h.signature, pub, NULL,
                                       CREATED, 0, NULL),
                     XB_ECRYPTO);

    /* 5. one flipped bit of the signature. */
    char sig[128];
    snprintf(sig, sizeof sig, "%s", h.signature);
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, sig, pub, NULL,
                                       CREATED, 300, NULL),
                     XB_ECRYPTO);
    xb_httpsig_key_free(priv);
    xb_httpsig_key_free(pub);
    xb_httpsig_key_free(other);
}

static void test_age_window(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x55, 1);
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    xb_error err;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "k", CREATED, 0, NULL), 0);
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, priv,
                                       NULL, CREATED + 300, 300, NULL),
                     0);
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, priv,
                                       NULL, CREATED + 301, 300, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "window"));
    /* From the future beyond the 60 s clock skew allowance. */
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, priv,
                                       NULL, CREATED - 61, 300, NULL),
                     XB_ECRYPTO);
    xb_httpsig_key_free(priv);
}

/* A signer that covers less than the profile (e.g. drops idempotency-key so a captured request
 * can be replayed under another key) or adds components we don't know must be refused, even
 * when its signature is mathematically valid. */
static void test_profile_enforced(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x66, 1);
    xb_httpsig_message m = sample_msg();
    char digest[64];
    xb_httpsig_content_digest(digest, sizeof digest, m.body, m.body_len, NULL);
    const char *params =
        "(\"@method\" \"@path\" \"content-digest\");created=1767225600;keyid=\"k\"";
    char base[1024];
    snprintf(base, sizeof base,
             "\"@method\": POST\n\"@path\": /iso20022\n\"content-digest\": %s\n"
             "\"@signature-params\": %s",
             digest, params);
    /* Sign that weaker base with raw EVP (our signer refuses to produce it). */
    unsigned char seed[32];
    memset(seed, 0x66, sizeof seed);
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)base, strlen(base)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    unsigned char b64[100];
    EVP_EncodeBlock(b64, sig, 64);
    char sighdr[128], inhdr[512];
    snprintf(sighdr, sizeof sighdr, "sig1=:%s:", b64);
    snprintf(inhdr, sizeof inhdr, "sig1=%s", params);
    xb_error err;
    assert_int_equal(xb_httpsig_verify(&m, digest, inhdr, sighdr, priv, NULL, CREATED, 0, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "must cover"));

    /* Unknown component and component parameters. */
    assert_int_equal(
        xb_httpsig_verify(&m, digest,
                          "sig1=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\" "
                          "\"x-evil\");created=1",
                          sighdr, priv, NULL, CREATED, 0, &err),
        XB_ECRYPTO);
    assert_non_null(strstr(err.message, "x-evil"));
    assert_int_equal(xb_httpsig_verify(&m, digest,
                                       "sig1=(\"@method\";req \"@path\" \"content-digest\" "
                                       "\"idempotency-key\");created=1",
                                       sighdr, priv, NULL, CREATED, 0, NULL),
                     XB_ECRYPTO);
    /* Wrong algorithm label. */
    xb_httpsig_headers h;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "k", CREATED, 0, NULL), 0);
    char alg_input[1024];
    snprintf(alg_input, sizeof alg_input, "%s", h.signature_input);
    char *a = strstr(alg_input, "ed25519");
    memcpy(a, "rsa-v15", 7);
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, alg_input, h.signature, priv, NULL,
                                       CREATED, 0, &err),
                     XB_ECRYPTO);
    assert_non_null(strstr(err.message, "algorithm"));
    xb_httpsig_key_free(priv);
}

/* Hostile header syntax must give an error, never a crash or a pass (runs under ASan). */
static void test_malformed_headers(void **state)
{
    (void)state;
    xb_httpsig_key *priv = key_from_seed(0x77, 1);
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "k", CREATED, 0, NULL), 0);
    const char *bad_inputs[] = {
        "",
        "sig1=",
        "sig1=(",
        "sig1=(\"@method",
        "sig1=(\"\")",
        "sig2=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\")",
        "sig1=(\"@method\" \"@method\" \"@path\" \"content-digest\" \"idempotency-key\")",
        "sig1=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\");created=",
        "sig1=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\");keyid=\"x",
        "sig1=(\"a\" \"b\" \"c\" \"d\" \"e\" \"f\" \"g\" \"h\" \"i\" \"j\")",
        "sig1=(\"@method\" \"@path\" \"content-digest\" \"idempotency-key\")garbage",
        "sig1=(\"@methodaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\")"};
    for (size_t i = 0; i < sizeof bad_inputs / sizeof bad_inputs[0]; i++)
        assert_int_not_equal(xb_httpsig_verify(&m, h.content_digest, bad_inputs[i], h.signature,
                                               priv, NULL, CREATED, 0, NULL),
                             0);
    const char *bad_sigs[] = {
        "",
        "sig1=",
        "sig1=::",
        "sig1=:AAAA:",
        "sig1=:!!!!:",
        "sig1=:not base64 at all:",
        "sig1=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:"};
    for (size_t i = 0; i < sizeof bad_sigs / sizeof bad_sigs[0]; i++)
        assert_int_not_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, bad_sigs[i],
                                               priv, NULL, CREATED, 0, NULL),
                             0);
    assert_int_not_equal(xb_httpsig_verify(&m, "sha-512=:AAAA:", h.signature_input, h.signature,
                                           priv, NULL, CREATED, 0, NULL),
                         0);
    assert_int_not_equal(
        xb_httpsig_verify(&m, NULL, h.signature_input, h.signature, priv, NULL, CREATED, 0, NULL),
        0);
    assert_int_not_equal(
        xb_httpsig_verify(&m, h.content_digest, NULL, h.signature, priv, NULL, CREATED, 0, NULL),
        0);
    /* A Content-Digest with several members (RFC 9530 allows a list) passes the digest check, but
     * the signature covered the value as sent, so a header rewritten in transit is refused. */
    char multi[256];
    snprintf(multi, sizeof multi, "sha-512=:AAAA:, %s", h.content_digest);
    xb_httpsig_headers h2;
    assert_int_equal(xb_httpsig_verify(&m, h.content_digest, h.signature_input, h.signature, priv,
                                       NULL, CREATED, 0, NULL),
                     0);
    assert_int_not_equal(
        xb_httpsig_verify(&m, multi, h.signature_input, h.signature, priv, NULL, CREATED, 0, NULL),
        0); /* digest matches but the signed value differs: refused */
    /* A header value with a line break cannot be smuggled into the base. */
    xb_httpsig_message t = m;
    t.idempotency_key = "abc\n\"@path\": /x";
    assert_int_not_equal(xb_httpsig_sign(&h2, &t, priv, "k", CREATED, 0, NULL), 0);
    xb_httpsig_key_free(priv);
}

static void test_keys(void **state)
{
    (void)state;
    xb_httpsig_key *k = NULL;
    xb_error err;
    assert_int_equal(xb_httpsig_key_from_pem(&k, "not a pem", 9, &err), XB_ECRYPTO);
    assert_null(k);
    /* An EC P-256 key is refused: the profile is Ed25519 only. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    assert_int_equal(xb_httpsig_key_from_pem(&k, data, (size_t)n, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "Ed25519"));
    BIO_free(bio);
    EVP_PKEY_free(ec);
    assert_int_equal(xb_httpsig_key_load(&k, "/nonexistent/sign.key", &err), XB_EIO);
    /* A public key cannot sign. */
    xb_httpsig_key *pub = key_from_seed(0x11, 0);
    xb_httpsig_message m = sample_msg();
    xb_httpsig_headers h;
    assert_int_equal(xb_httpsig_sign(&h, &m, pub, "k", CREATED, 0, &err), XB_ECRYPTO);
    xb_httpsig_key_free(pub);
    /* A keyid that would break out of its quoted string is refused. */
    xb_httpsig_key *priv = key_from_seed(0x11, 1);
    assert_int_equal(xb_httpsig_sign(&h, &m, priv, "bad\"id", CREATED, 0, &err), XB_EINVAL);
    xb_httpsig_key_free(priv);
    /* From a file (what the CLI does). */
    size_t len;
    char *pem = pem_from_seed(0x12, 1, &len);
    char path[] = "/tmp/xb-httpsig-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fwrite(pem, 1, len, f);
    fclose(f);
    assert_int_equal(xb_httpsig_key_load(&k, path, &err), 0);
    assert_true(xb_httpsig_key_is_private(k));
    xb_httpsig_key_free(k);
    unlink(path);
    free(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_digest_rfc9530_example),
        cmocka_unit_test(test_sign_then_verify),
        cmocka_unit_test(test_signature_base_is_rfc9421),
        cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_age_window),
        cmocka_unit_test(test_profile_enforced),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
