/* receiver.c — the reference overseas receiver (see receiver.h for the protocol).
 *
 * Owns: the libmicrohttpd daemon (thread per connection, GnuTLS), per-request body buffers,
 * the SQLite dedupe table and the message files under DIR/messages.
 * Never: answers 200 before the message file and its dedupe row are written, stores anything
 * from a connection without a verified client certificate, or logs message bodies.
 */
#include "adapter/transport/receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <limits.h>
#include <libxml/parser.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter/state/store.h"
#include "adapter/transport/httpsig.h"
#include "iso20022/buf.h"

#define MAX_PARTS 10000
#define KEY_MAX 128

struct xb_receiver {
    xb_receiver_options o;
    struct MHD_Daemon *daemon;
    char *cert_pem, *key_pem, *ca_pem; /* libmicrohttpd keeps pointers to these */
    char *store_dir, *msg_dir, *keyid;
    xb_httpsig_key *vkey;
    sqlite3 *db;
    sqlite3_stmt *sel, *ins, *body_ins;
    xb_store *shared;   /* --dedupe-store: claims keys across receivers (issue #10) */
    pthread_mutex_t mu; /* store, stats and rng */
    xb_receiver_stats st;
    uint64_t rng;
    unsigned port;
};

/* Per-connection state: the client certificate is verified once per TLS session, not per request.
 */
typedef struct rx_conn {
    int checked; /* 0 = not yet, 1 = ok, -1 = refused */
    char why[200];
} rx_conn;

typedef struct rx_req {
    xb_buf body;
    int status; /* early refusal decided on the first call (0 = none) */
    char reason[200];
} rx_req;

/* ---- helpers -------------------------------------------------------------------------------- */

static double rnd01(xb_receiver *rx)
{
    pthread_mutex_lock(&rx->mu);
    rx->rng ^= rx->rng >> 12;
    rx->rng ^= rx->rng << 25;
    rx->rng ^= rx->rng >> 27;
    uint64_t v = rx->rng * 2685821657736338717ull;
    pthread_mutex_unlock(&rx->mu);
    return (double)(v >> 11) / 9007199254740992.0;
}

static void count(xb_receiver *rx, uint64_t *field)
{
    pthread_mutex_lock(&rx->mu);
    (*field)++;
    pthread_mutex_unlock(&rx->mu);
}

static int read_file(char **out, const char *path, const char *what, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    if (xb_buf_read_file(&b, path, 1024 * 1024) != 0) {
        xb_buf_free(&b);
        return xb_error_set(err, XB_ECONFIG, what, "receive: cannot read %s file %s", what, path);
    }
    *out = xb_buf_steal(&b);
    return 0;
}

static int valid_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] <= 0x20 || k[i] >= 0x7f)
            return 0;
    return 1;
}

/* File name for a key: the key itself when it is a safe name (UETRs and hex are), else its
 * SHA-256, so a hostile key can never walk out of the store directory. */
static void key_filename(char *out, size_t outsz, const char *key)
{
    int safe = key[0] != '.' && strlen(key) <= KEY_MAX;
    for (const char *p = key; safe && *p; p++)
        safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '-' || *p == '_' || *p == '.';
    if (safe) {
        snprintf(out, outsz, "%s.xml", key);
        return;
    }
    unsigned char md[32];
    EVP_Digest(key, strlen(key), md, NULL, EVP_sha256(), NULL);
    size_t off = 0;
    off += (size_t)snprintf(out, outsz, "sha256-");
    for (size_t i = 0; i < sizeof md && off + 3 < outsz; i++)
        off += (size_t)snprintf(out + off, outsz - off, "%02x", md[i]);
    snprintf(out + off, outsz - off, ".xml");
}

