/* settle_sent.h — what the settlement hook remembers about each settled message until its
 * delivery outcome arrives, so that the outcome does not parse the sent bytes again.
 *
 * Owns: a fixed-size, direct-mapped table keyed by SHA-256 of the bytes handed to the pipeline
 * (and their length), each entry holding the message's ids (MsgId, CreDtTm, definition) and its
 * transactions' ids (UETR, EndToEndId, TxId, InstrId) as read from the settled tree.
 * Never: answers for bytes it was not given (a lookup compares the whole digest and the length),
 * or grows without bound: a colliding entry replaces the older one, whose outcome then falls back
 * to parsing the bytes (slower, same result).
 */
#ifndef XB_SETTLE_SENT_H
#define XB_SETTLE_SENT_H

#include <stddef.h>

#include "iso20022/message.h"

typedef struct xb_settle_sent_tx {
    char uetr[37], e2e[XB_MAX35_SIZE], tx_id[XB_MAX35_SIZE], instr[XB_MAX35_SIZE];
} xb_settle_sent_tx;

/* One settled message's ids (n_tx transactions in tx, owned). */
typedef struct xb_settle_sent {
    char msg_id[XB_MAX35_SIZE];
    char cre_dt_tm[40];
    char def_id[40];
    size_t n_tx;
    xb_settle_sent_tx *tx;
} xb_settle_sent;

typedef struct xb_settle_sent_cache xb_settle_sent_cache;

/* slots: table size (rounded up to a power of two; 0 = 4096). NULL when out of memory. */
xb_settle_sent_cache *xb_settle_sent_cache_new(size_t slots);
void xb_settle_sent_cache_free(xb_settle_sent_cache *c);

/* Reads m's ids into *out (free with xb_settle_sent_clear). -1 when out of memory. */
int xb_settle_sent_read(xb_settle_sent *out, const xb_msg *m);
void xb_settle_sent_clear(xb_settle_sent *s);

/* Remembers *s (moved: *s is left empty) for the bytes data/len. */
void xb_settle_sent_put(xb_settle_sent_cache *c, const void *data, size_t len, xb_settle_sent *s);

/* Takes the entry for data/len into *out (moved out of the cache): 1 found, 0 not there. */
int xb_settle_sent_take(xb_settle_sent_cache *c, const void *data, size_t len, xb_settle_sent *out);

#endif
