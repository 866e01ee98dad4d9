/* audit_checkpoint.h — Ed25519-signed checkpoints over the audit chain (issue #7).
 *
 * Owns: when a checkpoint is due (every N entries, at shutdown, before rotation), the Merkle
 * frontier of every entry so far (rebuilt on open by reading the current audit file back, so it
 * survives restarts), the checkpoint record and its signature, and rotation that keeps the
 * chain and the tree whole. A checkpoint is an entry of type "checkpoint" in the same chain:
 *   {"alg":"Ed25519","head":"<hash of entry tree_size>","key_id":"<16 hex>",
 *    "root":"<RFC 6962 root over entries 1..tree_size>","sig":"<base64>","time":"...Z",
 *    "tree_size":N}
 * The signature covers xb_audit_ckpt_statement(tree_size, head, root, time).
 * Never: prints or logs the private key; writes an entry without going through xb_audit.
 */
#ifndef XB_AUDIT_CHECKPOINT_H
#define XB_AUDIT_CHECKPOINT_H

#include "adapter/state/audit.h"
#include "iso20022/error.h"

typedef struct xb_audit_ckpt_opts {
    const char *audit_path; /* the file the xb_audit writes (read back for leaf hashes) */
    const char *key_path;   /* PEM Ed25519 private key (a file; never logged) */
    unsigned every_n;       /* entries between checkpoints; 0 means 1000 */
} xb_audit_ckpt_opts;

typedef struct xb_audit_ckpt xb_audit_ckpt;

/* Loads the key and rebuilds the frontier from the audit file. */
int xb_audit_ckpt_new(xb_audit_ckpt **out, xb_audit *a, const xb_audit_ckpt_opts *opts,
                      xb_error *err);
void xb_audit_ckpt_free(xb_audit_ckpt *ck);

/* Call after appending entries: writes a checkpoint when every_n entries passed since the last.
 * *line_out (may be NULL) gets the checkpoint line for the audit topic (caller frees), or NULL. */
int xb_audit_ckpt_tick(char **line_out, xb_audit_ckpt *ck, xb_error *err);
/* Writes a checkpoint now unless the last entry already is one (shutdown, tests). */
int xb_audit_ckpt_write(char **line_out, xb_audit_ckpt *ck, xb_error *err);
/* Checkpoints, then rotates the file to rotated_path (xb_audit_rotate) with a "rotate" entry
 * carrying the tree's frontier, so the new file alone is enough to resume. */
int xb_audit_ckpt_rotate(char **line_out, xb_audit_ckpt *ck, const char *rotated_path,
                         xb_error *err);

uint64_t xb_audit_ckpt_last_size(const xb_audit_ckpt *ck); /* tree_size of the last checkpoint */

#endif
