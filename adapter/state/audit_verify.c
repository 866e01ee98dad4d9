/* audit_verify.c — the whole-chain walk and checkpoint checks (see audit_verify.h).
 *
 * Owns: the order of checks per line (parse, seq, duplicate, link, hash, checkpoint) and the
 * one-line look-ahead that tells a missing entry from two swapped ones.
 * Never: trusts a checkpoint's own numbers: head and root are recomputed from the entries.
 */
#include "adapter/state/audit_verify.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_TAG ",\"record\":"

/* ---- one line ------------------------------------------------------------------------------ */

static int parse_entry(xb_audit_entry *out, const char *line, size_t len, bool head_only,
                       xb_error *err)
{
    memset(out, 0, sizeof *out);
    const char *tag = memmem(line, len, RECORD_TAG, strlen(RECORD_TAG));
    if (!tag || len < 2 || line[len - 1] != '}')
        return xb_error_set(err, XB_EINVAL, NULL, "not an audit entry");
    json_t *env;
    if (head_only) { /* the envelope before "record" is small: parse just that */
        char head[512];
        size_t n = (size_t)(tag - line);
        if (n + 2 > sizeof head)
            return xb_error_set(err, XB_EINVAL, NULL, "not an audit entry");
        memcpy(head, line, n);
        head[n] = '}';
        env = json_loadb(head, n + 1, JSON_REJECT_DUPLICATES, NULL);
    } else {
        env = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    }
    json_t *seq = json_object_get(env, "seq");
    const char *type = json_string_value(json_object_get(env, "type"));
    json_t *record = json_object_get(env, "record");
    int rc = 0;
    if (!env || !json_is_integer(seq) || json_integer_value(seq) < 1 || !type ||
        strlen(type) >= sizeof out->type || (!head_only && !json_is_object(record)) ||
        xb_merkle_unhex(out->prev, json_string_value(json_object_get(env, "prev")), 32) < 0 ||
        xb_merkle_unhex(out->hash, json_string_value(json_object_get(env, "hash")), 32) < 0) {
        rc = xb_error_set(err, XB_EINVAL, NULL, "not an audit entry");
    } else {
        out->seq = (uint64_t)json_integer_value(seq);
        snprintf(out->type, sizeof out->type, "%s", type);
        out->raw = tag + strlen(RECORD_TAG);
        out->raw_len = (size_t)(line + len - 1 - out->raw);
        out->record = json_incref(record);
    }
    json_decref(env);
    return rc;
}

int xb_audit_entry_parse(xb_audit_entry *out, const char *line, size_t len, xb_error *err)
{
    return parse_entry(out, line, len, false, err);
}

int xb_audit_entry_parse_head(xb_audit_entry *out, const char *line, size_t len, xb_error *err)
{
    return parse_entry(out, line, len, true, err);
}

void xb_audit_entry_clear(xb_audit_entry *e)
{
    json_decref(e->record);
    e->record = NULL;
}

bool xb_audit_entry_hash_ok(const xb_audit_entry *e)
{
    uint8_t md[32];
    unsigned len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(ctx, e->prev, 32) && EVP_DigestUpdate(ctx, e->raw, e->raw_len) &&
              EVP_DigestFinal_ex(ctx, md, &len) && memcmp(md, e->hash, 32) == 0;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ---- checkpoint signatures ----------------------------------------------------------------- */

int xb_audit_ckpt_statement(xb_buf *out, uint64_t tree_size, const char *head_hex,
                            const char *root_hex, const char *time)
{
    xb_buf_reset(out);
    return xb_buf_printf(out,
                         "xborder-audit-checkpoint/v1\ntree_size=%llu\nhead=%s\nroot=%s\ntime=%s\n",
                         (unsigned long long)tree_size, head_hex, root_hex, time);
}

int xb_audit_pubkey_load(xb_audit_pubkey **out, const char *pem_path, xb_error *err)
{
    *out = NULL;
    FILE *f = fopen(pem_path, "r");
    if (!f)
        return xb_error_set(err, XB_ENOTFOUND, pem_path, "cannot open public key %s: %s", pem_path,
                            strerror(errno));
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k || EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return xb_error_set(err, XB_ECRYPTO, pem_path, "%s is not a PEM Ed25519 public key",
                            pem_path);
    }
    *out = k;
    return 0;
}

void xb_audit_pubkey_free(xb_audit_pubkey *k)
{
    EVP_PKEY_free(k);
}

