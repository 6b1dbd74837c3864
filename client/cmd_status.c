/* cmd_status.c - jetsync status: peers, last sync per peer, what is pending, logs, store size. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "encoding.h"
#include "peers.h"
#include "record.h"

static const char status_usage[] =
    "usage: jetsync status --home DIR [--json]\n"
    "  Shows each peer (state, last successful sync, what was sent and received, what is\n"
    "  pending), every log held (stream, origin, epoch, highest contiguous seq, digest) and\n"
    "  the store size.\n";

typedef struct status_ctx {
    json_t *peers;
    json_t *logs;
    int rc;
} status_ctx;

static json_t *time_or_null(uint64_t t) {
    if (t == 0)
        return json_null();
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

typedef struct peer_status_ctx {
    status_ctx *s;
    jet_txn *txn;
} peer_status_ctx;

static int peer_status_one(const jet_peer *p, void *arg) {
    peer_status_ctx *pc = arg;
    jet_sync_status st;
    int rc = jet_sync_status_get(pc->txn, p->key, &st);
    if (rc != 0)
        return rc;
    char id[JET_NODE_ID_BUF];
    jet_node_id_format(p->key, id);
    const char *state = p->revoked ? "revoked" : st.state;
    /* A session that stopped updating its progress was cut (a killed process): say so. */
    if (strcmp(state, "syncing") == 0 && (uint64_t)time(NULL) > st.last_attempt + 60)
        state = "interrupted";
    if (strcmp(state, "backoff") == 0 && (uint64_t)time(NULL) >= st.backoff_until)
        state = "failed";
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "name", p->name, "key", id, "role",
                          jet_role_name(p->role), "addr", p->addr, "revoked", p->revoked,
                          "state", state);
    json_object_set_new(o, "last_sync", time_or_null(st.last_ok));
    json_object_set_new(o, "last_attempt", time_or_null(st.last_attempt));
    json_object_set_new(o, "last_error", json_string(st.last_error));
    json_object_set_new(o, "backoff_until", time_or_null(st.backoff_until));
    json_object_set_new(o, "sent", json_pack("{s:I, s:I}", "records", (json_int_t)st.sent_records,
                                             "bytes", (json_int_t)st.sent_bytes));
    json_object_set_new(o, "received",
                        json_pack("{s:I, s:I}", "records", (json_int_t)st.recv_records, "bytes",
                                  (json_int_t)st.recv_bytes));
    json_object_set_new(o, "pending",
                        json_pack("{s:I, s:I}", "to_peer", (json_int_t)st.pending_to_peer,
                                  "from_peer", (json_int_t)st.pending_from_peer));
    json_object_set_new(o, "sessions",
                        json_pack("{s:I, s:I}", "total", (json_int_t)st.total_sessions, "failed",
                                  (json_int_t)st.failed_sessions));
    json_array_append_new(pc->s->peers, o);
    return 0;
}

typedef struct log_ctx {
    status_ctx *s;
    jet_txn *txn;
} log_ctx;

static int log_one(const jet_vv_entry *e, void *arg) {
    log_ctx *lc = arg;
    uint8_t digest[32];
    int rc = jet_log_digest(lc->txn, e->stream, e->origin, e->epoch, e->seq, digest);
    if (rc != 0)
        return rc;
    char id[JET_NODE_ID_BUF], hex[65];
    jet_node_id_format(e->origin, id);
    jet_hex_format(digest, 32, hex);
    json_array_append_new(lc->s->logs,
                          json_pack("{s:s, s:s, s:I, s:I, s:s}", "stream",
                                    jet_stream_name(e->stream), "origin", id, "epoch",
                                    (json_int_t)e->epoch, "seq", (json_int_t)e->seq, "digest",
                                    hex));
    return 0;
}

