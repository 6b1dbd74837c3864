/* test_record.c - signed records, the log and the version vector: sequence numbers, the
 * documented canonical encoding, digests equal between two stores holding one log, and every
 * refusal of jet_record_ingest() (a flipped bit anywhere, a wrong key, a gap, a repeat, a fork,
 * truncated or oversized input, malformed fields) leaving the store unchanged.
 *
 * Records here use the figures stream (JET_STREAM_FIGURES) with a kind of our own: its view
 * (stats.c) keeps nothing of it, so these tests exercise the log alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>

#include "encoding.h"
#include "record.h"
#include "store.h"
#include "testutil.h"

#define TEST_STREAM JET_STREAM_FIGURES
#define TEST_KIND 7u

typedef struct keypair {
    uint8_t pk[32];
    uint8_t sk[64];
} keypair;

static void make_keys(keypair *k) {
    crypto_sign_keypair(k->pk, k->sk);
}

static jet_store *new_store(void) {
    jet_store *s = NULL;
    assert_ok(jet_store_create(jt_tempdir(), &s));
    return s;
}

/* The payload of record `seq` in these tests: `seq % 23` bytes (so some are empty). */
static size_t test_payload(uint64_t seq, uint8_t *out) {
    size_t n = (size_t)(seq % 23);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(seq * 13 + i);
    return n;
}

/* The prev hash the next build_record() writes (NULL: zeros, as for seq 1). */
static const uint8_t *build_prev;

/* BLAKE2b-256 of an encoded record: what the next record of its log carries as prev. */
static void record_hash(const uint8_t *rec, size_t len, uint8_t out[32]) {
    crypto_generichash(out, 32, rec, len, NULL, 0);
}

/* An independent encoder that follows the layout documented in record.h. */
static size_t build_record(uint8_t *buf, const uint8_t signer_sk[64], const uint8_t origin[32],
                           uint8_t stream, uint8_t reserved, uint16_t kind, uint64_t epoch,
                           uint64_t seq, const uint8_t *payload, uint32_t plen) {
    memcpy(buf, "JSR1", 4);
    buf[4] = stream;
    buf[5] = reserved;
    buf[6] = (uint8_t)(kind >> 8);
    buf[7] = (uint8_t)kind;
    jet_put_be32(buf + 8, plen);
    memcpy(buf + 12, origin, 32);
    jet_put_be64(buf + 44, epoch);
    jet_put_be64(buf + 52, seq);
    if (build_prev != NULL)
        memcpy(buf + 60, build_prev, 32);
    else
        memset(buf + 60, 0, 32);
    if (plen > 0)
        memcpy(buf + 92, payload, plen);
    crypto_sign_ed25519_detached(buf + 92 + plen, NULL, buf, 92 + plen, signer_sk);
    return 92 + (size_t)plen + 64;
}

/* ---- store helpers --------------------------------------------------------------------------- */

typedef struct append_ctx {
    const uint8_t *sk;
    uint32_t stream, kind;
    int count;
    uint64_t first_seq, last_seq;
} append_ctx;

static int append_txn(jet_txn *txn, void *arg) {
    append_ctx *a = arg;
    for (int i = 0; i < a->count; i++) {
        uint64_t seq = 0, last = 0, epoch = 0;
        uint8_t payload[32];
        int rc = jet_log_own_epoch(txn, &epoch);
        if (rc == 0)
            rc = jet_vv_get(txn, a->stream, a->sk + 32, epoch, &last);
        if (rc != 0)
            return rc;
        size_t n = test_payload(last + 1, payload);
        rc = jet_record_append(txn, a->sk, a->stream, a->kind, payload, n, &seq);
        if (rc != 0)
            return rc;
        if (i == 0)
            a->first_seq = seq;
        a->last_seq = seq;
    }
    return 0;
}

/* Appends `count` records in one transaction; returns the seq of the last one. */
static uint64_t append_n(jet_store *s, const keypair *k, uint32_t stream, int count) {
    append_ctx a = {k->sk, stream, TEST_KIND, count, 0, 0};
    assert_ok(jet_store_write(s, append_txn, &a));
    return a.last_seq;
}

static int epoch_txn(jet_txn *txn, void *arg) {
    return jet_log_own_epoch(txn, arg);
}

static uint64_t own_epoch(jet_store *s) {
    uint64_t e = 0;
    assert_ok(jet_store_write(s, epoch_txn, &e));
    return e;
}

typedef struct vv_ctx {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t epoch, seq;
} vv_ctx;

static int vv_txn(jet_txn *txn, void *arg) {
    vv_ctx *v = arg;
    return jet_vv_get(txn, v->stream, v->origin, v->epoch, &v->seq);
}

static uint64_t vv(jet_store *s, uint32_t stream, const uint8_t origin[32], uint64_t epoch) {
    vv_ctx v = {stream, origin, epoch, 0};
    assert_ok(jet_store_read(s, vv_txn, &v));
    return v.seq;
}

typedef struct get_ctx {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t epoch, seq;
    uint8_t buf[1024];
    size_t len;
    jet_record rec; /* pointers refer to buf after the copy */
} get_ctx;

static int get_txn(jet_txn *txn, void *arg) {
    get_ctx *g = arg;
    jet_record r;
    int rc = jet_log_get(txn, g->stream, g->origin, g->epoch, g->seq, &r);
    if (rc != 0)
        return rc;
    assert_true(r.encoded_len <= sizeof g->buf);
    memcpy(g->buf, r.encoded, r.encoded_len);
    g->len = r.encoded_len;
    return jet_record_decode(g->buf, g->len, &g->rec);
}

