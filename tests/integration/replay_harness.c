/* replay_harness.c — see replay_harness.h. */
#include "replay_harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter/config.h"
#include "adapter/policy/policy.h"
#include "iso20022/message.h"

static void die(const char *what)
{
    fprintf(stderr, "replay harness: %s\n", what);
    abort();
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die(path);
}

static void write_key(const char *dir, const char *name)
{
    char path[256];
    uint8_t k[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (RAND_bytes(k, sizeof k) != 1)
        die("RAND_bytes");
    FILE *f = fopen(path, "w");
    if (!f || fwrite(k, 1, sizeof k, f) != sizeof k || fclose(f) != 0)
        die(path);
}

static void config_text(xb_buf *b, const rh_world *w, const char *bootstrap, const char *catalog)
{
    xb_buf_reset(b);
    xb_buf_printf(b,
                  "kafka:\n  bootstrap.servers: %s\n  group.id: xb-replay-live\n"
                  "routes:\n"
                  "  - name: payments\n    topics: [%s]\n    messages: [pacs.008]\n"
                  "    destinations: [hk-correspondent, sg-group-ops]\n"
                  "  - name: reporting\n    topics: [%s]\n    messages: [\"*\"]\n"
                  "    destination: sg-group-ops\n"
                  "destinations:\n"
                  "  hk-correspondent:\n    url: https://127.0.0.1:9/iso20022\n    country: HK\n"
                  "    scenario: FIN-XB-REMIT-OUT\n"
                  "    bases:\n      - {type: EXEMPT_ART5_1_CONTRACT, ref: \"CBA-HK-2024-017\", "
                  "valid_from: 2024-03-22}\n"
                  "    pseudo: {key_id: k-hk, epoch: 2026a}\n"
                  "  sg-group-ops:\n    url: https://127.0.0.1:9/iso20022\n    country: SG\n"
                  "    scenario: FIN-GRP-OPS\n"
                  "    bases:\n      - {type: SCC_FILED, ref: \"SH-CAC-SCC-2025-0142\", "
                  "valid_from: 2025-05-06}\n"
                  "    pseudo: {key_id: k-sg, epoch: 2026a}\n"
                  "policy:\n  catalogs: [%s]\n  keys: %s\n"
                  "audit:\n  file: %s\n"
                  "dlq:\n  topic: %s.dlq\n",
                  bootstrap, w->topic, w->topic, catalog, w->keys, w->audit, w->topic);
}

static void make_ckpt_keys(const rh_world *w)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f = fopen(w->ckpt_key, "w");
    if (!k || !f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
        die("checkpoint key");
    fclose(f);
    f = fopen(w->ckpt_pub, "w");
    if (!f || PEM_write_PUBKEY(f, k) != 1)
        die("checkpoint pub");
    fclose(f);
    EVP_PKEY_free(k);
}

/* A stricter catalog for --catalog-now: the surname 王 becomes a secret word (blocks). */
static void make_modified_catalog(const rh_world *w)
{
    xb_buf b = XB_BUF_INIT;
    if (xb_buf_read_file(&b, w->catalog, 4u << 20) < 0)
        die(w->catalog);
    xb_buf_append(&b, "", 1);
    const char *tag = "secret_words: [";
    char *p = strstr(b.data, tag);
    if (!p)
        die("catalog has no secret_words");
    xb_buf out = XB_BUF_INIT;
    xb_buf_append(&out, b.data, (size_t)(p - b.data) + strlen(tag));
    xb_buf_puts(&out, "王, ");
    xb_buf_puts(&out, p + strlen(tag));
    write_text(w->catalog_mod, out.data);
    xb_buf_free(&b);
    xb_buf_free(&out);
}

void rh_world_make(rh_world *w, const char *bootstrap, const char *tag)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/xb-replay-XXXXXX");
    if (!mkdtemp(w->dir))
        die("mkdtemp");
    snprintf(w->config, sizeof w->config, "%s/config.yaml", w->dir);
    snprintf(w->config_now, sizeof w->config_now, "%s/config-now.yaml", w->dir);
    snprintf(w->keys, sizeof w->keys, "%s/keys", w->dir);
    snprintf(w->audit, sizeof w->audit, "%s/audit.log", w->dir);
    snprintf(w->store, sizeof w->store, "%s/catalogs", w->dir);
    snprintf(w->out, sizeof w->out, "%s/report", w->dir);
    snprintf(w->ckpt_key, sizeof w->ckpt_key, "%s/audit-ckpt.pem", w->dir);
    snprintf(w->ckpt_pub, sizeof w->ckpt_pub, "%s/audit-ckpt.pub.pem", w->dir);
    snprintf(w->catalog, sizeof w->catalog, "%s/catalogs/cn-finance.yaml", XB_FIXTURES);
    snprintf(w->catalog_mod, sizeof w->catalog_mod, "%s/cn-finance-stricter.yaml", w->dir);
    snprintf(w->topic, sizeof w->topic, "xb.replay.%s.%ld.%ld", tag, (long)getpid(),
             (long)time(NULL));
    if (mkdir(w->keys, 0700) < 0)
        die("keys dir");
    write_key(w->keys, "counter.key");
    write_key(w->keys, "k-hk.2026a.key");
    write_key(w->keys, "k-sg.2026a.key");
    make_ckpt_keys(w);
    make_modified_catalog(w);
    xb_buf b = XB_BUF_INIT;
    config_text(&b, w, bootstrap, w->catalog);
    write_text(w->config, b.data);
    config_text(&b, w, bootstrap, w->catalog_mod);
    write_text(w->config_now, b.data);
    xb_buf_free(&b);
}

