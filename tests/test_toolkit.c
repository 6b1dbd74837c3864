/* test_toolkit.c - toolkit entries: the JSON reader and every validation rule, the round trip
 * of every field (JSON -> protobuf -> signed record -> store -> another store through
 * jet_record_ingest -> JSON), versions and withdrawals, the refusals of jet_toolkit_apply (a
 * forged author, a re-signed entry, a replayed older version, a withdrawal by someone else),
 * and search across languages with ranking. The seed examples in examples/toolkit/ are all
 * read and published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <regex.h>
#include <sodium.h>

#include "encoding.h"
#include "record.h"
#include "store.h"
#include "testutil.h"
#include "toolkit.h"
#include "toolkit_json.h"
#include "views.h"

typedef struct keypair {
    uint8_t pk[32];
    uint8_t sk[64];
} keypair;

/* Epochs of crafted logs: plausible ones (2026-09), as jet_record_ingest requires. */
#define TEST_EPOCH 1790000000000000ull

static jet_store *new_store(void) {
    jet_store *s = NULL;
    assert_ok(jet_store_create(jt_tempdir(), &s));
    return s;
}

static jet_toolkit_entry *read_ok(const char *json) {
    jet_toolkit_entry *e = NULL;
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_toolkit_json_read("test.json", json, strlen(json), &e, &d);
    if (rc != 0)
        fail_msg("reading failed: %s", d.msg);
    return e;
}

static uint64_t publish_json(jet_store *s, const keypair *k, const char *json) {
    jet_toolkit_entry *e = read_ok(json);
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_toolkit_publish(s, k->sk, e, 1700000000, &d);
    if (rc != 0)
        fail_msg("publish failed: %s (%s)", d.msg, jet_errname(rc));
    uint64_t v = jet_toolkit_entry_version(e);
    jet_toolkit_entry_free(e);
    return v;
}

/* ---- collecting list, history and search results --------------------------------------- */

typedef struct seen {
    char id[16][JET_TOOLKIT_MAX_ID + 1];
    uint64_t version[16];
    int withdrawn[16];
    double score[16];
    int n;
} seen;

static int seen_entry(const jet_toolkit_entry *e, void *arg) {
    seen *s = arg;
    if (s->n < 16) {
        snprintf(s->id[s->n], sizeof s->id[0], "%s", jet_toolkit_entry_id(e));
        s->version[s->n] = jet_toolkit_entry_version(e);
        s->withdrawn[s->n] = jet_toolkit_entry_withdrawn(e);
    }
    s->n++;
    return 0;
}

static int seen_hit(const jet_toolkit_entry *e, double score, void *arg) {
    seen *s = arg;
    if (s->n < 16)
        s->score[s->n] = score;
    return seen_entry(e, arg);
}

static seen list_all(jet_store *st) {
    seen s = {.n = 0};
    assert_ok(jet_toolkit_list(st, NULL, seen_entry, &s));
    return s;
}

static seen search(jet_store *st, const char *text) {
    seen s = {.n = 0};
    assert_ok(jet_toolkit_search(st, text, seen_hit, &s));
    return s;
}

static int found(const seen *s, const char *id) {
    for (int i = 0; i < s->n && i < 16; i++)
        if (strcmp(s->id[i], id) == 0)
            return 1;
    return 0;
}

/* ---- copying logs between stores, and crafting records --------------------------------- */

typedef struct log_ref {
    uint8_t origin[32];
    uint64_t epoch, seq;
} log_ref;

typedef struct logs {
    log_ref v[8];
    int n;
} logs;

static int vv_one(const jet_vv_entry *e, void *arg) {
    logs *l = arg;
    if (l->n < 8) {
        memcpy(l->v[l->n].origin, e->origin, 32);
        l->v[l->n].epoch = e->epoch;
        l->v[l->n].seq = e->seq;
        l->n++;
    }
    return 0;
}

static int logs_txn(jet_txn *txn, void *arg) {
    return jet_vv_scan(txn, JET_STREAM_TOOLKIT, vv_one, arg);
}

typedef struct rec_copy {
    uint8_t *buf;
    size_t len;
    const log_ref *ref;
    uint64_t seq;
} rec_copy;

static int get_txn(jet_txn *txn, void *arg) {
    rec_copy *c = arg;
    jet_record r;
    int rc = jet_log_get(txn, JET_STREAM_TOOLKIT, c->ref->origin, c->ref->epoch, c->seq, &r);
    if (rc)
        return rc;
    c->buf = malloc(r.encoded_len);
    memcpy(c->buf, r.encoded, r.encoded_len);
    c->len = r.encoded_len;
    return 0;
}

typedef struct bytes {
    const uint8_t *buf;
    size_t len;
} bytes;

static int ingest_txn(jet_txn *txn, void *arg) {
    bytes *b = arg;
    return jet_record_ingest(txn, b->buf, b->len, NULL);
}

static int ingest(jet_store *to, const uint8_t *buf, size_t len) {
    bytes b = {buf, len};
    return jet_store_write(to, ingest_txn, &b);
}

/* Reads record `seq` of the toolkit log of `origin` held by `from` (caller frees). */
static uint8_t *get_record(jet_store *from, const uint8_t origin[32], uint64_t seq, size_t *len,
                           uint64_t *epoch) {
    logs l = {.n = 0};
    assert_ok(jet_store_read(from, logs_txn, &l));
    for (int i = 0; i < l.n; i++) {
        if (memcmp(l.v[i].origin, origin, 32) != 0)
            continue;
        rec_copy c = {NULL, 0, &l.v[i], seq};
        assert_ok(jet_store_read(from, get_txn, &c));
        *len = c.len;
        if (epoch)
            *epoch = l.v[i].epoch;
        return c.buf;
    }
    fail_msg("no toolkit log of that origin");
    return NULL;
}

/* Copies every toolkit record `from` holds to `to`, the way a sync session does. */
static void sync_all(jet_store *from, jet_store *to) {
    logs l = {.n = 0};
    assert_ok(jet_store_read(from, logs_txn, &l));
    for (int i = 0; i < l.n; i++) {
        for (uint64_t seq = 1; seq <= l.v[i].seq; seq++) {
            rec_copy c = {NULL, 0, &l.v[i], seq};
            assert_ok(jet_store_read(from, get_txn, &c));
            assert_code_either(ingest(to, c.buf, c.len), 0, JET_EDUP);
            free(c.buf);
        }
    }
}

