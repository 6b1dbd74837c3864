/* test_store.c - the LMDB node store: create/open/reopen, schema check, get/put/del, scans and
 * cursors, prefix deletion, aborted writes, map growth (in one process and across processes)
 * and a full disk (a small tmpfs, and an ext4 loop image when the machine allows it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "encoding.h"
#include "store.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct put_ctx {
    jet_db db;
    const char *const *keys; /* NULL-terminated; the value of each key is "v:" + key */
    int fail_with;           /* returned after the puts, to test aborts */
} put_ctx;

static int put_txn(jet_txn *txn, void *arg) {
    put_ctx *p = arg;
    for (size_t i = 0; p->keys[i] != NULL; i++) {
        char val[128];
        snprintf(val, sizeof val, "v:%s", p->keys[i]);
        int rc = jet_txn_put(txn, p->db, p->keys[i], strlen(p->keys[i]), val, strlen(val));
        if (rc != 0)
            return rc;
    }
    return p->fail_with;
}

static void put_keys(jet_store *s, jet_db db, const char *const *keys) {
    put_ctx p = {db, keys, 0};
    assert_ok(jet_store_write(s, put_txn, &p));
}

typedef struct get_ctx {
    jet_db db;
    const char *key;
    char val[256];
    int rc;
} get_ctx;

static int get_txn(jet_txn *txn, void *arg) {
    get_ctx *g = arg;
    const void *v;
    size_t vl;
    g->val[0] = '\0';
    g->rc = jet_txn_get(txn, g->db, g->key, strlen(g->key), &v, &vl);
    if (g->rc == 0) {
        assert_true(vl < sizeof g->val);
        memcpy(g->val, v, vl);
        g->val[vl] = '\0';
    }
    return 0;
}

/* Returns the code of a get, and the value (NUL-terminated) in `val` when found. */
static int get_key(jet_store *s, jet_db db, const char *key, char val[256]) {
    get_ctx g;
    memset(&g, 0, sizeof g);
    g.db = db;
    g.key = key;
    assert_ok(jet_store_read(s, get_txn, &g));
    if (val != NULL)
        memcpy(val, g.val, sizeof g.val);
    return g.rc;
}

static void assert_value(jet_store *s, jet_db db, const char *key) {
    char val[256], want[256];
    assert_code(get_key(s, db, key, val), 0);
    snprintf(want, sizeof want, "v:%s", key);
    assert_string_equal(val, want);
}

/* Collects scanned keys into one string, "k1,k2,...". */
typedef struct collect_ctx {
    char out[4096];
    int count;
    int stop_after; /* return 1 after this many (0 = never) */
    int fail_after; /* return JET_EIO after this many (0 = never) */
} collect_ctx;

static int collect_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    collect_ctx *c = arg;
    char want[256];
    snprintf(want, sizeof want, "v:%.*s", (int)klen, (const char *)key);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(val, want, vlen);
    size_t n = strlen(c->out);
    snprintf(c->out + n, sizeof c->out - n, "%s%.*s", c->count ? "," : "", (int)klen,
             (const char *)key);
    c->count++;
    if (c->stop_after && c->count == c->stop_after)
        return 1;
    if (c->fail_after && c->count == c->fail_after)
        return JET_EIO;
    return 0;
}

typedef struct scan_ctx {
    jet_db db;
    const char *prefix;
    const char *from;
    collect_ctx col;
    int rc;
} scan_ctx;

static int scan_txn(jet_txn *txn, void *arg) {
    scan_ctx *s = arg;
    s->rc = jet_txn_scan(txn, s->db, s->prefix, s->prefix ? strlen(s->prefix) : 0, s->from,
                         s->from ? strlen(s->from) : 0, collect_one, &s->col);
    return 0;
}

/* Scans and returns the keys seen as "k1,k2,..."; *rc gets the scan's result. */
static const char *scan_keys(jet_store *s, jet_db db, const char *prefix, const char *from,
                             int stop_after, int fail_after, int *rc) {
    static scan_ctx sc;
    memset(&sc, 0, sizeof sc);
    sc.db = db;
    sc.prefix = prefix;
    sc.from = from;
    sc.col.stop_after = stop_after;
    sc.col.fail_after = fail_after;
    assert_ok(jet_store_read(s, scan_txn, &sc));
    if (rc != NULL)
        *rc = sc.rc;
    else
        assert_code(sc.rc, 0);
    return sc.col.out;
}

/* ---- create, open, schema ---------------------------------------------------------------- */

static void test_create_open_reopen(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    char missing[512];
    snprintf(missing, sizeof missing, "%s/does-not-exist", dir);
    assert_code(jet_store_open(missing, &s), JET_ENOTFOUND);
    assert_code(jet_store_open(dir, &s), JET_ENOTFOUND); /* an empty directory */

    assert_ok(jet_store_create(dir, &s));
    static const char *const keys[] = {"alpha", "beta", NULL};
    put_keys(s, JET_DB_META, keys);
    put_keys(s, JET_DB_PEERS, keys);
    jet_store_free(s);
    s = NULL;

    jet_store *again = NULL;
    assert_code(jet_store_create(dir, &again), JET_EEXIST);
    assert_null(again);

    for (int round = 0; round < 3; round++) {
        assert_ok(jet_store_open(dir, &s));
        assert_value(s, JET_DB_META, "alpha");
        assert_value(s, JET_DB_PEERS, "beta");
        assert_code(get_key(s, JET_DB_LOG, "alpha", NULL), JET_ENOTFOUND);
        uint64_t bytes = 0;
        assert_ok(jet_store_size(s, &bytes));
        assert_true(bytes > 0);
        jet_store_free(s);
        s = NULL;
    }
    jet_store_free(NULL); /* a no-op */
}

