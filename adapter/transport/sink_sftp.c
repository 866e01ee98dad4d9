/* sink_sftp.c — SFTP batch delivery (see sink_sftp.h for the contract).
 *
 * Owns: the gathering batch, the spool of sealed batches, the one SFTP transfer in flight (a
 * libcurl multi handle, so poll can wait on the socket like sink_http does), the retry timer and
 * the completion of messages. Batches go out strictly one after another, each as three files
 * (container, signature, manifest), each file uploaded under ".NAME.part" and renamed by the
 * server (CURLOPT_POSTQUOTE) only after its last byte was written.
 * Never: completes a message before its batch's manifest is renamed into place, accepts a host
 * key that is not in known_hosts, offers password authentication, logs key material or bodies.
 */
#include "adapter/transport/sink_sftp.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter/log.h"
#include "adapter/transport/batch_file.h"
#include "iso20022/buf.h"

enum { F_XML = 0, F_SIG = 1, F_MANIFEST = 2, N_FILES = 3 };
static const char *const FILE_EXT[N_FILES] = {".xml", ".manifest.sig", ".manifest.json"};

enum xfer_kind { XFER_NONE = 0, XFER_UPLOAD, XFER_CHECK };

#define DELIVERED_EXT ".delivered.json"
#define DELIVERED_KEEP 64  /* delivered batches remembered in the spool (journal) */
#define LEFTOVER_AGE_S 120 /* half-written spool files older than this are removed at start */

typedef struct waiter {
    void *user;
    uint64_t t0_us;
} waiter;

/* A message in the batch being gathered. */
typedef struct gmsg {
    char *key;
    xb_buf frag;
    waiter w;
} gmsg;

typedef struct gather {
    gmsg *m;
    size_t n, cap;
    size_t payload; /* sum of xb_batch_entry_size of m[] (container = overhead + payload) */
    uint64_t t0_ms;
} gather;

/* A sealed batch: its files (in upload order) and the messages waiting for it. */
typedef struct batch {
    struct batch *next;
    char name[XB_BATCH_NAME_MAX + 1];
    xb_buf file[N_FILES];
    waiter *w;
    size_t n_w, cap_w;
    char **keys; /* recovered batches only: their keys (for redelivered messages) */
    size_t n_keys;
    int step; /* next file to upload */
    int recovered;
} batch;

/* Key -> recovered batch (NULL once that batch is delivered). Open addressing. */
typedef struct kslot {
    char *key;
    batch *b;
} kslot;

typedef struct completion {
    waiter w;
    xb_sink_http_outcome outcome;
    const char *reason; /* static text */
} completion;

struct xb_sink_sftp {
    char *name, *base_url, *dir, *known_hosts, *user, *key_file, *pub_file, *keyid, *spool;
    unsigned max_messages, linger_ms, connect_timeout_ms, timeout_ms, backoff_initial_ms,
        backoff_max_ms, backlog_high;
    size_t max_bytes, max_message_bytes;
    uint64_t max_send_speed;
    xb_httpsig_key *mkey;
    xb_sink_http_done_fn done;
    void *cb_ctx;

    CURLM *multi;
    CURL *easy;
    enum xfer_kind kind;
    struct curl_slist *postquote;
    const xb_buf *rd_buf;
    size_t rd_off;
    char errbuf[CURL_ERROR_SIZE];
    int kh_match;       /* last curl_khmatch seen by the host-key callback, -1 none */
    uint64_t nudged_us; /* last curl_multi_perform from submit */

    gather open;
    gather *closed; /* full batches waiting to be sealed */
    size_t n_closed, cap_closed;
    int flush;

    batch *head, *tail;
    unsigned n_batches;

    kslot *kmap;
    size_t kcap, kn;

    completion *cq;
    size_t n_cq, cap_cq;

    char (*done_names)[XB_BATCH_NAME_MAX + 1]; /* journal of delivered batches, oldest first */
    size_t n_done, cap_done;

    unsigned attempts; /* consecutive failed transfers */
    uint64_t retry_at_ms;
    uint64_t rng;
    char *config_error;
    char last_error[CURL_ERROR_SIZE + 128];
    xb_sink_sftp_stats st;
};

/* ---- time, random ------------------------------------------------------------------------ */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_ms(void)
{
    return now_us() / 1000u;
}

