/* test_stats.c - the statistics pipeline end to end on real stores: import (one transaction),
 * what the view shows, that nothing suppressed or pupil-level reaches the store, supersession by
 * re-import, the same view at a second store fed through jet_record_ingest() (as sync does,
 * chunk by chunk), refusal of chunks that do not fit, filters, and the suppression of rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sodium.h>

#include "encoding.h"
#include "record.h"
#include "report.h"
#include "statcsv.h"
#include "stats.h"
#include "stats.pb-c.h"
#include "store.h"
#include "testutil.h"

typedef struct node {
    const char *dir;
    jet_store *store;
    uint8_t pk[32];
    uint8_t sk[64];
} node;

static void node_open(node *n) {
    n->dir = jt_tempdir();
    assert_ok(jet_store_create(n->dir, &n->store));
    crypto_sign_keypair(n->pk, n->sk);
}

static void node_close(node *n) {
    jet_store_free(n->store);
    n->store = NULL;
}

/* Runs the whole import of `csv` at node n as region `region` (with noise of `epsilon` and
 * `budget` when epsilon > 0). Returns the code. */
static int import_noise(node *n, const char *region, const char *csv, unsigned k, double epsilon,
                        double budget, jet_diag *diag) {
    jet_stats_obs *obs = NULL;
    jet_stats_batch *b = NULL;
    jet_sdc_options opt = {k, 1};
    int rc;
    jet_diag_clear(diag);
    rc = jet_statcsv_read_buffer("in.csv", csv, strlen(csv), JET_STATCSV_AUTO, &obs, NULL, diag);
    if (rc == 0)
        rc = jet_stats_batch_build(obs, &b, diag);
    if (rc == 0 && epsilon > 0)
        rc = jet_stats_batch_noise(b, epsilon, budget, diag);
    if (rc == 0)
        rc = jet_stats_batch_protect(b, &opt, diag);
    if (rc == 0)
        rc = jet_stats_batch_audit(b, &opt, diag);
    if (rc == 0)
        rc = jet_stats_batch_store(b, n->store, n->sk, region, 1700000000, diag);
    jet_stats_batch_free(b);
    jet_stats_obs_free(obs);
    return rc;
}

static int import_k(node *n, const char *region, const char *csv, unsigned k, jet_diag *diag) {
    return import_noise(n, region, csv, k, 0, 0, diag);
}

static int import(node *n, const char *region, const char *csv) {
    jet_diag diag;
    int rc = import_k(n, region, csv, 5, &diag);
    if (rc != 0)
        print_error("import: %s\n", diag.msg);
    return rc;
}

static jet_stats_view *view(node *n, const char *region, const char *ind, const char *period,
                            unsigned k) {
    jet_stats_filter f = {region, ind, period, 0};
    jet_stats_view *v = NULL;
    jet_diag diag;
    jet_diag_clear(&diag);
    assert_ok(jet_stats_view_open(n->store, &f, k, &v, &diag));
    return v;
}

/* The JSON rendering of a view (the releases held, or the lead's figures), for comparing two
 * nodes. Caller frees. */
static char *view_json_f(node *n, int figures) {
    jet_stats_filter f = {NULL, NULL, NULL, figures};
    jet_stats_view *v = NULL;
    assert_ok(jet_stats_view_open(n->store, &f, 5, &v, NULL));
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_ok(jet_report_json(v, out));
    fclose(out);
    jet_stats_view_free(v);
    return buf;
}

static char *view_json(node *n, const char *region) {
    jet_stats_view *v = view(n, region, NULL, NULL, 5);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_ok(jet_report_json(v, f));
    fclose(f);
    jet_stats_view_free(v);
    return buf;
}

/* Finds the row of (indicator, school level, sex) at the total of age band and area; fails
 * when there is none. */
static jet_stats_row find_row(const jet_stats_view *v, const char *ind, const char *sl,
                              const char *sex) {
    for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        if (strcmp(r.indicator, ind) == 0 && strcmp(r.code[JET_DIM_SCHOOL_LEVEL], sl) == 0 &&
            strcmp(r.code[JET_DIM_SEX], sex) == 0 && strcmp(r.code[JET_DIM_AGE_BAND], "_T") == 0 &&
            strcmp(r.code[JET_DIM_AREA], "_T") == 0)
            return r;
    }
    print_error("no row %s %s %s\n", ind, sl, sex);
    fail();
    jet_stats_row none;
    memset(&none, 0, sizeof none);
    return none;
}

static const char small_csv[] = "indicator;period;school_level;sex;value\n"
                                "ENROLLED;2024/25;ISCED2;F;120\n"
                                "ENROLLED;2024/25;ISCED2;M;131\n"
                                "ENROLLED;2024/25;ISCED3G;F;3\n"
                                "ENROLLED;2024/25;ISCED3G;M;88\n"
                                "EARLY_LEAVERS;2024/25;ISCED2;F;0\n"
                                "EARLY_LEAVERS;2024/25;ISCED2;M;7\n"
                                "EARLY_LEAVERS;2024/25;ISCED3G;F;2\n"
                                "EARLY_LEAVERS;2024/25;ISCED3G;M;9\n";

static void test_import_and_show(void **state) {
    (void)state;
    node a;
    node_open(&a);
    assert_ok(import(&a, "IT-25", small_csv));
    jet_stats_view *v = view(&a, NULL, NULL, NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 2);
    /* 2 releases of 3x3 cells, and the rate over the same 9 cells */
    assert_int_equal(jet_stats_view_rows(v), 27);
    size_t supp = 0;
    for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        assert_string_equal(r.region, "IT-25");
        assert_string_equal(r.period, "2024/25");
        assert_string_equal(r.code[JET_DIM_AGE_BAND], "_T");
        assert_string_equal(r.code[JET_DIM_AREA], "_T");
        if (r.suppressed) {
            supp++;
            continue;
        }
        if (r.def->kind == JET_INDICATOR_COUNT)
            assert_false(r.value >= 1 && r.value <= 4);
    }
    assert_true(supp >= 4); /* both small cells and at least one partner each */
    jet_stats_row t = find_row(v, "ENROLLED", "_T", "_T");
    assert_false(t.suppressed);
    assert_true(t.value == 342);
    assert_true(find_row(v, "ENROLLED", "ISCED3G", "F").suppressed);
    assert_true(find_row(v, "EARLY_LEAVERS", "ISCED3G", "F").suppressed);
    jet_stats_row rate = find_row(v, "EARLY_LEAVING_RATE", "_T", "_T");
    assert_false(rate.suppressed);
    assert_true(rate.value > 5.25 && rate.value < 5.35); /* 18 / 342 = 5.3 % */
    const jet_stats_release *rel = jet_stats_view_release(v, 0);
    assert_int_equal(rel->version, 1);
    assert_memory_equal(rel->origin, a.pk, 32);
    assert_int_equal(rel->k, 5);
    jet_stats_view_free(v);
    node_close(&a);
}

