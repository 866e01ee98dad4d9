/* merkle.h — RFC 6962 / RFC 9162 Merkle tree hashing over the audit log's entries.
 *
 * Owns: leaf and node hashing (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r)),
 * the tree head of n leaves (MTH), an incremental "frontier" (the roots of the perfect subtrees
 * that make up the first n leaves) so a writer can sign heads without keeping every leaf,
 * inclusion proofs (audit paths) and their verification.
 * In the audit log, leaf data is the 32-byte chain hash of each entry (seq 1 = leaf index 0).
 * Never: allocates per leaf in the frontier, reads files, or trusts a proof it did not verify.
 */
#ifndef XB_MERKLE_H
#define XB_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "iso20022/error.h"

#define XB_MERKLE_HASH 32
#define XB_MERKLE_MAX_DEPTH 64

void xb_merkle_leaf_hash(uint8_t out[XB_MERKLE_HASH], const uint8_t *data, size_t len);
void xb_merkle_node_hash(uint8_t out[XB_MERKLE_HASH], const uint8_t l[XB_MERKLE_HASH],
                         const uint8_t r[XB_MERKLE_HASH]);

/* Compact range [0, size): one root per set bit of size, largest subtree first. */
typedef struct xb_merkle_frontier {
    uint64_t size;
    size_t n;
    uint8_t roots[XB_MERKLE_MAX_DEPTH][XB_MERKLE_HASH];
} xb_merkle_frontier;

void xb_merkle_frontier_init(xb_merkle_frontier *f);
/* Appends one leaf whose LEAF hash (already 0x00-prefixed hashed) is given. */
void xb_merkle_frontier_push(xb_merkle_frontier *f, const uint8_t leaf_hash[XB_MERKLE_HASH]);
/* MTH of the leaves pushed so far (the SHA-256 of the empty string when there are none). */
void xb_merkle_frontier_root(const xb_merkle_frontier *f, uint8_t out[XB_MERKLE_HASH]);

/* MTH over leaf hashes leaves[0..n). */
int xb_merkle_root(uint8_t out[XB_MERKLE_HASH], const uint8_t (*leaves)[XB_MERKLE_HASH], size_t n,
                   xb_error *err);

/* Audit path for leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1).
 * *path_out (caller frees) gets *len_out hashes, nearest sibling first. */
int xb_merkle_proof(uint8_t (**path_out)[XB_MERKLE_HASH], size_t *len_out,
                    const uint8_t (*leaves)[XB_MERKLE_HASH], uint64_t size, uint64_t index,
                    xb_error *err);

/* RFC 9162 §2.1.3.2: 0 when leaf_hash at index is in the tree of `size` leaves with `root`;
 * XB_ECRYPTO otherwise (message says why). */
int xb_merkle_verify(const uint8_t leaf_hash[XB_MERKLE_HASH], uint64_t index, uint64_t size,
                     const uint8_t (*path)[XB_MERKLE_HASH], size_t len,
                     const uint8_t root[XB_MERKLE_HASH], xb_error *err);

/* Lower-case hex helpers (out must hold 2 * n + 1 bytes). from_hex: 0 or -1. */
void xb_merkle_hex(char *out, const uint8_t *in, size_t n);
int xb_merkle_unhex(uint8_t *out, const char *hex, size_t n);

#endif
