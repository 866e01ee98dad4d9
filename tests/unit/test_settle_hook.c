/* test_settle_hook.c — the settlement hook's fast paths (issue #8) give the same results as the
 * slow ones they replace:
 *   - settling the policy's tree in place == parsing the policy's bytes and settling that (same
 *     bytes out, same verdict, same error), for every settle fixture, after a policy-like change
 *     (a pseudonymised Chinese debtor name);
 *   - with XB_SETTLE_DOCUMENT_UNCHECKED (the Document validated once, after settlement) an
 *     invalid AppHdr is still INVALID as received; a Document that fails its XSD and that the
 *     rules or the read pass refuse is reported exactly as by the full check; one that fails
 *     where settlement does not read still never leaves (the one validation, after);
 *   - the outcome's ids from the settled-message table == the ids read from a parse of the sent
 *     bytes; the table answers only for the exact bytes, once; a replaced entry and another
 *     hook's bytes fall back to the parse; the ledger goes SENT -> ACSP either way;
 *   - the ledger's tables are created once per store, not once per process;
 *   - settling leaves the SENT rows pending: nothing is in the ledger until the commit, which
 *     writes a batch at once; a discarded pending writes nothing; a row the ledger refuses costs
 *     only its own message (ok[k] false), the others are recorded (issue #8's batched commit);
 *   - two threads settling at once through one hook give the bytes one thread gives.
 * Fixtures: fixtures/messages/settle (CNY, CIPS, USD/EUR/JPY/CHF, CNH), rates cfets-2026-11.csv.
 */
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/config.h"
#include "adapter/settle.h"
#include "adapter/settle_hook.h"
#include "adapter/settle_sent.h"
#include "adapter/state/ledger.h"
#include "adapter/state/store.h"
#include "iso20022/buf.h"
#include "iso20022/pacs002.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

#define MSG_DIR XB_FIXTURES "/messages/settle/"

static char g_dir[64];

static const char *const FIXTURES[] = {
    "pacs008-usd.xml",
    "pacs008-multi.xml",
    "pacs008-cny.xml",
    "pacs008-cny-3dp.xml",
    "pacs008-nobah.xml",
    "pacs008-xccy.xml",
    "pacs008-chf.xml",
    "pacs008-cnh.xml",
    "pacs008-jpy-max.xml",
    "pacs008-leasing.xml",
    "pacs008-norate.xml",
    "pacs008-multi-usd.xml",
    "pacs009-usd.xml",
    "pacs009-cov-eur.xml",
    "pacs008-usd-prevday.xml",
    "pacs008-no-bop.xml",
    "pacs008-leasing-missing.xml",
};

static void read_fixture(xb_buf *b, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", MSG_DIR, name);
    assert_int_equal(xb_buf_read_file(b, path, 0), 0);
}

static xb_msg *parse_buf(const char *data, size_t len)
{
    xb_msg *m = NULL;
    xb_error err = {0};
    if (xb_msg_parse(&m, data, len, NULL, &err))
        fail_msg("parse: %s", err.message);
    return m;
}

static void write_config(const char *path, const char *db)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "kafka: {bootstrap.servers: embedded}\n"
            "routes:\n"
            "  - name: payments-to-hk\n"
            "    topics: [payments.outbound]\n"
            "    messages: [pacs.008, pacs.009]\n"
            "    destination: hk-correspondent\n"
            "    settle: {currency: CNY, clearing: CIP, rates: {file: %s},\n"
            "             agents: [{bic: BKCHHKHH, cips: C1040000128}]}\n"
            "policy: {catalogs: [c.yaml], keys: keys}\n"
            "destinations: {hk-correspondent: {url: \"https://127.0.0.1:1/x\", country: HK}}\n"
            "audit: {file: audit.log}\n"
            "dlq: {topic: dlq}\n"
            "state: {store: \"sqlite:%s\"}\n",
            XB_FIXTURES "/rates/cfets-2026-11.csv", db);
    fclose(f);
}

