/* stats.h - anonymised statistics: from observations to protected, signed releases, and the
 * view of the releases a node holds.
 *
 * The pipeline of one import (each step a function, so the benchmark can time it):
 *
 *   jet_stats_obs      observations, as read by statcsv.c (counts, or pupil rows counted in
 *        |             memory); nothing of them is ever written anywhere
 *   jet_stats_batch_build      one hypercube per (indicator, period) with all its totals; a
 *        |                     given total that disagrees with its parts is an error
 *   jet_stats_batch_protect    jet_sdc_protect() on every table
 *   jet_stats_batch_audit      jet_sdc_audit() on every table: a failing release is not stored
 *   jet_stats_batch_store      every release, as few signed records (chunks of cells), appended
 *                              in ONE write transaction: the import is all or nothing
 *
 * The view (jet_stats_apply(), views.h) runs for records appended here and for records received
 * through sync alike: a release becomes current when all its chunks are present, and a newer
 * version of the same (region, indicator, period) supersedes the older one. Databases:
 *
 *   JET_DB_STATS        region NUL indicator NUL period -> the current release's header
 *   JET_DB_STATS_CELLS  same key + be32 chunk index     -> where the chunk's record is in the log
 *   JET_DB_STATS_AUX    'P' origin(32) region NUL indicator NUL period NUL -> a release whose
 *                       chunks are still arriving; 'B' origin(32) region NUL indicator NUL
 *                       period NUL -> the privacy budget spent by noisy releases (be64, 1/1000)
 *
 * The cells themselves stay in the signed records of the log and are decoded when read. */
#ifndef JET_STATS_H
#define JET_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "indicators.h"
#include "record.h"
#include "sdc.h"
#include "store.h"

/* Record kinds of the stats stream (proto/stats.proto): one chunk of a release, or a bundle of
 * small releases held whole. */
enum { JET_STATS_KIND_CHUNK = 1, JET_STATS_KIND_BUNDLE = 2 };

enum {
    JET_STATS_CHUNK_CELLS = 8192,              /* cells per record at most */
    JET_STATS_BUNDLE_MAX = 256,                /* releases per bundle record at most */
    JET_STATS_MAX_CATEGORY_BYTES = 256 * 1024, /* category names of one release */
    JET_STATS_MAX_CELLS = 16u * 1024 * 1024,   /* cells of one release, totals included */
    JET_STATS_MIN_CHUNK_CELLS = 256,           /* a release has at most ceil(cells / this)
                                                  chunks (bounds what a peer can claim) */
};
#define JET_STATS_MAX_VALUE INT64_C(1000000000000) /* largest count accepted */

/* ---- observations ------------------------------------------------------------------------ */

typedef struct jet_stats_obs jet_stats_obs;

/* One observation as text. Breakdown codes may be NULL or "" for a total; all must already be
 * valid (jet_indicators_check_*). */
typedef struct jet_stats_key {
    const char *indicator;
    const char *period;
    const char *code[JET_DIM__COUNT];
} jet_stats_key;

/* A new, empty set. `sum_duplicates`: observations with the same key add up (pupil rows counted
 * one by one) instead of being an error (count rows). Returns 0 or JET_ENOMEM. */
int jet_stats_obs_new(int sum_duplicates, jet_stats_obs **out);

/* Frees the set, wiping its contents. jet_stats_obs_free(NULL) is a no-op. */
void jet_stats_obs_free(jet_stats_obs *obs);

/* Adds an observation read at `line` of the input (0 when it has no line). The indicator must
 * be a count of the catalogue. Returns 0, JET_EINVAL (not a count indicator) or JET_ENOMEM. */
int jet_stats_obs_add(jet_stats_obs *obs, const jet_stats_key *key, int64_t value, uint32_t line);

/* Number of observations held. */
size_t jet_stats_obs_count(const jet_stats_obs *obs);

/* Sets the name used in error messages ("FILE"); the string is copied. */
void jet_stats_obs_set_source(jet_stats_obs *obs, const char *name);

/* ---- one import: tables, protection, storage --------------------------------------------- */

typedef struct jet_stats_batch jet_stats_batch;

