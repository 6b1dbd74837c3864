/* cmd_toolkit.c - placeholder until the toolkit module lands. */
#include "cli.h"
#include "commands.h"

int cmd_toolkit_main(int argc, char **argv) {
    return cli_fail("'toolkit' is not available in this build yet");
}
