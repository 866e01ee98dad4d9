/* keys.c — the key fields of a parsed message: message id, creation time and per transaction
 * (or statement entry, price, holding) the UETR, ids, amount, date and agents.
 *
 * Owns: the per-definition map from ISO element paths to xb_msg_keys fields, and the tx array.
 * Never: validates (amounts are read as written, e.g. a NAV with 4 decimals; call schema and
 * rules first), or allocates anything but the tx array. Text longer than a field is truncated.
 */
#include "iso20022/keys.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Copies the trimmed text of n (if any) into dst (cap bytes, truncating). */
static void copy_text(char *dst, size_t cap, const xmlNode *n)
{
    const char *t = xb_xml_text(n);
    dst[0] = '\0';
    if (!t)
        return;
    while (*t && isspace((unsigned char)*t))
        t++;
    size_t len = strlen(t);
    while (len > 0 && isspace((unsigned char)t[len - 1]))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, t, len);
    dst[len] = '\0';
}

static void copy_path(char *dst, size_t cap, const xmlNode *base, const char *path)
{
    copy_text(dst, cap, base ? xb_xml_find(base, path) : NULL);
}

/* First non-empty of several paths under base. */
static void copy_first(char *dst, size_t cap, const xmlNode *base, const char *const *paths)
{
    dst[0] = '\0';
    for (; *paths && !dst[0]; paths++)
        copy_path(dst, cap, base, *paths);
}

/* Date part (YYYY-MM-DD) of a DateAndDateTime choice or a plain date. */
static void copy_date(char *dst, size_t cap, const xmlNode *base, const char *const *paths)
{
    char tmp[40];
    copy_first(tmp, sizeof tmp, base, paths);
    size_t n = strlen(tmp) < 10 ? strlen(tmp) : 10;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, tmp, n);
    dst[n] = '\0';
}

/* An agent's BIC, else its clearing-system member id. */
static void copy_agent(char *dst, size_t cap, const xmlNode *agent)
{
    static const char *const paths[] = {"FinInstnId/BICFI", "FinInstnId/ClrSysMmbId/MmbId",
                                        "FinInstnId/LEI", NULL};
    copy_first(dst, cap, agent, paths);
}

static void read_amount(xb_tx_keys *tx, const xmlNode *amt)
{
    xmlChar *ccy = amt ? xmlGetProp(amt, (const xmlChar *)"Ccy") : NULL;
    const char *text = xb_xml_text(amt);
    if (ccy && text && strlen((const char *)ccy) == 3) {
        while (isspace((unsigned char)*text))
            text++;
        size_t len = strlen(text);
        while (len > 0 && isspace((unsigned char)text[len - 1]))
            len--;
        if (!xb_dec_parse(&tx->sttlm_amt.value, text, len, NULL)) {
            memcpy(tx->sttlm_amt.ccy, ccy, 4);
            tx->has_sttlm_amt = 1;
        }
    }
    xmlFree(ccy);
}

static int is_elem(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

/* ---- collecting transaction nodes ---- */

typedef struct tx_nodes {
    const xmlNode **v;
    const xmlNode **ctx; /* the enclosing PmtInf / Stmt / Ntfctn, or NULL */
    size_t n, cap;
} tx_nodes;

static int push(tx_nodes *t, const xmlNode *n, const xmlNode *ctx)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        const xmlNode **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return XB_ENOMEM;
        t->v = v;
        const xmlNode **c = realloc(t->ctx, cap * sizeof *c);
        if (!c)
            return XB_ENOMEM;
        t->ctx = c;
        t->cap = cap;
    }
    t->v[t->n] = n;
    t->ctx[t->n] = ctx;
    t->n++;
    return 0;
}

/* Children of parent named `name`, or of each `group` child of parent when group is set. */
static int collect(tx_nodes *t, const xmlNode *parent, const char *group, const char *name)
{
    for (xmlNodePtr g = parent->children; g; g = g->next) {
        if (group && !is_elem(g, group))
            continue;
        if (!group) {
            if (is_elem(g, name) && push(t, g, NULL))
                return XB_ENOMEM;
            continue;
        }
        for (xmlNodePtr c = g->children; c; c = c->next)
            if (is_elem(c, name) && push(t, c, g))
                return XB_ENOMEM;
    }
    return 0;
}

/* ---- per-definition field maps ---- */

