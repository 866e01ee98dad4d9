/* test_perf_write.c — the canonical writer after its issue #8 speed-up (tags appended without
 * printf, escaping found with one strcspn per value): the exact bytes for every character that
 * must be escaped, in text and in an attribute, for text that needs none, and for an element name
 * longer than a fresh buffer; and normal output that re-parses to the same canonical bytes.
 * Fixtures: fixtures/perf/escaping.xml and its expected canonical form escaping.canonical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/write.h"

static void load(xb_buf *b, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/perf/%s", XB_FIXTURES, name);
    assert_int_equal(xb_buf_read_file(b, path, 0), 0);
}

static xb_msg *parse(const xb_buf *b)
{
    xb_msg *m = NULL;
    xb_error err = {0};
    int rc = xb_msg_parse(&m, b->data, b->len, NULL, &err);
    if (rc)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    return m;
}

static void test_canonical_escapes_exactly(void **state)
{
    (void)state;
    xb_buf src = XB_BUF_INIT, want = XB_BUF_INIT, got = XB_BUF_INIT;
    load(&src, "escaping.xml");
    load(&want, "escaping.canonical");
    xb_msg *m = parse(&src);
    assert_int_equal(xb_write_canonical(&got, m, NULL), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    assert_int_equal(got.data[got.len], '\0'); /* still a C string after the appends */
    xb_msg_free(m);
    xb_buf_free(&src);
    xb_buf_free(&want);
    xb_buf_free(&got);
}

/* Canonical bytes written into a buffer that already holds text keep that text in front. */
static void test_canonical_appends(void **state)
{
    (void)state;
    xb_buf src = XB_BUF_INIT, want = XB_BUF_INIT, got = XB_BUF_INIT;
    load(&src, "escaping.xml");
    load(&want, "escaping.canonical");
    xb_msg *m = parse(&src);
    assert_int_equal(xb_buf_puts(&got, "prefix:"), 0);
    assert_int_equal(xb_write_canonical(&got, m, NULL), 0);
    assert_int_equal(got.len, want.len + 7);
    assert_memory_equal(got.data, "prefix:", 7);
    assert_memory_equal(got.data + 7, want.data, want.len);
    xb_msg_free(m);
    xb_buf_free(&src);
    xb_buf_free(&want);
    xb_buf_free(&got);
}

static void test_written_message_reparses_to_same_canonical(void **state)
{
    (void)state;
    xb_buf src = XB_BUF_INIT, want = XB_BUF_INIT, out = XB_BUF_INIT, again = XB_BUF_INIT;
    load(&src, "escaping.xml");
    load(&want, "escaping.canonical");
    xb_msg *m = parse(&src);
    assert_int_equal(xb_write_message(&out, m, NULL), 0);
    xb_msg *m2 = parse(&out);
    assert_int_equal(xb_write_canonical(&again, m2, NULL), 0);
    assert_int_equal(again.len, want.len);
    assert_memory_equal(again.data, want.data, want.len);
    xb_msg_free(m2);
    xb_msg_free(m);
    xb_buf_free(&src);
    xb_buf_free(&want);
    xb_buf_free(&out);
    xb_buf_free(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_escapes_exactly),
        cmocka_unit_test(test_canonical_appends),
        cmocka_unit_test(test_written_message_reparses_to_same_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
