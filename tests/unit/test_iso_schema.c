/* test_iso_schema.c — XSD validation: every valid fixture passes (AppHdr and Document separately),
 * XSD errors carry the element path and libxml2's message, schema dir override and threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/schema.h"
#include "test_iso_util.h"

static int validate_fixture(const char *rel, xb_error *err)
{
    xb_msg *msg = NULL;
    int rc = iso_parse_fixture(&msg, rel, err);
    if (rc)
        return rc;
    rc = xb_schema_validate_msg(msg, err);
    xb_msg_free(msg);
    return rc;
}

static const char *valid_fixtures[] = {
    "valid/pacs.008-cny-cips-individual.xml",    "valid/pacs.008-cny-cips-individual-prefixed.xml",
    "valid/pacs.008-cny-cips-corporate.xml",     "valid/pacs.008-cny-cips-corporate-nobah.xml",
    "valid/pacs.008-usd-to-settle.xml",          "valid/pacs.008-wrapper-swiftnet-request.xml",
    "valid/pacs.008-wrapper-saa-datapdu.xml",    "valid/pacs.008-wrapper-message.xml",
    "valid/pacs.008-wrapper-siblings.xml",       "valid/pacs.009-cny-cips-fi.xml",
    "valid/pacs.009-cny-cips-cover.xml",         "valid/pacs.002-cny-cips-status.xml",
    "valid/pain.001-cny-cips-initiation.xml",    "valid/camt.053-cny-statement.xml",
    "valid/camt.054-cny-notification.xml",       "valid/reda.001-cny-price-report-iso.xml",
    "valid/reda.001-cny-price-report-swift.xml", "valid/semt.003.001.04-cny-holdings.xml",
    "valid/semt.003.001.11-cny-holdings.xml",    "valid/semt.003.001.12-cny-holdings.xml",
};
#define N_VALID (sizeof valid_fixtures / sizeof valid_fixtures[0])

static void test_valid_fixtures(void **state)
{
    for (size_t i = 0; i < N_VALID; i++) {
        xb_error err = {0};
        int rc = validate_fixture(valid_fixtures[i], &err);
        if (rc)
            print_error("%s: %s at %s\n", valid_fixtures[i], err.message, err.path);
        assert_int_equal(rc, 0);
    }
}

static void test_document_error_has_path(void **state)
{
    xb_error err = {0};
    assert_int_equal(validate_fixture("invalid/xsd-missing-msgid.xml", &err), XB_ESCHEMA);
    assert_string_equal(err.path, "/Document/FICdtTrf/GrpHdr/CreDtTm");
    assert_non_null(strstr(err.message, "Expected is ( MsgId )"));
}

static void test_apphdr_validated_separately(void **state)
{
    xb_error err = {0};
    assert_int_equal(validate_fixture("invalid/xsd-bad-bic-apphdr.xml", &err), XB_ESCHEMA);
    assert_string_equal(err.path, "/AppHdr/Fr/FIId/FinInstnId/BICFI");
    /* the pattern survives the namespace stripping of the message */
    assert_non_null(strstr(err.message, "[A-Z]{2,2}"));
    assert_non_null(strstr(err.message, "icbk-cn"));
    /* the Document alone is fine: validate it without the header */
    xb_msg *msg = NULL;
    assert_int_equal(iso_parse_fixture(&msg, "invalid/xsd-bad-bic-apphdr.xml", &err), 0);
    assert_int_equal(xb_schema_validate_node(xb_msg_definition(msg), xb_msg_document(msg), &err),
                     0);
    assert_int_equal(xb_schema_validate_node(xb_msg_hdr_definition(msg), xb_msg_apphdr(msg), &err),
                     XB_ESCHEMA);
    xb_msg_free(msg);
}

static void test_schema_dir_env(void **state)
{
    xb_error err = {0};
    xb_schema_cleanup();
    setenv("XB_SCHEMA_DIR", "/nonexistent-xborder-schemas", 1);
    assert_string_equal(xb_schema_dir(), "/nonexistent-xborder-schemas");
    assert_int_equal(validate_fixture("valid/pacs.009-cny-cips-fi.xml", &err), XB_ECONFIG);
    assert_non_null(strstr(err.message, "pacs.009.001.08.xsd"));
    xb_schema_cleanup();
    unsetenv("XB_SCHEMA_DIR");
    assert_string_equal(xb_schema_dir(), XB_SCHEMA_DIR_DEFAULT);
    assert_int_equal(validate_fixture("valid/pacs.009-cny-cips-fi.xml", &err), 0);
}

static void *validate_many(void *arg)
{
    long failures = 0;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < N_VALID; i++)
            if (validate_fixture(valid_fixtures[i], NULL))
                failures++;
    return (void *)failures;
}

static void test_threads_share_compiled_schemas(void **state)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, validate_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *failures = NULL;
        assert_int_equal(pthread_join(t[i], &failures), 0);
        assert_int_equal((long)failures, 0);
    }
}

static int teardown(void **state)
{
    xb_schema_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_fixtures),
        cmocka_unit_test(test_document_error_has_path),
        cmocka_unit_test(test_apphdr_validated_separately),
        cmocka_unit_test(test_schema_dir_env),
        cmocka_unit_test(test_threads_share_compiled_schemas),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
