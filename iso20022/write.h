/* write.h — serialising ISO 20022 messages.
 *
 * Owns: canonical bytes (exclusive C14N of AppHdr + Document, stable for hashing), normal output
 * of the AppHdr/Document in a chosen wrapper, and SHA-256 of canonical bytes.
 * Never: changes the tree.
 */
#ifndef XB_WRITE_H
#define XB_WRITE_H

#include <stdint.h>

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* Exclusive C14N (no comments) of the AppHdr (when present) followed by the Document. */
int xb_write_canonical(xb_buf *out, const xb_msg *msg, xb_error *err);

/* SHA-256 of the canonical bytes. */
int xb_write_canonical_sha256(uint8_t out[32], const xb_msg *msg, xb_error *err);

/* UTF-8 XML with declaration: the Document alone when the message has no BAH, else an
 * <Envelope> holding AppHdr and Document (the CBPR+ convention). */
int xb_write_message(xb_buf *out, const xb_msg *msg, xb_error *err);

/* Lowercase hex of n bytes into out (2n+1). */
void xb_hex(char *out, const uint8_t *bytes, size_t n);

#endif
