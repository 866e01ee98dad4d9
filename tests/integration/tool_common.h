/* tool_common.h — what the test tools (itest_tool, rel_tool, scaleout_tool) all need to count a
 * run: command-line lookups, sorted string sets, the receiver's stored messages, the DLQ topic
 * read whole, and a consumer group's committed lag.
 * Owns nothing outside the test run. Never used by xborder itself (not shipped).
 */
#ifndef XB_TESTS_TOOL_COMMON_H
#define XB_TESTS_TOOL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value after `name` in argv (argv[0] is the program, argv[1] the command), or def. */
const char *xbt_arg(int argc, char **argv, const char *name, const char *def);
/* True when `name` stands anywhere in argv. */
bool xbt_flag(int argc, char **argv, const char *name);

/* A set of strings: add freely, then xbt_set_uniq sorts it and removes repeats, after which
 * xbt_set_has may be asked. Allocation failure aborts (a test tool has no better answer). */
typedef struct xbt_strset {
    char **v;
    size_t n, cap;
} xbt_strset;

void xbt_set_add(xbt_strset *s, const char *v);
/* Sorts and removes repeats; returns how many repeats there were. */
size_t xbt_set_uniq(xbt_strset *s);
bool xbt_set_has(const xbt_strset *s, const char *v);
void xbt_set_free(xbt_strset *s);

/* The idempotency keys the receiver stored: the names of DIR/messages/KEY.xml, sorted. */
void xbt_read_received(xbt_strset *out, const char *dir);

/* Reads the whole DLQ topic from the beginning of every partition (giving up after timeout_s)
 * as consumer group `group`, without committing. *total gets the entries read; every entry with
 * an xb-decision-id header adds "decision-id|destination" to parked ("decision-id|" when the
 * whole record was parked). Returns the number of entries without an xb-reason header (1 when
 * no consumer could be made). */
size_t xbt_read_dlq(xbt_strset *parked, size_t *total, const char *bootstrap, const char *topic,
                    const char *group, int timeout_s);

/* Sum over the topic's partitions of (high watermark - committed offset of group); -1 when
 * unknown. done_out (may be NULL) gets the sum of (committed - low watermark): how many records
 * the group has committed past. */
int64_t xbt_committed_lag(const char *bootstrap, const char *group, const char *topic,
                          int64_t *done_out);

#endif
