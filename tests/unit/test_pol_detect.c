/* test_pol_detect.c — free-text detectors: check digits, whole tokens, hostile text.
 *
 * Owns: assertions on adapter/policy/detect.c.
 * Never: goes through a message or a catalog (test_pol_decide.c does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "adapter/policy/detect.h"

/* Scans text and returns the kinds found, comma-separated, e.g. "CN_MOB,PAN". */
static const char *kinds(const char *text, size_t len, unsigned mask)
{
    static char out[256];
    xb_detect_hits h = {0};
    assert_int_equal(xb_detect_scan(&h, text, len, mask, NULL), 0);
    out[0] = '\0';
    for (size_t i = 0; i < h.n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, xb_detect_name(h.v[i].kind));
    }
    xb_detect_hits_free(&h);
    return out;
}

static const char *k(const char *text)
{
    return kinds(text, strlen(text), XB_DET_ALL);
}

static void test_gb11643(void **s)
{
    (void)s;
    assert_true(xb_detect_gb11643_ok("310115199003071239"));
    assert_true(xb_detect_gb11643_ok("11010519491231002X"));
    assert_true(xb_detect_gb11643_ok("11010519491231002x"));
    assert_false(xb_detect_gb11643_ok("310115199003071238")); /* wrong check digit */
    assert_false(xb_detect_gb11643_ok("110105194912310021"));
    assert_false(xb_detect_gb11643_ok("310115199002301234")); /* 30 February */
    assert_string_equal(k("身份证310115199003071239,"), "CN_RIC");
    assert_string_equal(k("ID 11010519491231002X."), "CN_RIC");
    /* A failing check digit is not an ID (nor, here, a Luhn card). */
    assert_false(xb_detect_luhn_ok("310115199003071238", 18));
    assert_string_equal(k("身份证310115199003071238,"), "");
    assert_string_equal(k("310115 19900307 1239"), "CN_RIC");
}

static void test_mobile(void **s)
{
    (void)s;
    assert_string_equal(k("13812345678"), "CN_MOB");
    assert_string_equal(k("电话13812345678。"), "CN_MOB");
    assert_string_equal(k("+86 138 1234 5678"), "CN_MOB");
    assert_string_equal(k("+8613812345678"), "CN_MOB");
    assert_string_equal(k("0086-13812345678"), "CN_MOB");
    assert_string_equal(k("138-1234-5678"), "CN_MOB");
    /* Full-width digits are digits. */
    assert_string_equal(k("手机１３８１２３４５６７８"), "CN_MOB");
    /* Inside a longer run of digits, or glued to a word, it is not a phone number. */
    assert_string_equal(k("913812345678"), "");
    assert_string_equal(k("1381234567890"), "");
    assert_string_equal(k("Tel13812345678"), "");
    assert_string_equal(k("12812345678"), ""); /* 12x is not a mobile prefix */
    assert_string_equal(k("13812345678 13912345678"), "CN_MOB,CN_MOB");
}

static void test_cards_and_luhn(void **s)
{
    (void)s;
    assert_true(xb_detect_luhn_ok("4111111111111111", 16));
    assert_false(xb_detect_luhn_ok("4111111111111112", 16));
    assert_string_equal(k("card 4111 1111 1111 1111 ok"), "PAN");
    assert_string_equal(k("card 4111-1111-1111-1111"), "PAN");
    assert_string_equal(k("卡号6222021001123456789"), "PAN");
    assert_string_equal(k("card 4111111111111112"), "");
    assert_string_equal(k("a41111111111111111"), "");
}

static void test_iban(void **s)
{
    (void)s;
    assert_true(xb_detect_iban_ok("GB82WEST12345698765432", 22));
    assert_true(xb_detect_iban_ok("DE89370400440532013000", 22));
    assert_false(xb_detect_iban_ok("GB83WEST12345698765432", 22));
    assert_string_equal(k("pay GB82WEST12345698765432 now"), "IBAN");
    assert_string_equal(k("pay GB82 WEST 1234 5698 7654 32 now"), "IBAN");
    assert_string_equal(k("pay GB83WEST12345698765432 now"), "");
    assert_string_equal(k("XGB82WEST12345698765432"), "");
}

static void test_secrets(void **s)
{
    (void)s;
    assert_string_equal(kinds("PIN 1234", 8, XB_DET_SECRET), "SECRET");
    assert_string_equal(k("my pin is 1234"), "SECRET");
    assert_string_equal(k("CVV2: 123"), "SECRET");
    assert_string_equal(k("Password=hunter2"), "SECRET");
    assert_string_equal(k("支付密码是820517"), "SECRET");
    assert_string_equal(k("spinach pins Pinto"), "");
    /* The secret-only scan every field gets: text full of the words' first letters but no word
     * finds nothing; a word anywhere (after a number, at the end, in Chinese) is found. */
    assert_string_equal(kinds("CNY CIPS CLRG ICBKCNBJSHI cpc", 29, XB_DET_SECRET), "");
    assert_string_equal(kinds("SPIN CVVX PINS", 14, XB_DET_SECRET), "");
    assert_string_equal(kinds("ref 123-PIN", 11, XB_DET_SECRET), "SECRET");
    assert_string_equal(kinds("6222021001123456789 cvc2", 24, XB_DET_SECRET), "SECRET");
    assert_string_equal(kinds("卡号 交易密码", strlen("卡号 交易密码"), XB_DET_SECRET), "SECRET");
    const char *words[] = {"OTP", NULL};
    xb_detect_hits h = {0};
    assert_int_equal(xb_detect_scan(&h, "your otp 4411", 13, XB_DET_SECRET, words), 0);
    assert_int_equal(h.n, 1);
    xb_detect_hits_free(&h);
}

