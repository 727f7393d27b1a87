// RedisClient against a real Redis Cluster (tests/support/redis_cluster.hpp: 3 masters, each with
// a replica): routing by slot, MOVED after a reshard, ASK during a migration, NOSCRIPT on a node
// that never saw the script, a killed master (calls fail unavailable, then succeed on the
// promoted replica without a new client), the subscriber moving to another node, and WAIT
// (--redis-wait-replicas) on a cluster and on a lone server. The pure routing helpers (slots,
// redirects, URLs) are checked here too.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store/redis/cluster_routing.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/script_io.hpp"
#include "store/redis/slots.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

namespace anteroom::redis {
namespace {

namespace asio = boost::asio;
using testing::RedisCluster;
using testing::RedisServer;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// The pure part.

TEST(ClusterRouting, CommandSlotReadsTheKeyWhereEachCommandHasIt) {
  EXPECT_EQ(cluster::command_slot({"GET", "aq:{q}:meta"}), key_slot("q"));
  EXPECT_EQ(cluster::command_slot({"EVALSHA", "abc", "2", "aq:{q}:meta", "aq:{q}:cfg", "x"}),
            key_slot("q"));
  EXPECT_EQ(cluster::command_slot({"EVALSHA", "abc", "0", "x"}), std::nullopt);
  EXPECT_EQ(cluster::command_slot({"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS",
                                   "aq:{r}:outbox", ">"}),
            key_slot("r"));
  EXPECT_EQ(cluster::command_slot({"XREAD", "STREAMS", "aq:{s}:outbox", "0"}), key_slot("s"));
  EXPECT_EQ(cluster::command_slot({"XGROUP", "CREATE", "aq:{t}:outbox", "g", "0", "MKSTREAM"}),
            key_slot("t"));
  EXPECT_EQ(cluster::command_slot({"XINFO", "STREAM", "aq:{t}:outbox"}), key_slot("t"));
  EXPECT_EQ(cluster::command_slot({"PING"}), std::nullopt);
  EXPECT_EQ(cluster::command_slot({"publish", "aq:events", "x"}), std::nullopt);
  EXPECT_EQ(cluster::command_slot({"SCRIPT", "LOAD", "return 1"}), std::nullopt);
  EXPECT_EQ(cluster::command_slot({"WAIT", "1", "100"}), std::nullopt);
}

TEST(ClusterRouting, RedirectsAreParsed) {
  RedisReply moved{RedisReply::Type::error, 0, "MOVED 3999 127.0.0.1:6381", {}};
  auto m = cluster::parse_redirect(moved);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->ask);
  EXPECT_EQ(m->slot, 3999);
  EXPECT_EQ(m->host, "127.0.0.1");
  EXPECT_EQ(m->port, 6381);
  RedisReply ask{RedisReply::Type::error, 0, "ASK 12 :7000", {}};
  auto a = cluster::parse_redirect(ask);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ask);
  EXPECT_EQ(a->host, "");  // the node asked
  EXPECT_EQ(a->port, 7000);
  EXPECT_FALSE(cluster::parse_redirect({RedisReply::Type::error, 0, "MOVED x y", {}}));
  EXPECT_FALSE(cluster::parse_redirect({RedisReply::Type::error, 0, "ERR MOVED", {}}));
  EXPECT_FALSE(cluster::parse_redirect({RedisReply::Type::string, 0, "MOVED 1 a:1", {}}));
}

TEST(ClusterUrl, SeedsUserAndErrors) {
  auto o = RedisOptions::from_url("redis-cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001,h3");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->cluster);
  EXPECT_EQ(o->host, "10.0.0.1");
  EXPECT_EQ(o->port, 7000);
  ASSERT_EQ(o->seeds.size(), 2u);
  EXPECT_EQ(o->seeds[0], (std::pair<std::string, int>{"10.0.0.2", 7001}));
  EXPECT_EQ(o->seeds[1], (std::pair<std::string, int>{"h3", 6379}));
  EXPECT_EQ(o->user, "u");
  EXPECT_EQ(o->password, "p@ss");

  auto one = RedisOptions::from_url("redis-cluster://127.0.0.1:7000/");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->seeds.empty());

  for (const char* bad : {"redis-cluster://127.0.0.1:7000/1", "redis-cluster://127.0.0.1:0",
                          "redis-cluster://127.0.0.1:7000,", "redis-cluster://",
                          "redis-cluster://h:70000", "redis-cluster://h:7000?x=1"}) {
    auto r = RedisOptions::from_url(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::bad_request) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  auto plain = RedisOptions::from_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->cluster);
  EXPECT_EQ(plain->db, 2);
}

