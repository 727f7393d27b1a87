#pragma once
// Webhook jobs in this process's memory (embedded mode). Not thread-safe: one io thread.
#include <map>
#include <set>
#include <unordered_map>

#include "webhooks/job_store.hpp"

namespace anteroom {

class MemoryJobStore final : public WebhookJobStore {
 public:
  Task<bool> enqueue(std::string queue, std::string event_id, std::vector<WebhookJob> jobs,
                     Millis now) override;
  Task<std::vector<WebhookJob>> claim_due(Millis now, int64_t limit, Millis lease_ms) override;
  Task<Ok> complete(WebhookJob job) override;
  Task<Ok> reschedule(WebhookJob job, Millis due) override;
  Task<Ok> bury(WebhookJob job) override;
  Task<std::vector<WebhookJob>> dead(std::string queue) override;
  Task<int64_t> redrive(std::string queue, Millis now) override;

  static constexpr size_t kSeenKept = 1'000'000;  // event ids remembered for dedupe
  static constexpr size_t kDeadKept = 10'000;     // dead jobs kept per queue

 private:
  void unschedule(const std::string& id);
  std::unordered_map<std::string, WebhookJob> jobs_;
  std::unordered_map<std::string, Millis> due_of_;
  std::set<std::pair<Millis, std::string>> due_;
  std::unordered_map<std::string, Millis> seen_;
  std::multimap<Millis, std::string> seen_order_;
  std::map<std::string, std::map<std::string, WebhookJob>> dead_;
};

}  // namespace anteroom
