/* sdc_audit.c - the independent audit of a suppression pattern (jet_sdc_audit in sdc.h).
 *
 * This file shares nothing with the suppression code but jet_sdc_index(): the layout (strides)
 * is derived from that function and the additive relations from the table shape. Steps:
 *
 *   1. Shape, non-negative counts, consistent totals, and no published count in 1..k-1 (nor a
 *      published zero when zeros are not published).
 *   2. Rank test. Unknowns are the suppressed cells, equations every line that holds one (the
 *      published cells move to the right-hand side). Cells linked through lines form connected
 *      components, which are independent systems. In each, sparse Gaussian elimination modulo
 *      the prime p = 2^61 - 1 gives an echelon form; one null vector with random free values is
 *      back-substituted. Cell j is determined iff e_j lies in the row space, i.e. iff every
 *      null vector is 0 at j; a random null vector is 0 at an undetermined j with probability
 *      1/p, which can only make the audit stricter, never laxer.
 *      Exactness over the rationals: the rank mod p equals the rank over Q (and so the answer
 *      for every cell agrees) when no non-zero minor of the 0/+-1 matrix (or of the matrix with
 *      e_j appended) is divisible by p. Hadamard's bound gives |minor| <= prod sqrt(row
 *      length); when that product is below p the mod-p answers are exact. For larger components
 *      every cell reported undetermined must also be moved by an exactly verified integer
 *      perturbation (step 4); otherwise the audit fails. An elimination whose fill exceeds a
 *      small multiple of the component's size is abandoned: its cells then need certificates,
 *      and the unbounded rank test runs only to judge a cell that has none.
 *   3. Every small cell must be able to reach k: first a hypercube of suppressed cells whose
 *      +t/-t pattern (t = k - x) is checked here against every line through its corners and
 *      against non-negativity, else the maximum of x under the component's equations and x >= 0
 *      from lp_solve must be >= k (a time-out or solver failure fails the audit).
 *   4. Undetermined-cell certificates for components too large for the Hadamard argument:
 *      exactly verified integer perturbations (hypercubes with t = 1) moving each cell. */
#include "sdc.h"

#include <lp_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUD_P ((uint64_t)0x1FFFFFFFFFFFFFFFull) /* 2^61 - 1, a Mersenne prime */

enum {
    AUD_BUDGET = 400000,   /* corner checks per hypercube search before giving up on it */
    AUD_EXACT_BITS = 59,   /* Hadamard bound (log2) under which mod-p results are exact */
    AUD_FILL = 8,          /* elimination work per non-zero before relying on certificates */
    AUD_LP_SECONDS = 30,   /* per LP of the fallback in step 3 */
};

typedef struct aud {
    unsigned n;
    unsigned size[JET_SDC_MAX_DIMS];
    size_t ext[JET_SDC_MAX_DIMS];
    size_t stride[JET_SDC_MAX_DIMS];
    size_t ncells;
    const int64_t *v;
    const uint8_t *st;
    int64_t k;
    int publish_zeros;
    size_t nsup;
    size_t *sup;     /* suppressed cells, ascending */
    int32_t *lid;    /* cell -> index in sup, or -1 */
    uint32_t *ord[JET_SDC_MAX_DIMS];   /* lids grouped by line along d */
    uint32_t *gstart[JET_SDC_MAX_DIMS]; /* per lid: start of its line's group in ord[d] */
    uint32_t *glen[JET_SDC_MAX_DIMS];
    uint8_t *needk; /* per lid: must be able to reach k */
    uint8_t *cert;  /* per lid: proven undetermined */
    uint8_t *exact; /* per lid: its component's mod-p answer is exact */
    uint32_t *uf;
    size_t budget;
} aud;

typedef struct aud_row {
    unsigned d;
    uint32_t start, len; /* in ord[d] */
} aud_row;

/* ---- arithmetic modulo 2^61 - 1 ---- */

static uint64_t m_mul(uint64_t a, uint64_t b) {
    unsigned __int128 z = (unsigned __int128)a * b;
    uint64_t r = (uint64_t)(z & AUD_P) + (uint64_t)(z >> 61);
    return r >= AUD_P ? r - AUD_P : r;
}

static uint64_t m_add(uint64_t a, uint64_t b) {
    uint64_t r = a + b;
    return r >= AUD_P ? r - AUD_P : r;
}

