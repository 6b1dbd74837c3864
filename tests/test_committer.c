/* test_committer.c - group commits off the loop: order, grouping, failure and cancellation. */
#include <setjmp.h>
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
} job;

static int job_txn(jet_txn *txn, void *arg) {
    job *j = arg;
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
        f->jobs[i] = (job){i, 0, f->order, &f->n_done, 99, 0};
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_grouping),
        cmocka_unit_test(test_failure_stays_with_its_owner),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_loop_not_blocked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
