/* test_iso_write.c — canonical bytes (stable across wrappers, prefixes, attribute order, whitespace
 * inside tags and indentation), SHA-256, and normal output that re-parses to the same message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/write.h"
#include "test_iso_util.h"

static void canon_of_buf(xb_buf *out, const char *data, size_t len)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    int rc = xb_msg_parse(&msg, data, len, NULL, &err);
    if (rc)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(xb_write_canonical(out, msg, &err), 0);
    xb_msg_free(msg);
}

static void canon_of(xb_buf *out, const char *rel)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, rel);
    canon_of_buf(out, b.data, b.len);
    xb_buf_free(&b);
}

static void assert_same_canon(const char *a_rel, const char *b_rel)
{
    xb_buf a = XB_BUF_INIT, b = XB_BUF_INIT;
    canon_of(&a, a_rel);
    canon_of(&b, b_rel);
    assert_true(a.len > 1000);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    xb_buf_free(&a);
    xb_buf_free(&b);
}

static void test_stable_across_wrappers_and_prefixes(void **state)
{
    const char *base = "valid/pacs.008-cny-cips-individual.xml";
    assert_same_canon(base, "valid/pacs.008-cny-cips-individual-prefixed.xml");
    assert_same_canon(base, "valid/pacs.008-wrapper-swiftnet-request.xml");
    assert_same_canon(base, "valid/pacs.008-wrapper-saa-datapdu.xml");
    assert_same_canon(base, "valid/pacs.008-wrapper-message.xml");
    assert_same_canon(base, "valid/pacs.008-wrapper-siblings.xml");
}

/* Rewrites a document the way another serialiser might: compact, odd spacing in tags. */
static void test_stable_across_whitespace_in_tags(void **state)
{
    static const char a[] =
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">\n"
        "  <FIToFICstmrCdtTrf>\n    <GrpHdr>\n      <MsgId>M1</MsgId>\n"
        "      <TtlIntrBkSttlmAmt Ccy=\"CNY\">10.00</TtlIntrBkSttlmAmt>\n    </GrpHdr>\n"
        "    <CdtTrfTxInf><Dbtr><Nm> 张 伟 </Nm></Dbtr></CdtTrfTxInf>\n"
        "  </FIToFICstmrCdtTrf>\n</Document>\n";
    static const char b[] = "<?xml version='1.0' encoding='UTF-8'?><x:Document   "
                            "xmlns:x='urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08'"
                            "\n><x:FIToFICstmrCdtTrf\t><x:GrpHdr><x:MsgId>M1</"
                            "x:MsgId><x:TtlIntrBkSttlmAmt\n   Ccy = 'CNY' "
                            ">10.00</x:TtlIntrBkSttlmAmt><!-- comment "
                            "--></x:GrpHdr><x:CdtTrfTxInf><x:Dbtr><x:Nm> 张 伟 </x:Nm"
                            "></x:Dbtr></x:CdtTrfTxInf></x:FIToFICstmrCdtTrf></x:Document >";
    xb_buf ca = XB_BUF_INIT, cb = XB_BUF_INIT;
    canon_of_buf(&ca, a, sizeof a - 1);
    canon_of_buf(&cb, b, sizeof b - 1);
    assert_string_equal(ca.data, cb.data);
    /* the leaf text keeps its own spaces; whitespace between elements is gone */
    assert_non_null(strstr(ca.data, "<Nm> 张 伟 </Nm>"));
    assert_non_null(strstr(ca.data, "<TtlIntrBkSttlmAmt Ccy=\"CNY\">10.00</TtlIntrBkSttlmAmt>"));
    assert_null(strstr(ca.data, "\n"));
    static const char head[] = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"
                               "<FIToFICstmrCdtTrf><GrpHdr><MsgId>M1</MsgId>";
    assert_true(!strncmp(ca.data, head, sizeof head - 1));
    xb_buf_free(&ca);
    xb_buf_free(&cb);
}

