/* catalog_store.h — rule catalogs kept by hash, so a replay can use the exact catalog a decision
 * was made with (issue #7).
 *
 * Owns: a directory of catalog files named "<sha256>.yaml" (plus "<sha256>.yaml.sig" when the
 * catalog was signed), where sha256 is the hash the policy engine records in every decision:
 * SHA-256 of the catalog's canonical JSON (xb_yaml_canonical), not of the file's bytes. Entries
 * are written once (temp file + rename) and checked against their name when read.
 * Also reads the catalog-signing public key for the policy engine, which is given its bytes.
 * Never: overwrites or deletes an entry; trusts a file whose content does not hash to its name.
 */
#ifndef XB_CATALOG_STORE_H
#define XB_CATALOG_STORE_H

#include <stddef.h>

#include "adapter/policy/policy.h"
#include "iso20022/buf.h"
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

/* Reads the PEM public key that signs catalogs (policy.catalog_pubkey) into out: the policy
 * engine does no file I/O for it, it is handed these bytes. XB_ECONFIG when unreadable. */
int xb_catalog_store_read_pubkey(xb_buf *out, const char *pubkey_path, xb_error *err);
/* xb_policy_catalog_set_load with the key read here first (pubkey_path NULL: unsigned). */
int xb_catalog_store_load(xb_policy_catalog_set *set, const char *catalog_path,
                          const char *pubkey_path, xb_error *err);

#endif
