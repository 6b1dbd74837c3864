/* node.h - a node home opened for use: configuration, identity, network key and store.
 *
 * Layout of a home directory:
 *   jetsync.conf    configuration (config.h)
 *   identity.key    Ed25519 seed, base64url, mode 0600 (refused if group/others can read it)
 *   network.key     the consortium's 32-byte network key, mode 0600
 *   store/          the LMDB environment (store.h) */
#ifndef JET_NODE_H
#define JET_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "encoding.h"
#include "error.h"
#include "store.h"

typedef struct jet_node jet_node;

typedef struct jet_node_init_options {
    const char *name;
    const char *region;
    int lead;
    const char *network_key_file; /* NULL: create a new network key in the home */
} jet_node_init_options;

/* Resolves the home: `opt` if given, else $JETSYNC_HOME, else $XDG_DATA_HOME/jetsync, else
 * ~/.local/share/jetsync. Writes into `buf`. Returns 0 or JET_EINVAL. */
int jet_node_resolve_home(const char *opt, char *buf, size_t len);

/* Creates a node in `home` (created if missing). Refuses (JET_EEXIST) and changes nothing when a
 * node is already there. On any failure, everything it created is removed. */
int jet_node_init(const char *home, const jet_node_init_options *opt, jet_node **out,
                  jet_diag *diag);

/* Opens the node in `home`. Errors: JET_ENOTFOUND (no node), JET_EKEYPERM, JET_ECONFIG,
 * JET_ESCHEMA, ... with a one-line message in diag. */
int jet_node_open(const char *home, jet_node **out, jet_diag *diag);

/* Closes the node and wipes its secrets. jet_node_free(NULL) is a no-op. */
void jet_node_free(jet_node *node);

const char *jet_node_home(const jet_node *node);
jet_store *jet_node_store(const jet_node *node);
const jet_config *jet_node_config(const jet_node *node);
/* The 64-byte Ed25519 secret key (libsodium layout: seed || public key). */
const uint8_t *jet_node_secret_key(const jet_node *node);
/* The 32-byte Ed25519 public key: the node's identity. */
const uint8_t *jet_node_public_key(const jet_node *node);
/* The node id text (43 characters). */
const char *jet_node_id(const jet_node *node);
const uint8_t *jet_node_network_key(const jet_node *node);
int jet_node_is_lead(const jet_node *node);
const char *jet_node_region(const jet_node *node);

#endif
