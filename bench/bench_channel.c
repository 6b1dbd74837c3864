/* bench_channel.c - the secure channel's speed against the machine limits in
 * ../shared/limits.md, over real loopback sockets between two processes (a forked listener
 * and the initiating parent), so that each side has its own event loop and CPU.
 *
 *   handshakes/s: full IK handshakes (TCP connect, message 1, authorize, message 2, Split),
 *     32 in flight. Each side computes 5 X25519 scalar multiplications per handshake
 *     (ephemeral key generation + es, ss, ee, se), so the limit per side is 22 k/s / 5 and the
 *     target is 40 % of that.
 *   transport MB/s: one connection, frames of the given size, encrypted, written, read,
 *     decrypted in place; the target is 70 % of the 1135 MB/s loopback stream figure.
 *
 * Usage: bench_channel [--small] [--handshakes|--throughput]. Build it without sanitizers
 * (scripts/build release). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "channel.h"
#include "encoding.h"
#include "log.h"

/* From ../shared/limits.md. */
#define LIMIT_X25519_PER_S 22000.0
#define LIMIT_LOOPBACK_MB_S 1135.0
#define MULTS_PER_SIDE 5.0 /* ephemeral keygen + 4 DH (es, ss, ee, se) */
#define HS_TARGET (0.40 * LIMIT_X25519_PER_S / MULTS_PER_SIDE)
#define TP_TARGET (0.70 * LIMIT_LOOPBACK_MB_S)

enum { IN_FLIGHT = 32 };

static jet_channel_identity srv_id, cli_id;
static uint64_t last_value;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) used so far by process `pid` (0 = this one). The machine is
 * shared, so CPU time per operation is reported beside the wall-clock rate. */
static double cpu_s(pid_t pid) {
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid == 0 ? (int)getpid() : (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------- same-run baselines */

static double measure_x25519(int n) {
    uint8_t sk[32], pk[32], out[32];
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (crypto_scalarmult(out, sk, pk) != 0)
            exit(1);
    return n / (now_s() - t0);
}

/* Plain TCP, 64 KiB writes from a child process to this one: the limit this machine has now. */
static double measure_loopback(uint64_t total) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    enum { CHUNK = 64 * 1024 };
    static uint8_t buf[CHUNK];
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(1);
        for (uint64_t sent = 0; sent < total;) {
            ssize_t w = write(fd, buf, CHUNK);
            if (w <= 0)
                _exit(1);
            sent += (uint64_t)w;
        }
        _exit(0);
    }
    int fd = accept(lfd, NULL, NULL);
    uint64_t got = 0;
    double t0 = now_s();
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    double t = now_s() - t0;
    close(fd);
    close(lfd);
    waitpid(pid, NULL, 0);
    return (double)got / 1e6 / t;
}

/* ---------------------------------------------------------------- the listener process */

typedef struct srv_conn {
    uint64_t expect, got;
} srv_conn;

static int srv_authorize(void *ctx, const uint8_t id[32], uint64_t value) {
    (void)ctx, (void)value;
    return memcmp(id, cli_id.ed25519_pk, 32) == 0 ? 0 : JET_EPEER;
}

static void srv_accept(void *ctx, jet_channel *ch) {
    (void)ctx;
    jet_channel_set_user(ch, calloc(1, sizeof(srv_conn)));
}

/* The first frame of a throughput run announces its byte count; "done" goes back at the end. */
static void srv_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    srv_conn *c = jet_channel_user(ch);
    if (c->expect == 0 && len == 8) {
        c->expect = jet_get_be64(data);
        return;
    }
    c->got += len;
    if (c->expect > 0 && c->got >= c->expect) {
        (void)jet_channel_send(ch, (const uint8_t *)"done", 4);
        c->expect = c->got = 0;
    }
}

static void srv_closed(jet_channel *ch, int reason) {
    (void)reason;
    free(jet_channel_user(ch));
}

static void run_listener(int wfd) {
    uv_loop_t loop;
    jet_channel_config cfg;
    jet_listener *l;
    char addr[64];
    memset(&cfg, 0, sizeof cfg);
    uv_loop_init(&loop);
    cfg.loop = &loop;
    cfg.identity = &srv_id;
    jet_channel_limits_default(&cfg.limits);
    cfg.limits.max_connections = 4096;
    cfg.limits.max_per_address = 4096;
    cfg.cb.authorize = srv_authorize;
    cfg.cb.on_accept = srv_accept;
    cfg.cb.on_frame = srv_frame;
    cfg.cb.on_closed = srv_closed;
    if (jet_listener_start(&cfg, "127.0.0.1:0", &l) != 0)
        _exit(1);
    jet_listener_address(l, addr, sizeof addr);
    if (write(wfd, addr, strlen(addr) + 1) < 0)
        _exit(1);
    close(wfd);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
}