/* What an import did, for the user. */
typedef struct jet_stats_summary {
    size_t releases;
    size_t observations;     /* observations read */
    size_t cells;            /* cells of all tables, totals included */
    size_t suppressed;       /* cells published as C */
    size_t primary;          /* of which small counts (never shown to anybody else) */
    int64_t suppressed_mass; /* sum of the suppressed inner cells */
    int64_t total_mass;      /* sum of the grand totals */
    size_t records;          /* records appended */
} jet_stats_summary;

/* Builds one table per (indicator, period) of `obs` and computes every total. Errors, in `diag`
 * as "FILE:LINE: rule": a duplicate observation, a given total that disagrees with the sum of
 * its parts (JET_EVALIDATE), a table too large (JET_ETOOBIG). `obs` is not changed and must
 * outlive the batch. Returns 0 or the code. */
int jet_stats_batch_build(const jet_stats_obs *obs, jet_stats_batch **out, jet_diag *diag);

/* Frees a batch, wiping the unprotected values. jet_stats_batch_free(NULL) is a no-op. */
void jet_stats_batch_free(jet_stats_batch *b);

/* Optional ([stats] noise): adds discrete Laplace noise of `epsilon` (rounded to 1/1000) to
 * every inner cell of every table (dlaplace.h), clamps at 0 and recomputes the totals, so the
 * release stays additive. Run it after build and before protect: suppression then works on the
 * noisy values. `budget` is the total epsilon allowed per (region, indicator, period) over all
 * noisy releases; jet_stats_batch_store() refuses (JET_ELIMIT) a release that would exceed it.
 * Returns 0 or JET_EINVAL (epsilon not in 0.001..100). */
int jet_stats_batch_noise(jet_stats_batch *b, double epsilon, double budget, jet_diag *diag);

/* Runs jet_sdc_protect() on every table. Returns 0, JET_EDISCLOSURE or JET_ENOMEM. */
int jet_stats_batch_protect(jet_stats_batch *b, const jet_sdc_options *opt, jet_diag *diag);

/* Runs jet_sdc_audit() on every protected table. Returns 0 or JET_EDISCLOSURE naming the
 * release that failed; then nothing may be stored. */
int jet_stats_batch_audit(jet_stats_batch *b, const jet_sdc_options *opt, jet_diag *diag);

/* Appends every release of the batch (which must have passed the audit) to the stats log of
 * the node in one write transaction, signed with `sk` (64 bytes), as region `region`, each
 * with the next version of its (region, indicator, period). `import_time` is unix seconds.
 * Returns 0, or (and then nothing was stored) JET_EINVAL (a region code that is not one),
 * JET_EDISCLOSURE (the batch has not passed jet_stats_batch_audit()), JET_ELIMIT (a noisy
 * release would overspend its privacy budget), JET_ETOOBIG (too many category names in one
 * table) or a store error. */
int jet_stats_batch_store(jet_stats_batch *b, jet_store *store, const uint8_t sk[64],
                          const char *region, int64_t import_time, jet_diag *diag);

/* One table of a batch, for tests and the benchmark. Pointers borrow from the batch. */
typedef struct jet_stats_table_info {
    const char *indicator;
    const char *period;
    unsigned ndims;
    unsigned dim[JET_SDC_MAX_DIMS];  /* jet_dim of each table dimension */
    unsigned size[JET_SDC_MAX_DIMS]; /* categories, without the total */
    const char *const *category[JET_SDC_MAX_DIMS];
    size_t ncells;
    const int64_t *value;  /* true values, totals included (row-major, totals last) */
    const uint8_t *status; /* jet_sdc_status, after protect */
} jet_stats_table_info;

/* Number of tables (releases) in the batch. */
size_t jet_stats_batch_count(const jet_stats_batch *b);

/* Describes table i (i < jet_stats_batch_count()). */
void jet_stats_batch_table(const jet_stats_batch *b, size_t i, jet_stats_table_info *out);

/* Fills `s` with what the batch holds (after protect: the suppression counts). */
void jet_stats_batch_summary(const jet_stats_batch *b, jet_stats_summary *s);

/* ---- the view ---------------------------------------------------------------------------- */

/* Which releases to read; NULL fields match everything. `indicator` may be a rate code: the
 * releases of its numerator and denominator are then read. `figures` 0 reads the releases the
 * node holds (a region: its own; the lead: every region's); 1 reads the cross-region figures
 * the lead published (jet_stats_publish_figures()), which every partner receives. */
