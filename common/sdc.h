/* sdc.h - statistical disclosure control for one release table.
 *
 * A table is the hypercube of one (indicator, period) release: up to JET_SDC_MAX_DIMS breakdown
 * dimensions (school_level, sex, age_band, area), each with `size[d]` categories plus a total,
 * which is always the last index (size[d]). Cells are stored row-major with dimension 0 the
 * slowest, so a table of sizes {2,3} has (2+1)*(3+1) = 12 cells. Every marginal (any coordinate
 * at its total) equals the sum of its categories: those are the additive relations a reader
 * of the release knows.
 *
 * jet_sdc_protect() marks primary suppressions (counts 1..k-1, and zeros when publish_zeros is
 * off) and chooses secondary suppressions with the hypercube method, so that every primary
 * cell's feasible range under the published cells and relations reaches k. jet_sdc_audit() is
 * written independently and checks a pattern: no suppressed cell is exactly determined, and
 * every primary cell can reach k. A release that fails the audit must not be stored. */
#ifndef JET_SDC_H
#define JET_SDC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define JET_SDC_MAX_DIMS 4

typedef enum jet_sdc_status {
    JET_SDC_PUBLISHED = 0,
    JET_SDC_PRIMARY = 1,   /* a small count: must never be recoverable or shown to be small */
    JET_SDC_SECONDARY = 2, /* suppressed to protect a primary cell */
} jet_sdc_status;

typedef struct jet_sdc_table {
    unsigned ndims;
    unsigned size[JET_SDC_MAX_DIMS]; /* categories per dimension, without the total */
    size_t ncells;                   /* product of (size[d] + 1) */
    int64_t *value;                  /* ncells counts, totals included (owned by the caller) */
    uint8_t *status;                 /* ncells jet_sdc_status (owned by the caller) */
} jet_sdc_table;

typedef struct jet_sdc_options {
    unsigned k;        /* threshold: counts 1..k-1 are small (default 5) */
    int publish_zeros; /* zeros are published (default 1) */
} jet_sdc_options;

typedef struct jet_sdc_report {
    size_t cells;            /* all cells, totals included */
    size_t primary;          /* cells suppressed as small counts */
    size_t secondary;        /* cells suppressed to protect them */
    int64_t suppressed_mass; /* sum of the suppressed inner cells' values */
    int64_t total_mass;      /* the grand total */
} jet_sdc_report;

/* Index of a cell from its coordinates (coord[d] in 0..size[d], size[d] being the total). */
size_t jet_sdc_index(const jet_sdc_table *t, const unsigned *coord);

/* Marks primary and secondary suppressions in t->status (t->value must hold consistent totals).
 * Returns 0, or JET_EDISCLOSURE when no safe pattern was found (the caller then must not
 * release the table), or JET_ENOMEM. `report` may be NULL. */
int jet_sdc_protect(jet_sdc_table *t, const jet_sdc_options *opt, jet_sdc_report *report,
                    jet_diag *diag);

/* Audits a suppression pattern independently of jet_sdc_protect(): returns 0 when no
 * suppressed cell is determined by what is published and every primary cell's maximum
 * feasible value is >= k; JET_EDISCLOSURE with the first failing cell named in `diag`. */
int jet_sdc_audit(const jet_sdc_table *t, const jet_sdc_options *opt, jet_diag *diag);

#endif
