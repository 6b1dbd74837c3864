/* record.c - signed records, the log, and the version vector.
 *
 * Invariant kept by every write here: for each log (stream, origin, epoch), the version vector
 * holds n and the log holds exactly the records 1..n. Appends and ingests keep it inside one
 * write transaction together with the views. */
#include "record.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "views.h"

static const uint8_t record_magic[4] = {'J', 'S', 'R', '1'};

static const char *const stream_names[JET_STREAM_MAX + 1] = {
    [JET_STREAM_TOOLKIT] = "toolkit",
    [JET_STREAM_STATS] = "stats",
    [JET_STREAM_FIGURES] = "figures",
};

const char *jet_stream_name(uint32_t stream) {
    if (stream == 0 || stream > JET_STREAM_MAX)
        return NULL;
    return stream_names[stream];
}

uint32_t jet_stream_parse(const char *name) {
    for (uint32_t s = 1; s <= JET_STREAM_MAX; s++)
        if (strcmp(name, stream_names[s]) == 0)
            return s;
    return 0;
}

int jet_record_decode(const uint8_t *buf, size_t len, jet_record *out) {
    if (len < JET_RECORD_OVERHEAD || memcmp(buf, record_magic, 4) != 0)
        return JET_EDECODE;
    uint32_t stream = buf[4];
    uint32_t payload_len = jet_get_be32(buf + 8);
    if (stream == 0 || stream > JET_STREAM_MAX || buf[5] != 0 ||
        payload_len > JET_RECORD_MAX_PAYLOAD || (size_t)payload_len + JET_RECORD_OVERHEAD != len)
        return JET_EDECODE;
    out->stream = stream;
    out->kind = ((uint32_t)buf[6] << 8) | buf[7];
    memcpy(out->origin, buf + 12, 32);
    out->epoch = jet_get_be64(buf + 44);
    out->seq = jet_get_be64(buf + 52);
    out->prev = buf + 60;
    out->payload = buf + JET_RECORD_HEADER;
    out->payload_len = payload_len;
    out->sig = buf + JET_RECORD_HEADER + payload_len;
    out->encoded = buf;
    out->encoded_len = len;
    if (out->seq == 0)
        return JET_EDECODE;
    return 0;
}

int jet_record_verify(const jet_record *rec) {
    size_t signed_len = rec->encoded_len - JET_RECORD_SIG;
    if (crypto_sign_ed25519_verify_detached(rec->sig, rec->encoded, signed_len, rec->origin) != 0)
        return JET_EBADSIG;
    return 0;
}

void jet_log_key(uint8_t key[JET_LOG_KEY], uint32_t stream, const uint8_t origin[32],
                 uint64_t epoch, uint64_t seq) {
    key[0] = (uint8_t)stream;
    memcpy(key + 1, origin, 32);
    jet_put_be64(key + 33, epoch);
    jet_put_be64(key + 41, seq);
}

/* A version vector value: seq (be64) || BLAKE2b-256 of the last record's encoding. */
enum { VV_VALUE = 40 };

