/* audit.c — append-only, hash-chained decision log.
 *
 * Owns: line construction (the record's canonical bytes are written verbatim, so a verifier hashes
 * exactly what is on disk), the chain head, fsync policy, tail recovery, and cutting back an
 * append that failed part way (disk full: issue #9), so a retry writes the whole line again.
 * Never: edits a complete line; never logs record contents; never appends after bytes it could
 * not cut back (a torn line would break the chain for every entry after it).
 */
#include "adapter/state/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iso20022/buf.h"

#define XB_AUDIT_ZERO_HEAD "0000000000000000000000000000000000000000000000000000000000000000"
#define XB_AUDIT_RECORD_TAG ",\"record\":"

struct xb_audit {
    int fd;
    char *path;
    xb_audit_fsync fsync;
    unsigned every_n;
    unsigned interval_ms;
    uint64_t seq;
    uint64_t durable_seq;
    uint8_t head[32];
    char head_hex[65];
    uint64_t last_sync_ms;
    off_t end;      /* file size after the last complete entry; -1: ask fstat */
    bool torn_tail; /* a failed append left bytes past `end` that could not be cut yet */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void to_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int from_hex(uint8_t *out, const char *hex, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* SHA-256 fetched once per process: EVP_sha256() makes OpenSSL 3 look the implementation up
 * again on every init (an implicit fetch: a property query, locks, a refcount), which the
 * issue #8 profile showed per audit entry. pthread_once: appends may come from any thread. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&g_sha256_once, fetch_sha256);
    return g_sha256 ? g_sha256 : EVP_sha256(); /* a failed fetch: the implicit one still works */
}

/* hash = SHA-256(prev || canonical record bytes) */
static int chain_hash(uint8_t out[32], const uint8_t prev[32], const char *canon, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned outlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, sha256_md(), NULL) && EVP_DigestUpdate(ctx, prev, 32) &&
             EVP_DigestUpdate(ctx, canon, len) && EVP_DigestFinal_ex(ctx, out, &outlen);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static int valid_type(const char *type)
{
    if (!type || !*type || strlen(type) > 32)
        return 0;
    for (const char *p = type; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return 0;
    return 1;
}

/* Splits a line into its parsed envelope and the raw record bytes (record is the last key). */
static int parse_line(json_t **env_out, const char **raw, size_t *raw_len, const char *line,
                      size_t len)
{
    const char *tag = memmem(line, len, XB_AUDIT_RECORD_TAG, strlen(XB_AUDIT_RECORD_TAG));
    if (!tag || len < 2 || line[len - 1] != '}')
        return -1;
    json_t *env = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!env || !json_is_integer(json_object_get(env, "seq")) ||
        !json_is_string(json_object_get(env, "hash")) ||
        !json_is_string(json_object_get(env, "prev"))) {
        json_decref(env);
        return -1;
    }
    *env_out = env;
    *raw = tag + strlen(XB_AUDIT_RECORD_TAG);
    *raw_len = (size_t)(line + len - 1 - *raw);
    return 0;
}

/* Cuts a torn tail (no final newline) and returns the offset where the last complete line starts.
 */
static int recover_tail(xb_audit *a, xb_error *err)
{
    struct stat st;
    if (fstat(a->fd, &st) < 0)
        return xb_error_set(err, XB_EIO, a->path, "audit: stat %s: %s", a->path, strerror(errno));
    off_t size = st.st_size;
    if (size == 0)
        return 0;
    /* Read backwards in blocks until the start of the last complete line is found. */
    size_t block = 65536;
    xb_buf tail = XB_BUF_INIT;
    off_t start = size;
    off_t line_end = -1, line_start = -1;
    while (start > 0) {
        off_t from = start > (off_t)block ? start - (off_t)block : 0;
        size_t n = (size_t)(start - from);
        xb_buf chunk = XB_BUF_INIT;
        if (xb_buf_reserve(&chunk, n + tail.len + 1) < 0 ||
            pread(a->fd, chunk.data, n, from) != (ssize_t)n) {
            xb_buf_free(&chunk);
            xb_buf_free(&tail);
            return xb_error_set(err, XB_EIO, a->path, "audit: read %s failed", a->path);
        }
        chunk.len = n;
        xb_buf_append(&chunk, tail.data, tail.len);
        xb_buf_free(&tail);
        tail = chunk;
        start = from;
        /* positions relative to `start` */
        if (line_end < 0) {
            for (size_t i = tail.len; i > 0; i--)
                if (tail.data[i - 1] == '\n') {
                    line_end = start + (off_t)i - 1;
                    break;
                }
        }
        if (line_end >= 0) {
            for (off_t i = line_end; i > start; i--)
                if (tail.data[i - 1 - start] == '\n') {
                    line_start = i;
                    break;
                }
            if (line_start < 0 && start == 0)
                line_start = 0;
            if (line_start >= 0)
                break;
        }
    }
    if (line_end < 0) { /* not one complete line: the whole file is a torn first write */
        xb_buf_free(&tail);
        if (ftruncate(a->fd, 0) < 0)
            return xb_error_set(err, XB_EIO, a->path, "audit: truncate %s failed", a->path);
        return 0;
    }
    if (line_end + 1 < size && ftruncate(a->fd, line_end + 1) < 0) {
        xb_buf_free(&tail);
        return xb_error_set(err, XB_EIO, a->path, "audit: truncate torn tail of %s", a->path);
    }
    json_t *env = NULL;
    const char *raw;
    size_t raw_len;
    int rc = parse_line(&env, &raw, &raw_len, tail.data + (line_start - start),
                        (size_t)(line_end - line_start));
    if (rc == 0 && from_hex(a->head, json_string_value(json_object_get(env, "hash")), 32) == 0) {
        a->seq = (uint64_t)json_integer_value(json_object_get(env, "seq"));
        a->durable_seq = a->seq;
        to_hex(a->head_hex, a->head, 32);
    } else {
        rc = xb_error_set(err, XB_ESTATE, a->path,
                          "audit: last line of %s is not an audit entry; refusing to extend it",
                          a->path);
    }
    json_decref(env);
    xb_buf_free(&tail);
    return rc;
}

/* A rotation interrupted between its two renames left "<path>.rotating" and no <path>. */
static void finish_rotation(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.rotating", path);
    if (access(path, F_OK) != 0 && access(tmp, F_OK) == 0)
        rename(tmp, path);
}

int xb_audit_open(xb_audit **out, const xb_audit_opts *opts, xb_error *err)
{
    *out = NULL;
    if (!opts || !opts->path || !*opts->path)
        return xb_error_set(err, XB_EINVAL, "audit.file", "audit: no file given");
    xb_audit *a = calloc(1, sizeof *a);
    if (!a)
        return xb_error_set(err, XB_ENOMEM, NULL, "audit: out of memory");
    a->path = strdup(opts->path);
    a->fsync = opts->fsync;
    a->every_n = opts->every_n ? opts->every_n : 1;
    a->interval_ms = opts->interval_ms;
    memcpy(a->head_hex, XB_AUDIT_ZERO_HEAD, 65);
    finish_rotation(opts->path);
    a->fd = open(opts->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (a->fd < 0) {
        int rc = xb_error_set(err, XB_EIO, "audit.file", "audit: cannot open %s: %s", opts->path,
                              strerror(errno));
        xb_audit_close(a);
        return rc;
    }
    int rc = recover_tail(a, err);
    if (rc < 0) {
        xb_audit_close(a);
        return rc;
    }
    a->last_sync_ms = now_ms();
    a->end = -1;
    *out = a;
    return 0;
}

void xb_audit_close(xb_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0) {
        if (a->seq > a->durable_seq)
            fdatasync(a->fd);
        close(a->fd);
    }
    free(a->path);
    free(a);
}

/* Where the last complete entry ends, and nothing but complete entries before it: a tail left by
 * an earlier failed append is cut first. */
static int ready_to_append(xb_audit *a, xb_error *err)
{
    if (a->end < 0) {
        struct stat st;
        if (fstat(a->fd, &st) < 0)
            return xb_error_set(err, XB_EIO, a->path, "audit: stat %s: %s", a->path,
                                strerror(errno));
        a->end = st.st_size;
    }
    if (a->torn_tail) {
        if (ftruncate(a->fd, a->end) < 0)
            return xb_error_set(err, XB_EIO, a->path,
                                "audit: cannot cut a failed write from %s: %s", a->path,
                                strerror(errno));
        a->torn_tail = false;
    }
    return 0;
}

/* A write failed part way (ENOSPC, EDQUOT, EIO): cut the file back to its last complete entry.
 * If even that fails, remember it: the next append tries again before writing. */
static void cut_back(xb_audit *a)
{
    if (ftruncate(a->fd, a->end) < 0)
        a->torn_tail = true;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int xb_audit_sync(xb_audit *a, xb_error *err)
{
    if (a->seq == a->durable_seq)
        return 0;
    if (fdatasync(a->fd) < 0)
        return xb_error_set(err, XB_EIO, a->path, "audit: fdatasync %s: %s", a->path,
                            strerror(errno));
    a->durable_seq = a->seq;
    a->last_sync_ms = now_ms();
    return 0;
}

static int maybe_sync(xb_audit *a, xb_error *err)
{
    switch (a->fsync) {
    case XB_AUDIT_FSYNC_ALWAYS:
        return xb_audit_sync(a, err);
    case XB_AUDIT_FSYNC_EVERY_N:
        return a->seq - a->durable_seq >= a->every_n ? xb_audit_sync(a, err) : 0;
    case XB_AUDIT_FSYNC_INTERVAL:
        return now_ms() - a->last_sync_ms >= a->interval_ms ? xb_audit_sync(a, err) : 0;
    }
    return 0;
}

int xb_audit_append_typed(char **line_out, uint64_t *seq_out, xb_audit *a, const char *type,
                          const json_t *record, xb_error *err)
{
    if (line_out)
        *line_out = NULL;
    if (!valid_type(type) || !json_is_object(record))
        return xb_error_set(err, XB_EINVAL, NULL, "audit: entry needs a [a-z_] type and an object");
    char *canon = json_dumps(record, JSON_SORT_KEYS | JSON_COMPACT);
    if (!canon)
        return xb_error_set(err, XB_ENOMEM, NULL, "audit: cannot serialise record");
    int rc = xb_audit_append_raw(line_out, seq_out, a, type, canon, strlen(canon), err);
    free(canon);
    return rc;
}

int xb_audit_append_raw(char **line_out, uint64_t *seq_out, xb_audit *a, const char *type,
                        const char *canon, size_t clen, xb_error *err)
{
    if (line_out)
        *line_out = NULL;
    if (!valid_type(type) || clen < 2 || canon[0] != '{' || canon[clen - 1] != '}' ||
        memchr(canon, '\n', clen))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "audit: entry needs a [a-z_] type and one line of JSON object");
    uint8_t hash[32];
    if (chain_hash(hash, a->head, canon, clen) < 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "audit: SHA-256 failed");
    char hash_hex[65];
    to_hex(hash_hex, hash, 32);
    xb_buf line = XB_BUF_INIT;
    uint64_t seq = a->seq + 1;
    int rc = xb_buf_printf(
        &line,
        "{\"v\":1,\"seq\":%llu,\"type\":\"%s\",\"prev\":\"%s\",\"hash\":\"%s\"" XB_AUDIT_RECORD_TAG,
        (unsigned long long)seq, type, a->head_hex, hash_hex);
    rc = rc ? rc : xb_buf_append(&line, canon, clen);
    rc = rc ? rc : xb_buf_append(&line, "}\n", 2);
    if (rc < 0) {
        xb_buf_free(&line);
        return xb_error_set(err, XB_ENOMEM, NULL, "audit: out of memory");
    }
    if ((rc = ready_to_append(a, err)) < 0) {
        xb_buf_free(&line);
        return rc;
    }
    if (write_all(a->fd, line.data, line.len) < 0) {
        int e = errno;
        xb_buf_free(&line);
        cut_back(a);
        return xb_error_set(err, XB_EIO, a->path, "audit: write %s: %s", a->path, strerror(e));
    }
    uint64_t prev_seq = a->seq;
    uint8_t prev_head[32];
    memcpy(prev_head, a->head, 32);
    a->seq = seq;
    memcpy(a->head, hash, 32);
    memcpy(a->head_hex, hash_hex, 65);
    rc = maybe_sync(a, err);
    if (rc < 0 && a->fsync == XB_AUDIT_FSYNC_ALWAYS && a->durable_seq == prev_seq) {
        /* Only this entry was not durable: cut it so the caller can retry it whole. (With the
         * other policies earlier entries share the failed sync and have been acted on; the
         * caller must stop instead.) */
        cut_back(a);
        a->seq = prev_seq;
        memcpy(a->head, prev_head, 32);
        to_hex(a->head_hex, a->head, 32);
    }
    if (rc < 0) {
        xb_buf_free(&line);
        return rc;
    }
    a->end += (off_t)line.len;
    if (seq_out)
        *seq_out = seq;
    if (line_out) {
        line.data[--line.len] = '\0'; /* drop the newline */
        *line_out = xb_buf_steal(&line);
    }
    xb_buf_free(&line);
    return 0;
}

int xb_audit_append(char **line_out, uint64_t *seq_out, xb_audit *a, const json_t *record,
                    xb_error *err)
{
    return xb_audit_append_typed(line_out, seq_out, a, "decision", record, err);
}

uint64_t xb_audit_seq(const xb_audit *a)
{
    return a->seq;
}

uint64_t xb_audit_durable_seq(const xb_audit *a)
{
    return a->durable_seq;
}

const char *xb_audit_head(const xb_audit *a)
{
    return a->head_hex;
}

int xb_audit_verify_file(uint64_t *count_out, const char *path, xb_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return xb_error_set(err, XB_EIO, path, "audit: cannot open %s: %s", path, strerror(errno));
    uint8_t head[32] = {0};
    uint64_t expect = 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            rc = xb_error_set(err, XB_ECRYPTO, path, "audit: entry %llu is torn (no newline)",
                              (unsigned long long)expect);
            break;
        }
        json_t *env = NULL;
        const char *raw;
        size_t raw_len;
        uint8_t prev[32], hash[32], want[32];
        if (parse_line(&env, &raw, &raw_len, line, (size_t)n - 1) < 0 ||
            (uint64_t)json_integer_value(json_object_get(env, "seq")) != expect ||
            from_hex(prev, json_string_value(json_object_get(env, "prev")), 32) < 0 ||
            from_hex(hash, json_string_value(json_object_get(env, "hash")), 32) < 0 ||
            memcmp(prev, head, 32) != 0 || chain_hash(want, head, raw, raw_len) < 0 ||
            memcmp(want, hash, 32) != 0) {
            json_decref(env);
            rc = xb_error_set(err, XB_ECRYPTO, path, "audit: chain broken at entry %llu",
                              (unsigned long long)expect);
            break;
        }
        json_decref(env);
        memcpy(head, hash, 32);
        expect++;
    }
    free(line);
    fclose(f);
    if (count_out)
        *count_out = expect - 1;
    return rc;
}

