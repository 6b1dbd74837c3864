/* toolkit_view.c - the views of the toolkit stream: jet_toolkit_apply() keeping the newest
 * version, the history and the search index in the transaction of the log, and the queries
 * (resolve, get, list, history, search) that read them. Layout and refusals: toolkit.h. */
#include "toolkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "encoding.h"
#include "record.h"
#include "textfold.h"
#include "toolkit_pb.h"
#include "views.h"

enum {
    STATE_LIVE = 1,
    STATE_WITHDRAWN = 2,
    VIEW_VAL = 1 + 8 + 8 + 8 + 8, /* state version published epoch seq */
    HIST_VAL = 1 + 8 + 8,         /* kind epoch seq */
    ENTRY_KEY_MAX = JET_TOOLKIT_MAX_ID + 1 + 32,
    POSTING_KEY_MAX = JET_TEXTFOLD_MAX_TOKEN + 1 + ENTRY_KEY_MAX,
    MAX_QUERY_WORDS = 32,
    MAX_PREFIX_KEYS = 200000, /* postings read per query word at most */
};

static const char count_key[] = "\0entries"; /* 8 bytes: NUL sorts before every word */
#define COUNT_KEY_LEN 8

static const char *str_or_empty(const char *s) {
    return s ? s : "";
}

static int is_set(const char *s) {
    return s && s[0];
}

