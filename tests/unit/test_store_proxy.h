/* test_store_proxy.h — a loopback TCP proxy in front of the test PostgreSQL server that can lose
 * a COMMIT or its answer, for test_store's "unknown commit outcome" cases (issue #10).
 *
 * Owns: its listening socket, the connection pairs it relays, and its one thread.
 * Never: listens on anything but 127.0.0.1, rewrites a byte it relays, or drops anything but
 * the one connection whose COMMIT it was armed for.
 */
#ifndef XB_TEST_STORE_PROXY_H
#define XB_TEST_STORE_PROXY_H

#include <stdatomic.h>

typedef enum store_proxy_mode {
    PROXY_PASS = 0,
    PROXY_DROP_COMMIT,        /* the next COMMIT never reaches the server: it rolls back */
    PROXY_DROP_COMMIT_ANSWER, /* the next COMMIT is committed, its answer never reaches us */
} store_proxy_mode;

typedef struct store_proxy store_proxy;

/* Starts relaying to the server of the libpq URL `upstream`; *url_out (a "postgres:" store URL
 * through the proxy, 512 bytes) is what the store opens. Returns NULL with a message on stderr. */
store_proxy *store_proxy_start(const char *upstream, char url_out[512]);
/* Arms the proxy for the next COMMIT on any relayed connection (it disarms itself after). */
void store_proxy_arm(store_proxy *px, store_proxy_mode mode);
/* How many connections the proxy dropped on purpose so far. */
int store_proxy_fired(store_proxy *px);
void store_proxy_stop(store_proxy *px);

#endif
