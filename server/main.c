/* main.c - jetsyncd: parse options and run the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "schedule.h"

static const char usage_text[] =
    "usage: jetsyncd --home DIR [--listen HOST:PORT] [--sync-at HH:MM] [--sync-every DURATION]\n"
    "  Serves partners' sync sessions until SIGTERM/SIGINT, and syncs with every peer that has\n"
    "  an address at HH:MM (plus a random jitter) and/or every DURATION (90s, 15m, 6h, 1d).\n"
    "  --listen 127.0.0.1:0 picks a free port; the first line on stdout is 'listening HOST:PORT'.\n"
    "  Logs one key=value line per event on stderr (JETSYNC_LOG=debug|info|warn|error).\n";

/* A usage error in one line (SPEC section 3): the synopsis; --help prints the rest. */
static int usage_error(void) {
    fprintf(stderr, "jetsyncd: wrong arguments; %.*s (see --help)\n",
            (int)strcspn(usage_text, "\n"), usage_text);
    return 2;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},      {"listen", required_argument, NULL, 'l'},
        {"sync-at", required_argument, NULL, 'a'},   {"sync-every", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},            {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0}};
    jet_daemon_options o;
    memset(&o, 0, sizeof o);
    int c, minutes;
    opterr = 0; /* usage_error() says it in one line */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': o.home = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'a':
            if (jet_schedule_parse_at(optarg, &minutes) != 0) {
                fprintf(stderr, "jetsyncd: --sync-at: expected HH:MM, got '%s'\n", optarg);
                return 2;
            }
            o.sync_at = optarg;
            break;
        case 'e':
            if (jet_duration_parse(optarg, &o.sync_every_s) != 0 || o.sync_every_s == 0) {
                fprintf(stderr, "jetsyncd: --sync-every: expected a duration such as 90s, 15m, "
                                "6h or 1d, got '%s'\n", optarg);
                return 2;
            }
            o.sync_every_set = 1;
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'v': printf("jetsyncd %s\n", JET_VERSION); return 0;
        default: return usage_error();
        }
    }
    if (optind != argc)
        return usage_error();
    return jet_daemon_run(&o);
}
