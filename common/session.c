/* session.c - the sync session state machine.
 *
 *   HELLO ──(peer Hello ok)──> STREAMING ──(both Fins)──> COMPLETE ──(channel closed)──> ENDED
 *     │                            │                          (initiator closes once its
 *     └───────(error, Abort, stall, channel closed)──> CLOSING ──(channel closed)──> ENDED
 *
 * In STREAMING both directions run at once: pump() sends batches while fewer than
 * JET_SESSION_WINDOW are unacknowledged and the channel is not pushing back; every received
 * batch is committed in one store transaction before its Ack goes out. session_check() asserts
 * the invariants at each transition. */
#include "session.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "committer.h"
#include "views.h"
#include "encoding.h"
#include "log.h"
#include "record.h"
#include "textfold.h"
#include "wire.pb-c.h"

typedef enum session_state { S_HELLO, S_STREAMING, S_COMPLETE, S_CLOSING, S_ENDED } session_state;

static const char *const state_names[] = {"hello", "streaming", "complete", "closing", "ended"};

enum { TICK_MS = 250, CLOSE_GRACE_MS = 5000, STATUS_EVERY_MS = 2000, STATUS_AFTER_MS = 1000 };

/* One log range to send: records next..last of (stream, origin, epoch). */
typedef struct send_range {
    uint32_t stream;
    uint8_t origin[32];
    uint64_t epoch;
    uint64_t next;
    uint64_t last;
} send_range;

/* What an unacknowledged batch carried, to count it once acknowledged. */
typedef struct inflight_batch {
    uint64_t records;
    uint64_t bytes;
} inflight_batch;

typedef struct ingest_job ingest_job;

struct jet_session {
    jet_node *node;
    jet_committer *committer;
    jet_channel *ch;
    jet_peer peer;
    int initiator;
    jet_session_callbacks cb;
    session_state state;
    uv_timer_t timer;

    send_range *ranges;
    size_t nranges, cur_range;

    uint64_t sent_batches;  /* batches sent so far (the last batch_no) */
    uint64_t acked_batches; /* acknowledged by the peer */
    inflight_batch inflight[JET_SESSION_WINDOW];
    uint64_t recv_batches;   /* batches received (committing or committed) */
    uint64_t recv_committed; /* of those, committed and acknowledged */
    ingest_job *jobs;        /* batches on their way to the store, oldest first */
    int blocked;             /* the channel asked us to stop sending */
    int sent_done, got_done, sent_fin, got_fin, got_plan;
    uint64_t peer_done_batches;

    uint64_t last_progress_ms;
    uint64_t closing_since_ms;
    uint64_t last_report_ms;
    uint64_t last_status_ms; /* when "syncing" was last written to the store */
    uint64_t started_ms;
    int end_code;
    char end_reason[256];
    int done_called;
    jet_session_stats stats;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_s(void) {
    return (double)now_ms() / 1000.0;
}

static void session_check(const jet_session *s) {
    assert(s->acked_batches <= s->sent_batches);
    assert(s->sent_batches - s->acked_batches <= JET_SESSION_WINDOW);
    assert(s->cur_range <= s->nranges);
    assert(!s->sent_fin || (s->sent_done && s->got_done && s->acked_batches == s->sent_batches));
    assert(s->state != S_COMPLETE || (s->sent_fin && s->got_fin));
    (void)s;
}

static void set_state(jet_session *s, session_state next) {
    jet_log(JET_LOG_DEBUG, "event=session_state peer=%s from=%s to=%s", s->peer.name,
            state_names[s->state], state_names[next]);
    s->state = next;
    session_check(s);
}

/* ---- policy ---------------------------------------------------------------------------- */

int jet_policy_may_send(uint32_t stream, int self_lead, jet_role peer_role) {
    switch (stream) {
    case JET_STREAM_TOOLKIT: return 1;
    case JET_STREAM_STATS: return peer_role == JET_ROLE_LEAD && !self_lead;
    case JET_STREAM_FIGURES:
        /* The lead's figures go from the lead to the regions, never back and never sideways. */
        return self_lead && peer_role == JET_ROLE_REGION;
    default: return 0;
    }
}

int jet_policy_may_accept(uint32_t stream, const uint8_t origin[32], int self_lead,
                          const jet_peer *from) {
    switch (stream) {
    case JET_STREAM_TOOLKIT: return 1;
    case JET_STREAM_STATS:
        /* Only the lead holds statistics of other nodes, and a region sends only its own. */
        return self_lead && from->role == JET_ROLE_REGION && memcmp(origin, from->key, 32) == 0;
    case JET_STREAM_FIGURES: return from->role == JET_ROLE_LEAD && !self_lead;
    default: return 0;
    }
}

/* ---- sending messages ------------------------------------------------------------------ */

static int send_message(jet_session *s, const Jetsync__Wire__Message *m) {
    size_t len = jetsync__wire__message__get_packed_size(m);
    uint8_t stackbuf[512];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (buf == NULL)
        return JET_ENOMEM;
    jetsync__wire__message__pack(m, buf);
    int rc = jet_channel_send(s->ch, buf, len);
    if (buf != stackbuf)
        free(buf);
    if (rc == 1) {
        s->blocked = 1;
        rc = 0;
    }
    return rc;
}

static void session_end_now(jet_session *s, int code, const char *reason);

static void send_abort(jet_session *s, int code, const char *reason) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Abort a = JETSYNC__WIRE__ABORT__INIT;
    a.code = code;
    a.reason = (char *)reason;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_ABORT;
    m.abort = &a;
    send_message(s, &m);
}

static void on_tick(uv_timer_t *t);

