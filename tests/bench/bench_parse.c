/* bench_parse.c — throughput of the iso20022 hot path against plain libxml2, in one run.
 *
 * Corpus: 1,000 pacs.008 messages (3-8 KB) generated in memory from the fixtures, each with its own
 * MsgId, UETR and debtor name (Chinese and Latin). Modes, each over the same bytes:
 *   parse_dom       xmlReadMemory + xmlFreeDoc (libxml2 defaults)
 *   parse_sax       xmlSAXUserParseMemory with no-op SAX2 handlers (the floor)
 *   parse_keys      xb_msg_parse + identify + xb_keys_extract
 *   parse_validate  parse_keys + XSD validation of AppHdr and Document + business rules
 * Prints BENCH lines (msgs/s) and RATIO lines. A benchmark, not a test: it never fails on speed.
 * Timing is per-thread CPU time (CLOCK_THREAD_CPUTIME_ID): the machine is shared, and wall-clock
 * rates there measure the other load as much as this code.
 */
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso20022/buf.h"
#include "iso20022/keys.h"
#include "iso20022/message.h"
#include "iso20022/rules.h"
#include "iso20022/schema.h"
#include "tests/bench/bench_sax.h"

#define N_MSGS 1000
#define ROUNDS 5

static xb_buf corpus[N_MSGS];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void load(xb_buf *b, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/messages/valid/%s", XB_FIXTURES, name);
    if (xb_buf_read_file(b, path, 0)) {
        fprintf(stderr, "bench_parse: cannot read %s\n", path);
        exit(1);
    }
}

/* Replaces the first occurrence of `from` (if any) in src by `to`, appending to dst. */
static void replace_all(xb_buf *dst, const char *src, const char *from, const char *to)
{
    size_t flen = strlen(from);
    for (const char *hit; (hit = strstr(src, from)) != NULL; src = hit + flen) {
        xb_buf_append(dst, src, (size_t)(hit - src));
        xb_buf_puts(dst, to);
    }
    xb_buf_puts(dst, src);
}

static void make_corpus(void)
{
    static const char *names[] = {"王建华",    "李秀英",          "Chen Jianguo", "欧阳晓明",
                                  "Zhang Wei", "Maria Fernandes", "司马光",       "Nguyen Thi Lan"};
    static const struct {
        const char *file, *msg_id, *uetr, *name;
    } bases[] = {
        {"pacs.008-cny-cips-individual.xml", "XB20240315SH000001",
         "3f2b8c1e-6d4a-4e9b-a7c2-91d05e3b7a44", "<Nm>张伟</Nm>"},
        {"pacs.008-cny-cips-corporate.xml", "XB20240318CORP",
         "a8f1c2d3-4b5e-4f60-8a71-b2c3d4e5f601", "<Nm>Lim Engineering Supplies Pte. Ltd.</Nm>"},
        {"pacs.008-usd-to-settle.xml", "XB20240319USD00007", "c0ffee00-1234-4abc-8def-0123456789ab",
         "<Nm>张伟</Nm>"},
    };
    xb_buf src[3] = {XB_BUF_INIT, XB_BUF_INIT, XB_BUF_INIT};
    for (int i = 0; i < 3; i++)
        load(&src[i], bases[i].file);
    uint32_t seed = 20240315;
    for (int i = 0; i < N_MSGS; i++) {
        int b = i % 3;
        char id[40], uetr[40], name[80];
        snprintf(id, sizeof id, "XBBENCH%08d", i);
        seed = seed * 1103515245u + 12345u;
        snprintf(uetr, sizeof uetr, "%08x-%04x-4%03x-a%03x-%012x", seed, i & 0xffff, i & 0xfff,
                 (seed >> 8) & 0xfff, (unsigned)i * 7919u);
        snprintf(name, sizeof name, "<Nm>%s</Nm>", names[i % 8]);
        xb_buf t1 = XB_BUF_INIT, t2 = XB_BUF_INIT;
        replace_all(&t1, src[b].data, bases[b].msg_id, id);
        replace_all(&t2, t1.data, bases[b].uetr, uetr);
        replace_all(&corpus[i], t2.data, bases[b].name, name);
        xb_buf_free(&t1);
        xb_buf_free(&t2);
    }
    for (int i = 0; i < 3; i++)
        xb_buf_free(&src[i]);
}

