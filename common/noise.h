/* noise.h - the Noise Protocol Framework (revision 34) for one cipher suite,
 * 25519 / ChaChaPoly / BLAKE2b, with the handshake patterns IK and XX, on libsodium.
 *
 *   CipherState     jet_noise_cipher     (InitializeKey, EncryptWithAd, DecryptWithAd, Rekey)
 *   SymmetricState  jet_noise_symmetric  (MixKey, MixHash, EncryptAndHash, DecryptAndHash, Split)
 *   HandshakeState  jet_noise_handshake  (WriteMessage, ReadMessage)
 *
 * plus the two pieces of jetsync's wire that sit directly on Noise: the length-prefixed frame
 * reader (jet_noise_reader) and jetsync's IK handshake messages (jet_noise_ik_*), which the
 * channel (channel.c) and the fuzz targets share. docs/protocol.md ("Channel") specifies them.
 *
 * All structs here are caller-allocated (_init/_fini); their fields are private to noise.c.
 * Every _fini wipes the secrets with sodium_memzero. Nothing here allocates except the reader.
 * Functions return 0 or a negative jet_error code. */
#ifndef JET_NOISE_H
#define JET_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    JET_NOISE_DHLEN = 32,   /* X25519 keys and shared secrets */
    JET_NOISE_HASHLEN = 64, /* BLAKE2b-512 */
    JET_NOISE_BLOCKLEN = 128,
    JET_NOISE_KEYLEN = 32,
    JET_NOISE_TAGLEN = 16,
    JET_NOISE_MAX_MESSAGE = 65535, /* the Noise limit on one handshake message */
    /* Each direction of a jetsync transport calls Rekey() after every this many frames. */
    JET_NOISE_REKEY_INTERVAL = 1 << 20,
    /* jetsync's IK messages (docs/protocol.md): payload 1 = node id || replay value, payload 2
     * empty. */
    JET_NOISE_PAYLOAD1_LEN = 32 + 8,
    JET_NOISE_MSG1_LEN = JET_NOISE_DHLEN + (JET_NOISE_DHLEN + JET_NOISE_TAGLEN) +
                         (JET_NOISE_PAYLOAD1_LEN + JET_NOISE_TAGLEN), /* 136 */
    JET_NOISE_MSG2_LEN = JET_NOISE_DHLEN + JET_NOISE_TAGLEN,          /* 48 */
    JET_NOISE_FRAME_PREFIX = 4, /* big-endian length of the body that follows */
    JET_NOISE_PROLOGUE_LEN = 9 + 32,
};

typedef struct jet_noise_cipher {
    uint8_t k[JET_NOISE_KEYLEN];
    uint64_t n;
    int has_key;
} jet_noise_cipher;

typedef struct jet_noise_symmetric {
    jet_noise_cipher cs;
    uint8_t ck[JET_NOISE_HASHLEN];
    uint8_t h[JET_NOISE_HASHLEN];
} jet_noise_symmetric;

typedef enum { JET_NOISE_IK, JET_NOISE_XX } jet_noise_pattern;

typedef struct jet_noise_handshake {
    jet_noise_symmetric ss;
    jet_noise_pattern pattern;
    int initiator;
    int msg_index; /* next message of the pattern, 0-based */
    int has_s, has_e, has_rs, has_re;
    uint8_t s_sk[JET_NOISE_DHLEN], s_pk[JET_NOISE_DHLEN];
    uint8_t e_sk[JET_NOISE_DHLEN], e_pk[JET_NOISE_DHLEN];
    uint8_t rs[JET_NOISE_DHLEN], re[JET_NOISE_DHLEN];
} jet_noise_handshake;

/* HMAC-BLAKE2b-512 (RFC 2104, 128-byte block) of `data` under `key` (at most 128 bytes). */
void jet_noise_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
                    uint8_t out[JET_NOISE_HASHLEN]);

/* HKDF as the Noise specification defines it: `n` (2 or 3) outputs of HASHLEN bytes into
 * out1, out2 and (when n == 3) out3. */
