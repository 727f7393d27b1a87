// The admission-token verifier (src/token/jwt.cpp) on arbitrary tokens. Input: the token.
// Checks: no crash or sanitizer report (a token is the one thing a visitor's browser hands a
// protected site); a token forged without the secret is refused; and whatever claims verify
// accepts round-trip through sign and verify unchanged.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "token/jwt.hpp"

using namespace anteroom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const TokenSigner signer("fuzz-secret-0123456789abcdef0123");
  static const TokenSigner other("not-the-secret");
  std::string_view token(reinterpret_cast<const char*>(data), size);
  constexpr int64_t kNow = 1'700'000'000;

  auto claims = signer.verify(token, kNow);
  if (!claims) {
    if (claims.error().code != Errc::unauthorized) __builtin_trap();
    // Signing must round-trip: take the input as a ticket id. Only printable ASCII, as ids are
    // (the server makes them); other bytes are not valid JSON strings once serialized raw.
    for (unsigned char ch : token)
      if (ch < 0x20 || ch > 0x7e) return 0;
    // verify refuses tokens over 4 KB; a ticket this short signs to well under that even if
    // every character is escaped (ids the server makes are 22 characters).
    if (token.size() > 512) return 0;
    TokenClaims c{"q", std::string(token), kNow + 60};
    auto back = signer.verify(signer.sign(c), kNow);
    if (!back || back->queue != c.queue || back->ticket != c.ticket || back->exp != c.exp) {
      std::fprintf(stderr, "a freshly signed token did not verify to its claims\n");
      __builtin_trap();
    }
    if (other.verify(signer.sign(c), kNow)) {
      std::fprintf(stderr, "a token verified under another secret\n");
      __builtin_trap();
    }
    return 0;
  }
  // The fuzzer found a validly signed token (it can only by rebuilding one from the corpus).
  if (claims->exp <= kNow) __builtin_trap();
  auto again = signer.verify(signer.sign(*claims), kNow);
  if (!again || again->queue != claims->queue || again->ticket != claims->ticket ||
      again->exp != claims->exp)
    __builtin_trap();
  if (other.verify(token, kNow)) __builtin_trap();
  return 0;
}
