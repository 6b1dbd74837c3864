/* channel.c - the secure channel: jetsync's Noise IK handshake and encrypted frames over a
 * libuv TCP stream (docs/protocol.md, "Channel"), with limits, time-outs and one drop path.
 *
 * States of a jet_channel:
 *
 *     jet_channel_connect()                         listener accepts (limits checked)
 *            |                                                   |
 *            v                                                   |
 *       RESOLVING --getaddrinfo--+                               |
 *            |                   |                               |
 *            v                   v                               v
 *       CONNECTING --connected, message 1 sent-->  HS_WAIT2     HS_WAIT1
 *                                                     |             |
 *                           message 2 read and checked|             | message 1 read, node id
 *                                                     |             | bound to `s`, authorized,
 *                                                     v             v message 2 sent
 *                                                  ESTABLISHED (frames both ways)
 *
 *     any state --drop(reason)--> CLOSING --last handle/request called back--> on_closed, free
 *
 * drop() is the only way out: it stops the timer, cancels a pending name lookup, closes both
 * handles (which cancels the pending connect and writes: their callbacks free their own
 * buffers), and wipes the handshake and transport keys. The channel is freed only when the
 * last close callback has run, never inside the callback that found the problem.
 *
 * One timer per channel: in the handshake states it is the handshake deadline (started at
 * connect or accept), in ESTABLISHED the idle time-out (re-armed lazily from last_rx so a busy
 * connection does not touch the timer heap on every read). */
#include "channel.h"

#include <netinet/in.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "log.h"
#include "noise.h"

typedef enum {
    CH_RESOLVING,
    CH_CONNECTING,
    CH_HS_WAIT2, /* initiator: message 1 sent, waiting for message 2 */
    CH_HS_WAIT1, /* responder: waiting for message 1 */
    CH_ESTABLISHED,
    CH_CLOSING,
} ch_state;

static const char *const state_names[] = {"resolving", "connecting",  "handshake",
                                          "handshake", "established", "closing"};

enum {
    READ_AHEAD = 64 * 1024, /* transport read buffer size when frames are small */
    SPARE_MIN = 16 * 1024,  /* smaller written buffers go back to malloc at once */
    LISTEN_BACKLOG = 1024,
    ADDR_TEXT = 64,
};

/* The keys every handshake of one identity needs, derived once. */
typedef struct static_keys {
    uint8_t x_sk[32];
    uint8_t x_pk[32];
    uint8_t prologue[JET_NOISE_PROLOGUE_LEN];
} static_keys;

struct jet_channel {
    jet_channel_config cfg;
    jet_listener *listener; /* responder side only; NULL once refused */
    jet_channel *prev, *next;
    ch_state state;
    int initiator;
    int handed;   /* on_closed is owed to the user */
    int blocked;  /* send returned 1: on_writable is owed */
    int pending;  /* handles and requests whose callbacks have not run yet */
    int tcp_open; /* the uv_tcp_t was initialised */
    int close_reason;
    uint64_t last_rx;
    size_t queued;
    struct write_req *spare; /* written buffers kept for the next frames (see write_new) */
    size_t spare_bytes;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai_req;
    struct sockaddr_storage peer;
    char peer_addr[ADDR_TEXT];
    char port[8];
    static_keys keys;
    uint8_t remote_x[32]; /* initiator: the responder's expected X25519 key */
    uint8_t remote_id[32];
    uint64_t hs_value;     /* initiator: the value message 1 carries */
    struct hs_job *hs_job; /* responder: message 1 on the worker pool */
    jet_noise_handshake hs;
    jet_noise_cipher tx, rx;
    jet_noise_reader reader;
    void *user;
};

struct jet_listener {
    jet_channel_config cfg;
    uv_tcp_t tcp;
    jet_channel *head;
    unsigned count;    /* channels in the list (handed to the user) */
    unsigned refusing; /* refused connections whose handle is still closing */
    int closing;
    int tcp_closed;
    void (*close_cb)(void *arg);
    void *close_arg;
    static_keys keys;
    jet_listener_stats stats;
    char addr[ADDR_TEXT];
};

/* A queued write: the frame (prefix and ciphertext) lives in the same allocation. */
typedef struct write_req {
    uv_write_t req;
    size_t len;              /* bytes of data[] in use */
    size_t cap;              /* bytes of data[] allocated */
    struct write_req *spare; /* next in the channel's spare list */
    uint8_t data[];
} write_req;

static void drop(jet_channel *ch, int reason);
static void spares_free(jet_channel *ch);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void process_frames(jet_channel *ch);

/* ---------------------------------------------------------------- helpers */

void jet_channel_limits_default(jet_channel_limits *l) {
    l->max_frame = JET_CHANNEL_DEFAULT_MAX_FRAME;
    l->handshake_timeout_ms = JET_CHANNEL_DEFAULT_HANDSHAKE_MS;
    l->idle_timeout_ms = JET_CHANNEL_DEFAULT_IDLE_MS;
    l->write_high = JET_CHANNEL_DEFAULT_WRITE_HIGH;
    l->max_connections = JET_CHANNEL_DEFAULT_MAX_CONNECTIONS;
    l->max_per_address = JET_CHANNEL_DEFAULT_MAX_PER_ADDRESS;
}

