/* settle.c — `xborder settle`: settles one pacs.008/pacs.009 in CNY for a configured route.
 *
 * Owns: argument handling, finding the route's `settle:` options in the config file, loading its
 * rates (--rates, else the route's rates.file, else its rates.topic), and the exit statuses:
 *   0 settled (or already settled): the message on stdout, the details (JSON) on stderr;
 *   1 the message is invalid; 10 it must be quarantined (missing rate, unsettleable); 2 usage.
 * Never: writes anything but stdout/stderr, or prints a message that failed re-validation.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/settle.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/write.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2
#define EXIT_QUARANTINE 10
#define RATES_TOPIC_TIMEOUT_MS 15000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xborder settle --config FILE --route NAME [--rates R.csv] MESSAGE.xml\n\n"
            "Settles a pacs.008 or pacs.009 in renminbi as the route's `settle:` options say:\n"
            "foreign-currency IntrBkSttlmAmt converted to CNY at the CFETS central parity of the\n"
            "settlement date (original kept as InstdAmt, rate as XchgRate), totals recomputed,\n"
            "SttlmInf/ClrSys = CIP and agents' CNCIP/CNAPS ids set, then re-validated.\n\n"
            "  --config FILE   xborder YAML config holding the route\n"
            "  --route NAME    route whose settle: options apply\n"
            "  --rates FILE    CSV of rates (date,currency,cny_per_unit[,per]); overrides the\n"
            "                  route's rates.file / rates.topic\n\n"
            "stdout: the settled message; stderr: the settlement details (JSON).\n"
            "exit: 0 settled, 1 invalid message, 10 quarantine (missing rate, unsettleable),\n"
            "      2 usage or configuration error.\n"
            "example: xborder settle --config /etc/xborder/xborder.yaml --route payments-to-hk \\\n"
            "           --rates cfets.csv payment.xml > settled.xml\n");
}

typedef struct args {
    const char *config, *route, *rates, *message;
} args;

static int parse_args(args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"route", required_argument, NULL, 'r'},
                                         {"rates", required_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+c:r:R:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'r':
            a->route = optarg;
            break;
        case 'R':
            a->rates = optarg;
            break;
        default:
            fprintf(stderr, "xborder settle: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc - 1 || !a->config || !a->route) {
        fprintf(stderr, "xborder settle: need --config, --route and exactly one MESSAGE.xml\n");
        return -1;
    }
    a->message = argv[optind];
    return 0;
}

/* The route's settle options, from the config file. */
static int load_opts(xb_settle_opts *o, json_t **kafka, const args *a, xb_error *err)
{
    json_t *cfg = NULL;
    int rc = xb_yaml_load_file(&cfg, a->config, err);
    if (rc < 0)
        return rc;
    const json_t *routes = json_object_get(cfg, "routes");
    size_t i;
    const json_t *r, *found = NULL;
    char where[64] = "";
    json_array_foreach(routes, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name && !strcmp(name, a->route)) {
            found = r;
            snprintf(where, sizeof where, "routes[%zu].settle", i);
        }
    }
    if (!found)
        rc =
            xb_error_set(err, XB_ECONFIG, "routes", "%s: no route named '%s'", a->config, a->route);
    else if (!json_object_get(found, "settle"))
        rc = xb_error_set(err, XB_ECONFIG, where, "%s: route '%s' has no settle: section",
                          a->config, a->route);
    else
        rc = xb_settle_opts_from_tree(o, json_object_get(found, "settle"), where, err);
    *kafka = json_incref(json_object_get(cfg, "kafka"));
    json_decref(cfg);
    return rc;
}

/* Rates in order of precedence; *fx stays NULL when the route has no source at all (then only
 * messages already in CNY can settle, everything else is quarantined for want of a rate). */
