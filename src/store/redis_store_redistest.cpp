// RedisStore against a real redis-server: the store conformance suite (unchanged, one fresh
// server per test) plus what only a shared, fallible Redis can show: ticks from several
// processes, outages, a hung server, a lost script cache, bounded work per tick.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "core/encoding.hpp"
#include "core/event_codec.hpp"
#include "draw/draw.hpp"
#include "store/redis/script_io.hpp"
#include "core/rules.hpp"
#include "store/conformance/harness.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/outbox.hpp"
#include "store/redis/slots.hpp"
#include "store/redis_store.hpp"
#include "store/ticker.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"

namespace anteroom {
namespace {

// A one-node cluster server (RedisServer::Options::cluster) gets a client in cluster mode.
redis::RedisOptions options_for(const testing::RedisServer& server) {
  redis::RedisOptions o;
  o.port = server.port();
  o.cluster = server.cluster();
  return o;
}

testing::RedisServer::Options cluster_of(bool cluster) {
  testing::RedisServer::Options o;
  o.cluster = cluster;
  return o;
}

}  // namespace

namespace conformance {
namespace {

using redis::RedisClient;
using testing::RedisServer;

// ---------------------------------------------------------------------------------------------
// The conformance suite.

class RedisHarness : public StoreHarness {
 public:
  explicit RedisHarness(bool cluster)
      : server_(cluster_of(cluster)),
        client_(io, options_for(server_)),
        store_(client_, StoreLimits{.max_queues = 3}) {}
  QueueStore& store() override { return store_; }

  // The outbox stream is the event log: XRANGE it and decode each entry.
  std::vector<Event> events(const std::string& q) override {
    auto r = run(client_.command({"XRANGE", redis_keys::outbox(q), "-", "+"}));
    if (!r) {
      ADD_FAILURE() << r.error().message;
      return {};
    }
    auto events = redis::parse_outbox_range(q, *r);
    if (!events) {
      ADD_FAILURE() << events.error().message;
      return {};
    }
    return std::move(events).value();
  }

 private:
  RedisServer server_;
  RedisClient client_;
  RedisStore store_;
};

std::unique_ptr<StoreHarness> make_redis() { return std::make_unique<RedisHarness>(false); }
// A one-node Redis Cluster refuses cross-slot commands and scripts as a real one does: the whole
// suite passing there shows every store call slot-safe.
std::unique_ptr<StoreHarness> make_redis_cluster() {
  return std::make_unique<RedisHarness>(true);
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreConformance, ::testing::Values(&make_redis), harness_name);
INSTANTIATE_TEST_SUITE_P(RedisCluster, StoreConformance, ::testing::Values(&make_redis_cluster),
                         harness_name);

}  // namespace
}  // namespace conformance

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using redis::RedisClient;
using redis::RedisOptions;
using redis::RedisReply;
using testing::RedisServer;
using Clock = std::chrono::steady_clock;

constexpr Millis T0 = 1'700'000'000'000;

// ---------------------------------------------------------------------------------------------
// Helpers for the Redis-specific tests.

// Runs one coroutine on `io` until it finishes. Throws (gtest reports the test as failed) if it
// is still running after `limit`, so a hang fails the test instead of freezing it.
template <class T>
T run_for(asio::io_context& io, asio::awaitable<T> a, std::chrono::milliseconds limit = 10s) {
  auto fut = asio::co_spawn(io, std::move(a), asio::use_future);
  io.restart();
  const auto deadline = Clock::now() + limit;
  while (fut.wait_for(0s) != std::future_status::ready) {
    if (Clock::now() >= deadline)
      throw std::runtime_error("call did not finish within " + std::to_string(limit.count()) +
                               " ms");
    io.run_one_for(10ms);
  }
  return fut.get();
}

// Runs coroutines concurrently (their commands pipeline on the shared connection).
template <class T>
std::vector<T> run_all(asio::io_context& io, std::vector<asio::awaitable<T>> tasks) {
  // Completions count into a shared state (not a scan of every task's future per turn of the
  // loop: thousands of tasks made that quadratic, ~30 s under ThreadSanitizer). Shared, so a
  // completion after the deadline writes into live memory.
  struct State {
    std::vector<std::optional<T>> results;
    size_t done = 0;
  };
  auto st = std::make_shared<State>();
  st->results.resize(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i)
    asio::co_spawn(io, std::move(tasks[i]), [st, i](std::exception_ptr e, T v) {
      if (!e) st->results[i].emplace(std::move(v));
      ++st->done;
    });
  io.restart();
  const auto deadline = Clock::now() + 30s;
  while (st->done < st->results.size() && Clock::now() < deadline) io.run_one_for(10ms);
  std::vector<T> out;
  for (auto& r : st->results)
    if (r) out.push_back(std::move(*r));
  return out;
}

asio::awaitable<int> wait_on(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  co_return 0;
}

// Polls `cond` (running `io` between polls, so the client can reconnect) until it holds or the
// deadline passes.
bool eventually(asio::io_context& io, const std::function<bool()>& cond,
                std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    run_for(io, wait_on(20ms));
  }
  return cond();
}

// The integer after "<name>:" (or "<name>:count=") in an INFO section; -1 if absent.
int64_t info_field(asio::io_context& io, RedisClient& client, const std::string& section,
                   const std::string& name) {
  auto r = run_for(io, client.command({"INFO", section}));
  if (!r.ok()) return -1;
  const std::string& text = r->str;
  for (const std::string& prefix : {name + ":count=", name + ":"}) {
    auto at = text.find("\n" + prefix);
    if (at == std::string::npos && text.starts_with(prefix))
      at = 0;
    else if (at != std::string::npos)
      ++at;
    if (at != std::string::npos) return std::stoll(text.substr(at + prefix.size()));
  }
  return -1;
}

// Which ended hash (lua/lib.lua tend: redis_keys::ended) holds ticket `id`: 0 or 1, -1 if none.
int ended_in(asio::io_context& io, RedisClient& client, const std::string& q,
             const std::string& id) {
  for (int which : {0, 1}) {
    auto r = run_for(io, client.command({"HEXISTS", redis_keys::ended(q, which), id}));
    if (r.value().integer == 1) return which;
  }
  return -1;
}

ConfigPatch config(double rate, int64_t max_active, int64_t abandon_after_s = 3600,
                   bool paused = false) {
  ConfigPatch p;
  p.admit_per_s = rate;
  p.max_active = max_active;
  p.session_ttl_s = 3600;
  p.abandon_after_s = abandon_after_s;
  p.paused = paused;
  return p;
}

ConfigPatch unpause() {
  ConfigPatch p;
  p.paused = false;
  return p;
}

std::vector<Event> outbox(asio::io_context& io, RedisClient& client, const std::string& q) {
  auto r = run_for(io, client.command({"XRANGE", redis_keys::outbox(q), "-", "+"}));
  if (!r.ok()) return {};
  auto events = redis::parse_outbox_range(q, r.value());
  return events ? std::move(events).value() : std::vector<Event>{};
}

// `n` joins issued at once on one store.
std::vector<Result<Ticket>> join_many(asio::io_context& io, RedisStore& store, const std::string& q,
                                      int n, Millis now) {
  std::vector<asio::awaitable<Result<Ticket>>> joins;
  for (int i = 0; i < n; ++i) joins.push_back(store.join(q, "", now));
  return run_all(io, std::move(joins));
}

// ---------------------------------------------------------------------------------------------

// The tests that use the queue registry, the tick and the close run twice: on a plain
// redis-server and on a one-node Redis Cluster, which refuses any command or script naming keys
// of two slots (CROSSSLOT) as a real cluster does.
// The premise of the cluster runs: a one-node cluster refuses what spans slots, a command and a
// script alike, exactly as a cluster of many nodes does.
TEST(RedisServerCluster, AOneNodeClusterRefusesCrossSlotCommandsAndScripts) {
  RedisServer server(cluster_of(true));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  auto mset = run_for(io, client.command({"MSET", "aq:{a}:x", "1", "aq:{b}:x", "2"}));
  ASSERT_TRUE(mset.ok());
  EXPECT_TRUE(mset->is_error());
  EXPECT_EQ(mset->str.rfind("CROSSSLOT", 0), 0u) << mset->str;
  const redis::RedisScript both("redis.call('SET', KEYS[1], 1) redis.call('SET', KEYS[2], 1)");
  auto script = run_for(io, client.eval(both, {"aq:{a}:x", "aq:{b}:x"}, {}));
  ASSERT_TRUE(script.ok());
  EXPECT_TRUE(script->is_error()) << "a script spanning two slots ran";
  auto one = run_for(io, client.eval(both, {"aq:{a}:x", "aq:{a}:y"}, {}));
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->is_error()) << one->str;
}

class RedisStoreModes : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Modes, RedisStoreModes, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "cluster" : "standalone";
                         });

// Two stores with their own connections (as two processes would have) tick one queue at once.
// The bucket lives in Redis, so together they admit what it held when ticking began (100, a
// second's worth) plus 100/s x 3 s: 400 in all (two private buckets would make up to 800), each
// ticket once, in join order. The line fills while paused so that nobody goes in at join.
TEST_P(RedisStoreModes, ConcurrentTicksFromTwoStoresShareOneBucketAndNeverAdmitTwice) {
  RedisServer server(cluster_of(GetParam()));
  constexpr int kWaiting = 600;
  constexpr int kTicks = 301;  // every 10 ms of the callers' clock, T0 .. T0+3000
  {
    asio::io_context io;
    RedisClient client(io, options_for(server));
    RedisStore store(client);
    ASSERT_TRUE(run_for(io, store.put_queue("q", config(100, 100'000, 3600, true), T0)).ok());
    auto joined = join_many(io, store, "q", kWaiting, T0);
    ASSERT_EQ(joined.size(), static_cast<size_t>(kWaiting));
    for (auto& t : joined) ASSERT_TRUE(t.ok());
    ASSERT_TRUE(run_for(io, store.put_queue("q", unpause(), T0)).ok());
  }

  std::atomic<int64_t> events_made{0};
  std::atomic<int> failures{0};
  auto worker = [&] {
    asio::io_context io;
    RedisClient client(io, options_for(server));
    RedisStore store(client);
    for (int k = 0; k < kTicks; ++k) {
      auto r = run_for(io, store.tick("q", T0 + 10 * k));
      if (!r.ok()) {
        ++failures;
        return;
      }
      events_made += r.value();
    }
  };
  std::thread a(worker);
  std::thread b(worker);
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);

  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  auto info = run_for(io, store.get_queue("q"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.admitted_total, 400);
  EXPECT_EQ(info->stats.active, 400);
  EXPECT_EQ(info->stats.waiting, kWaiting - 400);
  EXPECT_EQ(events_made.load(), 400);

  std::set<std::string> admitted;
  std::set<uint64_t> orders;
  for (auto& e : outbox(io, client, "q")) {
    if (e.type != EventType::admitted) continue;
    admitted.insert(e.ticket);
    orders.insert(e.order);
  }
  EXPECT_EQ(admitted.size(), 400u);  // 400 admitted events, 400 distinct tickets
  ASSERT_EQ(orders.size(), 400u);
  EXPECT_EQ(*orders.begin(), 1u);  // FIFO: exactly the first 400 in line
  EXPECT_EQ(*orders.rbegin(), 400u);
}

// Redis killed: calls come back unavailable at once (no hang) - the one that finds the socket
// dead and the ones during reconnect backoff. After a restart the client reconnects by itself,
// and with AOF the line is still there.
TEST(RedisStore, CallsFailFastWhileRedisIsDownAndWorkAgainAfterRestart) {
  RedisServer::Options aof;
  aof.appendonly = true;
  RedisServer server(aof);
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  auto first = run_for(io, store.join("q", "", T0));
  ASSERT_TRUE(first.ok());

  server.kill9();
  // 3 s: far above a refused connect on loopback, far below "hangs".
  auto get = run_for(io, store.get_queue("q"), 3s);
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, Errc::unavailable);
  EXPECT_EQ(run_for(io, store.join("q", "", T0), 3s).error().code, Errc::unavailable);
  EXPECT_EQ(run_for(io, store.tick("q", T0), 3s).error().code, Errc::unavailable);
  EXPECT_EQ(run_for(io, store.get_ticket("q", first->id, true, T0), 3s).error().code,
            Errc::unavailable);
  EXPECT_EQ(run_for(io, store.ping(), 3s).error().code, Errc::unavailable);

  server.restart();
  ASSERT_TRUE(eventually(io, [&] { return run_for(io, store.ping(), 3s).ok(); }))
      << "the client did not reconnect after Redis came back";
  auto info = run_for(io, store.get_queue("q"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.waiting, 1);  // from the AOF
  auto again = run_for(io, store.get_ticket("q", first->id, false, T0));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->position, 1);
  auto second = run_for(io, store.join("q", "", T0 + 1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->position, 2);
  EXPECT_GE(client.stats().disconnects, 1u);
  EXPECT_GE(client.stats().connects, 2u);
}

// A Redis that accepts but never answers (SIGSTOP) must not hang callers either: the command
// timeout drops the connection, the call fails as unavailable, and the client recovers.
TEST(RedisStore, HungRedisTimesOutAsUnavailableAndRecovers) {
  RedisServer server;
  RedisOptions o = options_for(server);
  o.command_timeout = 300ms;
  o.connect_timeout = 300ms;
  asio::io_context io;
  RedisClient client(io, o);
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());

  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  std::optional<Result<QueueInfo>> r;
  try {
    r = run_for(io, store.get_queue("q"), 5s);
  } catch (const std::exception&) {
  }
  ::kill(server.pid(), SIGCONT);
  ASSERT_TRUE(r.has_value()) << "get_queue hung on a stopped Redis";
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().code, Errc::unavailable);
  EXPECT_GE(client.stats().timeouts, 1u);

  ASSERT_TRUE(eventually(io, [&] { return run_for(io, store.get_queue("q"), 3s).ok(); }));
}

// SCRIPT FLUSH (like a failover to a replica without the scripts) makes EVALSHA fail with
// NOSCRIPT; the client loads the script and retries, and the caller never notices.
TEST(RedisStore, ReloadsScriptsAfterScriptFlush) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  ASSERT_TRUE(run_for(io, store.join("q", "", T0)).ok());
  const int64_t noscript_before =
      std::max<int64_t>(0, info_field(io, client, "errorstats", "errorstat_NOSCRIPT"));

  auto flushed = run_for(io, client.command({"SCRIPT", "FLUSH"}));
  ASSERT_TRUE(flushed.ok() && !flushed->is_error());
  ASSERT_EQ(info_field(io, client, "memory", "number_of_cached_scripts"), 0);

  auto t = run_for(io, store.join("q", "", T0 + 1));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->position, 2);
  // The NOSCRIPT path really ran (once) and left the script cached again.
  EXPECT_EQ(info_field(io, client, "errorstats", "errorstat_NOSCRIPT"), noscript_before + 1);
  EXPECT_EQ(info_field(io, client, "memory", "number_of_cached_scripts"), 1);
}