int jet_vv_get_head(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                    uint64_t *seq, uint8_t head[32]) {
    uint8_t key[JET_LOG_KEY];
    jet_log_key(key, stream, origin, epoch, 0);
    const void *v = NULL;
    size_t vl = 0;
    int rc = jet_txn_get(txn, JET_DB_VV, key, JET_LOG_PREFIX, &v, &vl);
    if (rc == JET_ENOTFOUND) {
        *seq = 0;
        if (head != NULL)
            memset(head, 0, 32);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (vl != VV_VALUE)
        return JET_ECORRUPT;
    *seq = jet_get_be64(v);
    if (head != NULL)
        memcpy(head, (const uint8_t *)v + 8, 32);
    return 0;
}

int jet_vv_get(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
               uint64_t *seq) {
    return jet_vv_get_head(txn, stream, origin, epoch, seq, NULL);
}

static int vv_put(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                  uint64_t seq, const uint8_t head[32]) {
    uint8_t key[JET_LOG_KEY], val[VV_VALUE];
    jet_log_key(key, stream, origin, epoch, 0);
    jet_put_be64(val, seq);
    memcpy(val + 8, head, 32);
    return jet_txn_put(txn, JET_DB_VV, key, JET_LOG_PREFIX, val, VV_VALUE);
}


int jet_log_run_end(jet_txn *txn, jet_log_run *run) {
    int rc = 0;
    if (run->active && run->dirty)
        rc = vv_put(txn, run->stream, run->origin, run->epoch, run->seq, run->head);
    memset(run, 0, sizeof *run);
    return rc;
}

/* Where log (stream, origin, epoch) stands: from `run` when it holds that log, else from the
 * vector (the run then ends, writing its own log's position, and takes up this log). */
static int log_position(jet_txn *txn, jet_log_run *run, uint32_t stream,
                        const uint8_t origin[32], uint64_t epoch) {
    if (run->active && run->stream == stream && run->epoch == epoch &&
        memcmp(run->origin, origin, 32) == 0)
        return 0;
    int rc = jet_log_run_end(txn, run);
    if (rc == 0)
        rc = jet_vv_get_head(txn, stream, origin, epoch, &run->seq, run->head);
    if (rc != 0)
        return rc;
    run->active = 1;
    run->stream = stream;
    memcpy(run->origin, origin, 32);
    run->epoch = epoch;
    return 0;
}

/* Stores a checked record as the next of its log, with the views. Its log's new position goes
 * into `run`, to be written by jet_log_run_end(). */
static int log_commit_record(jet_txn *txn, jet_log_run *run, const jet_record *rec,
                             const jet_stats_prepared *view) {
    uint8_t key[JET_LOG_KEY];
    jet_log_key(key, rec->stream, rec->origin, rec->epoch, rec->seq);
    int rc = jet_txn_put(txn, JET_DB_LOG, key, JET_LOG_KEY, rec->encoded, rec->encoded_len);
    if (rc != 0)
        return rc;
    run->seq = rec->seq;
    crypto_generichash(run->head, 32, rec->encoded, rec->encoded_len, NULL, 0);
    run->dirty = 1;
    return jet_views_apply(txn, rec, view);
}

int jet_log_own_epoch(jet_txn *txn, uint64_t *epoch) {
    int rc = jet_meta_get_u64(txn, "epoch", epoch);
    if (rc == JET_ENOTFOUND)
        return jet_log_new_epoch(txn, epoch);
    return rc;
}

int jet_log_new_epoch(jet_txn *txn, uint64_t *epoch) {
    /* Epochs are microseconds since 1970, kept increasing, so a log's epochs sort by age and
     * a store restored from any backup picks one that was never used before. */
    uint64_t last = 0;
    int rc = jet_meta_get_u64(txn, "epoch", &last);
    if (rc != 0 && rc != JET_ENOTFOUND)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    *epoch = us > last ? us : last + 1;
    return jet_meta_put_u64(txn, "epoch", *epoch);
}

int jet_record_append(jet_txn *txn, const uint8_t sk[64], uint32_t stream, uint32_t kind,
                      const uint8_t *payload, size_t payload_len, uint64_t *seq_out) {
    if (payload_len > JET_RECORD_MAX_PAYLOAD)
        return JET_ETOOBIG;
    if (stream == 0 || stream > JET_STREAM_MAX || kind > 0xffff)
        return JET_EINVAL;
    const uint8_t *origin = sk + 32; /* libsodium keeps the public key in the secret key */
    uint64_t epoch;
    jet_log_run run;
    memset(&run, 0, sizeof run);
    int rc = jet_log_own_epoch(txn, &epoch);
    if (rc != 0)
        return rc;
    if ((rc = log_position(txn, &run, stream, origin, epoch)) != 0)
        return rc;
    size_t len = payload_len + JET_RECORD_OVERHEAD;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return JET_ENOMEM;
    memcpy(buf, record_magic, 4);
    buf[4] = (uint8_t)stream;
    buf[5] = 0;
    buf[6] = (uint8_t)(kind >> 8);
    buf[7] = (uint8_t)kind;
    jet_put_be32(buf + 8, (uint32_t)payload_len);
    memcpy(buf + 12, origin, 32);
    jet_put_be64(buf + 44, epoch);
    jet_put_be64(buf + 52, run.seq + 1);
    memcpy(buf + 60, run.head, 32);
    if (payload_len > 0)
        memcpy(buf + JET_RECORD_HEADER, payload, payload_len);
    crypto_sign_ed25519_detached(buf + JET_RECORD_HEADER + payload_len, NULL, buf,
                                 JET_RECORD_HEADER + payload_len, sk);
    jet_record rec;
    rc = jet_record_decode(buf, len, &rec);
    if (rc == 0)
        rc = log_commit_record(txn, &run, &rec, NULL);
    if (rc == 0)
        rc = jet_log_run_end(txn, &run);
    if (rc == 0 && seq_out != NULL)
        *seq_out = rec.seq;
    free(buf);
    return rc;
}

/* An epoch is the microseconds since 1970 at which an author's store began it: one from
 * before jetsync existed or more than a year ahead of this clock is not a real one. */
static int epoch_plausible(uint64_t epoch) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    const uint64_t year_us = 366ull * 86400 * 1000000;
    const uint64_t start_us = 1735689600ull * 1000000; /* 2025-01-01 */
    return epoch >= start_us && epoch <= now_us + year_us;
}

/* A refusal of a record whose signature the caller deferred checks the signature first, so a
 * tampered record is reported as such rather than as whatever else it breaks. */
static int refusal(const jet_record *rec, int sig_checked, int code) {
    int rc = sig_checked ? 0 : jet_record_verify(rec);
    return rc != 0 ? rc : code;
}

