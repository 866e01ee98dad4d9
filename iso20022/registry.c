/* registry.c — the static table of ISO 20022 definitions xborder supports.
 *
 * Owns: namespace -> definition lookup and the "unsupported definition X" verdict for ISO
 * namespaces we do not handle.
 * Never: parses XML, opens files or allocates.
 */
#include "iso20022/registry.h"

#include <stdio.h>
#include <string.h>

#define ISO_NS "urn:iso:std:iso:20022:tech:xsd:"
#define SWIFT_NS "urn:swift:xsd:"

/* reda.001.001.04 exists in two namespaces; the urn:iso one is listed first so that
 * xb_registry_by_id() finds it first (it is the one the 2026 schema set uses). */
static const xb_definition defs[] = {
    {"pacs.008.001.08", ISO_NS "pacs.008.001.08", XB_KIND_PACS008, "pacs.008.001.08.xsd",
     "FIToFICstmrCdtTrf"},
    {"pacs.009.001.08", ISO_NS "pacs.009.001.08", XB_KIND_PACS009, "pacs.009.001.08.xsd",
     "FICdtTrf"},
    {"pacs.002.001.10", ISO_NS "pacs.002.001.10", XB_KIND_PACS002, "pacs.002.001.10.xsd",
     "FIToFIPmtStsRpt"},
    {"pain.001.001.09", ISO_NS "pain.001.001.09", XB_KIND_PAIN001, "pain.001.001.09.xsd",
     "CstmrCdtTrfInitn"},
    {"camt.053.001.08", ISO_NS "camt.053.001.08", XB_KIND_CAMT053, "camt.053.001.08.xsd",
     "BkToCstmrStmt"},
    {"camt.054.001.08", ISO_NS "camt.054.001.08", XB_KIND_CAMT054, "camt.054.001.08.xsd",
     "BkToCstmrDbtCdtNtfctn"},
    {"head.001.001.02", ISO_NS "head.001.001.02", XB_KIND_HEAD001, "head.001.001.02.xsd", NULL},
    {"reda.001.001.04", ISO_NS "reda.001.001.04", XB_KIND_REDA001,
     "variants/iso-namespace/reda.001.001.04.xsd", "PricRpt"},
    {"reda.001.001.04", SWIFT_NS "reda.001.001.04", XB_KIND_REDA001, "reda.001.001.04.xsd",
     "PricRpt"},
    {"semt.003.001.04", ISO_NS "semt.003.001.04", XB_KIND_SEMT003, "semt.003.001.04.xsd",
     "SctiesBalAcctgRpt"},
    {"semt.003.001.11", ISO_NS "semt.003.001.11", XB_KIND_SEMT003, "semt.003.001.11.xsd",
     "SctiesBalAcctgRpt"},
    {"semt.003.001.12", ISO_NS "semt.003.001.12", XB_KIND_SEMT003, "semt.003.001.12.xsd",
     "SctiesBalAcctgRpt"},
};

#define N_DEFS (sizeof defs / sizeof defs[0])

const xb_definition *xb_registry_all(unsigned *count)
{
    if (count)
        *count = (unsigned)N_DEFS;
    return defs;
}

const xb_definition *xb_registry_by_ns(const char *ns)
{
    if (!ns)
        return NULL;
    for (size_t i = 0; i < N_DEFS; i++)
        if (!strcmp(defs[i].ns, ns))
            return &defs[i];
    return NULL;
}

const xb_definition *xb_registry_by_id(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < N_DEFS; i++)
        if (!strcmp(defs[i].id, id))
            return &defs[i];
    return NULL;
}

/* The part of an ISO namespace after its fixed prefix ("pacs.008.001.07"), or NULL. */
static const char *iso_ns_suffix(const char *ns)
{
    if (!ns)
        return NULL;
    if (!strncmp(ns, ISO_NS, sizeof ISO_NS - 1))
        return ns + sizeof ISO_NS - 1;
    if (!strncmp(ns, SWIFT_NS, sizeof SWIFT_NS - 1))
        return ns + sizeof SWIFT_NS - 1;
    return NULL;
}

int xb_registry_is_iso_ns(const char *ns)
{
    const char *suffix = iso_ns_suffix(ns);
    return suffix && *suffix;
}

int xb_registry_identify(const xb_definition **out, const char *ns, xb_error *err)
{
    *out = NULL;
    const xb_definition *def = xb_registry_by_ns(ns);
    if (def) {
        *out = def;
        return 0;
    }
    if (xb_registry_is_iso_ns(ns)) {
        /* Cap the echoed id: the namespace comes from untrusted input. */
        return xb_error_set(err, XB_EUNSUPPORTED, NULL, "unsupported definition %.64s",
                            iso_ns_suffix(ns));
    }
    return xb_error_set(err, XB_EINVAL, NULL, "namespace '%.200s' is not an ISO 20022 namespace",
                        ns ? ns : "");
}

const char *xb_registry_short_name(const xb_definition *def, char *buf, unsigned cap)
{
    if (!buf || cap == 0)
        return buf;
    if (!def) {
        buf[0] = '\0';
        return buf;
    }
    /* "pacs.008.001.08" -> "pacs.008": the first two dot-separated fields. */
    const char *first_dot = strchr(def->id, '.');
    const char *second_dot = first_dot ? strchr(first_dot + 1, '.') : NULL;
    size_t n = second_dot ? (size_t)(second_dot - def->id) : strlen(def->id);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, def->id, n);
    buf[n] = '\0';
    return buf;
}
