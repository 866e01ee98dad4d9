/* sink_http.c — HTTPS delivery to one destination on the libcurl multi interface.
 *
 * Owns: the message queues (fresh FIFO, retry list), in-flight requests, the retry schedule,
 * the circuit breaker, TLS options, signing of each attempt (httpsig), batch framing.
 * Never: drops a message without a callback, retries a permanent answer, calls a callback
 * outside poll/free, or puts a key, a body or a TLS secret in an error text.
 */
#include "adapter/transport/sink_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/transport/httpsig.h"
#include "iso20022/buf.h"

#define RETRY_AFTER_MAX_MS 600000u
#define RESPONSE_MAX (1024u * 1024u)

typedef struct msg {
    struct msg *next;
    char *body;
    size_t len;
    void *user;
    uint64_t submit_us;
    uint64_t due_us; /* not before (retry schedule) */
    unsigned attempts;
    int failed_once; /* counted in xb_sink_http.failing until completed */
    long last_status;
    char key[XB_SINK_HTTP_KEY_MAX + 1];
} msg;

typedef struct msg_list {
    msg *head, *tail;
    unsigned n;
} msg_list;

#define EASY_POOL_MAX 64

typedef struct req {
    struct req *prev, *next; /* in-flight list, so free() can cancel them */
    CURL *easy;
    struct curl_slist *headers;
    msg **msgs;
    size_t n;
    xb_buf body; /* batch body; single requests point at the message's own bytes */
    xb_buf resp;
    char errbuf[CURL_ERROR_SIZE];
} req;

