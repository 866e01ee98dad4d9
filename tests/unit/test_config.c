/* test_config.c — the pipeline's config sections: a good file loads, and each broken variant
 * (fixtures/config/pipeline/bad-cases.txt) is refused naming the exact key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/config.h"
#include "iso20022/buf.h"

#define GOOD XB_FIXTURES "/config/pipeline/good.yaml"

static void test_good(void **state)
{
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_config_load(&cfg, GOOD, &err);
    if (rc)
        fail_msg("%s", err.message);
    assert_false(cfg->kafka.embedded);
    assert_string_equal(cfg->kafka.bootstrap, "127.0.0.1:9092");
    assert_string_equal(cfg->kafka.group_id, "xborder-test");
    assert_int_equal(cfg->kafka.n_common, 1);
    assert_string_equal(cfg->kafka.common[0].key, "session.timeout.ms");
    assert_int_equal(cfg->kafka.n_consumer, 1);
    assert_int_equal(cfg->kafka.n_producer, 1);
    assert_int_equal(cfg->n_routes, 2);
    assert_int_equal(cfg->routes[1].n_destinations, 2);
    assert_string_equal(cfg->routes[1].destinations[1], "sg-office");
    assert_int_equal(cfg->n_topics, 2); /* payments.outbound counted once */
    assert_int_equal(cfg->audit.fsync, XB_AUDIT_FSYNC_EVERY_N);
    assert_int_equal(cfg->audit.every_n, 50);
    assert_string_equal(cfg->dlq.topic, "xborder.dlq");
    assert_true(cfg->metrics.enabled);
    assert_string_equal(cfg->metrics.host, "127.0.0.1");
    assert_int_equal(cfg->metrics.port, 9464);
    assert_int_equal(cfg->log_level, XB_LOG_DEBUG);
    assert_int_equal(cfg->pipeline.max_outstanding, 500);
    assert_int_equal(cfg->pipeline.max_outstanding_kbytes, 2048);
    assert_int_equal(cfg->pipeline.commit_interval_ms, 1000);
    assert_int_equal(cfg->n_dests, 2);
    const xb_dest_http *hk = xb_config_dest(cfg, "hk-correspondent");
    assert_non_null(hk);
    /* relative paths are relative to the config file's folder */
    assert_string_equal(hk->ca, XB_FIXTURES "/config/pipeline/pki/ca.pem");
    assert_string_equal(cfg->audit.file, XB_FIXTURES "/config/pipeline/state/audit.log");
    assert_string_equal(hk->sign_key_id, "xborder-1");
    assert_int_equal(hk->batch_max_messages, 50);
    assert_true(hk->http2);
    assert_int_equal(xb_config_dest(cfg, "sg-office")->max_in_flight, 4);
    assert_string_equal(cfg->state.store,
                        "sqlite:" XB_FIXTURES "/config/pipeline/state/xborder.db");
    assert_int_equal(cfg->policy.n_catalogs, 1);

    assert_true(xb_config_route_matches(&cfg->routes[0], "payments.outbound", "pacs.008.001.08"));
    assert_true(xb_config_route_matches(&cfg->routes[0], "payments.outbound", "pacs.009.001.08"));
    assert_false(xb_config_route_matches(&cfg->routes[0], "payments.outbound", "pacs.002.001.10"));
    assert_false(
        xb_config_route_matches(&cfg->routes[0], "statements.outbound", "pacs.008.001.08"));
    assert_true(xb_config_route_matches(&cfg->routes[1], "statements.outbound", "camt.053.001.08"));
    assert_false(xb_config_route_matches(&cfg->routes[1], "other", "camt.053.001.08"));
    xb_config_free(cfg);
}

static char *replace_once(const char *text, const char *old, const char *new_text)
{
    const char *p = strstr(text, old);
    if (!p)
        return NULL;
    xb_buf b = XB_BUF_INIT;
    xb_buf_append(&b, text, (size_t)(p - text));
    xb_buf_puts(&b, new_text);
    xb_buf_puts(&b, p + strlen(old));
    return xb_buf_steal(&b);
}

static void test_bad_cases(void **state)
{
    xb_buf good = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&good, GOOD, 0), 0);
    FILE *f = fopen(XB_FIXTURES "/config/pipeline/bad-cases.txt", "r");
    assert_non_null(f);
    char line[1024];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *key = strtok(line, "\t"), *old = strtok(NULL, "\t"), *rep = strtok(NULL, "\t");
        assert_non_null(rep);
        char *text = replace_once(good.data, old, rep);
        if (!text)
            fail_msg("case %s: '%s' not found in good.yaml", key, old);
        xb_config *cfg = NULL;
        xb_error err;
        xb_error_clear(&err);
        int rc = xb_config_load_buffer(&cfg, text, strlen(text), "bad.yaml", &err);
        if (rc != XB_ECONFIG || strcmp(err.path, key) != 0)
            fail_msg("case %s: rc=%d path='%s' message='%s'", key, rc, err.path, err.message);
        assert_null(cfg);
        assert_non_null(strstr(err.message, key));
        free(text);
        cases++;
    }
    fclose(f);
    xb_buf_free(&good);
    assert_true(cases >= 15);
}

static void test_secret_value_not_in_error(void **state)
{
    const char *yaml = "kafka:\n  bootstrap.servers: embedded\n  sasl.password: hunter2-秘密\n"
                       "  sasl.mechanism: NOPE\n"
                       "routes: []\naudit: {file: a.log}\ndlq: {topic: d}\n"
                       "policy: {catalogs: [c.yaml], keys: k}\n";
    xb_config *cfg = NULL;
    xb_error err;
    int rc = xb_config_load_buffer(&cfg, yaml, strlen(yaml), "s.yaml", &err);
    assert_int_equal(rc, XB_ECONFIG);
    assert_null(strstr(err.message, "hunter2"));
}

static void test_embedded(void **state)
{
    const char *yaml = "kafka: {bootstrap.servers: embedded}\n"
                       "routes: [{name: r, topics: [t], messages: [pacs.008], destination: d}]\n"
                       "destinations: {d: {url: 'https://h/'}}\naudit: {file: a.log}\n"
                       "dlq: {topic: dlq}\npolicy: {catalogs: [c.yaml], keys: k}\n";
    xb_config *cfg = NULL;
    xb_error err;
    assert_int_equal(xb_config_load_buffer(&cfg, yaml, strlen(yaml), "e.yaml", &err), 0);
    assert_true(cfg->kafka.embedded);
    assert_null(cfg->kafka.bootstrap);
    assert_string_equal(cfg->kafka.group_id, "xborder");
    assert_false(cfg->metrics.enabled);
    assert_int_equal(cfg->audit.fsync, XB_AUDIT_FSYNC_ALWAYS);
    xb_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_secret_value_not_in_error),
        cmocka_unit_test(test_embedded),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