int jet_channel_static_from_ed25519(const uint8_t ed_sk[64], uint8_t x_sk[32], uint8_t x_pk[32]) {
    if (crypto_sign_ed25519_sk_to_curve25519(x_sk, ed_sk) != 0)
        return JET_EINVAL;
    crypto_scalarmult_base(x_pk, x_sk);
    return 0;
}

/* The static key pair and prologue of an identity. `full` checks the key pair the slow way
 * (listener start, jet_channel_identity_derive); connects rely on the public half embedded in
 * the libsodium secret key (seed || public key) and on the derived or memoised public
 * conversion, which keeps each handshake at five scalar multiplications. The node id must be the public half of the signing key, or
 * peers would derive another static key from it than the one we prove. */
static int keys_from_identity(const jet_channel_identity *id, static_keys *k, int full) {
    uint8_t check[32];
    int rc;
    if (full) {
        rc = jet_channel_static_from_ed25519(id->ed25519_sk, k->x_sk, k->x_pk);
        if (rc == 0 && (crypto_sign_ed25519_pk_to_curve25519(check, id->ed25519_pk) != 0 ||
                        sodium_memcmp(check, k->x_pk, 32) != 0))
            rc = JET_EINVAL;
    } else {
        rc = memcmp(id->ed25519_sk + 32, id->ed25519_pk, 32) != 0 ||
                     crypto_sign_ed25519_sk_to_curve25519(k->x_sk, id->ed25519_sk) != 0
                 ? JET_EINVAL
                 : 0;
        if (rc == 0 && !sodium_is_zero(id->x25519_pk, 32))
            memcpy(k->x_pk, id->x25519_pk, 32);
        else if (rc == 0 && jet_noise_ed25519_pk_to_x25519(id->ed25519_pk, k->x_pk) != 0)
            rc = JET_EINVAL;
    }
    jet_noise_prologue(id->network_key, k->prologue);
    return rc;
}

int jet_channel_identity_derive(jet_channel_identity *id) {
    static_keys k;
    memset(id->x25519_pk, 0, 32);
    int rc = keys_from_identity(id, &k, 1);
    if (rc == 0)
        memcpy(id->x25519_pk, k.x_pk, 32);
    sodium_memzero(&k, sizeof k);
    return rc;
}

static int config_valid(const jet_channel_config *cfg) {
    const jet_channel_limits *l = &cfg->limits;
    return cfg->loop != NULL && cfg->identity != NULL && l->max_frame > 0 &&
           l->max_frame <= UINT32_MAX - JET_NOISE_TAGLEN && l->write_high > 0 &&
           l->handshake_timeout_ms > 0;
}

/* Splits "HOST:PORT" or "[V6]:PORT". */
static int split_host_port(const char *hp, char *host, size_t host_len, char port[8]) {
    const char *colon = strrchr(hp, ':');
    const char *h = hp;
    size_t hl;
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
        return JET_EINVAL;
    hl = (size_t)(colon - hp);
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']')
        h++, hl -= 2;
    if (hl == 0 || hl >= host_len)
        return JET_EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return JET_EINVAL;
    if (atoi(colon + 1) > 65535)
        return JET_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, 8, "%s", colon + 1);
    return 0;
}

/* Parses an IP literal into `out`; returns 0 or JET_EINVAL when `host` is a name. */
static int parse_ip(const char *host, const char *port, struct sockaddr_storage *out) {
    int p = atoi(port);
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, p, (struct sockaddr_in *)out) == 0)
        return 0;
    if (uv_ip6_addr(host, p, (struct sockaddr_in6 *)out) == 0)
        return 0;
    return JET_EINVAL;
}

static void format_addr(const struct sockaddr_storage *sa, char *buf, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        uv_ip4_name(s4, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(s6, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        snprintf(buf, len, "?");
    }
}

/* Same source address (port ignored)? */
static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return 0;
}

static const char *role(const jet_channel *ch) {
    return ch->initiator ? "initiator" : "responder";
}

/* One log line per refusal or failure, saying why. */
static void refuse(jet_channel *ch, int code, const char *why, const uint8_t *node_id) {
    char id[JET_NODE_ID_BUF] = "";
    if (node_id != NULL)
        jet_node_id_format(node_id, id);
    jet_log(JET_LOG_WARN,
            "event=channel_refused role=%s addr=%s state=%s code=%s%s%s reason=\"%s\"", role(ch),
            ch->peer_addr, state_names[ch->state], jet_errname(code),
            node_id != NULL ? " node=" : "", id, why);
    drop(ch, code);
}

/* Invariant checks stay on in every build: a broken invariant in a network-facing state
 * machine must stop the process, not continue with a confused connection. */
#define CH_ASSERT(cond) ((cond) ? (void)0 : check_failed(#cond, __LINE__))

static void check_failed(const char *cond, int line) {
    jet_log(JET_LOG_ERROR, "event=invariant_failed file=channel.c line=%d cond=\"%s\"", line, cond);
    abort();
}