struct xb_sink_http {
    xb_sink_http_options o;
    char *name, *url, *ca_file, *cert_file, *key_file, *pin, *keyid, *content_type, *path;
    xb_httpsig_key *sign_key;
    xb_sink_http_done_fn done;
    void *cb_ctx;
    CURLM *multi;
    int wake_fd; /* -1, or a descriptor that ends a blocking poll (xb_sink_http_set_wake_fd) */
    msg_list fresh, retry;
    req *reqs; /* in flight */
    unsigned in_flight;
    unsigned failing; /* pending messages that failed at least once (retry waiting or in flight) */
    xb_sink_http_stats st;
    unsigned consecutive_failures;
    uint64_t breaker_until_us; /* OPEN until then; then HALF_OPEN */
    uint64_t hold_until_us;    /* Retry-After on the destination */
    int failed;
    char config_error[512];
    uint64_t rng;
    int completed_in_poll;
    /* Easy handles of finished requests, configured and ready (issue #8): curl_easy_init and
     * cleanup per request cost two allocations of libcurl's 16 KB and 64 KB transfer buffers
     * per message, which the profile showed as malloc_consolidate churn. */
    CURL *idle[EASY_POOL_MAX];
    unsigned n_idle;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t rng_next(xb_sink_http *s)
{
    /* xorshift64*: jitter only needs to de-correlate senders, not be unpredictable. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void list_push(msg_list *l, msg *m)
{
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

static msg *list_pop(msg_list *l)
{
    msg *m = l->head;
    if (!m)
        return NULL;
    l->head = m->next;
    if (!l->head)
        l->tail = NULL;
    l->n--;
    m->next = NULL;
    return m;
}

static void msg_free(msg *m)
{
    if (!m)
        return;
    free(m->body);
    free(m);
}

static void complete(xb_sink_http *s, msg *m, xb_sink_http_outcome outcome, long status,
                     const char *reason)
{
    xb_sink_http_result r = {.outcome = outcome,
                             .http_status = status,
                             .attempts = m->attempts,
                             .latency_us = now_us() - m->submit_us,
                             .reason = reason ? reason : ""};
    switch (outcome) {
    case XB_SINK_HTTP_DELIVERED:
        s->st.delivered++;
        break;
    case XB_SINK_HTTP_DUPLICATE:
        s->st.duplicates++;
        break;
    case XB_SINK_HTTP_PERMANENT:
        s->st.permanent++;
        break;
    case XB_SINK_HTTP_CONFIG_ERROR:
        s->st.config_errors++;
        break;
    case XB_SINK_HTTP_CANCELLED:
        s->st.cancelled++;
        break;
    }
    s->st.pending--;
    s->completed_in_poll++;
    if (m->failed_once)
        s->failing--;
    void *user = m->user;
    msg_free(m);
    s->done(s->cb_ctx, user, &r);
}

/* ---- options -------------------------------------------------------------------------------- */

void xb_sink_http_options_init(xb_sink_http_options *o)
{
    memset(o, 0, sizeof *o);
    o->content_type = "application/xml";
    o->max_in_flight = 16;
    o->connect_timeout_ms = 5000;
    o->request_timeout_ms = 30000;
    o->backoff_initial_ms = 100;
    o->backoff_max_ms = 30000;
    o->breaker_threshold = 5;
    o->breaker_open_ms = 2000;
    o->batch_linger_ms = 5;
    o->batch_max_bytes = 4u * 1024 * 1024;
    o->max_body_bytes = 16u * 1024 * 1024;
    o->http2 = 1;
}

/* The path (+query) of the URL, for the "@path" signature component and errors. */
static int url_path(char **out, const char *url)
{
    CURLU *u = curl_url();
    char *path = NULL;
    int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK;
    if (ok) {
        *out = strdup(path);
        ok = *out != NULL;
    }
    curl_free(path);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

static int check_options(const xb_sink_http_options *o, xb_error *err)
{
    if (!o->name || !*o->name)
        return xb_error_set(err, XB_ECONFIG, "name", "sink_http: destination name is required");
    if (!o->url || !*o->url)
        return xb_error_set(err, XB_ECONFIG, "url", "sink_http: %s: url is required", o->name);
    if (strncmp(o->url, "https://", 8) != 0 &&
        !(o->allow_plain_http && !strncmp(o->url, "http://", 7)))
        return xb_error_set(err, XB_ECONFIG, "url", "sink_http: %s: url must start with https://",
                            o->name);
    if (!o->cert_file != !o->key_file)
        return xb_error_set(err, XB_ECONFIG, o->cert_file ? "tls.key" : "tls.cert",
                            "sink_http: %s: client certificate and key must be given together",
                            o->name);
    if (o->pinned_pubkey && strncmp(o->pinned_pubkey, "sha256//", 8) != 0)
        return xb_error_set(err, XB_ECONFIG, "tls.pin",
                            "sink_http: %s: pinned key must be sha256//BASE64 (see tests/env/pki)",
                            o->name);
    if (o->sign_key_file && (!o->sign_key_id || !*o->sign_key_id))
        return xb_error_set(err, XB_ECONFIG, "signing.keyid",
                            "sink_http: %s: a signing key needs a keyid", o->name);
    if (o->max_in_flight == 0 || o->max_in_flight > 1024)
        return xb_error_set(err, XB_ECONFIG, "max_in_flight",
                            "sink_http: %s: max_in_flight must be 1..1024", o->name);
    if (o->batch_max_messages > 10000)
        return xb_error_set(err, XB_ECONFIG, "batch.max_messages",
                            "sink_http: %s: batch.max_messages must be at most 10000", o->name);
    return 0;
}

int xb_sink_http_new(xb_sink_http **out, const xb_sink_http_options *opts,
                     xb_sink_http_done_fn done, void *cb_ctx, xb_error *err)
{
    *out = NULL;
    int rc = check_options(opts, err);
    if (rc)
        return rc;
    if (!done)
        return xb_error_set(err, XB_EINVAL, NULL, "sink_http: a completion callback is required");
    pthread_once(&curl_once, curl_init_once);
    xb_sink_http *s = calloc(1, sizeof *s);
    if (!s)
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_http: out of memory");
    s->o = *opts;
    s->wake_fd = -1;
    s->name = strdup(opts->name);
    s->url = strdup(opts->url);
    s->ca_file = dup_or_null(opts->ca_file);
    s->cert_file = dup_or_null(opts->cert_file);
    s->key_file = dup_or_null(opts->key_file);
    s->pin = dup_or_null(opts->pinned_pubkey);
    s->keyid = dup_or_null(opts->sign_key_id);
    s->content_type = strdup(opts->content_type ? opts->content_type : "application/xml");
    s->done = done;
    s->cb_ctx = cb_ctx;
    s->o.name = s->name;
    s->o.url = s->url;
    if (s->o.backlog_high == 0) /* enough queued to fill every in-flight request, twice */
        s->o.backlog_high =
            2 * s->o.max_in_flight * (s->o.batch_max_messages > 1 ? s->o.batch_max_messages : 2);
    if (s->o.backoff_initial_ms == 0)
        s->o.backoff_initial_ms = 1;
    if (s->o.backoff_max_ms < s->o.backoff_initial_ms)
        s->o.backoff_max_ms = s->o.backoff_initial_ms;
    if (s->o.breaker_threshold == 0)
        s->o.breaker_threshold = 1;
    if (RAND_bytes((unsigned char *)&s->rng, sizeof s->rng) != 1 || s->rng == 0)
        s->rng = now_us() | 1;
    if (!s->name || !s->url || !s->content_type || url_path(&s->path, s->url) != 0) {
        xb_sink_http_free(s);
        return xb_error_set(err, XB_ECONFIG, "url", "sink_http: %s: url '%s' does not parse",
                            opts->name, opts->url);
    }
    if (opts->sign_key_file) {
        xb_error kerr;
        if ((rc = xb_httpsig_key_load(&s->sign_key, opts->sign_key_file, &kerr)) != 0 ||
            !xb_httpsig_key_is_private(s->sign_key)) {
            xb_sink_http_free(s);
            return xb_error_set(err, rc ? rc : XB_ECRYPTO, "signing.key", "sink_http: %s: %s",
                                opts->name,
                                rc ? kerr.message : "signing key file holds no private key");
        }
    }
    s->multi = curl_multi_init();
    if (!s->multi) {
        xb_sink_http_free(s);
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_http: curl_multi_init failed");
    }
    /* HTTP/2 multiplexing when offered; otherwise one keep-alive connection per in-flight request.
     */
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->o.max_in_flight);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->o.max_in_flight);
    *out = s;
    return 0;
}

/* ---- idempotency key ---------------------------------------------------------------------- */

static int valid_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > XB_SINK_HTTP_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] <= 0x20 || k[i] >= 0x7f || k[i] == '"' || k[i] == '\\' || k[i] == ',' ||
            k[i] == ';')
            return 0;
    return 1;
}