typedef struct head_ctx {
    const uint8_t *origin;
    uint64_t epoch, seq;
    uint8_t head[32];
} head_ctx;

static int head_txn(jet_txn *txn, void *arg) {
    head_ctx *h = arg;
    return jet_vv_get_head(txn, JET_STREAM_TOOLKIT, h->origin, h->epoch, &h->seq, h->head);
}

/* A record built by hand (following record.h) so that it can carry what jet_record_append()
 * would never let through: signed by `signer`, as the next record of (origin = signer's key,
 * epoch) at `target`. */
static uint8_t *craft(jet_store *target, const keypair *signer, uint64_t epoch, uint16_t kind,
                      const uint8_t *payload, size_t plen, size_t *len) {
    head_ctx h = {signer->pk, epoch, 0, {0}};
    assert_ok(jet_store_read(target, head_txn, &h));
    uint8_t *buf = malloc(JET_RECORD_OVERHEAD + plen);
    memcpy(buf, "JSR1", 4);
    buf[4] = JET_STREAM_TOOLKIT;
    buf[5] = 0;
    buf[6] = (uint8_t)(kind >> 8);
    buf[7] = (uint8_t)kind;
    jet_put_be32(buf + 8, (uint32_t)plen);
    memcpy(buf + 12, signer->pk, 32);
    jet_put_be64(buf + 44, epoch);
    jet_put_be64(buf + 52, h.seq + 1);
    memcpy(buf + 60, h.head, 32);
    memcpy(buf + JET_RECORD_HEADER, payload, plen);
    crypto_sign_ed25519_detached(buf + JET_RECORD_HEADER + plen, NULL, buf,
                                 JET_RECORD_HEADER + plen, signer->sk);
    *len = JET_RECORD_HEADER + plen + JET_RECORD_SIG;
    jet_record r;
    assert_ok(jet_record_decode(buf, *len, &r)); /* the layout is still the documented one */
    return buf;
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static const char minimal[] =
    "{\"id\": \"narvaro-coach\", \"title\": \"Närvarocoacher\", \"summary\": \"Stöd för "
    "skolnärvaro\", \"category\": \"intervention\"}";

/* Every field set, in canonical form and in the order `--json` prints them. */
static const char full[] =
    "{\n"
    "  \"id\": \"full-entry-2\",\n"
    "  \"title\": \"Återvändare: ungdomar tillbaka i skolan\",\n"
    "  \"summary\": \"Kort sammanfattning på svenska, med å, ä och ö.\",\n"
    "  \"body\": \"# Rubrik\\n\\nBrödtext i *Markdown*, rad två.\\n\",\n"
    "  \"category\": \"compensation\",\n"
    "  \"type\": \"policy\",\n"
    "  \"country\": \"NO\",\n"
    "  \"region\": \"Østfold\",\n"
    "  \"languages\": [\"nb\", \"sv\", \"en-GB\", \"sr-Latn-RS\"],\n"
    "  \"school_level\": [\"ISCED2\", \"ISCED3G\", \"ISCED3V\"],\n"
    "  \"intervention_level\": \"individual\",\n"
    "  \"intensity\": \"recurring\",\n"
    "  \"funding\": [\"EU\", \"national\", \"regional\", \"local\", \"private\"],\n"
    "  \"target_age\": {\"from\": 15, \"to\": 24},\n"
    "  \"outcomes\": {\"text\": \"Andelen utan sysselsättning minskade.\", \"key_figures\": "
    "[{\"label\": \"före\", \"value\": \"64 %\"}, {\"label\": \"efter\", \"value\": \"10 %\"}]},\n"
    "  \"contacts\": [{\"organisation\": \"Østfold fylkeskommune\", \"role\": \"rådgiver\", "
    "\"address\": \"Postboks 220, 1702 Sarpsborg\", \"email\": \"post@example.no\", \"url\": "
    "\"https://example.no/kontakt\"}],\n"
    "  \"links\": [\"https://example.no/a\", {\"url\": \"https://example.no/b\", \"title\": "
    "\"Rapport\"}],\n"
    "  \"translations\": {\"en\": {\"title\": \"Returners\", \"summary\": \"Short summary.\", "
    "\"body\": \"Body text.\"}, \"ro\": {\"title\": \"Școala înțelegerii\"}}\n"
    "}\n";

static json_t *without_meta(json_t *o) {
    json_object_del(o, "author");
    json_object_del(o, "version");
    json_object_del(o, "published");
    return o;
}

static void assert_json_equal(json_t *got, json_t *want) {
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
        print_error("got:\n%s\nwant:\n%s\n", g, w);
        free(g);
        free(w);
        fail();
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_round_trip_every_field(void **state) {
    keypair a, b;
    jet_store *sa = new_store(), *sb = new_store();
    jet_toolkit_entry *e = NULL, *w = NULL;
    json_error_t err;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    crypto_sign_keypair(b.pk, b.sk);
    assert_int_equal(publish_json(sa, &a, full), 1);
    json_t *want = json_loads(full, 0, &err);
    assert_non_null(want);

    /* At the author, and at another node that received the record. */
    sync_all(sa, sb);
    jet_store *stores[2] = {sa, sb};
    for (int i = 0; i < 2; i++) {
        assert_ok(jet_toolkit_get(stores[i], a.pk, "full-entry-2", &e, &w));
        assert_null(w);
        json_t *got = jet_toolkit_json_from_entry(e);
        char nid[JET_NODE_ID_BUF];
        jet_node_id_format(a.pk, nid);
        assert_string_equal(json_string_value(json_object_get(got, "author")), nid);
        assert_int_equal(json_integer_value(json_object_get(got, "version")), 1);
        assert_string_equal(json_string_value(json_object_get(got, "published")),
                            "2023-11-14T22:13:20Z");
        assert_json_equal(without_meta(got), want);
        /* What --json prints reads back to the same entry. */
        char *text = json_dumps(got, 0);
        jet_toolkit_entry *again = read_ok(text);
        json_t *got2 = without_meta(jet_toolkit_json_from_entry(again));
        assert_json_equal(got2, want);
        json_decref(got2);
        jet_toolkit_entry_free(again);
        free(text);
        json_decref(got);
        jet_toolkit_entry_free(e);
    }
    json_decref(want);

    /* The other shapes: outcomes as text, intervention levels as a list, absent fields. */
    const char *shapes =
        "{\"id\": \"shapes\", \"title\": \"T\", \"summary\": \"S\", \"category\": \"prevention\", "
        "\"intervention_level\": [\"universal\", \"targeted\"], \"outcomes\": \"Only text.\"}";
    publish_json(sa, &a, shapes);
    assert_ok(jet_toolkit_get(sa, a.pk, "shapes", &e, NULL));
    json_t *got = without_meta(jet_toolkit_json_from_entry(e));
    json_t *exp = json_pack(
        "{s:s,s:s,s:s,s:n,s:s,s:n,s:n,s:n,s:[],s:[],s:[s,s],s:n,s:[],s:n,s:s,s:[],s:[],s:{}}", "id",
        "shapes", "title", "T", "summary", "S", "body", "category", "prevention", "type", "country",
        "region", "languages", "school_level", "intervention_level", "universal", "targeted",
        "intensity", "funding", "target_age", "outcomes", "Only text.", "contacts", "links",
        "translations");
    assert_json_equal(got, exp);
    json_decref(got);
    json_decref(exp);
    jet_toolkit_entry_free(e);
    jet_store_free(sa);
    jet_store_free(sb);
}

static void test_canonical_case(void **state) {
    (void)state;
    jet_toolkit_entry *e = read_ok(
        "{\"id\": \"c\", \"title\": \"T\", \"summary\": \"S\", \"category\": \"Prevention\", "
        "\"country\": \"it\", \"languages\": [\"EN-gb\", \"ZH-hant-tw\"], \"school_level\": "
        "\"isced3g\", \"funding\": [\"eu\", \"Local\"], \"translations\": {\"SV\": {\"title\": "
        "\"t\"}}}");
    json_t *j = jet_toolkit_json_from_entry(e);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s, "\"category\":\"prevention\""));
    assert_non_null(strstr(s, "\"country\":\"IT\""));
    assert_non_null(strstr(s, "\"languages\":[\"en-GB\",\"zh-Hant-TW\"]"));
    assert_non_null(strstr(s, "\"school_level\":[\"ISCED3G\"]"));
    assert_non_null(strstr(s, "\"funding\":[\"EU\",\"local\"]"));
    assert_non_null(strstr(s, "\"translations\":{\"sv\":"));
    free(s);
    json_decref(j);
    jet_toolkit_entry_free(e);
}