static void quiet_xml_error(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

/* Well-formed XML without a DOCTYPE (ISO 20022 never has one; a DTD is an attack surface).
 * A SAX parse with no callbacks: libxml2 checks well-formedness (namespaces included) as it
 * reads and builds no tree. xmlReadMemory's tree was a third of the receiver's CPU per message
 * in the batch benchmark, for a document nothing here reads. */
static int well_formed(const char *body, size_t len)
{
    if (len == 0 || len > INT_MAX || memmem(body, len, "<!DOCTYPE", 9))
        return 0;
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.serror = quiet_xml_error;
    return xmlSAXUserParseMemory(&sax, NULL, body, (int)len) == 0;
}

/* ---- store ---------------------------------------------------------------------------------- */

static int write_durable(const char *dir, const char *name, const char *body, size_t len, int sync)
{
    char tmp[4096], final[4096];
    /* Unique per writer: two requests with the same key must never share (and truncate) a
     * temp file; each renames its own complete copy over the final name. */
    static unsigned long seq;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%lu-%s", dir, __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED),
             name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, body + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if ((sync && fsync(fd) != 0) || close(fd) != 0 || rename(tmp, final) != 0) {
        unlink(tmp);
        return -1;
    }
    if (!sync)
        return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself must survive a crash */
        close(dfd);
    }
    return 0;
}

