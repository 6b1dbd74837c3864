/* test_badinput.c - a hostile but authenticated peer (issue 7, bad input battery).
 *
 * A real jetsyncd lead is started; region A is a partner in its peer list and connects with
 * jet_channel_connect (the library's channel, so the handshake is genuine), but after
 * on_established it sends crafted frames instead of a normal session: for every message type of
 * proto/wire.proto (Hello, Plan, Batch, Ack, Done, Fin, Abort) and for frames that are not a
 * Message at all: truncated, wrong wire types, unknown fields and oneof cases, invalid UTF-8,
 * duplicate fields, huge repeated fields, numbers out of range, and records that are malformed,
 * wrongly signed, out of order, forked, of a stream the region may not send, or with payloads the
 * views must refuse. For each case:
 *   - the daemon ends the session, and its log (stderr, in HOME/daemon.log) has the line
 *     event=session_failed peer=A reason="..." with the reason the case expects;
 *   - the lead's store is unchanged: a BLAKE2b digest over every key and value of the log, the
 *     version vector and the toolkit and statistics views (the peer list and the sync status are
 *     left out: the handshake counter and the failure count change by design);
 *   - the daemon keeps serving: region B publishes a new record and a normal sync right after
 *     succeeds and brings it to the lead.
 * A few cases are marked `known`: behaviour this suite found wrong in modules it does not own
 * (see the report of issue 7). They are run and printed as XFAIL while still wrong (XPASS once
 * fixed), so that the rest of the suite stays a gate; JET_BADINPUT_STRICT=1 makes them fail.
 *
 * The lead's [network] max_frame is raised to 4 MiB so that a Hello with more than the
 * 1,000,000 positions the session accepts fits in one frame (each position takes at least 2
 * bytes, so 10^6 of them never fit in the default 1 MiB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

#include "store.h"
#include "testutil.h"

#include "encoding.h"
#include "node.h"
#include "peering.h"
#include "peers.h"
#include "record.h"
#include "session.h"
#include "stats.h"
#include "syncer.h"
#include "toolkit.h"
#include "toolkit_json.h"
#include "wire.pb-c.h"

#include "nodeutil.h"

static jet_node *L, *A, *B, *S; /* lead, hostile region, honest region, scratch (A's key) */
static uint64_t epoch_A;
static int n_xfail, n_xpass;

/* ---- small protobuf writer for encodings protobuf-c would never produce ----------------- */

typedef struct pb {
    uint8_t *p;
    size_t len, cap;
} pb;

static void pb_raw(pb *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_varint(pb *b, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, t, n);
}

static void pb_tag(pb *b, unsigned field, unsigned wt) {
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_uint(pb *b, unsigned field, uint64_t v) {
    pb_tag(b, field, 0);
    pb_varint(b, v);
}

static void pb_bytes(pb *b, unsigned field, const void *d, size_t n) {
    pb_tag(b, field, 2);
    pb_varint(b, n);
    pb_raw(b, d, n);
}

/* Wraps `inner` as field `field` of a Message (the oneof case). */
static pb pb_message(unsigned field, const pb *inner) {
    pb m = {0};
    pb_bytes(&m, field, inner->p, inner->len);
    return m;
}

static pb pb_from(const void *d, size_t n) {
    pb b = {0};
    pb_raw(&b, d, n);
    return b;
}

/* ---- nodes ------------------------------------------------------------------------------ */

static int epoch_txn(jet_txn *txn, void *arg) {
    return jet_log_own_epoch(txn, arg);
}

/* ---- the lead's store: what must not change --------------------------------------------- */

static int snapshot_txn(jet_txn *txn, void *arg) {
    static const jet_db dbs[] = {
        JET_DB_LOG,           JET_DB_VV,    JET_DB_TOOLKIT,     JET_DB_TOOLKIT_HIST,
        JET_DB_TOOLKIT_INDEX, JET_DB_STATS, JET_DB_STATS_CELLS, JET_DB_STATS_AUX};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        uint8_t sep = (uint8_t)dbs[i];
        crypto_generichash_update(&st, &sep, 1);
        int rc = jet_txn_scan(txn, dbs[i], NULL, 0, NULL, 0, jt_digest_kv, &st);
        if (rc != 0)
            return rc;
    }
    crypto_generichash_final(&st, arg, 32);
    return 0;
}

static void lead_snapshot(uint8_t digest[32]) {
    assert_ok(jet_store_read(jet_node_store(L), snapshot_txn, digest));
}

typedef struct head_ctx {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t epoch, seq;
    uint8_t head[32];
} head_ctx;

static int head_txn(jet_txn *txn, void *arg) {
    head_ctx *h = arg;
    return jet_vv_get_head(txn, h->stream, h->origin, h->epoch, &h->seq, h->head);
}

/* What the lead holds of (stream, origin, epoch). */
static head_ctx lead_head(uint32_t stream, const uint8_t *origin, uint64_t epoch) {
    head_ctx h;
    memset(&h, 0, sizeof h);
    h.stream = stream;
    h.origin = origin;
    h.epoch = epoch;
    assert_ok(jet_store_read(jet_node_store(L), head_txn, &h));
    return h;
}

/* ---- records ------------------------------------------------------------------------------ */

/* The canonical encoding of a record signed with `sk` (origin written as `origin`). */
static pb make_record(const uint8_t *sk, const uint8_t *origin, uint32_t stream, uint32_t kind,
                      uint64_t epoch, uint64_t seq, const uint8_t *prev, const void *payload,
                      size_t plen) {
    pb r = {0};
    uint8_t h[JET_RECORD_HEADER];
    memcpy(h, "JSR1", 4);
    h[4] = (uint8_t)stream;
    h[5] = 0;
    h[6] = (uint8_t)(kind >> 8);
    h[7] = (uint8_t)kind;
    jet_put_be32(h + 8, (uint32_t)plen);
    memcpy(h + 12, origin, 32);
    jet_put_be64(h + 44, epoch);
    jet_put_be64(h + 52, seq);
    if (prev)
        memcpy(h + 60, prev, 32);
    else
        memset(h + 60, 0, 32);
    pb_raw(&r, h, sizeof h);
    pb_raw(&r, payload, plen);
    uint8_t sig[64];
    crypto_sign_ed25519_detached(sig, NULL, r.p, r.len, sk);
    pb_raw(&r, sig, sizeof sig);
    return r;
}

/* A record of A's that extends what the lead holds of A's log of `stream` (genuine). */
static pb next_record_of_A(uint32_t stream, uint32_t kind, const void *payload, size_t plen) {
    head_ctx h = lead_head(stream, jet_node_public_key(A), epoch_A);
    return make_record(jet_node_secret_key(A), jet_node_public_key(A), stream, kind, epoch_A,
                       h.seq + 1, h.head, payload, plen);
}

