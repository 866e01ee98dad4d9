/* kafka_env.c — bootstrap address, embedded mock cluster, librdkafka conf from config.
 *
 * Owns: the rd_kafka_t that hosts the mock cluster (a producer handle that never produces) and the
 * cluster's lifetime. Never: logs property values.
 */
#include "adapter/transport/kafka_env.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/log.h"

struct xb_kafka_env {
    char *bootstrap;
    rd_kafka_t *mock_owner;
    rd_kafka_mock_cluster_t *mock;
};

/* librdkafka's own log lines become structured JSON lines like the rest of xborder's. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    xb_log_level l = level <= 3   ? XB_LOG_ERROR
                     : level == 4 ? XB_LOG_WARN
                     : level <= 6 ? XB_LOG_INFO
                                  : XB_LOG_DEBUG;
    xb_log_event(l, "rdkafka",
                 json_pack("{ss,ss,ss}", "client", rd_kafka_name(rk), "facility", fac, "msg", buf));
}

static int start_mock(xb_kafka_env *env, xb_error *err)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    /* test.mock.num.brokers makes the handle host a mock cluster and talk to it (so it does not
     * log connection errors to a placeholder bootstrap). */
    rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", NULL, 0);
    env->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!env->mock_owner) {
        rd_kafka_conf_destroy(conf);
        return xb_error_set(err, XB_EIO, "kafka.bootstrap.servers",
                            "embedded kafka: cannot create client: %s", errstr);
    }
    env->mock = rd_kafka_handle_mock_cluster(env->mock_owner);
    if (!env->mock)
        return xb_error_set(err, XB_EIO, "kafka.bootstrap.servers",
                            "embedded kafka: cannot start the mock cluster");
    env->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(env->mock));
    xb_log_event(XB_LOG_WARN, "kafka.embedded",
                 json_pack("{ss,ss}", "bootstrap", env->bootstrap, "msg",
                           "embedded mock cluster: memory only, not durable; for demos and tests"));
    return 0;
}

int xb_kafka_env_new(xb_kafka_env **out, const xb_config *cfg, xb_error *err)
{
    *out = NULL;
    xb_kafka_env *env = calloc(1, sizeof *env);
    if (!env)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    int rc = 0;
    if (cfg->kafka.embedded)
        rc = start_mock(env, err);
    else
        env->bootstrap = strdup(cfg->kafka.bootstrap);
    if (rc < 0 || !env->bootstrap) {
        xb_kafka_env_free(env);
        return rc < 0 ? rc : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    }
    *out = env;
    return 0;
}

void xb_kafka_env_free(xb_kafka_env *env)
{
    if (!env)
        return;
    if (env->mock_owner)
        rd_kafka_destroy(env->mock_owner);
    free(env->bootstrap);
    free(env);
}

const char *xb_kafka_env_bootstrap(const xb_kafka_env *env)
{
    return env->bootstrap;
}

int xb_kafka_env_is_embedded(const xb_kafka_env *env)
{
    return env->mock != NULL;
}

int xb_kafka_env_create_topic(xb_kafka_env *env, const char *topic, int partitions, xb_error *err)
{
    if (!env->mock)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(env->mock, topic, partitions, 1);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return xb_error_set(err, XB_EIO, NULL, "embedded kafka: create topic %s: %s", topic,
                            rd_kafka_err2str(e));
    return 0;
}

static int apply(rd_kafka_conf_t *conf, const xb_kv *kv, size_t n, const char *where, xb_error *err)
{
    char errstr[256];
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, kv[i].key, kv[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            return xb_error_set(err, XB_ECONFIG, NULL, "%s.%s: %s", where, kv[i].key, errstr);
    return 0;
}

int xb_kafka_conf_build(rd_kafka_conf_t **out, const xb_config *cfg, const xb_kafka_env *env,
                        xb_kafka_role role, xb_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    char errstr[256];
    int rc = 0;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", env->bootstrap, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
        rc = xb_error_set(err, XB_ECONFIG, NULL, "kafka.bootstrap.servers: %s", errstr);
    if (!rc)
        rc = apply(conf, cfg->kafka.common, cfg->kafka.n_common, "kafka", err);
    if (!rc && role == XB_KAFKA_CONSUMER)
        rc = apply(conf, cfg->kafka.consumer, cfg->kafka.n_consumer, "kafka.consumer", err);
    if (!rc && role == XB_KAFKA_PRODUCER)
        rc = apply(conf, cfg->kafka.producer, cfg->kafka.n_producer, "kafka.producer", err);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = conf;
    return 0;
}

void xb_kafka_queue_wake_fd(rd_kafka_queue_t *q, int fd)
{
    static const uint64_t one = 1; /* an eventfd takes 8-byte increments */
    if (!q)
        return;
    rd_kafka_queue_io_event_enable(q, fd, &one, sizeof one);
    rd_kafka_queue_destroy(q);
}
