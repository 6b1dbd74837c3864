/* stats.c - observations -> protected hypercubes -> signed release chunks, and the view.
 *
 * Sections: string interning; the observation set; building tables with their totals;
 * optional noise; protection and audit (common/sdc.h); chunk encoding; the view applied to every
 * stats record (local or received); the import transaction. Reading the view with the derived
 * rates is in stats_view.c.
 *
 * Tables are flat arrays (row-major, each dimension's total at its last index), built with a
 * counting sort of the observations by (indicator, period): no per-cell hash map. A release's
 * cells travel as packed protobuf arrays of JET_STATS_CHUNK_CELLS cells per signed record. */
#include "stats.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlaplace.h"
#include "encoding.h"
#include "pbarena.h"
#include "stats.pb-c.h"
#include "stats_internal.h"
#include "views.h"

/* ---- string interning ---------------------------------------------------------------------- */

/* Ids start at 1; 0 means "none" (for breakdowns: the total). */
typedef struct strtab {
    char **str;
    size_t n, cap;
    uint32_t *slot;
    size_t nslot;
} strtab;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int strtab_grow(strtab *t) {
    size_t nslot = t->nslot ? t->nslot * 2 : 64;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (slot == NULL)
        return JET_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_str(t->str[i]) & (nslot - 1);
        while (slot[j] != 0)
            j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

/* Returns the id of `s` (interning it), or 0 on allocation failure. */
static uint32_t strtab_intern(strtab *t, const char *s) {
    size_t j;
    if ((t->n + 1) * 2 > t->nslot && strtab_grow(t) != 0)
        return 0;
    for (j = hash_str(s) & (t->nslot - 1); t->slot[j] != 0; j = (j + 1) & (t->nslot - 1))
        if (strcmp(t->str[t->slot[j] - 1], s) == 0)
            return t->slot[j];
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **ns = realloc(t->str, ncap * sizeof *ns);
        if (ns == NULL)
            return 0;
        t->str = ns;
        t->cap = ncap;
    }
    t->str[t->n] = strdup(s);
    if (t->str[t->n] == NULL)
        return 0;
    t->n++;
    t->slot[j] = (uint32_t)t->n;
    return (uint32_t)t->n;
}

static const char *strtab_get(const strtab *t, uint32_t id) {
    return id == 0 ? JET_TOTAL_CODE : t->str[id - 1];
}

static void strtab_fini(strtab *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->str[i]);
    free(t->str);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- observations ------------------------------------------------------------------------- */

typedef struct obs_row {
    int64_t value;
    uint32_t line;
    uint32_t code[JET_DIM__COUNT]; /* strtab ids, 0 = total */
    uint16_t ind;                  /* catalogue index */
    uint16_t period;               /* period id - 1 */
} obs_row;

struct jet_stats_obs {
    int sum_duplicates;
    char source[256];
    obs_row *row;
    size_t n, cap;
    strtab period;
    strtab dim[JET_DIM__COUNT];
};

int jet_stats_obs_new(int sum_duplicates, jet_stats_obs **out) {
    jet_stats_obs *o = calloc(1, sizeof *o);
    if (o == NULL)
        return JET_ENOMEM;
    o->sum_duplicates = sum_duplicates;
    snprintf(o->source, sizeof o->source, "input");
    *out = o;
    return 0;
}

void jet_stats_obs_free(jet_stats_obs *obs) {
    if (obs == NULL)
        return;
    if (obs->row != NULL) {
        sodium_memzero(obs->row, obs->cap * sizeof *obs->row);
        free(obs->row);
    }
    strtab_fini(&obs->period);
    for (int d = 0; d < JET_DIM__COUNT; d++)
        strtab_fini(&obs->dim[d]);
    free(obs);
}

void jet_stats_obs_set_source(jet_stats_obs *obs, const char *name) {
    snprintf(obs->source, sizeof obs->source, "%s", name);
}

size_t jet_stats_obs_count(const jet_stats_obs *obs) {
    return obs->n;
}

int jet_stats_obs_add(jet_stats_obs *obs, const jet_stats_key *key, int64_t value, uint32_t line) {
    int ind = jet_indicators_index(key->indicator);
    obs_row *r;
    if (ind < 0 || jet_indicators_at((size_t)ind)->kind != JET_INDICATOR_COUNT ||
        key->period == NULL || value < 0)
        return JET_EINVAL;
    if (obs->n == obs->cap) {
        size_t ncap = obs->cap ? obs->cap * 2 : 1024;
        obs_row *nr = malloc(ncap * sizeof *nr);
        if (nr == NULL)
            return JET_ENOMEM;
        if (obs->row != NULL) {
            memcpy(nr, obs->row, obs->n * sizeof *nr);
            sodium_memzero(obs->row, obs->cap * sizeof *obs->row);
            free(obs->row);
        }
        obs->row = nr;
        obs->cap = ncap;
    }
    r = &obs->row[obs->n];
    r->value = value;
    r->line = line;
    r->ind = (uint16_t)ind;
    uint32_t pid = strtab_intern(&obs->period, key->period);
    if (pid == 0 || pid > UINT16_MAX)
        return JET_ENOMEM;
    r->period = (uint16_t)(pid - 1);
    for (int d = 0; d < JET_DIM__COUNT; d++) {
        const char *c = key->code[d];
        if (c == NULL || c[0] == '\0' || strcmp(c, JET_TOTAL_CODE) == 0) {
            r->code[d] = 0;
        } else {
            r->code[d] = strtab_intern(&obs->dim[d], c);
            if (r->code[d] == 0)
                return JET_ENOMEM;
        }
    }
    obs->n++;
    return 0;
}

/* ---- tables -------------------------------------------------------------------------------- */

typedef struct release {
    uint16_t ind;
    uint16_t period;
    unsigned ndims;
    unsigned dim[JET_SDC_MAX_DIMS];  /* jet_dim of each table dimension */
    unsigned size[JET_SDC_MAX_DIMS]; /* categories, without the total */
    size_t stride[JET_SDC_MAX_DIMS];
    const char **cat[JET_SDC_MAX_DIMS];
    size_t ncells;
    int64_t *value;
    uint8_t *status;
    jet_sdc_report rep;
} release;

struct jet_stats_batch {
    const jet_stats_obs *obs;
    release *rel;
    size_t nrel;
    unsigned k;            /* the threshold the tables were protected with */
    int protected_ok;      /* 1 once every table passed the audit */
    uint32_t noise_milli;  /* epsilon x 1000 of the noise added, 0 for none */
    uint64_t budget_milli; /* privacy budget per (region, indicator, period), x 1000 */
    size_t records;        /* signed records the last store appended */
};

static void release_fini(release *r) {
    if (r->value != NULL) {
        sodium_memzero(r->value, r->ncells * sizeof *r->value);
        free(r->value);
    }
    free(r->status);
    for (unsigned a = 0; a < r->ndims; a++)
        free(r->cat[a]);
}

