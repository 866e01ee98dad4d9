/* test_val_report.c — reda.001.001.04 PriceReports: XSD validity of every report in both
 * namespaces, the fields the issue names, NEWP/REPL, suspension and tolerance flags. The figures
 * checked here are the hand-computed ones of test_val_nav.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/message.h"
#include "iso20022/schema.h"
#include "test_val_common.h"

#define DAY "2025-01-02"
#define RATES FUNDS "rates-2025-01-02.csv"
#define PRICES FUNDS "prices-2025-01-02.csv"
#define NS_ISO "urn:iso:std:iso:20022:tech:xsd:reda.001.001.04"
#define NS_SWIFT "urn:swift:xsd:reda.001.001.04"

/* Builds a report, re-parses it and validates it again independently of the writer. */
static xb_msg *report(val_inputs *in, xb_reda_ns ns, const char *fctn, bool force)
{
    xb_report_opts o;
    memset(&o, 0, sizeof o);
    o.ns = ns;
    o.function = fctn;
    o.force = force;
    o.cre_dt_tm = "2025-01-02T20:00:00+08:00";
    xb_buf out = XB_BUF_INIT;
    xb_error err;
    int rc = xb_valuation_run(&out, &in->fund, &in->holdings, in->prices, in->fx, DAY, &o, &err);
    if (rc)
        fprintf(stderr, "valuation failed: %s %s\n", err.message, err.path);
    assert_int_equal(rc, 0);
    xb_msg *msg = NULL;
    assert_int_equal(xb_msg_parse(&msg, out.data, out.len, NULL, &err), 0);
    assert_int_equal(xb_msg_definition(msg)->kind, XB_KIND_REDA001);
    assert_string_equal(xb_msg_definition(msg)->ns, ns == XB_REDA_NS_SWIFT ? NS_SWIFT : NS_ISO);
    rc = xb_schema_validate_msg(msg, &err);
    if (rc)
        fprintf(stderr, "XSD: %s at %s\n%s", err.message, err.path, out.data);
    assert_int_equal(rc, 0);
    xb_buf_free(&out);
    return msg;
}

static const char *text(xmlNodePtr from, const char *path)
{
    const char *t = xb_xml_text(xb_xml_find(from, path));
    return t ? t : "(absent)";
}

static const char *attr(xmlNodePtr from, const char *path, const char *name, char *buf, size_t cap)
{
    xmlChar *v = xmlGetProp(xb_xml_find(from, path), (const xmlChar *)name);
    snprintf(buf, cap, "%s", v ? (const char *)v : "(absent)");
    xmlFree(v);
    return buf;
}

/* The n-th (0-based) child named `local` of parent. */
static xmlNodePtr nth(xmlNodePtr parent, const char *local, int n)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, local) && n-- == 0)
            return c;
    return NULL;
}

static int count(xmlNodePtr parent, const char *local)
{
    int n = 0;
    while (nth(parent, local, n))
        n++;
    return n;
}

