#pragma once
// PubSubFeed: every process's subscription to the events channel. Decoded events go to the
// EventSink (the hub), which drops duplicates and resynchronises on a seq gap. Pub/Sub drops
// messages while a subscriber is disconnected, so after every (re)subscribe `on_subscribed`
// is called to resynchronise from Redis, the source of truth.
//
// Threading: one dedicated hiredis connection driven by the io_context given; reconnects by
// itself with backoff. stop() before destroying.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/event_sink.hpp"
#include "metrics/metrics.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class PubSubFeed {
 public:
  PubSubFeed(boost::asio::io_context& io, redis::RedisOptions opts, std::string channel,
             EventSink& sink, metrics::Registry& m, std::function<void()> on_subscribed);
  ~PubSubFeed();
  void start();
  void stop();
  // Called from the hiredis callback with one message's payload.
  void deliver(std::string_view payload);

  struct Conn;

 private:
  boost::asio::awaitable<void> loop();

  boost::asio::io_context& io_;
  redis::RedisOptions opts_;
  std::string channel_;
  EventSink& sink_;
  std::function<void()> on_subscribed_;
  std::shared_ptr<Conn> conn_;
  std::shared_ptr<bool> running_ = std::make_shared<bool>(false);
  metrics::Counter& m_messages_;
  metrics::Counter& m_reconnects_;
  metrics::Counter& m_bad_;
};

}  // namespace anteroom
