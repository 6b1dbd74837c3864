/* channel.h - the secure channel between two nodes: Noise_IK_25519_ChaChaPoly_BLAKE2b over a
 * libuv TCP stream, with length-prefixed encrypted frames, limits and time-outs.
 * docs/protocol.md specifies the wire.
 *
 * Ownership: a jet_channel owns its uv_tcp_t and its timers. It is created by
 * jet_channel_connect() (initiator) or by a jet_listener (responder) and is freed by the
 * channel itself after on_closed has run; the user never frees it.
 *
 * Callback contract: if a call returns an error its callback never runs; if it returns 0 the
 * callback runs exactly once. on_closed runs exactly once for every channel that was handed to
 * the user (by connect returning 0 or by on_accept), whatever ends it (peer, error, time-out,
 * jet_channel_close), with the reason code. No application data is delivered or accepted for
 * sending before on_established. */
#ifndef JET_CHANNEL_H
#define JET_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

typedef struct jet_channel jet_channel;
typedef struct jet_listener jet_listener;

enum {
    JET_CHANNEL_DEFAULT_MAX_FRAME = 1024 * 1024, /* plaintext bytes per frame */
    JET_CHANNEL_DEFAULT_HANDSHAKE_MS = 5000,
    JET_CHANNEL_DEFAULT_IDLE_MS = 60000,
    JET_CHANNEL_DEFAULT_WRITE_HIGH = 4 * 1024 * 1024, /* queued bytes that mean "stop sending" */
    JET_CHANNEL_DEFAULT_MAX_CONNECTIONS = 1024,
    JET_CHANNEL_DEFAULT_MAX_PER_ADDRESS = 64,
};

/* What a node brings to every channel: its identity and its network. */
typedef struct jet_channel_identity {
    uint8_t ed25519_sk[64];  /* the node's signing key; the Noise static key is derived from it */
    uint8_t ed25519_pk[32];  /* the node id */
    uint8_t network_key[32]; /* the consortium key; its hash goes into the prologue */
    uint8_t x25519_pk[32];   /* the Noise static public key once derived; zeros: not yet */
} jet_channel_identity;

/* Derives and checks `x25519_pk` of an identity whose other fields are set, so that connects
 * need not convert the node id again (a 60 us point decompression each). Returns 0 or
 * JET_EINVAL when the keys do not belong together. */
int jet_channel_identity_derive(jet_channel_identity *id);

typedef struct jet_channel_limits {
    size_t max_frame;
    uint64_t handshake_timeout_ms;
    uint64_t idle_timeout_ms; /* no bytes received for this long closes the channel */
    size_t write_high;
    unsigned max_connections;
    unsigned max_per_address;
} jet_channel_limits;

/* Fills `l` with the defaults above. */
void jet_channel_limits_default(jet_channel_limits *l);

typedef struct jet_channel_callbacks {
    /* Responder: may `node_id` (an Ed25519 key, already proven to own the Noise static key)
     * connect with handshake value `hs_value`? Return 0 to accept (and persist hs_value as the
     * last accepted), or JET_EPEER (unknown), JET_EREVOKED or JET_EREPLAY (hs_value not greater
     * than the last accepted). Runs on the loop thread. */
    int (*authorize)(void *ctx, const uint8_t node_id[32], uint64_t hs_value);
    /* Initiator: the next handshake value, max(wall clock in ns, last sent + 1), persisted
     * before it is returned. Returns 0 or an error that aborts the connect. */
    int (*next_hs_value)(void *ctx, uint64_t *out);
    /* Responder: a new channel has been accepted (before the handshake). Set user data here. */
    void (*on_accept)(void *ctx, jet_channel *ch);
    /* Both sides are authenticated; application frames may flow. */
    void (*on_established)(jet_channel *ch, const uint8_t peer_id[32]);
    /* One decrypted frame. `data` is valid only during the call. */
    void (*on_frame)(jet_channel *ch, const uint8_t *data, size_t len);
    /* The write queue fell below half of write_high after jet_channel_send() returned 1. */
    void (*on_writable)(jet_channel *ch);
    /* The channel is closed; `reason` is 0 for a clean close by jet_channel_close(ch, 0). The
     * channel is freed right after this returns. Other reasons: UV_EOF (the peer closed),
     * JET_ETIMEOUT (handshake or idle time-out), JET_EAUTH (handshake decryption or a frame's
     * authentication failed), JET_ETOOBIG / JET_EDECODE (bad frame), JET_EPEER, JET_EREVOKED,
     * JET_EREPLAY (refused by authorize), JET_ECANCELED (jet_listener_close), the code given
     * to jet_channel_close, or a libuv code (UV_ECONNREFUSED, UV_ECONNRESET, ...). */
    void (*on_closed)(jet_channel *ch, int reason);
} jet_channel_callbacks;