typedef struct bad_case {
    const char *json;  /* members added to a valid minimal entry (or a whole document) */
    const char *field; /* expected in the message as field 'X' ("" = no field) */
    int code;
} bad_case;

#define BASE "\"id\": \"x\", \"title\": \"T\", \"summary\": \"S\", \"category\": \"prevention\""

static char *repeat(const char *s, size_t n) {
    size_t len = strlen(s);
    char *out = malloc(len * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * len, s, len);
    out[len * n] = 0;
    return out;
}

/* Builds {BASE, "key": [item, item, ...]} with n items. */
static char *with_list(const char *key, const char *item, size_t n, int object) {
    char *items = repeat(item, n);
    items[strlen(items) - 1] = 0; /* drop the last ',' */
    size_t len = strlen(items) + 256;
    char *out = malloc(len);
    snprintf(out, len, object ? "{" BASE ", \"%s\": {%s}}" : "{" BASE ", \"%s\": [%s]}", key,
             items);
    free(items);
    return out;
}

static char *with_string(const char *key, char fill, size_t n) {
    char *out = malloc(n + 256);
    int k = snprintf(out, n + 256, "{\"id\": \"x\", \"category\": \"prevention\"%s%s, \"%s\": \"",
                     strcmp(key, "title") ? ", \"title\": \"T\"" : "",
                     strcmp(key, "summary") ? ", \"summary\": \"S\"" : "", key);
    memset(out + k, fill, n);
    strcpy(out + k + n, "\"}");
    return out;
}

static void expect_bad(jet_store *st, const char *json, const char *field, int code) {
    jet_toolkit_entry *e = NULL;
    jet_diag d;
    regex_t re;
    char want[160];
    jet_diag_clear(&d);
    int rc = jet_toolkit_json_read("bad.json", json, strlen(json), &e, &d);
    if (rc != code)
        fail_msg("%.200s\n  gave %s (%s), want %s", json, jet_errname(rc), d.msg,
                 jet_errname(code));
    assert_null(e);
    if (code == JET_EVALIDATE) {
        /* "bad.json:LINE:COL: ..." */
        assert_int_equal(regcomp(&re, "^bad\\.json:[0-9]+:[0-9]+: ", REG_EXTENDED), 0);
        if (regexec(&re, d.msg, 0, NULL, 0) != 0)
            fail_msg("no file:line:col in \"%s\"", d.msg);
        regfree(&re);
    }
    if (field[0]) {
        snprintf(want, sizeof want, "field '%s': ", field);
        if (!strstr(d.msg, want))
            fail_msg("\"%s\" does not name %s", d.msg, want);
    }
    /* Nothing was stored. */
    assert_int_equal(list_all(st).n, 0);
}

