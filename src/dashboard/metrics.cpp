// The per-queue Prometheus series. Fleet-wide figures (every process of a fleet reads the same
// store, so each exports the same values: aggregate them with max by (queue)), and this process's
// own streams (sum them over processes).
#include <cstdio>

#include "dashboard/frame.hpp"

namespace anteroom::dashboard {

namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
  int64_t (*value)(const QueueFigures&);
};

constexpr Family kFamilies[] = {
    {"anteroom_queue_waiting", "gauge", "Tickets waiting in the queue (fleet-wide)",
     [](const QueueFigures& q) { return q.waiting; }},
    {"anteroom_queue_active", "gauge", "Active sessions of the queue (fleet-wide)",
     [](const QueueFigures& q) { return q.active; }},
    {"anteroom_queue_oldest_wait_seconds", "gauge",
     "How long the head of the line has waited (fleet-wide)",
     [](const QueueFigures& q) { return q.oldest_wait_s; }},
    {"anteroom_queue_joined_total", "counter", "Tickets ever created in the queue (the store's)",
     [](const QueueFigures& q) { return q.joined_total; }},
    {"anteroom_queue_admitted_total", "counter", "Tickets ever admitted (the store's)",
     [](const QueueFigures& q) { return q.admitted_total; }},
    {"anteroom_queue_abandoned_total", "counter", "Waiting tickets dropped unseen (the store's)",
     [](const QueueFigures& q) { return q.abandoned_total; }},
    {"anteroom_queue_paused", "gauge", "1 if the queue is paused",
     [](const QueueFigures& q) -> int64_t { return q.paused; }},
    {"anteroom_queue_closed", "gauge", "1 if the queue is closed",
     [](const QueueFigures& q) -> int64_t { return q.closed; }},
    {"anteroom_queue_streams", "gauge", "Open visitor event streams of the queue on this process",
     [](const QueueFigures& q) { return q.local_streams; }},
};

}  // namespace

void append_queue_metrics(std::string& out, const std::vector<QueueFigures>& qs) {
  out.reserve(out.size() + 1024 + qs.size() * 9 * 64);
  for (const Family& f : kFamilies) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += f.help;
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += f.type;
    out += '\n';
    for (const QueueFigures& q : qs) {
      // Queue names are [a-z0-9-] (rules::valid_queue_name): nothing to escape in the label.
      out += f.name;
      out += "{queue=\"";
      out += q.name;
      out += "\"} ";
      out += std::to_string(f.value(q));
      out += '\n';
    }
  }
}

}  // namespace anteroom::dashboard
