/* buf.c — growable byte buffer. Owns its heap block; never interprets the bytes. */
#include "iso20022/buf.h"
#include "iso20022/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xb_buf_reserve(xb_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2)
            return XB_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return XB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int xb_buf_append(xb_buf *b, const void *p, size_t n)
{
    if (xb_buf_reserve(b, n))
        return XB_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int xb_buf_puts(xb_buf *b, const char *s)
{
    return xb_buf_append(b, s, strlen(s));
}

int xb_buf_printf(xb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || xb_buf_reserve(b, (size_t)n))
        return XB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void xb_buf_reset(xb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void xb_buf_free(xb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *xb_buf_steal(xb_buf *b)
{
    if (!b->data && xb_buf_reserve(b, 0))
        return NULL;
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int xb_buf_read_file(xb_buf *out, const char *path, size_t max_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return XB_EIO;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (max_bytes && out->len + n > max_bytes) {
            rc = XB_ELIMIT;
            break;
        }
        if (xb_buf_append(out, chunk, n)) {
            rc = XB_ENOMEM;
            break;
        }
    }
    if (!rc && ferror(f))
        rc = XB_EIO;
    fclose(f);
    if (!rc && !out->data)
        rc = xb_buf_reserve(out, 0);
    return rc;
}