static void test_content_change_changes_hash(void **state)
{
    xb_buf src = XB_BUF_INIT;
    iso_load(&src, "valid/pacs.008-cny-cips-individual.xml");
    xb_msg *m1 = NULL, *m2 = NULL;
    assert_int_equal(xb_msg_parse(&m1, src.data, src.len, NULL, NULL), 0);
    char *p = strstr(src.data, "58000.00</IntrBkSttlmAmt>");
    assert_non_null(p);
    p[0] = '6'; /* 68000.00 */
    assert_int_equal(xb_msg_parse(&m2, src.data, src.len, NULL, NULL), 0);
    uint8_t h1[32], h2[32], h1b[32];
    assert_int_equal(xb_write_canonical_sha256(h1, m1, NULL), 0);
    assert_int_equal(xb_write_canonical_sha256(h1b, m1, NULL), 0);
    assert_int_equal(xb_write_canonical_sha256(h2, m2, NULL), 0);
    assert_memory_equal(h1, h1b, 32);
    assert_memory_not_equal(h1, h2, 32);
    char hex[65];
    xb_hex(hex, h1, 32);
    assert_int_equal(strlen(hex), 64);
    xb_msg_free(m1);
    xb_msg_free(m2);
    xb_buf_free(&src);
}

static void test_sha256_known_value(void **state)
{
    /* SHA-256 of the canonical bytes equals SHA-256 computed independently of the writer */
    static const char doc[] = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10\">"
                              "<FIToFIPmtStsRpt><GrpHdr><MsgId>A</MsgId></GrpHdr></FIToFIPmtStsRpt>"
                              "</Document>";
    xb_msg *m = NULL;
    assert_int_equal(xb_msg_parse(&m, doc, sizeof doc - 1, NULL, NULL), 0);
    xb_buf c = XB_BUF_INIT;
    assert_int_equal(xb_write_canonical(&c, m, NULL), 0);
    assert_string_equal(c.data, doc);
    uint8_t h[32];
    char hex[65];
    assert_int_equal(xb_write_canonical_sha256(h, m, NULL), 0);
    xb_hex(hex, h, 32);
    /* printf '%s' "$doc" | sha256sum */
    assert_string_equal(hex, "6fab85ecf19add7d90ce37d1b63ca4fe2dbc8e86451bc9d4b5640ac599523582");
    xb_buf_free(&c);
    xb_msg_free(m);
}

static void test_write_message_roundtrip(void **state)
{
    const char *cases[] = {"valid/pacs.008-cny-cips-individual-prefixed.xml",
                           "valid/pacs.008-cny-cips-corporate-nobah.xml",
                           "valid/pacs.008-wrapper-saa-datapdu.xml"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xb_buf src = XB_BUF_INIT, out = XB_BUF_INIT, c1 = XB_BUF_INIT, c2 = XB_BUF_INIT;
        iso_load(&src, cases[i]);
        xb_msg *m = NULL, *again = NULL;
        assert_int_equal(xb_msg_parse(&m, src.data, src.len, NULL, NULL), 0);
        assert_int_equal(xb_write_message(&out, m, NULL), 0);
        assert_true(!strncmp(out.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39));
        assert_int_equal(strstr(out.data, "<Envelope>") != NULL, xb_msg_apphdr(m) != NULL);
        assert_int_equal(xb_msg_parse(&again, out.data, out.len, NULL, NULL), 0);
        assert_int_equal(xb_write_canonical(&c1, m, NULL), 0);
        assert_int_equal(xb_write_canonical(&c2, again, NULL), 0);
        assert_string_equal(c1.data, c2.data);
        xb_msg_free(m);
        xb_msg_free(again);
        xb_buf_free(&src);
        xb_buf_free(&out);
        xb_buf_free(&c1);
        xb_buf_free(&c2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_across_wrappers_and_prefixes),
        cmocka_unit_test(test_stable_across_whitespace_in_tags),
        cmocka_unit_test(test_content_change_changes_hash),
        cmocka_unit_test(test_sha256_known_value),
        cmocka_unit_test(test_write_message_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
