/* catalog_store.h — rule catalogs kept by hash, so a replay can use the exact catalog a decision
 * was made with (issue #7).
 *
 * Owns: a directory of catalog files named "<sha256>.yaml" (plus "<sha256>.yaml.sig" when the
 * catalog was signed), where sha256 is the hash the policy engine records in every decision:
 * SHA-256 of the catalog's canonical JSON (xb_yaml_canonical), not of the file's bytes. Entries
 * are written once (temp file + rename) and checked against their name when read.
 * Never: overwrites or deletes an entry; trusts a file whose content does not hash to its name.
 */
#ifndef XB_CATALOG_STORE_H
#define XB_CATALOG_STORE_H

#include <stddef.h>

#include "iso20022/error.h"

/* The hash a decision records for this catalog file. */
int xb_catalog_store_hash(char sha_out[65], const char *catalog_path, xb_error *err);
/* Copies catalog_path into dir (created if needed) under its hash; idempotent. */
int xb_catalog_store_put(char sha_out[65], const char *dir, const char *catalog_path,
                         xb_error *err);
/* Path of the stored catalog with this hash, re-hashed to check it. XB_ENOTFOUND when absent,
 * XB_ECRYPTO when its content no longer matches its name. */
int xb_catalog_store_get(char *path_out, size_t cap, const char *dir, const char *sha256,
                         xb_error *err);

#endif
