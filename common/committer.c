/* committer.c - group commits on libuv's worker pool.
 *
 * The queue belongs to the loop thread; at most one group is on the worker at a time, and it
 * owns the array of jobs it was given. So no lock is needed: the worker touches only that
 * array, the store (whose own guard serialises remaps) and the jobs' contexts. */
#include "committer.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct commit_job {
    struct commit_job *next;
    jet_store_job run; /* fn, ctx, owner and, once run, rc */
    jet_commit_done_fn done;
} commit_job;

struct jet_committer {
    uv_loop_t *loop;
    jet_store *store;
    commit_job *head, *tail; /* queued, not started */
    size_t queued;
    commit_job *group[JET_COMMITTER_MAX_GROUP]; /* on the worker */
    jet_store_job group_jobs[JET_COMMITTER_MAX_GROUP];
    size_t group_n; /* on the worker, then until its callbacks have run */
    uv_work_t work;
    jet_committer_stats stats;
};

int jet_committer_new(uv_loop_t *loop, jet_store *store, jet_committer **out) {
    jet_committer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return JET_ENOMEM;
    c->loop = loop;
    c->store = store;
    c->work.data = c;
    *out = c;
    return 0;
}

static void work_run(uv_work_t *w) {
    jet_committer *c = w->data;
    /* libuv's pool threads are anonymous; name the one committing (top -H, perf --comm). */
    pthread_setname_np(pthread_self(), "jet-commit");
    jet_store_write_group(c->store, c->group_jobs, c->group_n);
}

static void start_group(jet_committer *c);

static void work_done(uv_work_t *w, int status) {
    jet_committer *c = w->data;
    size_t n = c->group_n;
    c->stats.groups++;
    c->stats.jobs += n;
    if (n > c->stats.largest_group)
        c->stats.largest_group = n;
    /* The callbacks run before the next group starts (group_n stays set until they are done),
     * so that one which fails its owner can still cancel that owner's queued jobs. */
    for (size_t i = 0; i < n; i++) {
        commit_job *j = c->group[i];
        /* UV_ECANCELED cannot happen (nothing cancels the work request), but be exact. */
        j->done(j->run.ctx, status != 0 ? JET_EIO : c->group_jobs[i].rc);
        free(j);
    }
    c->group_n = 0;
    start_group(c);
}

static void start_group(jet_committer *c) {
    if (c->group_n > 0 || c->head == NULL)
        return;
    size_t n = 0;
    while (c->head != NULL && n < JET_COMMITTER_MAX_GROUP) {
        commit_job *j = c->head;
        c->head = j->next;
        c->group[n] = j;
        c->group_jobs[n] = j->run;
        n++;
    }
    if (c->head == NULL)
        c->tail = NULL;
    c->queued -= n;
    c->group_n = n;
    /* uv_queue_work fails only without a work callback, and there is one. */
    int rc = uv_queue_work(c->loop, &c->work, work_run, work_done);
    assert(rc == 0);
    (void)rc;
}

int jet_committer_submit(jet_committer *c, const void *owner, jet_txn_fn fn, void *ctx,
                         jet_commit_done_fn done) {
    if (c == NULL)
        return JET_ECLOSED;
    commit_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return JET_ENOMEM;
    j->run.fn = fn;
    j->run.ctx = ctx;
    j->run.owner = owner;
    j->done = done;
    if (c->tail != NULL)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->queued++;
    start_group(c);
    return 0;
}

void jet_committer_cancel(jet_committer *c, const void *owner) {
    if (c == NULL || owner == NULL)
        return;
    commit_job *dropped = NULL, **at = &c->head, *last = NULL;
    while (*at != NULL) {
        commit_job *j = *at;
        if (j->run.owner == owner) {
            *at = j->next;
            j->next = dropped;
            dropped = j;
            c->queued--;
        } else {
            last = j;
            at = &j->next;
        }
    }
    c->tail = last;
    /* `dropped` is in reverse order; run the callbacks in submission order. */
    commit_job *ordered = NULL;
    while (dropped != NULL) {
        commit_job *j = dropped;
        dropped = j->next;
        j->next = ordered;
        ordered = j;
    }
    while (ordered != NULL) {
        commit_job *j = ordered;
        ordered = j->next;
        j->done(j->run.ctx, JET_ECANCELED);
        free(j);
    }
}

size_t jet_committer_pending(const jet_committer *c) {
    return c == NULL ? 0 : c->queued + c->group_n;
}

void jet_committer_stats_get(const jet_committer *c, jet_committer_stats *out) {
    *out = c->stats;
}

void jet_committer_free(jet_committer *c) {
    if (c == NULL)
        return;
    assert(jet_committer_pending(c) == 0);
    free(c);
}
