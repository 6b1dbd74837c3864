/* cli.h - what every jetsync command shares: option parsing of --home, opening the node,
 * and one-line errors on stderr. */
#ifndef JET_CLI_H
#define JET_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "error.h"
#include "node.h"

/* Prints "jetsync: <message>" on stderr and returns 1 (the exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "jetsync: <what>: <diag message or jet_strerror(code)>" and returns 1. */
int cli_fail_code(const char *what, int code, const jet_diag *diag);

/* Opens the node of `home_opt` (NULL: $JETSYNC_HOME or the per-user default). On failure prints
 * the error and returns NULL. */
jet_node *cli_open_node(const char *home_opt);

/* Prints a JSON value (jansson json_t *) on stdout followed by a newline; steals the reference. */
struct json_t;
int cli_print_json(struct json_t *value);

/* Drops the daemon-style event lines (log.h) for a command that reports its own outcome in one
 * line, unless $JETSYNC_LOG asks for them: the command line contract is one line on stderr. */
void cli_quiet_logs(void);

/* getopt takes any argument that starts with '-' for options, but a node id (base64url) starts
 * with '-' one time in 64 (with "--" one time in 4,096), and so may an AUTHOR/ENTRY_ID or a
 * search text. For a command without short options: moves each argument that starts with a
 * single '-', or with "--" and holds a '/' but names no option, and is not the value of the
 * option before it, behind a "--", so getopt leaves it a positional (in its order). Updates
 * *argc and *argv; the new array lives until the process ends. */
void cli_dash_positionals(int *argc, char ***argv, const struct option *opts);

/* Prints usage text to stderr and returns 2. */
int cli_usage(const char *text);

#endif
