/* fuzz_stats_payload.c - libFuzzer target for statistics chunk payloads received from peers:
 * arbitrary bytes signed by a fixed test key as stats records (kind 1, or kind 2 bundles) and
 * ingested (jet_record_ingest), so that jet_stats_apply unpacks them (protobuf-c StatsChunk, or
 * StatsBundle and each of its chunks), checks that they fit the release they claim to belong
 * to, and updates the view; then the view is read as
 * `stats show` and `report` do (jet_stats_view_open: decoding every chunk of every current
 * release and deriving the rates).
 *
 * Input: byte 0 = mode, the rest split at "\n#~\n" into up to 8 payloads, each one record in
 * its own transaction (as successive batches would be).
 *   mode & 1: a refused record does not end the input; else the first refusal stops.
 *   mode & 2: the records are of kind 0 (markers: no view) for the first payload only, which
 *             checks that a marker never reaches the view.
 *   mode & 4: the other records are bundles (kind 2) rather than chunks (kind 1).
 * Checks: the view opens without error after any sequence of accepted records (a record the
 * view accepted must be readable: JET_ECORRUPT there is a finding), every row has a known
 * indicator and a non-negative count unless suppressed. The store is emptied after.
 *
 * tests/fuzz/regressions/fuzz_stats_payload/chunk-count-huge-alloc once made jet_stats_apply
 * allocate chunk_count * 16 bytes (27 GB) for one record; stats.c now bounds chunk_count. */
#include "fuzz_util.h"

#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PARTS = 8 };


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(1);
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *part[MAX_PARTS];
    size_t plen[MAX_PARTS];
    size_t n = fz_split(data + 1, size - 1, part, plen, MAX_PARTS);
    int accepted = 0;
    for (size_t i = 0; i < n; i++) {
        fz_one c = {JET_STREAM_STATS, 7,
                    (i == 0 && (mode & 2)) ? JET_RECORD_KIND_MARKER
                    : (mode & 4)           ? JET_STATS_KIND_BUNDLE
                                           : JET_STATS_KIND_CHUNK,
                    part[i], plen[i]};
        int rc = jet_store_write(fz_store, fz_one_txn, &c);
        if (rc == 0)
            accepted++;
        else if (!(mode & 1))
            break;
    }
    if (accepted > 0) {
        for (unsigned k_min = 0; k_min <= 5; k_min += 5) {
            jet_stats_view *v = NULL;
            jet_diag d;
            jet_diag_clear(&d);
            int rc = jet_stats_view_open(fz_store, NULL, k_min, &v, &d);
            if (rc != 0)
                fprintf(stderr, "the view cannot read what it accepted: %s (%s)\n", jet_errname(rc),
                        d.msg);
            CHECK(rc == 0);
            for (size_t i = 0; i < jet_stats_view_rows(v); i++) {
                jet_stats_row row;
                jet_stats_view_row(v, i, &row);
                CHECK(row.region != NULL && row.indicator != NULL && row.period != NULL);
                CHECK(row.def != NULL);
                for (int dim = 0; dim < JET_DIM__COUNT; dim++)
                    CHECK(row.code[dim] != NULL);
            }
            for (size_t i = 0; i < jet_stats_view_releases(v); i++)
                CHECK(jet_stats_view_release(v, i) != NULL);
            jet_stats_view_free(v);
        }
        fz_store_clear();
    }
    return 0;
}
