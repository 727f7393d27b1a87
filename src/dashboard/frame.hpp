#pragma once
// The dashboard's internal pieces shared between its files (not for other folders): the
// overview's process row and the per-queue Prometheus text.
#include <cstdint>
#include <string>
#include <vector>

#include "dashboard/dashboard.hpp"

namespace anteroom::dashboard {

// The overview's row of a process: encode_row's fields with "self", "stale" and "age_s" after
// "node" (docs/dashboard.md), appended to `out`.
void append_process_json(std::string& out, const ProcessRow& r, bool self, bool stale,
                         int64_t age_s);

// One queue's figures as the latest sample saw them, for /metrics.
struct QueueFigures {
  std::string name;
  int64_t waiting = 0, active = 0, oldest_wait_s = 0;
  int64_t joined_total = 0, admitted_total = 0, abandoned_total = 0;
  bool paused = false, closed = false;
  int64_t local_streams = 0;  // this process's own streams of the queue
};

// The per-queue families (anteroom_queue_*), each with one # HELP and # TYPE and a sample per
// queue, appended to `out` (the exposition text of Registry::collector).
void append_queue_metrics(std::string& out, const std::vector<QueueFigures>& qs);

}  // namespace anteroom::dashboard
