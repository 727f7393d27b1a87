// Statistics for testing that a draw is fair: is a permutation (arrival → place) independent
// of arrival order? Two complementary checks, used by the on-sale e2e test
// (tests/e2e/draw_redis_kafka_test.cpp) and unit-tested in tests/unit/stats_test.cpp:
// - Spearman's rho catches a monotone trend (early arrivals drawn early or late);
// - the decile chi-square catches any dependence between when one arrived and where one
//   landed, including non-monotone ones (e.g. the middle of the arrivals favoured).
// Pure functions, thread-safe; invalid input throws std::invalid_argument.
#pragma once

#include <cstdint>
#include <span>

namespace anteroom::testing {

// Spearman's rank correlation between arrival and place, where `place_of[i]` is the place of
// the i-th arrival, places being 1..n, each once (a permutation: no ties, so
// rho = 1 - 6 * sum(d^2) / (n (n^2 - 1))). 1 = drawn in arrival order, -1 = reversed,
// ~N(0, 1/(n-1)) for a uniform random permutation. Needs n >= 2.
double SpearmanRho(std::span<const int64_t> place_of);

struct ChiSquare {
  double chi2 = 0;  // Pearson's statistic over the bins x bins table
  int df = 0;       // (bins - 1)^2
  double p = 0;     // P(X >= chi2) for X ~ chi-square(df): small = dependence
};
// Pearson's chi-square test of independence on the bins x bins contingency table (arrival
// bin of i, place bin of place_of[i]), bin = floor(rank * bins / n) for 0-based ranks; the
// expected count of a cell is row total * column total / n. Same input as SpearmanRho. Needs
// n >= bins * bins (so that cells are expected to hold at least one entry each).
ChiSquare DecileChiSquare(std::span<const int64_t> place_of, int bins = 10);

// The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), a > 0,
// x >= 0: a series for x < a + 1, a continued fraction (modified Lentz) otherwise, as in
// Numerical Recipes 6.2; relative accuracy ~1e-14.
double RegularizedGammaQ(double a, double x);

// The chi-square distribution's upper tail: Q(df / 2, chi2 / 2).
double ChiSquareP(double chi2, int df);

}  // namespace anteroom::testing