static int all_digit(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* View keys and values */

typedef struct view_val {
    int state;
    uint64_t version;
    int64_t published;
    uint64_t epoch, seq; /* the newest entry version's record in the author's log */
} view_val;

static size_t entry_key(uint8_t *key, const char *id, const uint8_t author[32]) {
    size_t n = strlen(id);
    memcpy(key, id, n);
    key[n] = 0;
    memcpy(key + n + 1, author, 32);
    return n + 1 + 32;
}

static int view_get(jet_txn *txn, const char *id, const uint8_t author[32], view_val *v) {
    uint8_t key[ENTRY_KEY_MAX];
    const void *val;
    size_t vlen, klen = entry_key(key, id, author);
    int rc = jet_txn_get(txn, JET_DB_TOOLKIT, key, klen, &val, &vlen);
    if (rc)
        return rc;
    if (vlen != VIEW_VAL)
        return JET_ECORRUPT;
    const uint8_t *p = val;
    v->state = p[0];
    v->version = jet_get_be64(p + 1);
    v->published = (int64_t)jet_get_be64(p + 9);
    v->epoch = jet_get_be64(p + 17);
    v->seq = jet_get_be64(p + 25);
    return 0;
}

static int view_put(jet_txn *txn, const char *id, const uint8_t author[32], const view_val *v) {
    uint8_t key[ENTRY_KEY_MAX], val[VIEW_VAL];
    size_t klen = entry_key(key, id, author);
    val[0] = (uint8_t)v->state;
    jet_put_be64(val + 1, v->version);
    jet_put_be64(val + 9, (uint64_t)v->published);
    jet_put_be64(val + 17, v->epoch);
    jet_put_be64(val + 25, v->seq);
    return jet_txn_put(txn, JET_DB_TOOLKIT, key, klen, val, sizeof val);
}

int jet__toolkit_held(jet_txn *txn, const char *id, const uint8_t author[32], uint64_t *version,
                      int *withdrawn) {
    view_val v;
    int rc = view_get(txn, id, author, &v);
    if (rc == 0) {
        *version = v.version;
        if (withdrawn)
            *withdrawn = v.state == STATE_WITHDRAWN;
    }
    return rc;
}

static size_t hist_key(uint8_t *key, const char *id, const uint8_t author[32], uint64_t version) {
    size_t n = entry_key(key, id, author);
    jet_put_be64(key + n, version);
    return n + 8;
}

/* Reads the entry version stored at (author, epoch, seq) of the toolkit log. */
static int load_entry(jet_txn *txn, const uint8_t author[32], uint64_t epoch, uint64_t seq,
                      jet_toolkit_entry **out) {
    jet_record rec;
    Jet__Toolkit__Entry *pb;
    int rc = jet_log_get(txn, JET_STREAM_TOOLKIT, author, epoch, seq, &rec);
    if (rc)
        return rc == JET_ENOTFOUND ? JET_ECORRUPT : rc;
    if (rec.kind != JET_TOOLKIT_KIND_ENTRY)
        return JET_ECORRUPT;
    pb = jet__toolkit__entry__unpack(NULL, rec.payload_len, rec.payload);
    if (!pb)
        return JET_ECORRUPT;
    *out = jet__toolkit_entry_adopt(pb);
    return *out ? 0 : JET_ENOMEM;
}

static jet_toolkit_entry *withdrawal_new(const char *id, const uint8_t author[32], uint64_t version,
                                         int64_t when) {
    jet_toolkit_entry *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    memcpy(w->author, author, 32);
    w->version = version;
    w->published = when;
    return w;
}

/* ------------------------------------------------------------------------------------------ */
/* Index: the folded words of an entry with their weights */

typedef struct term {
    char word[JET_TEXTFOLD_MAX_TOKEN + 1];
    uint8_t len;
    uint32_t weight;
} term;

typedef struct terms {
    term *v;
    size_t n, cap;
    uint32_t weight; /* of the field being added */
    int err;
} terms;

enum {
    W_TITLE = 8,
    W_SUMMARY = 4,
    W_ID = 4,
    W_KEYWORD = 2,
    W_BODY = 1,
    W_WEIGHT_MAX = 0xFFFF,
};

/* Words worth indexing: two characters or more, or a number. */
static int indexable(const char *tok, size_t len) {
    uint32_t cp;
    if (len >= 2 && jet_textfold_decode(tok, len, &cp) < len)
        return 1;
    return all_digit(tok, len);
}

static int add_token(const char *tok, size_t len, void *ctx) {
    terms *t = ctx;
    if (!indexable(tok, len))
        return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        term *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return t->err = JET_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    memcpy(t->v[t->n].word, tok, len);
    t->v[t->n].word[len] = 0;
    t->v[t->n].len = (uint8_t)len;
    t->v[t->n].weight = t->weight;
    t->n++;
    return 0;
}

static void add_text(terms *t, const char *s, uint32_t weight) {
    if (!is_set(s) || t->err)
        return;
    t->weight = weight;
    jet_textfold_tokens(s, strlen(s), add_token, t);
}

static int cmp_term(const void *a, const void *b) {
    const term *x = a, *y = b;
    return strcmp(x->word, y->word);
}

/* Collects the distinct words of an entry, weights summed per word. */
static int entry_terms(const Jet__Toolkit__Entry *e, terms *t) {
    memset(t, 0, sizeof *t);
    add_text(t, e->id, W_ID);
    add_text(t, e->title, W_TITLE);
    add_text(t, e->summary, W_SUMMARY);
    add_text(t, e->body, W_BODY);
    add_text(t, e->category, W_KEYWORD);
    add_text(t, e->type, W_KEYWORD);
    add_text(t, e->region, W_KEYWORD);
    if (e->outcomes) {
        add_text(t, e->outcomes->text, W_KEYWORD);
        for (size_t i = 0; i < e->outcomes->n_figures; i++) {
            add_text(t, e->outcomes->figures[i]->label, W_KEYWORD);
            add_text(t, e->outcomes->figures[i]->value, W_KEYWORD);
        }
    }
    for (size_t i = 0; i < e->n_contacts; i++) {
        add_text(t, e->contacts[i]->organisation, W_KEYWORD);
        add_text(t, e->contacts[i]->role, W_BODY);
        add_text(t, e->contacts[i]->address, W_BODY);
    }
    for (size_t i = 0; i < e->n_links; i++)
        add_text(t, e->links[i]->title, W_BODY);
    for (size_t i = 0; i < e->n_translations; i++) {
        add_text(t, e->translations[i]->title, W_TITLE);
        add_text(t, e->translations[i]->summary, W_SUMMARY);
        add_text(t, e->translations[i]->body, W_BODY);
    }
    if (t->err) {
        free(t->v);
        return t->err;
    }
    if (t->n == 0)
        return 0;
    qsort(t->v, t->n, sizeof *t->v, cmp_term);
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (out > 0 && strcmp(t->v[out - 1].word, t->v[i].word) == 0) {
            uint32_t w = t->v[out - 1].weight + t->v[i].weight;
            t->v[out - 1].weight = w > W_WEIGHT_MAX ? W_WEIGHT_MAX : w;
        } else {
            t->v[out++] = t->v[i];
        }
    }
    t->n = out;
    return 0;
}