typedef struct fixture_env {
    char cfg_path[160];
    xb_config *cfg;
    xb_settle_hook *h;
} fixture_env;

static void env_open(fixture_env *e, const char *name, const char *db)
{
    snprintf(e->cfg_path, sizeof e->cfg_path, "%s/%s", g_dir, name);
    write_config(e->cfg_path, db);
    xb_error err = {0};
    assert_int_equal(xb_config_load(&e->cfg, e->cfg_path, &err), 0);
    if (xb_settle_hook_new(&e->h, e->cfg_path, &err))
        fail_msg("hook: %s", err.message);
}

static void env_close(fixture_env *e)
{
    xb_settle_hook_free(e->h);
    xb_config_free(e->cfg);
}

/* A policy-like change to the tree (a pseudonymised name), then the Document validated and
 * written as the policy does when no settlement follows: the bytes are what the hook parses and
 * checks in full when it is given no tree. */
static void policy_like(xb_msg *m, xb_buf *out)
{
    xmlNodePtr tx = xb_xml_child(xb_msg_body(m), "CdtTrfTxInf");
    xmlNodePtr nm = tx ? xb_xml_find(tx, "Dbtr/Nm") : NULL;
    if (nm)
        xmlNodeSetContent(nm, (const xmlChar *)"假名-PSD-7f3a9c");
    xb_error err = {0};
    assert_int_equal(xb_schema_validate_node(xb_msg_definition(m), xb_msg_document(m), &err), 0);
    assert_int_equal(xb_write_message(out, m, &err), 0);
}

/* The hook hands its details over as the decision record's text: a JSON string holding an object
 * (pipeline.h, xb_pipeline_settle_fn). Returns that text after checking it is an object with a
 * verdict. */
static const char *details_text(const json_t *detail)
{
    const char *t = json_string_value(detail);
    if (!t)
        return "(none)";
    json_t *j = json_loads(t, 0, NULL);
    assert_true(json_is_object(j));
    assert_non_null(json_string_value(json_object_get(j, "verdict")));
    json_decref(j);
    return t;
}

static void tree_and_reparse_give_the_same_bytes(void **state)
{
    (void)state;
    fixture_env e;
    env_open(&e, "same.yaml", "same.db");
    const json_t *settle = e.cfg->routes[0].settle;
    size_t settled = 0, refused = 0;
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        xb_buf in = XB_BUF_INIT, out = XB_BUF_INIT;
        read_fixture(&in, FIXTURES[i]);
        xb_msg *m = parse_buf(in.data, in.len);
        policy_like(m, &out);
        char *x_old = NULL, *x_new = NULL;
        size_t l_old = 0, l_new = 0;
        json_t *d_old = NULL, *d_new = NULL;
        xb_error e_old = {0}, e_new = {0};
        /* before: the hook parses the policy's bytes; after: it settles the policy's tree */
        int rc_old = xb_settle_pipeline_hook(e.h, settle, NULL, out.data, out.len, &x_old, &l_old,
                                             &d_old, &e_old);
        int rc_new = xb_settle_pipeline_hook(e.h, settle, m, out.data, out.len, &x_new, &l_new,
                                             &d_new, &e_new);
        if (rc_old != rc_new || e_old.code != e_new.code)
            fail_msg("%s: rc %d/%d (%s | %s)", FIXTURES[i], rc_old, rc_new, e_old.message,
                     e_new.message);
        assert_string_equal(details_text(d_old), details_text(d_new));
        if (rc_old == 0) {
            assert_int_equal(l_old, l_new);
            if (memcmp(x_old, x_new, l_old))
                fail_msg("%s: settled bytes differ", FIXTURES[i]);
            settled++;
        } else {
            assert_null(x_new);
            assert_string_equal(e_old.message, e_new.message);
            refused++;
        }
        free(x_old);
        free(x_new);
        json_decref(d_old);
        json_decref(d_new);
        xb_msg_free(m);
        xb_buf_free(&in);
        xb_buf_free(&out);
    }
    /* both kinds of outcome were compared, not only one */
    assert_true(settled >= 8);
    assert_true(refused >= 2);
    env_close(&e);
}