static void fill_pacs(xb_tx_keys *k, const xmlNode *tx, const xmlNode *grp)
{
    static const char *const dates[] = {"IntrBkSttlmDt", NULL};
    copy_path(k->uetr, sizeof k->uetr, tx, "PmtId/UETR");
    copy_path(k->end_to_end_id, sizeof k->end_to_end_id, tx, "PmtId/EndToEndId");
    copy_path(k->tx_id, sizeof k->tx_id, tx, "PmtId/TxId");
    read_amount(k, xb_xml_child(tx, "IntrBkSttlmAmt"));
    copy_date(k->sttlm_date, sizeof k->sttlm_date, tx, dates);
    if (!k->sttlm_date[0])
        copy_date(k->sttlm_date, sizeof k->sttlm_date, grp, dates);
    xmlNodePtr instg = xb_xml_child(tx, "InstgAgt"), instd = xb_xml_child(tx, "InstdAgt");
    copy_agent(k->instg_agt, sizeof k->instg_agt, instg ? instg : xb_xml_child(grp, "InstgAgt"));
    copy_agent(k->instd_agt, sizeof k->instd_agt, instd ? instd : xb_xml_child(grp, "InstdAgt"));
}

static void fill_pacs002(xb_tx_keys *k, const xmlNode *tx, const xmlNode *grp)
{
    static const char *const dates[] = {"OrgnlTxRef/IntrBkSttlmDt", "FctvIntrBkSttlmDt/Dt",
                                        "FctvIntrBkSttlmDt/DtTm", NULL};
    copy_path(k->uetr, sizeof k->uetr, tx, "OrgnlUETR");
    copy_path(k->end_to_end_id, sizeof k->end_to_end_id, tx, "OrgnlEndToEndId");
    copy_path(k->tx_id, sizeof k->tx_id, tx, "OrgnlTxId");
    read_amount(k, xb_xml_find(tx, "OrgnlTxRef/IntrBkSttlmAmt"));
    copy_date(k->sttlm_date, sizeof k->sttlm_date, tx, dates);
    xmlNodePtr instg = xb_xml_child(tx, "InstgAgt"), instd = xb_xml_child(tx, "InstdAgt");
    copy_agent(k->instg_agt, sizeof k->instg_agt, instg ? instg : xb_xml_child(grp, "InstgAgt"));
    copy_agent(k->instd_agt, sizeof k->instd_agt, instd ? instd : xb_xml_child(grp, "InstdAgt"));
}

static void fill_pain(xb_tx_keys *k, const xmlNode *tx, const xmlNode *pmt)
{
    static const char *const dates[] = {"ReqdExctnDt/Dt", "ReqdExctnDt/DtTm", NULL};
    copy_path(k->uetr, sizeof k->uetr, tx, "PmtId/UETR");
    copy_path(k->end_to_end_id, sizeof k->end_to_end_id, tx, "PmtId/EndToEndId");
    copy_path(k->tx_id, sizeof k->tx_id, tx, "PmtId/InstrId");
    xmlNodePtr amt = xb_xml_find(tx, "Amt/InstdAmt");
    read_amount(k, amt ? amt : xb_xml_find(tx, "Amt/EqvtAmt/Amt"));
    copy_date(k->sttlm_date, sizeof k->sttlm_date, pmt, dates);
    copy_agent(k->instg_agt, sizeof k->instg_agt, xb_xml_child(pmt, "DbtrAgt"));
    copy_agent(k->instd_agt, sizeof k->instd_agt, xb_xml_child(tx, "CdtrAgt"));
}

static void fill_camt(xb_tx_keys *k, const xmlNode *ntry, const xmlNode *stmt)
{
    static const char *const dates[] = {"BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm",
                                        NULL};
    const xmlNode *refs = xb_xml_find(ntry, "NtryDtls/TxDtls/Refs");
    copy_path(k->uetr, sizeof k->uetr, refs, "UETR");
    copy_path(k->end_to_end_id, sizeof k->end_to_end_id, refs, "EndToEndId");
    copy_path(k->tx_id, sizeof k->tx_id, refs, "TxId");
    if (!k->tx_id[0])
        copy_path(k->tx_id, sizeof k->tx_id, ntry, "AcctSvcrRef");
    read_amount(k, xb_xml_child(ntry, "Amt"));
    copy_date(k->sttlm_date, sizeof k->sttlm_date, ntry, dates);
    copy_agent(k->instg_agt, sizeof k->instg_agt,
               xb_xml_find(ntry, "NtryDtls/TxDtls/RltdAgts/DbtrAgt"));
    copy_agent(k->instd_agt, sizeof k->instd_agt,
               xb_xml_find(ntry, "NtryDtls/TxDtls/RltdAgts/CdtrAgt"));
    if (!k->instd_agt[0])
        copy_agent(k->instd_agt, sizeof k->instd_agt, xb_xml_find(stmt, "Acct/Svcr"));
}