// ---------------------------------------------------------------------------------------------
// Against a real cluster.

class Io {
 public:
  asio::io_context io;

  template <class T>
  T run(asio::awaitable<T> a) {
    auto fut = asio::co_spawn(io, std::move(a), asio::use_future);
    io.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return fut.get();
  }

  // Runs the io_context until `done` holds; false if it did not within `limit` (a failure, not
  // a wait standing in for the condition).
  bool pump_until(const std::function<bool()>& done,
                  std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = Clock::now() + limit;
    io.restart();
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }
};

RedisOptions cluster_options(const RedisCluster& c) {
  auto o = RedisOptions::from_url(c.url());
  if (!o) throw std::runtime_error(o.error().message);
  return *o;
}

// Keys spread over many slots, some with hash tags.
std::vector<std::string> many_keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0)
      keys.push_back("aq:{q" + std::to_string(i) + "}:meta");
    else if (i % 3 == 1)
      keys.push_back("plain-" + std::to_string(i));
    else
      keys.push_back("x{}{tag" + std::to_string(i) + "}y");  // empty first tag: the whole key
  }
  return keys;
}

int slot_of(RedisCluster& c, const std::string& key) {
  return static_cast<int>(c.command(c.master_ports().front(), {"CLUSTER", "KEYSLOT", key}).integer);
}

int other_master(RedisCluster& c, int port) {
  for (int m : c.master_ports())
    if (m != port) return m;
  return 0;
}

// One cluster for the tests that leave it whole (slots may move between its masters).
class ClusterClient : public ::testing::Test, public Io {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  RedisCluster& cluster() { return *cluster_; }
  static RedisCluster* cluster_;
};
RedisCluster* ClusterClient::cluster_ = nullptr;

TEST_F(ClusterClient, KeySlotEqualsClusterKeyslot) {
  auto keys = many_keys(100);
  keys.push_back("{}");
  keys.push_back("{user1000}.following");
  keys.push_back("foo{}{bar}");
  keys.push_back("foo{{bar}}zap");
  keys.push_back("foo{bar}{zap}");
  keys.push_back("");
  for (const auto& k : keys) EXPECT_EQ(key_slot(k), slot_of(cluster(), k)) << "key '" << k << "'";
}

TEST_F(ClusterClient, CommandsOfManySlotsLandOnTheirMasters) {
  RedisClient client(io, cluster_options(cluster()));
  auto keys = many_keys(300);
  std::set<int> masters_used;
  for (const auto& k : keys) {
    auto r = run(client.command({"SET", k, "v-" + k}));
    ASSERT_TRUE(r.ok()) << k << ": " << r.error().message;
    ASSERT_FALSE(r->is_error()) << k << ": " << r->str;
  }
  for (const auto& k : keys) {
    int m = cluster().master_of_key(k);
    masters_used.insert(m);
    // A master answers GET only for its own slots (else MOVED): the value is where it belongs.
    EXPECT_EQ(cluster().command(m, {"GET", k}).str, "v-" + k) << k;
  }
  std::vector<int> masters = cluster().master_ports();
  EXPECT_EQ(masters_used, std::set<int>(masters.begin(), masters.end()));
  EXPECT_TRUE(client.connected());  // every master of the map
  EXPECT_GE(client.stats().connects, masters.size());
  EXPECT_EQ(client.stats().redirects, 0u);  // the map was right from the start

  // Keyless commands go to some master.
  auto pong = run(client.command({"PING"}));
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(pong->str, "PONG");
}

TEST_F(ClusterClient, MovedIsFollowedAndFixesTheMap) {
  RedisClient client(io, cluster_options(cluster()));
  const std::string key = "aq:{moved}:meta";
  ASSERT_TRUE(run(client.command({"SET", key, "before"})).ok());
  int slot = key_slot(key);
  int from = cluster().master_of_slot(slot);
  int to = other_master(cluster(), from);
  cluster().migrate_slot(slot, to);
  ASSERT_EQ(cluster().master_of_slot(slot), to);

  auto r = run(client.command({"GET", key}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->str, "before");
  EXPECT_EQ(client.stats().redirects, 1u);
  // The slot points to its new master now: no more redirects for it.
  auto w = run(client.command({"SET", key, "after"}));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->str, "OK");
  EXPECT_EQ(client.stats().redirects, 1u);
  EXPECT_EQ(cluster().command(to, {"GET", key}).str, "after");
}

