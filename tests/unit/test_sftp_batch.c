/* test_sftp_batch.c — the SFTP batch format: embedding checks, the XML container, the manifest,
 * its Ed25519 signature and the counterparty's verification (adapter/transport/batch_file.h).
 *
 * Owns: unit tests only. Never: touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/transport/batch_file.h"
#include "unit/test_sftp_util.h"

static char g_dir[256];
static char g_key[300], g_key2[300];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/xb-sftp-batch-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_key, sizeof g_key, "%s/manifest.pem", g_dir);
    snprintf(g_key2, sizeof g_key2, "%s/other.pem", g_dir);
    return sftp_test_make_ed25519(g_key) || sftp_test_make_ed25519(g_key2);
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_key);
    unlink(g_key2);
    rmdir(g_dir);
    return 0;
}

/* Three prepared messages from the CNY template (UETRs as keys). */
typedef struct three {
    xb_buf frag[3];
    char keys[3][40];
    xb_batch_item items[3];
} three;

static void make_three(three *t)
{
    xb_buf tmpl = XB_BUF_INIT, msg = XB_BUF_INIT;
    assert_int_equal(sftp_test_fixture(&tmpl, "pacs008-cny-template.xml"), 0);
    for (int i = 0; i < 3; i++) {
        memset(&t->frag[i], 0, sizeof t->frag[i]);
        assert_int_equal(sftp_test_message(&msg, tmpl.data, (unsigned)i + 1, t->keys[i]), 0);
        assert_int_equal(xb_batch_item_prepare(&t->frag[i], msg.data, msg.len, 0, NULL), 0);
        t->items[i] = (xb_batch_item){t->frag[i].data, t->frag[i].len, t->keys[i]};
    }
    xb_buf_free(&tmpl);
    xb_buf_free(&msg);
}

static void free_three(three *t)
{
    for (int i = 0; i < 3; i++)
        xb_buf_free(&t->frag[i]);
}

static void test_prepare_strips_bom_and_declaration(void **state)
{
    (void)state;
    xb_buf tmpl = XB_BUF_INIT, out = XB_BUF_INIT;
    assert_int_equal(sftp_test_fixture(&tmpl, "pacs008-cny-template.xml"), 0);
    assert_memory_equal(tmpl.data, "\xEF\xBB\xBF<?xml", 8); /* the fixture really has both */
    assert_int_equal(xb_batch_item_prepare(&out, tmpl.data, tmpl.len, 0, NULL), 0);
    assert_true(strncmp(out.data, "<!--", 4) == 0);
    assert_null(strstr(out.data, "<?xml"));
    assert_non_null(strstr(out.data, "深圳前海跨境资产管理有限公司"));
    assert_true(out.data[out.len - 1] == '>'); /* trailing newline trimmed */
    xb_buf_free(&tmpl);

    /* single-quoted declaration without encoding, no BOM */
    assert_int_equal(sftp_test_fixture(&tmpl, "unqualified-envelope.xml"), 0);
    assert_int_equal(xb_batch_item_prepare(&out, tmpl.data, tmpl.len, 0, NULL), 0);
    assert_null(strstr(out.data, "<?xml"));
    xb_buf_free(&tmpl);
    xb_buf_free(&out);
}

static void expect_refused(const char *fixture, int code, const char *needle)
{
    xb_buf in = XB_BUF_INIT, out = XB_BUF_INIT;
    xb_error err;
    assert_int_equal(sftp_test_fixture(&in, fixture), 0);
    assert_int_equal(xb_batch_item_prepare(&out, in.data, in.len, 0, &err), code);
    assert_non_null(strstr(err.message, needle));
    assert_int_equal(out.len, 0);
    xb_buf_free(&in);
    xb_buf_free(&out);
}

static void test_prepare_refuses_hostile(void **state)
{
    (void)state;
    expect_refused("hostile-doctype.xml", XB_EINVAL, "DOCTYPE");
    expect_refused("latin1-declared.xml", XB_EINVAL, "UTF-8");
    expect_refused("truncated.xml", XB_EINVAL, "well-formed");
    xb_buf out = XB_BUF_INIT;
    xb_error err;
    assert_int_equal(xb_batch_item_prepare(&out, "", 0, 0, &err), XB_EINVAL);
    assert_int_equal(xb_batch_item_prepare(&out, "<a>\0</a>", 8, 0, &err), XB_EINVAL);
    assert_int_equal(xb_batch_item_prepare(&out, "<?xml version='1.0'?>  ", 23, 0, &err),
                     XB_EINVAL);
    assert_int_equal(xb_batch_item_prepare(&out, "<a/><b/>", 8, 0, &err), XB_EINVAL);
    assert_int_equal(xb_batch_item_prepare(&out, "<a>1</a>", 8, 4, &err), XB_ELIMIT);
    xb_buf_free(&out);
}

