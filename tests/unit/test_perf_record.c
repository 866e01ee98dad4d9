/* test_perf_record.c — the decision record written without a jansson tree (issue #8, record.c):
 * its bytes must be exactly the canonical form (what jansson's JSON_SORT_KEYS|JSON_COMPACT dump of
 * the parsed record gives), for real decisions on the policy fixtures and for a decision full of
 * hostile strings (quotes, controls, Chinese, invalid UTF-8, NULL rule and class); every field
 * must appear once in "field_groups" with its own rule and action, and format 4's short entries
 * must give every path back exactly (or name none); a record envelope written by
 * xb_policy_record_write must equal jansson's dump of the same envelope with the decision as an
 * object; and xb_audit_append_raw must chain lines that xb_audit_verify_file accepts.
 * Fixtures: the XML files in fixtures/messages/policy, fixtures/config/example.yaml (sg-group-ops,
 * hk-correspondent). Never: writes outside its own temp folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/state/audit.h"
#include "iso20022/schema.h"
#include "test_pol_common.h"

#define WHEN "2026-12-15T10:30:00+08:00"

typedef struct state {
    xb_policy_catalog_set *set;
    xb_policy_destinations *ex;
} state;

static int setup(void **s)
{
    state *st = calloc(1, sizeof *st);
    st->set = pol_default_catalogs();
    st->ex = pol_destinations(POL_EXAMPLE);
    *s = st;
    return 0;
}

static int teardown(void **s)
{
    state *st = *s;
    xb_policy_catalog_set_free(st->set);
    xb_policy_destinations_free(st->ex);
    free(st);
    xb_schema_cleanup();
    return 0;
}

/* The text parses, and jansson's canonical dump of it is the same bytes. Returns the tree. */
static json_t *assert_canonical(const xb_buf *text)
{
    json_error_t jerr;
    json_t *j = json_loadb(text->data, text->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        print_error("not JSON at %d: %s\n%s\n", jerr.position, jerr.text, text->data);
    assert_non_null(j);
    char *again = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(again);
    assert_string_equal(again, text->data);
    free(again);
    return j;
}

/* The fields a record names, as xb_policy_record_fields gives them. */
typedef struct named {
    char path[600];
    const char *rule;
    const json_t *labels;
    bool whole; /* the record gave the path */
} named;

typedef struct named_list {
    named v[512];
    size_t n;
} named_list;

static void collect(void *ctx, const char *path, const char *rule, const json_t *labels)
{
    named_list *l = ctx;
    assert_true(l->n < sizeof l->v / sizeof *l->v);
    named *f = &l->v[l->n++];
    f->whole = path != NULL;
    snprintf(f->path, sizeof f->path, "%s", path ? path : "");
    f->rule = rule;
    f->labels = labels;
}

/* Field i of d is named exactly once, under its rule, in a group with its action and tier; one
 * entry per rule in a group (formats 3 and 4: [rule], [rule, null, rest...], [rule, base,
 * rest...]). */
static void assert_every_field_once(const xb_policy_decision *d, const json_t *rec)
{
    const json_t *groups = json_object_get(rec, "field_groups");
    assert_true(json_is_array(groups));
    assert_int_equal(json_integer_value(json_object_get(rec, "n_fields")), d->n_fields);
    size_t gi, ei;
    json_t *g, *e;
    json_array_foreach(groups, gi, g)
    {
        assert_null(json_object_get(g, "fields"));
        const json_t *rules = json_object_get(g, "rules");
        json_array_foreach(rules, ei, e)
        {
            assert_true(json_array_size(e) == 1 || json_array_size(e) >= 3);
            for (size_t other = ei + 1; other < json_array_size(rules); other++)
                assert_false(json_equal(json_array_get(e, 0),
                                        json_array_get(json_array_get(rules, other), 0)));
        }
    }
    named_list *l = calloc(1, sizeof *l);
    assert_int_equal(xb_policy_record_fields(rec, collect, l), d->n_fields);
    assert_int_equal(l->n, d->n_fields);
    for (size_t i = 0; i < d->n_fields; i++) {
        int hits = 0;
        for (size_t k = 0; k < l->n; k++) {
            assert_true(l->v[k].whole);
            if (strcmp(l->v[k].path, d->fields[i].path))
                continue;
            hits++;
            if (d->fields[i].rule_id)
                assert_string_equal(l->v[k].rule, d->fields[i].rule_id);
            else
                assert_null(l->v[k].rule);
            assert_string_equal(json_string_value(json_object_get(l->v[k].labels, "action")),
                                xb_policy_action_name(d->fields[i].action));
            assert_string_equal(json_string_value(json_object_get(l->v[k].labels, "tier")),
                                xb_policy_tier_name(d->fields[i].tier));
        }
        assert_int_equal(hits, 1);
    }
    free(l);
}

static void test_real_decisions_are_canonical(void **s)
{
    state *st = *s;
    static const char *msgs[] = {"pacs.008-remit-individual.xml", "pacs.008-corporate.xml",
                                 "pacs.008-one-spi.xml", "pacs.008-secret.xml",
                                 "pacs.008-splmtry.xml"};
    static const char *dests[] = {"sg-group-ops", "hk-correspondent"};
    int checked = 0;
    for (size_t m = 0; m < sizeof msgs / sizeof *msgs; m++) {
        for (size_t k = 0; k < 2; k++) {
            char path[512];
            snprintf(path, sizeof path, "%s/messages/policy/%s", XB_FIXTURES, msgs[m]);
            xb_policy_decision d;
            assert_int_equal(pol_decide(&d, path, st->set, st->ex, dests[k], WHEN, NULL), 0);
            xb_buf text = XB_BUF_INIT;
            assert_int_equal(xb_policy_decision_write_json(&text, &d), 0);
            json_t *j = assert_canonical(&text);
            assert_every_field_once(&d, j);
            assert_string_equal(json_string_value(json_object_get(j, "verdict")),
                                xb_policy_verdict_name(d.verdict));
            assert_string_equal(json_string_value(json_object_get(j, "destination")), dests[k]);
            /* the tree API gives the same record */
            json_t *t = xb_policy_decision_to_json(&d);
            assert_true(json_equal(t, j));
            /* grouping pays: fewer groups than fields on a real payment, and format 4 names
             * its paths through their rules */
            if (d.n_fields >= 20) {
                assert_true(json_array_size(json_object_get(j, "field_groups")) < d.n_fields);
                const json_t *roots = json_object_get(j, "path_roots");
                assert_string_equal(json_string_value(json_object_get(roots, "pacs.008")),
                                    "/Document/FIToFICstmrCdtTrf/");
            }
            json_decref(t);
            json_decref(j);
            xb_buf_free(&text);
            xb_policy_decision_free(&d);
            checked++;
        }
    }
    assert_int_equal(checked, 10);
}

/* A decision written by hand with every string a JSON writer can get wrong. */
static void test_hostile_strings(void **s)
{
    (void)s;
    xb_policy_field f[4];
    memset(f, 0, sizeof f);
    snprintf(f[0].path, sizeof f[0].path, "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/Dbtr/Nm");
    f[0].rule_id = "pacs.008:\"quoted\"\\back";
    f[0].cls = "party.name";
    f[0].action = XB_ACT_PSEUDO;
    snprintf(f[0].detail, sizeof f[0].detail, "tab\there nl\nthere \x01\x1f 王建华 \x7f");
    snprintf(f[1].path, sizeof f[1].path, "/Document/X/Ustrd[2]");
    f[1].rule_id = NULL; /* uncovered */
    f[1].cls = NULL;
    f[1].organisation = true;
    f[1].pfi = 3;
    f[1].level = 4;
    f[1].action = XB_ACT_DROP;
    snprintf(f[1].detail, sizeof f[1].detail, "bad \xff\xc3( utf-8 \xed\xa0\x80 surrogate");
    f[2] = f[0]; /* same labels as field 0: same group, its own path */
    snprintf(f[2].path, sizeof f[2].path, "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/Cdtr/Nm");
    f[3] = f[0];
    snprintf(f[3].path, sizeof f[3].path, "/AppHdr/Fr");
    f[3].action = XB_ACT_PASS; /* other action: other group */
    f[3].detail[0] = '\0';
    xb_policy_decision d;
    memset(&d, 0, sizeof d);
    d.fields = f;
    d.n_fields = 4;
    snprintf(d.reason, sizeof d.reason, "reason \"with\" \\ and \r\n\b\f");
    snprintf(d.definition, sizeof d.definition, "pacs.008.001.08");
    snprintf(d.msg_id, sizeof d.msg_id, "欧阳-0001");
    snprintf(d.destination, sizeof d.destination, "hk-correspondent");
    snprintf(d.warnings[0], sizeof d.warnings[0], "warn\x02");
    d.n_warnings = 1;
    d.pi_before = -1; /* never negative in practice; the writer must still get it right */
    d.pi_after = 9223372036854775807LL;
    d.spi_before = -9223372036854775807LL - 1;
    xb_buf text = XB_BUF_INIT;
    assert_int_equal(xb_policy_decision_write_json(&text, &d), 0);
    json_t *j = assert_canonical(&text);
    assert_every_field_once(&d, j);
    const json_t *groups = json_object_get(j, "field_groups");
    assert_int_equal(json_array_size(groups), 3);
    const json_t *g0 = json_array_get(groups, 0), *g1 = json_array_get(groups, 1);
    /* fields 0 and 2: one rule entry, the shared steps written once */
    const json_t *e0 = json_array_get(json_object_get(g0, "rules"), 0);
    assert_int_equal(json_array_size(json_object_get(g0, "rules")), 1);
    assert_int_equal(json_array_size(e0), 4);
    assert_string_equal(json_string_value(json_array_get(e0, 1)),
                        "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/");
    assert_string_equal(json_string_value(json_array_get(e0, 2)), "Dbtr/Nm");
    assert_string_equal(json_string_value(json_object_get(g0, "detail")), f[0].detail);
    assert_true(json_is_null(json_object_get(g1, "class")));
    assert_true(json_is_true(json_object_get(g1, "organisation")));
    assert_string_equal(json_string_value(json_object_get(g1, "jrt0171")), "C3");
    /* invalid UTF-8 is replaced, not dropped: the key stays */
    assert_string_equal(json_string_value(json_object_get(g1, "detail")),
                        "bad \xEF\xBF\xBD\xEF\xBF\xBD( utf-8 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                        "surrogate");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), d.reason);
    assert_string_equal(json_string_value(json_object_get(j, "msg_id")), d.msg_id);
    assert_true(json_is_null(json_object_get(j, "uetr")));
    assert_true(json_is_null(json_object_get(j, "filing_ref")));
    const json_t *c = json_object_get(j, "counters");
    assert_int_equal(json_integer_value(json_object_get(c, "pi_before")), -1);
    assert_true(json_integer_value(json_object_get(c, "pi_after")) == 9223372036854775807LL);
    assert_true(json_integer_value(json_object_get(c, "spi_before")) == -9223372036854775807LL - 1);
    json_decref(j);
    xb_buf_free(&text);
}

/* Format 3's base: only whole steps are shared ("/A/BC" and "/A/BD" share "/A/", not "/A/B"), a
 * path that is a step prefix of another still has a rest, and paths with nothing in common (or no
 * '/' at all) get an empty base; each rule is one entry, in order of first appearance. */
static void test_rule_entries_share_whole_steps(void **s)
{
    (void)s;
    static const struct {
        const char *path, *rule;
    } in[] = {{"/A/BC", "R"}, {"/A/B", "S"}, {"/A/BD", "R"},    {"/A/B/C", "S"},
              {"x", "T"},     {"/Z", "T"},   {"/A/B/C/D", NULL}};
    xb_policy_field f[7];
    memset(f, 0, sizeof f);
    for (size_t i = 0; i < 7; i++) {
        snprintf(f[i].path, sizeof f[i].path, "%s", in[i].path);
        f[i].rule_id = in[i].rule;
        f[i].cls = "agent";
    }
    xb_policy_decision d;
    memset(&d, 0, sizeof d);
    d.fields = f;
    d.n_fields = 7;
    xb_buf text = XB_BUF_INIT;
    assert_int_equal(xb_policy_decision_write_json(&text, &d), 0);
    json_t *j = assert_canonical(&text);
    assert_every_field_once(&d, j);
    char *rules =
        json_dumps(json_object_get(json_array_get(json_object_get(j, "field_groups"), 0), "rules"),
                   JSON_COMPACT);
    assert_string_equal(rules, "[[\"R\",\"/A/\",\"BC\",\"BD\"],[\"S\",\"/A/\",\"B\",\"B/C\"],"
                               "[\"T\",\"\",\"x\",\"/Z\"],[null,\"/A/B/C/\",\"D\"]]");
    free(rules);
    json_decref(j);
    xb_buf_free(&text);
}

static void count_unnamed(void *ctx, const char *path, const char *rule, const json_t *labels)
{
    (void)rule;
    (void)labels;
    *(size_t *)ctx += path == NULL;
}

/* Format 4's short forms are written only where they give the path back exactly: [rule] for a
 * rule that spells out its one field's path from its message's root, [rule, null, rest...] under
 * a subtree rule; a repeated element's [2], a '*' inside a pattern, a pattern naming a scope
 * rather than a root, a message with no exact rule (no root) and an uncovered field keep [rule,
 * base, rest...]. Per message the shortest root wins. Without "path_roots" a reader names the
 * short entries' fields as unknown (NULL), never as other paths. */
static void test_short_entries_exact(void **s)
{
    (void)s;
    static const struct {
        const char *path, *rule;
    } in[] = {
        {"/Document/R/Tx/Cdtr/Nm", "pacs.008:Nm"}, /* a scope: its root is not the shortest */
        {"/AppHdr/BizMsgIdr", "head.001:BizMsgIdr"},
        {"/Document/R/GrpHdr/MsgId", "pacs.008:GrpHdr/MsgId"},
        {"/Document/R/Tx/Dbtr/Nm", "pacs.008:Tx/Dbtr/**"},
        {"/Document/R/Tx/Dbtr/PstlAdr/Ctry", "pacs.008:Tx/Dbtr/**"},
        {"/Document/R/Tx[2]/Cdtr/Nm", "pacs.008:Tx/Cdtr/**"},
        {"/Document/R/Tx/RmtInf/Ustrd", "pacs.008:*/Ustrd"},
        {"/Document/R/GrpHdr/NbOfTxs[1]", "pacs.008:GrpHdr/NbOfTxs"},
        {"/Document/S/Ntry/Amt", "camt.053:Ntry/**"},
        {"/Document/R/Tx/Purp", NULL},
    };
    enum { N = sizeof in / sizeof *in };
    xb_policy_field f[N];
    memset(f, 0, sizeof f);
    for (size_t i = 0; i < N; i++) {
        snprintf(f[i].path, sizeof f[i].path, "%s", in[i].path);
        f[i].rule_id = in[i].rule;
        f[i].cls = "agent";
    }
    xb_policy_decision d;
    memset(&d, 0, sizeof d);
    d.fields = f;
    d.n_fields = N;
    xb_buf text = XB_BUF_INIT;
    assert_int_equal(xb_policy_decision_write_json(&text, &d), 0);
    json_t *j = assert_canonical(&text);
    assert_every_field_once(&d, j);
    char *rules =
        json_dumps(json_object_get(json_array_get(json_object_get(j, "field_groups"), 0), "rules"),
                   JSON_COMPACT);
    assert_string_equal(rules,
                        "[[\"pacs.008:Nm\",\"/Document/R/Tx/Cdtr/\",\"Nm\"],"
                        "[\"head.001:BizMsgIdr\"],[\"pacs.008:GrpHdr/MsgId\"],"
                        "[\"pacs.008:Tx/Dbtr/**\",null,\"Nm\",\"PstlAdr/Ctry\"],"
                        "[\"pacs.008:Tx/Cdtr/**\",\"/Document/R/Tx[2]/Cdtr/\",\"Nm\"],"
                        "[\"pacs.008:*/Ustrd\",\"/Document/R/Tx/RmtInf/\",\"Ustrd\"],"
                        "[\"pacs.008:GrpHdr/NbOfTxs\",\"/Document/R/GrpHdr/\",\"NbOfTxs[1]\"],"
                        "[\"camt.053:Ntry/**\",\"/Document/S/Ntry/\",\"Amt\"],"
                        "[null,\"/Document/R/Tx/\",\"Purp\"]]");
    free(rules);
    char *roots = json_dumps(json_object_get(j, "path_roots"), JSON_COMPACT);
    assert_string_equal(roots, "{\"head.001\":\"/AppHdr/\",\"pacs.008\":\"/Document/R/\"}");
    free(roots);
    size_t unnamed = 0;
    json_object_del(j, "path_roots");
    assert_int_equal(xb_policy_record_fields(j, count_unnamed, &unnamed), N);
    assert_int_equal(unnamed, 4);
    json_decref(j);
    /* no exact rule, no root, no "path_roots": the record stays what format 3 wrote */
    d.fields = f + 5;
    d.n_fields = 2;
    xb_buf_reset(&text);
    assert_int_equal(xb_policy_decision_write_json(&text, &d), 0);
    assert_null(strstr(text.data, "path_roots"));
    xb_buf_free(&text);
}

/* One field of d changed in one way (k), or d's last field left out (k == 12). */
static void mutate(xb_policy_decision *d, xb_policy_field *f, int k)
{
    switch (k) {
    case 0:
        f->path[strlen(f->path) - 1] ^= 1;
        break;
    case 1:
        f->rule_id = "pacs.008:Other/**";
        break;
    case 2:
        f->rule_id = NULL;
        break;
    case 3:
        f->cls = "other.class";
        break;
    case 4:
        f->cls = NULL;
        break;
    case 5:
        f->tier = f->tier == XB_TIER_CORE ? XB_TIER_GENERAL : XB_TIER_CORE;
        break;
    case 6:
        f->pi = f->pi == XB_PI_SPI ? XB_PI_NONE : XB_PI_SPI;
        break;
    case 7:
        f->pfi = f->pfi == 3 ? 1 : 3;
        break;
    case 8:
        f->level = f->level == 5 ? 1 : 5;
        break;
    case 9:
        f->organisation = !f->organisation;
        break;
    case 10:
        f->action = f->action == XB_ACT_DROP ? XB_ACT_PASS : XB_ACT_DROP;
        break;
    case 11:
        snprintf(f->detail, sizeof f->detail, "%s", f->detail[0] == 'x' ? "y" : "x");
        break;
    default:
        d->n_fields--;
    }
}

/* The groups of a shape a thread has written are copied, not written again (record.c): the same
 * decision twice is a hit with the same bytes, and a change to any one thing a group is written
 * from (path, rule, class, each label, action, detail, the number of fields) gives exactly the
 * bytes a thread that remembers nothing writes, never the remembered ones. */
static void test_memo_follows_every_label(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    assert_true(d.n_fields > 20);
    xb_buf first = XB_BUF_INIT, again = XB_BUF_INIT, fresh = XB_BUF_INIT;
    xb_policy_record_cleanup();
    assert_int_equal(xb_policy_decision_write_json(&first, &d), 0);
    assert_int_equal(xb_policy_record_memo_hits(), 0);
    assert_int_equal(xb_policy_decision_write_json(&again, &d), 0);
    assert_int_equal(xb_policy_record_memo_hits(), 1);
    assert_string_equal(again.data, first.data);
    xb_policy_field *f = &d.fields[d.n_fields / 2], saved = *f;
    for (int k = 0; k <= 12; k++) {
        mutate(&d, f, k);
        xb_buf_reset(&again);
        assert_int_equal(xb_policy_decision_write_json(&again, &d), 0);
        xb_policy_record_cleanup();
        xb_buf_reset(&fresh);
        assert_int_equal(xb_policy_decision_write_json(&fresh, &d), 0);
        assert_string_equal(again.data, fresh.data);
        assert_string_not_equal(again.data, first.data);
        *f = saved;
        d.n_fields += k == 12;
        /* the original shape comes back from a thread that saw it (no cleanup in between) */
        xb_buf_reset(&again);
        assert_int_equal(xb_policy_decision_write_json(&again, &d), 0);
        assert_int_equal(xb_policy_decision_write_json(&fresh, &d), 0);
        assert_int_equal(xb_policy_record_memo_hits(), 1);
        assert_string_equal(again.data, first.data);
    }
    xb_buf_free(&first);
    xb_buf_free(&again);
    xb_buf_free(&fresh);
    xb_policy_decision_free(&d);
    xb_policy_record_cleanup();
}

/* Strings are scanned 8 bytes at a time (record.c, plain8): every byte that needs a look of its
 * own, at every offset of strings 1-24 bytes long, must come out as jansson writes it; a byte that
 * is not UTF-8 still becomes U+FFFD wherever it falls. */
static void test_escapes_at_every_offset(void **s)
{
    (void)s;
    static const char *const odd[] = {"\"", "\\", "\x01",   "\x1f", "\n", "\t",  "\x7f",
                                      " ",  "~",  "\u00e9", "中",   "𠮷", "\x1b"};
    xb_buf got = XB_BUF_INIT;
    char text[64];
    for (size_t k = 0; k < sizeof odd / sizeof *odd; k++)
        for (size_t len = 1; len <= 24; len++)
            for (size_t at = 0; at < len; at++) {
                size_t n = 0;
                for (size_t i = 0; i < len; i++) {
                    const char *c = i == at ? odd[k] : "a";
                    memcpy(text + n, c, strlen(c));
                    n += strlen(c);
                }
                json_t *env = json_pack("{s:s%}", "k", text, n);
                assert_non_null(env);
                char *want = json_dumps(env, JSON_SORT_KEYS | JSON_COMPACT);
                xb_buf_reset(&got);
                assert_int_equal(xb_policy_record_write(&got, env), 0);
                assert_string_equal(got.data, want);
                free(want);
                json_decref(env);
            }
    for (size_t len = 1; len <= 24; len++)
        for (size_t at = 0; at < len; at++) {
            json_t *env = json_pack("{s:s}", "k", "x");
            char bad[32];
            memset(bad, 'b', len);
            bad[at] = (char)0xff;
            json_object_set_new(env, "k", json_stringn_nocheck(bad, len));
            xb_buf_reset(&got);
            assert_int_equal(xb_policy_record_write(&got, env), 0);
            char want[128] = "{\"k\":\"";
            size_t w = strlen(want);
            for (size_t i = 0; i < len; i++)
                w += (size_t)sprintf(want + w, "%s", i == at ? "\xEF\xBF\xBD" : "b");
            snprintf(want + w, sizeof want - w, "\"}");
            assert_string_equal(got.data, want);
            json_decref(env);
        }
    xb_buf_free(&got);
}

/* The envelope the pipeline writes: its bytes equal jansson's dump of the same envelope with the
 * decision as an object. */
static void test_envelope_equals_jansson(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    json_t *env[2];
    for (int k = 0; k < 2; k++) {
        env[k] =
            json_pack("{ss,s{ss,si,sI},ss}", "id", "xb.in:0:42", "source", "topic", "xb.in",
                      "partition", 0, "offset", (json_int_t)42, "definition", "pacs.008.001.08");
        json_t *o = json_pack("{ss,ss,ss}", "destination", "sg-group-ops", "verdict", "DELIVER",
                              "idempotency_key", "8a562c67-ca16-48ba-b074-65581be6f001");
        json_object_set_new(o, "decision",
                            k ? xb_policy_decision_to_json(&d) : xb_policy_decision_json_text(&d));
        /* the settlement stage hands its details over as canonical text too (settle_hook.c) */
        json_t *settled = json_pack("{sb,sn,s[is]}", "z", 1, "a", "m", -7, "人民币\n");
        char *settled_text = json_dumps(settled, JSON_SORT_KEYS | JSON_COMPACT);
        json_object_set_new(o, "settlement", k ? settled : json_string(settled_text));
        if (!k)
            json_decref(settled);
        free(settled_text);
        json_t *outs = json_array();
        json_array_append_new(outs, o);
        json_array_append_new(outs, json_pack("{ss,ss}", "destination", "hk", "error", "x\"y"));
        json_object_set_new(env[k], "outcomes", outs);
    }
    xb_buf got = XB_BUF_INIT;
    assert_int_equal(xb_policy_record_write(&got, env[0]), 0);
    char *want = json_dumps(env[1], JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(got.data, want);
    /* a decision or settlement string outside "outcomes" is an ordinary string, and so is one
     * in an outcome that does not hold an object */
    json_t *odd = json_pack("{ss,ss}", "decision", "{\"not\":\"raw\"}", "settlement", "{");
    xb_buf b2 = XB_BUF_INIT;
    assert_int_equal(xb_policy_record_write(&b2, odd), 0);
    assert_string_equal(b2.data,
                        "{\"decision\":\"{\\\"not\\\":\\\"raw\\\"}\",\"settlement\":\"{\"}");
    json_t *plain =
        json_pack("{s[{ss,ss}]}", "outcomes", "settlement", "settled \"x\"", "decision", "[1]");
    xb_buf_reset(&b2);
    assert_int_equal(xb_policy_record_write(&b2, plain), 0);
    assert_string_equal(b2.data, "{\"outcomes\":[{\"decision\":\"[1]\",\"settlement\":\"settled "
                                 "\\\"x\\\"\"}]}");
    json_decref(plain);
    assert_int_equal(
        xb_policy_record_write(&b2, json_array_get(json_object_get(env[1], "outcomes"), 5)),
        XB_EINVAL);
    json_decref(odd);
    xb_buf_free(&b2);
    free(want);
    xb_buf_free(&got);
    json_decref(env[0]);
    json_decref(env[1]);
    xb_policy_decision_free(&d);
}

/* Lines appended from text chain like lines appended from trees, and the verifier accepts them. */
static void test_audit_raw_chains(void **s)
{
    state *st = *s;
    char dir[] = "/tmp/xb-test-perf-record.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/audit.log", dir);
    xb_audit_opts ao = {.path = path, .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 100};
    xb_audit *a = NULL;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &ao, &err), 0);
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-corporate.xml"), st->set, st->ex,
                                "hk-correspondent", WHEN, NULL),
                     0);
    json_t *env = json_pack("{ss}", "id", "xb.in:0:1");
    json_t *o = json_pack("{ss}", "destination", "hk-correspondent");
    json_object_set_new(o, "decision", xb_policy_decision_json_text(&d));
    json_object_set_new(env, "outcomes", json_pack("[o]", o));
    xb_buf text = XB_BUF_INIT;
    assert_int_equal(xb_policy_record_write(&text, env), 0);
    char *line = NULL;
    uint64_t seq = 0;
    assert_int_equal(xb_audit_append_raw(&line, &seq, a, "decision", text.data, text.len, &err), 0);
    assert_int_equal(seq, 1);
    assert_non_null(strstr(line, text.data)); /* the record bytes go into the line verbatim */
    free(line);
    json_t *plain = json_pack("{ss}", "id", "xb.in:0:2");
    assert_int_equal(xb_audit_append(NULL, &seq, a, plain, &err), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(xb_audit_append_raw(NULL, &seq, a, "decision", text.data, text.len, &err), 0);
    assert_int_equal(seq, 3);
    /* not one line of an object: refused, the chain does not move */
    assert_int_equal(xb_audit_append_raw(NULL, NULL, a, "decision", "{\n}", 3, &err), XB_EINVAL);
    assert_int_equal(xb_audit_append_raw(NULL, NULL, a, "decision", "[1]", 3, &err), XB_EINVAL);
    assert_int_equal(xb_audit_append_raw(NULL, NULL, a, "Bad", "{}", 2, &err), XB_EINVAL);
    assert_int_equal(xb_audit_seq(a), 3);
    xb_audit_close(a);
    uint64_t count = 0;
    assert_int_equal(xb_audit_verify_file(&count, path, &err), 0);
    assert_int_equal(count, 3);
    json_decref(plain);
    json_decref(env);
    xb_buf_free(&text);
    xb_policy_decision_free(&d);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_decisions_are_canonical),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_escapes_at_every_offset),
        cmocka_unit_test(test_rule_entries_share_whole_steps),
        cmocka_unit_test(test_short_entries_exact),
        cmocka_unit_test(test_memo_follows_every_label),
        cmocka_unit_test(test_envelope_equals_jansson),
        cmocka_unit_test(test_audit_raw_chains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