typedef struct meta_ctx {
    const char *name;
    const void *val;
    size_t len;
} meta_ctx;

static int put_meta_raw(jet_txn *txn, void *arg) {
    meta_ctx *m = arg;
    return jet_txn_put(txn, JET_DB_META, m->name, strlen(m->name), m->val, m->len);
}

/* Writes meta "schema" with LMDB directly, as another program (or a later jetsync) would. */
static void lmdb_put_schema(const char *dir, const void *val, size_t len) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "schema"}, v = {len, (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_schema_version(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    uint64_t v = 0;
    /* The schema is readable through the meta accessors too. */
    jet_txn *txn = NULL;
    assert_ok(jet_txn_begin(s, 0, &txn));
    assert_ok(jet_meta_get_u64(txn, "schema", &v));
    jet_txn_abort(txn);
    assert_int_equal(v, JET_STORE_SCHEMA_VERSION);

    /* A later schema written through the store API. */
    uint8_t ver[8];
    jet_put_be64(ver, JET_STORE_SCHEMA_VERSION + 1);
    meta_ctx m = {"schema", ver, 8};
    assert_ok(jet_store_write(s, put_meta_raw, &m));
    jet_store_free(s);
    s = NULL;
    assert_code(jet_store_open(dir, &s), JET_ESCHEMA);
    assert_null(s);

    /* An older (0) and a far later schema written with LMDB directly. */
    jet_put_be64(ver, 0);
    lmdb_put_schema(dir, ver, 8);
    assert_code(jet_store_open(dir, &s), JET_ESCHEMA);
    jet_put_be64(ver, 0x0100000000000001ull);
    lmdb_put_schema(dir, ver, 8);
    assert_code(jet_store_open(dir, &s), JET_ESCHEMA);

    /* A schema value of the wrong size is corruption, not a version. */
    lmdb_put_schema(dir, "\x01", 1);
    assert_code(jet_store_open(dir, &s), JET_ECORRUPT);

    /* Back to our version: the store opens again (the refusal was about the version). */
    jet_put_be64(ver, JET_STORE_SCHEMA_VERSION);
    lmdb_put_schema(dir, ver, 8);
    assert_ok(jet_store_open(dir, &s));
    jet_store_free(s);
}

/* ---- get, put, del, meta --------------------------------------------------------------------- */

typedef struct del_ctx {
    jet_db db;
    const char *key;
    int rc;
} del_ctx;

static int del_txn(jet_txn *txn, void *arg) {
    del_ctx *d = arg;
    d->rc = jet_txn_del(txn, d->db, d->key, strlen(d->key));
    return 0;
}

static int meta_u64_txn(jet_txn *txn, void *arg) {
    uint64_t *v = arg;
    int rc = jet_meta_put_u64(txn, "counter", 0x0102030405060708ull);
    if (rc == 0)
        rc = jet_meta_get_u64(txn, "counter", v);
    return rc;
}

static int meta_bad_txn(jet_txn *txn, void *arg) {
    uint64_t *v = arg;
    int rc = jet_txn_put(txn, JET_DB_META, "short", 5, "abc", 3);
    if (rc != 0)
        return rc;
    assert_code(jet_meta_get_u64(txn, "short", v), JET_ECORRUPT);
    assert_code(jet_meta_get_u64(txn, "absent", v), JET_ENOTFOUND);
    return 0;
}

static void test_put_get_del(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    static const char *const a[] = {"k1", "k2", "k3", NULL};
    put_keys(s, JET_DB_TOOLKIT, a);
    /* Databases are separate: the same key elsewhere is absent. */
    assert_code(get_key(s, JET_DB_STATS, "k1", NULL), JET_ENOTFOUND);
    assert_value(s, JET_DB_TOOLKIT, "k2");

    del_ctx d = {JET_DB_TOOLKIT, "k2", 0};
    assert_ok(jet_store_write(s, del_txn, &d));
    assert_code(d.rc, 0);
    assert_code(get_key(s, JET_DB_TOOLKIT, "k2", NULL), JET_ENOTFOUND);
    assert_value(s, JET_DB_TOOLKIT, "k1");
    assert_value(s, JET_DB_TOOLKIT, "k3");
    assert_ok(jet_store_write(s, del_txn, &d));
    assert_code(d.rc, JET_ENOTFOUND); /* deleting twice */

    static const char *const again[] = {"k1", NULL};
    put_keys(s, JET_DB_TOOLKIT, again); /* overwriting keeps one key */
    assert_string_equal(scan_keys(s, JET_DB_TOOLKIT, NULL, NULL, 0, 0, NULL), "k1,k3");

    uint64_t v = 0;
    assert_ok(jet_store_write(s, meta_u64_txn, &v));
    assert_int_equal(v, 0x0102030405060708ull);
    assert_ok(jet_store_write(s, meta_bad_txn, &v));

    /* Read-only explicit transaction: sees committed data; write one commits. */
    jet_txn *txn = NULL;
    assert_ok(jet_txn_begin(s, 1, &txn));
    assert_ptr_equal(jet_txn_store(txn), s);
    assert_ok(jet_txn_put(txn, JET_DB_SYNC, "x", 1, "v:x", 3));
    assert_ok(jet_txn_commit(txn));
    assert_value(s, JET_DB_SYNC, "x");
    assert_ok(jet_txn_begin(s, 1, &txn));
    assert_ok(jet_txn_put(txn, JET_DB_SYNC, "y", 1, "v:y", 3));
    jet_txn_abort(txn); /* an aborted explicit write leaves nothing */
    assert_code(get_key(s, JET_DB_SYNC, "y", NULL), JET_ENOTFOUND);
    jet_txn_abort(NULL);
    jet_store_free(s);
}

/* ---- scans, cursors, prefix deletion ------------------------------------------------------- */

static void test_scan(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    static const char *const keys[] = {"a", "ab", "abc",  "abd",      "ac",
                                       "b", "ba", "\xff", "\xff\xff", NULL};
    put_keys(s, JET_DB_STATS, keys);
    int rc;
    assert_string_equal(scan_keys(s, JET_DB_STATS, NULL, NULL, 0, 0, NULL),
                        "a,ab,abc,abd,ac,b,ba,\xff,\xff\xff");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "ab", NULL, 0, 0, NULL), "ab,abc,abd");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "a", NULL, 0, 0, NULL), "a,ab,abc,abd,ac");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "b", NULL, 0, 0, NULL), "b,ba");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "\xff", NULL, 0, 0, NULL), "\xff,\xff\xff");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "abx", NULL, 0, 0, NULL), "");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "zz", NULL, 0, 0, NULL), "");
    /* `from` inside the prefix; from a key that is absent; from past the prefix. */
    assert_string_equal(scan_keys(s, JET_DB_STATS, "ab", "abc", 0, 0, NULL), "abc,abd");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "a", "abcc", 0, 0, NULL), "abd,ac");
    assert_string_equal(scan_keys(s, JET_DB_STATS, "a", "b", 0, 0, NULL), "");
    assert_string_equal(scan_keys(s, JET_DB_STATS, NULL, "ac", 0, 0, NULL),
                        "ac,b,ba,\xff,\xff\xff");
    /* `from` before the prefix: the contract is "starts with prefix and >= from". */
    assert_string_equal(scan_keys(s, JET_DB_STATS, "b", "a", 0, 0, NULL), "b,ba");
    /* Stopping early (>0) returns 0; a negative result is returned as is. */
    assert_string_equal(scan_keys(s, JET_DB_STATS, "a", NULL, 2, 0, &rc), "a,ab");
    assert_code(rc, 0);
    assert_string_equal(scan_keys(s, JET_DB_STATS, "a", NULL, 0, 3, &rc), "a,ab,abc");
    assert_code(rc, JET_EIO);
    jet_store_free(s);
}

