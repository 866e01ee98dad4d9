/* audit_verify.h — checking an audit log without trusting its operator (issue #7).
 *
 * Owns: parsing one audit line into its parts (audit.h's format), the whole-chain walk across
 * rotated files or an audit topic's lines, Merkle-root and Ed25519 checks of every checkpoint,
 * and naming the FIRST fault: its seq and whether the entry was altered, missing, reordered,
 * inserted, or follows the last signed checkpoint (an unsigned tail).
 * Never: repairs, skips or reorders entries to make a log pass (the only tolerance is an exact
 * duplicate line, which an at-least-once audit topic may carry, when skip_duplicates is set).
 */
#ifndef XB_AUDIT_VERIFY_H
#define XB_AUDIT_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/state/merkle.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"

/* ---- one line ---------------------------------------------------------------------------- */

typedef struct xb_audit_entry {
    uint64_t seq;
    char type[33];
    uint8_t prev[32];
    uint8_t hash[32]; /* as written in the line */
    const char *raw;  /* the canonical record bytes inside the line (not NUL-terminated) */
    size_t raw_len;
    json_t *record; /* parsed record (owned by the entry) */
} xb_audit_entry;

/* Parses a line (without newline). 0, or XB_EINVAL when it is not an audit entry. */
int xb_audit_entry_parse(xb_audit_entry *out, const char *line, size_t len, xb_error *err);
/* Same without parsing the record (record stays NULL; raw is set): for writers reading back. */
int xb_audit_entry_parse_head(xb_audit_entry *out, const char *line, size_t len, xb_error *err);
void xb_audit_entry_clear(xb_audit_entry *e);
/* SHA-256(prev || raw record) == hash ? */
bool xb_audit_entry_hash_ok(const xb_audit_entry *e);

/* ---- checkpoints (written by audit_checkpoint.c, checked here) ---------------------------- */

/* The exact bytes an Ed25519 checkpoint signature covers. */
int xb_audit_ckpt_statement(xb_buf *out, uint64_t tree_size, const char *head_hex,
                            const char *root_hex, const char *time);
/* Verifies a checkpoint record's signature with a PEM public key (EVP_PKEY *, see below). */
typedef struct evp_pkey_st xb_audit_pubkey;
int xb_audit_pubkey_load(xb_audit_pubkey **out, const char *pem_path, xb_error *err);
void xb_audit_pubkey_free(xb_audit_pubkey *k);
int xb_audit_ckpt_check_sig(const json_t *ckpt_record, xb_audit_pubkey *key, xb_error *err);

/* ---- the walk ------------------------------------------------------------------------------ */

typedef enum xb_audit_fault {
    XB_AUDIT_INTACT = 0,
    XB_AUDIT_MALFORMED,      /* not an audit entry / torn line */
    XB_AUDIT_ALTERED,        /* hash does not match prev || record */
    XB_AUDIT_BROKEN_LINK,    /* prev is not the previous entry's hash */
    XB_AUDIT_MISSING,        /* expected seq never appears */
    XB_AUDIT_REORDERED,      /* expected seq appears after a later one */
    XB_AUDIT_INSERTED,       /* two entries claim one seq */
    XB_AUDIT_BAD_CHECKPOINT, /* checkpoint head/root/size disagree with the chain */
    XB_AUDIT_BAD_SIGNATURE,  /* checkpoint signature does not verify */
    XB_AUDIT_UNSIGNED_TAIL,  /* entries after the last signed checkpoint */
    XB_AUDIT_EMPTY,          /* nothing to verify */
} xb_audit_fault;

const char *xb_audit_fault_name(xb_audit_fault f); /* "altered", "missing", ... */

/* Called for every entry that verified (in seq order); return < 0 to stop the walk. */
typedef int (*xb_audit_entry_fn)(void *ctx, const xb_audit_entry *e, const char *line, size_t len);

typedef struct xb_audit_verify_opts {
    const char *pubkey_path;  /* PEM Ed25519; NULL: signatures are not checked (reported) */
    bool allow_unsigned_tail; /* a live log: entries after the last checkpoint are fine */
    bool skip_duplicates;     /* exact repeats of the previous line are ignored (topics) */
    bool keep_leaves;         /* keep every leaf hash (audit-proof) */
    xb_audit_entry_fn on_entry;
    void *ctx;
} xb_audit_verify_opts;

typedef struct xb_audit_verify_result {
    xb_audit_fault fault;
    uint64_t seq;     /* seq at fault (0 when intact) */
    char reason[512]; /* one sentence */
    char where[300];  /* file:line or topic:partition:offset of the offending line */
    uint64_t entries, decisions, checkpoints, rotations, duplicates;
    uint64_t signed_upto; /* tree_size of the last checkpoint that verified */
    bool signatures_checked;
    char head[65]; /* chain head after the last good entry */
    char root[65]; /* Merkle root over every good entry */
} xb_audit_verify_result;

typedef struct xb_audit_verifier xb_audit_verifier;

int xb_audit_verifier_new(xb_audit_verifier **out, const xb_audit_verify_opts *opts, xb_error *err);
void xb_audit_verifier_free(xb_audit_verifier *v);
/* Feeds one line (without newline). Returns 0 to continue, 1 once a fault is known (stop). */
int xb_audit_verifier_feed(xb_audit_verifier *v, const char *line, size_t len, const char *where);
/* Ends the walk: resolves pending look-ahead and the unsigned-tail rule. */
void xb_audit_verifier_finish(xb_audit_verifier *v, xb_audit_verify_result *out);
/* keep_leaves: leaf hashes of verified entries (index = seq - 1). */
const uint8_t (*xb_audit_verifier_leaves(const xb_audit_verifier *v, size_t *n))[XB_MERKLE_HASH];

/* Walks files in order (rotated ones first). A last line without newline is a torn entry. */
int xb_audit_verify_files(xb_audit_verify_result *out, const char *const *paths, size_t n,
                          const xb_audit_verify_opts *opts, xb_error *err);

#endif
