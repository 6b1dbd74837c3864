/* test_channel.c - the secure channel over real sockets on 127.0.0.1.
 *
 * A listener runs in its own thread on its own libuv loop (the "server"), with a fake
 * authorize callback over an in-memory peer list standing in for the store. The main thread
 * either runs jet_channel_connect() on a second loop (a good or a misconfigured peer) or talks
 * raw TCP with blocking sockets, building handshake messages with the Noise module directly,
 * to send what a hostile peer would. Every refusal test checks that the connection ends,
 * that nothing was delivered or persisted, and that the listener still serves a good peer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "channel.h"
#include "encoding.h"
#include "error.h"
#include "noise.h"

/* ---------------------------------------------------------------- identities and peer list */

typedef struct ident {
    jet_channel_identity id;
    uint64_t last_sent;
} ident;

static ident srv_id, peer_a, peer_e, revoked_b, unknown_c, othernet_d;

typedef struct peer_entry {
    uint8_t id[32];
    int revoked;
    uint64_t last;
} peer_entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static peer_entry peers[4];
static int n_peers;

static void make_ident(ident *i, const uint8_t network[32]) {
    memset(i, 0, sizeof *i);
    crypto_sign_keypair(i->id.ed25519_pk, i->id.ed25519_sk);
    memcpy(i->id.network_key, network, 32);
}

static uint64_t peer_last(const ident *i) {
    uint64_t v = 0;
    pthread_mutex_lock(&mu);
    for (int k = 0; k < n_peers; k++)
        if (memcmp(peers[k].id, i->id.ed25519_pk, 32) == 0)
            v = peers[k].last;
    pthread_mutex_unlock(&mu);
    return v;
}