typedef struct cursor_ctx {
    char seen[512];
    int rc_end, rc_past;
} cursor_ctx;

static int cursor_txn(jet_txn *txn, void *arg) {
    cursor_ctx *c = arg;
    jet_cursor *cur = NULL;
    const void *k, *v;
    size_t kl, vl;
    int rc = jet_cursor_open(txn, JET_DB_STATS, &cur);
    if (rc != 0)
        return rc;
    /* Seek to an absent key: lands on the next one. */
    rc = jet_cursor_seek(cur, "abb", 3, &k, &kl, &v, &vl);
    while (rc == 0) {
        size_t n = strlen(c->seen);
        snprintf(c->seen + n, sizeof c->seen - n, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl,
                 (const char *)v);
        rc = jet_cursor_next(cur, &k, &kl, &v, &vl);
    }
    c->rc_end = rc;
    c->rc_past = jet_cursor_seek(cur, "zzz", 3, &k, &kl, &v, &vl);
    /* Seek with an empty key: the first key. */
    rc = jet_cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl);
    if (rc == 0 && !(kl == 1 && memcmp(k, "a", 1) == 0))
        rc = JET_EINVAL;
    jet_cursor_close(cur);
    jet_cursor_close(NULL);
    return rc;
}

static void test_cursor(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    static const char *const keys[] = {"a", "ab", "abc", "abd", "ac", NULL};
    put_keys(s, JET_DB_STATS, keys);
    cursor_ctx c;
    memset(&c, 0, sizeof c);
    assert_ok(jet_store_read(s, cursor_txn, &c));
    assert_string_equal(c.seen, "abc=v:abc;abd=v:abd;ac=v:ac;");
    assert_code(c.rc_end, JET_ENOTFOUND);
    assert_code(c.rc_past, JET_ENOTFOUND);
    jet_store_free(s);
}

