/* session.h - one sync session between two nodes over an established secure channel.
 *
 * Both sides send Hello (what they hold of the streams they may receive) and Plan (how much
 * they are about to send), then stream Batches of records the other lacks, in log order, with a
 * window of unacknowledged batches; the receiver commits each batch with its version vector in
 * one transaction and acknowledges it. Each side sends Done after its last batch and Fin once
 * its Done went out, all its batches were acknowledged and the peer's Done arrived. A session
 * ends only as complete (both Fins exchanged) or failed(reason); a cut connection is never
 * taken for a complete session. docs/protocol.md specifies the messages.
 *
 * What is sent follows the receiver's role (policy): toolkit records to every partner, a
 * region's statistics to the lead only, the lead's figures to every partner. The receiver
 * checks the same policy and refuses a batch that breaks it.
 *
 * Ownership: the session borrows the node and the channel. The caller routes the channel's
 * on_frame, on_writable and on_closed callbacks to the functions below. `done` runs exactly
 * once, from jet_session_channel_closed(); the caller frees the session after it. */
#ifndef JET_SESSION_H
#define JET_SESSION_H

#include <stdint.h>

#include "channel.h"
#include "committer.h"
#include "node.h"
#include "peers.h"

typedef struct jet_session jet_session;

enum {
    JET_SESSION_VERSION = 1,
    JET_SESSION_BATCH_BYTES = 256 * 1024, /* records per batch up to this many bytes */
    JET_SESSION_BATCH_RECORDS = 2000,
    JET_SESSION_WINDOW = 8, /* unacknowledged batches in flight */
    JET_SESSION_MAX_HELLO_LOGS = 1000000,
    JET_SESSION_MAX_BATCH_RECORDS = 20000, /* a peer's batch with more is refused */
    JET_SESSION_UNPACK_FACTOR = 8,         /* a message may take this many times its size */
    JET_SESSION_UNPACK_BASE = 1024 * 1024, /* ... plus this, in memory once unpacked */
};

typedef struct jet_session_stats {
    uint64_t plan_send_records, plan_send_bytes; /* what we announced */
    uint64_t plan_recv_records, plan_recv_bytes; /* what the peer announced */
    uint64_t sent_records, sent_bytes;           /* acknowledged by the peer */
    uint64_t recv_records, recv_bytes;           /* received (acknowledged once committed) */
    uint64_t stored_records;                     /* new to this node */
    double started, elapsed;                     /* seconds */
} jet_session_stats;

typedef struct jet_session_callbacks {
    /* Progress, at most a few times a second. May be NULL. */
    void (*progress)(jet_session *s, const jet_session_stats *st, void *arg);
    /* The end: code 0 for complete, else the failure code with `reason`. */
    void (*done)(jet_session *s, int code, const char *reason, const jet_session_stats *st,
                 void *arg);
    void *arg;
} jet_session_callbacks;

/* Starts a session on an established channel with `peer` (from the peer list). Sends Hello.
 * `initiator` is 1 on the side that connected; it closes the channel when both Fins are in.
 * Received batches and status changes are written through `committer` (borrowed; it must be
 * on `loop` and for the node's store), so the loop never waits for the disk: a batch is
 * acknowledged once its group commit is durable. */
int jet_session_start(jet_node *node, uv_loop_t *loop, jet_committer *committer, jet_channel *ch,
                      const jet_peer *peer, int initiator, const jet_session_callbacks *cb,
                      jet_session **out);

/* Route the channel's callbacks here. */
void jet_session_frame(jet_session *s, const uint8_t *data, size_t len);
void jet_session_writable(jet_session *s);
/* The channel closed: ends the session (complete only if both Fins were exchanged) and runs
 * `done`. After this the channel must not be used. */
void jet_session_channel_closed(jet_session *s, int reason);

/* Ends the session with a failure (sends Abort, then closes the channel). */
void jet_session_fail(jet_session *s, int code, const char *reason);

/* 1 once the session is complete or failed and only waits for its connection to close. */
int jet_session_ending(const jet_session *s);

/* The peer this session is with. */
const jet_peer *jet_session_peer(const jet_session *s);
const jet_session_stats *jet_session_get_stats(const jet_session *s);

/* Frees a session after `done` ran (the memory goes once its timer has closed).
 * jet_session_free(NULL) is a no-op. */
void jet_session_free(jet_session *s);

/* Records in the peer's sync status a failure that happened before any session existed (the
 * connection or the handshake failed): last attempt, reason, failed count, state "failed".
 * Written through `committer`; a failed write is logged. */
void jet_session_record_failure(jet_committer *committer, const jet_peer *peer, const char *reason);

/* Policy: may a node of role `self_lead` send records of `stream` by `origin` to a peer of
 * role `peer_role`? And may it accept them from such a peer? */
int jet_policy_may_send(uint32_t stream, int self_lead, jet_role peer_role);
int jet_policy_may_accept(uint32_t stream, const uint8_t origin[32], int self_lead,
                          const jet_peer *from);

#endif
