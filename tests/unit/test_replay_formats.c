/* test_replay_formats.c — replay reads decision records of every format (issue #8 changed the
 * record twice): the same decision written as format 3 (what record.c writes now), as format 2
 * (groups of [path, rule] pairs) and as format 1 (one object per field) gives the same
 * "path=ACTION" digest (xb_replay_recorded_actions_sha), and one field's action changed in any
 * of them changes it. Fixtures: fixtures/messages/policy, fixtures/config/example.yaml.
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

/* The recorded-actions digest of d written as format 3 (record.c), 2 and 1, in that order. */
static void digests(uint8_t out[3][32], const xb_policy_decision *d)
{
    json_t *f[3] = {xb_policy_decision_to_json(d), format2(d), format1(d)};
    assert_non_null(
        json_object_get(json_array_get(json_object_get(f[0], "field_groups"), 0), "rules"));
    for (int k = 0; k < 3; k++) {
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
        uint8_t before[3][32], after[3][32];
        digests(before, &d);
        assert_memory_equal(before[0], before[1], 32);
        assert_memory_equal(before[0], before[2], 32);
        /* one field's action changed: another digest, whichever format recorded it */
        d.fields[d.n_fields - 1].action =
            d.fields[d.n_fields - 1].action == XB_ACT_DROP ? XB_ACT_PASS : XB_ACT_DROP;
        digests(after, &d);
        assert_memory_not_equal(before[0], after[0], 32);
        assert_memory_equal(after[0], after[1], 32);
        assert_memory_equal(after[0], after[2], 32);
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
