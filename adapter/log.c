/* log.c — structured JSON logs on stderr.
 *
 * Owns: formatting, level filtering, redaction of secret-looking field names.
 * Never: logs message bodies or key material; a caller mistake (a field named "hmac_key") is
 * caught here by name rather than trusted.
 */
#include "adapter/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static xb_log_level log_min = XB_LOG_INFO;
static FILE *log_stream;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int xb_log_level_parse(xb_log_level *out, const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcasecmp(name, level_names[i])) {
            *out = (xb_log_level)i;
            return 0;
        }
    return -1;
}

void xb_log_set_level(xb_log_level level)
{
    log_min = level;
}

void xb_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    log_stream = stream;
    pthread_mutex_unlock(&log_lock);
}

int xb_log_is_secret_name(const char *name)
{
    static const char *const secret_words[] = {
        "key", "password",   "passwd",     "secret",        "token",
        "pin", "passphrase", "credential", "authorization", NULL};
    if (!name)
        return 0;
    /* Idempotency-Key and key ids are identifiers, not secrets: allow-listed by exact name. */
    if (!strcasecmp(name, "idempotency_key") || !strcasecmp(name, "key_id"))
        return 0;
    for (int i = 0; secret_words[i]; i++)
        if (strcasestr(name, secret_words[i]))
            return 1;
    return 0;
}

static void redact(json_t *fields)
{
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        if (xb_log_is_secret_name(k))
            json_object_set_new(fields, k, json_string("[redacted]"));
        else if (json_is_object(v))
            redact(v);
    }
}

static void timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void xb_log_event(xb_log_level level, const char *event, json_t *fields)
{
    if (level < log_min) {
        json_decref(fields);
        return;
    }
    json_t *line = json_object();
    char ts[40];
    timestamp(ts, sizeof ts);
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "event", json_string(event ? event : "log"));
    if (json_is_object(fields)) {
        redact(fields);
        json_object_update_missing(line, fields);
    }
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: one fwrite per line keeps lines whole between threads */
    pthread_mutex_lock(&log_lock);
    FILE *out = log_stream ? log_stream : stderr;
    fwrite(text, 1, n + 1, out);
    fflush(out);
    pthread_mutex_unlock(&log_lock);
    free(text);
}

void xb_log(xb_log_level level, const char *event, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    xb_log_event(level, event, json_pack("{ss}", "msg", msg));
}
