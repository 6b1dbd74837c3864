/* noise.c - Noise (revision 34) for 25519 / ChaChaPoly / BLAKE2b with the patterns IK and XX,
 * jetsync's IK messages, and the length-prefixed frame reader.
 *
 * Each step is named after the specification's own words (MixKey, MixHash, EncryptAndHash,
 * the tokens e, s, ee, es, se, ss) so that the code can be read against section 5 of the
 * specification line by line. The public test vectors (tests/test_noise.c) check it. */
#include "noise.h"

#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

/* ---------------------------------------------------------------- hash, HMAC, HKDF */

/* HMAC-BLAKE2b over the concatenation of two inputs, so that HKDF needs no scratch copies. */
static void hmac2(const uint8_t *key, size_t key_len, const uint8_t *d1, size_t l1,
                  const uint8_t *d2, size_t l2, uint8_t out[JET_NOISE_HASHLEN]) {
    uint8_t block[JET_NOISE_BLOCKLEN];
    uint8_t inner[JET_NOISE_HASHLEN];
    crypto_generichash_blake2b_state st;

    assert(key_len <= JET_NOISE_BLOCKLEN);
    memset(block, 0, sizeof block);
    memcpy(block, key, key_len);
    for (size_t i = 0; i < sizeof block; i++)
        block[i] ^= 0x36;
    crypto_generichash_blake2b_init(&st, NULL, 0, JET_NOISE_HASHLEN);
    crypto_generichash_blake2b_update(&st, block, sizeof block);
    if (l1 > 0)
        crypto_generichash_blake2b_update(&st, d1, l1);
    if (l2 > 0)
        crypto_generichash_blake2b_update(&st, d2, l2);
    crypto_generichash_blake2b_final(&st, inner, sizeof inner);

    for (size_t i = 0; i < sizeof block; i++)
        block[i] ^= 0x36 ^ 0x5c;
    crypto_generichash_blake2b_init(&st, NULL, 0, JET_NOISE_HASHLEN);
    crypto_generichash_blake2b_update(&st, block, sizeof block);
    crypto_generichash_blake2b_update(&st, inner, sizeof inner);
    crypto_generichash_blake2b_final(&st, out, JET_NOISE_HASHLEN);

    sodium_memzero(block, sizeof block);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&st, sizeof st);
}

void jet_noise_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
                    uint8_t out[JET_NOISE_HASHLEN]) {
    hmac2(key, key_len, data, data_len, NULL, 0, out);
}

void jet_noise_hkdf(const uint8_t ck[JET_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len, int n,
                    uint8_t *out1, uint8_t *out2, uint8_t *out3) {
    uint8_t temp_key[JET_NOISE_HASHLEN];
    const uint8_t one = 0x01, two = 0x02, three = 0x03;

    assert(n == 2 || n == 3);
    hmac2(ck, JET_NOISE_HASHLEN, ikm, ikm_len, NULL, 0, temp_key);
    hmac2(temp_key, sizeof temp_key, &one, 1, NULL, 0, out1);
    hmac2(temp_key, sizeof temp_key, out1, JET_NOISE_HASHLEN, &two, 1, out2);
    if (n == 3)
        hmac2(temp_key, sizeof temp_key, out2, JET_NOISE_HASHLEN, &three, 1, out3);
    sodium_memzero(temp_key, sizeof temp_key);
}

/* ---------------------------------------------------------------- CipherState */

static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t n) {
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

void jet_noise_cipher_init(jet_noise_cipher *c, const uint8_t *k) {
    if (k != NULL) {
        memcpy(c->k, k, JET_NOISE_KEYLEN);
        c->has_key = 1;
    } else {
        sodium_memzero(c->k, JET_NOISE_KEYLEN);
        c->has_key = 0;
    }
    c->n = 0;
}

void jet_noise_cipher_fini(jet_noise_cipher *c) {
    sodium_memzero(c, sizeof *c);
}

int jet_noise_cipher_encrypt(jet_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                             const uint8_t *in, size_t len, uint8_t *out) {
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

    if (!c->has_key) {
        if (out != in && len > 0)
            memmove(out, in, len);
        return 0;
    }
    if (c->n == UINT64_MAX)
        return JET_ELIMIT;
    make_nonce(nonce, c->n);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, ad, ad_len,
                                                       NULL, nonce, c->k);
    c->n++;
    return 0;
}