/* Words are looked for only where their first two bytes are (both cases of ASCII letters):
 * every case mix of a word's start is still found, a one-letter or one-character word has no
 * second byte to check, a word in Chinese text is found among characters that share its lead
 * bytes, and a word cut off by the end of the text is not one. */
static void test_secret_word_starts(void **s)
{
    (void)s;
    static const char *const mixed[] = {"PIN 1", "pIN 1", "Pin 1", "pin 1", "x cVv2 9"};
    for (size_t i = 0; i < sizeof mixed / sizeof *mixed; i++)
        assert_string_equal(kinds(mixed[i], strlen(mixed[i]), XB_DET_SECRET), "SECRET");
    const char *chinese = "上海浦东新区世纪大道口令验证码";
    assert_string_equal(kinds(chinese, strlen(chinese), XB_DET_SECRET), "SECRET,SECRET");
    const char *near = "上海浦东新区世纪大道口岸密集"; /* 口, 密 start words, no word */
    assert_string_equal(kinds(near, strlen(near), XB_DET_SECRET), "");
    assert_string_equal(kinds("code PI", 7, XB_DET_SECRET), "");
    const char *one[] = {"K", "钥", NULL};
    xb_detect_hits h = {0};
    assert_int_equal(xb_detect_scan(&h, "key k", 5, XB_DET_SECRET, one), 0);
    assert_int_equal(h.n, 1); /* "k" alone; the k of "key" is inside a word */
    xb_detect_hits_free(&h);
    const char *t = "私钥";
    assert_int_equal(xb_detect_scan(&h, t, strlen(t), XB_DET_SECRET, one), 0);
    assert_int_equal(h.n, 1);
    xb_detect_hits_free(&h);
    xb_detect_words *w = xb_detect_words_new(one);
    assert_non_null(w);
    assert_int_equal(xb_detect_scan_prepared(&h, "K", 1, XB_DET_SECRET, w), 0);
    assert_int_equal(h.n, 1);
    xb_detect_hits_free(&h);
    xb_detect_words_free(w);
}

static void test_redact(void **s)
{
    (void)s;
    const char *t = "联系 13812345678 或 GB82WEST12345698765432。";
    xb_detect_hits h = {0};
    xb_buf out = XB_BUF_INIT;
    assert_int_equal(xb_detect_scan(&h, t, strlen(t), XB_DET_ALL, NULL), 0);
    assert_int_equal(xb_detect_redact(&out, t, strlen(t), &h), 0);
    assert_string_equal(out.data, "联系 [CN_MOB] 或 [IBAN]。");
    xb_buf_free(&out);
    xb_detect_hits_free(&h);
}

static void test_hostile_text(void **s)
{
    (void)s;
    /* Very long: one digit run of 1 MiB is no number at all, and the scan stays linear. */
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    memset(big, '7', n);
    big[n] = '\0';
    clock_t t0 = clock();
    assert_string_equal(kinds(big, n, XB_DET_ALL), "");
    /* Many phones separated by spaces: every one found, none merged. */
    for (size_t i = 0; i + 12 <= n; i += 12)
        memcpy(big + i, "13812345678 ", 12);
    big[n - n % 12] = '\0';
    xb_detect_hits h = {0};
    assert_int_equal(xb_detect_scan(&h, big, strlen(big), XB_DET_ALL, NULL), 0);
    assert_int_equal(h.n, n / 12);
    xb_detect_hits_free(&h);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
    free(big);
    /* Invalid UTF-8 is a boundary, never a crash; truncated sequences at the end too. */
    const char bad[] = "\xff\xfe"
                       "13812345678"
                       "\xc3\x28 \xe5\xaf";
    assert_string_equal(kinds(bad, sizeof bad - 1, XB_DET_ALL), "CN_MOB");
    const char trunc[] = "PIN \xef\xbc";
    assert_string_equal(kinds(trunc, sizeof trunc - 1, XB_DET_ALL), "SECRET");
    /* Mixed scripts. */
    assert_string_equal(k("Zahlung für 张伟 телефон 13812345678 رقم 4111111111111111 ✓"),
                        "CN_MOB,PAN");
    /* NUL bytes inside the given length do not end the scan early. */
    const char nul[] = "a\0 13812345678";
    assert_string_equal(kinds(nul, sizeof nul - 1, XB_DET_ALL), "CN_MOB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gb11643),        cmocka_unit_test(test_mobile),
        cmocka_unit_test(test_cards_and_luhn), cmocka_unit_test(test_iban),
        cmocka_unit_test(test_secrets),        cmocka_unit_test(test_secret_word_starts),
        cmocka_unit_test(test_redact),         cmocka_unit_test(test_hostile_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
