#pragma once
// One outbound HTTP(S) POST with a deadline (Boost.Beast; OpenSSL for https, peer verified
// against the system's CA store). Returns the status code, or an error text.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace anteroom {

struct PostResult {
  int status = 0;     // 0: no HTTP answer
  std::string error;  // why there was none (connect refused, timeout, TLS, ...)
  bool refused = false;  // not sent: every address of the host is one the policy refuses
};

// `allow_private` false: only the resolved addresses that are not is_non_public
// (webhooks/address_policy.hpp) are connected to; if none is left, nothing is sent and the
// result says `refused` (retrying cannot help).

boost::asio::awaitable<PostResult> http_post(
    boost::asio::ssl::context& tls, std::string url,
    std::vector<std::pair<std::string, std::string>> headers, std::string body,
    std::chrono::milliseconds timeout, bool allow_private);

}  // namespace anteroom
