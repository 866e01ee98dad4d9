/* settle.c — the renminbi settlement leg: converts, restates and re-validates a pacs.008/009.
 *
 * Owns: the settlement transform described in settle.h. It works in two passes: first every
 * transaction is read, checked and priced without touching the tree (so a quarantined message is
 * never half-settled), then the tree is rewritten in XSD order and validated again.
 * Never: guesses a rate, rounds more than once per amount, uses float/double, or returns 0 for a
 * message that fails the XSD or the ISO rules after settlement.
 */
#include "adapter/settle.h"

#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/policy.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"

/* ISO 20022 amount types allow 18 significant digits; BaseOneRate (XchgRate) 11 with 10 decimals.
 */
#define AMOUNT_MAX_DIGITS 18
#define RATE_MAX_DIGITS 11
#define RATE_MAX_FRACTION 10

const char *xb_settle_verdict_name(xb_settle_verdict v)
{
    switch (v) {
    case XB_SETTLE_SETTLED:
        return "settled";
    case XB_SETTLE_UNCHANGED:
        return "unchanged";
    case XB_SETTLE_INVALID:
        return "invalid";
    case XB_SETTLE_QUARANTINE:
        return "quarantine";
    }
    return "?";
}

void xb_settle_details_free(xb_settle_details *d)
{
    if (!d)
        return;
    free(d->tx);
    d->tx = NULL;
    d->n_tx = 0;
}

/* ---- small tree helpers ------------------------------------------------------------------- */

static int is_elem(const xmlNode *n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

/* Copies the text of a leaf (trimmed of nothing: ISO leaves carry no padding) into buf. */
static void text_into(char *buf, size_t cap, const xmlNode *n)
{
    const char *t = xb_xml_text(n);
    snprintf(buf, cap, "%s", t ? t : "");
}

/* Replaces an element's content by one text node, without entity interpretation. */
static void set_text(xmlNodePtr n, const char *text)
{
    while (n->children) {
        xmlNodePtr c = n->children;
        xmlUnlinkNode(c);
        xmlFreeNode(c);
    }
    xmlNodeAddContent(n, (const xmlChar *)text);
}

/* The Ccy attribute of an amount element into ccy[4] ("" when absent or not 3 letters). */
static void get_ccy(char ccy[4], const xmlNode *n)
{
    ccy[0] = '\0';
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)"Ccy");
    if (v && strlen((const char *)v) == 3)
        memcpy(ccy, v, 4);
    xmlFree(v);
}

static xmlNodePtr new_elem(xmlNodePtr parent, const char *local, const char *text)
{
    xmlNodePtr n = xmlNewDocNode(parent->doc, parent->ns, (const xmlChar *)local, NULL);
    if (n && text)
        xmlNodeAddContent(n, (const xmlChar *)text);
    return n;
}

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return 1;
    return 0;
}

/* Inserts n into parent after the last child whose name is in `before` (the XSD sequence that
 * precedes n), or as the first child when none is present. */
static void insert_in_order(xmlNodePtr parent, xmlNodePtr n, const char *const *before)
{
    xmlNodePtr last = NULL;
    for (xmlNodePtr c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && in_list((const char *)c->name, before))
            last = c;
    if (last)
        xmlAddNextSibling(last, n);
    else if (parent->children)
        xmlAddPrevSibling(parent->children, n);
    else
        xmlAddChild(parent, n);
}

static const char *node_path(const xmlNode *n, char *buf, size_t cap)
{
    return n ? xb_msg_node_path(n, buf, cap) : "";
}

/* ---- verdict helpers ---------------------------------------------------------------------- */