int jet_noise_cipher_decrypt(jet_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                             const uint8_t *in, size_t len, uint8_t *out) {
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

    if (!c->has_key) {
        if (out != in && len > 0)
            memmove(out, in, len);
        return 0;
    }
    if (len < JET_NOISE_TAGLEN)
        return JET_EDECODE;
    if (c->n == UINT64_MAX)
        return JET_ELIMIT;
    make_nonce(nonce, c->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len - JET_NOISE_TAGLEN,
                                                           in + len - JET_NOISE_TAGLEN, ad, ad_len,
                                                           nonce, c->k) != 0)
        return JET_EAUTH;
    c->n++;
    return 0;
}

void jet_noise_cipher_rekey(jet_noise_cipher *c) {
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    uint8_t zeros[JET_NOISE_KEYLEN] = {0};
    uint8_t tag[JET_NOISE_TAGLEN];
    uint8_t next[JET_NOISE_KEYLEN];

    make_nonce(nonce, UINT64_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(next, tag, NULL, zeros, sizeof zeros, NULL,
                                                       0, NULL, nonce, c->k);
    memcpy(c->k, next, sizeof next);
    sodium_memzero(next, sizeof next);
}

int jet_noise_transport_seal(jet_noise_cipher *c, const uint8_t *in, size_t len, uint8_t *out) {
    int rc = jet_noise_cipher_encrypt(c, NULL, 0, in, len, out);
    if (rc == 0 && c->n % JET_NOISE_REKEY_INTERVAL == 0)
        jet_noise_cipher_rekey(c);
    return rc;
}

int jet_noise_transport_open(jet_noise_cipher *c, const uint8_t *in, size_t len, uint8_t *out) {
    int rc = jet_noise_cipher_decrypt(c, NULL, 0, in, len, out);
    if (rc == 0 && c->n % JET_NOISE_REKEY_INTERVAL == 0)
        jet_noise_cipher_rekey(c);
    return rc;
}

/* ---------------------------------------------------------------- SymmetricState */

static void mix_hash(jet_noise_symmetric *ss, const uint8_t *data, size_t len) {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, JET_NOISE_HASHLEN);
    crypto_generichash_blake2b_update(&st, ss->h, JET_NOISE_HASHLEN);
    if (len > 0)
        crypto_generichash_blake2b_update(&st, data, len);
    crypto_generichash_blake2b_final(&st, ss->h, JET_NOISE_HASHLEN);
}

static void mix_key(jet_noise_symmetric *ss, const uint8_t *ikm, size_t len) {
    uint8_t ck[JET_NOISE_HASHLEN], temp_k[JET_NOISE_HASHLEN];
    jet_noise_hkdf(ss->ck, ikm, len, 2, ck, temp_k, NULL);
    memcpy(ss->ck, ck, sizeof ck);
    jet_noise_cipher_init(&ss->cs, temp_k); /* truncated to 32 bytes */
    sodium_memzero(ck, sizeof ck);
    sodium_memzero(temp_k, sizeof temp_k);
}

/* Returns the number of bytes written: len, or len + 16 once a key is set. */
static int encrypt_and_hash(jet_noise_symmetric *ss, const uint8_t *pt, size_t len, uint8_t *out,
                            size_t *out_len) {
    int rc = jet_noise_cipher_encrypt(&ss->cs, ss->h, JET_NOISE_HASHLEN, pt, len, out);
    if (rc != 0)
        return rc;
    *out_len = len + (ss->cs.has_key ? JET_NOISE_TAGLEN : 0);
    mix_hash(ss, out, *out_len);
    return 0;
}

