/* test_settle_opts.c — a route's `settle:` subtree -> xb_settle_opts (adapter/settle_opts.c).
 * Good options are read back field by field; each bad option is refused with err->path naming
 * the exact key. Option texts are small YAML documents built here because each case is one key;
 * the full config lives in fixtures/config/settle-test.yaml and is read by the first test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/settle.h"
#include "adapter/yaml_tree.h"

static int parse(xb_settle_opts *o, const char *yaml, xb_error *err)
{
    json_t *t = NULL;
    xb_error e = {0};
    assert_int_equal(xb_yaml_load_buffer(&t, yaml, strlen(yaml), "test", &e), 0);
    int rc = xb_settle_opts_from_tree(o, t, "routes[0].settle", err);
    json_decref(t);
    return rc;
}

static void fixture_route_is_read(void **state)
{
    json_t *cfg = NULL;
    xb_error err = {0};
    assert_int_equal(xb_yaml_load_file(&cfg, XB_FIXTURES "/config/settle-test.yaml", &err), 0);
    const json_t *settle =
        json_object_get(json_array_get(json_object_get(cfg, "routes"), 0), "settle");
    xb_settle_opts o;
    assert_int_equal(xb_settle_opts_from_tree(&o, settle, "routes[0].settle", &err), 0);
    assert_string_equal(o.currency, "CNY");
    assert_string_equal(o.clearing, "CIP");
    assert_string_equal(o.method, "CLRG");
    assert_int_equal(o.rounding, XB_ROUND_HALF_UP);
    assert_false(o.map_cnh);
    assert_string_equal(o.rates_file, "../rates/cfets-2026-11.csv");
    assert_int_equal(o.n_agents, 3);
    assert_string_equal(o.agents[0].bic, "ICBKCNBJXXX");
    assert_string_equal(o.agents[0].cips, "C1021000001");
    assert_string_equal(o.agents[0].cnaps, "102100099996");
    assert_string_equal(o.agents[1].bic, "BKCHHKHH");
    assert_true(o.require_purpose);
    assert_int_equal(o.n_purpose_codes, 5);
    assert_string_equal(o.purpose_codes[2], "LEAS");
    assert_true(o.require_bop);
    assert_string_equal(o.leasing_purpose, "LEAS");
    assert_int_equal(o.n_leasing_fields, 2);
    assert_string_equal(o.leasing_fields[1], "RmtInf/Strd/RfrdDocInf/Nb");
    json_decref(cfg);
}

static void defaults(void **state)
{
    xb_settle_opts o;
    xb_error err = {0};
    assert_int_equal(parse(&o, "currency: CNY\n", &err), 0);
    assert_int_equal(o.rounding, XB_ROUND_HALF_UP);
    assert_string_equal(o.rate_source, "CFETS central parity");
    assert_string_equal(o.clearing, "");
    assert_false(o.map_cnh);
    assert_int_equal(parse(&o, "currency: CNY\nmap_cnh: true\nrounding: half-even\n", &err), 0);
    assert_true(o.map_cnh);
    assert_int_equal(o.rounding, XB_ROUND_HALF_EVEN);
}

static void bad_keys_are_named(void **state)
{
    static const struct {
        const char *yaml;
        const char *path;
    } cases[] = {
        {"clearing: CIP\n", "routes[0].settle.currency"},
        {"currency: USD\n", "routes[0].settle.currency"},
        {"currency: CNY\nrounding: nearest\n", "routes[0].settle.rounding"},
        {"currency: CNY\nmethod: WIRE\n", "routes[0].settle.method"},
        {"currency: CNY\nclearing: CIPS\n", "routes[0].settle.clearing"},
        {"currency: CNY\nmap_cnh: maybe\n", "routes[0].settle.map_cnh"},
        {"currency: CNY\ncurency: CNY\n", "routes[0].settle.curency"},
        {"currency: CNY\nagents:\n  - {bic: ICBKCNBJXXX, cnaps: '1021'}\n",
         "routes[0].settle.agents[0].cnaps"},
        {"currency: CNY\nagents:\n  - {bic: ICBKCNBJXXX, cips: C1}\n  - {bic: bad, cips: C2}\n",
         "routes[0].settle.agents[1].bic"},
        {"currency: CNY\nagents:\n  - {bic: ICBKCNBJXXX}\n", "routes[0].settle.agents[0].cips"},
        {"currency: CNY\nrates: {file: a.csv, topic: t}\n", "routes[0].settle.rates.topic"},
        {"currency: CNY\nrates: {fil: a.csv}\n", "routes[0].settle.rates.fil"},
        {"currency: CNY\npurpose: {required: yes-please}\n", "routes[0].settle.purpose.required"},
        {"currency: CNY\npurpose: {codes: [TOOLONG]}\n", "routes[0].settle.purpose.codes[0]"},
        {"currency: CNY\nleasing: {requires: [RmtInf]}\n", "routes[0].settle.leasing.purpose"},
        {"currency: CNY\nleasing: {purpose: LEAS, requires: [/Document/X]}\n",
         "routes[0].settle.leasing.requires[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xb_settle_opts o;
        xb_error err = {0};
        int rc = parse(&o, cases[i].yaml, &err);
        if (rc != XB_ECONFIG || strcmp(err.path, cases[i].path))
            fail_msg("case %zu: rc %d path '%s' (%s), wanted %s", i, rc, err.path, err.message,
                     cases[i].path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_route_is_read),
        cmocka_unit_test(defaults),
        cmocka_unit_test(bad_keys_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
