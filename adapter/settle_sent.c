/* settle_sent.c — the settled-message id table of settle_sent.h.
 *
 * Owns: the table, its lock and the digest of the bytes. The issue #8 profile (xborder run,
 * hk-correspondent) had the delivery outcome's xb_msg_parse of the sent bytes at ~10% of the
 * process: the ids it needs are already in the tree the hook settled.
 * Never: keeps a pointer into a caller's buffer (ids are copied), or holds its lock while
 * calling out.
 */
#include "adapter/settle_sent.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso20022/message.h"

typedef struct slot {
    uint8_t digest[32];
    size_t len;
    int used;
    xb_settle_sent s;
} slot;

struct xb_settle_sent_cache {
    pthread_mutex_t lock; /* outcomes and settlements may come from different threads */
    size_t mask;
    slot *slots;
    EVP_MD *sha256; /* fetched once (an implicit fetch per EVP_sha256() init costs more) */
};

xb_settle_sent_cache *xb_settle_sent_cache_new(size_t slots)
{
    size_t n = 1;
    while (n < (slots ? slots : 4096))
        n <<= 1;
    xb_settle_sent_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(n, sizeof *c->slots);
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!c->slots || !c->sha256) {
        xb_settle_sent_cache_free(c);
        return NULL;
    }
    c->mask = n - 1;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void xb_settle_sent_cache_free(xb_settle_sent_cache *c)
{
    if (!c)
        return;
    if (c->slots) {
        for (size_t i = 0; i <= c->mask; i++)
            xb_settle_sent_clear(&c->slots[i].s);
        pthread_mutex_destroy(&c->lock);
    }
    free(c->slots);
    EVP_MD_free(c->sha256);
    free(c);
}

void xb_settle_sent_clear(xb_settle_sent *s)
{
    free(s->tx);
    memset(s, 0, sizeof *s);
}

static void text_of(char *dst, size_t cap, xmlNodePtr n)
{
    const char *v = n ? xb_xml_text(n) : NULL;
    snprintf(dst, cap, "%s", v ? v : "");
}

static int is_tx(const xmlNode *c)
{
    return c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "CdtTrfTxInf");
}

int xb_settle_sent_read(xb_settle_sent *out, const xb_msg *m)
{
    memset(out, 0, sizeof *out);
    xmlNodePtr body = xb_msg_body(m);
    size_t n = 0;
    for (xmlNodePtr c = body->children; c; c = c->next)
        n += is_tx(c);
    out->tx = calloc(n ? n : 1, sizeof *out->tx);
    if (!out->tx)
        return -1;
    for (xmlNodePtr c = body->children; c; c = c->next) {
        if (!is_tx(c))
            continue;
        xb_settle_sent_tx *t = &out->tx[out->n_tx++];
        xmlNodePtr pmt = xb_xml_child(c, "PmtId");
        text_of(t->uetr, sizeof t->uetr, xb_xml_child(pmt, "UETR"));
        text_of(t->e2e, sizeof t->e2e, xb_xml_child(pmt, "EndToEndId"));
        text_of(t->tx_id, sizeof t->tx_id, xb_xml_child(pmt, "TxId"));
        text_of(t->instr, sizeof t->instr, xb_xml_child(pmt, "InstrId"));
    }
    text_of(out->msg_id, sizeof out->msg_id, xb_xml_find(body, "GrpHdr/MsgId"));
    text_of(out->cre_dt_tm, sizeof out->cre_dt_tm, xb_xml_find(body, "GrpHdr/CreDtTm"));
    snprintf(out->def_id, sizeof out->def_id, "%s", xb_msg_definition(m)->id);
    return 0;
}

static int digest_of(uint8_t out[32], const xb_settle_sent_cache *c, const void *data, size_t len)
{
    unsigned n = 0;
    return EVP_Digest(data, len, out, &n, c->sha256, NULL) == 1 && n == 32 ? 0 : -1;
}

static slot *slot_of(xb_settle_sent_cache *c, const uint8_t d[32])
{
    uint64_t k;
    memcpy(&k, d, sizeof k);
    return &c->slots[k & c->mask];
}

void xb_settle_sent_put(xb_settle_sent_cache *c, const void *data, size_t len, xb_settle_sent *s)
{
    uint8_t d[32];
    if (!c || digest_of(d, c, data, len) < 0) {
        xb_settle_sent_clear(s);
        return;
    }
    xb_settle_sent old = {0};
    pthread_mutex_lock(&c->lock);
    slot *sl = slot_of(c, d);
    old = sl->s; /* replaced: its outcome, if any, parses the bytes instead */
    memcpy(sl->digest, d, 32);
    sl->len = len;
    sl->used = 1;
    sl->s = *s;
    pthread_mutex_unlock(&c->lock);
    memset(s, 0, sizeof *s);
    xb_settle_sent_clear(&old);
}

int xb_settle_sent_take(xb_settle_sent_cache *c, const void *data, size_t len, xb_settle_sent *out)
{
    uint8_t d[32];
    memset(out, 0, sizeof *out);
    if (!c || digest_of(d, c, data, len) < 0)
        return 0;
    int found = 0;
    pthread_mutex_lock(&c->lock);
    slot *sl = slot_of(c, d);
    if (sl->used && sl->len == len && !memcmp(sl->digest, d, 32)) {
        *out = sl->s;
        memset(sl, 0, sizeof *sl);
        found = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}
