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

static char netkey_path[4200];
static char base_dir[4096];

/* ---- nodes ----------------------------------------------------------------------------- */

static jet_node *make_node(const char *dir_name, const char *region, int lead) {
    char home[4300];
    snprintf(home, sizeof home, "%s/%s", base_dir, dir_name);
    jet_node_init_options o = {dir_name, region, lead, netkey_path};
    jet_node *n = NULL;
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_node_init(home, &o, &n, &d);
    if (rc != 0)
        print_error("init %s: %s\n", home, d.msg);
    assert_ok(rc);
    return n;
}

typedef struct put_peer_ctx {
    jet_peer p;
} put_peer_ctx;

static int put_peer_txn(jet_txn *txn, void *arg) {
    return jet_peers_put(txn, &((put_peer_ctx *)arg)->p);
}

static void add_peer(jet_node *n, const char *name, jet_node *other, jet_role role,
                     const char *addr) {
    put_peer_ctx c;
    memset(&c, 0, sizeof c);
    snprintf(c.p.name, sizeof c.p.name, "%s", name);
    memcpy(c.p.key, jet_node_public_key(other), 32);
    snprintf(c.p.addr, sizeof c.p.addr, "%s", addr ? addr : "");
    c.p.role = role;
    /* Keep the replay counter of an existing entry: re-adding must not reopen old handshakes. */
    assert_ok(jet_store_write(jet_node_store(n), put_peer_txn, &c));
}

static int revoke_txn(jet_txn *txn, void *arg) {
    jet_peer p;
    int rc = jet_peers_get(txn, arg, &p);
    if (rc != 0)
        return rc;
    p.revoked = 1;
    return jet_peers_put(txn, &p);
}

static int set_addr_txn(jet_txn *txn, void *arg) {
    const char **a = arg;
    jet_peer p;
    int rc = jet_peers_get(txn, a[0], &p);
    if (rc != 0)
        return rc;
    snprintf(p.addr, sizeof p.addr, "%s", a[1]);
    return jet_peers_put(txn, &p);
}

static void set_peer_addr(jet_node *n, const char *name, const char *addr) {
    const char *a[2] = {name, addr};
    assert_ok(jet_store_write(jet_node_store(n), set_addr_txn, a));
}

typedef struct append_ctx {
    jet_node *node;
    uint32_t stream;
    uint64_t first, count;
} append_ctx;

