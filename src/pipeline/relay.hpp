#pragma once
// Relay: drains the per-queue outbox streams in Redis into the Kafka topic (key = queue name,
// idempotent producer, acks=all), and removes an entry (XACK + XDEL) only after Kafka's delivery
// report said it is stored. What is in the outbox is therefore exactly what Kafka has not
// confirmed yet.
//
// One relay at a time per queue: a process holds a lease (aq:{q}:relay, renewed every second,
// lost after kLeaseMs) for each queue it relays, so one queue's events reach Kafka in seq order
// from one producer. A process that takes over a queue first claims the previous holder's
// pending entries (XAUTOCLAIM) and produces them again, in order, before new ones; Kafka may
// then hold an event twice (same id), which consumers drop by seq.
//
// Kafka down: the producer keeps messages and retries (message.timeout.ms is long); the outbox
// keeps every entry until it is confirmed. A delivery that fails for good rewinds the queue:
// its pending entries are produced again once nothing is in flight.
//
// Reads: standalone, one XREADGROUP BLOCK over every queue it relays (its own connection);
// under Redis Cluster (RedisOptions::cluster) one read per slot, all at once, not blocking,
// polled adaptively (pipeline/slot_reads.hpp).
//
// A queue the store forgot (closed, sessions over) is no longer listed; its outbox outlives it
// for a while, and the relay reads it on until everything in it is confirmed, then lets it go.
//
// Each entry's event bytes (core/event_codec.hpp, encoded by the store's script) become the
// Kafka message value untouched; the relay never decodes an event.
//
// Threading: everything on the io_context given. Lifetime: co_await stop(grace) before
// destroying; the loops run in an async::TaskGroup and end at once when it stops.
#include <librdkafka/rdkafka.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>

#include "async/task_group.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/kafka_io.hpp"
#include "pipeline/slot_reads.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class Relay {
 public:
  static constexpr int64_t kLeaseMs = 5000;
  static constexpr int64_t kOutboxAlarm = 1'000'000;  // backlog per queue that logs an alarm

  // Throws std::runtime_error if the Kafka producer cannot be created (bad settings).
  Relay(boost::asio::io_context& io, redis::RedisOptions ropts, kafka::KafkaOptions kopts,
        std::string node_id, metrics::Registry& m);
  ~Relay();
  void start();
  // Stops the loops at once, then, within `grace`, waits for in-flight deliveries and for a
  // loop still in a Redis call (an ack batch it started is finished, not dropped), and gives
  // up its leases.
  boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

 private:
  struct Owned;
  struct Delivery;
  boost::asio::awaitable<void> lease_loop();
  boost::asio::awaitable<void> read_loop();
  // XREADGROUP of the outboxes `keys` from `ids` (BLOCK 200 ms if `block`): the relay's one read
  // of a group of outboxes (all of them standalone, one slot's in cluster mode).
  boost::asio::awaitable<Result<redis::RedisReply>> read_group(std::vector<std::string> keys,
                                                               std::vector<std::string> ids,
                                                               bool block);
  size_t produce(const redis::RedisReply& r, std::map<std::string, size_t>& seen);
  boost::asio::awaitable<void> delivery_loop();
  boost::asio::awaitable<void> take_over(std::string queue);
  boost::asio::awaitable<bool> claim(std::string queue, int64_t min_idle_ms,
                                     int64_t* claimed = nullptr);
  boost::asio::awaitable<void> claim_stale(std::string queue);
  boost::asio::awaitable<void> let_go_of_forgotten(const redis::RedisReply& names);
  boost::asio::awaitable<void> flush_acks();
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);
  void delivered(Delivery* d, rd_kafka_resp_err_t e);

  kafka::KafkaOptions kopts_;
  std::string node_;
  std::unique_ptr<redis::RedisClient> reader_;  // XREADGROUP BLOCK
  std::unique_ptr<redis::RedisClient> ctl_;     // leases, acks, claims
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  std::unique_ptr<kafka::QueueWaker> waker_;
  std::map<std::string, std::unique_ptr<Owned>> owned_;
  std::map<std::string, std::vector<std::string>> to_ack_;  // queue -> confirmed entry ids
  int64_t inflight_ = 0;
  slot_reads::SlotPoll poll_;  // cluster mode: when each slot's outboxes are read next

  metrics::Counter& m_produced_;
  metrics::Counter& m_delivered_;
  metrics::Counter& m_errors_;
  metrics::Counter& m_claimed_;
  metrics::Gauge& m_backlog_;
  metrics::Gauge& m_lag_ms_;
  async::TaskGroup tasks_;  // lease, read and delivery loops
};

}  // namespace anteroom