/* Every chunk in the log carries 0 for a suppressed cell: the true value never left. */
typedef struct scan_ctx {
    size_t records, bundles, chunks, suppressed, nonzero_suppressed;
} scan_ctx;

static void scan_chunk(scan_ctx *c, const uint8_t *data, size_t len) {
    Jet__StatsChunk *m = jet__stats_chunk__unpack(NULL, len, data);
    assert_non_null(m);
    c->chunks++;
    for (size_t i = 0; i < m->n_value; i++) {
        if (m->status.data[i]) {
            c->suppressed++;
            if (m->value[i] != 0)
                c->nonzero_suppressed++;
        }
    }
    jet__stats_chunk__free_unpacked(m, NULL);
}

static int scan_log(const void *k, size_t kl, const void *val, size_t vl, void *ctx) {
    scan_ctx *c = ctx;
    jet_record rec;
    (void)k;
    (void)kl;
    assert_ok(jet_record_decode(val, vl, &rec));
    if (rec.stream != JET_STREAM_STATS)
        return 0;
    c->records++;
    if (rec.kind == JET_STATS_KIND_CHUNK) {
        scan_chunk(c, rec.payload, rec.payload_len);
        return 0;
    }
    assert_int_equal(rec.kind, JET_STATS_KIND_BUNDLE);
    Jet__StatsBundle *b = jet__stats_bundle__unpack(NULL, rec.payload_len, rec.payload);
    assert_non_null(b);
    c->bundles++;
    for (size_t i = 0; i < b->n_chunk; i++)
        scan_chunk(c, b->chunk[i].data, b->chunk[i].len);
    jet__stats_bundle__free_unpacked(b, NULL);
    return 0;
}

/* (A non-NULL empty prefix: some store builds pass the prefix to memcmp even when empty.) */
static const uint8_t no_prefix[1] = {0};

static int scan_fn(jet_txn *txn, void *ctx) {
    return jet_txn_scan(txn, JET_DB_LOG, no_prefix, 0, NULL, 0, scan_log, ctx);
}

/* A digest of every key and value of every database: equal digests, unchanged store. */
static int snap_kv(const void *k, size_t kl, const void *v, size_t vl, void *ctx) {
    crypto_generichash_state *st = ctx;
    uint8_t lens[16];
    jet_put_be64(lens, kl);
    jet_put_be64(lens + 8, vl);
    crypto_generichash_update(st, lens, sizeof lens);
    crypto_generichash_update(st, k, kl);
    crypto_generichash_update(st, v, vl);
    return 0;
}

static int snap_fn(jet_txn *txn, void *ctx) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (int db = 0; db < JET_DB__COUNT; db++) {
        uint8_t sep = (uint8_t)db;
        crypto_generichash_update(&st, &sep, 1);
        int rc = jet_txn_scan(txn, (jet_db)db, no_prefix, 0, NULL, 0, snap_kv, &st);
        if (rc != 0)
            return rc;
    }
    crypto_generichash_final(&st, ctx, 32);
    return 0;
}

static void snapshot(jet_store *s, uint8_t digest[32]) {
    assert_ok(jet_store_read(s, snap_fn, digest));
}

static void test_suppressed_values_never_stored(void **state) {
    (void)state;
    node a;
    scan_ctx c = {0};
    node_open(&a);
    assert_ok(import(&a, "IT-25", small_csv));
    assert_ok(jet_store_read(a.store, scan_fn, &c));
    assert_int_equal(c.chunks, 2);
    assert_int_equal(c.records, 1); /* two small releases: one bundle */
    assert_int_equal(c.bundles, 1);
    assert_true(c.suppressed >= 4);
    assert_int_equal(c.nonzero_suppressed, 0);
    node_close(&a);
}

/* Reads the whole data file of a store. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int contains(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static void test_pupil_rows_never_stored(void **state) {
    (void)state;
    node a;
    char csv[64 * 1024], path[512];
    size_t off, len;
    node_open(&a);
    off = (size_t)snprintf(csv, sizeof csv,
                           "pupil_id,period,sex,area,enrolled,early_leavers,retained\n");
    for (int i = 0; i < 400; i++)
        off += (size_t)snprintf(csv + off, sizeof csv - off,
                                "PUPILID-%05d-XQ,2023/24,%s,%s,1,%d,%d\n", i, i % 2 ? "F" : "M",
                                i % 3 ? "SE2281" : "SE2262", i % 9 == 0, i % 17 == 0);
    assert_ok(import(&a, "SE-Y", csv));
    jet_stats_view *v = view(&a, NULL, "ENROLLED", NULL, 5);
    jet_stats_row t = find_row(v, "ENROLLED", "_T", "_T");
    assert_true(t.value == 400);
    jet_stats_view_free(v);
    node_close(&a);
    snprintf(path, sizeof path, "%s/data.mdb", a.dir);
    char *data = read_all(path, &len);
    assert_true(len > 0);
    assert_true(contains(data, len, "SE2281")); /* an area code is part of the release */
    assert_false(contains(data, len, "PUPILID"));
    assert_false(contains(data, len, "-XQ"));
    free(data);
}

static void test_supersede_by_reimport(void **state) {
    (void)state;
    node a;
    node_open(&a);
    assert_ok(import(&a, "NO-30",
                     "indicator,period,sex,value\nFOLLOW_UP,2024,F,40\n"
                     "FOLLOW_UP,2024,M,60\nNO_OCCUPATION,2024,F,25\n"
                     "NO_OCCUPATION,2024,M,39\n"));
    assert_ok(import(&a, "NO-30",
                     "indicator,period,sex,value\nNO_OCCUPATION,2024,F,5\n"
                     "NO_OCCUPATION,2024,M,5\n"));
    jet_stats_view *v = view(&a, NULL, NULL, NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 2);
    for (size_t i = 0; i < jet_stats_view_releases(v); i++) {
        const jet_stats_release *r = jet_stats_view_release(v, i);
        assert_int_equal(r->version, strcmp(r->indicator, "NO_OCCUPATION") == 0 ? 2 : 1);
    }
    jet_stats_row t = find_row(v, "NO_OCCUPATION", "_T", "_T");
    assert_true(t.value == 10);
    jet_stats_row s = find_row(v, "NO_OCCUPATION_SHARE", "_T", "_T");
    assert_false(s.suppressed);
    assert_true(s.value == 10.0); /* 10 / 100: the fall from 64 % to 10 % of Plug In 2.0 */
    jet_stats_view_free(v);
    node_close(&a);
}

