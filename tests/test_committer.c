/* test_committer.c - group commits off the loop: order, grouping, failure and cancellation,
 * and the prepare stage ahead of them. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "committer.h"
#include "encoding.h"
#include "store.h"
#include "testutil.h"

enum { JOBS = 200 };

typedef struct job {
    uint32_t id;
    int fail_with; /* returned by the job's transaction after its put */
    int *order;    /* where done() records the id, in call order */
    int *n_done;
    int rc; /* what done() was told */
    int called;
    atomic_int prepared; /* set by job_prepare */
    int want_prepared;   /* job_txn refuses (JET_EINVAL) a job not prepared before its commit */
} job;

static int job_txn(jet_txn *txn, void *arg) {
    job *j = arg;
    if (j->want_prepared && atomic_load(&j->prepared) != 1)
        return JET_EINVAL;
    uint8_t key[4];
    jet_put_be32(key, j->id);
    int rc = jet_txn_put(txn, JET_DB_STATS_CELLS, key, 4, "x", 1);
    return rc != 0 ? rc : j->fail_with;
}

static void job_done(void *arg, int rc) {
    job *j = arg;
    j->called++;
    j->rc = rc;
    j->order[(*j->n_done)++] = (int)j->id;
}

typedef struct has_ctx {
    uint32_t id;
    int found;
} has_ctx;

static int has_txn(jet_txn *txn, void *arg) {
    has_ctx *h = arg;
    uint8_t key[4];
    const void *v;
    size_t vl;
    jet_put_be32(key, h->id);
    h->found = jet_txn_get(txn, JET_DB_STATS_CELLS, key, 4, &v, &vl) == 0;
    return 0;
}

static int stored(jet_store *s, uint32_t id) {
    has_ctx h = {id, 0};
    assert_ok(jet_store_read(s, has_txn, &h));
    return h.found;
}

typedef struct fixture {
    uv_loop_t loop;
    jet_store *store;
    jet_committer *c;
    job jobs[JOBS];
    int order[JOBS];
    int n_done;
} fixture;

static fixture *fixture_new(void) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_ok(jet_store_create(jt_tempdir(), &f->store));
    assert_ok(jet_committer_new(&f->loop, f->store, &f->c));
    for (uint32_t i = 0; i < JOBS; i++)
        f->jobs[i] = (job){i, 0, f->order, &f->n_done, 99, 0, 0, 0};
    return f;
}

static void fixture_free(fixture *f) {
    assert_int_equal(jet_committer_pending(f->c), 0);
    jet_committer_free(f->c);
    jet_store_free(f->store);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

static void submit(fixture *f, uint32_t i, const void *owner) {
    assert_ok(jet_committer_submit(f->c, owner, job_txn, &f->jobs[i], job_done));
}

/* Jobs submitted in one loop turn share commits, and complete in submission order. */
static void test_order_and_grouping(void **state) {
    (void)state;
    fixture *f = fixture_new();
    for (uint32_t i = 0; i < JOBS; i++)
        submit(f, i, NULL);
    assert_int_equal(jet_committer_pending(f->c), JOBS);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* returns when the last group is done */
    assert_int_equal(f->n_done, JOBS);
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(f->order[i], i);
        assert_int_equal(f->jobs[i].called, 1);
        assert_ok(f->jobs[i].rc);
        assert_true(stored(f->store, (uint32_t)i));
    }
    jet_committer_stats st;
    jet_committer_stats_get(f->c, &st);
    assert_int_equal(st.jobs, JOBS);
    /* The first job starts alone; the others queue behind it and go in at most
     * JET_COMMITTER_MAX_GROUP per commit. */
    assert_true(st.groups >= 2 && st.groups < JOBS / 10);
    assert_true(st.largest_group > 1);
    fixture_free(f);
}

/* A failing job is rolled back alone; the later jobs of its owner in the same group are not
 * run; other owners' jobs commit. */
static void test_failure_stays_with_its_owner(void **state) {
    (void)state;
    fixture *f = fixture_new();
    int a, b;
    submit(f, 0, &a); /* goes to the worker alone */
    f->jobs[2].fail_with = JET_EROLE;
    for (uint32_t i = 1; i < 6; i++)
        submit(f, i, (i % 2) ? (const void *)&a : (const void *)&b);
    /* group 2: 1(a) 2(b, fails) 3(a) 4(b) 5(a) */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_done, 6);
    assert_ok(f->jobs[1].rc);
    assert_code(f->jobs[2].rc, JET_EROLE);
    assert_false(stored(f->store, 2));
    assert_ok(f->jobs[3].rc);
    assert_code(f->jobs[4].rc, JET_ECANCELED);
    assert_false(stored(f->store, 4));
    assert_ok(f->jobs[5].rc);
    assert_true(stored(f->store, 1) && stored(f->store, 3) && stored(f->store, 5));
    fixture_free(f);
}

/* Cancelling an owner drops its queued jobs at once; the job already on the worker commits. */
static void test_cancel(void **state) {
    (void)state;
    fixture *f = fixture_new();
    int a, b;
    submit(f, 0, &a); /* on the worker */
    submit(f, 1, &a);
    submit(f, 2, &b);
    submit(f, 3, &a);
    jet_committer_cancel(f->c, &a);
    assert_int_equal(f->n_done, 2); /* 1 and 3, in order, before anything ran */
    assert_int_equal(f->order[0], 1);
    assert_int_equal(f->order[1], 3);
    assert_code(f->jobs[1].rc, JET_ECANCELED);
    assert_code(f->jobs[3].rc, JET_ECANCELED);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_done, 4);
    assert_ok(f->jobs[0].rc);
    assert_ok(f->jobs[2].rc);
    assert_true(stored(f->store, 0) && stored(f->store, 2));
    assert_false(stored(f->store, 1) || stored(f->store, 3));
    /* The queue still works after a cancel emptied its tail. */
    submit(f, 4, &b);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_ok(f->jobs[4].rc);
    assert_true(stored(f->store, 4));
    fixture_free(f);
}

