/* views.c - dispatch of records to the view of their stream. */
#include "views.h"

int jet_views_apply(jet_txn *txn, const jet_record *rec, const jet_stats_prepared *prepared) {
    /* Kind 0 is reserved in every stream for markers that carry no view data (replication
     * tests and benchmarks use them); they replicate like any record. */
    if (rec->kind == JET_RECORD_KIND_MARKER)
        return 0;
    switch (rec->stream) {
    case JET_STREAM_TOOLKIT:
        return jet_toolkit_apply(txn, rec);
    case JET_STREAM_STATS:
    case JET_STREAM_FIGURES:
        return jet_stats_apply(txn, rec, prepared);
    default:
        return JET_EDECODE;
    }
}

jet_stats_prepared *jet_views_prepare(const jet_record *rec) {
    if (rec->kind == JET_RECORD_KIND_MARKER ||
        (rec->stream != JET_STREAM_STATS && rec->stream != JET_STREAM_FIGURES))
        return NULL;
    return jet_stats_prepare(rec);
}

void jet_views_prepared_free(jet_stats_prepared *prepared) {
    jet_stats_prepared_free(prepared);
}
