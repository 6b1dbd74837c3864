/* toolkit.c - toolkit entries: the model, its validation, publishing and withdrawing. The views
 * the log keeps (apply, the search index and the queries) are in toolkit_view.c; the layout of
 * the views and what apply refuses are described in toolkit.h. */
#include "toolkit.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "textfold.h"
#include "toolkit_codes.h"
#include "toolkit_pb.h"

/* ------------------------------------------------------------------------------------------ */
/* Entries */

jet_toolkit_entry *jet__toolkit_entry_adopt(Jet__Toolkit__Entry *pb) {
    jet_toolkit_entry *e = calloc(1, sizeof *e);
    if (!e) {
        jet__toolkit__entry__free_unpacked(pb, NULL);
        return NULL;
    }
    e->pb = pb;
    if (pb->author.len == 32)
        memcpy(e->author, pb->author.data, 32);
    snprintf(e->id, sizeof e->id, "%s", pb->id ? pb->id : "");
    e->version = pb->version;
    e->published = pb->published;
    return e;
}

int jet__toolkit_pack(const Jet__Toolkit__Entry *pb, uint8_t **out, size_t *len) {
    size_t n = jet__toolkit__entry__get_packed_size(pb);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return JET_ENOMEM;
    *len = jet__toolkit__entry__pack(pb, buf);
    *out = buf;
    return 0;
}

void jet_toolkit_entry_free(jet_toolkit_entry *e) {
    if (!e)
        return;
    if (e->pb)
        jet__toolkit__entry__free_unpacked(e->pb, NULL);
    free(e);
}

static const char *str_or_empty(const char *s) {
    return s ? s : "";
}

const char *jet_toolkit_entry_id(const jet_toolkit_entry *e) {
    return e->id;
}
const char *jet_toolkit_entry_title(const jet_toolkit_entry *e) {
    return e->pb ? str_or_empty(e->pb->title) : "";
}
const char *jet_toolkit_entry_category(const jet_toolkit_entry *e) {
    return e->pb ? str_or_empty(e->pb->category) : "";
}
const char *jet_toolkit_entry_country(const jet_toolkit_entry *e) {
    return e->pb ? str_or_empty(e->pb->country) : "";
}
const uint8_t *jet_toolkit_entry_author(const jet_toolkit_entry *e) {
    return e->author;
}
uint64_t jet_toolkit_entry_version(const jet_toolkit_entry *e) {
    return e->version;
}
int64_t jet_toolkit_entry_published(const jet_toolkit_entry *e) {
    return e->published;
}
int jet_toolkit_entry_withdrawn(const jet_toolkit_entry *e) {
    return e->pb == NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Validation */

static int problem(jet_toolkit_problem *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int problem(jet_toolkit_problem *p, const char *field, const char *fmt, ...) {
    if (p) {
        va_list ap;
        snprintf(p->field, sizeof p->field, "%s", field);
        va_start(ap, fmt);
        vsnprintf(p->reason, sizeof p->reason, fmt, ap);
        va_end(ap);
    }
    return JET_EVALIDATE;
}

static int is_set(const char *s) {
    return s && s[0];
}

/* Checks UTF-8, control characters and the byte limit of a text field. `multiline` allows
 * newlines and tabs (bodies, summaries); one-line fields allow neither. */
static int check_text(jet_toolkit_problem *p, const char *field, const char *s, size_t max,
                      int multiline) {
    size_t len = s ? strlen(s) : 0, bad;
    if (!s)
        return 0;
    if (len > max)
        return problem(p, field, "too long: %zu bytes, the limit is %zu", len, max);
    if (!jet_textfold_utf8_valid(s, len, &bad))
        return problem(p, field, "invalid UTF-8 at byte %zu", bad);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0x7F || (c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r'))))
            return problem(p, field, "control character U+%04X is not allowed%s", c,
                           multiline ? "" : " (one line only)");
    }
    return 0;
}

static int check_required(jet_toolkit_problem *p, const char *field, const char *s, size_t max,
                          int multiline) {
    int blank = 1;
    if (!is_set(s))
        return problem(p, field, "missing: this field is required");
    for (const char *c = s; *c; c++)
        if (!isspace((unsigned char)*c))
            blank = 0;
    if (blank)
        return problem(p, field, "empty: this field is required");
    return check_text(p, field, s, max, multiline);
}

static int in_set(const char *s, const char *const *set) {
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static const char *const categories[] = {"prevention", "intervention", "compensation", NULL};
static const char *const types[] = {"practice", "project", "policy", "tool", NULL};
static const char *const levels[] = {"universal", "targeted", "individual", NULL};
static const char *const intensities[] = {"one-off", "recurring", "continuous", NULL};
static const char *const fundings[] = {"EU", "national", "regional", "local", "private", NULL};
static const char *const school_levels[] = {
    "ISCED0", "ISCED1",  "ISCED2",  "ISCED2G", "ISCED2V", "ISCED3", "ISCED3G", "ISCED3V",
    "ISCED4", "ISCED4G", "ISCED4V", "ISCED5",  "ISCED6",  "ISCED7", "ISCED8",  NULL};

static int check_enum(jet_toolkit_problem *p, const char *field, const char *s,
                      const char *const *set, const char *list) {
    if (!in_set(s, set))
        return problem(p, field, "unknown value '%.60s' (one of: %s)", s, list);
    return 0;
}

/* A repeated enumerated field: known values, no duplicates, at most max. */
static int check_enum_list(jet_toolkit_problem *p, const char *name, char **v, size_t n, size_t max,
                           const char *const *set, const char *list) {
    char field[64];
    if (n > max)
        return problem(p, name, "too many values: %zu, the limit is %zu", n, max);
    for (size_t i = 0; i < n; i++) {
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        if (check_enum(p, field, str_or_empty(v[i]), set, list))
            return JET_EVALIDATE;
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0)
                return problem(p, field, "'%s' is listed twice", v[i]);
    }
    return 0;
}

int jet__toolkit_is_slug(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > JET_TOOLKIT_MAX_ID || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && s[i + 1] == '-')
            return 0;
    }
    return 1;
}

