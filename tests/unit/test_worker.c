/* test_worker.c — the decider thread's hand-over (adapter/worker.c, issue #8): every batch runs
 * once, items in order, on another thread, and what it wrote is there when xb_worker_wait
 * returns. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "adapter/worker.h"

typedef struct item {
    int in;
    long out;           /* written by the worker */
    int seq;            /* the order the worker ran it in */
    pthread_t ran_on;   /* the thread that ran it */
    volatile int *slow; /* when set, the worker naps first (the caller must then really wait) */
} item;

typedef struct ctx {
    int next_seq; /* only the worker touches it */
} ctx;

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void square(void *c, void *const *items, size_t n)
{
    ctx *x = c;
    for (size_t k = 0; k < n; k++) {
        item *i = items[k];
        if (i->slow && *i->slow)
            nap_us(2000);
        i->out = (long)i->in * i->in;
        i->seq = x->next_seq++;
        i->ran_on = pthread_self();
    }
}

static void run_batch(xb_worker *w, item *items, size_t n, int first_seq)
{
    void *ptrs[XB_WORKER_MAX];
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &items[i];
    assert_int_equal(xb_worker_start(w, ptrs, n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        xb_worker_wait(w, i);
        assert_int_equal(items[i].out, (long)items[i].in * items[i].in);
        assert_int_equal(items[i].seq, first_seq + (int)i);
        assert_false(pthread_equal(items[i].ran_on, pthread_self()));
    }
}

static void test_in_order_on_another_thread(void **state)
{
    ctx c = {0};
    xb_worker *w = NULL;
    assert_int_equal(xb_worker_new(&w, square, &c, NULL), 0);
    item a[XB_WORKER_MAX] = {0};
    for (int i = 0; i < XB_WORKER_MAX; i++)
        a[i].in = i + 3;
    run_batch(w, a, XB_WORKER_MAX, 0);
    /* the next batch reuses the thread and continues the order */
    item b[5] = {{.in = 7}, {.in = 8}, {.in = 9}, {.in = 10}, {.in = 11}};
    run_batch(w, b, 5, XB_WORKER_MAX);
    xb_worker_free(w);
}

static void test_wait_really_waits(void **state)
{
    ctx c = {0};
    volatile int slow = 1;
    xb_worker *w = NULL;
    assert_int_equal(xb_worker_new(&w, square, &c, NULL), 0);
    item a[8] = {0};
    for (int i = 0; i < 8; i++) {
        a[i].in = 100 + i;
        a[i].slow = &slow;
    }
    run_batch(w, a, 8, 0); /* each item naps 2 ms: a wait that returned early fails the check */
    xb_worker_free(w);
}

static void test_batch_rules(void **state)
{
    ctx c = {0};
    xb_worker *w = NULL;
    xb_error err;
    assert_int_equal(xb_worker_new(&w, square, &c, NULL), 0);
    item a[2] = {{.in = 1}, {.in = 2}};
    void *ptrs[XB_WORKER_MAX + 1] = {&a[0], &a[1]};
    assert_int_equal(xb_worker_start(w, ptrs, 0, &err), XB_EINVAL);
    assert_int_equal(xb_worker_start(w, ptrs, XB_WORKER_MAX + 1, &err), XB_EINVAL);
    assert_int_equal(xb_worker_start(w, ptrs, 2, &err), 0);
    /* a second batch while the first is not waited for is refused, not mixed in */
    assert_int_equal(xb_worker_start(w, ptrs, 1, &err), XB_EINVAL);
    xb_worker_wait(w, 0);
    assert_int_equal(xb_worker_start(w, ptrs, 1, &err), XB_EINVAL);
    xb_worker_wait(w, 1);
    assert_int_equal(a[1].out, 4);
    assert_int_equal(xb_worker_start(w, ptrs, 1, &err), 0);
    xb_worker_wait(w, 0);
    xb_worker_free(w);
}

/* Freed with a batch under way (the pipeline never does; a shutdown path might): no hang, and
 * the batch being run finishes whole (the function has it whole: the pipeline's deciders
 * commit it together), in order. */
static void test_free_with_batch_in_flight(void **state)
{
    ctx c = {0};
    volatile int slow = 1;
    xb_worker *w = NULL;
    assert_int_equal(xb_worker_new(&w, square, &c, NULL), 0);
    item a[XB_WORKER_MAX] = {0};
    void *ptrs[XB_WORKER_MAX];
    for (int i = 0; i < XB_WORKER_MAX; i++) {
        a[i].in = i;
        a[i].out = -1;
        a[i].slow = &slow;
        ptrs[i] = &a[i];
    }
    assert_int_equal(xb_worker_start(w, ptrs, XB_WORKER_MAX, NULL), 0);
    nap_us(3000);
    xb_worker_free(w);
    for (int i = 0; i < XB_WORKER_MAX; i++) {
        assert_int_equal(a[i].out, (long)i * i); /* 2 ms each: free waited ~128 ms for them */
        assert_int_equal(a[i].seq, i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_on_another_thread),
        cmocka_unit_test(test_wait_really_waits),
        cmocka_unit_test(test_batch_rules),
        cmocka_unit_test(test_free_with_batch_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
