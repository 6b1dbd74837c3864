/* test_noise.c - the Noise implementation against the public test vectors in
 * ../shared/noise-vectors/ (read at run time, never copied), plus jetsync's IK messages, the
 * rekey rule and the frame reader. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <sodium.h>

#include "encoding.h"
#include "error.h"
#include "noise.h"

#define VECTORS JET_SHARED_DIR "/noise-vectors/ik-xx-25519-chachapoly-blake2b.json"
#define EXPECTED_VECTORS 14

/* Decodes hex into a fresh buffer (never NULL); *len gets its length. */
static uint8_t *unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex) / 2, out_len = 0;
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(sodium_hex2bin(buf, n + 1, hex, strlen(hex), NULL, &out_len, NULL), 0);
    assert_int_equal(out_len, n);
    *len = n;
    return buf;
}

static uint8_t *field(json_t *v, const char *name, size_t *len) {
    json_t *f = json_object_get(v, name);
    if (f == NULL || !json_is_string(f))
        return NULL;
    return unhex(json_string_value(f), len);
}

static void key32(json_t *v, const char *name, uint8_t out[32]) {
    size_t len = 0;
    uint8_t *b = field(v, name, &len);
    assert_non_null(b);
    assert_int_equal(len, 32);
    memcpy(out, b, 32);
    free(b);
}

static int has_psk(json_t *v) {
    json_t *p = json_object_get(v, "init_psks");
    return strstr(json_string_value(json_object_get(v, "protocol_name")), "psk") != NULL ||
           (p != NULL && json_array_size(p) > 0);
}

/* Runs one vector: both parties, every message; returns the number of messages checked. */
static int run_vector(json_t *v) {
    const char *proto = json_string_value(json_object_get(v, "protocol_name"));
    jet_noise_pattern pat =
        strcmp(proto, "Noise_IK_25519_ChaChaPoly_BLAKE2b") == 0 ? JET_NOISE_IK : JET_NOISE_XX;
    int hs_msgs = pat == JET_NOISE_IK ? 2 : 3;
    uint8_t is[32], ie[32], rsk[32], re[32], rpub[32];
    size_t ipl = 0, rpl = 0;
    uint8_t *ipro = field(v, "init_prologue", &ipl), *rpro = field(v, "resp_prologue", &rpl);
    jet_noise_handshake ini, res;
    jet_noise_cipher i_send, i_recv, r_send, r_recv;
    json_t *msgs = json_object_get(v, "messages");
    int checked = 0;

    key32(v, "init_static", is);
    key32(v, "init_ephemeral", ie);
    key32(v, "resp_static", rsk);
    key32(v, "resp_ephemeral", re);
    crypto_scalarmult_base(rpub, rsk);
    if (pat == JET_NOISE_IK) {
        uint8_t given[32];
        key32(v, "init_remote_static", given);
        assert_memory_equal(given, rpub, 32);
    }
    assert_int_equal(
        jet_noise_handshake_init(&ini, pat, 1, ipro, ipl, is, pat == JET_NOISE_IK ? rpub : NULL),
        0);
    assert_int_equal(jet_noise_handshake_init(&res, pat, 0, rpro, rpl, rsk, NULL), 0);
    jet_noise_handshake_set_ephemeral(&ini, ie);
    jet_noise_handshake_set_ephemeral(&res, re);

    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        size_t pl = 0, cl = 0, out_len = 0, got_len = 0;
        uint8_t *payload = unhex(json_string_value(json_object_get(m, "payload")), &pl);
        uint8_t *ct = unhex(json_string_value(json_object_get(m, "ciphertext")), &cl);
        uint8_t *out = malloc(pl + 200), *got = malloc(cl + 1);
        int from_init = i % 2 == 0;
        assert_non_null(out);
        assert_non_null(got);
        if ((int)i < hs_msgs) {
            jet_noise_handshake *w = from_init ? &ini : &res, *r = from_init ? &res : &ini;
            assert_int_equal(jet_noise_handshake_write(w, payload, pl, out, pl + 200, &out_len), 0);
            assert_int_equal(out_len, cl);
            assert_memory_equal(out, ct, cl);
            assert_int_equal(jet_noise_handshake_read(r, ct, cl, got, cl, &got_len), 0);
            assert_int_equal(got_len, pl);
            if (pl > 0)
                assert_memory_equal(got, payload, pl);
            if ((int)i == hs_msgs - 1) {
                size_t hl = 0;
                uint8_t *hh = field(v, "handshake_hash", &hl);
                assert_true(jet_noise_handshake_done(&ini) && jet_noise_handshake_done(&res));
                assert_memory_equal(jet_noise_handshake_hash(&ini), jet_noise_handshake_hash(&res),
                                    JET_NOISE_HASHLEN);
                if (hh != NULL) {
                    assert_int_equal(hl, JET_NOISE_HASHLEN);
                    assert_memory_equal(jet_noise_handshake_hash(&ini), hh, hl);
                    free(hh);
                }
                assert_int_equal(jet_noise_handshake_split(&ini, &i_send, &i_recv), 0);
                assert_int_equal(jet_noise_handshake_split(&res, &r_recv, &r_send), 0);
            }
        } else {
            jet_noise_cipher *w = from_init ? &i_send : &r_send, *r = from_init ? &r_recv : &i_recv;
            assert_int_equal(jet_noise_cipher_encrypt(w, NULL, 0, payload, pl, out), 0);
            assert_int_equal(pl + JET_NOISE_TAGLEN, cl);
            assert_memory_equal(out, ct, cl);
            assert_int_equal(jet_noise_cipher_decrypt(r, NULL, 0, ct, cl, got), 0);
            if (pl > 0)
                assert_memory_equal(got, payload, pl);
        }
        checked++;
        free(payload);
        free(ct);
        free(out);
        free(got);
    }
    assert_true(checked > hs_msgs);
    jet_noise_handshake_fini(&ini);
    jet_noise_handshake_fini(&res);
    free(ipro);
    free(rpro);
    return checked;
}

