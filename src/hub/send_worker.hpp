#pragma once
// One helper thread for the hub's large fan-outs: when an update reaches thousands of streams
// at once, the sends (each a loopback/TCP transmit in the kernel) are split between the io
// thread and this one. Fork-join only: run() hands over a job, the io thread does its own half,
// wait() returns when the helper's half is done. The helper touches nothing but the sockets'
// file descriptors and bytes it was given (fanout.hpp), and only between run() and wait().
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace anteroom {

class SendWorker {
 public:
  SendWorker() : thread_([this] { loop(); }) {}
  ~SendWorker() {
    {
      std::lock_guard l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SendWorker(const SendWorker&) = delete;
  SendWorker& operator=(const SendWorker&) = delete;

  void run(std::function<void()> job) {
    {
      std::lock_guard l(m_);
      job_ = std::move(job);
      done_ = false;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return done_; });
  }

 private:
  void loop() {
    std::unique_lock l(m_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || job_; });
      if (stop_) return;
      auto job = std::move(job_);
      job_ = nullptr;
      l.unlock();
      job();
      l.lock();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool done_ = true;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace anteroom
