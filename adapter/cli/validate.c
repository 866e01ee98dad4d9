/* validate.c — `xborder validate [--json] FILE...`: parse, XSD-validate and rule-check files.
 *
 * Owns: the command's arguments and output. One line per file, in argument order:
 *   FILE<TAB>DEFINITION<TAB>VALID|INVALID<TAB>ERROR
 * DEFINITION is the Document's definition id ("pacs.008.001.08") or "-" when none was identified;
 * ERROR is "-" when valid, else "CODE: message [at /element/path]" on one line. With --json, one
 * JSON object per line: {"file","definition","valid","error":{"code","message","path"}|null}.
 * Exit status: 0 all valid, 1 any invalid (or unreadable), 2 usage.
 * Never: writes or changes the files, or reaches the network.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"

typedef struct verdict {
    const char *definition; /* NULL when none identified */
    xb_error err;           /* code XB_OK when valid */
} verdict;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xborder validate [--json] FILE...\n\n"
            "Parses each ISO 20022 file (any wrapper), validates its AppHdr and Document against\n"
            "the official XSDs and checks the business rules the XSDs cannot express (ISO 4217\n"
            "codes and decimals, no CNH, no commodity currencies in payments, BAH MsgDefIdr,\n"
            "UETR v4, group totals).\n\n"
            "Prints one line per file: FILE<TAB>DEFINITION<TAB>VALID|INVALID<TAB>ERROR\n"
            "(DEFINITION is '-' when none was found, ERROR is '-' when valid).\n\n"
            "  --json   one JSON object per line instead\n"
            "  -h, --help\n\n"
            "Exit status: 0 all valid, 1 any invalid, 2 usage error.\n"
            "Example: xborder validate --json incoming/*.xml\n"
            "Schemas are read from $XB_SCHEMA_DIR (default: %s).\n",
            xb_schema_dir());
}

static void check_file(verdict *v, const char *path)
{
    static const xb_parse_limits lim = XB_PARSE_LIMITS_DEFAULT;
    xb_buf b = XB_BUF_INIT;
    xb_msg *msg = NULL;
    memset(v, 0, sizeof *v);
    xb_error_clear(&v->err);
    int rc = xb_buf_read_file(&b, path, lim.max_bytes);
    if (rc == XB_ELIMIT)
        xb_error_set(&v->err, rc, NULL, "file is over the %zu-byte message limit", lim.max_bytes);
    else if (rc)
        xb_error_set(&v->err, rc, NULL, "cannot read the file");
    else if ((rc = xb_msg_parse(&msg, b.data, b.len, &lim, &v->err)) == 0) {
        v->definition = xb_msg_definition(msg)->id; /* static registry string */
        if ((rc = xb_schema_validate_msg(msg, &v->err)) == 0)
            xb_rules_check(msg, &v->err);
    }
    xb_msg_free(msg);
    xb_buf_free(&b);
}

/* Tabs and newlines would break the line format. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r')
            *s = ' ';
}

static void print_text(const char *file, verdict *v)
{
    one_line(v->err.message);
    if (v->err.code == XB_OK) {
        printf("%s\t%s\tVALID\t-\n", file, v->definition);
        return;
    }
    printf("%s\t%s\tINVALID\t%s: %s", file, v->definition ? v->definition : "-",
           xb_error_name(v->err.code), v->err.message);
    if (v->err.path[0])
        printf(" at %s", v->err.path);
    putchar('\n');
}

static void print_json(const char *file, const verdict *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "definition", v->definition ? json_string(v->definition) : json_null());
    json_object_set_new(o, "valid", json_boolean(v->err.code == XB_OK));
    if (v->err.code == XB_OK) {
        json_object_set_new(o, "error", json_null());
    } else {
        json_t *e = json_object();
        json_object_set_new(e, "code", json_string(xb_error_name(v->err.code)));
        json_object_set_new(e, "message", json_string(v->err.message));
        json_object_set_new(e, "path", v->err.path[0] ? json_string(v->err.path) : json_null());
        json_object_set_new(o, "error", e);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

int xb_cli_validate(int argc, char **argv)
{
    int json = 0, first_file = 0;
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc && !first_file; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--")) {
            first_file = i + 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "xborder validate: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            first_file = i;
        }
    }
    if (!first_file || first_file >= argc) {
        usage(stderr);
        return 2;
    }
    int any_invalid = 0;
    for (int i = first_file; i < argc; i++) {
        verdict v;
        check_file(&v, argv[i]);
        any_invalid |= v.err.code != XB_OK;
        if (json)
            print_json(argv[i], &v);
        else
            print_text(argv[i], &v);
    }
    fflush(stdout);
    xb_schema_cleanup();
    return any_invalid ? 1 : 0;
}
