/* demo.c — `xborder demo [--state DIR]`: the whole pipeline on one machine, in well under a minute.
 *
 * Owns: the demo's state folder (default ./xborder-demo): a throwaway PKI made with the openssl CLI
 * (pki/), keys (keys/: counter key, pseudonymisation keys; pki/sign.key for signatures), the
 * generated config (xborder.yaml), the audit log and state store (state/), the receiver's files
 * (received/) and the JSON log (xborder.log). It starts librdkafka's embedded mock cluster and the
 * reference receiver in-process, produces the project's fixture messages (valid ones, plus an
 * unsupported, a truncated and a hostile one) and, for the valuation route (issue #6), a fund's
 * rates, prices and custodian statement; runs the real pipeline until every record is delivered
 * or parked, and prints a summary (with the reda.001 NAVs the fund administrator received).
 * Never: writes outside the state folder, listens beyond loopback, or prints key material.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapter/cli/cli.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/pipeline.h"
#include "adapter/settle_hook.h"
#include "adapter/transport/kafka_env.h"
#include "adapter/transport/receiver.h"
#include "adapter/yaml_tree.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"

#define DEMO_MAX_FILES 64
#define DEMO_TIMEOUT_S 50
#define DEMO_HOLDINGS "fund.holdings" /* issue #6: the valuation route's topics */
#define DEMO_RATES "fund.rates"
#define DEMO_PRICES "fund.prices"
#define DEMO_FUND_DEST "lu-fund-admin"

extern char **environ;

/* A small CA, a server certificate for 127.0.0.1/localhost, a client certificate and an Ed25519
 * signing key. EC P-256 keys keep it under a second. */
static const char pki_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "umask 077\n"
    "o=openssl\n"
    "$o req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
    "-out ca.crt -days 7 -subj '/O=xborder demo/CN=xborder demo CA' "
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
    "2>/dev/null\n"
    "for n in server client; do\n"
    "  if [ $n = server ]; then ext='subjectAltName=IP:127.0.0.1,DNS:localhost'; "
    "eku=serverAuth; else ext='subjectAltName=DNS:xborder-demo-client'; eku=clientAuth; fi\n"
    "  $o req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr "
    "-subj \"/O=xborder demo/CN=$n\" -addext \"$ext\" -addext extendedKeyUsage=$eku "
    "-addext basicConstraints=CA:FALSE 2>/dev/null\n"
    "  $o x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 7 "
    "-copy_extensions copyall 2>/dev/null\n"
    "  rm -f $n.csr\n"
    "done\n"
    "$o genpkey -algorithm ed25519 -out sign.key 2>/dev/null\n"
    "$o pkey -in sign.key -pubout -out sign.pub 2>/dev/null\n";

typedef struct demo {
    char dir[1024];
    char fixtures[1024];
    char path[1200];
    unsigned total;
    xb_receiver *rx[8]; /* one reference receiver per destination */
    size_t n_rx;
} demo;

static const char *join(char *buf, size_t cap, const char *a, const char *b)
{
    if (snprintf(buf, cap, "%s/%s", a, b) >= (int)cap)
        buf[0] = '\0'; /* too long: an empty path fails loudly where it is used */
    return buf;
}

static int mkdir_p(const char *path)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

static int make_pki(const char *dir)
{
    char *args[] = {"sh", "-c", (char *)(uintptr_t)pki_script, "pki", (char *)(uintptr_t)dir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "sh", NULL, NULL, args, environ) != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

static int write_random_key(const char *path)
{
    unsigned char key[32];
    if (RAND_bytes(key, sizeof key) != 1)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, key, sizeof key) == (ssize_t)sizeof key;
    close(fd);
    return ok ? 0 : -1;
}

/* Paths in the example are relative to its folder (fixtures/config). */
static char *abs_from_example(const demo *d, const char *p)
{
    char buf[2048];
    if (p[0] == '/')
        return strdup(p);
    snprintf(buf, sizeof buf, "%s/config/%s", d->fixtures, p);
    return strdup(buf);
}

