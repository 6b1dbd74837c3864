/* statcsv.c - statistics CSV (counts or pupil rows) into observations.
 *
 * The input is fed to libcsv one physical line at a time, so that every record knows the line
 * it started on even when a quoted field spans lines. Callbacks only copy fields into the
 * reader; a record is checked when it ends. The first error stops the reading and is the only
 * message: "FILE:LINE: rule".
 *
 * Pupil rows are personal data: their fields live in the reader (wiped at the end), pupil ids
 * are kept only as keyed BLAKE2b hashes (the key is random per import) to find duplicates, and
 * no message quotes a field of a pupil row. libcsv's own buffer is allocated through functions
 * that wipe it when it is resized or freed. */
#include "statcsv.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "indicators.h"

/* What a column holds. */
enum {
    COL_IGNORE = 0,
    COL_INDICATOR,
    COL_PERIOD,
    COL_VALUE,
    COL_PUPIL_ID,
    COL_AGE,
    COL_SESSIONS_POSSIBLE,
    COL_SESSIONS_MISSED,
    COL_DIM,       /* + jet_dim */
    COL_FLAG = 64, /* + catalogue index of a count indicator */
};

enum { PUPIL_HASH = 16, MAX_AGE = 120 };

typedef struct pupil_slot {
    uint8_t hash[PUPIL_HASH];
    uint32_t line; /* 0: empty slot */
} pupil_slot;

typedef struct reader {
    const char *name;
    jet_statcsv_format format;
    jet_stats_obs *obs;
    jet_diag *diag;
    int err;
    uint32_t line;     /* the physical line being fed */
    uint32_t rec_line; /* the line the current record started on */
    int between;       /* 1 when no record is under way */
    int header_done;
    size_t nfields;
    int too_many;
    int too_long;
    char field[JET_STATCSV_MAX_COLUMNS][JET_STATCSV_MAX_FIELD + 1];
    size_t ncols;
    int role[JET_STATCSV_MAX_COLUMNS];
    int has_dim[JET_DIM__COUNT];
    int has_age;
    int has_sessions;
    size_t nflags;
    /* pupil ids seen */
    uint8_t hash_key[crypto_generichash_KEYBYTES];
    pupil_slot *pupils;
    size_t npupils, pupil_cap;
} reader;

int jet_statcsv_format_parse(const char *name) {
    if (name == NULL)
        return -1;
    if (strcmp(name, "auto") == 0)
        return JET_STATCSV_AUTO;
    if (strcmp(name, "counts") == 0)
        return JET_STATCSV_COUNTS;
    if (strcmp(name, "pupils") == 0)
        return JET_STATCSV_PUPILS;
    return -1;
}

/* ---- libcsv allocation that wipes ------------------------------------------------------- */

/* Every block carries its size in front, so that a resize or free can wipe the old bytes. */
static void *wipe_realloc(void *old, size_t n) {
    size_t *blk = malloc(n + sizeof(size_t) * 2);
    if (blk == NULL)
        return NULL;
    blk[0] = n;
    if (old != NULL) {
        size_t *oblk = (size_t *)old - 2;
        memcpy(blk + 2, old, oblk[0] < n ? oblk[0] : n);
        sodium_memzero(oblk, oblk[0] + sizeof(size_t) * 2);
        free(oblk);
    }
    return blk + 2;
}

static void wipe_free(void *p) {
    if (p != NULL) {
        size_t *blk = (size_t *)p - 2;
        sodium_memzero(blk, blk[0] + sizeof(size_t) * 2);
        free(blk);
    }
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error as "NAME:LINE: message". */
static int fail(reader *r, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    if (r->err)
        return r->err;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->err = JET_EVALIDATE;
    jet_diag_fail(r->diag, JET_EVALIDATE, "%s:%u: %s", r->name, (unsigned)r->rec_line, msg);
    return r->err;
}

/* Copies a field for quoting in a message about a counts file: printable ASCII only, else
 * a neutral description. Never used for pupil rows. */
static const char *quote_safe(const char *s, char *buf, size_t len) {
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return n == 0 ? "(empty)" : "(a long text)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '\'')
            return "(a text with special characters)";
    snprintf(buf, len, "'%s'", s);
    return buf;
}

static int utf8_check(const unsigned char *s, size_t len, size_t *bad) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            *bad = i;
            return -1;
        }
        for (size_t j = 1; j <= n; j++) {
            if (i + j >= len || (s[i + j] & 0xc0) != 0x80) {
                *bad = i;
                return -1;
            }
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return -1;
        }
        i += n + 1;
    }
    return 0;
}

