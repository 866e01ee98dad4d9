/* cli.h — the xborder subcommands, one file each under adapter/cli/.
 *
 * Each entry point takes the arguments after the subcommand name (argv[0] is the subcommand)
 * and returns the process exit status. Exit 2 is always a usage error.
 */
#ifndef XB_CLI_H
#define XB_CLI_H

typedef int (*xb_cli_fn)(int argc, char **argv);

typedef struct xb_cli_command {
    const char *name;
    xb_cli_fn run;
    const char *summary; /* one line for `xborder --help` */
} xb_cli_command;

int xb_cli_validate(int argc, char **argv);
int xb_cli_classify(int argc, char **argv);
int xb_cli_valuate(int argc, char **argv);
int xb_cli_settle(int argc, char **argv);
int xb_cli_settlement_report(int argc, char **argv);
int xb_cli_settlement_status(int argc, char **argv);
int xb_cli_receive(int argc, char **argv);
int xb_cli_run(int argc, char **argv);
int xb_cli_check_config(int argc, char **argv);
int xb_cli_demo(int argc, char **argv);
int xb_cli_verify_audit(int argc, char **argv);
int xb_cli_audit_proof(int argc, char **argv);
int xb_cli_replay(int argc, char **argv);
/* `xborder --version [--config FILE]` (adapter/cli/version.c); argv[0] is "--version". */
int xb_cli_version(int argc, char **argv);

/* True when argv holds -h or --help. */
int xb_cli_wants_help(int argc, char **argv);

#endif
