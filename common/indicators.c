/* indicators.c - the built-in catalogue of indicators, breakdown codes and periods. */
#include "indicators.h"

#include <stdlib.h>
#include <string.h>

#define COUNT(code, name, def)                                                                     \
    { code, name, "persons", "PS", JET_INDICATOR_COUNT, NULL, NULL, def }
#define RATE(code, name, num, den, def)                                                            \
    { code, name, "percent", "PC", JET_INDICATOR_RATE, num, den, def }

static const jet_indicator catalogue[] = {
    COUNT("ENROLLED", "Pupils enrolled",
          "Pupils enrolled on the reference date of the period (headcount, all programmes). The "
          "denominator of the early-leaving, persistent absence and retention rates."),
    COUNT("EARLY_LEAVERS", "Early leavers from education and training",
          "Young people who left education and training during the period with at most lower "
          "secondary education (ISCED 0-2) and are not in further education or training; the "
          "administrative counterpart of Eurostat's indicator edat_lfse_14 (18-24-year-olds, "
          "Labour Force Survey)."),
    COUNT("INTERRUPTIONS", "Active interruptions of studies",
          "Pupils who actively interrupted their upper secondary programme during the period "
          "(Swedish 'aktiva studieavbrott', as reported by Plug In 2.0)."),
    COUNT("PERSISTENT_ABSENCE", "Persistent absentees",
          "Pupils who missed 10 % or more of their possible sessions during the period, authorised "
          "or not (England's Department for Education definition of a persistent absentee)."),
    COUNT("RETAINED", "Pupils retained in grade",
          "Pupils who repeat the grade (year) they attended in the previous period."),
    COUNT("PROGRAMME_PARTICIPANTS", "Programme participants",
          "Young people taking part during the period in a prevention, intervention or "
          "compensation programme recorded in the toolkit."),
    COUNT("COHORT", "Upper secondary entry cohort",
          "Pupils who started an upper secondary programme in the cohort the period reports on: "
          "the denominator of the completion rates (Skolverket's 'genomströmning')."),
    COUNT("COMPLETED", "Completed upper secondary within 3 years",
          "Of the entry cohort, pupils who completed upper secondary with a diploma within 3 "
          "years (Skolverket: 'examen inom 3 år')."),
    COUNT("COMPLETED_PLUS1", "Completed upper secondary within 4 years",
          "Of the entry cohort, pupils who completed upper secondary with a diploma within 4 "
          "years, one year beyond the nominal length (Skolverket: 'examen inom 4 år')."),
    COUNT(
        "FOLLOW_UP", "Young people in the municipal follow-up",
        "Young people aged 16-19 who are neither in upper secondary school nor have completed it, "
        "and whom the municipality must follow up (Sweden: kommunala aktivitetsansvaret, KAA; "
        "Norway: Oppfølgingstjenesten, OT)."),
    COUNT("NO_OCCUPATION", "Without occupation (of the follow-up)",
          "Of the young people in the municipal follow-up, those without any occupation (not in "
          "education, work or an activity) at the end of the period."),
    COUNT("REENGAGED", "Re-engaged (of the follow-up)",
          "Of the young people in the municipal follow-up, those who went back to education, "
          "training or work during the period."),
    RATE("EARLY_LEAVING_RATE", "Early-leaving rate", "EARLY_LEAVERS", "ENROLLED",
         "EARLY_LEAVERS / ENROLLED x 100: the administrative early-leaving rate. Eurostat's "
         "edat_lfse_14 is the share of 18-24-year-olds with at most lower secondary education and "
         "not in education or training; this rate follows it for the pupils a region enrols."),
    RATE("PERSISTENT_ABSENCE_RATE", "Persistent absence rate", "PERSISTENT_ABSENCE", "ENROLLED",
         "PERSISTENT_ABSENCE / ENROLLED x 100 (England: share of pupils missing 10 % or more of "
         "sessions)."),
    RATE("RETENTION_RATE", "Retention rate", "RETAINED", "ENROLLED",
         "RETAINED / ENROLLED x 100: share of pupils repeating a grade."),
    RATE("COMPLETION_RATE", "Completion rate within 3 years", "COMPLETED", "COHORT",
         "COMPLETED / COHORT x 100: share of the entry cohort with an upper secondary diploma "
         "within 3 years (Skolverket)."),
    RATE("COMPLETION_RATE_PLUS1", "Completion rate within 4 years", "COMPLETED_PLUS1", "COHORT",
         "COMPLETED_PLUS1 / COHORT x 100: share of the entry cohort with an upper secondary "
         "diploma within 4 years (Skolverket)."),
    RATE("NO_OCCUPATION_SHARE", "Share without occupation", "NO_OCCUPATION", "FOLLOW_UP",
         "NO_OCCUPATION / FOLLOW_UP x 100: share of the young people in the municipal follow-up "
         "(KAA/OT, 16-19) without occupation."),
    RATE("REENGAGEMENT_RATE", "Re-engagement rate", "REENGAGED", "FOLLOW_UP",
         "REENGAGED / FOLLOW_UP x 100: share of the young people in the municipal follow-up who "
         "went back to education, training or work."),
};

#define NCAT (sizeof catalogue / sizeof catalogue[0])

size_t jet_indicators_count(void) {
    return NCAT;
}

const jet_indicator *jet_indicators_at(size_t i) {
    return i < NCAT ? &catalogue[i] : NULL;
}

int jet_indicators_index(const char *code) {
    if (code == NULL)
        return -1;
    for (size_t i = 0; i < NCAT; i++)
        if (strcmp(catalogue[i].code, code) == 0)
            return (int)i;
    return -1;
}

