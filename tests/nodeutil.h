/* nodeutil.h - nodes, a real jetsyncd and the in-process initiator, for integration tests
 * (header only; include after testutil.h). Used by test_session.c and test_daemon.c.
 *
 * - setup_dirs(): a temporary base folder and a network key path shared by the test's nodes.
 * - make_node(), add_peer(), set_peer_addr(): nodes made with the library, as `jetsync init`
 *   and `jetsync peer add` make them.
 * - append_markers(): kind-0 records (no view interprets them) in a node's own log.
 * - log_of(), assert_same_log(): what a node holds of a log, compared by digest.
 * - start_daemon(), stop_daemon(): the real jetsyncd of this build on 127.0.0.1:0, its log in
 *   HOME/daemon.log.
 * - sync_with(): one session from a node with one of its peers, the code `jetsync sync` runs;
 *   optionally SIGKILLs a daemon after a delay. */
#ifndef JET_NODEUTIL_H
#define JET_NODEUTIL_H

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

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

/* A node in base_dir/dir_name, with the network key at `netkey` (created if absent). */
static inline jet_node *make_node_net(const char *dir_name, const char *region, int lead,
                                      const char *netkey) {
    char home[4300];
    snprintf(home, sizeof home, "%s/%s", base_dir, dir_name);
    jet_node_init_options o = {dir_name, region, lead, netkey};
    jet_node *n = NULL;
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_node_init(home, &o, &n, &d);
    if (rc != 0)
        print_error("init %s: %s\n", home, d.msg);
    assert_ok(rc);
    return n;
}

/* A node of the test's network. */
static inline jet_node *make_node(const char *dir_name, const char *region, int lead) {
    return make_node_net(dir_name, region, lead, netkey_path);
}

typedef struct put_peer_ctx {
    jet_peer p;
} put_peer_ctx;

static inline int put_peer_txn(jet_txn *txn, void *arg) {
    return jet_peers_put(txn, &((put_peer_ctx *)arg)->p);
}

