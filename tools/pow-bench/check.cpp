// pow-check-bench: the server's own proof check (pow::check: two HMAC-SHA256 and one SHA-256)
// timed alone, for bench 9's cross-check of the verify cost measured through HTTP.
//
//   pow-check-bench [--n N] [--bits B]
//       Mints one challenge of B bits (default 8), solves it here, then calls pow::check on
//       that valid proof N times (default 200,000): ns per call on this thread's CPU clock.
//
// Output: `RESULT mode=check calls=N ns_per_check=X`.
#include <openssl/sha.h>
#include <time.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pow/challenge.hpp"

namespace {

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// A nonce for `c` (plain SHA256 per try: a few hundred tries at 8 bits).
std::string solve(const std::string& c, int bits) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  for (unsigned long n = 0;; ++n) {
    std::string in = c + ":" + std::to_string(n);
    SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
    if (anteroom::pow::leading_zero_bits(d) >= bits) return std::to_string(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long n = 200'000;
  int bits = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--n") {
      n = std::atol(argv[i + 1]);
    } else if (a == "--bits") {
      bits = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: pow-check-bench [--n N] [--bits B]\n");
      return 2;
    }
  }
  const anteroom::Millis now = 1'767'225'600'000;
  std::string key = anteroom::pow::derive_key("bench-secret-0123456789abcdef0123456789");
  auto c = anteroom::pow::mint(key, "bench", bits, now + 120'000);
  std::string nonce = solve(c.text, bits);
  auto first = anteroom::pow::check(key, "bench", c.text, nonce, now);
  if (first.verdict != anteroom::PowVerdict::valid) {
    std::fprintf(stderr, "pow-check-bench: the proof is not valid\n");
    return 1;
  }
  long valid = 0;
  double t0 = thread_cpu_ns();
  for (long i = 0; i < n; ++i)
    valid += anteroom::pow::check(key, "bench", c.text, nonce, now).verdict ==
             anteroom::PowVerdict::valid;
  double ns = (thread_cpu_ns() - t0) / double(n);
  if (valid != n) {
    std::fprintf(stderr, "pow-check-bench: %ld of %ld checks were not valid\n", n - valid, n);
    return 1;
  }
  std::printf("RESULT mode=check calls=%ld bits=%d ns_per_check=%.0f\n", n, bits, ns);
  return 0;
}
