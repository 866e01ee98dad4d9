/* record.c — the decision record (JSON) and the human-readable table of a decision.
 *
 * Owns: the record's shape (classification.md §3.5): message hash, definition, ids, destination,
 * transfer time, catalog id@version + SHA-256, scenario, basis + filing reference, every rule
 * fired with its path and action, counter changes, warnings, verdict.
 * Never: puts field VALUES, keys or subject digests in the record: a regulator's log must not
 * become a second copy of the personal information it governs.
 */
#include <stdio.h>
#include <string.h>

#include "adapter/policy/policy.h"

static json_t *field_json(const xb_policy_field *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(f->path));
    json_object_set_new(o, "rule", f->rule_id ? json_string(f->rule_id) : json_null());
    json_object_set_new(o, "class", f->cls ? json_string(f->cls) : json_null());
    json_object_set_new(o, "tier", json_string(xb_policy_tier_name(f->tier)));
    json_object_set_new(o, "pi", json_string(xb_policy_pi_name(f->pi)));
    char pfi[4] = "-";
    if (f->pfi)
        snprintf(pfi, sizeof pfi, "C%d", f->pfi);
    json_object_set_new(o, "jrt0171", json_string(pfi));
    json_object_set_new(o, "jrt0197", json_integer(f->level));
    if (f->organisation)
        json_object_set_new(o, "organisation", json_true());
    json_object_set_new(o, "action", json_string(xb_policy_action_name(f->action)));
    if (f->detail[0])
        json_object_set_new(o, "detail", json_string(f->detail));
    return o;
}

json_t *xb_policy_decision_to_json(const xb_policy_decision *d)
{
    char when[40];
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "verdict", json_string(xb_policy_verdict_name(d->verdict)));
    json_object_set_new(o, "reason", json_string(d->reason));
    json_object_set_new(o, "message_sha256", json_string(d->msg_sha256));
    json_object_set_new(o, "message_hash_of", json_string(d->msg_hash_of_bytes ? "bytes" : "c14n"));
    json_object_set_new(o, "definition", json_string(d->definition));
    json_object_set_new(o, "msg_id", json_string(d->msg_id));
    json_object_set_new(o, "uetr", d->uetr[0] ? json_string(d->uetr) : json_null());
    json_object_set_new(o, "destination", json_string(d->destination));
    json_object_set_new(o, "transfer_time",
                        json_string(xb_policy_format_time(when, sizeof when, d->transfer_time)));
    json_t *cat = json_object();
    char idv[128];
    snprintf(idv, sizeof idv, "%s@%s", d->catalog_id, d->catalog_version);
    json_object_set_new(cat, "id", json_string(d->catalog_id));
    json_object_set_new(cat, "version", json_string(d->catalog_version));
    json_object_set_new(cat, "ref", json_string(idv));
    json_object_set_new(cat, "sha256", json_string(d->catalog_sha256));
    json_object_set_new(o, "catalog", cat);
    json_object_set_new(o, "scenario", json_string(d->scenario));
    json_object_set_new(o, "basis", json_string(xb_policy_basis_name(d->basis)));
    json_object_set_new(o, "filing_ref", d->basis_ref[0] ? json_string(d->basis_ref) : json_null());
    json_object_set_new(o, "tier", json_string(xb_policy_tier_name(d->tier)));
    json_object_set_new(o, "pi", json_string(xb_policy_pi_name(d->pi)));
    json_object_set_new(o, "jrt0197", json_integer(d->level));
    json_t *fields = json_array();
    for (size_t i = 0; i < d->n_fields; i++)
        json_array_append_new(fields, field_json(&d->fields[i]));
    json_object_set_new(o, "fields", fields);
    json_t *ctr = json_object();
    json_object_set_new(ctr, "year", json_integer(d->year));
    json_object_set_new(ctr, "counted", json_boolean(d->counted));
    size_t npi = 0, nspi = 0;
    for (size_t i = 0; i < d->n_subjects; i++)
        (*(d->subjects[i].cls == XB_PI_PI ? &npi : &nspi))++;
    json_object_set_new(ctr, "pi_before", json_integer(d->pi_before));
    json_object_set_new(ctr, "pi_after", json_integer(d->pi_after));
    json_object_set_new(ctr, "spi_before", json_integer(d->spi_before));
    json_object_set_new(ctr, "spi_after", json_integer(d->spi_after));
    json_object_set_new(ctr, "new_pi_subjects", json_integer((json_int_t)npi));
    json_object_set_new(ctr, "new_spi_subjects", json_integer((json_int_t)nspi));
    json_object_set_new(o, "counters", ctr);
    json_t *warn = json_array();
    for (int i = 0; i < d->n_warnings; i++)
        json_array_append_new(warn, json_string(d->warnings[i]));
    json_object_set_new(o, "warnings", warn);
    return o;
}

void xb_policy_decision_print_table(const xb_policy_decision *d, FILE *out)
{
    char when[40];
    fprintf(out, "%-72s %-10s %-4s %-3s %-2s %-10s %s\n", "field", "tier", "pi", "171", "197",
            "action", "detail");
    for (size_t i = 0; i < d->n_fields; i++) {
        const xb_policy_field *f = &d->fields[i];
        char pfi[4] = "-";
        if (f->pfi)
            snprintf(pfi, sizeof pfi, "C%d", f->pfi);
        fprintf(out, "%-72s %-10s %-4s %-3s L%-1d %-10s %s%s\n", f->path,
                xb_policy_tier_name(f->tier), xb_policy_pi_name(f->pi), pfi, f->level,
                xb_policy_action_name(f->action), f->organisation ? "(organisation) " : "",
                f->detail);
    }
    fprintf(out, "\ncatalog %s@%s sha256 %s\n", d->catalog_id, d->catalog_version,
            d->catalog_sha256);
    fprintf(out, "destination %s scenario %s at %s\n", d->destination, d->scenario,
            xb_policy_format_time(when, sizeof when, d->transfer_time));
    fprintf(out, "message %s tier %s pi %s level L%d basis %s%s%s\n", d->definition,
            xb_policy_tier_name(d->tier), xb_policy_pi_name(d->pi), d->level,
            xb_policy_basis_name(d->basis), d->basis_ref[0] ? " ref " : "", d->basis_ref);
    if (d->counted)
        fprintf(out, "counters %d: PI %lld -> %lld, SPI %lld -> %lld\n", d->year,
                (long long)d->pi_before, (long long)d->pi_after, (long long)d->spi_before,
                (long long)d->spi_after);
    for (int i = 0; i < d->n_warnings; i++)
        fprintf(out, "warning: %s\n", d->warnings[i]);
    fprintf(out, "verdict %s%s%s\n", xb_policy_verdict_name(d->verdict), d->reason[0] ? ": " : "",
            d->reason);
}
