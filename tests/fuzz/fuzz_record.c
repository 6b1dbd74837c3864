/* fuzz_record.c - libFuzzer target for receiving records: jet_record_ingest() into a node store,
 * which decodes the canonical encoding, checks the signature, the sequence and prev chain of
 * the log, stores the record, advances the version vector and applies the views (toolkit and
 * statistics payload parsers) in one write transaction.
 *
 * Input: byte 0 = mode, the rest is split at "\n#~\n" into up to 8 records, ingested one after
 * another in one transaction (so a later record meets what an earlier one stored).
 *   mode & 1: raw: each part is ingested exactly as given (a foreign signature is refused).
 *   otherwise each part is re-signed by the fixed test key before ingest, with its origin set to
 *   the test key and (mode & 2) its seq and prev set to extend the log held; so the header
 *   checks, the fork/sequence rules and the views all see signed input.
 * Checks: a refused record changes nothing (the transaction is aborted by its caller and a
 * record refused inside it leaves the version vector as it was); an accepted record is then
 * read back byte for byte, the vv is its seq and the digest can be computed; ingesting the same
 * bytes again is JET_EDUP. After the input the store is emptied again. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PARTS = 8 };

typedef struct fz_ctx {
    const uint8_t *part[MAX_PARTS];
    size_t plen[MAX_PARTS];
    size_t nparts;
    uint8_t mode;
} fz_ctx;

static int one(jet_txn *txn, uint8_t mode, const uint8_t *p, size_t plen) {
    uint8_t *buf = malloc(plen ? plen : 1);
    CHECK(buf != NULL);
    memcpy(buf, p, plen);
    size_t len = plen;
    if (!(mode & 1) && len >= JET_RECORD_OVERHEAD) {
        /* Keep the fuzzer's header but make it ours, then sign it. */
        memcpy(buf + 12, fz_pk, 32);
        uint32_t stream = buf[4];
        uint64_t epoch = jet_get_be64(buf + 44);
        if ((mode & 2) && stream >= 1 && stream <= JET_STREAM_MAX) {
            uint64_t have = 0;
            uint8_t head[32];
            if (jet_vv_get_head(txn, stream, fz_pk, epoch, &have, head) == 0) {
                jet_put_be64(buf + 52, have + 1);
                memcpy(buf + 60, head, 32);
            }
        }
        crypto_sign_ed25519_detached(buf + len - JET_RECORD_SIG, NULL, buf, len - JET_RECORD_SIG,
                                     fz_sk);
    }
    jet_record dec;
    int drc = jet_record_decode(buf, len, &dec);
    uint64_t vv_before = 0;
    if (drc == 0)
        CHECK(jet_vv_get(txn, dec.stream, dec.origin, dec.epoch, &vv_before) == 0);
    jet_record rec;
    int rc = jet_record_ingest(txn, buf, len, &rec);
    if (rc == 0) {
        CHECK(drc == 0);
        CHECK(jet_record_verify(&dec) == 0);
        uint64_t vv = 0;
        CHECK(jet_vv_get(txn, rec.stream, rec.origin, rec.epoch, &vv) == 0);
        CHECK(vv == rec.seq && vv == vv_before + 1);
        jet_record back;
        CHECK(jet_log_get(txn, rec.stream, rec.origin, rec.epoch, rec.seq, &back) == 0);
        CHECK(back.encoded_len == len && memcmp(back.encoded, buf, len) == 0);
        uint8_t digest[32];
        CHECK(jet_log_digest(txn, rec.stream, rec.origin, rec.epoch, vv, digest) == 0);
        CHECK(jet_record_ingest(txn, buf, len, NULL) == JET_EDUP);
    } else if (drc == 0) {
        /* A record refused before it is stored leaves the version vector as it was (a view's
         * refusal comes after the log write: then the caller aborts the whole transaction). */
        uint64_t vv_after = 0;
        CHECK(jet_vv_get(txn, dec.stream, dec.origin, dec.epoch, &vv_after) == 0);
        if (rc == JET_EBADSIG || rc == JET_ESEQ || rc == JET_EFORK || rc == JET_EDUP)
            CHECK(vv_after == vv_before);
    }
    free(buf);
    return rc;
}

static int run_txn(jet_txn *txn, void *arg) {
    fz_ctx *c = arg;
    for (size_t i = 0; i < c->nparts; i++) {
        int rc = one(txn, c->mode, c->part[i], c->plen[i]);
        if (rc != 0 && rc != JET_EDUP)
            return rc; /* as a session does: the first refusal aborts the batch */
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(1);
    if (size < 1)
        return 0;
    fz_ctx c;
    c.mode = data[0];
    c.nparts = fz_split(data + 1, size - 1, c.part, c.plen, MAX_PARTS);
    int rc = jet_store_write(fz_store, run_txn, &c);
    (void)rc;
    fz_store_clear();
    return 0;
}
