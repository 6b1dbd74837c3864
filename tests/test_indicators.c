/* test_indicators.c - the indicator catalogue, breakdown codes and periods of SPEC §4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "indicators.h"
#include "testutil.h"

static int code_ok(jet_dim d, const char *c) {
    return jet_indicators_check_code(d, c, strlen(c)) == 0;
}

static int period_ok(const char *p) {
    return jet_indicators_check_period(p, strlen(p)) == 0;
}

static void test_catalogue(void **state) {
    (void)state;
    static const char *const must[] = {
        "ENROLLED",  "EARLY_LEAVERS",          "INTERRUPTIONS", "PERSISTENT_ABSENCE",
        "RETAINED",  "PROGRAMME_PARTICIPANTS", "COMPLETED",     "COMPLETED_PLUS1",
        "FOLLOW_UP", "NO_OCCUPATION",          "REENGAGED"};
    static const char *const rates[] = {"EARLY_LEAVING_RATE",  "PERSISTENT_ABSENCE_RATE",
                                        "RETENTION_RATE",      "COMPLETION_RATE",
                                        "NO_OCCUPATION_SHARE", "REENGAGEMENT_RATE"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        const jet_indicator *d = jet_indicators_find(must[i]);
        assert_non_null(d);
        assert_int_equal(d->kind, JET_INDICATOR_COUNT);
        assert_string_equal(d->unit, "persons");
    }
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        const jet_indicator *d = jet_indicators_find(rates[i]);
        assert_non_null(d);
        assert_int_equal(d->kind, JET_INDICATOR_RATE);
        assert_string_equal(d->unit, "percent");
        /* numerator and denominator are counts of the catalogue */
        assert_int_equal(jet_indicators_find(d->numerator)->kind, JET_INDICATOR_COUNT);
        assert_int_equal(jet_indicators_find(d->denominator)->kind, JET_INDICATOR_COUNT);
    }
    /* every entry has a name, a definition and a unique code; counts come before rates */
    int seen_rate = 0;
    for (size_t i = 0; i < jet_indicators_count(); i++) {
        const jet_indicator *d = jet_indicators_at(i);
        assert_true(strlen(d->name) > 0 && strlen(d->definition) > 20);
        assert_int_equal(jet_indicators_index(d->code), (int)i);
        if (d->kind == JET_INDICATOR_RATE)
            seen_rate = 1;
        else
            assert_false(seen_rate);
    }
    assert_null(jet_indicators_at(jet_indicators_count()));
    assert_null(jet_indicators_find("enrolled"));
    assert_null(jet_indicators_find(NULL));
    /* the official definitions are named */
    assert_non_null(strstr(jet_indicators_find("EARLY_LEAVERS")->definition, "edat_lfse_14"));
    assert_non_null(strstr(jet_indicators_find("PERSISTENT_ABSENCE")->definition, "10 %"));
    assert_non_null(strstr(jet_indicators_find("FOLLOW_UP")->definition, "KAA"));
    assert_non_null(strstr(jet_indicators_find("COMPLETED")->definition, "3"));
}

static void test_codes(void **state) {
    (void)state;
    assert_true(code_ok(JET_DIM_SCHOOL_LEVEL, "ISCED1"));
    assert_true(code_ok(JET_DIM_SCHOOL_LEVEL, "ISCED3V"));
    assert_true(code_ok(JET_DIM_SCHOOL_LEVEL, "_T"));
    assert_false(code_ok(JET_DIM_SCHOOL_LEVEL, "ISCED4"));
    assert_false(code_ok(JET_DIM_SCHOOL_LEVEL, "isced2"));
    assert_true(code_ok(JET_DIM_SEX, "F"));
    assert_true(code_ok(JET_DIM_SEX, "M"));
    assert_false(code_ok(JET_DIM_SEX, "X"));
    assert_true(code_ok(JET_DIM_AGE_BAND, "Y15-19"));
    assert_true(code_ok(JET_DIM_AGE_BAND, "Y16-16"));
    assert_true(code_ok(JET_DIM_AGE_BAND, "Y_GE25"));
    assert_true(code_ok(JET_DIM_AGE_BAND, "Y_LT15"));
    assert_false(code_ok(JET_DIM_AGE_BAND, "Y19-15"));
    assert_false(code_ok(JET_DIM_AGE_BAND, "15-19"));
    assert_false(code_ok(JET_DIM_AGE_BAND, "Y15-"));
    assert_false(code_ok(JET_DIM_AGE_BAND, "Y15-19x"));
    assert_true(code_ok(JET_DIM_AREA, "SE321"));
    assert_true(code_ok(JET_DIM_AREA, "ES-511.2_b"));
    assert_false(code_ok(JET_DIM_AREA, "a b"));
    assert_false(code_ok(JET_DIM_AREA, "Sundsvall;"));
    assert_false(code_ok(JET_DIM_AREA, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"));
    assert_false(code_ok(JET_DIM_AREA, ""));
    /* table order */
    assert_true(jet_indicators_code_cmp(JET_DIM_SCHOOL_LEVEL, "ISCED3G", "ISCED2") > 0);
    assert_true(jet_indicators_code_cmp(JET_DIM_AGE_BAND, "Y5-9", "Y10-14") < 0);
    assert_true(jet_indicators_code_cmp(JET_DIM_AGE_BAND, "Y_LT15", "Y15-19") < 0);
    assert_true(jet_indicators_code_cmp(JET_DIM_SEX, "_T", "M") > 0);
    assert_true(jet_indicators_code_cmp(JET_DIM_AREA, "A2", "A10") > 0);
    assert_string_equal(jet_indicators_dim_name(JET_DIM_AGE_BAND), "age_band");
    assert_string_equal(jet_indicators_dim_sdmx(JET_DIM_SCHOOL_LEVEL), "ISCED11");
}

static void test_periods(void **state) {
    (void)state;
    assert_true(period_ok("2024/25"));
    assert_true(period_ok("1999/00"));
    assert_true(period_ok("2024"));
    assert_true(period_ok("2024-Q3"));
    assert_true(period_ok("2024-09"));
    assert_false(period_ok("2024/26"));
    assert_false(period_ok("2024-25"));
    assert_false(period_ok("2024-Q0"));
    assert_false(period_ok("2024-Q5"));
    assert_false(period_ok("2024-00"));
    assert_false(period_ok("2024-13"));
    assert_false(period_ok("24/25"));
    assert_false(period_ok("1899"));
    assert_false(period_ok("2024-9"));
    assert_false(period_ok(""));
    /* ordering by start month: 2024 < 2024-Q3 = 2024-07 < 2024/25 (August) < 2024-09 */
    long y = jet_indicators_period_start("2024"), q = jet_indicators_period_start("2024-Q3"),
         s = jet_indicators_period_start("2024/25"), m = jet_indicators_period_start("2024-09");
    assert_true(y < q && q < s && s < m);
    assert_int_equal(jet_indicators_period_start("2024-07"), q);
    assert_int_equal(jet_indicators_period_start("bad"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
