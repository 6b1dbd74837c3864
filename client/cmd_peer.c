/* cmd_peer.c - jetsync peer add|list|remove: the partner list. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "encoding.h"
#include "peers.h"
#include "stats.h"

static const char peer_usage[] =
    "usage: jetsync peer add --home DIR --name NAME --key NODE_ID [--addr HOST:PORT] "
    "[--role lead|region]\n"
    "       jetsync peer list --home DIR [--json]\n"
    "       jetsync peer remove --home DIR NAME     (revokes: its next connection is refused)\n";

typedef struct peer_args {
    const char *home;
    const char *name;
    const char *key;
    const char *addr;
    const char *role;
    int json;
} peer_args;

static int parse_peer_args(int argc, char **argv, peer_args *a) {
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'}, {"name", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},  {"addr", required_argument, NULL, 'a'},
        {"role", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'n': a->name = optarg; break;
        case 'k': a->key = optarg; break;
        case 'a': a->addr = optarg; break;
        case 'r': a->role = optarg; break;
        case 'j': a->json = 1; break;
        case 'h': fputs(peer_usage, stdout); return 0;
        default: return cli_usage(peer_usage);
        }
    }
    return -1;
}

static int valid_addr(const char *addr) {
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || strlen(addr) >= JET_PEER_ADDR_MAX)
        return 0;
    size_t digits = strspn(colon + 1, "0123456789");
    if (digits == 0 || digits > 5 || colon[1 + digits] != '\0')
        return 0; /* only digits: strtol alone would take " 80" and "+80" */
    long port = strtol(colon + 1, NULL, 10);
    return port > 0 && port < 65536;
}

typedef struct add_ctx {
    jet_peer peer;
    const uint8_t *own_key;
    jet_diag *diag;
} add_ctx;

static int add_txn(jet_txn *txn, void *arg) {
    add_ctx *a = arg;
    jet_peer old;
    if (memcmp(a->peer.key, a->own_key, 32) == 0)
        return jet_diag_fail(a->diag, JET_EINVAL, "--key is this node's own id");
    int rc = jet_peers_find_key(txn, a->peer.key, &old);
    if (rc == 0 && strcmp(old.name, a->peer.name) != 0 && !old.revoked)
        return jet_diag_fail(a->diag, JET_EEXIST, "that key is already the peer '%s'", old.name);
    rc = jet_peers_get(txn, a->peer.name, &old);
    if (rc == 0) {
        if (memcmp(old.key, a->peer.key, 32) != 0 && !old.revoked)
            return jet_diag_fail(a->diag, JET_EEXIST,
                                 "a peer named '%s' with another key exists; remove it first",
                                 a->peer.name);
        /* Re-adding keeps the replay counter, so an old handshake stays refused. */
        if (memcmp(old.key, a->peer.key, 32) == 0)
            a->peer.last_hs_value = old.last_hs_value;
    } else if (rc != JET_ENOTFOUND) {
        return rc;
    }
    return jet_peers_put(txn, &a->peer);
}

static int peer_add(jet_node *node, const peer_args *a) {
    if (a->name == NULL || a->key == NULL)
        return cli_usage(peer_usage);
    jet_diag diag;
    jet_diag_clear(&diag);
    add_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.own_key = jet_node_public_key(node);
    ctx.diag = &diag;
    if (strlen(a->name) == 0 || strlen(a->name) >= JET_PEER_NAME_MAX)
        return cli_fail("peer add: --name must be 1-%d bytes", JET_PEER_NAME_MAX - 1);
    snprintf(ctx.peer.name, sizeof ctx.peer.name, "%s", a->name);
    if (jet_node_id_parse(a->key, ctx.peer.key) != 0)
        return cli_fail("peer add: --key: not a node id (43 base64url characters): '%s'", a->key);
    if (a->addr != NULL) {
        if (!valid_addr(a->addr))
            return cli_fail("peer add: --addr: expected HOST:PORT, got '%s'", a->addr);
        snprintf(ctx.peer.addr, sizeof ctx.peer.addr, "%s", a->addr);
    }
    ctx.peer.role = JET_ROLE_REGION;
    if (a->role != NULL && jet_role_parse(a->role, &ctx.peer.role) != 0)
        return cli_fail("peer add: --role: expected lead or region, got '%s'", a->role);
    ctx.peer.added_at = (uint64_t)time(NULL);
    int rc = jet_store_write(jet_node_store(node), add_txn, &ctx);
    if (rc != 0)
        return cli_fail_code("peer add", rc, &diag);
    return 0;
}

