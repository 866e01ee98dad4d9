/* replay.c (cli) — `xborder replay`: the regulator's replay of a topic over a window.
 *
 * Owns: argument parsing, the summary line and the exit status: 0 every decision reproduced and
 * the audit chain intact; 1 a mismatch, a message without an audit record or a broken chain
 * (report still written); 2 usage; 3 the replay could not run (config, broker, audit file).
 * With --catalog-now, differences answer "what would today's catalog have done" and do not
 * make the exit status 1.
 * Never: delivers, produces or commits anything (see adapter/replay.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adapter/cli/cli.h"
#include "adapter/replay.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xborder replay --config FILE --topic T [--from TIME|OFFSET] [--to TIME|OFFSET]\n"
        "         [--audit FILE...|--audit-topic T] [--pub KEY] [--catalog-store DIR]\n"
        "         [--catalog-now] [--no-progress] --out DIR\n\n"
        "Reads topic T over [from, to) with partitions assigned directly (no consumer group,\n"
        "no commits), re-runs parse -> classify -> decide for every message with the catalog\n"
        "(by hash, from --catalog-store), destination, transfer time and counters its audit\n"
        "record names, and compares verdict, legal basis and field actions. Offsets apply to\n"
        "every partition; times (2026-03-01T10:00:00+08:00, ...Z, 2026-03-01) are resolved on\n"
        "the broker. --catalog-now decides with today's catalogs instead. Writes\n"
        "DIR/report.json and DIR/report.html. Nothing is delivered anywhere.\n"
        "exit: 0 all reproduced and chain intact; 1 differences or broken chain; 2 usage;\n"
        "3 could not run.\n"
        "example: xborder replay --config /etc/xborder/xborder.yaml \\\n"
        "           --topic payments.outbound --from 2026-03-01 --to 2026-04-01 \\\n"
        "           --audit /var/lib/xborder/audit.log --out /tmp/replay\n");
}

int xb_cli_replay(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    xb_replay_opts o;
    memset(&o, 0, sizeof o);
    o.progress = isatty(2);
    const char *files[256];
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") && v)
            o.config_path = argv[++i];
        else if (!strcmp(a, "--topic") && v)
            o.topic = argv[++i];
        else if ((!strcmp(a, "--from") || !strcmp(a, "--to")) && v) {
            if (xb_replay_bound_parse(a[2] == 'f' ? &o.from : &o.to, v, &err) < 0) {
                fprintf(stderr, "replay: %s %s: %s\n", a, v, err.message);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--audit") && v && o.n_audit_files < 256)
            files[o.n_audit_files++] = argv[++i];
        else if (!strcmp(a, "--audit-topic") && v)
            o.audit_topic = argv[++i];
        else if (!strcmp(a, "--pub") && v)
            o.pubkey_path = argv[++i];
        else if (!strcmp(a, "--catalog-store") && v)
            o.catalog_store = argv[++i];
        else if (!strcmp(a, "--catalog-now"))
            o.catalog_now = true;
        else if (!strcmp(a, "--no-progress"))
            o.progress = false;
        else if (!strcmp(a, "--out") && v)
            o.out_dir = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    o.audit_files = files;
    if (!o.config_path || !o.topic || !o.out_dir || (!o.n_audit_files == !o.audit_topic)) {
        usage(stderr);
        return 2;
    }
    xb_replay_stats st;
    if (xb_replay_run(&st, &o, &err) < 0) {
        fprintf(stderr, "replay: %s%s%s\n", err.message, err.path[0] ? " at " : "", err.path);
        return 3;
    }
    bool intact = st.chain.fault == XB_AUDIT_INTACT;
    printf("replay: %llu messages, %llu decisions, %llu reproduced, %llu mismatches, %llu without "
           "audit record; audit chain %s%s; report in %s\n",
           (unsigned long long)st.messages, (unsigned long long)st.decisions,
           (unsigned long long)st.matched, (unsigned long long)st.mismatches,
           (unsigned long long)st.not_audited,
           intact ? "intact" : "BROKEN: ", intact ? "" : st.chain.reason, o.out_dir);
    if (!intact)
        return 1;
    if (o.catalog_now)
        return st.not_audited ? 1 : 0;
    return st.mismatches ? 1 : 0;
}
