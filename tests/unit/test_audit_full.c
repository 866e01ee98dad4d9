/* test_audit_full.c — issue #9: an audit append that fails part way (the disk fills up in the
 * middle of a line) leaves nothing of that line behind, the chain head stays where it was, and
 * the retry, once there is room, writes the same record whole: the file verifies.
 *
 * Owns: these tests. A full disk is stood in for by RLIMIT_FSIZE (no root, no mount): a write
 * that crosses the limit stores the bytes up to it and the next write fails with EFBIG, exactly
 * the short-write-then-error sequence ENOSPC gives. SIGXFSZ is ignored for the test's duration.
 * Never: leaves its limit in force (restored in every test) or its files behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter/state/audit.h"

static char path[128];
static struct rlimit saved_limit;

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/xb-audit-full-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(path);
    signal(SIGXFSZ, SIG_IGN);
    return getrlimit(RLIMIT_FSIZE, &saved_limit);
}

static int teardown(void **state)
{
    (void)state;
    setrlimit(RLIMIT_FSIZE, &saved_limit);
    unlink(path);
    return 0;
}

static void limit_file_size(off_t bytes)
{
    struct rlimit l = saved_limit;
    l.rlim_cur = (rlim_t)bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &l), 0);
}

static void unlimit(void)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_limit), 0);
}

static off_t file_size(void)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* A CIPS payment's decision record, long enough that one line spans the limit. */
static json_t *decision(int i)
{
    return json_pack("{si,ss,ss,ss,ss}", "offset", i, "debtor", "上海浦东发展银行 客户 王秀英",
                     "creditor", "中国银行（香港）有限公司", "amount", "2500000.00 CNY", "clearing",
                     "CIPS BKCHHKHHXXX");
}

static void append_ok(xb_audit *a, int i)
{
    json_t *r = decision(i);
    xb_error err;
    uint64_t seq = 0;
    assert_int_equal(xb_audit_append(NULL, &seq, a, r, &err), 0);
    json_decref(r);
}

static void assert_verifies(uint64_t want)
{
    uint64_t n = 0;
    xb_error err;
    int rc = xb_audit_verify_file(&n, path, &err);
    if (rc != 0)
        fail_msg("chain does not verify: %s", err.message);
    assert_int_equal(n, want);
}

static void run_fill_and_retry(xb_audit_fsync policy)
{
    xb_audit_opts o = {.path = path, .fsync = policy, .every_n = 1};
    xb_audit *a;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    for (int i = 0; i < 3; i++)
        append_ok(a, i);
    off_t before = file_size();
    char head[65];
    snprintf(head, sizeof head, "%s", xb_audit_head(a));

    /* room for 40 more bytes: the fourth line is written in part, then the write fails */
    limit_file_size(before + 40);
    for (int attempt = 0; attempt < 3; attempt++) {
        json_t *r = decision(3);
        uint64_t seq = 0;
        int rc = xb_audit_append(NULL, &seq, a, r, &err);
        json_decref(r);
        assert_int_equal(rc, XB_EIO);
        assert_non_null(strstr(err.message, "File too large")); /* errno text, for the log */
        assert_int_equal(xb_audit_seq(a), 3);
        assert_string_equal(xb_audit_head(a), head);
        assert_int_equal(file_size(), before); /* the part written was cut back */
        assert_verifies(3);
    }

    /* space returns: the same record goes in whole, and the chain goes on from it */
    unlimit();
    append_ok(a, 3);
    append_ok(a, 4);
    assert_int_equal(xb_audit_seq(a), 5);
    assert_int_equal(xb_audit_sync(a, &err), 0);
    xb_audit_close(a);
    assert_verifies(5);

    /* and a reopen agrees with the writer about where the chain is */
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    assert_int_equal(xb_audit_seq(a), 5);
    append_ok(a, 5);
    xb_audit_close(a);
    assert_verifies(6);
}

static void test_partial_write_is_cut_and_retried_always(void **state)
{
    (void)state;
    run_fill_and_retry(XB_AUDIT_FSYNC_ALWAYS);
}

static void test_partial_write_is_cut_and_retried_every_n(void **state)
{
    (void)state;
    run_fill_and_retry(XB_AUDIT_FSYNC_EVERY_N);
}

/* A file with no room at all from the start: nothing is written, nothing is left. */
static void test_no_room_at_all(void **state)
{
    (void)state;
    xb_audit_opts o = {.path = path, .fsync = XB_AUDIT_FSYNC_ALWAYS};
    xb_audit *a;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    limit_file_size(1);
    json_t *r = decision(0);
    assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), XB_EIO);
    assert_int_equal(file_size(), 0);
    unlimit();
    assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), 0);
    json_decref(r);
    xb_audit_close(a);
    assert_verifies(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partial_write_is_cut_and_retried_always, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_write_is_cut_and_retried_every_n, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_room_at_all, setup, teardown),
    };
    return cmocka_run_group_tests_name("audit_full", tests, NULL, NULL);
}
