/* common.c — small helpers shared by the subcommands. Owns nothing but argument checks. */
#include <string.h>

#include "adapter/cli/cli.h"

int xb_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}