static int fake_authorize(void *ctx, const uint8_t node_id[32], uint64_t value) {
    int rc = JET_EPEER;
    (void)ctx;
    pthread_mutex_lock(&mu);
    for (int k = 0; k < n_peers; k++) {
        if (memcmp(peers[k].id, node_id, 32) != 0)
            continue;
        if (peers[k].revoked)
            rc = JET_EREVOKED;
        else if (value <= peers[k].last)
            rc = JET_EREPLAY;
        else {
            peers[k].last = value;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int next_value(void *ctx, uint64_t *out) {
    ident *i = ctx;
    uint64_t v = now_ns();
    if (v <= i->last_sent)
        v = i->last_sent + 1;
    i->last_sent = v;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- log capture */

static int saved_stderr = -1;
static char log_path[] = "/tmp/test_channel_log_XXXXXX";

static void log_begin(void) {
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr and returns what was logged (free it). */
static char *log_end(void) {
    FILE *f;
    char *buf = calloc(1, 1 << 20);
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    f = fopen(log_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(log_path);
    memcpy(log_path + strlen(log_path) - 6, "XXXXXX", 6);
    fputs(buf, stderr); /* keep the lines visible in the test output */
    return buf;
}

/* ---------------------------------------------------------------- the server thread */

enum { MAX_REASONS = 4096 };

typedef struct server {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    jet_listener *l;
    jet_channel_limits limits;
    char addr[64];
    int echo;
    /* under mu */
    int ready, stop, snap_req, snap_seq, done;
    int accepted, established, closed, frames;
    size_t bytes;
    unsigned count_at_established;
    int reasons[MAX_REASONS];
    uint8_t last_peer[32];
    jet_listener_stats st;
} server;

static void srv_on_accept(void *ctx, jet_channel *ch) {
    server *s = ctx;
    jet_channel_set_user(ch, s);
    pthread_mutex_lock(&mu);
    s->accepted++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void srv_on_established(jet_channel *ch, const uint8_t peer_id[32]) {
    server *s = jet_channel_user(ch);
    pthread_mutex_lock(&mu);
    s->established++;
    s->count_at_established = jet_listener_count(s->l);
    memcpy(s->last_peer, peer_id, 32);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void srv_on_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    server *s = jet_channel_user(ch);
    pthread_mutex_lock(&mu);
    s->frames++;
    s->bytes += len;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (s->echo)
        (void)jet_channel_send(ch, data, len);
}

static void srv_on_closed(jet_channel *ch, int reason) {
    server *s = jet_channel_user(ch);
    pthread_mutex_lock(&mu);
    if (s->closed < MAX_REASONS)
        s->reasons[s->closed] = reason;
    s->closed++;
    jet_listener_stats_get(s->l, &s->st);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void srv_listener_closed(void *arg) {
    server *s = arg;
    uv_close((uv_handle_t *)&s->wake, NULL);
}

static void srv_wake(uv_async_t *a) {
    server *s = a->data;
    pthread_mutex_lock(&mu);
    int stop = s->stop, snap = s->snap_req;
    if (snap && s->l != NULL) {
        jet_listener_stats_get(s->l, &s->st);
        s->snap_req = 0;
        s->snap_seq++;
        pthread_cond_broadcast(&cv);
    }
    if (stop == 1) {
        s->stop = 2;
        pthread_mutex_unlock(&mu);
        jet_listener_close(s->l, srv_listener_closed, s);
        return;
    }
    pthread_mutex_unlock(&mu);
}

static void *srv_main(void *arg) {
    server *s = arg;
    jet_channel_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loop = &s->loop;
    cfg.identity = &srv_id.id;
    cfg.limits = s->limits;
    cfg.cb.authorize = fake_authorize;
    cfg.cb.on_accept = srv_on_accept;
    cfg.cb.on_established = srv_on_established;
    cfg.cb.on_frame = srv_on_frame;
    cfg.cb.on_closed = srv_on_closed;
    cfg.ctx = s;
    uv_loop_init(&s->loop);
    uv_async_init(&s->loop, &s->wake, srv_wake);
    s->wake.data = s;
    int rc = jet_listener_start(&cfg, "127.0.0.1:0", &s->l);
    if (rc == 0)
        jet_listener_address(s->l, s->addr, sizeof s->addr);
    pthread_mutex_lock(&mu);
    s->ready = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (rc == 0)
        uv_run(&s->loop, UV_RUN_DEFAULT);
    else
        uv_close((uv_handle_t *)&s->wake, NULL), uv_run(&s->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&s->loop);
    pthread_mutex_lock(&mu);
    s->done = rc == 0 ? 1 : -1; /* -1: a handle was left open */
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void test_limits(jet_channel_limits *l) {
    jet_channel_limits_default(l);
    l->handshake_timeout_ms = 2000;
    l->idle_timeout_ms = 10000;
}

static server *server_start(const jet_channel_limits *limits) {
    server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->limits = *limits;
    s->echo = 1;
    assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
    pthread_mutex_lock(&mu);
    while (s->ready == 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    assert_int_equal(s->ready, 1);
    return s;
}

/* Waits (at most 30 s) until *counter >= n. */
static void wait_count(int *counter, int n) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    pthread_mutex_lock(&mu);
    while (*counter < n) {
        if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT) {
            int got = *counter;
            pthread_mutex_unlock(&mu);
            fail_msg("waited 30 s for a count of %d, have %d", n, got);
        }
    }
    pthread_mutex_unlock(&mu);
}

static int get_count(int *counter) {
    pthread_mutex_lock(&mu);
    int v = *counter;
    pthread_mutex_unlock(&mu);
    return v;
}

static int last_reason(server *s) {
    pthread_mutex_lock(&mu);
    int r = s->closed > 0 ? s->reasons[(s->closed - 1) % MAX_REASONS] : 1;
    pthread_mutex_unlock(&mu);
    return r;
}

static jet_listener_stats server_stats(server *s) {
    jet_listener_stats st;
    pthread_mutex_lock(&mu);
    int seq = s->snap_seq;
    s->snap_req = 1;
    uv_async_send(&s->wake);
    while (s->snap_seq == seq)
        pthread_cond_wait(&cv, &mu);
    st = s->st;
    pthread_mutex_unlock(&mu);
    return st;
}

/* Asks the server's loop to close its listener (and so every channel) and returns at once. */
static void server_request_stop(server *s) {
    pthread_mutex_lock(&mu);
    s->stop = 1;
    pthread_mutex_unlock(&mu);
    uv_async_send(&s->wake);
}

/* Waits for the server's thread to end, then frees the server. */
static void server_join(server *s) {
    pthread_join(s->thread, NULL);
    assert_int_equal(s->done, 1);
    free(s);
}

/* Stops the server: every channel it accepted must close (with JET_ECANCELED for those still
 * open) and its loop must end with no handle left. */
static void server_stop(server *s) {
    server_request_stop(s);
    pthread_join(s->thread, NULL);
    assert_int_equal(s->done, 1);
    assert_int_equal(s->closed, s->accepted);
    free(s);
}

/* ---------------------------------------------------------------- a jet_channel client */

typedef struct client {
    uv_loop_t loop;
    jet_channel *ch;
    int established, closed, reason, frames, writable;
    size_t bytes;
    uint8_t *expect[8]; /* frames we sent and expect back, in order */
    size_t expect_len[8];
    int n_expect, n_checked;
} client;

static void cl_on_established(jet_channel *ch, const uint8_t peer[32]) {
    client *c = jet_channel_user(ch);
    c->established = 1;
    assert_memory_equal(peer, srv_id.id.ed25519_pk, 32);
}

static void cl_on_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    client *c = jet_channel_user(ch);
    if (c->n_checked < c->n_expect) {
        assert_int_equal(len, c->expect_len[c->n_checked]);
        if (len > 0)
            assert_memory_equal(data, c->expect[c->n_checked], len);
        c->n_checked++;
    }
    c->frames++;
    c->bytes += len;
}

static void cl_on_writable(jet_channel *ch) {
    client *c = jet_channel_user(ch);
    c->writable++;
    assert_true(jet_channel_queued(ch) < (1u << 20) / 2);
}

static void cl_on_closed(jet_channel *ch, int reason) {
    client *c = jet_channel_user(ch);
    assert_int_equal(c->closed, 0); /* exactly once */
    c->closed = 1;
    c->reason = reason;
    c->ch = NULL;
}

static void client_cfg(jet_channel_config *cfg, client *c, ident *who) {
    memset(cfg, 0, sizeof *cfg);
    cfg->loop = &c->loop;
    cfg->identity = &who->id;
    jet_channel_limits_default(&cfg->limits);
    cfg->limits.write_high = 1u << 20;
    cfg->cb.next_hs_value = next_value;
    cfg->cb.on_established = cl_on_established;
    cfg->cb.on_frame = cl_on_frame;
    cfg->cb.on_writable = cl_on_writable;
    cfg->cb.on_closed = cl_on_closed;
    cfg->ctx = who;
}

static void run_until(client *c, int *flag, int value) {
    while (*flag < value && !c->closed)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static int client_connect(client *c, ident *who, const char *addr, const uint8_t *remote) {
    jet_channel_config cfg;
    memset(c, 0, sizeof *c);
    uv_loop_init(&c->loop);
    client_cfg(&cfg, c, who);
    int rc = jet_channel_connect(&cfg, addr, remote, c, &c->ch);
    if (rc == 0)
        assert_int_equal(jet_channel_send(c->ch, (const uint8_t *)"x", 1), JET_EPROTO);
    return rc;
}

static void client_finish(client *c) {
    if (c->ch != NULL)
        jet_channel_close(c->ch, 0);
    while (!c->closed)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    for (int i = 0; i < c->n_expect; i++)
        free(c->expect[i]);
}

/* A good peer connects, sends three frames, gets them echoed, and closes cleanly. */
static void good_peer(server *s, ident *who) {
    client c;
    const size_t sizes[3] = {5, 0, 3000};
    int est = get_count(&s->established);
    assert_int_equal(client_connect(&c, who, s->addr, srv_id.id.ed25519_pk), 0);
    run_until(&c, &c.established, 1);
    assert_int_equal(c.closed, 0);
    assert_int_equal(c.established, 1);
    for (int i = 0; i < 3; i++) {
        c.expect[i] = malloc(sizes[i] + 1);
        randombytes_buf(c.expect[i], sizes[i] + 1);
        c.expect_len[i] = sizes[i];
        c.n_expect++;
        assert_int_equal(jet_channel_send(c.ch, c.expect[i], sizes[i]), 0);
    }
    run_until(&c, &c.n_checked, 3);
    assert_int_equal(c.n_checked, 3);
    int closed = get_count(&s->closed);
    client_finish(&c);
    assert_int_equal(c.reason, 0);
    wait_count(&s->closed, closed + 1);
    assert_true(get_count(&s->established) > est);
}

/* A peer that must be refused: it never gets on_established and ends closed. */
static int refused_peer(server *s, ident *who, const uint8_t *remote) {
    client c;
    int closed = get_count(&s->closed);
    assert_int_equal(client_connect(&c, who, s->addr, remote), 0);
    run_until(&c, &c.established, 1);
    assert_int_equal(c.established, 0);
    assert_int_equal(c.closed, 1);
    assert_true(c.reason != 0);
    client_finish(&c);
    wait_count(&s->closed, closed + 1);
    return last_reason(s);
}

/* ---------------------------------------------------------------- raw sockets */

static int raw_connect(const char *addr) {
    char host[64];
    struct sockaddr_in sa;
    struct timeval tv = {10, 0};
    const char *colon = strrchr(addr, ':');
    int one = 1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server may already have closed: that is what some tests expect */
        p += w;
        n -= (size_t)w;
    }
}

static int read_exact(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads until the peer closes; 1 if it did within the socket time-out (10 s), 0 if not. */
static int wait_eof(int fd) {
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 0;
    }
}

typedef struct raw_peer {
    jet_noise_handshake hs;
    jet_noise_cipher tx, rx;
    uint8_t msg1[4 + JET_NOISE_MSG1_LEN];
} raw_peer;

/* Builds a framed message 1 from `who` to the server, as an independent client would. */
static void raw_msg1(raw_peer *p, const ident *who, const uint8_t *server_ed, uint64_t value) {
    uint8_t x_sk[32], x_pk[32], rs[32], pro[JET_NOISE_PROLOGUE_LEN];
    assert_int_equal(jet_channel_static_from_ed25519(who->id.ed25519_sk, x_sk, x_pk), 0);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(rs, server_ed), 0);
    jet_noise_prologue(who->id.network_key, pro);
    assert_int_equal(jet_noise_handshake_init(&p->hs, JET_NOISE_IK, 1, pro, sizeof pro, x_sk, rs),
                     0);
    jet_put_be32(p->msg1, JET_NOISE_MSG1_LEN);
    assert_int_equal(jet_noise_ik_write1(&p->hs, who->id.ed25519_pk, value, p->msg1 + 4), 0);
}

/* Completes the handshake on `fd` after msg1 was sent. */
static void raw_finish(raw_peer *p, int fd) {
    uint8_t m2[4 + JET_NOISE_MSG2_LEN];
    assert_int_equal(read_exact(fd, m2, sizeof m2), 0);
    assert_int_equal(jet_get_be32(m2), JET_NOISE_MSG2_LEN);
    assert_int_equal(jet_noise_ik_read2(&p->hs, m2 + 4, JET_NOISE_MSG2_LEN), 0);
    assert_int_equal(jet_noise_handshake_split(&p->hs, &p->tx, &p->rx), 0);
    jet_noise_handshake_fini(&p->hs);
}

/* Connects as peer A and completes the handshake. */
static int raw_established(server *s, raw_peer *p) {
    int fd = raw_connect(s->addr);
    uint64_t v = 0;
    next_value(&peer_a, &v);
    raw_msg1(p, &peer_a, srv_id.id.ed25519_pk, v);
    send_all(fd, p->msg1, sizeof p->msg1);
    raw_finish(p, fd);
    return fd;
}

/* A framed transport message (caller frees). */
static uint8_t *raw_frame(raw_peer *p, const uint8_t *data, size_t len, size_t *out_len) {
    uint8_t *f = malloc(4 + len + 16);
    jet_put_be32(f, (uint32_t)(len + 16));
    assert_int_equal(jet_noise_transport_seal(&p->tx, data, len, f + 4), 0);
    *out_len = 4 + len + 16;
    return f;
}

/* Reads one echoed frame and checks it. */
static void raw_expect_echo(raw_peer *p, int fd, const uint8_t *data, size_t len) {
    uint8_t hdr[4];
    assert_int_equal(read_exact(fd, hdr, 4), 0);
    assert_int_equal(jet_get_be32(hdr), len + 16);
    uint8_t *b = malloc(len + 16);
    assert_int_equal(read_exact(fd, b, len + 16), 0);
    assert_int_equal(jet_noise_transport_open(&p->rx, b, len + 16, b), 0);
    assert_memory_equal(b, data, len);
    free(b);
}

/* ---------------------------------------------------------------- tests */

static void test_handshake_and_frames(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    client c;
    size_t big = JET_CHANNEL_DEFAULT_MAX_FRAME;

    assert_int_equal(client_connect(&c, &peer_a, s->addr, srv_id.id.ed25519_pk), 0);
    run_until(&c, &c.established, 1);
    assert_int_equal(c.established, 1);
    assert_memory_equal(jet_channel_peer_id(c.ch), srv_id.id.ed25519_pk, 32);
    assert_string_equal(jet_channel_peer_addr(c.ch), s->addr);
    wait_count(&s->established, 1);
    assert_memory_equal(s->last_peer, peer_a.id.ed25519_pk, 32);
    assert_true(peer_last(&peer_a) == peer_a.last_sent);

    /* Frames of several sizes, the largest allowed, echoed back byte for byte. */
    const size_t sizes[5] = {1, 0, 100000, big, 17};
    for (int i = 0; i < 5; i++) {
        c.expect[i] = malloc(sizes[i] + 1);
        randombytes_buf(c.expect[i], sizes[i] + 1);
        c.expect_len[i] = sizes[i];
        c.n_expect++;
        assert_true(jet_channel_send(c.ch, c.expect[i], sizes[i]) >= 0);
    }
    assert_int_equal(jet_channel_send(c.ch, c.expect[3], big + 1), JET_ETOOBIG);
    run_until(&c, &c.n_checked, 5);
    assert_int_equal(c.n_checked, 5);
    assert_int_equal(get_count(&s->frames), 5);
    jet_listener_stats st = server_stats(s);
    assert_true(st.peak_read_buffer >= big + 16);
    assert_true(st.peak_read_buffer <= 4 + big + 16);
    client_finish(&c);
    assert_int_equal(c.reason, 0);
    wait_count(&s->closed, 1);
    good_peer(s, &peer_e);
    server_stop(s);
    (void)state;
}

static void test_partial_reads(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p;
    uint8_t data[3][700];
    size_t fl[3];
    uint8_t *f[3];
    uint64_t v = 0;
    int fd = raw_connect(s->addr);

    /* Message 1 one byte at a time. */
    next_value(&peer_a, &v);
    raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
    for (size_t i = 0; i < sizeof p.msg1; i++) {
        send_all(fd, p.msg1 + i, 1);
        usleep(200);
    }
    raw_finish(&p, fd);
    for (int i = 0; i < 3; i++) {
        randombytes_buf(data[i], sizeof data[i]);
        f[i] = raw_frame(&p, data[i], sizeof data[i] - (size_t)i * 100, &fl[i]);
    }
    /* A frame byte by byte, then one split at odd places, then two in one write. */
    for (size_t i = 0; i < fl[0]; i++) {
        send_all(fd, f[0] + i, 1);
        if (i % 50 == 0)
            usleep(500);
    }
    raw_expect_echo(&p, fd, data[0], sizeof data[0]);
    send_all(fd, f[1], 3);
    usleep(2000);
    send_all(fd, f[1] + 3, 301);
    usleep(2000);
    uint8_t *two = malloc(fl[1] - 304 + fl[2]);
    memcpy(two, f[1] + 304, fl[1] - 304);
    memcpy(two + fl[1] - 304, f[2], fl[2]);
    send_all(fd, two, fl[1] - 304 + fl[2]);
    raw_expect_echo(&p, fd, data[1], sizeof data[1] - 100);
    raw_expect_echo(&p, fd, data[2], sizeof data[2] - 200);
    assert_int_equal(get_count(&s->frames), 3);
    close(fd);
    wait_count(&s->closed, 1);
    for (int i = 0; i < 3; i++)
        free(f[i]);
    free(two);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_refuse_identities(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    char id[JET_NODE_ID_BUF], *log;
    uint64_t a_last;

    good_peer(s, &peer_a);
    a_last = peer_last(&peer_a);

    log_begin();
    int r = refused_peer(s, &unknown_c, srv_id.id.ed25519_pk);
    log = log_end();
    assert_string_equal(jet_errname(r), jet_errname(JET_EPEER));
    jet_node_id_format(unknown_c.id.ed25519_pk, id);
    assert_non_null(strstr(log, "unknown node id"));
    assert_non_null(strstr(log, id));
    free(log);
    good_peer(s, &peer_e);

    log_begin();
    r = refused_peer(s, &revoked_b, srv_id.id.ed25519_pk);
    log = log_end();
    assert_string_equal(jet_errname(r), jet_errname(JET_EREVOKED));
    assert_non_null(strstr(log, "revoked"));
    free(log);
    good_peer(s, &peer_e);

    log_begin();
    r = refused_peer(s, &othernet_d, srv_id.id.ed25519_pk);
    log = log_end();
    assert_string_equal(jet_errname(r), jet_errname(JET_EAUTH));
    assert_non_null(strstr(log, "handshake decrypt failed (wrong network key or tampered)"));
    free(log);
    good_peer(s, &peer_e);

    /* Peer A expects another responder: the responder cannot decrypt message 1. */
    r = refused_peer(s, &peer_a, peer_e.id.ed25519_pk);
    assert_string_equal(jet_errname(r), jet_errname(JET_EAUTH));
    assert_true(peer_last(&peer_a) == a_last); /* nothing persisted */
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_replay(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p, q;
    uint64_t v = 0;
    char *log;

    next_value(&peer_a, &v);
    raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
    int fd = raw_connect(s->addr);
    send_all(fd, p.msg1, sizeof p.msg1);
    raw_finish(&p, fd);
    close(fd);
    wait_count(&s->closed, 1);
    assert_true(peer_last(&peer_a) == v);

    /* The same first message again. */
    log_begin();
    fd = raw_connect(s->addr);
    send_all(fd, p.msg1, sizeof p.msg1);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 2);
    log = log_end();
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_EREPLAY));
    assert_non_null(strstr(log, "replayed handshake"));
    free(log);

    /* A fresh message with an older value. */
    raw_msg1(&q, &peer_a, srv_id.id.ed25519_pk, v - 1);
    fd = raw_connect(s->addr);
    send_all(fd, q.msg1, sizeof q.msg1);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 3);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_EREPLAY));
    assert_true(peer_last(&peer_a) == v);
    assert_int_equal(get_count(&s->established), 1);
    jet_noise_handshake_fini(&q.hs);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

/* Every single-bit flip in message 1 (length prefix included) ends the connection, completes
 * nothing and persists nothing. */
static void test_flip_msg1(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p;
    uint64_t last = peer_last(&peer_a);
    int closed = 0;

    for (size_t i = 0; i < sizeof p.msg1; i++) {
        uint64_t v = 0;
        next_value(&peer_a, &v);
        raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
        p.msg1[i] ^= (uint8_t)(1u << (i % 8));
        int fd = raw_connect(s->addr);
        send_all(fd, p.msg1, sizeof p.msg1);
        shutdown(fd, SHUT_WR);
        assert_int_equal(wait_eof(fd), 1);
        close(fd);
        wait_count(&s->closed, ++closed);
        jet_noise_handshake_fini(&p.hs);
    }
    assert_int_equal(get_count(&s->established), 0);
    assert_true(peer_last(&peer_a) == last);
    printf("message 1: %zu bit flips refused\n", sizeof p.msg1);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

/* A fake responder that answers message 1 with a message 2 with one bit flipped. */
typedef struct fake_responder {
    int lfd;
    int flip; /* bit index into the framed message 2, or -1 for none */
    pthread_t thread;
} fake_responder;

static void *fake_main(void *arg) {
    fake_responder *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    uint8_t m1[4 + JET_NOISE_MSG1_LEN], m2[4 + JET_NOISE_MSG2_LEN], id[32];
    uint8_t x_sk[32], x_pk[32], pro[JET_NOISE_PROLOGUE_LEN];
    uint64_t v;
    jet_noise_handshake hs;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (read_exact(fd, m1, sizeof m1) == 0) {
        jet_channel_static_from_ed25519(srv_id.id.ed25519_sk, x_sk, x_pk);
        jet_noise_prologue(srv_id.id.network_key, pro);
        jet_noise_handshake_init(&hs, JET_NOISE_IK, 0, pro, sizeof pro, x_sk, NULL);
        if (jet_noise_ik_read1(&hs, m1 + 4, JET_NOISE_MSG1_LEN, id, &v) == 0) {
            jet_put_be32(m2, JET_NOISE_MSG2_LEN);
            jet_noise_ik_write2(&hs, m2 + 4);
            if (f->flip >= 0)
                m2[f->flip / 8] ^= (uint8_t)(1u << (f->flip % 8));
            send_all(fd, m2, sizeof m2);
        }
        jet_noise_handshake_fini(&hs);
    }
    shutdown(fd, SHUT_WR);
    wait_eof(fd);
    close(fd);
    return NULL;
}

static void test_flip_msg2(void **state) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    char addr[64];
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 16), 0);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));

    /* flip = -1 first: the fake responder is right, so the test can tell a flip from a bug. */
    for (int flip = -1; flip < (int)(4 + JET_NOISE_MSG2_LEN) * 8; flip += (flip < 0 ? 1 : 8)) {
        fake_responder f = {lfd, flip < 0 ? -1 : flip + (flip / 8) % 8, 0};
        client c;
        pthread_create(&f.thread, NULL, fake_main, &f);
        assert_int_equal(client_connect(&c, &peer_a, addr, srv_id.id.ed25519_pk), 0);
        run_until(&c, &c.established, 1);
        assert_int_equal(c.established, flip < 0 ? 1 : 0);
        client_finish(&c);
        if (flip >= 0)
            assert_true(c.reason != 0);
        pthread_join(f.thread, NULL);
    }
    close(lfd);
    printf("message 2: %d bit flips refused by the initiator\n", 4 + JET_NOISE_MSG2_LEN);
    (void)state;
}

