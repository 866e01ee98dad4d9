/* kafka_env.h — where the Kafka clients connect, and how their librdkafka config is built.
 *
 * Owns: the embedded mock cluster (`bootstrap.servers: embedded`: librdkafka's in-process mock,
 * memory only, for `demo` and first runs), the bootstrap address every client uses, and building
 * rd_kafka_conf_t from the config's kafka/consumer/producer properties, and tying a client's
 * queue to the pipeline's wake-up eventfd.
 * Never: consumes or produces itself. The mock cluster is not durable: run logs say so.
 */
#ifndef XB_KAFKA_ENV_H
#define XB_KAFKA_ENV_H

#include <librdkafka/rdkafka.h>

#include "adapter/config.h"
#include "iso20022/error.h"

typedef struct xb_kafka_env xb_kafka_env;

/* Starts the mock cluster when cfg->kafka.embedded (1 broker), else just remembers the
 * configured bootstrap. cfg must outlive env only during this call. */
int xb_kafka_env_new(xb_kafka_env **out, const xb_config *cfg, xb_error *err);
void xb_kafka_env_free(xb_kafka_env *env);

const char *xb_kafka_env_bootstrap(const xb_kafka_env *env);
int xb_kafka_env_is_embedded(const xb_kafka_env *env);

/* Embedded only: creates a topic with n partitions (no-op, returns 0, on a real broker: topics
 * there are created by their operators or auto-creation). */
int xb_kafka_env_create_topic(xb_kafka_env *env, const char *topic, int partitions, xb_error *err);

typedef enum xb_kafka_role { XB_KAFKA_CONSUMER, XB_KAFKA_PRODUCER } xb_kafka_role;

/* A new conf with bootstrap, the common properties and the role's own ones applied. The caller
 * then sets the properties xborder owns. Errors name the key (values are never echoed). */
int xb_kafka_conf_build(rd_kafka_conf_t **out, const xb_config *cfg, const xb_kafka_env *env,
                        xb_kafka_role role, xb_error *err);

/* From now on librdkafka adds 1 to the eventfd fd whenever q goes from empty to non-empty (so
 * a poll on fd ends when the queue has work). Releases q; a NULL q does nothing. */
void xb_kafka_queue_wake_fd(rd_kafka_queue_t *q, int fd);

#endif