static int all_alpha(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)s[i]))
            return 0;
    return 1;
}
static int all_digit(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}
static int all_alnum(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* RFC 5646 language tags: language[-extlang][-script][-region](-variant)*(-extension)*[-x-...],
 * or a private-use tag x-.... Grandfathered tags are not accepted. */
int jet_toolkit_lang_tag_valid(const char *tag) {
    char sub[9], low[9];
    const char *p = tag;
    int stage = 0; /* 0 language, 1 extlang, 2 script, 3 region, 4 variant, 5 extension */
    int extlangs = 0, ext_open = 0, first = 1;
    size_t len = strlen(tag);
    if (len == 0 || len > JET_TOOLKIT_MAX_LANG_TAG)
        return 0;
    while (*p) {
        size_t n = strcspn(p, "-");
        if (n == 0 || n > 8 || !all_alnum(p, n))
            return 0;
        memcpy(sub, p, n);
        sub[n] = '\0';
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)tolower((unsigned char)sub[i]);
        p += n;
        if (*p == '-') {
            p++;
            if (!*p)
                return 0; /* trailing hyphen */
        }
        if (n == 1 && (low[0] == 'x')) { /* private use: the rest is 1..8 alnum subtags */
            if (!*p)
                return 0;
            while (*p) {
                size_t m = strcspn(p, "-");
                if (m == 0 || m > 8 || !all_alnum(p, m))
                    return 0;
                p += m;
                if (*p == '-' && !*++p)
                    return 0;
            }
            return 1;
        }
        if (first) {
            first = 0;
            if (!(n == 2 || n == 3) || !all_alpha(sub, n) || !jet_toolkit_codes_language(low))
                return 0;
            stage = 1;
            continue;
        }
        if (n == 1) { /* an extension singleton */
            if (ext_open)
                return 0; /* the previous extension had no subtag */
            stage = 5;
            ext_open = 1;
            continue;
        }
        if (stage == 5) {
            if (n < 2)
                return 0;
            ext_open = 0;
            continue;
        }
        if (stage <= 1 && n == 3 && all_alpha(sub, n) && extlangs < 3) {
            if (!jet_toolkit_codes_language(low))
                return 0;
            extlangs++;
            continue;
        }
        if (stage <= 2 && n == 4 && all_alpha(sub, n)) {
            char script[5] = {(char)toupper((unsigned char)sub[0]), low[1], low[2], low[3], 0};
            if (!jet_toolkit_codes_script(script))
                return 0;
            stage = 3;
            continue;
        }
        if (stage <= 3 && ((n == 2 && all_alpha(sub, n)) || (n == 3 && all_digit(sub, n)))) {
            if (n == 2) {
                char cc[3] = {(char)toupper((unsigned char)sub[0]),
                              (char)toupper((unsigned char)sub[1]), 0};
                if (!jet_toolkit_codes_country(cc))
                    return 0;
            }
            stage = 4;
            continue;
        }
        if ((n >= 5 && n <= 8) || (n == 4 && isdigit((unsigned char)sub[0]))) {
            stage = 4;
            continue;
        }
        return 0;
    }
    return !ext_open;
}