int xb_sink_http_idempotency_key(char *out, const char *uetr, const void *canonical, size_t len,
                                 const char *destination, xb_error *err)
{
    out[0] = '\0';
    if (uetr && *uetr) {
        if (strlen(uetr) != 36)
            return xb_error_set(err, XB_EINVAL, NULL, "sink_http: UETR must be 36 characters");
        for (int i = 0; i < 36; i++) {
            char c = uetr[i];
            int dash = i == 8 || i == 13 || i == 18 || i == 23;
            int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (dash ? c != '-' : !hex)
                return xb_error_set(err, XB_EINVAL, NULL, "sink_http: UETR is not a UUID");
            out[i] = (char)((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
        }
        out[36] = '\0';
        return 0;
    }
    if (!destination || !*destination || (!canonical && len))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "sink_http: key rule needs a destination and a message");
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, destination, strlen(destination) + 1) == 1 && /* NUL separates */
             EVP_DigestUpdate(c, canonical ? canonical : (const void *)"", len) == 1 &&
             EVP_DigestFinal_ex(c, md, NULL) == 1;
    EVP_MD_CTX_free(c);
    if (!ok)
        return xb_error_set(err, XB_ECRYPTO, NULL, "sink_http: SHA-256 failed");
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* ---- submit --------------------------------------------------------------------------------- */

int xb_sink_http_submit(xb_sink_http *s, const void *body, size_t len, const char *idempotency_key,
                        void *user, xb_error *err)
{
    if (!body || len == 0)
        return xb_error_set(err, XB_EINVAL, NULL, "sink_http: %s: empty message", s->name);
    if (len > s->o.max_body_bytes)
        return xb_error_set(err, XB_ELIMIT, NULL, "sink_http: %s: message of %zu bytes exceeds %zu",
                            s->name, len, s->o.max_body_bytes);
    if (!valid_key(idempotency_key))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "sink_http: %s: idempotency key must be 1..%d printable "
                            "characters without spaces, quotes, ',' or ';'",
                            s->name, XB_SINK_HTTP_KEY_MAX);
    msg *m = calloc(1, sizeof *m);
    if (!m || !(m->body = malloc(len))) {
        free(m);
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_http: out of memory");
    }
    memcpy(m->body, body, len);
    m->len = len;
    m->user = user;
    m->submit_us = now_us();
    snprintf(m->key, sizeof m->key, "%s", idempotency_key);
    list_push(&s->fresh, m);
    s->st.submitted++;
    s->st.pending++;
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    size_t n = size * nmemb;
    if (r->resp.len + n > RESPONSE_MAX)
        return n; /* keep reading, stop storing: the status is what matters */
    return xb_buf_append(&r->resp, ptr, n) == 0 ? n : 0;
}

static void req_free(req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    xb_buf_free(&r->body);
    xb_buf_free(&r->resp);
    free(r->msgs);
    free(r);
}