static uint64_t next_rand(xb_sink_sftp *s)
{
    /* xorshift64*: jitter only spreads retries, it need not be unpredictable. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

/* ---- sink lifecycle ---------------------------------------------------------------------- */

static int path_chars_ok(const char *p)
{
    return *p && strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/~-") ==
                     strlen(p);
}

/* Splits sftp://host[:port]/path into base URL (no trailing '/') and the directory as the
 * server's rename command needs it ("/~/x" is the home folder: relative path "x"). */
static int parse_url(xb_sink_sftp *s, const char *url, xb_error *err)
{
    const char *hostp = url + 7;
    const char *slash = strncmp(url, "sftp://", 7) == 0 ? strchr(hostp, '/') : NULL;
    if (!slash || slash == hostp || memchr(hostp, '@', (size_t)(slash - hostp)))
        return xb_error_set(err, XB_ECONFIG, "url",
                            "sink_sftp: %s: url must be sftp://host[:port]/folder (user goes in "
                            "`user:`)",
                            s->name);
    if (!path_chars_ok(slash))
        return xb_error_set(err, XB_ECONFIG, "url",
                            "sink_sftp: %s: url folder may only use [A-Za-z0-9._/~-]", s->name);
    size_t n = strlen(url);
    while (n > (size_t)(slash - url) + 1 && url[n - 1] == '/')
        n--;
    s->base_url = strndup(url, n);
    const char *path = slash;
    size_t pl = n - (size_t)(slash - url);
    if (pl >= 2 && !strncmp(path, "/~", 2))
        s->dir = pl > 3 ? strndup(path + 3, pl - 3) : strdup(".");
    else
        s->dir = strndup(path, pl);
    return s->base_url && s->dir ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
}

static int readable(const char *path)
{
    return path && access(path, R_OK) == 0;
}

static int check_files(xb_sink_sftp *s, const xb_sink_sftp_options *o, xb_error *err)
{
    struct {
        const char *opt, *path;
        int required;
    } f[] = {{"known_hosts", o->known_hosts, 1},
             {"key", o->key_file, 1},
             {"pub", o->pub_file, 0},
             {"manifest_key", o->manifest_key_file, 1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].path && !f[i].required)
            continue;
        if (!f[i].path)
            return xb_error_set(err, XB_ECONFIG, f[i].opt, "sink_sftp: %s: `%s` is required",
                                s->name, f[i].opt);
        if (!readable(f[i].path))
            return xb_error_set(err, XB_ECONFIG, f[i].opt,
                                "sink_sftp: %s: cannot read %s file %s: %s", s->name, f[i].opt,
                                f[i].path, strerror(errno));
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int copy_options(xb_sink_sftp *s, const xb_sink_sftp_options *o, xb_error *err)
{
    if (!o->name || !o->url || !o->user || !o->spool_dir)
        return xb_error_set(err, XB_ECONFIG,
                            o->name ? (o->url ? (o->user ? "spool" : "user") : "url") : "name",
                            "sink_sftp: name, url, user and spool are required");
    s->name = strdup(o->name);
    s->known_hosts = dup_or_null(o->known_hosts);
    s->user = strdup(o->user);
    s->key_file = dup_or_null(o->key_file);
    /* An empty public-key path tells libcurl to let libssh2 derive it from the private key. */
    s->pub_file = strdup(o->pub_file ? o->pub_file : "");
    s->keyid = strdup(o->manifest_key_id ? o->manifest_key_id : o->name);
    s->spool = strdup(o->spool_dir);
    if (!s->name || !s->user || !s->pub_file || !s->keyid || !s->spool)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    s->max_messages = o->batch_max_messages ? o->batch_max_messages : 1000;
    s->max_bytes = o->batch_max_bytes ? o->batch_max_bytes : 8u * 1024u * 1024u;
    s->linger_ms = o->batch_linger_ms;
    s->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : 120000;
    s->backoff_initial_ms = o->backoff_initial_ms ? o->backoff_initial_ms : 200;
    s->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    s->backlog_high = o->backlog_high ? o->backlog_high : 4 * s->max_messages;
    s->max_message_bytes = o->max_message_bytes ? o->max_message_bytes : 16u * 1024u * 1024u;
    s->max_send_speed = o->max_send_bytes_per_s;
    return 0;
}

static int recover_spool(xb_sink_sftp *s, xb_error *err);

/* mkdir -p: the spool of a destination usually lives under a state folder not yet created. */
static int mkdir_p(const char *path)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return -1;
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -1;
            *c = '/';
        }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int xb_sink_sftp_new(xb_sink_sftp **out, const xb_sink_sftp_options *o, xb_sink_http_done_fn done,
                     void *cb_ctx, xb_error *err)
{
    *out = NULL;
    xb_sink_sftp *s = calloc(1, sizeof *s);
    if (!s)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    s->done = done;
    s->cb_ctx = cb_ctx;
    s->kh_match = -1;
    s->rng = now_us() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)s;
    int rc = copy_options(s, o, err);
    xb_batch_item probe = {"<a/>", 4, "k"};
    xb_batch_file pf;
    if (rc == 0 && xb_batch_file_build(&pf, s->name, &probe, 1, NULL) < 0)
        rc = xb_error_set(err, XB_ECONFIG, "name",
                          "sink_sftp: destination name '%s' must be 1-64 of [A-Za-z0-9._-]",
                          s->name);
    else if (rc == 0)
        xb_batch_file_free(&pf);
    if (rc == 0)
        rc = parse_url(s, o->url, err);
    if (rc == 0)
        rc = check_files(s, o, err);
    if (rc == 0 && (rc = xb_httpsig_key_load(&s->mkey, o->manifest_key_file, err)) == 0 &&
        !xb_httpsig_key_is_private(s->mkey))
        rc = xb_error_set(err, XB_ECRYPTO, "manifest_key",
                          "sink_sftp: %s: manifest_key must be an Ed25519 private key", s->name);
    if (rc == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!(s->multi = curl_multi_init()))
            rc = xb_error_set(err, XB_ENOMEM, NULL, "sink_sftp: curl_multi_init failed");
    }
    if (rc == 0 && mkdir_p(s->spool) < 0)
        rc = xb_error_set(err, XB_EIO, "spool", "sink_sftp: %s: cannot create spool %s: %s",
                          s->name, s->spool, strerror(errno));
    if (rc == 0)
        rc = recover_spool(s, err);
    if (rc < 0) {
        xb_sink_sftp_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- completions ------------------------------------------------------------------------- */

static int push_completion(xb_sink_sftp *s, waiter w, xb_sink_http_outcome oc, const char *why)
{
    if (s->n_cq == s->cap_cq) {
        size_t cap = s->cap_cq ? 2 * s->cap_cq : 64;
        completion *n = realloc(s->cq, cap * sizeof *n);
        if (!n)
            return XB_ENOMEM;
        s->cq = n;
        s->cap_cq = cap;
    }
    s->cq[s->n_cq++] = (completion){w, oc, why};
    return 0;
}

static void complete(xb_sink_sftp *s, waiter w, xb_sink_http_outcome oc, const char *why)
{
    xb_sink_http_result r = {.outcome = oc,
                             .http_status = 0,
                             .attempts = s->attempts + 1,
                             .latency_us = now_us() - w.t0_us,
                             .reason = why};
    if (s->st.pending)
        s->st.pending--;
    switch (oc) {
    case XB_SINK_HTTP_DELIVERED:
        s->st.delivered++;
        break;
    case XB_SINK_HTTP_PERMANENT:
        s->st.permanent++;
        break;
    case XB_SINK_HTTP_CONFIG_ERROR:
        s->st.config_errors++;
        break;
    default:
        s->st.cancelled++;
    }
    if (s->done)
        s->done(s->cb_ctx, w.user, &r);
}

/* Runs queued completions. The queue is swapped out first: a callback may submit again. */
static int run_completions(xb_sink_sftp *s)
{
    int ran = 0;
    while (s->n_cq) {
        completion *q = s->cq;
        size_t n = s->n_cq;
        s->cq = NULL;
        s->n_cq = s->cap_cq = 0;
        for (size_t i = 0; i < n; i++, ran++)
            complete(s, q[i].w, q[i].outcome, q[i].reason);
        free(q);
    }
    return ran;
}

/* ---- key map of recovered batches -------------------------------------------------------- */

static size_t khash(const char *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)h;
}

