/* test_daemon.c - the secure channel's refusals against a running jetsyncd over real sockets.
 * Each refusal checks that the connection ends, that the daemon's log says why in one line, that
 * the lead's store is unchanged, and that the daemon goes on serving a good peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "store.h" /* before testutil.h: enables jt_store_snapshot() */
#include "testutil.h"

#include "nodeutil.h"
#include "noise.h"

static jet_node *L, *A, *B, *C, *D;
static daemon_proc lead;
static char log_path[4300];
static long log_seen; /* bytes of the daemon's log already looked at */

/* ---- helpers --------------------------------------------------------------------------- */

/* Waits (at most 5 s) until the daemon's log, from the line of the last match on, has `text`. */
static void expect_log(const char *text) {
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(log_path, "r");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        char *buf = calloc(1, (size_t)(size - log_seen) + 1);
        fseek(f, log_seen, SEEK_SET);
        size_t n = fread(buf, 1, (size_t)(size - log_seen), f);
        fclose(f);
        char *hit = strstr(buf, text);
        if (hit != NULL) {
            /* Go on from the start of that line, so a second check may look at it again. */
            while (hit > buf && hit[-1] != '\n')
                hit--;
            log_seen += (long)(hit - buf);
            free(buf);
            return;
        }
        free(buf);
        (void)n;
        usleep(50000);
    }
    fail_msg("the daemon's log does not say \"%s\"", text);
}

static void snapshot(uint8_t out[32]) {
    jt_store_snapshot(jet_node_store(L), out);
}

static void assert_unchanged(const uint8_t before[32]) {
    uint8_t after[32];
    snapshot(after);
    assert_memory_equal(before, after, 32);
}

