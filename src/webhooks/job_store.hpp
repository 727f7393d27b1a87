#pragma once
// Where webhook deliveries wait: a durable list of jobs (one per event and subscriber URL), due
// times for retries, a record of events already taken in (so a redelivered event is not POSTed
// again), and a dead-letter list per queue. MemoryJobStore (embedded) and RedisJobStore
// (distributed: every process's dispatcher shares the jobs) implement it.
//
// Claiming gives a job a lease (its due time moves to now + lease): a process that dies while
// POSTing leaves the job to be claimed again when the lease runs out, so the only repeats a
// receiver sees are deliveries in flight at a crash — with the same Idempotency-Key.
#include <string>
#include <vector>

#include "core/types.hpp"
#include "store/queue_store.hpp"

namespace anteroom {

struct WebhookJob {
  std::string id;        // "<event id>#<hook index>", e.g. "concert:42#0"
  std::string queue;
  std::string event_id;  // "<queue>:<seq>", sent as Idempotency-Key
  std::string type;      // the event type, sent as X-Anteroom-Event
  std::string url;
  std::string secret;
  std::string body;      // the JSON POSTed
  int64_t attempts = 0;
  Millis first_ms = 0;   // when the job was taken in: the retry window starts here
  std::string last_error;
};

class WebhookJobStore {
 public:
  virtual ~WebhookJobStore() = default;
  // Takes in the jobs of one event, once: false (and nothing stored) if that event was taken in
  // before (a Kafka redelivery, a rebalance, another process's copy).
  virtual Task<bool> enqueue(std::string queue, std::string event_id, std::vector<WebhookJob> jobs,
                             Millis now) = 0;
  // Up to `limit` jobs due by `now`, each leased for `lease_ms`.
  virtual Task<std::vector<WebhookJob>> claim_due(Millis now, int64_t limit, Millis lease_ms) = 0;
  virtual Task<Ok> complete(WebhookJob job) = 0;
  // Stores the job's attempts/last_error and makes it due again at `due`.
  virtual Task<Ok> reschedule(WebhookJob job, Millis due) = 0;
  // Moves the job to its queue's dead-letter list.
  virtual Task<Ok> bury(WebhookJob job) = 0;
  virtual Task<std::vector<WebhookJob>> dead(std::string queue) = 0;
  // Puts every dead job of the queue back, due now, with a fresh retry window. Returns how many.
  virtual Task<int64_t> redrive(std::string queue, Millis now) = 0;
};

// Jobs as JSON (for stores that keep them as strings).
std::string encode_job(const WebhookJob& j);
Result<WebhookJob> decode_job(std::string_view s);

}  // namespace anteroom