/* Copies the encoding of one record out of a store. */
static size_t get_record(jet_store *s, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                         uint64_t seq, uint8_t *out) {
    static get_ctx g;
    memset(&g, 0, sizeof g);
    g.stream = stream;
    g.origin = origin;
    g.epoch = epoch;
    g.seq = seq;
    assert_ok(jet_store_read(s, get_txn, &g));
    memcpy(out, g.buf, g.len);
    return g.len;
}

/* Appends `n` records to stream TEST_STREAM of `k` at `s` and reads them back: r[seq] and
 * l[seq] for seq 1..n (r and l have n + 1 entries). Returns the epoch. */
static uint64_t append_and_get(jet_store *s, const keypair *k, int n, uint8_t (*r)[1024],
                               size_t *l) {
    append_n(s, k, TEST_STREAM, n);
    uint64_t e = own_epoch(s);
    for (int seq = 1; seq <= n; seq++)
        l[seq] = get_record(s, TEST_STREAM, k->pk, e, (uint64_t)seq, r[seq]);
    return e;
}

typedef struct ingest_ctx {
    const uint8_t *buf;
    size_t len;
    int rc;
    jet_record out;
} ingest_ctx;

/* Ingests and COMMITS whatever the result: a refusal that wrote anything would show. */
static int ingest_txn(jet_txn *txn, void *arg) {
    ingest_ctx *c = arg;
    c->rc = jet_record_ingest(txn, c->buf, c->len, &c->out);
    return 0;
}

static int ingest(jet_store *s, const uint8_t *buf, size_t len) {
    ingest_ctx c = {buf, len, 0, {0}};
    assert_ok(jet_store_write(s, ingest_txn, &c));
    return c.rc;
}

/* Ingest must refuse with `want` and leave the store exactly as it was. */
static void assert_refused(jet_store *s, const uint8_t *buf, size_t len, int want) {
    uint8_t before[32], after[32];
    jt_store_snapshot(s, before);
    assert_code(ingest(s, buf, len), want);
    jt_store_snapshot(s, after);
    assert_memory_equal(before, after, 32);
}

typedef struct digest_ctx {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t epoch, upto;
    uint8_t digest[32];
} digest_ctx;

static int digest_txn(jet_txn *txn, void *arg) {
    digest_ctx *d = arg;
    return jet_log_digest(txn, d->stream, d->origin, d->epoch, d->upto, d->digest);
}

static int log_digest(jet_store *s, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                      uint64_t upto, uint8_t out[32]) {
    digest_ctx d = {stream, origin, epoch, upto, {0}};
    int rc = jet_store_read(s, digest_txn, &d);
    memcpy(out, d.digest, 32);
    return rc;
}

/* A digest of the LOG and VV databases only (what replication must make equal). */
static int log_vv_txn(jet_txn *txn, void *arg) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    int rc = jet_txn_scan(txn, JET_DB_LOG, NULL, 0, NULL, 0, jt_digest_kv, &st);
    if (rc == 0)
        rc = jet_txn_scan(txn, JET_DB_VV, NULL, 0, NULL, 0, jt_digest_kv, &st);
    crypto_generichash_final(&st, arg, 32);
    return rc;
}

static void log_vv_digest(jet_store *s, uint8_t out[32]) {
    assert_ok(jet_store_read(s, log_vv_txn, out));
}

/* ---- appends ----------------------------------------------------------------------------------
 */

static void test_append_sequence(void **state) {
    (void)state;
    jet_store *s = new_store();
    keypair a, b;
    make_keys(&a);
    make_keys(&b);
    uint64_t e = own_epoch(s);
    assert_true(e > 0);
    assert_int_equal(own_epoch(s), e); /* stable */

    append_ctx one = {a.sk, TEST_STREAM, TEST_KIND, 3, 0, 0};
    assert_ok(jet_store_write(s, append_txn, &one));
    assert_int_equal(one.first_seq, 1);
    assert_int_equal(one.last_seq, 3);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e), 3);
    /* Per stream and per origin: other logs start at 1 on their own. */
    assert_int_equal(append_n(s, &a, JET_STREAM_STATS, 1), 1);
    assert_int_equal(append_n(s, &b, TEST_STREAM, 2), 2);
    assert_int_equal(append_n(s, &a, TEST_STREAM, 1), 4);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e), 4);
    assert_int_equal(vv(s, JET_STREAM_STATS, a.pk, e), 1);
    assert_int_equal(vv(s, TEST_STREAM, b.pk, e), 2);
    assert_int_equal(vv(s, JET_STREAM_TOOLKIT, a.pk, e), 0);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e + 1), 0);

    /* Every record reads back with the fields it was written with, and verifies. */
    for (uint64_t seq = 1; seq <= 4; seq++) {
        uint8_t buf[1024], payload[32];
        size_t len = get_record(s, TEST_STREAM, a.pk, e, seq, buf);
        jet_record r;
        assert_ok(jet_record_decode(buf, len, &r));
        assert_ok(jet_record_verify(&r));
        assert_int_equal(r.stream, TEST_STREAM);
        assert_int_equal(r.kind, TEST_KIND);
        assert_memory_equal(r.origin, a.pk, 32);
        assert_int_equal(r.epoch, e);
        assert_int_equal(r.seq, seq);
        size_t n = test_payload(seq, payload);
        assert_int_equal(r.payload_len, n);
        if (n > 0)
            assert_memory_equal(r.payload, payload, n);
        assert_ptr_equal(r.encoded, buf);
        assert_int_equal(r.encoded_len, len);
        assert_ptr_equal(r.sig, buf + len - 64);
    }
    jet_store_free(s);

    /* Durable across a reopen, and appends go on from there. */
    jet_store_free(NULL);
}