static int add_header(req *r, const char *name, const char *v)
{
    char line[1200];
    /* "Name:" with nothing after the colon tells curl to drop a header it would add itself. */
    snprintf(line, sizeof line, *v ? "%s: %s" : "%s:%s", name, v);
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l)
        return -1;
    r->headers = l;
    return 0;
}

/* multipart/mixed framing, see receiver.h. Key of the whole request: SHA-256 of the part keys. */
static int build_batch(xb_sink_http *s, req *r, char *boundary, size_t bsz, char *key)
{
    for (;;) {
        unsigned char rnd[16];
        RAND_bytes(rnd, sizeof rnd);
        int off = snprintf(boundary, bsz, "xb-");
        for (size_t i = 0; i < sizeof rnd; i++)
            off += snprintf(boundary + off, bsz - (size_t)off, "%02x", rnd[i]);
        int clash = 0;
        for (size_t i = 0; i < r->n && !clash; i++)
            clash = memmem(r->msgs[i]->body, r->msgs[i]->len, boundary, strlen(boundary)) != NULL;
        if (!clash)
            break;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        msg *m = r->msgs[i];
        EVP_DigestUpdate(c, m->key, strlen(m->key) + 1);
        if (xb_buf_printf(&r->body, "--%s\r\nContent-Type: %s\r\nIdempotency-Key: %s\r\n\r\n",
                          boundary, s->content_type, m->key) ||
            xb_buf_append(&r->body, m->body, m->len) || xb_buf_puts(&r->body, "\r\n")) {
            EVP_MD_CTX_free(c);
            return -1;
        }
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    if (xb_buf_printf(&r->body, "--%s--\r\n", boundary))
        return -1;
    strcpy(key, "batch-");
    for (size_t i = 0; i < 16; i++)
        snprintf(key + 6 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void configure_easy(xb_sink_http *s, req *r)
{
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, s->o.allow_plain_http ? "https,http" : "https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     (long)(s->o.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* prefer one multiplexed HTTP/2 connection */
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, s->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, s->key_file);
    }
    if (s->pin)
        curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, s->pin);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->o.request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if (getenv("XB_SINK_HTTP_VERBOSE")) /* debugging: curl trace of headers on stderr */
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
}

/* A configured easy handle: one a finished request left, else a new one. The options that are
 * the same for every request of this sink are set once per handle. */
static CURL *take_easy(xb_sink_http *s, req *r)
{
    int fresh = s->n_idle == 0;
    CURL *e = fresh ? curl_easy_init() : s->idle[--s->n_idle];
    if (!e)
        return NULL;
    r->easy = e;
    if (fresh)
        configure_easy(s, r);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    return e;
}

/* Keeps the handle of a finished request (already removed from the multi handle) for the next
 * one; the connection itself stays in the multi handle's pool either way. */
static void give_easy(xb_sink_http *s, req *r)
{
    if (!r->easy || s->n_idle == EASY_POOL_MAX)
        return;
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
    s->idle[s->n_idle++] = r->easy;
    r->easy = NULL;
}

/* Starts one request for msgs[0..n). On failure the messages go back to the retry list. */
static int start_request(xb_sink_http *s, msg **msgs, size_t n)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->msgs = msgs;
    r->n = n;
    take_easy(s, r);
    const void *body;
    size_t len;
    char key[XB_SINK_HTTP_KEY_MAX + 1], ctype[160];
    int ok = r->easy != NULL;
    if (ok && s->o.batch_max_messages > 1) {
        char boundary[64];
        ok = build_batch(s, r, boundary, sizeof boundary, key) == 0;
        snprintf(ctype, sizeof ctype, "multipart/mixed; boundary=%s", boundary);
        body = r->body.data;
        len = r->body.len;
    } else {
        snprintf(key, sizeof key, "%s", msgs[0]->key);
        snprintf(ctype, sizeof ctype, "%s", s->content_type);
        body = msgs[0]->body;
        len = msgs[0]->len;
    }
    if (ok) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        ok = add_header(r, "Content-Type", ctype) == 0 &&
             add_header(r, "Idempotency-Key", key) == 0 && add_header(r, "Expect", "") == 0;
    }
    if (ok && s->sign_key) {
        /* Signed per attempt, so `created` is fresh on a retry hours later. */
        xb_httpsig_message hm = {.method = "POST",
                                 .path = s->path,
                                 .target_uri = s->url,
                                 .content_type = ctype,
                                 .idempotency_key = key,
                                 .body = body,
                                 .body_len = len};
        xb_httpsig_headers h;
        ok = xb_httpsig_sign(&h, &hm, s->sign_key, s->keyid, (int64_t)time(NULL), 0, NULL) == 0 &&
             add_header(r, "Content-Digest", h.content_digest) == 0 &&
             add_header(r, "Signature-Input", h.signature_input) == 0 &&
             add_header(r, "Signature", h.signature) == 0;
    }
    if (ok) {
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        ok = curl_multi_add_handle(s->multi, r->easy) == CURLM_OK;
    }
    if (!ok) {
        r->msgs = NULL;
        req_free(r);
        return -1;
    }
    r->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = r;
    s->reqs = r;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i]->attempts++ > 0)
            s->st.retries++;
    }
    s->st.requests++;
    s->in_flight++;
    return 0;
}

