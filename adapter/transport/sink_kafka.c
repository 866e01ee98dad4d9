/* sink_kafka.c — DLQ and audit-topic producer with awaited delivery reports.
 *
 * Owns: the producer handle and header encoding. Never: logs message values.
 */
#include "adapter/transport/sink_kafka.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/log.h"

#define XB_SINK_KAFKA_MAX_WARM 4

struct xb_sink_kafka {
    rd_kafka_t *rk;
    xb_sink_kafka_done_fn done;
    void *ctx;
    rd_kafka_topic_t *warm[XB_SINK_KAFKA_MAX_WARM]; /* see xb_sink_kafka_warm */
    size_t n_warm;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    xb_sink_kafka *sk = opaque;
    if (m->err)
        xb_log(XB_LOG_WARN, "kafka.produce_failed", "%s: %s", rd_kafka_topic_name(m->rkt),
               rd_kafka_err2str(m->err));
    if (sk->done)
        sk->done(sk->ctx, m->_private, m->err);
}

static int user_set(const xb_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka.n_common; i++)
        if (!strcmp(cfg->kafka.common[i].key, key))
            return 1;
    for (size_t i = 0; i < cfg->kafka.n_producer; i++)
        if (!strcmp(cfg->kafka.producer[i].key, key))
            return 1;
    return 0;
}

int xb_sink_kafka_new(xb_sink_kafka **out, const xb_config *cfg, const xb_kafka_env *env,
                      xb_sink_kafka_done_fn done, void *ctx, xb_error *err)
{
    *out = NULL;
    rd_kafka_conf_t *conf;
    int rc = xb_kafka_conf_build(&conf, cfg, env, XB_KAFKA_PRODUCER, err);
    if (rc < 0)
        return rc;
    xb_sink_kafka *sk = calloc(1, sizeof *sk);
    if (!sk) {
        rd_kafka_conf_destroy(conf);
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    sk->done = done;
    sk->ctx = ctx;
    char errstr[512];
    if (!user_set(cfg, "linger.ms"))
        rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
    /* Audit records are ~10 KB of JSON per message and compress several times over with lz4;
     * on a box that also runs the broker, the bytes it need not write are CPU it keeps (issue #8:
     * the bench's tuned runs used lz4 and so does every deployment now, unless configured). */
    if (!user_set(cfg, "compression.type"))
        rd_kafka_conf_set(conf, "compression.type", "lz4", NULL, 0);
    /* A DLQ entry is a consumed record plus a few headers, and the broker accepted that record:
     * librdkafka's 1 MB client-side default must not refuse it, or one large record makes every
     * start fatal (found by tests/reliability/security-test hostile with a 10 MB record). */
    if (!user_set(cfg, "message.max.bytes"))
        rd_kafka_conf_set(conf, "message.max.bytes", "1000000000", NULL, 0);
    /* No loss: idempotent, all replicas, and never give up on a message (0 = infinite). */
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "0", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        free(sk);
        return xb_error_set(err, XB_ECONFIG, "kafka.producer", "kafka producer: %s", errstr);
    }
    rd_kafka_conf_set_opaque(conf, sk);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    sk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!sk->rk) {
        rd_kafka_conf_destroy(conf);
        free(sk);
        return xb_error_set(err, XB_ECONFIG, "kafka.producer", "kafka producer: %s", errstr);
    }
    *out = sk;
    return 0;
}

void xb_sink_kafka_warm(xb_sink_kafka *sk, const char *topic)
{
    if (!topic || !*topic || sk->n_warm == XB_SINK_KAFKA_MAX_WARM)
        return;
    rd_kafka_topic_t *t = rd_kafka_topic_new(sk->rk, topic, NULL);
    if (t)
        sk->warm[sk->n_warm++] = t;
}

void xb_sink_kafka_close(xb_sink_kafka *sk, int timeout_ms)
{
    if (!sk)
        return;
    rd_kafka_flush(sk->rk, timeout_ms);
    int left = rd_kafka_outq_len(sk->rk);
    if (left > 0)
        xb_log(XB_LOG_WARN, "kafka.producer_unflushed",
               "%d DLQ/audit messages not confirmed at shutdown; their records were not "
               "committed and will be processed again",
               left);
    for (size_t i = 0; i < sk->n_warm; i++)
        rd_kafka_topic_destroy(sk->warm[i]);
    rd_kafka_destroy(sk->rk);
    free(sk);
}

static void add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
    if (value)
        rd_kafka_header_add(h, name, -1, value, -1);
}

static int produce(xb_sink_kafka *sk, const char *topic, const void *value, size_t len,
                   const void *key, size_t key_len, rd_kafka_headers_t *h, void *opaque,
                   xb_error *err)
{
    for (;;) {
        rd_kafka_resp_err_t e;
        void *v = (void *)(uintptr_t)value, *k = (void *)(uintptr_t)key;
        if (h)
            e = rd_kafka_producev(sk->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, len),
                                  RD_KAFKA_V_KEY(k, key_len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(sk->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, len),
                                  RD_KAFKA_V_KEY(k, key_len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (!e)
            return 0;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(sk->rk, 10); /* local queue full: serve reports and try again */
            continue;
        }
        if (h)
            rd_kafka_headers_destroy(h);
        return xb_error_set(err, XB_EIO, NULL, "produce to %s: %s", topic, rd_kafka_err2str(e));
    }
}

int xb_sink_kafka_dlq(xb_sink_kafka *sk, const char *dlq_topic, const xb_dlq_entry *e, void *opaque,
                      xb_error *err)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    char partition[16], offset[24];
    snprintf(partition, sizeof partition, "%" PRId32, e->partition);
    snprintf(offset, sizeof offset, "%" PRId64, e->offset);
    add_header(h, "xb-reason", e->reason);
    add_header(h, "xb-reason-text", e->reason_text);
    add_header(h, "xb-topic", e->topic);
    add_header(h, "xb-partition", partition);
    add_header(h, "xb-offset", offset);
    add_header(h, "xb-decision-id", e->decision_id);
    add_header(h, "xb-destination", e->destination);
    return produce(sk, dlq_topic, e->value, e->value_len, e->key, e->key_len, h, opaque, err);
}

int xb_sink_kafka_audit(xb_sink_kafka *sk, const char *audit_topic, const char *line, size_t len,
                        const char *key, void *opaque, xb_error *err)
{
    return produce(sk, audit_topic, line, len, key, key ? strlen(key) : 0, NULL, opaque, err);
}

void xb_sink_kafka_poll(xb_sink_kafka *sk, int timeout_ms)
{
    rd_kafka_poll(sk->rk, timeout_ms);
}

void xb_sink_kafka_set_wake_fd(xb_sink_kafka *sk, int fd)
{
    xb_kafka_queue_wake_fd(rd_kafka_queue_get_main(sk->rk), fd);
}

int xb_sink_kafka_outq(xb_sink_kafka *sk)
{
    return rd_kafka_outq_len(sk->rk);
}

int xb_sink_kafka_fatal(xb_sink_kafka *sk, char *buf, size_t cap)
{
    return rd_kafka_fatal_error(sk->rk, buf, cap) != RD_KAFKA_RESP_ERR_NO_ERROR;
}