static void test_append_reopen(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    keypair a;
    make_keys(&a);
    assert_ok(jet_store_create(dir, &s));
    append_n(s, &a, TEST_STREAM, 5);
    uint64_t e = own_epoch(s);
    jet_store_free(s);
    assert_ok(jet_store_open(dir, &s));
    assert_int_equal(own_epoch(s), e);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e), 5);
    assert_int_equal(append_n(s, &a, TEST_STREAM, 1), 6);
    uint8_t d[32];
    assert_ok(log_digest(s, TEST_STREAM, a.pk, e, 6, d));
    jet_store_free(s);
}

typedef struct bad_append_ctx {
    const uint8_t *sk;
    uint32_t stream, kind;
    size_t len;
    int rc;
} bad_append_ctx;

static int bad_append_txn(jet_txn *txn, void *arg) {
    bad_append_ctx *b = arg;
    uint8_t *p = calloc(1, b->len + 1);
    assert_non_null(p);
    b->rc = jet_record_append(txn, b->sk, b->stream, b->kind, p, b->len, NULL);
    free(p);
    return b->rc;
}

static void test_append_refusals(void **state) {
    (void)state;
    jet_store *s = new_store();
    keypair a;
    make_keys(&a);
    append_n(s, &a, TEST_STREAM, 2);
    uint8_t before[32], after[32];
    jt_store_snapshot(s, before);
    static const struct {
        uint32_t stream, kind;
        size_t len;
        int want;
    } cases[] = {
        {0, TEST_KIND, 0, JET_EINVAL},
        {JET_STREAM_MAX + 1, TEST_KIND, 0, JET_EINVAL},
        {255, TEST_KIND, 0, JET_EINVAL},
        {TEST_STREAM, 0x10000, 0, JET_EINVAL},
        {TEST_STREAM, TEST_KIND, JET_RECORD_MAX_PAYLOAD + 1, JET_ETOOBIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad_append_ctx b = {a.sk, cases[i].stream, cases[i].kind, cases[i].len, 0};
        assert_code(jet_store_write(s, bad_append_txn, &b), cases[i].want);
        jt_store_snapshot(s, after);
        assert_memory_equal(before, after, 32);
    }
    /* The largest payload is accepted. */
    bad_append_ctx max = {a.sk, TEST_STREAM, TEST_KIND, JET_RECORD_MAX_PAYLOAD, 0};
    assert_ok(jet_store_write(s, bad_append_txn, &max));
    assert_int_equal(vv(s, TEST_STREAM, a.pk, own_epoch(s)), 3);
    jet_store_free(s);
}

typedef struct big_append_ctx {
    const uint8_t *sk;
    int runs;
    uint64_t seqs[8];
} big_append_ctx;

/* Eight records of 100 KB in one transaction: through a 64 KiB initial map the transaction
 * runs again after the map grows, and must assign the same seqs the second time. */
static int big_append_txn(jet_txn *txn, void *arg) {
    big_append_ctx *b = arg;
    b->runs++;
    uint8_t *payload = malloc(100000);
    if (payload == NULL)
        return JET_ENOMEM;
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        memset(payload, 'a' + i, 100000);
        rc = jet_record_append(txn, b->sk, TEST_STREAM, TEST_KIND, payload, 100000, &b->seqs[i]);
    }
    free(payload);
    return rc;
}

typedef struct copy_ctx {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t epoch, seq;
    uint8_t *buf; /* malloc'd copy of the encoding */
    size_t len;
} copy_ctx;

static int copy_txn(jet_txn *txn, void *arg) {
    copy_ctx *c = arg;
    jet_record r;
    int rc = jet_log_get(txn, c->stream, c->origin, c->epoch, c->seq, &r);
    if (rc != 0)
        return rc;
    c->buf = malloc(r.encoded_len);
    if (c->buf == NULL)
        return JET_ENOMEM;
    memcpy(c->buf, r.encoded, r.encoded_len);
    c->len = r.encoded_len;
    return 0;
}

static int unset_mapsize(void **state) {
    (void)state;
    unsetenv("JETSYNC_MAPSIZE");
    return 0;
}

static void test_append_map_growth(void **state) {
    (void)state;
    setenv("JETSYNC_MAPSIZE", "65536", 1);
    jet_store *s = new_store();
    keypair a;
    make_keys(&a);
    append_n(s, &a, TEST_STREAM, 2);
    big_append_ctx b = {a.sk, 0, {0}};
    assert_ok(jet_store_write(s, big_append_txn, &b));
    assert_true(b.runs > 1);
    for (int i = 0; i < 8; i++)
        assert_int_equal(b.seqs[i], 3 + i);
    uint64_t e = own_epoch(s);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e), 10);
    uint8_t d[32];
    assert_ok(log_digest(s, TEST_STREAM, a.pk, e, 10, d));
    /* A replica (also starting from a 64 KiB map) ingesting the same bytes has the same log. */
    jet_store *r = new_store();
    for (uint64_t seq = 1; seq <= 10; seq++) {
        copy_ctx c = {TEST_STREAM, a.pk, e, seq, NULL, 0};
        assert_ok(jet_store_read(s, copy_txn, &c));
        assert_code(ingest(r, c.buf, c.len), 0);
        free(c.buf);
    }
    uint8_t dr[32];
    assert_ok(log_digest(r, TEST_STREAM, a.pk, e, 10, dr));
    assert_memory_equal(d, dr, 32);
    jet_store_free(r);
    jet_store_free(s);
    unsetenv("JETSYNC_MAPSIZE");
}

