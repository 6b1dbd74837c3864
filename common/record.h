/* record.h - signed records and the replicated log.
 *
 * A record is one entry in the log of (stream, origin, epoch): origin is the author's Ed25519
 * public key (its node id), epoch names one life of the author's store (a store restored from an
 * old backup starts a new epoch instead of reusing sequence numbers), seq counts 1, 2, 3, ...
 * within that log. The encoding below is canonical and is exactly what is signed, stored,
 * sent and digested, so every node holds byte-identical logs.
 *
 * Encoding (all integers big-endian):
 *
 *   offset  size  field
 *   0       4     magic "JSR1"
 *   4       1     stream (jet_stream)
 *   5       1     reserved, 0
 *   6       2     kind (meaning per stream, defined by the stream's module)
 *   8       4     payload length (<= JET_RECORD_MAX_PAYLOAD)
 *   12      32    origin
 *   44      8     epoch
 *   52      8     seq
 *   60      32    prev: BLAKE2b-256 of the encoding of record seq-1 of this log (zeros for 1)
 *   92      n     payload (protobuf of the stream's module)
 *   92+n    64    Ed25519 signature by origin over bytes [0, 92+n)
 *
 * The prev hash chains each log: a node that holds records 1..n accepts n+1 only if it extends
 * exactly the record n it holds, so a log forked by an author restored from an old backup is
 * detected on the first record after the fork, not silently spliced.
 *
 * Bulk data (thousands of statistics cells) travels in few records: a signature costs ~64 us
 * to verify, so nothing is signed per cell. */
#ifndef JET_RECORD_H
#define JET_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef enum jet_stream {
    JET_STREAM_TOOLKIT = 1, /* toolkit entries: to every partner */
    JET_STREAM_STATS = 2,   /* a region's protected statistics: to the lead only */
    JET_STREAM_FIGURES = 3, /* the lead's published cross-region figures: to every partner */
} jet_stream;
#define JET_STREAM_MAX 3

enum {
    JET_RECORD_HEADER = 92,
    JET_RECORD_SIG = 64,
    JET_RECORD_OVERHEAD = JET_RECORD_HEADER + JET_RECORD_SIG,
    JET_RECORD_MAX_PAYLOAD = 512 * 1024,
    JET_LOG_KEY = 49,    /* stream|origin|epoch|seq */
    JET_LOG_PREFIX = 41, /* stream|origin|epoch: one log */
};

/* Record kind 0 is reserved in every stream: a marker with no meaning to the views. */
#define JET_RECORD_KIND_MARKER 0

typedef struct jet_record {
    uint32_t stream;
    uint32_t kind;
    uint8_t origin[32];
    uint64_t epoch;
    uint64_t seq;
    const uint8_t *payload; /* borrowed: points into the encoded bytes it was decoded from */
    size_t payload_len;
    const uint8_t *prev;    /* borrowed, 32 bytes: hash of the previous record's encoding */
    const uint8_t *sig;     /* borrowed, 64 bytes */
    const uint8_t *encoded; /* the whole encoding, borrowed */
    size_t encoded_len;
} jet_record;

/* The name of a stream ("toolkit", "stats", "figures") or NULL. */
const char *jet_stream_name(uint32_t stream);
/* Parses a stream name. Returns the stream or 0. */
uint32_t jet_stream_parse(const char *name);

/* Checks the bounds of `buf` and fills `out` with pointers into it. Does not check the
 * signature. Returns 0 or JET_EDECODE. */
int jet_record_decode(const uint8_t *buf, size_t len, jet_record *out);

/* Checks the signature of a decoded record. Returns 0 or JET_EBADSIG. */
int jet_record_verify(const jet_record *rec);

/* Builds the log key of a record (JET_LOG_KEY bytes) and the prefix of a log. */
void jet_log_key(uint8_t key[JET_LOG_KEY], uint32_t stream, const uint8_t origin[32],
                 uint64_t epoch, uint64_t seq);

/* Appends a local record: assigns the next seq of (stream, own key, own epoch) inside `txn`,
 * signs with `sk` (64-byte Ed25519 secret key), stores it, advances the version vector and
 * applies the views. `seq_out` may be NULL. Returns 0, JET_ETOOBIG, or a store error. */
int jet_record_append(jet_txn *txn, const uint8_t sk[64], uint32_t stream, uint32_t kind,
                      const uint8_t *payload, size_t payload_len, uint64_t *seq_out);