typedef struct jet_stats_filter {
    const char *region;
    const char *indicator;
    const char *period;
    int figures;
} jet_stats_filter;

/* A release held by the node. */
typedef struct jet_stats_release {
    char region[JET_CODE_MAX + 1];
    char indicator[JET_CODE_MAX + 1];
    char period[JET_PERIOD_MAX + 1];
    uint64_t version;
    int64_t import_time;
    uint8_t origin[32]; /* the node whose record holds it (for figures: the lead) */
    uint8_t source[32]; /* the node that imported the release */
    unsigned k;
    unsigned noise_epsilon_milli; /* 0: exact counts */
    size_t ncells;
    size_t suppressed;
} jet_stats_release;

/* One observation of the view: a cell of a release, or a derived rate. Strings borrow from the
 * view. `value` is meaningful only when `suppressed` is 0. */
typedef struct jet_stats_row {
    const char *region;
    const char *indicator;
    const char *period;
    const char *code[JET_DIM__COUNT]; /* "_T" for totals */
    const jet_indicator *def;         /* catalogue entry (unit, kind) */
    double value;                     /* a count, or a rate in percent rounded to 0.1 */
    int suppressed;                   /* 1: status C */
    size_t release;                   /* index of the release it comes from (numerator) */
} jet_stats_row;

typedef struct jet_stats_view jet_stats_view;

/* Reads the current releases matching `filter` and derives the rates (suppressed when the
 * numerator or denominator is, when the denominator is below 2k, or when the numerator or
 * denominator - numerator is 1..k-1; k is the largest k of the two releases and `k_min`).
 * Rows come in the order region, indicator (catalogue order), period, then table order.
 * Returns 0, JET_ECORRUPT (a release that cannot be decoded) or JET_ENOMEM. */
int jet_stats_view_open(jet_store *store, const jet_stats_filter *filter, unsigned k_min,
                        jet_stats_view **out, jet_diag *diag);

void jet_stats_view_free(jet_stats_view *v);

size_t jet_stats_view_rows(const jet_stats_view *v);
/* Fills `row` with row i (i < jet_stats_view_rows()). */
void jet_stats_view_row(const jet_stats_view *v, size_t i, jet_stats_row *row);

/* 1 when row i is the grand total of its table (every breakdown _T), without decoding it. */
int jet_stats_view_row_is_total(const jet_stats_view *v, size_t i);

size_t jet_stats_view_releases(const jet_stats_view *v);
const jet_stats_release *jet_stats_view_release(const jet_stats_view *v, size_t i);

/* At the lead partner: appends to the figures stream (JET_STREAM_FIGURES, which the
 * replication sends to every partner) every release the node holds that the figures do not yet
 * repeat at its version, as it is (protected, suppressed cells without values), in one write
 * transaction. `published` (may be NULL) receives how many releases were published. Returns 0
 * or a store error. */
int jet_stats_publish_figures(jet_store *store, const uint8_t sk[64], size_t *published,
                              jet_diag *diag);

/* Builds the payload of one chunk record (for tests of the view and of refusal): the caller
 * frees *out with free(). Returns 0 or JET_ENOMEM/JET_ETOOBIG. */
typedef struct jet_stats_chunk_spec {
    const char *region, *indicator, *period;
    uint64_t version;
    uint32_t chunk_index, chunk_count;
    int64_t import_time;
    unsigned k;
    unsigned noise_epsilon_milli; /* 0: exact counts */
    const uint8_t *source_origin; /* figures: the importing node (32 bytes) or NULL */
    unsigned ndims;
    unsigned dim[JET_SDC_MAX_DIMS];  /* jet_dim of each table dimension */
    unsigned size[JET_SDC_MAX_DIMS]; /* categories of each (without the total) */
    const char *const *category[JET_SDC_MAX_DIMS];
    size_t ncells;
    size_t first_cell, len;
    const int64_t *value;  /* len values (ignored where suppressed) */
    const uint8_t *status; /* len jet_sdc_status */
} jet_stats_chunk_spec;
int jet_stats_chunk_encode(const jet_stats_chunk_spec *spec, uint8_t **out, size_t *len);

/* Releases the region codes bound to `origin` (a revoked peer), so that a partner's new node
 * can publish under its code. */
int jet_stats_forget_origin(jet_txn *txn, const uint8_t origin[32]);

#endif
