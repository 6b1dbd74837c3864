/* stats_view.c - reading the statistics view: the current releases matching a filter, decoded
 * from their signed chunk records, and the rates derived from their published counts.
 *
 * Rows are built in order (region, indicator in catalogue order, period, table order) without a
 * sort of the rows: the releases are sorted once and each indicator's rows emitted in turn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "pbarena.h"
#include "stats.h"
#include "stats.pb-c.h"
#include "stats_internal.h"

/* ---- reading the view ---------------------------------------------------------------------- */

typedef struct vrel {
    jet_stats_release info;
    int ind; /* catalogue index */
    long pstart;
    unsigned ndims;
    unsigned dim[JET_SDC_MAX_DIMS];
    unsigned size[JET_SDC_MAX_DIMS];
    size_t stride[JET_SDC_MAX_DIMS];
    char **cat[JET_SDC_MAX_DIMS];
    int64_t *value;
    uint8_t *status;
} vrel;

typedef struct vrow {
    uint32_t rel;
    uint16_t ind;
    uint8_t supp;
    size_t cell;
    double value;
} vrow;

struct jet_stats_view {
    vrel *rel;
    size_t nrel, relcap;
    vrow *row;
    size_t nrow, rowcap;
    jet_diag *diag;
    const jet_stats_filter *filter;
    int want[64]; /* catalogue indexes whose releases are read */
};

static void vrel_fini(vrel *r) {
    for (unsigned a = 0; a < r->ndims; a++) {
        for (unsigned c = 0; c < r->size[a]; c++)
            free(r->cat[a][c]);
        free(r->cat[a]);
    }
    free(r->value);
    free(r->status);
}

void jet_stats_view_free(jet_stats_view *v) {
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->nrel; i++)
        vrel_fini(&v->rel[i]);
    free(v->rel);
    free(v->row);
    free(v);
}

typedef struct read_ctx {
    jet_stats_view *v;
    jet_txn *txn;
    vrel *cur;
    size_t key_len;
    int figures; /* reading the lead's figures (stream and key space) */
    int rc;
    /* The last bundle record read (owned), with its origin, epoch and seq: the releases of a
     * bundle are mostly read one after another, and each would decode it whole again. */
    Jet__StatsBundle *bundle;
    uint8_t bundle_ref[32 + REF_LEN];
} read_ctx;

/* The record of kind `kind` that `ref` (epoch, seq) points at in the log of the release being
 * read; 0, or nonzero if the log holds no such record. */
static int record_at(read_ctx *c, const uint8_t *ref, uint32_t kind, jet_record *rec) {
    int rc = jet_log_get(c->txn, c->figures ? JET_STREAM_FIGURES : JET_STREAM_STATS,
                         c->cur->info.origin, jet_get_be64(ref), jet_get_be64(ref + 8), rec);
    return rc != 0 ? rc : rec->kind != kind;
}

static void bundle_drop(read_ctx *c) {
    if (c->bundle != NULL)
        jet__stats_bundle__free_unpacked(c->bundle, NULL);
    c->bundle = NULL;
}

/* The bundle record `ref` points at, decoded (owned by `c`); NULL if the log holds none. */
static const Jet__StatsBundle *bundle_at(read_ctx *c, const uint8_t *ref) {
    uint8_t id[32 + REF_LEN];
    memcpy(id, c->cur->info.origin, 32);
    memcpy(id + 32, ref, REF_LEN);
    if (c->bundle != NULL && memcmp(id, c->bundle_ref, sizeof id) == 0)
        return c->bundle;
    bundle_drop(c);
    jet_record rec;
    if (record_at(c, ref, JET_STATS_KIND_BUNDLE, &rec) != 0)
        return NULL;
    c->bundle = jet__stats_bundle__unpack(NULL, rec.payload_len, rec.payload);
    memcpy(c->bundle_ref, id, sizeof id);
    return c->bundle;
}

