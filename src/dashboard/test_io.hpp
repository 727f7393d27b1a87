#pragma once
// The dashboard tests' way to drive an io_context on the test's thread (the dashboard's own
// loop goes on meanwhile): run one coroutine to its end, or run until a condition holds. Both
// fail rather than hang. Test-only.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <stdexcept>

namespace anteroom::dashboard::test_io {

template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  using namespace std::chrono_literals;
  auto fut = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fut.wait_for(0s) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("a call did not finish in 10 s");
    io.run_one_for(10ms);
  }
  return fut.get();
}

// Runs io until `done()` holds; false after `limit`.
template <class F>
bool run_until(boost::asio::io_context& io, F done, std::chrono::seconds limit) {
  using namespace std::chrono_literals;
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(10ms);
  }
  return true;
}

}  // namespace anteroom::dashboard::test_io
