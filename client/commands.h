/* commands.h - the entry point of each jetsync subcommand (client/cmd_<name>.c).
 * Each takes argv with argv[0] = the command name and returns the exit status. */
#ifndef JET_COMMANDS_H
#define JET_COMMANDS_H

int cmd_init_main(int argc, char **argv);
int cmd_id_main(int argc, char **argv);
int cmd_peer_main(int argc, char **argv);
int cmd_toolkit_main(int argc, char **argv);
int cmd_stats_main(int argc, char **argv);
int cmd_sync_main(int argc, char **argv);
int cmd_status_main(int argc, char **argv);
int cmd_report_main(int argc, char **argv);

#endif