/* The bytes jet_record_append() stores are exactly the encoding documented in record.h. */
static void test_encoding_matches_doc(void **state) {
    (void)state;
    jet_store *s = new_store();
    keypair a;
    make_keys(&a);
    append_n(s, &a, TEST_STREAM, 30);
    uint64_t e = own_epoch(s);
    uint8_t prev[32];
    for (uint64_t seq = 1; seq <= 30; seq++) {
        uint8_t got[1024], want[1024], payload[32];
        size_t glen = get_record(s, TEST_STREAM, a.pk, e, seq, got);
        build_prev = seq == 1 ? NULL : prev;
        size_t plen = test_payload(seq, payload);
        size_t wlen = build_record(want, a.sk, a.pk, TEST_STREAM, 0, TEST_KIND, e, seq, payload,
                                   (uint32_t)plen);
        assert_int_equal(glen, wlen);
        assert_int_equal(glen, JET_RECORD_OVERHEAD + plen);
        assert_memory_equal(got, want, glen);
        record_hash(got, glen, prev);
    }
    build_prev = NULL;
    jet_store_free(s);
}

/* ---- replication: ingest, digest ----------------------------------------------------------- */

typedef struct batch_ctx {
    jet_store *from;
    const uint8_t *origin;
    uint64_t epoch, first, last;
} batch_ctx;

static int batch_txn(jet_txn *txn, void *arg) {
    batch_ctx *b = arg;
    for (uint64_t seq = b->first; seq <= b->last; seq++) {
        uint8_t buf[1024];
        size_t len = get_record(b->from, TEST_STREAM, b->origin, b->epoch, seq, buf);
        jet_record out;
        int rc = jet_record_ingest(txn, buf, len, &out);
        if (rc != 0)
            return rc;
        if (out.seq != seq)
            return JET_EINVAL;
    }
    return 0;
}

static void test_digest_replication(void **state) {
    (void)state;
    jet_store *a = new_store(), *b = new_store();
    keypair ka, kb;
    make_keys(&ka);
    make_keys(&kb);
    enum { N = 40 };
    append_n(a, &ka, TEST_STREAM, N);
    append_n(b, &kb, TEST_STREAM, 3); /* B has a log of its own too */
    uint64_t e = own_epoch(a);

    /* B receives A's log: the first 10 one record per transaction, the rest in one batch. */
    for (uint64_t seq = 1; seq <= 10; seq++) {
        uint8_t buf[1024];
        size_t len = get_record(a, TEST_STREAM, ka.pk, e, seq, buf);
        assert_code(ingest(b, buf, len), 0);
        assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), seq);
    }
    batch_ctx batch = {a, ka.pk, e, 11, N};
    assert_ok(jet_store_write(b, batch_txn, &batch));
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), N);

    /* Equal digests at every prefix, equal to BLAKE2b-256 over the encodings in order. */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (uint64_t upto = 0; upto <= N; upto++) {
        if (upto > 0) {
            uint8_t buf[1024];
            size_t len = get_record(a, TEST_STREAM, ka.pk, e, upto, buf);
            crypto_generichash_update(&st, buf, len);
        }
        crypto_generichash_state copy = st;
        uint8_t want[32], da[32], da2[32], db[32];
        crypto_generichash_final(&copy, want, 32);
        assert_ok(log_digest(a, TEST_STREAM, ka.pk, e, upto, da));
        assert_ok(log_digest(a, TEST_STREAM, ka.pk, e, upto, da2));
        assert_ok(log_digest(b, TEST_STREAM, ka.pk, e, upto, db));
        assert_memory_equal(da, want, 32);
        assert_memory_equal(da, da2, 32);
        assert_memory_equal(da, db, 32);
    }
    /* Asking for more than is held is an error, not a digest of a shorter log. */
    uint8_t d1[32], d2[32];
    assert_code(log_digest(a, TEST_STREAM, ka.pk, e, N + 1, d1), JET_ECORRUPT);
    /* Different logs, different digests. */
    assert_ok(log_digest(b, TEST_STREAM, kb.pk, own_epoch(b), 3, d1));
    assert_ok(log_digest(b, TEST_STREAM, ka.pk, e, 3, d2));
    assert_memory_not_equal(d1, d2, 32);

    /* C, holding only A's log, has a byte-identical log and version vector. */
    jet_store *c = new_store();
    batch_ctx all = {a, ka.pk, e, 1, N};
    assert_ok(jet_store_write(c, batch_txn, &all));
    jet_store *a_only = new_store();
    assert_ok(jet_store_write(a_only, batch_txn, &all));
    uint8_t dc[32], da_only[32];
    log_vv_digest(c, dc);
    log_vv_digest(a_only, da_only);
    assert_memory_equal(dc, da_only, 32);
    log_vv_digest(a, d1); /* A: the same log (A holds nothing else) */
    assert_memory_equal(dc, d1, 32);
    jet_store_free(a);
    jet_store_free(b);
    jet_store_free(c);
    jet_store_free(a_only);
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void test_ingest_bitflips(void **state) {
    (void)state;
    jet_store *a = new_store(), *b = new_store();
    keypair ka;
    make_keys(&ka);
    /* Record 2 carries a 4-byte payload (test_payload(2) is 2 bytes; write our own). */
    append_n(a, &ka, TEST_STREAM, 1);
    uint64_t e = own_epoch(a);
    uint8_t rec[256], buf[1024], prev[32];
    size_t l1 = get_record(a, TEST_STREAM, ka.pk, e, 1, buf);
    record_hash(buf, l1, prev);
    build_prev = prev;
    size_t len = build_record(rec, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 2,
                              (const uint8_t *)"abcd", 4);
    build_prev = NULL;
    assert_code(ingest(b, buf, l1), 0);

    uint8_t before[32], after[32];
    jt_store_snapshot(b, before);
    int badsig = 0, decode = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        uint8_t copy[256];
        memcpy(copy, rec, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ingest_ctx c = {copy, len, 0, {0}};
        assert_ok(jet_store_write(b, ingest_txn, &c));
        if (c.rc != JET_EBADSIG && c.rc != JET_EDECODE) {
            print_error("bit %zu (byte %zu): got %s\n", bit, bit / 8, jet_errname(c.rc));
            fail();
        }
        badsig += c.rc == JET_EBADSIG;
        decode += c.rc == JET_EDECODE;
    }
    jt_store_snapshot(b, after);
    assert_memory_equal(before, after, 32);
    print_message("    %zu bit flips of a %zu-byte record: %d bad signature, %d malformed\n",
                  len * 8, len, badsig, decode);
    assert_int_equal(badsig + decode, (int)(len * 8));
    assert_true(badsig > 0 && decode > 0);
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), 1);
    /* The unflipped record is the next one and is accepted. */
    assert_code(ingest(b, rec, len), 0);
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), 2);
    jet_store_free(a);
    jet_store_free(b);
}