static int is_url(const char *s) {
    const char *schemes[] = {"https://", "http://", "mailto:", NULL};
    for (int i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(s, schemes[i], n) == 0 && s[n] && !strpbrk(s, " \t\r\n"))
            return 1;
    }
    return 0;
}

static int check_url(jet_toolkit_problem *p, const char *field, const char *s) {
    if (check_text(p, field, s, JET_TOOLKIT_MAX_URL, 0))
        return JET_EVALIDATE;
    if (!is_url(s))
        return problem(p, field, "not a URL: '%.60s' (http://, https:// or mailto:, no spaces)", s);
    return 0;
}

int jet__toolkit_validate_pb(const Jet__Toolkit__Entry *e, jet_toolkit_problem *p) {
    char f[128];
    if (!is_set(e->id))
        return problem(p, "id", "missing: this field is required");
    if (!jet__toolkit_is_slug(e->id))
        return problem(p, "id",
                       "'%.80s' is not a slug (1..%d of a-z, 0-9 and single '-' inside, e.g. "
                       "'meglio-dopo-insieme')",
                       e->id, JET_TOOLKIT_MAX_ID);
    if (check_required(p, "title", e->title, JET_TOOLKIT_MAX_TITLE, 0) ||
        check_required(p, "summary", e->summary, JET_TOOLKIT_MAX_SUMMARY, 1) ||
        check_text(p, "body", e->body, JET_TOOLKIT_MAX_BODY, 1))
        return JET_EVALIDATE;
    if (!is_set(e->category))
        return problem(p, "category",
                       "missing: this field is required (one of: prevention, "
                       "intervention, compensation)");
    if (check_enum(p, "category", e->category, categories,
                   "prevention, intervention, compensation"))
        return JET_EVALIDATE;
    if (is_set(e->type) && check_enum(p, "type", e->type, types, "practice, project, policy, tool"))
        return JET_EVALIDATE;
    if (is_set(e->country) && !jet_toolkit_codes_country(e->country))
        return problem(p, "country",
                       "'%.40s' is not an ISO 3166-1 alpha-2 country code (such as SE, IT, "
                       "BE)%s",
                       e->country,
                       strcmp(e->country, "UK") == 0   ? "; the United Kingdom is GB"
                       : strcmp(e->country, "EL") == 0 ? "; Greece is GR"
                                                       : "");
    if (check_text(p, "region", e->region, JET_TOOLKIT_MAX_REGION, 0))
        return JET_EVALIDATE;
    if (e->n_languages > JET_TOOLKIT_MAX_LANGUAGES)
        return problem(p, "languages", "too many values: %zu, the limit is %d", e->n_languages,
                       JET_TOOLKIT_MAX_LANGUAGES);
    for (size_t i = 0; i < e->n_languages; i++) {
        snprintf(f, sizeof f, "languages[%zu]", i);
        if (!jet_toolkit_lang_tag_valid(str_or_empty(e->languages[i])))
            return problem(p, f,
                           "'%.40s' is not a BCP 47 language tag (such as sv, it, fi, "
                           "en-GB)",
                           str_or_empty(e->languages[i]));
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(e->languages[i], e->languages[j]) == 0)
                return problem(p, f, "'%s' is listed twice", e->languages[i]);
    }
    if (check_enum_list(p, "school_level", e->school_level, e->n_school_level,
                        JET_TOOLKIT_MAX_SCHOOL_LEVELS, school_levels,
                        "ISCED0..ISCED8, ISCED2G, ISCED2V, ISCED3G, ISCED3V, ISCED4G, ISCED4V") ||
        check_enum_list(p, "intervention_level", e->intervention_level, e->n_intervention_level, 3,
                        levels, "universal, targeted, individual"))
        return JET_EVALIDATE;
    if (is_set(e->intensity) &&
        check_enum(p, "intensity", e->intensity, intensities, "one-off, recurring, continuous"))
        return JET_EVALIDATE;
    if (check_enum_list(p, "funding", e->funding, e->n_funding, 5, fundings,
                        "EU, national, regional, local, private"))
        return JET_EVALIDATE;
    if (e->target_age) {
        if (e->target_age->from > JET_TOOLKIT_MAX_AGE)
            return problem(p, "target_age.from", "%u is out of range 0..%d", e->target_age->from,
                           JET_TOOLKIT_MAX_AGE);
        if (e->target_age->to > JET_TOOLKIT_MAX_AGE)
            return problem(p, "target_age.to", "%u is out of range 0..%d", e->target_age->to,
                           JET_TOOLKIT_MAX_AGE);
        if (e->target_age->from > e->target_age->to)
            return problem(p, "target_age", "range reversed: from %u is above to %u",
                           e->target_age->from, e->target_age->to);
    }
    if (e->outcomes) {
        const Jet__Toolkit__Outcomes *o = e->outcomes;
        if (check_text(p, "outcomes.text", o->text, JET_TOOLKIT_MAX_OUTCOMES, 1))
            return JET_EVALIDATE;
        if (o->n_figures > JET_TOOLKIT_MAX_FIGURES)
            return problem(p, "outcomes.key_figures", "too many key figures: %zu, the limit is %d",
                           o->n_figures, JET_TOOLKIT_MAX_FIGURES);
        for (size_t i = 0; i < o->n_figures; i++) {
            snprintf(f, sizeof f, "outcomes.key_figures[%zu].label", i);
            if (check_required(p, f, o->figures[i]->label, JET_TOOLKIT_MAX_FIGURE_LABEL, 0))
                return JET_EVALIDATE;
            snprintf(f, sizeof f, "outcomes.key_figures[%zu].value", i);
            if (check_required(p, f, o->figures[i]->value, JET_TOOLKIT_MAX_FIGURE_VALUE, 0))
                return JET_EVALIDATE;
        }
    }
    if (e->n_contacts > JET_TOOLKIT_MAX_CONTACTS)
        return problem(p, "contacts", "too many contacts: %zu, the limit is %d", e->n_contacts,
                       JET_TOOLKIT_MAX_CONTACTS);
    for (size_t i = 0; i < e->n_contacts; i++) {
        const Jet__Toolkit__Contact *c = e->contacts[i];
        snprintf(f, sizeof f, "contacts[%zu].organisation", i);
        if (check_required(p, f, c->organisation, JET_TOOLKIT_MAX_CONTACT_FIELD, 0))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "contacts[%zu].role", i);
        if (check_text(p, f, c->role, JET_TOOLKIT_MAX_CONTACT_FIELD, 0))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "contacts[%zu].address", i);
        if (check_text(p, f, c->address, JET_TOOLKIT_MAX_CONTACT_FIELD, 1))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "contacts[%zu].email", i);
        if (check_text(p, f, c->email, JET_TOOLKIT_MAX_CONTACT_FIELD, 0))
            return JET_EVALIDATE;
        if (is_set(c->email)) {
            const char *at = strchr(c->email, '@');
            if (!at || at == c->email || !at[1] || strchr(at + 1, '@') || strpbrk(c->email, " \t"))
                return problem(p, f, "'%.60s' is not an e-mail address", c->email);
        }
        snprintf(f, sizeof f, "contacts[%zu].url", i);
        if (is_set(c->url) && check_url(p, f, c->url))
            return JET_EVALIDATE;
    }
    if (e->n_links > JET_TOOLKIT_MAX_LINKS)
        return problem(p, "links", "too many links: %zu, the limit is %d", e->n_links,
                       JET_TOOLKIT_MAX_LINKS);
    for (size_t i = 0; i < e->n_links; i++) {
        snprintf(f, sizeof f, "links[%zu].url", i);
        if (!is_set(e->links[i]->url))
            return problem(p, f, "missing: a link needs a URL");
        if (check_url(p, f, e->links[i]->url))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "links[%zu].title", i);
        if (check_text(p, f, e->links[i]->title, JET_TOOLKIT_MAX_TITLE, 0))
            return JET_EVALIDATE;
    }
    if (e->n_translations > JET_TOOLKIT_MAX_TRANSLATIONS)
        return problem(p, "translations", "too many translations: %zu, the limit is %d",
                       e->n_translations, JET_TOOLKIT_MAX_TRANSLATIONS);
    for (size_t i = 0; i < e->n_translations; i++) {
        const Jet__Toolkit__Translation *t = e->translations[i];
        const char *lang = str_or_empty(t->lang);
        snprintf(f, sizeof f, "translations.%.40s", lang);
        if (!jet_toolkit_lang_tag_valid(lang))
            return problem(p, f, "'%.40s' is not a BCP 47 language tag (such as sv, it, en)", lang);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(lang, str_or_empty(e->translations[j]->lang)) == 0)
                return problem(p, f, "a second translation into '%s'", lang);
        if (!is_set(t->title) && !is_set(t->summary) && !is_set(t->body))
            return problem(p, f, "empty translation: give at least a title, summary or body");
        snprintf(f, sizeof f, "translations.%.40s.title", lang);
        if (check_text(p, f, t->title, JET_TOOLKIT_MAX_TITLE, 0))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "translations.%.40s.summary", lang);
        if (check_text(p, f, t->summary, JET_TOOLKIT_MAX_SUMMARY, 1))
            return JET_EVALIDATE;
        snprintf(f, sizeof f, "translations.%.40s.body", lang);
        if (check_text(p, f, t->body, JET_TOOLKIT_MAX_BODY, 1))
            return JET_EVALIDATE;
    }
    size_t packed = jet__toolkit__entry__get_packed_size(e);
    if (packed > JET_TOOLKIT_MAX_FILE)
        return problem(p, "entry", "too large: %zu bytes encoded, the limit is %d", packed,
                       JET_TOOLKIT_MAX_FILE);
    return 0;
}