static void load_opts(xb_settle_opts *o, const fixture_env *e)
{
    xb_error err = {0};
    assert_int_equal(xb_settle_opts_from_tree(o, e->cfg->routes[0].settle, "settle", &err), 0);
}

/* Settles `in` twice, unflagged and with XB_SETTLE_DOCUMENT_UNCHECKED, after `edit` (which
 * makes it invalid, unless it already is), and asserts both refuse it with the same code,
 * verdict, message and path. */
static void assert_unchecked_refuses_alike(const xb_settle_opts *o, const xb_fx_table *fx,
                                           const xb_buf *in, void (*edit)(xb_msg *m))
{
    xb_msg *m0 = parse_buf(in->data, in->len), *m1 = parse_buf(in->data, in->len);
    edit(m0);
    edit(m1);
    xb_settle_details d0, d1;
    xb_error e0 = {0}, e1 = {0};
    int r0 = xb_settle_message_ex(&d0, m0, o, fx, 0, &e0);
    int r1 = xb_settle_message_ex(&d1, m1, o, fx, XB_SETTLE_DOCUMENT_UNCHECKED, &e1);
    assert_true(r0 < 0);
    assert_int_equal(r0, r1);
    assert_int_equal(d0.verdict, d1.verdict);
    assert_string_equal(e0.message, e1.message);
    assert_string_equal(e0.path, e1.path);
    xb_settle_details_free(&d0);
    xb_settle_details_free(&d1);
    xb_msg_free(m0);
    xb_msg_free(m1);
}

static void drop_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr n = xb_xml_child(parent, name);
    assert_non_null(n);
    xmlUnlinkNode(n);
    xmlFreeNode(n);
}

static void leave_as_received(xb_msg *m)
{
    (void)m;
}

/* The read pass cannot price a transaction without its amount (and the XSD requires one). */
static void drop_first_amount(xb_msg *m)
{
    drop_child(xb_xml_child(xb_msg_body(m), "CdtTrfTxInf"), "IntrBkSttlmAmt");
}

/* The rules refuse the count (and the XSD the missing MsgId, which the full check reports). */
static void drop_msgid_and_miscount(xb_msg *m)
{
    xmlNodePtr grp = xb_xml_child(xb_msg_body(m), "GrpHdr");
    drop_child(grp, "MsgId");
    xmlNodeSetContent(xb_xml_child(grp, "NbOfTxs"), (const xmlChar *)"7");
}

