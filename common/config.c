/* config.c - HOME/jetsync.conf, parsed by inih. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void jet_config_default(jet_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "0.0.0.0:7420");
    c->max_frame = 1024 * 1024;
    c->handshake_timeout_ms = 5000;
    c->idle_timeout_ms = 60000;
    c->max_connections = 1024;
    c->max_per_address = 64;
    c->sync_jitter_s = 600;
    c->stall_timeout_ms = 30000;
    c->retry_min_s = 30;
    c->retry_max_s = 3600;
    c->stats_k = 5;
    c->stats_publish_zeros = 1;
    c->stats_noise = 0;
    c->stats_epsilon = 0.5;
    c->stats_budget = 2.0;
}

int jet_duration_parse(const char *text, uint64_t *seconds) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-')
        return JET_EINVAL;
    uint64_t mult = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mult = 60, end++;
    else if (*end == 'h')
        mult = 3600, end++;
    else if (*end == 'd')
        mult = 86400, end++;
    if (*end != '\0' || v > UINT64_MAX / mult / 1000)
        return JET_EINVAL;
    *seconds = v * mult;
    return 0;
}

/* inih hands us one line at a time through read_line(), so that errors carry the real line
 * number: inih cuts a line at INI_MAX_LINE and would read the rest of it as a line of its own. */
typedef struct parse_ctx {
    jet_config *c;
    FILE *f;
    int line;        /* the line last handed to inih */
    int error_line;  /* the first error found here (bad value, unknown key, long line), or 0 */
    char error[256]; /* its message, without "path:line: " */
} parse_ctx;

static int parse_uint(const char *v, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_bool(const char *v, int *out) {
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int jet_config_text_ok(const char *t) {
    for (size_t i = 0; t[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch < 0x20 || ch == 0x7f)
            return 0;
        if (ch == ';' && (i == 0 || t[i - 1] == ' '))
            return 0;
    }
    return 1;
}

/* Copies a text value that writes back the same (jet_config_text_ok) and fits. */
static int copy_text(char *dst, size_t cap, const char *v) {
    size_t n = strlen(v);
    if (n >= cap || !jet_config_text_ok(v))
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

/* A region code as `jetsync init` accepts it: 2..16 of A-Z, 0-9 and '-'. */
static int valid_region(const char *r) {
    size_t n = strlen(r);
    if (n < 2 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'A' && r[i] <= 'Z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
            return 0;
    return 1;
}

/* HOST:PORT (HOST not empty, PORT 0..65535 in digits). */
static int valid_host_port(const char *v) {
    const char *colon = strrchr(v, ':');
    uint64_t port;
    return colon != NULL && colon > v && parse_uint(colon + 1, 65535, &port) == 0 &&
           colon[1] >= '0' && colon[1] <= '9';
}

/* Applies one key; returns 0, or -1 for a bad value, -2 for an unknown key. */
static int apply_key(jet_config *c, const char *section, const char *name, const char *v) {
    uint64_t n = 0;
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(name, k) == 0)
    if (IS("node", "name"))
        return copy_text(c->name, sizeof c->name, v);
    if (IS("node", "region"))
        return valid_region(v) ? copy_text(c->region, sizeof c->region, v) : -1;
    if (IS("node", "role")) {
        if (strcmp(v, "lead") == 0)
            c->lead = 1;
        else if (strcmp(v, "region") == 0)
            c->lead = 0;
        else
            return -1;
        return 0;
    }
    if (IS("network", "listen"))
        return valid_host_port(v) ? copy_text(c->listen, sizeof c->listen, v) : -1;
    if (IS("network", "max_frame")) {
        if (parse_uint(v, 64u << 20, &n) != 0 || n < 4096)
            return -1;
        c->max_frame = (size_t)n;
        return 0;
    }
    if (IS("network", "handshake_timeout") || IS("network", "idle_timeout") ||
        IS("sync", "stall_timeout")) {
        if (jet_duration_parse(v, &n) != 0 || n == 0)
            return -1;
        uint64_t ms = n * 1000;
        if (strcmp(name, "handshake_timeout") == 0)
            c->handshake_timeout_ms = ms;
        else if (strcmp(name, "idle_timeout") == 0)
            c->idle_timeout_ms = ms;
        else
            c->stall_timeout_ms = ms;
        return 0;
    }
    if (IS("network", "max_connections") || IS("network", "max_per_address")) {
        if (parse_uint(v, 1000000, &n) != 0 || n == 0)
            return -1;
        if (strcmp(name, "max_connections") == 0)
            c->max_connections = (unsigned)n;
        else
            c->max_per_address = (unsigned)n;
        return 0;
    }
    if (IS("sync", "at")) {
        unsigned hh, mm;
        char extra;
        if (v[0] != '\0' && (sscanf(v, "%2u:%2u%c", &hh, &mm, &extra) != 2 || hh > 23 || mm > 59))
            return -1;
        return copy_text(c->sync_at, sizeof c->sync_at, v);
    }
    if (IS("sync", "every") || IS("sync", "jitter") || IS("sync", "retry_min") ||
        IS("sync", "retry_max")) {
        if (v[0] == '\0')
            n = 0;
        else if (jet_duration_parse(v, &n) != 0)
            return -1;
        if (strcmp(name, "every") == 0)
            c->sync_every_s = n;
        else if (strcmp(name, "jitter") == 0)
            c->sync_jitter_s = n;
        else if (strcmp(name, "retry_min") == 0)
            c->retry_min_s = n ? n : 1;
        else
            c->retry_max_s = n ? n : 1;
        return 0;
    }
    if (IS("stats", "k")) {
        if (parse_uint(v, 1000, &n) != 0 || n < 2)
            return -1;
        c->stats_k = (unsigned)n;
        return 0;
    }
    if (IS("stats", "publish_zeros"))
        return parse_bool(v, &c->stats_publish_zeros);
    if (IS("stats", "noise"))
        return parse_bool(v, &c->stats_noise);
    if (IS("stats", "epsilon") || IS("stats", "budget")) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || !(d > 0 && d < 1000))
            return -1;
        if (strcmp(name, "epsilon") == 0)
            c->stats_epsilon = d;
        else
            c->stats_budget = d;
        return 0;
    }
#undef IS
    return -2;
}

static int on_ini_value(void *user, const char *section, const char *name, const char *value) {
    parse_ctx *p = user;
    if (p->error_line != 0)
        return 1;
    int rc = apply_key(p->c, section, name, value);
    if (rc != 0) {
        p->error_line = p->line;
        snprintf(p->error, sizeof p->error, "[%s] %s: %s", section, name,
                 rc == -2 ? "unknown key" : "bad value");
    }
    return 1; /* inih's own errors are then syntax errors only */
}

/* inih's reader: one line of the file per call. The rest of an over-long comment is skipped;
 * any other over-long line is an error on that line (and reaches inih as a blank line). */
static char *read_line(char *str, int num, void *stream) {
    parse_ctx *p = stream;
    if (fgets(str, num, p->f) == NULL)
        return NULL;
    p->line++;
    size_t n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && !feof(p->f)) {
        const char *s = str + strspn(str, " \t");
        int comment = *s == '#' || *s == ';';
        int ch;
        while ((ch = fgetc(p->f)) != EOF && ch != '\n')
            ;
        if (!comment) {
            if (p->error_line == 0) {
                p->error_line = p->line;
                snprintf(p->error, sizeof p->error, "line longer than %d characters", num - 2);
            }
            str[0] = '\0';
        }
    }
    return str;
}

