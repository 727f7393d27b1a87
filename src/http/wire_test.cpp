#include "http/wire.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace anteroom::http {
namespace {

const WireLimits kLimits{1024, 2048};

ParseOutcome Parse(std::string_view data, HttpRequest& req) { return parse_request(data, kLimits, req); }

TEST(WireTest, ParsesARequestWithHeadersAndBody) {
  HttpRequest req;
  std::string data =
      "POST /v1/queues/q/tickets?x=1 HTTP/1.1\r\nHost: a\r\nidempotency-key:  k1 \r\n"
      "Content-Length: 4\r\n\r\n{}{}";
  auto o = Parse(data, req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(o.consumed, data.size());
  EXPECT_EQ(req.method, bhttp::verb::post);
  EXPECT_EQ(req.target, "/v1/queues/q/tickets?x=1");
  EXPECT_EQ(req.version, 11u);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.header("Idempotency-Key"), "k1");
  EXPECT_EQ(req.header("HOST"), "a");
  EXPECT_EQ(req.header("Cookie"), "");
  EXPECT_EQ(req.body, "{}{}");
}

TEST(WireTest, EveryPrefixIsIncompleteAndPipelinedRequestsSplit) {
  std::string one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string two = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  std::string both = one + two;
  HttpRequest req;
  for (size_t n = 0; n < one.size(); ++n)
    EXPECT_EQ(Parse(std::string_view(both).substr(0, n), req).state, ParseOutcome::incomplete) << n;
  auto o = Parse(both, req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(o.consumed, one.size());
  EXPECT_EQ(req.target, "/a");
  std::string_view rest = std::string_view(both).substr(o.consumed);
  for (size_t n = 0; n < rest.size(); ++n)
    EXPECT_EQ(Parse(rest.substr(0, n), req).state, ParseOutcome::incomplete) << n;
  o = Parse(rest, req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(req.body, "abc");
}

TEST(WireTest, DecodesChunkedBodiesAcrossEverySplit) {
  std::string data =
      "POST /j HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n"
      "0\r\nX-Checksum: x\r\n\r\nGET";
  HttpRequest req;
  size_t whole = data.size() - 3;
  for (size_t n = 0; n < whole; ++n)
    ASSERT_EQ(Parse(std::string_view(data).substr(0, n), req).state, ParseOutcome::incomplete) << n;
  auto o = Parse(data, req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(o.consumed, whole);
  EXPECT_EQ(req.body, "abc0123456789");
}

TEST(WireTest, KeepAliveFollowsVersionAndConnection) {
  HttpRequest req;
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", req).state, ParseOutcome::complete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", req).state, ParseOutcome::complete);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.version, 10u);
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", req).state, ParseOutcome::complete);
  EXPECT_FALSE(req.keep_alive);
}

TEST(WireTest, ReportsExpectContinueOnceTheHeadersAreIn) {
  HttpRequest req;
  auto o = Parse("PUT /v1/queues/q HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", req);
  EXPECT_EQ(o.state, ParseOutcome::incomplete);
  EXPECT_TRUE(o.headers_done);
  EXPECT_TRUE(req.expect_continue);
}

void ExpectFailure(std::string_view data, Errc code) {
  HttpRequest req;
  auto o = Parse(data, req);
  ASSERT_EQ(o.state, ParseOutcome::failed) << data;
  EXPECT_EQ(o.error->code, code) << data << ": " << o.error->message;
}

TEST(WireTest, RefusesAmbiguousOrMalformedRequests) {
  ExpectFailure("GET / HTTP/2.0\r\n\r\n", Errc::bad_request);
  ExpectFailure("GET /\r\n\r\n", Errc::bad_request);
  ExpectFailure("G(T / HTTP/1.1\r\n\r\n", Errc::bad_request);
  ExpectFailure("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", Errc::bad_request);
  ExpectFailure("GET / HTTP/1.1\r\nNoColon\r\n\r\n", Errc::bad_request);
  ExpectFailure("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", Errc::bad_request);
  ExpectFailure("GET / HTTP/1.1\r\nA: b\nc\r\n\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Errc::bad_request);
  ExpectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", Errc::bad_request);
}

TEST(WireTest, EnforcesTheLimitsAsSoonAsTheyAreKnown) {
  std::string big_header = "GET / HTTP/1.1\r\nX: " + std::string(1100, 'a');
  ExpectFailure(big_header, Errc::headers_too_large);  // before the end of the headers arrives
  ExpectFailure("POST / HTTP/1.1\r\nContent-Length: 2049\r\n\r\n", Errc::payload_too_large);
  ExpectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n801\r\n", Errc::payload_too_large);
  std::string chunks = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunks += "400\r\n" + std::string(1024, 'x') + "\r\n";
  ExpectFailure(chunks, Errc::payload_too_large);
}

// What a parse decided, in a form two parses can be compared by.
struct Verdict {
  ParseOutcome::State state = ParseOutcome::incomplete;
  std::optional<Errc> code;
  size_t consumed = 0;
  std::string body;
  bool keep_alive = false;
  std::string host;  // a header view, read from the latest buffer

  bool operator==(const Verdict&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Verdict& v) {
  return os << "state " << v.state << " code " << (v.code ? static_cast<int>(*v.code) : -1)
            << " consumed " << v.consumed << " body " << v.body.size() << " bytes keep "
            << v.keep_alive << " host '" << v.host << "'";
}

Verdict Decide(const ParseOutcome& o, const HttpRequest& req) {
  Verdict v;
  v.state = o.state;
  if (o.error) v.code = o.error->code;
  if (o.state == ParseOutcome::complete) {
    v.consumed = o.consumed;
    v.body = req.body;
    v.keep_alive = req.keep_alive;
    v.host = std::string(req.header("Host"));
  }
  return v;
}

Verdict Whole(std::string_view data, const WireLimits& lim) {
  RequestParser parser(lim);
  HttpRequest req;
  return Decide(parser.parse(data, req), req);
}

// Feeds `data` one byte per read into a buffer that grows (and moves) as a connection's does.
Verdict ByteByByte(std::string_view data, const WireLimits& lim) {
  RequestParser parser(lim);
  HttpRequest req;
  std::string buf;
  ParseOutcome o;
  for (char c : data) {
    buf += c;
    o = parser.parse(buf, req);
    if (o.state != ParseOutcome::incomplete) break;
  }
  return Decide(o, req);
}

// Two reads: the first `split` bytes, then the rest, each time in a fresh buffer.
Verdict SplitAt(std::string_view data, size_t split, const WireLimits& lim) {
  RequestParser parser(lim);
  HttpRequest req;
  std::string first(data.substr(0, split));
  auto o = parser.parse(first, req);
  if (o.state != ParseOutcome::incomplete) return Decide(o, req);
  std::string all(data);
  return Decide(parser.parse(all, req), req);
}

struct FramingCase {
  std::string name;
  std::string data;
  ParseOutcome::State state;
  std::optional<Errc> code;  // failed: the error
};

const std::string kChunkedHead =
    "POST /j HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

std::vector<FramingCase> FramingCases() {
  using S = ParseOutcome::State;
  const auto bad = Errc::bad_request;
  const auto big = Errc::headers_too_large;
  std::string trailer_9k = "X-Pad: " + std::string(9 * 1024, 'p') + "\r\n";
  return {
      {"plain chunked", kChunkedHead + "3;ext=1\r\nabc\r\n0\r\nT: x\r\n\r\n", S::complete, {}},
      {"content length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET",
       S::complete, {}},
      {"bare LF in a chunk extension", kChunkedHead + "3;a\nb\r\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"CTL in a chunk extension", kChunkedHead + "3;a\x01\r\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"bare CR after a chunk size", kChunkedHead + "3\rabc\r\n0\r\n\r\n", S::failed, bad},
      {"space before a chunk size", kChunkedHead + " 3\r\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"space after a chunk size", kChunkedHead + "3 \r\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"tab before an extension", kChunkedHead + "3\t;x\r\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"LF-only chunk line", kChunkedHead + "3\nabc\r\n0\r\n\r\n", S::failed, bad},
      {"chunk data without CRLF", kChunkedHead + "3\r\nabc\n0\r\n\r\n", S::failed, bad},
      {"trailer without a colon", kChunkedHead + "0\r\nNoColon\r\n\r\n", S::failed, bad},
      {"trailer with a control byte", kChunkedHead + "0\r\nX: a\x01z\r\n\r\n", S::failed, bad},
      {"trailer with a bare CR", kChunkedHead + "0\r\nX: a\rz\r\n\r\n", S::failed, bad},
      {"trailer with a bare LF", kChunkedHead + "0\r\nX: a\n\r\n", S::failed, bad},
      {"trailer folded", kChunkedHead + "0\r\nX: a\r\n b\r\n\r\n", S::failed, bad},
      {"trailer with a space in its name", kChunkedHead + "0\r\nX Y: a\r\n\r\n", S::failed, bad},
      {"Transfer-Encoding in a trailer",
       kChunkedHead + "0\r\nTransfer-Encoding: chunked\r\n\r\n", S::failed, bad},
      {"Content-Length in a trailer", kChunkedHead + "0\r\ncontent-length: 4\r\n\r\n",
       S::failed, bad},
      {"Connection in a trailer", kChunkedHead + "0\r\nX: 1\r\nConnection: close\r\n\r\n",
       S::failed, bad},
      {"a trailer field named like one", kChunkedHead + "0\r\nContent-Le$$ngth: 4\r\n\r\n",
       S::complete, {}},
      {"two chunked fields",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       S::failed, bad},
      {"chunked not last over two fields",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
       S::failed, bad},
      {"chunked twice in one field",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", S::failed, bad},
      {"HTTP/1.0 and chunked is answered",
       "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\n\r\n",
       S::complete, {}},
      {"bare LF request", "GET / HTTP/1.1\nHost: x\n\n", S::failed, bad},
      {"bare LF after the request line", "GET / HTTP/1.1\r\nHost: x\n\r\n", S::failed, bad},
      {"bare CR in a header", "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", S::failed, bad},
      {"bare LF before the request", "\nGET / HTTP/1.1\r\n\r\n", S::failed, bad},
      {"empty lines before the request", "\r\n\r\nGET / HTTP/1.1\r\nHost: e\r\n\r\n", S::complete,
       {}},
      {"1,100 leading zeros", kChunkedHead + std::string(1100, '0') + "3\r\nabc\r\n0\r\n\r\n",
       S::failed, bad},
      {"1,000 leading zeros", kChunkedHead + std::string(1000, '0') + "3\r\nabc\r\n0\r\n\r\n",
       S::complete, {}},
      {"a 9 KB trailer", kChunkedHead + "0\r\n" + trailer_9k + "\r\n", S::failed, big},
      {"a 7 KB trailer under an 8 KB head limit",
       kChunkedHead + "0\r\nX-Pad: " + std::string(7 * 1024, 'p') + "\r\n\r\n", S::complete, {}},
      {"head and trailer together over the limit",
       "POST /j HTTP/1.1\r\nX-Pad: " + std::string(4 * 1024, 'h') +
           "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Pad: " + std::string(4 * 1024, 't') +
           "\r\n\r\n",
       S::failed, big},
  };
}

TEST(WireTest, FramingVerdictsDoNotDependOnHowTheBytesAreSplit) {
  const WireLimits lim;  // the defaults: 8 KiB of head (and trailers), 16 KiB of body
  for (const auto& c : FramingCases()) {
    SCOPED_TRACE(c.name);
    Verdict whole = Whole(c.data, lim);
    ASSERT_EQ(whole.state, c.state);
    EXPECT_EQ(whole.code, c.code);
    EXPECT_EQ(ByteByByte(c.data, lim), whole);
    for (size_t k = 1; k < c.data.size(); ++k) {
      Verdict split = SplitAt(c.data, k, lim);
      ASSERT_EQ(split, whole) << "split at " << k;
    }
  }
}

// Chunk extensions follow RFC 9112 §7.1.1 to the letter; a Connection header is a token list.
TEST(WireTest, ChunkExtensionsAndConnectionOptionsAreStrict) {
  const WireLimits lim;
  auto verdict = [&](const std::string& bytes) {
    HttpRequest req;
    return parse_request(bytes, lim, req).state;
  };
  for (const char* ok : {"3;a\r\n", "3;a=b\r\n", "3;a=\"x y\\\"z\"\r\n", "3;a ;b = c\r\n",
                         "3;a=\"\xf8\"\r\n", "3;a;b=c;d\r\n"})
    EXPECT_EQ(verdict(kChunkedHead + ok + "abc\r\n0\r\n\r\n"), ParseOutcome::complete) << ok;
  for (const char* bad : {"3;\r\n", "3;a=\r\n", "3;a \r\n", "3;a b\r\n", "3;\xf8\r\n",
                          "3;a=\"x\r\n", "3;a=b\"\r\n", "3;;a\r\n", "3;a=\"x\"y\r\n"})
    EXPECT_EQ(verdict(kChunkedHead + bad + "abc\r\n0\r\n\r\n"), ParseOutcome::failed) << bad;
  EXPECT_EQ(verdict("GET / HTTP/1.0\r\nConnection: keep-al/2.0\r\n\r\n"), ParseOutcome::failed);
  EXPECT_EQ(verdict("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n"),
            ParseOutcome::complete);
}

TEST(WireTest, FramingCasesMeanWhatTheySay) {
  const WireLimits lim;
  HttpRequest req;
  RequestParser parser(lim);
  auto o = parser.parse(kChunkedHead + "3;ext=1\r\nabc\r\n0\r\nT: x\r\n\r\n", req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(req.body, "abc");
  EXPECT_TRUE(req.keep_alive);
  // HTTP/1.0 with Transfer-Encoding: answered, then the connection closes (RFC 9112 6.1).
  parser.reset();
  o = parser.parse(
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nok\r\n0\r\n\r\n",
      req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(req.body, "ok");
  EXPECT_FALSE(req.keep_alive);
  // A bare-LF request is refused at its first line, without waiting for more bytes.
  parser.reset();
  o = parser.parse("GET / HTTP/1.1\n", req);
  ASSERT_EQ(o.state, ParseOutcome::failed);
  EXPECT_EQ(o.error->code, Errc::bad_request);
  // Whitespace around a chunk size is refused as soon as it is seen.
  parser.reset();
  o = parser.parse(kChunkedHead + "3 ", req);
  ASSERT_EQ(o.state, ParseOutcome::failed);
  EXPECT_EQ(o.error->code, Errc::bad_request);
}

TEST(WireTest, TrickledChunkedBodiesCostWorkLinearInTheirBytes) {
  // 50 bodies of 10,000 one-byte chunks, each arriving one byte per read: the parser's work
  // must stay within a small constant of the bytes (re-parsing from the first byte on every
  // read would be ~30,000 times more).
  const WireLimits lim;
  RequestParser parser(lim);
  std::string request = kChunkedHead;
  for (int i = 0; i < 10000; ++i) request += "1\r\nx\r\n";
  request += "0\r\n\r\n";
  uint64_t bytes = 0;
  for (int body = 0; body < 50; ++body) {
    parser.reset();
    HttpRequest req;
    std::string buf;
    ParseOutcome o;
    for (char c : request) {
      buf += c;
      ++bytes;
      o = parser.parse(buf, req);
      if (o.state != ParseOutcome::incomplete) break;
    }
    ASSERT_EQ(o.state, ParseOutcome::complete);
    ASSERT_EQ(o.consumed, request.size());
    ASSERT_EQ(req.body, std::string(10000, 'x'));
  }
  EXPECT_EQ(bytes, 50 * request.size());
  EXPECT_LE(parser.steps(), 3 * bytes);
}

TEST(WireTest, ViewsFollowTheBufferWhenItMoves) {
  RequestParser parser(kLimits);
  HttpRequest req;
  std::string head = "POST /moved HTTP/1.1\r\nHost: here\r\nContent-Length: 4\r\n\r\n";
  auto o = parser.parse(head, req);
  ASSERT_EQ(o.state, ParseOutcome::incomplete);
  EXPECT_TRUE(o.headers_done);
  std::string moved = head + "body";
  head.assign(head.size(), '#');  // the old buffer no longer holds the request
  o = parser.parse(moved, req);
  ASSERT_EQ(o.state, ParseOutcome::complete);
  EXPECT_EQ(req.target, "/moved");
  EXPECT_EQ(req.header("host"), "here");
  EXPECT_EQ(req.body, "body");
}

TEST(WireTest, SerializesStatusHeadersLengthAndConnection) {
  HttpResponse res;
  res.status = bhttp::status::created;
  res.content_type = "application/json";
  res.set("Location", "/x");
  res.body = "{}";
  std::string out;
  serialize(res, 11, true, false, out);
  EXPECT_EQ(out,
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: /x\r\n"
            "Content-Length: 2\r\n\r\n{}");
  out.clear();
  serialize(res, 10, true, true, out);
  EXPECT_EQ(out,
            "HTTP/1.0 201 Created\r\nContent-Type: application/json\r\nLocation: /x\r\n"
            "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n");
  HttpResponse empty;
  empty.status = bhttp::status::no_content;
  out.clear();
  serialize(empty, 11, false, false, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

}  // namespace
}  // namespace anteroom::http
