#pragma once
// Drives http::RequestParser the way a connection does: bytes arrive in pieces, the parser is
// asked again after each piece, and pipelined requests are taken off the front one by one. The
// record of what it decided (owned copies, not views) lets a target compare two feedings.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/wire.hpp"

namespace anteroom::fuzz {

using http::HttpRequest;
using http::ParseOutcome;
using http::WireLimits;
namespace bhttp = boost::beast::http;

// What the parser decided for one request, with everything copied out of the read buffer.
struct Verdict {
  enum Kind { complete, failed, incomplete } kind = incomplete;
  Errc error = Errc::internal;  // failed only
  std::string method, target, body;
  unsigned version = 0;
  bool keep_alive = false, expect_continue = false;
  std::vector<std::pair<std::string, std::string>> headers;

  bool operator==(const Verdict&) const = default;
};

// Piece sizes from a seed: the fuzzer mutates the seed, so it chooses where TCP splits.
class Splitter {
 public:
  explicit Splitter(uint32_t seed) : s_(seed | 1), max_(kMaxes[seed % 8]) {}
  size_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 17;
    s_ ^= s_ << 5;
    return 1 + s_ % max_;
  }

 private:
  static constexpr size_t kMaxes[8] = {1, 2, 3, 7, 16, 64, 512, 100000};
  uint32_t s_;
  size_t max_;
};

inline Verdict verdict_of(const ParseOutcome& o, const HttpRequest& r) {
  Verdict v;
  if (o.state == ParseOutcome::failed) {
    v.kind = Verdict::failed;
    v.error = o.error->code;
    return v;
  }
  if (o.state == ParseOutcome::incomplete) return v;
  v.kind = Verdict::complete;
  v.method = std::string(bhttp::to_string(r.method));
  v.target = r.target;
  v.body = r.body;
  v.version = r.version;
  v.keep_alive = r.keep_alive;
  v.expect_continue = r.expect_continue;
  for (const auto& [n, val] : r.headers) v.headers.emplace_back(n, val);
  return v;
}

// Feeds `stream` in pieces of splitter sizes (whole if split is null) and returns the verdict
// for each request in order; the last is failed or incomplete unless the bytes ended exactly
// after a request. Checks the parser's own promises on the way (consumed within the buffer).
inline std::vector<Verdict> feed(std::string_view stream, const WireLimits& lim, Splitter* split) {
  std::vector<Verdict> out;
  std::string buf;
  HttpRequest req;
  http::RequestParser parser(lim);  // incremental, as a connection uses it: reset per request
  size_t fed = 0;
  for (;;) {
    if (split == nullptr) {
      buf.append(stream.substr(fed));
      fed = stream.size();
    } else if (fed < stream.size()) {
      size_t n = std::min(split->next(), stream.size() - fed);
      buf.append(stream.substr(fed, n));
      fed += n;
    }
    // Take every whole request now buffered off the front (pipelining).
    for (;;) {
      ParseOutcome o = parser.parse(buf, req);
      if (o.state == ParseOutcome::complete) {
        if (o.consumed == 0 || o.consumed > buf.size()) __builtin_trap();
        out.push_back(verdict_of(o, req));
        buf.erase(0, o.consumed);
        parser.reset();
        continue;
      }
      if (o.state == ParseOutcome::failed) {
        out.push_back(verdict_of(o, req));
        return out;
      }
      break;
    }
    if (fed == stream.size()) {
      if (!buf.empty()) out.push_back(Verdict{});  // ended inside a request
      return out;
    }
  }
}

}  // namespace anteroom::fuzz