/* The invariant of each state, asserted at every transition. */
static void check(const jet_channel *ch) {
    CH_ASSERT(ch->state >= CH_RESOLVING && ch->state <= CH_CLOSING);
    switch (ch->state) {
    case CH_RESOLVING:
    case CH_CONNECTING:
        CH_ASSERT(ch->initiator && ch->listener == NULL);
        CH_ASSERT(ch->hs.has_s && ch->hs.msg_index == 0 && !ch->tx.has_key);
        break;
    case CH_HS_WAIT2: /* message 1 written; message 2 may have just been read */
        CH_ASSERT(ch->initiator && ch->hs.has_s && ch->hs.msg_index >= 1);
        break;
    case CH_HS_WAIT1: /* message 1 may have just been read, message 2 written */
        CH_ASSERT(!ch->initiator && ch->listener != NULL && ch->hs.has_s);
        break;
    case CH_ESTABLISHED:
        CH_ASSERT(ch->tx.has_key && ch->rx.has_key && !ch->hs.has_s);
        CH_ASSERT(ch->reader.max_body == ch->cfg.limits.max_frame + JET_NOISE_TAGLEN);
        break;
    case CH_CLOSING: CH_ASSERT(!ch->hs.has_s && !ch->tx.has_key && !ch->rx.has_key); break;
    }
    CH_ASSERT(!ch->blocked || ch->state == CH_ESTABLISHED || ch->state == CH_CLOSING);
    (void)ch;
}

static void set_state(jet_channel *ch, ch_state s) {
    ch->state = s;
    check(ch);
}

/* ---------------------------------------------------------------- closing */

static void listener_maybe_finish(jet_listener *l);

static void channel_finish(jet_channel *ch) {
    jet_listener *l = ch->listener;
    if (ch->handed && ch->cfg.cb.on_closed != NULL)
        ch->cfg.cb.on_closed(ch, ch->close_reason);
    if (l != NULL) {
        if (ch->prev != NULL)
            ch->prev->next = ch->next;
        else
            l->head = ch->next;
        if (ch->next != NULL)
            ch->next->prev = ch->prev;
        l->count--;
        if (ch->reader.peak_cap > l->stats.peak_read_buffer)
            l->stats.peak_read_buffer = ch->reader.peak_cap;
    }
    jet_noise_reader_fini(&ch->reader);
    spares_free(ch);
    sodium_memzero(ch, sizeof *ch);
    free(ch);
    if (l != NULL)
        listener_maybe_finish(l);
}

static void on_handle_closed(uv_handle_t *h) {
    jet_channel *ch = h->data;
    if (--ch->pending == 0)
        channel_finish(ch);
}

static void drop(jet_channel *ch, int reason) {
    if (ch->state == CH_CLOSING)
        return;
    check(ch);
    if (ch->listener != NULL && ch->state != CH_ESTABLISHED)
        ch->listener->stats.failed++;
    if (ch->state == CH_RESOLVING)
        uv_cancel((uv_req_t *)&ch->gai_req);
    ch->close_reason = reason;
    jet_noise_handshake_fini(&ch->hs);
    jet_noise_cipher_fini(&ch->tx);
    jet_noise_cipher_fini(&ch->rx);
    sodium_memzero(&ch->keys, sizeof ch->keys);
    set_state(ch, CH_CLOSING);
    uv_timer_stop(&ch->timer);
    uv_close((uv_handle_t *)&ch->timer, on_handle_closed);
    if (ch->tcp_open)
        uv_close((uv_handle_t *)&ch->tcp, on_handle_closed);
}

void jet_channel_close(jet_channel *ch, int reason) {
    if (ch != NULL)
        drop(ch, reason);
}

/* ---------------------------------------------------------------- writing */

static void spares_free(jet_channel *ch) {
    while (ch->spare != NULL) {
        write_req *w = ch->spare;
        ch->spare = w->spare;
        free(w);
    }
    ch->spare_bytes = 0;
}

static void on_write(uv_write_t *req, int status) {
    write_req *w = (write_req *)req;
    jet_channel *ch = req->handle->data;
    ch->queued -= w->len;
    /* A written buffer is kept for the next frames rather than freed: glibc can hand large
     * blocks freed and malloc'd at this rate back to the kernel and fault them in again
     * (bench_channel measured 94 minor faults per MiB sent with 256 KiB frames). Spares and
     * queue together stay within what the queue alone may hold (write_high + one frame), and
     * the spares go when the queue is empty and the user has nothing more to send: an idle
     * channel keeps none. */
    if (ch->state != CH_CLOSING && status == 0 && w->cap >= SPARE_MIN &&
        ch->queued + ch->spare_bytes + w->cap <=
            ch->cfg.limits.write_high + ch->cfg.limits.max_frame) {
        w->spare = ch->spare;
        ch->spare = w;
        ch->spare_bytes += w->cap;
    } else {
        free(w);
    }
    if (ch->state == CH_CLOSING)
        return;
    if (status < 0) {
        jet_log(JET_LOG_INFO, "event=channel_write_failed role=%s addr=%s error=%s", role(ch),
                ch->peer_addr, jet_errname(status));
        drop(ch, status);
        return;
    }
    if (ch->blocked && ch->queued < ch->cfg.limits.write_high / 2) {
        ch->blocked = 0;
        if (ch->cfg.cb.on_writable != NULL)
            ch->cfg.cb.on_writable(ch);
        if (ch->state == CH_CLOSING)
            return;
    }
    if (ch->queued == 0)
        spares_free(ch);
}

/* One write of 4 + len + (encrypted ? 16 : 0) bytes, a spare one if one fits; the caller
 * fills the body. */
