/* fetch_waker.h — wakes librdkafka's fetcher for a partition that starves behind a drained
 * prefetch queue.
 *
 * Why it exists: librdkafka (2.0.2 in Debian bookworm) stops fetching a partition while its
 * prefetch queue holds more than queued.max.messages.kbytes, and looks at that queue again only
 * when the leader's broker thread next wakes up: on socket I/O, on an op, or after its fixed 1 s
 * block. Once xborder has drained the queue nothing wakes that thread, so a backlogged partition
 * moved at most one queue-full per second (16 MB: ~2,500 pacs.008/s, tests/bench/RESULTS.md). Any
 * request queued for the leader wakes it; ListOffsets (rd_kafka_query_watermark_offsets) is the
 * cheapest one that changes nothing. It blocks for a round trip, so it runs on this thread.
 *
 * Owns: one thread and a short list of partitions waiting for a wake-up (deduplicated; when full,
 * a request is dropped: the source asks again at its next empty poll).
 * Never: touches the fetch position, the prefetched records or offsets; never blocks the caller.
 */
#ifndef XB_FETCH_WAKER_H
#define XB_FETCH_WAKER_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "iso20022/error.h"

typedef struct xb_fetch_waker xb_fetch_waker;

/* Starts the thread. rk must outlive the waker (free it before rd_kafka_destroy). */
int xb_fetch_waker_new(xb_fetch_waker **out, rd_kafka_t *rk, xb_error *err);
/* Stops and joins the thread (waits for a wake-up in progress, at most its 1 s timeout). */
void xb_fetch_waker_free(xb_fetch_waker *w);

/* Asks for the leader of topic/partition to be woken up. Returns at once. */
void xb_fetch_waker_wake(xb_fetch_waker *w, const char *topic, int32_t partition);

#endif
