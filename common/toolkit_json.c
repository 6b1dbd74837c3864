/* toolkit_json.c - reading entries from JSON files and writing them as JSON (toolkit_json.h).
 *
 * Reading has three steps: jansson parses the text (syntax errors come with line and column);
 * the members are checked for type and copied into a protobuf-c message whose strings point
 * into the jansson tree (arrays come from a small arena); the message is packed and unpacked
 * again, so that what is validated is exactly what will be signed, and validated with the same
 * rules every node applies (jet_toolkit_entry_validate). A failing rule names a field path such
 * as "contacts[1].role"; locate() walks the original text along that path to report the line
 * and column of the value. */
#include "toolkit_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "textfold.h"
#include "toolkit_pb.h"

/* ------------------------------------------------------------------------------------------ */
/* Finding the line and column of a field in the text */

typedef struct scan {
    const char *p, *end;
    int line, col;
} scan;

static void step(scan *s) {
    if (*s->p == '\n') {
        s->line++;
        s->col = 1;
    } else if (((unsigned char)*s->p & 0xC0) != 0x80) {
        s->col++;
    }
    s->p++;
}

static void skip_ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        step(s);
}

/* At a '"': moves past the closing quote; the raw content is [*start, *start + *len). */
static void skip_string(scan *s, const char **start, size_t *len) {
    step(s);
    if (start)
        *start = s->p;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && s->p + 1 < s->end)
            step(s);
        step(s);
    }
    if (len)
        *len = (size_t)(s->p - (start ? *start : s->p));
    if (s->p < s->end)
        step(s);
}

static void skip_value(scan *s) {
    int depth = 0;
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '"') {
            skip_string(s, NULL, NULL);
            if (depth == 0)
                return;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return;
            if (--depth == 0) {
                step(s);
                return;
            }
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r')) {
            return;
        }
        step(s);
    }
}

/* Moves into the member `key` (or element `index` when key is NULL) of the object or array at
 * s. Returns 1 when found (s at its value), 0 otherwise. */
static int enter(scan *s, const char *key, size_t klen, long index) {
    char open = key ? '{' : '[';
    long i = 0;
    if (s->p >= s->end || *s->p != open)
        return 0;
    step(s);
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p == '}' || *s->p == ']')
            return 0;
        if (key) {
            const char *k;
            size_t n;
            if (*s->p != '"')
                return 0;
            skip_string(s, &k, &n);
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return 0;
            step(s);
            skip_ws(s);
            if (n == klen && strncasecmp(k, key, n) == 0) /* language keys in any case */
                return 1;
        } else if (i++ == index) {
            return 1;
        }
        skip_value(s);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ',')
            return 0;
        step(s);
    }
}

/* The line and column of the value at `path` ("a.b[2].c"), or of the deepest value on the way
 * that exists. */
static void locate(const char *text, size_t len, const char *path, int *line, int *col) {
    scan s = {text, text + len, 1, 1};
    const char *p = path;
    skip_ws(&s);
    *line = s.line;
    *col = s.col;
    while (*p) {
        scan save = s;
        int found;
        if (*p == '[') {
            long idx = strtol(p + 1, (char **)&p, 10);
            if (*p == ']')
                p++;
            found = enter(&s, NULL, 0, idx);
        } else {
            size_t n = strcspn(p, ".[");
            found = enter(&s, p, n, 0);
            p += n;
        }
        if (*p == '.')
            p++;
        if (!found) {
            s = save;
            break;
        }
        *line = s.line;
        *col = s.col;
    }
}

static void line_col_of_offset(const char *text, size_t off, int *line, int *col) {
    scan s = {text, text + off, 1, 1};
    while (s.p < s.end)
        step(&s);
    *line = s.line;
    *col = s.col;
}

/* ------------------------------------------------------------------------------------------ */
/* Building the message */

typedef struct reader {
    const char *name, *text;
    size_t len;
    void **blocks; /* the arena: every allocation, freed together */
    size_t nblocks, cap;
    char field[128];
    char reason[256];
    int code;
} reader;