/* The chunk `ref` (ref_len bytes) points at: a chunk record, or an item of a bundle record.
 * NULL if the log does not hold it as the view says. */
static Jet__StatsChunk *unpack_ref(read_ctx *c, const uint8_t *ref, size_t ref_len,
                                   ProtobufCAllocator *arena) {
    if (ref_len == BUNDLE_REF_LEN) {
        const Jet__StatsBundle *b = bundle_at(c, ref);
        uint32_t item = jet_get_be32(ref + REF_LEN);
        if (b == NULL || item >= b->n_chunk)
            return NULL;
        return jet__stats_chunk__unpack(arena, b->chunk[item].len, b->chunk[item].data);
    }
    jet_record rec;
    if (record_at(c, ref, JET_STATS_KIND_CHUNK, &rec) != 0)
        return NULL;
    return jet__stats_chunk__unpack(arena, rec.payload_len, rec.payload);
}

/* Loads one chunk into the release being read. */
static int load_chunk(read_ctx *c, const uint8_t *ref, size_t ref_len, uint32_t index) {
    vrel *r = c->cur;
    int rc = 0;
    ProtobufCAllocator *arena = jet_pbarena_begin(); /* a report reads thousands of chunks */
    Jet__StatsChunk *m = unpack_ref(c, ref, ref_len, arena);
    if (m == NULL) {
        jet_pbarena_end(arena);
        return JET_ECORRUPT;
    }
    if (!jet__stats_chunk_valid(m) || m->chunk_index != index || m->ncells != r->info.ncells ||
        m->version != r->info.version) {
        rc = JET_ECORRUPT;
        goto out;
    }
    if (index == 0) {
        r->info.noise_epsilon_milli = m->noise_epsilon_milli;
        if (m->source_origin.len == 32)
            memcpy(r->info.source, m->source_origin.data, 32);
        r->ndims = (unsigned)m->n_dims;
        for (unsigned a = 0; a < r->ndims; a++) {
            r->dim[a] = m->dims[a]->dim;
            r->size[a] = (unsigned)m->dims[a]->n_category;
            r->cat[a] = calloc(r->size[a], sizeof *r->cat[a]);
            if (r->cat[a] == NULL) {
                r->size[a] = 0;
                rc = JET_ENOMEM;
                goto out;
            }
            for (unsigned k = 0; k < r->size[a]; k++)
                if ((r->cat[a][k] = strdup(m->dims[a]->category[k])) == NULL) {
                    rc = JET_ENOMEM;
                    goto out;
                }
        }
        for (unsigned a = r->ndims; a-- > 0;)
            r->stride[a] = a + 1 == r->ndims ? 1 : r->stride[a + 1] * (r->size[a + 1] + 1);
    }
    if (m->n_value > 0) {
        memcpy(r->value + m->first_cell, m->value, m->n_value * sizeof *m->value);
        memcpy(r->status + m->first_cell, m->status.data, m->n_value);
    }
out:
    jet__stats_chunk__free_unpacked(m, arena);
    jet_pbarena_end(arena);
    return rc;
}

static int read_ref(const void *key, size_t klen, const void *val, size_t vlen, void *ctx) {
    read_ctx *c = ctx;
    if (klen != c->key_len + 4 || (vlen != REF_LEN && vlen != BUNDLE_REF_LEN))
        return JET_ECORRUPT;
    return load_chunk(c, val, vlen, jet_get_be32((const uint8_t *)key + c->key_len));
}

