#include "store/ticker.hpp"

#include <algorithm>

#include "core/encoding.hpp"


namespace anteroom {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

Millis Ticker::lease_for(std::chrono::milliseconds interval) {
  return std::max<Millis>(1000, 10 * interval.count());
}

Ticker::Ticker(asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval,
               TickerOptions options)
    : store_(store),
      interval_(interval),
      options_(std::move(options)),
      tasks_(io.get_executor()) {
  if (options_.lease_ms <= 0) options_.lease_ms = lease_for(interval_);
}

void Ticker::start() { tasks_.spawn(loop()); }

void Ticker::stop() { tasks_.stop(); }

asio::awaitable<void> Ticker::loop() {
  auto next = Clock::now();
  for (;;) {
    next += interval_;
    bool woke = co_await async::sleep_until(next);
    if (!woke) co_return;
    Millis now = wall_ms();
    auto queues = co_await store_.queue_names();
    if (co_await async::cancelled()) co_return;
    if (!queues) continue;  // store unavailable: try again next tick
    // Queues forgotten since the last round take their entries with them.
    std::unordered_map<std::string, Clock::time_point> elsewhere;
    // Closed queues too: their active sessions still expire, and the tick forgets them once
    // those are over (rules::forgettable).
    for (auto& q : *queues) {
      auto it = elsewhere_.find(q);
      if (it != elsewhere_.end() && Clock::now() < it->second) {
        elsewhere.emplace(q, it->second);
        continue;
      }
      auto r = co_await store_.tick_leased(q, now, options_.node, options_.lease_ms);
      if (co_await async::cancelled()) co_return;
      if (!r) continue;  // an error: ask again next round
      if (r->elsewhere_ms > 0)
        elsewhere.emplace(q, Clock::now() + std::chrono::milliseconds(r->elsewhere_ms));
      if (options_.observe) options_.observe(q, r->elsewhere_ms == 0);
    }
    elsewhere_ = std::move(elsewhere);
    // Never try to catch up a backlog of missed ticks in a burst.
    if (Clock::now() > next + interval_) next = Clock::now();
  }
}

}  // namespace anteroom
