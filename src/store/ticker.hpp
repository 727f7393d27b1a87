#pragma once
// Drives admission: every `interval`, runs QueueStore::tick for every open queue. Any number of
// processes may run one against a shared store; the store keeps the rate global.
//
// Runs on the io_context given; stop() ends it at once (its wait is cancelled).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "async/task_group.hpp"

#include "store/queue_store.hpp"

namespace anteroom {

class Ticker {
 public:
  Ticker(boost::asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> loop();
  QueueStore& store_;
  std::chrono::milliseconds interval_;
  async::TaskGroup tasks_;
};

}  // namespace anteroom