static void test_ingest_wrong_key(void **state) {
    (void)state;
    jet_store *b = new_store(), *c = new_store();
    keypair ka, kc;
    make_keys(&ka);
    make_keys(&kc);
    uint64_t e = 1000;
    uint8_t rec[256];
    /* C signs a record that claims to be A's. */
    size_t len =
        build_record(rec, kc.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 1, (const uint8_t *)"xyz", 3);
    assert_refused(b, rec, len, JET_EBADSIG);
    /* C's genuine record with A's key pasted in as origin. */
    append_n(c, &kc, TEST_STREAM, 1);
    uint64_t ec = own_epoch(c);
    len = get_record(c, TEST_STREAM, kc.pk, ec, 1, rec);
    uint8_t forged[256];
    memcpy(forged, rec, len);
    memcpy(forged + 12, ka.pk, 32);
    assert_refused(b, forged, len, JET_EBADSIG);
    /* A signature by the right key over other bytes (a valid signature moved onto another
     * record of the same origin). */
    uint8_t other[256];
    size_t olen = build_record(other, kc.sk, kc.pk, TEST_STREAM, 0, TEST_KIND + 1, ec, 1, rec + 92,
                               (uint32_t)(len - 156));
    memcpy(other + olen - 64, rec + len - 64, 64);
    assert_refused(b, other, olen, JET_EBADSIG);
    /* The genuine one is accepted: the refusals were about the keys. */
    assert_code(ingest(b, rec, len), 0);
    assert_int_equal(vv(b, TEST_STREAM, kc.pk, ec), 1);
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, ec), 0);
    jet_store_free(b);
    jet_store_free(c);
}

static void test_ingest_gap_repeat_fork(void **state) {
    (void)state;
    jet_store *a = new_store(), *b = new_store();
    keypair ka;
    make_keys(&ka);
    uint8_t r[6][1024];
    size_t l[6];
    uint64_t e = append_and_get(a, &ka, 5, r, l);

    /* A log B has never seen must start at 1. */
    assert_refused(b, r[2], l[2], JET_ESEQ);
    assert_refused(b, r[5], l[5], JET_ESEQ);
    assert_code(ingest(b, r[1], l[1]), 0);
    assert_code(ingest(b, r[2], l[2]), 0);
    /* Gaps: n+2 and beyond. */
    assert_refused(b, r[4], l[4], JET_ESEQ);
    assert_refused(b, r[5], l[5], JET_ESEQ);
    /* Repeats: the same bytes again. */
    assert_refused(b, r[2], l[2], JET_EDUP);
    assert_refused(b, r[1], l[1], JET_EDUP);
    /* Forks: a different, validly signed record under a seq that is held. */
    uint8_t fork[256], payload[32];
    size_t plen = test_payload(2, payload);
    payload[0] ^= 1;
    size_t flen =
        build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 2, payload, (uint32_t)plen);
    assert_refused(b, fork, flen, JET_EFORK);
    flen = build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND + 1, e, 1, NULL, 0);
    assert_refused(b, fork, flen, JET_EFORK);
    /* A fork that differs in length only. */
    flen = build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 2, payload,
                        (uint32_t)plen + 1);
    assert_refused(b, fork, flen, JET_EFORK);
    /* The same (origin, seq) under another epoch is another log, not a fork: it must start at
     * 1 there, so seq 2 is a gap. */
    flen = build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e + 1, 2, NULL, 0);
    assert_refused(b, fork, flen, JET_ESEQ);
    /* The next seq, validly signed, but continuing another history than the one held. */
    uint8_t other_prev[32];
    memset(other_prev, 0xab, 32);
    build_prev = other_prev;
    flen = build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 3, NULL, 0);
    build_prev = NULL;
    assert_refused(b, fork, flen, JET_EFORK);
    /* And in order, the rest goes in. */
    for (uint64_t seq = 3; seq <= 5; seq++)
        assert_code(ingest(b, r[seq], l[seq]), 0);
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), 5);
    /* A fork after the head is a gap or a fork, never accepted. */
    flen = build_record(fork, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 5, NULL, 0);
    assert_refused(b, fork, flen,
                   l[5] == flen && memcmp(fork, r[5], flen) == 0 ? JET_EDUP : JET_EFORK);
    jet_store_free(a);
    jet_store_free(b);
}

/* Two records ingested in one transaction, the first without its own signature check (as a
 * session does for a run of one log); the transaction commits only when both went in. */
typedef struct run_ctx {
    const uint8_t *a, *b;
    size_t alen, blen;
    int rc_a, rc_b;
} run_ctx;

