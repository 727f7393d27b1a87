#include "webhooks/memory_job_store.hpp"

namespace anteroom {

Task<bool> MemoryJobStore::enqueue(std::string, std::string event_id, std::vector<WebhookJob> jobs,
                                   Millis now) {
  if (!seen_.emplace(event_id, now).second) co_return false;
  seen_order_.emplace(now, event_id);
  while (seen_.size() > kSeenKept) {
    seen_.erase(seen_order_.begin()->second);
    seen_order_.erase(seen_order_.begin());
  }
  for (auto& j : jobs) {
    due_.insert({now, j.id});
    due_of_[j.id] = now;
    std::string id = j.id;
    jobs_[id] = std::move(j);
  }
  co_return true;
}

void MemoryJobStore::unschedule(const std::string& id) {
  auto it = due_of_.find(id);
  if (it == due_of_.end()) return;
  due_.erase({it->second, id});
  due_of_.erase(it);
}

Task<std::vector<WebhookJob>> MemoryJobStore::claim_due(Millis now, int64_t limit, Millis lease) {
  std::vector<WebhookJob> out;
  while (!due_.empty() && due_.begin()->first <= now && static_cast<int64_t>(out.size()) < limit) {
    std::string id = due_.begin()->second;
    unschedule(id);
    due_.insert({now + lease, id});
    due_of_[id] = now + lease;
    out.push_back(jobs_.at(id));
  }
  co_return out;
}

Task<Ok> MemoryJobStore::complete(WebhookJob job) {
  unschedule(job.id);
  jobs_.erase(job.id);
  co_return Ok{};
}

Task<Ok> MemoryJobStore::reschedule(WebhookJob job, Millis due) {
  if (!jobs_.count(job.id)) co_return Ok{};  // completed or buried meanwhile
  unschedule(job.id);
  due_.insert({due, job.id});
  due_of_[job.id] = due;
  jobs_[job.id] = std::move(job);
  co_return Ok{};
}

Task<Ok> MemoryJobStore::bury(WebhookJob job) {
  unschedule(job.id);
  jobs_.erase(job.id);
  auto& d = dead_[job.queue];
  if (d.size() >= kDeadKept) d.erase(d.begin());
  std::string id = job.id;
  d[id] = std::move(job);
  co_return Ok{};
}

Task<std::vector<WebhookJob>> MemoryJobStore::dead(std::string queue) {
  std::vector<WebhookJob> out;
  if (auto it = dead_.find(queue); it != dead_.end())
    for (auto& [_, j] : it->second) out.push_back(j);
  co_return out;
}

Task<int64_t> MemoryJobStore::redrive(std::string queue, Millis now) {
  auto it = dead_.find(queue);
  if (it == dead_.end()) co_return 0;
  int64_t n = 0;
  for (auto& [id, j] : it->second) {
    j.attempts = 0;
    j.first_ms = now;
    due_.insert({now, id});
    due_of_[id] = now;
    jobs_[id] = std::move(j);
    ++n;
  }
  dead_.erase(it);
  co_return n;
}

}  // namespace anteroom