int jet_config_load(const char *path, jet_config *c, jet_diag *diag) {
    jet_config_default(c);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return jet_diag_fail(diag, errno == ENOENT ? JET_ENOTFOUND : JET_EIO, "%s: %s", path,
                             strerror(errno));
    parse_ctx p = {c, f, 0, 0, ""};
    int line = ini_parse_stream(read_line, &p, on_ini_value, &p);
    int read_failed = ferror(f);
    fclose(f);
    if (read_failed || line < 0)
        return jet_diag_fail(diag, JET_EIO, "%s: cannot read the file", path);
    /* Report the first error of either kind. */
    if (line > 0 && (p.error_line == 0 || line < p.error_line))
        return jet_diag_fail(diag, JET_ECONFIG, "%s:%d: syntax error", path, line);
    if (p.error_line != 0)
        return jet_diag_fail(diag, JET_ECONFIG, "%s:%d: %s", path, p.error_line, p.error);
    if (c->region[0] == '\0')
        return jet_diag_fail(diag, JET_ECONFIG, "%s: [node] region is missing", path);
    return 0;
}

int jet_config_write(const char *path, const jet_config *c, jet_diag *diag) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return jet_diag_fail(diag, errno == EEXIST ? JET_EEXIST : JET_EIO, "%s: %s", path,
                             strerror(errno));
    char every[32] = "";
    if (c->sync_every_s != 0)
        snprintf(every, sizeof every, "%llus", (unsigned long long)c->sync_every_s);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
    }
    fprintf(f,
            "# jetsync node configuration. Every key is described in README.md.\n"
            "[node]\nname = %s\nregion = %s\nrole = %s\n\n"
            "[network]\n"
            "# Address the daemon listens on (jetsyncd --listen overrides it).\n"
            "listen = %s\nmax_frame = %zu\nhandshake_timeout = %llus\nidle_timeout = %llus\n"
            "max_connections = %u\nmax_per_address = %u\n\n"
            "[sync]\n"
            "# Nightly sync time (HH:MM, local time) and/or a period such as 6h; empty = off.\n"
            "at = %s\nevery = %s\njitter = %llus\nstall_timeout = %llus\n"
            "retry_min = %llus\nretry_max = %llus\n\n"
            "[stats]\n"
            "# Counts from 1 to k-1 never leave the node.\n"
            "k = %u\npublish_zeros = %s\nnoise = %s\nepsilon = %g\nbudget = %g\n",
            c->name, c->region, c->lead ? "lead" : "region", c->listen, c->max_frame,
            (unsigned long long)(c->handshake_timeout_ms / 1000),
            (unsigned long long)(c->idle_timeout_ms / 1000), c->max_connections,
            c->max_per_address, c->sync_at, every, (unsigned long long)c->sync_jitter_s,
            (unsigned long long)(c->stall_timeout_ms / 1000),
            (unsigned long long)c->retry_min_s, (unsigned long long)c->retry_max_s, c->stats_k,
            c->stats_publish_zeros ? "true" : "false", c->stats_noise ? "true" : "false",
            c->stats_epsilon, c->stats_budget);
    if (fclose(f) != 0)
        return jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
    return 0;
}
