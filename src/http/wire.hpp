#pragma once
// HTTP/1.1 on the wire, by hand: a request parser that enforces our limits and a response
// serializer. A join is ~100 bytes each way, so the edge's hot path is mostly this code; it
// allocates nothing per header (headers are views into the connection's read buffer).
//
// Accepts what RFC 9112 asks a server to accept: Content-Length or chunked bodies, pipelined
// requests, keep-alive by version and Connection, Expect: 100-continue. Refuses (with the Errc
// the edge maps to a status) what a front proxy might frame differently: both Content-Length
// and Transfer-Encoding, differing Content-Lengths, chunked twice or not last, obsolete line
// folding, control characters, bare CR or LF anywhere in the framing, whitespace around a chunk
// size, malformed trailers (the full list is in README.md). The verdict depends only on the
// bytes, never on how TCP split them: the parser walks each byte once, keeping its state
// between reads, so its work is linear in the bytes of the request.
#include <ostream>  // (Beast's headers below use it without including it)
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
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

// Parses one request incrementally. Feed it everything buffered so far for this request (the
// request's first byte at data[0]; earlier bytes unchanged, the buffer may have moved) with the
// same `out` while it says incomplete; it resumes where it stopped, so each byte is examined
// once. `out`'s views point into the latest `data` and stay valid while it does. After a
// complete or failed request, reset() before the next. Not thread-safe; one per connection.
class RequestParser {
 public:
  explicit RequestParser(const WireLimits& limits) : lim_(limits) {}

  ParseOutcome parse(std::string_view data, HttpRequest& out);
  void reset();

  // Bytes examined plus calls made since construction: the parser's work, for tests that
  // check it stays linear in the bytes received however they are split.
  uint64_t steps() const { return steps_; }

 private:
  enum class Phase {
    lead,           // empty lines before the request line
    head,           // request line and header fields, up to the empty line
    length_body,    // Content-Length body
    chunk_size,     // hex digits of a chunk size
    chunk_ext,      // after ';' up to CR
    chunk_size_lf,  // the LF ending a chunk-size line
    chunk_data,
    chunk_data_cr,  // the CRLF after chunk data
    chunk_data_lf,
    trailer_start,  // first byte of a trailer line (CR: the end of the section)
    trailer_name,
    trailer_value,
    trailer_lf,     // LF ending a trailer line
    end_lf,         // LF ending the trailer section
    done,
    failed,
  };

  ParseOutcome fail(Errc code, std::string message);
  ParseOutcome bad(std::string message);
  std::optional<Error> parse_head(std::string_view head, HttpRequest& out);
  void rebase(std::string_view data, HttpRequest& out);

  WireLimits lim_;
  Phase phase_ = Phase::lead;
  size_t pos_ = 0;            // next byte of data to examine
  size_t start_ = 0;          // the request line's first byte
  size_t head_bytes_ = 0;     // request line + headers, for the limit the trailers share
  size_t body_at_ = 0;        // the body's first byte
  size_t trailer_at_ = 0;     // the trailer section's first byte
  size_t field_at_ = 0;       // the current trailer field's first byte
  char prev_ = 0;             // the last byte examined in the head (bare CR / LF checks)
  size_t line_len_ = 0;       // head: bytes of the current line; chunks: of the size line
  uint64_t length_ = 0;       // Content-Length, or the current chunk's size
  uint64_t remaining_ = 0;    // chunk bytes still to come
  unsigned digits_ = 0;       // hex digits of the current chunk size
  // Where a chunk extension is: ";" BWS name BWS "=" BWS (token | quoted-string), then BWS ";".
  enum class Ext : uint8_t {
    before_name, name, after_name, before_value, token, quoted, escaped, after_value, after_ws
  };
  Ext ext_ = Ext::before_name;
  bool chunked_ = false;
  const char* base_ = nullptr;  // data.data() when `out`'s views were made
  uint64_t steps_ = 0;
};

// One-shot: a fresh RequestParser over `data` (tests, and callers that keep no state).
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
