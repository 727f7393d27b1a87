// Helpers for end-to-end tests that run several anteroom processes over Redis (and Kafka):
// reading one metric, reading a queue's true waiting line and outbox straight from Redis, and
// stopping several processes at once with AnteroomProcess's end-of-test checks.
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

// AnteroomProcess::StopAndCheck for several processes: SIGTERM to every one that still runs,
// then waits for each (so they stop side by side). Null entries are skipped; a process already
// checked is not checked again.
void StopAndCheck(const std::vector<AnteroomProcess*>& processes,
                  Deadline deadline = DeadlineIn(kStopPatience));

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
