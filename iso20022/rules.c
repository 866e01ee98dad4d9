/* rules.c — ISO 20022 business rules the XSDs cannot express.
 *
 * Owns: the checks, in this order: BAH MsgDefIdr == Document definition; every Ccy attribute is an
 * active ISO 4217 code (CNH refused with a hint), no commodity currency (XAU XAG XPD XPT) in
 * payments (CBPR+ R41), payment amounts carry at most the currency's minor units of significant
 * fraction digits; every UETR/OrgnlUETR is a lowercase UUID v4; group-header totals (pacs.008/009
 * NbOfTxs and TtlIntrBkSttlmAmt, pain.001 NbOfTxs/CtrlSum at group and PmtInf level).
 * Fund messages (reda, semt) quote prices and NAVs with more decimals than the currency's minor
 * units, so the minor-units rule applies to payments (pacs, pain, camt) only.
 * Never: validates structure (schema.c does), decides policy, or allocates per element.
 */
#include "iso20022/rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso20022/amount.h"

static int is_payment(xb_msg_kind kind)
{
    switch (kind) {
    case XB_KIND_PACS008:
    case XB_KIND_PACS009:
    case XB_KIND_PACS002:
    case XB_KIND_PAIN001:
    case XB_KIND_CAMT053:
    case XB_KIND_CAMT054:
        return 1;
    default:
        return 0;
    }
}

static const char *path_of(const xmlNode *n, char *buf, size_t cap)
{
    return xb_msg_node_path(n, buf, cap);
}

/* Text of a leaf with XSD whitespace collapse at the ends; copies into buf. */
static const char *trimmed_text(const xmlNode *n, char *buf, size_t cap)
{
    const char *t = xb_xml_text(n);
    if (!t)
        return NULL;
    while (*t && isspace((unsigned char)*t))
        t++;
    size_t len = strlen(t);
    while (len > 0 && isspace((unsigned char)t[len - 1]))
        len--;
    if (len >= cap)
        return NULL;
    memcpy(buf, t, len);
    buf[len] = '\0';
    return buf;
}

int xb_rules_is_uetr(const char *s)
{
    /* [a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12} */
    static const char shape[] = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    if (!s || strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        switch (shape[i]) {
        case '-':
        case '4':
            if (c != shape[i])
                return 0;
            break;
        case 'y':
            if (c != '8' && c != '9' && c != 'a' && c != 'b')
                return 0;
            break;
        default:
            if (!hex)
                return 0;
        }
    }
    return 1;
}

/* ---- BAH ---- */

static int check_bah(const xb_msg *msg, xb_error *err)
{
    xmlNodePtr hdr = xb_msg_apphdr(msg);
    if (!hdr)
        return 0;
    char buf[64], path[512];
    xmlNodePtr idr = xb_xml_child(hdr, "MsgDefIdr");
    const char *id = trimmed_text(idr, buf, sizeof buf);
    const char *want = xb_msg_definition(msg)->id;
    if (id && !strcmp(id, want))
        return 0;
    return xb_error_set(err, XB_ERULE, path_of(idr ? idr : hdr, path, sizeof path),
                        "BAH MsgDefIdr '%s' does not match the Document's definition %s",
                        id ? id : "", want);
}

/* ---- currencies and amounts ---- */

static int check_currency_code(const char *code, const xmlNode *at, int payment, xb_error *err)
{
    char path[512];
    if (!strcmp(code, "CNH"))
        return xb_error_set(err, XB_ERULE, path_of(at, path, sizeof path),
                            "CNH is not ISO 4217: use CNY");
    const xb_currency *cur = xb_currency_find(code);
    if (!cur)
        return xb_error_set(err, XB_ERULE, path_of(at, path, sizeof path),
                            "currency '%.8s' is not an active ISO 4217 code", code);
    if (payment && cur->commodity)
        return xb_error_set(err, XB_ERULE, path_of(at, path, sizeof path),
                            "commodity currency %s is not allowed in payments (CBPR+ R41)", code);
    return 0;
}

static int check_amount(const xmlNode *el, const char *code, int payment, xb_error *err)
{
    char path[512], text[64];
    int rc = check_currency_code(code, el, payment, err);
    if (rc || !payment)
        return rc;
    const xb_currency *cur = xb_currency_find(code);
    xb_dec value;
    if (!trimmed_text(el, text, sizeof text) || xb_dec_parse_cstr(&value, text, NULL))
        return xb_error_set(err, XB_ERULE, path_of(el, path, sizeof path),
                            "amount in %s is not a decimal number", code);
    int digits = xb_dec_fraction_digits(&value);
    if (cur->minor_units >= 0 && digits > cur->minor_units)
        return xb_error_set(err, XB_ERULE, path_of(el, path, sizeof path),
                            "%s %s has %d decimal%s: %s allows %d", code, text, digits,
                            digits == 1 ? "" : "s", code, cur->minor_units);
    return 0;
}

