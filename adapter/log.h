/* log.h — structured JSON logs on stderr, one object per line.
 *
 * Owns: the log line format ({"ts":..., "level":..., "event":..., ...fields}), the level filter,
 * and redaction: any field whose name looks like a secret (key, password, secret, token, pin,
 * passphrase, credential) is written as "[redacted]", whatever the caller passed.
 * Never: writes anywhere but the configured stream (stderr by default), never logs message bodies.
 * Thread-safe: one line is written with a single fwrite under a lock.
 */
#ifndef XB_LOG_H
#define XB_LOG_H

#include <jansson.h>
#include <stdio.h>

typedef enum xb_log_level {
    XB_LOG_DEBUG = 0,
    XB_LOG_INFO = 1,
    XB_LOG_WARN = 2,
    XB_LOG_ERROR = 3,
} xb_log_level;

/* "debug", "info", "warn", "error" -> level; returns 0 or -1 for an unknown name. */
int xb_log_level_parse(xb_log_level *out, const char *name);
void xb_log_set_level(xb_log_level level);
/* Redirects output (tests); NULL restores stderr. The stream is not closed by the logger. */
void xb_log_set_stream(FILE *stream);

/* Writes {"ts","level","event", ...fields}. fields is an object (may be NULL) and is STOLEN. */
void xb_log_event(xb_log_level level, const char *event, json_t *fields);

/* Shorthand: event plus a formatted "msg" field. */
void xb_log(xb_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when a field name must never carry its value into a log line. */
int xb_log_is_secret_name(const char *name);

#endif