int jet_toolkit_entry_validate(const jet_toolkit_entry *e, jet_toolkit_problem *p) {
    if (!e->pb)
        return jet__toolkit_is_slug(e->id) ? 0 : problem(p, "id", "not a slug");
    return jet__toolkit_validate_pb(e->pb, p);
}

/* ------------------------------------------------------------------------------------------ */
/* Publishing and withdrawing */

typedef struct publish_ctx {
    jet_toolkit_entry *e;
    const uint8_t *sk;
    int64_t now;
    jet_diag *diag;
} publish_ctx;

static int publish_txn(jet_txn *txn, void *arg) {
    publish_ctx *c = arg;
    Jet__Toolkit__Entry *pb = c->e->pb;
    const uint8_t *pk = c->sk + 32;
    jet_toolkit_problem p;
    uint64_t held = 0;
    uint8_t *buf = NULL;
    size_t len;
    int rc = jet__toolkit_held(txn, pb->id, pk, &held, NULL);
    if (rc != 0 && rc != JET_ENOTFOUND)
        return rc;
    /* The author stamp replaces whatever the reader left; protobuf-c frees it with free(). */
    if (pb->author.len != 32) {
        uint8_t *a = malloc(32);
        if (!a)
            return JET_ENOMEM;
        free(pb->author.data);
        pb->author.data = a;
        pb->author.len = 32;
    }
    memcpy(pb->author.data, pk, 32);
    pb->version = held + 1;
    pb->published = c->now;
    if (jet__toolkit_validate_pb(pb, &p) != 0)
        return jet_diag_fail(c->diag, JET_EVALIDATE, "field '%s': %s", p.field, p.reason);
    rc = jet__toolkit_pack(pb, &buf, &len);
    if (rc == 0)
        rc = jet_record_append(txn, c->sk, JET_STREAM_TOOLKIT, JET_TOOLKIT_KIND_ENTRY, buf, len,
                               NULL);
    free(buf);
    return rc;
}

