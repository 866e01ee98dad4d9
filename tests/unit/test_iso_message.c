/* test_iso_message.c — xb_msg_parse: wrappers, identification by namespace, error messages,
 * tree helpers and element paths. Hostile inputs are in test_iso_hostile.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iso20022/message.h"
#include "iso20022/registry.h"
#include "iso20022/write.h"
#include "test_iso_util.h"

static void expect_pacs008_with_bah(const char *rel)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    int rc = iso_parse_fixture(&msg, rel, &err);
    if (rc)
        print_error("%s: %s\n", rel, err.message);
    assert_int_equal(rc, 0);
    assert_string_equal(xb_msg_definition(msg)->id, "pacs.008.001.08");
    assert_int_equal(xb_msg_definition(msg)->kind, XB_KIND_PACS008);
    assert_non_null(xb_msg_apphdr(msg));
    assert_string_equal(xb_msg_hdr_definition(msg)->id, "head.001.001.02");
    assert_string_equal((const char *)xb_msg_body(msg)->name, "FIToFICstmrCdtTrf");
    assert_string_equal(xb_xml_text(xb_xml_find(xb_msg_body(msg), "GrpHdr/MsgId")),
                        "XB20240315SH000001");
    assert_string_equal(xb_xml_text(xb_xml_child(xb_msg_apphdr(msg), "MsgDefIdr")),
                        "pacs.008.001.08");
    xb_msg_free(msg);
}

static void test_wrapper_envelope(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-cny-cips-individual.xml");
}
static void test_wrapper_prefixed(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-cny-cips-individual-prefixed.xml");
}
static void test_wrapper_swiftnet_request(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-wrapper-swiftnet-request.xml");
}
static void test_wrapper_saa_datapdu(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-wrapper-saa-datapdu.xml");
}
static void test_wrapper_message(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-wrapper-message.xml");
}
static void test_wrapper_siblings(void **state)
{
    expect_pacs008_with_bah("valid/pacs.008-wrapper-siblings.xml");
}

static void test_bare_document(void **state)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    assert_int_equal(iso_parse_fixture(&msg, "valid/pacs.008-cny-cips-corporate-nobah.xml", &err),
                     0);
    assert_null(xb_msg_apphdr(msg));
    assert_null(xb_msg_hdr_definition(msg));
    assert_ptr_equal(xb_msg_document(msg), xmlDocGetRootElement(xb_msg_doc(msg)));
    xb_msg_free(msg);
}

static void expect_error(const char *rel, int code, const char *message)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    int rc = iso_parse_fixture(&msg, rel, &err);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_null(msg);
    if (!strstr(err.message, message))
        print_error("%s: got '%s', want '%s'\n", rel, err.message, message);
    assert_non_null(strstr(err.message, message));
}

static void test_wrapper_without_document(void **state)
{
    expect_error("invalid/wrapper-no-document.xml", XB_EINVAL,
                 "no ISO 20022 Document found in <Envelope>");
}

static void test_foreign_namespace_document(void **state)
{
    expect_error("invalid/document-foreign-namespace.xml", XB_EINVAL,
                 "no ISO 20022 Document found in <Document>");
}

static void test_unsupported_version(void **state)
{
    expect_error("invalid/pacs.008.001.07-unsupported.xml", XB_EUNSUPPORTED,
                 "unsupported definition pacs.008.001.07");
}

static void test_undeclared_prefix(void **state)
{
    expect_error("invalid/undeclared-prefix.xml", XB_EINVAL, "namespace error");
}

static void test_every_supported_definition_identified(void **state)
{
    static const struct {
        const char *file, *id;
        xb_msg_kind kind;
    } cases[] = {
        {"valid/pacs.008-cny-cips-corporate.xml", "pacs.008.001.08", XB_KIND_PACS008},
        {"valid/pacs.009-cny-cips-fi.xml", "pacs.009.001.08", XB_KIND_PACS009},
        {"valid/pacs.009-cny-cips-cover.xml", "pacs.009.001.08", XB_KIND_PACS009},
        {"valid/pacs.002-cny-cips-status.xml", "pacs.002.001.10", XB_KIND_PACS002},
        {"valid/pain.001-cny-cips-initiation.xml", "pain.001.001.09", XB_KIND_PAIN001},
        {"valid/camt.053-cny-statement.xml", "camt.053.001.08", XB_KIND_CAMT053},
        {"valid/camt.054-cny-notification.xml", "camt.054.001.08", XB_KIND_CAMT054},
        {"valid/reda.001-cny-price-report-iso.xml", "reda.001.001.04", XB_KIND_REDA001},
        {"valid/reda.001-cny-price-report-swift.xml", "reda.001.001.04", XB_KIND_REDA001},
        {"valid/semt.003.001.04-cny-holdings.xml", "semt.003.001.04", XB_KIND_SEMT003},
        {"valid/semt.003.001.11-cny-holdings.xml", "semt.003.001.11", XB_KIND_SEMT003},
        {"valid/semt.003.001.12-cny-holdings.xml", "semt.003.001.12", XB_KIND_SEMT003},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xb_msg *msg = NULL;
        xb_error err = {0};
        int rc = iso_parse_fixture(&msg, cases[i].file, &err);
        if (rc)
            print_error("%s: %s\n", cases[i].file, err.message);
        assert_int_equal(rc, 0);
        assert_string_equal(xb_msg_definition(msg)->id, cases[i].id);
        assert_int_equal(xb_msg_definition(msg)->kind, cases[i].kind);
        assert_string_equal((const char *)xb_msg_body(msg)->name,
                            xb_msg_definition(msg)->body_root);
        xb_msg_free(msg);
    }
}

static void test_reda_namespaces_distinct(void **state)
{
    const xb_definition *iso = xb_registry_by_ns("urn:iso:std:iso:20022:tech:xsd:reda.001.001.04");
    const xb_definition *swift = xb_registry_by_ns("urn:swift:xsd:reda.001.001.04");
    assert_non_null(iso);
    assert_non_null(swift);
    assert_ptr_not_equal(iso, swift);
    assert_string_not_equal(iso->xsd, swift->xsd);
    assert_ptr_equal(xb_registry_by_id("reda.001.001.04"), iso);
}

static void test_registry_identify(void **state)
{
    const xb_definition *def = NULL;
    xb_error err = {0};
    assert_int_equal(
        xb_registry_identify(&def, "urn:iso:std:iso:20022:tech:xsd:camt.053.001.11", &err),
        XB_EUNSUPPORTED);
    assert_string_equal(err.message, "unsupported definition camt.053.001.11");
    assert_int_equal(xb_registry_identify(&def, "urn:example:foo", &err), XB_EINVAL);
    assert_null(def);
    assert_false(xb_registry_is_iso_ns("urn:iso:std:iso:20022:tech:xsd:"));
    assert_false(xb_registry_is_iso_ns("xurn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"));
    assert_true(xb_registry_is_iso_ns("urn:swift:xsd:reda.001.001.04"));
    char buf[16];
    assert_string_equal(
        xb_registry_short_name(xb_registry_by_id("pacs.008.001.08"), buf, sizeof buf), "pacs.008");
    unsigned n = 0;
    assert_non_null(xb_registry_all(&n));
    assert_int_equal(n, 12);
}

static void test_node_path(void **state)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    assert_int_equal(iso_parse_fixture(&msg, "valid/pacs.008-cny-cips-corporate.xml", &err), 0);
    xmlNodePtr body = xb_msg_body(msg);
    /* the corporate fixture has two transactions: the index appears only where names repeat */
    xmlNodePtr tx2 = xb_xml_child(body, "CdtTrfTxInf");
    assert_non_null(tx2);
    for (tx2 = tx2->next;
         tx2 && !(tx2->type == XML_ELEMENT_NODE && !strcmp((const char *)tx2->name, "CdtTrfTxInf"));
         tx2 = tx2->next)
        ;
    assert_non_null(tx2);
    char path[512];
    xb_msg_node_path(xb_xml_find(tx2, "Dbtr/Nm"), path, sizeof path);
    assert_string_equal(path, "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/Dbtr/Nm");
    xb_msg_node_path(xb_xml_find(body, "GrpHdr/MsgId"), path, sizeof path);
    assert_string_equal(path, "/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId");
    xb_msg_node_path(xb_xml_child(xb_msg_apphdr(msg), "MsgDefIdr"), path, sizeof path);
    assert_string_equal(path, "/AppHdr/MsgDefIdr");
    /* truncation never overflows */
    char tiny[8];
    xb_msg_node_path(xb_xml_find(body, "GrpHdr/MsgId"), tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    xb_msg_free(msg);
}

