/* fuzz_detect.c — libFuzzer harness for the free-text detectors (adapter/policy/detect.h):
 * every detector over arbitrary bytes (not necessarily UTF-8), with the default and a prepared
 * word list, then redaction. Checks the header's promises: hits in text order, inside the text,
 * never overlapping, and the same hits from the prepared and the unprepared scan.
 * Owns nothing. Any crash, sanitizer report, leak or broken promise is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapter/policy/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hits(const xb_detect_hits *h, size_t len)
{
    size_t prev_end = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i].start >= h->v[i].end || h->v[i].end > len || h->v[i].start < prev_end)
            __builtin_trap();
        prev_end = h->v[i].end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    xb_detect_hits a = {0}, b = {0};
    if (xb_detect_scan(&a, text, size, XB_DET_ALL, NULL) == 0) {
        check_hits(&a, size);
        xb_buf out = XB_BUF_INIT;
        (void)xb_detect_redact(&out, text, size, &a);
        xb_buf_free(&out);
    }
    xb_detect_words *w = xb_detect_words_new(xb_detect_default_secret_words);
    if (w && xb_detect_scan_prepared(&b, text, size, XB_DET_ALL, w) == 0) {
        check_hits(&b, size);
        if (a.n != b.n || (a.n && memcmp(a.v, b.v, a.n * sizeof *a.v) != 0))
            __builtin_trap(); /* the hot path must find exactly what the reference scan finds */
    }
    xb_detect_words_free(w);
    xb_detect_hits_free(&a);
    xb_detect_hits_free(&b);
    /* single detectors and the check-digit helpers on the same bytes */
    for (unsigned m = 1; m <= XB_DET_SECRET; m <<= 1) {
        xb_detect_hits one = {0};
        if (xb_detect_scan(&one, text, size, m, NULL) == 0)
            check_hits(&one, size);
        xb_detect_hits_free(&one);
    }
    (void)xb_detect_luhn_ok(text, size);
    (void)xb_detect_iban_ok(text, size);
    if (size >= 18) {
        char id[19];
        memcpy(id, text, 18);
        id[18] = '\0';
        (void)xb_detect_gb11643_ok(id);
    }
    return 0;
}
