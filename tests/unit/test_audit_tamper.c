/* test_audit_tamper.c — issue #7: signed checkpoints and whole-chain verification.
 * Each kind of tampering (one byte changed, an entry deleted, two swapped, one inserted, one
 * appended after the last signature, a checkpoint signed by another key) must be named at the
 * exact seq. Also: the chain and the Merkle tree survive restarts and rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/state/audit.h"
#include "adapter/state/audit_checkpoint.h"
#include "adapter/state/audit_verify.h"
#include "iso20022/buf.h"

typedef struct fx {
    char dir[64];
    char log[128], priv[128], pub[128], other_pub[128];
} fx;

static void write_keypair(const char *priv, const char *pub)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    FILE *f = fopen(priv, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(pub, "w");
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/xb-tamper-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->log, sizeof x->log, "%s/audit.log", x->dir);
    snprintf(x->priv, sizeof x->priv, "%s/ckpt.key", x->dir);
    snprintf(x->pub, sizeof x->pub, "%s/ckpt.pub", x->dir);
    snprintf(x->other_pub, sizeof x->other_pub, "%s/other.pub", x->dir);
    write_keypair(x->priv, x->pub);
    char other_priv[160];
    snprintf(other_priv, sizeof other_priv, "%s/other.key", x->dir);
    write_keypair(other_priv, x->other_pub);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
    return 0;
}

/* The synthetic decision records of fixtures/audit, cycled. */
static json_t *fixture_record(size_t i)
{
    static json_t *all;
    if (!all) {
        all = json_array();
        FILE *f = fopen(XB_FIXTURES "/audit/decisions-synthetic.jsonl", "r");
        assert_non_null(f);
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0)
            json_array_append_new(all, json_loads(line, 0, NULL));
        free(line);
        fclose(f);
        assert_int_equal(json_array_size(all), 7);
    }
    json_t *r = json_deep_copy(json_array_get(all, i % json_array_size(all)));
    json_object_set_new(r, "n", json_integer((json_int_t)i));
    return r;
}

/* Writes n decisions with a checkpoint every `every`, and a final one at "shutdown". */
static void write_log(const fx *x, size_t first, size_t n, unsigned every, bool final_ckpt)
{
    xb_audit_opts o = {.path = x->log, .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 100};
    xb_audit *a;
    xb_audit_ckpt *ck;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    xb_audit_ckpt_opts co = {.audit_path = x->log, .key_path = x->priv, .every_n = every};
    assert_int_equal(xb_audit_ckpt_new(&ck, a, &co, &err), 0);
    for (size_t i = first; i < first + n; i++) {
        json_t *r = fixture_record(i);
        assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), 0);
        json_decref(r);
        char *line = NULL;
        assert_int_equal(xb_audit_ckpt_tick(&line, ck, &err), 0);
        if (line)
            assert_non_null(strstr(line, "\"type\":\"checkpoint\""));
        free(line);
    }
    if (final_ckpt)
        assert_int_equal(xb_audit_ckpt_write(NULL, ck, &err), 0);
    xb_audit_ckpt_free(ck);
    xb_audit_close(a);
}

static xb_audit_verify_result verify(const char *const *paths, size_t n, const char *pub)
{
    xb_audit_verify_opts o = {.pubkey_path = pub};
    xb_audit_verify_result r;
    xb_error err;
    assert_int_equal(xb_audit_verify_files(&r, paths, n, &o, &err), 0);
    return r;
}

static xb_audit_verify_result verify1(const fx *x, const char *pub)
{
    const char *p[] = {x->log};
    return verify(p, 1, pub);
}

/* ---- file surgery ---------------------------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines read_lines(const char *path)
{
    lines L = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
        L.v[L.n++] = strndup(line, (size_t)got);
    }
    free(line);
    fclose(f);
    return L;
}

static void write_lines(const char *path, const lines *L)
{
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < L->n; i++)
        if (L->v[i])
            fputs(L->v[i], f);
    fclose(f);
}

static void free_lines(lines *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->v[i]);
    free(L->v);
}

/* Index of the line holding seq. */
static size_t line_of(const lines *L, uint64_t seq)
{
    char needle[48];
    snprintf(needle, sizeof needle, "{\"v\":1,\"seq\":%llu,", (unsigned long long)seq);
    for (size_t i = 0; i < L->n; i++)
        if (L->v[i] && !strncmp(L->v[i], needle, strlen(needle)))
            return i;
    fail_msg("seq %llu not found", (unsigned long long)seq);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_intact_with_checkpoints(void **state)
{
    fx *x = *state;
    write_log(x, 0, 45, 10, true);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.decisions, 45);
    assert_int_equal(r.checkpoints, 5); /* after 10, 20, 30, 40 decisions and at shutdown */
    assert_int_equal(r.entries, 50);
    assert_int_equal(r.signed_upto, 49);
    assert_true(r.signatures_checked);
    /* The older chain-only check agrees. */
    uint64_t count = 0;
    xb_error err;
    assert_int_equal(xb_audit_verify_file(&count, x->log, &err), 0);
    assert_int_equal(count, 50);
}

