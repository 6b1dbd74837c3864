/* toolkit.h - toolkit entries: the model, its validation, publishing, withdrawal, the views and
 * the search index.
 *
 * Entries travel in the replicated log (stream JET_STREAM_TOOLKIT) as signed records: kind
 * JET_TOOLKIT_KIND_ENTRY carries one version of an entry (proto/toolkit.proto, message Entry),
 * kind JET_TOOLKIT_KIND_WITHDRAWAL a withdrawal. An entry is named across the network by its
 * author's node id and its `id` slug; versions are numbered 1, 2, 3, ... by the author, and a
 * withdrawal takes the next number too (publishing again after a withdrawal brings the entry
 * back as a new version).
 *
 * jet_toolkit_apply() (views.h; toolkit_view.c) keeps three views in the same transaction as the
 * log: JET_DB_TOOLKIT        id NUL author(32)             -> state(1) version(8) published(8)
 *                                                          epoch(8) seq(8) of the newest entry
 *                                                          version's record in the author's log
 *   JET_DB_TOOLKIT_HIST   id NUL author(32) version(8)  -> kind(1) epoch(8) seq(8)
 *   JET_DB_TOOLKIT_INDEX  term NUL id NUL author(32)    -> weight (be32), for live entries only;
 *                         NUL "entries"                 -> number of live entries (be64)
 * Versions and withdrawals point at their records in the log, so the text of an entry is held
 * once. The index holds the folded words (textfold.h) of every text field of the entry and its
 * translations; it is rewritten when a newer version or a withdrawal supersedes an entry, so a
 * search reads postings only and never scans entries.
 *
 * What jet_toolkit_apply() refuses (the record and its transaction are then refused; through
 * jet_record_ingest() that stops the sync batch at that record, which is the point: a node
 * never stores what it refuses, and the author's later records cannot overtake it):
 *   JET_EPERM     the payload names an author other than the record's origin (a forged or
 *                 re-signed entry), a version not above the one held (a replayed or older
 *                 version: the author numbers versions upwards, so an honest log never holds
 *                 one), or a withdrawal whose author is not the record's origin;
 *   JET_ENOTFOUND a withdrawal of an entry that was never published;
 *   JET_EVALIDATE a payload that breaks a validation rule (the same rules as publish);
 *   JET_EDECODE   an unknown record kind or a payload that is not a valid message.
 * Re-applying the very record a view already holds (same author, id, version and payload) is
 * accepted and changes nothing, so apply is safe to run twice. */
#ifndef JET_TOOLKIT_H
#define JET_TOOLKIT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

enum {
    JET_TOOLKIT_KIND_ENTRY = 1,
    JET_TOOLKIT_KIND_WITHDRAWAL = 2,
};

/* Every size limit of an entry (bytes of UTF-8 unless a count). */
enum {
    JET_TOOLKIT_MAX_FILE = 256 * 1024, /* the JSON file and the encoded entry */
    JET_TOOLKIT_MAX_ID = 64,
    JET_TOOLKIT_MAX_TITLE = 300,
    JET_TOOLKIT_MAX_SUMMARY = 2048,
    JET_TOOLKIT_MAX_BODY = 128 * 1024,
    JET_TOOLKIT_MAX_REGION = 128,
    JET_TOOLKIT_MAX_LANG_TAG = 35,
    JET_TOOLKIT_MAX_LANGUAGES = 32,
    JET_TOOLKIT_MAX_SCHOOL_LEVELS = 16,
    JET_TOOLKIT_MAX_OUTCOMES = 16 * 1024,
    JET_TOOLKIT_MAX_FIGURES = 32,
    JET_TOOLKIT_MAX_FIGURE_LABEL = 300,
    JET_TOOLKIT_MAX_FIGURE_VALUE = 100,
    JET_TOOLKIT_MAX_CONTACTS = 32,
    JET_TOOLKIT_MAX_CONTACT_FIELD = 300,
    JET_TOOLKIT_MAX_LINKS = 64,
    JET_TOOLKIT_MAX_URL = 2048,
    JET_TOOLKIT_MAX_TRANSLATIONS = 32,
    JET_TOOLKIT_MAX_AGE = 120,
    JET_TOOLKIT_MAX_RESULTS = 1000, /* search results returned at most */
};

/* One version of an entry, or a withdrawal (then only id, author, version and time are set).
 * Opaque; made by the JSON reader (toolkit_json.h) or read from the store. */
typedef struct jet_toolkit_entry jet_toolkit_entry;

/* Frees an entry. jet_toolkit_entry_free(NULL) is a no-op. */
void jet_toolkit_entry_free(jet_toolkit_entry *e);