/* Genuine payloads made with A's key in a scratch store: a toolkit entry and a stats chunk. */
static pb entry_payload, withdrawal_like, stats_payload;

/* The payload of a one-chunk release of ENROLLED 2024/25 by sex (F, M, total), every cell
 * published, version 1 + `bump`. */
static pb chunk_payload(const char *region, int64_t f, int64_t m, uint64_t bump) {
    static const char *const sexes[] = {"F", "M"};
    int64_t values[3] = {f, m, f + m};
    uint8_t status[3] = {0, 0, 0};
    jet_stats_chunk_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.region = region;
    spec.indicator = "ENROLLED";
    spec.period = "2024/25";
    spec.version = 1 + bump;
    spec.chunk_index = 0;
    spec.chunk_count = 1;
    spec.import_time = 1700000000;
    spec.k = 5;
    spec.ndims = 1;
    spec.dim[0] = JET_DIM_SEX;
    spec.size[0] = 2;
    spec.category[0] = sexes;
    spec.ncells = 3;
    spec.first_cell = 0;
    spec.len = 3;
    spec.value = values;
    spec.status = status;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_ok(jet_stats_chunk_encode(&spec, &out, &len));
    pb p = pb_from(out, len);
    free(out);
    return p;
}

typedef struct grab_ctx {
    uint32_t stream;
    pb *out;
} grab_ctx;

static int grab_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg) {
    grab_ctx *g = arg;
    jet_record r;
    (void)k;
    (void)kl;
    if (jet_record_decode(v, vl, &r) == 0 && r.stream == g->stream && r.kind != 0 &&
        g->out->len == 0) {
        pb_raw(g->out, r.payload, r.payload_len);
        return 1;
    }
    return 0;
}

static int grab_txn(jet_txn *txn, void *arg) {
    return jet_txn_scan(txn, JET_DB_LOG, NULL, 0, NULL, 0, grab_fn, arg);
}

static void make_payloads(void) {
    /* S is a node of its own; its store signs with A's key through the library calls below. */
    char path[4400];
    snprintf(path, sizeof path, "%s/examples/toolkit/jagmed.json", JET_SOURCE_DIR);
    jet_toolkit_entry *e = NULL;
    jet_diag d;
    jet_diag_clear(&d);
    assert_ok(jet_toolkit_json_read_file(path, &e, &d));
    assert_ok(jet_toolkit_publish(jet_node_store(S), jet_node_secret_key(A), e, 1700000000, &d));
    jet_toolkit_entry_free(e);
    grab_ctx g = {JET_STREAM_TOOLKIT, &entry_payload};
    assert_ok(jet_store_read(jet_node_store(S), grab_txn, &g));
    assert_true(entry_payload.len > 100);

    stats_payload = chunk_payload("IT-25", 120, 131, 0);
    /* A Withdrawal message: author, id, version, published. */
    pb_bytes(&withdrawal_like, 1, jet_node_public_key(A), 32);
    pb_bytes(&withdrawal_like, 2, "never-published", 15);
    pb_uint(&withdrawal_like, 3, 1);
    pb_uint(&withdrawal_like, 4, 1700000000);
}

/* ---- the daemon ---------------------------------------------------------------------------- */

/* The lead's daemon (started with nodeutil.h's start_daemon) and its log file. */
typedef struct lead_daemon {
    pid_t pid;
    char addr[160];
    char log[4400];
} lead_daemon;

static lead_daemon dmn;

static void set_max_frame(jet_node *n, size_t max_frame) {
    char path[4400], text[8192];
    snprintf(path, sizeof path, "%s/jetsync.conf", jet_node_home(n));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    char *p = strstr(text, "max_frame = ");
    assert_non_null(p);
    char *eol = strchr(p, '\n');
    assert_non_null(eol);
    char out[8400];
    snprintf(out, sizeof out, "%.*smax_frame = %zu%s", (int)(p - text), text, max_frame, eol);
    jt_write_file(path, out, strlen(out));
}

static void start_lead_daemon(jet_node *n) {
    daemon_proc d = start_daemon(n);
    memset(&dmn, 0, sizeof dmn);
    dmn.pid = d.pid;
    snprintf(dmn.addr, sizeof dmn.addr, "%s", d.addr);
    snprintf(dmn.log, sizeof dmn.log, "%s/daemon.log", jet_node_home(n));
}

static long log_size(void) {
    struct stat st;
    return stat(dmn.log, &st) == 0 ? (long)st.st_size : 0;
}

