/* registry.h — the ISO 20022 message definitions xborder supports.
 *
 * Owns: the static table namespace -> definition id, kind, XSD file, root element.
 * Never: parses or validates anything.
 */
#ifndef XB_REGISTRY_H
#define XB_REGISTRY_H

#include "iso20022/error.h"

typedef enum xb_msg_kind {
    XB_KIND_UNKNOWN = 0,
    XB_KIND_PACS008, /* FIToFICstmrCdtTrf */
    XB_KIND_PACS009, /* FICdtTrf (incl. cover) */
    XB_KIND_PACS002, /* FIToFIPmtStsRpt */
    XB_KIND_PAIN001, /* CstmrCdtTrfInitn */
    XB_KIND_CAMT053, /* BkToCstmrStmt */
    XB_KIND_CAMT054, /* BkToCstmrDbtCdtNtfctn */
    XB_KIND_HEAD001, /* AppHdr */
    XB_KIND_REDA001, /* PricRpt */
    XB_KIND_SEMT003, /* SctiesBalAcctgRpt (v11, v12) / AcctgStmtOfHldgs (v04) */
} xb_msg_kind;

typedef struct xb_definition {
    const char *id; /* "pacs.008.001.08" */
    const char *ns; /* target namespace URI */
    xb_msg_kind kind;
    const char *xsd;       /* file name relative to the schema directory */
    const char *body_root; /* first child of Document ("FIToFICstmrCdtTrf"); NULL for AppHdr */
} xb_definition;

/* Exact namespace lookup; NULL when not supported. */
const xb_definition *xb_registry_by_ns(const char *ns);
/* By id ("pacs.008.001.08"); reda.001.001.04 returns the urn:iso variant first. */
const xb_definition *xb_registry_by_id(const char *id);

/* Identifies the namespace of an ISO Document or AppHdr. Returns 0 with *out set; XB_EUNSUPPORTED
 * with message "unsupported definition pacs.008.001.07" for a recognised ISO 20022 namespace of a
 * version/message we do not support; XB_EINVAL when the namespace is not ISO 20022 at all. */
int xb_registry_identify(const xb_definition **out, const char *ns, xb_error *err);

/* True for urn:iso:std:iso:20022:tech:xsd:* and urn:swift:xsd:* namespaces. */
int xb_registry_is_iso_ns(const char *ns);

/* Short name without the version: "pacs.008" for "pacs.008.001.08". Writes into buf (>= 9). */
const char *xb_registry_short_name(const xb_definition *def, char *buf, unsigned cap);

/* All supported definitions, for listings and schema preloading. */
const xb_definition *xb_registry_all(unsigned *count);

#endif
