/* bench_sax.h — the floor the in-process benchmarks compare against: a plain libxml2 SAX parse.
 *
 * Owns the no-op SAX2 handler and one pass of it over a corpus. libxml2 reads every byte and
 * reports every event; nothing is built. The caller times the pass with its own clock (wall or
 * per-thread CPU), so both benchmarks measure the floor exactly as they measure themselves.
 * Header-only because it is shared by two benchmark programs and nothing else.
 */
#ifndef XB_BENCH_SAX_H
#define XB_BENCH_SAX_H

#include <libxml/parser.h>
#include <string.h>

#include "iso20022/buf.h"

static void xb_bench_noop_start(void *c, const xmlChar *l, const xmlChar *p, const xmlChar *u,
                                int nn, const xmlChar **ns, int na, int nd, const xmlChar **a)
{
    (void)c, (void)l, (void)p, (void)u, (void)nn, (void)ns, (void)na, (void)nd, (void)a;
}

static void xb_bench_noop_end(void *c, const xmlChar *l, const xmlChar *p, const xmlChar *u)
{
    (void)c, (void)l, (void)p, (void)u;
}

static void xb_bench_noop_chars(void *c, const xmlChar *ch, int len)
{
    (void)c, (void)ch, (void)len;
}

/* The no-op SAX2 handler: every event is reported, nothing is done with it. */
static inline void xb_bench_sax_handler(xmlSAXHandler *h)
{
    memset(h, 0, sizeof *h);
    h->initialized = XML_SAX2_MAGIC;
    h->startElementNs = xb_bench_noop_start;
    h->endElementNs = xb_bench_noop_end;
    h->characters = xb_bench_noop_chars;
}

/* Parses every message of corpus[0..n) with the no-op handler; -1 on the first that fails. */
static inline int xb_bench_sax_pass(const xb_buf *corpus, int n)
{
    xmlSAXHandler h;
    xb_bench_sax_handler(&h);
    for (int i = 0; i < n; i++)
        if (xmlSAXUserParseMemory(&h, NULL, corpus[i].data, (int)corpus[i].len) != 0)
            return -1;
    return 0;
}

#endif
