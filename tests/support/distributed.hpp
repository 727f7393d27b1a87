// Helpers for end-to-end tests that run several anteroom processes over Redis (and Kafka):
// reading one metric, reading a queue's true waiting line and outbox straight from Redis, and
// stopping processes cleanly with a check that the sanitizers (in a -DANTEROOM_SANITIZE=ON
// build) found nothing in them.
// All functions are thread-safe unless noted; none asserts except StopAndCheck.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/redis_conn.hpp"

namespace anteroom::testing {

// The value of metric `name` (exact series name; summed over its label sets) on one process;
// nullopt if the process does not answer /metrics or has no such series.
std::optional<double> MetricValue(const AnteroomProcess& p, std::string_view name);

// Lines of a process's stderr that report an AddressSanitizer, LeakSanitizer or
// UndefinedBehaviorSanitizer finding; "" if none.
std::string SanitizerFindings(const Process& p);

// Sends SIGTERM to every process given that still runs, then waits for each; records a
// GoogleTest failure if one does not exit with status 0 before the deadline or if its stderr
// holds a sanitizer finding. Null entries and processes already reaped are skipped (a process
// killed on purpose is only checked for sanitizer findings).
void StopAndCheck(const std::vector<AnteroomProcess*>& processes,
                  Deadline deadline = DeadlineIn(std::chrono::seconds(30)));

// One event of an outbox stream aq:{q}:outbox (field `event`: src/core/event_codec.hpp).
struct OutboxEvent {
  std::string stream_id;
  long long seq = 0;
  std::string type;
  std::string ticket;
  long long order = 0;
};
// Every entry of the queue's outbox, oldest first (XRANGE in pages).
std::vector<OutboxEvent> ReadOutbox(RedisConn& redis, const std::string& queue);

// The queue's waiting line as Redis holds it: ticket → position (1 + ZRANK of aq:{q}:wait).
std::map<std::string, long long> WaitingLine(RedisConn& redis, const std::string& queue);

}  // namespace anteroom::testing
