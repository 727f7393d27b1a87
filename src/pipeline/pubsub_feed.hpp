#pragma once
// PubSubFeed: every process's subscription to the events channel (redis_keys::kEventsChannel),
// the receiving end of the Kafka pipeline's fan-out: EventConsumer PUBLISHes each event there
// (its bytes untouched), and every process's feed decodes it once and hands it to the EventSink
// (the hub), which drops duplicates and resynchronises on a seq gap. Pub/Sub drops messages
// while a subscriber is disconnected, so after every (re)subscribe `on_subscribed` is called to
// resynchronise from Redis, the source of truth.
//
// The connection is a RedisClient in subscribe mode (its own connect/AUTH/backoff/reconnect).
// Threading: runs on the io_context given. stop() acts at once (the subscription is closed);
// stop() or destroy on the io thread.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string_view>

#include "core/event_sink.hpp"
#include "metrics/metrics.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class PubSubFeed {
 public:
  PubSubFeed(boost::asio::io_context& io, redis::RedisOptions opts, EventSink& sink,
             metrics::Registry& m, std::function<void()> on_subscribed);
  ~PubSubFeed();
  void start();
  void stop();

 private:
  void deliver(std::string_view payload);
  void subscribed();

  boost::asio::io_context& io_;
  redis::RedisOptions opts_;
  EventSink& sink_;
  std::function<void()> on_subscribed_;
  std::unique_ptr<redis::RedisClient> client_;  // subscribe mode; null when stopped
  bool first_ = true;
  metrics::Counter& m_messages_;
  metrics::Counter& m_reconnects_;
  metrics::Counter& m_bad_;
};

}  // namespace anteroom
