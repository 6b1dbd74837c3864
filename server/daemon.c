/* daemon.c - jetsyncd's event loop: the listener, responder sessions, the schedule, signals.
 *
 * Everything runs on one libuv loop. A responder connection is a `conn` owned by the daemon's
 * list from on_accept until on_closed; an initiator job is a jet_syncer that frees itself.
 * At most one session runs with a given peer at a time, whichever side started it. */
#include "daemon.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "encoding.h"
#include "log.h"
#include "node.h"
#include "peering.h"
#include "peers.h"
#include "schedule.h"
#include "session.h"
#include "syncer.h"

enum { TICK_MS = 1000, MAX_TRACKED_PEERS = 4096 };

typedef struct conn conn;
typedef struct jetd jetd;

/* One responder connection. */
struct conn {
    jetd *d;
    jet_channel *ch;
    jet_session *session;
    uint8_t peer_key[32];
    int holds_peer; /* counted in the busy set */
    conn *prev, *next;
};

/* What the schedule knows about each peer it syncs with. */
typedef struct peer_track {
    uint8_t key[32];
    int busy;          /* a session (either side) is running */
    conn *holder;      /* the responder connection holding it, if any */
    unsigned failures; /* consecutive failed sessions we started */
    time_t retry_at;   /* 0: no retry pending */
    jet_syncer *job;   /* our running initiator job, or NULL */
} peer_track;

struct jetd {
    jet_peering peering; /* first: config.ctx points here */
    uv_loop_t *loop;
    jet_node *node;
    jet_listener *listener;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick;
    jet_schedule schedule;
    time_t next_run;
    conn *conns;
    peer_track *tracks;
    size_t ntracks;
    int stopping;
};

static peer_track *track_for(jetd *d, const uint8_t key[32]) {
    for (size_t i = 0; i < d->ntracks; i++)
        if (memcmp(d->tracks[i].key, key, 32) == 0)
            return &d->tracks[i];
    if (d->ntracks == MAX_TRACKED_PEERS)
        return NULL;
    if (d->ntracks % 16 == 0) {
        peer_track *t = realloc(d->tracks, (d->ntracks + 16) * sizeof *t);
        if (t == NULL)
            return NULL;
        d->tracks = t;
    }
    peer_track *t = &d->tracks[d->ntracks++];
    memset(t, 0, sizeof *t);
    memcpy(t->key, key, 32);
    return t;
}

/* ---- responder ------------------------------------------------------------------------- */

static void conn_session_done(jet_session *s, int code, const char *reason,
                              const jet_session_stats *st, void *arg) {
    (void)s;
    (void)st;
    (void)arg;
    (void)code;
    (void)reason; /* the session logged the outcome and wrote the peer's status */
}

static void on_accept(void *ctx, jet_channel *ch) {
    jetd *d = ctx;
    conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        jet_channel_close(ch, JET_ENOMEM);
        return;
    }
    c->d = d;
    c->ch = ch;
    c->next = d->conns;
    if (d->conns != NULL)
        d->conns->prev = c;
    d->conns = c;
    jet_channel_set_user(ch, c);
}

typedef struct find_ctx {
    const uint8_t *key;
    jet_peer peer;
} find_ctx;

static int find_txn(jet_txn *txn, void *arg) {
    find_ctx *f = arg;
    return jet_peers_find_key(txn, f->key, &f->peer);
}

static void on_established(jet_channel *ch, const uint8_t peer_id[32]) {
    conn *c = jet_channel_user(ch);
    jetd *d = c->d;
    find_ctx f;
    memset(&f, 0, sizeof f);
    f.key = peer_id;
    int rc = jet_store_read(jet_node_store(d->node), find_txn, &f);
    if (rc == 0 && f.peer.revoked)
        rc = JET_EREVOKED;
    if (rc != 0) {
        jet_channel_close(ch, rc == JET_ENOTFOUND ? JET_EPEER : rc);
        return;
    }
    peer_track *t = track_for(d, peer_id);
    /* A session that has ended and only waits for its connection to close does not block the
     * peer's next one (a peer retrying at once after a failure). */
    if (t != NULL && t->busy && t->holder != NULL && t->holder->session != NULL &&
        jet_session_ending(t->holder->session)) {
        t->holder->holds_peer = 0;
        t->holder = NULL;
        t->busy = 0;
    }
    if (t == NULL || t->busy) {
        jet_log(JET_LOG_INFO,
                "event=refuse peer=%s reason=\"a session with this peer is "
                "already running\"",
                f.peer.name);
        jet_channel_close(ch, JET_EBUSY);
        return;
    }
    t->busy = 1;
    t->holder = c;
    c->holds_peer = 1;
    memcpy(c->peer_key, peer_id, 32);
    jet_session_callbacks cb = {NULL, conn_session_done, c};
    rc =
        jet_session_start(d->node, d->loop, d->peering.committer, ch, &f.peer, 0, &cb, &c->session);
    if (rc != 0)
        jet_channel_close(ch, rc);
}