static void test_container_is_deterministic_and_exact(void **state)
{
    (void)state;
    three t;
    make_three(&t);
    xb_batch_file a, b;
    assert_int_equal(xb_batch_file_build(&a, "sg-fund-admin", t.items, 3, NULL), 0);
    assert_int_equal(xb_batch_file_build(&b, "sg-fund-admin", t.items, 3, NULL), 0);
    assert_int_equal(a.data.len, b.data.len);
    assert_memory_equal(a.data.data, b.data.data, a.data.len);
    assert_string_equal(a.name, b.name);
    assert_int_equal(strlen(a.name), strlen("sg-fund-admin-") + 32);
    assert_true(strncmp(a.name + 14, a.sha256, 32) == 0);
    assert_int_equal(a.count, 3);

    /* the size the sink predicts is the size it gets */
    size_t predicted = xb_batch_overhead("sg-fund-admin", 3);
    for (size_t i = 0; i < 3; i++)
        predicted += xb_batch_entry_size(t.items[i].len, t.items[i].key, i + 1);
    assert_int_equal(predicted, a.data.len);

    /* order matters: another order is another batch with another name */
    xb_batch_item rev[3] = {t.items[2], t.items[1], t.items[0]};
    xb_batch_file c;
    assert_int_equal(xb_batch_file_build(&c, "sg-fund-admin", rev, 3, NULL), 0);
    assert_string_not_equal(a.name, c.name);

    /* the independent SHA-256 of the bytes is the one in the name */
    unsigned char md[32];
    unsigned int mdl = 0;
    char hex[65];
    EVP_Digest(a.data.data, a.data.len, md, &mdl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(hex, a.sha256);
    xb_batch_file_free(&a);
    xb_batch_file_free(&b);
    xb_batch_file_free(&c);
    free_three(&t);
}

static void test_container_is_xml_with_escaped_keys(void **state)
{
    (void)state;
    xb_buf env = XB_BUF_INIT, frag = XB_BUF_INIT, frag2 = XB_BUF_INIT;
    assert_int_equal(sftp_test_fixture(&env, "unqualified-envelope.xml"), 0);
    assert_int_equal(xb_batch_item_prepare(&frag, env.data, env.len, 0, NULL), 0);
    assert_int_equal(xb_batch_item_prepare(&frag2, "<x:R xmlns:x='urn:t'>&amp;</x:R>", 32, 0, NULL),
                     0);
    xb_batch_item items[2] = {{frag.data, frag.len, "k&<\"'>1"},
                              {frag2.data, frag2.len, "plain-2"}};
    xb_batch_file f;
    assert_int_equal(xb_batch_file_build(&f, "hk.custodian_1", items, 2, NULL), 0);
    xmlDocPtr doc = xmlReadMemory(f.data.data, (int)f.data.len, NULL, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->ns->href, XB_BATCH_NS);
    xmlNodePtr m1 = xmlFirstElementChild(root);
    xmlChar *k = xmlGetProp(m1, (const xmlChar *)"key");
    assert_string_equal((const char *)k, "k&<\"'>1");
    xmlFree(k);
    /* the unqualified wrapper keeps its empty namespace inside the container */
    xmlNodePtr envelope = xmlFirstElementChild(m1);
    assert_string_equal((const char *)envelope->name, "Envelope");
    assert_null(envelope->ns);
    xmlChar *c = xmlGetProp(root, (const xmlChar *)"count");
    assert_string_equal((const char *)c, "2");
    xmlFree(c);
    xmlFreeDoc(doc);
    xb_batch_file_free(&f);

    xb_error err; /* refusals leave f empty (nothing to free) */
    xb_batch_item bad = {frag.data, frag.len, "has space"};
    assert_int_equal(xb_batch_file_build(&f, "hk", &bad, 1, &err), XB_EINVAL);
    assert_int_equal(xb_batch_file_build(&f, "../etc", items, 1, &err), XB_EINVAL);
    assert_int_equal(xb_batch_file_build(&f, "hk", items, 0, &err), XB_EINVAL);
    assert_null(f.data.data);
    xb_buf_free(&env);
    xb_buf_free(&frag);
    xb_buf_free(&frag2);
}

typedef struct signed_batch {
    three t;
    xb_batch_file f;
    xb_buf manifest, sig;
    xb_httpsig_key *key;
} signed_batch;

static void make_signed(signed_batch *s)
{
    memset(s, 0, sizeof *s);
    make_three(&s->t);
    assert_int_equal(xb_batch_file_build(&s->f, "sg-fund-admin", s->t.items, 3, NULL), 0);
    assert_int_equal(xb_batch_manifest(&s->manifest, &s->f, "sg-fund-admin", s->t.items, 3, NULL),
                     0);
    assert_int_equal(xb_httpsig_key_load(&s->key, g_key, NULL), 0);
    assert_int_equal(xb_batch_manifest_sign(&s->sig, s->f.name, s->manifest.data, s->manifest.len,
                                            s->key, "sg-fund-admin-2026", 1775000000, NULL),
                     0);
}

static void free_signed(signed_batch *s)
{
    free_three(&s->t);
    xb_batch_file_free(&s->f);
    xb_buf_free(&s->manifest);
    xb_buf_free(&s->sig);
    xb_httpsig_key_free(s->key);
}

static int verify(signed_batch *s, const xb_buf *container, const xb_buf *manifest,
                  const xb_buf *sig, const xb_httpsig_key *key, xb_error *err)
{
    return xb_batch_verify(NULL, s->f.name, container->data, container->len, manifest->data,
                           manifest->len, sig->data, sig->len, key, "sg-fund-admin-2026", err);
}

static void test_manifest_fields_and_signature(void **state)
{
    (void)state;
    signed_batch s;
    make_signed(&s);
    xb_batch_manifest_info m;
    assert_int_equal(xb_batch_verify(&m, s.f.name, s.f.data.data, s.f.data.len, s.manifest.data,
                                     s.manifest.len, s.sig.data, s.sig.len, s.key,
                                     "sg-fund-admin-2026", NULL),
                     0);
    assert_int_equal(m.count, 3);
    assert_int_equal(m.bytes, s.f.data.len);
    assert_string_equal(m.sha256, s.f.sha256);
    char file[160];
    snprintf(file, sizeof file, "%s.xml", s.f.name);
    assert_string_equal(m.file, file);
    for (int i = 0; i < 3; i++)
        assert_string_equal(m.keys[i], s.t.keys[i]);
    xb_batch_manifest_info_free(&m);
    assert_non_null(strstr(s.sig.data, "Signature-Input: sig1=("));
    assert_non_null(strstr(s.sig.data, "keyid=\"sg-fund-admin-2026\""));

    /* the manifest is deterministic (no clock inside) */
    xb_buf again = XB_BUF_INIT;
    assert_int_equal(xb_batch_manifest(&again, &s.f, "sg-fund-admin", s.t.items, 3, NULL), 0);
    assert_int_equal(again.len, s.manifest.len);
    assert_memory_equal(again.data, s.manifest.data, again.len);
    xb_buf_free(&again);
    free_signed(&s);
}

static void test_verify_detects_tampering(void **state)
{
    (void)state;
    signed_batch s;
    make_signed(&s);
    xb_error err;
    assert_int_equal(verify(&s, &s.f.data, &s.manifest, &s.sig, s.key, &err), 0);

    /* one byte of the container changed (an amount): SHA-256 mismatch */
    xb_buf c = XB_BUF_INIT;
    xb_buf_append(&c, s.f.data.data, s.f.data.len);
    char *amt = strstr(c.data, "Ccy=\"CNY\">");
    assert_non_null(amt);
    amt[10] = amt[10] == '9' ? '8' : '9';
    assert_int_equal(verify(&s, &c, &s.manifest, &s.sig, s.key, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "SHA-256"));

    /* the manifest changed (a key dropped from the list): signature no longer matches */
    xb_buf m = XB_BUF_INIT;
    xb_buf_append(&m, s.manifest.data, s.manifest.len);
    char *k = strstr(m.data, s.t.keys[1]);
    k[0] = k[0] == 'a' ? 'b' : 'a';
    assert_int_equal(verify(&s, &s.f.data, &m, &s.sig, s.key, &err), XB_ECRYPTO);

    /* another key, or another key id */
    xb_httpsig_key *other = NULL;
    assert_int_equal(xb_httpsig_key_load(&other, g_key2, NULL), 0);
    assert_int_equal(verify(&s, &s.f.data, &s.manifest, &s.sig, other, &err), XB_ECRYPTO);
    assert_int_equal(xb_batch_verify(NULL, s.f.name, s.f.data.data, s.f.data.len, s.manifest.data,
                                     s.manifest.len, s.sig.data, s.sig.len, s.key, "someone-else",
                                     &err),
                     XB_ECRYPTO);
    /* a signature file with a line missing */
    xb_buf sig = XB_BUF_INIT;
    xb_buf_puts(&sig, strstr(s.sig.data, "Signature-Input:"));
    assert_int_equal(verify(&s, &s.f.data, &s.manifest, &sig, s.key, &err), XB_ECRYPTO);

    /* correctly signed manifest, but for a different file name */
    assert_int_equal(xb_batch_verify(NULL, "sg-fund-admin-00000000000000000000000000000000",
                                     s.f.data.data, s.f.data.len, s.manifest.data, s.manifest.len,
                                     s.sig.data, s.sig.len, s.key, NULL, &err),
                     XB_ECRYPTO);
    xb_httpsig_key_free(other);
    xb_buf_free(&c);
    xb_buf_free(&m);
    xb_buf_free(&sig);
    free_signed(&s);
}

static void test_verify_checks_keys_against_container(void **state)
{
    (void)state;
    /* A manifest that is validly signed but lists the keys in another order than the container:
     * the key walk must catch it even though SHA-256 and count agree. */
    signed_batch s;
    make_signed(&s);
    xb_batch_item rev[3] = {s.t.items[2], s.t.items[1], s.t.items[0]};
    xb_buf m = XB_BUF_INIT, sig = XB_BUF_INIT;
    assert_int_equal(xb_batch_manifest(&m, &s.f, "sg-fund-admin", rev, 3, NULL), 0);
    assert_int_equal(xb_batch_manifest_sign(&sig, s.f.name, m.data, m.len, s.key,
                                            "sg-fund-admin-2026", 1775000000, NULL),
                     0);
    xb_error err;
    assert_int_equal(verify(&s, &s.f.data, &m, &sig, s.key, &err), XB_EINVAL);
    assert_non_null(strstr(err.message, "key differs"));
    assert_int_equal(xb_batch_manifest(&m, &s.f, "sg-fund-admin", rev, 2, &err), XB_EINVAL);
    xb_buf_free(&m);
    xb_buf_free(&sig);
    free_signed(&s);
}

static void test_manifest_parse_refuses_bad_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "{\"format\":\"other/1\"}",
        "{\"format\":\"xborder-batch/1\",\"destination\":\"d\",\"file\":\"f.xml\",\"count\":2,"
        "\"bytes\":5,\"sha256\":\""
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\",\"keys\":[\"a\"]}",
        "{\"format\":\"xborder-batch/1\",\"destination\":\"d\",\"file\":\"f.xml\",\"count\":1,"
        "\"bytes\":5,\"sha256\":\"XYZ\",\"keys\":[\"a\"]}",
        "{\"format\":\"xborder-batch/1\",\"destination\":\"d\",\"file\":\"f.xml\",\"count\":1,"
        "\"bytes\":5,\"sha256\":\""
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\",\"keys\":[\"a b\"]}",
        "{\"format\":\"xborder-batch/1\",\"format\":\"xborder-batch/1\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xb_batch_manifest_info m;
        xb_error err;
        assert_int_equal(xb_batch_manifest_parse(&m, bad[i], strlen(bad[i]), &err), XB_EINVAL);
        assert_null(m.keys);
    }
    const char *good = "{\"format\":\"xborder-batch/1\",\"destination\":\"d\",\"file\":\"f.xml\","
                       "\"count\":1,\"bytes\":5,\"sha256\":\""
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                       "\",\"keys\":[\"a\"]}";
    xb_batch_manifest_info m;
    assert_int_equal(xb_batch_manifest_parse(&m, good, strlen(good), NULL), 0);
    assert_string_equal(m.keys[0], "a");
    xb_batch_manifest_info_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_strips_bom_and_declaration),
        cmocka_unit_test(test_prepare_refuses_hostile),
        cmocka_unit_test(test_container_is_deterministic_and_exact),
        cmocka_unit_test(test_container_is_xml_with_escaped_keys),
        cmocka_unit_test(test_manifest_fields_and_signature),
        cmocka_unit_test(test_verify_detects_tampering),
        cmocka_unit_test(test_verify_checks_keys_against_container),
        cmocka_unit_test(test_manifest_parse_refuses_bad_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