static void test_validation_rules(void **state) {
    static const bad_case cases[] = {
        {"{\"title\": \"T\", \"summary\": \"S\", \"category\": \"prevention\"}", "id",
         JET_EVALIDATE},
        {"{\"id\": \"x\", \"summary\": \"S\", \"category\": \"prevention\"}", "title",
         JET_EVALIDATE},
        {"{\"id\": \"x\", \"title\": \"T\", \"category\": \"prevention\"}", "summary",
         JET_EVALIDATE},
        {"{\"id\": \"x\", \"title\": \"T\", \"summary\": \"S\"}", "category", JET_EVALIDATE},
        {"{\"id\": \"x\", \"title\": \"  \", \"summary\": \"S\", \"category\": \"prevention\"}",
         "title", JET_EVALIDATE},
        {"{\"id\": \"Not A Slug\", \"title\": \"T\", \"summary\": \"S\", \"category\": "
         "\"prevention\"}",
         "id", JET_EVALIDATE},
        {"{\"id\": \"a--b\", \"title\": \"T\", \"summary\": \"S\", \"category\": \"prevention\"}",
         "id", JET_EVALIDATE},
        {"{\"id\": \"x\", \"title\": \"T\", \"summary\": \"S\", \"category\": \"cure\"}",
         "category", JET_EVALIDATE},
        {"{" BASE ", \"type\": \"manual\"}", "type", JET_EVALIDATE},
        {"{" BASE ", \"intervention_level\": \"some\"}", "intervention_level[0]", JET_EVALIDATE},
        {"{" BASE ", \"intensity\": \"daily\"}", "intensity", JET_EVALIDATE},
        {"{" BASE ", \"funding\": [\"EU\", \"crowd\"]}", "funding[1]", JET_EVALIDATE},
        {"{" BASE ", \"funding\": [\"EU\", \"eu\"]}", "funding[1]", JET_EVALIDATE},
        {"{" BASE ", \"country\": \"XX\"}", "country", JET_EVALIDATE},
        {"{" BASE ", \"country\": \"UK\"}", "country", JET_EVALIDATE},
        {"{" BASE ", \"country\": \"SWE\"}", "country", JET_EVALIDATE},
        {"{" BASE ", \"languages\": [\"sv\", \"english\"]}", "languages[1]", JET_EVALIDATE},
        {"{" BASE ", \"languages\": [\"sv_SE\"]}", "languages[0]", JET_EVALIDATE},
        {"{" BASE ", \"languages\": [\"sv-XX\"]}", "languages[0]", JET_EVALIDATE},
        {"{" BASE ", \"languages\": [\"qq\"]}", "languages[0]", JET_EVALIDATE},
        {"{" BASE ", \"languages\": [\"sv-\"]}", "languages[0]", JET_EVALIDATE},
        {"{" BASE ", \"school_level\": [\"ISCED9\"]}", "school_level[0]", JET_EVALIDATE},
        {"{" BASE ", \"school_level\": [\"primary\"]}", "school_level[0]", JET_EVALIDATE},
        {"{" BASE ", \"target_age\": {\"from\": 14, \"to\": 11}}", "target_age", JET_EVALIDATE},
        {"{" BASE ", \"target_age\": {\"from\": -1, \"to\": 11}}", "target_age.from",
         JET_EVALIDATE},
        {"{" BASE ", \"target_age\": {\"from\": 1, \"to\": 121}}", "target_age.to", JET_EVALIDATE},
        {"{" BASE ", \"target_age\": {\"from\": 1.5, \"to\": 3}}", "target_age.from",
         JET_EVALIDATE},
        {"{" BASE ", \"target_age\": {\"from\": 1}}", "target_age.to", JET_EVALIDATE},
        {"{" BASE ", \"titel\": \"T\"}", "titel", JET_EVALIDATE},
        {"{" BASE ", \"body\": 5}", "body", JET_EVALIDATE},
        {"{" BASE ", \"contacts\": [{\"role\": \"r\"}]}", "contacts[0].organisation",
         JET_EVALIDATE},
        {"{" BASE ", \"contacts\": [{\"organisation\": \"o\", \"email\": \"nobody\"}]}",
         "contacts[0].email", JET_EVALIDATE},
        {"{" BASE ", \"contacts\": [{\"organisation\": \"o\", \"phone\": \"1\"}]}",
         "contacts[0].phone", JET_EVALIDATE},
        {"{" BASE ", \"links\": [{\"title\": \"t\"}]}", "links[0].url", JET_EVALIDATE},
        {"{" BASE ", \"links\": [\"www.example.org\"]}", "links[0].url", JET_EVALIDATE},
        {"{" BASE ", \"translations\": {\"xx-yy\": {\"title\": \"t\"}}}", "translations.xx-YY",
         JET_EVALIDATE},
        {"{" BASE ", \"translations\": {\"sv\": {}}}", "translations.sv", JET_EVALIDATE},
        {"{" BASE ", \"outcomes\": {\"key_figures\": [{\"label\": \"l\"}]}}",
         "outcomes.key_figures[0].value", JET_EVALIDATE},
        {"{" BASE ", \"title\": \"again\"}", "", JET_EVALIDATE}, /* duplicate member */
        {"{" BASE ", }", "", JET_EVALIDATE},                     /* syntax */
        {"[1, 2]", "entry", JET_EVALIDATE},
        {"{" BASE ", \"region\": \"Tr\xf6ndelag\"}", "", JET_EVALIDATE}, /* Latin-1, not UTF-8 */
        {"{" BASE ", \"region\": \"a\\u0007b\"}", "region", JET_EVALIDATE},
    };
    jet_store *st = new_store();
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(st, cases[i].json, cases[i].field, cases[i].code);

    /* Size limits: each one byte or one item over. */
    struct {
        char *json;
        const char *field;
    } big[] = {
        {with_string("title", 'a', JET_TOOLKIT_MAX_TITLE + 1), "title"},
        {with_string("summary", 'a', JET_TOOLKIT_MAX_SUMMARY + 1), "summary"},
        {with_string("body", 'a', JET_TOOLKIT_MAX_BODY + 1), "body"},
        {with_string("region", 'a', JET_TOOLKIT_MAX_REGION + 1), "region"},
        {with_list("languages", "\"sv\",", JET_TOOLKIT_MAX_LANGUAGES + 1, 0), "languages"},
        {with_list("contacts", "{\"organisation\": \"o\"},", JET_TOOLKIT_MAX_CONTACTS + 1, 0),
         "contacts"},
        {with_list("links", "\"https://example.org\",", JET_TOOLKIT_MAX_LINKS + 1, 0), "links"},
        {with_list("school_level", "\"ISCED1\",", JET_TOOLKIT_MAX_SCHOOL_LEVELS + 1, 0),
         "school_level"},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        expect_bad(st, big[i].json, big[i].field, JET_EVALIDATE);
        free(big[i].json);
    }
    /* 33 translations (distinct languages). */
    char *tr = malloc(8192);
    static const char *langs[] = {"bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "hr",
                                  "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl",
                                  "sv", "nb", "nn", "se", "ca", "eu", "gl", "is", "ga", "cy", "lb"};
    size_t n = (size_t)sprintf(tr, "{" BASE ", \"translations\": {");
    for (size_t i = 0; i < 33; i++)
        n += (size_t)sprintf(tr + n, "%s\"%s\": {\"title\": \"t\"}", i ? ", " : "", langs[i]);
    strcpy(tr + n, "}}");
    expect_bad(st, tr, "translations", JET_EVALIDATE);
    free(tr);
    /* A file over the entry limit. */
    char *huge = with_string("body", 'a', JET_TOOLKIT_MAX_FILE);
    expect_bad(st, huge, "", JET_ETOOBIG);
    free(huge);
    /* The limits themselves are accepted. */
    char *at = with_string("title", 'a', JET_TOOLKIT_MAX_TITLE);
    jet_toolkit_entry_free(read_ok(at));
    free(at);
    jet_store_free(st);
}