/* ---- scheduling ----------------------------------------------------------------------------- */

static xb_sink_http_breaker breaker_state(const xb_sink_http *s, uint64_t now)
{
    if (s->consecutive_failures < s->o.breaker_threshold)
        return XB_SINK_HTTP_BREAKER_CLOSED;
    return now < s->breaker_until_us ? XB_SINK_HTTP_BREAKER_OPEN : XB_SINK_HTTP_BREAKER_HALF_OPEN;
}

/* Takes the next due message: due retries first (oldest trouble first), then fresh ones. */
static msg *take_due(xb_sink_http *s, uint64_t now)
{
    msg *prev = NULL;
    for (msg *m = s->retry.head; m; prev = m, m = m->next) {
        if (m->due_us > now)
            continue;
        if (prev)
            prev->next = m->next;
        else
            s->retry.head = m->next;
        if (s->retry.tail == m)
            s->retry.tail = prev;
        s->retry.n--;
        m->next = NULL;
        return m;
    }
    return list_pop(&s->fresh);
}

static int batch_ready(const xb_sink_http *s, uint64_t now)
{
    if (s->o.batch_max_messages <= 1)
        return 1;
    unsigned ready = s->fresh.n;
    for (msg *m = s->retry.head; m; m = m->next)
        ready += m->due_us <= now;
    if (ready >= s->o.batch_max_messages)
        return 1;
    /* Linger for the oldest fresh message only; retries go as soon as they are due. */
    if (s->retry.head && s->retry.head->due_us <= now)
        return 1;
    return s->fresh.head &&
           now - s->fresh.head->submit_us >= (uint64_t)s->o.batch_linger_ms * 1000u;
}

static void fail_all_queued(xb_sink_http *s, xb_sink_http_outcome outcome, const char *reason)
{
    msg *m;
    while ((m = list_pop(&s->retry)))
        complete(s, m, outcome, m->last_status, reason);
    while ((m = list_pop(&s->fresh)))
        complete(s, m, outcome, 0, reason);
}

static void dispatch(xb_sink_http *s)
{
    if (s->failed) {
        fail_all_queued(s, XB_SINK_HTTP_CONFIG_ERROR, s->config_error);
        return;
    }
    uint64_t now = now_us();
    if (now < s->hold_until_us)
        return;
    xb_sink_http_breaker b = breaker_state(s, now);
    if (b == XB_SINK_HTTP_BREAKER_OPEN)
        return;
    unsigned limit = b == XB_SINK_HTTP_BREAKER_HALF_OPEN ? 1 : s->o.max_in_flight; /* one probe */
    unsigned per_req = s->o.batch_max_messages > 1 ? s->o.batch_max_messages : 1;
    while (s->in_flight < limit && batch_ready(s, now)) {
        msg **msgs = calloc(per_req, sizeof *msgs);
        if (!msgs)
            return;
        size_t n = 0, bytes = 0;
        msg *m;
        while (n < per_req && (n == 0 || bytes < s->o.batch_max_bytes) && (m = take_due(s, now))) {
            msgs[n++] = m;
            bytes += m->len;
        }
        if (n == 0) {
            free(msgs);
            return;
        }
        if (start_request(s, msgs, n) != 0) {
            /* Could not even build the request (memory): put them back for a later try. */
            for (size_t i = 0; i < n; i++) {
                msgs[i]->due_us = now + 100000u;
                list_push(&s->retry, msgs[i]);
            }
            free(msgs);
            return;
        }
    }
}

static void unlink_req(xb_sink_http *s, req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    s->in_flight--;
}

/* ---- classification of a finished request ------------------------------------------------ */

typedef enum { R_OK, R_DUP, R_PERM, R_RETRY, R_CONFIG } verdict;