// Joins of one queue issued while a join call of that queue is in flight wait for it, then go
// out together as one script call (at most kJoinBatch joins each); a join with nothing in flight
// goes out at once, alone. Other queues are batched on their own. (That each join of a batch is
// the join it would be alone is the conformance suite's ConcurrentJoinsAreEachTheirOwnJoin.)
TEST(RedisStore, ConcurrentJoinsGoOutAsBatches) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 1000), T0)).ok());
  ASSERT_TRUE(run_for(io, store.put_queue("r", config(0, 1000), T0)).ok());
  auto evalsha_calls = [&]() -> int64_t {
    auto r = run_for(io, client.command({"INFO", "commandstats"}));
    if (!r.ok()) return -1;
    const std::string prefix = "cmdstat_evalsha:calls=";
    auto at = r->str.find(prefix);
    return at == std::string::npos ? 0 : std::stoll(r->str.substr(at + prefix.size()));
  };
  ASSERT_TRUE(run_for(io, store.join("q", "", T0)).ok());  // loads the script (NOSCRIPT, retry)
  const int64_t c0 = evalsha_calls();
  ASSERT_TRUE(run_for(io, store.join("q", "", T0)).ok());
  EXPECT_EQ(evalsha_calls(), c0 + 1);  // alone: one call, sent at once

  constexpr int kQ = 300, kR = 10;
  std::vector<asio::awaitable<Result<Ticket>>> joins;
  for (int i = 0; i < kQ; ++i) {
    joins.push_back(store.join("q", "", T0 + 1));
    if (i % 30 == 0) joins.push_back(store.join("r", "", T0 + 1));
  }
  auto results = run_all(io, std::move(joins));
  ASSERT_EQ(results.size(), size_t{kQ + kR});
  std::set<std::string> ids;
  for (auto& t : results) {
    ASSERT_TRUE(t.ok()) << t.error().message;
    ids.insert(t->id);
  }
  EXPECT_EQ(ids.size(), size_t{kQ + kR});
  EXPECT_EQ(run_for(io, store.get_queue("q"))->stats.waiting, kQ + 2);
  EXPECT_EQ(run_for(io, store.get_queue("r"))->stats.waiting, kR);
  // q: the first alone, then the other 299 in batches of at most 64: at least 1 + 5 calls;
  // r: at least 1 + 1. Without batching it would be 310 calls.
  static_assert(RedisStore::kJoinBatch == 64);
  const int64_t calls = evalsha_calls() - c0 - 1;
  EXPECT_GE(calls, 8);
  EXPECT_LE(calls, 40);
}

// Expiry, abandonment and admission each end at most kTickBatch tickets per call; the rest is
// left for the next tick (and admission keeps its unused tokens). The 2500 joins are issued at
// once and share the store's one connection.
TEST_P(RedisStoreModes, TickWorkIsBoundedPerCall) {
  constexpr int64_t B = RedisStore::kTickBatch;
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);

  ASSERT_TRUE(run_for(io, store.put_queue("idle", config(0, 1'000'000, 30), T0)).ok());
  const int64_t connections = info_field(io, client, "stats", "total_connections_received");
  auto joined = join_many(io, store, "idle", 5 * B, T0);
  ASSERT_EQ(joined.size(), size_t{5 * B});
  for (auto& t : joined) ASSERT_TRUE(t.ok());
  EXPECT_EQ(info_field(io, client, "clients", "connected_clients"), 1);
  EXPECT_EQ(info_field(io, client, "stats", "total_connections_received"), connections);
  std::vector<int64_t> abandoned;
  for (int i = 0; i < 6; ++i)
    abandoned.push_back(run_for(io, store.tick("idle", T0 + 30'000)).value());
  EXPECT_EQ(abandoned, (std::vector<int64_t>{B, B, B, B, B, 0}));
  EXPECT_EQ(run_for(io, store.get_queue("idle")).value().stats.abandoned_total, 5 * B);

  ASSERT_TRUE(
      run_for(io, store.put_queue("fast", config(1'000'000, 1'000'000, 3600, true), T0)).ok());
  ASSERT_EQ(join_many(io, store, "fast", 5 * B, T0).size(), size_t{5 * B});
  ASSERT_TRUE(run_for(io, store.put_queue("fast", unpause(), T0)).ok());
  std::vector<int64_t> admitted;
  for (int i = 0; i < 6; ++i)
    admitted.push_back(run_for(io, store.tick("fast", T0 + 1000)).value());
  EXPECT_EQ(admitted, (std::vector<int64_t>{B, B, B, B, B, 0}));
  EXPECT_EQ(run_for(io, store.get_queue("fast")).value().stats.active, 5 * B);
}

// Abandonment without an index by last seen (lib.lua sweep_abandoned): a line longer than the
// sweep's floor (32: checked whole every tick) is walked by a cursor, all of it once per
// abandon_after_s, so an unseen visitor is dropped between abandon_after_s and twice that after
// last seen - never before.
TEST(RedisStore, TheSweepDropsEveryUnseenTicketWithinTwiceAbandonAfter) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10, 30), T0)).ok());
  std::vector<Ticket> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(run_for(io, store.join("q", "", T0)).value());
  // A seen visitor (a poll every 20 s) is never dropped.
  auto keep = ts[70].id;
  std::vector<int64_t> abandoned;
  for (Millis at : {T0, T0 + 15'000, T0 + 29'999, T0 + 30'000, T0 + 45'000, T0 + 60'000}) {
    ASSERT_TRUE(run_for(io, store.get_ticket("q", keep, true, at)).ok());
    ASSERT_TRUE(run_for(io, store.tick("q", at)).ok());
    abandoned.push_back(run_for(io, store.get_queue("q")).value().stats.abandoned_total);
  }
  // Whole checks owed: 100 x elapsed / 30 s (the first tick walks all). The walk went over
  // 1-50 at 15 s and 51-99 at 29.999 s (all seen since the cutoff); at 30 s it owes one check:
  // 100 is dropped; then ~50 checks every 15 s: 1-50 at 45 s, 51-99 at 60 s (but the keeper).
  EXPECT_EQ(abandoned, (std::vector<int64_t>{0, 0, 0, 1, 51, 99}));
  EXPECT_EQ(run_for(io, store.get_ticket("q", keep, false, T0 + 60'000)).value().position, 1);
  for (auto& t : ts) {
    if (t.id == keep) continue;
    EXPECT_EQ(run_for(io, store.get_ticket("q", t.id, false, T0 + 60'000)).value().reason,
              EndReason::abandoned);
  }
}

// The admission checks last seen too: a ticket at the head the sweep has not reached yet is
// ended abandoned instead of admitted, and its token stays in the bucket for the next one.
TEST(RedisStore, AdmissionNeverLetsInATicketUnseenPastTheCutoff) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 100, 30), T0)).ok());
  std::vector<Ticket> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(run_for(io, store.join("q", "", T0)).value());
  std::vector<std::string> later;
  for (int i = 50; i < 100; ++i) later.push_back(ts[i].id);
  ASSERT_TRUE(run_for(io, store.touch("q", later, T0 + 20'000)).ok());
  ASSERT_TRUE(run_for(io, store.tick("q", T0)).ok());           // walks all 100 (first tick)
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 15'000)).ok());  // walks orders 1-50
  ConfigPatch rate;
  rate.admit_per_s = 10;  // a full bucket (10) by the next tick
  ASSERT_TRUE(run_for(io, store.put_queue("q", rate, T0 + 15'000)).ok());
  // The sweep walks 51-100 (all seen at 20 s); the admission meets 1-20 (2 x 10 looked at),
  // all unseen since the join: abandoned, nobody admitted, the 10 tokens kept.
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 30'000)).ok());
  auto info = run_for(io, store.get_queue("q")).value();
  EXPECT_EQ(info.stats.admitted_total, 0);
  EXPECT_EQ(info.stats.abandoned_total, 20);
  // 7.5 s later the sweep owes 25 checks: 21-45 dropped; the admission meets 46-50 (dropped
  // too) and the kept tokens admit 51-60.
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 37'500)).ok());
  info = run_for(io, store.get_queue("q")).value();
  EXPECT_EQ(info.stats.abandoned_total, 50);
  EXPECT_EQ(info.stats.admitted_total, 10);
  EXPECT_EQ(info.stats.waiting, 40);
  for (int i = 0; i < 100; ++i) {
    auto t = run_for(io, store.get_ticket("q", ts[i].id, false, T0 + 37'500)).value();
    if (i < 50) {
      EXPECT_EQ(t.reason, EndReason::abandoned) << i;
    } else {
      EXPECT_EQ(t.state, i < 60 ? TicketState::active : TicketState::waiting) << i;
    }
  }
  for (auto& e : outbox(io, client, "q")) {
    if (e.type == EventType::admitted) {
      EXPECT_GE(e.order, 51) << e.ticket;
    }
  }
}

// The upgrade: tickets of the layout before (a HASH per ticket, last seen in the `seen` zset)
// are converted where they are first met, so a queue running across the upgrade goes on: a
// read, a touch, the sweep and the admission all see them, with their last seen.
TEST(RedisStore, TicketsOfTheLayoutBeforeAreTakenOverWhereMet) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 1, 30), T0)).ok());  // one at a time
  auto cmd = [&](std::vector<std::string> c) { return run_for(io, client.command(c)).value(); };
  const std::string seen = redis_keys::prefix("q") + "seen";
  const std::vector<std::string> ids{"AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB",
                                     "CCCCCCCCCCCCCCCCCCCCCC"};
  for (int i = 0; i < 3; ++i) {
    const std::string order = std::to_string(i + 1);
    cmd({"HSET", redis_keys::ticket("q", ids[i]), "state", "waiting", "reason", "none", "order",
         order, "joined", std::to_string(T0), "admitted", "0", "expires", "0", "key",
         i == 1 ? "u:b" : "", "ep", "0"});
    cmd({"ZADD", redis_keys::wait("q"), order, ids[i]});
    cmd({"ZADD", seen, std::to_string(T0 + (i == 2 ? 10'000 : 0)), ids[i]});
  }
  cmd({"HSET", redis_keys::dedupe("q"), "u:b", ids[1]});
  cmd({"HSET", redis_keys::meta("q"), "orders", "3"});
  cmd({"HSET", redis_keys::ticket("q", "DDDDDDDDDDDDDDDDDDDDDD"), "state", "ended", "reason",
       "left", "order", "0", "joined", std::to_string(T0), "admitted", "0", "expires", "0", "key",
       "", "ep", "0"});
  cmd({"PEXPIRE", redis_keys::ticket("q", "DDDDDDDDDDDDDDDDDDDDDD"), "60000"});

  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[2], false, T0 + 1)).value().position, 3);
  auto d = run_for(io, store.get_ticket("q", "DDDDDDDDDDDDDDDDDDDDDD", false, T0 + 1)).value();
  EXPECT_EQ(d.reason, EndReason::left);
  EXPECT_GT(cmd({"PTTL", redis_keys::ticket("q", "DDDDDDDDDDDDDDDDDDDDDD")}).integer, 0);
  // Its dedupe key still finds it.
  JoinRequest again;
  again.dedupe_key = "u:b";
  EXPECT_EQ(run_for(io, store.join("q", again, T0 + 2)).value().id, ids[1]);
  ASSERT_TRUE(run_for(io, store.touch("q", {ids[1]}, T0 + 20'000)).ok());
  // At 30 s: A (last seen at its join) is dropped; B (touched) and C (seen at 10 s) stay.
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 30'000)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[0], false, T0 + 30'000)).value().reason,
            EndReason::abandoned);
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[1], false, T0 + 30'000)).value().position, 1);
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[2], false, T0 + 30'000)).value().position, 2);
  ConfigPatch rate;
  rate.admit_per_s = 10;
  ASSERT_TRUE(run_for(io, store.put_queue("q", rate, T0 + 30'000)).ok());
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 31'000)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[1], false, T0 + 31'000)).value().state,
            TicketState::active);
  // C, last seen at 10 s, is past the cutoff at 40 s: not admitted, dropped.
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 40'000)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[2], false, T0 + 40'000)).value().reason,
            EndReason::abandoned);
  EXPECT_EQ(run_for(io, store.get_queue("q")).value().stats.admitted_total, 1);
  EXPECT_EQ(cmd({"EXISTS", seen}).integer, 0);
}

// Closing is O(1) in Redis whatever the length of the line: every waiting ticket reads as
// closed the moment close returns, while the per-ticket bookkeeping (state, retention, dedupe
// key) is drained kTickBatch at a time by close and by each tick. A reopen during the drain
// starts a fresh line, and a dedupe key of a closed ticket joins anew.
TEST_P(RedisStoreModes, CloseIsImmediateForReadersAndDrainsInBatches) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  constexpr int64_t B = RedisStore::kTickBatch;
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  auto keyed = run_for(io, store.join("q", "u:kim", T0)).value();
  auto joined = join_many(io, store, "q", 5 * B - 1, T0);
  ASSERT_EQ(joined.size(), size_t{5 * B - 1});
  const std::string last = joined.back().value().id;
  auto closing = [&] {
    return run_for(io, client.command({"ZCARD", redis_keys::closing("q")})).value().integer;
  };

  auto closed = run_for(io, store.close_queue("q", T0 + 1));
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->stats.waiting, 0);
  EXPECT_EQ(closing(), 4 * B);  // close itself drained the first batch
  for (const auto& id : {keyed.id, last}) {
    auto t = run_for(io, store.get_ticket("q", id, true, T0 + 2)).value();
    EXPECT_EQ(t.state, TicketState::ended);
    EXPECT_EQ(t.reason, EndReason::closed);
    EXPECT_EQ(t.position, 0);
  }
  // Leaving or completing a closed ticket changes nothing.
  EXPECT_EQ(run_for(io, store.leave("q", last, T0 + 2)).value().reason, EndReason::closed);
  EXPECT_EQ(run_for(io, store.get_queue("q")).value().stats.left_total, 0);
  EXPECT_EQ(run_for(io, store.complete("q", last, T0 + 2)).value().reason, EndReason::closed);

  // Reopened before the drain finished: the closed key joins anew, at the front of a new line.
  ASSERT_TRUE(run_for(io, store.put_queue("q", {}, T0 + 3)).ok());
  auto again = run_for(io, store.join("q", "u:kim", T0 + 4)).value();
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.id, keyed.id);
  EXPECT_EQ(again.position, 1);

  EXPECT_EQ(run_for(io, store.tick("q", T0 + 5)).value(), 0);  // draining makes no events
  EXPECT_EQ(closing(), 3 * B);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(run_for(io, store.tick("q", T0 + 5)).ok());
  EXPECT_EQ(closing(), B);
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 6)).ok());
  EXPECT_EQ(closing(), 0);
  // Drained tickets are ended for real: out of `live`, in an ended hash (which takes turns, so
  // they go after the retention: RedisStore.EndedTicketsAreReadableForOneTurnOfTheEndedHashes).
  EXPECT_GE(ended_in(io, client, "q", last), 0);
  EXPECT_EQ(run_for(io, client.command({"HEXISTS", redis_keys::live("q"), last})).value().integer,
            0);
  EXPECT_EQ(run_for(io, store.get_ticket("q", again.id, false, T0 + 7)).value().position, 1);
  auto info = run_for(io, store.get_queue("q")).value();
  EXPECT_EQ(info.stats.waiting, 1);
  EXPECT_EQ(info.stats.left_total + info.stats.abandoned_total, 0);
  auto ev = outbox(io, client, "q");
  EXPECT_EQ(std::count_if(ev.begin(), ev.end(),
                          [](const Event& e) { return e.type == EventType::closed; }),
            1);
}

