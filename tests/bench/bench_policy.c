/* bench_policy.c — throughput of the classification engine against plain libxml2, in one run.
 *
 * Corpus: 500 copies of fixtures/messages/policy/pacs.008-remit-individual.xml (BAH + Document,
 * ~5 KB, Chinese and Latin names), each with its own MsgId and debtor name. Modes, same bytes:
 *   sax_parse        xmlSAXUserParseMemory with no-op SAX2 handlers: the floor (issue #8 item 1,
 *                    DESIGN.md §2 "Read each message once")
 *   dom_parse        xmlReadMemory + xmlFreeDoc (libxml2 defaults): the baseline of issue #3
 *   policy_pipeline  xb_msg_parse + xb_policy_decide for sg-group-ops (one walk to classify,
 *                    detectors, counters against an in-memory snapshot, pseudonymise/generalise/
 *                    drop, XSD re-validation of the result, serialisation) + free, with the
 *                    SHA-256 of the received bytes that the decision record carries
 *   parse_validate_write  xb_msg_parse + XSD validation + xb_write_message, no policy: the part
 *                    of the pipeline that is not the policy's (the floor under policy_pipeline)
 * Prints BENCH lines (msgs/s) and RATIO policy_vs_dom / policy_vs_sax. Timing is per-thread CPU
 * time (CLOCK_THREAD_CPUTIME_ID): the machine is shared, and CPU time is what other load disturbs
 * least. Usage: bench_policy [N_MSGS [ROUNDS [policy]]] (defaults 500 and 6; small values for
 * callgrind; a third argument "policy" runs only policy_pipeline, for perf record).
 * A benchmark, not a test.
 */
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/policy/policy.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/schema.h"
#include "iso20022/write.h"
#include "tests/bench/bench_sax.h"

#define MAX_MSGS 500

