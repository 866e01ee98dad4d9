/* test_iso_rules.c — xb_rules_check: each rule against an invalid fixture (and the valid fixture it
 * was derived from), the UETR shape, and the samples' rule verdicts (sample 14: XAU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/rules.h"
#include "test_iso_util.h"

static void expect_rule(const char *rel, int want_rc, const char *message, const char *path)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    int rc = iso_parse_fixture(&msg, rel, &err);
    if (rc)
        print_error("%s: %s\n", rel, err.message);
    assert_int_equal(rc, 0);
    rc = xb_rules_check(msg, &err);
    if (rc != want_rc || (message && !strstr(err.message, message)) ||
        (path && strcmp(err.path, path)))
        print_error("%s: rc=%d '%s' at '%s'\n", rel, rc, err.message, err.path);
    assert_int_equal(rc, want_rc);
    if (message)
        assert_non_null(strstr(err.message, message));
    if (path)
        assert_string_equal(err.path, path);
    xb_msg_free(msg);
}

#define TX1 "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
#define GRP "/Document/FIToFICstmrCdtTrf/GrpHdr"

static void test_valid_fixtures_pass(void **state)
{
    static const char *ok[] = {
        "valid/pacs.008-cny-cips-individual.xml",
        "valid/pacs.008-cny-cips-corporate.xml",
        "valid/pacs.008-cny-cips-corporate-nobah.xml",
        "valid/pacs.008-usd-to-settle.xml",
        "valid/pacs.009-cny-cips-fi.xml",
        "valid/pacs.009-cny-cips-cover.xml",
        "valid/pacs.002-cny-cips-status.xml",
        "valid/pain.001-cny-cips-initiation.xml",
        "valid/camt.053-cny-statement.xml",
        "valid/camt.054-cny-notification.xml",
        "valid/reda.001-cny-price-report-iso.xml",
        "valid/reda.001-cny-price-report-swift.xml",
        "valid/semt.003.001.04-cny-holdings.xml",
        "valid/semt.003.001.11-cny-holdings.xml",
        "valid/semt.003.001.12-cny-holdings.xml",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        expect_rule(ok[i], 0, NULL, NULL);
}

static void test_cnh(void **state)
{
    expect_rule("invalid/rule-cnh-currency.xml", XB_ERULE, "CNH is not ISO 4217: use CNY",
                GRP "/TtlIntrBkSttlmAmt");
}

static void test_cnh_account_currency(void **state)
{
    /* A currency-code element, not only a Ccy attribute, must be ISO 4217. */
    expect_rule("invalid/rule-cnh-account-currency.xml", XB_ERULE, "CNH is not ISO 4217: use CNY",
                TX1 "/DbtrAcct/Ccy");
}

static void test_jpy_decimals(void **state)
{
    expect_rule("invalid/rule-jpy-decimals.xml", XB_ERULE,
                "JPY 1180000.50 has 1 decimal: JPY allows 0", GRP "/TtlIntrBkSttlmAmt");
}

static void test_cny_three_decimals(void **state)
{
    expect_rule("invalid/rule-cny-3-decimals.xml", XB_ERULE, "has 3 decimals: CNY allows 2",
                GRP "/TtlIntrBkSttlmAmt");
}

static void test_xau(void **state)
{
    expect_rule("invalid/rule-xau-commodity.xml", XB_ERULE, "commodity currency XAU", NULL);
}

static void test_bad_uetr(void **state)
{
    expect_rule("invalid/rule-bad-uetr.xml", XB_ERULE, "is not a lowercase UUID v4",
                TX1 "/PmtId/UETR");
}

static void test_msgdefidr_mismatch(void **state)
{
    expect_rule(
        "invalid/rule-msgdefidr-mismatch.xml", XB_ERULE,
        "BAH MsgDefIdr 'pacs.009.001.08' does not match the Document's definition pacs.008.001.08",
        "/AppHdr/MsgDefIdr");
}

static void test_wrong_nboftxs(void **state)
{
    expect_rule("invalid/rule-wrong-nboftxs.xml", XB_ERULE, "NbOfTxs says 3 but the message has 2",
                GRP "/NbOfTxs");
}

static void test_wrong_total(void **state)
{
    expect_rule("invalid/rule-wrong-ttlintrbksttlmamt.xml", XB_ERULE,
                "TtlIntrBkSttlmAmt 1336420.51 CNY is not the sum of IntrBkSttlmAmt (1336420.50)",
                GRP "/TtlIntrBkSttlmAmt");
}

static void test_total_currency_mismatch(void **state)
{
    expect_rule("invalid/rule-ttl-currency-mismatch.xml", XB_ERULE,
                "currency differs from TtlIntrBkSttlmAmt", TX1 "[2]/IntrBkSttlmAmt");
}

static void test_pain_ctrlsum(void **state)
{
    expect_rule("invalid/rule-pain-wrong-ctrlsum.xml", XB_ERULE, "CtrlSum 391200.10 is not the sum",
                "/Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum");
}

static void test_pain_pmtinf_nboftxs(void **state)
{
    expect_rule("invalid/rule-pain-pmtinf-nboftxs.xml", XB_ERULE, "in this PmtInf",
                "/Document/CstmrCdtTrfInitn/PmtInf/NbOfTxs");
}

static void test_uetr_shape(void **state)
{
    assert_true(xb_rules_is_uetr("3f2b8c1e-6d4a-4e9b-a7c2-91d05e3b7a44"));
    assert_true(xb_rules_is_uetr("00000000-0000-4000-8000-000000000000"));
    assert_false(xb_rules_is_uetr("3F2B8C1E-6D4A-4E9B-A7C2-91D05E3B7A44")); /* uppercase */
    assert_false(xb_rules_is_uetr("3f2b8c1e-6d4a-1e9b-a7c2-91d05e3b7a44")); /* version 1 */
    assert_false(xb_rules_is_uetr("3f2b8c1e-6d4a-4e9b-c7c2-91d05e3b7a44")); /* variant */
    assert_false(xb_rules_is_uetr("3f2b8c1e6d4a4e9ba7c291d05e3b7a44"));
    assert_false(xb_rules_is_uetr("3f2b8c1e-6d4a-4e9b-a7c2-91d05e3b7a4"));
    assert_false(xb_rules_is_uetr("3f2b8c1e-6d4a-4e9b-a7c2-91d05e3b7a444"));
    assert_false(xb_rules_is_uetr(""));
    assert_false(xb_rules_is_uetr(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_fixtures_pass),
        cmocka_unit_test(test_cnh),
        cmocka_unit_test(test_cnh_account_currency),
        cmocka_unit_test(test_jpy_decimals),
        cmocka_unit_test(test_cny_three_decimals),
        cmocka_unit_test(test_xau),
        cmocka_unit_test(test_bad_uetr),
        cmocka_unit_test(test_msgdefidr_mismatch),
        cmocka_unit_test(test_wrong_nboftxs),
        cmocka_unit_test(test_wrong_total),
        cmocka_unit_test(test_total_currency_mismatch),
        cmocka_unit_test(test_pain_ctrlsum),
        cmocka_unit_test(test_pain_pmtinf_nboftxs),
        cmocka_unit_test(test_uetr_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