static kslot *kfind(xb_sink_sftp *s, const char *key)
{
    if (!s->kcap)
        return NULL;
    for (size_t i = khash(key) & (s->kcap - 1);; i = (i + 1) & (s->kcap - 1)) {
        if (!s->kmap[i].key)
            return NULL;
        if (!strcmp(s->kmap[i].key, key))
            return &s->kmap[i];
    }
}

static int kput(xb_sink_sftp *s, const char *key, batch *b)
{
    if ((s->kn + 1) * 2 > s->kcap) {
        size_t cap = s->kcap ? 2 * s->kcap : 256;
        kslot *n = calloc(cap, sizeof *n);
        if (!n)
            return XB_ENOMEM;
        for (size_t i = 0; i < s->kcap; i++)
            if (s->kmap[i].key) {
                size_t j = khash(s->kmap[i].key) & (cap - 1);
                while (n[j].key)
                    j = (j + 1) & (cap - 1);
                n[j] = s->kmap[i];
            }
        free(s->kmap);
        s->kmap = n;
        s->kcap = cap;
    }
    kslot *e = kfind(s, key);
    if (e) {
        e->b = b;
        return 0;
    }
    size_t j = khash(key) & (s->kcap - 1);
    while (s->kmap[j].key)
        j = (j + 1) & (s->kcap - 1);
    if (!(s->kmap[j].key = strdup(key)))
        return XB_ENOMEM;
    s->kmap[j].b = b;
    s->kn++;
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

static void batch_free(batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < N_FILES; i++)
        xb_buf_free(&b->file[i]);
    for (size_t i = 0; i < b->n_keys; i++)
        free(b->keys[i]);
    free(b->keys);
    free(b->w);
    free(b);
}

static int batch_wait(batch *b, waiter w)
{
    if (b->n_w == b->cap_w) {
        size_t cap = b->cap_w ? 2 * b->cap_w : 16;
        waiter *n = realloc(b->w, cap * sizeof *n);
        if (!n)
            return XB_ENOMEM;
        b->w = n;
        b->cap_w = cap;
    }
    b->w[b->n_w++] = w;
    return 0;
}

static void enqueue(xb_sink_sftp *s, batch *b)
{
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->n_batches++;
}

static void file_name(char *out, size_t n, const batch *b, int f)
{
    snprintf(out, n, "%s%s", b->name, FILE_EXT[f]);
}

/* ---- spool ------------------------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes dir/name durably: a temporary file, fsync, rename. */
static int spool_write(xb_sink_sftp *s, const char *name, const xb_buf *b, xb_error *err)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", s->spool, name);
    snprintf(path, sizeof path, "%s/%s", s->spool, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, b->data, b->len) == 0 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return xb_error_set(err, XB_EIO, "spool", "sink_sftp: %s: cannot write spool file %s: %s",
                            s->name, path, strerror(e));
    }
    return 0;
}

