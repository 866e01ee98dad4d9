/* test_iso_samples.c — the 26 public samples in ../shared/iso20022/samples (see SOURCES.md there):
 * each must get the verdict SOURCES.md gives (parse + XSD per part + rules). When the folder is
 * missing the test says so and passes with zero checks (CI has the folder). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "test_iso_util.h"

typedef struct expect {
    const char *prefix; /* file name starts with this */
    int code;           /* XB_OK or the error code */
    const char *needle; /* substring of the message, or NULL */
} expect;

static const expect expected[] = {
    {"01_", XB_OK, NULL},
    {"02_", XB_OK, NULL},
    {"03_", XB_OK, NULL},
    {"04_", XB_OK, NULL},
    {"05_", XB_OK, NULL},
    {"06_", XB_ESCHEMA, "TwnNm"},
    {"07_", XB_OK, NULL},
    {"08_", XB_OK, NULL},
    {"09_", XB_OK, NULL},
    {"10_", XB_OK, NULL}, /* relative namespace URI on the wrapper: a warning, not an error */
    {"11_", XB_OK, NULL},
    {"12_", XB_OK, NULL},
    {"13_", XB_OK, NULL},
    {"14_", XB_ERULE, "commodity currency XAU"},
    {"15_", XB_ESCHEMA, "CdtrAgt"},
    {"16_", XB_OK, NULL},
    {"17_", XB_OK, NULL},
    {"18_", XB_EINVAL, "no ISO 20022 Document found in <Message>"},
    {"19_", XB_EUNSUPPORTED, "unsupported definition camt.053.001.04"},
    {"20_", XB_EUNSUPPORTED, "unsupported definition camt.054.001.04"},
    {"21_", XB_EUNSUPPORTED, "unsupported definition pain.001.001.03"},
    {"22_", XB_EUNSUPPORTED, "unsupported definition pacs.008.001.07"},
    {"23_", XB_EUNSUPPORTED, "unsupported definition camt.054.001.02"},
    {"24_", XB_EUNSUPPORTED, "unsupported definition camt.053.001.11"},
    {"25_", XB_OK, NULL},
    {"26_", XB_EUNSUPPORTED, "unsupported definition pain.001.001.08"},
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

static int verdict(const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    xb_msg *msg = NULL;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    int rc = xb_msg_parse(&msg, b.data, b.len, NULL, err);
    if (!rc)
        rc = xb_schema_validate_msg(msg, err);
    if (!rc)
        rc = xb_rules_check(msg, err);
    xb_msg_free(msg);
    xb_buf_free(&b);
    return rc;
}

static void test_samples(void **state)
{
    DIR *d = opendir(XB_ISO_SAMPLES);
    if (!d) {
        printf("samples folder %s missing: 0 checks\n", XB_ISO_SAMPLES);
        return;
    }
    int seen[N_EXPECTED] = {0};
    int checked = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".xml"))
            continue;
        size_t i = 0;
        while (i < N_EXPECTED && strncmp(e->d_name, expected[i].prefix, 3))
            i++;
        if (i == N_EXPECTED)
            fail_msg("sample %s is not in the expected table", e->d_name);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", XB_ISO_SAMPLES, e->d_name);
        xb_error err = {0};
        int rc = verdict(path, &err);
        if (rc != expected[i].code ||
            (expected[i].needle && !strstr(err.message, expected[i].needle)))
            fail_msg("%s: got %s '%s', want %s '%s'", e->d_name, xb_error_name(rc), err.message,
                     xb_error_name(expected[i].code), expected[i].needle ? expected[i].needle : "");
        seen[i] = 1;
        checked++;
    }
    closedir(d);
    for (size_t i = 0; i < N_EXPECTED; i++)
        if (!seen[i])
            fail_msg("sample %s... missing from %s", expected[i].prefix, XB_ISO_SAMPLES);
    assert_int_equal(checked, 26);
    printf("checked %d samples\n", checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_samples)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xb_schema_cleanup();
    return rc;
}