static void test_vectors(void **state) {
    json_error_t err;
    json_t *root = json_load_file(VECTORS, 0, &err);
    int passed = 0, messages = 0;
    if (root == NULL)
        fail_msg("%s:%d:%d: %s", VECTORS, err.line, err.column, err.text);
    json_t *vectors = json_object_get(root, "vectors");
    assert_true(json_array_size(vectors) > 0);
    for (size_t i = 0; i < json_array_size(vectors); i++) {
        json_t *v = json_array_get(vectors, i);
        const char *proto = json_string_value(json_object_get(v, "protocol_name"));
        if (has_psk(v))
            continue;
        assert_true(strcmp(proto, "Noise_IK_25519_ChaChaPoly_BLAKE2b") == 0 ||
                    strcmp(proto, "Noise_XX_25519_ChaChaPoly_BLAKE2b") == 0);
        messages += run_vector(v);
        passed++;
        printf("vector ok: %s (%s)\n", proto, json_string_value(json_object_get(v, "name")));
    }
    printf("noise vectors passed: %d of %d non-PSK (%d messages)\n", passed, EXPECTED_VECTORS,
           messages);
    assert_int_equal(passed, EXPECTED_VECTORS);
    json_decref(root);
    (void)state;
}

/* A flipped byte anywhere in a vector message makes the reader fail. */
static void test_vector_tamper(void **state) {
    uint8_t is[32], rsk[32], rpub[32], msg[JET_NOISE_MSG1_LEN], id[32], got_id[32];
    uint8_t ed_pk[32], ed_sk[64];
    uint64_t value = 0;
    crypto_sign_keypair(ed_pk, ed_sk);
    crypto_sign_ed25519_sk_to_curve25519(is, ed_sk);
    memcpy(id, ed_pk, 32);
    randombytes_buf(rsk, 32);
    crypto_scalarmult_base(rpub, rsk);
    for (size_t i = 0; i < JET_NOISE_MSG1_LEN * 8; i++) {
        jet_noise_handshake a, b;
        uint8_t pro[JET_NOISE_PROLOGUE_LEN], nk[32] = {1};
        jet_noise_prologue(nk, pro);
        assert_int_equal(jet_noise_handshake_init(&a, JET_NOISE_IK, 1, pro, sizeof pro, is, rpub),
                         0);
        assert_int_equal(jet_noise_handshake_init(&b, JET_NOISE_IK, 0, pro, sizeof pro, rsk, NULL),
                         0);
        assert_int_equal(jet_noise_ik_write1(&a, id, 77, msg), 0);
        if (i == 0) {
            assert_int_equal(jet_noise_ik_read1(&b, msg, sizeof msg, got_id, &value), 0);
            assert_memory_equal(got_id, id, 32);
            assert_int_equal(value, 77);
        }
        msg[i / 8] ^= (uint8_t)(1u << (i % 8));
        jet_noise_handshake_fini(&b);
        assert_int_equal(jet_noise_handshake_init(&b, JET_NOISE_IK, 0, pro, sizeof pro, rsk, NULL),
                         0);
        int rc = jet_noise_ik_read1(&b, msg, sizeof msg, got_id, &value);
        assert_true(rc == JET_EAUTH || rc == JET_EPEER);
        jet_noise_handshake_fini(&a);
        jet_noise_handshake_fini(&b);
    }
    (void)state;
}