static verdict classify_status(long status)
{
    if (status >= 200 && status < 300)
        return R_OK;
    if (status == 409)
        return R_DUP;
    if (status == 401 || status == 403)
        return R_CONFIG;
    if (status == 408 || status == 429 || status >= 500)
        return R_RETRY;
    return R_PERM; /* other 4xx, 3xx (we never follow redirects), 1xx */
}

/* TLS alerts and errors that mean "this configuration cannot work", not "try again later". */
static int tls_config_text(const char *e)
{
    static const char *const needles[] = {
        "unknown ca",           "bad certificate",       "certificate required",
        "certificate expired",  "certificate revoked",   "unsupported certificate",
        "certificate unknown",  "handshake failure",     "protocol version",
        "access denied",        "insufficient security", "no protocols available",
        "unsupported protocol", "wrong version number",  "decrypt error",
        "no shared cipher",     "alert internal error"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        if (strcasestr(e, needles[i]))
            return 1;
    return 0;
}

static verdict classify_curl(CURLcode rc, const char *errbuf)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
        return R_CONFIG;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return tls_config_text(errbuf) ? R_CONFIG : R_RETRY;
    default:
        return R_RETRY;
    }
}

static const char *tls_hint(CURLcode rc, const char *e)
{
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return "server public key does not match the pinned key";
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        if (strcasestr(e, "expired"))
            return "server certificate has expired";
        if (strcasestr(e, "not yet valid"))
            return "server certificate is not yet valid";
        if (strcasestr(e, "subject name") || strcasestr(e, "hostname") ||
            strcasestr(e, "match target host"))
            return "server certificate does not match the host name";
        if (strcasestr(e, "issuer") || strcasestr(e, "self-signed") || strcasestr(e, "self signed"))
            return "server certificate is not signed by the configured CA (unknown CA)";
        return "server certificate verification failed";
    }
    if (rc == CURLE_SSL_CERTPROBLEM)
        return "our client certificate or key cannot be used";
    if (rc == CURLE_SSL_CACERT_BADFILE)
        return "the CA file cannot be read";
    if (strcasestr(e, "protocol version") || strcasestr(e, "unsupported protocol") ||
        strcasestr(e, "wrong version number") || strcasestr(e, "no protocols available"))
        return "no common TLS version >= 1.2";
    if (strcasestr(e, "unknown ca") || strcasestr(e, "bad certificate") ||
        strcasestr(e, "certificate required") || strcasestr(e, "certificate unknown") ||
        strcasestr(e, "access denied"))
        return "the server refused our client certificate";
    return "TLS handshake failed";
}

static void enter_failed(xb_sink_http *s, const char *what, const char *detail)
{
    if (s->failed)
        return;
    s->failed = 1;
    snprintf(s->config_error, sizeof s->config_error, "%s: %s (%s) for %s", s->name, what, detail,
             s->url);
}

/* ISO 20022 error texts in a response are short; keep the first line, printable bytes only. */
static void response_reason(char *out, size_t outsz, const xb_buf *resp, long status)
{
    size_t n = 0;
    for (size_t i = 0; resp->data && i < resp->len && n + 1 < outsz && resp->data[i] != '\n'; i++)
        out[n++] = (resp->data[i] >= 0x20 && resp->data[i] < 0x7f) ? resp->data[i] : '?';
    out[n] = '\0';
    if (n == 0)
        snprintf(out, outsz, "HTTP %ld", status);
}

static uint64_t backoff_us(xb_sink_http *s, unsigned attempts)
{
    uint64_t base = s->o.backoff_initial_ms;
    for (unsigned i = 1; i < attempts && base < s->o.backoff_max_ms; i++)
        base *= 2;
    if (base > s->o.backoff_max_ms)
        base = s->o.backoff_max_ms;
    /* "Equal jitter": half fixed, half random, so retries spread but never hammer at 0 ms. */
    uint64_t half = base * 500u;
    return half + (half ? rng_next(s) % (half + 1) : 0);
}

static void schedule_retry(xb_sink_http *s, msg *m, uint64_t retry_after_us)
{
    uint64_t now = now_us();
    uint64_t delay = backoff_us(s, m->attempts);
    if (retry_after_us > delay)
        delay = retry_after_us;
    m->due_us = now + delay;
    if (!m->failed_once) {
        m->failed_once = 1;
        s->failing++;
    }
    list_push(&s->retry, m);
}

static void record_transport_result(xb_sink_http *s, int failure)
{
    if (!failure) {
        s->consecutive_failures = 0;
        return;
    }
    s->consecutive_failures++;
    if (s->consecutive_failures >= s->o.breaker_threshold)
        s->breaker_until_us = now_us() + (uint64_t)s->o.breaker_open_ms * 1000u;
}