void jet_stats_batch_free(jet_stats_batch *b) {
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nrel; i++)
        release_fini(&b->rel[i]);
    free(b->rel);
    free(b);
}

/* For sorting the categories of one dimension of one table. */
typedef struct cat_sort {
    const strtab *tab;
    jet_dim dim;
} cat_sort;

static int cmp_cat(const void *a, const void *b, void *ctx) {
    const cat_sort *cs = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return jet_indicators_code_cmp(cs->dim, strtab_get(cs->tab, x), strtab_get(cs->tab, y));
}

/* Adds every category of dimension a into its total, for all other coordinates. After this
 * has run for every dimension in turn, every marginal holds the sum of its parts. */
static void add_totals(release *r, unsigned a) {
    size_t outer = 1, n = r->size[a], inner = r->stride[a];
    for (unsigned b = 0; b < a; b++)
        outer *= r->size[b] + 1;
    for (size_t o = 0; o < outer; o++) {
        int64_t *base = r->value + o * (n + 1) * inner;
        int64_t *tot = base + n * inner;
        for (size_t c = 0; c < n; c++) {
            const int64_t *src = base + c * inner;
            for (size_t i = 0; i < inner; i++)
                tot[i] += src[i];
        }
    }
}

typedef struct given_total {
    size_t cell;
    int64_t value;
    uint32_t line;
} given_total;

static const char *rel_name(const jet_stats_obs *o, const release *r, char *buf, size_t len) {
    snprintf(buf, len, "%s %s", jet_indicators_at(r->ind)->code,
             strtab_get(&o->period, r->period + 1u));
    return buf;
}

/* Describes the breakdown of a cell ("sex=_T, school_level=ISCED2"). */
static void cell_desc(const release *r, size_t cell, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned a = 0; a < r->ndims && off < len; a++) {
        size_t c = (cell / r->stride[a]) % (r->size[a] + 1);
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", a ? ", " : "",
                                jet_indicators_dim_name((jet_dim)r->dim[a]),
                                c == r->size[a] ? JET_TOTAL_CODE : r->cat[a][c]);
    }
    if (r->ndims == 0)
        snprintf(buf, len, "the grand total");
}

/* Builds the table of the rows order[0..n) (all of one indicator and period). `catidx[d]` are
 * scratch maps from strtab id to category index, all UINT32_MAX on entry and on return. */
static int build_table(const jet_stats_obs *o, const uint32_t *order, size_t n, release *r,
                       uint32_t **catidx, uint32_t **used, jet_diag *diag) {
    size_t nused[JET_DIM__COUNT] = {0};
    uint32_t *given = NULL;
    given_total *tot = NULL;
    size_t ntot = 0;
    char name[96], where[160];
    int rc = 0;

    r->ind = o->row[order[0]].ind;
    r->period = o->row[order[0]].period;
    for (size_t i = 0; i < n; i++) {
        const obs_row *row = &o->row[order[i]];
        for (int d = 0; d < JET_DIM__COUNT; d++) {
            uint32_t id = row->code[d];
            if (id != 0 && catidx[d][id] == UINT32_MAX) {
                catidx[d][id] = 0;
                used[d][nused[d]++] = id;
            }
        }
    }
    r->ncells = 1;
    for (int d = 0; d < JET_DIM__COUNT; d++) {
        cat_sort cs = {&o->dim[d], (jet_dim)d};
        unsigned a = r->ndims;
        if (nused[d] == 0)
            continue;
        qsort_r(used[d], nused[d], sizeof *used[d], cmp_cat, &cs);
        r->dim[a] = (unsigned)d;
        r->size[a] = (unsigned)nused[d];
        r->cat[a] = malloc(nused[d] * sizeof *r->cat[a]);
        if (r->cat[a] == NULL) {
            rc = JET_ENOMEM;
            goto out;
        }
        for (size_t j = 0; j < nused[d]; j++) {
            catidx[d][used[d][j]] = (uint32_t)j;
            r->cat[a][j] = strtab_get(&o->dim[d], used[d][j]);
        }
        r->ndims++;
        if (r->ncells > JET_STATS_MAX_CELLS / (nused[d] + 1)) {
            rc = jet_diag_fail(diag, JET_ETOOBIG, "%s: the table of %s has more than %u cells",
                               o->source, rel_name(o, r, name, sizeof name),
                               (unsigned)JET_STATS_MAX_CELLS);
            goto out;
        }
        r->ncells *= nused[d] + 1;
    }
    for (unsigned a = r->ndims; a-- > 0;)
        r->stride[a] = a + 1 == r->ndims ? 1 : r->stride[a + 1] * (r->size[a + 1] + 1);
    r->value = calloc(r->ncells, sizeof *r->value);
    r->status = calloc(r->ncells, sizeof *r->status);
    given = o->sum_duplicates ? NULL : calloc(r->ncells, sizeof *given);
    if (r->value == NULL || r->status == NULL || (!o->sum_duplicates && given == NULL)) {
        rc = JET_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const obs_row *row = &o->row[order[i]];
        size_t cell = 0;
        int inner = 1;
        for (unsigned a = 0; a < r->ndims; a++) {
            uint32_t id = row->code[r->dim[a]];
            size_t c = id == 0 ? r->size[a] : catidx[r->dim[a]][id];
            if (id == 0)
                inner = 0;
            cell += c * r->stride[a];
        }
        if (o->sum_duplicates) {
            r->value[cell] += row->value;
            continue;
        }
        if (given[cell] != 0) {
            cell_desc(r, cell, where, sizeof where);
            rc = jet_diag_fail(diag, JET_EVALIDATE,
                               "%s:%u: duplicate observation of %s (%s): first given at line %u",
                               o->source, (unsigned)row->line, rel_name(o, r, name, sizeof name),
                               where, (unsigned)given[cell]);
            goto out;
        }
        given[cell] = row->line ? row->line : 1;
        if (inner) {
            r->value[cell] = row->value;
        } else {
            if (tot == NULL && (tot = malloc(n * sizeof *tot)) == NULL) {
                rc = JET_ENOMEM;
                goto out;
            }
            tot[ntot].cell = cell;
            tot[ntot].value = row->value;
            tot[ntot].line = row->line;
            ntot++;
        }
    }
    for (unsigned a = 0; a < r->ndims; a++)
        add_totals(r, a);
    for (size_t i = 0; i < ntot; i++) {
        if (r->value[tot[i].cell] != tot[i].value) {
            cell_desc(r, tot[i].cell, where, sizeof where);
            rc = jet_diag_fail(diag, JET_EVALIDATE,
                               "%s:%u: the total of %s (%s) is %lld but its parts add up to %lld",
                               o->source, (unsigned)tot[i].line, rel_name(o, r, name, sizeof name),
                               where, (long long)tot[i].value, (long long)r->value[tot[i].cell]);
            goto out;
        }
    }
out:
    for (int d = 0; d < JET_DIM__COUNT; d++)
        for (size_t j = 0; j < nused[d]; j++)
            catidx[d][used[d][j]] = UINT32_MAX;
    free(given);
    if (tot != NULL) {
        sodium_memzero(tot, n * sizeof *tot);
        free(tot);
    }
    return rc;
}