static uint64_t m_sub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + AUD_P - b; }

static uint64_t m_inv(uint64_t a) {
    uint64_t r = 1, e = AUD_P - 2;
    while (e) {
        if (e & 1)
            r = m_mul(r, a);
        a = m_mul(a, a);
        e >>= 1;
    }
    return r;
}

/* ---- layout, derived only from jet_sdc_index ---- */

static unsigned a_coord(const aud *A, size_t idx, unsigned d) {
    return (unsigned)((idx / A->stride[d]) % A->ext[d]);
}

static const char *a_name(const aud *A, size_t idx, char *buf, size_t cap) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, cap - off, "(");
    for (unsigned d = 0; d < A->n && off < cap; d++) {
        unsigned c = a_coord(A, idx, d);
        if (c == A->size[d])
            off += (size_t)snprintf(buf + off, cap - off, "%sT", d ? "," : "");
        else
            off += (size_t)snprintf(buf + off, cap - off, "%s%u", d ? "," : "", c);
    }
    if (off < cap)
        snprintf(buf + off, cap - off, ")");
    return buf;
}

static int a_shape(aud *A, const jet_sdc_table *t, jet_diag *diag) {
    if (t == NULL || t->ndims > JET_SDC_MAX_DIMS || t->value == NULL || t->status == NULL)
        return jet_diag_fail(diag, JET_EINVAL, "audit: bad table");
    A->n = t->ndims;
    size_t cells = 1;
    for (unsigned d = 0; d < A->n; d++) {
        if (t->size[d] == 0 || t->size[d] > (1u << 24))
            return jet_diag_fail(diag, JET_EINVAL, "audit: bad size of dimension %u", d);
        A->size[d] = t->size[d];
        A->ext[d] = (size_t)t->size[d] + 1;
        if (cells > ((size_t)1 << 40) / A->ext[d])
            return jet_diag_fail(diag, JET_ETOOBIG, "audit: table too large");
        cells *= A->ext[d];
    }
    if (cells != t->ncells)
        return jet_diag_fail(diag, JET_EINVAL, "audit: ncells does not match the sizes");
    A->ncells = cells;
    unsigned zero[JET_SDC_MAX_DIMS] = {0};
    for (unsigned d = 0; d < A->n; d++) {
        unsigned unit[JET_SDC_MAX_DIMS] = {0};
        unit[d] = 1;
        A->stride[d] = jet_sdc_index(t, unit) - jet_sdc_index(t, zero);
    }
    return 0;
}

/* ---- union-find ---- */

static uint32_t uf_find(uint32_t *uf, uint32_t x) {
    while (uf[x] != x) {
        uf[x] = uf[uf[x]];
        x = uf[x];
    }
    return x;
}

static void uf_union(uint32_t *uf, uint32_t a, uint32_t b) {
    a = uf_find(uf, a);
    b = uf_find(uf, b);
    if (a != b)
        uf[a < b ? b : a] = a < b ? a : b;
}

/* ---- grouping of suppressed cells by line ---- */

typedef struct aud_key {
    size_t key;
    uint32_t lid;
} aud_key;

static int key_cmp(const void *x, const void *y) {
    const aud_key *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->lid < b->lid ? -1 : a->lid > b->lid;
}

static int a_group(aud *A, aud_key *tmp) {
    for (unsigned d = 0; d < A->n; d++) {
        for (size_t i = 0; i < A->nsup; i++) {
            size_t c = A->sup[i];
            tmp[i].key = c - (size_t)a_coord(A, c, d) * A->stride[d];
            tmp[i].lid = (uint32_t)i;
        }
        qsort(tmp, A->nsup, sizeof *tmp, key_cmp);
        for (size_t i = 0; i < A->nsup;) {
            size_t j = i;
            while (j < A->nsup && tmp[j].key == tmp[i].key)
                j++;
            for (size_t m = i; m < j; m++) {
                A->ord[d][m] = tmp[m].lid;
                A->gstart[d][tmp[m].lid] = (uint32_t)i;
                A->glen[d][tmp[m].lid] = (uint32_t)(j - i);
                uf_union(A->uf, tmp[i].lid, tmp[m].lid);
            }
            i = j;
        }
    }
    return 0;
}

/* ---- perturbations: search among suppressed cells, then exact verification ---- */