int xb_audit_ckpt_check_sig(const json_t *rec, xb_audit_pubkey *key, xb_error *err)
{
    const char *head = json_string_value(json_object_get(rec, "head"));
    const char *root = json_string_value(json_object_get(rec, "root"));
    const char *when = json_string_value(json_object_get(rec, "time"));
    const char *sig64 = json_string_value(json_object_get(rec, "sig"));
    json_t *size = json_object_get(rec, "tree_size");
    if (!head || !root || !when || !sig64 || !json_is_integer(size) || strlen(sig64) != 88)
        return xb_error_set(err, XB_ECRYPTO, NULL, "checkpoint lacks head, root, time or sig");
    uint8_t sig[66];
    if (EVP_DecodeBlock(sig, (const unsigned char *)sig64, 88) != 66)
        return xb_error_set(err, XB_ECRYPTO, NULL, "checkpoint signature is not base64");
    xb_buf stmt = XB_BUF_INIT;
    xb_audit_ckpt_statement(&stmt, (uint64_t)json_integer_value(size), head, root, when);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)stmt.data, stmt.len) == 1;
    EVP_MD_CTX_free(ctx);
    xb_buf_free(&stmt);
    return ok ? 0
              : xb_error_set(err, XB_ECRYPTO, NULL,
                             "checkpoint signature does not verify with "
                             "the given public key");
}

/* ---- the walk ------------------------------------------------------------------------------ */

struct xb_audit_verifier {
    xb_audit_verify_opts opts;
    xb_audit_pubkey *key;
    xb_audit_verify_result res;
    bool done;
    uint64_t expect;
    uint8_t head[32];
    uint64_t last_signed_seq; /* seq of the last checkpoint entry that verified (0: none) */
    xb_merkle_frontier tree;
    uint8_t (*leaves)[XB_MERKLE_HASH];
    size_t n_leaves, cap_leaves;
    xb_buf last_line; /* previous accepted line, to recognise exact duplicates */
    xb_buf ahead;     /* a line whose seq jumped ahead, held for one line */
    char ahead_where[300];
    uint64_t ahead_seq;
};