static void unchecked_flag_keeps_the_checks(void **state)
{
    (void)state;
    fixture_env e;
    env_open(&e, "flag.yaml", "flag.db");
    xb_settle_opts o;
    load_opts(&o, &e);
    xb_fx_table *fx = NULL;
    xb_error err = {0};
    assert_int_equal(xb_settle_rates_load(&fx, &o, NULL, &err), 0);

    /* An AppHdr that fails its XSD is INVALID as received, flag or not. */
    xb_buf in = XB_BUF_INIT;
    read_fixture(&in, "pacs008-usd.xml");
    xb_msg *m = parse_buf(in.data, in.len);
    drop_child(xb_msg_apphdr(m), "BizMsgIdr");
    xb_settle_details d;
    assert_int_equal(xb_settle_message_ex(&d, m, &o, fx, XB_SETTLE_DOCUMENT_UNCHECKED, &err),
                     XB_ESCHEMA);
    assert_int_equal(d.verdict, XB_SETTLE_INVALID);
    assert_non_null(strstr(d.reason, "invalid as received"));
    xb_settle_details_free(&d);
    xb_msg_free(m);

    /* A Document that fails its XSD and that the read pass or the rules refuse: reported as its
     * XSD failure, as received, exactly as by the full check. */
    assert_unchecked_refuses_alike(&o, fx, &in, drop_first_amount);
    assert_unchecked_refuses_alike(&o, fx, &in, drop_msgid_and_miscount);

    /* A Document that fails its XSD where settlement does not read: it never leaves either (the
     * one validation, after the rewrite, refuses it and names the element). */
    m = parse_buf(in.data, in.len);
    drop_child(xb_xml_child(xb_msg_body(m), "GrpHdr"), "MsgId");
    memset(&err, 0, sizeof err);
    assert_true(xb_settle_message_ex(&d, m, &o, fx, XB_SETTLE_DOCUMENT_UNCHECKED, &err) < 0);
    assert_int_equal(d.verdict, XB_SETTLE_QUARANTINE);
    assert_non_null(strstr(d.reason, "settled message fails validation"));
    assert_non_null(strstr(d.reason, "MsgId"));
    xb_settle_details_free(&d);
    xb_msg_free(m);

    /* CNH (relabelled or refused) gives the unflagged result (here: refused without map_cnh). */
    xb_buf cnh = XB_BUF_INIT;
    read_fixture(&cnh, "pacs008-cnh.xml");
    assert_unchecked_refuses_alike(&o, fx, &cnh, leave_as_received);
    xb_buf_free(&cnh);
    xb_buf_free(&in);
    xb_fx_free(fx);
    env_close(&e);
}

static void assert_same_ids(const xb_settle_sent *a, const xb_settle_sent *b)
{
    assert_string_equal(a->msg_id, b->msg_id);
    assert_string_equal(a->cre_dt_tm, b->cre_dt_tm);
    assert_string_equal(a->def_id, b->def_id);
    assert_int_equal(a->n_tx, b->n_tx);
    for (size_t i = 0; i < a->n_tx; i++) {
        assert_string_equal(a->tx[i].uetr, b->tx[i].uetr);
        assert_string_equal(a->tx[i].e2e, b->tx[i].e2e);
        assert_string_equal(a->tx[i].tx_id, b->tx[i].tx_id);
        assert_string_equal(a->tx[i].instr, b->tx[i].instr);
    }
}

static void sent_table_answers_exact_bytes_once(void **state)
{
    (void)state;
    xb_buf multi = XB_BUF_INIT, usd = XB_BUF_INIT;
    read_fixture(&multi, "pacs008-multi.xml");
    read_fixture(&usd, "pacs008-usd.xml");
    xb_msg *m = parse_buf(multi.data, multi.len);
    xb_settle_sent want, s, got;
    assert_int_equal(xb_settle_sent_read(&want, m), 0);
    assert_int_equal(want.n_tx, 3);
    assert_string_equal(want.tx[0].uetr, "8a562c67-ca16-48ba-b074-65581be6f003");

    xb_settle_sent_cache *c = xb_settle_sent_cache_new(0);
    assert_non_null(c);
    assert_int_equal(xb_settle_sent_read(&s, m), 0);
    xb_settle_sent_put(c, multi.data, multi.len, &s);
    assert_null(s.tx); /* moved into the table */
    /* the same length, one byte different: not an answer */
    char *other = malloc(multi.len);
    memcpy(other, multi.data, multi.len);
    other[multi.len / 2] ^= 1;
    assert_int_equal(xb_settle_sent_take(c, other, multi.len, &got), 0);
    assert_int_equal(xb_settle_sent_take(c, multi.data, multi.len - 1, &got), 0);
    assert_int_equal(xb_settle_sent_take(c, multi.data, multi.len, &got), 1);
    assert_same_ids(&got, &want);
    xb_settle_sent_clear(&got);
    assert_int_equal(xb_settle_sent_take(c, multi.data, multi.len, &got), 0); /* once */
    xb_settle_sent_cache_free(c);

    /* one slot: the second message replaces the first, whose lookup then misses */
    c = xb_settle_sent_cache_new(1);
    xb_msg *u = parse_buf(usd.data, usd.len);
    assert_int_equal(xb_settle_sent_read(&s, m), 0);
    xb_settle_sent_put(c, multi.data, multi.len, &s);
    assert_int_equal(xb_settle_sent_read(&s, u), 0);
    xb_settle_sent_put(c, usd.data, usd.len, &s);
    assert_int_equal(xb_settle_sent_take(c, multi.data, multi.len, &got), 0);
    assert_int_equal(xb_settle_sent_take(c, usd.data, usd.len, &got), 1);
    assert_int_equal(got.n_tx, 1);
    assert_string_equal(got.tx[0].uetr, "8a562c67-ca16-48ba-b074-65581be6f001");
    xb_settle_sent_clear(&got);
    xb_settle_sent_cache_free(c); /* frees nothing twice, leaks nothing (ASan) */
    c = xb_settle_sent_cache_new(2);
    assert_int_equal(xb_settle_sent_read(&s, u), 0);
    xb_settle_sent_put(c, usd.data, usd.len, &s);
    xb_settle_sent_cache_free(c); /* an entry never taken is freed with the table */

    free(other);
    xb_settle_sent_clear(&want);
    xb_msg_free(u);
    xb_msg_free(m);
    xb_buf_free(&multi);
    xb_buf_free(&usd);
}

