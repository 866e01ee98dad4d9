/* test_iso_util.h — helpers shared by the iso20022 unit tests: fixture paths and loading.
 * Owns nothing global; never used outside tests. */
#ifndef XB_TEST_ISO_UTIL_H
#define XB_TEST_ISO_UTIL_H

#include <stddef.h>

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* Reads fixtures/messages/<rel> into out (fails the test when missing). */
void iso_load(xb_buf *out, const char *rel);
/* Parses fixtures/messages/<rel>; returns the xb_msg rc and sets *out on success. */
int iso_parse_fixture(xb_msg **out, const char *rel, xb_error *err);
/* Monotonic milliseconds, for "bounded time" assertions. */
long long iso_now_ms(void);

#endif
