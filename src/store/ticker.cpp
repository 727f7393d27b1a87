#include "store/ticker.hpp"

#include "core/encoding.hpp"


namespace anteroom {

namespace asio = boost::asio;

Ticker::Ticker(asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval)
    : store_(store), interval_(interval), tasks_(io.get_executor()) {}

void Ticker::start() { tasks_.spawn(loop()); }

void Ticker::stop() { tasks_.stop(); }

asio::awaitable<void> Ticker::loop() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    next += interval_;
    bool woke = co_await async::sleep_until(next);
    if (!woke) co_return;
    Millis now = wall_ms();
    auto queues = co_await store_.queue_names();
    if (co_await async::cancelled()) co_return;
    if (!queues) continue;  // store unavailable: try again next tick
    // Closed queues too: their active sessions still expire, and the tick forgets them once
    // those are over (rules::forgettable).
    for (auto& q : *queues) {
      (void)co_await store_.tick(q, now);
      if (co_await async::cancelled()) co_return;
    }
    // Never try to catch up a backlog of missed ticks in a burst.
    if (std::chrono::steady_clock::now() > next + interval_) next = std::chrono::steady_clock::now();
  }
}

}  // namespace anteroom
