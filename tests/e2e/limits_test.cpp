// Per-IP and process limits: a clear refusal with Retry-After, counted in /metrics, harming
// nobody already in line.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

// Sum of all metric samples whose series mentions a refusal ("rejected" or "limited").
// Polls while the server is still full (503) from connections the test just closed.
double RefusalCount(const AnteroomProcess& server) {
  HttpResponse m;
  PollUntil([&] { return (m = server.Metrics()).status != 503; }, DeadlineIn(kPatience),
            std::chrono::milliseconds(20));
  EXPECT_EQ(m.status, 200) << m;
  return SumMetric(m.body, "rejected").value_or(0) + SumMetric(m.body, "limited").value_or(0);
}

void ExpectRetryAfter(const HttpResponse& r) {
  std::string retry_after = r.Header("Retry-After");
  ASSERT_FALSE(retry_after.empty()) << "no Retry-After: " << r;
  int seconds = -1;
  try {
    seconds = std::stoi(retry_after);
  } catch (const std::exception&) {
  }
  EXPECT_GE(seconds, 1) << "Retry-After must be whole seconds >= 1: " << r;
}

TEST(Limits, JoinRatePerIp) {
  AnteroomProcess server({"--join-rate-per-ip", "1", "--join-burst-per-ip", "3"});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string first = server.MustJoin("line");
  server.MustJoin("line");
  server.MustJoin("line");
  HttpResponse fourth = server.Join("line");
  EXPECT_EQ(fourth.status, 429) << fourth;
  EXPECT_EQ(fourth.ErrorCode(), "rate_limited") << fourth;
  ExpectRetryAfter(fourth);

  // Without --trust-proxy a forged forwarding header does not dodge the limit.
  HttpResponse forged = server.Join("line", std::nullopt,
                                    {{"X-Forwarded-For", "10.9.9.9"}, {"X-Real-IP", "10.9.9.9"}});
  EXPECT_EQ(forged.status, 429) << forged;

  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 3);
  HttpResponse mine = server.GetTicket("line", first);
  EXPECT_EQ(Int(mine.Json(), "position"), 1) << mine;
  EXPECT_GE(RefusalCount(server), 1) << server.Metrics().body;

  // Retry-After is honest: joining works again once it has passed.
  const auto refused_at = Clock::now();
  const int retry_after =
      std::stoi(fourth.Header("Retry-After").empty() ? "1" : fourth.Header("Retry-After"));
  HttpResponse later;
  ASSERT_TRUE(PollUntil([&] { return (later = server.Join("line")).status == 201; },
                        DeadlineIn(kPatience), std::chrono::milliseconds(100)))
      << later;
  EXPECT_LE(Clock::now() - refused_at, std::chrono::seconds(retry_after) + std::chrono::seconds(1));
}

// Holds `n` open, served keep-alive connections.
std::vector<std::unique_ptr<HttpConnection>> HoldConnections(const AnteroomProcess& server, int n) {
  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < n; ++i) {
    held.push_back(std::make_unique<HttpConnection>(server.port()));
    HttpResponse r = held.back()->Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200) << "connection " << i + 1 << " of " << n << ": " << r;
  }
  return held;
}

// The connection beyond the limit gets the documented 503 (written at accept or in answer).
void ExpectOverCapacity(const AnteroomProcess& server) {
  HttpConnection extra(server.port());
  HttpResponse r = extra.Request("GET", "/healthz");
  EXPECT_EQ(r.status, 503) << r;
  EXPECT_EQ(r.ErrorCode(), "over_capacity") << r;
  ExpectRetryAfter(r);
}

// After one held connection closes, a new client is served again (polled: the server notices
// the close asynchronously).
void ExpectServedAgainAfterClose(const AnteroomProcess& server,
                                 std::vector<std::unique_ptr<HttpConnection>>& held) {
  held.pop_back();
  HttpResponse last;
  bool served = PollUntil(
      [&] {
        last = server.Request("GET", "/healthz");
        return last.status == 200;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20));
  EXPECT_TRUE(served) << "never served again after a connection closed: " << last;
}

TEST(Limits, ConnectionsPerIp) {
  AnteroomProcess server({"--max-conns-per-ip", "5"});
  auto held = HoldConnections(server, 5);
  ExpectOverCapacity(server);
  ExpectServedAgainAfterClose(server, held);
  EXPECT_GE(RefusalCount(server), 1) << server.Metrics().body;
}

TEST(Limits, TotalConnections) {
  AnteroomProcess server({"--max-connections", "5"});
  auto held = HoldConnections(server, 5);
  ExpectOverCapacity(server);
  ExpectServedAgainAfterClose(server, held);
  EXPECT_GE(RefusalCount(server), 1) << server.Metrics().body;
}

TEST(Limits, OpenEventStreamsCountAsConnections) {
  AnteroomProcess server({"--max-conns-per-ip", "3"});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t = server.MustJoin("line");
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(server.Events("line", t));
    ASSERT_TRUE(streams.back()->Next()) << streams.back()->raw();
  }
  ExpectOverCapacity(server);
}

TEST(Limits, MaxQueues) {
  AnteroomProcess server({"--max-queues", "2"});
  EXPECT_EQ(server.PutQueue("one", {}).status, 201);
  EXPECT_EQ(server.PutQueue("two", {}).status, 201);
  HttpResponse third = server.PutQueue("three", {});
  EXPECT_EQ(third.status, 409) << third;
  EXPECT_EQ(third.ErrorCode(), "too_many_queues") << third;
  EXPECT_EQ(server.GetQueue("three").status, 404);
  HttpResponse update = server.PutQueue("two", {{"max_active", 3}});
  EXPECT_EQ(update.status, 200) << "updating an existing queue at the limit: " << update;
}

}  // namespace
}  // namespace anteroom::testing
