// The operator's dashboard on one process (docs/dashboard.md, docs/api.md "Operator's
// dashboard"): the admin routes want the token in the Authorization header and nowhere else; the
// page and its assets come with their policy; the overview, the admin stream and a queue's
// history show what the store and the hub hold; /metrics has the per-queue series and every
// response counted by class; --dashboard-sample-ms 0 turns it all off.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/dashboard.hpp"
#include "support/distributed.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A short sample period: the tests wait on samples, never on a clock.
const std::vector<std::string> kFast{"--dashboard-sample-ms", "100"};

Headers Bearer(std::string_view token) {
  return {{"Authorization", "Bearer " + std::string(token)}};
}

TEST(AdminDashboard, AdminRoutesTakeTheTokenFromTheAuthorizationHeaderOnly) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("line", {{"max_active", 0}});
  const std::vector<std::string> targets{"/v1/admin/overview", "/v1/admin/queues/line/history",
                                         "/v1/admin/stream"};
  for (const std::string& target : targets) {
    HttpResponse none = server.Request("GET", target);
    EXPECT_EQ(none.status, 401) << target << ": " << none;
    EXPECT_EQ(none.ErrorCode(), "unauthorized") << target << ": " << none;
    HttpResponse wrong = server.Request("GET", target, Bearer("not-the-token"));
    EXPECT_EQ(wrong.status, 401) << target << ": " << wrong;
    // The token anywhere but the header is no token: a URL ends up in logs and history.
    for (const char* name : {"token", "access_token", "admin_token"}) {
      std::string with_query = target + "?" + name + "=" + std::string(kAdminToken);
      HttpResponse q = server.Request("GET", with_query);
      EXPECT_EQ(q.status, 401) << with_query << ": " << q;
    }
    HttpResponse cookie =
        server.Request("GET", target, {{"Cookie", "token=" + std::string(kAdminToken)}});
    EXPECT_EQ(cookie.status, 401) << target << " with a cookie: " << cookie;
  }
  // The stream's refusal is an ordinary JSON error, not an event stream.
  SseClient refused(server.port(), "/v1/admin/stream");
  EXPECT_EQ(refused.status(), 401) << refused.error_body();

  HttpResponse ok = server.Admin("GET", "/v1/admin/overview");
  EXPECT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(ok.Header("Content-Type"), "application/json") << ok;
}