TEST_F(ClusterClient, AskDuringAMigrationIsFollowed) {
  RedisClient client(io, cluster_options(cluster()));
  const std::string key = "aq:{asked}:meta";
  ASSERT_TRUE(run(client.command({"SET", key, "v"})).ok());
  int slot = key_slot(key);
  int from = cluster().master_of_slot(slot);
  int to = other_master(cluster(), from);
  // MIGRATING on `from`, IMPORTING on `to`, the key already moved: `from` answers ASK.
  cluster().migrate_slot(slot, to, /*finish=*/false);
  ASSERT_TRUE(cluster().command(from, {"GET", key}).str.starts_with("ASK")) << "not migrating";

  auto r = run(client.command({"GET", key}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->str, "v");
  EXPECT_EQ(client.stats().redirects, 1u);
  // A new key of the slot goes to the importing node too (after ASKING).
  const std::string fresh = "aq:{asked}:cfg";
  auto w = run(client.command({"SET", fresh, "new"}));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->str, "OK");
  EXPECT_EQ(client.stats().redirects, 2u);  // ASK changes no map: asked again
  EXPECT_EQ(cluster().command(to, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).integer,
            2);

  // The migration ends: the client follows the MOVED that follows.
  cluster().migrate_slot(slot, to);
  auto after = run(client.command({"GET", fresh}));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->str, "new");
}

TEST_F(ClusterClient, NoScriptOnANodeThatNeverSawTheScriptIsLoadedThere) {
  RedisClient client(io, cluster_options(cluster()));
  const std::string key = "aq:{script}:meta";
  static const RedisScript script(
      "redis.call('INCR', KEYS[1]) return redis.call('GET', KEYS[1])");
  auto first = run(client.eval(script, {key}, {}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->str, "1");

  // The slot moves to a master whose script cache never had it.
  int slot = key_slot(key);
  int from = cluster().master_of_slot(slot);
  int to = other_master(cluster(), from);
  ASSERT_TRUE(cluster().command(to, {"SCRIPT", "FLUSH"}).str == "OK");
  cluster().migrate_slot(slot, to);
  auto second = run(client.eval(script, {key}, {}));
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_FALSE(second->is_error()) << second->str;
  EXPECT_EQ(second->str, "2");
  auto exists = cluster().command(to, {"SCRIPT", "EXISTS", script.sha()});
  ASSERT_EQ(exists.elements.size(), 1u);
  EXPECT_EQ(exists.elements[0].integer, 1);

  // And a flushed cache on the same node.
  ASSERT_EQ(cluster().command(to, {"SCRIPT", "FLUSH"}).str, "OK");
  auto third = run(client.eval(script, {key}, {}));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->str, "3");
}