/* Copies every record of a's stats log, from seq `from` to `to`, into b through ingest. */
typedef struct copy_ctx {
    node *a;
    uint64_t from, to;
    jet_store *dst;
} copy_ctx;

static uint64_t own_epoch(node *a) {
    jet_txn *txn = NULL;
    uint64_t epoch = 0;
    assert_ok(jet_txn_begin(a->store, 0, &txn));
    assert_ok(jet_log_own_epoch(txn, &epoch));
    jet_txn_abort(txn);
    return epoch;
}

typedef struct ingest_ctx {
    uint8_t *buf;
    size_t len;
} ingest_ctx;

static int ingest_fn(jet_txn *txn, void *ctx) {
    ingest_ctx *c = ctx;
    return jet_record_ingest(txn, c->buf, c->len, NULL);
}

static void copy_stream(node *a, uint32_t stream, jet_store *dst, uint64_t from, uint64_t to) {
    uint64_t epoch = own_epoch(a);
    for (uint64_t seq = from; seq <= to; seq++) {
        jet_txn *txn = NULL;
        jet_record rec;
        ingest_ctx c;
        assert_ok(jet_txn_begin(a->store, 0, &txn));
        assert_ok(jet_log_get(txn, stream, a->pk, epoch, seq, &rec));
        c.len = rec.encoded_len;
        c.buf = malloc(c.len);
        assert_non_null(c.buf);
        memcpy(c.buf, rec.encoded, c.len);
        jet_txn_abort(txn);
        assert_ok(jet_store_write(dst, ingest_fn, &c));
        free(c.buf);
    }
}

static void copy_records(node *a, jet_store *dst, uint64_t from, uint64_t to) {
    copy_stream(a, JET_STREAM_STATS, dst, from, to);
}

static uint64_t stream_seq(node *a, uint32_t stream) {
    jet_txn *txn = NULL;
    uint64_t seq = 0;
    assert_ok(jet_txn_begin(a->store, 0, &txn));
    assert_ok(jet_vv_get(txn, stream, a->pk, own_epoch(a), &seq));
    jet_txn_abort(txn);
    return seq;
}

static uint64_t stats_seq(node *a) {
    return stream_seq(a, JET_STREAM_STATS);
}

/* The lead shows exactly what the region shows. */
static void assert_same_view(node *region, node *lead) {
    char *jr = view_json(region, NULL), *jl = view_json(lead, NULL);
    assert_string_equal(jr, jl);
    free(jr);
    free(jl);
}

static void test_view_through_ingest(void **state) {
    (void)state;
    node a, lead;
    node_open(&a);
    node_open(&lead);
    /* 2,000 areas x 2 sexes = 6,003 cells with totals; two indicators = one big release of
     * one chunk plus one of 2 chunks when the areas grow to 3,000 */
    size_t cap = 512 * 1024, off = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    off += (size_t)snprintf(csv + off, cap - off, "indicator,period,area,sex,value\n");
    for (int i = 0; i < 3000; i++)
        for (int s = 0; s < 2; s++)
            off += (size_t)snprintf(csv + off, cap - off, "ENROLLED,2025,A%04d,%s,%d\n", i,
                                    s ? "F" : "M", 20 + (i * 7 + s * 3) % 50);
    for (int i = 0; i < 100; i++)
        for (int s = 0; s < 2; s++)
            off += (size_t)snprintf(csv + off, cap - off, "EARLY_LEAVERS,2025,A%04d,%s,%d\n", i,
                                    s ? "F" : "M", (i + s) % 4 == 0 ? 0 : 5 + (i % 11));
    assert_ok(import(&a, "RO-TL", csv));
    uint64_t n = stats_seq(&a);
    assert_int_equal(n, 3); /* ENROLLED: 9,003 cells = 2 chunks; EARLY_LEAVERS: 1 */

    /* the first chunk alone makes nothing current at the lead */
    copy_records(&a, lead.store, 1, 1);
    jet_stats_view *v = view(&lead, NULL, NULL, NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 0);
    jet_stats_view_free(v);
    copy_records(&a, lead.store, 2, n);
    assert_same_view(&a, &lead);
    char *jl = view_json(&lead, NULL);
    assert_non_null(strstr(jl, "\"region\": \"RO-TL\""));
    free(jl);

    /* a re-import at the region supersedes the release at the lead too */
    assert_ok(import(&a, "RO-TL",
                     "indicator,period,area,value\nEARLY_LEAVERS,2025,A0001,50\n"
                     "EARLY_LEAVERS,2025,A0002,60\n"));
    copy_records(&a, lead.store, n + 1, stats_seq(&a));
    v = view(&lead, NULL, "EARLY_LEAVERS", NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 1);
    assert_int_equal(jet_stats_view_release(v, 0)->version, 2);
    assert_int_equal(jet_stats_view_rows(v), 3);
    jet_stats_row t = find_row(v, "EARLY_LEAVERS", "_T", "_T");
    assert_true(t.value == 110);
    jet_stats_view_free(v);
    assert_same_view(&a, &lead);
    free(csv);
    node_close(&a);
    node_close(&lead);
}

/* A chunk of ENROLLED of UK-J in `period` at `version` (k 5) carrying `len` cells, without
 * dimensions; the caller sets the chunk's place in its release. */
static void spec_init(jet_stats_chunk_spec *spec, const char *period, uint64_t version,
                      int64_t *val, uint8_t *st, size_t len) {
    memset(spec, 0, sizeof *spec);
    spec->region = "UK-J";
    spec->indicator = "ENROLLED";
    spec->period = period;
    spec->version = version;
    spec->k = 5;
    spec->len = len;
    spec->value = val;
    spec->status = st;
}

