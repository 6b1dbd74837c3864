/* cmd_id.c - jetsync id: print the node id. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"

static const char id_usage[] = "usage: jetsync id --home DIR\n  Prints the node id (43 characters).\n";

int cmd_id_main(int argc, char **argv) {
    static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *home_opt = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'H')
            home_opt = optarg;
        else if (c == 'h')
            return fputs(id_usage, stdout), 0;
        else
            return cli_usage(id_usage);
    }
    if (optind != argc)
        return cli_usage(id_usage);
    cli_quiet_logs();
    jet_node *node = cli_open_node(home_opt);
    if (node == NULL)
        return 1;
    printf("%s\n", jet_node_id(node));
    jet_node_free(node);
    return 0;
}
