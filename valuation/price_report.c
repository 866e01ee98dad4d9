/* price_report.c — reda.001.001.04 PriceReport writer (libxml2 tree), XSD-checked.
 * Owns the document it builds; never computes figures or returns an invalid report. */
#include "valuation/price_report.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iso20022/registry.h"
#include "iso20022/schema.h"

#define NS_ISO "urn:iso:std:iso:20022:tech:xsd:reda.001.001.04"
#define NS_SWIFT "urn:swift:xsd:reda.001.001.04"

const char *xb_price_report_id(char *buf, size_t cap, const char *fund_id, const char *date)
{
    char ymd[9] = "";
    for (int i = 0, j = 0; date && date[i] && j < 8; i++)
        if (date[i] != '-')
            ymd[j++] = date[i];
    snprintf(buf, cap, "%.26s-%s", fund_id, ymd);
    return buf;
}

static void now_iso(char *buf, size_t cap, char *hms, size_t hcap)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char off[8];
    strftime(off, sizeof off, "%z", &tm); /* +0800 -> +08:00 as xs:dateTime wants */
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%.3s:%.2s", off, off + 3);
    strftime(hms, hcap, "%H%M%S", &tm);
}

static xmlNodePtr add(xmlNodePtr parent, const char *name, const char *text)
{
    /* xmlNewTextChild escapes the text (xmlNewChild would not). */
    return xmlNewTextChild(parent, parent->ns, (const xmlChar *)name, (const xmlChar *)text);
}

static void add_amount(xmlNodePtr parent, const char *name, const xb_dec *v, const char *ccy)
{
    char num[64];
    xb_dec_format(num, sizeof num, v);
    xmlNodePtr n = add(parent, name, num);
    xmlNewProp(n, (const xmlChar *)"Ccy", (const xmlChar *)ccy);
}

static void add_date(xmlNodePtr parent, const char *name, const char *date)
{
    add(add(parent, name, NULL), "Dt", date);
}

static void add_fin_instrm(xmlNodePtr pvd, const xb_fund_class *k)
{
    xmlNodePtr fi = add(pvd, "FinInstrmDtls", NULL);
    add(add(fi, "Id", NULL), "ISIN", k->isin);
    if (k->name[0])
        add(fi, "Nm", k->name);
    add(fi, "DnmtnCcy", k->ccy);
    if (k->distribution[0])
        add(fi, "DstrbtnPlcy", k->distribution);
    add(fi, "DualFndInd", "false"); /* single-priced classes: one NAVL price */
}

static void add_price(xmlNodePtr pvd, const xb_nav_result *r, const xb_nav_class *c,
                      const xb_fund_class *k)
{
    xmlNodePtr pd = add(pvd, "PricDtls", NULL);
    add(pd, "Tp", "NAVL");
    add_amount(add(pd, "ValInInvstmtCcy", NULL), "Amt", &c->nav, c->ccy);
    if (strcmp(c->ccy, "CNY"))
        add_amount(add(pd, "ValInAltrntvCcy", NULL), "Amt", &c->nav_cny, "CNY");
    add(pd, "ForExctnInd", r->estimated ? "false" : "true");
    add(pd, "CumDvddInd", k->cum_dividend ? "true" : "false");
    add(pd, "EstmtdPricInd", r->estimated ? "true" : "false");
}

static void add_class(xmlNodePtr rpt, const xb_nav_result *r, const xb_nav_class *c,
                      const xb_fund_class *k)
{
    xmlNodePtr pvd = add(rpt, "PricValtnDtls", NULL);
    add(pvd, "Id", k->id);
    add_date(pvd, "ValtnDtTm", r->date);
    add_date(pvd, "NAVDtTm", r->date);
    add_fin_instrm(pvd, k);
    if (!r->suspended) {
        add_amount(pvd, "TtlNAV", &c->ttl_nav, c->ccy);
        if (strcmp(c->ccy, "CNY"))
            add_amount(pvd, "TtlNAV", &c->ttl_nav_cny, "CNY");
        char units[64];
        xb_dec u;
        xb_dec_normalize(&u, &c->units);
        xb_dec_format(units, sizeof units, &u);
        add(add(pvd, "TtlUnitsNb", NULL), "Unit", units);
    }
    add(pvd, "ValtnTp", "USUA");
    add(pvd, "OffclValtnInd", r->official ? "true" : "false");
    add(pvd, "SspdInd", r->suspended ? "true" : "false");
    if (!r->suspended)
        add_price(pvd, r, c, k);
}

