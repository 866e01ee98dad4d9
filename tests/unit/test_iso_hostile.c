/* test_iso_hostile.c — xb_msg_parse against hostile input: XXE, billion laughs, external DTD
 * and parameter entities on a loopback port (asserting no connection is ever made), deep
 * nesting, oversized messages, invalid UTF-8, truncation, NUL bytes. Each case must fail with a
 * clear error, in bounded time, without crashing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso20022/message.h"
#include "test_iso_util.h"

/* Replaces every occurrence of key in b with value. */
static void substitute(xb_buf *b, const char *key, const char *value)
{
    xb_buf out = XB_BUF_INIT;
    const char *p = b->data, *end = b->data + b->len;
    size_t klen = strlen(key);
    for (const char *hit; (hit = strstr(p, key)) != NULL; p = hit + klen) {
        assert_int_equal(xb_buf_append(&out, p, (size_t)(hit - p)), 0);
        assert_int_equal(xb_buf_puts(&out, value), 0);
    }
    assert_int_equal(xb_buf_append(&out, p, (size_t)(end - p)), 0);
    xb_buf_free(b);
    *b = out;
}

static int parse_expect(const xb_buf *b, const xb_parse_limits *lim, int code, const char *needle)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    long long t0 = iso_now_ms();
    int rc = xb_msg_parse(&msg, b->data, b->len, lim, &err);
    long long ms = iso_now_ms() - t0;
    if (rc != code || !strstr(err.message, needle))
        print_error("rc=%d (%s) message='%s', want %d '%s'\n", rc, xb_error_name(rc), err.message,
                    code, needle);
    assert_int_equal(rc, code);
    assert_null(msg);
    assert_non_null(strstr(err.message, needle));
    assert_true(ms < 2000);
    return rc;
}

/* A loopback TCP listener on an ephemeral port; nothing must ever connect to it. */
static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int pending_connections(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 300); /* > 0 means someone connected */
}

static void test_xxe_local_file(void **state)
{
    char secret[1024];
    snprintf(secret, sizeof secret, "%s/messages/hostile/secret.txt", XB_FIXTURES);
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "hostile/xxe-local-file.xml.in");
    substitute(&b, "@SECRET@", secret);
    xb_msg *msg = NULL;
    xb_error err = {0};
    int rc = xb_msg_parse(&msg, b.data, b.len, NULL, &err);
    assert_int_equal(rc, XB_EINVAL);
    assert_null(msg);
    assert_string_equal(err.message, "DOCTYPE not allowed: ISO 20022 messages never use one");
    assert_null(strstr(err.message, "XB-SECRET-MARKER"));
    assert_null(strstr(err.path, "XB-SECRET-MARKER"));
    xb_buf_free(&b);
}

static void test_billion_laughs(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "hostile/billion-laughs.xml");
    parse_expect(&b, NULL, XB_EINVAL, "DOCTYPE not allowed");
    xb_buf_free(&b);
}

static void run_network_case(const char *fixture)
{
    int port = 0;
    int fd = listen_loopback(&port);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, fixture);
    substitute(&b, "@PORT@", port_s);
    parse_expect(&b, NULL, XB_EINVAL, "DOCTYPE not allowed");
    assert_int_equal(pending_connections(fd), 0);
    close(fd);
    xb_buf_free(&b);
}

static void test_external_dtd_no_network(void **state)
{
    run_network_case("hostile/external-dtd.xml.in");
}

static void test_parameter_entity_no_network(void **state)
{
    run_network_case("hostile/xxe-parameter-entity.xml.in");
}