static void assert_status(xb_store *st, const char *uetr, const char *want)
{
    char s[8];
    xb_error err = {0};
    assert_int_equal(xb_settle_ledger_status(s, st, uetr, &err), 0);
    assert_string_equal(s, want);
}

static char *hook_settle(fixture_env *e, const char *fixture, size_t *len)
{
    xb_buf in = XB_BUF_INIT, out = XB_BUF_INIT;
    read_fixture(&in, fixture);
    xb_msg *m = parse_buf(in.data, in.len);
    policy_like(m, &out);
    char *xml = NULL;
    json_t *detail = NULL;
    xb_error err = {0};
    if (xb_settle_pipeline_hook(e->h, e->cfg->routes[0].settle, m, out.data, out.len, &xml, len,
                                &detail, &err))
        fail_msg("%s: %s", fixture, err.message);
    json_decref(detail);
    xb_msg_free(m);
    xb_buf_free(&in);
    xb_buf_free(&out);
    return xml;
}

static void outcome_with_and_without_the_table(void **state)
{
    (void)state;
    char db[128];
    snprintf(db, sizeof db, "%s/outcome.db", g_dir);
    fixture_env a, b;
    env_open(&a, "outcome-a.yaml", db);
    env_open(&b, "outcome-b.yaml", db); /* a second process on the same ledger */
    size_t l_multi = 0, l_usd = 0;
    char *multi = hook_settle(&a, "pacs008-multi.xml", &l_multi);
    char *usd = hook_settle(&a, "pacs008-usd.xml", &l_usd);
    xb_store *st = xb_settle_hook_store(a.h);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "SENT");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f001", "SENT");
    xb_error err = {0};
    /* from the table (hook a settled it) */
    assert_int_equal(
        xb_settle_hook_outcome(a.h, multi, l_multi, "hk-correspondent", true, NULL, &err), 0);
    /* hook b never saw these bytes: it parses them */
    assert_int_equal(
        xb_settle_hook_outcome(b.h, usd, l_usd, "hk-correspondent", false, "AC04 closed", &err), 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "ACSP");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f004", "ACSP");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f005", "ACSP");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f001", "RJCT");
    /* the same outcome again (the table entry is gone: parsed) changes nothing */
    assert_int_equal(
        xb_settle_hook_outcome(a.h, multi, l_multi, "hk-correspondent", true, NULL, &err), 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "ACSP");
    free(multi);
    free(usd);
    env_close(&a);
    env_close(&b);
}

