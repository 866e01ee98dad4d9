/* pacs002.c — builds and reads pacs.002.001.10 status reports.
 *
 * Owns: the element layout of the reports xborder emits and the extraction of statuses from the
 * ones it receives. Text is written through libxml2 so that escaping is never hand-made.
 * Never: validates (callers use schema.h on the result) or interprets what a status means.
 */
#include "iso20022/pacs002.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PACS002_NS "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"

bool xb_pacs002_is_status(const char *s)
{
    static const char *const ok[] = {"ACSC", "ACCC", "ACSP", "RJCT"};
    for (size_t i = 0; s && i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(s, ok[i]))
            return true;
    return false;
}

/* Adds <local>text</local> under parent when text is non-NULL; returns the new node. */
static xmlNodePtr add(xmlNodePtr parent, const char *local, const char *text)
{
    return xmlNewTextChild(parent, parent->ns, (const xmlChar *)local, (const xmlChar *)text);
}

static void add_opt(xmlNodePtr parent, const char *local, const char *text)
{
    if (text && text[0])
        add(parent, local, text);
}

static void add_agent(xmlNodePtr parent, const char *local, const char *bic)
{
    if (!bic || !bic[0])
        return;
    xmlNodePtr a = add(parent, local, NULL);
    add(add(a, "FinInstnId", NULL), "BICFI", bic);
}

/* Characters in UTF-8 text (bytes that do not continue a sequence): what the XSD's maxLength
 * counts. */
static size_t utf8_chars(const char *v)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static int check_len(const char *v, size_t max, bool required, const char *name, xb_error *err)
{
    if (!v || !v[0])
        return required ? xb_error_set(err, XB_EINVAL, name, "pacs.002: %s is required", name) : 0;
    if (utf8_chars(v) > max)
        return xb_error_set(err, XB_EINVAL, name, "pacs.002: %s is longer than %zu characters",
                            name, max);
    return 0;
}

static int check_tx(const xb_pacs002_tx_status *t, xb_error *err)
{
    int rc;
    if (!xb_pacs002_is_status(t->status))
        return xb_error_set(err, XB_EINVAL, "TxSts",
                            "pacs.002: status '%s' is not ACSC, ACCC, ACSP or RJCT",
                            t->status ? t->status : "");
    if (!strcmp(t->status, "RJCT") && (!t->reason_code || !t->reason_code[0]))
        return xb_error_set(err, XB_EINVAL, "StsRsnInf/Rsn/Cd",
                            "pacs.002: a rejection needs a reason code");
    if ((rc = check_len(t->orgnl_instr_id, 35, false, "OrgnlInstrId", err)) < 0 ||
        (rc = check_len(t->orgnl_end_to_end_id, 35, false, "OrgnlEndToEndId", err)) < 0 ||
        (rc = check_len(t->orgnl_tx_id, 35, false, "OrgnlTxId", err)) < 0 ||
        (rc = check_len(t->orgnl_uetr, 36, false, "OrgnlUETR", err)) < 0 ||
        (rc = check_len(t->reason_code, 4, false, "StsRsnInf/Rsn/Cd", err)) < 0 ||
        (rc = check_len(t->reason_info, 105, false, "StsRsnInf/AddtlInf", err)) < 0)
        return rc;
    return 0;
}

static void add_tx(xmlNodePtr rpt, const xb_pacs002_report *r, const xb_pacs002_tx_status *t)
{
    xmlNodePtr tx = add(rpt, "TxInfAndSts", NULL);
    xmlNodePtr og = add(tx, "OrgnlGrpInf", NULL);
    add(og, "OrgnlMsgId", r->orgnl_msg_id);
    add(og, "OrgnlMsgNmId", r->orgnl_msg_nm_id);
    add_opt(og, "OrgnlCreDtTm", r->orgnl_cre_dt_tm);
    add_opt(tx, "OrgnlInstrId", t->orgnl_instr_id);
    add_opt(tx, "OrgnlEndToEndId", t->orgnl_end_to_end_id);
    add_opt(tx, "OrgnlTxId", t->orgnl_tx_id);
    add_opt(tx, "OrgnlUETR", t->orgnl_uetr);
    add(tx, "TxSts", t->status);
    if ((t->reason_code && t->reason_code[0]) || (t->reason_info && t->reason_info[0])) {
        xmlNodePtr sri = add(tx, "StsRsnInf", NULL);
        if (t->reason_code && t->reason_code[0])
            add(add(sri, "Rsn", NULL), "Cd", t->reason_code);
        add_opt(sri, "AddtlInf", t->reason_info);
    }
    if (t->orgnl_amount || (t->orgnl_sttlm_date && t->orgnl_sttlm_date[0])) {
        xmlNodePtr ref = add(tx, "OrgnlTxRef", NULL);
        if (t->orgnl_amount) {
            char buf[64];
            xb_amount_format(buf, sizeof buf, t->orgnl_amount);
            xmlNodePtr a = add(ref, "IntrBkSttlmAmt", buf);
            xmlSetProp(a, (const xmlChar *)"Ccy", (const xmlChar *)t->orgnl_amount->ccy);
        }
        add_opt(ref, "IntrBkSttlmDt", t->orgnl_sttlm_date);
    }
}