// Ended tickets stay readable for the retention period, then Redis forgets them by itself;
// tickets that are still waiting or active never expire.
TEST(RedisStore, EndedTicketsExpireAfterTheRetention) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  auto a = run_for(io, store.join("q", "u:a", T0)).value();
  auto b = run_for(io, store.join("q", "", T0)).value();
  ASSERT_TRUE(run_for(io, store.leave("q", a.id, T0 + 1)).ok());
  // The ended ticket is a field of the ended hash of its period (T0 + 1); the period's number
  // is in the hash (how the turns are kept: lua/lib.lua tend).
  const int64_t period = (T0 + 1) / rules::kEndedRetentionMs;
  EXPECT_EQ(ended_in(io, client, "q", a.id), period % 2);
  EXPECT_EQ(run_for(io, client.command({"HGET", redis_keys::ended("q", period % 2),
                                        std::string(redis_keys::kEndedGen)}))
                .value()
                .str,
            std::to_string(period));
  // A waiting ticket is a field of the queue's live hash, which never expires; it is in no
  // ended hash until it ends (and the ended one is out of the live hash).
  EXPECT_EQ(ended_in(io, client, "q", b.id), -1);
  auto live = [&](const std::string& id) {
    return run_for(io, client.command({"HEXISTS", redis_keys::live("q"), id})).value().integer;
  };
  EXPECT_EQ(live(b.id), 1);
  EXPECT_EQ(live(a.id), 0);
  EXPECT_EQ(run_for(io, client.command({"PTTL", redis_keys::live("q")})).value().integer, -1);
  // The ended ticket's dedupe key is released with it.
  auto hexists = run_for(io, client.command({"HEXISTS", redis_keys::dedupe("q"), "u:a"}));
  EXPECT_EQ(hexists.value().integer, 0);
}

// The outbox entry format: one field, `event`, holding the event in its one wire form
// (core/event_codec.hpp), encoded by the script (lib.lua `emit`) and forwarded untouched by the
// relay. The bytes the script wrote decode to the event that happened, and the C++ encoder of
// that Event produces the identical bytes: the Lua and the C++ encoder are one format.
// Integers are decimal text, queue-level events have an empty ticket.
TEST(RedisStore, OutboxEntriesHoldTheEventInTheOneWireForm) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  auto t = run_for(io, store.join("q", "", T0 + 5)).value();
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(1, 10), T0 + 6)).ok());
  ASSERT_EQ(run_for(io, store.tick("q", T0 + 1006)).value(), 1);  // admits t
  ASSERT_TRUE(run_for(io, store.leave("q", t.id, T0 + 2000)).ok());
  auto r = run_for(io, client.command({"XRANGE", redis_keys::outbox("q"), "-", "+"})).value();
  ASSERT_EQ(r.elements.size(), 5u);
  auto entry = [&](size_t i) {
    std::vector<std::string> out;
    for (auto& f : r.elements[i].elements[1].elements) out.push_back(f.str);
    return out;
  };
  auto event = [](uint64_t seq, EventType type, std::string ticket, uint64_t order, Millis at,
                  Millis exp) {
    Event e;
    e.queue = "q";
    e.seq = seq;
    e.type = type;
    e.ticket = std::move(ticket);
    e.order = order;
    e.at_ms = at;
    e.expires_ms = exp;
    return e;
  };
  const Millis exp = T0 + 1006 + 3600 * 1000;
  std::vector<Event> expected{
      event(1, EventType::config_changed, "", 0, T0, 0),
      event(2, EventType::joined, t.id, 1, T0 + 5, 0),
      event(3, EventType::config_changed, "", 0, T0 + 6, 0),
      event(4, EventType::admitted, t.id, 1, T0 + 1006, exp),
      event(5, EventType::left, t.id, 1, T0 + 2000, exp),
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("event " + std::to_string(i + 1));
    // The C++ encoder of the same Event gives the very bytes the script wrote.
    EXPECT_EQ(entry(i), (std::vector<std::string>{"event", encode_event(expected[i])}));
    auto d = decode_event(entry(i).at(1));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->queue, "q");
    EXPECT_EQ(d->seq, expected[i].seq);
    EXPECT_EQ(d->type, expected[i].type);
    EXPECT_EQ(d->ticket, expected[i].ticket);
    EXPECT_EQ(d->order, expected[i].order);
    EXPECT_EQ(d->at_ms, expected[i].at_ms);
    EXPECT_EQ(d->expires_ms, expected[i].expires_ms);
  }
  // The documented layout, spelled out once (the first two, as the old field list showed them).
  EXPECT_EQ(entry(0).at(1), R"({"queue":"q","seq":1,"type":"config_changed","ticket":"","order":0,)"
                            R"("at":)" + std::to_string(T0) + R"(,"exp":0})");
  EXPECT_EQ(entry(1).at(1), R"({"queue":"q","seq":2,"type":"joined","ticket":")" + t.id +
                                R"(","order":1,"at":)" + std::to_string(T0 + 5) + R"(,"exp":0})");
}

// Subscribe mode: the client subscribes on its own connection, gets each message's bytes, and
// after its connection is lost it reconnects by itself, subscribes again and says so each time
// (the owner's cue to resync: what was published meanwhile is gone).
TEST(RedisClientSubscribe, DeliversMessagesAndResubscribesAfterALostConnection) {
  RedisServer server;
  asio::io_context io;
  RedisClient pub(io, options_for(server));
  RedisClient sub(io, options_for(server));
  std::vector<std::string> got;
  int subscribed = 0;
  sub.subscribe(
      "chan", [&](std::string_view m) { got.emplace_back(m); }, [&] { ++subscribed; });
  ASSERT_TRUE(eventually(io, [&] { return subscribed == 1; }));
  auto publish = [&](const std::string& m) {
    return run_for(io, pub.command({"PUBLISH", "chan", m})).value().integer;
  };
  EXPECT_EQ(publish(std::string("one\0bin", 7)), 1);  // one subscriber; binary-safe
  ASSERT_TRUE(eventually(io, [&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], std::string("one\0bin", 7));

  auto killed = run_for(io, pub.command({"CLIENT", "KILL", "TYPE", "pubsub"})).value();
  EXPECT_EQ(killed.integer, 1);
  ASSERT_TRUE(eventually(io, [&] { return subscribed == 2; }))
      << "the subscription was not re-established";
  EXPECT_EQ(publish("two"), 1);
  ASSERT_TRUE(eventually(io, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[1], "two");
  EXPECT_EQ(sub.stats().subscribes, 2u);
  EXPECT_GE(sub.stats().disconnects, 1u);
}

TEST(RedisStore, UrlsAreParsed) {
  auto o = RedisOptions::from_url("redis://:secret@10.0.0.7:6380/2");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "10.0.0.7");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 2);
  EXPECT_EQ(o->password, "secret");
  auto d = RedisOptions::from_url("redis://localhost");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  EXPECT_FALSE(RedisOptions::from_url("http://localhost:6379").ok());
  EXPECT_FALSE(RedisOptions::from_url("redis://localhost:99999").ok());
  EXPECT_FALSE(RedisOptions::from_url("redis://localhost/x").ok());
  asio::io_context io;
  EXPECT_THROW(RedisStore(io, "not a url"), std::invalid_argument);
}

// A store built from a URL selects its database before any command of its own runs.
TEST(RedisStore, UrlDatabaseIsSelected) {
  RedisServer server;
  asio::io_context io;
  RedisStore store(io, server.url() + "/3");
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  RedisOptions db0 = options_for(server);
  RedisClient plain(io, db0);
  auto in_db0 = run_for(io, plain.command({"EXISTS", redis_keys::meta("q")}));
  EXPECT_EQ(in_db0.value().integer, 0);
  auto in_db3 = run_for(io, store.client().command({"EXISTS", redis_keys::meta("q")}));
  EXPECT_EQ(in_db3.value().integer, 1);
}

