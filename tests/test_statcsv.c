/* test_statcsv.c - statistics CSV input: both separators, BOM, CRLF, quoted fields, every error
 * naming FILE:LINE and its rule, and pupil rows counted in memory without any error message
 * ever repeating a value of a pupil row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "statcsv.h"
#include "stats.h"
#include "testutil.h"

/* Parses `text` as "t.csv"; returns the code, leaves the message in *diag. */
static int parse(const char *text, jet_statcsv_format fmt, jet_stats_obs **obs, jet_diag *diag) {
    jet_diag_clear(diag);
    return jet_statcsv_read_buffer("t.csv", text, strlen(text), fmt, obs, NULL, diag);
}

/* Expects `text` to be refused with a message starting with "t.csv:LINE:" and holding `rule`. */
static void expect_error(const char *text, unsigned line, const char *rule) {
    jet_stats_obs *obs = (jet_stats_obs *)1;
    jet_diag diag;
    char prefix[32];
    assert_code(parse(text, JET_STATCSV_AUTO, &obs, &diag), JET_EVALIDATE);
    assert_null(obs);
    snprintf(prefix, sizeof prefix, "t.csv:%u: ", line);
    assert_prefix(diag.msg, prefix);
    if (strstr(diag.msg, rule) == NULL) {
        print_error("message \"%s\" lacks \"%s\"\n", diag.msg, rule);
        fail();
    }
}

/* The value of the cell of table (indicator, period) with the given codes (NULL = total). */
static int64_t cell(const jet_stats_batch *b, const char *ind, const char *period,
                    const char *const codes[JET_DIM__COUNT]) {
    for (size_t i = 0; i < jet_stats_batch_count(b); i++) {
        jet_stats_table_info t;
        jet_stats_batch_table(b, i, &t);
        if (strcmp(t.indicator, ind) != 0 || strcmp(t.period, period) != 0)
            continue;
        size_t idx = 0;
        for (unsigned a = 0; a < t.ndims; a++) {
            const char *want = codes[t.dim[a]];
            size_t c = t.size[a];
            for (unsigned k = 0; want != NULL && k < t.size[a]; k++)
                if (strcmp(t.category[a][k], want) == 0)
                    c = k;
            assert_true(want == NULL || c < t.size[a]);
            idx = idx * (t.size[a] + 1) + c;
        }
        return t.value[idx];
    }
    print_error("no table %s %s\n", ind, period);
    fail();
    return -1;
}

static void test_comma_and_semicolon(void **state) {
    (void)state;
    const char *a = "indicator,period,school_level,sex,value\n"
                    "ENROLLED,2024/25,ISCED2,F,120\n"
                    "ENROLLED,2024/25,ISCED2,M,131\n"
                    "ENROLLED,2024/25,ISCED3G,F,3\n"
                    "ENROLLED,2024/25,ISCED3G,M,88\n";
    const char *b = "indicator;period;school_level;sex;value\r\n"
                    "ENROLLED;2024/25;ISCED2;F;120\r\n"
                    "ENROLLED;2024/25;ISCED2;M;131\r\n"
                    "\r\n"
                    "ENROLLED;2024/25;ISCED3G;F;3\r\n"
                    "ENROLLED;2024/25;ISCED3G;M;88\r\n"
                    ";;;;\r\n";
    const char *texts[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        jet_stats_obs *obs = NULL;
        jet_stats_batch *batch = NULL;
        jet_diag diag;
        assert_ok(parse(texts[i], JET_STATCSV_AUTO, &obs, &diag));
        assert_int_equal(jet_stats_obs_count(obs), 4);
        assert_ok(jet_stats_batch_build(obs, &batch, &diag));
        assert_int_equal(jet_stats_batch_count(batch), 1);
        const char *tot[4] = {NULL, NULL, NULL, NULL};
        const char *f[4] = {NULL, "F", NULL, NULL};
        const char *l2[4] = {"ISCED2", NULL, NULL, NULL};
        assert_int_equal(cell(batch, "ENROLLED", "2024/25", tot), 342);
        assert_int_equal(cell(batch, "ENROLLED", "2024/25", f), 123);
        assert_int_equal(cell(batch, "ENROLLED", "2024/25", l2), 251);
        jet_stats_batch_free(batch);
        jet_stats_obs_free(obs);
    }
}

