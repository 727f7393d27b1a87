// The fairness statistics of the on-sale e2e test (tests/support/stats.hpp): reference values
// computed independently (Python's math module), exact small cases, and proof that both checks
// reject draws that leak arrival order — a check that could not fail would prove nothing.
#include "support/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace anteroom::testing {
namespace {

constexpr int64_t kEntrants = 20000;  // as in the e2e test
constexpr double kMaxRho = 0.03;      // the e2e test's thresholds
constexpr double kMinP = 0.001;

std::vector<int64_t> Identity(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

std::vector<int64_t> Shuffled(int64_t n, uint64_t seed) {
  auto v = Identity(n);
  std::mt19937_64 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

// Wilson–Hilferty: (chi2/df)^(1/3) is close to normal; an independent approximation, within
// ~1.4e-4 of the exact tail for df = 81.
double WilsonHilferty(double chi2, int df) {
  const double k = df, z = (std::cbrt(chi2 / k) - (1 - 2 / (9 * k))) / std::sqrt(2 / (9 * k));
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

TEST(Stats, RegularizedGammaQMatchesReferenceValues) {
  // Q(df/2, chi2/2) for df = 81 (the 10x10 table), from a stdlib Python computation.
  EXPECT_NEAR(ChiSquareP(60, 81), 0.9612, 5e-5);
  EXPECT_NEAR(ChiSquareP(81, 81), 0.4791, 5e-5);
  EXPECT_NEAR(ChiSquareP(100, 81), 0.0748, 5e-5);
  EXPECT_NEAR(ChiSquareP(124, 81), 0.0015, 5e-5);
  EXPECT_NEAR(ChiSquareP(130, 81), 0.00045, 5e-6);
  // 126.08 is the critical value for p = 0.001: the e2e test's threshold.
  EXPECT_NEAR(ChiSquareP(126.08, 81), 0.001, 1e-6);
  EXPECT_GT(ChiSquareP(126.0, 81), 0.001);
  EXPECT_LT(ChiSquareP(126.2, 81), 0.001);
}

TEST(Stats, RegularizedGammaQMatchesClosedFormsOnBothBranches) {
  // Q(1, x) = e^-x and Q(1/2, x) = erfc(sqrt x); x below and above a + 1 takes each branch.
  for (double x : {0.0, 0.1, 0.5, 1.0, 1.9, 2.1, 5.0, 20.0, 100.0}) {
    EXPECT_NEAR(RegularizedGammaQ(1, x), std::exp(-x), 1e-13 + 1e-12 * std::exp(-x)) << x;
    EXPECT_NEAR(RegularizedGammaQ(0.5, x), std::erfc(std::sqrt(x)), 1e-13) << x;
  }
  // Q(n, x) for integer n = e^-x * sum_{k<n} x^k / k!.
  for (double x : {3.0, 8.0, 15.0}) {
    double sum = 0, term = 1;
    for (int k = 0; k < 10; ++k) {
      sum += term;
      term *= x / (k + 1);
    }
    EXPECT_NEAR(RegularizedGammaQ(10, x), std::exp(-x) * sum, 1e-12) << x;
  }
}

TEST(Stats, ChiSquarePAgreesWithWilsonHilferty) {
  for (double chi2 : {50.0, 60.0, 70.0, 81.0, 90.0, 100.0, 110.0, 124.0, 130.0, 150.0}) {
    EXPECT_NEAR(ChiSquareP(chi2, 81), WilsonHilferty(chi2, 81), 2e-4) << chi2;
  }
}

TEST(Stats, SpearmanRhoOfSmallPermutations) {
  EXPECT_DOUBLE_EQ(SpearmanRho(std::vector<int64_t>{1, 2, 3, 4, 5}), 1.0);
  EXPECT_DOUBLE_EQ(SpearmanRho(std::vector<int64_t>{5, 4, 3, 2, 1}), -1.0);
  // sum d^2 = 4, n = 5: 1 - 6 * 4 / (5 * 24) = 0.8.
  EXPECT_DOUBLE_EQ(SpearmanRho(std::vector<int64_t>{2, 1, 4, 3, 5}), 0.8);
}

TEST(Stats, DecileChiSquareOfAKnownTable) {
  // n = 100 in arrival order: each diagonal cell holds 10 where 1 is expected, the rest 0.
  // chi2 = 10 * (10 - 1)^2 / 1 + 90 * 1 = 900.
  const ChiSquare c = DecileChiSquare(Identity(100));
  EXPECT_DOUBLE_EQ(c.chi2, 900.0);
  EXPECT_EQ(c.df, 81);
  EXPECT_LT(c.p, 1e-100);
}

TEST(Stats, RefusesWhatIsNotAPermutation) {
  EXPECT_THROW(SpearmanRho(std::vector<int64_t>{1, 1, 3}), std::invalid_argument);
  EXPECT_THROW(SpearmanRho(std::vector<int64_t>{0, 1, 2}), std::invalid_argument);
  EXPECT_THROW(SpearmanRho(std::vector<int64_t>{1}), std::invalid_argument);
  auto v = Identity(200);
  v[7] = 201;
  EXPECT_THROW(DecileChiSquare(v), std::invalid_argument);
  EXPECT_THROW(DecileChiSquare(Identity(99)), std::invalid_argument);  // < 100 for 10 bins
  EXPECT_THROW(RegularizedGammaQ(0, 1), std::invalid_argument);
  EXPECT_THROW(RegularizedGammaQ(1, -1), std::invalid_argument);
}

// Uniform random permutations pass both checks. The seeds are fixed, so this is deterministic;
// with fresh randomness each check would fail about 0.1% of the time (p < 0.001 by chance).
TEST(Stats, FairDrawsPass) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    const auto draw = Shuffled(kEntrants, seed);
    const double rho = SpearmanRho(draw);
    const ChiSquare c = DecileChiSquare(draw);
    EXPECT_LT(std::fabs(rho), kMaxRho) << "seed " << seed;
    EXPECT_GT(c.p, kMinP) << "seed " << seed << " chi2 " << c.chi2;
  }
}

TEST(Stats, BothChecksRejectADrawInArrivalOrder) {
  const auto draw = Identity(kEntrants);
  EXPECT_DOUBLE_EQ(SpearmanRho(draw), 1.0);
  EXPECT_LT(DecileChiSquare(draw).p, kMinP);
  std::vector<int64_t> reversed(draw.rbegin(), draw.rend());
  EXPECT_GT(std::fabs(SpearmanRho(reversed)), kMaxRho);
  EXPECT_LT(DecileChiSquare(reversed).p, kMinP);
}

// A draw that leaks 2% of arrival order: the first 2% of arrivals take the first 2% of places
// (early insiders kept ahead), everyone else is shuffled fairly. Both checks must catch it.
TEST(Stats, BothChecksRejectADrawLeakingTwoPercentOfArrivalOrder) {
  for (uint64_t seed : {1, 2, 3}) {
    const int64_t leaked = kEntrants / 50;
    std::vector<int64_t> draw = Identity(kEntrants);
    std::mt19937_64 rng(seed);
    std::shuffle(draw.begin() + leaked, draw.end(), rng);
    const double rho = SpearmanRho(draw);
    const ChiSquare c = DecileChiSquare(draw);
    EXPECT_GT(std::fabs(rho), kMaxRho) << "seed " << seed;
    EXPECT_LT(c.p, kMinP) << "seed " << seed << " chi2 " << c.chi2;
  }
}

// Non-monotone dependence, which rho cannot see: the middle fifth of the arrivals is moved to
// the front. The chi-square is what catches it.
TEST(Stats, ChiSquareCatchesWhatRhoMisses) {
  std::vector<int64_t> draw(kEntrants);
  std::mt19937_64 rng(7);
  auto places = Identity(kEntrants);
  const int64_t fifth = kEntrants / 5;
  // Arrivals in [2/5, 3/5) get places 1..fifth (shuffled); the others share the rest fairly.
  std::vector<int64_t> front(places.begin(), places.begin() + fifth);
  std::vector<int64_t> back(places.begin() + fifth, places.end());
  std::shuffle(front.begin(), front.end(), rng);
  std::shuffle(back.begin(), back.end(), rng);
  for (int64_t i = 0, f = 0, b = 0; i < kEntrants; ++i) {
    draw[i] = (i >= 2 * fifth && i < 3 * fifth) ? front[f++] : back[b++];
  }
  EXPECT_LT(std::fabs(SpearmanRho(draw)), kMaxRho);
  EXPECT_LT(DecileChiSquare(draw).p, kMinP);
}

}  // namespace
}  // namespace anteroom::testing
