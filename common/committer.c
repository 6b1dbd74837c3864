/* committer.c - group commits on libuv's worker pool, with a prepare stage before them.
 *
 * The queues belong to the loop thread. At most one group and JET_COMMITTER_PREPARERS runs of
 * prepares are on the pool at a time, each owning the array of jobs it was given, and a job is
 * in one of them at most (a group takes only prepared jobs). So no lock is needed: a worker
 * touches only its array, the store (whose own guard serialises remaps) and the jobs'
 * contexts. Runs may end out of order; a group still takes jobs only from the head. */
#include "committer.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

typedef enum job_state {
    JOB_READY,     /* nothing (more) to prepare: may join a group */
    JOB_WAITING,   /* on the prepare queue */
    JOB_PREPARING, /* on the prepare worker */
    JOB_DROPPED,   /* cancelled while preparing: ends when the prepare does */
} job_state;

typedef struct commit_job {
    struct commit_job *next;      /* the queue, in submission order */
    struct commit_job *prep_next; /* the prepare queue */
    jet_store_job run;            /* fn, ctx, owner and, once run, rc */
    jet_commit_done_fn done;
    jet_prepare_fn prepare;
    size_t weight; /* counted in prepared_weight from its prepare's start to its end */
    job_state state;
} commit_job;

/* One run of prepares on a worker: up to JET_COMMITTER_PREPARE_RUN consecutive jobs. */
typedef struct prep_run {
    jet_committer *c;
    uv_work_t work;
    commit_job *jobs[JET_COMMITTER_PREPARE_RUN];
    size_t n; /* 0 when idle */
} prep_run;

struct jet_committer {
    uv_loop_t *loop;
    jet_store *store;
    commit_job *head, *tail; /* queued, not started */
    size_t queued;
    commit_job *group[JET_COMMITTER_MAX_GROUP]; /* on the worker */
    jet_store_job group_jobs[JET_COMMITTER_MAX_GROUP];
    size_t group_n; /* on the worker, then until its callbacks have run */
    uv_work_t work;
    commit_job *prep_head, *prep_tail; /* waiting to be prepared, in submission order */
    prep_run preparers[JET_COMMITTER_PREPARERS];
    size_t prepared_weight; /* of jobs prepared or preparing and not yet done */
    size_t dropped;         /* JOB_DROPPED jobs, in no queue */
    jet_committer_stats stats;
};

int jet_committer_new(uv_loop_t *loop, jet_store *store, jet_committer **out) {
    jet_committer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return JET_ENOMEM;
    c->loop = loop;
    c->store = store;
    c->work.data = c;
    for (size_t i = 0; i < JET_COMMITTER_PREPARERS; i++) {
        c->preparers[i].c = c;
        c->preparers[i].work.data = &c->preparers[i];
    }
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
static void start_prepare(jet_committer *c);

/* Ends a job: its callback runs and, if its prepare started, it leaves the budget. */
static void job_end(jet_committer *c, commit_job *j, int rc) {
    if (j->state != JOB_WAITING)
        c->prepared_weight -= j->weight;
    j->done(j->run.ctx, rc);
    free(j);
}

static void prep_work(uv_work_t *w) {
    prep_run *r = w->data;
    pthread_setname_np(pthread_self(), "jet-prepare");
    for (size_t i = 0; i < r->n; i++)
        r->jobs[i]->prepare(r->jobs[i]->run.ctx);
}

static void prep_done(uv_work_t *w, int status) {
    prep_run *r = w->data;
    jet_committer *c = r->c;
    (void)status; /* nothing cancels the work request */
    /* r->n stays set meanwhile, so a callback that submits does not reuse this run. */
    for (size_t i = 0; i < r->n; i++) {
        commit_job *j = r->jobs[i];
        if (j->state == JOB_DROPPED) {
            c->dropped--;
            job_end(c, j, JET_ECANCELED);
        } else {
            j->state = JOB_READY;
        }
    }
    r->n = 0;
    start_group(c);
    start_prepare(c);
}

/* Fills idle runs with the next jobs to prepare, in order, within the budget. */
static void start_prepare(jet_committer *c) {
    for (size_t k = 0; k < JET_COMMITTER_PREPARERS; k++) {
        prep_run *r = &c->preparers[k];
        if (r->n > 0)
            continue;
        while (c->prep_head != NULL && r->n < JET_COMMITTER_PREPARE_RUN) {
            commit_job *j = c->prep_head;
            if (c->prepared_weight > 0 &&
                j->weight > JET_COMMITTER_PREPARE_AHEAD - c->prepared_weight)
                break;
            c->prep_head = j->prep_next;
            j->state = JOB_PREPARING;
            c->prepared_weight += j->weight;
            r->jobs[r->n++] = j;
        }
        if (c->prep_head == NULL)
            c->prep_tail = NULL;
        if (r->n == 0)
            return;
        int rc = uv_queue_work(c->loop, &r->work, prep_work, prep_done);
        assert(rc == 0); /* it fails only without a work callback */
        (void)rc;
    }
}

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
        /* UV_ECANCELED cannot happen (nothing cancels the work request), but be exact. */
        job_end(c, c->group[i], status != 0 ? JET_EIO : c->group_jobs[i].rc);
    }
    c->group_n = 0;
    start_group(c);
    start_prepare(c); /* the group's weight left the budget */
}