static void test_chinese_text_is_utf8(void **state)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    assert_int_equal(iso_parse_fixture(&msg, "valid/pacs.008-cny-cips-individual.xml", &err), 0);
    assert_string_equal(xb_xml_text(xb_xml_find(xb_msg_body(msg), "CdtTrfTxInf/Dbtr/Nm")), "张伟");
    assert_null(xb_xml_find(xb_msg_body(msg), "CdtTrfTxInf/NoSuch/Nm"));
    assert_null(xb_xml_text(xb_xml_find(xb_msg_body(msg), "CdtTrfTxInf/Dbtr")));
    xb_msg_free(msg);
}

static void test_parse_many_reuses_context(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "valid/pacs.008-cny-cips-individual.xml");
    for (int i = 0; i < 2000; i++) {
        xb_msg *msg = NULL;
        assert_int_equal(xb_msg_parse(&msg, b.data, b.len, NULL, NULL), 0);
        xb_msg_free(msg);
    }
    xb_buf_free(&b);
}

/* Hostile streams of fresh names must not grow the per-thread dictionary forever: the context
 * is replaced after XB_DICT_MAX_ENTRIES names and parsing carries on correctly. */
static void test_many_unique_names(void **state)
{
    xb_buf doc = XB_BUF_INIT;
    for (int m = 0; m < 300; m++) {
        xb_buf_reset(&doc);
        assert_int_equal(xb_buf_puts(&doc, "<w:Batch xmlns:w=\"urn:example:wrap\">"), 0);
        for (int i = 0; i < 100; i++)
            assert_int_equal(xb_buf_printf(&doc, "<w:n%d_%d/>", m, i), 0);
        assert_int_equal(
            xb_buf_puts(&doc, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10\">"
                              "<FIToFIPmtStsRpt/></Document></w:Batch>"),
            0);
        xb_msg *msg = NULL;
        assert_int_equal(xb_msg_parse(&msg, doc.data, doc.len, NULL, NULL), 0);
        assert_string_equal(xb_msg_definition(msg)->id, "pacs.002.001.10");
        xb_msg_free(msg);
    }
    xb_buf_free(&doc);
}