static write_req *write_new(jet_channel *ch, size_t body_len) {
    size_t len = JET_NOISE_FRAME_PREFIX + body_len;
    write_req *w = NULL, **link = &ch->spare;
    /* The first spare that fits and is not more than twice too large. */
    for (; len >= SPARE_MIN && *link != NULL; link = &(*link)->spare)
        if ((*link)->cap >= len && (*link)->cap / 2 <= len) {
            w = *link;
            *link = w->spare;
            ch->spare_bytes -= w->cap;
            break;
        }
    if (w == NULL) {
        if ((w = malloc(sizeof *w + len)) == NULL)
            return NULL;
        w->cap = len;
    }
    w->len = len;
    jet_put_be32(w->data, (uint32_t)body_len);
    return w;
}

static int write_submit(jet_channel *ch, write_req *w) {
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&ch->tcp, &b, 1, on_write);
    if (rc != 0) {
        free(w);
        return rc;
    }
    ch->queued += w->len;
    return 0;
}

/* A handshake message, as a frame. */
static int write_plain(jet_channel *ch, const uint8_t *msg, size_t len) {
    write_req *w = write_new(ch, len);
    if (w == NULL)
        return JET_ENOMEM;
    memcpy(w->data + JET_NOISE_FRAME_PREFIX, msg, len);
    return write_submit(ch, w);
}

int jet_channel_send(jet_channel *ch, const uint8_t *data, size_t len) {
    write_req *w;
    int rc;
    if (ch == NULL || ch->state == CH_CLOSING)
        return JET_ECLOSED;
    if (ch->state != CH_ESTABLISHED)
        return JET_EPROTO;
    if (len > ch->cfg.limits.max_frame)
        return JET_ETOOBIG;
    if ((w = write_new(ch, len + JET_NOISE_TAGLEN)) == NULL)
        return JET_ENOMEM;
    /* Encrypt straight into the write buffer: no other copy of the frame is made. */
    if ((rc = jet_noise_transport_seal(&ch->tx, data, len, w->data + JET_NOISE_FRAME_PREFIX)) !=
        0) {
        free(w);
        refuse(ch, rc, "send nonce exhausted", NULL);
        return rc;
    }
    if ((rc = write_submit(ch, w)) != 0) {
        drop(ch, rc);
        return rc;
    }
    if (ch->queued > ch->cfg.limits.write_high) {
        ch->blocked = 1;
        return 1;
    }
    return 0;
}

size_t jet_channel_queued(const jet_channel *ch) {
    return ch->queued;
}

/* ---------------------------------------------------------------- timer */

static void on_timer(uv_timer_t *t) {
    jet_channel *ch = t->data;
    uint64_t idle = ch->cfg.limits.idle_timeout_ms, now, since;
    if (ch->state == CH_CLOSING)
        return;
    if (ch->state != CH_ESTABLISHED) {
        refuse(ch, JET_ETIMEOUT, "handshake timed out", NULL);
        return;
    }
    now = uv_now(ch->cfg.loop);
    since = now - ch->last_rx;
    if (since >= idle) {
        refuse(ch, JET_ETIMEOUT, "idle time-out: nothing received", NULL);
        return;
    }
    uv_timer_start(&ch->timer, on_timer, idle - since, 0);
}

/* ---------------------------------------------------------------- handshake and reading */

static void become_established(jet_channel *ch) {
    jet_noise_handshake_fini(&ch->hs);
    jet_noise_reader_set_limits(&ch->reader, ch->cfg.limits.max_frame + JET_NOISE_TAGLEN,
                                READ_AHEAD);
    set_state(ch, CH_ESTABLISHED);
    if (ch->listener != NULL)
        ch->listener->stats.established++;
    uv_timer_stop(&ch->timer);
    ch->last_rx = uv_now(ch->cfg.loop);
    if (ch->cfg.limits.idle_timeout_ms > 0)
        uv_timer_start(&ch->timer, on_timer, ch->cfg.limits.idle_timeout_ms, 0);
    jet_log(JET_LOG_DEBUG, "event=channel_established role=%s addr=%s", role(ch), ch->peer_addr);
    if (ch->cfg.cb.on_established != NULL)
        ch->cfg.cb.on_established(ch, ch->remote_id);
}

/* Responder: message 1. Its crypto (five X25519 multiplications and a key conversion, about
 * 0.3 ms) runs on libuv's worker pool: a burst of connecting partners, or a flood of hostile
 * handshakes, then never holds up the sessions the loop already carries. The job works on a
 * copy of the handshake state and holds a `pending` count, so the channel outlives it even if
 * it is dropped meanwhile (time-out, shutdown); reading pauses until the job is back. */
typedef struct hs_job {
    uv_work_t work;
    jet_channel *ch;
    jet_noise_handshake hs;
    uint8_t msg[JET_NOISE_MSG1_LEN];
    size_t len;
    int rc;    /* of reading message 1 */
    int rc_w2; /* of writing message 2 and splitting */
    uint8_t node_id[32];
    uint64_t value;
    uint8_t msg2[JET_NOISE_MSG2_LEN];
    jet_noise_cipher rx, tx;
} hs_job;

static void hs_job_free(hs_job *job) {
    sodium_memzero(job, sizeof *job);
    free(job);
}