/* Our full IK exchange with derived static keys, and the wrong network key. */
static void test_ik_messages(void **state) {
    uint8_t a_pk[32], a_sk[64], b_pk[32], b_sk[64], ax[32], bx[32], bxp[32], tmp[32];
    uint8_t nk[32], nk2[32], pro[JET_NOISE_PROLOGUE_LEN], pro2[JET_NOISE_PROLOGUE_LEN];
    uint8_t m1[JET_NOISE_MSG1_LEN], m2[JET_NOISE_MSG2_LEN], id[32];
    uint64_t value = 0;
    jet_noise_handshake a, b;
    jet_noise_cipher a_tx, a_rx, b_tx, b_rx;

    crypto_sign_keypair(a_pk, a_sk);
    crypto_sign_keypair(b_pk, b_sk);
    crypto_sign_ed25519_sk_to_curve25519(ax, a_sk);
    crypto_sign_ed25519_sk_to_curve25519(bx, b_sk);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(bxp, b_pk), 0);
    crypto_scalarmult_base(tmp, bx);
    assert_memory_equal(tmp, bxp, 32);
    randombytes_buf(nk, 32);
    memcpy(nk2, nk, 32);
    nk2[31] ^= 1;
    jet_noise_prologue(nk, pro);
    jet_noise_prologue(nk2, pro2);
    assert_memory_equal(pro, "jetsync/1", 9);
    {
        /* The example in docs/protocol.md ("Prologue"). */
        uint8_t zero[32] = {0}, ex[JET_NOISE_PROLOGUE_LEN];
        char hex[2 * JET_NOISE_PROLOGUE_LEN + 1];
        jet_noise_prologue(zero, ex);
        jet_hex_format(ex, sizeof ex, hex);
        assert_string_equal(hex, "6a657473796e632f31bf58b3154ab5198f6af22708e4289830817ff6e89ca9"
                                 "0d26050ba3fb13f6ab9d");
    }

    assert_int_equal(jet_noise_handshake_init(&a, JET_NOISE_IK, 1, pro, sizeof pro, ax, bxp), 0);
    assert_int_equal(jet_noise_handshake_init(&b, JET_NOISE_IK, 0, pro, sizeof pro, bx, NULL), 0);
    assert_int_equal(jet_noise_ik_write1(&a, a_pk, 0x0102030405060708ull, m1), 0);
    assert_int_equal(jet_noise_ik_read1(&b, m1, sizeof m1, id, &value), 0);
    assert_memory_equal(id, a_pk, 32);
    assert_int_equal(value, 0x0102030405060708ull);
    assert_int_equal(jet_noise_ik_write2(&b, m2), 0);
    assert_int_equal(jet_noise_ik_read2(&a, m2, sizeof m2), 0);
    assert_int_equal(jet_noise_handshake_split(&a, &a_tx, &a_rx), 0);
    assert_int_equal(jet_noise_handshake_split(&b, &b_rx, &b_tx), 0);
    assert_memory_equal(a_tx.k, b_rx.k, 32);
    assert_memory_equal(a_rx.k, b_tx.k, 32);
    jet_noise_handshake_fini(&b);

    /* Another network: message 1 does not decrypt. */
    assert_int_equal(jet_noise_handshake_init(&b, JET_NOISE_IK, 0, pro2, sizeof pro2, bx, NULL), 0);
    assert_int_equal(jet_noise_ik_read1(&b, m1, sizeof m1, id, &value), JET_EAUTH);
    jet_noise_handshake_fini(&b);

    /* A node id that is not the static key's owner. */
    jet_noise_handshake_fini(&a);
    assert_int_equal(jet_noise_handshake_init(&a, JET_NOISE_IK, 1, pro, sizeof pro, ax, bxp), 0);
    assert_int_equal(jet_noise_handshake_init(&b, JET_NOISE_IK, 0, pro, sizeof pro, bx, NULL), 0);
    assert_int_equal(jet_noise_ik_write1(&a, b_pk, 1, m1), 0);
    assert_int_equal(jet_noise_ik_read1(&b, m1, sizeof m1, id, &value), JET_EPEER);
    /* Wrong lengths. */
    assert_int_equal(jet_noise_ik_read1(&b, m1, sizeof m1 - 1, id, &value), JET_EDECODE);
    jet_noise_handshake_fini(&a);
    jet_noise_handshake_fini(&b);
    (void)state;
}

