#pragma once
// A request as the handlers see it, and the helpers that read one: path segments, query
// parameters, cookies, the Bearer token, the client's address, the operator check.
// Plain functions over views into the connection's buffer; no I/O.
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

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
// The value of cookie `name` in a Cookie header.
std::string cookie(std::string_view header, std::string_view name);
// The token of an `Authorization: Bearer <token>` header; empty if there is none.
std::string_view bearer(std::string_view auth);
// The client's address: the peer's, or behind a trusted proxy its X-Real-IP or the last
// X-Forwarded-For hop.
std::string_view client_address(const HttpRequest& req, std::string_view peer, bool trust_proxy);

// The connection, for the one route that takes it over (the event stream: the hub then owns the
// socket). `on_detach` gives the connection's slot back when the hub ends the stream.
struct Takeover {
  boost::asio::ip::tcp::socket& sock;
  std::function<void()> on_detach;
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
  Takeover* takeover = nullptr;
  bool close = false;  // the handler asks to close the connection after its answer

  unsigned version() const { return req.version; }
  // The 401 for a request without the operator's Bearer token (compared in constant time).
  std::optional<HttpResponse> refuse_non_admin(const std::string& token) const;
};

HttpResponse json_response(bhttp::status st, std::string body);

}  // namespace anteroom::http