/* Applies one per-message status from a single response or a batch result. */
static void settle_msg(xb_sink_http *s, msg *m, long status, const char *reason,
                       uint64_t retry_after_us)
{
    m->last_status = status;
    switch (classify_status(status)) {
    case R_OK:
        complete(s, m, XB_SINK_HTTP_DELIVERED, status, reason);
        break;
    case R_DUP:
        complete(s, m, XB_SINK_HTTP_DUPLICATE, status, reason);
        break;
    case R_PERM:
        complete(s, m, XB_SINK_HTTP_PERMANENT, status, reason);
        break;
    case R_CONFIG: {
        char detail[160];
        snprintf(detail, sizeof detail, "HTTP %ld: %s", status, reason);
        enter_failed(s, "the receiver refused our credentials", detail);
        complete(s, m, XB_SINK_HTTP_CONFIG_ERROR, status, s->config_error);
        break;
    }
    case R_RETRY:
        schedule_retry(s, m, retry_after_us);
        break;
    }
}

/* Batch answer: {"results":[{"idempotency_key":"...","status":200,"reason":"..."}...]}. */
static void settle_batch(xb_sink_http *s, req *r, uint64_t retry_after_us)
{
    json_error_t je;
    json_t *root = json_loadb(r->resp.data ? r->resp.data : "", r->resp.len, 0, &je);
    json_t *results = root ? json_object_get(root, "results") : NULL;
    for (size_t i = 0; i < r->n; i++) {
        msg *m = r->msgs[i];
        long status = 0;
        const char *reason = "batch answer has no result for this part";
        size_t j;
        json_t *it;
        json_array_foreach(results, j, it)
        {
            const char *k = json_string_value(json_object_get(it, "idempotency_key"));
            if (k && !strcmp(k, m->key)) {
                status = (long)json_integer_value(json_object_get(it, "status"));
                const char *rs = json_string_value(json_object_get(it, "reason"));
                reason = rs ? rs : "";
                break;
            }
        }
        if (status == 0)
            status = 502; /* no per-part answer: safe to resend, the receiver dedupes */
        settle_msg(s, m, status, reason, retry_after_us);
    }
    json_decref(root);
}

