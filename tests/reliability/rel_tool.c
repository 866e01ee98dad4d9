/* rel_tool.c — the fault suite's counter (tests/reliability/run). One question per command:
 *
 *   rel_tool count --audit FILE [--audit FILE2 ...] --received DIR --bootstrap B --dlq TOPIC
 *                  --expect N [--group G --topic T] [--timeout S] [--no-dlq] [--settle S]
 *       Waits (bounded by --timeout) until the numbers stop moving in the right place, then prints
 *       one line
 *         RESULT records=N expect=N lost=L dup=D unexpected=U parked=P dlq=Q dlq_no_reason=R
 *                dlq_missing=M received=X lag=G committed=C chain=ok|FAIL audit_lines=A
 *       and exits 0 when lost=0 dup=0 unexpected=0 dlq_no_reason=0 dlq_missing=0 lag=0 and every
 *       audit chain verifies; 1 otherwise.
 *         lost      = records with no decision record (N - distinct ids)
 *                   + keys the audit says were sent but the receiver does not hold
 *         dup       = (record, destination) pairs sent under more than one idempotency key
 *                     (a duplicate the receiver's dedupe could not catch) + DLQ entries for a
 *                     (record, destination) that was also delivered
 *         unexpected= messages the receiver holds that no decision record sent
 *         dlq_missing = parked outcomes with no DLQ entry
 *       Several --audit files: a consumer group with several xborder instances (each has its own
 *       chain); every chain is verified on its own.
 *   rel_tool produce-raw --bootstrap B --topic T [--repeat N] FILE...
 *       Produces every FILE verbatim (no rewriting, records up to 10 MiB) N times (default 1),
 *       keyed by file name; prints how many.
 *   rel_tool hostile DIR
 *       Writes the hostile message set (XXE, entity expansion, deep nesting, huge attributes,
 *       invalid UTF-8, 10 MB free text, mixed namespaces, duplicated elements, ISO local names in a
 *       foreign namespace, ...) built from one valid pacs.008 (--base FILE), one file per case.
 *
 * It shares the checks of tests/integration/itest_tool.c's `check` but counts duplicates
 * per (record, destination) and takes several audit files.
 * Owns nothing outside the test run. Not shipped.
 */
#include <dirent.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter/state/audit.h"
#include "iso20022/buf.h"
#include "tests/integration/tool_common.h"

#define MAX_AUDIT 8

/* ---- what the audit logs say --------------------------------------------------------------- */

typedef struct view {
    xbt_strset ids;       /* record ids */
    xbt_strset sent;      /* idempotency keys sent */
    xbt_strset sent_pair; /* "id|dest|key": one per distinct key per (record, destination) */
    xbt_strset ok_pair;   /* "id|dest" delivered */
    xbt_strset parked;    /* "id|" or "id|dest" */
    size_t lines;
} view;

static void read_audit(view *v, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL, buf[1200];
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* being written */
        json_t *e = json_loadb(line, (size_t)n, 0, NULL);
        json_t *rec = json_object_get(e, "record");
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (!id) {
            json_decref(e);
            continue;
        }
        v->lines++;
        xbt_set_add(&v->ids, id);
        if (json_object_get(rec, "dlq")) {
            snprintf(buf, sizeof buf, "%s|", id);
            xbt_set_add(&v->parked, buf);
        }
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(rec, "outcomes"), i, o)
        {
            const char *dest = json_string_value(json_object_get(o, "destination"));
            const char *key = json_string_value(json_object_get(o, "idempotency_key"));
            if (json_object_get(o, "dlq")) {
                snprintf(buf, sizeof buf, "%s|%s", id, dest ? dest : "");
                xbt_set_add(&v->parked, buf);
            } else if (key) {
                xbt_set_add(&v->sent, key);
                snprintf(buf, sizeof buf, "%s|%s|%s", id, dest ? dest : "", key);
                xbt_set_add(&v->sent_pair, buf);
                snprintf(buf, sizeof buf, "%s|%s", id, dest ? dest : "");
                xbt_set_add(&v->ok_pair, buf);
            }
        }
        json_decref(e);
    }
    free(line);
    fclose(f);
}

/* (record, destination) pairs that appear with more than one key: sent_pair is sorted, so equal
 * "id|dest|" prefixes are neighbours. */