/* ---------------------------------------------------------------- the initiating process */

typedef struct bench {
    uv_loop_t loop;
    jet_channel_config cfg;
    const char *addr;
    int target, started, done, failed, open;
    /* throughput */
    jet_channel *ch;
    uint8_t *frame;
    size_t frame_len;
    uint64_t total, sent;
    int finished;
    double t0, t1;
} bench;

static int cli_next_value(void *ctx, uint64_t *out) {
    (void)ctx;
    *out = ++last_value;
    return 0;
}

static void hs_start(bench *b);

static void hs_established(jet_channel *ch, const uint8_t id[32]) {
    bench *b = jet_channel_user(ch);
    (void)id;
    b->done++;
    jet_channel_close(ch, 0);
}

static void hs_closed(jet_channel *ch, int reason) {
    bench *b = jet_channel_user(ch);
    if (reason != 0)
        b->failed++;
    b->open--;
    if (b->started < b->target && b->failed == 0)
        hs_start(b);
}

static void hs_start(bench *b) {
    jet_channel *ch;
    if (jet_channel_connect(&b->cfg, b->addr, srv_id.ed25519_pk, b, &ch) != 0) {
        b->failed++;
        return;
    }
    b->started++;
    b->open++;
}

static double bench_handshakes(const char *addr, int n) {
    bench b;
    memset(&b, 0, sizeof b);
    uv_loop_init(&b.loop);
    b.cfg.loop = &b.loop;
    b.cfg.identity = &cli_id;
    jet_channel_limits_default(&b.cfg.limits);
    b.cfg.cb.next_hs_value = cli_next_value;
    b.cfg.cb.on_established = hs_established;
    b.cfg.cb.on_closed = hs_closed;
    b.addr = addr;
    b.target = n;
    double t0 = now_s();
    for (int i = 0; i < IN_FLIGHT && i < n; i++)
        hs_start(&b);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    double t = now_s() - t0;
    uv_loop_close(&b.loop);
    if (b.failed > 0 || b.done != n) {
        fprintf(stderr, "bench_channel: %d handshakes failed, %d done\n", b.failed, b.done);
        exit(1);
    }
    return n / t;
}

static void tp_pump(bench *b) {
    while (b->sent < b->total) {
        int rc = jet_channel_send(b->ch, b->frame, b->frame_len);
        if (rc < 0) {
            fprintf(stderr, "bench_channel: send: %s\n", jet_strerror(rc));
            exit(1);
        }
        b->sent += b->frame_len;
        if (rc == 1)
            return; /* wait for on_writable */
    }
}

static void tp_established(jet_channel *ch, const uint8_t id[32]) {
    bench *b = jet_channel_user(ch);
    uint8_t hdr[8];
    (void)id;
    b->ch = ch;
    jet_put_be64(hdr, b->total);
    jet_channel_send(ch, hdr, sizeof hdr);
    b->t0 = now_s();
    tp_pump(b);
}

static void tp_writable(jet_channel *ch) {
    tp_pump(jet_channel_user(ch));
}

static void tp_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    bench *b = jet_channel_user(ch);
    if (len == 4 && memcmp(data, "done", 4) == 0) {
        b->t1 = now_s();
        b->finished = 1;
        jet_channel_close(ch, 0);
    }
}

static void tp_closed(jet_channel *ch, int reason) {
    bench *b = jet_channel_user(ch);
    if (!b->finished)
        fprintf(stderr, "bench_channel: connection closed early: %s\n", jet_strerror(reason));
}

static double bench_throughput(const char *addr, size_t frame_len, uint64_t total) {
    bench b;
    jet_channel *ch;
    memset(&b, 0, sizeof b);
    uv_loop_init(&b.loop);
    b.cfg.loop = &b.loop;
    b.cfg.identity = &cli_id;
    jet_channel_limits_default(&b.cfg.limits);
    b.cfg.cb.next_hs_value = cli_next_value;
    b.cfg.cb.on_established = tp_established;
    b.cfg.cb.on_frame = tp_frame;
    b.cfg.cb.on_writable = tp_writable;
    b.cfg.cb.on_closed = tp_closed;
    b.frame_len = frame_len;
    b.frame = malloc(frame_len);
    randombytes_buf(b.frame, frame_len);
    b.total = total - total % frame_len;
    if (jet_channel_connect(&b.cfg, addr, srv_id.ed25519_pk, &b, &ch) != 0)
        exit(1);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    free(b.frame);
    if (!b.finished)
        exit(1);
    return (double)b.total / 1e6 / (b.t1 - b.t0);
}

