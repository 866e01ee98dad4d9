/* test_ops_version.c — `xborder --version` reports the catalog version in force at a time, from
 * the catalog file itself (adapter/cli/version.c).
 * Owns: temp files under /tmp. Never: touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/cli/version.h"
#include "adapter/policy/policy.h"

#define CATALOG XB_FIXTURES "/catalogs/cn-finance.yaml"

static char *run_at(const char *when, const char *const *paths, size_t n, int *rc)
{
    int64_t t;
    xb_error err;
    assert_int_equal(xb_policy_parse_time(&t, when, &err), 0);
    FILE *f = tmpfile();
    *rc = xb_cli_version_catalogs(f, paths, n, NULL, t, &err);
    long len = ftell(f);
    char *s = calloc(1, (size_t)len + 1);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return s;
}

static void test_version_in_force_follows_the_date(void **state)
{
    const char *paths[] = {CATALOG};
    int rc;
    /* each answer must be the version whose window holds the date, as the set selects it */
    const char *dates[] = {"2024-06-01T12:00:00+08:00", "2026-06-01T12:00:00+08:00"};
    for (int i = 0; i < 2; i++) {
        xb_policy_catalog_set *set;
        xb_error err;
        assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
        assert_int_equal(xb_policy_catalog_set_load(set, CATALOG, NULL, &err), 0);
        int64_t t;
        assert_int_equal(xb_policy_parse_time(&t, dates[i], &err), 0);
        const xb_policy_catalog *cat;
        assert_int_equal(xb_policy_catalog_select(&cat, set, NULL, t, &err), 0);
        char want[200];
        snprintf(want, sizeof want, "catalog %s %s in force since ", xb_policy_catalog_id(cat),
                 xb_policy_catalog_version(cat));
        char *out = run_at(dates[i], paths, 1, &rc);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, CATALOG));
        free(out);
        xb_policy_catalog_set_free(set);
    }
    /* two dates in different windows give different versions */
    char *a = run_at(dates[0], paths, 1, &rc), *b = run_at(dates[1], paths, 1, &rc);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void test_before_any_version(void **state)
{
    const char *paths[] = {CATALOG};
    int rc;
    char *out = run_at("2001-01-01", paths, 1, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "no version in force at 2001-01-01"));
    free(out);
}

static void test_broken_catalog_is_named_and_others_still_print(void **state)
{
    char path[] = "/tmp/xb-version-cat.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("catalog_id: broken\nversions: [\n", f);
    fclose(f);
    const char *paths[] = {path, CATALOG};
    int rc;
    char *out = run_at("2026-06-01", paths, 2, &rc);
    assert_true(rc < 0);
    char want[200];
    snprintf(want, sizeof want, "catalog %s: NOT LOADED: ", path);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "catalog cn-finance "));
    free(out);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_in_force_follows_the_date),
        cmocka_unit_test(test_before_any_version),
        cmocka_unit_test(test_broken_catalog_is_named_and_others_still_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
