#pragma once
// Webhook jobs in Redis, shared by every process (distributed mode). Keys (store/redis/keys.hpp),
// all of one queue in the queue's Redis Cluster slot (the hash tag {q}):
//   aq:wh:seen:{q}:<seq>  event taken in (TTL kSeenTtlS): the dedupe record
//   aq:wh:{q}:due         ZSET job id -> due ms (leases push it forward)
//   aq:wh:{q}:jobs        HASH job id -> job JSON
//   aq:wh:dead:{q}        HASH job id -> job JSON (the queue's dead letters, capped)
//   aq:wh:queues          SET the queues that have jobs (global, touched alone)
// Each operation on a queue's jobs is one script on that queue's keys, so a crash never leaves a
// job half-moved and no script spans two slots. enqueue() lists the queue in aq:wh:queues
// before its script (a crash in between lists a queue without jobs, which a claim drops);
// claim_due() goes over the listed queues, at most kQueuesPerClaim per call, round robin from
// where the last call stopped, re-reading the list about once a second (kRefresh) and at once for
// queues this process enqueued to. A queue found without jobs leaves the list.
// Jobs left in the global aq:wh:due / aq:wh:jobs by a version before this one are moved into
// their queue's keys (kLegacyBatch per refresh): at least once, never lost (a job an old process
// is delivering at that moment may be delivered again; receivers dedupe by Idempotency-Key).
// Thread-safety and failure: as RedisClient (unavailable when Redis is down); one io thread.
#include <chrono>
#include <string>
#include <vector>

#include "store/redis/redis_client.hpp"
#include "webhooks/job_store.hpp"

namespace anteroom {

class RedisJobStore final : public WebhookJobStore {
 public:
  static constexpr int64_t kSeenTtlS = 7 * 24 * 3600;
  static constexpr int64_t kDeadKept = 10'000;
  // Bounded work per claim_due: at most this many queue scripts (one round trip each).
  static constexpr size_t kQueuesPerClaim = 64;
  static constexpr std::chrono::milliseconds kRefresh{1000};
  static constexpr int kLegacyBatch = 100;

  explicit RedisJobStore(redis::RedisClient& client) : client_(client) {}
  Task<bool> enqueue(std::string queue, std::string event_id, std::vector<WebhookJob> jobs,
                     Millis now) override;
  Task<std::vector<WebhookJob>> claim_due(Millis now, int64_t limit, Millis lease_ms) override;
  Task<Ok> complete(WebhookJob job) override;
  Task<Ok> reschedule(WebhookJob job, Millis due) override;
  Task<Ok> bury(WebhookJob job) override;
  Task<std::vector<WebhookJob>> dead(std::string queue) override;
  Task<int64_t> redrive(std::string queue, Millis now) override;

 private:
  Task<redis::RedisReply> eval(const redis::RedisScript& s, std::vector<std::string> keys,
                               std::vector<std::string> args);
  Task<redis::RedisReply> command(std::vector<std::string> argv);
  // Re-reads aq:wh:queues and moves a batch of legacy jobs.
  Task<Ok> refresh();
  Task<Ok> move_legacy_jobs();
  // Takes q out of aq:wh:queues unless it has jobs again (an enqueue racing the claim that found
  // it empty: that enqueue lists it again, see enqueue()).
  Task<Ok> drop_if_empty(const std::string& q);
  void remember(const std::string& q);

  redis::RedisClient& client_;
  std::vector<std::string> queues_;  // the listed queues, as last read (plus ours since)
  size_t cursor_ = 0;                // where the next claim_due starts in queues_
  std::chrono::steady_clock::time_point refreshed_{};
  bool ever_refreshed_ = false;
};

}  // namespace anteroom