static int load_rates(xb_fx_table **fx, const xb_settle_opts *o, const json_t *kafka, const args *a,
                      xb_error *err)
{
    *fx = NULL;
    int rc = 0;
    if (a->rates || o->rates_file[0]) {
        if ((rc = xb_fx_new(fx, err)) < 0)
            return rc;
        char cfgdir[1024];
        snprintf(cfgdir, sizeof cfgdir, "%s", a->config);
        char path[2100];
        if (a->rates)
            snprintf(path, sizeof path, "%s", a->rates);
        else if (o->rates_file[0] == '/')
            snprintf(path, sizeof path, "%s", o->rates_file);
        else
            snprintf(path, sizeof path, "%s/%s", dirname(cfgdir), o->rates_file);
        return xb_fx_load_file(*fx, path, err);
    }
    if (o->rates_topic[0]) {
        const char *bs = json_string_value(json_object_get(kafka, "bootstrap.servers"));
        if (!bs || !strcmp(bs, "embedded"))
            return xb_error_set(err, XB_ECONFIG, "kafka.bootstrap.servers",
                                "rates.topic needs a real broker in kafka.bootstrap.servers");
        if ((rc = xb_fx_new(fx, err)) < 0)
            return rc;
        return xb_settle_rates_from_topic(*fx, bs, o->rates_topic, RATES_TOPIC_TIMEOUT_MS, err);
    }
    return 0;
}

static int read_message(xb_msg **msg, const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    int rc = xb_buf_read_file(&b, path, 0);
    if (rc < 0) {
        xb_buf_free(&b);
        return xb_error_set(err, XB_EIO, NULL, "cannot read %s", path);
    }
    rc = xb_msg_parse(msg, b.data, b.len, NULL, err);
    xb_buf_free(&b);
    return rc;
}

static void print_details(const xb_settle_details *d)
{
    json_t *j = xb_settle_details_json(d);
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        fprintf(stderr, "%s\n", s);
    free(s);
    json_decref(j);
}

static int settle_and_print(xb_msg *msg, const xb_settle_opts *o, const xb_fx_table *fx)
{
    xb_settle_details d;
    xb_error err = {0};
    int rc = xb_settle_message(&d, msg, o, fx, &err);
    int status = 0;
    if (rc == 0) {
        xb_buf out = XB_BUF_INIT;
        if (xb_write_message(&out, msg, &err) < 0) {
            fprintf(stderr, "xborder settle: cannot serialise the settled message: %s\n",
                    err.message);
            status = EXIT_QUARANTINE;
        } else {
            fwrite(out.data, 1, out.len, stdout);
            if (out.len && out.data[out.len - 1] != '\n')
                fputc('\n', stdout);
        }
        xb_buf_free(&out);
    } else {
        status = d.verdict == XB_SETTLE_INVALID ? EXIT_INVALID : EXIT_QUARANTINE;
        fprintf(stderr, "xborder settle: %s: %s%s%s\n", xb_settle_verdict_name(d.verdict),
                err.message, err.path[0] ? " at " : "", err.path);
    }
    print_details(&d);
    xb_settle_details_free(&d);
    return status;
}

int xb_cli_settle(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    args a;
    if (parse_args(&a, argc, argv) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    xb_settle_opts o;
    xb_error err = {0};
    json_t *kafka = NULL;
    xb_fx_table *fx = NULL;
    xb_msg *msg = NULL;
    int status = EXIT_USAGE;
    if (load_opts(&o, &kafka, &a, &err) < 0 || load_rates(&fx, &o, kafka, &a, &err) < 0) {
        fprintf(stderr, "xborder settle: %s\n", err.message);
    } else if (read_message(&msg, a.message, &err) < 0) {
        fprintf(stderr, "xborder settle: %s: %s\n", a.message, err.message);
        status = err.code == XB_EIO ? EXIT_USAGE : EXIT_INVALID;
    } else {
        status = settle_and_print(msg, &o, fx);
    }
    xb_msg_free(msg);
    xb_fx_free(fx);
    json_decref(kafka);
    return status;
}
