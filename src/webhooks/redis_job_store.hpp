#pragma once
// Webhook jobs in Redis, shared by every process (distributed mode). Keys:
//   aq:wh:seen:{q}:<seq>  event taken in (TTL kSeenTtlS): the dedupe record
//   aq:wh:due             ZSET job id -> due ms (leases push it forward)
//   aq:wh:jobs            HASH job id -> job JSON
//   aq:wh:dead:{q}        HASH job id -> job JSON (the queue's dead letters, capped)
// Each operation is one script, so a crash never leaves a job half-moved.
// Thread-safety and failure: as RedisClient (unavailable when Redis is down).
#include "store/redis/redis_client.hpp"
#include "webhooks/job_store.hpp"

namespace anteroom {

class RedisJobStore final : public WebhookJobStore {
 public:
  static constexpr int64_t kSeenTtlS = 7 * 24 * 3600;
  static constexpr int64_t kDeadKept = 10'000;

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
  redis::RedisClient& client_;
};

}  // namespace anteroom