/* The loop stays free while the worker commits: a timer fires between submission and done. */
static void on_timer(uv_timer_t *t) {
    int *fired = t->data;
    (*fired)++;
    uv_close((uv_handle_t *)t, NULL);
}

static void test_loop_not_blocked(void **state) {
    (void)state;
    fixture *f = fixture_new();
    uv_timer_t timer;
    int fired = 0;
    uv_timer_init(&f->loop, &timer);
    timer.data = &fired;
    uv_timer_start(&timer, on_timer, 0, 0);
    for (uint32_t i = 0; i < JOBS; i++)
        submit(f, i, NULL);
    /* Submitting ran no job's callback: nothing happened on this thread yet. */
    assert_int_equal(f->n_done, 0);
    uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(fired, 1);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_done, JOBS);
    fixture_free(f);
}

/* ---- the prepare stage -------------------------------------------------------------------- */

/* Counts prepares and, with `gate` set, waits on it first (to hold a job in its prepare). */
static uv_sem_t *gate;
static atomic_int prepares;
/* With `check_done_before` set, a prepare fails the test unless every earlier job is done. */
static atomic_int *done_count;
static int check_done_before;
static atomic_int budget_broken;

static void job_prepare(void *arg) {
    job *j = arg;
    if (gate != NULL)
        uv_sem_wait(gate);
    if (check_done_before && atomic_load(done_count) != (int)j->id)
        atomic_store(&budget_broken, 1);
    atomic_fetch_add(&prepares, 1);
    atomic_store(&j->prepared, 1);
}

static atomic_int done_atomic;

static void job_done_counted(void *arg, int rc) {
    job_done(arg, rc);
    atomic_fetch_add(&done_atomic, 1);
}

static void submit_prepared(fixture *f, uint32_t i, const void *owner, size_t weight) {
    f->jobs[i].want_prepared = 1;
    assert_ok(jet_committer_submit_prepared(f->c, owner, job_prepare, weight, job_txn, &f->jobs[i],
                                            job_done_counted));
}

/* Prepared and plain jobs mixed: every prepared job is prepared before its commit, and all
 * complete in submission order. */
static void test_prepared_in_order(void **state) {
    (void)state;
    fixture *f = fixture_new();
    atomic_store(&prepares, 0);
    for (uint32_t i = 0; i < JOBS; i++) {
        if (i % 3 == 2)
            submit(f, i, NULL);
        else
            submit_prepared(f, i, NULL, 1000);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_done, JOBS);
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(f->order[i], i);
        assert_ok(f->jobs[i].rc);
        assert_true(stored(f->store, (uint32_t)i));
    }
    assert_int_equal(atomic_load(&prepares), JOBS - JOBS / 3);
    fixture_free(f);
}

/* A job cancelled while its prepare runs ends when the prepare does, with JET_ECANCELED and
 * nothing stored; it counts as pending until then; the jobs behind it go on. */
static void test_cancel_while_preparing(void **state) {
    (void)state;
    fixture *f = fixture_new();
    uv_sem_t sem;
    assert_int_equal(uv_sem_init(&sem, 0), 0);
    gate = &sem;
    int a, b;
    submit_prepared(f, 0, &a, 10);
    submit(f, 1, &b);
    jet_committer_cancel(f->c, &a);
    assert_int_equal(f->n_done, 0); /* its prepare holds the context: not ended yet */
    assert_int_equal(jet_committer_pending(f->c), 2);
    uv_sem_post(&sem);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    gate = NULL;
    uv_sem_destroy(&sem);
    assert_int_equal(f->n_done, 2);
    assert_code(f->jobs[0].rc, JET_ECANCELED);
    assert_false(stored(f->store, 0));
    assert_ok(f->jobs[1].rc);
    assert_true(stored(f->store, 1));
    fixture_free(f);
}

/* Jobs each as heavy as the whole budget are prepared one at a time: a prepare starts only
 * once every job before it has committed and its callback ran. */
static void test_prepare_budget(void **state) {
    (void)state;
    fixture *f = fixture_new();
    atomic_store(&done_atomic, 0);
    atomic_store(&budget_broken, 0);
    done_count = &done_atomic;
    check_done_before = 1;
    for (uint32_t i = 0; i < 20; i++)
        submit_prepared(f, i, NULL, JET_COMMITTER_PREPARE_AHEAD);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    check_done_before = 0;
    assert_int_equal(f->n_done, 20);
    assert_false(atomic_load(&budget_broken));
    /* Light ones run ahead of the commits: not every prepare waited for the job before. */
    fixture *g = fixture_new();
    atomic_store(&done_atomic, 0);
    atomic_store(&budget_broken, 0);
    check_done_before = 1;
    for (uint32_t i = 0; i < JOBS; i++)
        submit_prepared(g, i, NULL, 100);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    check_done_before = 0;
    assert_int_equal(g->n_done, JOBS);
    assert_true(atomic_load(&budget_broken));
    fixture_free(f);
    fixture_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_grouping),
        cmocka_unit_test(test_failure_stays_with_its_owner),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_loop_not_blocked),
        cmocka_unit_test(test_prepared_in_order),
        cmocka_unit_test(test_cancel_while_preparing),
        cmocka_unit_test(test_prepare_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