static void spool_sync_dir(xb_sink_sftp *s)
{
    int fd = open(s->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void spool_remove(xb_sink_sftp *s, const char *batch_name)
{
    char path[4096];
    /* Manifest first: without it the other two are leftovers the next start deletes. */
    for (int f = N_FILES - 1; f >= 0; f--) {
        snprintf(path, sizeof path, "%s/%s%s", s->spool, batch_name, FILE_EXT[f]);
        unlink(path);
    }
    spool_sync_dir(s);
}

static int journal_add(xb_sink_sftp *s, const char *name);

/* The batch is in place: its manifest becomes a journal entry (NAME.delivered.json) and the
 * container and signature go. The journal lets the next start recognise messages that were
 * delivered but whose offsets a crash kept from being committed. */
static void spool_mark_delivered(xb_sink_sftp *s, const char *batch_name)
{
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s%s", s->spool, batch_name, FILE_EXT[F_MANIFEST]);
    snprintf(to, sizeof to, "%s/%s%s", s->spool, batch_name, DELIVERED_EXT);
    if (rename(from, to) != 0) {
        spool_remove(s, batch_name);
        return;
    }
    spool_remove(s, batch_name); /* the manifest is gone already: removes container, signature */
    if (journal_add(s, batch_name) < 0)
        unlink(to);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && !strcmp(s + a - b, suffix);
}

typedef struct spool_entry {
    char name[XB_BATCH_NAME_MAX + 1];
    time_t mtime;
} spool_entry;

static int entry_cmp(const void *a, const void *b)
{
    const spool_entry *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Loads one sealed batch from the spool and checks it as the counterparty would. */
static int load_spooled(xb_sink_sftp *s, const char *name, batch **out, xb_error *err)
{
    char path[4096];
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return XB_ENOMEM;
    snprintf(b->name, sizeof b->name, "%s", name);
    int rc = 0;
    for (int f = 0; f < N_FILES && rc == 0; f++) {
        snprintf(path, sizeof path, "%s/%s%s", s->spool, name, FILE_EXT[f]);
        if (xb_buf_read_file(&b->file[f], path, 2 * s->max_bytes + (64u << 20)) < 0)
            rc = xb_error_set(err, XB_EIO, NULL, "cannot read %s", path);
    }
    xb_batch_manifest_info m;
    if (rc == 0 && (rc = xb_batch_verify(&m, name, b->file[F_XML].data, b->file[F_XML].len,
                                         b->file[F_MANIFEST].data, b->file[F_MANIFEST].len,
                                         b->file[F_SIG].data, b->file[F_SIG].len, s->mkey, s->keyid,
                                         err)) == 0) {
        b->keys = m.keys;
        b->n_keys = m.count;
        m.keys = NULL;
    }
    if (rc < 0) {
        batch_free(b);
        return rc;
    }
    b->recovered = 1;
    *out = b;
    return 0;
}

/* At start: deletes half-written spool files, queues every complete sealed batch (oldest first)
 * and remembers its keys, so the pipeline's redelivered messages attach to it. */
/* Collects spool entries whose file name ends with suffix (name without it), oldest first. */
static int list_spool(spool_entry **out, size_t *n_out, xb_sink_sftp *s, const char *suffix)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(s->spool);
    if (!d)
        return XB_EIO;
    spool_entry *e = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        /* Names go into remote paths and rename commands: only what batch names are made of. */
        if (!ends_with(de->d_name, suffix) || de->d_name[0] == '.' ||
            strspn(de->d_name,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                strlen(de->d_name))
            continue;
        size_t nl = strlen(de->d_name) - strlen(suffix);
        if (nl > XB_BATCH_NAME_MAX)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            spool_entry *ne = realloc(e, cap * sizeof *ne);
            if (!ne) {
                free(e);
                closedir(d);
                return XB_ENOMEM;
            }
            e = ne;
        }
        memcpy(e[n].name, de->d_name, nl);
        e[n].name[nl] = 0;
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", s->spool, de->d_name);
        e[n].mtime = stat(path, &sb) == 0 ? sb.st_mtime : 0;
        n++;
    }
    closedir(d);
    if (n)
        qsort(e, n, sizeof *e, entry_cmp);
    *out = e;
    *n_out = n;
    return 0;
}

static int spool_has(xb_sink_sftp *s, const char *name, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", s->spool, name, ext);
    return access(path, F_OK) == 0;
}

/* Removes what a crash left behind: temporary files, and containers or signatures whose sealing
 * never reached the manifest (their messages were never acknowledged, so Kafka resends them). */
static void clean_spool(xb_sink_sftp *s)
{
    DIR *d = opendir(s->spool);
    struct dirent *de;
    char path[4096];
    while (d && (de = readdir(d))) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        int orphan = 0;
        for (int f = F_XML; f <= F_SIG && !orphan; f++) {
            size_t el = strlen(FILE_EXT[f]);
            if (l > el && l - el <= XB_BATCH_NAME_MAX && ends_with(n, FILE_EXT[f])) {
                char name[XB_BATCH_NAME_MAX + 1];
                snprintf(name, sizeof name, "%.*s", (int)(l - el), n);
                orphan = !spool_has(s, name, FILE_EXT[F_MANIFEST]);
            }
        }
        if (!orphan && strncmp(n, ".tmp-", 5) != 0)
            continue;
        /* Only old leftovers: a young one may belong to a process sealing right now (check-config
         * on a live system). A young leftover is harmless: sealing the same name overwrites it. */
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", s->spool, n);
        if (stat(path, &sb) == 0 && time(NULL) - sb.st_mtime > LEFTOVER_AGE_S)
            unlink(path);
    }
    if (d)
        closedir(d);
}

/* Keeps the journal of delivered batches bounded: the oldest go first. */
static void prune_journal(xb_sink_sftp *s)
{
    char path[4096];
    while (s->n_done > DELIVERED_KEEP) {
        snprintf(path, sizeof path, "%s/%s%s", s->spool, s->done_names[0], DELIVERED_EXT);
        unlink(path);
        memmove(s->done_names, s->done_names + 1, (s->n_done - 1) * sizeof *s->done_names);
        s->n_done--;
    }
}

static int journal_add(xb_sink_sftp *s, const char *name)
{
    for (size_t i = 0; i < s->n_done; i++)
        if (!strcmp(s->done_names[i], name))
            return 0; /* the same batch delivered again after a restart */
    if (s->n_done == s->cap_done) {
        size_t cap = s->cap_done ? 2 * s->cap_done : 16;
        void *n = realloc(s->done_names, cap * sizeof *s->done_names);
        if (!n)
            return XB_ENOMEM;
        s->done_names = n;
        s->cap_done = cap;
    }
    snprintf(s->done_names[s->n_done++], sizeof s->done_names[0], "%s", name);
    prune_journal(s);
    return 0;
}

/* Delivered batches of earlier runs: their keys complete at once when Kafka resends them (the
 * offsets may not have been committed before the crash), instead of going out again. */
static int recover_journal(xb_sink_sftp *s, xb_error *err)
{
    spool_entry *e;
    size_t n;
    char path[4096];
    if (list_spool(&e, &n, s, DELIVERED_EXT) < 0)
        return xb_error_set(err, XB_EIO, "spool", "sink_sftp: %s: cannot list spool %s", s->name,
                            s->spool);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        xb_buf m = XB_BUF_INIT;
        xb_batch_manifest_info mi;
        snprintf(path, sizeof path, "%s/%s%s", s->spool, e[i].name, DELIVERED_EXT);
        if (xb_buf_read_file(&m, path, 64u << 20) == 0 &&
            xb_batch_manifest_parse(&mi, m.data, m.len, NULL) == 0) {
            for (size_t k = 0; k < mi.count && rc == 0; k++)
                if (!kfind(s, mi.keys[k]) && kput(s, mi.keys[k], NULL) < 0)
                    rc = XB_ENOMEM;
            xb_batch_manifest_info_free(&mi);
            if (rc == 0)
                rc = journal_add(s, e[i].name);
        } else {
            unlink(path);
        }
        xb_buf_free(&m);
    }
    free(e);
    return rc ? xb_error_set(err, XB_ENOMEM, NULL, "out of memory") : 0;
}