static int64_t run_dom(void)
{
    int64_t t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N_MSGS; i++)
            xmlFreeDoc(
                xmlReadMemory(corpus[i].data, (int)corpus[i].len, NULL, NULL, XML_PARSE_NONET));
    return now_ns() - t0;
}

/* The floor: libxml2 reads every byte and reports every event; nothing is built. */
static int64_t run_sax(void)
{
    int64_t t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++)
        if (xb_bench_sax_pass(corpus, N_MSGS) < 0) {
            fprintf(stderr, "bench_parse: SAX parse failed\n");
            exit(1);
        }
    return now_ns() - t0;
}

static int64_t run_xb(int validate, int *failures)
{
    *failures = 0;
    int64_t t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N_MSGS; i++) {
            xb_msg *msg = NULL;
            xb_error err;
            xb_msg_keys keys;
            int rc = xb_msg_parse(&msg, corpus[i].data, corpus[i].len, NULL, &err);
            if (!rc && xb_msg_definition(msg)->kind == XB_KIND_PACS008)
                rc = xb_keys_extract(&keys, msg, &err);
            if (!rc) {
                if (keys.n_tx == 0)
                    rc = -1;
                xb_keys_free(&keys);
            }
            if (!rc && validate) {
                rc = xb_schema_validate_msg(msg, &err);
                if (!rc)
                    rc = xb_rules_check(msg, &err);
            }
            if (rc && (*failures)++ == 0)
                fprintf(stderr, "bench_parse: message %d failed: %s %s\n", i, err.message,
                        err.path);
            xb_msg_free(msg);
        }
    return now_ns() - t0;
}

static int64_t rate(int64_t ns)
{
    return ns > 0 ? (int64_t)N_MSGS * ROUNDS * 1000000000 / ns : 0;
}

static void ratio(const char *name, int64_t num, int64_t den)
{
    int64_t x100 = den > 0 ? num * 100 / den : 0;
    printf("RATIO %s %lld.%02lld\n", name, (long long)(x100 / 100), (long long)(x100 % 100));
}

int main(void)
{
    xmlInitParser();
    make_corpus();
    size_t bytes = 0;
    for (int i = 0; i < N_MSGS; i++)
        bytes += corpus[i].len;
    printf("# %d pacs.008 messages, %zu bytes on average, %d rounds per mode\n", N_MSGS,
           bytes / N_MSGS, ROUNDS);

    int fail_keys = 0, fail_val = 0;
    run_xb(1, &fail_val); /* warm-up: compiles the schemas, fills the dictionaries */
    int64_t dom = rate(run_dom());
    int64_t sax = rate(run_sax());
    int64_t keys = rate(run_xb(0, &fail_keys));
    int64_t val = rate(run_xb(1, &fail_val));

    printf("BENCH parse_dom %lld msgs/s\n", (long long)dom);
    printf("BENCH parse_sax %lld msgs/s\n", (long long)sax);
    printf("BENCH parse_keys %lld msgs/s\n", (long long)keys);
    printf("BENCH parse_validate %lld msgs/s\n", (long long)val);
    ratio("parse_keys_vs_dom", keys, dom);
    ratio("parse_validate_vs_dom", val, dom);
    ratio("parse_keys_vs_sax", keys, sax);
    if (fail_keys || fail_val)
        printf("# failures: keys %d, validate %d (see stderr)\n", fail_keys, fail_val);

    for (int i = 0; i < N_MSGS; i++)
        xb_buf_free(&corpus[i]);
    xb_schema_cleanup();
    return fail_keys || fail_val ? 1 : 0;
}