void jet_session_fail(jet_session *s, int code, const char *reason) {
    if (s->state == S_CLOSING || s->state == S_ENDED)
        return;
    s->end_code = code;
    snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
    /* A failed session stores no more: its batches still queued are dropped (one already on
     * the worker finishes; it was checked like any other). */
    jet_committer_cancel(s->committer, s);
    jet_log(JET_LOG_WARN, "event=session_failed peer=%s reason=\"%s\"", s->peer.name, reason);
    send_abort(s, code, reason);
    s->closing_since_ms = now_ms();
    set_state(s, S_CLOSING);
    uv_timer_start(&s->timer, on_tick, 1, 1); /* close as soon as the Abort is written */
}

static void failf(jet_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(jet_session *s, int code, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    jet_session_fail(s, code, reason);
}

/* ---- hello and plan -------------------------------------------------------------------- */

typedef struct hello_build {
    jet_session *s;
    Jetsync__Wire__LogPosition *pos;
    Jetsync__Wire__LogPosition **ptrs;
    uint8_t (*origins)[32];
    size_t n, cap;
    int self_lead;
} hello_build;

static int wants_stream_from(jet_session *s, uint32_t stream) {
    int self_lead = jet_node_is_lead(s->node);
    /* The streams this node may receive from that peer (origin checked per record). */
    if (stream == JET_STREAM_STATS)
        return self_lead && s->peer.role == JET_ROLE_REGION;
    if (stream == JET_STREAM_FIGURES)
        return !self_lead && s->peer.role == JET_ROLE_LEAD;
    return stream == JET_STREAM_TOOLKIT;
}

static int hello_add(const jet_vv_entry *e, void *arg) {
    hello_build *h = arg;
    if (!wants_stream_from(h->s, e->stream))
        return 0;
    if (e->stream == JET_STREAM_STATS && memcmp(e->origin, h->s->peer.key, 32) != 0)
        return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        void *a = realloc(h->pos, cap * sizeof *h->pos);
        if (a == NULL)
            return JET_ENOMEM;
        h->pos = a;
        void *b = realloc(h->origins, cap * sizeof *h->origins);
        if (b == NULL)
            return JET_ENOMEM;
        h->origins = b;
        h->cap = cap;
    }
    Jetsync__Wire__LogPosition *p = &h->pos[h->n];
    jetsync__wire__log_position__init(p);
    memcpy(h->origins[h->n], e->origin, 32);
    p->stream = e->stream;
    p->epoch = e->epoch;
    p->seq = e->seq;
    h->n++;
    return 0;
}

static int hello_txn(jet_txn *txn, void *arg) {
    hello_build *h = arg;
    h->n = 0;
    return jet_vv_scan(txn, 0, hello_add, h);
}

static int send_hello(jet_session *s) {
    hello_build h;
    memset(&h, 0, sizeof h);
    h.s = s;
    int rc = jet_store_read(jet_node_store(s->node), hello_txn, &h);
    if (rc == 0) {
        h.ptrs = malloc((h.n ? h.n : 1) * sizeof *h.ptrs);
        if (h.ptrs == NULL)
            rc = JET_ENOMEM;
    }
    if (rc == 0) {
        for (size_t i = 0; i < h.n; i++) {
            /* Origins were copied aside because realloc may have moved the positions. */
            h.pos[i].origin.data = h.origins[i];
            h.pos[i].origin.len = 32;
            h.ptrs[i] = &h.pos[i];
        }
        Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
        Jetsync__Wire__Hello hello = JETSYNC__WIRE__HELLO__INIT;
        hello.version = JET_SESSION_VERSION;
        hello.node_id.data = (uint8_t *)jet_node_public_key(s->node);
        hello.node_id.len = 32;
        hello.role = jet_node_is_lead(s->node) ? 1 : 0;
        hello.region = (char *)jet_node_region(s->node);
        hello.n_have = h.n;
        hello.have = h.ptrs;
        m.body_case = JETSYNC__WIRE__MESSAGE__BODY_HELLO;
        m.hello = &hello;
        rc = send_message(s, &m);
    }
    free(h.ptrs);
    free(h.pos);
    free(h.origins);
    return rc;
}

/* The peer's holdings, sorted for lookup. */
typedef struct peer_have {
    const Jetsync__Wire__Hello *hello;
} peer_have;

static uint64_t peer_seq(const Jetsync__Wire__Hello *hello, uint32_t stream,
                         const uint8_t origin[32], uint64_t epoch) {
    for (size_t i = 0; i < hello->n_have; i++) {
        const Jetsync__Wire__LogPosition *p = hello->have[i];
        if (p->stream == stream && p->epoch == epoch && memcmp(p->origin.data, origin, 32) == 0)
            return p->seq;
    }
    return 0;
}

typedef struct plan_build {
    jet_session *s;
    const Jetsync__Wire__Hello *hello;
    jet_txn *txn;
    uint64_t bytes;
    uint64_t records;
    int restored; /* the peer holds more of our own current log than we do */
} plan_build;

typedef struct range_bytes {
    uint64_t last;
    uint64_t bytes;
} range_bytes;

static int count_bytes(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    range_bytes *r = arg;
    if (jet_get_be64((const uint8_t *)key + 41) > r->last)
        return 1;
    r->bytes += vlen;
    return 0;
}