/* Rekey happens at the same frame on both sides and changes the key. */
static void test_rekey_rule(void **state) {
    uint8_t k[32], buf[64], ct[64 + 16];
    jet_noise_cipher tx, rx;
    randombytes_buf(k, sizeof k);
    jet_noise_cipher_init(&tx, k);
    jet_noise_cipher_init(&rx, k);
    /* Jump close to the boundary, as if 2^20 - 2 frames had passed. */
    tx.n = rx.n = JET_NOISE_REKEY_INTERVAL - 2;
    for (int i = 0; i < 4; i++) {
        memset(buf, i, sizeof buf);
        assert_int_equal(jet_noise_transport_seal(&tx, buf, sizeof buf, ct), 0);
        assert_int_equal(jet_noise_transport_open(&rx, ct, sizeof ct, ct), 0);
        assert_memory_equal(ct, buf, sizeof buf);
        if (tx.n == JET_NOISE_REKEY_INTERVAL)
            assert_memory_not_equal(tx.k, k, 32);
    }
    assert_int_equal(tx.n, JET_NOISE_REKEY_INTERVAL + 2);
    /* Rekey itself: ENCRYPT(k, 2^64-1, empty, zeros)[0:32]. */
    jet_noise_cipher c;
    uint8_t expect[48], zeros[32] = {0}, nonce[12];
    jet_noise_cipher_init(&c, k);
    memset(nonce, 0, 4);
    memset(nonce + 4, 0xff, 8);
    crypto_aead_chacha20poly1305_ietf_encrypt(expect, NULL, zeros, 32, NULL, 0, NULL, nonce, k);
    jet_noise_cipher_rekey(&c);
    assert_memory_equal(c.k, expect, 32);
    /* The last nonce is reserved. */
    c.n = UINT64_MAX;
    assert_int_equal(jet_noise_cipher_encrypt(&c, NULL, 0, buf, 4, ct), JET_ELIMIT);
    (void)state;
}