TEST(AdminDashboard, ThePageAndItsAssetsAreServedWithTheirPolicyAndNoCredentials) {
  AnteroomProcess server(kFast);
  struct Asset {
    std::string path, type;
  };
  const std::vector<Asset> assets{{"/admin", "text/html; charset=utf-8"},
                                  {"/admin/app.js", "text/javascript; charset=utf-8"},
                                  {"/admin/app.css", "text/css; charset=utf-8"}};
  for (const Asset& a : assets) {
    HttpResponse get = server.Request("GET", a.path);
    ASSERT_EQ(get.status, 200) << a.path << ": " << get;
    EXPECT_EQ(get.Header("Content-Type"), a.type) << a.path;
    EXPECT_FALSE(get.body.empty()) << a.path;
    EXPECT_EQ(get.Header("Cache-Control"), "no-cache") << a.path;
    EXPECT_EQ(get.Header("X-Content-Type-Options"), "nosniff") << a.path;
    EXPECT_EQ(get.Header("Referrer-Policy"), "no-referrer") << a.path;
    EXPECT_EQ(get.Header("X-Frame-Options"), "DENY") << a.path;
    HttpResponse head = server.Request("HEAD", a.path);
    EXPECT_EQ(head.status, 200) << a.path << ": " << head;
    EXPECT_EQ(head.Header("Content-Length"), std::to_string(get.body.size())) << a.path;
    EXPECT_TRUE(head.body.empty()) << a.path;
  }
  HttpResponse page = server.Request("GET", "/admin");
  EXPECT_EQ(page.Header("Content-Security-Policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  // The page loads its own script and style, from this origin.
  EXPECT_NE(page.body.find("/admin/app.js"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("/admin/app.css"), std::string::npos) << page.body;
  HttpResponse post = server.Request("POST", "/admin");
  EXPECT_EQ(post.status, 405) << post;
}

TEST(AdminDashboard, TheOverviewListsEveryQueueWithTheStoresFigures) {
  AnteroomProcess server(kFast);
  // Figures that hold still once the ticker has admitted what it may: two active and three
  // waiting in one queue, four waiting in a queue that admits nobody.
  server.MustPutQueue("alpha", {{"admit_per_s", 1000},
                                {"max_active", 2},
                                {"session_ttl_s", 3600},
                                {"abandon_after_s", 3600}});
  server.MustPutQueue("beta", {{"max_active", 0}, {"abandon_after_s", 3600}});
  for (int i = 0; i < 5; ++i) server.MustJoin("alpha");
  for (int i = 0; i < 4; ++i) server.MustJoin("beta");
  ASSERT_TRUE(PollUntil([&] { return IntAt(server.MustStats("alpha"), {"active"}) == 2; },
                        DeadlineIn(kPatience)));

  json::value last;
  bool same = PollUntil(
      [&] {
        last = Overview(server);
        for (const char* q : {"alpha", "beta"}) {
          json::value row = QueueRow(last, q);
          json::value stats = server.MustStats(q);
          if (row.is_null() || Int(row, "waiting") != IntAt(stats, {"waiting"}) ||
              Int(row, "active") != IntAt(stats, {"active"}))
            return false;
        }
        return true;
      },
      DeadlineIn(kPatience));
  ASSERT_TRUE(same) << json::serialize(last);
  json::value alpha = QueueRow(last, "alpha");
  EXPECT_EQ(Int(alpha, "waiting"), 3) << alpha;
  EXPECT_EQ(Int(alpha, "active"), 2) << alpha;
  EXPECT_EQ(Str(alpha, "state"), "open") << alpha;
  EXPECT_EQ(Int(alpha, "max_active"), 2) << alpha;
  json::value beta = QueueRow(last, "beta");
  EXPECT_EQ(Int(beta, "waiting"), 4) << beta;
  EXPECT_EQ(Int(beta, "active"), 0) << beta;
  // Queues sorted by name; the frame names this process and its mode.
  const json::value* qs = Field(last, "queues");
  ASSERT_TRUE(qs && qs->is_array() && qs->as_array().size() == 2) << json::serialize(last);
  EXPECT_EQ(Str(qs->as_array()[0], "name"), "alpha");
  EXPECT_EQ(Str(last, "mode"), "embedded") << json::serialize(last);
  EXPECT_TRUE(Int(last, "t_ms").has_value()) << json::serialize(last);
  json::value self = ProcessRow(last, Str(last, "node"));
  EXPECT_EQ(Bool(self, "self"), true) << json::serialize(last);
  EXPECT_EQ(Bool(self, "stale"), false) << json::serialize(last);

  // A closed queue stays listed, as closed.
  ASSERT_EQ(server.DeleteQueue("beta").status, 200);
  ASSERT_TRUE(
      PollUntil([&] { return Str(QueueRow(Overview(server), "beta"), "state") == "closed"; },
                DeadlineIn(kPatience)))
      << json::serialize(Overview(server));
}

TEST(AdminDashboard, JoinAndAdmissionRatesRiseWhileVisitorsJoinAndTheTickerAdmits) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("flow", {{"admit_per_s", 50}, {"max_active", 100000}});
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread joiner([&] {
    while (!stop) {
      if (server.Join("flow").status != 201) ++failures;
    }
  });
  json::value row;
  bool rising = PollUntil(
      [&] {
        row = QueueRow(Overview(server), "flow");
        return Num(row, "joins_per_s").value_or(0) > 0 &&
               Num(row, "admitted_per_s").value_or(0) > 0;
      },
      DeadlineIn(kPatience));
  stop = true;
  joiner.join();
  EXPECT_TRUE(rising) << row;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(Num(row, "abandoned_per_s").value_or(-1), 0) << row;
}

TEST(AdminDashboard, TheAdminStreamSendsAnOverviewAtOnceAndAfterEverySample) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("line", {{"max_active", 0}});
  SseClient stream(server.port(), "/v1/admin/stream", std::nullopt, DeadlineIn(kPatience),
                   Bearer(kAdminToken));
  ASSERT_EQ(stream.status(), 200) << stream.error_body();
  EXPECT_EQ(stream.Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(stream.Header("Cache-Control"), "no-store");
  EXPECT_EQ(stream.Header("X-Accel-Buffering"), "no");
  long long previous = -1;
  bool listed = false;
  for (int i = 0; i < 4; ++i) {
    auto frame = stream.WaitFor("overview");
    ASSERT_TRUE(frame) << stream.raw();
    json::value v = frame->Json();
    auto t = Int(v, "t_ms");
    ASSERT_TRUE(t) << frame->Describe();
    // The first frame is the latest sample (at once); each later one a newer sample.
    if (i > 0) EXPECT_GT(*t, previous) << frame->Describe();
    previous = *t;
    // (The first may come from a sample before the queue was made.)
    listed = listed || !QueueRow(v, "line").is_null();
  }
  EXPECT_TRUE(listed) << stream.raw();
  ASSERT_FALSE(stream.retries().empty()) << stream.raw();
  EXPECT_EQ(stream.retries().front(), 2000);
}

// 64 admin streams per process; the 65th is refused with a JSON 503, and none of them takes a
// visitor event-stream slot.
TEST(AdminDashboard, AdminStreamsBeyondSixtyFourAreRefusedOverCapacity) {
  AnteroomProcess server(kFast);
  std::vector<std::unique_ptr<SseClient>> admins;
  for (int i = 0; i < 64; ++i) {
    admins.push_back(std::make_unique<SseClient>(server.port(), "/v1/admin/stream", std::nullopt,
                                                 DeadlineIn(kPatience), Bearer(kAdminToken)));
    ASSERT_EQ(admins.back()->status(), 200) << i << ": " << admins.back()->error_body();
  }
  SseClient refused(server.port(), "/v1/admin/stream", std::nullopt, DeadlineIn(kPatience),
                    Bearer(kAdminToken));
  EXPECT_EQ(refused.status(), 503) << refused.error_body();
  EXPECT_NE(refused.error_body().find("\"over_capacity\""), std::string::npos)
      << refused.error_body();
  std::string m = server.Metrics().body;
  EXPECT_EQ(Sample(m, "anteroom_http_event_streams"), 0) << m;
  EXPECT_GE(Sample(m, "anteroom_http_connections").value_or(0), 64) << m;
  // One gone, one more fits.
  admins.pop_back();
  EXPECT_TRUE(PollUntil(
      [&] {
        SseClient again(server.port(), "/v1/admin/stream", std::nullopt, DeadlineIn(kPatience),
                        Bearer(kAdminToken));
        return again.status() == 200;
      },
      DeadlineIn(kPatience)));
}

// SIGTERM ends the admin streams with the sampling, before the server drains: an open dashboard
// does not hold the process until the grace runs out.
TEST(AdminDashboard, SigtermClosesTheAdminStreamsAndExitsWellWithinGrace) {
  constexpr auto kGrace = std::chrono::seconds(30);
  AnteroomProcess server(
      {"--dashboard-sample-ms", "100", "--shutdown-grace-s", std::to_string(kGrace.count())});
  std::vector<std::unique_ptr<SseClient>> admins;
  for (int i = 0; i < 2; ++i) {
    admins.push_back(std::make_unique<SseClient>(server.port(), "/v1/admin/stream", std::nullopt,
                                                 DeadlineIn(kPatience), Bearer(kAdminToken)));
    ASSERT_EQ(admins.back()->status(), 200) << admins.back()->error_body();
    ASSERT_TRUE(admins.back()->WaitFor("overview")) << admins.back()->raw();
  }
  server.process().Signal(SIGTERM);
  for (auto& a : admins) EXPECT_TRUE(a->WaitClosed(DeadlineIn(kPatience))) << a->raw();
  auto status = server.process().WaitExit(DeadlineIn(kGrace / 3));
  ASSERT_TRUE(status) << "still running " << (kGrace / 3).count()
                      << " s after SIGTERM with admin streams open (grace " << kGrace.count()
                      << " s)";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();
}

TEST(AdminDashboard, AQueuesHistoryGrowsOnePointASample) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("line", {{"max_active", 0}});
  server.MustJoin("line");
  size_t first = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        HttpResponse h = server.Admin("GET", "/v1/admin/queues/line/history");
        if (h.status != 200) return false;
        json::value v = h.Json();
        const json::value* pts = Field(v, "points");
        first = pts && pts->is_array() ? pts->as_array().size() : 0;
        return first > 0;
      },
      DeadlineIn(kPatience)));
  json::value latest;
  ASSERT_TRUE(PollUntil(
      [&] {
        HttpResponse h = server.Admin("GET", "/v1/admin/queues/line/history");
        latest = h.Json();
        const json::value* pts = Field(latest, "points");
        return pts && pts->is_array() && pts->as_array().size() >= first + 2;
      },
      DeadlineIn(kPatience)))
      << json::serialize(latest);
  EXPECT_EQ(Str(latest, "queue"), "line");
  // One point a sample: the step is the sample period (--dashboard-sample-ms 100 here).
  EXPECT_DOUBLE_EQ(Num(latest, "step_s").value_or(0), 0.1) << json::serialize(latest);
  const json::array& pts = Field(latest, "points")->as_array();
  const json::value& last = pts.back();
  EXPECT_EQ(Int(last, "waiting"), 1) << last;
  for (const char* k : {"t", "active", "admitted_per_s", "joins_per_s", "abandoned_per_s",
                        "oldest_wait_s", "eta_last_s", "streams"})
    EXPECT_NE(Field(last, k), nullptr) << k << " missing in " << last;
  // Oldest first.
  EXPECT_LE(Int(pts.front(), "t").value_or(0), Int(last, "t").value_or(-1));

  HttpResponse unknown = server.Admin("GET", "/v1/admin/queues/nothing-here/history");
  EXPECT_EQ(unknown.status, 404) << unknown;
  EXPECT_EQ(unknown.ErrorCode(), "queue_not_found") << unknown;
  HttpResponse bad = server.Admin("GET", "/v1/admin/queues/NOT_A_NAME/history");
  EXPECT_EQ(bad.status, 400) << bad;
}