static int read_release(const void *key, size_t klen, const void *val, size_t vlen, void *ctx) {
    read_ctx *c = ctx;
    jet_stats_view *v = c->v;
    const char *parts[3];
    const char *k = key;
    size_t off = 0;
    jet__stats_header h;
    vrel *r;
    int rc;

    if (vlen != HDR_LEN || klen > REL_KEY_MAX || klen < 1 || k[klen - 1] != '\0')
        return JET_ECORRUPT;
    /* The two key spaces: the lead's figures (first byte FIGURES_KEY_BYTE) and the releases. */
    if ((k[0] == FIGURES_KEY_BYTE) != c->figures)
        return 0;
    if (c->figures)
        off = 1;
    for (int i = 0; i < 3; i++) {
        if (off >= klen)
            return JET_ECORRUPT;
        parts[i] = k + off;
        off += strlen(k + off) + 1;
    }
    if (off != klen || strlen(parts[0]) > JET_CODE_MAX || strlen(parts[1]) > JET_CODE_MAX ||
        strlen(parts[2]) > JET_PERIOD_MAX)
        return JET_ECORRUPT;
    int ind = jet_indicators_index(parts[1]);
    if (ind < 0 || !v->want[ind])
        return 0; /* an indicator this build does not know, or not asked for */
    if (v->filter != NULL && v->filter->region != NULL && strcmp(v->filter->region, parts[0]) != 0)
        return 0;
    if (v->filter != NULL && v->filter->period != NULL && strcmp(v->filter->period, parts[2]) != 0)
        return 0;
    jet__stats_header_get(val, &h);
    if (h.ncells == 0 || h.ncells > JET_STATS_MAX_CELLS || h.nchunks == 0)
        return JET_ECORRUPT;
    if (v->nrel == v->relcap) {
        size_t ncap = v->relcap ? v->relcap * 2 : 16;
        vrel *nr = realloc(v->rel, ncap * sizeof *nr);
        if (nr == NULL)
            return JET_ENOMEM;
        v->rel = nr;
        v->relcap = ncap;
    }
    r = &v->rel[v->nrel];
    memset(r, 0, sizeof *r);
    snprintf(r->info.region, sizeof r->info.region, "%s", parts[0]);
    snprintf(r->info.indicator, sizeof r->info.indicator, "%s", parts[1]);
    snprintf(r->info.period, sizeof r->info.period, "%s", parts[2]);
    r->info.version = h.version;
    r->info.import_time = h.import_time;
    memcpy(r->info.origin, h.origin, 32);
    memcpy(r->info.source, h.origin, 32);
    r->info.k = h.k;
    r->info.ncells = h.ncells;
    r->info.suppressed = h.suppressed;
    r->ind = ind;
    r->pstart = jet_indicators_period_start(parts[2]);
    r->value = calloc(h.ncells, sizeof *r->value);
    r->status = calloc(h.ncells, 1);
    v->nrel++;
    if (r->value == NULL || r->status == NULL)
        return JET_ENOMEM;
    c->cur = r;
    c->key_len = klen;
    rc = jet_txn_scan(c->txn, JET_DB_STATS_CELLS, key, klen, NULL, 0, read_ref, c);
    if (rc != 0)
        return rc;
    uint64_t cells = 1;
    for (unsigned a = 0; a < r->ndims; a++)
        cells *= r->size[a] + 1;
    if (cells != h.ncells)
        return JET_ECORRUPT;
    return 0;
}

static int read_fn(jet_txn *txn, void *ctx) {
    read_ctx *c = ctx;
    uint8_t prefix[JET_CODE_MAX + 3];
    size_t plen = 0;
    c->txn = txn;
    if (c->figures)
        prefix[plen++] = FIGURES_KEY_BYTE;
    if (c->v->filter != NULL && c->v->filter->region != NULL &&
        strlen(c->v->filter->region) <= JET_CODE_MAX) {
        memcpy(prefix + plen, c->v->filter->region, strlen(c->v->filter->region) + 1);
        plen += strlen(c->v->filter->region) + 1;
    }
    int rc = jet_txn_scan(txn, JET_DB_STATS, prefix, plen, NULL, 0, read_release, c);
    bundle_drop(c);
    return rc;
}