// A forgotten queue leaves nothing of its state: of its keys only the outbox (its last events
// may still be on their way to the pipeline; it expires after the retention) and its last seq
// remain, plus ended ticket hashes that expire by themselves; it is out of both queue lists.
// Made again, it takes its seq from that record, which goes, and keeps the outbox for good.
TEST_P(RedisStoreModes, AForgottenQueueLeavesOnlyItsOutboxAndLastSeq) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  auto cmd = [&](std::vector<std::string> argv) {
    return run_for(io, client.command(std::move(argv))).value();
  };
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(1, 10, 30), T0)).ok());
  ASSERT_TRUE(run_for(io, store.put_queue("other", config(0, 10), T0)).ok());
  auto a = run_for(io, store.join("q", "u:a", T0)).value();  // active
  auto b = run_for(io, store.join("q", "u:b", T0)).value();  // waiting, then closed
  ASSERT_EQ(a.state, TicketState::active);
  ASSERT_EQ(b.state, TicketState::waiting);
  ASSERT_TRUE(run_for(io, store.close_queue("q", T0 + 1)).ok());
  ASSERT_TRUE(run_for(io, store.complete("q", a.id, T0 + 2)).ok());
  const uint64_t seq = run_for(io, store.get_queue("q")).value().seq;
  ASSERT_EQ(run_for(io, store.tick("q", T0 + 1 + 30'000)).value(), 0);

  std::set<std::string> keys;
  for (auto& k : cmd({"KEYS", "aq:{q}:*"}).elements) keys.insert(k.str);
  // (Both tickets ended in one period: one ended hash.)
  const std::string ended =
      redis_keys::ended("q", static_cast<int>((T0 + 1) / rules::kEndedRetentionMs % 2));
  std::set<std::string> want{redis_keys::outbox("q"), redis_keys::last_seq("q"), ended};
  EXPECT_EQ(keys, want);
  for (const auto& id : {a.id, b.id}) {
    EXPECT_EQ(cmd({"HEXISTS", ended, id}).integer, 1) << id;
  }
  EXPECT_GT(cmd({"PTTL", ended}).integer, 0);
  EXPECT_LE(cmd({"PTTL", ended}).integer, rules::kEndedRetentionMs);
  EXPECT_GT(cmd({"PTTL", redis_keys::outbox("q")}).integer, 0);
  EXPECT_LE(cmd({"PTTL", redis_keys::outbox("q")}).integer, rules::kEndedRetentionMs);
  EXPECT_EQ(cmd({"GET", redis_keys::last_seq("q")}).str, std::to_string(seq));
  EXPECT_EQ(cmd({"SISMEMBER", std::string(redis_keys::kQueues), "q"}).integer, 0);
  EXPECT_EQ(cmd({"SISMEMBER", std::string(redis_keys::kOpenQueues), "q"}).integer, 0);
  EXPECT_EQ(cmd({"SISMEMBER", std::string(redis_keys::kOpenQueues), "other"}).integer, 1);
  EXPECT_EQ(cmd({"XLEN", redis_keys::outbox("q")}).integer, static_cast<int64_t>(seq));

  auto again = run_for(io, store.put_queue("q", config(0, 10), T0 + 40'000)).value();
  EXPECT_TRUE(again.created);
  EXPECT_EQ(again.seq, seq + 1);
  EXPECT_EQ(cmd({"EXISTS", redis_keys::last_seq("q")}).integer, 0);
  EXPECT_EQ(cmd({"PTTL", redis_keys::outbox("q")}).integer, -1);  // the new queue's log now
  EXPECT_EQ(outbox(io, client, "q").back().seq, seq + 1);
}

// Every process ticks every queue: the forgetting happens once, in one tick script; the other
// processes' ticks then find no queue. Made again through another process, the seq goes on.
TEST_P(RedisStoreModes, ConcurrentTicksForgetAQueueOnce) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client_a(io, options_for(server)), client_b(io, options_for(server));
  RedisStore a(client_a), b(client_b);
  ASSERT_TRUE(run_for(io, a.put_queue("q", config(0, 10, 30), T0)).ok());
  ASSERT_TRUE(run_for(io, a.join("q", "", T0)).ok());
  const uint64_t seq = run_for(io, b.close_queue("q", T0 + 1)).value().seq;
  std::vector<asio::awaitable<Result<int64_t>>> ticks;
  for (int i = 0; i < 6; ++i) ticks.push_back((i % 2 ? a : b).tick("q", T0 + 1 + 30'000));
  auto results = run_all(io, std::move(ticks));
  ASSERT_EQ(results.size(), 6u);
  int forgot = 0;
  for (auto& r : results) {
    if (r.ok()) {
      ++forgot;
      EXPECT_EQ(r.value(), 0);
    } else {
      EXPECT_EQ(r.error().code, Errc::queue_not_found) << r.error().message;
    }
  }
  EXPECT_EQ(forgot, 1);
  auto again = run_for(io, b.put_queue("q", {}, T0 + 40'000));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->seq, seq + 1);
}

// The ticker's tick (tick_leased): the first node takes the queue's tick lease and ticks; another
// node's call does nothing and says how long the lease has left; once the holder stops renewing,
// the lease ends and the other node takes over. tick() itself never looks at leases.
TEST_P(RedisStoreModes, TickLeaseLetsOneNodeTickAQueue) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client_a(io, options_for(server)), client_b(io, options_for(server));
  RedisStore a(client_a), b(client_b);
  ASSERT_TRUE(run_for(io, a.put_queue("q", config(1, 100), T0)).ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(run_for(io, a.join("q", "", T0)).ok());
  auto waiting = [&] { return run_for(io, a.get_queue("q")).value().stats.waiting; };
  const int64_t before = waiting();

  auto first = run_for(io, a.tick_leased("q", T0 + 1000, "A", 60'000, 0)).value();
  EXPECT_EQ(first.elsewhere_ms, 0);
  EXPECT_EQ(first.events, 1);  // 1/s for 1 s
  auto other = run_for(io, b.tick_leased("q", T0 + 2000, "B", 60'000, 0)).value();
  EXPECT_EQ(other.events, 0);
  EXPECT_GT(other.elsewhere_ms, 0);
  EXPECT_LE(other.elsewhere_ms, 60'000);
  EXPECT_EQ(waiting(), before - 1);  // B admitted nobody
  auto renewed = run_for(io, a.tick_leased("q", T0 + 3000, "A", 300, 0)).value();
  EXPECT_EQ(renewed.elsewhere_ms, 0);
  EXPECT_EQ(renewed.events, 1);
  EXPECT_EQ(run_for(io, client_a.command({"GET", redis_keys::tick_lease("q")})).value().str, "A");
  // tick() (no node) ticks whoever holds the lease.
  EXPECT_EQ(run_for(io, b.tick("q", T0 + 4000)).value(), 1);

  // A stops renewing: its 300 ms lease ends and B's next call ticks.
  Millis now = T0 + 4000;
  QueueStore::TickOutcome took{};
  ASSERT_TRUE(eventually(io, [&] {
    took = run_for(io, b.tick_leased("q", now += 1000, "B", 60'000, 0)).value();
    return took.elsewhere_ms == 0;
  }));
  EXPECT_EQ(took.events, 1);
  EXPECT_EQ(run_for(io, client_a.command({"GET", redis_keys::tick_lease("q")})).value().str, "B");
  EXPECT_GT(run_for(io, a.tick_leased("q", now += 1000, "A", 300, 0)).value().elsewhere_ms, 0);
  EXPECT_EQ(waiting(), before - 4);
}

// An idle queue (nobody waiting, no close in progress) says how long it has nothing to do: until
// its next session expiry or schedule time, at most the asked maximum. A queue with someone
// waiting, or a tick that made events, is never idle.
TEST_P(RedisStoreModes, TickReportsHowLongAQueueIsIdle) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10), T0)).ok());
  EXPECT_EQ(run_for(io, store.tick_leased("q", T0 + 1, "A", 60'000, 20'000)).value().idle_ms, 20'000);
  EXPECT_EQ(run_for(io, store.tick_leased("q", T0 + 2, "A", 60'000, 0)).value().idle_ms, 0);
  auto t = run_for(io, store.join("q", "", T0 + 3)).value();
  EXPECT_EQ(run_for(io, store.tick_leased("q", T0 + 4, "A", 60'000, 20'000)).value().idle_ms, 0);  // t waits
  // Admitted (rate 1000 now): the tick makes an event, so it is not idle; the next one is,
  // until t's session (3600 s) ends.
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(1000, 10), T0 + 5)).ok());
  auto admitting = run_for(io, store.tick_leased("q", T0 + 1005, "A", 60'000, 20'000)).value();
  EXPECT_EQ(admitting.events, 1);
  EXPECT_EQ(admitting.idle_ms, 0);
  EXPECT_EQ(run_for(io, store.get_ticket("q", t.id, false, T0 + 1005)).value().state,
            TicketState::active);
  EXPECT_EQ(run_for(io, store.tick_leased("q", T0 + 1006, "A", 60'000, 10'000'000)).value().idle_ms,
            T0 + 1005 + 3600'000 - (T0 + 1006));
}

// The ticker leaves an idle queue alone until an event of it arrives (publish: what main's event
// feed does), while it goes on ticking a queue with someone waiting.
TEST_P(RedisStoreModes, TickerLeavesAnIdleQueueAloneUntilItsNextEvent) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("busy", config(0, 10), T0)).ok());
  // (a ticker ticks at the wall clock's time: joined then, nobody is abandoned)
  ASSERT_TRUE(run_for(io, store.join("busy", "", wall_ms())).ok());
  ASSERT_TRUE(run_for(io, store.put_queue("idle", config(0, 10), T0)).ok());
  std::map<std::string, int> ticked;
  // A 60 s lease: an idle queue is left alone for up to 20 s, longer than this test.
  Ticker ticker(io, store, 10ms,
                {"A", 60'000, [&](std::string_view q, bool t) { ticked[std::string(q)] += t; }});
  ticker.start();
  ASSERT_TRUE(eventually(io, [&] { return ticked["busy"] >= 20; }));
  EXPECT_EQ(ticked["idle"], 1);
  Event e;
  e.queue = "idle";
  e.type = EventType::joined;
  ticker.publish(e);
  ASSERT_TRUE(eventually(io, [&] { return ticked["idle"] >= 2; }));
  const int busy = ticked["busy"];
  ASSERT_TRUE(eventually(io, [&] { return ticked["busy"] >= busy + 20; }));
  EXPECT_EQ(ticked["idle"], 2);
  ticker.stop();
}

// Two processes' tickers over three queues: each queue is ticked by one of them only, and the
// other asks once per lease (a 60 s lease: exactly once in this test). When the holder's ticker
// stops, the other takes its queues over within a lease (300 ms here).
TEST_P(RedisStoreModes, TwoTickersShareTheQueues) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client_a(io, options_for(server)), client_b(io, options_for(server));
  RedisStore a(client_a), b(client_b);
  const std::vector<std::string> queues{"q1", "q2", "q3"};
  for (auto& q : queues) {  // someone waiting (and nobody admitted): never idle
    ASSERT_TRUE(run_for(io, a.put_queue(q, config(0, 10), T0)).ok());
    // (a ticker ticks at the wall clock's time: joined then, nobody is abandoned)
    ASSERT_TRUE(run_for(io, a.join(q, "", wall_ms())).ok());
  }
  // queue → node → calls that ticked / found the lease elsewhere
  std::map<std::string, std::map<std::string, int>> ticked, elsewhere;
  auto observer = [&](std::string node) {
    return [&, node](std::string_view q, bool t) { ++(t ? ticked : elsewhere)[std::string(q)][node]; };
  };
  {
    Ticker ta(io, a, 10ms, {"A", 60'000, observer("A")});
    Ticker tb(io, b, 10ms, {"B", 60'000, observer("B")});
    ta.start();
    tb.start();
    auto rounds = [&](int n) {
      for (auto& q : queues) {
        int sum = 0;
        for (auto& [node, c] : ticked[q]) sum += c;
        if (sum < n) return false;
      }
      return true;
    };
    ASSERT_TRUE(eventually(io, [&] { return rounds(30); }));
    for (auto& q : queues) {
      EXPECT_EQ(ticked[q].size(), 1u) << q << " was ticked by both";
      ASSERT_EQ(elsewhere[q].size(), 1u) << q;
      EXPECT_NE(elsewhere[q].begin()->first, ticked[q].begin()->first) << q;
      EXPECT_EQ(elsewhere[q].begin()->second, 1) << q << ": asked again within the lease";
    }
    ta.stop();
    tb.stop();
  }

  // A short lease: the holder stops, the other takes over.
  ticked.clear();
  elsewhere.clear();
  Ticker ta(io, a, 10ms, {"A", 300, observer("A")});
  for (auto& q : queues) ASSERT_TRUE(run_for(io, client_a.command({"DEL", redis_keys::tick_lease(q)})).ok());
  ta.start();
  ASSERT_TRUE(eventually(io, [&] {
    for (auto& q : queues)
      if (ticked[q]["A"] < 3) return false;
    return true;
  }));
  ta.stop();
  Ticker tb(io, b, 10ms, {"B", 300, observer("B")});
  tb.start();
  ASSERT_TRUE(eventually(io, [&] {
    for (auto& q : queues)
      if (ticked[q]["B"] < 3) return false;
    return true;
  }));
  for (auto& q : queues) EXPECT_GE(elsewhere[q]["B"], 1) << q << ": B found A's lease first";
  tb.stop();
}

// A close is drained kTickBatch tickets per call: the queue goes at the tick that finishes it.
TEST_P(RedisStoreModes, AClosedQueueIsForgottenOnlyOnceItsCloseIsDrained) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  constexpr int64_t B = RedisStore::kTickBatch;
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10, 30), T0)).ok());
  ASSERT_EQ(join_many(io, store, "q", 5 * B, T0).size(), size_t{5 * B});
  ASSERT_TRUE(run_for(io, store.close_queue("q", T0 + 1)).ok());  // drains B
  const Millis late = T0 + 1 + 30'000;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // B more
    EXPECT_TRUE(run_for(io, store.get_queue("q")).value().closed);
  }
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // the last B: forgotten
  EXPECT_EQ(run_for(io, store.get_queue("q")).error().code, Errc::queue_not_found);
}

// With a relay (the outbox's consumer group) that has not read or not had Kafka confirm the
// last events — Kafka down — the closed queue is not forgotten: its outbox must not expire with
// events unsent. Once everything is read and acknowledged, the next tick forgets it.
TEST_P(RedisStoreModes, AClosedQueueWaitsForItsRelayBeforeItIsForgotten) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  auto cmd = [&](std::vector<std::string> argv) {
    return run_for(io, client.command(std::move(argv))).value();
  };
  const std::string box = redis_keys::outbox("q");
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10, 30), T0)).ok());
  cmd({"XGROUP", "CREATE", box, "relay", "0", "MKSTREAM"});
  ASSERT_TRUE(run_for(io, store.join("q", "", T0)).ok());
  ASSERT_TRUE(run_for(io, store.close_queue("q", T0 + 1)).ok());
  const Millis late = T0 + 1 + 30'000;
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // nothing read: kept
  ASSERT_TRUE(run_for(io, store.get_queue("q")).ok());
  auto read = cmd({"XREADGROUP", "GROUP", "relay", "r1", "COUNT", "1000", "STREAMS", box, ">"});
  ASSERT_EQ(read.elements.size(), 1u);
  std::vector<std::string> ids;
  for (auto& e : read.elements[0].elements[1].elements) ids.push_back(e.elements[0].str);
  ASSERT_FALSE(ids.empty());
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // read, not confirmed: kept
  ASSERT_TRUE(run_for(io, store.get_queue("q")).ok());
  std::vector<std::string> ack{"XACK", box, "relay"};
  ack.insert(ack.end(), ids.begin(), ids.end());
  cmd(ack);
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // all confirmed: forgotten
  EXPECT_EQ(run_for(io, store.get_queue("q")).error().code, Errc::queue_not_found);
}

// Queues made by a version before aq:queues:open existed are not in it: a store lists the open
// ones (not the closed ones) before it first counts, so --max-queues counts them.
TEST_P(RedisStoreModes, QueuesMadeBeforeTheOpenListCountTowardTheLimit) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  {
    RedisStore old(client);
    ASSERT_TRUE(run_for(io, old.put_queue("open1", {}, T0)).ok());
    ASSERT_TRUE(run_for(io, old.put_queue("shut", {}, T0)).ok());
    ASSERT_TRUE(run_for(io, old.close_queue("shut", T0)).ok());
  }
  ASSERT_TRUE(run_for(io, client.command({"DEL", std::string(redis_keys::kOpenQueues)})).ok());
  RedisStore store(client, StoreLimits{.max_queues = 2});
  ASSERT_TRUE(run_for(io, store.put_queue("open2", {}, T0 + 1)).ok());
  EXPECT_EQ(run_for(io, store.put_queue("open3", {}, T0 + 2)).error().code,
            Errc::too_many_queues);
  auto open = run_for(io, client.command({"SMEMBERS", std::string(redis_keys::kOpenQueues)}));
  std::set<std::string> names;
  for (auto& n : open.value().elements) names.insert(n.str);
  EXPECT_EQ(names, (std::set<std::string>{"open1", "open2"}));
}


// The queue lists live outside every queue's slot, so the store keeps them with single-key
// commands around the queue scripts (README "The queue registry"). Whatever the path - create,
// the limit refusing, close, reopen, a config change at the limit, a close by closes_at in a
// tick, forgetting in a tick - aq:queues holds every queue and aq:queues:open exactly the open
// ones; and a new process repairs lists left wrong (a crash between a script and its list
// update) before it first counts.
TEST_P(RedisStoreModes, TheRegistryStaysRightAcrossCreateCloseReopenForgetAndTheLimit) {
  RedisServer server(cluster_of(GetParam()));
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client, StoreLimits{.max_queues = 2});
  using Names = std::set<std::string>;
  auto members = [&](std::string_view list) {
    auto r = run_for(io, client.command({"SMEMBERS", std::string(list)}));
    Names out;
    for (auto& n : r.value().elements) out.insert(n.str);
    return out;
  };
  auto all = [&] { return members(redis_keys::kQueues); };
  // The error code of a put (Errc::internal standing for none: the put succeeded).
  auto refused = [&](RedisStore& st, const std::string& q, Millis now) {
    auto r = run_for(io, st.put_queue(q, {}, now));
    return r ? Errc::internal : r.error().code;
  };
  auto closed = [&](const std::string& q) {
    auto r = run_for(io, store.get_queue(q));
    EXPECT_TRUE(r.ok()) << q << ": " << r.error().message;
    return r.ok() && r->closed;
  };
  auto open = [&] { return members(redis_keys::kOpenQueues); };

  ASSERT_TRUE(run_for(io, store.put_queue("a", config(0, 10, 30), T0)).ok());
  ASSERT_TRUE(run_for(io, store.put_queue("b", config(0, 10, 30), T0)).ok());
  EXPECT_EQ(all(), (Names{"a", "b"}));
  EXPECT_EQ(open(), (Names{"a", "b"}));
  // At the limit: refused, and no place is left taken by the refused name.
  EXPECT_EQ(refused(store, "c", T0), Errc::too_many_queues);
  EXPECT_EQ(open(), (Names{"a", "b"}));
  EXPECT_EQ(all(), (Names{"a", "b"}));
  // Changing an open queue at the limit needs no place.
  ASSERT_TRUE(run_for(io, store.put_queue("b", config(1, 10, 30), T0)).ok());

  ASSERT_TRUE(run_for(io, store.close_queue("a", T0 + 1)).ok());
  EXPECT_EQ(open(), (Names{"b"}));
  EXPECT_EQ(all(), (Names{"a", "b"}));
  ASSERT_TRUE(run_for(io, store.put_queue("c", config(0, 10, 30), T0 + 2)).ok());
  EXPECT_EQ(open(), (Names{"b", "c"}));
  // Reopening takes a place like creating: refused at the limit, the queue stays closed.
  EXPECT_EQ(refused(store, "a", T0 + 3), Errc::too_many_queues);
  EXPECT_TRUE(closed("a"));
  EXPECT_EQ(open(), (Names{"b", "c"}));
  ASSERT_TRUE(run_for(io, store.close_queue("c", T0 + 4)).ok());
  EXPECT_EQ(refused(store, "a", T0 + 5), Errc::internal);
  EXPECT_FALSE(closed("a"));
  EXPECT_EQ(open(), (Names{"a", "b"}));
  EXPECT_EQ(all(), (Names{"a", "b", "c"}));

  // A tick that closes the queue (closes_at) takes it out of the open list.
  ConfigPatch closing;
  closing.closes_at = (T0 + 10'000) / 1000;
  ASSERT_TRUE(run_for(io, store.put_queue("b", closing, T0 + 6)).ok());
  ASSERT_TRUE(run_for(io, store.tick("b", T0 + 10'000)).ok());
  EXPECT_TRUE(closed("b"));
  EXPECT_EQ(open(), (Names{"a"}));
  // A tick that forgets a closed queue takes it out of both (c: closed at T0 + 4, 30 s).
  ASSERT_TRUE(run_for(io, store.tick("c", T0 + 4 + 30'000)).ok());
  auto gone = run_for(io, store.get_queue("c"));
  ASSERT_FALSE(gone.ok()) << "c was not forgotten";
  EXPECT_EQ(gone.error().code, Errc::queue_not_found);
  EXPECT_EQ(all(), (Names{"a", "b"}));
  EXPECT_EQ(open(), (Names{"a"}));
  // Made again after it was forgotten: listed again.
  EXPECT_EQ(refused(store, "c", T0 + 40'000), Errc::internal);
  EXPECT_EQ(all(), (Names{"a", "b", "c"}));
  EXPECT_EQ(open(), (Names{"a", "c"}));

  // Lists left wrong: a name of no queue in both, a closed queue in the open list, an open queue
  // missing from the open list (made by a version before it), one missing from aq:queues (a
  // process died between its put_queue and the SADD). A new process (store) repairs them before
  // it first counts.
  auto cmd = [&](std::vector<std::string> argv) {
    ASSERT_TRUE(run_for(io, client.command(std::move(argv))).ok());
  };
  cmd({"SADD", std::string(redis_keys::kQueues), "ghost"});
  cmd({"SADD", std::string(redis_keys::kOpenQueues), "ghost"});
  cmd({"SADD", std::string(redis_keys::kOpenQueues), "b"});
  cmd({"SREM", std::string(redis_keys::kOpenQueues), "a"});
  cmd({"SREM", std::string(redis_keys::kQueues), "c"});
  RedisStore restarted(client, StoreLimits{.max_queues = 2});
  EXPECT_EQ(refused(restarted, "d", T0 + 41'000), Errc::too_many_queues);  // a, c open
  EXPECT_EQ(all(), (Names{"a", "b", "c"}));
  EXPECT_EQ(open(), (Names{"a", "c"}));
  ASSERT_TRUE(run_for(io, restarted.close_queue("a", T0 + 42'000)).ok());
  EXPECT_EQ(refused(restarted, "d", T0 + 43'000), Errc::internal);
  EXPECT_EQ(open(), (Names{"c", "d"}));
  EXPECT_EQ(all(), (Names{"a", "b", "c", "d"}));
}

// ---------------------------------------------------------------------------------------------
// The on-sale (SPEC §7). The conformance suite holds both stores to the same behaviour; these
// show what only the Redis store has: the Lua mirrors of the rules, the wire bytes the scripts
// write, a draw that costs the same whatever the number of entrants, bounded chunks, and
// several processes (connections) keying and drawing one queue.

constexpr int64_t kPreS = T0 / 1000 + 10;   // the pre-queue opens
constexpr int64_t kOpenS = T0 / 1000 + 100;  // the draw
constexpr Millis kPre = kPreS * 1000;
constexpr Millis kOpen = kOpenS * 1000;

ConfigPatch onsale(double rate = 0, int64_t max_active = 1000) {
  ConfigPatch p = config(rate, max_active);
  p.prequeue_at = kPreS;
  p.opens_at = kOpenS;
  return p;
}

// The published order recomputed from the seed and the entry ids, as anyone can.
std::vector<std::string> recompute(const std::string& seed_hex, std::vector<std::string> ids) {
  auto seed = draw::from_hex(seed_hex);
  EXPECT_TRUE(seed.has_value());
  if (!seed) return {};
  return draw::order(*seed, std::move(ids));
}

// Every command Redis ran so far (scripts' own calls included), from INFO commandstats.
int64_t commands_run(asio::io_context& io, RedisClient& client) {
  auto r = run_for(io, client.command({"INFO", "commandstats"}));
  if (!r.ok()) return -1;
  int64_t total = 0;
  const std::string& text = r->str;
  for (size_t at = text.find("calls="); at != std::string::npos; at = text.find("calls=", at + 1))
    total += std::stoll(text.substr(at + 6));
  return total;
}

int64_t evalsha_calls(asio::io_context& io, RedisClient& client) {
  auto r = run_for(io, client.command({"INFO", "commandstats"}));
  if (!r.ok()) return -1;
  const std::string prefix = "cmdstat_evalsha:calls=";
  auto at = r->str.find(prefix);
  return at == std::string::npos ? 0 : std::stoll(r->str.substr(at + prefix.size()));
}

std::string phase_name(rules::Phase p) {
  switch (p) {
    case rules::Phase::before: return "before";
    case rules::Phase::prequeue: return "prequeue";
    case rules::Phase::open: return "open";
    case rules::Phase::closed: return "closed";
  }
  return "?";
}

std::string rule_name(rules::JoinRule r) {
  switch (r) {
    case rules::JoinRule::refuse_closed: return "refuse_closed";
    case rules::JoinRule::refuse_rejecting: return "refuse_rejecting";
    case rules::JoinRule::refuse_not_open: return "refuse_not_open";
    case rules::JoinRule::enter_prequeue: return "enter_prequeue";
    case rules::JoinRule::join_line: return "join_line";
  }
  return "?";
}

// lib.lua's phase, join_rule, draw_due and abandon_cutoff are line-for-line mirrors of
// core/rules: on a grid of schedules (each time set or not), draw states, modes and times at
// and around every boundary, they agree with the C++ on every case.
TEST(RedisStoreOnsale, LuaRulesMirrorsAgreeWithTheRulesOnAGrid) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV, 8 do
  local cfg = {prequeue_at = opt_time(ARGV[i]), opens_at = opt_time(ARGV[i + 1]),
               closes_at = opt_time(ARGV[i + 2]), abandon = tonumber(ARGV[i + 3]),
               mode = ARGV[i + 4]}
  local dstate, drawn_at, now = ARGV[i + 5], tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7])
  local ph = phase(cfg, dstate, now)
  local cutoff = abandon_cutoff(cfg, dstate, drawn_at, now)
  out[#out + 1] = ph .. ' ' .. join_rule(ph, cfg.mode) .. ' ' ..
                  (draw_due(cfg, dstate, now) and 'due' or 'not') .. ' ' ..
                  (cutoff and I(cutoff) or 'none')
end
return out
)");
  const int64_t P = kPreS, O = kOpenS, C = kOpenS + 50;
  const std::vector<Millis> times{P * 1000 - 1, P * 1000, O * 1000 - 1, O * 1000,
                                  O * 1000 + 4999, O * 1000 + 5000, C * 1000 - 1, C * 1000};
  std::vector<std::string> args, expected;
  auto text = [](const std::optional<int64_t>& t) { return t ? std::to_string(*t) : ""; };
  for (int bits = 0; bits < 8; ++bits)
    for (DrawState d : {DrawState::none, DrawState::prequeue, DrawState::drawn, DrawState::void_})
      for (Mode m : {Mode::fifo, Mode::random, Mode::passthrough, Mode::reject})
        for (Millis now : times) {
          QueueConfig c;
          if (bits & 1) c.prequeue_at = P;
          if (bits & 2) c.opens_at = O;
          if (bits & 4) c.closes_at = C;
          c.abandon_after_s = 5;
          c.mode = m;
          const Millis drawn_at = O * 1000;
          for (auto v : {text(c.prequeue_at), text(c.opens_at), text(c.closes_at),
                         std::to_string(c.abandon_after_s), std::string(to_string(m)),
                         std::string(to_string(d)), std::to_string(drawn_at),
                         std::to_string(now)})
            args.push_back(v);
          auto ph = rules::phase(c, d, now);
          auto cutoff = rules::abandon_cutoff(c, d, drawn_at, now);
          expected.push_back(phase_name(ph) + " " + rule_name(rules::join_rule(ph, m)) + " " +
                             (rules::draw_due(c, d, now) ? "due" : "not") + " " +
                             (cutoff ? std::to_string(*cutoff) : "none"));
        }
  auto r = run_for(io, client.eval(probe, redis_keys::script_keys("q"), args));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->is_array()) << r->str;
  ASSERT_EQ(r->elements.size(), expected.size());
  int differ = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (r->elements[i].str == expected[i]) continue;
    if (++differ <= 10)
      ADD_FAILURE() << "case " << i << ": lua '" << r->elements[i].str << "' rules '"
                    << expected[i] << "'";
  }
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(expected.size(), 8u * 4 * 4 * times.size());
}

// The scripts write `entered` (order = arrival number) and `drawn` (queue-level: order = base,
// exp = the number of entrants) in the one wire form: the C++ encoder of the same events gives
// the very bytes.
TEST(RedisStoreOnsale, EnteredAndDrawnOutboxEntriesAreTheOneWireForm) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", onsale(), T0)).ok());
  auto a = run_for(io, store.join("q", "", kPre)).value();
  auto b = run_for(io, store.join("q", "u:b", kPre + 1)).value();
  ASSERT_TRUE(a.entrant && b.entrant);
  ASSERT_EQ(run_for(io, store.tick("q", kOpen)).value(), 1);  // the draw (rate 0: nobody in)
  auto r = run_for(io, client.command({"XRANGE", redis_keys::outbox("q"), "-", "+"})).value();
  ASSERT_EQ(r.elements.size(), 4u);
  auto bytes = [&](size_t i) { return r.elements[i].elements[1].elements.at(1).str; };
  auto event = [](uint64_t seq, EventType type, std::string ticket, uint64_t order, Millis at,
                  Millis exp) {
    Event e;
    e.queue = "q";
    e.seq = seq;
    e.type = type;
    e.ticket = std::move(ticket);
    e.order = order;
    e.at_ms = at;
    e.expires_ms = exp;
    return e;
  };
  EXPECT_EQ(bytes(1), encode_event(event(2, EventType::entered, a.id, 1, kPre, 0)));
  EXPECT_EQ(bytes(2), encode_event(event(3, EventType::entered, b.id, 2, kPre + 1, 0)));
  EXPECT_EQ(bytes(3), encode_event(event(4, EventType::drawn, "", 2, kOpen, 2)));
  EXPECT_EQ(bytes(3), R"({"queue":"q","seq":4,"type":"drawn","ticket":"","order":2,"at":)" +
                          std::to_string(kOpen) + R"(,"exp":2})");
  // After the draw each entrant's order is base + place.
  for (const auto& t : {a, b}) {
    auto now = run_for(io, store.get_ticket("q", t.id, false, kOpen)).value();
    EXPECT_EQ(now.order, 2u + static_cast<uint64_t>(now.place));
  }
}

// The draw is a flip: the pre-queue is kept in draw order as it fills, so the call that draws
// runs the same number of Redis commands for 3 entrants as for 1,500 (counted by Redis itself,
// scripts' own commands included).
TEST(RedisStoreOnsale, TheDrawIsOneFlipWhateverTheNumberOfEntrants) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  std::map<std::string, int64_t> flip, plain;
  for (auto [q, n] : {std::pair<std::string, int>{"small", 3}, {"big", 1500}}) {
    ASSERT_TRUE(run_for(io, store.put_queue(q, onsale(), T0)).ok());
    auto joined = join_many(io, store, q, n, kPre);
    ASSERT_EQ(joined.size(), static_cast<size_t>(n));
    for (auto& t : joined) ASSERT_TRUE(t.ok() && t->entrant);
    const std::string id = joined.front()->id;
    // (Loads the script first: a NOSCRIPT round would count in the first queue's figures.)
    ASSERT_TRUE(run_for(io, store.get_ticket(q, id, false, kPre)).ok());
    int64_t c0 = commands_run(io, client);
    auto first = run_for(io, store.get_ticket(q, id, false, kOpen));  // draws
    int64_t c1 = commands_run(io, client);
    auto second = run_for(io, store.get_ticket(q, id, false, kOpen));  // reads
    int64_t c2 = commands_run(io, client);
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_GE(first->place, 1);
    EXPECT_EQ(first->place, second->place);
    flip[q] = c1 - c0;
    plain[q] = c2 - c1;
    auto info = run_for(io, store.get_queue(q)).value();
    EXPECT_EQ(info.draw.state, DrawState::drawn);
    EXPECT_EQ(info.draw.entrants, n);
    EXPECT_EQ(info.stats.waiting, n);
  }
  EXPECT_EQ(flip["small"], flip["big"]);
  EXPECT_EQ(plain["small"], plain["big"]);
  EXPECT_GT(flip["big"], plain["big"]);  // (the flip did happen in that call)
  EXPECT_LT(flip["big"] - plain["big"], 12);
}

// GET .../draw pages are read kDrawChunk places per script call and places() looks up
// kPlacesChunk ids per call: no call grows with the number of entrants.
TEST(RedisStoreOnsale, DrawPagesAndPlacesGoInBoundedChunks) {
  static_assert(RedisStore::kDrawChunk == 1000 && 1000 % RedisStore::kPlacesChunk == 0);
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", onsale(), T0)).ok());
  auto joined = join_many(io, store, "q", 2500, kPre);
  ASSERT_EQ(joined.size(), 2500u);
  for (auto& t : joined) ASSERT_TRUE(t.ok());
  // Before the draw: the state, no seed, no entries.
  auto pre = run_for(io, store.draw_page("q", 0, 10000)).value();
  EXPECT_EQ(pre.info.state, DrawState::prequeue);
  EXPECT_EQ(pre.info.entrants, 2500);
  EXPECT_TRUE(pre.info.seed.empty());
  EXPECT_TRUE(pre.entries.empty());
  ASSERT_TRUE(run_for(io, store.tick("q", kOpen)).ok());

  int64_t c0 = evalsha_calls(io, client);
  auto all = run_for(io, store.draw_page("q", 0, 10000)).value();
  EXPECT_EQ(evalsha_calls(io, client) - c0, 3);  // 1000 + 1000 + 500
  ASSERT_EQ(all.entries.size(), 2500u);
  EXPECT_EQ(all.info.state, DrawState::drawn);
  std::vector<std::string> entry_ids;
  for (auto& t : joined) entry_ids.push_back(draw::entry_id(t->id));
  EXPECT_EQ(all.entries, recompute(all.info.seed, entry_ids));
  c0 = evalsha_calls(io, client);
  auto tail = run_for(io, store.draw_page("q", 2400, 10000)).value();
  EXPECT_EQ(evalsha_calls(io, client) - c0, 1);
  EXPECT_EQ(tail.entries, std::vector<std::string>(all.entries.begin() + 2400, all.entries.end()));
  auto mid = run_for(io, store.draw_page("q", 999, 2)).value();
  EXPECT_EQ(mid.entries, std::vector<std::string>(all.entries.begin() + 999,
                                                  all.entries.begin() + 1001));
  EXPECT_TRUE(run_for(io, store.draw_page("q", 2500, 10)).value().entries.empty());
  EXPECT_EQ(run_for(io, store.draw_page("q", -1, 10)).error().code, Errc::bad_request);

  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(joined[i]->id);
  ASSERT_TRUE(run_for(io, store.places("q", {ids[0]})).ok());  // (loads the script)
  c0 = evalsha_calls(io, client);
  auto places = run_for(io, store.places("q", ids)).value();
  EXPECT_EQ(evalsha_calls(io, client) - c0, 1000 / RedisStore::kPlacesChunk);
  ASSERT_EQ(places.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_GE(places[i], 1);
    EXPECT_EQ(all.entries[places[i] - 1], entry_ids[i]);
  }
  ids.push_back(joined[1000]->id);
  EXPECT_EQ(run_for(io, store.places("q", ids)).error().code, Errc::bad_request);
  // Not entrants: place 0 (a malformed id never reaches a key).
  auto none = run_for(io, store.places("q", {"not a ticket", "AAAAAAAAAAAAAAAAAAAAAA"})).value();
  EXPECT_EQ(none, (std::vector<int64_t>{0, 0}));
}

// A tick admits at most kTickBatch drawn entrants, in place order from the head; the next tick
// continues where it stopped. Entrants who left are skipped, and post-open joins come after.
TEST(RedisStoreOnsale, TickAdmitsDrawnEntrantsInPlaceOrderABatchPerCall) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", onsale(0, 1'000'000), T0)).ok());
  auto joined = join_many(io, store, "q", 1200, kPre);
  ASSERT_EQ(joined.size(), 1200u);
  ASSERT_EQ(run_for(io, store.tick("q", kOpen)).value(), 1);  // drawn; rate 0
  const uint64_t base = run_for(io, store.get_queue("q")).value().draw.base;
  // Two entrants leave (one early in the order, one late), then a post-open join.
  std::vector<std::string> ids;
  for (auto& t : joined) ids.push_back(t->id);
  auto places = run_for(io, store.places("q", std::vector<std::string>(ids.begin(),
                                                                       ids.begin() + 1000)))
                    .value();
  auto rest = run_for(io, store.places("q", std::vector<std::string>(ids.begin() + 1000,
                                                                     ids.end())))
                  .value();
  places.insert(places.end(), rest.begin(), rest.end());
  auto second = std::find(places.begin(), places.end(), 2) - places.begin();
  ASSERT_LT(second, 1200);
  ASSERT_TRUE(run_for(io, store.leave("q", ids[second], kOpen + 1)).ok());
  auto late = run_for(io, store.join("q", "", kOpen + 2)).value();
  EXPECT_FALSE(late.entrant);
  EXPECT_EQ(late.position, 1200);  // 1199 waiting entrants ahead
  auto first = std::find(places.begin(), places.end(), 1) - places.begin();
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[first], false, kOpen + 2)).value().position, 1);
  auto third = std::find(places.begin(), places.end(), 3) - places.begin();
  EXPECT_EQ(run_for(io, store.get_ticket("q", ids[third], false, kOpen + 2)).value().position, 2);

  ConfigPatch fast;
  fast.admit_per_s = 1'000'000;
  ASSERT_TRUE(run_for(io, store.put_queue("q", fast, kOpen + 3)).ok());
  // 1199 entrants, then `late`: kTickBatch per tick, then nothing.
  std::vector<int64_t> made, expected;
  for (int64_t left = 1200; left >= 0; left -= RedisStore::kTickBatch) {
    expected.push_back(std::min(left, RedisStore::kTickBatch));
    made.push_back(run_for(io, store.tick("q", kOpen + 1003)).value());
  }
  if (expected.back() != 0) {
    expected.push_back(0);
    made.push_back(run_for(io, store.tick("q", kOpen + 1003)).value());
  }
  EXPECT_EQ(made, expected);
  std::vector<uint64_t> orders;
  for (auto& e : outbox(io, client, "q"))
    if (e.type == EventType::admitted) orders.push_back(e.order);
  ASSERT_EQ(orders.size(), 1200u);
  EXPECT_TRUE(std::is_sorted(orders.begin(), orders.end()));
  EXPECT_EQ(orders.front(), base + 1);
  EXPECT_EQ(orders[1], base + 3);  // place 2 left
  EXPECT_EQ(orders.back(), late.order);
  EXPECT_EQ(run_for(io, store.get_queue("q")).value().stats.waiting, 0);
}

// Two processes (two stores, two connections) key their own pre-queue joins: the one that never
// saw the seed fetches it when the script answers 'need_key', and so does one whose cached seed
// belongs to an earlier epoch. At opens_at, ticks and joins of both at once draw exactly once.
TEST(RedisStoreOnsale, TwoStoresOnTwoConnectionsKeyTheirJoinsAndDrawOnce) {
  RedisServer server;
  asio::io_context io;
  RedisClient ca(io, options_for(server)), cb(io, options_for(server));
  RedisStore a(ca), b(cb);
  ASSERT_TRUE(run_for(io, a.put_queue("q", onsale(), T0)).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    auto t = run_for(io, (i % 2 ? b : a).join("q", "", kPre + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_TRUE(t->entrant);
    ids.push_back(t->id);
  }
  std::vector<asio::awaitable<Result<int64_t>>> ticks;
  std::vector<asio::awaitable<Result<Ticket>>> joins;
  for (int k = 0; k < 10; ++k) {
    ticks.push_back(a.tick("q", kOpen));
    ticks.push_back(b.tick("q", kOpen + 1));
    joins.push_back(a.join("q", "", kOpen));
    joins.push_back(b.join("q", "", kOpen));
  }
  auto tick_out = run_all(io, std::move(ticks));
  auto join_out = run_all(io, std::move(joins));
  for (auto& t : tick_out) ASSERT_TRUE(t.ok());
  for (auto& t : join_out) {
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(t->entrant);
    EXPECT_GT(t->position, 40);
  }
  auto ev = outbox(io, ca, "q");
  EXPECT_EQ(std::count_if(ev.begin(), ev.end(),
                          [](const Event& e) { return e.type == EventType::drawn; }),
            1);
  auto page = run_for(io, b.draw_page("q", 0, 100)).value();
  std::vector<std::string> entry_ids;
  for (auto& id : ids) entry_ids.push_back(draw::entry_id(id));
  EXPECT_EQ(page.entries, recompute(page.info.seed, entry_ids));

  // A new epoch, a new seed: both stores' cached seeds are stale; their joins still key right.
  ASSERT_TRUE(run_for(io, a.close_queue("q", kOpen + 10)).ok());
  ConfigPatch again;
  again.prequeue_at = kOpenS + 20;
  again.opens_at = kOpenS + 60;
  auto re = run_for(io, b.put_queue("q", again, kOpen + 20'000));
  ASSERT_TRUE(re.ok()) << re.error().message;
  EXPECT_NE(re->draw.commitment, page.info.commitment);
  std::vector<std::string> ids2;
  for (int i = 0; i < 6; ++i) {
    auto t = run_for(io, (i % 2 ? b : a).join("q", "", kOpen + 20'000 + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_TRUE(t->entrant);
    ids2.push_back(draw::entry_id(t->id));
  }
  ASSERT_TRUE(run_for(io, a.tick("q", (kOpenS + 60) * 1000)).ok());
  auto page2 = run_for(io, a.draw_page("q", 0, 100)).value();
  EXPECT_EQ(page2.info.state, DrawState::drawn);
  EXPECT_EQ(draw::commitment(*draw::from_hex(page2.info.seed)), re->draw.commitment);
  EXPECT_EQ(page2.entries, recompute(page2.info.seed, ids2));
}

// Closed during the pre-queue: the entrants read as closed at once; their bookkeeping (retention,
// dedupe keys) is drained from `pre` a batch per call, and the queue is forgotten only after.
TEST(RedisStoreOnsale, AVoidPrequeueIsDrainedInBatches) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  constexpr int64_t B = RedisStore::kTickBatch;
  ConfigPatch p = onsale();
  p.abandon_after_s = 30;
  ASSERT_TRUE(run_for(io, store.put_queue("q", p, T0)).ok());
  auto keyed = run_for(io, store.join("q", "u:kim", kPre)).value();
  // 2.5 batches: the last drain is a short one, which marks the pre-queue done.
  ASSERT_EQ(join_many(io, store, "q", 5 * B / 2 - 1, kPre).size(), size_t{5 * B / 2 - 1});
  auto closed = run_for(io, store.close_queue("q", kPre + 1)).value();
  EXPECT_EQ(closed.draw.state, DrawState::void_);
  EXPECT_EQ(closed.draw.entrants, 5 * B / 2);
  EXPECT_EQ(run_for(io, store.get_ticket("q", keyed.id, false, kPre + 2)).value().reason,
            EndReason::closed);
  auto cursor = [&] {
    return run_for(io, client.command({"HGET", redis_keys::draw("q"), "cdrain"})).value().str;
  };
  EXPECT_EQ(cursor(), std::to_string(B));  // close itself drained the first batch
  const Millis late = kPre + 1 + 30'000;
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());
  EXPECT_EQ(cursor(), std::to_string(2 * B));
  EXPECT_TRUE(run_for(io, store.get_queue("q")).value().closed);
  ASSERT_TRUE(run_for(io, store.tick("q", late)).ok());  // the last batch: forgotten
  EXPECT_EQ(run_for(io, store.get_queue("q")).error().code, Errc::queue_not_found);
  // Its drained tickets stay readable for the retention: the ended hash expires after it.
  const int which = ended_in(io, client, "q", keyed.id);
  ASSERT_GE(which, 0);
  auto pttl = run_for(io, client.command({"PTTL", redis_keys::ended("q", which)})).value();
  EXPECT_GT(pttl.integer, 0);
  EXPECT_EQ(run_for(io, client.command({"EXISTS", redis_keys::pre("q")})).value().integer, 0);
}


// After the draw a snapshot lists the waiting entrants' orders (base + place, less the gone
// places read from pgone in chunks of kSnapshotChunk) and then the FIFO line: here with more gone
// places than one chunk holds, so the chunked read of pgone is crossed.
TEST(RedisStoreOnsale, SnapshotAfterTheDrawListsWaitingEntrantsThenTheLine) {
  static_assert(RedisStore::kSnapshotChunk == 5000);
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", onsale(0, 1'000'000), T0)).ok());
  constexpr int M = 5600;
  auto joined = join_many(io, store, "q", M, kPre);
  ASSERT_EQ(joined.size(), static_cast<size_t>(M));
  for (auto& t : joined) ASSERT_TRUE(t.ok() && t->entrant);
  ASSERT_EQ(run_for(io, store.tick("q", kOpen)).value(), 1);
  const uint64_t base = run_for(io, store.get_queue("q")).value().draw.base;
  // Every entrant but each 10th leaves: 5040 gone places.
  std::vector<asio::awaitable<Result<Ticket>>> leaves;
  std::vector<std::string> stay;
  for (int i = 0; i < M; ++i) {
    if (i % 10 == 0)
      stay.push_back(joined[i]->id);
    else
      leaves.push_back(store.leave("q", joined[i]->id, kOpen + 1));
  }
  auto left = run_all(io, std::move(leaves));
  ASSERT_EQ(left.size(), static_cast<size_t>(M - M / 10));
  for (auto& r : left) ASSERT_TRUE(r.ok());
  auto late = join_many(io, store, "q", 3, kOpen + 2);
  std::vector<uint64_t> want;
  for (size_t from = 0; from < stay.size(); from += 1000) {
    std::vector<std::string> chunk(stay.begin() + from,
                                   stay.begin() + std::min(stay.size(), from + 1000));
    // (A named copy: a range-for over run_for(...).value() would read a destroyed Result.)
    const std::vector<int64_t> ps = run_for(io, store.places("q", chunk)).value();
    for (int64_t p : ps) {
      EXPECT_GE(p, 1);
      want.push_back(base + p);
    }
  }
  std::sort(want.begin(), want.end());
  for (auto& t : late) want.push_back(t->order);
  auto snap = run_for(io, store.snapshot("q"));
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(snap->info.stats.waiting, static_cast<int64_t>(stay.size()) + 3);
  EXPECT_EQ(snap->waiting_orders, want);
  // The stores' positions agree: the last post-open join is behind every waiting entrant.
  EXPECT_EQ(run_for(io, store.get_ticket("q", late[2]->id, false, kOpen + 3)).value().position,
            static_cast<int64_t>(stay.size()) + 3);
}

// ---------------------------------------------------------------------------------------------
// Bots pay, guests skip (SPEC §8).

std::string errc_name(const std::optional<Error>& e) {
  if (!e) return "none";
  switch (e->code) {
    case Errc::pow_required:
      return "pow_required";
    case Errc::pow_invalid:
      return "pow_invalid";
    case Errc::pow_wrong_queue:
      return "pow_wrong_queue";
    case Errc::pow_expired:
      return "pow_expired";
    case Errc::pow_insufficient:
      return "pow_insufficient";
    case Errc::invite_invalid:
      return "invite_invalid";
    case Errc::invite_used_up:
      return "invite_used_up";
    case Errc::invite_expired:
      return "invite_expired";
    case Errc::invite_revoked:
      return "invite_revoked";
    default:
      return "other";
  }
}


// Compares a probe's reply with the C++ answers, case by case.
void expect_same(const Result<redis::RedisReply>& r, const std::vector<std::string>& expected) {
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->is_array()) << r->str;
  ASSERT_EQ(r->elements.size(), expected.size());
  int differ = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (r->elements[i].str == expected[i]) continue;
    if (++differ <= 10)
      ADD_FAILURE() << "case " << i << ": lua '" << r->elements[i].str << "' rules '" << expected[i]
                    << "'";
  }
  EXPECT_EQ(differ, 0);
}

// lib.lua's pow_required_bits (with load_cfg's reading of rules::encode_pow), pow_refusal,
// invite_refusal (with parse_invite of redis::encode_invite), skip_admission_count and the
// printing of skip orders agree with core/rules on grids around every boundary.
TEST(RedisStoreSkip, LuaMirrorsOfTheProofInviteAndSkipRulesAgreeOnAGrid) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  {  // pow_required_bits
    const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV, 2 do
  redis.call('HSET', K_CFG, 'pow', ARGV[i])
  out[#out + 1] = I(pow_required_bits(load_cfg().pow, tonumber(ARGV[i + 1])))
end
return out
)");
    std::vector<std::string> args, expected;
    for (int bits : {0, 1, 8, 18, 26, 31, 32})
      for (bool adaptive : {false, true})
        for (int max_bits : {bits, bits + 1, bits + 5, 32})
          for (int extra : {0, 1, 2, 5, 14, 40}) {
            if (max_bits > 32) continue;
            PowConfig c;
            c.bits = bits;
            c.adaptive = adaptive;
            c.max_bits = max_bits;
            c.network_share = 7;
            c.surge_per_s = 100;
            args.push_back(rules::encode_pow(c));
            args.push_back(std::to_string(extra));
            expected.push_back(std::to_string(rules::pow_required_bits(c, extra)));
          }
    expect_same(run_for(io, client.eval(probe, redis_keys::script_keys("q"), args)), expected);
  }
  {  // pow_refusal
    const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV, 3 do
  out[#out + 1] = pow_refusal(tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2])) or 'none'
end
return out
)");
    std::vector<std::string> args, expected;
    for (int required : {0, 1, 17, 18, 32})
      for (PowVerdict v : {PowVerdict::none, PowVerdict::valid, PowVerdict::invalid,
                           PowVerdict::wrong_queue, PowVerdict::expired, PowVerdict::insufficient})
        for (int bits : {0, 1, 17, 18, 19, 32}) {
          PowProof p;
          p.verdict = v;
          p.bits = bits;
          args.push_back(std::to_string(required));
          args.emplace_back(to_string(v));
          args.push_back(std::to_string(bits));
          expected.push_back(errc_name(rules::pow_refusal(required, p)));
        }
    expect_same(run_for(io, client.eval(probe, redis_keys::script_keys("q"), args)), expected);
  }
  {  // invite_refusal, of the record as stored ('' = no such code)
    const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV, 2 do
  local rec = ARGV[i] ~= '' and ARGV[i] or nil
  out[#out + 1] = invite_refusal(parse_invite(rec), tonumber(ARGV[i + 1])) or 'none'
end
return out
)");
    std::vector<std::string> args, expected;
    const Millis now = T0;
    args.push_back("");
    args.push_back(std::to_string(now));
    expected.push_back(errc_name(rules::invite_refusal(nullptr, now)));
    for (bool revoked : {false, true})
      for (Millis exp : {Millis{0}, now - 1, now, now + 1})
        for (auto [uses, used] : {std::pair<int64_t, int64_t>{1, 0},
                                  {1, 1},
                                  {1'000'000, 999'999},
                                  {1'000'000, 1'000'000},
                                  {3, 4}})
          for (std::string label : {"", "members", "a b  c \xe2\x80\x94"}) {
            Invite v;
            v.uses = uses;
            v.used = used;
            v.expires_ms = exp;
            v.revoked = revoked;
            v.skip = used % 2 == 1;
            v.created_ms = T0 - 5;
            v.label = label;
            args.push_back(redis::encode_invite(v));
            args.push_back(std::to_string(now));
            expected.push_back(errc_name(rules::invite_refusal(&v, now)));
            auto back = redis::decode_invite("", args[args.size() - 2]);
            ASSERT_TRUE(back.has_value());
            EXPECT_EQ(*back, v);
          }
    expect_same(run_for(io, client.eval(probe, redis_keys::script_keys("q"), args)), expected);
  }
  {  // skip_admission_count
    const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV, 5 do
  local cfg = {paused = ARGV[i] == '1', max_active = tonumber(ARGV[i + 1])}
  out[#out + 1] = I(skip_admission_count(cfg, ARGV[i + 2], tonumber(ARGV[i + 3]),
                                         tonumber(ARGV[i + 4])))
end
return out
)");
    std::vector<std::string> args, expected;
    for (bool paused : {false, true})
      for (int64_t max_active : {0, 1, 5, 1000})
        for (rules::Phase ph : {rules::Phase::before, rules::Phase::prequeue, rules::Phase::open,
                                rules::Phase::closed})
          for (int64_t active : {0, 1, 4, 5, 7})
            for (int64_t skippers : {0, 1, 2, 10, 200}) {
              QueueConfig c;
              c.paused = paused;
              c.max_active = max_active;
              for (auto v : {std::string(paused ? "1" : "0"), std::to_string(max_active),
                             phase_name(ph), std::to_string(active), std::to_string(skippers)})
                args.push_back(v);
              expected.push_back(
                  std::to_string(rules::skip_admission_count(c, ph, active, skippers)));
            }
    expect_same(run_for(io, client.eval(probe, redis_keys::script_keys("q"), args)), expected);
  }
  {  // skip orders are exact in Lua and print exactly (kSkipOrder + n, n = 1, 2, ...)
    const auto probe = redis::compose_script("probe", R"(
local out = {}
for i = 1, #ARGV do
  local o = SKIP_ORDER + tonumber(ARGV[i])
  out[#out + 1] = I(o) .. ' ' .. tostring(tonumber(I(o)) >= SKIP_ORDER)
end
return out
)");
    std::vector<std::string> args, expected;
    for (uint64_t n : {1ull, 2ull, 3ull, 999'999ull, 1ull << 31, (1ull << 40) + 1}) {
      args.push_back(std::to_string(n));
      expected.push_back(std::to_string(rules::kSkipOrder + n) + " true");
    }
    EXPECT_EQ(rules::kSkipOrder, 4503599627370496ull);
    expect_same(run_for(io, client.eval(probe, redis_keys::script_keys("q"), args)), expected);
  }
}

JoinRequest with_invite(std::string code) {
  JoinRequest r;
  r.invite = std::move(code);
  return r;
}

// One single-use code, joined with from two stores on their own connections (two processes)
// at once, many times each: one join in all; every other is invite_used_up.
TEST(RedisStoreSkip, TwoStoresUsingOneSingleUseInviteConcurrentlyMakeOneJoin) {
  RedisServer server;
  asio::io_context io;
  RedisClient ca(io, options_for(server)), cb(io, options_for(server));
  RedisStore a(ca), b(cb);
  ASSERT_TRUE(run_for(io, a.put_queue("q", config(0, 100), T0)).ok());
  auto made = run_for(io, a.create_invites("q", InviteSpec{}, T0));
  ASSERT_TRUE(made.ok()) << made.error().message;
  const std::string code = made->at(0).code;
  std::vector<asio::awaitable<Result<Ticket>>> joins;
  for (int i = 0; i < 20; ++i) {
    joins.push_back(a.join("q", with_invite(code), T0 + 1));
    joins.push_back(b.join("q", with_invite(code), T0 + 1));
  }
  auto results = run_all(io, std::move(joins));
  ASSERT_EQ(results.size(), 40u);
  int ok = 0, used_up = 0;
  for (auto& r : results) {
    if (r.ok())
      ++ok;
    else if (r.error().code == Errc::invite_used_up)
      ++used_up;
    else
      ADD_FAILURE() << r.error().message;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(used_up, 39);
  auto listed = run_for(io, b.list_invites("q", "", 10)).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].used, 1);
  EXPECT_EQ(run_for(io, b.get_queue("q")).value().stats.waiting, 1);
}

// A challenge used by a join through one store is refused (pow_used, with the bits asked)
// through another; its mark is kept with the challenge's expiry (the tick drops it after that).
TEST(RedisStoreSkip, AChallengeUsedThroughOneStoreIsRefusedThroughAnother) {
  RedisServer server;
  asio::io_context io;
  RedisClient ca(io, options_for(server)), cb(io, options_for(server));
  RedisStore a(ca), b(cb);
  ConfigPatch p = config(0, 100);
  PowConfig w;
  w.bits = 8;
  p.pow = w;
  ASSERT_TRUE(run_for(io, a.put_queue("q", p, T0)).ok());
  // (The marks expire on Redis' own clock: far ahead of it, not of T0.)
  const Millis exp = T0 + Millis{3'600'000} * 24 * 365 * 20;
  JoinRequest r;
  r.pow.verdict = PowVerdict::valid;
  r.pow.bits = 8;
  r.pow.id = "AAAAAAAAAAAAAAAAAAAAAA";
  r.pow.expires_ms = exp;
  auto first = run_for(io, a.join("q", r, T0 + 1));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = run_for(io, b.join("q", r, T0 + 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::pow_used);
  ASSERT_EQ(again.error().details.size(), 1u);
  EXPECT_EQ(again.error().details[0], (std::pair<std::string, std::string>{"bits", "8"}));
  auto at = run_for(io, ca.command({"ZSCORE", redis_keys::pow("q"), r.pow.id}));
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->str, std::to_string(exp));
  // Another challenge joins; the refused join consumed nothing.
  r.pow.id = "BBBBBBBBBBBBBBBBBBBBBB";
  EXPECT_TRUE(run_for(io, b.join("q", r, T0 + 3)).ok());
  EXPECT_EQ(run_for(io, a.get_queue("q")).value().stats.waiting, 2);
}

// Skippers are admitted by the tick ahead of the line, without tokens, within max_active, at
// most kTickBatch a call; the line follows with what is left.
TEST(RedisStoreSkip, SkipAdmissionIsBoundedPerTick) {
  static_assert(RedisStore::kTickBatch == 200);
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 450, 3600, /*paused=*/true), T0)).ok());
  InviteSpec spec;
  spec.uses = 1000;
  spec.skip = true;
  const std::string code = run_for(io, store.create_invites("q", spec, T0)).value().at(0).code;
  auto line = join_many(io, store, "q", 3, T0 + 1);
  std::vector<asio::awaitable<Result<Ticket>>> joins;
  for (int i = 0; i < 500; ++i) joins.push_back(store.join("q", with_invite(code), T0 + 2));
  auto skippers = run_all(io, std::move(joins));
  ASSERT_EQ(skippers.size(), 500u);
  for (auto& t : skippers) {
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_TRUE(t->skip);
    EXPECT_TRUE(rules::is_skip(t->order));
    EXPECT_EQ(t->state, TicketState::waiting);
  }
  // Positions: skippers first come first; the line behind all of them.
  std::vector<uint64_t> orders;
  for (auto& t : skippers) orders.push_back(t->order);
  std::sort(orders.begin(), orders.end());
  EXPECT_EQ(orders.front(), rules::kSkipOrder + 1);
  EXPECT_EQ(orders.back(), rules::kSkipOrder + 500);
  auto first_line = run_for(io, store.get_ticket("q", line[0]->id, false, T0 + 3)).value();
  EXPECT_EQ(first_line.position, 501);
  auto snap = run_for(io, store.snapshot("q")).value();
  ASSERT_EQ(snap.waiting_orders.size(), 503u);
  EXPECT_TRUE(std::is_sorted(snap.waiting_orders.begin(), snap.waiting_orders.end()));
  EXPECT_EQ(snap.waiting_orders[3], rules::kSkipOrder + 1);
  ASSERT_TRUE(run_for(io, store.put_queue("q", unpause(), T0 + 4)).ok());
  auto active = [&] { return run_for(io, store.get_queue("q")).value().stats.active; };
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 5)).ok());
  EXPECT_EQ(active(), 200);
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 6)).ok());
  EXPECT_EQ(active(), 400);
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 7)).ok());
  EXPECT_EQ(active(), 450);  // max_active: 50 skippers wait at the head
  EXPECT_EQ(run_for(io, store.get_queue("q")).value().stats.waiting, 53);
  // The skipper that waits longest is now first; the line is behind the 50.
  EXPECT_EQ(run_for(io, store.get_ticket("q", line[2]->id, false, T0 + 8)).value().position, 53);
}

