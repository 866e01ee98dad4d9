/* test_audit.c — the hash-chained decision log: chain links, survives reopen and torn tails,
 * detects tampering, keeps the record bytes canonical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/state/audit.h"

static char *tmpfile_path(void)
{
    static char path[128];
    snprintf(path, sizeof path, "/tmp/xb-audit-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    return path;
}

static json_t *record(int i)
{
    /* Chinese names, unordered keys: canonical form must sort keys and keep UTF-8 */
    return json_pack("{si,ss,ss,ss}", "offset", i, "verdict", i % 3 ? "PASS" : "QUARANTINE",
                     "debtor", "张伟", "amount", "1000.00 CNY");
}

static void append_n(xb_audit *a, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        json_t *r = record(i);
        uint64_t seq = 0;
        char *line = NULL;
        xb_error err;
        assert_int_equal(xb_audit_append(&line, &seq, a, r, &err), 0);
        assert_int_equal(seq, (uint64_t)i + 1);
        assert_non_null(strstr(line, "\"record\":{\"amount\":\"1000.00 CNY\",\"debtor\":\"张伟\""));
        free(line);
        json_decref(r);
    }
}

static void test_chain_and_reopen(void **state)
{
    const char *path = tmpfile_path();
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 4};
    xb_audit *a;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    assert_string_equal(xb_audit_head(a),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    append_n(a, 0, 10);
    assert_int_equal(xb_audit_durable_seq(a), 8); /* every 4 */
    assert_int_equal(xb_audit_sync(a, &err), 0);
    assert_int_equal(xb_audit_durable_seq(a), 10);
    char head[65];
    strcpy(head, xb_audit_head(a));
    xb_audit_close(a);

    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    assert_int_equal(xb_audit_seq(a), 10);
    assert_string_equal(xb_audit_head(a), head);
    append_n(a, 10, 5);
    xb_audit_close(a);

    uint64_t count = 0;
    assert_int_equal(xb_audit_verify_file(&count, path, &err), 0);
    assert_int_equal(count, 15);
    unlink(path);
}

static void test_first_hash_is_sha256_of_zero_and_record(void **state)
{
    const char *path = tmpfile_path();
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_ALWAYS};
    xb_audit *a;
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    json_t *r = json_pack("{ss,si}", "b", "x", "a", 1);
    assert_int_equal(xb_audit_append(NULL, NULL, a, r, NULL), 0);
    json_decref(r);
    /* independent computation: SHA-256(32 zero bytes || {"a":1,"b":"x"}) */
    const char canon[] = "{\"a\":1,\"b\":\"x\"}";
    unsigned char buf[32 + sizeof canon - 1];
    memset(buf, 0, 32);
    memcpy(buf + 32, canon, sizeof canon - 1);
    unsigned char md[32];
    SHA256(buf, sizeof buf, md);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    assert_string_equal(xb_audit_head(a), hex);
    xb_audit_close(a);
    unlink(path);
}

static void test_torn_tail_is_cut(void **state)
{
    const char *path = tmpfile_path();
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_ALWAYS};
    xb_audit *a;
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    append_n(a, 0, 3);
    xb_audit_close(a);
    FILE *f = fopen(path, "a");
    fputs("{\"v\":1,\"seq\":4,\"type\":\"decision\",\"prev\":\"ab", f); /* crash mid-write */
    fclose(f);
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    assert_int_equal(xb_audit_seq(a), 3);
    append_n(a, 3, 2);
    xb_audit_close(a);
    uint64_t count;
    assert_int_equal(xb_audit_verify_file(&count, path, NULL), 0);
    assert_int_equal(count, 5);
    unlink(path);
}

static void test_tamper_detected(void **state)
{
    const char *path = tmpfile_path();
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_INTERVAL, .interval_ms = 1000};
    xb_audit *a;
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    append_n(a, 0, 6);
    xb_audit_close(a);
    /* change one verdict in entry 3: PASS -> PAST keeps the length */
    FILE *f = fopen(path, "r+");
    char line[4096];
    long pos = 0;
    for (int i = 0; i < 3; i++) {
        pos = ftell(f);
        assert_non_null(fgets(line, sizeof line, f));
    }
    char *p = strstr(line, "\"PASS\"");
    assert_non_null(p);
    p[4] = 'T';
    fseek(f, pos, SEEK_SET);
    fputs(line, f);
    fclose(f);
    xb_error err;
    uint64_t count;
    assert_int_equal(xb_audit_verify_file(&count, path, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "entry 3"));
    assert_int_equal(count, 2);
    unlink(path);
}

static void test_garbage_last_line_refused(void **state)
{
    const char *path = tmpfile_path();
    FILE *f = fopen(path, "w");
    fputs("this is not an audit log\n", f);
    fclose(f);
    xb_audit_opts o = {.path = path};
    xb_audit *a = NULL;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), XB_ESTATE);
    assert_null(a);
    unlink(path);
}

static void test_long_lines_across_blocks(void **state)
{
    /* entries longer than the 64 KiB recovery block still recover the head */
    const char *path = tmpfile_path();
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 100};
    xb_audit *a;
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    char *big = malloc(150000);
    memset(big, 'x', 149999);
    big[149999] = '\0';
    for (int i = 0; i < 3; i++) {
        json_t *r = json_pack("{si,ss}", "i", i, "blob", big);
        assert_int_equal(xb_audit_append(NULL, NULL, a, r, NULL), 0);
        json_decref(r);
    }
    free(big);
    char head[65];
    strcpy(head, xb_audit_head(a));
    xb_audit_close(a);
    assert_int_equal(xb_audit_open(&a, &o, NULL), 0);
    assert_string_equal(xb_audit_head(a), head);
    assert_int_equal(xb_audit_seq(a), 3);
    xb_audit_close(a);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_and_reopen),
        cmocka_unit_test(test_first_hash_is_sha256_of_zero_and_record),
        cmocka_unit_test(test_torn_tail_is_cut),
        cmocka_unit_test(test_tamper_detected),
        cmocka_unit_test(test_garbage_last_line_refused),
        cmocka_unit_test(test_long_lines_across_blocks),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
