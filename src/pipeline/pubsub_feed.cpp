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

// A message holds one event or several, one per line (EventConsumer batches what it consumed
// at once; an event's encoding has no newline).
void PubSubFeed::deliver(std::string_view payload) {
  for (size_t at = 0; at <= payload.size();) {
    size_t end = payload.find('\n', at);
    if (end == std::string_view::npos) end = payload.size();
    auto e = decode_event(payload.substr(at, end - at));
    at = end + 1;
    if (!e) {
      m_bad_.inc();
      continue;
    }
    m_messages_.inc();
    sink_.publish(*e);
  }
}

}  // namespace anteroom
