/* merkle.c — RFC 6962 Merkle tree heads, frontiers, audit paths and their verification.
 *
 * Owns: the hashing rules of merkle.h. The recursive MTH and PATH follow RFC 6962 §2.1 word for
 * word (split at the largest power of two below n) so that proofs interoperate with CT tooling.
 * Never: reads or writes files; never accepts a proof whose length does not fit the tree.
 */
#include "adapter/state/merkle.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sha256_parts(uint8_t out[XB_MERKLE_HASH], uint8_t prefix, const uint8_t *a, size_t alen,
                         const uint8_t *b, size_t blen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, &prefix, 1);
    if (alen)
        EVP_DigestUpdate(ctx, a, alen);
    if (blen)
        EVP_DigestUpdate(ctx, b, blen);
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
}

void xb_merkle_leaf_hash(uint8_t out[XB_MERKLE_HASH], const uint8_t *data, size_t len)
{
    sha256_parts(out, 0x00, data, len, NULL, 0);
}

void xb_merkle_node_hash(uint8_t out[XB_MERKLE_HASH], const uint8_t l[XB_MERKLE_HASH],
                         const uint8_t r[XB_MERKLE_HASH])
{
    uint8_t tmp[XB_MERKLE_HASH];
    sha256_parts(tmp, 0x01, l, XB_MERKLE_HASH, r, XB_MERKLE_HASH);
    memcpy(out, tmp, XB_MERKLE_HASH); /* out may alias l or r */
}

static void empty_root(uint8_t out[XB_MERKLE_HASH])
{
    unsigned len = 0;
    EVP_Digest("", 0, out, &len, EVP_sha256(), NULL);
}

void xb_merkle_frontier_init(xb_merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

void xb_merkle_frontier_push(xb_merkle_frontier *f, const uint8_t leaf_hash[XB_MERKLE_HASH])
{
    uint8_t cur[XB_MERKLE_HASH];
    memcpy(cur, leaf_hash, XB_MERKLE_HASH);
    /* Like a binary counter: every carry merges the smallest subtree with the new one. */
    for (uint64_t s = f->size; s & 1; s >>= 1)
        xb_merkle_node_hash(cur, f->roots[--f->n], cur);
    memcpy(f->roots[f->n++], cur, XB_MERKLE_HASH);
    f->size++;
}

void xb_merkle_frontier_root(const xb_merkle_frontier *f, uint8_t out[XB_MERKLE_HASH])
{
    if (f->n == 0) {
        empty_root(out);
        return;
    }
    /* MTH splits at the largest power of two, so the smaller subtrees on the right fold first. */
    uint8_t acc[XB_MERKLE_HASH];
    memcpy(acc, f->roots[f->n - 1], XB_MERKLE_HASH);
    for (size_t i = f->n - 1; i-- > 0;)
        xb_merkle_node_hash(acc, f->roots[i], acc);
    memcpy(out, acc, XB_MERKLE_HASH);
}

static uint64_t split_point(uint64_t n) /* largest power of two strictly below n (n >= 2) */
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static void mth(uint8_t out[XB_MERKLE_HASH], const uint8_t (*leaves)[XB_MERKLE_HASH], uint64_t n)
{
    if (n == 1) {
        memcpy(out, leaves[0], XB_MERKLE_HASH);
        return;
    }
    uint64_t k = split_point(n);
    uint8_t l[XB_MERKLE_HASH], r[XB_MERKLE_HASH];
    mth(l, leaves, k);
    mth(r, leaves + k, n - k);
    xb_merkle_node_hash(out, l, r);
}

int xb_merkle_root(uint8_t out[XB_MERKLE_HASH], const uint8_t (*leaves)[XB_MERKLE_HASH], size_t n,
                   xb_error *err)
{
    if (n == 0)
        empty_root(out);
    else
        mth(out, leaves, n);
    return 0;
}

static void path(uint8_t (*acc)[XB_MERKLE_HASH], size_t *len,
                 const uint8_t (*leaves)[XB_MERKLE_HASH], uint64_t n, uint64_t m)
{
    if (n <= 1)
        return;
    uint64_t k = split_point(n);
    if (m < k) {
        path(acc, len, leaves, k, m);
        mth(acc[(*len)++], leaves + k, n - k);
    } else {
        path(acc, len, leaves + k, n - k, m - k);
        mth(acc[(*len)++], leaves, k);
    }
}

int xb_merkle_proof(uint8_t (**path_out)[XB_MERKLE_HASH], size_t *len_out,
                    const uint8_t (*leaves)[XB_MERKLE_HASH], uint64_t size, uint64_t index,
                    xb_error *err)
{
    *path_out = NULL;
    *len_out = 0;
    if (index >= size)
        return xb_error_set(err, XB_EINVAL, NULL, "merkle: leaf %llu is outside a tree of %llu",
                            (unsigned long long)index, (unsigned long long)size);
    uint8_t(*acc)[XB_MERKLE_HASH] = calloc(XB_MERKLE_MAX_DEPTH, XB_MERKLE_HASH);
    if (!acc)
        return xb_error_set(err, XB_ENOMEM, NULL, "merkle: out of memory");
    path(acc, len_out, leaves, size, index);
    *path_out = acc;
    return 0;
}

int xb_merkle_verify(const uint8_t leaf_hash[XB_MERKLE_HASH], uint64_t index, uint64_t size,
                     const uint8_t (*proof)[XB_MERKLE_HASH], size_t len,
                     const uint8_t root[XB_MERKLE_HASH], xb_error *err)
{
    if (index >= size)
        return xb_error_set(err, XB_ECRYPTO, NULL, "proof: index %llu outside tree of %llu",
                            (unsigned long long)index, (unsigned long long)size);
    uint64_t fn = index, sn = size - 1;
    uint8_t r[XB_MERKLE_HASH];
    memcpy(r, leaf_hash, XB_MERKLE_HASH);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return xb_error_set(err, XB_ECRYPTO, NULL, "proof: longer than the tree is deep");
        if ((fn & 1) || fn == sn) {
            xb_merkle_node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            xb_merkle_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "proof: shorter than the tree is deep");
    if (memcmp(r, root, XB_MERKLE_HASH) != 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "proof: does not lead to the signed root");
    return 0;
}

void xb_merkle_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int xb_merkle_unhex(uint8_t *out, const char *hex, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