static int fail(xb_settle_details *d, xb_settle_verdict v, xb_error *err, int code,
                const xmlNode *at, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(xb_settle_details *d, xb_settle_verdict v, xb_error *err, int code,
                const xmlNode *at, const char *fmt, ...)
{
    char path[512] = "";
    node_path(at, path, sizeof path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    snprintf(d->reason_path, sizeof d->reason_path, "%s", path);
    d->verdict = v;
    return xb_error_set(err, code, path[0] ? path : NULL, "%s", d->reason);
}

/* Adopts an error raised by a lower layer (schema, rules, fx) as this message's verdict. */
static int fail_from(xb_settle_details *d, xb_settle_verdict v, const xb_error *e, xb_error *err,
                     const char *prefix)
{
    snprintf(d->reason, sizeof d->reason, "%s%s", prefix, e->message);
    snprintf(d->reason_path, sizeof d->reason_path, "%s", e->path);
    d->verdict = v;
    return xb_error_set(err, e->code ? e->code : XB_EINVAL, e->path[0] ? e->path : NULL, "%s",
                        d->reason);
}

/* ---- CNH ---------------------------------------------------------------------------------- */

/* Relabels (map) or finds (no map) every Ccy="CNH" in the Document. Returns how many. */
static int scan_cnh(xmlNodePtr n, bool map, xmlNodePtr *first)
{
    int count = 0;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        char ccy[4];
        get_ccy(ccy, n);
        if (!strcmp(ccy, "CNH")) {
            count++;
            if (!*first)
                *first = n;
            if (map)
                xmlSetProp(n, (const xmlChar *)"Ccy", (const xmlChar *)"CNY");
        }
        count += scan_cnh(n->children, map, first);
    }
    return count;
}

/* ---- reading one transaction -------------------------------------------------------------- */

/* Work item for one CdtTrfTxInf between the two passes. */
typedef struct tx_work {
    xmlNodePtr tx;
    xmlNodePtr sttlm_amt;
    xmlNodePtr instd_amt; /* pacs.008 InstdAmt, or pacs.009 cover UndrlygCstmrCdtTrf/InstdAmt */
    xmlNodePtr cover;     /* pacs.009 UndrlygCstmrCdtTrf */
} tx_work;

static void agent_id(char *buf, size_t cap, const xmlNode *agt)
{
    const xmlNode *fi = agt ? xb_xml_child(agt, "FinInstnId") : NULL;
    const xmlNode *bic = fi ? xb_xml_child(fi, "BICFI") : NULL;
    if (!bic && fi)
        bic = xb_xml_find(fi, "ClrSysMmbId/MmbId");
    text_into(buf, cap, bic);
}

static void read_ids(xb_settle_tx *t, const xmlNode *tx, const xmlNode *grp)
{
    const xmlNode *pmt = xb_xml_child(tx, "PmtId");
    text_into(t->uetr, sizeof t->uetr, pmt ? xb_xml_child(pmt, "UETR") : NULL);
    text_into(t->end_to_end_id, sizeof t->end_to_end_id,
              pmt ? xb_xml_child(pmt, "EndToEndId") : NULL);
    text_into(t->tx_id, sizeof t->tx_id, pmt ? xb_xml_child(pmt, "TxId") : NULL);
    /* The counterparty is whoever this leg is instructed to: tx-level InstdAgt, else the group's,
     * else the creditor agent. */
    agent_id(t->counterparty, sizeof t->counterparty, xb_xml_child(tx, "InstdAgt"));
    if (!t->counterparty[0] && grp)
        agent_id(t->counterparty, sizeof t->counterparty, xb_xml_child(grp, "InstdAgt"));
    if (!t->counterparty[0])
        agent_id(t->counterparty, sizeof t->counterparty, xb_xml_child(tx, "CdtrAgt"));
    const xmlNode *purp = xb_xml_child(tx, "Purp");
    const xmlNode *code = purp ? xb_xml_child(purp, "Cd") : NULL;
    if (!code && purp)
        code = xb_xml_child(purp, "Prtry");
    text_into(t->purpose, sizeof t->purpose, code);
    const xmlNode *dt = xb_xml_child(tx, "IntrBkSttlmDt");
    if (!dt && grp)
        dt = xb_xml_child(grp, "IntrBkSttlmDt");
    text_into(t->sttlm_date, sizeof t->sttlm_date, dt);
}

static int code_listed(const char *code, const char (*list)[36], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(code, list[i]))
            return 1;
    return 0;
}

static int is_bop_code(const char *s, const xb_settle_opts *o)
{
    if (strlen(s) != 6 || strspn(s, "0123456789") != 6)
        return 0;
    if (!o->n_bop_codes)
        return 1;
    for (size_t i = 0; i < o->n_bop_codes; i++)
        if (!strcmp(s, o->bop_codes[i]))
            return 1;
    return 0;
}

/* First RgltryRptg/Dtls/Cd that is a valid BoP code, or NULL; *any gets the first code seen. */
static const xmlNode *find_bop(const xmlNode *tx, const xb_settle_opts *o, const xmlNode **any)
{
    *any = NULL;
    for (const xmlNode *r = tx->children; r; r = r->next) {
        if (!is_elem(r, "RgltryRptg"))
            continue;
        for (const xmlNode *d = r->children; d; d = d->next) {
            const xmlNode *cd = is_elem(d, "Dtls") ? xb_xml_child(d, "Cd") : NULL;
            const char *v = xb_xml_text(cd);
            if (!v)
                continue;
            if (!*any)
                *any = cd;
            if (is_bop_code(v, o))
                return cd;
        }
    }
    return NULL;
}

/* True when an element exists and carries something: a child element or non-blank text. */
static int has_content(const xmlNode *n)
{
    if (!n)
        return 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return 1;
        if (c->type == XML_TEXT_NODE && c->content &&
            strspn((const char *)c->content, " \t\r\n") < strlen((const char *)c->content))
            return 1;
    }
    return 0;
}

