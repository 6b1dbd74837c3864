/* test_session.c - replication between real nodes: a jetsyncd lead started and killed by the
 * test, regions syncing through the in-process initiator (the code `jetsync sync` runs), and
 * marker records (kind 0) so that the views play no part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

#include "encoding.h"
#include "node.h"
#include "peering.h"
#include "peers.h"
#include "record.h"
#include "session.h"
#include "syncer.h"

#include "nodeutil.h"

/* ---- tests ----------------------------------------------------------------------------- */

/* Lead and two regions: toolkit records reach the other region through the lead, statistics
 * reach the lead and never the other region, a second sync moves nothing. */
static void test_relay_roles_and_noop(void **state) {
    (void)state;
    setup_dirs();
    jet_node *L = make_node("relay-L", "SE-Y", 1), *A = make_node("relay-A", "IT-25", 0),
             *B = make_node("relay-B", "NO-30", 0);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    add_peer(L, "B", B, JET_ROLE_REGION, NULL);
    daemon_proc d = start_daemon(L);
    add_peer(A, "Lead", L, JET_ROLE_LEAD, d.addr);
    add_peer(B, "Lead", L, JET_ROLE_LEAD, d.addr);
    append_markers(A, JET_STREAM_TOOLKIT, 3000);
    append_markers(A, JET_STREAM_STATS, 2000);
    append_markers(B, JET_STREAM_TOOLKIT, 100);
    append_markers(L, JET_STREAM_FIGURES, 10);

    sync_result r = sync_with(A, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("sync A: %s\n", r.reason);
    assert_ok(r.code);
    assert_int_equal(r.st.sent_records, 5000);
    assert_int_equal(r.st.plan_send_records, 5000);
    assert_int_equal(r.st.recv_records, 10); /* the lead's figures */

    r = sync_with(B, "Lead", NULL, 0);
    assert_ok(r.code);
    assert_int_equal(r.st.sent_records, 100);
    assert_int_equal(r.st.recv_records, 3010); /* A's toolkit via the lead + figures */

    r = sync_with(A, "Lead", NULL, 0);
    assert_ok(r.code);
    assert_int_equal(r.st.recv_records, 100); /* B's toolkit via the lead */
    r = sync_with(A, "Lead", NULL, 0);        /* nothing new: nothing moves */
    assert_ok(r.code);
    assert_int_equal(r.st.sent_records + r.st.recv_records, 0);

    assert_same_log(A, L, A, JET_STREAM_TOOLKIT, 3000);
    assert_same_log(A, B, A, JET_STREAM_TOOLKIT, 3000);
    assert_same_log(A, L, A, JET_STREAM_STATS, 2000);
    assert_same_log(B, A, B, JET_STREAM_TOOLKIT, 100);
    assert_same_log(L, B, L, JET_STREAM_FIGURES, 10);
    assert_int_equal(log_of(B, A, JET_STREAM_STATS).seq, 0); /* never at another region */

    stop_daemon(&d, SIGTERM);
    jet_node_free(L);
    jet_node_free(A);
    jet_node_free(B);
}

/* The receiving daemon is killed with SIGKILL at random points while it takes 120,000 records;
 * everything acknowledged survives, and the final sync leaves the lead equal to the source. */
static void test_resume_after_sigkill(void **state) {
    (void)state;
    setup_dirs();
    enum { RECORDS = 120000 };
    jet_node *L = make_node("kill-L", "SE-Y", 1), *A = make_node("kill-A", "IT-25", 0);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    add_peer(A, "Lead", L, JET_ROLE_LEAD, "127.0.0.1:1");
    append_markers(A, JET_STREAM_STATS, RECORDS);
    int kills = 0, complete = 0;
    uint64_t acked_before = 0;
    for (int round = 0; round < 40 && !complete; round++) {
        daemon_proc d = start_daemon(L);
        set_peer_addr(A, "Lead", d.addr);
        unsigned kill_ms = round < 12 ? 5 + randombytes_uniform(120) : 0;
        sync_result r = sync_with(A, "Lead", kill_ms ? &d : NULL, kill_ms);
        log_state at_lead = log_of(L, A, JET_STREAM_STATS);
        /* Nothing acknowledged is ever lost. */
        assert_true(at_lead.seq >= acked_before + r.st.sent_records);
        acked_before = at_lead.seq;
        if (r.code == 0) {
            complete = 1;
            stop_daemon(&d, SIGTERM);
        } else {
            kills++;
            stop_daemon(&d, SIGKILL);
        }
    }
    print_message("resume: %d sessions killed, then complete\n", kills);
    assert_true(complete);
    assert_true(kills >= 1);
    assert_same_log(A, L, A, JET_STREAM_STATS, RECORDS);
    jet_node_free(L);
    jet_node_free(A);
}

/* A revoked peer's handshake is refused and nothing changes at the lead. */
static void test_revoked_peer_refused(void **state) {
    (void)state;
    setup_dirs();
    jet_node *L = make_node("rev-L", "SE-Y", 1), *B = make_node("rev-B", "NO-30", 0);
    add_peer(L, "B", B, JET_ROLE_REGION, NULL);
    daemon_proc d = start_daemon(L);
    add_peer(B, "Lead", L, JET_ROLE_LEAD, d.addr);
    append_markers(B, JET_STREAM_TOOLKIT, 5);
    assert_ok(sync_with(B, "Lead", NULL, 0).code);
    assert_ok(jet_store_write(jet_node_store(L), revoke_txn, "B"));
    append_markers(B, JET_STREAM_TOOLKIT, 5);
    sync_result r = sync_with(B, "Lead", NULL, 0);
    assert_true(r.code != 0);
    assert_int_equal(log_of(L, B, JET_STREAM_TOOLKIT).seq, 5);
    /* The daemon keeps serving others. */
    jet_node *C = make_node("rev-C", "RO-TL", 0);
    add_peer(L, "C", C, JET_ROLE_REGION, NULL);
    add_peer(C, "Lead", L, JET_ROLE_LEAD, d.addr);
    assert_ok(sync_with(C, "Lead", NULL, 0).code);
    stop_daemon(&d, SIGTERM);
    jet_node_free(L);
    jet_node_free(B);
    jet_node_free(C);
}

/* An author restored from an old backup forks its log: the lead refuses the first record that
 * does not extend the history it holds, and keeps that history unchanged. */
/* A lead L (its daemon running) and a region A whose home was backed up after 3 toolkit
 * records; A then wrote 4 more and synced them, so the lead holds 7 (`before`). */
typedef struct backed_up {
    jet_node *L, *A;
    daemon_proc d;
    char backup[4300]; /* the copy of A's home */
    log_state before;  /* A's toolkit log at the lead */
} backed_up;

static void backed_up_make(backed_up *b, const char *prefix) {
    char name[64], cmd[9000];
    setup_dirs();
    snprintf(name, sizeof name, "%s-L", prefix);
    b->L = make_node(name, "SE-Y", 1);
    snprintf(name, sizeof name, "%s-A", prefix);
    b->A = make_node(name, "IT-25", 0);
    add_peer(b->L, "A", b->A, JET_ROLE_REGION, NULL);
    b->d = start_daemon(b->L);
    add_peer(b->A, "Lead", b->L, JET_ROLE_LEAD, b->d.addr);
    append_markers(b->A, JET_STREAM_TOOLKIT, 3);
    snprintf(b->backup, sizeof b->backup, "%s/%s-A-backup", base_dir, prefix);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", jet_node_home(b->A), b->backup);
    assert_int_equal(system(cmd), 0);
    append_markers(b->A, JET_STREAM_TOOLKIT, 4);
    assert_ok(sync_with(b->A, "Lead", NULL, 0).code);
    b->before = log_of(b->L, b->A, JET_STREAM_TOOLKIT);
    assert_int_equal(b->before.seq, 7);
}

static void test_fork_refused(void **state) {
    (void)state;
    backed_up b;
    backed_up_make(&b, "fork");
    jet_node *L = b.L, *A = b.A;
    log_state before = b.before;

    /* Restored from the backup, A writes 6 new, different records: seqs 4..9 collide. */
    jet_node *R = NULL;
    assert_ok(jet_node_open(b.backup, &R, NULL));
    append_markers(R, JET_STREAM_TOOLKIT, 6); /* seqs 4..9 with other payloads than A's */
    sync_result r = sync_with(R, "Lead", NULL, 0);
    assert_true(r.code != 0);
    if (strstr(r.reason, "fork") == NULL)
        print_error("reason: %s\n", r.reason);
    assert_non_null(strstr(r.reason, "fork"));
    log_state after = log_of(L, A, JET_STREAM_TOOLKIT);
    assert_int_equal(after.seq, 7);
    assert_memory_equal(after.digest, before.digest, 32);
    stop_daemon(&b.d, SIGTERM);
    jet_node_free(R);
    jet_node_free(L);
    jet_node_free(A);
}

/* A node restored from an older backup learns from the lead's Hello that the lead holds more
 * of its log than it does, starts a new epoch, and its next records reach the lead as a new log
 * (no fork, the old log untouched). */
typedef struct epochs_ctx {
    const uint8_t *origin;
    uint64_t epoch[4], seq[4];
    size_t n;
} epochs_ctx;

static int epochs_one(const jet_vv_entry *e, void *arg) {
    epochs_ctx *c = arg;
    if (e->stream == JET_STREAM_TOOLKIT && memcmp(e->origin, c->origin, 32) == 0 && c->n < 4) {
        c->epoch[c->n] = e->epoch;
        c->seq[c->n++] = e->seq;
    }
    return 0;
}

static int epochs_txn(jet_txn *txn, void *arg) {
    ((epochs_ctx *)arg)->n = 0;
    return jet_vv_scan(txn, 0, epochs_one, arg);
}

static int own_epoch_txn(jet_txn *txn, void *arg) {
    return jet_log_own_epoch(txn, arg);
}

static uint64_t own_epoch(jet_node *n) {
    uint64_t e = 0;
    assert_ok(jet_store_read(jet_node_store(n), own_epoch_txn, &e));
    return e;
}

typedef struct old_log_digest {
    const uint8_t *origin;
    uint64_t epoch;
    uint8_t digest[32];
} old_log_digest;

static int old_log_digest_txn(jet_txn *txn, void *arg) {
    old_log_digest *d = arg;
    return jet_log_digest(txn, JET_STREAM_TOOLKIT, d->origin, d->epoch, 7, d->digest);
}

static void test_restored_node_new_epoch(void **state) {
    (void)state;
    backed_up b;
    backed_up_make(&b, "epoch");
    jet_node *L = b.L;
    log_state before = b.before;
    uint64_t old_epoch = own_epoch(b.A);
    jet_node_free(b.A);

    /* Restored: the first sync moves nothing of its own log and starts a new epoch. */
    jet_node *R = NULL;
    assert_ok(jet_node_open(b.backup, &R, NULL));
    sync_result r = sync_with(R, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("restored node's first sync: %s\n", r.reason);
    assert_ok(r.code);
    assert_int_equal(r.st.sent_records, 0);
    uint64_t new_epoch = own_epoch(R);
    assert_true(new_epoch > old_epoch);

    /* Its new records are a new log at the lead; the old one is as it was. */
    append_markers(R, JET_STREAM_TOOLKIT, 5);
    r = sync_with(R, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("restored node's second sync: %s\n", r.reason);
    assert_ok(r.code);
    assert_int_equal(r.st.sent_records, 5);
    epochs_ctx e = {jet_node_public_key(R), {0}, {0}, 0};
    assert_ok(jet_store_read(jet_node_store(L), epochs_txn, &e));
    assert_int_equal(e.n, 2);
    assert_int_equal(e.epoch[0], old_epoch);
    assert_int_equal(e.seq[0], 7);
    assert_int_equal(e.epoch[1], new_epoch);
    assert_int_equal(e.seq[1], 5);
    old_log_digest held = {jet_node_public_key(R), old_epoch, {0}};
    assert_ok(jet_store_read(jet_node_store(L), old_log_digest_txn, &held));
    assert_memory_equal(held.digest, before.digest, 32);
    stop_daemon(&b.d, SIGTERM);
    jet_node_free(R);
    jet_node_free(L);
}

typedef struct counter_ctx {
    uint64_t value;
} counter_ctx;

static int set_counter_txn(jet_txn *txn, void *arg) {
    return jet_meta_put_u64(txn, "hs_sent", ((counter_ctx *)arg)->value);
}

static int get_counter_txn(jet_txn *txn, void *arg) {
    return jet_meta_get_u64(txn, "hs_sent", &((counter_ctx *)arg)->value);
}

static uint64_t lead_last_accepted(jet_node *lead, const char *peer_name) {
    jet_peer p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", peer_name);
    assert_ok(jet_store_read(jet_node_store(lead), find_peer_txn, &p));
    return p.last_hs_value;
}

/* The lead records an accepted value through its group commit, ahead of the session's first
 * batch; a session without batches may end before that commit, so wait (5 s at most) until the
 * lead holds at least `want`, and return what it holds. */
static uint64_t wait_last_accepted(jet_node *lead, const char *peer_name, uint64_t want) {
    uint64_t v = lead_last_accepted(lead, peer_name);
    for (int i = 0; i < 500 && v < want; i++) {
        usleep(10000);
        v = lead_last_accepted(lead, peer_name);
    }
    return v;
}

/* The replay counter: a clock that was ahead and stepped back, and a store restored from an old
 * backup, each leave the partner able to connect (WireGuard's timestamps would lock it out). */
static void test_handshake_counter(void **state) {
    (void)state;
    setup_dirs();
    jet_node *L = make_node("hs-L", "SE-Y", 1), *A = make_node("hs-A", "IT-25", 0);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    daemon_proc d = start_daemon(L);
    add_peer(A, "Lead", L, JET_ROLE_LEAD, d.addr);
    assert_ok(sync_with(A, "Lead", NULL, 0).code);

    /* The clock was one hour ahead when A last connected (as if set wrong, then corrected):
     * the lead has accepted a value from the future. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ahead = ((uint64_t)now.tv_sec + 3600) * 1000000000u;
    counter_ctx c = {ahead};
    assert_ok(jet_store_write(jet_node_store(A), set_counter_txn, &c));
    assert_ok(sync_with(A, "Lead", NULL, 0).code);
    assert_true(wait_last_accepted(L, "A", ahead + 1) > ahead);
    /* Back on the right time: the next handshake still exceeds what the lead accepted. */
    sync_result r = sync_with(A, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("after the clock step: %s\n", r.reason);
    assert_ok(r.code);

    stop_daemon(&d, SIGTERM);
    jet_node_free(A);
    jet_node_free(L);

    /* A fresh pair for the restored-store case, so that no clock step is involved. */
    jet_node *L2 = make_node("hs-L2", "SE-Y", 1), *A2 = make_node("hs-A2", "IT-25", 0);
    add_peer(L2, "A", A2, JET_ROLE_REGION, NULL);
    daemon_proc d2 = start_daemon(L2);
    add_peer(A2, "Lead", L2, JET_ROLE_LEAD, d2.addr);
    assert_ok(sync_with(A2, "Lead", NULL, 0).code);
    char cmd[16384], backup2[4300];
    snprintf(backup2, sizeof backup2, "%s/hs-A2-backup", base_dir);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", jet_node_home(A2), backup2);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 3; i++)
        assert_ok(sync_with(A2, "Lead", NULL, 0).code);
    counter_ctx sent = {0};
    assert_ok(jet_store_read(jet_node_store(A2), get_counter_txn, &sent));
    uint64_t lead_saw = wait_last_accepted(L2, "A", sent.value);
    jet_node_free(A2);
    /* Restore: replace A2's store with the backup's. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/hs-A2/store' && cp -a '%s/store' '%s/hs-A2/store'",
             base_dir, backup2, base_dir);
    assert_int_equal(system(cmd), 0);
    char home2[4300];
    snprintf(home2, sizeof home2, "%s/hs-A2", base_dir);
    assert_ok(jet_node_open(home2, &A2, NULL));
    counter_ctx restored = {0};
    assert_ok(jet_store_read(jet_node_store(A2), get_counter_txn, &restored));
    assert_true(restored.value < lead_saw); /* the backup is behind what the lead accepted */
    r = sync_with(A2, "Lead", NULL, 0);
    if (r.code != 0)
        print_error("after the restore: %s\n", r.reason);
    assert_ok(r.code);
    assert_true(wait_last_accepted(L2, "A", lead_saw + 1) > lead_saw);
    stop_daemon(&d2, SIGTERM);
    jet_node_free(A2);
    jet_node_free(L2);
}

static void test_policy(void **state) {
    (void)state;
    jet_peer region, lead;
    memset(&region, 0, sizeof region);
    memset(&lead, 0, sizeof lead);
    region.role = JET_ROLE_REGION;
    lead.role = JET_ROLE_LEAD;
    memset(region.key, 1, 32);
    memset(lead.key, 2, 32);
    uint8_t other[32];
    memset(other, 3, 32);
    /* Sending. */
    assert_true(jet_policy_may_send(JET_STREAM_TOOLKIT, 0, JET_ROLE_REGION));
    assert_true(jet_policy_may_send(JET_STREAM_STATS, 0, JET_ROLE_LEAD));
    assert_false(jet_policy_may_send(JET_STREAM_STATS, 0, JET_ROLE_REGION));
    assert_false(jet_policy_may_send(JET_STREAM_STATS, 1, JET_ROLE_REGION));
    assert_true(jet_policy_may_send(JET_STREAM_FIGURES, 1, JET_ROLE_REGION));
    assert_false(jet_policy_may_send(JET_STREAM_FIGURES, 0, JET_ROLE_LEAD));
    assert_false(jet_policy_may_send(JET_STREAM_FIGURES, 0, JET_ROLE_REGION));
    /* Accepting. */
    assert_true(jet_policy_may_accept(JET_STREAM_STATS, region.key, 1, &region));
    assert_false(jet_policy_may_accept(JET_STREAM_STATS, other, 1, &region));      /* relayed */
    assert_false(jet_policy_may_accept(JET_STREAM_STATS, region.key, 0, &region)); /* at a region */
    assert_false(jet_policy_may_accept(JET_STREAM_STATS, lead.key, 0, &lead));
    assert_true(jet_policy_may_accept(JET_STREAM_FIGURES, lead.key, 0, &lead));
    assert_false(jet_policy_may_accept(JET_STREAM_FIGURES, region.key, 0, &region));
    assert_true(jet_policy_may_accept(JET_STREAM_TOOLKIT, other, 0, &region));
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    setenv("JETSYNC_LOG", "warn", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_relay_roles_and_noop),
        cmocka_unit_test(test_revoked_peer_refused),
        cmocka_unit_test(test_fork_refused),
        cmocka_unit_test(test_restored_node_new_epoch),
        cmocka_unit_test(test_handshake_counter),
        cmocka_unit_test(test_resume_after_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