// A skipper leaving moves the skippers behind it and the whole line; a close ends skippers
// like the line, and a reopened queue hands out new skip orders (never reused).
TEST(RedisStoreSkip, SkippersLeaveAndCloseLikeTheLine) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 0), T0)).ok());  // max_active 0
  InviteSpec spec;
  spec.uses = 10;
  spec.skip = true;
  const std::string code = run_for(io, store.create_invites("q", spec, T0)).value().at(0).code;
  auto l = run_for(io, store.join("q", "", T0 + 1)).value();
  auto s1 = run_for(io, store.join("q", with_invite(code), T0 + 2)).value();
  auto s2 = run_for(io, store.join("q", with_invite(code), T0 + 3)).value();
  EXPECT_EQ(s1.position, 1);
  EXPECT_EQ(s2.position, 2);
  EXPECT_EQ(run_for(io, store.get_ticket("q", l.id, false, T0 + 4)).value().position, 3);
  ASSERT_TRUE(run_for(io, store.leave("q", s1.id, T0 + 5)).ok());
  auto s2now = run_for(io, store.get_ticket("q", s2.id, false, T0 + 6)).value();
  EXPECT_EQ(s2now.position, 1);
  EXPECT_TRUE(s2now.skip);
  EXPECT_EQ(run_for(io, store.get_ticket("q", l.id, false, T0 + 6)).value().position, 2);
  EXPECT_EQ(run_for(io, store.get_queue("q")).value().stats.waiting, 2);
  auto closed = run_for(io, store.close_queue("q", T0 + 7));
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->stats.waiting, 0);
  auto s2closed = run_for(io, store.get_ticket("q", s2.id, false, T0 + 8)).value();
  EXPECT_EQ(s2closed.state, TicketState::ended);
  EXPECT_EQ(s2closed.reason, EndReason::closed);
  ConfigPatch reopen = config(0, 0);
  ASSERT_TRUE(run_for(io, store.put_queue("q", reopen, T0 + 9)).ok());
  auto s3 = run_for(io, store.join("q", with_invite(code), T0 + 10)).value();
  EXPECT_EQ(s3.order, rules::kSkipOrder + 3);
  EXPECT_EQ(s3.position, 1);
  auto used = run_for(io, store.list_invites("q", "", 1)).value();
  EXPECT_EQ(used.at(0).used, 3);
}

