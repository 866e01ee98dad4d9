/* batch_file.h — the file format of SFTP batch delivery (issue #12): an XML container of the
 * transformed ISO 20022 messages, its manifest, and the manifest's Ed25519 signature.
 *
 * Owns: checking that one message can be embedded (well-formed, UTF-8, no DOCTYPE), the container
 * bytes, the deterministic batch name, the manifest JSON (file name, message count, size,
 * SHA-256 of the file, the idempotency keys in order) and its detached signature, and the
 * counterparty-side verification of a delivered (container, manifest, signature) triple.
 * Never: does network or file I/O (the sink and the tests do), logs message bodies or key
 * material, or puts a clock reading into the container or manifest (a rebuilt batch must be
 * byte-identical, so a retry rewrites the same name with the same bytes).
 *
 * Why an XML container and not a zip: every message is already an XML document, and the
 * counterparty's ISO 20022 tooling reads XML. One container file is still valid XML, can be
 * streamed, validated and diffed with standard tools, is deterministic byte for byte (zip members
 * carry timestamps and the order/compression of the writer), and needs no new library. The cost
 * is that a message's XML declaration is dropped (the container is UTF-8, the only encoding the
 * pipeline emits). The format:
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <xb:Batch xmlns:xb="urn:xborder:batch:1" destination="hk-ta" count="2">
 *   <xb:Msg seq="1" key="eb6305c9-1f7f-49de-aed0-16487c27b42d">
 *   <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">...</Document>
 *   </xb:Msg>
 *   <xb:Msg seq="2" key="...">...</xb:Msg>
 *   </xb:Batch>
 *
 * The container elements are prefixed so that a message without a default namespace keeps its
 * (empty) namespace inside the container.
 *
 * Files per batch, all three renamed into place in this order (the manifest last: it is the
 * "batch complete" marker a counterparty waits for):
 *   NAME.xml               the container; NAME = "<destination>-<first 32 hex of its SHA-256>"
 *   NAME.manifest.sig      three lines: Content-Digest:, Signature-Input:, Signature: (below)
 *   NAME.manifest.json     {"format":"xborder-batch/1","destination":..,"file":"NAME.xml",
 *                           "content_type":"application/xml","count":N,"bytes":B,
 *                           "sha256":"<hex of NAME.xml>","keys":["k1","k2",...]}
 * The signature reuses the HTTP message-signature profile of httpsig.h (RFC 9421, Ed25519) over
 * a notional request "PUT /NAME.manifest.json" with Idempotency-Key: NAME and Content-Type:
 * application/json, whose body is the manifest's exact bytes. Any RFC 9421 verifier (or
 * xb_batch_verify below) can check it; the SHA-256 inside the manifest then binds the container.
 */
#ifndef XB_BATCH_FILE_H
#define XB_BATCH_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "adapter/transport/httpsig.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"

#define XB_BATCH_NS "urn:xborder:batch:1"
#define XB_BATCH_FORMAT "xborder-batch/1"
/* Longest batch name (without ".xml"): 64 chars of destination, '-', 32 hex. */
#define XB_BATCH_NAME_MAX 100
/* Longest idempotency key (same bound as sink_http). */
#define XB_BATCH_KEY_MAX 128

/* One message ready for a container: the bytes to embed (XML declaration and BOM removed). */
typedef struct xb_batch_item {
    const char *xml; /* an embeddable fragment from xb_batch_item_prepare */
    size_t len;
    const char *key; /* idempotency key: printable ASCII, no spaces, <= XB_BATCH_KEY_MAX */
} xb_batch_item;

/* A built container. */
typedef struct xb_batch_file {
    char name[XB_BATCH_NAME_MAX + 1]; /* without extension */
    char sha256[65];                  /* lower-case hex of data */
    size_t count;
    xb_buf data; /* the container bytes */
} xb_batch_file;

/* Checks that xml (one transformed message) can go into a container and writes the fragment to
 * embed into out (replacing its content): a UTF-8 BOM and the XML declaration are removed.
 * Errors (nothing written): XB_EINVAL when not well-formed, empty, a DOCTYPE is present, or the
 * declaration names an encoding other than UTF-8; XB_ELIMIT above max_bytes (0 = 16 MiB). */
int xb_batch_item_prepare(xb_buf *out, const void *xml, size_t len, size_t max_bytes,
                          xb_error *err);

/* 1 when key is a valid idempotency key for a batch (printable ASCII, no spaces, not empty). */
int xb_batch_key_valid(const char *key);

/* Exact number of bytes an item adds to a container (its <xb:Msg> wrapper included), and the
 * fixed bytes of an empty container for destination: sums of these bound batch.max_bytes. */
size_t xb_batch_entry_size(size_t fragment_len, const char *key, size_t seq);
size_t xb_batch_overhead(const char *destination, size_t count);

/* Builds the container of items (in order) for destination, its SHA-256 and its name.
 * Deterministic: the same inputs give the same bytes and name. Errors: XB_EINVAL (no items,
 * bad key, bad destination), XB_ENOMEM. out is initialised here; free with xb_batch_file_free. */
int xb_batch_file_build(xb_batch_file *out, const char *destination, const xb_batch_item *items,
                        size_t n, xb_error *err);
void xb_batch_file_free(xb_batch_file *f);

/* The manifest JSON of f (keys in container order), with a trailing newline, into out. */
int xb_batch_manifest(xb_buf *out, const xb_batch_file *f, const char *destination,
                      const xb_batch_item *items, size_t n, xb_error *err);

/* Signs manifest bytes (see the profile above) into out as three "Name: value\n" lines.
 * created = unix seconds recorded in the signature. key must hold the private half. */
int xb_batch_manifest_sign(xb_buf *out, const char *batch_name, const void *manifest, size_t len,
                           const xb_httpsig_key *key, const char *keyid, int64_t created,
                           xb_error *err);

/* A parsed manifest (xb_batch_manifest_parse). */
typedef struct xb_batch_manifest_info {
    char destination[128];
    char file[XB_BATCH_NAME_MAX + 8]; /* "NAME.xml" */
    char sha256[65];
    size_t count;
    size_t bytes;
    char **keys; /* count entries */
} xb_batch_manifest_info;

/* Parses and checks a manifest's shape (every field present and typed, count == number of keys,
 * keys valid, sha256 64 hex). Errors: XB_EINVAL naming the field. */
int xb_batch_manifest_parse(xb_batch_manifest_info *out, const void *manifest, size_t len,
                            xb_error *err);
void xb_batch_manifest_info_free(xb_batch_manifest_info *m);

/* The counterparty's check of one delivered batch: the signature over the manifest (key may be
 * public-only; expected_keyid NULL = any), then the manifest against the container (file name,
 * size, SHA-256, count, and the key of every <xb:Msg> in order). On success *out (may be NULL)
 * holds the parsed manifest. Errors: XB_ECRYPTO (signature, digest, SHA-256), XB_EINVAL (shape,
 * count or key mismatch, container not well-formed). */
int xb_batch_verify(xb_batch_manifest_info *out, const char *batch_name, const void *container,
                    size_t container_len, const void *manifest, size_t manifest_len,
                    const char *sig, size_t sig_len, const xb_httpsig_key *key,
                    const char *expected_keyid, xb_error *err);

#endif
