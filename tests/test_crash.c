/* test_crash.c - kill -9 in the middle of a stream of write transactions, many times.
 *
 * Each round forks a child that opens a store and appends records in transactions of
 * CRASH_PER_TXN (real, durable commits: JETSYNC_NOSYNC is never set here), reporting the last
 * committed seq through a pipe after each commit. The parent kills it with SIGKILL after a random
 * delay, then reopens the store and checks that it opens, that the version vector equals the
 * number of records in the log, that records 1..n are contiguous and each verifies, that no
 * transaction was half applied (n is a multiple of CRASH_PER_TXN), and that n is at least the
 * last seq the child reported as committed. A store lives for several rounds, so children also
 * start on a store whose previous writer was killed, and the parent writes to it too.
 *
 * CRASH_ROUNDS and CRASH_SEED in the environment override the number of rounds and the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

#include "encoding.h"
#include "record.h"
#include "store.h"
#include "testutil.h"

enum {
    CRASH_ROUNDS = 60,        /* default number of kills */
    CRASH_PER_TXN = 50,       /* records per write transaction */
    CRASH_ROUNDS_PER_STORE = 4,
    CRASH_MAX_DELAY_US = 100000,
};

#define CRASH_STREAM JET_STREAM_FIGURES
#define CRASH_KIND 9u

static uint8_t crash_pk[32], crash_sk[64];

/* The payload of record `seq`: 8 to 23 bytes derived from seq. */
static size_t crash_payload(uint64_t seq, uint8_t out[32]) {
    size_t n = 8 + (size_t)(seq % 16);
    jet_put_be64(out, seq);
    for (size_t i = 8; i < n; i++)
        out[i] = (uint8_t)(seq * 31 + i);
    return n;
}

typedef struct child_ctx {
    uint64_t last; /* last seq appended in the transaction */
} child_ctx;

static int child_txn(jet_txn *txn, void *arg) {
    child_ctx *c = arg;
    uint64_t epoch, have;
    int rc = jet_log_own_epoch(txn, &epoch);
    if (rc == 0)
        rc = jet_vv_get(txn, CRASH_STREAM, crash_pk, epoch, &have);
    for (int i = 0; rc == 0 && i < CRASH_PER_TXN; i++) {
        uint8_t payload[32];
        size_t n = crash_payload(have + 1 + (uint64_t)i, payload);
        rc = jet_record_append(txn, crash_sk, CRASH_STREAM, CRASH_KIND, payload, n, &c->last);
    }
    return rc;
}

/* The child: append until killed. Never returns into cmocka. */
static void child_main(const char *dir, int fd) {
    jet_store *s = NULL;
    if (jet_store_open(dir, &s) != 0)
        _exit(3);
    for (int t = 0; t < 100000; t++) {
        child_ctx c = {0};
        if (jet_store_write(s, child_txn, &c) != 0)
            _exit(4);
        if (write(fd, &c.last, sizeof c.last) != (ssize_t)sizeof c.last)
            _exit(5);
    }
    _exit(6); /* never killed: the parent reports it */
}

typedef struct check_ctx {
    uint64_t logs;      /* version vector entries */
    uint64_t vv;        /* the one entry's seq */
    uint64_t epoch;
    uint64_t records;   /* records in the log */
    uint64_t verified;  /* records whose signature and content were checked */
    int bad;
    char why[256];
} check_ctx;

static int check_vv_one(const jet_vv_entry *e, void *arg) {
    check_ctx *c = arg;
    c->logs++;
    c->vv = e->seq;
    c->epoch = e->epoch;
    if (e->stream != CRASH_STREAM || memcmp(e->origin, crash_pk, 32) != 0) {
        c->bad++;
        snprintf(c->why, sizeof c->why, "an unexpected log in the version vector");
    }
    return 0;
}

static int check_record_one(const void *key, size_t klen, const void *val, size_t vlen,
                            void *arg) {
    check_ctx *c = arg;
    uint64_t want = c->records + 1;
    jet_record r;
    uint8_t payload[32], k[JET_LOG_KEY];
    c->records++;
    jet_log_key(k, CRASH_STREAM, crash_pk, c->epoch, want);
    if (klen != JET_LOG_KEY || memcmp(key, k, JET_LOG_KEY) != 0) {
        snprintf(c->why, sizeof c->why, "log key %llu is not the next one",
                 (unsigned long long)want);
        c->bad++;
        return 1;
    }
    size_t n = crash_payload(want, payload);
    if (jet_record_decode(val, vlen, &r) != 0 || jet_record_verify(&r) != 0 || r.seq != want ||
        r.epoch != c->epoch || r.kind != CRASH_KIND || r.payload_len != n ||
        memcmp(r.payload, payload, n) != 0) {
        snprintf(c->why, sizeof c->why, "record %llu does not verify",
                 (unsigned long long)want);
        c->bad++;
        return 1;
    }
    c->verified++;
    return 0;
}