static int fail(reader *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(reader *r, const char *field, const char *fmt, ...) {
    va_list ap;
    if (r->code)
        return r->code;
    snprintf(r->field, sizeof r->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return r->code = JET_EVALIDATE;
}

static void *alloc(reader *r, size_t n) {
    void *p;
    if (r->nblocks == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        void **b = realloc(r->blocks, cap * sizeof *b);
        if (!b)
            return NULL;
        r->blocks = b;
        r->cap = cap;
    }
    p = calloc(1, n ? n : 1);
    if (p)
        r->blocks[r->nblocks++] = p;
    else
        r->code = JET_ENOMEM;
    return p;
}

static char *dup_str(reader *r, const char *s) {
    size_t n = strlen(s);
    char *d = alloc(r, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "a number";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "true/false";
    default: return "null";
    }
}

/* A string member: absent and null leave *out as it is. */
static int get_string(reader *r, const json_t *v, const char *field, char **out) {
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(r, field, "expected a string, found %s", type_name(v));
    *out = (char *)json_string_value(v);
    return 0;
}

typedef enum { CASE_LOWER, CASE_UPPER, CASE_LANG, CASE_FUNDING } casing;

static void canon_lang(char *t) {
    int first = 1, singleton = 0;
    for (char *p = t; *p;) {
        size_t n = strcspn(p, "-");
        for (size_t i = 0; i < n; i++)
            p[i] = (char)tolower((unsigned char)p[i]);
        if (n == 1)
            singleton = 1;
        else if (!first && !singleton && n == 2)
            for (size_t i = 0; i < n; i++)
                p[i] = (char)toupper((unsigned char)p[i]);
        else if (!first && !singleton && n == 4 && isalpha((unsigned char)p[0]))
            p[0] = (char)toupper((unsigned char)p[0]);
        first = 0;
        p += n;
        if (*p == '-')
            p++;
    }
}

/* A copy of s in its canonical case. */
static char *canon(reader *r, const char *s, casing c) {
    char *d = dup_str(r, s);
    if (!d)
        return NULL;
    if (c == CASE_LANG) {
        canon_lang(d);
        return d;
    }
    for (char *p = d; *p; p++)
        *p = (char)(c == CASE_UPPER ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
    if (c == CASE_FUNDING && strcmp(d, "eu") == 0)
        strcpy(d, "EU");
    return d;
}

static int get_code(reader *r, const json_t *v, const char *field, casing c, char **out) {
    char *s = NULL;
    if (get_string(r, v, field, &s) || !s)
        return r->code;
    *out = canon(r, s, c);
    return *out ? 0 : r->code;
}

/* A list of codes: an array of strings, or one string. *scalar tells which was written. */
static int get_code_list(reader *r, const json_t *v, const char *field, casing c, size_t max,
                         char ***out, size_t *n, protobuf_c_boolean *scalar) {
    char f[128];
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *out = alloc(r, sizeof(char *));
        if (!*out)
            return r->code;
        if (scalar)
            *scalar = 1;
        *n = 1;
        return get_code(r, v, field, c, &(*out)[0]);
    }
    if (!json_is_array(v))
        return fail(r, field, "expected an array of strings, found %s", type_name(v));
    if (json_array_size(v) > max)
        return fail(r, field, "too many values: %zu, the limit is %zu", json_array_size(v), max);
    *n = json_array_size(v);
    *out = alloc(r, *n * sizeof(char *));
    if (!*out)
        return r->code;
    for (size_t i = 0; i < *n; i++) {
        const json_t *s = json_array_get(v, i);
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!json_is_string(s))
            return fail(r, f, "expected a string, found %s", type_name(s));
        if (get_code(r, s, f, c, &(*out)[i]))
            return r->code;
    }
    return 0;
}

/* Checks that `obj` has only the members in `known` (a NULL-terminated list). */
static int only_known(reader *r, const json_t *obj, const char *prefix, const char *const *known,
                      const char *list) {
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        if (!ok) {
            char f[128];
            snprintf(f, sizeof f, "%s%s%.60s", prefix, *prefix ? "." : "", key);
            return fail(r, f, "unknown field (known: %s)", list);
        }
    }
    return 0;
}