static int plan_add(const jet_vv_entry *e, void *arg) {
    plan_build *p = arg;
    jet_session *s = p->s;
    uint64_t have = peer_seq(p->hello, e->stream, e->origin, e->epoch);
    if (memcmp(e->origin, jet_node_public_key(s->node), 32) == 0 && have > e->seq)
        p->restored = 1;
    if (!jet_policy_may_send(e->stream, jet_node_is_lead(s->node), s->peer.role))
        return 0;
    if (have >= e->seq)
        return 0;
    if (s->nranges % 64 == 0) {
        void *a = realloc(s->ranges, (s->nranges + 64) * sizeof *s->ranges);
        if (a == NULL)
            return JET_ENOMEM;
        s->ranges = a;
    }
    send_range *r = &s->ranges[s->nranges++];
    r->stream = e->stream;
    memcpy(r->origin, e->origin, 32);
    r->epoch = e->epoch;
    r->next = have + 1;
    r->last = e->seq;
    p->records += e->seq - have;
    uint8_t from[JET_LOG_KEY];
    jet_log_key(from, e->stream, e->origin, e->epoch, have + 1);
    range_bytes rb = {e->seq, 0};
    int rc =
        jet_txn_scan(p->txn, JET_DB_LOG, from, JET_LOG_PREFIX, from, JET_LOG_KEY, count_bytes, &rb);
    p->bytes += rb.bytes;
    return rc;
}

static int plan_txn(jet_txn *txn, void *arg) {
    plan_build *p = arg;
    p->txn = txn;
    p->s->nranges = 0;
    p->records = p->bytes = 0;
    return jet_vv_scan(txn, 0, plan_add, p);
}

/* A new epoch, written by the committer; the session need not wait for it (it appends
 * nothing), and a failure is retried by the next session, which finds the same evidence. */
typedef struct epoch_job {
    char peer[JET_PEER_NAME_MAX];
    uint64_t epoch;
} epoch_job;

static int new_epoch_txn(jet_txn *txn, void *arg) {
    return jet_log_new_epoch(txn, &((epoch_job *)arg)->epoch);
}

static void new_epoch_done(void *arg, int rc) {
    epoch_job *e = arg;
    if (rc == 0)
        jet_log(JET_LOG_WARN,
                "event=new_epoch peer=%s epoch=%llu reason=\"peer holds more of this node's "
                "log than the store: restored from an older backup\"",
                e->peer, (unsigned long long)e->epoch);
    else
        jet_log(JET_LOG_ERROR, "event=new_epoch_failed peer=%s error=\"%s\"", e->peer,
                jet_strerror(rc));
    free(e);
}

static void start_new_epoch(jet_session *s) {
    epoch_job *e = calloc(1, sizeof *e);
    int rc = e == NULL ? JET_ENOMEM : 0;
    if (e != NULL) {
        snprintf(e->peer, sizeof e->peer, "%s", s->peer.name);
        rc = jet_committer_submit(s->committer, NULL, new_epoch_txn, e, new_epoch_done);
    }
    if (rc != 0) {
        jet_log(JET_LOG_ERROR, "event=new_epoch_failed peer=%s error=\"%s\"", s->peer.name,
                jet_strerror(rc));
        free(e);
    }
}

static void pump(jet_session *s);
static void write_progress(jet_session *s);

static void on_hello(jet_session *s, const Jetsync__Wire__Hello *hello) {
    if (s->state != S_HELLO) {
        failf(s, JET_EPROTO, "protocol error: a second hello");
        return;
    }
    if (hello->version != JET_SESSION_VERSION) {
        failf(s, JET_EPROTO, "protocol version %u is not supported (this node speaks %d)",
              hello->version, JET_SESSION_VERSION);
        return;
    }
    if (hello->node_id.len != 32 || memcmp(hello->node_id.data, s->peer.key, 32) != 0) {
        failf(s, JET_EPROTO, "protocol error: hello names another node");
        return;
    }
    if (hello->role > 1) {
        failf(s, JET_EPROTO, "protocol error: hello names role %u (0 region, 1 lead)", hello->role);
        return;
    }
    if (hello->region != NULL &&
        (strlen(hello->region) > 32 ||
         !jet_textfold_utf8_valid(hello->region, strlen(hello->region), NULL))) {
        failf(s, JET_EDECODE, "protocol error: malformed message (hello region)");
        return;
    }
    if (hello->role != (uint32_t)s->peer.role) {
        failf(s, JET_EROLE, "peer says it is %s but is configured as %s",
              hello->role == 1 ? "lead" : "region", jet_role_name(s->peer.role));
        return;
    }
    if (hello->n_have > JET_SESSION_MAX_HELLO_LOGS) {
        failf(s, JET_ETOOBIG, "hello lists too many logs");
        return;
    }
    for (size_t i = 0; i < hello->n_have; i++)
        if (hello->have[i]->origin.len != 32) {
            failf(s, JET_EDECODE, "malformed hello");
            return;
        }
    plan_build p;
    memset(&p, 0, sizeof p);
    p.s = s;
    p.hello = hello;
    int rc = jet_store_read(jet_node_store(s->node), plan_txn, &p);
    if (rc != 0) {
        failf(s, rc, "reading the log: %s", jet_strerror(rc));
        return;
    }
    if (p.restored)
        start_new_epoch(s);
    s->stats.plan_send_records = p.records;
    s->stats.plan_send_bytes = p.bytes;
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Plan plan = JETSYNC__WIRE__PLAN__INIT;
    plan.records = p.records;
    plan.bytes = p.bytes;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_PLAN;
    m.plan = &plan;
    if ((rc = send_message(s, &m)) != 0) {
        failf(s, rc, "sending: %s", jet_strerror(rc));
        return;
    }
    jet_log(JET_LOG_INFO, "event=session_plan peer=%s send_records=%llu send_bytes=%llu",
            s->peer.name, (unsigned long long)p.records, (unsigned long long)p.bytes);
    set_state(s, S_STREAMING);
    pump(s);
}