typedef struct aud_cube {
    size_t root;
    int64_t t;
    int rsign;
    unsigned order[JET_SDC_MAX_DIMS];
    ptrdiff_t delta[JET_SDC_MAX_DIMS];
    int sign[JET_SDC_MAX_DIMS];
    size_t used;
} aud_cube;

static int cube_dfs(aud *A, aud_cube *q, unsigned level) {
    if (level == A->n)
        return 1;
    unsigned d = q->order[level];
    uint32_t rl = (uint32_t)A->lid[q->root];
    uint32_t s0 = A->gstart[d][rl], len = A->glen[d][rl];
    unsigned a = a_coord(A, q->root, d);
    /* From the end: the total (if suppressed) first, then the larger categories. */
    for (uint32_t i = len; i-- > 0;) {
        size_t cell = A->sup[A->ord[d][s0 + i]];
        if (cell == q->root)
            continue;
        unsigned b = a_coord(A, cell, d);
        ptrdiff_t delta = (ptrdiff_t)cell - (ptrdiff_t)q->root;
        int sg = (a < A->size[d] && b < A->size[d]) ? -1 : 1;
        int ok = 1;
        for (unsigned m = 0; ok && m < (1u << level); m++) {
            ptrdiff_t off = delta;
            int sign = sg * q->rsign;
            for (unsigned l = 0; l < level; l++)
                if (m & (1u << l)) {
                    off += q->delta[l];
                    sign *= q->sign[l];
                }
            size_t c = (size_t)((ptrdiff_t)q->root + off);
            if (++q->used > A->budget)
                return 0;
            if (A->lid[c] < 0 || (sign < 0 && A->v[c] < q->t))
                ok = 0;
        }
        if (!ok)
            continue;
        q->delta[level] = delta;
        q->sign[level] = sg;
        if (cube_dfs(A, q, level + 1))
            return 1;
        if (q->used > A->budget)
            return 0;
    }
    return 0;
}

/* Checks a perturbation given as cells and changes, without trusting how it was found: every
 * changed cell is suppressed and stays >= 0, and every line through a changed cell keeps
 * (sum of categories) - total = 0. Lines through no changed cell are unchanged. */
static int verify_perturbation(const aud *A, const size_t *cell, const int64_t *chg, unsigned m) {
    for (unsigned i = 0; i < m; i++) {
        if (A->lid[cell[i]] < 0 || chg[i] == 0 || A->v[cell[i]] + chg[i] < 0)
            return 0;
        for (unsigned j = 0; j < i; j++)
            if (cell[j] == cell[i])
                return 0;
    }
    for (unsigned i = 0; i < m; i++) {
        for (unsigned d = 0; d < A->n; d++) {
            size_t key = cell[i] - (size_t)a_coord(A, cell[i], d) * A->stride[d];
            int64_t sum = 0;
            for (unsigned j = 0; j < m; j++) {
                unsigned cj = a_coord(A, cell[j], d);
                if (cell[j] - (size_t)cj * A->stride[d] != key)
                    continue;
                sum += cj == A->size[d] ? -chg[j] : chg[j];
            }
            if (sum != 0)
                return 0;
        }
    }
    return 1;
}

/* Finds and verifies a hypercube perturbation in which `root` changes by rsign*t. On success
 * marks every changed cell as proven undetermined and returns 1. */
static int a_perturb(aud *A, size_t root, int rsign, int64_t t, int need_k) {
    aud_cube q;
    memset(&q, 0, sizeof q);
    q.root = root;
    q.t = t;
    q.rsign = rsign;
    if (rsign < 0 && A->v[root] < t)
        return 0;
    uint32_t rl = (uint32_t)A->lid[root];
    for (unsigned d = 0; d < A->n; d++)
        q.order[d] = d;
    for (unsigned i = 1; i < A->n; i++)
        for (unsigned j = i; j > 0 && A->glen[q.order[j]][rl] < A->glen[q.order[j - 1]][rl]; j--) {
            unsigned x = q.order[j];
            q.order[j] = q.order[j - 1];
            q.order[j - 1] = x;
        }
    if (!cube_dfs(A, &q, 0))
        return 0;
    size_t cell[1u << JET_SDC_MAX_DIMS];
    int64_t chg[1u << JET_SDC_MAX_DIMS];
    unsigned m = 1u << A->n;
    for (unsigned c = 0; c < m; c++) {
        ptrdiff_t off = 0;
        int sign = rsign;
        for (unsigned l = 0; l < A->n; l++)
            if (c & (1u << l)) {
                off += q.delta[l];
                sign *= q.sign[l];
            }
        cell[c] = (size_t)((ptrdiff_t)root + off);
        chg[c] = sign * t;
    }
    if (!verify_perturbation(A, cell, chg, m))
        return 0;
    if (need_k && A->v[root] + chg[0] < A->k)
        return 0;
    for (unsigned c = 0; c < m; c++)
        A->cert[A->lid[cell[c]]] = 1;
    return 1;
}

