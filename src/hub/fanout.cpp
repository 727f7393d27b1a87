#include "hub/fanout.hpp"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <cerrno>

#include "hub/stream.hpp"

namespace anteroom {

Fanout::Fanout(SendWorker* worker, size_t capacity, size_t parallel_min)
    : worker_(worker), parallel_(worker && parallel_min > 0 && capacity >= parallel_min) {
  if (!parallel_) return;
  streams_.resize(capacity);
  sends_.resize(capacity);
  worker_->run([this] { send_chunks(); });
}

Fanout::~Fanout() {
  if (parallel_ && !finished_) {  // (only if finish() was skipped: release the worker)
    publish(n_ | kDone);
    worker_->wait();
  }
}

void Fanout::add(Stream& s) {
  if (!parallel_) {
    s.pump();
    return;
  }
  if (!s.prepare() || n_ == sends_.size()) return;
  streams_[n_] = &s;
  sends_[n_].fd = s.fd();
  sends_[n_].bytes = s.out_;
  if (++n_ % kChunk == 0) publish(n_);
}

void Fanout::finish() {
  if (!parallel_) return;
  finished_ = true;
  publish(n_ | kDone);
  send_chunks();
  worker_->wait();
  for (size_t i = 0; i < n_; ++i) {
    boost::system::error_code ec;
    int err = sends_[i].err;
    if (err == EAGAIN || err == EWOULDBLOCK)
      ec = boost::asio::error::would_block;
    else if (err)
      ec.assign(err, boost::system::system_category());
    streams_[i]->written(sends_[i].n, ec);
  }
}

void Fanout::publish(uint64_t v) {
  ready_.store(v, std::memory_order_release);
  ready_.notify_all();
}

// Claims chunks until every published stream is claimed and the flush is done.
void Fanout::send_chunks() {
  for (;;) {
    size_t b = next_.fetch_add(kChunk, std::memory_order_relaxed);
    size_t e = b + kChunk;
    uint64_t r = ready_.load(std::memory_order_acquire);
    while ((r & ~kDone) < e && !(r & kDone)) {
      ready_.wait(r, std::memory_order_acquire);
      r = ready_.load(std::memory_order_acquire);
    }
    e = std::min<size_t>(e, r & ~kDone);
    if (b >= e) return;
    for (size_t i = b; i < e; ++i) {
      Send& s = sends_[i];
      ssize_t n = ::send(s.fd, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0)
        s.n = static_cast<size_t>(n);
      else
        s.err = errno;
    }
  }
}

}  // namespace anteroom