/* Purpose, BoP and leasing requirements of the route: QUARANTINE when one is not met. */
static int check_regulatory(xb_settle_details *d, xb_settle_tx *t, const xmlNode *tx,
                            xb_msg_kind kind, const xb_settle_opts *o, xb_error *err)
{
    if (o->require_purpose && !t->purpose[0])
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_ERULE, tx,
                    "route requires a purpose code (Purp/Cd) and transaction %s has none",
                    t->end_to_end_id);
    if (o->n_purpose_codes && t->purpose[0] &&
        !code_listed(t->purpose, o->purpose_codes, o->n_purpose_codes))
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_ERULE, xb_xml_child(tx, "Purp"),
                    "purpose code %s is not one the route allows", t->purpose);
    /* pacs.009 has no RgltryRptg; interbank cover legs report BoP on the customer message. */
    if (o->require_bop && kind == XB_KIND_PACS008) {
        const xmlNode *any;
        if (!find_bop(tx, o, &any))
            return fail(d, XB_SETTLE_QUARANTINE, err, XB_ERULE, any ? any : tx,
                        any ? "BoP code %s is not a 6-digit code the route allows"
                            : "route requires a BoP code (RgltryRptg/Dtls/Cd)%s",
                        any ? xb_xml_text(any) : "");
    }
    t->leasing = o->leasing_purpose[0] && !strcmp(t->purpose, o->leasing_purpose);
    for (size_t i = 0; t->leasing && i < o->n_leasing_fields; i++) {
        if (!has_content(xb_xml_find(tx, o->leasing_fields[i])))
            return fail(d, XB_SETTLE_QUARANTINE, err, XB_ERULE, tx,
                        "leasing transfer (purpose %s) lacks %s, which the route requires",
                        t->purpose, o->leasing_fields[i]);
    }
    return 0;
}

/* Reads and checks the amount of one transaction; prices it when it is not in CNY. */
static int price_tx(xb_settle_details *d, xb_settle_tx *t, tx_work *w, xb_msg_kind kind,
                    const xb_settle_opts *o, const xb_fx_table *fx, xb_error *err)
{
    char ccy[4];
    get_ccy(ccy, w->sttlm_amt);
    const char *text = xb_xml_text(w->sttlm_amt);
    xb_error e = {0};
    if (xb_amount_parse(&t->original, ccy, text ? text : "", false, &e) < 0)
        return fail(d, XB_SETTLE_INVALID, err, XB_ERULE, w->sttlm_amt, "%s", e.message);
    if (!strcmp(ccy, o->currency)) {
        t->settled = t->original;
        xb_dec_from_int(&t->rate, 1);
        return 0;
    }
    if (kind == XB_KIND_PACS008 && w->instd_amt) {
        char ic[4];
        get_ccy(ic, w->instd_amt);
        /* InstdAmt in a third currency already carries its own XchgRate to the settlement
         * currency; one XchgRate cannot state both conversions, so we do not restate it. */
        if (strcmp(ic, ccy))
            return fail(d, XB_SETTLE_QUARANTINE, err, XB_EUNSUPPORTED, w->instd_amt,
                        "InstdAmt is in %s but IntrBkSttlmAmt in %s: a cross-currency "
                        "instruction cannot be restated in %s with one XchgRate",
                        ic, ccy, o->currency);
    }
    if (!t->sttlm_date[0])
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_ENOTFOUND, w->tx,
                    "no interbank settlement date (IntrBkSttlmDt) to choose the %s rate by", ccy);
    if (!fx || xb_fx_lookup(&t->rate, fx, t->sttlm_date, ccy, &e) < 0) {
        if (!fx)
            xb_error_set(&e, XB_ENOTFOUND, NULL, "no rates configured for the route");
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_ENOTFOUND, w->sttlm_amt,
                    "no %s rate for %s on %s (%s): %s", ccy, o->currency, t->sttlm_date,
                    o->rate_source, e.message);
    }
    xb_dec_normalize(&t->rate, &t->rate);
    if (xb_dec_fraction_digits(&t->rate) > RATE_MAX_FRACTION ||
        xb_dec_total_digits(&t->rate) > RATE_MAX_DIGITS)
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_ELIMIT, w->sttlm_amt,
                    "the %s rate does not fit XchgRate (11 digits, 10 decimals)", ccy);
    const xb_currency *cny = xb_currency_find(o->currency);
    int scale = cny ? cny->minor_units : 2;
    /* One exact product, rounded once with the route's named mode. */
    if (xb_dec_mul_round(&t->settled.value, &t->original.value, &t->rate, scale, o->rounding) < 0 ||
        xb_dec_total_digits(&t->settled.value) > AMOUNT_MAX_DIGITS)
        return fail(d, XB_SETTLE_QUARANTINE, err, XB_EOVERFLOW, w->sttlm_amt,
                    "%s %s at %s does not fit an ISO amount (18 digits)", ccy, text ? text : "",
                    o->currency);
    memcpy(t->settled.ccy, o->currency, 4);
    t->converted = true;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static const char *const TX008_BEFORE_INSTD[] = {
    "PmtId",         "PmtTpInf",   "IntrBkSttlmAmt", "IntrBkSttlmDt",   "SttlmPrty",
    "SttlmTmIndctn", "SttlmTmReq", "AccptncDtTm",    "PoolgAdjstmntDt", NULL};
