/* test_pol_catalog.c — catalogs: selection by transfer time, overlapping windows, canonical
 * hash, detached Ed25519 signatures (valid, tampered, missing, wrong key), key checks.
 *
 * Owns: assertions on adapter/policy/catalog.c. Keys are generated here, at run time.
 * Never: decides a message (test_pol_decide.c does).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_pol_common.h"

static char tmpdir[] = "/tmp/xb-pol-cat-XXXXXX";

static int setup(void **s)
{
    (void)s;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *tmp(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The default catalog with `from` replaced by `to` (once), written to tmp/name. */
static const char *variant(const char *name, const char *from, const char *to)
{
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, POL_CATALOG, 0), 0);
    char *at = from ? strstr(b.data, from) : NULL;
    if (from)
        assert_non_null(at);
    char *path = tmp(name);
    FILE *f = fopen(path, "wb");
    if (at) {
        fwrite(b.data, 1, (size_t)(at - b.data), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
    } else {
        fwrite(b.data, 1, b.len, f);
    }
    fclose(f);
    xb_buf_free(&b);
    return path;
}

static const char *version_at(const xb_policy_catalog_set *set, const char *when)
{
    const xb_policy_catalog *c = NULL;
    if (xb_policy_catalog_select(&c, set, NULL, pol_time(when), NULL))
        return "(none)";
    return xb_policy_catalog_version(c);
}

static void test_select_by_transfer_time(void **s)
{
    (void)s;
    xb_policy_catalog_set *set = pol_default_catalogs();
    assert_int_equal(xb_policy_catalog_set_count(set), 2);
    assert_string_equal(version_at(set, "2024-06-01"), "2024.03.22");
    assert_string_equal(version_at(set, "2024-03-22T00:00:00+08:00"), "2024.03.22");
    assert_string_equal(version_at(set, "2025-04-16T23:59:59+08:00"), "2024.03.22");
    assert_string_equal(version_at(set, "2025-04-17T00:00:00+08:00"), "2025.04.17");
    /* 16:00 UTC on the 16th is already the 17th in Shanghai. */
    assert_string_equal(version_at(set, "2025-04-16T16:00:00Z"), "2025.04.17");
    assert_string_equal(version_at(set, "2025-04-16T15:59:59Z"), "2024.03.22");
    assert_string_equal(version_at(set, "2030-01-01"), "2025.04.17");
    /* Before the first version nothing is in force: the caller quarantines. */
    const xb_policy_catalog *c = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_select(&c, set, NULL, pol_time("2024-03-21"), &err),
                     XB_ENOTFOUND);
    assert_int_equal(xb_policy_catalog_select(&c, set, "cn-finance", pol_time("2026-01-01"), &err),
                     0);
    assert_string_equal(xb_policy_catalog_id(c), "cn-finance");
    assert_int_equal(xb_policy_catalog_select(&c, set, "other", pol_time("2026-01-01"), &err),
                     XB_ENOTFOUND);
    xb_policy_catalog_set_free(set);
}

static void test_overlapping_windows_refused(void **s)
{
    (void)s;
    xb_policy_catalog_set *set = pol_default_catalogs();
    xb_error err;
    /* The same catalog again overlaps itself: refused, and the set is unchanged. */
    assert_int_equal(xb_policy_catalog_set_load(set, POL_CATALOG, NULL, &err), XB_ECONFIG);
    assert_non_null(strstr(err.message, "overlaps"));
    assert_int_equal(xb_policy_catalog_set_count(set), 2);
    assert_string_equal(version_at(set, "2024-06-01"), "2024.03.22");
    xb_policy_catalog_set_free(set);
    /* Two versions of one file whose windows overlap by a day. */
    const char *bad = variant("overlap.yaml", "effective_to: \"2025-04-17T00:00:00+08:00\"",
                              "effective_to: \"2025-04-18T00:00:00+08:00\"");
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    assert_int_equal(xb_policy_catalog_set_load(set, bad, NULL, &err), XB_ECONFIG);
    assert_non_null(strstr(err.message, "overlap"));
    assert_int_equal(xb_policy_catalog_set_count(set), 0);
    xb_policy_catalog_set_free(set);
}

static const char *hash_of(const char *path, char *out)
{
    xb_policy_catalog_set *set = NULL;
    const xb_policy_catalog *c = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, path, NULL, &err))
        fail_msg("%s: %s", path, err.message);
    assert_int_equal(xb_policy_catalog_select(&c, set, NULL, pol_time("2026-01-01"), &err), 0);
    strcpy(out, xb_policy_catalog_sha256(c));
    xb_policy_catalog_set_free(set);
    return out;
}

