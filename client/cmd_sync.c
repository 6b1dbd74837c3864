/* cmd_sync.c - placeholder until the session module lands. */
#include "cli.h"
#include "commands.h"

int cmd_sync_main(int argc, char **argv) {
    return cli_fail("'sync' is not available in this build yet");
}