static const char *const TX008_BEFORE_XCHG[] = {
    "PmtId",      "PmtTpInf",    "IntrBkSttlmAmt",  "IntrBkSttlmDt", "SttlmPrty", "SttlmTmIndctn",
    "SttlmTmReq", "AccptncDtTm", "PoolgAdjstmntDt", "InstdAmt",      NULL};
static const char *const GRP_BEFORE_TTL[] = {"MsgId",   "CreDtTm", "BtchBookg",
                                             "NbOfTxs", "CtrlSum", NULL};
static const char *const STTLM_BEFORE_CLRSYS[] = {"SttlmMtd", "SttlmAcct", NULL};
static const char *const FI_BEFORE_MMB[] = {"BICFI", NULL};

/* Sets text when it differs; returns 1 when it changed something. */
static int update_text(xmlNodePtr n, const char *text)
{
    const char *cur = xb_xml_text(n);
    if (cur && !strcmp(cur, text))
        return 0;
    set_text(n, text);
    return 1;
}

static int update_amount(xmlNodePtr n, const xb_amount *a)
{
    char buf[64], ccy[4];
    xb_amount_format(buf, sizeof buf, a);
    get_ccy(ccy, n);
    int changed = update_text(n, buf);
    if (strcmp(ccy, a->ccy)) {
        xmlSetProp(n, (const xmlChar *)"Ccy", (const xmlChar *)a->ccy);
        changed = 1;
    }
    return changed;
}

static xmlNodePtr new_amount(xmlNodePtr parent, const char *local, const char *ccy,
                             const char *text)
{
    xmlNodePtr n = new_elem(parent, local, text);
    if (n)
        xmlSetProp(n, (const xmlChar *)"Ccy", (const xmlChar *)ccy);
    return n;
}

/* Rewrites one converted transaction: InstdAmt keeps the instruction, XchgRate the rate. */
static int write_tx(xb_settle_tx *t, tx_work *w, xb_msg_kind kind)
{
    if (!t->converted)
        return 0;
    char orig[64], rate[64];
    xb_amount_format(orig, sizeof orig, &t->original);
    xb_dec_format(rate, sizeof rate, &t->rate);
    update_amount(w->sttlm_amt, &t->settled);
    if (kind == XB_KIND_PACS008) {
        if (!w->instd_amt) {
            insert_in_order(w->tx, new_amount(w->tx, "InstdAmt", t->original.ccy, orig),
                            TX008_BEFORE_INSTD);
            t->instd_amt_added = true;
        }
        xmlNodePtr x = xb_xml_child(w->tx, "XchgRate");
        if (x)
            update_text(x, rate);
        else
            insert_in_order(w->tx, new_elem(w->tx, "XchgRate", rate), TX008_BEFORE_XCHG);
    } else if (w->cover && !w->instd_amt) {
        /* pacs.009 has no InstdAmt of its own: the cover's underlying customer transfer does
         * (its last element), and it is where the instruction is kept. Plain pacs.009 keeps the
         * original amount and rate in the decision record only (the XSD has nowhere else). */
        xmlAddChild(w->cover, new_amount(w->cover, "InstdAmt", t->original.ccy, orig));
        t->instd_amt_added = true;
    }
    return 1;
}

/* NbOfTxs, TtlIntrBkSttlmAmt (added when absent for more than one transaction) and CtrlSum. */
static int write_group(xb_settle_details *d, xmlNodePtr grp, bool total_needed)
{
    int changed = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%zu", d->n_tx);
    xmlNodePtr nb = xb_xml_child(grp, "NbOfTxs");
    if (nb)
        changed |= update_text(nb, buf);
    xmlNodePtr ttl = xb_xml_child(grp, "TtlIntrBkSttlmAmt");
    if (ttl) {
        changed |= update_amount(ttl, &d->total);
    } else if (total_needed) {
        xb_amount_format(buf, sizeof buf, &d->total);
        insert_in_order(grp, new_amount(grp, "TtlIntrBkSttlmAmt", d->total.ccy, buf),
                        GRP_BEFORE_TTL);
        changed = 1;
    }
    xmlNodePtr cs = xb_xml_child(grp, "CtrlSum");
    if (cs) {
        xb_dec cur;
        const char *t = xb_xml_text(cs);
        if (!t || xb_dec_parse_cstr(&cur, t, NULL) < 0 || xb_dec_cmp(&cur, &d->total.value)) {
            xb_dec_format(buf, sizeof buf, &d->total.value);
            set_text(cs, buf);
            changed = 1;
        }
    }
    return changed;
}

