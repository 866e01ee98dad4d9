/* check_config.c — `xborder check-config FILE`: validates a config the way `run` would load it.
 *
 * Owns: the command's output: "ok" on stdout and exit 0, or the exact wrong key and why on stderr
 * and exit 1. Loads catalogs, destinations, keys and sink options; connects to nothing.
 * Never: prints a config value (it may be a secret).
 */
#include <stdio.h>

#include "adapter/cli/cli.h"
#include "adapter/pipeline.h"

int xb_cli_check_config(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        printf(
            "usage: xborder check-config FILE\n\n"
            "Checks a configuration file as `xborder run` would load it (sections, librdkafka\n"
            "properties, routes, destinations, catalogs, keys, TLS files) without connecting to\n"
            "anything. Exit 0 when valid; 1 naming the exact key that is wrong; 2 usage.\n"
            "example: xborder check-config /etc/xborder/xborder.yaml\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: xborder check-config FILE\n");
        return 2;
    }
    xb_error err;
    xb_error_clear(&err);
    if (xb_pipeline_check(argv[1], &err) < 0) {
        fprintf(stderr, "%s: invalid configuration\n", argv[1]);
        if (err.path[0])
            fprintf(stderr, "  key:   %s\n", err.path);
        fprintf(stderr, "  error: %s\n", err.message);
        return 1;
    }
    printf("%s: ok\n", argv[1]);
    return 0;
}
