#pragma once
// A request as the handlers see it, and the helpers that read one: path segments, query
// parameters, cookies, the Bearer token, the client's address, the operator check.
// Plain functions over views into the connection's buffer; no I/O.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/wire.hpp"

namespace anteroom::http {

// The segments of a path, without allocating. Empty segments ("//", a trailing "/") are skipped;
// a path of more than kMax segments becomes one segment that no route has.
struct Segments {
  static constexpr size_t kMax = 8;
  std::string_view s[kMax];
  size_t n = 0;
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  std::string_view operator[](size_t i) const { return s[i]; }
};
Segments split_path(std::string_view path);

// The value of `name` in a query string (no percent-decoding: our values are plain tokens).
std::string query_param(std::string_view query, std::string_view name);
// A non-negative decimal integer of at most 18 digits (no overflow), else nullopt: a query
// parameter's number (after, limit).
std::optional<int64_t> decimal(std::string_view s);
// The value of cookie `name` in a Cookie header.
std::string cookie(std::string_view header, std::string_view name);
// The token of an `Authorization: Bearer <token>` header; empty if there is none.
std::string_view bearer(std::string_view auth);
// An address range, e.g. 10.0.0.0/8 or 2001:db8::/32. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is matched as the IPv4 address it carries.
struct Cidr {
  boost::asio::ip::address net;  // with the bits past `prefix` cleared
  unsigned prefix = 0;
  bool contains(const boost::asio::ip::address& a) const;
};
// "10.0.0.0/8,127.0.0.1/32, ::1" → the ranges (a bare address is a /32 or /128; spaces around
// the commas are allowed). nullopt and `why` set for anything else (an empty list included).
std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& why);

// One X-Forwarded-For (or X-Real-IP) entry as an address: `1.2.3.4`, `1.2.3.4:5678`,
// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`, surrounding spaces ignored, an
// IPv4-mapped IPv6 address as its IPv4 address. nullopt for anything else: host names,
// `unknown`, RFC 7239 obfuscated names, zone ids (`fe80::1%eth0`), an IPv6 address with a port
// but no brackets — such an entry is never used as a client address.
std::optional<boost::asio::ip::address> parse_forwarded_address(std::string_view entry);

// Which peers may tell us the client's address, and how (--trust-proxy, --trust-proxy-hops,
// --trusted-proxies, --real-ip-header; docs/proxy.md).
struct ProxyTrust {
  // The client is this many entries from the right of X-Forwarded-For (all its header lines,
  // in order, as one list): 1 = the rightmost, the address the one proxy in front saw. 0 = walk
  // X-Forwarded-For from the right past the `trusted` addresses instead.
  unsigned hops = 0;
  // Proxies whose forwarding headers are believed. Empty: every peer's, if hops > 0 (anteroom
  // is reachable only through the proxies). Connections from these addresses are not counted
  // against --max-conns-per-ip (a proxy carries many clients).
  std::vector<Cidr> trusted;
  // When set (e.g. "X-Real-IP"), this header from a trusted peer names the client; needs
  // `trusted`. Absent → X-Forwarded-For as above; not one valid address → the peer.
  std::string real_ip_header;

  bool enabled() const { return hops > 0 || !trusted.empty(); }
  // The peer's forwarding headers are believed.
  bool believes(const boost::asio::ip::address& peer) const;
  // The peer is a listed proxy (exempt from the per-address connection cap).
  bool listed(const boost::asio::ip::address& peer) const;
};

// The client's address, which keys the per-client join limit: the peer's, or, if `trust`
// believes the peer, the one its headers name (see ProxyTrust). Always a valid address in its
// canonical text form, never a string the client chose: any doubt (an entry that is not an
// address, fewer entries than hops) gives the peer's address.
std::string client_address(const HttpRequest& req, std::string_view peer, const ProxyTrust& trust);

// The connection, for the routes that take it over: the visitor's event stream (the hub then
// owns the socket) and the admin event stream (the dashboard owns it). `on_detach` gives the
// connection's slot and its event-stream slot back when the hub ends the stream;
// `on_detach_admin` the connection's slot only (an admin stream takes no event-stream slot).
struct Takeover {
  boost::asio::ip::tcp::socket& sock;
  std::function<void()> on_detach;
  std::function<void()> on_detach_admin;
  bool done = false;  // set by the handler that took the socket
};

struct Request {
  Request(const HttpRequest& req, std::string_view ip, std::string_view path,
          std::string_view query)
      : req(req), ip(ip), path(path), query(query) {}

  const HttpRequest& req;
  std::string_view ip;  // the client's address (client_address)
  std::string_view path, query;
  std::string q, t;  // the route's {q} and {t} (empty where it has none)
  std::string code;  // the route's {code} (an invite code as typed), "" where it has none
  Takeover* takeover = nullptr;
  bool close = false;  // the handler asks to close the connection after its answer

  unsigned version() const { return req.version; }
  // The 401 for a request without the operator's Bearer token (compared in constant time).
  std::optional<HttpResponse> refuse_non_admin(const std::string& token) const;
};

HttpResponse json_response(bhttp::status st, std::string body);

}  // namespace anteroom::http