/* Ingests a record received from a peer: decodes, checks the signature and that seq is
 * exactly the next of its log, stores it, advances the version vector and applies the views.
 * Refusals say why: JET_EDECODE, JET_EEPOCH (an epoch before 2025 or more than a year ahead of
 * this clock), JET_EBADSIG, JET_ESEQ (a gap), JET_EDUP (already held,
 * identical), JET_EFORK (a different record under a held seq, or a next record whose prev hash
 * is not the hash of the record held before it), or a view's refusal (for example JET_EPERM for
 * a forged toolkit version). Every refusal but a view's happens before anything is written; a
 * view refuses after the log and vector were updated, so on any error other than JET_EDUP the
 * caller must abort the transaction (returning the error from a jet_store_write() function
 * does that). `out` may be NULL. */
int jet_record_ingest(jet_txn *txn, const uint8_t *buf, size_t len, jet_record *out);

/* One signature for a run of records. The prev hash of a record is the BLAKE2b of the whole
 * record before it, signature included, so a valid signature on the last record of a run of
 * one log authenticates every record of the run (limits.md: "signatures over a batch hash";
 * each record still carries its own signature for relays and later checks).
 *
 * jet_record_ingest_decoded() ingests a record already decoded by jet_record_decode(), as
 * jet_record_ingest() does. With `linked`, it accepts the record without checking its signature
 * (every refusal still checks it first, to report a tampered record as JET_EBADSIG): only for a
 * record that jet_record_links() to the next record the caller ingests in the same transaction,
 * whose prev check then proves this one's bytes; the caller must abort the transaction if that
 * one fails. */
int jet_record_ingest_decoded(jet_txn *txn, const jet_record *rec, int linked);

/* A write transaction's position in the log it is taking records of. A batch of records
 * mostly holds runs of one log: consecutive records of one log check against the run rather
 * than reading the version vector each, and the vector is written once per run rather than
 * once per record. Zero it (memset) before the first record; jet_log_run_end() writes the
 * vector of the log it holds and must be called before the transaction commits (on an error,
 * abort the transaction instead). A run belongs to one transaction. */
typedef struct jet_log_run {
    int active;         /* holds a log: the fields below are set */
    int dirty;          /* seq and head are ahead of the vector */
    uint32_t stream;
    uint8_t origin[32];
    uint64_t epoch;
    uint64_t seq;       /* the last record of the log held (0: none) */
    uint8_t head[32];   /* its BLAKE2b-256, which the next record's prev must equal */
} jet_log_run;

/* What a view worked out about a record ahead of the transaction (views.h). */
typedef struct jet_stats_prepared jet_stats_prepared;

/* jet_record_ingest_decoded() within a run: the vector is written by jet_log_run_end(), when
 * the next record is of another log, or when the caller is done. `view` is what
 * jet_views_prepare() returned for `rec`, or NULL. */
int jet_record_ingest_run(jet_txn *txn, jet_log_run *run, const jet_record *rec, int linked,
                          const jet_stats_prepared *view);

/* Writes the vector of the log `run` holds, if it moved, and empties `run`. */
int jet_log_run_end(jet_txn *txn, jet_log_run *run);

/* 1 if `next` is the record after `rec` in the same log (stream, origin, epoch, seq + 1). */
int jet_record_links(const jet_record *rec, const jet_record *next);

/* The node's current epoch (creating the first one when the store is new). */
int jet_log_own_epoch(jet_txn *txn, uint64_t *epoch);

/* Starts a new epoch for the node's own logs (after a restore is detected). */
int jet_log_new_epoch(jet_txn *txn, uint64_t *epoch);

/* The highest contiguous seq held of (stream, origin, epoch); 0 when none. */
int jet_vv_get(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
               uint64_t *seq);

/* The hash of the last record held of a log (zeros when none): the next record's prev. */
int jet_vv_get_head(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                    uint64_t *seq, uint8_t head[32]);

/* One entry of the version vector. */
typedef struct jet_vv_entry {
    uint32_t stream;
    uint8_t origin[32];
    uint64_t epoch;
    uint64_t seq;
} jet_vv_entry;

/* Visits every entry of the version vector (all streams when stream is 0). */
int jet_vv_scan(jet_txn *txn, uint32_t stream, int (*fn)(const jet_vv_entry *e, void *ctx),
                void *ctx);

/* BLAKE2b-256 over the encodings of records 1..upto of one log, in order. */
int jet_log_digest(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                   uint64_t upto, uint8_t digest[32]);

/* Reads one record of the log. `out` borrows from the transaction. */
int jet_log_get(jet_txn *txn, uint32_t stream, const uint8_t origin[32], uint64_t epoch,
                uint64_t seq, jet_record *out);

#endif
