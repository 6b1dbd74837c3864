/* views.h - the materialised views kept beside the log.
 *
 * jet_record_append() and jet_record_ingest() call jet_views_apply() in the same write
 * transaction as the log and version vector change, so a view never disagrees with the log.
 * A view may refuse a record (a toolkit version signed by someone other than its author, a
 * statistics record that does not fit the release it claims to belong to); the refusal aborts
 * the whole transaction. */
#ifndef JET_VIEWS_H
#define JET_VIEWS_H

#include "record.h"

/* Applies `rec` to the view of its stream. `prepared` is what jet_views_prepare() returned for
 * it, or NULL (the view then does that work itself). Returns 0 or the view's refusal code. */
int jet_views_apply(jet_txn *txn, const jet_record *rec, const jet_stats_prepared *prepared);

/* The part of applying `rec` that needs no store, done ahead on any thread so that it overlaps
 * the commits before it (the commit is the one part that cannot run in parallel): a statistics
 * record's chunks decoded and checked. NULL when there is nothing to do ahead or no memory.
 * Free it with jet_views_prepared_free(). */
jet_stats_prepared *jet_views_prepare(const jet_record *rec);
void jet_views_prepared_free(jet_stats_prepared *prepared);

/* Implemented by the stream modules (toolkit.c, stats.c). */
int jet_toolkit_apply(jet_txn *txn, const jet_record *rec);
int jet_stats_apply(jet_txn *txn, const jet_record *rec, const jet_stats_prepared *prepared);
jet_stats_prepared *jet_stats_prepare(const jet_record *rec);
void jet_stats_prepared_free(jet_stats_prepared *prepared);

#endif