/* At start: cleans half-written files, queues every complete sealed batch (oldest first) and
 * remembers its keys, so the pipeline's redelivered messages attach to it. */
static int recover_spool(xb_sink_sftp *s, xb_error *err)
{
    clean_spool(s);
    spool_entry *e;
    size_t n;
    int rc = list_spool(&e, &n, s, FILE_EXT[F_MANIFEST]);
    if (rc < 0)
        return xb_error_set(err, rc, "spool", "sink_sftp: %s: cannot list spool %s", s->name,
                            s->spool);
    for (size_t i = 0; i < n && rc == 0; i++) {
        batch *b = NULL;
        xb_error e2;
        xb_error_clear(&e2);
        int lr = load_spooled(s, e[i].name, &b, &e2);
        if (lr == XB_ENOMEM) {
            rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
            break;
        }
        if (lr < 0) {
            /* Its messages were never acknowledged: Kafka redelivers them into a new batch. */
            xb_log(XB_LOG_WARN, "sftp_spool_discarded", "%s: spooled batch %s unusable: %s",
                   s->name, e[i].name, e2.message);
            spool_remove(s, e[i].name);
            continue;
        }
        enqueue(s, b);
        s->st.batches_recovered++;
        for (size_t k = 0; k < b->n_keys && rc == 0; k++)
            if (kput(s, b->keys[k], b) < 0)
                rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    free(e);
    if (rc == 0)
        rc = recover_journal(s, err);
    if (s->st.batches_recovered)
        xb_log(XB_LOG_INFO, "sftp_spool_recovered", "%s: %llu sealed batch(es) to upload again",
               s->name, (unsigned long long)s->st.batches_recovered);
    return rc;
}

/* ---- gathering and sealing --------------------------------------------------------------- */

static void gather_free(gather *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->m[i].key);
        xb_buf_free(&g->m[i].frag);
    }
    free(g->m);
    memset(g, 0, sizeof *g);
}

static int close_open(xb_sink_sftp *s)
{
    if (!s->open.n)
        return 0;
    if (s->n_closed == s->cap_closed) {
        size_t cap = s->cap_closed ? 2 * s->cap_closed : 8;
        gather *n = realloc(s->closed, cap * sizeof *n);
        if (!n)
            return XB_ENOMEM;
        s->closed = n;
        s->cap_closed = cap;
    }
    s->closed[s->n_closed++] = s->open;
    memset(&s->open, 0, sizeof s->open);
    return 0;
}

/* Builds the three files of g, writes them to the spool (manifest last), queues the batch. */
static int seal(xb_sink_sftp *s, gather *g, xb_error *err)
{
    xb_batch_item *items = calloc(g->n, sizeof *items);
    batch *b = calloc(1, sizeof *b);
    xb_batch_file f;
    memset(&f, 0, sizeof f);
    int rc = items && b ? 0 : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < g->n && rc == 0; i++)
        items[i] = (xb_batch_item){g->m[i].frag.data, g->m[i].frag.len, g->m[i].key};
    if (rc == 0)
        rc = xb_batch_file_build(&f, s->name, items, g->n, err);
    if (rc == 0)
        rc = xb_batch_manifest(&b->file[F_MANIFEST], &f, s->name, items, g->n, err);
    if (rc == 0)
        rc = xb_batch_manifest_sign(&b->file[F_SIG], f.name, b->file[F_MANIFEST].data,
                                    b->file[F_MANIFEST].len, s->mkey, s->keyid, (int64_t)time(NULL),
                                    err);
    if (rc == 0) {
        memcpy(b->name, f.name, sizeof b->name);
        b->file[F_XML] = f.data;
        memset(&f.data, 0, sizeof f.data);
        char fn[XB_BATCH_NAME_MAX + 32];
        for (int i = 0; i < N_FILES && rc == 0; i++) {
            file_name(fn, sizeof fn, b, i);
            rc = spool_write(s, fn, &b->file[i], err);
        }
        if (rc == 0)
            spool_sync_dir(s);
    }
    for (size_t i = 0; i < g->n && rc == 0; i++)
        rc = batch_wait(b, g->m[i].w) < 0 ? xb_error_set(err, XB_ENOMEM, NULL, "out of memory") : 0;
    xb_batch_file_free(&f);
    free(items);
    if (rc < 0) {
        batch_free(b);
        return rc; /* g stays: sealing is tried again on the next poll */
    }
    enqueue(s, b);
    s->st.batches_sealed++;
    gather_free(g);
    return 0;
}