int jet_stats_batch_build(const jet_stats_obs *obs, jet_stats_batch **out, jet_diag *diag) {
    size_t nind = jet_indicators_count(), nper = obs->period.n, ngroups = nind * nper;
    size_t *start = NULL;
    uint32_t *order = NULL;
    uint32_t *catidx[JET_DIM__COUNT] = {0}, *used[JET_DIM__COUNT] = {0};
    jet_stats_batch *b = NULL;
    int rc = 0;

    *out = NULL;
    if (obs->n > UINT32_MAX)
        return jet_diag_fail(diag, JET_ETOOBIG, "%s: too many observations", obs->source);
    b = calloc(1, sizeof *b);
    start = calloc(ngroups + 1, sizeof *start);
    order = malloc((obs->n ? obs->n : 1) * sizeof *order);
    if (b == NULL || start == NULL || order == NULL) {
        rc = JET_ENOMEM;
        goto fail;
    }
    b->obs = obs;
    for (int d = 0; d < JET_DIM__COUNT; d++) {
        size_t m = obs->dim[d].n + 1;
        catidx[d] = malloc(m * sizeof *catidx[d]);
        used[d] = malloc(m * sizeof *used[d]);
        if (catidx[d] == NULL || used[d] == NULL) {
            rc = JET_ENOMEM;
            goto fail;
        }
        memset(catidx[d], 0xff, m * sizeof *catidx[d]);
    }
    /* A stable counting sort by (indicator, period): each group is one table. */
    for (size_t i = 0; i < obs->n; i++)
        start[(size_t)obs->row[i].ind * nper + obs->row[i].period + 1]++;
    for (size_t g = 0; g < ngroups; g++) {
        if (start[g + 1] > 0)
            b->nrel++;
        start[g + 1] += start[g];
    }
    {
        size_t *fill = malloc((ngroups ? ngroups : 1) * sizeof *fill);
        if (fill == NULL) {
            rc = JET_ENOMEM;
            goto fail;
        }
        memcpy(fill, start, ngroups * sizeof *fill);
        for (size_t i = 0; i < obs->n; i++)
            order[fill[(size_t)obs->row[i].ind * nper + obs->row[i].period]++] = (uint32_t)i;
        free(fill);
    }
    b->rel = calloc(b->nrel ? b->nrel : 1, sizeof *b->rel);
    if (b->rel == NULL) {
        rc = JET_ENOMEM;
        goto fail;
    }
    for (size_t g = 0, k = 0; g < ngroups; g++) {
        size_t n = start[g + 1] - start[g];
        if (n == 0)
            continue;
        rc = build_table(obs, order + start[g], n, &b->rel[k++], catidx, used, diag);
        if (rc != 0) {
            if (rc == JET_ENOMEM)
                jet_diag_fail(diag, rc, "%s: out of memory", obs->source);
            goto fail;
        }
    }
    *out = b;
    b = NULL;
fail:
    if (rc == JET_ENOMEM && diag != NULL && diag->msg[0] == '\0')
        jet_diag_fail(diag, rc, "%s: out of memory", obs->source);
    for (int d = 0; d < JET_DIM__COUNT; d++) {
        free(catidx[d]);
        free(used[d]);
    }
    free(start);
    free(order);
    jet_stats_batch_free(b);
    return rc;
}

/* ---- optional noise ------------------------------------------------------------------------- */

static int cell_is_inner(const release *r, size_t cell) {
    for (unsigned a = 0; a < r->ndims; a++)
        if ((cell / r->stride[a]) % (r->size[a] + 1) == r->size[a])
            return 0;
    return 1;
}

int jet_stats_batch_noise(jet_stats_batch *b, double epsilon, double budget, jet_diag *diag) {
    if (!(epsilon >= 0.001 && epsilon <= 100.0) || !(budget >= 0.0 && budget <= 1e6))
        return jet_diag_fail(diag, JET_EINVAL,
                             "noise: epsilon must be between 0.001 and 100 and the budget "
                             "not negative");
    jet_dlaplace sampler;
    b->noise_milli = (uint32_t)llround(epsilon * 1000.0);
    b->budget_milli = (uint64_t)llround(budget * 1000.0);
    jet_dlaplace_init(&sampler);
    for (size_t i = 0; i < b->nrel; i++) {
        release *r = &b->rel[i];
        /* Noise on the inner cells only; the totals are their sums again, so the release stays
         * additive and one person changes the noisy inner vector by at most 1 in L1. */
        for (size_t c = 0; c < r->ncells; c++) {
            if (!cell_is_inner(r, c)) {
                r->value[c] = 0;
                continue;
            }
            int64_t v = r->value[c] + jet_dlaplace_sample(&sampler, b->noise_milli, 1000);
            r->value[c] = v < 0 ? 0 : v;
        }
        for (unsigned a = 0; a < r->ndims; a++)
            add_totals(r, a);
    }
    jet_dlaplace_fini(&sampler);
    return 0;
}

/* ---- protection and audit ------------------------------------------------------------------ */

static void to_sdc(release *r, jet_sdc_table *t) {
    memset(t, 0, sizeof *t);
    t->ndims = r->ndims;
    for (unsigned a = 0; a < r->ndims; a++)
        t->size[a] = r->size[a];
    t->ncells = r->ncells;
    t->value = r->value;
    t->status = r->status;
}

/* Prefixes diag's message with the release it is about. */
static int release_fail(const jet_stats_batch *b, const release *r, int rc, jet_diag *diag,
                        const char *what) {
    char name[96], msg[sizeof diag->msg];
    if (diag == NULL)
        return rc;
    snprintf(msg, sizeof msg, "%s", diag->msg[0] ? diag->msg : jet_strerror(rc));
    return jet_diag_fail(diag, rc, "%s: %s %s: %s", b->obs->source, what,
                         rel_name(b->obs, r, name, sizeof name), msg);
}

int jet_stats_batch_protect(jet_stats_batch *b, const jet_sdc_options *opt, jet_diag *diag) {
    b->k = opt->k;
    b->protected_ok = 0;
    for (size_t i = 0; i < b->nrel; i++) {
        release *r = &b->rel[i];
        jet_sdc_table t;
        int rc;
        to_sdc(r, &t);
        memset(r->status, 0, r->ncells);
        jet_diag_clear(diag);
        rc = jet_sdc_protect(&t, opt, &r->rep, diag);
        if (rc != 0)
            return release_fail(b, r, rc, diag, "cannot protect");
    }
    return 0;
}

