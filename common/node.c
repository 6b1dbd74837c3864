/* node.c - a node home: configuration, identity, network key and store. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDENTITY_FILE "identity.key"
#define NETWORK_FILE "network.key"
#define CONFIG_FILE "jetsync.conf"
#define STORE_DIR "store"
/* Present from the start of an init to its end: a home that holds it is an init that was
 * killed part-way, never a node (see jet_node_init). */
#define INIT_MARKER ".init-unfinished"
#define MARKER_KEEP_NETWORK "keep network.key\n"

struct jet_node {
    char home[4096];
    jet_config config;
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    char id[JET_NODE_ID_BUF];
    uint8_t network_key[32];
    jet_store *store;
};

int jet_node_resolve_home(const char *opt, char *buf, size_t len) {
    const char *env = getenv("JETSYNC_HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (opt != NULL && opt[0] != '\0')
        n = snprintf(buf, len, "%s", opt);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(buf, len, "%s", env);
    else if (xdg != NULL && xdg[0] != '\0')
        n = snprintf(buf, len, "%s/jetsync", xdg);
    else if (home != NULL)
        n = snprintf(buf, len, "%s/.local/share/jetsync", home);
    else
        return JET_EINVAL;
    return n > 0 && (size_t)n < len ? 0 : JET_EINVAL;
}

static void path_join(char *out, size_t len, const char *home, const char *name) {
    snprintf(out, len, "%s/%s", home, name);
}

static int path_exists(const char *home, const char *name) {
    char path[4200];
    struct stat st;
    path_join(path, sizeof path, home, name);
    return stat(path, &st) == 0;
}

/* Writes `len` bytes to a new file with mode 0600, durably. */
static int write_secret_file(const char *path, const void *data, size_t len, jet_diag *diag) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
    ssize_t n = write(fd, data, len);
    int ok = n == (ssize_t)len && fsync(fd) == 0;
    int err = errno;
    close(fd);
    if (!ok) {
        unlink(path);
        return jet_diag_fail(diag, err == ENOSPC ? JET_ENOSPC : JET_EIO, "%s: %s", path,
                             strerror(err));
    }
    return 0;
}

/* Reads a secret file of at most `cap` bytes, refusing one that group or others can read. */
static int read_secret_file(const char *path, uint8_t *buf, size_t cap, size_t *len,
                            jet_diag *diag) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return jet_diag_fail(diag, errno == ENOENT ? JET_ENOTFOUND : JET_EIO, "%s: %s", path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        close(fd);
        return jet_diag_fail(diag, JET_EKEYPERM,
                             "%s: secret key file is readable by group or others (mode %03o); "
                             "run: chmod 600 %s",
                             path, (unsigned)(st.st_mode & 0777), path);
    }
    ssize_t n = read(fd, buf, cap);
    close(fd);
    if (n < 0)
        return jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
    *len = (size_t)n;
    return 0;
}