/* The reader: partial reads of every size, the bound, and a 4 GiB prefix. */
static void test_reader(void **state) {
    jet_noise_reader r;
    uint8_t wire[3 * (4 + 1000)], *ptr, *body;
    size_t len, blen, pos = 0, got = 0;
    for (int f = 0; f < 3; f++) {
        jet_put_be32(wire + f * 1004, 1000);
        memset(wire + f * 1004 + 4, 'a' + f, 1000);
    }
    for (size_t chunk = 1; chunk < 1100; chunk += 37) {
        jet_noise_reader_init(&r, 1000, 64 * 1024);
        pos = got = 0;
        while (pos < sizeof wire) {
            assert_int_equal(jet_noise_reader_space(&r, chunk, &ptr, &len), 0);
            size_t n = chunk < len ? chunk : len;
            if (n > sizeof wire - pos)
                n = sizeof wire - pos;
            memcpy(ptr, wire + pos, n);
            jet_noise_reader_commit(&r, n);
            pos += n;
            int rc;
            while ((rc = jet_noise_reader_next(&r, &body, &blen)) == 1) {
                assert_int_equal(blen, 1000);
                assert_int_equal(body[0], 'a' + (int)got);
                assert_int_equal(body[999], 'a' + (int)got);
                got++;
            }
            assert_int_equal(rc, 0);
        }
        assert_int_equal(got, 3);
        assert_true(r.peak_cap <= 64 * 1024);
        jet_noise_reader_fini(&r);
    }
    jet_noise_reader_init(&r, 1 << 20, 64 * 1024);
    assert_int_equal(jet_noise_reader_space(&r, 65536, &ptr, &len), 0);
    memset(ptr, 0xff, 4);
    jet_noise_reader_commit(&r, 4);
    assert_int_equal(jet_noise_reader_next(&r, &body, &blen), JET_ETOOBIG);
    assert_int_equal(jet_noise_reader_space(&r, 65536, &ptr, &len), 0);
    assert_true(r.peak_cap <= 4 + (1 << 20));
    jet_noise_reader_fini(&r);
    (void)state;
}

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* The reader wipes what it received, not its whole buffer: a frame announced large but cut
 * short (or a buffer grown for one) must not make the kernel map 16 MiB of pages only to zero
 * them when the reader ends. Also: what the wipe covers tracks every byte received. */
static void test_reader_wipes_only_what_it_received(void **state) {
    const size_t big = 16u << 20;
    jet_noise_reader r;
    uint8_t *ptr, *body;
    size_t len, blen;
    jet_noise_reader_init(&r, big, 64 * 1024);
    assert_int_equal(jet_noise_reader_space(&r, 64, &ptr, &len), 0);
    jet_put_be32(ptr, (uint32_t)big);
    memset(ptr + 4, 0xab, 60);
    jet_noise_reader_commit(&r, 64);
    assert_int_equal(r.used, 64);
    assert_int_equal(jet_noise_reader_next(&r, &body, &blen), 0); /* the body is incomplete */
    assert_int_equal(jet_noise_reader_space(&r, 64, &ptr, &len), 0);
    assert_true(r.cap >= 4 + big); /* grown for the whole frame */
    assert_int_equal(r.used, 64);  /* the 64 bytes moved; nothing else was written */
    memset(ptr, 0xcd, 100);
    jet_noise_reader_commit(&r, 100);
    assert_int_equal(r.used, 164);
    long before = minor_faults();
    jet_noise_reader_fini(&r);
    long faults = minor_faults() - before;
    /* Wiping all of it took one fault per 4 KiB page: 4,096. */
    assert_true(faults < 1024);
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_wipes_only_what_it_received),
        cmocka_unit_test(test_vectors),     cmocka_unit_test(test_vector_tamper),
        cmocka_unit_test(test_ik_messages), cmocka_unit_test(test_rekey_rule),
        cmocka_unit_test(test_reader),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