static void test_canonical_hash(void **s)
{
    (void)s;
    char h0[65], h1[65], h2[65];
    hash_of(POL_CATALOG, h0);
    assert_int_equal(strlen(h0), 64);
    /* Comments and layout are not content: same canonical JSON, same hash. */
    hash_of(variant("comment.yaml", "catalog_id: cn-finance",
                    "# a reviewer's note\ncatalog_id:    cn-finance"),
            h1);
    assert_string_equal(h0, h1);
    /* A changed rule is a different catalog. */
    hash_of(variant("changed.yaml", "      party.contact: DROP", "      party.contact: PASS"), h2);
    assert_string_not_equal(h0, h2);
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static void write_pub(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
}

static void sign_file(EVP_PKEY *k, const char *path, const char *sig_path)
{
    xb_buf b = XB_BUF_INIT;
    unsigned char sig[64];
    size_t len = sizeof sig;
    assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &len, (unsigned char *)b.data, b.len), 1);
    EVP_MD_CTX_free(md);
    write_file(sig_path, sig, len);
    xb_buf_free(&b);
}

static void test_signature(void **s)
{
    (void)s;
    EVP_PKEY *key = new_key(), *other = new_key();
    const char *pub = tmp("catalog.pub.pem"), *other_pub = tmp("other.pub.pem");
    write_pub(key, pub);
    write_pub(other, other_pub);
    char good[256], sig[300];
    snprintf(good, sizeof good, "%s", variant("signed.yaml", NULL, NULL));
    snprintf(sig, sizeof sig, "%s.sig", good);
    sign_file(key, good, sig);

    xb_policy_catalog_set *set = NULL;
    xb_error err;
    /* The key as the adapter hands it over (xb_catalog_store_load): its bytes, its path only
     * to name it. */
    xb_buf pem = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&pem, pub, 0), 0);
    xb_policy_catalog_opts opts = {
        .pubkey_path = pub, .pubkey_pem = (const uint8_t *)pem.data, .pubkey_pem_len = pem.len};
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, good, &opts, &err))
        fail_msg("%s", err.message);
    assert_int_equal(xb_policy_catalog_set_count(set), 2);

    /* Tampered: one rule changed after signing, the old signature copied along. */
    char bad[256], badsig[300];
    snprintf(bad, sizeof bad, "%s",
             variant("tampered.yaml", "      party.contact: DROP", "      party.contact: PASS"));
    snprintf(badsig, sizeof badsig, "%s.sig", bad);
    xb_buf sb = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&sb, sig, 0), 0);
    write_file(badsig, sb.data, sb.len);
    xb_buf_free(&sb);
    assert_int_equal(xb_policy_catalog_set_load(set, bad, &opts, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "does not verify"));
    /* The catalog in force stays in force. */
    assert_int_equal(xb_policy_catalog_set_count(set), 2);
    assert_string_equal(version_at(set, "2026-01-01"), "2025.04.17");
    xb_policy_catalog_set_free(set);

    /* The same check with the bytes alone, no path to name them: the good catalog loads, the
     * tampered one is refused, and bytes that are not an Ed25519 PEM key refuse even the good
     * one. */
    xb_policy_catalog_opts by_bytes = {.pubkey_pem = (const uint8_t *)pem.data,
                                       .pubkey_pem_len = pem.len};
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, good, &by_bytes, &err))
        fail_msg("%s", err.message);
    assert_int_equal(xb_policy_catalog_set_count(set), 2);
    assert_int_equal(xb_policy_catalog_set_load(set, bad, &by_bytes, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "does not verify"));
    xb_policy_catalog_set_free(set);
    xb_buf other_pem = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&other_pem, other_pub, 0), 0);
    xb_policy_catalog_opts other_key = {.pubkey_path = other_pub,
                                        .pubkey_pem = (const uint8_t *)other_pem.data,
                                        .pubkey_pem_len = other_pem.len};
    xb_policy_catalog_opts junk = {.pubkey_pem = (const uint8_t *)"not a key", .pubkey_pem_len = 9};
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    assert_int_equal(xb_policy_catalog_set_load(set, good, &other_key, &err), XB_ECRYPTO);
    assert_int_equal(xb_policy_catalog_set_load(set, good, &junk, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "not a readable PEM Ed25519 public key"));
    assert_int_equal(xb_policy_catalog_set_count(set), 0);
    xb_policy_catalog_set_free(set);
    xb_buf_free(&other_pem);

    /* Missing signature while signing is configured: refused (fail closed). */
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    assert_int_equal(xb_policy_catalog_set_load(set, POL_CATALOG, &opts, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "missing"));
    /* A key named by path without its bytes: refused (the engine reads no key file). */
    xb_policy_catalog_opts path_only = {.pubkey_path = pub};
    assert_int_equal(xb_policy_catalog_set_load(set, good, &path_only, &err), XB_ECRYPTO);
    assert_non_null(strstr(err.message, "not a readable PEM Ed25519 public key"));
    /* A truncated signature: refused. */
    write_file(sig, "short", 5);
    assert_int_equal(xb_policy_catalog_set_load(set, good, &opts, &err), XB_ECRYPTO);
    assert_int_equal(xb_policy_catalog_set_count(set), 0);
    xb_policy_catalog_set_free(set);
    xb_buf_free(&pem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void expect_config_error(const char *path, const char *needle)
{
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    assert_int_equal(xb_policy_catalog_set_load(set, path, NULL, &err), XB_ECONFIG);
    if (!strstr(err.message, needle) && !strstr(err.path, needle))
        fail_msg("error '%s' (%s) does not name '%s'", err.message, err.path, needle);
    assert_int_equal(xb_policy_catalog_set_count(set), 0);
    xb_policy_catalog_set_free(set);
}

static void test_catalog_errors_name_the_key(void **s)
{
    (void)s;
    expect_config_error(variant("k1.yaml", "catalog_id: cn-finance", "colour: red\ncatalog_id: x"),
                        "colour");
    expect_config_error(variant("k2.yaml", "{path: Nm, class: party.name, subject: name}",
                                "{path: Nm, class: no.such.class}"),
                        "no.such.class");
    expect_config_error(
        variant("k3.yaml", "      window: CALENDAR_YEAR_CURRENT", "      window: PREVIOUS_YEAR"),
        "PREVIOUS_YEAR");
    expect_config_error(
        variant("k4.yaml", "      party.contact: DROP", "      party.contact: SHRED"), "SHRED");
    expect_config_error(variant("k5.yaml", "    - {path: StrtNm, class: address.detail}",
                                "    - {path: StrtNm, class: address.detail}\n"
                                "    - {path: StrtNm, class: address.detail}"),
                        "already exists");
    expect_config_error(variant("k6.yaml", "        profile: GROUP_OPS", "        profile: NOPE"),
                        "NOPE");
}

static xb_verdict verdict_with(const char *catalog, const char *dest, char *reason, size_t cap)
{
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, catalog, NULL, &err))
        fail_msg("%s", err.message);
    xb_policy_destinations *ds = pol_destinations(POL_THRESH);
    xb_policy_decision d;
    /* 2024: the first version, whose lists the variants change. */
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), set, ds, dest,
                                "2024-06-01T12:00:00+08:00", NULL),
                     0);
    xb_verdict v = d.verdict;
    snprintf(reason, cap, "%s", d.reason);
    xb_policy_decision_free(&d);
    xb_policy_destinations_free(ds);
    xb_policy_catalog_set_free(set);
    return v;
}