TEST(AdminDashboard, OpenVisitorStreamsShowInTheQueuesAndTheProcessRow) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("line", {{"max_active", 0}});
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(server.Events("line", server.MustJoin("line")));
    ASSERT_EQ(streams.back()->status(), 200) << streams.back()->error_body();
  }
  // An admin stream is open too: it is a connection, not a visitor's event stream.
  SseClient admin(server.port(), "/v1/admin/stream", std::nullopt, DeadlineIn(kPatience),
                  Bearer(kAdminToken));
  ASSERT_EQ(admin.status(), 200) << admin.error_body();
  json::value last;
  bool shown = PollUntil(
      [&] {
        last = Overview(server);
        json::value self = ProcessRow(last, Str(last, "node"));
        return Int(QueueRow(last, "line"), "streams") == 3 && Int(self, "streams") == 3 &&
               Int(self, "admin_streams") == 1 && IntAt(self, {"streams_by_queue", "line"}) == 3;
      },
      DeadlineIn(kPatience));
  EXPECT_TRUE(shown) << json::serialize(last);
  EXPECT_GE(Int(ProcessRow(last, Str(last, "node")), "connections").value_or(0), 4)
      << json::serialize(last);
  std::string m = server.Metrics().body;
  EXPECT_EQ(Sample(m, "anteroom_http_event_streams"), 3) << m;

  streams.pop_back();
  EXPECT_TRUE(PollUntil([&] { return Int(QueueRow(Overview(server), "line"), "streams") == 2; },
                        DeadlineIn(kPatience)))
      << json::serialize(Overview(server));
}