/* ---- sending batches ------------------------------------------------------------------- */

typedef struct batch_build {
    jet_session *s;
    ProtobufCBinaryData recs[JET_SESSION_BATCH_RECORDS];
    size_t n;
    uint64_t bytes;
    int rc;
} batch_build;

/* Fills one batch from the current ranges and sends it, inside one read transaction. */
static int batch_txn(jet_txn *txn, void *arg) {
    batch_build *b = arg;
    jet_session *s = b->s;
    jet_cursor *cur = NULL;
    int rc = jet_cursor_open(txn, JET_DB_LOG, &cur);
    if (rc != 0)
        return rc;
    b->n = 0;
    b->bytes = 0;
    size_t range = s->cur_range;
    uint64_t next = range < s->nranges ? s->ranges[range].next : 0;
    int full = 0;
    while (range < s->nranges && !full) {
        send_range *r = &s->ranges[range];
        uint8_t key[JET_LOG_KEY];
        jet_log_key(key, r->stream, r->origin, r->epoch, next);
        const void *k, *v;
        size_t kl, vl;
        rc = jet_cursor_seek(cur, key, JET_LOG_KEY, &k, &kl, &v, &vl);
        while (rc == 0) {
            if (kl != JET_LOG_KEY || memcmp(k, key, JET_LOG_PREFIX) != 0 ||
                jet_get_be64((const uint8_t *)k + 41) != next) {
                rc = JET_ECORRUPT; /* the log lacks a record the version vector promises */
                break;
            }
            if (b->n > 0 &&
                (b->n == JET_SESSION_BATCH_RECORDS || b->bytes + vl > JET_SESSION_BATCH_BYTES)) {
                full = 1;
                break;
            }
            b->recs[b->n].data = (uint8_t *)v;
            b->recs[b->n].len = vl;
            b->n++;
            b->bytes += vl;
            if (next == r->last)
                break;
            next++;
            rc = jet_cursor_next(cur, &k, &kl, &v, &vl);
        }
        if (rc == JET_ENOTFOUND)
            rc = JET_ECORRUPT;
        if (rc != 0)
            break;
        if (!full) {
            range++;
            next = range < s->nranges ? s->ranges[range].next : 0;
        }
    }
    if (rc == 0 && b->n > 0) {
        Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
        Jetsync__Wire__Batch batch = JETSYNC__WIRE__BATCH__INIT;
        batch.batch_no = s->sent_batches + 1;
        batch.n_records = b->n;
        batch.records = b->recs;
        m.body_case = JETSYNC__WIRE__MESSAGE__BODY_BATCH;
        m.batch = &batch;
        rc = send_message(s, &m);
    }
    if (rc == 0) {
        /* Commit the cursor position only once the batch is on its way. */
        s->cur_range = range;
        if (range < s->nranges)
            s->ranges[range].next = next;
    }
    jet_cursor_close(cur);
    return rc;
}

static void send_done(jet_session *s) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Done d = JETSYNC__WIRE__DONE__INIT;
    d.batches = s->sent_batches;
    d.records = s->stats.plan_send_records;
    d.bytes = s->stats.plan_send_bytes;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_DONE;
    m.done = &d;
    int rc = send_message(s, &m);
    if (rc != 0) {
        failf(s, rc, "sending: %s", jet_strerror(rc));
        return;
    }
    s->sent_done = 1;
}

static void maybe_fin(jet_session *s);

static void pump(jet_session *s) {
    static batch_build b; /* large and reused: the loop is single-threaded */
    while (s->state == S_STREAMING && !s->blocked && !s->sent_done &&
           s->sent_batches - s->acked_batches < JET_SESSION_WINDOW) {
        if (s->cur_range >= s->nranges) {
            send_done(s);
            break;
        }
        memset(&b, 0, offsetof(batch_build, recs));
        b.s = s;
        int rc = jet_store_read(jet_node_store(s->node), batch_txn, &b);
        if (rc != 0) {
            failf(s, rc, "sending the log: %s", jet_strerror(rc));
            return;
        }
        if (b.n == 0)
            continue;
        s->sent_batches++;
        inflight_batch *slot = &s->inflight[s->sent_batches % JET_SESSION_WINDOW];
        slot->records = b.n;
        slot->bytes = b.bytes;
        session_check(s);
    }
    maybe_fin(s);
}

/* ---- receiving batches ----------------------------------------------------------------- */

/* One received batch on its way to the store. The worker threads (its prepare, then its
 * commit) read only the fields above `s`; the loop thread owns the rest. */
struct ingest_job {
    Jetsync__Wire__Message *msg; /* owned: holds the batch */
    jet_peer peer;               /* the sender, as the session knew it */
    int self_lead;
    jet_stats_prepared **views; /* owned, one per record (NULL entries: nothing ahead) */
    uint64_t stored, bytes;     /* out */
    size_t failed_at;       /* out, when refused */
    char why[200];          /* out, when refused */
    jet_session *s;         /* NULL once the session is gone: the job then only commits */
    ingest_job *next;
};

/* Before the commit, on another worker: what the views can work out without the store, so that
 * it overlaps the commits of the batches before (ingest_txn then finds it in job->views). */
static void ingest_prepare(void *arg) {
    ingest_job *c = arg;
    const Jetsync__Wire__Batch *batch = c->msg->batch;
    c->views = calloc(batch->n_records ? batch->n_records : 1, sizeof *c->views);
    if (c->views == NULL)
        return; /* the commit does it all */
    for (size_t i = 0; i < batch->n_records; i++) {
        jet_record rec;
        if (jet_record_decode(batch->records[i].data, batch->records[i].len, &rec) == 0)
            c->views[i] = jet_views_prepare(&rec);
    }
}