static int write_sttlm_inf(xb_settle_details *d, xmlNodePtr grp, const xb_settle_opts *o)
{
    xmlNodePtr si = xb_xml_child(grp, "SttlmInf");
    int changed = 0;
    if (!si)
        return 0; /* mandatory in the XSD: validation already refused its absence */
    if (o->method[0]) {
        xmlNodePtr m = xb_xml_child(si, "SttlmMtd");
        if (m)
            changed |= update_text(m, o->method);
    }
    if (o->clearing[0]) {
        xmlNodePtr cs = xb_xml_child(si, "ClrSys");
        xmlNodePtr cd = cs ? xb_xml_child(cs, "Cd") : NULL;
        if (!cd || strcmp(xb_xml_text(cd) ? xb_xml_text(cd) : "", o->clearing)) {
            if (cs) {
                xmlUnlinkNode(cs);
                xmlFreeNode(cs);
            }
            cs = new_elem(si, "ClrSys", NULL);
            xmlAddChild(cs, new_elem(cs, "Cd", o->clearing));
            insert_in_order(si, cs, STTLM_BEFORE_CLRSYS);
            changed = 1;
        }
        d->clearing_set = true;
    }
    return changed;
}

/* Canonical 11-character BIC ("ICBKCNBJ" -> "ICBKCNBJXXX") for matching. */
static void bic11(char out[12], const char *bic)
{
    size_t n = strlen(bic);
    snprintf(out, 12, "%s%s", bic, n == 8 ? "XXX" : "");
}

static const xb_settle_agent *find_agent(const xb_settle_opts *o, const char *bic)
{
    char want[12], have[12];
    bic11(want, bic);
    for (size_t i = 0; i < o->n_agents; i++) {
        bic11(have, o->agents[i].bic);
        if (!strcmp(want, have))
            return &o->agents[i];
    }
    return NULL;
}

/* Gives one FinInstnId the configured clearing-member id: the CIPS participant id when the
 * route clears through CIPS (or when that is all we know), else the CNAPS code. */
static int identify_agent(xmlNodePtr fi, const xb_settle_opts *o, int *count)
{
    const char *bic = xb_xml_text(xb_xml_child(fi, "BICFI"));
    const xb_settle_agent *a = bic ? find_agent(o, bic) : NULL;
    if (!a)
        return 0;
    const char *sys = NULL, *id = NULL;
    if (a->cips[0] && (!strcmp(o->clearing, "CIP") || !a->cnaps[0])) {
        sys = "CNCIP";
        id = a->cips;
    } else if (a->cnaps[0]) {
        sys = "CNAPS";
        id = a->cnaps;
    } else {
        return 0;
    }
    xmlNodePtr m = xb_xml_child(fi, "ClrSysMmbId");
    const char *cur_sys = m ? xb_xml_text(xb_xml_find(m, "ClrSysId/Cd")) : NULL;
    const char *cur_id = m ? xb_xml_text(xb_xml_child(m, "MmbId")) : NULL;
    (*count)++;
    if (cur_sys && cur_id && !strcmp(cur_sys, sys) && !strcmp(cur_id, id))
        return 0;
    if (m) {
        xmlUnlinkNode(m);
        xmlFreeNode(m);
    }
    m = new_elem(fi, "ClrSysMmbId", NULL);
    xmlNodePtr csid = new_elem(m, "ClrSysId", NULL);
    xmlAddChild(csid, new_elem(csid, "Cd", sys));
    xmlAddChild(m, csid);
    xmlAddChild(m, new_elem(m, "MmbId", id));
    insert_in_order(fi, m, FI_BEFORE_MMB);
    return 1;
}

static int write_agents(xmlNodePtr n, const xb_settle_opts *o, int *count)
{
    int changed = 0;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem(n, "FinInstnId"))
            changed |= identify_agent(n, o, count);
        else
            changed |= write_agents(n->children, o, count);
    }
    return changed;
}

/* ---- the stage ---------------------------------------------------------------------------- */

/* What a check covers: the parts validated against their XSDs, and the ISO rules. */
enum { CHECK_APPHDR = 1u << 0, CHECK_DOCUMENT = 1u << 1, CHECK_RULES = 1u << 2 };

/* As received: both parts and the rules, or without the Document when it is checked once after
 * settlement (XB_SETTLE_DOCUMENT_UNCHECKED). After settlement: the Document and the rules, since
 * settlement rewrites nothing else and the AppHdr was validated as received (issue #8:
 * validating it again could only repeat that answer). */
static int check(xb_settle_details *d, const xb_msg *msg, unsigned parts, xb_settle_verdict v,
                 xb_error *err, const char *prefix)
{
    xb_error e = {0};
    xmlNodePtr hdr = xb_msg_apphdr(msg);
    if (((parts & CHECK_APPHDR) && hdr &&
         xb_schema_validate_node(xb_msg_hdr_definition(msg), hdr, &e) < 0) ||
        ((parts & CHECK_DOCUMENT) &&
         xb_schema_validate_node(xb_msg_definition(msg), xb_msg_document(msg), &e) < 0) ||
        ((parts & CHECK_RULES) && xb_rules_check(msg, &e) < 0))
        return fail_from(d, v, &e, err, prefix);
    return 0;
}

