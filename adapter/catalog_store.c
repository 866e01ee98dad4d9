/* catalog_store.c — content-addressed catalog files (see catalog_store.h).
 *
 * Owns: hashing a catalog the way policy/catalog.c does and the store's file layout.
 * Never: parses rules (the policy engine does, when replay loads the file).
 */
#include "adapter/catalog_store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"

#define MAX_CATALOG_BYTES (4u << 20)

int xb_catalog_store_hash(char sha_out[65], const char *catalog_path, xb_error *err)
{
    json_t *tree = NULL;
    int rc = xb_yaml_load_file(&tree, catalog_path, err);
    if (rc < 0)
        return rc;
    char *canon = xb_yaml_canonical(tree);
    json_decref(tree);
    if (!canon)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    uint8_t md[32];
    unsigned len = 0;
    int ok = EVP_Digest(canon, strlen(canon), md, &len, EVP_sha256(), NULL);
    free(canon);
    if (ok != 1)
        return xb_error_set(err, XB_ECRYPTO, NULL, "SHA-256 failed");
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        sha_out[2 * i] = digits[md[i] >> 4];
        sha_out[2 * i + 1] = digits[md[i] & 15];
    }
    sha_out[64] = '\0';
    return 0;
}

static int copy_file(const char *from, const char *to, xb_error *err)
{
    xb_buf data = XB_BUF_INIT;
    if (xb_buf_read_file(&data, from, MAX_CATALOG_BYTES) < 0) {
        xb_buf_free(&data);
        return xb_error_set(err, XB_EIO, from, "catalog store: cannot read %s", from);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", to, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(data.data, 1, data.len, f) == data.len;
    if (f)
        ok = (fclose(f) == 0) && ok;
    xb_buf_free(&data);
    if (!ok || rename(tmp, to) < 0) {
        unlink(tmp);
        return xb_error_set(err, XB_EIO, to, "catalog store: cannot write %s", to);
    }
    return 0;
}

int xb_catalog_store_put(char sha_out[65], const char *dir, const char *catalog_path, xb_error *err)
{
    int rc = xb_catalog_store_hash(sha_out, catalog_path, err);
    if (rc < 0)
        return rc;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return xb_error_set(err, XB_EIO, dir, "catalog store: cannot create %s: %s", dir,
                            strerror(errno));
    char dst[4096], sig[4200], dsig[4200];
    snprintf(dst, sizeof dst, "%s/%s.yaml", dir, sha_out);
    if (access(dst, F_OK) != 0 && (rc = copy_file(catalog_path, dst, err)) < 0)
        return rc;
    snprintf(sig, sizeof sig, "%s.sig", catalog_path);
    snprintf(dsig, sizeof dsig, "%s.sig", dst);
    if (access(sig, F_OK) == 0 && access(dsig, F_OK) != 0)
        rc = copy_file(sig, dsig, err);
    return rc;
}

int xb_catalog_store_get(char *path_out, size_t cap, const char *dir, const char *sha256,
                         xb_error *err)
{
    if (!sha256 || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64)
        return xb_error_set(err, XB_EINVAL, NULL, "catalog store: not a SHA-256: %.80s",
                            sha256 ? sha256 : "(null)");
    snprintf(path_out, cap, "%s/%s.yaml", dir, sha256);
    if (access(path_out, R_OK) != 0)
        return xb_error_set(err, XB_ENOTFOUND, path_out,
                            "catalog %s is not in the store %s (add it with the catalogs that "
                            "were in force)",
                            sha256, dir);
    char actual[65];
    int rc = xb_catalog_store_hash(actual, path_out, err);
    if (rc < 0)
        return rc;
    if (strcmp(actual, sha256))
        return xb_error_set(err, XB_ECRYPTO, path_out,
                            "catalog store: %s does not hash to its name (it is %s)", path_out,
                            actual);
    return 0;
}

/* A PEM public key is a few hundred bytes; anything much larger is not one. */
#define MAX_PUBKEY_BYTES 65536

int xb_catalog_store_read_pubkey(xb_buf *out, const char *pubkey_path, xb_error *err)
{
    if (xb_buf_read_file(out, pubkey_path, MAX_PUBKEY_BYTES) < 0)
        return xb_error_set(err, XB_ECONFIG, pubkey_path,
                            "catalog public key %s: missing, unreadable or over 64 KiB",
                            pubkey_path);
    return 0;
}

int xb_catalog_store_load(xb_policy_catalog_set *set, const char *catalog_path,
                          const char *pubkey_path, xb_error *err)
{
    xb_buf pem = XB_BUF_INIT;
    xb_policy_catalog_opts opts = {.pubkey_path = pubkey_path};
    int rc = 0;
    if (pubkey_path) {
        /* An unreadable key refuses the catalog as a bad key would (XB_ECRYPTO), as before. */
        if (xb_catalog_store_read_pubkey(&pem, pubkey_path, NULL))
            xb_buf_reset(&pem);
        opts.pubkey_pem = (const uint8_t *)(pem.data ? pem.data : "");
        opts.pubkey_pem_len = pem.len;
    }
    rc = xb_policy_catalog_set_load(set, catalog_path, pubkey_path ? &opts : NULL, err);
    xb_buf_free(&pem);
    return rc;
}
