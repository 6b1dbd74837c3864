/* fuzz_util.h - what the store-backed libFuzzer targets share (header only, static functions):
 * a CHECK that aborts whatever NDEBUG says, one temporary node store per fuzzer process
 * (emptied after every input so that each input runs against the same state), a fixed test
 * signing key, and a builder of signed records in the canonical encoding of record.h.
 *
 * Determinism: every input starts from the same store content (the logs, the version vector
 * and the views are emptied after each input; only JET_DB_META, which holds the epoch, stays),
 * so a crash found once replays from its file. */
#ifndef JET_FUZZ_UTIL_H
#define JET_FUZZ_UTIL_H

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "log.h"
#include "record.h"
#include "store.h"

#include "fuzz_check.h"

/* The fixed test identity: seed 0x42... */
static uint8_t fz_pk[32], fz_sk[64];
static jet_store *fz_store;
static char fz_dir[64];

static inline void fz_cleanup(void) {
    char path[128];
    if (fz_store != NULL)
        jet_store_free(fz_store);
    fz_store = NULL;
    if (fz_dir[0] == '\0')
        return;
    static const char *const files[] = {"data.mdb",       "lock.mdb", "store/data.mdb",
                                        "store/lock.mdb", "store",    "conf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fz_dir, files[i]);
        remove(path);
    }
    rmdir(fz_dir);
}

/* Creates the key and (when with_store) an empty store in a fresh directory of /dev/shm (or
 * /tmp), removed at exit. Idempotent. */
static inline void fz_init(int with_store) {
    static int done;
    if (done)
        return;
    done = 1;
    CHECK(sodium_init() >= 0);
    setenv("JETSYNC_NOSYNC", "1", 1);
    jet_log_set_level(JET_LOG_ERROR);
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    crypto_sign_seed_keypair(fz_pk, fz_sk, seed);
    if (!with_store)
        return;
    snprintf(fz_dir, sizeof fz_dir, "/dev/shm/jetsync-fuzz-XXXXXX");
    if (mkdtemp(fz_dir) == NULL) {
        snprintf(fz_dir, sizeof fz_dir, "/tmp/jetsync-fuzz-XXXXXX");
        CHECK(mkdtemp(fz_dir) != NULL);
    }
    CHECK(jet_store_create(fz_dir, &fz_store) == 0);
    atexit(fz_cleanup);
}

static inline int fz_clear_txn(jet_txn *txn, void *arg) {
    (void)arg;
    for (int db = 0; db < JET_DB__COUNT; db++) {
        if (db == JET_DB_META)
            continue;
        int rc = jet_txn_del_prefix(txn, (jet_db)db, NULL, 0);
        if (rc != 0 && rc != JET_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* Empties everything but JET_DB_META, so the next input sees the state the first one saw. */
static inline void fz_store_clear(void) {
    CHECK(jet_store_write(fz_store, fz_clear_txn, NULL) == 0);
}

/* Writes the canonical encoding of a record signed by (sk, pk) into a new buffer (free()). */
static inline uint8_t *fz_record_build(const uint8_t sk[64], const uint8_t pk[32], uint32_t stream,
                                       uint32_t kind, uint64_t epoch, uint64_t seq,
                                       const uint8_t prev[32], const uint8_t *payload, size_t plen,
                                       size_t *out_len) {
    size_t len = JET_RECORD_OVERHEAD + plen;
    uint8_t *b = malloc(len ? len : 1);
    CHECK(b != NULL);
    memcpy(b, "JSR1", 4);
    b[4] = (uint8_t)stream;
    b[5] = 0;
    b[6] = (uint8_t)(kind >> 8);
    b[7] = (uint8_t)kind;
    jet_put_be32(b + 8, (uint32_t)plen);
    memcpy(b + 12, pk, 32);
    jet_put_be64(b + 44, epoch);
    jet_put_be64(b + 52, seq);
    if (prev != NULL)
        memcpy(b + 60, prev, 32);
    else
        memset(b + 60, 0, 32);
    if (plen > 0)
        memcpy(b + JET_RECORD_HEADER, payload, plen);
    crypto_sign_ed25519_detached(b + JET_RECORD_HEADER + plen, NULL, b, JET_RECORD_HEADER + plen,
                                 sk);
    *out_len = len;
    return b;
}

/* Epochs of the test key's logs count from a plausible base (2026-09): jet_record_ingest
 * refuses epochs before 2025 or more than a year ahead, so tiny epochs would stop every input
 * before the views it is meant to reach. */
#define FZ_EPOCH_BASE 1790000000000000ull

/* Signs `payload` as the next record of the test key's log (stream, FZ_EPOCH_BASE + epoch) held
 * in `txn` and ingests it. Returns jet_record_ingest's result. */
static inline int fz_ingest_next(jet_txn *txn, uint32_t stream, uint32_t kind, uint64_t epoch,
                                 const uint8_t *payload, size_t plen) {
    epoch += FZ_EPOCH_BASE;
    uint64_t have = 0;
    uint8_t head[32];
    int rc = jet_vv_get_head(txn, stream, fz_pk, epoch, &have, head);
    if (rc != 0)
        return rc;
    size_t len;
    uint8_t *rec =
        fz_record_build(fz_sk, fz_pk, stream, kind, epoch, have + 1, head, payload, plen, &len);
    rc = jet_record_ingest(txn, rec, len, NULL);
    free(rec);
    return rc;
}

/* One fuzzed payload to ingest as the next record of the test key's log of `stream`. */
typedef struct fz_one {
    uint32_t stream;
    uint64_t epoch; /* offset from FZ_EPOCH_BASE */
    uint32_t kind;
    const uint8_t *payload;
    size_t len;
} fz_one;

/* A jet_store_write() function ingesting one fz_one. */
static inline int fz_one_txn(jet_txn *txn, void *arg) {
    fz_one *c = arg;
    return fz_ingest_next(txn, c->stream, c->kind, c->epoch, c->payload, c->len);
}

/* Splits data at the separator "\n#~\n" into at most max_parts parts; returns how many. */
static inline size_t fz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *plen,
                              size_t max_parts) {
    static const uint8_t sep[4] = {'\n', '#', '~', '\n'};
    size_t n = 0, start = 0;
    for (size_t i = 0; n + 1 < max_parts && i + 4 <= size; i++) {
        if (memcmp(data + i, sep, 4) == 0) {
            part[n] = data + start;
            plen[n++] = i - start;
            start = i + 4;
            i += 3;
        }
    }
    part[n] = data + start;
    plen[n++] = size - start;
    return n;
}

#endif
