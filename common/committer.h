/* committer.h - durable store writes off the event loop, grouped into one commit.
 *
 * A durable LMDB commit waits for the disk (an fsync, 0.1 ms on a quiet SSD, seconds on a
 * saturated one). On the loop thread that wait would stall every other connection, so the loop
 * submits its writes here instead: a worker thread (libuv's pool) runs every job submitted so
 * far in one write transaction with one commit (jet_store_write_group), and the jobs that came
 * in meanwhile form the next group. Under load many sessions' batches share one fsync; when
 * idle, a job starts at once.
 *
 * Ordering: jobs commit in submission order, and their `done` callbacks run on the loop thread
 * in that order, after the group is durable. A job that fails is rolled back alone; the later
 * jobs of the same owner are then not run (rc JET_ECANCELED).
 *
 * Ownership: the committer borrows the loop and the store. A job's `ctx` belongs to the job
 * until its `done(ctx, rc)` runs, exactly once (0 committed, else why not), and `done` takes it
 * back (typically frees it). The job's fn runs on a worker thread: it may use only its ctx and
 * the transaction, never loop-thread state. */
#ifndef JET_COMMITTER_H
#define JET_COMMITTER_H

#include <stdint.h>
#include <uv.h>

#include "store.h"

typedef struct jet_committer jet_committer;

typedef void (*jet_commit_done_fn)(void *ctx, int rc);

/* The part of a job that needs no store (a statistics record's chunks decoded and checked):
 * run on a worker thread of its own, so that it overlaps the commit of the groups before it
 * instead of lengthening it (the commit is the one thing that cannot run in parallel). */
typedef void (*jet_prepare_fn)(void *ctx);

/* Jobs per commit. Larger groups save fsyncs but hold acknowledgements back and make LMDB's
 * dirty-page list long; 64 measured best of 16/64/256 in benchmark 3 (300 regions at once). */
enum { JET_COMMITTER_MAX_GROUP = 64 };

/* Preparing runs ahead of the commits by at most this much `weight` (the bytes a prepare holds
 * in memory, as its caller counts them), on this many workers at once, each taking at most
 * this many jobs at a time. One preparer beside the committing worker keeps both cores of a
 * small machine busy (benchmark 3: the prepare and the commit each run about half of the
 * time left once every region's data has arrived); more would only compete with them. */
enum {
    JET_COMMITTER_PREPARE_AHEAD = 16 * 1024 * 1024,
    JET_COMMITTER_PREPARERS = 1,
    JET_COMMITTER_PREPARE_RUN = 16,
};

/* Creates a committer for `store` on `loop`. */
int jet_committer_new(uv_loop_t *loop, jet_store *store, jet_committer **out);

/* Queues `fn(txn, ctx)`; `done(ctx, rc)` runs later on the loop thread. `owner` (may be NULL)
 * groups jobs for failure and jet_committer_cancel(). Returns 0, or JET_ENOMEM / JET_ECLOSED
 * (then `done` does not run and ctx stays the caller's). */
int jet_committer_submit(jet_committer *c, const void *owner, jet_txn_fn fn, void *ctx,
                         jet_commit_done_fn done);

/* As jet_committer_submit(), with `prepare(ctx)` run first on a worker thread; the job joins a
 * group only once prepared. Jobs are prepared one run at a time, in submission order, and the
 * weight of the jobs prepared but not yet committed stays within JET_COMMITTER_PREPARE_AHEAD
 * (one job is always allowed, whatever its weight), so memory held by prepared results is
 * bounded. Prepares may run in parallel with each other and finish in any order; commits stay
 * in submission order. `prepare` may use only ctx; `fn` then sees what it left there. */
int jet_committer_submit_prepared(jet_committer *c, const void *owner, jet_prepare_fn prepare,
                                  size_t weight, jet_txn_fn fn, void *ctx,
                                  jet_commit_done_fn done);

/* Drops the queued jobs of `owner` that have not started (their `done` runs at once with
 * JET_ECANCELED). Jobs already on the worker finish normally. A job whose prepare is running
 * is dropped when that ends: its `done(ctx, JET_ECANCELED)` runs then, after this returns. */
void jet_committer_cancel(jet_committer *c, const void *owner);

/* Jobs submitted whose group has not finished running its callbacks (a job cancelled while
 * preparing counts until its prepare has ended). */
size_t jet_committer_pending(const jet_committer *c);

typedef struct jet_committer_stats {
    uint64_t jobs, groups; /* jobs done, commits made */
    uint64_t largest_group;
} jet_committer_stats;

void jet_committer_stats_get(const jet_committer *c, jet_committer_stats *out);

/* Frees the committer. It must be idle (jet_committer_pending() == 0): the loop runs until the
 * last group is done, so after uv_run() returns it is. */
void jet_committer_free(jet_committer *c);

#endif
