/* schedule.h - when the daemon syncs next: the nightly time with jitter, a period, and the
 * exponential back-off after failures. Pure functions, so they are tested without waiting. */
#ifndef JET_SCHEDULE_H
#define JET_SCHEDULE_H

#include <stdint.h>
#include <time.h>

typedef struct jet_schedule {
    int at_minutes;        /* minutes after local midnight, or -1 for none */
    uint64_t every_s;      /* period, or 0 for none */
    uint64_t jitter_s;     /* random delay in [0, jitter_s] added to the nightly time */
    uint64_t retry_min_s;  /* first back-off */
    uint64_t retry_max_s;  /* back-off cap */
} jet_schedule;

/* Parses "HH:MM" into minutes after midnight. Returns 0 or JET_EINVAL. */
int jet_schedule_parse_at(const char *text, int *minutes);

/* The next sync time strictly after `now` (unix seconds, local time zone for `at`), with
 * `jitter` (a value in [0, jitter_s], chosen by the caller) added to the nightly time. Returns 0
 * when neither `at` nor `every` is set. */
time_t jet_schedule_next(const jet_schedule *s, time_t now, uint64_t jitter);

/* The back-off before retry number `failures` (1, 2, ...): retry_min * 2^(failures-1), capped. */
uint64_t jet_schedule_backoff(const jet_schedule *s, unsigned failures);

#endif