static size_t posting_key(uint8_t *key, const term *w, const char *id, const uint8_t author[32]) {
    memcpy(key, w->word, w->len);
    key[w->len] = 0;
    return w->len + 1 + entry_key(key + w->len + 1, id, author);
}

static int count_add(jet_txn *txn, int delta) {
    const void *val;
    size_t vlen;
    uint64_t n = 0;
    uint8_t buf[8];
    if (jet_txn_get(txn, JET_DB_TOOLKIT_INDEX, count_key, COUNT_KEY_LEN, &val, &vlen) == 0 &&
        vlen == 8)
        n = jet_get_be64(val);
    n = (delta < 0 && n == 0) ? 0 : n + (uint64_t)(int64_t)delta;
    jet_put_be64(buf, n);
    return jet_txn_put(txn, JET_DB_TOOLKIT_INDEX, count_key, COUNT_KEY_LEN, buf, 8);
}

/* Adds (add = 1) or removes the postings of an entry. */
static int index_entry(jet_txn *txn, const Jet__Toolkit__Entry *e, const uint8_t author[32],
                       int add) {
    terms t;
    uint8_t key[POSTING_KEY_MAX];
    int rc = entry_terms(e, &t);
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        size_t klen = posting_key(key, &t.v[i], e->id, author);
        if (add) {
            uint8_t w[4];
            jet_put_be32(w, t.v[i].weight);
            rc = jet_txn_put(txn, JET_DB_TOOLKIT_INDEX, key, klen, w, 4);
        } else {
            rc = jet_txn_del(txn, JET_DB_TOOLKIT_INDEX, key, klen);
            if (rc == JET_ENOTFOUND)
                rc = 0;
        }
    }
    free(t.v);
    if (rc == 0)
        rc = count_add(txn, add ? 1 : -1);
    return rc;
}

static int unindex_held(jet_txn *txn, const view_val *held, const uint8_t author[32]) {
    jet_toolkit_entry *old = NULL;
    int rc = load_entry(txn, author, held->epoch, held->seq, &old);
    if (rc == 0)
        rc = index_entry(txn, old->pb, author, 0);
    jet_toolkit_entry_free(old);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Apply: the view of the toolkit stream */

/* The history slot of this version: 0 when free, 1 when it holds this very record (apply
 * already ran), JET_EPERM when another record took the version. */
static int hist_check(jet_txn *txn, const char *id, const jet_record *rec, uint64_t version) {
    uint8_t key[ENTRY_KEY_MAX + 8];
    const void *val;
    size_t vlen, klen = hist_key(key, id, rec->origin, version);
    if (jet_txn_get(txn, JET_DB_TOOLKIT_HIST, key, klen, &val, &vlen) != 0)
        return 0;
    if (vlen == HIST_VAL && jet_get_be64((const uint8_t *)val + 1) == rec->epoch &&
        jet_get_be64((const uint8_t *)val + 9) == rec->seq)
        return 1;
    return JET_EPERM;
}

static int hist_put(jet_txn *txn, const char *id, const jet_record *rec, uint64_t version) {
    uint8_t key[ENTRY_KEY_MAX + 8], val[HIST_VAL];
    size_t klen = hist_key(key, id, rec->origin, version);
    val[0] = (uint8_t)rec->kind;
    jet_put_be64(val + 1, rec->epoch);
    jet_put_be64(val + 9, rec->seq);
    return jet_txn_put(txn, JET_DB_TOOLKIT_HIST, key, klen, val, sizeof val);
}

static int apply_entry(jet_txn *txn, const jet_record *rec) {
    Jet__Toolkit__Entry *e = jet__toolkit__entry__unpack(NULL, rec->payload_len, rec->payload);
    view_val held;
    int rc, have;
    if (!e)
        return JET_EDECODE;
    if (e->author.len != 32 || sodium_memcmp(e->author.data, rec->origin, 32) != 0) {
        rc = JET_EPERM; /* forged, or another author's entry re-signed */
        goto done;
    }
    if (e->version == 0 || jet__toolkit_validate_pb(e, NULL) != 0) {
        rc = JET_EVALIDATE;
        goto done;
    }
    rc = hist_check(txn, e->id, rec, e->version);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc;
        goto done;
    }
    rc = view_get(txn, e->id, rec->origin, &held);
    have = rc == 0;
    if (rc != 0 && rc != JET_ENOTFOUND)
        goto done;
    if (have && e->version <= held.version) {
        rc = JET_EPERM; /* a replayed or older version */
        goto done;
    }
    if (have && held.state == STATE_LIVE)
        rc = unindex_held(txn, &held, rec->origin);
    else
        rc = 0;
    if (rc == 0)
        rc = index_entry(txn, e, rec->origin, 1);
    if (rc == 0) {
        view_val v = {STATE_LIVE, e->version, e->published, rec->epoch, rec->seq};
        rc = view_put(txn, e->id, rec->origin, &v);
    }
    if (rc == 0)
        rc = hist_put(txn, e->id, rec, e->version);
done:
    jet__toolkit__entry__free_unpacked(e, NULL);
    return rc;
}

