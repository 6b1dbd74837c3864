/* store.h - the node store: one LMDB environment per node home.
 *
 * Named databases (jet_db) hold node metadata, peers, the record log, the version vector and
 * the materialised views of the toolkit and statistics modules. Every change to the log, the
 * version vector and the views happens inside one write transaction, run by jet_store_write().
 *
 * Durability and space: commits are synchronous (fsync) unless JETSYNC_NOSYNC=1 is set for
 * benchmarks. When the map fills, jet_store_write() grows the map and runs the transaction again
 * (so the function it runs must depend only on its context). When the disk is full the
 * transaction is aborted, JET_ENOSPC is returned and the store is as it was before.
 *
 * Several processes may open one store at once (the daemon and the command-line tool): LMDB
 * serialises writers and each process picks up a map grown by another. */
#ifndef JET_STORE_H
#define JET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The schema this build reads and writes; a store with another version is refused. */
#define JET_STORE_SCHEMA_VERSION 1

typedef enum jet_db {
    JET_DB_META,          /* name -> value: schema, own epoch, handshake counter, ... */
    JET_DB_PEERS,         /* peer name -> encoded peer (peers.c) */
    JET_DB_LOG,           /* stream(1)|origin(32)|epoch(8)|seq(8) -> encoded record */
    JET_DB_VV,            /* stream(1)|origin(32)|epoch(8) -> highest contiguous seq (be64) */
    JET_DB_TOOLKIT,       /* toolkit view: newest version of each entry (toolkit.c) */
    JET_DB_TOOLKIT_HIST,  /* toolkit view: every version (toolkit.c) */
    JET_DB_TOOLKIT_INDEX, /* toolkit search index (toolkit.c) */
    JET_DB_STATS,         /* statistics view: current release per region/indicator/period */
    JET_DB_STATS_CELLS,   /* statistics view: cells of current releases */
    JET_DB_STATS_AUX,     /* statistics: partial releases, privacy budget ledger */
    JET_DB_SYNC,          /* per-peer sync status (session.c) */
    JET_DB__COUNT
} jet_db;

typedef struct jet_store jet_store;
typedef struct jet_txn jet_txn;

/* Creates a new store in `dir` (which must exist). Returns JET_EEXIST when one is there. */
int jet_store_create(const char *dir, jet_store **out);

/* Opens the store in `dir`. Returns JET_ENOTFOUND when there is none, JET_ESCHEMA when its schema
 * version is not JET_STORE_SCHEMA_VERSION, JET_EIO/JET_ECORRUPT on LMDB failures. */
int jet_store_open(const char *dir, jet_store **out);

/* Closes the store. No transaction may be open. jet_store_free(NULL) is a no-op. */
void jet_store_free(jet_store *store);

/* The function a transaction runs. Returns 0 to commit, or a negative code to abort. */
typedef int (*jet_txn_fn)(jet_txn *txn, void *ctx);

/* Runs `fn` in a write transaction and commits it. Returns fn's error (after aborting),
 * JET_ENOSPC when the disk is full, JET_EBUSY when the map must grow (or adopt another
 * process's larger map) while this process holds a read transaction, or 0. On a full map the
 * map is grown and `fn` runs again. jet_store_read() and jet_txn_begin() may also return
 * JET_EBUSY for the same reason. */
int jet_store_write(jet_store *store, jet_txn_fn fn, void *ctx);

/* Runs `fn` in a read-only transaction. Returns fn's result. */
int jet_store_read(jet_store *store, jet_txn_fn fn, void *ctx);

/* One job of a group commit. `owner` (may be NULL) ties jobs together: after a job fails, the
 * later jobs of the same owner in the group are not run (rc JET_ECANCELED). */
typedef struct jet_store_job {
    jet_txn_fn fn;
    void *ctx;
    const void *owner;
    int rc; /* out: the job's result */
} jet_store_job;

/* Runs `n` jobs in order in one write transaction with one durable commit, so a group costs
 * one fsync. A job that fails is rolled back alone: the transaction is dropped and the other
 * jobs run again without it (so, as for jet_store_write, each fn must depend only on its
 * context and on the store). Returns 0 when the transaction committed (each job's own result
 * is in its rc), else the commit's error, which is then also the rc of every job that had
 * succeeded. Safe to call from a worker thread while other threads read. */
int jet_store_write_group(jet_store *store, jet_store_job *jobs, size_t n);

/* Explicit transactions, for readers that stream (a sync session sending the log). A read
 * transaction must end with jet_txn_abort(). A write transaction begun here does not get the
 * map-growth retry; prefer jet_store_write(). */
int jet_txn_begin(jet_store *store, int writable, jet_txn **out);
int jet_txn_commit(jet_txn *txn);
void jet_txn_abort(jet_txn *txn);

/* The store a transaction belongs to. */
jet_store *jet_txn_store(jet_txn *txn);

/* Gets a value. `*val` points into the map and is valid until the transaction ends.
 * Returns 0 or JET_ENOTFOUND. */
int jet_txn_get(jet_txn *txn, jet_db db, const void *key, size_t klen, const void **val,
                size_t *vlen);

/* Puts a value (overwriting). Returns 0, or JET_ENOSPC/JET_ETOOBIG/JET_EIO. */
int jet_txn_put(jet_txn *txn, jet_db db, const void *key, size_t klen, const void *val,
                size_t vlen);

/* Deletes a key. Returns 0 or JET_ENOTFOUND. */
int jet_txn_del(jet_txn *txn, jet_db db, const void *key, size_t klen);

/* Called for each key/value; return 0 to go on, >0 to stop (the scan returns 0), <0 to fail. */
typedef int (*jet_scan_fn)(const void *key, size_t klen, const void *val, size_t vlen, void *ctx);

/* Visits, in key order, every key that starts with `prefix` (plen may be 0 for all) and is
 * >= `from` (NULL to start at the prefix). Returns 0 or the first negative result of `fn`. */
int jet_txn_scan(jet_txn *txn, jet_db db, const void *prefix, size_t plen, const void *from,
                 size_t flen, jet_scan_fn fn, void *ctx);

/* Deletes every key that starts with `prefix`. */
int jet_txn_del_prefix(jet_txn *txn, jet_db db, const void *prefix, size_t plen);

/* A cursor for streaming reads; it never outlives its transaction. */
typedef struct jet_cursor jet_cursor;
int jet_cursor_open(jet_txn *txn, jet_db db, jet_cursor **out);
/* Positions at the first key >= key. Returns 0 or JET_ENOTFOUND at the end. */
int jet_cursor_seek(jet_cursor *c, const void *key, size_t klen, const void **k, size_t *kl,
                    const void **v, size_t *vl);
/* Moves to the next key. Returns 0 or JET_ENOTFOUND at the end. */
int jet_cursor_next(jet_cursor *c, const void **k, size_t *kl, const void **v, size_t *vl);
void jet_cursor_close(jet_cursor *c);

/* Convenience accessors for JET_DB_META. */
int jet_meta_get_u64(jet_txn *txn, const char *name, uint64_t *out);
int jet_meta_put_u64(jet_txn *txn, const char *name, uint64_t value);

/* Bytes used by the data file, for `status`. */
int jet_store_size(jet_store *store, uint64_t *bytes);

#endif