/* What a batch holds in memory once prepared: its records, which it holds anyway, count as
 * its weight; the prepared facts are small beside them. */
static size_t ingest_weight(const Jetsync__Wire__Batch *batch) {
    size_t w = 0;
    for (size_t i = 0; i < batch->n_records; i++)
        w += batch->records[i].len;
    return w;
}

static int ingest_txn(jet_txn *txn, void *arg) {
    ingest_job *c = arg;
    const Jetsync__Wire__Batch *batch = c->msg->batch;
    const ProtobufCBinaryData *r = batch->records;
    size_t n = batch->n_records;
    c->stored = c->bytes = 0; /* the transaction may run again */
    c->why[0] = '\0';
    /* Each record is decoded once: as `next` a step ahead, to see whether it links. */
    jet_record prev, rec, next;
    int prev_linked = 0, next_rc = n > 0 ? jet_record_decode(r[0].data, r[0].len, &next) : 0;
    jet_log_run run; /* the batch's runs of one log write the vector once */
    memset(&run, 0, sizeof run);
    for (size_t i = 0; i < n; i++) {
        int rc = next_rc;
        rec = next;
        next_rc = i + 1 < n ? jet_record_decode(r[i + 1].data, r[i + 1].len, &next) : JET_EDECODE;
        if (rc == 0 && !jet_policy_may_accept(rec.stream, rec.origin, c->self_lead, &c->peer)) {
            char origin[JET_NODE_ID_BUF];
            jet_node_id_format(rec.origin, origin);
            snprintf(c->why, sizeof c->why, "%s record by %s is not allowed from a %s",
                     jet_stream_name(rec.stream), origin, jet_role_name(c->peer.role));
            c->failed_at = i;
            return JET_EROLE;
        }
        /* One signature per run of a log: a record followed in the batch by the next of its
         * log is proven by that one's prev hash (record.h). */
        int linked = rc == 0 && next_rc == 0 && jet_record_links(&rec, &next);
        if (rc == 0)
            rc = jet_record_ingest_run(txn, &run, &rec, linked,
                                       c->views != NULL ? c->views[i] : NULL);
        c->bytes += r[i].len;
        if (rc == JET_EFORK && prev_linked && jet_record_verify(&prev) != 0) {
            /* The link broke because the record before, taken on this one's word, was
             * tampered with: name that one. */
            i--;
            rc = JET_EBADSIG;
        }
        prev_linked = linked;
        prev = rec;
        if (rc == JET_EDUP)
            continue; /* it came through another partner meanwhile */
        if (rc != 0) {
            c->failed_at = i;
            snprintf(c->why, sizeof c->why, "%s", jet_strerror(rc));
            return rc;
        }
        c->stored++;
    }
    return jet_log_run_end(txn, &run);
}

static void ingest_job_free(ingest_job *job) {
    if (job->views != NULL)
        for (size_t i = 0; i < job->msg->batch->n_records; i++)
            jet_views_prepared_free(job->views[i]);
    free(job->views);
    jetsync__wire__message__free_unpacked(job->msg, NULL);
    free(job);
}

/* The batch is durable (rc 0) or was refused: acknowledge it, or end the session. */
static void on_ingested(void *arg, int rc) {
    ingest_job *job = arg;
    jet_session *s = job->s;
    uint64_t batch_no = job->msg->batch->batch_no;
    if (s == NULL) {
        ingest_job_free(job);
        return;
    }
    /* Usually the oldest; not when a failure cancels queued batches while the failed
     * batch's group still has later batches of this session to report. */
    for (ingest_job **at = &s->jobs; *at != NULL; at = &(*at)->next)
        if (*at == job) {
            *at = job->next;
            break;
        }
    s->last_progress_ms = now_ms();
    if (rc != 0) {
        /* Nothing of this batch was committed; neither will be the ones behind it. */
        jet_committer_cancel(s->committer, s);
        if (job->why[0] != '\0')
            failf(s, rc, "refused record %zu of batch %llu: %s", job->failed_at + 1,
                  (unsigned long long)batch_no, job->why);
        else if (rc != JET_ECANCELED)
            failf(s, rc, "storing batch %llu: %s", (unsigned long long)batch_no, jet_strerror(rc));
        ingest_job_free(job);
        return;
    }
    uint64_t stored = job->stored;
    s->recv_committed++;
    s->stats.stored_records += stored;
    ingest_job_free(job);
    if (s->state != S_STREAMING)
        return;
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Ack ack = JETSYNC__WIRE__ACK__INIT;
    ack.batch_no = batch_no;
    ack.stored = stored;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_ACK;
    m.ack = &ack;
    if ((rc = send_message(s, &m)) != 0)
        failf(s, rc, "sending: %s", jet_strerror(rc));
}