/* A chunk that does not fit the release it claims (chunk 1 with no chunk 0, a chunk count of
 * 0, undecodable bytes) is refused and changes nothing. */
typedef struct append_ctx {
    const uint8_t *sk;
    const uint8_t *payload;
    size_t len;
} append_ctx;

static int append_fn(jet_txn *txn, void *ctx) {
    append_ctx *c = ctx;
    return jet_record_append(txn, c->sk, JET_STREAM_STATS, JET_STATS_KIND_CHUNK, c->payload, c->len,
                             NULL);
}

static void test_refuses_misfit_chunks(void **state) {
    (void)state;
    node a;
    uint8_t before[32], after[32];
    int64_t val[3] = {10, 20, 30};
    uint8_t st[3] = {0, 0, 0};
    const char *cats[2] = {"F", "M"};
    node_open(&a);
    assert_ok(import(&a, "UK-J", small_csv));
    snapshot(a.store, before);
    jet_stats_chunk_spec spec;
    spec_init(&spec, "2024/25", 9, val, st, 3);
    spec.chunk_index = 1;
    spec.chunk_count = 2;
    spec.ncells = 600;
    spec.first_cell = 300;
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_ok(jet_stats_chunk_encode(&spec, &p, &plen));
    append_ctx c = {a.sk, p, plen};
    assert_code(jet_store_write(a.store, append_fn, &c), JET_EDECODE);
    free(p);
    /* more chunks than a release of its size can have (a peer must not make us allocate) */
    spec.chunk_index = 0;
    spec.first_cell = 0;
    spec.chunk_count = 4000000000u;
    spec.ncells = 3;
    assert_ok(jet_stats_chunk_encode(&spec, &p, &plen));
    c.payload = p;
    c.len = plen;
    assert_code(jet_store_write(a.store, append_fn, &c), JET_EDECODE);
    free(p);
    /* chunk 0 whose dimensions do not give its cell count */
    spec.chunk_index = 0;
    spec.first_cell = 0;
    spec.ndims = 1;
    spec.dim[0] = JET_DIM_SEX;
    spec.size[0] = 2;
    spec.category[0] = cats;
    spec.ncells = 4;
    spec.chunk_count = 1;
    assert_ok(jet_stats_chunk_encode(&spec, &p, &plen));
    c.payload = p;
    c.len = plen;
    assert_code(jet_store_write(a.store, append_fn, &c), JET_EDECODE);
    free(p);
    /* garbage */
    uint8_t junk[7] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    c.payload = junk;
    c.len = sizeof junk;
    assert_code(jet_store_write(a.store, append_fn, &c), JET_EDECODE);
    snapshot(a.store, after);
    assert_memory_equal(before, after, 32);
    /* a code this build does not know is kept (a newer node may know it), not refused */
    {
        const char *newcats[2] = {"F", "X"};
        spec.category[0] = newcats;
        spec.ncells = 3;
        spec.indicator = "DROPOUT_RISK";
        spec.period = "2024-W05";
        assert_ok(jet_stats_chunk_encode(&spec, &p, &plen));
        c.payload = p;
        c.len = plen;
        assert_ok(jet_store_write(a.store, append_fn, &c));
        free(p);
        snapshot(a.store, before);
        assert_memory_not_equal(before, after, 32);
        spec.category[0] = cats;
        spec.indicator = "ENROLLED";
        spec.period = "2024/25";
    }
    /* a good single chunk of the right shape is accepted and supersedes (version 9) */
    spec.ncells = 3;
    assert_ok(jet_stats_chunk_encode(&spec, &p, &plen));
    c.payload = p;
    c.len = plen;
    assert_ok(jet_store_write(a.store, append_fn, &c));
    free(p);
    jet_stats_view *v = view(&a, NULL, "ENROLLED", NULL, 5);
    assert_int_equal(jet_stats_view_release(v, 0)->version, 9);
    assert_true(find_row(v, "ENROLLED", "_T", "_T").value == 30);
    jet_stats_view_free(v);
    node_close(&a);
}

/* Small releases share bundle records: thirty tables of twelve cells are one record, which
 * the lead takes in and reads back exactly as the region does; a re-import of one of them
 * supersedes its item at the lead. */
static void test_bundles_through_ingest(void **state) {
    (void)state;
    static const char *inds[] = {"ENROLLED", "EARLY_LEAVERS", "RETAINED", "COMPLETED"};
    node a, lead;
    node_open(&a);
    node_open(&lead);
    size_t cap = 64 * 1024, off = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    off += (size_t)snprintf(csv + off, cap - off, "indicator,period,area,sex,value\n");
    for (int i = 0; i < 4; i++)
        for (int y = 2015; y < 2023; y++)
            for (int area = 0; area < 3; area++)
                for (int sex = 0; sex < 2; sex++)
                    off += (size_t)snprintf(csv + off, cap - off, "%s,%d,A%d,%s,%d\n", inds[i], y,
                                            area, sex ? "F" : "M", 10 + (i * 31 + y + area) % 40);
    assert_ok(import(&a, "FI-19", csv));
    free(csv);
    assert_int_equal(stats_seq(&a), 1); /* 32 releases of 12 cells: one bundle */
    scan_ctx sc = {0};
    assert_ok(jet_store_read(a.store, scan_fn, &sc));
    assert_int_equal(sc.bundles, 1);
    assert_int_equal(sc.chunks, 32);

    copy_records(&a, lead.store, 1, 1);
    jet_stats_view *v = view(&lead, NULL, NULL, NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 32);
    jet_stats_view_free(v);
    assert_same_view(&a, &lead);

    /* one table again: version 2, alone in a chunk record, replaces the bundle's item */
    assert_ok(import(&a, "FI-19", "indicator,period,area,value\nRETAINED,2019,A0,70\n"
                                  "RETAINED,2019,A1,80\n"));
    assert_int_equal(stats_seq(&a), 2);
    copy_records(&a, lead.store, 2, 2);
    v = view(&lead, NULL, "RETAINED", "2019", 5);
    assert_int_equal(jet_stats_view_releases(v), 1);
    assert_int_equal(jet_stats_view_release(v, 0)->version, 2);
    assert_true(find_row(v, "RETAINED", "_T", "_T").value == 150);
    jet_stats_view_free(v);
    assert_same_view(&a, &lead);
    node_close(&a);
    node_close(&lead);
}