static uint32_t line_of(const char *buf, size_t off) {
    uint32_t line = 1;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n')
            line++;
    return line;
}

/* Parses a non-negative decimal integer of at most 13 digits. Returns 0 or -1. */
static int parse_count(const char *s, int64_t *out) {
    size_t n = strlen(s);
    int64_t v = 0;
    if (n == 0 || n > 13)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > JET_STATS_MAX_VALUE)
        return -1;
    *out = v;
    return 0;
}

static void lower_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void upper_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

/* ---- header ------------------------------------------------------------------------------ */

static int header(reader *r) {
    int seen_pupil = 0, seen_counts = 0;
    int used[COL_FLAG + 64];
    char buf[64];
    memset(used, 0, sizeof used);
    r->ncols = r->nfields;
    for (size_t i = 0; i < r->ncols; i++) {
        char *f = r->field[i];
        lower_ascii(f);
        if (strcmp(f, "pupil_id") == 0)
            seen_pupil = 1;
        if (strcmp(f, "indicator") == 0 || strcmp(f, "value") == 0)
            seen_counts = 1;
    }
    if (r->format == JET_STATCSV_AUTO) {
        if (seen_pupil && seen_counts)
            return fail(r, "the header has both pupil_id and indicator/value columns: use "
                           "--format counts or --format pupils");
        if (!seen_pupil && !seen_counts)
            return fail(r, "the header names neither indicator,period,value (counts) nor "
                           "pupil_id (pupil rows)");
        r->format = seen_pupil ? JET_STATCSV_PUPILS : JET_STATCSV_COUNTS;
    }
    /* Pupil rows are counted one by one: their observations add up. */
    if (jet_stats_obs_new(r->format == JET_STATCSV_PUPILS, &r->obs) != 0)
        return fail(r, "out of memory");
    jet_stats_obs_set_source(r->obs, r->name);
    for (size_t i = 0; i < r->ncols; i++) {
        const char *f = r->field[i];
        int role = -1;
        if (f[0] == '\0') {
            /* A column without a name, as spreadsheets write after a trailing separator: it
             * must stay empty (checked per row). */
            r->role[i] = COL_IGNORE;
            continue;
        }
        for (int d = 0; d < JET_DIM__COUNT; d++)
            if (strcmp(f, jet_indicators_dim_name((jet_dim)d)) == 0)
                role = COL_DIM + d;
        if (role < 0 && strcmp(f, "period") == 0)
            role = COL_PERIOD;
        if (r->format == JET_STATCSV_COUNTS && role < 0) {
            if (strcmp(f, "indicator") == 0)
                role = COL_INDICATOR;
            else if (strcmp(f, "value") == 0)
                role = COL_VALUE;
        } else if (r->format == JET_STATCSV_PUPILS && role < 0) {
            if (strcmp(f, "pupil_id") == 0)
                role = COL_PUPIL_ID;
            else if (strcmp(f, "age") == 0)
                role = COL_AGE;
            else if (strcmp(f, "sessions_possible") == 0)
                role = COL_SESSIONS_POSSIBLE;
            else if (strcmp(f, "sessions_missed") == 0)
                role = COL_SESSIONS_MISSED;
            else {
                char up[JET_STATCSV_MAX_FIELD + 1];
                snprintf(up, sizeof up, "%s", f);
                upper_ascii(up);
                const jet_indicator *ind = jet_indicators_find(up);
                if (ind != NULL && ind->kind == JET_INDICATOR_COUNT)
                    role = COL_FLAG + jet_indicators_index(up);
            }
        }
        if (role < 0)
            return fail(r, "unknown column %s in the header (%s)", quote_safe(f, buf, sizeof buf),
                        r->format == JET_STATCSV_COUNTS
                            ? "counts take indicator, period, value, school_level, sex, "
                              "age_band, area"
                            : "pupil rows take pupil_id, period, school_level, sex, age_band or "
                              "age, area, sessions_possible, sessions_missed and indicator flags "
                              "such as enrolled, early_leavers");
        if (used[role])
            return fail(r, "column %s appears twice in the header", quote_safe(f, buf, sizeof buf));
        used[role] = 1;
        r->role[i] = role;
        if (role >= COL_DIM && role < COL_DIM + JET_DIM__COUNT)
            r->has_dim[role - COL_DIM] = 1;
        if (role >= COL_FLAG)
            r->nflags++;
    }
    if (r->format == JET_STATCSV_COUNTS) {
        if (!used[COL_INDICATOR] || !used[COL_PERIOD] || !used[COL_VALUE])
            return fail(r, "a counts file needs the columns indicator, period and value");
    } else {
        if (!used[COL_PUPIL_ID] || !used[COL_PERIOD])
            return fail(r, "a pupil file needs the columns pupil_id and period");
        if (used[COL_AGE] && r->has_dim[JET_DIM_AGE_BAND])
            return fail(r, "give either age or age_band, not both");
        r->has_age = used[COL_AGE];
        if (used[COL_SESSIONS_POSSIBLE] != used[COL_SESSIONS_MISSED])
            return fail(r, "sessions_possible and sessions_missed go together");
        r->has_sessions = used[COL_SESSIONS_POSSIBLE];
        if (r->has_sessions && used[COL_FLAG + jet_indicators_index("PERSISTENT_ABSENCE")])
            return fail(r, "give either persistent_absence or sessions_possible and "
                           "sessions_missed, not both");
        if (r->has_sessions)
            r->nflags++;
        if (r->nflags == 0)
            return fail(r, "a pupil file needs at least one indicator flag column (such as "
                           "enrolled or early_leavers)");
    }
    return 0;
}

