/* main.c - the jetsync command-line tool: a table of subcommands, one file each. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"init", cmd_init_main, "create a node: keys, configuration and store"},
    {"id", cmd_id_main, "print the node id"},
    {"peer", cmd_peer_main, "add, list or remove partners"},
    {"toolkit", cmd_toolkit_main, "publish, withdraw, list, show and search toolkit entries"},
    {"stats", cmd_stats_main, "import statistics and show protected figures"},
    {"sync", cmd_sync_main, "run one sync session with each configured peer"},
    {"status", cmd_status_main, "peers, last sync, pending work, logs and store size"},
    {"report", cmd_report_main, "write the cross-region report (lead partner)"},
};

static int usage(FILE *out) {
    fprintf(out, "usage: jetsync COMMAND [--home DIR] [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'jetsync COMMAND --help' for a command's options.\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    opterr = 0; /* a usage error is reported in one line, by cli_usage() */
    if (argc < 2) {
        fputs("jetsync: give a command (see 'jetsync --help')\n", stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0) {
        printf("jetsync %s\n", JET_VERSION);
        return 0;
    }
    /* Event lines are for the daemon's journal; a command says what happened in one line of
     * its own (JETSYNC_LOG=info shows them for debugging). */
    cli_quiet_logs();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    cli_fail("unknown command '%s' (see 'jetsync --help')", argv[1]);
    return 2;
}