static void assert_still_serving(void) {
    assert_int_equal(kill(lead.pid, 0), 0);
    sync_result r = sync_with(A, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("good peer: %s\n", r.reason);
    assert_ok(r.code);
    /* The lead writes the session's status once the connection has closed: wait for it. */
    expect_log("event=session_end peer=A result=complete");
}

static int raw_connect_from(const char *src) {
    char host[64];
    const char *colon = strrchr(lead.addr, ':');
    memcpy(host, lead.addr, (size_t)(colon - lead.addr));
    host[colon - lead.addr] = '\0';
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (src != NULL) {
        struct sockaddr_in me;
        memset(&me, 0, sizeof me);
        me.sin_family = AF_INET;
        inet_pton(AF_INET, src, &me.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    }
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int raw_connect(void) {
    return raw_connect_from(NULL);
}

static void send_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the daemon may have closed already: that is what these tests expect */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the daemon closes; returns the bytes it sent before (or -1 on a time-out). */
static ssize_t drain_to_eof(int fd) {
    uint8_t buf[4096];
    ssize_t total = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return total;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        total += r;
    }
}

static int read_exact(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A first handshake message from A to the lead, built with the Noise module as an independent
 * client would (framed: 4-byte length + message). */
typedef struct raw_hs {
    jet_noise_handshake hs;
    jet_noise_cipher tx, rx;
    uint8_t msg1[4 + JET_NOISE_MSG1_LEN];
} raw_hs;

static void raw_msg1(raw_hs *h, uint64_t value) {
    uint8_t x_sk[32], x_pk[32], rs[32], pro[JET_NOISE_PROLOGUE_LEN];
    assert_ok(jet_channel_static_from_ed25519(jet_node_secret_key(A), x_sk, x_pk));
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(rs, jet_node_public_key(L)), 0);
    jet_noise_prologue(jet_node_network_key(A), pro);
    assert_ok(jet_noise_handshake_init(&h->hs, JET_NOISE_IK, 1, pro, sizeof pro, x_sk, rs));
    jet_put_be32(h->msg1, JET_NOISE_MSG1_LEN);
    assert_ok(jet_noise_ik_write1(&h->hs, jet_node_public_key(A), value, h->msg1 + 4));
    sodium_memzero(x_sk, sizeof x_sk);
}

/* Sends message 1 and completes the handshake: the channel is open for transport frames. */
static int raw_established(raw_hs *h) {
    uint64_t v;
    assert_ok(jet_peering_next_hs_value(A, &v));
    raw_msg1(h, v);
    int fd = raw_connect();
    send_all(fd, h->msg1, sizeof h->msg1);
    uint8_t m2[4 + JET_NOISE_MSG2_LEN];
    assert_int_equal(read_exact(fd, m2, sizeof m2), 0);
    assert_ok(jet_noise_ik_read2(&h->hs, m2 + 4, JET_NOISE_MSG2_LEN));
    assert_ok(jet_noise_handshake_split(&h->hs, &h->tx, &h->rx));
    jet_noise_handshake_fini(&h->hs);
    return fd;
}

/* ---- fixture --------------------------------------------------------------------------- */

static void set_conf(jet_node *n, const char *from, const char *to) {
    char path[4300], cmd[9000];
    snprintf(path, sizeof path, "%s/jetsync.conf", jet_node_home(n));
    snprintf(cmd, sizeof cmd, "sed -i 's/^%s$/%s/' '%s'", from, to, path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
    (void)state;
    setup_dirs();
    L = make_node("L", "SE-Y", 1);
    A = make_node("A", "IT-25", 0);
    B = make_node("B", "NO-30", 0);
    C = make_node("C", "RO-TL", 0);
    char other_net[4300];
    snprintf(other_net, sizeof other_net, "%s/other-network.key", base_dir);
    D = make_node_net("D", "ES-CT", 0, other_net);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    add_peer(L, "B", B, JET_ROLE_REGION, NULL);
    add_peer(L, "D", D, JET_ROLE_REGION, NULL);
    assert_ok(jet_store_write(jet_node_store(L), revoke_txn, "B"));
    /* Short handshake time-out so the slow-loris case is quick; room for 1,000 pending. */
    set_conf(L, "handshake_timeout = 5s", "handshake_timeout = 1s");
    set_conf(L, "max_connections = 1024", "max_connections = 1200");
    jet_node_free(L);
    char home[4300];
    snprintf(home, sizeof home, "%s/L", base_dir);
    assert_ok(jet_node_open(home, &L, NULL));
    lead = start_daemon(L);
    snprintf(log_path, sizeof log_path, "%s/daemon.log", jet_node_home(L));
    add_peer(A, "Lead", L, JET_ROLE_LEAD, lead.addr);
    add_peer(B, "Lead", L, JET_ROLE_LEAD, lead.addr);
    add_peer(C, "Lead", L, JET_ROLE_LEAD, lead.addr);
    add_peer(D, "Lead", L, JET_ROLE_LEAD, lead.addr);
    append_markers(A, JET_STREAM_TOOLKIT, 10);
    assert_still_serving();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    stop_daemon(&lead, SIGTERM);
    jet_node_free(L);
    jet_node_free(A);
    jet_node_free(B);
    jet_node_free(C);
    jet_node_free(D);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_identities_refused(void **state) {
    (void)state;
    uint8_t before[32];
    char id[JET_NODE_ID_BUF];
    struct {
        jet_node *who;
        const char *log;
    } cases[] = {
        {C, "unknown node id"},
        {B, "revoked"},
        {D, "wrong network key or tampered"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snapshot(before);
        sync_result r = sync_with(cases[i].who, "Lead", NULL, 0);
        assert_true(r.code != 0);
        expect_log(cases[i].log);
        if (cases[i].who == C) {
            jet_node_id_format(jet_node_public_key(C), id);
            expect_log(id);
        }
        assert_unchanged(before);
        assert_still_serving();
    }
    /* A expects another responder (C's key) at the lead's address. */
    jet_peer wrong;
    memset(&wrong, 0, sizeof wrong);
    snprintf(wrong.name, sizeof wrong.name, "not-the-lead");
    memcpy(wrong.key, jet_node_public_key(C), 32);
    snprintf(wrong.addr, sizeof wrong.addr, "%s", lead.addr);
    wrong.role = JET_ROLE_LEAD;
    snapshot(before);
    assert_true(sync_with_peer(A, &wrong, NULL, 0).code != 0);
    expect_log("wrong network key or tampered");
    assert_unchanged(before);
    assert_still_serving();
}

static void test_replay_refused(void **state) {
    (void)state;
    raw_hs h;
    uint64_t v;
    assert_ok(jet_peering_next_hs_value(A, &v));
    raw_msg1(&h, v);
    int fd = raw_connect();
    send_all(fd, h.msg1, sizeof h.msg1);
    uint8_t m2[4 + JET_NOISE_MSG2_LEN];
    assert_int_equal(read_exact(fd, m2, sizeof m2), 0); /* accepted the first time */
    close(fd);
    jet_noise_handshake_fini(&h.hs);
    expect_log("event=session_end peer=A result=failed"); /* its end is recorded */
    uint8_t before[32];
    snapshot(before);
    fd = raw_connect();
    send_all(fd, h.msg1, sizeof h.msg1);
    assert_int_equal(drain_to_eof(fd), 0); /* no message 2 for a replay */
    close(fd);
    expect_log("replayed handshake");
    assert_unchanged(before);
    assert_still_serving();
}

static void test_every_bit_flip_of_message1(void **state) {
    (void)state;
    raw_hs h;
    uint64_t v;
    assert_ok(jet_peering_next_hs_value(A, &v));
    raw_msg1(&h, v);
    jet_noise_handshake_fini(&h.hs);
    uint8_t before[32];
    snapshot(before);
    size_t bits = sizeof h.msg1 * 8, answered = 0;
    for (size_t bit = 0; bit < bits; bit++) {
        uint8_t m[sizeof h.msg1];
        memcpy(m, h.msg1, sizeof m);
        m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int fd = raw_connect();
        send_all(fd, m, sizeof m);
        shutdown(fd, SHUT_WR); /* a longer length prefix then meets the end at once */
        ssize_t got = drain_to_eof(fd);
        assert_true(got >= 0);
        answered += got > 0;
        close(fd);
    }
    print_message("    %zu single-bit flips of message 1: all refused, %zu answered\n", bits,
                  answered);
    assert_int_equal(answered, 0);
    assert_unchanged(before);
    assert_still_serving();
}

static void test_bad_frames_after_handshake(void **state) {
    (void)state;
    uint8_t before[32];
    /* Every bit flip of a transport frame ends the connection. */
    uint8_t plain[24] = "not a session message..";
    size_t flen = 4 + sizeof plain + 16;
    for (size_t bit = 0; bit < flen * 8; bit += 7) {
        raw_hs h;
        int fd = raw_established(&h);
        snapshot(before);
        uint8_t frame[4 + sizeof plain + 16];
        jet_put_be32(frame, sizeof plain + 16);
        assert_ok(jet_noise_transport_seal(&h.tx, plain, sizeof plain, frame + 4));
        frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        send_all(fd, frame, sizeof frame);
        shutdown(fd, SHUT_WR);
        assert_true(drain_to_eof(fd) >= 0);
        close(fd);
        jet_noise_cipher_fini(&h.tx);
        jet_noise_cipher_fini(&h.rx);
    }
    expect_log("event=channel_refused");
    /* A truncated frame: a length of 100 and 10 bytes, then the end. */
    raw_hs h;
    int fd = raw_established(&h);
    uint8_t trunc[14] = {0, 0, 0, 100};
    send_all(fd, trunc, sizeof trunc);
    shutdown(fd, SHUT_WR);
    assert_true(drain_to_eof(fd) >= 0);
    close(fd);
    /* A length prefix of 4 GiB - 1: refused before anything of that size is allocated. */
    long rss_before = 0, rss_after = 0;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)lead.pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &rss_before) == 1)
            break;
    if (f)
        fclose(f);
    fd = raw_established(&h);
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    send_all(fd, huge, sizeof huge);
    assert_true(drain_to_eof(fd) >= 0); /* closed without waiting for the rest */
    close(fd);
    expect_log("too large");
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &rss_after) == 1)
            break;
    if (f)
        fclose(f);
    assert_true(rss_after - rss_before < 16 * 1024); /* KiB: no 4 GiB buffer */
    /* Garbage instead of a handshake. */
    fd = raw_connect();
    uint8_t junk[300];
    randombytes_buf(junk, sizeof junk);
    send_all(fd, junk, sizeof junk);
    shutdown(fd, SHUT_WR);
    assert_true(drain_to_eof(fd) >= 0);
    close(fd);
    assert_still_serving();
}