static void test_one_byte_changed(void **state)
{
    fx *x = *state;
    write_log(x, 0, 30, 10, true);
    lines L = read_lines(x->log);
    size_t i = line_of(&L, 17);
    char *p = strstr(L.v[i], "\"offset\":");
    assert_non_null(p);
    p[9] = p[9] == '1' ? '2' : '1'; /* one digit of the recorded offset */
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_ALTERED);
    assert_int_equal(r.seq, 17);
    assert_non_null(strstr(r.where, "audit.log:17"));
}

static void test_changed_byte_in_utf8_name(void **state)
{
    fx *x = *state;
    write_log(x, 0, 12, 5, true);
    lines L = read_lines(x->log);
    size_t i = line_of(&L, 1);
    char *p = strstr(L.v[i], "王小明");
    assert_non_null(p);
    p[2] ^= 0x01; /* still valid UTF-8 continuation byte: 王 becomes another character */
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_ALTERED);
    assert_int_equal(r.seq, 1);
}

static void test_record_deleted(void **state)
{
    fx *x = *state;
    write_log(x, 0, 30, 10, true);
    lines L = read_lines(x->log);
    size_t i = line_of(&L, 23);
    free(L.v[i]);
    L.v[i] = NULL;
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_MISSING);
    assert_int_equal(r.seq, 23);
}

static void test_last_record_deleted(void **state)
{
    fx *x = *state;
    write_log(x, 0, 8, 100, false);
    lines L = read_lines(x->log);
    free(L.v[L.n - 1]);
    L.v[L.n - 1] = NULL; /* truncation is invisible to a chain: only a signature tells */
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, NULL);
    assert_int_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.entries, 7);
    r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_UNSIGNED_TAIL);
    assert_int_equal(r.seq, 1);
}

static void test_records_swapped(void **state)
{
    fx *x = *state;
    write_log(x, 0, 30, 10, true);
    lines L = read_lines(x->log);
    size_t i = line_of(&L, 14), j = line_of(&L, 15);
    char *t = L.v[i];
    L.v[i] = L.v[j];
    L.v[j] = t;
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_REORDERED);
    assert_int_equal(r.seq, 14);
}

static void test_record_inserted(void **state)
{
    fx *x = *state;
    write_log(x, 0, 20, 10, true);
    /* A forger who knows the format builds a valid-looking seq 6 chained to seq 5. */
    lines L = read_lines(x->log);
    size_t i5 = line_of(&L, 5);
    xb_audit_entry e5;
    assert_int_equal(xb_audit_entry_parse(&e5, L.v[i5], strlen(L.v[i5]) - 1, NULL), 0);
    const char *canon = "{\"forged\":\"伪造\"}";
    uint8_t md[32];
    unsigned mdlen;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, e5.hash, 32);
    EVP_DigestUpdate(c, canon, strlen(canon));
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    char prev[65], hash[65];
    xb_merkle_hex(prev, e5.hash, 32);
    xb_merkle_hex(hash, md, 32);
    xb_audit_entry_clear(&e5);
    char forged[512];
    snprintf(
        forged, sizeof forged,
        "{\"v\":1,\"seq\":6,\"type\":\"decision\",\"prev\":\"%s\",\"hash\":\"%s\",\"record\":%s}\n",
        prev, hash, canon);
    L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
    memmove(&L.v[i5 + 2], &L.v[i5 + 1], (L.n - i5 - 1) * sizeof *L.v);
    L.v[i5 + 1] = strdup(forged);
    L.n++;
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_INSERTED);
    assert_int_equal(r.seq, 6);
}

static void test_appended_without_signature(void **state)
{
    fx *x = *state;
    write_log(x, 0, 25, 10, true); /* 25 decisions + 3 checkpoints = 28 entries */
    /* Someone with write access appends a valid chain entry but cannot sign. */
    xb_audit_opts o = {.path = x->log};
    xb_audit *a;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    json_t *r = fixture_record(99);
    assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), 0);
    json_decref(r);
    xb_audit_close(a);
    xb_audit_verify_result v = verify1(x, x->pub);
    assert_int_equal(v.fault, XB_AUDIT_UNSIGNED_TAIL);
    assert_int_equal(v.seq, 29);
    /* A live log may have an unsigned tail; the operator's view says so, the regulator's fails. */
    xb_audit_verify_opts lo = {.pubkey_path = x->pub, .allow_unsigned_tail = true};
    const char *p[] = {x->log};
    assert_int_equal(xb_audit_verify_files(&v, p, 1, &lo, &err), 0);
    assert_int_equal(v.fault, XB_AUDIT_INTACT);
    assert_int_equal(v.signed_upto, 27);
}

