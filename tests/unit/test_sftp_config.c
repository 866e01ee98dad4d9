/* test_sftp_config.c — `type: sftp` destinations in the xborder config (issue #12): the config
 * loader hands the `sftp:` subtree to the SFTP sink's parser, resolves its file paths, and errors
 * name the exact key.
 *
 * Owns: unit tests only. Never: touches the network.
 */
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

#define FIXTURE XB_FIXTURES "/config/sftp/sftp-destination.yaml"

static int ends_with(const char *s, const char *x)
{
    size_t a = strlen(s), b = strlen(x);
    return a >= b && !strcmp(s + a - b, x);
}

static void test_sftp_destination_loads(void **state)
{
    (void)state;
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_config_load(&cfg, FIXTURE, &err))
        fail_msg("%s", err.message);
    const xb_dest_http *sg = xb_config_dest(cfg, "sg-fund-admin");
    const xb_dest_http *hk = xb_config_dest(cfg, "hk-correspondent");
    assert_non_null(sg);
    assert_non_null(hk);
    assert_false(hk->sftp);
    assert_true(sg->sftp);
    const xb_sink_sftp_options *o = &sg->sftp_opts;
    assert_string_equal(o->name, "sg-fund-admin");
    assert_string_equal(o->url, "sftp://127.0.0.1:2222/srv/xborder/inbox");
    assert_string_equal(o->user, "xborder");
    assert_string_equal(o->manifest_key_id, "cn-fund-admin-2026");
    assert_int_equal(o->batch_max_messages, 500);
    assert_int_equal(o->batch_max_bytes, 4194304);
    assert_int_equal(o->batch_linger_ms, 2000);
    assert_int_equal(o->backoff_max_ms, 60000);
    /* file paths are relative to the config file's folder */
    assert_true(o->known_hosts[0] == '/' &&
                ends_with(o->known_hosts, "/config/sftp/keys/sg_known_hosts"));
    assert_true(o->key_file[0] == '/' && ends_with(o->key_file, "/keys/sg_client_ed25519"));
    assert_true(ends_with(o->pub_file, "/keys/sg_client_ed25519.pub"));
    assert_true(ends_with(o->manifest_key_file, "/keys/sg_manifest.pem"));
    assert_true(ends_with(o->spool_dir, "/config/sftp/state/sftp-spool/sg-fund-admin"));
    xb_config_free(cfg);
}

static void test_spool_defaults_to_the_state_folder(void **state)
{
    (void)state;
    xb_buf text = XB_BUF_INIT, mod = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&text, FIXTURE, 0), 0);
    const char *p = strstr(text.data, "      spool:");
    assert_non_null(p);
    xb_buf_append(&mod, text.data, (size_t)(p - text.data));
    xb_buf_puts(&mod, strchr(p, '\n') + 1);
    xb_config *cfg = NULL;
    xb_error err;
    if (xb_config_load_buffer(&cfg, mod.data, mod.len, "sftp.yaml", &err))
        fail_msg("%s", err.message);
    const xb_dest_http *sg = xb_config_dest(cfg, "sg-fund-admin");
    /* audit.file is state/audit.log */
    assert_true(ends_with(sg->sftp_opts.spool_dir, "state/sftp-spool/sg-fund-admin"));
    xb_config_free(cfg);
    xb_buf_free(&text);
    xb_buf_free(&mod);
}

static void expect_error(const char *old, const char *new_text, const char *path)
{
    xb_buf text = XB_BUF_INIT, mod = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&text, FIXTURE, 0), 0);
    const char *p = strstr(text.data, old);
    assert_non_null(p);
    xb_buf_append(&mod, text.data, (size_t)(p - text.data));
    xb_buf_puts(&mod, new_text);
    xb_buf_puts(&mod, p + strlen(old));
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    assert_int_equal(xb_config_load_buffer(&cfg, mod.data, mod.len, "sftp.yaml", &err), XB_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.path, path);
    xb_buf_free(&text);
    xb_buf_free(&mod);
}

static void test_sftp_errors_name_the_key(void **state)
{
    (void)state;
    expect_error("type: sftp", "type: ftp", "destinations.sg-fund-admin.type");
    expect_error("    sftp:\n", "    sftq:\n", "destinations.sg-fund-admin.sftp");
    expect_error("max_messages: 500", "max_messages: 0",
                 "destinations.sg-fund-admin.sftp.batch.max_messages");
    expect_error("      user: xborder\n", "", "destinations.sg-fund-admin.sftp.user");
    expect_error("url: sftp://", "url: https://", "destinations.sg-fund-admin.sftp.url");
    expect_error("      spool:", "      spoool:", "destinations.sg-fund-admin.sftp.spoool");
    expect_error("      manifest_key:", "      manifest_kee:",
                 "destinations.sg-fund-admin.sftp.manifest_kee");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sftp_destination_loads),
        cmocka_unit_test(test_spool_defaults_to_the_state_folder),
        cmocka_unit_test(test_sftp_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
