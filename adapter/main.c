/* main.c — xborder's entry point: dispatches to one subcommand per file in adapter/cli/.
 * Owns the command table and top-level --help/--version; never does a subcommand's work. */
#include <stdio.h>
#include <string.h>

#include "adapter/cli/cli.h"

#ifdef XB_WITH_JEMALLOC
/* jemalloc reads this at its first allocation (MALLOC_CONF in the environment still wins). Freed
 * pages go back to the kernel after ~1 s instead of jemalloc's 10 s: each burst allocates and
 * frees parse trees, decisions and audit lines, and the pages held for 10 s were 3-9 MB of peak
 * RSS (issue #8, tests/bench/RESULTS.md, section of 2026-11-28 16:19) for no measurable CPU. */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

static const xb_cli_command commands[] = {
    {"demo", xb_cli_demo, "the whole pipeline on this machine: embedded Kafka, receiver, fixtures"},
    {"run", xb_cli_run,
     "consume Kafka, classify, deliver over HTTPS; DLQ and audit (needs --config)"},
    {"check-config", xb_cli_check_config, "validate a config file, naming the exact wrong key"},
    {"validate", xb_cli_validate, "parse, XSD-validate and rule-check ISO 20022 files"},
    {"classify", xb_cli_classify,
     "classify one message for a destination: labels, actions, verdict"},
    {"valuate", xb_cli_valuate, "value a fund (semt.003 + prices + FX) into a reda.001 report"},
    {"settle", xb_cli_settle, "settle a pacs.008/pacs.009 in CNY for a route (rate, CIPS)"},
    {"settlement-report", xb_cli_settlement_report,
     "per-counterparty CNY settlement report for a date"},
    {"settlement-status", xb_cli_settlement_status,
     "apply pacs.002 status reports (topic or files) to the settlement ledger"},
    {"replay", xb_cli_replay,
     "regulator replay of a topic window against the audit log; JSON + HTML report"},
    {"verify-audit", xb_cli_verify_audit,
     "check the audit chain and every signed checkpoint (exit 1 at the first fault)"},
    {"audit-proof", xb_cli_audit_proof, "Merkle inclusion proof of one audit entry, or check one"},
    {"receive", xb_cli_receive,
     "reference overseas HTTPS receiver (mutual TLS, signatures, dedupe)"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: xborder COMMAND [OPTIONS]\n\n"
                 "xborder classifies ISO 20022 messages under China's financial data-export rules\n"
                 "and delivers what may leave to overseas endpoints.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
    fprintf(
        out,
        "\n`xborder COMMAND --help` describes one command; `man xborder-COMMAND` too.\n"
        "`xborder --version [--config FILE]` prints the version and the rule catalogs in force.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return xb_cli_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "xborder: unknown command '%s' (see xborder --help)\n", argv[1]);
    return 2;
}
