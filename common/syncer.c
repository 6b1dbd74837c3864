/* syncer.c - connect, authenticate and run one session as initiator. */
#include "syncer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct jet_syncer {
    jet_peering *peering;
    jet_peer peer;
    jet_syncer_callbacks cb;
    uint64_t hs_value; /* persisted by the committer before the channel opens */
    int cancelled;     /* cancelled before the channel opened */
    jet_channel *ch;
    jet_session *session;
    int session_done;
    int code;
    char reason[512];
    jet_session_stats stats;
};

static void session_progress(jet_session *s, const jet_session_stats *st, void *arg) {
    jet_syncer *job = arg;
    if (job->cb.progress != NULL)
        job->cb.progress(&job->peer, st, job->cb.arg);
}

static void session_done(jet_session *s, int code, const char *reason, const jet_session_stats *st,
                         void *arg) {
    jet_syncer *job = arg;
    job->session_done = 1;
    job->code = code;
    snprintf(job->reason, sizeof job->reason, "%s", reason);
    job->stats = *st;
}

static void on_established(jet_channel *ch, const uint8_t peer_id[32]) {
    jet_syncer *job = jet_channel_user(ch);
    jet_session_callbacks cb = {session_progress, session_done, job};
    uv_loop_t *loop = job->peering->config.loop;
    int rc = jet_session_start(job->peering->node, loop, job->peering->committer, ch, &job->peer, 1,
                               &cb, &job->session);
    if (rc != 0)
        jet_channel_close(ch, rc);
}

static void on_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    jet_syncer *job = jet_channel_user(ch);
    if (job->session != NULL)
        jet_session_frame(job->session, data, len);
}

static void on_writable(jet_channel *ch) {
    jet_syncer *job = jet_channel_user(ch);
    if (job->session != NULL)
        jet_session_writable(job->session);
}

/* Ends a job that never opened its channel. */
static void finish_unconnected(jet_syncer *job, int code, const char *what) {
    job->code = code;
    snprintf(job->reason, sizeof job->reason, "%s: %s", what, jet_strerror(code));
    jet_session_record_failure(job->peering->committer, &job->peer, job->reason);
    if (job->cb.done != NULL)
        job->cb.done(&job->peer, job->code, job->reason, &job->stats, job->cb.arg);
    free(job);
}

static void connect_failed(jet_syncer *job, int code) {
    char what[JET_PEER_ADDR_MAX + 32];
    snprintf(what, sizeof what, "could not connect to %s", job->peer.addr);
    finish_unconnected(job, code, what);
}

static void on_closed(jet_channel *ch, int reason) {
    jet_syncer *job = jet_channel_user(ch);
    if (job->session == NULL) {
        connect_failed(job, reason != 0 ? reason : JET_ECLOSED);
        return;
    }
    jet_session_channel_closed(job->session, reason);
    jet_session_free(job->session);
    if (job->cb.done != NULL)
        job->cb.done(&job->peer, job->code, job->reason, &job->stats, job->cb.arg);
    free(job);
}

static int hs_value(void *ctx, uint64_t *out) {
    *out = ((jet_syncer *)ctx)->hs_value;
    return 0;
}

/* On the committer's worker: touches only job->hs_value. */
static int hs_value_txn(jet_txn *txn, void *arg) {
    return jet_peering_next_hs_txn(txn, &((jet_syncer *)arg)->hs_value);
}

/* The handshake value is durable: open the channel. */
static void on_hs_value(void *arg, int rc) {
    jet_syncer *job = arg;
    if (job->cancelled)
        rc = JET_ECANCELED;
    if (rc != 0) {
        finish_unconnected(job, rc, "preparing the handshake");
        return;
    }
    jet_channel_config cfg = job->peering->config;
    cfg.cb.on_established = on_established;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_writable = on_writable;
    cfg.cb.on_closed = on_closed;
    cfg.cb.next_hs_value = hs_value;
    cfg.ctx = job; /* an initiator's channel asks its ctx only for the handshake value */
    rc = jet_channel_connect(&cfg, job->peer.addr, job->peer.key, job, &job->ch);
    if (rc != 0) {
        connect_failed(job, rc);
        return;
    }
    jet_log(JET_LOG_INFO, "event=connect peer=%s addr=%s", job->peer.name, job->peer.addr);
}

int jet_syncer_start(jet_peering *peering, const jet_peer *peer, const jet_syncer_callbacks *cb,
                     jet_syncer **out) {
    if (peer->addr[0] == '\0')
        return JET_EINVAL;
    /* A write to a connection the peer has closed (it dropped us after a time-out, or died) must
     * fail with EPIPE and end the session as failed, not kill the process with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    jet_syncer *job = calloc(1, sizeof *job);
    if (job == NULL)
        return JET_ENOMEM;
    job->peering = peering;
    job->peer = *peer;
    job->cb = *cb;
    /* The replay counter must be durable before message 1 carries it; the committer writes it
     * so that the loop never waits for the disk. */
    int rc = jet_committer_submit(peering->committer, NULL, hs_value_txn, job, on_hs_value);
    if (rc != 0) {
        free(job);
        return rc;
    }
    if (out != NULL)
        *out = job;
    return 0;
}

void jet_syncer_cancel(jet_syncer *job) {
    if (job->session != NULL)
        jet_session_fail(job->session, JET_ECANCELED, "cancelled");
    else if (job->ch != NULL)
        jet_channel_close(job->ch, JET_ECANCELED);
    else
        job->cancelled = 1; /* the channel is not open yet: done runs when it would open */
}