typedef struct remove_ctx {
    const char *name;
} remove_ctx;

static int remove_txn(jet_txn *txn, void *arg) {
    remove_ctx *r = arg;
    jet_peer p;
    int rc = jet_peers_get(txn, r->name, &p);
    if (rc != 0)
        return rc;
    p.revoked = 1;
    int rc2 = jet_peers_put(txn, &p);
    /* Its region code may be taken by the partner's next node. */
    return rc2 == 0 ? jet_stats_forget_origin(txn, p.key) : rc2;
}

static int peer_remove(jet_node *node, const char *name) {
    remove_ctx r = {name};
    int rc = jet_store_write(jet_node_store(node), remove_txn, &r);
    if (rc == JET_ENOTFOUND)
        return cli_fail("peer remove: no peer named '%s'", name);
    if (rc != 0)
        return cli_fail_code("peer remove", rc, NULL);
    return 0;
}

static int list_one(const jet_peer *p, void *arg) {
    json_t *arr = arg;
    char id[JET_NODE_ID_BUF];
    jet_node_id_format(p->key, id);
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "name", p->name,
                                         "key", id, "addr", p->addr, "role",
                                         jet_role_name(p->role), "revoked", p->revoked,
                                         "added_at", (json_int_t)p->added_at));
    return 0;
}

static int list_txn(jet_txn *txn, void *arg) {
    return jet_peers_each(txn, list_one, arg);
}

static int peer_list(jet_node *node, int as_json) {
    json_t *arr = json_array();
    int rc = jet_store_read(jet_node_store(node), list_txn, arr);
    if (rc != 0) {
        json_decref(arr);
        return cli_fail_code("peer list", rc, NULL);
    }
    if (as_json)
        return cli_print_json(arr);
    size_t i;
    json_t *p;
    printf("%-20s %-7s %-8s %-22s %s\n", "NAME", "ROLE", "STATE", "ADDRESS", "NODE ID");
    json_array_foreach(arr, i, p) {
        const char *addr = json_string_value(json_object_get(p, "addr"));
        printf("%-20s %-7s %-8s %-22s %s\n", json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "role")),
               json_is_true(json_object_get(p, "revoked")) ? "revoked" : "active",
               addr[0] ? addr : "-", json_string_value(json_object_get(p, "key")));
    }
    json_decref(arr);
    return 0;
}

int cmd_peer_main(int argc, char **argv) {
    if (argc < 2)
        return cli_usage(peer_usage);
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return fputs(peer_usage, stdout), 0;
    peer_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_peer_args(argc - 1, argv + 1, &a);
    if (rc >= 0)
        return rc;
    int first_pos = optind + 1; /* positional arguments, in argv terms */
    cli_quiet_logs();
    jet_node *node = NULL;
    if (strcmp(sub, "add") == 0) {
        if (first_pos != argc)
            return cli_usage(peer_usage);
        if ((node = cli_open_node(a.home)) == NULL)
            return 1;
        rc = peer_add(node, &a);
    } else if (strcmp(sub, "list") == 0) {
        if (first_pos != argc)
            return cli_usage(peer_usage);
        if ((node = cli_open_node(a.home)) == NULL)
            return 1;
        rc = peer_list(node, a.json);
    } else if (strcmp(sub, "remove") == 0) {
        const char *name = a.name;
        if (name == NULL && first_pos + 1 == argc)
            name = argv[first_pos];
        if (name == NULL)
            return cli_usage(peer_usage);
        if ((node = cli_open_node(a.home)) == NULL)
            return 1;
        rc = peer_remove(node, name);
    } else {
        return cli_fail("peer: unknown subcommand '%s' (add, list, remove)", sub);
    }
    jet_node_free(node);
    return rc;
}
