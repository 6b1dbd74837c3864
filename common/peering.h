/* peering.h - what a node brings to the secure channel: its identity and network key, its
 * limits from the configuration, the responder's peer check against the peer list (with
 * replay protection) and the initiator's persisted handshake counter. */
#ifndef JET_PEERING_H
#define JET_PEERING_H

#include <uv.h>

#include "channel.h"
#include "committer.h"
#include "node.h"

typedef struct hs_accepted hs_accepted;

typedef struct jet_peering {
    jet_node *node;                /* borrowed */
    jet_committer *committer;      /* owned: the node's durable writes from this loop */
    jet_channel_identity identity; /* secret: wiped by jet_peering_fini */
    jet_channel_config config;     /* ready for jet_listener_start / jet_channel_connect */
    hs_accepted *accepting;        /* accepted handshake values not yet durable */
} jet_peering;

/* Fills `p` for `node` on `loop` and creates its committer (NULL when out of memory: sessions
 * then fail with a clear reason). The callbacks on_accept, on_established, on_frame,
 * on_writable and on_closed are left NULL for the caller to set; authorize and next_hs_value are
 * set, and config.ctx points to `p` (so `p` must not move while channels use it). */
void jet_peering_init(jet_peering *p, jet_node *node, uv_loop_t *loop);

/* Wipes the identity copy and frees the committer; call it after uv_run() returned (the loop
 * runs until the last commit is done). */
void jet_peering_fini(jet_peering *p);

/* The responder's peer check (also usable directly by tests). Returns 0, JET_EPEER,
 * JET_EREVOKED or JET_EREPLAY; on 0 the value is stored as the last accepted, durably before
 * this returns. */
int jet_peering_authorize(jet_node *node, const uint8_t node_id[32], uint64_t hs_value);

/* The initiator's next handshake value: max(wall clock ns, last sent + 1), persisted first. */
int jet_peering_next_hs_value(jet_node *node, uint64_t *out);

/* The same as a transaction, for a committer job; `value_out` is a uint64_t. */
int jet_peering_next_hs_txn(jet_txn *txn, void *value_out);

#endif