/* Under rx->mu: n more messages accepted now; keeps the first and the latest acceptance time. */
static void count_accepted(xb_receiver *rx, uint64_t n)
{
    if (n == 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    if (rx->st.accepted == 0)
        rx->st.first_accepted_ms = ms;
    rx->st.last_accepted_ms = ms;
    rx->st.accepted += n;
}

/* Stores one message under key. Returns the HTTP status for it (200, 409, 500). The file is
 * written before the dedupe row: a crash in between leaves a file and no row, and the
 * redelivery rewrites the same file and then records it — never a row without its file. */
/* With a shared dedupe store the file is written first and the key claimed after: the first
 * claim wins (200), a receiver that loses the race removes its copy (409). Never a claim
 * without its file. */
static int store_one_shared(xb_receiver *rx, const char *key, const char *name, const char *body,
                            size_t len)
{
    int status = 500;
    bool fresh = false;
    char path[4096];
    pthread_mutex_lock(&rx->mu);
    if (write_durable(rx->msg_dir, name, body, len, !rx->o.no_fsync) == 0 &&
        xb_store_dedupe_claim(&fresh, rx->shared, key, name, NULL) == 0) {
        status = fresh ? 200 : 409;
        if (fresh)
            count_accepted(rx, 1);
        else {
            rx->st.duplicates++;
            snprintf(path, sizeof path, "%s/%s", rx->msg_dir, name);
            unlink(path);
        }
    }
    pthread_mutex_unlock(&rx->mu);
    return status;
}

/* The message bytes: a file (default), or a row of `bodies` with --store-in-db, which avoids one
 * file creation per message (slow on some file systems) for benchmarks. Written before the
 * dedupe row either way. */
static int store_body(xb_receiver *rx, const char *key, const char *name, const char *body,
                      size_t len)
{
    if (!rx->o.bodies_in_db)
        return write_durable(rx->msg_dir, name, body, len, !rx->o.no_fsync);
    sqlite3_reset(rx->body_ins);
    sqlite3_bind_text(rx->body_ins, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(rx->body_ins, 2, body, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(rx->body_ins) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(rx->body_ins);
    return rc;
}

/* Under rx->mu: 1 when key was stored before, 0 when not, -1 on a store error. */
static int key_seen(xb_receiver *rx, const char *key)
{
    sqlite3_reset(rx->sel);
    sqlite3_bind_text(rx->sel, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(rx->sel);
    sqlite3_reset(rx->sel);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Under rx->mu: records key; 200, 409 when it is recorded already (a concurrent request, or an
 * earlier part of the same batch), or 500. Counted once the request's transaction commits. */
static int record_key(xb_receiver *rx, const char *key, const char *name)
{
    sqlite3_reset(rx->ins);
    sqlite3_bind_text(rx->ins, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(rx->ins, 2, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(rx->ins, 3, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(rx->ins);
    sqlite3_reset(rx->ins);
    return rc == SQLITE_DONE ? 200 : rc == SQLITE_CONSTRAINT ? 409 : 500;
}

/* One message of a request: the key and bytes in, the HTTP status out. */
typedef struct rx_item {
    const char *key;
    const char *body;
    size_t len;
    char name[300];
    int status; /* 200, 409, 500; 0 while its file is still to be written */
} rx_item;

/* Under rx->mu: the first step of one item. Known keys answer 409; with --store-in-db the body
 * and dedupe rows are written here, in the request's transaction; otherwise 0: the file next. */
static int first_step(xb_receiver *rx, rx_item *it)
{
    int seen = key_seen(rx, it->key);
    if (seen != 0)
        return seen == 1 ? 409 : 500;
    if (!rx->o.bodies_in_db)
        return 0;
    return store_body(rx, it->key, it->name, it->body, it->len) == 0
               ? record_key(rx, it->key, it->name)
               : 500;
}

/* Under rx->mu: commits the request's transaction (when one was begun) and counts the answers.
 * A failed commit answers 500 for every item: the sender retries them all, and whatever did
 * reach the table answers 409 then. */
static void finish_items(xb_receiver *rx, rx_item *it, size_t n, bool in_txn)
{
    if (in_txn && sqlite3_exec(rx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(rx->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++)
            it[i].status = 500;
    }
    uint64_t fresh = 0;
    for (size_t i = 0; i < n; i++) {
        fresh += it[i].status == 200;
        rx->st.duplicates += it[i].status == 409;
    }
    count_accepted(rx, fresh);
}

/* Stores the messages of one request (its body, or a batch's well-formed parts) and sets each
 * status. A request's dedupe rows are written in one SQLite transaction: one commit per request
 * instead of two per message, which was the receiver's largest cost in the batch benchmark.
 * Nothing answers 200 before its file (or body row) and its committed row. Message files are
 * written (and fsynced) outside the lock so concurrent connections overlap their disk waits; a
 * concurrent request with the same key writes the same bytes to the same name, and the PRIMARY
 * KEY decides which one answers 200. With --store-in-db everything happens under the lock. */
static void store_items(xb_receiver *rx, rx_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        key_filename(it[i].name, sizeof it[i].name, it[i].key);
    if (rx->shared) {
        for (size_t i = 0; i < n; i++)
            it[i].status = store_one_shared(rx, it[i].key, it[i].name, it[i].body, it[i].len);
        return;
    }
    pthread_mutex_lock(&rx->mu);
    bool in_txn = rx->o.bodies_in_db && sqlite3_exec(rx->db, "BEGIN", NULL, NULL, NULL) == 0;
    for (size_t i = 0; i < n; i++)
        it[i].status = first_step(rx, &it[i]);
    if (!rx->o.bodies_in_db) {
        pthread_mutex_unlock(&rx->mu);
        for (size_t i = 0; i < n; i++)
            if (it[i].status == 0 &&
                store_body(rx, it[i].key, it[i].name, it[i].body, it[i].len) != 0)
                it[i].status = 500;
        pthread_mutex_lock(&rx->mu);
        in_txn = sqlite3_exec(rx->db, "BEGIN", NULL, NULL, NULL) == 0;
        for (size_t i = 0; i < n; i++)
            if (it[i].status == 0)
                it[i].status = record_key(rx, it[i].key, it[i].name);
    }
    finish_items(rx, it, n, in_txn);
    pthread_mutex_unlock(&rx->mu);
}

/* --no-fsync promises survival of a kill -9, not of a power cut: SQLite's OFF is exactly that
 * (the OS still has every committed page). NORMAL still fsynced at each WAL checkpoint, under
 * the store's lock, and those waits were the receiver's share of the 5,000 msgs/s p99 (issue
 * #8: p99 48/74/51 ms with NORMAL, 42/42/36 with OFF, interleaved runs). */
static const char *sync_pragma(const xb_receiver_options *o)
{
    return o->no_fsync ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=FULL";
}

static int open_store(xb_receiver *rx, xb_error *err)
{
    char path[4096];
    if (mkdir(rx->store_dir, 0755) != 0 && errno != EEXIST)
        return xb_error_set(err, XB_ESTATE, "store", "receive: cannot create %s", rx->store_dir);
    if (mkdir(rx->msg_dir, 0755) != 0 && errno != EEXIST)
        return xb_error_set(err, XB_ESTATE, "store", "receive: cannot create %s", rx->msg_dir);
    if (rx->o.dedupe_store) {
        int rc = xb_store_open(&rx->shared, rx->o.dedupe_store, err);
        if (rc < 0 && err)
            snprintf(err->path, sizeof err->path, "dedupe-store");
        return rc;
    }
    snprintf(path, sizeof path, "%s/receiver.sqlite", rx->store_dir);
    if (sqlite3_open_v2(path, &rx->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(rx->db, sync_pragma(&rx->o), NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(rx->db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE IF NOT EXISTS received(key TEXT PRIMARY KEY, received_at "
                     "INTEGER NOT NULL,"
                     " file TEXT NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS bodies(key TEXT PRIMARY KEY, body BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(rx->db, "SELECT 1 FROM received WHERE key = ?1", -1, &rx->sel, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(rx->db,
                           "INSERT INTO received(key, received_at, file) VALUES(?1, ?2, ?3)", -1,
                           &rx->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(rx->db, "INSERT OR REPLACE INTO bodies(key, body) VALUES(?1, ?2)", -1,
                           &rx->body_ins, NULL) != SQLITE_OK)
        return xb_error_set(err, XB_ESTATE, "store", "receive: cannot open dedupe store %s: %s",
                            path, rx->db ? sqlite3_errmsg(rx->db) : "out of memory");
    return 0;
}

/* ---- responses ------------------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                               const char *text, unsigned retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (retry_after) {
        char v[16];
        snprintf(v, sizeof v, "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(xb_receiver *rx, struct MHD_Connection *c, unsigned status,
                                    const char *text)
{
    char line[320];
    snprintf(line, sizeof line, "%s\n", text);
    if (status >= 400 && status != 503)
        count(rx, &rx->st.rejected);
    return respond(c, status, "text/plain; charset=utf-8", line, 0);
}

/* ---- client certificate ------------------------------------------------------------------- */

static int verify_client_cert(struct MHD_Connection *c, char *why, size_t whysz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t tls = ci ? (gnutls_session_t)ci->tls_session : NULL;
    if (!tls) {
        snprintf(why, whysz, "not a TLS connection");
        return 0;
    }
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(tls, &n) || n == 0) {
        snprintf(why, whysz, "client certificate required");
        return 0;
    }
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(tls, &status) < 0 || status != 0) {
        gnutls_datum_t out = {NULL, 0};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0 &&
            out.data)
            snprintf(why, whysz, "client certificate rejected: %s", (const char *)out.data);
        else
            snprintf(why, whysz, "client certificate rejected");
        gnutls_free(out.data);
        return 0;
    }
    return 1;
}

static int client_cert_ok(struct MHD_Connection *c, char *why, size_t whysz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rx_conn *cs = ci ? ci->socket_context : NULL;
    if (!cs) /* no cache: verify every time */
        return verify_client_cert(c, why, whysz);
    if (cs->checked == 0)
        cs->checked = verify_client_cert(c, cs->why, sizeof cs->why) ? 1 : -1;
    snprintf(why, whysz, "%s", cs->why);
    return cs->checked == 1;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(rx_conn));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* ---- signature ------------------------------------------------------------------------------ */

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static int signature_ok(xb_receiver *rx, struct MHD_Connection *c, const char *url, const rx_req *q,
                        char *why, size_t whysz)
{
    if (!rx->vkey)
        return 1;
    char target[4096];
    const char *host = hdr(c, "Host");
    snprintf(target, sizeof target, "https://%s%s", host ? host : "", url);
    xb_httpsig_message m = {.method = "POST",
                            .path = url,
                            .target_uri = target,
                            .content_type = hdr(c, "Content-Type"),
                            .idempotency_key = hdr(c, "Idempotency-Key"),
                            .body = q->body.data,
                            .body_len = q->body.len};
    xb_error err;
    if (xb_httpsig_verify(&m, hdr(c, "Content-Digest"), hdr(c, "Signature-Input"),
                          hdr(c, "Signature"), rx->vkey, rx->keyid, (int64_t)time(NULL),
                          rx->o.max_signature_age_s, &err) != 0) {
        snprintf(why, whysz, "%.250s", err.message);
        return 0;
    }
    return 1;
}

/* ---- batch (multipart/mixed) ---------------------------------------------------------------- */

static int boundary_of(char *out, size_t outsz, const char *ctype)
{
    const char *b = strcasestr(ctype, "boundary=");
    if (!b)
        return -1;
    b += 9;
    int quoted = *b == '"';
    if (quoted)
        b++;
    size_t n = 0;
    while (b[n] && (quoted ? b[n] != '"' : (b[n] != ';' && b[n] != ' ')))
        n++;
    if (n == 0 || n > 70 || n + 3 > outsz) /* RFC 2046: 1..70 characters */
        return -1;
    memcpy(out, "--", 2);
    memcpy(out + 2, b, n);
    out[n + 2] = '\0';
    return 0;
}

typedef struct part {
    const char *body;
    size_t len;
    char key[KEY_MAX + 1];
    char ctype[100];
} part;

/* Reads one header value of a part's header block [h, end). */
static void part_header(char *out, size_t outsz, const char *h, const char *end, const char *name)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - h) > nl && !strncasecmp(h, name, nl) && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t n = (size_t)(eol - v);
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
        h = eol + 2;
    }
}

/* Splits body into parts. 0 ok, -1 bad framing. */
static int split_parts(part **out, size_t *nout, const char *body, size_t len, const char *delim)
{
    size_t dl = strlen(delim);
    *out = NULL;
    *nout = 0;
    if (len < dl + 2 || memcmp(body, delim, dl) != 0)
        return -1;
    /* Grown as parts are found: a calloc of MAX_PARTS (2.5 MB) per request was 9% of the
     * receiver's CPU in the batch benchmark, zeroing pages it never used. */
    size_t cap = 16;
    part *parts = malloc(cap * sizeof *parts);
    if (!parts)
        return -1;
    const char *p = body + dl, *end = body + len;
    char close_delim[96];
    snprintf(close_delim, sizeof close_delim, "\r\n%s", delim);
    for (;;) {
        if (end - p >= 2 && !memcmp(p, "--", 2))
            break; /* closing delimiter */
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0 || *nout >= MAX_PARTS)
            goto bad;
        if (*nout == cap) {
            part *more = realloc(parts, 2 * cap * sizeof *parts);
            if (!more)
                goto bad;
            parts = more;
            cap *= 2;
        }
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            goto bad;
        part *pt = &parts[*nout];
        part_header(pt->key, sizeof pt->key, p, hend + 2, "Idempotency-Key");
        part_header(pt->ctype, sizeof pt->ctype, p, hend + 2, "Content-Type");
        const char *content = hend + 4;
        const char *next =
            memmem(content, (size_t)(end - content), close_delim, strlen(close_delim));
        if (!next)
            goto bad;
        pt->body = content;
        pt->len = (size_t)(next - content);
        (*nout)++;
        p = next + strlen(close_delim);
    }
    if (*nout == 0)
        goto bad;
    *out = parts;
    return 0;
bad:
    free(parts);
    *nout = 0;
    return -1;
}

static int xml_type(const char *ctype)
{
    return ctype &&
           (!strncasecmp(ctype, "application/xml", 15) || !strncasecmp(ctype, "text/xml", 8));
}

/* A part refused before storing: 400 or 415 with its reason (status 0: the part is stored). */
typedef struct part_answer {
    int status;
    const char *reason;
} part_answer;

/* Fills a with the refusal of part p, if any; returns a->status. */
static int check_part(part_answer *a, const part *p)
{
    if (!valid_key(p->key))
        *a = (part_answer){400, "missing or invalid Idempotency-Key"};
    else if (!xml_type(p->ctype))
        *a = (part_answer){415, "part is not application/xml"};
    else if (!well_formed(p->body, p->len))
        *a = (part_answer){400, "not well-formed XML (or DOCTYPE present)"};
    return a->status;
}

static enum MHD_Result handle_batch(xb_receiver *rx, struct MHD_Connection *c, rx_req *q,
                                    const char *ctype, int reset)
{
    char delim[80];
    part *parts;
    size_t n;
    if (boundary_of(delim, sizeof delim, ctype) != 0 ||
        split_parts(&parts, &n, q->body.data, q->body.len, delim) != 0)
        return respond_text(rx, c, 400, "malformed multipart/mixed batch");
    /* Checked part by part, stored together (one transaction), answered in order. */
    rx_item *items = calloc(n, sizeof *items);
    part_answer *ans = calloc(n, sizeof *ans);
    if (!items || !ans) {
        free(items);
        free(ans);
        free(parts);
        return respond(c, 500, "text/plain", "out of memory\n", 0);
    }
    size_t n_items = 0;
    for (size_t i = 0; i < n; i++)
        if (!check_part(&ans[i], &parts[i]))
            items[n_items++] =
                (rx_item){.key = parts[i].key, .body = parts[i].body, .len = parts[i].len};
    store_items(rx, items, n_items);
    json_t *results = json_array();
    for (size_t i = 0, k = 0; i < n; i++) {
        if (ans[i].status)
            count(rx, &rx->st.rejected);
        int status = ans[i].status ? ans[i].status : items[k++].status;
        const char *reason = ans[i].status   ? ans[i].reason
                             : status == 200 ? "stored"
                             : status == 409 ? "duplicate"
                                             : "store failed";
        json_array_append_new(results, json_pack("{s:s, s:i, s:s}", "idempotency_key", parts[i].key,
                                                 "status", status, "reason", reason));
    }
    free(items);
    free(ans);
    free(parts);
    json_t *root = json_pack("{s:o}", "results", results);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    enum MHD_Result ret = text && !reset ? respond(c, 200, "application/json", text, 0) : MHD_NO;
    free(text);
    return ret;
}

/* ---- request handling ----------------------------------------------------------------------- */

static enum MHD_Result handle_post(xb_receiver *rx, struct MHD_Connection *c, const char *url,
                                   rx_req *q)
{
    char why[300];
    if (!signature_ok(rx, c, url, q, why, sizeof why)) {
        if (!rx->o.quiet)
            fprintf(stderr, "receive: 401 %s\n", why);
        return respond_text(rx, c, 401, why);
    }
    if (rx->o.latency_ms)
        usleep(rx->o.latency_ms * 1000u);
    if (rx->o.fail_rate > 0 && rnd01(rx) < rx->o.fail_rate) {
        count(rx, &rx->st.injected_failures);
        return respond(c, 503, "text/plain", "injected failure\n", rx->o.retry_after_s);
    }
    const char *ctype = hdr(c, "Content-Type");
    if (ctype && !strncasecmp(ctype, "multipart/mixed", 15)) {
        /* A reset decided up front, applied after the parts are stored (same promise as below). */
        int reset = rx->o.reset_rate > 0 && rnd01(rx) < rx->o.reset_rate;
        enum MHD_Result ret = handle_batch(rx, c, q, ctype, reset);
        if (reset)
            count(rx, &rx->st.resets);
        return reset ? MHD_NO : ret;
    }
    const char *key = hdr(c, "Idempotency-Key");
    if (!xml_type(ctype))
        return respond_text(rx, c, 415, "Content-Type must be application/xml or multipart/mixed");
    if (!valid_key(key))
        return respond_text(rx, c, 400, "missing or invalid Idempotency-Key");
    if (!well_formed(q->body.data, q->body.len))
        return respond_text(rx, c, 400, "body is not well-formed XML (or has a DOCTYPE)");
    rx_item it = {.key = key, .body = q->body.data, .len = q->body.len};
    store_items(rx, &it, 1);
    int status = it.status;
    if (!rx->o.quiet)
        fprintf(stderr, "receive: %d %s (%zu bytes)\n", status, key, q->body.len);
    if (status == 500)
        return respond(c, 500, "text/plain", "store failed\n", 0);
    if (rx->o.reset_rate > 0 && rnd01(rx) < rx->o.reset_rate) {
        count(rx, &rx->st.resets);
        return MHD_NO; /* stored, but the answer is lost: the sender must retry and get 409 */
    }
    return respond(c, (unsigned)status, "text/plain", status == 200 ? "stored\n" : "duplicate\n",
                   0);
}

static enum MHD_Result handle_get(xb_receiver *rx, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/healthz"))
        return respond(c, 200, "text/plain", "ok\n", 0);
    if (!strcmp(url, "/stats")) {
        xb_receiver_stats s;
        xb_receiver_stats_get(rx, &s);
        char text[400];
        snprintf(text, sizeof text,
                 "{\"accepted\":%llu,\"duplicates\":%llu,\"rejected\":%llu,"
                 "\"injected_failures\":%llu,\"resets\":%llu,\"first_accepted_ms\":%llu,"
                 "\"last_accepted_ms\":%llu}\n",
                 (unsigned long long)s.accepted, (unsigned long long)s.duplicates,
                 (unsigned long long)s.rejected, (unsigned long long)s.injected_failures,
                 (unsigned long long)s.resets, (unsigned long long)s.first_accepted_ms,
                 (unsigned long long)s.last_accepted_ms);
        return respond(c, 200, "application/json", text, 0);
    }
    return respond_text(rx, c, 404, "not found");
}

/* First call of a request: decide refusals before reading any body. */
static void first_call(xb_receiver *rx, struct MHD_Connection *c, const char *url,
                       const char *method, rx_req *q)
{
    if (!client_cert_ok(c, q->reason, sizeof q->reason)) {
        q->status = 403;
        if (!rx->o.quiet)
            fprintf(stderr, "receive: 403 %s\n", q->reason);
        return;
    }
    if (!strcmp(method, "GET"))
        return;
    if (strcmp(method, "POST") != 0) {
        q->status = 405;
        snprintf(q->reason, sizeof q->reason, "method not allowed");
    } else if (strcmp(url, "/iso20022") != 0) {
        q->status = 404;
        snprintf(q->reason, sizeof q->reason, "not found (POST /iso20022)");
    } else {
        const char *cl = hdr(c, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > rx->o.max_body_bytes) {
            q->status = 413;
            snprintf(q->reason, sizeof q->reason, "body larger than %zu bytes",
                     rx->o.max_body_bytes);
        }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    xb_receiver *rx = cls;
    rx_req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        first_call(rx, c, url, method, q);
        if (q->status)
            return respond_text(rx, c, (unsigned)q->status, q->reason);
        if (!strcmp(method, "GET"))
            return handle_get(rx, c, url);
        return MHD_YES; /* wait for the body */
    }
    if (*upload_size) {
        if (q->status == 0 && q->body.len + *upload_size > rx->o.max_body_bytes) {
            q->status = 413;
            snprintf(q->reason, sizeof q->reason, "body larger than %zu bytes",
                     rx->o.max_body_bytes);
        }
        if (q->status == 0 && xb_buf_append(&q->body, upload, *upload_size) != 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->status)
        return respond_text(rx, c, (unsigned)q->status, q->reason);
    return handle_post(rx, c, url, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    rx_req *q = *con_cls;
    if (q) {
        xb_buf_free(&q->body);
        free(q);
    }
    *con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void xb_receiver_options_init(xb_receiver_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->max_signature_age_s = 300;
    o->max_body_bytes = 16u * 1024 * 1024;
}

static int resolve(struct sockaddr_storage *ss, socklen_t *sl, const char *host, unsigned port,
                   int *v6, xb_error *err)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return xb_error_set(err, XB_ECONFIG, "listen", "receive: cannot resolve listen host '%s'",
                            host);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int xb_receiver_start(xb_receiver **out, const xb_receiver_options *opts, xb_error *err)
{
    *out = NULL;
    if (!opts->cert_file || !opts->key_file || !opts->ca_file)
        return xb_error_set(err, XB_ECONFIG,
                            !opts->cert_file  ? "cert"
                            : !opts->key_file ? "key"
                                              : "ca",
                            "receive: --cert, --key and --ca are all required (mutual TLS)");
    if (!opts->store_dir)
        return xb_error_set(err, XB_ECONFIG, "store", "receive: --store DIR is required");
    xb_receiver *rx = calloc(1, sizeof *rx);
    if (!rx)
        return xb_error_set(err, XB_ENOMEM, NULL, "receive: out of memory");
    rx->o = *opts;
    pthread_mutex_init(&rx->mu, NULL);
    if (RAND_bytes((unsigned char *)&rx->rng, sizeof rx->rng) != 1 || rx->rng == 0)
        rx->rng = (uint64_t)time(NULL) | 1;
    rx->store_dir = strdup(opts->store_dir);
    rx->keyid = opts->verify_keyid ? strdup(opts->verify_keyid) : NULL;
    xb_buf md = XB_BUF_INIT;
    xb_buf_printf(&md, "%s/messages", opts->store_dir);
    rx->msg_dir = xb_buf_steal(&md);
    int rc;
    if ((rc = read_file(&rx->cert_pem, opts->cert_file, "cert", err)) ||
        (rc = read_file(&rx->key_pem, opts->key_file, "key", err)) ||
        (rc = read_file(&rx->ca_pem, opts->ca_file, "ca", err)))
        goto fail;
    if (opts->verify_key_file) {
        xb_error kerr;
        if ((rc = xb_httpsig_key_load(&rx->vkey, opts->verify_key_file, &kerr)) != 0) {
            rc = xb_error_set(err, XB_ECONFIG, "verify-key", "receive: %s", kerr.message);
            goto fail;
        }
    }
    xmlInitParser();
    if ((rc = open_store(rx, err)) != 0)
        goto fail;

    struct sockaddr_storage ss;
    socklen_t sl;
    int v6 = 0;
    if ((rc = resolve(&ss, &sl, opts->host ? opts->host : "127.0.0.1", opts->port, &v6, err)) != 0)
        goto fail;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    rx->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, rx, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_CERT, rx->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, rx->key_pem,
        MHD_OPTION_HTTPS_MEM_TRUST, rx->ca_pem, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_NOTIFY_COMPLETED, on_completed, rx,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, rx, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024, MHD_OPTION_END);
    if (!rx->daemon) {
        rc = xb_error_set(
            err, XB_EIO, "listen",
            "receive: cannot listen on %s:%u (port in use, or the TLS files don't match)",
            opts->host ? opts->host : "127.0.0.1", opts->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(rx->daemon, MHD_DAEMON_INFO_BIND_PORT);
    rx->port = di ? di->port : opts->port;
    (void)sl;
    *out = rx;
    return 0;
fail:
    xb_receiver_stop(rx);
    return rc;
}

unsigned xb_receiver_port(const xb_receiver *rx)
{
    return rx->port;
}

void xb_receiver_stats_get(xb_receiver *rx, xb_receiver_stats *out)
{
    pthread_mutex_lock(&rx->mu);
    *out = rx->st;
    pthread_mutex_unlock(&rx->mu);
}

void xb_receiver_stop(xb_receiver *rx)
{
    if (!rx)
        return;
    if (rx->daemon)
        MHD_stop_daemon(rx->daemon);
    sqlite3_finalize(rx->sel);
    sqlite3_finalize(rx->ins);
    sqlite3_finalize(rx->body_ins);
    sqlite3_close(rx->db);
    xb_store_close(rx->shared);
    xb_httpsig_key_free(rx->vkey);
    if (rx->key_pem)
        memset(rx->key_pem, 0, strlen(rx->key_pem));
    free(rx->cert_pem);
    free(rx->key_pem);
    free(rx->ca_pem);
    free(rx->store_dir);
    free(rx->msg_dir);
    free(rx->keyid);
    pthread_mutex_destroy(&rx->mu);
    free(rx);
}