static int decrypt_and_hash(jet_noise_symmetric *ss, const uint8_t *ct, size_t len, uint8_t *out,
                            size_t *out_len) {
    int rc = jet_noise_cipher_decrypt(&ss->cs, ss->h, JET_NOISE_HASHLEN, ct, len, out);
    if (rc != 0)
        return rc;
    *out_len = len - (ss->cs.has_key ? JET_NOISE_TAGLEN : 0);
    mix_hash(ss, ct, len);
    return 0;
}

static void symmetric_init(jet_noise_symmetric *ss, const char *protocol_name) {
    size_t len = strlen(protocol_name);
    memset(ss, 0, sizeof *ss);
    if (len <= JET_NOISE_HASHLEN)
        memcpy(ss->h, protocol_name, len);
    else
        crypto_generichash_blake2b(ss->h, JET_NOISE_HASHLEN, (const uint8_t *)protocol_name, len,
                                   NULL, 0);
    memcpy(ss->ck, ss->h, JET_NOISE_HASHLEN);
    jet_noise_cipher_init(&ss->cs, NULL);
}

/* ---------------------------------------------------------------- HandshakeState */

typedef enum { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS } token;

enum { MAX_MESSAGES = 3, MAX_TOKENS = 5 };

typedef struct pattern_def {
    const char *protocol_name;
    int n_messages;
    int responder_static_premessage; /* "<- s" before the first message */
    token msgs[MAX_MESSAGES][MAX_TOKENS];
} pattern_def;

static const pattern_def patterns[] = {
    [JET_NOISE_IK] = {"Noise_IK_25519_ChaChaPoly_BLAKE2b",
                      2,
                      1,
                      {{TOK_E, TOK_ES, TOK_S, TOK_SS, TOK_END}, {TOK_E, TOK_EE, TOK_SE, TOK_END}}},
    [JET_NOISE_XX] = {"Noise_XX_25519_ChaChaPoly_BLAKE2b",
                      3,
                      0,
                      {{TOK_E, TOK_END},
                       {TOK_E, TOK_EE, TOK_S, TOK_ES, TOK_END},
                       {TOK_S, TOK_SE, TOK_END}}},
};

int jet_noise_handshake_init(jet_noise_handshake *hs, jet_noise_pattern pattern, int initiator,
                             const uint8_t *prologue, size_t prologue_len,
                             const uint8_t s_sk[JET_NOISE_DHLEN], const uint8_t *rs) {
    return jet_noise_handshake_init_pk(hs, pattern, initiator, prologue, prologue_len, s_sk, NULL,
                                       rs);
}

int jet_noise_handshake_init_pk(jet_noise_handshake *hs, jet_noise_pattern pattern, int initiator,
                                const uint8_t *prologue, size_t prologue_len,
                                const uint8_t s_sk[JET_NOISE_DHLEN],
                                const uint8_t s_pk[JET_NOISE_DHLEN], const uint8_t *rs) {
    const pattern_def *p;

    memset(hs, 0, sizeof *hs);
    if ((pattern != JET_NOISE_IK && pattern != JET_NOISE_XX) || s_sk == NULL)
        return JET_EINVAL;
    p = &patterns[pattern];
    if (p->responder_static_premessage && initiator && rs == NULL)
        return JET_EINVAL;
    hs->pattern = pattern;
    hs->initiator = initiator ? 1 : 0;
    symmetric_init(&hs->ss, p->protocol_name);
    mix_hash(&hs->ss, prologue, prologue_len);
    memcpy(hs->s_sk, s_sk, JET_NOISE_DHLEN);
    if (s_pk != NULL)
        memcpy(hs->s_pk, s_pk, JET_NOISE_DHLEN);
    else
        crypto_scalarmult_base(hs->s_pk, hs->s_sk);
    hs->has_s = 1;
    if (rs != NULL) {
        memcpy(hs->rs, rs, JET_NOISE_DHLEN);
        hs->has_rs = 1;
    }
    if (p->responder_static_premessage)
        mix_hash(&hs->ss, initiator ? hs->rs : hs->s_pk, JET_NOISE_DHLEN);
    return 0;
}