static void test_error_position(void **state) {
    jet_toolkit_entry *e = NULL;
    jet_diag d;
    (void)state;
    const char *json = "{\n  \"id\": \"x\",\n  \"title\": \"T\",\n  \"summary\": \"S\",\n"
                       "  \"category\": \"prevention\",\n  \"contacts\": [\n    {\"organisation\": "
                       "\"Å\"},\n    {\"organisation\": \"B\", \"email\": \"bad\"}\n  ]\n}\n";
    jet_diag_clear(&d);
    assert_code(jet_toolkit_json_read("e.json", json, strlen(json), &e, &d), JET_EVALIDATE);
    assert_string_equal(d.msg, "e.json:8:36: field 'contacts[1].email': 'bad' is not an e-mail "
                               "address");
    jet_diag_clear(&d);
    const char *nocat = "{\"id\": \"x\",\n \"title\": \"T\", \"summary\": \"S\"}";
    assert_code(jet_toolkit_json_read("e.json", nocat, strlen(nocat), &e, &d), JET_EVALIDATE);
    assert_prefix(d.msg, "e.json:1:1: field 'category': missing");
    /* The parser quotes the text near a syntax error, newline included (found by
     * fuzz_toolkit_json): the message stays one line. */
    jet_diag_clear(&d);
    const char *esc = "{\"id\": \"x\",\n \"title\": \"a\\\nb\"}"; /* a backslash, then a newline */
    assert_code(jet_toolkit_json_read("e.json", esc, strlen(esc), &e, &d), JET_EVALIDATE);
    assert_prefix(d.msg, "e.json:");
    assert_null(strchr(d.msg, '\n'));
}

static void test_versions_and_withdrawal(void **state) {
    keypair a;
    jet_store *st = new_store();
    jet_toolkit_entry *e = NULL, *w = NULL;
    jet_diag d;
    uint64_t v = 0;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    assert_int_equal(publish_json(st, &a, minimal), 1);
    const char *v2 = "{\"id\": \"narvaro-coach\", \"title\": \"Närvarocoacher i Östergötland\", "
                     "\"summary\": \"Ny version\", \"category\": \"intervention\"}";
    assert_int_equal(publish_json(st, &a, v2), 2);
    seen l = list_all(st);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.version[0], 2);
    /* The index follows the newest version: the old summary's words are gone. */
    assert_int_equal(search(st, "skolnärvaro").n, 0);
    assert_int_equal(search(st, "östergötland").n, 1);
    assert_int_equal(search(st, "version").n, 1);

    jet_diag_clear(&d);
    assert_ok(jet_toolkit_withdraw(st, a.sk, "narvaro-coach", 1700000100, &v, &d));
    assert_int_equal(v, 3);
    assert_int_equal(list_all(st).n, 0);
    assert_int_equal(search(st, "narvarocoacher").n, 0);
    assert_ok(jet_toolkit_get(st, a.pk, "narvaro-coach", &e, &w));
    assert_non_null(w);
    assert_true(jet_toolkit_entry_withdrawn(w));
    assert_int_equal(jet_toolkit_entry_version(w), 3);
    assert_int_equal(jet_toolkit_entry_version(e), 2);
    jet_toolkit_entry_free(e);
    jet_toolkit_entry_free(w);
    assert_code(jet_toolkit_withdraw(st, a.sk, "narvaro-coach", 1700000200, NULL, &d), JET_EEXIST);
    assert_code(jet_toolkit_withdraw(st, a.sk, "never-published", 1700000200, NULL, &d),
                JET_ENOTFOUND);

    /* Publishing again brings it back as version 4. */
    assert_int_equal(publish_json(st, &a, minimal), 4);
    assert_int_equal(search(st, "skolnarvaro").n, 1);
    seen h = {.n = 0};
    assert_ok(jet_toolkit_history(st, a.pk, "narvaro-coach", seen_entry, &h));
    assert_int_equal(h.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(h.version[i], (uint64_t)i + 1);
    assert_int_equal(h.withdrawn[2], 1);
    assert_int_equal(h.withdrawn[3], 0);
    jet_store_free(st);
}

static void test_history_and_withdrawal_travel(void **state) {
    keypair a;
    jet_store *sa = new_store(), *sb = new_store(), *sc = new_store();
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    publish_json(sa, &a, minimal);
    sync_all(sa, sb); /* b has version 1 */
    publish_json(sa, &a, minimal);
    assert_ok(jet_toolkit_withdraw(sa, a.sk, "narvaro-coach", 1700000300, NULL, NULL));
    sync_all(sa, sb); /* the lead relays to c */
    sync_all(sb, sc);
    jet_store *all[3] = {sa, sb, sc};
    for (int i = 0; i < 3; i++) {
        seen h = {.n = 0};
        assert_int_equal(list_all(all[i]).n, 0);
        assert_ok(jet_toolkit_history(all[i], a.pk, "narvaro-coach", seen_entry, &h));
        assert_int_equal(h.n, 3);
        assert_int_equal(h.withdrawn[2], 1);
    }
    jet_store_free(sa);
    jet_store_free(sb);
    jet_store_free(sc);
}

/* Packs an Entry by publishing `json` as `author` into a scratch store and taking the payload
 * of the resulting record. */
static uint8_t *payload_of(const keypair *author, const char *json, uint64_t version,
                           size_t *plen) {
    jet_store *scratch = new_store();
    for (uint64_t v = 0; v < version; v++)
        publish_json(scratch, author, json);
    size_t len;
    uint8_t *rec = get_record(scratch, author->pk, version, &len, NULL);
    jet_record r;
    assert_ok(jet_record_decode(rec, len, &r));
    uint8_t *p = malloc(r.payload_len);
    memcpy(p, r.payload, r.payload_len);
    *plen = r.payload_len;
    free(rec);
    jet_store_free(scratch);
    return p;
}

