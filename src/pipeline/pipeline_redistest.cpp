// The Redis-side event paths against a real redis-server: the outbox tailer (Redis-only mode)
// hands on exactly the events the store's scripts wrote, decoded from their one wire form; the
// Pub/Sub feed decodes what is published on the events channel and asks for a resync after
// every (re)subscription.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>

#include "core/event_codec.hpp"
#include "pipeline/outbox_tailer.hpp"
#include "pipeline/pubsub_feed.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/slots.hpp"
#include "store/redis_store.hpp"
#include "support/redis_server.hpp"

namespace anteroom {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr Millis T0 = 1'700'000'000'000;

class Collect final : public EventSink {
 public:
  void publish(const Event& e) override { events.push_back(e); }
  std::vector<Event> events;
};

redis::RedisOptions options_for(const testing::RedisServer& s) {
  redis::RedisOptions o;
  o.port = s.port();
  o.cluster = s.cluster();
  return o;
}

// Runs `io` until `cond` holds or `limit` passed; the condition is checked between handlers.
bool run_until(asio::io_context& io, const std::function<bool()>& cond,
               std::chrono::milliseconds limit = 10s) {
  io.restart();
  const auto deadline = Clock::now() + limit;
  while (!cond() && Clock::now() < deadline) io.run_one_for(10ms);
  return cond();
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  auto f = asio::co_spawn(io, std::move(a), asio::use_future);
  run_until(io, [&] { return f.wait_for(0s) == std::future_status::ready; });
  return f.get();
}

// Standalone, and a one-node Redis Cluster (which refuses a read naming two slots' streams, as
// a real cluster does: the tailer then reads one slot per command, polling).
class OutboxTailerModes : public ::testing::TestWithParam<bool> {
 protected:
  static testing::RedisServer::Options server_options() {
    testing::RedisServer::Options o;
    o.cluster = GetParam();
    return o;
  }
};

// A queue that exists when tailing begins is followed from its stream's end (reported through
// on_new_queue, the receiver resyncs it); one created later is read from its start.
TEST_P(OutboxTailerModes, HandsOnTheEventsTheScriptsWroteInSeqOrder) {
  // Two queues in two slots: one read naming both would be refused by a cluster (CROSSSLOT).
  ASSERT_NE(redis::key_slot(redis_keys::outbox("q")), redis::key_slot(redis_keys::outbox("r")));
  testing::RedisServer server(server_options());
  asio::io_context io;
  redis::RedisClient client(io, options_for(server));
  RedisStore store(client);
  ConfigPatch p;
  p.admit_per_s = 0;
  ASSERT_TRUE(run(io, store.put_queue("q", p, T0)).ok());  // seq 1, before tailing began

  metrics::Registry m;
  Collect sink;
  std::vector<std::string> new_queues;
  OutboxTailer tailer(io, options_for(server), sink, m, [] {},
                      [&](const std::string& q) { new_queues.push_back(q); });
  tailer.start();
  ASSERT_TRUE(run_until(io, [&] { return !new_queues.empty(); }));
  EXPECT_EQ(new_queues, std::vector<std::string>{"q"});

  auto t = run(io, store.join("q", "", T0 + 1));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(run(io, store.leave("q", t->id, T0 + 2)).ok());
  ASSERT_TRUE(run(io, store.put_queue("r", p, T0 + 3)).ok());  // a new queue: from its start
  ASSERT_TRUE(run_until(io, [&] { return sink.events.size() >= 3; }))
      << sink.events.size() << " events";
  ASSERT_EQ(sink.events.size(), 3u);
  std::vector<Event> q_events, r_events;
  for (auto& e : sink.events) (e.queue == "q" ? q_events : r_events).push_back(e);
  ASSERT_EQ(q_events.size(), 2u);
  EXPECT_EQ(q_events[0].seq, 2u);
  EXPECT_EQ(q_events[0].type, EventType::joined);
  EXPECT_EQ(q_events[0].ticket, t->id);
  EXPECT_EQ(q_events[0].order, 1u);
  EXPECT_EQ(q_events[0].at_ms, T0 + 1);
  EXPECT_EQ(q_events[1].seq, 3u);
  EXPECT_EQ(q_events[1].type, EventType::left);
  EXPECT_EQ(q_events[1].at_ms, T0 + 2);
  ASSERT_EQ(r_events.size(), 1u);
  EXPECT_EQ(r_events[0].queue, "r");
  EXPECT_EQ(r_events[0].seq, 1u);
  EXPECT_EQ(r_events[0].type, EventType::config_changed);
  EXPECT_EQ(new_queues.size(), 1u);  // "r" came after priming: nothing to resync
  tailer.stop();
}

INSTANTIATE_TEST_SUITE_P(Modes, OutboxTailerModes, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "cluster" : "standalone";
                         });

TEST(PubSubFeed, DecodesPublishedEventsAndResyncsOnEveryResubscribe) {
  testing::RedisServer server;
  asio::io_context io;
  redis::RedisClient client(io, options_for(server));
  metrics::Registry m;
  Collect sink;
  int resyncs = 0;
  PubSubFeed feed(io, options_for(server), sink, m, [&] { ++resyncs; });
  feed.start();
  ASSERT_TRUE(run_until(io, [&] { return resyncs == 1; }));

  Event e;
  e.queue = "q";
  e.seq = 9;
  e.type = EventType::admitted;
  e.ticket = "AbCdEfGhIjKlMnOpQrSt-_";
  e.order = 4;
  e.at_ms = T0;
  e.expires_ms = T0 + 600'000;
  auto publish = [&](std::string bytes) {
    std::vector<std::string> argv{"PUBLISH", std::string(redis_keys::kEventsChannel),
                                  std::move(bytes)};
    return run(io, client.command(std::move(argv)));
  };
  ASSERT_EQ(publish("not an event").value().integer, 1);  // dropped (counted), not delivered
  ASSERT_EQ(publish(encode_event(e)).value().integer, 1);
  ASSERT_TRUE(run_until(io, [&] { return !sink.events.empty(); }));
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(encode_event(sink.events[0]), encode_event(e));

  // Redis drops the subscriber: the feed subscribes again by itself and asks for a resync.
  std::vector<std::string> kill{"CLIENT", "KILL", "TYPE", "pubsub"};
  ASSERT_EQ(run(io, client.command(std::move(kill))).value().integer, 1);
  ASSERT_TRUE(run_until(io, [&] { return resyncs == 2; })) << "no resubscribe";
  e.seq = 10;
  ASSERT_EQ(publish(encode_event(e)).value().integer, 1);
  ASSERT_TRUE(run_until(io, [&] { return sink.events.size() == 2; }));
  EXPECT_EQ(sink.events[1].seq, 10u);

  // stop() closes the subscription at once: Redis counts no subscriber any more.
  feed.stop();
  std::vector<std::string> numsub{"PUBSUB", "NUMSUB", std::string(redis_keys::kEventsChannel)};
  EXPECT_TRUE(run_until(io, [&] {
    auto r = run(io, client.command(numsub));
    return r.ok() && r->elements.size() == 2 && r->elements[1].integer == 0;
  }));
}

}  // namespace
}  // namespace anteroom
