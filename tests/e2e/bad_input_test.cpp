// Bad input gets a JSON 4xx with the documented error code, never a crash or an HTML page, and
// harms nobody's place in line.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

constexpr int kMaxBody = 1024;
constexpr int kMaxHeader = 4096;

// Two visitors waiting in queue "line" (one watching its stream) while each test throws bad
// input at the server; afterwards both must still be in their places.
class BadInputTest : public ::testing::Test {
 protected:
  BadInputTest()
      : server_({"--max-body-bytes", std::to_string(kMaxBody), "--max-header-bytes",
                 std::to_string(kMaxHeader)}) {}

  void SetUp() override {
    server_.MustPutQueue("line", {{"max_active", 0}, {"admit_per_s", 5}});
    first_ = server_.MustJoin("line");
    second_ = server_.MustJoin("line");
    ASSERT_FALSE(first_.empty());
    ASSERT_FALSE(second_.empty());
    stream_ = server_.Events("line", first_);
    ASSERT_TRUE(WaitForPosition(*stream_, 1)) << stream_->raw();
  }

  void TearDown() override {
    HttpResponse a = server_.GetTicket("line", first_);
    EXPECT_EQ(Int(a.Json(), "position"), 1) << "first visitor after bad input: " << a;
    HttpResponse b = server_.GetTicket("line", second_);
    EXPECT_EQ(Int(b.Json(), "position"), 2) << "second visitor after bad input: " << b;
    EXPECT_EQ(IntAt(server_.MustStats("line"), {"waiting"}), 2);
    HttpResponse cfg = server_.GetQueue("line");
    EXPECT_EQ(IntAt(cfg.Json(), {"config", "max_active"}), 0) << cfg;
    EXPECT_FALSE(stream_->closed()) << "the waiting visitor's stream was closed";
  }

  static void ExpectError(const HttpResponse& r, int status, const std::string& code,
                          const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r;
    EXPECT_EQ(r.ErrorCode(), code) << what << ": " << r;
    EXPECT_EQ(r.Header("Content-Type").rfind("application/json", 0), 0u) << what << ": " << r;
    EXPECT_FALSE(Str(r.Json(), "message").empty()) << what << ": " << r;
  }

  HttpResponse PutRaw(std::string_view queue, std::string body) {
    return server_.Admin("PUT", "/v1/queues/" + std::string(queue), std::move(body));
  }
  HttpResponse JoinRaw(std::string body) {
    return server_.Request("POST", "/v1/queues/line/tickets",
                           {{"Content-Type", "application/json"}}, std::move(body));
  }

  AnteroomProcess server_;
  std::string first_;
  std::string second_;
  std::unique_ptr<SseClient> stream_;
};

TEST_F(BadInputTest, MalformedJsonIsInvalidJson) {
  ExpectError(JoinRaw(R"({"user":)"), 400, "invalid_json", "join with truncated JSON");
  ExpectError(PutRaw("line", "{max_active: 5}"), 400, "invalid_json", "config not JSON");
  ExpectError(PutRaw("line", R"({"max_active":5} trailing)"), 400, "invalid_json",
              "config with trailing bytes");
}

TEST_F(BadInputTest, WrongJsonTypesAreBadRequest) {
  ExpectError(PutRaw("line", R"({"admit_per_s":"fast"})"), 400, "bad_request", "string rate");
  ExpectError(PutRaw("line", R"({"paused":"yes"})"), 400, "bad_request", "string paused");
  ExpectError(PutRaw("line", R"({"max_active":1.5})"), 400, "bad_request", "fractional max");
  ExpectError(PutRaw("line", "[1,2]"), 400, "bad_request", "array config");
  ExpectError(JoinRaw(R"({"user":5})"), 400, "bad_request", "numeric user");
  ExpectError(JoinRaw(R"("alice")"), 400, "bad_request", "join body not an object");
}

