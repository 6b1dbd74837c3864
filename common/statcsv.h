/* statcsv.h - reading statistics CSV files into observations (stats.h).
 *
 * Two formats, told apart by the header (or forced with an explicit format):
 *
 *   counts  long format, one observation per row: indicator,period,value plus any of the
 *           breakdown columns school_level, sex, age_band, area (a missing column or an empty
 *           cell is the total "_T").
 *   pupils  one pseudonymous pupil per row: pupil_id, period, optional breakdowns (school_level,
 *           sex, age_band or age, area) and 0/1 flag columns named after the count indicators in
 *           lower case (enrolled, early_leavers, ...; persistent absence may instead be given as
 *           sessions_possible and sessions_missed). The node counts the pupils in memory; the
 *           rows are never written anywhere and no error message ever repeats a value of one.
 *
 * Both: RFC 4180 (libcsv), UTF-8 with or without a byte order mark, ',' or ';' separated
 * (detected from the header line). Every error is one line "FILE:LINE: rule" (with the column
 * for pupil rows), and on any error nothing is returned: the import is all or nothing.
 * docs/statistics.md ("Input files") documents both formats. */
#ifndef JET_STATCSV_H
#define JET_STATCSV_H

#include <stddef.h>

#include "error.h"
#include "stats.h"

typedef enum jet_statcsv_format {
    JET_STATCSV_AUTO = 0,
    JET_STATCSV_COUNTS = 1,
    JET_STATCSV_PUPILS = 2,
} jet_statcsv_format;

enum {
    JET_STATCSV_MAX_COLUMNS = 64,
    JET_STATCSV_MAX_FIELD = 256,
    JET_STATCSV_MAX_FILE = 1024 * 1024 * 1024, /* 1 GiB */
};

/* Parses a format name ("counts", "pupils", "auto"). Returns the format or -1. */
int jet_statcsv_format_parse(const char *name);

/* Reads `len` bytes of CSV named `name` (for messages). On success *out is a new observation
 * set (free with jet_stats_obs_free()) and *format_out (may be NULL) the format found.
 * Returns 0, JET_EVALIDATE with "name:line: rule" in diag, or JET_ENOMEM. */
int jet_statcsv_read_buffer(const char *name, const char *buf, size_t len,
                            jet_statcsv_format format, jet_stats_obs **out,
                            jet_statcsv_format *format_out, jet_diag *diag);

/* Reads the file at `path` the same way (the file's bytes are wiped from memory afterwards).
 * Returns 0, JET_EIO (cannot read), JET_ETOOBIG, JET_EVALIDATE or JET_ENOMEM. */
int jet_statcsv_read_file(const char *path, jet_statcsv_format format, jet_stats_obs **out,
                          jet_statcsv_format *format_out, jet_diag *diag);

#endif
