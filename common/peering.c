/* peering.c - the node's side of the channel: identity, limits, peer check, replay counter. */
#include "peering.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "log.h"
#include "peers.h"

typedef struct authorize_ctx {
    const uint8_t *node_id;
    uint64_t hs_value;
    jet_peer peer;
} authorize_ctx;

static int authorize_txn(jet_txn *txn, void *arg) {
    authorize_ctx *a = arg;
    int rc = jet_peers_find_key(txn, a->node_id, &a->peer);
    if (rc == JET_ENOTFOUND)
        return JET_EPEER;
    if (rc != 0)
        return rc;
    if (a->peer.revoked)
        return JET_EREVOKED;
    if (a->hs_value <= a->peer.last_hs_value)
        return JET_EREPLAY;
    a->peer.last_hs_value = a->hs_value;
    return jet_peers_put(txn, &a->peer);
}

int jet_peering_authorize(jet_node *node, const uint8_t node_id[32], uint64_t hs_value) {
    authorize_ctx a;
    memset(&a, 0, sizeof a);
    a.node_id = node_id;
    a.hs_value = hs_value;
    int rc = jet_store_write(jet_node_store(node), authorize_txn, &a);
    if (rc != 0) {
        char id[JET_NODE_ID_BUF];
        jet_node_id_format(node_id, id);
        jet_log(JET_LOG_WARN, "event=refuse peer_id=%s name=%s reason=\"%s\"", id,
                a.peer.name[0] ? a.peer.name : "-", jet_strerror(rc));
    }
    return rc;
}

typedef struct counter_ctx {
    uint64_t value;
} counter_ctx;

static int next_value_txn(jet_txn *txn, void *arg) {
    counter_ctx *c = arg;
    uint64_t last = 0;
    int rc = jet_meta_get_u64(txn, "hs_sent", &last);
    if (rc != 0 && rc != JET_ENOTFOUND)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    /* A clock stepped back or a restored store never locks a partner out: the value only
     * ever grows, from whichever of the clock and the counter is ahead. */
    c->value = ns > last ? ns : last + 1;
    return jet_meta_put_u64(txn, "hs_sent", c->value);
}

int jet_peering_next_hs_value(jet_node *node, uint64_t *out) {
    counter_ctx c = {0};
    int rc = jet_store_write(jet_node_store(node), next_value_txn, &c);
    if (rc == 0)
        *out = c.value;
    return rc;
}

static int cb_authorize(void *ctx, const uint8_t node_id[32], uint64_t hs_value) {
    jet_peering *p = ctx;
    return jet_peering_authorize(p->node, node_id, hs_value);
}

static int cb_next_hs_value(void *ctx, uint64_t *out) {
    jet_peering *p = ctx;
    return jet_peering_next_hs_value(p->node, out);
}

void jet_peering_init(jet_peering *p, jet_node *node, uv_loop_t *loop) {
    memset(p, 0, sizeof *p);
    p->node = node;
    memcpy(p->identity.ed25519_sk, jet_node_secret_key(node), 64);
    memcpy(p->identity.ed25519_pk, jet_node_public_key(node), 32);
    memcpy(p->identity.network_key, jet_node_network_key(node), 32);
    const jet_config *c = jet_node_config(node);
    p->config.loop = loop;
    p->config.identity = &p->identity;
    jet_channel_limits_default(&p->config.limits);
    p->config.limits.max_frame = c->max_frame;
    p->config.limits.handshake_timeout_ms = c->handshake_timeout_ms;
    p->config.limits.idle_timeout_ms = c->idle_timeout_ms;
    p->config.limits.max_connections = c->max_connections;
    p->config.limits.max_per_address = c->max_per_address;
    p->config.cb.authorize = cb_authorize;
    p->config.cb.next_hs_value = cb_next_hs_value;
    p->config.ctx = p;
}

void jet_peering_fini(jet_peering *p) {
    sodium_memzero(&p->identity, sizeof p->identity);
}
