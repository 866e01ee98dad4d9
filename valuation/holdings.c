/* holdings.c — semt.003 (v04/v11/v12) balances -> xb_holdings.
 * Owns the holdings array; never values a holding or accepts an XSD-invalid statement.
 *
 * The three versions share the paths read here (BalForAcct/FinInstrmId, AggtBal/Qty/Qty/Qty,
 * PricDtls/Val, InstrmCcyAmts, AcctBaseCcyAmts), so one walk serves all of them. */
#include "valuation/holdings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso20022/buf.h"
#include "iso20022/schema.h"

static void copy_text(char *dst, size_t cap, const xmlNode *n)
{
    const char *t = xb_xml_text(n);
    dst[0] = '\0';
    if (t)
        snprintf(dst, cap, "%s", t);
}

static int parse_dec(xb_dec *out, const xmlNode *n, const char *what, const char *path,
                     xb_error *err)
{
    const char *t = xb_xml_text(n);
    xb_error e2;
    xb_error_clear(&e2);
    if (!t || xb_dec_parse_cstr(out, t, &e2))
        return xb_error_set(err, XB_EINVAL, path, "%s: %s '%s' is not a decimal", path, what,
                            t ? t : "");
    return 0;
}

/* Reads an AmountAndDirection6 (Amt Ccy=.. + Sgn) into a signed amount. */
static int parse_signed_amount(xb_amount *out, const xmlNode *aad, const char *path, xb_error *err)
{
    xmlNodePtr amt = xb_xml_child(aad, "Amt");
    xmlNodePtr sgn = xb_xml_child(aad, "Sgn");
    int rc = parse_dec(&out->value, amt, "amount", path, err);
    if (rc)
        return rc;
    xmlChar *ccy = amt ? xmlGetProp(amt, (const xmlChar *)"Ccy") : NULL;
    snprintf(out->ccy, sizeof out->ccy, "%s", ccy ? (const char *)ccy : "");
    xmlFree(ccy);
    const char *s = xb_xml_text(sgn);
    if (s && (!strcmp(s, "false") || !strcmp(s, "0")))
        out->value.coef = -out->value.coef;
    return 0;
}

static int read_instrument(xb_holding *h, xmlNodePtr bal, xb_error *err)
{
    xmlNodePtr id = xb_xml_child(bal, "FinInstrmId");
    copy_text(h->isin, sizeof h->isin, xb_xml_child(id, "ISIN"));
    copy_text(h->desc, sizeof h->desc, xb_xml_child(id, "Desc"));
    if (h->isin[0])
        snprintf(h->instrument, sizeof h->instrument, "%s", h->isin);
    else
        copy_text(h->instrument, sizeof h->instrument, xb_xml_find(id, "OthrId/Id"));
    if (!h->instrument[0])
        return xb_error_set(err, XB_EINVAL, h->path,
                            "%s: holding has neither an ISIN nor an OthrId", h->path);
    return 0;
}

static int read_quantity(xb_holding *h, xmlNodePtr bal, xb_error *err)
{
    xmlNodePtr aggt = xb_xml_child(bal, "AggtBal");
    xmlNodePtr q = xb_xml_find(aggt, "Qty/Qty/Qty");
    static const struct {
        const char *name;
        xb_qty_kind kind;
    } kinds[] = {{"Unit", XB_QTY_UNIT}, {"FaceAmt", XB_QTY_FACE}, {"AmtsdVal", XB_QTY_AMORTISED}};
    xmlNodePtr v = NULL;
    for (size_t i = 0; i < 3 && !v; i++)
        if ((v = xb_xml_child(q, kinds[i].name)))
            h->qty_kind = kinds[i].kind;
    if (!v)
        return xb_error_set(err, XB_EUNSUPPORTED, h->path,
                            "%s: only Unit, FaceAmt or AmtsdVal quantities can be valued", h->path);
    int rc = parse_dec(&h->quantity, v, "quantity", h->path, err);
    if (rc)
        return rc;
    const char *sl = xb_xml_text(xb_xml_child(aggt, "ShrtLngInd"));
    if (sl && !strcmp(sl, "SHOR"))
        h->quantity.coef = -h->quantity.coef;
    return 0;
}

/* The first PricDtls with an amount wins; a rate (percent of face) only when no amount. */
static int read_price(xb_holding *h, xmlNodePtr bal, xb_error *err)
{
    xmlNodePtr rate = NULL;
    for (xmlNodePtr p = bal->children; p; p = p->next) {
        if (p->type != XML_ELEMENT_NODE || strcmp((const char *)p->name, "PricDtls"))
            continue;
        xmlNodePtr val = xb_xml_child(p, "Val");
        xmlNodePtr amt = xb_xml_child(val, "Amt");
        if (amt) {
            int rc = parse_dec(&h->price, amt, "price", h->path, err);
            if (rc)
                return rc;
            xmlChar *ccy = xmlGetProp(amt, (const xmlChar *)"Ccy");
            snprintf(h->price_ccy, sizeof h->price_ccy, "%s", ccy ? (const char *)ccy : "");
            xmlFree(ccy);
            h->price_kind = XB_STMT_PRICE_AMOUNT;
            return 0;
        }
        if (!rate)
            rate = xb_xml_child(val, "Rate");
    }
    if (rate) {
        int rc = parse_dec(&h->price, rate, "price rate", h->path, err);
        if (rc)
            return rc;
        h->price_kind = XB_STMT_PRICE_RATE;
        copy_text(h->price_ccy, sizeof h->price_ccy, xb_xml_find(bal, "FinInstrmAttrbts/DnmtnCcy"));
    }
    return 0;
}