static void now_iso(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int xb_pacs002_build(xb_buf *out, const xb_pacs002_report *r, xb_error *err)
{
    int rc;
    if ((rc = check_len(r->msg_id, 35, true, "GrpHdr/MsgId", err)) < 0 ||
        (rc = check_len(r->orgnl_msg_id, 35, true, "OrgnlGrpInf/OrgnlMsgId", err)) < 0 ||
        (rc = check_len(r->orgnl_msg_nm_id, 35, true, "OrgnlGrpInf/OrgnlMsgNmId", err)) < 0)
        return rc;
    if (!r->n_tx || !r->tx)
        return xb_error_set(err, XB_EINVAL, "TxInfAndSts", "pacs.002: no transaction status");
    for (size_t i = 0; i < r->n_tx; i++)
        if ((rc = check_tx(&r->tx[i], err)) < 0)
            return rc;

    char now[32];
    now_iso(now);
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = xmlNewDocNode(doc, NULL, (const xmlChar *)"Document", NULL);
    xmlDocSetRootElement(doc, root);
    xmlSetNs(root, xmlNewNs(root, (const xmlChar *)PACS002_NS, NULL));
    xmlNodePtr rpt = add(root, "FIToFIPmtStsRpt", NULL);
    xmlNodePtr grp = add(rpt, "GrpHdr", NULL);
    add(grp, "MsgId", r->msg_id);
    add(grp, "CreDtTm", r->cre_dt_tm ? r->cre_dt_tm : now);
    add_agent(grp, "InstgAgt", r->instg_agt_bic);
    add_agent(grp, "InstdAgt", r->instd_agt_bic);
    for (size_t i = 0; i < r->n_tx; i++)
        add_tx(rpt, r, &r->tx[i]);

    xmlChar *mem = NULL;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
    xmlFreeDoc(doc);
    if (!mem)
        return xb_error_set(err, XB_ENOMEM, NULL, "pacs.002: serialisation failed");
    rc = xb_buf_append(out, mem, (size_t)len);
    xmlFree(mem);
    return rc < 0 ? xb_error_set(err, XB_ENOMEM, NULL, "pacs.002: out of memory") : 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

static void copy_text(char *dst, size_t cap, const xmlNode *n)
{
    const char *t = n ? xb_xml_text(n) : NULL;
    snprintf(dst, cap, "%s", t ? t : "");
}

static void read_reason(xb_pacs002_status *s, const xmlNode *parent)
{
    const xmlNode *sri = xb_xml_child(parent, "StsRsnInf");
    if (!sri)
        return;
    const xmlNode *rsn = xb_xml_child(sri, "Rsn");
    const xmlNode *cd = rsn ? xb_xml_child(rsn, "Cd") : NULL;
    copy_text(s->reason_code, sizeof s->reason_code,
              cd ? cd : (rsn ? xb_xml_child(rsn, "Prtry") : NULL));
    copy_text(s->reason_info, sizeof s->reason_info, xb_xml_child(sri, "AddtlInf"));
}

static void read_tx(xb_pacs002_status *s, const xmlNode *tx)
{
    const xmlNode *og = xb_xml_child(tx, "OrgnlGrpInf");
    copy_text(s->orgnl_msg_id, sizeof s->orgnl_msg_id, og ? xb_xml_child(og, "OrgnlMsgId") : NULL);
    copy_text(s->orgnl_msg_nm_id, sizeof s->orgnl_msg_nm_id,
              og ? xb_xml_child(og, "OrgnlMsgNmId") : NULL);
    copy_text(s->orgnl_end_to_end_id, sizeof s->orgnl_end_to_end_id,
              xb_xml_child(tx, "OrgnlEndToEndId"));
    copy_text(s->orgnl_tx_id, sizeof s->orgnl_tx_id, xb_xml_child(tx, "OrgnlTxId"));
    copy_text(s->orgnl_uetr, sizeof s->orgnl_uetr, xb_xml_child(tx, "OrgnlUETR"));
    copy_text(s->status, sizeof s->status, xb_xml_child(tx, "TxSts"));
    const xmlNode *ref = xb_xml_child(tx, "OrgnlTxRef");
    copy_text(s->orgnl_sttlm_date, sizeof s->orgnl_sttlm_date,
              ref ? xb_xml_child(ref, "IntrBkSttlmDt") : NULL);
    read_reason(s, tx);
}

static void read_group(xb_pacs002_status *s, const xmlNode *g)
{
    copy_text(s->orgnl_msg_id, sizeof s->orgnl_msg_id, xb_xml_child(g, "OrgnlMsgId"));
    copy_text(s->orgnl_msg_nm_id, sizeof s->orgnl_msg_nm_id, xb_xml_child(g, "OrgnlMsgNmId"));
    copy_text(s->status, sizeof s->status, xb_xml_child(g, "GrpSts"));
    read_reason(s, g);
    s->group_level = true;
}

int xb_pacs002_read(xb_pacs002_status **out, size_t *n, const xb_msg *msg, xb_error *err)
{
    *out = NULL;
    *n = 0;
    if (xb_msg_definition(msg)->kind != XB_KIND_PACS002)
        return xb_error_set(err, XB_EINVAL, NULL, "not a pacs.002 status report (%s)",
                            xb_msg_definition(msg)->id);
    const xmlNode *rpt = xb_msg_body(msg);
    size_t cap = 0;
    for (const xmlNode *c = rpt->children; c; c = c->next)
        cap += c->type == XML_ELEMENT_NODE;
    xb_pacs002_status *rows = calloc(cap ? cap : 1, sizeof *rows);
    if (!rows)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory reading pacs.002");
    size_t k = 0;
    for (const xmlNode *c = rpt->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!strcmp((const char *)c->name, "TxInfAndSts"))
            read_tx(&rows[k++], c);
        else if (!strcmp((const char *)c->name, "OrgnlGrpInfAndSts") && xb_xml_child(c, "GrpSts"))
            read_group(&rows[k++], c);
    }
    *out = rows;
    *n = k;
    return 0;
}
