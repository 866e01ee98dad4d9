/* fuzz_settle.c — libFuzzer harness of the settlement stage on trees nobody validated: the
 * pipeline hands settlement the policy's transformed tree and validates the Document once, after
 * the rewrite (XB_SETTLE_DOCUMENT_UNCHECKED, issue #8), so the read pass and the rewrite must be
 * safe on anything the secure parser accepts.
 *
 * The first byte picks the route's options (CNH mapping, purpose/BoP/leasing requirements, the
 * flag); the rest is the message. Properties: no crash, sanitizer report or leak; a message the
 * stage accepts writes bytes that parse again and pass the XSDs and the ISO rules in full (what
 * leaves is valid, however it came in).
 * Owns nothing; links only the settlement stage and the libraries under it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/settle.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

/* The details' text (what the decision record holds) is jansson's dump of the tree whenever
 * jansson can make the tree (it refuses strings that are not UTF-8; the text has U+FFFD there),
 * and is JSON either way. */
static void assert_text_is_jansson(const xb_settle_details *d)
{
    xb_buf text = XB_BUF_INIT;
    if (xb_settle_details_write_json(&text, d, "route \"r\"") < 0)
        __builtin_trap();
    json_t *tree = xb_settle_details_json(d);
    if (tree) {
        json_object_set_new(tree, "route", json_string("route \"r\""));
        char *want = json_dumps(tree, JSON_SORT_KEYS | JSON_COMPACT);
        if (!want || strcmp(want, text.data))
            __builtin_trap();
        free(want);
    }
    json_t *back = json_loadb(text.data, text.len, 0, NULL);
    if (!back)
        __builtin_trap();
    json_decref(back);
    json_decref(tree);
    xb_buf_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Invented fixings (the format of valuation/fx.h) for the currencies the seeds use. */
static const char RATES[] = "date,currency,cny_per_unit,per\n"
                            "2024-03-15,USD,7.1987\n"
                            "2024-03-18,USD,7.2011\n"
                            "2024-03-18,EUR,7.8123\n"
                            "2026-11-26,USD,7.0988\n"
                            "2026-11-27,USD,7.1012\n"
                            "2026-11-27,EUR,7.6543\n"
                            "2026-11-27,JPY,4.7321,100\n"
                            "2026-11-27,HKD,0.91234\n";

static xb_fx_table *rates(void)
{
    static xb_fx_table *fx;
    xb_error err;
    if (!fx && (xb_fx_new(&fx, &err) < 0 ||
                xb_fx_load_buffer(fx, RATES, sizeof RATES - 1, "fuzz", &err) < 0))
        __builtin_trap();
    return fx;
}

static void route_opts(xb_settle_opts *o, uint8_t pick)
{
    xb_settle_opts_init(o);
    memcpy(o->clearing, "CIP", 4);
    o->map_cnh = pick & 1;
    o->require_purpose = pick & 2;
    o->require_bop = pick & 4;
    if (pick & 8) {
        strcpy(o->leasing_purpose, "LEAS");
        strcpy(o->leasing_fields[0], "Dbtr/Nm");
        o->n_leasing_fields = 1;
    }
    o->n_agents = 1;
    strcpy(o->agents[0].bic, "BKCHHKHH");
    strcpy(o->agents[0].cips, "C1040000128");
}

/* What the stage accepted must be valid in full when read back from its bytes. */
static void assert_valid_bytes(const xb_msg *msg)
{
    xb_buf out = XB_BUF_INIT;
    xb_msg *again = NULL;
    xb_error err;
    if (xb_write_message(&out, msg, &err) < 0 ||
        xb_msg_parse(&again, out.data, out.len, NULL, &err) < 0 ||
        xb_schema_validate_msg(again, &err) < 0 || xb_rules_check(again, &err) < 0)
        __builtin_trap();
    xb_msg_free(again);
    xb_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    xb_settle_opts o;
    route_opts(&o, data[0]);
    unsigned flags = (data[0] & 16) ? 0 : XB_SETTLE_DOCUMENT_UNCHECKED;
    xb_parse_limits lim = {256u * 1024u, 64};
    xb_msg *msg = NULL;
    xb_error err;
    if (xb_msg_parse(&msg, (const char *)data + 1, size - 1, &lim, &err) < 0)
        return 0;
    xb_settle_details d;
    int rc = xb_settle_message_ex(&d, msg, &o, rates(), flags, &err);
    assert_text_is_jansson(&d);
    if (rc == 0)
        assert_valid_bytes(msg);
    xb_settle_details_free(&d);
    xb_msg_free(msg);
    return 0;
}