static void test_bom_and_quotes(void **state) {
    (void)state;
    /* UTF-8 BOM, quoted header and fields, lower-case codes, an area with a quoted comma-free
     * code, a quoted field spanning two lines in a later row (an error that must name the line
     * the row started on). */
    const char *ok = "\xef\xbb\xbf\"indicator\",\"period\",\"area\",\"value\"\n"
                     "\"early_leavers\",\"2024\",\"SE321\",\"12\"\n"
                     "EARLY_LEAVERS,2024,SE322,30\n"
                     "EARLY_LEAVERS,2024,,42\n";
    jet_stats_obs *obs = NULL;
    jet_stats_batch *batch = NULL;
    jet_diag diag;
    assert_ok(parse(ok, JET_STATCSV_AUTO, &obs, &diag));
    assert_ok(jet_stats_batch_build(obs, &batch, &diag));
    const char *tot[4] = {NULL, NULL, NULL, NULL};
    assert_int_equal(cell(batch, "EARLY_LEAVERS", "2024", tot), 42);
    jet_stats_batch_free(batch);
    jet_stats_obs_free(obs);

    expect_error("indicator,period,area,value\n"
                 "EARLY_LEAVERS,2024,SE321,12\n"
                 "\n\r\n"
                 "EARLY_LEAVERS,2024,SE323,x\n",
                 5, "not a count");
    expect_error("indicator,period,area,value\n"
                 "EARLY_LEAVERS,2024,\"SE\n322\",30\n",
                 2, "area");
}

