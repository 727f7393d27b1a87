#pragma once
// What an admitted visitor is handed: the token, its expiry and the redirect URL. Built the same
// way for the HTTP status answer and the SSE `admitted` event.
#include <string>

#include "core/types.hpp"
#include "token/jwt.hpp"

namespace anteroom {

struct Admission {
  std::string token;
  int64_t expires_at = 0;  // Unix seconds
  std::string redirect;    // target_url + anteroom_token=<token>, or "" without a target
};

inline Admission admission_for(const TokenSigner& signer, const std::string& queue,
                               const std::string& ticket, Millis expires_ms,
                               const std::string& target_url) {
  Admission a;
  a.expires_at = expires_ms / 1000;
  a.token = signer.sign({queue, ticket, a.expires_at});
  if (!target_url.empty()) {
    auto hash = target_url.find('#');
    std::string base = target_url.substr(0, hash);
    base += (base.find('?') == std::string::npos ? '?' : '&');
    base += "anteroom_token=" + a.token;
    if (hash != std::string::npos) base += target_url.substr(hash);
    a.redirect = std::move(base);
  }
  return a;
}

}  // namespace anteroom
