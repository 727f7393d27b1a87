#pragma once
// The WebhookJobStore conformance suite: one set of tests that every job store must pass (as
// src/store/conformance/ is for QueueStore). A store's test file provides a JobStoreHarness
// factory and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, JobStoreConformance, ::testing::Values(&make_memory),
//                            job_harness_name);
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <memory>

#include "webhooks/job_store.hpp"

namespace anteroom::conformance {

class JobStoreHarness {
 public:
  virtual ~JobStoreHarness() = default;
  virtual WebhookJobStore& jobs() = 0;

  boost::asio::io_context io;

  // Runs one store coroutine to completion on io.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    auto fut = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
    io.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return fut.get();
  }
};

using JobHarnessFactory = std::unique_ptr<JobStoreHarness> (*)();

// Test names must not depend on the factory's address (it changes between runs).
inline std::string job_harness_name(const ::testing::TestParamInfo<JobHarnessFactory>&) {
  return "jobs";
}

class JobStoreConformance : public ::testing::TestWithParam<JobHarnessFactory> {
 protected:
  void SetUp() override { h_ = GetParam()(); }
  void TearDown() override { h_.reset(); }
  WebhookJobStore& s() { return h_->jobs(); }
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    return h_->run(std::move(a));
  }
  std::unique_ptr<JobStoreHarness> h_;
};

}  // namespace anteroom::conformance
