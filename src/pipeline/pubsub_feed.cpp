#include "pipeline/pubsub_feed.hpp"

#include <hiredis/async.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/event_codec.hpp"
#include "store/redis/asio_adapter.hpp"

namespace anteroom {

namespace asio = boost::asio;

// One connection's life. hiredis callbacks only flip flags and wake the loop.
struct PubSubFeed::Conn {
  PubSubFeed* feed;
  redisAsyncContext* ac = nullptr;
  bool dead = false;
  bool subscribed = false;
  asio::steady_timer wake;
  explicit Conn(PubSubFeed* f, asio::io_context& io) : feed(f), wake(io) {}
};

namespace {

void on_connect(const redisAsyncContext* ac, int status) {
  auto* c = static_cast<PubSubFeed::Conn*>(ac->data);
  if (status != REDIS_OK && c) {
    c->dead = true;
    c->ac = nullptr;  // hiredis frees the context after a failed connect
    c->wake.cancel();
  }
}

void on_disconnect(const redisAsyncContext* ac, int) {
  auto* c = static_cast<PubSubFeed::Conn*>(ac->data);
  if (!c) return;
  c->dead = true;
  c->ac = nullptr;
  c->wake.cancel();
}

}  // namespace

PubSubFeed::PubSubFeed(asio::io_context& io, redis::RedisOptions opts, std::string channel,
                       EventSink& sink, metrics::Registry& m, std::function<void()> on_subscribed)
    : io_(io),
      opts_(std::move(opts)),
      channel_(std::move(channel)),
      sink_(sink),
      on_subscribed_(std::move(on_subscribed)),
      m_messages_(m.counter("pubsub_messages_total", "Events received over Redis Pub/Sub")),
      m_reconnects_(m.counter("pubsub_reconnects_total", "Pub/Sub subscriptions re-established")),
      m_bad_(m.counter("pubsub_bad_messages_total", "Pub/Sub messages that were not events")) {}

PubSubFeed::~PubSubFeed() { stop(); }

void PubSubFeed::start() {
  *running_ = true;
  asio::co_spawn(io_, loop(), asio::detached);
}

void PubSubFeed::stop() {
  *running_ = false;
  if (conn_ && conn_->ac) {
    conn_->ac->data = nullptr;
    redisAsyncDisconnect(conn_->ac);
    conn_->ac = nullptr;
  }
  if (conn_) conn_->wake.cancel();
}

// The callback of SUBSCRIBE: first the confirmation, then one call per message.
static void on_reply(redisAsyncContext* ac, void* r, void*) {
  auto* c = static_cast<PubSubFeed::Conn*>(ac->data);
  auto* reply = static_cast<redisReply*>(r);
  if (!c || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  if (kind == "subscribe") {
    c->subscribed = true;
    c->wake.cancel();
  } else if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
    c->feed->deliver(std::string_view(reply->element[2]->str, reply->element[2]->len));
  }
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

asio::awaitable<void> PubSubFeed::loop() {
  auto running = running_;
  int failures = 0;
  bool first = true;
  while (*running) {
    auto conn = std::make_shared<Conn>(this, io_);
    conn_ = conn;
    redisAsyncContext* ac = redisAsyncConnect(opts_.host.c_str(), opts_.port);
    if (!ac || ac->err) {
      if (ac) redisAsyncFree(ac);
      conn->dead = true;
    } else {
      conn->ac = ac;
      ac->data = conn.get();
      redis::attach_asio(ac, io_.get_executor());
      redisAsyncSetConnectCallback(ac, on_connect);
      redisAsyncSetDisconnectCallback(ac, on_disconnect);
      if (!opts_.password.empty()) {
        if (opts_.user.empty()) redisAsyncCommand(ac, nullptr, nullptr, "AUTH %s", opts_.password.c_str());
        else redisAsyncCommand(ac, nullptr, nullptr, "AUTH %s %s", opts_.user.c_str(), opts_.password.c_str());
      }
      redisAsyncCommand(ac, on_reply, nullptr, "SUBSCRIBE %b", channel_.data(), channel_.size());
    }
    bool announced = false;
    while (*running && !conn->dead) {
      conn->wake.expires_after(std::chrono::seconds(1));
      co_await conn->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      if (conn->subscribed && !announced) {
        announced = true;
        failures = 0;
        if (!first) m_reconnects_.inc();
        first = false;
        spdlog::info("pubsub: subscribed to {}", channel_);
        // Anything published while we were not subscribed is lost to us: resync from Redis.
        if (on_subscribed_) on_subscribed_();
      }
    }
    if (!*running) co_return;
    spdlog::warn("pubsub: subscription to {} lost; reconnecting", channel_);
    asio::steady_timer t(io_, std::chrono::milliseconds(std::min(1000, 50 << std::min(failures++, 5))));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace anteroom
