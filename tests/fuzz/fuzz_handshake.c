/* fuzz_handshake.c - libFuzzer target for the responder's processing of handshake message 1,
 * exactly as the listener does it: the frame reader bounded to one message 1, then
 * jet_noise_ik_read1 (Noise IK ReadMessage, the node id bound to the static key), an
 * authorize decision, message 2 and Split.
 *
 * Input: byte 0 = mode.
 *   mode & 1: structured: a genuine message 1 from a known peer is built with the ephemeral key
 *             and replay value taken from the input, then (mode & 2) one bit of the framed
 *             message is flipped at the position given by the next two bytes: the genuine one
 *             must be accepted, every flipped one refused.
 *   otherwise the rest is raw wire bytes. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static int ready;
static uint8_t srv_ed_pk[32], srv_ed_sk[64], srv_x_sk[32], srv_x_pk[32];
static uint8_t cli_ed_pk[32], cli_ed_sk[64], cli_x_sk[32];
static uint8_t prologue[JET_NOISE_PROLOGUE_LEN];

static void setup(void) {
    uint8_t seed[32] = {1}, nk[32] = {2};
    if (sodium_init() < 0)
        abort();
    crypto_sign_seed_keypair(srv_ed_pk, srv_ed_sk, seed);
    seed[0] = 3;
    crypto_sign_seed_keypair(cli_ed_pk, cli_ed_sk, seed);
    if (crypto_sign_ed25519_sk_to_curve25519(srv_x_sk, srv_ed_sk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(cli_x_sk, cli_ed_sk) != 0)
        abort();
    crypto_scalarmult_base(srv_x_pk, srv_x_sk);
    jet_noise_prologue(nk, prologue);
    ready = 1;
}

/* The listener's steps for one connection's first bytes; returns 1 if established. */
static int respond(const uint8_t *wire, size_t len, uint8_t node_id[32]) {
    jet_noise_reader r;
    jet_noise_handshake hs;
    jet_noise_cipher rx, tx;
    uint8_t *ptr, *body, msg2[JET_NOISE_MSG2_LEN];
    size_t room, blen, pos = 0;
    uint64_t value;
    int ok = 0, rc = 0;

    jet_noise_reader_init(&r, JET_NOISE_MSG1_LEN, 0);
    jet_noise_handshake_init_pk(&hs, JET_NOISE_IK, 0, prologue, sizeof prologue, srv_x_sk, srv_x_pk,
                                NULL);
    while (pos < len && rc == 0) {
        if (jet_noise_reader_space(&r, 64, &ptr, &room) != 0 || room == 0)
            break;
        size_t n = room < len - pos ? room : len - pos;
        memcpy(ptr, wire + pos, n);
        jet_noise_reader_commit(&r, n);
        pos += n;
        rc = jet_noise_reader_next(&r, &body, &blen);
    }
    CHECK(r.peak_cap <= 4 + JET_NOISE_MSG1_LEN);
    if (rc == 1 && jet_noise_ik_read1(&hs, body, blen, node_id, &value) == 0 &&
        memcmp(node_id, cli_ed_pk, 32) == 0) { /* authorize: the one known peer */
        CHECK(jet_noise_ik_write2(&hs, msg2) == 0);
        CHECK(jet_noise_handshake_split(&hs, &rx, &tx) == 0);
        jet_noise_cipher_fini(&rx);
        jet_noise_cipher_fini(&tx);
        ok = 1;
    }
    jet_noise_handshake_fini(&hs);
    jet_noise_reader_fini(&r);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t node_id[32];
    if (!ready)
        setup();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    if ((mode & 1) && size >= 40) {
        jet_noise_handshake hs;
        uint8_t wire[4 + JET_NOISE_MSG1_LEN];
        jet_noise_handshake_init(&hs, JET_NOISE_IK, 1, prologue, sizeof prologue, cli_x_sk,
                                 srv_x_pk);
        jet_noise_handshake_set_ephemeral(&hs, data);
        jet_put_be32(wire, JET_NOISE_MSG1_LEN);
        CHECK(jet_noise_ik_write1(&hs, cli_ed_pk, jet_get_be64(data + 32), wire + 4) == 0);
        jet_noise_handshake_fini(&hs);
        int flipped = 0;
        if ((mode & 2) && size >= 42) {
            size_t bit = ((size_t)data[40] << 8 | data[41]) % (sizeof wire * 8);
            wire[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            flipped = 1;
        }
        int ok = respond(wire, sizeof wire, node_id);
        /* An all-zero DH result (low-order ephemeral) is refused too, so only check that a
         * genuine message passes when its ephemeral key is a normal one. */
        if (flipped)
            CHECK(!ok);
        else if (!ok) {
            uint8_t pk[32], zero[32] = {0};
            crypto_scalarmult_base(pk, data);
            CHECK(sodium_memcmp(pk, zero, 32) == 0);
        }
    } else {
        (void)respond(data, size, node_id);
    }
    return 0;
}
