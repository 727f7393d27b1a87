#pragma once
// Glue between librdkafka and Boost.Asio: librdkafka writes a byte to a pipe whenever one of its
// queues becomes non-empty (rd_kafka_queue_io_event_enable); we wait on the pipe's read end and
// then serve the queue on the io_context thread. No thread of ours ever blocks in librdkafka.
#include <librdkafka/rdkafka.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace anteroom::kafka {

struct KafkaOptions {
  std::string brokers;
  std::string topic = "queueing-system";
  std::string group = "queue-event-group";
  // How long a fetch may wait for data. A real broker answers as soon as data arrives; the
  // librdkafka mock always waits this long, so it is a floor on delivery latency there.
  int fetch_wait_ms = 10;
};

// Builds an rd_kafka_conf_t from key/value pairs; the error names the bad setting.
Result<rd_kafka_conf_t*> make_conf(const std::vector<std::pair<std::string, std::string>>& kv);

// Owns a pipe whose read end becomes readable when `queue` has events, and the queue handle
// itself (from rd_kafka_queue_get_*), released on destruction: destroy the waker before
// rd_kafka_destroy().
class QueueWaker {
 public:
  QueueWaker(boost::asio::io_context& io, rd_kafka_queue_t* queue);
  ~QueueWaker();
  // Completes when the queue may have events, or after `max_wait` at the latest; at once when
  // the awaiting coroutine is cancelled (async::TaskGroup::stop).
  boost::asio::awaitable<void> wait(std::chrono::milliseconds max_wait);

 private:
  rd_kafka_queue_t* queue_;
  boost::asio::posix::stream_descriptor rd_;
  int wr_ = -1;
};

}  // namespace anteroom::kafka
