/* store.c - the node store on LMDB.
 *
 * LMDB results are converted to jet codes in exactly one place: store_code(). Write
 * transactions are short and always reach one commit or abort. The map starts at
 * JET_STORE_INITIAL_MAP (or $JETSYNC_MAPSIZE bytes, for tests) and doubles when full. */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "encoding.h"
#include "log.h"

#define JET_STORE_INITIAL_MAP ((size_t)256 << 20)
#define JET_STORE_MAX_GROWS 16

static const char *const db_names[JET_DB__COUNT] = {
    [JET_DB_META] = "meta",
    [JET_DB_PEERS] = "peers",
    [JET_DB_LOG] = "log",
    [JET_DB_VV] = "vv",
    [JET_DB_TOOLKIT] = "toolkit",
    [JET_DB_TOOLKIT_HIST] = "toolkit_hist",
    [JET_DB_TOOLKIT_INDEX] = "toolkit_index",
    [JET_DB_STATS] = "stats",
    [JET_DB_STATS_CELLS] = "stats_cells",
    [JET_DB_STATS_AUX] = "stats_aux",
    [JET_DB_SYNC] = "sync",
};

struct jet_store {
    MDB_env *env;
    MDB_dbi dbi[JET_DB__COUNT];
    size_t map_size;
    /* Transactions open in this process, in any thread (the daemon reads on its loop thread
     * while its committer writes on a worker). Growing the map, or adopting one grown by
     * another process, maps it again: LMDB allows that only with no transaction open, and it
     * would leave readers' keys and values dangling. So a remap waits until none is open and
     * holds new ones back meanwhile; a thread that holds one itself gets JET_EBUSY instead of
     * waiting for itself. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int open_txns;
    int remapping;
};

/* Transactions the calling thread holds, in any store. A child process starts with none: it
 * cannot use its parent's transactions (LMDB forbids it), only stores it opens itself. */
static _Thread_local int thread_txns;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_parent_txns(void) {
    thread_txns = 0;
}

static void register_atfork(void) {
    pthread_atfork(NULL, NULL, forget_parent_txns);
}

struct jet_txn {
    jet_store *store;
    MDB_txn *txn;
    int map_full; /* a put hit MDB_MAP_FULL: the write is rerun after growing the map */
    int readonly;
};

struct jet_cursor {
    MDB_cursor *cur;
};

/* The one place where LMDB's codes become ours. */
static int store_code(int rc) {
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return JET_ENOTFOUND;
    case MDB_KEYEXIST: return JET_EEXIST;
    case MDB_MAP_FULL: return JET_ENOSPC;
    case MDB_BAD_VALSIZE: return JET_ETOOBIG;
    case MDB_MAP_RESIZED: /* only while a read transaction of ours pins the old map */
        return JET_EBUSY;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return JET_ECORRUPT;
    case ENOSPC:
    case EDQUOT: return JET_ENOSPC;
    case ENOMEM: return JET_ENOMEM;
    case ENOENT: return JET_ENOTFOUND;
    default: return JET_EIO;
    }
}

/* LMDB reports a write that a full disk cut short as EIO ("short write"), and only a write that
 * wrote nothing as ENOSPC. After a failed commit, a file system left with (almost) no free space
 * means the disk is full: say so rather than "input/output error". */
#define JET_STORE_FULL_SLACK ((uint64_t)1 << 20)

static int commit_code(jet_store *s, int rc) {
    if (rc == EIO) {
        int fd;
        struct statvfs vfs;
        if (mdb_env_get_fd(s->env, &fd) == 0 && fstatvfs(fd, &vfs) == 0) {
            /* root may write into the blocks a file system reserves for it */
            uint64_t blocks = geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
            if (blocks * vfs.f_frsize < JET_STORE_FULL_SLACK)
                return JET_ENOSPC;
        }
    }
    return store_code(rc);
}

static size_t initial_map_size(void) {
    const char *env = getenv("JETSYNC_MAPSIZE");
    if (env != NULL) {
        unsigned long long v = strtoull(env, NULL, 10);
        if (v >= 65536)
            return (size_t)v;
    }
    return JET_STORE_INITIAL_MAP;
}

static int env_open(const char *dir, MDB_env **out) {
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return store_code(rc);
    unsigned flags = MDB_NOTLS;
    const char *nosync = getenv("JETSYNC_NOSYNC");
    if (nosync != NULL && strcmp(nosync, "1") == 0)
        flags |= MDB_NOSYNC;
    if ((rc = mdb_env_set_maxdbs(env, JET_DB__COUNT + 4)) != 0 ||
        (rc = mdb_env_set_maxreaders(env, 256)) != 0 ||
        (rc = mdb_env_set_mapsize(env, initial_map_size())) != 0 ||
        (rc = mdb_env_open(env, dir, flags, 0600)) != 0) {
        mdb_env_close(env);
        return store_code(rc);
    }
    *out = env;
    return 0;
}