/* Every single-bit flip in a transport frame ends the connection and delivers nothing. */
static void test_flip_frame(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    uint8_t data[8] = "jetsync!";
    size_t fl = 4 + sizeof data + 16;
    int closed = 0;

    for (int i = -1; i < (int)fl; i++) {
        raw_peer p;
        size_t n;
        int fd = raw_established(s, &p);
        uint8_t *f = raw_frame(&p, data, sizeof data, &n);
        assert_int_equal(n, fl);
        if (i >= 0)
            f[i] ^= (uint8_t)(1u << (i % 8));
        send_all(fd, f, n);
        if (i < 0)
            raw_expect_echo(&p, fd, data, sizeof data); /* unflipped: delivered */
        shutdown(fd, SHUT_WR);
        assert_int_equal(wait_eof(fd), 1);
        close(fd);
        wait_count(&s->closed, ++closed);
        if (i >= 0)
            assert_true(last_reason(s) != 0);
        free(f);
    }
    assert_int_equal(get_count(&s->frames), 1);
    printf("transport frame: %zu bit flips refused\n", fl);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_truncated(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p;
    uint64_t v = 0;
    size_t n;
    uint8_t data[40] = {0};
    char *log;

    /* Message 1 cut short. */
    log_begin();
    next_value(&peer_a, &v);
    raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
    int fd = raw_connect(s->addr);
    send_all(fd, p.msg1, 100);
    shutdown(fd, SHUT_WR);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 1);
    log = log_end();
    assert_non_null(strstr(log, "truncated"));
    free(log);
    jet_noise_handshake_fini(&p.hs);

    /* A transport frame cut short. */
    fd = raw_established(s, &p);
    uint8_t *f = raw_frame(&p, data, sizeof data, &n);
    send_all(fd, f, n - 7);
    shutdown(fd, SHUT_WR);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 2);
    free(f);

    /* A frame shorter than its tag. */
    fd = raw_established(s, &p);
    uint8_t shortf[4 + 10] = {0, 0, 0, 10};
    send_all(fd, shortf, sizeof shortf);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 3);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_EDECODE));
    assert_int_equal(get_count(&s->frames), 0);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_huge_prefix(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p;
    const uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    uint8_t over[4];
    char *log;

    /* 4 GiB announced instead of message 1. */
    log_begin();
    int fd = raw_connect(s->addr);
    send_all(fd, huge, sizeof huge);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 1);
    log = log_end();
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETOOBIG));
    assert_non_null(strstr(log, "too large"));
    free(log);

    /* 4 GiB announced as a transport frame. */
    fd = raw_established(s, &p);
    send_all(fd, huge, sizeof huge);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 2);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETOOBIG));

    /* One byte over the limit. */
    fd = raw_established(s, &p);
    jet_put_be32(over, (uint32_t)(lim.max_frame + 16 + 1));
    send_all(fd, over, sizeof over);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 3);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETOOBIG));

    /* No read buffer grew beyond the read-ahead: the claimed sizes were never allocated. */
    jet_listener_stats st = server_stats(s);
    assert_true(st.peak_read_buffer <= 64 * 1024);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_slow_loris(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    lim.handshake_timeout_ms = 800;
    lim.idle_timeout_ms = 1500;
    server *s = server_start(&lim);
    raw_peer p;
    char *log;

    log_begin();
    int fd = raw_connect(s->addr); /* sends nothing */
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 1);
    log = log_end();
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETIMEOUT));
    assert_non_null(strstr(log, "handshake timed out"));
    free(log);

    fd = raw_connect(s->addr); /* a few bytes, then nothing */
    send_all(fd, (const uint8_t *)"\0\0\0", 3);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 2);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETIMEOUT));

    fd = raw_established(s, &p); /* established, then silent */
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 3);
    assert_string_equal(jet_errname(last_reason(s)), jet_errname(JET_ETIMEOUT));
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