/* The pipeline's outcomes are group-committed: queued until a flush (the pipeline's pre-commit),
 * a pacs.002 ingest (which must find them applied first) or the hook's end; one transaction for
 * the batch, and a batch with a bad row applies nothing of it. */
static void pipeline_outcomes_group_committed(void **state)
{
    (void)state;
    char db[128];
    snprintf(db, sizeof db, "%s/group.db", g_dir);
    fixture_env a;
    env_open(&a, "group-a.yaml", db);
    size_t l_multi = 0, l_usd = 0, l_cny = 0;
    char *multi = hook_settle(&a, "pacs008-multi.xml", &l_multi);
    char *usd = hook_settle(&a, "pacs008-usd.xml", &l_usd);
    char *cny = hook_settle(&a, "pacs008-cny.xml", &l_cny);
    xb_store *st = xb_settle_hook_store(a.h);
    xb_error err = {0};

    xb_settle_pipeline_outcome(a.h, "hk-correspondent", multi, l_multi, true, NULL, NULL, 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "SENT"); /* queued only */
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f004", "SENT");
    /* a pacs.002 (settled, for the first transfer) flushes the queue before it applies */
    xb_pacs002_tx_status tx = {.orgnl_end_to_end_id = "E2E-3",
                               .orgnl_uetr = "8a562c67-ca16-48ba-b074-65581be6f003",
                               .status = "ACSC"};
    xb_pacs002_report rep = {.msg_id = "XB-TEST-STS-1",
                             .orgnl_msg_id = "XB-SETTLE-MULTI-1",
                             .orgnl_msg_nm_id = "pacs.008.001.08",
                             .n_tx = 1,
                             .tx = &tx};
    xb_buf p002 = XB_BUF_INIT;
    assert_int_equal(xb_pacs002_build(&p002, &rep, &err), 0);
    size_t applied = 0;
    assert_int_equal(xb_settle_hook_status_bytes(&applied, a.h, p002.data, p002.len, &err), 0);
    assert_int_equal(applied, 1);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "ACSC");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f004", "ACSP");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f005", "ACSP");

    xb_settle_pipeline_outcome(a.h, "hk-correspondent", usd, l_usd, false, "AC04 closed", NULL, 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f001", "SENT");
    assert_int_equal(xb_settle_hook_flush(a.h, &err), 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f001", "RJCT");
    assert_int_equal(xb_settle_hook_flush(a.h, &err), 0); /* nothing queued: nothing to do */

    /* one bad status code: the whole batch is refused, nothing of it applied */
    xb_ledger_update bad[] = {{"8a562c67-ca16-48ba-b074-65581be6f004", "ACSC", NULL, "test"},
                              {"8a562c67-ca16-48ba-b074-65581be6f005", "NOPE", NULL, "test"}};
    assert_true(xb_settle_ledger_set_statuses(st, bad, 2, &err) < 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f004", "ACSP");

    /* queued at the end: the hook's free writes it */
    xb_settle_pipeline_outcome(a.h, "hk-correspondent", cny, l_cny, true, NULL, NULL, 0);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f009", "SENT");
    env_close(&a);
    fixture_env b;
    env_open(&b, "group-b.yaml", db);
    assert_status(xb_settle_hook_store(b.h), "8a562c67-ca16-48ba-b074-65581be6f009", "ACSP");
    env_close(&b);
    xb_buf_free(&p002);
    free(multi);
    free(usd);
    free(cny);
}

/* Each open store creates the ledger's tables on first use (a per-process flag would leave the
 * second fresh database without them). */
static void ledger_tables_once_per_store(void **state)
{
    (void)state;
    fixture_env a;
    env_open(&a, "ddl-a.yaml", "ddl-a.db");
    size_t l1 = 0, l2 = 0;
    char *x1 = hook_settle(&a, "pacs008-cny.xml", &l1);
    env_close(&a);
    fixture_env b;
    env_open(&b, "ddl-b.yaml", "ddl-b.db");
    char *x2 = hook_settle(&b, "pacs008-usd.xml", &l2);
    assert_status(xb_settle_hook_store(b.h), "8a562c67-ca16-48ba-b074-65581be6f001", "SENT");
    env_close(&b);
    free(x1);
    free(x2);
}

static void assert_absent(xb_store *st, const char *uetr)
{
    char s[8];
    xb_error err = {0};
    assert_true(xb_settle_ledger_status(s, st, uetr, &err) < 0);
}

/* Settles a fixture the way the pipeline does (the policy's change first): returns the settle
 * fn's answer, with the bytes and the pending SENT rows. */
static int settle_fixture(fixture_env *e, const char *fixture, char **xml, size_t *len,
                          void **pending, xb_error *err)
{
    xb_buf in = XB_BUF_INIT, out = XB_BUF_INIT;
    read_fixture(&in, fixture);
    xb_msg *m = parse_buf(in.data, in.len);
    policy_like(m, &out);
    json_t *detail = NULL;
    *xml = NULL;
    int rc = xb_settle_pipeline_settle(e->h, e->cfg->routes[0].settle, m, out.data, out.len, xml,
                                       len, &detail, pending, err);
    json_decref(detail);
    xb_msg_free(m);
    xb_buf_free(&in);
    xb_buf_free(&out);
    return rc;
}

static char *settle_pending(fixture_env *e, const char *fixture, size_t *len, void **pending)
{
    char *xml = NULL;
    xb_error err = {0};
    if (settle_fixture(e, fixture, &xml, len, pending, &err))
        fail_msg("%s: %s", fixture, err.message);
    assert_non_null(*pending);
    return xml;
}

static void settled_rows_wait_for_the_commit(void **state)
{
    (void)state;
    fixture_env a;
    env_open(&a, "commit-a.yaml", "commit.db");
    size_t len = 0;
    void *p[3] = {NULL, NULL, NULL};
    char *x[3];
    x[0] = settle_pending(&a, "pacs008-multi.xml", &len, &p[0]);
    x[1] = settle_pending(&a, "pacs008-usd.xml", &len, &p[1]);
    x[2] = settle_pending(&a, "pacs008-cny.xml", &len, &p[2]);
    xb_store *st = xb_settle_hook_store(a.h);
    assert_absent(st, "8a562c67-ca16-48ba-b074-65581be6f003"); /* settled, not yet recorded */
    assert_absent(st, "8a562c67-ca16-48ba-b074-65581be6f001");
    xb_settle_pending_free(p[2]); /* its copy is parked: never recorded */
    bool ok[2] = {false, false};
    xb_error err = {0};
    assert_int_equal(xb_settle_pipeline_commit(a.h, p, 2, ok, &err), 0);
    assert_true(ok[0] && ok[1]);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "SENT");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f004", "SENT");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f005", "SENT");
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f001", "SENT");
    assert_absent(st, "8a562c67-ca16-48ba-b074-65581be6f009");
    for (int i = 0; i < 3; i++)
        free(x[i]);
    env_close(&a);
}