static void test_important_and_core_data(void **s)
{
    (void)s;
    char reason[320];
    /* A version that notifies account data as important: an approved assessment is needed. */
    const char *imp = variant("important.yaml", "    important: []", "    important: [account.id]");
    assert_int_equal(verdict_with(imp, "scc-only", reason, sizeof reason), XB_VERDICT_BLOCK);
    assert_non_null(strstr(reason, "important data"));
    assert_int_equal(verdict_with(imp, "sa-approved", reason, sizeof reason), XB_VERDICT_DELIVER);
    /* Core data never leaves, whatever the basis, even where the profile would drop it. */
    const char *core = variant("core.yaml", "    core: []", "    core: [purpose]");
    assert_int_equal(verdict_with(core, "sa-approved", reason, sizeof reason), XB_VERDICT_BLOCK);
    assert_non_null(strstr(reason, "core data"));
    /* The unchanged catalog delivers the same message to the same destination. */
    assert_int_equal(verdict_with(POL_CATALOG, "sa-approved", reason, sizeof reason),
                     XB_VERDICT_DELIVER);
}

/* The actions a profile can name beyond the default catalog's: town + country, masking. */
static void test_generalise_town_and_mask(void **s)
{
    (void)s;
    const char *v1 = variant("town.yaml", "      address.detail: PASS ",
                             "      address.detail: GENERALIZE:town_ctry ");
    char v1path[256];
    snprintf(v1path, sizeof v1path, "%s", v1);
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, v1path, 0), 0);
    char *at = strstr(b.data, "      account.name: PASS\n");
    assert_non_null(at);
    FILE *f = fopen(v1path, "wb");
    fwrite(b.data, 1, (size_t)(at - b.data), f);
    fputs("      account.name: MASK:2\n", f);
    fputs(at + strlen("      account.name: PASS\n"), f);
    fclose(f);
    xb_buf_free(&b);
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, v1path, NULL, &err))
        fail_msg("%s", err.message);
    xb_policy_destinations *ds = pol_destinations(POL_EXAMPLE);
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), set, ds,
                                "hk-correspondent", "2026-12-15T10:30:00+08:00", NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    const char *out = d.output.data;
    /* town + country: the street, building, floor, room, post code and district go. */
    assert_null(strstr(out, "世纪大道"));
    assert_null(strstr(out, "<PstCd>"));
    assert_non_null(strstr(out, "<TwnNm>上海</TwnNm>"));
    assert_non_null(strstr(out, "<Ctry>CN</Ctry>"));
    /* MASK:2 keeps the last two characters, counted as characters, not bytes. */
    assert_non_null(strstr(out, "<Nm>*****账户</Nm>"));
    assert_int_equal(pol_field(&d, "/DbtrAcct/Nm")->action, XB_ACT_MASK);
    xb_policy_decision_free(&d);
    xb_policy_destinations_free(ds);
    xb_policy_catalog_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_by_transfer_time),
        cmocka_unit_test(test_overlapping_windows_refused),
        cmocka_unit_test(test_canonical_hash),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_catalog_errors_name_the_key),
        cmocka_unit_test(test_important_and_core_data),
        cmocka_unit_test(test_generalise_town_and_mask),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