/* Many keys in three prefixes, so that a prefix spans many pages and deletion rebalances. */
enum { DP_KEYS = 4000 };

typedef struct dp_ctx {
    const char *del_prefix; /* NULL: fill */
    size_t plen;
} dp_ctx;

static int dp_txn(jet_txn *txn, void *arg) {
    dp_ctx *d = arg;
    if (d->del_prefix != NULL)
        return jet_txn_del_prefix(txn, JET_DB_STATS_AUX, d->del_prefix, d->plen);
    static const char pfx[3] = {'p', 'q', 'r'};
    for (int p = 0; p < 3; p++) {
        for (int i = 0; i < DP_KEYS; i++) {
            char key[32], val[64];
            snprintf(key, sizeof key, "%c%05d", pfx[p], i);
            snprintf(val, sizeof val, "v:%s", key);
            int rc = jet_txn_put(txn, JET_DB_STATS_AUX, key, strlen(key), val, strlen(val));
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

typedef struct count_prefix_ctx {
    char prefix;
    int n;
    int total;
} count_prefix_ctx;

static int count_prefix_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    count_prefix_ctx *c = arg;
    char want[64];
    snprintf(want, sizeof want, "v:%.*s", (int)klen, (const char *)key);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(val, want, vlen);
    c->total++;
    if (((const char *)key)[0] == c->prefix)
        c->n++;
    return 0;
}

static int count_prefix_txn(jet_txn *txn, void *arg) {
    return jet_txn_scan(txn, JET_DB_STATS_AUX, NULL, 0, NULL, 0, count_prefix_one, arg);
}

static void count_prefix(jet_store *s, char prefix, int *n, int *total) {
    count_prefix_ctx c = {prefix, 0, 0};
    assert_ok(jet_store_read(s, count_prefix_txn, &c));
    *n = c.n;
    *total = c.total;
}

static void test_del_prefix(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    dp_ctx fill = {NULL, 0};
    assert_ok(jet_store_write(s, dp_txn, &fill));
    int n, total;
    count_prefix(s, 'q', &n, &total);
    assert_int_equal(n, DP_KEYS);
    assert_int_equal(total, 3 * DP_KEYS);

    /* An absent prefix deletes nothing. */
    dp_ctx none = {"x", 1};
    assert_ok(jet_store_write(s, dp_txn, &none));
    count_prefix(s, 'q', &n, &total);
    assert_int_equal(total, 3 * DP_KEYS);

    /* The middle prefix goes; the neighbours stay whole. */
    dp_ctx mid = {"q", 1};
    assert_ok(jet_store_write(s, dp_txn, &mid));
    count_prefix(s, 'q', &n, &total);
    assert_int_equal(n, 0);
    assert_int_equal(total, 2 * DP_KEYS);
    count_prefix(s, 'p', &n, &total);
    assert_int_equal(n, DP_KEYS);
    count_prefix(s, 'r', &n, &total);
    assert_int_equal(n, DP_KEYS);

    /* A longer prefix: p01000..p01999 go. */
    dp_ctx part = {"p01", 3};
    assert_ok(jet_store_write(s, dp_txn, &part));
    count_prefix(s, 'p', &n, &total);
    assert_int_equal(n, DP_KEYS - 1000);
    assert_code(get_key(s, JET_DB_STATS_AUX, "p01000", NULL), JET_ENOTFOUND);
    assert_code(get_key(s, JET_DB_STATS_AUX, "p01999", NULL), JET_ENOTFOUND);
    assert_value(s, JET_DB_STATS_AUX, "p00999");
    assert_value(s, JET_DB_STATS_AUX, "p02000");

    /* The last prefix of the database, then everything (plen 0). */
    dp_ctx last = {"r", 1};
    assert_ok(jet_store_write(s, dp_txn, &last));
    count_prefix(s, 'r', &n, &total);
    assert_int_equal(n, 0);
    assert_int_equal(total, DP_KEYS - 1000);
    dp_ctx all = {"", 0};
    assert_ok(jet_store_write(s, dp_txn, &all));
    count_prefix(s, 'p', &n, &total);
    assert_int_equal(total, 0);
    jet_store_free(s);

    /* And the deletions were durable. */
    assert_ok(jet_store_open(dir, &s));
    count_prefix(s, 'p', &n, &total);
    assert_int_equal(total, 0);
    jet_store_free(s);
}

/* ---- aborted writes ---------------------------------------------------------------------- */

static void test_write_abort(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    static const char *const before[] = {"keep", NULL};
    put_keys(s, JET_DB_LOG, before);
    uint8_t snap1[32], snap2[32];
    jt_store_snapshot(s, snap1);

    static const char *const keys[] = {"x1", "x2", "keep", "x3", NULL};
    put_ctx p = {JET_DB_LOG, keys, JET_EINVAL};
    assert_code(jet_store_write(s, put_txn, &p), JET_EINVAL);
    p.fail_with = JET_EFORK;
    p.db = JET_DB_VV;
    assert_code(jet_store_write(s, put_txn, &p), JET_EFORK);
    jt_store_snapshot(s, snap2);
    assert_memory_equal(snap1, snap2, 32);
    assert_code(get_key(s, JET_DB_LOG, "x1", NULL), JET_ENOTFOUND);
    jet_store_free(s);

    assert_ok(jet_store_open(dir, &s));
    jt_store_snapshot(s, snap2);
    assert_memory_equal(snap1, snap2, 32);
    assert_value(s, JET_DB_LOG, "keep");
    /* The snapshot does notice a change (so the comparisons above can fail). */
    p.fail_with = 0;
    assert_ok(jet_store_write(s, put_txn, &p));
    jt_store_snapshot(s, snap2);
    assert_memory_not_equal(snap1, snap2, 32);
    jet_store_free(s);
}

/* ---- map growth ----------------------------------------------------------------------------- */

enum { GROW_VAL = 4096, GROW_PER_TXN = 64 };

static void grow_value(uint32_t id, uint8_t *out) {
    uint32_t x = id * 2654435761u + 12345u;
    for (int i = 0; i < GROW_VAL; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

typedef struct grow_ctx {
    uint32_t first, count;
    int runs;
    int ignore_errors; /* go on after a failed put and return 0, as a careless caller might */
} grow_ctx;

static int grow_txn(jet_txn *txn, void *arg) {
    grow_ctx *g = arg;
    g->runs++;
    uint8_t *val = malloc(GROW_VAL);
    if (val == NULL)
        return JET_ENOMEM;
    int rc = 0;
    for (uint32_t id = g->first; id < g->first + g->count && rc == 0; id++) {
        uint8_t key[4];
        jet_put_be32(key, id);
        grow_value(id, val);
        rc = jet_txn_put(txn, JET_DB_STATS_CELLS, key, 4, val, GROW_VAL);
        if (g->ignore_errors)
            rc = 0;
    }
    free(val);
    return rc;
}

typedef struct verify_ctx {
    uint32_t expect; /* next id expected */
    int bad;
} verify_ctx;

static int verify_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    verify_ctx *v = arg;
    uint8_t want[GROW_VAL];
    if (klen != 4 || vlen != GROW_VAL || jet_get_be32(key) != v->expect) {
        v->bad++;
        return 1;
    }
    grow_value(v->expect, want);
    if (memcmp(val, want, GROW_VAL) != 0)
        v->bad++;
    v->expect++;
    return 0;
}

static int verify_txn(jet_txn *txn, void *arg) {
    return jet_txn_scan(txn, JET_DB_STATS_CELLS, NULL, 0, NULL, 0, verify_one, arg);
}

/* Checks that the store holds exactly the values 0..n-1, intact. */
static void verify_values(jet_store *s, uint32_t n) {
    verify_ctx v = {0, 0};
    assert_ok(jet_store_read(s, verify_txn, &v));
    assert_int_equal(v.bad, 0);
    assert_int_equal(v.expect, n);
}

static void test_map_growth(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    setenv("JETSYNC_MAPSIZE", "65536", 1);
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    /* 32 transactions of 256 KiB: 8 MiB through a 64 KiB initial map. */
    int runs = 0;
    uint32_t n = 0;
    for (int t = 0; t < 32; t++) {
        grow_ctx g = {n, GROW_PER_TXN, 0, 0};
        assert_ok(jet_store_write(s, grow_txn, &g));
        runs += g.runs;
        n += GROW_PER_TXN;
    }
    assert_true(runs > 32); /* some transaction was rerun after the map grew */
    /* One transaction larger than the map now is (several doublings in one write). */
    grow_ctx big = {n, 1024, 0, 0}; /* 4 MiB */
    assert_ok(jet_store_write(s, grow_txn, &big));
    n += 1024;
    verify_values(s, n);
    /* A function that ignores the failed put and returns 0 still gets the growth and rerun
     * (the transaction cannot commit once a put hit the map's end). */
    grow_ctx careless = {n, 1024, 0, 1};
    assert_ok(jet_store_write(s, grow_txn, &careless));
    assert_true(careless.runs > 1);
    n += 1024;
    verify_values(s, n);
    uint64_t bytes = 0;
    assert_ok(jet_store_size(s, &bytes));
    assert_true(bytes >= (uint64_t)n * GROW_VAL);
    jet_store_free(s);

    /* Reopened (still with the small initial map): everything is there. */
    assert_ok(jet_store_open(dir, &s));
    verify_values(s, n);
    grow_ctx more = {n, GROW_PER_TXN, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &more));
    n += GROW_PER_TXN;
    verify_values(s, n);
    jet_store_free(s);
    unsetenv("JETSYNC_MAPSIZE");
}

/* A map grown by another process is picked up by a store that was opened before. */
static void test_map_growth_other_process(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    setenv("JETSYNC_MAPSIZE", "65536", 1);
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    grow_ctx first = {0, 4, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &first));
    /* A read transaction open in the parent while the child grows the map. */
    jet_txn *r = NULL;
    assert_ok(jet_txn_begin(s, 0, &r));
    uint8_t key[4], want[GROW_VAL];
    const void *v = NULL;
    size_t vl = 0;
    jet_put_be32(key, 3);
    assert_ok(jet_txn_get(r, JET_DB_STATS_CELLS, key, 4, &v, &vl));

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child opens its own handle and grows the map to several MiB. */
        jet_store *c = NULL;
        int rc = jet_store_open(dir, &c);
        for (uint32_t id = 4; rc == 0 && id < 4 + 1024; id += GROW_PER_TXN) {
            grow_ctx g = {id, GROW_PER_TXN, 0, 0};
            rc = jet_store_write(c, grow_txn, &g);
        }
        jet_store_free(c);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* While the parent's reader pins the old map, the parent does not remap it. */
    grow_ctx blocked = {4 + 1024, 1, 0, 0};
    assert_code(jet_store_write(s, grow_txn, &blocked), JET_EBUSY);
    grow_value(3, want);
    assert_int_equal(vl, GROW_VAL);
    assert_memory_equal(v, want, GROW_VAL);
    jet_txn_abort(r);

    /* The parent's handle still has its 64 KiB map: reading and writing must adopt the new
     * size instead of failing. */
    verify_values(s, 4 + 1024);
    grow_ctx after = {4 + 1024, GROW_PER_TXN, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &after));
    verify_values(s, 4 + 1024 + GROW_PER_TXN);
    jet_store_free(s);
    unsetenv("JETSYNC_MAPSIZE");
}