/* A message refused before the rewrite whose Document was not validated: the full check as
 * received validates the Document before the rules and the read pass, so a Document that fails
 * its XSD is reported as that failure, whatever else refused it. rc otherwise. */
static int refused_unchecked(xb_settle_details *d, const xb_msg *msg, int rc, xb_error *err)
{
    xb_error e = {0};
    if (xb_schema_validate_node(xb_msg_definition(msg), xb_msg_document(msg), &e) < 0)
        return fail_from(d, XB_SETTLE_INVALID, &e, err, "invalid as received: ");
    return rc;
}

static size_t count_tx(xmlNodePtr body)
{
    size_t n = 0;
    for (xmlNodePtr c = body->children; c; c = c->next)
        n += is_elem(c, "CdtTrfTxInf");
    return n;
}

/* Pass 1: read, check and price every transaction; the tree is not touched. */
static int read_all(xb_settle_details *d, tx_work *w, xmlNodePtr body, xmlNodePtr grp,
                    xb_msg_kind kind, const xb_settle_opts *o, const xb_fx_table *fx, xb_error *err)
{
    size_t i = 0;
    memcpy(d->total.ccy, o->currency, 4);
    xb_dec_from_int(&d->total.value, 0);
    for (xmlNodePtr c = body->children; c; c = c->next) {
        if (!is_elem(c, "CdtTrfTxInf"))
            continue;
        xb_settle_tx *t = &d->tx[i];
        w[i].tx = c;
        w[i].sttlm_amt = xb_xml_child(c, "IntrBkSttlmAmt");
        w[i].cover = kind == XB_KIND_PACS009 ? xb_xml_child(c, "UndrlygCstmrCdtTrf") : NULL;
        w[i].instd_amt = xb_xml_child(w[i].cover ? w[i].cover : c, "InstdAmt");
        if (kind == XB_KIND_PACS009 && !w[i].cover)
            w[i].instd_amt = NULL;
        read_ids(t, c, grp);
        d->n_tx = ++i;
        int rc = check_regulatory(d, t, c, kind, o, err);
        if (rc == 0)
            rc = price_tx(d, t, &w[i - 1], kind, o, fx, err);
        if (rc < 0)
            return rc;
        if (xb_dec_add(&d->total.value, &d->total.value, &t->settled.value) < 0 ||
            xb_dec_total_digits(&d->total.value) > AMOUNT_MAX_DIGITS)
            return fail(d, XB_SETTLE_QUARANTINE, err, XB_EOVERFLOW, grp,
                        "the %s total does not fit an ISO amount (18 digits)", o->currency);
    }
    return 0;
}

static void init_details(xb_settle_details *d, const xb_settle_opts *o)
{
    memset(d, 0, sizeof *d);
    d->verdict = XB_SETTLE_INVALID;
    d->rounding = o->rounding;
    snprintf(d->rate_source, sizeof d->rate_source, "%s", o->rate_source);
    memcpy(d->currency, o->currency, 4);
}

int xb_settle_message(xb_settle_details *out, xb_msg *msg, const xb_settle_opts *opts,
                      const xb_fx_table *fx, xb_error *err)
{
    return xb_settle_message_ex(out, msg, opts, fx, 0, err);
}