int jet_toolkit_publish(jet_store *store, const uint8_t sk[64], jet_toolkit_entry *e, int64_t now,
                        jet_diag *diag) {
    publish_ctx c = {e, sk, now, diag};
    int rc;
    jet_diag_clear(diag);
    if (!e->pb)
        return jet_diag_fail(diag, JET_EINVAL, "a withdrawal cannot be published");
    rc = jet_store_write(store, publish_txn, &c);
    if (rc == 0) {
        memcpy(e->author, sk + 32, 32);
        e->version = e->pb->version;
        e->published = now;
    } else if (diag && diag->code != rc) {
        jet_diag_fail(diag, rc, "cannot store entry '%s': %s", e->id, jet_strerror(rc));
    }
    return rc;
}

typedef struct withdraw_ctx {
    const char *id;
    const uint8_t *sk;
    int64_t now;
    uint64_t version;
    jet_diag *diag;
} withdraw_ctx;

static int withdraw_txn(jet_txn *txn, void *arg) {
    withdraw_ctx *c = arg;
    Jet__Toolkit__Withdrawal w = JET__TOOLKIT__WITHDRAWAL__INIT;
    uint64_t held = 0;
    int withdrawn = 0;
    uint8_t buf[256];
    size_t len;
    int rc = jet__toolkit_held(txn, c->id, c->sk + 32, &held, &withdrawn);
    if (rc == JET_ENOTFOUND)
        return jet_diag_fail(c->diag, rc, "this node has published no entry '%s'", c->id);
    if (rc != 0)
        return rc;
    if (withdrawn)
        return jet_diag_fail(c->diag, JET_EEXIST, "entry '%s' is already withdrawn (version %llu)",
                             c->id, (unsigned long long)held);
    w.author.data = (uint8_t *)(c->sk + 32);
    w.author.len = 32;
    w.id = (char *)c->id;
    w.version = held + 1;
    w.published = c->now;
    len = jet__toolkit__withdrawal__get_packed_size(&w);
    if (len > sizeof buf)
        return JET_ETOOBIG;
    len = jet__toolkit__withdrawal__pack(&w, buf);
    c->version = w.version;
    return jet_record_append(txn, c->sk, JET_STREAM_TOOLKIT, JET_TOOLKIT_KIND_WITHDRAWAL, buf, len,
                             NULL);
}

int jet_toolkit_withdraw(jet_store *store, const uint8_t sk[64], const char *id, int64_t now,
                         uint64_t *version, jet_diag *diag) {
    withdraw_ctx c = {id, sk, now, 0, diag};
    int rc;
    jet_diag_clear(diag);
    if (!jet__toolkit_is_slug(id))
        return jet_diag_fail(diag, JET_EINVAL, "'%.80s' is not an entry id", id);
    rc = jet_store_write(store, withdraw_txn, &c);
    if (rc == 0 && version)
        *version = c.version;
    return rc;
}