static void on_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    conn *c = jet_channel_user(ch);
    if (c->session != NULL)
        jet_session_frame(c->session, data, len);
}

static void on_writable(jet_channel *ch) {
    conn *c = jet_channel_user(ch);
    if (c->session != NULL)
        jet_session_writable(c->session);
}

static void on_closed(jet_channel *ch, int reason) {
    conn *c = jet_channel_user(ch);
    if (c == NULL)
        return;
    jetd *d = c->d;
    if (c->session != NULL) {
        jet_session_channel_closed(c->session, reason);
        jet_session_free(c->session);
    }
    if (c->holds_peer) {
        peer_track *t = track_for(d, c->peer_key);
        if (t != NULL) {
            t->busy = 0;
            t->holder = NULL;
        }
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
}

/* ---- initiator (schedule) -------------------------------------------------------------- */

typedef struct backoff_ctx {
    uint8_t key[32];
    time_t until;
} backoff_ctx;

static int backoff_txn(jet_txn *txn, void *arg) {
    backoff_ctx *b = arg;
    jet_sync_status st;
    int rc = jet_sync_status_get(txn, b->key, &st);
    if (rc != 0)
        return rc;
    st.backoff_until = (uint64_t)b->until;
    snprintf(st.state, sizeof st.state, "%s", b->until ? "backoff" : "idle");
    return jet_sync_status_put(txn, b->key, &st);
}

static void backoff_written(void *arg, int rc) {
    if (rc != 0)
        jet_log(JET_LOG_WARN, "event=status_write_failed error=\"%s\"", jet_strerror(rc));
    free(arg);
}

/* Records the back-off in the peer's status through the committer (`jetsync status` shows it). */
static void write_backoff(jetd *d, const uint8_t key[32], time_t until) {
    backoff_ctx *b = calloc(1, sizeof *b);
    if (b == NULL)
        return;
    memcpy(b->key, key, 32);
    b->until = until;
    if (jet_committer_submit(d->peering.committer, NULL, backoff_txn, b, backoff_written) != 0)
        free(b);
}

static void job_done(const jet_peer *peer, int code, const char *reason,
                     const jet_session_stats *st, void *arg) {
    jetd *d = arg;
    peer_track *t = track_for(d, peer->key);
    if (t == NULL)
        return;
    t->busy = 0;
    t->job = NULL;
    if (code == 0) {
        t->failures = 0;
        t->retry_at = 0;
        jet_log(JET_LOG_INFO, "event=sync_ok peer=%s sent=%llu received=%llu", peer->name,
                (unsigned long long)st->sent_records, (unsigned long long)st->recv_records);
        return;
    }
    if (d->stopping)
        return;
    t->failures++;
    uint64_t wait = jet_schedule_backoff(&d->schedule, t->failures);
    t->retry_at = time(NULL) + (time_t)wait;
    write_backoff(d, peer->key, t->retry_at);
    jet_log(JET_LOG_WARN, "event=sync_failed peer=%s failures=%u retry_in_s=%llu reason=\"%s\"",
            peer->name, t->failures, (unsigned long long)wait, reason);
}

static void start_sync(jetd *d, const jet_peer *peer) {
    peer_track *t = track_for(d, peer->key);
    if (t == NULL || t->busy || peer->revoked || peer->addr[0] == '\0')
        return;
    jet_syncer_callbacks cb = {NULL, job_done, d};
    int rc = jet_syncer_start(&d->peering, peer, &cb, &t->job);
    if (rc != 0) {
        jet_log(JET_LOG_WARN, "event=sync_failed peer=%s reason=\"%s\"", peer->name,
                jet_strerror(rc));
        return;
    }
    t->busy = 1;
}

typedef struct due_ctx {
    jetd *d;
    int all; /* the scheduled run: every peer; else only retries that are due */
    jet_peer *due;
    size_t ndue, cap;
} due_ctx;

static int collect_due(const jet_peer *p, void *arg) {
    due_ctx *c = arg;
    if (p->revoked || p->addr[0] == '\0')
        return 0;
    if (!c->all) {
        peer_track *t = track_for(c->d, p->key);
        if (t == NULL || t->retry_at == 0 || t->retry_at > time(NULL))
            return 0;
    }
    if (c->ndue == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        jet_peer *a = realloc(c->due, cap * sizeof *a);
        if (a == NULL)
            return JET_ENOMEM;
        c->due = a;
        c->cap = cap;
    }
    c->due[c->ndue++] = *p;
    return 0;
}

static int due_txn(jet_txn *txn, void *arg) {
    due_ctx *c = arg;
    c->ndue = 0;
    return jet_peers_each(txn, collect_due, c);
}

static void run_due(jetd *d, int all) {
    due_ctx c = {d, all, NULL, 0, 0};
    if (jet_store_read(jet_node_store(d->node), due_txn, &c) == 0)
        for (size_t i = 0; i < c.ndue; i++)
            start_sync(d, &c.due[i]);
    free(c.due);
}

static void plan_next_run(jetd *d) {
    uint64_t jitter = 0;
    if (d->schedule.jitter_s > 0)
        jitter = randombytes_uniform((uint32_t)(d->schedule.jitter_s + 1));
    d->next_run = jet_schedule_next(&d->schedule, time(NULL), jitter);
    if (d->next_run != 0) {
        char when[32];
        struct tm tm;
        localtime_r(&d->next_run, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        jet_log(JET_LOG_INFO, "event=schedule next_sync=%s", when);
    }
}

static void on_tick(uv_timer_t *timer) {
    jetd *d = timer->data;
    if (d->stopping)
        return;
    time_t now = time(NULL);
    if (d->next_run != 0 && now >= d->next_run) {
        run_due(d, 1);
        plan_next_run(d);
    } else {
        run_due(d, 0);
    }
}

/* ---- start and stop -------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
    (void)h;
}

static void on_listener_closed(void *arg) {
    (void)arg;
}

static void on_signal(uv_signal_t *sig, int signum) {
    jetd *d = sig->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    jet_log(JET_LOG_INFO, "event=stopping signal=%s", signum == SIGTERM ? "TERM" : "INT");
    for (size_t i = 0; i < d->ntracks; i++)
        if (d->tracks[i].job != NULL)
            jet_syncer_cancel(d->tracks[i].job);
    uv_timer_stop(&d->tick);
    uv_close((uv_handle_t *)&d->tick, on_handle_closed);
    uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
    if (d->listener != NULL)
        jet_listener_close(d->listener, on_listener_closed, d);
}

static int setup_schedule(jetd *d, const jet_daemon_options *opt) {
    const jet_config *c = jet_node_config(d->node);
    const char *at = opt->sync_at != NULL ? opt->sync_at : c->sync_at;
    d->schedule.at_minutes = -1;
    if (at[0] != '\0' && jet_schedule_parse_at(at, &d->schedule.at_minutes) != 0) {
        fprintf(stderr, "jetsyncd: sync at '%s': expected HH:MM\n", at);
        return -1;
    }
    d->schedule.every_s = opt->sync_every_set ? opt->sync_every_s : c->sync_every_s;
    d->schedule.jitter_s = opt->sync_at != NULL ? 0 : c->sync_jitter_s;
    d->schedule.retry_min_s = c->retry_min_s;
    d->schedule.retry_max_s = c->retry_max_s;
    return 0;
}

int jet_daemon_run(const jet_daemon_options *opt) {
    char home[4096];
    if (jet_node_resolve_home(opt->home, home, sizeof home) != 0) {
        fprintf(stderr, "jetsyncd: no node home: give --home DIR or set JETSYNC_HOME\n");
        return 1;
    }
    jetd *d = calloc(1, sizeof *d);
    if (d == NULL)
        return 1;
    jet_diag diag;
    jet_diag_clear(&diag);
    int rc = jet_node_open(home, &d->node, &diag);
    if (rc != 0) {
        fprintf(stderr, "jetsyncd: %s\n", jet_diag_message(&diag, rc));
        free(d);
        return 1;
    }
    int status = 1;
    d->loop = uv_default_loop();
    jet_peering_init(&d->peering, d->node, d->loop);
    d->peering.config.ctx = d;
    d->peering.config.cb.on_accept = on_accept;
    d->peering.config.cb.on_established = on_established;
    d->peering.config.cb.on_frame = on_frame;
    d->peering.config.cb.on_writable = on_writable;
    d->peering.config.cb.on_closed = on_closed;
    if (setup_schedule(d, opt) != 0)
        goto out;
    const char *listen = opt->listen != NULL ? opt->listen : jet_node_config(d->node)->listen;
    rc = jet_listener_start(&d->peering.config, listen, &d->listener);
    if (rc != 0) {
        fprintf(stderr, "jetsyncd: cannot listen on %s: %s\n", listen, jet_strerror(rc));
        goto out;
    }
    char addr[128];
    jet_listener_address(d->listener, addr, sizeof addr);
    printf("listening %s\n", addr);
    fflush(stdout);
    jet_log(JET_LOG_INFO, "event=start node=%s region=%s role=%s listen=%s", jet_node_id(d->node),
            jet_node_region(d->node), jet_node_is_lead(d->node) ? "lead" : "region", addr);
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    signal(SIGPIPE,
           SIG_IGN); /* a write to a closed connection fails that session, not the daemon */
    uv_timer_init(d->loop, &d->tick);
    d->tick.data = d;
    uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    plan_next_run(d);
    uv_run(d->loop, UV_RUN_DEFAULT);
    jet_log(JET_LOG_INFO, "event=stopped");
    status = 0;
out:
    /* The authenticate callback of the listener used the peering; the close above stopped
     * it, so the loop has no more handles. */
    uv_run(d->loop, UV_RUN_DEFAULT);
    uv_loop_close(d->loop);
    jet_peering_fini(&d->peering);
    jet_node_free(d->node);
    free(d->tracks);
    free(d);
    return status;
}
