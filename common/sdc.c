/* sdc.c - primary and secondary cell suppression with the hypercube method.
 *
 * The additive relations of a table are its lines: fix every coordinate but one, d; then the
 * cells of the line with a category in d sum to the cell at the total of d. A hypercube is, for
 * every dimension d, a pair of distinct coordinates {a_d, b_d} (either may be the total); its
 * 2^n corners are the cells whose coordinates pick one of each pair. Give corner c the sign
 * prod_d s_d(c_d), where s_d(a_d) = +1 and s_d(b_d) = -1 if both a_d and b_d are categories,
 * +1 if one of them is the total. Adding sign*t to every corner keeps every line balanced: a
 * line meets the hypercube in 0 or 2 corners that differ only in d, and their changes cancel
 * (two categories with opposite signs) or add to the category and to the total alike.
 *
 * So if every corner is suppressed and every corner with sign -1 holds at least t, a reader of
 * the release cannot rule out the table in which corner a (sign +1) is larger by t. For a small
 * cell x we take t = k - x: its feasible range reaches k, and every corner moves, so none is
 * determined. jet_sdc_protect() finds, for each primary cell in turn, the cheapest such
 * hypercube (cost: value + k of each cell not yet suppressed), under the policy that no
 * partner is zero and that corners with sign -1 (the cells that "give" to the small cell) are
 * never small cells themselves. Large dimensions are searched with a bounded beam so the cost
 * per primary cell stays small even for an area dimension with thousands of categories. */
#include "sdc.h"

#include <stdlib.h>
#include <string.h>

/* How many candidates of one dimension are explored further at each level of the search
 * (besides the total); deeper levels keep fewer so the tree stays small in four dimensions. */
static const unsigned sdc_beam[JET_SDC_MAX_DIMS] = {24, 6, 3, 2};

/* Corner checks allowed to the exhaustive pass for one primary cell (only suppressed zeros,
 * when zeros are not published, ever need it). */
#define SDC_FULL_WORK ((size_t)4000000)

typedef struct sdc_geom {
    unsigned n;
    unsigned size[JET_SDC_MAX_DIMS];
    size_t ext[JET_SDC_MAX_DIMS];    /* size + 1 */
    size_t stride[JET_SDC_MAX_DIMS]; /* distance between neighbouring coordinates */
    size_t ncells;
} sdc_geom;

typedef struct sdc_cand {
    int64_t cost;
    unsigned b;
} sdc_cand;

typedef struct sdc_search {
    const sdc_geom *g;
    const int64_t *value;
    const uint8_t *status;
    int64_t k;
    int64_t t;   /* the perturbation the hypercube must carry */
    int relax;   /* also allow suppressed zeros (primary when zeros are not published) with sign +1 */
    unsigned order[JET_SDC_MAX_DIMS];
    size_t p;
    unsigned a[JET_SDC_MAX_DIMS];
    ptrdiff_t delta[JET_SDC_MAX_DIMS]; /* chosen per level */
    int sign[JET_SDC_MAX_DIMS];
    int64_t best;
    ptrdiff_t best_delta[JET_SDC_MAX_DIMS];
    int found;
    unsigned beam;                    /* candidates kept per level (0: sdc_beam) */
    unsigned maxext;
    size_t work, limit;
    sdc_cand *cand[JET_SDC_MAX_DIMS]; /* per level, room for every coordinate */
} sdc_search;

size_t jet_sdc_index(const jet_sdc_table *t, const unsigned *coord) {
    size_t idx = 0;
    for (unsigned d = 0; d < t->ndims; d++)
        idx = idx * ((size_t)t->size[d] + 1) + coord[d];
    return idx;
}