typedef struct jet_channel_config {
    uv_loop_t *loop;
    const jet_channel_identity *identity; /* borrowed; must outlive every channel */
    jet_channel_limits limits;
    jet_channel_callbacks cb;
    void *ctx; /* passed to authorize, next_hs_value and on_accept */
} jet_channel_config;

/* Starts listening on "HOST:PORT" (port 0 picks a free one). `cfg` is copied. */
int jet_listener_start(const jet_channel_config *cfg, const char *host_port, jet_listener **out);
/* The bound address as "HOST:PORT". */
int jet_listener_address(const jet_listener *l, char *buf, size_t len);
/* Number of open channels accepted by this listener. */
unsigned jet_listener_count(const jet_listener *l);
/* Counters of a listener (extension for tests, status and benchmarks). */
typedef struct jet_listener_stats {
    uint64_t accepted;       /* channels handed to on_accept */
    uint64_t refused_limit;  /* connections closed at once by max_connections/max_per_address */
    uint64_t established;    /* handshakes completed */
    uint64_t failed;         /* accepted channels closed before on_established */
    size_t peak_read_buffer; /* largest read buffer any of its channels allocated */
} jet_listener_stats;
/* Copies the counters of `l` into `out`. */
void jet_listener_stats_get(const jet_listener *l, jet_listener_stats *out);
/* Stops listening and closes every channel it accepted (their on_closed runs with
 * JET_ECANCELED); `cb` runs once everything is closed. */
void jet_listener_close(jet_listener *l, void (*cb)(void *arg), void *arg);

/* Connects to "HOST:PORT" and runs the handshake as initiator towards `remote_id`. `cfg` is
 * copied. `user` is set as the channel's user data. */
int jet_channel_connect(const jet_channel_config *cfg, const char *host_port,
                        const uint8_t remote_id[32], void *user, jet_channel **out);

/* Encrypts and queues one frame of at most limits.max_frame bytes. Returns 0 when the caller
 * may keep sending, 1 when the write queue is above write_high (stop until on_writable), or an
 * error (JET_ETOOBIG, JET_ECLOSED, JET_EPROTO before on_established, a libuv code). */
int jet_channel_send(jet_channel *ch, const uint8_t *data, size_t len);

/* Bytes queued for writing. */
size_t jet_channel_queued(const jet_channel *ch);

/* Closes the channel (drop with `reason`); on_closed runs later on the loop. Idempotent. */
void jet_channel_close(jet_channel *ch, int reason);

void jet_channel_set_user(jet_channel *ch, void *user);
void *jet_channel_user(const jet_channel *ch);
/* The authenticated peer id (valid after on_established). */
const uint8_t *jet_channel_peer_id(const jet_channel *ch);
/* The remote address as text ("127.0.0.1:5555"). */
const char *jet_channel_peer_addr(const jet_channel *ch);

/* The Noise static key pair of an identity (X25519 keys derived from Ed25519). */
int jet_channel_static_from_ed25519(const uint8_t ed_sk[64], uint8_t x_sk[32], uint8_t x_pk[32]);

#endif