static int apply_withdrawal(jet_txn *txn, const jet_record *rec) {
    Jet__Toolkit__Withdrawal *w =
        jet__toolkit__withdrawal__unpack(NULL, rec->payload_len, rec->payload);
    view_val held;
    int rc;
    if (!w)
        return JET_EDECODE;
    if (w->author.len != 32 || sodium_memcmp(w->author.data, rec->origin, 32) != 0) {
        rc = JET_EPERM; /* only the author withdraws */
        goto done;
    }
    if (!is_set(w->id) || !jet__toolkit_is_slug(w->id) || w->version == 0) {
        rc = JET_EVALIDATE;
        goto done;
    }
    rc = hist_check(txn, w->id, rec, w->version);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc;
        goto done;
    }
    rc = view_get(txn, w->id, rec->origin, &held);
    if (rc != 0)
        goto done; /* JET_ENOTFOUND: nothing to withdraw */
    if (w->version <= held.version) {
        rc = JET_EPERM;
        goto done;
    }
    if (held.state == STATE_LIVE)
        rc = unindex_held(txn, &held, rec->origin);
    if (rc == 0) {
        held.state = STATE_WITHDRAWN;
        held.version = w->version;
        held.published = w->published;
        rc = view_put(txn, w->id, rec->origin, &held);
    }
    if (rc == 0)
        rc = hist_put(txn, w->id, rec, w->version);
done:
    jet__toolkit__withdrawal__free_unpacked(w, NULL);
    return rc;
}