/* Growing the map moves it: never while a read transaction of this process holds pointers into
 * it. Such a write is refused (JET_EBUSY) and the reader's values stay readable. */
static void test_map_growth_with_reader(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    setenv("JETSYNC_MAPSIZE", "1048576", 1);
    jet_store *s = NULL;
    assert_ok(jet_store_create(dir, &s));
    grow_ctx first = {0, 2, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &first));

    jet_txn *r = NULL;
    assert_ok(jet_txn_begin(s, 0, &r));
    uint8_t key[4], want[GROW_VAL];
    const void *v = NULL;
    size_t vl = 0;
    jet_put_be32(key, 1);
    assert_ok(jet_txn_get(r, JET_DB_STATS_CELLS, key, 4, &v, &vl));
    grow_ctx big = {2, 1024, 0, 0}; /* 4 MiB: needs a larger map */
    assert_code(jet_store_write(s, grow_txn, &big), JET_EBUSY);
    grow_value(1, want);
    assert_int_equal(vl, GROW_VAL);
    assert_memory_equal(v, want, GROW_VAL); /* still mapped */
    /* A write that fits goes through with the reader open. */
    grow_ctx small = {2, 1, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &small));
    jet_txn_abort(r);
    /* With the reader gone the big write grows the map. */
    grow_ctx rest = {3, 1023, 0, 0};
    assert_ok(jet_store_write(s, grow_txn, &rest));
    verify_values(s, 1026);
    jet_store_free(s);
    unsetenv("JETSYNC_MAPSIZE");
}