TEST_F(ClusterClient, WaitForAReplicaOnTheCluster) {
  auto o = cluster_options(cluster());
  o.wait_replicas = 1;
  RedisClient client(io, o);
  static const RedisScript write(
      "return redis.call('INCR', KEYS[1])");
  const std::string key = "aq:{waited}:meta";
  auto r = run(client.eval(write, {key}, {}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->integer, 1);
  // (The call succeeded only because WAIT answered >= 1: see StandaloneWait for the other side.)
  auto c = run(client.command_replicated({"INCR", key}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->integer, 2);

  // What WAIT costs here: the same calls with and without it (printed, not asserted).
  RedisClient plain(io, cluster_options(cluster()));
  const int n = 200;
  auto time = [&](RedisClient& cl) {
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto x = run(cl.eval(write, {key}, {}));
      EXPECT_TRUE(x.ok());
    }
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
  };
  double without = time(plain);
  double with = time(client);
  std::printf("[ cost     ] eval one after another: %.0f us without WAIT, %.0f us with WAIT 1\n",
              without, with);
}

TEST(StandaloneWait, WithoutAReplicaAWriteFailsUnavailableAfterTheTimeout) {
  RedisServer server;
  Io io;
  RedisOptions o;
  o.port = server.port();
  o.wait_replicas = 1;
  o.wait_timeout = std::chrono::milliseconds(100);
  RedisClient client(io.io, o);
  static const RedisScript write("return redis.call('INCR', KEYS[1])");
  auto r = io.run(client.eval(write, {"k"}, {}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_EQ(r.error().message, "redis: write not acknowledged by 1 replicas within 100 ms");
  auto c = io.run(client.command_replicated({"INCR", "k"}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unavailable);
  // The write itself happened (WAIT cannot undo it): the caller was told it may be lost.
  auto k = io.run(client.command({"GET", "k"}));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->str, "2");

  // A read script and a plain command never wait.
  static const RedisScript read("return redis.call('GET', KEYS[1])",
                                RedisScript::Durability::unreplicated);
  auto g = io.run(client.eval(read, {"k"}, {}));
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->str, "2");
  // The store's read scripts are marked so.
  EXPECT_EQ(scripts().get_queue.durability(), RedisScript::Durability::unreplicated);
  EXPECT_EQ(scripts().touch.durability(), RedisScript::Durability::unreplicated);
  EXPECT_EQ(scripts().join.durability(), RedisScript::Durability::replicated);
  EXPECT_EQ(scripts().tick.durability(), RedisScript::Durability::replicated);
}

// redis-cluster:// naming a server that is not in a cluster: calls fail unavailable, saying why,
// instead of hanging.
TEST(ClusterUrlOnAStandaloneServer, CallsFailUnavailableSayingWhy) {
  RedisServer server;
  Io io;
  auto o = RedisOptions::from_url("redis-cluster://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(o);
  RedisClient client(io.io, *o);
  auto r = io.run(client.command({"GET", "k"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("cluster support disabled"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(client.connected());
}

// A master dies: the calls for its slots fail unavailable at once, then succeed on the promoted
// replica, with the same client.
TEST(ClusterFailover, CallsFailUnavailableThenReachThePromotedReplica) {
  RedisCluster cluster;
  Io io;
  RedisClient client(io.io, cluster_options(cluster));
  const std::string key = "aq:{failover}:meta";
  auto w = io.run(client.command({"SET", key, "kept"}));
  ASSERT_TRUE(w.ok()) << w.error().message;
  int master = cluster.master_of_key(key);
  int replica = cluster.replica_of(master);
  ASSERT_NE(replica, 0);
  cluster.wait_replicated(master);
  const std::string other = [&] {
    for (int i = 0;; ++i) {
      std::string k = "aq:{other" + std::to_string(i) + "}:meta";
      if (cluster.master_of_key(k) != master) return k;
    }
  }();

  auto killed = Clock::now();
  cluster.kill9(master);
  auto r = io.run(client.command({"GET", key}));
  ASSERT_FALSE(r.ok()) << "answered by a dead master: " << r->str;
  EXPECT_EQ(r.error().code, Errc::unavailable);
  // Other masters' slots keep working meanwhile.
  auto o = io.run(client.command({"SET", other, "x"}));
  ASSERT_TRUE(o.ok()) << o.error().message;

  cluster.wait_for_failover(master);
  ASSERT_EQ(cluster.master_of_key(key), replica);
  // The client finds the new master by itself (its map refresh), no restart.
  ASSERT_TRUE(io.pump_until([&] { return client.connected(); })) << "never reconnected";
  auto back = io.run(client.command({"GET", key}));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->str, "kept");
  std::printf("[ failover ] calls to the dead master's slots failed for %.0f ms\n",
              std::chrono::duration<double, std::milli>(Clock::now() - killed).count());
  EXPECT_GE(client.stats().map_refreshes, 2u);
}

// The node a subscriber listens on dies: it moves to another node, subscribes there
// (on_subscribed again) and keeps receiving what is PUBLISHed on any node.
TEST(ClusterSubscribe, KeepsReceivingAfterItsNodeIsKilled) {
  RedisCluster cluster;
  Io io;
  RedisClient sub(io.io, cluster_options(cluster));
  RedisClient pub(io.io, cluster_options(cluster));
  std::vector<std::string> got;
  int subscribed = 0;
  sub.subscribe(
      "aq:events", [&](std::string_view m) { got.emplace_back(m); }, [&] { ++subscribed; });
  ASSERT_TRUE(io.pump_until([&] { return subscribed == 1; }));
  auto p1 = io.run(pub.command({"PUBLISH", "aq:events", "one"}));
  ASSERT_TRUE(p1.ok()) << p1.error().message;
  ASSERT_TRUE(io.pump_until([&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], "one");

  // Which node it listens on, as the nodes say.
  int listening = 0;
  for (int port : cluster.ports()) {
    auto list = cluster.command(port, {"CLIENT", "LIST"});
    if (list.str.find("cmd=subscribe") != std::string::npos) listening = port;
  }
  ASSERT_NE(listening, 0);
  cluster.kill9(listening);
  ASSERT_TRUE(io.pump_until([&] { return subscribed == 2; })) << "did not subscribe again";
  EXPECT_TRUE(sub.connected());
  // Published on whichever master the publisher picks: the cluster bus brings it over.
  auto p2 = io.run(pub.command({"PUBLISH", "aq:events", "two"}));
  ASSERT_TRUE(p2.ok()) << p2.error().message;
  ASSERT_TRUE(io.pump_until([&] { return got.size() == 2; })) << "nothing after the move";
  EXPECT_EQ(got[1], "two");
  EXPECT_EQ(sub.stats().subscribes, 2u);
}

}  // namespace
}  // namespace anteroom::redis