/* ---- the rank test on one component ---- */

typedef struct aud_elim {
    uint32_t *heap;
    size_t hlen;
    uint64_t *w;
    uint8_t *mark;
    int32_t *piv;   /* column -> pivot row, or -1 */
    size_t *rstart; /* pivot row r occupies [rstart[r], rstart[r + 1]) */
    uint32_t *pcol;
    uint64_t *pval;
    size_t nrows, cap, used;
    size_t pops, budget; /* heap pops so far and allowed (SIZE_MAX: no limit) */
} aud_elim;

static void heap_push(aud_elim *e, uint32_t c) {
    size_t i = e->hlen++;
    while (i > 0 && e->heap[(i - 1) / 2] > c) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = c;
}

static uint32_t heap_pop(aud_elim *e) {
    uint32_t top = e->heap[0], last = e->heap[--e->hlen];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= e->hlen)
            break;
        if (l + 1 < e->hlen && e->heap[l + 1] < e->heap[l])
            l++;
        if (e->heap[l] >= last)
            break;
        e->heap[i] = e->heap[l];
        i = l;
    }
    if (e->hlen > 0)
        e->heap[i] = last;
    return top;
}

static int elim_reserve(aud_elim *e, size_t more) {
    if (e->used + more <= e->cap)
        return 0;
    size_t cap = e->cap ? e->cap : 1024;
    while (cap < e->used + more)
        cap *= 2;
    uint32_t *pc = realloc(e->pcol, cap * sizeof *pc);
    if (pc == NULL)
        return JET_ENOMEM;
    e->pcol = pc;
    uint64_t *pv = realloc(e->pval, cap * sizeof *pv);
    if (pv == NULL)
        return JET_ENOMEM;
    e->pval = pv;
    e->cap = cap;
    return 0;
}

/* Reduces one row (scattered in w, columns in the heap) against the pivot rows; a row that
 * keeps a non-zero entry becomes the pivot row of its first column, scaled to lead with 1. */
static int elim_row(aud_elim *e) {
    while (e->hlen > 0) {
        if (++e->pops > e->budget)
            return 1;
        uint32_t c = heap_pop(e);
        e->mark[c] = 0;
        uint64_t f = e->w[c];
        if (f == 0)
            continue;
        if (e->piv[c] >= 0) {
            size_t r = (size_t)e->piv[c];
            for (size_t i = e->rstart[r]; i < e->rstart[r + 1]; i++) {
                uint32_t c2 = e->pcol[i];
                e->w[c2] = m_sub(e->w[c2], m_mul(f, e->pval[i]));
                if (c2 != c && !e->mark[c2]) {
                    e->mark[c2] = 1;
                    heap_push(e, c2);
                }
            }
            continue;
        }
        if (elim_reserve(e, e->hlen + 1) != 0)
            return JET_ENOMEM;
        uint64_t inv = m_inv(f);
        e->piv[c] = (int32_t)e->nrows;
        e->pcol[e->used] = c;
        e->pval[e->used++] = 1;
        e->w[c] = 0;
        while (e->hlen > 0) {
            uint32_t c2 = heap_pop(e);
            e->mark[c2] = 0;
            if (e->w[c2] != 0) {
                e->pcol[e->used] = c2;
                e->pval[e->used++] = m_mul(e->w[c2], inv);
                e->w[c2] = 0;
            }
        }
        e->rstart[++e->nrows] = e->used;
        return 0;
    }
    return 0;
}

static int row_len_cmp(const void *x, const void *y) {
    const aud_row *a = x, *b = y;
    return a->len < b->len ? -1 : a->len > b->len;
}

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Rank test of one component: `cols` are its lids (ascending), `rows` its lines. Sets
 * *determined to the first determined lid or -1, and marks exact components. With `bounded`,
 * gives up (returns 1, marking the component inexact) once the elimination's fill makes it cost
 * more than a small multiple of the component's size; the cells then need certificates. */
