/* peers.c - peer list and sync status, encoded with protobuf (node.proto). */
#include "peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.pb-c.h"

const char *jet_role_name(jet_role role) {
    return role == JET_ROLE_LEAD ? "lead" : "region";
}

int jet_role_parse(const char *text, jet_role *out) {
    if (strcmp(text, "lead") == 0)
        *out = JET_ROLE_LEAD;
    else if (strcmp(text, "region") == 0)
        *out = JET_ROLE_REGION;
    else
        return JET_EINVAL;
    return 0;
}

int jet_peers_put(jet_txn *txn, const jet_peer *peer) {
    Jetsync__Node__PeerEntry m = JETSYNC__NODE__PEER_ENTRY__INIT;
    m.name = (char *)peer->name;
    m.key.data = (uint8_t *)peer->key;
    m.key.len = 32;
    m.addr = (char *)peer->addr;
    m.role = peer->role;
    m.revoked = peer->revoked;
    m.added_at = peer->added_at;
    m.last_hs_value = peer->last_hs_value;
    uint8_t buf[1024];
    size_t len = jetsync__node__peer_entry__get_packed_size(&m);
    if (len > sizeof buf)
        return JET_ETOOBIG;
    jetsync__node__peer_entry__pack(&m, buf);
    return jet_txn_put(txn, JET_DB_PEERS, peer->name, strlen(peer->name), buf, len);
}

static int peer_decode(const void *val, size_t vlen, jet_peer *out) {
    Jetsync__Node__PeerEntry *m = jetsync__node__peer_entry__unpack(NULL, vlen, val);
    if (m == NULL)
        return JET_ECORRUPT;
    int rc = 0;
    if (m->key.len != 32 || strlen(m->name) >= sizeof out->name ||
        strlen(m->addr) >= sizeof out->addr) {
        rc = JET_ECORRUPT;
    } else {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", m->name);
        memcpy(out->key, m->key.data, 32);
        snprintf(out->addr, sizeof out->addr, "%s", m->addr);
        out->role = m->role == 1 ? JET_ROLE_LEAD : JET_ROLE_REGION;
        out->revoked = m->revoked;
        out->added_at = m->added_at;
        out->last_hs_value = m->last_hs_value;
    }
    jetsync__node__peer_entry__free_unpacked(m, NULL);
    return rc;
}

int jet_peers_get(jet_txn *txn, const char *name, jet_peer *out) {
    const void *v;
    size_t vl;
    int rc = jet_txn_get(txn, JET_DB_PEERS, name, strlen(name), &v, &vl);
    if (rc != 0)
        return rc;
    return peer_decode(v, vl, out);
}

typedef struct each_ctx {
    int (*fn)(const jet_peer *peer, void *ctx);
    void *ctx;
    const uint8_t *want_key;
    jet_peer *found;
} each_ctx;

static int each_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    each_ctx *e = arg;
    /* Looking for one key, skip the entries whose bytes do not contain it without decoding
     * them: the responder runs this for every handshake. */
    if (e->want_key != NULL && memmem(val, vlen, e->want_key, 32) == NULL)
        return 0;
    jet_peer p;
    int rc = peer_decode(val, vlen, &p);
    if (rc != 0)
        return rc;
    if (e->want_key != NULL) {
        if (memcmp(p.key, e->want_key, 32) != 0)
            return 0;
        *e->found = p;
        return p.revoked ? 0 : 1; /* a live entry ends the search; a revoked one may not */
    }
    return e->fn(&p, e->ctx);
}

int jet_peers_each(jet_txn *txn, int (*fn)(const jet_peer *peer, void *ctx), void *ctx) {
    each_ctx e = {fn, ctx, NULL, NULL};
    return jet_txn_scan(txn, JET_DB_PEERS, NULL, 0, NULL, 0, each_one, &e);
}

int jet_peers_find_key(jet_txn *txn, const uint8_t key[32], jet_peer *out) {
    /* A partnership has tens of peers (hundreds at most): a scan is cheaper than an index to
     * keep consistent. Prefer a live entry over a revoked one with the same key. */
    jet_peer found;
    found.name[0] = '\0';
    each_ctx e = {NULL, NULL, key, &found};
    int rc = jet_txn_scan(txn, JET_DB_PEERS, NULL, 0, NULL, 0, each_one, &e);
    if (rc != 0)
        return rc;
    if (found.name[0] == '\0')
        return JET_ENOTFOUND;
    *out = found;
    return 0;
}

int jet_sync_status_get(jet_txn *txn, const uint8_t key[32], jet_sync_status *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->state, sizeof out->state, "idle");
    const void *v;
    size_t vl;
    int rc = jet_txn_get(txn, JET_DB_SYNC, key, 32, &v, &vl);
    if (rc == JET_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    Jetsync__Node__SyncStatus *m = jetsync__node__sync_status__unpack(NULL, vl, v);
    if (m == NULL)
        return JET_ECORRUPT;
    out->last_ok = m->last_ok;
    out->last_attempt = m->last_attempt;
    snprintf(out->last_error, sizeof out->last_error, "%s", m->last_error);
    out->sent_records = m->sent_records;
    out->recv_records = m->recv_records;
    out->sent_bytes = m->sent_bytes;
    out->recv_bytes = m->recv_bytes;
    out->total_sessions = m->total_sessions;
    out->failed_sessions = m->failed_sessions;
    out->pending_to_peer = m->pending_to_peer;
    out->pending_from_peer = m->pending_from_peer;
    out->backoff_until = m->backoff_until;
    if (m->state[0] != '\0')
        snprintf(out->state, sizeof out->state, "%s", m->state);
    jetsync__node__sync_status__free_unpacked(m, NULL);
    return 0;
}

int jet_sync_status_put(jet_txn *txn, const uint8_t key[32], const jet_sync_status *st) {
    Jetsync__Node__SyncStatus m = JETSYNC__NODE__SYNC_STATUS__INIT;
    m.last_ok = st->last_ok;
    m.last_attempt = st->last_attempt;
    m.last_error = (char *)st->last_error;
    m.sent_records = st->sent_records;
    m.recv_records = st->recv_records;
    m.sent_bytes = st->sent_bytes;
    m.recv_bytes = st->recv_bytes;
    m.total_sessions = st->total_sessions;
    m.failed_sessions = st->failed_sessions;
    m.pending_to_peer = st->pending_to_peer;
    m.pending_from_peer = st->pending_from_peer;
    m.backoff_until = st->backoff_until;
    m.state = (char *)st->state;
    uint8_t buf[1024];
    size_t len = jetsync__node__sync_status__get_packed_size(&m);
    if (len > sizeof buf)
        return JET_ETOOBIG;
    jetsync__node__sync_status__pack(&m, buf);
    return jet_txn_put(txn, JET_DB_SYNC, key, 32, buf, len);
}