void jet_noise_handshake_set_ephemeral(jet_noise_handshake *hs,
                                       const uint8_t e_sk[JET_NOISE_DHLEN]) {
    memcpy(hs->e_sk, e_sk, JET_NOISE_DHLEN);
    crypto_scalarmult_base(hs->e_pk, hs->e_sk);
    hs->has_e = 1;
}

void jet_noise_handshake_fini(jet_noise_handshake *hs) {
    sodium_memzero(hs, sizeof *hs);
}

/* The DH tokens: which local private key meets which remote public key. */
static int dh_token(jet_noise_handshake *hs, token t) {
    const uint8_t *sk, *pk;
    uint8_t shared[JET_NOISE_DHLEN];
    int ok;

    switch (t) {
    case TOK_EE: sk = hs->e_sk, pk = hs->re, ok = hs->has_e && hs->has_re; break;
    case TOK_ES: /* initiator's e with responder's s */
        if (hs->initiator)
            sk = hs->e_sk, pk = hs->rs, ok = hs->has_e && hs->has_rs;
        else
            sk = hs->s_sk, pk = hs->re, ok = hs->has_s && hs->has_re;
        break;
    case TOK_SE: /* initiator's s with responder's e */
        if (hs->initiator)
            sk = hs->s_sk, pk = hs->re, ok = hs->has_s && hs->has_re;
        else
            sk = hs->e_sk, pk = hs->rs, ok = hs->has_e && hs->has_rs;
        break;
    case TOK_SS: sk = hs->s_sk, pk = hs->rs, ok = hs->has_s && hs->has_rs; break;
    default: return JET_EPROTO;
    }
    if (!ok)
        return JET_EPROTO;
    /* libsodium refuses an all-zero result (a low-order remote key): fail the handshake. */
    if (crypto_scalarmult(shared, sk, pk) != 0) {
        sodium_memzero(shared, sizeof shared);
        return JET_EAUTH;
    }
    mix_key(&hs->ss, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return 0;
}

static int our_turn_to_write(const jet_noise_handshake *hs) {
    /* Even messages go initiator -> responder. */
    return (hs->msg_index % 2 == 0) == (hs->initiator == 1);
}

int jet_noise_handshake_write(jet_noise_handshake *hs, const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t cap, size_t *out_len) {
    const pattern_def *p = &patterns[hs->pattern];
    size_t pos = 0, n;
    int rc = 0;

    if (hs->msg_index >= p->n_messages || !our_turn_to_write(hs))
        return JET_EPROTO;
    for (const token *t = p->msgs[hs->msg_index]; *t != TOK_END; t++) {
        switch (*t) {
        case TOK_E:
            if (cap - pos < JET_NOISE_DHLEN)
                return JET_ETOOBIG;
            if (!hs->has_e) {
                randombytes_buf(hs->e_sk, JET_NOISE_DHLEN);
                crypto_scalarmult_base(hs->e_pk, hs->e_sk);
                hs->has_e = 1;
            }
            memcpy(out + pos, hs->e_pk, JET_NOISE_DHLEN);
            pos += JET_NOISE_DHLEN;
            mix_hash(&hs->ss, hs->e_pk, JET_NOISE_DHLEN);
            break;
        case TOK_S:
            if (cap - pos < JET_NOISE_DHLEN + JET_NOISE_TAGLEN)
                return JET_ETOOBIG;
            if ((rc = encrypt_and_hash(&hs->ss, hs->s_pk, JET_NOISE_DHLEN, out + pos, &n)) != 0)
                return rc;
            pos += n;
            break;
        default:
            if ((rc = dh_token(hs, *t)) != 0)
                return rc;
            break;
        }
    }
    if (cap - pos < payload_len + JET_NOISE_TAGLEN ||
        pos + payload_len + JET_NOISE_TAGLEN > JET_NOISE_MAX_MESSAGE)
        return JET_ETOOBIG;
    if ((rc = encrypt_and_hash(&hs->ss, payload, payload_len, out + pos, &n)) != 0)
        return rc;
    *out_len = pos + n;
    hs->msg_index++;
    return 0;
}

int jet_noise_handshake_read(jet_noise_handshake *hs, const uint8_t *msg, size_t len,
                             uint8_t *payload, size_t cap, size_t *payload_len) {
    const pattern_def *p = &patterns[hs->pattern];
    size_t pos = 0, n, need;
    int rc;

    if (hs->msg_index >= p->n_messages || our_turn_to_write(hs))
        return JET_EPROTO;
    if (len > JET_NOISE_MAX_MESSAGE)
        return JET_EDECODE;
    for (const token *t = p->msgs[hs->msg_index]; *t != TOK_END; t++) {
        switch (*t) {
        case TOK_E:
            if (len - pos < JET_NOISE_DHLEN)
                return JET_EDECODE;
            memcpy(hs->re, msg + pos, JET_NOISE_DHLEN);
            hs->has_re = 1;
            pos += JET_NOISE_DHLEN;
            mix_hash(&hs->ss, hs->re, JET_NOISE_DHLEN);
            break;
        case TOK_S:
            need = JET_NOISE_DHLEN + (hs->ss.cs.has_key ? JET_NOISE_TAGLEN : 0);
            if (len - pos < need)
                return JET_EDECODE;
            if ((rc = decrypt_and_hash(&hs->ss, msg + pos, need, hs->rs, &n)) != 0)
                return rc;
            hs->has_rs = 1;
            pos += need;
            break;
        default:
            if ((rc = dh_token(hs, *t)) != 0)
                return rc;
            break;
        }
    }
    need = len - pos;
    if (hs->ss.cs.has_key && need < JET_NOISE_TAGLEN)
        return JET_EDECODE;
    if (need - (hs->ss.cs.has_key ? JET_NOISE_TAGLEN : 0) > cap)
        return JET_ETOOBIG;
    if ((rc = decrypt_and_hash(&hs->ss, msg + pos, need, payload, payload_len)) != 0)
        return rc;
    hs->msg_index++;
    return 0;
}

int jet_noise_handshake_done(const jet_noise_handshake *hs) {
    return hs->msg_index >= patterns[hs->pattern].n_messages;
}

int jet_noise_handshake_split(jet_noise_handshake *hs, jet_noise_cipher *c_i2r,
                              jet_noise_cipher *c_r2i) {
    uint8_t k1[JET_NOISE_HASHLEN], k2[JET_NOISE_HASHLEN];
    if (!jet_noise_handshake_done(hs))
        return JET_EPROTO;
    jet_noise_hkdf(hs->ss.ck, NULL, 0, 2, k1, k2, NULL);
    jet_noise_cipher_init(c_i2r, k1);
    jet_noise_cipher_init(c_r2i, k2);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    return 0;
}

const uint8_t *jet_noise_handshake_hash(const jet_noise_handshake *hs) {
    return hs->ss.h;
}

const uint8_t *jet_noise_handshake_remote_static(const jet_noise_handshake *hs) {
    return hs->has_rs ? hs->rs : NULL;
}

/* ---------------------------------------------------------------- jetsync's IK messages */

/* Slots of the memo: enough for every peer of a partnership (hundreds at most) to stay in it, so
 * that a lead meeting its regions one after another never converts a key twice. A key's slot
 * is found from its first bytes (uniformly random for real keys), probing a few next ones. */
enum { ED_MEMO = 1024, ED_MEMO_PROBE = 8 };

/* Public keys only, so nothing here needs wiping. */
static struct {
    pthread_mutex_t mu;
    uint8_t used[ED_MEMO];
    uint8_t ed[ED_MEMO][32];
    uint8_t x[ED_MEMO][32];
} ed_memo = {PTHREAD_MUTEX_INITIALIZER, {0}, {{0}}, {{0}}};

static unsigned memo_home(const uint8_t ed[32]) {
    return ((unsigned)ed[0] | (unsigned)ed[1] << 8) % ED_MEMO;
}

int jet_noise_ed25519_pk_to_x25519(const uint8_t ed[32], uint8_t x[32]) {
    unsigned home = memo_home(ed);
    int found = 0;
    pthread_mutex_lock(&ed_memo.mu);
    for (unsigned k = 0; k < ED_MEMO_PROBE && !found; k++) {
        unsigned i = (home + k) % ED_MEMO;
        if (ed_memo.used[i] && memcmp(ed_memo.ed[i], ed, 32) == 0) {
            memcpy(x, ed_memo.x[i], 32);
            found = 1;
        }
    }
    pthread_mutex_unlock(&ed_memo.mu);
    if (found)
        return 0;
    if (crypto_sign_ed25519_pk_to_curve25519(x, ed) != 0)
        return JET_EINVAL;
    pthread_mutex_lock(&ed_memo.mu);
    /* The first free slot of the probe, else the home slot (its old key is converted again
     * when it comes back). */
    unsigned slot = home;
    for (unsigned k = 0; k < ED_MEMO_PROBE; k++)
        if (!ed_memo.used[(home + k) % ED_MEMO]) {
            slot = (home + k) % ED_MEMO;
            break;
        }
    ed_memo.used[slot] = 1;
    memcpy(ed_memo.ed[slot], ed, 32);
    memcpy(ed_memo.x[slot], x, 32);
    pthread_mutex_unlock(&ed_memo.mu);
    return 0;
}

static const char prologue_name[] = "jetsync/1";
static const char network_domain[] = "jetsync network key";

void jet_noise_prologue(const uint8_t network_key[32], uint8_t out[JET_NOISE_PROLOGUE_LEN]) {
    crypto_generichash_blake2b_state st;
    memcpy(out, prologue_name, 9);
    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    crypto_generichash_blake2b_update(&st, (const uint8_t *)network_domain, 19);
    crypto_generichash_blake2b_update(&st, network_key, 32);
    crypto_generichash_blake2b_final(&st, out + 9, 32);
    sodium_memzero(&st, sizeof st);
}

int jet_noise_ik_write1(jet_noise_handshake *hs, const uint8_t node_id[32], uint64_t hs_value,
                        uint8_t out[JET_NOISE_MSG1_LEN]) {
    uint8_t payload[JET_NOISE_PAYLOAD1_LEN];
    size_t n = 0;
    int rc;

    memcpy(payload, node_id, 32);
    jet_put_be64(payload + 32, hs_value);
    rc = jet_noise_handshake_write(hs, payload, sizeof payload, out, JET_NOISE_MSG1_LEN, &n);
    if (rc == 0 && n != JET_NOISE_MSG1_LEN)
        rc = JET_EPROTO;
    return rc;
}

int jet_noise_ik_read1(jet_noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t node_id[32],
                       uint64_t *hs_value) {
    uint8_t payload[JET_NOISE_PAYLOAD1_LEN];
    uint8_t x_pk[32];
    size_t n = 0;
    int rc;

    if (len != JET_NOISE_MSG1_LEN)
        return JET_EDECODE;
    if ((rc = jet_noise_handshake_read(hs, msg, len, payload, sizeof payload, &n)) != 0)
        return rc;
    if (n != JET_NOISE_PAYLOAD1_LEN)
        return JET_EDECODE;
    /* The node id must name the key that just proved itself with `ss` and `s`. */
    if (jet_noise_ed25519_pk_to_x25519(payload, x_pk) != 0 || sodium_memcmp(x_pk, hs->rs, 32) != 0)
        return JET_EPEER;
    memcpy(node_id, payload, 32);
    *hs_value = jet_get_be64(payload + 32);
    return 0;
}

int jet_noise_ik_write2(jet_noise_handshake *hs, uint8_t out[JET_NOISE_MSG2_LEN]) {
    size_t n = 0;
    int rc = jet_noise_handshake_write(hs, NULL, 0, out, JET_NOISE_MSG2_LEN, &n);
    if (rc == 0 && n != JET_NOISE_MSG2_LEN)
        rc = JET_EPROTO;
    return rc;
}

int jet_noise_ik_read2(jet_noise_handshake *hs, const uint8_t *msg, size_t len) {
    uint8_t payload[1];
    size_t n = 0;
    int rc;

    if (len != JET_NOISE_MSG2_LEN)
        return JET_EDECODE;
    rc = jet_noise_handshake_read(hs, msg, len, payload, 0, &n);
    if (rc == 0 && n != 0)
        rc = JET_EDECODE;
    return rc;
}

/* ---------------------------------------------------------------- frame reader */

static size_t reader_bound(const jet_noise_reader *r) {
    size_t b = JET_NOISE_FRAME_PREFIX + r->max_body;
    return b < r->read_ahead ? r->read_ahead : b;
}

void jet_noise_reader_init(jet_noise_reader *r, size_t max_body, size_t read_ahead) {
    memset(r, 0, sizeof *r);
    r->max_body = max_body;
    r->read_ahead = read_ahead;
}

void jet_noise_reader_fini(jet_noise_reader *r) {
    if (r->buf != NULL) {
        /* Only what was received: wiping the untouched rest of a large buffer would make
         * the kernel map pages only to zero them. */
        sodium_memzero(r->buf, r->used);
        free(r->buf);
    }
    memset(r, 0, sizeof *r);
}

void jet_noise_reader_set_limits(jet_noise_reader *r, size_t max_body, size_t read_ahead) {
    r->max_body = max_body;
    r->read_ahead = read_ahead;
}

/* Bytes still missing from the frame that starts at r->start (0 if its header is incomplete
 * or announces too much: next() will refuse it). */
static size_t frame_missing(const jet_noise_reader *r) {
    size_t have = r->end - r->start;
    if (have < JET_NOISE_FRAME_PREFIX)
        return JET_NOISE_FRAME_PREFIX - have;
    uint32_t body = jet_get_be32(r->buf + r->start);
    if (body > r->max_body)
        return 0;
    size_t total = JET_NOISE_FRAME_PREFIX + (size_t)body;
    return total > have ? total - have : 0;
}

int jet_noise_reader_space(jet_noise_reader *r, size_t want, uint8_t **ptr, size_t *len) {
    size_t bound = reader_bound(r);
    size_t have = r->end - r->start;
    size_t missing = frame_missing(r);
    size_t target = want > missing ? want : missing;

    if (have == 0)
        r->start = r->end = 0;
    if (target > bound - have)
        target = bound - have;
    if (r->cap - r->end < target && r->start > 0) {
        memmove(r->buf, r->buf + r->start, have);
        r->start = 0;
        r->end = have;
    }
    if (r->cap - r->end < target) {
        /* Grow to what is needed (at least double, to amortise), never past the bound. The old
         * buffer is wiped because it may hold decrypted frames. */
        size_t ncap = r->cap * 2;
        if (ncap < r->end + target)
            ncap = r->end + target;
        if (ncap > bound)
            ncap = bound;
        uint8_t *nb = malloc(ncap);
        if (nb == NULL)
            return JET_ENOMEM;
        if (r->buf != NULL) {
            memcpy(nb, r->buf + r->start, have);
            sodium_memzero(r->buf, r->used);
            free(r->buf);
        }
        r->buf = nb;
        r->cap = ncap;
        r->start = 0;
        r->end = r->used = have;
        if (ncap > r->peak_cap)
            r->peak_cap = ncap;
    }
    *ptr = r->buf + r->end;
    *len = r->cap - r->end;
    return 0;
}

void jet_noise_reader_commit(jet_noise_reader *r, size_t n) {
    assert(n <= r->cap - r->end);
    r->end += n;
    if (r->end > r->used)
        r->used = r->end;
}

int jet_noise_reader_next(jet_noise_reader *r, uint8_t **body, size_t *len) {
    size_t have = r->end - r->start;
    if (have < JET_NOISE_FRAME_PREFIX)
        return 0;
    uint32_t n = jet_get_be32(r->buf + r->start);
    if (n > r->max_body)
        return JET_ETOOBIG;
    if (have - JET_NOISE_FRAME_PREFIX < n)
        return 0;
    *body = r->buf + r->start + JET_NOISE_FRAME_PREFIX;
    *len = n;
    r->start += JET_NOISE_FRAME_PREFIX + n;
    return 1;
}

size_t jet_noise_reader_pending(const jet_noise_reader *r) {
    return r->end - r->start;
}