static int check_txn(jet_txn *txn, void *arg) {
    check_ctx *c = arg;
    int rc = jet_vv_scan(txn, 0, check_vv_one, c);
    if (rc != 0 || c->logs == 0)
        return rc;
    /* Every key of the LOG database, in order: exactly records 1..n of the one log. */
    rc = jet_txn_scan(txn, JET_DB_LOG, NULL, 0, NULL, 0, check_record_one, c);
    if (rc == 0 && c->bad == 0) {
        uint8_t digest[32];
        rc = jet_log_digest(txn, CRASH_STREAM, crash_pk, c->epoch, c->vv, digest);
    }
    return rc;
}

/* Reopens the store and checks it; returns n, the records it holds. */
static uint64_t check_store(const char *dir, uint64_t reported, uint64_t *verified) {
    jet_store *s = NULL;
    assert_ok(jet_store_open(dir, &s));
    check_ctx c;
    memset(&c, 0, sizeof c);
    assert_ok(jet_store_read(s, check_txn, &c));
    if (c.bad != 0) {
        print_error("store %s: %s\n", dir, c.why);
        fail();
    }
    assert_true(c.logs <= 1);
    assert_int_equal(c.vv, c.records);              /* the vector matches the log */
    assert_int_equal(c.records % CRASH_PER_TXN, 0); /* no transaction half applied */
    if (c.records < reported) {
        print_error("store %s holds %llu records, the child committed %llu\n", dir,
                    (unsigned long long)c.records, (unsigned long long)reported);
        fail();
    }
    /* At most the one transaction whose commit the child could not report yet. */
    assert_true(c.records <= reported + CRASH_PER_TXN);
    jet_store_free(s);
    *verified += c.verified;
    return c.records;
}

typedef struct parent_ctx {
    uint64_t seq;
} parent_ctx;

static int parent_txn(jet_txn *txn, void *arg) {
    child_ctx c = {0};
    int rc = child_txn(txn, &c);
    ((parent_ctx *)arg)->seq = c.last;
    return rc;
}

static uint64_t env_u64(const char *name, uint64_t dflt) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? strtoull(v, NULL, 10) : dflt;
}

static void test_crash(void **state) {
    (void)state;
    unsigned rounds = (unsigned)env_u64("CRASH_ROUNDS", CRASH_ROUNDS);
    uint64_t seed = env_u64("CRASH_SEED", (uint64_t)time(NULL));
    unsigned short xs[3] = {(unsigned short)seed, (unsigned short)(seed >> 16),
                            (unsigned short)(seed >> 32)};
    print_message("    seed %llu (CRASH_SEED=%llu to repeat), %u rounds\n",
                  (unsigned long long)seed, (unsigned long long)seed, rounds);
    uint8_t key_seed[32];
    memset(key_seed, 0x42, sizeof key_seed);
    crypto_sign_seed_keypair(crash_pk, crash_sk, key_seed);
    unsetenv("JETSYNC_NOSYNC"); /* durable commits only */

    const char *base = jt_tempdir();
    char dir[512] = "";
    uint64_t expect = 0; /* records the current store must hold at least */
    uint64_t total_verified = 0, total_records = 0, killed_before_commit = 0;
    for (unsigned round = 0; round < rounds; round++) {
        if (round % CRASH_ROUNDS_PER_STORE == 0) {
            if (dir[0] != '\0')
                jt_rmtree(dir);
            char name[32];
            snprintf(name, sizeof name, "store%u", round);
            jt_subdir(base, name, dir, sizeof dir);
            jet_store *s = NULL;
            assert_ok(jet_store_create(dir, &s));
            jet_store_free(s);
            expect = 0;
        }
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, fds[1]);
        }
        close(fds[1]);
        /* A few rounds kill almost at once (while the child opens the store). */
        long delay_us = round % 10 == 3 ? nrand48(xs) % 2000
                                        : 1000 + nrand48(xs) % (CRASH_MAX_DELAY_US - 1000);
        struct timespec ts = {0, delay_us * 1000};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            print_error("round %u: the child ended on its own (status 0x%x)\n", round, status);
            fail();
        }
        uint64_t reported = expect, v;
        while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
            reported = v;
        close(fds[0]);
        if (reported == expect)
            killed_before_commit++;

        uint64_t n = check_store(dir, reported, &total_verified);
        total_records += n - expect;
        expect = n;

        /* Every other round the parent also writes to the store a writer was killed in (a
         * stale write lock or reader slot must not block it). alarm() bounds a hang. */
        if (round % 2 == 1) {
            jet_store *s = NULL;
            assert_ok(jet_store_open(dir, &s));
            parent_ctx p = {0};
            alarm(30);
            assert_ok(jet_store_write(s, parent_txn, &p));
            alarm(0);
            assert_int_equal(p.seq, n + CRASH_PER_TXN);
            jet_store_free(s);
            expect = check_store(dir, n + CRASH_PER_TXN, &total_verified);
        }
    }
    print_message("    %u rounds killed with SIGKILL (%llu before any commit), %llu records "
                  "appended, %llu record verifications, all consistent\n",
                  rounds, (unsigned long long)killed_before_commit,
                  (unsigned long long)total_records, (unsigned long long)total_verified);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
