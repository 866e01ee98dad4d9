/* test_replay_formats.c — replay reads decision records of every format (issue #8 changed the
 * record three times): the same decision written as format 4 (what record.c writes now: short
 * entries and "path_roots"), as format 3 ([rule, base, rest] entries), as format 2 (groups of
 * [path, rule] pairs) and as format 1 (one object per field) gives the same "path=ACTION" digest
 * (xb_replay_recorded_actions_sha), and one field's action changed in any of them changes it.
 * Fixtures: fixtures/messages/policy, fixtures/config/example.yaml.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/replay.h"
#include "iso20022/schema.h"
#include "test_pol_common.h"

#define WHEN "2026-12-15T10:30:00+08:00"

/* Format 2 of d's fields: groups of [path, rule] pairs, one group per field (grouping does not
 * matter to the digest, the action of each path does). */
static json_t *format2(const xb_policy_decision *d)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < d->n_fields; i++) {
        const xb_policy_field *f = &d->fields[i];
        json_array_append_new(groups,
                              json_pack("{ss,s[[ss?]]}", "action", xb_policy_action_name(f->action),
                                        "fields", f->path, f->rule_id));
    }
    return json_pack("{so}", "field_groups", groups);
}

/* Format 3 of d's fields: one group per field holding one [rule, base, rest] entry, the base
 * cut after the path's first step. */
static json_t *format3(const xb_policy_decision *d)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < d->n_fields; i++) {
        const xb_policy_field *f = &d->fields[i];
        const char *cut = strchr(f->path + 1, '/');
        size_t base = cut ? (size_t)(cut + 1 - f->path) : 0;
        json_array_append_new(groups, json_pack("{ss,s[[s?s%s]]}", "action",
                                                xb_policy_action_name(f->action), "rules",
                                                f->rule_id, f->path, base, f->path + base));
    }
    return json_pack("{so}", "field_groups", groups);
}

/* Format 1: "fields": [{path, rule, action, ...}] in message order. */
static json_t *format1(const xb_policy_decision *d)
{
    json_t *fields = json_array();
    for (size_t i = 0; i < d->n_fields; i++)
        json_array_append_new(fields, json_pack("{ss,ss?,ss}", "path", d->fields[i].path, "rule",
                                                d->fields[i].rule_id, "action",
                                                xb_policy_action_name(d->fields[i].action)));
    return json_pack("{so}", "fields", fields);
}

/* The recorded-actions digest of d written as format 4 (record.c), 3, 2 and 1, in that order. */
static void digests(uint8_t out[4][32], const xb_policy_decision *d)
{
    json_t *f[4] = {xb_policy_decision_to_json(d), format3(d), format2(d), format1(d)};
    assert_non_null(json_object_get(f[0], "path_roots"));
    assert_null(json_object_get(f[1], "path_roots"));
    for (int k = 0; k < 4; k++) {
        xb_replay_recorded_actions_sha(out[k], f[k]);
        json_decref(f[k]);
    }
}

static void every_format_gives_the_same_actions(void **state)
{
    (void)state;
    xb_policy_catalog_set *set = pol_default_catalogs();
    xb_policy_destinations *ex = pol_destinations(POL_EXAMPLE);
    static const char *const msgs[] = {POL_MSG("pacs.008-remit-individual.xml"),
                                       POL_MSG("pacs.008-corporate.xml"),
                                       POL_MSG("pacs.008-secret.xml")};
    for (size_t m = 0; m < sizeof msgs / sizeof *msgs; m++) {
        xb_policy_decision d;
        assert_int_equal(pol_decide(&d, msgs[m], set, ex, "sg-group-ops", WHEN, NULL), 0);
        assert_true(d.n_fields > 10);
        uint8_t before[4][32], after[4][32];
        digests(before, &d);
        for (int k = 1; k < 4; k++)
            assert_memory_equal(before[0], before[k], 32);
        /* one field's action changed: another digest, whichever format recorded it */
        d.fields[d.n_fields - 1].action =
            d.fields[d.n_fields - 1].action == XB_ACT_DROP ? XB_ACT_PASS : XB_ACT_DROP;
        digests(after, &d);
        assert_memory_not_equal(before[0], after[0], 32);
        for (int k = 1; k < 4; k++)
            assert_memory_equal(after[0], after[k], 32);
        xb_policy_decision_free(&d);
    }
    xb_policy_catalog_set_free(set);
    xb_policy_destinations_free(ex);
    xb_schema_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_gives_the_same_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
