/* dlaplace.c - the discrete Laplace sampler of Canonne, Kamath and Steinke (2020), on uniform
 * integers from libsodium's generator. */
#include "dlaplace.h"

#include <sodium.h>

void jet_dlaplace_init(jet_dlaplace *d) {
    d->pos = JET_DLAPLACE_BUFFER; /* empty: refilled on first use */
}

void jet_dlaplace_fini(jet_dlaplace *d) {
    sodium_memzero(d, sizeof *d);
}

static uint32_t next_word(jet_dlaplace *d) {
    if (d->pos == JET_DLAPLACE_BUFFER) {
        randombytes_buf(d->word, sizeof d->word);
        d->pos = 0;
    }
    return d->word[d->pos++];
}

/* A uniform integer in [0, n), n >= 1, without modulo bias (rejection as libsodium does). */
static uint32_t uniform(jet_dlaplace *d, uint32_t n) {
    uint32_t min = (uint32_t)(-n) % n, r;
    do
        r = next_word(d);
    while (r < min);
    return r % n;
}

/* 1 with probability n/den (den <= 2^32 - 1 after halving both in absurd cases). */
static int bernoulli(jet_dlaplace *d, uint64_t n, uint64_t den) {
    while (den > UINT32_MAX) {
        n >>= 1;
        den >>= 1;
    }
    return (uint64_t)uniform(d, (uint32_t)den) < n;
}

int jet_dlaplace_bernoulli_exp(jet_dlaplace *d, uint32_t n, uint32_t den) {
    /* Algorithm 1 for gamma = n/den in [0, 1]: K counts successes of Bernoulli(gamma / K);
     * the result is 1 when K ends odd. */
    uint64_t k = 1;
    if (n == 0)
        return 1;
    while (bernoulli(d, n, (uint64_t)den * k))
        k++;
    return (int)(k & 1);
}

int64_t jet_dlaplace_sample(jet_dlaplace *d, uint32_t s, uint32_t t) {
    /* Algorithm 2: X = U + t*V is geometric with parameter exp(-1/t); Y = floor(X / s) is
     * geometric with parameter exp(-s/t); a random sign, rejecting "-0". */
    for (;;) {
        uint32_t u = uniform(d, t);
        if (!jet_dlaplace_bernoulli_exp(d, u, t))
            continue;
        uint64_t v = 0;
        while (jet_dlaplace_bernoulli_exp(d, 1, 1))
            v++;
        uint64_t x = u + (uint64_t)t * v;
        int64_t y = (int64_t)(x / s);
        int b = (int)(next_word(d) & 1);
        if (b == 1 && y == 0)
            continue;
        return b ? -y : y;
    }
}
