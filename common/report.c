/* report.c - renderings of the statistics view: JSON, SDMX-CSV, text and the HTML report.
 *
 * The HTML report is one file with inline CSS and inline SVG, so it opens offline and needs no
 * script. Charts use the totals (every breakdown _T) of each region; a suppressed value is drawn
 * as a hatched outline marked "c" and a gap in a trend line, never as a zero. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "indicators.h"

/* ---- small helpers ------------------------------------------------------------------------ */

/* Writes s as the body of a JSON string (codes are plain ASCII, but be safe). */
static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void html_str(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* A CSV field: quoted when it holds a separator, quote or line break. */
static void csv_str(FILE *out, const char *s) {
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void fmt_value(char *buf, size_t len, const jet_stats_row *r) {
    if (r->def->kind == JET_INDICATOR_RATE)
        snprintf(buf, len, "%.1f", r->value);
    else
        snprintf(buf, len, "%lld", (long long)llround(r->value));
}

static int finish(FILE *out) {
    return ferror(out) ? JET_EIO : 0;
}

/* ---- JSON, SDMX-CSV, text ---------------------------------------------------------------- */

int jet_report_json(const jet_stats_view *v, FILE *out) {
    static const char *const keys[JET_DIM__COUNT] = {"school_level", "sex", "age_band", "area"};
    size_t n = jet_stats_view_rows(v);
    char val[64];
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        fputs(i ? ",\n  {\"region\": " : "\n  {\"region\": ", out);
        json_str(out, r.region);
        fputs(", \"indicator\": ", out);
        json_str(out, r.indicator);
        fputs(", \"period\": ", out);
        json_str(out, r.period);
        for (int d = 0; d < JET_DIM__COUNT; d++) {
            fprintf(out, ", \"%s\": ", keys[d]);
            json_str(out, r.code[d]);
        }
        if (r.suppressed) {
            fputs(", \"value\": null, \"status\": \"C\"}", out);
        } else {
            fmt_value(val, sizeof val, &r);
            fprintf(out, ", \"value\": %s, \"status\": \"A\"}", val);
        }
    }
    fputs(n ? "\n]\n" : "]\n", out);
    return finish(out);
}

/* SDMX ISCED11 codes of our school levels. */
static const char *isced_sdmx(const char *code) {
    if (strcmp(code, "ISCED1") == 0)
        return "ED1";
    if (strcmp(code, "ISCED2") == 0)
        return "ED2";
    if (strcmp(code, "ISCED3G") == 0)
        return "ED34";
    if (strcmp(code, "ISCED3V") == 0)
        return "ED35";
    return code;
}

int jet_report_sdmx_csv(const jet_stats_view *v, FILE *out) {
    size_t n = jet_stats_view_rows(v);
    char val[64];
    fputs("STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,INDICATOR,UNIT_MEASURE,SEX,AGE,"
          "ISCED11,AREA,OBS_VALUE,OBS_STATUS,CONF_STATUS\n",
          out);
    for (size_t i = 0; i < n; i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        fputs("dataflow," JET_REPORT_SDMX_DATAFLOW ",I,", out);
        csv_str(out, r.region);
        fputc(',', out);
        csv_str(out, r.period);
        fputc(',', out);
        csv_str(out, r.indicator);
        fprintf(out, ",%s,", r.def->sdmx_unit);
        csv_str(out, r.code[JET_DIM_SEX]);
        fputc(',', out);
        csv_str(out, r.code[JET_DIM_AGE_BAND]);
        fputc(',', out);
        csv_str(out, isced_sdmx(r.code[JET_DIM_SCHOOL_LEVEL]));
        fputc(',', out);
        csv_str(out, r.code[JET_DIM_AREA]);
        if (r.suppressed) {
            fputs(",,M,C\n", out);
        } else {
            fmt_value(val, sizeof val, &r);
            fprintf(out, ",%s,A,F\n", val);
        }
    }
    return finish(out);
}

int jet_report_text(const jet_stats_view *v, FILE *out) {
    size_t n = jet_stats_view_rows(v);
    char val[64];
    if (n == 0) {
        fputs("no statistics held\n", out);
        return finish(out);
    }
    fprintf(out, "%-8s %-24s %-8s %-12s %-4s %-8s %-10s %12s %s\n", "REGION", "INDICATOR", "PERIOD",
            "SCHOOL_LEVEL", "SEX", "AGE_BAND", "AREA", "VALUE", "STATUS");
    for (size_t i = 0; i < n; i++) {
        jet_stats_row r;
        jet_stats_view_row(v, i, &r);
        if (r.suppressed)
            snprintf(val, sizeof val, "c");
        else
            fmt_value(val, sizeof val, &r);
        fprintf(out, "%-8s %-24s %-8s %-12s %-4s %-8s %-10s %12s %s\n", r.region, r.indicator,
                r.period, r.code[0], r.code[1], r.code[2], r.code[3], val,
                r.suppressed ? "C" : "A");
    }
    return finish(out);
}

/* ---- the HTML report ----------------------------------------------------------------------- */

/* One total figure: an indicator of a region in a period. */
typedef struct fig {
    int ind;
    int region;
    int period;
    double value;
    int supp;
} fig;

typedef struct model {
    const char **region; /* distinct regions, sorted */
    size_t nregion;
    const char **period; /* distinct periods, sorted by start */
    size_t nperiod;
    fig *fig;
    size_t nfig;
} model;

static int index_of(const char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return (int)i;
    return -1;
}

static int cmp_period(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    long px = jet_indicators_period_start(x), py = jet_indicators_period_start(y);
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(x, y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int model_build(const jet_stats_view *v, model *m) {
    size_t nrel = jet_stats_view_releases(v), nrow = jet_stats_view_rows(v);
    memset(m, 0, sizeof *m);
    m->region = calloc(nrel + 1, sizeof *m->region);
    m->period = calloc(nrel + 1, sizeof *m->period);
    m->fig = calloc(nrow + 1, sizeof *m->fig);
    if (m->region == NULL || m->period == NULL || m->fig == NULL)
        return JET_ENOMEM;
    for (size_t i = 0; i < nrel; i++) {
        const jet_stats_release *r = jet_stats_view_release(v, i);
        if (index_of(m->region, m->nregion, r->region) < 0)
            m->region[m->nregion++] = r->region;
        if (index_of(m->period, m->nperiod, r->period) < 0)
            m->period[m->nperiod++] = r->period;
    }
    qsort(m->region, m->nregion, sizeof *m->region, cmp_str);
    qsort(m->period, m->nperiod, sizeof *m->period, cmp_period);
    for (size_t i = 0; i < nrow; i++) {
        jet_stats_row r;
        if (!jet_stats_view_row_is_total(v, i))
            continue;
        jet_stats_view_row(v, i, &r);
        fig *f = &m->fig[m->nfig++];
        f->ind = jet_indicators_index(r.indicator);
        f->region = index_of(m->region, m->nregion, r.region);
        f->period = index_of(m->period, m->nperiod, r.period);
        f->value = r.value;
        f->supp = r.suppressed;
    }
    return 0;
}

static void model_fini(model *m) {
    free(m->region);
    free(m->period);
    free(m->fig);
}

static const fig *find_fig(const model *m, int ind, int region, int period) {
    for (size_t i = 0; i < m->nfig; i++)
        if (m->fig[i].ind == ind && m->fig[i].region == region && m->fig[i].period == period)
            return &m->fig[i];
    return NULL;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};
#define NPAL (sizeof palette / sizeof palette[0])

static void fmt_num(char *buf, size_t len, double v, int rate) {
    if (rate)
        snprintf(buf, len, "%.1f %%", v);
    else
        snprintf(buf, len, "%lld", (long long)llround(v));
}

/* A "nice" upper bound of an axis: 1, 2 or 5 times a power of ten, at least max. */
static double nice_max(double max) {
    double p;
    if (max <= 0)
        return 1;
    p = pow(10, floor(log10(max)));
    if (max <= p)
        return p;
    if (max <= 2 * p)
        return 2 * p;
    if (max <= 5 * p)
        return 5 * p;
    return 10 * p;
}

enum { CW = 520, CH = 260, ML = 64, MR = 16, MT = 20, MB = 48 };

static void axis(FILE *out, double ymax, int rate) {
    char buf[64];
    fprintf(out, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>", ML, CH - MB, CW - MR,
            CH - MB);
    fprintf(out, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>", ML, MT, ML, CH - MB);
    for (int t = 0; t <= 4; t++) {
        double v = ymax * t / 4;
        double y = (CH - MB) - (double)(CH - MB - MT) * t / 4;
        fmt_num(buf, sizeof buf, v, rate);
        fprintf(out, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>", ML + 1, y,
                CW - MR, y);
        fprintf(out, "<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%s</text>", ML - 4,
                y + 4, buf);
    }
}

static void bar_chart(FILE *out, const model *m, int ind, int period, int rate) {
    double max = 0;
    int n = 0;
    char buf[64];
    for (size_t r = 0; r < m->nregion; r++) {
        const fig *f = find_fig(m, ind, (int)r, period);
        if (f != NULL) {
            n++;
            if (!f->supp && f->value > max)
                max = f->value;
        }
    }
    double ymax = nice_max(max * 1.05);
    fprintf(out,
            "<figure><svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "viewBox='0 0 %d %d' role='img'><title>",
            CW, CH, CW, CH);
    html_str(out, jet_indicators_at((size_t)ind)->name);
    fputs(", ", out);
    html_str(out, m->period[period]);
    fputs(", by region</title>", out);
    fputs("<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
          "patternTransform='rotate(45)'><line x1='0' y1='0' x2='0' y2='6' stroke='#999' "
          "stroke-width='2'/></pattern></defs>",
          out);
    axis(out, ymax, rate);
    double slot = n > 0 ? (double)(CW - ML - MR) / n : 0;
    int i = 0;
    for (size_t r = 0; r < m->nregion; r++) {
        const fig *f = find_fig(m, ind, (int)r, period);
        if (f == NULL)
            continue;
        double x = ML + slot * i + slot * 0.15, w = slot * 0.7;
        double plot = CH - MB - MT;
        if (f->supp) {
            fprintf(out,
                    "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='url(#hatch)' "
                    "stroke='#777' stroke-dasharray='4 2'/>",
                    x, (double)(CH - MB) - plot * 0.25, w, plot * 0.25);
            fprintf(out,
                    "<text x='%.1f' y='%.1f' font-size='12' text-anchor='middle' "
                    "font-weight='bold'>c (suppressed)</text>",
                    x + w / 2, (double)(CH - MB) - plot * 0.25 - 4);
        } else {
            double h = ymax > 0 ? plot * f->value / ymax : 0;
            fmt_num(buf, sizeof buf, f->value, rate);
            fprintf(out, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>", x,
                    (double)(CH - MB) - h, w, h, palette[r % NPAL]);
            fprintf(out, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>%s</text>",
                    x + w / 2, (double)(CH - MB) - h - 4, buf);
        }
        fprintf(out, "<text x='%.1f' y='%d' font-size='12' text-anchor='middle'>", x + w / 2,
                CH - MB + 16);
        html_str(out, m->region[r]);
        fputs("</text>", out);
        i++;
    }
    fputs("</svg><figcaption>Latest period (", out);
    html_str(out, m->period[period]);
    fputs(") by region. Hatched bars marked c are suppressed values, not zeros.</figcaption>"
          "</figure>\n",
          out);
}

static void line_chart(FILE *out, const model *m, int ind, const int *periods, int np, int rate) {
    double max = 0;
    char buf[64];
    for (size_t i = 0; i < m->nfig; i++)
        if (m->fig[i].ind == ind && !m->fig[i].supp && m->fig[i].value > max)
            max = m->fig[i].value;
    double ymax = nice_max(max * 1.05);
    double plot = CH - MB - MT;
    double step = np > 1 ? (double)(CW - ML - MR - 40) / (np - 1) : 0;
    int nshown = 0;
    for (size_t r = 0; r < m->nregion; r++) {
        int any = 0;
        for (int p = 0; p < np; p++)
            any |= find_fig(m, ind, (int)r, periods[p]) != NULL;
        nshown += any;
    }
    int height = CH + 10 + 14 * ((nshown + 5) / 6);
    fprintf(out,
            "<figure><svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "viewBox='0 0 %d %d' role='img'><title>",
            CW, height, CW, height);
    html_str(out, jet_indicators_at((size_t)ind)->name);
    fputs(", trend by region</title>", out);
    axis(out, ymax, rate);
    for (int p = 0; p < np; p++) {
        fprintf(out, "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>",
                ML + 20 + step * p, CH - MB + 16);
        html_str(out, m->period[periods[p]]);
        fputs("</text>", out);
    }
    int shown = 0;
    for (size_t r = 0; r < m->nregion; r++) {
        const char *col = palette[r % NPAL];
        int open = 0, any = 0;
        for (int p = 0; p < np; p++)
            any |= find_fig(m, ind, (int)r, periods[p]) != NULL;
        if (!any)
            continue;
        for (int p = 0; p < np; p++) {
            const fig *f = find_fig(m, ind, (int)r, periods[p]);
            double x = ML + 20 + step * p;
            if (f == NULL || f->supp) {
                if (open)
                    fputs("'/>", out);
                open = 0;
                if (f != NULL)
                    fprintf(out,
                            "<text x='%.1f' y='%d' font-size='12' fill='%s' "
                            "text-anchor='middle' font-weight='bold'>c</text>",
                            x, CH - MB - 6 - (int)(r % 4) * 12, col);
                continue;
            }
            double y = (double)(CH - MB) - (ymax > 0 ? plot * f->value / ymax : 0);
            if (!open)
                fprintf(out, "<polyline fill='none' stroke='%s' stroke-width='2' points='", col);
            fprintf(out, "%.1f,%.1f ", x, y);
            open = 1;
        }
        if (open)
            fputs("'/>", out);
        for (int p = 0; p < np; p++) {
            const fig *f = find_fig(m, ind, (int)r, periods[p]);
            if (f == NULL || f->supp)
                continue;
            double y = (double)(CH - MB) - (ymax > 0 ? plot * f->value / ymax : 0);
            fmt_num(buf, sizeof buf, f->value, rate);
            fprintf(out, "<circle cx='%.1f' cy='%.1f' r='3.5' fill='%s'><title>",
                    ML + 20 + step * p, y, col);
            html_str(out, m->region[r]);
            fprintf(out, " %s</title></circle>", buf);
        }
        /* legend: only the regions that have this indicator */
        double lx = ML + (double)(shown % 6) * 72;
        int ly = CH + 4 + (shown / 6) * 14;
        shown++;
        fprintf(out, "<rect x='%.1f' y='%d' width='12' height='8' fill='%s'/>", lx, ly, col);
        fprintf(out, "<text x='%.1f' y='%d' font-size='11'>", lx + 16, ly + 8);
        html_str(out, m->region[r]);
        fputs("</text>", out);
    }
    fputs("</svg><figcaption>Trend over the periods held, one line per region; a c on the axis "
          "marks a suppressed value (the line is broken there, the value is not zero)."
          "</figcaption></figure>\n",
          out);
}

static void table(FILE *out, const model *m, int ind, const int *periods, int np, int rate) {
    char buf[64];
    fputs("<table><thead><tr><th>Region</th>", out);
    for (int p = 0; p < np; p++) {
        fputs("<th>", out);
        html_str(out, m->period[periods[p]]);
        fputs("</th>", out);
    }
    fputs("</tr></thead><tbody>\n", out);
    for (size_t r = 0; r < m->nregion; r++) {
        int any = 0;
        for (int p = 0; p < np; p++)
            any |= find_fig(m, ind, (int)r, periods[p]) != NULL;
        if (!any)
            continue;
        fputs("<tr><th>", out);
        html_str(out, m->region[r]);
        fputs("</th>", out);
        for (int p = 0; p < np; p++) {
            const fig *f = find_fig(m, ind, (int)r, periods[p]);
            if (f == NULL) {
                fputs("<td class='na'>&ndash;</td>", out);
            } else if (f->supp) {
                fputs("<td class='c' title='suppressed'>c</td>", out);
            } else {
                fmt_num(buf, sizeof buf, f->value, rate);
                fprintf(out, "<td>%s</td>", buf);
            }
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

static void utc(char *buf, size_t len, int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void sources(FILE *out, const jet_stats_view *v) {
    char id[JET_NODE_ID_BUF], when[64];
    size_t n = jet_stats_view_releases(v);
    int noisy = 0;
    for (size_t i = 0; i < n; i++)
        noisy |= jet_stats_view_release(v, i)->noise_epsilon_milli > 0;
    if (noisy)
        fputs("<p>Releases with a noise &epsilon; carry discrete Laplace noise (differential "
              "privacy) on their counts: their figures are not exact counts.</p>\n",
              out);
    fputs("<h3>Source releases</h3><table class='src'><thead><tr><th>Region</th>"
          "<th>Indicator</th><th>Period</th><th>Version</th><th>Imported</th><th>k</th>"
          "<th>Suppressed cells</th><th>Noise</th><th>Node id</th></tr></thead><tbody>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        const jet_stats_release *r = jet_stats_view_release(v, i);
        jet_node_id_format(r->source, id);
        utc(when, sizeof when, r->import_time);
        fputs("<tr><td>", out);
        html_str(out, r->region);
        fputs("</td><td>", out);
        html_str(out, r->indicator);
        fputs("</td><td>", out);
        html_str(out, r->period);
        char noise[48];
        if (r->noise_epsilon_milli > 0)
            snprintf(noise, sizeof noise, "&epsilon; = %.3f", r->noise_epsilon_milli / 1000.0);
        else
            snprintf(noise, sizeof noise, "none");
        fprintf(out,
                "</td><td>%llu</td><td>%s</td><td>%u</td><td>%zu of %zu</td><td>%s</td>"
                "<td><code>%s</code></td></tr>\n",
                (unsigned long long)r->version, when, r->k, r->suppressed, r->ncells, noise, id);
    }
    fputs("</tbody></table>\n", out);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;"
    "max-width:1100px;color:#222;background:#fff;padding:0 1em}"
    "h1{color:#0b4f8a}h2{border-bottom:2px solid #0b4f8a;padding-bottom:.2em;margin-top:2em}"
    "section .charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}"
    "figcaption{font-size:.85em;color:#555;max-width:520px}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "thead th{background:#e8f0f8}tbody th{text-align:left}"
    "td.c{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ddd 4px,#ddd 8px);"
    "font-weight:bold;text-align:center}td.na{color:#999;text-align:center}"
    "table.src td{text-align:left}code{font-size:.85em}"
    ".def{color:#444;font-size:.9em;max-width:900px}footer{margin-top:3em;font-size:.9em}";

int jet_report_html(const jet_stats_view *v, const jet_report_options *opt, FILE *out) {
    model m;
    char when[64];
    int *periods = NULL;
    int rc = model_build(v, &m);
    if (rc != 0) {
        model_fini(&m);
        return rc;
    }
    periods = calloc(m.nperiod + 1, sizeof *periods);
    if (periods == NULL) {
        model_fini(&m);
        return JET_ENOMEM;
    }
    utc(when, sizeof when, opt->generated);
    fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'>"
          "<title>JET-CD cross-region figures</title><style>",
          out);
    fputs(css, out);
    fputs("</style></head><body>\n<h1>Early school leaving: cross-region figures</h1>\n<p>", out);
    fputs("Joint efforts to combat dropout (JET-CD). Report made by ", out);
    html_str(out, opt->node_name ? opt->node_name : "");
    fputs(" (", out);
    html_str(out, opt->node_region ? opt->node_region : "");
    fprintf(out,
            ") on %s from %zu release%s of %zu region%s. Every figure is a protected "
            "aggregate: small counts and the cells that would reveal them are suppressed "
            "(marked <b>c</b>).</p>\n",
            when, jet_stats_view_releases(v), jet_stats_view_releases(v) == 1 ? "" : "s", m.nregion,
            m.nregion == 1 ? "" : "s");
    if (m.nfig == 0)
        fputs("<p><b>No statistics are held yet.</b> Regions' releases arrive at the lead "
              "partner through sync.</p>\n",
              out);
    for (size_t ci = 0; ci < jet_indicators_count(); ci++) {
        const jet_indicator *def = jet_indicators_at(ci);
        int np = 0, rate = def->kind == JET_INDICATOR_RATE;
        for (size_t p = 0; p < m.nperiod; p++) {
            int any = 0;
            for (size_t r = 0; r < m.nregion; r++)
                any |= find_fig(&m, (int)ci, (int)r, (int)p) != NULL;
            if (any)
                periods[np++] = (int)p;
        }
        if (np == 0)
            continue;
        fprintf(out, "<section id='%s'><h2>", def->code);
        html_str(out, def->name);
        fprintf(out, " <small>(%s, %s)</small></h2>\n<p class='def'>", def->code, def->unit);
        html_str(out, def->definition);
        fputs("</p>\n<div class='charts'>", out);
        bar_chart(out, &m, (int)ci, periods[np - 1], rate);
        line_chart(out, &m, (int)ci, periods, np, rate);
        fputs("</div>\n", out);
        table(out, &m, (int)ci, periods, np, rate);
        fputs("</section>\n", out);
    }
    fprintf(out,
            "<footer><h3>Marks</h3><p><svg xmlns='http://www.w3.org/2000/svg' width='36' "
            "height='18' viewBox='0 0 36 18' role='img'><title>suppressed</title><defs><pattern "
            "id='hatchkey' width='6' height='6' patternUnits='userSpaceOnUse' "
            "patternTransform='rotate(45)'><line x1='0' y1='0' x2='0' y2='6' stroke='#999' "
            "stroke-width='2'/></pattern></defs><rect x='1' y='1' width='34' height='16' "
            "fill='url(#hatchkey)' stroke='#777' stroke-dasharray='4 2'/><text x='18' y='13' "
            "font-size='12' text-anchor='middle' font-weight='bold'>c</text></svg> "
            "<b>c</b> confidential: the value is suppressed by the "
            "region's disclosure control and withheld (threshold k = %u or the region's own, "
            "shown below). It is not zero, and it is marked the same way whether it is a small "
            "count or a cell suppressed to protect one. <b>&ndash;</b> no release for that "
            "region and period. Rates are computed by the node from the published counts only, "
            "never from the true ones, and are suppressed when the numerator or the denominator "
            "is suppressed, when the denominator is below 2k, or when the numerator or the "
            "denominator minus the numerator is between 1 and k-1. Charts and tables show the "
            "totals of each region; breakdowns by school level, sex, age band and area are in "
            "the CSV (<code>jetsync stats show --csv</code>).</p>\n",
            opt->k);
    sources(out, v);
    fputs("</footer>\n</body></html>\n", out);
    free(periods);
    model_fini(&m);
    return finish(out);
}
