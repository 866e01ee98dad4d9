/* schema.h — XSD validation with each official schema compiled once per process.
 *
 * Owns: the compiled-schema cache (thread-safe: compiled once under a lock, validation contexts
 * per thread) and the schema directory (XB_SCHEMA_DIR env var, else the build-time default).
 * Never: fetches anything over the network (schemas are read from the local directory only).
 */
#ifndef XB_SCHEMA_H
#define XB_SCHEMA_H

#include <libxml/tree.h>

#include "iso20022/error.h"
#include "iso20022/message.h"
#include "iso20022/registry.h"

/* Validates the AppHdr (if any) and the Document separately against their XSDs.
 * XB_ESCHEMA with err->path = path of the first offending element and err->message = the
 * libxml2 message. */
int xb_schema_validate_msg(const xb_msg *msg, xb_error *err);

/* Validates one element subtree (a Document or AppHdr) against def's XSD. */
int xb_schema_validate_node(const xb_definition *def, xmlNodePtr node, xb_error *err);

/* Directory the XSDs are read from. */
const char *xb_schema_dir(void);

/* Frees all compiled schemas (for leak-clean shutdown). */
void xb_schema_cleanup(void);

#endif
