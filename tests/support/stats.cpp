#include "support/stats.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace anteroom::testing {
namespace {

constexpr int kMaxIterations = 10000;  // both expansions converge in ~sqrt(a) + 10 terms
constexpr double kEps = 1e-15;
constexpr double kTiny = std::numeric_limits<double>::min() / kEps;

// place_of must hold each of 1..n once: anything else is not a draw's outcome.
void CheckPermutation(std::span<const int64_t> place_of) {
  const auto n = static_cast<int64_t>(place_of.size());
  std::vector<bool> seen(place_of.size(), false);
  for (int64_t p : place_of) {
    if (p < 1 || p > n || seen[p - 1]) {
      throw std::invalid_argument("not a permutation of 1.." + std::to_string(n) + ": place " +
                                  std::to_string(p));
    }
    seen[p - 1] = true;
  }
}

// x^a e^-x / Gamma(a), computed in logs (a = 40.5 overflows nothing, but a = 500 would).
double Prefactor(double a, double x) { return std::exp(a * std::log(x) - x - std::lgamma(a)); }

// P(a, x) by its series; converges quickly for x < a + 1.
double LowerBySeries(double a, double x) {
  double term = 1 / a, sum = term;
  for (int n = 1; n < kMaxIterations; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEps) return sum * Prefactor(a, x);
  }
  throw std::runtime_error("RegularizedGammaQ: the series did not converge");
}

// Q(a, x) by its continued fraction (modified Lentz); converges quickly for x >= a + 1.
double UpperByContinuedFraction(double a, double x) {
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < kEps) return h * Prefactor(a, x);
  }
  throw std::runtime_error("RegularizedGammaQ: the continued fraction did not converge");
}

}  // namespace

double SpearmanRho(std::span<const int64_t> place_of) {
  if (place_of.size() < 2) throw std::invalid_argument("SpearmanRho needs n >= 2");
  CheckPermutation(place_of);
  // Long double: for n = 1e6, sum(d^2) reaches ~1e17, past double's exact integers.
  long double sum_d2 = 0;
  for (size_t i = 0; i < place_of.size(); ++i) {
    const long double d = static_cast<long double>(i + 1) - place_of[i];
    sum_d2 += d * d;
  }
  const long double n = place_of.size();
  return static_cast<double>(1 - 6 * sum_d2 / (n * (n * n - 1)));
}

ChiSquare DecileChiSquare(std::span<const int64_t> place_of, int bins) {
  if (bins < 2) throw std::invalid_argument("DecileChiSquare needs bins >= 2");
  const auto n = static_cast<int64_t>(place_of.size());
  if (n < int64_t{bins} * bins) {
    throw std::invalid_argument("DecileChiSquare needs n >= bins^2");
  }
  CheckPermutation(place_of);
  const auto bin = [&](int64_t rank0) { return static_cast<size_t>(rank0 * bins / n); };
  std::vector<int64_t> cells(size_t(bins) * bins, 0), rows(bins, 0), cols(bins, 0);
  for (int64_t i = 0; i < n; ++i) {
    const size_t r = bin(i), c = bin(place_of[i] - 1);
    ++cells[r * bins + c];
    ++rows[r];
    ++cols[c];
  }
  ChiSquare out;
  for (int r = 0; r < bins; ++r) {
    for (int c = 0; c < bins; ++c) {
      const double expected = static_cast<double>(rows[r]) * cols[c] / n;
      const double diff = cells[size_t(r) * bins + c] - expected;
      out.chi2 += diff * diff / expected;
    }
  }
  out.df = (bins - 1) * (bins - 1);
  out.p = ChiSquareP(out.chi2, out.df);
  return out;
}

double RegularizedGammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isinf(x)) {
    throw std::invalid_argument("RegularizedGammaQ needs a > 0 and finite x >= 0");
  }
  if (x == 0) return 1;
  if (x < a + 1) return 1 - LowerBySeries(a, x);
  return UpperByContinuedFraction(a, x);
}

double ChiSquareP(double chi2, int df) {
  if (df < 1) throw std::invalid_argument("ChiSquareP needs df >= 1");
  return RegularizedGammaQ(df / 2.0, chi2 / 2.0);
}

}  // namespace anteroom::testing
