/* fuzz_toolkit_payload.c - libFuzzer target for toolkit payloads received from peers: arbitrary
 * bytes signed by a fixed test key as toolkit records and ingested (jet_record_ingest), so that
 * jet_toolkit_apply unpacks them (protobuf-c), validates them with the rules every node applies,
 * and updates the views and the search index; then the views are read as the commands do
 * (jet_toolkit_list, jet_toolkit_get, jet_toolkit_history, jet_toolkit_search, and the JSON form
 * of every entry listed).
 *
 * Input: byte 0 = mode, the rest split at "\n#~\n" into up to 6 payloads, each one record.
 *   mode bits 0..5: record i is a withdrawal (kind 2) when bit i is set, else an entry (kind 1);
 *   mode & 0x40: a payload that starts with field 1 as 32 bytes (0a 20 ...) gets the test key
 *                written there, so that the "author must be the origin" rule lets it through;
 *   mode & 0x80: a refused record does not end the input (the next records still go in,
 *                each in its own transaction), else the first refusal stops.
 * Checks: apply is deterministic (each accepted record's transaction commits), the views can be
 * read afterwards without error, and nothing crashes or leaks. The store is emptied after. */
#include "fuzz_util.h"

#include <jansson.h>

#include "toolkit.h"
#include "toolkit_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PARTS = 6 };


typedef struct seen {
    char ids[16][JET_TOOLKIT_MAX_ID + 1];
    uint8_t authors[16][32];
    size_t n;
} seen;

static int list_fn(const jet_toolkit_entry *e, void *ctx) {
    seen *s = ctx;
    json_t *j = jet_toolkit_json_from_entry(e);
    CHECK(j != NULL);
    char *text = json_dumps(j, 0);
    CHECK(text != NULL);
    free(text);
    json_decref(j);
    if (s->n < 16) {
        snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", jet_toolkit_entry_id(e));
        memcpy(s->authors[s->n], jet_toolkit_entry_author(e), 32);
        s->n++;
    }
    return 0;
}

static int hist_fn(const jet_toolkit_entry *e, void *ctx) {
    (void)ctx;
    json_t *j = jet_toolkit_json_from_entry(e);
    CHECK(j != NULL);
    json_decref(j);
    return 0;
}

static int hit_fn(const jet_toolkit_entry *e, double score, void *ctx) {
    (void)e;
    (void)score;
    (void)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(1);
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *part[MAX_PARTS];
    size_t plen[MAX_PARTS];
    size_t n = fz_split(data + 1, size - 1, part, plen, MAX_PARTS);
    int accepted = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = malloc(plen[i] ? plen[i] : 1);
        CHECK(buf != NULL);
        if (plen[i])
            memcpy(buf, part[i], plen[i]);
        if ((mode & 0x40) && plen[i] >= 34 && buf[0] == 0x0a && buf[1] == 0x20)
            memcpy(buf + 2, fz_pk, 32);
        fz_one c = {JET_STREAM_TOOLKIT, 1,
                    (mode >> i) & 1 ? JET_TOOLKIT_KIND_WITHDRAWAL : JET_TOOLKIT_KIND_ENTRY, buf,
                    plen[i]};
        int rc = jet_store_write(fz_store, fz_one_txn, &c);
        free(buf);
        if (rc == 0)
            accepted++;
        else if (!(mode & 0x80))
            break;
    }
    if (accepted > 0) {
        seen s;
        memset(&s, 0, sizeof s);
        CHECK(jet_toolkit_list(fz_store, NULL, list_fn, &s) == 0);
        for (size_t i = 0; i < s.n; i++) {
            jet_toolkit_entry *e = NULL, *w = NULL;
            CHECK(jet_toolkit_get(fz_store, s.authors[i], s.ids[i], &e, &w) == 0);
            jet_toolkit_entry_free(e);
            jet_toolkit_entry_free(w);
            CHECK(jet_toolkit_history(fz_store, s.authors[i], s.ids[i], hist_fn, NULL) == 0);
            int src = jet_toolkit_search(fz_store, s.ids[i], hit_fn, NULL);
            CHECK(src == 0 || src == JET_EINVAL);
        }
        int src = jet_toolkit_search(fz_store, "school dropout prevention", hit_fn, NULL);
        CHECK(src == 0);
        fz_store_clear();
    }
    return 0;
}