/* ---- counts rows ------------------------------------------------------------------------- */

static int counts_row(reader *r) {
    jet_stats_key key;
    char buf[64];
    int64_t value = 0;
    const char *ind_text = NULL, *val_text = NULL;
    memset(&key, 0, sizeof key);
    for (size_t i = 0; i < r->ncols; i++) {
        char *f = r->field[i];
        int role = r->role[i];
        if (role == COL_INDICATOR) {
            ind_text = f;
        } else if (role == COL_PERIOD) {
            if (jet_indicators_check_period(f, strlen(f)) != 0)
                return fail(r, "period %s is not a period (2024/25, 2024, 2024-Q3 or 2024-09)",
                            quote_safe(f, buf, sizeof buf));
            key.period = f;
        } else if (role == COL_VALUE) {
            val_text = f;
        } else if (role >= COL_DIM && role < COL_DIM + JET_DIM__COUNT) {
            jet_dim d = (jet_dim)(role - COL_DIM);
            if (f[0] == '\0') {
                key.code[d] = JET_TOTAL_CODE;
                continue;
            }
            if (d != JET_DIM_AREA)
                upper_ascii(f);
            if (jet_indicators_check_code(d, f, strlen(f)) != 0)
                return fail(r, "%s %s is not a code (%s)", jet_indicators_dim_name(d),
                            quote_safe(f, buf, sizeof buf),
                            d == JET_DIM_SCHOOL_LEVEL ? "ISCED1, ISCED2, ISCED3G, ISCED3V or _T"
                            : d == JET_DIM_SEX        ? "F, M or _T"
                            : d == JET_DIM_AGE_BAND   ? "Y<from>-<to> such as Y15-19, or _T"
                                                      : "letters, digits, '.', '_', '-'; or _T");
            key.code[d] = f;
        }
    }
    upper_ascii((char *)ind_text);
    const jet_indicator *ind = jet_indicators_find(ind_text);
    if (ind == NULL)
        return fail(r, "unknown indicator %s (see 'jetsync stats indicators')",
                    quote_safe(ind_text, buf, sizeof buf));
    if (ind->kind != JET_INDICATOR_COUNT)
        return fail(r,
                    "%s is a rate: rates are derived by the node; import its numerator %s and "
                    "denominator %s instead",
                    ind->code, ind->numerator, ind->denominator);
    key.indicator = ind->code;
    if (val_text[0] == '\0')
        return fail(r, "the value is empty: every row needs a count (suppression is done by the "
                       "node, do not import suppressed or missing cells)");
    if (parse_count(val_text, &value) != 0)
        return fail(r, "value %s is not a count (a whole number from 0 to 10^12, digits only)",
                    quote_safe(val_text, buf, sizeof buf));
    if (jet_stats_obs_add(r->obs, &key, value, r->rec_line) != 0)
        return fail(r, "out of memory");
    return 0;
}