int jet_toolkit_apply(jet_txn *txn, const jet_record *rec) {
    if (rec->stream != JET_STREAM_TOOLKIT)
        return JET_EINVAL;
    switch (rec->kind) {
    case JET_TOOLKIT_KIND_ENTRY: return apply_entry(txn, rec);
    case JET_TOOLKIT_KIND_WITHDRAWAL: return apply_withdrawal(txn, rec);
    default: return JET_EDECODE;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Reading */

typedef struct resolve_ctx {
    const char *id;
    uint8_t author[32];
    int found;
    char others[3 * (JET_NODE_ID_CHARS + 2)];
    size_t olen;
} resolve_ctx;

static int resolve_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    resolve_ctx *c = arg;
    size_t idlen = strlen(c->id);
    (void)val;
    (void)vlen;
    if (klen != idlen + 1 + 32)
        return 0;
    if (c->found == 0)
        memcpy(c->author, (const uint8_t *)key + idlen + 1, 32);
    if (c->found < 3) {
        char nid[JET_NODE_ID_BUF];
        jet_node_id_format((const uint8_t *)key + idlen + 1, nid);
        c->olen += (size_t)snprintf(c->others + c->olen, sizeof c->others - c->olen, "%s%s",
                                    c->found ? ", " : "", nid);
    }
    c->found++;
    return 0;
}

static int resolve_txn(jet_txn *txn, void *arg) {
    resolve_ctx *c = arg;
    uint8_t prefix[JET_TOOLKIT_MAX_ID + 1];
    size_t n = strlen(c->id);
    memcpy(prefix, c->id, n);
    prefix[n] = 0;
    return jet_txn_scan(txn, JET_DB_TOOLKIT, prefix, n + 1, NULL, 0, resolve_one, c);
}

static int exists_txn(jet_txn *txn, void *arg) {
    resolve_ctx *c = arg;
    view_val v;
    return view_get(txn, c->id, c->author, &v);
}

int jet_toolkit_resolve(jet_store *store, const char *ref, uint8_t author[32], char *id,
                        jet_diag *diag) {
    resolve_ctx c;
    const char *slash = strchr(ref, '/');
    int rc;
    memset(&c, 0, sizeof c);
    if (slash) {
        char nid[JET_NODE_ID_BUF];
        size_t n = (size_t)(slash - ref);
        if (n != JET_NODE_ID_CHARS)
            return jet_diag_fail(diag, JET_EINVAL,
                                 "'%.120s': expected ENTRY_ID or AUTHOR_NODE_ID/ENTRY_ID", ref);
        memcpy(nid, ref, n);
        nid[n] = 0;
        if (jet_node_id_parse(nid, c.author) != 0)
            return jet_diag_fail(diag, JET_EINVAL, "'%s' is not a node id", nid);
        c.id = slash + 1;
    } else {
        c.id = ref;
    }
    if (!jet__toolkit_is_slug(c.id))
        return jet_diag_fail(diag, JET_EINVAL,
                             "'%.80s' is not an entry id (a slug such as "
                             "'meglio-dopo-insieme')",
                             c.id);
    if (slash) {
        rc = jet_store_read(store, exists_txn, &c);
        if (rc == JET_ENOTFOUND)
            return jet_diag_fail(diag, rc, "no entry '%s' by author %.43s", c.id, ref);
        if (rc)
            return rc;
    } else {
        rc = jet_store_read(store, resolve_txn, &c);
        if (rc)
            return rc;
        if (c.found == 0)
            return jet_diag_fail(diag, JET_ENOTFOUND, "no entry '%s'", c.id);
        if (c.found > 1)
            return jet_diag_fail(diag, JET_EEXIST,
                                 "%d authors published an entry '%s' (%s%s): name one as "
                                 "AUTHOR_NODE_ID/%s",
                                 c.found, c.id, c.others, c.found > 3 ? ", ..." : "", c.id);
    }
    memcpy(author, c.author, 32);
    snprintf(id, JET_TOOLKIT_MAX_ID + 1, "%s", c.id);
    return 0;
}

typedef struct get_ctx {
    const uint8_t *author;
    const char *id;
    jet_toolkit_entry *entry, *withdrawal;
} get_ctx;

static int get_txn(jet_txn *txn, void *arg) {
    get_ctx *c = arg;
    view_val v;
    int rc = view_get(txn, c->id, c->author, &v);
    if (rc == 0)
        rc = load_entry(txn, c->author, v.epoch, v.seq, &c->entry);
    if (rc == 0 && v.state == STATE_WITHDRAWN) {
        c->withdrawal = withdrawal_new(c->id, c->author, v.version, v.published);
        if (!c->withdrawal)
            rc = JET_ENOMEM;
    }
    return rc;
}

int jet_toolkit_get(jet_store *store, const uint8_t author[32], const char *id,
                    jet_toolkit_entry **out, jet_toolkit_entry **withdrawn) {
    get_ctx c = {author, id, NULL, NULL};
    int rc;
    if (!jet__toolkit_is_slug(id))
        return JET_ENOTFOUND;
    rc = jet_store_read(store, get_txn, &c);
    if (rc) {
        jet_toolkit_entry_free(c.entry);
        jet_toolkit_entry_free(c.withdrawal);
        return rc;
    }
    *out = c.entry;
    if (withdrawn)
        *withdrawn = c.withdrawal;
    else
        jet_toolkit_entry_free(c.withdrawal);
    return 0;
}

/* RFC 4647 basic filtering: `range` matches `tag` when equal or a prefix ending at a '-'. */
static int lang_matches(const char *tag, const char *range) {
    size_t n = strlen(range);
    return tag && strncasecmp(tag, range, n) == 0 && (tag[n] == 0 || tag[n] == '-');
}

static int any_casecmp(char **v, size_t n, const char *want) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], want) == 0)
            return 1;
    return 0;
}

