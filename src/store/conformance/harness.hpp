#pragma once
// The store conformance suite: one set of tests that every QueueStore must pass. A store's test
// file provides a StoreHarness factory and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(&make_memory_harness),
//                            harness_name);
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "store/queue_store.hpp"

namespace anteroom::conformance {

class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual QueueStore& store() = 0;
  // Every event the store committed for queue q, in seq order (for memory: what reached the
  // sink; for Redis: the outbox stream).
  virtual std::vector<Event> events(const std::string& q) = 0;

  boost::asio::io_context io;

  // Runs one store coroutine to completion on io.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    auto fut = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
    io.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return fut.get();
  }

  // Runs store coroutines concurrently on io (all started before any finishes); results in order.
  template <class T>
  std::vector<T> run_all(std::vector<boost::asio::awaitable<T>> tasks) {
    std::vector<std::future<T>> futs;
    for (auto& t : tasks)
      futs.push_back(boost::asio::co_spawn(io, std::move(t), boost::asio::use_future));
    io.restart();
    std::vector<T> out;
    for (auto& fut : futs) {
      while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
      out.push_back(fut.get());
    }
    return out;
  }
};

using HarnessFactory = std::unique_ptr<StoreHarness> (*)();

// Test names must not depend on the factory's address (it changes between runs).
inline std::string harness_name(const ::testing::TestParamInfo<HarnessFactory>&) {
  return "store";
}

class StoreConformance : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override { h_ = GetParam()(); }
  void TearDown() override { h_.reset(); }
  QueueStore& s() { return h_->store(); }
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    return h_->run(std::move(a));
  }
  template <class T>
  std::vector<T> run_all(std::vector<boost::asio::awaitable<T>> tasks) {
    return h_->run_all(std::move(tasks));
  }
  std::unique_ptr<StoreHarness> h_;
};

}  // namespace anteroom::conformance