static inline void add_peer(jet_node *n, const char *name, jet_node *other, jet_role role,
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

static inline int revoke_txn(jet_txn *txn, void *arg) {
    jet_peer p;
    int rc = jet_peers_get(txn, arg, &p);
    if (rc != 0)
        return rc;
    p.revoked = 1;
    return jet_peers_put(txn, &p);
}

static inline int set_addr_txn(jet_txn *txn, void *arg) {
    const char **a = arg;
    jet_peer p;
    int rc = jet_peers_get(txn, a[0], &p);
    if (rc != 0)
        return rc;
    snprintf(p.addr, sizeof p.addr, "%s", a[1]);
    return jet_peers_put(txn, &p);
}

static inline void set_peer_addr(jet_node *n, const char *name, const char *addr) {
    const char *a[2] = {name, addr};
    assert_ok(jet_store_write(jet_node_store(n), set_addr_txn, a));
}

typedef struct append_ctx {
    jet_node *node;
    uint32_t stream;
    uint64_t first, count;
} append_ctx;

static inline int append_txn(jet_txn *txn, void *arg) {
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
static inline void append_markers(jet_node *n, uint32_t stream, uint64_t count) {
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

static inline int find_log(const jet_vv_entry *e, void *arg) {
    log_state *l = arg;
    if (e->stream == l->stream && memcmp(e->origin, l->origin, 32) == 0) {
        l->seq = e->seq;
        l->epoch = e->epoch;
    }
    return 0;
}

static inline int log_state_txn(jet_txn *txn, void *arg) {
    log_state *l = arg;
    l->seq = 0;
    int rc = jet_vv_scan(txn, l->stream, find_log, l);
    if (rc == 0 && l->seq > 0)
        rc = jet_log_digest(txn, l->stream, l->origin, l->epoch, l->seq, l->digest);
    return rc;
}

/* What `holder` has of `origin`'s log of `stream` (its newest epoch seen). */
static inline log_state log_of(jet_node *holder, jet_node *origin, uint32_t stream) {
    log_state l;
    memset(&l, 0, sizeof l);
    l.stream = stream;
    l.origin = jet_node_public_key(origin);
    assert_ok(jet_store_read(jet_node_store(holder), log_state_txn, &l));
    l.origin = NULL;
    return l;
}

static inline void assert_same_log(jet_node *a, jet_node *b, jet_node *origin, uint32_t stream,
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

/* Daemons started and not yet stopped: a failing assertion jumps past stop_daemon(), so the
 * test program stops whatever is left when it exits, and never leaves a jetsyncd behind. */
enum { NU_MAX_DAEMONS = 64 };
static pid_t nu_daemons[NU_MAX_DAEMONS];

static inline void nu_forget_daemon(pid_t pid) {
    for (int i = 0; i < NU_MAX_DAEMONS; i++)
        if (nu_daemons[i] == pid)
            nu_daemons[i] = 0;
}

static inline void nu_stop_left_daemons(void) {
    for (int i = 0; i < NU_MAX_DAEMONS; i++) {
        if (nu_daemons[i] > 0) {
            kill(nu_daemons[i], SIGKILL);
            waitpid(nu_daemons[i], NULL, 0);
            nu_daemons[i] = 0;
        }
    }
}

static inline void nu_remember_daemon(pid_t pid) {
    static int registered;
    if (!registered) {
        atexit(nu_stop_left_daemons);
        registered = 1;
    }
    for (int i = 0; i < NU_MAX_DAEMONS; i++) {
        if (nu_daemons[i] == 0) {
            nu_daemons[i] = pid;
            return;
        }
    }
}

static inline daemon_proc start_daemon(jet_node *n) {
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
    nu_remember_daemon(d.pid);
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

static inline void stop_daemon(daemon_proc *d, int sig) {
    if (d->pid <= 0)
        return;
    kill(d->pid, sig);
    int status = 0;
    waitpid(d->pid, &status, 0);
    nu_forget_daemon(d->pid);
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

static inline void sync_done(const jet_peer *peer, int code, const char *reason,
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

static inline void on_kill(uv_timer_t *t) {
    killer *k = t->data;
    if (k->victim->pid > 0) {
        kill(k->victim->pid, SIGKILL);
        waitpid(k->victim->pid, NULL, 0);
        nu_forget_daemon(k->victim->pid);
        k->victim->pid = 0;
    }
}

static inline int find_peer_txn(jet_txn *txn, void *arg) {
    jet_peer *p = arg;
    return jet_peers_get(txn, p->name, p);
}

/* Runs one session from `n` with `peer` (which need not be in its list); kills `victim` after
 * kill_ms if given. */
static inline sync_result sync_with_peer(jet_node *n, const jet_peer *peer, daemon_proc *victim,
                                         unsigned kill_ms) {
    sync_result r;
    memset(&r, 0, sizeof r);
    uv_loop_t loop;
    uv_loop_init(&loop);
    jet_peering peering;
    jet_peering_init(&peering, n, &loop);
    jet_syncer_callbacks cb = {NULL, sync_done, &r};
    assert_ok(jet_syncer_start(&peering, peer, &cb, NULL));
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

/* Runs one session from `n` with its peer `name`. */
static inline sync_result sync_with(jet_node *n, const char *name, daemon_proc *victim,
                                    unsigned kill_ms) {
    jet_peer peer;
    memset(&peer, 0, sizeof peer);
    snprintf(peer.name, sizeof peer.name, "%s", name);
    assert_ok(jet_store_read(jet_node_store(n), find_peer_txn, &peer));
    return sync_with_peer(n, &peer, victim, kill_ms);
}

static inline void setup_dirs(void) {
    if (base_dir[0] != '\0')
        return;
    snprintf(base_dir, sizeof base_dir, "%s", jt_tempdir());
    snprintf(netkey_path, sizeof netkey_path, "%s/network.key", base_dir);
}

#endif