int main(int argc, char **argv) {
    int small = 0, do_hs = 1, do_tp = 1;
    int fds[2];
    char addr[64] = "";
    uint8_t nk[32];
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--small") == 0)
            small = 1;
        else if (strcmp(argv[i], "--handshakes") == 0)
            do_tp = 0;
        else if (strcmp(argv[i], "--throughput") == 0)
            do_hs = 0;
        else {
            fprintf(stderr, "usage: bench_channel [--small] [--handshakes|--throughput]\n");
            return 2;
        }
    }
    if (sodium_init() < 0)
        return 1;
    jet_log_set_level(JET_LOG_WARN);
    randombytes_buf(nk, sizeof nk);
    crypto_sign_keypair(srv_id.ed25519_pk, srv_id.ed25519_sk);
    crypto_sign_keypair(cli_id.ed25519_pk, cli_id.ed25519_sk);
    memcpy(srv_id.network_key, nk, 32);
    memcpy(cli_id.network_key, nk, 32);
    if (pipe(fds) != 0)
        return 1;
    if ((pid = fork()) == 0) {
        close(fds[0]);
        run_listener(fds[1]);
    }
    close(fds[1]);
    if (read(fds[0], addr, sizeof addr - 1) <= 0) {
        fprintf(stderr, "bench_channel: the listener did not start\n");
        return 1;
    }
    close(fds[0]);

    if (do_hs) {
        int n = small ? 500 : 5000;
        double xr = measure_x25519(small ? 2000 : 10000);
        bench_handshakes(addr, small ? 50 : 200); /* warm-up */
        double c0 = cpu_s(0), r0 = cpu_s(pid);
        double hs = bench_handshakes(addr, n);
        double ci = (cpu_s(0) - c0) / n, cr = (cpu_s(pid) - r0) / n;
        printf("channel handshakes: %.0f /s (%d IK handshakes over loopback, %d in flight)\n", hs,
               n, IN_FLIGHT);
        printf("  target: 40%% of %.0f X25519/s (limits.md) / %.0f scalar mults per side = %.0f /s;"
               " ratio %.2f (%s)\n",
               LIMIT_X25519_PER_S, MULTS_PER_SIDE, HS_TARGET, hs / HS_TARGET,
               hs >= HS_TARGET ? "met" : "NOT met");
        printf("  same run: X25519 measured %.0f /s -> target %.0f /s; ratio %.2f (%s)\n", xr,
               0.4 * xr / MULTS_PER_SIDE, hs / (0.4 * xr / MULTS_PER_SIDE),
               hs >= 0.4 * xr / MULTS_PER_SIDE ? "met" : "NOT met");
        if (cr > 0 && ci > 0)
            printf(
                "  CPU per handshake: responder %.0f us, initiator %.0f us -> %.0f handshakes per "
                "responder CPU-second; ratio %.2f against the limits.md target\n",
                cr * 1e6, ci * 1e6, 1 / cr, (1 / cr) / HS_TARGET);
    }
    if (do_tp) {
        uint64_t total = small ? (256ull << 20) : (2ull << 30);
        double lb = measure_loopback(total);
        printf("loopback TCP stream, 64 KiB writes, two processes, same run: %.0f MB/s\n", lb);
        const size_t sizes[3] = {64 * 1024, 256 * 1024, JET_CHANNEL_DEFAULT_MAX_FRAME};
        for (int i = 0; i < 3; i++) {
            double c0 = cpu_s(0), r0 = cpu_s(pid);
            double mb = bench_throughput(addr, sizes[i], total);
            double cs = cpu_s(0) - c0, cr = cpu_s(pid) - r0, mbt = (double)total / 1e6;
            printf("channel throughput: %.0f MB/s (one connection, %zu KiB frames, %llu MiB)\n", mb,
                   sizes[i] / 1024, (unsigned long long)(total >> 20));
            printf("  target: 70%% of %.0f MB/s (limits.md) = %.0f MB/s; ratio %.2f (%s)\n",
                   LIMIT_LOOPBACK_MB_S, TP_TARGET, mb / TP_TARGET,
                   mb >= TP_TARGET ? "met" : "NOT met");
            printf("  same run: 70%% of %.0f MB/s = %.0f MB/s; ratio %.2f (%s)\n", lb, 0.7 * lb,
                   mb / (0.7 * lb), mb >= 0.7 * lb ? "met" : "NOT met");
            if (cs > 0 && cr > 0)
                printf("  CPU: sender %.0f MB per CPU-second, receiver %.0f MB per CPU-second\n",
                       mbt / cs, mbt / cr);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}
