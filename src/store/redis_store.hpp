#pragma once
// RedisStore: queue state in Redis (distributed mode). Any number of processes may share one
// Redis; each mutation is ONE Lua script that changes the state and appends its event(s) to the
// queue's outbox stream (aq:{q}:outbox) in the same atomic step, so an event exists if and only
// if its state change does. Key layout and scripts: src/store/README.md, redis/keys.hpp, lua/.
//
// Behaves like MemoryStore (both pass store/conformance), with these differences:
// - tick() ends or admits at most kTickBatch tickets per step (expiry, abandonment, admission),
//   so one call on a huge queue never blocks Redis for long; the next tick continues.
// - close_queue() is O(1): waiting tickets read as closed at once, while their bookkeeping is
//   drained kTickBatch at a time by close_queue() and tick() - so closed queues must be ticked.
// - Ended tickets are forgotten by Redis (PEXPIRE) rules::kEndedRetentionMs after they ended,
//   measured on the Redis server's clock instead of the callers' `now`.
// - Events are not pushed anywhere: they wait in the outbox for the relay (src/pipeline).
//
// Failure: when Redis cannot be reached every method returns Errc::unavailable promptly (see
// RedisClient), including mutations whose outcome is unknown because the connection dropped
// mid-call. Redis "busy/loading/readonly" error replies also map to unavailable.
// Threading: the store holds no state of its own besides the client; its coroutines may run on
// any executor (the client hops to its own thread). Lifetime: the client must outlive the store.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string_view>

#include "store/queue_store.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom {

class RedisStore final : public QueueStore {
 public:
  // Most tickets one tick() ends per step (expire, abandon) and admits.
  static constexpr int64_t kTickBatch = 1000;
  // Waiting orders read per round trip by snapshot().
  static constexpr int64_t kSnapshotChunk = 5000;

  // Uses a client owned by the caller (several stores and the relay may share one).
  explicit RedisStore(redis::RedisClient& client, StoreLimits limits = {});
  // Owns a client connected to `url` (redis://host:port[/db]) on `io`. Throws
  // std::invalid_argument if the URL is malformed (a configuration error, caught at startup).
  RedisStore(boost::asio::io_context& io, std::string_view url, StoreLimits limits = {});
  ~RedisStore() override;

  Task<QueueInfo> put_queue(std::string q, ConfigPatch patch, Millis now) override;
  Task<QueueInfo> get_queue(std::string q) override;
  Task<std::vector<QueueInfo>> list_queues() override;
  Task<std::vector<std::string>> queue_names() override;
  Task<QueueInfo> close_queue(std::string q, Millis now) override;
  Task<Ticket> join(std::string q, std::string dedupe_key, Millis now) override;
  Task<Ticket> get_ticket(std::string q, std::string id, bool touch, Millis now) override;
  Task<Ticket> leave(std::string q, std::string id, Millis now) override;
  Task<Ticket> complete(std::string q, std::string id, Millis now) override;
  Task<Ok> touch(std::string q, std::vector<std::string> ids, Millis now) override;
  Task<int64_t> tick(std::string q, Millis now) override;
  Task<QueueSnapshot> snapshot(std::string q) override;
  Task<Ok> ping() override;

  redis::RedisClient& client() { return client_; }

 private:
  // Runs one queue script; returns its reply array when the script said 'ok', else the error.
  Task<redis::RedisReply> run(const redis::RedisScript& script, const std::string& q,
                              std::vector<std::string> args, bool with_queue_list = false);

  std::unique_ptr<redis::RedisClient> owned_;
  redis::RedisClient& client_;
  StoreLimits limits_;
};

}  // namespace anteroom
