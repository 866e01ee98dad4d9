/* test_rel_regress.c — regression tests for bugs found by issue #9's fuzzing and fault suite.
 *
 *   fuzz_catalog / fuzz_config: an empty YAML file (or one holding only comments) made
 *   xb_yaml_load_buffer spin forever — after STREAM_END libyaml answers YAML_NO_EVENT, and the
 *   loader waited for a second STREAM_END. An empty catalog dropped in during a SIGHUP reload
 *   would have hung the pipeline's worker thread.
 *   security-test hostile: a message whose Document element carried 50,000 attributes (730 KB)
 *   held the pipeline's worker inside libxml2 for minutes (its duplicate-attribute check is
 *   quadratic), past max.poll.interval.ms: the consumer left its group. xb_msg_parse now refuses
 *   a start tag with more than 256 attributes before libxml2 sees it.
 * Every case runs under alarm(): a hang fails the test in seconds instead of at ctest's timeout.
 * Owns nothing outside its temp files. Never depends on the network.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/config.h"
#include "adapter/policy/policy.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"

static void on_alarm(int sig)
{
    static const char msg[] = "test_rel_regress: HANG (alarm fired): the loader did not return\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

static int arm(void **state)
{
    (void)state;
    signal(SIGALRM, on_alarm);
    alarm(10);
    return 0;
}

static int disarm(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

static void yaml_empty_buffer_is_empty_mapping(void **state)
{
    (void)state;
    static const char *const inputs[] = {"", "\n", "# comment only\n", "---\n...\n", "   \n\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        json_t *tree = NULL;
        xb_error err;
        int rc = xb_yaml_load_buffer(&tree, inputs[i], strlen(inputs[i]), "t.yaml", &err);
        if (rc == 0) {
            /* an empty file or document is nothing at all: an empty mapping or null */
            assert_true(json_is_object(tree) ? json_object_size(tree) == 0 : json_is_null(tree));
            json_decref(tree);
        }
    }
    /* and a real mapping still loads after the fix */
    json_t *tree = NULL;
    xb_error err;
    assert_int_equal(xb_yaml_load_buffer(&tree, "a: 1\n", 5, "t.yaml", &err), 0);
    assert_non_null(json_object_get(tree, "a"));
    json_decref(tree);
}

static void yaml_second_document_still_refused(void **state)
{
    (void)state;
    const char *two = "a: 1\n---\nb: 2\n";
    json_t *tree = NULL;
    xb_error err;
    assert_int_not_equal(xb_yaml_load_buffer(&tree, two, strlen(two), "t.yaml", &err), 0);
    assert_non_null(strstr(err.message, "one YAML document"));
}

static void empty_catalog_is_refused_and_old_one_stays(void **state)
{
    (void)state;
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    xb_policy_catalog_opts opts = {0};
    assert_int_equal(
        xb_policy_catalog_set_load(set, XB_FIXTURES "/catalogs/cn-finance.yaml", &opts, &err), 0);
    size_t before = xb_policy_catalog_set_count(set);
    assert_true(before > 0);
    static const char *const broken[] = {XB_FIXTURES "/reliability/empty.yaml",
                                         XB_FIXTURES "/reliability/comment-only.yaml",
                                         XB_FIXTURES "/reliability/empty-document.yaml"};
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        assert_int_not_equal(xb_policy_catalog_set_load(set, broken[i], &opts, &err), 0);
        assert_true(err.message[0] != '\0');
        assert_int_equal(xb_policy_catalog_set_count(set), before);
    }
    xb_policy_catalog_set_free(set);
}

static void empty_config_is_refused(void **state)
{
    (void)state;
    static const char *const inputs[] = {"", "# nothing\n", "---\n...\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        xb_config *cfg = NULL;
        xb_error err;
        assert_int_not_equal(
            xb_config_load_buffer(&cfg, inputs[i], strlen(inputs[i]), "empty.yaml", &err), 0);
        assert_null(cfg);
        assert_true(err.message[0] != '\0');
    }
}

static void attribute_flood_is_refused(void **state)
{
    (void)state;
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, XB_FIXTURES "/messages/hostile/many-attributes.xml", 0),
                     0);
    xb_msg *msg = NULL;
    xb_error err;
    assert_int_equal(xb_msg_parse(&msg, b.data, b.len, NULL, &err), XB_ELIMIT);
    assert_null(msg);
    assert_non_null(strstr(err.message, "attributes"));
    xb_buf_free(&b);
}

static void attribute_flood_is_refused_fast(void **state)
{
    (void)state;
    /* 50,000 attributes on one element, as in the hostile run: refused within the alarm (10 s);
     * before the fix this took minutes */
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(
        xb_buf_read_file(&b, XB_FIXTURES "/messages/valid/pacs.008-cny-cips-individual.xml", 0), 0);
    const char *doc = strstr(b.data, "<Document");
    assert_non_null(doc);
    size_t cut = (size_t)(doc - b.data) + 9;
    xb_buf big = XB_BUF_INIT;
    xb_buf_append(&big, b.data, cut);
    for (int i = 0; i < 50000; i++)
        xb_buf_printf(&big, " a%d=\"%d\"", i, i);
    xb_buf_append(&big, b.data + cut, b.len - cut);
    xb_msg *msg = NULL;
    xb_error err;
    assert_int_equal(xb_msg_parse(&msg, big.data, big.len, NULL, &err), XB_ELIMIT);
    xb_buf_free(&big);
    xb_buf_free(&b);
}

static void ordinary_attributes_still_parse(void **state)
{
    (void)state;
    /* quotes, '=' and '>' inside attribute values, comments and CDATA must not be counted */
    const char *ok =
        "<?xml version=\"1.0\"?><!-- a=b c=d \" ' -->"
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\" x=\"a=b>c\" "
        "y='\"='><![CDATA[=====]]></Document>";
    xb_msg *msg = NULL;
    xb_error err;
    int rc = xb_msg_parse(&msg, ok, strlen(ok), NULL, &err);
    assert_int_not_equal(rc, XB_ELIMIT);
    xb_msg_free(msg);
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(
        xb_buf_read_file(&b, XB_FIXTURES "/messages/valid/pacs.008-cny-cips-individual.xml", 0), 0);
    assert_int_equal(xb_msg_parse(&msg, b.data, b.len, NULL, &err), 0);
    xb_msg_free(msg);
    xb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(yaml_empty_buffer_is_empty_mapping, arm, disarm),
        cmocka_unit_test_setup_teardown(yaml_second_document_still_refused, arm, disarm),
        cmocka_unit_test_setup_teardown(empty_catalog_is_refused_and_old_one_stays, arm, disarm),
        cmocka_unit_test_setup_teardown(empty_config_is_refused, arm, disarm),
        cmocka_unit_test_setup_teardown(attribute_flood_is_refused, arm, disarm),
        cmocka_unit_test_setup_teardown(attribute_flood_is_refused_fast, arm, disarm),
        cmocka_unit_test_setup_teardown(ordinary_attributes_still_parse, arm, disarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