/* The daemon's log from byte `from` on (malloc'd, NUL-terminated). */
static char *log_since(long from) {
    FILE *f = fopen(dmn.log, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    if (end < from)
        from = end;
    fseek(f, from, SEEK_SET);
    char *s = malloc((size_t)(end - from) + 1);
    assert_non_null(s);
    size_t n = fread(s, 1, (size_t)(end - from), f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Is there a line with every one of the (up to three) needles? */
static int log_has_line(const char *log, const char *n1, const char *n2, const char *n3) {
    const char *line = log;
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char *l = strndup(line, len);
        int ok = strstr(l, n1) && (!n2 || strstr(l, n2)) && (!n3 || strstr(l, n3));
        free(l);
        if (ok)
            return 1;
        if (!eol)
            break;
        line = eol + 1;
    }
    return 0;
}

/* The log from `from` on, once it has a line with n1 and n2 (or after 3 s without one): the
 * daemon may log an outcome a moment after our side saw the connection close. */
static char *log_wait(long from, const char *n1, const char *n2, const char *n3) {
    char *log = NULL;
    for (int i = 0; i < 60; i++) {
        free(log);
        log = log_since(from);
        if (log_has_line(log, n1, n2, n3))
            break;
        usleep(50 * 1000);
    }
    return log;
}

/* ---- the honest initiator (B) ----------------------------------------------------------- */

/* B publishes one more record and syncs: the daemon still serves. */
static void honest_sync_works(void) {
    head_ctx before = lead_head(JET_STREAM_TOOLKIT, jet_node_public_key(B), 0);
    uint64_t epoch_B;
    assert_ok(jet_store_write(jet_node_store(B), epoch_txn, &epoch_B));
    before = lead_head(JET_STREAM_TOOLKIT, jet_node_public_key(B), epoch_B);
    append_markers(B, JET_STREAM_TOOLKIT, 1);
    sync_result r = sync_with(B, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("honest sync by B failed: %s\n", r.reason);
    assert_ok(r.code);
    head_ctx after = lead_head(JET_STREAM_TOOLKIT, jet_node_public_key(B), epoch_B);
    assert_int_equal(after.seq, before.seq + 1);
}

/* ---- the hostile initiator (A) ------------------------------------------------------------ */

enum { MAX_FRAMES = 8, CASE_TIMEOUT_MS = 6000 };

typedef struct crafted {
    uv_loop_t loop;
    jet_peering peering;
    jet_channel *ch;
    pb frames[MAX_FRAMES];
    size_t nframes;
    int complete_mode; /* answer like a peer that has nothing to send: Done, then Fin */
    int closed, close_reason, timed_out, send_error;
    int got_abort, got_fin, got_done;
    char abort_reason[512];
    uv_timer_t timer;
} crafted;

static void cr_send(crafted *c, const uint8_t *p, size_t n) {
    int rc = jet_channel_send(c->ch, p, n);
    if (rc < 0)
        c->send_error = rc;
}

static void cr_established(jet_channel *ch, const uint8_t peer_id[32]) {
    crafted *c = jet_channel_user(ch);
    (void)peer_id;
    for (size_t i = 0; i < c->nframes; i++)
        cr_send(c, c->frames[i].p, c->frames[i].len);
}

static void cr_frame(jet_channel *ch, const uint8_t *data, size_t len) {
    crafted *c = jet_channel_user(ch);
    Jetsync__Wire__Message *m = jetsync__wire__message__unpack(NULL, len, data);
    if (m == NULL)
        return;
    if (m->body_case == JETSYNC__WIRE__MESSAGE__BODY_ABORT) {
        c->got_abort = 1;
        snprintf(c->abort_reason, sizeof c->abort_reason, "%s", m->abort->reason);
    } else if (m->body_case == JETSYNC__WIRE__MESSAGE__BODY_DONE) {
        c->got_done = 1;
        if (c->complete_mode) {
            /* We sent our Done with the frames; the lead sent nothing: Fin. */
            Jetsync__Wire__Message f = JETSYNC__WIRE__MESSAGE__INIT;
            Jetsync__Wire__Fin fin = JETSYNC__WIRE__FIN__INIT;
            f.body_case = JETSYNC__WIRE__MESSAGE__BODY_FIN;
            f.fin = &fin;
            uint8_t buf[16];
            size_t n = jetsync__wire__message__pack(&f, buf);
            cr_send(c, buf, n);
        }
    } else if (m->body_case == JETSYNC__WIRE__MESSAGE__BODY_FIN) {
        c->got_fin = 1;
        if (c->complete_mode)
            jet_channel_close(ch, 0);
    }
    jetsync__wire__message__free_unpacked(m, NULL);
}

static void cr_closed(jet_channel *ch, int reason) {
    crafted *c = jet_channel_user(ch);
    c->closed = 1;
    c->close_reason = reason;
    uv_timer_stop(&c->timer);
}

static void cr_timeout(uv_timer_t *t) {
    crafted *c = t->data;
    c->timed_out = 1;
    if (!c->closed)
        jet_channel_close(c->ch, 0);
}

/* Connects as A, sends the frames, waits until the lead closes (or CASE_TIMEOUT_MS). */
static void run_crafted(crafted *c) {
    uv_loop_init(&c->loop);
    jet_peering_init(&c->peering, A, &c->loop);
    c->peering.config.limits.max_frame = 4 * 1024 * 1024;
    c->peering.config.limits.write_high = 64 * 1024 * 1024;
    c->peering.config.cb.on_established = cr_established;
    c->peering.config.cb.on_frame = cr_frame;
    c->peering.config.cb.on_closed = cr_closed;
    uv_timer_init(&c->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, cr_timeout, CASE_TIMEOUT_MS, 0);
    assert_ok(jet_channel_connect(&c->peering.config, dmn.addr, jet_node_public_key(L), c, &c->ch));
    while (!c->closed)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    jet_peering_fini(&c->peering);
}

/* ---- building messages ----------------------------------------------------------------- */

typedef struct vv_list {
    Jetsync__Wire__LogPosition pos[256];
    Jetsync__Wire__LogPosition *ptr[256];
    uint8_t origin[256][32];
    size_t n;
} vv_list;

static int vv_fn(const jet_vv_entry *e, void *arg) {
    vv_list *l = arg;
    if (e->stream == JET_STREAM_STATS || l->n == 256)
        return 0;
    jetsync__wire__log_position__init(&l->pos[l->n]);
    memcpy(l->origin[l->n], e->origin, 32);
    l->pos[l->n].stream = e->stream;
    l->pos[l->n].origin.data = l->origin[l->n];
    l->pos[l->n].origin.len = 32;
    l->pos[l->n].epoch = e->epoch;
    l->pos[l->n].seq = e->seq;
    l->ptr[l->n] = &l->pos[l->n];
    l->n++;
    return 0;
}

static int vv_txn(jet_txn *txn, void *arg) {
    ((vv_list *)arg)->n = 0;
    return jet_vv_scan(txn, 0, vv_fn, arg);
}

static pb pack_msg(Jetsync__Wire__Message *m) {
    pb b = {0};
    size_t n = jetsync__wire__message__get_packed_size(m);
    b.p = malloc(n ? n : 1);
    assert_non_null(b.p);
    b.len = b.cap = n;
    jetsync__wire__message__pack(m, b.p);
    return b;
}

/* A's genuine Hello: it holds everything of the lead's toolkit and figures, so the lead plans
 * nothing for it and the session state depends only on what the case sends. */
static pb hello_msg(uint32_t version, const uint8_t *node_id, size_t id_len, uint32_t role,
                    const char *region) {
    static vv_list l;
    assert_ok(jet_store_read(jet_node_store(L), vv_txn, &l));
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Hello h = JETSYNC__WIRE__HELLO__INIT;
    h.version = version;
    h.node_id.data = (uint8_t *)node_id;
    h.node_id.len = id_len;
    h.role = role;
    h.region = (char *)region;
    h.n_have = l.n;
    h.have = l.ptr;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_HELLO;
    m.hello = &h;
    return pack_msg(&m);
}

static pb good_hello(void) {
    return hello_msg(1, jet_node_public_key(A), 32, 0, "IT-25");
}

static pb plan_msg(uint64_t records, uint64_t bytes) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Plan p = JETSYNC__WIRE__PLAN__INIT;
    p.records = records;
    p.bytes = bytes;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_PLAN;
    m.plan = &p;
    return pack_msg(&m);
}

static pb batch_msg(uint64_t batch_no, pb *records, size_t n) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Batch b = JETSYNC__WIRE__BATCH__INIT;
    ProtobufCBinaryData *r = calloc(n ? n : 1, sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        r[i].data = records[i].p;
        r[i].len = records[i].len;
    }
    b.batch_no = batch_no;
    b.n_records = n;
    b.records = r;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_BATCH;
    m.batch = &b;
    pb out = pack_msg(&m);
    free(r);
    return out;
}

/* A run of `n` chained records of A's toolkit log after what the lead holds; record `bad`
 * (0-based, or -1) gets a signature bit flipped after the run was chained, as a relay could. */
static pb batch_run(const uint8_t *skA, const uint8_t *pkA, uint64_t epoch, uint64_t seq,
                    const uint8_t *head, size_t n, int bad) {
    pb recs[4];
    uint8_t prev[32];
    assert_true(n <= 4);
    memcpy(prev, head, 32);
    for (size_t i = 0; i < n; i++) {
        recs[i] = make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch, seq + 1 + i, prev, "m", 1);
        crypto_generichash(prev, 32, recs[i].p, recs[i].len, NULL, 0);
    }
    if (bad >= 0)
        recs[bad].p[recs[bad].len - 1] ^= 0x01;
    pb out = batch_msg(1, recs, n);
    for (size_t i = 0; i < n; i++)
        free(recs[i].p);
    return out;
}