static void test_errors_name_line_and_rule(void **state) {
    (void)state;
    const char *h = "indicator,period,sex,value\n";
    char buf[512];
    struct {
        const char *row;
        const char *rule;
    } cases[] = {
        {"DROPOUTS,2024,F,3\n", "unknown indicator"},
        {"ENROLLED,2024/26,F,3\n", "not a period"},
        {"ENROLLED,2024-Q5,F,3\n", "not a period"},
        {"ENROLLED,2024-13,F,3\n", "not a period"},
        {"ENROLLED,2024,X,3\n", "sex"},
        {"ENROLLED,2024,F,-3\n", "not a count"},
        {"ENROLLED,2024,F,3.5\n", "not a count"},
        {"ENROLLED,2024,F,\n", "value is empty"},
        {"ENROLLED,2024,F\n", "fields, but the header has"},
        {"ENROLLED,2024,F,3,4\n", "fields, but the header has"},
        {"EARLY_LEAVING_RATE,2024,F,3\n", "rate"},
        {"ENROLLED,2024,F,1\"2\n", "malformed CSV"},
        {"ENROLLED,2024,F,\"12\n", "not closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "%sENROLLED,2024,M,10\n%s", h, cases[i].row);
        expect_error(buf, 3, cases[i].rule);
    }
    expect_error("indicator,period,colour,value\nENROLLED,2024,red,1\n", 1, "unknown column");
    expect_error("indicator;period;value;\nENROLLED;2024;7;\nENROLLED;2025;8;x\n", 3,
                 "column 4 has no name");
    {
        /* trailing separators on every line, as spreadsheets write them, are fine */
        jet_stats_obs *obs = NULL;
        jet_diag diag;
        assert_ok(
            parse("indicator;period;value;;\nENROLLED;2024;7;;\n", JET_STATCSV_AUTO, &obs, &diag));
        assert_int_equal(jet_stats_obs_count(obs), 1);
        jet_stats_obs_free(obs);
    }
    expect_error("indicator,period,sex\nENROLLED,2024,F\n", 1, "needs the columns");
    expect_error("indicator,period,value,value\n", 1, "twice");
    expect_error("", 1, "empty");
    expect_error("indicator,period,value\n", 1, "no observations");
    expect_error("indicator,period,value\nENROLLED,2024,1\nENROLLED,2024,\xc3\x28\n", 3, "UTF-8");
    expect_error("\xff\xfei\0n\0", 1, "UTF-16");
}

static void test_totals_and_duplicates(void **state) {
    (void)state;
    jet_stats_obs *obs = NULL;
    jet_stats_batch *batch = NULL;
    jet_diag diag;
    /* a given total that agrees is accepted; one that disagrees names its line */
    const char *agree = "indicator,period,sex,value\nENROLLED,2024,F,10\nENROLLED,2024,M,11\n"
                        "ENROLLED,2024,_T,21\nENROLLED,2024,,21\n";
    assert_ok(parse(agree, JET_STATCSV_AUTO, &obs, &diag));
    assert_code(jet_stats_batch_build(obs, &batch, &diag), JET_EVALIDATE);
    assert_prefix(diag.msg, "t.csv:5: duplicate observation");
    jet_stats_obs_free(obs);
    const char *agree2 = "indicator,period,sex,value\nENROLLED,2024,F,10\nENROLLED,2024,M,11\n"
                         "ENROLLED,2024,_T,21\n";
    assert_ok(parse(agree2, JET_STATCSV_AUTO, &obs, &diag));
    assert_ok(jet_stats_batch_build(obs, &batch, &diag));
    jet_stats_batch_free(batch);
    jet_stats_obs_free(obs);
    const char *disagree = "indicator,period,school_level,sex,value\n"
                           "ENROLLED,2024,ISCED1,F,10\nENROLLED,2024,ISCED1,M,11\n"
                           "ENROLLED,2024,ISCED2,F,7\nENROLLED,2024,ISCED2,M,8\n"
                           "ENROLLED,2024,_T,F,17\nENROLLED,2024,_T,M,20\n";
    assert_ok(parse(disagree, JET_STATCSV_AUTO, &obs, &diag));
    batch = (jet_stats_batch *)1;
    assert_code(jet_stats_batch_build(obs, &batch, &diag), JET_EVALIDATE);
    assert_null(batch);
    assert_prefix(diag.msg, "t.csv:7: the total of ENROLLED 2024");
    assert_non_null(strstr(diag.msg, "sex=M"));
    jet_stats_obs_free(obs);
    /* a total without its parts cannot agree */
    const char *orphan = "indicator,period,sex,value\nENROLLED,2024,,30\nEARLY_LEAVERS,2024,F,3\n"
                         "EARLY_LEAVERS,2024,_T,5\n";
    assert_ok(parse(orphan, JET_STATCSV_AUTO, &obs, &diag));
    assert_code(jet_stats_batch_build(obs, &batch, &diag), JET_EVALIDATE);
    assert_prefix(diag.msg, "t.csv:4: the total of EARLY_LEAVERS 2024");
    jet_stats_obs_free(obs);
    /* a duplicate inner cell */
    const char *dup = "indicator,period,sex,value\nENROLLED,2024,F,10\nENROLLED,2024,M,11\n"
                      "ENROLLED,2024,F,10\n";
    assert_ok(parse(dup, JET_STATCSV_AUTO, &obs, &diag));
    assert_code(jet_stats_batch_build(obs, &batch, &diag), JET_EVALIDATE);
    assert_prefix(diag.msg, "t.csv:4: duplicate observation");
    assert_non_null(strstr(diag.msg, "line 2"));
    jet_stats_obs_free(obs);
}

static void test_pupils_counted(void **state) {
    (void)state;
    jet_stats_obs *obs = NULL;
    jet_stats_batch *batch = NULL;
    jet_statcsv_format fmt = JET_STATCSV_AUTO;
    jet_diag diag;
    const char *text = "pupil_id;period;sex;age;enrolled;early_leavers;sessions_possible;"
                       "sessions_missed\n"
                       "p-001;2024/25;F;15;1;0;300;10\n"
                       "p-002;2024/25;F;16;1;1;300;30\n"
                       "p-003;2024/25;M;17;1;0;300;29\n"
                       "p-004;2024/25;M;21;1;1;0;0\n"
                       "p-005;2024/25;M;16;0;1;300;31\n";
    jet_diag_clear(&diag);
    assert_ok(
        jet_statcsv_read_buffer("p.csv", text, strlen(text), JET_STATCSV_AUTO, &obs, &fmt, &diag));
    assert_int_equal(fmt, JET_STATCSV_PUPILS);
    assert_ok(jet_stats_batch_build(obs, &batch, &diag));
    const char *tot[4] = {NULL, NULL, NULL, NULL};
    const char *f[4] = {NULL, "F", NULL, NULL};
    const char *m_15[4] = {NULL, "M", "Y15-19", NULL};
    const char *y20[4] = {NULL, NULL, "Y20-24", NULL};
    assert_int_equal(cell(batch, "ENROLLED", "2024/25", tot), 4);
    assert_int_equal(cell(batch, "ENROLLED", "2024/25", f), 2);
    assert_int_equal(cell(batch, "EARLY_LEAVERS", "2024/25", tot), 3);
    assert_int_equal(cell(batch, "EARLY_LEAVERS", "2024/25", m_15), 1);
    assert_int_equal(cell(batch, "EARLY_LEAVERS", "2024/25", y20), 1);
    /* 10 % or more of sessions: p-002 (30/300) and p-005 (31/300), not p-003 (29/300) */
    assert_int_equal(cell(batch, "PERSISTENT_ABSENCE", "2024/25", tot), 2);
    /* zeros are cells too: ENROLLED for M in Y15-19 has p-003 only (p-005 not enrolled) */
    assert_int_equal(cell(batch, "ENROLLED", "2024/25", m_15), 1);
    jet_stats_batch_free(batch);
    jet_stats_obs_free(obs);
}

/* No error about a pupil row may repeat any of its values. */
static void test_pupil_errors_quote_nothing(void **state) {
    (void)state;
    const char *h = "pupil_id,period,sex,area,age,enrolled,early_leavers\n";
    const char *good = "SECRET-ID-0001,2024,F,Sundsvall-7,15,1,0\n";
    const char *bad[] = {
        "SECRET-ID-0002,2024,F,Sundsvall-7,15,SECRET-FLAG,0\n",
        "SECRET-ID-0002,2024,SECRETSEX,Sundsvall-7,15,1,0\n",
        "SECRET-ID-0002,SECRET-PERIOD,F,Sundsvall-7,15,1,0\n",
        "SECRET-ID-0002,2024,F,SECRET AREA!,15,1,0\n",
        "SECRET-ID-0002,2024,F,Sundsvall-7,SECRET-AGE,1,0\n",
        "SECRET-ID-0001,2024,F,Sundsvall-7,15,1,0\n", /* a duplicate pupil */
        "SECRET-ID-0002,2024,F,Sundsvall-7,15,1\n",
        "SECRET-ID-0002,2024,,Sundsvall-7,15,1,0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        jet_stats_obs *obs = NULL;
        jet_diag diag;
        snprintf(buf, sizeof buf, "%s%s%s", h, good, bad[i]);
        assert_code(parse(buf, JET_STATCSV_AUTO, &obs, &diag), JET_EVALIDATE);
        assert_prefix(diag.msg, "t.csv:3: ");
        if (strstr(diag.msg, "SECRET") != NULL || strstr(diag.msg, "Sundsvall") != NULL) {
            print_error("the message repeats a pupil value: %s\n", diag.msg);
            fail();
        }
    }
    /* the duplicate names the line of the first */
    {
        char buf[512];
        jet_stats_obs *obs = NULL;
        jet_diag diag;
        snprintf(buf, sizeof buf, "%s%s%s", h, good, bad[5]);
        assert_code(parse(buf, JET_STATCSV_AUTO, &obs, &diag), JET_EVALIDATE);
        assert_non_null(strstr(diag.msg, "first at line 2"));
    }
}

static void test_format_forced(void **state) {
    (void)state;
    jet_stats_obs *obs = NULL;
    jet_diag diag;
    const char *pupils = "pupil_id,period,enrolled\nx1,2024,1\n";
    const char *counts = "indicator,period,value\nENROLLED,2024,5\n";
    assert_code(parse(pupils, JET_STATCSV_COUNTS, &obs, &diag), JET_EVALIDATE);
    assert_prefix(diag.msg, "t.csv:1: unknown column");
    assert_code(parse(counts, JET_STATCSV_PUPILS, &obs, &diag), JET_EVALIDATE);
    assert_prefix(diag.msg, "t.csv:1: unknown column");
    assert_ok(parse(pupils, JET_STATCSV_PUPILS, &obs, &diag));
    jet_stats_obs_free(obs);
    assert_int_equal(jet_statcsv_format_parse("pupils"), JET_STATCSV_PUPILS);
    assert_int_equal(jet_statcsv_format_parse("xml"), -1);
}

static void test_read_file(void **state) {
    (void)state;
    char path[512];
    jet_stats_obs *obs = NULL;
    jet_diag diag;
    snprintf(path, sizeof path, "%s/contract/stats_small.csv", JET_SHARED_DIR);
    jet_diag_clear(&diag);
    assert_ok(jet_statcsv_read_file(path, JET_STATCSV_AUTO, &obs, NULL, &diag));
    assert_int_equal(jet_stats_obs_count(obs), 8);
    jet_stats_obs_free(obs);
    assert_code(jet_statcsv_read_file("/nonexistent/x.csv", JET_STATCSV_AUTO, &obs, NULL, &diag),
                JET_EIO);
    assert_prefix(diag.msg, "/nonexistent/x.csv: cannot open");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comma_and_semicolon),
        cmocka_unit_test(test_bom_and_quotes),
        cmocka_unit_test(test_errors_name_line_and_rule),
        cmocka_unit_test(test_totals_and_duplicates),
        cmocka_unit_test(test_pupils_counted),
        cmocka_unit_test(test_pupil_errors_quote_nothing),
        cmocka_unit_test(test_format_forced),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