static int geom_init(const jet_sdc_table *t, sdc_geom *g, jet_diag *diag) {
    if (t == NULL || t->ndims > JET_SDC_MAX_DIMS || t->value == NULL || t->status == NULL)
        return jet_diag_fail(diag, JET_EINVAL, "sdc: bad table");
    memset(g, 0, sizeof *g);
    g->n = t->ndims;
    size_t cells = 1;
    for (unsigned d = 0; d < g->n; d++) {
        if (t->size[d] == 0 || t->size[d] > (1u << 24))
            return jet_diag_fail(diag, JET_EINVAL, "sdc: dimension %u has %u categories", d,
                                 t->size[d]);
        g->size[d] = t->size[d];
        g->ext[d] = (size_t)t->size[d] + 1;
        if (cells > ((size_t)1 << 40) / g->ext[d])
            return jet_diag_fail(diag, JET_ETOOBIG, "sdc: table too large");
        cells *= g->ext[d];
    }
    if (cells != t->ncells)
        return jet_diag_fail(diag, JET_EINVAL, "sdc: ncells %zu does not match the sizes (%zu)",
                             t->ncells, cells);
    g->ncells = cells;
    size_t s = 1;
    for (unsigned d = g->n; d-- > 0;) {
        g->stride[d] = s;
        s *= g->ext[d];
    }
    return 0;
}

static unsigned coord_of(const sdc_geom *g, size_t idx, unsigned d) {
    return (unsigned)((idx / g->stride[d]) % g->ext[d]);
}

/* Checks that no count is negative and that every total equals the sum of its categories. */
static int check_totals(const sdc_geom *g, const int64_t *v, jet_diag *diag) {
    for (size_t i = 0; i < g->ncells; i++)
        if (v[i] < 0)
            return jet_diag_fail(diag, JET_EINVAL, "sdc: negative count in cell %zu", i);
    for (unsigned d = 0; d < g->n; d++) {
        for (size_t base = 0; base < g->ncells; base++) {
            if (coord_of(g, base, d) != 0)
                continue;
            int64_t sum = 0;
            for (unsigned c = 0; c < g->size[d]; c++)
                sum += v[base + c * g->stride[d]];
            if (sum != v[base + g->size[d] * g->stride[d]])
                return jet_diag_fail(diag, JET_EINVAL,
                                     "sdc: total of cell %zu along dimension %u is not the sum of "
                                     "its categories",
                                     base + g->size[d] * g->stride[d], d);
        }
    }
    return 0;
}

/* Is `c`, with sign `sign` in the hypercube being built, an allowed partner? Adds its cost. */
static int corner_ok(const sdc_search *s, size_t c, int sign, int64_t *cost) {
    int64_t v = s->value[c];
    uint8_t st = s->status[c];
    if (v == 0 && !(s->relax && sign > 0 && st == JET_SDC_PRIMARY))
        return 0;
    if (sign < 0 && (st == JET_SDC_PRIMARY || v < s->t))
        return 0;
    if (st == JET_SDC_PUBLISHED)
        *cost += v + s->k;
    return 1;
}

/* Keeps the `cap` cheapest candidates, in order of cost (stable for equal costs). */
static void cand_insert(sdc_cand *list, unsigned *len, unsigned cap, int64_t cost, unsigned b) {
    unsigned n = *len;
    if (n == cap && cost >= list[n - 1].cost)
        return;
    unsigned i = n < cap ? n : cap - 1;
    while (i > 0 && list[i - 1].cost > cost) {
        list[i] = list[i - 1];
        i--;
    }
    list[i].cost = cost;
    list[i].b = b;
    if (n < cap)
        *len = n + 1;
}