/* ---- pupil rows -------------------------------------------------------------------------- */

static int pupil_seen(reader *r, const char *id, uint32_t *first) {
    uint8_t h[PUPIL_HASH];
    size_t mask, i;
    if (r->npupils * 2 >= r->pupil_cap) {
        size_t ncap = r->pupil_cap ? r->pupil_cap * 2 : 1024;
        pupil_slot *n = calloc(ncap, sizeof *n);
        if (n == NULL)
            return JET_ENOMEM;
        for (size_t j = 0; j < r->pupil_cap; j++) {
            if (r->pupils[j].line == 0)
                continue;
            uint64_t hv;
            memcpy(&hv, r->pupils[j].hash, sizeof hv);
            size_t k = hv & (ncap - 1);
            while (n[k].line != 0)
                k = (k + 1) & (ncap - 1);
            n[k] = r->pupils[j];
        }
        if (r->pupils != NULL) {
            sodium_memzero(r->pupils, r->pupil_cap * sizeof *r->pupils);
            free(r->pupils);
        }
        r->pupils = n;
        r->pupil_cap = ncap;
    }
    crypto_generichash(h, sizeof h, (const unsigned char *)id, strlen(id), r->hash_key,
                       sizeof r->hash_key);
    uint64_t hv;
    memcpy(&hv, h, sizeof hv);
    mask = r->pupil_cap - 1;
    for (i = hv & mask; r->pupils[i].line != 0; i = (i + 1) & mask) {
        if (memcmp(r->pupils[i].hash, h, sizeof h) == 0) {
            *first = r->pupils[i].line;
            return 1;
        }
    }
    memcpy(r->pupils[i].hash, h, sizeof h);
    r->pupils[i].line = r->rec_line;
    r->npupils++;
    sodium_memzero(h, sizeof h);
    return 0;
}

/* A small non-negative integer of a pupil row; -1 when it is not one. */
static long pupil_number(const char *s, long max) {
    long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 6)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

static int pupil_row(reader *r) {
    jet_stats_key key;
    char age_band[48];
    int flag[JET_STATCSV_MAX_COLUMNS];
    long possible = -1, missed = -1;
    memset(&key, 0, sizeof key);
    for (size_t i = 0; i < r->ncols; i++) {
        char *f = r->field[i];
        int role = r->role[i];
        flag[i] = -1;
        if (role == COL_PUPIL_ID) {
            uint32_t first = 0;
            int rc;
            if (f[0] == '\0')
                return fail(r, "column pupil_id (%zu) is empty", i + 1);
            rc = pupil_seen(r, f, &first);
            if (rc < 0)
                return fail(r, "out of memory");
            if (rc == 1)
                return fail(r,
                            "column pupil_id (%zu): the same pupil appears again (first at "
                            "line %u)",
                            i + 1, (unsigned)first);
        } else if (role == COL_PERIOD) {
            if (jet_indicators_check_period(f, strlen(f)) != 0)
                return fail(r,
                            "column period (%zu) is not a period (2024/25, 2024, 2024-Q3 or "
                            "2024-09)",
                            i + 1);
            key.period = f;
        } else if (role >= COL_DIM && role < COL_DIM + JET_DIM__COUNT) {
            jet_dim d = (jet_dim)(role - COL_DIM);
            if (d != JET_DIM_AREA)
                upper_ascii(f);
            if (f[0] == '\0' || strcmp(f, JET_TOTAL_CODE) == 0 ||
                jet_indicators_check_code(d, f, strlen(f)) != 0)
                return fail(r,
                            "column %s (%zu) does not hold a category code: every pupil needs "
                            "one (or leave the column out)",
                            jet_indicators_dim_name(d), i + 1);
            key.code[d] = f;
        } else if (role == COL_AGE) {
            long age = pupil_number(f, MAX_AGE);
            if (age < 0)
                return fail(r, "column age (%zu) is not an age in whole years (0-%d)", i + 1,
                            MAX_AGE);
            snprintf(age_band, sizeof age_band, "Y%ld-%ld", age / 5 * 5, age / 5 * 5 + 4);
            key.code[JET_DIM_AGE_BAND] = age_band;
        } else if (role == COL_SESSIONS_POSSIBLE || role == COL_SESSIONS_MISSED) {
            long v = pupil_number(f, 100000);
            if (v < 0)
                return fail(r, "column %s (%zu) is not a number of sessions",
                            role == COL_SESSIONS_POSSIBLE ? "sessions_possible" : "sessions_missed",
                            i + 1);
            if (role == COL_SESSIONS_POSSIBLE)
                possible = v;
            else
                missed = v;
        } else if (role >= COL_FLAG) {
            if (f[0] == '\0' || strcmp(f, "0") == 0)
                flag[i] = 0;
            else if (strcmp(f, "1") == 0)
                flag[i] = 1;
            else
                return fail(r, "column %s (%zu) must be 0 or 1 (or empty for 0)",
                            jet_indicators_at((size_t)(role - COL_FLAG))->code, i + 1);
        }
    }
    if (r->has_sessions && missed > possible)
        return fail(r, "sessions_missed is larger than sessions_possible");
    for (size_t i = 0; i < r->ncols; i++) {
        if (r->role[i] < COL_FLAG)
            continue;
        key.indicator = jet_indicators_at((size_t)(r->role[i] - COL_FLAG))->code;
        if (jet_stats_obs_add(r->obs, &key, flag[i], 0) != 0)
            return fail(r, "out of memory");
    }
    if (r->has_sessions) {
        /* England: a persistent absentee misses 10 % or more of the possible sessions. */
        int pa = possible > 0 && missed * 10 >= possible;
        key.indicator = "PERSISTENT_ABSENCE";
        if (jet_stats_obs_add(r->obs, &key, pa, 0) != 0)
            return fail(r, "out of memory");
    }
    return 0;
}

