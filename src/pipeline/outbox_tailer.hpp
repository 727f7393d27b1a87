#pragma once
// OutboxTailer: the event path of Redis-only distributed mode (--redis without --kafka). Every
// process reads every queue's outbox stream (XREAD BLOCK on its own connection; under Redis
// Cluster one non-blocking XREAD per slot, polled adaptively: pipeline/slot_reads.hpp) and hands
// the events to its EventSink (the hub), which drops duplicates and resynchronises on a gap. Every
// tailer trims the outboxes to their newest kKeep entries now and then: a process that falls
// further behind sees a seq gap and resyncs from the store, so trimming never loses state.
//
// Each entry holds the event in its one wire form (core/event_codec.hpp); the tailer decodes it
// once, here, for this process.
//
// Threading: runs on the io_context given. stop() ends the loop at once (async::TaskGroup):
// nothing reaches the sink after it. Lifetime: stop() or destroy on the io thread; the client
// is owned by the tailer.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "async/task_group.hpp"
#include "core/event_sink.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/slot_reads.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class OutboxTailer {
 public:
  // `on_reconnect` is called after the connection to Redis came back (state may have moved on
  // without us, or gone back after a restart: resync everything). `on_new_queue` is called when
  // a queue is first followed, after its read position was fixed: events before that position
  // never come through here, so the receiver must resync that queue from the store.
  OutboxTailer(boost::asio::io_context& io, redis::RedisOptions opts, EventSink& sink,
               metrics::Registry& m, std::function<void()> on_reconnect,
               std::function<void(const std::string&)> on_new_queue);
  ~OutboxTailer();
  void start();
  void stop();

  static constexpr int64_t kKeep = 10'000;  // outbox entries kept per queue in Redis-only mode

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> refresh_queues();
  // XREAD of the outboxes `keys` after `ids` (BLOCK 250 ms if `block`).
  boost::asio::awaitable<Result<redis::RedisReply>> read(std::vector<std::string> keys,
                                                         std::vector<std::string> ids, bool block);
  // Publishes the events of one XREAD reply; returns how many entries it held.
  size_t hand_on(const redis::RedisReply& r);

  std::unique_ptr<redis::RedisClient> client_;
  EventSink& sink_;
  std::function<void()> on_reconnect_;
  std::function<void(const std::string&)> on_new_queue_;
  std::map<std::string, std::string> last_id_;  // queue -> last stream id read
  bool primed_ = false;        // the queues that existed when tailing began are known
  slot_reads::SlotPoll poll_;  // cluster mode: when each slot's outboxes are read next
  async::TaskGroup tasks_;
  metrics::Counter& m_events_;
  metrics::Counter& m_errors_;
};

}  // namespace anteroom