static void search_level(sdc_search *s, unsigned level, int64_t cost) {
    if (level == s->g->n) {
        if (cost < s->best) {
            s->best = cost;
            s->found = 1;
            memcpy(s->best_delta, s->delta, sizeof s->delta);
        }
        return;
    }
    const sdc_geom *g = s->g;
    unsigned d = s->order[level];
    unsigned a = s->a[d];
    sdc_cand *list = s->cand[level];
    unsigned len = 0;
    int64_t total_cost = -1;
    int last = level + 1 == g->n;
    /* The total first: once it is suppressed it is often free, and at the last level a
     * candidate that adds nothing ends the search of this branch. */
    for (unsigned i = 0; i < g->ext[d]; i++) {
        unsigned b = i == 0 ? g->size[d] : i - 1;
        if (b == a)
            continue;
        ptrdiff_t delta = ((ptrdiff_t)b - (ptrdiff_t)a) * (ptrdiff_t)g->stride[d];
        int sg = (a < g->size[d] && b < g->size[d]) ? -1 : 1;
        int64_t add = 0;
        int ok = 1;
        /* The corners that become fully known at this level: b in d, any subset of the
         * earlier levels' b, the rest at a. */
        if (s->work > s->limit)
            return;
        s->work += 1u << level;
        for (unsigned m = 0; ok && m < (1u << level); m++) {
            ptrdiff_t off = delta;
            int sign = sg;
            for (unsigned l = 0; l < level; l++)
                if (m & (1u << l)) {
                    off += s->delta[l];
                    sign *= s->sign[l];
                }
            ok = corner_ok(s, (size_t)((ptrdiff_t)s->p + off), sign, &add);
        }
        if (!ok || cost + add >= s->best)
            continue;
        if (last) {
            s->delta[level] = delta;
            s->sign[level] = sg;
            s->best = cost + add;
            s->found = 1;
            memcpy(s->best_delta, s->delta, sizeof s->delta);
            if (add == 0)
                return;
            continue;
        }
        if (b == g->size[d]) {
            total_cost = cost + add; /* always explored: it keeps a non-zero cell protectable */
            continue;
        }
        unsigned cap = s->beam ? s->beam : sdc_beam[level];
        cand_insert(list, &len, cap, cost + add, b);
        if (len == cap && list[len - 1].cost == cost)
            break; /* a full beam of candidates that add nothing: none can enter any more */
    }
    if (total_cost >= 0)
        cand_insert(list, &len, len + 1, total_cost, g->size[d]);
    for (unsigned i = 0; i < len; i++) {
        if (list[i].cost >= s->best)
            break;
        unsigned b = list[i].b;
        s->delta[level] = ((ptrdiff_t)b - (ptrdiff_t)a) * (ptrdiff_t)g->stride[d];
        s->sign[level] = (a < g->size[d] && b < g->size[d]) ? -1 : 1;
        search_level(s, level + 1, list[i].cost);
    }
}

/* Finds the cheapest hypercube for primary cell p; returns 1 and marks its corners. */
static int protect_cell(sdc_search *s, size_t p, uint8_t *status) {
    const sdc_geom *g = s->g;
    for (unsigned d = 0; d < g->n; d++)
        s->a[d] = coord_of(g, p, d);
    s->p = p;
    s->t = s->k - s->value[p];
    s->found = 0;
    /* A bounded beam first (it always finds the hypercube towards the totals of a non-zero
     * cell); if it finds nothing, every candidate within a work budget; then, for a suppressed
     * zero, suppressed zeros as + corners, whose all-plus hypercube the beam always holds. */
    for (unsigned pass = 0; pass < 3 && !s->found; pass++) {
        s->relax = pass == 2;
        s->beam = pass == 1 ? s->maxext : 0;
        s->work = 0;
        s->limit = pass == 1 ? SDC_FULL_WORK : SIZE_MAX;
        s->best = INT64_MAX;
        s->found = 0;
        search_level(s, 0, 0);
    }
    if (!s->found)
        return 0;
    for (unsigned m = 0; m < (1u << g->n); m++) {
        ptrdiff_t off = 0;
        for (unsigned l = 0; l < g->n; l++)
            if (m & (1u << l))
                off += s->best_delta[l];
        size_t c = (size_t)((ptrdiff_t)p + off);
        if (status[c] == JET_SDC_PUBLISHED)
            status[c] = JET_SDC_SECONDARY;
    }
    return 1;
}

typedef struct sdc_prim {
    int64_t value;
    size_t idx;
} sdc_prim;