static int load_identity(jet_node *node, jet_diag *diag) {
    char path[4200], text[128];
    size_t len = 0;
    path_join(path, sizeof path, node->home, IDENTITY_FILE);
    int rc = read_secret_file(path, (uint8_t *)text, sizeof text - 1, &len, diag);
    if (rc != 0)
        return rc;
    text[len] = '\0';
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    uint8_t seed[crypto_sign_SEEDBYTES];
    size_t seed_len = 0;
    if (sodium_base642bin(seed, sizeof seed, text, len, NULL, &seed_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        seed_len != sizeof seed) {
        sodium_memzero(text, sizeof text);
        return jet_diag_fail(diag, JET_ECONFIG, "%s: not a jetsync identity key", path);
    }
    crypto_sign_seed_keypair(node->pk, node->sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(text, sizeof text);
    jet_node_id_format(node->pk, node->id);
    return 0;
}

static int load_network_key(jet_node *node, jet_diag *diag) {
    char path[4200];
    uint8_t buf[64];
    size_t len = 0;
    path_join(path, sizeof path, node->home, NETWORK_FILE);
    int rc = read_secret_file(path, buf, sizeof buf, &len, diag);
    if (rc != 0)
        return rc;
    if (len != 32) {
        sodium_memzero(buf, sizeof buf);
        return jet_diag_fail(diag, JET_ECONFIG, "%s: a network key is exactly 32 bytes", path);
    }
    memcpy(node->network_key, buf, 32);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

static int store_error(jet_diag *diag, const char *dir, int rc) {
    if (rc == JET_ESCHEMA)
        return jet_diag_fail(diag, rc,
                             "%s: store has schema version unknown to jetsync %s (expected %d)",
                             dir, JET_VERSION, JET_STORE_SCHEMA_VERSION);
    return jet_diag_fail(diag, rc, "%s: %s", dir, jet_strerror(rc));
}

int jet_node_open(const char *home, jet_node **out, jet_diag *diag) {
    if (sodium_init() < 0)
        return jet_diag_fail(diag, JET_EIO, "libsodium failed to initialise");
    jet_node *node = sodium_malloc(sizeof *node);
    if (node == NULL)
        return jet_diag_fail(diag, JET_ENOMEM, "out of memory");
    memset(node, 0, sizeof *node);
    snprintf(node->home, sizeof node->home, "%s", home);
    char path[4200];
    path_join(path, sizeof path, home, CONFIG_FILE);
    int rc = 0;
    if (path_exists(home, INIT_MARKER))
        rc = jet_diag_fail(diag, JET_ECONFIG,
                           "%s: 'jetsync init' was interrupted here; run it again", home);
    if (rc == 0)
        rc = jet_config_load(path, &node->config, diag);
    if (rc == JET_ENOTFOUND)
        rc = jet_diag_fail(diag, rc, "%s: no jetsync node here (run 'jetsync init' first)", home);
    if (rc == 0)
        rc = load_identity(node, diag);
    if (rc == 0)
        rc = load_network_key(node, diag);
    if (rc == 0) {
        path_join(path, sizeof path, home, STORE_DIR);
        rc = jet_store_open(path, &node->store);
        if (rc != 0)
            store_error(diag, path, rc);
    }
    if (rc != 0) {
        jet_node_free(node);
        return rc;
    }
    *out = node;
    return 0;
}

void jet_node_free(jet_node *node) {
    if (node == NULL)
        return;
    jet_store_free(node->store);
    sodium_free(node); /* wipes the secret key with the rest of the struct */
}

/* What jet_node_init() made, so that a failure removes exactly that and nothing that was there
 * before (such as the consortium's network key file). */
enum {
    MADE_HOME = 1,
    MADE_NETWORK_FILE = 2, /* the --network-key file, created because it was absent */
    MADE_NETWORK = 4,
    MADE_IDENTITY = 8,
    MADE_CONFIG = 16,
    MADE_STORE_DIR = 32,
    MADE_STORE = 64,
    MADE_MARKER = 128,
};

/* Reads or creates the network key file given to init, returning the 32 bytes. */
static int obtain_network_key(const char *file, uint8_t key[32], int *made, jet_diag *diag) {
    if (file == NULL) {
        randombytes_buf(key, 32);
        return 0;
    }
    int fd = open(file, O_RDONLY);
    if (fd < 0 && errno == ENOENT) {
        randombytes_buf(key, 32);
        int rc = write_secret_file(file, key, 32, diag);
        if (rc == 0)
            *made |= MADE_NETWORK_FILE;
        return rc;
    }
    if (fd < 0)
        return jet_diag_fail(diag, JET_EIO, "%s: %s", file, strerror(errno));
    uint8_t buf[33];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != 32)
        return jet_diag_fail(diag, JET_ECONFIG, "%s: a network key file holds exactly 32 bytes",
                             file);
    memcpy(key, buf, 32);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* Makes what was written in `home` durable as a directory entry (creates, unlinks). */
static void sync_dir(const char *home) {
    int fd = open(home, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The marker says whether network.key was in the home before the init began (the consortium's
 * key, put there by hand): then leftovers of that init do not include it. */
static int init_marker_write(const char *home, jet_diag *diag) {
    char path[4200];
    const char *text = path_exists(home, NETWORK_FILE) ? MARKER_KEEP_NETWORK : "";
    path_join(path, sizeof path, home, INIT_MARKER);
    int rc = write_secret_file(path, text, strlen(text), diag);
    if (rc == 0)
        sync_dir(home);
    return rc;
}

static int node_exists(const char *home) {
    return path_exists(home, CONFIG_FILE) || path_exists(home, IDENTITY_FILE) ||
           path_exists(home, STORE_DIR "/data.mdb");
}

static void remove_created(const char *home, int made, const char *network_key_file) {
    static const struct {
        int flag;
        const char *name;
    } files[] = {{MADE_STORE, STORE_DIR "/data.mdb"}, {MADE_STORE, STORE_DIR "/lock.mdb"},
                 {MADE_CONFIG, CONFIG_FILE},         {MADE_IDENTITY, IDENTITY_FILE},
                 {MADE_NETWORK, NETWORK_FILE},       {MADE_MARKER, INIT_MARKER}};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!(made & files[i].flag))
            continue;
        path_join(path, sizeof path, home, files[i].name);
        unlink(path);
    }
    if (made & MADE_NETWORK_FILE)
        unlink(network_key_file);
    path_join(path, sizeof path, home, STORE_DIR);
    if (made & MADE_STORE_DIR)
        rmdir(path);
    if (made & MADE_HOME)
        rmdir(home);
}

/* Removes what an init killed part-way left in `home` (the marker says so): none of it was
 * ever a node, since jet_node_open() refuses a home with the marker, the last file removed. */
static void init_leftovers_remove(const char *home) {
    char path[4200], text[64] = "";
    path_join(path, sizeof path, home, INIT_MARKER);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        text[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    int made = MADE_STORE | MADE_STORE_DIR | MADE_CONFIG | MADE_IDENTITY | MADE_MARKER;
    if (strcmp(text, MARKER_KEEP_NETWORK) != 0)
        made |= MADE_NETWORK;
    remove_created(home, made, NULL);
    sync_dir(home);
}

/* Whether two paths name one file (the --network-key file may be HOME/network.key itself). */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* mkdir -p for the parents of `home`; the home itself is made by the caller. */
static void make_parents(const char *home) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", home);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
}

/* Whether jetsync.conf (INI, read by inih) reads `t` back unchanged as a value: inih trims
 * spaces at both ends and takes " ;" as the start of a comment. */
static int conf_safe_text(const char *t) {
    size_t n = strlen(t);
    /* The INI reader strips a value's spaces at either end. */
    return n > 0 && t[0] != ' ' && t[n - 1] != ' ' && jet_config_text_ok(t);
}

static int valid_region(const char *r) {
    size_t n = strlen(r);
    if (n < 2 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = r[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return 1;
}

int jet_node_init(const char *home, const jet_node_init_options *opt, jet_node **out,
                  jet_diag *diag) {
    if (sodium_init() < 0)
        return jet_diag_fail(diag, JET_EIO, "libsodium failed to initialise");
    if (opt->name == NULL || opt->name[0] == '\0' || strlen(opt->name) >= 128)
        return jet_diag_fail(diag, JET_EINVAL, "--name: give the partner's name (1-127 bytes)");
    if (!conf_safe_text(opt->name))
        return jet_diag_fail(diag, JET_EINVAL,
                             "--name: no control characters, no space at either end and no ';' "
                             "first or after a space (jetsync.conf would not read it back the "
                             "same)");
    if (opt->region == NULL || !valid_region(opt->region))
        return jet_diag_fail(diag, JET_EINVAL,
                             "--region: expected a region code such as SE-Y or IT-25 "
                             "(capital letters, digits and '-')");
    /* A killed init leaves its files behind with the marker: this init starts over. */
    if (path_exists(home, INIT_MARKER))
        init_leftovers_remove(home);
    if (node_exists(home))
        return jet_diag_fail(diag, JET_EEXIST,
                             "%s: a node already exists here; nothing was changed", home);
    make_parents(home);
    int made = 0;
    if (mkdir(home, 0700) == 0)
        made |= MADE_HOME;
    else if (errno != EEXIST)
        return jet_diag_fail(diag, JET_EIO, "%s: %s", home, strerror(errno));
    if (init_marker_write(home, diag) != 0) {
        remove_created(home, made | MADE_MARKER, opt->network_key_file);
        return JET_EIO;
    }
    made |= MADE_MARKER;

    char path[4200];
    uint8_t seed[crypto_sign_SEEDBYTES], pk[32], sk[64], netkey[32];
    char text[64];
    int rc = obtain_network_key(opt->network_key_file, netkey, &made, diag);
    if (rc == 0) {
        path_join(path, sizeof path, home, NETWORK_FILE);
        if (opt->network_key_file == NULL || !same_file(opt->network_key_file, path)) {
            rc = write_secret_file(path, netkey, 32, diag);
            if (rc == 0)
                made |= MADE_NETWORK;
        }
    }
    if (rc == 0) {
        randombytes_buf(seed, sizeof seed);
        crypto_sign_seed_keypair(pk, sk, seed);
        sodium_bin2base64(text, sizeof text, seed, sizeof seed,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        size_t tl = strlen(text);
        text[tl++] = '\n';
        path_join(path, sizeof path, home, IDENTITY_FILE);
        rc = write_secret_file(path, text, tl, diag);
        if (rc == 0)
            made |= MADE_IDENTITY;
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(text, sizeof text);
    sodium_memzero(netkey, sizeof netkey);
    if (rc == 0) {
        jet_config c;
        jet_config_default(&c);
        snprintf(c.name, sizeof c.name, "%s", opt->name);
        snprintf(c.region, sizeof c.region, "%s", opt->region);
        c.lead = opt->lead;
        path_join(path, sizeof path, home, CONFIG_FILE);
        rc = jet_config_write(path, &c, diag);
        if (rc == 0)
            made |= MADE_CONFIG;
    }
    if (rc == 0) {
        path_join(path, sizeof path, home, STORE_DIR);
        if (mkdir(path, 0700) == 0)
            made |= MADE_STORE_DIR;
        else if (errno != EEXIST)
            rc = jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
        jet_store *store = NULL;
        if (rc == 0 && (rc = jet_store_create(path, &store)) != 0)
            store_error(diag, path, rc);
        if (rc == 0)
            made |= MADE_STORE;
        jet_store_free(store);
    }
    if (rc == 0) {
        /* Everything above is durable (each file was synced): the node is complete. */
        path_join(path, sizeof path, home, INIT_MARKER);
        if (unlink(path) != 0)
            rc = jet_diag_fail(diag, JET_EIO, "%s: %s", path, strerror(errno));
        sync_dir(home);
    }
    if (rc == 0)
        rc = jet_node_open(home, out, diag);
    if (rc != 0)
        remove_created(home, made, opt->network_key_file);
    return rc;
}

const char *jet_node_home(const jet_node *node) {
    return node->home;
}
jet_store *jet_node_store(const jet_node *node) {
    return node->store;
}
const jet_config *jet_node_config(const jet_node *node) {
    return &node->config;
}
const uint8_t *jet_node_secret_key(const jet_node *node) {
    return node->sk;
}
const uint8_t *jet_node_public_key(const jet_node *node) {
    return node->pk;
}
const char *jet_node_id(const jet_node *node) {
    return node->id;
}
const uint8_t *jet_node_network_key(const jet_node *node) {
    return node->network_key;
}
int jet_node_is_lead(const jet_node *node) {
    return node->config.lead;
}
const char *jet_node_region(const jet_node *node) {
    return node->config.region;
}