/* ---- a full disk --------------------------------------------------------------------------- */

enum { FULL_PER_TXN = 50, FULL_VAL = 1000 };

typedef struct full_ctx {
    uint32_t txn_no;
} full_ctx;

static void full_value(uint32_t txn_no, uint32_t i, uint8_t out[FULL_VAL]) {
    for (uint32_t j = 0; j < FULL_VAL; j++)
        out[j] = (uint8_t)(txn_no * 31 + i * 7 + j);
}

static int full_txn(jet_txn *txn, void *arg) {
    full_ctx *f = arg;
    for (uint32_t i = 0; i < FULL_PER_TXN; i++) {
        uint8_t key[8], val[FULL_VAL];
        jet_put_be32(key, f->txn_no);
        jet_put_be32(key + 4, i);
        full_value(f->txn_no, i, val);
        int rc = jet_txn_put(txn, JET_DB_LOG, key, 8, val, FULL_VAL);
        if (rc != 0)
            return rc;
    }
    return jet_meta_put_u64(txn, "last_txn", f->txn_no);
}

typedef struct full_verify {
    uint32_t committed; /* transactions 0..committed-1 must be there, nothing else */
    uint32_t seen;
    int bad;
} full_verify;

static int full_verify_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    full_verify *v = arg;
    uint8_t want[FULL_VAL];
    if (klen != 8 || vlen != FULL_VAL) {
        v->bad++;
        return 0;
    }
    uint32_t t = jet_get_be32(key), i = jet_get_be32((const uint8_t *)key + 4);
    if (t >= v->committed || i >= FULL_PER_TXN || t * FULL_PER_TXN + i != v->seen) {
        v->bad++;
        return 0;
    }
    full_value(t, i, want);
    if (memcmp(val, want, FULL_VAL) != 0)
        v->bad++;
    v->seen++;
    return 0;
}

static int full_verify_txn(jet_txn *txn, void *arg) {
    full_verify *v = arg;
    int rc = jet_txn_scan(txn, JET_DB_LOG, NULL, 0, NULL, 0, full_verify_one, v);
    uint64_t last = 0;
    if (rc == 0)
        rc = jet_meta_get_u64(txn, "last_txn", &last);
    if (rc == 0 && last + 1 != v->committed)
        v->bad++;
    return rc;
}

