/* fuzz_seeds.c - writes the seed corpora of the store-backed fuzz targets from examples/:
 * toolkit entries published and statistics imported into a temporary store with the fuzz test
 * key, then their records, payloads and wire messages written as seed files.
 *
 *   fuzz_seeds CORPUS_DIR EXAMPLES_DIR     (CORPUS_DIR/<target>/ must exist)
 *
 * Not a fuzz target (no LLVMFuzzerTestOneInput); built beside them. */
#include "fuzz_util.h"

#include <dirent.h>

#include "sdc.h"
#include "statcsv.h"
#include "stats.h"
#include "toolkit.h"
#include "toolkit_json.h"
#include "wire.pb-c.h"

static const char *corpus;
static int nseeds;

static void put_seed(const char *target, const char *name, uint8_t mode, const uint8_t *a,
                     size_t alen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(&mode, 1, 1, f) == 1);
    CHECK(fwrite(a, 1, alen, f) == alen);
    CHECK(fclose(f) == 0);
    nseeds++;
}

typedef struct rec_list {
    uint8_t *enc[64];
    size_t len[64];
    size_t n;
} rec_list;

static int collect(const void *k, size_t kl, const void *v, size_t vl, void *arg) {
    rec_list *l = arg;
    (void)k;
    (void)kl;
    if (l->n < 64) {
        l->enc[l->n] = malloc(vl);
        CHECK(l->enc[l->n] != NULL);
        memcpy(l->enc[l->n], v, vl);
        l->len[l->n++] = vl;
    }
    return 0;
}

static int scan_txn(jet_txn *txn, void *arg) {
    return jet_txn_scan(txn, JET_DB_LOG, NULL, 0, NULL, 0, collect, arg);
}