static void start_group(jet_committer *c) {
    if (c->group_n > 0 || c->head == NULL)
        return;
    size_t n = 0;
    while (c->head != NULL && c->head->state == JOB_READY && n < JET_COMMITTER_MAX_GROUP) {
        commit_job *j = c->head;
        c->head = j->next;
        c->group[n] = j;
        c->group_jobs[n] = j->run;
        n++;
    }
    if (c->head == NULL)
        c->tail = NULL;
    if (n == 0)
        return; /* the oldest job is still being prepared */
    c->queued -= n;
    c->group_n = n;
    /* uv_queue_work fails only without a work callback, and there is one. */
    int rc = uv_queue_work(c->loop, &c->work, work_run, work_done);
    assert(rc == 0);
    (void)rc;
}

int jet_committer_submit_prepared(jet_committer *c, const void *owner, jet_prepare_fn prepare,
                                  size_t weight, jet_txn_fn fn, void *ctx,
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
    j->prepare = prepare;
    j->weight = prepare != NULL ? weight : 0;
    j->state = prepare != NULL ? JOB_WAITING : JOB_READY;
    if (c->tail != NULL)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->queued++;
    if (prepare != NULL) {
        if (c->prep_tail != NULL)
            c->prep_tail->prep_next = j;
        else
            c->prep_head = j;
        c->prep_tail = j;
        start_prepare(c);
    }
    start_group(c);
    return 0;
}

int jet_committer_submit(jet_committer *c, const void *owner, jet_txn_fn fn, void *ctx,
                         jet_commit_done_fn done) {
    return jet_committer_submit_prepared(c, owner, NULL, 0, fn, ctx, done);
}

/* Unlinks the jobs of `owner` from the prepare queue (they are also in the main queue). */
static void unlink_waiting(jet_committer *c, const void *owner) {
    commit_job **at = &c->prep_head, *last = NULL;
    while (*at != NULL) {
        if ((*at)->run.owner == owner) {
            *at = (*at)->prep_next;
        } else {
            last = *at;
            at = &(*at)->prep_next;
        }
    }
    c->prep_tail = last;
}

void jet_committer_cancel(jet_committer *c, const void *owner) {
    if (c == NULL || owner == NULL)
        return;
    unlink_waiting(c, owner);
    commit_job *dropped = NULL, **at = &c->head, *last = NULL;
    while (*at != NULL) {
        commit_job *j = *at;
        if (j->run.owner == owner) {
            *at = j->next;
            c->queued--;
            if (j->state == JOB_PREPARING) {
                j->state = JOB_DROPPED; /* its prepare still uses ctx: prep_done ends it */
                c->dropped++;
                continue;
            }
            j->next = dropped;
            dropped = j;
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
        job_end(c, j, JET_ECANCELED);
    }
    start_group(c); /* the oldest job may have been one still preparing */
}

size_t jet_committer_pending(const jet_committer *c) {
    return c == NULL ? 0 : c->queued + c->group_n + c->dropped;
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