// ---------------------------------------------------------------------------------------------
// Declared keys only (step 7, Redis Cluster): every key a queue script touches is one of its
// KEYS (redis_keys::script_keys). Ended tickets live in two hashes that take turns, used
// proof-of-work challenges in one zset, the tick lease is a declared key.

JoinRequest with_proof(const std::string& id, Millis expires_ms, std::string dedupe = "") {
  JoinRequest r;
  r.dedupe_key = std::move(dedupe);
  r.pow.verdict = PowVerdict::valid;
  r.pow.bits = 8;
  r.pow.id = id;
  r.pow.expires_ms = expires_ms;
  return r;
}

// Period P = floor(now / retention): a ticket ended in P is readable through P + 1 (at least the
// retention) and gone once P + 2 begins (at most twice the retention); the tick turns the hashes
// even when nothing ends, and empties both after two idle periods.
TEST(RedisStoreDeclared, EndedTicketsAreReadableForOneTurnOfTheEndedHashes) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  constexpr Millis R = rules::kEndedRetentionMs;
  const Millis p0 = (T0 / R + 1) * R;  // a period's first ms
  const int e0 = static_cast<int>(p0 / R % 2);  // its ended hash
  ASSERT_TRUE(run_for(io, store.put_queue("q", config(0, 10, 100'000), p0)).ok());
  auto a = run_for(io, store.join("q", "u:a", p0)).value();
  auto b = run_for(io, store.join("q", "u:b", p0)).value();
  ASSERT_EQ(run_for(io, store.leave("q", a.id, p0 + 1)).value().reason, EndReason::left);
  EXPECT_EQ(ended_in(io, client, "q", a.id), e0);
  // The next period: the tick turns to the other hash; a is still there to the period's end.
  ASSERT_TRUE(run_for(io, store.tick("q", p0 + R)).ok());
  ASSERT_EQ(run_for(io, store.leave("q", b.id, p0 + R + 1)).value().reason, EndReason::left);
  EXPECT_EQ(ended_in(io, client, "q", b.id), 1 - e0);
  ASSERT_TRUE(run_for(io, store.tick("q", p0 + 2 * R - 1)).ok());
  auto late = run_for(io, store.get_ticket("q", a.id, false, p0 + 2 * R - 1));
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_EQ(late->reason, EndReason::left);
  // P + 2 begins: a's hash is reused, so a is gone; b (ended in P + 1) is not.
  ASSERT_TRUE(run_for(io, store.tick("q", p0 + 2 * R)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket("q", a.id, false, p0 + 2 * R)).error().code,
            Errc::ticket_not_found);
  EXPECT_EQ(run_for(io, store.get_ticket("q", b.id, false, p0 + 2 * R)).value().reason,
            EndReason::left);
  // Two periods with no end: the tick empties both.
  ASSERT_TRUE(run_for(io, store.tick("q", p0 + 4 * R)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket("q", b.id, false, p0 + 4 * R)).error().code,
            Errc::ticket_not_found);
  EXPECT_EQ(run_for(io, client.command({"HLEN", redis_keys::ended("q", 1 - e0)})).value().integer,
            0);
  // The period field is no ticket.
  EXPECT_EQ(run_for(io, store.get_ticket("q", std::string(redis_keys::kEndedGen), false,
                                         p0 + 4 * R))
                .error()
                .code,
            Errc::ticket_not_found);
}

// A used challenge is refused until its expiry (the mark is a member of the queue's pow zset);
// the first tick at or after the expiry drops the mark.
TEST(RedisStoreDeclared, UsedChallengesAreSingleUseAndDroppedByTheTick) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  ConfigPatch p = config(0, 100);
  PowConfig w;
  w.bits = 8;
  p.pow = w;
  ASSERT_TRUE(run_for(io, store.put_queue("q", p, T0)).ok());
  const Millis exp = T0 + 120'000;
  const std::string id = "AAAAAAAAAAAAAAAAAAAAAA";
  ASSERT_TRUE(run_for(io, store.join("q", with_proof(id, exp), T0 + 1)).ok());
  EXPECT_EQ(run_for(io, store.join("q", with_proof(id, exp), T0 + 2)).error().code,
            Errc::pow_used);
  auto marks = [&] {
    return run_for(io, client.command({"ZCARD", redis_keys::pow("q")})).value().integer;
  };
  EXPECT_EQ(marks(), 1);
  ASSERT_TRUE(run_for(io, store.tick("q", exp - 1)).ok());
  EXPECT_EQ(marks(), 1);
  EXPECT_EQ(run_for(io, store.join("q", with_proof(id, exp), exp - 1)).error().code,
            Errc::pow_used);
  ASSERT_TRUE(run_for(io, store.tick("q", exp)).ok());
  EXPECT_EQ(marks(), 0);
  // No key per challenge.
  EXPECT_EQ(run_for(io, client.command({"EXISTS", redis_keys::pow_mark("q", id)})).value().integer,
            0);
  EXPECT_TRUE(run_for(io, store.join("q", with_proof("BBBBBBBBBBBBBBBBBBBBBB", exp), exp)).ok());
}

// A queue forgotten and made again under its name: its visitors' ended tickets stay readable
// (the ended hashes expire a retention after the forgetting unless the queue is made again
// first) and a challenge used before stays used.
TEST(RedisStoreDeclared, AQueueMadeAgainKeepsItsEndedTicketsAndUsedChallenges) {
  RedisServer server;
  asio::io_context io;
  RedisClient client(io, options_for(server));
  RedisStore store(client);
  auto cmd = [&](std::vector<std::string> argv) {
    return run_for(io, client.command(std::move(argv))).value();
  };
  ConfigPatch p = config(1, 10, 30);
  PowConfig w;
  w.bits = 8;
  p.pow = w;
  ASSERT_TRUE(run_for(io, store.put_queue("q", p, T0)).ok());
  // (PEXPIREAT of the marks is on Redis' own clock: far ahead of it.)
  const Millis exp = T0 + Millis{3'600'000} * 24 * 365 * 20;
  auto a = run_for(io, store.join("q", with_proof("AAAAAAAAAAAAAAAAAAAAAA", exp), T0)).value();
  auto b = run_for(io, store.join("q", with_proof("BBBBBBBBBBBBBBBBBBBBBB", exp), T0)).value();
  ASSERT_EQ(a.state, TicketState::active);
  ASSERT_EQ(b.state, TicketState::waiting);
  ASSERT_TRUE(run_for(io, store.close_queue("q", T0 + 1)).ok());
  ASSERT_TRUE(run_for(io, store.complete("q", a.id, T0 + 2)).ok());
  ASSERT_TRUE(run_for(io, store.tick("q", T0 + 1 + 30'000)).ok());
  ASSERT_EQ(run_for(io, store.get_queue("q")).error().code, Errc::queue_not_found);
  const std::string ended =
      redis_keys::ended("q", static_cast<int>((T0 + 1) / rules::kEndedRetentionMs % 2));
  EXPECT_GT(cmd({"PTTL", ended}).integer, 0);
  EXPECT_LE(cmd({"PTTL", ended}).integer, rules::kEndedRetentionMs);
  EXPECT_GT(cmd({"PTTL", redis_keys::pow("q")}).integer, 0);

  ASSERT_TRUE(run_for(io, store.put_queue("q", p, T0 + 40'000)).value().created);
  EXPECT_EQ(cmd({"PTTL", ended}).integer, -1);
  EXPECT_EQ(cmd({"PTTL", redis_keys::pow("q")}).integer, -1);
  EXPECT_EQ(run_for(io, store.get_ticket("q", a.id, false, T0 + 40'001)).value().reason,
            EndReason::completed);
  EXPECT_EQ(run_for(io, store.get_ticket("q", b.id, false, T0 + 40'001)).value().reason,
            EndReason::closed);
  EXPECT_EQ(
      run_for(io, store.join("q", with_proof("AAAAAAAAAAAAAAAAAAAAAA", exp), T0 + 40'002))
          .error()
          .code,
      Errc::pow_used);
}

// The proof for a slot migration. Redis Cluster (7.0) checks the keys a script declares before
// it runs: on a slot being migrated, the script runs only if every one of them is on the node,
// else it is refused (TRYAGAIN; ASK if none is) before doing anything. Inside a running script,
// each call on a key that is not on the node - an undeclared key not made yet, or one the script
// deleted - fails the script with its earlier writes kept. A queue's declared keys are never all
// there at once (meta and lastseq exclude each other; seen exists only in standalone), so:
// 1. with the queue's slot MIGRATING (no key moved yet), every queue script of both sets is
//    refused whole by the source: every key of the slot stays byte for byte as it was, and the
//    store answers unavailable (its client retries TRYAGAIN a while first);
// 2. every key a script touches being declared, all of them carry the queue's hash tag: once the
//    slot has moved, the queue goes on on the target exactly where it was - tickets (waiting,
//    active, ended), positions, the draw, invites, used challenges, the tick lease - and every
//    operation works there.
TEST(RedisStoreDeclared, AQueueSlotBeingMigratedRunsNoScriptHalfwayAndMovesWhole) {
  testing::RedisCluster::Options co;
  co.masters = 3;
  co.replicas = 0;
  testing::RedisCluster cluster(co);
  asio::io_context io;
  RedisClient client(io, RedisOptions::from_url(cluster.url()).value());
  RedisStore store(client);
  const std::string q = "mig";
  const int slot = redis::key_slot(redis_keys::meta(q));
  const int src = cluster.master_of_slot(slot);
  int dst = 0;
  for (int m : cluster.master_ports())
    if (m != src) dst = m;
  ASSERT_NE(dst, 0);

  // The queue: an on-sale with proof of work and invites, drawn, with a line behind it.
  ConfigPatch p = onsale(1, 2);
  p.abandon_after_s = 30;
  PowConfig w;
  w.bits = 8;
  p.pow = w;
  ASSERT_TRUE(run_for(io, store.put_queue(q, p, T0)).ok());
  InviteSpec spec;
  spec.uses = 5;
  spec.skip = true;
  const std::string code = run_for(io, store.create_invites(q, spec, T0)).value().at(0).code;
  const Millis exp = kOpen + 3'600'000;
  auto proof = [&](int n, std::string dedupe = "") {
    return with_proof(std::string(21, 'A') + static_cast<char>('a' + n), exp, std::move(dedupe));
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto t = run_for(io, store.join(q, proof(i, "u:" + std::to_string(i)), kPre + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_TRUE(t->entrant);
    ids.push_back(t->id);
  }
  ASSERT_TRUE(run_for(io, store.tick_leased(q, kPre + 5, "A", 600'000, 0)).ok());
  ASSERT_TRUE(run_for(io, store.tick(q, kOpen)).ok());  // the draw; admits the first place
  // (The draw order is the seed's: which entrant is first is known only now.)
  int first = -1;
  std::vector<int> drawn_waiting;
  for (int i = 0; i < 3; ++i) {
    auto t = run_for(io, store.get_ticket(q, ids[i], false, kOpen)).value();
    if (t.state == TicketState::active)
      first = i;
    else
      drawn_waiting.push_back(i);
  }
  ASSERT_NE(first, -1);
  ASSERT_EQ(drawn_waiting.size(), 2u);
  const int entrant = drawn_waiting[0];
  auto left = run_for(io, store.leave(q, ids[drawn_waiting[1]], kOpen + 1)).value();
  ASSERT_EQ(left.reason, EndReason::left);
  for (int i = 3; i < 6; ++i) {
    auto t = run_for(io, store.join(q, proof(i), kOpen + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ids.push_back(t->id);
  }
  JoinRequest skipper = proof(6);
  skipper.invite = code;
  ids.push_back(run_for(io, store.join(q, skipper, kOpen + 7)).value().id);
  std::map<std::string, Ticket> before;
  for (const auto& id : ids)
    before[id] = run_for(io, store.get_ticket(q, id, false, kOpen + 8)).value();
  const auto info_before = run_for(io, store.get_queue(q)).value();
  ASSERT_GE(info_before.stats.active, 1);
  ASSERT_GE(info_before.stats.waiting, 4);
  ASSERT_EQ(info_before.draw.state, DrawState::drawn);

  // 1. MIGRATING towards dst, no key moved.
  auto id_of = [&](int port) { return cluster.command(port, {"CLUSTER", "MYID"}).str; };
  ASSERT_FALSE(cluster.command(dst, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING",
                                     id_of(src)}).is_error());
  ASSERT_FALSE(cluster.command(src, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING",
                                     id_of(dst)}).is_error());
  auto dump = [&] {
    std::map<std::string, std::string> out;
    auto keys = cluster.command(src, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "1000"});
    for (auto& k : keys.elements) out[k.str] = cluster.command(src, {"DUMP", k.str}).str;
    return out;
  };
  const auto snapshot = dump();
  for (const auto& k : redis_keys::script_keys(q)) {
    if (k == redis_keys::last_seq(q) || k == redis_keys::seen(q)) {
      EXPECT_EQ(snapshot.count(k), 0u) << k;  // (why no queue script can run: see above)
    }
  }
  EXPECT_GE(snapshot.size(), 14u);
  std::vector<std::string> argv_keys = redis_keys::script_keys(q);
  for (bool clustered : {true, false}) {
    const redis::Scripts& set = redis::scripts(clustered);
    for (const redis::RedisScript* sc :
         {&set.put_queue, &set.get_queue, &set.close_queue, &set.join, &set.get_ticket,
          &set.leave, &set.complete, &set.touch, &set.tick, &set.list_open, &set.draw_page,
          &set.places, &set.draw_secret, &set.create_invites, &set.list_invites,
          &set.revoke_invite}) {
      std::vector<std::string> argv{"EVAL", sc->source(), std::to_string(argv_keys.size())};
      argv.insert(argv.end(), argv_keys.begin(), argv_keys.end());
      argv.push_back(std::to_string(kOpen + 9));
      argv.push_back(ids[3]);
      auto r = cluster.command(src, argv);
      EXPECT_TRUE(r.is_error() && r.str.starts_with("TRYAGAIN")) << r.Describe();
    }
  }
  auto refused = run_for(io, store.join(q, proof(7), kOpen + 9));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unavailable) << refused.error().message;
  EXPECT_EQ(dump(), snapshot);  // nothing ran halfway

  // 2. The slot moves (its keys, then SETSLOT NODE everywhere); the queue goes on on dst.
  cluster.migrate_slot(slot, dst);
  ASSERT_EQ(cluster.master_of_key(redis_keys::meta(q)), dst);
  for (const auto& k : {redis_keys::pow(q), redis_keys::tick_lease(q), redis_keys::invites(q)})
    EXPECT_EQ(cluster.command(dst, {"EXISTS", k}).integer, 1) << k;
  EXPECT_EQ(cluster.command(src, {"DBSIZE"}).integer, 0);
  for (const auto& id : ids) {
    auto t = run_for(io, store.get_ticket(q, id, false, kOpen + 8));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->state, before[id].state) << id;
    EXPECT_EQ(t->reason, before[id].reason) << id;
    EXPECT_EQ(t->position, before[id].position) << id;
    EXPECT_EQ(t->place, before[id].place) << id;
  }
  EXPECT_EQ(run_for(io, store.get_ticket(q, "ZZZZZZZZZZZZZZZZZZZZZZ", false, kOpen + 10))
                .error()
                .code,
            Errc::ticket_not_found);
  // The used challenges moved with the queue; a dedupe retry finds its ticket; a new join works.
  EXPECT_EQ(run_for(io, store.join(q, proof(3), kOpen + 10)).error().code, Errc::pow_used);
  auto again = run_for(io, store.join(q, proof(8, "u:" + std::to_string(entrant)), kOpen + 10));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->id, ids[entrant]);
  auto fresh = run_for(io, store.join(q, proof(9), kOpen + 11)).value();
  EXPECT_TRUE(fresh.created);
  EXPECT_EQ(fresh.state, TicketState::waiting);
  // The tick lease moved too: another node does not tick.
  EXPECT_GT(run_for(io, store.tick_leased(q, kOpen + 12, "B", 600'000, 0)).value().elsewhere_ms,
            0);
  ASSERT_TRUE(run_for(io, store.touch(q, {fresh.id}, kOpen + 12)).ok());
  EXPECT_EQ(run_for(io, store.draw_page(q, 0, 100)).value().entries.size(), 3u);
  EXPECT_EQ(run_for(io, store.places(q, {ids[first], ids[entrant], fresh.id})).value(),
            (std::vector<int64_t>{before[ids[first]].place, before[ids[entrant]].place, 0}));
  // Admissions, then expired sessions and abandoned visitors; leave and complete.
  const auto info0 = run_for(io, store.get_queue(q)).value();
  ASSERT_TRUE(run_for(io, store.complete(q, ids[first], kOpen + 13)).ok());
  ASSERT_TRUE(run_for(io, store.leave(q, ids[3], kOpen + 13)).ok());
  ASSERT_TRUE(run_for(io, store.tick(q, kOpen + 2'000)).ok());  // a token again (1/s)
  auto info1 = run_for(io, store.get_queue(q)).value();
  EXPECT_GT(info1.stats.admitted_total, info0.stats.admitted_total);
  EXPECT_EQ(run_for(io, store.get_ticket(q, ids[entrant], false, kOpen + 2'000)).value().state,
            TicketState::active);
  EXPECT_EQ(info1.stats.completed_total, info0.stats.completed_total + 1);
  EXPECT_EQ(info1.stats.left_total, info0.stats.left_total + 1);
  const Millis later = kOpen + 3'600'000 + 20'000;
  ASSERT_TRUE(run_for(io, store.tick(q, later)).ok());
  auto info2 = run_for(io, store.get_queue(q)).value();
  EXPECT_GT(info2.stats.expired_total, 0);
  EXPECT_GT(info2.stats.abandoned_total, 0);
  // Close, reopen without proof of work: a plain join.
  ASSERT_TRUE(run_for(io, store.close_queue(q, later + 1)).ok());
  EXPECT_EQ(run_for(io, store.get_ticket(q, fresh.id, false, later + 2)).value().state,
            TicketState::ended);
  ConfigPatch reopen;
  reopen.pow = PowConfig{};
  ASSERT_TRUE(run_for(io, store.put_queue(q, reopen, later + 3)).ok());
  auto plain = run_for(io, store.join(q, "u:plain", later + 4));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_TRUE(plain->created);
  // The cluster scripts do not read the layout before (standalone only): not a declared key.
  ASSERT_FALSE(cluster.command(dst, {"HSET", redis_keys::ticket(q, "OOOOOOOOOOOOOOOOOOOOOO"),
                                     "state", "waiting", "order", "1"}).is_error());
  EXPECT_EQ(run_for(io, store.get_ticket(q, "OOOOOOOOOOOOOOOOOOOOOO", false, later + 5))
                .error()
                .code,
            Errc::ticket_not_found);
}
}  // namespace
}  // namespace anteroom