static int run_txn(jet_txn *txn, void *arg) {
    run_ctx *c = arg;
    jet_record a;
    c->rc_a = jet_record_decode(c->a, c->alen, &a);
    if (c->rc_a == 0)
        c->rc_a = jet_record_ingest_decoded(txn, &a, 1);
    c->rc_b = c->rc_a == 0 ? jet_record_ingest(txn, c->b, c->blen, NULL) : 0;
    return c->rc_a != 0 ? c->rc_a : c->rc_b;
}

static void test_ingest_linked_run(void **state) {
    (void)state;
    jet_store *a = new_store(), *b = new_store();
    keypair ka;
    make_keys(&ka);
    uint8_t r[4][1024];
    size_t l[4];
    uint64_t e = append_and_get(a, &ka, 3, r, l);
    jet_record d[4];
    for (int i = 1; i <= 3; i++)
        assert_ok(jet_record_decode(r[i], l[i], &d[i]));
    assert_true(jet_record_links(&d[1], &d[2]));
    assert_false(jet_record_links(&d[1], &d[3])); /* not the next seq */
    assert_false(jet_record_links(&d[2], &d[1]));

    /* A tampered signature on the first record breaks the second's prev link: nothing goes in. */
    uint8_t bad[1024];
    memcpy(bad, r[1], l[1]);
    bad[l[1] - 1] ^= 1;
    uint8_t before[32], after[32];
    jt_store_snapshot(b, before);
    run_ctx c = {bad, r[2], l[1], l[2], 0, 0};
    assert_code(jet_store_write(b, run_txn, &c), JET_EFORK);
    assert_ok(c.rc_a);              /* taken on the next one's word... */
    assert_code(c.rc_b, JET_EFORK); /* ...which does not vouch for it */
    jt_store_snapshot(b, after);
    assert_memory_equal(before, after, 32);

    /* Every refusal of a deferred record checks its signature first: a tampered record out of
     * order is reported as tampered. */
    memcpy(bad, r[2], l[2]);
    bad[l[2] - 1] ^= 1;
    c = (run_ctx){bad, r[3], l[2], l[3], 0, 0};
    assert_code(jet_store_write(b, run_txn, &c), JET_EBADSIG);

    /* The genuine run goes in, and what is stored verifies record by record. */
    c = (run_ctx){r[1], r[2], l[1], l[2], 0, 0};
    assert_ok(jet_store_write(b, run_txn, &c));
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), 2);
    uint8_t got[1024];
    size_t gl = get_record(b, TEST_STREAM, ka.pk, e, 1, got);
    jet_record rec;
    assert_ok(jet_record_decode(got, gl, &rec));
    assert_ok(jet_record_verify(&rec));
    jet_store_free(a);
    jet_store_free(b);
}

/* Records of two logs interleaved in one transaction through one jet_log_run: each run reads
 * the vector once and writes it when it ends, and the stores end up byte for byte as when
 * every record is ingested on its own. */
typedef struct runs_ctx {
    const uint8_t *rec[8];
    size_t len[8];
    int n;
    int rc[8];
} runs_ctx;

static int runs_txn(jet_txn *txn, void *arg) {
    runs_ctx *c = arg;
    jet_log_run run;
    memset(&run, 0, sizeof run);
    for (int i = 0; i < c->n; i++) {
        jet_record rec;
        c->rc[i] = jet_record_decode(c->rec[i], c->len[i], &rec);
        if (c->rc[i] == 0)
            c->rc[i] = jet_record_ingest_run(txn, &run, &rec, 0, NULL);
        if (c->rc[i] != 0 && c->rc[i] != JET_EDUP)
            return c->rc[i];
    }
    return jet_log_run_end(txn, &run);
}

static void test_ingest_log_runs(void **state) {
    (void)state;
    jet_store *sa = new_store(), *sb = new_store(), *runs = new_store(), *single = new_store();
    keypair ka, kb;
    make_keys(&ka);
    make_keys(&kb);
    uint8_t ra[5][1024], rb[5][1024];
    size_t la[5], lb[5];
    uint64_t ea = append_and_get(sa, &ka, 4, ra, la);
    uint64_t eb = append_and_get(sb, &kb, 4, rb, lb);

    /* A1 A2 B1 A3 B2 A2 (a repeat) B3 in one transaction */
    runs_ctx c = {{ra[1], ra[2], rb[1], ra[3], rb[2], ra[2], rb[3]},
                  {la[1], la[2], lb[1], la[3], lb[2], la[2], lb[3]},
                  7,
                  {0}};
    assert_ok(jet_store_write(runs, runs_txn, &c));
    assert_code(c.rc[5], JET_EDUP);
    assert_int_equal(vv(runs, TEST_STREAM, ka.pk, ea), 3);
    assert_int_equal(vv(runs, TEST_STREAM, kb.pk, eb), 3);
    for (int i = 0; i < 7; i++)
        if (i != 5)
            assert_code(ingest(single, c.rec[i], c.len[i]), 0);
    uint8_t d1[32], d2[32];
    log_vv_digest(runs, d1);
    log_vv_digest(single, d2);
    assert_memory_equal(d1, d2, 32);

    /* The next transaction starts from the vector the runs wrote: A4 links to A3 */
    c = (runs_ctx){{ra[4], rb[4]}, {la[4], lb[4]}, 2, {0}};
    assert_ok(jet_store_write(runs, runs_txn, &c));
    assert_int_equal(vv(runs, TEST_STREAM, ka.pk, ea), 4);
    assert_int_equal(vv(runs, TEST_STREAM, kb.pk, eb), 4);

    /* Within a run, a gap is refused as it is alone, and nothing of the batch stays */
    jet_store *gap = new_store();
    uint8_t before[32], after[32];
    jt_store_snapshot(gap, before);
    c = (runs_ctx){{ra[1], ra[2], ra[4]}, {la[1], la[2], la[4]}, 3, {0}};
    assert_code(jet_store_write(gap, runs_txn, &c), JET_ESEQ);
    jt_store_snapshot(gap, after);
    assert_memory_equal(before, after, 32);
    /* and so is a record whose prev is not the run's head (A3 re-signed after a changed A2) */
    uint8_t forged[1024], head[32];
    uint8_t payload[32];
    size_t pl = test_payload(2, payload);
    payload[0] ^= pl > 0 ? 1 : 0;
    record_hash(ra[1], la[1], head);
    build_prev = head;
    size_t flen = build_record(forged, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, ea, 2, payload,
                               (uint32_t)(pl > 0 ? pl : 0));
    build_prev = NULL;
    c = (runs_ctx){{ra[1], forged, ra[3]}, {la[1], flen, la[3]}, 3, {0}};
    int rc = jet_store_write(gap, runs_txn, &c);
    assert_code(rc, memcmp(forged, ra[2], flen) == 0 ? 0 : JET_EFORK);
    jt_store_snapshot(gap, after);
    assert_memory_equal(before, after, 32);
    jet_store_free(sa);
    jet_store_free(sb);
    jet_store_free(runs);
    jet_store_free(single);
    jet_store_free(gap);
}