/* A trigger in the test's own connection makes the ledger refuse one transfer, as a full disk
 * or a constraint would: the batch fails, and one by one only that message is refused. */
static void refused_row_costs_only_its_message(void **state)
{
    (void)state;
    char db[128];
    snprintf(db, sizeof db, "%s/refuse.db", g_dir);
    fixture_env a;
    env_open(&a, "refuse-a.yaml", db);
    size_t len = 0;
    free(hook_settle(&a, "pacs008-cny.xml", &len)); /* creates the ledger's tables */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(raw,
                          "CREATE TRIGGER refuse_usd BEFORE INSERT ON settlement_ledger"
                          " WHEN NEW.uetr = '8a562c67-ca16-48ba-b074-65581be6f001'"
                          " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("trigger: %s", msg);
    sqlite3_close(raw);
    void *p[2] = {NULL, NULL};
    char *x0 = settle_pending(&a, "pacs008-multi.xml", &len, &p[0]);
    char *x1 = settle_pending(&a, "pacs008-usd.xml", &len, &p[1]);
    bool ok[2] = {false, true};
    xb_error err = {0};
    assert_true(xb_settle_pipeline_commit(a.h, p, 2, ok, &err) < 0);
    assert_true(ok[0]);
    assert_false(ok[1]);
    assert_non_null(strstr(err.message, "refused by the test"));
    xb_store *st = xb_settle_hook_store(a.h);
    assert_status(st, "8a562c67-ca16-48ba-b074-65581be6f003", "SENT");
    assert_absent(st, "8a562c67-ca16-48ba-b074-65581be6f001");
    free(x0);
    free(x1);
    env_close(&a);
}

typedef struct settle_thread {
    fixture_env *e;
    xb_buf out[sizeof FIXTURES / sizeof FIXTURES[0]];
    int rc[sizeof FIXTURES / sizeof FIXTURES[0]];
} settle_thread;

/* Settles every fixture (a few rounds, so that the threads overlap) and keeps the last bytes. */
static void *settle_all(void *arg)
{
    settle_thread *t = arg;
    for (int round = 0; round < 5; round++)
        for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
            char *xml = NULL;
            size_t len = 0;
            void *pending = NULL;
            xb_error err = {0};
            t->rc[i] = settle_fixture(t->e, FIXTURES[i], &xml, &len, &pending, &err);
            xb_buf_free(&t->out[i]);
            if (xml)
                xb_buf_append(&t->out[i], xml, len);
            free(xml);
            xb_settle_pending_free(pending);
        }
    return NULL;
}