static void test_forged_resigned_replayed_refused(void **state) {
    keypair a, m; /* a: the author; m: another partner, or an attacker with a key of its own */
    jet_store *sa = new_store(), *sc = new_store();
    size_t plen, len;
    uint64_t epoch_a;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    crypto_sign_keypair(m.pk, m.sk);
    publish_json(sa, &a, minimal);
    const char *v2 = "{\"id\": \"narvaro-coach\", \"title\": \"Version två\", \"summary\": \"S\", "
                     "\"category\": \"intervention\"}";
    publish_json(sa, &a, v2);
    sync_all(sa, sc);
    assert_int_equal(search(sc, "två").n, 1);

    /* Forged: m signs an entry that claims a as its author. */
    size_t v1plen;
    uint8_t *genuine_v1 = payload_of(&a, minimal, 1, &v1plen);
    uint8_t *rec = craft(sc, &m, TEST_EPOCH + 42, JET_TOOLKIT_KIND_ENTRY, genuine_v1, v1plen, &len);
    assert_code(ingest(sc, rec, len), JET_EPERM);
    free(rec);
    /* Re-signed: a's genuine version 3 (author a), signed again by m, to a node that has never
     * seen it. */
    uint8_t *genuine_v3 = payload_of(&a, minimal, 3, &plen);
    rec = craft(sc, &m, TEST_EPOCH + 42, JET_TOOLKIT_KIND_ENTRY, genuine_v3, plen, &len);
    assert_code(ingest(sc, rec, len), JET_EPERM);
    free(rec);
    free(genuine_v3);
    /* Replayed older version: version 1, signed by a itself, as the next record of a's log. */
    size_t v1len;
    uint8_t *first = get_record(sa, a.pk, 1, &v1len, &epoch_a);
    free(first);
    rec = craft(sc, &a, epoch_a, JET_TOOLKIT_KIND_ENTRY, genuine_v1, v1plen, &len);
    assert_code(ingest(sc, rec, len), JET_EPERM);
    free(rec);
    /* The same record bytes again are a harmless repeat for the log. */
    uint8_t *r1 = get_record(sa, a.pk, 1, &len, NULL);
    assert_code(ingest(sc, r1, len), JET_EDUP);
    free(r1);
    free(genuine_v1);

    /* Nothing changed at c: version 2 by a is what it shows. */
    seen l = list_all(sc);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.version[0], 2);
    assert_int_equal(search(sc, "två").n, 1);
    /* And the author's log continues: version 3 still arrives. */
    publish_json(sa, &a, minimal);
    sync_all(sa, sc);
    assert_int_equal(list_all(sc).version[0], 3);
    jet_store_free(sa);
    jet_store_free(sc);
}

static void test_withdrawal_by_other_refused(void **state) {
    keypair a, m;
    jet_store *sa = new_store(), *sc = new_store();
    uint8_t buf[256];
    size_t len;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    crypto_sign_keypair(m.pk, m.sk);
    publish_json(sa, &a, minimal);
    sync_all(sa, sc);
    /* A Withdrawal message by hand: author (1) = a, id (2), version (3) = 2, published (4). */
    size_t n = 0;
    buf[n++] = 0x0A;
    buf[n++] = 32;
    memcpy(buf + n, a.pk, 32);
    n += 32;
    buf[n++] = 0x12;
    buf[n++] = (uint8_t)strlen("narvaro-coach");
    memcpy(buf + n, "narvaro-coach", strlen("narvaro-coach"));
    n += strlen("narvaro-coach");
    buf[n++] = 0x18;
    buf[n++] = 2;
    buf[n++] = 0x20;
    buf[n++] = 1;
    uint8_t *rec = craft(sc, &m, TEST_EPOCH + 7, JET_TOOLKIT_KIND_WITHDRAWAL, buf, n, &len);
    assert_code(ingest(sc, rec, len), JET_EPERM);
    free(rec);
    /* The same withdrawal claiming m as author names an entry m never published. */
    memcpy(buf + 2, m.pk, 32);
    rec = craft(sc, &m, TEST_EPOCH + 7, JET_TOOLKIT_KIND_WITHDRAWAL, buf, n, &len);
    assert_code(ingest(sc, rec, len), JET_ENOTFOUND);
    free(rec);
    /* An unknown kind and a payload that is not a message. */
    rec = craft(sc, &m, TEST_EPOCH + 7, 9, buf, n, &len);
    assert_code(ingest(sc, rec, len), JET_EDECODE);
    free(rec);
    static const uint8_t junk[] = {0xFF, 0xFF, 0xFF};
    rec = craft(sc, &m, TEST_EPOCH + 7, JET_TOOLKIT_KIND_ENTRY, junk, sizeof junk, &len);
    assert_code(ingest(sc, rec, len), JET_EDECODE);
    free(rec);
    assert_int_equal(list_all(sc).n, 1);
    jet_store_free(sa);
    jet_store_free(sc);
}

typedef struct reapply_ctx {
    const uint8_t *origin;
    uint64_t epoch;
} reapply_ctx;

static int reapply_txn(jet_txn *txn, void *arg) {
    reapply_ctx *c = arg;
    jet_record r;
    int rc = jet_log_get(txn, JET_STREAM_TOOLKIT, c->origin, c->epoch, 1, &r);
    if (rc == 0)
        rc = jet_toolkit_apply(txn, &r);
    return rc;
}

static void test_apply_twice_changes_nothing(void **state) {
    keypair a;
    jet_store *st = new_store();
    size_t len;
    uint64_t epoch;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    publish_json(st, &a, minimal);
    free(get_record(st, a.pk, 1, &len, &epoch));
    reapply_ctx c = {a.pk, epoch};
    assert_ok(jet_store_write(st, reapply_txn, &c));
    assert_int_equal(list_all(st).n, 1);
    seen s = search(st, "narvarocoacher");
    assert_int_equal(s.n, 1);
    jet_store_free(st);
}

static void test_same_id_two_authors(void **state) {
    keypair a, b;
    jet_store *sa = new_store(), *sb = new_store();
    uint8_t author[32];
    char id[JET_TOOLKIT_MAX_ID + 1], ref[128], nid[JET_NODE_ID_BUF];
    jet_diag d;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    crypto_sign_keypair(b.pk, b.sk);
    publish_json(sa, &a, minimal);
    publish_json(sb, &b, minimal);
    sync_all(sb, sa);
    assert_int_equal(list_all(sa).n, 2);
    jet_diag_clear(&d);
    assert_code(jet_toolkit_resolve(sa, "narvaro-coach", author, id, &d), JET_EEXIST);
    assert_non_null(strstr(d.msg, "AUTHOR_NODE_ID/narvaro-coach"));
    jet_node_id_format(b.pk, nid);
    assert_non_null(strstr(d.msg, nid));
    snprintf(ref, sizeof ref, "%s/narvaro-coach", nid);
    assert_ok(jet_toolkit_resolve(sa, ref, author, id, &d));
    assert_memory_equal(author, b.pk, 32);
    assert_string_equal(id, "narvaro-coach");
    /* b's version does not count as a's: a's next is 2, b's entry stays at 1. */
    assert_int_equal(publish_json(sa, &a, minimal), 2);
    assert_code(jet_toolkit_resolve(sa, "nothing-here", author, id, &d), JET_ENOTFOUND);
    assert_code(jet_toolkit_resolve(sa, "Bad Id", author, id, &d), JET_EINVAL);
    jet_store_free(sa);
    jet_store_free(sb);
}