static void make_deep(xb_buf *b, int depth)
{
    assert_int_equal(
        xb_buf_puts(b, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"), 0);
    for (int i = 0; i < depth; i++)
        assert_int_equal(xb_buf_puts(b, "<a>"), 0);
    for (int i = 0; i < depth; i++)
        assert_int_equal(xb_buf_puts(b, "</a>"), 0);
    assert_int_equal(xb_buf_puts(b, "</Document>"), 0);
}

static void test_deep_nesting_100000(void **state)
{
    xb_buf b = XB_BUF_INIT;
    make_deep(&b, 100000);
    parse_expect(&b, NULL, XB_ELIMIT, "deeper than 64");
    /* raising our limit past libxml2's own (256 without XML_PARSE_HUGE) still fails fast */
    xb_parse_limits lim = {4u * 1024u * 1024u, 1000000};
    xb_msg *msg = NULL;
    long long t0 = iso_now_ms();
    assert_true(xb_msg_parse(&msg, b.data, b.len, &lim, NULL) < 0);
    assert_true(iso_now_ms() - t0 < 2000);
    assert_null(msg);
    xb_buf_free(&b);
}

static void test_depth_limit_is_configurable(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "valid/pacs.008-cny-cips-individual.xml");
    xb_parse_limits lim = {4u * 1024u * 1024u, 8};
    parse_expect(&b, &lim, XB_ELIMIT, "deeper than 8");
    lim.max_depth = 64;
    xb_msg *msg = NULL;
    assert_int_equal(xb_msg_parse(&msg, b.data, b.len, &lim, NULL), 0);
    xb_msg_free(msg);
    xb_buf_free(&b);
}

/* ~50 MiB: a real pacs.008 with thousands of remittance lines in one transaction. */
static void make_big(xb_buf *b, size_t target)
{
    xb_buf src = XB_BUF_INIT;
    iso_load(&src, "valid/pacs.008-cny-cips-corporate-nobah.xml");
    const char *cut = strstr(src.data, "</FIToFICstmrCdtTrf>");
    assert_non_null(cut);
    assert_int_equal(xb_buf_append(b, src.data, (size_t)(cut - src.data)), 0);
    assert_int_equal(xb_buf_puts(b, "<SplmtryData><Envlp>"), 0);
    while (b->len < target)
        assert_int_equal(xb_buf_puts(b,
                                     "<x:Line xmlns:x=\"urn:example:big\">上海 Shanghai 0123456789 "
                                     "abcdefghijklmnopqrstuvwxyz</x:Line>\n"),
                         0);
    assert_int_equal(xb_buf_puts(b, "</Envlp></SplmtryData>"), 0);
    assert_int_equal(xb_buf_puts(b, cut), 0);
    xb_buf_free(&src);
}

static void test_50mib_refused_by_size_limit(void **state)
{
    xb_buf b = XB_BUF_INIT;
    make_big(&b, 50u * 1024u * 1024u);
    assert_true(b.len >= 50u * 1024u * 1024u);
    parse_expect(&b, NULL, XB_ELIMIT, "over the 4194304-byte limit");
    /* with the limit raised it is a well-formed message and parses in bounded time */
    xb_parse_limits lim = {64u * 1024u * 1024u, 64};
    xb_msg *msg = NULL;
    xb_error err = {0};
    long long t0 = iso_now_ms();
    int rc = xb_msg_parse(&msg, b.data, b.len, &lim, &err);
    if (rc)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_true(iso_now_ms() - t0 < 60000);
    assert_string_equal(xb_msg_definition(msg)->id, "pacs.008.001.08");
    xb_msg_free(msg);
    xb_buf_free(&b);
}

static void test_invalid_utf8(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "hostile/invalid-utf8.xml");
    parse_expect(&b, NULL, XB_EINVAL, "UTF-8");
    xb_buf_free(&b);
}

static void test_truncated(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "hostile/truncated.xml");
    parse_expect(&b, NULL, XB_EINVAL, "not well-formed XML");
    /* every prefix of a valid message is refused, never crashes */
    xb_buf whole = XB_BUF_INIT;
    iso_load(&whole, "valid/pacs.008-cny-cips-individual.xml");
    for (size_t n = 1; n < whole.len - 12; n += 7) {
        xb_msg *msg = NULL;
        assert_true(xb_msg_parse(&msg, whole.data, n, NULL, NULL) < 0);
        assert_null(msg);
    }
    xb_buf_free(&whole);
    xb_buf_free(&b);
}

