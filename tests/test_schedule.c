/* test_schedule.c - next sync time (nightly with jitter, period) and back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <time.h>

#include "testutil.h"

#include "schedule.h"

static time_t local_time(int year, int mon, int day, int hh, int mm, int ss) {
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static void test_parse_at(void **state) {
    (void)state;
    int m = -1;
    assert_ok(jet_schedule_parse_at("02:30", &m));
    assert_int_equal(m, 150);
    assert_ok(jet_schedule_parse_at("23:59", &m));
    assert_int_equal(m, 23 * 60 + 59);
    assert_code(jet_schedule_parse_at("24:00", &m), JET_EINVAL);
    assert_code(jet_schedule_parse_at("2:60", &m), JET_EINVAL);
    assert_code(jet_schedule_parse_at("0230", &m), JET_EINVAL);
    assert_code(jet_schedule_parse_at("02:30x", &m), JET_EINVAL);
    assert_code(jet_schedule_parse_at("", &m), JET_EINVAL);
}

static void test_nightly(void **state) {
    (void)state;
    setenv("TZ", "Europe/Stockholm", 1);
    tzset();
    jet_schedule s = {150, 0, 600, 30, 3600};
    /* Before 02:30: today at 02:30 plus the jitter. */
    time_t now = local_time(2026, 11, 24, 1, 0, 0);
    assert_int_equal(jet_schedule_next(&s, now, 0), local_time(2026, 11, 24, 2, 30, 0));
    assert_int_equal(jet_schedule_next(&s, now, 599), local_time(2026, 11, 24, 2, 39, 59));
    /* After it: tomorrow. */
    now = local_time(2026, 11, 24, 3, 0, 0);
    assert_int_equal(jet_schedule_next(&s, now, 0), local_time(2026, 11, 25, 2, 30, 0));
    /* Exactly at it: strictly after now, so tomorrow. */
    now = local_time(2026, 11, 24, 2, 30, 0);
    assert_int_equal(jet_schedule_next(&s, now, 0), local_time(2026, 11, 25, 2, 30, 0));
    /* Across the end of summer time (2026-10-25 in Sweden) it stays at 02:30 local time. */
    now = local_time(2026, 10, 24, 12, 0, 0);
    assert_int_equal(jet_schedule_next(&s, now, 0), local_time(2026, 10, 25, 2, 30, 0));
    /* Across the end of a month and a year. */
    now = local_time(2026, 12, 31, 23, 0, 0);
    assert_int_equal(jet_schedule_next(&s, now, 0), local_time(2027, 1, 1, 2, 30, 0));
}

static void test_every_and_none(void **state) {
    (void)state;
    jet_schedule s = {-1, 900, 0, 30, 3600};
    assert_int_equal(jet_schedule_next(&s, 1000000, 0), 1000900);
    /* Both set: whichever comes first. */
    setenv("TZ", "UTC", 1);
    tzset();
    jet_schedule both = {150, 6 * 3600, 0, 30, 3600};
    time_t now = local_time(2026, 11, 24, 1, 0, 0);
    assert_int_equal(jet_schedule_next(&both, now, 0), local_time(2026, 11, 24, 2, 30, 0));
    now = local_time(2026, 11, 24, 3, 0, 0);
    assert_int_equal(jet_schedule_next(&both, now, 0), now + 6 * 3600);
    jet_schedule none = {-1, 0, 0, 30, 3600};
    assert_int_equal(jet_schedule_next(&none, now, 0), 0);
}

static void test_backoff(void **state) {
    (void)state;
    jet_schedule s = {-1, 0, 0, 30, 3600};
    assert_int_equal(jet_schedule_backoff(&s, 1), 30);
    assert_int_equal(jet_schedule_backoff(&s, 2), 60);
    assert_int_equal(jet_schedule_backoff(&s, 3), 120);
    assert_int_equal(jet_schedule_backoff(&s, 7), 1920);
    assert_int_equal(jet_schedule_backoff(&s, 8), 3600); /* capped */
    assert_int_equal(jet_schedule_backoff(&s, 1000), 3600);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_at),
        cmocka_unit_test(test_nightly),
        cmocka_unit_test(test_every_and_none),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
