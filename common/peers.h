/* peers.h - the partner list of a node (JET_DB_PEERS) and per-peer sync status (JET_DB_SYNC).
 *
 * Only peers in this list complete a handshake. Removing a peer keeps it as revoked, so that a
 * later connection is refused with "revoked" rather than "unknown", and its name cannot be
 * silently reused for another key. */
#ifndef JET_PEERS_H
#define JET_PEERS_H

#include <stdint.h>

#include "store.h"

typedef enum jet_role { JET_ROLE_REGION = 0, JET_ROLE_LEAD = 1 } jet_role;

enum { JET_PEER_NAME_MAX = 64, JET_PEER_ADDR_MAX = 256 };

typedef struct jet_peer {
    char name[JET_PEER_NAME_MAX];
    uint8_t key[32];
    char addr[JET_PEER_ADDR_MAX];
    jet_role role;
    int revoked;
    uint64_t added_at;
    uint64_t last_hs_value;
} jet_peer;

typedef struct jet_sync_status {
    uint64_t last_ok, last_attempt;
    char last_error[256];
    uint64_t sent_records, recv_records, sent_bytes, recv_bytes;
    uint64_t total_sessions, failed_sessions;
    uint64_t pending_to_peer, pending_from_peer;
    uint64_t backoff_until;
    char state[16];
} jet_sync_status;

const char *jet_role_name(jet_role role);
/* Parses "lead" or "region". Returns 0 or JET_EINVAL. */
int jet_role_parse(const char *text, jet_role *out);

/* Stores (adds or replaces) a peer under its name. */
int jet_peers_put(jet_txn *txn, const jet_peer *peer);
/* Gets a peer by name. Returns 0 or JET_ENOTFOUND. */
int jet_peers_get(jet_txn *txn, const char *name, jet_peer *out);
/* Finds a peer by key (revoked ones too). Returns 0 or JET_ENOTFOUND. */
int jet_peers_find_key(jet_txn *txn, const uint8_t key[32], jet_peer *out);
/* Visits every peer in name order; fn returns 0 to go on, >0 to stop, <0 to fail. */
int jet_peers_each(jet_txn *txn, int (*fn)(const jet_peer *peer, void *ctx), void *ctx);

/* Sync status by peer key; a peer never synced gets zeros and state "idle". */
int jet_sync_status_get(jet_txn *txn, const uint8_t key[32], jet_sync_status *out);
int jet_sync_status_put(jet_txn *txn, const uint8_t key[32], const jet_sync_status *st);

#endif