static pb batch1(pb rec) {
    pb out = batch_msg(1, &rec, 1);
    free(rec.p);
    return out;
}

static pb ack_msg(uint64_t batch_no) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Ack a = JETSYNC__WIRE__ACK__INIT;
    a.batch_no = batch_no;
    a.stored = 1;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_ACK;
    m.ack = &a;
    return pack_msg(&m);
}

static pb done_msg(uint64_t batches) {
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Done d = JETSYNC__WIRE__DONE__INIT;
    d.batches = batches;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_DONE;
    m.done = &d;
    return pack_msg(&m);
}

static pb fin_msg(void) {
    pb inner = {0};
    return pb_message(6, &inner);
}

static pb abort_msg(const char *reason, size_t len) {
    pb inner = {0};
    pb_uint(&inner, 1, (uint64_t)(int64_t)JET_EPROTO);
    pb_bytes(&inner, 2, reason, len);
    pb out = pb_message(7, &inner);
    free(inner.p);
    return out;
}

/* ---- one case ------------------------------------------------------------------------------ */

typedef struct bad_case {
    const char *name;
    pb frames[MAX_FRAMES];
    size_t n;
    const char *reason; /* expected in the daemon's session_failed line */
    const char *known;  /* NULL, or why this is expected to go wrong for now */
} bad_case;

static void add(bad_case *c, pb frame) {
    assert_true(c->n < MAX_FRAMES);
    c->frames[c->n++] = frame;
}

/* After A's Hello and Plan (the session is streaming). */
static void streaming(bad_case *c) {
    add(c, good_hello());
    add(c, plan_msg(0, 0)); /* what a peer with nothing to send announces */
}

static int strict(void) {
    const char *s = getenv("JET_BADINPUT_STRICT");
    return s != NULL && strcmp(s, "1") == 0;
}

static void run_case(bad_case *bc) {
    uint8_t before[32], after[32];
    crafted c;
    char *log = NULL;
    for (int attempt = 0;; attempt++) {
        lead_snapshot(before);
        long from = log_size();
        memset(&c, 0, sizeof c);
        for (size_t i = 0; i < bc->n; i++)
            c.frames[i] = bc->frames[i];
        c.nframes = bc->n;
        run_crafted(&c);
        /* The lead may still be closing the previous session of A: retry then. */
        free(log);
        log = log_wait(from, "event=session_failed", "peer=A", bc->reason);
        if (!strstr(log, "already running") || attempt == 20)
            break;
        usleep(100 * 1000);
    }
    lead_snapshot(after);
    int ended = c.closed && !c.timed_out && c.send_error == 0;
    int logged = log_has_line(log, "event=session_failed", "peer=A", bc->reason);
    int unchanged = memcmp(before, after, 32) == 0;
    int ok = ended && logged && unchanged;
    const char *verdict = ok ? (bc->known ? "XPASS" : "ok") : (bc->known ? "XFAIL" : "FAIL");
    print_message("%-5s %s%s%s\n", verdict, bc->name, bc->known && !ok ? " -- known: " : "",
                  bc->known && !ok ? bc->known : "");
    if (!ok) {
        print_message(
            "      ended=%d (timed out %d, send error %d) logged=%d unchanged=%d abort=\"%s\"\n",
            ended, c.timed_out, c.send_error, logged, unchanged, c.abort_reason);
        if (!logged)
            print_message("      want reason \"%s\"; daemon log:\n%s", bc->reason, log);
    }
    free(log);
    for (size_t i = 0; i < bc->n; i++)
        free(bc->frames[i].p);
    if (bc->known && !ok)
        n_xfail++;
    if (bc->known && ok)
        n_xpass++;
    if (!ok && (!bc->known || strict()))
        fail_msg("case \"%s\" failed", bc->name);
    /* Whatever happened, the daemon keeps serving others. */
    honest_sync_works();
}

#define CASE(var, nm, rsn)                                                                         \
    bad_case var;                                                                                  \
    memset(&var, 0, sizeof var);                                                                   \
    var.name = nm;                                                                                 \
    var.reason = rsn

