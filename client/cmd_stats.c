/* cmd_stats.c - `jetsync stats import|show|indicators`.
 *
 *   stats import FILE.csv [--format counts|pupils] [--json]
 *       read, total, protect, audit and store (one transaction) the releases of a CSV file
 *   stats show [--region CODE] [--indicator CODE] [--period P] [--json|--csv]
 *       the releases this node holds, with the derived rates
 *   stats indicators [--json]
 *       the catalogue */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "indicators.h"
#include "report.h"
#include "sdc.h"
#include "statcsv.h"
#include "stats.h"

static const char usage_text[] =
    "usage: jetsync stats import [--home DIR] [--format counts|pupils] [--json] FILE.csv\n"
    "       jetsync stats show [--home DIR] [--region CODE] [--indicator CODE] [--period P]\n"
    "                          [--figures] [--json|--csv]\n"
    "       jetsync stats publish [--home DIR]\n"
    "       jetsync stats indicators [--json]\n"
    "\n"
    "import   reads counts (indicator,period,value[,school_level,sex,age_band,area]) or pupil\n"
    "         rows (pupil_id,period,...,flags), computes totals, suppresses small counts,\n"
    "         audits and stores the protected releases, signed, for the lead partner\n"
    "show     lists the releases held (at the lead: every region's) and the derived rates;\n"
    "         suppressed cells have status C and no value; --figures: the cross-region\n"
    "         figures the lead partner published instead\n"
    "publish  (lead partner) publishes the releases held as cross-region figures to every\n"
    "         partner\n"
    "indicators  lists the indicator catalogue\n";

enum {
    OPT_HOME = 1000,
    OPT_FORMAT,
    OPT_REGION,
    OPT_INDICATOR,
    OPT_PERIOD,
    OPT_JSON,
    OPT_CSV,
    OPT_FIGURES
};

static const struct option options[] = {
    {"home", required_argument, NULL, OPT_HOME},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"region", required_argument, NULL, OPT_REGION},
    {"indicator", required_argument, NULL, OPT_INDICATOR},
    {"period", required_argument, NULL, OPT_PERIOD},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"figures", no_argument, NULL, OPT_FIGURES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct args {
    const char *home;
    const char *format;
    const char *region;
    const char *indicator;
    const char *period;
    int json;
    int csv;
    int figures;
    int nfiles;
    const char *file;
} args;

/* Parses argv (argv[0] = the subcommand). Returns 0, 1 (--help shown) or 2 (bad usage). */
static int parse(int argc, char **argv, args *a) {
    int c;
    memset(a, 0, sizeof *a);
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_HOME: a->home = optarg; break;
        case OPT_FORMAT: a->format = optarg; break;
        case OPT_REGION: a->region = optarg; break;
        case OPT_INDICATOR: a->indicator = optarg; break;
        case OPT_PERIOD: a->period = optarg; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_CSV: a->csv = 1; break;
        case OPT_FIGURES: a->figures = 1; break;
        case 'h': fputs(usage_text, stdout); return 1;
        default:
            cli_fail("stats %s: unknown option or missing value '%s'", argv[0], argv[optind - 1]);
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->nfiles++ == 0)
            a->file = argv[i];
    }
    return 0;
}