int jet_stats_batch_audit(jet_stats_batch *b, const jet_sdc_options *opt, jet_diag *diag) {
    for (size_t i = 0; i < b->nrel; i++) {
        release *r = &b->rel[i];
        jet_sdc_table t;
        int rc;
        to_sdc(r, &t);
        jet_diag_clear(diag);
        rc = jet_sdc_audit(&t, opt, diag);
        if (rc != 0)
            return release_fail(b, r, rc == JET_EDISCLOSURE ? rc : JET_EDISCLOSURE, diag,
                                "the disclosure audit refused");
    }
    b->protected_ok = opt->k == b->k;
    return b->protected_ok ? 0 : JET_EINVAL;
}

size_t jet_stats_batch_count(const jet_stats_batch *b) {
    return b->nrel;
}

void jet_stats_batch_table(const jet_stats_batch *b, size_t i, jet_stats_table_info *out) {
    const release *r = &b->rel[i];
    memset(out, 0, sizeof *out);
    out->indicator = jet_indicators_at(r->ind)->code;
    out->period = strtab_get(&b->obs->period, r->period + 1u);
    out->ndims = r->ndims;
    for (unsigned a = 0; a < r->ndims; a++) {
        out->dim[a] = r->dim[a];
        out->size[a] = r->size[a];
        out->category[a] = r->cat[a];
    }
    out->ncells = r->ncells;
    out->value = r->value;
    out->status = r->status;
}

void jet_stats_batch_summary(const jet_stats_batch *b, jet_stats_summary *s) {
    memset(s, 0, sizeof *s);
    s->releases = b->nrel;
    s->observations = b->obs->n;
    for (size_t i = 0; i < b->nrel; i++) {
        const release *r = &b->rel[i];
        s->cells += r->ncells;
        for (size_t c = 0; c < r->ncells; c++) {
            if (r->status[c] != JET_SDC_PUBLISHED)
                s->suppressed++;
            if (r->status[c] == JET_SDC_PRIMARY)
                s->primary++;
        }
        s->suppressed_mass += r->rep.suppressed_mass;
        s->total_mass += r->value[r->ncells - 1];
    }
    s->records = b->records;
}

/* ---- chunk encoding ------------------------------------------------------------------------ */

int jet_stats_chunk_encode(const jet_stats_chunk_spec *spec, uint8_t **out, size_t *len) {
    Jet__StatsChunk m = JET__STATS_CHUNK__INIT;
    Jet__StatsDim dims[JET_SDC_MAX_DIMS], *dimp[JET_SDC_MAX_DIMS];
    int64_t *val = NULL;
    uint8_t *st = NULL, *buf = NULL;
    size_t catbytes = 0, size;
    int rc = 0;

    *out = NULL;
    *len = 0;
    if (spec->ndims > JET_SDC_MAX_DIMS || spec->len > JET_STATS_CHUNK_CELLS)
        return JET_ETOOBIG;
    val = malloc((spec->len ? spec->len : 1) * sizeof *val);
    st = malloc(spec->len ? spec->len : 1);
    if (val == NULL || st == NULL) {
        rc = JET_ENOMEM;
        goto out;
    }
    /* A suppressed cell's true value never leaves this function. */
    for (size_t i = 0; i < spec->len; i++) {
        int supp = spec->status[i] != JET_SDC_PUBLISHED;
        st[i] = (uint8_t)supp;
        val[i] = supp ? 0 : spec->value[i];
    }
    m.region = (char *)spec->region;
    m.indicator = (char *)spec->indicator;
    m.period = (char *)spec->period;
    m.version = spec->version;
    m.chunk_index = spec->chunk_index;
    m.chunk_count = spec->chunk_count;
    m.import_time = spec->import_time;
    m.k = spec->k;
    m.ncells = spec->ncells;
    m.first_cell = spec->first_cell;
    m.noise_epsilon_milli = spec->noise_epsilon_milli;
    if (spec->source_origin != NULL && spec->chunk_index == 0) {
        m.source_origin.data = (uint8_t *)spec->source_origin;
        m.source_origin.len = 32;
    }
    if (spec->chunk_index == 0) {
        for (unsigned a = 0; a < spec->ndims; a++) {
            jet__stats_dim__init(&dims[a]);
            dims[a].dim = spec->dim[a];
            dims[a].n_category = spec->size[a];
            dims[a].category = (char **)spec->category[a];
            for (unsigned c = 0; c < spec->size[a]; c++)
                catbytes += strlen(spec->category[a][c]) + 2;
            dimp[a] = &dims[a];
        }
        m.n_dims = spec->ndims;
        m.dims = dimp;
        if (catbytes > JET_STATS_MAX_CATEGORY_BYTES) {
            rc = JET_ETOOBIG;
            goto out;
        }
    }
    m.n_value = spec->len;
    m.value = val;
    m.status.len = spec->len;
    m.status.data = st;
    size = jet__stats_chunk__get_packed_size(&m);
    if (size > JET_RECORD_MAX_PAYLOAD) {
        rc = JET_ETOOBIG;
        goto out;
    }
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        rc = JET_ENOMEM;
        goto out;
    }
    jet__stats_chunk__pack(&m, buf);
    *out = buf;
    *len = size;
out:
    if (val != NULL) {
        sodium_memzero(val, (spec->len ? spec->len : 1) * sizeof *val);
        free(val);
    }
    free(st);
    return rc;
}

/* ---- the view: keys and headers ------------------------------------------------------------ */

enum {
    PART_FIXED = 8 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 8, /* version time k count seen pad ncells
                                                       suppressed next_cell */
};

typedef jet__stats_header rel_header;

/* "region\0indicator\0period\0": the key of a (region, indicator, period) in JET_DB_STATS,
 * after a FIGURES_KEY_BYTE for the lead's figures. */
size_t jet__stats_rel_key(uint8_t *key, int figures, const char *region, const char *indicator,
                          const char *period) {
    size_t off = 0;
    if (figures)
        key[off++] = FIGURES_KEY_BYTE;
    const char *parts[3] = {region, indicator, period};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        memcpy(key + off, parts[i], n + 1);
        off += n + 1;
    }
    return off;
}

static void header_put(uint8_t *p, const rel_header *h) {
    memcpy(p, h->origin, 32);
    jet_put_be64(p + 32, h->version);
    jet_put_be64(p + 40, (uint64_t)h->import_time);
    jet_put_be32(p + 48, h->k);
    jet_put_be32(p + 52, h->nchunks);
    jet_put_be64(p + 56, h->ncells);
    jet_put_be64(p + 64, h->suppressed);
}

void jet__stats_header_get(const uint8_t *p, jet__stats_header *h) {
    memcpy(h->origin, p, 32);
    h->version = jet_get_be64(p + 32);
    h->import_time = (int64_t)jet_get_be64(p + 40);
    h->k = jet_get_be32(p + 48);
    h->nchunks = jet_get_be32(p + 52);
    h->ncells = jet_get_be64(p + 56);
    h->suppressed = jet_get_be64(p + 64);
}

/* 1 when release a is newer than b: by version, then import time, then origin, so that every
 * node picks the same winner whatever order the records arrive in. */
