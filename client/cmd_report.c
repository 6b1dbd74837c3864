/* cmd_report.c - `jetsync report --out FILE.html [--csv FILE.csv]`: the cross-region report of
 * the releases the node holds (at the lead partner: every region's). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "report.h"
#include "stats.h"

static const char usage_text[] =
    "usage: jetsync report [--home DIR] --out FILE.html [--csv FILE.csv]\n"
    "\n"
    "Writes one self-contained HTML file (tables and inline SVG charts per indicator, no\n"
    "script, opens offline) of the statistics this node holds; at the lead partner, every\n"
    "region's. --csv also writes every observation, breakdowns included, as SDMX-CSV.\n";

/* Writes `path` through a temporary file renamed into place, so a reader never sees half. */
static int write_file(const char *path, const jet_stats_view *v, const jet_report_options *opt,
                      int html) {
    char tmp[4096];
    FILE *f;
    int rc;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return cli_fail("report: %s: path too long", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return cli_fail("report: %s: cannot create: %m", tmp);
    rc = html ? jet_report_html(v, opt, f) : jet_report_sdmx_csv(v, f);
    if (fclose(f) != 0 || rc != 0) {
        remove(tmp);
        return cli_fail("report: %s: cannot write", path);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return cli_fail("report: %s: cannot write: %m", path);
    }
    return 0;
}

int cmd_report_main(int argc, char **argv) {
    static const struct option options[] = {
        {"home", required_argument, NULL, 'H'},
        {"out", required_argument, NULL, 'o'},
        {"csv", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home = NULL, *out = NULL, *csv = NULL;
    jet_node *node;
    jet_stats_view *view = NULL;
    jet_report_options opt;
    jet_diag diag;
    int c, rc, status = 1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'o': out = optarg; break;
        case 'c': csv = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default:
            cli_fail("report: unknown option or missing value '%s'", argv[optind - 1]);
            return cli_usage(usage_text);
        }
    }
    if (out == NULL || optind != argc)
        return cli_usage(usage_text);
    node = cli_open_node(home);
    if (node == NULL)
        return 1;
    jet_diag_clear(&diag);
    /* At a region the cross-region figures the lead published are the report's subject; when
     * there are none yet (and at the lead) the releases the node holds are. */
    if (!jet_node_is_lead(node)) {
        jet_stats_filter figures = {NULL, NULL, NULL, 1};
        rc = jet_stats_view_open(jet_node_store(node), &figures, jet_node_config(node)->stats_k,
                                 &view, &diag);
        if (rc == 0 && jet_stats_view_releases(view) == 0) {
            jet_stats_view_free(view);
            view = NULL;
        }
    }
    rc = view != NULL ? 0
                      : jet_stats_view_open(jet_node_store(node), NULL,
                                            jet_node_config(node)->stats_k, &view, &diag);
    if (rc != 0) {
        cli_fail("report: %s", jet_diag_message(&diag, rc));
        goto done;
    }
    memset(&opt, 0, sizeof opt);
    opt.node_name = jet_node_config(node)->name;
    opt.node_region = jet_node_region(node);
    opt.generated = (int64_t)time(NULL);
    opt.k = jet_node_config(node)->stats_k;
    if (write_file(out, view, &opt, 1) != 0)
        goto done;
    if (csv != NULL && write_file(csv, view, &opt, 0) != 0)
        goto done;
    printf("wrote %s (%zu releases)%s%s\n", out, jet_stats_view_releases(view), csv ? " and " : "",
           csv ? csv : "");
    status = 0;
done:
    jet_stats_view_free(view);
    jet_node_free(node);
    return status;
}