static void msg1_work(uv_work_t *w) {
    hs_job *job = w->data;
    pthread_setname_np(pthread_self(), "jet-handshake"); /* for top -H and perf, as jet-commit */
    job->rc = jet_noise_ik_read1(&job->hs, job->msg, job->len, job->node_id, &job->value);
    if (job->rc != 0)
        return;
    /* Message 2 is made before the peer is authorised (it is sent only if it is): one trip to
     * the pool instead of two. An unknown peer costs three more multiplications, off the loop. */
    job->rc_w2 = jet_noise_ik_write2(&job->hs, job->msg2);
    if (job->rc_w2 == 0)
        job->rc_w2 = jet_noise_handshake_split(&job->hs, &job->rx, &job->tx);
}

/* Back on the loop: refuse, or authorise, send message 2 and carry on reading. */
static void msg1_done(uv_work_t *w, int status) {
    hs_job *job = w->data;
    jet_channel *ch = job->ch;
    char why[96];
    int rc = status != 0 ? JET_EIO : job->rc;
    ch->hs_job = NULL;
    if (--ch->pending == 0) { /* dropped meanwhile, and every handle has closed */
        hs_job_free(job);
        channel_finish(ch);
        return;
    }
    if (ch->state == CH_CLOSING) {
        hs_job_free(job);
        return;
    }
    if (rc == JET_EDECODE) {
        snprintf(why, sizeof why, "bad frame: handshake message 1 of %zu bytes", job->len);
        refuse(ch, JET_EDECODE, why, NULL);
    } else if (rc == JET_EAUTH) {
        refuse(ch, JET_EAUTH, "handshake decrypt failed (wrong network key or tampered)", NULL);
    } else if (rc != 0) {
        refuse(ch, rc, "node id does not match the handshake static key", NULL);
    } else {
        rc = ch->cfg.cb.authorize != NULL
                 ? ch->cfg.cb.authorize(ch->cfg.ctx, job->node_id, job->value)
                 : JET_EPEER;
        if (rc == JET_EPEER)
            refuse(ch, rc, "unknown node id", job->node_id);
        else if (rc == JET_EREVOKED)
            refuse(ch, rc, "revoked node id", job->node_id);
        else if (rc == JET_EREPLAY)
            refuse(ch, rc, "replayed handshake: value not above the last accepted", job->node_id);
        else if (rc != 0)
            refuse(ch, rc, "authorize failed", job->node_id);
        else if ((rc = job->rc_w2) != 0 || (rc = write_plain(ch, job->msg2, sizeof job->msg2)) != 0)
            refuse(ch, rc, "cannot send handshake message 2", job->node_id);
    }
    if (ch->state == CH_CLOSING) {
        hs_job_free(job);
        return;
    }
    memcpy(ch->remote_id, job->node_id, 32);
    ch->rx = job->rx;
    ch->tx = job->tx;
    hs_job_free(job);
    become_established(ch);
    if (ch->state != CH_ESTABLISHED)
        return; /* the user closed it from on_established */
    if ((rc = uv_read_start((uv_stream_t *)&ch->tcp, on_alloc, on_read)) != 0) {
        refuse(ch, rc, "read start failed", NULL);
        return;
    }
    process_frames(ch); /* what arrived behind message 1 */
}

static void handle_msg1(jet_channel *ch, const uint8_t *msg, size_t len) {
    char why[96];
    if (len != JET_NOISE_MSG1_LEN) {
        snprintf(why, sizeof why, "bad frame: handshake message 1 of %zu bytes", len);
        refuse(ch, JET_EDECODE, why, NULL);
        return;
    }
    hs_job *job = calloc(1, sizeof *job);
    int rc = job == NULL ? JET_ENOMEM : 0;
    if (rc == 0) {
        job->work.data = job;
        job->ch = ch;
        job->hs = ch->hs;
        job->len = len;
        memcpy(job->msg, msg, len);
        uv_read_stop((uv_stream_t *)&ch->tcp);
        rc = uv_queue_work(ch->cfg.loop, &job->work, msg1_work, msg1_done);
    }
    if (rc != 0) {
        if (job != NULL)
            hs_job_free(job);
        refuse(ch, rc, "cannot start the handshake", NULL);
        return;
    }
    ch->hs_job = job;
    ch->pending++;
}

/* Initiator: message 2. */
static void handle_msg2(jet_channel *ch, const uint8_t *msg, size_t len) {
    char why[96];
    int rc = jet_noise_ik_read2(&ch->hs, msg, len);
    if (rc == JET_EDECODE) {
        snprintf(why, sizeof why, "bad frame: handshake message 2 of %zu bytes", len);
        refuse(ch, rc, why, NULL);
        return;
    }
    if (rc != 0) {
        refuse(ch, rc,
               "handshake decrypt failed (responder is not the expected key, wrong network key, "
               "or tampered)",
               ch->remote_id);
        return;
    }
    if ((rc = jet_noise_handshake_split(&ch->hs, &ch->tx, &ch->rx)) != 0) {
        refuse(ch, rc, "split failed", NULL);
        return;
    }
    become_established(ch);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    jet_channel *ch = h->data;
    uint8_t *p = NULL;
    size_t len = 0;
    /* The reader grants what the current frame still lacks (bounded by max_frame) or the read
     * ahead, never what an unchecked length prefix claims. */
    if (jet_noise_reader_space(&ch->reader, ch->reader.read_ahead, &p, &len) != 0)
        len = 0; /* libuv then reports UV_ENOBUFS to on_read */
    *buf = uv_buf_init((char *)p, (unsigned)(len > UINT32_MAX ? UINT32_MAX : len));
    (void)suggested;
}