/* Blank text nodes whose parent also has element children, below n. */
static int count_layout_nodes(const xmlNode *n)
{
    int found = 0, has_element = 0;
    for (const xmlNode *c = n->children; c; c = c->next)
        has_element |= c->type == XML_ELEMENT_NODE;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            found += count_layout_nodes(c);
        else if (c->type == XML_TEXT_NODE && has_element &&
                 strspn((const char *)c->content, " \t\r\n") == strlen((const char *)c->content))
            found++;
    }
    return found;
}

/* The indentation between elements is not built into the tree (it would double the tree of an
 * indented message), and the message reads the same: same values, same canonical bytes as the
 * same message written without indentation. */
static void test_layout_whitespace_not_built(void **state)
{
    xb_buf src = XB_BUF_INIT, compact = XB_BUF_INIT, c1 = XB_BUF_INIT, c2 = XB_BUF_INIT;
    iso_load(&src, "valid/pacs.008-cny-cips-individual.xml");
    /* The same message without the whitespace between a '>' and the next '<'. */
    for (size_t i = 0; i < src.len; i++) {
        if (src.data[i] == '>') {
            size_t j = i + 1;
            while (j < src.len && strchr(" \t\r\n", src.data[j]))
                j++;
            if (j < src.len && src.data[j] == '<') {
                assert_int_equal(xb_buf_append(&compact, ">", 1), 0);
                i = j - 1;
                continue;
            }
        }
        assert_int_equal(xb_buf_append(&compact, src.data + i, 1), 0);
    }
    assert_true(compact.len + 200 < src.len); /* the fixture is indented */
    xb_msg *a = NULL, *b = NULL;
    assert_int_equal(xb_msg_parse(&a, src.data, src.len, NULL, NULL), 0);
    assert_int_equal(xb_msg_parse(&b, compact.data, compact.len, NULL, NULL), 0);
    assert_int_equal(count_layout_nodes(xmlDocGetRootElement(xb_msg_doc(a))), 0);
    assert_string_equal(xb_xml_text(xb_xml_find(xb_msg_body(a), "CdtTrfTxInf/Dbtr/Nm")), "张伟");
    assert_int_equal(xb_write_canonical(&c1, a, NULL), 0);
    assert_int_equal(xb_write_canonical(&c2, b, NULL), 0);
    assert_int_equal(c1.len, c2.len);
    assert_memory_equal(c1.data, c2.data, c1.len);
    xb_msg_free(a);
    xb_msg_free(b);
    xb_buf_free(&src);
    xb_buf_free(&compact);
    xb_buf_free(&c1);
    xb_buf_free(&c2);
}

