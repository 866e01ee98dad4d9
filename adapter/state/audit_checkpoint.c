/* audit_checkpoint.c — signed checkpoints and rotation over the audit chain (see the header).
 *
 * Owns: reading the audit file back from the last offset it reached (so the frontier sees
 * exactly the bytes on disk, whatever wrote them), signing, and the rotate record.
 * Never: keeps every leaf (the frontier is O(log n)); signs a head it has not recomputed.
 */
#include "adapter/state/audit_checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/state/audit_verify.h"
#include "adapter/state/merkle.h"
#include "iso20022/buf.h"

struct xb_audit_ckpt {
    xb_audit *a;
    char *path;
    EVP_PKEY *key;
    char key_id[17];
    unsigned every_n;
    xb_merkle_frontier tree;
    uint8_t head[32];
    off_t offset;       /* bytes of the current file already hashed */
    xb_buf partial;     /* bytes after the last newline seen */
    char last_type[33]; /* type of the last entry seen */
    uint64_t last_size; /* tree_size of the last checkpoint seen or written */
};

static int load_key(xb_audit_ckpt *ck, const char *path, xb_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return xb_error_set(err, XB_ENOTFOUND, "audit.checkpoint.key",
                            "audit: cannot open checkpoint key %s", path);
    ck->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!ck->key || EVP_PKEY_id(ck->key) != EVP_PKEY_ED25519)
        return xb_error_set(err, XB_ECRYPTO, "audit.checkpoint.key",
                            "audit: %s is not a PEM Ed25519 private key", path);
    uint8_t pub[32], md[32];
    size_t len = sizeof pub;
    unsigned mdlen = 0;
    if (EVP_PKEY_get_raw_public_key(ck->key, pub, &len) != 1 ||
        EVP_Digest(pub, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return xb_error_set(err, XB_ECRYPTO, "audit.checkpoint.key", "audit: bad key %s", path);
    xb_merkle_hex(ck->key_id, md, 8);
    return 0;
}

/* A rotate entry opens a file: it carries the frontier of every entry before it. */
static int adopt_rotate(xb_audit_ckpt *ck, const xb_audit_entry *e, xb_error *err)
{
    json_t *fr = json_object_get(e->record, "frontier");
    json_int_t size = json_integer_value(json_object_get(e->record, "tree_size"));
    /* Rotation always checkpoints first: the entry before a rotate entry is a checkpoint. */
    ck->last_size = size > 0 ? (uint64_t)size - 1 : 0;
    if (ck->tree.size == (uint64_t)size && size > 0)
        return 0; /* we rotated ourselves: already in step */
    xb_merkle_frontier_init(&ck->tree);
    ck->tree.size = (uint64_t)size;
    size_t i;
    json_t *h;
    json_array_foreach(fr, i, h)
    {
        if (i >= XB_MERKLE_MAX_DEPTH ||
            xb_merkle_unhex(ck->tree.roots[i], json_string_value(h), 32) < 0)
            return xb_error_set(err, XB_ESTATE, ck->path, "audit: bad frontier in rotate entry");
        ck->tree.n++;
    }
    if ((uint64_t)__builtin_popcountll(ck->tree.size) != ck->tree.n ||
        size + 1 != (json_int_t)e->seq)
        return xb_error_set(err, XB_ESTATE, ck->path, "audit: rotate entry %llu is inconsistent",
                            (unsigned long long)e->seq);
    return 0;
}

static int absorb_line(xb_audit_ckpt *ck, const char *line, size_t len, xb_error *err)
{
    xb_audit_entry e;
    /* Only rotate and checkpoint entries need their record: parse the rest's envelope only. */
    bool need_record = memmem(line, len, "\"type\":\"rotate\"", 15) ||
                       memmem(line, len, "\"type\":\"checkpoint\"", 19);
    int rc = need_record ? xb_audit_entry_parse(&e, line, len, err)
                         : xb_audit_entry_parse_head(&e, line, len, err);
    if (rc < 0)
        return xb_error_set(err, XB_ESTATE, ck->path, "audit: unreadable entry in %s", ck->path);
    if (!strcmp(e.type, "rotate") && (rc = adopt_rotate(ck, &e, err)) < 0) {
        xb_audit_entry_clear(&e);
        return rc;
    }
    if (e.seq != ck->tree.size + 1) {
        xb_audit_entry_clear(&e);
        return xb_error_set(err, XB_ESTATE, ck->path, "audit: entry %llu out of order in %s",
                            (unsigned long long)e.seq, ck->path);
    }
    if (!strcmp(e.type, "checkpoint"))
        ck->last_size = (uint64_t)json_integer_value(json_object_get(e.record, "tree_size"));
    uint8_t leaf[32];
    xb_merkle_leaf_hash(leaf, e.hash, 32);
    xb_merkle_frontier_push(&ck->tree, leaf);
    memcpy(ck->head, e.hash, 32);
    snprintf(ck->last_type, sizeof ck->last_type, "%s", e.type);
    xb_audit_entry_clear(&e);
    return 0;
}

/* Hashes whatever the audit file gained since the last call. */
static int catch_up(xb_audit_ckpt *ck, xb_error *err)
{
    int fd = open(ck->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xb_error_set(err, XB_EIO, ck->path, "audit: cannot read back %s: %s", ck->path,
                            strerror(errno));
    char block[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = pread(fd, block, sizeof block, ck->offset)) > 0) {
        ck->offset += n;
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n && rc == 0; i++) {
            if (block[i] != '\n')
                continue;
            if (ck->partial.len) {
                xb_buf_append(&ck->partial, block + start, i - start);
                rc = absorb_line(ck, ck->partial.data, ck->partial.len, err);
                xb_buf_reset(&ck->partial);
            } else {
                rc = absorb_line(ck, block + start, i - start, err);
            }
            start = i + 1;
        }
        if (rc == 0 && start < (size_t)n)
            xb_buf_append(&ck->partial, block + start, (size_t)n - start);
    }
    close(fd);
    if (rc == 0 && ck->tree.size != xb_audit_seq(ck->a))
        rc = xb_error_set(
            err, XB_ESTATE, ck->path, "audit: %s holds %llu entries, the writer says %llu",
            ck->path, (unsigned long long)ck->tree.size, (unsigned long long)xb_audit_seq(ck->a));
    return rc;
}

