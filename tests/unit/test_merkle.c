/* test_merkle.c — RFC 6962 tree heads, the incremental frontier and inclusion proofs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/state/merkle.h"

/* RFC 6962 test inputs (the leaves used by Certificate Transparency implementations). */
static const char *const rfc_leaves[] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static void leaf_of(uint8_t out[32], size_t i)
{
    uint8_t data[16];
    size_t n = strlen(rfc_leaves[i]) / 2;
    assert_int_equal(xb_merkle_unhex(data, rfc_leaves[i], n), 0);
    xb_merkle_leaf_hash(out, data, n);
}

static void test_rfc6962_root(void **state)
{
    uint8_t leaves[8][32], root[32];
    for (size_t i = 0; i < 8; i++)
        leaf_of(leaves[i], i);
    char hex[65];
    assert_int_equal(xb_merkle_root(root, (const uint8_t(*)[32])leaves, 8, NULL), 0);
    xb_merkle_hex(hex, root, 32);
    assert_string_equal(hex, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    assert_int_equal(xb_merkle_root(root, (const uint8_t(*)[32])leaves, 0, NULL), 0);
    xb_merkle_hex(hex, root, 32);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void fill(uint8_t (*leaves)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char data[32];
        int len = snprintf(data, sizeof data, "entry-%zu-人民币", i);
        xb_merkle_leaf_hash(leaves[i], (const uint8_t *)data, (size_t)len);
    }
}

static void test_frontier_equals_recursive_root(void **state)
{
    enum { N = 300 };
    uint8_t(*leaves)[32] = calloc(N, 32);
    fill(leaves, N);
    xb_merkle_frontier f;
    xb_merkle_frontier_init(&f);
    for (size_t n = 1; n <= N; n++) {
        xb_merkle_frontier_push(&f, leaves[n - 1]);
        uint8_t a[32], b[32];
        xb_merkle_frontier_root(&f, a);
        xb_merkle_root(b, (const uint8_t(*)[32])leaves, n, NULL);
        assert_memory_equal(a, b, 32);
        assert_int_equal(f.n, (size_t)__builtin_popcountll(n));
    }
    free(leaves);
}

static void test_every_proof_verifies(void **state)
{
    enum { N = 67 };
    uint8_t(*leaves)[32] = calloc(N, 32);
    fill(leaves, N);
    for (uint64_t size = 1; size <= N; size++) {
        uint8_t root[32];
        xb_merkle_root(root, (const uint8_t(*)[32])leaves, size, NULL);
        for (uint64_t i = 0; i < size; i++) {
            uint8_t(*path)[32];
            size_t len;
            assert_int_equal(
                xb_merkle_proof(&path, &len, (const uint8_t(*)[32])leaves, size, i, NULL), 0);
            assert_int_equal(
                xb_merkle_verify(leaves[i], i, size, (const uint8_t(*)[32])path, len, root, NULL),
                0);
            /* The same proof must not pass for a neighbour or another tree size. */
            if (size > 1)
                assert_int_not_equal(xb_merkle_verify(leaves[(i + 1) % size], i, size,
                                                      (const uint8_t(*)[32])path, len, root, NULL),
                                     0);
            if (len) {
                path[len - 1][5] ^= 0x40;
                assert_int_equal(xb_merkle_verify(leaves[i], i, size, (const uint8_t(*)[32])path,
                                                  len, root, NULL),
                                 XB_ECRYPTO);
                assert_int_equal(xb_merkle_verify(leaves[i], i, size, (const uint8_t(*)[32])path,
                                                  len - 1, root, NULL),
                                 XB_ECRYPTO);
            }
            free(path);
        }
    }
    free(leaves);
}

static void test_proof_out_of_range(void **state)
{
    uint8_t leaves[3][32];
    fill(leaves, 3);
    uint8_t(*path)[32] = NULL;
    size_t len = 0;
    assert_int_equal(xb_merkle_proof(&path, &len, (const uint8_t(*)[32])leaves, 3, 3, NULL),
                     XB_EINVAL);
    assert_null(path);
    uint8_t root[32] = {0};
    assert_int_equal(xb_merkle_verify(leaves[0], 5, 3, NULL, 0, root, NULL), XB_ECRYPTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6962_root),
        cmocka_unit_test(test_frontier_equals_recursive_root),
        cmocka_unit_test(test_every_proof_verifies),
        cmocka_unit_test(test_proof_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
