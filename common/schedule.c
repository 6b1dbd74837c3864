/* schedule.c - next sync time and back-off. */
#include "schedule.h"

#include <stdio.h>

#include "error.h"

int jet_schedule_parse_at(const char *text, int *minutes) {
    unsigned hh, mm;
    char extra;
    if (sscanf(text, "%2u:%2u%c", &hh, &mm, &extra) != 2 || hh > 23 || mm > 59)
        return JET_EINVAL;
    *minutes = (int)(hh * 60 + mm);
    return 0;
}

static time_t next_nightly(const jet_schedule *s, time_t now, uint64_t jitter) {
    struct tm tm;
    localtime_r(&now, &tm);
    for (int day = 0; day < 3; day++) {
        struct tm cand = tm;
        cand.tm_mday += day;
        cand.tm_hour = s->at_minutes / 60;
        cand.tm_min = s->at_minutes % 60;
        cand.tm_sec = 0;
        cand.tm_isdst = -1;
        time_t t = mktime(&cand) + (time_t)jitter;
        if (t > now)
            return t;
    }
    return now + 86400;
}

time_t jet_schedule_next(const jet_schedule *s, time_t now, uint64_t jitter) {
    time_t best = 0;
    if (s->at_minutes >= 0)
        best = next_nightly(s, now, jitter);
    if (s->every_s > 0) {
        time_t t = now + (time_t)s->every_s;
        if (best == 0 || t < best)
            best = t;
    }
    return best;
}

uint64_t jet_schedule_backoff(const jet_schedule *s, unsigned failures) {
    uint64_t b = s->retry_min_s ? s->retry_min_s : 1;
    for (unsigned i = 1; i < failures && b < s->retry_max_s; i++)
        b *= 2;
    return b > s->retry_max_s ? s->retry_max_s : b;
}
