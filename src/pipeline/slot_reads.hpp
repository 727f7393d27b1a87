#pragma once
// Multi-stream reads under Redis Cluster (relay, outbox tailer). One XREAD / XREADGROUP naming
// the outboxes of many queues spans many slots, which a cluster refuses (CROSSSLOT). In cluster
// mode the readers therefore send one read per slot (by_slot), all at once (all), without BLOCK
// (a blocked connection would stall every command pipelined behind it on that master), and poll
// each slot adaptively (SlotPoll): a slot that returned entries is read again at once; one that
// returned nothing waits kIdleMin, doubling up to kIdleMax while it stays idle. Idle cost: at most
// 1000 / kIdleMax.count() = 10 reads per second per slot in use, per reader (docs/distributed.md).
//
// Threading: the io thread of the caller; no locks.
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "async/task_group.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/slots.hpp"

namespace anteroom::slot_reads {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::milliseconds kIdleMin{10};
inline constexpr std::chrono::milliseconds kIdleMax{100};

// The indexes of `keys` grouped by Redis Cluster slot (ascending slot; indexes in order).
inline std::map<int, std::vector<size_t>> by_slot(const std::vector<std::string>& keys) {
  std::map<int, std::vector<size_t>> out;
  for (size_t i = 0; i < keys.size(); ++i) out[redis::key_slot(keys[i])].push_back(i);
  return out;
}

// The argv of a stream read: `head` (XREAD ... / XREADGROUP GROUP g c ..., with COUNT), then
// BLOCK block_ms unless 0, then STREAMS, the keys and their ids.
inline std::vector<std::string> streams_argv(std::vector<std::string> head, int block_ms,
                                             std::vector<std::string> keys,
                                             std::vector<std::string> ids) {
  if (block_ms > 0) {
    head.emplace_back("BLOCK");
    head.emplace_back(std::to_string(block_ms));
  }
  head.emplace_back("STREAMS");
  head.insert(head.end(), std::make_move_iterator(keys.begin()),
              std::make_move_iterator(keys.end()));
  head.insert(head.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
  return head;
}

// When each slot is read next. A slot not seen before is due at once.
class SlotPoll {
 public:
  bool due(int slot, Clock::time_point now) const {
    auto it = slots_.find(slot);
    return it == slots_.end() || it->second.next <= now;
  }
  // After a read of `slot`: entries came back (read again at once) or not (back off).
  void read(int slot, bool got, Clock::time_point now) {
    auto& s = slots_[slot];
    if (got) {
      s.idle = kIdleMin / 2;  // the first idle read after entries waits kIdleMin
      s.next = now;
      return;
    }
    s.idle = std::clamp(s.idle * 2, kIdleMin, kIdleMax);
    s.next = now + s.idle;
  }
  // The earliest time one of `slots` is due (now if one has no state yet).
  Clock::time_point next(const std::vector<int>& slots, Clock::time_point now) const {
    Clock::time_point at = now + kIdleMax;
    for (int slot : slots) {
      auto it = slots_.find(slot);
      if (it == slots_.end()) return now;
      at = std::min(at, it->second.next);
    }
    return at;
  }
  // Drops the state of slots not in `live` (their queues went), so the map stays small.
  void keep_only(const std::vector<int>& live) {
    std::erase_if(slots_, [&](const auto& kv) {
      return std::find(live.begin(), live.end(), kv.first) == live.end();
    });
  }

 private:
  struct State {
    std::chrono::milliseconds idle{0};
    Clock::time_point next{};
  };
  std::map<int, State> slots_;
};

namespace detail {
struct Round {
  explicit Round(boost::asio::any_io_executor ex, size_t n)
      : replies(n), pending(n), done(std::move(ex), Clock::time_point::max()) {}
  std::vector<Result<redis::RedisReply>> replies;
  size_t pending;
  boost::asio::steady_timer done;  // cancelled when the last reply is in
};

// (A named coroutine, not a lambda: GCC 12 mis-handles lambda coroutines with captures.)
inline boost::asio::awaitable<void> finish(std::shared_ptr<Round> round, size_t i,
                                           boost::asio::awaitable<Result<redis::RedisReply>> call) {
  auto r = co_await std::move(call);
  round->replies[i] = std::move(r);
  if (--round->pending == 0) round->done.cancel();
}
}  // namespace detail

// Runs every call at once (each a task of `tasks`, so stopping the group stops them) and
// returns their replies in order once all are in. Cancelled (the group stopped): returns an
// empty vector at once; the caller checks async::cancelled() as after any await.
inline boost::asio::awaitable<std::vector<Result<redis::RedisReply>>> all(
    async::TaskGroup& tasks, std::vector<boost::asio::awaitable<Result<redis::RedisReply>>> calls) {
  auto round =
      std::make_shared<detail::Round>(co_await boost::asio::this_coro::executor, calls.size());
  for (size_t i = 0; i < calls.size(); ++i)
    tasks.spawn(detail::finish(round, i, std::move(calls[i])));
  if (round->pending > 0)
    (void)co_await round->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (round->pending > 0) co_return std::vector<Result<redis::RedisReply>>{};  // cancelled
  co_return std::move(round->replies);
}

}  // namespace anteroom::slot_reads