const char *jet_toolkit_entry_id(const jet_toolkit_entry *e);
const char *jet_toolkit_entry_title(const jet_toolkit_entry *e);
const char *jet_toolkit_entry_category(const jet_toolkit_entry *e);
const char *jet_toolkit_entry_country(const jet_toolkit_entry *e);
/* The author's 32-byte public key (all zero on an entry read from JSON and not yet published). */
const uint8_t *jet_toolkit_entry_author(const jet_toolkit_entry *e);
uint64_t jet_toolkit_entry_version(const jet_toolkit_entry *e);
/* Unix time of publication (or of the withdrawal). */
int64_t jet_toolkit_entry_published(const jet_toolkit_entry *e);
/* 1 for a withdrawal. */
int jet_toolkit_entry_withdrawn(const jet_toolkit_entry *e);

/* A failed validation rule: the field ("contacts[2].role", "translations.sv.title") and the
 * rule broken, in words. */
typedef struct jet_toolkit_problem {
    char field[128];
    char reason[256];
} jet_toolkit_problem;

/* Checks every rule of the model and every size limit. Returns 0 or JET_EVALIDATE with `p`
 * (may be NULL) naming the field and the rule. */
int jet_toolkit_entry_validate(const jet_toolkit_entry *e, jet_toolkit_problem *p);

/* Checks a BCP 47 language tag (RFC 5646 syntax, ISO 639 language, ISO 15924 script,
 * ISO 3166-1 or UN M.49 region). Returns 1 when valid. */
int jet_toolkit_lang_tag_valid(const char *tag);

/* Publishes `e` as the next version of (own key, its id): in one write transaction, computes the
 * version (1 + the highest held, withdrawn or not), stamps author, version and time `now`,
 * validates, signs and appends the record (sk: the node's 64-byte secret key), which updates
 * the views. On success `e` carries its author, version and time. Returns 0, JET_EVALIDATE
 * (diag names the field), JET_ETOOBIG, or a store error. */
int jet_toolkit_publish(jet_store *store, const uint8_t sk[64], jet_toolkit_entry *e, int64_t now,
                        jet_diag *diag);

/* Withdraws the own entry `id`: appends a withdrawal record with the next version. Returns 0,
 * JET_ENOTFOUND (no such own entry), JET_EEXIST (already withdrawn) or a store error. The
 * version it took is stored in *version when not NULL. */
int jet_toolkit_withdraw(jet_store *store, const uint8_t sk[64], const char *id, int64_t now,
                         uint64_t *version, jet_diag *diag);

/* Resolves what a user typed as ENTRY_ID: "slug" or "AUTHOR_NODE_ID/slug". Fills author and id
 * (JET_TOOLKIT_MAX_ID + 1 bytes). Returns 0, JET_ENOTFOUND, JET_EINVAL (malformed) or
 * JET_EEXIST when several authors published that slug (the message lists them and asks for
 * AUTHOR_NODE_ID/slug). Withdrawn entries resolve too. */
int jet_toolkit_resolve(jet_store *store, const char *ref, uint8_t author[32], char *id,
                        jet_diag *diag);

/* Reads the newest version of (author, id): the entry, or for a withdrawn entry its last
 * version with jet_toolkit_entry_withdrawn() == 0 and *withdrawn set to the withdrawal (may be
 * NULL when the caller does not care). Returns 0 or JET_ENOTFOUND. */
int jet_toolkit_get(jet_store *store, const uint8_t author[32], const char *id,
                    jet_toolkit_entry **out, jet_toolkit_entry **withdrawn);

/* Called with each entry; the entry is freed after the call. Return 0 to go on, >0 to stop,
 * <0 to fail. */
typedef int (*jet_toolkit_entry_fn)(const jet_toolkit_entry *e, void *ctx);

/* Filters of `toolkit list`; NULL members match everything. */
typedef struct jet_toolkit_filter {
    const char *category;
    const char *lang; /* BCP 47 prefix match against languages and translations */
    const char *country;
    const char *school_level;
    const char *intervention_level;
} jet_toolkit_filter;

/* Visits the newest version of every live (not withdrawn) entry matching `f` (may be NULL), in
 * order of id then author. Returns 0 or fn's error. */
int jet_toolkit_list(jet_store *store, const jet_toolkit_filter *f, jet_toolkit_entry_fn fn,
                     void *ctx);

/* Visits every version and withdrawal of (author, id), oldest first. Returns 0, JET_ENOTFOUND,
 * or fn's error. */
int jet_toolkit_history(jet_store *store, const uint8_t author[32], const char *id,
                        jet_toolkit_entry_fn fn, void *ctx);

/* One search hit. */
typedef int (*jet_toolkit_hit_fn)(const jet_toolkit_entry *e, double score, void *ctx);

/* Finds live entries by the words of `text` in any field of any translation, case- and
 * accent-insensitively, reading only the postings of the query's words from the index (a word
 * of 3 or more letters also matches longer words that start with it, at a lower weight, which
 * finds Finnish and Swedish compounds and inflections). Hits are ranked by the number of query
 * words matched, then by score (field weight times inverse document frequency), best first;
 * at most JET_TOOLKIT_MAX_RESULTS. Returns 0, JET_EINVAL (no word in text) or fn's error. */
int jet_toolkit_search(jet_store *store, const char *text, jet_toolkit_hit_fn fn, void *ctx);

#endif