static void two_class_report_carries_every_field(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "lg-gbf-01.yaml", STMTS "semt.003-lg-gbf-01-v12.xml", RATES, PRICES);
    xb_reda_ns spaces[] = {XB_REDA_NS_ISO, XB_REDA_NS_SWIFT};
    for (int s = 0; s < 2; s++) {
        xb_msg *m = report(&in, spaces[s], NULL, false);
        xmlNodePtr rpt = xb_msg_body(m);
        char b[64];
        assert_string_equal(text(rpt, "MsgId/CreDtTm"), "2025-01-02T20:00:00+08:00");
        assert_true(strlen(text(rpt, "MsgId/Id")) <= 35);
        assert_non_null(strstr(text(rpt, "MsgId/Id"), "NEWP"));
        assert_string_equal(text(rpt, "MsgPgntn/PgNb"), "1");
        assert_string_equal(text(rpt, "MsgPgntn/LastPgInd"), "true");
        assert_string_equal(text(rpt, "PricRptId"), "LG-GBF-01-20250102");
        assert_string_equal(text(rpt, "Fctn"), "NEWP");
        assert_null(xb_xml_child(rpt, "CxlId"));
        assert_int_equal(count(rpt, "PricValtnDtls"), 2);
        xmlNodePtr a = nth(rpt, "PricValtnDtls", 0), u = nth(rpt, "PricValtnDtls", 1);
        assert_string_equal(text(a, "NAVDtTm/Dt"), DAY);
        assert_string_equal(text(a, "FinInstrmDtls/Id/ISIN"), "CNE1000XB001");
        assert_string_equal(text(a, "FinInstrmDtls/DualFndInd"), "false");
        assert_string_equal(text(a, "ValtnTp"), "USUA");
        assert_string_equal(text(a, "OffclValtnInd"), "true");
        assert_string_equal(text(a, "SspdInd"), "false");
        assert_string_equal(text(a, "PricDtls/Tp"), "NAVL");
        assert_string_equal(text(a, "PricDtls/ValInInvstmtCcy/Amt"), "1.0238");
        assert_string_equal(attr(a, "PricDtls/ValInInvstmtCcy/Amt", "Ccy", b, sizeof b), "CNY");
        assert_null(xb_xml_find(a, "PricDtls/ValInAltrntvCcy")); /* CNY class: no second price */
        assert_string_equal(text(a, "PricDtls/ForExctnInd"), "true");
        assert_string_equal(text(a, "PricDtls/CumDvddInd"), "true");
        assert_string_equal(text(a, "PricDtls/EstmtdPricInd"), "false");
        assert_string_equal(text(a, "TtlNAV"), "51189393.59");
        assert_string_equal(text(a, "TtlUnitsNb/Unit"), "50000000");
        assert_string_equal(text(u, "FinInstrmDtls/Id/ISIN"), "CNE1000XB019");
        assert_string_equal(text(u, "PricDtls/ValInInvstmtCcy/Amt"), "0.9945");
        assert_string_equal(attr(u, "PricDtls/ValInInvstmtCcy/Amt", "Ccy", b, sizeof b), "USD");
        assert_string_equal(text(u, "PricDtls/ValInAltrntvCcy/Amt"), "7.1486");
        assert_string_equal(attr(u, "PricDtls/ValInAltrntvCcy/Amt", "Ccy", b, sizeof b), "CNY");
        /* TtlNAV once per currency: USD then CNY. */
        assert_int_equal(count(u, "TtlNAV"), 2);
        assert_string_equal((const char *)nth(u, "TtlNAV", 0)->children->content, "1989075.07");
        assert_string_equal((const char *)nth(u, "TtlNAV", 1)->children->content, "14297272.69");
        assert_string_equal(text(u, "TtlUnitsNb/Unit"), "2000000");
        assert_null(xb_xml_child(rpt, "Xtnsn"));
        xb_msg_free(m);
    }
    val_free(&in);
}

static void rerun_is_repl_with_the_same_report_id(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "one-class.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_msg *m = report(&in, XB_REDA_NS_ISO, "REPL", false);
    assert_string_equal(text(xb_msg_body(m), "Fctn"), "REPL");
    assert_string_equal(text(xb_msg_body(m), "PricRptId"), "ONE-CNY-01-20250102");
    assert_non_null(strstr(text(xb_msg_body(m), "MsgId/Id"), "REPL"));
    xb_msg_free(m);
    xb_report_opts o;
    memset(&o, 0, sizeof o);
    o.function = "PART"; /* partial corrections are not produced by a whole-fund valuation */
    xb_buf out = XB_BUF_INIT;
    xb_error err;
    assert_int_equal(xb_valuation_run(&out, &in.fund, &in.holdings, NULL, in.fx, DAY, &o, &err),
                     XB_EINVAL);
    xb_buf_free(&out);
    val_free(&in);
}

