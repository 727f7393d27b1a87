// Two dashboards (two node ids, as two processes would be) over one real redis-server with
// redis_fleet: each overview lists both processes and counts the other's streams in the queue's
// `streams`; a Redis that goes away leaves the last queues shown, store_up 0.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>

#include "core/encoding.hpp"
#include "dashboard/dashboard.hpp"
#include "dashboard/test_io.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis_store.hpp"
#include "support/redis_server.hpp"

namespace anteroom::dashboard {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;


// One process's parts: its own connection, store, board, registry and dashboard.
struct Node {
  Node(asio::io_context& io, int port, std::string id, int64_t streams)
      : client(io, options(port)), store(client), fleet(redis_fleet(client)) {
    LocalProbe probe;
    probe.streams_by_queue = [streams] {
      return std::vector<std::pair<std::string, int64_t>>{{"concert", streams}};
    };
    probe.connections = [streams] { return streams + 1; };
    Options o;
    o.node_id = std::move(id);
    o.mode = "redis";
    o.sample = 20ms;
    dash = std::make_unique<Dashboard>(io, store, *fleet, registry, probe, o);
  }
  static redis::RedisOptions options(int port) {
    redis::RedisOptions o;
    o.port = port;
    o.command_timeout = 1000ms;
    return o;
  }
  json::object overview() const { return json::parse(dash->overview()).as_object(); }

  redis::RedisClient client;
  RedisStore store;
  std::unique_ptr<FleetBoard> fleet;
  metrics::Registry registry;
  std::unique_ptr<Dashboard> dash;
};

class DashboardRedis : public ::testing::Test {
 protected:
  template <class T>
  T run(asio::awaitable<T> a) {
    return test_io::run_on(io, std::move(a));
  }
  template <class F>
  bool run_until(F done, std::chrono::seconds limit = 20s) {
    return test_io::run_until(io, done, limit);
  }

  testing::RedisServer server;
  asio::io_context io;
};

const json::object* find(const json::array& a, std::string_view key, std::string_view value) {
  for (const auto& v : a)
    if (v.as_object().at(key).as_string() == value) return &v.as_object();
  return nullptr;
}

TEST_F(DashboardRedis, EachProcessSeesTheOthersRowAndStreams) {
  Node a(io, server.port(), "node-a", 2);
  Node b(io, server.port(), "node-b", 3);
  ConfigPatch p;
  p.admit_per_s = 0;
  ASSERT_TRUE(run(a.store.put_queue("concert", p, wall_ms())).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(run(b.store.join("concert", "", wall_ms())).ok());
  a.dash->start();
  b.dash->start();
  // Until each has read the other's row (a condition, with a deadline that fails the test).
  auto both = [](const Node& n) { return n.overview().at("processes").as_array().size() == 2; };
  ASSERT_TRUE(run_until([&] { return both(a) && both(b); }));
  for (Node* n : {&a, &b}) {
    auto ov = n->overview();
    const std::string self = n == &a ? "node-a" : "node-b";
    const std::string other = n == &a ? "node-b" : "node-a";
    EXPECT_EQ(ov.at("node").as_string(), self);
    EXPECT_EQ(ov.at("mode").as_string(), "redis");
    auto procs = ov.at("processes").as_array();
    ASSERT_EQ(procs.size(), 2u) << n->dash->overview();
    // Sorted by node.
    EXPECT_EQ(procs[0].as_object().at("node").as_string(), "node-a");
    EXPECT_EQ(procs[1].as_object().at("node").as_string(), "node-b");
    const json::object& me = *find(procs, "node", self);
    const json::object& them = *find(procs, "node", other);
    EXPECT_TRUE(me.at("self").as_bool());
    EXPECT_FALSE(them.at("self").as_bool());
    EXPECT_FALSE(them.at("stale").as_bool());
    EXPECT_EQ(them.at("streams").as_int64(), n == &a ? 3 : 2);
    EXPECT_EQ(them.at("connections").as_int64(), n == &a ? 4 : 3);
    EXPECT_EQ(them.at("streams_by_queue").as_object().at("concert").as_int64(), n == &a ? 3 : 2);
    // The queue's streams: both processes' together; its figures: the one store's.
    const json::object& q = *find(ov.at("queues").as_array(), "name", "concert");
    EXPECT_EQ(q.at("streams").as_int64(), 5);
    EXPECT_EQ(q.at("waiting").as_int64(), 4);
    EXPECT_EQ(n->registry.value("store_up"), 1.0);
  }
  // The board is the one hash, a field per node.
  auto fields = run(a.client.command({"HKEYS", std::string(redis_keys::kFleet)}));
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(fields->elements.size(), 2u);

  // Redis goes away: the last queues stay on show, store_up 0, and this process's own row.
  server.kill9();
  ASSERT_TRUE(run_until([&] { return a.registry.value("store_up") == 0.0; }));
  auto ov = a.overview();
  const json::object* q = find(ov.at("queues").as_array(), "name", "concert");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->at("waiting").as_int64(), 4);
  EXPECT_EQ(q->at("streams").as_int64(), 2);  // only what this process knows now
  auto procs = ov.at("processes").as_array();
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].as_object().at("node").as_string(), "node-a");
  EXPECT_EQ(a.registry.value("store_up"), 0.0);
  EXPECT_NE(a.registry.render().find("anteroom_store_up 0\n"), std::string::npos);

  a.dash->stop();
  b.dash->stop();
}

// Rows not published for forget_ms are deleted by the readers; other rows stay.
TEST_F(DashboardRedis, OldRowsAreForgotten) {
  redis::RedisClient client(io, Node::options(server.port()));
  auto fleet = redis_fleet(client);
  const Millis now = wall_ms();
  ProcessRow old_row, new_row;
  old_row.node = "gone";
  old_row.seen_ms = now - 10'000;
  new_row.node = "here";
  new_row.seen_ms = now - 10;
  ASSERT_TRUE(run(fleet->publish(old_row)).ok());
  ASSERT_TRUE(run(fleet->publish(new_row)).ok());
  // A row this version cannot read is skipped (not deleted: its writer may be alive).
  ASSERT_TRUE(run(client.command({"HSET", std::string(redis_keys::kFleet), "odd", "{"})).ok());
  auto rows = run(fleet->rows(now, 5'000));
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].node, "here");
  auto left = run(client.command({"HKEYS", std::string(redis_keys::kFleet)}));
  ASSERT_TRUE(left.ok());
  std::vector<std::string> names;
  for (auto& e : left->elements) names.push_back(e.str);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"here", "odd"}));
}

}  // namespace
}  // namespace anteroom::dashboard
