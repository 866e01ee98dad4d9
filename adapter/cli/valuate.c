/* valuate.c — `xborder valuate`: fund file + semt.003 + prices + rates -> reda.001 PriceReport.
 *
 * Owns: argument parsing, reading the input files, progress on a terminal, choosing NEWP/REPL,
 * writing the report and the --explain trace, and the exit status (0 ok, 1 invalid input with
 * the reason, 2 usage, 3 a price or rate is missing).
 * Never: computes a figure itself (valuation/ does) or sends the report anywhere.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/cli/cli.h"
#include "adapter/fund_file.h"
#include "adapter/progress.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "valuation/valuation.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2
#define EXIT_MISSING 3

typedef struct valuate_args {
    const char *fund, *holdings, *prices, *rates, *date, *out, *ns, *function;
    int explain, force;
} valuate_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xborder valuate --fund FUND.yaml --holdings STATEMENT.xml [--prices P.csv]\n"
            "                       --rates R.csv --date YYYY-MM-DD [--out FILE] [--explain]\n"
            "                       [--namespace iso|swift] [--function NEWP|REPL] [--force]\n\n"
            "Values a fund on a date and writes a reda.001.001.04 PriceReport (XSD-valid).\n\n"
            "  --fund FILE       fund definition (YAML: fund, cash, accrued_income, liabilities,\n"
            "                    classes; see fixtures/funds/lg-gbf-01.yaml)\n"
            "  --holdings FILE   semt.003 statement (semt.003.001.04, .11 or .12)\n"
            "  --prices FILE     CSV date,instrument,price,currency; overrides the statement\n"
            "  --rates FILE      CSV date,currency,cny_per_unit[,per] (CFETS central parity;\n"
            "                    per=100 for quotes per 100 units, e.g. JPY)\n"
            "  --date DATE       valuation (NAV) date\n"
            "  --out FILE        write the report here (default: standard output)\n"
            "  --explain         print every intermediate figure to standard error\n"
            "  --namespace NS    iso (urn:iso:..., default) or swift (urn:swift:xsd:...)\n"
            "  --function F      NEWP or REPL; default NEWP, or REPL when --out already holds\n"
            "                    this fund's report for the same date (a re-run)\n"
            "  --force           publish as official even when a NAV moved beyond tolerance\n\n"
            "exit status: 0 written, 1 invalid input, 2 usage, 3 a price or rate is missing\n"
            "example: xborder valuate --fund fund.yaml --holdings semt003.xml \\\n"
            "           --rates cfets.csv --date 2026-03-31 --out reda001.xml\n");
}

static int parse_args(valuate_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"fund", required_argument, NULL, 'f'},     {"holdings", required_argument, NULL, 'H'},
        {"prices", required_argument, NULL, 'p'},   {"rates", required_argument, NULL, 'r'},
        {"date", required_argument, NULL, 'd'},     {"out", required_argument, NULL, 'o'},
        {"explain", no_argument, NULL, 'e'},        {"namespace", required_argument, NULL, 'n'},
        {"function", required_argument, NULL, 'F'}, {"force", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            a->fund = optarg;
            break;
        case 'H':
            a->holdings = optarg;
            break;
        case 'p':
            a->prices = optarg;
            break;
        case 'r':
            a->rates = optarg;
            break;
        case 'd':
            a->date = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'e':
            a->explain = 1;
            break;
        case 'n':
            a->ns = optarg;
            break;
        case 'F':
            a->function = optarg;
            break;
        case 'x':
            a->force = 1;
            break;
        default:
            fprintf(stderr, "xborder valuate: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xborder valuate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    const char *missing = !a->fund       ? "--fund"
                          : !a->holdings ? "--holdings"
                          : !a->rates    ? "--rates"
                          : !a->date     ? "--date"
                                         : NULL;
    if (missing) {
        fprintf(stderr, "xborder valuate: %s is required\n", missing);
        return -1;
    }
    if (a->ns && strcmp(a->ns, "iso") && strcmp(a->ns, "swift")) {
        fprintf(stderr, "xborder valuate: --namespace must be iso or swift\n");
        return -1;
    }
    if (a->function && strcmp(a->function, "NEWP") && strcmp(a->function, "REPL")) {
        fprintf(stderr, "xborder valuate: --function must be NEWP or REPL\n");
        return -1;
    }
    return 0;
}

static int exit_for(int rc)
{
    return rc == XB_ENOTFOUND ? EXIT_MISSING : EXIT_INVALID;
}

static int fail(const char *what, const xb_error *err)
{
    fprintf(stderr, "xborder valuate: %s: %s%s%s\n", what, err->message,
            err->path[0] && !strstr(err->message, err->path) ? " at " : "",
            err->path[0] && !strstr(err->message, err->path) ? err->path : "");
    return exit_for(err->code);
}

/* adapter/progress: throttled, on a terminal only (XB_PROGRESS=0/1 overrides), quiet in pipes. */
static void progress(void *ctx, size_t done, size_t total)
{
    xb_progress *p = ctx;
    if (total < 1000)
        return;
    p->total = total;
    if (done == total)
        xb_progress_finish(p, done);
    else
        xb_progress_update(p, done);
}

