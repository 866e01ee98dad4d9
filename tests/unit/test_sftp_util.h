/* test_sftp_util.h — helpers shared by the SFTP sink's tests (unit and integration).
 *
 * Owns: test-time Ed25519 manifest keys, fixture loading, the pacs.008 CNY message generator.
 * Never: used by production code; writes outside the temporary folder a test gives it.
 */
#ifndef XB_TEST_SFTP_UTIL_H
#define XB_TEST_SFTP_UTIL_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso20022/buf.h"

/* Writes a fresh Ed25519 private key (PKCS#8 PEM) to path. 0 on success. */
static inline int sftp_test_make_ed25519(const char *path)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f = k ? fopen(path, "w") : NULL;
    int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f)
        fclose(f);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

/* Reads fixtures/transport/sftp/<name> into out (NUL-terminated). 0 on success. */
static inline int sftp_test_fixture(xb_buf *out, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/transport/sftp/%s", XB_FIXTURES, name);
    return xb_buf_read_file(out, path, 1u << 20);
}

/* Replaces every `tag` in in by `val` into out. */
static inline int sftp_test_replace(xb_buf *out, const char *in, const char *tag, const char *val)
{
    xb_buf_reset(out);
    size_t tl = strlen(tag);
    const char *p = in, *q;
    while ((q = strstr(p, tag))) {
        if (xb_buf_append(out, p, (size_t)(q - p)) < 0 || xb_buf_puts(out, val) < 0)
            return -1;
        p = q + tl;
    }
    return xb_buf_puts(out, p);
}

/* Message number seq from the pacs.008 CNY template: unique MsgId, UETR and amount.
 * uetr_out (37 bytes) receives the UETR, which is also the message's idempotency key. */
static inline int sftp_test_message(xb_buf *out, const char *tmpl, unsigned seq, char *uetr_out)
{
    char sq[16], uetr[37], amt[32];
    snprintf(sq, sizeof sq, "%08u", seq);
    snprintf(uetr, sizeof uetr, "5a1f0c3e-%04x-4%03x-8%03x-%012x", seq & 0xffff, (seq >> 4) & 0xfff,
             seq & 0xfff, seq * 2654435761u);
    snprintf(amt, sizeof amt, "%u.%02u", 1000 + seq * 7, seq % 100);
    xb_buf a = XB_BUF_INIT, b = XB_BUF_INIT;
    int rc = sftp_test_replace(&a, tmpl, "@SEQ@", sq) ||
             sftp_test_replace(&b, a.data, "@UETR@", uetr) ||
             sftp_test_replace(out, b.data, "@AMT@", amt);
    xb_buf_free(&a);
    xb_buf_free(&b);
    if (uetr_out)
        memcpy(uetr_out, uetr, sizeof uetr);
    return rc ? -1 : 0;
}

#endif
