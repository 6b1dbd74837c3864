/* cmd_report.c - placeholder until the report module lands. */
#include "cli.h"
#include "commands.h"

int cmd_report_main(int argc, char **argv) {
    return cli_fail("'report' is not available in this build yet");
}