/* A re-run: --out already holds a reda.001 whose PricRptId is this fund's for this date. */
static int is_rerun(const char *out, const char *rpt_id)
{
    xb_buf b = XB_BUF_INIT;
    int rerun = 0;
    if (out && xb_buf_read_file(&b, out, 64u * 1024u * 1024u) == 0 && b.len) {
        xb_msg *msg = NULL;
        xb_error e;
        if (xb_msg_parse(&msg, b.data, b.len, NULL, &e) == 0) {
            const xb_definition *d = xb_msg_definition(msg);
            const char *id = xb_xml_text(xb_xml_child(xb_msg_body(msg), "PricRptId"));
            rerun = d->kind == XB_KIND_REDA001 && id && !strcmp(id, rpt_id);
            xb_msg_free(msg);
        }
    }
    xb_buf_free(&b);
    return rerun;
}

static int write_out(const char *path, const xb_buf *b)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "xborder valuate: cannot write %s\n", path);
        return EXIT_INVALID;
    }
    int bad = fwrite(b->data, 1, b->len, f) != b->len;
    if (path)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad) {
        fprintf(stderr, "xborder valuate: writing %s failed\n", path ? path : "stdout");
        return EXIT_INVALID;
    }
    return 0;
}

typedef struct valuate_inputs {
    xb_fund fund;
    xb_holdings holdings;
    xb_price_table *prices;
    xb_fx_table *fx;
} valuate_inputs;

static int load_inputs(valuate_inputs *in, const valuate_args *a)
{
    xb_error err;
    xb_error_clear(&err);
    if (!xb_val_is_date(a->date)) {
        fprintf(stderr, "xborder valuate: --date '%s' is not a YYYY-MM-DD date\n", a->date);
        return EXIT_INVALID;
    }
    if (xb_fund_file_load(&in->fund, a->fund, &err))
        return fail(a->fund, &err);
    if (xb_fx_new(&in->fx, &err) || xb_fx_load_file(in->fx, a->rates, &err))
        return fail("rates", &err);
    if (a->prices && (xb_price_table_new(&in->prices, &err) ||
                      xb_price_table_load_file(in->prices, a->prices, &err)))
        return fail("prices", &err);
    if (xb_holdings_load_file(&in->holdings, a->holdings, &err))
        return fail(a->holdings, &err);
    return 0;
}

static void free_inputs(valuate_inputs *in)
{
    xb_fund_free(&in->fund);
    xb_holdings_free(&in->holdings);
    xb_price_table_free(in->prices);
    xb_fx_free(in->fx);
}

static int run(const valuate_args *a)
{
    valuate_inputs in;
    memset(&in, 0, sizeof in);
    int status = load_inputs(&in, a);
    xb_buf report = XB_BUF_INIT, explain = XB_BUF_INIT;
    if (status)
        goto done;
    char rpt_id[40];
    xb_price_report_id(rpt_id, sizeof rpt_id, in.fund.id, a->date);
    xb_report_opts o;
    memset(&o, 0, sizeof o);
    o.ns = a->ns && !strcmp(a->ns, "swift") ? XB_REDA_NS_SWIFT : XB_REDA_NS_ISO;
    o.function = a->function ? a->function : is_rerun(a->out, rpt_id) ? "REPL" : "NEWP";
    o.force = a->force;
    o.explain = a->explain ? &explain : NULL;
    xb_progress prog;
    xb_progress_start(&prog, "valuing holdings", "holdings", 0);
    o.progress = prog.on ? progress : NULL;
    o.progress_ctx = &prog;
    xb_nav_result nav;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_valuation_run_ex(&report, &nav, &in.fund, &in.holdings, in.prices, in.fx, a->date,
                                 &o, &err);
    if (a->explain && explain.len)
        fwrite(explain.data, 1, explain.len, stderr);
    if (rc) {
        status = fail("valuation", &err);
        goto done;
    }
    if (nav.breach)
        fprintf(stderr, "xborder valuate: warning: %s\n", nav.flag);
    xb_nav_result_free(&nav);
    status = write_out(a->out, &report);
    if (!status && a->out)
        fprintf(stderr, "xborder valuate: %s %s written to %s\n", rpt_id, o.function, a->out);
done:
    xb_buf_free(&report);
    xb_buf_free(&explain);
    free_inputs(&in);
    return status;
}

int xb_cli_valuate(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    valuate_args a;
    if (parse_args(&a, argc, argv)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return run(&a);
}