void jet_noise_hkdf(const uint8_t ck[JET_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len, int n,
                    uint8_t *out1, uint8_t *out2, uint8_t *out3);

/* InitializeKey(k); `k` NULL means "no key" (encryption is the identity). */
void jet_noise_cipher_init(jet_noise_cipher *c, const uint8_t *k);
/* Wipes the key. */
void jet_noise_cipher_fini(jet_noise_cipher *c);
/* EncryptWithAd: writes len + 16 bytes to `out` (which may equal `in`; no other overlap).
 * Returns JET_ELIMIT when the nonce is exhausted (2^64 - 1 is reserved). */
int jet_noise_cipher_encrypt(jet_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                             const uint8_t *in, size_t len, uint8_t *out);
/* DecryptWithAd: `len` >= 16 bytes of ciphertext, writes len - 16 bytes to `out` (which may
 * equal `in`). Returns JET_EAUTH (nonce unchanged) when authentication fails, JET_EDECODE when
 * `len` is too short, JET_ELIMIT when the nonce is exhausted. */
int jet_noise_cipher_decrypt(jet_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                             const uint8_t *in, size_t len, uint8_t *out);
/* Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes). */
void jet_noise_cipher_rekey(jet_noise_cipher *c);

/* jetsync transport: EncryptWithAd / DecryptWithAd with empty ad, followed by Rekey() after
 * every JET_NOISE_REKEY_INTERVAL messages (when the nonce just used + 1 is a multiple of it). */
int jet_noise_transport_seal(jet_noise_cipher *c, const uint8_t *in, size_t len, uint8_t *out);
int jet_noise_transport_open(jet_noise_cipher *c, const uint8_t *in, size_t len, uint8_t *out);

/* Initialize(protocol_name) then MixHash(prologue) for `pattern` ("Noise_IK_..." or
 * "Noise_XX_..."), as `initiator` or responder. `s_sk` is the local static private key
 * (required by both patterns), `rs` the remote static public key (the initiator's pre-message
 * knowledge in IK; NULL otherwise). Returns JET_EINVAL on a missing key. */
int jet_noise_handshake_init(jet_noise_handshake *hs, jet_noise_pattern pattern, int initiator,
                             const uint8_t *prologue, size_t prologue_len,
                             const uint8_t s_sk[JET_NOISE_DHLEN], const uint8_t *rs);
/* The same with the static public key given (saves one scalar multiplication per handshake);
 * `s_pk` must be X25519(s_sk, 9). */
int jet_noise_handshake_init_pk(jet_noise_handshake *hs, jet_noise_pattern pattern, int initiator,
                                const uint8_t *prologue, size_t prologue_len,
                                const uint8_t s_sk[JET_NOISE_DHLEN],
                                const uint8_t s_pk[JET_NOISE_DHLEN], const uint8_t *rs);
/* Fixes the ephemeral private key instead of a random one (test vectors only). Call before the
 * first message. */
void jet_noise_handshake_set_ephemeral(jet_noise_handshake *hs,
                                       const uint8_t e_sk[JET_NOISE_DHLEN]);
/* Wipes everything. */
void jet_noise_handshake_fini(jet_noise_handshake *hs);

/* WriteMessage(payload): writes the next message into `out` (capacity `cap`), its length in
 * *out_len. Returns JET_EPROTO if it is not our turn or the handshake is done, JET_ETOOBIG if
 * `cap` is too small or the message would exceed 65535 bytes, JET_EAUTH when a DH result is
 * the all-zero value. */
int jet_noise_handshake_write(jet_noise_handshake *hs, const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t cap, size_t *out_len);
/* ReadMessage(message): decrypts the payload into `payload` (capacity `cap`, may not alias
 * `msg`), its length in *payload_len. Returns JET_EPROTO (not our turn), JET_EDECODE (too
 * short or too long), JET_EAUTH (decryption failed or an all-zero DH result). On failure the
 * handshake state is unusable: fini it. */
int jet_noise_handshake_read(jet_noise_handshake *hs, const uint8_t *msg, size_t len,
                             uint8_t *payload, size_t cap, size_t *payload_len);
/* 1 when every message of the pattern has been written or read. */
int jet_noise_handshake_done(const jet_noise_handshake *hs);
/* Split(): `c_i2r` encrypts initiator -> responder, `c_r2i` the other way. JET_EPROTO if the
 * handshake is not done. */
int jet_noise_handshake_split(jet_noise_handshake *hs, jet_noise_cipher *c_i2r,
                              jet_noise_cipher *c_r2i);
/* The handshake hash h (channel binding value). */
const uint8_t *jet_noise_handshake_hash(const jet_noise_handshake *hs);
/* The remote static public key, or NULL if not known yet. */
const uint8_t *jet_noise_handshake_remote_static(const jet_noise_handshake *hs);

/* --- jetsync's IK handshake (docs/protocol.md, "Channel") --- */

/* The X25519 public key of an Ed25519 public key (crypto_sign_ed25519_pk_to_curve25519),
 * memoised: the conversion costs more than a scalar multiplication and a node meets the same
 * peers again and again (a lead all its regions every night: the memo holds 1,024 keys). The
 * memo holds public keys only; it is shared by the threads of a process (under a mutex).
 * Returns 0 or JET_EINVAL when `ed` is not a valid key. */
int jet_noise_ed25519_pk_to_x25519(const uint8_t ed[32], uint8_t x[32]);

/* The prologue (41 bytes): "jetsync/1" (9 ASCII bytes) || BLAKE2b-256, unkeyed, of
 * "jetsync network key" (19 ASCII bytes) || network_key (32 bytes). */
void jet_noise_prologue(const uint8_t network_key[32], uint8_t out[JET_NOISE_PROLOGUE_LEN]);

/* Initiator: writes message 1 (JET_NOISE_MSG1_LEN bytes) carrying `node_id` and `hs_value`. */
int jet_noise_ik_write1(jet_noise_handshake *hs, const uint8_t node_id[32], uint64_t hs_value,
                        uint8_t out[JET_NOISE_MSG1_LEN]);
/* Responder: reads message 1 of `len` bytes. On success `node_id` is the initiator's Ed25519
 * key, proven to own the Noise static key the handshake authenticated, and *hs_value its
 * replay value. Returns JET_EDECODE (wrong length), JET_EAUTH (decryption failed: wrong
 * network key or tampered), JET_EPEER (node id does not match the static key or is not a valid
 * Ed25519 key). */
int jet_noise_ik_read1(jet_noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t node_id[32],
                       uint64_t *hs_value);
/* Responder: writes message 2 (JET_NOISE_MSG2_LEN bytes, empty payload). */
int jet_noise_ik_write2(jet_noise_handshake *hs, uint8_t out[JET_NOISE_MSG2_LEN]);
/* Initiator: reads message 2. Returns JET_EDECODE (wrong length) or JET_EAUTH. */
int jet_noise_ik_read2(jet_noise_handshake *hs, const uint8_t *msg, size_t len);

/* --- Frame reader: 4-byte big-endian length || body, reassembled across partial reads --- */

typedef struct jet_noise_reader {
    uint8_t *buf;
    size_t cap;        /* allocated bytes */
    size_t start;      /* first unconsumed byte */
    size_t end;        /* one past the last received byte */
    size_t used;       /* high-water mark of `end`: the bytes a wipe must cover */
    size_t max_body;   /* largest body accepted */
    size_t read_ahead; /* the buffer may hold this much even when frames are smaller */
    size_t peak_cap;   /* largest `cap` ever reached, for tests */
} jet_noise_reader;

/* Prepares a reader that accepts bodies of at most `max_body` bytes; its buffer is bounded by
 * max(4 + max_body, read_ahead). Allocates nothing yet. */
void jet_noise_reader_init(jet_noise_reader *r, size_t max_body, size_t read_ahead);
/* Frees (and wipes) the buffer. */
void jet_noise_reader_fini(jet_noise_reader *r);
/* Changes the limits (e.g. from handshake to transport). */
void jet_noise_reader_set_limits(jet_noise_reader *r, size_t max_body, size_t read_ahead);
/* Free space to receive into: at least `want` bytes (or what the current frame still lacks, if
 * more) unless that would pass the bound; the buffer never grows past the bound, whatever a
 * length prefix claims. Returns JET_ENOMEM. */
int jet_noise_reader_space(jet_noise_reader *r, size_t want, uint8_t **ptr, size_t *len);
/* `n` bytes were received into the space returned last. */
void jet_noise_reader_commit(jet_noise_reader *r, size_t n);
/* Takes the next complete body: returns 1 and sets *body (writable, valid until the next call
 * to any reader function) and *len; 0 when more bytes are needed; JET_ETOOBIG when the length
 * prefix exceeds max_body (checked before any allocation). */
int jet_noise_reader_next(jet_noise_reader *r, uint8_t **body, size_t *len);
/* Bytes received but not yet taken. */
size_t jet_noise_reader_pending(const jet_noise_reader *r);

#endif