static size_t multi_key_pairs(const xbt_strset *sent_pair)
{
    size_t dups = 0;
    for (size_t i = 1; i < sent_pair->n; i++) {
        const char *a = sent_pair->v[i - 1], *b = sent_pair->v[i];
        const char *ka = strrchr(a, '|'), *kb = strrchr(b, '|');
        if (ka - a == kb - b && !memcmp(a, b, (size_t)(ka - a)))
            dups++;
    }
    return dups;
}

typedef struct counts {
    size_t records, lost, dup, unexpected, parked, dlq, dlq_no_reason, dlq_missing, received, lines;
    int64_t lag;
    int64_t committed; /* records the group committed past (all partitions) */
} counts;

static void count_once(counts *c, char **audits, int n_audit, const char *received,
                       const char *bootstrap, const char *dlq, const char *group, const char *topic,
                       size_t expect)
{
    view v;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < n_audit; i++)
        read_audit(&v, audits[i]);
    xbt_set_uniq(&v.ids);
    xbt_set_uniq(&v.sent);
    xbt_set_uniq(&v.sent_pair);
    xbt_set_uniq(&v.ok_pair);
    xbt_set_uniq(&v.parked);
    xbt_strset got = {0}, in_dlq = {0};
    xbt_read_received(&got, received);
    size_t total = 0;
    memset(c, 0, sizeof *c);
    time_t t0 = time(NULL);
    c->dlq_no_reason = xbt_read_dlq(&in_dlq, &total, bootstrap, dlq, "rel-dlq-reader", 30);
    if (getenv("XB_REL_DEBUG"))
        fprintf(stderr, "rel_tool: read_dlq %lds\n", (long)(time(NULL) - t0));
    c->dlq = total;
    c->records = v.ids.n;
    c->lines = v.lines;
    c->received = got.n;
    c->parked = v.parked.n;
    c->lost = expect > v.ids.n ? expect - v.ids.n : 0;
    for (size_t i = 0; i < v.sent.n; i++)
        c->lost += !xbt_set_has(&got, v.sent.v[i]);
    for (size_t i = 0; i < got.n; i++)
        c->unexpected += !xbt_set_has(&v.sent, got.v[i]);
    for (size_t i = 0; i < v.parked.n; i++)
        c->dlq_missing += !xbt_set_has(&in_dlq, v.parked.v[i]);
    c->dup = multi_key_pairs(&v.sent_pair);
    for (size_t i = 0; i < in_dlq.n; i++)
        c->dup += xbt_set_has(&v.ok_pair, in_dlq.v[i]); /* delivered and parked: counted twice */
    t0 = time(NULL);
    c->lag = group && topic ? xbt_committed_lag(bootstrap, group, topic, &c->committed) : 0;
    if (getenv("XB_REL_DEBUG"))
        fprintf(stderr, "rel_tool: committed_lag %lds\n", (long)(time(NULL) - t0));
    xbt_set_free(&v.ids);
    xbt_set_free(&v.sent);
    xbt_set_free(&v.sent_pair);
    xbt_set_free(&v.ok_pair);
    xbt_set_free(&v.parked);
    xbt_set_free(&got);
    xbt_set_free(&in_dlq);
}

static bool counts_ok(const counts *c, bool no_dlq)
{
    return c->lost == 0 && c->dup == 0 && c->unexpected == 0 && c->dlq_no_reason == 0 &&
           c->dlq_missing == 0 && c->lag == 0 && (!no_dlq || c->dlq == 0);
}

