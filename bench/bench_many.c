/* bench_many.c - benchmark 3 of issue 5: many regions syncing with one lead at the same time,
 * driven from one process so that the figure measures the lead, not 300 process start-ups.
 *
 *   bench_many [--lead-addr HOST:PORT] [--nosync] [--timeout SECONDS] [--homes-from FILE]
 *              [--homes] HOME...
 *
 * Opens every region home (configuration, identity, LMDB store) before anything is timed, then,
 * on one libuv loop, starts one initiator job (common/syncer.h, the code `jetsync sync` runs)
 * for each peer of each home that has an address (or, with --lead-addr, for each peer, at that
 * address), all at once, and runs the loop until every job has ended. Measured: the wall time
 * from the first connect to the last completion, each job's time from its connect to its end
 * (fastest, median, 90th percentile, slowest), of which connect + handshake (until the session
 * started) and the session itself, failures with their reasons, records and bytes
 * both ways, and this process's CPU time over the run (the regions' share of the machine).
 *
 * --nosync opens the region stores without fsync (JETSYNC_NOSYNC=1): the regions stand for 300
 * other machines, each with its own disk, so their durable commits must not queue on this one.
 * The lead is a separate jetsyncd and keeps its own durability.
 *
 * Prints one JSON line on stdout (the bench script parses it); exits 0 when every job
 * completed, 1 when any failed, 2 on bad usage or a home that does not open. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "error.h"
#include "log.h"
#include "node.h"
#include "peering.h"
#include "peers.h"
#include "syncer.h"

static const char usage[] =
    "usage: bench_many [--lead-addr HOST:PORT] [--nosync] [--timeout SECONDS]\n"
    "                  [--homes-from FILE] [--homes] HOME...\n"
    "  Opens every region home, then runs one sync with each of their peers, all at once on\n"
    "  one loop; prints one JSON line (wall time, per-session times, failures, records).\n";

enum { DEFAULT_TIMEOUT_S = 600, MAX_REASON = 256 };

/* One initiator job: a peer of a home. */
typedef struct job {
    size_t home;
    jet_peer peer;
    jet_syncer *syncer; /* NULL once done */
    uint64_t t_start, t_end;
    int code;
    char reason[MAX_REASON];
    jet_session_stats stats;
} job;

/* One opened home; `peering` must not move while channels use it. */
typedef struct home {
    const char *dir;
    int owned; /* dir was allocated (read from --homes-from) */
    jet_node *node;
    jet_peering peering;
    int peering_ready;
} home;

typedef struct run {
    home *homes;
    size_t nhomes;
    job *jobs;
    size_t njobs, cap;
    size_t running;
    size_t cur_home;
    const char *lead_addr;
    uv_timer_t timer;
} run;

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int add_home(run *r, size_t *cap, const char *dir, int owned) {
    if (r->nhomes == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        home *a = realloc(r->homes, n * sizeof *a);
        if (a == NULL)
            return JET_ENOMEM;
        r->homes = a;
        *cap = n;
    }
    memset(&r->homes[r->nhomes], 0, sizeof r->homes[0]);
    r->homes[r->nhomes].dir = dir;
    r->homes[r->nhomes++].owned = owned;
    return 0;
}

/* Reads one home per line (blank lines skipped); the strings are kept until exit. */
static int read_homes(run *r, size_t *cap, const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_many: %s: cannot open\n", path);
        return JET_EIO;
    }
    char buf[4096];
    int rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f) != NULL) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0] == '\0')
            continue;
        char *dir = strdup(buf);
        rc = dir != NULL ? add_home(r, cap, dir, 1) : JET_ENOMEM;
        if (rc != 0)
            free(dir);
    }
    fclose(f);
    return rc;
}

static int collect_peer(const jet_peer *p, void *arg) {
    run *r = arg;
    if (p->revoked || (r->lead_addr == NULL && p->addr[0] == '\0'))
        return 0;
    if (r->njobs == r->cap) {
        size_t n = r->cap ? r->cap * 2 : 64;
        job *a = realloc(r->jobs, n * sizeof *a);
        if (a == NULL)
            return JET_ENOMEM;
        r->jobs = a;
        r->cap = n;
    }
    job *j = &r->jobs[r->njobs++];
    memset(j, 0, sizeof *j);
    j->home = r->cur_home;
    j->peer = *p;
    if (r->lead_addr != NULL)
        snprintf(j->peer.addr, sizeof j->peer.addr, "%s", r->lead_addr);
    return 0;
}

static int collect_txn(jet_txn *txn, void *arg) {
    return jet_peers_each(txn, collect_peer, arg);
}

