/* test_iso_util.c — fixture loading for the iso20022 unit tests. Never used outside tests. */
#include "test_iso_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

void iso_load(xb_buf *out, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/messages/%s", XB_FIXTURES, rel);
    int rc = xb_buf_read_file(out, path, 0);
    if (rc)
        print_error("cannot read fixture %s\n", path);
    assert_int_equal(rc, 0);
}

int iso_parse_fixture(xb_msg **out, const char *rel, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, rel);
    int rc = xb_msg_parse(out, b.data, b.len, NULL, err);
    xb_buf_free(&b);
    return rc;
}

long long iso_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