/* Opens (creating when `create`) every named database and checks the schema version. */
static int open_dbs(jet_store *s, int create) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return store_code(rc);
    MDB_dbi meta;
    rc = mdb_dbi_open(txn, db_names[JET_DB_META], create ? MDB_CREATE : 0, &meta);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return JET_ENOTFOUND;
    }
    if (rc != 0)
        goto fail;
    MDB_val key = {6, "schema"}, val;
    rc = mdb_get(txn, meta, &key, &val);
    if (create) {
        if (rc == 0) {
            mdb_txn_abort(txn);
            return JET_EEXIST;
        }
        uint8_t ver[8];
        jet_put_be64(ver, JET_STORE_SCHEMA_VERSION);
        val.mv_size = 8;
        val.mv_data = ver;
        if ((rc = mdb_put(txn, meta, &key, &val, 0)) != 0)
            goto fail;
    } else {
        if (rc != 0 || val.mv_size != 8) {
            mdb_txn_abort(txn);
            return JET_ECORRUPT;
        }
        if (jet_get_be64(val.mv_data) != JET_STORE_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            return JET_ESCHEMA;
        }
    }
    for (int i = 0; i < JET_DB__COUNT; i++) {
        /* Databases added by a later build of the same schema are created on first open. */
        if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i])) != 0)
            goto fail;
    }
    return store_code(mdb_txn_commit(txn));
fail:
    mdb_txn_abort(txn);
    return store_code(rc);
}

static int store_open_common(const char *dir, int create, jet_store **out) {
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int exists = stat(path, &st) == 0;
    if (create && exists)
        return JET_EEXIST;
    if (!create && !exists)
        return JET_ENOTFOUND;
    jet_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return JET_ENOMEM;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    int rc = env_open(dir, &s->env);
    if (rc == 0) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
        rc = open_dbs(s, create);
    }
    if (rc != 0) {
        jet_store_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int jet_store_create(const char *dir, jet_store **out) {
    return store_open_common(dir, 1, out);
}

int jet_store_open(const char *dir, jet_store **out) {
    return store_open_common(dir, 0, out);
}

void jet_store_free(jet_store *store) {
    if (store == NULL)
        return;
    if (store->env != NULL)
        mdb_env_close(store->env);
    pthread_cond_destroy(&store->changed);
    pthread_mutex_destroy(&store->lock);
    free(store);
}

static void guard_enter(jet_store *s) {
    pthread_mutex_lock(&s->lock);
    /* A thread already inside may nest: the remap waits for it rather than it for the remap. */
    while (s->remapping && thread_txns == 0)
        pthread_cond_wait(&s->changed, &s->lock);
    s->open_txns++;
    pthread_mutex_unlock(&s->lock);
    thread_txns++;
}

static void guard_leave(jet_store *s) {
    thread_txns--;
    pthread_mutex_lock(&s->lock);
    if (--s->open_txns == 0)
        pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

/* Maps the store again at `size` bytes (0: the size another process gave it) once no
 * transaction of this process is open. */
static int remap(jet_store *s, size_t size) {
    if (thread_txns > 0) {
        jet_log(JET_LOG_ERROR, "event=store_grow_refused reason=\"a transaction is open\"");
        return JET_EBUSY;
    }
    pthread_mutex_lock(&s->lock);
    while (s->remapping)
        pthread_cond_wait(&s->changed, &s->lock);
    s->remapping = 1;
    while (s->open_txns > 0)
        pthread_cond_wait(&s->changed, &s->lock);
    int rc = mdb_env_set_mapsize(s->env, size);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize;
    s->remapping = 0;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return store_code(rc);
}

/* Begins a transaction (counted by the guard), adopting a map grown by another process when
 * LMDB says so. Returns a jet code. */
static int txn_begin_raw(jet_store *s, unsigned flags, MDB_txn **out) {
    guard_enter(s);
    int rc = mdb_txn_begin(s->env, NULL, flags, out);
    if (rc == MDB_MAP_RESIZED) {
        guard_leave(s);
        int r = remap(s, 0);
        if (r != 0)
            return r;
        guard_enter(s);
        rc = mdb_txn_begin(s->env, NULL, flags, out);
    }
    if (rc != 0)
        guard_leave(s);
    return store_code(rc);
}

/* Ends a transaction begun by txn_begin_raw(); the commit returns LMDB's code. */
static int txn_commit_raw(jet_store *s, MDB_txn *txn) {
    int mrc = mdb_txn_commit(txn);
    guard_leave(s);
    return mrc;
}

static void txn_abort_raw(jet_store *s, MDB_txn *txn) {
    mdb_txn_abort(txn);
    guard_leave(s);
}

static int grow_map(jet_store *s) {
    size_t next = s->map_size * 2;
    int rc = remap(s, next);
    if (rc == 0)
        jet_log(JET_LOG_INFO, "event=store_grow map_bytes=%zu", s->map_size);
    return rc;
}

static int commit_failed(jet_store *s, int mrc) {
    if (mrc != 0)
        jet_log(JET_LOG_ERROR, "event=store_commit_failed error=\"%s\"", mdb_strerror(mrc));
    return commit_code(s, mrc);
}

int jet_store_write(jet_store *store, jet_txn_fn fn, void *ctx) {
    jet_store_job job = {fn, ctx, NULL, 0};
    int rc = jet_store_write_group(store, &job, 1);
    return rc != 0 ? rc : job.rc;
}

/* Whether an earlier job of the group with the same owner failed. */
static int owner_failed(const jet_store_job *jobs, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (jobs[j].rc != 0 && jobs[j].owner != NULL && jobs[j].owner == jobs[i].owner)
            return 1;
    return 0;
}

/* One pass over the jobs still to run in a fresh transaction. Returns 0 when the pass
 * committed, 1 when it must run again (a job failed and is now excluded, or the map grew), or
 * a jet code for the whole group. */
static int group_pass(jet_store *store, jet_store_job *jobs, size_t n) {
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc == 0 && owner_failed(jobs, i))
            jobs[i].rc = JET_ECANCELED;
        left += jobs[i].rc == 0;
    }
    if (left == 0)
        return 0; /* nothing left to commit */
    jet_txn t = {store, NULL, 0, 0};
    int rc = txn_begin_raw(store, 0, &t.txn);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc != 0)
            continue; /* failed or cancelled */
        rc = jobs[i].fn(&t, jobs[i].ctx);
        if (t.map_full) {
            /* A put that reached the map's end leaves the transaction unusable, even if fn
             * went on (ignoring that put's error): grow, rerun. */
            txn_abort_raw(store, t.txn);
            rc = grow_map(store);
            return rc != 0 ? rc : 1;
        }
        if (rc != 0) {
            /* The failed job may have written half its changes: drop the transaction and run
             * the others again without it. */
            jobs[i].rc = rc;
            txn_abort_raw(store, t.txn);
            return 1;
        }
    }
    int mrc = txn_commit_raw(store, t.txn);
    if (mrc == MDB_MAP_FULL) {
        rc = grow_map(store);
        return rc != 0 ? rc : 1;
    }
    return commit_failed(store, mrc);
}