static void finish_request(xb_sink_http *s, req *r, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t ra = 0;
    uint64_t retry_after_us = 0;
    if (rc == CURLE_OK && (status == 503 || status == 429) &&
        curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) {
        uint64_t ms = (uint64_t)ra * 1000u;
        retry_after_us = (ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms) * 1000u;
        s->hold_until_us = now_us() + retry_after_us; /* the whole destination waits */
    }
    curl_multi_remove_handle(s->multi, r->easy);
    unlink_req(s, r);

    if (rc != CURLE_OK) {
        verdict v = classify_curl(rc, r->errbuf);
        if (v == R_CONFIG) {
            char detail[CURL_ERROR_SIZE + 64];
            snprintf(detail, sizeof detail, "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
            enter_failed(s, tls_hint(rc, r->errbuf), detail);
            for (size_t i = 0; i < r->n; i++)
                complete(s, r->msgs[i], XB_SINK_HTTP_CONFIG_ERROR, 0, s->config_error);
        } else {
            record_transport_result(s, 1);
            for (size_t i = 0; i < r->n; i++) {
                r->msgs[i]->last_status = 0;
                schedule_retry(s, r->msgs[i], 0);
            }
        }
    } else {
        record_transport_result(s, classify_status(status) == R_RETRY);
        char reason[256];
        response_reason(reason, sizeof reason, &r->resp, status);
        if (s->o.batch_max_messages > 1 && status >= 200 && status < 300)
            settle_batch(s, r, retry_after_us);
        else
            for (size_t i = 0; i < r->n; i++)
                settle_msg(s, r->msgs[i], status, reason, retry_after_us);
    }
    if (rc == CURLE_OK || classify_curl(rc, r->errbuf) != R_CONFIG)
        give_easy(s, r);
    req_free(r);
}

static int harvest(xb_sink_http *s)
{
    CURLMsg *cm;
    int left;
    while ((cm = curl_multi_info_read(s->multi, &left))) {
        if (cm->msg != CURLMSG_DONE)
            continue;
        req *r = NULL;
        CURLcode rc = cm->data.result;
        curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish_request(s, r, rc);
    }
    return 0;
}

/* Milliseconds until the next retry, hold, breaker or linger deadline (or max_ms). */
static int next_timer_ms(const xb_sink_http *s, int max_ms)
{
    uint64_t now = now_us(), next = now + (uint64_t)max_ms * 1000u;
    if (s->hold_until_us > now && s->hold_until_us < next)
        next = s->hold_until_us;
    if (breaker_state(s, now) == XB_SINK_HTTP_BREAKER_OPEN && s->breaker_until_us < next)
        next = s->breaker_until_us;
    for (msg *m = s->retry.head; m; m = m->next)
        if (m->due_us < next)
            next = m->due_us > now ? m->due_us : now;
    if (s->o.batch_max_messages > 1 && s->fresh.head) {
        uint64_t l = s->fresh.head->submit_us + (uint64_t)s->o.batch_linger_ms * 1000u;
        if (l < next)
            next = l > now ? l : now;
    }
    return (int)((next - now + 999) / 1000);
}

int xb_sink_http_poll(xb_sink_http *s, int timeout_ms, xb_error *err)
{
    s->completed_in_poll = 0;
    int running;
    dispatch(s);
    if (curl_multi_perform(s->multi, &running) != CURLM_OK)
        return xb_error_set(err, XB_EIO, NULL, "sink_http: %s: curl_multi_perform failed", s->name);
    harvest(s);
    if (s->completed_in_poll == 0 && timeout_ms > 0) {
        int wait = next_timer_ms(s, timeout_ms);
        struct curl_waitfd wake = {.fd = s->wake_fd, .events = CURL_WAIT_POLLIN};
        if (wait > 0 &&
            curl_multi_poll(s->multi, &wake, s->wake_fd >= 0 ? 1 : 0, wait, NULL) != CURLM_OK)
            return xb_error_set(err, XB_EIO, NULL, "sink_http: %s: curl_multi_poll failed",
                                s->name);
        dispatch(s);
        if (curl_multi_perform(s->multi, &running) != CURLM_OK)
            return xb_error_set(err, XB_EIO, NULL, "sink_http: %s: curl_multi_perform failed",
                                s->name);
        harvest(s);
    }
    dispatch(s);
    return s->completed_in_poll;
}

void xb_sink_http_set_wake_fd(xb_sink_http *s, int fd)
{
    s->wake_fd = fd;
}

void xb_sink_http_wakeup(xb_sink_http *s)
{
    if (s && s->multi)
        curl_multi_wakeup(s->multi);
}

unsigned xb_sink_http_drain(xb_sink_http *s, int timeout_ms, xb_error *err)
{
    uint64_t deadline = now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
    while (s->st.pending > 0) {
        uint64_t now = now_us();
        if (now >= deadline)
            break;
        uint64_t left = (deadline - now) / 1000u;
        if (xb_sink_http_poll(s, left > 100 ? 100 : (int)left + 1, err) < 0)
            break;
    }
    return s->st.pending;
}

int xb_sink_http_backlogged(const xb_sink_http *s)
{
    uint64_t now = now_us();
    return s->st.pending >= s->o.backlog_high || s->failing > 0 || now < s->hold_until_us ||
           breaker_state(s, now) != XB_SINK_HTTP_BREAKER_CLOSED;
}

const char *xb_sink_http_config_error(const xb_sink_http *s)
{
    return s->failed ? s->config_error : NULL;
}

void xb_sink_http_stats_get(const xb_sink_http *s, xb_sink_http_stats *out)
{
    *out = s->st;
    out->in_flight = s->in_flight;
    out->breaker = breaker_state(s, now_us());
    out->failed = s->failed;
}

void xb_sink_http_free(xb_sink_http *s)
{
    if (!s)
        return;
    if (s->multi) {
        /* Cancel in-flight requests: their messages may or may not have arrived. */
        while (s->reqs) {
            req *r = s->reqs;
            curl_multi_remove_handle(s->multi, r->easy);
            unlink_req(s, r);
            for (size_t j = 0; j < r->n; j++)
                complete(s, r->msgs[j], XB_SINK_HTTP_CANCELLED, 0, "sink closed before an answer");
            req_free(r);
        }
    }
    fail_all_queued(s, XB_SINK_HTTP_CANCELLED, "sink closed before sending");
    while (s->n_idle)
        curl_easy_cleanup(s->idle[--s->n_idle]);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    xb_httpsig_key_free(s->sign_key);
    free(s->name);
    free(s->url);
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    free(s->pin);
    free(s->keyid);
    free(s->content_type);
    free(s->path);
    free(s);
}