/* A receiver on a free loopback port, storing under received/<destination>/. */
static int start_receiver(demo *d, const char *dest, unsigned *port, xb_error *err)
{
    char cert[1200], key[1200], ca[1200], store[1200], pub[1200], sub[300];
    if (d->n_rx == sizeof d->rx / sizeof d->rx[0])
        return xb_error_set(err, XB_ELIMIT, "destinations", "demo: at most 8 destinations");
    snprintf(sub, sizeof sub, "received/%.200s", dest);
    xb_receiver_options o;
    xb_receiver_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.cert_file = join(cert, sizeof cert, d->dir, "pki/server.crt");
    o.key_file = join(key, sizeof key, d->dir, "pki/server.key");
    o.ca_file = join(ca, sizeof ca, d->dir, "pki/ca.crt");
    o.store_dir = join(store, sizeof store, d->dir, sub);
    o.verify_key_file = join(pub, sizeof pub, d->dir, "pki/sign.pub");
    o.quiet = 1;
    int rc = xb_receiver_start(&d->rx[d->n_rx], &o, err);
    if (rc < 0)
        return rc;
    *port = xb_receiver_port(d->rx[d->n_rx++]);
    return 0;
}

/* The demo config: the project's example (policy, destinations, routes) with Kafka embedded,
 * every destination pointed at the local receiver, and all state under the demo folder. Written as
 * JSON, which is YAML too. */
static int write_config(demo *d, xb_error *err)
{
    char p[1200], q[1200];
    json_t *tree = NULL;
    int rc = xb_yaml_load_file(&tree, join(p, sizeof p, d->fixtures, "config/example.yaml"), err);
    if (rc < 0)
        return rc;
    json_object_set_new(tree, "kafka",
                        json_pack("{ss,ss,ss}", "bootstrap.servers", "embedded", "group.id",
                                  "xborder-demo", "session.timeout.ms", "6000"));
    json_t *dests = json_object_get(tree, "destinations");
    const char *name;
    json_t *dest;
    char url[128];
    json_object_foreach(dests, name, dest)
    {
        unsigned port = 0;
        if ((rc = start_receiver(d, name, &port, err)) < 0) {
            json_decref(tree);
            return rc;
        }
        snprintf(url, sizeof url, "https://127.0.0.1:%u/iso20022", port);
        json_object_set_new(dest, "url", json_string(url));
        json_object_set_new(dest, "tls",
                            json_pack("{ss,ss,ss}", "ca", join(p, sizeof p, d->dir, "pki/ca.crt"),
                                      "cert", join(q, sizeof q, d->dir, "pki/client.crt"), "key",
                                      join(d->path, sizeof d->path, d->dir, "pki/client.key")));
        json_object_set_new(dest, "sign",
                            json_pack("{ss,ss}", "key", join(p, sizeof p, d->dir, "pki/sign.key"),
                                      "key_id", "xborder-demo"));
        json_t *pseudo = json_object_get(dest, "pseudo");
        const char *kid = json_string_value(json_object_get(pseudo, "key_id"));
        const char *epoch = json_string_value(json_object_get(pseudo, "epoch"));
        if (kid && epoch) {
            char file[256];
            snprintf(file, sizeof file, "keys/%s.%s.key", kid, epoch);
            if (write_random_key(join(p, sizeof p, d->dir, file)) < 0)
                return xb_error_set(err, XB_EIO, NULL, "demo: cannot write %s", p);
        }
    }
    json_t *policy = json_object_get(tree, "policy");
    json_t *cats = json_object_get(policy, "catalogs");
    size_t i;
    json_t *c;
    json_array_foreach(cats, i, c)
    {
        char *abs = abs_from_example(d, json_string_value(c));
        json_array_set_new(cats, i, json_string(abs));
        free(abs);
    }
    json_t *pub = json_object_get(policy, "catalog_pubkey");
    if (json_is_string(pub)) {
        char *abs = abs_from_example(d, json_string_value(pub));
        json_object_set_new(policy, "catalog_pubkey", json_string(abs));
        free(abs);
    }
    /* issue #5: a route's settle.rates.file is relative to the example too. */
    json_t *route;
    json_array_foreach(json_object_get(tree, "routes"), i, route)
    {
        json_t *rates = json_object_get(json_object_get(route, "settle"), "rates");
        const char *rf = json_string_value(json_object_get(rates, "file"));
        if (rf) {
            char *abs = abs_from_example(d, rf);
            json_object_set_new(rates, "file", json_string(abs));
            free(abs);
        }
    }
    /* issue #6: the valuation route values the fund from its custodian's statement. */
    char *fund = abs_from_example(d, "../funds/lg-gbf-01.yaml");
    json_object_set_new(tree, "valuation",
                        json_pack("[{ss,ss,ss,ss,s[s],si}]", "fund", fund, "holdings_topic",
                                  DEMO_HOLDINGS, "rates_topic", DEMO_RATES, "prices_topic",
                                  DEMO_PRICES, "destinations", DEMO_FUND_DEST, "max_wait_ms",
                                  10000));
    free(fund);
    json_object_set_new(policy, "keys", json_string(join(p, sizeof p, d->dir, "keys")));
    json_object_set_new(policy, "counter_key",
                        json_string(join(p, sizeof p, d->dir, "keys/counter.key")));
    json_object_set_new(tree, "audit",
                        json_pack("{ss,ss,ss}", "file",
                                  join(p, sizeof p, d->dir, "state/audit.log"), "topic",
                                  "xborder.audit", "fsync", "always"));
    json_object_set_new(tree, "dlq", json_pack("{ss}", "topic", "xborder.dlq"));
    snprintf(q, sizeof q, "sqlite:%s/state/xborder.db", d->dir);
    json_object_set_new(tree, "state", json_pack("{ss}", "store", q));
    json_object_del(tree, "metrics");
    json_object_set_new(tree, "log", json_pack("{ss}", "level", "info"));
    json_object_set_new(tree, "pipeline", json_pack("{ss}", "commit_interval_ms", "200"));
    join(d->path, sizeof d->path, d->dir, "xborder.yaml");
    rc = json_dump_file(tree, d->path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(tree);
    if (rc < 0)
        return xb_error_set(err, XB_EIO, NULL, "demo: cannot write %s", d->path);
    return 0;
}

/* The fixtures the demo sends: every valid message, plus three that must be parked. */
static size_t list_fixtures(const demo *d, char files[][1200], size_t cap)
{
    size_t n = 0;
    char dir[1200];
    DIR *dp = opendir(join(dir, sizeof dir, d->fixtures, "messages/valid"));
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL && n < cap - 3)
        if (strstr(e->d_name, ".xml"))
            join(files[n++], 1200, dir, e->d_name);
    if (dp)
        closedir(dp);
    static const char *const extra[] = {"messages/invalid/pacs.008.001.07-unsupported.xml",
                                        "messages/hostile/truncated.xml",
                                        "messages/hostile/billion-laughs.xml"};
    for (size_t i = 0; i < 3; i++) {
        char path[1200];
        join(path, sizeof path, d->fixtures, extra[i]);
        if (access(path, R_OK) == 0)
            snprintf(files[n++], 1200, "%s", path);
    }
    return n;
}

