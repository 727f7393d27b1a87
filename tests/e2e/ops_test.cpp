// Operational endpoints and the waiting-room page.
#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/kafka_mock.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

TEST(Ops, HealthAndReadiness) {
  AnteroomProcess server;
  HttpResponse health = server.Request("GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health;
  HttpResponse ready = server.Request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready;
}

// --max-queues counts open queues: at the limit, DELETE (close) of one lets a new one be made;
// the closed one cannot be reopened until another place is free.
TEST(Ops, AClosedQueueFreesItsPlaceUnderMaxQueues) {
  AnteroomProcess server({"--max-queues", "2"});
  server.MustPutQueue("a", {});
  server.MustPutQueue("b", {});
  HttpResponse third = server.PutQueue("c", {});
  EXPECT_EQ(third.status, 409) << third;
  EXPECT_EQ(third.ErrorCode(), "too_many_queues") << third;
  HttpResponse closed = server.Admin("DELETE", "/v1/queues/a");
  ASSERT_EQ(closed.status, 200) << closed;
  HttpResponse created = server.PutQueue("c", {});
  EXPECT_EQ(created.status, 201) << created;
  HttpResponse reopen = server.PutQueue("a", {});
  EXPECT_EQ(reopen.status, 409) << reopen;
  EXPECT_EQ(reopen.ErrorCode(), "too_many_queues") << reopen;
  EXPECT_EQ(server.GetQueue("a").Json().at("closed"), true);
  ASSERT_EQ(server.Admin("DELETE", "/v1/queues/b").status, 200);
  HttpResponse reopened = server.PutQueue("a", {});
  EXPECT_EQ(reopened.status, 200) << reopened;
  EXPECT_EQ(reopened.Json().at("closed"), false) << reopened;
  EXPECT_EQ(server.MustJoin("a").empty(), false);
}

// A closed queue is forgotten once its sessions have ended and its close is abandon_after_s
// old (docs/api.md): GET answers 404 and the list no longer shows it. Made again under the same
// name, its events continue the old queue's seq: the hub of `watcher`, which took in the old
// queue's events, takes the new ones as new, so a stream on the new queue is told its admission
// (with seq restarting at 1 that hub would drop them as duplicates and the stream would wait
// forever). `op` is where the operator and the visitors' joins go.
void ForgetThenMakeAgain(const AnteroomProcess& op, const AnteroomProcess& watcher) {
  op.MustPutQueue("gone", {{"max_active", 1}, {"admit_per_s", 100}, {"session_ttl_s", 1},
                           {"abandon_after_s", 1}});
  for (int i = 0; i < 8; ++i) op.MustPutQueue("gone", {{"paused", i % 2 == 0}});
  op.MustPutQueue("gone", {{"paused", false}});
  std::string first = op.MustJoin("gone");
  ASSERT_FALSE(first.empty());
  HttpResponse ticket = op.GetTicket("gone", first);
  ASSERT_EQ(Str(ticket.Json(), "status"), "active") << ticket;
  const long long old_seq = op.GetQueue("gone").Json().at("seq").as_int64();

  HttpResponse closed = op.DeleteQueue("gone");
  ASSERT_EQ(closed.status, 200) << closed;
  EXPECT_EQ(closed.Json().at("closed"), true) << closed;
  // The session expires after 1 s, the close's grace is 1 s: then the next tick forgets it.
  HttpResponse last;
  EXPECT_TRUE(PollUntil(
      [&] {
        last = watcher.GetQueue("gone");
        return last.status != 200;
      },
      DeadlineIn(std::chrono::seconds(20))))
      << last;
  EXPECT_EQ(last.status, 404) << last;
  EXPECT_EQ(last.ErrorCode(), "queue_not_found") << last;
  HttpResponse list = watcher.Admin("GET", "/v1/queues");
  ASSERT_EQ(list.status, 200) << list;
  EXPECT_EQ(list.body.find("\"gone\""), std::string::npos) << list;

  HttpResponse again = op.PutQueue("gone", {{"max_active", 0}});
  ASSERT_EQ(again.status, 201) << again;
  EXPECT_GT(again.Json().at("seq").as_int64(), old_seq + 1) << again;  // (old + expired + this)
  std::string next = op.MustJoin("gone");
  ASSERT_FALSE(next.empty());
  auto stream = watcher.Events("gone", next);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();
  op.MustPutQueue("gone", {{"max_active", 1}});  // the tick admits it: an event for the hub
  auto admitted = stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << "the new queue's admission never reached the stream: "
                        << stream->raw();
  EXPECT_GT(EventSeq(*admitted), old_seq) << admitted->Describe();
}

TEST(Ops, AClosedQueueIsForgottenOnceItsSessionsEndAndComesBackWithItsSeqGoingOn) {
  AnteroomProcess server;
  ForgetThenMakeAgain(server, server);
}

// The same with two processes over one Redis: the operator on one, the stream on the other,
// whose hub learns of events through the outbox (tailed, or relayed through Kafka and Pub/Sub).
TEST(Ops, AForgottenQueueMadeAgainReachesTheStreamsOfAnotherProcess) {
  for (bool kafka_too : {false, true}) {
    SCOPED_TRACE(kafka_too ? "--redis --kafka" : "--redis");
    RedisServer redis;
    std::unique_ptr<KafkaMock> kafka;
    if (kafka_too) kafka = std::make_unique<KafkaMock>();
    std::vector<std::unique_ptr<AnteroomProcess>> nodes;
    for (std::string id : {"a", "b"}) {
      std::vector<std::string> args{"--redis", redis.url(), "--node-id", id};
      if (kafka) args.insert(args.end(), {"--kafka", kafka->brokers()});
      nodes.push_back(std::make_unique<AnteroomProcess>(args));
    }
    if (kafka) {  // the consumer group has formed: every partition is someone's
      ASSERT_TRUE(PollUntil(
          [&] {
            double sum = 0;
            for (auto& n : nodes) sum += MetricValue(*n, "anteroom_consumer_assigned_partitions")
                                             .value_or(0);
            return sum == kafka->partitions();
          },
          DeadlineIn(std::chrono::seconds(60)), std::chrono::milliseconds(100)));
    }
    ForgetThenMakeAgain(*nodes[0], *nodes[1]);
    StopAndCheck({nodes[0].get(), nodes[1].get()});
  }
}

TEST(Ops, MetricsArePrometheusText) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  server.MustJoin("line");
  HttpResponse m = server.Metrics();
  ASSERT_EQ(m.status, 200) << m;
  EXPECT_EQ(m.Header("Content-Type").rfind("text/plain", 0), 0u) << m.Header("Content-Type");
  static const std::regex kSample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? )"
                                  R"([-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|Inf)( -?[0-9]+)?$)");
  static const std::regex kMeta(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream in(m.body);
  std::string line;
  int anteroom_samples = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      bool meta = line.rfind("# HELP", 0) == 0 || line.rfind("# TYPE", 0) == 0;
      EXPECT_TRUE(!meta || std::regex_match(line, kMeta)) << "malformed metadata line: " << line;
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, kSample)) << "not a Prometheus sample: " << line;
    if (line.rfind("anteroom_", 0) == 0) ++anteroom_samples;
  }
  EXPECT_GT(anteroom_samples, 0) << m.body;
}

TEST(Ops, KeepAliveAndPipelining) {
  AnteroomProcess server;
  HttpConnection conn(server.port());
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = conn.Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200) << "request " << i + 1 << " on one connection: " << r;
  }
  conn.WriteRaw(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = conn.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << *first;
  auto second = conn.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 404) << *second;
}

TEST(Ops, WaitingRoomPages) {
  AnteroomProcess server({"--demo-queue", "demo"});
  HttpResponse root = server.Request("GET", "/");
  EXPECT_EQ(root.status, 200) << root;
  EXPECT_EQ(root.Header("Content-Type").rfind("text/html", 0), 0u) << root;
  EXPECT_NE(root.body.find("<html"), std::string::npos) << root;

  HttpResponse page = server.Request("GET", "/q/demo");
  EXPECT_EQ(page.status, 200) << page;
  EXPECT_EQ(page.Header("Content-Type").rfind("text/html", 0), 0u) << page;
  EXPECT_NE(page.body.find("demo"), std::string::npos) << page;

  // The demo queue exists and takes visitors.
  HttpResponse join = server.Join("demo");
  EXPECT_TRUE(join.status == 201) << join;
}

}  // namespace
}  // namespace anteroom::testing
