#pragma once
// Drives admission: every `interval`, runs QueueStore::tick for every open queue. Any number of
// processes may run one against a shared store; the store keeps the rate global.
//
// Runs on the io_context given; stop() ends it at its next wake-up.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "store/queue_store.hpp"

namespace anteroom {

class Ticker {
 public:
  Ticker(boost::asio::io_context& io, QueueStore& store, std::chrono::milliseconds interval);
  ~Ticker();
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::io_context& io_;
  QueueStore& store_;
  std::chrono::milliseconds interval_;
  std::shared_ptr<bool> running_ = std::make_shared<bool>(false);
};

}  // namespace anteroom
