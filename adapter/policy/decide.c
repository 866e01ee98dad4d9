/* decide.c — one message, one destination, one transfer time: the verdict and what leaves.
 *
 * Owns: xb_policy_decide (catalog version by time, scenario, the walk via classify.c), important
 * and core data, the legal basis and the CAC 2024 thresholds over the counter snapshot (new
 * subjects as keyed digests), then the in-place transformation, re-validation against the XSD
 * and serialisation.
 * Never: writes counters (it returns deltas), reads files, or lets a message out when anything is
 * not understood (fail closed).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/internal.h"
#include "adapter/policy/walk.h"
#include "iso20022/registry.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

/* ---- counters and legal basis ------------------------------------------------------------ */

typedef struct subject_parts {
    const char *acct, *name, *birth;
    bool pi, spi;
} subject_parts;

static int add_subject(xb_policy_decision *d, xb_pi cls, const uint8_t *dg,
                       const xb_policy_counters *ctr, xb_error *err)
{
    for (size_t i = 0; i < d->n_subjects; i++)
        if (d->subjects[i].cls == cls && !memcmp(d->subjects[i].digest, dg, XB_POLICY_DIGEST_LEN))
            return 0; /* the same person twice in one message */
    bool seen = false;
    if (ctr && ctr->seen) {
        int rc = ctr->seen(ctr->ctx, ctr->year, cls, dg, &seen, err);
        if (rc)
            return rc;
    }
    if (seen)
        return 0;
    xb_policy_subject *v = realloc(d->subjects, (d->n_subjects + 1) * sizeof *v);
    if (!v)
        return XB_ENOMEM;
    d->subjects = v;
    v[d->n_subjects].cls = cls;
    memcpy(v[d->n_subjects].digest, dg, XB_POLICY_DIGEST_LEN);
    d->n_subjects++;
    return 0;
}

/* New subjects of this message: one per natural person whose PI / SPI leaves. */
static int collect_subjects(xb_policy_decision *d, const walk_ctx *w, const xb_policy_counters *ctr,
                            const xb_policy_keys *keys, xb_error *err)
{
    for (size_t p = 0; p < w->nparties; p++) {
        if (w->parties[p].org)
            continue;
        subject_parts s = {0};
        xb_buf all = XB_BUF_INIT;
        for (size_t i = 0; i < w->nhits; i++) {
            const hit *h = &w->hits[i];
            if (h->party != (int)p || !pol_exported(h) || h->pi == XB_PI_NONE)
                continue;
            s.pi |= h->pi == XB_PI_PI;
            s.spi |= h->pi == XB_PI_SPI;
            const char *t = pol_text_of(h->node);
            if (h->rule->subject == SUBJ_ACCOUNT && !s.acct)
                s.acct = t;
            else if (h->rule->subject == SUBJ_NAME && !s.name)
                s.name = t;
            else if (h->rule->subject == SUBJ_BIRTH && !s.birth)
                s.birth = t;
            if (xb_buf_puts(&all, t) || xb_buf_puts(&all, "|")) {
                xb_buf_free(&all);
                return XB_ENOMEM;
            }
        }
        if (!s.pi && !s.spi) {
            xb_buf_free(&all);
            continue;
        }
        /* Identity: the account, else name + birth date, else everything that leaves. */
        uint8_t dg[XB_POLICY_DIGEST_LEN];
        xb_buf id = XB_BUF_INIT;
        const char *kind = s.acct ? "acct" : s.name ? "name" : "party";
        int rc = s.acct   ? xb_buf_puts(&id, s.acct)
                 : s.name ? xb_buf_printf(&id, "%s|%s", s.name, s.birth ? s.birth : "")
                          : xb_buf_append(&id, all.data, all.len);
        if (!rc)
            rc = pol_subject_digest(dg, keys, kind, id.data ? id.data : "", id.len);
        xb_buf_free(&id);
        xb_buf_free(&all);
        if (rc == XB_ENOTFOUND)
            return xb_error_set(err, XB_ENOTFOUND, NULL, "no counter key: cannot count subjects");
        if (!rc && s.pi)
            rc = add_subject(d, XB_PI_PI, dg, ctr, err);
        if (!rc && s.spi)
            rc = add_subject(d, XB_PI_SPI, dg, ctr, err);
        if (rc)
            return rc;
    }
    return 0;
}