/* Whitespace that is data, or might be, is kept exactly: a blank leaf, blanks around a comment
 * in a leaf, and blanks that follow text (mixed content is invalid, but must not be rewritten
 * before the validator sees it). */
static void test_blank_text_kept_where_it_is_data(void **state)
{
    static const char doc[] =
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">\n"
        " <FIToFICstmrCdtTrf>\n"
        "  <GrpHdr>\n   <MsgId>   </MsgId>\n   <CreDtTm> <!-- c --> </CreDtTm>\n"
        "   <NbOfTxs>1\n   <X/></NbOfTxs>\n  </GrpHdr>\n"
        " </FIToFICstmrCdtTrf>\n</Document>\n";
    xb_msg *m = NULL;
    xb_buf out = XB_BUF_INIT;
    assert_int_equal(xb_msg_parse(&m, doc, sizeof doc - 1, NULL, NULL), 0);
    assert_string_equal(xb_xml_text(xb_xml_find(xb_msg_body(m), "GrpHdr/MsgId")), "   ");
    assert_int_equal(xb_write_canonical(&out, m, NULL), 0);
    assert_non_null(out.data);
    assert_non_null(strstr(out.data, "<MsgId>   </MsgId>"));
    assert_non_null(strstr(out.data, "<CreDtTm>  </CreDtTm>"));
    assert_non_null(strstr(out.data, "<NbOfTxs>1\n   <X></X></NbOfTxs>"));
    xb_msg_free(m);
    xb_buf_free(&out);
}

/* A small pacs.002 around one text value, with the given XML declaration in front. */
static void status_report(xb_buf *out, const char *decl, const char *text)
{
    xb_buf_reset(out);
    assert_int_equal(xb_buf_printf(out,
                                   "%s<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:"
                                   "pacs.002.001.10\"><FIToFIPmtStsRpt><GrpHdr><MsgId>%s</MsgId>"
                                   "</GrpHdr></FIToFIPmtStsRpt></Document>",
                                   decl, text),
                     0);
}

static const char *status_msgid(const xb_msg *m)
{
    return xb_xml_text(xb_xml_find(xb_msg_body(m), "GrpHdr/MsgId"));
}