static int seal_due(xb_sink_sftp *s, xb_error *err)
{
    if (s->open.n && (s->flush || now_ms() - s->open.t0_ms >= s->linger_ms)) {
        if (close_open(s) < 0)
            return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    s->flush = 0;
    size_t i = 0;
    int rc = 0;
    for (; i < s->n_closed; i++)
        if ((rc = seal(s, &s->closed[i], err)) < 0)
            break;
    if (i) {
        memmove(s->closed, s->closed + i, (s->n_closed - i) * sizeof *s->closed);
        s->n_closed -= i;
    }
    return rc;
}

/* ---- submit ------------------------------------------------------------------------------ */

static int add_to_open(xb_sink_sftp *s, const char *key, xb_buf *frag, waiter w)
{
    size_t grow = xb_batch_entry_size(frag->len, key, s->open.n + 1);
    if (s->open.n &&
        xb_batch_overhead(s->name, s->open.n + 1) + s->open.payload + grow > s->max_bytes) {
        /* Seal what we have; a message larger than max_bytes then goes alone. */
        if (close_open(s) < 0)
            return XB_ENOMEM;
        grow = xb_batch_entry_size(frag->len, key, 1);
    }
    if (s->open.n == s->open.cap) {
        size_t cap = s->open.cap ? 2 * s->open.cap : 64;
        gmsg *n = realloc(s->open.m, cap * sizeof *n);
        if (!n)
            return XB_ENOMEM;
        s->open.m = n;
        s->open.cap = cap;
    }
    char *k = strdup(key);
    if (!k)
        return XB_ENOMEM;
    if (!s->open.n)
        s->open.t0_ms = now_ms();
    s->open.m[s->open.n++] = (gmsg){k, *frag, w};
    memset(frag, 0, sizeof *frag);
    s->open.payload += grow;
    if (s->open.n >= s->max_messages)
        return close_open(s);
    return 0;
}

/* A pipeline busy deciding a backlog calls submit thousands of times between two polls; an SSH
 * handshake in flight would stall meanwhile and hit its connect timeout. So submit lets curl
 * move the transfer on (at most every 2 ms). Only curl_multi_perform: a finished transfer is
 * picked up, and callbacks run, in the next poll. */
static void nudge(xb_sink_sftp *s)
{
    if (!s->easy)
        return;
    uint64_t now = now_us();
    if (now - s->nudged_us < 2000)
        return;
    s->nudged_us = now;
    int running = 0;
    curl_multi_perform(s->multi, &running);
}

int xb_sink_sftp_submit(xb_sink_sftp *s, const void *body, size_t len, const char *key, void *user,
                        xb_error *err)
{
    if (!xb_batch_key_valid(key))
        return xb_error_set(err, XB_EINVAL, NULL, "sink_sftp: %s: invalid idempotency key",
                            s->name);
    if (!body || !len)
        return xb_error_set(err, XB_EINVAL, NULL, "sink_sftp: %s: empty message", s->name);
    if (len > s->max_message_bytes)
        return xb_error_set(err, XB_ELIMIT, NULL, "sink_sftp: %s: message of %zu bytes over %zu",
                            s->name, len, s->max_message_bytes);
    waiter w = {user, now_us()};
    int rc = 0;
    kslot *e = kfind(s, key);
    xb_buf frag = XB_BUF_INIT;
    xb_error perr;
    if (s->config_error)
        rc = push_completion(s, w, XB_SINK_HTTP_CONFIG_ERROR, s->config_error);
    else if (e && e->b) /* in a recovered batch not yet in place: wait for it */
        rc = batch_wait(e->b, w);
    else if (e) /* a recovered batch already put it in place */
        rc = push_completion(s, w, XB_SINK_HTTP_DELIVERED, "in a recovered batch");
    else if (xb_batch_item_prepare(&frag, body, len, s->max_message_bytes, &perr) < 0)
        rc = perr.code == XB_ENOMEM
                 ? XB_ENOMEM
                 : push_completion(s, w, XB_SINK_HTTP_PERMANENT,
                                   "not embeddable in a batch: not well-formed UTF-8 XML "
                                   "without DOCTYPE");
    else
        rc = add_to_open(s, key, &frag, w);
    xb_buf_free(&frag);
    if (rc < 0)
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_sftp: out of memory");
    s->st.submitted++;
    s->st.pending++;
    nudge(s);
    return 0;
}

/* ---- transfers --------------------------------------------------------------------------- */

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    xb_sink_sftp *s = ud;
    size_t want = size * nitems, left = s->rd_buf->len - s->rd_off;
    size_t n = want < left ? want : left;
    memcpy(buf, s->rd_buf->data + s->rd_off, n);
    s->rd_off += n;
    return n;
}

/* Host keys: only an exact known_hosts match passes; anything else is refused before we
 * authenticate or send a byte. */
static int key_cb(CURL *e, const struct curl_khkey *known, const struct curl_khkey *found,
                  enum curl_khmatch match, void *ud)
{
    (void)e;
    (void)known;
    (void)found;
    xb_sink_sftp *s = ud;
    s->kh_match = (int)match;
    return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

static void end_transfer(xb_sink_sftp *s)
{
    if (s->easy) {
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->postquote);
    s->postquote = NULL;
    s->easy = NULL;
    s->kind = XFER_NONE;
}

static int start_transfer(xb_sink_sftp *s, enum xfer_kind kind, xb_error *err)
{
    batch *b = s->head;
    char fn[XB_BATCH_NAME_MAX + 32], url[4200], q[8400];
    file_name(fn, sizeof fn, b, b->step);
    CURL *e = curl_easy_init();
    if (!e)
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_sftp: curl_easy_init failed");
    s->easy = e;
    s->kind = kind;
    s->kh_match = -1;
    s->errbuf[0] = 0;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "sftp");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_USERNAME, s->user);
    curl_easy_setopt(e, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
    curl_easy_setopt(e, CURLOPT_SSH_PRIVATE_KEYFILE, s->key_file);
    curl_easy_setopt(e, CURLOPT_SSH_PUBLIC_KEYFILE, s->pub_file);
    curl_easy_setopt(e, CURLOPT_SSH_KNOWNHOSTS, s->known_hosts);
    curl_easy_setopt(e, CURLOPT_SSH_KEYFUNCTION, key_cb);
    curl_easy_setopt(e, CURLOPT_SSH_KEYDATA, s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    /* A peer that stops reading without closing (frozen server) must not hold the batch forever. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(e, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
    if (kind == XFER_UPLOAD) {
        /* Written under a hidden temporary name; the server renames it only after the last byte:
         * a counterparty polling the folder never sees a partial file under a final name. */
        snprintf(url, sizeof url, "%s/.%s.part", s->base_url, fn);
        snprintf(q, sizeof q, "rename %s/.%s.part %s/%s", s->dir, fn, s->dir, fn);
        s->rd_buf = &b->file[b->step];
        s->rd_off = 0;
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(e, CURLOPT_READDATA, s);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->rd_buf->len);
        curl_easy_setopt(e, CURLOPT_NEW_FILE_PERMS, 0644L);
        if (s->max_send_speed)
            curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)s->max_send_speed);
    } else {
        /* The rename failed: OpenSSH refuses to rename onto an existing file. If the final file
         * is there with our size, an earlier run already put this (content-named) file in place;
         * the leftover temporary is removed ('*' = ignore failure). */
        snprintf(url, sizeof url, "%s/%s", s->base_url, fn);
        snprintf(q, sizeof q, "*rm %s/.%s.part", s->dir, fn);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (!(s->postquote = curl_slist_append(NULL, q))) {
        end_transfer(s);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    curl_easy_setopt(e, CURLOPT_POSTQUOTE, s->postquote);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        end_transfer(s);
        return xb_error_set(err, XB_ENOMEM, NULL, "sink_sftp: curl_multi_add_handle failed");
    }
    s->st.transfers++;
    return 0;
}