void rh_world_remove(const rh_world *w)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "replay harness: could not remove %s\n", w->dir);
}

/* ---- messages ------------------------------------------------------------------------------ */

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"};
static const char *const given[] = {"伟", "芳",   "娜",   "敏",   "静",   "丽",   "强",   "磊",
                                    "军", "洋",   "勇",   "艳",   "杰",   "娟",   "涛",   "明",
                                    "超", "秀英", "霞",   "平",   "刚",   "桂英", "建华", "文",
                                    "华", "红",   "建国", "晓东", "志强", "海燕"};

static xb_buf templates[4];

static void load_templates(void)
{
    static const char *const files[] = {"pacs.008-cny-cips-individual.xml",
                                        "pacs.008-cny-cips-corporate.xml",
                                        "pacs.009-cny-cips-fi.xml", "camt.053-cny-statement.xml"};
    for (size_t i = 0; i < 4; i++) {
        if (templates[i].len)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s/messages/valid/%s", XB_FIXTURES, files[i]);
        if (xb_buf_read_file(&templates[i], path, 1u << 20) < 0)
            die(path);
        xb_buf_append(&templates[i], "", 1);
        templates[i].len--;
    }
}

/* Replaces every occurrence of from with to. */
static void replace_all(xb_buf *b, const char *from, const char *to)
{
    xb_buf out = XB_BUF_INIT;
    const char *p = b->data, *end = b->data + b->len, *hit;
    while ((hit = memmem(p, (size_t)(end - p), from, strlen(from)))) {
        xb_buf_append(&out, p, (size_t)(hit - p));
        xb_buf_puts(&out, to);
        p = hit + strlen(from);
    }
    xb_buf_append(&out, p, (size_t)(end - p));
    xb_buf_free(b);
    *b = out;
}

void rh_message(xb_buf *out, size_t i)
{
    load_templates();
    xb_buf_reset(out);
    if (i % 500 == 499) { /* hostile: truncated XML must be recorded as INVALID_XML */
        xb_buf_printf(out,
                      "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:"
                      "xsd:pacs.008.001.08\"><FIToFICstmrCdtTrf><GrpHdr><MsgId>BAD%zu",
                      i);
        return;
    }
    size_t kind = i % 10 < 6 ? 0 : i % 10 < 8 ? 1 : i % 10 == 8 ? 2 : 3;
    xb_buf_append(out, templates[kind].data, templates[kind].len);
    char id[40], dbtr[32], cdtr[32];
    snprintf(id, sizeof id, "XBRPL%012zu", i);
    snprintf(dbtr, sizeof dbtr, "%s%s", surnames[i % 20], given[(i / 20) % 30]);
    snprintf(cdtr, sizeof cdtr, "%s%s", surnames[(i / 7) % 20], given[(i / 3) % 30]);
    static const char *const ids[] = {"XB20240315SH000001", "XB20240318CORP", "XB20240320FI0042",
                                      "XB-STMT-20240318-0001"};
    replace_all(out, ids[kind], id);
    if (kind == 0) {
        replace_all(out, "<Nm>张伟</Nm>", dbtr[0] ? "<Nm>@D@</Nm>" : "");
        replace_all(out, "<Nm>李娜</Nm>", "<Nm>@C@</Nm>");
        replace_all(out, "@D@", dbtr);
        replace_all(out, "@C@", cdtr);
    }
}