static void warn(xb_policy_decision *d, const char *what, int64_t n, int64_t thr, int permille)
{
    /* n * 1000 >= thr * permille, in integers: no float near a legal threshold. */
    if (n < thr && n * 1000 >= thr * (int64_t)permille && d->n_warnings < 4)
        snprintf(d->warnings[d->n_warnings++], sizeof d->warnings[0],
                 "%s count %lld is at %lld%% of the %lld threshold", what, (long long)n,
                 (long long)(n * 100 / thr), (long long)thr);
}

/* Art. 6: FTZ processors may export what is not on the zone's negative list. */
static bool negative_list_hit(const walk_ctx *w, const xb_policy_catalog *cat)
{
    for (size_t i = 0; i < w->nhits; i++)
        if (w->hits[i].rule && pol_exported(&w->hits[i]) &&
            pol_catalog_listed(cat->negative, cat->nnegative, w->hits[i].rule))
            return true;
    return false;
}

static bool use_basis(xb_policy_decision *d, const xb_policy_destination *dest, xb_basis b,
                      int64_t t)
{
    const pol_basis *pb = pol_destination_basis(dest, b, t);
    if (!pb)
        return false;
    d->basis = b;
    pol_copy_text(d->basis_ref, sizeof d->basis_ref, pb->ref ? pb->ref : "");
    return true;
}

