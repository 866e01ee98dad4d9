/* error.h — the one error type every xborder module reports through.
 *
 * Owns: error codes and the xb_error struct (code, message, element path).
 * Never: allocates; an xb_error is a plain value callers put on the stack.
 */
#ifndef XB_ERROR_H
#define XB_ERROR_H

#include <stddef.h>

enum xb_error_code {
    XB_OK = 0,
    XB_ENOMEM = -1,       /* allocation failed */
    XB_EINVAL = -2,       /* bad argument or malformed input */
    XB_EUNSUPPORTED = -3, /* well-formed, but a definition/feature we refuse */
    XB_ELIMIT = -4,       /* size, depth or count limit exceeded */
    XB_EIO = -5,          /* file or network I/O */
    XB_ESCHEMA = -6,      /* XSD validation failed */
    XB_ERULE = -7,        /* a business rule the XSD cannot express failed */
    XB_ENOTFOUND = -8,    /* a required thing is absent (rate, price, key, file) */
    XB_ECONFIG = -9,      /* configuration or catalog is wrong */
    XB_EOVERFLOW = -10,   /* exact arithmetic would overflow */
    XB_ECRYPTO = -11,     /* signature, digest or key failure */
    XB_ESTATE = -12,      /* durable state store failure */
};

typedef struct xb_error {
    int code;          /* one of enum xb_error_code */
    char message[512]; /* human-readable, names the file/key/element and what to do */
    char path[512];    /* XML element path (/Document/FIToFICstmrCdtTrf/...) or config key */
} xb_error;

/* Records code + formatted message (and path when non-NULL) in err, which may be NULL.
 * Returns code, so callers can write `return xb_error_set(err, XB_EINVAL, NULL, "...")`. */
int xb_error_set(xb_error *err, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Resets err to XB_OK with empty strings. */
void xb_error_clear(xb_error *err);

/* Short stable name of a code ("EINVAL", "ESCHEMA", ...). */
const char *xb_error_name(int code);

#endif