static void test_thousand_pending(void **state) {
    enum { N = 1000 };
    jet_channel_limits lim;
    static int fds[N];
    struct rlimit rl;
    test_limits(&lim);
    lim.max_connections = N + 10;
    lim.max_per_address = N + 10;
    lim.handshake_timeout_ms = 5000;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * N + 100) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    server *s = server_start(&lim);

    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(s->addr);
        if (i % 2)
            send_all(fds[i], (const uint8_t *)"\0\0\0\x88 partial", 12);
    }
    wait_count(&s->accepted, N);
    good_peer(s, &peer_a);
    assert_true(s->count_at_established >= N + 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_eof(fds[i]), 1);
        close(fds[i]);
    }
    wait_count(&s->closed, N + 1);
    int timeouts = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < s->closed && i < MAX_REASONS; i++)
        timeouts += s->reasons[i] == JET_ETIMEOUT;
    pthread_mutex_unlock(&mu);
    assert_int_equal(timeouts, N);
    good_peer(s, &peer_e);
    server_stop(s);
    (void)state;
}

static void limit_case(unsigned max_conn, unsigned per_addr) {
    jet_channel_limits lim;
    test_limits(&lim);
    lim.max_connections = max_conn;
    lim.max_per_address = per_addr;
    server *s = server_start(&lim);
    int a = raw_connect(s->addr), b = raw_connect(s->addr);
    char *log;
    wait_count(&s->accepted, 2);
    log_begin();
    int c = raw_connect(s->addr);
    assert_int_equal(wait_eof(c), 1); /* refused at once */
    close(c);
    jet_listener_stats st = server_stats(s);
    log = log_end();
    assert_int_equal(st.refused_limit, 1);
    assert_int_equal(get_count(&s->accepted), 2);
    assert_non_null(strstr(log, "too many connections"));
    free(log);
    /* Free one slot: a good peer gets in. */
    close(a);
    wait_count(&s->closed, 1);
    good_peer(s, &peer_a);
    close(b);
    server_stop(s);
}

