/* log.c - key=value event lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_threshold = -1;

static const char *level_names[] = {"debug", "info", "warn", "error"};

static int threshold_from_env(void) {
    const char *env = getenv("JETSYNC_LOG");
    if (env != NULL) {
        for (int i = 0; i < 4; i++)
            if (strcmp(env, level_names[i]) == 0)
                return i;
    }
    return JET_LOG_INFO;
}

void jet_log_set_level(jet_log_level level) {
    log_threshold = (int)level;
}

void jet_log(jet_log_level level, const char *fmt, ...) {
    if (log_threshold < 0)
        log_threshold = threshold_from_env();
    if ((int)level < log_threshold)
        return;
    char stamp[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Build the whole line first so that concurrent writers never interleave inside it. */
    char line[2048];
    int n = snprintf(line, sizeof line, "ts=%s.%03ldZ level=%s ", stamp, now.tv_nsec / 1000000,
                     level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