static void fill_reda(xb_tx_keys *k, const xmlNode *val, const xmlNode *unused)
{
    static const char *const dates[] = {"NAVDtTm/Dt", "NAVDtTm/DtTm", NULL};
    static const char *const ids[] = {"FinInstrmDtls/Id/ISIN", "Id", NULL};
    copy_first(k->tx_id, sizeof k->tx_id, val, ids);
    read_amount(k, xb_xml_find(val, "PricDtls/ValInInvstmtCcy/Amt"));
    copy_date(k->sttlm_date, sizeof k->sttlm_date, val, dates);
}

static void fill_semt(xb_tx_keys *k, const xmlNode *bal, const xmlNode *unused)
{
    static const char *const ids[] = {"FinInstrmId/ISIN", "FinInstrmId/OthrId/Id", NULL};
    copy_first(k->tx_id, sizeof k->tx_id, bal, ids);
    read_amount(k, xb_xml_find(bal, "AcctBaseCcyAmts/HldgVal/Amt"));
}

typedef void (*fill_fn)(xb_tx_keys *k, const xmlNode *tx, const xmlNode *ctx);

/* Header fields: from the body first, else from the BAH. */
static void fill_header(xb_msg_keys *out, const xb_msg *msg)
{
    static const char *const ids[] = {"GrpHdr/MsgId", "MsgId/Id", "StmtGnlDtls/StmtId", NULL};
    static const char *const times[] = {"GrpHdr/CreDtTm", "MsgId/CreDtTm",
                                        "StmtGnlDtls/StmtDtTm/DtTm", NULL};
    copy_first(out->msg_id, sizeof out->msg_id, xb_msg_body(msg), ids);
    copy_first(out->cre_dt_tm, sizeof out->cre_dt_tm, xb_msg_body(msg), times);
    if (!out->msg_id[0])
        copy_path(out->msg_id, sizeof out->msg_id, xb_msg_apphdr(msg), "BizMsgIdr");
    if (!out->cre_dt_tm[0])
        copy_path(out->cre_dt_tm, sizeof out->cre_dt_tm, xb_msg_apphdr(msg), "CreDt");
}

int xb_keys_extract(xb_msg_keys *out, const xb_msg *msg, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return xb_error_set(err, XB_EINVAL, NULL, "no message");
    const xmlNode *body = xb_msg_body(msg);
    const xmlNode *grp = xb_xml_child(body, "GrpHdr");
    fill_header(out, msg);

    tx_nodes t = {0};
    fill_fn fill = NULL;
    int rc = 0;
    switch (xb_msg_definition(msg)->kind) {
    case XB_KIND_PACS008:
    case XB_KIND_PACS009:
        rc = collect(&t, body, NULL, "CdtTrfTxInf");
        fill = fill_pacs;
        break;
    case XB_KIND_PACS002:
        rc = collect(&t, body, NULL, "TxInfAndSts");
        fill = fill_pacs002;
        break;
    case XB_KIND_PAIN001:
        rc = collect(&t, body, "PmtInf", "CdtTrfTxInf");
        fill = fill_pain;
        break;
    case XB_KIND_CAMT053:
        rc = collect(&t, body, "Stmt", "Ntry");
        fill = fill_camt;
        break;
    case XB_KIND_CAMT054:
        rc = collect(&t, body, "Ntfctn", "Ntry");
        fill = fill_camt;
        break;
    case XB_KIND_REDA001:
        rc = collect(&t, body, NULL, "PricValtnDtls");
        fill = fill_reda;
        break;
    case XB_KIND_SEMT003:
        rc = collect(&t, body, NULL, "BalForAcct");
        fill = fill_semt;
        break;
    default:
        break;
    }
    if (!rc && t.n) {
        out->tx = calloc(t.n, sizeof *out->tx);
        if (!out->tx)
            rc = XB_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < t.n; i++)
            fill(&out->tx[i], t.v[i], t.ctx[i] ? t.ctx[i] : grp);
        out->n_tx = t.n;
    }
    free(t.v);
    free(t.ctx);
    if (rc)
        return xb_error_set(err, rc, NULL, "out of memory extracting keys");
    return 0;
}

void xb_keys_free(xb_msg_keys *keys)
{
    if (!keys)
        return;
    free(keys->tx);
    keys->tx = NULL;
    keys->n_tx = 0;
}
