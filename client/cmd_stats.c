/* cmd_stats.c - placeholder until the stats module lands. */
#include "cli.h"
#include "commands.h"

int cmd_stats_main(int argc, char **argv) {
    return cli_fail("'stats' is not available in this build yet");
}