int jet_store_write_group(jet_store *store, jet_store_job *jobs, size_t n) {
    int rc = 1;
    for (size_t i = 0; i < n; i++)
        jobs[i].rc = 0;
    /* Each pass either commits, excludes one more failed job or grows the map. */
    for (size_t pass = 0; rc == 1 && pass <= n + JET_STORE_MAX_GROWS; pass++)
        rc = group_pass(store, jobs, n);
    if (rc == 1)
        rc = JET_ENOSPC;
    for (size_t i = 0; rc != 0 && i < n; i++)
        if (jobs[i].rc == 0)
            jobs[i].rc = rc;
    return rc;
}

int jet_store_read(jet_store *store, jet_txn_fn fn, void *ctx) {
    jet_txn t = {store, NULL, 0, 1};
    int rc = txn_begin_raw(store, MDB_RDONLY, &t.txn);
    if (rc != 0)
        return rc;
    rc = fn(&t, ctx);
    txn_abort_raw(store, t.txn);
    return rc;
}

int jet_txn_begin(jet_store *store, int writable, jet_txn **out) {
    jet_txn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return JET_ENOMEM;
    t->store = store;
    t->readonly = !writable;
    int rc = txn_begin_raw(store, writable ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int jet_txn_commit(jet_txn *txn) {
    int mrc = txn_commit_raw(txn->store, txn->txn);
    int rc = commit_code(txn->store, mrc);
    free(txn);
    return rc;
}

void jet_txn_abort(jet_txn *txn) {
    if (txn == NULL)
        return;
    txn_abort_raw(txn->store, txn->txn);
    free(txn);
}

jet_store *jet_txn_store(jet_txn *txn) {
    return txn->store;
}

int jet_txn_get(jet_txn *txn, jet_db db, const void *key, size_t klen, const void **val,
                size_t *vlen) {
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn->txn, txn->store->dbi[db], &k, &v);
    if (rc != 0)
        return store_code(rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int jet_txn_put(jet_txn *txn, jet_db db, const void *key, size_t klen, const void *val,
                size_t vlen) {
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(txn->txn, txn->store->dbi[db], &k, &v, 0);
    if (rc == MDB_MAP_FULL)
        txn->map_full = 1;
    return store_code(rc);
}

int jet_txn_del(jet_txn *txn, jet_db db, const void *key, size_t klen) {
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn->txn, txn->store->dbi[db], &k, NULL);
    if (rc == MDB_MAP_FULL) /* copy-on-write needs pages for a delete too */
        txn->map_full = 1;
    return store_code(rc);
}

int jet_txn_scan(jet_txn *txn, jet_db db, const void *prefix, size_t plen, const void *from,
                 size_t flen, jet_scan_fn fn, void *ctx) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cur);
    if (rc != 0)
        return store_code(rc);
    MDB_val k, v;
    /* Start at the larger of `prefix` and `from`: a `from` before the prefix must not end the
     * scan at the first key outside it. */
    k.mv_size = plen;
    k.mv_data = (void *)prefix;
    if (from != NULL) {
        size_t n = flen < plen ? flen : plen;
        int cmp = n > 0 ? memcmp(from, prefix, n) : 0;
        if (cmp > 0 || (cmp == 0 && flen > plen)) {
            k.mv_size = flen;
            k.mv_data = (void *)from;
        }
    }
    rc = mdb_cursor_get(cur, &k, &v, k.mv_size > 0 ? MDB_SET_RANGE : MDB_FIRST);
    int result = 0;
    while (rc == 0) {
        /* (memcmp with a NULL prefix is undefined even for length 0) */
        if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break;
        int r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ctx);
        if (r != 0) {
            result = r < 0 ? r : 0;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        result = store_code(rc);
    mdb_cursor_close(cur);
    return result;
}

int jet_txn_del_prefix(jet_txn *txn, jet_db db, const void *prefix, size_t plen) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cur);
    if (rc != 0)
        return store_code(rc);
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && (plen == 0 || (k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0))) {
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == MDB_NOTFOUND || rc == EINVAL)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_MAP_FULL)
        txn->map_full = 1;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : store_code(rc);
}

