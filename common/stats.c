/* stats.c - placeholder view until the stats module lands. */
#include "views.h"

int jet_stats_apply(jet_txn *txn, const jet_record *rec) {
    (void)txn;
    (void)rec;
    return 0;
}
