/* cli.c - helpers shared by the jetsync commands. */
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("jetsync: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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
    fputs(text, stderr);
    return 2;
}