static int filter_match(const Jet__Toolkit__Entry *e, const jet_toolkit_filter *f) {
    if (!f)
        return 1;
    if (f->category && strcasecmp(str_or_empty(e->category), f->category) != 0)
        return 0;
    if (f->country && strcasecmp(str_or_empty(e->country), f->country) != 0)
        return 0;
    if (f->school_level && !any_casecmp(e->school_level, e->n_school_level, f->school_level))
        return 0;
    if (f->intervention_level &&
        !any_casecmp(e->intervention_level, e->n_intervention_level, f->intervention_level))
        return 0;
    if (f->lang) {
        int hit = 0;
        for (size_t i = 0; !hit && i < e->n_languages; i++)
            hit = lang_matches(e->languages[i], f->lang);
        for (size_t i = 0; !hit && i < e->n_translations; i++)
            hit = lang_matches(e->translations[i]->lang, f->lang);
        if (!hit)
            return 0;
    }
    return 1;
}

typedef struct list_ctx {
    jet_txn *txn;
    const jet_toolkit_filter *f;
    jet_toolkit_entry_fn fn;
    void *ctx;
} list_ctx;

static int list_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    list_ctx *c = arg;
    const uint8_t *v = val;
    jet_toolkit_entry *e = NULL;
    int rc;
    if (vlen != VIEW_VAL || klen < 34)
        return JET_ECORRUPT;
    if (v[0] != STATE_LIVE)
        return 0;
    rc = load_entry(c->txn, (const uint8_t *)key + klen - 32, jet_get_be64(v + 17),
                    jet_get_be64(v + 25), &e);
    if (rc)
        return rc;
    if (filter_match(e->pb, c->f))
        rc = c->fn(e, c->ctx);
    jet_toolkit_entry_free(e);
    return rc;
}

static int list_txn(jet_txn *txn, void *arg) {
    list_ctx *c = arg;
    static const uint8_t all[1]; /* an empty prefix; never NULL, memcmp() may not take NULL */
    c->txn = txn;
    return jet_txn_scan(txn, JET_DB_TOOLKIT, all, 0, NULL, 0, list_one, c);
}

int jet_toolkit_list(jet_store *store, const jet_toolkit_filter *f, jet_toolkit_entry_fn fn,
                     void *ctx) {
    list_ctx c = {NULL, f, fn, ctx};
    return jet_store_read(store, list_txn, &c);
}

typedef struct hist_ctx {
    jet_txn *txn;
    const uint8_t *author;
    const char *id;
    jet_toolkit_entry_fn fn;
    void *ctx;
    int seen;
} hist_ctx;

static int hist_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    hist_ctx *c = arg;
    const uint8_t *v = val;
    jet_toolkit_entry *e = NULL;
    int rc;
    if (vlen != HIST_VAL || klen < 8)
        return JET_ECORRUPT;
    c->seen++;
    if (v[0] == JET_TOOLKIT_KIND_ENTRY) {
        rc = load_entry(c->txn, c->author, jet_get_be64(v + 1), jet_get_be64(v + 9), &e);
        if (rc)
            return rc;
    } else {
        jet_record rec;
        Jet__Toolkit__Withdrawal *w;
        rc = jet_log_get(c->txn, JET_STREAM_TOOLKIT, c->author, jet_get_be64(v + 1),
                         jet_get_be64(v + 9), &rec);
        if (rc)
            return rc == JET_ENOTFOUND ? JET_ECORRUPT : rc;
        w = jet__toolkit__withdrawal__unpack(NULL, rec.payload_len, rec.payload);
        if (!w)
            return JET_ECORRUPT;
        e = withdrawal_new(c->id, c->author, w->version, w->published);
        jet__toolkit__withdrawal__free_unpacked(w, NULL);
        if (!e)
            return JET_ENOMEM;
    }
    rc = c->fn(e, c->ctx);
    jet_toolkit_entry_free(e);
    return rc;
}

