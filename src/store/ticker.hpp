#pragma once
// Drives admission: every `interval`, ticks every queue of the store. Any number of processes
// may run one against a shared store; the store keeps the rate global.
//
// Shared ticking: each tick goes through QueueStore::tick_leased under this process's node id,
// so of P processes sharing a store only the one holding a queue's tick lease ticks it (and
// renews the lease); the others leave that queue alone until the lease would end, then ask
// again. A store costs one tick call per queue per interval, not P, plus each other process's
// probe once per lease; a process that stops ticking (crash, kill -9) hands its queues over
// within one lease. MemoryStore has one process: it always ticks.
//
// Idle queues: a queue the store reports idle (nobody waiting, no close in progress: QueueStore::
// TickOutcome::idle_ms) is left alone until then, at most a third of a lease (so its holder
// still renews the lease), or until an event of that queue reaches the ticker (publish(): a
// join, a config change; main subscribes it to the process's event feed), whichever is first.
// A thousand idle queues cost Redis a thousand tick calls a second, not ten thousand.
//
// The queues are ticked by kLanes coroutines, each its share of the names (by hash), so the
// calls of one round overlap (a Redis client pipelines them) instead of waiting for each other:
// a round of a thousand queues takes a few round trips, not a thousand.
//
// Runs on the io_context given; stop() ends it at once (its waits are cancelled).
#include <array>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "async/task_group.hpp"

#include "core/event_sink.hpp"
#include "store/queue_store.hpp"

namespace anteroom {

struct TickerOptions {
  std::string node;  // the lease holder's name; empty: tick every queue unleased
  // How long a lease lasts without renewal: the hand-over time when its holder dies.
  // 0: lease_for(interval).
  Millis lease_ms = 0;
  // Called after each tick call that reached the store: true if this process ticked the
  // queue, false if another process holds it (metrics, tests).
  std::function<void(std::string_view queue, bool ticked)> observe;
};

class Ticker final : public EventSink {
 public:
  // The default lease: 10 intervals, at least 3 s (a slow round of many queues, or an idle
  // queue ticked once a third of a lease, must not lose its lease between two ticks).
  static Millis lease_for(std::chrono::milliseconds interval);

  Ticker(boost::asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval,
         TickerOptions options = {});
  void start();
  void stop();
  // An event of a queue: it is no longer idle (ticked at the next round).
  void publish(const Event& e) override;

 private:
  static constexpr size_t kLanes = 8;
  // `stopped` is the coroutine's own copy of stopped_ (a parameter lives in the frame): checked
  // after every wait, so a loop never touches the ticker after stop(), whatever resumes it.
  boost::asio::awaitable<void> names_loop(std::shared_ptr<const bool> stopped);
  boost::asio::awaitable<void> lane(size_t k, std::shared_ptr<const bool> stopped);
  QueueStore& store_;
  std::chrono::milliseconds interval_;
  TickerOptions options_;
  // The store's queue names, read once a tick by names_loop (null until the first read).
  std::shared_ptr<const std::vector<std::string>> names_;
  // Queues another process ticks → when its lease ends (ask again then).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> elsewhere_;
  // Idle queues → until when (unless an event comes first).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> idle_;
  // Each lane's queue whose tick is on its way (null: none), and whether an event of it came
  // meanwhile: then its idle reply does not count (the event may be of a join the tick did not
  // see). A few pointer compares per event, no per-queue state.
  std::array<const std::string*, kLanes> in_flight_{};
  std::array<bool, kLanes> woken_{};
  // Set by stop(). The task group's cancellation should end the loops by itself; under
  // ThreadSanitizer a loop was seen (1 run in 25) resuming from its sleep's timer after stop()
  // and the ticker's destruction, and reading the freed ticker: this flag does not depend on how
  // the cancellation reached the coroutine.
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
  async::TaskGroup tasks_;
};

}  // namespace anteroom
