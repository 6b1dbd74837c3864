/* test_report.c - the renderings of the statistics view: the JSON observations, the SDMX-CSV
 * header and suppressed rows, and the HTML report (self-contained, inline SVG charts, suppressed
 * values marked c and never drawn as zero, a footnote naming every source release). When
 * /usr/bin/chromium exists the report is rendered headless and the screenshot must not be blank
 * (tests/png_check.py); otherwise that test is skipped with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "encoding.h"
#include "report.h"
#include "statcsv.h"
#include "stats.h"
#include "store.h"
#include "testutil.h"

static jet_store *g_store;
static uint8_t g_pk[3][32], g_sk[3][64];
static const char *g_dir;

static void import(int who, const char *region, const char *csv) {
    jet_stats_obs *obs = NULL;
    jet_stats_batch *b = NULL;
    jet_sdc_options opt = {5, 1};
    jet_diag diag;
    jet_diag_clear(&diag);
    assert_ok(
        jet_statcsv_read_buffer("r.csv", csv, strlen(csv), JET_STATCSV_AUTO, &obs, NULL, &diag));
    assert_ok(jet_stats_batch_build(obs, &b, &diag));
    assert_ok(jet_stats_batch_protect(b, &opt, &diag));
    assert_ok(jet_stats_batch_audit(b, &opt, &diag));
    assert_ok(jet_stats_batch_store(b, g_store, g_sk[who], region, 1767225600, &diag));
    jet_stats_batch_free(b);
    jet_stats_obs_free(obs);
}

/* One store holding three regions' releases, as the lead partner's does after sync. */
static int setup(void **state) {
    (void)state;
    g_dir = jt_tempdir();
    if (jet_store_create(g_dir, &g_store) != 0)
        return -1;
    for (int i = 0; i < 3; i++)
        crypto_sign_keypair(g_pk[i], g_sk[i]);
    import(0, "SE-Y",
           "indicator;period;sex;value\n"
           "ENROLLED;2023/24;F;2100\nENROLLED;2023/24;M;2230\n"
           "EARLY_LEAVERS;2023/24;F;150\nEARLY_LEAVERS;2023/24;M;260\n"
           "ENROLLED;2024/25;F;2080\nENROLLED;2024/25;M;2200\n"
           "EARLY_LEAVERS;2024/25;F;130\nEARLY_LEAVERS;2024/25;M;220\n");
    import(1, "NO-30",
           "indicator,period,sex,value\n"
           "ENROLLED,2024/25,F,900\nENROLLED,2024/25,M,950\n"
           "EARLY_LEAVERS,2024/25,F,60\nEARLY_LEAVERS,2024/25,M,75\n"
           "FOLLOW_UP,2024,F,50\nFOLLOW_UP,2024,M,70\n"
           "NO_OCCUPATION,2024,F,6\nNO_OCCUPATION,2024,M,6\n");
    /* a small region: its early leavers total is suppressed */
    import(2, "RO-TL", "indicator,period,value\nENROLLED,2024/25,300\nEARLY_LEAVERS,2024/25,3\n");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    jet_store_free(g_store);
    return 0;
}

static char *render(int kind, size_t *len_out) {
    jet_stats_view *v = NULL;
    jet_diag diag;
    char *buf = NULL;
    size_t len = 0;
    jet_report_options opt = {"Region Västernorrland", "SE-Y", 1767230000, 5};
    jet_diag_clear(&diag);
    assert_ok(jet_stats_view_open(g_store, NULL, 5, &v, &diag));
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    if (kind == 0)
        assert_ok(jet_report_json(v, f));
    else if (kind == 1)
        assert_ok(jet_report_sdmx_csv(v, f));
    else
        assert_ok(jet_report_html(v, &opt, f));
    fclose(f);
    jet_stats_view_free(v);
    if (len_out != NULL)
        *len_out = len;
    return buf;
}

static void test_json(void **state) {
    (void)state;
    char *text = render(0, NULL);
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    assert_non_null(doc);
    assert_true(json_is_array(doc));
    size_t i, n_c = 0;
    json_t *o;
    int seen_ro_suppressed = 0;
    json_array_foreach(doc, i, o) {
        static const char *const keys[] = {"region",   "indicator", "period", "school_level", "sex",
                                           "age_band", "area",      "value",  "status"};
        for (size_t k = 0; k < 9; k++)
            assert_non_null(json_object_get(o, keys[k]));
        assert_int_equal(json_object_size(o), 9);
        const char *st = json_string_value(json_object_get(o, "status"));
        json_t *val = json_object_get(o, "value");
        if (strcmp(st, "C") == 0) {
            assert_true(json_is_null(val));
            n_c++;
            if (strcmp(json_string_value(json_object_get(o, "region")), "RO-TL") == 0 &&
                strcmp(json_string_value(json_object_get(o, "indicator")), "EARLY_LEAVERS") == 0)
                seen_ro_suppressed = 1;
        } else {
            assert_string_equal(st, "A");
            assert_true(json_is_number(val));
        }
    }
    assert_true(n_c > 0);
    assert_true(seen_ro_suppressed);
    json_decref(doc);
    free(text);
}

