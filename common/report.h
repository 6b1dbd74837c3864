/* report.h - what people read of the statistics view (stats.h): the JSON and SDMX-CSV tables of
 * `jetsync stats show`, a text table, and the lead partner's cross-region HTML report.
 *
 * Every rendering shows a suppressed cell as suppressed (status C, no value), never as zero.
 * All functions write to a stdio stream and return 0 or JET_EIO when the stream failed. */
#ifndef JET_REPORT_H
#define JET_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "stats.h"

/* The identification of the SDMX-CSV dataflow written in STRUCTURE_ID. */
#define JET_REPORT_SDMX_DATAFLOW "JETCD:DF_ESL(1.0)"

/* Writes the rows of `v` as one JSON array of observations: {region, indicator, period,
 * school_level, sex, age_band, area, value (number or null), status ("A" or "C")}. */
int jet_report_json(const jet_stats_view *v, FILE *out);

/* Writes the rows of `v` as SDMX-CSV: STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,
 * INDICATOR,UNIT_MEASURE,SEX,AGE,ISCED11,AREA,OBS_VALUE,OBS_STATUS,CONF_STATUS. A suppressed
 * cell has an empty OBS_VALUE, OBS_STATUS M and CONF_STATUS C; a published one A and F.
 * ISCED11 uses the SDMX codes ED1, ED2, ED34 (general), ED35 (vocational), _T. */
int jet_report_sdmx_csv(const jet_stats_view *v, FILE *out);

/* Writes the rows of `v` as an aligned text table (or a line saying there is nothing). */
int jet_report_text(const jet_stats_view *v, FILE *out);

typedef struct jet_report_options {
    const char *node_name;   /* who made the report */
    const char *node_region; /* its region code */
    int64_t generated;       /* unix seconds */
    unsigned k;              /* the threshold of the node, named in the footnote */
} jet_report_options;

/* Writes the cross-region report: one self-contained HTML document (no script, no external
 * resource) with, per indicator that has data, a bar chart of the latest period by region and a
 * line chart of the trend per region (inline SVG), a table of regions by periods, and a
 * footnote that explains the marks and names the source release of every figure (region, node
 * id, version, import time). Totals only (every breakdown _T); the breakdowns are in the CSV. */
int jet_report_html(const jet_stats_view *v, const jet_report_options *opt, FILE *out);

#endif
