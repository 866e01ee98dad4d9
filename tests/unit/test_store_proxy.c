/* test_store_proxy.c — see test_store_proxy.h.
 *
 * The store sends COMMIT as a simple-protocol Query message ('Q', length 11, "COMMIT\0"), which
 * is what the proxy looks for in the client's bytes (the connection is opened with
 * sslmode=disable, so they are plain). Dropping the answer means: relay the COMMIT, read the
 * server's reply until its CommandComplete "COMMIT" tag (the transaction is then durable), and
 * close both sides without relaying it: exactly a connection lost during COMMIT.
 * Owns: its listening socket, the connection pairs, its thread.
 * Never: listens beyond loopback; drops more than one connection per arming.
 */
#include "test_store_proxy.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 16

struct store_proxy {
    int lfd;
    struct sockaddr_in up;
    struct {
        int c, s; /* client side, server side; -1 when free */
    } pair[MAX_PAIRS];
    atomic_int mode;
    atomic_int fired;
    atomic_bool stop;
    pthread_t th;
};

static const char Q_COMMIT[] = {'Q', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0};
static const char TAG_COMMIT[] = {'C', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0};

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void close_pair(store_proxy *px, int i)
{
    close(px->pair[i].c);
    close(px->pair[i].s);
    px->pair[i].c = px->pair[i].s = -1;
}

/* Relays the COMMIT and waits (5 s at most) for the server's "COMMIT" tag, keeping it. */
static void swallow_answer(store_proxy *px, int i, const char *buf, size_t n)
{
    char in[8192];
    size_t have = 0;
    if (!write_all(px->pair[i].s, buf, n))
        return;
    for (int waited = 0; waited < 50; waited++) {
        struct pollfd pf = {.fd = px->pair[i].s, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t r = read(px->pair[i].s, in + have, sizeof in - have);
        if (r <= 0)
            return;
        have += (size_t)r;
        if (memmem(in, have, TAG_COMMIT, sizeof TAG_COMMIT) || have == sizeof in)
            return;
    }
}

/* Client bytes: relayed, unless they hold the COMMIT the proxy is armed for. */
static void from_client(store_proxy *px, int i)
{
    char buf[65536];
    ssize_t r = read(px->pair[i].c, buf, sizeof buf);
    if (r <= 0) {
        close_pair(px, i);
        return;
    }
    int mode = atomic_load(&px->mode);
    if (mode != PROXY_PASS && memmem(buf, (size_t)r, Q_COMMIT, sizeof Q_COMMIT)) {
        atomic_store(&px->mode, PROXY_PASS);
        if (mode == PROXY_DROP_COMMIT_ANSWER)
            swallow_answer(px, i, buf, (size_t)r);
        close_pair(px, i);
        atomic_fetch_add(&px->fired, 1);
        return;
    }
    if (!write_all(px->pair[i].s, buf, (size_t)r))
        close_pair(px, i);
}

static void from_server(store_proxy *px, int i)
{
    char buf[65536];
    ssize_t r = read(px->pair[i].s, buf, sizeof buf);
    if (r <= 0 || !write_all(px->pair[i].c, buf, (size_t)r))
        close_pair(px, i);
}

static void accept_one(store_proxy *px)
{
    int c = accept(px->lfd, NULL, NULL);
    if (c < 0)
        return;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int i = 0;
    while (i < MAX_PAIRS && px->pair[i].c >= 0)
        i++;
    if (s < 0 || i == MAX_PAIRS || connect(s, (struct sockaddr *)&px->up, sizeof px->up) < 0) {
        close(c);
        if (s >= 0)
            close(s);
        return;
    }
    px->pair[i].c = c;
    px->pair[i].s = s;
}

static void *relay(void *arg)
{
    store_proxy *px = arg;
    while (!atomic_load(&px->stop)) {
        struct pollfd pf[1 + 2 * MAX_PAIRS];
        int idx[1 + 2 * MAX_PAIRS];
        nfds_t n = 0;
        pf[n++] = (struct pollfd){.fd = px->lfd, .events = POLLIN};
        for (int i = 0; i < MAX_PAIRS; i++)
            if (px->pair[i].c >= 0) {
                idx[n] = i;
                pf[n++] = (struct pollfd){.fd = px->pair[i].c, .events = POLLIN};
                idx[n] = i;
                pf[n++] = (struct pollfd){.fd = px->pair[i].s, .events = POLLIN};
            }
        if (poll(pf, n, 100) <= 0)
            continue;
        if (pf[0].revents)
            accept_one(px);
        for (nfds_t k = 1; k < n; k++) {
            int i = idx[k];
            if (!pf[k].revents || px->pair[i].c < 0)
                continue;
            if (pf[k].fd == px->pair[i].c)
                from_client(px, i);
            else if (pf[k].fd == px->pair[i].s)
                from_server(px, i);
        }
    }
    return NULL;
}

/* host, port, user and dbname of a libpq URL or conninfo */
static bool upstream_of(const char *upstream, char host[64], int *port, char user[64], char db[64])
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(upstream, &msg);
    if (!opts) {
        fprintf(stderr, "store_proxy: %s: %s\n", upstream, msg ? msg : "cannot parse");
        PQfreemem(msg);
        return false;
    }
    host[0] = user[0] = db[0] = 0;
    *port = 5432;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host") || !strcmp(o->keyword, "hostaddr"))
            snprintf(host, 64, "%s", o->val);
        else if (!strcmp(o->keyword, "port"))
            *port = atoi(o->val);
        else if (!strcmp(o->keyword, "user"))
            snprintf(user, 64, "%s", o->val);
        else if (!strcmp(o->keyword, "dbname"))
            snprintf(db, 64, "%s", o->val);
    }
    PQconninfoFree(opts);
    return host[0] != 0;
}

store_proxy *store_proxy_start(const char *upstream, char url_out[512])
{
    char host[64], user[64], db[64];
    int port = 0;
    if (!upstream_of(upstream, host, &port, user, db))
        return NULL;
    store_proxy *px = calloc(1, sizeof *px);
    if (!px)
        return NULL;
    for (int i = 0; i < MAX_PAIRS; i++)
        px->pair[i].c = px->pair[i].s = -1;
    px->up.sin_family = AF_INET;
    px->up.sin_port = htons((uint16_t)port);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof me;
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (inet_pton(AF_INET, host, &px->up.sin_addr) != 1 || px->lfd < 0 ||
        bind(px->lfd, (struct sockaddr *)&me, sizeof me) < 0 || listen(px->lfd, 8) < 0 ||
        getsockname(px->lfd, (struct sockaddr *)&me, &len) < 0 ||
        pthread_create(&px->th, NULL, relay, px) != 0) {
        fprintf(stderr, "store_proxy: cannot relay to %s:%d\n", host, port);
        if (px->lfd >= 0)
            close(px->lfd);
        free(px);
        return NULL;
    }
    snprintf(url_out, 512, "postgres:host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable",
             ntohs(me.sin_port), user, db);
    return px;
}

void store_proxy_arm(store_proxy *px, store_proxy_mode mode)
{
    atomic_store(&px->mode, (int)mode);
}

int store_proxy_fired(store_proxy *px)
{
    return atomic_load(&px->fired);
}

void store_proxy_stop(store_proxy *px)
{
    if (!px)
        return;
    atomic_store(&px->stop, true);
    pthread_join(px->th, NULL);
    for (int i = 0; i < MAX_PAIRS; i++)
        if (px->pair[i].c >= 0)
            close_pair(px, i);
    close(px->lfd);
    free(px);
}
