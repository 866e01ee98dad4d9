/* buf.h — a growable byte buffer, the one way xborder builds strings and documents.
 *
 * Owns: its heap block. Always NUL-terminated after any successful call, so data can be
 * used as a C string when the content has no NUL.
 */
#ifndef XB_BUF_H
#define XB_BUF_H

#include <stddef.h>

typedef struct xb_buf {
    char *data;
    size_t len;
    size_t cap;
} xb_buf;

#define XB_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int xb_buf_reserve(xb_buf *b, size_t extra);           /* 0 or XB_ENOMEM */
int xb_buf_append(xb_buf *b, const void *p, size_t n); /* 0 or XB_ENOMEM */
int xb_buf_puts(xb_buf *b, const char *s);             /* 0 or XB_ENOMEM */
int xb_buf_printf(xb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xb_buf_reset(xb_buf *b); /* len = 0, keeps memory */
void xb_buf_free(xb_buf *b);
char *xb_buf_steal(xb_buf *b); /* caller frees; b is emptied */

/* Reads a whole file (at most max_bytes; 0 = no limit). 0, XB_EIO, XB_ELIMIT or XB_ENOMEM. */
int xb_buf_read_file(xb_buf *out, const char *path, size_t max_bytes);

#endif
