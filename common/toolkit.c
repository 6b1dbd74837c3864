/* toolkit.c - placeholder view until the toolkit module lands. */
#include "views.h"

int jet_toolkit_apply(jet_txn *txn, const jet_record *rec) {
    (void)txn;
    (void)rec;
    return 0;
}