static int cmd_import(const args *a) {
    jet_node *node = NULL;
    jet_stats_obs *obs = NULL;
    jet_stats_batch *batch = NULL;
    jet_statcsv_format fmt = JET_STATCSV_AUTO, found = JET_STATCSV_AUTO;
    jet_stats_summary sum;
    jet_sdc_options opt;
    jet_diag diag;
    int rc, status = 1;

    if (a->nfiles != 1)
        return cli_usage("usage: jetsync stats import [--home DIR] [--format counts|pupils] "
                         "FILE.csv\n");
    if (a->format != NULL) {
        int f = jet_statcsv_format_parse(a->format);
        if (f < 0)
            return cli_fail("stats import: --format must be counts or pupils");
        fmt = (jet_statcsv_format)f;
    }
    node = cli_open_node(a->home);
    if (node == NULL)
        return 1;
    const jet_config *cfg = jet_node_config(node);
    opt.k = cfg->stats_k;
    opt.publish_zeros = cfg->stats_publish_zeros;
    jet_diag_clear(&diag);
    rc = jet_statcsv_read_file(a->file, fmt, &obs, &found, &diag);
    if (rc == 0)
        rc = jet_stats_batch_build(obs, &batch, &diag);
    if (rc == 0 && cfg->stats_noise)
        rc = jet_stats_batch_noise(batch, cfg->stats_epsilon, cfg->stats_budget, &diag);
    if (rc == 0)
        rc = jet_stats_batch_protect(batch, &opt, &diag);
    if (rc == 0)
        rc = jet_stats_batch_audit(batch, &opt, &diag);
    if (rc == 0)
        rc = jet_stats_batch_store(batch, jet_node_store(node), jet_node_secret_key(node),
                                   jet_node_region(node), (int64_t)time(NULL), &diag);
    if (rc != 0) {
        cli_fail("%s", jet_diag_message(&diag, rc));
        goto out;
    }
    jet_stats_batch_summary(batch, &sum);
    double share =
        sum.total_mass > 0 ? 100.0 * (double)sum.suppressed_mass / (double)sum.total_mass : 0.0;
    if (a->json) {
        json_t *o = json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:i}", "region", jet_node_region(node), "format",
            found == JET_STATCSV_PUPILS ? "pupils" : "counts", "observations",
            (json_int_t)sum.observations, "releases", (json_int_t)sum.releases, "cells",
            (json_int_t)sum.cells, "suppressed", (json_int_t)sum.suppressed,
            "suppressed_share_percent", share, "records", (json_int_t)sum.records, "k", (int)opt.k);
        status = cli_print_json(o);
        goto out;
    }
    printf("imported %s (%s): %zu observations -> %zu release%s of %s, %zu cells with totals\n",
           a->file, found == JET_STATCSV_PUPILS ? "pupil rows, counted in memory" : "counts",
           sum.observations, sum.releases, sum.releases == 1 ? "" : "s", jet_node_region(node),
           sum.cells);
    printf("disclosure control (k=%u): %zu cells suppressed (%.1f %% of cells), %.2f %% of the "
           "total count; audit passed\n",
           opt.k, sum.suppressed,
           sum.cells ? 100.0 * (double)sum.suppressed / (double)sum.cells : 0.0, share);
    if (cfg->stats_noise)
        printf("noise: discrete Laplace, epsilon %.3f per release (budget %.3f per indicator and "
               "period)\n",
               cfg->stats_epsilon, cfg->stats_budget);
    printf("stored in %zu signed record%s for the lead partner\n", sum.records,
           sum.records == 1 ? "" : "s");
    status = 0;
out:
    jet_stats_batch_free(batch);
    jet_stats_obs_free(obs);
    jet_node_free(node);
    return status;
}