static int read_amounts(xb_holding *h, xmlNodePtr bal, xb_error *err)
{
    int rc;
    xmlNodePtr instr = xb_xml_child(bal, "InstrmCcyAmts");
    xmlNodePtr base = xb_xml_child(bal, "AcctBaseCcyAmts");
    xmlNodePtr mv = xb_xml_child(instr, "HldgVal");
    if (mv) {
        if ((rc = parse_signed_amount(&h->market_value, mv, h->path, err)))
            return rc;
        h->has_market_value = true;
    }
    xmlNodePtr acr = xb_xml_child(instr, "AcrdIntrstAmt");
    if (!acr)
        acr = xb_xml_child(base, "AcrdIntrstAmt");
    if (acr) {
        if ((rc = parse_signed_amount(&h->accrued, acr, h->path, err)))
            return rc;
        h->has_accrued = true;
    }
    if (h->price_kind == XB_STMT_PRICE_RATE && !h->price_ccy[0] && h->has_market_value)
        memcpy(h->price_ccy, h->market_value.ccy, sizeof h->price_ccy);
    return 0;
}

static int read_holding(xb_holding *h, xmlNodePtr bal, size_t index, xb_error *err)
{
    memset(h, 0, sizeof *h);
    snprintf(h->path, sizeof h->path, "/Document/SctiesBalAcctgRpt/BalForAcct[%zu]", index);
    int rc;
    if ((rc = read_instrument(h, bal, err)) || (rc = read_quantity(h, bal, err)) ||
        (rc = read_price(h, bal, err)) || (rc = read_amounts(h, bal, err)))
        return rc;
    return 0;
}

static size_t count_balances(xmlNodePtr body)
{
    size_t n = 0;
    for (xmlNodePtr c = body->children; c; c = c->next)
        n += c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "BalForAcct");
    return n;
}

int xb_holdings_from_msg(xb_holdings *out, const xb_msg *msg, xb_error *err)
{
    memset(out, 0, sizeof *out);
    const xb_definition *def = xb_msg_definition(msg);
    if (!def || def->kind != XB_KIND_SEMT003)
        return xb_error_set(err, XB_EUNSUPPORTED, NULL,
                            "holdings must be a semt.003 statement, not %s",
                            def ? def->id : "an unknown message");
    xmlNodePtr body = xb_msg_body(msg);
    snprintf(out->definition, sizeof out->definition, "%s", def->id);
    xmlNodePtr dt = xb_xml_find(body, "StmtGnlDtls/StmtDtTm/Dt");
    if (!dt)
        dt = xb_xml_find(body, "StmtGnlDtls/StmtDtTm/DtTm");
    const char *d = xb_xml_text(dt);
    if (d && strlen(d) >= 10)
        memcpy(out->stmt_date, d, 10);
    copy_text(out->account, sizeof out->account, xb_xml_find(body, "SfkpgAcct/Id"));
    size_t n = count_balances(body);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory for %zu holdings", n);
    size_t i = 0;
    for (xmlNodePtr c = body->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "BalForAcct"))
            continue;
        int rc = read_holding(&out->items[i], c, i + 1, err);
        if (rc) {
            xb_holdings_free(out);
            return rc;
        }
        i++;
    }
    out->n = i;
    return 0;
}

int xb_holdings_parse(xb_holdings *out, const char *buf, size_t len, const xb_parse_limits *lim,
                      bool validate, xb_error *err)
{
    memset(out, 0, sizeof *out);
    xb_parse_limits def = XB_HOLDINGS_LIMITS_DEFAULT;
    xb_msg *msg = NULL;
    int rc = xb_msg_parse(&msg, buf, len, lim ? lim : &def, err);
    if (rc)
        return rc;
    const xb_definition *d = xb_msg_definition(msg);
    if (d->kind != XB_KIND_SEMT003)
        rc = xb_error_set(err, XB_EUNSUPPORTED, NULL,
                          "holdings must be a semt.003 statement, not %s", d->id);
    if (!rc && validate)
        rc = xb_schema_validate_node(d, xb_msg_document(msg), err);
    if (!rc)
        rc = xb_holdings_from_msg(out, msg, err);
    xb_msg_free(msg);
    return rc;
}

int xb_holdings_load_file(xb_holdings *out, const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    xb_parse_limits lim = XB_HOLDINGS_LIMITS_DEFAULT;
    memset(out, 0, sizeof *out);
    int rc = xb_buf_read_file(&b, path, lim.max_bytes);
    if (rc) {
        xb_buf_free(&b);
        return xb_error_set(err, rc, NULL, "cannot read holdings statement %s", path);
    }
    rc = xb_holdings_parse(out, b.data ? b.data : "", b.len, &lim, true, err);
    xb_buf_free(&b);
    return rc;
}

void xb_holdings_free(xb_holdings *h)
{
    if (!h)
        return;
    free(h->items);
    memset(h, 0, sizeof *h);
}
