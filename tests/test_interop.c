/* test_interop.c - an independent Noise implementation completes the handshake with our
 * listener and exchanges frames with it, given only docs/protocol.md: tests/interop/client.js
 * uses the npm package noise-protocol (its own Noise state machine, HKDF and framing code).
 *
 * Skipped (not failed) when node or the npm modules are absent: tests/interop/run.sh installs
 * them and runs this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "channel.h"
#include "encoding.h"
#include "error.h"

#define INTEROP_DIR JET_SOURCE_DIR "/tests/interop"

static jet_channel_identity srv, cli;
static int established, frames, closed, exited = -1;
static int64_t exit_status = -1;
static jet_listener *listener;

static int authorize(void *ctx, const uint8_t id[32], uint64_t value) {
    (void)ctx, (void)value;
    return memcmp(id, cli.ed25519_pk, 32) == 0 ? 0 : JET_EPEER;
}

static void on_established(jet_channel *ch, const uint8_t id[32]) {
    (void)ch;
    if (memcmp(id, cli.ed25519_pk, 32) == 0)
        established++;
}

static void on_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    frames++;
    (void)jet_channel_send(ch, data, len);
}

static void on_closed(jet_channel *ch, int reason) {
    (void)ch, (void)reason;
    closed++;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    exit_status = status;
    exited = sig;
    uv_close((uv_handle_t *)p, NULL);
    jet_listener_close(listener, NULL, NULL);
}

static void test_noise_protocol_client(void **state) {
    uv_loop_t loop;
    jet_channel_config cfg;
    char addr[64], id[JET_NODE_ID_BUF], sk_hex[129], nk_hex[65];
    uv_process_t proc;
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    (void)state;

    if (access(INTEROP_DIR "/node_modules/noise-protocol/index.js", R_OK) != 0) {
        printf("skipped: run tests/interop/run.sh to install the npm modules\n");
        skip();
    }
    uv_loop_init(&loop);
    memset(&cfg, 0, sizeof cfg);
    cfg.loop = &loop;
    cfg.identity = &srv;
    jet_channel_limits_default(&cfg.limits);
    cfg.cb.authorize = authorize;
    cfg.cb.on_established = on_established;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_closed = on_closed;
    assert_int_equal(jet_listener_start(&cfg, "127.0.0.1:0", &listener), 0);
    assert_int_equal(jet_listener_address(listener, addr, sizeof addr), 0);

    jet_node_id_format(srv.ed25519_pk, id);
    jet_hex_format(cli.ed25519_sk, 64, sk_hex);
    jet_hex_format(srv.network_key, 32, nk_hex);
    char *args[] = {"node", INTEROP_DIR "/client.js", addr, id, sk_hex, nk_hex, NULL};
    memset(&opt, 0, sizeof opt);
    opt.file = "node";
    opt.args = args;
    opt.exit_cb = on_exit_cb;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    int rc = uv_spawn(&loop, &proc, &opt);
    if (rc == UV_ENOENT) {
        uv_close((uv_handle_t *)&proc, NULL);
        jet_listener_close(listener, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        printf("skipped: node is not installed\n");
        skip();
    }
    assert_int_equal(rc, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(exited, 0);
    assert_int_equal(exit_status, 0);
    assert_int_equal(established, 1);
    assert_int_equal(frames, 3);
    assert_int_equal(closed, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_noise_protocol_client)};
    uint8_t nk[32];
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(nk, sizeof nk);
    crypto_sign_keypair(srv.ed25519_pk, srv.ed25519_sk);
    crypto_sign_keypair(cli.ed25519_pk, cli.ed25519_sk);
    memcpy(srv.network_key, nk, 32);
    memcpy(cli.network_key, nk, 32);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
