/* indicators.h - the built-in catalogue of statistics: indicator codes, breakdowns, periods.
 *
 * Counts are imported (ENROLLED, EARLY_LEAVERS, ...); rates are derived by the node from the
 * published counts and never imported. Every code follows ../shared/SPEC.md §4 and the catalogue
 * is documented in docs/statistics.md ("Indicators").
 *
 * Breakdowns (dimensions) are always handled in the order school_level, sex, age_band, area; the
 * total of any breakdown is "_T". Periods are "2024/25" (school year), "2024" (calendar year),
 * "2024-Q3" (quarter) or "2024-09" (month). */
#ifndef JET_INDICATORS_H
#define JET_INDICATORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum jet_indicator_kind {
    JET_INDICATOR_COUNT = 0, /* a count of persons, imported and protected */
    JET_INDICATOR_RATE = 1,  /* numerator / denominator x 100, derived from published counts */
} jet_indicator_kind;

typedef struct jet_indicator {
    const char *code;      /* "EARLY_LEAVERS" */
    const char *name;      /* short English name */
    const char *unit;      /* "persons" or "percent" */
    const char *sdmx_unit; /* SDMX UNIT_MEASURE: "PS" (persons) or "PC" (percentage) */
    jet_indicator_kind kind;
    const char *numerator;   /* rates only: code of the numerator count */
    const char *denominator; /* rates only: code of the denominator count */
    const char *definition;  /* the definition followed, with its official source if any */
} jet_indicator;

/* The breakdown dimensions, in their fixed order. */
typedef enum jet_dim {
    JET_DIM_SCHOOL_LEVEL = 0,
    JET_DIM_SEX = 1,
    JET_DIM_AGE_BAND = 2,
    JET_DIM_AREA = 3,
    JET_DIM__COUNT = 4,
} jet_dim;

/* The total code of every breakdown. */
#define JET_TOTAL_CODE "_T"

enum {
    JET_CODE_MAX = 32,   /* longest breakdown code, period or indicator code (bytes) */
    JET_PERIOD_MAX = 16, /* longest period text */
};

/* Number of indicators in the catalogue (counts first, then rates). */
size_t jet_indicators_count(void);

/* The i-th indicator, or NULL when i is out of range. */
const jet_indicator *jet_indicators_at(size_t i);

/* The indicator with `code` (exact, upper case), or NULL. */
const jet_indicator *jet_indicators_find(const char *code);

/* Index of `code` in the catalogue, or -1. */
int jet_indicators_index(const char *code);

/* The column name of a dimension in CSV input ("school_level", "sex", "age_band", "area"). */
const char *jet_indicators_dim_name(jet_dim d);

/* The SDMX concept of a dimension ("ISCED11", "SEX", "AGE", "AREA"). */
const char *jet_indicators_dim_sdmx(jet_dim d);

/* Checks a breakdown code of dimension `d` (not NUL-terminated, `len` bytes). "_T" is valid for
 * every dimension. school_level: ISCED1, ISCED2, ISCED3G, ISCED3V; sex: F, M; age_band:
 * Y<from>-<to> (from <= to), Y_GE<n> or Y_LT<n>; area: 1 to 32 of [A-Za-z0-9._-].
 * Returns 0 or JET_EINVAL. */
int jet_indicators_check_code(jet_dim d, const char *code, size_t len);

/* Orders two valid codes of dimension `d` the way tables list them: school levels and sexes in
 * catalogue order, age bands by their lower bound, areas by byte order; "_T" sorts last.
 * Returns <0, 0 or >0. */
int jet_indicators_code_cmp(jet_dim d, const char *a, const char *b);

/* Checks a period (not NUL-terminated, `len` bytes): "2024/25" (the second year must follow the
 * first), "2024", "2024-Q1".."2024-Q4" or "2024-01".."2024-12". Years 1900..2999.
 * Returns 0 or JET_EINVAL. */
int jet_indicators_check_period(const char *period, size_t len);

/* A number that orders valid periods by the month they start in (year * 12 + month - 1; a
 * school year starts in August), for trends. Returns -1 for an invalid period. */
long jet_indicators_period_start(const char *period);

#endif
