/* test_iso_keys.c — xb_keys_extract for every supported definition, against the fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/keys.h"
#include "test_iso_util.h"

static void extract(xb_msg_keys *k, xb_msg **msg, const char *rel)
{
    xb_error err = {0};
    int rc = iso_parse_fixture(msg, rel, &err);
    if (rc)
        print_error("%s: %s\n", rel, err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(xb_keys_extract(k, *msg, &err), 0);
}

static void assert_amount(const xb_tx_keys *tx, const char *ccy, const char *value)
{
    char buf[64];
    assert_true(tx->has_sttlm_amt);
    assert_string_equal(tx->sttlm_amt.ccy, ccy);
    assert_true(xb_dec_format(buf, sizeof buf, &tx->sttlm_amt.value) > 0);
    assert_string_equal(buf, value);
}

static void test_pacs008_corporate(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/pacs.008-cny-cips-corporate.xml");
    assert_string_equal(k.msg_id, "XB20240318CORP");
    assert_string_equal(k.cre_dt_tm, "2024-03-18T14:05:30+08:00");
    assert_int_equal(k.n_tx, 2);
    assert_string_equal(k.tx[0].uetr, "a8f1c2d3-4b5e-4f60-8a71-b2c3d4e5f601");
    assert_string_equal(k.tx[0].end_to_end_id, "INV-2024-SG-00917");
    assert_string_equal(k.tx[0].tx_id, "XB20240318CORPTX1");
    assert_amount(&k.tx[0], "CNY", "1250000.00");
    assert_string_equal(k.tx[0].sttlm_date, "2024-03-18");
    assert_string_equal(k.tx[0].instg_agt, "BKCHCNBJ300");
    assert_string_equal(k.tx[0].instd_agt, "BKCHSGSGXXX");
    assert_string_equal(k.tx[1].uetr, "5d9e7f10-2a3b-4c4d-9e5f-60718293a4b5");
    assert_amount(&k.tx[1], "CNY", "86420.50");
    xb_keys_free(&k);
    assert_null(k.tx);
    xb_msg_free(msg);
}

static void test_pacs008_usd(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/pacs.008-usd-to-settle.xml");
    assert_int_equal(k.n_tx, 1);
    assert_amount(&k.tx[0], "USD", "8030.25");
    assert_string_equal(k.tx[0].sttlm_date, "2024-03-19");
    xb_keys_free(&k);
    xb_msg_free(msg);
}

static void test_pacs009_cover(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/pacs.009-cny-cips-cover.xml");
    assert_string_equal(k.msg_id, "XB20240321COV0003");
    assert_int_equal(k.n_tx, 1);
    assert_string_equal(k.tx[0].uetr, "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b");
    assert_amount(&k.tx[0], "CNY", "172350.00");
    assert_string_equal(k.tx[0].instg_agt, "ABOCCNBJ110");
    xb_keys_free(&k);
    xb_msg_free(msg);
}

static void test_pacs002(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/pacs.002-cny-cips-status.xml");
    assert_string_equal(k.msg_id, "XB20240318STS0001");
    assert_int_equal(k.n_tx, 2);
    assert_string_equal(k.tx[1].uetr, "5d9e7f10-2a3b-4c4d-9e5f-60718293a4b5");
    assert_string_equal(k.tx[1].end_to_end_id, "INV-2024-SG-00931");
    assert_amount(&k.tx[1], "CNY", "86420.50");
    assert_false(k.tx[0].has_sttlm_amt);
    assert_string_equal(k.tx[0].sttlm_date, "2024-03-18");
    /* agents come from the group header when the transaction has none */
    assert_string_equal(k.tx[0].instg_agt, "BKCHSGSGXXX");
    xb_keys_free(&k);
    xb_msg_free(msg);
}

static void test_pain001(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/pain.001-cny-cips-initiation.xml");
    assert_string_equal(k.msg_id, "SZHX-PAIN-20240322-01");
    assert_int_equal(k.n_tx, 2);
    assert_string_equal(k.tx[1].end_to_end_id, "PO-88240-HK");
    assert_amount(&k.tx[1], "CNY", "35200.00");
    assert_string_equal(k.tx[1].sttlm_date, "2024-03-22");
    assert_string_equal(k.tx[1].instg_agt, "CMBCCNBS020");
    assert_string_equal(k.tx[1].instd_agt, "HSBCHKHHHKH");
    xb_keys_free(&k);
    xb_msg_free(msg);
}

static void test_camt(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/camt.053-cny-statement.xml");
    assert_string_equal(k.msg_id, "XB-STMT-20240318-0001");
    assert_int_equal(k.n_tx, 2);
    assert_string_equal(k.tx[0].uetr, "a8f1c2d3-4b5e-4f60-8a71-b2c3d4e5f601");
    assert_amount(&k.tx[1], "CNY", "218888.88");
    assert_string_equal(k.tx[1].sttlm_date, "2024-03-18");
    xb_keys_free(&k);
    xb_msg_free(msg);

    extract(&k, &msg, "valid/camt.054-cny-notification.xml");
    assert_string_equal(k.cre_dt_tm, "2024-03-15T11:02:44+08:00");
    assert_int_equal(k.n_tx, 1);
    assert_string_equal(k.tx[0].end_to_end_id, "E2E-ZW-20240315-0001");
    assert_string_equal(k.tx[0].instg_agt, "ICBKCNBJSHI");
    xb_keys_free(&k);
    xb_msg_free(msg);
}

static void test_reda_and_semt(void **state)
{
    xb_msg_keys k;
    xb_msg *msg;
    extract(&k, &msg, "valid/reda.001-cny-price-report-swift.xml");
    assert_string_equal(k.msg_id, "HXFUND-PR-20240329-001");
    assert_string_equal(k.cre_dt_tm, "2024-03-29T20:30:00+08:00");
    assert_int_equal(k.n_tx, 1);
    assert_string_equal(k.tx[0].tx_id, "CNE100000XB1");
    assert_amount(&k.tx[0], "CNY", "1.2345"); /* NAV keeps its 4 decimals */
    assert_string_equal(k.tx[0].sttlm_date, "2024-03-29");
    xb_keys_free(&k);
    xb_msg_free(msg);

    extract(&k, &msg, "valid/semt.003.001.12-cny-holdings.xml");
    assert_string_equal(k.msg_id, "HX-HLDG-20240329-001");
    assert_string_equal(k.cre_dt_tm, "2024-03-29T18:00:00+08:00");
    assert_int_equal(k.n_tx, 1);
    assert_amount(&k.tx[0], "CNY", "1543125.00");
    xb_keys_free(&k);
    xb_msg_free(msg);

    extract(&k, &msg, "valid/semt.003.001.04-cny-holdings.xml");
    assert_string_equal(k.msg_id, "HX-HLDG-20240329-004");
    assert_int_equal(k.n_tx, 0);
    assert_null(k.tx);
    xb_keys_free(&k);
    xb_msg_free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacs008_corporate), cmocka_unit_test(test_pacs008_usd),
        cmocka_unit_test(test_pacs009_cover),     cmocka_unit_test(test_pacs002),
        cmocka_unit_test(test_pain001),           cmocka_unit_test(test_camt),
        cmocka_unit_test(test_reda_and_semt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