static void test_search_languages_and_ranking(void **state) {
    keypair a;
    jet_store *st = new_store();
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    publish_json(st, &a,
                 "{\"id\": \"sv-entry\", \"title\": \"Skolnärvaro och återvändare\", \"summary\": "
                 "\"Närvarocoacher i Ödeshög\", \"category\": \"intervention\", \"body\": "
                 "\"Elever som hoppat av får stöd.\"}");
    publish_json(st, &a,
                 "{\"id\": \"fi-entry\", \"title\": \"Koulunkäynnin keskeyttämistä ehkäisevä "
                 "verkosto\", \"summary\": \"Tukikeskus Antwerpenissa\", \"category\": "
                 "\"prevention\"}");
    publish_json(st, &a,
                 "{\"id\": \"it-entry\", \"title\": \"Meglio dopo Insieme\", \"summary\": "
                 "\"Doposcuola per preadolescenti\", \"category\": \"prevention\", "
                 "\"translations\": {\"ro\": {\"title\": \"Școală după școală\"}}}");
    publish_json(st, &a,
                 "{\"id\": \"body-only\", \"title\": \"Annan titel\", \"summary\": \"Annat\", "
                 "\"category\": \"prevention\", \"body\": \"Här nämns skolnärvaro en gång.\"}");
    /* Swedish with and without accents, any case. */
    const char *sv[] = {"skolnärvaro", "skolnarvaro", "SKOLNÄRVARO", "Ödeshög",
                        "odeshog",     "återvändare", "atervandare"};
    for (size_t i = 0; i < sizeof sv / sizeof sv[0]; i++) {
        seen s = search(st, sv[i]);
        if (!found(&s, "sv-entry"))
            fail_msg("'%s' did not find sv-entry", sv[i]);
    }
    /* Ranking: a title match before a body match. */
    seen s = search(st, "skolnärvaro");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.id[0], "sv-entry");
    assert_string_equal(s.id[1], "body-only");
    assert_true(s.score[0] > s.score[1]);
    /* Finnish, exact and by the start of a word (a prefix of an inflected form). */
    assert_true(found((seen[]){search(st, "koulunkäynnin")}, "fi-entry"));
    assert_true(found((seen[]){search(st, "koulunkaynnin")}, "fi-entry"));
    assert_true(found((seen[]){search(st, "keskeyttäm")}, "fi-entry"));
    assert_true(found((seen[]){search(st, "antwerpen")}, "fi-entry"));
    /* Italian, and Romanian in a translation. */
    assert_true(found((seen[]){search(st, "doposcuola")}, "it-entry"));
    assert_true(found((seen[]){search(st, "scoala")}, "it-entry"));
    /* Entries matching more of the words come first. */
    s = search(st, "skolnärvaro ödeshög");
    assert_string_equal(s.id[0], "sv-entry");
    /* No match, and no word at all. */
    assert_int_equal(search(st, "zzzzqqq").n, 0);
    seen none = {.n = 0};
    assert_code(jet_toolkit_search(st, " - ! ", seen_hit, &none), JET_EINVAL);
    jet_store_free(st);
}

static void test_list_filters(void **state) {
    keypair a;
    jet_store *st = new_store();
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    publish_json(st, &a,
                 "{" BASE ", \"country\": \"SE\", \"languages\": [\"sv-FI\"], "
                 "\"school_level\": [\"ISCED3G\"], \"intervention_level\": \"targeted\"}");
    publish_json(st, &a,
                 "{\"id\": \"y\", \"title\": \"T\", \"summary\": \"S\", \"category\": "
                 "\"compensation\", \"country\": \"IT\", \"translations\": {\"sv\": "
                 "{\"title\": \"t\"}}}");
    jet_toolkit_filter f = {0};
    seen s;
#define LIST(field, value, expect)                                                                 \
    memset(&f, 0, sizeof f);                                                                       \
    f.field = value;                                                                               \
    s = (seen){.n = 0};                                                                            \
    assert_ok(jet_toolkit_list(st, &f, seen_entry, &s));                                           \
    assert_int_equal(s.n, expect);
    LIST(category, "prevention", 1);
    LIST(category, "intervention", 0);
    LIST(country, "it", 1);
    LIST(lang, "sv", 2);
    LIST(lang, "sv-FI", 1);
    LIST(lang, "fi", 0);
    LIST(school_level, "ISCED3G", 1);
    LIST(intervention_level, "targeted", 1);
#undef LIST
    jet_store_free(st);
}

/* Every example in examples/toolkit/ (one per seed practice) and the contract's entry read,
 * validate and publish. */
static void test_examples(void **state) {
    keypair a;
    jet_store *st = new_store();
    char path[1024];
    int files = 0;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    DIR *dir = opendir(JET_SOURCE_DIR "/examples/toolkit");
    assert_non_null(dir);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/examples/toolkit/%s", JET_SOURCE_DIR, de->d_name);
        jet_toolkit_entry *e = NULL;
        jet_diag d;
        jet_diag_clear(&d);
        if (jet_toolkit_json_read_file(path, &e, &d) != 0)
            fail_msg("%s", d.msg);
        assert_ok(jet_toolkit_publish(st, a.sk, e, 1700000000, &d));
        assert_int_equal(jet_toolkit_entry_version(e), 1);
        jet_toolkit_entry_free(e);
        files++;
    }
    closedir(dir);
    assert_true(files >= 5);
    assert_int_equal(list_all(st).n, files);
    const char *ids[] = {"meglio-dopo-insieme", "jet-cd-toolbox",
                         "antwerpen-keskeyttamista-ehkaiseva-verkosto", "plug-in-2-0", "jagmed"};
    seen l = list_all(st);
    for (size_t i = 0; i < 5; i++)
        if (!found(&l, ids[i]))
            fail_msg("examples/toolkit has no entry '%s'", ids[i]);
    /* Facts of the seeds, in their fields. */
    jet_toolkit_entry *e = NULL;
    assert_ok(jet_toolkit_get(st, a.pk, "meglio-dopo-insieme", &e, NULL));
    json_t *j = jet_toolkit_json_from_entry(e);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "target_age"), "from")),
                     11);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "target_age"), "to")),
                     14);
    assert_string_equal(json_string_value(json_object_get(j, "country")), "IT");
    assert_non_null(json_object_get(json_object_get(j, "translations"), "en"));
    json_decref(j);
    jet_toolkit_entry_free(e);
    assert_ok(jet_toolkit_get(st, a.pk, "jagmed", &e, NULL));
    j = jet_toolkit_json_from_entry(e);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "target_age"), "from")),
                     15);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "target_age"), "to")),
                     24);
    json_decref(j);
    jet_toolkit_entry_free(e);
    /* The contract's entry is a new version of the example with the same id. */
    jet_toolkit_entry *c = NULL;
    assert_ok(jet_toolkit_json_read_file(JET_SHARED_DIR "/contract/entry_it.json", &c, NULL));
    assert_ok(jet_toolkit_publish(st, a.sk, c, 1700000001, NULL));
    assert_int_equal(jet_toolkit_entry_version(c), 2);
    jet_toolkit_entry_free(c);
    assert_true(found((seen[]){search(st, "doposcuola")}, "meglio-dopo-insieme"));
    assert_true(found((seen[]){search(st, "närvarocoacher")}, "jagmed"));
    assert_true(found((seen[]){search(st, "sysselsattning")}, "plug-in-2-0"));
    assert_true(
        found((seen[]){search(st, "tukikeskus")}, "antwerpen-keskeyttamista-ehkaiseva-verkosto"));
    assert_true(found((seen[]){search(st, "toolbox")}, "jet-cd-toolbox"));
    jet_store_free(st);
}