/* ---- the live recorder --------------------------------------------------------------------- */

typedef struct subj {
    uint8_t k[XB_POLICY_DIGEST_LEN + 5];
} subj;

struct rh_recorder {
    xb_config *cfg;
    xb_policy_catalog_set *cats;
    xb_policy_destinations *dests;
    xb_buf counter_key, key_hk, key_sg;
    xb_audit *audit;
    xb_audit_ckpt *ck;
    subj *seen;
    size_t n_seen, cap_seen;
    int64_t pi, spi;
    int year;
    uint64_t decisions;
};

static int key_of(uint8_t k[XB_POLICY_DIGEST_LEN + 5], int year, xb_pi cls, const uint8_t *d)
{
    memcpy(k, &year, 4);
    k[4] = (uint8_t)cls;
    memcpy(k + 5, d, XB_POLICY_DIGEST_LEN);
    return 0;
}

static int seen_cb(void *ctx, int year, xb_pi cls, const uint8_t *d, bool *seen, xb_error *err)
{
    rh_recorder *r = ctx;
    uint8_t k[XB_POLICY_DIGEST_LEN + 5];
    key_of(k, year, cls, d);
    *seen = false;
    for (size_t i = 0; i < r->n_seen && !*seen; i++)
        *seen = !memcmp(r->seen[i].k, k, sizeof k);
    return 0;
}

static void read_key(xb_buf *b, const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (xb_buf_read_file(b, path, 4096) < 0)
        die(path);
}

rh_recorder *rh_recorder_new(const rh_world *w, unsigned ckpt_every)
{
    rh_recorder *r = calloc(1, sizeof *r);
    xb_error err;
    if (xb_config_load(&r->cfg, w->config, &err) < 0 || xb_policy_catalog_set_new(&r->cats, &err) ||
        xb_policy_catalog_set_load(r->cats, w->catalog, NULL, &err) ||
        xb_policy_destinations_from_tree(&r->dests, json_object_get(r->cfg->tree, "destinations"),
                                         "destinations", &err)) {
        fprintf(stderr, "%s\n", err.message);
        die("recorder config");
    }
    read_key(&r->counter_key, w->keys, "counter.key");
    read_key(&r->key_hk, w->keys, "k-hk.2026a.key");
    read_key(&r->key_sg, w->keys, "k-sg.2026a.key");
    xb_audit_opts ao = {.path = w->audit, .fsync = XB_AUDIT_FSYNC_EVERY_N, .every_n = 1000};
    xb_audit_ckpt_opts co = {
        .audit_path = w->audit, .key_path = w->ckpt_key, .every_n = ckpt_every};
    if (xb_audit_open(&r->audit, &ao, &err) < 0 || xb_audit_ckpt_new(&r->ck, r->audit, &co, &err))
        die(err.message);
    return r;
}