static int hist_txn(jet_txn *txn, void *arg) {
    hist_ctx *c = arg;
    uint8_t prefix[ENTRY_KEY_MAX];
    size_t plen = entry_key(prefix, c->id, c->author);
    c->txn = txn;
    return jet_txn_scan(txn, JET_DB_TOOLKIT_HIST, prefix, plen, NULL, 0, hist_one, c);
}

int jet_toolkit_history(jet_store *store, const uint8_t author[32], const char *id,
                        jet_toolkit_entry_fn fn, void *ctx) {
    hist_ctx c = {NULL, author, id, fn, ctx, 0};
    int rc;
    if (!jet__toolkit_is_slug(id))
        return JET_ENOTFOUND;
    rc = jet_store_read(store, hist_txn, &c);
    if (rc == 0 && c.seen == 0)
        rc = JET_ENOTFOUND;
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Search */

/* One posting read for one query word: the entry key and the word's weight in it. */
typedef struct hit {
    uint8_t key[ENTRY_KEY_MAX]; /* id NUL author */
    uint8_t klen;
    uint8_t word;  /* index of the query word */
    double weight; /* weight of the best matching index word (prefix matches count half) */
} hit;

typedef struct search_ctx {
    jet_txn *txn;
    term words[MAX_QUERY_WORDS];
    size_t nwords;
    size_t cur;     /* query word being read */
    size_t visited; /* postings read for the current word */
    hit *hits;
    size_t nhits, cap;
    jet_toolkit_hit_fn fn;
    void *ctx;
} search_ctx;

static int add_query_word(const char *tok, size_t len, void *arg) {
    search_ctx *c = arg;
    if (!indexable(tok, len) || c->nwords == MAX_QUERY_WORDS)
        return 0;
    for (size_t i = 0; i < c->nwords; i++)
        if (c->words[i].len == len && memcmp(c->words[i].word, tok, len) == 0)
            return 0;
    memcpy(c->words[c->nwords].word, tok, len);
    c->words[c->nwords].word[len] = 0;
    c->words[c->nwords].len = (uint8_t)len;
    c->nwords++;
    return 0;
}

static int posting_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    search_ctx *c = arg;
    const uint8_t *k = key;
    const uint8_t *nul = memchr(k, 0, klen);
    size_t wlen, elen;
    if (!nul || vlen != 4)
        return JET_ECORRUPT;
    if (++c->visited > MAX_PREFIX_KEYS)
        return 1; /* enough: a prefix this common says little */
    wlen = (size_t)(nul - k);
    elen = klen - wlen - 1;
    if (elen > ENTRY_KEY_MAX || elen < 34)
        return JET_ECORRUPT;
    if (c->nhits == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        hit *h = realloc(c->hits, cap * sizeof *h);
        if (!h)
            return JET_ENOMEM;
        c->hits = h;
        c->cap = cap;
    }
    hit *h = &c->hits[c->nhits++];
    memcpy(h->key, nul + 1, elen);
    h->klen = (uint8_t)elen;
    h->word = (uint8_t)c->cur;
    h->weight = jet_get_be32(val) * (wlen == c->words[c->cur].len ? 1.0 : 0.5);
    return 0;
}

static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return (int)x->word - (int)y->word;
}

typedef struct result {
    const hit *h; /* the entry's first hit, for its key */
    unsigned matched;
    double score;
} result;

static int cmp_result(const void *a, const void *b) {
    const result *x = a, *y = b;
    if (x->matched != y->matched)
        return x->matched > y->matched ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return cmp_hit(x->h, y->h);
}