static int resolve_basis(xb_policy_decision *d, const walk_ctx *w, const xb_policy_catalog *cat,
                         const pol_scenario *sc, const xb_policy_destination *dest,
                         const xb_policy_counters *ctr, const xb_policy_keys *keys,
                         const xb_policy_opts *opts, xb_error *err)
{
    int64_t t = d->transfer_time;
    if (d->pi == XB_PI_NONE) {
        d->basis = XB_BASIS_NOT_PI;
        return 0;
    }
    /* Arts. 3-6 exemptions are not counted towards the Art. 7/8 volumes. */
    if (sc->exempt_basis && use_basis(d, dest, sc->exempt_basis, t))
        return 0;
    if (!negative_list_hit(w, cat) && use_basis(d, dest, XB_BASIS_FTZ_NOT_ON_NEGATIVE_LIST, t))
        return 0;
    int rc = collect_subjects(d, w, ctr, keys, err);
    if (rc)
        return rc;
    d->pi_before = ctr ? ctr->pi : 0;
    d->spi_before = ctr ? ctr->spi : 0;
    d->pi_after = d->pi_before;
    d->spi_after = d->spi_before;
    for (size_t i = 0; i < d->n_subjects; i++)
        (*(d->subjects[i].cls == XB_PI_PI ? &d->pi_after : &d->spi_after))++;
    d->counted = true;
    const pol_thresholds *th = &cat->thr;
    int pm = opts && opts->warn_permille > 0 ? opts->warn_permille : 800;
    warn(d, "PI", d->pi_after, th->scc_pi, pm);
    warn(d, "PI", d->pi_after, th->sa_pi, pm);
    warn(d, "SPI", d->spi_after, th->scc_spi, pm);
    warn(d, "SPI", d->spi_after, th->sa_spi, pm);
    /* CAC 2024 Provisions Arts. 7-8: 以上 means ">=". */
    if (d->spi_after >= th->sa_spi || d->pi_after >= th->sa_pi) {
        if (use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
            return 0;
        pol_set_reason(d, XB_VERDICT_QUARANTINE,
                       "security assessment required (PI %lld >= %lld or SPI %lld >= %lld) and "
                       "destination has no approved assessment in force",
                       (long long)d->pi_after, (long long)th->sa_pi, (long long)d->spi_after,
                       (long long)th->sa_spi);
        return 0;
    }
    if (d->spi_after >= th->scc_spi || d->pi_after >= th->scc_pi) {
        if (use_basis(d, dest, XB_BASIS_SCC_FILED, t) ||
            use_basis(d, dest, XB_BASIS_PIP_CERTIFIED, t) ||
            use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
            return 0;
        pol_set_reason(
            d, XB_VERDICT_QUARANTINE,
            "standard contract or certification required (PI %lld >= %lld or SPI %lld >= "
            "%lld) and destination has none in force",
            (long long)d->pi_after, (long long)th->scc_pi, (long long)d->spi_after,
            (long long)th->scc_spi);
        return 0;
    }
    if (use_basis(d, dest, XB_BASIS_EXEMPT_ART5_4_DEMINIMIS, t) ||
        use_basis(d, dest, XB_BASIS_SCC_FILED, t) ||
        use_basis(d, dest, XB_BASIS_PIP_CERTIFIED, t) ||
        use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
        return 0;
    pol_set_reason(d, XB_VERDICT_QUARANTINE, "destination %s has no legal basis in force for PI",
                   d->destination);
    return 0;
}

/* ---- transformation -------------------------------------------------------------------- */

static void set_text(xmlNodePtr n, const char *v)
{
    /* A leaf's one text node gets the new value in place (for a text node xmlNodeSetContent
     * copies the value raw, no entity parsing); otherwise the children are replaced by one
     * text node (xmlNodeAddContent is raw too). Either way "&" in a value stays "&". */
    xmlNodePtr t = n->children;
    if (t && !t->next && t->type == XML_TEXT_NODE) {
        xmlNodeSetContent(t, (const xmlChar *)v);
        return;
    }
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, (const xmlChar *)v);
}

static int transform(xb_policy_decision *d, walk_ctx *w, const xb_policy_keys *keys)
{
    xmlNodePtr *gone = calloc(w->nhits + 1, sizeof *gone);
    size_t ngone = 0;
    int rc = 0;
    if (!gone)
        return XB_ENOMEM;
    xb_buf out = XB_BUF_INIT; /* one buffer for every new value: reset, not reallocated */
    pol_mac_memo memo;
    memo.n = 0;
    for (size_t i = 0; i < w->nhits && !rc; i++) {
        hit *h = &w->hits[i];
        xb_buf_reset(&out);
        bool remove = false;
        const char *value = h->redacted ? h->redacted : pol_text_of(h->node);
        switch (h->kind) {
        case XB_ACT_PASS:
            break;
        case XB_ACT_DROP:
            if (h->rule->placeholder && !h->rule->subtree) {
                set_text(h->node, h->rule->placeholder);
                snprintf(h->detail, sizeof h->detail, "placeholder %s", h->rule->placeholder);
            } else {
                gone[ngone++] = h->root;
            }
            break;
        case XB_ACT_MASK:
            if (h->act->kind != XB_ACT_MASK) { /* detector redaction under a PASS profile */
                set_text(h->node, value);
                break;
            }
            /* fall through */
        default:
            rc = pol_action_apply(&out, &remove, h->act, h->rule, h->node, value, keys, &memo);
            if (rc == XB_EINVAL) {
                pol_set_reason(d, XB_VERDICT_QUARANTINE, "%s cannot be applied to %s", h->act->text,
                               h->rule->id);
                rc = 0;
            } else if (!rc && remove) {
                gone[ngone++] = h->node;
            } else if (!rc) {
                set_text(h->node, out.data ? out.data : "");
            }

            break;
        }
    }
    xb_buf_free(&out);
    pol_mac_memo_wipe(&memo); /* it held personal data in clear */
    /* Every removed element is unlinked first, so that one inside another removed subtree is
     * detached from it and freed on its own; then each distinct one is freed once. (Checking
     * every ancestor against the whole list instead was the largest cost of this function.) */
    for (size_t i = 0; i < ngone && !rc; i++)
        xmlUnlinkNode(gone[i]);
    for (size_t i = 0; i < ngone && !rc; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = gone[k] == gone[i];
        if (!dup)
            xmlFreeNode(gone[i]);
    }
    free(gone);
    return rc;
}

static void ids(xb_policy_decision *d, const xb_msg *msg, const walk_ctx *w)
{
    const xmlNode *body = xb_msg_body(msg);
    const xmlNode *n = xb_xml_find(body, "GrpHdr/MsgId");
    if (!n)
        n = xb_xml_find(body, "MsgId/Id");
    if (!n && xb_msg_apphdr(msg))
        n = xb_xml_find(xb_msg_apphdr(msg), "BizMsgIdr");
    pol_copy_text(d->msg_id, sizeof d->msg_id, n ? pol_text_of(n) : "");
    pol_copy_text(d->uetr, sizeof d->uetr, w->uetr);
}

static int setup(xb_policy_decision *d, xb_msg *msg, const xb_policy_destination *dest, int64_t t,
                 const xb_policy_opts *opts, xb_error *err)
{
    memset(d, 0, sizeof *d);
    d->transfer_time = t;
    d->year = xb_policy_year_cn(t);
    d->level = 1;
    pol_copy_text(d->destination, sizeof d->destination, xb_policy_destination_name(dest));
    pol_copy_text(d->scenario, sizeof d->scenario, xb_policy_destination_scenario(dest));
    const xb_definition *def = xb_msg_definition(msg);
    pol_copy_text(d->definition, sizeof d->definition, def ? def->id : "");
    /* The caller usually has the bytes (and hashes them once for its own log); otherwise the
     * canonical form (exclusive C14N) stands in for them. */
    if (opts && opts->msg_sha256 && strlen(opts->msg_sha256) == 64) {
        memcpy(d->msg_sha256, opts->msg_sha256, 65);
        d->msg_hash_of_bytes = true;
        return 0;
    }
    uint8_t h[32];
    int rc = xb_write_canonical_sha256(h, msg, err);
    if (!rc)
        xb_hex(d->msg_sha256, h, 32);
    return rc;
}

static bool scenario_allows(const pol_scenario *sc, const xb_msg *msg)
{
    char shortname[16];
    if (!sc->messages)
        return true;
    xb_registry_short_name(xb_msg_definition(msg), shortname, sizeof shortname);
    for (size_t i = 0; i < sc->nmessages; i++)
        if (!strcmp(sc->messages[i], shortname))
            return true;
    return false;
}

static int finish(xb_policy_decision *d, walk_ctx *w, xb_msg *msg, const xb_policy_keys *keys,
                  const xb_policy_opts *opts)
{
    int rc = transform(d, w, keys);
    if (rc == XB_ENOTFOUND) {
        pol_set_reason(d, XB_VERDICT_QUARANTINE,
                       "no pseudonymisation key for destination %s (see its pseudo: key_id/epoch)",
                       d->destination);
        return 0;
    }
    if (rc || d->verdict != XB_VERDICT_DELIVER || (opts && opts->caller_validates))
        return rc;
    xb_error verr;
    xb_error_clear(&verr);
    /* The AppHdr is validated again only when something in it changed (usually only its
     * signature is dropped); the Document always is. */
    bool hdr_changed = false;
    for (size_t i = 0; i < w->nhits; i++)
        hdr_changed |= w->hits[i].anchor == xb_msg_apphdr(msg) && w->hits[i].kind != XB_ACT_PASS;
    int vrc = hdr_changed
                  ? xb_schema_validate_msg(msg, &verr)
                  : xb_schema_validate_node(xb_msg_definition(msg), xb_msg_document(msg), &verr);
    if (vrc) {
        pol_set_reason(d, XB_VERDICT_QUARANTINE, "transformed message fails its XSD at %s: %s",
                       verr.path, verr.message);
        return 0;
    }
    return xb_write_message(&d->output, msg, NULL);
}

int xb_policy_decide(xb_policy_decision *d, xb_msg *msg, const xb_policy_catalog_set *set,
                     const xb_policy_destination *dest, int64_t t, const xb_policy_counters *ctr,
                     const xb_policy_keys *keys, const xb_policy_opts *opts, xb_error *err)
{
    int rc = setup(d, msg, dest, t, opts, err);
    if (rc)
        return rc;
    if (ctr && ctr->year != d->year)
        return xb_error_set(
            err, XB_EINVAL, NULL,
            "counter snapshot is for %d but the transfer falls in %d (Asia/Shanghai)", ctr->year,
            d->year);
    const xb_policy_catalog *cat = NULL;
    xb_error cerr;
    if (xb_policy_catalog_select(&cat, set, pol_destination_catalog(dest), t, &cerr)) {
        pol_set_reason(d, XB_VERDICT_QUARANTINE, "%s", cerr.message);
        return 0;
    }
    pol_copy_text(d->catalog_id, sizeof d->catalog_id, xb_policy_catalog_id(cat));
    pol_copy_text(d->catalog_version, sizeof d->catalog_version, cat->version);
    pol_copy_text(d->catalog_sha256, sizeof d->catalog_sha256, cat->file->sha256);
    const pol_scenario *sc = pol_catalog_scenario(cat, d->scenario);
    const pol_msgmap *map = pol_catalog_map(cat, xb_msg_definition(msg)->ns);
    const pol_msgmap *hmap = NULL;
    if (xb_msg_apphdr(msg))
        hmap = pol_catalog_map(cat, xb_msg_hdr_definition(msg)->ns);
    if (!sc || !map || (xb_msg_apphdr(msg) && !hmap) || !scenario_allows(sc, msg)) {
        pol_set_reason(d, XB_VERDICT_QUARANTINE, "%s",
                       !sc    ? "scenario of the destination is not in the catalog version in force"
                       : !map ? "message definition is not in the catalog"
                       : (xb_msg_apphdr(msg) && !hmap) ? "AppHdr definition is not in the catalog"
                                                       : "scenario does not cover this message");
        return 0;
    }
    walk_ctx w = {.cat = cat};
    if (hmap) {
        w.anchor = xb_msg_apphdr(msg);
        pol_walk(&w, xb_msg_apphdr(msg), hmap->root, NULL, NULL);
    }
    w.anchor = xb_msg_document(msg);
    pol_walk(&w, xb_msg_document(msg), map->root, NULL, NULL);
    ids(d, msg, &w);
    rc = w.rc;
    if (!rc)
        rc = pol_classify(d, &w, cat, sc);
    if (!rc && d->tier == XB_TIER_IMPORTANT &&
        !use_basis(d, dest, XB_BASIS_SEC_ASSESSMENT_APPROVED, t))
        pol_set_reason(d, XB_VERDICT_BLOCK,
                       "important data needs an approved security assessment for %s",
                       d->destination);
    if (!rc && d->verdict == XB_VERDICT_DELIVER && d->basis == XB_BASIS_NONE)
        rc = resolve_basis(d, &w, cat, sc, dest, ctr, keys, opts, err);
    /* Paths first: the transformation frees dropped elements. */
    if (!rc)
        rc = pol_record_fields(d, &w);
    if (!rc && d->verdict == XB_VERDICT_DELIVER)
        rc = finish(d, &w, msg, keys, opts);
    for (size_t i = 0; !rc && i < d->n_fields; i++)
        memcpy(d->fields[i].detail, w.hits[i].detail, sizeof d->fields[i].detail);
    if (!rc && d->verdict != XB_VERDICT_DELIVER) {
        /* Nothing leaves, so nothing is counted; *_after keep the totals this message would
         * have made, which is what the verdict was judged on. */
        free(d->subjects);
        d->subjects = NULL;
        d->n_subjects = 0;
        d->counted = false;
        xb_buf_free(&d->output);
    }
    pol_free_walk(&w);
    if (rc && !err)
        return rc;
    if (rc && err && err->code == XB_OK)
        xb_error_set(err, rc, NULL, "policy decision failed (%s)", xb_error_name(rc));
    return rc;
}

void xb_policy_decision_free(xb_policy_decision *d)
{
    if (!d)
        return;
    free(d->fields);
    free(d->subjects);
    xb_buf_free(&d->output);
    memset(d, 0, sizeof *d);
}