/* A bundle is refused whole, changing nothing, when any item would be refused alone, when an
 * item is not a whole release, when it holds no item or more than JET_STATS_BUNDLE_MAX, or when
 * its items together exceed JET_STATS_CHUNK_CELLS. */
static int append_bundle_fn(jet_txn *txn, void *ctx) {
    append_ctx *c = ctx;
    return jet_record_append(txn, c->sk, JET_STREAM_STATS, JET_STATS_KIND_BUNDLE, c->payload,
                             c->len, NULL);
}

/* Appends a bundle of `n` items (encoded chunks) and returns jet_store_write()'s result. */
static int append_bundle(node *a, uint8_t **items, size_t *lens, size_t n) {
    ProtobufCBinaryData *bin = calloc(n ? n : 1, sizeof *bin);
    assert_non_null(bin);
    for (size_t i = 0; i < n; i++) {
        bin[i].data = items[i];
        bin[i].len = lens[i];
    }
    Jet__StatsBundle m = JET__STATS_BUNDLE__INIT;
    m.n_chunk = n;
    m.chunk = bin;
    size_t len = jet__stats_bundle__get_packed_size(&m);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    jet__stats_bundle__pack(&m, buf);
    append_ctx c = {a->sk, buf, len};
    int rc = jet_store_write(a->store, append_bundle_fn, &c);
    free(buf);
    free(bin);
    return rc;
}

/* A whole release of `areas` + 1 cells (one area dimension) of ENROLLED in `period`. */
static void encode_release(const char *region, const char *period, unsigned areas, uint8_t **out,
                           size_t *len) {
    int64_t *val = calloc(areas + 1, sizeof *val);
    uint8_t *st = calloc(areas + 1, 1);
    char **names = calloc(areas, sizeof *names);
    assert_true(val != NULL && st != NULL && names != NULL);
    for (unsigned i = 0; i < areas; i++) {
        val[i] = 10;
        val[areas] += 10;
        names[i] = malloc(8);
        assert_non_null(names[i]);
        snprintf(names[i], 8, "A%05u", i);
    }
    jet_stats_chunk_spec spec;
    spec_init(&spec, period, 1, val, st, areas + 1);
    spec.region = region;
    spec.chunk_count = 1;
    spec.ndims = 1;
    spec.dim[0] = JET_DIM_AREA;
    spec.size[0] = areas;
    spec.category[0] = (const char **)names;
    spec.ncells = areas + 1;
    assert_ok(jet_stats_chunk_encode(&spec, out, len));
    for (unsigned i = 0; i < areas; i++)
        free(names[i]);
    free(names);
    free(val);
    free(st);
}

static void test_refuses_misfit_bundles(void **state) {
    (void)state;
    node a, b;
    uint8_t before[32], after[32];
    uint8_t *item[JET_STATS_BUNDLE_MAX + 1];
    size_t len[JET_STATS_BUNDLE_MAX + 1];
    node_open(&a);
    node_open(&b);
    assert_ok(import(&a, "UK-J", small_csv));
    /* SE-Y is b's: its records, taken in by a, bind the code to b there */
    assert_ok(import(&b, "SE-Y", small_csv));
    copy_records(&b, a.store, 1, stats_seq(&b));
    snapshot(a.store, before);

    /* nothing in it */
    assert_code(append_bundle(&a, item, len, 0), JET_EDECODE);
    /* a good item beside undecodable bytes */
    uint8_t junk[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    encode_release("UK-J", "2020", 2, &item[0], &len[0]);
    item[1] = junk;
    len[1] = sizeof junk;
    assert_code(append_bundle(&a, item, len, 2), JET_EDECODE);
    /* chunk 0 of a release of two chunks: a bundle holds whole releases only */
    {
        int64_t val[3] = {10, 20, 30};
        uint8_t st[3] = {0, 0, 0};
        jet_stats_chunk_spec spec;
        spec_init(&spec, "2021", 1, val, st, 3);
        spec.chunk_count = 2;
        spec.ncells = 600;
        assert_ok(jet_stats_chunk_encode(&spec, &item[1], &len[1]));
        assert_code(append_bundle(&a, item, len, 2), JET_EDECODE);
        free(item[1]);
    }
    /* an item of a region bound to another node */
    encode_release("SE-Y", "2022", 2, &item[1], &len[1]);
    assert_code(append_bundle(&a, item, len, 2), JET_EPERM);
    free(item[1]);
    free(item[0]);
    /* items that together exceed one record's cells: 3 x 3,001 > 8,192 */
    for (int i = 0; i < 3; i++)
        encode_release("UK-J", i == 0 ? "2016" : i == 1 ? "2017" : "2018", 3000, &item[i],
                       &len[i]);
    assert_code(append_bundle(&a, item, len, 3), JET_EDECODE);
    /* more items than JET_STATS_BUNDLE_MAX, each a whole release of three cells */
    uint8_t *small[JET_STATS_BUNDLE_MAX + 1];
    size_t small_len[JET_STATS_BUNDLE_MAX + 1];
    for (int i = 0; i <= JET_STATS_BUNDLE_MAX; i++)
        encode_release("UK-J", "2019", 2, &small[i], &small_len[i]);
    assert_code(append_bundle(&a, small, small_len, JET_STATS_BUNDLE_MAX + 1), JET_EDECODE);
    snapshot(a.store, after);
    assert_memory_equal(before, after, 32);

    /* within the limits both are taken */
    assert_ok(append_bundle(&a, item, len, 2));
    assert_ok(append_bundle(&a, small, small_len, JET_STATS_BUNDLE_MAX));
    for (int i = 0; i < 3; i++)
        free(item[i]);
    for (int i = 0; i <= JET_STATS_BUNDLE_MAX; i++)
        free(small[i]);
    jet_stats_view *v = view(&a, "UK-J", "ENROLLED", NULL, 5);
    assert_int_equal(jet_stats_view_releases(v), 4); /* 2016, 2017, 2019 and small_csv's */
    jet_stats_view_free(v);
    v = view(&a, "UK-J", "ENROLLED", "2019", 5);
    assert_true(find_row(v, "ENROLLED", "_T", "_T").value == 20);
    jet_stats_view_free(v);
    node_close(&a);
    node_close(&b);
}

static void test_failed_import_changes_nothing(void **state) {
    (void)state;
    node a;
    uint8_t before[32], after[32];
    jet_diag diag;
    node_open(&a);
    assert_ok(import(&a, "ES-CT", small_csv));
    snapshot(a.store, before);
    assert_code(import_k(&a, "ES-CT",
                         "indicator,period,sex,value\nENROLLED,2024,F,10\nENROLLED,2024,M,11\n"
                         "ENROLLED,2024,_T,22\n",
                         5, &diag),
                JET_EVALIDATE);
    assert_code(
        import_k(&a, "ES-CT", "indicator,period,sex,value\nENROLLED,2024,F,10\nX,2,3\n", 5, &diag),
        JET_EVALIDATE);
    assert_code(import_k(&a, "bad region!", small_csv, 5, &diag), JET_EINVAL);
    snapshot(a.store, after);
    assert_memory_equal(before, after, 32);
    node_close(&a);
}

static void test_filters(void **state) {
    (void)state;
    node lead;
    node_open(&lead);
    assert_ok(import(&lead, "SE-Y", small_csv));
    assert_ok(import(&lead, "SE-Y",
                     "indicator,period,value\nENROLLED,2023/24,400\n"
                     "EARLY_LEAVERS,2023/24,30\n"));
    assert_ok(import(&lead, "ES-CT", "indicator,period,value\nENROLLED,2024/25,900\n"));
    jet_stats_view *v = view(&lead, "ES-CT", NULL, NULL, 5);
    assert_int_equal(jet_stats_view_rows(v), 1);
    jet_stats_view_free(v);
    v = view(&lead, "SE", NULL, NULL, 5); /* a prefix of a region is not a region */
    assert_int_equal(jet_stats_view_rows(v), 0);
    jet_stats_view_free(v);
    v = view(&lead, NULL, NULL, "2023/24", 5);
    assert_int_equal(jet_stats_view_rows(v), 3); /* two counts and the rate */
    jet_stats_view_free(v);
    v = view(&lead, NULL, "EARLY_LEAVING_RATE", NULL, 5);
    for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        assert_string_equal(r.indicator, "EARLY_LEAVING_RATE");
        assert_string_equal(r.region, "SE-Y");
    }
    assert_int_equal(jet_stats_view_rows(v), 10); /* 9 cells of 2024/25 and 1 of 2023/24 */
    jet_stats_view_free(v);
    v = view(&lead, NULL, "ENROLLED", NULL, 5);
    size_t regions_es = 0;
    for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        assert_string_equal(r.indicator, "ENROLLED");
        regions_es += strcmp(r.region, "ES-CT") == 0;
    }
    assert_int_equal(regions_es, 1);
    /* order: region, then indicator, then period (2023/24 before 2024/25) */
    jet_stats_row first;
    jet_stats_view_row(v, 1, &first);
    assert_string_equal(first.region, "SE-Y");
    assert_string_equal(first.period, "2023/24");
    jet_stats_view_free(v);
    node_close(&lead);
}

