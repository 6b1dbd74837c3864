/* views.c - dispatch of records to the view of their stream. */
#include "views.h"

int jet_views_apply(jet_txn *txn, const jet_record *rec) {
    /* Kind 0 is reserved in every stream for markers that carry no view data (replication
     * tests and benchmarks use them); they replicate like any record. */
    if (rec->kind == JET_RECORD_KIND_MARKER)
        return 0;
    switch (rec->stream) {
    case JET_STREAM_TOOLKIT:
        return jet_toolkit_apply(txn, rec);
    case JET_STREAM_STATS:
    case JET_STREAM_FIGURES:
        return jet_stats_apply(txn, rec);
    default:
        return JET_EDECODE;
    }
}