static int cmp_vrel(const void *a, const void *b) {
    const vrel *x = a, *y = b;
    int c = strcmp(x->info.region, y->info.region);
    if (c != 0)
        return c;
    if (x->ind != y->ind)
        return x->ind < y->ind ? -1 : 1;
    if (x->pstart != y->pstart)
        return x->pstart < y->pstart ? -1 : 1;
    return strcmp(x->info.period, y->info.period);
}

static int push_row(jet_stats_view *v, uint32_t rel, int ind, size_t cell, double value, int supp) {
    if (v->nrow == v->rowcap) {
        size_t ncap = v->rowcap ? v->rowcap * 2 : 1024;
        vrow *nr = realloc(v->row, ncap * sizeof *nr);
        if (nr == NULL)
            return JET_ENOMEM;
        v->row = nr;
        v->rowcap = ncap;
    }
    v->row[v->nrow].rel = rel;
    v->row[v->nrow].ind = (uint16_t)ind;
    v->row[v->nrow].supp = (uint8_t)supp;
    v->row[v->nrow].cell = cell;
    v->row[v->nrow].value = value;
    v->nrow++;
    return 0;
}

/* The code of logical dimension d of a cell of r. */
static const char *cell_code(const vrel *r, size_t cell, unsigned d) {
    for (unsigned a = 0; a < r->ndims; a++) {
        if (r->dim[a] != d)
            continue;
        size_t c = (cell / r->stride[a]) % (r->size[a] + 1);
        return c == r->size[a] ? JET_TOTAL_CODE : r->cat[a][c];
    }
    return JET_TOTAL_CODE;
}