static int search_txn(jet_txn *txn, void *arg) {
    search_ctx *c = arg;
    size_t df[MAX_QUERY_WORDS] = {0};
    result *res = NULL;
    size_t nres = 0;
    uint64_t total = 0;
    const void *val;
    size_t vlen;
    int rc = 0;
    c->txn = txn;
    c->nhits = 0;
    if (jet_txn_get(txn, JET_DB_TOOLKIT_INDEX, count_key, COUNT_KEY_LEN, &val, &vlen) == 0 &&
        vlen == 8)
        total = jet_get_be64(val);
    /* Postings of each word; a word of 3 characters or more also reads the longer words that
     * start with it (the keys between "word" and "word\xff"). */
    for (c->cur = 0; c->cur < c->nwords && rc == 0; c->cur++) {
        uint8_t prefix[JET_TEXTFOLD_MAX_TOKEN + 1];
        term *w = &c->words[c->cur];
        size_t plen = w->len;
        uint32_t cp;
        memcpy(prefix, w->word, w->len);
        if (jet_textfold_decode(w->word, w->len, &cp) + 1 >= w->len) /* fewer than 3 chars */
            prefix[plen++] = 0;
        c->visited = 0;
        rc = jet_txn_scan(txn, JET_DB_TOOLKIT_INDEX, prefix, plen, NULL, 0, posting_one, c);
    }
    if (rc)
        goto done;
    if (c->nhits > 0)
        qsort(c->hits, c->nhits, sizeof *c->hits, cmp_hit);
    /* Keep, per entry and word, the best hit; count the entries per word. */
    size_t out = 0;
    for (size_t i = 0; i < c->nhits; i++) {
        if (out > 0 && c->hits[out - 1].klen == c->hits[i].klen &&
            c->hits[out - 1].word == c->hits[i].word &&
            memcmp(c->hits[out - 1].key, c->hits[i].key, c->hits[i].klen) == 0) {
            if (c->hits[i].weight > c->hits[out - 1].weight)
                c->hits[out - 1].weight = c->hits[i].weight;
            continue;
        }
        c->hits[out++] = c->hits[i];
        df[c->hits[i].word]++;
    }
    c->nhits = out;
    res = calloc(out ? out : 1, sizeof *res);
    if (!res) {
        rc = JET_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c->nhits; i++) {
        const hit *h = &c->hits[i];
        double n = (double)(total > df[h->word] ? total : df[h->word]);
        double idf = log(1.0 + (n - (double)df[h->word] + 0.5) / ((double)df[h->word] + 0.5));
        double tf = h->weight * 2.2 / (h->weight + 1.2);
        if (nres == 0 || res[nres - 1].h->klen != h->klen ||
            memcmp(res[nres - 1].h->key, h->key, h->klen) != 0)
            res[nres++] = (result){h, 0, 0.0};
        res[nres - 1].matched++;
        res[nres - 1].score += idf * tf;
    }
    if (nres > 0)
        qsort(res, nres, sizeof *res, cmp_result);
    for (size_t i = 0; i < nres && i < JET_TOOLKIT_MAX_RESULTS && rc == 0; i++) {
        const hit *h = res[i].h;
        char id[JET_TOOLKIT_MAX_ID + 1];
        size_t idlen = (size_t)h->klen - 33;
        view_val v;
        jet_toolkit_entry *e = NULL;
        memcpy(id, h->key, idlen);
        id[idlen] = 0;
        rc = view_get(txn, id, h->key + idlen + 1, &v);
        if (rc == 0 && v.state != STATE_LIVE)
            continue; /* cannot happen: withdrawn entries have no postings */
        if (rc == 0)
            rc = load_entry(txn, h->key + idlen + 1, v.epoch, v.seq, &e);
        if (rc == 0)
            rc = c->fn(e, res[i].score, c->ctx);
        jet_toolkit_entry_free(e);
    }
    if (rc > 0)
        rc = 0;
done:
    free(res);
    return rc;
}

int jet_toolkit_search(jet_store *store, const char *text, jet_toolkit_hit_fn fn, void *ctx) {
    search_ctx c;
    int rc;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.ctx = ctx;
    jet_textfold_tokens(text, strlen(text), add_query_word, &c);
    if (c.nwords == 0)
        return JET_EINVAL;
    rc = jet_store_read(store, search_txn, &c);
    free(c.hits);
    return rc;
}