int xb_settle_message_ex(xb_settle_details *out, xb_msg *msg, const xb_settle_opts *opts,
                         const xb_fx_table *fx, unsigned flags, xb_error *err)
{
    init_details(out, opts);
    const xb_definition *def = xb_msg_definition(msg);
    xmlNodePtr body = xb_msg_body(msg);
    snprintf(out->definition, sizeof out->definition, "%s", def->id);
    if (def->kind != XB_KIND_PACS008 && def->kind != XB_KIND_PACS009)
        return fail(out, XB_SETTLE_INVALID, err, XB_EUNSUPPORTED, body,
                    "%s is not a transfer this stage settles (pacs.008, pacs.009)", def->id);
    if (strcmp(opts->currency, "CNY"))
        return fail(out, XB_SETTLE_QUARANTINE, err, XB_ECONFIG, NULL,
                    "settlement currency %s is not supported (CNY only)", opts->currency);

    /* CNH first: the relabelling must happen before validation, which refuses CNH. */
    xmlNodePtr first_cnh = NULL;
    out->cnh_relabelled = scan_cnh(xb_msg_document(msg), opts->map_cnh, &first_cnh);
    if (out->cnh_relabelled && !opts->map_cnh) {
        out->cnh_relabelled = 0;
        return fail(out, XB_SETTLE_INVALID, err, XB_ERULE, first_cnh,
                    "CNH is not an ISO 4217 code: use CNY, or set map_cnh: true on the route");
    }
    bool unchecked = flags & XB_SETTLE_DOCUMENT_UNCHECKED;
    const char *as_received = "invalid as received: ";
    /* Unchecked, the rules run apart from the AppHdr: only their refusal is explained by the
     * Document's XSD (an AppHdr failure comes first in the full check too). */
    unsigned parts = unchecked ? CHECK_APPHDR : CHECK_APPHDR | CHECK_DOCUMENT | CHECK_RULES;
    int rc = check(out, msg, parts, XB_SETTLE_INVALID, err, as_received);
    if (rc == 0 && unchecked &&
        (rc = check(out, msg, CHECK_RULES, XB_SETTLE_INVALID, err, as_received)) < 0)
        rc = refused_unchecked(out, msg, rc, err);
    if (rc < 0)
        return rc;

    xmlNodePtr grp = xb_xml_child(body, "GrpHdr");
    text_into(out->msg_id, sizeof out->msg_id, grp ? xb_xml_child(grp, "MsgId") : NULL);
    size_t n = count_tx(body);
    out->tx = calloc(n ? n : 1, sizeof *out->tx);
    tx_work *w = calloc(n ? n : 1, sizeof *w);
    if (!out->tx || !w) {
        free(w);
        return fail(out, XB_SETTLE_QUARANTINE, err, XB_ENOMEM, NULL, "out of memory");
    }
    rc = read_all(out, w, body, grp, def->kind, opts, fx, err);
    if (rc < 0) {
        free(w);
        return unchecked ? refused_unchecked(out, msg, rc, err) : rc;
    }

    /* Pass 2: rewrite. */
    int changed = out->cnh_relabelled > 0;
    for (size_t i = 0; i < out->n_tx; i++)
        changed |= write_tx(&out->tx[i], &w[i], def->kind);
    free(w);
    changed |= write_group(out, grp, out->n_tx > 1);
    changed |= write_sttlm_inf(out, grp, opts);
    changed |= write_agents(body->children, opts, &out->agents_identified);

    rc = check(out, msg, CHECK_DOCUMENT | CHECK_RULES, XB_SETTLE_QUARANTINE, err,
               "settled message fails validation: ");
    if (rc < 0)
        return rc;
    out->verdict = changed ? XB_SETTLE_SETTLED : XB_SETTLE_UNCHANGED;
    return 0;
}

/* ---- details as JSON ---------------------------------------------------------------------- */

/* An amount as its currency's minor units allow, else every digit it holds (the details must
 * still say what was there when the currency is unknown). */
static void amount_text(char buf[64], const xb_amount *a)
{
    if (xb_amount_format(buf, 64, a) < 0)
        xb_dec_format(buf, 64, &a->value);
}

static json_t *amount_json(const xb_amount *a)
{
    char buf[64];
    amount_text(buf, a);
    return json_pack("{s:s, s:s}", "ccy", a->ccy, "amount", buf);
}

static json_t *tx_json(const xb_settle_tx *t, const xb_settle_details *d)
{
    char rate[64];
    xb_dec_format(rate, sizeof rate, &t->rate);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b, s:b}", "uetr", t->uetr, "end_to_end_id",
        t->end_to_end_id, "tx_id", t->tx_id, "counterparty", t->counterparty, "sttlm_date",
        t->sttlm_date, "original", amount_json(&t->original), "settled", amount_json(&t->settled),
        "converted", t->converted, "instd_amt_added", t->instd_amt_added, "leasing", t->leasing);
    if (t->converted) {
        json_object_set_new(o, "rate", json_string(rate));
        json_object_set_new(o, "rate_unit", json_string("CNY per 1 unit"));
        json_object_set_new(o, "rate_date", json_string(t->sttlm_date));
        json_object_set_new(o, "rate_source", json_string(d->rate_source));
    }
    if (t->purpose[0])
        json_object_set_new(o, "purpose", json_string(t->purpose));
    return o;
}

json_t *xb_settle_details_json(const xb_settle_details *d)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:i}", "verdict",
                  xb_settle_verdict_name(d->verdict), "definition", d->definition, "msg_id",
                  d->msg_id, "currency", d->currency, "rounding", xb_rounding_name(d->rounding),
                  "rate_source", d->rate_source, "cnh_relabelled", d->cnh_relabelled,
                  "clearing_set", d->clearing_set, "agents_identified", d->agents_identified);
    if (!o)
        return NULL;
    json_t *txs = json_array();
    for (size_t i = 0; i < d->n_tx; i++)
        json_array_append_new(txs, tx_json(&d->tx[i], d));
    json_object_set_new(o, "tx", txs);
    if (d->verdict == XB_SETTLE_SETTLED || d->verdict == XB_SETTLE_UNCHANGED) {
        json_object_set_new(o, "nb_of_txs", json_integer((json_int_t)d->n_tx));
        json_object_set_new(o, "total", amount_json(&d->total));
    }
    if (d->reason[0]) {
        json_object_set_new(o, "reason", json_string(d->reason));
        if (d->reason_path[0])
            json_object_set_new(o, "path", json_string(d->reason_path));
    }
    return o;
}