int xb_audit_ckpt_new(xb_audit_ckpt **out, xb_audit *a, const xb_audit_ckpt_opts *opts,
                      xb_error *err)
{
    *out = NULL;
    if (!opts || !opts->audit_path || !opts->key_path)
        return xb_error_set(err, XB_EINVAL, "audit.checkpoint", "audit: checkpoint needs a key");
    xb_audit_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    ck->a = a;
    ck->path = strdup(opts->audit_path);
    ck->every_n = opts->every_n ? opts->every_n : 1000;
    xb_merkle_frontier_init(&ck->tree);
    int rc = load_key(ck, opts->key_path, err);
    if (rc == 0)
        rc = catch_up(ck, err);
    if (rc < 0) {
        xb_audit_ckpt_free(ck);
        return rc;
    }
    *out = ck;
    return 0;
}

void xb_audit_ckpt_free(xb_audit_ckpt *ck)
{
    if (!ck)
        return;
    EVP_PKEY_free(ck->key);
    xb_buf_free(&ck->partial);
    free(ck->path);
    free(ck);
}

static int sign(char *b64, size_t cap, EVP_PKEY *key, const xb_buf *msg, xb_error *err)
{
    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg->data, msg->len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || cap < 90)
        return xb_error_set(err, XB_ECRYPTO, NULL, "audit: Ed25519 signing failed");
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
    return 0;
}

static void utc_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int xb_audit_ckpt_write(char **line_out, xb_audit_ckpt *ck, xb_error *err)
{
    if (line_out)
        *line_out = NULL;
    int rc = catch_up(ck, err);
    if (rc < 0)
        return rc;
    if (ck->tree.size == 0 || !strcmp(ck->last_type, "checkpoint"))
        return 0; /* nothing new to sign */
    char head[65], root_hex[65], when[32], sig[100];
    uint8_t root[32];
    xb_merkle_frontier_root(&ck->tree, root);
    xb_merkle_hex(head, ck->head, 32);
    xb_merkle_hex(root_hex, root, 32);
    utc_now(when, sizeof when);
    xb_buf stmt = XB_BUF_INIT;
    rc = xb_audit_ckpt_statement(&stmt, ck->tree.size, head, root_hex, when);
    if (rc == 0)
        rc = sign(sig, sizeof sig, ck->key, &stmt, err);
    xb_buf_free(&stmt);
    if (rc < 0)
        return rc;
    json_t *rec = json_pack("{sI,ss,ss,ss,ss,ss,ss}", "tree_size", (json_int_t)ck->tree.size,
                            "head", head, "root", root_hex, "time", when, "alg", "Ed25519",
                            "key_id", ck->key_id, "sig", sig);
    if (!rec)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    rc = xb_audit_append_typed(line_out, NULL, ck->a, "checkpoint", rec, err);
    json_decref(rec);
    if (rc == 0)
        rc = xb_audit_sync(ck->a, err);
    if (rc == 0)
        rc = catch_up(ck, err);
    return rc;
}

int xb_audit_ckpt_tick(char **line_out, xb_audit_ckpt *ck, xb_error *err)
{
    if (line_out)
        *line_out = NULL;
    if (xb_audit_seq(ck->a) - ck->last_size < (uint64_t)ck->every_n + (ck->last_size ? 1 : 0))
        return 0;
    return xb_audit_ckpt_write(line_out, ck, err);
}

int xb_audit_ckpt_rotate(char **line_out, xb_audit_ckpt *ck, const char *rotated_path,
                         xb_error *err)
{
    int rc = xb_audit_ckpt_write(line_out, ck, err);
    if (rc < 0)
        return rc;
    json_t *fr = json_array();
    for (size_t i = 0; i < ck->tree.n; i++) {
        char hex[65];
        xb_merkle_hex(hex, ck->tree.roots[i], 32);
        json_array_append_new(fr, json_string(hex));
    }
    const char *base = strrchr(rotated_path, '/');
    json_t *rec = json_pack("{ss,sI,so}", "previous_file", base ? base + 1 : rotated_path,
                            "tree_size", (json_int_t)ck->tree.size, "frontier", fr);
    rc = xb_audit_rotate(ck->a, rotated_path, rec, err);
    json_decref(rec);
    if (rc < 0)
        return rc;
    ck->offset = 0; /* a new file: read it from its first byte (the rotate entry) */
    xb_buf_reset(&ck->partial);
    return catch_up(ck, err);
}

uint64_t xb_audit_ckpt_last_size(const xb_audit_ckpt *ck)
{
    return ck->last_size;
}