/* The topic of the first route that takes the message's definition (first route's topic when
 * the message does not even parse: it must still be seen and parked). */
static const char *topic_for(const xb_config *cfg, const xb_buf *body)
{
    xb_msg *msg = NULL;
    const char *topic = cfg->routes[0].topics[0];
    if (xb_msg_parse(&msg, body->data, body->len, NULL, NULL) == 0) {
        const char *def = xb_msg_definition(msg)->id;
        for (size_t i = 0; i < cfg->n_routes; i++)
            if (xb_config_route_matches(&cfg->routes[i], cfg->routes[i].topics[0], def)) {
                topic = cfg->routes[i].topics[0];
                break;
            }
        xb_msg_free(msg);
    }
    return topic;
}

static int produce_fixtures(demo *d, const xb_config *cfg, xb_kafka_env *env, xb_error *err)
{
    static char files[DEMO_MAX_FILES][1200];
    size_t n = list_fixtures(d, files, DEMO_MAX_FILES);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", xb_kafka_env_bootstrap(env), NULL, 0);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!prod)
        return xb_error_set(err, XB_EIO, NULL, "demo: producer: %s", errstr);
    for (size_t i = 0; i < n; i++) {
        xb_buf body = XB_BUF_INIT;
        if (xb_buf_read_file(&body, files[i], 8u << 20) < 0)
            continue;
        const char *topic = topic_for(cfg, &body);
        char *base = strrchr(files[i], '/') + 1; /* not const: RD_KAFKA_V_KEY casts to void * */
        rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(body.data, body.len),
                          RD_KAFKA_V_KEY(base, strlen(base)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        d->total++;
        xb_buf_free(&body);
    }
    /* issue #6: reference tables and the fund's statement for the valuation route */
    static const char *const val[][2] = {
        {DEMO_RATES, "funds/rates-2025-01-02.csv"},
        {DEMO_PRICES, "funds/prices-2025-01-02.csv"},
        {DEMO_HOLDINGS, "messages/valid/semt.003-lg-gbf-01-v12.xml"}};
    for (size_t i = 0; i < 3; i++) {
        char path[1200];
        xb_buf body = XB_BUF_INIT;
        xb_kafka_env_create_topic(env, val[i][0], 1, NULL);
        if (xb_buf_read_file(&body, join(path, sizeof path, d->fixtures, val[i][1]), 8u << 20) < 0)
            continue;
        rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(val[i][0]), RD_KAFKA_V_VALUE(body.data, body.len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        d->total += !strcmp(val[i][0], DEMO_HOLDINGS); /* the tables are not consumed records */
        xb_buf_free(&body);
    }
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    return 0;
}

/* issue #6: the reda.001 the fund administrator's receiver stored, in one line per report. */
static void print_valuation(const demo *d)
{
    char dir[1400], path[1700];
    snprintf(dir, sizeof dir, "%s/received/%s/messages", d->dir, DEMO_FUND_DEST);
    DIR *dp = opendir(dir);
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL) {
        xb_buf b = XB_BUF_INIT;
        xb_msg *msg = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".xml") && xb_buf_read_file(&b, path, 8u << 20) == 0 &&
            xb_msg_parse(&msg, b.data, b.len, NULL, NULL) == 0 &&
            xb_msg_definition(msg)->kind == XB_KIND_REDA001) {
            xmlNodePtr rpt = xb_msg_body(msg);
            printf("  valuation       %s %s -> %s:", xb_xml_text(xb_xml_child(rpt, "PricRptId")),
                   xb_xml_text(xb_xml_child(rpt, "Fctn")), DEMO_FUND_DEST);
            for (xmlNodePtr c = rpt->children; c; c = c->next) {
                xmlNodePtr amt = xb_xml_find(c, "PricDtls/ValInInvstmtCcy/Amt");
                xmlChar *ccy = amt ? xmlGetProp(amt, (const xmlChar *)"Ccy") : NULL;
                if (amt)
                    printf(" %s NAV %s %s", xb_xml_text(xb_xml_find(c, "FinInstrmDtls/Id/ISIN")),
                           xb_xml_text(amt), ccy ? (const char *)ccy : "");
                xmlFree(ccy);
            }
            printf("\n");
        }
        xb_msg_free(msg);
        xb_buf_free(&b);
    }
    if (dp)
        closedir(dp);
}

