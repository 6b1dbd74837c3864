/* bench_import.c - import and protection of 1,000,000 count observations (issue 8's target:
 * under 20 s on the project's machine), timed per stage: parse (CSV -> observations), totals
 * (tables with every marginal), suppression (jet_sdc_protect), audit (jet_sdc_audit) and store
 * (signed chunk records appended in one write transaction).
 *
 *   bench_import [--small] [--areas N] [--keep DIR]
 *
 * The input is generated in memory with a fixed seed: 5 indicators x 2 periods x 4 school levels
 * x 2 sexes x 12,500 areas = 1,000,000 observations (10 tables of 187,515 cells with totals),
 * with realistic sparsity (early leavers and persistent absentees are mostly small counts, so
 * many cells are suppressed). --small uses 125 areas (10,000 observations). */
#include <ftw.h>
#include <getopt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdc.h"
#include "statcsv.h"
#include "stats.h"
#include "store.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: a fixed-seed generator, so every run imports the same data. */
static uint64_t rng_state = 0x4a45542d4344ULL; /* "JET-CD" */
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static char *generate(unsigned areas, size_t *len, size_t *nobs) {
    static const char *const ind[] = {"ENROLLED", "EARLY_LEAVERS", "PERSISTENT_ABSENCE", "RETAINED",
                                      "PROGRAMME_PARTICIPANTS"};
    static const char *const per[] = {"2023/24", "2024/25"};
    static const char *const lvl[] = {"ISCED1", "ISCED2", "ISCED3G", "ISCED3V"};
    static const char *const sex[] = {"F", "M"};
    size_t cap = (size_t)areas * 80 * 5 * 2 * 4 * 2 / 2 + 4096, off = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    *nobs = 0;
    off += (size_t)snprintf(buf, cap, "indicator;period;school_level;sex;area;value\n");
    for (size_t i = 0; i < 5; i++)
        for (size_t p = 0; p < 2; p++)
            for (size_t l = 0; l < 4; l++)
                for (size_t s = 0; s < 2; s++)
                    for (unsigned a = 0; a < areas; a++) {
                        uint64_t r = rnd();
                        long enrolled = 20 + (long)(r % 400);
                        long v;
                        if (i == 0)
                            v = enrolled;
                        else if (i == 1)
                            v = (long)((r >> 20) % 12); /* mostly small */
                        else if (i == 2)
                            v = enrolled / 10 + (long)((r >> 30) % 7) - 3;
                        else if (i == 3)
                            v = (long)((r >> 24) % 9);
                        else
                            v = (r >> 40) % 5 == 0 ? (long)((r >> 44) % 40) : 0;
                        if (v < 0)
                            v = 0;
                        if (cap - off < 128) {
                            cap *= 2;
                            char *nb = realloc(buf, cap);
                            if (nb == NULL) {
                                free(buf);
                                return NULL;
                            }
                            buf = nb;
                        }
                        off += (size_t)snprintf(buf + off, cap - off, "%s;%s;%s;%s;A%05u;%ld\n",
                                                ind[i], per[p], lvl[l], sex[s], a, v);
                        (*nobs)++;
                    }
    *len = off;
    return buf;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"small", no_argument, NULL, 's'},
                                         {"areas", required_argument, NULL, 'a'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    unsigned areas = 12500;
    const char *keep = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            areas = 125;
        else if (c == 'a')
            areas = (unsigned)strtoul(optarg, NULL, 10);
        else if (c == 'k')
            keep = optarg;
        else {
            fprintf(stderr, "usage: bench_import [--small] [--areas N] [--keep DIR]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || areas == 0)
        return 1;

    size_t len = 0, nobs = 0;
    char *csv = generate(areas, &len, &nobs);
    if (csv == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char dir[] = "/tmp/jetsync-bench-import-XXXXXX";
    const char *sdir = keep;
    if (sdir == NULL && mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (sdir == NULL)
        sdir = dir;
    jet_store *store = NULL;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    if (jet_store_create(sdir, &store) != 0) {
        fprintf(stderr, "cannot create a store in %s\n", sdir);
        return 1;
    }

    jet_stats_obs *obs = NULL;
    jet_stats_batch *batch = NULL;
    jet_sdc_options opt = {5, 1};
    jet_stats_summary sum;
    jet_diag diag;
    double t[6];
    int rc;
    jet_diag_clear(&diag);
    t[0] = now();
    rc = jet_statcsv_read_buffer("bench.csv", csv, len, JET_STATCSV_AUTO, &obs, NULL, &diag);
    t[1] = now();
    if (rc == 0)
        rc = jet_stats_batch_build(obs, &batch, &diag);
    t[2] = now();
    if (rc == 0)
        rc = jet_stats_batch_protect(batch, &opt, &diag);
    t[3] = now();
    if (rc == 0)
        rc = jet_stats_batch_audit(batch, &opt, &diag);
    t[4] = now();
    if (rc == 0)
        rc = jet_stats_batch_store(batch, store, sk, "SE-Y", (int64_t)time(NULL), &diag);
    t[5] = now();
    if (rc != 0) {
        fprintf(stderr, "bench_import: %s\n", jet_diag_message(&diag, rc));
        return 1;
    }
    jet_stats_batch_summary(batch, &sum);
    uint64_t bytes = 0;
    jet_store_size(store, &bytes);
    printf("bench_import: %zu observations (%zu CSV bytes) -> %zu releases, %zu cells with "
           "totals\n",
           nobs, len, sum.releases, sum.cells);
    printf("  parse       %8.3f s\n", t[1] - t[0]);
    printf("  totals      %8.3f s\n", t[2] - t[1]);
    printf("  suppression %8.3f s   (%zu cells suppressed, %zu of them small counts; %.2f %% of "
           "the total count)\n",
           t[3] - t[2], sum.suppressed, sum.primary,
           sum.total_mass ? 100.0 * (double)sum.suppressed_mass / (double)sum.total_mass : 0.0);
    printf("  audit       %8.3f s\n", t[4] - t[3]);
    printf("  store       %8.3f s   (%zu signed records in one transaction, store %.1f MB)\n",
           t[5] - t[4], sum.records, (double)bytes / 1e6);
    printf("  total       %8.3f s   %.0f observations/s   (target: 1,000,000 in < 20 s)\n",
           t[5] - t[0], (double)nobs / (t[5] - t[0]));
    jet_stats_batch_free(batch);
    jet_stats_obs_free(obs);
    jet_store_free(store);
    free(csv);
    if (keep == NULL)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
