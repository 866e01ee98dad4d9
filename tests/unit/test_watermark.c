/* test_watermark.c — the per-partition commit watermark never commits past unfinished work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "adapter/transport/watermark.h"

static void test_in_order(void **state)
{
    xb_wm wm;
    xb_wm_init(&wm);
    assert_int_equal(xb_wm_commit_point(&wm), -1);
    for (int64_t o = 10; o < 15; o++)
        assert_int_equal(xb_wm_track(&wm, o), 0);
    assert_int_equal(xb_wm_outstanding(&wm), 5);
    assert_int_equal(xb_wm_finish(&wm, 10), 1);
    assert_int_equal(xb_wm_commit_point(&wm), 11);
    assert_int_equal(xb_wm_outstanding(&wm), 4);
    xb_wm_free(&wm);
}

static void test_out_of_order_holds_back(void **state)
{
    xb_wm wm;
    xb_wm_init(&wm);
    for (int64_t o = 0; o < 5; o++)
        xb_wm_track(&wm, o);
    /* 1..4 finish, 0 is still retrying: nothing may be committed */
    for (int64_t o = 1; o < 5; o++)
        assert_int_equal(xb_wm_finish(&wm, o), 0);
    assert_int_equal(xb_wm_commit_point(&wm), -1);
    assert_false(xb_wm_dirty(&wm));
    assert_int_equal(xb_wm_finish(&wm, 0), 1);
    assert_int_equal(xb_wm_commit_point(&wm), 5);
    assert_true(xb_wm_dirty(&wm));
    xb_wm_mark_committed(&wm, 5);
    assert_false(xb_wm_dirty(&wm));
    assert_int_equal(xb_wm_outstanding(&wm), 0);
    xb_wm_free(&wm);
}

static void test_gaps_and_stale(void **state)
{
    xb_wm wm;
    xb_wm_init(&wm);
    /* compacted topic: offsets with holes */
    assert_int_equal(xb_wm_track(&wm, 3), 0);
    assert_int_equal(xb_wm_track(&wm, 7), 0);
    assert_int_equal(xb_wm_track(&wm, 8), 0);
    assert_int_equal(xb_wm_track(&wm, 8), -1);  /* not increasing */
    assert_int_equal(xb_wm_finish(&wm, 5), -1); /* never handed out */
    assert_int_equal(xb_wm_finish(&wm, 7), 0);
    assert_int_equal(xb_wm_finish(&wm, 3), 1);
    assert_int_equal(xb_wm_commit_point(&wm), 8);
    assert_int_equal(xb_wm_finish(&wm, 3), -1); /* already behind the watermark */
    xb_wm_free(&wm);
}

/* Many offsets finishing in a scrambled order: the commit point is always exactly the end of the
 * finished prefix (checked against a plain array model). */
static void test_scrambled_model(void **state)
{
    enum { N = 5000 };
    xb_wm wm;
    xb_wm_init(&wm);
    static int order[N];
    static uint8_t fin[N];
    for (int i = 0; i < N; i++) {
        order[i] = i;
        fin[i] = 0;
        assert_int_equal(xb_wm_track(&wm, 100 + 2 * i), 0);
    }
    srand(42);
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int prefix = 0;
    for (int k = 0; k < N; k++) {
        fin[order[k]] = 1;
        xb_wm_finish(&wm, 100 + 2 * order[k]);
        while (prefix < N && fin[prefix])
            prefix++;
        int64_t want = prefix ? 100 + 2 * (prefix - 1) + 1 : -1;
        assert_int_equal(xb_wm_commit_point(&wm), want);
        assert_int_equal(xb_wm_outstanding(&wm), (size_t)(N - prefix));
    }
    xb_wm_free(&wm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order_holds_back),
        cmocka_unit_test(test_gaps_and_stale),
        cmocka_unit_test(test_scrambled_model),
    };
    return cmocka_run_group_tests_name("watermark", tests, NULL, NULL);
}
