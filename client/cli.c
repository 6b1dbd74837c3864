/* cli.c - helpers shared by the jetsync commands. */
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int cli_fail(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jet_one_line(msg); /* the contract: one line on stderr, whatever a quoted name holds */
    fprintf(stderr, "jetsync: %s\n", msg);
    return 1;
}

int cli_fail_code(const char *what, int code, const jet_diag *diag) {
    if (diag != NULL && diag->msg[0] != '\0')
        return cli_fail("%s: %s", what, diag->msg);
    return cli_fail("%s: %s", what, jet_strerror(code));
}

jet_node *cli_open_node(const char *home_opt) {
    char home[4096];
    if (jet_node_resolve_home(home_opt, home, sizeof home) != 0) {
        cli_fail("no node home: give --home DIR or set JETSYNC_HOME");
        return NULL;
    }
    jet_node *node = NULL;
    jet_diag diag;
    jet_diag_clear(&diag);
    int rc = jet_node_open(home, &node, &diag);
    if (rc != 0) {
        cli_fail("%s", jet_diag_message(&diag, rc));
        return NULL;
    }
    return node;
}

int cli_print_json(json_t *value) {
    if (value == NULL)
        return cli_fail("out of memory");
    int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
    fputc('\n', stdout);
    json_decref(value);
    return rc == 0 ? 0 : 1;
}

void cli_quiet_logs(void) {
    if (getenv("JETSYNC_LOG") == NULL)
        jet_log_set_level((jet_log_level)(JET_LOG_ERROR + 1)); /* above every level */
}

int cli_usage(const char *text) {
    /* One line, as every error (SPEC section 3): the synopsis, which is the first line of the
     * usage text; --help prints all of it. getopt's own messages are off (main sets opterr). */
    const char *synopsis = text;
    if (strncmp(synopsis, "usage: ", 7) == 0)
        synopsis += 7;
    fprintf(stderr, "jetsync: wrong arguments; usage: %.*s (see --help)\n",
            (int)strcspn(synopsis, "\n"), synopsis);
    return 2;
}

/* Whether `arg` is a long option of `opts` that takes its value from the next argument. */
static int takes_next(const char *arg, const struct option *opts) {
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '=') != NULL)
        return 0;
    for (; opts->name != NULL; opts++)
        if (opts->has_arg == required_argument && strcmp(arg + 2, opts->name) == 0)
            return 1;
    return 0;
}

/* Whether "--name" or "--name=value" names one of `opts`. */
static int known_long_option(const char *arg, const struct option *opts) {
    size_t len = strcspn(arg + 2, "=");
    for (; opts->name != NULL; opts++)
        if (strlen(opts->name) == len && strncmp(arg + 2, opts->name, len) == 0)
            return 1;
    return 0;
}

/* Whether argument i (not argv[0]) starts with '-' yet is no option: a single '-' and more
 * (these commands have no short options), or "--" and a '/' but no known name (AUTHOR/id with
 * an author id that starts with "--"); and it is not the value of the option before it. */
static int dash_positional(char **in, int i, const struct option *opts) {
    const char *a = in[i];
    if (a[0] != '-' || a[1] == '\0' || takes_next(in[i - 1], opts))
        return 0;
    return a[1] != '-' || (strchr(a, '/') != NULL && !known_long_option(a, opts));
}

void cli_dash_positionals(int *argc, char ***argv, const struct option *opts) {
    static char **fixed; /* one command per process: kept, so it outlives the parse */
    static char dashdash[] = "--";
    int n = *argc, end = n, moved = 0;
    char **in = *argv;
    for (int i = 1; i < n; i++) {
        if (strcmp(in[i], "--") == 0) {
            end = i; /* what follows the caller's own "--" is positional already */
            break;
        }
        moved += dash_positional(in, i, opts);
    }
    if (moved == 0 || (fixed = calloc((size_t)n + 2, sizeof *fixed)) == NULL)
        return;
    int k = 0;
    fixed[k++] = in[0];
    for (int i = 1; i < end; i++) /* options and plain positionals, in order */
        if (!dash_positional(in, i, opts))
            fixed[k++] = in[i];
    fixed[k++] = dashdash;
    for (int i = 1; i < end; i++)
        if (dash_positional(in, i, opts))
            fixed[k++] = in[i];
    for (int i = end + 1; i < n; i++)
        fixed[k++] = in[i];
    fixed[k] = NULL;
    *argc = k;
    *argv = fixed;
}