static int append_release_txn(jet_txn *txn, void *arg) {
    pb *p = arg;
    return jet_record_append(txn, jet_node_secret_key(B), JET_STREAM_STATS, JET_STATS_KIND_CHUNK,
                             p->p, p->len, NULL);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int group_setup(void **state) {
    (void)state;
    snprintf(base_dir, sizeof base_dir, "%s", jt_tempdir());
    snprintf(netkey_path, sizeof netkey_path, "%s/network.key", base_dir);
    L = make_node("lead", "SE-Y", 1);
    A = make_node("hostile", "IT-25", 0);
    B = make_node("honest", "NO-30", 0);
    S = make_node("scratch", "IT-25", 0);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    add_peer(L, "B", B, JET_ROLE_REGION, NULL);
    set_max_frame(L, 4 * 1024 * 1024);
    start_lead_daemon(L);
    add_peer(A, "Lead", L, JET_ROLE_LEAD, dmn.addr);
    add_peer(B, "Lead", L, JET_ROLE_LEAD, dmn.addr);
    /* Some history everywhere: A's toolkit and stats logs, B's, the lead's figures. */
    append_markers(A, JET_STREAM_TOOLKIT, 3);
    append_markers(A, JET_STREAM_STATS, 2);
    append_markers(B, JET_STREAM_TOOLKIT, 2);
    append_markers(B, JET_STREAM_STATS, 2);
    append_markers(L, JET_STREAM_FIGURES, 2);
    /* B's own release of NO-30, so that the code is bound to B at the lead. */
    pb b_release = chunk_payload("NO-30", 140, 150, 0);
    assert_ok(jet_store_write(jet_node_store(B), append_release_txn, &b_release));
    free(b_release.p);
    assert_ok(jet_store_write(jet_node_store(A), epoch_txn, &epoch_A));
    sync_result r = sync_with(A, "Lead", NULL, 0);
    assert_ok(r.code);
    r = sync_with(B, "Lead", NULL, 0);
    assert_ok(r.code);
    assert_int_equal(lead_head(JET_STREAM_TOOLKIT, jet_node_public_key(A), epoch_A).seq, 3);
    make_payloads();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (dmn.pid > 0) {
        kill(dmn.pid, SIGTERM);
        int status = 0;
        waitpid(dmn.pid, &status, 0);
        nu_forget_daemon(dmn.pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            print_error("jetsyncd did not stop cleanly (status 0x%x)\n", status);
    }
    jet_node_free(L);
    jet_node_free(A);
    jet_node_free(B);
    jet_node_free(S);
    free(entry_payload.p);
    free(withdrawal_like.p);
    free(stats_payload.p);
    print_message("known problems still present: %d (XFAIL), fixed: %d (XPASS)\n", n_xfail,
                  n_xpass);
    return 0;
}

/* ---- frames that are not a session message --------------------------------------------- */

static void test_not_a_message(void **state) {
    (void)state;
    {
        CASE(c, "garbage bytes", "malformed message");
        uint8_t g[64];
        for (size_t i = 0; i < sizeof g; i++)
            g[i] = (uint8_t)(0xff - i * 7);
        add(&c, pb_from(g, sizeof g));
        run_case(&c);
    }
    {
        CASE(c, "truncated varint (0x80)", "malformed message");
        add(&c, pb_from("\x80", 1));
        run_case(&c);
    }
    {
        CASE(c, "empty frame (no oneof case)", "unknown message type 0");
        add(&c, pb_from("", 0));
        run_case(&c);
    }
    {
        CASE(c, "unknown oneof case 9", "unknown message type 0");
        pb inner = pb_from("\x08\x01", 2);
        add(&c, pb_message(9, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "hello field with a varint wire type", "malformed message");
        pb m = {0};
        pb_uint(&m, 1, 1);
        add(&c, m);
        run_case(&c);
    }
    {
        CASE(c, "message field length beyond the frame", "malformed message");
        pb m = {0};
        pb_tag(&m, 1, 2);
        pb_varint(&m, 1000);
        pb_raw(&m, "\x08\x01", 2);
        add(&c, m);
        run_case(&c);
    }
    {
        CASE(c, "a 4-byte wire type (group end)", "malformed message");
        add(&c, pb_from("\x0c", 1));
        run_case(&c);
    }
}

/* ---- Hello --------------------------------------------------------------------------------- */

static void test_hello(void **state) {
    (void)state;
    {
        CASE(c, "hello truncated", "malformed message");
        pb h = good_hello();
        h.len -= 5;
        add(&c, h);
        run_case(&c);
    }
    {
        CASE(c, "hello version 2", "protocol version 2 is not supported");
        add(&c, hello_msg(2, jet_node_public_key(A), 32, 0, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello version 0 (missing)", "protocol version 0 is not supported");
        add(&c, hello_msg(0, jet_node_public_key(A), 32, 0, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello version 2^32-1", "protocol version 4294967295 is not supported");
        add(&c, hello_msg(UINT32_MAX, jet_node_public_key(A), 32, 0, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello names another node (B)", "hello names another node");
        add(&c, hello_msg(1, jet_node_public_key(B), 32, 0, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello node id of 31 bytes", "hello names another node");
        add(&c, hello_msg(1, jet_node_public_key(A), 31, 0, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello claims the lead role", "peer says it is lead but is configured as region");
        add(&c, hello_msg(1, jet_node_public_key(A), 32, 1, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello role 7", "role 7");
        add(&c, hello_msg(1, jet_node_public_key(A), 32, 7, "IT-25"));
        run_case(&c);
    }
    {
        CASE(c, "hello region with invalid UTF-8", "malformed message");
        add(&c, hello_msg(1, jet_node_public_key(A), 32, 0, "IT-\xff\xfe"));
        run_case(&c);
    }
    {
        CASE(c, "hello position with a 31-byte origin", "malformed hello");
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_bytes(&inner, 2, jet_node_public_key(A), 32);
        pb_uint(&inner, 3, 0);
        pb pos = {0};
        pb_uint(&pos, 1, 1);
        pb_bytes(&pos, 2, jet_node_public_key(B), 31);
        pb_uint(&pos, 4, 5);
        pb_bytes(&inner, 4, pos.p, pos.len);
        add(&c, pb_message(1, &inner));
        free(inner.p);
        free(pos.p);
        run_case(&c);
    }
    {
        CASE(c, "hello with 500,000 empty positions (1 MB)", "expands beyond");
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_bytes(&inner, 2, jet_node_public_key(A), 32);
        for (int i = 0; i < 500000; i++)
            pb_raw(&inner, "\x22\x00", 2);
        add(&c, pb_message(1, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "hello with 1,000,001 positions (2 MB)", "expands beyond");
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_bytes(&inner, 2, jet_node_public_key(A), 32);
        for (int i = 0; i < 1000001; i++)
            pb_raw(&inner, "\x22\x00", 2);
        add(&c, pb_message(1, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "hello version as a length-delimited field", "malformed message");
        pb inner = {0};
        pb_bytes(&inner, 1, "\x01", 1);
        add(&c, pb_message(1, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "hello with version duplicated (1 then 2: the last wins)",
             "protocol version 2 is not supported");
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_bytes(&inner, 2, jet_node_public_key(A), 32);
        pb_uint(&inner, 1, 2);
        add(&c, pb_message(1, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "hello sent twice", "a second hello");
        add(&c, good_hello());
        add(&c, good_hello());
        run_case(&c);
    }
}

static int status_of_A_txn(jet_txn *txn, void *arg) {
    return jet_sync_status_get(txn, jet_node_public_key(A), arg);
}

/* Unknown fields are ignored (proto3): a Hello with one still gives a complete session. */
static void test_unknown_field_is_ignored(void **state) {
    (void)state;
    uint8_t before[32], after[32];
    jet_sync_status st0;
    assert_ok(jet_store_read(jet_node_store(L), status_of_A_txn, &st0));
    uint64_t sessions_before = st0.total_sessions;
    lead_snapshot(before);
    long from = log_size();
    crafted c;
    memset(&c, 0, sizeof c);
    pb h = good_hello();
    /* Field 99 (varint) appended inside the Hello: re-wrap the inner message. */
    Jetsync__Wire__Message *m = jetsync__wire__message__unpack(NULL, h.len, h.p);
    assert_non_null(m);
    size_t ilen = jetsync__wire__hello__get_packed_size(m->hello);
    pb inner = {0};
    inner.p = malloc(ilen);
    inner.len = inner.cap = ilen;
    jetsync__wire__hello__pack(m->hello, inner.p);
    jetsync__wire__message__free_unpacked(m, NULL);
    pb_uint(&inner, 99, 12345);
    pb_bytes(&inner, 100, "future", 6);
    c.frames[0] = pb_message(1, &inner);
    c.frames[1] = plan_msg(0, 0);
    c.frames[2] = done_msg(0);
    c.nframes = 3;
    c.complete_mode = 1;
    run_crafted(&c);
    char *log = log_wait(from, "event=session_complete", "peer=A", NULL);
    lead_snapshot(after);
    if (!log_has_line(log, "event=session_complete", "peer=A", NULL))
        print_error("daemon log:\n%s\n", log);
    assert_true(c.got_fin);
    assert_true(log_has_line(log, "event=session_complete", "peer=A", NULL));
    assert_memory_equal(before, after, 32);
    /* The announced plan is only for progress; what the lead keeps of it: */
    jet_sync_status st;
    for (int i = 0; i < 60; i++) { /* the lead writes it once the connection is closed */
        assert_ok(jet_store_read(jet_node_store(L), status_of_A_txn, &st));
        if (st.total_sessions > sessions_before)
            break;
        usleep(50 * 1000);
    }
    assert_true(st.total_sessions > sessions_before);
    assert_string_equal(st.last_error, "");
    assert_int_equal(st.pending_from_peer, 0);
    free(log);
    free(inner.p);
    free(h.p);
    for (size_t i = 0; i < c.nframes; i++)
        free(c.frames[i].p);
    honest_sync_works();
}

/* ---- Plan, Batch numbering, Ack, Done, Fin, Abort ----------------------------------------- */

static void test_session_messages(void **state) {
    (void)state;
    {
        CASE(c, "batch before hello", "batch before hello");
        pb rec = next_record_of_A(JET_STREAM_TOOLKIT, 0, "x", 1);
        add(&c, batch1(rec));
        run_case(&c);
    }
    {
        CASE(c, "plan before hello", "protocol error");
        add(&c, plan_msg(5, 5));
        run_case(&c);
    }
    {
        CASE(c, "batch_no 0", "batch 0 out of order");
        streaming(&c);
        pb rec = next_record_of_A(JET_STREAM_TOOLKIT, 0, "x", 1);
        add(&c, batch_msg(0, &rec, 1));
        free(rec.p);
        run_case(&c);
    }
    {
        CASE(c, "batch_no 2^64-1", "batch 18446744073709551615 out of order");
        streaming(&c);
        pb rec = next_record_of_A(JET_STREAM_TOOLKIT, 0, "x", 1);
        add(&c, batch_msg(UINT64_MAX, &rec, 1));
        free(rec.p);
        run_case(&c);
    }
    {
        CASE(c, "batch_no 2 first", "batch 2 out of order");
        streaming(&c);
        pb rec = next_record_of_A(JET_STREAM_TOOLKIT, 0, "x", 1);
        add(&c, batch_msg(2, &rec, 1));
        free(rec.p);
        run_case(&c);
    }
    {
        CASE(c, "batch of 20,001 records", "batch of 20001 records exceeds the limit");
        streaming(&c);
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        for (int i = 0; i < 20001; i++)
            pb_raw(&inner, "\x12\x00", 2);
        add(&c, pb_message(3, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "batch with records as a varint", "malformed message");
        streaming(&c);
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_uint(&inner, 2, 7);
        add(&c, pb_message(3, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "plan records as a fixed32 field", "malformed message");
        add(&c, good_hello());
        pb inner = {0};
        pb_tag(&inner, 1, 5);
        pb_raw(&inner, "\1\0\0\0", 4);
        add(&c, pb_message(2, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "ack batch_no as a length-delimited field", "malformed message");
        streaming(&c);
        pb inner = {0};
        pb_bytes(&inner, 1, "\1", 1);
        add(&c, pb_message(4, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "done batches as a fixed64 field", "malformed message");
        streaming(&c);
        pb inner = {0};
        pb_tag(&inner, 1, 1);
        pb_raw(&inner, "\0\0\0\0\0\0\0\0", 8);
        add(&c, pb_message(5, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "batch with batch_no duplicated (1 then 0: the last wins)", "batch 0 out of order");
        streaming(&c);
        pb inner = {0};
        pb_uint(&inner, 1, 1);
        pb_uint(&inner, 1, 0);
        pb rec = next_record_of_A(JET_STREAM_TOOLKIT, 0, "x", 1);
        pb_bytes(&inner, 2, rec.p, rec.len);
        free(rec.p);
        add(&c, pb_message(3, &inner));
        free(inner.p);
        run_case(&c);
    }
    {
        CASE(c, "ack of a batch never sent", "unexpected ack 1");
        streaming(&c);
        add(&c, ack_msg(1));
        run_case(&c);
    }
    {
        CASE(c, "ack 2^64-1", "unexpected ack 18446744073709551615");
        streaming(&c);
        add(&c, ack_msg(UINT64_MAX));
        run_case(&c);
    }
    {
        CASE(c, "ack 0", "unexpected ack 0");
        streaming(&c);
        add(&c, ack_msg(0));
        run_case(&c);
    }
    {
        CASE(c, "done counting 5 batches, none sent", "peer sent 5 batches, 0 arrived");
        streaming(&c);
        add(&c, done_msg(5));
        run_case(&c);
    }
    {
        CASE(c, "done 2^64-1 batches", "peer sent 18446744073709551615 batches, 0 arrived");
        streaming(&c);
        add(&c, done_msg(UINT64_MAX));
        run_case(&c);
    }
    {
        /* A Plan is checked against the Done: a peer cannot announce what it never sends (it
         * used to leave 2^64-1 records "pending" in the lead's status after a complete session). */
        CASE(c, "plan of 2^64-1 records then done(0)", "peer announced");
        add(&c, good_hello());
        add(&c, plan_msg(UINT64_MAX, UINT64_MAX));
        add(&c, done_msg(0));
        run_case(&c);
    }
    {
        CASE(c, "done twice", "unexpected done");
        streaming(&c);
        add(&c, done_msg(0));
        add(&c, done_msg(0));
        run_case(&c);
    }
    {
        CASE(c, "fin before done", "unexpected fin");
        streaming(&c);
        add(&c, fin_msg());
        run_case(&c);
    }
    {
        CASE(c, "fin before hello", "unexpected fin");
        add(&c, fin_msg());
        run_case(&c);
    }
    {
        CASE(c, "ack before hello", "unexpected ack");
        add(&c, ack_msg(1));
        run_case(&c);
    }
    {
        CASE(c, "hello after streaming began", "a second hello");
        streaming(&c);
        add(&c, good_hello());
        run_case(&c);
    }
}

/* An Abort ends the session; its text is the peer's and must not forge log lines. */
static void test_abort_text(void **state) {
    (void)state;
    uint8_t before[32], after[32];
    static const char *const reasons[] = {
        "bye\nts=2026-01-01T00:00:00.000Z level=error event=forged peer=Lead",
        "\xff\xfe\xc0\x80 invalid UTF-8 \" quote",
    };
    for (size_t i = 0; i < 2; i++) {
        lead_snapshot(before);
        long from = log_size();
        crafted c;
        memset(&c, 0, sizeof c);
        c.frames[0] = good_hello();
        c.frames[1] = abort_msg(reasons[i], strlen(reasons[i]));
        c.nframes = 2;
        run_crafted(&c);
        /* The lead ends the session on Abort without answering. */
        char *log = log_wait(from, "event=session_aborted_by_peer", "peer=A", NULL);
        lead_snapshot(after);
        assert_memory_equal(before, after, 32);
        assert_true(log_has_line(log, "event=session_aborted_by_peer", "peer=A", NULL));
        /* Every line the daemon wrote is one of its own key=value lines. */
        int forged = 0;
        for (const char *p = log; *p;) {
            if (strncmp(p, "ts=", 3) != 0 || strncmp(p, "ts=2026-01-01T00:00:00.000Z", 27) == 0)
                forged = 1;
            const char *eol = strchr(p, '\n');
            if (!eol)
                break;
            p = eol + 1;
        }
        if (forged) {
            n_xfail++;
            print_message("XFAIL abort reason %zu -- known: session.c logs the peer's "
                          "Abort reason unescaped, so a peer can write its own log lines\n",
                          i);
            if (strict())
                fail_msg("log injection through Abort.reason");
        } else {
            print_message("ok    abort reason %zu logged as one line\n", i);
        }
        free(log);
        for (size_t j = 0; j < c.nframes; j++)
            free(c.frames[j].p);
        honest_sync_works();
    }
    {
        /* A huge reason (900 KB) is still one line, cut. */
        lead_snapshot(before);
        long from = log_size();
        size_t n = 900 * 1024;
        char *big = malloc(n);
        assert_non_null(big);
        memset(big, 'A', n);
        crafted c;
        memset(&c, 0, sizeof c);
        c.frames[0] = good_hello();
        c.frames[1] = abort_msg(big, n);
        c.nframes = 2;
        run_crafted(&c);
        free(big);
        char *log = log_wait(from, "event=session_aborted_by_peer", "peer=A", NULL);
        lead_snapshot(after);
        assert_memory_equal(before, after, 32);
        assert_true(log_has_line(log, "event=session_aborted_by_peer", "peer=A", NULL));
        assert_true(strlen(log) < 64 * 1024);
        free(log);
        for (size_t j = 0; j < c.nframes; j++)
            free(c.frames[j].p);
        honest_sync_works();
    }
}

/* ---- records ---------------------------------------------------------------------------- */

static pb with_field(const pb *payload, unsigned field, const void *d, size_t n) {
    pb p = pb_from(payload->p, payload->len);
    pb_bytes(&p, field, d, n);
    return p;
}

static void test_records(void **state) {
    (void)state;
    const uint8_t *skA = jet_node_secret_key(A), *pkA = jet_node_public_key(A);
    const uint8_t *skB = jet_node_secret_key(B), *pkB = jet_node_public_key(B);
    head_ctx tk = lead_head(JET_STREAM_TOOLKIT, pkA, epoch_A);
    assert_int_equal(tk.seq, 3);
    {
        CASE(c, "record: garbage bytes", "refused record 1 of batch 1: malformed message");
        streaming(&c);
        uint8_t junk[158];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 37 + 11);
        add(&c, batch1(pb_from(junk, sizeof junk)));
        run_case(&c);
    }
    {
        CASE(c, "record: truncated by one byte", "refused record 1 of batch 1: malformed message");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        r.len--;
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        CASE(c, "record: payload length larger than the record", "malformed message");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        jet_put_be32(r.p + 8, 7);
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        CASE(c, "record: payload length 2^32-1", "malformed message");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        jet_put_be32(r.p + 8, UINT32_MAX);
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        CASE(c, "record: stream 0", "malformed message");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, 0, 0, epoch_A, tk.seq + 1, tk.head, "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: stream 4", "malformed message");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, 4, 0, epoch_A, 1, NULL, "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: reserved byte set", "malformed message");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        r.p[5] = 1;
        crypto_sign_ed25519_detached(r.p + r.len - 64, NULL, r.p, r.len - 64, skA);
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        CASE(c, "record: seq 0", "malformed message");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, 0, tk.head, "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: bad signature (a payload bit flipped)", "bad signature");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        r.p[JET_RECORD_HEADER] ^= 1;
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        /* One signature proves a run (record.h): a tampered record inside the run is still
         * found, and named. */
        CASE(c, "record: run of 3, the middle one's signature flipped",
             "refused record 2 of batch 1: bad signature");
        streaming(&c);
        add(&c, batch_run(skA, pkA, epoch_A, tk.seq, tk.head, 3, 1));
        run_case(&c);
    }
    {
        CASE(c, "record: run of 3, the first one's signature flipped",
             "refused record 1 of batch 1: bad signature");
        streaming(&c);
        add(&c, batch_run(skA, pkA, epoch_A, tk.seq, tk.head, 3, 0));
        run_case(&c);
    }
    {
        CASE(c, "record: run of 3, the last one's signature flipped",
             "refused record 3 of batch 1: bad signature");
        streaming(&c);
        add(&c, batch_run(skA, pkA, epoch_A, tk.seq, tk.head, 3, 2));
        run_case(&c);
    }
    {
        CASE(c, "record: signed by B under A's origin", "bad signature");
        streaming(&c);
        add(&c, batch1(make_record(skB, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, tk.seq + 1, tk.head,
                                   "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: signature all zero", "bad signature");
        streaming(&c);
        pb r = next_record_of_A(JET_STREAM_TOOLKIT, 0, "marker", 6);
        memset(r.p + r.len - 64, 0, 64);
        add(&c, batch1(r));
        run_case(&c);
    }
    {
        CASE(c, "record: out of order (a gap of one)", "record out of order");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, tk.seq + 2, tk.head,
                                   "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: seq 2^64-1", "record out of order");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, UINT64_MAX, tk.head,
                                   "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: fork (another record under held seq 2)", "log fork");
        streaming(&c);
        /* prev of seq 2 is the hash of record 1: take it from the lead's record 2. */
        jet_record r2;
        memset(&r2, 0, sizeof r2);
        uint8_t prev[32];
        jet_txn *txn = NULL;
        assert_ok(jet_txn_begin(jet_node_store(L), 0, &txn));
        assert_ok(jet_log_get(txn, JET_STREAM_TOOLKIT, pkA, epoch_A, 2, &r2));
        memcpy(prev, r2.prev, 32);
        jet_txn_abort(txn);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, 2, prev,
                                   "another history", 15)));
        run_case(&c);
    }
    {
        CASE(c, "record: next seq with a wrong prev hash (fork)", "log fork");
        streaming(&c);
        uint8_t prev[32];
        memcpy(prev, tk.head, 32);
        prev[0] ^= 0x80;
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, tk.seq + 1, prev, "m",
                                   1)));
        run_case(&c);
    }
    {
        CASE(c, "record: epoch 2^64-1 (a new log far in the future)", "epoch");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, UINT64_MAX, 1, NULL, "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: a region sending figures", "figures record by");
        streaming(&c);
        add(&c, batch1(make_record(skA, pkA, JET_STREAM_FIGURES, 0, epoch_A, 1, NULL, "m", 1)));
        run_case(&c);
    }
    {
        CASE(c, "record: stats of another region relayed (B's, genuinely signed)",
             "stats record by");
        streaming(&c);
        uint64_t epoch_B;
        assert_ok(jet_store_write(jet_node_store(B), epoch_txn, &epoch_B));
        head_ctx hb = lead_head(JET_STREAM_STATS, pkB, epoch_B);
        add(&c, batch1(make_record(skB, pkB, JET_STREAM_STATS, 0, epoch_B, hb.seq + 1, hb.head, "m",
                                   1)));
        run_case(&c);
    }
    {
        CASE(c, "record: a good one, then a bad one in the same batch (all or nothing)",
             "refused record 2 of batch 1: bad signature");
        streaming(&c);
        pb recs[2];
        recs[0] = next_record_of_A(JET_STREAM_TOOLKIT, 0, "good", 4);
        uint8_t h[32];
        crypto_generichash(h, 32, recs[0].p, recs[0].len, NULL, 0);
        recs[1] = make_record(skA, pkA, JET_STREAM_TOOLKIT, 0, epoch_A, tk.seq + 2, h, "bad", 3);
        recs[1].p[JET_RECORD_HEADER] ^= 1;
        add(&c, batch_msg(1, recs, 2));
        free(recs[0].p);
        free(recs[1].p);
        run_case(&c);
    }

    /* Payloads the views must refuse. */
    {
        CASE(c, "toolkit entry: garbage payload", "malformed message");
        streaming(&c);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, "\xff\xff\xff\xff", 4)));
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: unknown kind 99", "malformed message");
        streaming(&c);
        add(&c,
            batch1(next_record_of_A(JET_STREAM_TOOLKIT, 99, entry_payload.p, entry_payload.len)));
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: author B (forged)", "not permitted");
        streaming(&c);
        pb p = with_field(&entry_payload, 1, pkB, 32);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: title with invalid UTF-8", "validation failed");
        streaming(&c);
        pb p = with_field(&entry_payload, 5, "Jag \xff\xfe med", 10);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: category unknown", "validation failed");
        streaming(&c);
        pb p = with_field(&entry_payload, 8, "cure", 4);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: version 0", "");
        pb p = pb_from(entry_payload.p, entry_payload.len);
        pb_uint(&p, 3, 0);
        c.reason = "refused record 1 of batch 1";
        streaming(&c);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: 100,000 languages (huge repeated field)",
             "refused record 1 of batch 1");
        streaming(&c);
        pb p = pb_from(entry_payload.p, entry_payload.len);
        for (int i = 0; i < 100000; i++)
            pb_bytes(&p, 12, "en", 2);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit entry: target_age from 200", "validation failed");
        streaming(&c);
        pb age = {0};
        pb_uint(&age, 1, 200);
        pb_uint(&age, 2, 300);
        pb p = with_field(&entry_payload, 17, age.p, age.len);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 1, p.p, p.len)));
        free(p.p);
        free(age.p);
        run_case(&c);
    }
    {
        CASE(c, "toolkit withdrawal of an entry never published", "not found");
        streaming(&c);
        add(&c, batch1(next_record_of_A(JET_STREAM_TOOLKIT, 2, withdrawal_like.p,
                                        withdrawal_like.len)));
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: garbage payload", "malformed message");
        streaming(&c);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, "\x0a\xff\x01", 3)));
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: region with invalid UTF-8", "malformed message");
        streaming(&c);
        pb p = chunk_payload("IT-\xff", 120, 131, 0);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: chunk_count 0", "malformed message");
        streaming(&c);
        pb p = pb_from(stats_payload.p, stats_payload.len);
        pb_uint(&p, 6, 0);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: ncells 2^64-1", "malformed message");
        streaming(&c);
        pb p = pb_from(stats_payload.p, stats_payload.len);
        pb_uint(&p, 9, UINT64_MAX);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: a count of 3 published (k = 5)", "refused record 1 of batch 1");
        streaming(&c);
        pb p = chunk_payload("IT-25", 3, 3, 1);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
    {
        CASE(c, "stats chunk: a region's release under another region's code (B's NO-30)",
             "refused record 1 of batch 1");
        streaming(&c);
        pb p = chunk_payload("NO-30", 120, 131, 99);
        add(&c, batch1(next_record_of_A(JET_STREAM_STATS, 1, p.p, p.len)));
        free(p.p);
        run_case(&c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_message),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_unknown_field_is_ignored),
        cmocka_unit_test(test_session_messages),
        cmocka_unit_test(test_abort_text),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