static int is_config_error(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION: /* host key refused by key_cb */
    case CURLE_LOGIN_DENIED:             /* server refused our key */
    case CURLE_REMOTE_ACCESS_DENIED:     /* no permission on the inbox */
    case CURLE_FILE_COULDNT_READ_FILE:   /* our key file */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return 1;
    default:
        return 0;
    }
}

static void fail_sink(xb_sink_sftp *s, CURLcode c)
{
    char msg[1024];
    if (c == CURLE_PEER_FAILED_VERIFICATION)
        snprintf(msg, sizeof msg, "%s: SSH host key of %s %s known_hosts %s; nothing was sent",
                 s->name, s->base_url,
                 s->kh_match == CURLKHMATCH_MISMATCH ? "does not match" : "is not in",
                 s->known_hosts);
    else
        snprintf(msg, sizeof msg, "%s: SFTP %s: %s (%s)", s->name, s->base_url,
                 curl_easy_strerror(c), s->errbuf[0] ? s->errbuf : "no detail");
    s->config_error = strdup(msg);
    s->st.failed = 1;
    xb_log(XB_LOG_ERROR, "sftp_config_error", "%s", msg);
}

static void schedule_retry(xb_sink_sftp *s, CURLcode c)
{
    s->attempts++;
    s->st.retries++;
    uint64_t d = s->backoff_initial_ms;
    for (unsigned i = 1; i < s->attempts && d < s->backoff_max_ms; i++)
        d *= 2;
    if (d > s->backoff_max_ms)
        d = s->backoff_max_ms;
    /* Equal jitter: half fixed, half random. */
    d = d / 2 + (d > 1 ? next_rand(s) % (d / 2 + 1) : 0);
    s->retry_at_ms = now_ms() + d;
    snprintf(s->last_error, sizeof s->last_error, "%s (%s)", curl_easy_strerror(c),
             s->errbuf[0] ? s->errbuf : "no detail");
    xb_log(XB_LOG_WARN, "sftp_retry", "%s: batch %s: %s; retry %u in %llu ms", s->name,
           s->head->name, s->last_error, s->attempts, (unsigned long long)d);
}

/* The head batch's files are all in place: its messages are delivered. */
static void batch_delivered(xb_sink_sftp *s)
{
    batch *b = s->head;
    s->head = b->next;
    if (!s->head)
        s->tail = NULL;
    s->n_batches--;
    spool_mark_delivered(s, b->name);
    for (size_t k = 0; k < b->n_keys; k++) {
        kslot *e = kfind(s, b->keys[k]);
        if (e && e->b == b)
            e->b = NULL; /* later redeliveries of these keys complete at once */
    }
    s->st.batches_delivered++;
    for (size_t i = 0; i < b->n_w; i++)
        push_completion(s, b->w[i], XB_SINK_HTTP_DELIVERED, "batch renamed into place");
    batch_free(b);
}

static void transfer_done(xb_sink_sftp *s, CURLcode c, xb_error *err)
{
    enum xfer_kind kind = s->kind;
    batch *b = s->head;
    curl_off_t size = -1;
    if (kind == XFER_CHECK && c == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
    end_transfer(s);
    int ok = c == CURLE_OK && (kind == XFER_UPLOAD || size == (curl_off_t)b->file[b->step].len);
    if (ok) {
        s->attempts = 0;
        s->last_error[0] = 0;
        if (++b->step == N_FILES)
            batch_delivered(s);
        return;
    }
    if (kind == XFER_UPLOAD && c == CURLE_QUOTE_ERROR) {
        if (start_transfer(s, XFER_CHECK, err) == 0)
            return;
    }
    if (is_config_error(c))
        fail_sink(s, c);
    else
        schedule_retry(s, c);
    if (kind == XFER_CHECK && c == CURLE_OK) {
        /* Only a file of another size can be there under our content-derived name: someone else
         * wrote it. Say so; retrying keeps the batch (and the partition) waiting for an operator.
         */
        char fn[XB_BATCH_NAME_MAX + 32];
        file_name(fn, sizeof fn, b, b->step);
        snprintf(s->last_error, sizeof s->last_error,
                 "%s is already in the inbox with %lld bytes, not %zu: a file we did not write", fn,
                 (long long)size, b->file[b->step].len);
        xb_log(XB_LOG_ERROR, "sftp_name_conflict", "%s: %s", s->name, s->last_error);
    }
}

/* Completes everything pending with CONFIG_ERROR (the sink is FAILED). Spool files stay. */
static void fail_all(xb_sink_sftp *s)
{
    for (batch *b = s->head; b; b = b->next) {
        for (size_t i = 0; i < b->n_w; i++)
            push_completion(s, b->w[i], XB_SINK_HTTP_CONFIG_ERROR, s->config_error);
        b->n_w = 0;
    }
    for (size_t g = 0; g < s->n_closed; g++) {
        for (size_t i = 0; i < s->closed[g].n; i++)
            push_completion(s, s->closed[g].m[i].w, XB_SINK_HTTP_CONFIG_ERROR, s->config_error);
        gather_free(&s->closed[g]);
    }
    s->n_closed = 0;
    for (size_t i = 0; i < s->open.n; i++)
        push_completion(s, s->open.m[i].w, XB_SINK_HTTP_CONFIG_ERROR, s->config_error);
    gather_free(&s->open);
}

/* One step: seal what is due, start the next transfer, let curl work, handle a finished one. */
static int step(xb_sink_sftp *s, xb_error *err)
{
    int rc = 0;
    if (!s->config_error)
        rc = seal_due(s, err);
    if (!s->config_error && !s->easy && s->head && now_ms() >= s->retry_at_ms) {
        int r2 = start_transfer(s, XFER_UPLOAD, err);
        rc = rc ? rc : r2;
    }
    if (s->easy) {
        int running = 0;
        curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
                transfer_done(s, m->data.result, err);
                break;
            }
    }
    if (s->config_error)
        fail_all(s);
    return rc;
}

