/* bench_sdc.c - protection and audit of about 1,000,000 cells in realistic area tables.
 *
 * Tables are area x sex x school_level with totals. Area populations are log-normal (many
 * small municipalities, a few cities); counts are Poisson draws of population x level share x
 * an indicator rate (from enrolment down to rare events such as early leaving), so the small
 * tables are full of small counts and zeros. Prints the time of protect and audit separately,
 * cells/s, and the suppression figures. `--small` runs a quick version. Fixed seed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdc.h"

static uint64_t g_rng = 88172645463325252ull;

static double urand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((double)(g_rng >> 11) + 0.5) / 9007199254740992.0;
}

static double nrand(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }

static int64_t poisson(double lambda) {
    if (lambda > 30) {
        double x = lambda + sqrt(lambda) * nrand();
        return x < 0 ? 0 : (int64_t)(x + 0.5);
    }
    double l = exp(-lambda), p = 1;
    int64_t k = 0;
    do {
        k++;
        p *= urand();
    } while (p > l);
    return k - 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fills area x sex x level counts for one indicator rate, then every total. */
static void fill(jet_sdc_table *t, const double *pop, double rate) {
    static const double level_share[4] = {0.35, 0.30, 0.20, 0.15};
    unsigned na = t->size[0], c[3];
    memset(t->value, 0, t->ncells * sizeof *t->value);
    for (unsigned a = 0; a < na; a++)
        for (unsigned s = 0; s < 2; s++)
            for (unsigned l = 0; l < 4; l++) {
                int64_t v = poisson(pop[a] * 0.5 * level_share[l] * rate);
                for (unsigned m = 0; m < 8; m++) {
                    c[0] = (m & 1) ? na : a;
                    c[1] = (m & 2) ? 2 : s;
                    c[2] = (m & 4) ? 4 : l;
                    t->value[jet_sdc_index(t, c)] += v;
                }
            }
}

typedef struct totals {
    double protect, audit;
    size_t cells, primary, secondary, tables;
    double mass_share;
} totals;

static int run(unsigned areas, unsigned ntables, totals *tot, int verbose) {
    jet_sdc_table t;
    memset(&t, 0, sizeof t);
    t.ndims = 3;
    t.size[0] = areas;
    t.size[1] = 2;
    t.size[2] = 4;
    t.ncells = (size_t)(areas + 1) * 3 * 5;
    t.value = malloc(t.ncells * sizeof *t.value);
    t.status = malloc(t.ncells);
    double *pop = malloc(areas * sizeof *pop);
    if (t.value == NULL || t.status == NULL || pop == NULL)
        return 1;
    static const double rates[] = {1.0, 0.25, 0.10, 0.05, 0.02};
    jet_sdc_options opt = {5, 1};
    for (unsigned n = 0; n < ntables; n++) {
        for (unsigned a = 0; a < areas; a++)
            pop[a] = exp(5.0 + 1.3 * nrand());
        fill(&t, pop, rates[n % 5]);
        jet_sdc_report rep;
        jet_diag dg;
        jet_diag_clear(&dg);
        double t0 = now();
        int rc = jet_sdc_protect(&t, &opt, &rep, &dg);
        double t1 = now();
        if (rc == 0)
            rc = jet_sdc_audit(&t, &opt, &dg);
        double t2 = now();
        if (rc != 0) {
            fprintf(stderr, "bench_sdc: table %u: %s\n", n, jet_diag_message(&dg, rc));
            return 1;
        }
        tot->protect += t1 - t0;
        tot->audit += t2 - t1;
        tot->cells += rep.cells;
        tot->primary += rep.primary;
        tot->secondary += rep.secondary;
        tot->mass_share += rep.total_mass ? (double)rep.suppressed_mass / (double)rep.total_mass : 0;
        tot->tables++;
        if (verbose)
            printf("  table %2u rate %.2f: %zu cells, %zu primary, %zu secondary, %.1f%% of the "
                   "mass suppressed, protect %.3f s, audit %.3f s\n",
                   n, rates[n % 5], rep.cells, rep.primary, rep.secondary,
                   rep.total_mass ? 100.0 * (double)rep.suppressed_mass / (double)rep.total_mass
                                  : 0.0,
                   t1 - t0, t2 - t1);
    }
    free(t.value);
    free(t.status);
    free(pop);
    return 0;
}

static void print_totals(const char *what, const totals *t) {
    double all = t->protect + t->audit;
    printf("%s: %zu tables, %zu cells (%zu primary, %zu secondary, mean %.1f%% of the mass "
           "suppressed)\n",
           what, t->tables, t->cells, t->primary, t->secondary,
           t->tables ? 100.0 * t->mass_share / (double)t->tables : 0.0);
    printf("  protect %.3f s, audit %.3f s, total %.3f s: %.0f cells/s\n", t->protect, t->audit,
           all, all > 0 ? (double)t->cells / all : 0.0);
}

int main(int argc, char **argv) {
    int small = argc > 1 && strcmp(argv[1], "--small") == 0;
    if (argc > 1 && !small) {
        fprintf(stderr, "usage: bench_sdc [--small]\n");
        return 2;
    }
    totals one = {0}, many = {0};
    /* One 20,000-cell table: area 2500 x sex 2 x school_level 4 (37,515 cells with totals). */
    if (run(small ? 500 : 2500, 1, &one, 0) != 0)
        return 1;
    print_totals("single area table", &one);
    /* About 1,000,000 cells: area 1300 x 2 x 4 with totals is 19,515 cells; 52 tables. */
    if (run(small ? 200 : 1300, small ? 10 : 52, &many, small) != 0)
        return 1;
    print_totals("workload", &many);
    return 0;
}