static void test_rate_suppression(void **state) {
    (void)state;
    node a;
    node_open(&a);
    /* no count is small, so nothing is suppressed among the counts */
    assert_ok(import(&a, "SE-Y",
                     "indicator,period,sex,value\n"
                     "ENROLLED,2024,F,22\nENROLLED,2024,M,9\n"
                     "EARLY_LEAVERS,2024,F,20\nEARLY_LEAVERS,2024,M,0\n"));
    jet_stats_view *v = view(&a, NULL, NULL, NULL, 5);
    assert_false(find_row(v, "ENROLLED", "_T", "M").suppressed);
    assert_false(find_row(v, "EARLY_LEAVERS", "_T", "F").suppressed);
    /* F: 22 - 20 = 2 would tell that all but 2 left */
    assert_true(find_row(v, "EARLY_LEAVING_RATE", "_T", "F").suppressed);
    /* M: denominator 9 < 2k */
    assert_true(find_row(v, "EARLY_LEAVING_RATE", "_T", "M").suppressed);
    jet_stats_row t = find_row(v, "EARLY_LEAVING_RATE", "_T", "_T");
    assert_false(t.suppressed);
    assert_true(t.value > 64.45 && t.value < 64.55); /* 20 / 31 */
    jet_stats_view_free(v);
    /* a reader with a larger k (the lead's 25) suppresses what its rule does not allow */
    v = view(&a, NULL, "EARLY_LEAVING_RATE", NULL, 25);
    for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        assert_true(r.suppressed);
    }
    jet_stats_view_free(v);
    /* a suppressed numerator suppresses the rate */
    assert_ok(import(&a, "SE-Y",
                     "indicator,period,sex,value\n"
                     "EARLY_LEAVERS,2024,F,3\nEARLY_LEAVERS,2024,M,6\n"));
    v = view(&a, NULL, NULL, NULL, 5);
    assert_true(find_row(v, "EARLY_LEAVERS", "_T", "F").suppressed);
    assert_true(find_row(v, "EARLY_LEAVING_RATE", "_T", "F").suppressed);
    jet_stats_view_free(v);
    node_close(&a);
}

/* The rate of a numerator broken down by sex over a denominator broken down by school level and
 * sex takes the denominator at its school-level total. */
static void test_rate_other_breakdown(void **state) {
    (void)state;
    node a;
    node_open(&a);
    assert_ok(import(&a, "SE-Y",
                     "indicator,period,school_level,sex,value\n"
                     "ENROLLED,2024,ISCED2,F,100\nENROLLED,2024,ISCED2,M,110\n"
                     "ENROLLED,2024,ISCED3G,F,90\nENROLLED,2024,ISCED3G,M,80\n"
                     "RETAINED,2024,,F,19\nRETAINED,2024,,M,38\n"));
    jet_stats_view *v = view(&a, NULL, "RETENTION_RATE", NULL, 5);
    assert_int_equal(jet_stats_view_rows(v), 3);
    assert_true(find_row(v, "RETENTION_RATE", "_T", "F").value == 10.0);
    assert_true(find_row(v, "RETENTION_RATE", "_T", "M").value == 20.0);
    assert_true(find_row(v, "RETENTION_RATE", "_T", "_T").value == 15.0);
    jet_stats_view_free(v);
    /* categories that differ: the numerator's areas are found among the denominator's */
    assert_ok(import(&a, "SE-Y",
                     "indicator,period,area,value\n"
                     "ENROLLED,2025,X1,100\nENROLLED,2025,X2,200\nENROLLED,2025,X9,400\n"
                     "RETAINED,2025,X9,40\nRETAINED,2025,X2,50\n"));
    v = view(&a, NULL, "RETENTION_RATE", "2025", 5);
    assert_int_equal(jet_stats_view_rows(v), 3);
    for (size_t i = 0; i < 3; i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        double want = strcmp(r.code[JET_DIM_AREA], "X2") == 0   ? 25.0
                      : strcmp(r.code[JET_DIM_AREA], "X9") == 0 ? 10.0
                                                                : 90.0 / 700.0 * 100.0;
        assert_false(r.suppressed);
        assert_true(fabs(r.value - want) < 0.051);
    }
    jet_stats_view_free(v);
    node_close(&a);
}