static void test_ingest_malformed(void **state) {
    (void)state;
    jet_store *b = new_store();
    keypair ka;
    make_keys(&ka);
    uint64_t e = 1790000000000000ull; /* a plausible epoch: 2026-09 */
    uint8_t rec[256];
    size_t len = build_record(rec, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 1,
                              (const uint8_t *)"hello", 5);
    /* Every truncation, including the empty buffer. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size, so ASan sees over-reads */
        assert_non_null(cut);
        memcpy(cut, rec, n);
        assert_refused(b, cut, n, JET_EDECODE);
        free(cut);
    }
    /* Trailing bytes. */
    uint8_t longer[512];
    memcpy(longer, rec, len);
    memset(longer + len, 0, sizeof longer - len);
    assert_refused(b, longer, len + 1, JET_EDECODE);
    assert_refused(b, longer, len + 64, JET_EDECODE);
    /* Validly signed but malformed: seq 0, reserved byte set, unknown streams. */
    uint8_t bad[256];
    size_t blen = build_record(bad, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 0, NULL, 0);
    assert_refused(b, bad, blen, JET_EDECODE);
    blen = build_record(bad, ka.sk, ka.pk, TEST_STREAM, 1, TEST_KIND, e, 1, NULL, 0);
    assert_refused(b, bad, blen, JET_EDECODE);
    blen = build_record(bad, ka.sk, ka.pk, 0, 0, TEST_KIND, e, 1, NULL, 0);
    assert_refused(b, bad, blen, JET_EDECODE);
    blen = build_record(bad, ka.sk, ka.pk, JET_STREAM_MAX + 1, 0, TEST_KIND, e, 1, NULL, 0);
    assert_refused(b, bad, blen, JET_EDECODE);
    /* A payload length field larger than the limit (and a buffer that really is that long). */
    size_t big_len = JET_RECORD_MAX_PAYLOAD + 1 + JET_RECORD_OVERHEAD;
    uint8_t *big = calloc(1, big_len), *big_payload = calloc(1, JET_RECORD_MAX_PAYLOAD + 1);
    assert_non_null(big);
    assert_non_null(big_payload);
    build_record(big, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 1, big_payload,
                 JET_RECORD_MAX_PAYLOAD + 1);
    assert_refused(b, big, big_len, JET_EDECODE);
    /* ...while the largest allowed payload is accepted. */
    build_record(big, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 1, big_payload,
                 JET_RECORD_MAX_PAYLOAD);
    assert_code(ingest(b, big, big_len - 1), 0);
    /* A length field that disagrees with the buffer, in both directions (then re-signed). */
    uint8_t lie[256];
    memcpy(lie, rec, len);
    jet_put_be32(lie + 8, 4);
    crypto_sign_ed25519_detached(lie + len - 64, NULL, lie, len - 64, ka.sk);
    assert_refused(b, lie, len, JET_EDECODE);
    jet_put_be32(lie + 8, 6);
    assert_refused(b, lie, len, JET_EDECODE);
    /* The good record was never the problem. */
    uint8_t prev[32];
    build_record(big, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 1, big_payload,
                 JET_RECORD_MAX_PAYLOAD);
    record_hash(big, big_len - 1, prev);
    build_prev = prev;
    len = build_record(rec, ka.sk, ka.pk, TEST_STREAM, 0, TEST_KIND, e, 2, (const uint8_t *)"hello",
                       5);
    build_prev = NULL;
    free(big);
    free(big_payload);
    assert_code(ingest(b, rec, len), 0);
    assert_int_equal(vv(b, TEST_STREAM, ka.pk, e), 2);
    jet_store_free(b);
}

/* ---- epochs, the version vector -------------------------------------------------------------- */

static int new_epoch_txn(jet_txn *txn, void *arg) {
    return jet_log_new_epoch(txn, arg);
}

static int put_epoch_txn(jet_txn *txn, void *arg) {
    return jet_meta_put_u64(txn, "epoch", *(uint64_t *)arg);
}