/* An element whose local name ends in "Ccy" (Ccy, SrcCcy, TrgtCcy, UnitCcy, DnmtnCcy ...) and whose
 * whole text is a three-letter code names a currency: it must be ISO 4217 too, or a CNH account
 * currency would slip past the attribute check. Complex *Ccy elements (ValInInvstmtCcy) have
 * element children and are skipped. */
static int check_currency_element(const xmlNode *n, int payment, xb_error *err)
{
    size_t len = strlen((const char *)n->name);
    if (len < 3 || strcmp((const char *)n->name + len - 3, "Ccy"))
        return 0;
    const xmlNode *text = n->children;
    if (!text || text->type != XML_TEXT_NODE || text->next || !text->content)
        return 0;
    const char *code = (const char *)text->content;
    if (strlen(code) != 3)
        return 0;
    return check_currency_code(code, n, payment, err);
}

/* Walks the Document (iterative pre-order) and checks every Ccy attribute, every currency-code
 * element and every UETR. */
static int check_elements(const xb_msg *msg, xb_error *err)
{
    int payment = is_payment(xb_msg_definition(msg)->kind);
    xmlNodePtr root = xb_msg_document(msg);
    char path[512], buf[64];
    for (xmlNodePtr n = root; n;) {
        if (n->type == XML_ELEMENT_NODE) {
            xmlAttrPtr ccy = xmlHasProp(n, (const xmlChar *)"Ccy");
            if (ccy && ccy->children && ccy->children->content) {
                int rc = check_amount(n, (const char *)ccy->children->content, payment, err);
                if (rc)
                    return rc;
            }
            int rc = check_currency_element(n, payment, err);
            if (rc)
                return rc;
            if (!strcmp((const char *)n->name, "UETR") ||
                !strcmp((const char *)n->name, "OrgnlUETR")) {
                const char *u = trimmed_text(n, buf, sizeof buf);
                if (!u || !xb_rules_is_uetr(u))
                    return xb_error_set(err, XB_ERULE, path_of(n, path, sizeof path),
                                        "UETR '%.40s' is not a lowercase UUID v4", u ? u : "");
            }
            if (n->children) {
                n = n->children;
                continue;
            }
        }
        while (n && n != root && !n->next)
            n = n->parent;
        if (!n || n == root)
            break;
        n = n->next;
    }
    return 0;
}

/* ---- group totals ---- */

static int check_count(const xmlNode *nb_node, long long actual, const char *what, xb_error *err)
{
    char buf[32], path[512];
    if (!nb_node)
        return 0;
    const char *t = trimmed_text(nb_node, buf, sizeof buf);
    char *end = NULL;
    long long declared = t ? strtoll(t, &end, 10) : -1;
    if (!t || !end || *end || declared != actual)
        return xb_error_set(err, XB_ERULE, path_of(nb_node, path, sizeof path),
                            "NbOfTxs says %s but the message has %lld %s", t ? t : "?", actual,
                            what);
    return 0;
}

static int parse_leaf_dec(xb_dec *out, const xmlNode *n)
{
    char buf[64];
    const char *t = trimmed_text(n, buf, sizeof buf);
    return t ? xb_dec_parse_cstr(out, t, NULL) : XB_EINVAL;
}

/* Sums the amount at `amt_path` under every `tx_name` child of parent. Sets *ccy_mismatch when
 * a currency differs from want_ccy (NULL = do not compare). */
static int sum_amounts(xb_dec *sum, long long *count, const xmlNode *parent, const char *tx_name,
                       const char *amt_path, const char *want_ccy, const xmlNode **bad,
                       xb_error *err)
{
    char path[512];
    xb_dec_from_int(sum, 0);
    *count = 0;
    *bad = NULL;
    for (xmlNodePtr tx = parent->children; tx; tx = tx->next) {
        if (tx->type != XML_ELEMENT_NODE || strcmp((const char *)tx->name, tx_name))
            continue;
        ++*count;
        xmlNodePtr amt = xb_xml_find(tx, amt_path);
        if (!amt)
            continue;
        if (want_ccy) {
            xmlChar *c = xmlGetProp(amt, (const xmlChar *)"Ccy");
            int same = c && !strcmp((const char *)c, want_ccy);
            xmlFree(c);
            if (!same) {
                *bad = amt;
                return 0;
            }
        }
        xb_dec v;
        if (parse_leaf_dec(&v, amt) || xb_dec_add(sum, sum, &v))
            return xb_error_set(err, XB_ERULE, path_of(amt, path, sizeof path),
                                "amount cannot be added up exactly");
    }
    return 0;
}

