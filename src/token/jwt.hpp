#pragma once
// Admission tokens: compact JWTs (HS256) with claims queue, ticket, exp (Unix seconds). Any
// process with the same secret signs the same token for the same admission, and a protected
// site can check one offline with that secret.
//
// Thread-safe (immutable after construction).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/encoding.hpp"
#include "core/error.hpp"

namespace anteroom {

struct TokenClaims {
  std::string queue;
  std::string ticket;
  int64_t exp = 0;
};

class TokenSigner {
 public:
  explicit TokenSigner(std::string secret);
  std::string sign(const TokenClaims& c) const;
  // unauthorized on a bad shape, signature, algorithm or an exp not after now_s.
  Result<TokenClaims> verify(std::string_view token, int64_t now_s) const;
  // The secret, for keys derived from it for other purposes (pow::derive_key): one secret per
  // fleet to configure.
  const std::string& secret() const { return secret_; }

 private:
  std::string mac(std::string_view signing_input) const;
  std::string secret_;
};


}  // namespace anteroom