static void test_lang_tags(void **state) {
    (void)state;
    const char *good[] = {"sv",         "it",
                          "fi",         "en-GB",
                          "nb-NO",      "se",
                          "fkv",        "zh-Hant-TW",
                          "es-419",     "sl-rozaj",
                          "de-CH-1996", "en-a-bbb-x-ccc",
                          "x-private",  "ca-ES-valencia",
                          "ro",         "smj"};
    const char *bad[] = {"",      "english", "e",    "sv_SE", "sv-",    "-sv",       "qq",
                         "sv-XX", "sv-Xxxx", "en-a", "x",     "en-GB-", "abcdefghi", "i-klingon"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!jet_toolkit_lang_tag_valid(good[i]))
            fail_msg("'%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (jet_toolkit_lang_tag_valid(bad[i]))
            fail_msg("'%s' should be refused", bad[i]);
}

/* A small deterministic generator, so a failure repeats. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void mutate(uint8_t *buf, size_t *len, size_t cap) {
    int edits = 1 + (int)rnd(4);
    static const char tokens[] = "{}[]\":,0-9e\\u\xc3\xa5 ";
    for (int i = 0; i<edits && * len> 0; i++) {
        size_t at = rnd((uint32_t)*len);
        switch (rnd(4)) {
        case 0: buf[at] ^= (uint8_t)(1u << rnd(8)); break;
        case 1: buf[at] = (uint8_t)tokens[rnd(sizeof tokens - 1)]; break;
        case 2: *len = at; break;
        default:
            if (*len < cap) {
                memmove(buf + at + 1, buf + at, *len - at);
                buf[at] = (uint8_t)tokens[rnd(sizeof tokens - 1)];
                (*len)++;
            }
        }
    }
}

/* Damaged files never crash the reader: each is either refused with a message or read into an
 * entry that validates and prints as JSON that reads back. */
static void test_reader_survives_damage(void **state) {
    uint8_t buf[4096];
    int accepted = 0;
    (void)state;
    for (int round = 0; round < 4000; round++) {
        size_t len = strlen(full);
        memcpy(buf, full, len);
        mutate(buf, &len, sizeof buf);
        jet_toolkit_entry *e = NULL;
        jet_diag d;
        jet_diag_clear(&d);
        int rc = jet_toolkit_json_read("m.json", (const char *)buf, len, &e, &d);
        if (rc != 0) {
            assert_null(e);
            assert_true(d.msg[0] != 0);
            assert_non_null(strstr(d.msg, "m.json"));
            continue;
        }
        accepted++;
        assert_ok(jet_toolkit_entry_validate(e, NULL));
        json_t *j = jet_toolkit_json_from_entry(e);
        char *text = json_dumps(j, 0);
        jet_toolkit_entry_free(read_ok(text));
        free(text);
        json_decref(j);
        jet_toolkit_entry_free(e);
    }
    assert_true(accepted > 0); /* some damage (inside a text) leaves a valid entry */
}

/* Damaged payloads, correctly signed by their author, never crash apply and never leave the
 * views unusable. */
static void test_apply_survives_damaged_payloads(void **state) {
    keypair a;
    jet_store *st = new_store();
    uint8_t buf[4096];
    size_t plen, len;
    (void)state;
    crypto_sign_keypair(a.pk, a.sk);
    uint8_t *payload = payload_of(&a, full, 1, &plen);
    assert_true(plen < sizeof buf);
    for (int round = 0; round < 300; round++) {
        size_t n = plen;
        memcpy(buf, payload, plen);
        mutate(buf, &n, sizeof buf);
        uint8_t *rec = craft(st, &a, TEST_EPOCH + 5, JET_TOOLKIT_KIND_ENTRY, buf, n, &len);
        int rc = ingest(st, rec, len);
        free(rec);
        if (rc != 0 && rc != JET_EPERM && rc != JET_EVALIDATE && rc != JET_EDECODE)
            fail_msg("round %d: %s", round, jet_errname(rc));
    }
    free(payload);
    seen l = list_all(st);
    assert_true(l.n <= 300);
    (void)search(st, "återvändare");
    jet_store_free(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_canonical_case),
        cmocka_unit_test(test_validation_rules),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_versions_and_withdrawal),
        cmocka_unit_test(test_history_and_withdrawal_travel),
        cmocka_unit_test(test_forged_resigned_replayed_refused),
        cmocka_unit_test(test_withdrawal_by_other_refused),
        cmocka_unit_test(test_apply_twice_changes_nothing),
        cmocka_unit_test(test_same_id_two_authors),
        cmocka_unit_test(test_search_languages_and_ranking),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_lang_tags),
        cmocka_unit_test(test_reader_survives_damage),
        cmocka_unit_test(test_apply_survives_damaged_payloads),
    };
    if (sodium_init() < 0)
        return 1;
    setenv("JETSYNC_NOSYNC", "1", 1); /* many small commits; durability is not under test */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
