/* config.h - the node's configuration file (HOME/jetsync.conf, INI, parsed by inih).
 * Every key is documented in README.md ("Configuration"). */
#ifndef JET_CONFIG_H
#define JET_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct jet_config {
    /* [node] */
    char name[128];  /* display name of the partner */
    char region[32]; /* region code, e.g. SE-Y, IT-25 */
    int lead;        /* 1 on the lead partner's node */
    /* [network] */
    char listen[128]; /* HOST:PORT the daemon listens on */
    size_t max_frame;
    uint64_t handshake_timeout_ms;
    uint64_t idle_timeout_ms;
    unsigned max_connections;
    unsigned max_per_address;
    /* [sync] */
    char sync_at[8];           /* "HH:MM" or "" */
    uint64_t sync_every_s;     /* 0 = off */
    uint64_t sync_jitter_s;    /* random delay added to sync_at */
    uint64_t stall_timeout_ms; /* connected with no progress this long = failed */
    uint64_t retry_min_s;      /* first back-off after a failure */
    uint64_t retry_max_s;      /* back-off cap */
    /* [stats] */
    unsigned stats_k;         /* disclosure threshold */
    int stats_publish_zeros;  /* publish zero counts */
    int stats_noise;          /* discrete Laplace noise on (off by default) */
    double stats_epsilon;     /* privacy budget spent per noisy release */
    double stats_budget;      /* total budget per region and dataset */
} jet_config;

/* Fills `c` with the defaults. */
void jet_config_default(jet_config *c);

/* Loads `path` over the defaults. Errors name "path:line: reason". Returns 0 or JET_ECONFIG
 * (JET_ENOTFOUND when the file is missing). */
int jet_config_load(const char *path, jet_config *c, jet_diag *diag);

/* Writes a new, commented configuration file (mode 0644). Returns 0, JET_EEXIST or JET_EIO. */
int jet_config_write(const char *path, const jet_config *c, jet_diag *diag);

/* 1 if jet_config_write() writes `text` as a value that loads back the same: no control
 * characters, and no ';' first or after a space (the INI reader takes " ;" for the start of a
 * comment, and the writer puts a space after '='). The loader refuses other values of the
 * text keys (name, listen, sync at), so every configuration it accepts writes back whole. */
int jet_config_text_ok(const char *text);

/* Parses "90s", "15m", "24h", "2d" or a plain number of seconds. Returns 0 or JET_EINVAL. */
int jet_duration_parse(const char *text, uint64_t *seconds);

#endif