TEST(AdminDashboard, MetricsHaveThePerQueueSeriesAndEveryResponseByClass) {
  AnteroomProcess server(kFast);
  server.MustPutQueue("line", {{"max_active", 0}});
  server.MustJoin("line");
  server.MustJoin("line");
  ASSERT_EQ(server.Request("GET", "/v1/admin/overview").status, 401);
  ASSERT_EQ(server.Request("GET", "/no/such/thing").status, 404);
  std::string m;
  ASSERT_TRUE(PollUntil(
      [&] {
        m = server.Metrics().body;
        return SumMetric(m, "anteroom_queue_waiting{queue=\"line\"}") == 2;
      },
      DeadlineIn(kPatience)))
      << m;
  for (const char* series :
       {"anteroom_queue_active{queue=\"line\"}",
        "anteroom_queue_oldest_wait_seconds{queue=\"line\"}",
        "anteroom_queue_admitted_total{queue=\"line\"}",
        "anteroom_queue_abandoned_total{queue=\"line\"}", "anteroom_queue_paused{queue=\"line\"}",
        "anteroom_queue_closed{queue=\"line\"}", "anteroom_queue_streams{queue=\"line\"}"})
    EXPECT_TRUE(SumMetric(m, series).has_value()) << series << " missing in\n" << m;
  EXPECT_EQ(SumMetric(m, "anteroom_queue_joined_total{queue=\"line\"}"), 2) << m;
  EXPECT_EQ(Sample(m, "anteroom_store_up"), 1) << m;
  EXPECT_GE(SumMetric(m, "anteroom_http_responses_total{code=\"2xx\"}").value_or(0), 4) << m;
  EXPECT_GE(SumMetric(m, "anteroom_http_responses_total{code=\"4xx\"}").value_or(0), 2) << m;
  EXPECT_TRUE(SumMetric(m, "anteroom_http_responses_total{code=\"3xx\"}").has_value()) << m;
  EXPECT_TRUE(SumMetric(m, "anteroom_http_responses_total{code=\"5xx\"}").has_value()) << m;

  // A request the connection loop refuses before any route (a malformed request line) is
  // counted too.
  double before =
      SumMetric(server.Metrics().body, "anteroom_http_responses_total{code=\"4xx\"}").value_or(0);
  HttpConnection raw(server.port());
  raw.WriteRaw("NOT A REQUEST\r\n\r\n");
  auto answer = raw.ReadResponse();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400) << *answer;
  EXPECT_EQ(SumMetric(server.Metrics().body, "anteroom_http_responses_total{code=\"4xx\"}"),
            before + 1);
}

TEST(AdminDashboard, SampleZeroTurnsTheDashboardOffButKeepsThePage) {
  AnteroomProcess server({"--dashboard-sample-ms", "0"});
  server.MustPutQueue("line", {{"max_active", 0}});
  for (const char* target :
       {"/v1/admin/overview", "/v1/admin/queues/line/history", "/v1/admin/stream"}) {
    HttpResponse r = server.Admin("GET", target);
    EXPECT_EQ(r.status, 503) << target << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "unavailable") << target << ": " << r;
  }
  // The token is still checked first: an unauthenticated caller learns nothing.
  EXPECT_EQ(server.Request("GET", "/v1/admin/overview").status, 401);
  EXPECT_EQ(server.Request("GET", "/admin").status, 200);
  std::string m = server.Metrics().body;
  EXPECT_FALSE(SumMetric(m, "anteroom_queue_waiting").has_value()) << m;
  EXPECT_EQ(SumMetric(m, "anteroom_http_responses_total{code=\"5xx\"}"), 3) << m;
}

}  // namespace
}  // namespace anteroom::testing