static json_t *decide_one(rh_recorder *r, const char *payload, size_t len, const char *dest,
                          int64_t tt)
{
    json_t *o = json_pack("{ss}", "destination", dest);
    xb_msg *msg = NULL;
    xb_error err;
    if (xb_msg_parse(&msg, payload, len, NULL, &err) < 0)
        die("reparse");
    int year = xb_policy_year_cn(tt);
    if (year != r->year) {
        r->year = year;
        r->pi = r->spi = 0;
    }
    xb_policy_counters ctr = {.year = year, .pi = r->pi, .spi = r->spi, .seen = seen_cb, .ctx = r};
    bool hk = !strcmp(dest, "hk-correspondent");
    xb_buf *pk = hk ? &r->key_hk : &r->key_sg;
    xb_policy_keys keys = {.counter_key = (const uint8_t *)r->counter_key.data,
                           .counter_key_len = r->counter_key.len,
                           .pseudo_key = (const uint8_t *)pk->data,
                           .pseudo_key_len = pk->len};
    xb_policy_opts popts = {0};
    xb_policy_decision d;
    memset(&d, 0, sizeof d);
    if (xb_policy_decide(&d, msg, r->cats, xb_policy_destination_find(r->dests, dest), tt, &ctr,
                         &keys, &popts, &err) < 0) {
        json_object_set_new(o, "error", json_string(err.message));
        json_object_set_new(o, "dlq", json_string("POLICY_ERROR"));
    } else {
        r->decisions++;
        json_object_set_new(o, "decision", xb_policy_decision_to_json(&d));
        json_object_set_new(o, "verdict", json_string(xb_policy_verdict_name(d.verdict)));
        if (d.verdict == XB_VERDICT_QUARANTINE)
            json_object_set_new(o, "dlq", json_string("QUARANTINE"));
        else if (d.verdict == XB_VERDICT_BLOCK)
            json_object_set_new(o, "dlq", json_string("BLOCK"));
        else if (d.counted) /* applied before the message may leave, as the pipeline does */
            for (size_t i = 0; i < d.n_subjects; i++) {
                if (r->n_seen == r->cap_seen) {
                    r->cap_seen = r->cap_seen ? r->cap_seen * 2 : 1024;
                    r->seen = realloc(r->seen, r->cap_seen * sizeof *r->seen);
                }
                key_of(r->seen[r->n_seen++].k, d.year, d.subjects[i].cls, d.subjects[i].digest);
                (*(d.subjects[i].cls == XB_PI_PI ? &r->pi : &r->spi))++;
            }
    }
    xb_policy_decision_free(&d);
    xb_msg_free(msg);
    return o;
}

void rh_recorder_add(rh_recorder *r, const char *topic, int32_t partition, int64_t offset,
                     const char *payload, size_t len, int64_t tt)
{
    char id[200];
    snprintf(id, sizeof id, "%s:%d:%lld", topic, (int)partition, (long long)offset);
    json_t *record = json_pack("{ss,s{ss,si,sI}}", "id", id, "source", "topic", topic, "partition",
                               (int)partition, "offset", (json_int_t)offset);
    xb_msg *msg = NULL;
    xb_error err;
    if (xb_msg_parse(&msg, payload, len, NULL, &err) < 0) {
        json_object_set_new(record, "dlq",
                            json_pack("{ss,ss}", "reason", "INVALID_XML", "text", err.message));
    } else {
        const char *def = xb_msg_definition(msg)->id;
        json_object_set_new(record, "definition", json_string(def));
        json_t *outs = json_array();
        if (!strncmp(def, "pacs.008", 8))
            json_array_append_new(outs, decide_one(r, payload, len, "hk-correspondent", tt));
        json_array_append_new(outs, decide_one(r, payload, len, "sg-group-ops", tt));
        json_object_set_new(record, "outcomes", outs);
    }
    xb_msg_free(msg);
    if (xb_audit_append(NULL, NULL, r->audit, record, &err) < 0 ||
        xb_audit_ckpt_tick(NULL, r->ck, &err) < 0)
        die(err.message);
    json_decref(record);
}

uint64_t rh_recorder_close(rh_recorder *r)
{
    xb_error err;
    if (xb_audit_ckpt_write(NULL, r->ck, &err) < 0)
        die(err.message);
    uint64_t n = r->decisions;
    xb_audit_ckpt_free(r->ck);
    xb_audit_close(r->audit);
    xb_policy_catalog_set_free(r->cats);
    xb_policy_destinations_free(r->dests);
    xb_config_free(r->cfg);
    xb_buf_free(&r->counter_key);
    xb_buf_free(&r->key_hk);
    xb_buf_free(&r->key_sg);
    free(r->seen);
    free(r);
    return n;
}
