// The operator's dashboard of a fleet (docs/dashboard.md "The fleet"): two processes over one
// redis-server publish their rows to aq:fleet; the dashboard of either shows the other's open
// streams, in its process row and in the queue's `streams`, on the overview and on the admin
// stream; a process that stops publishing (killed) shows as stale.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/dashboard.hpp"
#include "support/distributed.hpp"
#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

class AdminDashboardRedis : public ::testing::Test {
 protected:
  std::unique_ptr<AnteroomProcess> Node(const std::string& id) {
    return std::make_unique<AnteroomProcess>(std::vector<std::string>{
        "--redis", redis_.url(), "--node-id", id, "--dashboard-sample-ms", "100"});
  }
  RedisServer redis_;
};

// A's view of B: B's row with its streams, the queue's streams summed over the fleet, A's own
// row marked self; then B is killed and its row goes stale (seen more than 5 s ago).
TEST_F(AdminDashboardRedis, OneProcessShowsTheOthersStreamsAndSeesItGoStale) {
  auto a = Node("node-a");
  auto b = Node("node-b");
  a->MustPutQueue("line", {{"max_active", 0}});
  constexpr int kStreams = 4;
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(b->Events("line", b->MustJoin("line")));
    ASSERT_EQ(streams.back()->status(), 200) << streams.back()->error_body();
  }

  auto shows_b = [&](const json::value& o) {
    json::value rb = ProcessRow(o, "node-b");
    json::value ra = ProcessRow(o, "node-a");
    return Int(rb, "streams") == kStreams && Bool(rb, "self") == false &&
           Bool(rb, "stale") == false && IntAt(rb, {"streams_by_queue", "line"}) == kStreams &&
           Int(QueueRow(o, "line"), "streams") == kStreams && Bool(ra, "self") == true &&
           Int(ra, "streams") == 0;
  };
  json::value last;
  ASSERT_TRUE(PollUntil(
      [&] {
        last = Overview(*a);
        return shows_b(last);
      },
      DeadlineIn(kPatience)))
      << json::serialize(last);
  EXPECT_EQ(Str(last, "node"), "node-a");
  EXPECT_EQ(Str(last, "mode"), "redis") << json::serialize(last);
  // Redis without Kafka: no relay and no consumer in either row.
  json::value rb = ProcessRow(last, "node-b");
  EXPECT_TRUE(Field(rb, "relay_lag_ms") && Field(rb, "relay_lag_ms")->is_null()) << rb;
  EXPECT_TRUE(Field(rb, "consumer_lag") && Field(rb, "consumer_lag")->is_null()) << rb;
  EXPECT_EQ(Int(QueueRow(last, "line"), "waiting"), kStreams) << json::serialize(last);

  // The same on A's admin stream.
  SseClient admin(a->port(), "/v1/admin/stream", std::nullopt, DeadlineIn(kPatience),
                  {{"Authorization", "Bearer " + std::string(kAdminToken)}});
  ASSERT_EQ(admin.status(), 200) << admin.error_body();
  auto frame = admin.WaitFor(
      [&](const SseEvent& e) { return e.event == "overview" && shows_b(json::parse(e.data)); });
  EXPECT_TRUE(frame) << admin.raw();

  // B's row lives in the one hash aq:fleet, beside A's.
  RedisConn conn(redis_.port());
  RespValue fields = conn.Command({"HKEYS", "aq:fleet"});
  ASSERT_EQ(fields.type, RespValue::Type::array) << fields.Describe();
  std::vector<std::string> nodes;
  for (const auto& f : fields.elements) nodes.push_back(f.str);
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<std::string>{"node-a", "node-b"}));

  // B dies without a word: its row stays until it is older than the stale mark, then shows so,
  // and its streams no longer count toward the queue's.
  streams.clear();
  b->process().Kill();
  ASSERT_TRUE(PollUntil(
      [&] {
        last = Overview(*a);
        return Bool(ProcessRow(last, "node-b"), "stale") == true;
      },
      DeadlineIn(std::chrono::seconds(20))))
      << json::serialize(last);
  EXPECT_GE(Int(ProcessRow(last, "node-b"), "age_s").value_or(0), 5) << json::serialize(last);
  EXPECT_EQ(Int(QueueRow(last, "line"), "streams"), 0) << json::serialize(last);
  EXPECT_EQ(Bool(ProcessRow(last, "node-a"), "stale"), false) << json::serialize(last);
  StopAndCheck({a.get(), b.get()});
}

}  // namespace
}  // namespace anteroom::testing
