/* fuzz_parse.c — libFuzzer harness for the iso20022 message library: secure parse, XSD validation,
 * business rules, key extraction and canonical write (+ SHA-256) on arbitrary bytes.
 * Owns nothing; never links adapter code. Any crash, sanitizer report or leak is a bug. */
#include <stddef.h>
#include <stdint.h>

#include "iso20022/keys.h"
#include "iso20022/message.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* small limits keep each run fast; the limits themselves are part of what is fuzzed */
    xb_parse_limits lim = {256u * 1024u, 64};
    xb_msg *msg = NULL;
    xb_error err;
    if (xb_msg_parse(&msg, (const char *)data, size, &lim, &err))
        return 0;
    (void)xb_schema_validate_msg(msg, &err);
    (void)xb_rules_check(msg, &err);
    xb_msg_keys keys;
    if (!xb_keys_extract(&keys, msg, &err))
        xb_keys_free(&keys);
    xb_buf out = XB_BUF_INIT;
    (void)xb_write_canonical(&out, msg, &err);
    xb_buf_free(&out);
    uint8_t digest[32];
    (void)xb_write_canonical_sha256(digest, msg, &err);
    xb_buf msg_out = XB_BUF_INIT;
    (void)xb_write_message(&msg_out, msg, &err);
    /* what we write must parse again */
    xb_msg *again = NULL;
    lim.max_bytes = msg_out.len + 1024;
    lim.max_depth = 128;
    if (xb_msg_parse(&again, msg_out.data, msg_out.len, &lim, &err))
        __builtin_trap();
    xb_msg_free(again);
    xb_buf_free(&msg_out);
    xb_msg_free(msg);
    return 0;
}