static void full_check(jet_store *s, uint32_t committed) {
    full_verify v = {committed, 0, 0};
    assert_ok(jet_store_read(s, full_verify_txn, &v));
    assert_int_equal(v.bad, 0);
    assert_int_equal(v.seen, committed * FULL_PER_TXN);
}

/* Fills a store in `mnt` (a small file system) until a write fails; checks that the failure is
 * JET_ENOSPC and that the store then holds every committed transaction and nothing of the
 * failed one, on the same handle and after reopening; then frees space (a ballast file) and
 * checks the store takes writes again. */
static void fill_until_full(const char *mnt, size_t ballast_bytes) {
    char store_dir[512], ballast[512];
    jt_subdir(mnt, "store", store_dir, sizeof store_dir);
    snprintf(ballast, sizeof ballast, "%s/ballast", mnt);
    uint8_t *junk = calloc(1, ballast_bytes);
    assert_non_null(junk);
    jt_write_file(ballast, junk, ballast_bytes);
    free(junk);

    jet_store *s = NULL;
    assert_ok(jet_store_create(store_dir, &s));
    uint32_t committed = 0;
    int rc = 0;
    for (; committed < 100000; committed++) {
        full_ctx f = {committed};
        rc = jet_store_write(s, full_txn, &f);
        if (rc != 0)
            break;
    }
    print_message("    disk full after %u committed transactions (%u KB of values): %s\n",
                  committed, committed * FULL_PER_TXN * FULL_VAL / 1000, jet_errname(rc));
    assert_code(rc, JET_ENOSPC);
    assert_true(committed > 0);
    full_check(s, committed); /* the same handle sees exactly the committed state */
    /* Another attempt on the full disk fails the same way and changes nothing. */
    full_ctx again = {committed};
    assert_code(jet_store_write(s, full_txn, &again), JET_ENOSPC);
    full_check(s, committed);
    jet_store_free(s);
    s = NULL;

    assert_ok(jet_store_open(store_dir, &s));
    full_check(s, committed);

    /* Space freed: the store takes writes again. */
    assert_int_equal(unlink(ballast), 0);
    full_ctx next = {committed};
    assert_ok(jet_store_write(s, full_txn, &next));
    full_check(s, committed + 1);
    jet_store_free(s);
    assert_ok(jet_store_open(store_dir, &s));
    full_check(s, committed + 1);
    jet_store_free(s);
}

static void test_disk_full_tmpfs(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    char why[512];
    if (jt_mount_tmpfs(dir, "2m", why, sizeof why) != 0) {
        print_message("    SKIPPED disk full on tmpfs: %s\n", why);
        skip();
    }
    fill_until_full(dir, 256 * 1024);
    assert_int_equal(jt_umount(dir), 0);
}

/* The same on ext4 (the file system of the target machines), in a loop image. Optional: skipped
 * when mkfs.ext4 or loop devices are not available. */
static void test_disk_full_ext4(void **state) {
    (void)state;
    if (geteuid() != 0) {
        print_message("    SKIPPED disk full on ext4: not running as root\n");
        skip();
    }
    const char *dir = jt_tempdir();
    char img[512], mnt[512], cmd[4096];
    snprintf(img, sizeof img, "%s/ext4.img", dir);
    jt_subdir(dir, "mnt", mnt, sizeof mnt);
    snprintf(cmd, sizeof cmd,
             "truncate -s 16M '%s' && mkfs.ext4 -q -F -O ^has_journal '%s' >/dev/null 2>&1 && "
             "mount -o loop '%s' '%s' 2>/dev/null",
             img, img, img, mnt);
    if (system(cmd) != 0) {
        print_message("    SKIPPED disk full on ext4: cannot make and mount a loop image\n");
        skip();
    }
    jt_register_mount(mnt);
    fill_until_full(mnt, 1024 * 1024);
    assert_int_equal(jt_umount(mnt), 0);
}

/* ---- group commits --------------------------------------------------------------------------- */

/* One transaction for several jobs: a failing job is rolled back alone, the later jobs of its
 * owner are not run, the others commit. */
static void test_write_group(void **state) {
    (void)state;
    jet_store *s = NULL;
    assert_ok(jet_store_create(jt_tempdir(), &s));
    static const char *const a_keys[] = {"a1", "a2", NULL}, *const b_keys[] = {"b1", NULL},
                             *const c_keys[] = {"c1", NULL}, *const d_keys[] = {"d1", NULL};
    put_ctx a = {JET_DB_META, a_keys, 0}, b = {JET_DB_META, b_keys, JET_EINVAL},
            c = {JET_DB_META, c_keys, 0}, d = {JET_DB_META, d_keys, 0};
    int x, y; /* owners */
    jet_store_job jobs[4] = {
        {put_txn, &a, &x, 99}, {put_txn, &b, &y, 99}, {put_txn, &c, &y, 99}, {put_txn, &d, &x, 99}};
    assert_ok(jet_store_write_group(s, jobs, 4));
    assert_ok(jobs[0].rc);
    assert_code(jobs[1].rc, JET_EINVAL);
    assert_code(jobs[2].rc, JET_ECANCELED);
    assert_ok(jobs[3].rc);
    char val[256];
    assert_ok(get_key(s, JET_DB_META, "a1", val));
    assert_ok(get_key(s, JET_DB_META, "a2", val));
    assert_ok(get_key(s, JET_DB_META, "d1", val));
    assert_string_equal(val, "v:d1");
    assert_code(get_key(s, JET_DB_META, "b1", val), JET_ENOTFOUND); /* rolled back */
    assert_code(get_key(s, JET_DB_META, "c1", val), JET_ENOTFOUND); /* not run */

    /* A group where every job fails commits nothing and says so in each job. */
    static const char *const e_keys[] = {"e1", NULL};
    put_ctx e = {JET_DB_META, e_keys, JET_EPROTO};
    jet_store_job bad[2] = {{put_txn, &e, NULL, 0}, {put_txn, &e, NULL, 0}};
    assert_ok(jet_store_write_group(s, bad, 2));
    assert_code(bad[0].rc, JET_EPROTO);
    assert_code(bad[1].rc, JET_EPROTO);
    assert_code(get_key(s, JET_DB_META, "e1", val), JET_ENOTFOUND);
    jet_store_free(s);
}