static int a_rank(aud *A, const uint32_t *cols, size_t ncols, aud_row *rows, size_t nrows,
                  aud_elim *e, uint32_t *colof, int64_t *determined, int bounded) {
    int rc = 0;
    *determined = -1;
    double bits = 0;
    for (size_t i = 0; i < nrows; i++)
        bits += 0.5 * log2((double)rows[i].len);
    int exact = bits < AUD_EXACT_BITS;
    for (size_t i = 0; i < ncols; i++) {
        colof[cols[i]] = (uint32_t)i;
        A->exact[cols[i]] = (uint8_t)exact;
    }
    qsort(rows, nrows, sizeof *rows, row_len_cmp);
    size_t nnz = 0;
    for (size_t i = 0; i < nrows; i++)
        nnz += rows[i].len;
    e->pops = 0;
    e->budget = bounded ? AUD_FILL * nnz + 20000 : SIZE_MAX;
    e->nrows = 0;
    e->used = 0;
    e->rstart[0] = 0;
    for (size_t c = 0; c < ncols; c++)
        e->piv[c] = -1;
    for (size_t r = 0; r < nrows; r++) {
        const aud_row *row = &rows[r];
        for (uint32_t i = 0; i < row->len; i++) {
            uint32_t l = A->ord[row->d][row->start + i];
            uint32_t c = colof[l];
            int total = a_coord(A, A->sup[l], row->d) == A->size[row->d];
            e->w[c] = total ? AUD_P - 1 : 1;
            e->mark[c] = 1;
            heap_push(e, c);
        }
        rc = elim_row(e);
        if (rc == 1) {
            for (size_t c = 0; c < ncols; c++) {
                e->w[c] = 0;
                e->mark[c] = 0;
                A->exact[cols[c]] = 0;
            }
            e->hlen = 0;
            return 1;
        }
        if (rc != 0)
            return rc;
    }
    /* One null vector: random free values, back-substitution in decreasing pivot column. */
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ (uint64_t)ncols;
    uint64_t *x = e->w; /* reuse: w is all zero after elimination */
    for (size_t c = 0; c < ncols; c++)
        if (e->piv[c] < 0)
            x[c] = 1 + next_rand(&seed) % (AUD_P - 1);
    for (size_t c = ncols; c-- > 0;) {
        if (e->piv[c] < 0)
            continue;
        size_t r = (size_t)e->piv[c];
        uint64_t s = 0;
        for (size_t i = e->rstart[r] + 1; i < e->rstart[r + 1]; i++)
            s = m_add(s, m_mul(e->pval[i], x[e->pcol[i]]));
        x[c] = m_sub(0, s);
    }
    for (size_t c = 0; c < ncols; c++) {
        if (x[c] == 0 && *determined < 0)
            *determined = cols[c];
        x[c] = 0;
    }
    return 0;
}

/* ---- LP maximum of one small cell within its component ---- */

static int a_lp_max(aud *A, size_t target, const uint32_t *cols, size_t ncols, const aud_row *rows,
                    size_t nrows, uint32_t *colof, double *out) {
    lprec *lp = make_lp(0, (int)ncols);
    if (lp == NULL)
        return JET_ENOMEM;
    int rc = 0;
    int *idx = malloc((ncols + 1) * sizeof *idx);
    double *val = malloc((ncols + 1) * sizeof *val);
    if (idx == NULL || val == NULL) {
        rc = JET_ENOMEM;
        goto out;
    }
    set_verbose(lp, 1);
    set_timeout(lp, AUD_LP_SECONDS); /* a time-out counts as failure: conservative */
    for (size_t i = 0; i < ncols; i++)
        colof[cols[i]] = (uint32_t)i;
    set_add_rowmode(lp, TRUE);
    for (size_t r = 0; r < nrows; r++) {
        const aud_row *row = &rows[r];
        uint32_t l0 = A->ord[row->d][row->start];
        size_t base = A->sup[l0] - (size_t)a_coord(A, A->sup[l0], row->d) * A->stride[row->d];
        double rhs = 0;
        int n = 0;
        for (unsigned c = 0; c < A->ext[row->d]; c++) {
            size_t cell = base + c * A->stride[row->d];
            double coef = c == A->size[row->d] ? -1.0 : 1.0;
            if (A->lid[cell] >= 0) {
                idx[n] = (int)colof[A->lid[cell]] + 1;
                val[n++] = coef;
            } else {
                rhs -= coef * (double)A->v[cell];
            }
        }
        if (!add_constraintex(lp, n, val, idx, EQ, rhs)) {
            rc = JET_ENOMEM;
            goto out;
        }
    }
    set_add_rowmode(lp, FALSE);
    val[0] = 1.0;
    idx[0] = (int)colof[A->lid[target]] + 1;
    set_obj_fnex(lp, 1, val, idx);
    set_maxim(lp);
    int res = solve(lp);
    if (res == UNBOUNDED)
        *out = INFINITY;
    else if (res == OPTIMAL || res == SUBOPTIMAL)
        *out = get_objective(lp);
    else
        *out = -1;
out:
    free(idx);
    free(val);
    delete_lp(lp);
    return rc;
}