static void on_timer_closed(uv_handle_t *h) {
    (void)h;
}

/* The callbacks' arg: the job and the run it counts in. */
typedef struct done_ctx {
    run *r;
    job *j;
} done_ctx;

static void on_done(const jet_peer *peer, int code, const char *reason,
                    const jet_session_stats *st, void *arg) {
    (void)peer;
    done_ctx *d = arg;
    job *j = d->j;
    j->t_end = uv_hrtime();
    j->code = code;
    snprintf(j->reason, sizeof j->reason, "%s", code == 0 ? "" : reason);
    j->stats = *st;
    j->syncer = NULL;
    if (--d->r->running == 0 && !uv_is_closing((uv_handle_t *)&d->r->timer))
        uv_close((uv_handle_t *)&d->r->timer, on_timer_closed);
}

/* The time limit: every job still running is cancelled (its done runs with JET_ECANCELED). */
static void on_timeout(uv_timer_t *t) {
    run *r = t->data;
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i].syncer != NULL)
            jet_syncer_cancel(r->jobs[i].syncer);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pick(const double *v, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Prints the summary line; returns the number of failed jobs. */
static size_t report(const run *r, uint64_t t0, uint64_t t1, double open_s, double cpu_s) {
    size_t failed = 0;
    uint64_t sr = 0, sb = 0, rr = 0, rb = 0, stored = 0;
    double *times = calloc(r->njobs ? r->njobs : 1, sizeof *times);
    double *sess = calloc(r->njobs ? r->njobs : 1, sizeof *sess);
    double *conn = calloc(r->njobs ? r->njobs : 1, sizeof *conn);
    size_t nconn = 0;
    json_t *fails = json_array();
    for (size_t i = 0; i < r->njobs; i++) {
        const job *j = &r->jobs[i];
        times[i] = (double)(j->t_end - j->t_start) / 1e9;
        sess[i] = j->stats.elapsed;
        /* The session's start (CLOCK_MONOTONIC, like uv_hrtime) ends connect + handshake. */
        if (j->stats.started > 0)
            conn[nconn++] = j->stats.started - (double)j->t_start / 1e9;
        sr += j->stats.sent_records;
        sb += j->stats.sent_bytes;
        rr += j->stats.recv_records;
        rb += j->stats.recv_bytes;
        stored += j->stats.stored_records;
        if (j->code != 0) {
            failed++;
            json_array_append_new(fails, json_pack("{s:s, s:s, s:s}", "home",
                                                   r->homes[j->home].dir, "peer", j->peer.name,
                                                   "reason", j->reason));
        }
    }
    qsort(times, r->njobs, sizeof *times, cmp_double);
    qsort(sess, r->njobs, sizeof *sess, cmp_double);
    qsort(conn, nconn, sizeof *conn, cmp_double);
    json_t *o = json_object();
    json_object_set_new(o, "homes", json_integer((json_int_t)r->nhomes));
    json_object_set_new(o, "sessions", json_integer((json_int_t)r->njobs));
    json_object_set_new(o, "complete", json_integer((json_int_t)(r->njobs - failed)));
    json_object_set_new(o, "failed", json_integer((json_int_t)failed));
    json_object_set_new(o, "open_s", json_real(open_s));
    json_object_set_new(o, "wall_s", json_real((double)(t1 - t0) / 1e9));
    /* CLOCK_MONOTONIC of the start, to line the run up with a profile (perf -k CLOCK_MONOTONIC). */
    json_object_set_new(o, "start_monotonic_s", json_real((double)t0 / 1e9));
    json_object_set_new(o, "fastest_s", json_real(pick(times, r->njobs, 0)));
    json_object_set_new(o, "median_s", json_real(pick(times, r->njobs, 0.5)));
    json_object_set_new(o, "p90_s", json_real(pick(times, r->njobs, 0.9)));
    json_object_set_new(o, "slowest_s", json_real(pick(times, r->njobs, 1)));
    json_object_set_new(o, "connect_median_s", json_real(pick(conn, nconn, 0.5)));
    json_object_set_new(o, "connect_slowest_s", json_real(pick(conn, nconn, 1)));
    json_object_set_new(o, "session_median_s", json_real(pick(sess, r->njobs, 0.5)));
    json_object_set_new(o, "session_slowest_s", json_real(pick(sess, r->njobs, 1)));
    json_object_set_new(o, "sent_records", json_integer((json_int_t)sr));
    json_object_set_new(o, "sent_bytes", json_integer((json_int_t)sb));
    json_object_set_new(o, "recv_records", json_integer((json_int_t)rr));
    json_object_set_new(o, "recv_bytes", json_integer((json_int_t)rb));
    json_object_set_new(o, "stored_records", json_integer((json_int_t)stored));
    json_object_set_new(o, "driver_cpu_s", json_real(cpu_s));
    json_object_set_new(o, "failures", fails);
    char *text = json_dumps(o, JSON_COMPACT);
    if (text != NULL)
        puts(text);
    fflush(stdout);
    free(text);
    json_decref(o);
    free(times);
    free(sess);
    free(conn);
    return failed;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"lead-addr", required_argument, NULL, 'a'},
                                         {"nosync", no_argument, NULL, 'n'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"homes-from", required_argument, NULL, 'f'},
                                         {"homes", no_argument, NULL, 'H'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    run r;
    memset(&r, 0, sizeof r);
    size_t hcap = 0;
    double timeout_s = DEFAULT_TIMEOUT_S;
    int c, status = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a')
            r.lead_addr = optarg;
        else if (c == 'n')
            setenv("JETSYNC_NOSYNC", "1", 1);
        else if (c == 't')
            timeout_s = atof(optarg);
        else if (c == 'f') {
            if (read_homes(&r, &hcap, optarg) != 0)
                goto out;
        } else if (c == 'H')
            continue; /* the homes are the operands */
        else if (c == 'h')
            return fputs(usage, stdout), 0;
        else
            return fputs(usage, stderr), 2;
    }
    for (int i = optind; i < argc; i++)
        if (add_home(&r, &hcap, argv[i], 0) != 0)
            goto out;
    if (r.nhomes == 0 || timeout_s <= 0) {
        fputs(usage, stderr);
        goto out;
    }
    if (getenv("JETSYNC_LOG") == NULL)
        jet_log_set_level(JET_LOG_WARN);
    raise_nofile();

    /* Untimed: open every home and list its peers. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint64_t o0 = uv_hrtime();
    for (size_t i = 0; i < r.nhomes; i++) {
        home *h = &r.homes[i];
        jet_diag diag;
        jet_diag_clear(&diag);
        int rc = jet_node_open(h->dir, &h->node, &diag);
        if (rc == 0) {
            r.cur_home = i;
            rc = jet_store_read(jet_node_store(h->node), collect_txn, &r);
        }
        if (rc != 0) {
            fprintf(stderr, "bench_many: %s: %s (%zu homes open)\n", h->dir,
                    jet_diag_message(&diag, rc), i);
            goto close;
        }
        jet_peering_init(&h->peering, h->node, &loop);
        h->peering_ready = 1;
    }
    double open_s = (double)(uv_hrtime() - o0) / 1e9;
    if (r.njobs == 0) {
        fprintf(stderr, "bench_many: no peer with an address in any home\n");
        goto close;
    }
    done_ctx *ctx = calloc(r.njobs, sizeof *ctx);
    if (ctx == NULL)
        goto close;
    uv_timer_init(&loop, &r.timer);
    r.timer.data = &r;

    /* Timed: start every job, then run the loop until the last one ends. */
    double cpu0 = cpu_now();
    uint64_t t0 = uv_hrtime();
    for (size_t i = 0; i < r.njobs; i++) {
        job *j = &r.jobs[i];
        ctx[i].r = &r;
        ctx[i].j = j;
        jet_syncer_callbacks cb = {NULL, on_done, &ctx[i]};
        j->t_start = uv_hrtime();
        int rc = jet_syncer_start(&r.homes[j->home].peering, &j->peer, &cb, &j->syncer);
        if (rc != 0) {
            j->t_end = uv_hrtime();
            j->code = rc;
            snprintf(j->reason, sizeof j->reason, "could not start: %s", jet_strerror(rc));
            j->syncer = NULL;
            continue;
        }
        r.running++;
    }
    if (r.running > 0)
        uv_timer_start(&r.timer, on_timeout, (uint64_t)(timeout_s * 1000), 0);
    else
        uv_close((uv_handle_t *)&r.timer, on_timer_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t t1 = 0;
    for (size_t i = 0; i < r.njobs; i++)
        if (r.jobs[i].t_end > t1)
            t1 = r.jobs[i].t_end;
    double cpu_s = cpu_now() - cpu0;
    status = report(&r, t0, t1, open_s, cpu_s) == 0 ? 0 : 1;
    free(ctx);

close:
    for (size_t i = 0; i < r.nhomes; i++) {
        if (r.homes[i].peering_ready)
            jet_peering_fini(&r.homes[i].peering);
        jet_node_free(r.homes[i].node);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
out:
    for (size_t i = 0; i < r.nhomes; i++)
        if (r.homes[i].owned)
            free((char *)r.homes[i].dir);
    free(r.jobs);
    free(r.homes);
    return status;
}