static void test_connection_limits(void **state) {
    limit_case(10, 2); /* per address */
    limit_case(2, 10); /* in total */
    (void)state;
}

static void on_poll(uv_timer_t *t) {
    client *c = t->data;
    (void)c;
}

static void test_backpressure(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    s->echo = 0;
    client c;
    uv_timer_t poll;
    enum { FRAME = 256 * 1024, TOTAL = 40 };
    uint8_t *buf = calloc(1, FRAME);
    int sent = 0, rc = 0;

    assert_int_equal(client_connect(&c, &peer_a, s->addr, srv_id.id.ed25519_pk), 0);
    run_until(&c, &c.established, 1);
    assert_int_equal(c.established, 1);
    /* Without running the loop no write completes: the fifth frame passes write_high. */
    while ((rc = jet_channel_send(c.ch, buf, FRAME)) == 0)
        sent++;
    assert_int_equal(rc, 1);
    sent++;
    assert_int_equal(sent, 4); /* 4 x (256 KiB + 20) > 1 MiB */
    assert_true(jet_channel_queued(c.ch) > (1u << 20));
    run_until(&c, &c.writable, 1);
    assert_int_equal(c.writable, 1);
    /* Keep sending, stopping whenever asked. */
    while (sent < TOTAL) {
        rc = jet_channel_send(c.ch, buf, FRAME);
        assert_true(rc == 0 || rc == 1);
        sent++;
        if (rc == 1) {
            int w = c.writable;
            run_until(&c, &c.writable, w + 1);
        }
    }
    uv_timer_init(&c.loop, &poll);
    poll.data = &c;
    uv_timer_start(&poll, on_poll, 5, 5);
    while (get_count(&s->frames) < TOTAL)
        uv_run(&c.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&poll, NULL);
    assert_true(c.writable >= 2);
    assert_int_equal(s->bytes, (size_t)TOTAL * FRAME);
    client_finish(&c);
    free(buf);
    server_stop(s);
    (void)state;
}