static int prim_cmp(const void *x, const void *y) {
    const sdc_prim *a = x, *b = y;
    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void fill_report(const sdc_geom *g, const jet_sdc_table *t, jet_sdc_report *r) {
    if (r == NULL)
        return;
    memset(r, 0, sizeof *r);
    r->cells = g->ncells;
    r->total_mass = t->value[g->ncells - 1];
    for (size_t i = 0; i < g->ncells; i++) {
        if (t->status[i] == JET_SDC_PRIMARY)
            r->primary++;
        else if (t->status[i] == JET_SDC_SECONDARY)
            r->secondary++;
        else
            continue;
        int inner = 1;
        for (unsigned d = 0; d < g->n; d++)
            if (coord_of(g, i, d) == g->size[d])
                inner = 0;
        if (inner)
            r->suppressed_mass += t->value[i];
    }
}

int jet_sdc_protect(jet_sdc_table *t, const jet_sdc_options *opt, jet_sdc_report *report,
                    jet_diag *diag) {
    sdc_geom g;
    int rc = geom_init(t, &g, diag);
    if (rc != 0)
        return rc;
    if (opt == NULL || opt->k < 1)
        return jet_diag_fail(diag, JET_EINVAL, "sdc: threshold k must be at least 1");
    rc = check_totals(&g, t->value, diag);
    if (rc != 0)
        return rc;

    int64_t k = opt->k;
    size_t nprim = 0;
    for (size_t i = 0; i < g.ncells; i++) {
        int64_t v = t->value[i];
        int small = (v >= 1 && v < k) || (v == 0 && !opt->publish_zeros && k > 0);
        t->status[i] = small ? JET_SDC_PRIMARY : JET_SDC_PUBLISHED;
        nprim += (size_t)small;
    }

    sdc_prim *prim = NULL;
    sdc_cand *cand = NULL;
    unsigned maxext = 1;
    for (unsigned d = 0; d < g.n; d++)
        if (g.ext[d] > maxext)
            maxext = (unsigned)g.ext[d];
    if (nprim > 0) {
        prim = malloc(nprim * sizeof *prim);
        cand = malloc((size_t)JET_SDC_MAX_DIMS * (maxext + 1) * sizeof *cand);
        if (prim == NULL || cand == NULL) {
            rc = jet_diag_fail(diag, JET_ENOMEM, "sdc: out of memory");
            goto out;
        }
    }
    size_t np = 0;
    for (size_t i = 0; i < g.ncells; i++)
        if (t->status[i] == JET_SDC_PRIMARY)
            prim[np++] = (sdc_prim){t->value[i], i};
    /* The smallest cells need the largest perturbation: protect them first. */
    if (np > 1)
        qsort(prim, np, sizeof *prim, prim_cmp);

    sdc_search s;
    memset(&s, 0, sizeof s);
    s.g = &g;
    s.value = t->value;
    s.status = t->status;
    s.k = k;
    for (unsigned l = 0; cand != NULL && l < JET_SDC_MAX_DIMS; l++)
        s.cand[l] = cand + (size_t)l * (maxext + 1); /* no small count: no search, no lists */
    s.maxext = maxext;
    /* Largest dimension first: its single new corner per candidate filters most choices
     * before the small dimensions multiply them. */
    for (unsigned d = 0; d < g.n; d++)
        s.order[d] = d;
    for (unsigned i = 1; i < g.n; i++)
        for (unsigned j = i; j > 0 && g.size[s.order[j]] > g.size[s.order[j - 1]]; j--) {
            unsigned tmp = s.order[j];
            s.order[j] = s.order[j - 1];
            s.order[j - 1] = tmp;
        }

    int fallback = 0;
    for (size_t i = 0; i < np && !fallback; i++)
        if (!protect_cell(&s, prim[i].idx, t->status))
            fallback = 1;
    if (fallback) {
        /* Only a suppressed zero can lack a hypercube (every marginal of a non-zero cell is
         * non-zero, so the hypercube towards the totals always exists). The safe answer is to
         * withhold every cell that is not a published zero: then every primary cell can grow
         * along with all its totals without bound. */
        for (size_t i = 0; i < g.ncells; i++)
            if (t->status[i] == JET_SDC_PUBLISHED && (t->value[i] != 0 || !opt->publish_zeros))
                t->status[i] = JET_SDC_SECONDARY;
    }
    fill_report(&g, t, report);
    rc = 0;
out:
    free(prim);
    free(cand);
    return rc;
}