/* Takes `msg` (a Batch) unless it returns nonzero. */
static int on_batch(jet_session *s, Jetsync__Wire__Message *msg) {
    const Jetsync__Wire__Batch *batch = msg->batch;
    if (s->state != S_STREAMING) {
        failf(s, JET_EPROTO, "protocol error: batch before hello");
        return 1;
    }
    if (s->got_done || batch->batch_no != s->recv_batches + 1) {
        failf(s, JET_EPROTO, "protocol error: batch %llu out of order",
              (unsigned long long)batch->batch_no);
        return 1;
    }
    if (batch->n_records > JET_SESSION_MAX_BATCH_RECORDS) {
        failf(s, JET_ETOOBIG, "batch of %zu records exceeds the limit", batch->n_records);
        return 1;
    }
    if (s->recv_batches - s->recv_committed >= JET_SESSION_WINDOW) {
        /* Unacknowledged batches wait in memory: a peer beyond the window is refused. */
        failf(s, JET_EPROTO, "protocol error: more than %d unacknowledged batches",
              JET_SESSION_WINDOW);
        return 1;
    }
    ingest_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        failf(s, JET_ENOMEM, "storing batch: %s", jet_strerror(JET_ENOMEM));
        return 1;
    }
    job->msg = msg;
    job->peer = s->peer;
    job->self_lead = jet_node_is_lead(s->node);
    job->s = s;
    int rc = jet_committer_submit_prepared(s->committer, s, ingest_prepare, ingest_weight(batch),
                                           ingest_txn, job, on_ingested);
    if (rc != 0) {
        free(job);
        failf(s, rc, "storing batch: %s", jet_strerror(rc));
        return 1;
    }
    ingest_job **tail = &s->jobs;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = job;
    s->recv_batches++;
    s->stats.recv_records += batch->n_records;
    for (size_t i = 0; i < batch->n_records; i++)
        s->stats.recv_bytes += batch->records[i].len;
    return 0;
}

static void on_ack(jet_session *s, const Jetsync__Wire__Ack *ack) {
    if (s->state != S_STREAMING || ack->batch_no != s->acked_batches + 1 ||
        ack->batch_no > s->sent_batches) {
        failf(s, JET_EPROTO, "protocol error: unexpected ack %llu",
              (unsigned long long)ack->batch_no);
        return;
    }
    s->acked_batches++;
    inflight_batch *slot = &s->inflight[ack->batch_no % JET_SESSION_WINDOW];
    s->stats.sent_records += slot->records;
    s->stats.sent_bytes += slot->bytes;
    session_check(s);
    pump(s);
}

static void on_done(jet_session *s, const Jetsync__Wire__Done *done) {
    if (s->state != S_STREAMING || s->got_done) {
        failf(s, JET_EPROTO, "protocol error: unexpected done");
        return;
    }
    if (done->batches != s->recv_batches) {
        failf(s, JET_EPROTO, "protocol error: peer sent %llu batches, %llu arrived",
              (unsigned long long)done->batches, (unsigned long long)s->recv_batches);
        return;
    }
    if (!s->got_plan || done->records != s->stats.plan_recv_records ||
        done->records != s->stats.recv_records) {
        failf(s, JET_EPROTO,
              "protocol error: peer announced %llu records and sent %llu, its done says %llu",
              (unsigned long long)s->stats.plan_recv_records,
              (unsigned long long)s->stats.recv_records, (unsigned long long)done->records);
        return;
    }
    s->got_done = 1;
    maybe_fin(s);
}

static void maybe_complete(jet_session *s) {
    if (s->sent_fin && s->got_fin && s->state == S_STREAMING) {
        s->stats.elapsed = now_s() - s->stats.started;
        set_state(s, S_COMPLETE);
        jet_log(JET_LOG_INFO,
                "event=session_complete peer=%s sent_records=%llu recv_records=%llu "
                "stored=%llu seconds=%.3f",
                s->peer.name, (unsigned long long)s->stats.sent_records,
                (unsigned long long)s->stats.recv_records,
                (unsigned long long)s->stats.stored_records, s->stats.elapsed);
        s->closing_since_ms = now_ms();
        /* The initiator closes once its last frames are written: at once if they are, else
         * the timer looks again every millisecond (a loopback write completes within a loop
         * turn or two). */
        if (s->initiator && jet_channel_queued(s->ch) == 0)
            jet_channel_close(s->ch, 0);
        else if (s->initiator)
            uv_timer_start(&s->timer, on_tick, 1, 1);
    }
}

static void maybe_fin(jet_session *s) {
    if (s->state != S_STREAMING || s->sent_fin || !s->sent_done || !s->got_done ||
        s->acked_batches != s->sent_batches)
        return;
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Fin fin = JETSYNC__WIRE__FIN__INIT;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_FIN;
    m.fin = &fin;
    int rc = send_message(s, &m);
    if (rc != 0) {
        failf(s, rc, "sending: %s", jet_strerror(rc));
        return;
    }
    s->sent_fin = 1;
    session_check(s);
    maybe_complete(s);
}

static void on_fin(jet_session *s) {
    if (s->state != S_STREAMING || s->got_fin || !s->sent_done || !s->got_done) {
        failf(s, JET_EPROTO, "protocol error: unexpected fin");
        return;
    }
    if (s->recv_committed != s->recv_batches) {
        /* A peer finishes only once we acknowledged all it sent, which we do after commit. */
        failf(s, JET_EPROTO, "protocol error: fin before its batches were acknowledged");
        return;
    }
    s->got_fin = 1;
    maybe_complete(s);
}

/* protobuf-c allocates each submessage on its own: a 2-byte empty LogPosition costs about 100
 * bytes of heap, so a 1 MiB frame could claim 60 MB. Unpacking draws on a budget of
 * JET_SESSION_UNPACK_BASE plus JET_SESSION_UNPACK_FACTOR times the frame (a real Hello needs
 * about 2x, a Batch 1.1x); what
 * it allocates is freed with the default allocator. */
typedef struct unpack_budget {
    size_t left;
    int exceeded;
} unpack_budget;