TEST_F(BadInputTest, OutOfRangeConfigIsBadRequest) {
  ExpectError(PutRaw("line", R"({"max_active":-1})"), 400, "bad_request", "negative max");
  ExpectError(PutRaw("line", R"({"admit_per_s":-3})"), 400, "bad_request", "negative rate");
  ExpectError(PutRaw("line", R"({"session_ttl_s":0})"), 400, "bad_request", "zero ttl");
  ExpectError(PutRaw("line", R"({"abandon_after_s":0})"), 400, "bad_request", "zero abandon");
  ExpectError(PutRaw("line", R"({"target_url":"ftp://x/y"})"), 400, "bad_request", "ftp url");
  ExpectError(PutRaw("line", R"j({"target_url":"javascript:alert(1)"})j"), 400, "bad_request",
              "javascript: url");
  ExpectError(PutRaw("line", R"({"target_url":"not a url"})"), 400, "bad_request", "not a url");
  ExpectError(JoinRaw(R"({"user":")" + std::string(257, 'u') + R"("})"), 400, "bad_request",
              "user longer than 256");
  ExpectError(server_.Join("line", std::nullopt, {{"Idempotency-Key", std::string(257, 'k')}}), 400,
              "bad_request", "Idempotency-Key longer than 256");
}

TEST_F(BadInputTest, DeeplyNestedJsonIsRefused) {
  std::string deep = std::string(400, '[') + std::string(400, ']');
  HttpResponse r = PutRaw("line", deep);
  EXPECT_EQ(r.status, 400) << r;
  EXPECT_TRUE(r.ErrorCode() == "invalid_json" || r.ErrorCode() == "bad_request") << r;
  HttpResponse j = JoinRaw(R"({"user":)" + std::string(300, '[') + std::string(300, ']') + "}");
  EXPECT_EQ(j.status, 400) << j;
  EXPECT_TRUE(j.ErrorCode() == "invalid_json" || j.ErrorCode() == "bad_request") << j;
}

// target_url is where a visitor's browser goes with its token: anything a browser could read as
// another site than the one written (a second '/' or a backslash make "//host"), a control
// character or another scheme is refused with a message saying why; nothing is stored.
TEST_F(BadInputTest, TargetUrlThatCouldLeadElsewhereIsRefused) {
  for (const char* url : {R"(/\\evil.com/)", R"(//evil.com/)", R"(/ok\\path)",
                          R"(https://x/\\y)", R"(\\\\evil.com)",
                          R"(/a\tb)", R"(/a\u0000b)", R"(/a\u007fb)", R"(/a\nb)",
                          R"(javascript:alert(1))", R"(data:text/html,x)", R"(HTTPS://x/)",
                          R"(https:evil.com)", R"(http:///path)", R"(evil.com/)"}) {
    std::string body = std::string(R"({"target_url":")") + url + R"("})";
    ExpectError(PutRaw("line", body), 400, "bad_request", body);
    HttpResponse q = server_.GetQueue("line");
    EXPECT_EQ(Str(q.Json().at("config"), "target_url"), "") << body << ": " << q;
  }
  HttpResponse why = PutRaw("line", R"({"target_url":"/\\evil.com/"})");
  EXPECT_NE(Str(why.Json(), "message").find("backslash"), std::string::npos) << why;
  // What is fine stays fine: a path with one '/', an absolute http(s) URL, or none.
  for (const char* url : {"/shop/checkout?x=1", "/", "https://shop.example/buy",
                          "https://shop.example/buy?i=7#seats", "http://shop.example:8080/a/b",
                          ""}) {
    std::string body = std::string(R"({"target_url":")") + url + R"("})";
    HttpResponse r = PutRaw("line", body);
    EXPECT_EQ(r.status, 200) << body << ": " << r;
    EXPECT_EQ(Str(r.Json().at("config"), "target_url"), url) << r;
  }
}

// admit_per_s is 0 (admission stopped) or 0.001..1000000, and reads back as a plain number.
TEST_F(BadInputTest, AdmitRateIsBoundedAndShownPlainly) {
  server_.MustPutQueue("other", {{"max_active", 0}});
  for (const char* body : {R"({"admit_per_s":1e-320})", R"({"admit_per_s":0.0009})",
                           R"({"admit_per_s":1e-300})", R"({"admit_per_s":1000000.5})",
                           R"({"admit_per_s":-0.001})"}) {
    ExpectError(PutRaw("other", body), 400, "bad_request", body);
  }
  for (auto [body, shown] : std::vector<std::pair<std::string, std::string>>{
           {R"({"admit_per_s":0.001})", R"("admit_per_s":0.001,)"},
           {R"({"admit_per_s":2.5})", R"("admit_per_s":2.5,)"},
           {R"({"admit_per_s":0})", R"("admit_per_s":0,)"},
           {R"({"admit_per_s":1000000})", R"("admit_per_s":1000000,)"}}) {
    HttpResponse r = PutRaw("other", body);
    EXPECT_EQ(r.status, 200) << body << ": " << r;
    EXPECT_NE(r.body.find(shown), std::string::npos) << body << ": " << r;
    EXPECT_EQ(r.body.find("E0"), std::string::npos) << body << ": " << r;
    HttpResponse g = server_.GetQueue("other");
    EXPECT_NE(g.body.find(shown), std::string::npos) << body << ": " << g;
  }
}

// Extreme numbers are refused or clamped, never a crash; tried on a queue of their own.
TEST_F(BadInputTest, ExtremeNumbersDoNoHarm) {
  server_.MustPutQueue("other", {{"max_active", 0}});
  for (const char* body :
       {R"({"max_active":99999999999999999999})", R"({"max_active":1e300})",
        R"({"admit_per_s":1e308})", R"({"session_ttl_s":9223372036854775807})",
        R"({"abandon_after_s":1e30})", R"({"max_active":-0})", R"({"admit_per_s":1e-300})"}) {
    HttpResponse r = PutRaw("other", body);
    EXPECT_TRUE(r.status == 200 || (r.status == 400 && r.ErrorCode() == "bad_request"))
        << body << ": " << r;
    ASSERT_EQ(server_.Request("GET", "/healthz").status, 200) << "after " << body;
  }
  HttpResponse join = server_.Join("other");
  EXPECT_TRUE(join.status == 201) << join;
}

TEST_F(BadInputTest, UnknownQueueIs404ForOperatorsToo) {
  ExpectError(server_.GetQueue("no-such-queue"), 404, "queue_not_found", "GET queue");
  ExpectError(server_.DeleteQueue("no-such-queue"), 404, "queue_not_found", "DELETE queue");
}

TEST_F(BadInputTest, UnknownConfigFieldIsBadRequest) {
  ExpectError(PutRaw("line", R"({"admit_per_sec":5})"), 400, "bad_request", "typo field");
  ExpectError(PutRaw("line", R"({"max_active":5,"bogus":true})"), 400, "bad_request",
              "valid field plus unknown field");
  ExpectError(PutRaw("brand-new", R"({"bogus":true})"), 400, "bad_request", "unknown on create");
  EXPECT_EQ(server_.GetQueue("brand-new").status, 404) << "a refused PUT created the queue";
}

TEST_F(BadInputTest, BodyOverLimitIs413) {
  std::string big = R"({"user":")" + std::string(2 * kMaxBody, 'x') + R"("})";
  ExpectError(JoinRaw(big), 413, "payload_too_large", "join body of 2 KiB");
  ExpectError(
      PutRaw("line", R"({"target_url":"https://x/)" + std::string(2 * kMaxBody, 'y') + R"("})"),
      413, "payload_too_large", "config body of 2 KiB");
  // Without Content-Length the limit must hold for a chunked body too.
  std::string chunk = R"({"user":")" + std::string(600, 'z');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  std::string chunked = std::string(size) + "\r\n" + chunk + "\r\n" + std::string(size) + "\r\n" +
                        chunk + "\r\n0\r\n\r\n";
  ExpectError(
      server_.Request("POST", "/v1/queues/line/tickets",
                      {{"Transfer-Encoding", "chunked"}, {"Content-Type", "application/json"}},
                      chunked),
      413, "payload_too_large", "chunked join body of 1.2 KiB");
  EXPECT_GE(SumMetric(server_.Metrics().body, "rejected").value_or(0), 1)
      << "413 refusals not counted in /metrics";
}

TEST_F(BadInputTest, HeadersOverLimitIs431) {
  HttpResponse r =
      server_.Request("GET", "/healthz", {{"X-Padding", std::string(2 * kMaxHeader, 'p')}});
  ExpectError(r, 431, "headers_too_large", "8 KiB header");
  EXPECT_EQ(server_.Request("GET", "/healthz").status, 200);
  EXPECT_GE(SumMetric(server_.Metrics().body, "rejected").value_or(0), 1)
      << "431 refusals not counted in /metrics";
}

TEST_F(BadInputTest, BadQueueNameIs400) {
  for (const std::string& name : std::vector<std::string>{
           "Bad!Name", "UPPER", "-leading-dash", std::string(65, 'a'), "with_underscore"}) {
    ExpectError(server_.Join(name), 400, "invalid_queue_name", "join " + name);
    ExpectError(PutRaw(name, "{}"), 400, "invalid_queue_name", "create " + name);
  }
  // The longest allowed name works.
  EXPECT_EQ(PutRaw(std::string(64, 'a'), "{}").status, 201);
}

TEST_F(BadInputTest, UnknownRouteIs404NotFound) {
  for (const char* target :
       {"/v2/queues", "/v1/nothing", "/v1/queues/line/tickets/x/y/z", "/favicon.ico.nope"}) {
    ExpectError(server_.Request("GET", target), 404, "not_found", target);
  }
}

TEST_F(BadInputTest, WrongMethodIs405) {
  ExpectError(server_.Request("PATCH", "/v1/queues/line"), 405, "method_not_allowed",
              "PATCH queue");
  ExpectError(server_.Request("GET", "/v1/queues/line/tickets"), 405, "method_not_allowed",
              "GET tickets collection");
  ExpectError(server_.Request("POST", "/v1/verify"), 405, "method_not_allowed", "POST verify");
  ExpectError(server_.Request("PUT", AnteroomProcess::TicketPath("line", first_)), 405,
              "method_not_allowed", "PUT ticket");
}

TEST_F(BadInputTest, MalformedOrUnknownTicketIs404) {
  for (const std::string& t : std::vector<std::string>{
           "not-a-ticket!", "short", std::string(22, 'A'), std::string(200, 'b')}) {
    ExpectError(server_.GetTicket("line", t), 404, "ticket_not_found", "GET ticket " + t);
    ExpectError(server_.Leave("line", t), 404, "ticket_not_found", "DELETE ticket " + t);
  }
  ExpectError(server_.Complete("line", std::string(22, 'A')), 404, "ticket_not_found",
              "complete unknown ticket");
  // Another queue's ticket id does not work in this queue.
  server_.MustPutQueue("elsewhere", {{"max_active", 0}});
  ExpectError(server_.GetTicket("elsewhere", first_), 404, "ticket_not_found",
              "ticket id used in the wrong queue");
}

TEST_F(BadInputTest, GarbageOnTheSocketGets400OrACleanClose) {
  const std::vector<std::string> garbage = {
      std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + "\r\n\r\n",  // TLS hello
      "HELLO\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
      "POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\n\r\n",
      std::string("\0\0\0\0\r\n\r\n", 8),
  };
  for (const std::string& bytes : garbage) {
    HttpConnection conn(server_.port());
    conn.WriteRaw(bytes);
    std::optional<HttpResponse> r;
    try {
      r = conn.ReadResponse();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "neither a response nor a clean close for "
                    << json::serialize(json::string(bytes)) << ": " << e.what();
      continue;
    }
    if (r) {
      EXPECT_EQ(r->status, 400) << json::serialize(json::string(bytes)) << ": " << *r;
      EXPECT_EQ(r->ErrorCode(), "bad_request")
          << json::serialize(json::string(bytes)) << ": " << *r;
    }
    EXPECT_EQ(server_.Request("GET", "/healthz").status, 200);
  }
}

TEST_F(BadInputTest, ClientsVanishingMidRequestDoNoHarm) {
  {
    HttpConnection conn(server_.port());
    conn.WriteRaw(
        "POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{");
  }
  {
    HttpConnection conn(server_.port());
    conn.WriteRaw("GET /v1/queues/line/tic");
  }
  {
    SseClient stream(server_.port(), AnteroomProcess::EventsPath("line", second_));
    ASSERT_TRUE(stream.Next()) << stream.raw();
  }  // a visitor closing the tab right away
  EXPECT_EQ(server_.Request("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace anteroom::testing