/* The lead's figures: published as they are, received by every partner in a key space of their
 * own (a region's own view never shows them), republished only when a release changes. */
static void test_figures(void **state) {
    (void)state;
    node a, lead, b;
    size_t n = 0;
    node_open(&a);
    node_open(&lead);
    node_open(&b);
    assert_ok(import(&a, "IT-25", small_csv));
    assert_ok(import(&b, "NO-30", "indicator,period,value\nENROLLED,2024/25,900\n"));
    copy_records(&a, lead.store, 1, stats_seq(&a));
    assert_ok(import(&lead, "SE-Y", "indicator,period,value\nENROLLED,2024/25,1500\n"));
    assert_ok(jet_stats_publish_figures(lead.store, lead.sk, &n, NULL));
    assert_int_equal(n, 3);
    assert_ok(jet_stats_publish_figures(lead.store, lead.sk, &n, NULL));
    assert_int_equal(n, 0); /* nothing changed */
    char *held = view_json_f(&lead, 0), *fig = view_json_f(&lead, 1);
    assert_string_equal(held, fig);
    free(fig);
    /* B receives the figures: its own view is unchanged, the figures are the lead's table */
    char *b_before = view_json_f(&b, 0);
    copy_stream(&lead, JET_STREAM_FIGURES, b.store, 1, stream_seq(&lead, JET_STREAM_FIGURES));
    char *b_after = view_json_f(&b, 0), *b_fig = view_json_f(&b, 1);
    assert_string_equal(b_before, b_after);
    assert_null(strstr(b_after, "IT-25"));
    assert_string_equal(b_fig, held);
    free(held);
    free(b_before);
    free(b_after);
    free(b_fig);
    jet_stats_filter ff = {"IT-25", NULL, NULL, 1};
    jet_stats_view *v = NULL;
    assert_ok(jet_stats_view_open(b.store, &ff, 5, &v, NULL));
    assert_int_equal(jet_stats_view_releases(v), 2);
    assert_memory_equal(jet_stats_view_release(v, 0)->source, a.pk, 32);
    assert_memory_equal(jet_stats_view_release(v, 0)->origin, lead.pk, 32);
    jet_stats_view_free(v);
    /* A re-imports: the lead republishes that release only, B's figures follow */
    uint64_t from = stats_seq(&a) + 1;
    assert_ok(import(&a, "IT-25", "indicator,period,value\nENROLLED,2024/25,777\n"));
    copy_records(&a, lead.store, from, stats_seq(&a));
    uint64_t ffrom = stream_seq(&lead, JET_STREAM_FIGURES) + 1;
    assert_ok(jet_stats_publish_figures(lead.store, lead.sk, &n, NULL));
    assert_int_equal(n, 1);
    copy_stream(&lead, JET_STREAM_FIGURES, b.store, ffrom, stream_seq(&lead, JET_STREAM_FIGURES));
    jet_stats_filter fe = {"IT-25", "ENROLLED", NULL, 1};
    assert_ok(jet_stats_view_open(b.store, &fe, 5, &v, NULL));
    assert_int_equal(jet_stats_view_rows(v), 1);
    assert_int_equal(jet_stats_view_release(v, 0)->version, 2);
    assert_true(find_row(v, "ENROLLED", "_T", "_T").value == 777);
    jet_stats_view_free(v);
    node_close(&a);
    node_close(&lead);
    node_close(&b);
}

/* Optional noise: additive noisy releases, stored once, and a budget that refuses the release
 * that would overspend it, changing nothing. */
static void test_noise_and_budget(void **state) {
    (void)state;
    node a;
    jet_diag diag;
    uint8_t before[32], after[32];
    const char *csv = "indicator,period,sex,value\nENROLLED,2024,F,1000\nENROLLED,2024,M,1200\n";
    int differs = 0;
    node_open(&a);
    for (int i = 0; i < 4; i++) {
        assert_ok(import_noise(&a, "SE-Y", csv, 5, 0.5, 2.0, &diag));
        jet_stats_view *v = view(&a, NULL, "ENROLLED", NULL, 5);
        assert_int_equal(jet_stats_view_release(v, 0)->noise_epsilon_milli, 500);
        assert_int_equal(jet_stats_view_release(v, 0)->version, (uint64_t)i + 1);
        jet_stats_row f = find_row(v, "ENROLLED", "_T", "F"),
                      m = find_row(v, "ENROLLED", "_T", "M"),
                      t = find_row(v, "ENROLLED", "_T", "_T");
        assert_false(f.suppressed || m.suppressed || t.suppressed);
        assert_true(f.value + m.value == t.value); /* still additive */
        assert_true(fabs(f.value - 1000) < 100 && fabs(m.value - 1200) < 100);
        differs |= f.value != 1000 || m.value != 1200;
        jet_stats_view_free(v);
    }
    assert_true(differs);
    snapshot(a.store, before);
    assert_code(import_noise(&a, "SE-Y", csv, 5, 0.5, 2.0, &diag), JET_ELIMIT);
    assert_non_null(strstr(diag.msg, "privacy budget of ENROLLED 2024 is spent"));
    snapshot(a.store, after);
    assert_memory_equal(before, after, 32);
    /* another period has its own budget; an exact import is not limited */
    assert_ok(import_noise(&a, "SE-Y", "indicator,period,value\nENROLLED,2025,900\n", 5, 0.5, 2.0,
                           &diag));
    assert_ok(import(&a, "SE-Y", csv));
    jet_stats_view *v = view(&a, NULL, "ENROLLED", "2024", 5);
    assert_int_equal(jet_stats_view_release(v, 0)->noise_epsilon_milli, 0);
    assert_true(find_row(v, "ENROLLED", "_T", "_T").value == 2200);
    jet_stats_view_free(v);
    node_close(&a);
}

