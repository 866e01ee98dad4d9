/* write.h — serialising ISO 20022 messages.
 *
 * Owns: canonical bytes (C14N text rules on AppHdr + Document, stable for hashing), normal output
 * of the AppHdr/Document in a chosen wrapper, and SHA-256 of canonical bytes.
 * Never: changes the tree.
 */
#ifndef XB_WRITE_H
#define XB_WRITE_H

#include <stdint.h>

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* Canonical bytes of the AppHdr (when present) followed by the Document, never the wrapper:
 * exclusive-C14N text rules (UTF-8, no declaration, comments or PIs, sorted attributes, start+end
 * tags, C14N escaping) plus two normalisations so that one business message always hashes the
 * same: prefixes are not significant (elements are written unprefixed with xmlns="uri" where the
 * namespace changes; namespaced attributes get generated prefixes n0, n1 ...), and whitespace-only
 * text between elements is dropped (leaf text is kept exactly). See write.c. */
int xb_write_canonical(xb_buf *out, const xb_msg *msg, xb_error *err);

/* SHA-256 of the canonical bytes. */
int xb_write_canonical_sha256(uint8_t out[32], const xb_msg *msg, xb_error *err);

/* UTF-8 XML with declaration: the Document alone when the message has no BAH, else an
 * <Envelope> (no namespace) holding AppHdr and Document (the CBPR+ convention). The parts are
 * written in the canonical form above, so the output is compact and self-contained whatever
 * prefixes the wrapper declared. */
int xb_write_message(xb_buf *out, const xb_msg *msg, xb_error *err);

/* Lowercase hex of n bytes into out (2n+1). */
void xb_hex(char *out, const uint8_t *bytes, size_t n);

#endif