const jet_indicator *jet_indicators_find(const char *code) {
    int i = jet_indicators_index(code);
    return i < 0 ? NULL : &catalogue[i];
}

static const char *const dim_names[JET_DIM__COUNT] = {"school_level", "sex", "age_band", "area"};
static const char *const dim_sdmx[JET_DIM__COUNT] = {"ISCED11", "SEX", "AGE", "AREA"};
static const char *const school_levels[] = {"ISCED1", "ISCED2", "ISCED3G", "ISCED3V"};
static const char *const sexes[] = {"F", "M"};

const char *jet_indicators_dim_name(jet_dim d) {
    return (unsigned)d < JET_DIM__COUNT ? dim_names[d] : NULL;
}

const char *jet_indicators_dim_sdmx(jet_dim d) {
    return (unsigned)d < JET_DIM__COUNT ? dim_sdmx[d] : NULL;
}

static int is_total(const char *code, size_t len) {
    return len == 2 && code[0] == '_' && code[1] == 'T';
}

static int list_index(const char *const *list, size_t n, const char *code, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], code, len) == 0)
            return (int)i;
    return -1;
}

/* Parses 1 to 3 decimal digits at code[*pos]; returns the number or -1. */
static long parse_small(const char *code, size_t len, size_t *pos) {
    long v = 0;
    size_t start = *pos;
    while (*pos < len && code[*pos] >= '0' && code[*pos] <= '9' && *pos - start < 3)
        v = v * 10 + (code[(*pos)++] - '0');
    return *pos == start ? -1 : v;
}

/* The lower bound of a valid age band (Y_LT<n> counts from 0), or -1. */
static long age_lower(const char *code, size_t len) {
    size_t pos;
    long from, to;
    if (len < 2 || code[0] != 'Y')
        return -1;
    if (len > 4 && memcmp(code, "Y_GE", 4) == 0) {
        pos = 4;
        from = parse_small(code, len, &pos);
        return pos == len ? from : -1;
    }
    if (len > 4 && memcmp(code, "Y_LT", 4) == 0) {
        pos = 4;
        to = parse_small(code, len, &pos);
        return (pos == len && to > 0) ? 0 : -1;
    }
    pos = 1;
    from = parse_small(code, len, &pos);
    if (from < 0 || pos >= len || code[pos] != '-')
        return -1;
    pos++;
    to = parse_small(code, len, &pos);
    if (to < 0 || pos != len || to < from)
        return -1;
    return from;
}

int jet_indicators_check_code(jet_dim d, const char *code, size_t len) {
    if (code == NULL || len == 0 || len > JET_CODE_MAX)
        return JET_EINVAL;
    if (is_total(code, len))
        return 0;
    switch (d) {
    case JET_DIM_SCHOOL_LEVEL: return list_index(school_levels, 4, code, len) >= 0 ? 0 : JET_EINVAL;
    case JET_DIM_SEX: return list_index(sexes, 2, code, len) >= 0 ? 0 : JET_EINVAL;
    case JET_DIM_AGE_BAND: return age_lower(code, len) >= 0 ? 0 : JET_EINVAL;
    case JET_DIM_AREA:
        for (size_t i = 0; i < len; i++) {
            char c = code[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return JET_EINVAL;
        }
        return 0;
    default: return JET_EINVAL;
    }
}

int jet_indicators_code_cmp(jet_dim d, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    int ta = is_total(a, la), tb = is_total(b, lb);
    long ka, kb;
    if (ta || tb)
        return ta - tb;
    switch (d) {
    case JET_DIM_SCHOOL_LEVEL:
        ka = list_index(school_levels, 4, a, la);
        kb = list_index(school_levels, 4, b, lb);
        break;
    case JET_DIM_SEX:
        ka = list_index(sexes, 2, a, la);
        kb = list_index(sexes, 2, b, lb);
        break;
    case JET_DIM_AGE_BAND:
        ka = age_lower(a, la);
        kb = age_lower(b, lb);
        break;
    default: ka = kb = 0; break;
    }
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return strcmp(a, b);
}

static int digits(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static long num(const char *p, size_t n) {
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* Parses a period into its first year and starting month (1-12); returns 0 or JET_EINVAL. */
static int period_parse(const char *p, size_t len, long *year, long *month) {
    if (p == NULL || len < 4 || !digits(p, 4))
        return JET_EINVAL;
    *year = num(p, 4);
    if (*year < 1900 || *year > 2999)
        return JET_EINVAL;
    if (len == 4) {
        *month = 1;
        return 0;
    }
    if (len == 7 && p[4] == '/' && digits(p + 5, 2)) {
        if (num(p + 5, 2) != (*year + 1) % 100)
            return JET_EINVAL;
        *month = 8;
        return 0;
    }
    if (len == 7 && p[4] == '-' && p[5] == 'Q' && p[6] >= '1' && p[6] <= '4') {
        *month = (p[6] - '1') * 3 + 1;
        return 0;
    }
    if (len == 7 && p[4] == '-' && digits(p + 5, 2)) {
        *month = num(p + 5, 2);
        return (*month >= 1 && *month <= 12) ? 0 : JET_EINVAL;
    }
    return JET_EINVAL;
}

int jet_indicators_check_period(const char *period, size_t len) {
    long y, m;
    return period_parse(period, len, &y, &m);
}

long jet_indicators_period_start(const char *period) {
    long y, m;
    if (period == NULL || period_parse(period, strlen(period), &y, &m) != 0)
        return -1;
    return y * 12 + m - 1;
}
