#include "store/ticker.hpp"

#include "core/encoding.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace anteroom {

namespace asio = boost::asio;

Ticker::Ticker(asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval)
    : io_(io), store_(store), interval_(interval) {}

Ticker::~Ticker() { *running_ = false; }

void Ticker::start() {
  *running_ = true;
  asio::co_spawn(io_, loop(), asio::detached);
}

void Ticker::stop() { *running_ = false; }

asio::awaitable<void> Ticker::loop() {
  auto running = running_;
  asio::steady_timer t(io_);
  auto next = std::chrono::steady_clock::now();
  while (*running) {
    next += interval_;
    t.expires_at(next);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!*running) co_return;
    Millis now = wall_ms();
    auto queues = co_await store_.queue_names();
    if (!*running) co_return;
    if (!queues) continue;  // store unavailable: try again next tick
    // Closed queues too: their active sessions still expire.
    for (auto& q : *queues) {
      (void)co_await store_.tick(q, now);
      if (!*running) co_return;
    }
    // Never try to catch up a backlog of missed ticks in a burst.
    if (std::chrono::steady_clock::now() > next + interval_) next = std::chrono::steady_clock::now();
  }
}

}  // namespace anteroom