static void two_threads_settle_as_one(void **state)
{
    (void)state;
    fixture_env a;
    env_open(&a, "threads-a.yaml", "threads.db");
    settle_thread one = {.e = &a}, t1 = {.e = &a}, t2 = {.e = &a};
    settle_all(&one);
    pthread_t th1, th2;
    assert_int_equal(pthread_create(&th1, NULL, settle_all, &t1), 0);
    assert_int_equal(pthread_create(&th2, NULL, settle_all, &t2), 0);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    int settled = 0;
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        assert_int_equal(t1.rc[i], one.rc[i]);
        assert_int_equal(t2.rc[i], one.rc[i]);
        assert_int_equal(t1.out[i].len, one.out[i].len);
        assert_int_equal(t2.out[i].len, one.out[i].len);
        if (one.out[i].len) {
            assert_memory_equal(t1.out[i].data, one.out[i].data, one.out[i].len);
            assert_memory_equal(t2.out[i].data, one.out[i].data, one.out[i].len);
            settled++;
        }
        xb_buf_free(&one.out[i]);
        xb_buf_free(&t1.out[i]);
        xb_buf_free(&t2.out[i]);
    }
    assert_true(settled >= 10); /* most fixtures settle; the rest fail the same way each time */
    env_close(&a);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/xb-settle-hook-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    xb_schema_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tree_and_reparse_give_the_same_bytes),
        cmocka_unit_test(unchecked_flag_keeps_the_checks),
        cmocka_unit_test(sent_table_answers_exact_bytes_once),
        cmocka_unit_test(outcome_with_and_without_the_table),
        cmocka_unit_test(pipeline_outcomes_group_committed),
        cmocka_unit_test(ledger_tables_once_per_store),
        cmocka_unit_test(settled_rows_wait_for_the_commit),
        cmocka_unit_test(refused_row_costs_only_its_message),
        cmocka_unit_test(two_threads_settle_as_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
