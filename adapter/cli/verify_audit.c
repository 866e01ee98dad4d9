/* verify_audit.c — `xborder verify-audit [--pub KEY] FILE...|--topic T [--config FILE]`.
 *
 * Owns: argument parsing and the one-line verdict a regulator reads. Exit 0 when the whole chain
 * and every checkpoint verify; 1 naming the seq and reason of the first fault (or when the log
 * cannot be read); 2 usage.
 * Never: modifies the log; prints record contents.
 */
#include <stdio.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/replay.h"
#include "adapter/state/audit_verify.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xborder verify-audit [--pub KEY.pem] [--allow-unsigned-tail] [--json] FILE...\n"
            "       xborder verify-audit [--pub KEY.pem] --topic TOPIC --config FILE\n\n"
            "Checks the whole hash chain of an audit log (rotated files oldest first, or an audit\n"
            "topic) and every signed checkpoint: head, Merkle root and, with --pub, the Ed25519\n"
            "signature. With --pub, entries after the last signed checkpoint are an error (they\n"
            "could have been appended by anyone); --allow-unsigned-tail accepts them (live logs).\n"
            "exit: 0 intact; 1 with the seq and reason of the first broken, missing, reordered,\n"
            "inserted or unsigned entry; 2 usage.\n"
            "example: xborder verify-audit --pub audit.pub.pem /var/lib/xborder/audit.log\n");
}

static void print_result(const xb_audit_verify_result *r, bool as_json)
{
    if (as_json) {
        json_t *j = json_pack(
            "{ss,ss,sI,ss,ss,sI,sI,sI,sI,sb,ss,ss}", "status",
            r->fault == XB_AUDIT_INTACT ? "intact" : "broken", "fault",
            xb_audit_fault_name(r->fault), "seq", (json_int_t)r->seq, "reason", r->reason, "where",
            r->where, "entries", (json_int_t)r->entries, "decisions", (json_int_t)r->decisions,
            "checkpoints", (json_int_t)r->checkpoints, "signed_upto", (json_int_t)r->signed_upto,
            "signatures_checked", r->signatures_checked, "head", r->head, "root", r->root);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
        return;
    }
    if (r->fault == XB_AUDIT_INTACT) {
        printf("intact: %llu entries (%llu decisions), %llu checkpoints, signed up to entry %llu "
               "(signatures %s)\nhead %s\nroot %s\n",
               (unsigned long long)r->entries, (unsigned long long)r->decisions,
               (unsigned long long)r->checkpoints, (unsigned long long)r->signed_upto,
               r->signatures_checked ? "checked" : "NOT checked: no --pub", r->head, r->root);
    } else {
        printf("BROKEN at seq %llu: %s: %s%s%s\n", (unsigned long long)r->seq,
               xb_audit_fault_name(r->fault), r->reason, r->where[0] ? " at " : "", r->where);
        printf("verified before it: %llu entries, %llu checkpoints\n",
               (unsigned long long)r->entries, (unsigned long long)r->checkpoints);
    }
}

int xb_cli_verify_audit(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    xb_audit_verify_opts o = {0};
    const char *topic = NULL, *config = NULL;
    const char *files[256];
    size_t n = 0;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pub") && i + 1 < argc)
            o.pubkey_path = argv[++i];
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            topic = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--allow-unsigned-tail"))
            o.allow_unsigned_tail = true;
        else if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (argv[i][0] != '-' && n < sizeof files / sizeof files[0])
            files[n++] = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if ((topic && (n || !config)) || (!topic && !n)) {
        usage(stderr);
        return 2;
    }
    xb_audit_verify_result r;
    xb_error err;
    xb_error_clear(&err);
    int rc = topic ? xb_replay_verify_audit_topic(&r, config, topic, &o, &err)
                   : xb_audit_verify_files(&r, files, n, &o, &err);
    if (rc < 0) {
        fprintf(stderr, "verify-audit: %s\n", err.message);
        return 1;
    }
    print_result(&r, as_json);
    return r.fault == XB_AUDIT_INTACT ? 0 : 1;
}