/* ---- the audit ---- */

static int a_basic(aud *A, jet_diag *diag) {
    char nm[96];
    for (size_t i = 0; i < A->ncells; i++) {
        if (A->v[i] < 0)
            return jet_diag_fail(diag, JET_EINVAL, "audit: negative count in cell %s",
                                 a_name(A, i, nm, sizeof nm));
        if (A->st[i] > JET_SDC_SECONDARY)
            return jet_diag_fail(diag, JET_EINVAL, "audit: bad status in cell %s",
                                 a_name(A, i, nm, sizeof nm));
    }
    for (unsigned d = 0; d < A->n; d++) {
        for (size_t i = 0; i < A->ncells; i++) {
            if (a_coord(A, i, d) != 0)
                continue;
            int64_t s = 0;
            for (unsigned c = 0; c < A->size[d]; c++)
                s += A->v[i + c * A->stride[d]];
            size_t tot = i + A->size[d] * A->stride[d];
            if (s != A->v[tot])
                return jet_diag_fail(diag, JET_EINVAL,
                                     "audit: cell %s is not the sum of its categories in "
                                     "dimension %u",
                                     a_name(A, tot, nm, sizeof nm), d);
        }
    }
    for (size_t i = 0; i < A->ncells; i++) {
        int64_t x = A->v[i];
        int small = (x >= 1 && x < A->k) || (x == 0 && !A->publish_zeros);
        if (A->st[i] == JET_SDC_PUBLISHED && small)
            return jet_diag_fail(diag, JET_EDISCLOSURE,
                                 "audit: cell %s publishes a count below %lld",
                                 a_name(A, i, nm, sizeof nm), (long long)A->k);
    }
    return 0;
}

static void a_free(aud *A) {
    free(A->sup);
    free(A->lid);
    for (unsigned d = 0; d < JET_SDC_MAX_DIMS; d++) {
        free(A->ord[d]);
        free(A->gstart[d]);
        free(A->glen[d]);
    }
    free(A->needk);
    free(A->cert);
    free(A->exact);
    free(A->uf);
}