static void test_slow_loris_and_pending_flood(void **state) {
    (void)state;
    /* One connection that says nothing is dropped at the handshake time-out (1 s here). */
    int fd = raw_connect();
    time_t t0 = time(NULL);
    assert_true(drain_to_eof(fd) >= 0);
    assert_true(time(NULL) - t0 <= 5);
    close(fd);
    expect_log("time");
    /* 1,000 connections that never finish the handshake, from many source addresses, while a
     * good peer syncs. */
    enum { PENDING = 1000 };
    static int fds[PENDING];
    for (int i = 0; i < PENDING; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.%d.%d", 1 + i / 250, 1 + i % 250);
        fds[i] = raw_connect_from(src);
    }
    assert_still_serving();
    /* They are all dropped by the time-out, none left open. */
    int dropped = 0;
    for (int i = 0; i < PENDING; i++) {
        dropped += drain_to_eof(fds[i]) >= 0;
        close(fds[i]);
    }
    assert_int_equal(dropped, PENDING);
    assert_still_serving();
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    setenv("JETSYNC_LOG", "info", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identities_refused),
        cmocka_unit_test(test_replay_refused),
        cmocka_unit_test(test_every_bit_flip_of_message1),
        cmocka_unit_test(test_bad_frames_after_handshake),
        cmocka_unit_test(test_slow_loris_and_pending_flood),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
