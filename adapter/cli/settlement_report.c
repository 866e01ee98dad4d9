/* settlement_report.c — `xborder settlement-report`: the CNY settlement ledger for one date.
 *
 * Owns: arguments, opening the store (--store URL, or --state DIR meaning sqlite:DIR/xborder.db),
 * and printing the ledger report per counterparty as a table or (--json) as JSON.
 * Exit: 0 the report balances, 1 it does not or the store cannot be read, 2 usage.
 * Never: changes a ledger row (it only reads; opening may create empty tables).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/state/ledger.h"
#include "adapter/state/store.h"
#include "valuation/fx.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xborder settlement-report (--state DIR | --store URL) --date D [--json]\n\n"
        "Prints, per counterparty, the transfers settled on interbank settlement date D\n"
        "(YYYY-MM-DD): their number, CNY totals, statuses (SENT, ACSP, ACSC, ACCC, RJCT),\n"
        "what is still pending, what was rejected and why, and pacs.002 statuses that\n"
        "matched no transfer. --state DIR reads DIR/xborder.db; --store takes a state-store URL\n"
        "(sqlite:PATH, or postgresql://... when instances share a PostgreSQL store).\n\n"
        "exit: 0 the report balances, 1 it does not (or the store cannot be read), 2 usage.\n"
        "example: xborder settlement-report --store sqlite:/var/lib/xborder/xborder.db "
        "--date 2026-03-31\n");
}

typedef struct args {
    char store[1100];
    const char *date;
    int json;
} args;

static int parse_args(args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"store", required_argument, NULL, 'S'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+s:S:d:j", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            snprintf(a->store, sizeof a->store, "sqlite:%s/xborder.db", optarg);
            break;
        case 'S':
            snprintf(a->store, sizeof a->store, "%s", optarg);
            break;
        case 'd':
            a->date = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        default:
            fprintf(stderr, "xborder settlement-report: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc || !a->store[0] || !a->date) {
        fprintf(stderr, "xborder settlement-report: need --state or --store, and --date\n");
        return -1;
    }
    if (!xb_val_is_date(a->date)) {
        fprintf(stderr, "xborder settlement-report: --date '%s' is not a YYYY-MM-DD date\n",
                a->date);
        return -1;
    }
    return 0;
}

static const char *const STATUSES[] = {"SENT", "ACSP", "ACSC", "ACCC", "RJCT"};

static void print_row(const char *name, const json_t *c)
{
    const json_t *by = json_object_get(c, "by_status");
    printf("%-20s %9lld %22s", name, (long long)json_integer_value(json_object_get(c, "transfers")),
           json_string_value(json_object_get(c, "cny_total")));
    for (size_t i = 0; i < 5; i++)
        printf(" %6lld", (long long)json_integer_value(
                             json_object_get(json_object_get(by, STATUSES[i]), "count")));
    printf("\n");
}

static void print_list(const char *title, const json_t *arr, const char *extra)
{
    printf("\n%s: %zu\n", title, json_array_size(arr));
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "uetr"));
        const char *who = json_string_value(json_object_get(r, "counterparty"));
        const char *amt = json_string_value(json_object_get(r, "cny"));
        printf("  %-36s %-12s %-4s %s %s\n", id && id[0] ? id : "(no uetr)",
               who ? who : json_string_value(json_object_get(r, "orgnl_msg_id")),
               json_string_value(json_object_get(r, "status")), amt ? amt : "",
               extra ? json_string_value(json_object_get(r, extra)) : "");
    }
}

static void print_text(const json_t *rep)
{
    printf("Settlement report %s (CNY)\n\n", json_string_value(json_object_get(rep, "date")));
    printf("%-20s %9s %22s %6s %6s %6s %6s %6s\n", "counterparty", "transfers", "CNY total", "SENT",
           "ACSP", "ACSC", "ACCC", "RJCT");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(rep, "counterparties"), i, c)
        print_row(json_string_value(json_object_get(c, "counterparty")), c);
    print_row("TOTAL", json_object_get(rep, "totals"));
    print_list("pending (SENT/ACSP)", json_object_get(rep, "pending"), NULL);
    print_list("rejected", json_object_get(rep, "rejected"), "reason");
    print_list("unmatched status reports", json_object_get(rep, "unmatched"), "reason");
    printf("\nbalanced: %s\n", json_is_true(json_object_get(rep, "balanced")) ? "yes" : "NO");
}

int xb_cli_settlement_report(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    args a;
    if (parse_args(&a, argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    xb_store *st = NULL;
    xb_error err = {0};
    json_t *rep = NULL;
    if (xb_store_open(&st, a.store, &err) < 0 ||
        xb_settle_ledger_report(&rep, st, a.date, &err) < 0) {
        fprintf(stderr, "xborder settlement-report: %s\n", err.message);
        xb_store_close(st);
        return err.code == XB_ECONFIG ? 2 : 1;
    }
    if (a.json) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        print_text(rep);
    }
    int balanced = json_is_true(json_object_get(rep, "balanced"));
    json_decref(rep);
    xb_store_close(st);
    return balanced ? 0 : 1;
}
