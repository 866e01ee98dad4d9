/* audit_log_fixture.c — test helper: writes a signed audit log from the synthetic decision
 * fixture (fixtures/audit/decisions-synthetic.jsonl, cycled) through the real writer.
 * Usage: xb_audit_log_fixture LOG KEY.pem N EVERY [final|nofinal] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/state/audit.h"
#include "adapter/state/audit_checkpoint.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: xb_audit_log_fixture LOG KEY.pem N EVERY final|nofinal\n");
        return 2;
    }
    json_t *all = json_array();
    FILE *f = fopen(XB_FIXTURES "/audit/decisions-synthetic.jsonl", "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0)
        json_array_append_new(all, json_loads(line, 0, NULL));
    free(line);
    if (f)
        fclose(f);
    if (!json_array_size(all))
        return 1;
    xb_audit_opts o = {.path = argv[1], .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 100};
    xb_audit *a;
    xb_audit_ckpt *ck;
    xb_error err;
    xb_audit_ckpt_opts co = {
        .audit_path = argv[1], .key_path = argv[2], .every_n = (unsigned)atoi(argv[4])};
    if (xb_audit_open(&a, &o, &err) < 0 || xb_audit_ckpt_new(&ck, a, &co, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    long n = atol(argv[3]);
    for (long i = 0; i < n; i++) {
        json_t *r = json_deep_copy(json_array_get(all, (size_t)i % json_array_size(all)));
        json_object_set_new(r, "n", json_integer(i));
        if (xb_audit_append(NULL, NULL, a, r, &err) < 0 || xb_audit_ckpt_tick(NULL, ck, &err) < 0) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        json_decref(r);
    }
    if (!strcmp(argv[5], "final") && xb_audit_ckpt_write(NULL, ck, &err) < 0)
        return 1;
    xb_audit_ckpt_free(ck);
    xb_audit_close(a);
    json_decref(all);
    return 0;
}
