/* cmd_init.c - jetsync init: create a node (keys, configuration, store) and print its id. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char init_usage[] =
    "usage: jetsync init --home DIR --name NAME --region CODE [--lead] [--network-key FILE]\n"
    "  Creates the node's Ed25519 identity (secret key file mode 0600), its configuration\n"
    "  (DIR/jetsync.conf) and its store, and prints the node id.\n"
    "  --network-key FILE  the consortium's 32-byte key, shared by all partners (created if\n"
    "                      absent); nodes with different network keys never connect.\n";

int cmd_init_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},   {"name", required_argument, NULL, 'n'},
        {"region", required_argument, NULL, 'r'}, {"lead", no_argument, NULL, 'l'},
        {"network-key", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *home_opt = NULL;
    jet_node_init_options o = {NULL, NULL, 0, NULL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home_opt = optarg; break;
        case 'n': o.name = optarg; break;
        case 'r': o.region = optarg; break;
        case 'l': o.lead = 1; break;
        case 'k': o.network_key_file = optarg; break;
        case 'h': fputs(init_usage, stdout); return 0;
        default: return cli_usage(init_usage);
        }
    }
    if (optind != argc || o.name == NULL || o.region == NULL)
        return cli_usage(init_usage);
    cli_quiet_logs();
    char home[4096];
    if (jet_node_resolve_home(home_opt, home, sizeof home) != 0)
        return cli_fail("no node home: give --home DIR or set JETSYNC_HOME");
    jet_node *node = NULL;
    jet_diag diag;
    jet_diag_clear(&diag);
    int rc = jet_node_init(home, &o, &node, &diag);
    if (rc != 0)
        return cli_fail("init: %s", jet_diag_message(&diag, rc));
    if (o.network_key_file == NULL)
        fprintf(stderr,
                "jetsync: created a new network key in %s/network.key; give that file to every "
                "partner (jetsync init --network-key FILE)\n",
                home);
    printf("%s\n", jet_node_id(node));
    jet_node_free(node);
    return 0;
}
