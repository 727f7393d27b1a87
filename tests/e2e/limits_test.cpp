// Per-IP and process limits: a clear refusal with Retry-After, counted in /metrics, harming
// nobody already in line.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/sse_fleet.hpp"

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

// The connection beyond the limit gets the documented 503 for anything but a health probe
// (those are answered beyond the limits: see HealthProbesAnsweredWhenConnectionsAreFull).
void ExpectOverCapacity(const AnteroomProcess& server) {
  HttpConnection extra(server.port());
  HttpResponse r = extra.Request("GET", "/metrics");
  EXPECT_EQ(r.status, 503) << r;
  EXPECT_EQ(r.ErrorCode(), "over_capacity") << r;
  ExpectRetryAfter(r);
}

// After one held connection closes, a new client is served again (polled: the server notices
// the close asynchronously). Asks for /metrics: a /healthz is answered even when full.
void ExpectServedAgainAfterClose(const AnteroomProcess& server,
                                 std::vector<std::unique_ptr<HttpConnection>>& held) {
  held.pop_back();
  HttpResponse last;
  bool served = PollUntil(
      [&] {
        last = server.Request("GET", "/metrics");
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

std::string Loopback(int last_byte) { return "127.0.0." + std::to_string(last_byte); }

// The probe (issue 12): 18 addresses each open as many event streams as the server lets them.
// Streams count in the per-address cap and may take only max-connections minus the reserve, so a
// new visitor still joins and /healthz still answers.
TEST(Limits, StreamsFromManyAddressesCannotLockOutVisitorsOrHealthChecks) {
  constexpr int kAddresses = 18, kPerAddress = 40, kMax = 300;
  constexpr int kStreamCap = kMax - 64;  // the automatic reserve: max(64, 5% of 300)
  AnteroomProcess server({"--max-connections", std::to_string(kMax), "--max-conns-per-ip",
                          std::to_string(kPerAddress)});
  server.MustPutQueue("line", {{"max_active", 0}});
  // Every address brings its own tickets (joined first: the streams will fill the server),
  // three streams each (the most a ticket keeps).
  std::vector<std::vector<std::string>> tickets(kAddresses);
  for (auto& mine : tickets)
    for (int i = 0; i < (kPerAddress + 2) / 3; ++i) mine.push_back(server.MustJoin("line"));
  SseFleet fleet;
  std::vector<int> address_of;  // by fleet id
  for (int i = 0; i < kPerAddress; ++i)
    for (int a = 0; a < kAddresses; ++a) {
      fleet.OpenFrom(Loopback(2 + a), server.port(), "line", tickets[a][i / 3]);
      address_of.push_back(a);
    }
  // Each attempt settles: a stream with its first state, or refused and closed.
  ASSERT_TRUE(fleet.WaitUntil(
      [](const std::deque<StreamView>& views) {
        for (const auto& v : views)
          if (!v.closed && !(v.status == 200 && v.first)) return false;
        return true;
      },
      DeadlineIn(kPatience)));
  int held = 0, refused_503 = 0;
  std::vector<int> held_by(kAddresses, 0);
  fleet.With([&](const std::deque<StreamView>& views) {
    for (size_t id = 0; id < views.size(); ++id) {
      const StreamView& v = views[id];
      if (v.status == 200) {
        EXPECT_FALSE(v.closed) << "a stream was ended: " << v.failure;
        ++held;
        ++held_by[address_of[id]];
      } else if (v.status == 503) {
        EXPECT_NE(v.error_body.find("over_capacity"), std::string::npos) << v.error_body;
        ++refused_503;
      } else {
        // Beyond the limits a connection may only ask a probe; when many wait at once the
        // oldest is closed unanswered to make room.
        EXPECT_EQ(v.status, 0) << v.error_body;
        EXPECT_TRUE(v.closed);
      }
    }
  });
  EXPECT_EQ(held, kStreamCap) << "the streams the server let in";
  for (int a = 0; a < kAddresses; ++a) EXPECT_LE(held_by[a], kPerAddress) << Loopback(2 + a);
  EXPECT_GE(refused_503, 1);
  HttpResponse m;
  EXPECT_TRUE(PollUntil(
      [&] {
        m = server.Metrics();
        return Sample(m.body, "anteroom_http_event_streams") == kStreamCap &&
               Sample(m.body, "anteroom_sse_streams") == kStreamCap;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20)))
      << m.body;

  // A new visitor from another address: joins, and its stream is refused (no place left for
  // streams) with the documented 503 rather than taking the reserve.
  const std::string visitor = Loopback(2 + kAddresses);
  HttpResponse join = HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", visitor)
                          .Request("POST", "/v1/queues/line/tickets");
  EXPECT_EQ(join.status, 201) << join;
  HttpResponse health = HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", visitor)
                            .Request("GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health;
  HttpResponse ready = HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", visitor)
                           .Request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready;
  // An address that holds streams, below its own cap, is served too.
  int fewest = static_cast<int>(std::min_element(held_by.begin(), held_by.end()) - held_by.begin());
  ASSERT_LT(held_by[fewest], kPerAddress);
  HttpResponse again =
      HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", Loopback(2 + fewest))
          .Request("GET", "/v1/queues/line/tickets/" + Str(join.Json(), "ticket"));
  EXPECT_EQ(again.status, 200) << again;
  HttpResponse stream =
      HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", visitor)
          .Request("GET", "/v1/queues/line/tickets/" + Str(join.Json(), "ticket") + "/events");
  EXPECT_EQ(stream.status, 503) << stream;
  EXPECT_EQ(stream.ErrorCode(), "over_capacity") << stream;
  ExpectRetryAfter(stream);
  EXPECT_GE(SumMetric(server.Metrics().body, "reason=\"streams\"").value_or(0), 1);
}

// With every connection taken by ordinary (idle keep-alive) clients, a health check from
// another address is still answered — and nothing else is.
TEST(Limits, HealthProbesAnsweredWhenConnectionsAreFull) {
  constexpr int kMax = 20, kPerAddress = 5;
  AnteroomProcess server({"--max-connections", std::to_string(kMax), "--max-conns-per-ip",
                          std::to_string(kPerAddress)});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < kMax; ++i) {
    held.push_back(std::make_unique<HttpConnection>(server.port(), DeadlineIn(kPatience),
                                                    "127.0.0.1", Loopback(2 + i / kPerAddress)));
    HttpResponse r = held.back()->Request("GET", "/metrics");
    ASSERT_NE(r.status, 503) << "connection " << i + 1 << " of " << kMax << ": " << r;
  }
  const std::string other = Loopback(50);
  for (const char* probe : {"/healthz", "/readyz"}) {
    HttpConnection c(server.port(), DeadlineIn(kPatience), "127.0.0.1", other);
    HttpResponse r = c.Request("GET", probe);
    EXPECT_EQ(r.status, 200) << probe << ": " << r;
    EXPECT_TRUE(c.WaitClosed()) << probe << ": a connection beyond the cap serves one probe";
  }
  // An address at its own cap may probe too.
  HttpResponse capped =
      HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", Loopback(2))
          .Request("GET", "/healthz");
  EXPECT_EQ(capped.status, 200) << capped;
  // Anything else beyond the cap: the documented 503.
  HttpResponse join = HttpConnection(server.port(), DeadlineIn(kPatience), "127.0.0.1", other)
                          .Request("POST", "/v1/queues/line/tickets");
  EXPECT_EQ(join.status, 503) << join;
  EXPECT_EQ(join.ErrorCode(), "over_capacity") << join;
  ExpectRetryAfter(join);
  // Counted (asked on a held connection: /metrics is not a probe).
  HttpResponse m = held.front()->Request("GET", "/metrics");
  ASSERT_EQ(m.status, 200) << m;
  EXPECT_EQ(Sample(m.body, "anteroom_http_probe_overflow_total"), 3) << m.body;
  EXPECT_EQ(Sample(m.body, "anteroom_http_connections"), kMax) << m.body;
}

// Silent connections beyond the cap (more than the probe overflow holds) cannot keep a health
// check out: the oldest waiting one makes room for each new connection.
TEST(Limits, SilentConnectionsBeyondTheCapCannotBlockHealthChecks) {
  constexpr int kMax = 4, kSilent = 100;  // more than the 64 the probe overflow holds
  AnteroomProcess server({"--max-connections", std::to_string(kMax)});
  auto held = HoldConnections(server, kMax);
  std::vector<std::unique_ptr<HttpConnection>> silent;
  for (int i = 0; i < kSilent; ++i)
    silent.push_back(std::make_unique<HttpConnection>(server.port(), DeadlineIn(kPatience),
                                                      "127.0.0.1", Loopback(2 + i % 50)));
  // (Accepted in order: this one comes after every silent connection.)
  HttpConnection probe(server.port(), DeadlineIn(kPatience), "127.0.0.1", Loopback(99));
  HttpResponse r = probe.Request("GET", "/healthz");
  EXPECT_EQ(r.status, 200) << r;
  // The oldest silent connections were closed to make room, unanswered.
  EXPECT_TRUE(silent.front()->WaitClosed());
}

// An explicit --conn-reserve: streams stop at max-connections minus it; ordinary requests get
// the rest.
TEST(Limits, ConnReserveIsKeptFromStreams) {
  AnteroomProcess server({"--max-connections", "10", "--conn-reserve", "4"});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < 6; ++i) {
    streams.push_back(server.Events("line", server.MustJoin("line")));
    ASSERT_EQ(streams.back()->status(), 200)
        << "stream " << i << ": " << streams.back()->error_body();
  }
  auto seventh = server.Events("line", server.MustJoin("line"));
  EXPECT_EQ(seventh->status(), 503) << seventh->error_body();
  EXPECT_NE(seventh->error_body().find("over_capacity"), std::string::npos)
      << seventh->error_body();
  // The four reserved places serve ordinary clients at once.
  auto held = HoldConnections(server, 4);
  ExpectOverCapacity(server);
  // A stream that ends gives its place back.
  streams.pop_back();
  std::unique_ptr<SseClient> next;
  held.clear();
  EXPECT_TRUE(PollUntil(
      [&] {
        next = server.Events("line", server.MustJoin("line"));
        return next->status() == 200;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20)))
      << next->error_body();
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