static int build(xmlDocPtr doc, const xb_nav_result *r, const xb_fund *f, const xb_report_opts *o,
                 xb_error *err)
{
    const char *fctn = o->function ? o->function : "NEWP";
    if (strcmp(fctn, "NEWP") && strcmp(fctn, "REPL"))
        return xb_error_set(err, XB_EINVAL, NULL, "report function must be NEWP or REPL, not %s",
                            fctn);
    xmlNodePtr root = xmlNewDocNode(doc, NULL, (const xmlChar *)"Document", NULL);
    xmlDocSetRootElement(doc, root);
    xmlNsPtr ns =
        xmlNewNs(root, (const xmlChar *)(o->ns == XB_REDA_NS_SWIFT ? NS_SWIFT : NS_ISO), NULL);
    xmlSetNs(root, ns);
    xmlNodePtr rpt = add(root, "PricRpt", NULL);

    char now[40], hms[8], rpt_id[40], msg_id[40];
    now_iso(now, sizeof now, hms, sizeof hms);
    xb_price_report_id(rpt_id, sizeof rpt_id, f->id, r->date);
    if (o->msg_id) {
        snprintf(msg_id, sizeof msg_id, "%.35s", o->msg_id);
    } else {
        /* <fund>-<yyyymmdd>-<Fctn>-<hhmmss>: a re-run gets a new MsgId, the same PricRptId. */
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.14s-%s-%s-%s", f->id, rpt_id + strlen(rpt_id) - 8, fctn, hms);
        snprintf(msg_id, sizeof msg_id, "%.35s", tmp);
    }
    xmlNodePtr mid = add(rpt, "MsgId", NULL);
    add(mid, "Id", msg_id);
    add(mid, "CreDtTm", o->cre_dt_tm ? o->cre_dt_tm : now);
    xmlNodePtr pg = add(rpt, "MsgPgntn", NULL);
    add(pg, "PgNb", "1");
    add(pg, "LastPgInd", "true");
    add(rpt, "PricRptId", rpt_id);
    add(rpt, "Fctn", fctn);
    for (size_t i = 0; i < r->n_classes; i++)
        add_class(rpt, r, &r->classes[i], &f->classes[i]);
    if (r->flag[0]) {
        xmlNodePtr x = add(rpt, "Xtnsn", NULL);
        add(x, "PlcAndNm", "/Document/PricRpt/PricValtnDtls/OffclValtnInd");
        add(x, "Txt", r->flag);
    }
    return 0;
}

int xb_price_report_write(xb_buf *out, const xb_nav_result *nav, const xb_fund *fund,
                          const xb_report_opts *opts, xb_error *err)
{
    xb_report_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opts)
        opts = &defaults;
    if (nav->n_classes != fund->n_classes)
        return xb_error_set(err, XB_EINVAL, NULL, "NAV result does not match the fund's classes");
    const xb_definition *def = xb_registry_by_ns(opts->ns == XB_REDA_NS_SWIFT ? NS_SWIFT : NS_ISO);
    if (!def)
        return xb_error_set(err, XB_EUNSUPPORTED, NULL, "reda.001.001.04 is not registered");
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    if (!doc)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory building reda.001");
    int rc = build(doc, nav, fund, opts, err);
    if (!rc)
        rc = xb_schema_validate_node(def, xmlDocGetRootElement(doc), err);
    if (!rc) {
        xmlChar *mem = NULL;
        int len = 0;
        xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
        if (!mem)
            rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory serialising reda.001");
        else if (xb_buf_append(out, mem, (size_t)len))
            rc = xb_error_set(err, XB_ENOMEM, NULL, "out of memory serialising reda.001");
        xmlFree(mem);
    }
    xmlFreeDoc(doc);
    return rc;
}