typedef struct until_ctx {
    unsigned total;
    time_t deadline;
} until_ctx;

static bool all_done(void *ctx, const xb_pipeline_stats *s)
{
    until_ctx *u = ctx;
    return (s->consumed >= u->total && s->outstanding == 0) || time(NULL) >= u->deadline;
}

static void print_summary(const demo *d, const xb_pipeline_stats *s, double secs)
{
    printf("xborder demo: %u fixture messages through Kafka (embedded), the policy engine and "
           "HTTPS (mutual TLS, signed) in %.1f s\n\n",
           d->total, secs);
    printf("  consumed        %llu\n", (unsigned long long)s->consumed);
    for (size_t i = 0; i < s->n_dest; i++) {
        printf("  delivered       %-20s %llu", s->dest[i].name,
               (unsigned long long)s->dest[i].delivered);
        if (s->dest[i].duplicates)
            printf(" (+%llu duplicates: UETR already received, answered 409)",
                   (unsigned long long)s->dest[i].duplicates);
        printf("\n");
    }
    printf("  fields          masked %llu, pseudonymised %llu, generalised %llu, dropped %llu\n",
           (unsigned long long)s->masked, (unsigned long long)s->pseudonymised,
           (unsigned long long)s->generalised, (unsigned long long)s->dropped);
    printf("  quarantined     %llu\n  blocked         %llu\n", (unsigned long long)s->quarantined,
           (unsigned long long)s->blocked);
    printf("  not processed   invalid %llu, unsupported %llu, no route %llu, policy errors %llu\n",
           (unsigned long long)s->invalid, (unsigned long long)s->unsupported,
           (unsigned long long)s->no_route, (unsigned long long)s->policy_errors);
    printf("  DLQ             %llu entries on topic xborder.dlq (reason in headers)\n",
           (unsigned long long)s->dlq);
    print_valuation(d);
    printf("\n");
    printf("  audit log       %s/state/audit.log (%llu hash-chained decision records)\n", d->dir,
           (unsigned long long)s->audit_records);
    printf("  received files  %s/received/<destination>/messages/\n", d->dir);
    printf("  config          %s/xborder.yaml\n", d->dir);
    printf("  logs            %s/xborder.log\n", d->dir);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xborder demo [--state DIR] [--fixtures DIR]\n\n"
            "Runs the whole pipeline on this machine: librdkafka's embedded mock cluster, the\n"
            "reference HTTPS receiver on loopback with a throwaway PKI, and the project's fixture\n"
            "messages. Everything it writes goes under DIR (default ./xborder-demo).\n\n"
            "exit: 0 the demo ran and its checks passed, 1 a step failed (named), 2 usage.\n"
            "example: xborder demo --state /tmp/xborder-demo\n");
}

