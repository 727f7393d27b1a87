#include "pipeline/kafka_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "async/task_group.hpp"

namespace anteroom::kafka {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

Result<rd_kafka_conf_t*> make_conf(const std::vector<std::pair<std::string, std::string>>& kv) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (auto& [k, v] : kv) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return err(Errc::bad_request, "kafka setting " + k + ": " + errstr);
    }
  }
  return conf;
}

QueueWaker::QueueWaker(asio::io_context& io, rd_kafka_queue_t* queue) : queue_(queue), rd_(io) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  rd_.assign(fds[0]);
  wr_ = fds[1];
  rd_kafka_queue_io_event_enable(queue_, wr_, "1", 1);
}

QueueWaker::~QueueWaker() {
  rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
  rd_kafka_queue_destroy(queue_);  // the reference rd_kafka_queue_get_* gave us
  boost::system::error_code ec;
  rd_.close(ec);
  if (wr_ >= 0) ::close(wr_);
}

asio::awaitable<void> QueueWaker::wait(std::chrono::milliseconds max_wait) {
  asio::steady_timer t(rd_.get_executor(), max_wait);
  co_await (rd_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable)) ||
            t.async_wait(asio::as_tuple(asio::use_awaitable)));
  // Cancelled (the owner's TaskGroup stopped): the owner, and this waker, may be gone already.
  if (co_await async::cancelled()) co_return;
  char buf[256];
  while (::read(rd_.native_handle(), buf, sizeof buf) > 0) {
  }
}

}  // namespace anteroom::kafka
