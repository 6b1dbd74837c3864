/* cmd_sync.c - jetsync sync: one session with each configured peer that has an address. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "log.h"
#include "commands.h"
#include "peering.h"
#include "peers.h"
#include "syncer.h"

static const char sync_usage[] =
    "usage: jetsync sync --home DIR [--peer NAME]\n"
    "  Runs one sync session with each peer that has an address (or only NAME): sends what the\n"
    "  peer lacks and receives what this node lacks. Shows progress on a terminal and one line\n"
    "  per peer otherwise; exits non-zero naming each peer that failed.\n";

typedef struct sync_run {
    jet_peer *peers;
    size_t npeers, cap;
    const char *only;
    int failed;
    int running;
    int tty;
    char failed_names[1024];
} sync_run;

static int collect_peer(const jet_peer *p, void *arg) {
    sync_run *r = arg;
    if (p->revoked || (r->only != NULL && strcmp(p->name, r->only) != 0))
        return 0;
    if (r->only == NULL && p->addr[0] == '\0')
        return 0;
    if (r->npeers == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        jet_peer *a = realloc(r->peers, cap * sizeof *a);
        if (a == NULL)
            return JET_ENOMEM;
        r->peers = a;
        r->cap = cap;
    }
    r->peers[r->npeers++] = *p;
    return 0;
}

static int collect_txn(jet_txn *txn, void *arg) {
    sync_run *r = arg;
    r->npeers = 0;
    return jet_peers_each(txn, collect_peer, r);
}

static void human_bytes(uint64_t b, char *out, size_t len) {
    if (b >= 10u << 20)
        snprintf(out, len, "%.1f MiB", (double)b / 1048576.0);
    else if (b >= 10u << 10)
        snprintf(out, len, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(out, len, "%llu B", (unsigned long long)b);
}

static void on_progress(const jet_peer *peer, const jet_session_stats *st, void *arg) {
    sync_run *r = arg;
    if (!r->tty)
        return;
    uint64_t done = st->sent_bytes + st->recv_bytes;
    uint64_t total = st->plan_send_bytes + st->plan_recv_bytes;
    double rate = st->elapsed > 0 ? (double)done / st->elapsed : 0;
    char d[32], t[32], rt[32];
    human_bytes(done, d, sizeof d);
    human_bytes(total, t, sizeof t);
    human_bytes((uint64_t)rate, rt, sizeof rt);
    double left = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%s: %llu/%llu records, %s/%s, %s/s, %.0f s left   ", peer->name,
            (unsigned long long)(st->sent_records + st->recv_records),
            (unsigned long long)(st->plan_send_records + st->plan_recv_records), d, t, rt, left);
    fflush(stderr);
}

static void on_done(const jet_peer *peer, int code, const char *reason,
                    const jet_session_stats *st, void *arg) {
    sync_run *r = arg;
    r->running--;
    if (r->tty)
        fprintf(stderr, "\r\033[K");
    if (code == 0) {
        char sb[32], rb[32];
        human_bytes(st->sent_bytes, sb, sizeof sb);
        human_bytes(st->recv_bytes, rb, sizeof rb);
        printf("%s: complete: sent %llu records (%s), received %llu records (%s, %llu new) in "
               "%.2f s\n",
               peer->name, (unsigned long long)st->sent_records, sb,
               (unsigned long long)st->recv_records, rb,
               (unsigned long long)st->stored_records, st->elapsed);
    } else {
        printf("%s: failed: %s\n", peer->name, reason);
        r->failed++;
        size_t used = strlen(r->failed_names);
        snprintf(r->failed_names + used, sizeof r->failed_names - used, "%s%s",
                 used ? ", " : "", peer->name);
    }
    fflush(stdout);
}

int cmd_sync_main(int argc, char **argv) {
    static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                         {"peer", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *home_opt = NULL;
    sync_run r;
    memset(&r, 0, sizeof r);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'H')
            home_opt = optarg;
        else if (c == 'p')
            r.only = optarg;
        else if (c == 'h')
            return fputs(sync_usage, stdout), 0;
        else
            return cli_usage(sync_usage);
    }
    if (optind != argc)
        return cli_usage(sync_usage);
    if (getenv("JETSYNC_LOG") == NULL)
        jet_log_set_level(JET_LOG_WARN); /* the summary lines say what happened */
    jet_node *node = cli_open_node(home_opt);
    if (node == NULL)
        return 1;
    int rc = jet_store_read(jet_node_store(node), collect_txn, &r);
    int status = 0;
    if (rc != 0) {
        status = cli_fail_code("sync", rc, NULL);
    } else if (r.only != NULL && r.npeers == 0) {
        status = cli_fail("sync: no active peer named '%s'", r.only);
    } else if (r.only != NULL && r.peers[0].addr[0] == '\0') {
        status = cli_fail("sync: peer '%s' has no address (jetsync peer add --addr HOST:PORT)",
                          r.only);
    } else if (r.npeers == 0) {
        printf("no peers with an address to sync with (add one with 'jetsync peer add --addr')\n");
    } else {
        uv_loop_t loop;
        uv_loop_init(&loop);
        jet_peering peering;
        jet_peering_init(&peering, node, &loop);
        r.tty = isatty(STDERR_FILENO);
        jet_syncer_callbacks cb = {on_progress, on_done, &r};
        for (size_t i = 0; i < r.npeers; i++) {
            rc = jet_syncer_start(&peering, &r.peers[i], &cb, NULL);
            if (rc == 0) {
                r.running++;
                continue;
            }
            printf("%s: failed: %s\n", r.peers[i].name, jet_strerror(rc));
            r.failed++;
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        jet_peering_fini(&peering);
        if (r.failed > 0)
            status = cli_fail("sync failed with %d peer(s): %s", r.failed, r.failed_names);
    }
    free(r.peers);
    jet_node_free(node);
    return status;
}
