/* settlement_status.c — `xborder settlement-status`: pacs.002 reports into the settlement ledger.
 *
 * Owns: reading status reports from a Kafka status topic (the whole topic, from the beginning:
 * applying a report twice changes nothing) and/or from files, and applying them to the ledger of
 * the config's state store. Prints how many statuses changed a transfer.
 * Exit: 0 done, 1 a report or the store failed, 2 usage or configuration error.
 * Never: changes anything but the ledger section of the store.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/settle_hook.h"
#include "iso20022/buf.h"

#define TOPIC_TIMEOUT_MS 30000

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xborder settlement-status --config FILE [--topic T] [PACS002.xml ...]\n\n"
        "Applies pacs.002 status reports (ACSP, ACSC, ACCC, RJCT with reason) to the settlement\n"
        "ledger in the config's state store: every record of status topic T (read whole; a\n"
        "report applied twice changes nothing) and every file given. Statuses for transfers\n"
        "the ledger does not know are kept as unmatched (see settlement-report).\n\n"
        "exit: 0 done, 1 a report or the store failed, 2 usage or configuration error.\n"
        "example: xborder settlement-status --config /etc/xborder/xborder.yaml "
        "--topic payments.status\n");
}

static int apply_file(size_t *applied, xb_settle_hook *h, const char *path, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    int rc = xb_buf_read_file(&b, path, 0);
    if (rc < 0)
        rc = xb_error_set(err, XB_EIO, NULL, "cannot read %s", path);
    else
        rc = xb_settle_hook_status_bytes(applied, h, b.data, b.len, err);
    xb_buf_free(&b);
    return rc;
}

int xb_cli_settlement_status(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"topic", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *config = NULL, *topic = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+c:t:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 't')
            topic = optarg;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!config || (!topic && optind == argc)) {
        usage(stderr);
        return 2;
    }
    xb_settle_hook *h = NULL;
    xb_error err = {0};
    if (xb_settle_hook_new(&h, config, &err) < 0 || !xb_settle_hook_store(h)) {
        fprintf(stderr, "xborder settlement-status: %s\n",
                err.code ? err.message : "no route settles: there is no ledger to update");
        xb_settle_hook_free(h);
        return 2;
    }
    size_t total = 0, n = 0;
    int rc = 0;
    if (topic && (rc = xb_settle_hook_ingest_topic(&n, h, topic, TOPIC_TIMEOUT_MS, &err)) == 0)
        total += n;
    for (int i = optind; rc == 0 && i < argc; i++)
        if ((rc = apply_file(&n, h, argv[i], &err)) == 0)
            total += n;
    if (rc < 0)
        fprintf(stderr, "xborder settlement-status: %s\n", err.message);
    else
        printf("%zu status(es) applied\n", total);
    xb_settle_hook_free(h);
    return rc < 0 ? 1 : 0;
}