int jet_cursor_open(jet_txn *txn, jet_db db, jet_cursor **out) {
    jet_cursor *c = malloc(sizeof *c);
    if (c == NULL)
        return JET_ENOMEM;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &c->cur);
    if (rc != 0) {
        free(c);
        return store_code(rc);
    }
    *out = c;
    return 0;
}

static int cursor_result(int rc, MDB_val *k, MDB_val *v, const void **kp, size_t *kl,
                         const void **vp, size_t *vl) {
    if (rc != 0)
        return store_code(rc);
    *kp = k->mv_data;
    *kl = k->mv_size;
    *vp = v->mv_data;
    *vl = v->mv_size;
    return 0;
}

int jet_cursor_seek(jet_cursor *c, const void *key, size_t klen, const void **k, size_t *kl,
                    const void **v, size_t *vl) {
    MDB_val mk = {klen, (void *)key}, mv;
    int rc = mdb_cursor_get(c->cur, &mk, &mv, klen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    return cursor_result(rc, &mk, &mv, k, kl, v, vl);
}

int jet_cursor_next(jet_cursor *c, const void **k, size_t *kl, const void **v, size_t *vl) {
    MDB_val mk, mv;
    int rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_NEXT);
    return cursor_result(rc, &mk, &mv, k, kl, v, vl);
}

void jet_cursor_close(jet_cursor *c) {
    if (c == NULL)
        return;
    mdb_cursor_close(c->cur);
    free(c);
}

int jet_meta_get_u64(jet_txn *txn, const char *name, uint64_t *out) {
    const void *v = NULL;
    size_t vl = 0;
    int rc = jet_txn_get(txn, JET_DB_META, name, strlen(name), &v, &vl);
    if (rc != 0)
        return rc;
    if (vl != 8)
        return JET_ECORRUPT;
    *out = jet_get_be64(v);
    return 0;
}

int jet_meta_put_u64(jet_txn *txn, const char *name, uint64_t value) {
    uint8_t buf[8];
    jet_put_be64(buf, value);
    return jet_txn_put(txn, JET_DB_META, name, strlen(name), buf, 8);
}

int jet_store_size(jet_store *store, uint64_t *bytes) {
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(store->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(store->env, &st);
    if (rc != 0)
        return store_code(rc);
    *bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    return 0;
}
