/* peering.c - the node's side of the channel: identity, limits, peer check, replay counter. */
#include "peering.h"

#include <sodium.h>
#include <stdlib.h>
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

/* The peer check: a current peer, and a value above the last one accepted from it. */
static int check_txn(jet_txn *txn, void *arg) {
    authorize_ctx *a = arg;
    int rc = jet_peers_find_key(txn, a->node_id, &a->peer);
    if (rc == JET_ENOTFOUND)
        return JET_EPEER;
    if (rc != 0)
        return rc;
    if (a->peer.revoked)
        return JET_EREVOKED;
    return a->hs_value <= a->peer.last_hs_value ? JET_EREPLAY : 0;
}

static int authorize_txn(jet_txn *txn, void *arg) {
    authorize_ctx *a = arg;
    int rc = check_txn(txn, a);
    if (rc != 0)
        return rc;
    a->peer.last_hs_value = a->hs_value;
    return jet_peers_put(txn, &a->peer);
}

static void log_refusal(const uint8_t node_id[32], const jet_peer *peer, int rc) {
    char id[JET_NODE_ID_BUF];
    jet_node_id_format(node_id, id);
    jet_log(JET_LOG_WARN, "event=refuse peer_id=%s name=%s reason=\"%s\"", id,
            peer->name[0] ? peer->name : "-", jet_strerror(rc));
}

int jet_peering_authorize(jet_node *node, const uint8_t node_id[32], uint64_t hs_value) {
    authorize_ctx a;
    memset(&a, 0, sizeof a);
    a.node_id = node_id;
    a.hs_value = hs_value;
    int rc = jet_store_write(jet_node_store(node), authorize_txn, &a);
    if (rc != 0)
        log_refusal(node_id, &a.peer, rc);
    return rc;
}

int jet_peering_next_hs_txn(jet_txn *txn, void *value_out) {
    uint64_t *value = value_out;
    uint64_t last = 0;
    int rc = jet_meta_get_u64(txn, "hs_sent", &last);
    if (rc != 0 && rc != JET_ENOTFOUND)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    /* A clock stepped back or a restored store never locks a partner out: the value only
     * ever grows, from whichever of the clock and the counter is ahead. */
    *value = ns > last ? ns : last + 1;
    return jet_meta_put_u64(txn, "hs_sent", *value);
}

int jet_peering_next_hs_value(jet_node *node, uint64_t *out) {
    uint64_t value = 0;
    int rc = jet_store_write(jet_node_store(node), jet_peering_next_hs_txn, &value);
    if (rc == 0)
        *out = value;
    return rc;
}

/* ---- the responder's check on the loop: read now, write through the committer ---------- */

/* An accepted handshake value on its way to the store. Until it is durable it also counts as
 * "the last accepted", so a replay in the meantime is refused all the same. */
struct hs_accepted {
    hs_accepted *next;
    jet_peering *p;
    uint8_t node_id[32];
    uint64_t value;
};

static int persist_txn(jet_txn *txn, void *arg) {
    const hs_accepted *h = arg;
    jet_peer peer;
    int rc = jet_peers_find_key(txn, h->node_id, &peer);
    if (rc == JET_ENOTFOUND)
        return 0; /* removed meanwhile: nothing to remember */
    if (rc != 0 || h->value <= peer.last_hs_value)
        return rc;
    peer.last_hs_value = h->value;
    return jet_peers_put(txn, &peer);
}

static void persisted(void *arg, int rc) {
    hs_accepted *h = arg;
    if (rc != 0) {
        char id[JET_NODE_ID_BUF];
        jet_node_id_format(h->node_id, id);
        jet_log(JET_LOG_WARN, "event=hs_value_write_failed peer_id=%s error=\"%s\"", id,
                jet_strerror(rc));
    }
    for (hs_accepted **at = &h->p->accepting; *at != NULL; at = &(*at)->next)
        if (*at == h) {
            *at = h->next;
            break;
        }
    free(h);
}

/* The channel's authorize callback: a read on the loop, the accepted value queued for the
 * committer (before any batch of the session it opens, so it commits first). */
static int cb_authorize(void *ctx, const uint8_t node_id[32], uint64_t hs_value) {
    jet_peering *p = ctx;
    authorize_ctx a;
    memset(&a, 0, sizeof a);
    a.node_id = node_id;
    a.hs_value = hs_value;
    int rc = jet_store_read(jet_node_store(p->node), check_txn, &a);
    for (const hs_accepted *h = p->accepting; rc == 0 && h != NULL; h = h->next)
        if (memcmp(h->node_id, node_id, 32) == 0 && hs_value <= h->value)
            rc = JET_EREPLAY;
    hs_accepted *h = NULL;
    if (rc == 0 && (h = calloc(1, sizeof *h)) == NULL)
        rc = JET_ENOMEM;
    if (rc == 0) {
        h->p = p;
        memcpy(h->node_id, node_id, 32);
        h->value = hs_value;
        rc = jet_committer_submit(p->committer, NULL, persist_txn, h, persisted);
        if (rc != 0)
            free(h);
    }
    if (rc != 0) {
        log_refusal(node_id, &a.peer, rc);
        return rc;
    }
    h->next = p->accepting;
    p->accepting = h;
    return 0;
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
    /* Once per node rather than once per connect; a node's own keys always belong together,
     * and if they did not, every connect would refuse them (zeros: derive each time). */
    (void)jet_channel_identity_derive(&p->identity);
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
    if (jet_committer_new(loop, jet_node_store(node), &p->committer) != 0)
        p->committer = NULL;
}

void jet_peering_fini(jet_peering *p) {
    sodium_memzero(&p->identity, sizeof p->identity);
    jet_committer_free(p->committer);
    p->committer = NULL;
}