/* ---- details as canonical JSON text -------------------------------------------------------- */

/* The same object as xb_settle_details_json (plus "route"), written as the bytes jansson's
 * JSON_SORT_KEYS|JSON_COMPACT dump of it gives, without a tree: keys in strcmp order, written in
 * that order by hand (test_settle_convert compares the two byte for byte over every branch, and
 * fuzz_settle on every input jansson can represent). Building, sorting, dumping and freeing the
 * tree per settled copy was ~5% of xborder's CPU on a settling route (issue #8 profile), and the
 * frees landed on the pipeline's thread. */
typedef struct jtext {
    xb_buf *b;
    int rc;
} jtext;

static void jt_raw(jtext *t, const char *s)
{
    if (t->rc == 0)
        t->rc = xb_buf_append(t->b, s, strlen(s));
}

/* key_colon: the key already quoted with its colon and, unless first, the comma before it */
static void jt_str(jtext *t, const char *key_colon, const char *v)
{
    jt_raw(t, key_colon);
    if (t->rc == 0)
        t->rc = xb_policy_json_string(t->b, v, strlen(v));
}

static void jt_bool(jtext *t, const char *key_colon, bool v)
{
    jt_raw(t, key_colon);
    jt_raw(t, v ? "true" : "false");
}

static void jt_int(jtext *t, const char *key_colon, long long v)
{
    char n[24];
    snprintf(n, sizeof n, "%lld", v);
    jt_raw(t, key_colon);
    jt_raw(t, n);
}

static void jt_amount(jtext *t, const char *key_colon, const xb_amount *a)
{
    char buf[64];
    amount_text(buf, a);
    jt_raw(t, key_colon);
    jt_str(t, "{\"amount\":", buf);
    jt_str(t, ",\"ccy\":", a->ccy);
    jt_raw(t, "}");
}

static void jt_tx(jtext *t, const xb_settle_tx *x, const xb_settle_details *d)
{
    jt_bool(t, "{\"converted\":", x->converted);
    jt_str(t, ",\"counterparty\":", x->counterparty);
    jt_str(t, ",\"end_to_end_id\":", x->end_to_end_id);
    jt_bool(t, ",\"instd_amt_added\":", x->instd_amt_added);
    jt_bool(t, ",\"leasing\":", x->leasing);
    jt_amount(t, ",\"original\":", &x->original);
    if (x->purpose[0])
        jt_str(t, ",\"purpose\":", x->purpose);
    if (x->converted) {
        char rate[64];
        xb_dec_format(rate, sizeof rate, &x->rate);
        jt_str(t, ",\"rate\":", rate);
        jt_str(t, ",\"rate_date\":", x->sttlm_date);
        jt_str(t, ",\"rate_source\":", d->rate_source);
        jt_str(t, ",\"rate_unit\":", "CNY per 1 unit");
    }
    jt_amount(t, ",\"settled\":", &x->settled);
    jt_str(t, ",\"sttlm_date\":", x->sttlm_date);
    jt_str(t, ",\"tx_id\":", x->tx_id);
    jt_str(t, ",\"uetr\":", x->uetr);
    jt_raw(t, "}");
}

int xb_settle_details_write_json(xb_buf *out, const xb_settle_details *d, const char *route)
{
    jtext t = {.b = out, .rc = 0};
    bool totals = d->verdict == XB_SETTLE_SETTLED || d->verdict == XB_SETTLE_UNCHANGED;
    jt_int(&t, "{\"agents_identified\":", d->agents_identified);
    jt_bool(&t, ",\"clearing_set\":", d->clearing_set);
    jt_int(&t, ",\"cnh_relabelled\":", d->cnh_relabelled);
    jt_str(&t, ",\"currency\":", d->currency);
    jt_str(&t, ",\"definition\":", d->definition);
    jt_str(&t, ",\"msg_id\":", d->msg_id);
    if (totals)
        jt_int(&t, ",\"nb_of_txs\":", (long long)d->n_tx);
    if (d->reason[0] && d->reason_path[0])
        jt_str(&t, ",\"path\":", d->reason_path);
    jt_str(&t, ",\"rate_source\":", d->rate_source);
    if (d->reason[0])
        jt_str(&t, ",\"reason\":", d->reason);
    jt_str(&t, ",\"rounding\":", xb_rounding_name(d->rounding));
    if (route)
        jt_str(&t, ",\"route\":", route);
    if (totals)
        jt_amount(&t, ",\"total\":", &d->total);
    jt_raw(&t, ",\"tx\":[");
    for (size_t i = 0; i < d->n_tx; i++) {
        if (i)
            jt_raw(&t, ",");
        jt_tx(&t, &d->tx[i], d);
    }
    jt_str(&t, "],\"verdict\":", xb_settle_verdict_name(d->verdict));
    jt_raw(&t, "}");
    return t.rc;
}