static uint64_t hash_code(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* 1 when two category lists are the same (the usual case: numerator and denominator broken
 * down alike), so that category c of one is category c of the other. */
static int same_categories(char *const *a, unsigned na, char *const *b, unsigned nb) {
    if (na != nb)
        return 0;
    for (unsigned i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

/* An open-addressing index (size a power of two, at least 2n) of category -> position + 1. */
static int category_index(char *const *cat, unsigned n, uint32_t **out) {
    size_t size = 16;
    while (size < (size_t)n * 2)
        size *= 2;
    uint32_t *h = calloc(size + 1, sizeof *h);
    if (h == NULL)
        return JET_ENOMEM;
    h[0] = (uint32_t)(size - 1); /* the mask; slots follow */
    for (unsigned i = 0; i < n; i++) {
        size_t j = hash_code(cat[i]) & (size - 1);
        while (h[1 + j] != 0)
            j = (j + 1) & (size - 1);
        h[1 + j] = i + 1;
    }
    *out = h;
    return 0;
}

/* Position of `code` in `cat` (n entries); `hint` is where it is when the lists are the same
 * (index NULL). Returns -1 when absent. */
static long find_category(char *const *cat, unsigned n, const char *code, unsigned hint,
                          const uint32_t *index) {
    if (index == NULL)
        return hint < n && strcmp(cat[hint], code) == 0 ? (long)hint : -1;
    size_t mask = index[0];
    for (size_t j = hash_code(code) & mask; index[1 + j] != 0; j = (j + 1) & mask)
        if (strcmp(cat[index[1 + j] - 1], code) == 0)
            return (long)index[1 + j] - 1;
    return -1;
}

/* Derives the rate `ind` from numerator release n and denominator release d. Cells of n whose
 * breakdown d does not have are left out. */
static int derive_rate(jet_stats_view *v, uint32_t ni, const vrel *d, int ind, unsigned k_min) {
    const vrel *n = &v->rel[ni];
    size_t *map[JET_SDC_MAX_DIMS] = {0};
    uint32_t *hash[JET_SDC_MAX_DIMS] = {0};
    size_t dpos[JET_DIM__COUNT];
    unsigned k = k_min;
    int rc = 0;
    if (n->info.k > k)
        k = n->info.k;
    if (d->info.k > k)
        k = d->info.k;
    /* For each dimension of n: category index -> offset in d (SIZE_MAX: d lacks it). */
    for (unsigned dd = 0; dd < JET_DIM__COUNT; dd++)
        dpos[dd] = SIZE_MAX;
    for (unsigned b = 0; b < d->ndims; b++)
        dpos[d->dim[b]] = b;
    for (unsigned a = 0; a < n->ndims; a++) {
        map[a] = malloc((n->size[a] + 1) * sizeof *map[a]);
        if (map[a] == NULL) {
            rc = JET_ENOMEM;
            goto out;
        }
        size_t b = dpos[n->dim[a]];
        if (b != SIZE_MAX && !same_categories(n->cat[a], n->size[a], d->cat[b], d->size[b]) &&
            (rc = category_index(d->cat[b], d->size[b], &hash[a])) != 0)
            goto out;
        for (unsigned c = 0; c <= n->size[a]; c++) {
            if (b == SIZE_MAX) {
                map[a][c] = c == n->size[a] ? 0 : SIZE_MAX;
                continue;
            }
            map[a][c] = SIZE_MAX;
            if (c == n->size[a]) {
                map[a][c] = d->size[b] * d->stride[b];
                continue;
            }
            long e = find_category(d->cat[b], d->size[b], n->cat[a][c], c, hash[a]);
            if (e >= 0)
                map[a][c] = (size_t)e * d->stride[b];
        }
    }
    /* Dimensions d has and n lacks are taken at their total. */
    size_t dbase = 0;
    for (unsigned b = 0; b < d->ndims; b++) {
        int in_n = 0;
        for (unsigned a = 0; a < n->ndims; a++)
            in_n |= n->dim[a] == d->dim[b];
        if (!in_n)
            dbase += d->size[b] * d->stride[b];
    }
    for (size_t cell = 0; cell < n->info.ncells; cell++) {
        size_t dc = dbase;
        int ok = 1;
        for (unsigned a = 0; a < n->ndims && ok; a++) {
            size_t c = (cell / n->stride[a]) % (n->size[a] + 1);
            if (map[a][c] == SIZE_MAX)
                ok = 0;
            else
                dc += map[a][c];
        }
        if (!ok)
            continue;
        int64_t num = n->value[cell], den = d->value[dc];
        int supp = n->status[cell] || d->status[dc] || den < 2 * (int64_t)k ||
                   (num >= 1 && num <= (int64_t)k - 1) ||
                   (den - num >= 1 && den - num <= (int64_t)k - 1);
        double val = supp ? 0.0 : round((double)num * 1000.0 / (double)den) / 10.0;
        rc = push_row(v, ni, ind, cell, val, supp);
        if (rc != 0)
            goto out;
    }
out:
    for (unsigned a = 0; a < n->ndims; a++) {
        free(map[a]);
        free(hash[a]);
    }
    return rc;
}

static int build_rows(jet_stats_view *v, unsigned k_min) {
    size_t ncat = jet_indicators_count();
    const char *want = v->filter != NULL ? v->filter->indicator : NULL;
    for (size_t i = 0; i < v->nrel;) {
        size_t end = i;
        while (end < v->nrel && strcmp(v->rel[end].info.region, v->rel[i].info.region) == 0)
            end++;
        for (size_t ci = 0; ci < ncat; ci++) {
            const jet_indicator *def = jet_indicators_at(ci);
            if (want != NULL && strcmp(want, def->code) != 0)
                continue;
            if (def->kind == JET_INDICATOR_COUNT) {
                for (size_t r = i; r < end; r++) {
                    const vrel *rel = &v->rel[r];
                    if ((size_t)rel->ind != ci)
                        continue;
                    for (size_t cell = 0; cell < rel->info.ncells; cell++) {
                        int rc = push_row(v, (uint32_t)r, (int)ci, cell, (double)rel->value[cell],
                                          rel->status[cell] != 0);
                        if (rc != 0)
                            return rc;
                    }
                }
                continue;
            }
            int ni = jet_indicators_index(def->numerator),
                di = jet_indicators_index(def->denominator);
            for (size_t r = i; r < end; r++) {
                if (v->rel[r].ind != ni)
                    continue;
                for (size_t q = i; q < end; q++) {
                    if (v->rel[q].ind == di &&
                        strcmp(v->rel[q].info.period, v->rel[r].info.period) == 0) {
                        int rc = derive_rate(v, (uint32_t)r, &v->rel[q], (int)ci, k_min);
                        if (rc != 0)
                            return rc;
                    }
                }
            }
        }
        i = end;
    }
    return 0;
}

/* A new view with the indicators `filter` asks for marked in want[]. */
static jet_stats_view *view_new(const jet_stats_filter *filter) {
    jet_stats_view *v = calloc(1, sizeof *v);
    size_t ncat = jet_indicators_count();
    if (v == NULL)
        return NULL;
    v->filter = filter;
    for (size_t i = 0; i < ncat && i < 64; i++) {
        const jet_indicator *def = jet_indicators_at(i);
        const char *want = filter != NULL ? filter->indicator : NULL;
        if (def->kind != JET_INDICATOR_COUNT)
            continue;
        v->want[i] = want == NULL || strcmp(want, def->code) == 0;
        if (want != NULL && !v->want[i]) {
            const jet_indicator *rate = jet_indicators_find(want);
            if (rate != NULL && rate->kind == JET_INDICATOR_RATE &&
                (strcmp(rate->numerator, def->code) == 0 ||
                 strcmp(rate->denominator, def->code) == 0))
                v->want[i] = 1;
        }
    }
    return v;
}

int jet_stats_view_open(jet_store *store, const jet_stats_filter *filter, unsigned k_min,
                        jet_stats_view **out, jet_diag *diag) {
    jet_stats_view *v = view_new(filter);
    read_ctx c;
    int rc;

    *out = NULL;
    if (v == NULL)
        return jet_diag_fail(diag, JET_ENOMEM, "out of memory");
    v->diag = diag;
    memset(&c, 0, sizeof c);
    c.v = v;
    c.figures = filter != NULL && filter->figures;
    rc = jet_store_read(store, read_fn, &c);
    if (rc == 0) {
        if (v->nrel > 1)
            qsort(v->rel, v->nrel, sizeof *v->rel, cmp_vrel);
        rc = build_rows(v, k_min);
    }
    v->filter = NULL;
    v->diag = NULL;
    if (rc != 0) {
        jet_stats_view_free(v);
        return jet_diag_fail(diag, rc, "reading the statistics: %s",
                             rc == JET_ECORRUPT ? "a release in the store cannot be decoded"
                                                : jet_strerror(rc));
    }
    *out = v;
    return 0;
}

size_t jet_stats_view_rows(const jet_stats_view *v) {
    return v->nrow;
}

void jet_stats_view_row(const jet_stats_view *v, size_t i, jet_stats_row *row) {
    const vrow *vr = &v->row[i];
    const vrel *r = &v->rel[vr->rel];
    row->region = r->info.region;
    row->def = jet_indicators_at(vr->ind);
    row->indicator = row->def->code;
    row->period = r->info.period;
    for (unsigned d = 0; d < JET_DIM__COUNT; d++)
        row->code[d] = cell_code(r, vr->cell, d);
    row->value = vr->value;
    row->suppressed = vr->supp;
    row->release = vr->rel;
}

int jet_stats_view_row_is_total(const jet_stats_view *v, size_t i) {
    const vrow *vr = &v->row[i];
    return vr->cell + 1 == v->rel[vr->rel].info.ncells;
}

size_t jet_stats_view_releases(const jet_stats_view *v) {
    return v->nrel;
}

const jet_stats_release *jet_stats_view_release(const jet_stats_view *v, size_t i) {
    return &v->rel[i].info;
}

/* ---- publishing the lead's figures --------------------------------------------------------- */

typedef struct publish_ctx {
    const uint8_t *sk;
    size_t published;
    jet_diag *diag;
} publish_ctx;

/* 1 when the figures already repeat release r (same version and import). */
static int already_published(jet_txn *txn, const vrel *r) {
    uint8_t key[REL_KEY_MAX];
    size_t klen = jet__stats_rel_key(key, 1, r->info.region, r->info.indicator, r->info.period);
    const void *val;
    size_t vlen;
    jet__stats_header h;
    if (jet_txn_get(txn, JET_DB_STATS, key, klen, &val, &vlen) != 0 || vlen != HDR_LEN)
        return 0;
    jet__stats_header_get(val, &h);
    return h.version == r->info.version && h.import_time == r->info.import_time;
}

static int publish_release(jet_txn *txn, publish_ctx *p, const vrel *r) {
    size_t nchunks = (r->info.ncells + JET_STATS_CHUNK_CELLS - 1) / JET_STATS_CHUNK_CELLS;
    for (size_t c = 0; c < nchunks; c++) {
        jet_stats_chunk_spec spec;
        uint8_t *payload = NULL;
        size_t plen = 0;
        int rc;
        memset(&spec, 0, sizeof spec);
        spec.region = r->info.region;
        spec.indicator = r->info.indicator;
        spec.period = r->info.period;
        spec.version = r->info.version;
        spec.chunk_index = (uint32_t)c;
        spec.chunk_count = (uint32_t)nchunks;
        spec.import_time = r->info.import_time;
        spec.k = r->info.k;
        spec.noise_epsilon_milli = r->info.noise_epsilon_milli;
        spec.source_origin = r->info.source;
        spec.ndims = r->ndims;
        for (unsigned a = 0; a < r->ndims; a++) {
            spec.dim[a] = r->dim[a];
            spec.size[a] = r->size[a];
            spec.category[a] = (const char *const *)r->cat[a];
        }
        spec.ncells = r->info.ncells;
        spec.first_cell = c * JET_STATS_CHUNK_CELLS;
        spec.len = r->info.ncells - spec.first_cell < JET_STATS_CHUNK_CELLS
                       ? r->info.ncells - spec.first_cell
                       : JET_STATS_CHUNK_CELLS;
        spec.value = r->value + spec.first_cell;
        spec.status = r->status + spec.first_cell;
        rc = jet_stats_chunk_encode(&spec, &payload, &plen);
        if (rc == 0)
            rc = jet_record_append(txn, p->sk, JET_STREAM_FIGURES, JET_STATS_KIND_CHUNK, payload,
                                   plen, NULL);
        free(payload);
        if (rc != 0)
            return jet_diag_fail(p->diag, rc, "publishing %s %s %s: %s", r->info.region,
                                 r->info.indicator, r->info.period, jet_strerror(rc));
    }
    return 0;
}

static int publish_fn(jet_txn *txn, void *arg) {
    publish_ctx *p = arg;
    jet_stats_view *v = view_new(NULL);
    read_ctx c;
    int rc;
    if (v == NULL)
        return JET_ENOMEM;
    p->published = 0;
    memset(&c, 0, sizeof c);
    c.v = v;
    rc = read_fn(txn, &c);
    for (size_t i = 0; rc == 0 && i < v->nrel; i++) {
        if (already_published(txn, &v->rel[i]))
            continue;
        rc = publish_release(txn, p, &v->rel[i]);
        if (rc == 0)
            p->published++;
    }
    jet_stats_view_free(v);
    return rc;
}

int jet_stats_publish_figures(jet_store *store, const uint8_t sk[64], size_t *published,
                              jet_diag *diag) {
    publish_ctx p = {sk, 0, diag};
    int rc = jet_store_write(store, publish_fn, &p);
    if (rc != 0 && diag != NULL && diag->msg[0] == '\0')
        jet_diag_fail(diag, rc, "publishing the figures: %s", jet_strerror(rc));
    if (published != NULL)
        *published = rc == 0 ? p.published : 0;
    return rc;
}