static int get_age(reader *r, const json_t *v, const char *field, uint32_t *out) {
    json_int_t n;
    if (!v || json_is_null(v))
        return fail(r, field, "missing: give both 'from' and 'to'");
    if (!json_is_integer(v))
        return fail(r, field, "expected a whole number of years, found %s", type_name(v));
    n = json_integer_value(v);
    if (n < 0 || n > JET_TOOLKIT_MAX_AGE)
        return fail(r, field, "%lld is out of range 0..%d", (long long)n, JET_TOOLKIT_MAX_AGE);
    *out = (uint32_t)n;
    return 0;
}

static int get_target_age(reader *r, const json_t *v, Jet__Toolkit__Entry *e) {
    static const char *const known[] = {"from", "to", NULL};
    Jet__Toolkit__TargetAge *a;
    if (!v || json_is_null(v))
        return 0;
    a = alloc(r, sizeof *a);
    if (!a)
        return r->code;
    jet__toolkit__target_age__init(a);
    if (json_is_array(v)) {
        if (json_array_size(v) != 2)
            return fail(r, "target_age", "expected [from, to] or {\"from\": .., \"to\": ..}");
        if (get_age(r, json_array_get(v, 0), "target_age[0]", &a->from) ||
            get_age(r, json_array_get(v, 1), "target_age[1]", &a->to))
            return r->code;
    } else if (json_is_object(v)) {
        if (only_known(r, v, "target_age", known, "from, to") ||
            get_age(r, json_object_get(v, "from"), "target_age.from", &a->from) ||
            get_age(r, json_object_get(v, "to"), "target_age.to", &a->to))
            return r->code;
    } else {
        return fail(r, "target_age", "expected {\"from\": .., \"to\": ..}, found %s", type_name(v));
    }
    e->target_age = a;
    return 0;
}

static int get_outcomes(reader *r, const json_t *v, Jet__Toolkit__Entry *e) {
    static const char *const known[] = {"text", "key_figures", NULL};
    static const char *const fknown[] = {"label", "value", NULL};
    Jet__Toolkit__Outcomes *o;
    const json_t *figs;
    char f[128];
    if (!v || json_is_null(v))
        return 0;
    o = alloc(r, sizeof *o);
    if (!o)
        return r->code;
    jet__toolkit__outcomes__init(o);
    e->outcomes = o;
    if (json_is_string(v)) {
        e->outcomes_text_only = 1;
        return get_string(r, v, "outcomes", &o->text);
    }
    if (!json_is_object(v))
        return fail(r, "outcomes", "expected a string or {\"text\", \"key_figures\"}, found %s",
                    type_name(v));
    if (only_known(r, v, "outcomes", known, "text, key_figures") ||
        get_string(r, json_object_get(v, "text"), "outcomes.text", &o->text))
        return r->code;
    figs = json_object_get(v, "key_figures");
    if (!figs || json_is_null(figs))
        return 0;
    if (!json_is_array(figs))
        return fail(r, "outcomes.key_figures", "expected an array, found %s", type_name(figs));
    if (json_array_size(figs) > JET_TOOLKIT_MAX_FIGURES)
        return fail(r, "outcomes.key_figures", "too many key figures: %zu, the limit is %d",
                    json_array_size(figs), JET_TOOLKIT_MAX_FIGURES);
    o->n_figures = json_array_size(figs);
    o->figures = alloc(r, o->n_figures * sizeof *o->figures);
    if (!o->figures)
        return r->code;
    for (size_t i = 0; i < o->n_figures; i++) {
        const json_t *fj = json_array_get(figs, i), *val;
        Jet__Toolkit__KeyFigure *k = alloc(r, sizeof *k);
        if (!k)
            return r->code;
        jet__toolkit__key_figure__init(k);
        o->figures[i] = k;
        snprintf(f, sizeof f, "outcomes.key_figures[%zu]", i);
        if (!json_is_object(fj))
            return fail(r, f, "expected {\"label\", \"value\"}, found %s", type_name(fj));
        if (only_known(r, fj, f, fknown, "label, value"))
            return r->code;
        snprintf(f, sizeof f, "outcomes.key_figures[%zu].label", i);
        if (get_string(r, json_object_get(fj, "label"), f, &k->label))
            return r->code;
        snprintf(f, sizeof f, "outcomes.key_figures[%zu].value", i);
        val = json_object_get(fj, "value");
        if (json_is_number(val)) {
            char num[64];
            if (json_is_integer(val))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
            else
                snprintf(num, sizeof num, "%.15g", json_real_value(val));
            if (!(k->value = dup_str(r, num)))
                return r->code;
        } else if (get_string(r, val, f, &k->value)) {
            return r->code;
        }
    }
    return 0;
}

