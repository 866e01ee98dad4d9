/* worker.h — a second thread that runs one function over a batch of items while the caller
 * waits for it and takes the results (issue #8: the pipeline decides on the second core, a
 * batch at a time so that the state store commits the batch's decisions together). */
#ifndef XB_WORKER_H
#define XB_WORKER_H

#include <stddef.h>

#include "iso20022/error.h"

/* The most items one batch may hold. */
#define XB_WORKER_MAX 64

typedef struct xb_worker xb_worker;

/* Runs on the worker's thread, once per batch, with the items in the order given. */
typedef void (*xb_worker_fn)(void *ctx, void *const *items, size_t n);

int xb_worker_new(xb_worker **out, xb_worker_fn fn, void *ctx, xb_error *err);

/* Hands the thread n (1..XB_WORKER_MAX) items. Until xb_worker_wait of an item returns, the
 * item belongs to the thread: the caller must not touch it. The previous batch must have been
 * waited for whole. */
int xb_worker_start(xb_worker *w, void *const *items, size_t n, xb_error *err);

/* Waits until item i of the batch is done: the whole batch, since the function takes it whole
 * (its writes are then visible to the caller). */
void xb_worker_wait(xb_worker *w, size_t i);

/* Waits for what is under way, stops and joins the thread. NULL is fine. */
void xb_worker_free(xb_worker *w);

#endif