static void test_wrong_key(void **state)
{
    fx *x = *state;
    write_log(x, 0, 12, 10, true);
    xb_audit_verify_result r = verify1(x, x->other_pub);
    assert_int_equal(r.fault, XB_AUDIT_BAD_SIGNATURE);
    assert_int_equal(r.seq, 11); /* the first checkpoint */
}

static void test_checkpoint_root_forged(void **state)
{
    fx *x = *state;
    write_log(x, 0, 12, 10, true);
    lines L = read_lines(x->log);
    size_t i = line_of(&L, 11);
    char *p = strstr(L.v[i], "\"root\":\"");
    assert_non_null(p);
    p[8] = p[8] == '0' ? '1' : '0';
    write_lines(x->log, &L);
    free_lines(&L);
    xb_audit_verify_result r = verify1(x, x->pub);
    /* The entry's own hash catches it first; the checkpoint check is behind it. */
    assert_int_equal(r.fault, XB_AUDIT_ALTERED);
    assert_int_equal(r.seq, 11);
}

static void test_restart_continues_chain_and_tree(void **state)
{
    fx *x = *state;
    write_log(x, 0, 15, 10, false); /* crash-like stop: no final checkpoint */
    write_log(x, 15, 15, 10, true); /* restart: frontier rebuilt from the file */
    xb_audit_verify_result r = verify1(x, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.decisions, 30);
    assert_true(r.checkpoints >= 3);
}

static void test_rotation(void **state)
{
    fx *x = *state;
    char rotated[160];
    snprintf(rotated, sizeof rotated, "%s/audit.log.1", x->dir);
    xb_audit_opts o = {.path = x->log};
    xb_audit *a;
    xb_audit_ckpt *ck;
    xb_error err;
    assert_int_equal(xb_audit_open(&a, &o, &err), 0);
    xb_audit_ckpt_opts co = {.audit_path = x->log, .key_path = x->priv, .every_n = 7};
    assert_int_equal(xb_audit_ckpt_new(&ck, a, &co, &err), 0);
    for (size_t i = 0; i < 10; i++) {
        json_t *r = fixture_record(i);
        assert_int_equal(xb_audit_append(NULL, NULL, a, r, &err), 0);
        json_decref(r);
        assert_int_equal(xb_audit_ckpt_tick(NULL, ck, &err), 0);
    }
    assert_int_equal(xb_audit_ckpt_rotate(NULL, ck, rotated, &err), 0);
    xb_audit_ckpt_free(ck);
    xb_audit_close(a);
    /* Restart on the new file alone: the rotate entry carries the tree. */
    write_log(x, 10, 9, 7, true);
    const char *both[] = {rotated, x->log};
    xb_audit_verify_result r = verify(both, 2, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.decisions, 19);
    assert_int_equal(r.rotations, 1);
    /* The current file without its predecessor is not a complete log. */
    const char *only[] = {x->log};
    r = verify(only, 1, x->pub);
    assert_int_equal(r.fault, XB_AUDIT_MISSING);
    assert_int_equal(r.seq, 1);
    /* Files given in the wrong order. */
    const char *swapped[] = {x->log, rotated};
    r = verify(swapped, 2, x->pub);
    assert_int_not_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.seq, 1);
}

static void test_topic_duplicates(void **state)
{
    fx *x = *state;
    write_log(x, 0, 5, 100, true);
    lines L = read_lines(x->log);
    xb_audit_verify_opts o = {.pubkey_path = x->pub, .skip_duplicates = true};
    xb_audit_verifier *v;
    xb_error err;
    assert_int_equal(xb_audit_verifier_new(&v, &o, &err), 0);
    for (size_t i = 0; i < L.n; i++) {
        size_t len = strlen(L.v[i]) - 1;
        assert_int_equal(xb_audit_verifier_feed(v, L.v[i], len, "topic"), 0);
        if (i == 2) /* the producer retried: the broker holds the line twice */
            assert_int_equal(xb_audit_verifier_feed(v, L.v[i], len, "topic"), 0);
    }
    xb_audit_verify_result r;
    xb_audit_verifier_finish(v, &r);
    xb_audit_verifier_free(v);
    free_lines(&L);
    assert_int_equal(r.fault, XB_AUDIT_INTACT);
    assert_int_equal(r.duplicates, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact_with_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_byte_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_byte_in_utf8_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_record_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_swapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_inserted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appended_without_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_root_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_continues_chain_and_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_duplicates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
