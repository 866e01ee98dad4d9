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
        json_t *f3 = xb_policy_decision_to_json(&d), *f2 = format2(&d), *f1 = format1(&d);
        assert_non_null(
            json_object_get(json_array_get(json_object_get(f3, "field_groups"), 0), "rules"));
        uint8_t s3[32], s2[32], s1[32];
        xb_replay_recorded_actions_sha(s3, f3);
        xb_replay_recorded_actions_sha(s2, f2);
        xb_replay_recorded_actions_sha(s1, f1);
        assert_memory_equal(s3, s2, 32);
        assert_memory_equal(s3, s1, 32);
        /* one field's action changed: another digest, whichever format recorded it */
        d.fields[d.n_fields - 1].action =
            d.fields[d.n_fields - 1].action == XB_ACT_DROP ? XB_ACT_PASS : XB_ACT_DROP;
        json_t *g3 = xb_policy_decision_to_json(&d), *g2 = format2(&d), *g1 = format1(&d);
        uint8_t t3[32], t2[32], t1[32];
        xb_replay_recorded_actions_sha(t3, g3);
        xb_replay_recorded_actions_sha(t2, g2);
        xb_replay_recorded_actions_sha(t1, g1);
        assert_memory_not_equal(s3, t3, 32);
        assert_memory_equal(t3, t2, 32);
        assert_memory_equal(t3, t1, 32);
        json_decref(f3);
        json_decref(f2);
        json_decref(f1);
        json_decref(g3);
        json_decref(g2);
        json_decref(g1);
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