/* Plain UTF-8 messages are read in place from a per-thread copy; anything that needs an
 * encoding conversion must still get one. A declared ISO-8859-1 message is converted (0xE9 is
 * "é"), however the declaration is quoted or spaced; the same byte under a UTF-8 declaration,
 * or none, is invalid UTF-8; a UTF-8 byte-order mark is accepted. */
static void test_declared_encodings_still_converted(void **state)
{
    static const char *const latin1[] = {
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml version='1.0' encoding = 'iso-8859-1' ?>",
        "<?xml version=\"1.0\" encoding=\"latin1\" standalone=\"yes\"?>\n",
    };
    xb_buf doc = XB_BUF_INIT;
    for (size_t i = 0; i < sizeof latin1 / sizeof *latin1; i++) {
        status_report(&doc, latin1[i], "Caf\xe9-1");
        xb_msg *m = NULL;
        xb_error err = {0};
        int rc = xb_msg_parse(&m, doc.data, doc.len, NULL, &err);
        if (rc)
            print_error("%s: %s\n", latin1[i], err.message);
        assert_int_equal(rc, 0);
        assert_string_equal(status_msgid(m), "Caf\xc3\xa9-1");
        xb_msg_free(m);
    }
    static const char *const utf8[] = {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                                       "<?xml version='1.0' encoding='utf8'?>", ""};
    for (size_t i = 0; i < sizeof utf8 / sizeof *utf8; i++) {
        status_report(&doc, utf8[i], "Caf\xe9-1");
        xb_msg *m = NULL;
        xb_error err = {0};
        assert_int_equal(xb_msg_parse(&m, doc.data, doc.len, NULL, &err), XB_EINVAL);
        assert_non_null(strstr(err.message, "UTF-8"));
        status_report(&doc, utf8[i], "\xe5\xbc\xa0\xe4\xbc\x9f-1"); /* 张伟 */
        assert_int_equal(xb_msg_parse(&m, doc.data, doc.len, NULL, &err), 0);
        assert_string_equal(status_msgid(m), "\xe5\xbc\xa0\xe4\xbc\x9f-1");
        xb_msg_free(m);
    }
    status_report(&doc, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "BOM-1");
    xb_msg *m = NULL;
    assert_int_equal(xb_msg_parse(&m, doc.data, doc.len, NULL, NULL), 0);
    assert_string_equal(status_msgid(m), "BOM-1");
    xb_msg_free(m);
    xb_buf_free(&doc);
}

/* A tree never points into the bytes it was parsed from: the per-thread copy is overwritten
 * (and grown) by the next parse while earlier messages are still in use; a message too large
 * for that copy is parsed from libxml2's own buffer, with the same result. */
static void test_trees_outlive_the_input_copy(void **state)
{
    xb_buf small = XB_BUF_INIT, big = XB_BUF_INIT, pad = XB_BUF_INIT;
    status_report(&small, "", "SMALL-0001");
    static const char note[] = "<!-- 付款说明 payment notes 0123456 -->";
    for (int i = 0; i < 7000; i++) /* ~300 KB of comments: over the copy limit */
        assert_int_equal(xb_buf_puts(&pad, note), 0);
    xb_msg *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_int_equal(xb_msg_parse(&a, small.data, small.len, NULL, NULL), 0);
    for (size_t n = 500; n <= 3500;
         n *= 7) { /* whole comments: 20 KB, then 140 KB (grows the copy twice) */
        xb_buf_reset(&big);
        status_report(&big, "", "BIG-0001");
        assert_int_equal(xb_buf_append(&big, pad.data, n * (sizeof note - 1)), 0);
        xb_msg_free(b);
        b = NULL;
        assert_int_equal(xb_msg_parse(&b, big.data, big.len, NULL, NULL), 0);
    }
    assert_true(pad.len > 256 * 1024);
    status_report(&big, "", "HUGE-0001");
    assert_int_equal(xb_buf_append(&big, pad.data, pad.len), 0);
    assert_int_equal(xb_msg_parse(&c, big.data, big.len, NULL, NULL), 0);
    status_report(&small, "", "AFTER-0001");
    assert_int_equal(xb_msg_parse(&d, small.data, small.len, NULL, NULL), 0);
    memset(big.data, 'x', big.len); /* the caller's bytes may go too */
    memset(small.data, 'x', small.len);
    assert_string_equal(status_msgid(a), "SMALL-0001");
    assert_string_equal(status_msgid(b), "BIG-0001");
    assert_string_equal(status_msgid(c), "HUGE-0001");
    assert_string_equal(status_msgid(d), "AFTER-0001");
    xb_msg_free(a);
    xb_msg_free(b);
    xb_msg_free(c);
    xb_msg_free(d);
    xb_buf_free(&small);
    xb_buf_free(&big);
    xb_buf_free(&pad);
}

