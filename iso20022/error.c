/* error.c — formatting of xb_error values. Owns nothing else. */
#include "iso20022/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int xb_error_set(xb_error *err, int code, const char *path, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->path, sizeof err->path, "%s", path ? path : "");
    return code;
}

void xb_error_clear(xb_error *err)
{
    if (!err)
        return;
    err->code = XB_OK;
    err->message[0] = '\0';
    err->path[0] = '\0';
}

const char *xb_error_name(int code)
{
    switch (code) {
    case XB_OK:
        return "OK";
    case XB_ENOMEM:
        return "ENOMEM";
    case XB_EINVAL:
        return "EINVAL";
    case XB_EUNSUPPORTED:
        return "EUNSUPPORTED";
    case XB_ELIMIT:
        return "ELIMIT";
    case XB_EIO:
        return "EIO";
    case XB_ESCHEMA:
        return "ESCHEMA";
    case XB_ERULE:
        return "ERULE";
    case XB_ENOTFOUND:
        return "ENOTFOUND";
    case XB_ECONFIG:
        return "ECONFIG";
    case XB_EOVERFLOW:
        return "EOVERFLOW";
    case XB_ECRYPTO:
        return "ECRYPTO";
    case XB_ESTATE:
        return "ESTATE";
    default:
        return "EUNKNOWN";
    }
}