/* ---- libcsv callbacks -------------------------------------------------------------------- */

static void on_field(void *data, size_t len, void *ctx) {
    reader *r = ctx;
    if (r->err)
        return;
    if (r->nfields >= JET_STATCSV_MAX_COLUMNS) {
        r->too_many = 1;
        return;
    }
    if (len > JET_STATCSV_MAX_FIELD) {
        r->too_long = (int)r->nfields + 1;
        len = 0;
    }
    if (len > 0)
        memcpy(r->field[r->nfields], data, len);
    r->field[r->nfields][len] = '\0';
    r->nfields++;
}

/* The first column without a name that holds a value in this row, or -1. */
static int unnamed_with_value(const reader *r) {
    for (size_t i = 0; i < r->nfields && i < r->ncols; i++)
        if (r->role[i] == COL_IGNORE && r->field[i][0] != '\0')
            return (int)i;
    return -1;
}

static int all_empty(const reader *r) {
    for (size_t i = 0; i < r->nfields; i++)
        if (r->field[i][0] != '\0')
            return 0;
    return 1;
}

static void on_record(int term, void *ctx) {
    reader *r = ctx;
    (void)term;
    r->between = 1;
    if (r->err)
        return;
    if (r->too_many) {
        fail(r, "more than %d fields", JET_STATCSV_MAX_COLUMNS);
    } else if (r->too_long) {
        fail(r, "field %d is longer than %d bytes", r->too_long, JET_STATCSV_MAX_FIELD);
    } else if (!r->header_done) {
        r->header_done = 1;
        header(r);
    } else if (all_empty(r)) {
        /* a row of separators only, as spreadsheets write at the end: nothing to read */
    } else if (r->nfields != r->ncols) {
        fail(r, "%zu fields, but the header has %zu columns", r->nfields, r->ncols);
    } else if (unnamed_with_value(r) >= 0) {
        fail(r, "column %d has no name in the header but holds a value", unnamed_with_value(r) + 1);
    } else if (r->format == JET_STATCSV_COUNTS) {
        counts_row(r);
    } else {
        pupil_row(r);
    }
    for (size_t i = 0; i < r->nfields; i++)
        sodium_memzero(r->field[i], strlen(r->field[i]));
    r->nfields = 0;
    r->too_many = r->too_long = 0;
}

/* The separator of the header line: ';' when it has more of them than commas outside quotes. */
static unsigned char detect_separator(const char *buf, size_t len) {
    size_t commas = 0, semis = 0;
    int quoted = 0;
    for (size_t i = 0; i < len && (quoted || (buf[i] != '\n' && buf[i] != '\r')); i++) {
        if (buf[i] == '"')
            quoted = !quoted;
        else if (!quoted && buf[i] == ',')
            commas++;
        else if (!quoted && buf[i] == ';')
            semis++;
    }
    return semis > commas ? ';' : ',';
}

