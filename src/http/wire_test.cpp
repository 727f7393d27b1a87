#include "http/wire.hpp"

#include <gtest/gtest.h>

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
      "0\r\nTrailer: x\r\n\r\nGET";
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