static int header_newer(const rel_header *a, const rel_header *b) {
    if (a->version != b->version)
        return a->version > b->version;
    if (a->import_time != b->import_time)
        return a->import_time > b->import_time;
    return memcmp(a->origin, b->origin, 32) > 0;
}

static int valid_text(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/'))
            return 0;
    }
    return 1;
}

int jet__stats_chunk_valid(const Jet__StatsChunk *m) {
    /* Structure is checked strictly; vocabulary (indicator, period and category codes) only for
     * its characters, so that a release using codes a newer node knows is kept, not refused:
     * a refusal would stop every later record of its origin. */
    if (!valid_text(m->region, JET_CODE_MAX) || !valid_text(m->indicator, JET_CODE_MAX) ||
        !valid_text(m->period, JET_PERIOD_MAX))
        return 0;
    if (m->version == 0 || m->chunk_count == 0 || m->chunk_index >= m->chunk_count ||
        m->ncells == 0 || m->ncells > JET_STATS_MAX_CELLS ||
        m->chunk_count > (m->ncells + JET_STATS_MIN_CHUNK_CELLS - 1) / JET_STATS_MIN_CHUNK_CELLS ||
        m->status.len != m->n_value || m->first_cell > m->ncells ||
        m->n_value > m->ncells - m->first_cell)
        return 0;
    for (size_t i = 0; i < m->status.len; i++)
        if (m->status.data[i] > 1)
            return 0;
    if (m->source_origin.len != 0 && m->source_origin.len != 32)
        return 0;
    if (m->chunk_index != 0)
        return m->n_dims == 0;
    if (m->n_dims > JET_SDC_MAX_DIMS || m->first_cell != 0)
        return 0;
    uint64_t cells = 1;
    for (size_t a = 0; a < m->n_dims; a++) {
        const Jet__StatsDim *d = m->dims[a];
        if (d->dim >= JET_DIM__COUNT || (a > 0 && d->dim <= m->dims[a - 1]->dim) ||
            d->n_category == 0 || d->n_category >= JET_STATS_MAX_CELLS)
            return 0;
        for (size_t c = 0; c < d->n_category; c++)
            if (strcmp(d->category[c], JET_TOTAL_CODE) == 0 ||
                !valid_text(d->category[c], JET_CODE_MAX))
                return 0;
        cells *= d->n_category + 1;
        if (cells > JET_STATS_MAX_CELLS)
            return 0;
    }
    return cells == m->ncells;
}

/* Makes `h` the current release of `key` unless a newer one is held. `refs` holds the
 * reference of each of its h->nchunks chunks, `ref_len` bytes each (REF_LEN, or BUNDLE_REF_LEN
 * for a release held whole in a bundle). */
static int release_complete(jet_txn *txn, const uint8_t *key, size_t klen, const rel_header *h,
                            const uint8_t *refs, size_t ref_len) {
    const void *val;
    size_t vlen;
    uint8_t hdr[HDR_LEN], ckey[REL_KEY_MAX + 4];
    int rc = jet_txn_get(txn, JET_DB_STATS, key, klen, &val, &vlen);
    int held = rc == 0;
    if (rc == 0 && vlen == HDR_LEN) {
        rel_header cur;
        jet__stats_header_get(val, &cur);
        /* Versions are numbered by the importing node, so they compare only within one origin;
         * a release by another origin passed the region binding, so that node owns the code
         * now and its release replaces the one held. */
        if (memcmp(h->origin, cur.origin, 32) == 0 && !header_newer(h, &cur))
            return 0;
    } else if (rc != 0 && rc != JET_ENOTFOUND) {
        return rc;
    }
    /* A release's chunk references are written with its header, in one transaction, so a
     * release not held has none to replace. */
    if (held && (rc = jet_txn_del_prefix(txn, JET_DB_STATS_CELLS, key, klen)) != 0 &&
        rc != JET_ENOTFOUND)
        return rc;
    memcpy(ckey, key, klen);
    for (uint32_t i = 0; i < h->nchunks; i++) {
        jet_put_be32(ckey + klen, i);
        rc = jet_txn_put(txn, JET_DB_STATS_CELLS, ckey, klen + 4, refs + (size_t)i * ref_len,
                         ref_len);
        if (rc != 0)
            return rc;
    }
    header_put(hdr, h);
    return jet_txn_put(txn, JET_DB_STATS, key, klen, hdr, HDR_LEN);
}

/* The privacy budget spent by `origin` on (region, indicator, period) `key`, x 1000. */
static int ledger_key(uint8_t *out, const uint8_t origin[32], const uint8_t *key, size_t klen) {
    out[0] = 'B';
    memcpy(out + 1, origin, 32);
    memcpy(out + 33, key, klen);
    return (int)(33 + klen);
}