static int get_contacts(reader *r, const json_t *v, Jet__Toolkit__Entry *e) {
    static const char *const known[] = {"organisation", "role", "address", "email", "url", NULL};
    char f[128];
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return fail(r, "contacts", "expected an array of contacts, found %s", type_name(v));
    if (json_array_size(v) > JET_TOOLKIT_MAX_CONTACTS)
        return fail(r, "contacts", "too many contacts: %zu, the limit is %d", json_array_size(v),
                    JET_TOOLKIT_MAX_CONTACTS);
    e->n_contacts = json_array_size(v);
    e->contacts = alloc(r, e->n_contacts * sizeof *e->contacts);
    if (!e->contacts)
        return r->code;
    for (size_t i = 0; i < e->n_contacts; i++) {
        const json_t *cj = json_array_get(v, i);
        Jet__Toolkit__Contact *c = alloc(r, sizeof *c);
        if (!c)
            return r->code;
        jet__toolkit__contact__init(c);
        e->contacts[i] = c;
        snprintf(f, sizeof f, "contacts[%zu]", i);
        if (!json_is_object(cj))
            return fail(r, f,
                        "expected an object {\"organisation\", \"role\", \"address\"}, "
                        "found %s",
                        type_name(cj));
        if (only_known(r, cj, f, known, "organisation, role, address, email, url"))
            return r->code;
#define CONTACT_FIELD(name)                                                                        \
    snprintf(f, sizeof f, "contacts[%zu]." #name, i);                                              \
    if (get_string(r, json_object_get(cj, #name), f, &c->name))                                    \
        return r->code;
        CONTACT_FIELD(organisation)
        CONTACT_FIELD(role)
        CONTACT_FIELD(address)
        CONTACT_FIELD(email)
        CONTACT_FIELD(url)
#undef CONTACT_FIELD
    }
    return 0;
}

static int get_links(reader *r, const json_t *v, Jet__Toolkit__Entry *e) {
    static const char *const known[] = {"url", "title", NULL};
    char f[128];
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return fail(r, "links", "expected an array of links, found %s", type_name(v));
    if (json_array_size(v) > JET_TOOLKIT_MAX_LINKS)
        return fail(r, "links", "too many links: %zu, the limit is %d", json_array_size(v),
                    JET_TOOLKIT_MAX_LINKS);
    e->n_links = json_array_size(v);
    e->links = alloc(r, e->n_links * sizeof *e->links);
    if (!e->links)
        return r->code;
    for (size_t i = 0; i < e->n_links; i++) {
        const json_t *lj = json_array_get(v, i);
        Jet__Toolkit__Link *l = alloc(r, sizeof *l);
        if (!l)
            return r->code;
        jet__toolkit__link__init(l);
        e->links[i] = l;
        snprintf(f, sizeof f, "links[%zu]", i);
        if (json_is_string(lj)) {
            l->url = (char *)json_string_value(lj);
            continue;
        }
        if (!json_is_object(lj))
            return fail(r, f, "expected a URL or {\"url\", \"title\"}, found %s", type_name(lj));
        if (only_known(r, lj, f, known, "url, title"))
            return r->code;
        snprintf(f, sizeof f, "links[%zu].url", i);
        if (get_string(r, json_object_get(lj, "url"), f, &l->url))
            return r->code;
        snprintf(f, sizeof f, "links[%zu].title", i);
        if (get_string(r, json_object_get(lj, "title"), f, &l->title))
            return r->code;
    }
    return 0;
}

static int get_translations(reader *r, const json_t *v, Jet__Toolkit__Entry *e) {
    static const char *const known[] = {"title", "summary", "body", NULL};
    const char *lang;
    json_t *tj;
    char f[128];
    size_t i = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return fail(r, "translations",
                    "expected an object {\"<language>\": {\"title\", "
                    "\"summary\", \"body\"}}, found %s",
                    type_name(v));
    if (json_object_size(v) > JET_TOOLKIT_MAX_TRANSLATIONS)
        return fail(r, "translations", "too many translations: %zu, the limit is %d",
                    json_object_size(v), JET_TOOLKIT_MAX_TRANSLATIONS);
    e->n_translations = json_object_size(v);
    e->translations = alloc(r, e->n_translations * sizeof *e->translations);
    if (!e->translations)
        return r->code;
    json_object_foreach((json_t *)v, lang, tj) {
        Jet__Toolkit__Translation *t = alloc(r, sizeof *t);
        if (!t)
            return r->code;
        jet__toolkit__translation__init(t);
        e->translations[i++] = t;
        snprintf(f, sizeof f, "translations.%.60s", lang);
        if (!(t->lang = canon(r, lang, CASE_LANG)))
            return r->code;
        if (!json_is_object(tj))
            return fail(r, f, "expected {\"title\", \"summary\", \"body\"}, found %s",
                        type_name(tj));
        if (only_known(r, tj, f, known, "title, summary, body"))
            return r->code;
        snprintf(f, sizeof f, "translations.%.60s.title", lang);
        if (get_string(r, json_object_get(tj, "title"), f, &t->title))
            return r->code;
        snprintf(f, sizeof f, "translations.%.60s.summary", lang);
        if (get_string(r, json_object_get(tj, "summary"), f, &t->summary))
            return r->code;
        snprintf(f, sizeof f, "translations.%.60s.body", lang);
        if (get_string(r, json_object_get(tj, "body"), f, &t->body))
            return r->code;
    }
    return 0;
}

static const char *const entry_fields[] = {
    "id", "title", "summary", "body", "category", "type", "country", "region", "languages",
    "school_level", "intervention_level", "intensity", "funding", "target_age", "outcomes",
    "contacts", "links", "translations",
    /* output only, ignored */
    "author", "version", "published", "withdrawn", "score", NULL};

static int build(reader *r, const json_t *root, Jet__Toolkit__Entry *e) {
    const json_t *g;
    if (!json_is_object(root))
        return fail(r, "entry", "expected a JSON object, found %s", type_name(root));
    if (only_known(r, root, "", entry_fields,
                   "id, title, summary, body, category, type, country, region, languages, "
                   "school_level, intervention_level, intensity, funding, target_age, outcomes, "
                   "contacts, links, translations"))
        return r->code;
#define STR(name)                                                                                  \
    if (get_string(r, json_object_get(root, #name), #name, &e->name))                              \
        return r->code;
#define CODE(name, c)                                                                              \
    if (get_code(r, json_object_get(root, #name), #name, c, &e->name))                             \
        return r->code;
    STR(id)
    STR(title)
    STR(summary)
    STR(body)
    CODE(category, CASE_LOWER)
    CODE(type, CASE_LOWER)
    CODE(country, CASE_UPPER)
    STR(region)
#undef STR
    if (get_code_list(r, json_object_get(root, "languages"), "languages", CASE_LANG,
                      JET_TOOLKIT_MAX_LANGUAGES, &e->languages, &e->n_languages, NULL) ||
        get_code_list(r, json_object_get(root, "school_level"), "school_level", CASE_UPPER,
                      JET_TOOLKIT_MAX_SCHOOL_LEVELS, &e->school_level, &e->n_school_level, NULL) ||
        get_code_list(r, json_object_get(root, "intervention_level"), "intervention_level",
                      CASE_LOWER, 3, &e->intervention_level, &e->n_intervention_level,
                      &e->intervention_level_scalar))
        return r->code;
    CODE(intensity, CASE_LOWER)
#undef CODE
    g = json_object_get(root, "funding");
    if (get_code_list(r, g, "funding", CASE_FUNDING, 5, &e->funding, &e->n_funding, NULL) ||
        get_target_age(r, json_object_get(root, "target_age"), e) ||
        get_outcomes(r, json_object_get(root, "outcomes"), e) ||
        get_contacts(r, json_object_get(root, "contacts"), e) ||
        get_links(r, json_object_get(root, "links"), e) ||
        get_translations(r, json_object_get(root, "translations"), e))
        return r->code;
    return 0;
}

static int report(reader *r, jet_diag *diag) {
    int line, col;
    locate(r->text, r->len, r->field, &line, &col);
    int rc = jet_diag_fail(diag, JET_EVALIDATE, "%s:%d:%d: field '%s': %s", r->name, line, col,
                           r->field, r->reason);
    /* The reason may quote the offending value: keep the message on one line. */
    for (char *c = diag ? diag->msg : NULL; c && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    return rc;
}

int jet_toolkit_json_read(const char *name, const char *text, size_t len, jet_toolkit_entry **out,
                          jet_diag *diag) {
    reader r;
    Jet__Toolkit__Entry e = JET__TOOLKIT__ENTRY__INIT, *pb;
    jet_toolkit_entry *entry = NULL;
    jet_toolkit_problem p;
    json_error_t jerr;
    json_t *root = NULL;
    uint8_t *buf = NULL;
    size_t blen, bad;
    int rc;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.text = text;
    r.len = len;
    *out = NULL;
    if (len > JET_TOOLKIT_MAX_FILE)
        return jet_diag_fail(diag, JET_ETOOBIG, "%s: %zu bytes; an entry is at most %d bytes", name,
                             len, JET_TOOLKIT_MAX_FILE);
    if (!jet_textfold_utf8_valid(text, len, &bad)) {
        int line, col;
        line_col_of_offset(text, bad, &line, &col);
        return jet_diag_fail(diag, JET_EVALIDATE, "%s:%d:%d: invalid UTF-8 (byte 0x%02X)", name,
                             line, col, (unsigned char)text[bad]);
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return jet_diag_fail(diag, JET_EVALIDATE, "%s:%d:%d: %s", name, jerr.line, jerr.column,
                             jerr.text);
    rc = build(&r, root, &e);
    if (rc == JET_EVALIDATE) {
        rc = report(&r, diag);
        goto done;
    }
    if (rc)
        goto done;
    rc = jet__toolkit_pack(&e, &buf, &blen);
    if (rc)
        goto done;
    pb = jet__toolkit__entry__unpack(NULL, blen, buf);
    if (!pb) {
        rc = JET_ENOMEM;
        goto done;
    }
    entry = jet__toolkit_entry_adopt(pb);
    if (!entry) {
        rc = JET_ENOMEM;
        goto done;
    }
    if (jet_toolkit_entry_validate(entry, &p) != 0) {
        snprintf(r.field, sizeof r.field, "%s", p.field);
        snprintf(r.reason, sizeof r.reason, "%s", p.reason);
        rc = report(&r, diag);
        goto done;
    }
    *out = entry;
    entry = NULL;
done:
    jet_toolkit_entry_free(entry);
    free(buf);
    for (size_t i = 0; i < r.nblocks; i++)
        free(r.blocks[i]);
    free(r.blocks);
    json_decref(root);
    if (rc && diag && diag->code == 0)
        jet_diag_fail(diag, rc, "%s: %s", name, jet_strerror(rc));
    return rc;
}

int jet_toolkit_json_read_file(const char *path, jet_toolkit_entry **out, jet_diag *diag) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int rc;
    *out = NULL;
    if (!f)
        return jet_diag_fail(diag, errno == ENOENT ? JET_ENOTFOUND : JET_EIO, "%s: %s", path,
                             strerror(errno));
    buf = malloc(JET_TOOLKIT_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return jet_diag_fail(diag, JET_ENOMEM, "%s: out of memory", path);
    }
    len = fread(buf, 1, JET_TOOLKIT_MAX_FILE + 1, f);
    if (ferror(f)) {
        rc = jet_diag_fail(diag, JET_EIO, "%s: read error", path);
    } else if (len > JET_TOOLKIT_MAX_FILE) {
        rc = jet_diag_fail(diag, JET_ETOOBIG, "%s: larger than %d bytes, the limit of an entry",
                           path, JET_TOOLKIT_MAX_FILE);
    } else {
        rc = jet_toolkit_json_read(path, buf, len, out, diag);
    }
    fclose(f);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing */

static json_t *str_or_null(const char *s) {
    return s && s[0] ? json_string(s) : json_null();
}

static json_t *str_array(char **v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void set_if(json_t *o, const char *key, const char *s) {
    if (s && s[0])
        json_object_set_new(o, key, json_string(s));
}

json_t *jet_toolkit_json_from_entry(const jet_toolkit_entry *entry) {
    const Jet__Toolkit__Entry *e = entry->pb;
    char nid[JET_NODE_ID_BUF], when[32];
    time_t t = (time_t)entry->published;
    struct tm tm;
    json_t *o = json_object(), *a;
    if (!o)
        return NULL;
    jet_node_id_format(entry->author, nid);
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(when, sizeof when, "%lld", (long long)entry->published);
    json_object_set_new(o, "id", json_string(entry->id));
    json_object_set_new(o, "author", json_string(nid));
    json_object_set_new(o, "version", json_integer((json_int_t)entry->version));
    json_object_set_new(o, "published", json_string(when));
    if (!e) {
        json_object_set_new(o, "withdrawn", json_true());
        return o;
    }
    json_object_set_new(o, "title", str_or_null(e->title));
    json_object_set_new(o, "summary", str_or_null(e->summary));
    json_object_set_new(o, "body", str_or_null(e->body));
    json_object_set_new(o, "category", str_or_null(e->category));
    json_object_set_new(o, "type", str_or_null(e->type));
    json_object_set_new(o, "country", str_or_null(e->country));
    json_object_set_new(o, "region", str_or_null(e->region));
    json_object_set_new(o, "languages", str_array(e->languages, e->n_languages));
    json_object_set_new(o, "school_level", str_array(e->school_level, e->n_school_level));
    if (e->intervention_level_scalar && e->n_intervention_level == 1)
        json_object_set_new(o, "intervention_level", json_string(e->intervention_level[0]));
    else
        json_object_set_new(o, "intervention_level",
                            str_array(e->intervention_level, e->n_intervention_level));
    json_object_set_new(o, "intensity", str_or_null(e->intensity));
    json_object_set_new(o, "funding", str_array(e->funding, e->n_funding));
    if (e->target_age)
        json_object_set_new(
            o, "target_age",
            json_pack("{s:i,s:i}", "from", (int)e->target_age->from, "to", (int)e->target_age->to));
    else
        json_object_set_new(o, "target_age", json_null());
    if (!e->outcomes) {
        json_object_set_new(o, "outcomes", json_null());
    } else if (e->outcomes_text_only) {
        json_object_set_new(o, "outcomes", str_or_null(e->outcomes->text));
    } else {
        json_t *oc = json_object(), *figs = json_array();
        json_object_set_new(oc, "text", str_or_null(e->outcomes->text));
        for (size_t i = 0; i < e->outcomes->n_figures; i++)
            json_array_append_new(figs,
                                  json_pack("{s:s,s:s}", "label", e->outcomes->figures[i]->label,
                                            "value", e->outcomes->figures[i]->value));
        json_object_set_new(oc, "key_figures", figs);
        json_object_set_new(o, "outcomes", oc);
    }
    a = json_array();
    for (size_t i = 0; i < e->n_contacts; i++) {
        json_t *c = json_object();
        set_if(c, "organisation", e->contacts[i]->organisation);
        set_if(c, "role", e->contacts[i]->role);
        set_if(c, "address", e->contacts[i]->address);
        set_if(c, "email", e->contacts[i]->email);
        set_if(c, "url", e->contacts[i]->url);
        json_array_append_new(a, c);
    }
    json_object_set_new(o, "contacts", a);
    a = json_array();
    for (size_t i = 0; i < e->n_links; i++) {
        if (e->links[i]->title && e->links[i]->title[0])
            json_array_append_new(
                a, json_pack("{s:s,s:s}", "url", e->links[i]->url, "title", e->links[i]->title));
        else
            json_array_append_new(a, json_string(e->links[i]->url));
    }
    json_object_set_new(o, "links", a);
    a = json_object();
    for (size_t i = 0; i < e->n_translations; i++) {
        json_t *tr = json_object();
        set_if(tr, "title", e->translations[i]->title);
        set_if(tr, "summary", e->translations[i]->summary);
        set_if(tr, "body", e->translations[i]->body);
        json_object_set_new(a, e->translations[i]->lang, tr);
    }
    json_object_set_new(o, "translations", a);
    return o;
}