static void *budget_alloc(void *ctx, size_t size) {
    unpack_budget *b = ctx;
    if (size > b->left) {
        b->exceeded = 1;
        return NULL;
    }
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

void jet_session_frame(jet_session *s, const uint8_t *data, size_t len) {
    if (s->state == S_CLOSING || s->state == S_ENDED)
        return;
    s->last_progress_ms = now_ms();
    size_t limit = len * JET_SESSION_UNPACK_FACTOR + JET_SESSION_UNPACK_BASE;
    unpack_budget budget = {limit, 0};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &budget};
    Jetsync__Wire__Message *m = jetsync__wire__message__unpack(&alloc, len, data);
    if (m == NULL && budget.exceeded) {
        failf(s, JET_ETOOBIG, "protocol error: a message of %zu bytes expands beyond %zu KiB", len,
              limit / 1024);
        return;
    }
    if (m == NULL) {
        failf(s, JET_EDECODE, "protocol error: malformed message (%zu bytes)", len);
        return;
    }
    switch (m->body_case) {
    case JETSYNC__WIRE__MESSAGE__BODY_HELLO: on_hello(s, m->hello); break;
    case JETSYNC__WIRE__MESSAGE__BODY_PLAN:
        /* The peer sends Plan after our Hello reached it and after its own Hello: a Plan
         * before its Hello, or a second one, breaks the order. */
        if (s->state != S_STREAMING || s->got_plan) {
            failf(s, JET_EPROTO, "protocol error: unexpected plan");
            break;
        }
        s->got_plan = 1;
        s->stats.plan_recv_records = m->plan->records;
        s->stats.plan_recv_bytes = m->plan->bytes;
        break;
    case JETSYNC__WIRE__MESSAGE__BODY_BATCH:
        if (on_batch(s, m) == 0)
            return; /* the job owns the message now */
        break;
    case JETSYNC__WIRE__MESSAGE__BODY_ACK: on_ack(s, m->ack); break;
    case JETSYNC__WIRE__MESSAGE__BODY_DONE: on_done(s, m->done); break;
    case JETSYNC__WIRE__MESSAGE__BODY_FIN: on_fin(s); break;
    case JETSYNC__WIRE__MESSAGE__BODY_ABORT: {
        /* The peer's words go into our log and status: printable ASCII only, one line. */
        char said[201];
        size_t n = 0;
        for (const char *p = m->abort->reason; p != NULL && *p != '\0' && n < sizeof said - 1; p++)
            said[n++] = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') ? *p : '?';
        said[n] = '\0';
        char reason[256];
        snprintf(reason, sizeof reason, "peer ended the session: %s", said);
        s->end_code = JET_ECANCELED;
        snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
        jet_log(JET_LOG_WARN, "event=session_aborted_by_peer peer=%s reason=\"%s\"", s->peer.name,
                said);
        s->closing_since_ms = now_ms();
        set_state(s, S_CLOSING);
        break;
    }
    default:
        failf(s, JET_EPROTO, "protocol error: unknown message type %d", (int)m->body_case);
        break;
    }
    jetsync__wire__message__free_unpacked(m, NULL);
}

void jet_session_writable(jet_session *s) {
    s->blocked = 0;
    pump(s);
}

/* ---- timer: progress, stall, closing ------------------------------------------------- */

