// Webhooks in distributed mode (SPEC §5, Step 6): three processes share Redis and Kafka; the
// consumer-group member that consumes an event takes in its webhook job before committing. A
// process is killed with SIGKILL mid-traffic (a consumer rebalance): nothing is lost, and the
// only repeats the receiver sees are deliveries that were in flight at the kill, with the same
// Idempotency-Key.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <iostream>
#include <set>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/kafka_mock.hpp"
#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"
#include "support/webhook_receiver.hpp"

namespace anteroom::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr int kNodes = 3;
constexpr int kVisitors = 240;
constexpr double kRate = 30;  // admissions per second: the line drains over ~8 s

TEST(WebhooksKafka, AConsumerRebalanceLosesNothingAndRepeatsOnlyWhatWasInFlight) {
  WebhookReceiver receiver;
  RedisServer redis;
  KafkaMock kafka;
  std::vector<std::unique_ptr<AnteroomProcess>> nodes;
  for (int i = 0; i < kNodes; ++i)
    nodes.push_back(std::make_unique<AnteroomProcess>(std::vector<std::string>{
        "--redis", redis.url(), "--kafka", kafka.brokers(), "--node-id", "wh-" + std::to_string(i),
        "--webhook-timeout-ms", "1000", "--webhook-backoff-max-ms", "500",
        "--webhook-allow-private"}));  // the receiver is on 127.0.0.1
  // The group has formed: every partition is assigned to some member.
  auto assigned = [&](const std::vector<int>& alive) {
    double sum = 0;
    for (int n : alive) {
      auto v = MetricValue(*nodes[n], "anteroom_consumer_assigned_partitions");
      if (!v || *v == 0) return false;
      sum += *v;
    }
    return sum == kafka.partitions();
  };
  ASSERT_TRUE(PollUntil([&] { return assigned({0, 1, 2}); }, DeadlineIn(60s), 100ms));

  nodes[0]->MustPutQueue(
      "wh", {{"admit_per_s", kRate}, {"max_active", 100000}, {"session_ttl_s", 3600},
             {"abandon_after_s", 3600}, {"paused", true},
             {"webhooks", json::array{json::object{{"url", receiver.url()}, {"secret", "s"}}}}});
  std::set<std::string> tickets;
  for (int i = 0; i < kVisitors; ++i) tickets.insert(nodes[i % kNodes]->MustJoin("wh"));
  ASSERT_EQ(tickets.size(), static_cast<size_t>(kVisitors));
  nodes[1]->MustPutQueue("wh", {{"paused", false}});

  // A third of the line is through when process 0 is killed.
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_by_key().size() >= kVisitors / 3; },
                        DeadlineIn(30s), 20ms));
  auto kill_time = std::chrono::steady_clock::now();
  nodes[0]->process().Kill();
  size_t before_kill = receiver.count();

  // Its partitions move to the others; every admission is still delivered.
  ASSERT_TRUE(PollUntil([&] { return assigned({1, 2}); }, DeadlineIn(60s), 100ms));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_by_key().size() == kVisitors; },
                        DeadlineIn(60s), 50ms))
      << receiver.accepted_by_key().size() << " of " << kVisitors << " admissions delivered";
  // The counts below cover the whole run: they are taken once the shared job store is empty —
  // no job due, none leased (a job the killed process was POSTing stays leased until its lease
  // runs out, then is POSTed again) — so no delivery can still come.
  RedisConn redis_conn(redis.port());
  auto job_store_empty = [&] {
    // (The queue's jobs, in its slot: store/redis/keys.hpp webhook_jobs, webhook_due.)
    RespValue jobs = redis_conn.Command({"HLEN", "aq:wh:{wh}:jobs"});
    RespValue due = redis_conn.Command({"ZCARD", "aq:wh:{wh}:due"});
    return jobs.type == RespValue::Type::integer && jobs.integer == 0 &&
           due.type == RespValue::Type::integer && due.integer == 0;
  };
  ASSERT_TRUE(PollUntil(job_store_empty, DeadlineIn(60s), 50ms))
      << "webhook jobs still pending in Redis after every admission was delivered";
  EXPECT_EQ(receiver.accepted_by_key().size(), static_cast<size_t>(kVisitors));

  std::set<std::string> delivered_tickets;
  std::map<std::string, std::chrono::steady_clock::time_point> first_seen;
  for (auto& h : receiver.received()) {
    EXPECT_EQ(h.event, "admitted");
    EXPECT_TRUE(ValidSignature(h.signature, "s", h.body));
    delivered_tickets.insert(json::value_to<std::string>(json::parse(h.body).at("ticket")));
    first_seen.emplace(h.idempotency_key, h.at);
  }
  EXPECT_EQ(delivered_tickets, tickets);
  int repeats = 0;
  for (auto& [key, n] : receiver.by_key()) {
    if (n == 1) continue;
    repeats += n - 1;
    // A repeat is a delivery that was already on its way when the process died.
    EXPECT_LE(first_seen[key], kill_time + 200ms) << key << " was delivered " << n << " times";
    EXPECT_EQ(n, 2) << key;
  }
  std::cout << "[ measured ] " << before_kill << " deliveries before the kill, " << repeats
            << " repeated after it (in flight at the kill), " << receiver.count()
            << " POSTs in all for " << kVisitors << " events\n";
  std::vector<AnteroomProcess*> live{nodes[1].get(), nodes[2].get()};
  StopAndCheck(live);
}

}  // namespace
}  // namespace anteroom::testing