/* A group larger than the map grows it and commits every job once. */
static void test_write_group_grows(void **state) {
    (void)state;
    setenv("JETSYNC_MAPSIZE", "1048576", 1);
    jet_store *s = NULL;
    assert_ok(jet_store_create(jt_tempdir(), &s));
    grow_ctx g[4];
    jet_store_job jobs[4];
    for (uint32_t i = 0; i < 4; i++) {
        g[i] = (grow_ctx){i * 300, 300, 0, 0}; /* 1.2 MiB each */
        jobs[i] = (jet_store_job){grow_txn, &g[i], NULL, 0};
    }
    assert_ok(jet_store_write_group(s, jobs, 4));
    for (int i = 0; i < 4; i++) {
        assert_ok(jobs[i].rc);
        assert_true(g[i].runs >= 2); /* ran again after the map grew */
    }
    verify_values(s, 1200);
    jet_store_free(s);
    unsetenv("JETSYNC_MAPSIZE");
}

/* The daemon reads on its loop thread while its committer writes on a worker: a write that must
 * grow the map waits for another thread's reader to finish (no JET_EBUSY, no dangling map). */
typedef struct reader_thread {
    jet_store *s;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int holding;
    atomic_int released;
    int intact;
} reader_thread;

static void *hold_reader(void *arg) {
    reader_thread *r = arg;
    jet_txn *t = NULL;
    if (jet_txn_begin(r->s, 0, &t) != 0)
        return NULL;
    uint8_t key[4], want[GROW_VAL];
    const void *v = NULL;
    size_t vl = 0;
    jet_put_be32(key, 1);
    int rc = jet_txn_get(t, JET_DB_STATS_CELLS, key, 4, &v, &vl);
    pthread_mutex_lock(&r->m);
    r->holding = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->m);
    usleep(200000); /* the writer needs the map to grow meanwhile */
    grow_value(1, want);
    r->intact = rc == 0 && vl == GROW_VAL && memcmp(v, want, GROW_VAL) == 0;
    atomic_store(&r->released, 1);
    jet_txn_abort(t);
    return NULL;
}

static void test_remap_waits_for_other_thread(void **state) {
    (void)state;
    setenv("JETSYNC_MAPSIZE", "1048576", 1);
    reader_thread r;
    memset(&r, 0, sizeof r);
    assert_ok(jet_store_create(jt_tempdir(), &r.s));
    grow_ctx first = {0, 2, 0, 0};
    assert_ok(jet_store_write(r.s, grow_txn, &first));
    pthread_mutex_init(&r.m, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hold_reader, &r), 0);
    pthread_mutex_lock(&r.m);
    while (!r.holding)
        pthread_cond_wait(&r.cv, &r.m);
    pthread_mutex_unlock(&r.m);
    grow_ctx big = {2, 1024, 0, 0}; /* 4 MiB: the map must grow */
    assert_ok(jet_store_write(r.s, grow_txn, &big));
    /* The remap happened only after the other thread let go of its snapshot. */
    assert_int_equal(atomic_load(&r.released), 1);
    pthread_join(th, NULL);
    assert_true(r.intact);
    verify_values(r.s, 1026);
    jet_store_free(r.s);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.m);
    unsetenv("JETSYNC_MAPSIZE");
}

static int unset_mapsize(void **state) {
    (void)state;
    unsetenv("JETSYNC_MAPSIZE");
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_open_reopen),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_del_prefix),
        cmocka_unit_test(test_write_abort),
        cmocka_unit_test_teardown(test_map_growth, unset_mapsize),
        cmocka_unit_test_teardown(test_map_growth_other_process, unset_mapsize),
        cmocka_unit_test_teardown(test_map_growth_with_reader, unset_mapsize),
        cmocka_unit_test(test_write_group),
        cmocka_unit_test_teardown(test_write_group_grows, unset_mapsize),
        cmocka_unit_test_teardown(test_remap_waits_for_other_thread, unset_mapsize),
        cmocka_unit_test(test_disk_full_tmpfs),
        cmocka_unit_test(test_disk_full_ext4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
