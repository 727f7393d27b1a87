#include "pipeline/pubsub_feed.hpp"

#include <spdlog/spdlog.h>

#include "core/event_codec.hpp"
#include "store/redis/keys.hpp"

namespace anteroom {

PubSubFeed::PubSubFeed(boost::asio::io_context& io, redis::RedisOptions opts, EventSink& sink,
                       metrics::Registry& m, std::function<void()> on_subscribed)
    : io_(io),
      opts_(std::move(opts)),
      sink_(sink),
      on_subscribed_(std::move(on_subscribed)),
      m_messages_(m.counter("pubsub_messages_total", "Events received over Redis Pub/Sub")),
      m_reconnects_(m.counter("pubsub_reconnects_total", "Pub/Sub subscriptions re-established")),
      m_bad_(m.counter("pubsub_bad_messages_total", "Pub/Sub messages that were not events")) {}

PubSubFeed::~PubSubFeed() { stop(); }

void PubSubFeed::start() {
  client_ = std::make_unique<redis::RedisClient>(io_, opts_);
  client_->subscribe(
      std::string(redis_keys::kEventsChannel), [this](std::string_view p) { deliver(p); },
      [this] { subscribed(); });
}

void PubSubFeed::stop() { client_.reset(); }

void PubSubFeed::subscribed() {
  if (!first_) m_reconnects_.inc();
  first_ = false;
  spdlog::info("pubsub: subscribed to {}", redis_keys::kEventsChannel);
  // Anything published while we were not subscribed is lost to us: resync from Redis.
  if (on_subscribed_) on_subscribed_();
}

void PubSubFeed::deliver(std::string_view payload) {
  auto e = decode_event(payload);
  if (!e) {
    m_bad_.inc();
    return;
  }
  m_messages_.inc();
  sink_.publish(*e);
}

}  // namespace anteroom