static void wire_seed(const char *name, uint8_t mode, Jetsync__Wire__Message *m) {
    size_t len = jetsync__wire__message__get_packed_size(m);
    uint8_t *buf = malloc(len + 1);
    CHECK(buf != NULL);
    jetsync__wire__message__pack(m, buf);
    put_seed("fuzz_wire", name, mode, buf, len);
    free(buf);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR EXAMPLES_DIR\n");
        return 2;
    }
    corpus = argv[1];
    fz_init(1);
    char path[4096];
    jet_diag d;

    /* Toolkit entries. */
    snprintf(path, sizeof path, "%s/toolkit", argv[2]);
    DIR *dir = opendir(path);
    CHECK(dir != NULL);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strstr(de->d_name, ".json") == NULL)
            continue;
        snprintf(path, sizeof path, "%s/toolkit/%s", argv[2], de->d_name);
        jet_toolkit_entry *e = NULL;
        jet_diag_clear(&d);
        CHECK(jet_toolkit_json_read_file(path, &e, &d) == 0);
        CHECK(jet_toolkit_publish(fz_store, fz_sk, e, 1700000000, &d) == 0);
        jet_toolkit_entry_free(e);
    }
    closedir(dir);
    uint64_t wver = 0;
    jet_diag_clear(&d);
    CHECK(jet_toolkit_withdraw(fz_store, fz_sk, "jagmed", 1700000100, &wver, &d) == 0);

    /* Statistics: a small release with small counts in every table (see fuzz_csv.c). */
    static const char csv[] =
        "indicator,period,school_level,sex,value\n"
        "ENROLLED,2024/25,ISCED2,F,120\nENROLLED,2024/25,ISCED2,M,131\n"
        "ENROLLED,2024/25,ISCED3G,F,3\nENROLLED,2024/25,ISCED3G,M,88\n"
        "EARLY_LEAVERS,2024/25,ISCED2,F,0\nEARLY_LEAVERS,2024/25,ISCED2,M,7\n"
        "EARLY_LEAVERS,2024/25,ISCED3G,F,2\nEARLY_LEAVERS,2024/25,ISCED3G,M,9\n";
    size_t clen = sizeof csv - 1;
    put_seed("fuzz_csv", "counts", 0, (const uint8_t *)csv, clen);
    jet_stats_obs *obs = NULL;
    jet_diag_clear(&d);
    CHECK(jet_statcsv_read_buffer("seed.csv", csv, clen, JET_STATCSV_AUTO, &obs, NULL, &d) == 0);
    jet_stats_batch *b = NULL;
    CHECK(jet_stats_batch_build(obs, &b, &d) == 0);
    jet_sdc_options opt;
    memset(&opt, 0, sizeof opt);
    opt.k = 5;
    opt.publish_zeros = 1;
    CHECK(jet_stats_batch_protect(b, &opt, &d) == 0);
    CHECK(jet_stats_batch_audit(b, &opt, &d) == 0);
    CHECK(jet_stats_batch_store(b, fz_store, fz_sk, "IT-25", 1700000000, &d) == 0);
    jet_stats_batch_free(b);
    jet_stats_obs_free(obs);

    rec_list l;
    memset(&l, 0, sizeof l);
    CHECK(jet_store_read(fz_store, scan_txn, &l) == 0);
    int nt = 0, ns = 0;
    for (size_t i = 0; i < l.n; i++) {
        jet_record r;
        CHECK(jet_record_decode(l.enc[i], l.len[i], &r) == 0);
        char name[64];
        snprintf(name, sizeof name, "seed-%zu", i);
        if (r.stream == JET_STREAM_TOOLKIT && nt++ < 8) {
            uint8_t mode = (uint8_t)(0x40 | (r.kind == JET_TOOLKIT_KIND_WITHDRAWAL ? 1 : 0));
            put_seed("fuzz_toolkit_payload", name, mode, r.payload, r.payload_len);
        }
        if (r.stream == JET_STREAM_STATS && ns++ < 8)
            put_seed("fuzz_stats_payload", name, r.kind == JET_STATS_KIND_BUNDLE ? 4 : 0,
                     r.payload, r.payload_len);
        if (i < 6) {
            put_seed("fuzz_record", name, 1, l.enc[i], l.len[i]);     /* raw: genuine */
            put_seed("fuzz_record", name + 1, 2, l.enc[i], l.len[i]); /* re-signed */
        }
    }

    /* Wire messages. */
    Jetsync__Wire__Message m = JETSYNC__WIRE__MESSAGE__INIT;
    Jetsync__Wire__Hello h = JETSYNC__WIRE__HELLO__INIT;
    Jetsync__Wire__LogPosition pos = JETSYNC__WIRE__LOG_POSITION__INIT, *ppos = &pos;
    pos.stream = 1;
    pos.origin.data = fz_pk;
    pos.origin.len = 32;
    pos.epoch = 1;
    pos.seq = 3;
    h.version = 1;
    h.node_id.data = fz_pk;
    h.node_id.len = 32;
    h.role = 0;
    h.n_have = 1;
    h.have = &ppos;
    h.region = "IT-25";
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_HELLO;
    m.hello = &h;
    wire_seed("hello", 0, &m);
    Jetsync__Wire__Batch bt = JETSYNC__WIRE__BATCH__INIT;
    ProtobufCBinaryData recs[64];
    for (size_t i = 0; i < l.n; i++) {
        recs[i].data = l.enc[i];
        recs[i].len = l.len[i];
    }
    bt.batch_no = 1;
    bt.n_records = l.n < 4 ? l.n : 4;
    bt.records = recs;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_BATCH;
    m.batch = &bt;
    wire_seed("batch", 0, &m);
    wire_seed("batch-resigned", 1, &m);
    Jetsync__Wire__Plan pl = JETSYNC__WIRE__PLAN__INIT;
    pl.records = 5;
    pl.bytes = 1000;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_PLAN;
    m.plan = &pl;
    wire_seed("plan", 0, &m);
    Jetsync__Wire__Ack ack = JETSYNC__WIRE__ACK__INIT;
    ack.batch_no = 1;
    ack.stored = 4;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_ACK;
    m.ack = &ack;
    wire_seed("ack", 0, &m);
    Jetsync__Wire__Done dn = JETSYNC__WIRE__DONE__INIT;
    dn.batches = 1;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_DONE;
    m.done = &dn;
    wire_seed("done", 0, &m);
    Jetsync__Wire__Fin fin = JETSYNC__WIRE__FIN__INIT;
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_FIN;
    m.fin = &fin;
    wire_seed("fin", 0, &m);
    Jetsync__Wire__Abort ab = JETSYNC__WIRE__ABORT__INIT;
    ab.code = -20016;
    ab.reason = "protocol error";
    m.body_case = JETSYNC__WIRE__MESSAGE__BODY_ABORT;
    m.abort = &ab;
    wire_seed("abort", 0, &m);

    for (size_t i = 0; i < l.n; i++)
        free(l.enc[i]);
    printf("%d seed files written\n", nseeds);
    return 0;
}
