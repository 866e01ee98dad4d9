/* message.h — secure parsing of ISO 20022 messages from memory.
 *
 * Owns: the parsed xb_msg (libxml2 tree + located AppHdr/Document + identified definitions),
 * parse limits, wrapper handling (bare Document, Envelope, SWIFTNet Request, DataPDU, message,
 * bare AppHdr+Document siblings), reuse of parser contexts and dictionaries.
 * Never: loads DTDs, substitutes entities or touches the network (XML_PARSE_NONET, a DOCTYPE is
 * refused outright: ISO 20022 never uses one).
 */
#ifndef XB_MESSAGE_H
#define XB_MESSAGE_H

#include <libxml/tree.h>
#include <stddef.h>

#include "iso20022/error.h"
#include "iso20022/registry.h"

/* Bytes that hold any Max35Text / Max105Text value and its NUL. The XSDs count characters, and a
 * character takes up to 4 bytes in UTF-8: a valid 28-character Chinese EndToEndId is 84 bytes,
 * and a 36-byte buffer cut it mid-character (found 2026-11-28). */
#define XB_MAX35_SIZE (35 * 4 + 1)
#define XB_MAX105_SIZE (105 * 4 + 1)

typedef struct xb_parse_limits {
    size_t max_bytes; /* default 4 MiB */
    int max_depth;    /* default 64 */
} xb_parse_limits;

#define XB_PARSE_LIMITS_DEFAULT                                                                    \
    {                                                                                              \
        4u * 1024u * 1024u, 64                                                                     \
    }

typedef struct xb_msg xb_msg;

/* Parses buf and locates AppHdr (optional) and Document by namespace in any wrapper, then
 * identifies the Document's definition. Whitespace-only text between elements (indentation) is
 * not built into the tree: an element with element children has only those (and any comments);
 * leaf text, blank leaves included, is kept exactly. Errors (err->message says which):
 *  XB_ELIMIT   size or depth over the limits;
 *  XB_EINVAL   not well-formed, truncated, NUL bytes, invalid UTF-8, DOCTYPE present,
 *              no ISO Document in the wrapper ("no ISO 20022 Document found in <Envelope>");
 *  XB_EUNSUPPORTED  an ISO 20022 definition we do not support ("unsupported definition
 * pacs.008.001.07"). lim may be NULL for the defaults. */
int xb_msg_parse(xb_msg **out, const char *buf, size_t len, const xb_parse_limits *lim,
                 xb_error *err);
void xb_msg_free(xb_msg *msg);

xmlDocPtr xb_msg_doc(const xb_msg *msg);
xmlNodePtr xb_msg_document(const xb_msg *msg);             /* the ISO <Document> element */
xmlNodePtr xb_msg_body(const xb_msg *msg);                 /* first element child of Document */
xmlNodePtr xb_msg_apphdr(const xb_msg *msg);               /* NULL when the message has no BAH */
const xb_definition *xb_msg_definition(const xb_msg *msg); /* never NULL after success */
const xb_definition *xb_msg_hdr_definition(const xb_msg *msg); /* NULL without BAH */

/* Element path like /Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/Dbtr/Nm (local names, 1-based
 * index only where siblings repeat). Writes into buf; returns buf. */
const char *xb_msg_node_path(const xmlNode *node, char *buf, size_t cap);

/* First child element of parent with the given local name in parent's namespace; NULL if none. */
xmlNodePtr xb_xml_child(const xmlNode *parent, const char *local);
/* Follows a '/'-separated local-name path from parent ("GrpHdr/MsgId"); NULL if absent. */
xmlNodePtr xb_xml_find(const xmlNode *parent, const char *path);
/* Text content of a leaf element without allocation when possible; NULL if none. */
const char *xb_xml_text(const xmlNode *node);

#endif