static void suspended_report_has_no_price(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "suspended.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_reda_ns spaces[] = {XB_REDA_NS_ISO, XB_REDA_NS_SWIFT};
    for (int s = 0; s < 2; s++) {
        xb_msg *m = report(&in, spaces[s], NULL, false);
        xmlNodePtr p = xb_xml_child(xb_msg_body(m), "PricValtnDtls");
        assert_string_equal(text(p, "SspdInd"), "true");
        assert_string_equal(text(p, "OffclValtnInd"), "false");
        assert_null(xb_xml_child(p, "PricDtls"));
        assert_null(xb_xml_child(p, "TtlNAV"));
        assert_string_equal(text(p, "FinInstrmDtls/Id/ISIN"), "CNE1000XB035");
        xb_msg_free(m);
    }
    val_free(&in);
}

static void breach_is_estimated_unless_forced(void **state)
{
    val_inputs in;
    val_load(&in, FUNDS "breach.yaml", STMTS "semt.003-one-class-v11.xml", RATES, NULL);
    xb_msg *m = report(&in, XB_REDA_NS_SWIFT, NULL, false);
    xmlNodePtr rpt = xb_msg_body(m), p = xb_xml_child(rpt, "PricValtnDtls");
    assert_string_equal(text(p, "OffclValtnInd"), "false");
    assert_string_equal(text(p, "PricDtls/EstmtdPricInd"), "true");
    assert_string_equal(text(p, "PricDtls/ForExctnInd"), "false");
    assert_string_equal(text(p, "PricDtls/ValInInvstmtCcy/Amt"), "1.0139");
    assert_non_null(strstr(text(rpt, "Xtnsn/Txt"), "beyond tolerance"));
    xb_msg_free(m);
    m = report(&in, XB_REDA_NS_ISO, NULL, true);
    rpt = xb_msg_body(m);
    p = xb_xml_child(rpt, "PricValtnDtls");
    assert_string_equal(text(p, "OffclValtnInd"), "true");
    assert_string_equal(text(p, "PricDtls/EstmtdPricInd"), "false");
    assert_non_null(strstr(text(rpt, "Xtnsn/Txt"), "forced")); /* still flagged */
    xb_msg_free(m);
    val_free(&in);
}

static void every_fixture_report_is_xsd_valid_in_both_namespaces(void **state)
{
    static const struct {
        const char *fund, *stmt, *prices;
    } cases[] = {
        {"one-class.yaml", "semt.003-one-class-v11.xml", NULL},
        {"lg-gbf-01.yaml", "semt.003-lg-gbf-01-v12.xml", PRICES},
        {"cross-usd.yaml", "semt.003-cross-v04.xml", NULL},
        {"half.yaml", "semt.003-half-v12.xml", NULL},
        {"new-fund.yaml", "semt.003-half-v12.xml", NULL},
        {"suspended.yaml", "semt.003-half-v12.xml", NULL},
        {"breach.yaml", "semt.003-one-class-v11.xml", NULL},
    };
    char fund[512], stmt[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(fund, sizeof fund, FUNDS "%s", cases[i].fund);
        snprintf(stmt, sizeof stmt, STMTS "%s", cases[i].stmt);
        val_inputs in;
        val_load(&in, fund, stmt, RATES, cases[i].prices);
        for (int ns = 0; ns < 2; ns++)
            for (int f = 0; f < 2; f++)
                xb_msg_free(report(&in, ns ? XB_REDA_NS_SWIFT : XB_REDA_NS_ISO, f ? "REPL" : "NEWP",
                                   f == 1));
        val_free(&in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_class_report_carries_every_field),
        cmocka_unit_test(rerun_is_repl_with_the_same_report_id),
        cmocka_unit_test(suspended_report_has_no_price),
        cmocka_unit_test(breach_is_estimated_unless_forced),
        cmocka_unit_test(every_fixture_report_is_xsd_valid_in_both_namespaces),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xb_schema_cleanup();
    return rc;
}