/* End to end over random tables (sparse, small, many zeros, one dominant cell): whatever the
 * import publishes never shows a count 1..k-1, published cells add up along every line where
 * all are published, and a published rate obeys the rate rule on published counts. */
static uint64_t prop_rng = 88172645463325252ULL;
static unsigned prop_next(unsigned n) {
    prop_rng ^= prop_rng << 13;
    prop_rng ^= prop_rng >> 7;
    prop_rng ^= prop_rng << 17;
    return (unsigned)(prop_rng % n);
}

typedef struct prop_cell {
    char key[128];
    double value;
    int supp;
} prop_cell;

static const prop_cell *prop_find(const prop_cell *c, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].key, key) == 0)
            return &c[i];
    return NULL;
}

static void test_property_random_tables(void **state) {
    (void)state;
    static const char *const sexes[] = {"F", "M"};
    static const char *const levels[] = {"ISCED1", "ISCED2", "ISCED3G", "ISCED3V"};
    const unsigned k = 5;
    size_t tables = 0, published_rates = 0, suppressed = 0;
    node a;
    node_open(&a);
    for (int iter = 0; iter < 120; iter++) {
        char csv[32 * 1024], region[16];
        size_t off = 0;
        unsigned nl = 1 + prop_next(4), na = 1 + prop_next(6), style = prop_next(4);
        snprintf(region, sizeof region, "R%03d", iter); /* one region per table pair */
        off += (size_t)snprintf(csv + off, sizeof csv - off,
                                "indicator,period,school_level,sex,area,value\n");
        for (int ind = 0; ind < 2; ind++)
            for (unsigned l = 0; l < nl; l++)
                for (unsigned x = 0; x < 2; x++)
                    for (unsigned ar = 0; ar < na; ar++) {
                        unsigned v;
                        if (style == 0)
                            v = prop_next(3) == 0 ? prop_next(6) : 0; /* very sparse */
                        else if (style == 1)
                            v = prop_next(8); /* very small */
                        else if (style == 2)
                            v = (l == 0 && x == 0 && ar == 0) ? 500 + prop_next(500) : prop_next(4);
                        else
                            v = prop_next(60);
                        if (ind == 0) /* a denominator (ENROLLED), sometimes below 2k */
                            v += prop_next(2) ? 10 + prop_next(40) : 5 + prop_next(5);
                        off +=
                            (size_t)snprintf(csv + off, sizeof csv - off, "%s,2024,%s,%s,Z%u,%u\n",
                                             ind ? "EARLY_LEAVERS" : "ENROLLED", levels[l],
                                             sexes[x], ar, ind ? v / 2 : v);
                    }
        jet_diag diag;
        int rc = import_k(&a, region, csv, k, &diag);
        if (rc == JET_EDISCLOSURE) /* no safe pattern: refused, and nothing stored */
            continue;
        assert_ok(rc);
        tables += 2;
        jet_stats_view *v = view(&a, region, NULL, NULL, k);
        size_t n = jet_stats_view_rows(v);
        prop_cell *cells = calloc(n, sizeof *cells);
        assert_non_null(cells);
        for (size_t i = 0; i < n; i++) {
            jet_stats_row r;
            jet_stats_view_row(v, i, &r);
            snprintf(cells[i].key, sizeof cells[i].key, "%s|%s|%s|%s", r.indicator,
                     r.code[JET_DIM_SCHOOL_LEVEL], r.code[JET_DIM_SEX], r.code[JET_DIM_AREA]);
            cells[i].value = r.value;
            cells[i].supp = r.suppressed;
            suppressed += (size_t)r.suppressed;
            if (r.def->kind == JET_INDICATOR_COUNT && !r.suppressed)
                assert_false(r.value >= 1 && r.value <= k - 1);
        }
        for (size_t i = 0; i < n; i++) {
            jet_stats_row r;
            jet_stats_view_row(v, i, &r);
            if (r.def->kind == JET_INDICATOR_RATE) {
                if (r.suppressed)
                    continue;
                char nk[128], dk[128];
                snprintf(nk, sizeof nk, "EARLY_LEAVERS|%s|%s|%s", r.code[0], r.code[1], r.code[3]);
                snprintf(dk, sizeof dk, "ENROLLED|%s|%s|%s", r.code[0], r.code[1], r.code[3]);
                const prop_cell *num = prop_find(cells, n, nk), *den = prop_find(cells, n, dk);
                assert_non_null(num);
                assert_non_null(den);
                assert_false(num->supp || den->supp);
                assert_true(den->value >= 2 * k);
                assert_false(num->value >= 1 && num->value <= k - 1);
                assert_false(den->value - num->value >= 1 && den->value - num->value <= k - 1);
                assert_true(fabs(r.value - round(num->value * 1000.0 / den->value) / 10.0) < 1e-9);
                published_rates++;
                continue;
            }
            /* a total whose parts along sex are all published equals their sum */
            if (strcmp(r.code[JET_DIM_SEX], "_T") == 0 && !r.suppressed) {
                double sum = 0;
                int all = 1;
                for (int x = 0; x < 2; x++) {
                    char kk[128];
                    snprintf(kk, sizeof kk, "%s|%s|%s|%s", r.indicator, r.code[0], sexes[x],
                             r.code[3]);
                    const prop_cell *p = prop_find(cells, n, kk);
                    if (p == NULL || p->supp)
                        all = 0;
                    else
                        sum += p->value;
                }
                if (all)
                    assert_true(sum == r.value);
            }
        }
        free(cells);
        jet_stats_view_free(v);
    }
    node_close(&a);
    print_message("property: %zu tables imported, %zu cells suppressed, %zu rates published\n",
                  tables, suppressed, published_rates);
    assert_true(tables >= 100);
    assert_true(published_rates > 0 && suppressed > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_and_show),
        cmocka_unit_test(test_suppressed_values_never_stored),
        cmocka_unit_test(test_pupil_rows_never_stored),
        cmocka_unit_test(test_supersede_by_reimport),
        cmocka_unit_test(test_view_through_ingest),
        cmocka_unit_test(test_refuses_misfit_chunks),
        cmocka_unit_test(test_bundles_through_ingest),
        cmocka_unit_test(test_refuses_misfit_bundles),
        cmocka_unit_test(test_failed_import_changes_nothing),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_rate_suppression),
        cmocka_unit_test(test_rate_other_breakdown),
        cmocka_unit_test(test_noise_and_budget),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_property_random_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