/* Closing the listener cancels its channels, in the handshake and established. */
static void test_listener_close(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    client c;
    int fd = raw_connect(s->addr);
    assert_int_equal(client_connect(&c, &peer_a, s->addr, srv_id.id.ed25519_pk), 0);
    run_until(&c, &c.established, 1);
    wait_count(&s->accepted, 2);
    server_request_stop(s);
    run_until(&c, &c.closed, 1);
    assert_int_equal(c.closed, 1);
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 2);
    assert_int_equal(s->reasons[0], JET_ECANCELED);
    assert_int_equal(s->reasons[1], JET_ECANCELED);
    client_finish(&c);
    server_join(s);
    (void)state;
}

/* The responder's handshake runs on the worker pool and reading pauses meanwhile: bytes sent
 * right behind message 1 wait in the buffer and are read as a transport frame once the channel
 * is established. Garbage there is refused as such (the peer gets message 2, then the close),
 * and nothing reaches on_frame. */
static void test_bytes_behind_msg1(void **state) {
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    raw_peer p;
    uint64_t v = 0;
    uint8_t both[sizeof p.msg1 + 4 + 32];
    int fd = raw_connect(s->addr);
    next_value(&peer_a, &v);
    raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
    memcpy(both, p.msg1, sizeof p.msg1);
    jet_put_be32(both + sizeof p.msg1, 32);
    memset(both + sizeof p.msg1 + 4, 0xa5, 32); /* a frame no key sealed */
    send_all(fd, both, sizeof both);
    raw_finish(&p, fd); /* message 2 came: the handshake itself went through */
    assert_int_equal(wait_eof(fd), 1);
    close(fd);
    wait_count(&s->closed, 1);
    assert_int_equal(get_count(&s->established), 1);
    assert_int_equal(last_reason(s), JET_EAUTH);
    assert_int_equal(get_count(&s->frames), 0);
    good_peer(s, &peer_a);
    server_stop(s);
    (void)state;
}