static int cmd_show(const args *a) {
    jet_node *node;
    jet_stats_view *view = NULL;
    jet_stats_filter filter = {a->region, a->indicator, a->period, a->figures};
    jet_diag diag;
    int rc, status;

    if (a->nfiles != 0)
        return cli_usage("usage: jetsync stats show [--home DIR] [--region CODE] "
                         "[--indicator CODE] [--period P] [--json|--csv]\n");
    if (a->json && a->csv)
        return cli_fail("stats show: give --json or --csv, not both");
    if (a->indicator != NULL && jet_indicators_find(a->indicator) == NULL)
        return cli_fail("stats show: unknown indicator '%s' (see 'jetsync stats indicators')",
                        a->indicator);
    if (a->period != NULL && jet_indicators_check_period(a->period, strlen(a->period)) != 0)
        return cli_fail("stats show: '%s' is not a period (2024/25, 2024, 2024-Q3 or 2024-09)",
                        a->period);
    node = cli_open_node(a->home);
    if (node == NULL)
        return 1;
    jet_diag_clear(&diag);
    rc = jet_stats_view_open(jet_node_store(node), &filter, jet_node_config(node)->stats_k, &view,
                             &diag);
    if (rc != 0) {
        status = cli_fail("%s", jet_diag_message(&diag, rc));
        goto out;
    }
    if (a->json)
        rc = jet_report_json(view, stdout);
    else if (a->csv)
        rc = jet_report_sdmx_csv(view, stdout);
    else
        rc = jet_report_text(view, stdout);
    status = rc == 0 && fflush(stdout) == 0 ? 0 : cli_fail("stats show: cannot write the output");
out:
    jet_stats_view_free(view);
    jet_node_free(node);
    return status;
}

static int cmd_publish(const args *a) {
    jet_node *node;
    jet_diag diag;
    size_t n = 0;
    int rc, status = 1;
    if (a->nfiles != 0)
        return cli_usage("usage: jetsync stats publish [--home DIR]\n");
    node = cli_open_node(a->home);
    if (node == NULL)
        return 1;
    if (!jet_node_is_lead(node)) {
        cli_fail("stats publish: only the lead partner publishes cross-region figures");
        goto out;
    }
    jet_diag_clear(&diag);
    rc = jet_stats_publish_figures(jet_node_store(node), jet_node_secret_key(node), &n, &diag);
    if (rc != 0) {
        cli_fail("%s", jet_diag_message(&diag, rc));
        goto out;
    }
    printf("published %zu release%s as cross-region figures for every partner\n", n,
           n == 1 ? "" : "s");
    status = 0;
out:
    jet_node_free(node);
    return status;
}

static int cmd_indicators(const args *a) {
    size_t n = jet_indicators_count();
    if (a->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const jet_indicator *d = jet_indicators_at(i);
            json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "code", d->code, "name", d->name, "kind",
                                  d->kind == JET_INDICATOR_RATE ? "rate" : "count", "unit", d->unit,
                                  "definition", d->definition);
            if (o != NULL && d->kind == JET_INDICATOR_RATE) {
                json_object_set_new(o, "numerator", json_string(d->numerator));
                json_object_set_new(o, "denominator", json_string(d->denominator));
            }
            json_array_append_new(arr, o);
        }
        return cli_print_json(arr);
    }
    for (size_t i = 0; i < n; i++) {
        const jet_indicator *d = jet_indicators_at(i);
        if (d->kind == JET_INDICATOR_RATE)
            printf("%-24s %-7s %s = %s / %s\n", d->code, "rate", d->name, d->numerator,
                   d->denominator);
        else
            printf("%-24s %-7s %s\n", d->code, "count", d->name);
    }
    printf("\nbreakdowns: school_level ISCED1 ISCED2 ISCED3G ISCED3V; sex F M; age_band "
           "Y<from>-<to>; area (any code); total _T\n"
           "periods: 2024/25 (school year), 2024, 2024-Q3, 2024-09\n");
    return 0;
}

int cmd_stats_main(int argc, char **argv) {
    args a;
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 2) {
            fputs(usage_text, stdout);
            return 0;
        }
        return cli_usage(usage_text);
    }
    const char *sub = argv[1];
    rc = parse(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (strcmp(sub, "import") == 0)
        return cmd_import(&a);
    if (strcmp(sub, "show") == 0)
        return cmd_show(&a);
    if (strcmp(sub, "indicators") == 0)
        return cmd_indicators(&a);
    if (strcmp(sub, "publish") == 0)
        return cmd_publish(&a);
    cli_fail("stats: unknown subcommand '%s' (import, show, publish or indicators)", sub);
    return 2;
}
