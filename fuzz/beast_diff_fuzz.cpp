// Differential: our request parser (src/http/wire.cpp) against Boost.Beast's on the same bytes.
// Input: the bytes of one request (anything after it is the next request's).
// Checks: whenever we accept a request, Beast accepts it too, with the same method, target,
// body and length (so both see the next request start at the same byte: no smuggling between
// us and a Beast-like front). We are deliberately stricter than Beast in places (fuzz/README.md
// lists them), so "we refuse, Beast accepts" is allowed; "we accept, Beast refuses" is not.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "http/wire.hpp"

using namespace anteroom;
namespace beast = boost::beast;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  http::WireLimits lim;
  http::HttpRequest ours;
  http::ParseOutcome o = http::parse_request(bytes, lim, ours);
  if (o.state != http::ParseOutcome::complete) return 0;
  // HTTP/1.0 with Transfer-Encoding: RFC 9112 §6.1 lets us read it (we answer, then close, so
  // nothing after it is ever read as a request); Beast refuses it. Not a framing disagreement.
  if (ours.version == 10 && !ours.keep_alive && !ours.header("Transfer-Encoding").empty())
    return 0;

  // Our parser skips CRLFs before a request line (RFC 9112 §2.2 says a server SHOULD); Beast
  // does not, so it is handed the request from its first byte.
  size_t start = 0;
  while (bytes.substr(start, 2) == "\r\n") start += 2;
  std::string_view req = bytes.substr(start, o.consumed - start);

  beast::http::request_parser<beast::http::string_body> p;
  p.eager(true);
  p.header_limit(static_cast<std::uint32_t>(lim.max_header_bytes + 64));
  p.body_limit(lim.max_body_bytes);
  beast::error_code ec;
  size_t used = 0;
  // Beast may ask for its input again in pieces; feed until it is done or stuck.
  while (!ec && !p.is_done() && used < req.size()) {
    size_t n = p.put(boost::asio::buffer(req.data() + used, req.size() - used), ec);
    if (ec == beast::http::error::need_more) ec = {};
    if (n == 0 && !ec) break;
    used += n;
  }
  if (!ec && !p.is_done()) {
    p.put_eof(ec);
  }
  auto fail = [&](const char* what) {
    std::fprintf(stderr, "we accept, Beast %s (beast: %s)\n", what, ec.message().c_str());
    __builtin_trap();
  };
  if (ec) fail("refuses");
  if (!p.is_done()) fail("wants more bytes");
  if (used != req.size()) fail("ends the request elsewhere");
  const auto& m = p.get();
  if (m.method_string() != beast::http::to_string(ours.method) &&
      ours.method != beast::http::verb::unknown)
    fail("reads another method");
  if (m.target() != ours.target) fail("reads another target");
  if (m.body() != ours.body) fail("reads another body");
  if (m.version() != ours.version) fail("reads another version");
  // The parser's verdict, not the message's: message::keep_alive() reads only the first
  // Connection field, while the parser (like ours, RFC 9110 §5.3) combines every one.
  if (p.keep_alive() != ours.keep_alive) fail("reads another keep-alive");
  return 0;
}