static int check_pacs_totals(const xmlNode *body, xb_error *err)
{
    char path[512], a[64], b[64];
    xmlNodePtr grp = xb_xml_child(body, "GrpHdr");
    if (!grp)
        return 0;
    xmlNodePtr total = xb_xml_child(grp, "TtlIntrBkSttlmAmt");
    xmlChar *ccy = total ? xmlGetProp(total, (const xmlChar *)"Ccy") : NULL;
    xb_dec sum;
    long long n = 0;
    const xmlNode *bad = NULL;
    int rc =
        sum_amounts(&sum, &n, body, "CdtTrfTxInf", "IntrBkSttlmAmt", (const char *)ccy, &bad, err);
    if (!rc)
        rc = check_count(xb_xml_child(grp, "NbOfTxs"), n, "CdtTrfTxInf", err);
    if (!rc && bad)
        rc = xb_error_set(err, XB_ERULE, path_of(bad, path, sizeof path),
                          "IntrBkSttlmAmt currency differs from TtlIntrBkSttlmAmt (%s)",
                          (const char *)ccy);
    xb_dec declared;
    if (!rc && total && (parse_leaf_dec(&declared, total) || xb_dec_cmp(&declared, &sum))) {
        xb_dec_format(b, sizeof b, &sum);
        rc = xb_error_set(err, XB_ERULE, path_of(total, path, sizeof path),
                          "TtlIntrBkSttlmAmt %s %s is not the sum of IntrBkSttlmAmt (%s)",
                          trimmed_text(total, a, sizeof a) ? a : "?", (const char *)ccy, b);
    }
    xmlFree(ccy);
    return rc;
}

/* pain.001 amounts: Amt/InstdAmt, or Amt/EqvtAmt/Amt. CtrlSum adds them regardless of currency. */
static const char *pain_amount_path(const xmlNode *tx)
{
    return xb_xml_find(tx, "Amt/InstdAmt") ? "Amt/InstdAmt" : "Amt/EqvtAmt/Amt";
}

static int check_ctrl_sum(const xmlNode *ctrl, const xb_dec *sum, xb_error *err)
{
    char path[512], a[64], b[64];
    xb_dec declared;
    if (!ctrl)
        return 0;
    if (parse_leaf_dec(&declared, ctrl) || xb_dec_cmp(&declared, sum)) {
        xb_dec_format(b, sizeof b, sum);
        return xb_error_set(err, XB_ERULE, path_of(ctrl, path, sizeof path),
                            "CtrlSum %s is not the sum of the instructed amounts (%s)",
                            trimmed_text(ctrl, a, sizeof a) ? a : "?", b);
    }
    return 0;
}

static int check_pain_totals(const xmlNode *body, xb_error *err)
{
    char path[512];
    xb_dec all;
    xb_dec_from_int(&all, 0);
    long long all_n = 0;
    for (xmlNodePtr pmt = body->children; pmt; pmt = pmt->next) {
        if (pmt->type != XML_ELEMENT_NODE || strcmp((const char *)pmt->name, "PmtInf"))
            continue;
        xb_dec sum;
        xb_dec_from_int(&sum, 0);
        long long n = 0;
        for (xmlNodePtr tx = pmt->children; tx; tx = tx->next) {
            if (tx->type != XML_ELEMENT_NODE || strcmp((const char *)tx->name, "CdtTrfTxInf"))
                continue;
            n++;
            xmlNodePtr amt = xb_xml_find(tx, pain_amount_path(tx));
            xb_dec v;
            if (amt && (parse_leaf_dec(&v, amt) || xb_dec_add(&sum, &sum, &v)))
                return xb_error_set(err, XB_ERULE, path_of(amt, path, sizeof path),
                                    "amount cannot be added up exactly");
        }
        int rc = check_count(xb_xml_child(pmt, "NbOfTxs"), n, "CdtTrfTxInf in this PmtInf", err);
        if (!rc)
            rc = check_ctrl_sum(xb_xml_child(pmt, "CtrlSum"), &sum, err);
        if (!rc && xb_dec_add(&all, &all, &sum))
            rc = xb_error_set(err, XB_ERULE, NULL, "CtrlSum overflow");
        if (rc)
            return rc;
        all_n += n;
    }
    xmlNodePtr grp = xb_xml_child(body, "GrpHdr");
    if (!grp)
        return 0;
    int rc = check_count(xb_xml_child(grp, "NbOfTxs"), all_n, "CdtTrfTxInf", err);
    return rc ? rc : check_ctrl_sum(xb_xml_child(grp, "CtrlSum"), &all, err);
}

static int check_totals(const xb_msg *msg, xb_error *err)
{
    switch (xb_msg_definition(msg)->kind) {
    case XB_KIND_PACS008:
    case XB_KIND_PACS009:
        return check_pacs_totals(xb_msg_body(msg), err);
    case XB_KIND_PAIN001:
        return check_pain_totals(xb_msg_body(msg), err);
    default:
        return 0;
    }
}

int xb_rules_check(const xb_msg *msg, xb_error *err)
{
    if (!msg)
        return xb_error_set(err, XB_EINVAL, NULL, "no message");
    int rc = check_bah(msg, err);
    if (!rc)
        rc = check_elements(msg, err);
    if (!rc)
        rc = check_totals(msg, err);
    return rc;
}