/* The layout check compares eight spaces at a time: runs of spaces longer than eight, tabs
 * and carriage returns between elements are layout; the same runs with anything else in
 * them, or as a whole leaf, are data and kept exactly. */
static void test_long_blank_runs(void **state)
{
    static const char doc[] =
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">\r\n"
        "                        <FIToFICstmrCdtTrf>\n\t\t\t\t\t\t\t\t\t<GrpHdr>"
        "\n                 <MsgId>                 x</MsgId>"
        "                <CreDtTm>                </CreDtTm>\r\n \t \r \n"
        "<NbOfTxs>        \t        </NbOfTxs>     </GrpHdr>\n</FIToFICstmrCdtTrf></Document>";
    xb_msg *m = NULL;
    xb_buf out = XB_BUF_INIT;
    assert_int_equal(xb_msg_parse(&m, doc, sizeof doc - 1, NULL, NULL), 0);
    const xmlNode *hdr = xb_xml_find(xb_msg_body(m), "GrpHdr");
    /* Between elements: nothing built. */
    assert_int_equal(xb_msg_body(m)->prev, NULL);
    assert_int_equal(hdr->children->type, XML_ELEMENT_NODE);
    assert_int_equal(xb_xml_child(hdr, "CreDtTm")->next, xb_xml_child(hdr, "NbOfTxs"));
    assert_int_equal(xb_xml_child(hdr, "NbOfTxs")->next, NULL);
    assert_string_equal(xb_xml_text(xb_xml_child(hdr, "MsgId")), "                 x");
    assert_string_equal(xb_xml_text(xb_xml_child(hdr, "CreDtTm")), "                ");
    assert_string_equal(xb_xml_text(xb_xml_child(hdr, "NbOfTxs")), "        \t        ");
    assert_int_equal(xb_write_canonical(&out, m, NULL), 0);
    assert_non_null(strstr(out.data, "<GrpHdr><MsgId>                 x</MsgId><CreDtTm>"));
    xb_msg_free(m);
    xb_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrapper_envelope),
        cmocka_unit_test(test_wrapper_prefixed),
        cmocka_unit_test(test_wrapper_swiftnet_request),
        cmocka_unit_test(test_wrapper_saa_datapdu),
        cmocka_unit_test(test_wrapper_message),
        cmocka_unit_test(test_wrapper_siblings),
        cmocka_unit_test(test_bare_document),
        cmocka_unit_test(test_wrapper_without_document),
        cmocka_unit_test(test_foreign_namespace_document),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_undeclared_prefix),
        cmocka_unit_test(test_every_supported_definition_identified),
        cmocka_unit_test(test_reda_namespaces_distinct),
        cmocka_unit_test(test_registry_identify),
        cmocka_unit_test(test_node_path),
        cmocka_unit_test(test_chinese_text_is_utf8),
        cmocka_unit_test(test_parse_many_reuses_context),
        cmocka_unit_test(test_many_unique_names),
        cmocka_unit_test(test_layout_whitespace_not_built),
        cmocka_unit_test(test_blank_text_kept_where_it_is_data),
        cmocka_unit_test(test_declared_encodings_still_converted),
        cmocka_unit_test(test_trees_outlive_the_input_copy),
        cmocka_unit_test(test_long_blank_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
