/* worker.c — a second thread that runs one function over a batch of items while the caller
 * waits for it and takes the results.
 *
 * Owns: the thread and the hand-over of one batch (at most XB_WORKER_MAX items) at a time: the
 * caller starts a batch and waits for item 0, 1, ... in turn; the thread runs the function on
 * the whole batch and marks every item done. The mutex gives the ordering: what the function
 * wrote to an item is visible to the caller once xb_worker_wait for it returns.
 * Never: looks inside an item, reorders items, or runs two batches at once.
 */
#include "adapter/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct xb_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread waits here for a batch (or stop) */
    pthread_cond_t done; /* the caller waits here for an item */
    xb_worker_fn fn;
    void *ctx;
    void *items[XB_WORKER_MAX];
    size_t n;      /* items in the batch (0: none) */
    size_t ran;    /* items 0..ran-1 are done (0 or n: a batch is done whole) */
    size_t waited; /* items the caller has waited for */
    bool taken;    /* the thread has begun the batch */
    bool stop;
};

static void *worker_main(void *arg)
{
    xb_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (w->taken || !w->n))
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        w->taken = true;
        size_t n = w->n;
        pthread_mutex_unlock(&w->mu);
        w->fn(w->ctx, w->items, n);
        pthread_mutex_lock(&w->mu);
        w->ran = n;
        pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int xb_worker_new(xb_worker **out, xb_worker_fn fn, void *ctx, xb_error *err)
{
    *out = NULL;
    xb_worker *w = calloc(1, sizeof *w);
    if (!w)
        return xb_error_set(err, XB_ENOMEM, NULL, "worker: out of memory");
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e) {
        pthread_cond_destroy(&w->done);
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return xb_error_set(err, XB_ENOMEM, NULL, "worker: cannot start a thread (%s)",
                            strerror(e));
    }
    *out = w;
    return 0;
}

int xb_worker_start(xb_worker *w, void *const *items, size_t n, xb_error *err)
{
    if (n == 0 || n > XB_WORKER_MAX)
        return xb_error_set(err, XB_EINVAL, NULL, "worker: a batch holds 1 to %d items",
                            XB_WORKER_MAX);
    pthread_mutex_lock(&w->mu);
    if (w->n) {
        pthread_mutex_unlock(&w->mu);
        return xb_error_set(err, XB_EINVAL, NULL, "worker: the previous batch is not finished");
    }
    memcpy(w->items, items, n * sizeof *items);
    w->ran = w->waited = 0;
    w->taken = false;
    w->n = n;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void xb_worker_wait(xb_worker *w, size_t i)
{
    pthread_mutex_lock(&w->mu);
    while (i < w->n && w->ran <= i)
        pthread_cond_wait(&w->done, &w->mu);
    if (i < w->n && ++w->waited == w->n)
        w->n = w->ran = w->waited = 0; /* the batch is over */
    pthread_mutex_unlock(&w->mu);
}

void xb_worker_free(xb_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true; /* the batch under way finishes (join waits for it); no other starts */
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
