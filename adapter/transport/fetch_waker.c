/* fetch_waker.c — see fetch_waker.h for why a consumer needs its fetcher woken up. */
#include "adapter/transport/fetch_waker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Partitions waiting for a wake-up at most; more than a handful starving at once means the
 * pipeline, not the fetcher, is the bottleneck. */
#define XB_WAKER_PENDING 8
/* A wake-up's round trip on a healthy cluster takes a millisecond; this only bounds a broker
 * that does not answer (and how long xb_fetch_waker_free may wait). */
#define XB_WAKER_TIMEOUT_MS 1000

typedef struct wake_req {
    char topic[256]; /* Kafka topic names have at most 249 characters */
    int32_t partition;
} wake_req;

struct xb_fetch_waker {
    rd_kafka_t *rk;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wake_req pending[XB_WAKER_PENDING];
    int n_pending;
    bool stop;
};

/* Takes the oldest request, waiting for one; false when the waker is stopping. */
static bool next_request(xb_fetch_waker *w, wake_req *out)
{
    pthread_mutex_lock(&w->mu);
    while (!w->stop && w->n_pending == 0)
        pthread_cond_wait(&w->cv, &w->mu);
    bool go = !w->stop;
    if (go) {
        *out = w->pending[0];
        memmove(&w->pending[0], &w->pending[1], (size_t)(--w->n_pending) * sizeof *out);
    }
    pthread_mutex_unlock(&w->mu);
    return go;
}

static void *waker_main(void *arg)
{
    xb_fetch_waker *w = arg;
    wake_req req;
    while (next_request(w, &req)) {
        int64_t lo, hi;
        /* The answer does not matter: queueing the request is what wakes the broker thread,
         * which then re-decides every partition it leads. A failure (leader moving, broker
         * down) is librdkafka's to handle; the source asks again if the partition still starves. */
        rd_kafka_query_watermark_offsets(w->rk, req.topic, req.partition, &lo, &hi,
                                         XB_WAKER_TIMEOUT_MS);
    }
    return NULL;
}

int xb_fetch_waker_new(xb_fetch_waker **out, rd_kafka_t *rk, xb_error *err)
{
    *out = NULL;
    xb_fetch_waker *w = calloc(1, sizeof *w);
    if (!w)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    w->rk = rk;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, waker_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return xb_error_set(err, XB_EIO, NULL, "kafka consumer: cannot start the fetch waker");
    }
    *out = w;
    return 0;
}

void xb_fetch_waker_free(xb_fetch_waker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static bool is_pending(const xb_fetch_waker *w, const char *topic, int32_t partition)
{
    for (int i = 0; i < w->n_pending; i++)
        if (w->pending[i].partition == partition && !strcmp(w->pending[i].topic, topic))
            return true;
    return false;
}

void xb_fetch_waker_wake(xb_fetch_waker *w, const char *topic, int32_t partition)
{
    size_t len = strlen(topic);
    if (len >= sizeof w->pending[0].topic)
        return; /* not a Kafka topic name */
    pthread_mutex_lock(&w->mu);
    if (w->n_pending < XB_WAKER_PENDING && !is_pending(w, topic, partition)) {
        wake_req *r = &w->pending[w->n_pending++];
        memcpy(r->topic, topic, len + 1);
        r->partition = partition;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}
