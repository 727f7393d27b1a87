#include "http/request.hpp"

#include <openssl/crypto.h>

#include "http/errors.hpp"

namespace anteroom::http {

Segments split_path(std::string_view path) {
  Segments out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (out.n == Segments::kMax) return Segments{{""}, 1};  // too deep: one segment no route has
    out.s[out.n++] = path.substr(i, j - i);
    i = j;
  }
  return out;
}

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name)
      return std::string(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view kv = header.substr(0, semi);
    while (!kv.empty() && kv.front() == ' ') kv.remove_prefix(1);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == name)
      return std::string(kv.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view bearer(std::string_view auth) {
  constexpr std::string_view p = "Bearer ";
  if (auth.size() > p.size() && auth.substr(0, p.size()) == p) return auth.substr(p.size());
  return {};
}

std::string_view client_address(const HttpRequest& req, std::string_view peer, bool trust_proxy) {
  if (!trust_proxy) return peer;
  if (auto h = req.header("X-Real-IP"); !h.empty()) return h;
  if (auto x = req.header("X-Forwarded-For"); !x.empty()) {
    auto comma = x.rfind(',');
    auto last = x.substr(comma == std::string_view::npos ? 0 : comma + 1);
    while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
    return last;
  }
  return peer;
}

std::optional<HttpResponse> Request::refuse_non_admin(const std::string& token) const {
  auto b = bearer(req.header("Authorization"));
  if (!token.empty() && b.size() == token.size() &&
      CRYPTO_memcmp(b.data(), token.data(), b.size()) == 0)
    return std::nullopt;
  return error_response(err(Errc::unauthorized, "a valid admin token is required"));
}

HttpResponse json_response(bhttp::status st, std::string body) {
  HttpResponse res;
  res.status = st;
  res.content_type = "application/json";
  res.cache_control = "no-store";
  res.body = std::move(body);
  return res;
}

}  // namespace anteroom::http