static int status_txn(jet_txn *txn, void *arg) {
    status_ctx *s = arg;
    peer_status_ctx pc = {s, txn};
    int rc = jet_peers_each(txn, peer_status_one, &pc);
    if (rc != 0)
        return rc;
    log_ctx lc = {s, txn};
    return jet_vv_scan(txn, 0, log_one, &lc);
}

static void print_text(const jet_node *node, json_t *doc) {
    json_t *peers = json_object_get(doc, "peers"), *logs = json_object_get(doc, "logs"), *v;
    size_t i;
    printf("node %s  %s  region %s  role %s\n", jet_node_id(node), jet_node_config(node)->name,
           jet_node_region(node), jet_node_is_lead(node) ? "lead" : "region");
    printf("store %.1f MiB\n\npeers:\n",
           (double)json_integer_value(json_object_get(doc, "store_bytes")) / 1048576.0);
    if (json_array_size(peers) == 0)
        printf("  (none: add partners with 'jetsync peer add')\n");
    json_array_foreach(peers, i, v) {
        json_t *last = json_object_get(v, "last_sync");
        printf("  %-18s %-7s %-8s last sync %-20s sent %lld rec, received %lld rec, pending "
               "%lld/%lld%s%s\n",
               json_string_value(json_object_get(v, "name")),
               json_string_value(json_object_get(v, "role")),
               json_string_value(json_object_get(v, "state")),
               json_is_string(last) ? json_string_value(last) : "never",
               json_integer_value(json_object_get(json_object_get(v, "sent"), "records")),
               json_integer_value(json_object_get(json_object_get(v, "received"), "records")),
               json_integer_value(json_object_get(json_object_get(v, "pending"), "to_peer")),
               json_integer_value(json_object_get(json_object_get(v, "pending"), "from_peer")),
               json_string_length(json_object_get(v, "last_error")) ? "  error: " : "",
               json_string_value(json_object_get(v, "last_error")));
        json_t *until = json_object_get(v, "backoff_until");
        if (strcmp(json_string_value(json_object_get(v, "state")), "backoff") == 0 &&
            json_is_string(until))
            printf("  %-18s backing off until %s\n", "", json_string_value(until));
    }
    printf("\nlogs:\n");
    json_array_foreach(logs, i, v) {
        printf("  %-8s %s epoch %lld seq %lld digest %.16s\n",
               json_string_value(json_object_get(v, "stream")),
               json_string_value(json_object_get(v, "origin")),
               json_integer_value(json_object_get(v, "epoch")),
               json_integer_value(json_object_get(v, "seq")),
               json_string_value(json_object_get(v, "digest")));
    }
}

int cmd_status_main(int argc, char **argv) {
    static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *home_opt = NULL;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'H')
            home_opt = optarg;
        else if (c == 'j')
            as_json = 1;
        else if (c == 'h')
            return fputs(status_usage, stdout), 0;
        else
            return cli_usage(status_usage);
    }
    if (optind != argc)
        return cli_usage(status_usage);
    cli_quiet_logs();
    jet_node *node = cli_open_node(home_opt);
    if (node == NULL)
        return 1;
    status_ctx s = {json_array(), json_array(), 0};
    int rc = jet_store_read(jet_node_store(node), status_txn, &s);
    uint64_t bytes = 0;
    if (rc == 0)
        rc = jet_store_size(jet_node_store(node), &bytes);
    if (rc != 0) {
        json_decref(s.peers);
        json_decref(s.logs);
        jet_node_free(node);
        return cli_fail_code("status", rc, NULL);
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I}", "node_id", jet_node_id(node),
                            "name", jet_node_config(node)->name, "region", jet_node_region(node),
                            "role", jet_node_is_lead(node) ? "lead" : "region", "peers", s.peers,
                            "logs", s.logs, "store_bytes", (json_int_t)bytes);
    if (as_json) {
        rc = cli_print_json(doc);
    } else {
        print_text(node, doc);
        json_decref(doc);
    }
    jet_node_free(node);
    return rc;
}
