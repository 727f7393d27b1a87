// The relay against a real redis-server (standalone, and a one-node Redis Cluster, which refuses
// a read naming two slots' streams as a real cluster does) and the project's kafka-mock: every
// queue's outbox reaches Kafka, in seq order per queue, and is emptied once Kafka confirmed it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <map>

#include "core/event_codec.hpp"
#include "pipeline/relay.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/slots.hpp"
#include "store/redis_store.hpp"
#include "support/kafka_mock.hpp"
#include "support/kafka_reader.hpp"
#include "support/redis_server.hpp"

namespace anteroom {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr Millis T0 = 1'700'000'000'000;

// Runs `io` until `cond` holds or `limit` passed; the condition is checked between handlers.
bool run_until(asio::io_context& io, const std::function<bool()>& cond,
               std::chrono::milliseconds limit = 30s) {
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

class RelayModes : public ::testing::TestWithParam<bool> {};

TEST_P(RelayModes, RelaysEveryQueuesOutboxInSeqOrderAndEmptiesIt) {
  const std::vector<std::string> queues{"q", "r", "s"};
  // Outboxes in different slots: one XREADGROUP naming them all is CROSSSLOT on a cluster.
  ASSERT_NE(redis::key_slot(redis_keys::outbox("q")), redis::key_slot(redis_keys::outbox("r")));
  testing::RedisServer::Options so;
  so.cluster = GetParam();
  testing::RedisServer server(so);
  testing::KafkaMock kafka;
  asio::io_context io;
  redis::RedisOptions ro;
  ro.port = server.port();
  ro.cluster = server.cluster();
  redis::RedisClient client(io, ro);
  RedisStore store(client);
  ConfigPatch p;
  p.admit_per_s = 0;
  std::map<std::string, uint64_t> want;  // queue -> events written (seq 1..n)
  for (size_t i = 0; i < queues.size(); ++i) {
    ASSERT_TRUE(run(io, store.put_queue(queues[i], p, T0)).ok());
    for (size_t j = 0; j <= i; ++j) ASSERT_TRUE(run(io, store.join(queues[i], "", T0 + 1)).ok());
    want[queues[i]] = 2 + i;
  }
  auto outboxes_empty = [&] {
    for (auto& q : queues) {
      std::vector<std::string> xlen{"XLEN", redis_keys::outbox(q)};
      auto n = run(io, client.command(std::move(xlen)));
      if (!n.ok() || n->integer != 0) return false;
    }
    return true;
  };

  metrics::Registry m;
  kafka::KafkaOptions ko;
  ko.brokers = kafka.brokers();
  Relay relay(io, ro, ko, "node-a", m);
  relay.start();
  ASSERT_TRUE(run_until(io, outboxes_empty)) << "the history was not relayed";
  // New events after the relay caught up (the read of new entries, not the history).
  ASSERT_TRUE(run(io, store.join("r", "", T0 + 2)).ok());
  ++want["r"];
  ASSERT_TRUE(run_until(io, outboxes_empty)) << "a new event was not relayed";
  run(io, relay.stop(2s));

  std::map<std::string, std::vector<uint64_t>> got;
  for (auto& rec : testing::ReadTopic(kafka.brokers(), ko.topic)) {
    auto e = decode_event(rec.value);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->queue, rec.key);
    got[rec.key].push_back(e->seq);
  }
  for (auto& [q, n] : want) {
    std::vector<uint64_t> seqs;
    for (uint64_t s = 1; s <= n; ++s) seqs.push_back(s);
    EXPECT_EQ(got[q], seqs) << q;  // each once, in order (one partition per key)
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, RelayModes, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "cluster" : "standalone";
                         });

}  // namespace
}  // namespace anteroom
