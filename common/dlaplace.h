/* dlaplace.h - exact sampling of the discrete Laplace (two-sided geometric) distribution,
 * for the optional noise on statistics releases ([stats] noise = true).
 *
 * P(X = x) is proportional to exp(-|x| * s / t) for integer x: with s/t = epsilon, adding X to
 * each count of a table whose counts change by at most 1 in total when one person is added or
 * removed gives epsilon-differential privacy. The sampler follows Canonne, Kamath and Steinke
 * (2020, "The Discrete Gaussian for Differential Privacy", Algorithms 1 and 2): only integer
 * arithmetic on uniform integers drawn from libsodium's randombytes_buf(), never floating point,
 * whose rounding leaks (Mironov 2012).
 *
 * A sampler is caller-allocated (_init/_fini); it buffers random words so that a table of a
 * million cells does not make millions of system calls. */
#ifndef JET_DLAPLACE_H
#define JET_DLAPLACE_H

#include <stddef.h>
#include <stdint.h>

enum { JET_DLAPLACE_BUFFER = 1024 };

typedef struct jet_dlaplace {
    uint32_t word[JET_DLAPLACE_BUFFER]; /* private */
    size_t pos;                         /* private */
} jet_dlaplace;

/* Prepares a sampler (no allocation). */
void jet_dlaplace_init(jet_dlaplace *d);

/* Wipes the buffered random words. */
void jet_dlaplace_fini(jet_dlaplace *d);

/* A draw with P(x) ~ exp(-|x| * s / t). s and t must be 1..1,000,000. */
int64_t jet_dlaplace_sample(jet_dlaplace *d, uint32_t s, uint32_t t);

/* A Bernoulli draw with P(1) = exp(-n/den), for 0 <= n <= den, 1 <= den <= 1,000,000. Exposed
 * for the tests of the sampler. */
int jet_dlaplace_bernoulli_exp(jet_dlaplace *d, uint32_t n, uint32_t den);

#endif
