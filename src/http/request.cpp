#include "http/request.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <charconv>

#include "http/errors.hpp"
#include "http/limits.hpp"

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

namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A numeric address and nothing else (no zone id: it names an interface of the sender).
std::optional<ip::address> numeric(std::string_view s) {
  if (s.empty() || s.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  auto a = ip::make_address(s, ec);
  if (ec) return std::nullopt;
  return unmapped(a);
}

// A port after an address: 1..5 digits.
bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  return true;
}

// Calls `f(entry)` for each element of the X-Forwarded-For list (every header line, in order,
// as one list) from the right, until it returns false. Empty elements are skipped
// (RFC 9110 5.6.1).
template <class F>
void each_forwarded_from_right(const HttpRequest& req, F&& f) {
  for (size_t i = req.headers.size(); i-- > 0;) {
    if (!boost::beast::iequals(req.headers[i].first, "X-Forwarded-For")) continue;
    std::string_view v = req.headers[i].second;
    for (bool more = true; more;) {
      size_t comma = v.rfind(',');
      more = comma != std::string_view::npos;
      std::string_view entry = trim(more ? v.substr(comma + 1) : v);
      if (more) v = v.substr(0, comma);
      if (!entry.empty() && !f(entry)) return;
    }
  }
}

}  // namespace

bool Cidr::contains(const ip::address& a) const {
  ip::address x = unmapped(a);
  return x.is_v4() == net.is_v4() && masked(x, prefix) == net;
}

std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& why) {
  std::vector<Cidr> out;
  for (bool more = true; more;) {
    size_t comma = text.find(',');
    more = comma != std::string_view::npos;
    std::string_view item = trim(text.substr(0, comma));
    if (more) text.remove_prefix(comma + 1);
    size_t slash = item.find('/');
    auto addr = numeric(item.substr(0, slash));
    if (!addr) {
      why = "'" + std::string(item) + "' is not an address or ADDRESS/PREFIX";
      return std::nullopt;
    }
    // Written as IPv6 (an IPv4-mapped range such as ::ffff:10.0.0.0/104 included: it is the
    // IPv4 range it carries), the prefix counts 128 bits.
    std::string_view text_addr = item.substr(0, slash);
    const bool v6_text = text_addr.find(':') != std::string_view::npos;
    const unsigned max = v6_text ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
      std::string_view p = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > max) {
        why = "'" + std::string(item) + "': the prefix length must be 0.." + std::to_string(max);
        return std::nullopt;
      }
    }
    if (v6_text && addr->is_v4()) {
      if (prefix < 96) {
        why = "'" + std::string(item) + "': an IPv4-mapped range needs a prefix of 96 or more";
        return std::nullopt;
      }
      prefix -= 96;
    }
    out.push_back(Cidr{masked(*addr, prefix), prefix});
  }
  return out;
}

std::optional<ip::address> parse_forwarded_address(std::string_view entry) {
  entry = trim(entry);
  if (!entry.empty() && entry.front() == '[') {
    size_t close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
    auto a = numeric(entry.substr(1, close - 1));
    if (!a || entry.substr(1, close - 1).find(':') == std::string_view::npos) return std::nullopt;
    return a;
  }
  // One colon: IPv4 with a port (as some load balancers write it). More: bare IPv6.
  size_t colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    if (!is_port(entry.substr(colon + 1))) return std::nullopt;
    auto a = numeric(entry.substr(0, colon));
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  return numeric(entry);
}

bool ProxyTrust::believes(const ip::address& peer) const {
  if (!trusted.empty()) return listed(peer);
  return hops > 0;
}

bool ProxyTrust::listed(const ip::address& peer) const {
  for (const auto& c : trusted)
    if (c.contains(peer)) return true;
  return false;
}

std::string client_address(const HttpRequest& req, std::string_view peer, const ProxyTrust& trust) {
  if (!trust.enabled()) return std::string(peer);
  auto peer_addr = numeric(peer);
  if (!peer_addr || !trust.believes(*peer_addr)) return std::string(peer);
  const std::string fallback = peer_addr->to_string();

  if (!trust.real_ip_header.empty()) {
    size_t lines = 0;
    std::string_view value;
    for (const auto& [name, v] : req.headers)
      if (boost::beast::iequals(name, trust.real_ip_header)) ++lines, value = v;
    // The proxy sets it once; two lines mean someone else wrote one too.
    if (lines > 1) return fallback;
    if (lines == 1) {
      auto a = numeric(trim(value));
      return a ? a->to_string() : fallback;
    }
  }

  // Only the entries our proxies appended are looked at: whatever the client wrote further left
  // (garbage included) neither names the client nor makes us fall back to the peer's address.
  std::optional<ip::address> client;
  bool garbage = false;
  if (trust.hops > 0) {
    unsigned seen = 0;
    each_forwarded_from_right(req, [&](std::string_view entry) {
      auto a = parse_forwarded_address(entry);
      if (!a) return !(garbage = true);
      if (++seen < trust.hops) return true;
      client = a;
      return false;
    });
  } else {
    // Walk left past our own proxies; the first address that is not one is the client. If all
    // are ours, the leftmost (the request came from inside).
    each_forwarded_from_right(req, [&](std::string_view entry) {
      auto a = parse_forwarded_address(entry);
      if (!a) return !(garbage = true);
      client = a;
      return trust.listed(*a);
    });
  }
  if (garbage || !client) return fallback;
  return client->to_string();
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

std::optional<int64_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace anteroom::http
