/* test_dlaplace.c - the discrete Laplace sampler: the Bernoulli(exp(-n/d)) building block and
 * the distribution of draws (symmetry, P(0), the variance 2a/(1-a)^2 with a = exp(-s/t)),
 * checked with wide statistical margins over many draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sodium.h>

#include "dlaplace.h"
#include "testutil.h"

enum { N = 200000 };

static jet_dlaplace g_d;

static void test_bernoulli_exp(void **state) {
    (void)state;
    static const uint32_t ns[] = {0, 1, 3, 7, 10};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        long ones = 0;
        for (int j = 0; j < N; j++)
            ones += jet_dlaplace_bernoulli_exp(&g_d, ns[i], 10);
        double p = exp(-(double)ns[i] / 10.0), got = (double)ones / N;
        double sd = sqrt(p * (1 - p) / N);
        if (fabs(got - p) > 6 * sd + 1e-9) {
            print_error("Bernoulli(exp(-%u/10)): %f, expected %f\n", ns[i], got, p);
            fail();
        }
    }
}

static void check_distribution(uint32_t s, uint32_t t) {
    double a = exp(-(double)s / t);
    double var_expected = 2 * a / ((1 - a) * (1 - a));
    double p0_expected = (1 - a) / (1 + a);
    double sum = 0, sum2 = 0;
    long zeros = 0, pos = 0, neg = 0;
    for (int i = 0; i < N; i++) {
        int64_t x = jet_dlaplace_sample(&g_d, s, t);
        sum += (double)x;
        sum2 += (double)x * (double)x;
        zeros += x == 0;
        pos += x > 0;
        neg += x < 0;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    double p0 = (double)zeros / N;
    if (fabs(mean) > 6 * sqrt(var_expected / N) || fabs(var / var_expected - 1) > 0.05 ||
        fabs(p0 - p0_expected) > 6 * sqrt(p0_expected * (1 - p0_expected) / N) ||
        fabs((double)(pos - neg)) > 6 * sqrt((double)(pos + neg))) {
        print_error("s/t = %u/%u: mean %f, variance %f (expected %f), P(0) %f (expected %f), "
                    "%ld > 0, %ld < 0\n",
                    s, t, mean, var, var_expected, p0, p0_expected, pos, neg);
        fail();
    }
}

static void test_distribution(void **state) {
    (void)state;
    check_distribution(500, 1000);  /* epsilon 0.5 */
    check_distribution(1000, 1000); /* epsilon 1 */
    check_distribution(2000, 1000); /* epsilon 2 */
    check_distribution(3, 7);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    jet_dlaplace_init(&g_d);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bernoulli_exp),
        cmocka_unit_test(test_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