static void process_frames(jet_channel *ch) {
    uint8_t *body;
    size_t len;
    int rc;
    char why[96];

    while (ch->state != CH_CLOSING && ch->hs_job == NULL) {
        rc = jet_noise_reader_next(&ch->reader, &body, &len);
        if (rc == 0)
            return;
        if (rc < 0) {
            const jet_noise_reader *r = &ch->reader;
            snprintf(why, sizeof why, "frame too large: length %u, limit %zu",
                     jet_get_be32(r->buf + r->start), r->max_body);
            refuse(ch, JET_ETOOBIG, why, NULL);
            return;
        }
        switch (ch->state) {
        case CH_HS_WAIT1: handle_msg1(ch, body, len); break;
        case CH_HS_WAIT2: handle_msg2(ch, body, len); break;
        case CH_ESTABLISHED:
            /* Decrypt in place in the read buffer. */
            if (len < JET_NOISE_TAGLEN) {
                snprintf(why, sizeof why, "bad frame: %zu bytes, shorter than a tag", len);
                refuse(ch, JET_EDECODE, why, NULL);
                return;
            }
            if ((rc = jet_noise_transport_open(&ch->rx, body, len, body)) != 0) {
                refuse(ch, rc, "bad frame: authentication failed", NULL);
                return;
            }
            if (ch->cfg.cb.on_frame != NULL)
                ch->cfg.cb.on_frame(ch, body, len - JET_NOISE_TAGLEN);
            break;
        default: return;
        }
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    jet_channel *ch = s->data;
    (void)buf;
    if (ch->state == CH_CLOSING)
        return;
    if (nread < 0) {
        if (ch->state == CH_ESTABLISHED && jet_noise_reader_pending(&ch->reader) > 0) {
            refuse(ch, (int)nread, "bad frame: connection ended inside a frame", NULL);
        } else if (ch->state == CH_ESTABLISHED) {
            jet_log(JET_LOG_INFO, "event=channel_closed role=%s addr=%s reason=%s", role(ch),
                    ch->peer_addr, jet_errname((int)nread));
            drop(ch, (int)nread);
        } else if (jet_noise_reader_pending(&ch->reader) > 0) {
            refuse(ch, (int)nread, "bad frame: truncated handshake message", NULL);
        } else {
            refuse(ch, (int)nread, "connection closed during the handshake", NULL);
        }
        return;
    }
    if (nread == 0)
        return;
    jet_noise_reader_commit(&ch->reader, (size_t)nread);
    ch->last_rx = uv_now(ch->cfg.loop);
    process_frames(ch);
}

/* ---------------------------------------------------------------- channel creation */

static jet_channel *channel_new(const jet_channel_config *cfg) {
    jet_channel *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->cfg = *cfg;
    snprintf(ch->peer_addr, sizeof ch->peer_addr, "?");
    uv_timer_init(cfg->loop, &ch->timer);
    ch->timer.data = ch;
    ch->pending = 1;
    return ch;
}

static int tcp_open(jet_channel *ch) {
    int rc = uv_tcp_init(ch->cfg.loop, &ch->tcp);
    if (rc == 0) {
        ch->tcp.data = ch;
        ch->tcp_open = 1;
        ch->pending++;
    }
    return rc;
}

static void after_connected(jet_channel *ch) {
    int len = sizeof ch->peer;
    uv_tcp_nodelay(&ch->tcp, 1);
    if (uv_tcp_getpeername(&ch->tcp, (struct sockaddr *)&ch->peer, &len) == 0)
        format_addr(&ch->peer, ch->peer_addr, sizeof ch->peer_addr);
}

static void on_connect(uv_connect_t *req, int status) {
    jet_channel *ch = req->data;
    uint8_t msg1[JET_NOISE_MSG1_LEN];
    int rc;
    if (ch->state == CH_CLOSING)
        return;
    if (status < 0) {
        refuse(ch, status, "connect failed", NULL);
        return;
    }
    after_connected(ch);
    /* Message 1 is made only now (its three X25519 multiplications), so that many channels
     * opened at once all start connecting at once; its handshake value was taken by
     * jet_channel_connect(), so that an error there aborts the call itself. */
    if ((rc = jet_noise_ik_write1(&ch->hs, ch->cfg.identity->ed25519_pk, ch->hs_value, msg1)) !=
            0 ||
        (rc = write_plain(ch, msg1, sizeof msg1)) != 0 ||
        (rc = uv_read_start((uv_stream_t *)&ch->tcp, on_alloc, on_read)) != 0) {
        refuse(ch, rc, "cannot start the handshake", NULL);
        return;
    }
    set_state(ch, CH_HS_WAIT2);
}

static int start_connect(jet_channel *ch, const struct sockaddr *sa) {
    ch->connect_req.data = ch;
    return uv_tcp_connect(&ch->connect_req, &ch->tcp, sa, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    jet_channel *ch = req->data;
    int rc;
    ch->pending--;
    if (ch->state == CH_CLOSING) {
        uv_freeaddrinfo(res);
        if (ch->pending == 0)
            channel_finish(ch);
        return;
    }
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        refuse(ch, status < 0 ? status : JET_ENOTFOUND, "cannot resolve the address", NULL);
        return;
    }
    memcpy(&ch->peer, res->ai_addr, res->ai_addrlen);
    uv_freeaddrinfo(res);
    set_state(ch, CH_CONNECTING);
    if ((rc = start_connect(ch, (const struct sockaddr *)&ch->peer)) != 0)
        refuse(ch, rc, "connect failed", NULL);
}

int jet_channel_connect(const jet_channel_config *cfg, const char *host_port,
                        const uint8_t remote_id[32], void *user, jet_channel **out) {
    char host[256], port[8];
    uint64_t value = 0;
    jet_channel *ch = NULL;
    struct addrinfo hints;
    int rc;

    if (cfg == NULL || !config_valid(cfg) || host_port == NULL || remote_id == NULL ||
        out == NULL || cfg->cb.next_hs_value == NULL)
        return JET_EINVAL;
    if ((rc = split_host_port(host_port, host, sizeof host, port)) != 0)
        return rc;
    if ((ch = channel_new(cfg)) == NULL)
        return JET_ENOMEM;
    ch->initiator = 1;
    ch->user = user;
    memcpy(ch->port, port, sizeof port);
    memcpy(ch->remote_id, remote_id, 32);
    jet_noise_reader_init(&ch->reader, JET_NOISE_MSG2_LEN,
                          JET_NOISE_FRAME_PREFIX + JET_NOISE_MSG2_LEN);
    if ((rc = keys_from_identity(cfg->identity, &ch->keys, 0)) != 0 ||
        (rc = jet_noise_ed25519_pk_to_x25519(remote_id, ch->remote_x)) != 0)
        goto fail;
    if ((rc = cfg->cb.next_hs_value(cfg->ctx, &value)) != 0)
        goto fail;
    if ((rc = jet_noise_handshake_init_pk(&ch->hs, JET_NOISE_IK, 1, ch->keys.prologue,
                                          sizeof ch->keys.prologue, ch->keys.x_sk, ch->keys.x_pk,
                                          ch->remote_x)) != 0)
        goto fail;
    ch->hs_value = value;
    if ((rc = tcp_open(ch)) != 0)
        goto fail;
    if (parse_ip(host, ch->port, &ch->peer) == 0) {
        ch->state = CH_CONNECTING;
        format_addr(&ch->peer, ch->peer_addr, sizeof ch->peer_addr);
        if ((rc = start_connect(ch, (const struct sockaddr *)&ch->peer)) != 0)
            goto fail;
    } else {
        ch->state = CH_RESOLVING;
        snprintf(ch->peer_addr, sizeof ch->peer_addr, "%.50s", host_port);
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        ch->gai_req.data = ch;
        if ((rc = uv_getaddrinfo(cfg->loop, &ch->gai_req, on_resolved, host, ch->port, &hints)) !=
            0)
            goto fail;
        ch->pending++;
    }
    check(ch);
    uv_timer_start(&ch->timer, on_timer, cfg->limits.handshake_timeout_ms, 0);
    ch->handed = 1;
    *out = ch;
    return 0;

fail:
    /* Not yet in a state drop() accepts everywhere: close by hand, free in the callbacks. */
    jet_noise_handshake_fini(&ch->hs);
    sodium_memzero(&ch->keys, sizeof ch->keys);
    ch->state = CH_CLOSING;
    ch->close_reason = rc;
    uv_close((uv_handle_t *)&ch->timer, on_handle_closed);
    if (ch->tcp_open)
        uv_close((uv_handle_t *)&ch->tcp, on_handle_closed);
    return rc;
}

void jet_channel_set_user(jet_channel *ch, void *user) {
    ch->user = user;
}

void *jet_channel_user(const jet_channel *ch) {
    return ch->user;
}

const uint8_t *jet_channel_peer_id(const jet_channel *ch) {
    return ch->remote_id;
}

const char *jet_channel_peer_addr(const jet_channel *ch) {
    return ch->peer_addr;
}

/* ---------------------------------------------------------------- listener */

static void listener_maybe_finish(jet_listener *l) {
    if (!l->closing || !l->tcp_closed || l->count > 0 || l->refusing > 0)
        return;
    void (*cb)(void *) = l->close_cb;
    void *arg = l->close_arg;
    sodium_memzero(l, sizeof *l);
    free(l);
    if (cb != NULL)
        cb(arg);
}

static void on_listener_closed(uv_handle_t *h) {
    jet_listener *l = h->data;
    l->tcp_closed = 1;
    listener_maybe_finish(l);
}

static void on_refused_closed(uv_handle_t *h) {
    jet_channel *ch = h->data;
    jet_listener *l = ch->listener;
    if (--ch->pending > 0)
        return;
    l->refusing--;
    free(ch);
    listener_maybe_finish(l);
}

static void on_connection(uv_stream_t *server, int status) {
    jet_listener *l = server->data;
    jet_channel *ch;
    unsigned same = 0;
    int rc;

    if (status < 0 || l->closing) {
        jet_log(JET_LOG_WARN, "event=accept_failed addr=%s error=%s", l->addr, jet_errname(status));
        return;
    }
    if ((ch = channel_new(&l->cfg)) == NULL || tcp_open(ch) != 0) {
        /* Without a handle the connection cannot be accepted; libuv retries on the next
         * event. */
        jet_log(JET_LOG_ERROR, "event=accept_failed addr=%s error=JET_ENOMEM", l->addr);
        if (ch != NULL) {
            ch->listener = l;
            l->refusing++;
            uv_close((uv_handle_t *)&ch->timer, on_refused_closed);
        }
        return;
    }
    ch->listener = l;
    if ((rc = uv_accept(server, (uv_stream_t *)&ch->tcp)) == 0) {
        after_connected(ch);
        for (jet_channel *o = l->head; o != NULL; o = o->next)
            if (o->state != CH_CLOSING && same_host(&o->peer, &ch->peer))
                same++;
    }
    if (rc != 0 || l->count >= l->cfg.limits.max_connections ||
        same >= l->cfg.limits.max_per_address) {
        /* Refused before it was handed to anyone: close at once, no on_closed. */
        if (rc != 0)
            jet_log(JET_LOG_WARN, "event=accept_failed addr=%s error=%s", l->addr, jet_errname(rc));
        else {
            jet_log(JET_LOG_WARN,
                    "event=channel_refused role=responder addr=%s code=JET_ELIMIT reason=\"%s\" "
                    "open=%u limit=%u",
                    ch->peer_addr,
                    same >= l->cfg.limits.max_per_address ? "too many connections from this address"
                                                          : "too many connections",
                    same >= l->cfg.limits.max_per_address ? same : l->count,
                    same >= l->cfg.limits.max_per_address ? l->cfg.limits.max_per_address
                                                          : l->cfg.limits.max_connections);
            l->stats.refused_limit++;
        }
        l->refusing++;
        ch->state = CH_CLOSING;
        uv_close((uv_handle_t *)&ch->timer, on_refused_closed);
        uv_close((uv_handle_t *)&ch->tcp, on_refused_closed);
        return;
    }
    memcpy(&ch->keys, &l->keys, sizeof ch->keys);
    jet_noise_reader_init(&ch->reader, JET_NOISE_MSG1_LEN,
                          JET_NOISE_FRAME_PREFIX + JET_NOISE_MSG1_LEN);
    jet_noise_handshake_init_pk(&ch->hs, JET_NOISE_IK, 0, ch->keys.prologue,
                                sizeof ch->keys.prologue, ch->keys.x_sk, ch->keys.x_pk, NULL);
    ch->state = CH_HS_WAIT1;
    ch->next = l->head;
    if (l->head != NULL)
        l->head->prev = ch;
    l->head = ch;
    l->count++;
    l->stats.accepted++;
    ch->handed = 1;
    check(ch);
    uv_timer_start(&ch->timer, on_timer, l->cfg.limits.handshake_timeout_ms, 0);
    if ((rc = uv_read_start((uv_stream_t *)&ch->tcp, on_alloc, on_read)) != 0) {
        if (l->cfg.cb.on_accept != NULL)
            l->cfg.cb.on_accept(l->cfg.ctx, ch);
        refuse(ch, rc, "read start failed", NULL);
        return;
    }
    if (l->cfg.cb.on_accept != NULL)
        l->cfg.cb.on_accept(l->cfg.ctx, ch);
}

int jet_listener_start(const jet_channel_config *cfg, const char *host_port, jet_listener **out) {
    char host[256], port[8];
    struct sockaddr_storage sa;
    jet_listener *l;
    int rc, len;

    if (cfg == NULL || !config_valid(cfg) || host_port == NULL || out == NULL)
        return JET_EINVAL;
    if ((rc = split_host_port(host_port, host, sizeof host, port)) != 0)
        return rc;
    if (parse_ip(host, port, &sa) != 0) {
        /* A name: resolve it once, synchronously (start-up, before the loop serves anyone). */
        uv_getaddrinfo_t req;
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        if ((rc = uv_getaddrinfo(cfg->loop, &req, NULL, host, port, &hints)) != 0)
            return rc;
        memcpy(&sa, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
        uv_freeaddrinfo(req.addrinfo);
    }
    if ((l = calloc(1, sizeof *l)) == NULL)
        return JET_ENOMEM;
    l->cfg = *cfg;
    if ((rc = keys_from_identity(cfg->identity, &l->keys, 1)) != 0) {
        sodium_memzero(l, sizeof *l);
        free(l);
        return rc;
    }
    uv_tcp_init(cfg->loop, &l->tcp);
    l->tcp.data = l;
    if ((rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection)) != 0) {
        /* The handle exists: release through uv_close, report the error now. */
        l->closing = 1;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    len = sizeof sa;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&sa, &len);
    format_addr(&sa, l->addr, sizeof l->addr);
    jet_log(JET_LOG_INFO, "event=listening addr=%s", l->addr);
    *out = l;
    return 0;
}

int jet_listener_address(const jet_listener *l, char *buf, size_t len) {
    if (strlen(l->addr) >= len)
        return JET_ETOOBIG;
    memcpy(buf, l->addr, strlen(l->addr) + 1);
    return 0;
}

unsigned jet_listener_count(const jet_listener *l) {
    return l->count;
}

void jet_listener_stats_get(const jet_listener *l, jet_listener_stats *out) {
    *out = l->stats;
    for (const jet_channel *ch = l->head; ch != NULL; ch = ch->next)
        if (ch->reader.peak_cap > out->peak_read_buffer)
            out->peak_read_buffer = ch->reader.peak_cap;
}

void jet_listener_close(jet_listener *l, void (*cb)(void *arg), void *arg) {
    if (l == NULL || l->closing)
        return;
    l->closing = 1;
    l->close_cb = cb;
    l->close_arg = arg;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    for (jet_channel *ch = l->head; ch != NULL; ch = ch->next)
        drop(ch, JET_ECANCELED);
}