static int cmd_count(int argc, char **argv)
{
    char *audits[MAX_AUDIT];
    int n_audit = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--audit") && n_audit < MAX_AUDIT)
            audits[n_audit++] = argv[i + 1];
    const char *received = xbt_arg(argc, argv, "--received", NULL);
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *dlq = xbt_arg(argc, argv, "--dlq", NULL);
    const char *group = xbt_arg(argc, argv, "--group", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    size_t expect = (size_t)atol(xbt_arg(argc, argv, "--expect", "0"));
    int timeout = atoi(xbt_arg(argc, argv, "--timeout", "300"));
    bool no_dlq = xbt_flag(argc, argv, "--no-dlq");
    if (!n_audit || !received || !bootstrap || !dlq || !expect) {
        fprintf(stderr, "rel_tool count: --audit --received --bootstrap --dlq --expect needed\n");
        return 2;
    }
    time_t end = time(NULL) + timeout;
    counts c;
    for (;;) {
        count_once(&c, audits, n_audit, received, bootstrap, dlq, group, topic, expect);
        if (counts_ok(&c, no_dlq) || time(NULL) >= end)
            break;
        sleep(2);
    }
    bool chain_ok = true;
    for (int i = 0; i < n_audit; i++) {
        uint64_t entries = 0;
        xb_error err;
        if (xb_audit_verify_file(&entries, audits[i], &err) < 0) {
            fprintf(stderr, "rel_tool: audit chain %s: %s\n", audits[i], err.message);
            chain_ok = false;
        }
    }
    bool ok = counts_ok(&c, no_dlq) && chain_ok;
    printf("RESULT records=%zu expect=%zu lost=%zu dup=%zu unexpected=%zu parked=%zu dlq=%zu "
           "dlq_no_reason=%zu dlq_missing=%zu received=%zu lag=%lld committed=%lld chain=%s "
           "audit_lines=%zu status=%s\n",
           c.records, expect, c.lost, c.dup, c.unexpected, c.parked, c.dlq, c.dlq_no_reason,
           c.dlq_missing, c.received, (long long)c.lag, (long long)c.committed,
           chain_ok ? "ok" : "FAIL", c.lines, ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}

/* ---- hostile messages ---------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        if (f)
            fclose(f);
        fprintf(stderr, "rel_tool: cannot write %s\n", path);
        return -1;
    }
    return fclose(f);
}

/* base with the first occurrence of `at` replaced by `with` */
static int splice(xb_buf *out, const xb_buf *base, const char *at, const char *with)
{
    const char *p = memmem(base->data, base->len, at, strlen(at));
    if (!p)
        return -1;
    xb_buf_reset(out);
    xb_buf_append(out, base->data, (size_t)(p - base->data));
    xb_buf_puts(out, with);
    size_t after = (size_t)(p - base->data) + strlen(at);
    xb_buf_append(out, base->data + after, base->len - after);
    return 0;
}

/* The body of base from "<Document" on (the wrapper and AppHdr cut away). */
static const char *document_of(const xb_buf *base)
{
    const char *d = memmem(base->data, base->len, "<Document", 9);
    return d ? d : base->data;
}

static int cmd_hostile(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : NULL;
    const char *base_path = xbt_arg(argc, argv, "--base", NULL);
    xb_buf base = XB_BUF_INIT, o = XB_BUF_INIT, t = XB_BUF_INIT;
    if (!dir || !base_path || xb_buf_read_file(&base, base_path, 0) < 0) {
        fprintf(stderr, "rel_tool hostile DIR --base VALID-PACS008\n");
        return 2;
    }
    mkdir(dir, 0755);
    int rc = 0;
    const char *doc = document_of(&base);
    /* 1. XXE: an external entity reading a local file */
    xb_buf_reset(&o);
    xb_buf_puts(&o, "<?xml version=\"1.0\"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "
                    "\"file:///etc/passwd\">]>\n");
    xb_buf_puts(&o, doc);
    splice(&t, &o, "</Nm>", "&xxe;</Nm>");
    rc |= write_file(dir, "xxe-file.xml", t.data, t.len);
    /* 2. XXE over the network (must never be fetched: XML_PARSE_NONET) */
    xb_buf_reset(&o);
    xb_buf_puts(&o, "<?xml version=\"1.0\"?>\n<!DOCTYPE Document [<!ENTITY % p SYSTEM "
                    "\"http://127.0.0.1:9/x.dtd\"> %p;]>\n");
    xb_buf_puts(&o, doc);
    rc |= write_file(dir, "xxe-net-parameter.xml", o.data, o.len);
    /* 3. entity expansion (billion laughs, 10 levels) */
    xb_buf_reset(&o);
    xb_buf_puts(&o, "<?xml version=\"1.0\"?>\n<!DOCTYPE Document [<!ENTITY l0 \"lol\">");
    for (int i = 1; i < 10; i++)
        xb_buf_printf(&o, "<!ENTITY l%d \"&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;\">", i,
                      i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    xb_buf_puts(&o, "]>\n");
    xb_buf_puts(&o, doc);
    splice(&t, &o, "</Nm>", "&l9;</Nm>");
    rc |= write_file(dir, "entity-expansion.xml", t.data, t.len);
    /* 4. deep nesting: 100,000 levels inside the party's name */
    {
        xb_buf deep = XB_BUF_INIT;
        xb_buf_puts(&deep, "</Nm>");
        for (int i = 0; i < 100000; i++)
            xb_buf_puts(&deep, "<a>");
        for (int i = 0; i < 100000; i++)
            xb_buf_puts(&deep, "</a>");
        splice(&o, &base, "</Nm>", deep.data);
        xb_buf_free(&deep);
    }
    rc |= write_file(dir, "deep-nesting.xml", o.data, o.len);
    /* 5. huge attribute (8 MiB) on the Document element */
    {
        xb_buf attr = XB_BUF_INIT;
        xb_buf_puts(&attr, "<Document huge=\"");
        for (int i = 0; i < 8 * 1024 * 1024 / 64; i++)
            xb_buf_puts(&attr, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        xb_buf_puts(&attr, "\"");
        splice(&o, &base, "<Document", attr.data);
        xb_buf_free(&attr);
    }
    rc |= write_file(dir, "huge-attribute.xml", o.data, o.len);
    /* 6. many attributes on one element */
    {
        xb_buf attr = XB_BUF_INIT;
        xb_buf_puts(&attr, "<Document");
        for (int i = 0; i < 50000; i++)
            xb_buf_printf(&attr, " a%d=\"%d\"", i, i);
        splice(&o, &base, "<Document", attr.data);
        xb_buf_free(&attr);
    }
    rc |= write_file(dir, "many-attributes.xml", o.data, o.len);
    /* 7. invalid UTF-8 in a name */
    splice(&o, &base, "</Nm>", "\xc3\x28\xff\xfe\xed\xa0\x80</Nm>");
    rc |= write_file(dir, "invalid-utf8.xml", o.data, o.len);
    /* 8. 10 MB of free text in remittance information */
    {
        xb_buf big = XB_BUF_INIT;
        xb_buf_puts(&big, "</Nm>");
        /* 10,000,000 bytes of text: the record stays under the broker's 10 MiB limit */
        while (big.len < 10000000)
            xb_buf_puts(&big, "货款 payment for goods 货款 ");
        splice(&o, &base, "</Nm>", big.data);
        xb_buf_free(&big);
    }
    rc |= write_file(dir, "free-text-10mb.xml", o.data, o.len);
    /* 9. mixed namespaces: the Document body's children in two different pacs.008 versions */
    splice(
        &o, &base, "<GrpHdr>",
        "<x:GrpHdr xmlns:x=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.07\"><x:MsgId>M</x:MsgId>"
        "</x:GrpHdr><GrpHdr>");
    rc |= write_file(dir, "mixed-namespaces.xml", o.data, o.len);
    /* 10. duplicated elements: two group headers */
    {
        const char *gs = memmem(base.data, base.len, "<GrpHdr>", 8);
        const char *ge = memmem(base.data, base.len, "</GrpHdr>", 9);
        if (gs && ge) {
            xb_buf dupd = XB_BUF_INIT;
            xb_buf_append(&dupd, gs, (size_t)(ge - gs) + 9);
            xb_buf_append(&dupd, gs, (size_t)(ge - gs) + 9);
            xb_buf_reset(&t);
            xb_buf_append(&t, gs, (size_t)(ge - gs) + 9);
            char *one = xb_buf_steal(&t);
            splice(&o, &base, one, dupd.data);
            free(one);
            xb_buf_free(&dupd);
            rc |= write_file(dir, "duplicated-elements.xml", o.data, o.len);
        }
    }
    /* 11. prefix trick: ISO local names (Document/FIToFICstmrCdtTrf) in a foreign namespace */
    xb_buf_reset(&o);
    xb_buf_puts(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<iso:Document xmlns:iso=\"urn:evil:not-iso:pacs.008.001.08\">"
                    "<iso:FIToFICstmrCdtTrf><iso:GrpHdr><iso:MsgId>EVIL-1</iso:MsgId>"
                    "<iso:NbOfTxs>1</iso:NbOfTxs></iso:GrpHdr></iso:FIToFICstmrCdtTrf>"
                    "</iso:Document>\n");
    rc |= write_file(dir, "prefix-foreign-namespace.xml", o.data, o.len);
    /* 12. the ISO namespace bound to a prefix, then rebound inside to a foreign one */
    xb_buf_reset(&o);
    xb_buf_puts(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<p:Document xmlns:p=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"
                    "<p:FIToFICstmrCdtTrf xmlns:p=\"urn:evil:shadow\"><p:GrpHdr>"
                    "<p:MsgId>EVIL-2</p:MsgId></p:GrpHdr></p:FIToFICstmrCdtTrf></p:Document>\n");
    rc |= write_file(dir, "prefix-rebound.xml", o.data, o.len);
    /* 13. a NUL byte inside the document */
    splice(&o, &base, "</Nm>", "</Nm>");
    {
        const char *nm = memmem(o.data, o.len, "</Nm>", 5);
        if (nm)
            o.data[nm - o.data - 1] = '\0';
    }
    rc |= write_file(dir, "nul-byte.xml", o.data, o.len);
    /* 14. empty record and binary noise */
    rc |= write_file(dir, "empty.xml", "", 0);
    {
        unsigned char noise[4096];
        uint32_t s = 2463534242u;
        for (size_t i = 0; i < sizeof noise; i++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            noise[i] = (unsigned char)s;
        }
        rc |= write_file(dir, "binary-noise.xml", (const char *)noise, sizeof noise);
    }
    /* 15. UTF-16 declared but UTF-8 bytes; and a processing instruction flood */
    splice(&o, &base, "encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    rc |= write_file(dir, "wrong-encoding.xml", o.data, o.len);
    xb_buf_free(&base);
    xb_buf_free(&o);
    xb_buf_free(&t);
    return rc ? 1 : 0;
}

static long g_dr_failed;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err) {
        g_dr_failed++;
        fprintf(stderr, "rel_tool: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

static int cmd_produce_raw(int argc, char **argv)
{
    const char *bootstrap = xbt_arg(argc, argv, "--bootstrap", NULL);
    const char *topic = xbt_arg(argc, argv, "--topic", NULL);
    long repeat = atol(xbt_arg(argc, argv, "--repeat", "1"));
    if (!bootstrap || !topic || repeat < 1) {
        fprintf(stderr, "rel_tool produce-raw: --bootstrap and --topic needed\n");
        return 2;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "message.max.bytes", "10485760", NULL, 0);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p) {
        fprintf(stderr, "rel_tool: %s\n", errstr);
        return 1;
    }
    long n = 0;
    for (long r = 0; r < repeat; r++)
        for (int i = 2; i < argc; i++) {
            if (!strncmp(argv[i], "--", 2)) {
                i++;
                continue;
            }
            xb_buf b = XB_BUF_INIT;
            if (xb_buf_read_file(&b, argv[i], 0) < 0) {
                fprintf(stderr, "rel_tool: cannot read %s\n", argv[i]);
                return 1;
            }
            char *key = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
            rd_kafka_resp_err_t e;
            while ((e = rd_kafka_producev(
                        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(b.data, b.len),
                        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 50);
            xb_buf_free(&b);
            if (e) {
                fprintf(stderr, "rel_tool: produce %s: %s\n", argv[i], rd_kafka_err2str(e));
                return 1;
            }
            n++;
            rd_kafka_poll(p, 0);
        }
    int left = rd_kafka_flush(p, 60000) ? rd_kafka_outq_len(p) : 0;
    rd_kafka_destroy(p);
    if (left || g_dr_failed) {
        fprintf(stderr, "rel_tool: %d records not delivered to Kafka\n", left + (int)g_dr_failed);
        return 1;
    }
    printf("produced %ld records to %s\n", n, topic);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "produce-raw"))
        return cmd_produce_raw(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "count"))
        return cmd_count(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "hostile"))
        return cmd_hostile(argc, argv);
    fprintf(stderr, "usage: rel_tool count|hostile ... (see the file's header)\n");
    return 2;
}
