#pragma once
// EventConsumer: this process's member of the Kafka consumer group `queue-event-group`. Each
// event reaches one member of the group, which re-broadcasts its bytes untouched on the Redis
// Pub/Sub channel redis_keys::kEventsChannel, to which every process's PubSubFeed subscribes (the
// seed's fan-out). The Kafka offset is stored for commit only after the PUBLISH succeeded: a
// crash or rebalance replays, never skips. Also hands each event, decoded, to the hook given to
// on_event (webhooks), once per consumed message.
//
// Threading: runs on the io_context given. stop() acts at once (async::TaskGroup) and leaves the
// group; call it before destroying.
#include <librdkafka/rdkafka.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

#include "async/task_group.hpp"
#include "core/types.hpp"

#include "metrics/metrics.hpp"
#include "pipeline/kafka_io.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class EventConsumer {
 public:
  // Throws std::runtime_error if the consumer cannot be created.
  EventConsumer(boost::asio::io_context& io, redis::RedisClient& redis, kafka::KafkaOptions kopts,
                std::string node_id, metrics::Registry& m);
  ~EventConsumer();
  void start();
  // Leaves the group cleanly (its partitions move to the others at once).
  void stop();
  // Also hands each consumed event to `hook` (webhooks) and waits until it succeeded before the
  // offset is stored: a crash replays the event, whose consumers drop what they took in before.
  void on_event(std::function<boost::asio::awaitable<Status>(Event)> hook) { hook_ = std::move(hook); }

 private:
  boost::asio::awaitable<void> loop();
  void update_lag();
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque);

  redis::RedisClient& redis_;
  kafka::KafkaOptions kopts_;
  rd_kafka_t* rk_ = nullptr;
  std::unique_ptr<kafka::QueueWaker> waker_;
  std::function<boost::asio::awaitable<Status>(Event)> hook_;
  bool closed_ = false;
  metrics::Counter& m_consumed_;
  metrics::Counter& m_publish_errors_;
  metrics::Counter& m_rebalances_;
  metrics::Gauge& m_lag_;
  metrics::Gauge& m_assigned_;
  async::TaskGroup tasks_;  // the loop
};

}  // namespace anteroom
