/* syncer.h - the initiator's side of a sync: connect to a peer, authenticate, run one session.
 * Used by `jetsync sync` and by the daemon's schedule.
 *
 * The job first has the peering's committer persist the next handshake value, then connects:
 * the loop never waits for the disk.
 *
 * Callback contract: if jet_syncer_start() returns an error, `done` never runs; if it returns 0,
 * `done` runs exactly once (address unusable, connection refused, handshake refused, session
 * failed or complete, cancelled) and the job frees itself after `done` returns. */
#ifndef JET_SYNCER_H
#define JET_SYNCER_H

#include <uv.h>

#include "peering.h"
#include "peers.h"
#include "session.h"

typedef struct jet_syncer jet_syncer;

typedef struct jet_syncer_callbacks {
    void (*progress)(const jet_peer *peer, const jet_session_stats *st, void *arg);
    void (*done)(const jet_peer *peer, int code, const char *reason, const jet_session_stats *st,
                 void *arg);
    void *arg;
} jet_syncer_callbacks;

/* Starts a sync with `peer` (which must have an address). `peering` must outlive the job. */
int jet_syncer_start(jet_peering *peering, const jet_peer *peer, const jet_syncer_callbacks *cb,
                     jet_syncer **out);

/* Abandons a running job (its `done` runs with JET_ECANCELED). */
void jet_syncer_cancel(jet_syncer *job);

#endif
