/* fuzz_toolkit_json.c - libFuzzer target for the toolkit JSON reader and validator (the input of
 * `jetsync toolkit publish`), and for what an accepted entry goes through next.
 *
 * Input: the bytes of a JSON file (any bytes: truncated, wrong types, duplicate keys, huge
 * arrays, invalid UTF-8, numbers out of range).
 * Checks:
 *   - jet_toolkit_json_read either succeeds or fails with a one-line message that starts with
 *     the file name ("NAME:LINE:COLUMN: ...", or "NAME: ..." for a file-level problem);
 *   - an entry it accepts passes jet_toolkit_entry_validate, can be published into a node store
 *     (sign, append, views, search index), is read back with jet_toolkit_get and found by
 *     jet_toolkit_list, and its JSON form (jet_toolkit_json_from_entry, as `show --json` prints
 *     it) can be read and published again (the README promises that round trip).
 * The store is emptied after every input. */
#include "fuzz_util.h"

#include <jansson.h>

#include "toolkit.h"
#include "toolkit_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char NAME[] = "entry.json";

static int count_fn(const jet_toolkit_entry *e, void *ctx) {
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

static void check_diag(const jet_diag *d) {
    CHECK(strncmp(d->msg, NAME, sizeof NAME - 1) == 0);
    CHECK(d->msg[sizeof NAME - 1] == ':');
    CHECK(strchr(d->msg, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(1);
    jet_toolkit_entry *e = NULL;
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_toolkit_json_read(NAME, (const char *)data, size, &e, &d);
    if (rc != 0) {
        CHECK(e == NULL);
        CHECK(rc == JET_EVALIDATE || rc == JET_ETOOBIG || rc == JET_ENOMEM);
        check_diag(&d);
        return 0;
    }
    CHECK(e != NULL);
    jet_toolkit_problem p;
    CHECK(jet_toolkit_entry_validate(e, &p) == 0);

    /* Publish, read back, list. */
    jet_diag_clear(&d);
    rc = jet_toolkit_publish(fz_store, fz_sk, e, 1700000000, &d);
    if (rc != 0)
        fprintf(stderr, "publish refused what the reader accepted: %s\n", d.msg);
    CHECK(rc == 0);
    CHECK(jet_toolkit_entry_version(e) == 1);
    jet_toolkit_entry *got = NULL;
    CHECK(jet_toolkit_get(fz_store, fz_pk, jet_toolkit_entry_id(e), &got, NULL) == 0);
    size_t n = 0;
    CHECK(jet_toolkit_list(fz_store, NULL, count_fn, &n) == 0);
    CHECK(n == 1);

    /* show --json, then publish that again. */
    json_t *j = jet_toolkit_json_from_entry(got);
    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_INDENT(2));
    CHECK(text != NULL);
    jet_toolkit_entry *again = NULL;
    jet_diag_clear(&d);
    rc = jet_toolkit_json_read(NAME, text, strlen(text), &again, &d);
    if (rc != 0)
        fprintf(stderr, "show --json output is refused on input: %s\n%s\n", d.msg, text);
    CHECK(rc == 0);
    CHECK(jet_toolkit_publish(fz_store, fz_sk, again, 1700000001, &d) == 0);
    CHECK(jet_toolkit_entry_version(again) == 2);

    free(text);
    json_decref(j);
    jet_toolkit_entry_free(again);
    jet_toolkit_entry_free(got);
    jet_toolkit_entry_free(e);
    fz_store_clear();
    return 0;
}