static int append_txn(jet_txn *txn, void *arg) {
    append_ctx *a = arg;
    uint8_t payload[160];
    for (uint64_t i = 0; i < a->count; i++) {
        uint64_t n = a->first + i;
        for (size_t j = 0; j < sizeof payload; j++)
            payload[j] = (uint8_t)(n * 31 + j);
        int rc = jet_record_append(txn, jet_node_secret_key(a->node), a->stream,
                                   JET_RECORD_KIND_MARKER, payload, sizeof payload, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Appends `count` marker records to the node's own log of `stream`, 1000 per transaction. */
static void append_markers(jet_node *n, uint32_t stream, uint64_t count) {
    static uint64_t payload_counter; /* every record of the run gets a different payload */
    for (uint64_t done = 0; done < count;) {
        append_ctx a = {n, stream, payload_counter, count - done < 1000 ? count - done : 1000};
        payload_counter += a.count;
        assert_ok(jet_store_write(jet_node_store(n), append_txn, &a));
        done += a.count;
    }
}

typedef struct log_state {
    uint32_t stream;
    const uint8_t *origin;
    uint64_t seq;
    uint64_t epoch;
    uint8_t digest[32];
} log_state;

static int find_log(const jet_vv_entry *e, void *arg) {
    log_state *l = arg;
    if (e->stream == l->stream && memcmp(e->origin, l->origin, 32) == 0) {
        l->seq = e->seq;
        l->epoch = e->epoch;
    }
    return 0;
}

static int log_state_txn(jet_txn *txn, void *arg) {
    log_state *l = arg;
    l->seq = 0;
    int rc = jet_vv_scan(txn, l->stream, find_log, l);
    if (rc == 0 && l->seq > 0)
        rc = jet_log_digest(txn, l->stream, l->origin, l->epoch, l->seq, l->digest);
    return rc;
}

/* What `holder` has of `origin`'s log of `stream` (its newest epoch seen). */
static log_state log_of(jet_node *holder, jet_node *origin, uint32_t stream) {
    log_state l;
    memset(&l, 0, sizeof l);
    l.stream = stream;
    l.origin = jet_node_public_key(origin);
    assert_ok(jet_store_read(jet_node_store(holder), log_state_txn, &l));
    l.origin = NULL;
    return l;
}

static void assert_same_log(jet_node *a, jet_node *b, jet_node *origin, uint32_t stream,
                            uint64_t want_seq) {
    log_state la = log_of(a, origin, stream), lb = log_of(b, origin, stream);
    assert_int_equal(la.seq, want_seq);
    assert_int_equal(lb.seq, want_seq);
    assert_memory_equal(la.digest, lb.digest, 32);
}

/* ---- the daemon ------------------------------------------------------------------------ */

typedef struct daemon_proc {
    pid_t pid;
    char addr[160];
} daemon_proc;

static daemon_proc start_daemon(jet_node *n) {
    daemon_proc d;
    memset(&d, 0, sizeof d);
    int out[2];
    assert_int_equal(pipe(out), 0);
    char logpath[4300];
    snprintf(logpath, sizeof logpath, "%s/daemon.log", jet_node_home(n));
    d.pid = fork();
    assert_true(d.pid >= 0);
    if (d.pid == 0) {
        dup2(out[1], 1);
        int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (logfd >= 0)
            dup2(logfd, 2);
        close(out[0]);
        execl(JET_BINARY_DIR "/server/jetsyncd", "jetsyncd", "--home", jet_node_home(n),
              "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[128];
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t r = read(out[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    assert_prefix(line, "listening ");
    snprintf(d.addr, sizeof d.addr, "%s", line + 10);
    return d;
}

static void stop_daemon(daemon_proc *d, int sig) {
    if (d->pid <= 0)
        return;
    kill(d->pid, sig);
    int status = 0;
    waitpid(d->pid, &status, 0);
    if (sig == SIGTERM) {
        /* A clean stop exits 0. */
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    d->pid = 0;
}

/* ---- the initiator --------------------------------------------------------------------- */

typedef struct sync_result {
    int code;
    char reason[512];
    jet_session_stats st;
    int done;
} sync_result;

static void sync_done(const jet_peer *peer, int code, const char *reason,
                      const jet_session_stats *st, void *arg) {
    sync_result *r = arg;
    r->code = code;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->st = *st;
    r->done = 1;
}

typedef struct killer {
    uv_timer_t timer;
    daemon_proc *victim;
} killer;

static void on_kill(uv_timer_t *t) {
    killer *k = t->data;
    if (k->victim->pid > 0) {
        kill(k->victim->pid, SIGKILL);
        waitpid(k->victim->pid, NULL, 0);
        k->victim->pid = 0;
    }
}

static int find_peer_txn(jet_txn *txn, void *arg) {
    jet_peer *p = arg;
    return jet_peers_get(txn, p->name, p);
}

/* Runs one session from `n` with its peer `name`; kills `victim` after kill_ms if given. */
static sync_result sync_with(jet_node *n, const char *name, daemon_proc *victim,
                             unsigned kill_ms) {
    sync_result r;
    memset(&r, 0, sizeof r);
    jet_peer peer;
    memset(&peer, 0, sizeof peer);
    snprintf(peer.name, sizeof peer.name, "%s", name);
    assert_ok(jet_store_read(jet_node_store(n), find_peer_txn, &peer));
    uv_loop_t loop;
    uv_loop_init(&loop);
    jet_peering peering;
    jet_peering_init(&peering, n, &loop);
    jet_syncer_callbacks cb = {NULL, sync_done, &r};
    assert_ok(jet_syncer_start(&peering, &peer, &cb, NULL));
    killer k;
    if (victim != NULL) {
        uv_timer_init(&loop, &k.timer);
        k.timer.data = &k;
        k.victim = victim;
        uv_timer_start(&k.timer, on_kill, kill_ms, 0);
    }
    while (!r.done)
        uv_run(&loop, UV_RUN_ONCE);
    if (victim != NULL)
        uv_close((uv_handle_t *)&k.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    jet_peering_fini(&peering);
    return r;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void setup_dirs(void) {
    if (base_dir[0] != '\0')
        return;
    snprintf(base_dir, sizeof base_dir, "%s", jt_tempdir());
    snprintf(netkey_path, sizeof netkey_path, "%s/network.key", base_dir);
}

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
static void test_fork_refused(void **state) {
    (void)state;
    setup_dirs();
    jet_node *L = make_node("fork-L", "SE-Y", 1), *A = make_node("fork-A", "IT-25", 0);
    add_peer(L, "A", A, JET_ROLE_REGION, NULL);
    daemon_proc d = start_daemon(L);
    add_peer(A, "Lead", L, JET_ROLE_LEAD, d.addr);
    append_markers(A, JET_STREAM_TOOLKIT, 3);
    /* The backup: a copy of A's home with 3 records. */
    char cmd[9000], backup[4300];
    snprintf(backup, sizeof backup, "%s/fork-A-backup", base_dir);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", jet_node_home(A), backup);
    assert_int_equal(system(cmd), 0);
    append_markers(A, JET_STREAM_TOOLKIT, 4); /* 7 records, synced to the lead */
    assert_ok(sync_with(A, "Lead", NULL, 0).code);
    log_state before = log_of(L, A, JET_STREAM_TOOLKIT);
    assert_int_equal(before.seq, 7);

    /* Restored from the backup, A writes 6 new, different records: seqs 4..9 collide. */
    jet_node *R = NULL;
    assert_ok(jet_node_open(backup, &R, NULL));
    append_markers(R, JET_STREAM_TOOLKIT, 6); /* seqs 4..9 with other payloads than A's */
    sync_result r = sync_with(R, "Lead", NULL, 0);
    assert_true(r.code != 0);
    if (strstr(r.reason, "fork") == NULL)
        print_error("reason: %s\n", r.reason);
    assert_non_null(strstr(r.reason, "fork"));
    log_state after = log_of(L, A, JET_STREAM_TOOLKIT);
    assert_int_equal(after.seq, 7);
    assert_memory_equal(after.digest, before.digest, 32);
    stop_daemon(&d, SIGTERM);
    jet_node_free(R);
    jet_node_free(L);
    jet_node_free(A);
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
    assert_true(lead_last_accepted(L, "A") > ahead);
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
    uint64_t lead_saw = lead_last_accepted(L2, "A");
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
    assert_true(lead_last_accepted(L2, "A") > lead_saw);
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
    assert_false(jet_policy_may_accept(JET_STREAM_STATS, other, 1, &region)); /* relayed */
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
        cmocka_unit_test(test_handshake_counter),
        cmocka_unit_test(test_resume_after_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