static void on_tick(uv_timer_t *t) {
    jet_session *s = t->data;
    uint64_t now = now_ms();
    if (s->state == S_HELLO || s->state == S_STREAMING) {
        uint64_t stall = jet_node_config(s->node)->stall_timeout_ms;
        if (now - s->last_progress_ms > stall) {
            failf(s, JET_ETIMEOUT, "stalled: no progress for %llu s",
                  (unsigned long long)(stall / 1000));
            return;
        }
        /* Sessions longer than a moment show up as "syncing" in `jetsync status`; short ones
         * are not slowed by an extra durable write. */
        if (s->state == S_STREAMING && now - s->last_status_ms >= STATUS_EVERY_MS &&
            now - s->started_ms >= STATUS_AFTER_MS)
            write_progress(s);
        if (s->cb.progress != NULL && now - s->last_report_ms >= TICK_MS) {
            s->last_report_ms = now;
            s->stats.elapsed = now_s() - s->stats.started;
            s->cb.progress(s, &s->stats, s->cb.arg);
        }
        return;
    }
    if (s->state == S_COMPLETE || s->state == S_CLOSING) {
        /* Close once what we queued (the last Fin, Ack or Abort) has gone out; the responder
         * leaves the close to the initiator unless it takes too long. */
        int flushed = jet_channel_queued(s->ch) == 0;
        int my_turn = s->initiator || s->state == S_CLOSING;
        if ((flushed && my_turn) || now - s->closing_since_ms > CLOSE_GRACE_MS)
            jet_channel_close(s->ch, s->state == S_COMPLETE ? 0 : s->end_code);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* A change to a peer's sync status, written by the committer. It carries copies of what it
 * needs, so it may outlive the session. */
typedef enum status_kind { STATUS_END, STATUS_PROGRESS, STATUS_FAILURE } status_kind;

typedef struct status_job {
    status_kind kind;
    uint8_t key[32];
    char name[JET_PEER_NAME_MAX];
    jet_session_stats stats;
    int code;
    char reason[256];
} status_job;

static void status_pending(jet_sync_status *st, const jet_session_stats *x) {
    st->pending_to_peer = x->plan_send_records - x->sent_records;
    st->pending_from_peer =
        x->plan_recv_records > x->recv_records ? x->plan_recv_records - x->recv_records : 0;
}

static int status_txn(jet_txn *txn, void *arg) {
    status_job *u = arg;
    jet_sync_status st;
    int rc = jet_sync_status_get(txn, u->key, &st);
    if (rc != 0)
        return rc;
    uint64_t now = (uint64_t)time(NULL);
    st.last_attempt = now; /* while syncing, doubles as "updated at" */
    if (u->kind != STATUS_PROGRESS)
        st.total_sessions++;
    if (u->kind != STATUS_FAILURE)
        status_pending(&st, &u->stats);
    if (u->kind == STATUS_PROGRESS) {
        snprintf(st.state, sizeof st.state, "syncing");
    } else if (u->code == 0) {
        st.last_ok = now;
        st.last_error[0] = '\0';
        st.sent_records = u->stats.sent_records;
        st.recv_records = u->stats.recv_records;
        st.sent_bytes = u->stats.sent_bytes;
        st.recv_bytes = u->stats.recv_bytes;
        st.backoff_until = 0;
        snprintf(st.state, sizeof st.state, "idle");
    } else {
        st.failed_sessions++;
        snprintf(st.last_error, sizeof st.last_error, "%s", u->reason);
        snprintf(st.state, sizeof st.state, "failed");
    }
    return jet_sync_status_put(txn, u->key, &st);
}

static void status_written(void *arg, int rc) {
    status_job *u = arg;
    if (rc != 0)
        jet_log(JET_LOG_WARN, "event=status_write_failed peer=%s error=\"%s\"", u->name,
                jet_strerror(rc));
    /* Logged once the status is in the store, so whoever reads this line (an operator, a
     * test) finds `jetsync status` saying the same. */
    if (u->kind == STATUS_END)
        jet_log(JET_LOG_INFO, "event=session_end peer=%s result=%s reason=\"%s\"", u->name,
                u->code == 0 ? "complete" : "failed", u->reason);
    free(u);
}

/* Queues a status change for `peer`; a status is worth a log line, never a failed session. */
static void status_submit(jet_committer *c, status_kind kind, const jet_peer *peer,
                          const jet_session_stats *stats, int code, const char *reason) {
    status_job *u = calloc(1, sizeof *u);
    if (u == NULL) {
        jet_log(JET_LOG_WARN, "event=status_write_failed peer=%s error=\"%s\"", peer->name,
                jet_strerror(JET_ENOMEM));
        return;
    }
    u->kind = kind;
    memcpy(u->key, peer->key, 32);
    snprintf(u->name, sizeof u->name, "%s", peer->name);
    if (stats != NULL)
        u->stats = *stats;
    u->code = code;
    snprintf(u->reason, sizeof u->reason, "%s", reason != NULL ? reason : "");
    int rc = jet_committer_submit(c, NULL, status_txn, u, status_written);
    if (rc != 0)
        status_written(u, rc);
}

void jet_session_record_failure(jet_committer *c, const jet_peer *peer, const char *reason) {
    status_submit(c, STATUS_FAILURE, peer, NULL, JET_EIO, reason);
}

static void write_progress(jet_session *s) {
    s->last_status_ms = now_ms();
    status_submit(s->committer, STATUS_PROGRESS, &s->peer, &s->stats, 0, NULL);
}

static void session_end_now(jet_session *s, int code, const char *reason) {
    if (s->done_called)
        return;
    s->done_called = 1;
    if (s->state != S_ENDED)
        set_state(s, S_ENDED);
    s->stats.elapsed = now_s() - s->stats.started;
    uv_timer_stop(&s->timer);
    status_submit(s->committer, STATUS_END, &s->peer, &s->stats, code, reason);
    if (s->cb.done != NULL)
        s->cb.done(s, code, reason, &s->stats, s->cb.arg);
}

void jet_session_channel_closed(jet_session *s, int reason) {
    if (s->state == S_COMPLETE) {
        session_end_now(s, 0, "complete");
        return;
    }
    if (s->end_code != 0) {
        session_end_now(s, s->end_code, s->end_reason);
        return;
    }
    char why[256];
    snprintf(why, sizeof why, "connection closed before the session completed (%s)",
             reason != 0 ? jet_strerror(reason) : "by peer");
    session_end_now(s, reason != 0 ? reason : JET_ECLOSED, why);
}

int jet_session_start(jet_node *node, uv_loop_t *loop, jet_committer *committer, jet_channel *ch,
                      const jet_peer *peer, int initiator, const jet_session_callbacks *cb,
                      jet_session **out) {
    jet_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return JET_ENOMEM;
    s->node = node;
    s->committer = committer;
    s->ch = ch;
    s->peer = *peer;
    s->initiator = initiator;
    if (cb != NULL)
        s->cb = *cb;
    s->state = S_HELLO;
    s->stats.started = now_s();
    s->last_progress_ms = s->started_ms = now_ms();
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_tick, TICK_MS, TICK_MS);
    *out = s;
    jet_log(JET_LOG_INFO, "event=session_start peer=%s role=%s initiator=%d", peer->name,
            jet_role_name(peer->role), initiator);
    int rc = send_hello(s);
    if (rc != 0)
        failf(s, rc, "sending hello: %s", jet_strerror(rc));
    return 0;
}

int jet_session_ending(const jet_session *s) {
    return s->state == S_COMPLETE || s->state == S_CLOSING || s->state == S_ENDED;
}

const jet_peer *jet_session_peer(const jet_session *s) {
    return &s->peer;
}

const jet_session_stats *jet_session_get_stats(const jet_session *s) {
    return &s->stats;
}

static void free_after_close(uv_handle_t *h) {
    jet_session *s = h->data;
    free(s->ranges);
    free(s);
}

void jet_session_free(jet_session *s) {
    if (s == NULL)
        return;
    /* Batches still on their way to the store were received whole and checked: they commit
     * (the next session then has less to send), and their jobs free themselves. */
    for (ingest_job *j = s->jobs; j != NULL; j = j->next)
        j->s = NULL;
    s->jobs = NULL;
    uv_close((uv_handle_t *)&s->timer, free_after_close);
}
