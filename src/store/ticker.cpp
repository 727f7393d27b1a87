#include "store/ticker.hpp"

#include <algorithm>

#include "core/encoding.hpp"


namespace anteroom {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

Millis Ticker::lease_for(std::chrono::milliseconds interval) {
  return std::max<Millis>(3000, 10 * interval.count());
}

Ticker::Ticker(asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval,
               TickerOptions options)
    : store_(store),
      interval_(interval),
      options_(std::move(options)),
      tasks_(io.get_executor()) {
  if (options_.lease_ms <= 0) options_.lease_ms = lease_for(interval_);
}

void Ticker::start() {
  tasks_.spawn(names_loop(stopped_));
  for (size_t k = 0; k < kLanes; ++k) tasks_.spawn(lane(k, stopped_));
}

void Ticker::stop() {
  *stopped_ = true;
  tasks_.stop();
  in_flight_.fill(nullptr);  // the lanes' rounds (and the names they point into) end
}

void Ticker::publish(const Event& e) {
  for (size_t k = 0; k < kLanes; ++k)
    if (in_flight_[k] && *in_flight_[k] == e.queue) woken_[k] = true;
  if (!idle_.empty()) idle_.erase(e.queue);
}

asio::awaitable<void> Ticker::names_loop(std::shared_ptr<const bool> stopped) {
  auto next = Clock::now();
  for (bool more = true; more;) {
    auto queues = co_await store_.queue_names();
    if (*stopped) co_return;
    if (co_await async::cancelled()) co_return;
    if (queues) {  // else the store is unavailable: the lanes tick the last names read
      names_ = std::make_shared<const std::vector<std::string>>(std::move(queues).value());
      // Queues forgotten since take their entries with them.
      auto gone = [this](const auto& e) {
        return !std::binary_search(names_->begin(), names_->end(), e.first);
      };
      std::erase_if(elsewhere_, gone);
      std::erase_if(idle_, gone);
    }
    next += interval_;
    if (Clock::now() > next) next = Clock::now();
    more = co_await async::sleep_until(next);
    if (*stopped) co_return;
  }
}

namespace {
// True while `q` is in `until` with a time still ahead; drops a passed entry.
bool skip(std::unordered_map<std::string, Clock::time_point>& until, const std::string& q) {
  auto it = until.find(q);
  if (it == until.end()) return false;
  if (Clock::now() < it->second) return true;
  until.erase(it);
  return false;
}
}  // namespace

asio::awaitable<void> Ticker::lane(size_t k, std::shared_ptr<const bool> stopped) {
  const Millis idle_max = options_.lease_ms / 3;
  auto next = Clock::now();
  for (bool more = true; more;) {
    next += interval_;
    more = co_await async::sleep_until(next);
    if (!more || *stopped) co_return;
    auto names = names_;  // this round's names, kept alive while the round runs
    if (!names) continue;
    Millis now = wall_ms();
    // Closed queues too: their active sessions still expire, and the tick forgets them once
    // those are over (rules::forgettable).
    for (const auto& q : *names) {
      if (std::hash<std::string>{}(q) % kLanes != k) continue;
      if (skip(elsewhere_, q) || skip(idle_, q)) continue;
      in_flight_[k] = &q;  // (names, which q is in, lives until the round ends)
      woken_[k] = false;
      auto r = co_await store_.tick_leased(q, now, options_.node, options_.lease_ms,
                                           options_.node.empty() ? 0 : idle_max);
      if (*stopped) co_return;  // (stop() cleared in_flight_)
      if (co_await async::cancelled()) co_return;
      in_flight_[k] = nullptr;
      if (!r) continue;  // an error: ask again next round
      if (r->elsewhere_ms > 0)
        elsewhere_[q] = Clock::now() + std::chrono::milliseconds(r->elsewhere_ms);
      if (r->idle_ms > 0 && !woken_[k])
        idle_[q] = Clock::now() + std::chrono::milliseconds(r->idle_ms);
      if (options_.observe) options_.observe(q, r->elsewhere_ms == 0);
    }
    // Never try to catch up a backlog of missed ticks in a burst.
    if (Clock::now() > next + interval_) next = Clock::now();
  }
}

}  // namespace anteroom
