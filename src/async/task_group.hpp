#pragma once
// TaskGroup: the one way a component runs its long-lived coroutines (loops, background tasks)
// and stops them. spawn() starts a coroutine bound to a cancellation signal of the group; stop()
// emits a terminal cancellation to every one at once: the timer or socket wait it is suspended
// in completes with operation_aborted right away, and the next co_await in it throws
// (Asio's throw_if_cancelled, on by default), which ends it. The group swallows that exception.
//
// Loops therefore need no "alive" flag of their own: a cancelled wait ends them. After an await
// that cannot be cancelled (a store call), a loop checks `co_await async::cancelled()` before it
// touches its owner again: that reads the coroutine's own state, never the (maybe gone) owner.
//
// Threading: spawn/stop on the executor's thread. Lifetime: the owner calls stop() (the
// destructor does too); coroutines it cancelled finish on the io_context later and touch only
// the group's shared state, which they keep alive.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <chrono>
#include <list>
#include <memory>

namespace anteroom::async {

// False once the calling coroutine was cancelled (its group stopped). Being an awaitable, after
// cancellation its co_await may itself end the caller (throw_if_cancelled): either way the
// caller does not go on. Note: GCC 12 miscompiles a co_await inside a while/for condition
// (SIGILL): take the result into a local first.
inline boost::asio::awaitable<bool> cancelled() {
  auto cs = co_await boost::asio::this_coro::cancellation_state;
  co_return cs.cancelled() != boost::asio::cancellation_type::none;
}

// Waits until `at` on the calling coroutine's executor. False if the wait was cancelled (the
// group stopped): the caller returns.
inline boost::asio::awaitable<bool> sleep_until(std::chrono::steady_clock::time_point at) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, at);
  auto [ec] = co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  auto cs = co_await boost::asio::this_coro::cancellation_state;
  co_return !ec && cs.cancelled() == boost::asio::cancellation_type::none;
}

template <class Duration>
boost::asio::awaitable<bool> sleep_for(Duration d) {
  return sleep_until(std::chrono::steady_clock::now() + d);
}

class TaskGroup {
 public:
  explicit TaskGroup(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  ~TaskGroup() { stop(); }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts `task` now (on the group's executor). After stop(), a spawned task is cancelled at
  // its first await.
  void spawn(boost::asio::awaitable<void> task) {
    auto st = state_;
    // Finished tasks' signals are dropped here, never inside their own completion.
    st->tasks.remove_if([](const Task& t) { return t.done; });
    auto& t = st->tasks.emplace_back();
    ++st->running;
    boost::asio::co_spawn(
        ex_, std::move(task),
        boost::asio::bind_cancellation_slot(t.signal.slot(), [st, &t](std::exception_ptr) {
          t.done = true;  // cancellation (operation_aborted) or a bug: either way it ended
          --st->running;
        }));
    if (st->stopped) t.signal.emit(boost::asio::cancellation_type::terminal);
  }

  // Cancels every task at once. Idempotent.
  void stop() {
    state_->stopped = true;
    for (auto& t : state_->tasks)
      if (!t.done) t.signal.emit(boost::asio::cancellation_type::terminal);
  }
  bool stopped() const { return state_->stopped; }
  // Tasks not yet finished (they finish on the io_context after stop()).
  size_t running() const { return state_->running; }

 private:
  struct Task {
    boost::asio::cancellation_signal signal;
    bool done = false;
  };
  struct State {
    std::list<Task> tasks;  // stable addresses: each task's completion marks its own entry
    size_t running = 0;
    bool stopped = false;
  };
  boost::asio::any_io_executor ex_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace anteroom::async