int xb_audit_rotate(xb_audit *a, const char *rotated_path, const json_t *record, xb_error *err)
{
    int rc = ready_to_append(a, err); /* the rotated file must end with a complete entry */
    if (rc == 0)
        rc = xb_audit_sync(a, err);
    if (rc < 0)
        return rc;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.rotating", a->path);
    int fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return xb_error_set(err, XB_EIO, tmp, "audit: cannot create %s: %s", tmp, strerror(errno));
    int old_fd = a->fd;
    uint64_t seq = a->seq, durable = a->durable_seq;
    uint8_t head[32];
    char head_hex[65];
    memcpy(head, a->head, 32);
    memcpy(head_hex, a->head_hex, 65);
    off_t old_end = a->end;
    a->fd = fd; /* the rotate entry continues the chain in the new file */
    a->end = 0;
    rc = xb_audit_append_typed(NULL, NULL, a, "rotate", record, err);
    if (rc == 0)
        rc = xb_audit_sync(a, err);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = xb_error_set(err, XB_EIO, tmp, "audit: fdatasync %s failed", tmp);
    if (rc == 0 && rename(a->path, rotated_path) < 0)
        rc = xb_error_set(err, XB_EIO, rotated_path, "audit: rename to %s: %s", rotated_path,
                          strerror(errno));
    if (rc == 0 && rename(tmp, a->path) < 0)
        rc = xb_error_set(err, XB_EIO, a->path, "audit: rename %s: %s", tmp, strerror(errno));
    if (rc < 0) { /* the old file is still the log: forget the entry written to the new one */
        a->fd = old_fd;
        a->end = old_end;
        a->torn_tail = false;
        a->seq = seq;
        a->durable_seq = durable;
        memcpy(a->head, head, 32);
        memcpy(a->head_hex, head_hex, 65);
        close(fd);
        unlink(tmp);
        return rc;
    }
    close(old_fd);
    return 0;
}