static void test_nul_byte(void **state)
{
    xb_buf b = XB_BUF_INIT;
    iso_load(&b, "hostile/nul-byte.xml");
    parse_expect(&b, NULL, XB_EINVAL, "NUL byte at offset");
    xb_buf_free(&b);
}

static void test_empty_and_garbage(void **state)
{
    xb_msg *msg = NULL;
    xb_error err = {0};
    assert_int_equal(xb_msg_parse(&msg, "", 0, NULL, &err), XB_EINVAL);
    assert_int_equal(xb_msg_parse(&msg, "not xml at all", 14, NULL, &err), XB_EINVAL);
    assert_int_equal(xb_msg_parse(&msg, "<a>", 3, NULL, &err), XB_EINVAL);
    assert_null(msg);
}

/* A Document whose GrpHdr holds `elems` <Nb> elements with `attrs` attributes each; every value
 * carries `eq_in_value` '=' characters and a '>' (quoted, so neither counts). */
static void attribute_doc(xb_buf *b, int elems, int attrs, int eq_in_value)
{
    xb_buf_reset(b);
    assert_int_equal(
        xb_buf_puts(b, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"
                       "<FIToFICstmrCdtTrf><GrpHdr>"),
        0);
    for (int e = 0; e < elems; e++) {
        assert_int_equal(xb_buf_puts(b, "<Nb"), 0);
        for (int a = 0; a < attrs; a++) {
            assert_int_equal(xb_buf_printf(b, " a%d='>", a), 0);
            for (int k = 0; k < eq_in_value; k++)
                assert_int_equal(xb_buf_puts(b, "="), 0);
            assert_int_equal(xb_buf_puts(b, "'"), 0);
        }
        assert_int_equal(xb_buf_puts(b, "/>"), 0);
    }
    assert_int_equal(xb_buf_puts(b, "</GrpHdr></FIToFICstmrCdtTrf></Document>"), 0);
}

/* The attribute-flood guard counts attributes per tag, whatever the message holds in total:
 * many tags with a few attributes, and '=' and '>' inside quoted values, are ordinary; one tag
 * with 257 is refused, also among ordinary ones. */
static void test_attribute_limit_is_per_tag(void **state)
{
    xb_buf b = XB_BUF_INIT;
    xb_msg *m = NULL;
    xb_error err;
    attribute_doc(&b, 400, 2, 0); /* 800 attributes in all, 2 per tag */
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), 0);
    xb_msg_free(m);
    attribute_doc(&b, 3, 1, 1000); /* 3,000 '=' in values */
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), 0);
    xb_msg_free(m);
    attribute_doc(&b, 1, 256, 1); /* at the limit */
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), 0);
    xb_msg_free(m);
    attribute_doc(&b, 1, 257, 0); /* one over */
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), XB_ELIMIT);
    assert_non_null(strstr(err.message, "attributes"));
    xb_buf c = XB_BUF_INIT; /* the flooded tag after 300 ordinary ones */
    attribute_doc(&c, 300, 1, 2);
    xb_buf tail = XB_BUF_INIT;
    attribute_doc(&tail, 1, 300, 0);
    const char *nb = strstr(tail.data, "<Nb");
    const char *end = strstr(nb, "/>") + 2;
    const char *close = strstr(c.data, "</GrpHdr>");
    xb_buf_reset(&b);
    assert_int_equal(xb_buf_append(&b, c.data, (size_t)(close - c.data)), 0);
    assert_int_equal(xb_buf_append(&b, nb, (size_t)(end - nb)), 0);
    assert_int_equal(xb_buf_puts(&b, close), 0);
    assert_int_equal(xb_msg_parse(&m, b.data, b.len, NULL, &err), XB_ELIMIT);
    xb_buf_free(&tail);
    xb_buf_free(&c);
    xb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxe_local_file),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_external_dtd_no_network),
        cmocka_unit_test(test_parameter_entity_no_network),
        cmocka_unit_test(test_deep_nesting_100000),
        cmocka_unit_test(test_depth_limit_is_configurable),
        cmocka_unit_test(test_50mib_refused_by_size_limit),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_empty_and_garbage),
        cmocka_unit_test(test_attribute_limit_is_per_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