static int ledger_get(jet_txn *txn, const uint8_t origin[32], const uint8_t *key, size_t klen,
                      uint64_t *spent) {
    uint8_t lkey[1 + 32 + REL_KEY_MAX];
    const void *val;
    size_t vlen;
    int rc = jet_txn_get(txn, JET_DB_STATS_AUX, lkey, (size_t)ledger_key(lkey, origin, key, klen),
                         &val, &vlen);
    *spent = 0;
    if (rc == JET_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (vlen != 8)
        return JET_ECORRUPT;
    *spent = jet_get_be64(val);
    return 0;
}

static int ledger_add(jet_txn *txn, const uint8_t origin[32], const uint8_t *key, size_t klen,
                      uint32_t milli) {
    uint8_t lkey[1 + 32 + REL_KEY_MAX], val[8];
    uint64_t spent;
    int rc = ledger_get(txn, origin, key, klen, &spent);
    if (rc != 0)
        return rc;
    jet_put_be64(val, spent + milli);
    return jet_txn_put(txn, JET_DB_STATS_AUX, lkey, (size_t)ledger_key(lkey, origin, key, klen),
                       val, sizeof val);
}

/* Binds a region code to the node that first published statistics under it here ('R' + code
 * -> origin): a partner cannot publish figures under another partner's code. Returns 0 or
 * JET_EPERM. The binding is released when that peer is revoked (jet_stats_forget_origin). */
static int bind_region(jet_txn *txn, const char *region, const uint8_t origin[32]) {
    uint8_t key[2 + JET_CODE_MAX];
    size_t n = strlen(region);
    if (n > JET_CODE_MAX)
        return JET_EDECODE;
    key[0] = 'R';
    memcpy(key + 1, region, n);
    const void *val;
    size_t vlen;
    int rc = jet_txn_get(txn, JET_DB_STATS_AUX, key, 1 + n, &val, &vlen);
    if (rc == 0)
        return vlen == 32 && memcmp(val, origin, 32) == 0 ? 0 : JET_EPERM;
    if (rc != JET_ENOTFOUND)
        return rc;
    return jet_txn_put(txn, JET_DB_STATS_AUX, key, 1 + n, origin, 32);
}

typedef struct forget_ctx {
    const uint8_t *origin;
    uint8_t keys[64][2 + JET_CODE_MAX];
    size_t lens[64];
    size_t n;
} forget_ctx;

static int forget_one(const void *key, size_t klen, const void *val, size_t vlen, void *arg) {
    forget_ctx *f = arg;
    if (vlen == 32 && memcmp(val, f->origin, 32) == 0 && klen <= sizeof f->keys[0] &&
        f->n < 64) {
        memcpy(f->keys[f->n], key, klen);
        f->lens[f->n++] = klen;
    }
    return 0;
}

int jet_stats_forget_origin(jet_txn *txn, const uint8_t origin[32]) {
    forget_ctx f;
    f.origin = origin;
    f.n = 0;
    int rc = jet_txn_scan(txn, JET_DB_STATS_AUX, "R", 1, NULL, 0, forget_one, &f);
    for (size_t i = 0; rc == 0 && i < f.n; i++)
        rc = jet_txn_del(txn, JET_DB_STATS_AUX, f.keys[i], f.lens[i]);
    return rc;
}

/* What applying a chunk needs of it, worked out without the store: its decoding, its checks in
 * itself and the disclosure check are done once, on whichever thread prepares the record. */
typedef struct chunk_facts {
    char region[JET_CODE_MAX + 1], indicator[JET_CODE_MAX + 1], period[JET_PERIOD_MAX + 1];
    uint64_t version, ncells, first_cell, n_value, suppressed;
    int64_t import_time;
    uint32_t k, chunk_index, chunk_count, noise_epsilon_milli;
    int disclosure_rc; /* JET_EDISCLOSURE if the release may not be kept; apply_chunk reports
                          it after the region binding, whose refusal comes first */
} chunk_facts;

/* A statistics record prepared (jet_stats_prepare): the facts of its chunk, or of every item of
 * its bundle, or why it is refused whatever the store holds. */
struct jet_stats_prepared {
    int rc;
    size_t n;
    chunk_facts facts[];
};

/* Applies one chunk, known by its facts: of a chunk record, or element `item` of a bundle
 * record (item < 0 for a chunk record). A release of several chunks is kept in
 * JET_DB_STATS_AUX until its last chunk arrives; chunks of one origin arrive in log order, so
 * chunk i must follow chunk i-1. */
static int apply_chunk(jet_txn *txn, const jet_record *rec, const chunk_facts *f, int item) {
    int figures = rec->stream == JET_STREAM_FIGURES;
    uint8_t key[REL_KEY_MAX], akey[1 + 32 + REL_KEY_MAX];
    uint8_t *part = NULL;
    if (!figures && f->chunk_index == 0) {
        int brc = bind_region(txn, f->region, rec->origin);
        if (brc != 0)
            return brc;
    }
    if (f->disclosure_rc != 0)
        return f->disclosure_rc;
    size_t klen = jet__stats_rel_key(key, figures, f->region, f->indicator, f->period);
    size_t alen = 1 + 32 + klen;
    rel_header h;
    int rc;

    memset(&h, 0, sizeof h);
    memcpy(h.origin, rec->origin, 32);
    h.version = f->version;
    h.import_time = f->import_time;
    h.k = f->k;
    h.nchunks = f->chunk_count;
    h.ncells = f->ncells;
    h.suppressed = f->suppressed;
    if (!figures && f->chunk_index == 0 && f->noise_epsilon_milli > 0) {
        rc = ledger_add(txn, rec->origin, key, klen, f->noise_epsilon_milli);
        if (rc != 0)
            return rc;
    }
    if (f->chunk_count == 1) {
        uint8_t ref[BUNDLE_REF_LEN];
        if (f->n_value != f->ncells)
            return JET_EDECODE;
        jet_put_be64(ref, rec->epoch);
        jet_put_be64(ref + 8, rec->seq);
        if (item < 0)
            return release_complete(txn, key, klen, &h, ref, REF_LEN);
        jet_put_be32(ref + REF_LEN, (uint32_t)item);
        return release_complete(txn, key, klen, &h, ref, BUNDLE_REF_LEN);
    }
    /* A release of several chunks (never in a bundle: bundle_facts refuses one). */
    akey[0] = figures ? 'Q' : 'P';
    memcpy(akey + 1, rec->origin, 32);
    memcpy(akey + 33, key, klen);
    size_t plen = PART_FIXED + (size_t)f->chunk_count * REF_LEN;
    part = calloc(1, plen);
    if (part == NULL)
        return JET_ENOMEM;
    if (f->chunk_index == 0) {
        jet_put_be64(part, f->version);
        jet_put_be64(part + 8, (uint64_t)f->import_time);
        jet_put_be32(part + 16, f->k);
        jet_put_be32(part + 20, f->chunk_count);
        jet_put_be32(part + 24, 0);
        jet_put_be64(part + 32, f->ncells);
        jet_put_be64(part + 40, 0);
        jet_put_be64(part + 48, 0);
    } else {
        const void *val;
        size_t vlen;
        rc = jet_txn_get(txn, JET_DB_STATS_AUX, akey, alen, &val, &vlen);
        if (rc == JET_ENOTFOUND || (rc == 0 && vlen != plen)) {
            rc = JET_EDECODE;
            goto out;
        }
        if (rc != 0)
            goto out;
        memcpy(part, val, plen);
        if (jet_get_be64(part) != f->version || jet_get_be32(part + 20) != f->chunk_count ||
            jet_get_be32(part + 24) != f->chunk_index || jet_get_be64(part + 32) != f->ncells ||
            jet_get_be32(part + 16) != f->k || (int64_t)jet_get_be64(part + 8) != f->import_time) {
            rc = JET_EDECODE;
            goto out;
        }
    }
    if (jet_get_be64(part + 48) != f->first_cell) {
        rc = JET_EDECODE;
        goto out;
    }
    uint8_t *ref = part + PART_FIXED + (size_t)f->chunk_index * REF_LEN;
    jet_put_be64(ref, rec->epoch);
    jet_put_be64(ref + 8, rec->seq);
    jet_put_be32(part + 24, f->chunk_index + 1);
    jet_put_be64(part + 40, jet_get_be64(part + 40) + f->suppressed);
    jet_put_be64(part + 48, f->first_cell + f->n_value);
    if (f->chunk_index + 1 < f->chunk_count) {
        rc = jet_txn_put(txn, JET_DB_STATS_AUX, akey, alen, part, plen);
        goto out;
    }
    if (jet_get_be64(part + 48) != f->ncells) {
        rc = JET_EDECODE;
        goto out;
    }
    h.suppressed = jet_get_be64(part + 40);
    rc = jet_txn_del(txn, JET_DB_STATS_AUX, akey, alen);
    if (rc != 0 && rc != JET_ENOTFOUND)
        goto out;
    rc = release_complete(txn, key, klen, &h, part + PART_FIXED, REF_LEN);
out:
    free(part);
    return rc;
}

/* The facts of a chunk decoded and checked in itself (jet__stats_chunk_valid). */
static void facts_of(const jet_record *rec, const Jet__StatsChunk *m, chunk_facts *f) {
    memset(f, 0, sizeof *f);
    /* valid_text() bounded the three codes. */
    snprintf(f->region, sizeof f->region, "%s", m->region);
    snprintf(f->indicator, sizeof f->indicator, "%s", m->indicator);
    snprintf(f->period, sizeof f->period, "%s", m->period);
    f->version = m->version;
    f->ncells = m->ncells;
    f->first_cell = m->first_cell;
    f->n_value = m->n_value;
    f->import_time = m->import_time;
    f->k = m->k;
    f->chunk_index = m->chunk_index;
    f->chunk_count = m->chunk_count;
    f->noise_epsilon_milli = m->noise_epsilon_milli;
    for (size_t i = 0; i < m->status.len; i++)
        f->suppressed += m->status.data[i];
    /* Defence in depth: whatever its importer did, a release that would publish a small count
     * (1..k-1 of its own k) or a negative count is not kept. Noisy releases are exempt: their
     * values are noisy draws, not counts. The lead's figures repeat releases it checked. */
    if (rec->stream != JET_STREAM_FIGURES && m->noise_epsilon_milli == 0) {
        if (m->k < 2)
            f->disclosure_rc = JET_EDISCLOSURE;
        for (size_t i = 0; f->disclosure_rc == 0 && i < m->n_value; i++)
            if (m->status.data[i] == 0 && m->value[i] < (int64_t)m->k && m->value[i] != 0)
                f->disclosure_rc = JET_EDISCLOSURE;
    }
}

/* Decodes the chunk in `data` into `f`; JET_EDECODE if it is not a valid one. */
static int chunk_facts_get(const jet_record *rec, ProtobufCAllocator *arena, const uint8_t *data,
                           size_t len, chunk_facts *f) {
    Jet__StatsChunk *m = jet__stats_chunk__unpack(arena, len, data);
    if (m == NULL)
        return JET_EDECODE;
    int rc = jet__stats_chunk_valid(m) ? 0 : JET_EDECODE;
    if (rc == 0)
        facts_of(rec, m, f);
    jet__stats_chunk__free_unpacked(m, arena);
    return rc;
}

static int is_stats_record(const jet_record *rec) {
    /* The lead's cross-region figures (JET_STREAM_FIGURES) have a key space of their own, read
     * only on request (jet_stats_filter.figures): a region's `stats show` lists its own
     * releases only. Other kinds are for later versions and kept in the log only. */
    return (rec->stream == JET_STREAM_STATS || rec->stream == JET_STREAM_FIGURES) &&
           (rec->kind == JET_STATS_KIND_CHUNK || rec->kind == JET_STATS_KIND_BUNDLE);
}

/* A prepared record of `n` facts, with `rc` set (NULL without memory). */
static jet_stats_prepared *prepared_new(size_t n, int rc) {
    jet_stats_prepared *p = malloc(sizeof *p + n * sizeof p->facts[0]);
    if (p != NULL) {
        p->rc = rc;
        p->n = rc == 0 ? n : 0;
    }
    return p;
}

/* A bundle's facts: every item decoded and checked, with the bundle's own limits. */
static jet_stats_prepared *bundle_facts(const jet_record *rec, ProtobufCAllocator *arena) {
    Jet__StatsBundle *b = jet__stats_bundle__unpack(arena, rec->payload_len, rec->payload);
    if (b == NULL || b->n_chunk < 1 || b->n_chunk > JET_STATS_BUNDLE_MAX) {
        if (b != NULL)
            jet__stats_bundle__free_unpacked(b, arena);
        return prepared_new(0, JET_EDECODE);
    }
    jet_stats_prepared *p = prepared_new(b->n_chunk, 0);
    uint64_t cells = 0;
    for (size_t i = 0; p != NULL && p->rc == 0 && i < b->n_chunk; i++) {
        p->rc = chunk_facts_get(rec, arena, b->chunk[i].data, b->chunk[i].len, &p->facts[i]);
        /* A bundle holds whole releases only, which together fit one record's cells as a
         * chunk's do: the reader decodes the whole bundle for each of them. */
        if (p->rc == 0 && (p->facts[i].chunk_count != 1 ||
                           (cells += p->facts[i].n_value) > JET_STATS_CHUNK_CELLS))
            p->rc = JET_EDECODE;
    }
    if (p != NULL && p->rc != 0)
        p->n = 0;
    jet__stats_bundle__free_unpacked(b, arena);
    return p;
}

jet_stats_prepared *jet_stats_prepare(const jet_record *rec) {
    if (!is_stats_record(rec))
        return NULL;
    /* One record at a time: the decoded pieces come from the thread's arena. */
    ProtobufCAllocator *arena = jet_pbarena_begin();
    jet_stats_prepared *p;
    if (rec->kind == JET_STATS_KIND_BUNDLE) {
        p = bundle_facts(rec, arena);
    } else if ((p = prepared_new(1, 0)) != NULL) {
        p->rc = chunk_facts_get(rec, arena, rec->payload, rec->payload_len, &p->facts[0]);
        p->n = p->rc == 0 ? 1 : 0;
    }
    jet_pbarena_end(arena);
    return p; /* NULL without memory: jet_stats_apply() then does it all itself */
}

void jet_stats_prepared_free(jet_stats_prepared *p) {
    free(p);
}

int jet_stats_apply(jet_txn *txn, const jet_record *rec, const jet_stats_prepared *prepared) {
    if (!is_stats_record(rec))
        return 0;
    jet_stats_prepared *own = NULL;
    if (prepared == NULL && (prepared = own = jet_stats_prepare(rec)) == NULL)
        return JET_ENOMEM;
    int rc = prepared->rc;
    int bundle = rec->kind == JET_STATS_KIND_BUNDLE;
    for (size_t i = 0; rc == 0 && i < prepared->n; i++)
        rc = apply_chunk(txn, rec, &prepared->facts[i], bundle ? (int)i : -1);
    jet_stats_prepared_free(own);
    return rc;
}

/* ---- the import transaction ---------------------------------------------------------------- */

typedef struct store_ctx {
    jet_stats_batch *b;
    const uint8_t *sk;
    const char *region;
    int64_t import_time;
    unsigned k;
    jet_diag *diag;
    /* Small releases waiting to go out together in one bundle record (owned payloads). */
    uint8_t *pending[JET_STATS_BUNDLE_MAX];
    size_t pending_len[JET_STATS_BUNDLE_MAX];
    size_t npending, pending_cells, pending_bytes;
} store_ctx;

/* What a bundle's encoding adds to each chunk: its field tag and length. */
enum { BUNDLE_ITEM_OVERHEAD = 1 + 10 };

static void pending_clear(store_ctx *s) {
    for (size_t i = 0; i < s->npending; i++)
        free(s->pending[i]);
    s->npending = s->pending_cells = s->pending_bytes = 0;
}

static int append_stats(jet_txn *txn, store_ctx *s, uint32_t kind, const uint8_t *payload,
                        size_t len) {
    int rc = jet_record_append(txn, s->sk, JET_STREAM_STATS, kind, payload, len, NULL);
    if (rc != 0)
        return jet_diag_fail(s->diag, rc, "storing the release: %s", jet_strerror(rc));
    s->b->records++;
    return 0;
}

/* Appends the releases waiting: one alone as a chunk record, several as a bundle. */
static int pending_flush(jet_txn *txn, store_ctx *s) {
    int rc = 0;
    if (s->npending == 1) {
        rc = append_stats(txn, s, JET_STATS_KIND_CHUNK, s->pending[0], s->pending_len[0]);
    } else if (s->npending > 1) {
        ProtobufCBinaryData items[JET_STATS_BUNDLE_MAX];
        Jet__StatsBundle m = JET__STATS_BUNDLE__INIT;
        for (size_t i = 0; i < s->npending; i++) {
            items[i].data = s->pending[i];
            items[i].len = s->pending_len[i];
        }
        m.n_chunk = s->npending;
        m.chunk = items;
        size_t len = jet__stats_bundle__get_packed_size(&m);
        uint8_t *buf = malloc(len);
        if (buf == NULL) {
            rc = jet_diag_fail(s->diag, JET_ENOMEM, "storing the release: %s",
                               jet_strerror(JET_ENOMEM));
        } else {
            jet__stats_bundle__pack(&m, buf);
            rc = append_stats(txn, s, JET_STATS_KIND_BUNDLE, buf, len);
            free(buf);
        }
    }
    pending_clear(s);
    return rc;
}

/* Takes `payload` (a whole release of `cells` cells in one chunk): it waits for the next
 * releases, to share one record with them while their cells and bytes fit one. */
static int pending_add(jet_txn *txn, store_ctx *s, uint8_t *payload, size_t len, size_t cells) {
    if (s->npending == JET_STATS_BUNDLE_MAX || s->pending_cells + cells > JET_STATS_CHUNK_CELLS ||
        s->pending_bytes + len + BUNDLE_ITEM_OVERHEAD > JET_RECORD_MAX_PAYLOAD) {
        int rc = pending_flush(txn, s);
        if (rc != 0) {
            free(payload);
            return rc;
        }
    }
    s->pending[s->npending] = payload;
    s->pending_len[s->npending++] = len;
    s->pending_cells += cells;
    s->pending_bytes += len + BUNDLE_ITEM_OVERHEAD;
    return 0;
}

static int store_release(jet_txn *txn, store_ctx *s, const release *r) {
    const jet_stats_obs *o = s->b->obs;
    const char *ind = jet_indicators_at(r->ind)->code;
    const char *period = strtab_get(&o->period, r->period + 1u);
    uint8_t key[REL_KEY_MAX];
    size_t klen = jet__stats_rel_key(key, 0, s->region, ind, period);
    uint64_t version = 1;
    const void *val;
    size_t vlen;
    int rc = jet_txn_get(txn, JET_DB_STATS, key, klen, &val, &vlen);
    if (rc == 0 && vlen == HDR_LEN) {
        rel_header cur;
        jet__stats_header_get(val, &cur);
        version = cur.version + 1;
    } else if (rc != 0 && rc != JET_ENOTFOUND) {
        return rc;
    }
    if (s->b->noise_milli > 0) {
        uint64_t spent = 0;
        rc = ledger_get(txn, s->sk + 32, key, klen, &spent);
        if (rc != 0)
            return rc;
        if (spent + s->b->noise_milli > s->b->budget_milli)
            return jet_diag_fail(s->diag, JET_ELIMIT,
                                 "%s: the privacy budget of %s %s is spent (%.3f of %.3f used; "
                                 "this release needs %.3f): nothing was stored",
                                 o->source, ind, period, (double)spent / 1000.0,
                                 (double)s->b->budget_milli / 1000.0,
                                 (double)s->b->noise_milli / 1000.0);
    }
    size_t nchunks = (r->ncells + JET_STATS_CHUNK_CELLS - 1) / JET_STATS_CHUNK_CELLS;
    for (size_t c = 0; c < nchunks; c++) {
        jet_stats_chunk_spec spec;
        uint8_t *payload = NULL;
        size_t plen = 0;
        memset(&spec, 0, sizeof spec);
        spec.region = s->region;
        spec.indicator = ind;
        spec.period = period;
        spec.version = version;
        spec.chunk_index = (uint32_t)c;
        spec.chunk_count = (uint32_t)nchunks;
        spec.import_time = s->import_time;
        spec.k = s->k;
        spec.noise_epsilon_milli = s->b->noise_milli;
        spec.ndims = r->ndims;
        for (unsigned a = 0; a < r->ndims; a++) {
            spec.dim[a] = r->dim[a];
            spec.size[a] = r->size[a];
            spec.category[a] = r->cat[a];
        }
        spec.ncells = r->ncells;
        spec.first_cell = c * JET_STATS_CHUNK_CELLS;
        spec.len = r->ncells - spec.first_cell < JET_STATS_CHUNK_CELLS ? r->ncells - spec.first_cell
                                                                       : JET_STATS_CHUNK_CELLS;
        spec.value = r->value + spec.first_cell;
        spec.status = r->status + spec.first_cell;
        rc = jet_stats_chunk_encode(&spec, &payload, &plen);
        if (rc != 0) {
            char name[96];
            return jet_diag_fail(
                s->diag, rc, "%s: %s: %s", o->source, rel_name(o, r, name, sizeof name),
                rc == JET_ETOOBIG ? "too many category names in one table" : jet_strerror(rc));
        }
        if (nchunks == 1) {
            rc = pending_add(txn, s, payload, plen, r->ncells);
        } else {
            rc = append_stats(txn, s, JET_STATS_KIND_CHUNK, payload, plen);
            free(payload);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int store_fn(jet_txn *txn, void *ctx) {
    store_ctx *s = ctx;
    int rc = 0;
    s->b->records = 0; /* the transaction may run again */
    for (size_t i = 0; rc == 0 && i < s->b->nrel; i++)
        rc = store_release(txn, s, &s->b->rel[i]);
    if (rc == 0)
        rc = pending_flush(txn, s);
    pending_clear(s);
    return rc;
}

int jet_stats_batch_store(jet_stats_batch *b, jet_store *store, const uint8_t sk[64],
                          const char *region, int64_t import_time, jet_diag *diag) {
    store_ctx s = {.b = b, .sk = sk, .region = region, .import_time = import_time, .k = b->k,
                   .diag = diag};
    int rc;
    if (!valid_text(region, JET_CODE_MAX))
        return jet_diag_fail(diag, JET_EINVAL, "the node's region code is not valid");
    if (!b->protected_ok)
        return jet_diag_fail(diag, JET_EDISCLOSURE, "the releases have not passed the audit");
    rc = jet_store_write(store, store_fn, &s);
    if (rc != 0 && diag != NULL && diag->msg[0] == '\0')
        jet_diag_fail(diag, rc, "storing the releases: %s", jet_strerror(rc));
    return rc;
}
