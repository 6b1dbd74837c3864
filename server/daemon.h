/* daemon.h - jetsyncd: one libuv loop that serves partners' sessions and runs the schedule. */
#ifndef JET_DAEMON_H
#define JET_DAEMON_H

#include <stdint.h>

typedef struct jet_daemon_options {
    const char *home;
    const char *listen;   /* NULL: from the configuration */
    const char *sync_at;  /* NULL: from the configuration */
    uint64_t sync_every_s; /* 0: from the configuration */
    int sync_every_set;
} jet_daemon_options;

/* Runs the daemon until SIGTERM or SIGINT. Returns the exit status. */
int jet_daemon_run(const jet_daemon_options *opt);

#endif