int xb_cli_demo(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    demo d;
    memset(&d, 0, sizeof d);
    const char *state = "xborder-demo";
    snprintf(d.fixtures, sizeof d.fixtures, "%s/fixtures", XB_SOURCE_DIR);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--state") && i + 1 < argc)
            state = argv[++i];
        else if (!strcmp(argv[i], "--fixtures") && i + 1 < argc)
            snprintf(d.fixtures, sizeof d.fixtures, "%s", argv[++i]);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (mkdir_p(state) < 0 || !realpath(state, d.dir)) {
        fprintf(stderr, "xborder demo: cannot create %s: %s\n", state, strerror(errno));
        return 1;
    }
    char p[1200];
    static const char *const subdirs[] = {"pki", "keys", "received", "state"};
    for (int i = 0; i < 4; i++)
        if (mkdir_p(join(p, sizeof p, d.dir, subdirs[i])) < 0) {
            fprintf(stderr, "xborder demo: cannot create %s\n", p);
            return 1;
        }
    FILE *logf = fopen(join(p, sizeof p, d.dir, "xborder.log"), "a");
    if (logf)
        xb_log_set_stream(logf);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    xb_error err;
    xb_error_clear(&err);
    int rc = 1;
    xb_config *cfg = NULL;
    xb_kafka_env *env = NULL;
    xb_pipeline *pl = NULL;
    xb_settle_hook *settle = NULL;
    if (make_pki(join(p, sizeof p, d.dir, "pki")) < 0) {
        fprintf(stderr, "xborder demo: making the test PKI with the openssl CLI failed\n");
        goto out;
    }
    if (write_random_key(join(p, sizeof p, d.dir, "keys/counter.key")) < 0) {
        fprintf(stderr, "xborder demo: cannot write %s\n", p);
        goto out;
    }
    if (write_config(&d, &err) < 0 || xb_config_load(&cfg, d.path, &err) < 0 ||
        xb_kafka_env_new(&env, cfg, &err) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_topics; i++)
        xb_kafka_env_create_topic(env, cfg->topics[i], 1, NULL);
    if (produce_fixtures(&d, cfg, env, &err) < 0)
        goto fail;
    until_ctx u = {.total = d.total, .deadline = time(NULL) + DEMO_TIMEOUT_S};
    xb_pipeline_opts po = {.env = env, .until = all_done, .until_ctx = &u, .no_metrics = true};
    if (xb_settle_hook_new(&settle, d.path, &err) < 0) /* issue #5: the CNY settlement stage */
        goto fail;
    if (xb_settle_hook_needed(settle)) {
        po.settle = xb_settle_pipeline_settle;
        po.settle_commit = xb_settle_pipeline_commit;
        po.settle_discard = xb_settle_pending_free;
        po.settle_ctx = settle;
        po.settled = xb_settle_pipeline_outcome;
        po.settled_flush = xb_settle_pipeline_flush;
    }
    if (xb_pipeline_new(&pl, d.path, &po, &err) < 0 || xb_pipeline_run(pl, &err) < 0)
        goto fail;
    xb_pipeline_stats s;
    xb_pipeline_stats_get(pl, &s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_summary(&d, &s, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (s.outstanding || s.consumed < d.total) {
        fprintf(stderr, "xborder demo: %llu of %u records not finished within %d s\n",
                (unsigned long long)(d.total - s.finished), d.total, DEMO_TIMEOUT_S);
        goto out;
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "xborder demo: %s%s%s\n", err.path[0] ? err.path : "", err.path[0] ? ": " : "",
            err.message);
out:
    xb_pipeline_free(pl);
    xb_settle_hook_free(settle);
    xb_kafka_env_free(env);
    xb_config_free(cfg);
    for (size_t i = 0; i < d.n_rx; i++)
        xb_receiver_stop(d.rx[i]);
    xb_log_set_stream(NULL);
    if (logf)
        fclose(logf);
    return rc;
}
