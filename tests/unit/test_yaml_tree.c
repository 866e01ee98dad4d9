/* test_yaml_tree.c — the YAML reader: exact strings, refusals (aliases, tags, duplicates), key
 * paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/yaml_tree.h"

static json_t *load(const char *text, xb_error *err)
{
    json_t *t = NULL;
    if (xb_yaml_load_buffer(&t, text, strlen(text), "t.yaml", err))
        return NULL;
    return t;
}

static void scalars_stay_exact_strings(void **state)
{
    xb_error err;
    json_t *t = load("fund: {id: LG-1, tolerance_pct: \"5\", fee: 0.0120, days: 365}\n"
                     "nothing: ~\nlist: [a, 'b c']\n",
                     &err);
    assert_non_null(t);
    const json_t *fund = json_object_get(t, "fund");
    assert_string_equal(json_string_value(json_object_get(fund, "fee")), "0.0120");
    assert_string_equal(json_string_value(json_object_get(fund, "days")), "365");
    assert_true(json_is_null(json_object_get(t, "nothing")));
    assert_int_equal(json_array_size(json_object_get(t, "list")), 2);
    int64_t days = 0;
    assert_int_equal(xb_yaml_int(&days, fund, "days", "fund", &err), 0);
    assert_int_equal(days, 365);
    json_decref(t);
}

static void refuses_aliases_tags_and_duplicates(void **state)
{
    xb_error err;
    assert_null(load("a: &x [1]\nb: *x\n", &err));
    assert_int_equal(err.code, XB_ECONFIG);
    assert_non_null(strstr(err.message, "t.yaml:1"));
    assert_null(load("a: !!python/object x\n", &err));
    assert_int_equal(err.code, XB_ECONFIG);
    assert_null(load("a: 1\na: 2\n", &err));
    assert_non_null(strstr(err.message, "duplicate key 'a'"));
    assert_null(load("a: [1, 2\n", &err));
    assert_non_null(strstr(err.message, "syntax error"));
    assert_null(load("a: 1\n---\nb: 2\n", &err));
}

static void getters_name_the_key(void **state)
{
    xb_error err;
    json_t *t = load("destinations:\n  hk:\n    batch: {max_messages: many}\n", &err);
    assert_non_null(t);
    const json_t *batch =
        json_object_get(json_object_get(json_object_get(t, "destinations"), "hk"), "batch");
    int64_t n = 0;
    assert_int_equal(xb_yaml_int(&n, batch, "max_messages", "destinations.hk.batch", &err),
                     XB_ECONFIG);
    assert_string_equal(err.path, "destinations.hk.batch.max_messages");
    const char *s = NULL;
    assert_int_equal(xb_yaml_str(&s, batch, "linger_ms", "destinations.hk.batch", &err),
                     XB_ECONFIG);
    assert_non_null(strstr(err.message, "missing"));
    static const char *const allowed[] = {"linger_ms", NULL};
    assert_int_equal(xb_yaml_only_keys(batch, allowed, "destinations.hk.batch", &err), XB_ECONFIG);
    assert_string_equal(err.path, "destinations.hk.batch.max_messages");
    json_decref(t);
}

static void canonical_form_is_stable(void **state)
{
    xb_error err;
    json_t *a = load("b: '1'\na: {y: 2, x: 1}\n", &err);
    json_t *b = load("a:\n  x: 1\n  y: 2\nb: \"1\"\n", &err);
    char *ca = xb_yaml_canonical(a), *cb = xb_yaml_canonical(b);
    assert_string_equal(ca, cb);
    assert_string_equal(ca, "{\"a\":{\"x\":\"1\",\"y\":\"2\"},\"b\":\"1\"}");
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_stay_exact_strings),
        cmocka_unit_test(refuses_aliases_tags_and_duplicates),
        cmocka_unit_test(getters_name_the_key),
        cmocka_unit_test(canonical_form_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