const char *xb_audit_fault_name(xb_audit_fault f)
{
    static const char *const names[] = {
        "intact",   "malformed",      "altered",       "broken-link",   "missing", "reordered",
        "inserted", "bad-checkpoint", "bad-signature", "unsigned-tail", "empty"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

int xb_audit_verifier_new(xb_audit_verifier **out, const xb_audit_verify_opts *opts, xb_error *err)
{
    *out = NULL;
    xb_audit_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    if (opts)
        v->opts = *opts;
    v->expect = 1;
    xb_merkle_frontier_init(&v->tree);
    if (v->opts.pubkey_path) {
        int rc = xb_audit_pubkey_load(&v->key, v->opts.pubkey_path, err);
        if (rc < 0) {
            free(v);
            return rc;
        }
        v->res.signatures_checked = true;
    }
    *out = v;
    return 0;
}

void xb_audit_verifier_free(xb_audit_verifier *v)
{
    if (!v)
        return;
    xb_audit_pubkey_free(v->key);
    free(v->leaves);
    xb_buf_free(&v->last_line);
    xb_buf_free(&v->ahead);
    free(v);
}

static int fail(xb_audit_verifier *v, xb_audit_fault f, uint64_t seq, const char *where,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(xb_audit_verifier *v, xb_audit_fault f, uint64_t seq, const char *where,
                const char *fmt, ...)
{
    v->done = true;
    v->res.fault = f;
    v->res.seq = seq;
    snprintf(v->res.where, sizeof v->res.where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->res.reason, sizeof v->res.reason, fmt, ap);
    va_end(ap);
    return 1;
}

static int check_checkpoint(xb_audit_verifier *v, const xb_audit_entry *e, const char *where)
{
    json_int_t size = json_integer_value(json_object_get(e->record, "tree_size"));
    char head[65], root[65];
    uint8_t r[32];
    xb_merkle_hex(head, v->head, 32);
    xb_merkle_frontier_root(&v->tree, r);
    xb_merkle_hex(root, r, 32);
    const char *chead = json_string_value(json_object_get(e->record, "head"));
    const char *croot = json_string_value(json_object_get(e->record, "root"));
    if ((uint64_t)size + 1 != e->seq)
        return fail(v, XB_AUDIT_BAD_CHECKPOINT, e->seq, where,
                    "checkpoint %llu claims tree_size %lld; it must cover every entry before it",
                    (unsigned long long)e->seq, (long long)size);
    if (!chead || strcmp(chead, head))
        return fail(v, XB_AUDIT_BAD_CHECKPOINT, e->seq, where,
                    "checkpoint %llu signs head %.16s..., the chain's head is %.16s...",
                    (unsigned long long)e->seq, chead ? chead : "(none)", head);
    if (!croot || strcmp(croot, root))
        return fail(v, XB_AUDIT_BAD_CHECKPOINT, e->seq, where,
                    "checkpoint %llu signs Merkle root %.16s..., the entries give %.16s...",
                    (unsigned long long)e->seq, croot ? croot : "(none)", root);
    if (v->key) {
        xb_error err;
        if (xb_audit_ckpt_check_sig(e->record, v->key, &err) < 0)
            return fail(v, XB_AUDIT_BAD_SIGNATURE, e->seq, where, "checkpoint %llu: %s",
                        (unsigned long long)e->seq, err.message);
        v->res.signed_upto = (uint64_t)size;
        v->last_signed_seq = e->seq;
    }
    v->res.checkpoints++;
    return 0;
}

static int check_rotate(xb_audit_verifier *v, const xb_audit_entry *e, const char *where)
{
    json_int_t size = json_integer_value(json_object_get(e->record, "tree_size"));
    json_t *fr = json_object_get(e->record, "frontier");
    bool ok = (uint64_t)size + 1 == e->seq && json_array_size(fr) == v->tree.n;
    for (size_t i = 0; ok && i < v->tree.n; i++) {
        char hex[65];
        xb_merkle_hex(hex, v->tree.roots[i], 32);
        ok = !strcmp(hex, json_string_value(json_array_get(fr, i)) ?: "");
    }
    if (!ok)
        return fail(v, XB_AUDIT_BAD_CHECKPOINT, e->seq, where,
                    "rotate entry %llu does not match the entries before it",
                    (unsigned long long)e->seq);
    v->res.rotations++;
    return 0;
}

static int keep_leaf(xb_audit_verifier *v, const uint8_t leaf[32])
{
    if (v->n_leaves == v->cap_leaves) {
        size_t cap = v->cap_leaves ? v->cap_leaves * 2 : 1024;
        void *p = realloc(v->leaves, cap * XB_MERKLE_HASH);
        if (!p)
            return -1;
        v->leaves = p;
        v->cap_leaves = cap;
    }
    memcpy(v->leaves[v->n_leaves++], leaf, XB_MERKLE_HASH);
    return 0;
}

/* An entry whose seq is the one expected. */
static int accept(xb_audit_verifier *v, const xb_audit_entry *e, const char *line, size_t len,
                  const char *where)
{
    if (memcmp(e->prev, v->head, 32) != 0)
        return fail(v, XB_AUDIT_BROKEN_LINK, e->seq, where,
                    "entry %llu does not link to entry %llu (prev differs): an entry before it "
                    "was removed, replaced or inserted",
                    (unsigned long long)e->seq, (unsigned long long)e->seq - 1);
    if (!xb_audit_entry_hash_ok(e))
        return fail(v, XB_AUDIT_ALTERED, e->seq, where,
                    "entry %llu was altered: its hash is not SHA-256(prev || record)",
                    (unsigned long long)e->seq);
    if (!strcmp(e->type, "checkpoint") && check_checkpoint(v, e, where))
        return 1;
    if (!strcmp(e->type, "rotate") && check_rotate(v, e, where))
        return 1;
    if (v->opts.on_entry && v->opts.on_entry(v->opts.ctx, e, line, len) < 0)
        return fail(v, XB_AUDIT_MALFORMED, e->seq, where, "entry %llu refused by the reader",
                    (unsigned long long)e->seq);
    uint8_t leaf[32];
    xb_merkle_leaf_hash(leaf, e->hash, 32);
    xb_merkle_frontier_push(&v->tree, leaf);
    if (v->opts.keep_leaves && keep_leaf(v, leaf) < 0)
        return fail(v, XB_AUDIT_MALFORMED, e->seq, where, "out of memory");
    memcpy(v->head, e->hash, 32);
    v->res.entries++;
    if (!strcmp(e->type, "decision"))
        v->res.decisions++;
    v->expect++;
    xb_buf_reset(&v->last_line);
    xb_buf_append(&v->last_line, line, len);
    return 0;
}

static int feed_one(xb_audit_verifier *v, const char *line, size_t len, const char *where);

/* The line held because its seq jumped: the next line decides missing vs reordered. */
static int resolve_ahead(xb_audit_verifier *v, const xb_audit_entry *next)
{
    if (next && next->seq == v->expect)
        return fail(v, XB_AUDIT_REORDERED, v->expect, v->ahead_where,
                    "entry %llu appears after entry %llu: entries were reordered",
                    (unsigned long long)v->expect, (unsigned long long)v->ahead_seq);
    return fail(v, XB_AUDIT_MISSING, v->expect, v->ahead_where,
                "entry %llu is missing (the next entry present is %llu)",
                (unsigned long long)v->expect, (unsigned long long)v->ahead_seq);
}

static int feed_one(xb_audit_verifier *v, const char *line, size_t len, const char *where)
{
    if (v->done)
        return 1;
    xb_audit_entry e;
    if (xb_audit_entry_parse(&e, line, len, NULL) < 0) {
        if (v->ahead.len)
            return resolve_ahead(v, NULL);
        return fail(v, XB_AUDIT_MALFORMED, v->expect, where,
                    "entry %llu is not a well-formed audit line (altered or torn)",
                    (unsigned long long)v->expect);
    }
    int rc = 0;
    if (v->ahead.len) {
        rc = resolve_ahead(v, &e);
    } else if (e.seq == v->expect) {
        rc = accept(v, &e, line, len, where);
    } else if (e.seq + 1 == v->expect && v->last_line.len == len &&
               !memcmp(v->last_line.data, line, len) && v->opts.skip_duplicates) {
        v->res.duplicates++;
    } else if (e.seq + 1 == v->expect) {
        rc = fail(v, XB_AUDIT_INSERTED, e.seq, where,
                  "two different entries claim seq %llu: one was inserted",
                  (unsigned long long)e.seq);
    } else if (e.seq < v->expect) {
        rc = fail(v, XB_AUDIT_REORDERED, e.seq, where,
                  "entry %llu appears again after entry %llu: entries were reordered or replayed",
                  (unsigned long long)e.seq, (unsigned long long)v->expect - 1);
    } else { /* a jump: hold it for one line */
        xb_buf_append(&v->ahead, line, len);
        snprintf(v->ahead_where, sizeof v->ahead_where, "%s", where ? where : "");
        v->ahead_seq = e.seq;
    }
    xb_audit_entry_clear(&e);
    return rc;
}

int xb_audit_verifier_feed(xb_audit_verifier *v, const char *line, size_t len, const char *where)
{
    return feed_one(v, line, len, where);
}

void xb_audit_verifier_finish(xb_audit_verifier *v, xb_audit_verify_result *out)
{
    if (!v->done && v->ahead.len)
        resolve_ahead(v, NULL);
    if (!v->done && v->res.entries == 0)
        fail(v, XB_AUDIT_EMPTY, 0, "", "no audit entries to verify");
    /* Entries after the last signed checkpoint could have been appended by anyone holding the
     * file; only a key can tell, so the rule applies when one is given. */
    if (!v->done && v->key && !v->opts.allow_unsigned_tail && v->last_signed_seq < v->expect - 1)
        fail(v, XB_AUDIT_UNSIGNED_TAIL, v->last_signed_seq + 1, "",
             "entries %llu..%llu follow the last signed checkpoint: appended without a signature",
             (unsigned long long)v->last_signed_seq + 1, (unsigned long long)v->expect - 1);
    xb_merkle_hex(v->res.head, v->head, 32);
    uint8_t r[32];
    xb_merkle_frontier_root(&v->tree, r);
    xb_merkle_hex(v->res.root, r, 32);
    *out = v->res;
}

const uint8_t (*xb_audit_verifier_leaves(const xb_audit_verifier *v, size_t *n))[XB_MERKLE_HASH]
{
    *n = v->n_leaves;
    return (const uint8_t(*)[XB_MERKLE_HASH])v->leaves;
}

int xb_audit_verify_files(xb_audit_verify_result *out, const char *const *paths, size_t n,
                          const xb_audit_verify_opts *opts, xb_error *err)
{
    xb_audit_verifier *v = NULL;
    int rc = xb_audit_verifier_new(&v, opts, err);
    if (rc < 0)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        FILE *f = fopen(paths[i], "r");
        if (!f) {
            rc = xb_error_set(err, XB_EIO, paths[i], "cannot open %s: %s", paths[i],
                              strerror(errno));
            break;
        }
        ssize_t got;
        unsigned long lineno = 0;
        while ((got = getline(&line, &cap, f)) > 0) {
            char where[300];
            snprintf(where, sizeof where, "%s:%lu", paths[i], ++lineno);
            size_t len = (size_t)got;
            if (line[len - 1] == '\n')
                len--;
            else if (i + 1 == n) { /* torn tail: never acknowledged, but not verifiable either */
                xb_audit_entry e;
                bool parses = xb_audit_entry_parse(&e, line, len, NULL) == 0;
                if (parses)
                    xb_audit_entry_clear(&e);
                if (!parses) {
                    xb_audit_verifier_feed(v, "", 0, where);
                    break;
                }
            }
            if (xb_audit_verifier_feed(v, line, len, where))
                break;
        }
        fclose(f);
    }
    free(line);
    if (rc == 0)
        xb_audit_verifier_finish(v, out);
    xb_audit_verifier_free(v);
    return rc;
}