/* Milliseconds until the next timer (linger or retry), capped at cap. */
static int next_wait(const xb_sink_sftp *s, int cap)
{
    uint64_t now = now_ms(), w = (uint64_t)cap;
    if (s->open.n) {
        uint64_t due = s->open.t0_ms + s->linger_ms;
        w = due > now ? (due - now < w ? due - now : w) : 0;
    }
    if (!s->easy && s->head && !s->config_error) {
        uint64_t due = s->retry_at_ms;
        w = due > now ? (due - now < w ? due - now : w) : 0;
    }
    return (int)w;
}

/* How long one poll may keep driving a transfer whose socket is ready, past its timeout. An SSH
 * connection needs a dozen round trips before the first byte of a file: a pipeline that calls
 * poll(0) between Kafka polls would otherwise advance it one round trip per loop. */
#define SPIN_MS 20

int xb_sink_sftp_poll(xb_sink_sftp *s, int timeout_ms, xb_error *err)
{
    uint64_t start = now_ms();
    uint64_t deadline = start + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int ran = run_completions(s), rc = 0;
    for (;;) {
        rc = step(s, err);
        ran += run_completions(s);
        uint64_t now = now_ms();
        if (rc < 0 || ran > 0)
            break;
        if (now >= deadline) {
            int ready = 0;
            if (!s->easy || now >= start + SPIN_MS ||
                curl_multi_poll(s->multi, NULL, 0, 0, &ready) != CURLM_OK || ready == 0)
                break;
            continue; /* the server answered: keep the transfer moving */
        }
        int w = next_wait(s, (int)(deadline - now));
        if (w > 0 || s->easy)
            curl_multi_poll(s->multi, NULL, 0, w > 100 ? 100 : w, NULL);
    }
    return rc < 0 ? rc : ran;
}

void xb_sink_sftp_flush(xb_sink_sftp *s)
{
    if (s)
        s->flush = 1;
}

void xb_sink_sftp_wakeup(xb_sink_sftp *s)
{
    if (s && s->multi)
        curl_multi_wakeup(s->multi);
}

unsigned xb_sink_sftp_drain(xb_sink_sftp *s, int timeout_ms, xb_error *err)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    while (s->st.pending || s->n_cq) {
        if (s->open.n)
            s->flush = 1;
        uint64_t now = now_ms();
        if (now >= deadline)
            break;
        if (xb_sink_sftp_poll(s, (int)(deadline - now < 200 ? deadline - now : 200), err) < 0 &&
            now_ms() < deadline)
            usleep(50000); /* spool trouble: do not spin */
    }
    return s->st.pending;
}

int xb_sink_sftp_backlogged(const xb_sink_sftp *s)
{
    return s->st.pending >= s->backlog_high || s->attempts > 0;
}

const char *xb_sink_sftp_config_error(const xb_sink_sftp *s)
{
    return s->config_error;
}

const char *xb_sink_sftp_last_error(const xb_sink_sftp *s)
{
    return s->last_error[0] ? s->last_error : NULL;
}

void xb_sink_sftp_stats_get(const xb_sink_sftp *s, xb_sink_sftp_stats *out)
{
    *out = s->st;
    out->queued_batches = s->n_batches + (unsigned)s->n_closed;
}

void xb_sink_sftp_free(xb_sink_sftp *s)
{
    if (!s)
        return;
    end_transfer(s);
    run_completions(s);
    static const char why[] = "sink freed while the batch was pending";
    for (batch *b = s->head, *n; b; b = n) {
        n = b->next;
        for (size_t i = 0; i < b->n_w; i++)
            push_completion(s, b->w[i], XB_SINK_HTTP_CANCELLED, why);
        batch_free(b);
    }
    s->head = s->tail = NULL;
    for (size_t g = 0; g < s->n_closed; g++) {
        for (size_t i = 0; i < s->closed[g].n; i++)
            push_completion(s, s->closed[g].m[i].w, XB_SINK_HTTP_CANCELLED, why);
        gather_free(&s->closed[g]);
    }
    for (size_t i = 0; i < s->open.n; i++)
        push_completion(s, s->open.m[i].w, XB_SINK_HTTP_CANCELLED, why);
    gather_free(&s->open);
    run_completions(s);
    free(s->closed);
    free(s->done_names);
    for (size_t i = 0; i < s->kcap; i++)
        free(s->kmap[i].key);
    free(s->kmap);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    xb_httpsig_key_free(s->mkey);
    free(s->name);
    free(s->base_url);
    free(s->dir);
    free(s->known_hosts);
    free(s->user);
    free(s->key_file);
    free(s->pub_file);
    free(s->keyid);
    free(s->spool);
    free(s->config_error);
    free(s);
}