/* Everything jet_record_ingest() checks but the signature. */
static int ingest_checked(jet_txn *txn, jet_log_run *run, const jet_record *rec,
                          int sig_checked, const jet_stats_prepared *view) {
    if (!epoch_plausible(rec->epoch))
        return refusal(rec, sig_checked, JET_EEPOCH);
    int rc = log_position(txn, run, rec->stream, rec->origin, rec->epoch);
    if (rc != 0)
        return rc;
    if (rec->seq <= run->seq) {
        /* Already held: the same bytes are a harmless repeat; different bytes are a fork. */
        jet_record old;
        rc = jet_log_get(txn, rec->stream, rec->origin, rec->epoch, rec->seq, &old);
        if (rc != 0)
            return rc;
        if (old.encoded_len == rec->encoded_len &&
            memcmp(old.encoded, rec->encoded, rec->encoded_len) == 0)
            return JET_EDUP;
        return refusal(rec, sig_checked, JET_EFORK);
    }
    if (rec->seq != run->seq + 1)
        return refusal(rec, sig_checked, JET_ESEQ);
    if (sodium_memcmp(rec->prev, run->head, 32) != 0) /* another history of this log */
        return refusal(rec, sig_checked, JET_EFORK);
    rc = log_commit_record(txn, run, rec, view);
    return rc != 0 ? refusal(rec, sig_checked, rc) : 0;
}

int jet_record_ingest_run(jet_txn *txn, jet_log_run *run, const jet_record *rec, int linked,
                          const jet_stats_prepared *view) {
    int rc = linked ? 0 : jet_record_verify(rec);
    return rc != 0 ? rc : ingest_checked(txn, run, rec, !linked, view);
}

int jet_record_ingest_decoded(jet_txn *txn, const jet_record *rec, int linked) {
    jet_log_run run;
    memset(&run, 0, sizeof run);
    int rc = jet_record_ingest_run(txn, &run, rec, linked, NULL);
    return rc != 0 ? rc : jet_log_run_end(txn, &run);
}

int jet_record_ingest(jet_txn *txn, const uint8_t *buf, size_t len, jet_record *out) {
    jet_record rec;
    int rc = jet_record_decode(buf, len, &rec);
    if (rc == 0)
        rc = jet_record_ingest_decoded(txn, &rec, 0);
    if (rc == 0 && out != NULL)
        *out = rec;
    return rc;
}

int jet_record_links(const jet_record *rec, const jet_record *next) {
    return rec->stream == next->stream && rec->epoch == next->epoch && rec->seq + 1 == next->seq &&
           memcmp(rec->origin, next->origin, 32) == 0;
}

int jet_log_get(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                uint64_t seq, jet_record *out) {
    uint8_t key[JET_LOG_KEY];
    jet_log_key(key, stream, origin, epoch, seq);
    const void *v;
    size_t vl;
    int rc = jet_txn_get(txn, JET_DB_LOG, key, JET_LOG_KEY, &v, &vl);
    if (rc != 0)
        return rc;
    return jet_record_decode(v, vl, out) == 0 ? 0 : JET_ECORRUPT;
}

typedef struct vv_scan_ctx {
    int (*fn)(const jet_vv_entry *e, void *ctx);
    void *ctx;
} vv_scan_ctx;

static int vv_scan_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    vv_scan_ctx *c = arg;
    if (klen != JET_LOG_PREFIX || vlen != VV_VALUE)
        return JET_ECORRUPT;
    const uint8_t *k = key;
    jet_vv_entry e;
    e.stream = k[0];
    memcpy(e.origin, k + 1, 32);
    e.epoch = jet_get_be64(k + 33);
    e.seq = jet_get_be64(val);
    return c->fn(&e, c->ctx);
}

int jet_vv_scan(jet_txn *txn, uint32_t stream, int (*fn)(const jet_vv_entry *e, void *ctx),
                void *ctx) {
    vv_scan_ctx c = {fn, ctx};
    uint8_t prefix = (uint8_t)stream;
    return jet_txn_scan(txn, JET_DB_VV, &prefix, stream ? 1 : 0, NULL, 0, vv_scan_one, &c);
}

typedef struct digest_ctx {
    crypto_generichash_state st;
    uint64_t upto;
    uint64_t seen;
} digest_ctx;

static int digest_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    digest_ctx *d = arg;
    if (klen != JET_LOG_KEY)
        return JET_ECORRUPT;
    uint64_t seq = jet_get_be64((const uint8_t *)key + 41);
    if (seq > d->upto)
        return 1;
    if (seq != d->seen + 1)
        return JET_ECORRUPT;
    d->seen = seq;
    crypto_generichash_update(&d->st, val, vlen);
    return 0;
}

int jet_log_digest(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                   uint64_t upto, uint8_t digest[32]) {
    digest_ctx d;
    d.upto = upto;
    d.seen = 0;
    crypto_generichash_init(&d.st, NULL, 0, 32);
    uint8_t prefix[JET_LOG_KEY];
    jet_log_key(prefix, stream, origin, epoch, 0);
    int rc = jet_txn_scan(txn, JET_DB_LOG, prefix, JET_LOG_PREFIX, NULL, 0, digest_one, &d);
    if (rc == 0 && d.seen != upto)
        rc = JET_ECORRUPT;
    crypto_generichash_final(&d.st, digest, 32);
    return rc;
}
