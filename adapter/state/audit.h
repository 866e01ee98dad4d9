/* audit.h — the append-only, hash-chained decision log (a local file, one JSON line per entry).
 *
 * Owns: the file format, the chain, the fsync policy and recovery of the chain head on open.
 * Line format (version 1), keys in this order:
 *   {"v":1,"seq":N,"type":"decision","prev":"<hex64>","hash":"<hex64>","record":{...}}
 *   hash = SHA-256( prev_hash_bytes(32) || canonical(record) )
 *   canonical(record) = JSON with sorted keys, compact separators, UTF-8 (jansson
 *   JSON_SORT_KEYS|JSON_COMPACT), exactly the bytes written after "record":.
 *   The first entry's prev is 64 zeros. seq starts at 1 and increases by one per line.
 * Other "type" values (issue #7: signed checkpoints) join the same chain the same way, so a
 * verifier walks every line regardless of type. Unknown top-level keys must be ignored by readers.
 * Never: rewrites or reorders a complete line. The only mutations of existing bytes are cutting a
 * torn last line (a crash mid-write) on open, and cutting back an append that failed part way
 * (disk full); neither entry was acknowledged, because an offset only advances after
 * xb_audit_sync().
 * Not thread-safe: one writer (the pipeline's worker thread) per file.
 */
#ifndef XB_AUDIT_H
#define XB_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef enum xb_audit_fsync {
    XB_AUDIT_FSYNC_ALWAYS = 0, /* fdatasync after every entry */
    XB_AUDIT_FSYNC_EVERY_N,    /* after every N entries (and on xb_audit_sync) */
    XB_AUDIT_FSYNC_INTERVAL,   /* when interval_ms has passed since the last sync (and on sync) */
} xb_audit_fsync;

typedef struct xb_audit_opts {
    const char *path;
    xb_audit_fsync fsync;
    unsigned every_n;     /* XB_AUDIT_FSYNC_EVERY_N */
    unsigned interval_ms; /* XB_AUDIT_FSYNC_INTERVAL */
} xb_audit_opts;

typedef struct xb_audit xb_audit;

/* Opens (creating with mode 0640 when absent) and recovers seq and the chain head from the last
 * complete line. XB_EIO on I/O errors, XB_ESTATE when the last line does not parse as an entry. */
int xb_audit_open(xb_audit **out, const xb_audit_opts *opts, xb_error *err);
void xb_audit_close(xb_audit *a);

/* Appends one entry of type "decision" (record is not modified). On success, when line_out is
 * non-NULL it receives the full line without newline (caller frees: it is what goes to the audit
 * topic), seq_out the entry's seq.
 * When the write fails (XB_EIO: ENOSPC, EDQUOT, EFBIG, EIO; with fsync ALWAYS also a failed
 * fdatasync) nothing of the entry stays in the file and seq and head are unchanged, so the same
 * record can be appended again later: the caller retries, the chain stays whole (issue #9). If
 * only a sync under another fsync policy failed, the entry stays (xb_audit_seq advanced) and the
 * error is still returned: the caller must not retry it. (All append functions below alike.) */
int xb_audit_append(char **line_out, uint64_t *seq_out, xb_audit *a, const json_t *record,
                    xb_error *err);
/* Same, with an explicit type (issue #7 checkpoints). */
int xb_audit_append_typed(char **line_out, uint64_t *seq_out, xb_audit *a, const char *type,
                          const json_t *record, xb_error *err);

/* Same, with the record already serialised as canonical JSON (one line: sorted keys, compact,
 * e.g. by xb_policy_record_write) — the bytes are hashed and written as given, so the pipeline
 * need not build a jansson tree per message (issue #8). XB_EINVAL when canon is not one line
 * that starts with '{' and ends with '}'. */
int xb_audit_append_raw(char **line_out, uint64_t *seq_out, xb_audit *a, const char *type,
                        const char *canon, size_t canon_len, xb_error *err);

/* Makes every appended entry durable (fdatasync when something is pending). Called before any
 * offset commit, whatever the fsync policy. */
int xb_audit_sync(xb_audit *a, xb_error *err);

/* Last seq written, and last seq known durable. */
uint64_t xb_audit_seq(const xb_audit *a);
uint64_t xb_audit_durable_seq(const xb_audit *a);
/* Hex of the chain head (hash of the last entry, or 64 zeros). */
const char *xb_audit_head(const xb_audit *a);

/* Rotation (issue #7, additive). Makes everything durable, writes a "rotate" entry carrying
 * `record` (continuing seq and chain) into "<path>.rotating", fsyncs it, renames the current file
 * to rotated_path and the new one into place. The new file therefore always starts with an entry
 * that links to the old file's head, so the chain survives restarts across rotations. A crash
 * between the two renames is finished by xb_audit_open (it moves "<path>.rotating" into place). */
int xb_audit_rotate(xb_audit *a, const char *rotated_path, const json_t *record, xb_error *err);

/* Recomputes the chain of a whole file: 0 when every line links and hashes; XB_ECRYPTO naming
 * the first bad seq otherwise. *count_out (may be NULL) gets the number of entries. A building
 * block for issue #7's verify-audit, and what tests use. */
int xb_audit_verify_file(uint64_t *count_out, const char *path, xb_error *err);

#endif