static void test_sdmx_csv(void **state) {
    (void)state;
    char *text = render(1, NULL);
    assert_prefix(text, "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,INDICATOR,"
                        "UNIT_MEASURE,SEX,AGE,ISCED11,AREA,OBS_VALUE,OBS_STATUS,CONF_STATUS\n");
    /* the suppressed early leavers of RO-TL: empty value, CONF_STATUS C */
    assert_non_null(strstr(text, "dataflow," JET_REPORT_SDMX_DATAFLOW
                                 ",I,RO-TL,2024/25,EARLY_LEAVERS,PS,_T,_T,_T,_T,,M,C\n"));
    assert_non_null(strstr(text, ",I,SE-Y,2024/25,ENROLLED,PS,F,_T,_T,_T,2080,A,F\n"));
    assert_non_null(strstr(text, ",I,NO-30,2024,NO_OCCUPATION_SHARE,PC,_T,_T,_T,_T,10.0,A,F\n"));
    /* every line has 14 fields */
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        int commas = 0;
        for (char *p = line; p < nl; p++)
            commas += *p == ',';
        assert_int_equal(commas, 13);
        line = nl + 1;
    }
    free(text);
}

static void test_html(void **state) {
    (void)state;
    size_t len = 0;
    char *html = render(2, &len);
    char id[JET_NODE_ID_BUF];
    assert_prefix(html, "<!DOCTYPE html>");
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "</html>"));
    /* self-contained: no script, no external resource */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "src="));
    for (const char *p = html; (p = strstr(p, "http")) != NULL; p++)
        assert_true(strncmp(p, "http://www.w3.org/2000/svg", 26) == 0);
    /* a section per indicator with data, with a bar and a line chart */
    assert_non_null(strstr(html, "<section id='EARLY_LEAVERS'>"));
    assert_non_null(strstr(html, "<section id='EARLY_LEAVING_RATE'>"));
    assert_non_null(strstr(html, "<section id='NO_OCCUPATION_SHARE'>"));
    assert_null(strstr(html, "<section id='RETAINED'>"));
    assert_non_null(strstr(html, "<polyline"));
    /* RO-TL's suppressed total is a c, in the table and in the chart */
    assert_non_null(strstr(html, "<td class='c' title='suppressed'>c</td>"));
    assert_non_null(strstr(html, "c (suppressed)"));
    assert_non_null(strstr(html, "10.0 %"));
    /* the footnote explains the mark and names every source release with its node id */
    assert_non_null(strstr(html, "It is not zero"));
    for (int i = 0; i < 3; i++) {
        jet_node_id_format(g_pk[i], id);
        assert_non_null(strstr(html, id));
    }
    assert_non_null(strstr(html, "2026-01-01 00:00 UTC"));
    assert_non_null(strstr(html, "Region Västernorrland"));
    char path[512];
    snprintf(path, sizeof path, "%s/report.html", g_dir);
    jt_write_file(path, html, len);
    free(html);
}

static void test_html_renders(void **state) {
    (void)state;
    char cmd[4096], html[512], png[512], profile[512];
    if (access("/usr/bin/chromium", X_OK) != 0) {
        print_message("SKIP: /usr/bin/chromium is not installed (Debian package chromium); the "
                      "report was not rendered\n");
        skip();
    }
    snprintf(html, sizeof html, "%s/report.html", g_dir);
    snprintf(png, sizeof png, "%s/report.png", g_dir);
    snprintf(profile, sizeof profile, "%s/profile", g_dir);
    if (access(html, R_OK) != 0) {
        size_t len;
        char *text = render(2, &len);
        jt_write_file(html, text, len);
        free(text);
    }
    snprintf(cmd, sizeof cmd,
             "timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic "
             "--no-first-run --disable-background-networking --disable-component-update "
             "--disable-sync --user-data-dir=%s --screenshot=%s --window-size=1200,2000 "
             "file://%s >/dev/null 2>&1",
             profile, png, html);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(access(png, R_OK), 0);
    snprintf(cmd, sizeof cmd, "python3 %s/tests/png_check.py %s 16 3", JET_SOURCE_DIR, png);
    assert_int_equal(system(cmd), 0);
}

static void test_empty_view(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    jet_store *s = NULL;
    jet_stats_view *v = NULL;
    jet_report_options opt = {"Lead", "SE-Y", 0, 5};
    char *buf = NULL;
    size_t len = 0;
    assert_ok(jet_store_create(dir, &s));
    assert_ok(jet_stats_view_open(s, NULL, 5, &v, NULL));
    assert_int_equal(jet_stats_view_rows(v), 0);
    FILE *f = open_memstream(&buf, &len);
    assert_ok(jet_report_json(v, f));
    fflush(f);
    assert_string_equal(buf, "[]\n");
    rewind(f);
    assert_ok(jet_report_html(v, &opt, f));
    fclose(f);
    assert_non_null(strstr(buf, "No statistics are held yet"));
    free(buf);
    jet_stats_view_free(v);
    jet_store_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),       cmocka_unit_test(test_sdmx_csv),
        cmocka_unit_test(test_html),       cmocka_unit_test(test_html_renders),
        cmocka_unit_test(test_empty_view),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
