#include "async/task_group.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace anteroom::async {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// (Coroutines are free functions taking pointers: a lambda coroutine would outlive its closure.
// A co_await never sits in a loop condition: GCC 12 miscompiles that.)
asio::awaitable<void> sleeper(int* rounds, bool* ended) {
  for (;;) {
    bool woke = co_await sleep_for(1h);
    if (!woke) break;
    ++*rounds;
  }
  *ended = true;
}

asio::awaitable<void> poster(int* steps) {
  for (;;) {
    ++*steps;
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
}

asio::awaitable<void> one_sleep(bool* woke) { *woke = co_await sleep_for(1h); }

TEST(TaskGroup, StopEndsASleepingLoopAtOnce) {
  asio::io_context io;
  TaskGroup g(io.get_executor());
  int rounds = 0;
  bool ended = false;
  g.spawn(sleeper(&rounds, &ended));
  io.run_for(20ms);
  EXPECT_EQ(g.running(), 1u);
  auto t0 = std::chrono::steady_clock::now();
  g.stop();
  io.run_for(5s);  // returns as soon as nothing is left to run
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(ended);
  EXPECT_EQ(rounds, 0);
  EXPECT_EQ(g.running(), 0u);
}

TEST(TaskGroup, AnAwaitAfterCancellationEndsTheTask) {
  asio::io_context io;
  TaskGroup g(io.get_executor());
  int steps = 0;
  g.spawn(poster(&steps));
  io.run_for(10ms);
  g.stop();
  int at_stop = steps;
  io.run_for(1s);
  EXPECT_LE(steps, at_stop + 2);  // the step in flight may finish; no further one starts
  EXPECT_EQ(g.running(), 0u);
}

TEST(TaskGroup, SpawnAfterStopIsCancelled) {
  asio::io_context io;
  TaskGroup g(io.get_executor());
  g.stop();
  bool woke = false;
  g.spawn(one_sleep(&woke));
  io.run_for(1s);
  EXPECT_FALSE(woke);
  EXPECT_EQ(g.running(), 0u);
}

TEST(TaskGroup, DestroyedOwnerIsNotTouchedByItsCancelledTasks) {
  asio::io_context io;
  struct Owner {
    TaskGroup g;
    int* ticks;
    explicit Owner(asio::io_context& io, int* t) : g(io.get_executor()), ticks(t) {
      g.spawn(loop());
    }
    asio::awaitable<void> loop() {
      for (;;) {
        bool woke = co_await sleep_for(1ms);
        if (!woke) co_return;
        ++*ticks;
      }
    }
  };
  int ticks = 0;
  {
    Owner o(io, &ticks);
    io.run_for(30ms);
  }  // destroyed while its loop is suspended in a wait
  int at_destroy = ticks;
  io.run_for(100ms);
  EXPECT_GT(at_destroy, 0);
  EXPECT_EQ(ticks, at_destroy);
}

}  // namespace
}  // namespace anteroom::async