/* Stopping the listener while many handshakes are on the worker pool: each channel waits for
 * its job before it is freed (ASan and LeakSanitizer check that), every socket is closed, and
 * the listener finishes. */
static void test_close_with_handshakes_in_flight(void **state) {
    enum { N = 64 };
    jet_channel_limits lim;
    test_limits(&lim);
    server *s = server_start(&lim);
    int fds[N];
    for (int i = 0; i < N; i++) {
        raw_peer p;
        uint64_t v = 0;
        fds[i] = raw_connect(s->addr);
        next_value(&peer_a, &v);
        raw_msg1(&p, &peer_a, srv_id.id.ed25519_pk, v);
        send_all(fds[i], p.msg1, sizeof p.msg1);
        jet_noise_handshake_fini(&p.hs);
    }
    server_request_stop(s);
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_eof(fds[i]), 1);
        close(fds[i]);
    }
    server_join(s);
    (void)state;
}

/* A host name is resolved without blocking the loop; a lookup still running when the channel
 * is dropped (here by the handshake time-out) is cancelled and still freed exactly once. */
static void test_hostname(void **state) {
    uv_loop_t loop;
    jet_channel_config cfg;
    jet_listener *l;
    client c;
    char addr[64], name_addr[80];
    memset(&cfg, 0, sizeof cfg);
    uv_loop_init(&loop);
    cfg.loop = &loop;
    cfg.identity = &srv_id.id;
    jet_channel_limits_default(&cfg.limits);
    cfg.cb.authorize = fake_authorize;
    assert_int_equal(jet_listener_start(&cfg, "localhost:0", &l), 0);
    assert_int_equal(jet_listener_address(l, addr, sizeof addr), 0);
    snprintf(name_addr, sizeof name_addr, "localhost%s", strrchr(addr, ':'));
    /* The client runs on its own loop; drive both from this thread. */
    assert_int_equal(client_connect(&c, &peer_a, name_addr, srv_id.id.ed25519_pk), 0);
    while (!c.established && !c.closed) {
        uv_run(&c.loop, UV_RUN_NOWAIT);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(c.established, 1);
    jet_channel_close(c.ch, 0);
    while (!c.closed) {
        uv_run(&c.loop, UV_RUN_NOWAIT);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    client_finish(&c);
    assert_int_equal(c.reason, 0);
    jet_listener_close(l, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    /* A lookup cut short by the handshake time-out. */
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    client_cfg(&cfg, &c, &peer_a);
    cfg.limits.handshake_timeout_ms = 1;
    assert_int_equal(jet_channel_connect(&cfg, "localhost:1", srv_id.id.ed25519_pk, &c, &c.ch), 0);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.established, 0);
    assert_int_equal(uv_loop_close(&c.loop), 0);
    (void)state;
}

/* Bad arguments are refused synchronously and no callback runs. */
static void test_bad_arguments(void **state) {
    client c;
    jet_channel_config cfg;
    jet_channel *ch = NULL;
    uint8_t not_a_point[32];
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    client_cfg(&cfg, &c, &peer_a);
    assert_int_equal(jet_channel_connect(&cfg, "127.0.0.1", srv_id.id.ed25519_pk, &c, &ch),
                     JET_EINVAL);
    assert_int_equal(jet_channel_connect(&cfg, "127.0.0.1:99999", srv_id.id.ed25519_pk, &c, &ch),
                     JET_EINVAL);
    memset(not_a_point, 0xff, sizeof not_a_point);
    assert_int_equal(jet_channel_connect(&cfg, "127.0.0.1:1", not_a_point, &c, &ch), JET_EINVAL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(c.closed, 0);
    /* A refused connect (nothing listens) runs on_closed once with the libuv code. */
    assert_int_equal(jet_channel_connect(&cfg, "127.0.0.1:1", srv_id.id.ed25519_pk, &c, &c.ch), 0);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.reason, UV_ECONNREFUSED);
    assert_int_equal(uv_loop_close(&c.loop), 0);
    (void)state;
}

static int setup(void **state) {
    uint8_t network[32], other[32];
    randombytes_buf(network, sizeof network);
    randombytes_buf(other, sizeof other);
    make_ident(&srv_id, network);
    make_ident(&peer_a, network);
    make_ident(&peer_e, network);
    make_ident(&revoked_b, network);
    make_ident(&unknown_c, network);
    make_ident(&othernet_d, other);
    memcpy(peers[0].id, peer_a.id.ed25519_pk, 32);
    memcpy(peers[1].id, peer_e.id.ed25519_pk, 32);
    memcpy(peers[2].id, revoked_b.id.ed25519_pk, 32);
    peers[2].revoked = 1;
    memcpy(peers[3].id, othernet_d.id.ed25519_pk, 32); /* listed, but on another network */
    n_peers = 4;
    (void)state;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_frames),
        cmocka_unit_test(test_partial_reads),
        cmocka_unit_test(test_refuse_identities),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_flip_msg1),
        cmocka_unit_test(test_flip_msg2),
        cmocka_unit_test(test_flip_frame),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_huge_prefix),
        cmocka_unit_test(test_slow_loris),
        cmocka_unit_test(test_thousand_pending),
        cmocka_unit_test(test_connection_limits),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_listener_close),
        cmocka_unit_test(test_bytes_behind_msg1),
        cmocka_unit_test(test_close_with_handshakes_in_flight),
        cmocka_unit_test(test_hostname),
        cmocka_unit_test(test_bad_arguments),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, NULL);
}