static int n_msgs = MAX_MSGS;
static xb_buf corpus[MAX_MSGS];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const xb_error *err)
{
    fprintf(stderr, "bench_policy: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static void make_corpus(void)
{
    static const char *names[] = {"王建华", "李秀英", "欧阳晓明", "司马光", "张伟 ZHANG Wei"};
    xb_buf base = XB_BUF_INIT;
    if (xb_buf_read_file(&base, XB_FIXTURES "/messages/policy/pacs.008-remit-individual.xml", 0))
        die("read fixture", NULL);
    for (int i = 0; i < n_msgs; i++) {
        char id[40];
        snprintf(id, sizeof id, "XB-BENCH-%06d", i);
        const char *src = base.data;
        const char *nm = strstr(src, "<Nm>张伟 ZHANG Wei</Nm>");
        xb_buf_append(&corpus[i], src, (size_t)(nm - src));
        xb_buf_printf(&corpus[i], "<Nm>%s</Nm>", names[i % 5]);
        src = nm + strlen("<Nm>张伟 ZHANG Wei</Nm>");
        /* Distinct MsgIds (BAH and GrpHdr both say XB-POL-20261215-0001). */
        for (const char *hit; (hit = strstr(src, "XB-POL-20261215-0001")) != NULL; src = hit + 20) {
            xb_buf_append(&corpus[i], src, (size_t)(hit - src));
            xb_buf_puts(&corpus[i], id);
        }
        xb_buf_puts(&corpus[i], src);
    }
    xb_buf_free(&base);
}

static int never_seen(void *ctx, int year, xb_pi cls, const uint8_t *digest, bool *seen,
                      xb_error *err)
{
    (void)ctx, (void)year, (void)cls, (void)digest, (void)err;
    *seen = false;
    return 0;
}

/* The floor: libxml2 reads every byte and reports every event, and nothing is built. */
static int64_t run_sax(void)
{
    int64_t t0 = now_ns();
    if (xb_bench_sax_pass(corpus, n_msgs) < 0)
        die("sax parse", NULL);
    return now_ns() - t0;
}

/* One pass over the corpus; returns the elapsed CPU nanoseconds. */
static int64_t run_dom(void)
{
    int64_t t0 = now_ns();
    for (int i = 0; i < n_msgs; i++) {
        {
            xmlDocPtr d = xmlReadMemory(corpus[i].data, (int)corpus[i].len, NULL, NULL, 0);
            if (!d)
                die("xmlReadMemory", NULL);
            xmlFreeDoc(d);
        }
    }
    return now_ns() - t0;
}

/* What the pipeline costs without the policy: parse, XSD validation, serialisation. */
static int64_t run_floor(void)
{
    xb_error err;
    xb_buf out = XB_BUF_INIT;
    int64_t t0 = now_ns();
    for (int i = 0; i < n_msgs; i++) {
        xb_msg *m = NULL;
        if (xb_msg_parse(&m, corpus[i].data, corpus[i].len, NULL, &err) ||
            xb_schema_validate_node(xb_msg_definition(m), xb_msg_document(m), &err) ||
            xb_write_message(&out, m, &err))
            die("floor", &err);
        xb_buf_reset(&out);
        xb_msg_free(m);
    }
    xb_buf_free(&out);
    return now_ns() - t0;
}

static int64_t run_policy(const xb_policy_catalog_set *set, const xb_policy_destination *dest,
                          size_t *out_bytes)
{
    static const uint8_t ckey[32] = "bench-counter-key..............";
    static const uint8_t pkey[32] = "bench-pseudonym-key............";
    xb_policy_keys keys = {ckey, 32, pkey, 32};
    int64_t t = 0;
    xb_policy_parse_time(&t, "2026-12-15T10:30:00+08:00", NULL);
    xb_policy_counters snap = {
        .year = xb_policy_year_cn(t), .pi = 100, .spi = 10, .seen = never_seen};
    xb_error err;
    size_t bytes = 0;
    static EVP_MD *sha256;
    if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        die("EVP_MD_fetch", NULL);
    int64_t t0 = now_ns();
    for (int i = 0; i < n_msgs; i++) {
        {
            xb_msg *m = NULL;
            xb_policy_decision d;
            if (xb_msg_parse(&m, corpus[i].data, corpus[i].len, NULL, &err))
                die("parse", &err);
            /* The pipeline hashes the bytes it received once, with the digest fetched once
             * (adapter/pipeline.c bytes_sha256); so does the benchmark. */
            uint8_t md[32];
            char hex[65];
            EVP_Digest(corpus[i].data, corpus[i].len, md, NULL, sha256, NULL);
            xb_hex(hex, md, 32);
            xb_policy_opts opts = {.msg_sha256 = hex};
            if (xb_policy_decide(&d, m, set, dest, t, &snap, &keys, &opts, &err))
                die("decide", &err);
            if (d.verdict != XB_VERDICT_DELIVER)
                die(d.reason, NULL);
            bytes += d.output.len;
            xb_policy_decision_free(&d);
            xb_msg_free(m);
        }
    }
    *out_bytes = bytes;
    return now_ns() - t0;
}

int main(int argc, char **argv)
{
    int rounds = 6;
    if (argc > 1 && atoi(argv[1]) > 0)
        n_msgs = atoi(argv[1]) < MAX_MSGS ? atoi(argv[1]) : MAX_MSGS;
    if (argc > 2 && atoi(argv[2]) > 0)
        rounds = atoi(argv[2]);
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    json_t *cfg = NULL;
    xb_policy_destinations *ds = NULL;
    if (xb_policy_catalog_set_new(&set, &err) ||
        xb_policy_catalog_set_load(set, XB_FIXTURES "/catalogs/cn-finance.yaml", NULL, &err))
        die("catalog", &err);
    if (xb_yaml_load_file(&cfg, XB_FIXTURES "/config/example.yaml", &err) ||
        xb_policy_destinations_from_tree(&ds, json_object_get(cfg, "destinations"), "destinations",
                                         &err))
        die("config", &err);
    const xb_policy_destination *dest = xb_policy_destination_find(ds, "sg-group-ops");
    make_corpus();
    size_t bytes = 0;
    if (argc > 3 && !strcmp(argv[3], "policy")) {
        int64_t t = 0;
        for (int r = 0; r < rounds; r++)
            t += run_policy(set, dest, &bytes);
        printf("BENCH policy_pipeline_cpu %.1f us/msg\n", (double)t / 1e3 / rounds / n_msgs);
        return 0;
    }
    run_sax(); /* warm-up: page in libxml2, the schemas and the corpus */
    run_dom();
    run_policy(set, dest, &bytes);
    /* Rounds alternate between the modes so that load from elsewhere on the machine falls on
     * all alike; the ratios are of the summed times. */
    int64_t t_sax = 0, t_dom = 0, t_pol = 0, t_floor = 0;
    for (int r = 0; r < rounds; r++) {
        t_sax += run_sax();
        t_dom += run_dom();
        t_floor += run_floor();
        t_pol += run_policy(set, dest, &bytes);
    }
    double msgs = (double)rounds * n_msgs * 1e9;
    double sax = msgs / (double)t_sax;
    double dom = msgs / (double)t_dom;
    double flo = msgs / (double)t_floor;
    double pol = msgs / (double)t_pol;
    printf("BENCH sax_parse %.0f msgs/s\n", sax);
    printf("BENCH dom_parse %.0f msgs/s\n", dom);
    printf("BENCH parse_validate_write %.0f msgs/s\n", flo);
    printf("BENCH policy_pipeline %.0f msgs/s\n", pol);
    printf("BENCH policy_pipeline_cpu %.1f us/msg\n", 1e6 / pol);
    printf("BENCH policy_output_bytes %zu bytes\n", bytes / (size_t)n_msgs);
    printf("RATIO policy_vs_dom %.3f\n", pol / dom);
    printf("RATIO policy_vs_sax %.3f\n", pol / sax);
    printf("RATIO dom_vs_sax %.3f\n", dom / sax);
    /* The share of the pipeline that is the policy's own work (1.0 would be free). */
    printf("RATIO policy_vs_parse_validate_write %.3f\n", pol / flo);
    for (int i = 0; i < n_msgs; i++)
        xb_buf_free(&corpus[i]);
    xb_policy_destinations_free(ds);
    json_decref(cfg);
    xb_policy_catalog_set_free(set);
    xb_schema_cleanup();
    return 0;
}