int jet_statcsv_read_buffer(const char *name, const char *buf, size_t len,
                            jet_statcsv_format format, jet_stats_obs **out,
                            jet_statcsv_format *format_out, jet_diag *diag) {
    struct csv_parser p;
    reader *r = NULL;
    size_t bad = 0, pos = 0;
    int rc = 0, parser_ready = 0;

    *out = NULL;
    if (len >= 2 && (((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe) ||
                     ((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff)))
        return jet_diag_fail(diag, JET_EVALIDATE, "%s:1: the file is UTF-16: save it as CSV UTF-8",
                             name);
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    if (utf8_check((const unsigned char *)buf, len, &bad) != 0)
        return jet_diag_fail(diag, JET_EVALIDATE,
                             "%s:%u: not valid UTF-8: save the file as CSV UTF-8", name,
                             (unsigned)line_of(buf, bad));
    /* A NUL byte would silently cut the field it is in ("12<NUL>3" read as 12). */
    const char *nul = memchr(buf, '\0', len);
    if (nul != NULL)
        return jet_diag_fail(diag, JET_EVALIDATE, "%s:%u: a NUL byte: this is not a CSV text file",
                             name, (unsigned)line_of(buf, (size_t)(nul - buf)));
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return jet_diag_fail(diag, JET_ENOMEM, "%s: out of memory", name);
    r->name = name;
    r->format = format;
    r->diag = diag;
    r->between = 1;
    r->rec_line = 1;
    randombytes_buf(r->hash_key, sizeof r->hash_key);
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        rc = jet_diag_fail(diag, JET_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    parser_ready = 1;
    csv_set_realloc_func(&p, wipe_realloc);
    csv_set_free_func(&p, wipe_free);
    csv_set_delim(&p, detect_separator(buf, len));

    while (pos < len && !r->err) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) + 1 : len;
        r->line++;
        if (r->between) {
            size_t n = end - pos;
            /* Blank lines between records are skipped (libcsv reports no record for them). */
            if (n == 0 || buf[pos] == '\n' ||
                (n >= 2 && buf[pos] == '\r' && buf[pos + 1] == '\n')) {
                pos = end;
                continue;
            }
            r->rec_line = r->line;
            r->between = 0;
        }
        if (csv_parse(&p, buf + pos, end - pos, on_field, on_record, r) != end - pos) {
            fail(r, "malformed CSV: a quote inside an unquoted field, or text after a closing "
                    "quote");
            break;
        }
        pos = end;
    }
    if (!r->err && csv_fini(&p, on_field, on_record, r) != 0)
        fail(r, "a quoted field is not closed");
    if (!r->err && !r->header_done) {
        r->rec_line = 1;
        fail(r, "the file is empty: it needs a header line");
    }
    if (!r->err && (r->obs == NULL || jet_stats_obs_count(r->obs) == 0)) {
        r->rec_line = r->line > 0 ? r->line : 1;
        fail(r, "no observations after the header");
    }
    rc = r->err;
done:
    if (parser_ready)
        csv_free(&p);
    if (rc == 0) {
        *out = r->obs;
        if (format_out != NULL)
            *format_out = r->format;
    } else {
        jet_stats_obs_free(r->obs);
    }
    if (r->pupils != NULL) {
        sodium_memzero(r->pupils, r->pupil_cap * sizeof *r->pupils);
        free(r->pupils);
    }
    sodium_memzero(r, sizeof *r);
    free(r);
    return rc;
}

int jet_statcsv_read_file(const char *path, jet_statcsv_format format, jet_stats_obs **out,
                          jet_statcsv_format *format_out, jet_diag *diag) {
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jet_diag_fail(diag, JET_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return jet_diag_fail(diag, JET_EIO, "%s: not a regular file", path);
    }
    if (st.st_size > JET_STATCSV_MAX_FILE) {
        close(fd);
        return jet_diag_fail(diag, JET_ETOOBIG, "%s: larger than 1 GiB", path);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return jet_diag_fail(diag, JET_ENOMEM, "%s: out of memory", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        rc = jet_diag_fail(diag, JET_EIO, "%s: read error", path);
    } else {
        rc = jet_statcsv_read_buffer(path, buf, got, format, out, format_out, diag);
    }
    sodium_memzero(buf, (size_t)st.st_size + 1);
    free(buf);
    return rc;
}
