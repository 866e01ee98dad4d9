/* replay_harness.h — shared by the replay integration test and the replay benchmark.
 *
 * Owns: a test world in a temp directory (keys, config naming a broker, checkpoint key pair),
 * deterministic message i (CNY/CIPS fixtures with varied Chinese names and ids, an invalid one
 * now and then), and a "live" recorder that decides each message for its destinations and writes
 * the audit record exactly as adapter/pipeline.c builds it (source, definition, outcomes with the
 * policy decision JSON and verdict; whole-record dlq), with signed checkpoints.
 * Never: talks to a destination; the recorder stands in for `xborder run`'s decision half.
 */
#ifndef XB_REPLAY_HARNESS_H
#define XB_REPLAY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/state/audit.h"
#include "adapter/state/audit_checkpoint.h"
#include "iso20022/buf.h"

typedef struct rh_world {
    char dir[128];
    char config[192], config_now[192], keys[192], audit[192], store[192], out[192];
    char ckpt_key[192], ckpt_pub[192], catalog[256], catalog_mod[192];
    char topic[96];
} rh_world;

/* Makes the world; bootstrap may be "embedded". topic is unique per run. */
void rh_world_make(rh_world *w, const char *bootstrap, const char *tag);
void rh_world_remove(const rh_world *w);

/* Message i (XML bytes) into out. */
void rh_message(xb_buf *out, size_t i);

typedef struct rh_recorder rh_recorder;
rh_recorder *rh_recorder_new(const rh_world *w, unsigned ckpt_every);
/* Decides one message as the pipeline would and appends its record. transfer_time is UTC s. */
void rh_recorder_add(rh_recorder *r, const char *topic, int32_t partition, int64_t offset,
                     const char *payload, size_t len, int64_t transfer_time);
/* Final checkpoint (shutdown) and close. Returns the number of decisions (outcomes) made. */
uint64_t rh_recorder_close(rh_recorder *r);

#endif
