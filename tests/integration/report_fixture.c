/* report_fixture.c — writes report.json + report.html for the browser test: the synthetic audit
 * fixture plus three weeks of generated decision records (three destinations, every verdict,
 * one mismatch), built through the same report code replay uses. Usage: xb_report_fixture DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/report.h"

static json_t *synthetic(int day, int k)
{
    static const char *const dests[] = {"hk-correspondent", "sg-group-ops", "de-processor"};
    static const char *const verdicts[] = {"DELIVER", "DELIVER", "DELIVER", "QUARANTINE", "BLOCK"};
    static const char *const bases[] = {"EXEMPT_ART5_1_CONTRACT", "SCC_FILED", "NOT_PI"};
    char when[40];
    snprintf(when, sizeof when, "2026-03-%02dT%02d:15:00+08:00", 4 + day, k % 24);
    const char *v = verdicts[(day + k) % 5];
    json_t *d = json_pack("{ss,ss,s{si,sI,sI,sI,sI}}", "basis", bases[k % 3], "transfer_time", when,
                          "counters", "year", 2026, "pi_after", (json_int_t)(40 + day * 3 + k),
                          "spi_after", (json_int_t)(day > 10 ? 2 : 1), "new_pi_subjects",
                          (json_int_t)1, "new_spi_subjects", (json_int_t)0);
    json_t *o = json_pack("{ss,ss,so}", "destination", dests[k % 3], "verdict", v, "decision", d);
    if (strcmp(v, "DELIVER"))
        json_object_set_new(o, "dlq", json_string(v));
    return json_pack("{s[o]}", "outcomes", o);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xb_report_fixture DIR\n");
        return 2;
    }
    xb_report *rep;
    xb_error err;
    if (xb_report_new(&rep, &err) < 0)
        return 1;
    xb_report_set_country(rep, "hk-correspondent", "HK");
    xb_report_set_country(rep, "sg-office", "SG");
    xb_report_set_country(rep, "sg-group-ops", "SG");
    xb_report_set_country(rep, "de-processor", "DE");
    FILE *f = fopen(XB_FIXTURES "/audit/decisions-synthetic.jsonl", "r");
    if (!f)
        return 1;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        xb_report_add_record(rep, r, NULL);
        json_decref(r);
    }
    free(line);
    fclose(f);
    for (int day = 0; day < 21; day++)
        for (int k = 0; k < 3 + day % 7; k++) {
            json_t *r = synthetic(day, k);
            xb_report_add_record(rep, r, NULL);
            json_decref(r);
        }
    xb_report_add_mismatch(rep, "payments.outbound:1:42", "sg-group-ops", "verdict", "DELIVER",
                           "QUARANTINE");
    xb_audit_verify_result chain;
    memset(&chain, 0, sizeof chain);
    chain.entries = 120;
    chain.decisions = 110;
    chain.checkpoints = 10;
    chain.signed_upto = 119;
    chain.signatures_checked = true;
    xb_report_set_chain(rep, &chain);
    xb_report_set_run(rep, "topic", json_string("payments.outbound"));
    int rc = xb_report_write(rep, argv[1], &err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err.message);
    xb_report_free(rep);
    return rc < 0 ? 1 : 0;
}
