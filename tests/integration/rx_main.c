/* rx_main.c — test-only entry point that runs `xborder receive` from the transport sources alone,
 * so the transport integration tests do not depend on every other subcommand compiling.
 * Never: used outside tests (the product entry point is adapter/main.c). */
#include "adapter/cli/cli.h"

int main(int argc, char **argv)
{
    return xb_cli_receive(argc, argv);
}