static void test_new_epoch(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL, *b = new_store();
    assert_ok(jet_store_create(dir, &s));
    keypair a;
    make_keys(&a);
    append_n(s, &a, TEST_STREAM, 3);
    uint64_t e1 = own_epoch(s), e2 = 0, e3 = 0;
    assert_ok(jet_store_write(s, new_epoch_txn, &e2));
    assert_ok(jet_store_write(s, new_epoch_txn, &e3)); /* twice in a row: still increasing */
    assert_true(e2 > e1);
    assert_true(e3 > e2);
    assert_int_equal(own_epoch(s), e3);
    assert_int_equal(append_n(s, &a, TEST_STREAM, 2), 2); /* restarts at 1 */
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e1), 3);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e2), 0);
    assert_int_equal(vv(s, TEST_STREAM, a.pk, e3), 2);
    uint8_t buf[1024];
    size_t len = get_record(s, TEST_STREAM, a.pk, e3, 1, buf);
    jet_record r;
    assert_ok(jet_record_decode(buf, len, &r));
    assert_int_equal(r.epoch, e3);
    assert_int_equal(r.seq, 1);
    /* Another node takes the new epoch's log without the old one. */
    assert_code(ingest(b, buf, len), 0);
    assert_int_equal(vv(b, TEST_STREAM, a.pk, e3), 1);
    jet_store_free(s);
    /* The epoch survives a reopen. */
    assert_ok(jet_store_open(dir, &s));
    assert_int_equal(own_epoch(s), e3);
    assert_int_equal(append_n(s, &a, TEST_STREAM, 1), 3);
    /* Epochs keep increasing even when the clock is behind the last one (a clock set back). */
    uint64_t future = e3 + 3600ull * 1000000 * 24 * 365, e4 = 0;
    assert_ok(jet_store_write(s, put_epoch_txn, &future));
    assert_ok(jet_store_write(s, new_epoch_txn, &e4));
    assert_true(e4 > future);
    jet_store_free(s);
    jet_store_free(b);
}

typedef struct vv_list {
    jet_vv_entry e[16];
    int n;
} vv_list;

static int vv_list_one(const jet_vv_entry *e, void *arg) {
    vv_list *l = arg;
    assert_true(l->n < 16);
    l->e[l->n++] = *e;
    return 0;
}

typedef struct vv_scan_ctx {
    uint32_t stream;
    vv_list list;
} vv_scan_ctx;

static int vv_scan_txn(jet_txn *txn, void *arg) {
    vv_scan_ctx *c = arg;
    return jet_vv_scan(txn, c->stream, vv_list_one, &c->list);
}

static void test_vv_scan(void **state) {
    (void)state;
    jet_store *s = new_store();
    keypair a, b;
    make_keys(&a);
    make_keys(&b);
    append_n(s, &a, TEST_STREAM, 4);
    append_n(s, &a, JET_STREAM_STATS, 2);
    append_n(s, &b, TEST_STREAM, 7);
    uint64_t e = own_epoch(s);
    vv_scan_ctx all;
    memset(&all, 0, sizeof all);
    assert_ok(jet_store_read(s, vv_scan_txn, &all));
    assert_int_equal(all.list.n, 3);
    int seen = 0;
    for (int i = 0; i < all.list.n; i++) {
        const jet_vv_entry *x = &all.list.e[i];
        assert_int_equal(x->epoch, e);
        if (x->stream == TEST_STREAM && memcmp(x->origin, a.pk, 32) == 0)
            assert_int_equal(x->seq, 4), seen |= 1;
        else if (x->stream == JET_STREAM_STATS && memcmp(x->origin, a.pk, 32) == 0)
            assert_int_equal(x->seq, 2), seen |= 2;
        else if (x->stream == TEST_STREAM && memcmp(x->origin, b.pk, 32) == 0)
            assert_int_equal(x->seq, 7), seen |= 4;
    }
    assert_int_equal(seen, 7);
    vv_scan_ctx stats;
    memset(&stats, 0, sizeof stats);
    stats.stream = JET_STREAM_STATS;
    assert_ok(jet_store_read(s, vv_scan_txn, &stats));
    assert_int_equal(stats.list.n, 1);
    assert_int_equal(stats.list.e[0].stream, JET_STREAM_STATS);
    assert_int_equal(stats.list.e[0].seq, 2);
    jet_store_free(s);
}

static void test_stream_names(void **state) {
    (void)state;
    assert_string_equal(jet_stream_name(JET_STREAM_TOOLKIT), "toolkit");
    assert_string_equal(jet_stream_name(JET_STREAM_STATS), "stats");
    assert_string_equal(jet_stream_name(JET_STREAM_FIGURES), "figures");
    assert_null(jet_stream_name(0));
    assert_null(jet_stream_name(JET_STREAM_MAX + 1));
    for (uint32_t s = 1; s <= JET_STREAM_MAX; s++)
        assert_int_equal(jet_stream_parse(jet_stream_name(s)), s);
    assert_int_equal(jet_stream_parse("nope"), 0);
    assert_int_equal(jet_stream_parse(""), 0);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_sequence),
        cmocka_unit_test(test_append_reopen),
        cmocka_unit_test(test_append_refusals),
        cmocka_unit_test_teardown(test_append_map_growth, unset_mapsize),
        cmocka_unit_test(test_encoding_matches_doc),
        cmocka_unit_test(test_digest_replication),
        cmocka_unit_test(test_ingest_bitflips),
        cmocka_unit_test(test_ingest_wrong_key),
        cmocka_unit_test(test_ingest_gap_repeat_fork),
        cmocka_unit_test(test_ingest_linked_run),
        cmocka_unit_test(test_ingest_log_runs),
        cmocka_unit_test(test_ingest_malformed),
        cmocka_unit_test(test_new_epoch),
        cmocka_unit_test(test_vv_scan),
        cmocka_unit_test(test_stream_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