int jet_sdc_audit(const jet_sdc_table *t, const jet_sdc_options *opt, jet_diag *diag) {
    aud A;
    memset(&A, 0, sizeof A);
    char nm[96];
    int rc = a_shape(&A, t, diag);
    if (rc != 0)
        return rc;
    if (opt == NULL || opt->k < 1)
        return jet_diag_fail(diag, JET_EINVAL, "audit: threshold k must be at least 1");
    A.v = t->value;
    A.st = t->status;
    A.k = opt->k;
    A.publish_zeros = opt->publish_zeros;
    A.budget = AUD_BUDGET;
    rc = a_basic(&A, diag);
    if (rc != 0)
        return rc;

    aud_key *tmp = NULL;
    uint32_t *comp_of = NULL, *comp_cnt = NULL, *comp_cols = NULL, *colof = NULL;
    size_t *comp_start = NULL, *row_start = NULL;
    aud_row *rows = NULL, *rows_by = NULL;
    aud_elim e;
    memset(&e, 0, sizeof e);

    A.lid = malloc(A.ncells * sizeof *A.lid);
    if (A.lid == NULL)
        goto nomem;
    for (size_t i = 0; i < A.ncells; i++)
        A.lid[i] = -1;
    for (size_t i = 0; i < A.ncells; i++)
        if (A.st[i] != JET_SDC_PUBLISHED)
            A.nsup++;
    if (A.nsup == 0) {
        rc = 0;
        goto out;
    }
    if (A.nsup >= INT32_MAX)
        goto nomem;
    A.sup = malloc(A.nsup * sizeof *A.sup);
    A.needk = calloc(A.nsup, 1);
    A.cert = calloc(A.nsup, 1);
    A.exact = calloc(A.nsup, 1);
    A.uf = malloc(A.nsup * sizeof *A.uf);
    tmp = malloc(A.nsup * sizeof *tmp);
    if (A.sup == NULL || A.needk == NULL || A.cert == NULL || A.exact == NULL || A.uf == NULL ||
        tmp == NULL)
        goto nomem;
    for (unsigned d = 0; d < A.n; d++) {
        A.ord[d] = malloc(A.nsup * sizeof *A.ord[d]);
        A.gstart[d] = malloc(A.nsup * sizeof *A.gstart[d]);
        A.glen[d] = malloc(A.nsup * sizeof *A.glen[d]);
        if (A.ord[d] == NULL || A.gstart[d] == NULL || A.glen[d] == NULL)
            goto nomem;
    }
    size_t ns = 0;
    for (size_t i = 0; i < A.ncells; i++) {
        if (A.st[i] == JET_SDC_PUBLISHED)
            continue;
        int64_t x = A.v[i];
        A.needk[ns] = (uint8_t)(A.st[i] == JET_SDC_PRIMARY || (x >= 1 && x < A.k) ||
                                (x == 0 && !A.publish_zeros));
        A.uf[ns] = (uint32_t)ns;
        A.lid[i] = (int32_t)ns;
        A.sup[ns++] = i;
    }
    a_group(&A, tmp);

    /* Components: lids in ascending order per component, and their lines. */
    comp_of = malloc(A.nsup * sizeof *comp_of);
    comp_cnt = calloc(A.nsup + 1, sizeof *comp_cnt);
    comp_start = calloc(A.nsup + 2, sizeof *comp_start);
    comp_cols = malloc(A.nsup * sizeof *comp_cols);
    colof = malloc(A.nsup * sizeof *colof);
    if (comp_of == NULL || comp_cnt == NULL || comp_start == NULL || comp_cols == NULL ||
        colof == NULL)
        goto nomem;
    size_t ncomp = 0;
    for (size_t i = 0; i < A.nsup; i++) {
        uint32_t r = uf_find(A.uf, (uint32_t)i);
        comp_of[i] = r == i ? (uint32_t)ncomp++ : comp_of[r];
    }
    for (size_t i = 0; i < A.nsup; i++)
        comp_start[comp_of[i] + 1]++;
    for (size_t c = 0; c < ncomp; c++)
        comp_start[c + 1] += comp_start[c];
    for (size_t i = 0; i < A.nsup; i++)
        comp_cols[comp_start[comp_of[i]] + comp_cnt[comp_of[i]]++] = (uint32_t)i;

    size_t nrows = 0;
    for (unsigned d = 0; d < A.n; d++)
        for (size_t i = 0; i < A.nsup; i += A.glen[d][A.ord[d][i]])
            nrows++;
    rows = malloc((nrows + 1) * sizeof *rows);
    rows_by = malloc((nrows + 1) * sizeof *rows_by);
    row_start = calloc(ncomp + 2, sizeof *row_start);
    if (rows == NULL || rows_by == NULL || row_start == NULL)
        goto nomem;
    size_t nr = 0;
    for (unsigned d = 0; d < A.n; d++)
        for (size_t i = 0; i < A.nsup; i += A.glen[d][A.ord[d][i]])
            rows[nr++] = (aud_row){d, (uint32_t)i, A.glen[d][A.ord[d][i]]};
    for (size_t r = 0; r < nrows; r++)
        row_start[comp_of[A.ord[rows[r].d][rows[r].start]] + 1]++;
    for (size_t c = 0; c < ncomp; c++)
        row_start[c + 1] += row_start[c];
    memset(comp_cnt, 0, (A.nsup + 1) * sizeof *comp_cnt);
    for (size_t r = 0; r < nrows; r++) {
        uint32_t c = comp_of[A.ord[rows[r].d][rows[r].start]];
        rows_by[row_start[c] + comp_cnt[c]++] = rows[r];
    }

    /* Step 2: the rank test, component by component. */
    size_t maxcols = 0;
    for (size_t c = 0; c < ncomp; c++)
        if (comp_start[c + 1] - comp_start[c] > maxcols)
            maxcols = comp_start[c + 1] - comp_start[c];
    size_t maxrows = 0;
    for (size_t c = 0; c < ncomp; c++)
        if (row_start[c + 1] - row_start[c] > maxrows)
            maxrows = row_start[c + 1] - row_start[c];
    e.heap = malloc((maxcols + 1) * sizeof *e.heap);
    e.w = calloc(maxcols + 1, sizeof *e.w);
    e.mark = calloc(maxcols + 1, 1);
    e.piv = malloc((maxcols + 1) * sizeof *e.piv);
    e.rstart = malloc((maxrows + 2) * sizeof *e.rstart);
    if (e.heap == NULL || e.w == NULL || e.mark == NULL || e.piv == NULL || e.rstart == NULL)
        goto nomem;
    for (size_t c = 0; c < ncomp; c++) {
        int64_t det;
        rc = a_rank(&A, comp_cols + comp_start[c], comp_start[c + 1] - comp_start[c],
                    rows_by + row_start[c], row_start[c + 1] - row_start[c], &e, colof, &det, 1);
        if (rc == 1)
            continue; /* too much fill: every cell of it must carry a certificate (step 4) */
        if (rc != 0)
            goto nomem;
        if (det >= 0) {
            rc = jet_diag_fail(diag, JET_EDISCLOSURE,
                               "audit: suppressed cell %s is exactly determined by the published "
                               "cells and totals",
                               a_name(&A, A.sup[det], nm, sizeof nm));
            goto out;
        }
    }

    /* Step 3: every small cell can reach k. */
    for (size_t i = 0; i < A.nsup; i++) {
        if (!A.needk[i])
            continue;
        size_t cell = A.sup[i];
        int64_t tk = A.k - A.v[cell];
        if (tk <= 0 || a_perturb(&A, cell, 1, tk, 1))
            continue;
        uint32_t c = comp_of[i];
        double mx = 0;
        rc = a_lp_max(&A, cell, comp_cols + comp_start[c], comp_start[c + 1] - comp_start[c],
                      rows_by + row_start[c], row_start[c + 1] - row_start[c], colof, &mx);
        if (rc != 0)
            goto nomem;
        if (!(mx >= (double)A.k - 1e-6)) {
            rc = jet_diag_fail(diag, JET_EDISCLOSURE,
                               "audit: small suppressed cell %s can be at most %.6g (< %lld) given "
                               "what is published",
                               a_name(&A, cell, nm, sizeof nm), mx, (long long)A.k);
            goto out;
        }
    }

    /* Step 4: exact certificates where the Hadamard argument does not cover the rank test. */
    for (size_t i = 0; i < A.nsup; i++) {
        if (A.exact[i] || A.cert[i])
            continue;
        size_t cell = A.sup[i];
        if (a_perturb(&A, cell, 1, 1, 0) || a_perturb(&A, cell, -1, 1, 0))
            continue;
        /* No certificate: settle it with the full rank test of its component. */
        uint32_t c = comp_of[i];
        int64_t det;
        rc = a_rank(&A, comp_cols + comp_start[c], comp_start[c + 1] - comp_start[c],
                    rows_by + row_start[c], row_start[c + 1] - row_start[c], &e, colof, &det, 0);
        if (rc != 0)
            goto nomem;
        if (det >= 0) {
            rc = jet_diag_fail(diag, JET_EDISCLOSURE,
                               "audit: suppressed cell %s is exactly determined by the published "
                               "cells and totals",
                               a_name(&A, A.sup[det], nm, sizeof nm));
            goto out;
        }
        if (A.exact[i])
            continue;
        rc = jet_diag_fail(diag, JET_EDISCLOSURE,
                           "audit: cannot prove exactly that suppressed cell %s is not determined",
                           a_name(&A, cell, nm, sizeof nm));
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    rc = jet_diag_fail(diag, JET_ENOMEM, "audit: out of memory");
out:
    free(tmp);
    free(comp_of);
    free(comp_cnt);
    free(comp_start);
    free(comp_cols);
    free(colof);
    free(rows);
    free(rows_by);
    free(row_start);
    free(e.heap);
    free(e.w);
    free(e.mark);
    free(e.piv);
    free(e.rstart);
    free(e.pcol);
    free(e.pval);
    a_free(&A);
    return rc;
}
