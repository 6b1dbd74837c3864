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

static void session_done(jet_session *s, int code, const char *reason,
                         const jet_session_stats *st, void *arg) {
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
    int rc = jet_session_start(job->peering->node, loop, ch, &job->peer, 1, &cb, &job->session);
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

static void on_closed(jet_channel *ch, int reason) {
    jet_syncer *job = jet_channel_user(ch);
    if (job->session != NULL) {
        jet_session_channel_closed(job->session, reason);
        jet_session_free(job->session);
    } else {
        job->code = reason != 0 ? reason : JET_ECLOSED;
        snprintf(job->reason, sizeof job->reason, "could not connect to %s: %s", job->peer.addr,
                 jet_strerror(job->code));
        jet_session_record_failure(job->peering->node, &job->peer, job->reason);
    }
    if (job->cb.done != NULL)
        job->cb.done(&job->peer, job->code, job->reason, &job->stats, job->cb.arg);
    free(job);
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
    jet_channel_config cfg = peering->config;
    cfg.cb.on_established = on_established;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_writable = on_writable;
    cfg.cb.on_closed = on_closed;
    int rc = jet_channel_connect(&cfg, peer->addr, peer->key, job, &job->ch);
    if (rc != 0) {
        free(job);
        return rc;
    }
    jet_log(JET_LOG_INFO, "event=connect peer=%s addr=%s", peer->name, peer->addr);
    if (out != NULL)
        *out = job;
    return 0;
}

void jet_syncer_cancel(jet_syncer *job) {
    if (job->session != NULL)
        jet_session_fail(job->session, JET_ECANCELED, "cancelled");
    else
        jet_channel_close(job->ch, JET_ECANCELED);
}
