#pragma once
// HTTP/1.1 on the wire, by hand: a request parser that enforces our limits and a response
// serializer. A join is ~100 bytes each way, so the edge's hot path is mostly this code; it
// allocates nothing per header (headers are views into the connection's read buffer).
//
// Accepts what RFC 9112 asks a server to accept: Content-Length or chunked bodies, pipelined
// requests, keep-alive by version and Connection, Expect: 100-continue. Refuses (with the Errc
// the edge maps to a status) what would be ambiguous: both Content-Length and
// Transfer-Encoding, differing Content-Lengths, obsolete line folding, control characters.
#include <ostream>  // (Beast's headers below use it without including it)
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace anteroom::http {

namespace bhttp = boost::beast::http;

struct WireLimits {
  size_t max_header_bytes = 8 * 1024;  // request line + headers (+ chunked trailers)
  size_t max_body_bytes = 16 * 1024;   // decoded body
};

struct HttpRequest {
  bhttp::verb method = bhttp::verb::unknown;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
  bool expect_continue = false;
  std::string body;
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // into the read buffer

  // The first value of header `name` (case-insensitive); empty if absent.
  std::string_view header(std::string_view name) const;
};

struct ParseOutcome {
  enum State { incomplete, complete, failed } state = incomplete;
  size_t consumed = 0;           // complete: bytes of this request (the rest is the next one)
  bool headers_done = false;     // incomplete: the headers are in, the body is not
  std::optional<Error> error;    // failed: bad_request, headers_too_large or payload_too_large
};

// Parses one request from the front of `data` (everything buffered so far) into `out`. Call
// again with more data while it says incomplete; `out`'s views stay valid while `data` does.
ParseOutcome parse_request(std::string_view data, const WireLimits& limits, HttpRequest& out);

// The most a connection buffers for one request before the parser must have decided.
size_t max_request_bytes(const WireLimits& limits);

struct HttpResponse {
  bhttp::status status = bhttp::status::ok;
  std::string_view content_type;  // static text; empty: no header
  std::string_view cache_control;
  std::vector<std::pair<std::string_view, std::string>> extra;  // names are static text
  std::string body;

  void set(std::string_view name, std::string value) { extra.emplace_back(name, std::move(value)); }
};

// Appends the response as bytes to `out`. `head`: a HEAD request (headers only, the length of
// the body it would have had).
void serialize(const HttpResponse& res, unsigned version, bool keep_alive, bool head, std::string& out);

}  // namespace anteroom::http
